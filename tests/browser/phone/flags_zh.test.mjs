// The phone app in Chinese shows the server's flags in people's words (issue 17): each flag by
// its Chinese name with the server's Chinese message, figures in 米/公里, never a raw flag code.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASE, PASSWORD, login, call, launch } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// Taken far from the demo county: the server flags the photos' GPS position.
const PHOTO = fs.readFileSync(path.join(here, '..', 'fixtures', 'phone-photo.jpg'));
const photo = (name) => ({ name, mimeType: 'image/jpeg', buffer: PHOTO });

let context;
let page;
let village;
let declaration;
const languages = [];

before(async () => {
  const admin = await login('admin');
  village = (await call(admin, 'GET', '/api/v1/org-units?code=DEMO-T01-V008')).body.items[0];
  const declared = await call(admin, 'POST', '/api/v1/declarations', { village_id: village.id, star_level: 1 });
  assert.equal(declared.status, 201, JSON.stringify(declared.body));
  declaration = declared.body;
  const profile = fs.mkdtempSync(path.join(process.env.FIELDSTAR_CHROMIUM_PROFILE, 'flags-zh-'));
  const at = { latitude: village.lat, longitude: village.lon, accuracy: 12 };
  context = await launch(profile, at);
  await context.grantPermissions(['geolocation'], { origin: BASE });
  page = context.pages()[0] || (await context.newPage());
  page.on('request', (r) => {
    if (r.url().includes('/api/v1/')) languages.push(r.headers()['accept-language'] ?? '');
  });
});

after(async () => {
  await context?.close();
});

const item = (id) => page.locator(`#checklist .item[data-item="${id}"]`);

test('flags of a sent inspection read in Chinese, without raw codes', { timeout: 120_000 }, async () => {
  await page.goto(`${BASE}/m/`);
  await page.fill('#login input[name=username]', 'inspector1');
  await page.fill('#login input[name=password]', PASSWORD);
  await page.click('#login button[type=submit]');
  const entry = page.locator(`#worklist article[data-declaration="${declaration.id}"]`);
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
  await page.setInputFiles('input[data-photo-input="board_posted"]', [photo('board.jpg')]);
  await page.setInputFiles('input[data-photo-input="ledgers_kept"]', [photo('ledgers.jpg')]);
  await page.setInputFiles('input[data-photo-input="outreach_photos"]', [photo('a.jpg'), photo('b.jpg')]);
  await page.waitForFunction(() => document.querySelectorAll('#checklist .photo img[src^="blob:"]').length === 4);
  // A photo far away is questioned at capture; she sends it anyway.
  page.on('dialog', (d) => d.accept());
  if (await page.isVisible('#submit')) await page.click('#submit');
  await page.click('#confirm-submit');

  const sent = page.locator('#outbox article.outbox[data-state="sent"]').first();
  await sent.waitFor({ timeout: 60_000 });
  const flags = sent.locator('.flag');
  await flags.first().waitFor();
  const codes = await flags.evaluateAll((els) => els.map((e) => e.dataset.code));
  assert.ok(codes.length > 0);
  for (let i = 0; i < codes.length; i += 1) {
    const text = await flags.nth(i).innerText();
    assert.ok(!text.includes(codes[i]), `raw code shown: ${text}`);
    assert.match(text, /[\u4e00-\u9fff]/, text);
    // Figures in 米/公里, never "8191488 m".
    assert.doesNotMatch(text, /\d\s?(m|km|minutes?)\b/, text);
  }
  const far = codes.indexOf('photo.gps_far');
  if (far >= 0) assert.match(await flags.nth(far).innerText(), /公里|米/);
  assert.ok(languages.length > 0 && languages.every((l) => l.startsWith('zh')), languages.join(' | '));
});
