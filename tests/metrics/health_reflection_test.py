"""grpc.health.v1 as reflection-driven clients (grpcurl) see it: resolved
through the reflection service alone, called with dynamic messages, and
NOT_SERVING for ringwatch.v1.RingwatchService while a reader thread is
stalled (the condition that stops the systemd watchdog pets)."""

import ctypes
import os
import queue
import threading
import unittest

import grpc

import daemon_harness
from daemon_harness import Daemon, eventually
from reflection_client import ReflectionClient

SERVICE = "ringwatch.v1.RingwatchService"
# Syscall numbers a reader thread blocked in poll() shows in
# /proc/PID/task/TID/syscall: poll and ppoll on x86_64, ppoll on arm64.
POLL_SYSCALLS = {"x86_64": {"7", "271"}, "aarch64": {"73"}}

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                        ctypes.c_void_p]
PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
WALL = 0x40000000


def ptrace(request, tid):
  if libc.ptrace(request, tid, None, None) != 0:
    raise OSError(ctypes.get_errno(), f"ptrace({request:#x}, {tid})")


def reader_thread(pid):
  """A thread of `pid` (not the main one) blocked in poll(): a reader."""
  polls = POLL_SYSCALLS.get(os.uname().machine, set())
  for tid in sorted(os.listdir(f"/proc/{pid}/task")):
    if int(tid) == pid:
      continue
    try:
      with open(f"/proc/{pid}/task/{tid}/syscall") as f:
        if f.read().split()[0] in polls:
          return int(tid)
    except (FileNotFoundError, IndexError):
      continue
  return None


class HealthReflectionTest(unittest.TestCase):

  @classmethod
  def setUpClass(cls):
    if os.uname().machine not in POLL_SYSCALLS:
      daemon_harness.skip(f"no poll syscall numbers for {os.uname().machine}")
    cls.daemon = Daemon(tcp=False).start()
    cls.channel = grpc.insecure_channel("unix:" + cls.daemon.socket)
    cls.client = ReflectionClient(cls.channel)

  @classmethod
  def tearDownClass(cls):
    cls.channel.close()
    cls.daemon.kill()

  def status_name(self, response):
    return response.DESCRIPTOR.fields_by_name["status"].enum_type \
        .values_by_number[response.status].name

  def test_health_resolves_and_tracks_reader_stalls(self):
    services = self.client.list_services()
    self.assertIn("grpc.health.v1.Health", services)
    self.assertIn(SERVICE, services)
    health = self.client.resolve_service("grpc.health.v1.Health")
    self.assertEqual(sorted(health.methods_by_name), ["Check", "Watch"])
    self.assertTrue(health.methods_by_name["Watch"].server_streaming)
    check = self.client.method(health, "Check")
    watch = self.client.method(health, "Watch")

    def request(service):
      return self.client.message("grpc.health.v1.HealthCheckRequest",
                                 service=service)

    def check_status(service):
      return self.status_name(check(request(service), timeout=10))

    self.assertEqual(check_status(SERVICE), "SERVING")
    self.assertEqual(check_status(""), "SERVING")
    with self.assertRaises(grpc.RpcError) as unknown:
      check(request("no.such.Service"), timeout=10)
    self.assertEqual(unknown.exception.code(), grpc.StatusCode.NOT_FOUND)

    updates = queue.Queue()
    stream = watch(request(SERVICE))

    def read_watch():
      try:
        for response in stream:
          updates.put(self.status_name(response))
        updates.put("END")
      except grpc.RpcError as e:
        updates.put(f"END {e.code()}")

    reader = threading.Thread(target=read_watch, daemon=True)
    reader.start()
    self.assertEqual(updates.get(timeout=10), "SERVING")

    # Stop one reader thread (only it: gRPC keeps answering).
    pid = self.daemon.proc.pid
    tid = eventually(lambda: reader_thread(pid))
    self.assertIsNotNone(tid, "no reader thread found blocked in poll()")
    ptrace(PTRACE_SEIZE, tid)
    try:
      ptrace(PTRACE_INTERRUPT, tid)
      os.waitpid(tid, WALL)
      self.assertEqual(updates.get(timeout=30), "NOT_SERVING")
      self.assertEqual(check_status(SERVICE), "NOT_SERVING")
      self.assertIn("health NOT_SERVING", self.daemon.log())
    finally:
      ptrace(PTRACE_DETACH, tid)
    self.assertEqual(updates.get(timeout=30), "SERVING")
    self.assertEqual(check_status(SERVICE), "SERVING")

    # Shutdown: watchers hear NOT_SERVING, then their stream ends.
    code, _ = self.daemon.stop()
    self.assertEqual(code, 0, self.daemon.log())
    self.assertEqual(updates.get(timeout=10), "NOT_SERVING")
    self.assertTrue(updates.get(timeout=10).startswith("END"))
    reader.join(timeout=10)


if __name__ == "__main__":
  unittest.main()
