// The Members tab: each member with role, status, when they joined and when
// their access ends. An admin gets a role select, Access end, Disable or
// Enable, and Remove on every row but the owner's (whose access cannot
// end); an agent sees the same list with no control at all.

import { command, get } from './api.js';
import { confirmAction, openDialog } from './dialog.js';
import { announce, h, loadingRow, replace, showAlert, uid } from './dom.js';
import { openInviteDialog } from './invite.js';
import { roleOptions } from './roles.js';
import { describeError, formatDate, formatDateTime, roleLabel, statusLabel } from './text.js';

const pageSize = 25;

// renderMembers fills panel. ctx: property, me (account), can (permission
// set), changed() to refresh everything after a change.
export function renderMembers(panel, ctx) {
  const manage = ctx.can.has('manage_members');
  const columns = manage ? 6 : 5;
  const body = h('tbody', {}, loadingRow(columns, 'Loading members…'));
  const more = h('button', { type: 'button', class: 'secondary', text: 'Load more members', hidden: true });
  const captionId = uid('members-caption');
  const table = h('table', { class: 'list', 'aria-labelledby': captionId, 'aria-busy': 'true' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'Email' }),
      h('th', { scope: 'col', text: 'Role' }),
      h('th', { scope: 'col', text: 'Status' }),
      h('th', { scope: 'col', text: 'Joined' }),
      h('th', { scope: 'col', text: 'Access until' }),
      manage ? h('th', { scope: 'col', text: 'Actions' }) : null)),
    body);
  const toolbar = h('div', { class: 'toolbar' },
    h('h2', { id: captionId, class: 'panel-title', text: 'Members' }),
    ctx.can.has('manage_invitations')
      ? h('button', {
        type: 'button', class: 'primary', text: 'Invite Member',
        on: { click: () => openInviteDialog(ctx.property, ctx.roles, (sent) => { announce(invitedText(sent)); ctx.changed('pending'); }) },
      })
      : null);
  replace(panel, toolbar,
    manage ? null : h('p', { class: 'hint', text: 'You can see the members of this property; only its admins can change them.' }),
    h('div', { class: 'table-wrap' }, table), more);

  let cursor = '';
  let shown = 0;
  async function load() {
    more.disabled = true;
    table.setAttribute('aria-busy', 'true');
    try {
      const page = await get(`/v1/properties/${encodeURIComponent(ctx.property.property_id)}/members`, { limit: pageSize, cursor });
      if (!cursor) body.replaceChildren();
      for (const m of page.members) body.appendChild(memberRow(m, ctx, manage));
      shown += page.members.length;
      if (shown === 0) body.appendChild(h('tr', {}, h('td', { colspan: columns, class: 'empty', text: 'No members yet.' })));
      cursor = page.next_cursor || '';
      more.hidden = !cursor;
    } catch (err) {
      if (!cursor) replace(body, h('tr', {}, h('td', { colspan: columns, class: 'problem', text: describeError(err) })));
      else showAlert(describeError(err));
    } finally {
      more.disabled = false;
      table.setAttribute('aria-busy', 'false');
    }
  }
  more.addEventListener('click', load);
  return load();
}

function invitedText(sent) {
  if (sent.length === 1) return `Invitation sent to ${sent[0].email}.`;
  return `${sent.length} invitations sent.`;
}

function memberRow(m, ctx, manage) {
  const isMe = m.account_id === ctx.me.account_id;
  const who = h('td', { 'data-label': 'Email' }, h('span', { class: 'email', text: m.email }),
    m.owner ? [' ', h('span', { class: 'badge', text: 'Owner' })] : null,
    isMe ? [' ', h('span', { class: 'badge subtle', text: 'You' })] : null);
  const cells = [
    who,
    h('td', { 'data-label': 'Role' }, manage && !m.owner ? roleSelect(m, ctx) : roleLabel(m.role)),
    h('td', { 'data-label': 'Status' }, h('span', { class: `status-${m.status}`, text: statusLabel(m.status) })),
    h('td', { 'data-label': 'Joined' }, formatDate(m.joined_at)),
    h('td', { 'data-label': 'Access until', class: 'access-until' },
      m.access_until ? h('time', { datetime: m.access_until, text: formatDateTime(m.access_until) }) : h('span', { class: 'muted', text: 'No end' })),
  ];
  if (manage) {
    cells.push(h('td', { 'data-label': 'Actions', class: 'actions' },
      m.owner ? h('span', { class: 'muted', text: 'The owner cannot be changed' }) : memberActions(m, ctx)));
  }
  return h('tr', { class: m.status === 'disabled' ? 'is-disabled' : null }, cells);
}

function roleSelect(m, ctx) {
  const select = h('select', { 'aria-label': `Role of ${m.email}` }, roleOptions(ctx.roles, m.role));
  select.addEventListener('change', async () => {
    const role = select.value;
    select.disabled = true;
    try {
      await command('PUT', memberPath(ctx, m, '/role'), { role });
      announce(`${m.email} is now ${roleLabel(role)}.`);
      m.role = role;
      ctx.changed('members');
    } catch (err) {
      select.value = m.role;
      showAlert(describeError(err));
    } finally {
      select.disabled = false;
    }
  });
  return select;
}

function memberActions(m, ctx) {
  const enabled = m.status === 'enabled';
  const toggle = h('button', {
    type: 'button', class: 'secondary', text: enabled ? 'Disable' : 'Enable',
    'aria-label': `${enabled ? 'Disable' : 'Enable'} ${m.email}`,
  });
  toggle.addEventListener('click', async () => {
    if (enabled && !(await confirmAction({
      title: `Disable ${m.email}?`,
      message: `${m.email} will lose access to ${ctx.property.name} until enabled again.`,
      confirm: 'Disable access',
    }))) return;
    await run(toggle, () => command('POST', memberPath(ctx, m, enabled ? '/disable' : '/enable')),
      `${m.email} is ${enabled ? 'disabled' : 'enabled again'}.`, ctx);
  });
  const remove = h('button', { type: 'button', class: 'danger-outline', text: 'Remove', 'aria-label': `Remove ${m.email}` });
  remove.addEventListener('click', async () => {
    if (!(await confirmAction({
      title: `Remove ${m.email}?`,
      message: `${m.email} will no longer be a member of ${ctx.property.name}. To come back they need a new invitation.`,
      confirm: 'Remove member',
    }))) return;
    await run(remove, () => command('DELETE', memberPath(ctx, m, '')), `${m.email} was removed.`, ctx);
  });
  const ends = h('button', {
    type: 'button', class: 'secondary', text: 'Access end',
    'aria-label': `Set when the access of ${m.email} ends`,
    on: { click: () => openAccessUntilDialog(m, ctx) },
  });
  return [ends, toggle, remove];
}

// localValue is an instant as a datetime-local input shows it, in the
// browser's zone, to the minute.
function localValue(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// openAccessUntilDialog sets, changes or clears when m's access ends. The
// server checks the moment (in the future, at most 5 years ahead) and says
// why it refuses one.
function openAccessUntilDialog(m, ctx) {
  const inputId = uid('access-until');
  const input = h('input', { id: inputId, type: 'datetime-local', name: 'access_until', required: true,
    value: m.access_until ? localValue(m.access_until) : '' });
  const error = h('p', { class: 'form-error', hidden: true, id: uid('access-until-error') });
  const save = h('button', { type: 'submit', class: 'primary', text: 'Save end' });
  const clear = h('button', { type: 'button', class: 'danger-outline', text: 'Clear end', hidden: !m.access_until });
  const cancel = h('button', { type: 'button', class: 'secondary', text: 'Cancel' });
  const form = h('form', { class: 'access-until-form', novalidate: true },
    h('p', { class: 'hint', text: `From this moment ${m.email} loses access to ${ctx.property.name}, as if disabled. They are told 7 days and 1 day before.` }),
    h('div', { class: 'field' }, h('label', { for: inputId, text: 'Access until' }), input),
    error,
    h('div', { class: 'dialog-actions' }, cancel, clear, save));
  const { close } = openDialog({ title: `Access of ${m.email}`, body: form });
  cancel.addEventListener('click', close);
  async function send(method, body, done) {
    error.hidden = true;
    input.removeAttribute('aria-invalid');
    save.disabled = true;
    clear.disabled = true;
    try {
      await command(method, memberPath(ctx, m, '/access-until'), body);
      close();
      announce(done);
      ctx.changed('members');
    } catch (err) {
      error.textContent = describeError(err);
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', error.id);
      input.focus();
    } finally {
      save.disabled = false;
      clear.disabled = false;
    }
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!input.value) {
      error.textContent = 'Choose a date and time, or Clear end.';
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    const at = new Date(input.value).toISOString();
    send('PUT', { access_until: at }, `The access of ${m.email} ends on ${formatDateTime(at)}.`);
  });
  clear.addEventListener('click', () => send('DELETE', undefined, `The access of ${m.email} no longer ends.`));
}

async function run(button, call, done, ctx) {
  button.disabled = true;
  try {
    await call();
    announce(done);
    ctx.changed('members');
  } catch (err) {
    showAlert(describeError(err));
    button.disabled = false;
  }
}

function memberPath(ctx, m, suffix) {
  return `/v1/properties/${encodeURIComponent(ctx.property.property_id)}/members/${encodeURIComponent(m.account_id)}${suffix}`;
}
