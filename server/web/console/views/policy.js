// The county's star policy: how far a declaration may climb, the rectification window and the
// ban; admins change it, other county roles read it.

import * as api from '../api.js';
import { h, field } from '../dom.js';
import { t } from '../i18n.js';
import { title, formErrors } from '../ui.js';

const FIELDS = [
  ['max_step', 1, 3],
  ['rectify_months', 1, 60],
  ['ban_months', 0, 120],
];

export async function policyView(root, ctx) {
  root.append(title(t('policy.title')), h('p', { class: 'muted' }, t('policy.intro')));
  let policy = await api.get('/api/v1/policy');
  const admin = ctx.role === 'admin';
  const inputs = Object.fromEntries(FIELDS.map(([k, min, max]) => [k, h('input', { type: 'number', min: String(min), max: String(max), step: '1', value: String(policy[k]), disabled: !admin, inputmode: 'numeric' })]));
  const state = h('p', { class: 'muted small', role: 'status' });
  const showState = () => {
    state.textContent = policy.customized ? t('policy.customized') : t('policy.default');
  };
  showState();
  const submit = h('button', { type: 'submit', class: 'primary' }, t('common.save'));
  const form = h('form', { class: 'card', novalidate: true },
    FIELDS.map(([k, min, max]) => field(t(`policy.${k}`), inputs[k], { name: k, hint: t(`policy.${k}_hint`, { min, max }) })),
    state, admin ? submit : h('p', { class: 'muted' }, t('policy.read_only')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {};
    for (const [k] of FIELDS) {
      const v = inputs[k].value.trim();
      const n = Number(v);
      if (v === '' || !Number.isInteger(n)) {
        formErrors(form, { detail: t('policy.whole_number'), errors: [{ field: k, message: t('policy.whole_number') }] });
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
    } catch (err) {
      formErrors(form, err);
    }
    submit.disabled = false;
  });
  root.append(form);
}
