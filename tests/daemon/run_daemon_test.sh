#!/usr/bin/env bash
# Runs one Python end-to-end test of the real ringwatchd:
#   run_daemon_test.sh TEST.py RINGWATCHD RINGWATCH_CLI GETPPID_LOOP
# Skips (exit 0, saying why) without root or tracefs. Generates the Python
# gRPC stubs at test time (as tests/e2e does), and whatever happens kills
# every ringwatchd the test started and removes their tracefs instances.
set -euo pipefail

test_py="$1"
export RINGWATCHD="$PWD/$2" RINGWATCH_CLI="$PWD/$3" GETPPID_LOOP="$PWD/$4"
tracefs=/sys/kernel/tracing

if [[ $(id -u) -ne 0 ]]; then
  echo "RINGWATCH-SKIP: $(basename "$test_py"): needs root (ringwatchd creates a tracefs instance)"
  exit 0
fi
if ! grep -qw tracefs /proc/filesystems; then
  echo "RINGWATCH-SKIP: $(basename "$test_py"): this kernel has no tracefs"
  exit 0
fi
[[ -e $tracefs/instances ]] || mount -t tracefs nodev "$tracefs" 2>/dev/null || true
if [[ ! -d $tracefs/instances ]]; then
  echo "RINGWATCH-SKIP: $(basename "$test_py"): tracefs is not mounted at $tracefs"
  exit 0
fi
if ! /usr/bin/python3 -c 'import grpc' 2>/dev/null; then
  echo "RINGWATCH-SKIP: $(basename "$test_py"): /usr/bin/python3 has no grpc (apt-get install python3-grpcio)"
  exit 0
fi

# Instances left by an earlier run whose test process is gone.
for dir in "$tracefs"/instances/rwtest_e2e_*; do
  [[ -d $dir ]] || continue
  owner="${dir##*/rwtest_e2e_}"
  owner="${owner%%_*}"
  [[ -d /proc/$owner ]] || rmdir "$dir" 2>/dev/null || true
done

tmp="${TEST_TMPDIR:-$(mktemp -d)}"
# Unix socket paths are limited to 107 bytes; Bazel's TEST_TMPDIR is long.
short="$tmp"
if ((${#tmp} > 60)); then short="$(mktemp -d /tmp/rwd.XXXXXX)"; fi
export RW_SHORT_DIR="$short" RW_PIDS_FILE="$tmp/daemons.pids"
export RW_INSTANCE_PREFIX="rwtest_e2e_$$"
: >"$RW_PIDS_FILE"

cleanup() {
  while read -r pid instance; do
    kill -KILL "$pid" 2>/dev/null || true
    [[ -d $tracefs/instances/$instance ]] && rmdir "$tracefs/instances/$instance" 2>/dev/null
  done <"$RW_PIDS_FILE"
  for dir in "$tracefs/instances/${RW_INSTANCE_PREFIX}"_*; do
    [[ -d $dir ]] && rmdir "$dir" 2>/dev/null
  done
  [[ $short != "$tmp" ]] && rm -rf "$short"
  return 0
}
trap cleanup EXIT

gen="$tmp/py"
mkdir -p "$gen"
plugin="$(command -v grpc_python_plugin)"
protoc -I. --python_out="$gen" --grpc_python_out="$gen" \
  --plugin=protoc-gen-grpc_python="$plugin" \
  proto/ringwatch/v1/config.proto proto/ringwatch/v1/ringwatch.proto

PYTHONPATH="$gen:$PWD/tests/daemon" /usr/bin/python3 -u "$test_py"
