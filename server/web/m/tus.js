// A photo sent with tus 1.0.0 (core, creation, checksum): in chunks, each saved on the phone as
// the server takes it, so a dropped connection, a reload or a restart resumes at the server's
// offset (HEAD) instead of byte zero. Written against the protocol, not against one server.

import { request, ApiError } from './api.js';

/** Bytes per PATCH; halved (down to MIN_CHUNK) while a link keeps dropping, grown back after. */
export const CHUNK = 256 * 1024;
const MIN_CHUNK = 32 * 1024;
const TUS = { 'Tus-Resumable': '1.0.0' };
/** Quick retries of a dropped connection before the outbox waits for a better signal. */
const QUICK_RETRIES = 8;

/** The server answered something the protocol does not resume from (the caller decides). */
export class Refusal extends Error {
  constructor(res) {
    super(`HTTP ${res.status}`);
    this.res = res;
  }
}

/** tus answered 404/405 to the creation: this server has no tus endpoint (use the PUT). */
export class NoTus extends Error {}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function b64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

const metaValue = (text) => b64(new TextEncoder().encode(text));

async function checksum(piece) {
  return `sha256 ${b64(new Uint8Array(await crypto.subtle.digest('SHA-256', piece)))}`;
}

/**
 * Sends photo `p` of inspection `inspectionId` (its bytes in `bytes`). Keeps `p.upload_url`
 * and `p.sent` (what the server holds) current and calls `save()` after each change, so a later
 * call resumes. Resolves once the server has the last byte (and processed the photo); throws
 * `Refusal` with the response for anything it cannot resume from, and ApiError(0) when the
 * network stays away. `received()` tells whether the server already has the photo (asked
 * before starting again, when an upload vanished after its last byte may have arrived).
 */
export async function upload({ inspectionId, p, bytes, save, received }) {
  const total = bytes.byteLength;
  let chunk = CHUNK;
  let misses = 0;
  let streak = 0; // chunks in a row that arrived whole
  for (;;) {
    try {
      if (!p.upload_url) {
        if (p.upload_started && (await received())) return;
        await create(inspectionId, p, total);
        p.upload_started = true;
        await save();
      }
      let offset = await head(p.upload_url);
      if (offset === null) {
        // Expired or finished and removed: check, then start a new upload.
        p.upload_url = null;
        p.sent = 0;
        await save();
        continue;
      }
      p.sent = offset;
      await save();
      while (offset < total) {
        const piece = bytes.slice(offset, Math.min(total, offset + chunk));
        const res = await request(p.upload_url, {
          method: 'PATCH',
          type: 'application/offset+octet-stream',
          headers: { ...TUS, 'Upload-Offset': String(offset), 'Upload-Checksum': await checksum(piece) },
          body: piece,
        });
        if (res.status === 204) {
          const next = Number(res.headers.get('Upload-Offset'));
          offset = Number.isFinite(next) && next > offset ? next : offset + piece.byteLength;
          p.sent = offset;
          misses = 0;
          streak += 1;
          if (streak >= 4) {
            chunk = Math.min(CHUNK, chunk * 2);
            streak = 0;
          }
          await save();
        } else if (res.status === 408 || res.status === 423) {
          // A stalled body (what arrived is kept) or a cut PATCH the server still reads: wait, ask.
          misses += 1;
          if (misses > QUICK_RETRIES) throw new Refusal(res);
          await sleep(Math.min(5000, 500 * misses));
          const at = await head(p.upload_url);
          if (at === null) break;
          offset = at;
          p.sent = offset;
          await save();
        } else if (res.status === 409) {
          // The server holds another offset (a PATCH whose answer was lost): ask it.
          misses += 1;
          if (misses > QUICK_RETRIES) throw new Refusal(res);
          const at = await head(p.upload_url);
          if (at === null) break;
          offset = at;
          p.sent = offset;
          await save();
        } else if (res.status === 404 || res.status === 410) {
          break;
        } else if (res.status === 460) {
          // Checksum mismatch: the chunk was damaged on the way; send it again.
          misses += 1;
          if (misses > QUICK_RETRIES) throw new Refusal(res);
        } else {
          throw new Refusal(res);
        }
      }
      if (offset >= total) return;
      p.upload_url = null;
      p.sent = 0;
      await save();
    } catch (e) {
      const dropped = e instanceof ApiError && e.network;
      if (!dropped || !navigator.onLine || ++misses > QUICK_RETRIES) throw e;
      // A link that drops mid-chunk: smaller chunks, a short pause, then HEAD and go on.
      chunk = Math.max(MIN_CHUNK, Math.floor(chunk / 2));
      streak = 0;
      await sleep(Math.min(5000, 500 * misses));
    }
  }
}

async function create(inspectionId, p, total) {
  const meta = [
    ['inspection_id', inspectionId],
    ['photo_id', p.id],
    ['sha256', p.sha256],
    ...(p.downsized_from ? [['downsized_from', p.downsized_from]] : []),
  ]
    .map(([k, v]) => `${k} ${metaValue(v)}`)
    .join(',');
  const res = await request('/uploads', {
    method: 'POST',
    headers: { ...TUS, 'Upload-Length': String(total), 'Upload-Metadata': meta },
  });
  if (res.status === 404 || res.status === 405) throw new NoTus();
  if (res.status !== 201) throw new Refusal(res);
  const location = res.headers.get('Location');
  if (!location) throw new Refusal(res);
  p.upload_url = new URL(location, self.location.href).pathname;
  p.sent = 0;
}

/** The server's offset for an upload, or null when it is gone (404, 410). */
async function head(url) {
  const res = await request(url, { method: 'HEAD', headers: TUS });
  if (res.status === 404 || res.status === 410) return null;
  if (!res.ok) throw new Refusal(res);
  const offset = Number(res.headers.get('Upload-Offset'));
  if (!Number.isFinite(offset) || offset < 0) throw new Refusal(res);
  return offset;
}
