#!/usr/bin/env bash
# Decodes the captured sub-buffers with ringwatch and with libtraceevent in one
# run and prints events/s per core for each and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
bazel build //bench:decode_vs_libtraceevent_benchmark 2>&1 | grep -vE '^[0-9]+\.[0-9]+: src/main/tools/' | tail -n 1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
bazel-bin/bench/decode_vs_libtraceevent_benchmark --benchmark_format=json \
  --benchmark_repetitions="${REPETITIONS:-5}" --benchmark_report_aggregates_only=true \
  --benchmark_min_time="${MIN_TIME:-0.5}" >"$out"
python3 - "$out" <<'PY'
import json, sys
runs = {b["name"]: b for b in json.load(open(sys.argv[1]))["benchmarks"]}
def rate(name):
    b = runs[name + "_median"]
    return b["items_per_second"], b["bytes_per_second"], b["checksum"]
ours, our_bytes, our_sum = rate("BM_Ringwatch_DecodeAndReadFields")
peer, peer_bytes, peer_sum = rate("BM_Libtraceevent_DecodeAndReadFields")
print(f"ringwatch:      {ours/1e6:8.1f} M events/s  {our_bytes/1e6:8.1f} MB/s per core")
print(f"libtraceevent:  {peer/1e6:8.1f} M events/s  {peer_bytes/1e6:8.1f} MB/s per core")
print(f"ratio (ringwatch / libtraceevent): {ours/peer:.1f}x")
if our_sum != peer_sum:
    print(f"WARNING: field checksums differ ({our_sum} vs {peer_sum})")
PY
