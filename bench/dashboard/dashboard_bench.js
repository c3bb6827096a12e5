// Whole-process figures of ringwatch-dashboard against a live ringwatchd
// (run by bench/dashboard/dashboard_bench.sh, which builds the daemon and
// cleans up):
//   1. ringwatchd's CPU with 1 and with N simulated browsers (SSE clients),
//      alternating phases so drift shows as noise, not as a difference;
//   2. the dashboard's CPU per update per browser (its CPU difference
//      between the phases over the difference in messages written);
//   3. latency from the end of a window to its arrival, at a direct gRPC
//      subscriber and at a browser of the dashboard (trace clock "mono" is
//      CLOCK_MONOTONIC, the clock of process.hrtime here), p50/p99, and the
//      part the dashboard adds (same window, browser minus direct).
//
//   node dashboard_bench.js [--seconds S] [--browsers N] [--rounds R]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { grpc, loadRingwatch } from '../../clients/dashboard/src/proto.js';
import { SseClient } from '../../clients/dashboard/test/sse_client.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const { values: opt } = parseArgs({
  options: { seconds: { type: 'string', default: '15' }, browsers: { type: 'string', default: '100' }, rounds: { type: 'string', default: '2' } },
});
const SECONDS = Number(opt.seconds);
const BROWSERS = Number(opt.browsers);
const ROUNDS = Number(opt.rounds);
const dir = process.env.RW_SHORT_DIR;
const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const monoNs = () => Number(process.hrtime.bigint());

function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop().trim().split(/\s+/);
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux.
}

function startAndWait(cmd, args, re, instance = '-') {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  fs.appendFileSync(process.env.RW_PIDS_FILE, `${child.pid} ${instance}\n`);
  let text = '';
  return new Promise((resolve, reject) => {
    const feed = (c) => {
      text += c;
      const m = re.exec(text);
      if (m) resolve({ child, match: m });
    };
    child.stdout.on('data', feed);
    child.stderr.on('data', feed);
    child.on('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${text}`)));
  });
}

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
const ms = (ns) => (ns / 1e6).toFixed(1);

async function main() {
  const instance = `${process.env.RW_INSTANCE_PREFIX}_1`;
  const socket = path.join(dir, 'rw.sock');
  const config = path.join(dir, 'ringwatch.textproto');
  const defaults = fs.readFileSync(path.join(repo, 'config/ringwatch.textproto'), 'utf8');
  fs.writeFileSync(config, `instance: "${instance}"\nlisten { unix_socket: "${socket}" }\n${defaults.slice(defaults.indexOf('aggregation {'))}`);
  const { child: daemon } = await startAndWait(process.env.RINGWATCHD, ['--config', config, '--pid_file', path.join(dir, 'pid')], /listening on unix:/, instance);
  const { child: dash, match } = await startAndWait(process.execPath, [path.join(repo, 'clients/dashboard/bin/ringwatch-dashboard.js'), '--daemon', `unix://${socket}`, '--listen', '127.0.0.1:0'], /serving (http:\/\/\S+)/);
  const url = match[1];
  const state = async () => JSON.parse(await (await fetch(`${url}api/state`)).text());

  // A direct subscriber: when each window reaches a plain gRPC client.
  const { RingwatchService } = loadRingwatch();
  const api = new RingwatchService(`unix://${socket}`, grpc.credentials.createInsecure());
  const direct = new Map(); // "agg end" -> arrival (mono ns)
  const sub = api.Subscribe({ names: ['cpu_time', 'syscall_counts', 'wakeup_latency'] });
  sub.on('data', (m) => direct.set(`${m.result.name.replace('aggregations/', '')} ${Number(m.result.window_end_ns)}`, monoNs()));
  sub.on('error', () => {});

  // Wait for windows to flow.
  for (let i = 0; i < 100 && (await state()).server.upstream.windows < 3; i++) await sleep(100);

  const browserLatency = []; // ns, window end -> browser
  const added = []; // ns, browser arrival - direct arrival
  const phase = async (n, measureLatency) => {
    const clients = [];
    for (let i = 0; i < n; i++) {
      const watch = measureLatency && i === 0;
      clients.push(
        new SseClient(`${url}stream`, {
          keep: false,
          parse: watch,
          onEvent: watch
            ? (event, data) => {
                if (event !== 'window') return;
                const now = monoNs();
                browserLatency.push(now - data.end);
                const d = direct.get(`${data.agg} ${data.end}`);
                if (d !== undefined) added.push(now - d);
              }
            : null,
        }),
      );
    }
    await Promise.all(clients.map((c) => c.opened));
    await sleep(1500); // Settle: hellos sent.
    const s0 = await state();
    const d0 = cpuSeconds(daemon.pid);
    const w0 = cpuSeconds(dash.pid);
    const t0 = Date.now();
    await sleep(SECONDS * 1000);
    const elapsed = (Date.now() - t0) / 1000;
    const d1 = cpuSeconds(daemon.pid);
    const w1 = cpuSeconds(dash.pid);
    const s1 = await state();
    clients.forEach((c) => c.close());
    await sleep(500);
    return {
      n,
      daemonPct: (100 * (d1 - d0)) / elapsed,
      dashPct: (100 * (w1 - w0)) / elapsed,
      dashCpu: w1 - w0,
      writes: s1.server.fanout.writes - s0.server.fanout.writes,
      messages: s1.server.fanout.messages - s0.server.fanout.messages,
      skipped: s1.server.fanout.skipped - s0.server.fanout.skipped,
      subscribers: s1.status.subscribers,
    };
  };

  const results = [];
  for (let r = 0; r < ROUNDS; r++) {
    results.push(await phase(1, true));
    results.push(await phase(BROWSERS, r === 0));
  }
  console.log(`# ${new Date().toISOString().slice(0, 16)} UTC, ${os.release()}, ${os.cpus().length} CPUs, node ${process.version}, ${SECONDS} s per phase`);
  console.log('browsers  daemon CPU%  daemon streams  dashboard CPU%  messages  writes  skipped');
  for (const r of results) {
    console.log(`${String(r.n).padStart(8)}  ${r.daemonPct.toFixed(2).padStart(10)}  ${String(r.subscribers).padStart(14)}  ${r.dashPct.toFixed(2).padStart(14)}  ${String(r.messages).padStart(8)}  ${String(r.writes).padStart(6)}  ${String(r.skipped).padStart(7)}`);
  }
  const ones = results.filter((r) => r.n === 1);
  const many = results.filter((r) => r.n === BROWSERS);
  const mean = (xs, f) => xs.reduce((s, x) => s + f(x), 0) / xs.length;
  console.log(`daemon CPU, ${BROWSERS} browsers / 1 browser: ${(mean(many, (r) => r.daemonPct) / mean(ones, (r) => r.daemonPct)).toFixed(2)}`);
  const perWrite = (mean(many, (r) => r.dashCpu) - mean(ones, (r) => r.dashCpu)) / (mean(many, (r) => r.writes) - mean(ones, (r) => r.writes));
  console.log(`dashboard CPU per update per browser: ${(perWrite * 1e6).toFixed(1)} us (CPU difference between the phases / writes difference)`);
  const sortedB = browserLatency.sort((a, b) => a - b);
  const sortedA = added.sort((a, b) => a - b);
  console.log(`window end -> browser: p50 ${ms(quantile(sortedB, 0.5))} ms, p99 ${ms(quantile(sortedB, 0.99))} ms (${sortedB.length} windows)`);
  console.log(`dashboard's share (browser arrival - direct gRPC subscriber arrival, same window): p50 ${ms(quantile(sortedA, 0.5))} ms, p99 ${ms(quantile(sortedA, 0.99))} ms (${sortedA.length} windows)`);
  sub.cancel();
  api.close();
  dash.kill('SIGTERM');
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
