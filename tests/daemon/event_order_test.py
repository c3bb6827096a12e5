"""StreamEvents in time order across CPUs (issue 10).

This process pins itself alternately to two CPUs and writes numbered lines
to the daemon instance's trace_marker (ftrace/print, recorded on the CPU
that writes), so the order of the events, and their CPUs, are known. Each
CPU's reader delivers its own batch, so in arrival order the stream runs
back and forth in time. A default stream must bring every line, in order,
with timestamps that never go backwards; an arrival_order stream, opened at
the same time, must bring every line too (in whatever order).
"""

import os
import threading
import unittest

import grpc

import daemon_harness as h
from proto.ringwatch.v1 import ringwatch_pb2 as pb

LINES = 300
ROUNDS = 3
T = h.TIMEOUT
# A short tick, so that a quiet CPU reports its ring drained soon.
CONFIG = 'reader_tick: "20ms"\n'


class Collector:
  """Reads one StreamEvents call on a thread of its own until `want`
  markers of this run have arrived (or the call ends)."""

  def __init__(self, stub, prefix, want, arrival_order):
    self.call = stub.StreamEvents(
        pb.StreamEventsRequest(events=["ftrace/print"], pids=[os.getpid()],
                               max_events_per_second=10000, burst=10000,
                               arrival_order=arrival_order), timeout=3 * T)
    self.prefix, self.want = prefix, want
    self.events, self.dropped = [], 0
    # The server sends the initial metadata once the tap is in place.
    self.call.initial_metadata()
    self.thread = threading.Thread(target=self.run)
    self.thread.start()

  def run(self):
    try:
      for message in self.call:
        self.dropped += message.dropped_before
        buf = next((f.string_value for f in message.event.fields
                    if f.name == "buf"), "")
        if not buf.startswith(self.prefix):
          continue
        self.events.append((int(buf.split()[1]), message.event.cpu,
                            message.event.timestamp_ns))
        if len(self.events) == self.want:
          break
    except grpc.RpcError as e:
      if e.code() != grpc.StatusCode.CANCELLED:
        raise
    finally:
      self.call.cancel()

  def join(self):
    self.thread.join(timeout=2 * T)
    return not self.thread.is_alive()


class EventOrderTest(h.SharedDaemonTestCase):

  @classmethod
  def setUpClass(cls):
    cls.cpus = sorted(os.sched_getaffinity(0))[:2]
    if len(cls.cpus) < 2:
      h.skip("event_order_test: needs two CPUs to interleave events on")
    cls.start_shared_daemon(CONFIG)

  def write_markers(self, prefix):
    """Writes LINES lines, line i on CPU cpus[i % 2] (setting the affinity
    of the running thread moves it before the call returns)."""
    marker = os.path.join(h.instance_path(self.daemon.instance),
                          "trace_marker")
    fd = os.open(marker, os.O_WRONLY)
    saved = os.sched_getaffinity(0)
    try:
      for i in range(LINES):
        os.sched_setaffinity(0, {self.cpus[i % 2]})
        os.write(fd, f"{prefix} {i}\n".encode())
    finally:
      os.sched_setaffinity(0, saved)
      os.close(fd)

  def test_time_order_across_cpus(self):
    for round_ in range(ROUNDS):
      prefix = f"rw-order-{os.getpid()}-{round_}"
      ordered = Collector(self.stub, prefix, LINES, arrival_order=False)
      arrival = Collector(self.stub, prefix, LINES, arrival_order=True)
      self.write_markers(prefix)
      self.assertTrue(ordered.join(), "the time-ordered stream never ended")
      self.assertTrue(arrival.join(), "the arrival-order stream never ended")

      self.assertEqual(ordered.dropped, 0, "rate limit or queue dropped")
      numbers = [n for n, _, _ in ordered.events]
      self.assertEqual(numbers, list(range(LINES)),
                       f"round {round_}: not every line, or not in order")
      stamps = [ts for _, _, ts in ordered.events]
      backwards = [(a, b) for a, b in zip(stamps, stamps[1:]) if b < a]
      self.assertEqual(backwards, [], f"round {round_}: time went back")
      self.assertEqual({cpu for _, cpu, _ in ordered.events}, set(self.cpus))
      for n, cpu, _ in ordered.events:
        self.assertEqual(cpu, self.cpus[n % 2], f"line {n}")

      self.assertEqual(sorted(n for n, _, _ in arrival.events),
                       list(range(LINES)),
                       f"round {round_}: arrival order lost lines")
      arrival_stamps = [ts for _, _, ts in arrival.events]
      arrival_back = sum(1 for a, b in zip(arrival_stamps, arrival_stamps[1:])
                         if b < a)
      print(f"round {round_}: arrival order went back in time "
            f"{arrival_back} times; time order 0 times")


if __name__ == "__main__":
  unittest.main(verbosity=2)
