#!/bin/bash
# Captures all_events_v7.dat: every event of the running kernel enabled in a
# private tracefs instance for a fraction of a second, extracted with
# trace-cmd (file version 7, zstd), with `trace-cmd report -R -t` beside it
# (all_events_v7.raw-report.txt: every field's value as trace-cmd renders
# it). daemon/tracedat:all_events_report_test compares every field of every
# event with that text.
#
# Usage (as root): tests/data/tracedat/capture_all_events.sh [OUTPUT_DIR]
#
# The ring is 128 KB per CPU, so the file holds the last ~128 KB each CPU
# wrote (the rest is overwritten and shows as loss). trace-cmd runs in a
# private mount namespace where /proc/kallsyms is empty (it would store 5 MB
# of symbols); addresses then print as hex. The formats are the kernel's own,
# every one of them.
set -euo pipefail

out_dir=$(realpath "${1:-$(dirname "$0")}")
tracefs=/sys/kernel/tracing
name=rwdat_all_$$
inst=$tracefs/instances/$name
scratch=$(mktemp -d)

cleanup() {
  if [[ -d $inst ]]; then
    echo 0 >"$inst/tracing_on" || true
    echo 0 >"$inst/events/enable" || true
    rmdir "$inst" || echo "capture_all_events.sh: could not remove $inst" >&2
  fi
  rm -f "$scratch/kallsyms"
  rmdir "$scratch"
}
trap cleanup EXIT

mkdir "$inst"
echo 0 >"$inst/tracing_on"
echo 128 >"$inst/buffer_size_kb"
echo 1 >"$inst/events/enable"
echo 1 >"$inst/tracing_on"
echo "rwdat all events" >"$inst/trace_marker"
sleep 0.1
echo 0 >"$inst/tracing_on"
echo 0 >"$inst/events/enable"

: >"$scratch/kallsyms"
cd "$out_dir"
rm -f all_events_v7.dat all_events_v7.raw-report.txt
unshare --mount --propagation private bash -c "
  set -e
  mount --bind '$scratch/kallsyms' /proc/kallsyms
  trace-cmd extract -B '$name' -o all_events_v7.dat
"
trace-cmd report -R -t -i all_events_v7.dat >all_events_v7.raw-report.txt
trace-cmd dump --summary -i all_events_v7.dat
echo "event types seen: $(grep -oE '\] +[0-9]+\.[0-9]+: +[a-z_0-9]+:' all_events_v7.raw-report.txt | awk '{print $NF}' | sort -u | wc -l)"
ls -l all_events_v7.dat all_events_v7.raw-report.txt
