// Users of the county: the list, creating a login (its scope given by an org unit code: the
// county, a township for township staff or a narrowed inspector or reviewer, a village), a
// reviewer's verifying body, and deactivating or reactivating one.

import * as api from '../api.js';
import { h, field, select } from '../dom.js';
import { t, roleName } from '../i18n.js';
import { title, loading, empty, pager, table, errorBox, formErrors } from '../ui.js';

const ROLES = ['admin', 'inspector', 'reviewer', 'township', 'secretary', 'member'];
/** The two verifying bodies; every reviewer belongs to one. */
export const BODIES = ['department', 'association'];

/** An org unit's id from its code, or a field error on `org_unit_id`. */
export async function unitByCode(code, fieldName = 'org_unit_id') {
  const page = await api.get(`/api/v1/org-units${api.qs({ code })}`);
  const unit = page.items.find((u) => u.code === code);
  if (!unit) {
    const err = new api.ApiError(422, {
      detail: t('users.unknown_unit', { code }),
      errors: [{ field: fieldName, message: t('users.unknown_unit', { code }) }],
    });
    throw err;
  }
  return unit;
}

export async function usersView(root, ctx) {
  const q = ctx.query;
  root.append(title(t('users.title')));

  // Create a user.
  const username = h('input', { autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', required: true });
  const password = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: '10' });
  const role = select(
    ROLES.map((r) => [r, roleName(r)]),
    'inspector',
  );
  const unit = h('input', { value: ctx.me.org_unit.code, required: true, autocapitalize: 'characters' });
  const body = select(
    BODIES.map((b) => [b, t(`body.${b}`)]),
    'department',
  );
  const bodyField = field(t('users.body'), body, { name: 'body', hint: t('users.body_hint') });
  const showBody = () => bodyField.classList.toggle('hidden', role.value !== 'reviewer');
  role.addEventListener('change', showBody);
  showBody();
  const created = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('users.create'));
  const form = h(
    'form',
    { class: 'card', novalidate: true, 'aria-labelledby': 'new-user-h' },
    h('h2', { id: 'new-user-h' }, t('users.new')),
    h(
      'div',
      { class: 'inline-fields' },
      field(t('users.username'), username, { name: 'username' }),
      field(t('users.password'), password, { name: 'password', hint: t('users.password_hint') }),
      field(t('users.role'), role, { name: 'role' }),
      field(t('users.unit'), unit, { name: 'org_unit_id', hint: t('users.unit_hint') }),
      bodyField,
    ),
    submit,
    created,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    created.replaceChildren();
    try {
      const u = await unitByCode(unit.value.trim());
      const payload = {
        username: username.value.trim(),
        password: password.value,
        role: role.value,
        org_unit_id: u.id,
      };
      if (role.value === 'reviewer') payload.body = body.value;
      const user = await api.post('/api/v1/users', payload);
      formErrors(form, null);
      created.append(
        h(
          'p',
          { class: 'notice ok', role: 'status' },
          t('users.created', { name: user.username, role: roleName(user.role), unit: u.name }),
        ),
      );
      username.value = '';
      password.value = '';
      list.body.prepend(row(user, u));
    } catch (err) {
      formErrors(form, err);
    }
    submit.disabled = false;
  });

  // The list.
  const roleFilter = select([['', t('common.all')], ...ROLES.map((r) => [r, roleName(r)])], q.role, {
    id: 'users-role',
  });
  roleFilter.addEventListener('change', () => ctx.navigate('users', { role: roleFilter.value }));
  const cols = [
    { label: t('users.username') },
    { label: t('users.role') },
    { label: t('users.body') },
    { label: t('users.unit') },
    { label: t('users.state') },
    { label: '' },
  ];
  const list = table(cols, { caption: t('users.title') });
  const units = new Map([[ctx.me.org_unit.id, ctx.me.org_unit]]);
  const unitOf = async (id) => {
    if (!units.has(id))
      units.set(id, await api.get(`/api/v1/org-units/${encodeURIComponent(id)}`).catch(() => ({ code: id, name: '' })));
    return units.get(id);
  };

  function row(user, u) {
    const state = h(
      'span',
      { class: ['badge', user.active ? 'pass' : 'fail'] },
      user.active ? t('users.active') : t('users.inactive'),
    );
    const msg = h('div', {});
    const toggle = h(
      'button',
      {
        type: 'button',
        class: user.active ? 'danger' : '',
        'aria-label': t(user.active ? 'users.deactivate_who' : 'users.activate_who', { name: user.username }),
      },
      user.active ? t('users.deactivate') : t('users.activate'),
    );
    toggle.addEventListener('click', async () => {
      toggle.disabled = true;
      try {
        const updated = await api.patch(`/api/v1/users/${encodeURIComponent(user.id)}`, { active: !user.active });
        tr.replaceWith(row(updated, u));
      } catch (err) {
        msg.replaceChildren(errorBox(err));
        toggle.disabled = false;
      }
    });
    let bodyCell = '';
    if (user.role === 'reviewer') {
      const pick = select(
        BODIES.map((b) => [b, t(`body.${b}`)]),
        user.body ?? '',
        { 'aria-label': t('users.body_of', { name: user.username }) },
      );
      if (!user.body) pick.prepend(h('option', { value: '', selected: true, disabled: true }, t('users.body_missing')));
      pick.addEventListener('change', async () => {
        pick.disabled = true;
        try {
          const updated = await api.patch(`/api/v1/users/${encodeURIComponent(user.id)}`, { body: pick.value });
          tr.replaceWith(row(updated, u));
        } catch (err) {
          msg.replaceChildren(errorBox(err));
          pick.disabled = false;
        }
      });
      bodyCell = pick;
    }
    const tr = list.row(
      [
        user.username,
        roleName(user.role),
        bodyCell,
        [u.name, ' ', h('span', { class: 'muted small mono' }, u.code)],
        state,
        [toggle, msg],
      ],
      { dataset: { user: user.username } },
    );
    return tr;
  }

  const status = h('div', {}, loading());
  root.append(
    form,
    h('h2', {}, t('users.list')),
    h('div', { class: 'toolbar' }, field(t('users.role'), roleFilter)),
    status,
    list.el,
  );
  let count = 0;
  const more = pager(async (cursor) => {
    const page = await api.get(`/api/v1/users${api.qs({ role: q.role, cursor, limit: 100 })}`);
    for (const user of page.items) {
      count += 1;
      list.body.append(row(user, await unitOf(user.org_unit_id)));
    }
    if (count) status.replaceChildren();
    else status.replaceChildren(empty(t('users.empty')));
    return page.next_cursor;
  });
  root.append(more.el);
  await more.start();
  if (status.querySelector('.loading')) status.replaceChildren();
}
