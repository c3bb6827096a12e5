// The dashboard page: one EventSource for everything shared (/stream), one
// for the event tail (/tail). Views redraw at most once per animation frame.
import { LineChart, fmtCount, fmtDuration, fmtNs } from './charts.js';

const $ = (id) => document.getElementById(id);
const HISTORY = 120;

// Everything the page knows; `window.rw` exposes it to tests and curious
// users (read-only by convention).
const rw = {
  loadedAt: Date.now(),
  connected: false, // to the dashboard server
  address: '',
  host: '',
  state: { reachable: false, error: 'connecting' },
  status: null,
  aggs: new Map(), // id -> info
  history: new Map(), // id -> [window]
  skipped: [],
  statusHistory: [], // {at, cpus: [{cpu, eps}]}
  myDrops: 0,
  problems: [],
  hellos: 0,
};
window.rw = rw;

const charts = {};
let dirty = new Set();
let frameRequested = false;
function invalidate(...what) {
  for (const w of what) dirty.add(w);
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(render);
  }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c);
  return node;
}

// ---------------------------------------------------------------------------
// Data in.

function pushWindow(win) {
  let list = rw.history.get(win.agg);
  if (!list) rw.history.set(win.agg, (list = []));
  const last = list[list.length - 1];
  if (last && win.end <= last.end) return;
  list.push(win);
  if (list.length > HISTORY) list.shift();
}

function onHello(s) {
  rw.hellos++;
  rw.address = s.address;
  rw.host = s.host;
  rw.state = s.state;
  rw.status = s.status;
  rw.skipped = s.skipped || [];
  rw.aggs = new Map(s.aggs.map((a) => [a.id, a]));
  rw.history = new Map();
  for (const [id, wins] of Object.entries(s.history || {})) for (const w of wins) pushWindow(w);
  for (const p of s.problems || []) rw.problems.push({ at: p.at, text: p.text });
  invalidate('header', 'banner', 'aggs', 'roles', 'percpu', 'problems');
}

function onStatus(status) {
  rw.status = status;
  rw.statusHistory.push({ at: Date.now(), cpus: status.cpus.map((c) => ({ cpu: c.cpu, eps: c.eps })) });
  if (rw.statusHistory.length > HISTORY) rw.statusHistory.shift();
  invalidate('header', 'percpu');
}

function connect() {
  const es = new EventSource('/stream');
  const on = (name, fn) => es.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  es.onopen = () => {
    rw.connected = true;
    invalidate('banner');
  };
  es.onerror = () => {
    rw.connected = false;
    invalidate('banner');
  };
  on('hello', onHello);
  on('state', (s) => {
    rw.state = s;
    invalidate('banner', 'header');
  });
  on('status', onStatus);
  on('aggs', ({ aggs, skipped }) => {
    rw.aggs = new Map(aggs.map((a) => [a.id, a]));
    rw.skipped = skipped || [];
    for (const id of [...rw.history.keys()]) if (!rw.aggs.has(id)) rw.history.delete(id);
    invalidate('aggs', 'roles');
  });
  on('window', (win) => {
    pushWindow(win);
    invalidate(`agg:${win.agg}`, 'roles');
  });
  on('dropped', ({ total }) => {
    rw.myDrops = total;
    invalidate('header');
  });
  on('problem', ({ text }) => {
    rw.problems.push({ at: Date.now(), text });
    if (rw.problems.length > 20) rw.problems.shift();
    invalidate('problems');
  });
}

// ---------------------------------------------------------------------------
// Views.

function render() {
  frameRequested = false;
  const what = dirty;
  dirty = new Set();
  if (what.has('banner')) renderBanner();
  if (what.has('header')) renderHeader();
  if (what.has('problems')) renderProblems();
  if (what.has('aggs')) renderAggList();
  if (what.has('roles')) renderRoles();
  if (what.has('percpu')) renderPerCpu();
  for (const w of what) if (w.startsWith('agg:')) renderAgg(w.slice(4));
  if (what.has('aggs')) for (const id of rw.aggs.keys()) renderAgg(id);
}

function renderBanner() {
  const b = $('banner');
  let text = '';
  let warn = false;
  if (!rw.connected) {
    text = 'The dashboard server does not answer; retrying…';
    warn = true;
  } else if (!rw.state.reachable) {
    text = `ringwatchd unreachable at ${rw.address}: ${rw.state.error}. Reconnecting by itself…`;
  }
  b.textContent = text;
  b.classList.toggle('hidden', !text);
  b.classList.toggle('warn', warn);
  b.dataset.state = !rw.connected ? 'server-down' : rw.state.reachable ? 'ok' : 'daemon-unreachable';
  document.body.classList.toggle('unreachable', Boolean(text));
}

function renderProblems() {
  const box = $('problems');
  // The last minute's only: the banner covers an unreachable daemon.
  const recent = rw.problems.filter((p) => Date.now() - p.at < 60000);
  const last = recent[recent.length - 1];
  box.textContent = last ? `${recent.length > 1 ? `${recent.length} problems in the last minute; latest: ` : ''}${last.text}` : '';
  box.classList.toggle('hidden', !last);
}

function setLoss(id, value) {
  const dd = $(id);
  dd.textContent = fmtCount(value);
  dd.parentElement.classList.toggle('bad', value > 0);
}

function renderHeader() {
  const s = rw.status;
  $('host').textContent = s?.hostname || rw.host || '-';
  if (!s) return;
  $('kernel').textContent = s.kernel || '-';
  $('uptime').textContent = fmtDuration(s.uptime);
  const modes = {};
  for (const c of s.cpus) modes[c.mode] = (modes[c.mode] || 0) + 1;
  $('readers').textContent = Object.entries(modes)
    .map(([m, n]) => `${n} CPU${n === 1 ? '' : 's'} ${m}`)
    .join(', ') || '-';
  $('readers').title = s.cpus.map((c) => `cpu${c.cpu}: ${c.mode}`).join('\n');
  $('eps').textContent = fmtCount(Math.round(s.eps));
  $('daemon-cpu').textContent = `${s.daemonCpu.toFixed(1)}%`;
  setLoss('loss-overrun', s.loss.overrun);
  setLoss('loss-missed', s.loss.missed);
  setLoss('loss-late', s.loss.late);
  setLoss('loss-dropped', s.loss.dropped);
  setLoss('loss-decode', s.loss.decode);
  $('stream-drops').textContent = fmtCount(s.loss.streams);
  setLoss('my-drops', rw.myDrops);
}

function roleAgg(role) {
  for (const a of rw.aggs.values()) if (a.role === role) return a;
  return null;
}

function latest(id) {
  const h = rw.history.get(id);
  return h && h.length ? h[h.length - 1] : null;
}

// x positions: seconds before the newest window of the list.
function ages(wins) {
  const newest = wins.length ? wins[wins.length - 1].end : 0;
  return wins.map((w) => (w.end - newest) / 1e9);
}

function valueIndex(win, prefix) {
  const i = win.values.findIndex((n) => n.startsWith(prefix));
  return i >= 0 ? i : win.values.findIndex((n) => n !== 'count' && !n.startsWith('histogram'));
}

function renderRoles() {
  renderCpuTime();
  renderSyscalls();
  renderLatency();
}

function renderCpuTime() {
  const agg = roleAgg('cpu_time');
  $('cpu-agg').textContent = agg ? `${agg.id}, ${agg.window || 'cumulative'} windows` : '(no cpu_time aggregation)';
  const bars = $('cpu-bars');
  const win = agg && latest(agg.id);
  if (!win) {
    bars.replaceChildren(el('div', { class: 'empty', text: agg ? 'waiting for the first window…' : '' }));
    return;
  }
  const vi = valueIndex(win, 'sum(on_cpu)');
  const span = Math.max(1, win.end - win.start);
  const rows = win.rows.filter((r) => r.kind === 'KEY').sort((a, b) => (b.v[vi] || 0) - (a.v[vi] || 0));
  const top = rows.slice(0, 10);
  const pidAt = win.keys.indexOf('pid');
  const commAt = win.keys.indexOf('comm');
  bars.dataset.windowEnd = String(win.end);
  bars.replaceChildren(
    ...top.flatMap((r) => {
      const ns = r.v[vi] || 0;
      const comm = commAt >= 0 ? r.k[commAt] : r.k.join(',');
      const pid = pidAt >= 0 ? r.k[pidAt] : '';
      const pct = (100 * ns) / span;
      return [
        el('div', { class: 'bar-label', text: pid ? `${comm} (${pid})` : comm, title: r.k.join(', ') }),
        el('div', { class: 'bar-track' }, el('div', { class: 'bar-fill', style: `width:${Math.min(100, pct).toFixed(1)}%` })),
        el('div', { class: 'bar-value', text: `${fmtNs(ns)} ${pct.toFixed(0)}%`, 'data-comm': comm, 'data-pid': pid, 'data-ns': String(ns), 'data-switches': String(r.c) }),
      ];
    }),
  );
  // History: on-CPU time per window of the tasks that were busiest over it.
  const wins = rw.history.get(agg.id);
  const totals = new Map();
  const label = (r) => (pidAt >= 0 && commAt >= 0 ? `${r.k[commAt]} (${r.k[pidAt]})` : r.k.join(','));
  for (const w of wins) for (const r of w.rows) if (r.kind === 'KEY') totals.set(label(r), (totals.get(label(r)) || 0) + (r.v[vi] || 0));
  const names = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([n]) => n).sort();
  const series = names.map((n) => wins.map((w) => {
    const r = w.rows.find((row) => row.kind === 'KEY' && label(row) === n);
    return r ? r.v[vi] || 0 : 0;
  }));
  charts.cpu ??= new LineChart($('cpu-chart'), { yLabel: 'on CPU per window', yFormat: fmtNs });
  charts.cpu.update(names, [ages(wins), ...series]);
}

function syscallLabel(r, at) {
  const text = r.k[at];
  const raw = r.raw[at];
  return text !== String(raw) ? `${text} (${raw})` : text;
}

function renderSyscalls() {
  const agg = roleAgg('syscalls');
  $('syscall-agg').textContent = agg ? `${agg.id}, ${agg.window || 'cumulative'} windows` : '(no raw_syscalls aggregation)';
  const body = $('syscall-table').tBodies[0];
  const win = agg && latest(agg.id);
  if (!win) {
    body.replaceChildren();
    return;
  }
  const idAt = win.keys.indexOf('id');
  const commAt = win.keys.indexOf('comm');
  $('syscall-table').dataset.windowEnd = String(win.end);
  body.replaceChildren(
    ...win.rows.slice(0, 20).map((r) => {
      const key = r.kind !== 'KEY';
      return el(
        'tr',
        { class: key ? 'other' : '', 'data-nr': key ? '' : String(r.raw[idAt]), 'data-comm': key || commAt < 0 ? '' : r.k[commAt], 'data-count': String(r.c) },
        el('td', { text: key ? r.k[0] : syscallLabel(r, idAt) }),
        el('td', { text: key || commAt < 0 ? '' : r.k[commAt] }),
        el('td', { class: 'num', text: fmtCount(r.c) }),
      );
    }),
  );
  const wins = rw.history.get(agg.id);
  charts.syscalls ??= new LineChart($('syscall-chart'), { height: 140, yLabel: 'calls per window' });
  charts.syscalls.update(['all syscalls'], [ages(wins), wins.map((w) => w.rows.reduce((s, r) => s + r.c, 0))]);
}

function renderLatency() {
  const agg = roleAgg('latency');
  $('latency-agg').textContent = agg ? `${agg.id}: ${agg.event}, whole window (every key)` : '(no latency aggregation)';
  if (!agg) return;
  const wins = (rw.history.get(agg.id) || []).filter((w) => w.hist);
  const now = wins[wins.length - 1];
  $('latency-now').textContent = now
    ? `latest window: p50 ${fmtNs(now.hist.p50)}, p90 ${fmtNs(now.hist.p90)}, p99 ${fmtNs(now.hist.p99)}, max ${fmtNs(now.hist.max)} over ${fmtCount(now.hist.count)} wakeups`
    : 'waiting for the first window…';
  charts.latency ??= new LineChart($('latency-chart'), { yLabel: 'latency', yFormat: fmtNs, log: true });
  const pos = (v) => (v > 0 ? v : null);
  charts.latency.update(['p50', 'p90', 'p99'], [ages(wins), wins.map((w) => pos(w.hist.p50)), wins.map((w) => pos(w.hist.p90)), wins.map((w) => pos(w.hist.p99))]);
}

function renderPerCpu() {
  const hist = rw.statusHistory;
  if (!hist.length) return;
  const cpus = [...new Set(hist.flatMap((h) => h.cpus.map((c) => c.cpu)))].sort((a, b) => a - b);
  const newest = hist[hist.length - 1].at;
  const data = [hist.map((h) => (h.at - newest) / 1000)];
  for (const cpu of cpus) data.push(hist.map((h) => h.cpus.find((c) => c.cpu === cpu)?.eps ?? null));
  charts.percpu ??= new LineChart($('percpu-chart'), { yLabel: 'events/s' });
  charts.percpu.update(cpus.map((c) => `cpu${c}`), data);
}

// Generic panels: one per aggregation, created and removed with them.
const panels = new Map();

function renderAggList() {
  const box = $('aggs');
  for (const [id, p] of panels) {
    if (!rw.aggs.has(id)) {
      p.chart?.plot?.destroy();
      p.node.remove();
      panels.delete(id);
    }
  }
  for (const [id, a] of rw.aggs) {
    if (panels.has(id)) continue;
    const table = el('table', { class: 'rows' });
    const chartBox = el('div', { class: 'chart' });
    const node = el(
      'div',
      { class: 'agg', 'data-agg': id },
      el('div', {}, el('h3', { text: id }), el('div', { class: 'meta', text: `${a.description || ''} — ${a.source} ${a.event}, keys ${a.keys.join(', ') || '(none)'}, ${a.window ? `${a.window} windows` : 'cumulative'}` }), table),
      chartBox,
    );
    panels.set(id, { node, table, chartBox, chart: null });
  }
  const ordered = [...rw.aggs.keys()].sort();
  box.replaceChildren(...ordered.map((id) => panels.get(id).node));
  $('aggs-count').textContent = `${rw.aggs.size} live${rw.skipped.length ? `; not shown (cap): ${rw.skipped.join(', ')}` : ''}`;
}

function cellOf(v) {
  if (v == null) return '-';
  if (typeof v === 'object') return `p50 ${fmtNs(v.p50)} · p90 ${fmtNs(v.p90)} · p99 ${fmtNs(v.p99)} · max ${fmtNs(v.max)}`;
  return fmtCount(v);
}

function renderAgg(id) {
  const p = panels.get(id);
  if (!p) return;
  const wins = rw.history.get(id) || [];
  const win = wins[wins.length - 1];
  if (!win) {
    p.table.replaceChildren(el('caption', { class: 'empty', text: 'no window closed yet' }));
    return;
  }
  const head = el('tr', {}, ...win.keys.map((k) => el('th', { text: k })), el('th', { class: 'num', text: 'count' }), ...win.values.filter((n) => n !== 'count').map((n) => el('th', { class: 'num', text: n })));
  const valueAt = win.values.map((n, i) => [n, i]).filter(([n]) => n !== 'count').map(([, i]) => i);
  const rows = win.rows.slice(0, 15).map((r) =>
    el(
      'tr',
      { class: r.kind === 'KEY' ? '' : 'other' },
      ...(r.kind === 'KEY' ? r.k.map((k) => el('td', { text: k })) : [el('td', { text: r.k[0], colSpan: Math.max(1, win.keys.length) })]),
      el('td', { class: 'num', text: fmtCount(r.c) }),
      ...valueAt.map((i) => el('td', { class: 'num', text: cellOf(r.v[i]) })),
    ),
  );
  const more = win.rows.length > 15 ? [el('tr', {}, el('td', { class: 'empty', text: `${win.rows.length - 15} more rows`, colSpan: 9 }))] : [];
  p.table.replaceChildren(el('thead', {}, head), el('tbody', {}, ...rows, ...more));
  p.node.dataset.windowEnd = String(win.end);
  // Histograms: percentile lines of the whole window; otherwise events per
  // window.
  const xs = ages(wins);
  if (win.hist) {
    p.chart ??= new LineChart(p.chartBox, { height: 140, yFormat: fmtNs, log: true });
    const pos = (v) => (v > 0 ? v : null);
    p.chart.update(['p50', 'p90', 'p99'], [xs, wins.map((w) => pos(w.hist?.p50)), wins.map((w) => pos(w.hist?.p90)), wins.map((w) => pos(w.hist?.p99))]);
  } else {
    p.chart ??= new LineChart(p.chartBox, { height: 140 });
    p.chart.update(['count per window'], [xs, wins.map((w) => w.rows.reduce((s, r) => s + r.c, 0))]);
  }
}

// ---------------------------------------------------------------------------
// The event tail.

const TAIL_ROWS = 300;
let tailSource = null;
let tailPaused = false;

function openTail() {
  tailSource?.close();
  const events = $('tail-events').value.trim();
  const pids = $('tail-pids').value.trim();
  const q = new URLSearchParams({ events, pids });
  const status = $('tail-status');
  status.textContent = 'connecting…';
  status.classList.remove('bad');
  const es = new EventSource(`/tail?${q}`);
  tailSource = es;
  let dropped = 0;
  let shown = 0;
  es.addEventListener('tail_filter', () => {
    status.textContent = 'live';
    $('tail-table').tBodies[0].replaceChildren();
  });
  es.addEventListener('tail', (e) => {
    const batch = JSON.parse(e.data);
    dropped += batch.dropped;
    status.textContent = `live; ${fmtCount(shown + batch.events.length)} shown, ${fmtCount(dropped)} over the rate or dropped`;
    if (tailPaused) return;
    shown += batch.events.length;
    const body = $('tail-table').tBodies[0];
    const wrap = $('tail-wrap');
    const atBottom = wrap.scrollTop + wrap.clientHeight >= wrap.scrollHeight - 4;
    body.append(
      ...batch.events.map((ev) =>
        el('tr', {}, el('td', { class: 'num', text: (ev.t / 1e9).toFixed(6) }), el('td', { text: String(ev.cpu) }), el('td', { text: String(ev.pid) }), el('td', { text: ev.name }), el('td', { text: ev.f })),
      ),
    );
    while (body.rows.length > TAIL_ROWS) body.deleteRow(0);
    if (atBottom) wrap.scrollTop = wrap.scrollHeight;
  });
  es.addEventListener('tail_error', (e) => {
    const { error, fatal } = JSON.parse(e.data);
    status.textContent = error;
    status.classList.add('bad');
    if (fatal) es.close();
  });
  es.addEventListener('tail_state', (e) => {
    const { reachable } = JSON.parse(e.data);
    if (reachable) status.classList.remove('bad');
  });
}

$('tail-form').addEventListener('submit', (e) => {
  e.preventDefault();
  openTail();
});
$('tail-pause').addEventListener('click', () => {
  tailPaused = !tailPaused;
  $('tail-pause').textContent = tailPaused ? 'Resume' : 'Pause';
});

let resizeTimer = null;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => invalidate('roles', 'percpu', 'aggs'), 200);
});

connect();
openTail();
setInterval(() => invalidate('problems'), 10000);
renderBanner();
