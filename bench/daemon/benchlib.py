"""Shared parts of the ringwatchd whole-process benchmarks."""

import json
import os
import re
import subprocess
import time

import daemon_harness as h

ROOT = os.getcwd()  # The scripts run from the workspace root.


def default_config_body(extra=""):
  """config/ringwatch.textproto without its instance and listen settings
  (the harness sets its own), plus `extra`."""
  with open(os.path.join(ROOT, "config/ringwatch.textproto")) as f:
    text = f.read()
  text = re.sub(r'(?m)^instance:.*$', "", text)
  text = re.sub(r'(?ms)^listen \{.*?^\}', "", text)
  return text + "\n" + extra


def default_buffer_size_kb():
  with open(os.path.join(ROOT, "config/ringwatch.textproto")) as f:
    return int(re.search(r"(?m)^buffer_size_kb:\s*(\d+)", f.read()).group(1))


def status_json(daemon):
  r = daemon.cli("--json", "status")
  if r.returncode != 0:
    raise RuntimeError("ringwatch status: " + r.stderr)
  return json.loads(r.stdout)


def totals(status, field):
  return int(status["totals"].get(field, "0"))


def percentile(values, p):
  """Nearest-rank percentile of a non-empty list."""
  ordered = sorted(values)
  k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered))) - 1))
  return ordered[k]


def run_load(rate, seconds, threads=1):
  """Runs bench/daemon:syscall_load; returns its JSON report."""
  out = subprocess.run(
      [os.environ["SYSCALL_LOAD"], f"--rate={rate}", f"--threads={threads}",
       f"--seconds={seconds}"], capture_output=True, text=True, check=True)
  return json.loads(out.stdout)


def mono_ns():
  return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def machine():
  with open("/proc/cpuinfo") as f:
    model = re.search(r"model name\s*:\s*(.*)", f.read())
  return (f"{os.cpu_count()} CPUs ({model.group(1) if model else '?'}), "
          f"Linux {os.uname().release}")
