// The dashboard in Debian's chromium (headless, driven by playwright-core)
// against a live ringwatchd on its own tracefs instance. Run by
// tests/dashboard/run_dashboard_test.sh, which checks root, tracefs and the
// browser, and kills what this leaves behind if it dies.
//
// Environment: RINGWATCHD, GETPPID_LOOP (tests/daemon/getppid_loop.cc),
// RW_SHORT_DIR (short paths for unix sockets), RW_INSTANCE_PREFIX,
// RW_PIDS_FILE ("PID INSTANCE" lines for the wrapper's cleanup), CHROMIUM,
// DASHBOARD_SCREENSHOT (where to save the picture).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { loadRingwatch } from '../../src/proto.js';
import { summarizeResult } from '../../src/summarize.js';
import { eventually } from '../fake_daemon.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dashboardBin = path.resolve(here, '../../bin/ringwatch-dashboard.js');
const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through tests/dashboard/run_dashboard_test.sh)`);
  return v;
};
const TIMEOUT = 60000;
const CALLS = 200000; // getppid() calls of the workload.
const SYS_GETPPID = 110;

const children = new Set();
function track(child, instance = '-') {
  children.add(child);
  fs.appendFileSync(env('RW_PIDS_FILE'), `${child.pid} ${instance}\n`);
  child.on('exit', () => children.delete(child));
  return child;
}
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

// Starts a process; resolves with the first stdout/stderr line matching re.
function startAndWait(cmd, args, re, { logFile, instance } = {}) {
  const child = track(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] }), instance);
  const log = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : null;
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path.basename(cmd)} never printed ${re}:\n${text}`)), TIMEOUT);
    const feed = (chunk) => {
      text += chunk;
      log?.write(chunk);
      const m = re.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    };
    child.stdout.on('data', feed);
    child.stderr.on('data', feed);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(cmd)} exited with ${code}:\n${text}`));
    });
  });
}

class LiveDaemon {
  constructor() {
    this.instance = `${env('RW_INSTANCE_PREFIX')}_1`;
    this.dir = path.join(env('RW_SHORT_DIR'), 'd');
    fs.mkdirSync(this.dir, { recursive: true });
    this.socket = path.join(this.dir, 'rw.sock');
    this.config = path.join(this.dir, 'ringwatch.textproto');
    // The default config's aggregations (config/ringwatch.textproto) on an
    // instance and socket of our own.
    const defaults = fs.readFileSync(path.resolve(here, '../../../../config/ringwatch.textproto'), 'utf8');
    const aggregations = defaults.slice(defaults.indexOf('aggregation {'));
    fs.writeFileSync(
      this.config,
      `instance: "${this.instance}"\nlisten { unix_socket: "${this.socket}" }\nevents: "sched/sched_process_exec"\nreader_tick: "50ms"\n${aggregations}`,
    );
  }

  async start() {
    const { child } = await startAndWait(env('RINGWATCHD'), ['--config', this.config, '--pid_file', path.join(this.dir, 'pid')], /listening on unix:/, {
      logFile: path.join(this.dir, 'ringwatchd.log'),
      instance: this.instance,
    });
    this.child = child;
    return this;
  }

  kill() {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    return exited;
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

// A process with a comm of its own that makes exactly `calls` getppid()s.
async function workload(dir, comm, calls) {
  const exe = path.join(dir, comm);
  fs.copyFileSync(env('GETPPID_LOOP'), exe);
  fs.chmodSync(exe, 0o755);
  const child = track(spawn(exe, [String(calls)], { stdio: ['pipe', 'pipe', 'inherit'] }));
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  await eventually(() => /pid \d+/.test(out), 'the workload to start', TIMEOUT);
  const pid = Number(/pid (\d+)/.exec(out)[1]);
  child.stdin.write('go\n');
  await new Promise((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`workload exited ${code}`)))));
  // CLOCK_MONOTONIC after its last call: the trace clock ("mono").
  const done = Number(/done (\d+)/.exec(out)?.[1]);
  return { pid, done };
}

function unary(client, method, request) {
  return new Promise((resolve, reject) => client[method](request, { deadline: Date.now() + 10000 }, (err, r) => (err ? reject(err) : resolve(r))));
}

test('the dashboard in chromium against a live ringwatchd', { timeout: 8 * 60000 }, async () => {
  const daemon = await new LiveDaemon().start();
  const { RingwatchService } = loadRingwatch();
  const grpc = (await import('@grpc/grpc-js')).default;
  const api = new RingwatchService(`unix://${daemon.socket}`, grpc.credentials.createInsecure());
  const { match } = await startAndWait(process.execPath, [dashboardBin, '--daemon', `unix://${daemon.socket}`, '--listen', '127.0.0.1:0'], /serving (http:\/\/\S+)/, {
    logFile: path.join(daemon.dir, 'dashboard.log'),
  });
  const url = match[1];
  const userData = fs.mkdtempSync(path.join(env('RW_SHORT_DIR'), 'chromium-'));
  const browser = await chromium.launchPersistentContext(userData, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
  });
  const problems = [];
  try {
    const page = browser.pages()[0] || (await browser.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.setDefaultTimeout(TIMEOUT);
    await page.goto(url);
    await page.waitForFunction(() => window.rw && window.rw.state.reachable && window.rw.hellos === 1);
    await page.waitForSelector('#banner.hidden', { state: 'attached' });
    // Every aggregation of the daemon has its panel.
    const list = await unary(api, 'ListAggregations', {});
    for (const a of list.aggregations) {
      const id = a.name.replace('aggregations/', '');
      await page.waitForSelector(`#aggs .agg[data-agg="${id}"]`, { state: 'attached' });
    }
    await page.waitForSelector('#cpu-bars .bar-value');
    await page.waitForSelector('#syscall-table tbody tr');
    await page.waitForFunction(() => Number(document.getElementById('kernel').textContent.length) > 1);

    // An aggregation made at run time: getppid() calls per pid (exact: the
    // default syscall_counts keys by comm, which is "" for records a CPU's
    // reader cannot name yet, and folds rows beyond its top 20 into OTHER).
    const byPid = 'rwdash_getppid_by_pid';
    await unary(api, 'CreateAggregation', { aggregation: { name: byPid, event: 'raw_syscalls/sys_enter', filter: `id == ${SYS_GETPPID}`, key: ['common_pid'], window: '1s' } });
    await page.waitForSelector(`#aggs .agg[data-agg="${byPid}"]`, { state: 'attached' });

    // The workload, under a comm nobody else has.
    const comm = `rwdash${process.pid % 100000}`;
    const { pid, done } = await workload(daemon.dir, comm, CALLS);
    // Every window up to the workload's last call has closed and reached the
    // page, and the next two too: records read after their window closed
    // are counted (as late) in the next one open.
    await page.waitForFunction(
      ([done, byPid]) => ['syscall_counts', byPid].every((id) => (window.rw.history.get(id) || []).some((w) => w.end > done + 2e9)),
      [done, byPid],
    );

    // Per pid: the page's windows sum to the daemon's cumulative Query, and
    // to the calls made when nothing was lost.
    const pagePid = await page.evaluate(
      ([byPid, pid]) => (window.rw.history.get(byPid) || []).reduce((s, w) => s + w.rows.filter((r) => r.kind === 'KEY' && r.raw[0] === pid).reduce((a, r) => a + r.c, 0), 0),
      [byPid, pid],
    );
    const queriedPid = (await unary(api, 'Query', { name: byPid, view: 'RESULT_VIEW_CUMULATIVE' })).result.row
      .filter((r) => r.kind === 'KEY' && Number(r.key[0].int_value) === pid)
      .reduce((s, r) => s + Number(r.count), 0);
    assert.equal(pagePid, queriedPid, `${byPid}: the page's windows against Query's cumulative view`);

    // Syscalls: every window the page holds, summed for (getppid, comm),
    // equals the daemon's cumulative Query for that key (the cumulative view
    // is exactly the sum of the closed windows), and both equal the calls
    // made when the kernel lost nothing.
    const pageSum = () =>
      page.evaluate(
        ([comm, nr]) =>
          (window.rw.history.get('syscall_counts') || []).reduce(
            (s, w) => s + w.rows.filter((r) => r.kind === 'KEY' && r.raw[w.keys.indexOf('comm')] === comm && r.raw[w.keys.indexOf('id')] === nr).reduce((a, r) => a + r.c, 0),
            0,
          ),
        [comm, SYS_GETPPID],
      );
    const cumulative = async () => {
      const r = await unary(api, 'Query', { name: 'syscall_counts', view: 'RESULT_VIEW_CUMULATIVE', key_filter: `${SYS_GETPPID},${comm}` });
      return r.result.row.filter((row) => row.kind === 'KEY').reduce((s, row) => s + Number(row.count), 0);
    };
    let seen = 0;
    let queried = -1;
    await eventually(async () => {
      seen = await pageSum();
      queried = await cumulative();
      return seen > 0 && seen === queried;
    }, `the page's getppid count for ${comm} to equal Query's (page ${seen}, Query ${queried})`, TIMEOUT);
    const status = await unary(api, 'GetStatus', {});
    const aggStats = status.aggregations.find((a) => a.name.endsWith(byPid));
    const loss = Number(status.totals.lost_events) + Number(status.totals.overruns) + Number(aggStats?.counters?.events_dropped || 0);
    if (loss === 0) assert.equal(pagePid, CALLS, `the page shows ${pagePid} getppid calls by pid ${pid} of ${CALLS}, and no loss was reported`);
    else assert.ok(pagePid <= CALLS);
    assert.ok(seen <= pagePid, `${seen} calls under comm ${comm}, more than the ${pagePid} of its pid`);
    await page.waitForFunction(([byPid, pid]) => [...document.querySelectorAll(`#aggs .agg[data-agg="${byPid}"] tbody tr`)].length > 0, [byPid, pid]);

    // The views as a person sees them (the DOM, not page state) show the
    // same numbers as Query for the same window: run the workload until its
    // rows are on screen while Query still returns that window.
    const sameWindow = async (agg, readDom, compare) => {
      for (let attempt = 0; attempt < 6; attempt++) {
        if (attempt > 0) await workload(daemon.dir, comm, CALLS);
        const deadline = Date.now() + 15000;
        while (Date.now() < deadline) {
          const dom = await readDom();
          if (dom) {
            const q = await unary(api, 'Query', { name: agg });
            if (Number(q.result.window_end_ns) === dom.end) {
              compare(dom, summarizeResult(q.result));
              return;
            }
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      assert.fail(`${agg}: the page and Query never showed the workload's window at once`);
    };
    await sameWindow(
      'syscall_counts',
      () =>
        page.evaluate((comm) => {
          const table = document.getElementById('syscall-table');
          const rows = [...table.tBodies[0].rows].map((tr) => ({ nr: tr.dataset.nr, comm: tr.dataset.comm, count: Number(tr.dataset.count), text: tr.cells[0].textContent }));
          return rows.some((r) => r.comm === comm) ? { end: Number(table.dataset.windowEnd), rows } : null;
        }, comm),
      (dom, q) => {
        const idAt = q.keys.indexOf('id');
        const commAt = q.keys.indexOf('comm');
        const want = q.rows.slice(0, 20).map((r) => ({ nr: r.kind === 'KEY' ? String(r.raw[idAt]) : '', comm: r.kind === 'KEY' ? r.raw[commAt] : '', count: r.c }));
        assert.deepEqual(dom.rows.map(({ nr, comm, count }) => ({ nr, comm, count })), want);
        const mine = dom.rows.find((r) => r.comm === comm);
        assert.equal(mine.nr, String(SYS_GETPPID));
        assert.ok(mine.count > 0);
        // The syscall's name when the daemon gives one, else its number.
        assert.match(mine.text, /getppid|^110$/);
      },
    );
    await sameWindow(
      'cpu_time',
      () =>
        page.evaluate((comm) => {
          const bars = document.getElementById('cpu-bars');
          const mine = [...bars.querySelectorAll('.bar-value')].find((b) => b.dataset.comm === comm);
          return mine ? { end: Number(bars.dataset.windowEnd), pid: mine.dataset.pid, ns: Number(mine.dataset.ns), switches: Number(mine.dataset.switches) } : null;
        }, comm),
      (dom, q) => {
        const pidAt = q.keys.indexOf('pid');
        const commAt = q.keys.indexOf('comm');
        const onCpu = q.values.indexOf('sum(on_cpu)');
        const row = q.rows.find((r) => r.kind === 'KEY' && r.raw[commAt] === comm && String(r.raw[pidAt]) === dom.pid);
        assert.ok(row, `Query's cpu_time window has no row for ${comm} (${dom.pid})`);
        assert.equal(dom.ns, row.v[onCpu]);
        assert.equal(dom.switches, row.c);
        assert.ok(dom.ns > 0);
      },
    );

    // Deleted at run time, its panel goes.
    await unary(api, 'DeleteAggregation', { name: byPid });
    await page.waitForSelector(`#aggs .agg[data-agg="${byPid}"]`, { state: 'detached' });

    // The latency chart gains points.
    // (The page keeps 120 windows: once full, the newest point still moves.)
    const latency = () =>
      page.evaluate(() => {
        const h = window.rw.history.get('wakeup_latency') || [];
        return { points: Number(document.getElementById('latency-chart').dataset.points || 0), end: h.length ? h[h.length - 1].end : 0 };
      });
    const before = await latency();
    await eventually(
      async () => {
        const now = await latency();
        return now.points >= Math.min(before.points + 3, 120) && now.end >= before.end + 3e9;
      },
      'three more latency points',
      TIMEOUT,
    );

    // The event tail shows events, in time order within what is on screen.
    await page.fill('#tail-events', 'sched/sched_process_exec');
    await page.click('#tail-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('tail-status').textContent.startsWith('live'));
    // The daemon starts tailing a moment after the page hears its filter
    // was taken: exec the workload until its event shows.
    let tailed = false;
    for (let attempt = 0; attempt < 10 && !tailed; attempt++) {
      await workload(daemon.dir, comm, 1);
      tailed = await page
        .waitForFunction((comm) => [...document.querySelectorAll('#tail-table tbody tr')].some((tr) => tr.textContent.includes(comm)), comm, { timeout: 3000 })
        .then(() => true, () => false);
    }
    assert.ok(tailed, `the tail never showed ${comm}'s sched_process_exec`);

    // Nothing the daemon said was unusable (a deletion is no problem).
    assert.equal(await page.isHidden('#problems'), true, `problems shown: ${await page.textContent('#problems')}`);

    if (process.env.DASHBOARD_SCREENSHOT) {
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: process.env.DASHBOARD_SCREENSHOT, fullPage: true });
    }

    // Kill the daemon: the page says so. Start it again: the page comes
    // back by itself, without a reload.
    const lastEnd = await page.evaluate(() => Math.max(...[...window.rw.history.values()].map((h) => h[h.length - 1]?.end || 0)));
    await daemon.kill();
    await page.waitForSelector('#banner[data-state="daemon-unreachable"]:not(.hidden)');
    assert.match(await page.textContent('#banner'), /ringwatchd unreachable at unix:\/\//);
    await daemon.start();
    await page.waitForSelector('#banner[data-state="ok"].hidden', { state: 'attached' });
    await page.waitForFunction((lastEnd) => (window.rw.history.get('cpu_time') || []).some((w) => w.end > lastEnd), lastEnd);
    const nav = await page.evaluate(() => ({ hellos: window.rw.hellos, navigations: performance.getEntriesByType('navigation').length }));
    assert.deepEqual(nav, { hellos: 1, navigations: 1 }, 'the page was not reloaded and its stream never reconnected');

    assert.deepEqual(problems, [], 'console errors on the page');
  } finally {
    await browser.close();
    api.close();
    await daemon.stop();
    for (const c of children) c.kill('SIGTERM');
    fs.rmSync(userData, { recursive: true, force: true });
  }
});
