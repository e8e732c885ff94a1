// The county's star policy: how far a declaration may climb, the rectification window and the
// ban, with the history of its changes (a change applies from its day on, never backwards); and
// the quarter's verification window; and the county's procedure (joint approval, township
// pre-check, the size of photos phones send). Admins change them, other county roles read them.

import * as api from '../api.js';
import { h, field, select } from '../dom.js';
import { t, fmtDate, fmtDateTime } from '../i18n.js';
import { title, formErrors, table, empty, errorBox } from '../ui.js';
import { currentQuarter, quartersBack } from './overdue.js';

const FIELDS = [
  ['max_step', 1, 3],
  ['rectify_months', 1, 60],
  ['ban_months', 0, 120],
];

export async function policyView(root, ctx) {
  root.append(
    title(t('policy.title')),
    h('p', { class: 'muted' }, t('policy.intro')),
    h('p', { class: 'notice info not-retroactive' }, t('policy.not_retroactive')),
  );
  let policy = await api.get('/api/v1/policy');
  const admin = ctx.role === 'admin';
  const inputs = Object.fromEntries(
    FIELDS.map(([k, min, max]) => [
      k,
      h('input', {
        type: 'number',
        min: String(min),
        max: String(max),
        step: '1',
        value: String(policy[k]),
        disabled: !admin,
        inputmode: 'numeric',
      }),
    ]),
  );
  const state = h('p', { class: 'muted small', role: 'status' });
  const showState = () => {
    state.textContent = policy.customized ? t('policy.customized') : t('policy.default');
  };
  showState();
  const submit = h('button', { type: 'submit', class: 'primary' }, t('common.save'));
  const form = h(
    'form',
    { class: 'card', novalidate: true },
    FIELDS.map(([k, min, max]) =>
      field(t(`policy.${k}`), inputs[k], { name: k, hint: t(`policy.${k}_hint`, { min, max }) }),
    ),
    state,
    admin ? submit : h('p', { class: 'muted' }, t('policy.read_only')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {};
    for (const [k] of FIELDS) {
      const v = inputs[k].value.trim();
      const n = Number(v);
      if (v === '' || !Number.isInteger(n)) {
        formErrors(form, {
          detail: t('policy.whole_number'),
          errors: [{ field: k, message: t('policy.whole_number') }],
        });
        return;
      }
      if (n !== policy[k]) body[k] = n;
    }
    submit.disabled = true;
    try {
      policy = await api.patch('/api/v1/policy', body);
      formErrors(form, null);
      form.querySelector('.form-summary').append(h('p', { class: 'notice ok', role: 'status' }, t('policy.saved')));
      showState();
      showHistory();
    } catch (err) {
      formErrors(form, err);
    }
    submit.disabled = false;
  });
  const history = h('section', { class: 'policy-history', 'aria-labelledby': 'policy-history-h' });
  const showHistory = () => {
    const rows = policy.history ?? [];
    if (!rows.length) {
      history.replaceChildren(h('h2', { id: 'policy-history-h' }, t('policy.history')), empty(t('policy.no_history')));
      return;
    }
    const list = table(
      [
        { label: t('policy.effective_on') },
        { label: t('policy.values') },
        { label: t('policy.changed_by') },
        { label: t('policy.changed_at') },
      ],
      { caption: t('policy.history') },
    );
    for (const r of rows) {
      list.body.append(
        list.row(
          [
            fmtDate(r.effective_on),
            t('policy.values_text', { step: r.max_step, rectify: r.rectify_months, ban: r.ban_months }),
            r.changed_by_name ?? '—',
            fmtDateTime(r.changed_at),
          ],
          { dataset: { effective: r.effective_on } },
        ),
      );
    }
    history.replaceChildren(h('h2', { id: 'policy-history-h' }, t('policy.history')), list.el);
  };
  showHistory();
  root.append(form, history, procedureCard(policy, admin), await windowCard(ctx, admin));
}

/** How the county verifies: joint approval by both bodies, and the township pre-check. */
function procedureCard(policy, admin) {
  const boxes = {};
  const rows = ['joint_approval', 'township_precheck'].map((k) => {
    const id = `procedure-${k}`;
    boxes[k] = h('input', {
      type: 'checkbox',
      id,
      checked: Boolean(policy[k]),
      disabled: !admin,
      dataset: { procedure: k },
    });
    return h(
      'div',
      { class: 'field', dataset: { field: k } },
      h('label', { class: 'check', for: id }, boxes[k], t(`procedure.${k}`)),
      h('p', { class: 'hint small muted' }, t(`procedure.${k}_hint`)),
    );
  });
  // The phone downsizes photos to this longest side before sending them (0: the original).
  const maxPx = h('input', {
    type: 'number',
    min: '0',
    max: '8192',
    step: '1',
    value: String(policy.phone_photo_max_px ?? 0),
    disabled: !admin,
    inputmode: 'numeric',
    id: 'procedure-phone_photo_max_px',
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('common.save'));
  const form = h(
    'form',
    { class: 'card procedure', novalidate: true, 'aria-labelledby': 'procedure-h' },
    h('h2', { id: 'procedure-h' }, t('procedure.title')),
    rows,
    field(t('procedure.phone_photo_max_px'), maxPx, {
      name: 'phone_photo_max_px',
      hint: t('procedure.phone_photo_max_px_hint'),
    }),
    admin ? submit : h('p', { class: 'muted' }, t('policy.read_only')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {};
    for (const k of Object.keys(boxes)) if (boxes[k].checked !== Boolean(policy[k])) body[k] = boxes[k].checked;
    const px = Number(maxPx.value.trim());
    if (maxPx.value.trim() === '' || !Number.isInteger(px)) {
      formErrors(form, {
        detail: t('policy.whole_number'),
        errors: [{ field: 'phone_photo_max_px', message: t('policy.whole_number') }],
      });
      return;
    }
    if (px !== (policy.phone_photo_max_px ?? 0)) body.phone_photo_max_px = px;
    submit.disabled = true;
    try {
      Object.assign(policy, await api.patch('/api/v1/policy', body));
      formErrors(form, null);
      form.querySelector('.form-summary')?.append(h('p', { class: 'notice ok', role: 'status' }, t('policy.saved')));
    } catch (err) {
      formErrors(form, err);
    }
    submit.disabled = false;
  });
  return form;
}

/** The quarter's verification window: read by every county role, set by admins. */
async function windowCard(ctx, admin) {
  const now = currentQuarter();
  const quarter = /^\d{4}-Q[1-4]$/.test(ctx.query.quarter ?? '') ? ctx.query.quarter : now;
  const [y, q] = now.split('-Q').map(Number);
  const next = q === 4 ? `${y + 1}-Q1` : `${y}-Q${q + 1}`;
  const choices = [next, ...quartersBack(now, 3)];
  if (!choices.includes(quarter)) choices.push(quarter);
  const pick = select(
    choices.map((c) => [c, c]),
    quarter,
    { id: 'window-quarter' },
  );
  pick.addEventListener('change', () => ctx.navigate('policy', { quarter: pick.value === now ? '' : pick.value }));
  const card = h(
    'section',
    { class: 'card window', 'aria-labelledby': 'window-h' },
    h('h2', { id: 'window-h' }, t('window.title')),
    h('p', { class: 'muted small' }, t('window.intro')),
    h('div', { class: 'toolbar' }, field(t('window.quarter'), pick)),
  );
  let win;
  try {
    win = await api.get(`/api/v1/quarters/${encodeURIComponent(quarter)}`);
  } catch (err) {
    card.append(errorBox(err));
    return card;
  }
  const opens = h('input', { type: 'date', value: win.opens_on, disabled: !admin });
  const closes = h('input', { type: 'date', value: win.closes_on, disabled: !admin });
  const state = h('p', { class: 'muted small window-state', role: 'status' });
  const showState = () => {
    state.textContent = `${win.customized ? t('window.customized') : t('window.default')} ${win.closed ? t('window.closed') : t('window.not_closed')}`;
    state.dataset.closed = win.closed ? '1' : '0';
  };
  showState();
  const submit = h('button', { type: 'submit', class: 'primary' }, t('common.save'));
  const form = h(
    'form',
    { novalidate: true, dataset: { quarter } },
    h(
      'div',
      { class: 'inline-fields' },
      field(t('window.opens_on'), opens, { name: 'opens_on' }),
      field(t('window.closes_on'), closes, { name: 'closes_on', hint: t('window.closes_hint') }),
    ),
    state,
    admin ? submit : h('p', { class: 'muted' }, t('window.read_only')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      win = await api.put(`/api/v1/quarters/${encodeURIComponent(quarter)}`, {
        opens_on: opens.value,
        closes_on: closes.value,
      });
      formErrors(form, null);
      form.querySelector('.form-summary').append(h('p', { class: 'notice ok', role: 'status' }, t('policy.saved')));
      opens.value = win.opens_on;
      closes.value = win.closes_on;
      showState();
    } catch (err) {
      formErrors(form, err);
    }
    submit.disabled = false;
  });
  card.append(form);
  return card;
}
