# Sourced by the bench/daemon/*.sh scripts: builds ringwatchd, the CLI and the
# load generator (optimized), generates the Python gRPC stubs, and runs
# bench/daemon/$1.py with the environment tests/daemon/daemon_harness.py
# expects. Every ringwatchd started is killed and its instance removed on
# exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [[ $(id -u) -ne 0 || ! -d /sys/kernel/tracing/instances ]]; then
  echo "needs root and tracefs at /sys/kernel/tracing" >&2
  exit 1
fi
bazel build -c opt //daemon:ringwatchd //clients/cli:ringwatch \
  //bench/daemon:syscall_load 2>&1 |
  grep -vE '^[0-9]+\.[0-9]+: src/main/tools/' | tail -n 1 >&2
bin="$(bazel info -c opt bazel-bin 2>/dev/null)"
export RINGWATCHD="$bin/daemon/ringwatchd" RINGWATCH_CLI="$bin/clients/cli/ringwatch"
export SYSCALL_LOAD="$bin/bench/daemon/syscall_load"

tmp="$(mktemp -d /tmp/rwbench.XXXXXX)"
export TEST_TMPDIR="$tmp" RW_SHORT_DIR="$tmp" RW_PIDS_FILE="$tmp/daemons.pids"
export RW_INSTANCE_PREFIX="rwbench_$$"
: >"$RW_PIDS_FILE"
cleanup() {
  while read -r pid instance; do
    kill -KILL "$pid" 2>/dev/null || true
  done <"$RW_PIDS_FILE"
  for dir in /sys/kernel/tracing/instances/rwbench_"$$"_*; do
    [[ -d $dir ]] && rmdir "$dir" 2>/dev/null
  done
  rm -rf "$tmp"
  return 0
}
trap cleanup EXIT

protoc -I. --python_out="$tmp" --grpc_python_out="$tmp" \
  --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" \
  proto/ringwatch/v1/config.proto proto/ringwatch/v1/ringwatch.proto

run_bench() {  # run_bench NAME ARGS...
  local name="$1"
  shift
  echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs:" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  PYTHONPATH="$tmp:$PWD/tests/daemon:$PWD/tests/metrics:$PWD/bench/daemon" \
    /usr/bin/python3 -u "bench/daemon/$name.py" "$@"
}
