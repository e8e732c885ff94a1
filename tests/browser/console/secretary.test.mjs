// The village secretary's path: members, adding a member and a mentee, logging a visit, and the
// quarter's overdue list; signed in with the keyboard alone.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, shot, closeBrowser, BASE, PASSWORD } from './lib.mjs';

after(closeBrowser);

test('a secretary adds a member and a mentee, logs visits and works down the overdue list', async () => {
  const { page, check, close, allow } = await openPage({ width: 1024, height: 1000 });
  allow(422, /^\/api\/v1\/members\/[^/]+\/mentees$/);
  try {
    await page.goto(BASE + '/');
    // Keyboard only: the username field has the focus, Tab moves on, Enter submits.
    await page.keyboard.type('secretary1');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: '会员与帮带对象' }).waitFor();

    await page.getByLabel('姓名').fill('赵桂兰');
    await page.getByRole('button', { name: '新增', exact: true }).click();
    const card = page.locator('section[data-member="赵桂兰"]');
    await card.waitFor();
    await card.getByRole('button', { name: '新增帮带对象' }).click();
    await card.getByLabel('代号').fill('bad code!');
    await card.getByLabel('称呼').fill('李大姐');
    await card.locator('form').getByRole('button', { name: '新增帮带对象' }).click();
    await card.locator('.field[data-field="code"] .field-error').filter({ hasText: /\S/ }).waitFor();
    await card.getByLabel('代号').fill('ZG-001');
    await card.locator('form').getByRole('button', { name: '新增帮带对象' }).click();
    const mentee = card.locator('li[data-mentee="ZG-001"]');
    await mentee.waitFor();

    await mentee.getByRole('button', { name: '记录对 ZG-001 的走访' }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.getByLabel('类型').selectOption('quarterly_followup');
    await dialog.getByLabel('备注').fill('聊了村里的新政策');
    await shot(page, 'visit');
    await dialog.getByRole('button', { name: '保存走访' }).click();
    await page.getByText('已记录对 ZG-001 的走访。').waitFor();
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'members');

    await page.getByRole('link', { name: '本季随访' }).click();
    await page.getByRole('heading', { level: 1, name: '本季随访' }).waitFor();
    assert.equal(await page.locator('tr[data-mentee="ZG-001"]').count(), 0, 'a followed-up mentee is not overdue');
    const overdue = page.locator('tr[data-mentee]');
    const before = await overdue.count();
    if (before > 0) {
      const code = await overdue.first().getAttribute('data-mentee');
      await overdue.first().getByRole('button', { name: `记录对 ${code} 的走访` }).click();
      await page.locator('dialog[open]').getByRole('button', { name: '保存走访' }).click();
      await page.getByText(`已记录对 ${code} 的走访。`).waitFor();
      assert.equal(await page.locator(`tr[data-mentee="${code}"]`).count(), 0);
    }
    await shot(page, 'overdue');
    await check();
  } finally {
    await close();
  }
});
