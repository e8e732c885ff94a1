// Photos that arrive over a village's signal (issue 16), driven through the phone app in
// Chromium:
// - a 4 MB photo goes up with tus through a proxy that holds uploads to LINK_KBITS and cuts the
//   connection every 200 KB; the outbox shows "sending N %", the server has the photo
//   byte-identical and exactly once, and the inspection is submitted. The 64 kbit/s
//   would take about nine minutes for 4 MB; the test runs at 1,024 kbit/s (about 80 s with the
//   cuts: 768 kbit/s took 105 s; FIELDSTAR_LINK_KBITS=64 tries the rate);
// - a reload mid-upload resumes from the server's offset (HEAD, then PATCH from there, not 0);
// - a photo the server refuses (422) says "refused: <the server's reason>" and is not retried;
// - the worklist is revalidated with If-None-Match (the server answers 304);
// - with the county's phone_photo_max_px, a larger photo is downsized on the phone keeping its
//   EXIF (the server reads its capture time, no photo.no_exif) and `downsized_from` is sent;
// - opened over plain http from another host name, the app says why it cannot work.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASE, PASSWORD, CHROMIUM, login, call, launch, chromium, withExif } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SMALL = fs.readFileSync(path.join(here, '..', 'fixtures', 'phone-photo.jpg'));
const LINK_KBITS = Number(process.env.FIELDSTAR_LINK_KBITS || 1024);
const CUT_BYTES = 200 * 1024;

const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');
const upstream = new URL(BASE);

/**
 * A TCP proxy to the server that holds what the phone sends to `kbits` and, when `cut` is set,
 * cuts each connection once it has carried that many bytes upstream. What the server answers
 * passes untouched.
 */
function linkProxy({ kbits, cut }) {
  const rate = (kbits * 1000) / 8; // bytes per second
  const sockets = new Set();
  const server = net.createServer((client) => {
    const up = net.connect(Number(upstream.port), upstream.hostname);
    sockets.add(client);
    sockets.add(up);
    let carried = 0;
    let queue = Promise.resolve();
    const end = () => {
      client.destroy();
      up.destroy();
    };
    client.on('error', end);
    up.on('error', end);
    client.on('close', () => up.end());
    up.on('close', () => client.destroy());
    up.pipe(client);
    client.on('data', (data) => {
      client.pause();
      queue = queue.then(async () => {
        for (let i = 0; i < data.length && !up.destroyed; i += 4096) {
          let piece = data.subarray(i, Math.min(data.length, i + 4096));
          if (cut && carried + piece.length > cut) piece = piece.subarray(0, cut - carried);
          await new Promise((r) => setTimeout(r, (piece.length / rate) * 1000));
          if (up.destroyed) return;
          up.write(piece);
          carried += piece.length;
          if (cut && carried >= cut) {
            client.resetAndDestroy?.() ?? client.destroy();
            up.destroy();
            return;
          }
        }
        if (!client.destroyed) client.resume();
      });
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(r));
        },
      }),
    );
  });
}

/** A declaration for a demo village (by code), made by the county's admin. */
async function declare(code) {
  const admin = await login('admin');
  const village = (await call(admin, 'GET', `/api/v1/org-units?code=${code}`)).body.items[0];
  const declared = await call(admin, 'POST', '/api/v1/declarations', { village_id: village.id, star_level: 1 });
  assert.equal(declared.status, 201, JSON.stringify(declared.body));
  return { village, declaration: declared.body };
}

/**
 * A JPEG made in Chromium, `width` × `height` at `quality`: noise (which keeps it large), or a
 * smooth gradient (small) when `smooth`.
 */
async function noiseJpeg(page, width, height, quality, smooth = false) {
  const b64 = await page.evaluate(
    async ({ width, height, quality, smooth }) => {
      const canvas = new OffscreenCanvas(width, height);
      const ctx = canvas.getContext('2d');
      const img = ctx.createImageData(width, height);
      if (smooth) {
        const g = ctx.createLinearGradient(0, 0, width, height);
        g.addColorStop(0, '#9b1c1c');
        g.addColorStop(1, '#f6f8fa');
        ctx.fillStyle = g;
        ctx.fillRect(0, 0, width, height);
      } else {
        const seed = new Uint32Array(1);
        for (let i = 0; i < img.data.length; i += 4) {
          if ((i / 4) % width === 0) crypto.getRandomValues(seed);
          seed[0] = (seed[0] * 1664525 + 1013904223) >>> 0;
          img.data[i] = seed[0] & 255;
          img.data[i + 1] = (seed[0] >> 8) & 255;
          img.data[i + 2] = (seed[0] >> 16) & 255;
          img.data[i + 3] = 255;
        }
        ctx.putImageData(img, 0, 0);
      }
      const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/jpeg', quality })).arrayBuffer());
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    },
    { width, height, quality, smooth },
  );
  return Buffer.from(b64, 'base64');
}

/** EXIF of a photo taken a minute ago at the village, in the phone's zone (Asia/Shanghai). */
function exifNow(village) {
  const local = new Date(Date.now() - 60_000 + 8 * 3600_000).toISOString();
  const taken = `${local.slice(0, 10).replaceAll('-', ':')} ${local.slice(11, 19)}`;
  return { taken, offset: '+08:00', lat: village.lat, lon: village.lon };
}

let context;
let page;
let proxy;
const pageErrors = [];
const requests = []; // {method, url, headers, at}

async function openApp(base, village) {
  const profile = fs.mkdtempSync(path.join(process.env.FIELDSTAR_CHROMIUM_PROFILE, 'upload-'));
  const at = { latitude: village.lat, longitude: village.lon, accuracy: 12 };
  context = await launch(profile, at);
  await context.grantPermissions(['geolocation'], { origin: base });
  context.on('request', (r) => {
    const entry = { method: r.method(), url: r.url(), headers: r.headers(), at: requests.length, status: null };
    requests.push(entry);
    r.response().then(
      (res) => {
        entry.status = res?.status() ?? 'none';
      },
      () => {
        entry.status = 'failed';
      },
    );
  });
  page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(`${base}/m/`);
  await page.fill('#login input[name=username]', 'inspector1');
  await page.fill('#login input[name=password]', PASSWORD);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#worklist');
}

const item = (id) => page.locator(`#checklist .item[data-item="${id}"]`);
const file = (name, buffer) => ({ name, mimeType: 'image/jpeg', buffer });

/** Opens the declaration's form, answers a passing star-1 checklist with these photos, sends. */
async function inspect(declarationId, boardPhoto) {
  const entry = page.locator(`#worklist article[data-declaration="${declarationId}"]`);
  await entry.waitFor();
  await entry.locator('button.inspect').click();
  await page.waitForSelector('#checklist');
  await item('board_posted').locator('input[value=true]').check();
  await item('policy_count').locator('input').fill('3');
  await item('policies_honoured').locator('input[value=true]').check();
  await item('association').locator('input[value=complete]').check();
  await item('roster_kept').locator('input[value=true]').check();
  await item('ledgers_kept').locator('input[value=true]').check();
  await item('outreach_displayed').locator('input[value=true]').check();
  await item('outreach_kinds').locator('input[value=slogans]').check();
  await page.setInputFiles('input[data-photo-input="board_posted"]', [boardPhoto]);
  await page.setInputFiles('input[data-photo-input="ledgers_kept"]', [file('ledgers.jpg', SMALL)]);
  await page.setInputFiles('input[data-photo-input="outreach_photos"]', [file('a.jpg', SMALL), file('b.jpg', SMALL)]);
  await page.waitForFunction(
    () => document.querySelectorAll('#checklist .photo img[src^="blob:"]').length === 4,
    null,
    { timeout: 30_000 },
  );
  await page.waitForSelector('#position-fix');
  await page.click('#submit');
  await page.click('#confirm-submit');
  const card = page.locator(`#outbox article.outbox`).first();
  await card.waitFor();
  return card.getAttribute('data-inspection');
}

/** The record of an inspection in the phone's IndexedDB. */
function stored(id) {
  return page.evaluate(async (id) => {
    const db = await new Promise((res, rej) => {
      const r = indexedDB.open('fieldstar');
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    return new Promise((res) => {
      const r = db.transaction('inspections').objectStore('inspections').get(id);
      r.onsuccess = () => res(r.result);
    });
  }, id);
}

/** Waits until `fn` (run in the page, it may be async) is true; page.waitForFunction would take
 * the promise of an async function for a true value. */
async function until(fn, arg, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await page.evaluate(fn, arg))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${fn}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function closeApp() {
  await context?.close();
  context = null;
}

after(async () => {
  await closeApp();
  await proxy?.close();
});

test('a 4 MB photo goes up through a link that is slow and cut every 200 KB, once and whole', {
  timeout: 240_000,
}, async () => {
  const { village, declaration } = await declare('DEMO-T12-V001');
  proxy = await linkProxy({ kbits: LINK_KBITS, cut: CUT_BYTES });
  await openApp(proxy.url, village);
  let big = await noiseJpeg(page, 1880, 1880, 0.97);
  big = withExif(big, exifNow(village));
  assert.ok(big.length > 3.5e6 && big.length < 6e6, `a photo of about 4 MB (${big.length})`);
  const started = Date.now();
  const id = await inspect(declaration.id, file('board.jpg', big));
  // "sending N %" is shown while the photo goes up, with the bytes the server has.
  await page.waitForFunction(
    (id) => {
      const chip = document.querySelector(`#outbox article[data-inspection="${id}"][data-shown="sending_pct"] .state`);
      const pct = /正在发送 (\d+)%/.exec(chip?.textContent || '');
      return pct && Number(pct[1]) > 0 && Number(pct[1]) < 100;
    },
    id,
    { timeout: 120_000, polling: 100 },
  );
  await page.waitForSelector(`#outbox article[data-inspection="${id}"][data-state="sent"]`, { timeout: 200_000 });
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `# 4 MB (${big.length} bytes) at ${LINK_KBITS} kbit/s, cut every 200 KB: sent in ${seconds.toFixed(1)} s`,
  );

  // Sent with tus, in many PATCHes, some of them resumed after a cut (HEAD between).
  const mine = requests.filter((r) => r.url.startsWith(`${proxy.url}/api/v1/uploads`));
  assert.equal(mine.filter((r) => r.method === 'POST').length >= 1, true);
  assert.ok(
    mine.filter((r) => r.method === 'PATCH').length >= 16,
    `${mine.filter((r) => r.method === 'PATCH').length} PATCHes`,
  );
  assert.ok(mine.filter((r) => r.method === 'HEAD').length >= 2);

  // The server has it byte-identical, exactly once, and the inspection is submitted.
  const reviewer = await login('reviewer1');
  const view = (await call(reviewer, 'GET', `/api/v1/inspections/${id}`)).body;
  assert.equal(view.status, 'submitted');
  const record = await stored(id);
  const board = record.photos.find((p) => p.item === 'board_posted');
  assert.equal(board.sha256, sha256(big));
  assert.ok(view.photos.every((p) => p.received));
  const original = await fetch(`${BASE}/api/v1/photos/${board.id}?size=original`, {
    headers: { Authorization: `Bearer ${reviewer}` },
  });
  assert.equal(original.status, 200);
  assert.equal(sha256(Buffer.from(await original.arrayBuffer())), sha256(big));
  const admin = await login('admin');
  const audit = (await call(admin, 'GET', `/api/v1/audit?entity_type=inspection&entity_id=${id}&limit=200`)).body.items;
  assert.equal(audit.filter((a) => a.action === 'photo.received' && a.summary.includes(board.id)).length, 1);
  const queue = (await call(reviewer, 'GET', '/api/v1/review-queue?limit=200')).body.items;
  assert.equal(queue.filter((i) => i.id === id).length, 1);
  assert.deepEqual(pageErrors, []);
  await closeApp();
  await proxy.close();
  proxy = null;
});

test("a reload mid-upload resumes from the server's offset, not from zero", { timeout: 180_000 }, async () => {
  const { village, declaration } = await declare('DEMO-T12-V002');
  proxy = await linkProxy({ kbits: 2000 });
  await openApp(proxy.url, village);
  const big = withExif(await noiseJpeg(page, 1200, 1200, 0.97), exifNow(village));
  const id = await inspect(declaration.id, file('board.jpg', big));
  // Wait until the server holds a good part of it, then reload the app.
  await page.waitForFunction(
    (id) => {
      const li = document.querySelector(`#outbox article[data-inspection="${id}"] li[data-sent]`);
      const sent = Math.max(
        ...[...document.querySelectorAll(`#outbox article[data-inspection="${id}"] li[data-sent]`)].map((e) =>
          Number(e.dataset.sent),
        ),
      );
      return li && sent >= 600 * 1024;
    },
    id,
    { timeout: 120_000, polling: 200 },
  );
  const mark = requests.length;
  await page.reload();
  await page.waitForSelector(`#outbox article[data-inspection="${id}"][data-state="sent"]`, { timeout: 150_000 });
  const after = requests.slice(mark).filter((r) => r.url.includes('/api/v1/uploads'));
  const log = requests
    .slice(Math.max(0, mark - 6))
    .filter((r) => r.url.includes('/api/v1/'))
    .map(
      (r) =>
        `${r.at < mark ? 'before' : 'after'} ${r.method} ${r.url} ${r.headers['upload-offset'] || ''} → ${r.status}`,
    )
    .join('\n');
  assert.equal(after.filter((r) => r.method === 'POST').length, 0, `no new upload after the reload:\n${log}`);
  const heads = after.filter((r) => r.method === 'HEAD');
  const patches = after.filter((r) => r.method === 'PATCH');
  assert.ok(heads.length >= 1, 'HEAD asks the server where it is');
  assert.ok(heads[0].at < patches[0].at);
  const first = Number(patches[0].headers['upload-offset']);
  assert.ok(first >= 600 * 1024, `the first PATCH after the reload starts at ${first}, not 0`);
  const reviewer = await login('reviewer1');
  const view = (await call(reviewer, 'GET', `/api/v1/inspections/${id}`)).body;
  assert.equal(view.status, 'submitted');
  assert.deepEqual(pageErrors, []);
  await closeApp();
  await proxy.close();
  proxy = null;
});

test('a photo the server refuses says why and is not sent again', { timeout: 120_000 }, async () => {
  const { village, declaration } = await declare('DEMO-T12-V003');
  await openApp(BASE, village);
  // JPEG's first bytes, then nothing an image decoder can read: the server answers 422.
  const broken = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), crypto.randomBytes(20_000)]);
  const id = await inspect(declaration.id, file('board.jpg', broken));
  const card = page.locator(`#outbox article[data-inspection="${id}"]`);
  await page.waitForSelector(`#outbox article[data-inspection="${id}"][data-shown="refused"]`, { timeout: 60_000 });
  const text = await card.innerText();
  assert.match(text, /被拒绝：/);
  const puts = () =>
    requests.filter((r) => r.method === 'PUT' && r.url.includes(`/api/v1/inspections/${id}/photos/`)).length;
  assert.equal(puts(), 1);
  // In English too, with the server's reason.
  await page.click('#lang');
  await page.waitForFunction(
    (id) =>
      /^refused: .+/.test(
        document.querySelector(`#outbox article[data-inspection="${id}"] .refused`)?.textContent || '',
      ),
    id,
  );
  // A reload (which sends what is due at once) does not send it again.
  await page.reload();
  await page.waitForSelector(`#outbox article[data-inspection="${id}"][data-shown="refused"]`);
  await page.evaluate(() => new Promise((r) => setTimeout(r, 0)));
  assert.equal(puts(), 1);
  assert.equal((await stored(id)).final, true);
  await page.click('#lang');
  await closeApp();
});

test('the worklist is revalidated with its ETag: the server answers 304', { timeout: 60_000 }, async () => {
  const { village } = await declare('DEMO-T12-V004');
  const logged = () =>
    fs
      .readFileSync(process.env.FIELDSTAR_SERVER_LOG, 'utf8')
      .split('\n')
      .filter((l) => /route=\/api\/v1\/inspections\/worklist/.test(l) && /status=304/.test(l)).length;
  const before304 = logged();
  await openApp(BASE, village);
  // Once the service worker controls the page, it keeps the worklist with its ETag.
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  await page.reload();
  await page.waitForSelector('#worklist article');
  await until(
    async () => !!(await (await caches.open('fieldstar-api')).match('/api/v1/inspections/worklist?limit=200')),
  );
  const cached = await page.evaluate(async () =>
    (await (await caches.open('fieldstar-api')).match('/api/v1/inspections/worklist?limit=200')).headers.get('etag'),
  );
  assert.match(cached, /^"[0-9a-f]{32}"$/);
  await page.reload();
  await page.waitForSelector('#worklist article');
  const deadline = Date.now() + 20_000;
  while (logged() === before304 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.ok(logged() > before304, 'the server answered the worklist with 304');
  assert.equal(await page.locator('#worklist .badge').count(), 0, 'a 304 is not an offline copy');
  await closeApp();
});

test('with phone_photo_max_px the phone downsizes a photo and keeps its EXIF', { timeout: 120_000 }, async () => {
  const admin = await login('admin');
  const set = await call(admin, 'PATCH', '/api/v1/policy', { phone_photo_max_px: 640 });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  try {
    const { village, declaration } = await declare('DEMO-T12-V005');
    await openApp(BASE, village);
    await until(async () => {
      const db = await new Promise((res) => {
        const r = indexedDB.open('fieldstar');
        r.onsuccess = () => res(r.result);
      });
      return new Promise((res) => {
        const r = db.transaction('meta').objectStore('meta').get('policy');
        r.onsuccess = () => res(r.result?.phone_photo_max_px === 640);
      });
    });
    const original = withExif(await noiseJpeg(page, 1600, 1200, 0.9, true), exifNow(village));
    const id = await inspect(declaration.id, file('board.jpg', original));
    await page.waitForSelector(`#outbox article[data-inspection="${id}"][data-state="sent"]`, { timeout: 60_000 });
    const record = await stored(id);
    const board = record.photos.find((p) => p.item === 'board_posted');
    assert.equal(board.downsized_from, '1600x1200');
    assert.ok(board.size < original.length);
    // Small enough for the PUT (its header), or sent with tus (its metadata).
    const put = requests.find((r) => r.method === 'PUT' && r.url.endsWith(`/photos/${board.id}`));
    const created = requests.find(
      (r) =>
        r.method === 'POST' &&
        r.url.endsWith('/api/v1/uploads') &&
        (r.headers['upload-metadata'] || '').includes(Buffer.from(board.id).toString('base64')),
    );
    if (put) assert.equal(put.headers['fieldstar-downsized-from'], '1600x1200');
    else
      assert.ok(
        created.headers['upload-metadata'].includes(`downsized_from ${Buffer.from('1600x1200').toString('base64')}`),
      );
    const reviewer = await login('reviewer1');
    const view = (await call(reviewer, 'GET', `/api/v1/inspections/${id}`)).body;
    const photo = view.photos.find((p) => p.id === board.id);
    assert.equal(Math.max(photo.width, photo.height), 640);
    assert.ok(photo.taken_at, 'the server read the capture time from the kept EXIF');
    assert.ok(
      !view.flags.some((f) => f.code === 'photo.no_exif' && f.photo_id === board.id),
      JSON.stringify(view.flags),
    );
    if ('downsized_from' in photo) assert.equal(photo.downsized_from, '1600x1200');
    await closeApp();
  } finally {
    await call(admin, 'PATCH', '/api/v1/policy', { phone_photo_max_px: 0 });
  }
});

test('opened over plain http from another host, the app says why it cannot work', { timeout: 60_000 }, async () => {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      `--host-resolver-rules=MAP fieldstar-insecure.test 127.0.0.1`,
    ],
  });
  try {
    const ctx = await browser.newContext({ locale: 'zh-CN' });
    const p = await ctx.newPage();
    const errors = [];
    p.on('pageerror', (e) => errors.push(String(e)));
    await p.goto(`http://fieldstar-insecure.test:${upstream.port}/m/`);
    await p.waitForSelector('#insecure');
    assert.equal(await p.evaluate(() => window.isSecureContext), false);
    const text = await p.innerText('#insecure');
    assert.match(text, /HTTPS/);
    assert.match(text, /管理员/);
    assert.match(text, /docs\/operations\.md/);
    assert.equal(
      await p.getAttribute('#insecure-https', 'href'),
      `https://fieldstar-insecure.test:${upstream.port}/m/`,
    );
    assert.equal(await p.locator('#login').count(), 0);
    await p.click('#lang');
    assert.match(await p.innerText('#insecure'), /Ask the administrator to set up HTTPS/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
