// Small DOM helpers: elements are built from data with text nodes only (never innerHTML), so
// nothing a task or a log line contains can become markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value') el.value = v;
      else if (k === 'checked') el.checked = !!v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtAgo(iso) {
  if (!iso) return '';
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function fmtDuration(sec) {
  if (sec === undefined || sec === null || isNaN(sec)) return '';
  sec = Math.max(0, Math.round(sec));
  const d = Math.floor(sec / 86400), hh = Math.floor(sec % 86400 / 3600);
  const m = Math.floor(sec % 3600 / 60), s = sec % 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

export function statusBadge(status) {
  return h('span', { class: `status ${status || ''}`, 'data-status': status || '' }, status || '?');
}

// Errors from the server are shown, never swallowed.
export function showError(err) {
  const box = document.getElementById('errors');
  const msg = err && err.message ? err.message : String(err);
  const row = h('div', { class: 'error' }, msg,
    h('button', { class: 'small', type: 'button', onclick: () => row.remove(), 'aria-label': 'Dismiss' }, '×'));
  box.append(row);
  while (box.children.length > 4) box.firstChild.remove();
  console.error(err);
}

export function clearErrors() { clear(document.getElementById('errors')); }

// A modal question; resolves true/false (Escape or Cancel → false).
export function confirmDialog(title, text, okLabel = 'OK', danger = false) {
  return new Promise((resolve) => {
    const dlg = h('dialog', { 'aria-labelledby': 'dlg-title' },
      h('h2', { id: 'dlg-title' }, title), h('p', null, text),
      h('div', { class: 'actions' },
        h('button', { type: 'button', 'data-role': 'cancel', onclick: () => done(false) }, 'Cancel'),
        h('button', { type: 'button', class: danger ? 'danger' : 'primary', 'data-role': 'ok',
          onclick: () => done(true) }, okLabel)));
    function done(v) { dlg.close(); dlg.remove(); resolve(v); }
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    document.body.append(dlg);
    dlg.showModal();
    dlg.querySelector('[data-role=ok]').focus();
  });
}

// A modal form with one text input; resolves the value or null.
export function promptDialog(title, label, value = '', okLabel = 'OK') {
  return new Promise((resolve) => {
    const input = h('input', { type: 'text', value, 'aria-label': label, class: 'hp-input' });
    const form = h('form', { method: 'dialog' },
      h('h2', null, title), h('label', null, label, h('br'), input),
      h('div', { class: 'actions' },
        h('button', { type: 'button', 'data-role': 'cancel', onclick: () => done(null) }, 'Cancel'),
        h('button', { type: 'submit', class: 'primary', 'data-role': 'ok' }, okLabel)));
    const dlg = h('dialog', null, form);
    form.addEventListener('submit', (e) => { e.preventDefault(); done(input.value); });
    function done(v) { dlg.close(); dlg.remove(); resolve(v); }
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); done(null); });
    document.body.append(dlg);
    dlg.showModal();
    input.focus(); input.select();
  });
}

export function link(href, ...children) {
  return h('a', { href, 'data-link': '' }, ...children);
}
