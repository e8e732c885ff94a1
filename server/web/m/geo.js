// The inspector's position: distance to the village centre and the warnings shown before
// submitting (the server flags the same facts; the phone only warns).

export const POOR_ACCURACY_M = 100;
const EARTH_RADIUS_M = 6371008.8;

/** Great-circle distance in metres between two {lat, lon} points. */
export function haversine(a, b) {
  const rad = (d) => (d * Math.PI) / 180;
  const dLat = rad(b.lat - a.lat);
  const dLon = rad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Warnings for a position against a village ({lat, lon, radius_m}): `poor_accuracy` when the
 * phone is unsure by more than 100 m, `outside_village` when the position lies beyond the
 * village's radius (accuracy is not subtracted, as on the server).
 */
export function positionWarnings(position, village) {
  const warnings = [];
  if (!position) return warnings;
  if (position.accuracy_m > POOR_ACCURACY_M) {
    warnings.push({ code: 'poor_accuracy', accuracy_m: position.accuracy_m });
  }
  if (village && typeof village.lat === 'number' && typeof village.lon === 'number') {
    const distance = haversine(position, village);
    const radius = village.radius_m ?? 1500;
    if (distance > radius) {
      warnings.push({ code: 'outside_village', distance_m: distance, radius_m: radius });
    }
  }
  return warnings;
}

/** The body's `location` from a Geolocation position. */
export function locationOf(pos) {
  return {
    lat: pos.coords.latitude,
    lon: pos.coords.longitude,
    accuracy_m: Math.min(100000, Math.max(0, pos.coords.accuracy)),
    captured_at: new Date(pos.timestamp || Date.now()).toISOString(),
    mock: false,
  };
}

/** How far a photo's EXIF time may be from the phone's clock before it is questioned. */
export const PHOTO_TIME_TOLERANCE_MS = 24 * 3600 * 1000;
/** How far a photo's EXIF position may be from the phone or the village centre. */
export const PHOTO_FAR_M = 5000;

/**
 * What a photo's EXIF facts ({taken_at, lat, lon}, see exif.js) make doubtful when it is
 * taken at `now` (ms): `exif_old` when its time is more than a day away, `exif_far_phone` and
 * `exif_far_village` when its position is more than 5 km from the phone's position or the
 * village centre. The phone only asks; the server flags what it finds.
 */
export function captureWarnings(exif, now, position, village) {
  const warnings = [];
  if (!exif) return warnings;
  if (exif.taken_at && Math.abs(exif.taken_at.getTime() - now) > PHOTO_TIME_TOLERANCE_MS) {
    warnings.push({ code: 'exif_old', taken_at: exif.taken_at.toISOString() });
  }
  if (typeof exif.lat === 'number' && typeof exif.lon === 'number') {
    if (position) {
      const d = haversine(position, exif);
      if (d > PHOTO_FAR_M) warnings.push({ code: 'exif_far_phone', distance_m: d });
    }
    if (village && typeof village.lat === 'number' && typeof village.lon === 'number') {
      const d = haversine(village, exif);
      if (d > PHOTO_FAR_M) warnings.push({ code: 'exif_far_village', distance_m: d });
    }
  }
  return warnings;
}
