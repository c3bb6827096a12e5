#!/usr/bin/env bash
# The ringwatch CLI end to end against the test server: on a unix socket,
# and started by systemd-socket-activate (the server serves the inherited
# listening socket). Checks the human output, --json, and the errors.
set -euo pipefail
root="${TEST_SRCDIR:?run me with bazel test}/ringwatch"
server="$root/daemon/server/testing/test_server"
cli="$root/clients/cli/ringwatch"

dir="$(mktemp -d /tmp/rwcli.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
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
wait_for_socket() {
  for _ in $(seq 1 2000); do
    [[ -S "$1" ]] && return 0
    sleep 0.01
  done
  echo "no socket at $1" >&2
  return 1
}

sock="$dir/ringwatch.sock"
"$server" --socket="$sock" --window_ms=50 --events_per_second=500 \
  >"$dir/server.log" 2>&1 &
pids+=($!)
wait_for_socket "$sock"
rw() { "$cli" --addr="unix://$sock" "$@" 2>&1; }

check "status" "ringwatchd 0.1.0-fake on Linux" "$(rw status)"
check "status lists the socket" "listening: unix://$sock" "$(rw status)"
check "status --json" '"instance": "ringwatch-fake"' "$(rw --json status)"
check "events" "sched/sched_switch  372" "$(rw events 'sched/*')"
check "events --fields" "prev_comm   char[16]" \
  "$(rw events sched_switch --fields)"
check "aggs" "syscalls          config  raw_syscalls/sys_enter" "$(rw aggs)"
for _ in $(seq 1 2000); do rw query syscalls >/dev/null && break; sleep 0.01; done
check "query" "KEY     COUNT" "$(rw query syscalls)"
check "query --top" "2 rows of 3 keys" "$(rw query syscalls --top 2)"
check "query --cumulative" "cumulative over" "$(rw query syscalls --cumulative)"
check "query --json" '"name": "syscalls"' "$(rw query syscalls --json)"
check "watch" "#2, 0 dropped" "$(rw watch syscalls --count 2)"
check "watch --json" '"sequence":"2"' "$(rw watch syscalls --count 2 --json)"
check "tail" "sched/sched_switch prev_comm=bash" \
  "$(rw tail sched_switch --count 2 --rate 1000)"

cat >"$dir/agg.textproto" <<'SPEC'
# An aggregation as in the config file.
name: "cli_e2e"
event: "sched/sched_switch"
key: "prev_comm"
window: "1s"
SPEC
check "create --validate_only" "agg.textproto: valid" \
  "$(rw create "$dir/agg.textproto" --validate_only)"
check "create" "created aggregations/cli_e2e" "$(rw create "$dir/agg.textproto")"
check "aggs shows it" "cli_e2e           api" "$(rw aggs)"
check "delete" "deleted cli_e2e" "$(rw delete cli_e2e)"

# Errors: what to fix, and a non-zero exit.
check "unknown aggregation" \
  "ringwatch: aggregation 'nope' not found; known: switches_by_comm, syscalls" \
  "$(rw query nope || true)"
if rw query nope >/dev/null; then
  echo "FAIL: query nope exited 0"; failures=$((failures + 1))
fi
echo 'name: "x" evnt: "y"' >"$dir/bad.textproto"
check "create parse error" "bad.textproto:1:15: " \
  "$(rw create "$dir/bad.textproto" || true)"
check "daemon not running" \
  "ringwatch: cannot reach ringwatchd at unix://$dir/none.sock: is it running? (systemctl status ringwatch)" \
  "$("$cli" --addr="unix://$dir/none.sock" status 2>&1 || true)"

# systemd socket activation: the server is started on the first connection
# and serves the listening socket it inherits.
asock="$dir/activated.sock"
systemd-socket-activate -l "$asock" "$server" --window_ms=50 \
  >"$dir/activate.log" 2>&1 &
pids+=($!)
wait_for_socket "$asock"
check "socket activation" "listening: fd:3" \
  "$("$cli" --addr="unix://$asock" status 2>&1)"

echo "cli_test: $failures failed"
exit $((failures > 0))
