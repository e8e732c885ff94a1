// An inspector fills a checklist on the phone app, goes offline, submits, restarts the app
// offline, comes back online, and the server has the inspection exactly once. Then she reads the
// reviewer's rejection and its comment, cancels a returned inspection she will not finish,
// reads why a visit outside the quarter's verification window is refused, and sees a
// declaration awaiting its township's check only once the township forwards it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASE, PASSWORD, login, call, seedDeclaration, launch, watch, waitSent } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PHOTO = fs.readFileSync(path.join(here, '..', 'fixtures', 'phone-photo.jpg'));
const photo = (name) => ({ name, mimeType: 'image/jpeg', buffer: PHOTO });

let context;
let page;
let seed;
let watched;
const pageErrors = [];
const foreign = [];
const cspViolations = [];

before(async () => {
  seed = await seedDeclaration();
  const profile = fs.mkdtempSync(path.join(process.env.FIELDSTAR_CHROMIUM_PROFILE, 'offline-'));
  const at = { latitude: seed.village.lat, longitude: seed.village.lon, accuracy: 15 };
  context = await launch(profile, at);
  await context.setGeolocation(at);
  await context.grantPermissions(['geolocation'], { origin: BASE });
  context.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(`${BASE}/`) && !url.startsWith('blob:') && !url.startsWith('data:')) foreign.push(url);
  });
  page = context.pages()[0] || (await context.newPage());
  watched = watch(context, page);
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
});

after(async () => {
  await context?.close();
});

const item = (id) => page.locator(`#checklist .item[data-item="${id}"]`);

/** Submits the form: 提交 opens the summary, and sending takes the confirming tap. */
async function submit() {
  if (await page.isVisible('#submit')) await page.click('#submit');
  await page.click('#confirm-submit');
}

/** Fills the rest of a passing star-1 checklist, with photos from the camera input. */
async function fillStar1() {
  await item('board_posted').locator('input[value=true]').check();
  await item('policy_count').locator('input').fill('3');
  await item('policies_honoured').locator('input[value=true]').check();
  await item('association').locator('input[value=complete]').check();
  await item('roster_kept').locator('input[value=true]').check();
  await item('ledgers_kept').locator('input[value=true]').check();
  await item('outreach_displayed').locator('input[value=true]').check();
  await item('outreach_kinds').locator('input[value=slogans]').check();
  await item('outreach_kinds').locator('input[value=boards]').check();
  await item('inspector_notes').locator('textarea').fill('村委会配合良好。');
  // Each photo is hashed on the phone and kept in IndexedDB.
  await page.setInputFiles('input[data-photo-input="board_posted"]', [photo('board.jpg')]);
  await page.setInputFiles('input[data-photo-input="ledgers_kept"]', [photo('ledgers.jpg')]);
  await page.setInputFiles('input[data-photo-input="outreach_photos"]', [photo('a.jpg'), photo('b.jpg')]);
  await page.waitForFunction(() => document.querySelectorAll('#checklist .photo img[src^="blob:"]').length === 4);
  assert.equal(await page.locator('#checklist .has-error').count(), 0);
}

test('the phone app inspects offline and the server gets the inspection once', { timeout: 120_000 }, async () => {
  await page.goto(`${BASE}/m/`);

  // Installable: a manifest, and a service worker controlling /m/.
  const manifestHref = await page.getAttribute('link[rel="manifest"]', 'href');
  assert.equal(manifestHref, '/m/manifest.webmanifest');
  const manifest = await (await fetch(`${BASE}${manifestHref}`)).json();
  assert.equal(manifest.start_url, '/m/');
  assert.equal(manifest.display, 'standalone');
  const sw = await page.evaluate(async () => (await navigator.serviceWorker.ready).active.scriptURL);
  assert.equal(sw, `${BASE}/m/sw.js`);

  // Log in.
  await page.fill('#login input[name=username]', 'inspector1');
  await page.fill('#login input[name=password]', 'wrong password');
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#login-error');
  await page.fill('#login input[name=password]', PASSWORD);
  await page.click('#login button[type=submit]');

  // The worklist shows the declaration; the checklist opens in Chinese.
  const entry = page.locator(`#worklist article[data-declaration="${seed.declaration.id}"]`);
  await entry.waitFor();
  assert.match(await entry.innerText(), new RegExp(seed.village.name));
  // The worklist's checklist is cached before it is ever opened, for a village without signal.
  await page.waitForFunction(
    async () => !!(await (await caches.open('fieldstar-api')).match('/api/v1/checklists/star-1/versions/1')),
  );
  await entry.locator('button.inspect').click();
  await page.waitForSelector('#checklist');
  assert.match(await item('board_posted').innerText(), /村级公开承诺牌已上墙公示/);
  await page.click('#lang');
  assert.match(await item('board_posted').innerText(), /The public commitment board is posted/);
  assert.match(await item('followup_coverage').innerText(), /filled by the server/);
  assert.equal(await item('followup_coverage').locator('input').count(), 0);

  // The position, at the village, with no warning.
  await page.waitForSelector('#position-fix');
  assert.match(await page.innerText('#position'), /accuracy ±15 m/);
  assert.equal(await page.locator('#position [data-warning]').count(), 0);
  // 3 km north with a vague fix: both warnings; back at the village: none.
  await context.setGeolocation({ latitude: seed.village.lat + 0.027, longitude: seed.village.lon, accuracy: 150 });
  await page.waitForSelector('#position [data-warning="outside_village"]');
  assert.equal(await page.locator('#position [data-warning="poor_accuracy"]').count(), 1);
  await context.setGeolocation({ latitude: seed.village.lat, longitude: seed.village.lon, accuracy: 15 });
  await page.waitForFunction(() => !document.querySelector('#position [data-warning]'));

  // visible_if: the reason shows only when the board is not posted.
  assert.ok(!(await item('why_not_posted').isVisible()));
  await item('board_posted').locator('input[value=false]').check();
  assert.ok(await item('why_not_posted').isVisible());
  await item('board_posted').locator('input[value=true]').check();
  assert.ok(!(await item('why_not_posted').isVisible()));

  // Ranges are checked as the server checks them.
  await item('policy_count').locator('input').fill('25');
  assert.match(await item('policy_count').locator('.item-error').innerText(), /must be between 0 and 20/);
  await item('policy_count').locator('input').fill('3');
  assert.equal(await item('policy_count').locator('.item-error').innerText(), '');

  // Submitting too early names what is missing.
  await page.click('#submit');
  assert.match(await page.innerText('#form-error'), /Fix the marked problems/);
  assert.match(await item('policies_honoured').locator('.item-error').innerText(), /required/);
  assert.match(await item('ledgers_kept').locator('.item-error').innerText(), /needs at least 1 photo/);
  // The summary lists them too, and cannot be confirmed while the server would refuse it.
  assert.match(
    await page.innerText('#summary-missing'),
    /The committed preferential policies were honoured this quarter/,
  );
  assert.equal(await page.locator('#confirm-submit').count(), 0);

  // Only images are taken, by their bytes.
  await page.setInputFiles('input[data-photo-input="board_posted"]', [
    { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a photo') },
  ]);
  await page.waitForFunction(() =>
    /Only JPEG, PNG or WebP/.test(document.querySelector('.item[data-item="board_posted"] .item-error').textContent),
  );
  assert.equal(await item('board_posted').locator('.photo').count(), 0);

  await fillStar1();

  // Offline: submit; it waits on the phone and the server has nothing.
  await context.setOffline(true);
  watched.note('test: offline');
  await page.waitForSelector('#net.net-off');
  await submit();
  const card = page.locator('#outbox article.outbox');
  await card.waitFor();
  const id = await card.getAttribute('data-inspection');
  await page.waitForSelector(`#outbox article[data-inspection="${id}"][data-state="queued"]`);
  assert.match(await card.innerText(), /waiting/);
  const inspector = await login('inspector1');
  assert.equal((await call(inspector, 'GET', `/api/v1/inspections/${id}`)).status, 404);

  // Restart the app while offline: it opens from the service worker and the queue survives.
  watched.note('test: reload');
  await page.reload();
  await page.waitForSelector(`#outbox article[data-inspection="${id}"][data-state="queued"]`);
  await page.waitForSelector(`#worklist article[data-declaration="${seed.declaration.id}"]`);
  assert.ok(await page.locator('#worklist h2 .badge').isVisible(), 'marked as the offline copy');
  assert.equal((await call(inspector, 'GET', `/api/v1/inspections/${id}`)).status, 404);

  // Online again: the outbox sends it, body then photo by photo, and shows the server's flags.
  await context.setOffline(false);
  watched.note('test: online');
  await waitSent(page, id, watched);
  const sent = page.locator(`#outbox article[data-inspection="${id}"]`);
  assert.match(await sent.innerText(), /submitted/);
  assert.equal(await sent.locator('.photo-states li.state-sent').count(), 4);
  const shownFlags = await sent.locator('.flag').evaluateAll((els) => els.map((e) => e.dataset.code));

  // The server has it exactly once, submitted, with all four photos.
  const reviewer = await login('reviewer1');
  const queue = await call(reviewer, 'GET', '/api/v1/review-queue?limit=200');
  assert.equal(queue.status, 200);
  const mine = queue.body.items.filter((i) => i.declaration_id === seed.declaration.id);
  assert.equal(mine.length, 1, JSON.stringify(mine));
  assert.equal(mine[0].id, id);
  assert.equal(mine[0].status, 'submitted');
  const view = (await call(inspector, 'GET', `/api/v1/inspections/${id}`)).body;
  assert.equal(view.status, 'submitted');
  assert.equal(view.revision, 1);
  assert.equal(view.photos.length, 4);
  assert.ok(view.photos.every((p) => p.received));
  assert.deepEqual(
    shownFlags,
    view.flags.map((f) => f.code),
  );
  assert.ok(!('followup_coverage' in view.answers), 'computed items are never sent');
  assert.equal(view.answers.inspector_notes, '村委会配合良好。');
  assert.ok(view.location && Math.abs(view.location.lat - seed.village.lat) < 1e-6);
  const inspections = await call(inspector, 'GET', `/api/v1/inspections?village=${seed.village.id}`);
  assert.equal(inspections.body.items.length, 1);

  assert.deepEqual(pageErrors, []);
  assert.deepEqual(foreign, []);
  assert.deepEqual(cspViolations, []);
});

test('a returned inspection comes back with the comment and goes out as revision 2', { timeout: 60_000 }, async () => {
  const reviewer = await login('reviewer1');
  const queue = await call(reviewer, 'GET', '/api/v1/review-queue?limit=200');
  const id = queue.body.items.find((i) => i.declaration_id === seed.declaration.id).id;
  assert.equal((await call(reviewer, 'POST', `/api/v1/inspections/${id}/claim`, {})).status, 200);
  const comment = '请补拍宣传栏照片 — please retake the notice board photo';
  const decided = await call(reviewer, 'POST', `/api/v1/inspections/${id}/decision`, { decision: 'return', comment });
  assert.equal(decided.status, 201, JSON.stringify(decided.body));

  await page.reload();
  const returned = page.locator(`#returned article[data-inspection="${id}"]`);
  await returned.waitFor({ timeout: 15_000 });
  assert.match(await returned.innerText(), /please retake the notice board photo/);
  await returned.locator('button.revise').click();
  await page.waitForSelector('#checklist');
  assert.match(await page.innerText('main'), /please retake/);
  // The earlier answers and photos come back (the photos are on the server); one more is added.
  assert.ok(await item('roster_kept').locator('input[value=true]').isChecked());
  await page.waitForFunction(() => document.querySelectorAll('#checklist .thumb.on-server').length === 4);
  await item('roster_kept').locator('input[value=false]').check();
  await page.setInputFiles('input[data-photo-input="outreach_photos"]', [photo('c.jpg')]);

  // The service worker revalidates its copy of the template with the ETag: 304, body from the cache.
  const revalidated = await page.evaluate(
    async ({ password }) => {
      const tokens = await (
        await fetch('/api/v1/auth/login', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ username: 'inspector1', password }),
        })
      ).json();
      const res = await fetch('/api/v1/checklists/star-1/versions/1', {
        headers: { Authorization: `Bearer ${tokens.access_token}` },
      });
      return { status: res.status, marker: res.headers.get('x-fieldstar-offline'), code: (await res.json()).code };
    },
    { password: PASSWORD },
  );
  assert.deepEqual(revalidated, { status: 200, marker: '0', code: 'star-1' });
  await submit();
  await waitSent(page, id, watched);

  const inspector = await login('inspector1');
  const view = (await call(inspector, 'GET', `/api/v1/inspections/${id}`)).body;
  assert.equal(view.revision, 2);
  assert.equal(view.status, 'submitted');
  assert.equal(view.answers.roster_kept, false);
  assert.equal(view.photos.length, 5);
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(foreign, []);
  assert.deepEqual(cspViolations, []);
});

test("a refusal shows the server's problem detail in the outbox", { timeout: 60_000 }, async () => {
  // Another inspector inspects the same declaration first: the phone's PUT gets 409.
  const admin = await login('admin');
  const v3 = (await call(admin, 'GET', '/api/v1/org-units?code=DEMO-T01-V003')).body.items[0];
  const declared = await call(admin, 'POST', '/api/v1/declarations', { village_id: v3.id, star_level: 1 });
  assert.equal(declared.status, 201);
  await page.reload();
  const entry = page.locator(`#worklist article[data-declaration="${declared.body.id}"]`);
  await entry.locator('button.inspect').click();
  await page.waitForSelector('#checklist');
  await fillStar1();

  const other = await login('inspector2');
  const sha = crypto.createHash('sha256').update(PHOTO).digest('hex');
  const first = await call(other, 'PUT', `/api/v1/inspections/${crypto.randomUUID()}`, {
    declaration_id: declared.body.id,
    checklist: { code: 'star-1', version: 1 },
    started_at: new Date(Date.now() - 3600e3).toISOString(),
    submitted_at: new Date().toISOString(),
    answers: {
      board_posted: true,
      policy_count: 3,
      policies_honoured: true,
      association: 'complete',
      roster_kept: true,
      ledgers_kept: true,
      outreach_displayed: true,
      outreach_kinds: ['slogans', 'boards'],
    },
    photos: ['board_posted', 'ledgers_kept', 'outreach_photos', 'outreach_photos'].map((item) => ({
      id: crypto.randomUUID(),
      item,
      sha256: sha,
    })),
  });
  assert.equal(first.status, 201, JSON.stringify(first.body));

  await submit();
  const card = page.locator('#outbox article.outbox[data-state="error"]');
  await card.waitFor({ timeout: 15_000 });
  // In the inspector's words, then the server's detail naming the live inspection's inspector.
  assert.match(await card.locator('.problem .words').innerText(), /Someone else is already inspecting/);
  assert.match(await card.locator('.problem').innerText(), /inspector2/);
  assert.equal(await card.locator('button.retry').count(), 1);
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(cspViolations, []);
});

test('the inspector reads the rejection and its comment', { timeout: 60_000 }, async () => {
  const reviewer = await login('reviewer1');
  const queue = await call(reviewer, 'GET', '/api/v1/review-queue?limit=200');
  const id = queue.body.items.find((i) => i.declaration_id === seed.declaration.id).id;
  assert.equal((await call(reviewer, 'POST', `/api/v1/inspections/${id}/claim`, {})).status, 200);
  const comment = '会员花名册未更新，不予通过 — the roster is not kept up to date';
  const decided = await call(reviewer, 'POST', `/api/v1/inspections/${id}/decision`, { decision: 'reject', comment });
  assert.equal(decided.status, 201, JSON.stringify(decided.body));

  await page.reload();
  const card = page.locator(`#decided article[data-inspection="${id}"]`);
  await card.waitFor({ timeout: 15_000 });
  assert.equal(await card.getAttribute('data-status'), 'rejected');
  assert.match(await card.innerText(), /the roster is not kept up to date/);
  assert.match(await card.innerText(), /reviewer1/);
  assert.match(await card.innerText(), /rejected/);
  assert.match(await card.innerText(), new RegExp(seed.village.name));
  // In Chinese too.
  await page.click('#lang');
  await page.locator(`#decided article[data-inspection="${id}"]`).getByText('未通过').waitFor();
  await page.click('#lang');
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(foreign, []);
  assert.deepEqual(cspViolations, []);
});

test('the inspector cancels a returned inspection, and its declaration can be inspected again', {
  timeout: 60_000,
}, async () => {
  // inspector1 inspects a fourth village (through the API), and the reviewer returns it.
  const admin = await login('admin');
  const v4 = (await call(admin, 'GET', '/api/v1/org-units?code=DEMO-T01-V004')).body.items[0];
  const declared = await call(admin, 'POST', '/api/v1/declarations', { village_id: v4.id, star_level: 1 });
  assert.equal(declared.status, 201, JSON.stringify(declared.body));
  const inspector = await login('inspector1');
  const sha = crypto.createHash('sha256').update(PHOTO).digest('hex');
  const id = crypto.randomUUID();
  const photos = ['board_posted', 'ledgers_kept', 'outreach_photos', 'outreach_photos'].map((item) => ({
    id: crypto.randomUUID(),
    item,
    sha256: sha,
  }));
  const put = await call(inspector, 'PUT', `/api/v1/inspections/${id}`, {
    declaration_id: declared.body.id,
    checklist: { code: 'star-1', version: 1 },
    started_at: new Date(Date.now() - 3600e3).toISOString(),
    submitted_at: new Date().toISOString(),
    location: {
      lat: v4.lat,
      lon: v4.lon,
      accuracy_m: 10,
      captured_at: new Date(Date.now() - 120e3).toISOString(),
      mock: false,
    },
    answers: {
      board_posted: true,
      policy_count: 3,
      policies_honoured: true,
      association: 'complete',
      roster_kept: true,
      ledgers_kept: true,
      outreach_displayed: true,
      outreach_kinds: ['slogans', 'boards'],
    },
    photos,
  });
  assert.equal(put.status, 201, JSON.stringify(put.body));
  for (const p of photos) {
    const res = await fetch(`${BASE}/api/v1/inspections/${id}/photos/${p.id}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${inspector}`, 'Content-Type': 'image/jpeg' },
      body: PHOTO,
    });
    assert.equal(res.status, 201, await res.text());
  }
  const reviewer = await login('reviewer1');
  assert.equal((await call(reviewer, 'POST', `/api/v1/inspections/${id}/claim`, {})).status, 200);
  const returned = await call(reviewer, 'POST', `/api/v1/inspections/${id}/decision`, {
    decision: 'return',
    comment: '请补充宣传栏照片',
  });
  assert.equal(returned.status, 201, JSON.stringify(returned.body));

  await page.reload();
  const card = page.locator(`#returned article[data-inspection="${id}"]`);
  await card.waitFor({ timeout: 15_000 });
  // The decisions load last: once they are shown, the lists are all in.
  await page.locator('#decided article').first().waitFor({ timeout: 15_000 });
  // Cancelling asks first; "keep it" changes nothing.
  await card.locator('button.cancel').click();
  assert.match(await card.locator('.cancel-box').innerText(), /Really cancel this inspection/);
  await card.locator('button.keep').click();
  assert.equal(await card.locator('button.confirm-cancel').count(), 0);
  await card.locator('button.cancel').click();
  await card.locator('button.confirm-cancel').click();
  await page.waitForSelector('#notice, .cancel-box .error');
  assert.equal(await card.locator('.cancel-box .error').count(), 0, await page.innerText('main'));
  assert.match(await page.innerText('#notice'), /Inspection cancelled/);
  await page.waitForSelector(`#returned article[data-inspection="${id}"]`, { state: 'detached' });

  // The server kept it as cancelled, and the declaration is back on the worklist.
  const view = (await call(inspector, 'GET', `/api/v1/inspections/${id}`)).body;
  assert.equal(view.status, 'cancelled');
  const entry = page.locator(`#worklist article[data-declaration="${declared.body.id}"]`);
  await entry.locator('button.inspect').waitFor({ timeout: 15_000 });
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(foreign, []);
  assert.deepEqual(cspViolations, []);
});

test("a visit outside the quarter's verification window is refused in words", { timeout: 60_000 }, async () => {
  const admin = await login('admin');
  const village = (await call(admin, 'GET', '/api/v1/org-units?code=DEMO-T07-V002')).body.items[0];
  const declared = await call(admin, 'POST', '/api/v1/declarations', { village_id: village.id, star_level: 1 });
  assert.equal(declared.status, 201, JSON.stringify(declared.body));
  const quarter = declared.body.quarter;
  const before = (await call(admin, 'GET', `/api/v1/quarters/${quarter}`)).body;
  await page.reload();
  const entry = page.locator(`#worklist article[data-declaration="${declared.body.id}"]`);
  await entry.locator('button.inspect').click();
  await page.waitForSelector('#checklist');
  await fillStar1();
  // The county moves the window: it now opens tomorrow, after this visit started.
  // Days in the county's time zone (UTC+8), whatever the machine's clock zone.
  const day = (offset) => new Date(Date.now() + offset * 86_400e3 + 8 * 3_600e3).toISOString().slice(0, 10);
  const moved = await call(admin, 'PUT', `/api/v1/quarters/${quarter}`, { opens_on: day(1), closes_on: day(10) });
  try {
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    await submit();
    const card = page
      .locator('#outbox article.outbox[data-state="error"]')
      .filter({ has: page.locator('.problem .words', { hasText: /verification window/ }) });
    await card.waitFor({ timeout: 15_000 });
    assert.match(await card.locator('.problem').innerText(), new RegExp(day(1)));
  } finally {
    await call(admin, 'PUT', `/api/v1/quarters/${quarter}`, { opens_on: before.opens_on, closes_on: before.closes_on });
  }
  assert.deepEqual(pageErrors, []);
});

test('with the township pre-check, a declaration reaches the phone only once its township forwards it', {
  timeout: 60_000,
}, async () => {
  const admin = await login('admin');
  assert.equal((await call(admin, 'PATCH', '/api/v1/policy', { township_precheck: true })).status, 200);
  try {
    const village = (await call(admin, 'GET', '/api/v1/org-units?code=DEMO-T01-V014')).body.items[0];
    const made = await call(admin, 'POST', '/api/v1/users', {
      username: 'phone-sec-v014',
      password: PASSWORD,
      role: 'secretary',
      org_unit_id: village.id,
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const secretary = await login('phone-sec-v014');
    const declared = await call(secretary, 'POST', '/api/v1/declarations', { village_id: village.id, star_level: 1 });
    assert.equal(declared.status, 201, JSON.stringify(declared.body));
    assert.equal(declared.body.status, 'awaiting_township');
    await page.reload();
    await page.locator('#worklist').waitFor();
    const entry = page.locator(`#worklist article[data-declaration="${declared.body.id}"]`);
    assert.equal(await entry.count(), 0, 'not on the phone before the township forwards it');
    const township = await login('township1');
    const forwarded = await call(township, 'POST', `/api/v1/declarations/${declared.body.id}/forward`, {});
    assert.equal(forwarded.status, 200, JSON.stringify(forwarded.body));
    await page.reload();
    await entry.waitFor({ timeout: 15_000 });
  } finally {
    await call(admin, 'PATCH', '/api/v1/policy', { township_precheck: false });
  }
  assert.deepEqual(pageErrors, []);
});

/**
 * Restarts the app (its access token is in memory only) with its first refresh handled by
 * `first` (a Playwright route handler) and the rest passed on: the lists load from the server,
 * not the phone's copy, with no login form, after a second refresh.
 */
async function restartsLoggedIn(first) {
  let refreshes = 0;
  await page.route('**/api/v1/auth/refresh', (route) => (refreshes++ === 0 ? first(route) : route.continue()));
  try {
    await page.reload();
    await page.waitForFunction(
      () => !document.querySelector('#worklist h2 .badge') && !!document.querySelector('#worklist article'),
    );
    assert.equal(await page.locator('#login').count(), 0, 'still logged in');
    assert.ok(refreshes >= 2, `the refresh was asked again (${refreshes})`);
  } finally {
    await page.unroute('**/api/v1/auth/refresh');
  }
  assert.deepEqual(pageErrors, []);
}

test('a refresh that got no answer does not log the inspector out', { timeout: 60_000 }, async () => {
  // Its first refresh gets no answer, as when the signal drops: the lists it reads meanwhile go
  // without a token and the server answers 401. That is no logout: the app refreshes again.
  await restartsLoggedIn((route) => route.abort('internetdisconnected'));
});

test('a refresh whose answer was lost is asked again, and the inspector stays logged in', {
  timeout: 60_000,
}, async () => {
  // The server rotates the token and the answer is lost on the way (the signal dropped): the
  // phone still holds the spent token and presents it again, which the server takes as the retry.
  await restartsLoggedIn(async (route) => {
    const answered = await route.fetch();
    assert.equal(answered.status(), 200, 'the server rotated the token');
    await route.abort('internetdisconnected');
  });
});
