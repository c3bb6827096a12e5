"""The highest event rate ringwatchd keeps up with, with zero lost events.

ringwatchd runs the default config (default buffer_size_kb) plus an
aggregation counting getppid() calls (bench_getppid) while
bench/daemon:syscall_load makes getppid() calls at rising rates. Around each
step, `ringwatch status --json` gives the readers' lost events and overruns,
/proc/PID/stat the daemon's CPU time, and bench_getppid's cumulative view the
calls it counted. Then the same steps are recorded by
`trace-cmd record` into an instance with the same events and buffer size.

  bench/daemon/max_rate.sh [--seconds 3] [--rates 50000,100000,...,0]

A rate of 0 runs the generator flat out; RATExT uses T threads (0x2: both
CPUs flat out, leaving the readers no idle core). --scrape adds a /metrics
listener (bench_getppid exported too) and a real Prometheus scraping it every
second for the whole run, to show scrapes cost the readers nothing.
--recorder runs the ringwatchd steps twice, with the flight recorder off
(flight_recorder { max_size: "0" }) and on (its default, 32 MiB), and prints
the readers' CPU per event of each and their ratio.
"""

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import time

import benchlib as b
import daemon_harness as h

EVENTS = ["raw_syscalls:sys_enter", "sched:sched_switch", "sched:sched_waking",
          "sched:sched_process_exec"]  # What the default config enables.


def count_config(nr, scrape=False):
  """The syscall-count aggregation added to the default config: every
  getppid() call on the machine, in one row (syscall_counts' own top_n folds
  rows, so it cannot give an exact figure)."""
  exported = "\n  metrics { enabled: true }" if scrape else ""
  listener = '\nmetrics { listen: "127.0.0.1:0" }' if scrape else ""
  return f"""
aggregation {{
  name: "bench_getppid"
  event: "raw_syscalls/sys_enter"
  filter: "id == {nr}"
  window: "1s"{exported}
}}{listener}
"""


def start_prometheus(daemon):
  """A real Prometheus scraping the daemon's /metrics every second."""
  # The fleet test's server wrapper (tests/metrics), not a second copy.
  from prometheus_fleet_test import Prometheus, metrics_address
  address = None
  if h.eventually(lambda: metrics_address(daemon)):
    address = metrics_address(daemon)
  if not address:
    raise RuntimeError("no metrics listener:\n" + daemon.log())
  prometheus = Prometheus([("bench", address)],
                          os.path.join(os.environ["TEST_TMPDIR"],
                                       "prometheus")).start()
  if not h.eventually(lambda: prometheus.value("up") == 1, timeout=60):
    prometheus.stop()
    raise RuntimeError("prometheus never scraped the daemon")
  return prometheus


def getppid_count(daemon):
  r = daemon.cli("--json", "query", "bench_getppid", "--cumulative")
  rows = json.loads(r.stdout)["result"].get("row", [])
  return sum(int(row.get("count", "0")) for row in rows)


def window_start(daemon):
  r = daemon.cli("--json", "query", "bench_getppid")
  if r.returncode != 0:
    return 0
  return int(json.loads(r.stdout)["result"].get("windowStartNs", "0"))


def ringwatchd_steps(rates, seconds, scrape=False, extra=""):
  rows = []
  nr = b.run_load(1000, 0.01)["nr"]  # SYS_getppid on this machine.
  daemon = h.Daemon(b.default_config_body(count_config(nr, scrape) + extra),
                    tcp=False)
  prometheus = None
  try:
    daemon.start()
    pid = daemon.proc.pid
    if scrape:
      prometheus = start_prometheus(daemon)
    if not h.eventually(lambda: window_start(daemon) > 0):
      raise RuntimeError("no window closed:\n" + daemon.log())
    # The machine's own background, for scale.
    s0, cpu0, t0 = b.status_json(daemon), h.process_cpu_seconds(pid), b.mono_ns()
    time.sleep(2)
    s1, cpu1, t1 = b.status_json(daemon), h.process_cpu_seconds(pid), b.mono_ns()
    wall = (t1 - t0) / 1e9
    print(f"  {'idle':>10}  {0:>12}  "
          f"{(b.totals(s1, 'events') - b.totals(s0, 'events')) / wall:>12,.0f}"
          f"  {'':>8}  {'':>8}  {100 * (cpu1 - cpu0) / wall:>6.1f}%", flush=True)
    for rate, threads in rates:
      s0 = b.status_json(daemon)
      n0 = getppid_count(daemon)
      cpu0 = h.process_cpu_seconds(pid)
      t0 = b.mono_ns()
      load = b.run_load(rate, seconds, threads)
      # Everything up to the end of the load read and folded: the window
      # after it has closed.
      if not h.eventually(
          lambda: window_start(daemon) > load["end_ns"] + 1_000_000_000):
        raise RuntimeError("windows stopped closing:\n" + daemon.log())
      cpu1 = h.process_cpu_seconds(pid)
      s1 = b.status_json(daemon)
      wall = (b.mono_ns() - t0) / 1e9
      counted = getppid_count(daemon) - n0
      rows.append({
          "target": rate,
          "threads": threads,
          "calls_per_s": load["rate"],
          # Every event read from the step's start until it was drained,
          # the machine's background included, per second of that time.
          "events_per_s": (b.totals(s1, "events") - b.totals(s0, "events")) /
                          wall,
          "lost": b.totals(s1, "lostEvents") - b.totals(s0, "lostEvents"),
          "overruns": b.totals(s1, "overruns") - b.totals(s0, "overruns"),
          # CPU time from the step's start until drained, per second of
          # load: the cost of keeping up with that rate.
          "cpu_pct": 100 * (cpu1 - cpu0) / load["seconds"],
          "calls": load["calls"],
          "counted": counted,
      })
      print_ringwatchd_row(rows[-1])
    if prometheus:
      scrapes = prometheus.value("sum_over_time(up[1h])")
      failed = prometheus.value(
          "count_over_time(up[1h]) - sum_over_time(up[1h])")
      print(f"  Prometheus: {scrapes:.0f} scrapes of /metrics, {failed:.0f} "
            "failed, one per second throughout", flush=True)
  finally:
    if prometheus:
      prometheus.stop()
    daemon.stop()
    daemon.kill()
  return rows


def step_name(rate, threads):
  name = f"{rate:,}" if rate else "max"
  return name if threads == 1 else f"{name} x{threads}"


def print_ringwatchd_row(r):
  target = step_name(r["target"], r["threads"])
  print(f"  {target:>10}  {r['calls_per_s']:>12,.0f}  {r['events_per_s']:>12,.0f}"
        f"  {r['lost']:>8}  {r['overruns']:>8}  {r['cpu_pct']:>6.1f}%"
        f"  {r['counted']:>10,} / {r['calls']:<10,}", flush=True)


def instance_loss(name):
  """overrun + dropped events over the instance's per-CPU stats."""
  total = 0
  base = os.path.join(h.instance_path(name), "per_cpu")
  for cpu in os.listdir(base):
    with open(os.path.join(base, cpu, "stats")) as f:
      for line in f:
        key, _, value = line.partition(":")
        if key.strip() in ("overrun", "dropped events"):
          total += int(value)
  return total


def trace_cmd_steps(rates, seconds, buffer_kb, tmp):
  rows = []
  name = f"{os.environ['RW_INSTANCE_PREFIX']}_tracecmd"
  out = os.path.join(tmp, "trace.dat")
  for rate, threads in rates:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    events = sum((["-e", e] for e in EVENTS), [])
    # -d -k: this kernel refuses the function tracer's files (FACTS.md).
    tc = subprocess.Popen(
        ["trace-cmd", "record", "-d", "-k", "-B", name, "-b", str(buffer_kb),
         "-C", "mono", "--compression", "none"] + events + ["-o", out],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
      def recording():
        try:
          with open(os.path.join(h.instance_path(name), "tracing_on")) as f:
            return f.read().strip() == "1"
        except FileNotFoundError:
          return False
      if not h.eventually(recording):
        raise RuntimeError("trace-cmd record did not start")
      load_before = resource.getrusage(resource.RUSAGE_CHILDREN)
      load = b.run_load(rate, seconds, threads)
      load_after = resource.getrusage(resource.RUSAGE_CHILDREN)
      tc.send_signal(signal.SIGINT)
      tc.communicate(timeout=120)
      after = resource.getrusage(resource.RUSAGE_CHILDREN)
      cpu = ((after.ru_utime + after.ru_stime - before.ru_utime -
              before.ru_stime) -
             (load_after.ru_utime + load_after.ru_stime - load_before.ru_utime -
              load_before.ru_stime))
      rows.append({
          "target": rate,
          "threads": threads,
          "calls_per_s": load["rate"],
          "lost": instance_loss(name),
          "cpu_pct": 100 * cpu / load["seconds"],
          "bytes": os.path.getsize(out),
      })
      r = rows[-1]
      target = step_name(rate, threads)
      print(f"  {target:>10}  {r['calls_per_s']:>12,.0f}  {r['lost']:>8}"
            f"  {r['cpu_pct']:>6.1f}%  {r['bytes'] / 1e6:>8.1f} MB", flush=True)
    finally:
      if tc.poll() is None:
        tc.kill()
        tc.communicate()
      if os.path.isdir(h.instance_path(name)):
        os.rmdir(h.instance_path(name))
      if os.path.exists(out):
        os.remove(out)
  return rows


def highest_clean(rows):
  clean = [r for r in rows if r["lost"] == 0 and r.get("overruns", 0) == 0]
  return max(clean, key=lambda r: r["calls_per_s"]) if clean else None


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--seconds", type=float, default=3)
  parser.add_argument("--rates",
                      default="100000,200000,400000,600000,800000,1000000,0,"
                      "0x2")
  parser.add_argument("--scrape", action="store_true",
                      help="a real Prometheus scrapes /metrics every second")
  parser.add_argument("--recorder", action="store_true",
                      help="compare the flight recorder off and on")
  args = parser.parse_args()
  # "RATE" or "RATExTHREADS"; 0 is flat out.
  rates = [tuple(int(x) for x in (r + "x1").split("x")[:2])
           for r in args.rates.split(",")]
  buffer_kb = b.default_buffer_size_kb()
  print(f"max_rate: {b.machine()}; default config, buffer_size_kb "
        f"{buffer_kb}; getppid() load, {args.seconds:g} s per step")

  print("\nringwatchd (default config + bench_getppid counting the calls" +
        (", Prometheus scraping /metrics every second)" if args.scrape else
         ")"))
  print(f"  {'target/s':>10}  {'calls/s':>12}  {'events/s':>12}"
        f"  {'lost':>8}  {'overrun':>8}  {'CPU':>7}  counted / made")
  if args.recorder:
    compare_recorder(rates, args.seconds)
    return
  ours = ringwatchd_steps(rates, args.seconds, args.scrape)

  theirs = []
  if shutil.which("trace-cmd") and not os.environ.get("NO_PEER"):
    print("\ntrace-cmd record -d -k -B (same events, buffer, clock; "
          "--compression none)")
    print(f"  {'target/s':>10}  {'calls/s':>12}  {'lost':>8}  {'CPU':>7}"
          f"  {'file':>11}")
    try:
      theirs = trace_cmd_steps(rates, args.seconds, buffer_kb,
                               os.environ["TEST_TMPDIR"])
    except (RuntimeError, subprocess.SubprocessError) as e:
      print(f"  trace-cmd record could not run: {e}")
  else:
    print("\ntrace-cmd is not installed: no peer figures")

  best = highest_clean(ours)
  print()
  if best:
    print(f"ringwatchd: highest zero-loss step {best['calls_per_s']:,.0f} "
          f"getppid() events/s at {best['cpu_pct']:.1f}% of one CPU")
  else:
    print("ringwatchd: lost events at every step")
  peer = highest_clean(theirs)
  if peer:
    print(f"trace-cmd:  highest zero-loss step {peer['calls_per_s']:,.0f} "
          f"getppid() events/s at {peer['cpu_pct']:.1f}% of one CPU")
  for o, t in zip(ours, theirs):
    if o["lost"] == 0 and t["lost"] == 0 and t["cpu_pct"] > 0:
      target = step_name(o["target"], o["threads"])
      # CPU ns per generated event: fair where the rates differ (flat out).
      ns = lambda r: r["cpu_pct"] / 100 * 1e9 / r["calls_per_s"]
      line = (f"  at {target:>12}: CPU ratio ringwatchd / trace-cmd "
              f"{o['cpu_pct'] / t['cpu_pct']:.2f}; CPU per event "
              f"{ns(o):.0f} vs {ns(t):.0f} ns")
      if o["target"] == 0:
        # Flat out, the generator's own rate shows what each tool costs the
        # traced workload.
        line += (f"; generator rate ratio "
                 f"{o['calls_per_s'] / t['calls_per_s']:.2f}")
      print(line)


def compare_recorder(rates, seconds):
  """The recorder's cost on the readers: the same steps with it off, then
  on; CPU ns per event read (background included) for each."""
  runs = {}
  for label, extra in (("off", '\nflight_recorder { max_size: "0" }'),
                       ("on", "")):
    print(f"  flight recorder {label}:", flush=True)
    runs[label] = ringwatchd_steps(rates, seconds, extra=extra)
  print("\nflight recorder cost (daemon CPU ns per event read):")
  for off, on in zip(runs["off"], runs["on"]):
    ns = lambda r: r["cpu_pct"] / 100 * 1e9 / max(r["events_per_s"], 1)
    print(f"  {step_name(off['target'], off['threads']):>10}: off {ns(off):6.0f}"
          f"  on {ns(on):6.0f}  ratio on/off {ns(on) / ns(off):.2f}"
          f"  (lost off {off['lost']}, on {on['lost']})", flush=True)


if __name__ == "__main__":
  main()
