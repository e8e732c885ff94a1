// The admin's path: users (list, a refused and an accepted creation, deactivation), the star
// policy with its history and the quarter's verification window, a webhook with its one-time
// secret and delivery log, an org-unit CSV import with line errors, a village's star status, and
// on an inspection: no claim or decision, a wrong approval reopened, a stuck inspection cancelled.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import {
  openPage,
  consoleLogin,
  seedSubmittedInspection,
  decide,
  login,
  api,
  shot,
  closeBrowser,
  BASE,
} from './lib.mjs';

after(closeBrowser);

test('an admin manages users and the star policy', async () => {
  const { page, check, close, allow } = await openPage({ height: 1400 });
  allow(422, /^\/api\/v1\/users$/);
  allow(422, /^\/api\/v1\/quarters\/[^/]+$/);
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
    // A change applies from today and does not shorten what is already running.
    assert.match(await page.locator('.not-retroactive').innerText(), /不追溯/);
    const policyForm = page.locator('form', { has: page.getByLabel('整改期（月）') });
    const months = page.getByLabel('整改期（月）');
    assert.equal(await months.inputValue(), '12');
    await months.fill('6');
    await policyForm.getByRole('button', { name: '保存' }).click();
    await policyForm.getByText('已保存。').waitFor();
    // The history names the change: effective from, values, who, when.
    const history = page.locator('.policy-history tbody tr');
    await history.filter({ hasText: '整改期 6 个月' }).first().waitFor();
    assert.match(await history.first().innerText(), /admin/);
    assert.match(await history.first().innerText(), /整改期 6 个月/);
    await months.fill('12');
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/policy') && r.request().method() === 'PATCH'),
      policyForm.getByRole('button', { name: '保存' }).click(),
    ]);
    await history.filter({ hasText: '整改期 12 个月' }).first().waitFor();
    assert.ok((await history.count()) >= 2, 'both changes are listed');

    // The quarter's verification window: this quarter's, then next quarter's set by the admin.
    const win = page.locator('section.window');
    const opens = win.getByLabel('开始日期');
    await opens.waitFor();
    assert.match(await opens.inputValue(), /^\d{4}-\d{2}-\d{2}$/);
    assert.match(await win.getByLabel('结束日期').inputValue(), /^\d{4}-\d{2}-\d{2}$/);
    const quarters = await win.getByLabel('季度').evaluate((s) => [...s.options].map((o) => o.value));
    await win.getByLabel('季度').selectOption(quarters[0]);
    await page.waitForURL(/#\/policy\?quarter=/);
    const nextWin = page.locator(`section.window form[data-quarter="${quarters[0]}"]`);
    await nextWin.waitFor();
    const first = await nextWin.getByLabel('开始日期').inputValue();
    // A closing day before the opening day is refused beside its field.
    const dayBefore = new Date(Date.parse(first) - 86400e3).toISOString().slice(0, 10);
    await nextWin.getByLabel('结束日期').fill(dayBefore);
    await nextWin.getByRole('button', { name: '保存' }).click();
    await nextWin.locator('.field[data-field="closes_on"] .field-error').filter({ hasText: /\S/ }).waitFor();
    const later = new Date(Date.parse(first) + 20 * 86400e3).toISOString().slice(0, 10);
    await nextWin.getByLabel('结束日期').fill(later);
    await nextWin.getByRole('button', { name: '保存' }).click();
    await nextWin.getByText('已保存。').waitFor();
    assert.match(await nextWin.locator('.window-state').innerText(), /已调整/);
    await shot(page, 'policy');
    await check();
  } finally {
    await close();
  }
});

test('an admin subscribes a webhook, sees its secret once and its delivery log', async () => {
  const received = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
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
    assert.ok(
      received.some((r) => r.event === 'inspection.submitted'),
      'the receiver got the event',
    );

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

test('an admin checks an org-unit CSV line by line, then imports it all at once', async () => {
  const { page, check, close } = await openPage();
  try {
    await consoleLogin(page, 'admin');
    await page.getByRole('link', { name: '导入组织' }).click();
    const header = 'code,name,level,parent_code,lat,lon,radius_m';
    const good = [
      'DEMO-T01-V901,城关新村,village,DEMO-T01,36.41,114.52,1200',
      '"DEMO-T01-V903","城关""东""村",village,DEMO-T01,36.43,114.53,1500',
    ];
    await page
      .getByLabel('CSV 内容')
      .fill(
        [
          header,
          good[0],
          'DEMO-T01-V902,城关北村,hamlet,DEMO-T01,36.42,114.52,',
          'DEMO-T99-V001,无主村,village,DEMO-T99,36.4,114.5,',
          good[1],
        ].join('\n'),
      );
    await page.getByRole('button', { name: '检查' }).click();
    await page.getByText('有 2 行被拒绝，整个文件不会导入。').waitFor();
    assert.equal(await page.getByRole('button', { name: '导入', exact: true }).isVisible(), false);
    assert.equal(await page.locator('tr[data-result="created"]').count(), 2);
    const bad = page.locator('tr[data-result="refused"]');
    assert.deepEqual(await bad.evaluateAll((rows) => rows.map((r) => r.dataset.line)), ['3', '4']);
    assert.match(await bad.nth(1).innerText(), /DEMO-T99/);
    // Nothing was written by the check.
    const none = await api('GET', '/api/v1/org-units?code=DEMO-T01-V901', await login('admin'));
    assert.equal(none.json.items.length, 0);
    await shot(page, 'import');

    await page.getByLabel('CSV 内容').fill([header, ...good].join('\n'));
    await page.getByRole('button', { name: '检查' }).click();
    await page.getByText('检查通过：将新建 2 个').waitFor();
    await page.getByRole('button', { name: '导入', exact: true }).click();
    await page.getByText('已导入：新建 2 个，更新 0 个，0 个不变。').waitFor();

    // A file saved by Excel on a Chinese Windows (GB18030) keeps its names.
    const gbk = Buffer.concat([
      Buffer.from(`${header}\nDEMO-T01-V904,`),
      Buffer.from('cdf5bcd2d7afb4e5', 'hex'),
      Buffer.from(',village,DEMO-T01,36.44,114.5,\n'),
    ]);
    await page.getByLabel('CSV 文件').setInputFiles({ name: 'units.csv', mimeType: 'text/csv', buffer: gbk });
    await page.getByRole('button', { name: '检查' }).click();
    await page.locator('tr[data-result="created"]', { hasText: '王家庄村' }).waitFor();

    // Rename a village and move it to another township.
    await page.getByRole('link', { name: '村庄星级' }).click();
    await page.getByLabel('代码').fill('DEMO-T01-V901');
    await page.getByRole('button', { name: '查找' }).click();
    await page.getByRole('button', { name: '修改 城关新村' }).click();
    const form = page.locator('form.edit-unit');
    await form.getByLabel('名称').fill('城关西村');
    await form.getByLabel('乡镇').selectOption({ index: 1 });
    await form.getByRole('button', { name: '保存' }).click();
    await page.getByText('已保存。').waitFor();
    const moved = await api('GET', '/api/v1/org-units?code=DEMO-T01-V901', await login('admin'));
    assert.equal(moved.json.items[0].name, '城关西村');
    const t01 = await api('GET', '/api/v1/org-units?code=DEMO-T01', await login('admin'));
    assert.notEqual(moved.json.items[0].parent_id, t01.json.items[0].id);

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

test('an admin reads an inspection without claiming it, reopens a wrong approval and cancels a stuck one', async () => {
  // An approval decided by reviewer1, then found wrong.
  const wrong = await seedSubmittedInspection('DEMO-T04-V001');
  await decide(wrong.inspectionId, 'approve', '照片齐全，同意。');
  const stuck = await seedSubmittedInspection('DEMO-T06-V001', { photos: false });
  const { page, check, close } = await openPage({ height: 1200 });
  try {
    await consoleLogin(page, 'admin');
    await page.goto(`${BASE}/#/inspection/${wrong.inspectionId}`);
    await page.getByRole('heading', { level: 1, name: wrong.villageName }).waitFor();
    const history = page.locator('.decisions li[data-decision="approve"]');
    await history.waitFor();
    assert.match(await history.innerText(), /照片齐全，同意。/);
    assert.equal(await page.getByRole('button', { name: '认领' }).count(), 0);
    assert.equal(await page.locator('form.decision-form').count(), 0);

    // The reason is required.
    const reopen = page.locator('form.reopen-form');
    await reopen.getByRole('button', { name: '撤销决定，重新审核' }).click();
    await reopen.locator('.field[data-field="reason"] .field-error').filter({ hasText: '请写明撤销理由。' }).waitFor();
    await reopen.getByLabel('撤销理由').fill('公示牌照片为上季度旧照，不应通过。');
    await reopen.getByRole('button', { name: '撤销决定，重新审核' }).click();
    await page.getByText('已撤销原决定，验收回到审核队列。').waitFor();
    // Back in the queue: the admin still neither claims nor decides, and both records stay.
    await page.locator('.ins-head .badge.status-submitted').waitFor();
    await page.getByText('管理员只查看验收，不认领，也不作审核决定。').waitFor();
    assert.equal(await page.getByRole('button', { name: '认领' }).count(), 0);
    const reopened = page.locator('.decisions li[data-reopened="1"]');
    await reopened.waitFor();
    assert.match(await reopened.innerText(), /admin/);
    assert.match(await reopened.innerText(), /上季度旧照/);
    const admin = await login('admin');
    const view = (await api('GET', `/api/v1/inspections/${wrong.inspectionId}`, admin)).json;
    assert.equal(view.status, 'submitted');
    assert.equal(view.decisions.length, 1);
    assert.ok(view.decisions[0].reopened_at);
    const status = (await api('GET', `/api/v1/villages/${wrong.villageId}/star-status`, admin)).json;
    assert.equal(status.level, 0, 'the level granted by the wrong approval is gone');

    // The stuck inspection (photos never arrived): cancelled after a confirmation.
    await page.goto(`${BASE}/#/inspection/${stuck.inspectionId}`);
    const cancel = page.locator('button.cancel-inspection');
    await cancel.click();
    await page.getByRole('button', { name: '确认取消这次验收？' }).click();
    await page.getByText('已取消这次验收，申报回到待验收。').waitFor();
    await page.locator('.ins-head .badge.status-cancelled').waitFor();
    assert.equal((await api('GET', `/api/v1/inspections/${stuck.inspectionId}`, admin)).json.status, 'cancelled');
    const decls = (await api('GET', `/api/v1/declarations?village=${stuck.villageId}`, admin)).json.items;
    assert.equal(decls.find((d) => d.id === stuck.declarationId).status, 'pending');
    await check();
  } finally {
    await close();
  }
});
