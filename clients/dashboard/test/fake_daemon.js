// An in-process ringwatchd stand-in: a real grpc-js server implementing
// RingwatchService from the same .proto files, whose answers the test
// controls. It counts the calls it receives, so tests can assert what the
// dashboard costs the daemon.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import { loadRingwatch } from '../src/proto.js';

export function makeStatus(over = {}) {
  return {
    version: '0.1.0',
    kernel_release: '6.18.0-test',
    instance: 'fake',
    uptime: { seconds: 42, nanos: 0 },
    cpus: [
      { cpu: 0, mode: 'READ_MODE_MMAP', events: 100, events_per_second: 50 },
      { cpu: 1, mode: 'READ_MODE_READ', events: 200, events_per_second: 70 },
    ],
    totals: { events: 300, events_per_second: 120, overruns: 0, lost_events: 0 },
    aggregations: [],
    server: { subscribers: 0, dropped_messages: 0 },
    process: { cpu_percent: 1.5 },
    ...over,
  };
}

export function makeAggInfo(id, spec = {}) {
  return {
    name: `aggregations/${id}`,
    spec: { name: id, event: 'raw_syscalls/sys_enter', key: ['id', 'comm'], window: '1s', ...spec },
    origin: 'ORIGIN_CONFIG',
    create_time: { seconds: 1000, nanos: 0 },
  };
}

export function makeWindow(id, endSeconds, rows) {
  return {
    name: `aggregations/${id}`,
    key_names: ['id', 'comm'],
    value_names: ['count'],
    window_start_ns: (endSeconds - 1) * 1e9,
    window_end_ns: endSeconds * 1e9,
    windows: 1,
    row: rows,
    distinct_keys: rows.length,
  };
}

export class FakeDaemon {
  constructor() {
    const { RingwatchService } = loadRingwatch();
    this.service = RingwatchService.service;
    this.calls = { GetStatus: 0, ListAggregations: 0, Subscribe: 0, StreamEvents: 0 };
    this.status = makeStatus();
    this.aggregations = [makeAggInfo('syscalls')];
    // Hooks a test may replace.
    this.onGetStatus = null; // (call, callback) => true when handled
    this.onListAggregations = null;
    this.subscribeError = null; // a grpc error to end every Subscribe with
    this.streams = new Set(); // open Subscribe calls {call, names}
    this.eventStreams = new Set();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rwdash-'));
    this.socket = path.join(this.dir, 'fake.sock');
    this.server = null;
  }

  get address() {
    return `unix://${this.socket}`;
  }

  async start() {
    this.server = new grpc.Server();
    this.server.addService(this.service, {
      GetStatus: (call, cb) => {
        this.calls.GetStatus++;
        if (this.onGetStatus && this.onGetStatus(call, cb)) return;
        cb(null, this.status);
      },
      ListAggregations: (call, cb) => {
        this.calls.ListAggregations++;
        if (this.onListAggregations && this.onListAggregations(call, cb)) return;
        cb(null, { aggregations: this.aggregations });
      },
      Subscribe: (call) => {
        this.calls.Subscribe++;
        if (this.subscribeError) {
          call.emit('error', this.subscribeError);
          return;
        }
        const entry = { call, names: call.request.names };
        this.streams.add(entry);
        call.on('cancelled', () => this.streams.delete(entry));
        call.on('close', () => this.streams.delete(entry));
      },
      StreamEvents: (call) => {
        this.calls.StreamEvents++;
        const entry = { call, request: call.request };
        this.eventStreams.add(entry);
        call.on('cancelled', () => this.eventStreams.delete(entry));
        call.on('close', () => this.eventStreams.delete(entry));
      },
      GetAggregation: (call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
      ListEvents: (call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
      CreateAggregation: (call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
      DeleteAggregation: (call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
      Query: (call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
    });
    await new Promise((resolve, reject) =>
      this.server.bindAsync(this.address, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    // grpc-js before 1.10 needed start(); later ones start on bind.
    if (typeof this.server.start === 'function' && !this.server.started) {
      try {
        this.server.start();
      } catch {
        // Already started.
      }
    }
    return this;
  }

  // Sends a window to every open Subscribe of `id`.
  publish(id, result, { dropped_before = 0, sequence = 0 } = {}) {
    let n = 0;
    for (const s of this.streams) {
      if (s.names.includes(id) || s.names.includes(`aggregations/${id}`)) {
        s.call.write({ result, dropped_before, sequence });
        n++;
      }
    }
    return n;
  }

  subscribersOf(id) {
    return [...this.streams].filter((s) => s.names.includes(id)).length;
  }

  // Stops the server at once, cutting every stream (a daemon that died).
  async kill() {
    if (!this.server) return;
    this.server.forceShutdown();
    this.server = null;
    fs.rmSync(this.socket, { force: true });
  }

  async stop() {
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Polls `condition` until it returns something truthy (or the deadline
// passes, which throws with `what`).
export async function eventually(condition, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
