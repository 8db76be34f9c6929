// Experiments: projects and their tasks in a sortable, filterable table. Sorting, filtering and
// paging are the server's (tasks.get_all_ex with order_by, page, page_size, only_fields), so the
// page costs the same with ten tasks or ten thousand.
import { call } from './api.js';
import { h, clear, fmtTime, fmtDuration, statusBadge, showError, link } from './dom.js';

const PAGE = 50;
const STATUSES = ['created', 'queued', 'in_progress', 'stopped', 'completed', 'failed', 'published'];
const TYPES = ['training', 'testing', 'inference', 'data_processing', 'application', 'monitor',
  'controller', 'optimizer', 'service', 'qc', 'custom'];
const COLUMNS = [
  ['name', 'Name', 'name'], ['status', 'Status', 'status'], ['type', 'Type', 'type'],
  ['project', 'Project', null], ['queue', 'Queue', null], ['worker', 'Worker', 'last_worker'],
  ['started', 'Started', 'started'], ['duration', 'Duration', 'active_duration'],
  ['updated', 'Updated', 'last_update'], ['tags', 'Tags', null],
];

// A reference's id, whether the server sent the id itself or the referenced object.
const refId = (v) => (v && typeof v === 'object' ? v.id : v);

export async function experimentsPage(main, projectId) {
  const params = new URLSearchParams(location.search);
  const st = {
    project: projectId, page: 0, order: params.get('order') || '-last_update',
    search: params.get('q') || '', status: params.get('status') || '', type: params.get('type') || '',
    archived: params.get('archived') === '1', alive: true,
  };
  let projects = [], queueNames = {};
  // the first page of tasks is asked for at once, alongside the projects and queues
  const firstPage = call('tasks.get_all_ex', query(0)).catch((e) => e);
  try {
    const [p, q] = await Promise.all([
      call('projects.get_all', { only_fields: ['id', 'name'], order_by: ['name'] }),
      call('queues.get_all', { only_fields: ['id', 'name'] }),
    ]);
    projects = p.projects || [];
    queueNames = Object.fromEntries((q.queues || []).map((x) => [x.id, x.name]));
  } catch (e) { showError(e); }
  const projName = Object.fromEntries(projects.map((p) => [p.id, p.name]));

  const side = h('nav', { 'aria-label': 'Projects' }, h('h2', null, 'Projects'),
    h('ul', { class: 'projects' },
      h('li', null, h('a', { href: '/ui/experiments', 'data-link': '', class: !projectId ? 'active' : '' }, 'All experiments')),
      projects.map((p) => h('li', null, h('a', { href: `/ui/projects/${p.id}/experiments`, 'data-link': '',
        class: p.id === projectId ? 'active' : '', title: p.name }, p.name)))));
  const search = h('input', { type: 'search', placeholder: 'Search name, id, comment…', value: st.search, 'aria-label': 'Search', id: 'task-search' });
  const status = h('select', { 'aria-label': 'Status', id: 'status-filter' }, h('option', { value: '' }, 'Any status'),
    STATUSES.map((s) => h('option', { value: s, selected: s === st.status }, s)));
  const type = h('select', { 'aria-label': 'Type' }, h('option', { value: '' }, 'Any type'),
    TYPES.map((s) => h('option', { value: s, selected: s === st.type }, s)));
  const archived = h('input', { type: 'checkbox', id: 'show-archived', checked: st.archived });
  const tableBox = h('div', { id: 'tasks-table' });
  const pager = h('div', { class: 'pager' });
  const title = projectId ? (projName[projectId] || projectId) : 'All experiments';
  main.append(h('div', { class: 'layout' }, side,
    h('section', { class: 'grow', 'aria-labelledby': 'exp-title' },
      h('h1', { id: 'exp-title' }, title),
      h('div', { class: 'toolbar' }, search, status, type,
        h('label', null, archived, ' Archived'), h('span', { class: 'spacer' }),
        h('span', { class: 'muted', id: 'load-time' })),
      tableBox, pager)));

  let timer = null;
  const reload = () => { st.page = 0; load(); };
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => { st.search = search.value.trim(); reload(); }, 250); });
  status.addEventListener('change', () => { st.status = status.value; reload(); });
  type.addEventListener('change', () => { st.type = type.value; reload(); });
  archived.addEventListener('change', () => { st.archived = archived.checked; reload(); });

  function query(page) {
    const body = {
      only_fields: ['id', 'name', 'status', 'type', 'project', 'execution.queue', 'last_worker', 'started',
        'completed', 'active_duration', 'last_update', 'tags'],
      order_by: [st.order, '-id'], page, page_size: PAGE,
      system_tags: [st.archived ? 'archived' : '-archived'],
    };
    if (st.project) body.project = [st.project];
    if (st.status) body.status = [st.status];
    if (st.type) body.type = [st.type];
    if (st.search) body.search_text = st.search;
    return body;
  }

  async function load(pending) {
    const t0 = performance.now();
    let tasks;
    try {
      const r = pending ? await pending : await call('tasks.get_all_ex', query(st.page));
      if (r instanceof Error) throw r;
      tasks = r.tasks || [];
    } catch (e) { showError(e); return; }
    if (!st.alive) return;
    const head = h('tr', null, COLUMNS.map(([key, label, field]) => {
      if (!field) return h('th', { scope: 'col' }, label);
      const dir = st.order === field ? 'ascending' : st.order === `-${field}` ? 'descending' : 'none';
      return h('th', { scope: 'col', 'aria-sort': dir }, h('button', {
        type: 'button', class: 'sort', 'data-sort': field,
        onclick: () => { st.order = st.order === field ? `-${field}` : field; reload(); },
      }, label, dir === 'ascending' ? ' ▲' : dir === 'descending' ? ' ▼' : ''));
    }));
    const now = Date.now();
    const rows = tasks.map((t) => {
      const dur = t.active_duration != null ? t.active_duration
        : t.started ? ((t.completed ? new Date(t.completed).getTime() : (t.status === 'in_progress' ? now : new Date(t.last_update).getTime())) - new Date(t.started).getTime()) / 1000 : null;
      // get_all_ex answers references as objects ({id} or joined {id, name})
      const queue = t.execution && t.execution.queue;
      const qid = refId(queue), pid = refId(t.project);
      return h('tr', { 'data-task': t.id },
        h('td', null, link(`/ui/projects/${pid || '*'}/experiments/${t.id}`, t.name || t.id)),
        h('td', null, statusBadge(t.status)), h('td', null, t.type || ''),
        h('td', null, projName[pid] || ''),
        h('td', null, qid ? (queueNames[qid] || (queue && queue.name) || qid) : ''),
        h('td', null, t.last_worker || ''), h('td', null, fmtTime(t.started)),
        h('td', { class: 'num' }, fmtDuration(dur)), h('td', null, fmtTime(t.last_update)),
        h('td', null, (t.tags || []).map((x) => h('span', { class: 'tag' }, x))));
    });
    clear(tableBox).append(h('table', null, h('thead', null, head),
      h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: String(COLUMNS.length), class: 'muted' }, 'No experiments match.')))));
    clear(pager).append(
      h('button', { type: 'button', disabled: st.page === 0, onclick: () => { st.page--; load(); } }, '← Previous'),
      h('span', { class: 'muted' }, `Page ${st.page + 1}`),
      h('button', { type: 'button', disabled: tasks.length < PAGE, onclick: () => { st.page++; load(); } }, 'Next →'));
    const ms = performance.now() - t0;
    document.getElementById('load-time').textContent = `${tasks.length} shown · ${ms.toFixed(0)} ms`;
    main.dataset.loadMs = ms.toFixed(1);
    main.dataset.loads = String(Number(main.dataset.loads || 0) + 1);
    // for the bench: when the table first stood on the page, from the start of the navigation
    if (!document.documentElement.dataset.tableReady) document.documentElement.dataset.tableReady = performance.now().toFixed(1);
  }
  await load(firstPage);
  const poll = setInterval(() => { if (document.visibilityState === 'visible') load(); }, 10000);
  return () => { st.alive = false; clearInterval(poll); };
}
