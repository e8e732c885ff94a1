// Org-unit CSV import: the file goes as it is (UTF-8 or GB18030, as Excel or WPS saved it) to
// POST /api/v1/org-units/import, the same import as `fieldstar org import`. A dry run first
// shows what each line would do; "import" then commits the whole file, or nothing.

import * as api from '../api.js';
import { h, field } from '../dom.js';
import { t, getLang } from '../i18n.js';
import { title, table } from '../ui.js';

const HEADER = 'code,name,level,parent_code,lat,lon,radius_m';
const BADGE = { created: 'pass', updated: 'pass', unchanged: '', refused: 'fail' };

export async function importView(root) {
  root.append(
    title(t('import.title')),
    h('p', { class: 'muted' }, t('import.intro')),
    h('p', {}, h('code', {}, HEADER)),
  );
  const file = h('input', { type: 'file', accept: '.csv,text/csv' });
  const text = h('textarea', {
    rows: '8',
    spellcheck: 'false',
    class: 'mono',
    placeholder: `${HEADER}\nDEMO-T01-V900,新村,village,DEMO-T01,36.4,114.5,1500`,
  });
  // The chosen file is sent byte for byte (the server detects its encoding); typing clears it.
  file.addEventListener('change', () => {
    if (file.files?.[0]) text.value = '';
    reset();
  });
  text.addEventListener('input', () => {
    if (text.value) file.value = '';
    reset();
  });
  const check = h('button', { type: 'submit', class: 'primary' }, t('import.check'));
  const commit = h('button', { type: 'button', class: 'primary hidden' }, t('import.run'));
  const summary = h('div', { 'aria-live': 'polite' });
  const results = h('div', {});
  const form = h(
    'form',
    { class: 'card', novalidate: true },
    field(t('import.file'), file),
    field(t('import.text'), text, { name: 'csv' }),
    h('div', { class: 'actions' }, check, commit),
    summary,
  );
  root.append(form, results);

  function reset() {
    commit.classList.add('hidden');
    summary.replaceChildren();
    results.replaceChildren();
  }

  function body() {
    const f = file.files?.[0];
    if (f) return new Blob([f], { type: 'text/csv' });
    return new Blob([text.value], { type: 'text/csv; charset=utf-8' });
  }

  function show(report) {
    const tbl = table(
      [
        { label: t('import.line'), num: true },
        { label: t('villages.code') },
        { label: t('villages.name') },
        { label: t('import.result') },
      ],
      { caption: t('import.results') },
    );
    for (const l of report.lines) {
      tbl.body.append(
        tbl.row(
          [
            String(l.line),
            h('span', { class: 'mono' }, l.code),
            l.name,
            [
              h('span', { class: ['badge', BADGE[l.result]] }, t(`import.${l.result}`)),
              l.message ? h('div', { class: 'small' }, l.message) : null,
            ],
          ],
          { dataset: { line: l.line, result: l.result } },
        ),
      );
    }
    results.replaceChildren(h('h2', {}, t('import.results')), tbl.el);
  }

  async function send(dryRun) {
    summary.replaceChildren(h('p', { role: 'status' }, t('import.sending')));
    check.disabled = true;
    commit.disabled = true;
    try {
      const report = await api.postFile(`/api/v1/org-units/import${api.qs({ dry_run: dryRun ? 'true' : '' })}`, body());
      show(report);
      const counts = {
        created: report.created,
        updated: report.updated,
        unchanged: report.unchanged,
        refused: report.refused,
      };
      if (!dryRun) {
        commit.classList.add('hidden');
        summary.replaceChildren(h('p', { class: 'notice ok', role: 'status' }, t('import.done', counts)));
      } else if (report.refused) {
        commit.classList.add('hidden');
        summary.replaceChildren(h('p', { class: 'notice error', role: 'alert' }, t('import.refused_lines', counts)));
      } else {
        commit.classList.remove('hidden');
        summary.replaceChildren(h('p', { class: 'notice info', role: 'status' }, t('import.would', counts)));
      }
    } catch (err) {
      commit.classList.add('hidden');
      // `line N` in the language of the page; the server's message is in it already.
      const where = (f) => (/^line \d+$/.test(f ?? '') ? `${t('import.line')} ${f.slice(5)}` : null);
      const lines = err.errors.map((e) =>
        h(
          'li',
          { dataset: { rule: e.rule || '' } },
          where(e.field) ? `${where(e.field)}${getLang() === 'zh' ? '：' : ': '}${e.message}` : e.message,
        ),
      );
      summary.replaceChildren(
        h(
          'div',
          { class: 'notice error', role: 'alert' },
          h('p', {}, err.detail ?? err.message),
          lines.length ? h('ul', {}, lines) : null,
        ),
      );
    }
    check.disabled = false;
    commit.disabled = false;
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!file.files?.[0] && !text.value.trim()) {
      summary.replaceChildren(h('p', { class: 'notice error', role: 'alert' }, t('import.empty')));
      return;
    }
    send(true);
  });
  commit.addEventListener('click', () => send(false));
}
