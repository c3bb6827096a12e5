"""Fan-out of the real ringwatchd: 200 subscribers and one that never reads.

The stalled client (a process stopped with SIGSTOP right after its first
message: its socket and HTTP/2 window fill, then its queue) must lose windows,
counted, within its queue bound; the 200 others must receive every window,
each the same, with nothing dropped; and the per-CPU readers must lose no
kernel events meanwhile.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

import grpc

import daemon_harness as h
from proto.ringwatch.v1 import ringwatch_pb2 as pb
from proto.ringwatch.v1 import ringwatch_pb2_grpc as pb_grpc

SUBSCRIBERS = 200
QUEUE_DEPTH = 16
WINDOW_NS = 200_000_000
MIN_WINDOWS = 10  # Each subscriber, after all of them are connected.
CONFIG = f"""
limits {{ max_subscribers: 256 queue_depth: {QUEUE_DEPTH} }}
aggregation {{
  name: "fan_win"
  event: "raw_syscalls/sys_enter"
  key: "cpu"
  window: "200ms"
}}
# Many small windows of many rows: fills the stalled client's pipe quickly.
aggregation {{
  name: "fan_wide"
  event: "raw_syscalls/sys_enter"
  key: "id"
  key: "common_pid"
  window: "50ms"
}}
"""
T = 60

# Subscribes, reads one message, stops itself; once continued, reads until a
# message reports dropped windows and prints what it saw as JSON. BDP probing
# off keeps the HTTP/2 window at its initial 64 KiB, so the server's writes
# stall soon.
STALLED_CLIENT = """
import json, os, signal, sys, grpc
from proto.ringwatch.v1 import ringwatch_pb2 as pb
from proto.ringwatch.v1 import ringwatch_pb2_grpc as pb_grpc
channel = grpc.insecure_channel(sys.argv[1],
                                options=[("grpc.http2.bdp_probe", 0)])
stream = pb_grpc.RingwatchServiceStub(channel).Subscribe(
    pb.SubscribeRequest(names=["fan_win", "fan_wide"]), timeout=120)
previous = next(stream).sequence
print("stalling", flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
dropped, gaps_match, seen = 0, True, 1
for m in stream:
  seen += 1
  gaps_match &= m.sequence == previous + 1 + m.dropped_before
  previous = m.sequence
  dropped += m.dropped_before
  if dropped:
    break
print(json.dumps({"dropped": dropped, "gaps_match": gaps_match,
                  "seen": seen}), flush=True)
"""


def is_stalled(stream):
  """Only the stalled client subscribes to fan_wide."""
  return any(t.endswith("fan_wide") for t in stream.targets)


class Subscriber(threading.Thread):
  """Reads one Subscribe stream of fan_win, keeping every message."""

  def __init__(self, stub):
    super().__init__(daemon=True)
    self.stream = stub.Subscribe(pb.SubscribeRequest(names=["fan_win"]),
                                 timeout=180)
    self.messages = []  # (sequence, dropped_before, window_end, digest)
    self.error = None

  def run(self):
    try:
      for m in self.stream:
        self.messages.append(
            (m.sequence, m.dropped_before, m.result.window_end_ns,
             hashlib.sha1(m.result.SerializeToString()).hexdigest()))
    except grpc.RpcError as e:
      if e.code() != grpc.StatusCode.CANCELLED:
        self.error = e


class FanoutTest(unittest.TestCase):

  def setUp(self):
    self.daemon = h.Daemon(CONFIG, tcp=True)
    self.addCleanup(self.daemon.kill)
    self.daemon.start()
    self.channel = grpc.insecure_channel(self.daemon.tcp_address)
    self.addCleanup(self.channel.close)
    self.stub = pb_grpc.RingwatchServiceStub(self.channel)

  def status(self, streams=False):
    return self.stub.GetStatus(pb.GetStatusRequest(include_streams=streams),
                               timeout=T)

  def test_stalled_client_and_200_subscribers(self):
    # Readers running and windows closing before the load starts.
    self.assertTrue(h.eventually(lambda: self.query_ok("fan_win"), T))
    before = self.status().totals

    stalled = subprocess.Popen(
        [sys.executable, "-c", STALLED_CLIENT, self.daemon.tcp_address],
        stdout=subprocess.PIPE, text=True)
    self.addCleanup(self.reap, stalled)
    self.assertEqual(stalled.stdout.readline().strip(), "stalling")
    self.assertTrue(h.eventually(lambda: h.process_state(stalled.pid) == "T"))

    # 200 streams over 8 connections (a distinct argument each keeps gRPC
    # from sharing one).
    channels = [grpc.insecure_channel(self.daemon.tcp_address,
                                      options=[("rw.test.connection", i)])
                for i in range(8)]
    for c in channels:
      self.addCleanup(c.close)
    stubs = [pb_grpc.RingwatchServiceStub(c) for c in channels]
    readers = [Subscriber(stubs[i % len(stubs)]) for i in range(SUBSCRIBERS)]
    for r in readers:
      r.start()
    self.assertTrue(h.eventually(
        lambda: self.status().server.subscribers == SUBSCRIBERS + 1, T))
    marks = [len(r.messages) for r in readers]

    # Until the stalled stream drops and everyone else got MIN_WINDOWS more,
    # its queue never holds more than its bound.
    worst_queue = 0
    def done():
      nonlocal worst_queue
      s = self.status(streams=True)
      slow = [x for x in s.server.streams if is_stalled(x)]
      self.assertEqual(len(slow), 1)
      self.assertEqual(slow[0].queue_capacity, QUEUE_DEPTH)
      worst_queue = max(worst_queue, slow[0].queued)
      return (slow[0].dropped > 0 and
              all(len(r.messages) >= m + MIN_WINDOWS
                  for r, m in zip(readers, marks)))
    self.assertTrue(h.eventually(done, T, interval=0.2),
                    "the stalled stream never dropped, or readers starved")
    self.assertLessEqual(worst_queue, QUEUE_DEPTH)
    after = self.status(streams=True)

    for r in readers:
      r.stream.cancel()
    for r in readers:
      r.join(T)

    # Every fast subscriber: consecutive windows, nothing dropped, and the
    # same content for the same window as every other subscriber.
    by_window = {}
    for i, r in enumerate(readers):
      self.assertIsNone(r.error, f"subscriber {i}: {r.error}")
      seqs = [m[0] for m in r.messages]
      self.assertEqual(seqs, list(range(1, len(seqs) + 1)), f"subscriber {i}")
      self.assertEqual({m[1] for m in r.messages}, {0}, f"subscriber {i}")
      ends = [m[2] for m in r.messages]
      self.assertEqual({b - a for a, b in zip(ends, ends[1:])}, {WINDOW_NS},
                       f"subscriber {i}: a window is missing")
      for _, _, end, digest in r.messages:
        by_window.setdefault(end, set()).add(digest)
    self.assertEqual([e for e, d in by_window.items() if len(d) != 1], [],
                     "subscribers got different results for one window")
    fast = [x for x in after.server.streams if not is_stalled(x)]
    self.assertEqual(len(fast), SUBSCRIBERS)
    self.assertEqual(sum(x.dropped for x in fast), 0)
    self.assertGreater(after.server.dropped_messages, 0)

    # The stalled client, continued, sees the loss in its messages.
    os.kill(stalled.pid, signal.SIGCONT)
    out, _ = stalled.communicate(timeout=T)
    seen = json.loads(out)
    self.assertGreater(seen["dropped"], 0)
    self.assertTrue(seen["gaps_match"], seen)
    self.assertTrue(h.eventually(
        lambda: self.status().server.subscribers == 0, T))

    slow = [x for x in after.server.streams if is_stalled(x)][0]
    print(f"\n{SUBSCRIBERS} subscribers: {min(len(r.messages) for r in readers)}"
          f"..{max(len(r.messages) for r in readers)} windows each, 0 dropped;"
          f" stalled: sent {slow.sent}, dropped {slow.dropped}, queue at most"
          f" {worst_queue}/{QUEUE_DEPTH}; after SIGCONT it read {seen}",
          file=sys.stderr)

    # The readers kept up with the kernel throughout.
    self.assertEqual(after.totals.lost_events, before.lost_events)
    self.assertEqual(after.totals.overruns, before.overruns)
    self.assertEqual(after.totals.decode_errors, 0)
    code, _ = self.daemon.stop()
    self.assertEqual(code, 0, self.daemon.log())

  def query_ok(self, name):
    try:
      self.stub.Query(pb.QueryRequest(name=name), timeout=T)
      return True
    except grpc.RpcError as e:
      self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND, e.details())
      return False

  @staticmethod
  def reap(proc):
    if proc.poll() is None:
      proc.kill()
    proc.communicate()


if __name__ == "__main__":
  unittest.main(verbosity=2)
