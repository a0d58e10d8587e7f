// The Property Members page: signing in, the property switcher, the tabs
// Members, Pending, Audit and Webhooks, and the bell. Everything it shows comes from
// Roster's public API; see api.js. The tab Roles lists the property's roles.

import * as api from './api.js';
import { acceptPending, captureToken, onAcceptPage, pendingToken, signInFirstNote } from './accept.js';
import { renderAudit } from './audit.js';
import { devSignIn, finishOIDC, forget, isOIDCReturn, loadSignInConfig, session, startOIDC } from './auth.js';
import { createBell } from './bell.js';
import { openDialog } from './dialog.js';
import { announce, h, replace, showAlert, uid } from './dom.js';
import { renderMembers } from './members.js';
import { renderPending } from './pending.js';
import { loadRoles, renderRoles } from './roles.js';
import { renderSettings } from './settings.js';
import { renderWebhooks } from './webhooks.js';
import { describeError, roleLabel } from './text.js';

const view = document.getElementById('view');
const switcher = document.getElementById('switcher');
const account = document.getElementById('account');

const tabs = [
  { id: 'members', label: 'Members', render: renderMembers, needs: 'view_members' },
  { id: 'pending', label: 'Pending', render: renderPending, needs: 'view_members' },
  // Every enabled member may read the trail, as the API allows.
  { id: 'audit', label: 'Audit', render: renderAudit, needs: 'view_members' },
  // Every enabled member may see the roles, as the API allows, whatever
  // their role holds; those who manage members change them.
  { id: 'roles', label: 'Roles', render: renderRoles, needs: null },
  // The property's settings (the invitation policy): admins only.
  { id: 'settings', label: 'Settings', render: renderSettings, needs: 'administrate_settings' },
  // The API lets only those who administer the settings see the endpoints.
  { id: 'webhooks', label: 'Webhooks', render: renderWebhooks, needs: 'administrate_settings' },
];

const state = {
  cfg: null, me: null, properties: [], current: null, can: new Set(), roles: [], tab: 'members', bell: null, expiry: 0,
};

api.whenUnauthenticated(() => signOut('Your session has ended. Please sign in again.'));
boot();

async function boot() {
  captureToken();
  try {
    state.cfg = await loadSignInConfig();
  } catch (err) {
    replace(view, h('section', { class: 'card' }, h('h1', { text: 'Roster cannot be reached' }), h('p', { class: 'problem', text: describeError(err) })));
    return;
  }
  if (isOIDCReturn()) {
    try {
      await finishOIDC(state.cfg.oidc);
    } catch (err) {
      renderSignIn(err.message);
      return;
    }
  }
  const s = session();
  if (s) await signedIn(s);
  else renderSignIn();
}

// ---- signing in and out ----

function renderSignIn(problem) {
  document.title = 'Sign in · Roster';
  replace(switcher);
  replace(account);
  const parts = [h('h1', { text: 'Sign in to Roster' })];
  if (onAcceptPage() && pendingToken()) parts.push(signInFirstNote());
  if (problem) parts.push(h('p', { class: 'problem', role: 'alert', text: problem }));
  const { cfg } = state;
  if (cfg.dev_login) {
    const id = uid('signin-email');
    const errorId = uid('signin-error');
    const email = h('input', { id, type: 'email', name: 'email', autocomplete: 'email', required: true, spellcheck: 'false' });
    const error = h('p', { id: errorId, class: 'form-error', hidden: true });
    const button = h('button', { type: 'submit', class: 'primary', text: 'Sign in' });
    const form = h('form', { class: 'signin', novalidate: true },
      h('div', { class: 'field' }, h('label', { for: id, text: 'Email' }), email),
      error, button,
      h('p', { class: 'hint', text: 'Development sign-in (ROSTER_DEV_LOGIN) is on: you are signed in as the address you type, with no password. It is never on in production.' }));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.hidden = true;
      email.removeAttribute('aria-invalid');
      button.disabled = true;
      try {
        await signedIn(await devSignIn(email.value));
      } catch (err) {
        error.textContent = err.status === 422 || err.status === 400 ? `${describeError(err)} Enter an address like ann@example.com.` : describeError(err);
        error.hidden = false;
        email.setAttribute('aria-invalid', 'true');
        email.setAttribute('aria-describedby', errorId);
        email.focus();
        button.disabled = false;
      }
    });
    parts.push(form);
    replace(view, h('section', { class: 'card narrow' }, parts));
    email.focus();
    return;
  }
  if (cfg.oidc) {
    const button = h('button', { type: 'button', class: 'primary', text: 'Sign in' });
    button.addEventListener('click', () => {
      button.disabled = true;
      startOIDC(cfg.oidc, window.location.pathname + window.location.search).catch((err) => {
        button.disabled = false;
        showAlert(err.message);
      });
    });
    parts.push(h('p', { text: 'You sign in with your organisation\'s account.' }), button);
    replace(view, h('section', { class: 'card narrow' }, parts));
    button.focus();
    return;
  }
  parts.push(h('p', { class: 'problem', text: 'No way to sign in is set up on this server. Its operator sets ROSTER_OIDC_ISSUER and ROSTER_OIDC_CLIENT_ID, or ROSTER_DEV_LOGIN=true for development.' }));
  replace(view, h('section', { class: 'card narrow' }, parts));
}

async function signedIn(s) {
  api.setToken(s.token);
  window.clearTimeout(state.expiry);
  const left = Date.parse(s.expiresAt) - Date.now();
  state.expiry = window.setTimeout(() => signOut('Your session has ended. Please sign in again.'), Math.min(left, 2 ** 31 - 1));
  try {
    state.me = await api.get('/v1/me', undefined, { consistent: false });
  } catch (err) {
    if (err.status !== 401) renderSignIn(describeError(err));
    return;
  }
  state.bell = createBell((pid) => reloadAndOpen(pid));
  renderAccount();
  state.bell.start();
  if (onAcceptPage()) {
    const joined = await acceptPending(view, state.me, () => signOut());
    await loadProperties();
    renderSwitcher();
    if (!joined) return;
    window.history.replaceState(null, '', '/');
    await openProperty(joined.propertyId, 'members');
    const p = findProperty(joined.propertyId);
    announce(`You joined ${p ? p.name : 'the property'} as ${joined.role}.`);
    return;
  }
  await loadProperties();
  const q = new URLSearchParams(window.location.search);
  await openProperty(q.get('property'), q.get('tab'));
}

function signOut(message) {
  forget();
  api.setToken('');
  window.clearTimeout(state.expiry);
  if (state.bell) state.bell.stop();
  state.me = null;
  state.current = null;
  showAlert(null);
  if (!onAcceptPage()) window.history.replaceState(null, '', '/');
  renderSignIn(message);
  if (!message) announce('You are signed out.');
}

function renderAccount() {
  replace(account,
    state.bell.root,
    h('span', { class: 'who', text: state.me.email }),
    h('button', { type: 'button', class: 'secondary', text: 'Sign out', on: { click: () => signOut() } }));
}

// ---- properties ----

async function loadProperties() {
  try {
    // The switcher lists every property, so every page is read, the
    // largest the API gives at a time.
    const all = [];
    let cursor = '';
    do {
      const page = await api.get('/v1/me/properties', { limit: 200, cursor });
      all.push(...page.properties);
      cursor = page.next_cursor || '';
    } while (cursor);
    state.properties = all;
  } catch (err) {
    showAlert(describeError(err));
  }
}

const findProperty = (pid) => state.properties.find((p) => p.property_id === pid);
const roleHere = (p) => (p.owner ? 'Owner' : roleLabel(p.role));

function renderSwitcher() {
  const id = uid('property-select');
  const select = h('select', { id },
    state.properties.length === 0 ? h('option', { value: '', text: 'No properties yet' }) : null,
    state.properties.map((p) => h('option', {
      value: p.property_id,
      selected: state.current && p.property_id === state.current.property_id,
      disabled: p.status !== 'enabled',
      text: p.status === 'enabled' ? `${p.name} (${roleHere(p)})` : `${p.name} (access disabled)`,
    })));
  select.disabled = state.properties.length === 0;
  select.addEventListener('change', () => { announce(''); openProperty(select.value, state.tab); });
  replace(switcher,
    h('label', { for: id, class: 'switcher-label', text: 'Property' }), select,
    h('button', { type: 'button', class: 'secondary', text: 'New property', on: { click: newPropertyDialog } }));
}

function newPropertyDialog() {
  const id = uid('property-name');
  const name = h('input', { id, type: 'text', maxlength: '200', required: true, autocomplete: 'off' });
  const error = h('p', { class: 'form-error', hidden: true });
  const create = h('button', { type: 'submit', class: 'primary', text: 'Create property' });
  const cancel = h('button', { type: 'button', class: 'secondary', text: 'Cancel' });
  const form = h('form', { novalidate: true },
    h('div', { class: 'field' }, h('label', { for: id, text: 'Property name' }), name),
    h('p', { class: 'hint', text: 'The website or page where the chat widget runs. You become its owner.' }),
    error,
    h('div', { class: 'dialog-actions' }, cancel, create));
  const { close } = openDialog({ title: 'New property', body: form });
  cancel.addEventListener('click', close);
  name.focus();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    create.disabled = true;
    try {
      const out = await api.command('POST', '/v1/properties', { name: name.value });
      close();
      await reloadAndOpen(out.property_id);
      announce(`${findProperty(out.property_id)?.name || 'The property'} was created; you are its owner.`);
    } catch (err) {
      error.textContent = describeError(err);
      error.hidden = false;
      name.setAttribute('aria-invalid', 'true');
      name.focus();
    } finally {
      create.disabled = false;
    }
  });
}

async function reloadAndOpen(pid) {
  await loadProperties();
  await openProperty(pid, 'members');
}

// openProperty shows property pid (else the first one the caller may
// open) on tab; it explains when the caller has none or lost this one.
async function openProperty(pid, tab) {
  showAlert(null);
  const wanted = pid ? findProperty(pid) : null;
  const usable = state.properties.filter((p) => p.status === 'enabled');
  const p = wanted && wanted.status === 'enabled' ? wanted : (pid ? null : usable[0]);
  state.current = p || null;
  renderSwitcher();
  if (!p) {
    document.title = 'Roster';
    window.history.replaceState(null, '', '/');
    const lost = pid && wanted
      ? `Your access to ${wanted.name} is disabled. An admin of the property can enable it again.`
      : (pid ? 'You are not a member of this property, or it does not exist.' : '');
    replace(view, h('section', { class: 'card' },
      h('h1', { text: usable.length ? 'Choose a property' : 'No properties yet' }),
      lost ? h('p', { class: 'problem', text: lost }) : null,
      usable.length
        ? h('p', { text: 'Pick one of your properties with the switcher above.' })
        : h('p', { text: 'You are not a member of any property yet. Create one with New property, or accept an invitation from Notifications.' })));
    return;
  }
  state.tab = tabs.some((t) => t.id === tab) ? tab : 'members';
  document.title = `${p.name} · Roster`;
  await renderProperty();
}

async function renderProperty() {
  const p = state.current;
  // What is on screen is about to be replaced: say so until it is.
  for (const table of view.querySelectorAll('table')) table.setAttribute('aria-busy', 'true');
  const pid = encodeURIComponent(p.property_id);
  try {
    const access = await api.get(`/v1/properties/${pid}/members/${encodeURIComponent(state.me.account_id)}/permissions`);
    state.can = new Set(access.permissions);
    // The roles' names, for every label and picker of the property.
    state.roles = (await loadRoles(p)).roles;
    renderSwitcher();
  } catch (err) {
    if (err.code === 'property_not_found' || err.code === 'member_not_found') {
      await loadProperties();
      await openProperty(p.property_id);
      return;
    }
    replace(view, h('p', { class: 'problem', text: describeError(err) }));
    return;
  }
  window.history.replaceState(null, '', `/?property=${pid}&tab=${state.tab}`);
  const summary = h('p', { class: 'muted summary', text: `You are ${roleHere(p)} here.` });
  api.get(`/v1/properties/${pid}`).then((info) => {
    summary.textContent = `You are ${roleHere(p)} here · ${count(info.member_count, 'member')} · ${count(info.pending_invitation_count, 'pending invitation')}`;
  }).catch(() => {});
  const visible = tabs.filter((t) => !t.needs || state.can.has(t.needs));
  if (!visible.some((t) => t.id === state.tab)) state.tab = visible[0].id;
  const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': `Sections of ${p.name}` });
  const panel = h('div', { class: 'panel', role: 'tabpanel', tabindex: '0' });
  const buttons = visible.map((t) => {
    const b = h('button', {
      type: 'button', role: 'tab', id: `tab-${t.id}`, 'aria-controls': 'tab-panel',
      'aria-selected': String(t.id === state.tab), tabindex: t.id === state.tab ? '0' : '-1', text: t.label,
    });
    b.addEventListener('click', () => { state.tab = t.id; announce(''); renderProperty(); });
    return b;
  });
  tablist.addEventListener('keydown', (ev) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: buttons.length - 1 }[ev.key];
    if (next === undefined) return;
    ev.preventDefault();
    const b = buttons[(next + buttons.length) % buttons.length];
    b.focus();
    b.click();
  });
  replace(tablist, buttons);
  panel.id = 'tab-panel';
  panel.setAttribute('aria-labelledby', `tab-${state.tab}`);
  const focusedTab = document.activeElement && document.activeElement.getAttribute('role') === 'tab';
  replace(view, h('section', { class: 'property' },
    h('h1', { class: 'property-name', text: p.name }), summary, tablist, panel));
  if (focusedTab) document.getElementById(`tab-${state.tab}`).focus();
  const tab = visible.find((t) => t.id === state.tab) || visible[0];
  await tab.render(panel, { property: p, me: state.me, can: state.can, roles: state.roles, changed });
}

function count(n, noun) {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

// changed refreshes what a command may have changed: the caller's
// properties and rights, and the open tab. Reads carry the command's
// position, so they show the change. Focus goes back to the control it
// was on, found again by its name.
async function changed(tab) {
  for (const table of view.querySelectorAll('table')) table.setAttribute('aria-busy', 'true');
  const focused = document.activeElement;
  const name = focused && (focused.getAttribute('aria-label') || focused.textContent);
  const pid = state.current && state.current.property_id;
  const shown = state.tab;
  await loadProperties();
  const p = findProperty(pid);
  if (!p || p.status !== 'enabled') {
    await openProperty(pid);
    return;
  }
  state.current = p;
  // A tab the person chose meanwhile wins over the one the change named.
  if (tab && state.tab === shown) state.tab = tab;
  await renderProperty();
  if (name && !document.querySelector('dialog')) {
    const again = Array.from(view.querySelectorAll('button, select, input, a'))
      .find((el) => (el.getAttribute('aria-label') || el.textContent) === name);
    if (again && !again.disabled) again.focus();
  }
}
