// The phone's checklist rules (server/web/m/checklist.js) against the server's: for many
// generated answer sets, the phone names exactly the fields and messages the server's 422 does.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { login, call, withExif } from './lib.mjs';

// The app's modules are plain ES modules in .js files, served as they are; load them as such.
const load = (name) =>
  import(
    `data:text/javascript;base64,${fs.readFileSync(new URL(`../../../server/web/m/${name}`, import.meta.url)).toString('base64')}`
  );
const cl = await load('checklist.js');
const { haversine, positionWarnings, captureWarnings } = await load('geo.js');
const { readExif, exifSegment } = await load('exif.js');
const fixture = (name) => fs.readFileSync(new URL(`../fixtures/${name}`, import.meta.url));
const bytes = (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.length);

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
  if (roll < 0.3)
    return pick([
      true,
      'yes',
      7,
      -1,
      1e9,
      2.5,
      [],
      {},
      'x'.repeat(2001),
      '文'.repeat(2000),
      ['slogans', 'slogans'],
      ['nope'],
    ]);
  switch (it.kind) {
    case 'yes_no':
      return r() < 0.5;
    case 'number':
      return pick([0, 1, 2, 3, 4, 20, 21, -1, 2.5]);
    case 'choice':
      return pick(ids);
    case 'multi_choice':
      return ids.filter(() => r() < 0.5);
    case 'text':
      return pick(['', 'fine', '村委会配合良好。']);
    default:
      return pick([true, 1, 'x']);
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
    const photos = cl
      .items(template)
      .filter((it) => (seed + it.id.length) % 3 === 0)
      .map((it, k) => ({
        id: `00000000-0000-4000-8000-${String(seed * 100 + k).padStart(12, '0')}`,
        item: it.id,
        sha256: 'a'.repeat(64),
      }));
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
      ...cl.validateManifest(
        template,
        a,
        photos.map((p) => p.item),
      ),
    ];
    for (const e of errors) rules.add(e.rule);
    const phone = errors.map((e) => `${e.field}: ${e.message}`).sort();
    assert.deepEqual(phone, server, `answers ${JSON.stringify(a)}`);
  }
  // The generated answers went through every kind of refusal.
  for (const rule of [
    'required',
    'bool',
    'number',
    'range',
    'choice',
    'multi',
    'twice',
    'string',
    'text_long',
    'hidden',
    'unknown',
    'computed',
    'photo_answer',
    'photos_min',
    'photo_hidden',
  ]) {
    assert.ok(rules.has(rule), `no case exercised ${rule}: ${[...rules]}`);
  }
});

test('what the phone sends holds only visible answerable items', () => {
  const draft = {
    board_posted: true,
    why_not_posted: 'stale',
    policy_count: 3,
    followup_coverage: 1,
    outreach_displayed: false,
    outreach_kinds: ['slogans'],
    outreach_photos: 'x',
    inspector_notes: '',
  };
  assert.deepEqual(cl.answersToSend(template, draft), {
    board_posted: true,
    policy_count: 3,
    outreach_displayed: false,
  });
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

test('the phone counts what is done and names the failing items as the server scores them', async () => {
  const ids = (xs) => xs.map((m) => m.item);
  const empty = cl.progress(template, {}, []);
  assert.deepEqual([empty.done, empty.total], [0, 7]);
  assert.deepEqual(
    empty.sections.map((s) => [s.id, s.done, s.total]),
    [
      ['commitment', 0, 3],
      ['association', 0, 2],
      ['mentoring', 0, 0],
      ['records', 0, 2],
    ],
  );
  // A yes without its photo is not done; with it, it is.
  const some = cl.answersToSend(template, { board_posted: true, policy_count: 1, outreach_displayed: true });
  const partly = cl.progress(template, some, []);
  assert.deepEqual([partly.done, partly.total], [2, 9]);
  assert.deepEqual(
    partly.missing.find((m) => m.item === 'board_posted'),
    { item: 'board_posted', answer: false, photos: true },
  );
  assert.deepEqual(ids(partly.missing), [
    'board_posted',
    'policies_honoured',
    'association',
    'roster_kept',
    'ledgers_kept',
    'outreach_kinds',
    'outreach_photos',
  ]);
  assert.deepEqual(partly.failing, ['policy_count']);
  assert.equal(cl.progress(template, some, ['board_posted']).done, 3);

  // Against the server: a complete inspection whose answers fail in every kind of rule.
  const answers = {
    board_posted: false,
    why_not_posted: '正在更换',
    policy_count: 5,
    policies_honoured: true,
    association: 'partial',
    roster_kept: true,
    ledgers_kept: true,
    outreach_displayed: true,
    outreach_kinds: ['slogans'],
  };
  const photos = ['board_posted', 'ledgers_kept', 'outreach_photos', 'outreach_photos'];
  const phone = cl.progress(template, cl.answersToSend(template, answers), photos);
  assert.deepEqual([phone.done, phone.total, phone.missing], [10, 10, []]);
  const res = await call(inspector, 'PUT', `/api/v1/inspections/${crypto.randomUUID()}`, {
    declaration_id: declaration.id,
    checklist: { code: 'star-1', version: 1 },
    started_at: new Date(Date.now() - 3600e3).toISOString(),
    submitted_at: new Date().toISOString(),
    answers,
    photos: photos.map((item) => ({ id: crypto.randomUUID(), item, sha256: 'a'.repeat(64) })),
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  // The server also scores its computed items, which the phone leaves to it.
  const computed = new Set(
    cl
      .items(template)
      .filter((it) => it.kind === 'computed')
      .map((it) => it.id),
  );
  assert.deepEqual(
    phone.failing,
    res.body.failing_items.filter((id) => !computed.has(id)),
  );
  assert.deepEqual(phone.failing, ['board_posted', 'policy_count', 'association', 'outreach_kinds']);
});

test("the phone reads a JPEG's EXIF capture time and GPS position", () => {
  // The demo's board photo: written by the server's EXIF writer, at +08:00 near the demo county.
  const board = readExif(bytes(fixture('board.jpg')));
  assert.equal(board.taken_at.toISOString(), '2026-10-15T02:30:00.000Z');
  assert.ok(Math.abs(board.lat - 36.371) < 1e-3 && Math.abs(board.lon - 114.526) < 1e-3, JSON.stringify(board));
  // No EXIF at all.
  assert.deepEqual(readExif(bytes(fixture('phone-photo.jpg'))), { taken_at: null, lat: null, lon: null });
  assert.deepEqual(readExif(new ArrayBuffer(0)), { taken_at: null, lat: null, lon: null });
  const plain = fixture('phone-photo.jpg');
  for (const little of [false, true]) {
    // South and west are negative; the offset places the time.
    const made = readExif(
      bytes(withExif(plain, { taken: '2008:05:12 14:28:00', offset: '-03:00', lat: -33.45, lon: -70.6667, little })),
    );
    assert.equal(made.taken_at.toISOString(), '2008-05-12T17:28:00.000Z');
    assert.ok(Math.abs(made.lat + 33.45) < 1e-6 && Math.abs(made.lon + 70.6667) < 1e-6, JSON.stringify(made));
    // Without an offset the time is the phone's own (the runner's clock zone here).
    const local = readExif(bytes(withExif(plain, { taken: '2026:11:30 09:00:00', little })));
    assert.equal(local.taken_at.getTime(), new Date(2026, 10, 30, 9, 0, 0).getTime());
    assert.equal(local.lat, null);
    // A camera without a fix writes 0/0: no position.
    assert.equal(readExif(bytes(withExif(plain, { lat: 0, lon: 0, little }))).lat, null);
  }
  // A cut-off block reads as nothing, never throws.
  const whole = withExif(plain, { taken: '2008:05:12 14:28:00', lat: 41.9, lon: 12.5 });
  for (const cut of [4, 12, 20, 30, 60, 90]) readExif(bytes(whole.subarray(0, cut)));
});

test("a downsized copy gets the original's Exif segment, upright, in place of the encoder's JFIF", async () => {
  // downsize.js imports exif.js by a relative path: load it with that import made absolute.
  const source = fs
    .readFileSync(new URL('../../../server/web/m/downsize.js', import.meta.url), 'utf8')
    .replace("'./exif.js'", `'${new URL('../../../server/web/m/exif.js', import.meta.url).href}'`);
  const { splice } = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);
  const plain = fixture('phone-photo.jpg');
  for (const little of [false, true]) {
    const original = withExif(plain, {
      taken: '2026:11:30 09:15:00',
      offset: '+08:00',
      lat: 36.37,
      lon: 114.38,
      orientation: 6,
      little,
    });
    const segment = exifSegment(bytes(original));
    assert.deepEqual([segment[0], segment[1]], [0xff, 0xe1]);
    assert.equal(segment.length, ((segment[2] << 8) | segment[3]) + 2);
    // Byte for byte the original's segment, but for the Orientation value (now 1).
    const before = original.subarray(2, 2 + segment.length);
    const differing = [...segment].map((b, i) => (b !== before[i] ? i : -1)).filter((i) => i >= 0);
    assert.equal(differing.length, 1, `${differing}`);
    assert.equal(segment[differing[0]], 1);
    assert.equal(before[differing[0]], 6);
    // The encoder's output starts with JFIF (APP0): the Exif segment takes its place.
    assert.deepEqual([...plain.subarray(0, 4)], [0xff, 0xd8, 0xff, 0xe0]);
    const app0 = 2 + ((plain[4] << 8) | plain[5]);
    const spliced = Buffer.from(splice(new Uint8Array(plain), segment));
    assert.deepEqual([...spliced.subarray(0, 4)], [0xff, 0xd8, 0xff, 0xe1]);
    assert.ok(spliced.subarray(2, 2 + segment.length).equals(Buffer.from(segment)));
    assert.ok(spliced.subarray(2 + segment.length).equals(plain.subarray(2 + app0)));
    const read = readExif(bytes(spliced));
    assert.equal(read.taken_at.toISOString(), '2026-11-30T01:15:00.000Z');
    assert.ok(Math.abs(read.lat - 36.37) < 1e-6 && Math.abs(read.lon - 114.38) < 1e-6);
  }
  assert.equal(exifSegment(bytes(plain)), null);
});

test('a photo more than a day old or more than 5 km away is questioned', () => {
  const now = Date.parse('2026-11-30T08:00:00Z');
  const village = { lat: 36.37, lon: 114.38, radius_m: 1500 };
  const here = { taken_at: new Date(now - 3600e3), lat: 36.371, lon: 114.381 };
  assert.deepEqual(captureWarnings(here, now, { lat: 36.37, lon: 114.38 }, village), []);
  assert.deepEqual(captureWarnings({ taken_at: null, lat: null, lon: null }, now, null, village), []);
  const old = captureWarnings({ ...here, taken_at: new Date(now - 25 * 3600e3) }, now, null, village);
  assert.deepEqual(
    old.map((w) => w.code),
    ['exif_old'],
  );
  assert.deepEqual(
    captureWarnings({ ...here, taken_at: new Date(now + 25 * 3600e3) }, now, null, village).map((w) => w.code),
    ['exif_old'],
  );
  // 0.05° of latitude is about 5.6 km; the phone 3 km north of the village sees it as near.
  const north = { ...here, lat: 36.42, lon: 114.38 };
  assert.deepEqual(
    captureWarnings(north, now, { lat: 36.397, lon: 114.38 }, village).map((w) => w.code),
    ['exif_far_village'],
  );
  assert.deepEqual(
    captureWarnings(north, now, { lat: 36.37, lon: 114.38 }, village).map((w) => w.code),
    ['exif_far_phone', 'exif_far_village'],
  );
});
