// The checklist rules as the server applies them (server/src/checklist/answers.rs), so the
// phone refuses exactly what the server would: visibility, required items, kinds and ranges.

export const DEFAULT_TEXT_LENGTH = 2000;

const SHOWN = 'shown';
const HIDDEN = 'hidden';
const UNKNOWN = 'unknown';

/** Every item in template order. */
export function items(t) {
  return t.sections.flatMap((s) => s.items);
}

export function item(t, id) {
  return items(t).find((i) => i.id === id);
}

/** JSON equality, as serde_json's `Value == Value`. */
export function jsonEqual(a, b) {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

function answered(answers, id) {
  const v = answers[id];
  return v === undefined || v === null ? undefined : v;
}

function conditionHolds(kind, value, equals) {
  if (kind === 'number') {
    return typeof value === 'number' && typeof equals === 'number' && value === equals;
  }
  if (kind === 'multi_choice') {
    return Array.isArray(value) && value.some((c) => jsonEqual(c, equals));
  }
  return jsonEqual(value, equals);
}

function shownIf(t, target, equals, answers) {
  const it = item(t, target);
  const value = answered(answers, target);
  return it && value !== undefined && conditionHolds(it.kind, value, equals) ? SHOWN : HIDDEN;
}

const numberText = (v, none) => (v === undefined || v === null ? none : String(v));
const optionIds = (it) => (it.options || []).map((o) => o.id).join(', ');
const hasOption = (it, id) => (it.options || []).some((o) => o.id === id);
export const textLimit = (it) => it.max_length ?? DEFAULT_TEXT_LENGTH;

/** Why `value` does not fit the item's kind, or null. Each error carries the server's words. */
export function checkKind(it, value) {
  switch (it.kind) {
    case 'yes_no':
      return typeof value === 'boolean' ? null : { rule: 'bool', message: 'must be true or false' };
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return { rule: 'number', message: 'must be a number' };
      }
      const below = it.min !== undefined && it.min !== null && value < it.min;
      const above = it.max !== undefined && it.max !== null && value > it.max;
      if (below || above) {
        return {
          rule: 'range',
          min: it.min,
          max: it.max,
          message: `must be between ${numberText(it.min, '-∞')} and ${numberText(it.max, '∞')}`,
        };
      }
      return null;
    }
    case 'choice':
      return typeof value === 'string' && hasOption(it, value)
        ? null
        : { rule: 'choice', options: optionIds(it), message: `must be one of: ${optionIds(it)}` };
    case 'multi_choice': {
      const bad = {
        rule: 'multi',
        options: optionIds(it),
        message: `must be a list of option ids from: ${optionIds(it)}`,
      };
      if (!Array.isArray(value)) return bad;
      const seen = new Set();
      for (const c of value) {
        if (typeof c !== 'string' || !hasOption(it, c)) return bad;
        if (seen.has(c)) return { rule: 'twice', option: c, message: `${c} is chosen twice` };
        seen.add(c);
      }
      if (it.required && value.length === 0) {
        return { rule: 'multi_required', message: 'required: choose at least one option' };
      }
      return null;
    }
    case 'text':
      if (typeof value !== 'string') return { rule: 'string', message: 'must be a string' };
      // The server counts Unicode scalar values (Rust's chars()), as the spread operator does.
      return [...value].length <= textLimit(it)
        ? null
        : { rule: 'text_long', limit: textLimit(it), message: `must be at most ${textLimit(it)} characters` };
    default:
      return null;
  }
}

function hiddenMessage(it) {
  return it.visible_if
    ? `hidden unless ${it.visible_if.item} is ${JSON.stringify(it.visible_if.equals)}; a hidden item must not be answered`
    : 'hidden; a hidden item must not be answered';
}

/**
 * The server's `validate_answers` without the scoring: a list of
 * `{field: "answers.<id>", item, rule, message}`, empty when the answers fit.
 */
export function validateAnswers(t, answers) {
  const errors = [];
  const push = (id, e) => errors.push({ field: `answers.${id}`, item: id, ...e });
  for (const [id, value] of Object.entries(answers)) {
    const it = item(t, id);
    if (!it) push(id, { rule: 'unknown', message: 'not an item of this checklist' });
    else if (value === null) continue;
    else if (it.kind === 'computed')
      push(id, { rule: 'computed', message: 'this item is computed by the server; do not answer it' });
    else if (it.kind === 'photo')
      push(id, { rule: 'photo_answer', message: 'a photo item takes photos only, not an answer' });
  }
  const seen = new Map();
  const bad = new Set();
  for (const it of items(t)) {
    const answer = answered(answers, it.id);
    let visibility = SHOWN;
    if (it.visible_if) {
      const cond = it.visible_if;
      const before = seen.get(cond.item);
      if (before === UNKNOWN) visibility = UNKNOWN;
      else if (before === SHOWN && bad.has(cond.item)) visibility = UNKNOWN;
      else if (before === SHOWN) visibility = shownIf(t, cond.item, cond.equals, answers);
      else visibility = HIDDEN;
    }
    seen.set(it.id, visibility);
    if (it.kind === 'computed' || it.kind === 'photo') continue;
    if (visibility === HIDDEN && answer !== undefined) {
      push(it.id, { rule: 'hidden', message: hiddenMessage(it) });
      bad.add(it.id);
    } else if (visibility === SHOWN && answer === undefined && it.required) {
      push(it.id, { rule: 'required', message: 'required' });
    } else if (visibility !== HIDDEN && answer !== undefined) {
      const e = checkKind(it, answer);
      if (e) {
        push(it.id, e);
        bad.add(it.id);
      }
    }
  }
  return errors;
}

/** Which items are visible for these answers (the server's `visible_items`): id → bool. */
export function visibility(t, answers) {
  const shown = new Map();
  for (const it of items(t)) {
    const cond = it.visible_if;
    const visible = !cond || (shown.get(cond.item) === true && shownIf(t, cond.item, cond.equals, answers) === SHOWN);
    shown.set(it.id, visible);
  }
  return shown;
}

/**
 * The answers to send: only visible items the inspector may answer, and nothing empty. Computed
 * items are filled by the server and photo items take photos only: they are never sent.
 */
export function answersToSend(t, draft) {
  const shown = visibility(t, draft);
  const out = {};
  for (const it of items(t)) {
    if (!shown.get(it.id) || it.kind === 'computed' || it.kind === 'photo') continue;
    const v = draft[it.id];
    if (v === undefined || v === null || v === '') continue;
    out[it.id] = v;
  }
  return out;
}

/** The server's `validate_manifest`: each photo on a visible answerable item, each item its photos_min. */
export function validateManifest(t, answers, manifestItems) {
  const shown = visibility(t, answers);
  const errors = [];
  const counts = new Map();
  manifestItems.forEach((id, i) => {
    const field = `photos[${i}].item`;
    const it = item(t, id);
    if (!it) errors.push({ field, item: id, rule: 'unknown', message: `${id} is not an item of this checklist` });
    else if (!shown.get(id))
      errors.push({
        field,
        item: id,
        rule: 'photo_hidden',
        message: `${id} is hidden by the answers; it takes no photos`,
      });
    else if (it.kind === 'computed')
      errors.push({
        field,
        item: id,
        rule: 'photo_computed',
        message: `${id} is computed by the server; it takes no photos`,
      });
    else counts.set(id, (counts.get(id) || 0) + 1);
  });
  for (const it of items(t)) {
    if (!shown.get(it.id) || !(it.photos_min > 0)) continue;
    const got = counts.get(it.id) || 0;
    if (got < it.photos_min) {
      errors.push({
        field: 'photos',
        item: it.id,
        rule: 'photos_min',
        min: it.photos_min,
        got,
        message: `${it.id} needs at least ${it.photos_min} photo(s), the manifest has ${got}`,
      });
    }
  }
  return errors;
}

/** The server's `passes`: whether an answer meets the item's pass rule (`pass`). */
export function passes(it, rule, value) {
  const within = (n) =>
    (rule.min === undefined || rule.min === null || n >= rule.min) &&
    (rule.max === undefined || rule.max === null || n <= rule.max);
  switch (it.kind) {
    case 'yes_no':
      return rule.equals !== undefined && jsonEqual(value, rule.equals);
    case 'number':
    case 'computed':
      return typeof value === 'number' && Number.isFinite(value) && within(value);
    case 'choice':
      return typeof value === 'string' && Array.isArray(rule.in) && rule.in.includes(value);
    case 'multi_choice': {
      if (!Array.isArray(value)) return false;
      const inList =
        !Array.isArray(rule.in) ||
        (value.length > 0 && value.every((c) => typeof c === 'string' && rule.in.includes(c)));
      return inList && within(value.length);
    }
    default:
      return false;
  }
}

/**
 * Where the form stands, for the answers to send and the photos taken (item ids, one per
 * photo): `sections` [{id, done, total}] and the whole form's `done`/`total`, counting the
 * visible items that need an answer (required) or photos (`photos_min`); `missing` [{item,
 * answer, photos}] those not done yet; `failing` the ids of the other visible items whose
 * answer fails their pass rule, as the server would score them (computed items are the
 * server's and are left out). All in template order.
 */
export function progress(t, answers, photoItems) {
  const shown = visibility(t, answers);
  const counts = new Map();
  for (const id of photoItems) counts.set(id, (counts.get(id) || 0) + 1);
  const out = { sections: [], done: 0, total: 0, missing: [], failing: [] };
  for (const s of t.sections) {
    const section = { id: s.id, done: 0, total: 0 };
    for (const it of s.items) {
      if (!shown.get(it.id) || it.kind === 'computed') continue;
      const answerable = it.kind !== 'photo';
      const needsAnswer = answerable && !!it.required;
      const needsPhotos = it.photos_min > 0;
      const noAnswer = needsAnswer && answers[it.id] === undefined;
      const fewPhotos = needsPhotos && (counts.get(it.id) || 0) < it.photos_min;
      if (needsAnswer || needsPhotos) {
        section.total++;
        if (noAnswer || fewPhotos) out.missing.push({ item: it.id, answer: noAnswer, photos: fewPhotos });
        else section.done++;
      }
      if (answerable && it.pass && !noAnswer && !passes(it, it.pass, answers[it.id])) out.failing.push(it.id);
    }
    out.sections.push(section);
    out.done += section.done;
    out.total += section.total;
  }
  return out;
}
