// The phone app's shell on the wire: small, local, and within the strict CSP.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { BASE } from './lib.mjs';

const dir = new URL('../../../server/web/m/', import.meta.url);
const files = fs.readdirSync(dir).sort();

test('the whole app shell is under 200 KB gzip-compressed', async () => {
  let raw = 0;
  let gzip = 0;
  for (const name of files) {
    const res = await fetch(`${BASE}/m/${name === 'index.html' ? '' : name}`);
    assert.equal(res.status, 200, name);
    const bytes = Buffer.from(await res.arrayBuffer());
    raw += bytes.length;
    gzip += zlib.gzipSync(bytes).length;
  }
  console.log(`phone app shell: ${files.length} files, ${raw} bytes, ${gzip} bytes gzip`);
  assert.ok(gzip < 200 * 1024, `${gzip} bytes gzip`);
});

test('pages, manifest and service worker are served with their types and the strict CSP', async () => {
  const page = await fetch(`${BASE}/m/`);
  assert.match(page.headers.get('content-type'), /text\/html/);
  const csp = page.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /style-src 'self'/);
  const manifest = await fetch(`${BASE}/m/manifest.webmanifest`);
  assert.equal(manifest.headers.get('content-type'), 'application/manifest+json');
  const sw = await fetch(`${BASE}/m/sw.js`);
  assert.match(sw.headers.get('content-type'), /javascript/);
  assert.equal(sw.headers.get('cache-control'), 'no-cache');
});

test('no inline script or style, no eval, no remote asset', () => {
  for (const name of files.filter((f) => /\.(html|js|css|webmanifest)$/.test(f))) {
    const text = fs.readFileSync(new URL(name, dir), 'utf8');
    assert.doesNotMatch(text, /https?:\/\//, `${name}: every asset is local`);
    if (name.endsWith('.html')) {
      assert.doesNotMatch(text, /<script(?![^>]*\bsrc=)[^>]*>/i, `${name}: inline script`);
      assert.doesNotMatch(text, /<style|\sstyle=/i, `${name}: inline style`);
      assert.doesNotMatch(text, /\son[a-z]+=/i, `${name}: inline handler`);
    }
    if (name.endsWith('.js')) {
      assert.doesNotMatch(text, /\.style\b|setAttribute\(\s*['"]style|cssText/, `${name}: element.style`);
      assert.doesNotMatch(
        text,
        /\beval\(|new Function\(|innerHTML|outerHTML|insertAdjacentHTML|document\.write/,
        `${name}: eval or HTML strings`,
      );
    }
  }
});

test('the service worker installs every file of the shell', () => {
  const sw = fs.readFileSync(new URL('sw.js', dir), 'utf8');
  const listed = JSON.parse(
    sw
      .match(/const SHELL = (\[[^\]]*\])/)[1]
      .replace(/'/g, '"')
      .replace(/,\s*\]/, ']'),
  );
  const expected = files.filter((f) => f !== 'sw.js').map((f) => (f === 'index.html' ? '/m/' : `/m/${f}`));
  assert.deepEqual([...listed].sort(), expected.sort());
});

test('every word of the app exists in Chinese and in English', async () => {
  const source = fs.readFileSync(new URL('i18n.js', dir));
  const { WORDS } = await import(`data:text/javascript;base64,${source.toString('base64')}`);
  assert.deepEqual(Object.keys(WORDS.en).sort(), Object.keys(WORDS.zh).sort());
  for (const key of Object.keys(WORDS.zh)) {
    assert.equal(typeof WORDS.en[key], typeof WORDS.zh[key], key);
    if (typeof WORDS.zh[key] === 'function')
      assert.equal(WORDS.en[key].length, WORDS.zh[key].length, `${key}: arguments`);
  }
});
