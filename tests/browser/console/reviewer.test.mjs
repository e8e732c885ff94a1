// A reviewer logs in at /, finds the waiting inspection's village in her queue, opens it, looks
// at a photo and a duplicate flag, claims, approves, and sees the village's star become 1.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, consoleLogin, seedSubmittedInspection, shot, closeBrowser, BASE, PASSWORD } from './lib.mjs';

after(closeBrowser);

test('a reviewer approves the waiting inspection and sees the village gain its star', async () => {
  // An earlier inspection elsewhere with the same photos makes this one's photos duplicates.
  const other = await seedSubmittedInspection('DEMO-T02-V001');
  const seeded = await seedSubmittedInspection();
  const { page, check, close } = await openPage();
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

    await page.getByRole('button', { name: '认领' }).click();
    await page.getByText('您已认领').waitFor();
    await page.getByLabel('通过', { exact: true }).check();
    await page.getByLabel('审核意见').fill('现场照片与公示栏一致，同意授予一星。');
    await page.getByRole('button', { name: '提交决定' }).click();
    await page.getByText('已通过。').waitFor();
    const level = page.locator('.star-status .star-level');
    await level.waitFor();
    assert.equal(await level.getAttribute('data-level'), '1');
    assert.match(await level.innerText(), /1 星/);
    await shot(page, 'approved');
    await check();
  } finally {
    await close();
  }
});

test('the console switches to English and keeps the choice', async () => {
  const { page, check, close } = await openPage();
  try {
    await page.goto(BASE + '/');
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
