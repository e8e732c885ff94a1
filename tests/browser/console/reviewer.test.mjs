// A reviewer logs in at /, finds the waiting inspection's village in her queue, opens it (which
// claims it), looks at a photo and a duplicate flag, acknowledges the alerts, approves, and sees
// the village's star become 1 and the decision in the history. A failing inspection cannot be
// approved and says why; a second reviewer sees who holds the claim.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, consoleLogin, seedSubmittedInspection, shot, closeBrowser, BASE, PASSWORD } from './lib.mjs';
import { login, api } from './lib.mjs';

after(closeBrowser);

test('a reviewer approves the waiting inspection and sees the village gain its star', async () => {
  // An earlier inspection elsewhere with the same photos makes this one's photos duplicates.
  const other = await seedSubmittedInspection('DEMO-T02-V001');
  // A village of its own (not secretary1's, which the secretary's spec declares for): the star
  // it gains is this spec's alone, whichever specs ran before.
  const seeded = await seedSubmittedInspection('DEMO-T08-V001');
  const { page, check, close, allow } = await openPage();
  // The approval without a comment is refused in place (422) before the one that goes through.
  allow(422, /^\/api\/v1\/inspections\/[^/]+\/decision$/);
  try {
    await consoleLogin(page, 'reviewer1');
    await page.waitForURL(/#\/queue/);
    const row = page.locator(`tr[data-inspection="${seeded.inspectionId}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), new RegExp(seeded.villageName));
    await page.locator(`tr[data-inspection="${other.inspectionId}"]`).waitFor();
    await page.getByLabel('排序').selectOption('flags');
    await page.waitForURL(/sort=flags/);
    await row.waitFor();
    await shot(page, 'queue');

    await row.getByRole('link', { name: seeded.villageName, exact: true }).click();
    await page.waitForURL(new RegExp(`#/inspection/${seeded.inspectionId}`));
    await page.getByRole('heading', { level: 1, name: seeded.villageName }).waitFor();
    // Answers beside the checklist, in Chinese labels from the template.
    const board = page.locator('.checklist-item[data-item="board_posted"]');
    await board.waitFor();
    assert.match(await board.innerText(), /是/);
    // Thumbnails arrive through the token as blob: URLs.
    const thumb = board.locator('button.thumb img');
    await thumb.waitFor();
    assert.match(await thumb.getAttribute('src'), /^blob:/);
    // The duplicate flag explains itself and links to the other inspection.
    const dup = page.locator('li[data-flag="photo.duplicate"]').first();
    await dup.waitFor();
    assert.match(await dup.innerText(), /重复照片/);
    const otherHref = await dup.getByRole('link').getAttribute('href');
    assert.match(otherHref, /^#\/inspection\/[0-9a-f-]{36}$/);
    assert.notEqual(otherHref, `#/inspection/${seeded.inspectionId}`);
    await shot(page, 'inspection');

    // Thumbnail → display → original in the viewer.
    await board.locator('button.thumb').click();
    const dialog = page.locator('dialog[open]');
    await dialog.locator('img[src^="blob:"]').waitFor();
    await dialog.getByRole('button', { name: '查看原图' }).click();
    await dialog.locator('img[src^="blob:"]').waitFor();
    await dialog.getByRole('button', { name: '关闭' }).click();
    await dialog.waitFor({ state: 'detached' }).catch(() => {});

    // Side by side with the other inspection's photo.
    await dup.getByRole('button', { name: '并排对比' }).click();
    await page.locator('dialog[open] figure img[src^="blob:"]').nth(1).waitFor();
    await shot(page, 'duplicate');
    await page.keyboard.press('Escape');

    // Opening the inspection claimed it.
    await page.locator('.claim-info[data-claim="mine"]').getByText('您已认领').waitFor();
    const form = page.locator('form.decision-form');
    // The duplicate photo is an alert: approving asks to acknowledge each alert, in place.
    const ack = form.locator('.field[data-field="acknowledged_flags"]');
    assert.ok(await ack.isHidden());
    await page.getByLabel('通过', { exact: true }).check();
    await ack.waitFor();
    const boxes = ack.locator('input[type=checkbox]');
    const codes = await boxes.evaluateAll((els) => els.map((e) => e.value));
    assert.ok(codes.includes('photo.duplicate'), codes.join());
    assert.match(await ack.innerText(), /已核查：重复照片/);
    await page.getByRole('button', { name: '提交决定' }).click();
    await ack.locator('.field-error').filter({ hasText: '请逐项确认每个严重疑点。' }).waitFor();
    for (let i = 0; i < codes.length; i += 1) await boxes.nth(i).check();
    // Without a comment the server refuses the approval; its message appears beside the comment.
    await page.getByRole('button', { name: '提交决定' }).click();
    await form.locator('.field[data-field="comment"] .field-error').filter({ hasText: /\S/ }).waitFor();
    assert.equal(await page.getByLabel('审核意见').getAttribute('aria-invalid'), 'true');
    await page.getByLabel('审核意见').fill('现场照片与公示栏一致，重复照片系同一块公示牌，已核实，同意授予一星。');
    await page.getByRole('button', { name: '提交决定' }).click();
    // Joint approval: the department's approval waits for the association's; no star yet.
    await page.getByText('已记录您的批准。还需县计生协批准，星级才会变更。').waitFor();
    await check();
  } finally {
    await close();
  }

  // The association's reviewer finds it in her queue, marked with the approval it needs.
  const second = await openPage();
  second.allow(422, /^\/api\/v1\/inspections\/[^/]+\/decision$/);
  try {
    const p2 = second.page;
    await consoleLogin(p2, 'reviewer2');
    await p2.waitForURL(/#\/queue/);
    const row = p2.locator(`tr[data-inspection="${seeded.inspectionId}"]`);
    await row.waitFor();
    assert.match(await row.locator('.awaiting-body').innerText(), /待县计生协批准/);
    await row.getByRole('link', { name: seeded.villageName, exact: true }).click();
    await p2.locator('.approval-list li[data-body="department"]').getByText('县人口计生部门已批准').waitFor();
    assert.match(await p2.locator('.awaiting-body').innerText(), /等待县计生协批准/);
    await p2.locator('.claim-info[data-claim="mine"]').waitFor();
    const form = p2.locator('form.decision-form');
    await p2.getByLabel('通过', { exact: true }).check();
    const boxes = form.locator('.field[data-field="acknowledged_flags"] input[type=checkbox]');
    for (let i = 0; i < (await boxes.count()); i += 1) await boxes.nth(i).check();
    await p2.getByLabel('审核意见').fill('县计生协复核：公示牌为同一块，同意授予一星。');
    await p2.getByRole('button', { name: '提交决定' }).click();
    await p2.getByText('已通过。').waitFor();
    // The decision joins the history, with the acknowledged alerts.
    const entry = p2.locator('.decisions li[data-decision="approve"]');
    await entry.waitFor();
    assert.match(await entry.innerText(), /reviewer2/);
    assert.match(await entry.innerText(), /县计生协复核/);
    assert.match(await entry.innerText(), /重复照片/);
    const level = p2.locator('.star-status .star-level');
    await level.waitFor();
    assert.equal(await level.getAttribute('data-level'), '1');
    assert.match(await level.innerText(), /1 星/);
    await shot(p2, 'approved');
    await second.check();
  } finally {
    await second.close();
  }
});

test('the console switches to English and keeps the choice', async () => {
  const { page, check, close } = await openPage();
  try {
    await page.goto(`${BASE}/`);
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByLabel('Username').fill('reviewer1');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Review queue' }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    await page.getByRole('button', { name: '中文' }).click();
    await page.getByRole('heading', { name: '审核队列' }).waitFor();
    await check();
  } finally {
    await close();
  }
});

test('a failing inspection cannot be approved, and the page names the failing items', async () => {
  const seeded = await seedSubmittedInspection('DEMO-T05-V001', { failing: true });
  const { page, check, close } = await openPage();
  try {
    await consoleLogin(page, 'reviewer1');
    await page.goto(`${BASE}/#/inspection/${seeded.inspectionId}`);
    await page.locator('.claim-info[data-claim="mine"]').waitFor();
    const approve = page.getByLabel('通过', { exact: true });
    assert.ok(await approve.isDisabled(), 'approve is disabled');
    const why = page.locator('.approve-blocked');
    assert.match(await why.innerText(), /不能通过/);
    // By the checklist's own labels.
    assert.match(await why.innerText(), /本季度承诺的优惠政策已兑现落实/);
    assert.match(await why.innerText(), /宣传标语、宣传栏或宣传资料已张贴摆放/);
    assert.equal(await why.locator('li[data-item="policies_honoured"]').count(), 1);
    // Rejecting stays possible.
    assert.ok(await page.getByLabel('不通过', { exact: true }).isEnabled());
    await check();
  } finally {
    await close();
  }

  // A second reviewer sees who holds it and cannot decide.
  const second = await openPage();
  second.allow(409, /^\/api\/v1\/inspections\/[^/]+\/claim$/);
  try {
    await consoleLogin(second.page, 'reviewer2');
    await second.page.goto(`${BASE}/#/inspection/${seeded.inspectionId}`);
    const info = second.page.locator('.claim-info[data-claim="other"]');
    await info.waitFor();
    assert.match(await info.innerText(), /reviewer1 已认领/);
    assert.ok(await second.page.getByRole('button', { name: '提交决定' }).isDisabled());
    await second.check();
  } finally {
    await second.close();
  }
  // Through the API too: approving it is refused, naming the failing items.
  const reviewer = await login('reviewer1');
  const refused = await api('POST', `/api/v1/inspections/${seeded.inspectionId}/decision`, reviewer, {
    decision: 'approve',
    comment: 'x',
  });
  assert.equal(refused.status, 422);
  assert.equal(refused.json.code, 'decision.checklist_failed');
  assert.ok(refused.json.failing_items.includes('policies_honoured'), JSON.stringify(refused.json));
});
