"""The ringwatch API from Python (Debian's python3-grpcio), end to end.

Runs against a server at $RINGWATCH_SOCKET (the test server over the fake
backend for now; ringwatchd once it exists) with stubs generated at test
time into $PYTHONPATH. Also replays the grpcurl calls of docs/api.md:
reflection (list, describe) and the JSON request bodies.
"""

import os
import threading
import time
import unittest

import grpc
from google.protobuf import descriptor_pb2
from google.protobuf import json_format

from proto.ringwatch.v1 import config_pb2 as cfg
from proto.ringwatch.v1 import ringwatch_pb2 as pb
from proto.ringwatch.v1 import ringwatch_pb2_grpc as pb_grpc
import reflection_v1alpha_pb2 as refl
import reflection_v1alpha_pb2_grpc as refl_grpc

SOCKET = os.environ["RINGWATCH_SOCKET"]
TIMEOUT = 20  # Seconds; a deadline on every call, never a sleep to sync.


def eventually(condition, timeout=TIMEOUT):
  """Polls condition() until it is true or the timeout passes."""
  deadline = time.monotonic() + timeout
  while not condition():
    if time.monotonic() > deadline:
      return False
    time.sleep(0.01)
  return True


class ApiTest(unittest.TestCase):

  @classmethod
  def setUpClass(cls):
    cls.channel = grpc.insecure_channel("unix://" + SOCKET)
    grpc.channel_ready_future(cls.channel).result(timeout=TIMEOUT)
    cls.stub = pb_grpc.RingwatchServiceStub(cls.channel)

  @classmethod
  def tearDownClass(cls):
    cls.channel.close()

  def assertRpcError(self, call, code, text):
    with self.assertRaises(grpc.RpcError) as ctx:
      call()
    self.assertEqual(ctx.exception.code(), code, ctx.exception.details())
    self.assertIn(text, ctx.exception.details())

  def test_status(self):
    s = self.stub.GetStatus(pb.GetStatusRequest(), timeout=TIMEOUT)
    self.assertTrue(s.version)
    self.assertGreater(s.process.rss_bytes, 0)
    self.assertEqual(len(s.cpus), 2)
    self.assertEqual(s.server.listen_addresses[0], "unix://" + SOCKET)
    names = [a.name for a in s.aggregations]
    self.assertIn("aggregations/syscalls", names)

  def test_list_events_filter_and_pages(self):
    r = self.stub.ListEvents(
        pb.ListEventsRequest(filter="sched/*", view=pb.EVENT_VIEW_FULL),
        timeout=TIMEOUT)
    self.assertEqual([e.name for e in r.events],
                     ["events/sched/sched_switch", "events/sched/sched_wakeup"])
    self.assertIn("prev_comm", [f.name for f in r.events[0].fields])
    seen, token = [], ""
    while True:
      page = self.stub.ListEvents(
          pb.ListEventsRequest(page_size=3, page_token=token), timeout=TIMEOUT)
      seen += [e.name for e in page.events]
      token = page.next_page_token
      if not token:
        break
    self.assertEqual(len(seen), 4)
    self.assertEqual(seen, sorted(seen))

  def test_aggregation_lifecycle_and_errors(self):
    spec = cfg.Aggregation(
        name="py_opens", event="raw_syscalls/sys_enter", key=["id"],
        window="1s")
    info = self.stub.CreateAggregation(
        pb.CreateAggregationRequest(aggregation=spec), timeout=TIMEOUT)
    self.assertEqual(info.name, "aggregations/py_opens")
    self.assertEqual(info.origin, pb.AggregationInfo.ORIGIN_API)
    got = self.stub.GetAggregation(
        pb.GetAggregationRequest(name="aggregations/py_opens"),
        timeout=TIMEOUT)
    self.assertEqual(got.spec.event, "raw_syscalls/sys_enter")
    self.assertRpcError(
        lambda: self.stub.CreateAggregation(
            pb.CreateAggregationRequest(aggregation=spec), timeout=TIMEOUT),
        grpc.StatusCode.ALREADY_EXISTS, "'py_opens' already exists")
    self.stub.DeleteAggregation(
        pb.DeleteAggregationRequest(name="py_opens"), timeout=TIMEOUT)
    self.assertRpcError(
        lambda: self.stub.GetAggregation(
            pb.GetAggregationRequest(name="py_opens"), timeout=TIMEOUT),
        grpc.StatusCode.NOT_FOUND,
        "aggregation 'py_opens' not found; known: switches_by_comm, syscalls")
    bad = cfg.Aggregation(name="bad name", event="sched/none")
    self.assertRpcError(
        lambda: self.stub.CreateAggregation(
            pb.CreateAggregationRequest(aggregation=bad), timeout=TIMEOUT),
        grpc.StatusCode.INVALID_ARGUMENT, "unknown event 'sched/none'")

  def test_query(self):
    def has_window():
      try:
        self.stub.Query(pb.QueryRequest(name="syscalls"), timeout=TIMEOUT)
        return True
      except grpc.RpcError as e:
        self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND)
        return False
    self.assertTrue(eventually(has_window))
    r = self.stub.Query(
        pb.QueryRequest(name="aggregations/syscalls", top_n=2),
        timeout=TIMEOUT).result
    self.assertEqual(r.name, "syscalls")
    self.assertEqual(len(r.row), 2)
    self.assertGreaterEqual(r.row[0].count, r.row[1].count)
    c = self.stub.Query(
        pb.QueryRequest(name="syscalls", view=pb.RESULT_VIEW_CUMULATIVE,
                        key_filter="open"),
        timeout=TIMEOUT).result
    self.assertTrue(c.cumulative)
    self.assertEqual([row.key[0].string_value for row in c.row], ["openat"])
    self.assertRpcError(
        lambda: self.stub.Query(pb.QueryRequest(name="syscalls", top_n=-1),
                                timeout=TIMEOUT),
        grpc.StatusCode.INVALID_ARGUMENT, "top_n is -1")

  def test_subscribe_receives_consecutive_windows(self):
    stream = self.stub.Subscribe(
        pb.SubscribeRequest(names=["syscalls", "switches_by_comm"]),
        timeout=TIMEOUT)
    got = []
    for m in stream:
      got.append(m)
      if len(got) == 6:
        break
    stream.cancel()
    self.assertEqual([m.sequence for m in got], [1, 2, 3, 4, 5, 6])
    self.assertEqual(sum(m.dropped_before for m in got), 0)
    self.assertEqual({m.result.name for m in got},
                     {"syscalls", "switches_by_comm"})

  def test_cancelled_subscription_is_cleaned_up(self):
    before = self.stub.GetStatus(pb.GetStatusRequest(),
                                 timeout=TIMEOUT).server.subscribers
    stream = self.stub.Subscribe(pb.SubscribeRequest(names=["syscalls"]))
    next(stream)
    stream.cancel()
    def back_to_before():
      s = self.stub.GetStatus(pb.GetStatusRequest(), timeout=TIMEOUT)
      return s.server.subscribers == before
    self.assertTrue(eventually(back_to_before))

  def test_subscribe_unknown_name(self):
    stream = self.stub.Subscribe(pb.SubscribeRequest(names=["nope"]),
                                 timeout=TIMEOUT)
    self.assertRpcError(lambda: next(stream), grpc.StatusCode.NOT_FOUND,
                        "aggregation 'nope' not found; known: ")

  def test_stream_events_filter_and_rate(self):
    stream = self.stub.StreamEvents(
        pb.StreamEventsRequest(events=["sched/sched_switch"],
                               max_events_per_second=50),
        timeout=TIMEOUT)
    got = []
    for m in stream:
      got.append(m)
      if len(got) == 5:
        break
    stream.cancel()
    self.assertEqual({m.event.name for m in got},
                     {"events/sched/sched_switch"})
    fields = {f.name: f for f in got[0].event.fields}
    self.assertEqual(fields["prev_comm"].string_value, "bash")
    self.assertRpcError(
        lambda: next(self.stub.StreamEvents(
            pb.StreamEventsRequest(events=["nope/*"]), timeout=TIMEOUT)),
        grpc.StatusCode.INVALID_ARGUMENT, "matches no event")

  def test_health(self):
    # grpc.health.v1.Health/Check; request {} and response {status: SERVING}
    # on the wire, since python3-grpcio ships no health stubs.
    check = self.channel.unary_unary("/grpc.health.v1.Health/Check")
    self.assertEqual(check(b"", timeout=TIMEOUT), b"\x08\x01")


class GrpcurlEquivalentsTest(unittest.TestCase):
  """What each grpcurl command of docs/api.md does, done from Python."""

  @classmethod
  def setUpClass(cls):
    cls.channel = grpc.insecure_channel("unix://" + SOCKET)
    cls.reflection = refl_grpc.ServerReflectionStub(cls.channel)
    cls.stub = pb_grpc.RingwatchServiceStub(cls.channel)

  @classmethod
  def tearDownClass(cls):
    cls.channel.close()

  def reflect(self, **request):
    responses = self.reflection.ServerReflectionInfo(
        iter([refl.ServerReflectionRequest(**request)]), timeout=TIMEOUT)
    return next(responses)

  def test_list(self):
    # grpcurl -plaintext -unix /run/ringwatch/ringwatch.sock list
    r = self.reflect(list_services="")
    names = {s.name for s in r.list_services_response.service}
    self.assertIn("ringwatch.v1.RingwatchService", names)
    self.assertIn("grpc.health.v1.Health", names)

  def test_describe(self):
    # grpcurl ... describe ringwatch.v1.RingwatchService
    r = self.reflect(file_containing_symbol="ringwatch.v1.RingwatchService")
    files = {}
    for raw in r.file_descriptor_response.file_descriptor_proto:
      f = descriptor_pb2.FileDescriptorProto.FromString(raw)
      files[f.name] = f
    api = files["proto/ringwatch/v1/ringwatch.proto"]
    methods = {m.name for m in api.service[0].method}
    self.assertEqual(methods, {
        "GetStatus", "ListEvents", "ListAggregations", "GetAggregation",
        "CreateAggregation", "DeleteAggregation", "Query", "Subscribe",
        "StreamEvents", "Snapshot"})
    # grpcurl ... describe ringwatch.v1.Aggregation (from the imported file).
    r = self.reflect(file_containing_symbol="ringwatch.v1.Aggregation")
    self.assertEqual(r.WhichOneof("message_response"),
                     "file_descriptor_response")
    r = self.reflect(file_by_filename="proto/ringwatch/v1/config.proto")
    config = descriptor_pb2.FileDescriptorProto.FromString(
        r.file_descriptor_response.file_descriptor_proto[0])
    self.assertIn("Aggregation", [m.name for m in config.message_type])

  def test_json_bodies_of_the_docs(self):
    # The -d bodies of docs/api.md, parsed as grpcurl parses them.
    status = self.stub.GetStatus(
        json_format.Parse("{}", pb.GetStatusRequest()), timeout=TIMEOUT)
    self.assertTrue(status.version)
    self.assertTrue(eventually(lambda: self._query_ok()))
    q = json_format.Parse('{"name": "syscalls", "topN": 5}',
                          pb.QueryRequest())
    self.assertEqual(len(self.stub.Query(q, timeout=TIMEOUT).result.row), 3)
    sub = json_format.Parse('{"names": ["syscalls"], "topN": 3}',
                            pb.SubscribeRequest())
    stream = self.stub.Subscribe(sub, timeout=TIMEOUT)
    first = next(stream)
    stream.cancel()
    self.assertEqual(first.result.name, "syscalls")
    body = ('{"aggregation": {"name": "doc_example", '
            '"event": "sched/sched_switch", "key": ["prev_comm"], '
            '"window": "1s"}}')
    created = self.stub.CreateAggregation(
        json_format.Parse(body, pb.CreateAggregationRequest()),
        timeout=TIMEOUT)
    self.assertEqual(created.name, "aggregations/doc_example")
    self.stub.DeleteAggregation(
        json_format.Parse('{"name": "aggregations/doc_example"}',
                          pb.DeleteAggregationRequest()), timeout=TIMEOUT)

  def _query_ok(self):
    try:
      self.stub.Query(pb.QueryRequest(name="syscalls"), timeout=TIMEOUT)
      return True
    except grpc.RpcError:
      return False


if __name__ == "__main__":
  unittest.main(verbosity=2)
