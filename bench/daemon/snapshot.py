"""How long a flight-recorder snapshot of 64 MiB takes, end to end, and the
memory the recorder holds; against `trace-cmd extract` of an instance whose
ring holds the same 64 MiB, measured in the same run.

ringwatchd runs the default config with flight_recorder { max_size: "64MiB"
max_age: "1h" }; bench/daemon:syscall_load fills it (getppid() flat out)
until it holds 64 MiB. Then `ringwatch snapshot -o FILE` (the readers catch
up, the daemon writes a trace.dat, streams it, the CLI writes it) is timed
for version 7 (zstd) and 6, --reps times each. The daemon's RSS is read
before the recorder fills, once it is full, and at its peak while the
snapshots run.

The peer: an instance with the same events and 32 MiB per CPU (64 MiB on
two CPUs), filled by the same load, then `trace-cmd extract -B` into a
trace.dat, timed the same way (the nearest thing trace-cmd has to "write
out what the ring holds").

  bench/daemon/snapshot.sh [--reps 3]
"""

import argparse
import os
import subprocess
import threading
import time

import benchlib as b
import daemon_harness as h

MIB = 1 << 20
SIZE = 64 * MIB
EVENTS = ["raw_syscalls:sys_enter", "sched:sched_switch", "sched:sched_waking",
          "sched:sched_process_exec"]


def rss(pid):
  with open(f"/proc/{pid}/status") as f:
    for line in f:
      if line.startswith("VmRSS:"):
        return int(line.split()[1]) * 1024
  return 0


class PeakRss:
  """Samples a process's RSS every 10 ms on a thread until stopped."""

  def __init__(self, pid):
    self.pid, self.peak, self._stop = pid, 0, threading.Event()
    self._thread = threading.Thread(target=self._run, daemon=True)

  def _run(self):
    while not self._stop.is_set():
      self.peak = max(self.peak, rss(self.pid))
      time.sleep(0.01)

  def __enter__(self):
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._stop.set()
    self._thread.join()


def timed(cmd):
  start = time.monotonic()
  out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
  seconds = time.monotonic() - start
  if out.returncode != 0:
    raise RuntimeError(f"{' '.join(cmd)}: {out.stderr}")
  return seconds


def ringwatchd_figures(reps, tmp):
  daemon = h.Daemon(b.default_config_body(
      'flight_recorder { max_size: "64MiB" max_age: "1h" }\n'), tcp=False)
  rows = []
  try:
    daemon.start()
    pid = daemon.proc.pid
    before = rss(pid)
    recorder = lambda: b.status_json(daemon).get("flightRecorder", {})
    reserved = int(recorder().get("reservedBytes", "0"))
    # Whole sub-buffers per CPU: full is the share less one page each.
    while int(recorder().get("bytesHeld", "0")) < reserved - 4 * MIB:
      b.run_load(0, 2)
    full = recorder()
    held = int(full["bytesHeld"])
    full_rss = rss(pid)
    print(f"  recorder: reserved {reserved / MIB:.1f} MiB, holds "
          f"{held / MIB:.1f} MiB in {full['pagesHeld']} sub-buffers; daemon "
          f"RSS {before / MIB:.0f} MiB at start, {full_rss / MIB:.0f} MiB "
          f"full", flush=True)
    out = os.path.join(tmp, "snapshot.dat")
    with PeakRss(pid) as peak:
      for version in ("7", "6"):
        times = []
        for _ in range(reps):
          times.append(timed([os.environ["RINGWATCH_CLI"], "--addr",
                              daemon.unix_address, "snapshot", "-o", out,
                              "--file_version", version]))
          size = os.path.getsize(out)
          os.remove(out)
        t = sorted(times)[len(times) // 2]
        rows.append((f"v{version}", t, held, size))
        print(f"  ringwatch snapshot v{version}: median {t:.3f} s of {reps} "
              f"({held / MIB / t:.0f} MiB/s of recorder), file "
              f"{size / MIB:.1f} MiB", flush=True)
    print(f"  daemon RSS peak while snapshotting: {peak.peak / MIB:.0f} MiB "
          f"({(peak.peak - full_rss) / MIB:+.0f} MiB)", flush=True)
  finally:
    daemon.stop()
    daemon.kill()
  return rows


def instance_bytes(name):
  total = 0
  base = os.path.join(h.instance_path(name), "per_cpu")
  for cpu in os.listdir(base):
    with open(os.path.join(base, cpu, "stats")) as f:
      for line in f:
        key, _, value = line.partition(":")
        if key.strip() == "bytes":
          total += int(value)
  return total


def trace_cmd_figures(reps, tmp):
  name = f"{os.environ['RW_INSTANCE_PREFIX']}_extract"
  path = h.instance_path(name)
  per_cpu_kb = SIZE // 1024 // len(h.online_cpus())

  def write(relative, value):
    with open(os.path.join(path, relative), "w") as f:
      f.write(value)

  def fill():
    """(Re)creates the instance (extract may remove it) and fills it."""
    if not os.path.isdir(path):
      os.mkdir(path)
      write("buffer_size_kb", str(per_cpu_kb))
      write("trace_clock", "mono")
      for e in EVENTS:
        system, event = e.split(":")
        write(os.path.join("events", system, event, "enable"), "1")
    write("tracing_on", "1")
    while instance_bytes(name) < SIZE - 4 * MIB:
      b.run_load(0, 2)
    write("tracing_on", "0")
    return instance_bytes(name)

  rows = []
  out = os.path.join(tmp, "extract.dat")
  times, held, size = [], 0, 0
  try:
    for _ in range(reps):
      held = fill()
      times.append(timed(["trace-cmd", "extract", "-B", name, "-o", out]))
      size = os.path.getsize(out)
      os.remove(out)
  finally:
    if os.path.isdir(path):
      os.rmdir(path)
  t = sorted(times)[len(times) // 2]
  rows.append(("extract", t, held, size))
  print(f"  trace-cmd extract: median {t:.3f} s of {reps} "
        f"({held / MIB / t:.0f} MiB/s of ring), file {size / MIB:.1f} MiB",
        flush=True)
  return rows


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--reps", type=int, default=3)
  args = parser.parse_args()
  tmp = os.environ["TEST_TMPDIR"]
  print(f"snapshot: {b.machine()}; 64 MiB of raw sub-buffers, {args.reps} "
        "runs each", flush=True)
  print("\nringwatchd flight recorder (default config + 64 MiB recorder)")
  ours = ringwatchd_figures(args.reps, tmp)
  print("\ntrace-cmd extract -B of an instance holding 64 MiB")
  theirs = trace_cmd_figures(args.reps, tmp)
  print()
  for label, t, held, size in ours:
    for _, tt, theld, _ in theirs:
      print(f"{label}: {t:.3f} s for {held / MIB:.0f} MiB; time per MiB "
            f"ratio ringwatch snapshot / trace-cmd extract "
            f"{(t / held) / (tt / theld):.2f}")


if __name__ == "__main__":
  main()
