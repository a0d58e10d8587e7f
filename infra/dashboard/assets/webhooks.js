// The Webhooks tab, for those who administer the property's settings: the
// endpoints that receive its events, adding one (its signing secret shown
// once, in a dialog), disabling, enabling, rotating the secret, deleting.

import { command, get } from './api.js';
import { confirmAction, openDialog } from './dialog.js';
import { announce, h, loadingRow, replace, showAlert, uid } from './dom.js';
import { describeError, formatDateTime } from './text.js';

export function renderWebhooks(panel, ctx) {
  const base = `/v1/properties/${encodeURIComponent(ctx.property.property_id)}/webhooks`;
  const urlId = uid('webhook-url');
  const descId = uid('webhook-desc');
  const url = h('input', { id: urlId, type: 'url', required: true, autocomplete: 'off' });
  const desc = h('input', { id: descId, type: 'text', maxlength: 500, autocomplete: 'off' });
  // No example address here: the page names no address but its own.
  const formError = h('p', { class: 'form-error', hidden: true });
  const add = h('button', { type: 'submit', class: 'primary', text: 'Add Webhook' });
  const form = h('form', { class: 'filters', 'aria-label': 'Add a webhook' },
    h('div', { class: 'field' }, h('label', { for: urlId, text: 'URL' }), url),
    h('div', { class: 'field' }, h('label', { for: descId, text: 'Description' }), desc),
    h('div', { class: 'field' }, add),
    formError);
  const body = h('tbody', {}, loadingRow(4, 'Loading webhooks…'));
  const captionId = uid('webhooks-caption');
  const table = h('table', { class: 'list', 'aria-labelledby': captionId, 'aria-busy': 'true' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'URL' }),
      h('th', { scope: 'col', text: 'Events' }),
      h('th', { scope: 'col', text: 'Status' }),
      h('th', { scope: 'col', text: 'Actions' }))),
    body);

  replace(panel,
    h('div', { class: 'toolbar' }, h('h2', { id: captionId, class: 'panel-title', text: 'Webhooks' })),
    h('p', { class: 'hint', text: 'Each webhook receives the property’s events, signed with its secret (Standard Webhooks).' }),
    form,
    h('div', { class: 'table-wrap' }, table));

  // showSecret is the one time a secret is shown.
  function showSecret(title, secret) {
    const done = h('button', { type: 'button', class: 'primary', text: 'Done', autofocus: true });
    const { close } = openDialog({
      title,
      body: [
        h('p', { text: 'Copy the signing secret now: it is not shown again.' }),
        h('p', {}, h('code', { class: 'secret', text: secret })),
        h('div', { class: 'dialog-actions' }, done),
      ],
    });
    done.addEventListener('click', close);
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    formError.hidden = true;
    add.disabled = true;
    try {
      const res = await command('POST', base, { url: url.value.trim(), description: desc.value });
      url.value = '';
      desc.value = '';
      showSecret('Webhook added', res.secret);
      load();
    } catch (err) {
      formError.textContent = describeError(err);
      formError.hidden = false;
    } finally {
      add.disabled = false;
    }
  });

  async function act(w, path, method, message) {
    try {
      const res = await command(method, `${base}/${encodeURIComponent(w.id)}${path}`);
      if (res.secret) showSecret('Secret rotated', res.secret);
      announce(message);
      load();
    } catch (err) {
      showAlert(describeError(err));
    }
  }

  function row(w) {
    const enabled = w.status === 'enabled';
    const toggle = h('button', { type: 'button', class: 'secondary', text: enabled ? 'Disable' : 'Enable', 'aria-label': `${enabled ? 'Disable' : 'Enable'} ${w.url}` });
    toggle.addEventListener('click', () => act(w, enabled ? '/disable' : '/enable', 'POST', `The webhook to ${w.url} was ${enabled ? 'disabled' : 'enabled'}.`));
    const rotate = h('button', { type: 'button', class: 'secondary', text: 'Rotate secret', 'aria-label': `Rotate the secret of ${w.url}` });
    rotate.addEventListener('click', async () => {
      const ok = await confirmAction({ title: 'Rotate the secret?', message: 'The current secret keeps signing for 24 hours beside the new one.', confirm: 'Rotate secret', danger: false });
      if (ok) act(w, '/rotate-secret', 'POST', `The secret of the webhook to ${w.url} was rotated.`);
    });
    const del = h('button', { type: 'button', class: 'danger', text: 'Delete', 'aria-label': `Delete ${w.url}` });
    del.addEventListener('click', async () => {
      const ok = await confirmAction({ title: 'Delete this webhook?', message: `${w.url} will receive no more events.`, confirm: 'Delete webhook' });
      if (ok) act(w, '', 'DELETE', `The webhook to ${w.url} was deleted.`);
    });
    const status = enabled ? 'Enabled' : (w.disabled_reason === 'failing' ? 'Disabled: it kept failing' : 'Disabled');
    return h('tr', {},
      h('td', { 'data-label': 'URL' }, h('span', { text: w.url }), w.description ? h('span', { class: 'muted', text: ` ${w.description}` }) : null),
      h('td', { 'data-label': 'Events', text: w.event_types.includes('*') ? 'All events' : w.event_types.join(', ') }),
      h('td', { 'data-label': 'Status', title: `Since ${formatDateTime(w.updated_at)}`, text: status }),
      h('td', { 'data-label': 'Actions' }, toggle, rotate, del));
  }

  async function load() {
    table.setAttribute('aria-busy', 'true');
    try {
      const page = await get(base);
      body.replaceChildren();
      for (const w of page.endpoints) body.appendChild(row(w));
      if (page.endpoints.length === 0) body.appendChild(h('tr', {}, h('td', { colspan: 4, class: 'empty', text: 'No webhooks yet.' })));
    } catch (err) {
      replace(body, h('tr', {}, h('td', { colspan: 4, class: 'problem', text: describeError(err) })));
    } finally {
      table.setAttribute('aria-busy', 'false');
    }
  }
  return load();
}
