// Building the page's elements. Every text that came from a user goes in as
// a text node, never as markup: the page never hands a string to the HTML
// parser (a test of the package makes sure).

// h makes an element. props: class, text, on (event handlers), and any
// attribute (aria-*, type, ...; true sets it empty, false/null leaves it
// out). Children are nodes, strings (text nodes), arrays, or null.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'on') {
      for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
    } else if (key === 'value') el.value = value;
    else if (key === 'checked' || key === 'disabled' || key === 'selected' || key === 'hidden') el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

// replace empties el and puts children in it.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;
// uid is an id unique on the page, for label and aria references.
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

// announce tells screen readers (and the eye) what just happened; an empty
// message clears what was said.
let pending = 0;
export function announce(message) {
  const status = document.getElementById('status');
  window.clearTimeout(pending);
  // Cleared first, so the same message twice is announced twice.
  status.textContent = '';
  if (message) pending = window.setTimeout(() => { status.textContent = message; }, 30);
}

// showAlert shows an error that concerns the whole page; null hides it.
export function showAlert(message) {
  const alert = document.getElementById('alert');
  if (!message) {
    alert.hidden = true;
    alert.replaceChildren();
    return;
  }
  alert.replaceChildren(
    h('p', { text: message }),
    h('button', { type: 'button', class: 'link', on: { click: () => showAlert(null) } }, 'Dismiss'),
  );
  alert.hidden = false;
}

// busy marks a region as loading, with a visible line saying what loads.
export function loadingRow(columns, text) {
  return h('tr', { class: 'loading-row' }, h('td', { colspan: columns, text }));
}
