// Signing in: a development token for an email (ROSTER_DEV_LOGIN), or
// OpenID Connect with the authorization code flow and PKCE, whose ID token
// is the bearer token. The session lives in this tab's sessionStorage, so
// closing the tab signs out and another tab or profile is another person.

import { publicGet, publicPost } from './api.js';

const SESSION = 'roster.session';
const PENDING_OIDC = 'roster.oidc';

export function loadSignInConfig() {
  return publicGet('/v1/auth/config');
}

// session is the signed-in session, or null when there is none or it has
// expired.
export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION) || 'null');
    if (s && s.token && Date.parse(s.expiresAt) > Date.now()) return s;
  } catch { /* a damaged entry is no session */ }
  sessionStorage.removeItem(SESSION);
  return null;
}

function keep(s) {
  sessionStorage.setItem(SESSION, JSON.stringify(s));
  return s;
}

export function forget() {
  sessionStorage.removeItem(SESSION);
}

export async function devSignIn(email) {
  const t = await publicPost('/v1/auth/dev-login', { email });
  return keep({ token: t.token, email: t.email, expiresAt: t.expires_at, via: 'dev' });
}

function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(n) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

function redirectURI() {
  return `${window.location.origin}/`;
}

// startOIDC sends the browser to the provider. returnTo is where the page
// goes once signed in (the accept page, or the property that was open).
export async function startOIDC(oidc, returnTo) {
  const verifier = randomString(48);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  const pending = { verifier, state: randomString(24), nonce: randomString(24), returnTo };
  sessionStorage.setItem(PENDING_OIDC, JSON.stringify(pending));
  const u = new URL(oidc.authorization_endpoint);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('client_id', oidc.client_id);
  u.searchParams.set('redirect_uri', redirectURI());
  u.searchParams.set('scope', oidc.scope);
  u.searchParams.set('state', pending.state);
  u.searchParams.set('nonce', pending.nonce);
  u.searchParams.set('code_challenge', base64url(new Uint8Array(digest)));
  u.searchParams.set('code_challenge_method', 'S256');
  window.location.assign(u.toString());
}

// isOIDCReturn reports whether the provider has just sent the browser back.
export function isOIDCReturn() {
  const q = new URLSearchParams(window.location.search);
  return (q.has('code') || q.has('error')) && q.has('state') && sessionStorage.getItem(PENDING_OIDC) !== null;
}

function claimsOf(idToken) {
  const part = idToken.split('.')[1] || '';
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(decodeURIComponent(Array.from(json, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('')));
}

// finishOIDC trades the code for tokens and keeps the ID token. It returns
// where to go next. The server verifies the token on every call; the
// checks here only stop a reply that was not meant for this sign-in.
export async function finishOIDC(oidc) {
  const q = new URLSearchParams(window.location.search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_OIDC));
  sessionStorage.removeItem(PENDING_OIDC);
  window.history.replaceState(null, '', pending.returnTo || '/');
  if (q.get('state') !== pending.state) throw new Error('The sign-in reply did not match this sign-in. Please try again.');
  if (q.has('error')) throw new Error(`The identity provider did not sign you in: ${q.get('error_description') || q.get('error')}.`);
  let res;
  try {
    res = await fetch(oidc.token_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code: q.get('code'), redirect_uri: redirectURI(),
        client_id: oidc.client_id, code_verifier: pending.verifier,
      }),
      credentials: 'omit',
    });
  } catch {
    throw new Error('The identity provider cannot be reached. Please try again.');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok || !body.id_token) {
    throw new Error(`The identity provider refused the sign-in: ${body.error_description || body.error || res.status}.`);
  }
  const claims = claimsOf(body.id_token);
  if (claims.nonce !== pending.nonce) throw new Error('The sign-in reply was not meant for this page. Please try again.');
  if (!claims.email) throw new Error('The identity provider did not tell Roster your email address, so you cannot be signed in.');
  keep({ token: body.id_token, email: claims.email, expiresAt: new Date(claims.exp * 1000).toISOString(), via: 'oidc' });
  return pending.returnTo || '/';
}
