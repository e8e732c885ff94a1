// A photo larger than the county's `phone_photo_max_px` is downsized on the phone before it is
// kept and sent: drawn upright on a canvas, encoded as JPEG, with the original's EXIF block
// spliced back in (so the server still reads its capture time, position and software, and
// the integrity flags still work) and the original's size noted for the reviewer.

import { exifSegment } from './exif.js';

const QUALITY = 0.88;

/**
 * `{bytes, type, downsized_from}` for a photo over `maxPx` on its longest side; null when it
 * is not larger, when `maxPx` is 0, or when this browser cannot decode or encode it (the
 * original is then sent, as it would be without the policy).
 */
export async function downsize(bytes, type, maxPx) {
  if (!maxPx || maxPx <= 0 || typeof createImageBitmap !== 'function') return null;
  let bitmap;
  try {
    // Drawn the way it is seen (EXIF orientation applied): the kept block then says upright.
    bitmap = await createImageBitmap(new Blob([bytes], { type }), { imageOrientation: 'from-image' });
  } catch {
    return null;
  }
  const { width, height } = bitmap;
  const longest = Math.max(width, height);
  if (longest <= maxPx) {
    bitmap.close?.();
    return null;
  }
  const scale = maxPx / longest;
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  let blob;
  try {
    const canvas =
      typeof OffscreenCanvas === 'function'
        ? new OffscreenCanvas(w, h)
        : Object.assign(document.createElement('canvas'), { width: w, height: h });
    const ctx = canvas.getContext('2d');
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, 0, 0, w, h);
    blob = canvas.convertToBlob
      ? await canvas.convertToBlob({ type: 'image/jpeg', quality: QUALITY })
      : await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', QUALITY));
  } catch {
    return null;
  } finally {
    bitmap.close?.();
  }
  if (!blob) return null;
  let out = new Uint8Array(await blob.arrayBuffer());
  const exif = type === 'image/jpeg' ? exifSegment(bytes) : null;
  if (exif) out = splice(out, exif);
  return { bytes: out.buffer, type: 'image/jpeg', downsized_from: `${width}x${height}` };
}

/**
 * The encoder's JPEG with `segment` (an APP1 Exif segment) right after its SOI, in place of
 * its JFIF APP0 (Exif wants to be first) and of any Exif segment of its own.
 */
export function splice(jpeg, segment) {
  const keep = [];
  let i = 2;
  while (i + 4 <= jpeg.length && jpeg[i] === 0xff) {
    const marker = jpeg[i + 1];
    if (marker === 0xda || !(marker >= 0xe0 && marker <= 0xef)) break;
    const length = (jpeg[i + 2] << 8) | jpeg[i + 3];
    const isApp0 = marker === 0xe0;
    const isExif = marker === 0xe1 && jpeg[i + 4] === 0x45 && jpeg[i + 5] === 0x78;
    if (!isApp0 && !isExif) keep.push(jpeg.subarray(i, i + 2 + length));
    i += 2 + length;
  }
  const rest = jpeg.subarray(i);
  const parts = [jpeg.subarray(0, 2), segment, ...keep, rest];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
