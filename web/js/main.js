// App shell: sign-in, navigation (history API under /ui/, so the SDK's
// web_server/projects/<p>/experiments/<t>/… links open the task), one page at a time.
import { session, setUnauthorizedHandler } from './api.js';
import { h, clear, clearErrors, showError } from './dom.js';
import { workersPage } from './workers.js';
import { experimentsPage } from './experiments.js';
import { taskPage } from './task.js';

const main = document.getElementById('main');
let cleanup = null;
let me = null;

const routes = [
  [/^\/ui\/?$/, () => workersPage(main)],
  [/^\/ui\/workers\/?$/, () => workersPage(main)],
  [/^\/ui\/experiments\/?$/, () => experimentsPage(main, null)],
  [/^\/ui\/projects\/([^/]+)\/experiments\/([0-9a-zA-Z]+)(?:\/(.*))?$/, (m) => taskPage(main, m[2], m[3])],
  [/^\/ui\/projects\/([^/]+)(?:\/experiments)?\/?$/, (m) => experimentsPage(main, m[1])],
  [/^\/ui\/tasks\/([0-9a-zA-Z]+)(?:\/(.*))?$/, (m) => taskPage(main, m[1], m[2])],
];

export function navigate(path, replace = false) {
  if (replace) history.replaceState(null, '', path); else history.pushState(null, '', path);
  render();
}

function markNav(path) {
  for (const a of document.querySelectorAll('header nav a')) {
    const on = (a.dataset.nav === 'workers' && (/^\/ui\/?$/.test(path) || path.startsWith('/ui/workers'))) ||
      (a.dataset.nav === 'experiments' && (path.startsWith('/ui/experiments') || path.startsWith('/ui/projects') || path.startsWith('/ui/tasks')));
    a.classList.toggle('active', on);
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

async function render() {
  if (cleanup) { try { cleanup(); } catch (e) { /* ignore */ } cleanup = null; }
  clearErrors();
  const path = location.pathname;
  markNav(path);
  if (!me) { loginPage(); return; }
  for (const [re, fn] of routes) {
    const m = path.match(re);
    if (m) {
      clear(main);
      try { cleanup = await fn(m); } catch (e) { showError(e); }
      return;
    }
  }
  clear(main).append(h('h1', null, 'Not found'), h('p', null, 'No page at ', path, '. ',
    h('a', { href: '/ui/', 'data-link': '' }, 'Workers & Queues')));
}

function showWho() {
  const who = clear(document.getElementById('who'));
  if (!me) return;
  who.append(h('span', { 'data-testid': 'user' }, me.user_name || me.user),
    h('button', { type: 'button', class: 'small', id: 'signout', onclick: signOut }, 'Sign out'));
}

async function signOut() {
  await session('DELETE');
  me = null;
  showWho();
  loginPage();
}

function loginPage() {
  clear(main);
  const key = h('input', { id: 'access_key', name: 'access_key', autocomplete: 'username', required: true });
  const secret = h('input', { id: 'secret_key', name: 'secret_key', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('p', { class: 'muted', role: 'status' });
  const form = h('form', { class: 'card login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in'),
    h('p', { class: 'muted' }, 'Use a credential pair of this server: the access_key and secret_key of the clearml.conf it wrote in its data directory, or one made with “clearml-server-lite credentials create”.'),
    h('label', { for: 'access_key' }, 'Access key'), key,
    h('label', { for: 'secret_key' }, 'Secret key'), secret,
    h('p', null, h('button', { type: 'submit', class: 'primary', id: 'signin' }, 'Sign in')), msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    msg.textContent = 'Signing in…';
    const r = await session('POST', { access_key: key.value.trim(), secret_key: secret.value.trim() });
    if (!r.ok) { msg.textContent = r.data.error || `Sign-in failed (HTTP ${r.status})`; return; }
    me = r.data;
    showWho();
    render();
  });
  main.append(form);
  key.focus();
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/ui/') || a.hasAttribute('download')) return;
  if (/\.[a-z0-9]+$/i.test(url.pathname)) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', render);
setUnauthorizedHandler(() => { if (me) { me = null; showWho(); loginPage(); } });

(async () => {
  try {
    const r = await session('GET');
    me = r.ok ? r.data : null;
  } catch (e) { showError(e); }
  showWho();
  render();
})();
