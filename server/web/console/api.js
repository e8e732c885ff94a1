// The API client: tokens live in this module's memory only (never in storage), the access
// token is refreshed before it expires, and errors arrive as ApiError built from problem+json.
// Every request says the console's language (Accept-Language), so the server's problems and
// flags come in the words the user reads.

import { getLang } from './i18n.js';

/** The console's language for the server. */
const language = () => (getLang() === 'en' ? 'en' : 'zh-CN,zh;q=0.9');

let session = null; // {access, refresh, expiresAt, user, me}
let refreshTimer = null;
let refreshing = null;
const listeners = new Set();

/** Refresh this long before the access token expires. */
const EARLY_MS = 60_000;

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code ?? null;
    this.title = problem.title ?? null;
    this.detail = problem.detail ?? null;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    /** The whole problem body: some carry more than the standard members (`failing_items`,
     *  `alerts`, `live_inspector`…). */
    this.problem = problem;
  }
}

async function problemOf(res) {
  let body = {};
  try {
    body = await res.json();
  } catch {
    body = {};
  }
  return new ApiError(res.status, body);
}

/** Called with the session (or null) whenever someone logs in, refreshes away, or out. */
export function onSession(fn) {
  listeners.add(fn);
}

function emit(reason) {
  for (const fn of listeners) fn(session, reason);
}

export const current = () => session;

function keep(tokens) {
  session = {
    ...(session ?? {}),
    access: tokens.access_token,
    refresh: tokens.refresh_token,
    expiresAt: Date.now() + tokens.expires_in * 1000,
    user: tokens.user ?? session?.user,
  };
  clearTimeout(refreshTimer);
  const wait = Math.max(5_000, session.expiresAt - Date.now() - EARLY_MS);
  refreshTimer = setTimeout(function early() {
    // No answer (the network blinked) is no logout: try again shortly, the token still holds.
    refreshed().catch(() => {
      if (session) refreshTimer = setTimeout(early, 10_000);
    });
  }, wait);
}

/**
 * A refresh; one the server refused (the token spent, revoked or expired) ends the session. One
 * that got no answer, or a 5xx, does not: the error goes to the caller and the next request
 * tries again.
 */
function refreshed() {
  return refresh().catch((e) => {
    if (e instanceof ApiError && (e.status === 401 || e.status === 422)) end('expired');
    throw e;
  });
}

function end(reason) {
  clearTimeout(refreshTimer);
  session = null;
  emit(reason);
}

export async function login(username, password) {
  const res = await fetch('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Accept-Language': language() },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw await problemOf(res);
  keep(await res.json());
  try {
    session.me = await get('/api/v1/me');
  } catch (e) {
    session = null;
    throw e;
  }
  emit('login');
}

/** Trades the refresh token for a new pair; concurrent callers share one request. */
export function refresh() {
  if (!session) return Promise.reject(new ApiError(401));
  refreshing ??= (async () => {
    const res = await fetch('/api/v1/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Accept-Language': language() },
      body: JSON.stringify({ refresh_token: session.refresh }),
    });
    if (!res.ok) throw await problemOf(res);
    keep(await res.json());
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

export async function logout() {
  const token = session?.refresh;
  end('logout');
  if (token) {
    await fetch('/api/v1/auth/logout', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: token }),
    }).catch(() => {});
  }
}

/** The raw Response of an authorised request; throws ApiError for any non-2xx answer. */
export async function send(method, path, body, headers = {}) {
  if (!session) throw new ApiError(401);
  if (session.expiresAt - Date.now() < 30_000) {
    try {
      await refreshed();
    } catch (e) {
      if (!session) throw new ApiError(401);
      // Not refused, only unanswered: a token that still holds is used; an expired one is not.
      if (session.expiresAt <= Date.now()) throw e;
    }
  }
  const attempt = () => {
    const init = {
      method,
      headers: { Authorization: `Bearer ${session.access}`, 'Accept-Language': language(), ...headers },
    };
    if (body instanceof Blob) {
      init.headers['Content-Type'] = body.type || 'application/octet-stream';
      init.body = body;
    } else if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  };
  let res = await attempt();
  if (res.status === 401) {
    // The token may have been revoked or the clock moved: one refresh, one retry.
    try {
      await refreshed();
    } catch (e) {
      if (!session) throw new ApiError(401);
      throw e;
    }
    res = await attempt();
  }
  if (!res.ok) throw await problemOf(res);
  return res;
}

export async function request(method, path, body) {
  const res = await send(method, path, body);
  if (res.status === 204) return null;
  return res.json();
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body ?? {});
export const patch = (path, body) => request('PATCH', path, body);
/** POSTs a file (a Blob, sent as it is with its type) and answers the JSON reply. */
export const postFile = async (path, blob) => (await send('POST', path, blob)).json();
export const put = (path, body) => request('PUT', path, body);
export const del = (path) => request('DELETE', path);

/** Query string from an object, skipping empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Every item of a cursor-paged list (for short lists such as the county's townships). */
export async function all(path, params = {}, max = 2000) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(path + qs({ ...params, limit: 200, cursor }));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

/** The text of an authorised page (the printable record). */
export async function text(path) {
  const res = await send('GET', path);
  return res.text();
}

/** A blob: URL for an authorised binary (photos, CSV exports); the caller revokes it. */
export async function blobUrl(path) {
  const res = await send('GET', path);
  return URL.createObjectURL(await res.blob());
}
