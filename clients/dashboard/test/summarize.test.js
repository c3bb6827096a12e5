import test from 'node:test';
import assert from 'node:assert/strict';
import { keyText, mergeHistograms, percentile, summarizeAggregation, summarizeResult, summarizeStatus } from '../src/summarize.js';
import { parseTailFilter, summarizeEvent } from '../src/tail.js';
import { grpcTarget } from '../src/upstream.js';
import { parseListen } from '../src/server.js';

test('a key shows the display string the daemon puts beside the number, else the number', () => {
  assert.equal(keyText({ kind: 'int_value', int_value: 39, string_value: '' }), '39');
  assert.equal(keyText({ kind: 'int_value', int_value: 39, string_value: '', display: 'getpid' }), 'getpid');
  assert.equal(keyText({ kind: 'string_value', string_value: 'bash', int_value: 0 }), 'bash');
  assert.equal(keyText(null), '');
});

test('percentiles of merged histograms are bucket upper bounds capped at the max', () => {
  const rows = [
    { v: [5, { p50: 0, p90: 0, p99: 0, max: 900, b: [[512, 1023, 10]] }] },
    { v: [5, { p50: 0, p90: 0, p99: 0, max: 100, b: [[64, 127, 90]] }] },
    { v: [0, null] },
  ];
  const h = mergeHistograms(rows, 1);
  assert.equal(h.count, 100);
  assert.deepEqual(h.b, [[64, 127, 90], [512, 1023, 10]]);
  assert.equal(h.p50, 127);
  assert.equal(h.p90, 127);
  assert.equal(h.p99, 900); // Bucket bound 1023, capped at the exact max.
  assert.equal(percentile([], 0, 0.5, 0), 0);
});

test('a window becomes compact rows; OTHER and OVERFLOW keep their kind', () => {
  const win = summarizeResult({
    name: 'aggregations/lat',
    key_names: ['comm'],
    value_names: ['count', 'histogram(latency)'],
    window_start_ns: 1e9,
    window_end_ns: 2e9,
    row: [
      { kind: 'KEY', key: [{ kind: 'string_value', string_value: 'a' }], count: 3, value: [{ kind: 'int_value', int_value: 3 }, { kind: 'histogram', histogram: { p50: 7, p90: 7, p99: 7, max: 6, bucket: [{ lower: 4, upper: 7, count: 3 }] } }] },
      { kind: 'OTHER', key: [], count: 1, value: [{ kind: 'int_value', int_value: 1 }, { kind: 'histogram', histogram: { max: 100, bucket: [{ lower: 64, upper: 127, count: 1 }] } }] },
    ],
  });
  assert.equal(win.agg, 'lat');
  assert.equal(win.end, 2e9);
  assert.deepEqual(win.rows[0].k, ['a']);
  assert.deepEqual(win.rows[1].k, ['(other)']);
  assert.equal(win.hist.count, 4);
  assert.equal(win.hist.p99, 100);
});

test('a message that is not a window is refused with a reason', () => {
  assert.throws(() => summarizeResult(undefined), /without an aggregation name/);
  assert.throws(() => summarizeResult({ name: '' }), /without an aggregation name/);
  // Junk inside a window is tolerated, not fatal.
  const win = summarizeResult({ name: 'x', row: [null, { kind: 'WEIRD', count: 'nope', value: [{}] }] });
  assert.equal(win.rows.length, 1);
  assert.equal(win.rows[0].c, 0);
  assert.deepEqual(win.rows[0].v, [null]);
});

test('roles follow the spec: cpu_time, latency, and raw_syscalls keyed by id', () => {
  assert.equal(summarizeAggregation({ name: 'aggregations/c', spec: { source: 'cpu_time', cpu_time: {} } }).role, 'cpu_time');
  assert.equal(summarizeAggregation({ name: 'aggregations/l', spec: { source: 'latency', latency: { start: { event: 'a/b' }, end: { event: 'c/d' } } } }).event, 'a/b -> c/d');
  assert.equal(summarizeAggregation({ name: 'aggregations/s', spec: { source: 'event', event: 'raw_syscalls/sys_enter', key: ['id'] } }).role, 'syscalls');
  assert.equal(summarizeAggregation({ name: 'aggregations/s', spec: { source: 'event', event: 'raw_syscalls/sys_enter', key: ['comm'] } }).role, null);
});

test('status: loss by cause sums the aggregations; reader modes are named', () => {
  const s = summarizeStatus({
    cpus: [{ cpu: 0, mode: 'READ_MODE_MMAP' }, { cpu: 1, mode: 'READ_MODE_READ' }],
    totals: { overruns: 2, lost_events: 5, events_per_second: 10 },
    aggregations: [{ counters: { late_events: 1, events_dropped: 4 } }, { counters: { late_events: 2 } }],
    server: { dropped_messages: 7 },
  });
  assert.deepEqual(s.cpus.map((c) => c.mode), ['mmap', 'read']);
  assert.deepEqual(s.loss, { overrun: 2, missed: 5, late: 3, dropped: 4, decode: 0, streams: 7 });
  assert.equal(summarizeStatus(undefined).cpus.length, 0);
});

test('tail filters are checked and normalised', () => {
  assert.deepEqual(parseTailFilter('sched/*, irq/*', '12 3'), { events: ['irq/*', 'sched/*'], pids: [3, 12] });
  assert.deepEqual(parseTailFilter('', ''), { events: [], pids: [] });
  assert.throws(() => parseTailFilter('sched/$(x)', ''), /event glob 'sched\/\$\(x\)'/);
  assert.throws(() => parseTailFilter('', '12,abc'), /pid 'abc'/);
  assert.throws(() => parseTailFilter('', '99999999999'), /pid '99999999999'/);
  const e = summarizeEvent({ name: 'events/sched/sched_switch', cpu: 1, timestamp_ns: 5, pid: 9, fields: [{ name: 'prev_comm', value: 'string_value', string_value: 'a' }, { name: 'x', value: 'int_value', int_value: -1 }] });
  assert.deepEqual(e, { t: 5, cpu: 1, pid: 9, name: 'sched/sched_switch', f: 'prev_comm=a x=-1' });
});

test('addresses: daemon targets and listen addresses', () => {
  assert.equal(grpcTarget('/run/x.sock'), 'unix:///run/x.sock');
  assert.equal(grpcTarget('unix:///run/x.sock'), 'unix:///run/x.sock');
  assert.equal(grpcTarget('127.0.0.1:7878'), '127.0.0.1:7878');
  assert.throws(() => grpcTarget(''), /empty daemon address/);
  assert.deepEqual(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseListen('[::1]:80'), { host: '::1', port: 80 });
  assert.deepEqual(parseListen(':9'), { host: '127.0.0.1', port: 9 });
  assert.throws(() => parseListen('nonsense'), /want HOST:PORT/);
  assert.throws(() => parseListen('h:70000'), /want HOST:PORT/);
});
