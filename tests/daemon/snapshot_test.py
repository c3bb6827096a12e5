"""The flight recorder of the real ringwatchd (issue 14 §3), on the live
kernel, through the CLI and the gRPC API:

- `ringwatch snapshot -o FILE.dat` writes a trace.dat that trace-cmd report
  and ringcat read, holding each marker written before the snapshot exactly
  once (versions 7 and 6);
- `--seconds S` covers the span asked for: its oldest event is at or before
  the cut, its newest at or after the last marker;
- bad requests and a daemon without a recorder get errors naming the
  argument and the reason, and leave no file behind;
- the recorder's memory is charged to limits.max_memory;
- a trigger fires once for one crossing of its threshold, writes its file
  into snapshot_dir and announces it to the aggregation's subscribers, and
  a second crossing within min_interval is counted as rate limited, not
  fired.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest
import uuid

import grpc

import daemon_harness as h
from proto.ringwatch.v1 import ringwatch_pb2 as pb
from proto.ringwatch.v1 import ringwatch_pb2_grpc as pb_grpc

T = h.TIMEOUT
RINGCAT = os.path.join(os.getcwd(), "clients/ringcat/ringcat")


def write_markers(instance, texts):
  """Writes each text to the instance's trace_marker (one event each)."""
  path = os.path.join(h.instance_path(instance), "trace_marker")
  for text in texts:
    with open(path, "w") as f:
      f.write(text)


def ringcat_events(path):
  """Every event of a trace.dat as ringcat decodes it (dicts)."""
  out = subprocess.run([RINGCAT, "--input", path, "--format", "jsonl"],
                       capture_output=True, text=True, timeout=T)
  if out.returncode != 0:
    raise AssertionError(f"ringcat --input {path}: {out.stderr}")
  return [json.loads(line) for line in out.stdout.splitlines() if line]


def trace_cmd_report(path):
  out = subprocess.run(["trace-cmd", "report", path], capture_output=True,
                       text=True, timeout=T)
  if out.returncode != 0:
    raise AssertionError(f"trace-cmd report {path}: {out.stderr}")
  return out.stdout


def marker_counts(events, prefix):
  counts = {}
  for e in events:
    if e["event"] != "ftrace/print":
      continue
    text = e["fields"].get("buf", "").strip()
    if text.startswith(prefix):
      counts[text] = counts.get(text, 0) + 1
  return counts


class SnapshotTest(unittest.TestCase):

  @classmethod
  def setUpClass(cls):
    if shutil.which("trace-cmd") is None:
      h.skip("snapshot_test: trace-cmd is not installed (tools/setup.sh)")
    cls.snapshot_dir = os.path.join(os.environ["TEST_TMPDIR"], "snapshots")
    cls.daemon = h.Daemon(f"""
events: "sched/sched_switch"
flight_recorder {{
  max_size: "16MiB"
  max_age: "60s"
  snapshot_dir: "{cls.snapshot_dir}"
  trigger {{
    name: "burst"
    aggregation: "markers"
    value: "count"
    above: 50
    min_interval: "1h"
    span: "5s"
  }}
}}
aggregation {{
  name: "markers"
  event: "ftrace/print"
  filter: "buf ~ \\"burst-*\\""
  window: "300ms"
}}
""")
    try:
      cls.daemon.start()
    except Exception:
      cls.daemon.kill()
      raise
    cls.channel = grpc.insecure_channel(cls.daemon.tcp_address)
    cls.stub = pb_grpc.RingwatchServiceStub(cls.channel)

  @classmethod
  def tearDownClass(cls):
    cls.channel.close()
    code, _ = cls.daemon.stop()
    cls.daemon.kill()
    assert code == 0, f"ringwatchd exited {code}:\n{cls.daemon.log()}"

  def recorder(self):
    return self.stub.GetStatus(pb.GetStatusRequest(),
                               timeout=T).flight_recorder

  def snapshot(self, *args):
    out = os.path.join(os.environ["TEST_TMPDIR"], f"{uuid.uuid4().hex}.dat")
    r = self.daemon.cli("snapshot", "-o", out, *args)
    self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
    self.assertRegex(r.stdout, r"^wrote .*: \d+ sub-buffers")
    self.assertFalse(os.path.exists(out + ".partial"))
    return out

  def test_each_marker_once_in_v7_and_v6(self):
    prefix = f"snap-{uuid.uuid4().hex[:8]}-"
    texts = [f"{prefix}{i}" for i in range(500)]
    write_markers(self.daemon.instance, texts)
    for version in ("7", "6"):
      with self.subTest(version=version):
        path = self.snapshot("--file_version", version)
        counts = marker_counts(ringcat_events(path), prefix)
        self.assertEqual(set(counts), set(texts),
                         f"missing: {sorted(set(texts) - set(counts))[:5]}")
        self.assertEqual({c for c in counts.values()}, {1})
        report = trace_cmd_report(path)
        in_report = re.findall(re.escape(prefix) + r"\d+", report)
        self.assertEqual(sorted(in_report), sorted(texts))
        with open(path, "rb") as f:
          head = f.read(16)
        self.assertTrue(head.startswith(b"\x17\x08\x44tracing"), head)
        self.assertEqual(head[10:11], version.encode(), head)

  def test_seconds_covers_the_span(self):
    prefix = f"span-{uuid.uuid4().hex[:8]}-"
    write_markers(self.daemon.instance, [prefix + "early"])
    first = self.recorder().newest_timestamp_ns
    # The recorder's clock must pass 1.5 s beyond the early marker
    # (sched_switch events keep it moving).
    self.assertTrue(
        h.eventually(lambda: self.recorder().newest_timestamp_ns >
                     first + 1_500_000_000),
        "the recorder's newest timestamp did not advance 1.5 s")
    write_markers(self.daemon.instance, [prefix + "late"])
    r = self.daemon.cli("--json", "snapshot", "-o",
                        os.path.join(os.environ["TEST_TMPDIR"], "span.dat"),
                        "--seconds", "1")
    self.assertEqual(r.returncode, 0, r.stderr)
    info = json.loads(r.stdout)
    events = ringcat_events(os.path.join(os.environ["TEST_TMPDIR"], "span.dat"))
    self.assertTrue(events)
    stamps = [e["ts"] for e in events]
    cut = int(info["cutTimestampNs"])
    newest = int(info["newestTimestampNs"])
    self.assertEqual(newest - cut, 1_000_000_000)
    self.assertLessEqual(min(stamps), cut, "the file starts after the cut")
    self.assertLessEqual(int(info["oldestTimestampNs"]), cut)
    late = [e for e in events if e["event"] == "ftrace/print" and
            e["fields"]["buf"].strip() == prefix + "late"]
    self.assertEqual(len(late), 1)
    self.assertTrue(info["readersCaughtUp"])

  def test_bad_requests_name_the_argument(self):
    out = os.path.join(os.environ["TEST_TMPDIR"], "bad.dat")
    for args, expected in [
        (("--seconds", "-1"), "seconds is -1"),
        (("--seconds", "7200"), "seconds is 7200"),
        (("--file_version", "5"), "file_version 5"),
    ]:
      with self.subTest(args=args):
        r = self.daemon.cli("snapshot", "-o", out, *args)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(expected, r.stderr)
        self.assertFalse(os.path.exists(out))
        self.assertFalse(os.path.exists(out + ".partial"))
    r = self.daemon.cli("snapshot")
    self.assertNotEqual(r.returncode, 0)
    self.assertIn("-o is missing", r.stderr)
    with self.assertRaises(grpc.RpcError) as caught:
      list(self.stub.Snapshot(pb.SnapshotRequest(seconds=float("nan")),
                              timeout=T))
    self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

  def test_recorder_is_charged_to_the_memory_budget(self):
    status = self.stub.GetStatus(pb.GetStatusRequest(), timeout=T)
    cpus = len(status.cpus)
    page = os.sysconf("SC_PAGE_SIZE")
    per_cpu = (16 << 20) // cpus // page * page
    self.assertEqual(status.flight_recorder.reserved_bytes,
                     (per_cpu + page) * cpus)
    self.assertGreaterEqual(status.engine.memory_bytes,
                            status.flight_recorder.reserved_bytes)
    # A recorder larger than the budget: the daemon refuses to start, naming
    # the recorder.
    too_big = h.Daemon('limits { max_memory: "8MiB" }\n'
                       'flight_recorder { max_size: "64MiB" }\n', tcp=False)
    r = too_big.run_to_exit("--check_config")
    self.assertNotEqual(r.returncode, 0)
    self.assertIn("flight_recorder", r.stdout)
    self.assertIn("limits.max_memory", r.stdout)

  def test_trigger_fires_once_per_crossing_within_its_rate_limit(self):
    stream = self.stub.Subscribe(pb.SubscribeRequest(names=["markers"]),
                                 timeout=60)
    try:
      base = self.recorder()
      # First crossing: 200 markers in one burst (well above 50 a window).
      write_markers(self.daemon.instance, [f"burst-a{i}" for i in range(200)])
      announced = None
      saw_burst = False
      for m in stream:
        if m.HasField("snapshot_taken"):
          announced = m.snapshot_taken
          break
        if any(row.count > 50 for row in m.result.row):
          saw_burst = True
      self.assertTrue(saw_burst, "no window held the burst")
      self.assertEqual(announced.reason, "trigger:burst")
      self.assertTrue(announced.path.startswith(self.snapshot_dir + "/"),
                      announced.path)
      self.assertTrue(os.path.exists(announced.path))
      counts = marker_counts(ringcat_events(announced.path), "burst-a")
      self.assertEqual(len(counts), 200)
      self.assertEqual(set(counts.values()), {1})
      # Below the threshold again (a window without the burst), then a
      # second crossing inside min_interval.
      for m in stream:
        if not m.HasField("snapshot_taken") and all(
            row.count <= 50 for row in m.result.row):
          break
      write_markers(self.daemon.instance, [f"burst-b{i}" for i in range(200)])
      for m in stream:
        if any(row.count > 50 for row in m.result.row):
          break
      limited = h.eventually(
          lambda: self.recorder().triggers_rate_limited >
          base.triggers_rate_limited)
      self.assertTrue(limited, "the second crossing was not rate limited")
      after = self.recorder()
      self.assertEqual(after.triggers_fired, base.triggers_fired + 1)
      self.assertEqual(after.triggers_rate_limited,
                       base.triggers_rate_limited + 1)
      files = [f for f in os.listdir(self.snapshot_dir)
               if f.startswith("trigger-burst-")]
      self.assertEqual(len(files), 1, files)
    finally:
      stream.cancel()


if __name__ == "__main__":
  unittest.main(verbosity=2)
