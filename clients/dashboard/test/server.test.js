// The dashboard server against an in-process fake ringwatchd (a real grpc-js
// server on the same .proto): fan-out, a slow browser, reconnect, bad
// answers, the shared event tail.
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import net from 'node:net';
import grpc from '@grpc/grpc-js';
import { loadRingwatch } from '../src/proto.js';
import { Upstream } from '../src/upstream.js';
import { DashboardServer } from '../src/server.js';
import { FakeDaemon, eventually, makeAggInfo, makeWindow } from './fake_daemon.js';
import { SseClient } from './sse_client.js';

const { RingwatchService } = loadRingwatch();

function row(nr, comm, count) {
  return { kind: 'KEY', key: [{ kind: 'int_value', int_value: nr }, { kind: 'string_value', string_value: comm }], count, value: [{ kind: 'int_value', int_value: count }] };
}

async function setup({ address, fanoutOptions = {}, tailOptions = {}, aggs } = {}) {
  const daemon = address ? null : await new FakeDaemon().start();
  if (daemon && aggs) daemon.aggregations = aggs;
  const upstream = new Upstream({ address: address || daemon.address, RingwatchService, pollMs: 50, retryMs: 50, deadlineMs: 5000 });
  const server = new DashboardServer({ upstream, hostname: 'testhost', fanoutOptions: { heartbeatMs: 0, ...fanoutOptions }, tailOptions });
  await server.listen('127.0.0.1', 0);
  upstream.start();
  const clients = [];
  const browser = async (path = '/stream') => {
    const c = await new SseClient(server.url().replace(/\/$/, path)).opened;
    clients.push(c);
    return c;
  };
  const teardown = async () => {
    for (const c of clients) c.close();
    upstream.stop();
    await server.close();
    await daemon?.stop();
  };
  return { daemon, upstream, server, browser, teardown };
}

test('one Subscribe per aggregation however many browsers; every browser gets every window', async () => {
  const t = await setup({ aggs: [makeAggInfo('syscalls'), makeAggInfo('other')] });
  try {
    await eventually(() => t.daemon.subscribersOf('syscalls') === 1 && t.daemon.subscribersOf('other') === 1, 'both subscriptions');
    const browsers = [];
    for (let i = 0; i < 25; i++) browsers.push(await t.browser());
    await eventually(() => browsers.every((b) => b.counts.hello === 1), 'hello to every browser');
    for (let s = 1; s <= 10; s++) assert.equal(t.daemon.publish('syscalls', makeWindow('syscalls', s, [row(39, 'w', s)]), { sequence: s }), 1);
    await eventually(() => browsers.every((b) => (b.counts.window || 0) === 10), 'ten windows in every browser');
    for (const b of browsers) assert.deepEqual(b.of('window').map((w) => w.rows[0].c), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // 25 browsers, still one stream each upstream, and no further Subscribe.
    assert.equal(t.daemon.streams.size, 2);
    assert.equal(t.daemon.calls.Subscribe, 2);
    // A new browser starts with the history.
    const late = await t.browser();
    await eventually(() => late.counts.hello === 1, 'hello to the late browser');
    assert.deepEqual(late.of('hello')[0].history.syscalls.map((w) => w.end), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((s) => s * 1e9));
    assert.equal(late.of('hello')[0].host, 'testhost');
  } finally {
    await t.teardown();
  }
});

test('aggregations created and deleted at run time appear and go, with their streams', async () => {
  const t = await setup();
  try {
    const b = await t.browser();
    await eventually(() => t.daemon.subscribersOf('syscalls') === 1 && b.counts.hello, 'the first aggregation');
    t.daemon.aggregations = [makeAggInfo('syscalls'), makeAggInfo('made_at_run_time', { event: 'sched/sched_switch', key: ['prev_comm'] })];
    await eventually(() => b.of('aggs').some((m) => m.aggs.some((a) => a.id === 'made_at_run_time')), 'the new aggregation at the browser');
    await eventually(() => t.daemon.subscribersOf('made_at_run_time') === 1, 'its stream');
    // As ringwatchd does: the stream ends NOT_FOUND, the list loses it.
    for (const st of t.daemon.streams) if (st.names.includes('made_at_run_time')) st.call.emit('error', { code: grpc.status.NOT_FOUND, details: "aggregation 'made_at_run_time' not found" });
    t.daemon.aggregations = [makeAggInfo('syscalls')];
    await eventually(() => {
      const last = b.of('aggs').at(-1);
      return last && last.aggs.map((a) => a.id).join() === 'syscalls';
    }, 'the deleted aggregation gone from the browser');
    await eventually(() => t.daemon.subscribersOf('made_at_run_time') === 0, 'its stream cancelled');
    assert.deepEqual(b.of('problem'), [], 'a deletion is not a problem');
    assert.equal(t.daemon.subscribersOf('syscalls'), 1);
  } finally {
    await t.teardown();
  }
});

test('a browser that stops reading is skipped and told how many it missed; the others get everything', async () => {
  const t = await setup({ fanoutOptions: { highWaterBytes: 64 * 1024, stallMs: 60000 } });
  try {
    await eventually(() => t.daemon.subscribersOf('syscalls') === 1, 'subscription');
    const fast = await t.browser();
    const slow = await t.browser();
    await eventually(() => fast.counts.hello && slow.counts.hello, 'hellos');
    slow.pause();
    // Big windows (about 100 KB of JSON each) until the slow one is skipped.
    const rows = [];
    for (let i = 0; i < 1200; i++) rows.push(row(i, `task-${i}-xxxxxxxxxxxxxxxx`, i));
    let published = 0;
    const slowClient = () => [...t.server.fanout.clients].find((c) => c.dropped > 0);
    while (!slowClient() && published < 2000) {
      published++;
      t.daemon.publish('syscalls', makeWindow('syscalls', published, rows));
      await eventually(() => (fast.counts.window || 0) === published, `window ${published} at the fast browser`);
    }
    const skipped = slowClient();
    assert.ok(skipped, `the slow browser was never skipped in ${published} windows`);
    // Three more windows while it is still stalled: all skipped for it.
    for (let i = 0; i < 3; i++) {
      published++;
      t.daemon.publish('syscalls', makeWindow('syscalls', published, rows));
    }
    await eventually(() => fast.counts.window === published, 'the fast browser has every window');
    slow.resume();
    // Once its socket drains it is told what it missed, then gets windows.
    await eventually(() => slow.counts.dropped, 'the dropped notice');
    published++;
    t.daemon.publish('syscalls', makeWindow('syscalls', published, [row(1, 'small', 1)]));
    await eventually(() => slow.of('window').some((w) => w.end === published * 1e9), 'the slow browser back in the fan-out');
    const notices = slow.of('dropped');
    const missedWindows = notices.reduce((s, n) => s + (n.byEvent.window || 0), 0);
    // At least the three published while it was stalled.
    assert.ok(missedWindows >= 3, `missed ${missedWindows} windows`);
    // Every window either reached it or was counted as missed.
    assert.equal(slow.counts.window + missedWindows, published);
    assert.equal(notices[notices.length - 1].total, skipped.dropped);
    assert.equal(fast.counts.dropped || 0, 0);
  } finally {
    await t.teardown();
  }
});

test('a browser stalled past stallMs is disconnected', async () => {
  const t = await setup({ fanoutOptions: { highWaterBytes: 1024, stallMs: 1 } });
  try {
    await eventually(() => t.daemon.subscribersOf('syscalls') === 1, 'subscription');
    const slow = await t.browser();
    await eventually(() => slow.counts.hello, 'hello');
    slow.pause();
    const rows = [];
    for (let i = 0; i < 2000; i++) rows.push(row(i, `task-${i}-xxxxxxxxxxxxxxxx`, i));
    let n = 0;
    while (t.server.fanout.size > 0 && n < 2000) {
      n++;
      t.daemon.publish('syscalls', makeWindow('syscalls', n, rows));
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(t.server.fanout.size, 0);
    assert.equal(t.server.fanout.stats.disconnectedSlow, 1);
  } finally {
    await t.teardown();
  }
});

test('daemon gone: browsers see it unreachable; daemon back: streams reopen, no browser reconnects', async () => {
  const t = await setup();
  try {
    await eventually(() => t.daemon.subscribersOf('syscalls') === 1, 'subscription');
    const b = await t.browser();
    await eventually(() => b.counts.hello, 'hello');
    t.daemon.publish('syscalls', makeWindow('syscalls', 1, [row(1, 'a', 1)]));
    await eventually(() => b.counts.window === 1, 'first window');
    await t.daemon.kill();
    const down = await eventually(() => b.of('state').find((s) => !s.reachable), 'unreachable state');
    // UNAVAILABLE, or CANCELLED for a poll in flight when it died.
    assert.match(down.error, /^(UNAVAILABLE|CANCELLED|DEADLINE_EXCEEDED): ./);
    // The same socket path, a new daemon.
    const again = new FakeDaemon();
    again.socket = t.daemon.socket;
    await again.start();
    try {
      await eventually(() => b.of('state').some((s, i, all) => s.reachable && i > all.indexOf(down)), 'reachable again');
      await eventually(() => again.subscribersOf('syscalls') === 1, 'resubscribed');
      again.publish('syscalls', makeWindow('syscalls', 2, [row(1, 'a', 2)]));
      await eventually(() => b.counts.window === 2, 'a window from the new daemon');
      assert.equal(b.counts.hello, 1, 'the browser stream was never reopened');
      assert.equal(b.closed, false);
    } finally {
      await again.stop();
    }
  } finally {
    await t.teardown();
  }
});

test('bad daemon answers are reported, never fatal', async () => {
  const t = await setup({ aggs: [makeAggInfo('syscalls'), { name: '', spec: {} }] });
  try {
    const b = await t.browser();
    await eventually(() => t.daemon.subscribersOf('syscalls') === 1, 'subscription');
    await eventually(() => b.of('problem').some((p) => /without a name/.test(p.text)), 'a problem about the nameless aggregation');
    // A window of another aggregation on this stream, and one with no result.
    t.daemon.publish('syscalls', makeWindow('intruder', 1, []));
    t.daemon.publish('syscalls', {});
    t.daemon.publish('syscalls', makeWindow('syscalls', 2, [row(1, 'ok', 5)]));
    await eventually(() => b.counts.window === 1, 'the good window');
    assert.equal(b.of('window')[0].agg, 'syscalls');
    const texts = b.of('problem').map((p) => p.text).join('\n');
    assert.match(texts, /sent a window of 'intruder'/);
    assert.match(texts, /without an aggregation name/);
    // GetStatus failing with an error: unreachable, with the daemon's words.
    t.daemon.onGetStatus = (call, cb) => (cb({ code: grpc.status.INTERNAL, details: 'status exploded' }), true);
    const s = await eventually(() => b.of('state').find((x) => !x.reachable), 'unreachable on INTERNAL');
    assert.match(s.error, /INTERNAL: status exploded/);
    t.daemon.onGetStatus = null;
    await eventually(() => b.of('state').some((x) => x.reachable), 'reachable again');
    // ListAggregations answering nothing usable.
    t.daemon.onListAggregations = (call, cb) => (cb(null, {}), true);
    const before = t.upstream.counters.badMessages;
    await eventually(() => t.upstream.counters.badMessages > before || t.upstream.aggs.size === 0, 'the empty list handled');
    // A Subscribe refused with NOT_FOUND is reported.
    t.daemon.onListAggregations = null;
    t.daemon.aggregations = [makeAggInfo('gone')];
    t.daemon.subscribeError = { code: grpc.status.NOT_FOUND, details: "aggregation 'gone' not found" };
    await eventually(() => b.of('problem').some((p) => /gone is listed but Subscribe says it is not found/.test(p.text)), 'NOT_FOUND of a listed aggregation reported');
  } finally {
    await t.teardown();
  }
});

test('a socket that does not speak gRPC leaves the dashboard up and saying why', async () => {
  const dir = fs.mkdtempSync('/tmp/rwdash-bad-');
  const sock = `${dir}/bad.sock`;
  const junk = net.createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\nnot grpc'));
  await new Promise((r) => junk.listen(sock, r));
  const t = await setup({ address: `unix://${sock}` });
  try {
    const b = await t.browser();
    const hello = await eventually(() => b.of('hello')[0], 'hello');
    assert.equal(hello.state.reachable, false);
    const s = await eventually(() => b.of('state').find((x) => !x.reachable && x.error !== 'connecting') || (hello.state.error !== 'connecting' && hello.state), 'an error');
    assert.ok(s.error.length > 0);
    const res = await new Promise((resolve) => http.get(t.server.url() + 'healthz', resolve));
    assert.equal(res.statusCode, 200);
  } finally {
    await t.teardown();
    junk.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('event tail: one StreamEvents per distinct filter, shared, sorted, closed with the last browser', async () => {
  // A long flush interval: the three events land in one batch.
  const t = await setup({ tailOptions: { flushMs: 1000 } });
  try {
    await eventually(() => t.upstream.state.reachable, 'reachable');
    const a = await t.browser('/tail?events=sched/*&pids=7');
    const b = await t.browser('/tail?pids=7&events=sched/*');
    await eventually(() => a.counts.tail_filter && b.counts.tail_filter, 'tail filters');
    await eventually(() => t.daemon.eventStreams.size === 1, 'one StreamEvents');
    const [stream] = t.daemon.eventStreams;
    assert.deepEqual(stream.request.events, ['sched/*']);
    assert.deepEqual(stream.request.pids, [7]);
    for (const ts of [30, 10, 20]) stream.call.write({ event: { name: 'events/sched/sched_switch', cpu: 0, timestamp_ns: ts, pid: 7, fields: [] }, dropped_before: ts === 20 ? 4 : 0 });
    await eventually(() => a.of('tail').flatMap((x) => x.events).length === 3 && b.of('tail').flatMap((x) => x.events).length === 3, 'three events each');
    // Sorted within each batch (a batch is what arrived in one flush).
    for (const batch of a.of('tail')) {
      const ts = batch.events.map((e) => e.t);
      assert.deepEqual(ts, [...ts].sort((x, y) => x - y));
    }
    assert.deepEqual(a.of('tail').flatMap((x) => x.events).map((e) => e.t).sort(), [10, 20, 30]);
    assert.equal(a.of('tail').reduce((s, x) => s + x.dropped, 0), 4);
    const c = await t.browser('/tail?events=irq/*');
    await eventually(() => c.counts.tail_filter && t.daemon.eventStreams.size === 2, 'a second filter, a second stream');
    a.close();
    b.close();
    c.close();
    await eventually(() => t.daemon.eventStreams.size === 0, 'every StreamEvents cancelled');
    const bad = await t.browser('/tail?events=$bad');
    await eventually(() => bad.of('tail_error')[0], 'an error');
    assert.match(bad.of('tail_error')[0].error, /event glob '\$bad'/);
  } finally {
    await t.teardown();
  }
});

test('only loopback host names are served on a loopback listener', async () => {
  const t = await setup();
  try {
    const get = (host) =>
      new Promise((resolve, reject) => {
        const u = new URL(t.server.url());
        http.get({ host: '127.0.0.1', port: u.port, path: '/', headers: { Host: host } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on('error', reject);
      });
    assert.equal(await get('evil.example:80'), 403);
    assert.equal(await get(`localhost:${new URL(t.server.url()).port}`), 200);
    assert.equal(await get('127.0.0.1'), 200);
  } finally {
    await t.teardown();
  }
});
