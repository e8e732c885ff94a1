// The county's benefit catalogue (admins edit it and save a new version; other county roles and
// earlier versions read only), and the eligibility report: each village's level and benefits on
// a date, the change list between two dates, and their CSV / Excel downloads.

import * as api from '../api.js';
import { h, field, select } from '../dom.js';
import { t, label, fmtDate, fmtDateTime, getLang } from '../i18n.js';
import { title, formErrors, table, empty, errorBox, download, stars, loading } from '../ui.js';

const LEVELS = [1, 2, 3, 4, 5];

export async function benefitsView(root, ctx) {
  root.append(
    title(t('benefits.title')),
    h('p', { class: 'muted' }, t('benefits.intro')),
    h('p', { class: 'notice info' }, t('benefits.versioned')),
  );
  const latest = await api.get('/api/v1/benefits');
  const wanted = Number(ctx.query.version);
  const viewing = wanted && wanted !== latest.version ? await api.get(`/api/v1/benefits/versions/${wanted}`) : latest;
  const old = viewing.version !== latest.version;
  const admin = ctx.role === 'admin' && !old;

  // The versions kept, to read an earlier one; shown again after a save.
  const picker = h('div', { class: 'toolbar' });
  const showVersions = async (newest, shown) => {
    const versions = newest ? await api.all('/api/v1/benefits/versions') : [];
    picker.replaceChildren();
    if (versions.length < 2) return;
    const pick = select(
      versions.map((v) => [
        v.version,
        v.version === newest ? t('benefits.current', { n: v.version }) : t('benefits.old', { n: v.version }),
      ]),
      shown,
      { id: 'benefits-version' },
    );
    pick.addEventListener('change', () =>
      ctx.navigate('benefits', { version: Number(pick.value) === newest ? '' : pick.value }),
    );
    picker.append(field(t('benefits.version'), pick));
  };
  await showVersions(latest.version, viewing.version);
  root.append(picker);
  const line = h('p', { class: 'muted small catalogue-version', dataset: { version: String(viewing.version) } });
  const showLine = (c) => {
    line.dataset.version = String(c.version);
    line.textContent = c.version
      ? t('benefits.version_line', {
          version: c.version,
          effective: fmtDate(c.effective_on),
          by: c.saved_by_name ?? '—',
          at: fmtDateTime(c.saved_at),
        })
      : t('benefits.no_catalogue');
  };
  showLine(viewing);
  root.append(line);
  if (old) root.append(h('p', { class: 'notice info' }, t('benefits.old_read_only')));
  else if (!admin) root.append(h('p', { class: 'muted' }, t('benefits.read_only')));

  let base = latest.version;
  const list = h('div', { class: 'benefit-list' });
  const form = h('form', { class: 'card benefits-form', novalidate: true }, list);
  // The rows as the form holds them; re-rendered (with their indexes) after an add or remove.
  let rows = viewing.benefits.map((b) => ({ ...b, name: { ...b.name } }));
  const read = () => {
    rows = [...list.querySelectorAll('fieldset.benefit')].map((fs) => {
      const v = (k) => fs.querySelector(`[name$=".${k}"]`).value;
      const max = v('max_level');
      return {
        code: v('code').trim(),
        name: { zh: v('name.zh'), en: v('name.en') },
        min_level: Number(v('min_level')),
        max_level: max === '' ? null : Number(max),
        applies_to: v('applies_to'),
        amount: v('amount'),
      };
    });
  };
  const renderRows = () => {
    list.replaceChildren();
    if (!rows.length) list.append(empty(t('benefits.empty_list')));
    rows.forEach((b, i) => {
      const at = (k) => `benefits[${i}].${k}`;
      const input = (_k, value, props = {}) => h('input', { value: value ?? '', disabled: !admin, ...props });
      const remove = admin
        ? h(
            'button',
            {
              type: 'button',
              class: 'link',
              onclick: () => {
                read();
                rows.splice(i, 1);
                renderRows();
              },
            },
            t('benefits.remove'),
          )
        : null;
      list.append(
        h(
          'fieldset',
          { class: 'benefit', dataset: { code: b.code ?? '' } },
          h('legend', {}, t('benefits.item', { n: i + 1 }), b.code ? ` · ${b.code}` : ''),
          h(
            'div',
            { class: 'inline-fields' },
            field(
              t('benefits.code'),
              input('code', b.code, { autocapitalize: 'off', spellcheck: 'false', maxlength: '40' }),
              { name: at('code'), hint: admin ? t('benefits.code_hint') : undefined },
            ),
            field(t('benefits.name_zh'), input('name.zh', b.name?.zh, { lang: 'zh', maxlength: '100' }), {
              name: at('name.zh'),
            }),
            field(t('benefits.name_en'), input('name.en', b.name?.en, { lang: 'en', maxlength: '100' }), {
              name: at('name.en'),
            }),
          ),
          h(
            'div',
            { class: 'inline-fields' },
            field(
              t('benefits.min_level'),
              select(
                LEVELS.map((l) => [l, t('level.n', { n: l })]),
                b.min_level ?? 1,
                { disabled: !admin },
              ),
              { name: at('min_level') },
            ),
            field(
              t('benefits.max_level'),
              select(
                [['', t('benefits.no_max')], ...LEVELS.map((l) => [l, t('level.n', { n: l })])],
                b.max_level ?? '',
                { disabled: !admin },
              ),
              { name: at('max_level') },
            ),
            field(
              t('benefits.applies_to'),
              select(
                [
                  ['households', t('benefits.households')],
                  ['members', t('benefits.members')],
                ],
                b.applies_to ?? 'households',
                { disabled: !admin },
              ),
              { name: at('applies_to') },
            ),
            field(t('benefits.amount'), input('amount', b.amount, { maxlength: '200' }), { name: at('amount') }),
            remove,
          ),
        ),
      );
    });
  };
  renderRows();
  if (admin) {
    const add = h(
      'button',
      {
        type: 'button',
        onclick: () => {
          read();
          rows.push({
            code: '',
            name: { zh: '', en: '' },
            min_level: 1,
            max_level: null,
            applies_to: 'households',
            amount: '',
          });
          renderRows();
          list.querySelector('fieldset.benefit:last-of-type input')?.focus();
        },
      },
      t('benefits.add'),
    );
    const submit = h('button', { type: 'submit', class: 'primary' }, t('benefits.save'));
    form.append(h('div', { class: 'toolbar' }, add, submit));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      read();
      submit.disabled = true;
      try {
        const saved = await api.put('/api/v1/benefits', { benefits: rows, base_version: base });
        base = saved.version;
        rows = saved.benefits.map((b) => ({ ...b, name: { ...b.name } }));
        renderRows();
        formErrors(form, null);
        form
          .querySelector('.form-summary')
          .append(h('p', { class: 'notice ok', role: 'status' }, t('benefits.saved', { n: saved.version })));
        showLine(saved);
        await showVersions(saved.version, saved.version);
      } catch (err) {
        formErrors(form, err);
      }
      submit.disabled = false;
    });
  }
  root.append(form);
}

/** A button that downloads the report `query` as `format` (the token stays in memory). */
function downloadButton(ctx, query, format, text) {
  const button = h(
    'button',
    {
      type: 'button',
      class: `download-${format}`,
      onclick: async () => {
        button.disabled = true;
        try {
          const url = ctx.keepBlob(
            await api.blobUrl(`/api/v1/reports/benefits${api.qs({ ...query, format, lang: getLang() })}`),
          );
          const stamp = query.as_of ?? `${query.from}-${query.to}`;
          download(url, `benefits-${stamp || 'today'}.${format}`);
        } catch (err) {
          button.after(errorBox(err));
        }
        button.disabled = false;
      },
    },
    text,
  );
  return button;
}

const benefitNames = (catalogue, codes) =>
  codes.length
    ? codes.map((c) => label(catalogue.find((b) => b.code === c)?.name) || c).join('、')
    : t('eligibility.none');

export async function eligibilityView(root, ctx) {
  root.append(title(t('eligibility.title')), h('p', { class: 'muted' }, t('eligibility.intro')));
  const day = h('input', { type: 'date', id: 'eligibility-as-of', value: ctx.query.as_of ?? '' });
  const dayForm = h(
    'form',
    {
      class: 'toolbar',
      novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        ctx.navigate('eligibility', { ...ctx.query, as_of: day.value });
      },
    },
    field(t('eligibility.as_of'), day, { name: 'as_of' }),
    h('button', { type: 'submit', class: 'primary' }, t('eligibility.show')),
  );
  const daySection = h('section', { class: 'card eligibility-day' }, dayForm);
  const from = h('input', { type: 'date', id: 'eligibility-from', value: ctx.query.from ?? '' });
  const to = h('input', { type: 'date', id: 'eligibility-to', value: ctx.query.to ?? '' });
  const changeForm = h(
    'form',
    {
      class: 'toolbar',
      novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        if (!from.value || !to.value || from.value > to.value) {
          formErrors(changeForm, {
            detail: t('eligibility.bad_range'),
            errors: [{ field: 'from', message: t('eligibility.bad_range') }],
          });
          return;
        }
        ctx.navigate('eligibility', { ...ctx.query, from: from.value, to: to.value });
      },
    },
    field(t('eligibility.from'), from, { name: 'from' }),
    field(t('eligibility.to'), to, { name: 'to' }),
    h('button', { type: 'submit' }, t('eligibility.show_changes')),
  );
  const changeSection = h(
    'section',
    { class: 'card eligibility-changes', 'aria-labelledby': 'changes-h' },
    h('h2', { id: 'changes-h' }, t('eligibility.changes')),
    h('p', { class: 'muted small' }, t('eligibility.changes_intro')),
    changeForm,
  );
  root.append(daySection, changeSection);

  const dayQuery = { as_of: ctx.query.as_of };
  const wait = loading();
  daySection.append(wait);
  try {
    const r = await api.get(`/api/v1/reports/benefits${api.qs(dayQuery)}`);
    wait.remove();
    day.value = r.as_of;
    const q = { as_of: r.as_of };
    const lv = r.totals.levels;
    daySection.append(
      h(
        'div',
        { class: 'dialog-head' },
        h(
          'p',
          { class: 'eligibility-totals' },
          t('eligibility.totals', { villages: r.totals.villages, l0: lv['0'], l1: lv['1'], l2: lv['2'], l3: lv['3'] }),
        ),
        h(
          'span',
          {},
          downloadButton(ctx, q, 'csv', t('eligibility.csv')),
          ' ',
          downloadButton(ctx, q, 'xlsx', t('eligibility.xlsx')),
        ),
      ),
      h(
        'p',
        { class: 'muted small' },
        r.catalogue.version ? t('eligibility.catalogue', { n: r.catalogue.version }) : t('eligibility.no_catalogue'),
      ),
    );
    const list = table(
      [
        { label: t('eligibility.village') },
        { label: t('eligibility.township') },
        { label: t('eligibility.level') },
        { label: t('eligibility.since') },
        { label: t('eligibility.state') },
        { label: t('eligibility.benefits') },
      ],
      { caption: t('eligibility.title') },
    );
    for (const v of r.villages) {
      const state =
        [
          v.banned_until ? t('eligibility.banned', { date: fmtDate(v.banned_until) }) : null,
          v.rectification ? t('eligibility.rectifying', { date: fmtDate(v.rectification.deadline) }) : null,
        ]
          .filter(Boolean)
          .join(' · ') || '—';
      list.body.append(
        list.row(
          [
            `${v.village_name} (${v.village_code})`,
            v.township_name ?? '—',
            stars(v.level),
            v.since ? fmtDate(v.since) : (v.since_quarter ?? '—'),
            state,
            benefitNames(r.benefits, v.benefits),
          ],
          { dataset: { village: v.village_code, level: String(v.level) } },
        ),
      );
    }
    // The finance office mostly needs the villages that hold a star: a filter in the page.
    const starred = h('input', {
      type: 'checkbox',
      id: 'eligibility-starred',
      onchange: () => {
        for (const tr of list.body.querySelectorAll('tr[data-level="0"]'))
          tr.classList.toggle('hidden', starred.checked);
      },
    });
    daySection.append(
      h('p', {}, starred, ' ', h('label', { for: 'eligibility-starred' }, t('eligibility.starred_only'))),
      list.el,
    );
  } catch (err) {
    wait.remove();
    daySection.append(errorBox(err));
  }

  if (ctx.query.from && ctx.query.to) {
    const q = { from: ctx.query.from, to: ctx.query.to };
    try {
      const r = await api.get(`/api/v1/reports/benefits${api.qs(q)}`);
      changeSection.append(
        h(
          'p',
          {},
          downloadButton(ctx, q, 'csv', t('eligibility.csv')),
          ' ',
          downloadButton(ctx, q, 'xlsx', t('eligibility.xlsx')),
        ),
      );
      if (!r.changes.length) {
        changeSection.append(empty(t('eligibility.no_changes')));
      } else {
        const list = table(
          [
            { label: t('eligibility.village') },
            { label: t('eligibility.levels') },
            { label: t('eligibility.gained') },
            { label: t('eligibility.lost') },
          ],
          { caption: t('eligibility.changes') },
        );
        for (const c of r.changes) {
          list.body.append(
            list.row(
              [
                `${c.village_name} (${c.village_code})`,
                h('span', {}, stars(c.level_from), ' → ', stars(c.level_to)),
                c.gained.length ? benefitNames(r.benefits, c.gained) : '—',
                c.lost.length ? benefitNames(r.benefits, c.lost) : '—',
              ],
              { dataset: { village: c.village_code } },
            ),
          );
        }
        changeSection.append(list.el);
      }
    } catch (err) {
      formErrors(changeForm, err);
    }
  }
}
