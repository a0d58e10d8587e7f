// The Audit tab: the property's trail, newest first, filtered by event,
// by who did it and by dates, with the filtered trail as a CSV export and
// the access review (who has access, and how they got it) as a download.

import { download, get } from './api.js';
import { announce, h, loadingRow, replace, showAlert, uid } from './dom.js';
import { describeError, eventLabel, eventTypes, formatDateTime, roleLabel } from './text.js';

const pageSize = 50;

export function renderAudit(panel, ctx) {
  const pid = ctx.property.property_id;
  const path = `/v1/properties/${encodeURIComponent(pid)}/audit`;
  const typeId = uid('audit-type');
  const actorId = uid('audit-actor');
  const fromId = uid('audit-from');
  const toId = uid('audit-to');
  const type = h('select', { id: typeId },
    h('option', { value: '', text: 'Any event' }),
    eventTypes.map((t) => h('option', { value: t, text: eventLabel(t) })));
  const actor = h('input', { id: actorId, type: 'email', placeholder: 'someone@example.com', autocomplete: 'off' });
  const from = h('input', { id: fromId, type: 'date' });
  const to = h('input', { id: toId, type: 'date' });
  const filterError = h('p', { class: 'form-error', hidden: true });
  const body = h('tbody', {}, loadingRow(5, 'Loading the audit trail…'));
  const more = h('button', { type: 'button', class: 'secondary', text: 'Load more entries', hidden: true });
  const captionId = uid('audit-caption');
  const table = h('table', { class: 'list', 'aria-labelledby': captionId, 'aria-busy': 'true' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'When' }),
      h('th', { scope: 'col', text: 'Event' }),
      h('th', { scope: 'col', text: 'By' }),
      h('th', { scope: 'col', text: 'About' }),
      h('th', { scope: 'col', text: 'Change' }))),
    body);

  // filters are the query the list, the export and its link share.
  function filters() {
    const q = { type: type.value, actor: actor.value.trim() };
    // Dates are whole local days: from the start of "from" to the end of "to".
    if (from.value) q.from = new Date(`${from.value}T00:00:00`).toISOString();
    if (to.value) {
      const end = new Date(`${to.value}T00:00:00`);
      end.setDate(end.getDate() + 1);
      q.to = end.toISOString();
    }
    return q;
  }

  const exportLink = h('a', { href: '#', class: 'button-link', text: 'Export CSV' });
  exportLink.addEventListener('click', async (ev) => {
    ev.preventDefault();
    try {
      const name = await download(path, { ...filters(), format: 'csv' }, 'text/csv', `audit-${pid}.csv`);
      announce(`The audit trail was downloaded as ${name}.`);
    } catch (err) {
      showAlert(describeError(err));
    }
  });
  const reviewLink = h('a', { href: '#', class: 'button-link', text: 'Download access review' });
  reviewLink.addEventListener('click', async (ev) => {
    ev.preventDefault();
    try {
      const name = await download(`/v1/properties/${encodeURIComponent(pid)}/access-review`, { format: 'csv' }, 'text/csv', `access-review-${pid}.csv`);
      announce(`The access review was downloaded as ${name}.`);
    } catch (err) {
      showAlert(describeError(err));
    }
  });

  const form = h('form', { class: 'filters', 'aria-label': 'Filter the audit trail' },
    h('div', { class: 'field' }, h('label', { for: typeId, text: 'Event' }), type),
    h('div', { class: 'field' }, h('label', { for: actorId, text: 'Done by (email)' }), actor),
    h('div', { class: 'field' }, h('label', { for: fromId, text: 'From' }), from),
    h('div', { class: 'field' }, h('label', { for: toId, text: 'To' }), to),
    h('div', { class: 'field' }, h('button', { type: 'submit', class: 'secondary', text: 'Filter' })),
    filterError);

  replace(panel,
    h('div', { class: 'toolbar' },
      h('h2', { id: captionId, class: 'panel-title', text: 'Audit trail' }),
      h('div', { class: 'downloads' }, exportLink, reviewLink)),
    form,
    h('div', { class: 'table-wrap' }, table), more);

  let cursor = '';
  let shown = 0;
  async function load(reset) {
    if (reset) { cursor = ''; shown = 0; }
    more.disabled = true;
    table.setAttribute('aria-busy', 'true');
    filterError.hidden = true;
    try {
      const page = await get(path, { ...filters(), order: 'desc', limit: pageSize, cursor });
      if (!cursor) body.replaceChildren();
      for (const e of page.entries) body.appendChild(entryRow(e));
      shown += page.entries.length;
      if (shown === 0) body.appendChild(h('tr', {}, h('td', { colspan: 5, class: 'empty', text: 'No entries match these filters.' })));
      cursor = page.next_cursor || '';
      more.hidden = !cursor;
    } catch (err) {
      if (err.status === 422) {
        filterError.textContent = describeError(err);
        filterError.hidden = false;
        body.replaceChildren();
      } else if (!cursor) {
        replace(body, h('tr', {}, h('td', { colspan: 5, class: 'problem', text: describeError(err) })));
      } else {
        showAlert(describeError(err));
      }
    } finally {
      more.disabled = false;
      table.setAttribute('aria-busy', 'false');
    }
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(true); });
  more.addEventListener('click', () => load(false));
  return load(true);
}

function changeText(c) {
  if (!c) return '';
  const value = (v) => (c.field === 'role' ? roleLabel(v) : v);
  const field = { role: 'Role', status: 'Status', owner: 'Owner', expires_at: 'Expires', name: 'Name', url: 'URL', permissions: 'Permissions' }[c.field] || c.field;
  const shown = (v) => (c.field === 'expires_at' ? formatDateTime(v) : value(v));
  return c.from ? `${field}: ${shown(c.from)} → ${shown(c.to)}` : `${field}: ${shown(c.to)}`;
}

function aboutText(s) {
  if (s.kind === 'property') return 'The property';
  if (s.kind === 'webhook') return `Webhook ${s.id}`;
  if (s.kind === 'role') return `Role ${roleLabel(s.id)}`;
  return s.id;
}

function entryRow(e) {
  return h('tr', {},
    h('td', { 'data-label': 'When' }, h('time', { datetime: e.occurred_at, text: formatDateTime(e.occurred_at) })),
    h('td', { 'data-label': 'Event', text: eventLabel(e.type) }),
    h('td', { 'data-label': 'By', text: e.actor.email || e.actor.account_id }),
    h('td', { 'data-label': 'About', text: e.subject.email || aboutText(e.subject) }),
    h('td', { 'data-label': 'Change', text: changeText(e.change) }));
}
