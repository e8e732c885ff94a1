// The village secretary's path: members, adding a member and a mentee, logging a visit, and the
// quarter's overdue list, signed in with the keyboard alone; and her village's page, where she
// reads the decision and comment on its inspection.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  openPage,
  shot,
  closeBrowser,
  consoleLogin,
  seedSubmittedInspection,
  decide,
  login,
  api,
  BASE,
  PASSWORD,
} from './lib.mjs';

after(closeBrowser);

test('a secretary adds a member and a mentee, logs visits and works down the overdue list', async () => {
  const { page, check, close, allow } = await openPage({ width: 1024, height: 1000 });
  allow(422, /^\/api\/v1\/members\/[^/]+\/mentees$/);
  try {
    await page.goto(`${BASE}/`);
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

    // A member who mentors no one yet is listed as such on the quarter's page.
    await page.getByLabel('姓名').fill('钱秀芳');
    await page.getByRole('button', { name: '新增', exact: true }).click();
    await page.locator('section[data-member="钱秀芳"]').waitFor();

    await page.getByRole('link', { name: '本季督促' }).click();
    await page.getByRole('heading', { level: 1, name: '本季督促' }).waitFor();
    const idle = page.locator('p[data-idle]');
    await idle.waitFor();
    assert.ok(Number(await idle.getAttribute('data-idle')) >= 1, 'members without mentees are counted');
    assert.match(await idle.textContent(), /名会员还没有帮带对象/);
    assert.ok((await page.getByRole('cell', { name: /未帮带/ }).count()) >= 1, 'and marked in the table');
    assert.equal(await page.locator('tr[data-mentee="ZG-001"]').count(), 0, 'a followed-up mentee is not overdue');
    const overdue = page.locator('tr[data-mentee]');
    const before = await overdue.count();
    if (before > 0) {
      const code = await overdue.first().getAttribute('data-mentee');
      await overdue
        .first()
        .getByRole('button', { name: `记录对 ${code} 的走访` })
        .click();
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

/** A decided inspection of secretary1's village, seeded and rejected here: no other spec
 *  declares for her village, so this one needs nothing from them. */
async function decidedInVillage() {
  const id = (await seedSubmittedInspection()).inspectionId;
  await decide(id, 'reject', '宣传资料与上季度相同，本季度未更新。');
  return id;
}

test("a secretary reads the decision and comment on her village's inspection", async () => {
  const id = await decidedInVillage();
  const reviewer = await login('reviewer1');
  const view = (await api('GET', `/api/v1/inspections/${id}`, reviewer)).json;
  const standing = view.decisions.filter((d) => !d.reopened_at).at(-1);
  const { page, check, close } = await openPage();
  try {
    await consoleLogin(page, 'secretary1');
    await page.getByRole('link', { name: '本村星级' }).click();
    await page.locator('.star-status .star-level').waitFor();
    // Her declarations, each status in words, and her inspections.
    const decl = page.locator(`tr[data-declaration="${view.declaration_id}"]`);
    await decl.waitFor();
    assert.match(await decl.innerText(), /已通过|未通过|验收中|待验收/);
    const row = page.locator(`tr[data-inspection="${id}"]`);
    await row.getByRole('link').click();
    await page.waitForURL(new RegExp(`#/inspection/${id}`));
    const entry = page.locator('.decisions li').last();
    await entry.waitFor();
    assert.match(await entry.innerText(), new RegExp(standing.comment.slice(0, 8)));
    // The village's view: the result once decided, never the evidence (answers, photos, flags).
    await page.locator('.facts .badge.pass, .facts .badge.fail').first().waitFor();
    assert.equal(await page.locator('.checklist-item, .thumbs, .flag, .chip').count(), 0);
    // Read-only: no claim, no decision form.
    assert.equal(await page.locator('form.decision-form').count(), 0);
    assert.equal(await page.getByRole('button', { name: '认领' }).count(), 0);
    await check();
  } finally {
    await close();
  }
});

test('a secretary declares from her village page, and a refusal is shown in place', async () => {
  const { page, check, close, allow } = await openPage();
  allow(409, /^\/api\/v1\/declarations$/);
  allow(422, /^\/api\/v1\/declarations$/);
  try {
    await consoleLogin(page, 'secretary1');
    await page.getByRole('link', { name: '本村星级' }).click();
    const form = page.locator('form.declare-form');
    await form.waitFor();
    await form.getByLabel('申报星级').selectOption('1');
    await form.getByRole('button', { name: '提交申报' }).click();
    // The rejected declaration of the test before may or may not leave room for a new one this
    // quarter: either way the answer is shown; a second declaration is always refused.
    await page.locator('form.declare-form .notice').first().waitFor();
    await page.locator('form.declare-form').getByRole('button', { name: '提交申报' }).click();
    const refusal = page.locator('form.declare-form .notice.error');
    await refusal.waitFor();
    // The server's refusal, in the console's language (Chinese).
    assert.match(await refusal.innerText(), /申报|星级/);
    assert.doesNotMatch(await refusal.innerText(), /[A-Za-z]/);
    await check();
  } finally {
    await close();
  }
});
