"""Runs the real ringwatchd for end-to-end tests and benchmarks.

A Daemon writes a config of its own (a unique tracefs instance, a unix socket
and a TCP port on 127.0.0.1), starts ringwatchd, waits until it serves, and
stops it with SIGTERM (or kills it and removes its instance when that fails).
The pid of every daemon started is appended to $RW_PIDS_FILE so the shell
wrapper's trap can kill it even when Python itself dies.

Paths come from the environment the wrapper sets: RINGWATCHD, RINGWATCH_CLI,
RW_SHORT_DIR (a short directory for unix sockets, which are limited to 107
bytes), RW_INSTANCE_PREFIX.
"""

import os
import re
import signal
import subprocess
import time
import unittest

TRACEFS = "/sys/kernel/tracing"
TIMEOUT = 30  # Seconds: the deadline of every wait; never a sleep to sync.


def skip(reason):
  """Skips the calling test (or setUpClass), printing the line tools/test.sh
  counts as a skip ("RINGWATCH-SKIP: reason", docs/testing.md). Only for a
  machine that lacks something; CI treats any skip as a failure."""
  print("RINGWATCH-SKIP: " + reason, flush=True)
  raise unittest.SkipTest(reason)


def eventually(condition, timeout=TIMEOUT, interval=0.02):
  """Polls condition() until it returns something true; returns it, or None
  when the timeout passes."""
  deadline = time.monotonic() + timeout
  while True:
    value = condition()
    if value:
      return value
    if time.monotonic() > deadline:
      return None
    time.sleep(interval)


def instance_path(name):
  return os.path.join(TRACEFS, "instances", name)


def online_cpus():
  """CPU numbers from /sys/devices/system/cpu/online ("0-1,4")."""
  with open("/sys/devices/system/cpu/online") as f:
    text = f.read().strip()
  cpus = []
  for part in text.split(","):
    lo, _, hi = part.partition("-")
    cpus += range(int(lo), int(hi or lo) + 1)
  return cpus


def process_cpu_seconds(pid):
  """utime + stime of a process (all its threads), from /proc/PID/stat."""
  with open(f"/proc/{pid}/stat") as f:
    fields = f.read().rsplit(")", 1)[1].split()
  ticks = os.sysconf("SC_CLK_TCK")
  return (int(fields[11]) + int(fields[12])) / ticks


def process_state(pid):
  """The state letter of /proc/PID/stat ('R', 'S', 'T', ...)."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0]
  except FileNotFoundError:
    return None


_counter = 0


class Daemon:
  """One ringwatchd process on a config of its own."""

  def __init__(self, body="", tcp=True, extra_args=()):
    """body: config text appended to the instance and listen settings
    (aggregations, limits, events...)."""
    global _counter
    _counter += 1
    prefix = os.environ.get("RW_INSTANCE_PREFIX", f"rwtest_e2e_{os.getpid()}")
    self.instance = f"{prefix}_{_counter}"
    short = os.environ.get("RW_SHORT_DIR") or os.environ["TEST_TMPDIR"]
    self.dir = os.path.join(short, self.instance)
    os.makedirs(self.dir, exist_ok=True)
    self.socket = os.path.join(self.dir, "rw.sock")
    self.config_path = os.path.join(self.dir, "ringwatch.textproto")
    self.log_path = os.path.join(self.dir, "ringwatchd.log")
    self.pid_file = os.path.join(self.dir, "ringwatchd.pid")
    listen = f'listen {{ unix_socket: "{self.socket}"'
    if tcp:
      listen += ' tcp_address: "127.0.0.1:0"'
    listen += " }\n"
    with open(self.config_path, "w") as f:
      f.write(f'instance: "{self.instance}"\n{listen}{body}\n')
    self.extra_args = list(extra_args)
    self.tcp = tcp
    self.proc = None
    self.tcp_address = None
    self.unix_address = "unix://" + self.socket

  def log(self):
    try:
      with open(self.log_path) as f:
        return f.read()
    except FileNotFoundError:
      return ""

  def start(self):
    """Starts ringwatchd and waits until it answers `ringwatch status`."""
    self._log_file = open(self.log_path, "w")
    self.proc = subprocess.Popen(
        [os.environ["RINGWATCHD"], "--config", self.config_path,
         "--pid_file", self.pid_file] + self.extra_args,
        stdout=self._log_file, stderr=subprocess.STDOUT)
    pids = os.environ.get("RW_PIDS_FILE")
    if pids:
      with open(pids, "a") as f:
        f.write(f"{self.proc.pid} {self.instance}\n")

    def listening():
      if self.proc.poll() is not None:
        raise RuntimeError(f"ringwatchd exited with {self.proc.returncode}:\n"
                           + self.log())
      addresses = re.findall(r"listening on (\S+)", self.log())
      want = 2 if self.tcp else 1
      return addresses if len(addresses) >= want else None

    addresses = eventually(listening)
    if not addresses:
      raise RuntimeError("ringwatchd never logged its addresses:\n" + self.log())
    for address in addresses:
      if not address.startswith("unix:"):
        self.tcp_address = address
    if not eventually(lambda: self.cli("status").returncode == 0):
      raise RuntimeError("ringwatchd never answered `ringwatch status`:\n" +
                         self.log())
    return self

  def run_to_exit(self, *extra_args, timeout=TIMEOUT):
    """Runs ringwatchd on this config in the foreground (for configs it must
    refuse, or --check_config); returns CompletedProcess with its output."""
    pids = os.environ.get("RW_PIDS_FILE")
    proc = subprocess.Popen(
        [os.environ["RINGWATCHD"], "--config", self.config_path,
         "--pid_file", self.pid_file] + list(extra_args),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if pids:
      with open(pids, "a") as f:
        f.write(f"{proc.pid} {self.instance}\n")
    try:
      out, _ = proc.communicate(timeout=timeout)
    finally:
      if proc.poll() is None:
        proc.kill()
        proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out)

  def cli(self, *args, timeout=TIMEOUT, addr=None):
    """Runs the ringwatch CLI against this daemon; returns CompletedProcess
    (stdout and stderr as text)."""
    return subprocess.run(
        [os.environ["RINGWATCH_CLI"], "--addr", addr or self.unix_address] +
        list(args), capture_output=True, text=True, timeout=timeout)

  def stop(self, sig=signal.SIGTERM, timeout=TIMEOUT):
    """Signals the daemon and waits for it; returns (exit code, seconds)."""
    if self.proc is None or self.proc.poll() is not None:
      return (self.proc.returncode if self.proc else None, 0.0)
    start = time.monotonic()
    self.proc.send_signal(sig)
    try:
      code = self.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
      code = None
    return code, time.monotonic() - start

  def kill(self):
    """Makes sure the daemon is gone and its instance removed (cleanup after
    a failure)."""
    if self.proc is not None and self.proc.poll() is None:
      self.proc.kill()
      self.proc.wait()
    if os.path.isdir(instance_path(self.instance)):
      os.rmdir(instance_path(self.instance))
    if hasattr(self, "_log_file"):
      self._log_file.close()

  def __enter__(self):
    return self.start()

  def __exit__(self, *exc):
    self.stop()
    self.kill()


def release_helpers(helpers):
  """Tells started getppid_loop helpers to go, all at once, and waits for
  each to report "done" and exit 0; returns the latest done time
  (CLOCK_MONOTONIC ns)."""
  for helper in helpers:
    helper.stdin.write("go\n")
    helper.stdin.flush()
  done_ns = 0
  for helper in helpers:
    done_line = helper.stdout.readline().split()
    if not done_line or done_line[0] != "done":
      raise AssertionError(f"getppid_loop said {done_line!r}, not done")
    done_ns = max(done_ns, int(done_line[1]))
    code = helper.wait(timeout=TIMEOUT)
    if code != 0:
      raise AssertionError(f"getppid_loop exited {code}")
  return done_ns


def end_helpers(helpers):
  """Kills helpers still running (a check failed) and reaps them all."""
  for helper in helpers:
    if helper.poll() is None:
      helper.kill()
    helper.communicate()

class SharedDaemonTestCase(unittest.TestCase):
  """A test class whose tests share one daemon, reached over TCP as
  `cls.stub`. setUpClass calls start_shared_daemon(config); tearDownClass
  stops the daemon, which must exit 0."""

  @classmethod
  def start_shared_daemon(cls, config):
    # Imported here: the harness also serves scripts that have no generated
    # API modules (benchmarks, the metrics tests).
    import grpc
    from proto.ringwatch.v1 import ringwatch_pb2_grpc as pb_grpc
    cls.daemon = Daemon(config, tcp=True)
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

  def status(self):
    from proto.ringwatch.v1 import ringwatch_pb2 as pb
    return self.stub.GetStatus(pb.GetStatusRequest(), timeout=TIMEOUT)
