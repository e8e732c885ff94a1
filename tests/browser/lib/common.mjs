// Shared by the console's and the phone app's browser specs (tests/browser/*/lib.mjs build on
// it): the server under test, the API as plain fetch, Chromium through playwright-core,
// screenshots and axe-core. tests/browser/lib/run-common.sh sets the environment read here.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The server under test and the demo users' password (set by run-common.sh). */
export const BASE = process.env.FIELDSTAR_URL;
export const PASSWORD = process.env.FIELDSTAR_DEMO_PASSWORD;
if (!BASE || !PASSWORD) throw new Error('run the specs through tests/browser/{console,phone}/run.sh');

/** Screenshots for the docs go to docs/img/ (FIELDSTAR_SHOTS sends them elsewhere). */
export const SHOTS = process.env.FIELDSTAR_SHOTS || join(here, '..', '..', '..', 'docs', 'img');
export const FIXTURES = join(here, '..', 'fixtures');

/** playwright-core and axe-core live in a cache outside the clone (run-common.sh installs them). */
export const NODE_HOME =
  process.env.FIELDSTAR_NODE_HOME || process.env.FIELDSTAR_NODE_DIR || '/var/tmp/fieldstar-ci-node';
export const { chromium } = createRequire(join(NODE_HOME, 'package.json'))('playwright-core');
export const AXE_PATH = join(NODE_HOME, 'node_modules', 'axe-core', 'axe.min.js');
/** The axe-core script, to inject into a page (`page.addScriptTag({ content })`). */
export const axeSource = () => readFileSync(AXE_PATH, 'utf8');

/** The system Chromium, headless, with nothing of its own going out to the network. */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** The county's users are in China: the browser reads Chinese and the county's day. */
export const LOCALE = 'zh-CN';
export const TIMEZONE = 'Asia/Shanghai';
/** How long one page action or wait may take before the test fails. */
export const ACTION_TIMEOUT_MS = 10_000;

/** A request to the API; `body` is JSON, or raw bytes when a Uint8Array. Resolves to
 *  {status, json, text, headers}: `json` is the parsed body, the text when it is not JSON,
 *  null when empty. */
export async function api(method, path, token, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body instanceof Uint8Array) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(BASE + path, init);
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** A demo user's access token. */
export async function login(username) {
  const res = await api('POST', '/api/v1/auth/login', null, { username, password: PASSWORD });
  assert.equal(res.status, 200, `login ${username}: ${JSON.stringify(res.json)}`);
  return res.json.access_token;
}

/** Saves a PNG of the page as `${SHOTS}/${file}.png`. */
export async function shot(page, file) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${file}.png`), type: 'png' });
}
