"""The ringwatch CLI against the real ringwatchd on the live kernel.

One daemon (own tracefs instance, unix socket) serves every case: status with
its per-CPU mmap rows, events, aggs, query after the first window closed,
create/delete, tail with filters over trace_marker lines, and --json output
parsed as JSON.
"""

import json
import os
import re
import signal
import subprocess
import unittest

import daemon_harness as h

CONFIG = """
limits { max_subscribers: 16 }
aggregation {
  name: "cli_win"
  event: "raw_syscalls/sys_enter"
  key: "id"
  window: "250ms"
}
"""


class CliTest(unittest.TestCase):

  @classmethod
  def setUpClass(cls):
    cls.daemon = h.Daemon(CONFIG, tcp=False)
    try:
      cls.daemon.start()
    except Exception:
      cls.daemon.kill()
      raise

  @classmethod
  def tearDownClass(cls):
    cls.daemon.stop()
    cls.daemon.kill()

  def rw(self, *args):
    """Runs the CLI and expects success; returns stdout."""
    r = self.daemon.cli(*args)
    self.assertEqual(r.returncode, 0, f"ringwatch {args}: {r.stderr}")
    return r.stdout

  def test_status_has_an_mmap_row_per_cpu(self):
    out = self.rw("status")
    self.assertIn(f"instance {self.daemon.instance}", out)
    rows = re.findall(r"^(\d+)\s+mmap\s+(\d+)", out, re.M)
    self.assertEqual(sorted(int(cpu) for cpu, _ in rows), h.online_cpus(), out)
    self.assertIn("listening: " + self.daemon.unix_address, out)

  def test_status_json(self):
    status = json.loads(self.rw("--json", "status"))
    self.assertEqual(status["instance"], self.daemon.instance)
    self.assertEqual(status["tracefsPath"], h.TRACEFS)
    self.assertEqual([c["cpu"] for c in status["cpus"]], h.online_cpus())
    self.assertEqual({c["mode"] for c in status["cpus"]}, {"READ_MODE_MMAP"})
    # The daemon reads its rings: events flow (this very CLI makes syscalls).
    self.assertTrue(h.eventually(lambda: int(json.loads(self.rw(
        "--json", "status"))["totals"]["events"]) > 0))
    self.assertGreater(int(status["process"]["rssBytes"]), 0)
    self.assertIn("cli_win", [a["name"].split("/")[-1]
                              for a in status["aggregations"]])

  def test_events_glob(self):
    out = self.rw("events", "sched*")
    names = re.findall(r"^(\S+/\S+)\s+(\d+)$", out, re.M)
    self.assertIn("sched/sched_switch", [n for n, _ in names])
    self.assertEqual([n for n, _ in names if not n.startswith("sched/")], [])
    with open(os.path.join(h.TRACEFS, "events/sched/sched_switch/id")) as f:
      self.assertIn(("sched/sched_switch", f.read().strip()), names)

  def test_aggs_lists_the_config_aggregation(self):
    out = self.rw("aggs")
    self.assertRegex(out, r"(?m)^cli_win\s+config\s+raw_syscalls/sys_enter\s+"
                     r"id\s+250ms")

  def test_query_after_the_first_window_closed(self):
    # NOT_FOUND until the first window closes; then a table of syscalls,
    # each named with its number beside it (libseccomp), e.g. "read(0)".
    self.assertTrue(h.eventually(
        lambda: self.daemon.cli("query", "cli_win").returncode == 0))
    out = self.rw("query", "cli_win")
    self.assertRegex(out, r"cli_win: window of 250(\.0+)?ms, \d+ rows")
    self.assertRegex(out, r"(?m)^ID\s+COUNT$")
    self.assertRegex(out, r"(?m)^[a-z_0-9]+\(\d+\)\s+[1-9]\d*$")
    result = json.loads(self.rw("--json", "query", "cli_win"))
    self.assertEqual(result["result"]["name"], "cli_win")
    self.assertEqual(int(result["result"]["windowEndNs"]) -
                     int(result["result"]["windowStartNs"]), 250_000_000)
    cumulative = json.loads(self.rw("--json", "query", "cli_win",
                                    "--cumulative"))
    self.assertTrue(cumulative["result"]["cumulative"])

  def test_create_and_delete(self):
    spec = os.path.join(self.daemon.dir, "cli_created.textproto")
    with open(spec, "w") as f:
      f.write('name: "cli_created"\nevent: "sched/sched_switch"\n'
              'key: "prev_comm"\nwindow: "250ms"\n')
    self.assertIn("created aggregations/cli_created", self.rw("create", spec))
    self.assertRegex(self.rw("aggs"),
                     r"(?m)^cli_created\s+api\s+sched/sched_switch")
    # It runs: its first window closes and holds switches.
    self.assertTrue(h.eventually(
        lambda: self.daemon.cli("query", "cli_created").returncode == 0))
    self.assertIn("deleted cli_created", self.rw("delete", "cli_created"))
    self.assertNotIn("cli_created", self.rw("aggs"))
    gone = self.daemon.cli("query", "cli_created")
    self.assertNotEqual(gone.returncode, 0)
    self.assertIn("aggregation 'cli_created' not found", gone.stderr)

  def test_create_rejects_a_bad_spec_naming_the_field(self):
    spec = os.path.join(self.daemon.dir, "cli_bad.textproto")
    with open(spec, "w") as f:
      f.write('name: "cli_bad"\nevent: "sched/sched_switch"\n'
              'key: "no_such_field"\n')
    r = self.daemon.cli("create", spec)
    self.assertNotEqual(r.returncode, 0)
    self.assertIn('no field "no_such_field" in sched/sched_switch', r.stderr)

  def test_tail_filters_trace_marker_lines_by_pid(self):
    marker = os.path.join(h.instance_path(self.daemon.instance), "trace_marker")
    # Two writers into the daemon's own instance; tail keeps only one's pid.
    # `echo` is a shell builtin, so each line's common_pid is the shell's.
    loop = ('while :; do echo "rwmark-$1-$$" > "$2"; sleep 0.02; done')
    writers = [subprocess.Popen(["sh", "-c", loop, "sh", tag, marker])
               for tag in ("keep", "drop")]
    try:
      keep = writers[0].pid
      r = self.daemon.cli("--timeout", "30s", "tail", "ftrace/print",
                          "--pid", str(keep), "--count", "5", "--rate",
                          "1000")
    finally:
      for w in writers:
        w.send_signal(signal.SIGKILL)
        w.wait()
    self.assertEqual(r.returncode, 0, r.stderr)
    lines = r.stdout.strip().splitlines()
    self.assertEqual(len(lines), 5, r.stdout)
    for line in lines:
      self.assertRegex(line, rf"^\d+\.\d+ \[\d+\]\s+{keep} ftrace/print "
                       rf".*buf=rwmark-keep-{keep}\\x0a$")

  def test_tail_json(self):
    marker = os.path.join(h.instance_path(self.daemon.instance), "trace_marker")
    tail = subprocess.Popen(
        [os.environ["RINGWATCH_CLI"], "--addr", self.daemon.unix_address,
         "--json", "--timeout", "30s", "tail", "ftrace/print", "--count", "2",
         "--rate", "1000", "--pid", str(os.getpid())], stdout=subprocess.PIPE, text=True)
    try:
      # Lines are written until the tail has seen two (it may connect late);
      # --pid leaves out lines other tests' writers left in the ring.
      def seen():
        with open(marker, "w") as f:
          f.write("rwjson\n")
        return tail.poll() is not None
      self.assertTrue(h.eventually(seen))
    finally:
      if tail.poll() is None:
        tail.kill()
      out = tail.communicate()[0]
    self.assertEqual(tail.returncode, 0)
    events = [json.loads(line) for line in out.splitlines()]
    self.assertEqual(len(events), 2)
    for e in events:
      self.assertEqual(e["event"]["name"], "events/ftrace/print")
      buf = [f for f in e["event"]["fields"] if f["name"] == "buf"]
      self.assertEqual(buf[0]["stringValue"], "rwjson\n")

  def test_query_before_the_first_window_says_so(self):
    spec = os.path.join(self.daemon.dir, "cli_hour.textproto")
    with open(spec, "w") as f:
      f.write('name: "cli_hour"\nevent: "sched/sched_switch"\nwindow: "1h"\n')
    self.rw("create", spec)
    try:
      r = self.daemon.cli("query", "cli_hour")
    finally:
      self.rw("delete", "cli_hour")
    self.assertEqual(r.returncode, 1)
    self.assertIn('aggregation "cli_hour" has not closed a window yet',
                  r.stderr)
    self.assertNotIn("cannot reach", r.stderr)

  def test_unknown_aggregation_fails_naming_it(self):
    r = self.daemon.cli("query", "cli_nope")
    self.assertEqual(r.returncode, 1)
    self.assertIn("aggregation 'cli_nope' not found; known: cli_win",
                  r.stderr)


if __name__ == "__main__":
  unittest.main(verbosity=2)
