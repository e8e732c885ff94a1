// The phone app's service worker: the app shell from its cache (refreshed in the background),
// the worklist, the county's policy and checklist templates from the network when it answers
// (revalidated with their ETags: a 304 serves the copy) and from the cache when it does not.
// Nothing else is stored here.

const SHELL_CACHE = 'fieldstar-shell-v6';
const API_CACHE = 'fieldstar-api';
const SHELL = [
  '/m/',
  '/m/app.js',
  '/m/api.js',
  '/m/db.js',
  '/m/queue.js',
  '/m/checklist.js',
  '/m/geo.js',
  '/m/exif.js',
  '/m/tus.js',
  '/m/downsize.js',
  '/m/i18n.js',
  '/m/app.css',
  '/m/manifest.webmanifest',
  '/m/icon.svg',
  '/m/icon-192.png',
  '/m/icon-512.png',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      await cache.addAll(SHELL.map((url) => new Request(url, { cache: 'no-cache' })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('fieldstar-shell-') && name !== SHELL_CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

/** Which cached GETs of the API the app may read offline. */
function apiCacheable(url) {
  return (
    url.pathname === '/api/v1/inspections/worklist' ||
    url.pathname === '/api/v1/policy' ||
    /^\/api\/v1\/checklists\/[^/]+\/versions\/\d+$/.test(url.pathname) ||
    (url.pathname === '/api/v1/inspections' &&
      ['returned', 'approved', 'rejected'].includes(url.searchParams.get('status'))) ||
    /^\/api\/v1\/inspections\/[0-9a-f-]{36}$/.test(url.pathname) ||
    /^\/api\/v1\/org-units\/[^/]+$/.test(url.pathname)
  );
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/')) {
    if (apiCacheable(url)) event.respondWith(networkFirst(req));
    return;
  }
  if (req.mode === 'navigate' && (url.pathname === '/m' || url.pathname.startsWith('/m/'))) {
    event.respondWith(shell(new Request('/m/'), event));
    return;
  }
  if (SHELL.includes(url.pathname)) event.respondWith(shell(req, event));
});

/** Cache first; the copy is revalidated in the background (the server sends an ETag). */
async function shell(req, event) {
  const cache = await caches.open(SHELL_CACHE);
  const cached = await cache.match(req, { ignoreSearch: true });
  const fresh = fetch(req.url, { cache: 'no-cache' }).then(async (res) => {
    if (res.ok) await cache.put(req, res.clone());
    return res;
  });
  if (cached) {
    event.waitUntil(fresh.catch(() => {}));
    return cached;
  }
  return fresh;
}

/**
 * The network when it answers, else the cached copy marked `X-Fieldstar-Offline: 1`. A cached
 * copy with an ETag is revalidated with If-None-Match: a 304 serves the copy without the body
 * crossing the network again.
 */
async function networkFirst(req) {
  const cache = await caches.open(API_CACHE);
  const key = req.url;
  const cached = await cache.match(key);
  const headers = new Headers(req.headers);
  const etag = cached?.headers.get('etag');
  if (etag) headers.set('If-None-Match', etag);
  let res;
  try {
    res = await fetch(req.url, { headers, cache: 'no-store', credentials: 'same-origin' });
  } catch {
    if (cached) return marked(cached, '1');
    return new Response(
      JSON.stringify({
        type: 'urn:fieldstar:problem:offline',
        title: 'Offline',
        status: 503,
        code: 'offline',
        detail: 'no network and no copy on this phone',
      }),
      { status: 503, headers: { 'Content-Type': 'application/problem+json' } },
    );
  }
  if (res.status === 304 && cached) return marked(cached, '0');
  if (res.ok) await cache.put(key, res.clone());
  return res;
}

function marked(res, offline) {
  const headers = new Headers(res.headers);
  headers.set('X-Fieldstar-Offline', offline);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}
