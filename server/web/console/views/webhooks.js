// Webhook subscriptions: list, subscribe (the secret is shown once, right after), unsubscribe,
// and each subscription's delivery log.

import * as api from '../api.js';
import { h, field, nextId } from '../dom.js';
import { t, fmtDateTime } from '../i18n.js';
import { title, loading, empty, pager, table, errorBox, formErrors } from '../ui.js';

const EVENTS = ['inspection.submitted', 'inspection.decided', 'inspection.returned', 'star_status.changed'];

function deliveries(hook) {
  const wrap = h('div', { class: 'deliveries' });
  const tbl = table(
    [
      { label: t('webhooks.at') },
      { label: t('webhooks.event') },
      { label: t('webhooks.attempt'), num: true },
      { label: t('webhooks.outcome') },
    ],
    { caption: t('webhooks.log') },
  );
  let count = 0;
  const more = pager(async (cursor) => {
    const page = await api.get(
      `/api/v1/webhooks/${encodeURIComponent(hook.id)}/deliveries${api.qs({ cursor, limit: 20 })}`,
    );
    for (const d of page.items) {
      count += 1;
      const ok = d.status_code >= 200 && d.status_code < 300;
      tbl.body.append(
        tbl.row([
          fmtDateTime(d.at),
          h('span', { class: 'mono small' }, d.event_id),
          String(d.attempt),
          h(
            'span',
            { class: ['badge', ok ? 'pass' : 'fail'] },
            d.status_code ? `HTTP ${d.status_code}` : (d.error ?? '—'),
            !ok && d.status_code && d.error ? ` · ${d.error}` : '',
          ),
        ]),
      );
    }
    if (!count) wrap.replaceChildren(empty(t('webhooks.no_deliveries')));
    return page.next_cursor;
  });
  wrap.append(tbl.el, more.el);
  more.start();
  return wrap;
}

export async function webhooksView(root) {
  root.append(title(t('webhooks.title')), h('p', { class: 'muted' }, t('webhooks.intro')));

  const url = h('input', {
    type: 'url',
    placeholder: 'https://hooks.example.org/fieldstar',
    inputmode: 'url',
    spellcheck: 'false',
  });
  const boxes = EVENTS.map((ev) => {
    const id = nextId('ev');
    return h(
      'label',
      { class: 'check', for: id },
      h('input', { type: 'checkbox', id, value: ev, checked: true }),
      h('span', {}, t(`webhooks.ev.${ev}`), ' ', h('code', { class: 'muted small' }, ev)),
    );
  });
  const secret = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('webhooks.create'));
  const form = h(
    'form',
    { class: 'card', novalidate: true, 'aria-labelledby': 'new-hook-h' },
    h('h2', { id: 'new-hook-h' }, t('webhooks.new')),
    field(t('webhooks.url'), url, { name: 'url', hint: t('webhooks.url_hint') }),
    h(
      'div',
      { class: 'field', dataset: { field: 'events' } },
      h('fieldset', {}, h('legend', {}, t('webhooks.events')), boxes),
      h('span', { class: 'field-error' }),
    ),
    submit,
    secret,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    secret.replaceChildren();
    const events = [...form.querySelectorAll('input[type=checkbox]:checked')].map((b) => b.value);
    submit.disabled = true;
    try {
      const hook = await api.post('/api/v1/webhooks', { url: url.value.trim(), events });
      formErrors(form, null);
      url.value = '';
      secret.append(
        h(
          'div',
          { class: 'notice ok', role: 'status' },
          h('p', {}, t('webhooks.created')),
          h('p', {}, h('strong', {}, t('webhooks.secret_once'))),
          h('p', { class: 'secret mono', 'data-secret': '' }, hook.secret),
        ),
      );
      list.body.prepend(...rows(hook));
      status.replaceChildren();
    } catch (err) {
      formErrors(form, err);
    }
    submit.disabled = false;
  });

  const cols = [
    { label: t('webhooks.url') },
    { label: t('webhooks.events') },
    { label: t('webhooks.created_at') },
    { label: '' },
  ];
  const list = table(cols, { caption: t('webhooks.title') });
  function rows(hook) {
    const detail = h('tr', { class: 'detail-row hidden' }, h('td', { colspan: String(cols.length) }));
    const logButton = h(
      'button',
      {
        type: 'button',
        'aria-expanded': 'false',
        onclick: () => {
          const open = logButton.getAttribute('aria-expanded') === 'true';
          logButton.setAttribute('aria-expanded', String(!open));
          detail.classList.toggle('hidden', open);
          if (!open) detail.firstChild.replaceChildren(h('h3', {}, t('webhooks.log')), deliveries(hook));
        },
      },
      t('webhooks.show_log'),
    );
    const msg = h('div', {});
    const remove = h(
      'button',
      {
        type: 'button',
        class: 'danger',
        onclick: async () => {
          if (remove.dataset.armed !== '1') {
            remove.dataset.armed = '1';
            remove.textContent = t('webhooks.confirm_delete');
            return;
          }
          remove.disabled = true;
          try {
            await api.del(`/api/v1/webhooks/${encodeURIComponent(hook.id)}`);
            tr.remove();
            detail.remove();
          } catch (err) {
            msg.replaceChildren(errorBox(err));
            remove.disabled = false;
          }
        },
      },
      t('webhooks.delete'),
    );
    const tr = list.row(
      [
        h('span', { class: 'mono' }, hook.url),
        hook.events.map((ev) => h('div', { class: 'small' }, t(`webhooks.ev.${ev}`))),
        fmtDateTime(hook.created_at),
        [h('div', { class: 'chips' }, logButton, remove), msg],
      ],
      { dataset: { webhook: hook.id } },
    );
    return [tr, detail];
  }

  const status = h('div', {}, loading());
  root.append(form, h('h2', {}, t('webhooks.list')), status, list.el);
  let count = 0;
  const more = pager(async (cursor) => {
    const page = await api.get(`/api/v1/webhooks${api.qs({ cursor, limit: 50 })}`);
    for (const hook of page.items) {
      count += 1;
      list.body.append(...rows(hook));
    }
    if (count) status.replaceChildren();
    else status.replaceChildren(empty(t('webhooks.empty')));
    return page.next_cursor;
  });
  root.append(more.el);
  await more.start();
}
