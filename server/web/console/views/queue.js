// The reviewer's county queue: filters (flagged, township, level), sort (oldest or worst flags
// first), waiting time, the verifying body whose approval is missing, and the claim holder;
// paged with the server's cursor.

import * as api from '../api.js';
import { h, field, select } from '../dom.js';
import { t, fmtDuration, fmtDateTime, fmtNumber } from '../i18n.js';
import { title, loading, empty, stars, pager, table, errorBox } from '../ui.js';
import { groupChips } from './inspection.js';

/** Queue entries seen last, so the inspection page can show the claim holder and village. */
export const seen = new Map();

let townships = null;

export async function loadTownships() {
  townships ??= api.all('/api/v1/org-units', { level: 'township' }).catch((e) => {
    townships = null;
    throw e;
  });
  return townships;
}

export async function queueView(root, ctx) {
  const q = ctx.query;
  root.append(title(t('queue.title')), h('p', { class: 'muted' }, t('queue.intro')));
  const [towns, policy] = await Promise.all([
    loadTownships(),
    api.get('/api/v1/policy').catch(() => ({ joint_approval: true })),
  ]);
  // Which body's approval each entry still needs: both for a fresh one under joint approval,
  // the other body's after one approved.
  const missing = (e) => {
    if (e.awaiting_body)
      return h(
        'span',
        { class: 'badge warn awaiting-body', dataset: { body: e.awaiting_body } },
        t('queue.awaiting_body', { body: t(`body.${e.awaiting_body}`) }),
      );
    return h('span', { class: 'muted small' }, policy.joint_approval ? t('queue.needs_both') : t('queue.needs_one'));
  };
  const flagged = h('input', { type: 'checkbox', checked: q.flagged === '1' });
  const township = select([['', t('common.all')], ...towns.map((u) => [u.id, u.name])], q.township, {
    id: 'queue-township',
  });
  const level = select(
    [
      ['', t('common.all')],
      ['1', t('level.n', { n: 1 })],
      ['2', t('level.n', { n: 2 })],
      ['3', t('level.n', { n: 3 })],
    ],
    q.level,
    { id: 'queue-level' },
  );
  const sort = select(
    [
      ['oldest', t('queue.sort_oldest')],
      ['flags', t('queue.sort_flags')],
    ],
    q.sort ?? 'oldest',
    { id: 'queue-sort' },
  );
  const apply = () =>
    ctx.navigate('queue', {
      flagged: flagged.checked ? '1' : '',
      township: township.value,
      level: level.value,
      sort: sort.value === 'oldest' ? '' : sort.value,
    });
  for (const c of [flagged, township, level, sort]) c.addEventListener('change', apply);
  flagged.id = 'queue-flagged';
  root.append(
    h(
      'form',
      { class: 'toolbar', role: 'search', 'aria-label': t('queue.filters'), onsubmit: (e) => e.preventDefault() },
      field(t('queue.township'), township),
      field(t('queue.level'), level),
      field(t('queue.sort'), sort),
      h(
        'div',
        { class: 'field' },
        h('label', { class: 'check', for: 'queue-flagged' }, flagged, t('queue.flagged_only')),
      ),
    ),
  );

  const list = table(
    [
      { label: t('queue.village') },
      { label: t('queue.township') },
      { label: t('queue.declared') },
      { label: t('queue.score'), num: true },
      { label: t('queue.flags') },
      { label: t('queue.waiting') },
      { label: t('queue.approvals') },
      { label: t('queue.claim') },
      { label: '' },
    ],
    { caption: t('queue.title') },
  );
  const status = h('div', {}, loading());
  root.append(status, list.el);
  list.el.classList.add('hidden');
  let count = 0;
  const more = pager(async (cursor) => {
    const page = await api.get(
      `/api/v1/review-queue${api.qs({ flagged: q.flagged === '1' ? 'true' : '', township: q.township, level: q.level, sort: q.sort, cursor, limit: 50 })}`,
    );
    for (const e of page.items) {
      seen.set(e.id, e);
      count += 1;
      list.body.append(
        list.row(
          [
            [
              h('a', { href: `#/inspection/${e.id}` }, e.village.name),
              h('div', { class: 'muted small' }, e.village.code),
            ],
            e.township?.name ?? '—',
            [
              stars(e.declared_level),
              ' ',
              h('span', { class: 'badge' }, t(`kind.${e.kind}`)),
              h('div', { class: 'muted small' }, e.quarter),
            ],
            [
              fmtNumber(e.score, 1),
              ' ',
              h(
                'span',
                { class: ['badge', e.passed ? 'pass' : 'fail'] },
                e.passed ? t('common.passed') : t('common.failed'),
              ),
            ],
            e.flags.length ? groupChips(e.flags) : h('span', { class: 'muted' }, t('queue.no_flags')),
            h('span', { class: 'nowrap', title: fmtDateTime(e.submitted_at) }, fmtDuration(e.waiting_seconds)),
            missing(e),
            e.claimed_by
              ? [
                  e.claimed_by.username,
                  h('div', { class: 'muted small' }, t('queue.claim_until', { time: fmtDateTime(e.claimed_by.until) })),
                ]
              : h('span', { class: 'muted' }, t('queue.unclaimed')),
            h(
              'a',
              {
                class: 'button',
                href: `#/inspection/${e.id}`,
                'aria-label': t('queue.open_village', { name: e.village.name }),
              },
              t('queue.open'),
            ),
          ],
          { dataset: { inspection: e.id } },
        ),
      );
    }
    status.replaceChildren(
      count
        ? h('p', { class: 'muted', role: 'status' }, t('queue.count', { n: count }), page.next_cursor ? '+' : '')
        : empty(t('queue.empty')),
    );
    list.el.classList.toggle('hidden', count === 0);
    return page.next_cursor;
  });
  root.append(more.el);
  // Bulk approval: the renewals that passed with no flag, each still checked by the server.
  const clean = new Map();
  const bulk = h('section', { class: 'card bulk hidden', 'aria-labelledby': 'bulk-h' });
  const showBulk = () => {
    if (ctx.role !== 'reviewer' || !ctx.me.body) return;
    const ids = [...clean.keys()];
    bulk.classList.toggle('hidden', ids.length === 0);
    if (!ids.length) return;
    const result = h('div', { 'aria-live': 'polite' });
    const comment = h('input', { type: 'text', maxlength: '2000', id: 'bulk-comment' });
    const button = h(
      'button',
      {
        type: 'button',
        class: 'primary bulk-approve',
        onclick: async () => {
          if (button.dataset.armed !== '1') {
            button.dataset.armed = '1';
            button.textContent = t('bulk.confirm', { n: ids.length });
            return;
          }
          button.disabled = true;
          try {
            const r = await api.post('/api/v1/review/bulk-approve', {
              inspection_ids: ids.slice(0, 100),
              comment: comment.value.trim(),
            });
            result.replaceChildren(
              h(
                'p',
                { class: 'notice ok', role: 'status' },
                t('bulk.done', { approved: r.approved, awaiting: r.awaiting_other_body, refused: r.refused }),
              ),
              r.refused
                ? h(
                    'ul',
                    { class: 'small' },
                    r.results
                      .filter((x) => x.outcome === 'refused')
                      .map((x) =>
                        h(
                          'li',
                          {},
                          clean.get(x.inspection_id)?.village.name ?? x.inspection_id,
                          ': ',
                          x.detail ?? x.code,
                        ),
                      ),
                  )
                : null,
              h(
                'p',
                {},
                h('button', { type: 'button', onclick: () => ctx.navigate('queue', ctx.query) }, t('bulk.reload')),
              ),
            );
            button.remove();
          } catch (err) {
            result.replaceChildren(errorBox(err));
            button.disabled = false;
          }
        },
      },
      t('bulk.approve', { n: ids.length }),
    );
    bulk.replaceChildren(
      h('h2', { id: 'bulk-h' }, t('bulk.title')),
      h('p', { class: 'small muted' }, t('bulk.intro')),
      h(
        'ul',
        { class: 'small bulk-list' },
        [...clean.values()].map((e) => h('li', {}, e.village.name, ' ', h('span', { class: 'muted' }, e.village.code))),
      ),
      h('div', { class: 'field' }, h('label', { for: 'bulk-comment' }, t('bulk.comment')), comment),
      h('p', {}, button),
      result,
    );
  };
  root.insertBefore(bulk, status);
  const take = (items) => {
    for (const e of items) {
      if (
        e.kind === 'renewal' &&
        e.passed &&
        !e.flags.length &&
        !(e.claimed_by && e.claimed_by.id !== ctx.me.id) &&
        clean.size < 100
      )
        clean.set(e.id, e);
    }
    showBulk();
  };
  await more.start();
  take([...seen.values()].filter((e) => list.body.querySelector(`[data-inspection="${e.id}"]`)));
  if (status.querySelector('.loading')) status.replaceChildren();
}
