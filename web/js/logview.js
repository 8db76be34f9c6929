// The console log: a virtualised view (only the visible lines are in the page) over a window of
// lines fetched by pages from events.get_task_log, so a log of a million lines scrolls as
// smoothly as one of ten. It starts at the tail and follows it while the task runs; scrolling
// up loads earlier pages, "Start" jumps to the head. Search finds lines in what is loaded and
// keeps loading pages while asked for more; Download fetches every page into one text file.
import { call } from './api.js';
import { h, clear, showError } from './dom.js';

const LINE = 18, KEEP = 60000, PAGE_LINES = 3000;

function eventLines(ev) {
  const msg = (ev.msg !== undefined ? ev.msg : '') + '';
  const parts = msg.replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n');
  return parts.map((p) => ({ ts: ev.timestamp, text: p.replace(/\r/g, '') }));
}

export function logView(taskId, isRunning) {
  const st = {
    lines: [], first: 0, total: 0, headTs: null, tailTs: null, atHead: false, follow: true,
    loading: false, hits: [], hit: -1, query: '', alive: true,
  };
  const spacer = h('div', { class: 'spacer' });
  const box = h('div', { class: 'log', tabindex: '0', role: 'log', 'aria-label': 'Console log', id: 'console-log' }, spacer);
  const info = h('span', { class: 'muted', id: 'log-info' });
  const search = h('input', { type: 'search', placeholder: 'Search the log', 'aria-label': 'Search the log', id: 'log-search' });
  const followBox = h('input', { type: 'checkbox', checked: true, id: 'log-follow' });
  const bar = h('div', { class: 'toolbar' },
    h('button', { type: 'button', onclick: () => jumpHead() }, 'Start'),
    h('button', { type: 'button', onclick: () => jumpTail() }, 'End'),
    h('label', null, followBox, ' Follow'), search,
    h('button', { type: 'button', onclick: () => findNext(-1), 'aria-label': 'Previous match' }, '↑'),
    h('button', { type: 'button', onclick: () => findNext(1), 'aria-label': 'Next match' }, '↓'),
    h('span', { class: 'spacer' }), info,
    h('button', { type: 'button', id: 'log-download', onclick: download }, 'Download'));
  const root = h('div', null, bar, box);

  followBox.addEventListener('change', () => { st.follow = followBox.checked; if (st.follow) jumpTail(); });
  search.addEventListener('keydown', (e) => { if (e.key === 'Enter') findNext(e.shiftKey ? -1 : 1); });
  search.addEventListener('input', () => { st.query = search.value; computeHits(); paint(); });
  box.addEventListener('scroll', () => {
    paint();
    if (box.scrollTop < LINE * 50 && !st.atHead && !st.loading) loadEarlier();
    else if (box.scrollTop + box.clientHeight > box.scrollHeight - LINE * 50 && !st.follow && !st.loading) loadLater();
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - LINE * 2;
    if (!atBottom && st.follow && box.dataset.userScroll === '1') { st.follow = false; followBox.checked = false; }
  });
  box.addEventListener('wheel', () => { box.dataset.userScroll = '1'; }, { passive: true });
  box.addEventListener('keydown', (e) => {
    box.dataset.userScroll = '1';
    const page = box.clientHeight - LINE;
    if (e.key === 'PageDown') { box.scrollTop += page; e.preventDefault(); }
    else if (e.key === 'PageUp') { box.scrollTop -= page; e.preventDefault(); }
    else if (e.key === 'ArrowDown') { box.scrollTop += LINE; e.preventDefault(); }
    else if (e.key === 'ArrowUp') { box.scrollTop -= LINE; e.preventDefault(); }
    else if (e.key === 'Home') { jumpHead(); e.preventDefault(); }
    else if (e.key === 'End') { jumpTail(); e.preventDefault(); }
  });

  function computeHits() {
    st.hits = [];
    st.hit = -1;
    const q = st.query.toLowerCase();
    if (!q) return;
    st.lines.forEach((l, i) => { if (l.text.toLowerCase().includes(q)) st.hits.push(i); });
  }

  function paint() {
    spacer.style.height = `${st.lines.length * LINE}px`;
    const top = Math.max(0, Math.floor(box.scrollTop / LINE) - 20);
    const end = Math.min(st.lines.length, top + Math.ceil(box.clientHeight / LINE) + 40);
    const hitSet = new Set(st.hits);
    const cur = st.hit >= 0 ? st.hits[st.hit] : -1;
    const frag = document.createDocumentFragment();
    for (let i = top; i < end; i++) {
      const l = st.lines[i];
      const row = h('div', { class: `line${hitSet.has(i) ? ' hit' : ''}${i === cur ? ' cur' : ''}` },
        h('span', { class: 'n' }, st.first === null ? '' : String(st.first + i + 1)), l.text);
      row.style.top = `${i * LINE}px`;
      frag.append(row);
    }
    for (const el of [...spacer.children]) el.remove();
    spacer.append(frag);
    const shown = !st.lines.length ? 'no output yet' : st.first === null
      ? `last ${st.lines.length} lines loaded` : `lines ${st.first + 1}–${st.first + st.lines.length}`;
    const hits = st.query ? ` · ${st.hits.length} matches${st.hit >= 0 ? ` (${st.hit + 1})` : ''}` : '';
    info.textContent = `${shown} of ${st.total} events${hits}`;
    box.dataset.lines = String(st.lines.length);
  }

  // Pages of about PAGE_LINES lines: the agent packs many lines into one event, a print() loop
  // one per event, so the batch size follows the lines per event seen so far.
  let batch = 10, seenEvents = 0, seenLines = 0, pages = 0;
  async function fetchPage(body) {
    const r = await call('events.get_task_log', { task: taskId, batch_size: batch, ...body });
    st.total = r.total || 0;
    const evs = r.events || [];
    box.dataset.pages = String(++pages);
    evs.lastBatch = batch;
    seenEvents += evs.length;
    for (const ev of evs) seenLines += 1 + ((ev.msg || '').match(/\n/g) || []).length;
    if (seenEvents) batch = Math.max(20, Math.min(5000, Math.round(PAGE_LINES * seenEvents / Math.max(1, seenLines))));
    return evs;
  }

  async function jumpTail() {
    st.loading = true;
    try {
      const evs = await fetchPage({ navigate_earlier: true, order: 'asc' });
      st.lines = evs.flatMap(eventLines);
      st.headTs = evs.length ? evs[0].timestamp : null;
      st.tailTs = evs.length ? evs[evs.length - 1].timestamp : null;
      st.atHead = evs.length < evs.lastBatch;
      st.first = st.atHead ? 0 : null;   // line numbers are known once the head is loaded
      computeHits();
      paint();
      box.scrollTop = box.scrollHeight;
      st.follow = true; followBox.checked = true; box.dataset.userScroll = '0';
      if (!document.documentElement.dataset.logReady) document.documentElement.dataset.logReady = performance.now().toFixed(1);
    } catch (e) { showError(e); }
    st.loading = false;
    // the first page is small (lines per event unknown yet); fill the view with one more
    if (!st.atHead && st.lines.length < PAGE_LINES) await loadEarlier();
  }

  async function jumpHead() {
    st.loading = true;
    try {
      const evs = await fetchPage({ navigate_earlier: false });
      st.lines = evs.flatMap(eventLines);
      st.first = 0; st.atHead = true;
      st.headTs = evs.length ? evs[0].timestamp : null;
      st.tailTs = evs.length ? evs[evs.length - 1].timestamp : null;
      st.follow = false; followBox.checked = false;
      computeHits(); paint(); box.scrollTop = 0;
    } catch (e) { showError(e); }
    st.loading = false;
  }

  async function loadEarlier() {
    if (st.headTs === null) return;
    st.loading = true;
    try {
      const evs = await fetchPage({ navigate_earlier: true, from_timestamp: st.headTs, order: 'asc' });
      if (evs.length < evs.lastBatch) st.atHead = true;
      if (evs.length) {
        const add = evs.flatMap(eventLines);
        st.lines = add.concat(st.lines);
        st.headTs = evs[0].timestamp;
        st.first = st.atHead ? 0 : st.first !== null ? Math.max(0, st.first - add.length) : null;
        if (st.lines.length > KEEP) { st.lines.length = KEEP; st.tailTs = st.lines[KEEP - 1].ts; st.follow = false; followBox.checked = false; }
        box.scrollTop += add.length * LINE;
        computeHits(); paint();
      }
    } catch (e) { showError(e); }
    st.loading = false;
  }

  // After a jump to the head: the next page down.
  async function loadLater() {
    if (st.tailTs === null) return;
    st.loading = true;
    try {
      const evs = await fetchPage({ navigate_earlier: false, from_timestamp: st.tailTs });
      if (evs.length) {
        st.lines = st.lines.concat(evs.flatMap(eventLines));
        st.tailTs = evs[evs.length - 1].timestamp;
        if (st.lines.length > KEEP) {
          const drop = st.lines.length - KEEP;
          st.lines.splice(0, drop);
          if (st.first !== null) st.first += drop;
          st.atHead = false; st.headTs = st.lines[0].ts;
          box.scrollTop -= drop * LINE;
        }
        computeHits(); paint();
      }
    } catch (e) { showError(e); }
    st.loading = false;
  }

  // While following: new lines after the tail.
  async function poll() {
    if (!st.alive || st.loading) return;
    if (!st.follow) { return; }
    st.loading = true;
    try {
      const body = st.tailTs === null ? { navigate_earlier: true, order: 'asc' } : { navigate_earlier: false, from_timestamp: st.tailTs };
      const evs = await fetchPage(body);
      if (evs.length) {
        const add = evs.flatMap(eventLines);
        if (st.tailTs === null) { st.headTs = evs[0].timestamp; st.atHead = evs.length < evs.lastBatch; }
        st.lines = st.lines.concat(add);
        st.tailTs = evs[evs.length - 1].timestamp;
        if (st.lines.length > KEEP) { const drop = st.lines.length - KEEP; st.lines.splice(0, drop); if (st.first !== null) st.first += drop; st.atHead = false; st.headTs = st.lines[0].ts; }
        computeHits(); paint();
        box.scrollTop = box.scrollHeight;
      } else {
        paint();
      }
    } catch (e) { showError(e); }
    st.loading = false;
  }

  function findNext(dir) {
    if (!st.hits.length) { computeHits(); }
    if (!st.hits.length) { paint(); return; }
    st.hit = (st.hit + dir + st.hits.length) % st.hits.length;
    st.follow = false; followBox.checked = false;
    box.scrollTop = Math.max(0, st.hits[st.hit] * LINE - box.clientHeight / 2);
    paint();
  }

  async function download() {
    const out = [];
    let from = null;
    try {
      for (;;) {
        const r = await call('events.get_task_log', { task: taskId, batch_size: 10000, navigate_earlier: false, ...(from !== null ? { from_timestamp: from } : {}) });
        const evs = r.events || [];
        for (const ev of evs) out.push(...eventLines(ev).map((l) => l.text));
        if (evs.length < 10000) break;
        from = evs[evs.length - 1].timestamp;
      }
    } catch (e) { showError(e); return; }
    const blob = new Blob([out.join('\n') + '\n'], { type: 'text/plain' });
    const a = h('a', { href: URL.createObjectURL(blob), download: `task_${taskId}.log` });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  jumpTail();
  const timer = setInterval(() => { if (isRunning()) poll(); }, 1000);
  return { el: root, stop: () => { st.alive = false; clearInterval(timer); }, refresh: poll };
}
