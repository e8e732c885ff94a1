// Every string key the console uses exists in both languages, and the two tables match.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'server', 'web', 'console');
const { STRINGS } = await import(join(root, 'i18n.js'));

async function sources(dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...(await sources(join(dir, e.name))));
    else if (e.name.endsWith('.js')) out.push(await readFile(join(dir, e.name), 'utf8'));
  }
  return out;
}

test('Chinese and English have the same keys', () => {
  const zh = Object.keys(STRINGS.zh).sort();
  const en = Object.keys(STRINGS.en).sort();
  assert.deepEqual(
    zh.filter((k) => !en.includes(k)),
    [],
    'missing in English',
  );
  assert.deepEqual(
    en.filter((k) => !zh.includes(k)),
    [],
    'missing in Chinese',
  );
});

test('every literal key in the code is in the table', async () => {
  const prefixes = new Set(Object.keys(STRINGS.zh).map((k) => k.split('.')[0]));
  // Wire-format values that look like keys: flag codes and webhook event types.
  const wire =
    /^(photo\.(no_exif|gps_far|time_outside_visit|duplicate|near_duplicate|edited)|inspection\.(submitted|decided|returned)|star_status\.changed)$/;
  const missing = new Set();
  for (const src of await sources(root)) {
    for (const [, key] of src.matchAll(/'([a-z]+\.[a-z_.]+)'/g)) {
      if (prefixes.has(key.split('.')[0]) && !(key in STRINGS.zh) && !key.endsWith('.') && !wire.test(key))
        missing.add(key);
    }
  }
  assert.deepEqual([...missing], []);
});

test('every flag code of the wire format is named and explained', () => {
  const codes = [
    'location.missing',
    'location.outside_geofence',
    'location.low_accuracy',
    'location.mock_suspected',
    'photo.no_exif',
    'photo.gps_far',
    'photo.time_outside_visit',
    'photo.duplicate',
    'photo.near_duplicate',
    'photo.edited',
    'timing.clock_skew',
    'timing.too_fast',
  ];
  for (const c of codes) {
    for (const part of ['name', 'why']) assert.ok(`flag.${c}.${part}` in STRINGS.zh, `flag.${c}.${part}`);
  }
});
