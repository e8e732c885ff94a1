// The outbox: finished inspections wait in IndexedDB and are sent when the network allows,
// body first, then photo by photo (a small one in one idempotent PUT, a larger one resumably
// with tus), so a retry never duplicates and a dropped connection never starts from zero.

import * as db from './db.js';
import { request, problemOf, ApiError, LoginNeeded } from './api.js';
import * as tus from './tus.js';

/**
 * Photos up to one chunk go in one idempotent PUT: tus would take two requests (POST, PATCH)
 * for what one PUT does, and there is nothing to resume inside a single chunk.
 */
export const PUT_MAX = tus.CHUNK;

// Record states: draft → queued → sending → sent, or error (retried later unless `final`).
export const DRAFT = 'draft';
export const QUEUED = 'queued';
export const SENDING = 'sending';
export const SENT = 'sent';
export const ERROR = 'error';

const BACKOFF_MS = [2000, 5000, 15000, 30000, 60000, 120000, 300000];
/** The longest wait after a try that got no answer (offline, or the signal dropped). */
const NETWORK_RETRY_MS = 10000;
const listeners = new Set();
let timer = null;
let running = false;
let again = false;
let againForce = false;

export function onChange(fn) {
  listeners.add(fn);
}
function changed(record) {
  for (const fn of listeners) fn(record);
}

/** Ids removed from the outbox: a sender still holding one must not write it back. */
const forgotten = new Set();

export async function save(record) {
  if (forgotten.has(record.id)) {
    if (record.state !== DRAFT) return;
    forgotten.delete(record.id); // opened again on purpose (a revision after a discard)
  }
  record.updated_at = new Date().toISOString();
  await db.put(db.INSPECTIONS, record);
  changed(record);
}

export async function list(username) {
  const rows = await db.all(db.INSPECTIONS);
  return rows.filter((r) => !username || r.username === username);
}

/** Stores a photo's bytes (an ArrayBuffer) under its manifest id. */
export const savePhoto = (id, type, bytes) => db.put(db.PHOTOS, { id, type, bytes });
export const loadPhoto = (id) => db.get(db.PHOTOS, id);
export const dropPhoto = (id) => db.del(db.PHOTOS, id);

/** Removes a record and the bytes of its photos. */
export async function remove(record) {
  forgotten.add(record.id);
  for (const p of record.photos || []) await dropPhoto(p.id);
  await db.del(db.INSPECTIONS, record.id);
  changed(null);
}

const KEEP_SENT_MS = 30 * 24 * 3600 * 1000;

/** Forgets inspections the server has had for 30 days (their photos' bytes are already gone). */
export async function prune() {
  const cutoff = Date.now() - KEEP_SENT_MS;
  for (const r of await db.all(db.INSPECTIONS)) {
    if (r.state === SENT && r.sent_at && Date.parse(r.sent_at) < cutoff) await db.del(db.INSPECTIONS, r.id);
  }
}

/** Puts a finished inspection (its body frozen) in the outbox and tries to send it. */
export async function enqueue(record, body) {
  record.body = body;
  record.state = QUEUED;
  record.attempts = 0;
  record.next_try = 0;
  record.body_sent = false;
  record.error = null;
  for (const p of record.photos) {
    if (p.state !== SENT) p.state = QUEUED;
    p.error = null;
  }
  await save(record);
  kick();
}

/** A failure with the server's words: `{status, code, detail, errors, retry_after}`. */
async function failure(res) {
  const p = res.status === 204 || res.status === 304 ? {} : (await problemOf(res)) || {};
  const wait = Number(res.headers.get('Retry-After'));
  return {
    status: res.status,
    code: p.code || null,
    detail: p.detail || p.title || `HTTP ${res.status}`,
    errors: p.errors || [],
    retry_after: Number.isFinite(wait) && wait > 0 ? wait : null,
  };
}

/** Whether the server already holds a photo (an upload that vanished may have finished). */
async function photoReceived(inspectionId, photoId) {
  const res = await request(`/inspections/${inspectionId}`);
  if (!res.ok) return false;
  const view = await res.json();
  return (view.photos || []).some((x) => x.id === photoId && x.received);
}

// 408, 429 and 5xx are worth another try; any other refusal needs the inspector.
const transient = (status) => status === 408 || status === 429 || status >= 500;

class Stop extends Error {
  constructor(problem, final) {
    super(problem.detail);
    this.problem = problem;
    this.final = final;
  }
}

async function sendOne(record) {
  record.state = SENDING;
  record.waiting_signal = false;
  await save(record);
  if (!record.body_sent) {
    const res = await request(`/inspections/${record.id}`, { method: 'PUT', json: record.body });
    if (res.status === 200 || res.status === 201) {
      record.result = summary(await res.json());
      record.body_sent = true;
      await save(record);
    } else {
      const f = await failure(res);
      throw new Stop(f, !transient(res.status));
    }
  }
  for (const p of record.photos) {
    if (p.state === SENT) continue;
    p.state = SENDING;
    await save(record);
    const stored = await loadPhoto(p.id);
    if (!stored) {
      p.state = ERROR;
      p.error = 'the photo is missing on this phone; take it again';
      throw new Stop({ detail: p.error }, true);
    }
    p.size = stored.bytes.byteLength;
    const resumable = () => p.size > PUT_MAX && !p.no_tus;
    let refused = null;
    if (resumable()) {
      try {
        await tus.upload({
          inspectionId: record.id,
          p,
          bytes: stored.bytes,
          save: () => save(record),
          received: () => photoReceived(record.id, p.id),
        });
      } catch (e) {
        if (e instanceof tus.NoTus)
          p.no_tus = true; // a server without tus: the PUT
        else if (e instanceof tus.Refusal) refused = e.res;
        else throw e;
      }
    }
    if (!refused && !resumable()) {
      const headers = p.downsized_from ? { 'Fieldstar-Downsized-From': p.downsized_from } : {};
      const res = await request(`/inspections/${record.id}/photos/${p.id}`, {
        method: 'PUT',
        body: stored.bytes,
        type: stored.type,
        headers,
      });
      if (res.status !== 200 && res.status !== 201) refused = res;
    }
    if (refused) {
      const f = await failure(refused);
      p.state = ERROR;
      p.error = f.detail;
      throw new Stop(f, !transient(refused.status));
    }
    p.state = SENT;
    p.sent = p.size;
    p.error = null;
    record.attempts = 0;
    await save(record);
  }
  const res = await request(`/inspections/${record.id}`);
  if (res.ok) record.result = summary(await res.json());
  record.state = SENT;
  record.error = null;
  record.sent_at = new Date().toISOString();
  await save(record);
  // The server has every byte: the phone keeps the manifest (ids and hashes) for a revision.
  for (const p of record.photos) await dropPhoto(p.id);
}

function summary(view) {
  return {
    status: view.status,
    revision: view.revision,
    score: view.score,
    passed: view.passed,
    flags: view.flags || [],
    failing_items: view.failing_items || [],
  };
}

async function pass(username) {
  const now = Date.now();
  const due = (await list(username)).filter(
    (r) => (r.state === QUEUED || r.state === SENDING || (r.state === ERROR && !r.final)) && (r.next_try || 0) <= now,
  );
  for (const record of due) {
    try {
      await sendOne(record);
    } catch (e) {
      if (e instanceof LoginNeeded) {
        record.state = ERROR;
        record.final = false;
        record.error = { detail: 'log in again to send', code: 'login' };
        await save(record);
        changed(record);
        return;
      }
      const network = e instanceof ApiError && e.network;
      record.attempts = (record.attempts || 0) + 1;
      if (network) {
        // No answer: it waits for the network (what the server has of a photo stays counted).
        record.state = QUEUED;
        record.waiting_signal = true;
        for (const p of record.photos) if (p.state === SENDING) p.state = QUEUED;
        record.error = null;
      } else {
        record.state = ERROR;
        record.final = e instanceof Stop ? e.final : false;
        record.error = e instanceof Stop ? e.problem : { detail: String(e.message || e) };
        for (const p of record.photos) if (p.state === SENDING) p.state = QUEUED;
      }
      const backoff = BACKOFF_MS[Math.min(record.attempts - 1, BACKOFF_MS.length - 1)];
      // No answer at all is the signal, not the server: try again within NETWORK_RETRY_MS
      // however often it failed, so that a phone back in signal (weak signal often fires no
      // `online` event, and a first try may race the radio) sends without waiting out minutes.
      record.next_try = Date.now() + (network ? Math.min(backoff, NETWORK_RETRY_MS) : backoff);
      // 429: the server says when (Retry-After), and that is when it goes again.
      if (e instanceof Stop && e.problem.retry_after) record.next_try = Date.now() + e.problem.retry_after * 1000;
      await save(record);
      if (network) break;
    }
  }
}

function schedule(username) {
  clearTimeout(timer);
  list(username).then((rows) => {
    const waits = rows
      .filter((r) => r.state === QUEUED || (r.state === ERROR && !r.final))
      .map((r) => Math.max(0, (r.next_try || 0) - Date.now()));
    if (waits.length) timer = setTimeout(() => kick(), Math.max(500, Math.min(...waits)));
  });
}

let who = null;
/** Whose outbox to send (the logged-in inspector's). */
export function setUser(username) {
  who = username;
}

/** Sends what is due now; safe to call at any time (one sender per phone, across tabs). */
export function kick({ force = false } = {}) {
  if (!who) return Promise.resolve();
  if (running) {
    // A pass is under way (perhaps failing for want of a network): run again after it, and
    // keep the force, so that coming back online never waits out a backoff.
    again = true;
    againForce = againForce || force;
    return Promise.resolve();
  }
  running = true;
  const username = who;
  const work = async () => {
    if (force) {
      for (const r of await list(username)) {
        if (r.state === QUEUED || (r.state === ERROR && !r.final)) {
          r.next_try = 0;
          await db.put(db.INSPECTIONS, r);
        }
      }
    }
    await pass(username);
  };
  const locked = navigator.locks ? navigator.locks.request('fieldstar-outbox', work) : work();
  return locked
    .catch((e) => console.warn('outbox', e))
    .finally(() => {
      running = false;
      if (again) {
        const forced = againForce;
        again = false;
        againForce = false;
        kick({ force: forced });
      } else {
        schedule(username);
      }
    });
}

/** Sends a record again after a refusal the inspector has dealt with (or wants retried). */
export async function retry(record) {
  record.state = QUEUED;
  record.final = false;
  record.error = null;
  record.next_try = 0;
  for (const p of record.photos) if (p.state === ERROR) p.state = QUEUED;
  await save(record);
  return kick();
}
