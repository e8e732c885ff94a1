// The phone's checklist rules (server/web/m/checklist.js) against the server's: for many
// generated answer sets, the phone names exactly the fields and messages the server's 422 does.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { login, call } from './lib.mjs';

// The app's modules are plain ES modules in .js files, served as they are; load them as such.
const load = (name) => import(`data:text/javascript;base64,${fs.readFileSync(new URL(`../../../server/web/m/${name}`, import.meta.url)).toString('base64')}`);
const cl = await load('checklist.js');
const { haversine, positionWarnings } = await load('geo.js');

let inspector;
let template;
let declaration;

before(async () => {
  // A pending level-1 declaration of the demo county's second village, made by the admin.
  const admin = await login('admin');
  const villages = await call(admin, 'GET', '/api/v1/org-units?code=DEMO-T01-V002');
  const village = villages.body.items[0];
  const created = await call(admin, 'POST', '/api/v1/declarations', { village_id: village.id, star_level: 1 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  declaration = created.body;
  inspector = await login('inspector1');
  const res = await call(inspector, 'GET', '/api/v1/checklists/star-1/versions/1');
  assert.equal(res.status, 200);
  template = res.body;
  // The template is revalidated with its ETag.
  const again = await fetch(`${process.env.FIELDSTAR_URL}/api/v1/checklists/star-1/versions/1`, {
    headers: { Authorization: `Bearer ${inspector}`, 'If-None-Match': res.headers.get('etag') },
  });
  assert.equal(again.status, 304);
});

/** A deterministic pseudo-random generator (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An answer for `it`: mostly fitting, sometimes wrong in one of the ways the server refuses. */
function answerFor(it, r) {
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const ids = (it.options || []).map((o) => o.id);
  const roll = r();
  if (roll < 0.15) return undefined;
  if (roll < 0.2) return null;
  if (roll < 0.3) return pick([true, 'yes', 7, -1, 1e9, 2.5, [], {}, 'x'.repeat(2001), '文'.repeat(2000), ['slogans', 'slogans'], ['nope']]);
  switch (it.kind) {
    case 'yes_no': return r() < 0.5;
    case 'number': return pick([0, 1, 2, 3, 4, 20, 21, -1, 2.5]);
    case 'choice': return pick(ids);
    case 'multi_choice': return ids.filter(() => r() < 0.5);
    case 'text': return pick(['', 'fine', '村委会配合良好。']);
    default: return pick([true, 1, 'x']);
  }
}

function answers(seed) {
  const r = rng(seed);
  const out = {};
  for (const it of cl.items(template)) {
    const v = answerFor(it, r);
    if (v !== undefined) out[it.id] = v;
  }
  if (r() < 0.1) out.not_an_item = true;
  return out;
}

const sentinel = { id: '00000000-0000-4000-8000-000000000000', item: 'not_an_item_x', sha256: '0'.repeat(64) };

test('the phone refuses exactly what the server refuses', { timeout: 60_000 }, async () => {
  const id = crypto.randomUUID();
  const rules = new Set();
  for (let seed = 1; seed <= 80; seed++) {
    const a = answers(seed);
    // Photos for some items; a sentinel photo on no item makes every PUT fail, so none is stored.
    const photos = cl.items(template).filter((it) => (seed + it.id.length) % 3 === 0)
      .map((it, k) => ({ id: `00000000-0000-4000-8000-${String(seed * 100 + k).padStart(12, '0')}`, item: it.id, sha256: 'a'.repeat(64) }));
    photos.push(sentinel);
    const body = {
      declaration_id: declaration.id,
      checklist: { code: 'star-1', version: 1 },
      started_at: new Date(Date.now() - 3600e3).toISOString(),
      submitted_at: new Date().toISOString(),
      answers: a,
      photos,
    };
    const res = await call(inspector, 'PUT', `/api/v1/inspections/${id}`, body);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    const server = res.body.errors.map((e) => `${e.field}: ${e.message}`).sort();
    const errors = [
      ...cl.validateAnswers(template, a),
      ...cl.validateManifest(template, a, photos.map((p) => p.item)),
    ];
    errors.forEach((e) => rules.add(e.rule));
    const phone = errors.map((e) => `${e.field}: ${e.message}`).sort();
    assert.deepEqual(phone, server, `answers ${JSON.stringify(a)}`);
  }
  // The generated answers went through every kind of refusal.
  for (const rule of ['required', 'bool', 'number', 'range', 'choice', 'multi', 'twice', 'string', 'text_long',
    'hidden', 'unknown', 'computed', 'photo_answer', 'photos_min', 'photo_hidden']) {
    assert.ok(rules.has(rule), `no case exercised ${rule}: ${[...rules]}`);
  }
});

test('what the phone sends holds only visible answerable items', () => {
  const draft = {
    board_posted: true, why_not_posted: 'stale', policy_count: 3, followup_coverage: 1,
    outreach_displayed: false, outreach_kinds: ['slogans'], outreach_photos: 'x', inspector_notes: '',
  };
  assert.deepEqual(cl.answersToSend(template, draft), { board_posted: true, policy_count: 3, outreach_displayed: false });
});

test('text length counts characters as the server does, not UTF-16 units', () => {
  const notes = cl.item(template, 'inspector_notes');
  assert.equal(cl.checkKind(notes, '😀'.repeat(2000)), null);
  assert.match(cl.checkKind(notes, '😀'.repeat(2001)).message, /at most 2000 characters/);
});

test('the geofence warning uses the distance to the village centre', () => {
  const village = { lat: 36.37, lon: 114.38, radius_m: 1500 };
  assert.ok(Math.abs(haversine({ lat: 0, lon: 0 }, { lat: 1, lon: 0 }) - 111195) < 5);
  assert.deepEqual(positionWarnings({ lat: 36.37, lon: 114.38, accuracy_m: 10 }, village), []);
  const far = positionWarnings({ lat: 36.39, lon: 114.38, accuracy_m: 150 }, village).map((w) => w.code);
  assert.deepEqual(far, ['poor_accuracy', 'outside_village']);
});
