// The HTTP side: the page, its scripts, and two Server-Sent Event streams:
//   /stream  everything shared (daemon state, status, aggregations, windows)
//   /tail    the live event tail of one filter (?events=GLOBS&pids=PIDS)
// plus /api/state (the snapshot as JSON) and /healthz.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Fanout } from './fanout.js';
import { TailHub, parseTailFilter } from './tail.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const publicDir = path.resolve(here, '../public');
const uplotDir = path.dirname(createRequire(import.meta.url).resolve('uplot'));

const STATIC = {
  '/': [publicDir, 'index.html'],
  '/index.html': [publicDir, 'index.html'],
  '/app.js': [publicDir, 'app.js'],
  '/charts.js': [publicDir, 'charts.js'],
  '/style.css': [publicDir, 'style.css'],
  '/vendor/uPlot.iife.min.js': [uplotDir, 'uPlot.iife.min.js'],
  '/vendor/uPlot.min.css': [uplotDir, 'uPlot.min.css'],
};
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

// Splits "HOST:PORT", "[::1]:PORT" or ":PORT" (loopback) into parts.
export function parseListen(text) {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(String(text).trim());
  if (!m || Number(m[3]) > 65535) throw new Error(`--listen '${text}': want HOST:PORT, [IPV6]:PORT or :PORT`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
}

function isLoopbackHost(host) {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

// Browsers on a loopback listener must name a loopback host: a page on
// another site cannot reach the dashboard through DNS rebinding.
function hostAllowed(req, loopbackOnly) {
  if (!loopbackOnly) return true;
  const host = String(req.headers.host || '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return isLoopbackHost(host);
}

export class DashboardServer {
  constructor({ upstream, hostname = os.hostname(), fanoutOptions = {}, tailOptions = {} }) {
    this.upstream = upstream;
    this.hostname = hostname;
    this.fanout = new Fanout(fanoutOptions);
    this.tailFanout = new Fanout(fanoutOptions);
    this.tails = new TailHub({ upstream, fanout: this.tailFanout, ...tailOptions });
    this.problems = [];
    this.loopbackOnly = true;
    upstream.on('state', (state) => this.fanout.broadcast('state', state));
    upstream.on('status', (status) => this.fanout.broadcast('status', status));
    upstream.on('aggs', (aggs, skipped) => this.fanout.broadcast('aggs', { aggs, skipped }));
    upstream.on('window', (win) => this.fanout.broadcast('window', win));
    upstream.on('problem', (text) => {
      this.problems.push({ at: Date.now(), text });
      if (this.problems.length > 20) this.problems.shift();
      this.fanout.broadcast('problem', { text });
    });
    this.http = http.createServer((req, res) => this.#handle(req, res));
    this.http.keepAliveTimeout = 5000;
  }

  // Resolves with the bound {address, port}.
  listen(host = '127.0.0.1', port = 0) {
    this.loopbackOnly = isLoopbackHost(host);
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve(this.http.address());
      });
    });
  }

  url() {
    const a = this.http.address();
    const host = a.family === 'IPv6' || a.family === 6 ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}/`;
  }

  close() {
    this.tails.close();
    this.fanout.close();
    this.tailFanout.close();
    return new Promise((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections?.();
    });
  }

  snapshot() {
    return { host: this.hostname, problems: this.problems, ...this.upstream.snapshot() };
  }

  #handle(req, res) {
    if (!hostAllowed(req, this.loopbackOnly)) {
      res.writeHead(403, { 'Content-Type': 'text/plain' });
      res.end('the dashboard answers only to a loopback host name (localhost, 127.0.0.1, [::1])\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' });
      res.end();
      return;
    }
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/stream') {
      this.fanout.add(res, [['hello', this.snapshot()]]);
      return;
    }
    if (url.pathname === '/tail') {
      this.#tail(url, res);
      return;
    }
    if (url.pathname === '/api/state') {
      const body = JSON.stringify({
        ...this.snapshot(),
        server: {
          browsers: this.fanout.size,
          tailBrowsers: this.tailFanout.size,
          tailCalls: this.tails.openCalls,
          fanout: this.fanout.stats,
          upstream: this.upstream.counters,
        },
      });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' });
      res.end(body);
      return;
    }
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(this.upstream.state.reachable ? 'ok: daemon reachable\n' : `ok: daemon unreachable: ${this.upstream.state.error}\n`);
      return;
    }
    const entry = STATIC[url.pathname];
    if (!entry) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end(`no page at ${url.pathname}\n`);
      return;
    }
    const file = path.join(entry[0], entry[1]);
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`cannot read ${file}: ${err.code}\n`);
        return;
      }
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : data);
    });
  }

  #tail(url, res) {
    let filter;
    try {
      filter = parseTailFilter(url.searchParams.get('events') || '', url.searchParams.get('pids') || '');
    } catch (err) {
      const client = this.tailFanout.add(res);
      this.tailFanout.send(client, 'tail_error', { error: err.message, fatal: true });
      res.end();
      return;
    }
    const client = this.tailFanout.add(res, [['tail_filter', filter]]);
    const refused = this.tails.join(client, filter);
    if (refused) {
      this.tailFanout.send(client, 'tail_error', { error: refused, fatal: true });
      res.end();
    }
  }
}
