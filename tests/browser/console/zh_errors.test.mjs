// The console in Chinese shows the server's own words (issue 17): three refusals the server
// makes (a return without a comment, a short password, a webhook whose host cannot be reached)
// appear beside their fields in Chinese, with no Latin-script message on the page.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, consoleLogin, seedSubmittedInspection, closeBrowser, BASE } from './lib.mjs';

after(closeBrowser);

/** The error texts on the page: field messages and error notices. */
async function errorTexts(page) {
  return page
    .locator('.field-error, .notice.error')
    .evaluateAll((els) => els.map((e) => e.textContent.trim()).filter(Boolean));
}

function assertChinese(texts, what) {
  assert.ok(texts.length > 0, `${what}: an error is shown`);
  for (const text of texts) {
    assert.match(text, /[\u4e00-\u9fff]/, `${what}: ${text}`);
    assert.doesNotMatch(text, /[A-Za-z]/, `${what}: ${text}`);
  }
}

test('server refusals read in Chinese in the Chinese console', async () => {
  const seeded = await seedSubmittedInspection('DEMO-T02-V002');
  const { page, check, close, allow } = await openPage({ height: 1400 });
  allow(422, /^\/api\/v1\/inspections\/[^/]+\/decision$/);
  allow(422, /^\/api\/v1\/users$/);
  allow(422, /^\/api\/v1\/webhooks$/);
  const languages = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/v1/')) languages.push(r.headers()['accept-language'] ?? '');
  });
  try {
    // An English console switched to Chinese, as a user does.
    await page.goto(`${BASE}/`);
    await page.evaluate(() => localStorage.setItem('fieldstar.console.lang', 'en'));
    await consoleLogin(page, 'admin');
    await page.locator('header').getByRole('button', { name: '中文' }).click();
    await page.getByRole('link', { name: '用户' }).waitFor();
    languages.length = 0;

    // 1. A password that is too short.
    await page.getByRole('link', { name: '用户' }).click();
    const users = page.locator('form', { has: page.getByRole('heading', { name: '新建用户' }) });
    await users.getByLabel('用户名').fill('inspector-zh');
    await users.getByLabel('初始密码').fill('short');
    await users.getByRole('button', { name: '创建' }).click();
    const pw = users.locator('.field[data-field="password"] .field-error');
    await pw.filter({ hasText: /\S/ }).waitFor();
    assert.equal((await pw.innerText()).trim(), '至少 10 个字符');
    assertChinese(await errorTexts(page), 'password');

    // 2. A webhook whose host cannot be resolved: no raw resolver error.
    await page.getByRole('link', { name: 'Webhook' }).click();
    await page.getByLabel('地址').fill('http://no-such-host.invalid/hook');
    await page.getByRole('button', { name: '订阅' }).click();
    const url = page.locator('.field[data-field="url"] .field-error, .notice.error').first();
    await url.filter({ hasText: /\S/ }).waitFor({ timeout: 15_000 });
    assertChinese(await errorTexts(page), 'webhook');
    await check();
  } finally {
    await close();
  }

  // 3. A reviewer returns the inspection without saying why.
  const second = await openPage({ height: 1400 });
  second.allow(422, /^\/api\/v1\/inspections\/[^/]+\/decision$/);
  try {
    const p = second.page;
    await consoleLogin(p, 'reviewer1');
    await p.goto(p.url().replace(/#.*/, `#/inspection/${seeded.inspectionId}`));
    const form = p.locator('form.decision-form');
    await form.waitFor();
    await p.getByLabel('退回验收员', { exact: true }).check();
    await p.getByRole('button', { name: '提交决定' }).click();
    const comment = form.locator('.field[data-field="comment"] .field-error');
    await comment.filter({ hasText: /\S/ }).waitFor();
    assert.match(await comment.innerText(), /退回验收员须说明理由/);
    assertChinese(await errorTexts(p), 'return');
    await second.check();
  } finally {
    await second.close();
  }
  assert.ok(languages.length > 0 && languages.every((l) => l.startsWith('zh')), languages.join(' | '));
});
