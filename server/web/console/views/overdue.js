// The secretary's quarter: coverage of her village, the mentees still without a follow-up
// (logging one from the list), and each member's activity.

import * as api from '../api.js';
import { h, field, select } from '../dom.js';
import { t, fmtDate, fmtNumber } from '../i18n.js';
import { title, empty, table, percent } from '../ui.js';
import { logVisit } from './visit.js';

/** The quarter and the n before it, newest first: '2026-Q4' → ['2026-Q4', '2026-Q3', …]. */
export function quartersBack(quarter, n) {
  const m = /^(\d{4})-Q([1-4])$/.exec(quarter ?? '');
  if (!m) return [];
  let [y, q] = [Number(m[1]), Number(m[2])];
  const out = [];
  for (let i = 0; i <= n; i += 1) {
    out.push(`${y}-Q${q}`);
    q -= 1;
    if (q === 0) {
      q = 4;
      y -= 1;
    }
  }
  return out;
}

/** The quarter of today's date here (the county's time zone, for a console used in the county). */
export function currentQuarter(d = new Date()) {
  return `${d.getFullYear()}-Q${Math.floor(d.getMonth() / 3) + 1}`;
}

/** Quarters to offer: from the later of now and `shown`, `n` back, newest first. */
export function quarterChoices(shown, n) {
  const now = currentQuarter();
  const list = quartersBack(shown && shown > now ? shown : now, n);
  if (shown && !list.includes(shown)) list.push(shown);
  return list;
}

let flash = null;

export async function overdueView(root, ctx) {
  const village = ctx.me.org_unit;
  root.append(title(t('overdue.title')));
  const cov = await api.get(
    `/api/v1/villages/${encodeURIComponent(village.id)}/mentoring${api.qs({ quarter: ctx.query.quarter })}`,
  );
  const members = await api.all(`/api/v1/villages/${encodeURIComponent(village.id)}/members`);
  const memberName = new Map(members.map((m) => [m.id, m.name]));
  const quarter = select(
    quarterChoices(cov.quarter, 4).map((q) => [q, q]),
    cov.quarter,
    { id: 'overdue-quarter' },
  );
  quarter.addEventListener('change', () => ctx.navigate('overdue', { quarter: quarter.value }));
  root.append(
    h('div', { class: 'toolbar' }, field(t('common.quarter'), quarter)),
    h(
      'div',
      { class: 'kpis' },
      kpi(percent(cov.mentees ? cov.coverage : null), t('overdue.coverage')),
      kpi(fmtNumber(cov.covered), t('overdue.covered')),
      kpi(fmtNumber(cov.mentees), t('overdue.mentees')),
      kpi(fmtNumber(cov.overdue.length), t('overdue.overdue')),
    ),
  );

  const notice = h(
    'div',
    { 'aria-live': 'polite' },
    flash ? h('p', { class: 'notice ok', role: 'status' }, flash) : null,
  );
  flash = null;
  root.append(h('h2', {}, t('overdue.list')), notice);
  if (!cov.overdue.length) {
    root.append(empty(cov.mentees ? t('overdue.none') : t('overdue.no_mentees')));
  } else {
    const tbl = table(
      [
        { label: t('members.mentee_code') },
        { label: t('overdue.mentor') },
        { label: t('overdue.last_visit') },
        { label: '' },
      ],
      { caption: t('overdue.list') },
    );
    for (const o of cov.overdue) {
      const mentee = { id: o.mentee_id, code: o.code };
      const button = h(
        'button',
        { type: 'button', 'aria-label': t('visit.log_for', { code: o.code }) },
        t('visit.log'),
      );
      const tr = tbl.row(
        [
          h('span', { class: 'mono' }, o.code),
          memberName.get(o.member_id) ?? '—',
          o.last_visit_on ? fmtDate(o.last_visit_on) : t('overdue.never'),
          button,
        ],
        { dataset: { mentee: o.code } },
      );
      button.addEventListener('click', () =>
        logVisit(mentee, () => {
          // Reload the quarter (coverage and the list change); say what happened on the new page.
          flash = t('visit.saved', { code: o.code });
          ctx.navigate('overdue', { quarter: ctx.query.quarter });
        }),
      );
      tbl.body.append(tr);
    }
    root.append(tbl.el);
  }

  root.append(h('h2', {}, t('overdue.activity')));
  if (!cov.members.length) {
    root.append(empty(t('members.empty')));
  } else {
    const tbl = table(
      [
        { label: t('members.name') },
        { label: t('overdue.mentees'), num: true },
        { label: t('overdue.visits'), num: true },
      ],
      { caption: t('overdue.activity') },
    );
    for (const m of cov.members) {
      tbl.body.append(
        tbl.row([m.name, m.mentees ? fmtNumber(m.mentees) : `0 · ${t('overdue.no_mentee')}`, fmtNumber(m.visits)]),
      );
    }
    if (cov.members_without_mentees)
      root.append(
        h(
          'p',
          { class: 'notice info', dataset: { idle: String(cov.members_without_mentees) } },
          t('overdue.idle_members', { n: fmtNumber(cov.members_without_mentees) }),
        ),
      );
    root.append(tbl.el);
  }
}

function kpi(value, label) {
  return h('div', { class: 'kpi' }, h('div', { class: 'v' }, value), h('div', { class: 'k' }, label));
}
