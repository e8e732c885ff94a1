// The county leaders' dashboard draws its charts as SVG, exports CSV, and fits a tablet.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { openPage, consoleLogin, seedSubmittedInspection, decide, shot, closeBrowser } from './lib.mjs';

after(closeBrowser);

test('the dashboard draws star levels, coverage and reviews as SVG charts', async () => {
  // A village of its own gains a star this quarter, so the charts have a decision to draw
  // whichever specs ran before.
  const seeded = await seedSubmittedInspection('DEMO-T09-V001');
  await decide(seeded.inspectionId, 'approve', '验收合格，同意授予一星。');
  const { page, check, close } = await openPage({ width: 1280, height: 1100 });
  try {
    await consoleLogin(page, 'admin');
    await page.getByRole('heading', { level: 1, name: '统计看板' }).waitFor();
    const coverage = page.locator('section[data-report="mentoring"]');
    const svg = coverage.locator('svg[role="img"]');
    await svg.waitFor();
    assert.ok((await svg.locator('rect').count()) >= 19, 'one bar per township');
    assert.match(await svg.locator('title').first().textContent(), /覆盖率/);
    for (const name of ['stars', 'reviews']) {
      const part = page.locator(`section[data-report="${name}"]`);
      await part.locator('svg, .empty').first().waitFor();
      if (await part.locator('svg').count()) {
        assert.ok((await part.locator('svg rect').count()) > 0, `${name} has bars`);
      }
    }
    await shot(page, 'dashboard');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      coverage.getByRole('button', { name: '下载 CSV' }).click(),
    ]);
    const csv = await readFile(await download.path(), 'utf8');
    // A byte-order mark for Excel and WPS, and the header in the console's language.
    assert.match(csv.split('\n')[0], /^\uFEFF季度,乡镇代码,/);
    await check();
  } finally {
    await close();
  }
});

// The report shapes the console is written against (GET /api/v1/reports/stars and …/reviews).
const SAMPLE_STARS = {
  quarter: '2026-Q4',
  previous_quarter: '2026-Q3',
  org_unit: { id: 'county', code: 'DEMO', name: '示范县', level: 'county' },
  totals: { villages: 60, levels: { 0: 31, 1: 18, 2: 8, 3: 3 }, up: 7, down: 2 },
  townships: [
    {
      township_id: 't1',
      code: 'DEMO-T01',
      name: '城关镇',
      villages: 22,
      levels: { 0: 8, 1: 8, 2: 4, 3: 2 },
      up: 3,
      down: 1,
    },
    {
      township_id: 't2',
      code: 'DEMO-T02',
      name: '东关镇',
      villages: 20,
      levels: { 0: 11, 1: 6, 2: 2, 3: 1 },
      up: 2,
      down: 0,
    },
    {
      township_id: 't3',
      code: 'DEMO-T03',
      name: '西岗镇',
      villages: 18,
      levels: { 0: 12, 1: 4, 2: 2, 3: 0 },
      up: 2,
      down: 1,
    },
  ],
};
const SAMPLE_REVIEWS = {
  quarter: '2026-Q4',
  submitted: 41,
  pending: 6,
  decided: 35,
  approved: 27,
  rejected: 5,
  returned: 3,
  approval_rate: 27 / 35,
  turnaround_hours: { median: 19.5, p90: 71.25 },
  flags: [
    { code: 'photo.no_exif', count: 14 },
    { code: 'photo.time_outside_visit', count: 6 },
    { code: 'location.outside_geofence', count: 2 },
  ],
};

test('the dashboard draws the star and review reports of the agreed shapes', async () => {
  const { page, check, close } = await openPage({ width: 1280, height: 1500 });
  try {
    await page.route(/\/api\/v1\/reports\/stars(\?|$)/, (route) => route.fulfill({ json: SAMPLE_STARS }));
    await page.route(/\/api\/v1\/reports\/reviews(\?|$)/, (route) => route.fulfill({ json: SAMPLE_REVIEWS }));
    await consoleLogin(page, 'admin');
    const stars = page.locator('section[data-report="stars"] svg');
    await stars.waitFor();
    // One segment per township and level that has villages, and a legend square per level.
    assert.equal(await stars.locator('rect.lvl3').count(), 2 + 1);
    assert.match(await stars.innerHTML(), /城关镇 · 2 星: 4/);
    const reviews = page.locator('section[data-report="reviews"]');
    assert.equal(await reviews.locator('svg').count(), 3);
    assert.match(await page.locator('.kpis').innerText(), /77%/);
    assert.match(await page.locator('.kpis').innerText(), /19\.5 小时/);
    await shot(page, 'dashboard-sample');
    await check();
  } finally {
    await close();
  }
});

test('on a tablet the queue and the dashboard fit the screen', async () => {
  const { page, check, close } = await openPage({ width: 820, height: 1180 });
  try {
    await consoleLogin(page, 'reviewer1');
    await page.getByRole('heading', { level: 1, name: '审核队列' }).waitFor();
    await page.locator('tbody tr, .empty').first().waitFor();
    const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    assert.ok(await fits(), 'no sideways scrolling on the queue');
    await shot(page, 'tablet-queue');
    await page.getByRole('link', { name: '统计看板' }).click();
    await page.locator('section[data-report="mentoring"] svg').waitFor();
    assert.ok(await fits(), 'no sideways scrolling on the dashboard');
    await check();
  } finally {
    await close();
  }
});
