// Org-unit CSV import in the browser: parse the file, then POST /api/v1/org-units row by row in
// order (parents before children), reporting each line's result; there is no bulk endpoint.

import * as api from '../api.js';
import { h, field } from '../dom.js';
import { t } from '../i18n.js';
import { title, table } from '../ui.js';
import { orgRows, ORG_HEADER } from '../csv.js';

function numberOrNull(s, name, errors) {
  if (s === '') return undefined;
  const n = Number(s);
  if (!Number.isFinite(n)) errors.push(`${name}: ${t('import.not_number')}`);
  return n;
}

export async function importView(root) {
  root.append(title(t('import.title')),
    h('p', { class: 'muted' }, t('import.intro')),
    h('p', {}, h('code', {}, ORG_HEADER.join(','))));
  const file = h('input', { type: 'file', accept: '.csv,text/csv' });
  const text = h('textarea', { rows: '8', spellcheck: 'false', class: 'mono', placeholder: `${ORG_HEADER.join(',')}\nDEMO-T01-V900,新村,village,DEMO-T01,36.4,114.5,1500` });
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    if (f) text.value = await f.text();
  });
  const run = h('button', { type: 'submit', class: 'primary' }, t('import.run'));
  const summary = h('div', { 'aria-live': 'polite' });
  const results = h('div', {});
  const form = h('form', { class: 'card', novalidate: true },
    field(t('import.file'), file), field(t('import.text'), text, { name: 'csv' }), run, summary);
  root.append(form, results);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    summary.replaceChildren();
    results.replaceChildren();
    let rows;
    try {
      rows = orgRows(text.value);
    } catch (err) {
      summary.append(h('p', { class: 'notice error', role: 'alert' }, err.header ? t('import.bad_header', { header: ORG_HEADER.join(',') }) : err.message === 'empty' ? t('import.empty') : err.message));
      return;
    }
    const tbl = table([{ label: t('import.line'), num: true }, { label: t('villages.code') }, { label: t('villages.name') }, { label: t('import.result') }], { caption: t('import.results') });
    results.append(h('h2', {}, t('import.results')), tbl.el);
    run.disabled = true;
    const ids = new Map();
    let ok = 0;
    let failed = 0;
    let skipped = 0;
    for (const [i, r] of rows.entries()) {
      summary.replaceChildren(h('p', { role: 'status' }, t('import.progress', { n: i + 1, total: rows.length })));
      const errors = [];
      if (r.extra) errors.push(t('import.columns', { n: ORG_HEADER.length }));
      const body = { code: r.code, name: r.name, level: r.level };
      const lat = numberOrNull(r.lat, 'lat', errors);
      const lon = numberOrNull(r.lon, 'lon', errors);
      const radius = numberOrNull(r.radius_m, 'radius_m', errors);
      if (lat !== undefined) body.lat = lat;
      if (lon !== undefined) body.lon = lon;
      if (radius !== undefined) body.radius_m = radius;
      let outcome;
      if (!errors.length) {
        try {
          if (r.parent_code) {
            if (!ids.has(r.parent_code)) {
              const page = await api.get(`/api/v1/org-units${api.qs({ code: r.parent_code })}`);
              const parent = page.items.find((u) => u.code === r.parent_code);
              if (parent) ids.set(r.parent_code, parent.id);
            }
            if (ids.has(r.parent_code)) body.parent_id = ids.get(r.parent_code);
            else errors.push(t('import.no_parent', { code: r.parent_code }));
          }
          if (!errors.length) {
            const unit = await api.post('/api/v1/org-units', body);
            ids.set(unit.code, unit.id);
            outcome = ['ok', t('import.created')];
          }
        } catch (err) {
          if (err.status === 409) {
            outcome = ['skip', t('import.exists', { detail: err.detail ?? '' })];
          } else {
            errors.push(err.detail ?? err.message);
            for (const fe of err.errors) errors.push(`${fe.field}: ${fe.message}`);
          }
        }
      }
      if (errors.length) outcome = ['fail', errors.join('; ')];
      if (outcome[0] === 'ok') ok += 1;
      else if (outcome[0] === 'skip') skipped += 1;
      else failed += 1;
      tbl.body.append(tbl.row([String(r.line), h('span', { class: 'mono' }, r.code), r.name,
        h('span', { class: ['badge', outcome[0] === 'ok' ? 'pass' : outcome[0] === 'fail' ? 'fail' : ''] }, outcome[1])], { dataset: { line: r.line, result: outcome[0] } }));
    }
    summary.replaceChildren(h('p', { class: ['notice', failed ? 'error' : 'ok'], role: 'status' }, t('import.done', { ok, skipped, failed })));
    run.disabled = false;
  });
}
