#!/usr/bin/env node
// ringwatch-dashboard: a live web page of one ringwatchd. See
// docs/dashboard.md.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadRingwatch, defaultProtoRoot } from '../src/proto.js';
import { Upstream, channelCredentials } from '../src/upstream.js';
import { DashboardServer, parseListen } from '../src/server.js';

const USAGE = `usage: ringwatch-dashboard [options]
  --daemon ADDR     ringwatchd's API: unix:///PATH, a socket path, or HOST:PORT
                    (default unix:///run/ringwatch/ringwatch.sock)
  --listen ADDR     where browsers connect: HOST:PORT, [IPV6]:PORT or :PORT
                    (default 127.0.0.1:7879; loopback unless you say otherwise)
  --tls_ca FILE     TLS to the daemon, trusting this CA (PEM)
  --tls_cert FILE   mutual TLS: the dashboard's certificate (PEM)
  --tls_key FILE    mutual TLS: its key (PEM)
  --history N       windows kept per aggregation for new browsers (default 120)
  --proto_dir DIR   the directory holding proto/ringwatch/v1 (default: found)
  --help`;

function fail(message) {
  process.stderr.write(`ringwatch-dashboard: ${message}\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      daemon: { type: 'string', default: 'unix:///run/ringwatch/ringwatch.sock' },
      listen: { type: 'string', default: '127.0.0.1:7879' },
      tls_ca: { type: 'string' },
      tls_cert: { type: 'string' },
      tls_key: { type: 'string' },
      history: { type: 'string', default: '120' },
      proto_dir: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  }));
} catch (err) {
  fail(`${err.message}\n${USAGE}`);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const history = Number(args.history);
if (!Number.isInteger(history) || history < 1 || history > 3600) fail(`--history ${args.history}: want 1..3600 windows`);
let listen;
try {
  listen = parseListen(args.listen);
} catch (err) {
  fail(err.message);
}
const readPem = (flag) => {
  if (!args[flag]) return undefined;
  try {
    return fs.readFileSync(args[flag]);
  } catch (err) {
    return fail(`--${flag} ${args[flag]}: ${err.message}`);
  }
};
let credentials;
try {
  credentials = channelCredentials({ ca: readPem('tls_ca'), cert: readPem('tls_cert'), key: readPem('tls_key') });
} catch (err) {
  fail(err.message);
}
let RingwatchService;
try {
  ({ RingwatchService } = loadRingwatch(args.proto_dir || defaultProtoRoot()));
} catch (err) {
  fail(`cannot load the API's .proto files (--proto_dir): ${err.message}`);
}

const upstream = new Upstream({ address: args.daemon, RingwatchService, credentials, historyLength: history });
const server = new DashboardServer({ upstream });
upstream.on('state', (s) =>
  process.stderr.write(s.reachable ? `ringwatch-dashboard: connected to ${args.daemon}\n` : `ringwatch-dashboard: ringwatchd unreachable at ${args.daemon}: ${s.error}\n`),
);
try {
  await server.listen(listen.host, listen.port);
} catch (err) {
  fail(`cannot listen on ${args.listen}: ${err.message}`);
}
upstream.start();
// The line tools/run.sh and tests wait for.
process.stdout.write(`ringwatch-dashboard: serving ${server.url()} (daemon ${args.daemon})\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  upstream.stop();
  await server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
