"""The gRPC API of the real ringwatchd, from Python over TCP (127.0.0.1).

Status, the event catalog, queries and live windows on the live kernel; bad
requests; clients that go away mid-stream; and an exact count: a helper makes
exactly K getppid() calls and an aggregation created over the API counts
exactly K for its pid (two such helpers at once).
"""

import os
import signal
import subprocess
import sys
import unittest

import grpc

import daemon_harness as h
from proto.ringwatch.v1 import config_pb2 as cfg
from proto.ringwatch.v1 import ringwatch_pb2 as pb
from proto.ringwatch.v1 import ringwatch_pb2_grpc as pb_grpc

WINDOW_NS = 250_000_000
CONFIG = """
buffer_size_kb: 16384
limits { max_subscribers: 16 }
aggregation {
  name: "api_win"
  event: "raw_syscalls/sys_enter"
  key: "id"
  window: "250ms"
}
"""
T = h.TIMEOUT


class ApiTest(h.SharedDaemonTestCase):

  @classmethod
  def setUpClass(cls):
    cls.start_shared_daemon(CONFIG)

  def assertRpcError(self, call, code, *texts):
    with self.assertRaises(grpc.RpcError) as ctx:
      call()
    self.assertEqual(ctx.exception.code(), code, ctx.exception.details())
    for text in texts:
      self.assertIn(text, ctx.exception.details())

  def first_window(self, name):
    """Waits for the first closed window of `name`; returns it."""
    def query():
      try:
        return self.stub.Query(pb.QueryRequest(name=name), timeout=T).result
      except grpc.RpcError as e:
        self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND, e.details())
        return None
    result = h.eventually(query)
    self.assertIsNotNone(result, f"no window of {name} closed")
    return result

  def test_status(self):
    s = self.status()
    self.assertEqual(s.instance, self.daemon.instance)
    self.assertEqual(s.kernel_release, os.uname().release)
    self.assertEqual([c.cpu for c in s.cpus], h.online_cpus())
    for c in s.cpus:
      self.assertEqual(c.mode, pb.READ_MODE_MMAP)
    self.assertIn(self.daemon.tcp_address, s.server.listen_addresses)
    self.assertIn(self.daemon.unix_address, s.server.listen_addresses)
    self.assertEqual(s.server.max_subscribers, 16)
    self.assertGreater(s.process.rss_bytes, 0)
    self.assertEqual(s.totals.decode_errors, 0)
    self.assertIn("aggregations/api_win", [a.name for a in s.aggregations])

  def test_list_events(self):
    r = self.stub.ListEvents(
        pb.ListEventsRequest(filter="sched/*", view=pb.EVENT_VIEW_FULL),
        timeout=T)
    names = [e.name for e in r.events]
    self.assertIn("events/sched/sched_switch", names)
    self.assertEqual([n for n in names if not n.startswith("events/sched/")],
                     [])
    self.assertEqual(names, sorted(names))
    switch = r.events[names.index("events/sched/sched_switch")]
    with open(os.path.join(h.TRACEFS, "events/sched/sched_switch/id")) as f:
      self.assertEqual(switch.id, int(f.read()))
    fields = {f.name: f for f in switch.fields}
    self.assertTrue(fields["prev_comm"].is_string)
    self.assertTrue(fields["common_pid"].is_common)

  def test_query_latest_and_cumulative(self):
    window = self.first_window("api_win")
    self.assertEqual(window.window_end_ns - window.window_start_ns, WINDOW_NS)
    self.assertEqual(list(window.key_names), ["id"])
    cumulative = self.stub.Query(
        pb.QueryRequest(name="aggregations/api_win",
                        view=pb.RESULT_VIEW_CUMULATIVE), timeout=T).result
    self.assertTrue(cumulative.cumulative)
    self.assertGreaterEqual(cumulative.window_end_ns, window.window_end_ns)
    top = self.stub.Query(pb.QueryRequest(name="api_win", top_n=1),
                          timeout=T).result
    self.assertLessEqual(len([r for r in top.row if r.kind == cfg.Row.KEY]), 1)

  def test_subscribe_consecutive_windows(self):
    stream = self.stub.Subscribe(pb.SubscribeRequest(names=["api_win"]),
                                 timeout=T)
    got = []
    for message in stream:
      got.append(message)
      if len(got) == 3:
        break
    stream.cancel()
    self.assertEqual([m.sequence for m in got], [1, 2, 3])
    self.assertEqual([m.dropped_before for m in got], [0, 0, 0])
    ends = [m.result.window_end_ns for m in got]
    self.assertEqual(ends[1] - ends[0], WINDOW_NS)
    self.assertEqual(ends[2] - ends[1], WINDOW_NS)
    for m in got:
      self.assertEqual(m.result.name, "api_win")

  def test_bad_requests(self):
    self.assertRpcError(
        lambda: self.stub.Query(pb.QueryRequest(name="api_nope"), timeout=T),
        grpc.StatusCode.NOT_FOUND, "aggregation 'api_nope' not found",
        "api_win")
    self.assertRpcError(
        lambda: next(self.stub.Subscribe(
            pb.SubscribeRequest(names=["api_win", "api_nope"]), timeout=T)),
        grpc.StatusCode.NOT_FOUND, "api_nope")
    bad_key = cfg.Aggregation(name="api_bad", event="raw_syscalls/sys_enter",
                              key=["nofield"])
    self.assertRpcError(
        lambda: self.stub.CreateAggregation(
            pb.CreateAggregationRequest(aggregation=bad_key), timeout=T),
        grpc.StatusCode.INVALID_ARGUMENT,
        'key[0]: no field "nofield" in raw_syscalls/sys_enter')
    bad_window = cfg.Aggregation(name="api_bad",
                                 event="raw_syscalls/sys_enter", window="zz")
    self.assertRpcError(
        lambda: self.stub.CreateAggregation(
            pb.CreateAggregationRequest(aggregation=bad_window), timeout=T),
        grpc.StatusCode.INVALID_ARGUMENT, "window", '"zz"')
    bad_event = cfg.Aggregation(name="api_bad", event="sched/no_such_event")
    self.assertRpcError(
        lambda: self.stub.CreateAggregation(
            pb.CreateAggregationRequest(aggregation=bad_event), timeout=T),
        grpc.StatusCode.INVALID_ARGUMENT, "sched/no_such_event")
    self.assertRpcError(
        lambda: self.stub.CreateAggregation(
            pb.CreateAggregationRequest(
                aggregation=cfg.Aggregation(name="api_win",
                                            event="sched/sched_switch")),
            timeout=T),
        grpc.StatusCode.ALREADY_EXISTS, "'api_win' already exists")
    self.assertRpcError(
        lambda: next(self.stub.StreamEvents(
            pb.StreamEventsRequest(events=["nosys/nothing*"]), timeout=T)),
        grpc.StatusCode.INVALID_ARGUMENT, "nosys/nothing*")
    # Nothing of the failed creates was left behind.
    names = [a.name for a in self.stub.ListAggregations(
        pb.ListAggregationsRequest(), timeout=T).aggregations]
    self.assertEqual(names, ["aggregations/api_win"])

  def test_query_before_the_first_window_is_not_found(self):
    spec = cfg.Aggregation(name="api_hour", event="sched/sched_switch",
                           window="1h")
    self.stub.CreateAggregation(pb.CreateAggregationRequest(aggregation=spec),
                                timeout=T)
    try:
      self.assertRpcError(
          lambda: self.stub.Query(pb.QueryRequest(name="api_hour"), timeout=T),
          grpc.StatusCode.NOT_FOUND,
          '"api_hour" has not closed a window yet')
    finally:
      self.stub.DeleteAggregation(pb.DeleteAggregationRequest(name="api_hour"),
                                  timeout=T)

  def subscribers(self):
    return self.status().server.subscribers

  def test_clients_that_leave_mid_stream(self):
    self.assertTrue(h.eventually(lambda: self.subscribers() == 0))
    # A channel closed with its stream open.
    channel = grpc.insecure_channel(self.daemon.tcp_address)
    stream = pb_grpc.RingwatchServiceStub(channel).Subscribe(
        pb.SubscribeRequest(names=["api_win"]))
    next(stream)
    self.assertEqual(self.subscribers(), 1)
    channel.close()
    self.assertTrue(h.eventually(lambda: self.subscribers() == 0))

    # A client process killed while its stream is open (no goodbye at all).
    client = subprocess.Popen(
        [sys.executable, "-c", KILLED_CLIENT, self.daemon.tcp_address],
        stdout=subprocess.PIPE, text=True)
    try:
      self.assertEqual(client.stdout.readline().strip(), "reading")
      self.assertTrue(h.eventually(lambda: self.subscribers() == 1))
      client.send_signal(signal.SIGKILL)
      client.wait()
    finally:
      if client.poll() is None:
        client.kill()
      client.communicate()
    self.assertTrue(h.eventually(lambda: self.subscribers() == 0))

    # The daemon keeps serving streams.
    again = self.stub.Subscribe(pb.SubscribeRequest(names=["api_win"]),
                                timeout=T)
    self.assertEqual(next(again).sequence, 1)
    again.cancel()
    self.assertTrue(h.eventually(lambda: self.subscribers() == 0))

  def test_exact_getppid_count_for_one_pid(self):
    # An exact count needs a run in which the kernel lost nothing anywhere
    # (loss is per ring, not per pid). Builds and tests sharing the machine
    # can starve the readers, so a run with loss is reported and repeated.
    # Without loss the count is exact even when readers were late (late
    # records go to the next window); a timely run is asked for too.
    attempts = []
    for attempt in range(3):
      result = self.count_getppid_calls(attempt)
      attempts.append(result)
      if result["lost"] != (0, 0):
        print(f"attempt {attempt}: the kernel lost events "
              f"(lost_events, overruns) = {result['lost']}; repeating",
              file=sys.stderr)
        continue
      self.assertEqual(result["counted"], result["made"], result)
      if result["late_events"] == 0:
        break
      print(f"attempt {attempt}: {result['late_events']} late events "
            "(readers starved past idle_grace); repeating", file=sys.stderr)
    else:
      self.fail(f"no attempt without loss or late events: {attempts}")

  def count_getppid_calls(self, attempt):
    """Runs two helpers at once (one per CPU, the load that showed the
    kernel's pid filter dropping events) under one aggregation keyed by pid;
    returns what each made, what the daemon counted, and the loss (deltas)
    seen meanwhile."""
    k = 200000
    helpers = [subprocess.Popen([os.environ["GETPPID_LOOP"], str(k)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True) for _ in range(2)]
    try:
      pids = []
      for helper in helpers:
        _, pid, _, nr = helper.stdout.readline().split()
        pids.append(int(pid))
      name = f"getppid_{pids[0]}_{attempt}"
      spec = cfg.Aggregation(
          name=name, event="raw_syscalls/sys_enter",
          filter=" || ".join(f"common_pid == {p}" for p in pids),
          key=["common_pid", "id"], window="250ms")
      before = self.status().totals
      self.stub.CreateAggregation(pb.CreateAggregationRequest(aggregation=spec),
                                  timeout=T)
      # Running (a window closed) before the helpers start their calls.
      self.first_window(name)
      done_ns = h.release_helpers(helpers)
    finally:
      h.end_helpers(helpers)

    # The trace clock is "mono": wait until the window after the one holding
    # the helpers' last calls has closed too.
    def past_the_helpers():
      r = self.stub.Query(pb.QueryRequest(name=name), timeout=T).result
      return r.window_start_ns >= done_ns + WINDOW_NS
    self.assertTrue(h.eventually(past_the_helpers))
    cumulative = self.stub.Query(
        pb.QueryRequest(name=name, view=pb.RESULT_VIEW_CUMULATIVE),
        timeout=T).result
    counts = {tuple(kv.int_value for kv in r.key): r.count
              for r in cumulative.row if r.kind == cfg.Row.KEY}
    # lost_events alone undercounts (pages without a stored count): the
    # kernel's overrun counter must not have moved either.
    after = self.status().totals
    self.stub.DeleteAggregation(pb.DeleteAggregationRequest(name=name),
                                timeout=T)
    return {
        "made": [k, k],
        "counted": [counts.get((p, int(nr))) for p in pids],
        "counts": counts,
        "lost": (after.lost_events - before.lost_events,
                 after.overruns - before.overruns),
        "late_events": cumulative.counters.late_events,
        "cumulative_counters": str(cumulative.counters),
        "status_after": str(after),
    }


KILLED_CLIENT = """
import sys, grpc
from proto.ringwatch.v1 import ringwatch_pb2 as pb
from proto.ringwatch.v1 import ringwatch_pb2_grpc as pb_grpc
stream = pb_grpc.RingwatchServiceStub(grpc.insecure_channel(sys.argv[1])
    ).Subscribe(pb.SubscribeRequest(names=["api_win"]))
next(stream)
print("reading", flush=True)
for _ in stream:
  pass
"""

if __name__ == "__main__":
  unittest.main(verbosity=2)
