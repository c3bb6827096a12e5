// The dashboard's side of ringwatchd: one channel, a status poll, and one
// Subscribe stream per aggregation, whatever the number of browsers. Keeps a
// short history of each aggregation's windows so a new browser starts with
// charts already drawn. When the daemon goes away it says so and keeps
// trying; when it comes back every stream is opened again.
import { EventEmitter } from 'node:events';
import grpc from '@grpc/grpc-js';
import { summarizeAggregation, summarizeResult, summarizeStatus } from './summarize.js';

// "unix:///run/x.sock", "/run/x.sock", "host:port" -> a grpc-js target.
export function grpcTarget(address) {
  const a = String(address || '').trim();
  if (a === '') throw new Error('empty daemon address');
  if (a.startsWith('/')) return `unix://${a}`;
  return a;
}

// Channel credentials from PEM contents: plaintext without a CA, TLS with
// one, mutual TLS with a client certificate and key too.
export function channelCredentials({ ca, cert, key } = {}) {
  if (!ca) {
    if (cert || key) throw new Error('--tls_cert/--tls_key need --tls_ca');
    return grpc.credentials.createInsecure();
  }
  if (Boolean(cert) !== Boolean(key)) throw new Error('--tls_cert and --tls_key go together');
  return grpc.credentials.createSsl(ca, key || null, cert || null);
}

// gRPC status codes the streams act on.
const { CANCELLED, NOT_FOUND, UNAVAILABLE } = grpc.status;

export class Upstream extends EventEmitter {
  constructor({
    address,
    RingwatchService,
    credentials = grpc.credentials.createInsecure(),
    pollMs = 1000,
    deadlineMs = 2000,
    retryMs = 500,
    historyLength = 120,
    maxAggregations = 32,
    topN = 0,
    channelOptions = {},
  }) {
    super();
    this.address = address;
    this.pollMs = pollMs;
    this.deadlineMs = deadlineMs;
    this.retryMs = retryMs;
    this.historyLength = historyLength;
    this.maxAggregations = maxAggregations;
    this.topN = topN;
    this.client = new RingwatchService(grpcTarget(address), credentials, {
      // The default backoff grows to two minutes; a restarted daemon should
      // be seen within a second.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.keepalive_time_ms': 10000,
      'grpc.keepalive_timeout_ms': 5000,
      ...channelOptions,
    });
    this.state = { reachable: false, error: 'connecting', since: Date.now() };
    this.status = null;
    // id -> {info, call, history, retry, generation}
    this.aggs = new Map();
    this.skippedAggregations = [];
    this.counters = { windows: 0, subscribes: 0, badMessages: 0, pollErrors: 0, reconnects: 0 };
    this.stopped = false;
    this.timer = null;
    this.polling = false;
    this.pollSeq = 0;
  }

  start() {
    this.#poll();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const id of [...this.aggs.keys()]) this.#remove(id);
    this.client.close();
  }

  // Everything a new browser needs.
  snapshot() {
    const aggs = [];
    const history = {};
    for (const [id, a] of this.aggs) {
      aggs.push(a.info);
      history[id] = a.history;
    }
    return {
      address: this.address,
      state: this.state,
      status: this.status,
      aggs,
      skipped: this.skippedAggregations,
      history,
    };
  }

  // Unary calls with a deadline, as promises.
  call(method, request) {
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + this.deadlineMs);
      this.client[method](request, { deadline }, (err, reply) => (err ? reject(err) : resolve(reply)));
    });
  }

  async #poll() {
    if (this.stopped || this.polling) return;
    this.polling = true;
    try {
      const status = await this.call('GetStatus', {});
      // Polls are numbered so a stream that ended NOT_FOUND waits for a list
      // asked for after that.
      const seq = ++this.pollSeq;
      const list = await this.call('ListAggregations', {});
      if (this.stopped) return;
      this.status = summarizeStatus(status);
      this.#setReachable(true, '');
      this.emit('status', this.status);
      this.#reconcile(list, seq);
    } catch (err) {
      if (this.stopped) return;
      this.counters.pollErrors++;
      this.#setReachable(false, describeError(err));
    } finally {
      this.polling = false;
      if (!this.stopped) {
        this.timer = setTimeout(() => this.#poll(), this.pollMs);
        this.timer.unref?.();
      }
    }
  }

  #setReachable(reachable, error) {
    if (this.state.reachable === reachable && this.state.error === error) return;
    const wasReachable = this.state.reachable;
    this.state = { reachable, error, since: Date.now() };
    if (!reachable) {
      // The streams fail on their own too; end them now so nothing retries
      // against a daemon that is gone until the poll sees it back.
      for (const a of this.aggs.values()) this.#cancel(a);
    } else if (!wasReachable) {
      this.counters.reconnects++;
    }
    this.emit('state', this.state);
  }

  #reconcile(list, seq) {
    const infos = Array.isArray(list?.aggregations) ? list.aggregations : null;
    if (!infos) {
      this.#bad('ListAggregations answered without an aggregations list');
      return;
    }
    const wanted = new Map();
    const skipped = [];
    for (const info of infos) {
      let summary;
      try {
        summary = summarizeAggregation(info);
      } catch (err) {
        this.#bad(`aggregation info: ${err.message}`);
        continue;
      }
      if (!summary.id) {
        this.#bad('an aggregation without a name');
        continue;
      }
      if (wanted.size >= this.maxAggregations) skipped.push(summary.id);
      else wanted.set(summary.id, summary);
    }
    let changed = skipped.join() !== this.skippedAggregations.join();
    this.skippedAggregations = skipped;
    for (const id of [...this.aggs.keys()]) {
      const w = wanted.get(id);
      // Gone, or deleted and created again with the same name.
      if (!w || w.created !== this.aggs.get(id).info.created) {
        this.#remove(id);
        changed = true;
      }
    }
    for (const [id, info] of wanted) {
      let a = this.aggs.get(id);
      if (!a) {
        a = { info, call: null, history: [], retry: null, generation: 0 };
        this.aggs.set(id, a);
        changed = true;
      } else if (JSON.stringify(a.info) !== JSON.stringify(info)) {
        a.info = info;
        changed = true;
      }
      if (a.call || a.retry) continue;
      if (a.notFoundAfterPoll !== undefined) {
        // Its stream ended NOT_FOUND: a list from before that proves nothing.
        if (seq <= a.notFoundAfterPoll) continue;
        // Still listed by a later list: the daemon contradicts itself.
        a.notFound = (a.notFound || 0) + 1;
        if (a.notFound > 1) this.emit('problem', `aggregation ${id} is listed but Subscribe says it is not found`);
        a.notFoundAfterPoll = undefined;
      }
      this.#subscribe(id, a);
    }
    if (changed) this.emit('aggs', this.snapshot().aggs, this.skippedAggregations);
  }

  #subscribe(id, a) {
    if (this.stopped || !this.state.reachable) return;
    const generation = ++a.generation;
    this.counters.subscribes++;
    const call = this.client.Subscribe({ names: [id], top_n: this.topN, send_latest: true });
    a.call = call;
    call.on('data', (msg) => {
      if (a.generation !== generation) return;
      let win;
      try {
        win = summarizeResult(msg?.result);
      } catch (err) {
        this.#bad(`Subscribe(${id}): ${err.message}`);
        return;
      }
      if (win.agg !== id) {
        this.#bad(`Subscribe(${id}) sent a window of '${win.agg}'`);
        return;
      }
      const last = a.history[a.history.length - 1];
      // send_latest repeats the newest window after a resubscribe.
      if (last && win.end <= last.end) return;
      win.seq = Number(msg.sequence) || 0;
      win.droppedBefore = Number(msg.dropped_before) || 0;
      a.notFound = 0;
      a.history.push(win);
      if (a.history.length > this.historyLength) a.history.shift();
      this.counters.windows++;
      this.emit('window', win);
    });
    let finished = false;
    const ended = (err) => {
      if (finished || a.generation !== generation) return;
      finished = true;
      a.call = null;
      if (this.stopped || this.aggs.get(id) !== a) return;
      if (err?.code === NOT_FOUND) {
        // Deleted: the next list takes it away. Resubscribed only if a list
        // asked for after now still has it.
        a.notFoundAfterPoll = this.pollSeq;
        return;
      }
      // UNAVAILABLE: the daemon went away; the status poll says so.
      if (err && err.code !== CANCELLED && err.code !== UNAVAILABLE) this.emit('problem', `Subscribe(${id}): ${describeError(err)}`);
      a.retry = setTimeout(() => {
        a.retry = null;
        if (this.aggs.get(id) === a && !a.call) this.#subscribe(id, a);
      }, this.retryMs);
      a.retry.unref?.();
    };
    // 'status' comes once per call with its final code; 'error' repeats it
    // for a failed call and must have a listener.
    call.on('status', (st) => ended(st.code === grpc.status.OK ? null : st));
    call.on('error', () => {});
  }

  #cancel(a) {
    a.generation++;
    clearTimeout(a.retry);
    a.retry = null;
    if (a.call) {
      a.call.cancel();
      a.call = null;
    }
  }

  #remove(id) {
    const a = this.aggs.get(id);
    if (!a) return;
    this.#cancel(a);
    this.aggs.delete(id);
  }

  #bad(text) {
    this.counters.badMessages++;
    this.emit('problem', `bad answer from ringwatchd: ${text}`);
  }
}

export function describeError(err) {
  if (!err) return 'unknown error';
  const code = typeof err.code === 'number' ? grpc.status[err.code] : undefined;
  const details = err.details || err.message || String(err);
  return code ? `${code}: ${details}` : details;
}
