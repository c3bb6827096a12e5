"""Time and daemon CPU per /metrics scrape: ringwatchd running every preset,
every aggregation exported with a series cap of 5 (reached by all of them
that have more than 5 keys), scraped N times back to back.

  /usr/bin/python3 bench/daemon/metrics_scrape.py RINGWATCHD [N]

Prints the scrape's size, series, and per scrape: wall time (median and p90)
and the daemon's CPU (user + system over the run / N, idle CPU of the same
span subtracted)."""

import glob
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def cpu_seconds(pid):
  with open(f"/proc/{pid}/stat") as f:
    fields = f.read().rsplit(")", 1)[1].split()
  return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
  daemon, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200
  work = tempfile.mkdtemp(prefix="rwscrape.")
  body = []
  for path in sorted(glob.glob("config/presets/*.textproto")):
    text = open(path).read()
    body.append(re.sub(r"^aggregation \{", "aggregation {\n  metrics { "
                       "enabled: true max_series: 5 }", text, flags=re.M))
  config = os.path.join(work, "c.textproto")
  with open(config, "w") as f:
    f.write(f'instance: "rwbench_scrape_{os.getpid()}"\n'
            f'listen {{ unix_socket: "{work}/s" }}\n'
            'metrics { listen: "127.0.0.1:0" }\n' + "\n".join(body))
  log = open(os.path.join(work, "log"), "w")
  proc = subprocess.Popen([daemon, "--config", config, "--pid_file",
                           os.path.join(work, "pid")], stdout=log,
                          stderr=subprocess.STDOUT)
  try:
    address = None
    deadline = time.monotonic() + 30
    while not address and time.monotonic() < deadline:
      found = re.findall(r"metrics on http://(\S+)/metrics",
                         open(os.path.join(work, "log")).read())
      address = found[-1] if found else None
      time.sleep(0.1)
    url = f"http://{address}/metrics"
    time.sleep(5)  # Every aggregation closes windows and fills its keys.
    text = urllib.request.urlopen(url).read().decode()
    series = [l for l in text.splitlines() if l and not l.startswith("#")]
    cut = [l for l in series if l.startswith("ringwatch_aggregation_cut_series")]
    # Idle CPU over a span as long as the scrapes take.
    c0, t0 = cpu_seconds(proc.pid), time.monotonic()
    walls = []
    for _ in range(n):
      s = time.monotonic()
      urllib.request.urlopen(url).read()
      walls.append(time.monotonic() - s)
    busy_cpu, span = cpu_seconds(proc.pid) - c0, time.monotonic() - t0
    c1 = cpu_seconds(proc.pid)
    time.sleep(span)
    idle_cpu = cpu_seconds(proc.pid) - c1
    walls.sort()
    print(f"scrape: {len(text)} bytes, {len(series)} samples; cut series: "
          + ", ".join(l.split("{")[1] for l in cut))
    print(f"{n} scrapes: wall median {statistics.median(walls)*1e3:.2f} ms, "
          f"p90 {walls[int(0.9*n)]*1e3:.2f} ms; daemon CPU per scrape "
          f"{(busy_cpu - idle_cpu) / n * 1e3:.2f} ms "
          f"(busy {busy_cpu:.2f} s, idle {idle_cpu:.2f} s over {span:.1f} s)")
  finally:
    proc.terminate()
    proc.wait(timeout=30)


if __name__ == "__main__":
  main()
