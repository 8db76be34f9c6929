// A task's page: its actions (enqueue, abort, reset, clone, archive, delete), execution,
// hyper-parameters and configuration (editable while it is a draft), the console log, scalar
// charts, artifacts and models, and its status history. It refreshes while the task is active.
import { call } from './api.js';
import { h, clear, fmtTime, fmtDuration, statusBadge, showError, confirmDialog, promptDialog, link } from './dom.js';
import { xyChart } from './charts.js';
import { logView } from './logview.js';
import { navigate } from './main.js';

const TABS = [['execution', 'Execution'], ['configuration', 'Configuration'], ['console', 'Console'],
  ['scalars', 'Scalars'], ['artifacts', 'Artifacts & models'], ['info', 'Info']];
const ACTIVE = new Set(['queued', 'in_progress']);
const TAB_FROM_PATH = { 'output/log': 'console', 'output/metrics/scalar': 'scalars', 'execution': 'execution',
  'hyper-params/hyper-param': 'configuration', 'artifacts': 'artifacts', 'info-output': 'info' };

export async function taskPage(main, taskId, rest) {
  const st = { task: null, tab: TAB_FROM_PATH[rest] || (rest && TABS.some(([k]) => k === rest) ? rest : 'execution'),
    alive: true, log: null, history: [], historyError: null, editing: false, queues: [] };
  const header = h('div', { id: 'task-header' });
  const actions = h('div', { class: 'toolbar', id: 'task-actions', role: 'toolbar', 'aria-label': 'Task actions' });
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const panel = h('div', { role: 'tabpanel', id: 'task-panel' });
  main.append(header, actions, tabs, panel);

  try { st.queues = (await call('queues.get_all', { only_fields: ['id', 'name'], order_by: ['name'] })).queues || []; }
  catch (e) { showError(e); }

  async function loadTask() {
    return (await call('tasks.get_by_id', { task: taskId })).task;
  }

  async function refresh(full) {
    let t;
    try { t = await loadTask(); } catch (e) { showError(e); return; }
    if (!st.alive || !t) return;
    const prev = st.task;
    st.task = t;
    if (st.tab === 'info' && (full || !prev || ACTIVE.has(t.status) || prev.status !== t.status ||
        prev.status_message !== t.status_message)) await loadHistory();
    if (!st.alive) return;
    renderHeader();
    renderActions();
    if (full || !prev || prev.status !== t.status || st.tab === 'info' ||
        (st.tab === 'execution' && JSON.stringify(prev.script) !== JSON.stringify(t.script))) {
      if (!(st.tab === 'configuration' && st.editing)) renderPanel();
    }
  }

  // The server's record of every status change (server-lite's tasks.get_status_history): read
  // while the Info tab shows, so a task that a long-polling agent claims within milliseconds
  // still shows "queued".
  async function loadHistory() {
    try { st.history = (await call('tasks.get_status_history', { task: taskId })).history || []; st.historyError = null; }
    catch (e) { st.historyError = e.message; }
  }

  function renderHeader() {
    const t = st.task;
    clear(header).append(
      h('p', { class: 'muted' }, link('/ui/experiments', 'Experiments'), ' / ',
        t.project ? link(`/ui/projects/${t.project}/experiments`, t.project_name || (t.project && t.project.name) || 'project') : 'no project'),
      h('h1', null, t.name || t.id, ' ', statusBadge(t.status)),
      h('p', { class: 'muted mono' }, `id ${t.id} · ${t.type || ''} · updated ${fmtTime(t.last_update)}`,
        t.status_message ? ` · ${t.status_message}` : ''));
    document.title = `${t.name} — ClearML server-lite`;
  }

  async function act(fn, question, danger = true) {
    if (question && !(await confirmDialog(question[0], question[1], question[2] || 'OK', danger))) return;
    try { await fn(); } catch (e) { showError(e); }
    refresh(true);
  }

  function renderActions() {
    const t = st.task;
    const status = t.status;
    const archived = (t.system_tags || []).includes('archived');
    const qsel = h('select', { id: 'enqueue-queue', 'aria-label': 'Queue' },
      st.queues.map((q) => h('option', { value: q.id }, q.name)));
    const items = [];
    if (['created', 'stopped', 'failed', 'completed'].includes(status) && !archived) {
      items.push(qsel, h('button', { type: 'button', class: 'primary', id: 'btn-enqueue', onclick: () => act(
        () => call('tasks.enqueue', { task: t.id, queue: qsel.value }), null) }, 'Enqueue'));
    }
    if (status === 'queued')
      items.push(h('button', { type: 'button', id: 'btn-dequeue', onclick: () => act(() => call('tasks.dequeue', { task: t.id }),
        ['Dequeue', `Take “${t.name}” out of its queue?`, 'Dequeue']) }, 'Dequeue'));
    if (status === 'in_progress' || status === 'queued')
      items.push(h('button', { type: 'button', class: 'danger', id: 'btn-abort', onclick: () => act(
        () => call('tasks.stop', { task: t.id, force: status === 'queued' }),
        ['Abort', `Abort “${t.name}”? The agent running it stops it.`, 'Abort']) }, 'Abort'));
    if (status !== 'created')
      items.push(h('button', { type: 'button', id: 'btn-reset', onclick: () => act(
        () => call('tasks.reset', { task: t.id, force: true }),
        ['Reset', `Reset “${t.name}”? Its outputs and log are deleted and it becomes a draft.`, 'Reset']) }, 'Reset'));
    items.push(h('button', { type: 'button', id: 'btn-clone', onclick: async () => {
      const name = await promptDialog('Clone', 'Name of the new draft', `Clone Of ${t.name}`, 'Clone');
      if (name === null) return;
      try {
        const r = await call('tasks.clone', { task: t.id, new_task_name: name });
        navigate(`/ui/tasks/${r.id}/configuration`);
      } catch (e) { showError(e); }
    } }, 'Clone'));
    items.push(h('button', { type: 'button', id: 'btn-archive', onclick: () => act(
      () => archived ? call('tasks.unarchive_many', { ids: [t.id] }) : call('tasks.archive', { tasks: [t.id] }),
      archived ? null : ['Archive', `Archive “${t.name}”? It leaves the lists until you show archived experiments.`, 'Archive'], !archived) },
      archived ? 'Restore' : 'Archive'));
    items.push(h('button', { type: 'button', class: 'danger', id: 'btn-delete', onclick: async () => {
      if (!(await confirmDialog('Delete', `Delete “${t.name}” with its log and outputs? This cannot be undone.`, 'Delete', true))) return;
      try { await call('tasks.delete', { task: t.id, force: true }); navigate('/ui/experiments'); } catch (e) { showError(e); }
    } }, 'Delete'));
    clear(actions).append(...items);
  }

  function renderTabs() {
    clear(tabs).append(...TABS.map(([key, label]) => h('button', {
      type: 'button', role: 'tab', id: `tab-${key}`, 'aria-selected': String(key === st.tab), tabindex: key === st.tab ? '0' : '-1',
      onclick: () => { st.tab = key; history.replaceState(null, '', `/ui/tasks/${taskId}/${key}`); renderTabs(); renderPanel(); if (key === 'info') refresh(true); },
      onkeydown: (e) => {
        const i = TABS.findIndex(([k]) => k === st.tab);
        const j = e.key === 'ArrowRight' ? (i + 1) % TABS.length : e.key === 'ArrowLeft' ? (i + TABS.length - 1) % TABS.length : -1;
        if (j >= 0) { st.tab = TABS[j][0]; renderTabs(); renderPanel(); tabs.children[j].focus(); if (st.tab === 'info') refresh(true); }
      },
    }, label)));
  }

  function kv(pairs) {
    return h('dl', { class: 'kv' }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
  }

  function renderExecution() {
    const t = st.task, s = t.script || {}, ex = t.execution || {}, c = t.container || {};
    const req = s.requirements || {};
    const pip = typeof req.pip === 'string' ? req.pip : Array.isArray(req.pip) ? req.pip.join('\n') : '';
    const installed = (t.runtime && t.runtime.installed_packages) || '';
    return [h('div', { class: 'card' }, h('h2', null, 'Source'), kv([
      ['Repository', s.repository], ['Branch', s.branch], ['Commit', s.version_num && h('span', { class: 'mono' }, s.version_num)],
      ['Tag', s.tag], ['Entry point', s.entry_point && h('span', { class: 'mono' }, s.entry_point)],
      ['Working dir', s.working_dir && h('span', { class: 'mono' }, s.working_dir)], ['Binary', s.binary],
      ['Queue', ex.queue && (st.queues.find((q) => q.id === ex.queue) || {}).name || ex.queue],
      ['Container', c.image && [c.image, c.arguments ? ` ${c.arguments}` : '']]]),
      !s.repository && !s.entry_point ? h('p', { class: 'muted' }, 'No source recorded.') : ''),
    h('div', { class: 'card' }, h('h2', null, 'Uncommitted changes'),
      s.diff ? h('pre', { class: 'block', id: 'task-diff' }, s.diff) : h('p', { class: 'muted' }, 'None.')),
    h('div', { class: 'card' }, h('h2', null, 'Installed packages'),
      pip || installed ? h('pre', { class: 'block' }, pip || installed) : h('p', { class: 'muted' }, 'Not reported.')),
    c.setup_shell_script ? h('div', { class: 'card' }, h('h2', null, 'Container setup script'), h('pre', { class: 'block' }, c.setup_shell_script)) : ''];
  }

  function renderConfiguration() {
    const t = st.task;
    const hp = t.hyperparams || {};
    const editable = t.status === 'created';
    const inputs = [];
    const sections = Object.keys(hp).sort();
    const hpCard = h('div', { class: 'card', id: 'hyperparams' }, h('div', { class: 'toolbar' }, h('h2', null, 'Hyper-parameters'),
      h('span', { class: 'spacer' }),
      editable && !st.editing ? h('button', { type: 'button', id: 'btn-edit-hp', onclick: () => { st.editing = true; renderPanel(); } }, 'Edit') : '',
      st.editing ? [h('button', { type: 'button', onclick: () => { st.editing = false; renderPanel(); } }, 'Cancel'),
        h('button', { type: 'button', class: 'primary', id: 'btn-save-hp', onclick: save }, 'Save')] : '',
      !editable ? h('span', { class: 'muted' }, 'Clone the task to change its parameters.') : ''));
    if (!sections.length) hpCard.append(h('p', { class: 'muted' }, 'No hyper-parameters.'));
    for (const sec of sections) {
      const rows = Object.values(hp[sec] || {}).sort((a, b) => String(a.name).localeCompare(String(b.name)));
      hpCard.append(h('h3', null, sec), h('table', null,
        h('thead', null, h('tr', null, ['Name', 'Value', 'Type', 'Description'].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', null, rows.map((p) => {
          let cell = h('span', { class: 'mono' }, p.value === undefined ? '' : String(p.value));
          if (st.editing) {
            const inp = h('input', { class: 'hp-input mono', value: p.value === undefined ? '' : String(p.value),
              'aria-label': `${sec}/${p.name}`, 'data-param': `${sec}/${p.name}` });
            inputs.push([sec, p, inp]);
            cell = inp;
          }
          return h('tr', null, h('td', { class: 'mono' }, p.name), h('td', null, cell), h('td', null, p.type || ''), h('td', null, p.description || ''));
        }))));
    }
    async function save() {
      const changed = inputs.filter(([, p, inp]) => String(p.value ?? '') !== inp.value)
        .map(([sec, p, inp]) => ({ section: sec, name: p.name, value: inp.value, type: p.type, description: p.description }));
      try {
        if (changed.length) await call('tasks.edit_hyper_params', { task: t.id, hyperparams: changed });
        st.editing = false;
      } catch (e) { showError(e); return; }
      refresh(true);
    }
    const conf = t.configuration || {};
    const confCard = h('div', { class: 'card' }, h('h2', null, 'Configuration objects'),
      Object.keys(conf).length ? Object.keys(conf).sort().map((k) => [h('h3', null, k, conf[k].type ? h('span', { class: 'muted' }, ` (${conf[k].type})`) : ''),
        h('pre', { class: 'block' }, conf[k].value || '')]) : h('p', { class: 'muted' }, 'None.'));
    return [hpCard, confCard];
  }

  async function renderScalars(box) {
    let r;
    try { r = await call('events.scalar_metrics_iter_histogram', { task: taskId, samples: 5000 }); } catch (e) { showError(e); return; }
    const metrics = Object.keys(r).filter((k) => r[k] && typeof r[k] === 'object').sort();
    clear(box);
    if (!metrics.length) { box.append(h('p', { class: 'muted' }, 'No scalars reported.')); return; }
    box.append(h('div', { class: 'charts' }, metrics.map((m) => xyChart(m, Object.entries(r[m]).map(([v, s]) => ({ name: v, x: s.x || [], y: s.y || [] }))))));
  }

  async function renderArtifacts(box) {
    const t = st.task;
    const arts = (t.execution && t.execution.artifacts) || [];
    const models = t.models || {};
    const modelRefs = [...(models.input || []).map((m) => ['input', m]), ...(models.output || []).map((m) => ['output', m])];
    const urlCell = (uri) => {
      if (!uri) return '';
      return /^https?:\/\//.test(uri) ? h('a', { href: uri, download: '', rel: 'noopener' }, uri) : h('span', { class: 'mono' }, uri);
    };
    let modelDocs = {};
    if (modelRefs.length) {
      try {
        const r = await call('models.get_all', { id: modelRefs.map(([, m]) => m.model), only_fields: ['id', 'name', 'uri', 'framework', 'ready'] });
        modelDocs = Object.fromEntries((r.models || []).map((m) => [m.id, m]));
      } catch (e) { /* models service may be missing: show the references */ }
    }
    clear(box).append(
      h('div', { class: 'card' }, h('h2', null, 'Artifacts'), arts.length ? h('table', null,
        h('thead', null, h('tr', null, ['Name', 'Type', 'Mode', 'Size', 'File'].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', null, arts.map((a) => h('tr', null, h('td', null, a.key), h('td', null, a.type || ''), h('td', null, a.mode || ''),
          h('td', { class: 'num' }, a.content_size ? `${(a.content_size / 1024).toFixed(1)} KiB` : ''), h('td', null, urlCell(a.uri)))))) : h('p', { class: 'muted' }, 'None.')),
      h('div', { class: 'card' }, h('h2', null, 'Models'), modelRefs.length ? h('table', null,
        h('thead', null, h('tr', null, ['Direction', 'Name', 'Model', 'File'].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', null, modelRefs.map(([dir, m]) => { const d = modelDocs[m.model] || {};
          return h('tr', null, h('td', null, dir), h('td', null, m.name || d.name || ''), h('td', { class: 'mono' }, m.model), h('td', null, urlCell(d.uri))); }))) : h('p', { class: 'muted' }, 'None.')));
  }

  function renderInfo() {
    const t = st.task;
    const dur = t.active_duration != null ? t.active_duration : (t.started && t.completed ? (new Date(t.completed) - new Date(t.started)) / 1000 : null);
    return [h('div', { class: 'card' }, h('h2', null, 'Info'), kv([
      ['Status', statusBadge(t.status)], ['Reason', t.status_reason], ['Message', t.status_message],
      ['Worker', t.last_worker], ['Created', t.created && fmtTime(t.created)], ['Started', t.started && fmtTime(t.started)],
      ['Completed', t.completed && fmtTime(t.completed)], ['Last iteration', t.last_iteration], ['Duration', fmtDuration(dur)],
      ['User', t.user && (t.user.name || t.user)], ['Tags', (t.tags || []).map((x) => h('span', { class: 'tag' }, x))],
      ['Comment', t.comment]])),
    h('div', { class: 'card', id: 'status-history' }, h('h2', null, 'Status history'),
      h('table', null, h('thead', null, h('tr', null, ['When', 'Change', 'Reason', 'Message', 'By'].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', null, st.history.map((x) => h('tr', { 'data-to': x.to_status },
          h('td', null, fmtTime(x.time)),
          h('td', null, x.from_status ? [statusBadge(x.from_status), ' → '] : '', statusBadge(x.to_status)),
          h('td', null, x.status_reason || ''), h('td', null, x.status_message || ''),
          h('td', { class: 'mono', title: x.user ? `user ${x.user}` : '' }, x.worker || x.user || 'server'))))),
      st.historyError ? h('p', { class: 'muted' }, `History not available: ${st.historyError}`)
        : h('p', { class: 'muted' }, 'Every status change as the server recorded it (the newest 200).'))];
  }

  function renderPanel() {
    if (st.log && st.tab !== 'console') { st.log.stop(); st.log = null; }
    if (st.tab === 'console') {
      if (!st.log) {
        st.log = logView(taskId, () => st.task && (ACTIVE.has(st.task.status) || Date.now() - new Date(st.task.last_update).getTime() < 15000));
        clear(panel).append(st.log.el);
      }
      return;
    }
    clear(panel);
    if (st.tab === 'execution') panel.append(...renderExecution());
    else if (st.tab === 'configuration') panel.append(...renderConfiguration());
    else if (st.tab === 'info') panel.append(...renderInfo());
    else if (st.tab === 'scalars') { const b = h('div', null, h('p', { class: 'muted' }, 'Loading…')); panel.append(b); renderScalars(b); }
    else if (st.tab === 'artifacts') { const b = h('div', null, h('p', { class: 'muted' }, 'Loading…')); panel.append(b); renderArtifacts(b); }
  }

  renderTabs();
  await refresh(true);
  if (!st.task) { clear(main).append(h('h1', null, 'Task not found'), h('p', null, taskId)); return () => {}; }
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible' && st.task) refresh(false);
  }, 2000);
  return () => { st.alive = false; clearInterval(timer); if (st.log) st.log.stop(); };
}
