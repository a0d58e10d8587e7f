// Roster's public API, as the page calls it: the bearer token on every
// call, problems turned into ApiError, and the position of each command
// sent back on the reads after it (Roster-Min-Position), so a list shows a
// change the moment it is made.

export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || '';
    this.detail = problem.detail || '';
    this.problems = Array.isArray(problem.errors) ? problem.errors : [];
    this.requestId = problem.request_id || '';
    this.retryAfter = retryAfter || 0;
  }
}

let token = '';
let onUnauthenticated = () => {};
// The latest position is kept in the tab, so a reload after a change
// still reads at least that far.
const POSITION = 'roster.position';
let minPosition = sessionStorage.getItem(POSITION) || '';

export function setToken(t) { token = t || ''; }
export function whenUnauthenticated(fn) { onUnauthenticated = fn; }

// positions are "commit.prepare", two unsigned 64-bit numbers.
function later(a, b) {
  if (!a) return b;
  if (!b) return a;
  const [ac, ap] = a.split('.').map(BigInt);
  const [bc, bp] = b.split('.').map(BigInt);
  return ac > bc || (ac === bc && ap >= bp) ? a : b;
}

// notePosition remembers a command's position; reads wait for the latest.
export function notePosition(pos) {
  if (!/^[0-9]+\.[0-9]+$/.test(pos || '')) return;
  minPosition = later(minPosition, pos);
  sessionStorage.setItem(POSITION, minPosition);
}

export function lastPosition() { return minPosition; }

function url(path, query) {
  const u = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => u.searchParams.append(k, x));
    else u.searchParams.set(k, v);
  }
  return u.pathname + u.search;
}

// request calls the API. opts: body (sent as JSON), query, auth (false for
// the sign-in routes), consistent (send Roster-Min-Position), accept.
async function send(method, path, opts = {}) {
  const headers = { Accept: opts.accept || 'application/json' };
  if (opts.auth !== false && token) headers.Authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && opts.auth !== false) headers['Idempotency-Key'] = crypto.randomUUID();
  if (opts.consistent && minPosition) headers['Roster-Min-Position'] = minPosition;
  let res;
  try {
    res = await fetch(url(path, opts.query), {
      method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: 'omit', cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, { code: '', detail: '' });
  }
  if (!res.ok) {
    let problem = {};
    try { problem = await res.json(); } catch { problem = { title: res.statusText }; }
    const err = new ApiError(res.status, problem, Number(res.headers.get('Retry-After')) || 0);
    if (res.status === 401 && opts.auth !== false) onUnauthenticated(err);
    throw err;
  }
  return res;
}

// staleRetries bounds how often a read is asked again when the read
// models had not reached the position it sent within the server's wait.
const staleRetries = 5;

export async function get(path, query, opts = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const res = await send('GET', path, { query, consistent: true, ...opts });
    // A stale answer would show the list without the change just made:
    // ask again, a little later, rather than flash the old state.
    if (res.headers.get('Roster-Consistency') !== 'stale' || attempt >= staleRetries) return res.json();
    await new Promise((resolve) => { window.setTimeout(resolve, 250 * (attempt + 1)); });
  }
}

// command sends a change and remembers the position it answers.
export async function command(method, path, body) {
  const res = await send(method, path, { body });
  const out = await res.json();
  notePosition(out.position || res.headers.get('Roster-Position'));
  return out;
}

// publicPost calls a route that needs no token (development sign-in).
export async function publicPost(path, body) {
  const res = await send('POST', path, { body, auth: false });
  return res.json();
}

export async function publicGet(path) {
  const res = await send('GET', path, { auth: false });
  return res.json();
}

// download fetches a file the API makes (the audit export, the access
// review) with the bearer token a plain link could not carry, and hands
// it to the browser as a download under the name the server gives.
export async function download(path, query, accept, fallbackName) {
  const res = await send('GET', path, { query, consistent: true, accept });
  const blob = await res.blob();
  const disposition = res.headers.get('Content-Disposition') || '';
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : fallbackName;
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(href), 10000);
  return name;
}

// apiURL is the address of an API resource, for links that say where a
// download comes from.
export const apiURL = url;
