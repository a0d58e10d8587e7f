// The Settings tab, for admins: the property's invitation policy, how long
// an invitation lasts when its inviter chooses no lifetime, and the
// longest an inviter may choose.

import { command, get } from './api.js';
import { announce, h, replace, uid } from './dom.js';
import { describeError, lifetimeChoices, lifetimeLabel, rowMessage } from './text.js';

export async function renderSettings(panel, ctx) {
  const path = `/v1/properties/${encodeURIComponent(ctx.property.property_id)}/invitation-policy`;
  replace(panel, h('p', { class: 'loading', text: 'Loading the invitation policy…' }));
  let policy;
  try {
    policy = await get(path);
  } catch (err) {
    replace(panel, h('p', { class: 'problem', text: describeError(err) }));
    return;
  }
  const defaultId = uid('policy-default');
  const maximumId = uid('policy-maximum');
  const errorId = uid('policy-error');
  // A policy set through the API may hold a lifetime the page does not
  // offer; it is offered too, so the form shows what is in force.
  const select = (id, field, current) => h('select', { id, name: field },
    [...new Set([...lifetimeChoices, current])].sort((a, b) => a - b)
      .map((s) => h('option', { value: String(s), text: lifetimeLabel(s), selected: s === current })));
  const def = select(defaultId, 'default_lifetime', policy.default_lifetime);
  const max = select(maximumId, 'maximum_lifetime', policy.maximum_lifetime);
  const error = h('p', { id: errorId, class: 'form-error', hidden: true });
  const save = h('button', { type: 'submit', class: 'primary', text: 'Save policy' });
  const source = h('p', { class: 'hint' });
  const showSource = (p) => {
    source.textContent = p.source === 'property'
      ? 'This property\'s admins set this policy. Invitations already sent keep their expiry.'
      : 'This property follows the service\'s default until an admin saves a policy.';
  };
  showSource(policy);
  const form = h('form', { class: 'policy-form', novalidate: true, 'aria-labelledby': `${defaultId}-heading` },
    h('h2', { id: `${defaultId}-heading`, text: 'Invitation policy' }),
    h('p', { class: 'hint', text: `An invitation lasts the default lifetime unless its inviter chooses one, at most the maximum; anything from ${lifetimeLabel(policy.min_lifetime)} to ${lifetimeLabel(policy.max_lifetime)}.` }),
    h('div', { class: 'field' }, h('label', { for: defaultId, text: 'Default lifetime' }), def),
    h('div', { class: 'field' }, h('label', { for: maximumId, text: 'Maximum lifetime' }), max),
    error, source,
    h('div', { class: 'dialog-actions' }, save));
  replace(panel, form);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    for (const control of [def, max]) {
      control.removeAttribute('aria-invalid');
      control.removeAttribute('aria-describedby');
    }
    save.disabled = true;
    try {
      const out = await command('PUT', path, { default_lifetime: Number(def.value), maximum_lifetime: Number(max.value) });
      showSource(out);
      announce(`Invitations now last ${lifetimeLabel(out.default_lifetime)} unless chosen, at most ${lifetimeLabel(out.maximum_lifetime)}.`);
    } catch (err) {
      const bad = (err.problems || []).map((p) => ({ default_lifetime: def, maximum_lifetime: max }[p.field])).filter(Boolean);
      error.textContent = (err.problems || []).length > 0
        ? `Nothing was saved. ${err.problems.map(rowMessage).join(' ')}`
        : `Nothing was saved. ${describeError(err)}`;
      error.hidden = false;
      for (const control of bad) {
        control.setAttribute('aria-invalid', 'true');
        control.setAttribute('aria-describedby', errorId);
      }
      (bad[0] || save).focus();
    } finally {
      save.disabled = false;
    }
  });
}
