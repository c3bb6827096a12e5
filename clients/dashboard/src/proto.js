// Loads ringwatch.v1 from the .proto files at run time (no generated code),
// so the dashboard follows the daemon's API as it gains fields.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

// The same grpc-js the dashboard uses, for its tests and benchmarks.
export { grpc };

const here = path.dirname(fileURLToPath(import.meta.url));

// The directory that holds proto/ringwatch/v1/*.proto: an installed copy
// beside the package first, then the repository's own.
export function defaultProtoRoot() {
  const candidates = [path.resolve(here, '..'), path.resolve(here, '../../..')];
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'proto/ringwatch/v1/ringwatch.proto'))) return dir;
  }
  return candidates[candidates.length - 1];
}

// Result objects use the .proto field names; 64-bit integers become Numbers
// (counts and nanosecond times stay exact below 2^53: 104 days of uptime in
// ns); enums are their names; a oneof's chosen field is named by the oneof.
export const LOADER_OPTIONS = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

export function loadRingwatch(protoRoot = defaultProtoRoot()) {
  const file = path.join(protoRoot, 'proto/ringwatch/v1/ringwatch.proto');
  const definition = protoLoader.loadSync(file, { ...LOADER_OPTIONS, includeDirs: [protoRoot] });
  const loaded = grpc.loadPackageDefinition(definition);
  return { definition, RingwatchService: loaded.ringwatch.v1.RingwatchService };
}
