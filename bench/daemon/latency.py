"""Latency from an event in the kernel to a gRPC client of ringwatchd.

(a) Raw stream: this process writes trace_marker lines into the daemon's
    instance carrying their CLOCK_MONOTONIC send time, and receives them back
    through StreamEvents. The instance's trace clock is "mono", so the event
    timestamp is CLOCK_MONOTONIC too: receive time - event timestamp is the
    delay through the ring, the reader and the server.
(b) Window close: a Subscribe to the default config's 1 s windowed
    aggregations; receive time - window_end_ns is how long after its end a
    window reaches a subscriber.
(c) The same when no CPU delivers any event (only OOM kills traced).

Both run together, once on the default config (buffer_percent 50: readers
wake when a ring is half full, or on their 200 ms reader_tick) and once with
reader_tick "10ms" (buffer_percent 0, waking on every event, is refused: the
readers' own syscalls would wake them forever).

  bench/daemon/latency.sh [--seconds 15] [--rate 200]
"""

import argparse
import os
import re
import threading
import time

import grpc

import benchlib as b
import daemon_harness as h
from proto.ringwatch.v1 import ringwatch_pb2 as pb
from proto.ringwatch.v1 import ringwatch_pb2_grpc as pb_grpc

WINDOWED = ["cpu_time", "wakeup_latency", "syscall_counts"]


def summary(values_ns):
  if not values_ns:
    return "no samples"
  ms = lambda v: f"{v / 1e6:8.2f} ms"
  return (f"p50 {ms(b.percentile(values_ns, 50))}  p99 "
          f"{ms(b.percentile(values_ns, 99))}  max {ms(max(values_ns))}  "
          f"(n={len(values_ns)})")


def measure(reader_tick, seconds, rate):
  body = re.sub(r"(?m)^reader_tick:.*$", f'reader_tick: "{reader_tick}"',
                b.default_config_body())
  daemon = h.Daemon(body, tcp=False)
  try:
    daemon.start()
    channel = grpc.insecure_channel(daemon.unix_address)
    stub = pb_grpc.RingwatchServiceStub(channel)
    me = os.getpid()

    marks = {}  # seq -> (send_ns, event_ts_ns, receive_ns)
    marks_lock = threading.Lock()
    tail = stub.StreamEvents(pb.StreamEventsRequest(
        events=["ftrace/print"], pids=[me], max_events_per_second=10000,
        burst=10000))

    def read_tail():
      try:
        for m in tail:
          now = b.mono_ns()
          buf = [f.string_value for f in m.event.fields if f.name == "buf"]
          parts = buf[0].split() if buf else []
          if len(parts) == 3 and parts[0] == "rwlat":
            with marks_lock:
              marks[int(parts[1])] = (int(parts[2]), m.event.timestamp_ns, now)
      except grpc.RpcError:
        pass  # Cancelled at the end.

    windows = []  # receive_ns - window_end_ns
    sub = stub.Subscribe(pb.SubscribeRequest(names=WINDOWED))

    def read_windows():
      try:
        for m in sub:
          windows.append(b.mono_ns() - m.result.window_end_ns)
      except grpc.RpcError:
        pass

    readers = [threading.Thread(target=read_tail, daemon=True),
               threading.Thread(target=read_windows, daemon=True)]
    for t in readers:
      t.start()

    marker = os.open(os.path.join(h.instance_path(daemon.instance),
                                  "trace_marker"), os.O_WRONLY)
    try:
      # Warm up until the tail delivers (it may attach a moment late).
      seq = 0
      def warm():
        nonlocal seq
        seq -= 1
        os.write(marker, f"rwlat {seq} {b.mono_ns()}\n".encode())
        with marks_lock:
          return bool(marks)
      if not h.eventually(warm, interval=0.05):
        raise RuntimeError("StreamEvents delivered nothing")
      with marks_lock:
        marks.clear()
      start = time.monotonic()
      sent = 0
      while time.monotonic() - start < seconds:
        sent += 1
        os.write(marker, f"rwlat {sent} {b.mono_ns()}\n".encode())
        # Paced, not synchronising: the next line is due at sent / rate.
        delay = start + sent / rate - time.monotonic()
        if delay > 0:
          time.sleep(delay)
    finally:
      os.close(marker)
    # Lines still in flight get a deadline to arrive.
    # (Warm-up lines, negative, may still arrive after the clear: not them.)
    def all_arrived():
      with marks_lock:
        return sum(1 for k in marks if k > 0) >= sent
    h.eventually(all_arrived, timeout=5)
    status = stub.GetStatus(pb.GetStatusRequest(), timeout=10)
    tail.cancel()
    sub.cancel()
    for t in readers:
      t.join(10)
    channel.close()
  finally:
    daemon.stop()
    daemon.kill()

  got = [v for k, v in marks.items() if k > 0]
  print(f"\nreader_tick {reader_tick}: {sent} lines at {rate}/s over "
        f"{seconds:g} s, {len(got)} received; stream drops "
        f"{status.server.dropped_messages}")
  print("  (a) receive - event timestamp: " +
        summary([r - ts for _, ts, r in got]))
  print("      receive - send time:       " +
        summary([r - s for s, _, r in got]))
  print("      event timestamp - send:    " +
        summary([ts - s for s, ts, _ in got]))
  print("  (b) receive - window_end_ns:   " + summary(windows) +
        f" over {len(WINDOWED)} aggregations")


QUIET = """
aggregation {
  name: "oom_kills"
  event: "oom/mark_victim"
  key: "pid"
  window: "1s"
}
"""


def measure_quiet(seconds):
  """(c) Window close when no CPU delivers anything (only OOM kills are
  traced): what closes windows is the readers' drained reports on their
  tick, or else the idle grace."""
  daemon = h.Daemon(QUIET, tcp=False)
  windows = []
  try:
    daemon.start()
    channel = grpc.insecure_channel(daemon.unix_address)
    sub = pb_grpc.RingwatchServiceStub(channel).Subscribe(
        pb.SubscribeRequest(names=["oom_kills"]), timeout=seconds + 5)
    subscribed_ns = b.mono_ns()
    try:
      for m in sub:
        now = b.mono_ns()
        # Windows closed before the subscription (send_latest) are old.
        if m.result.window_end_ns > subscribed_ns:
          windows.append(now - m.result.window_end_ns)
        if now - subscribed_ns > seconds * 1e9:
          break
    except grpc.RpcError:
      pass
    sub.cancel()
    channel.close()
  finally:
    daemon.stop()
    daemon.kill()
  print(f"\nquiet CPUs (only oom/mark_victim traced, default reader_tick and "
        f"idle_grace), {seconds:g} s:")
  print("  (c) receive - window_end_ns:   " + summary(windows))


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--seconds", type=float, default=15)
  parser.add_argument("--rate", type=float, default=200,
                      help="trace_marker lines per second")
  args = parser.parse_args()
  print(f"latency: {b.machine()}; trace clock mono; receive times are "
        f"CLOCK_MONOTONIC in this Python client (python3-grpcio) right after "
        f"the message arrives")
  for reader_tick in ("200ms", "10ms"):
    measure(reader_tick, args.seconds, args.rate)
  measure_quiet(args.seconds)


if __name__ == "__main__":
  main()
