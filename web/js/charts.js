// Time-series charts with dygraphs (Debian's libjs-dygraphs, served from /ui/vendor/).
import { h, clear } from './dom.js';

// The library is loaded on the first chart, so pages without charts do not wait for it.
let loading = null;
function dygraph() {
  if (typeof window.Dygraph === 'function') return Promise.resolve(window.Dygraph);
  if (!loading) {
    loading = new Promise((resolve) => {
      const s = document.createElement('script');
      s.src = '/ui/vendor/dygraph.min.js';
      s.onload = () => resolve(window.Dygraph);
      s.onerror = () => { loading = null; resolve(null); };
      document.head.append(s);
    });
  }
  return loading;
}

// Our own legend: dygraphs writes its legend with inline style attributes, which the page's
// Content-Security-Policy refuses; colours set through the DOM are allowed.
function legendOf(g, legend, names) {
  const colors = g.getColors();
  clear(legend).append(...names.map((n, i) => {
    const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' }, '■ ');
    sw.style.color = colors[i] || '';
    return h('span', { class: 'legend-item' }, sw, n, ' ');
  }));
}

// series: [{name, dates: [ms], values: [..]}] sharing one time axis or not; returns the element.
export function timeChart(title, series, opts = {}) {
  const box = h('div', { class: 'chart', 'data-chart': title });
  box.append(h('h3', null, title));
  let usable = series.filter((s) => s.dates && s.dates.length);
  // machine statistics: an interval without reports comes back as 0; draw it as a gap
  if (opts.zeroIsGap) usable = usable.map((s) => ({ ...s, values: s.values.map((v) => (v === 0 ? null : v)) }));
  const points = usable.reduce((n, s) => n + s.values.filter((v) => v !== null && v !== 0).length, 0);
  box.dataset.points = String(points);
  if (!usable.length) {
    box.append(h('div', { class: 'empty muted' }, opts.empty || 'No data for this period'));
    return box;
  }
  const times = [...new Set(usable.flatMap((s) => s.dates))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const rows = times.map((t) => [new Date(t), ...usable.map(() => null)]);
  usable.forEach((s, k) => s.dates.forEach((t, i) => { rows[index.get(t)][k + 1] = s.values[i]; }));
  const plot = h('div', { class: 'plot', role: 'img', 'aria-label': `${title}: ${usable.map((s) => s.name).join(', ')}` });
  const legend = h('div', { class: 'muted legend' });
  box.append(plot, legend);
  dygraph().then((Dygraph) => {
    if (!Dygraph) { clear(plot).append(h('div', { class: 'empty muted' }, 'Charting library not available')); return; }
    box._graph = new Dygraph(plot, rows, {
      labels: ['Time', ...usable.map((s) => s.name)],
      legend: 'never', connectSeparatedPoints: !opts.zeroIsGap,
      includeZero: true, strokeWidth: 1.5, drawPoints: true, pointSize: 2,
      valueRange: opts.valueRange, ylabel: opts.unit || '', dateWindow: opts.window,
      axes: { y: { axisLabelWidth: 56 } },
    });
    legendOf(box._graph, legend, usable.map((s) => s.name));
  });
  return box;
}

// x/y series (scalars by iteration).
export function xyChart(title, series) {
  const box = h('div', { class: 'chart', 'data-chart': title });
  box.append(h('h3', null, title));
  const usable = series.filter((s) => s.x && s.x.length);
  box.dataset.points = String(usable.reduce((n, s) => n + s.x.length, 0));
  if (!usable.length) {
    box.append(h('div', { class: 'empty muted' }, 'No data'));
    return box;
  }
  const xs = [...new Set(usable.flatMap((s) => s.x))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const rows = xs.map((x) => [x, ...usable.map(() => null)]);
  usable.forEach((s, k) => s.x.forEach((x, i) => { rows[index.get(x)][k + 1] = s.y[i]; }));
  const plot = h('div', { class: 'plot' });
  const legend = h('div', { class: 'muted legend' });
  box.append(plot, legend);
  dygraph().then((Dygraph) => {
    if (!Dygraph) return;
    box._graph = new Dygraph(plot, rows, {
      labels: ['Iteration', ...usable.map((s) => s.name)], legend: 'never',
      connectSeparatedPoints: true, strokeWidth: 1.5, drawPoints: xs.length < 60, xlabel: 'Iteration',
    });
    legendOf(box._graph, legend, usable.map((s) => s.name));
  });
  return box;
}
