// The "log a visit" dialog: the visit gets a client-chosen UUID (PUT is idempotent, so a
// double click or a retry after a network error records one visit).

import * as api from '../api.js';
import { h, field, select } from '../dom.js';
import { t } from '../i18n.js';
import { formErrors } from '../ui.js';

export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; a console opened over plain http on a LAN has none.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function localToday() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** Opens the dialog for one mentee; `done(visit)` runs after the server stored it. */
export function logVisit(mentee, done) {
  const id = uuid();
  const date = h('input', { type: 'date', value: localToday(), max: localToday(), required: true });
  const kind = select(
    [
      ['quarterly_followup', t('visit.kind_quarterly_followup')],
      ['outreach', t('visit.kind_outreach')],
    ],
    'quarterly_followup',
  );
  const note = h('textarea', { maxlength: '500', rows: '3' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('visit.save'));
  const cancel = h('button', { type: 'button', onclick: () => dialog.close() }, t('common.cancel'));
  const form = h(
    'form',
    { class: 'dialog-body', novalidate: true },
    h('h2', {}, t('visit.title', { code: mentee.code, name: mentee.display_name ?? '' })),
    field(t('visit.date'), date, { name: 'visited_on' }),
    field(t('visit.kind'), kind, { name: 'kind', hint: t('visit.kind_hint') }),
    field(t('visit.note'), note, { name: 'note', hint: t('visit.note_hint') }),
    h('p', { class: 'chips' }, submit, cancel),
  );
  const dialog = h('dialog', { 'aria-label': t('visit.title', { code: mentee.code, name: '' }) }, form);
  dialog.addEventListener('close', () => dialog.remove());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { mentee_id: mentee.id, visited_on: date.value, kind: kind.value };
    if (note.value.trim()) body.note = note.value.trim();
    submit.disabled = true;
    try {
      const visit = await api.put(`/api/v1/visits/${id}`, body);
      dialog.close();
      done?.(visit);
    } catch (err) {
      formErrors(form, err);
      submit.disabled = false;
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  date.focus();
}
