"""The CPU cost of fan-out: ringwatchd's CPU with 0, 10 and 200 subscribers.

ringwatchd runs the default config plus one 100 ms windowed aggregation
(fan_100ms). Each phase connects N Subscribe streams (over 8 connections),
waits until the daemon counts them all, then measures the daemon's CPU time
(/proc/PID/stat) over a fixed interval and the windows the clients received.
Run twice: subscribers to the default config's three 1 s aggregations, and to
fan_100ms. No load generator: the machine's background only, so the cost of
the streams is not drowned by the readers'.

  bench/daemon/fanout.sh [--seconds 8] [--counts 0,10,200]
"""

import argparse
import re
import threading
import time

import grpc

import benchlib as b
import daemon_harness as h
from proto.ringwatch.v1 import ringwatch_pb2 as pb
from proto.ringwatch.v1 import ringwatch_pb2_grpc as pb_grpc

EXTRA = """
aggregation {
  name: "fan_100ms"
  event: "raw_syscalls/sys_enter"
  key: "id"
  window: "100ms"
}
"""
TARGETS = {
    "default 1 s aggregations (3)":
        ["cpu_time", "wakeup_latency", "syscall_counts"],
    "fan_100ms": ["fan_100ms"],
}


class Reader(threading.Thread):

  def __init__(self, stub, names):
    super().__init__(daemon=True)
    self.stream = stub.Subscribe(pb.SubscribeRequest(names=names))
    self.received = 0
    self.dropped = 0

  def run(self):
    try:
      for m in self.stream:
        self.received += 1
        self.dropped += m.dropped_before
    except grpc.RpcError:
      pass  # Cancelled.


def phase(daemon, stub, stubs, names, n, seconds):
  readers = [Reader(stubs[i % len(stubs)], names) for i in range(n)]
  for r in readers:
    r.start()
  if not h.eventually(lambda: stub.GetStatus(
      pb.GetStatusRequest(), timeout=10).server.subscribers == n):
    raise RuntimeError(f"{n} subscribers never connected")
  pid = daemon.proc.pid
  got0 = sum(r.received for r in readers)
  cpu0, t0 = h.process_cpu_seconds(pid), time.monotonic()
  time.sleep(seconds)  # The measured interval itself.
  cpu1, t1 = h.process_cpu_seconds(pid), time.monotonic()
  got = sum(r.received for r in readers) - got0
  dropped = sum(r.dropped for r in readers)
  for r in readers:
    r.stream.cancel()
  for r in readers:
    r.join(10)
  h.eventually(lambda: stub.GetStatus(
      pb.GetStatusRequest(), timeout=10).server.subscribers == 0)
  return 100 * (cpu1 - cpu0) / (t1 - t0), got / (t1 - t0), dropped


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--seconds", type=float, default=8)
  parser.add_argument("--counts", default="0,10,200")
  args = parser.parse_args()
  counts = [int(c) for c in args.counts.split(",")]
  print(f"fanout: {b.machine()}; default config + fan_100ms; "
        f"{args.seconds:g} s per phase, idle machine (no load generator)")
  # The default config allows 64 streams.
  body = b.default_config_body(EXTRA)
  body = re.sub(r"max_subscribers: \d+", "max_subscribers: 256", body)
  daemon = h.Daemon(body, tcp=False)
  try:
    daemon.start()
    channels = [grpc.insecure_channel(daemon.unix_address,
                                      options=[("rw.bench.connection", i)])
                for i in range(8)]
    stubs = [pb_grpc.RingwatchServiceStub(c) for c in channels]
    stub = stubs[0]
    # Every aggregation has closed a window before measuring.
    for names in TARGETS.values():
      for name in names:
        h.eventually(lambda: _has_window(stub, name))
    for label, names in TARGETS.items():
      print(f"\nsubscribed to {label}")
      print(f"  {'subscribers':>11}  {'CPU':>7}  {'messages/s':>10}"
            f"  {'dropped':>7}  {'CPU vs 0':>8}")
      base = None
      for n in counts:
        cpu, rate, dropped = phase(daemon, stub, stubs, names, n, args.seconds)
        base = cpu if base is None else base
        ratio = f"{cpu / base:8.2f}" if base > 0 else "     n/a"
        print(f"  {n:>11}  {cpu:>6.2f}%  {rate:>10,.0f}  {dropped:>7}  "
              f"{ratio}", flush=True)
    for c in channels:
      c.close()
  finally:
    daemon.stop()
    daemon.kill()


def _has_window(stub, name):
  try:
    stub.Query(pb.QueryRequest(name=name), timeout=10)
    return True
  except grpc.RpcError:
    return False


if __name__ == "__main__":
  main()
