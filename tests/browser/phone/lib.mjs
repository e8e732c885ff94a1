// Shared helpers of the phone app's browser tests, on top of tests/browser/lib/common.mjs
// (server, API, Chromium, screenshots): requests as a user, a declaration to inspect, the
// phone's Chromium (a persistent profile, service workers on), and EXIF written into a JPEG.

import { api, CHROMIUM, CHROMIUM_ARGS, LOCALE, TIMEZONE, chromium, login } from '../lib/common.mjs';

export { AXE_PATH, BASE, CHROMIUM, PASSWORD, SHOTS, axeSource, chromium, login, shot } from '../lib/common.mjs';

/** A request as `token`; resolves to {status, body, headers} (`body` parsed when JSON). */
export async function call(token, method, url, json) {
  const res = await api(method, url, token, json ?? undefined);
  return { status: res.status, body: res.text === '' ? '' : res.json, headers: res.headers };
}

/** The demo county's first village gets a pending level-1 declaration (as secretary1). */
export async function seedDeclaration() {
  const secretary = await login('secretary1');
  const me = await call(secretary, 'GET', '/api/v1/me');
  const village = me.body.org_unit;
  const created = await call(secretary, 'POST', '/api/v1/declarations', { village_id: village.id, star_level: 1 });
  if (created.status !== 201) throw new Error(`declare: ${created.status} ${JSON.stringify(created.body)}`);
  return { village, declaration: created.body };
}

export function launch(profile, geolocation, viewport = { width: 412, height: 860 }) {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    locale: LOCALE,
    // Inspectors are in China: the phone's clock reads the county's day (Asia/Shanghai).
    timezoneId: TIMEZONE,
    viewport,
    serviceWorkers: 'allow',
    geolocation,
  });
}

/**
 * A copy of a JPEG with an EXIF block (APP1) right after its SOI: DateTimeOriginal `taken`
 * ("YYYY:MM:DD HH:MM:SS", with OffsetTimeOriginal `offset` when given) and a GPS position
 * (`lat`, `lon` in degrees, as degree/minute/second rationals) and an Orientation
 * (`orientation`, 1–8) when given, in either byte order.
 */
export function withExif(jpeg, { taken, offset, lat, lon, orientation, little = false }) {
  const entries = { ifd0: [], exif: [], gps: [] };
  if (orientation) entries.ifd0.push([0x0112, 3, orientation]);
  const ascii = (s) => Buffer.from(`${s}\0`, 'latin1');
  if (taken) entries.exif.push([0x9003, 2, ascii(taken)]);
  if (offset) entries.exif.push([0x9011, 2, ascii(offset)]);
  const dms = (deg) => {
    const a = Math.abs(deg);
    const d = Math.floor(a);
    const m = Math.floor((a - d) * 60);
    const s = Math.round(((a - d) * 60 - m) * 60 * 1000);
    return [
      [d, 1],
      [m, 1],
      [s, 1000],
    ];
  };
  if (lat !== undefined) {
    entries.gps.push(
      [1, 2, ascii(lat < 0 ? 'S' : 'N')],
      [2, 5, dms(lat)],
      [3, 2, ascii(lon < 0 ? 'W' : 'E')],
      [4, 5, dms(lon)],
    );
  }
  const u16 = (n) => {
    const b = Buffer.alloc(2);
    b[little ? 'writeUInt16LE' : 'writeUInt16BE'](n);
    return b;
  };
  const u32 = (n) => {
    const b = Buffer.alloc(4);
    b[little ? 'writeUInt32LE' : 'writeUInt32BE'](n);
    return b;
  };
  const ifdSize = (list) => 2 + list.length * 12 + 4;
  // Layout: header (8), IFD0, Exif IFD, GPS IFD, then the values that do not fit in 4 bytes.
  const lists = [entries.ifd0, entries.exif, entries.gps];
  const pointers = entries.ifd0.length;
  entries.ifd0.push([0x8769, 4, null], [0x8825, 4, null]);
  const starts = [];
  let at = 8;
  for (const list of lists) {
    starts.push(at);
    at += ifdSize(list);
  }
  entries.ifd0[pointers][2] = starts[1];
  entries.ifd0[pointers + 1][2] = starts[2];
  const data = [];
  const blocks = lists.map((list) => {
    const parts = [u16(list.length)];
    for (const [tag, type, value] of list) {
      let bytes;
      let count;
      if (type === 3) {
        bytes = u16(value);
        count = 1;
      } else if (type === 4) {
        bytes = u32(value);
        count = 1;
      } else if (type === 5) {
        bytes = Buffer.concat(value.flatMap(([n, d]) => [u32(n), u32(d)]));
        count = value.length;
      } else {
        bytes = value;
        count = value.length;
      }
      parts.push(u16(tag), u16(type), u32(count));
      if (bytes.length <= 4) parts.push(Buffer.concat([bytes, Buffer.alloc(4 - bytes.length)]));
      else {
        parts.push(u32(at));
        data.push(bytes);
        at += bytes.length;
      }
    }
    parts.push(u32(0));
    return Buffer.concat(parts);
  });
  const tiff = Buffer.concat([Buffer.from(little ? 'II' : 'MM', 'latin1'), u16(42), u32(8), ...blocks, ...data]);
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const app1 = Buffer.concat([
    Buffer.from([0xff, 0xe1]),
    Buffer.from([(payload.length + 2) >> 8, (payload.length + 2) & 0xff]),
    payload,
  ]);
  return Buffer.concat([jpeg.subarray(0, 2), app1, jpeg.subarray(2)]);
}

/**
 * What the app did, for a failure's message: its API requests (sent, answered with the status,
 * failed with the reason) and its console, each with the milliseconds since `watch` began.
 * The last 80 lines are kept.
 */
export function watch(context, page) {
  const t0 = Date.now();
  const lines = [];
  const note = (s) => {
    lines.push(`${String(Date.now() - t0).padStart(7)} ms ${s}`);
    if (lines.length > 80) lines.shift();
  };
  const api = (r) => new URL(r.url()).pathname.startsWith('/api/');
  const name = (r) => `${r.method()} ${new URL(r.url()).pathname}${r.serviceWorker() ? ' (service worker)' : ''}`;
  context.on('request', (r) => api(r) && note(`sent ${name(r)}`));
  context.on('requestfinished', async (r) => api(r) && note(`answered ${name(r)}: ${(await r.response())?.status()}`));
  context.on('requestfailed', (r) => api(r) && note(`failed ${name(r)}: ${r.failure()?.errorText}`));
  page.on('console', (m) => note(`console.${m.type()} ${m.text()}`));
  return { note, text: () => lines.join('\n') };
}

/** The outbox as the phone holds it (IndexedDB), for a failure's message. */
export function outboxOf(page) {
  return page.evaluate(
    () =>
      new Promise((resolve) => {
        const open = indexedDB.open('fieldstar');
        open.onerror = () => resolve(String(open.error));
        open.onsuccess = () => {
          const all = open.result.transaction('inspections').objectStore('inspections').getAll();
          all.onerror = () => resolve(String(all.error));
          all.onsuccess = () =>
            resolve(
              all.result.map((r) => ({
                id: r.id,
                state: r.state,
                attempts: r.attempts,
                next_try_in_ms: r.next_try ? r.next_try - Date.now() : null,
                waiting_signal: r.waiting_signal,
                body_sent: r.body_sent,
                error: r.error,
                photos: (r.photos || []).map((p) => p.state),
              })),
            );
        };
      }),
  );
}

/**
 * Waits for the outbox entry `id` to be sent; when it is not within `timeout` ms the error says
 * where it stands on the phone and what the app did meanwhile (a `watch`).
 */
export async function waitSent(page, id, watched, timeout = 30_000) {
  try {
    await page.waitForSelector(`#outbox article[data-inspection="${id}"][data-state="sent"]`, { timeout });
  } catch (e) {
    const outbox = await outboxOf(page).catch((err) => String(err));
    throw new Error(
      `${e.message}\n--- the phone's outbox ---\n${JSON.stringify(outbox, null, 1)}\n--- what the app did ---\n${watched.text()}`,
    );
  }
}
