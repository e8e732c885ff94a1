// The township's declarations (乡、村自报): its villages' declarations, those awaiting its
// check first, each forwarded to the county or sent back with a reason; and a declaration on a
// village's behalf. The server scopes everything to the township and has the last word.

import * as api from '../api.js';
import { h, field, select } from '../dom.js';
import { t, fmtDateTime } from '../i18n.js';
import { title, loading, empty, stars, table, errorBox, statusBadge, formErrors } from '../ui.js';
import { unitByCode } from './users.js';

const STATUSES = [
  'awaiting_township',
  'pending',
  'inspecting',
  'sent_back',
  'approved',
  'rejected',
  'expired',
  'unverified',
];

export async function declarationsView(root, ctx) {
  const q = ctx.query;
  const shown = q.status ?? 'awaiting_township';
  root.append(title(t('declarations.title')), h('p', { class: 'muted' }, t('declarations.intro')));
  const policy = await api.get('/api/v1/policy').catch(() => null);
  if (policy && !policy.township_precheck)
    root.append(h('p', { class: 'notice info precheck-off' }, t('declarations.precheck_off')));
  root.append(declareCard(ctx));

  const filter = select([['', t('common.all')], ...STATUSES.map((s) => [s, t(`status.${s}`)])], shown, {
    id: 'declarations-status',
  });
  filter.addEventListener('change', () => ctx.navigate('declarations', { status: filter.value || 'all' }));
  root.append(
    h(
      'form',
      { class: 'toolbar', role: 'search', onsubmit: (e) => e.preventDefault() },
      field(t('village.status'), filter),
    ),
  );
  const status = h('div', {}, loading());
  root.append(status);
  const wanted = shown === 'all' ? undefined : shown;
  let items;
  try {
    items = await api.all('/api/v1/declarations', { status: wanted }, 500);
  } catch (err) {
    status.replaceChildren(errorBox(err));
    return;
  }
  if (!items.length) {
    status.replaceChildren(empty(t('declarations.empty')));
    return;
  }
  const names = new Map();
  const nameOf = async (id) => {
    if (!names.has(id))
      names.set(id, await api.get(`/api/v1/org-units/${encodeURIComponent(id)}`).catch(() => ({ name: id, code: '' })));
    return names.get(id);
  };
  const list = table(
    [
      { label: t('queue.village') },
      { label: t('common.quarter') },
      { label: t('village.level') },
      { label: t('village.status') },
      { label: t('village.declared_at') },
      { label: '' },
    ],
    { caption: t('declarations.title') },
  );
  for (const d of items.sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? ''))) {
    const v = await nameOf(d.village_id);
    list.body.append(
      list.row(
        [
          [v.name, h('div', { class: 'muted small mono' }, v.code)],
          d.quarter,
          stars(d.star_level, true),
          [
            statusBadge(d.status),
            d.check_comment
              ? h('div', { class: 'small comment' }, t('declarations.comment', { comment: d.check_comment }))
              : null,
          ],
          fmtDateTime(d.created_at),
          d.status === 'awaiting_township' ? checkPanel(d, v, ctx) : '',
        ],
        { dataset: { declaration: d.id, status: d.status } },
      ),
    );
  }
  status.replaceChildren(h('p', { class: 'muted', role: 'status' }, t('declarations.count', { n: items.length })));
  root.append(list.el);
}

/** Forward to the county, or send back with a reason (required), in place. */
function checkPanel(d, village, ctx) {
  const comment = h('textarea', { rows: '2', maxlength: '2000' });
  const forward = h(
    'button',
    {
      type: 'button',
      class: 'primary forward',
      'aria-label': t('declarations.forward_label', { village: village.name }),
    },
    t('declarations.forward'),
  );
  const back = h(
    'button',
    {
      type: 'button',
      class: 'danger send-back',
      'aria-label': t('declarations.send_back_label', { village: village.name }),
    },
    t('declarations.send_back'),
  );
  const form = h(
    'form',
    { class: 'check-form', novalidate: true, onsubmit: (e) => e.preventDefault() },
    field(t('declarations.check_comment'), comment, { name: 'comment', hint: t('declarations.check_comment_hint') }),
    h('div', { class: 'button-row' }, forward, ' ', back),
  );
  const act = async (path, needsReason) => {
    const text = comment.value.trim();
    if (needsReason && !text) {
      formErrors(form, {
        detail: t('declarations.reason_required'),
        errors: [{ field: 'comment', message: t('declarations.reason_required') }],
      });
      return;
    }
    forward.disabled = back.disabled = true;
    try {
      await api.post(`/api/v1/declarations/${encodeURIComponent(d.id)}/${path}`, text ? { comment: text } : {});
      ctx.navigate('declarations', { status: ctx.query.status });
    } catch (err) {
      formErrors(form, err);
      forward.disabled = back.disabled = false;
    }
  };
  forward.addEventListener('click', () => act('forward', false));
  back.addEventListener('click', () => act('send-back', true));
  return form;
}

/** A declaration on behalf of one of the township's villages (goes straight to the county). */
function declareCard(ctx) {
  const code = h('input', { required: true, autocapitalize: 'characters', placeholder: 'DEMO-T01-V001' });
  const level = select(
    [1, 2, 3].map((n) => [String(n), t('level.n', { n })]),
    '1',
  );
  const submit = h('button', { type: 'submit', class: 'primary' }, t('village.declare_submit'));
  const form = h(
    'form',
    { class: 'card declare-for', novalidate: true, 'aria-labelledby': 'declare-for-h' },
    h('h2', { id: 'declare-for-h' }, t('declarations.declare_for')),
    h('p', { class: 'muted small' }, t('declarations.declare_intro')),
    h(
      'div',
      { class: 'inline-fields' },
      field(t('villages.code'), code, { name: 'village_id' }),
      field(t('village.declare_level'), level, { name: 'star_level' }),
    ),
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      const v = await unitByCode(code.value.trim(), 'village_id');
      await api.post('/api/v1/declarations', { village_id: v.id, star_level: Number(level.value) });
      formErrors(form, null);
      ctx.navigate('declarations', { status: 'pending' });
    } catch (err) {
      formErrors(form, err);
    }
    submit.disabled = false;
  });
  return form;
}
