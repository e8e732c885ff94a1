// Horizontal bar charts drawn as SVG by hand (no chart library): a title, labelled axes, a
// legend, a tooltip (<title>) on every bar, and an accessible name for the whole figure.

import { s, nextId } from './dom.js';
import { fmtNumber } from './i18n.js';

const W = 640;
const ROW = 24;
const BAR = 16;

/** Ticks from 0 to a round maximum at least `max`, about five of them. */
export function ticks(max, target = 5) {
  if (!(max > 0)) return [0, 1];
  const raw = max / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((st) => st >= raw) ?? 10 * mag;
  const out = [];
  for (let v = 0; v <= max + step * 0.999; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function frame({ title, desc, height }) {
  const titleId = nextId('chart-title');
  const descId = nextId('chart-desc');
  return s(
    'svg',
    {
      viewBox: `0 0 ${W} ${height}`,
      role: 'img',
      'aria-labelledby': `${titleId} ${descId}`,
      xmlns: 'http://www.w3.org/2000/svg',
    },
    s('title', { id: titleId }, title),
    s('desc', { id: descId }, desc ?? ''),
    s('text', { x: 0, y: 18, class: 'title', 'aria-hidden': 'true' }, title),
  );
}

function legend(svg, series, y) {
  let x = 0;
  for (const se of series) {
    svg.append(
      s('rect', { x, y: y - 10, width: 12, height: 12, class: se.cls, rx: 2 }),
      s('text', { x: x + 16, y }, se.label),
    );
    x += 28 + se.label.length * 13;
  }
}

function xAxis(svg, { left, right, top, bottom, max, format, label }) {
  const scale = (v) => left + ((right - left) * v) / max;
  const tk = ticks(max);
  for (const v of tk) {
    if (v > max) break;
    const x = scale(v);
    svg.append(
      s('line', { x1: x, x2: x, y1: top, y2: bottom, class: 'grid' }),
      s('text', { x, y: bottom + 14, 'text-anchor': 'middle', class: 'muted' }, format(v)),
    );
  }
  svg.append(
    s('line', { x1: left, x2: right, y1: bottom, y2: bottom, class: 'axis' }),
    s('line', { x1: left, x2: left, y1: top, y2: bottom, class: 'axis' }),
    s('text', { x: (left + right) / 2, y: bottom + 32, 'text-anchor': 'middle', class: 'muted' }, label),
  );
  return scale;
}

/**
 * Stacked horizontal bars: one row per category, one segment per series.
 * rows: [{label, values: [..per series], total?}], series: [{label, cls}]
 */
export function stackedBars({ title, desc, rows, series, xLabel, yLabel, left = 96 }) {
  const top = 72;
  const bottom = top + rows.length * ROW + 4;
  const height = bottom + 40;
  const svg = frame({ title, desc, height });
  legend(svg, series, 40);
  const max = Math.max(1, ...rows.map((r) => r.values.reduce((a, b) => a + b, 0)));
  const tk = ticks(max);
  const right = W - 40;
  const scale = xAxis(svg, {
    left,
    right,
    top,
    bottom,
    max: tk[tk.length - 1],
    format: (v) => fmtNumber(v),
    label: xLabel,
  });
  svg.append(s('text', { x: left - 6, y: top - 8, 'text-anchor': 'end', class: 'muted' }, yLabel));
  rows.forEach((r, i) => {
    const y = top + i * ROW + (ROW - BAR) / 2;
    svg.append(s('text', { x: left - 6, y: y + BAR - 3, 'text-anchor': 'end' }, r.label));
    let acc = 0;
    r.values.forEach((v, j) => {
      if (!v) return;
      const x = scale(acc);
      const w = scale(acc + v) - x;
      svg.append(
        s(
          'rect',
          { x, y, width: Math.max(0.5, w), height: BAR, class: series[j].cls },
          s('title', {}, `${r.label} · ${series[j].label}: ${fmtNumber(v)}`),
        ),
      );
      acc += v;
    });
    svg.append(s('text', { x: scale(acc) + 4, y: y + BAR - 3, class: 'muted' }, fmtNumber(r.total ?? acc)));
  });
  return svg;
}

/**
 * Simple horizontal bars. rows: [{label, value, text?, cls?}]; `max` fixes the scale (1 for
 * shares); `target` draws a dashed reference line with its label.
 */
export function bars({ title, desc, rows, xLabel, max, format = (v) => fmtNumber(v), target, left = 96 }) {
  const top = 40;
  const bottom = top + rows.length * ROW + 4;
  const height = bottom + 40;
  const svg = frame({ title, desc, height });
  const right = W - 56;
  const top0 = Math.max(max ?? 0, ...rows.map((r) => r.value || 0));
  const tk = ticks(top0 || 1);
  const scaleMax = max ?? tk[tk.length - 1];
  const scale = xAxis(svg, { left, right, top, bottom, max: scaleMax, format, label: xLabel });
  rows.forEach((r, i) => {
    const y = top + i * ROW + (ROW - BAR) / 2;
    svg.append(s('text', { x: left - 6, y: y + BAR - 3, 'text-anchor': 'end' }, r.label));
    const w = scale(Math.min(r.value || 0, scaleMax)) - left;
    svg.append(
      s(
        'rect',
        { x: left, y, width: Math.max(0.5, w), height: BAR, class: ['bar', r.cls ?? ''] },
        s('title', {}, `${r.label}: ${r.text ?? format(r.value)}`),
      ),
      s('text', { x: left + w + 4, y: y + BAR - 3, class: 'muted' }, r.text ?? format(r.value)),
    );
  });
  if (target) {
    const x = scale(target.value);
    svg.append(
      s('line', { x1: x, x2: x, y1: top - 4, y2: bottom, class: 'target' }),
      s('text', { x, y: top - 8, 'text-anchor': 'middle', class: 'muted' }, target.label),
    );
  }
  return svg;
}
