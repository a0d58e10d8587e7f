// Modal dialogs: the native <dialog> shown modal (the rest of the page is
// inert), focus kept inside with Tab and Shift+Tab, Escape closes, and
// focus goes back to the control that opened it.

import { h, uid } from './dom.js';

const focusable = 'button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

// openDialog shows a dialog titled title with body (nodes) and returns
// { dialog, close }. onClose runs once it is closed, however it was.
export function openDialog({ title, body, onClose, className }) {
  const opener = document.activeElement;
  const titleId = uid('dialog-title');
  const dialog = h('dialog', { class: `dialog ${className || ''}`, 'aria-labelledby': titleId },
    h('h2', { id: titleId, text: title }),
    body);
  dialog.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Tab') return;
    const items = Array.from(dialog.querySelectorAll(focusable)).filter((el) => el.offsetParent !== null);
    if (items.length === 0) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (ev.shiftKey && document.activeElement === first) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && document.activeElement === last) {
      ev.preventDefault();
      first.focus();
    }
  });
  let closed = false;
  const close = () => {
    if (!closed) dialog.close();
  };
  dialog.addEventListener('close', () => {
    closed = true;
    dialog.remove();
    if (opener && opener.isConnected) opener.focus();
    if (onClose) onClose();
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  const first = dialog.querySelector('[autofocus]') || dialog.querySelector(focusable);
  if (first) first.focus();
  return { dialog, close };
}

// confirmAction asks before a change that cannot simply be undone. It
// resolves true when the person confirms.
export function confirmAction({ title, message, confirm, danger = true }) {
  return new Promise((resolve) => {
    let answer = false;
    const yes = h('button', { type: 'button', class: danger ? 'danger' : 'primary', text: confirm });
    const no = h('button', { type: 'button', class: 'secondary', text: 'Cancel', autofocus: true });
    const { close } = openDialog({
      title,
      className: 'confirm',
      body: [h('p', { text: message }), h('div', { class: 'dialog-actions' }, no, yes)],
      onClose: () => resolve(answer),
    });
    yes.addEventListener('click', () => { answer = true; close(); });
    no.addEventListener('click', close);
  });
}
