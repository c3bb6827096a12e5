#!/bin/bash
# Captures the trace.dat fixtures for daemon/tracedat from the running kernel:
# fills a private tracefs instance (never the top-level buffer), extracts it
# with trace-cmd as file version 7 (zstd, trace-cmd's default), converts it to
# version 6, and saves `trace-cmd report` output beside each file. A second,
# tiny instance flooded with syscalls gives lossy_v7.dat, whose pages carry
# the kernel's missed-events counts.
#
# Usage (as root): tests/data/tracedat/capture.sh [OUTPUT_DIR]
#
# To keep the fixtures small, trace-cmd runs in a private mount namespace where
# /proc/kallsyms is empty and events/ holds the kernel's format files of a few
# systems only (trace-cmd otherwise stores 5 MB of symbols and every format of
# the kernel). The formats and the ring-buffer pages stored are the kernel's.
set -euo pipefail

out_dir=$(realpath "${1:-$(dirname "$0")}")
tracefs=/sys/kernel/tracing
name=rwdat_$$
inst=$tracefs/instances/$name
lossy_name=rwdat_lossy_$$
lossy=$tracefs/instances/$lossy_name
scratch=$(mktemp -d)

cleanup() {
  # trace-cmd extract removes an instance it has read; remove what is left.
  for dir in "$inst" "$lossy"; do
    if [[ -d $dir ]]; then
      echo 0 >"$dir/tracing_on" || true
      rmdir "$dir" || echo "capture.sh: could not remove $dir" >&2
    fi
  done
  rm -rf "$scratch"
}
trap cleanup EXIT

mkdir "$inst"
echo 0 >"$inst/tracing_on"
echo 64 >"$inst/buffer_size_kb"
# Only this script and its children: other work on the machine would make the
# capture large and its content arbitrary.
echo $$ >"$inst/set_event_pid"
echo 1 >"$inst/options/event-fork"
echo 1 >"$inst/events/sched/sched_switch/enable"
echo 1 >"$inst/events/sched/sched_waking/enable"
echo 1 >"$inst/tracing_on"

# Markers become ftrace/print events; short sleeps force switches and
# wake-ups, on both CPUs when there are two.
for i in $(seq 1 40); do
  echo "rwdat marker $i" >"$inst/trace_marker"
  sleep 0.001 &
  sleep 0.002 &
  wait
done

# A short burst of syscalls (builtins only: a fork and exec would make
# hundreds).
echo 1 >"$inst/events/raw_syscalls/enable"
for i in 1 2 3; do
  echo "rwdat syscall burst $i" >"$inst/trace_marker"
done
echo 0 >"$inst/events/raw_syscalls/enable"

echo "rwdat done" >"$inst/trace_marker"
echo 0 >"$inst/tracing_on"

# The lossy capture: 8 KB per CPU cannot hold the syscalls of a byte-wise dd,
# so the writer overruns the unread pages.
mkdir "$lossy"
echo 0 >"$lossy/tracing_on"
echo 8 >"$lossy/buffer_size_kb"
echo $$ >"$lossy/set_event_pid"
echo 1 >"$lossy/options/event-fork"
echo 1 >"$lossy/events/sched/sched_switch/enable"
echo 1 >"$lossy/tracing_on"
echo "rwdat lossy start" >"$lossy/trace_marker"
echo 1 >"$lossy/events/raw_syscalls/enable"
dd if=/dev/zero of=/dev/null bs=1 count=20000 2>/dev/null
echo 0 >"$lossy/events/raw_syscalls/enable"
echo "rwdat lossy end" >"$lossy/trace_marker"
echo 0 >"$lossy/tracing_on"

# The kernel's format files of the systems kept (see the header).
mkdir "$scratch/events"
cat "$tracefs/events/header_page" >"$scratch/events/header_page"
cat "$tracefs/events/header_event" >"$scratch/events/header_event"
for sys in ftrace sched raw_syscalls irq timer; do
  for fmt in "$tracefs/events/$sys"/*/format; do
    ev=$(basename "$(dirname "$fmt")")
    mkdir -p "$scratch/events/$sys/$ev"
    cat "$fmt" >"$scratch/events/$sys/$ev/format"
  done
done
: >"$scratch/kallsyms"

cd "$out_dir"
rm -f ./*.dat ./*.report.txt ./*.raw-report.txt
unshare --mount --propagation private bash -c "
  set -e
  mount --bind '$scratch/kallsyms' /proc/kallsyms
  mount --bind '$scratch/events' '$tracefs/events'
  trace-cmd extract -B '$name' -o v7.dat
  trace-cmd extract -B '$lossy_name' -o lossy_v7.dat
"
trace-cmd convert --file-version 6 -i v7.dat -o v6.dat
# .report.txt: the default rendering (microseconds, print formats).
# .raw-report.txt: every field's raw value, nanosecond timestamps.
for f in v7 v6 lossy_v7; do
  trace-cmd report -i "$f.dat" >"$f.report.txt"
  trace-cmd report -R -t -i "$f.dat" >"$f.raw-report.txt"
done
trace-cmd dump --summary -i v7.dat
grep DROPPED lossy_v7.report.txt || echo "capture.sh: lossy_v7 shows no loss" >&2
ls -l ./*.dat ./*.txt
