#!/usr/bin/env bash
# ringwatch-dashboard against a live ringwatchd: the daemon's CPU with 1 and
# with N simulated browsers, the dashboard's CPU per update per browser, and
# window end -> browser latency. Figures: docs/dashboard.md.
#   bench/dashboard/dashboard_bench.sh [--seconds 15] [--browsers 100] [--rounds 2]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [[ $(id -u) -ne 0 || ! -d /sys/kernel/tracing/instances ]]; then
  echo "needs root and tracefs at /sys/kernel/tracing" >&2
  exit 1
fi
bazel build //daemon:ringwatchd 2>&1 | grep -vE '^[0-9]+\.[0-9]+: src/main/tools/' | tail -n 1 >&2
export RINGWATCHD="${RINGWATCHD:-$(bazel info bazel-bin 2>/dev/null)/daemon/ringwatchd}"
bash clients/dashboard/npm-ci.sh
tmp="$(mktemp -d /tmp/rwdbench.XXXXXX)"
export RW_SHORT_DIR="$tmp" RW_PIDS_FILE="$tmp/pids" RW_INSTANCE_PREFIX="rwbench_dash_$$"
: >"$RW_PIDS_FILE"
cleanup() {
  while read -r pid instance; do
    kill -KILL "$pid" 2>/dev/null || true
  done <"$RW_PIDS_FILE"
  for dir in /sys/kernel/tracing/instances/"$RW_INSTANCE_PREFIX"_*; do
    [[ -d $dir ]] && rmdir "$dir" 2>/dev/null
  done
  rm -rf --one-file-system "$tmp"
  return 0
}
trap cleanup EXIT
node bench/dashboard/dashboard_bench.js "$@"
