// Tokens stay in memory: nothing in storage or cookies, the access token is refreshed before it
// expires, a 401 is answered with one refresh and a retry, and a failed refresh asks for a login.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, consoleLogin, closeBrowser } from './lib.mjs';

after(closeBrowser);

/** The policy's first request is answered 401 (as for an expired token); returns how many came. */
async function rejectPolicyOnce(page) {
  let rejected = 0;
  await page.route(/\/api\/v1\/policy$/, async (route) => {
    if (rejected++ === 0)
      await route.fulfill({
        status: 401,
        contentType: 'application/problem+json',
        body: '{"status":401,"title":"Unauthorized","detail":"token expired"}',
      });
    else await route.fallback();
  });
  return () => rejected;
}

test('tokens are kept in memory only and refreshed before they expire', async () => {
  const { page, check, close } = await openPage();
  try {
    await page.clock.install();
    const bearers = [];
    page.on('request', (r) => {
      const auth = r.headers().authorization;
      if (auth) bearers.push(auth);
    });
    await consoleLogin(page, 'reviewer1');
    await page.getByRole('heading', { level: 1, name: '审核队列' }).waitFor();
    const stored = await page.evaluate(
      () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie,
    );
    assert.ok(!/eyJ|token/i.test(stored), `nothing secret is stored: ${stored}`);
    const first = bearers.at(-1);

    // The access token lives 15 minutes; the console refreshes it a minute early.
    const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/refresh') && r.status() === 200);
    await page.clock.fastForward('14:05');
    await (await refreshed).finished();
    // The console keeps the new pair once it has read the body, a moment after the response
    // arrives: a request in that moment may still carry the old (still valid) token.
    for (let i = 0; i < 10 && bearers.at(-1) === first; i++) {
      const name = i % 2 ? '审核队列' : '村庄星级';
      await page.getByRole('link', { name }).click();
      await page.getByRole('heading', { level: 1, name }).waitFor();
      await page.waitForLoadState('networkidle');
    }
    assert.notEqual(bearers.at(-1), first, 'later requests carry the new token');
    await check();
  } finally {
    await close();
  }
});

test('a rejected token is refreshed once and the request retried; a dead session asks for a login', async () => {
  const { page, check, close, allow } = await openPage();
  allow(401, /^\/api\/v1\/(users|policy)(\?.*)?$/);
  allow(401, /^\/api\/v1\/auth\/refresh$/);
  try {
    await consoleLogin(page, 'admin');
    const rejected = await rejectPolicyOnce(page);
    await page.getByRole('link', { name: '星级规则' }).click();
    await page.getByLabel('整改期（月）').waitFor();
    assert.equal(rejected(), 2, 'the request was sent again after the refresh');

    // Refresh refused (say, the user was deactivated): back to the login form with a notice.
    await page.route(/\/api\/v1\/auth\/refresh$/, (route) =>
      route.fulfill({
        status: 401,
        contentType: 'application/problem+json',
        body: '{"status":401,"title":"Unauthorized"}',
      }),
    );
    await page.route(/\/api\/v1\/users(\?|$)/, (route) =>
      route.fulfill({ status: 401, contentType: 'application/problem+json', body: '{"status":401}' }),
    );
    await page.getByRole('link', { name: '用户' }).click();
    await page.getByText('登录已过期，请重新登录。').waitFor();
    await page.getByLabel('用户名').waitFor();
    await check();
  } finally {
    await close();
  }
});

test('a refresh that got no answer keeps the session: the page says so and the next try works', async () => {
  const { page, close } = await openPage();
  try {
    await consoleLogin(page, 'admin');
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // The token is rejected once, and the refresh that follows gets no answer (the network blinked).
    await rejectPolicyOnce(page);
    let refreshes = 0;
    await page.route(/\/api\/v1\/auth\/refresh$/, (route) =>
      refreshes++ === 0 ? route.abort('internetdisconnected') : route.fallback(),
    );
    await page.getByRole('link', { name: '星级规则' }).click();
    await page.getByText('无法连接服务器，请检查网络后重试。').waitFor();
    assert.equal(await page.getByLabel('用户名').count(), 0, 'no login form: the session is not over');
    // Back on the network: the same page opens (one refresh, then the request).
    await page.getByRole('link', { name: '用户' }).click();
    await page.getByRole('link', { name: '星级规则' }).click();
    await page.getByLabel('整改期（月）').waitFor();
    assert.equal(refreshes, 1, 'the token still held: no second refresh was needed');
    // (Chromium logs the aborted refresh as a console error, so `check` is not used here.)
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});
