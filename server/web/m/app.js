// The inspector's phone app: log in, the worklist, the checklist form with photos and the
// position, the outbox, returned inspections, the decisions on her inspections, and cancelling
// one she has not finished. Plain DOM, no framework, no inline styles.

import * as api from './api.js';
import * as queue from './queue.js';
import * as cl from './checklist.js';
import { positionWarnings, haversine, locationOf, captureWarnings } from './geo.js';
import { readExif } from './exif.js';
import { downsize } from './downsize.js';
import * as db from './db.js';
import { t, label, language, setLanguage, errorText, fmtTime, fmtQuarter, flagName, fmtBytes } from './i18n.js';

const ACCEPT = 'image/jpeg,image/png,image/webp';
const main = document.getElementById('main');
const header = document.getElementById('header');

const app = {
  user: null,
  view: 'login',
  worklist: null, // {items, offline} | {error}
  returned: null, // [view]
  decided: null, // [view]: her approved and rejected inspections, newest first
  confirming: null, // the id of the inspection whose cancellation awaits her confirmation
  discarding: null, // the id of the outbox entry whose discarding awaits her confirmation
  notice: null, // {text, until}: a message shown at the top of the home view for a while
  form: null, // {record, template, errors, tried, watch}
  policy: null, // the county's policy as the phone last read it ({phone_photo_max_px, …})
};

/** Builds an element: h('p', {class: 'x', onclick: fn}, 'text', child). */
function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

function show(...nodes) {
  main.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined && n !== false));
}

// ---------------------------------------------------------------- header

function renderHeader() {
  const online = navigator.onLine;
  header.replaceChildren(
    h('h1', null, t('app')),
    h('span', { class: `net ${online ? 'net-on' : 'net-off'}`, id: 'net' }, online ? t('online') : t('offline')),
    h(
      'button',
      {
        class: 'link',
        id: 'lang',
        onclick: () => {
          setLanguage(language() === 'zh' ? 'en' : 'zh');
          rerender();
        },
      },
      t('lang'),
    ),
    app.user ? h('button', { class: 'link', id: 'logout', onclick: logout }, t('logout')) : null,
  );
}

function rerender() {
  renderHeader();
  if (app.view === 'insecure') renderInsecure();
  else if (app.view === 'form') renderForm();
  else if (app.view === 'home') renderHome();
  else renderLogin();
}

// ---------------------------------------------------------------- login

function renderLogin(message, username = '') {
  app.view = 'login';
  renderHeader();
  const form = h(
    'form',
    { class: 'card', id: 'login', onsubmit: onLogin },
    h(
      'label',
      null,
      t('username'),
      h('input', {
        name: 'username',
        autocomplete: 'username',
        required: true,
        autocapitalize: 'none',
        value: username,
      }),
    ),
    h(
      'label',
      null,
      t('password'),
      h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    ),
    message ? h('p', { class: 'error', id: 'login-error' }, message) : null,
    h('button', { type: 'submit', class: 'primary' }, t('login')),
  );
  show(form);
}

async function onLogin(ev) {
  ev.preventDefault();
  const data = new FormData(ev.target);
  const username = String(data.get('username')).trim();
  try {
    const user = await api.login(username, String(data.get('password')));
    if (user.role !== 'inspector' && user.role !== 'admin') {
      await api.logout();
      renderLogin(t('wrong_role'), username);
      return;
    }
    await signedIn(user);
    queue.kick({ force: true });
  } catch (e) {
    renderLogin(e.network ? t('network') : e.status === 401 ? t('login_failed') : e.message, username);
  }
}

async function signedIn(user) {
  app.user = user;
  queue.setUser(user.username);
  app.view = 'home';
  renderHome();
  loadLists();
}

async function logout() {
  stopWatching();
  await api.logout();
  app.user = null;
  app.worklist = app.returned = app.decided = app.form = null;
  queue.setUser(null);
  renderLogin();
}

function needLogin(e) {
  if (e instanceof api.LoginNeeded) {
    stopWatching();
    app.form = null;
    app.user = null;
    queue.setUser(null);
    renderLogin(t('login_again'));
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- home

/** The county's policy (read when online, kept on the phone for offline use). */
async function loadPolicy() {
  try {
    const { data } = await api.getJson('/policy', { offlineOk: true });
    app.policy = data;
    await db.put(db.META, { phone_photo_max_px: data.phone_photo_max_px || 0 }, 'policy');
  } catch (e) {
    if (e instanceof api.LoginNeeded) return;
    app.policy = app.policy || (await db.get(db.META, 'policy').catch(() => null)) || null;
  }
}

async function loadLists() {
  loadPolicy();
  try {
    const { data, offline } = await api.getJson('/inspections/worklist?limit=200', { offlineOk: true });
    app.worklist = { items: data.items, offline };
    if (!offline) prefetchTemplates(data.items);
  } catch (e) {
    if (needLogin(e)) return;
    app.worklist = app.worklist?.items ? app.worklist : { error: e.message };
  }
  if (app.view === 'home') renderHome();
  try {
    const { data } = await api.getJson('/inspections?status=returned&limit=200', { offlineOk: true });
    const mine = data.items.filter((i) => i.inspector_id === app.user?.id);
    const views = [];
    for (const s of mine) {
      const { data: view } = await api.getJson(`/inspections/${s.id}`, { offlineOk: true });
      views.push(view);
    }
    app.returned = views;
  } catch (e) {
    if (needLogin(e)) return;
    app.returned = app.returned || [];
  }
  if (app.view === 'home') renderHome();
  // Her approved and rejected inspections (the county's list, filtered to hers), newest first.
  try {
    const mine = [];
    for (const status of ['rejected', 'approved']) {
      const { data } = await api.getJson(`/inspections?status=${status}&limit=200`, { offlineOk: true });
      mine.push(...data.items.filter((i) => i.inspector_id === app.user?.id));
    }
    mine.sort((a, b) => (b.updated_at || '').localeCompare(a.updated_at || ''));
    const views = [];
    for (const s of mine.slice(0, DECIDED_SHOWN)) {
      views.push((await api.getJson(`/inspections/${s.id}`, { offlineOk: true })).data);
    }
    app.decided = views;
  } catch (e) {
    if (needLogin(e)) return;
    app.decided = app.decided || [];
  }
  if (app.view === 'home') renderHome();
}

/** How long a message stays at the top of the home view. */
const NOTICE_MS = 15_000;

/** How many decided inspections the home view lists. */
const DECIDED_SHOWN = 10;

/** Fetches each checklist of the worklist once, so the service worker has it for offline use. */
function prefetchTemplates(entries) {
  const refs = new Map(
    entries.filter((e) => e.checklist).map((e) => [`${e.checklist.code}/${e.checklist.version}`, e.checklist]),
  );
  for (const { code, version } of refs.values()) {
    api.getJson(`/checklists/${encodeURIComponent(code)}/versions/${version}`).catch(() => {});
  }
}

async function renderHome() {
  app.view = 'home';
  renderHeader();
  const records = await queue.list(app.user?.username);
  if (app.view !== 'home') return;
  const byDeclaration = new Map(records.map((r) => [r.declaration_id, r]));
  const outbox = records
    .filter((r) => r.state !== queue.DRAFT)
    .sort((a, b) => (b.updated_at || '').localeCompare(a.updated_at || ''));

  const work = app.worklist;
  const worklist = h(
    'section',
    { id: 'worklist' },
    h('h2', null, t('worklist'), work?.offline ? h('span', { class: 'badge' }, t('offline_copy')) : null),
  );
  if (!work) worklist.append(h('p', { class: 'muted' }, '…'));
  else if (work.error) worklist.append(h('p', { class: 'error' }, work.error));
  else if (!work.items.length) worklist.append(h('p', { class: 'muted' }, t('none')));
  else {
    for (const entry of work.items) {
      const local = byDeclaration.get(entry.declaration.id);
      const d = entry.declaration;
      worklist.append(
        h(
          'article',
          { class: 'card entry', 'data-declaration': d.id },
          h('h3', null, entry.village.name),
          h(
            'p',
            { class: 'muted' },
            `${entry.village.code} · ${t('level', d.star_level)} · ${fmtQuarter(d.quarter)} · ${t(d.kind)}`,
            entry.checklist ? ` · ${entry.checklist.code} v${entry.checklist.version}` : '',
          ),
          !entry.checklist
            ? h('p', { class: 'warn' }, t('no_checklist'))
            : local && local.state !== queue.DRAFT
              ? h('p', { class: 'muted' }, t(`state_${local.state}`))
              : h(
                  'button',
                  { class: 'primary inspect', onclick: () => openForm(entry) },
                  local ? t('edit') : t('inspect'),
                ),
        ),
      );
    }
  }

  const returned = h(
    'section',
    { id: 'returned', class: app.returned?.length ? null : 'is-empty' },
    h('h2', null, t('returned')),
  );
  for (const view of app.returned || []) {
    const local = records.find((r) => r.id === view.id);
    const pending = local && local.state !== queue.SENT && local.state !== queue.DRAFT;
    returned.append(
      h(
        'article',
        { class: 'card returned', 'data-inspection': view.id },
        h('h3', null, view.village_name || local?.village?.name || view.village_id),
        h('p', null, `${t('revision')} ${view.revision} · ${t('score')} ${view.score}`),
        h('blockquote', { class: 'comment' }, view.return_comment || ''),
        pending
          ? h('p', { class: 'muted' }, t(`state_${local.state}`))
          : h('button', { class: 'primary revise', onclick: () => openRevision(view) }, t('revise')),
        pending ? null : cancelControl(view.id, local),
      ),
    );
  }

  const decided = h(
    'section',
    { id: 'decided', class: app.decided?.length ? null : 'is-empty' },
    h('h2', null, t('decided')),
  );
  for (const view of app.decided || []) decided.append(decidedCard(view));

  const out = h('section', { id: 'outbox' }, h('h2', null, t('outbox')));
  if (!outbox.length) out.append(h('p', { class: 'muted' }, t('none')));
  for (const r of outbox) out.append(outboxCard(r));

  // The lists reload right after a change: the message stays for a while, across those renders.
  const notice =
    app.notice && app.notice.until > Date.now()
      ? h('p', { class: 'notice', id: 'notice', role: 'status' }, app.notice.text)
      : null;
  show(notice, returned, worklist, out, decided);
}

/** The decision that stands on an inspection (the last one not reopened), with its comment. */
function decidedCard(view) {
  const decisions = (view.decisions || []).filter((d) => d.decision !== 'return');
  const standing = [...decisions].reverse().find((d) => !d.reopened_at) || null;
  return h(
    'article',
    { class: `card decided status-${view.status}`, 'data-inspection': view.id, 'data-status': view.status },
    h(
      'h3',
      null,
      view.village_name || view.village_id,
      ' ',
      h('span', { class: `state status-${view.status}` }, t(`status_${view.status}`)),
    ),
    h('p', { class: 'muted' }, `${t('score')} ${view.score} · ${t('revision')} ${view.revision}`),
    standing
      ? h('p', { class: 'muted' }, t('decided_by', standing.decided_by_name || '', fmtTime(standing.decided_at)))
      : null,
    standing?.consequence
      ? h('p', { class: 'consequence' }, `${t('consequence')}: ${t(`consequence_${standing.consequence}`)}`)
      : null,
    standing?.comment ? h('blockquote', { class: 'comment' }, `${t('comment')}: ${standing.comment}`) : null,
    decisions
      .filter((d) => d.reopened_at)
      .map((d) =>
        h(
          'p',
          { class: 'muted reopened' },
          `${t(`decision_${d.decision}`)} · ${t('reopened', d.reopened_by_name || '', d.reopen_reason || '')}`,
        ),
      ),
  );
}

/**
 * Cancelling an inspection she has not finished (awaiting photos, or returned): asks first, then
 * `DELETE /inspections/{id}`; the outbox forgets it and its photos' bytes.
 */
function cancelControl(inspectionId, record) {
  const box = h('div', { class: 'cancel-box' });
  // The home view re-renders as lists load and the outbox moves: the question survives that.
  const idle = () => {
    if (app.confirming === inspectionId) app.confirming = null;
    box.replaceChildren(h('button', { type: 'button', class: 'link danger cancel', onclick: ask }, t('cancel')));
  };
  function ask() {
    app.confirming = inspectionId;
    box.replaceChildren(
      h('p', { class: 'warn' }, t('cancel_confirm')),
      h(
        'p',
        { class: 'actions' },
        h('button', { type: 'button', class: 'danger confirm-cancel', onclick: confirm }, t('cancel_yes')),
        h('button', { type: 'button', class: 'link keep', onclick: idle }, t('cancel_no')),
      ),
    );
  }
  async function confirm(ev) {
    ev.target.disabled = true;
    try {
      const res = await api.request(`/inspections/${inspectionId}`, { method: 'DELETE' });
      if (res.status !== 204) {
        const p = await api.problemOf(res);
        box.replaceChildren(h('p', { class: 'error problem' }, p?.detail || `HTTP ${res.status}`));
        return;
      }
      const local = record || (await queue.list(app.user?.username)).find((r) => r.id === inspectionId);
      if (local) await queue.remove(local);
      app.returned = (app.returned || []).filter((v) => v.id !== inspectionId);
      app.confirming = null;
      app.notice = { text: t('cancelled'), until: Date.now() + NOTICE_MS };
      renderHome();
      loadLists();
    } catch (e) {
      if (needLogin(e)) return;
      box.replaceChildren(h('p', { class: 'error' }, e.network ? t('network') : e.message));
    }
  }
  if (app.confirming === inspectionId) ask();
  else idle();
  return box;
}

/** The server's refusals the inspector can act on, in her words (the detail follows). */
function problemWords(error) {
  const code = error.code || '';
  const fields = (error.errors || []).map((e) => e.field || '');
  if (code === 'inspection.outside_window' || (fields.includes('started_at') && /window/i.test(error.detail || '')))
    return 'outside_window';
  if (
    error.status === 422 &&
    (/checklist/.test(code) || fields.some((f) => f === 'checklist' || f.startsWith('checklist.')))
  )
    return 'checklist_version';
  if (code === 'declaration_inspected') return 'declaration_inspected';
  if (code === 'declaration.awaiting_township') return 'awaiting_township';
  return null;
}

/** A newer checklist for the record's declaration, from the worklist (when the phone has it). */
function newerChecklist(r) {
  const entry = app.worklist?.items?.find((e) => e.declaration.id === r.declaration_id);
  const c = entry?.checklist;
  return c && (c.code !== r.checklist?.code || c.version > (r.checklist?.version || 0)) ? c : null;
}

/** Opens the form again on the newer checklist version, keeping the answers and photos. */
async function useNewVersion(r, checklist) {
  Object.assign(r, {
    checklist,
    state: queue.DRAFT,
    body: null,
    error: null,
    final: false,
    body_sent: false,
    result: null,
  });
  await queue.save(r);
  await startForm(r);
}

function outboxCard(r) {
  const result = r.result;
  const error = r.error;
  const words = error ? problemWords(error) : null;
  const newer = words === 'checklist_version' ? newerChecklist(r) : null;
  const shown = outboxState(r);
  return h(
    'article',
    { class: `card outbox state-${r.state}`, 'data-inspection': r.id, 'data-state': r.state, 'data-shown': shown.key },
    h('h3', null, r.village?.name || r.declaration_id, h('span', { class: `state state-${r.state}` }, shown.text)),
    result && r.state === queue.SENT
      ? h(
          'p',
          { class: 'result' },
          `${t('status')}: ${t(`status_${result.status}`)} · ${t('score')} ${result.score} · ${t('revision')} ${result.revision}`,
        )
      : null,
    h(
      'ul',
      { class: 'photo-states' },
      r.photos.map((p) =>
        h(
          'li',
          { class: `state-${p.state}`, 'data-photo': p.id, 'data-sent': p.sent || 0 },
          `${photoName(r, p)} · ${photoState(p)}`,
          p.error ? h('span', { class: 'error' }, ` — ${p.error}`) : null,
        ),
      ),
    ),
    error
      ? h(
          'div',
          { class: 'error problem', 'data-code': error.code || '' },
          words ? h('p', { class: 'words' }, t(`err_${words}`)) : null,
          error.code === 'login'
            ? t('login_again')
            : r.final
              ? h('p', { class: 'refused' }, t('refused', error.detail))
              : error.detail,
          h(
            'ul',
            null,
            (error.errors || []).map((fe) =>
              h('li', { title: fe.field || null, 'data-rule': fe.rule || '' }, fe.message),
            ),
          ),
        )
      : null,
    words === 'checklist_version' && newer
      ? h(
          'p',
          { class: 'actions' },
          h('button', { class: 'primary new-version', onclick: () => useNewVersion(r, newer) }, t('use_new_version')),
        )
      : null,
    result?.flags?.length
      ? h(
          'div',
          { class: 'flags' },
          h('h4', null, t('flags')),
          h(
            'ul',
            null,
            result.flags.map((f) =>
              h(
                'li',
                { class: `flag sev-${f.severity}`, 'data-code': f.code },
                h('strong', null, flagName(f.code)),
                ' ',
                f.message || '',
              ),
            ),
          ),
        )
      : null,
    r.state === queue.ERROR ? discardControl(r) : null,
    // The server has the body but not every photo: the inspection is stuck until she finishes or cancels it.
    r.body_sent && r.state !== queue.SENT ? cancelControl(r.id, r) : null,
  );
}

/**
 * What the outbox honestly says of an entry: waiting for signal (no network), sending N %
 * (bytes the server has of all its photos), refused (the server said no: the inspector acts),
 * or an error to be retried.
 */
function outboxState(r) {
  if (r.state === queue.QUEUED && (r.waiting_signal || !navigator.onLine))
    return { key: 'waiting_signal', text: t('state_waiting_signal') };
  if (r.state === queue.SENDING) {
    const total = r.photos.reduce((n, p) => n + (p.size || 0), 0);
    const sent = r.photos.reduce(
      (n, p) => n + (p.state === queue.SENT ? p.size || 0 : Math.min(p.sent || 0, p.size || 0)),
      0,
    );
    if (total > 0 && r.body_sent)
      return { key: 'sending_pct', text: t('sending_pct', Math.floor((100 * sent) / total)) };
  }
  if (r.state === queue.ERROR && r.final) return { key: 'refused', text: t('state_refused') };
  if (r.state === queue.ERROR && r.error?.code !== 'login') return { key: 'retrying', text: t('state_retrying') };
  return { key: r.state, text: t(`state_${r.state}`) };
}

/** A photo's state; while it goes up, how much of it the server has. */
function photoState(p) {
  if (p.state === queue.SENDING && p.size) {
    const sent = Math.min(p.sent || 0, p.size);
    return `${t('sending_pct', Math.floor((100 * sent) / p.size))} (${fmtBytes(sent)} / ${fmtBytes(p.size)})`;
  }
  if (p.state === queue.QUEUED && p.sent && p.size)
    return `${t('state_queued')} (${fmtBytes(p.sent)} / ${fmtBytes(p.size)})`;
  return t(`state_${p.state === queue.DRAFT ? 'queued' : p.state}`);
}

/** A photo by its item's label and its place among that item's photos ("…：第 2 张照片"). */
function photoName(r, p) {
  const n = r.photos.filter((x) => x.item === p.item).indexOf(p) + 1;
  return t('photo_label', p.label ? label(p.label) : p.item, n);
}

/**
 * Retry and Discard for an entry the server refused. Discarding deletes the entry and its
 * photos' bytes on the phone, so it asks first; the question survives the home view's renders.
 */
function discardControl(r) {
  const box = h('div', { class: 'discard-box' });
  const idle = (focus) => {
    if (app.discarding === r.id) app.discarding = null;
    const button = h('button', { type: 'button', class: 'link danger discard', onclick: ask }, t('discard'));
    box.replaceChildren(
      h(
        'p',
        { class: 'actions' },
        h('button', { type: 'button', class: 'retry', onclick: () => queue.retry(r) }, t('retry')),
        button,
      ),
    );
    if (focus === true) button.focus();
  };
  function ask(ev) {
    app.discarding = r.id;
    const yes = h('button', { type: 'button', class: 'danger confirm-discard', onclick: discard }, t('discard_yes'));
    box.replaceChildren(
      h('p', { class: 'warn', role: 'alert' }, t('discard_confirm')),
      h(
        'p',
        { class: 'actions' },
        yes,
        h('button', { type: 'button', class: 'keep-discard', onclick: () => idle(true) }, t('discard_no')),
      ),
    );
    if (ev) yes.focus();
  }
  async function discard() {
    app.discarding = null;
    await queue.remove(r);
    renderHome();
  }
  if (app.discarding === r.id) ask();
  else idle();
  return box;
}

// The server refused the refresh token (expired, revoked or spent): ask for the password again.
api.onSessionChange((user) => {
  if (!user && app.user) needLogin(new api.LoginNeeded());
});

queue.onChange(() => {
  if (app.view === 'home') renderHome();
});

// ---------------------------------------------------------------- the form

async function openForm(entry) {
  const records = await queue.list(app.user.username);
  let record = records.find((r) => r.declaration_id === entry.declaration.id && r.state === queue.DRAFT);
  if (!record) {
    record = {
      id: crypto.randomUUID(), // chosen once, kept until the server has it: retries replay it
      username: app.user.username,
      declaration_id: entry.declaration.id,
      declaration: entry.declaration,
      village: entry.village,
      checklist: entry.checklist,
      state: queue.DRAFT,
      answers: {},
      photos: [],
      started_at: new Date().toISOString(),
    };
    await queue.save(record);
  }
  await startForm(record);
}

async function openRevision(view) {
  let record = (await queue.list(app.user.username)).find((r) => r.id === view.id);
  let village = record?.village;
  if (!village) {
    try {
      village = (await api.getJson(`/org-units/${view.village_id}`, { offlineOk: true })).data;
    } catch {
      village = { id: view.village_id, name: view.village_id };
    }
  }
  record = {
    ...(record || {}),
    id: view.id,
    username: app.user.username,
    declaration_id: view.declaration_id,
    village,
    checklist: view.checklist,
    state: queue.DRAFT,
    answers: { ...(view.answers || {}) },
    // Photos this phone sent stay in the manifest (the server has them); others are taken anew.
    photos: (record?.photos || []).filter((p) => p.state === queue.SENT && view.photos.some((v) => v.id === p.id)),
    started_at: new Date().toISOString(),
    revision_of: view.revision,
    return_comment: view.return_comment,
    body_sent: false,
    result: null,
    error: null,
  };
  await queue.save(record);
  await startForm(record);
}

async function startForm(record) {
  app.view = 'form';
  renderHeader();
  show(h('p', { class: 'muted' }, '…'));
  let template;
  try {
    const { code, version } = record.checklist;
    template = (await api.getJson(`/checklists/${encodeURIComponent(code)}/versions/${version}`, { offlineOk: true }))
      .data;
  } catch (e) {
    if (needLogin(e)) return;
    show(h('p', { class: 'error' }, e.message), h('button', { onclick: () => renderHome() }, t('back')));
    return;
  }
  app.form = {
    record,
    template,
    errors: [],
    tried: false,
    summary: false,
    removing: null,
    position: record.location || null,
    positionError: null,
  };
  watchPosition();
  renderForm();
}

function watchPosition() {
  stopWatching();
  if (!navigator.geolocation) {
    app.form.positionError = t('no_position');
    return;
  }
  app.form.watch = navigator.geolocation.watchPosition(
    (pos) => {
      if (!app.form) return;
      app.form.position = locationOf(pos);
      app.form.positionError = null;
      app.form.record.location = app.form.position;
      saveSoon();
      renderPosition();
    },
    () => {
      if (!app.form) return;
      app.form.positionError = t('no_position');
      renderPosition();
    },
    { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 },
  );
}

function stopWatching() {
  if (app.form?.watch !== undefined && navigator.geolocation) navigator.geolocation.clearWatch(app.form.watch);
}

let saveTimer = null;
function saveSoon() {
  clearTimeout(saveTimer);
  const record = app.form?.record;
  if (record) saveTimer = setTimeout(() => queue.save(record), 300);
}

function renderPosition() {
  const box = document.getElementById('position');
  if (!box || !app.form) return;
  const { position, record } = app.form;
  const kids = [h('h2', null, t('position'))];
  if (!position) kids.push(h('p', { class: 'muted' }, app.form.positionError || t('locating')));
  else {
    const v = record.village;
    const distance = typeof v?.lat === 'number' ? haversine(position, v) : null;
    kids.push(
      h(
        'p',
        { id: 'position-fix' },
        `${position.lat.toFixed(5)}, ${position.lon.toFixed(5)} · ${t('accuracy', position.accuracy_m)}`,
        distance !== null ? ` · ${t('distance', distance)}` : '',
      ),
    );
    for (const w of positionWarnings(position, v)) {
      kids.push(
        h(
          'p',
          { class: 'warn', 'data-warning': w.code },
          w.code === 'poor_accuracy'
            ? t('poor_accuracy', w.accuracy_m)
            : t('outside_village', w.distance_m, w.radius_m),
        ),
      );
    }
  }
  box.replaceChildren(...kids);
}

function renderForm() {
  const { record, template } = app.form;
  const sections = template.sections.map((s) =>
    h(
      'fieldset',
      { class: 'section', 'data-section': s.id },
      h('legend', null, label(s.title), ' ', h('span', { class: 'section-progress' })),
      s.items.map((it) => renderItem(it, record)),
    ),
  );
  show(
    h('p', null, h('button', { class: 'link', id: 'back', onclick: leaveForm }, `‹ ${t('back')}`)),
    h('h2', { id: 'form-title' }, record.village?.name || '', ' · ', label(template.title)),
    record.return_comment ? h('blockquote', { class: 'comment' }, `${t('comment')}: ${record.return_comment}`) : null,
    h(
      'div',
      { id: 'progress', class: 'card' },
      h('p', { id: 'progress-text' }),
      h('progress', { id: 'progress-bar', max: 1, value: 0, 'aria-labelledby': 'progress-text' }),
    ),
    h('section', { id: 'position', class: 'card' }),
    h(
      'form',
      { id: 'checklist', onsubmit: onSubmit, novalidate: true },
      sections,
      h('p', { class: 'error', id: 'form-error' }),
      h('section', { id: 'summary', class: 'card', 'aria-labelledby': 'summary-title', hidden: true }),
      h('button', { type: 'submit', class: 'primary', id: 'submit' }, t('submit')),
    ),
    h('p', { class: 'muted' }, t('saved')),
  );
  renderPosition();
  refreshForm();
}

function leaveForm() {
  stopWatching();
  if (app.form) queue.save(app.form.record);
  app.form = null;
  renderHome();
}

/**
 * One question: a fieldset whose legend is the question, so its radios and checkboxes have it
 * as their group's name; the number and text inputs are named by it too.
 */
function renderItem(it, record) {
  const answer = record.answers[it.id];
  const set = (v) => {
    if (v === undefined) delete record.answers[it.id];
    else record.answers[it.id] = v;
    saveSoon();
    refreshForm();
  };
  let input = null;
  const name = `item-${it.id}`;
  const legendId = `q-${it.id}`;
  const errorId = `e-${it.id}`;
  const choice = (type, value, checked, onchange, text) =>
    h('label', { class: 'choice' }, h('input', { type, name, value, checked, onchange }), h('span', null, text));
  switch (it.kind) {
    case 'yes_no':
      input = h(
        'div',
        { class: 'choices' },
        [
          [true, t('yes')],
          [false, t('no')],
        ].map(([v, text]) => choice('radio', String(v), answer === v, () => set(v), text)),
      );
      break;
    case 'number':
      input = h('input', {
        type: 'number',
        name,
        step: 'any',
        inputmode: 'decimal',
        min: it.min,
        max: it.max,
        'aria-labelledby': legendId,
        'aria-describedby': errorId,
        value: answer === undefined ? '' : String(answer),
        oninput: (ev) => {
          const raw = ev.target.value.trim();
          if (raw === '') set(ev.target.validity.badInput ? 'NaN' : undefined);
          else set(Number.isFinite(Number(raw)) ? Number(raw) : raw);
        },
      });
      break;
    case 'choice':
      input = h(
        'div',
        { class: 'choices' },
        it.options.map((o) => choice('radio', o.id, answer === o.id, () => set(o.id), label(o.label))),
      );
      break;
    case 'multi_choice':
      input = h(
        'div',
        { class: 'choices' },
        it.options.map((o) =>
          choice(
            'checkbox',
            o.id,
            Array.isArray(answer) && answer.includes(o.id),
            () => {
              const chosen = [...document.querySelectorAll(`input[name="${name}"]:checked`)].map((c) => c.value);
              set(chosen.length ? chosen : undefined);
            },
            label(o.label),
          ),
        ),
      );
      break;
    case 'text': {
      const counter = h('span', { class: 'counter muted', id: `c-${it.id}` });
      const count = (s) => {
        counter.textContent = t('chars', [...(s || '')].length, cl.textLimit(it));
      };
      count(answer);
      input = h(
        'div',
        null,
        h(
          'textarea',
          {
            name,
            rows: 3,
            'aria-labelledby': legendId,
            'aria-describedby': `${errorId} c-${it.id}`,
            oninput: (ev) => {
              count(ev.target.value);
              set(ev.target.value === '' ? undefined : ev.target.value);
            },
          },
          answer || '',
        ),
        counter,
      );
      break;
    }
    case 'computed':
      input = h('p', { class: 'computed muted' }, t('computed'));
      break;
    default:
      break;
  }
  const takesPhotos = it.kind !== 'computed' && (it.kind === 'photo' || it.photos_min > 0);
  return h(
    'fieldset',
    { class: `item kind-${it.kind}`, 'data-item': it.id, tabindex: '-1' },
    h(
      'legend',
      { class: 'label', id: legendId },
      label(it.label),
      it.required ? h('span', { class: 'req' }, ` (${t('required')})`) : null,
    ),
    input,
    takesPhotos ? renderPhotos(it, record, legendId) : null,
    h('p', { class: 'error item-error', id: errorId }),
  );
}

function renderPhotos(it, record, legendId) {
  const list = h('div', { class: 'thumbs' });
  // What the photos' EXIF makes doubtful, said when they are taken (the server flags it too).
  const warnings = h('div', { class: 'photo-warnings', role: 'status' });
  const draw = () => {
    const mine = record.photos.filter((p) => p.item === it.id);
    list.replaceChildren(
      ...mine.map((p, k) => {
        const img = h('img', { alt: t('photo_label', label(it.label), k + 1), class: 'thumb' });
        queue.loadPhoto(p.id).then((stored) => {
          if (stored) img.src = URL.createObjectURL(new Blob([stored.bytes], { type: stored.type }));
          // Sent with an earlier revision: the server has the bytes, the phone no longer does.
          else img.replaceWith(h('span', { class: 'thumb on-server' }, t('state_sent')));
        });
        return h(
          'figure',
          { class: `photo${p.warnings?.length ? ' has-warning' : ''}`, 'data-photo': p.id },
          img,
          removeControl(p, k + 1),
        );
      }),
    );
    warnings.replaceChildren(
      ...mine.flatMap((p, k) =>
        (p.warnings || []).map((w) =>
          h(
            'p',
            { class: 'warn', 'data-photo-warning': w.code, 'data-photo': p.id },
            w.code === 'exif_old' ? t('exif_old', k + 1, fmtTime(w.taken_at)) : t(w.code, k + 1, w.distance_m),
          ),
        ),
      ),
    );
  };
  // Removing a photo deletes its bytes on the phone: a second, changed button confirms it.
  const removeControl = (p, n) => {
    if (app.form.removing !== p.id) {
      return h(
        'button',
        {
          type: 'button',
          class: 'link danger remove',
          'aria-label': `${t('remove')} ${t('photo_label', label(it.label), n)}`,
          onclick: () => {
            app.form.removing = p.id;
            draw();
            list.querySelector(`[data-photo="${p.id}"] .confirm-remove`)?.focus();
          },
        },
        t('remove'),
      );
    }
    return h(
      'div',
      { class: 'remove-box', role: 'group', 'aria-label': t('remove_confirm') },
      h('p', { class: 'warn' }, t('remove_confirm')),
      h(
        'button',
        {
          type: 'button',
          class: 'danger confirm-remove',
          onclick: async () => {
            app.form.removing = null;
            record.photos = record.photos.filter((x) => x.id !== p.id);
            if (p.state !== queue.SENT) await queue.dropPhoto(p.id);
            await queue.save(record);
            draw();
            refreshForm();
          },
        },
        t('remove_yes'),
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'keep-photo',
          onclick: () => {
            app.form.removing = null;
            draw();
            list.querySelector(`[data-photo="${p.id}"] .remove`)?.focus();
          },
        },
        t('remove_no'),
      ),
    );
  };
  draw();
  const fileInput = h('input', {
    type: 'file',
    accept: ACCEPT,
    capture: 'environment',
    multiple: true,
    class: 'visually-hidden',
    name: `photo-${it.id}`,
    'data-photo-input': it.id,
    'aria-describedby': legendId,
    onchange: async (ev) => {
      let refused = 0;
      for (const file of ev.target.files) if (!(await addPhoto(record, it, file))) refused++;
      ev.target.value = '';
      draw();
      refreshForm();
      if (refused) ev.target.closest('.item').querySelector('.item-error').textContent = t('not_a_photo');
    },
  });
  return h(
    'div',
    { class: 'photos' },
    list,
    warnings,
    h(
      'label',
      { class: 'button camera' },
      fileInput,
      t('take_photo'),
      it.photos_min > 0 ? h('span', { class: 'muted' }, ` (${t('photos_min', it.photos_min)})`) : null,
    ),
  );
}

/** JPEG, PNG or WebP by the file's first bytes (some cameras hand over files without a type). */
function imageType(bytes) {
  const b = new Uint8Array(bytes, 0, Math.min(12, bytes.byteLength));
  const ascii = (from, to) => String.fromCharCode(...b.slice(from, to));
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'image/png';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  return null;
}

/**
 * Hashes a photo's bytes on the phone (SHA-256, lowercase hex) and keeps them in IndexedDB,
 * with its item's label (for the outbox) and what its EXIF makes doubtful.
 * Returns false for a file that is not a JPEG, PNG or WebP image.
 */
async function addPhoto(record, it, file) {
  let bytes = await file.arrayBuffer();
  let type = imageType(bytes);
  if (!type) return false;
  const exif = type === 'image/jpeg' ? readExif(bytes) : null;
  // The county may ask for smaller photos: downsized here, once, keeping the EXIF block; the
  // hash in the manifest is the downsized copy's.
  const small = await downsize(bytes, type, app.policy?.phone_photo_max_px || 0);
  if (small) ({ bytes, type } = small);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const sha256 = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
  const id = crypto.randomUUID();
  const warnings = exif ? captureWarnings(exif, Date.now(), app.form?.position, record.village) : [];
  await queue.savePhoto(id, type, bytes);
  record.photos.push({
    id,
    item: it.id,
    label: it.label,
    sha256,
    type,
    size: bytes.byteLength,
    state: queue.DRAFT,
    warnings,
    downsized_from: small?.downsized_from || null,
  });
  await queue.save(record);
  return true;
}

/** What would be sent now, what the server would refuse in it, and how far the form is. */
function check() {
  const { record, template } = app.form;
  const answers = cl.answersToSend(template, record.answers);
  const shown = cl.visibility(template, answers);
  const photos = record.photos.filter((p) => shown.get(p.item) && cl.item(template, p.item)?.kind !== 'computed');
  const errors = [
    ...cl.validateAnswers(template, answers),
    ...cl.validateManifest(
      template,
      answers,
      photos.map((p) => p.item),
    ),
  ];
  const progress = cl.progress(
    template,
    answers,
    photos.map((p) => p.item),
  );
  return { answers, photos, errors, shown, progress };
}

function refreshForm() {
  if (!app.form) return;
  const result = check();
  const { errors, shown, progress } = result;
  for (const el of document.querySelectorAll('#checklist .item')) {
    const id = el.dataset.item;
    el.classList.toggle('is-hidden', !shown.get(id));
    const mine = errors.filter(
      (e) => e.item === id && (app.form.tried || (e.rule !== 'required' && e.rule !== 'photos_min')),
    );
    el.classList.toggle('has-error', mine.length > 0);
    el.querySelector('.item-error').textContent = mine.map(errorText).join('; ');
  }
  for (const s of progress.sections) {
    const el = document.querySelector(`#checklist .section[data-section="${s.id}"] .section-progress`);
    if (!el) continue;
    el.textContent = s.total ? t('section_progress', s.done, s.total) : '';
    el.classList.toggle('is-done', s.total > 0 && s.done === s.total);
  }
  const text = document.getElementById('progress-text');
  if (text) {
    text.textContent = t('progress', progress.done, progress.total);
    const bar = document.getElementById('progress-bar');
    bar.max = Math.max(1, progress.total);
    bar.value = progress.done;
  }
  const formError = document.getElementById('form-error');
  if (formError) formError.textContent = app.form.tried && errors.length ? t('fix_errors') : '';
  renderSummary(result);
}

/**
 * The summary before sending: the required items not done, the answers to fix and the items
 * that fail their rule, each a button to the item. Sending takes a second, confirming tap;
 * what the server would refuse cannot be confirmed.
 */
function renderSummary({ errors, progress }) {
  const box = document.getElementById('summary');
  const submit = document.getElementById('submit');
  if (!box) return;
  box.hidden = !app.form.summary;
  submit?.classList.toggle('is-hidden', !!app.form.summary);
  if (!app.form.summary) {
    box.replaceChildren();
    return;
  }
  const { template } = app.form;
  const go = (id, ...reasons) =>
    h(
      'li',
      { 'data-item': id },
      h(
        'button',
        { type: 'button', class: 'link goto', onclick: () => goToItem(id) },
        label(cl.item(template, id)?.label) || id,
      ),
      reasons.some(Boolean) ? h('span', { class: 'why muted' }, reasons.filter(Boolean).join('；')) : null,
    );
  const missing = new Set(progress.missing.map((m) => m.item));
  const fix = errors.filter((e) => !missing.has(e.item) && e.rule !== 'required' && e.rule !== 'photos_min');
  const fixIds = [...new Set(fix.map((e) => e.item))];
  const blocked = errors.length > 0;
  box.replaceChildren(
    ...[
      h('h2', { id: 'summary-title', tabindex: '-1' }, t('summary_title')),
      h('p', null, t('progress', progress.done, progress.total)),
      h('h3', null, t('summary_missing')),
      progress.missing.length
        ? h(
            'ul',
            { class: 'summary-list', id: 'summary-missing' },
            progress.missing.map((m) =>
              go(
                m.item,
                ...[
                  m.answer ? t('missing_answer') : null,
                  m.photos ? t('missing_photos', cl.item(template, m.item).photos_min) : null,
                ].filter(Boolean),
              ),
            ),
          )
        : h('p', { class: 'muted' }, t('summary_no_missing')),
      fixIds.length
        ? [
            h('h3', null, t('summary_fix')),
            h(
              'ul',
              { class: 'summary-list', id: 'summary-fix' },
              fixIds.map((id) => go(id, ...fix.filter((e) => e.item === id).map(errorText))),
            ),
          ]
        : null,
      h('h3', null, t('summary_failing')),
      progress.failing.length
        ? [
            h('p', { class: 'muted' }, t('summary_failing_hint')),
            h(
              'ul',
              { class: 'summary-list', id: 'summary-failing' },
              progress.failing.map((id) => go(id, passRule(cl.item(template, id)))),
            ),
          ]
        : h('p', { class: 'muted' }, t('summary_no_failing')),
      blocked ? h('p', { class: 'error', id: 'summary-blocked' }, t('summary_blocked')) : null,
      h(
        'p',
        { class: 'actions' },
        blocked
          ? null
          : h('button', { type: 'button', class: 'primary', id: 'confirm-submit', onclick: send }, t('confirm_submit')),
        h('button', { type: 'button', id: 'keep-editing', onclick: closeSummary }, t('keep_editing')),
      ),
    ]
      .flat()
      .filter(Boolean),
  );
}

/** What an item's answer must be to pass, in the console's words. */
function passRule(it) {
  const p = it.pass || {};
  const has = (k) => p[k] !== undefined && p[k] !== null;
  if (has('equals'))
    return t('rule_is', p.equals === true ? t('yes') : p.equals === false ? t('no') : String(p.equals));
  if (has('in'))
    return t('rule_is', p.in.map((id) => label(it.options?.find((o) => o.id === id)?.label) || id).join('、'));
  if (has('min') && has('max')) return t('rule_between', p.min, p.max);
  if (has('min')) return t('rule_min', p.min);
  if (has('max')) return t('rule_max', p.max);
  return null;
}

function closeSummary() {
  app.form.summary = false;
  refreshForm();
  document.getElementById('submit')?.focus();
}

/** Scrolls to an item (below the sticky header) and puts the focus on its first input. */
function goToItem(id) {
  const el = document.querySelector(`#checklist .item[data-item="${id}"]`);
  if (!el) return;
  el.scrollIntoView({ block: 'start' });
  const target = el.querySelector('input:not([type=file]), textarea') || el;
  target.focus({ preventScroll: true });
}

/** 提交 opens the summary; nothing is sent before it is confirmed. */
function onSubmit(ev) {
  ev.preventDefault();
  app.form.tried = true;
  app.form.summary = true;
  refreshForm();
  const title = document.getElementById('summary-title');
  title?.scrollIntoView({ block: 'start' });
  title?.focus({ preventScroll: true });
}

async function send() {
  const form = app.form;
  const { answers, photos, errors } = check();
  if (errors.length) {
    refreshForm();
    return;
  }
  const record = form.record;
  const body = {
    declaration_id: record.declaration_id,
    checklist: { code: record.checklist.code, version: record.checklist.version },
    started_at: record.started_at,
    submitted_at: new Date().toISOString(),
    utc_offset_minutes: -new Date().getTimezoneOffset(),
    answers,
    photos: photos.map((p) => ({ id: p.id, item: p.item, sha256: p.sha256 })),
  };
  if (form.position) body.location = form.position;
  // Photos of items the answers hid are not sent: forget them.
  for (const p of record.photos) if (!photos.includes(p)) await queue.dropPhoto(p.id);
  // The outbox names each photo by its item's label (photos kept from older drafts get it here).
  for (const p of photos) p.label = cl.item(form.template, p.item)?.label || p.label;
  record.photos = photos;
  stopWatching();
  clearTimeout(saveTimer);
  app.form = null;
  await queue.enqueue(record, body);
  renderHome();
}

// ---------------------------------------------------------------- start

function onNetwork() {
  renderHeader();
  if (navigator.onLine && app.user) {
    queue.kick({ force: true });
    if (app.view === 'home') loadLists();
  }
}

/**
 * Opened over plain http from another machine, the browser gives the app no service worker,
 * no `crypto.randomUUID` and no position: it says so, and what to ask the administrator,
 * instead of failing silently.
 */
function renderInsecure() {
  app.view = 'insecure';
  renderHeader();
  const secure = new URL(location.href);
  secure.protocol = 'https:';
  const https = secure.href;
  show(
    h(
      'section',
      { class: 'card insecure', id: 'insecure', role: 'alert' },
      h('h2', null, t('insecure_title')),
      h('p', null, t('insecure_why', location.origin)),
      h(
        'ul',
        null,
        h('li', null, t('insecure_sw')),
        h('li', null, t('insecure_ids')),
        h('li', null, t('insecure_position')),
      ),
      h('p', null, t('insecure_ask')),
      h('p', null, t('insecure_try'), ' ', h('a', { href: https, id: 'insecure-https' }, https)),
    ),
  );
}

async function start() {
  setLanguage(language());
  if (!window.isSecureContext) {
    renderInsecure();
    return;
  }
  window.addEventListener('online', onNetwork);
  window.addEventListener('offline', onNetwork);
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/m/sw.js', { scope: '/m/' }).catch((e) => console.warn('service worker', e));
  }
  // Ask the browser not to evict the outbox and its photos when storage runs low.
  navigator.storage?.persist?.().catch(() => {});
  await queue.prune().catch(() => {});
  const user = await api.restore();
  if (user) {
    await signedIn(user);
    queue.kick({ force: true });
  } else {
    renderLogin();
  }
}

start();
