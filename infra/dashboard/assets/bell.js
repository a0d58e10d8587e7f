// The bell: a Notifications button with the unread count, opening a panel
// with the invitations addressed to the caller (each with Accept and
// Decline) and their notifications, newest first, a page at a time.

import { command, get } from './api.js';
import { confirmAction } from './dialog.js';
import { announce, h, replace, showAlert, uid } from './dom.js';
import { describeError, formatDateTime, notificationText, roleLabel } from './text.js';

const refreshEvery = 30000;

// createBell returns the bell's element. onJoined(propertyId) runs after
// an invitation was accepted here.
export function createBell(onJoined) {
  const panelId = uid('bell-panel');
  const countId = uid('bell-count');
  const badge = h('span', { class: 'bell-badge', 'aria-hidden': 'true', hidden: true });
  const count = h('span', { id: countId, class: 'visually-hidden', text: 'No unread notifications' });
  const button = h('button', {
    type: 'button', class: 'bell', 'aria-label': 'Notifications', 'aria-expanded': 'false',
    'aria-controls': panelId, 'aria-describedby': countId,
  }, h('span', { class: 'bell-icon', 'aria-hidden': 'true' }), badge);
  const panel = h('section', { id: panelId, class: 'bell-panel', 'aria-label': 'Your notifications and invitations', hidden: true, tabindex: '-1' });
  const root = h('div', { class: 'bell-wrap' }, button, count, panel);

  let notifications = [];
  let invitations = [];
  let cursor = '';
  let invitationCursor = '';
  let timer = 0;

  function showCount(unread) {
    badge.textContent = unread > 99 ? '99+' : String(unread);
    badge.hidden = unread === 0;
    count.textContent = unread === 0 ? 'No unread notifications' : `${unread} unread`;
  }

  async function refresh() {
    try {
      const [notes, mine] = await Promise.all([get('/v1/me/notifications', { limit: 20 }), get('/v1/me/invitations', { limit: 20 })]);
      notifications = notes.notifications;
      cursor = notes.next_cursor || '';
      invitations = mine.invitations;
      invitationCursor = mine.next_cursor || '';
      showCount(notes.unread);
      if (!panel.hidden) render();
    } catch {
      // The bell stays as it was; the next refresh tries again.
    }
  }

  function render() {
    const invites = invitations.length === 0
      ? h('p', { class: 'empty', text: 'No invitations waiting for you.' })
      : h('ul', { class: 'bell-list' }, invitations.map(invitationItem));
    const moreInvites = invitationCursor
      ? h('button', { type: 'button', class: 'link', text: 'More invitations', on: { click: moreInvitations } }) : null;
    const notes = notifications.length === 0
      ? h('p', { class: 'empty', text: 'No notifications yet.' })
      : h('ul', { class: 'bell-list' }, notifications.map((n) => h('li', { class: n.read ? 'read' : 'unread' },
        h('p', { text: notificationText(n) }),
        h('time', { datetime: n.created_at, class: 'muted', text: formatDateTime(n.created_at) }))));
    const more = cursor ? h('button', { type: 'button', class: 'link', text: 'Older notifications', on: { click: older } }) : null;
    replace(panel,
      h('h2', { class: 'bell-heading', text: 'Invitations' }), invites, moreInvites,
      h('h2', { class: 'bell-heading', text: 'Notifications' }), notes, more);
  }

  async function older() {
    try {
      const page = await get('/v1/me/notifications', { limit: 20, cursor });
      notifications = notifications.concat(page.notifications);
      cursor = page.next_cursor || '';
      render();
    } catch (err) {
      showAlert(describeError(err));
    }
  }

  async function moreInvitations() {
    try {
      const page = await get('/v1/me/invitations', { limit: 20, cursor: invitationCursor });
      invitations = invitations.concat(page.invitations);
      invitationCursor = page.next_cursor || '';
      render();
    } catch (err) {
      showAlert(describeError(err));
    }
  }

  function invitationItem(inv) {
    const where = inv.property_name;
    const accept = h('button', { type: 'button', class: 'primary', text: 'Accept', 'aria-label': `Accept invitation to ${where}` });
    const decline = h('button', { type: 'button', class: 'secondary', text: 'Decline', 'aria-label': `Decline invitation to ${where}` });
    const path = `/v1/properties/${encodeURIComponent(inv.property_id)}/invitations/${encodeURIComponent(inv.id)}`;
    accept.addEventListener('click', async () => {
      accept.disabled = true;
      try {
        const out = await command('POST', `${path}/accept`);
        announce(`You joined ${where} as ${roleLabel(out.role)}.`);
        close();
        await refresh();
        onJoined(out.property_id);
      } catch (err) {
        showAlert(describeError(err));
        accept.disabled = false;
      }
    });
    decline.addEventListener('click', async () => {
      if (!(await confirmAction({
        title: `Decline the invitation to ${where}?`,
        message: 'You will not be able to accept it later; an admin would have to invite you again.',
        confirm: 'Decline invitation',
      }))) return;
      try {
        await command('POST', `${path}/decline`);
        announce(`You declined the invitation to ${where}.`);
        await refresh();
      } catch (err) {
        showAlert(describeError(err));
      }
    });
    return h('li', { class: 'invitation' },
      h('p', {}, `${inv.invited_by_email || 'An admin'} invited you to `, h('strong', { text: where }), ` as ${roleLabel(inv.role)}.`),
      h('p', { class: 'muted', text: `Expires ${formatDateTime(inv.expires_at)}` }),
      h('div', { class: 'item-actions' }, accept, decline));
  }

  async function open() {
    panel.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    render();
    panel.focus();
    const unread = notifications.filter((n) => !n.read).map((n) => n.id);
    if (unread.length > 0) {
      try {
        const out = await command('POST', '/v1/me/notifications/read', { ids: unread });
        showCount(out.unread);
      } catch { /* still unread; nothing else to do */ }
    }
  }

  function close() {
    panel.hidden = true;
    button.setAttribute('aria-expanded', 'false');
  }

  button.addEventListener('click', () => (panel.hidden ? open() : close()));
  root.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !panel.hidden) {
      close();
      button.focus();
    }
  });
  document.addEventListener('click', (ev) => {
    if (!panel.hidden && !root.contains(ev.target) && !ev.target.closest('dialog')) close();
  });

  function start() {
    refresh();
    window.clearInterval(timer);
    timer = window.setInterval(() => { if (document.visibilityState === 'visible') refresh(); }, refreshEvery);
  }
  function stop() { window.clearInterval(timer); }

  return { root, start, stop, refresh };
}
