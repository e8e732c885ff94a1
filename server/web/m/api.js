// Talking to fieldstar's public API: the session (access token in memory only, the refresh
// token in IndexedDB so a restart can resume) and problem+json errors.

import * as db from './db.js';
import { language } from './i18n.js';

/** The app's language for the server (Accept-Language): its problems and flags come in it. */
const acceptLanguage = () => (language() === 'en' ? 'en' : 'zh-CN,zh;q=0.9');

const API = '/api/v1';
const SESSION = 'session';

/** A failure with the server's problem+json, or `network` when no answer came. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || (status ? `HTTP ${status}` : 'network unreachable'));
    this.status = status;
    this.problem = problem || null;
    this.network = status === 0;
  }
}

/** The session needs a new login: no refresh token, or the server refused it. */
export class LoginNeeded extends Error {}

let access = null; // {token, expiresAt}
let session = null; // {refresh_token, user}
const listeners = new Set();

export function onSessionChange(fn) {
  listeners.add(fn);
}
function changed() {
  for (const fn of listeners) fn(session?.user || null);
}

/** Loads the stored session (if any) at start-up; no network. */
export async function restore() {
  session = (await db.get(db.META, SESSION)) || null;
  return session?.user || null;
}

export const currentUser = () => session?.user || null;

async function keep(tokens) {
  access = { token: tokens.access_token, expiresAt: Date.now() + (tokens.expires_in - 30) * 1000 };
  session = { refresh_token: tokens.refresh_token, user: tokens.user };
  await db.put(db.META, session, SESSION);
}

/**
 * How long a request may wait for its answer to begin before it counts as lost. On a weak signal a
 * connection can stay open and silent; a `fetch` that never settles would hold the outbox's
 * pass, and every inspection behind it, until the app is closed. The wait grows with what is
 * sent, at the slowest link the app is built for (8 kbit/s, one byte a millisecond: a 256 KB
 * photo chunk gets about five minutes). A lost request is retried like any unanswered one: the
 * PUTs are idempotent and a tus upload resumes at the server's offset.
 */
export const ANSWER_WITHIN_MS = 30_000;
const SLOWEST_BYTES_PER_MS = 1;

function sizeOf(body) {
  if (body == null) return 0;
  if (typeof body === 'string') return body.length * 3; // UTF-8, at most
  return body.byteLength ?? body.size ?? 0;
}

/** `fetch`, given up (an AbortError) when no answer came within the wait for its body. */
async function fetchAnswered(url, init) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ANSWER_WITHIN_MS + sizeOf(init.body) / SLOWEST_BYTES_PER_MS);
  try {
    return await fetch(url, { ...init, signal: abort.signal });
  } finally {
    clearTimeout(timer);
  }
}

async function problemOf(res) {
  try {
    return await res.json();
  } catch {
    return null;
  }
}

async function post(path, body) {
  let res;
  try {
    res = await fetchAnswered(API + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Accept-Language': acceptLanguage() },
      body: JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0);
  }
  return res;
}

export async function login(username, password) {
  const res = await post('/auth/login', { username, password });
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  await keep(await res.json());
  changed();
  return session.user;
}

async function refreshNow() {
  const stored = session || (await db.get(db.META, SESSION));
  if (!stored) throw new LoginNeeded();
  const res = await post('/auth/refresh', { refresh_token: stored.refresh_token });
  if (res.status === 401 || res.status === 422) {
    await forget();
    throw new LoginNeeded();
  }
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  await keep(await res.json());
}

let refreshing = null;
/** Trades the refresh token for a new pair; one at a time, across tabs too. */
function refresh() {
  if (!refreshing) {
    const work = () => (access && access.expiresAt > Date.now() ? Promise.resolve() : refreshNow());
    const locked = navigator.locks
      ? navigator.locks.request('fieldstar-refresh', async () => {
          // Another tab may have rotated the token meanwhile: read it again.
          session = (await db.get(db.META, SESSION)) || null;
          return work();
        })
      : work();
    refreshing = locked.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function forget() {
  access = null;
  session = null;
  await db.del(db.META, SESSION);
  changed();
}

export async function logout() {
  const stored = session;
  await forget();
  if (self.caches) await caches.delete('fieldstar-api');
  if (stored) post('/auth/logout', { refresh_token: stored.refresh_token }).catch(() => {});
}

/**
 * A request with the access token (refreshed when needed). Resolves to the Response for any
 * HTTP answer; throws ApiError(0) when the network is unreachable and LoginNeeded when the
 * session is over. With `{ offlineOk: true }` a missing token is tolerated, so the service
 * worker can answer from its cache while offline.
 */
export async function request(path, { method = 'GET', json, body, type, headers: extra, offlineOk = false } = {}) {
  // An upload's URL (a tus `Location`) is already absolute or rooted at /api/.
  const url = /^https?:\/\//.test(path) || path.startsWith('/api/') ? path : API + path;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (!access || access.expiresAt <= Date.now()) {
      try {
        await refresh();
      } catch (e) {
        if (!(offlineOk && e instanceof ApiError && e.network)) throw e;
      }
    }
    const headers = { 'Accept-Language': acceptLanguage(), ...(extra || {}) };
    if (access) headers.Authorization = `Bearer ${access.token}`;
    if (json !== undefined) headers['Content-Type'] = 'application/json';
    if (type) headers['Content-Type'] = type;
    let res;
    try {
      res = await fetchAnswered(url, {
        method,
        headers,
        body: json !== undefined ? JSON.stringify(json) : body,
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0);
    }
    if (res.status === 401) {
      // The access token expired, or there was none: a refresh that got no answer (the phone
      // was offline) let an `offlineOk` request go without one. The server answering means the
      // network is back: refresh now and ask once more.
      if (attempt === 0) {
        access = null;
        continue;
      }
      // Still no token: the refresh got no answer again, so the session is not known to be over.
      if (!access) throw new ApiError(0);
      throw new LoginNeeded();
    }
    return res;
  }
  throw new LoginNeeded();
}

/** GET returning JSON, or throwing ApiError with the problem. */
export async function getJson(path, opts = {}) {
  const res = await request(path, opts);
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  return { data: await res.json(), offline: res.headers.get('x-fieldstar-offline') === '1' };
}

export { problemOf };
