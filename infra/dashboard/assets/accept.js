// The accept page, /accept?token=…, where invitation mail links to. The
// token is kept in this tab (and taken out of the address bar) until the
// visitor has signed in; then it is accepted and its property opened. A
// link that cannot be used says why, in words.

import { command } from './api.js';
import { h, replace } from './dom.js';
import { describeError, roleLabel } from './text.js';

const KEY = 'roster.accept';

// captureToken keeps the token of /accept?token=… and cleans the address.
export function captureToken() {
  if (window.location.pathname !== '/accept') return;
  const token = new URLSearchParams(window.location.search).get('token');
  if (token) sessionStorage.setItem(KEY, token);
  window.history.replaceState(null, '', '/accept');
}

export const pendingToken = () => sessionStorage.getItem(KEY);
export const onAcceptPage = () => window.location.pathname === '/accept';

// final errors are those no other sign-in would change.
const final = new Set(['invitation_expired', 'invitation_revoked', 'invitation_accepted', 'invitation_declined', 'invalid_token']);

// acceptPending accepts the kept token as the signed-in person. It resolves
// the property to open, or null after showing in view why it could not.
export async function acceptPending(view, me, signOut) {
  const token = pendingToken();
  if (!token) {
    replace(view, h('section', { class: 'card' },
      h('h1', { text: 'No invitation in this link' }),
      h('p', { text: 'The address lacks its invitation token. Open the link from the invitation email again, whole.' }),
      h('p', {}, h('a', { href: '/', text: 'Go to your properties' }))));
    return null;
  }
  replace(view, h('section', { class: 'card', 'aria-busy': 'true' }, h('h1', { text: 'Accepting your invitation…' })));
  try {
    const out = await command('POST', '/v1/invitations/accept', { token });
    sessionStorage.removeItem(KEY);
    return { propertyId: out.property_id, role: roleLabel(out.role) };
  } catch (err) {
    if (final.has(err.code)) sessionStorage.removeItem(KEY);
    const wrongPerson = err.code === 'not_invitee' || err.code === 'email_unverified';
    replace(view, h('section', { class: 'card' },
      h('h1', { text: 'This invitation cannot be accepted' }),
      h('p', { class: 'problem', text: describeError(err) }),
      wrongPerson ? h('p', {}, `You are signed in as ${me.email}. `,
        h('button', { type: 'button', class: 'link', text: 'Sign out', on: { click: signOut } }),
        ' and sign in with the address the invitation was sent to.') : null,
      h('p', {}, h('a', { href: '/', text: 'Go to your properties' }))));
    return null;
  }
}

// askToSignIn is what the accept page says above the sign-in form.
export function signInFirstNote() {
  return h('div', { class: 'note' },
    h('h2', { text: 'You have been invited' }),
    h('p', { text: 'Sign in with the email address the invitation was sent to, and it will be accepted.' }));
}
