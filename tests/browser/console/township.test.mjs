// Township staff (issue 14): with the county's township pre-check on, a village's declaration
// waits for its township; township1 sends one back with a reason and forwards another, which
// only then reaches the county's inspectors. The admin turns the pre-check on in the policy
// page and off again at the end.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, PASSWORD, api, login, openPage, consoleLogin, shot, closeBrowser } from './lib.mjs';

after(closeBrowser);

async function unit(token, code) {
  const res = await api('GET', `/api/v1/org-units?code=${code}`, token);
  return res.json.items[0];
}

test("township staff check their villages' declarations before the county sees them", async () => {
  const admin = await login('admin');
  const { page, check, close, allow } = await openPage();
  allow(422, /^\/api\/v1\/declarations\/[^/]+\/send-back$/);
  try {
    // The admin turns the pre-check on in the policy page.
    await consoleLogin(page, 'admin');
    await page.goto(`${BASE}/#/policy`);
    const box = page.locator('input[data-procedure="township_precheck"]');
    await box.check();
    await page.locator('form.procedure').getByRole('button', { name: '保存' }).click();
    await page.locator('form.procedure').getByText('已保存').first().waitFor();
    assert.equal((await api('GET', '/api/v1/policy', admin)).json.township_precheck, true);
    await check();
  } finally {
    await close();
  }

  // Two villages of DEMO-T01 declare through their own secretaries.
  const declared = [];
  for (const code of ['DEMO-T01-V011', 'DEMO-T01-V012']) {
    const v = await unit(admin, code);
    const name = `sec-${code.toLowerCase()}`;
    const made = await api('POST', '/api/v1/users', admin, {
      username: name,
      password: PASSWORD,
      role: 'secretary',
      org_unit_id: v.id,
    });
    assert.equal(made.status, 201, JSON.stringify(made.json));
    const d = await api('POST', '/api/v1/declarations', await login(name), { village_id: v.id, star_level: 1 });
    assert.equal(d.status, 201, JSON.stringify(d.json));
    assert.equal(d.json.status, 'awaiting_township');
    declared.push({ ...d.json, name: v.name });
  }
  const inspector = await login('inspector1');
  const worklist = async () =>
    (await api('GET', '/api/v1/inspections/worklist?limit=200', inspector)).json.items.map((i) => i.declaration.id);
  assert.ok(!(await worklist()).includes(declared[0].id), 'not in the worklist before the township forwards it');

  const t = await openPage();
  t.allow(422, /^\/api\/v1\/declarations\/[^/]+\/send-back$/);
  try {
    const p = t.page;
    await consoleLogin(p, 'township1');
    await p.waitForURL(/#\/declarations/);
    const [first, secondOne] = declared.map((d) => p.locator(`tr[data-declaration="${d.id}"]`));
    await first.waitFor();
    await secondOne.waitFor();
    await shot(p, 'township-declarations');
    // Sending back needs a reason.
    await secondOne.getByRole('button', { name: '退回' }).click();
    await secondOne.locator('.field-error').getByText('请说明退回的原因。').waitFor();
    await secondOne.getByLabel('意见').fill('缺少本季度帮带记录');
    await secondOne.getByRole('button', { name: '退回' }).click();
    await p.locator(`tr[data-declaration="${declared[1].id}"]`).waitFor({ state: 'detached' });
    await first.getByRole('button', { name: '转报县里' }).click();
    await p.locator(`tr[data-declaration="${declared[0].id}"]`).waitFor({ state: 'detached' });
    await p.getByText('没有符合条件的申报。').waitFor();
    await t.check();
  } finally {
    await t.close();
  }
  assert.ok((await worklist()).includes(declared[0].id), 'the forwarded declaration reaches the worklist');
  const all = (await api('GET', '/api/v1/declarations?status=sent_back', admin)).json.items;
  const back = all.find((d) => d.id === declared[1].id);
  assert.equal(back?.check_comment, '缺少本季度帮带记录');

  const off = await api('PATCH', '/api/v1/policy', admin, { township_precheck: false });
  assert.equal(off.status, 200);
});
