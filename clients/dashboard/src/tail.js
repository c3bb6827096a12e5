// The live event tail: one StreamEvents call per distinct filter (event globs
// and pids), shared by every browser showing that filter, opened with the
// first and closed with the last. Events are batched, sorted by timestamp
// and sent every flushMs.
import grpc from '@grpc/grpc-js';
import { describeError } from './upstream.js';

const MAX_GLOBS = 8;
const MAX_PIDS = 16;

// Parses the browser's filter: events "sched/*,irq/*" (comma or space
// separated) and pids "12,13". Returns {events, pids} or throws with a
// message naming the bad part.
export function parseTailFilter(eventsText = '', pidsText = '') {
  const events = String(eventsText)
    .split(/[\s,]+/)
    .filter(Boolean);
  if (events.length > MAX_GLOBS) throw new Error(`at most ${MAX_GLOBS} event globs, got ${events.length}`);
  for (const e of events) {
    if (!/^[A-Za-z0-9_*?\/.\-\[\]]+$/.test(e) || e.length > 128) throw new Error(`event glob '${e}' has characters other than letters, digits, _ * ? / . - [ ]`);
  }
  const pids = [];
  for (const p of String(pidsText).split(/[\s,]+/).filter(Boolean)) {
    if (!/^\d{1,10}$/.test(p) || Number(p) > 2 ** 31 - 1) throw new Error(`pid '${p}' is not a process id`);
    pids.push(Number(p));
  }
  if (pids.length > MAX_PIDS) throw new Error(`at most ${MAX_PIDS} pids, got ${pids.length}`);
  events.sort();
  pids.sort((a, b) => a - b);
  return { events, pids };
}

function fieldText(f) {
  switch (f?.value) {
    case 'int_value':
      return `${f.name}=${f.int_value}`;
    case 'uint_value':
      return `${f.name}=${f.uint_value}`;
    case 'string_value':
      return `${f.name}=${f.string_value}`;
    case 'bytes_value':
      return `${f.name}=<${f.bytes_value?.length ?? 0} bytes>`;
    default:
      return `${f?.name ?? '?'}=?`;
  }
}

export function summarizeEvent(e) {
  const name = String(e?.name || '');
  return {
    t: Number(e?.timestamp_ns) || 0,
    cpu: Number(e?.cpu) || 0,
    pid: Number(e?.pid) || 0,
    name: name.startsWith('events/') ? name.slice(7) : name,
    f: (Array.isArray(e?.fields) ? e.fields : []).map(fieldText).join(' '),
  };
}

export class TailHub {
  constructor({ upstream, fanout, maxTails = 4, ratePerSecond = 200, flushMs = 250, batchLimit = 400 }) {
    this.upstream = upstream;
    this.fanout = fanout;
    this.maxTails = maxTails;
    this.ratePerSecond = ratePerSecond;
    this.flushMs = flushMs;
    this.batchLimit = batchLimit;
    this.tails = new Map(); // key -> {filter, clients:Set, call, buffer, dropped, retry}
    this.timer = setInterval(() => this.#flush(), flushMs);
    this.timer.unref?.();
    this.onState = (state) => {
      for (const tail of this.tails.values()) {
        if (state.reachable && !tail.call) this.#open(tail);
        if (!state.reachable) this.#cancel(tail);
        for (const c of tail.clients) this.fanout.send(c, 'tail_state', { reachable: state.reachable, error: state.error });
      }
    };
    upstream.on('state', this.onState);
  }

  // Adds an SSE client (from fanout.add) to the tail of `filter`. Returns
  // null, or an error message when too many distinct tails are open.
  join(client, filter) {
    const key = JSON.stringify(filter);
    let tail = this.tails.get(key);
    if (!tail) {
      if (this.tails.size >= this.maxTails) {
        return `too many different tail filters open at once (${this.tails.size}, the cap is ${this.maxTails}); close a tab or use the same filter`;
      }
      tail = { key, filter, clients: new Set(), call: null, buffer: [], dropped: 0, retry: null, generation: 0 };
      this.tails.set(key, tail);
      this.#open(tail);
    }
    tail.clients.add(client);
    client.res.on('close', () => this.#leave(tail, client));
    return null;
  }

  get openCalls() {
    let n = 0;
    for (const t of this.tails.values()) if (t.call) n++;
    return n;
  }

  close() {
    clearInterval(this.timer);
    this.upstream.off('state', this.onState);
    for (const tail of this.tails.values()) this.#cancel(tail);
    this.tails.clear();
  }

  #leave(tail, client) {
    tail.clients.delete(client);
    if (tail.clients.size === 0 && this.tails.get(tail.key) === tail) {
      this.#cancel(tail);
      this.tails.delete(tail.key);
    }
  }

  #open(tail) {
    if (!this.upstream.state.reachable) return;
    const generation = ++tail.generation;
    const call = this.upstream.client.StreamEvents({
      events: tail.filter.events,
      pids: tail.filter.pids,
      max_events_per_second: this.ratePerSecond,
    });
    tail.call = call;
    call.on('data', (msg) => {
      if (tail.generation !== generation) return;
      tail.dropped += Number(msg?.dropped_before) || 0;
      if (!msg?.event) return;
      if (tail.buffer.length >= this.batchLimit) {
        tail.dropped++;
        return;
      }
      tail.buffer.push(summarizeEvent(msg.event));
    });
    let finished = false;
    const ended = (err) => {
      if (finished || tail.generation !== generation) return;
      finished = true;
      tail.call = null;
      if (!this.tails.has(tail.key)) return;
      const text = err ? describeError(err) : 'the daemon ended the stream';
      for (const c of tail.clients) this.fanout.send(c, 'tail_error', { error: text });
      // A filter the daemon refuses is not retried; anything else is, once
      // the daemon is reachable.
      if (err?.code === grpc.status.INVALID_ARGUMENT || err?.code === grpc.status.CANCELLED) return;
      tail.retry = setTimeout(() => {
        tail.retry = null;
        if (this.tails.get(tail.key) === tail && !tail.call) this.#open(tail);
      }, 1000);
      tail.retry.unref?.();
    };
    // 'status' comes once per call with its final code; 'error' repeats it
    // for a failed call and must have a listener.
    call.on('status', (st) => ended(st.code === grpc.status.OK ? null : st));
    call.on('error', () => {});
  }

  #cancel(tail) {
    tail.generation++;
    clearTimeout(tail.retry);
    tail.retry = null;
    if (tail.call) {
      tail.call.cancel();
      tail.call = null;
    }
  }

  #flush() {
    for (const tail of this.tails.values()) {
      if (tail.buffer.length === 0 && tail.dropped === 0) continue;
      const events = tail.buffer.sort((a, b) => a.t - b.t);
      tail.buffer = [];
      const batch = { events, dropped: tail.dropped };
      tail.dropped = 0;
      for (const c of tail.clients) this.fanout.send(c, 'tail', batch);
    }
  }
}
