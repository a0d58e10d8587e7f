// The Pending tab: the invitations not yet answered, each with who sent it
// and when it expires. An admin can check rows (each checkbox is named by
// its email) and Delete Selection, or Resend one; an agent only sees them.

import { command, get } from './api.js';
import { confirmAction } from './dialog.js';
import { announce, h, loadingRow, replace, showAlert, uid } from './dom.js';
import { openInviteDialog } from './invite.js';
import { describeError, formatDateTime, roleLabel } from './text.js';

const pageSize = 25;

export function renderPending(panel, ctx) {
  const manage = ctx.can.has('manage_invitations');
  const columns = manage ? 6 : 4;
  const selected = new Map(); // invitation id -> email
  const body = h('tbody', {}, loadingRow(columns, 'Loading pending invitations…'));
  const more = h('button', { type: 'button', class: 'secondary', text: 'Load more invitations', hidden: true });
  const del = h('button', { type: 'button', class: 'danger', text: 'Delete Selection', disabled: true });
  const count = h('span', { class: 'muted', 'aria-live': 'polite' });
  const captionId = uid('pending-caption');
  const table = h('table', { class: 'list', 'aria-labelledby': captionId, 'aria-busy': 'true' },
    h('thead', {}, h('tr', {},
      manage ? h('th', { scope: 'col' }, h('span', { class: 'visually-hidden', text: 'Select' })) : null,
      h('th', { scope: 'col', text: 'Email' }),
      h('th', { scope: 'col', text: 'Role' }),
      h('th', { scope: 'col', text: 'Invited by' }),
      h('th', { scope: 'col', text: 'Expires' }),
      manage ? h('th', { scope: 'col', text: 'Actions' }) : null)),
    body);

  function updateSelection() {
    del.disabled = selected.size === 0;
    count.textContent = selected.size ? `${selected.size} selected` : '';
  }

  del.addEventListener('click', async () => {
    const emails = [...selected.values()];
    const ok = await confirmAction({
      title: emails.length === 1 ? 'Delete 1 invitation?' : `Delete ${emails.length} invitations?`,
      message: `${emails.join(', ')} will no longer be able to accept ${emails.length === 1 ? 'it' : 'them'}.`,
      confirm: emails.length === 1 ? 'Delete invitation' : 'Delete invitations',
    });
    if (!ok) return;
    del.disabled = true;
    try {
      await command('POST', `/v1/properties/${encodeURIComponent(ctx.property.property_id)}/invitations/revoke`, { ids: [...selected.keys()] });
      announce(emails.length === 1 ? `The invitation to ${emails[0]} was deleted.` : `${emails.length} invitations were deleted.`);
      ctx.changed('pending');
    } catch (err) {
      showAlert(describeError(err));
      updateSelection();
    }
  });

  replace(panel,
    h('div', { class: 'toolbar' },
      h('h2', { id: captionId, class: 'panel-title', text: 'Pending invitations' }),
      manage ? [count, del, h('button', {
        type: 'button', class: 'primary', text: 'Invite Member',
        on: { click: () => openInviteDialog(ctx.property, ctx.roles, (sent) => { announce(`${sent.length === 1 ? 'Invitation' : `${sent.length} invitations`} sent.`); ctx.changed('pending'); }) },
      })] : null),
    h('div', { class: 'table-wrap' }, table), more);

  let cursor = '';
  let shown = 0;
  async function load() {
    more.disabled = true;
    table.setAttribute('aria-busy', 'true');
    try {
      // A page at a time, as the members are: next_cursor fetches the next.
      const page = await get(`/v1/properties/${encodeURIComponent(ctx.property.property_id)}/invitations`,
        { status: 'pending', limit: pageSize, cursor });
      if (!cursor) body.replaceChildren();
      for (const inv of page.invitations) body.appendChild(invitationRow(inv, ctx, manage, selected, updateSelection));
      shown += page.invitations.length;
      if (shown === 0) body.appendChild(h('tr', {}, h('td', { colspan: columns, class: 'empty', text: 'No pending invitations.' })));
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

function invitationRow(inv, ctx, manage, selected, updateSelection) {
  const cells = [];
  if (manage) {
    const box = h('input', { type: 'checkbox', 'aria-label': inv.email });
    box.addEventListener('change', () => {
      if (box.checked) selected.set(inv.id, inv.email);
      else selected.delete(inv.id);
      updateSelection();
    });
    cells.push(h('td', { class: 'select' }, box));
  }
  cells.push(
    h('td', { 'data-label': 'Email' }, h('span', { class: 'email', text: inv.email })),
    h('td', { 'data-label': 'Role', text: roleLabel(inv.role) }),
    h('td', { 'data-label': 'Invited by', text: inv.invited_by_email || 'A former member' }),
    h('td', { 'data-label': 'Expires' }, h('time', { datetime: inv.expires_at, text: formatDateTime(inv.expires_at) })),
  );
  if (manage) {
    const resend = h('button', { type: 'button', class: 'secondary', text: 'Resend', 'aria-label': `Resend ${inv.email}` });
    resend.addEventListener('click', async () => {
      resend.disabled = true;
      try {
        await command('POST', `/v1/properties/${encodeURIComponent(ctx.property.property_id)}/invitations/${encodeURIComponent(inv.id)}/resend`);
        announce(`The invitation to ${inv.email} was sent again; the earlier link no longer works.`);
        ctx.changed('pending');
      } catch (err) {
        showAlert(describeError(err));
        resend.disabled = false;
      }
    });
    cells.push(h('td', { 'data-label': 'Actions', class: 'actions' }, resend));
  }
  return h('tr', {}, cells);
}
