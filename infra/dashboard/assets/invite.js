// The Invite Member dialog: rows of Email, Role, Lifetime and an optional
// Access until (when the membership ends), + Add Another, and Send Invitation, which sends them all in one request. The
// API takes all or none, so a refused row is marked beside it and nothing
// was sent.

import { command, get } from './api.js';
import { openDialog } from './dialog.js';
import { h, uid } from './dom.js';
import { roleOptions } from './roles.js';
import { describeError, lifetimeChoices, lifetimeLabel, rowMessage } from './text.js';

const maxRows = 50; // the API's bound on one invite

// loadPolicy reads the property's invitation policy, for the lifetimes a
// row may choose; null when it cannot be read (the server still checks).
async function loadPolicy(property) {
  try {
    return await get(`/v1/properties/${encodeURIComponent(property.property_id)}/invitation-policy`);
  } catch {
    return null;
  }
}

// roles are the property's roles (built-in and custom) the Role picker offers.
export async function openInviteDialog(property, roles, onSent) {
  const policy = await loadPolicy(property);
  const maximum = policy ? policy.maximum_lifetime : lifetimeChoices[lifetimeChoices.length - 1];
  const choices = lifetimeChoices.filter((s) => s <= maximum);
  if (policy && !choices.includes(maximum)) choices.push(maximum);
  const rows = [];
  const list = h('div', { class: 'invite-rows' });
  const formError = h('p', { class: 'form-error', hidden: true });
  const add = h('button', { type: 'button', class: 'secondary', text: '+ Add Another' });
  const send = h('button', { type: 'submit', class: 'primary', text: 'Send Invitation' });
  const cancel = h('button', { type: 'button', class: 'secondary', text: 'Cancel' });

  function addRow() {
    const n = rows.length + 1;
    const emailId = uid('invite-email');
    const roleId = uid('invite-role');
    const lifetimeId = uid('invite-lifetime');
    const untilId = uid('invite-access-until');
    const errorId = uid('invite-error');
    const email = h('input', { id: emailId, type: 'email', name: 'email', autocomplete: 'off', required: true, spellcheck: 'false' });
    const role = h('select', { id: roleId, name: 'role' }, roleOptions(roles, 'agent'));
    // The first choice sends no lifetime, so the property's default applies.
    const lifetime = h('select', { id: lifetimeId, name: 'lifetime' },
      h('option', { value: '', text: policy ? `Default (${lifetimeLabel(policy.default_lifetime)})` : 'Default' }),
      choices.map((s) => h('option', { value: String(s), text: lifetimeLabel(s) })));
    // Empty: the membership does not end.
    const accessUntil = h('input', { id: untilId, type: 'datetime-local', name: 'access_until' });
    const error = h('p', { id: errorId, class: 'row-error', hidden: true });
    const row = { email, role, lifetime, accessUntil, error, el: null };
    const remove = h('button', {
      type: 'button', class: 'icon', 'aria-label': `Remove row ${n}`, text: '×',
      on: {
        click: () => {
          rows.splice(rows.indexOf(row), 1);
          row.el.remove();
          renumber();
          rows[Math.max(0, rows.length - 1)].email.focus();
        },
      },
    });
    row.remove = remove;
    row.el = h('fieldset', { class: 'invite-row' },
      h('legend', { class: 'visually-hidden', text: `Invitation ${n}` }),
      h('div', { class: 'field grow' }, h('label', { for: emailId, text: 'Email' }), email),
      h('div', { class: 'field' }, h('label', { for: roleId, text: 'Role' }), role),
      h('div', { class: 'field' }, h('label', { for: lifetimeId, text: 'Lifetime' }), lifetime),
      h('div', { class: 'field' }, h('label', { for: untilId, text: 'Access until' }), accessUntil),
      remove,
      error);
    rows.push(row);
    list.appendChild(row.el);
    renumber();
    return row;
  }

  function renumber() {
    rows.forEach((row, i) => {
      row.el.querySelector('legend').textContent = `Invitation ${i + 1}`;
      row.remove.setAttribute('aria-label', `Remove row ${i + 1}`);
      row.remove.hidden = rows.length === 1;
    });
    add.disabled = rows.length >= maxRows;
  }

  function clearErrors() {
    formError.hidden = true;
    for (const row of rows) {
      row.error.hidden = true;
      row.error.textContent = '';
      for (const control of [row.email, row.role, row.lifetime, row.accessUntil]) {
        control.removeAttribute('aria-invalid');
        control.removeAttribute('aria-describedby');
      }
    }
  }

  function markRow(i, field, message) {
    const row = rows[i];
    if (!row) return false;
    const control = { role: row.role, lifetime: row.lifetime, access_until: row.accessUntil }[field] || row.email;
    row.error.textContent = row.error.textContent ? `${row.error.textContent} ${message}` : message;
    row.error.hidden = false;
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', row.error.id);
    return true;
  }

  add.addEventListener('click', () => addRow().email.focus());

  const form = h('form', { class: 'invite-form', novalidate: true },
    h('p', { class: 'hint', text: `Invite people to ${property.name}. Admins manage members and invitations; agents can see them.` }),
    h('p', { class: 'hint', text: policy
      ? `An invitation lasts ${lifetimeLabel(policy.default_lifetime)} unless you choose its lifetime, at most ${lifetimeLabel(policy.maximum_lifetime)}.`
      : 'An invitation lasts the property\'s default unless you choose its lifetime.' }),
    list,
    h('div', { class: 'row-actions' }, add),
    formError,
    h('div', { class: 'dialog-actions' }, cancel, send));

  const { close } = openDialog({ title: 'Invite Member', body: form, className: 'wide' });
  cancel.addEventListener('click', close);
  addRow().email.focus();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    const invitations = rows.map((row) => {
      const out = { email: row.email.value, role: row.role.value };
      if (row.lifetime.value) out.lifetime = Number(row.lifetime.value);
      if (row.accessUntil.value) out.access_until = new Date(row.accessUntil.value).toISOString();
      return out;
    });
    send.disabled = true;
    send.textContent = 'Sending…';
    try {
      const out = await command('POST', `/v1/properties/${encodeURIComponent(property.property_id)}/invitations`, { invitations });
      close();
      onSent(out.invitations || []);
    } catch (err) {
      const marked = new Set();
      for (const p of err.problems || []) {
        if (p.index >= 0 && markRow(p.index, p.field, rowMessage(p))) marked.add(p.index);
      }
      formError.textContent = marked.size > 0
        ? `Nothing was sent. Correct the marked ${marked.size === 1 ? 'row' : 'rows'} and send again.`
        : `Nothing was sent. ${describeError(err)}`;
      formError.hidden = false;
      const firstBad = rows.flatMap((row) => [row.email, row.role, row.lifetime, row.accessUntil]).find((c) => c.getAttribute('aria-invalid') === 'true');
      (firstBad || send).focus();
    } finally {
      send.disabled = false;
      send.textContent = 'Send Invitation';
    }
  });
}
