"""A fleet through a real Prometheus: two ringwatchd "hosts" on 127.0.0.2 and
127.0.0.3 (each with its own tracefs instance, socket and host label),
scraped every second by Debian's prometheus server. A known workload (exactly
K getppid() calls by one process) must add up to 2K across the hosts in
PromQL, each host's series must equal its daemon's own Query, and a stopped
daemon must show as up == 0 while the other keeps being scraped. Also:
`promtool check metrics` finds nothing wrong in a scrape of a daemon running
every preset, every aggregation exported."""

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest
import urllib.parse
import urllib.request

import grpc
from google.protobuf import text_format

import daemon_harness
from daemon_harness import Daemon, eventually
from proto.ringwatch.v1 import config_pb2 as cfg
from proto.ringwatch.v1 import ringwatch_pb2 as pb
from proto.ringwatch.v1 import ringwatch_pb2_grpc as pb_grpc

K = 20000
HOSTS = (("host-a", "127.0.0.2"), ("host-b", "127.0.0.3"))
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


def free_port(host="127.0.0.1"):
  with socket.socket() as s:
    s.bind((host, 0))
    return s.getsockname()[1]


def http_get(url, timeout=10):
  with urllib.request.urlopen(url, timeout=timeout) as r:
    return r.read().decode()


def metrics_address(daemon):
  """host:port of the daemon's /metrics, from its log."""
  found = re.findall(r"metrics on http://(\S+)/metrics", daemon.log())
  return found[-1] if found else None


class Prometheus:
  """A prometheus server on a generated config and a temporary storage dir,
  stopped (and its pid recorded for the wrapper's cleanup) whatever
  happens."""

  def __init__(self, targets, workdir):
    self.port = free_port()
    self.dir = workdir
    os.makedirs(os.path.join(workdir, "data"), exist_ok=True)
    lines = ["global:", "  scrape_interval: 1s", "  scrape_timeout: 1s",
             "scrape_configs:", "  - job_name: ringwatch",
             "    static_configs:"]
    for host, address in targets:
      lines += [f"      - targets: ['{address}']",
                f"        labels: {{host: '{host}'}}"]
    self.config = os.path.join(workdir, "prometheus.yml")
    with open(self.config, "w") as f:
      f.write("\n".join(lines) + "\n")
    self.log_path = os.path.join(workdir, "prometheus.log")
    self.proc = None

  def start(self):
    check = subprocess.run([PROMTOOL, "check", "config", self.config],
                           capture_output=True, text=True)
    if check.returncode != 0:
      raise RuntimeError("promtool check config: " + check.stdout +
                         check.stderr)
    self._log = open(self.log_path, "w")
    self.proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={self.config}",
         f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
         f"--web.listen-address=127.0.0.1:{self.port}"],
        stdout=self._log, stderr=subprocess.STDOUT)
    pids = os.environ.get("RW_PIDS_FILE")
    if pids:
      with open(pids, "a") as f:
        f.write(f"{self.proc.pid} -\n")

    def ready():
      if self.proc.poll() is not None:
        raise RuntimeError("prometheus exited:\n" + self.log())
      try:
        return http_get(f"http://127.0.0.1:{self.port}/-/ready", timeout=2)
      except OSError:
        return None

    if not eventually(ready, timeout=60):
      raise RuntimeError("prometheus never became ready:\n" + self.log())
    return self

  def log(self):
    with open(self.log_path) as f:
      return f.read()

  def query(self, promql):
    """The instant vector of `promql`: [(labels, float value)]."""
    url = (f"http://127.0.0.1:{self.port}/api/v1/query?" +
           urllib.parse.urlencode({"query": promql}))
    body = json.loads(http_get(url))
    if body.get("status") != "success":
      raise RuntimeError(f"{promql}: {body}")
    return [(r["metric"], float(r["value"][1]))
            for r in body["data"]["result"]]

  def value(self, promql):
    """The single value of `promql`, or None when the result is empty."""
    result = self.query(promql)
    return result[0][1] if len(result) == 1 else None

  def stop(self):
    if self.proc and self.proc.poll() is None:
      self.proc.send_signal(signal.SIGTERM)
      try:
        self.proc.wait(timeout=30)
      except subprocess.TimeoutExpired:
        self.proc.kill()
        self.proc.wait()
    if hasattr(self, "_log"):
      self._log.close()


class PrometheusFleetTest(unittest.TestCase):

  @classmethod
  def setUpClass(cls):
    for tool in (PROMETHEUS, PROMTOOL):
      if not os.access(tool, os.X_OK):
        daemon_harness.skip(f"{tool} is missing (apt-get install prometheus)")

  def test_fleet_sum_query_agreement_and_up(self):
    nr = None
    daemons = []
    prometheus = None
    try:
      # The workload's pid is known only once it runs: it waits for a go
      # line, so the daemons can start with an aggregation keyed by pid.
      loop = subprocess.Popen([os.environ["GETPPID_LOOP"], str(K)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
      pid, nr = map(int, re.match(r"pid (\d+) nr (\d+)",
                                  loop.stdout.readline()).groups())
      body = (f'aggregation {{ name: "getppid" event: "raw_syscalls/sys_enter"'
              f' filter: "common_pid == {pid} && id == {nr}"'
              f' key: "common_pid" key: "id"'
              f' metrics {{ enabled: true }} }}\n')
      for host, ip in HOSTS:
        d = Daemon(body=body + f'metrics {{ listen: "{ip}:0" }}\n', tcp=False)
        daemons.append(d)
        d.start()
      targets = [(host, eventually(lambda: metrics_address(d)))
                 for (host, _), d in zip(HOSTS, daemons)]
      for (host, ip), (_, address) in zip(HOSTS, targets):
        self.assertTrue(address and address.startswith(ip + ":"), address)
      prometheus = Prometheus(
          targets, os.path.join(os.environ["TEST_TMPDIR"], "prometheus"))
      prometheus.start()
      self.assertTrue(eventually(
          lambda: prometheus.value('count(up{job="ringwatch"} == 1)') == 2,
          timeout=60), prometheus.log())

      loop.stdin.write("go\n")
      loop.stdin.flush()
      self.assertTrue(loop.stdout.readline().startswith("done"))
      self.assertEqual(loop.wait(timeout=30), 0)

      # Each daemon's own Query of the cumulative view, once complete.
      own = {}
      for (host, _), d in zip(HOSTS, daemons):
        stub = pb_grpc.RingwatchServiceStub(
            grpc.insecure_channel("unix:" + d.socket))

        def count():
          try:
            result = stub.Query(pb.QueryRequest(
                name="getppid", view=pb.RESULT_VIEW_CUMULATIVE),
                timeout=10).result
          except grpc.RpcError:
            return None
          for row in result.row:
            if row.key and row.key[0].int_value == pid:
              # The syscall's name rides beside its number.
              self.assertEqual(row.key[1].int_value, nr)
              self.assertEqual(row.key[1].display, "getppid")
              return row.count if row.count >= K else None
          return None

        own[host] = eventually(count)
        self.assertIsNotNone(own[host], d.log())
        status = stub.GetStatus(pb.GetStatusRequest(), timeout=10)
        # Without kernel loss the count is exact (docs/architecture.md).
        self.assertEqual(status.totals.lost_events, 0, "kernel loss")
        self.assertEqual(own[host], K)

      series = "ringwatch_agg_getppid_events_total"
      total = eventually(
          lambda: prometheus.value(f'sum({series}{{common_pid="{pid}"}})')
          == 2 * K, timeout=30)
      self.assertTrue(total, prometheus.query(f"{series}"))
      for host, _ in HOSTS:
        by_host = prometheus.query(
            f'{series}{{host="{host}",common_pid="{pid}"}}')
        self.assertEqual(len(by_host), 1, by_host)
        labels, value = by_host[0]
        self.assertEqual(value, own[host])
        self.assertEqual(labels["syscall"], "getppid")
        self.assertEqual(labels["id"], str(nr))

      # One host goes away: up drops to 0 for it; the other is still
      # scraped (its samples keep getting newer).
      code, _ = daemons[1].stop()
      self.assertEqual(code, 0, daemons[1].log())
      self.assertTrue(eventually(
          lambda: prometheus.value('up{host="host-b"}') == 0, timeout=30))
      self.assertEqual(prometheus.value('up{host="host-a"}'), 1)
      before = prometheus.value('timestamp(up{host="host-a"})')
      self.assertTrue(eventually(
          lambda: prometheus.value('timestamp(up{host="host-a"})') > before
          and prometheus.value('up{host="host-a"}') == 1, timeout=30))
    finally:
      if prometheus:
        prometheus.stop()
      for d in daemons:
        d.stop()
        d.kill()

  def test_promtool_accepts_a_scrape_of_every_preset(self):
    config = cfg.Config()
    presets = sorted(glob.glob("config/presets/*.textproto"))
    self.assertTrue(presets)
    for path in presets:
      with open(path) as f:
        preset = text_format.Parse(f.read(), cfg.Config())
      for aggregation in preset.aggregation:
        aggregation.metrics.enabled = True
        config.aggregation.append(aggregation)
    d = Daemon(body=text_format.MessageToString(config) +
               'metrics { listen: "127.0.0.1:0" }\n', tcp=False)
    try:
      d.start()
      address = eventually(lambda: metrics_address(d))
      self.assertIsNotNone(address, d.log())
      # Wait until every aggregation has closed a window (so its families
      # are in the scrape), with some load from this test itself.
      names = [a.name for a in config.aggregation]

      def exported():
        text = http_get(f"http://{address}/metrics")
        missing = [n for n in names if f"ringwatch_agg_{n}_" not in text]
        return text if not missing else None

      text = eventually(exported, timeout=60)
      self.assertIsNotNone(text, http_get(f"http://{address}/metrics"))
      check = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                             capture_output=True, text=True)
      self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
      self.assertEqual(check.stdout + check.stderr, "")
      for family in ("ringwatch_build_info", "process_cpu_seconds_total",
                     "process_start_time_seconds", "process_open_fds",
                     "ringwatch_reader_events_total",
                     "ringwatch_window_publish_delay_seconds_bucket",
                     "ringwatch_aggregation_cut_series"):
        self.assertIn(family, text)
    finally:
      d.stop()
      d.kill()


if __name__ == "__main__":
  unittest.main()
