// Turns the daemon's messages into the compact JSON the page draws. Done once
// per window on the server, never per browser.

// The text of one key value. A string field beside the value (the display
// name the daemon may add, e.g. a syscall's name beside its number) wins;
// otherwise the value itself.
export function keyText(kv) {
  if (!kv || typeof kv !== 'object') return '';
  for (const [field, value] of Object.entries(kv)) {
    if (field === 'kind' || field === 'int_value' || field === 'string_value') continue;
    if (typeof value === 'string' && value !== '') return value;
  }
  if (kv.kind === 'string_value') return String(kv.string_value ?? '');
  if (kv.kind === 'int_value') return String(kv.int_value ?? 0);
  return '';
}

// The raw value of a key (number or string), for tests and sorting.
export function keyRaw(kv) {
  if (!kv || typeof kv !== 'object') return null;
  if (kv.kind === 'string_value') return String(kv.string_value ?? '');
  if (kv.kind === 'int_value') return Number(kv.int_value ?? 0);
  return null;
}

function num(x) {
  const n = Number(x);
  return Number.isFinite(n) ? n : 0;
}

// Buckets as [lower, upper, count] with INT64 bounds clamped to Numbers.
function buckets(hist) {
  const out = [];
  for (const b of Array.isArray(hist?.bucket) ? hist.bucket : []) {
    const count = num(b?.count);
    if (count > 0) out.push([num(b.lower), num(b.upper), count]);
  }
  return out;
}

function valueOf(v) {
  if (!v || typeof v !== 'object') return null;
  switch (v.kind) {
    case 'int_value':
      return num(v.int_value);
    case 'double_value':
      return num(v.double_value);
    case 'histogram': {
      const h = v.histogram || {};
      return { p50: num(h.p50), p90: num(h.p90), p99: num(h.p99), max: num(h.max), b: buckets(h) };
    }
    default:
      return null;
  }
}

// Percentile q (0..1) of merged buckets, as the daemon computes it: the upper
// bound of the bucket holding the rank, capped at the exact maximum.
export function percentile(mergedBuckets, total, q, max) {
  if (total <= 0) return 0;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [, upper, count] of mergedBuckets) {
    seen += count;
    if (seen >= rank) return Math.min(upper, max);
  }
  return max;
}

// Sums the histograms of every row (OTHER and OVERFLOW included) of the value
// at `index` into one distribution: the whole window, not one key.
export function mergeHistograms(rows, index) {
  const byBounds = new Map();
  let max = 0;
  let any = false;
  for (const row of rows) {
    const h = row.v[index];
    if (!h || typeof h !== 'object') continue;
    any = true;
    max = Math.max(max, h.max);
    for (const [lower, upper, count] of h.b) {
      const key = `${lower}:${upper}`;
      const entry = byBounds.get(key);
      if (entry) entry[2] += count;
      else byBounds.set(key, [lower, upper, count]);
    }
  }
  if (!any) return null;
  const merged = [...byBounds.values()].sort((a, b) => a[0] - b[0]);
  const total = merged.reduce((s, b) => s + b[2], 0);
  return {
    count: total,
    p50: percentile(merged, total, 0.5, max),
    p90: percentile(merged, total, 0.9, max),
    p99: percentile(merged, total, 0.99, max),
    max,
    b: merged,
  };
}

const ROW_KINDS = new Set(['KEY', 'OTHER', 'OVERFLOW']);

// A compact window: {agg, start, end, keys, values, rows, distinct,
// counters, hist}. Throws TypeError on a message that is not a result.
export function summarizeResult(result) {
  if (!result || typeof result !== 'object' || typeof result.name !== 'string' || result.name === '') {
    throw new TypeError('window without an aggregation name');
  }
  const rows = [];
  for (const row of Array.isArray(result.row) ? result.row : []) {
    if (!row || typeof row !== 'object') continue;
    const kind = ROW_KINDS.has(row.kind) ? row.kind : 'KEY';
    const keys = Array.isArray(row.key) ? row.key : [];
    rows.push({
      kind,
      k: kind === 'KEY' ? keys.map(keyText) : [kind === 'OTHER' ? '(other)' : '(overflow)'],
      raw: kind === 'KEY' ? keys.map(keyRaw) : [],
      c: num(row.count),
      v: (Array.isArray(row.value) ? row.value : []).map(valueOf),
    });
  }
  const valueNames = Array.isArray(result.value_names) ? result.value_names.map(String) : [];
  let hist = null;
  const histIndex = rows.length ? rows[0].v.findIndex((v) => v && typeof v === 'object') : -1;
  if (histIndex >= 0) hist = mergeHistograms(rows, histIndex);
  const counters = {};
  for (const [name, value] of Object.entries(result.counters || {})) counters[name] = num(value);
  return {
    agg: shortName(result.name),
    start: num(result.window_start_ns),
    end: num(result.window_end_ns),
    keys: Array.isArray(result.key_names) ? result.key_names.map(String) : [],
    values: valueNames,
    rows,
    distinct: num(result.distinct_keys),
    counters,
    hist,
  };
}

// "aggregations/cpu_time" -> "cpu_time".
export function shortName(name) {
  const s = String(name || '');
  return s.startsWith('aggregations/') ? s.slice('aggregations/'.length) : s;
}

// What the page needs of an AggregationInfo: name, description, kind of
// source, keys, window, and which dashboard view suits it.
export function summarizeAggregation(info) {
  const spec = info?.spec || {};
  const id = shortName(info?.name || spec.name);
  let source = 'event';
  let event = '';
  if (spec.source === 'latency') {
    source = 'latency';
    event = `${spec.latency?.start?.event || '?'} -> ${spec.latency?.end?.event || '?'}`;
  } else if (spec.source === 'cpu_time') {
    source = 'cpu_time';
    event = 'sched/sched_switch';
  } else {
    event = String(spec.event || '');
  }
  const keys = Array.isArray(spec.key) ? spec.key.map(String) : [];
  let role = null;
  if (source === 'cpu_time') role = 'cpu_time';
  else if (source === 'latency') role = 'latency';
  else if (/^raw_syscalls\/sys_enter$/.test(event) && keys.includes('id')) role = 'syscalls';
  return {
    id,
    description: String(spec.description || ''),
    source,
    event,
    keys,
    window: String(spec.window || ''),
    origin: String(info?.origin || ''),
    created: info?.create_time ? num(info.create_time.seconds) : 0,
    role,
  };
}

// The header's figures from a DaemonStatus.
export function summarizeStatus(status) {
  const s = status || {};
  const cpus = (Array.isArray(s.cpus) ? s.cpus : []).map((c) => ({
    cpu: num(c.cpu),
    mode: c.mode === 'READ_MODE_MMAP' ? 'mmap' : c.mode === 'READ_MODE_READ' ? 'read' : '?',
    eps: num(c.events_per_second),
    events: num(c.events),
    lost: num(c.lost_events),
    overruns: num(c.overruns),
  }));
  let late = 0;
  let dropped = 0;
  for (const a of Array.isArray(s.aggregations) ? s.aggregations : []) {
    late += num(a?.counters?.late_events);
    dropped += num(a?.counters?.events_dropped);
  }
  const t = s.totals || {};
  return {
    version: String(s.version || ''),
    kernel: String(s.kernel_release || ''),
    instance: String(s.instance || ''),
    hostname: String(s.hostname || s.host || ''),
    uptime: num(s.uptime?.seconds) + num(s.uptime?.nanos) / 1e9,
    cpus,
    eps: num(t.events_per_second),
    events: num(t.events),
    loss: {
      overrun: num(t.overruns),
      missed: num(t.lost_events),
      late,
      dropped,
      decode: num(t.decode_errors),
      streams: num(s.server?.dropped_messages),
    },
    daemonCpu: num(s.process?.cpu_percent),
    rss: num(s.process?.rss_bytes),
    subscribers: num(s.server?.subscribers),
  };
}
