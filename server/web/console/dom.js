// Building DOM nodes without HTML strings or inline styles (the CSP forbids the latter): h() for HTML,
// s() for SVG, and small helpers shared by the views.

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'required', 'multiple', 'indeterminate']);

function apply(el, props) {
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'style') throw new Error('inline styles are not allowed: use a class');
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** h('button', {class: 'primary', onclick}, 'Save') */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  apply(el, props);
  return append(el, children);
}

const SVG = 'http://www.w3.org/2000/svg';
/** s('rect', {x, y, width, height, class: 'bar'}) */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG, tag);
  apply(el, props);
  return append(el, children);
}

let uid = 0;
export const nextId = (prefix = 'f') => `${prefix}-${++uid}`;

/** A labelled form field; `control` gets an id, the error slot sits below it. */
export function field(labelText, control, { hint, name } = {}) {
  const id = control.id || nextId('field');
  control.id = id;
  if (name) control.name = name;
  const errId = `${id}-error`;
  const hintEl = hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h(
    'div',
    { class: 'field', dataset: { field: name ?? '' } },
    h('label', { for: id }, labelText),
    control,
    hintEl,
    h('span', { class: 'field-error', id: errId, 'aria-live': 'polite' }),
  );
}

export function select(options, value, props = {}) {
  return h(
    'select',
    props,
    options.map(([v, label]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, label)),
  );
}

export function clear(el) {
  el.replaceChildren();
  return el;
}
