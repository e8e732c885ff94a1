// Villages with their star status and its history, loaded on demand per village (the status is
// computed by the server's engine for each request); and the secretary's own village: its star
// status, its declarations and its inspections, each opening read-only with its decisions.

import * as api from '../api.js';
import { h, append, field, select } from '../dom.js';
import { t, fmtDate, fmtDateTime, fmtNumber, fmtQuarter } from '../i18n.js';
import { title, loading, empty, stars, pager, table, errorBox, statusBadge, formErrors } from '../ui.js';
import { loadTownships } from './queue.js';

function historyList(history) {
  if (!history.length) return h('p', { class: 'muted small' }, t('stars.no_history'));
  return h(
    'ol',
    { class: 'history' },
    history.map((e) =>
      h(
        'li',
        {},
        h('span', { class: 'nowrap' }, fmtDate(e.on)),
        ' ',
        h('span', { class: 'muted' }, e.quarter ? fmtQuarter(e.quarter) : ''),
        ' · ',
        h('strong', {}, t(`stars.event_${e.event}`)),
        ' · ',
        t('stars.from_to', { from: e.from_level, to: e.to_level }),
      ),
    ),
  );
}

function statusLines(st) {
  return [
    h(
      'p',
      { class: 'star-level', dataset: { level: st.level } },
      t('stars.current'),
      ' ',
      h('strong', {}, stars(st.level, true)),
      st.since_quarter
        ? h('span', { class: 'muted' }, ' · ', t('stars.since', { quarter: fmtQuarter(st.since_quarter) }))
        : null,
    ),
    st.rectification
      ? h(
          'p',
          { class: 'notice info' },
          t('stars.rectification', {
            level: st.rectification.from_level,
            deadline: fmtDate(st.rectification.deadline),
          }),
        )
      : null,
    st.banned_until ? h('p', { class: 'notice error' }, t('stars.banned', { date: fmtDate(st.banned_until) })) : null,
    st.unverified_quarters?.length
      ? h(
          'p',
          { class: 'notice info unverified' },
          t('stars.unverified', { quarters: st.unverified_quarters.join('、') }),
        )
      : null,
  ];
}

/** A card with a village's current star status and history (shown after a decision). */
export async function starStatusCard(villageId) {
  try {
    const st = await api.get(`/api/v1/villages/${encodeURIComponent(villageId)}/star-status`);
    return h(
      'section',
      { class: 'card star-status', 'aria-live': 'polite' },
      h('h3', {}, t('stars.title')),
      statusLines(st),
      h('h3', {}, t('stars.history')),
      historyList(st.history),
    );
  } catch (err) {
    return errorBox(err);
  }
}

/** The admin's form to rename a village, move it to another township or correct its position.
 * A village with declarations or inspections does not move: the server says so (409). */
function editForm(v, towns, onSaved) {
  const name = h('input', { value: v.name, required: true });
  const township = select(
    towns.map((u) => [u.id, u.name]),
    v.parent_id,
  );
  const lat = h('input', { value: v.lat ?? '', inputmode: 'decimal' });
  const lon = h('input', { value: v.lon ?? '', inputmode: 'decimal' });
  const radius = h('input', { value: v.radius_m ?? '', inputmode: 'numeric' });
  const save = h('button', { type: 'submit', class: 'primary' }, t('common.save'));
  const note = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'edit-unit', novalidate: true },
    h(
      'div',
      { class: 'inline-fields' },
      field(t('villages.name'), name, { name: 'name' }),
      field(t('queue.township'), township, { name: 'parent_id', hint: t('villages.move_hint') }),
      field(t('villages.lat'), lat, { name: 'lat' }),
      field(t('villages.lon'), lon, { name: 'lon' }),
      field(t('villages.radius'), radius, { name: 'radius_m' }),
    ),
    save,
    note,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {};
    if (name.value.trim() !== v.name) body.name = name.value.trim();
    if (township.value !== v.parent_id) body.parent_id = township.value;
    for (const [key, input] of [
      ['lat', lat],
      ['lon', lon],
      ['radius_m', radius],
    ]) {
      if (input.value.trim() !== '' && Number(input.value) !== v[key]) body[key] = Number(input.value);
    }
    save.disabled = true;
    try {
      const unit = await api.patch(`/api/v1/org-units/${encodeURIComponent(v.id)}`, body);
      formErrors(form, null);
      Object.assign(v, unit);
      note.replaceChildren(h('p', { class: 'notice ok', role: 'status' }, t('villages.saved')));
      onSaved(unit);
    } catch (err) {
      note.replaceChildren();
      formErrors(form, err);
    }
    save.disabled = false;
  });
  return form;
}

export async function villagesView(root, ctx) {
  const q = ctx.query;
  root.append(title(t('villages.title')), h('p', { class: 'muted' }, t('villages.intro')));
  const towns = await loadTownships();
  const townName = new Map(towns.map((u) => [u.id, u.name]));
  const township = select([['', t('common.all')], ...towns.map((u) => [u.id, u.name])], q.township, {
    id: 'villages-township',
  });
  township.addEventListener('change', () => ctx.navigate('villages', { township: township.value }));
  const code = h('input', { value: q.code ?? '', placeholder: 'DEMO-T01-V001', autocapitalize: 'characters' });
  root.append(
    h(
      'form',
      {
        class: 'toolbar',
        role: 'search',
        onsubmit: (e) => {
          e.preventDefault();
          ctx.navigate('villages', { township: township.value, code: code.value.trim() });
        },
      },
      field(t('queue.township'), township),
      field(t('villages.code'), code),
      h('div', { class: 'field' }, h('button', { type: 'submit' }, t('common.search'))),
    ),
  );

  const cols = [
    { label: t('villages.code') },
    { label: t('villages.name') },
    { label: t('queue.township') },
    { label: t('stars.title') },
  ];
  const list = table(cols, { caption: t('villages.title') });
  const status = h('div', {}, loading());
  root.append(status, list.el);
  let count = 0;
  const more = pager(async (cursor) => {
    const page = await api.get(
      `/api/v1/org-units${api.qs({ level: 'village', parent: q.township, code: q.code, cursor, limit: 50 })}`,
    );
    for (const v of page.items) {
      count += 1;
      const cell = h('div', {});
      const detail = h('tr', { class: 'detail-row hidden' }, h('td', { colspan: String(cols.length) }));
      const button = h(
        'button',
        {
          type: 'button',
          'aria-expanded': 'false',
          'aria-label': t('villages.show_status_of', { name: v.name }),
          onclick: async () => {
            const open = button.getAttribute('aria-expanded') === 'true';
            if (open) {
              detail.classList.add('hidden');
              button.setAttribute('aria-expanded', 'false');
              return;
            }
            button.disabled = true;
            try {
              const st = await api.get(`/api/v1/villages/${encodeURIComponent(v.id)}/star-status`);
              cell.replaceChildren(stars(st.level, true));
              const td = detail.firstChild;
              td.replaceChildren();
              append(td, [statusLines(st), h('h3', {}, t('stars.history')), historyList(st.history)]);
              detail.classList.remove('hidden');
              button.setAttribute('aria-expanded', 'true');
            } catch (err) {
              cell.replaceChildren(errorBox(err));
            }
            button.disabled = false;
          },
        },
        t('villages.show_status'),
      );
      const nameCell = h('span', {}, v.name);
      const townCell = h('span', {}, townName.get(v.parent_id) ?? '—');
      const edit =
        ctx.role === 'admin'
          ? h(
              'button',
              {
                type: 'button',
                'aria-label': t('villages.edit_of', { name: v.name }),
                onclick: () => {
                  const td = detail.firstChild;
                  td.replaceChildren(
                    editForm(v, towns, (unit) => {
                      nameCell.textContent = unit.name;
                      townCell.textContent = townName.get(unit.parent_id) ?? '—';
                    }),
                  );
                  detail.classList.remove('hidden');
                  button.setAttribute('aria-expanded', 'false');
                },
              },
              t('villages.edit'),
            )
          : null;
      list.body.append(
        list.row([h('span', { class: 'mono' }, v.code), nameCell, townCell, [cell, button, edit]], {
          dataset: { village: v.id },
        }),
        detail,
      );
    }
    status.replaceChildren(
      count
        ? h('p', { class: 'muted', role: 'status' }, t('villages.count', { n: count }), page.next_cursor ? '+' : '')
        : empty(t('villages.empty')),
    );
    return page.next_cursor;
  });
  root.append(more.el);
  await more.start();
  if (status.querySelector('.loading')) status.replaceChildren();
}

/** What a declaration's status means for the village, when it needs saying. */
function declarationNote(status) {
  if (status === 'expired') return h('div', { class: 'muted small' }, t('village.expired_note'));
  if (status === 'unverified') return h('div', { class: 'muted small' }, t('village.unverified_note'));
  if (status === 'awaiting_township') return h('div', { class: 'muted small' }, t('village.awaiting_township_note'));
  if (status === 'sent_back') return h('div', { class: 'muted small' }, t('village.sent_back_note'));
  return null;
}

/** The secretary declares a level for the current quarter; the server applies the programme's
 * rules (one step a quarter, none while banned) and its refusal is shown in place. */
function declareForm(village, root, ctx) {
  const level = select(
    [1, 2, 3].map((n) => [n, t(`village.level_${n}`)]),
    1,
  );
  const submit = h('button', { type: 'submit', class: 'primary' }, t('village.declare_submit'));
  const form = h(
    'form',
    { class: 'declare-form', novalidate: true },
    h('p', { class: 'muted small' }, t('village.declare_intro')),
    h('div', { class: 'inline-fields' }, field(t('village.declare_level'), level, { name: 'star_level' })),
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      await api.post('/api/v1/declarations', { village_id: village.id, star_level: Number(level.value) });
      root.replaceChildren();
      await myVillageView(root, ctx);
      root
        .querySelector('.declare-form')
        ?.prepend(h('p', { class: 'notice ok', role: 'status' }, t('village.declared')));
    } catch (err) {
      formErrors(form, err);
      submit.disabled = false;
    }
  });
  return form;
}

/** The secretary's village: star status, declarations and inspections (read-only). */
export async function myVillageView(root, ctx) {
  const village = ctx.me.org_unit;
  root.append(title(t('village.title', { village: village.name })), h('p', { class: 'muted' }, t('village.intro')));
  const [status, declarations, inspections] = await Promise.all([
    starStatusCard(village.id),
    api.all('/api/v1/declarations', { village: village.id }, 200).catch((err) => err),
    api.all('/api/v1/inspections', { village: village.id }, 200).catch((err) => err),
  ]);
  root.append(status);

  root.append(h('h2', {}, t('village.declarations')), declareForm(village, root, ctx));
  if (declarations instanceof Error) root.append(errorBox(declarations));
  else if (!declarations.length) root.append(empty(t('village.no_declarations')));
  else {
    const list = table(
      [
        { label: t('common.quarter') },
        { label: t('village.level') },
        { label: t('village.kind') },
        { label: t('village.status') },
        { label: t('village.declared_at') },
      ],
      { caption: t('village.declarations') },
    );
    const sorted = [...declarations].sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? ''));
    for (const d of sorted) {
      list.body.append(
        list.row(
          [
            fmtQuarter(d.quarter),
            stars(d.star_level, true),
            t(`kind.${d.kind}`),
            [
              statusBadge(d.status),
              declarationNote(d.status),
              d.check_comment
                ? h('div', { class: 'small comment' }, t('declarations.comment', { comment: d.check_comment }))
                : null,
            ],
            fmtDateTime(d.created_at),
          ],
          { dataset: { declaration: d.id, status: d.status } },
        ),
      );
    }
    root.append(list.el);
  }

  root.append(h('h2', {}, t('village.inspections')));
  if (inspections instanceof Error) root.append(errorBox(inspections));
  else if (!inspections.length) root.append(empty(t('village.no_inspections')));
  else {
    const quarterOf = new Map((declarations instanceof Error ? [] : declarations).map((d) => [d.id, d]));
    const list = table(
      [
        { label: t('common.quarter') },
        { label: t('village.level') },
        { label: t('village.status') },
        { label: t('queue.score'), num: true },
        { label: t('village.updated') },
        { label: '' },
      ],
      { caption: t('village.inspections') },
    );
    const sorted = [...inspections].sort((a, b) => (b.updated_at ?? '').localeCompare(a.updated_at ?? ''));
    for (const i of sorted) {
      const d = quarterOf.get(i.declaration_id);
      const when = fmtDateTime(i.updated_at);
      list.body.append(
        list.row(
          [
            d?.quarter ?? '—',
            d ? stars(d.star_level, true) : '—',
            statusBadge(i.status),
            // The village reads the result once the inspection is decided (null before).
            i.score === null || i.score === undefined
              ? h('span', { class: 'muted' }, '—')
              : [
                  fmtNumber(i.score, 1),
                  ' ',
                  h(
                    'span',
                    { class: ['badge', i.passed ? 'pass' : 'fail'] },
                    i.passed ? t('common.passed') : t('common.failed'),
                  ),
                ],
            when,
            h(
              'a',
              { class: 'button', href: `#/inspection/${i.id}`, 'aria-label': t('village.open_label', { time: when }) },
              t('village.open'),
            ),
          ],
          { dataset: { inspection: i.id, status: i.status } },
        ),
      );
    }
    root.append(list.el);
  }
}
