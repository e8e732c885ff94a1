// A request that gets no answer at all (a connection left open and silent on a weak signal) is
// given up after its wait, so the outbox goes on instead of waiting for it until the app closes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BASE, PASSWORD, launch } from './lib.mjs';

let context;
let page;

before(async () => {
  const profile = fs.mkdtempSync(path.join(process.env.FIELDSTAR_CHROMIUM_PROFILE, 'stall-'));
  context = await launch(profile, { latitude: 30, longitude: 120, accuracy: 15 });
  page = context.pages()[0] || (await context.newPage());
});

after(async () => {
  await context?.close();
});

test('a request without an answer is given up after its wait, as a lost network', { timeout: 90_000 }, async () => {
  await page.goto(`${BASE}/m/`);
  await page.fill('#login input[name=username]', 'inspector1');
  await page.fill('#login input[name=password]', PASSWORD);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#worklist');

  // The server never answers /me: the request stays open and silent.
  let seen = 0;
  await context.route('**/api/v1/me', () => {
    seen++;
  });
  const outcome = await page.evaluate(async () => {
    const api = await import('/m/api.js');
    const started = performance.now();
    try {
      await api.request('/me');
      return { answered: true };
    } catch (e) {
      return { network: e.network === true, ms: performance.now() - started, wait: api.ANSWER_WITHIN_MS };
    }
  });
  await context.unrouteAll({ behavior: 'ignoreErrors' });
  assert.equal(seen, 1, 'the request went out');
  assert.equal(outcome.network, true, JSON.stringify(outcome));
  assert.ok(outcome.ms >= outcome.wait && outcome.ms < outcome.wait + 10_000, JSON.stringify(outcome));

  // The same request, answered, goes through.
  const me = await page.evaluate(async () => (await (await import('/m/api.js')).getJson('/me')).data.username);
  assert.equal(me, 'inspector1');
});
