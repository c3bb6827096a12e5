#!/usr/bin/env bash
# The ringwatch CLI against the real ringwatchd on the live kernel: its own
# tracefs instance (unique name, removed at the end even on failure) and its
# own socket. Skips, saying why, without root or tracefs instances.
set -euo pipefail
root="${TEST_SRCDIR:?run me with bazel test}/ringwatch"
daemon="$root/daemon/ringwatchd"
cli="$root/clients/cli/ringwatch"
tracefs=/sys/kernel/tracing

if [[ $(id -u) -ne 0 ]]; then
  echo "RINGWATCH-SKIP: ringwatchd needs root to create a tracefs instance"
  exit 0
fi
if [[ ! -d "$tracefs/instances" ]]; then
  echo "RINGWATCH-SKIP: no tracefs instances at $tracefs/instances (not mounted?)"
  exit 0
fi

instance="rw-e2e-$$"
dir="$(mktemp -d /tmp/rwd.XXXXXX)"
daemon_pid=""
cleanup() {
  if [[ -n "$daemon_pid" ]]; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  # A daemon that died cannot remove its instance: do it here.
  if [[ -d "$tracefs/instances/$instance" ]]; then
    rmdir "$tracefs/instances/$instance" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

failures=0
check() {  # check NAME EXPECTED_SUBSTRING OUTPUT
  if [[ "$3" == *"$2"* ]]; then
    echo "ok: $1"
  else
    echo "FAIL: $1: expected to find [$2] in:"
    echo "$3"
    failures=$((failures + 1))
  fi
}

cat >"$dir/config.textproto" <<CONFIG
instance: "$instance"
buffer_size_kb: 512
aggregation {
  name: "switches"
  event: "sched/sched_switch"
  key: "prev_comm"
  window: "200ms"
}
CONFIG
sock="$dir/ringwatch.sock"
"$daemon" --config="$dir/config.textproto" --unix_socket="$sock" \
  >"$dir/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 3000); do
  [[ -S "$sock" ]] && break
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "ringwatchd exited:"; cat "$dir/daemon.log"; exit 1
  fi
  sleep 0.01
done
rw() { "$cli" --addr="unix://$sock" "$@" 2>&1; }

check "status" "ringwatchd 0.1.0 on Linux $(uname -r)" "$(rw status)"
check "status names the instance" "instance $instance" "$(rw status)"
check "events from the kernel" "sched/sched_switch" "$(rw events 'sched/*')"
check "aggs" "switches  config  sched/sched_switch  prev_comm  200ms" \
  "$(rw aggs)"
# Context switches happen on their own; wait for a closed window.
for _ in $(seq 1 1000); do rw query switches >/dev/null && break; sleep 0.01; done
check "query" "PREV_COMM" "$(rw query switches)"
check "watch" "#2, 0 dropped" "$(rw watch switches --count 2)"
check "tail" "sched/sched_switch prev_comm=" \
  "$(rw tail sched_switch --count 3 --rate 1000)"

cat >"$dir/agg.textproto" <<'SPEC'
name: "by_next"
event: "sched/sched_switch"
key: "next_comm"
window: "500ms"
SPEC
check "create" "created aggregations/by_next" "$(rw create "$dir/agg.textproto")"
check "delete" "deleted by_next" "$(rw delete by_next)"
echo 'name: "bad" event: "sched/no_such_event"' >"$dir/bad.textproto"
check "the engine validates created specs" "no_such_event" \
  "$(rw create "$dir/bad.textproto" || true)"

kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=""
if [[ -d "$tracefs/instances/$instance" ]]; then
  echo "FAIL: instance $instance left behind"; failures=$((failures + 1))
else
  echo "ok: instance removed"
fi
if [[ -e "$sock" ]]; then
  echo "FAIL: socket left behind"; failures=$((failures + 1))
else
  echo "ok: socket removed"
fi

echo "ringwatchd_test: $failures failed"
exit $((failures > 0))
