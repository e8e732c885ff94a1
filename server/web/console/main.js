// The console's entry: the top bar, the login form, and hash routing to each role's views.

import * as api from './api.js';
import { h, field } from './dom.js';
import { t, getLang, setLang, roleName } from './i18n.js';
import { errorBox, formErrors } from './ui.js';
import { queueView } from './views/queue.js';
import { myDecisionsView } from './views/decisions.js';
import { inspectionView } from './views/inspection.js';
import { villagesView, myVillageView } from './views/villages.js';
import { usersView } from './views/users.js';
import { importView } from './views/import.js';
import { policyView } from './views/policy.js';
import { webhooksView } from './views/webhooks.js';
import { membersView } from './views/members.js';
import { overdueView } from './views/overdue.js';
import { dashboardView } from './views/dashboard.js';
import { declarationsView } from './views/declarations.js';
import { benefitsView, eligibilityView } from './views/benefits.js';

const COUNTY = ['admin', 'reviewer', 'inspector'];
/** County staff and township staff: both read villages and reports of their scope. */
const STAFF = [...COUNTY, 'township'];

/** path pattern, view, roles, nav label key (routes without one are not in the menu). */
const ROUTES = [
  { path: 'queue', view: queueView, roles: ['reviewer', 'admin'], nav: 'nav.queue' },
  { path: 'decided', view: myDecisionsView, roles: ['reviewer'], nav: 'nav.decided' },
  { path: 'inspection/:id', view: inspectionView, roles: ['reviewer', 'admin', 'inspector', 'township', 'secretary'] },
  { path: 'declarations', view: declarationsView, roles: ['township', 'admin'], nav: 'nav.declarations' },
  { path: 'members', view: membersView, roles: ['secretary'], nav: 'nav.members' },
  { path: 'overdue', view: overdueView, roles: ['secretary'], nav: 'nav.overdue' },
  { path: 'village', view: myVillageView, roles: ['secretary'], nav: 'nav.village' },
  { path: 'villages', view: villagesView, roles: STAFF, nav: 'nav.villages' },
  { path: 'dashboard', view: dashboardView, roles: STAFF, nav: 'nav.dashboard' },
  { path: 'eligibility', view: eligibilityView, roles: STAFF, nav: 'nav.eligibility' },
  { path: 'benefits', view: benefitsView, roles: COUNTY, nav: 'nav.benefits' },
  { path: 'users', view: usersView, roles: ['admin'], nav: 'nav.users' },
  { path: 'import', view: importView, roles: ['admin'], nav: 'nav.import' },
  { path: 'policy', view: policyView, roles: ['admin', 'reviewer'], nav: 'nav.policy' },
  { path: 'webhooks', view: webhooksView, roles: ['admin'], nav: 'nav.webhooks' },
];

const HOME = {
  reviewer: 'queue',
  admin: 'dashboard',
  inspector: 'dashboard',
  township: 'declarations',
  secretary: 'members',
};

const shell = document.getElementById('shell');
const main = document.getElementById('main');
let blobs = [];
/** Clean-ups the current page registered (ctx.onLeave), run when the next one renders. */
const leaving = [];
let loginNotice = null;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  return {
    parts: path.split('/').filter(Boolean).map(decodeURIComponent),
    query: Object.fromEntries(new URLSearchParams(query)),
  };
}

function match(parts) {
  for (const r of ROUTES) {
    const pat = r.path.split('/');
    if (pat.length !== parts.length) continue;
    if (pat.every((p, i) => p.startsWith(':') || p === parts[i])) {
      const params = {};
      pat.forEach((p, i) => {
        if (p.startsWith(':')) params[p.slice(1)] = parts[i];
      });
      return { route: r, params };
    }
  }
  return null;
}

export function navigate(path, query = {}) {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  const hash = `#/${path}${q.toString() ? `?${q}` : ''}`;
  if (location.hash === hash) render();
  else location.hash = hash;
}

function renderShell(active) {
  const session = api.current();
  if (!session) {
    shell.replaceChildren();
    return;
  }
  const role = session.user.role;
  const links = ROUTES.filter((r) => r.nav && r.roles.includes(role));
  const langButton = h(
    'button',
    { type: 'button', lang: getLang() === 'zh' ? 'en' : 'zh', onclick: switchLang },
    t('lang.switch'),
  );
  shell.replaceChildren(
    h(
      'header',
      { class: 'topbar' },
      h('span', { class: 'brand' }, t('app.name')),
      h(
        'nav',
        { 'aria-label': t('nav.label') },
        h(
          'ul',
          {},
          links.map((r) =>
            h('li', {}, h('a', { href: `#/${r.path}`, 'aria-current': active === r.path ? 'page' : false }, t(r.nav))),
          ),
        ),
      ),
      h(
        'div',
        { class: 'who' },
        h('span', {}, `${session.user.username} · ${roleName(role)}`),
        langButton,
        h('button', { type: 'button', onclick: () => api.logout() }, t('nav.logout')),
      ),
    ),
  );
}

function switchLang() {
  setLang(getLang() === 'zh' ? 'en' : 'zh');
  render();
}

function renderLogin() {
  shell.replaceChildren();
  const user = h('input', { autocomplete: 'username', required: true, autocapitalize: 'off', spellcheck: 'false' });
  const pass = h('input', { type: 'password', autocomplete: 'current-password', required: true });
  const status = h(
    'div',
    { 'aria-live': 'assertive' },
    loginNotice ? h('p', { class: 'notice info' }, loginNotice) : null,
  );
  const button = h('button', { class: 'primary', type: 'submit' }, t('login.submit'));
  const form = h(
    'form',
    {
      class: 'card',
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        status.replaceChildren();
        formErrors(form, null);
        button.disabled = true;
        try {
          await api.login(user.value.trim(), pass.value);
          loginNotice = null;
        } catch (err) {
          pass.value = '';
          if (err.status === 401) status.replaceChildren(h('p', { class: 'notice error' }, t('login.failed')));
          else if (err.status === 429) status.replaceChildren(h('p', { class: 'notice error' }, t('login.throttled')));
          else formErrors(form, err, status);
          button.disabled = false;
        }
      },
    },
    field(t('login.username'), user, { name: 'username' }),
    field(t('login.password'), pass, { name: 'password' }),
    button,
  );
  main.replaceChildren(
    h(
      'div',
      { class: 'login' },
      h('div', { class: 'brandline' }, t('app.name')),
      h('h1', { tabindex: '-1' }, t('login.title')),
      status,
      form,
      h(
        'p',
        { class: 'lang-switch' },
        h(
          'button',
          { type: 'button', class: 'link', lang: getLang() === 'zh' ? 'en' : 'zh', onclick: switchLang },
          t('lang.switch'),
        ),
      ),
    ),
  );
  user.focus();
}

async function render() {
  // A filter that re-renders its page keeps the focus (controls that do have stable ids).
  const focusedId =
    document.activeElement?.id && main.contains(document.activeElement) ? document.activeElement.id : null;
  for (const url of blobs) URL.revokeObjectURL(url);
  blobs = [];
  // What the last page left behind (key listeners, dialogs).
  for (const leave of leaving.splice(0)) {
    try {
      leave();
    } catch {
      // A page's clean-up never stops the next page.
    }
  }
  document.title = t('app.title');
  const session = api.current();
  if (!session) {
    renderLogin();
    return;
  }
  const role = session.user.role;
  const { parts, query } = parseHash();
  const found = match(parts);
  if (!found) {
    const home = HOME[role];
    if (home) {
      location.replace(`#/${home}`);
    } else {
      renderShell(null);
      main.replaceChildren(
        h(
          'div',
          { class: 'card' },
          h('h1', { tabindex: '-1' }, t('app.name')),
          h('p', {}, t('role.phone_only')),
          h('p', {}, h('a', { href: '/m/' }, t('role.phone_link'))),
        ),
      );
    }
    return;
  }
  renderShell(found.route.path);
  const container = h('div', {});
  main.replaceChildren(container);
  if (!found.route.roles.includes(role)) {
    container.append(
      h('h1', { tabindex: '-1' }, t('error.forbidden_title')),
      h('p', { class: 'notice error' }, t('error.forbidden')),
    );
    return;
  }
  const ctx = {
    params: found.params,
    query,
    me: session.me,
    role,
    navigate,
    onLeave: (fn) => leaving.push(fn),
    keepBlob: (url) => {
      blobs.push(url);
      return url;
    },
  };
  try {
    await found.route.view(container, ctx);
  } catch (err) {
    if (err?.status === 401) return;
    container.append(errorBox(err));
  }
  const again = focusedId ? document.getElementById(focusedId) : null;
  if (again) again.focus({ preventScroll: true });
  else if (document.activeElement === document.body || !document.activeElement)
    container.querySelector('h1')?.focus({ preventScroll: true });
}

api.onSession((session, reason) => {
  if (!session) {
    loginNotice = reason === 'expired' ? t('login.expired') : null;
    if (reason === 'logout') history.replaceState(null, '', '#/');
  }
  render();
});
window.addEventListener('hashchange', render);
render();
