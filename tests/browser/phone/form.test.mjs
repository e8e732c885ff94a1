// The inspector's long form with one thumb, on a 390×844 phone: progress per section and
// overall, the summary before sending, confirmations before deleting a photo or discarding an
// outbox entry, village names on every card, photos named by their item, a photo whose EXIF is
// old or far questioned at capture, 44 px tap targets, and an axe-core scan.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASE, PASSWORD, login, call, launch, withExif, axeSource, shot as save } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PHOTO = fs.readFileSync(path.join(here, '..', 'fixtures', 'phone-photo.jpg'));
const photo = (name, buffer = PHOTO) => ({ name, mimeType: 'image/jpeg', buffer });
// Taken in Rome on 12 May 2008: old, and far from any village of the demo county.
const ROME_2008 = withExif(PHOTO, { taken: '2008:05:12 14:28:00', offset: '+02:00', lat: 41.9028, lon: 12.4964 });
const AXE = axeSource();

let context;
let page;
let village;
let declaration;
let returnedId;
let returnedVillage;
const pageErrors = [];
const foreign = [];
const cspViolations = [];

before(async () => {
  const admin = await login('admin');
  village = (await call(admin, 'GET', '/api/v1/org-units?code=DEMO-T01-V006')).body.items[0];
  const declared = await call(admin, 'POST', '/api/v1/declarations', { village_id: village.id, star_level: 1 });
  assert.equal(declared.status, 201, JSON.stringify(declared.body));
  declaration = declared.body;

  // inspector2's inspection of another village, returned by the reviewer.
  returnedVillage = (await call(admin, 'GET', '/api/v1/org-units?code=DEMO-T01-V007')).body.items[0];
  const other = await call(admin, 'POST', '/api/v1/declarations', { village_id: returnedVillage.id, star_level: 1 });
  assert.equal(other.status, 201, JSON.stringify(other.body));
  const inspector = await login('inspector2');
  returnedId = crypto.randomUUID();
  const sha = crypto.createHash('sha256').update(PHOTO).digest('hex');
  const photos = ['board_posted', 'ledgers_kept', 'outreach_photos', 'outreach_photos'].map((item) => ({
    id: crypto.randomUUID(),
    item,
    sha256: sha,
  }));
  const put = await call(inspector, 'PUT', `/api/v1/inspections/${returnedId}`, {
    declaration_id: other.body.id,
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
    photos,
  });
  assert.equal(put.status, 201, JSON.stringify(put.body));
  for (const p of photos) {
    const res = await fetch(`${BASE}/api/v1/inspections/${returnedId}/photos/${p.id}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${inspector}`, 'Content-Type': 'image/jpeg' },
      body: PHOTO,
    });
    assert.equal(res.status, 201, await res.text());
  }
  const reviewer = await login('reviewer1');
  assert.equal((await call(reviewer, 'POST', `/api/v1/inspections/${returnedId}/claim`, {})).status, 200);
  const returned = await call(reviewer, 'POST', `/api/v1/inspections/${returnedId}/decision`, {
    decision: 'return',
    comment: '请补拍台账照片',
  });
  assert.equal(returned.status, 201, JSON.stringify(returned.body));

  const profile = fs.mkdtempSync(path.join(process.env.FIELDSTAR_CHROMIUM_PROFILE, 'form-'));
  const at = { latitude: village.lat, longitude: village.lon, accuracy: 12 };
  context = await launch(profile, at, { width: 390, height: 844 });
  await context.grantPermissions(['geolocation'], { origin: BASE });
  context.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(`${BASE}/`) && !url.startsWith('blob:') && !url.startsWith('data:')) foreign.push(url);
  });
  page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
});

after(async () => {
  await context?.close();
});

const item = (id) => page.locator(`#checklist .item[data-item="${id}"]`);

async function shot(name) {
  await save(page, `phone-${name}`);
}

/** axe-core on the page as it is: the violations that are serious or critical. */
async function axe() {
  // Evaluated through the debugging protocol, not as a <script>: the served CSP stays as it is.
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5),
    }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Every visible tap target under `root` smaller than 44 × 44 px (a radio or checkbox by its label). */
async function smallTargets(root) {
  return page.evaluate((selector) => {
    const small = [];
    for (const el of document.querySelectorAll(
      `${selector} button, ${selector} .button, ${selector} a[href], ${selector} input, ${selector} textarea, ${selector} select`,
    )) {
      const target = el.matches('input[type=radio], input[type=checkbox], input[type=file]') ? el.closest('label') : el;
      const r = target.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue; // not shown
      if (r.width < 44 || r.height < 44)
        small.push(
          `${target.tagName.toLowerCase()}.${target.className} "${target.textContent.trim().slice(0, 20)}" ${Math.round(r.width)}×${Math.round(r.height)}`,
        );
    }
    return small;
  }, root);
}

test('the worklist and the returned inspection name their villages', { timeout: 60_000 }, async () => {
  await page.goto(`${BASE}/m/`);
  await page.fill('#login input[name=username]', 'inspector2');
  await page.fill('#login input[name=password]', PASSWORD);
  await page.click('#login button[type=submit]');
  const entry = page.locator(`#worklist article[data-declaration="${declaration.id}"]`);
  await entry.waitFor();
  assert.equal(await entry.locator('h3').innerText(), village.name);
  const returned = page.locator(`#returned article[data-inspection="${returnedId}"]`);
  await returned.waitFor({ timeout: 15_000 });
  assert.equal(await returned.locator('h3').innerText(), returnedVillage.name);
  assert.deepEqual(await smallTargets('#header'), []);
  assert.deepEqual(await smallTargets('main'), []);
  assert.deepEqual(await axe(), []);
  await shot('home');
});

test('the form counts what is done, per section and overall', { timeout: 60_000 }, async () => {
  await page.locator(`#worklist article[data-declaration="${declaration.id}"] button.inspect`).click();
  await page.waitForSelector('#checklist');
  await page.waitForSelector('#position-fix');
  // Seven required items are shown at first (three more wait on earlier answers).
  assert.equal(await page.innerText('#progress-text'), '必填项已完成 0/7');
  const commitment = page.locator('#checklist .section[data-section="commitment"] .section-progress');
  assert.equal(await commitment.innerText(), '0/3');
  // A yes needs its photo too before the item counts; the number counts at once.
  await item('board_posted').locator('input[value=true]').check();
  assert.equal(await commitment.innerText(), '0/3');
  await item('policy_count').locator('input').fill('1');
  assert.equal(await commitment.innerText(), '1/3');
  assert.equal(await page.innerText('#progress-text'), '必填项已完成 1/7');
  assert.equal(await page.getAttribute('#progress-bar', 'value'), '1');
  await page.setInputFiles('input[data-photo-input="board_posted"]', [photo('board.jpg')]);
  await page.waitForFunction(
    () =>
      document.querySelector('#checklist .section[data-section="commitment"] .section-progress').textContent === '2/3',
  );
  assert.equal(await page.innerText('#progress-text'), '必填项已完成 2/7');
  // An answer that shows more items adds them to what is required.
  await item('outreach_displayed').locator('input[value=true]').check();
  assert.equal(await page.innerText('#progress-text'), '必填项已完成 3/9');
  await item('outreach_displayed').locator('input[value=false]').check();
  assert.equal(await page.innerText('#progress-text'), '必填项已完成 3/7');
  await page.click('#lang');
  assert.equal(await page.innerText('#progress-text'), '3 of 7 required items done');
  await page.click('#lang');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot('form');
});

test('each question is a named group, every tap target is 44 px, and axe finds nothing serious', {
  timeout: 60_000,
}, async () => {
  // Radios take the question as their group's name, the number and note inputs as their own.
  const names = await page.evaluate(() => {
    const legend = (id) => document.querySelector(`#checklist .item[data-item="${id}"] > legend`);
    const input = (id, sel) => document.querySelector(`#checklist .item[data-item="${id}"] ${sel}`);
    const byLabelledby = (el) =>
      el
        .getAttribute('aria-labelledby')
        .split(' ')
        .map((i) => document.getElementById(i).textContent)
        .join(' ');
    return {
      radioGroup:
        input('policies_honoured', 'input[type=radio]').closest('fieldset').querySelector('legend') ===
        legend('policies_honoured'),
      number: byLabelledby(input('policy_count', 'input[type=number]')),
      note: byLabelledby(input('inspector_notes', 'textarea')),
    };
  });
  assert.ok(names.radioGroup);
  assert.match(names.number, /村级公开承诺的优惠政策条数/);
  assert.match(names.note, /检查人员备注/);
  assert.deepEqual(await smallTargets('#header'), []);
  assert.deepEqual(await smallTargets('main'), []);
  // The radio's own box is small; its label, the tap target, is not.
  const radio = await item('policies_honoured').locator('label.choice').first().boundingBox();
  assert.ok(radio.height >= 44 && radio.width >= 44, JSON.stringify(radio));
  // Input borders: at least 3:1 against the field and the page behind it.
  const contrast = await page.evaluate(() => {
    const rgb = (c) =>
      c
        .match(/\d+(\.\d+)?/g)
        .slice(0, 3)
        .map(Number);
    const lum = (c) => {
      const [r, g, b] = rgb(c)
        .map((v) => v / 255)
        .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a, b) => {
      const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
      return (x + 0.05) / (y + 0.05);
    };
    const input = getComputedStyle(document.querySelector('#checklist input[type=number]'));
    const page = getComputedStyle(document.body).backgroundColor;
    return { field: ratio(input.borderTopColor, input.backgroundColor), page: ratio(input.borderTopColor, page) };
  });
  assert.ok(contrast.field >= 3 && contrast.page >= 3, JSON.stringify(contrast));
  assert.deepEqual(await axe(), []);
});

test('a photo taken years ago or far away is questioned at capture, and removing one asks first', {
  timeout: 60_000,
}, async () => {
  await page.setInputFiles('input[data-photo-input="ledgers_kept"]', [photo('rome.jpg', ROME_2008)]);
  const warned = item('ledgers_kept').locator('.photo-warnings');
  await warned.locator('[data-photo-warning="exif_old"]').waitFor();
  assert.match(await warned.innerText(), /第 1 张照片的拍摄时间是 2008\/05\/12 20:28/);
  assert.match(await warned.innerText(), /距手机现在的位置 \d+(\.\d)? 公里（超过 5 公里）/);
  assert.match(await warned.innerText(), /距村中心/);
  // The photo is kept (the server decides): the inspector can remove it, after a second tap.
  const figure = item('ledgers_kept').locator('.photo');
  assert.equal(await figure.count(), 1);
  await item('ledgers_kept').locator('.photo-warnings').scrollIntoViewIfNeeded();
  await shot('photo-warning');
  await figure.locator('button.remove').click();
  assert.match(await figure.locator('.remove-box').innerText(), /删除这张照片？/);
  await figure.locator('button.keep-photo').click();
  assert.equal(await figure.count(), 1);
  assert.equal(await figure.locator('.confirm-remove').count(), 0);
  await figure.locator('button.remove').click();
  assert.deepEqual(await axe(), []);
  await figure.locator('button.confirm-remove').click();
  await page.waitForFunction(() => !document.querySelector('#checklist .item[data-item="ledgers_kept"] .photo'));
  assert.equal(await warned.innerText(), '');
  // A photo without EXIF is not questioned.
  await page.setInputFiles('input[data-photo-input="ledgers_kept"]', [photo('ledgers.jpg')]);
  await page.waitForFunction(
    () => document.querySelectorAll('#checklist .item[data-item="ledgers_kept"] .photo img[src^="blob:"]').length === 1,
  );
  assert.equal(await warned.locator('[data-photo-warning]').count(), 0);
});

test('the summary before sending lists what is missing and what fails, and goes to each', {
  timeout: 60_000,
}, async () => {
  await page.click('#submit');
  const summary = page.locator('#summary');
  await summary.waitFor();
  // Unanswered: the honoured policies; failing: one policy is fewer than the two the rule asks.
  assert.match(
    await summary.locator('#summary-missing li[data-item="policies_honoured"]').innerText(),
    /^本季度承诺的优惠政策已兑现落实\s+未回答$/,
  );
  assert.match(
    await summary.locator('#summary-failing li[data-item="policy_count"]').innerText(),
    /^村级公开承诺的优惠政策条数\s+合格：2–4$/,
  );
  assert.match(await summary.innerText(), /服务器不会接收/);
  assert.equal(await summary.locator('#confirm-submit').count(), 0, 'what the server would refuse cannot be confirmed');
  assert.ok(!(await page.isVisible('#submit')));
  assert.deepEqual(await axe(), []);
  await shot('summary');
  // Each entry goes to its item and puts the focus on its first input.
  await summary.locator('li[data-item="policies_honoured"] button.goto').click();
  assert.equal(await page.evaluate(() => document.activeElement.closest('.item')?.dataset.item), 'policies_honoured');
  await item('policies_honoured').locator('input[value=true]').check();
  await item('association').locator('input[value=complete]').check();
  await item('roster_kept').locator('input[value=false]').check();
  await item('ledgers_kept').locator('input[value=true]').check();
  // The summary follows the answers: nothing missing any more, two failing items.
  await page.waitForSelector('#confirm-submit');
  assert.match(await summary.innerText(), /必填项都已完成/);
  const failing = await summary.locator('#summary-failing li').evaluateAll((els) => els.map((e) => e.dataset.item));
  assert.deepEqual(failing, ['policy_count', 'roster_kept', 'outreach_displayed']);
  // Keep editing closes it; nothing was sent.
  await page.click('#keep-editing');
  assert.ok(await page.isHidden('#summary'));
  assert.ok(await page.isVisible('#submit'));
});

test('a refused entry in the outbox names its village and photos, and discarding it asks first', {
  timeout: 60_000,
}, async () => {
  // inspector1 inspects the same declaration first: the phone's PUT gets 409.
  const other = await login('inspector1');
  const sha = crypto.createHash('sha256').update(PHOTO).digest('hex');
  const first = await call(other, 'PUT', `/api/v1/inspections/${crypto.randomUUID()}`, {
    declaration_id: declaration.id,
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
      outreach_displayed: false,
    },
    photos: ['board_posted', 'ledgers_kept'].map((it) => ({ id: crypto.randomUUID(), item: it, sha256: sha })),
  });
  assert.equal(first.status, 201, JSON.stringify(first.body));

  await page.click('#submit');
  await page.click('#confirm-submit');
  const card = page.locator('#outbox article.outbox[data-state="error"]');
  await card.waitFor({ timeout: 15_000 });
  assert.match(await card.locator('h3').innerText(), new RegExp(village.name));
  const photos = await card.locator('.photo-states li').allInnerTexts();
  assert.deepEqual(
    photos.map((p) => p.split(' · ')[0]),
    ['村级公开承诺牌已上墙公示，内容为当前有效版本：第 1 张照片', '工作记录和台账齐全、规范：第 1 张照片'],
  );
  const photoIds = await card.locator('.photo-states li').evaluateAll((els) => els.map((e) => e.dataset.photo));
  const stored = () =>
    page.evaluate(
      (ids) =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open('fieldstar');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const tx = open.result.transaction('photos');
            const store = tx.objectStore('photos');
            let n = 0;
            let left = ids.length;
            for (const id of ids) {
              const r = store.get(id);
              r.onsuccess = () => {
                if (r.result) n++;
                if (--left === 0) resolve(n);
              };
            }
          };
        }),
      photoIds,
    );
  assert.equal(await stored(), 2);

  // Discard asks first; "keep it" changes nothing.
  await card.locator('button.discard').click();
  assert.match(await card.locator('.discard-box').innerText(), /放弃这次验收？手机上的回答和照片都会删除/);
  assert.equal(await card.locator('button.retry').count(), 0);
  assert.deepEqual(await smallTargets('#outbox'), []);
  await card.scrollIntoViewIfNeeded();
  await shot('discard');
  await card.locator('button.keep-discard').click();
  assert.equal(await card.locator('button.confirm-discard').count(), 0);
  assert.equal(await card.locator('button.retry').count(), 1);
  assert.equal(await stored(), 2);
  await card.locator('button.discard').click();
  await card.locator('button.confirm-discard').click();
  await page.waitForSelector('#outbox article.outbox[data-state="error"]', { state: 'detached' });
  assert.equal(await stored(), 0, 'the photos are deleted with the entry');

  assert.deepEqual(pageErrors, []);
  assert.deepEqual(foreign, []);
  assert.deepEqual(cspViolations, []);
});
