// The Roles tab: the property's roles and what each may do. Every member
// sees them; those who may manage members create custom roles, rename
// them, change their permissions and delete them. The built-in Admin and
// Agent are shown read-only. A refusal is the server's own sentence (a
// role in use names who holds it).

import { command, get } from './api.js';
import { confirmAction, openDialog } from './dialog.js';
import { announce, h, loadingRow, replace, uid } from './dom.js';
import { describeError, permissionLabel, roleLabel, setRoleNames } from './text.js';

const rolesPath = (property) => `/v1/properties/${encodeURIComponent(property.property_id)}/roles`;

// loadRoles reads the property's roles, built-in first, and teaches
// roleLabel their names; on failure it falls back to the built-ins, so a
// picker still offers something (the server checks what is sent).
export async function loadRoles(property) {
  try {
    const list = await get(rolesPath(property));
    setRoleNames(list.roles);
    return list;
  } catch {
    return { roles: [{ id: 'admin', name: 'admin', builtin: true, permissions: [] }, { id: 'agent', name: 'agent', builtin: true, permissions: [] }], permissions: [] };
  }
}

// roleOptions are the options of a role picker, selected the one given.
export function roleOptions(roles, selected) {
  return roles.map((r) => h('option', { value: r.id, text: roleLabel(r.id), selected: r.id === selected }));
}

export async function renderRoles(panel, ctx) {
  const manage = ctx.can.has('manage_members');
  const columns = manage ? 3 : 2;
  const body = h('tbody', {}, loadingRow(columns, 'Loading roles…'));
  const captionId = uid('roles-caption');
  const problem = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const table = h('table', { class: 'list', 'aria-labelledby': captionId, 'aria-busy': 'true' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'Role' }),
      h('th', { scope: 'col', text: 'Permissions' }),
      manage ? h('th', { scope: 'col', text: 'Actions' }) : null)),
    body);
  let grantable = [];
  // Enabled once the permissions a role may hold have been read.
  const create = manage ? h('button', { type: 'button', class: 'primary', text: 'New Role', disabled: true, on: { click: () => roleDialog(null) } }) : null;
  replace(panel,
    h('div', { class: 'toolbar' }, h('h2', { id: captionId, class: 'panel-title', text: 'Roles' }), create),
    h('p', { class: 'hint', text: manage
      ? 'Admin and Agent are built in and cannot be changed. A custom role holds the permissions you choose; its holders get a change at once.'
      : 'What each role of this property may do; only those who manage members can change the custom ones.' }),
    problem,
    h('div', { class: 'table-wrap' }, table));

  const say = (message) => {
    problem.textContent = message || '';
    problem.hidden = !message;
  };

  // roleDialog creates a role (role null) or edits one: its name and its
  // permissions, sent together.
  function roleDialog(role) {
    const nameId = uid('role-name');
    const errorId = uid('role-error');
    const name = h('input', { id: nameId, type: 'text', maxlength: '50', required: true, autocomplete: 'off', value: role ? role.name : '' });
    const boxes = grantable.map((p) => {
      const id = uid('role-perm');
      const box = h('input', { id, type: 'checkbox', name: 'permission', value: p, checked: role ? role.permissions.includes(p) : false });
      return { p, box, el: h('div', { class: 'check' }, box, h('label', { for: id, text: permissionLabel(p) })) };
    });
    const error = h('p', { id: errorId, class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { type: 'submit', class: 'primary', text: role ? 'Save Role' : 'Create Role' });
    const cancel = h('button', { type: 'button', class: 'secondary', text: 'Cancel' });
    const form = h('form', { novalidate: true },
      h('div', { class: 'field' }, h('label', { for: nameId, text: 'Role name' }), name),
      h('fieldset', { class: 'permissions' }, h('legend', { text: 'Permissions' }), boxes.map((b) => b.el)),
      error,
      h('div', { class: 'dialog-actions' }, cancel, save));
    const { close } = openDialog({ title: role ? `Edit ${role.name}` : 'New Role', body: form });
    cancel.addEventListener('click', close);
    name.focus();
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.hidden = true;
      name.removeAttribute('aria-invalid');
      save.disabled = true;
      const permissions = boxes.filter((b) => b.box.checked).map((b) => b.p);
      try {
        if (role) {
          await command('PATCH', `${rolesPath(ctx.property)}/${encodeURIComponent(role.id)}`, { name: name.value, permissions });
          announce(`The role ${name.value.trim()} was saved.`);
        } else {
          await command('POST', rolesPath(ctx.property), { name: name.value, permissions });
          announce(`The role ${name.value.trim()} was created.`);
        }
        close();
        say('');
        ctx.changed('roles');
      } catch (err) {
        error.textContent = `Nothing was saved. ${describeError(err)}`;
        error.hidden = false;
        if (['invalid_role_name', 'role_name_taken'].includes(err.code)) {
          name.setAttribute('aria-invalid', 'true');
          name.setAttribute('aria-describedby', errorId);
          name.focus();
        }
      } finally {
        save.disabled = false;
      }
    });
  }

  function row(r) {
    const cells = [
      h('td', { 'data-label': 'Role' }, h('span', { text: roleLabel(r.id) }), r.builtin ? [' ', h('span', { class: 'badge subtle', text: 'Built in' })] : null),
      h('td', { 'data-label': 'Permissions', text: r.permissions.map(permissionLabel).join(', ') }),
    ];
    if (manage) {
      if (r.builtin) {
        cells.push(h('td', { 'data-label': 'Actions', class: 'actions' }, h('span', { class: 'muted', text: 'Cannot be changed' })));
      } else {
        const edit = h('button', { type: 'button', class: 'secondary', text: 'Edit', 'aria-label': `Edit ${r.name}`, on: { click: () => roleDialog(r) } });
        const del = h('button', { type: 'button', class: 'danger', text: 'Delete', 'aria-label': `Delete ${r.name}` });
        del.addEventListener('click', async () => {
          const ok = await confirmAction({ title: `Delete ${r.name}?`, message: `The role ${r.name} will be gone. Only a role nobody holds can be deleted.`, confirm: 'Delete role' });
          if (!ok) return;
          try {
            await command('DELETE', `${rolesPath(ctx.property)}/${encodeURIComponent(r.id)}`);
            say('');
            announce(`The role ${r.name} was deleted.`);
            ctx.changed('roles');
          } catch (err) {
            say(`${r.name} was not deleted. ${describeError(err)}`);
            del.focus();
          }
        });
        cells.push(h('td', { 'data-label': 'Actions', class: 'actions' }, edit, del));
      }
    }
    return h('tr', {}, cells);
  }

  table.setAttribute('aria-busy', 'true');
  try {
    const list = await get(rolesPath(ctx.property));
    setRoleNames(list.roles);
    grantable = list.permissions;
    body.replaceChildren(...list.roles.map(row));
    if (create) create.disabled = false;
  } catch (err) {
    replace(body, h('tr', {}, h('td', { colspan: columns, class: 'problem', text: describeError(err) })));
  } finally {
    table.setAttribute('aria-busy', 'false');
  }
}
