// The county leaders' dashboard: star levels per township (stacked bars), mentoring coverage per
// township, and the review numbers (approval rate, turnaround, flags), each with a CSV export.

import * as api from '../api.js';
import { h, field, select } from '../dom.js';
import { t, flagName, fmtNumber, getLang } from '../i18n.js';
import { title, loading, empty, errorBox, percent, download, table, stars as starLevel, statusBadge } from '../ui.js';
import { stackedBars, bars } from '../charts.js';
import { quarterChoices, currentQuarter } from './overdue.js';

const LEVELS = ['0', '1', '2', '3'];

async function report(name, params) {
  try {
    return { data: await api.get(`/api/v1/reports/${name}${api.qs(params)}`) };
  } catch (err) {
    return err.status === 404 ? { missing: true } : { error: err };
  }
}

function section(heading, csvName, params, ctx) {
  const body = h('div', {}, loading());
  // The file's header row is in the console's language (?lang=); a CSV starts with a BOM.
  const file = (format, text) => {
    const button = h(
      'button',
      {
        type: 'button',
        class: `download-${format}`,
        onclick: async () => {
          button.disabled = true;
          try {
            const url = ctx.keepBlob(
              await api.blobUrl(`/api/v1/reports/${csvName}${api.qs({ ...params, format, lang: getLang() })}`),
            );
            download(url, `${csvName}-${params.quarter ?? 'current'}.${format}`);
          } catch (err) {
            body.prepend(errorBox(err));
          }
          button.disabled = false;
        },
      },
      text,
    );
    return button;
  };
  const csv = file('csv', t('dashboard.csv'));
  const xlsx = file('xlsx', t('dashboard.xlsx'));
  const el = h(
    'section',
    { class: 'card chart', dataset: { report: csvName } },
    h('div', { class: 'dialog-head' }, h('h2', {}, heading), h('span', {}, csv, ' ', xlsx)),
    body,
  );
  return { el, body, csv, xlsx };
}

function unavailable(part, res) {
  part.csv.disabled = true;
  part.xlsx.disabled = true;
  part.body.replaceChildren(res.error ? errorBox(res.error) : empty(t('dashboard.not_available')));
}

export async function dashboardView(root, ctx) {
  root.append(title(t('dashboard.title')), h('p', { class: 'muted' }, t('dashboard.intro')));
  const params = { quarter: ctx.query.quarter };
  const starsPart = section(t('dashboard.stars'), 'stars', params, ctx);
  const mentoringPart = section(t('dashboard.coverage'), 'mentoring', params, ctx);
  const reviewsPart = section(t('dashboard.reviews'), 'reviews', params, ctx);
  const kpis = h('div', { class: 'kpis' });
  const toolbar = h('div', { class: 'toolbar' });
  const unverifiedParams = { quarter: ctx.query.quarter ?? currentQuarter() };
  const unverifiedPart = section(t('dashboard.unverified'), 'unverified', unverifiedParams, ctx);
  root.append(
    toolbar,
    kpis,
    h('div', { class: 'charts' }, starsPart.el, mentoringPart.el),
    reviewsPart.el,
    unverifiedPart.el,
  );

  const [stars, mentoring, reviews, unverified] = await Promise.all([
    report('stars', params),
    report('mentoring', params),
    report('reviews', params),
    report('unverified', unverifiedParams),
  ]);
  const quarter = stars.data?.quarter ?? mentoring.data?.quarter ?? reviews.data?.quarter ?? ctx.query.quarter;
  if (quarter) {
    const pick = select(
      quarterChoices(quarter, 7).map((q) => [q, q]),
      quarter,
      { id: 'dashboard-quarter' },
    );
    pick.addEventListener('change', () => ctx.navigate('dashboard', { quarter: pick.value }));
    toolbar.append(field(t('common.quarter'), pick));
  }

  // Star levels.
  if (stars.data) {
    const d = stars.data;
    const series = LEVELS.map((l) => ({ label: t('level.short', { n: Number(l) }), cls: `lvl${l}` }));
    const rows = d.townships.map((tw) => ({
      label: tw.name,
      values: LEVELS.map((l) => tw.levels?.[l] ?? 0),
      total: tw.villages,
    }));
    const starred = LEVELS.slice(1).reduce((a, l) => a + (d.totals.levels?.[l] ?? 0), 0);
    kpis.append(
      kpi(fmtNumber(starred), t('dashboard.starred_villages', { n: fmtNumber(d.totals.villages) })),
      kpi(
        `+${fmtNumber(d.totals.up)} / −${fmtNumber(d.totals.down)}`,
        t('dashboard.changes', { previous: d.previous_quarter ?? '—' }),
      ),
    );
    starsPart.body.replaceChildren(
      rows.length
        ? stackedBars({
            title: t('dashboard.stars_chart', { quarter: d.quarter, unit: d.org_unit?.name ?? '' }),
            desc: t('dashboard.stars_desc'),
            rows,
            series,
            xLabel: t('dashboard.villages_axis'),
            yLabel: t('dashboard.township_axis'),
          })
        : empty(t('dashboard.no_data')),
    );
  } else unavailable(starsPart, stars);

  // Mentoring coverage.
  if (mentoring.data) {
    const d = mentoring.data;
    kpis.append(
      kpi(
        percent(d.mentees ? d.coverage : null),
        t('dashboard.coverage_kpi', { covered: fmtNumber(d.covered), mentees: fmtNumber(d.mentees) }),
      ),
      kpi(fmtNumber(d.members_without_mentees ?? 0), t('dashboard.idle_members_kpi')),
    );
    const rows = d.townships.map((tw) => ({
      label: tw.name,
      value: tw.mentees ? tw.coverage : 0,
      text: tw.mentees
        ? `${percent(tw.coverage)} (${fmtNumber(tw.covered)}/${fmtNumber(tw.mentees)})`
        : t('dashboard.no_mentees'),
      cls: !tw.mentees ? 'muted' : tw.coverage >= 0.9 ? 'ok' : tw.coverage >= 0.6 ? 'warn' : 'alert',
    }));
    mentoringPart.body.replaceChildren(
      rows.length
        ? bars({
            title: t('dashboard.coverage_chart', { quarter: d.quarter }),
            desc: t('dashboard.coverage_desc'),
            rows,
            max: 1,
            format: (v) => percent(v),
            xLabel: t('dashboard.coverage_axis'),
            target: { value: 0.9, label: t('dashboard.target', { v: '90%' }) },
          })
        : empty(t('dashboard.no_data')),
    );
  } else unavailable(mentoringPart, mentoring);

  // Reviews.
  if (reviews.data) {
    const d = reviews.data;
    const hours = (x) => {
      if (x === null || x === undefined) return '—';
      return x < 1 ? t('dashboard.minutes', { n: fmtNumber(x * 60, 0) }) : t('dashboard.hours', { n: fmtNumber(x, 1) });
    };
    kpis.append(
      kpi(percent(d.approval_rate), t('dashboard.approval_rate')),
      kpi(hours(d.turnaround_hours?.median), t('dashboard.turnaround_median')),
      kpi(hours(d.turnaround_hours?.p90), t('dashboard.turnaround_p90')),
      kpi(fmtNumber(d.pending), t('dashboard.pending')),
    );
    const outcome = bars({
      title: t('dashboard.outcomes_chart', { quarter: d.quarter }),
      desc: t('dashboard.outcomes_desc'),
      rows: [
        { label: t('status.approved'), value: d.approved, cls: 'ok' },
        { label: t('status.rejected'), value: d.rejected, cls: 'alert' },
        { label: t('status.returned'), value: d.returned, cls: 'warn' },
        { label: t('dashboard.pending'), value: d.pending, cls: 'muted' },
      ],
      xLabel: t('dashboard.inspections_axis'),
    });
    const turnaround = bars({
      title: t('dashboard.turnaround_chart'),
      desc: t('dashboard.turnaround_desc'),
      rows: [
        {
          label: t('dashboard.median'),
          value: d.turnaround_hours?.median ?? 0,
          text: hours(d.turnaround_hours?.median),
        },
        { label: t('dashboard.p90'), value: d.turnaround_hours?.p90 ?? 0, text: hours(d.turnaround_hours?.p90) },
      ],
      xLabel: t('dashboard.hours_axis'),
    });
    const flags = (d.flags ?? []).length
      ? bars({
          title: t('dashboard.flags_chart'),
          desc: t('dashboard.flags_desc'),
          rows: d.flags.map((f) => ({ label: flagName(f.code), value: f.count, cls: 'warn' })),
          xLabel: t('dashboard.inspections_axis'),
          left: 190,
        })
      : h('p', { class: 'muted' }, t('dashboard.no_flags'));
    reviewsPart.body.replaceChildren(
      h('div', { class: 'chart-pair' }, h('div', {}, outcome), h('div', {}, turnaround)),
      h('div', {}, flags),
    );
  } else unavailable(reviewsPart, reviews);

  // Villages whose renewal this quarter was not verified (the county missed the visit).
  if (unverified.data) {
    const items = unverified.data.items ?? [];
    if (!items.length) unverifiedPart.body.replaceChildren(empty(t('dashboard.unverified_none')));
    else {
      const list = table(
        [
          { label: t('villages.code') },
          { label: t('villages.name') },
          { label: t('queue.township') },
          { label: t('village.level') },
          { label: t('village.status') },
        ],
        { caption: t('dashboard.unverified') },
      );
      for (const v of items) {
        list.body.append(
          list.row(
            [
              h('span', { class: 'mono' }, v.village_code),
              v.village_name,
              v.township_name ?? '—',
              starLevel(v.level, true),
              statusBadge(v.declaration_status),
            ],
            { dataset: { village: v.village_id } },
          ),
        );
      }
      unverifiedPart.body.replaceChildren(list.el);
    }
  } else unavailable(unverifiedPart, unverified);
}

function kpi(value, label) {
  return h('div', { class: 'kpi' }, h('div', { class: 'v' }, value), h('div', { class: 'k' }, label));
}
