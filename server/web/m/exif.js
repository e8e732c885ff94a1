// A JPEG's capture time and GPS position from its EXIF block (APP1), read on the phone so a
// photo that looks old or far away is questioned when it is taken. Nothing else is read.

const TAG_EXIF_IFD = 0x8769;
const TAG_GPS_IFD = 0x8825;
const TAG_DATE_TIME_ORIGINAL = 0x9003;
const TAG_OFFSET_TIME = 0x9010;
const TAG_OFFSET_TIME_ORIGINAL = 0x9011;
const SIZES = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8 };

/** The APP1 "Exif\0\0" payload (the TIFF block) of a JPEG, or null. */
function tiffBlock(bytes) {
  const b = new Uint8Array(bytes);
  if (b[0] !== 0xff || b[1] !== 0xd8) return null;
  let i = 2;
  while (i + 4 <= b.length && b[i] === 0xff) {
    const marker = b[i + 1];
    if (marker === 0xda || marker === 0xd9) break; // image data: no metadata after it
    const length = (b[i + 2] << 8) | b[i + 3];
    const exif =
      b[i + 4] === 0x45 &&
      b[i + 5] === 0x78 &&
      b[i + 6] === 0x69 &&
      b[i + 7] === 0x66 &&
      b[i + 8] === 0 &&
      b[i + 9] === 0;
    if (marker === 0xe1 && exif)
      return new DataView(b.buffer, b.byteOffset + i + 10, Math.max(0, Math.min(length - 8, b.length - i - 10)));
    i += 2 + length;
  }
  return null;
}

/** The entries of the IFD at `offset`: tag → {type, count, at} (`at`: where the value lies). */
function ifd(view, offset, little) {
  const entries = new Map();
  if (offset + 2 > view.byteLength) return entries;
  const n = view.getUint16(offset, little);
  for (let k = 0; k < n; k++) {
    const e = offset + 2 + k * 12;
    if (e + 12 > view.byteLength) break;
    const type = view.getUint16(e + 2, little);
    const count = view.getUint32(e + 4, little);
    const size = (SIZES[type] || 1) * count;
    const at = size <= 4 ? e + 8 : view.getUint32(e + 8, little);
    if (at + size <= view.byteLength) entries.set(view.getUint16(e, little), { type, count, at });
  }
  return entries;
}

function ascii(view, entry) {
  if (!entry) return null;
  let s = '';
  for (let k = 0; k < entry.count; k++) {
    const c = view.getUint8(entry.at + k);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s.trim() || null;
}

/** Degrees from three (S)RATIONALs; the sign from the reference letter (S and W are negative). */
function coordinate(view, entry, ref, little, limit) {
  if (!entry || (entry.type !== 5 && entry.type !== 10) || entry.count < 1) return null;
  let deg = 0;
  for (let k = 0; k < Math.min(3, entry.count); k++) {
    const get = entry.type === 10 ? 'getInt32' : 'getUint32';
    const num = view[get](entry.at + k * 8, little);
    const den = view[get](entry.at + k * 8 + 4, little);
    if (den === 0) return null;
    deg += Math.abs(num / den) / 60 ** k;
  }
  const r = ascii(view, ref);
  const negative = r === 'S' || r === 'W';
  return deg <= limit ? (negative ? -deg : deg) : null;
}

/** "+08:00" → 480 minutes east of UTC, or null. */
function offsetMinutes(text) {
  const m = /^([+-])(\d\d):(\d\d)$/.exec(text || '');
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : null;
}

/**
 * `{taken_at, lat, lon}` of a JPEG (an ArrayBuffer): `taken_at` a Date from DateTimeOriginal
 * (read in its OffsetTimeOriginal, else the phone's time zone), the position in degrees; each
 * null when absent or unreadable. A position of exactly 0/0 (a camera without a fix) is none.
 */
export function readExif(bytes) {
  const none = { taken_at: null, lat: null, lon: null };
  try {
    const view = tiffBlock(bytes);
    if (!view || view.byteLength < 8) return none;
    const order = view.getUint16(0);
    if (order !== 0x4949 && order !== 0x4d4d) return none;
    const little = order === 0x4949;
    const ifd0 = ifd(view, view.getUint32(4, little), little);
    const pointer = (tag) => {
      const e = ifd0.get(tag);
      return e && e.type === 4 ? view.getUint32(e.at, little) : null;
    };
    const out = { ...none };
    const exifAt = pointer(TAG_EXIF_IFD);
    if (exifAt !== null) {
      const sub = ifd(view, exifAt, little);
      const m = /^(\d{4}):(\d\d):(\d\d) (\d\d):(\d\d):(\d\d)$/.exec(ascii(view, sub.get(TAG_DATE_TIME_ORIGINAL)) || '');
      if (m) {
        const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
        const offset = offsetMinutes(
          ascii(view, sub.get(TAG_OFFSET_TIME_ORIGINAL)) || ascii(view, sub.get(TAG_OFFSET_TIME)),
        );
        const at =
          offset === null
            ? new Date(y, mo - 1, d, h, mi, s)
            : new Date(Date.UTC(y, mo - 1, d, h, mi, s) - offset * 60_000);
        if (!Number.isNaN(at.getTime())) out.taken_at = at;
      }
    }
    const gpsAt = pointer(TAG_GPS_IFD);
    if (gpsAt !== null) {
      const gps = ifd(view, gpsAt, little);
      const lat = coordinate(view, gps.get(2), gps.get(1), little, 90);
      const lon = coordinate(view, gps.get(4), gps.get(3), little, 180);
      if (lat !== null && lon !== null && !(lat === 0 && lon === 0)) Object.assign(out, { lat, lon });
    }
    return out;
  } catch {
    return none;
  }
}

const TAG_ORIENTATION = 0x0112;

/**
 * The whole APP1 Exif segment of a JPEG (marker and length included), as a copy whose
 * Orientation tag (if any) reads 1: the segment to splice into a downsized copy that was drawn
 * upright. Everything else (capture time, position, make, model, software) is byte-for-byte the
 * original's. Null when the JPEG has no Exif segment.
 */
export function exifSegment(bytes) {
  const b = new Uint8Array(bytes);
  const view = tiffBlock(bytes);
  if (!view) return null;
  const start = view.byteOffset - b.byteOffset - 10;
  const length = (b[start + 2] << 8) | b[start + 3];
  const segment = b.slice(start, Math.min(b.length, start + 2 + length));
  try {
    const tiff = new DataView(segment.buffer, 10, segment.length - 10);
    const order = tiff.getUint16(0);
    if (order === 0x4949 || order === 0x4d4d) {
      const little = order === 0x4949;
      const entry = ifd(tiff, tiff.getUint32(4, little), little).get(TAG_ORIENTATION);
      if (entry && entry.type === 3) tiff.setUint16(entry.at, 1, little);
    }
  } catch {
    // A damaged block is kept as it is.
  }
  return segment;
}
