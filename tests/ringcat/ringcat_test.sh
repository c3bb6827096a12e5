#!/usr/bin/env bash
# End-to-end checks of the ringcat binary as a user runs it: trace.dat input,
# usage errors, and (as root with tracefs) live runs in instances of its own.
set -uo pipefail

ringcat="$1"
data_dir="$2"
json_check="$3"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect_eq() { [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"; }

# --- trace.dat input: as many events as trace-cmd report printed ----------
for v in v7 v6; do
  "$ringcat" --input "$data_dir/$v.dat" --format jsonl >"$tmp/$v.jsonl" 2>"$tmp/$v.err"
  expect_eq "$?" 0 "ringcat --input $v.dat exit code"
  want=$(grep -c '^rwdat_' "$data_dir/$v.report.txt")
  got=$(wc -l <"$tmp/$v.jsonl")
  expect_eq "$got" "$want" "$v.dat event count"
  grep -q "trace.dat v${v#v}" "$tmp/$v.err" || fail "$v summary missing: $(cat "$tmp/$v.err")"
done
cmp -s "$tmp/v7.jsonl" "$tmp/v6.jsonl" || fail "v6 and v7 decode differently"

# --- JSON lines of every event type, through a strict parser --------------
# (docs/ringcat-json.md): no duplicate keys, the schema's envelope, and the
# CPU, timestamp, name and pid trace-cmd reports for each event.
"$ringcat" --input "$data_dir/all_events_v7.dat" --format jsonl >"$tmp/all.jsonl" 2>"$tmp/all.err"
expect_eq "$?" 0 "ringcat --input all_events_v7.dat exit code"
if python3 "$json_check" "$tmp/all.jsonl" "$data_dir/all_events_v7.raw-report.txt" >"$tmp/check.out"; then
  cat "$tmp/check.out"
  # The fixture holds events with a field named cpu (ipi_send_cpu, ...): the
  # case the nesting exists for must have been exercised.
  grep -q "; 0 carry" "$tmp/check.out" && fail "no event with a field named like an envelope key in the fixture"
else
  fail "strict JSON check of all_events_v7.dat"
fi

# --- bad input and usage ---------------------------------------------------
head -c 3000 "$data_dir/v7.dat" >"$tmp/truncated.dat"
"$ringcat" --input "$tmp/truncated.dat" >/dev/null 2>"$tmp/trunc.err"
expect_eq "$?" 1 "truncated trace.dat exit code"
grep -q "truncated.dat" "$tmp/trunc.err" || fail "truncated error does not name the file: $(cat "$tmp/trunc.err")"
"$ringcat" --format yaml >/dev/null 2>"$tmp/usage.err"
expect_eq "$?" 2 "bad --format exit code"
grep -q "expected jsonl or text" "$tmp/usage.err" || fail "bad --format message: $(cat "$tmp/usage.err")"
"$ringcat" --drain --duration 3 >/dev/null 2>&1
expect_eq "$?" 2 "--drain with --duration exit code"

# --- live rings ----------------------------------------------------------------
tracefs=/sys/kernel/tracing
if [[ $(id -u) -ne 0 ]]; then
  echo "RINGWATCH-SKIP: live ringcat checks: not root" >&2
elif ! grep -q tracefs /proc/filesystems; then
  echo "RINGWATCH-SKIP: live ringcat checks: kernel has no tracefs" >&2
elif ! command -v trace-cmd >/dev/null; then
  echo "RINGWATCH-SKIP: live ringcat checks: no trace-cmd (tools/setup.sh installs it)" >&2
else
  [[ -e $tracefs/trace ]] || mount -t tracefs nodev $tracefs || true
  name="rwtest_ringcat_$$"
  cleanup() { [[ -d $tracefs/instances/$name ]] && rmdir "$tracefs/instances/$name"; }
  trap cleanup EXIT

  # Unknown event: clear error naming it, exit 1, own instance removed.
  "$ringcat" --events sched/sched_swich --drain >/dev/null 2>"$tmp/unknown.err"
  expect_eq "$?" 1 "unknown event exit code"
  grep -q "sched_swich" "$tmp/unknown.err" || fail "unknown event not named: $(cat "$tmp/unknown.err")"
  grep -q "sched/sched_switch" "$tmp/unknown.err" || fail "no close match offered: $(cat "$tmp/unknown.err")"

  # An existing instance: --drain reads what it holds, changes nothing.
  mkdir "$tracefs/instances/$name"
  echo sched:sched_wakeup >"$tracefs/instances/$name/set_event"
  echo 0 >"$tracefs/instances/$name/events/sched/sched_wakeup/enable"
  before=$(cat "$tracefs/instances/$name/set_event"; cat "$tracefs/instances/$name/tracing_on" "$tracefs/instances/$name/buffer_size_kb")
  for i in $(seq 1 200); do echo "ringcat-marker-$i" >"$tracefs/instances/$name/trace_marker"; done
  "$ringcat" --instance "$name" --drain --format jsonl >"$tmp/drain.jsonl" 2>"$tmp/drain.err"
  expect_eq "$?" 0 "--drain exit code"
  got=$(grep -o '"buf":"ringcat-marker-[0-9]*' "$tmp/drain.jsonl" | sed 's/.*marker-//' | tr '\n' ' ')
  expect_eq "$got" "$(seq 1 200 | tr '\n' ' ')" "markers drained once each, in order"
  after=$(cat "$tracefs/instances/$name/set_event"; cat "$tracefs/instances/$name/tracing_on" "$tracefs/instances/$name/buffer_size_kb")
  expect_eq "$after" "$before" "existing instance setup unchanged"
  [[ -d $tracefs/instances/$name ]] || fail "ringcat removed an instance it did not create"
  grep -q "mmap" "$tmp/drain.err" || fail "summary does not say mmap: $(cat "$tmp/drain.err")"
  # A second drain finds it empty: nothing was left behind or read twice.
  "$ringcat" --instance "$name" --drain --format jsonl >"$tmp/drain2.jsonl" 2>/dev/null
  expect_eq "$(grep -c ringcat-marker "$tmp/drain2.jsonl")" 0 "second drain is empty"

  # --output: the same instance refilled, written as trace.dat (v7 zstd, v7
  # without compression, v6), read by trace-cmd and by ringcat itself.
  for variant in "7 zstd" "7 none" "6 zstd"; do
    read -r version compression <<<"$variant"
    out="$tmp/out_v${version}_$compression.dat"
    for i in $(seq 1 100); do echo "ringcat-out-$i" >"$tracefs/instances/$name/trace_marker"; done
    "$ringcat" --instance "$name" --drain --output "$out" --file_version "$version" \
      --compression "$compression" --kallsyms=false 2>"$tmp/out.err"
    expect_eq "$?" 0 "--output v$version $compression exit code"
    grep -q "wrote $out: trace.dat v$version" "$tmp/out.err" || fail "--output summary: $(cat "$tmp/out.err")"
    if trace-cmd report -i "$out" >"$tmp/out.report" 2>"$tmp/out.report.err"; then
      got=$(grep -o 'ringcat-out-[0-9]*' "$tmp/out.report" | sed 's/.*out-//' | tr '\n' ' ')
      expect_eq "$got" "$(seq 1 100 | tr '\n' ' ')" "trace-cmd report of v$version $compression: markers once each, in order"
    else
      fail "trace-cmd report -i $out: $(tail -3 "$tmp/out.report.err")"
    fi
    trace-cmd report -R -t -i "$out" >"$tmp/out.raw" 2>/dev/null
    "$ringcat" --input "$out" --format jsonl >"$tmp/out.jsonl" 2>"$tmp/out.in.err"
    expect_eq "$?" 0 "ringcat --input of its own v$version $compression file"
    grep -q "trace.dat v$version" "$tmp/out.in.err" || fail "read-back summary: $(cat "$tmp/out.in.err")"
    python3 "$json_check" "$tmp/out.jsonl" "$tmp/out.raw" >/dev/null ||
      fail "ringcat's decode of its own v$version $compression file differs from trace-cmd report"
  done
  "$ringcat" --input "$data_dir/v7.dat" --output "$tmp/x.dat" >/dev/null 2>&1
  expect_eq "$?" 2 "--input with --output exit code"
  "$ringcat" --output "$tmp/x.dat" --file_version 5 >/dev/null 2>&1
  expect_eq "$?" 2 "--file_version 5 exit code"

  # Its own instance is removed on Ctrl-C (SIGINT).
  "$ringcat" --format jsonl >"$tmp/live.jsonl" 2>"$tmp/live.err" &
  pid=$!
  own="$tracefs/instances/ringcat_$pid"
  for _ in $(seq 1 500); do [[ -e $own/tracing_on ]] && grep -q sched_switch "$own/set_event" 2>/dev/null && break; sleep 0.01; done
  [[ -d $own ]] || fail "ringcat did not create $own"
  kill -INT "$pid"
  wait "$pid"
  expect_eq "$?" 0 "ringcat exit code after SIGINT"
  [[ -d $own ]] && fail "ringcat left $own behind after SIGINT"
  grep -q '"event":"sched/sched_switch"' "$tmp/live.jsonl" || fail "no sched_switch decoded live"
fi

if ((failures)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "ringcat checks passed"
