// Benefits: the admin edits the county's catalogue (a refused save shows the server's message
// beside the field, a good one makes a new version, the old one stays readable), and the
// eligibility page lists a village just granted a star with its benefits, in the change list
// too, with CSV and Excel downloads.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { openPage, consoleLogin, seedSubmittedInspection, decide, shot, closeBrowser } from './lib.mjs';

after(closeBrowser);

const VILLAGE = 'DEMO-T04-V005';
const day = (offset = 0) =>
  new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date(Date.now() + offset * 86_400_000));

test('an admin saves the benefit catalogue as a new version, errors shown in place', async () => {
  const { page, check, close, allow } = await openPage({ height: 1600 });
  allow(422, /^\/api\/v1\/benefits$/);
  try {
    await consoleLogin(page, 'admin');
    await page.getByRole('link', { name: '优惠目录' }).click();
    await page.getByRole('heading', { level: 1, name: '星级优惠目录' }).waitFor();
    const form = page.locator('form.benefits-form');
    await form.locator('fieldset.benefit').first().waitFor();
    const before = await form.locator('fieldset.benefit').count();
    assert.ok(before >= 8, `the seeded catalogue: ${before}`);
    assert.equal(
      await form.locator('fieldset.benefit').first().getByLabel('中文名称').inputValue(),
      '新农合、新城合投保费用由县财政负担',
    );
    const version = Number(await page.locator('.catalogue-version').getAttribute('data-version'));

    await form.getByRole('button', { name: '添加优惠' }).click();
    const added = form.locator('fieldset.benefit').last();
    await added.getByLabel('代码').fill('Road Repair');
    await added.getByLabel('中文名称').fill('村道维修补助');
    await added.getByLabel('英文名称').fill('Village road repair grant');
    await added.getByLabel('起始星级').selectOption('2');
    await form.getByRole('button', { name: '保存为新版本' }).click();
    const codeField = added.locator(`.field[data-field="benefits[${before}].code"]`);
    await codeField.locator('.field-error').filter({ hasText: /\S/ }).waitFor();
    assert.equal(await added.getByLabel('代码').getAttribute('aria-invalid'), 'true');
    // The amount is missing too: named beside its own field.
    await added
      .locator(`.field[data-field="benefits[${before}].amount"] .field-error`)
      .filter({ hasText: /\S/ })
      .waitFor();

    await added.getByLabel('代码').fill('road_repair');
    await added.getByLabel('金额或比例').fill('每村 20,000 元');
    await form.getByRole('button', { name: '保存为新版本' }).click();
    await form.getByText(`已保存为第 ${version + 1} 版。`).waitFor();
    assert.equal(await page.locator('.catalogue-version').getAttribute('data-version'), String(version + 1));
    await shot(page, 'benefits');

    // The earlier version stays readable, read only.
    await page.locator('#benefits-version').selectOption(String(version));
    await page.getByText('这是以前的版本，只能查看。').waitFor();
    assert.equal(await page.locator('form.benefits-form fieldset.benefit').count(), before);
    assert.equal(await page.locator('form.benefits-form button[type="submit"]').count(), 0);
    await check();
  } finally {
    await close();
  }
});

test('the eligibility page lists a village granted a star, its change, and downloads', async () => {
  const seeded = await seedSubmittedInspection(VILLAGE);
  await decide(seeded.inspectionId, 'approve', '验收合格');
  const { page, check, close } = await openPage({ height: 1200 });
  try {
    await consoleLogin(page, 'admin');
    await page.getByRole('link', { name: '享受优惠' }).click();
    await page.getByRole('heading', { level: 1, name: '各村享受的优惠' }).waitFor();
    const row = page.locator(`.eligibility-day tr[data-village="${VILLAGE}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-level'), '1');
    assert.match(await row.innerText(), /新农合/);
    assert.match(await page.locator('.eligibility-totals').innerText(), /共 \d+ 个村/);
    assert.equal(await page.locator('#eligibility-as-of').inputValue(), day());

    const [csv] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('.eligibility-day').getByRole('button', { name: '下载 CSV' }).click(),
    ]);
    const text = await readFile(await csv.path(), 'utf8');
    assert.match(text.split('\n')[0], /^\uFEFF乡镇代码,乡镇,村代码,/);
    assert.ok(text.includes(`${VILLAGE},`), 'the village is in the CSV');
    const [xlsx] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('.eligibility-day').getByRole('button', { name: '下载 Excel' }).click(),
    ]);
    assert.match(xlsx.suggestedFilename(), /\.xlsx$/);
    const bytes = await readFile(await xlsx.path());
    assert.equal(bytes.subarray(0, 2).toString(), 'PK');

    // The change list between yesterday and today names the village and what it gained.
    await page.getByLabel('从').fill(day(-1));
    await page.getByLabel('到').fill(day());
    await page.getByRole('button', { name: '查询变动' }).click();
    const change = page.locator(`.eligibility-changes tr[data-village="${VILLAGE}"]`);
    await change.waitFor();
    assert.match(await change.innerText(), /新农合/);
    await page.getByLabel('只看有星级的村').check();
    assert.equal(
      await page.locator('.eligibility-day tbody tr:not(.hidden)').count(),
      await page.locator('.eligibility-day tbody tr:not([data-level="0"])').count(),
    );
    await shot(page, 'eligibility');

    // English too.
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { level: 1, name: 'Benefit eligibility' }).waitFor();
    await page.getByRole('heading', { name: 'Benefit changes' }).waitFor();
    await check();
  } finally {
    await close();
  }
});
