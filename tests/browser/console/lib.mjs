// Shared by the console's browser specs, on top of tests/browser/lib/common.mjs (server, API,
// Chromium, screenshots): API seeding as the demo users, and a Chromium page that fails the test
// on any page error, console error or foreign request.

import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import {
  ACTION_TIMEOUT_MS,
  BASE,
  CHROMIUM,
  CHROMIUM_ARGS,
  FIXTURES,
  LOCALE,
  PASSWORD,
  TIMEZONE,
  api,
  chromium,
  login,
  shot as save,
} from '../lib/common.mjs';

export { AXE_PATH, BASE, PASSWORD, SHOTS, api, axeSource, login } from '../lib/common.mjs';

/** A level-1 declaration and a complete inspection by inspector1 with four photos. Without a
 *  village code: secretary1 declares for her village; with one, the admin declares for it.
 *  `failing`: two required items fail, so the checklist does not pass. `photos: false`: no photo
 *  is uploaded, so the inspection stays `awaiting_photos`.
 *  Resolves to {inspectionId, villageId, villageName, declarationId}. */
export async function seedSubmittedInspection(villageCode, { failing = false, photos: upload = true } = {}) {
  let village;
  let declarer;
  if (villageCode) {
    declarer = await login('admin');
    const page = (await api('GET', `/api/v1/org-units?code=${encodeURIComponent(villageCode)}`, declarer)).json;
    village = page.items.find((u) => u.code === villageCode);
    assert.ok(village, `no village ${villageCode}`);
  } else {
    declarer = await login('secretary1');
    village = (await api('GET', '/api/v1/me', declarer)).json.org_unit;
  }
  const decl = await api('POST', '/api/v1/declarations', declarer, { village_id: village.id, star_level: 1 });
  assert.equal(decl.status, 201, `declare: ${JSON.stringify(decl.json)}`);

  const inspector = await login('inspector1');
  const board = readFileSync(join(FIXTURES, 'board.jpg'));
  const ledger = readFileSync(join(FIXTURES, 'ledger.jpg'));
  const photos = [
    { id: randomUUID(), item: 'board_posted', bytes: board },
    { id: randomUUID(), item: 'ledgers_kept', bytes: ledger },
  ];
  if (!failing) {
    photos.push(
      { id: randomUUID(), item: 'outreach_photos', bytes: board },
      { id: randomUUID(), item: 'outreach_photos', bytes: ledger },
    );
  }
  const now = Date.now();
  const id = randomUUID();
  const body = {
    declaration_id: decl.json.id,
    checklist: { code: 'star-1', version: 1 },
    started_at: new Date(now - 40 * 60_000).toISOString(),
    submitted_at: new Date(now - 60_000).toISOString(),
    location: {
      lat: village.lat,
      lon: village.lon,
      accuracy_m: 12,
      captured_at: new Date(now - 90_000).toISOString(),
      mock: false,
    },
    utc_offset_minutes: 480,
    answers: failing
      ? {
          board_posted: true,
          policy_count: 3,
          policies_honoured: false,
          association: 'complete',
          roster_kept: true,
          ledgers_kept: true,
          outreach_displayed: false,
          inspector_notes: '优惠政策本季度未兑现，宣传资料未张贴。',
        }
      : {
          board_posted: true,
          policy_count: 3,
          policies_honoured: true,
          association: 'complete',
          roster_kept: true,
          ledgers_kept: true,
          outreach_displayed: true,
          outreach_kinds: ['slogans', 'boards'],
          inspector_notes: '公示栏内容为本季度最新。',
        },
    photos: photos.map((p) => ({ id: p.id, item: p.item, sha256: createHash('sha256').update(p.bytes).digest('hex') })),
  };
  const put = await api('PUT', `/api/v1/inspections/${id}`, inspector, body);
  assert.equal(put.status, 201, `inspection: ${JSON.stringify(put.json)}`);
  const seeded = { inspectionId: id, villageId: village.id, villageName: village.name, declarationId: decl.json.id };
  if (!upload) return seeded;
  let last;
  for (const p of photos) {
    last = await api('PUT', `/api/v1/inspections/${id}/photos/${p.id}`, inspector, new Uint8Array(p.bytes), {
      'Content-Type': 'image/jpeg',
    });
    assert.equal(last.status, 201, `photo: ${JSON.stringify(last.json)}`);
  }
  assert.equal(last.json.inspection_status, 'submitted');
  return seeded;
}

/**
 * reviewer1 (the department) claims and decides through the API; an approval acknowledges every
 * alert, and with joint approval reviewer2 (the association) gives the second one.
 */
export async function decide(inspectionId, decision, comment) {
  let res;
  for (const who of ['reviewer1', 'reviewer2']) {
    const reviewer = await login(who);
    const claim = await api('POST', `/api/v1/inspections/${inspectionId}/claim`, reviewer, {});
    assert.equal(claim.status, 200, `claim: ${JSON.stringify(claim.json)}`);
    const view = (await api('GET', `/api/v1/inspections/${inspectionId}`, reviewer)).json;
    const body = { decision, comment };
    if (decision === 'approve') body.acknowledged_flags = view.approval?.alerts ?? [];
    res = await api('POST', `/api/v1/inspections/${inspectionId}/decision`, reviewer, body);
    assert.equal(res.status, 201, `decision: ${JSON.stringify(res.json)}`);
    if (res.json.inspection_status !== 'awaiting_second_approval') break;
  }
  return res.json;
}

let browser;
export async function launch() {
  // Playwright starts Chromium with a fresh temporary --user-data-dir of its own (it refuses
  // one in args) and removes it on close; each test's page gets its own context besides.
  browser ??= await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  return browser;
}

export async function closeBrowser() {
  await browser?.close();
  browser = undefined;
}

/** A fresh page (own context: no shared cookies or memory) that records every page error,
 *  console error, request to another origin and failed API answer (4xx/5xx other than those
 *  `allow`ed: [{status, path: RegExp}]); call `check()` at the end of a test. */
export async function openPage({ width = 1280, height = 860, locale = LOCALE, allow = [] } = {}) {
  const b = await launch();
  // The county's users are in China: the browser's clock reads the county's day (Asia/Shanghai).
  const context = await b.newContext({
    viewport: { width, height },
    locale,
    timezoneId: TIMEZONE,
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  const problems = [];
  const origin = new URL(BASE).origin;
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // Chromium logs every 4xx/5xx answer as a console error; those are judged below by status.
    if (
      m.type() === 'error' &&
      !m.text().startsWith('Failed to load resource: the server responded with a status of')
    ) {
      problems.push(`console error: ${m.text()}`);
    }
  });
  page.on('response', (r) => {
    const path = r.url().slice(origin.length);
    if (r.status() >= 400 && !allow.some((a) => a.status === r.status() && a.path.test(path))) {
      problems.push(`HTTP ${r.status()} for ${r.request().method()} ${path}`);
    }
  });
  page.on('request', (r) => {
    const url = r.url();
    if (!(url.startsWith(`${origin}/`) || url.startsWith('blob:') || url.startsWith('data:'))) {
      problems.push(`request to another origin: ${url}`);
    }
  });
  page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  return {
    page,
    allow(status, path) {
      allow.push({ status, path });
    },
    /** Fails on anything recorded so far, and on any inline style attribute in the page. */
    async check() {
      // Chromium itself leaves an empty style="" on number inputs it has edited.
      const styled = await page.evaluate(() =>
        [...document.querySelectorAll('[style]:not([style=""])')].map((e) => e.outerHTML.slice(0, 200)),
      );
      assert.deepEqual(styled, [], 'no inline style attributes');
      assert.deepEqual(problems, [], problems.join('\n'));
    },
    async close() {
      await context.close();
    },
  };
}

export async function consoleLogin(page, username) {
  await page.goto(`${BASE}/`);
  await page.getByLabel(/用户名|Username/).fill(username);
  await page.getByLabel(/密码|Password/).fill(PASSWORD);
  await page.getByRole('button', { name: /登录|Log in/ }).click();
  await page.locator('header nav').waitFor();
}

export async function shot(page, name) {
  await save(page, `console-${name}`);
}
