// Shared helpers of the phone app's browser tests: the API as plain fetch, and Chromium.

import { createRequire } from 'node:module';
import path from 'node:path';

export const BASE = process.env.FIELDSTAR_URL;
export const PASSWORD = process.env.FIELDSTAR_DEMO_PASSWORD;
if (!BASE || !PASSWORD) throw new Error('run through tests/browser/phone/run.sh');

const require = createRequire(path.join(process.env.FIELDSTAR_NODE_DIR, 'node_modules', 'noop.js'));
export const { chromium } = require('playwright-core');

export async function login(username) {
  const res = await fetch(`${BASE}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
  return (await res.json()).access_token;
}

/** A request as `token`; resolves to {status, body} (JSON when there is one). */
export async function call(token, method, url, json) {
  const res = await fetch(`${BASE}${url}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(json ? { 'Content-Type': 'application/json' } : {}) },
    body: json ? JSON.stringify(json) : undefined,
  });
  const text = await res.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

/** The demo county's first village gets a pending level-1 declaration (as secretary1). */
export async function seedDeclaration() {
  const secretary = await login('secretary1');
  const me = await call(secretary, 'GET', '/api/v1/me');
  const village = me.body.org_unit;
  const created = await call(secretary, 'POST', '/api/v1/declarations', { village_id: village.id, star_level: 1 });
  if (created.status !== 201) throw new Error(`declare: ${created.status} ${JSON.stringify(created.body)}`);
  return { village, declaration: created.body };
}

export function launch(profile, geolocation) {
  return chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    locale: 'zh-CN',
    // Inspectors are in China: the phone's clock reads the county's day (Asia/Shanghai).
    timezoneId: 'Asia/Shanghai',
    viewport: { width: 412, height: 860 },
    serviceWorkers: 'allow',
    geolocation,
  });
}
