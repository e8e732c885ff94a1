// The secretary's village association: members, the people each one mentors (one to three),
// adding either, and logging a visit to a mentee.

import * as api from '../api.js';
import { h, field } from '../dom.js';
import { t, fmtDate } from '../i18n.js';
import { title, loading, empty, errorBox, formErrors } from '../ui.js';
import { logVisit } from './visit.js';

const MAX_MENTEES = 3;

export async function membersView(root, ctx) {
  const village = ctx.me.org_unit;
  root.append(title(t('members.title')), h('p', { class: 'muted' }, t('members.intro', { village: village.name })));
  const notice = h('div', { 'aria-live': 'polite' });
  const listEl = h('div', { class: 'member-grid' }, loading());

  const name = h('input', { autocomplete: 'off', maxlength: '64' });
  const add = h('button', { type: 'submit', class: 'primary' }, t('members.add'));
  const form = h(
    'form',
    { class: 'card', novalidate: true, 'aria-labelledby': 'new-member-h' },
    h('h2', { id: 'new-member-h' }, t('members.new')),
    h(
      'div',
      { class: 'inline-fields' },
      field(t('members.name'), name, { name: 'name' }),
      h('div', { class: 'field' }, add),
    ),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    add.disabled = true;
    try {
      const m = await api.post(`/api/v1/villages/${encodeURIComponent(village.id)}/members`, {
        name: name.value.trim(),
      });
      formErrors(form, null);
      name.value = '';
      listEl.querySelector('.empty')?.remove();
      listEl.append(memberCard(m, []));
      notice.replaceChildren(h('p', { class: 'notice ok', role: 'status' }, t('members.added', { name: m.name })));
    } catch (err) {
      formErrors(form, err);
    }
    add.disabled = false;
  });
  root.append(notice, form, h('h2', {}, t('members.list')), listEl);

  function menteeItem(mentee) {
    const last = h('span', { class: 'muted small' });
    return h(
      'li',
      { dataset: { mentee: mentee.code } },
      h('span', { class: 'mono' }, mentee.code),
      ' · ',
      mentee.display_name,
      ' ',
      last,
      ' ',
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          'aria-label': t('visit.log_for', { code: mentee.code }),
          onclick: () =>
            logVisit(mentee, (v) => {
              last.textContent = t('visit.logged_on', { date: fmtDate(v.visited_on), kind: t(`visit.kind_${v.kind}`) });
              notice.replaceChildren(
                h('p', { class: 'notice ok', role: 'status' }, t('visit.saved', { code: mentee.code })),
              );
            }),
        },
        t('visit.log'),
      ),
    );
  }

  function memberCard(member, mentees) {
    const list = h('ul', { class: 'mentee-list' }, mentees.map(menteeItem));
    const none = h('p', { class: ['muted', 'small', mentees.length ? 'hidden' : ''] }, t('members.no_mentees'));
    const code = h('input', { autocomplete: 'off', maxlength: '32', autocapitalize: 'characters' });
    const display = h('input', { autocomplete: 'off', maxlength: '64' });
    const save = h('button', { type: 'submit', class: 'primary' }, t('members.add_mentee'));
    const count = () => list.children.length;
    const form = h(
      'form',
      { class: 'hidden', novalidate: true, 'aria-label': t('members.add_mentee_for', { name: member.name }) },
      h(
        'div',
        { class: 'inline-fields' },
        field(t('members.mentee_code'), code, { name: 'code', hint: t('members.mentee_code_hint') }),
        field(t('members.mentee_name'), display, { name: 'display_name', hint: t('members.mentee_name_hint') }),
        h('div', { class: 'field' }, save),
      ),
    );
    const open = h(
      'button',
      {
        type: 'button',
        'aria-expanded': 'false',
        onclick: () => {
          const shown = !form.classList.toggle('hidden');
          open.setAttribute('aria-expanded', String(shown));
          if (shown) code.focus();
        },
      },
      t('members.add_mentee'),
    );
    const capacity = h('span', { class: 'muted small' });
    const refresh = () => {
      capacity.textContent = t('members.capacity', { n: count(), max: MAX_MENTEES });
      none.classList.toggle('hidden', count() > 0);
      // The server refuses a fourth mentee (422 mentee_limit); say so before anyone tries.
      open.disabled = count() >= MAX_MENTEES;
      open.title = open.disabled ? t('members.full') : '';
    };
    refresh();
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      save.disabled = true;
      try {
        const mentee = await api.post(`/api/v1/members/${encodeURIComponent(member.id)}/mentees`, {
          code: code.value.trim(),
          display_name: display.value.trim(),
        });
        formErrors(form, null);
        code.value = '';
        display.value = '';
        list.append(menteeItem(mentee));
        form.classList.add('hidden');
        open.setAttribute('aria-expanded', 'false');
        refresh();
        notice.replaceChildren(
          h(
            'p',
            { class: 'notice ok', role: 'status' },
            t('members.mentee_added', { code: mentee.code, name: member.name }),
          ),
        );
      } catch (err) {
        formErrors(form, err);
      }
      save.disabled = false;
    });
    return h(
      'section',
      { class: 'card', dataset: { member: member.name } },
      h('h3', {}, member.name, ' ', capacity),
      none,
      list,
      h('p', {}, open),
      form,
    );
  }

  const members = await api.all(`/api/v1/villages/${encodeURIComponent(village.id)}/members`);
  const cards = await Promise.all(
    members.map(async (m) => {
      try {
        return memberCard(m, await api.all(`/api/v1/members/${encodeURIComponent(m.id)}/mentees`));
      } catch (err) {
        return errorBox(err);
      }
    }),
  );
  listEl.replaceChildren(...(cards.length ? cards : [empty(t('members.empty'))]));
}
