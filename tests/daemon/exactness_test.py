"""Nothing the kernel delivered is lost in user space (issue 10).

Three helpers make 150,000, 150,000 and 400,000 getppid() calls flat out at
once, on a 2-CPU machine more runnable threads than CPUs, which starves the
readers and the merger. A cross-CPU latency aggregation (sys_enter ->
sys_exit of getppid, paired by common_pid), a count of the same calls and
cpu_time run from the config, and the same three are created over the API
for each run while the daemon runs. Whenever the kernel reports no loss,
every count and every latency pair of every helper must be exact, in 20 runs.
A run in which the kernel does report loss is repeated (at most 20 extra:
with the flight recorder on by default the starved readers pay a little
more per sub-buffer, and up to 11 of 30 runs were seen with kernel loss);
in it, status must say on which CPU how much was lost, and no helper may
miss more than that.

Before backpressure the latency aggregation dropped thousands of items in
most runs (events_dropped > 0) with no kernel loss; this test fails then.
"""

import os
import subprocess
import sys
import unittest

import grpc

import daemon_harness as h
from proto.ringwatch.v1 import config_pb2 as cfg
from proto.ringwatch.v1 import ringwatch_pb2 as pb

from google.protobuf import text_format

CALLS = (150_000, 150_000, 400_000)
CLEAN_RUNS = 20
EXTRA_RUNS = 20
WINDOW = "100ms"
WINDOW_NS = 100_000_000
T = h.TIMEOUT

# {nr} is the getppid syscall number (from the helper).
SPECS = """
aggregation {{
  name: "{prefix}latency"
  latency {{
    start {{ event: "raw_syscalls/sys_enter" key: "common_pid"
             filter: "id == {nr}" }}
    end {{ event: "raw_syscalls/sys_exit" key: "common_pid"
           filter: "id == {nr}" }}
  }}
  key: "common_pid"
  value {{ count: true }}
  value {{ histogram {{ field: "latency" log2 {{}} }} }}
  window: "{window}"
}}
aggregation {{
  name: "{prefix}count"
  event: "raw_syscalls/sys_enter"
  filter: "id == {nr}"
  key: "common_pid"
  value {{ count: true }}
  window: "{window}"
}}
aggregation {{
  name: "{prefix}cpu_time"
  cpu_time {{}}
  key: "pid"
  value {{ count: true }}
  value {{ sum: "on_cpu" }}
  window: "{window}"
}}
"""
CHECKED = ("latency", "count")


def getppid_nr():
  """SYS_getppid, as the helper reports it."""
  helper = subprocess.run([os.environ["GETPPID_LOOP"], "0"], input="go\n",
                          capture_output=True, text=True, timeout=T)
  return int(helper.stdout.split()[3])


class ExactnessTest(h.SharedDaemonTestCase):

  @classmethod
  def setUpClass(cls):
    cls.nr = getppid_nr()
    cls.start_shared_daemon(
        SPECS.format(prefix="cfg_", nr=cls.nr, window=WINDOW))

  def latest_window_start(self, name):
    try:
      return self.stub.Query(pb.QueryRequest(name=name),
                             timeout=T).result.window_start_ns
    except grpc.RpcError as e:
      self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND, e.details())
      return None

  def per_pid_counts(self, name):
    result = self.stub.Query(
        pb.QueryRequest(name=name, view=pb.RESULT_VIEW_CUMULATIVE),
        timeout=T).result
    counts = {r.key[0].int_value: r.count
              for r in result.row if r.kind == cfg.Row.KEY}
    return counts, result.counters

  def test_every_count_and_pair_exact_without_kernel_loss(self):
    clean, lossy = 0, []
    for run in range(CLEAN_RUNS + EXTRA_RUNS):
      if clean == CLEAN_RUNS:
        break
      result = self.one_run(run)
      if result["lost_per_cpu"]:
        lossy.append(result)
        print(f"run {run}: the kernel lost events, per CPU "
              f"{result['lost_per_cpu']}; repeating", file=sys.stderr)
        self.check_lossy(result)
        continue
      clean += 1
      for name, counts in result["counts"].items():
        self.assertEqual(counts, result["made"],
                         f"run {run}: {name} without kernel loss: {result}")
      for name, dropped in result["dropped"].items():
        self.assertEqual(dropped, 0, f"run {run}: {name}: {result}")
    print(f"{clean} runs without kernel loss, all exact; {len(lossy)} with "
          "loss", file=sys.stderr)
    self.assertEqual(clean, CLEAN_RUNS,
                     f"too few runs without kernel loss: {lossy}")

  def check_lossy(self, result):
    """With kernel loss, status names the CPUs, and no helper misses more
    calls (or pairs) than the kernel says it lost."""
    total = sum(result["lost_per_cpu"].values())
    self.assertGreater(total, 0)
    for name, counts in result["counts"].items():
      missing = sum(m - c for m, c in zip(result["made"], counts))
      self.assertGreaterEqual(missing, 0, f"{name}: {result}")
      # A pair needs both events: one lost event loses at most one pair.
      self.assertLessEqual(missing, total, f"{name}: {result}")

  def one_run(self, run):
    """Starts the helpers, creates this run's aggregations over the API,
    lets the helpers go, and returns what each made, what every checked
    aggregation counted for each, and the kernel's loss per CPU meanwhile."""
    helpers = [subprocess.Popen([os.environ["GETPPID_LOOP"], str(k)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True) for k in CALLS]
    api_prefix = f"api{run}_"
    try:
      pids = [int(helper.stdout.readline().split()[1]) for helper in helpers]
      config = cfg.Config()
      text_format.Parse(
          SPECS.format(prefix=api_prefix, nr=self.nr, window=WINDOW), config)
      for spec in config.aggregation:
        self.stub.CreateAggregation(
            pb.CreateAggregationRequest(aggregation=spec), timeout=T)
      names = [p + c for p in ("cfg_", api_prefix) for c in CHECKED]
      # Every aggregation is running (a window closed) before the calls.
      for name in names:
        self.assertTrue(
            h.eventually(lambda: self.latest_window_start(name) is not None),
            f"no window of {name} closed")
      before = self.status()
      done_ns = h.release_helpers(helpers)
    finally:
      h.end_helpers(helpers)

    # The trace clock is "mono": wait for the window after the one holding
    # the last calls (and the pairs' ends) to close everywhere.
    for name in names:
      self.assertTrue(
          h.eventually(lambda: (self.latest_window_start(name) or 0) >=
                       done_ns + WINDOW_NS),
          f"{name}: no window closed after the helpers")
    counts, dropped = {}, {}
    for name in names:
      per_pid, counters = self.per_pid_counts(name)
      counts[name] = [per_pid.get(pid, 0) for pid in pids]
      if name.startswith(api_prefix):
        dropped[name] = counters.events_dropped
    after = self.status()
    for spec in config.aggregation:
      self.stub.DeleteAggregation(
          pb.DeleteAggregationRequest(name=spec.name), timeout=T)
    lost_per_cpu = {}
    for b, a in zip(before.cpus, after.cpus):
      # lost_events alone can undercount (pages without a stored count).
      lost = max(a.lost_events - b.lost_events, a.overruns - b.overruns)
      if lost:
        lost_per_cpu[a.cpu] = lost
    return {"made": list(CALLS), "pids": pids, "counts": counts,
            "dropped": dropped, "lost_per_cpu": lost_per_cpu}


if __name__ == "__main__":
  unittest.main(verbosity=2)
