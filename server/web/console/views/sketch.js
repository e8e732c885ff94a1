// The position sketch (no map tiles, no network): the village's geofence circle, the phone's
// position with its accuracy, and each photo's EXIF position, on a local flat projection,
// with a table of the distances beside it (which is also what a screen reader reads).

import { h, s } from '../dom.js';
import { t, fmtNumber } from '../i18n.js';

const EARTH_RADIUS_M = 6_371_008.8;

/** Great-circle distance in metres between two {lat, lon}. */
export function distance(a, b) {
  const rad = (d) => (d * Math.PI) / 180;
  const dPhi = rad(b.lat - a.lat);
  const dLambda = rad(b.lon - a.lon);
  const x = Math.sin(dPhi / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLambda / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(x)));
}

/** 850 m, 12.3 km. */
export function metres(m) {
  return m < 1000 ? `${fmtNumber(m, 0)} m` : `${fmtNumber(m / 1000, 1)} km`;
}

const has = (p) => p && typeof p.lat === 'number' && typeof p.lon === 'number';

/**
 * The sketch card's content: `village` {lat, lon, radius_m}, `location` {lat, lon, accuracy_m}
 * or null, `photos` [{lat?, lon?, n, label}]. Returns null when the village has no position.
 */
export function sketch(village, location, photos) {
  if (!has(village)) return null;
  const centre = { lat: village.lat, lon: village.lon };
  const radius = Math.max(0, village.radius_m ?? 0);
  const k = Math.cos((centre.lat * Math.PI) / 180);
  const xy = (p) => [(p.lon - centre.lon) * 111_320 * k, -(p.lat - centre.lat) * 110_540];
  const located = photos.filter(has);
  let extent = Math.max(radius, 50);
  if (has(location)) {
    const [x, y] = xy(location);
    extent = Math.max(extent, Math.hypot(x, y) + Math.min(location.accuracy_m ?? 0, 5000));
  }
  for (const p of located) {
    const [x, y] = xy(p);
    extent = Math.max(extent, Math.hypot(x, y));
  }
  extent *= 1.15;
  const scale = 140 / extent;
  const at = (p) => {
    const [x, y] = xy(p);
    return [160 + x * scale, 160 + y * scale];
  };
  const titleId = `sketch-title-${Math.random().toString(36).slice(2)}`;
  const svg = s(
    'svg',
    { class: 'sketch', viewBox: '0 0 320 320', role: 'img', 'aria-labelledby': titleId },
    s('title', { id: titleId }, t('sketch.title_alt', { r: metres(radius) })),
    s('rect', { x: 0, y: 0, width: 320, height: 320, class: 'sketch-bg' }),
    s('circle', { class: 'geofence', cx: 160, cy: 160, r: (radius * scale).toFixed(1) }),
    s('path', { class: 'centre', d: 'M154 160h12M160 154v12' }),
  );
  if (has(location)) {
    const [x, y] = at(location);
    svg.append(
      s('circle', {
        class: 'accuracy',
        cx: x.toFixed(1),
        cy: y.toFixed(1),
        r: Math.min((location.accuracy_m ?? 0) * scale, 400).toFixed(1),
      }),
      s('circle', { class: 'phone', cx: x.toFixed(1), cy: y.toFixed(1), r: 6 }),
    );
  }
  for (const p of located) {
    const [x, y] = at(p);
    svg.append(
      s(
        'g',
        { class: 'photo-point', dataset: { n: String(p.n) } },
        s('rect', { x: (x - 4).toFixed(1), y: (y - 4).toFixed(1), width: 8, height: 8 }),
        s('text', { x: (x + 6).toFixed(1), y: (y - 5).toFixed(1) }, String(p.n)),
      ),
    );
  }
  svg.append(s('text', { class: 'scale', x: 8, y: 312 }, t('sketch.scale', { d: metres(extent * 2) })));

  const rows = [];
  if (has(location)) {
    const d = distance(centre, location);
    rows.push(
      h(
        'tr',
        { dataset: { point: 'phone' } },
        h('th', { scope: 'row' }, h('span', { class: 'key key-phone', 'aria-hidden': 'true' }), t('sketch.phone')),
        h('td', {}, metres(d), d > radius ? h('span', { class: 'chip sev-alert' }, t('sketch.outside')) : null),
        h('td', {}, t('sketch.accuracy', { m: fmtNumber(location.accuracy_m ?? 0, 0) })),
      ),
    );
  }
  for (const p of photos) {
    const d = has(p) ? distance(centre, p) : null;
    rows.push(
      h(
        'tr',
        { dataset: { point: `photo-${p.n}` } },
        h(
          'th',
          { scope: 'row' },
          h('span', { class: 'key key-photo', 'aria-hidden': 'true' }),
          t('sketch.photo', { n: p.n, item: p.label }),
        ),
        h(
          'td',
          {},
          d === null
            ? h('span', { class: 'muted' }, t('photo.no_position'))
            : [metres(d), d > radius ? h('span', { class: 'chip sev-warning' }, t('sketch.outside')) : null],
        ),
        h('td', {}, has(p) && has(location) ? t('sketch.from_phone', { d: metres(distance(location, p)) }) : '—'),
      ),
    );
  }
  const table = h(
    'table',
    { class: 'sketch-table small' },
    h('caption', { class: 'muted' }, t('sketch.caption', { r: metres(radius) })),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, t('sketch.point')),
        h('th', { scope: 'col' }, t('sketch.from_centre')),
        h('th', { scope: 'col' }, t('sketch.other')),
      ),
    ),
    h('tbody', {}, rows),
  );
  return h('div', { class: 'sketch-wrap' }, svg, table);
}
