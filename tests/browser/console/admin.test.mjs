// The admin's path: users (list, a refused and an accepted creation, deactivation), the star
// policy, a webhook with its one-time secret and delivery log, an org-unit CSV import with line
// errors, and a village's star status.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { openPage, consoleLogin, seedSubmittedInspection, shot, closeBrowser } from './lib.mjs';

after(closeBrowser);

test('an admin manages users and the star policy', async () => {
  const { page, check, close, allow } = await openPage();
  allow(422, /^\/api\/v1\/users$/);
  try {
    await consoleLogin(page, 'admin');
    await page.getByRole('link', { name: '用户' }).click();
    await page.locator('tr[data-user="reviewer1"]').waitFor();

    const form = page.locator('form', { has: page.getByRole('heading', { name: '新建用户' }) });
    await form.getByLabel('用户名').fill('inspector9');
    await form.getByLabel('初始密码').fill('short');
    await form.getByRole('button', { name: '创建' }).click();
    // The server's message appears beside the password field, which takes the focus.
    const passwordField = form.locator('.field[data-field="password"]');
    await passwordField.locator('.field-error').filter({ hasText: /\S/ }).waitFor();
    assert.equal(await form.getByLabel('初始密码').getAttribute('aria-invalid'), 'true');

    await form.getByLabel('初始密码').fill('a-long-enough-password');
    await form.getByLabel('角色').selectOption('inspector');
    await form.getByRole('button', { name: '创建' }).click();
    await page.getByText('已创建 inspector9').waitFor();
    const row = page.locator('tr[data-user="inspector9"]');
    await row.getByRole('button', { name: '停用' }).click();
    await row.getByText('已停用').waitFor();
    await shot(page, 'users');

    await page.getByRole('link', { name: '星级规则' }).click();
    const months = page.getByLabel('整改期（月）');
    assert.equal(await months.inputValue(), '12');
    await months.fill('6');
    await page.getByRole('button', { name: '保存' }).click();
    await page.getByText('已保存。').waitFor();
    await shot(page, 'policy');
    await months.fill('12');
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/policy') && r.request().method() === 'PATCH'),
      page.getByRole('button', { name: '保存' }).click(),
    ]);
    await check();
  } finally {
    await close();
  }
});

test('an admin subscribes a webhook, sees its secret once and its delivery log', async () => {
  const received = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ event: req.headers['x-fieldstar-event'], body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise((r) => hook.listen(0, '127.0.0.1', r));
  const { page, check, close } = await openPage();
  try {
    await consoleLogin(page, 'admin');
    await page.getByRole('link', { name: 'Webhook' }).click();
    await page.getByLabel('地址').fill(`http://127.0.0.1:${hook.address().port}/fieldstar`);
    await page.getByRole('button', { name: '订阅' }).click();
    const secret = page.locator('[data-secret]');
    await secret.waitFor();
    assert.match(await secret.innerText(), /^[0-9a-f]{64}$/);

    // Something happens in the county: an inspection is submitted.
    await seedSubmittedInspection('DEMO-T03-V001');
    for (let i = 0; i < 100 && !received.some((r) => r.event === 'inspection.submitted'); i += 1) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(received.some((r) => r.event === 'inspection.submitted'), 'the receiver got the event');

    await page.getByRole('button', { name: '投递记录' }).first().click();
    await page.locator('.deliveries').getByText('HTTP 200').first().waitFor();
    await page.locator('.deliveries').scrollIntoViewIfNeeded();
    await shot(page, 'webhooks');
    // Gone after a reload: the secret is never shown again.
    await page.reload();
    await consoleLogin(page, 'admin');
    await page.goto(page.url().replace(/#.*/, '#/webhooks'));
    await page.locator('tr[data-webhook]').first().waitFor();
    assert.equal(await page.locator('[data-secret]').count(), 0);
    await check();
  } finally {
    await close();
    hook.close();
  }
});

test('an admin imports org units from CSV and sees each bad line named', async () => {
  const { page, check, close, allow } = await openPage();
  allow(422, /^\/api\/v1\/org-units$/);
  try {
    await consoleLogin(page, 'admin');
    await page.getByRole('link', { name: '导入组织' }).click();
    await page.getByLabel('CSV 内容').fill([
      'code,name,level,parent_code,lat,lon,radius_m',
      'DEMO-T01-V901,城关新村,village,DEMO-T01,36.41,114.52,1200',
      'DEMO-T01-V902,城关北村,hamlet,DEMO-T01,36.42,114.52,',
      'DEMO-T99-V001,无主村,village,DEMO-T99,36.4,114.5,',
      '"DEMO-T01-V903","城关""东""村",village,DEMO-T01,36.43,114.53,1500',
    ].join('\n'));
    await page.getByRole('button', { name: '开始导入' }).click();
    await page.getByText('完成：创建 2 行，跳过 0 行，出错 2 行。').waitFor();
    assert.equal(await page.locator('tr[data-result="ok"]').count(), 2);
    const bad = page.locator('tr[data-result="fail"]');
    assert.deepEqual(await bad.evaluateAll((rows) => rows.map((r) => r.dataset.line)), ['3', '4']);
    assert.match(await bad.nth(1).innerText(), /DEMO-T99/);
    await shot(page, 'import');

    await page.getByRole('link', { name: '村庄星级' }).click();
    await page.getByLabel('代码').fill('DEMO-T01-V903');
    await page.getByRole('button', { name: '查找' }).click();
    const row = page.locator('tbody tr', { hasText: '城关"东"村' });
    await row.getByRole('button', { name: '星级状态' }).click();
    await page.locator('.star-level[data-level="0"]').waitFor();
    await check();
  } finally {
    await close();
  }
});
