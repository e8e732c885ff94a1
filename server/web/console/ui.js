// Pieces every view uses: error display (problem+json detail and per-field messages), headings,
// star levels, flag chips and "load more" paging.

import { h } from './dom.js';
import { t, flagName, fmtNumber } from './i18n.js';

/** A notice for any error: the problem's detail, then each field message. */
export function errorBox(err) {
  const title =
    err?.status === 0 || err instanceof TypeError
      ? t('error.network')
      : err?.detail || err?.title || t('error.generic');
  // The server's message in the console's language; the field's path only as a hover hint.
  const list = (err?.errors ?? []).map((e) =>
    h('li', { title: e.field || null, dataset: { rule: e.rule || '' } }, e.message),
  );
  return h('div', { class: 'notice error', role: 'alert' }, h('p', {}, title), list.length ? h('ul', {}, list) : null);
}

/** Puts each `errors[]` message beside its field (`.field[data-field=name]`); whatever has no
 *  field in the form goes into `summary` (or a notice at the form's top). `err` null clears. */
export function formErrors(form, err, summary) {
  for (const f of form.querySelectorAll('.field')) {
    f.classList.remove('invalid');
    const slot = f.querySelector('.field-error');
    if (slot) slot.textContent = '';
    f.querySelector('input, select, textarea')?.removeAttribute('aria-invalid');
  }
  const box =
    summary ??
    form.querySelector(':scope > .form-summary') ??
    form.insertBefore(h('div', { class: 'form-summary' }), form.firstChild);
  box.replaceChildren();
  if (!err) return;
  const rest = [];
  let first = null;
  for (const e of err.errors ?? []) {
    const f = e.field ? form.querySelector(`.field[data-field="${CSS.escape(e.field)}"]`) : null;
    if (f) {
      f.classList.add('invalid');
      f.querySelector('.field-error').textContent = e.message;
      const control = f.querySelector('input, select, textarea');
      control?.setAttribute('aria-invalid', 'true');
      first ??= control;
    } else {
      rest.push(e);
    }
  }
  box.append(errorBox({ ...err, errors: rest, detail: err.detail }));
  first?.focus();
}

export const title = (text) => h('h1', { tabindex: '-1' }, text);
export const loading = () => h('p', { class: 'loading', role: 'status' }, t('common.loading'));
export const empty = (text) => h('p', { class: 'empty' }, text);

/** ★★☆ for a level; with `text` the level is also written out (otherwise only for screen readers). */
export function stars(level, text = false) {
  const n = Number(level) || 0;
  return h(
    'span',
    { class: 'stars', title: t('level.n', { n }) },
    h('span', { 'aria-hidden': 'true' }, '★'.repeat(n), h('span', { class: 'off' }, '★'.repeat(Math.max(0, 3 - n)))),
    text
      ? h('span', { class: 'level-text' }, ' ', t('level.n', { n }))
      : h('span', { class: 'sr-only' }, t('level.n', { n })),
  );
}

/** A flag: on the inspection's page with its detail; in lists counted by code (`count`). */
export function flagChip(flag) {
  const times = flag.count > 1 ? ` ×${flag.count}` : '';
  return h(
    'span',
    { class: ['chip', `sev-${flag.severity}`], title: flag.message ?? flag.detail },
    flagName(flag.code) + times,
  );
}

export function severityBadge(severity) {
  return h('span', { class: ['chip', `sev-${severity}`] }, t(`severity.${severity}`));
}

export function statusBadge(status) {
  return h('span', { class: ['badge', `status-${status}`] }, t(`status.${status}`));
}

export const percent = (x) => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${fmtNumber(x * 100, 0)}%`);

/** A "load more" button driving a cursor-paged list; `load(cursor)` returns the next cursor. */
export function pager(load) {
  let cursor = null;
  const button = h('button', { type: 'button', class: 'hidden' }, t('common.more'));
  const wrap = h('p', {}, button);
  const run = async () => {
    button.disabled = true;
    try {
      cursor = await load(cursor);
    } catch (err) {
      wrap.replaceChildren(errorBox(err), button);
    }
    button.disabled = false;
    button.classList.toggle('hidden', !cursor);
  };
  button.addEventListener('click', run);
  return { el: wrap, start: run };
}

/** A table with a header row; cells carry their column label for the narrow (card) layout. */
export function table(columns, { cards = true, caption } = {}) {
  const body = h('tbody');
  const el = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: cards ? 'cards' : '' },
      caption ? h('caption', { class: 'sr-only' }, caption) : null,
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : '' }, c.label)),
        ),
      ),
      body,
    ),
  );
  const row = (cells, props = {}) =>
    h(
      'tr',
      props,
      cells.map((c, i) => h('td', { 'data-label': columns[i]?.label ?? '', class: columns[i]?.num ? 'num' : '' }, c)),
    );
  return { el, body, row };
}

/** Saves a blob: URL under a file name (CSV exports). */
export function download(url, name) {
  const a = h('a', { href: url, download: name, class: 'hidden' });
  document.body.append(a);
  a.click();
  a.remove();
}
