// What the content security policy demands of the console's files, checked at the source: no
// inline scripts or styles, no eval, no innerHTML, no element.style, nothing from other origins.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASE } from './lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'server', 'web', 'console');

async function files(dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(p)));
    else out.push({ path: p.slice(root.length + 1), text: await readFile(p, 'utf8') });
  }
  return out;
}

test('the console files use nothing the CSP forbids and load nothing from elsewhere', async () => {
  const bad = [];
  for (const f of await files(root)) {
    const rules = f.path.endsWith('.html')
      ? [
          [/<script(?![^>]*\bsrc=)[^>]*>/i, 'inline script'],
          [/<style/i, 'inline style element'],
          [/\sstyle=/i, 'style attribute'],
          [/\son[a-z]+=/i, 'inline handler'],
        ]
      : f.path.endsWith('.js')
        ? [
            [/\.style\b/, 'element.style'],
            [/setAttribute\(\s*['"]style/, 'style attribute'],
            [/innerHTML|outerHTML\s*=|insertAdjacentHTML/, 'HTML strings'],
            [/\beval\(|new Function\(/, 'eval'],
            [/localStorage\.setItem\((?!KEY)/, 'storage other than the language'],
          ]
        : [];
    rules.push([/(https?:)?\/\/(?!www\.w3\.org\/2000\/svg)[a-z0-9.-]+\.[a-z]{2,}\//i, 'an external URL']);
    for (const [re, what] of rules) {
      const m = re.exec(f.text);
      if (m && !(what === 'an external URL' && /hooks\.example\.org/.test(m[0])))
        bad.push(`${f.path}: ${what} (${m[0]})`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the server sends the console with a strict content security policy', async () => {
  const res = await fetch(`${BASE}/`);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /style-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  for (const asset of ['/app/main.js', '/app/console.css', '/app/views/inspection.js']) {
    const r = await fetch(BASE + asset);
    assert.equal(r.status, 200, asset);
  }
});
