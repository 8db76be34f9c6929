// Workers & Queues: every worker with its queues, current task, last seen and its machine
// statistics (workers.get_stats) for the last hour/day/week; every queue with its length and
// wait-time chart (queues.get_queue_metrics) and its tasks in order, which can be moved or removed.
import { call } from './api.js';
import { h, clear, fmtAgo, fmtDuration, showError, confirmDialog, link } from './dom.js';
import { timeChart } from './charts.js';

const RANGES = { hour: [3600, 40], day: [86400, 600], week: [7 * 86400, 3600] };

const CHARTS = [
  { title: 'CPU usage', unit: '%', keys: [['cpu_usage', 'CPU %']], range: [0, 100] },
  { title: 'Memory', unit: 'GB', keys: [['memory_used', 'used'], ['memory_free', 'free']], scale: 1 / 1024 },
  { title: 'Disk', unit: '% free / MB/s', keys: [['disk_free_home', 'free home %'], ['disk_read', 'read MB/s'], ['disk_write', 'write MB/s']] },
  { title: 'Network', unit: 'MB/s', keys: [['network_rx', 'rx'], ['network_tx', 'tx']] },
  { title: 'GPU usage', unit: '%', keys: [['gpu_usage', 'GPU']], gpu: true, range: [0, 100] },
  { title: 'GPU memory used', unit: 'MB', keys: [['gpu_memory_used', 'GPU']], gpu: true },
  { title: 'GPU temperature', unit: '°C', keys: [['gpu_temperature', 'GPU']], gpu: true },
];

export async function workersPage(main) {
  const state = { worker: null, queue: null, range: 'hour', timers: [], alive: true };
  const workersBox = h('div', { class: 'card', id: 'workers' }, h('p', { class: 'muted' }, 'Loading workers…'));
  const statsBox = h('div', { id: 'worker-stats' });
  const queuesBox = h('div', { class: 'card', id: 'queues' }, h('p', { class: 'muted' }, 'Loading queues…'));
  const queueBox = h('div', { id: 'queue-detail' });
  const rangeBar = h('div', { class: 'toolbar', role: 'group', 'aria-label': 'Chart period' },
    h('span', { class: 'muted' }, 'Period:'),
    ...Object.keys(RANGES).map((r) => h('button', {
      type: 'button', 'data-range': r, 'aria-pressed': String(r === state.range),
      onclick: () => { state.range = r; for (const b of rangeBar.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.range === r)); refreshStats(); refreshQueue(); },
    }, `Last ${r}`)));
  main.append(h('h1', null, 'Workers & Queues'),
    h('h2', null, 'Workers'), workersBox, rangeBar, statsBox,
    h('h2', null, 'Queues'), queuesBox, queueBox);

  let queueNames = {};

  async function refreshWorkers() {
    let workers;
    try { workers = (await call('workers.get_all', {})).workers || []; } catch (e) { showError(e); return; }
    if (!state.alive) return;
    workers.sort((a, b) => a.id.localeCompare(b.id));
    if (!state.worker && workers.length) state.worker = workers[0].id;
    clear(workersBox);
    if (!workers.length) {
      workersBox.append(h('p', { class: 'muted' }, 'No worker has reported in the last hour. Start one with “clearml-agent daemon --queue default”.'));
      return;
    }
    const rows = workers.map((w) => h('tr', { class: w.id === state.worker ? 'selected' : '', 'data-worker': w.id },
      h('td', null, h('button', { type: 'button', class: 'small', 'aria-pressed': String(w.id === state.worker),
        onclick: () => { state.worker = w.id; refreshWorkers(); refreshStats(); } }, 'Charts'), ' ', h('strong', null, w.id)),
      h('td', null, (w.queues || []).map((q) => h('span', { class: 'tag' }, q.name || q.id))),
      h('td', null, w.task ? [link(`/ui/tasks/${w.task.id}`, w.task.name || w.task.id),
        h('span', { class: 'muted' }, ` · ${fmtDuration((w.task.running_time || 0) / 1000)}`)] : h('span', { class: 'muted' }, 'idle')),
      h('td', null, fmtAgo(w.last_activity_time)),
      h('td', { class: 'mono' }, w.ip || '')));
    workersBox.append(h('table', null,
      h('thead', null, h('tr', null, ['Worker', 'Queues', 'Current task', 'Last seen', 'IP'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, rows)));
  }

  async function refreshStats() {
    if (!state.worker) { clear(statsBox); return; }
    const [span, interval] = RANGES[state.range];
    // to_date one interval ahead: the server drops the last, incomplete interval, which is
    // the one a live chart wants to show
    const to = Date.now() / 1000 + interval, from = to - span;
    const items = CHARTS.flatMap((c) => c.keys.map(([k]) => ({ key: k, aggregation: 'avg' })));
    let res;
    try {
      res = await call('workers.get_stats', { worker_ids: [state.worker], from_date: from, to_date: to,
        interval, items, split_by_resource: true });
    } catch (e) { showError(e); return; }
    if (!state.alive) return;
    const w = (res.workers || []).find((x) => x.worker === state.worker);
    const metrics = new Map((w ? w.metrics : []).map((m) => [m.metric, m]));
    const grid = h('div', { class: 'charts' });
    for (const c of CHARTS) {
      const series = [];
      for (const [key, label] of c.keys) {
        const m = metrics.get(key);
        const st = m && m.stats && m.stats[0];
        if (!st) continue;
        const scale = (v) => (c.scale ? v * c.scale : v);
        if (c.gpu && st.resource_series && st.resource_series.length)
          st.resource_series.forEach((rs) => series.push({ name: `${label} ${rs.name}`, dates: st.dates, values: rs.values.map(scale) }));
        else series.push({ name: c.gpu ? `${label} 0` : label, dates: st.dates, values: st.values.map(scale) });
      }
      if (c.gpu && !series.length) continue;
      grid.append(timeChart(c.title, series, { unit: c.unit, valueRange: c.range, zeroIsGap: true, window: [from * 1000, to * 1000] }));
    }
    clear(statsBox).append(h('h3', null, `Machine statistics of ${state.worker} — last ${state.range}`), grid);
  }

  async function refreshQueues() {
    let queues;
    try { queues = (await call('queues.get_all', { order_by: ['name'] })).queues || []; } catch (e) { showError(e); return; }
    if (!state.alive) return;
    queueNames = Object.fromEntries(queues.map((q) => [q.id, q.name]));
    if (!state.queue && queues.length) state.queue = queues[0].id;
    let workers = [];
    try { workers = (await call('workers.get_all', {})).workers || []; } catch (e) { /* shown above */ }
    const serving = (qid) => workers.filter((w) => (w.queues || []).some((q) => q.id === qid)).length;
    clear(queuesBox).append(h('table', null,
      h('thead', null, h('tr', null, ['Queue', 'Length', 'Workers', 'Next task'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, queues.map((q) => h('tr', { class: q.id === state.queue ? 'selected' : '', 'data-queue': q.name },
        h('td', null, h('button', { type: 'button', class: 'small', 'aria-pressed': String(q.id === state.queue),
          onclick: () => { state.queue = q.id; refreshQueues(); refreshQueue(); } }, 'Open'), ' ', h('strong', null, q.name)),
        h('td', { class: 'num', 'data-length': String((q.entries || []).length) }, String((q.entries || []).length)),
        h('td', { class: 'num' }, String(serving(q.id))),
        h('td', null, q.entries && q.entries.length ? link(`/ui/tasks/${q.entries[0].task}`, q.entries[0].task) : ''))))));
  }

  async function refreshQueue() {
    if (!state.queue) { clear(queueBox); return; }
    const qid = state.queue;
    const [span, interval] = RANGES[state.range];
    const to = Date.now() / 1000;
    let q, metrics;
    try {
      q = await call('queues.get_by_id', { queue: qid });
      q = q.queue;
      metrics = (await call('queues.get_queue_metrics', { queue_ids: [qid], from_date: to - span, to_date: to,
        interval: Math.max(10, Math.round(interval / 4)), refresh: true })).queues || [];
    } catch (e) { showError(e); return; }
    if (!state.alive || qid !== state.queue) return;
    const entries = q.entries || [];
    const ids = entries.map((e) => e.task);
    let names = {};
    if (ids.length) {
      try {
        const t = await call('tasks.get_all', { id: ids, only_fields: ['id', 'name', 'status'] });
        names = Object.fromEntries((t.tasks || []).map((x) => [x.id, x]));
      } catch (e) { showError(e); }
    }
    const m = metrics.find((x) => x.queue === qid) || { dates: [], queue_lengths: [], avg_waiting_times: [] };
    const act = async (endpoint, body, question) => {
      if (question && !(await confirmDialog('Remove from queue', question, 'Remove', true))) return;
      try { await call(endpoint, body); } catch (e) { showError(e); }
      refreshQueue(); refreshQueues();
    };
    const list = h('table', { id: 'queue-tasks' },
      h('thead', null, h('tr', null, ['#', 'Task', 'Status', 'Waiting', 'Move'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, entries.length ? entries.map((e, i) => {
        const t = names[e.task] || {};
        const name = t.name || e.task;
        return h('tr', { 'data-task': e.task },
          h('td', { class: 'num' }, String(i + 1)),
          h('td', null, link(`/ui/tasks/${e.task}`, name)),
          h('td', null, t.status || ''),
          h('td', null, fmtAgo(e.added).replace(' ago', '')),
          h('td', null,
            h('button', { type: 'button', class: 'small', title: 'Move up', 'aria-label': `Move ${name} up`, disabled: i === 0,
              onclick: () => act('queues.move_task_forward', { queue: qid, task: e.task }) }, '↑'), ' ',
            h('button', { type: 'button', class: 'small', title: 'Move down', 'aria-label': `Move ${name} down`, disabled: i === entries.length - 1,
              onclick: () => act('queues.move_task_backward', { queue: qid, task: e.task }) }, '↓'), ' ',
            h('button', { type: 'button', class: 'small', title: 'Move to front', 'aria-label': `Move ${name} to the front`, disabled: i === 0,
              onclick: () => act('queues.move_task_to_front', { queue: qid, task: e.task }) }, 'To front'), ' ',
            h('button', { type: 'button', class: 'small danger', title: 'Remove from queue', 'aria-label': `Remove ${name} from the queue`,
              onclick: () => act('tasks.dequeue', { task: e.task }, `Remove “${name}” from queue ${q.name}? It goes back to draft.`) }, 'Remove')));
      }) : h('tr', null, h('td', { colspan: '5', class: 'muted' }, 'The queue is empty.'))));
    clear(queueBox).append(h('h3', null, `Queue ${q.name}`),
      h('div', { class: 'charts' },
        timeChart('Queue length', [{ name: 'tasks', dates: m.dates, values: m.queue_lengths }], { unit: 'tasks', window: [(to - span) * 1000, to * 1000] }),
        timeChart('Wait time', [{ name: 'seconds', dates: m.dates, values: m.avg_waiting_times }], { unit: 's', window: [(to - span) * 1000, to * 1000] })),
      h('h3', null, `Tasks in order (${entries.length})`), list);
  }

  await Promise.all([refreshWorkers(), refreshQueues()]);
  await Promise.all([refreshStats(), refreshQueue()]);
  state.timers.push(setInterval(() => { refreshWorkers(); refreshQueues(); }, 5000));
  state.timers.push(setInterval(() => { refreshStats(); refreshQueue(); }, 10000));
  return () => { state.alive = false; state.timers.forEach(clearInterval); };
}
