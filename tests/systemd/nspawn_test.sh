#!/usr/bin/env bash
# ringwatch under a real systemd: Debian 12's systemd 252 booted as PID 1 of
# a systemd-nspawn container, with the build's binaries, units, sysusers and
# tmpfiles files installed by tools/install.sh --prefix and the host's
# tracefs bound in. Checks, through systemctl and journalctl inside:
# enable --now; start returns once READY=1 came and the API answers;
# STATUS=; mmap readers under the full sandbox with no capabilities; a
# flight-recorder snapshot through the socket under that sandbox; the
# ringwatch group on the socket; reload with a good and a bad config under
# an open Subscribe stream; the watchdog restart and the stale instance;
# socket activation; stop; the journal's fields; uninstall --prefix.
# Prints (does not assert) the times of start, watchdog restart and stop.
#
#   nspawn_test.sh SERVICE_RUNFILE RINGWATCHD RINGWATCH RINGCAT NSPAWN_ROOT_SH
#
# The Debian root is cached by nspawn_root.sh (built once, ~2 min); each run
# boots a copy of it, so a run changes nothing in the cache.
set -uo pipefail
# Bazel gives tests PATH=/bin:/usr/bin:...: debootstrap and chroot are in sbin.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# $1 is the runfile of systemd/ringwatch.service, a symlink into the source
# tree that holds tools/, systemd/ and config/.
src="$(dirname "$(dirname "$(readlink -f "$1")")")"
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
ringwatchd="$(abs "$2")"
ringwatch="$(abs "$3")"
ringcat="$(abs "$4")"
nspawn_root="$(abs "$5")"

skip() { echo "RINGWATCH-SKIP: nspawn_test: $*"; exit 0; }
t_test=$(date +%s.%N)
say() { echo "nspawn_test: [$(awk -v a="$t_test" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s] $*"; }
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
now() { date +%s.%N; }
ms_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

[[ $(id -u) -eq 0 ]] || skip "needs root (systemd-nspawn, debootstrap, tracefs)"
for tool in systemd-nspawn debootstrap nsenter setpriv findmnt python3; do
  command -v "$tool" >/dev/null || skip "$tool is missing (tools/setup.sh installs systemd-container, debootstrap, util-linux, python3)"
done
tracefs=/sys/kernel/tracing
[[ -d "$tracefs/instances" ]] || skip "tracefs is not mounted at $tracefs"
[[ -f "$src/tools/install.sh" && -f "$src/tools/uninstall.sh" ]] || {
  echo "FAIL: no tools/install.sh under $src" >&2
  exit 1
}
# nspawn leaves payload/ and supervisor/ cgroups under its own: it is
# started from cgroups made for it, removed afterwards. On a hybrid host
# that is one in the named systemd hierarchy and one in cgroup2.
cg_roots=()
if [[ "$(stat -f -c %T /sys/fs/cgroup)" == cgroup2fs ]]; then
  cg_roots=(/sys/fs/cgroup)
else
  for d in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
    findmnt -n "$d" >/dev/null 2>&1 && cg_roots+=("$d")
  done
fi
((${#cg_roots[@]})) || skip "no cgroup hierarchy for systemd-nspawn (neither cgroup2 nor name=systemd is mounted)"

machine="ringwatch-test-$$"
instance="rw-nspawn-$$"
work="${TEST_TMPDIR:-/tmp}/nspawn.$$"
root="$work/root"
nspawn_pid=""
leader=""
watch_pid=""

# --- cleanup: always power off, then remove what this run made ---------------
kill_cgroup() {  # dir: kill every process left in it and its children
  local d="$1" p
  [[ -d "$d" ]] || return 0
  find "$d" -name cgroup.procs 2>/dev/null | while read -r f; do
    while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$f"
  done
}
remove_cgroup() {  # dir, deepest first
  [[ -d "$1" ]] || return 0
  find "$1" -depth -type d -exec rmdir {} \; 2>/dev/null
  [[ ! -d "$1" ]] || echo "nspawn_test: could not remove cgroup $1" >&2
}
remove_instance() {
  local dir="$tracefs/instances/$instance" f
  [[ -d "$dir" ]] || return 0
  echo 0 >"$dir/tracing_on" 2>/dev/null
  for f in "$dir"/events/*/*/enable; do echo 0 >"$f" 2>/dev/null; done
  rmdir "$dir" 2>/dev/null || echo "nspawn_test: could not remove $dir" >&2
}
cleanup() {
  local i
  if [[ -n "$watch_pid" ]]; then kill "$watch_pid" 2>/dev/null; wait "$watch_pid" 2>/dev/null; fi
  if [[ -n "$nspawn_pid" ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
    [[ -n "$leader" ]] && timeout 20 nsenter -t "$leader" -a systemctl poweroff >/dev/null 2>&1
    for ((i = 0; i < 300; i++)); do
      kill -0 "$nspawn_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$nspawn_pid" 2>/dev/null; then
      echo "nspawn_test: the container did not power off; killing it" >&2
      kill -TERM "$nspawn_pid" 2>/dev/null
      sleep 2
      for d in "${cg_roots[@]}"; do kill_cgroup "$d/$machine"; done
    fi
    wait "$nspawn_pid" 2>/dev/null
  fi
  for d in "${cg_roots[@]}"; do
    kill_cgroup "$d/$machine"
    remove_cgroup "$d/$machine"
  done
  remove_instance
  if [[ -d "$work" ]]; then
    if findmnt -rn -o TARGET | grep -q "^$work"; then
      echo "nspawn_test: mounts remain under $work; not removing it" >&2
    else
      rm -rf --one-file-system "$work"
    fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/bins"
for b in "$ringwatchd" "$ringwatch" "$ringcat"; do ln -s "$b" "$work/bins/"; done

# --- the root: the cached one, with the packages our binaries link ----------
# Each shared library the binaries load, mapped to its Debian package.
# dpkg knows a file by /lib or /usr/lib (usrmerge): ask for both, at once.
packages=$(
  for b in "$ringwatchd" "$ringwatch" "$ringcat"; do ldd "$b"; done |
    awk '/=> \// { print $3 }' | sort -u | while read -r lib; do
      real="$(readlink -f "$lib")"
      echo "$real"
      if [[ "$real" == /usr/* ]]; then echo "${real#/usr}"; else echo "/usr$real"; fi
    done | xargs dpkg -S 2>/dev/null | cut -d: -f1 | sort -u
)
if ldd "$ringwatchd" | grep -q 'not found'; then
  echo "FAIL: ringwatchd misses libraries on this host: $(ldd "$ringwatchd" | grep 'not found')" >&2
  exit 1
fi
# install.sh installs the web dashboard where node and npm are: its unit
# then runs on Debian's nodejs in the container.
dashboard=0
if command -v node >/dev/null && command -v npm >/dev/null && [[ -f "$src/systemd/ringwatch-dashboard.service" ]]; then
  dashboard=1
  packages="$packages nodejs"
fi
say "runtime packages: $(echo $packages)"
t=$(now)
# shellcheck disable=SC2086
bash "$nspawn_root" copy "$root" $packages || { echo "FAIL: could not make the Debian root" >&2; exit 1; }
say "root ready in $(ms_since "$t") ms"

# What uninstall must bring the root back to. Files that booting, apt and
# the shadow tools change on their own are left out.
listing() {
  (cd "$root" && find . -xdev \
    \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./tmp -o -path ./var/tmp \
    -o -path ./var/log -o -path ./var/lib/systemd -o -path ./var/cache -o -path ./run/systemd \
    -o -path ./var/lib/dbus -o -path ./etc/machine-id -o -path ./etc/resolv.conf \
    -o -path './etc/*-' -o -path ./etc/.pwd.lock -o -path ./etc/ld.so.cache \
    -o -path ./.ringwatch-root-stamp -o -path ./run/user -o -path ./root \) -prune -o \
    -printf '%p %y %m %u %g\n' | sort
    find ./etc ./usr -xdev -type f ! -path './etc/*-' ! -path ./etc/machine-id \
      ! -path ./etc/ld.so.cache ! -path ./etc/resolv.conf -exec md5sum {} + | sort)
}
listing >"$work/before.txt"

# --- install ----------------------------------------------------------------------
if ! bash "$src/tools/install.sh" --prefix="$root" --binaries="$work/bins" >"$work/install.log" 2>&1; then
  cat "$work/install.log" >&2
  echo "FAIL: tools/install.sh --prefix=$root failed" >&2
  exit 1
fi
config="$root/etc/ringwatch/ringwatch.textproto"
[[ -f "$config" ]] || { echo "FAIL: install.sh put no config in $config" >&2; exit 1; }
# Our own instance name: never collides with a daemon or test on the host.
sed -i "s|^instance: .*|instance: \"$instance\"|" "$config"
grep -q "^instance: \"$instance\"" "$config" || { echo "FAIL: could not set the instance in $config" >&2; exit 1; }
cp "$config" "$work/base.textproto"

# --- boot ---------------------------------------------------------------------------
for d in "${cg_roots[@]}"; do mkdir -p "$d/$machine"; done
t_boot=$(now)
(
  for d in "${cg_roots[@]}"; do echo "$BASHPID" >"$d/$machine/cgroup.procs"; done
  exec env SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -b -D "$root" \
    --register=no --keep-unit --console=pipe --bind="$tracefs" --machine="$machine"
) </dev/null >"$work/console.log" 2>&1 &
nspawn_pid=$!
for ((i = 0; i < 300; i++)); do
  for p in $(ps -o pid= --ppid "$nspawn_pid" 2>/dev/null); do
    if [[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null)" == 1 ]]; then
      leader=$p
    fi
  done
  [[ -n "$leader" ]] && break
  kill -0 "$nspawn_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z "$leader" ]]; then
  tail -n 30 "$work/console.log" >&2
  echo "FAIL: systemd-nspawn started no container (console above)" >&2
  exit 1
fi
ct() { SYSTEMD_COLORS=0 SYSTEMD_PAGER= nsenter -t "$leader" -a "$@"; }
# systemctl answers once PID 1 listens on its private bus.
for ((i = 0; i < 300; i++)); do
  [[ -S "/proc/$leader/root/run/systemd/private" ]] && break
  kill -0 "$nspawn_pid" 2>/dev/null || break
  sleep 0.1
done
state=$(timeout 90 nsenter -t "$leader" -a systemctl is-system-running --wait 2>&1)
say "container $machine (leader pid $leader): $state after $(ms_since "$t_boot") ms"
if [[ "$state" != running ]]; then
  ct systemctl --failed --no-legend >&2
  fail "the container is '$state', not running"
fi
show() { ct systemctl show -p "$1" --value "${2:-ringwatch.service}"; }
journal_since() {  # cursor file, journalctl arguments...: lines after it
  local c="$1"
  shift
  ct journalctl --no-pager --after-cursor="$(cat "$c")" "$@"
}
mark() { ct journalctl --no-pager -n 0 --show-cursor -q | sed -n 's/^-- cursor: //p' >"$1"; }
await() {  # seconds, description, command...: until the command succeeds
  local limit="$1" what="$2" i
  shift 2
  for ((i = 0; i < limit * 10; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  fail "$what (waited ${limit}s)"
  return 1
}
instance_exists() { [[ -d "$tracefs/instances/$instance" ]]; }
instance_gone() { ! instance_exists; }

# --- enable --now: start returns once READY=1 came and the API answers -------
gid=$(ct getent group ringwatch | cut -d: -f3)
[[ -n "$gid" ]] || fail "group ringwatch does not exist in the container (sysusers)"
got=$(ct stat -c '%a %U %G' /run/ringwatch 2>&1)
[[ "$got" == "750 root ringwatch" ]] || fail "/run/ringwatch at boot is '$got', want '750 root ringwatch' (tmpfiles)"
t=$(now)
if ! ct systemctl enable --now ringwatch.socket ringwatch.service >"$work/enable.log" 2>&1; then
  cat "$work/enable.log" >&2
  ct journalctl --no-pager -u ringwatch.service -n 30 >&2
  fail "systemctl enable --now ringwatch.socket ringwatch.service failed"
  exit 1
fi
enable_ms=$(ms_since "$t")
# No retry: the call must work the moment start returned.
ct ringwatch status >"$work/status.txt" 2>&1 || fail "ringwatch status right after start failed: $(cat "$work/status.txt")"
expect_active() {  # unit, want
  local got
  got=$(ct systemctl is-active "$1")
  [[ "$got" == "$2" ]] || fail "$1 is '$got', want '$2'"
}
expect_active ringwatch.socket active
expect_active ringwatch.service active
for u in ringwatch.socket ringwatch.service; do
  got=$(ct systemctl is-enabled "$u")
  [[ "$got" == enabled ]] || fail "$u is '$got' after enable, want enabled"
done
# systemd logged "Started" only after READY=1, which comes after the
# daemon's "reading N CPUs" line.
ct journalctl --no-pager -b -o short-monotonic _PID=1 + SYSLOG_IDENTIFIER=ringwatchd >"$work/start.journal"
ready_line=$(grep -n 'reading [0-9]* CPUs of instance' "$work/start.journal" | head -n 1 | cut -d: -f1)
started_line=$(grep -n 'Started ringwatch.service\|Started ringwatch live' "$work/start.journal" | head -n 1 | cut -d: -f1)
if [[ -z "$ready_line" || -z "$started_line" ]]; then
  fail "journal lacks the daemon's 'reading N CPUs' line or systemd's 'Started' line: $(tail -n 20 "$work/start.journal")"
elif ((started_line < ready_line)); then
  fail "systemd reported the service started before the daemon was reading"
fi
grep -q "serving inherited socket" "$work/start.journal" || fail "the daemon did not serve the socket ringwatch.socket passed"
ready_ms() {  # systemd's own: exec of the main process to READY=1
  local a b
  a=$(show ExecMainStartTimestampMonotonic)
  b=$(show ActiveEnterTimestampMonotonic)
  echo $(((b - a) / 1000))
}
say "figure: systemctl enable --now returned after $enable_ms ms; exec to READY=1 $(ready_ms) ms"

# --- STATUS= -------------------------------------------------------------------------
cpus=$(nproc)
status_text=$(show StatusText)
[[ "$status_text" =~ ^$cpus\ CPUs,\ [0-9]+\ events/s,\ [0-9]+\ events,\ [0-9]+\ lost,\ 3\ aggregations$ ]] ||
  fail "STATUS= is '$status_text', want '$cpus CPUs, N events/s, N events, N lost, 3 aggregations'"
say "STATUS=$status_text"

# --- the sandbox: no capabilities, mmap readers, tracefs writable only --------
pid=$(show MainPID)
ct grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' "/proc/$pid/status" >"$work/caps.txt"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
  grep -q "^$c:[[:space:]]*0000000000000000$" "$work/caps.txt" || fail "ringwatchd has $(grep "^$c:" "$work/caps.txt")"
done
grep -q '^NoNewPrivs:[[:space:]]*1$' "$work/caps.txt" || fail "NoNewPrivs is not set: $(cat "$work/caps.txt")"
grep -q '^Seccomp:[[:space:]]*2$' "$work/caps.txt" || fail "no seccomp filter: $(cat "$work/caps.txt")"
ct cat "/proc/$pid/mountinfo" >"$work/mountinfo.txt"
# Fields: 5 mount point, 6 options; after " - ": type, source.
awk '$5 == "/sys" { print $6 }' "$work/mountinfo.txt" | tail -n 1 | grep -q '^ro' ||
  fail "/sys is not read-only for the service: $(awk '$5 == "/sys"' "$work/mountinfo.txt")"
awk '$5 == "/" { print $6 }' "$work/mountinfo.txt" | tail -n 1 | grep -q '^ro' ||
  fail "/ is not read-only for the service (ProtectSystem=strict)"
rw_tracefs=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break; if ($(i + 1) == "tracefs" && $6 ~ /^rw/) print $5 }' "$work/mountinfo.txt")
[[ -n "$rw_tracefs" ]] || fail "the service sees no writable tracefs: $(grep tracefs "$work/mountinfo.txt")"
say "writable tracefs in the service: $(echo $rw_tracefs)"
# ProtectKernelTunables= holds: the standard place stays read-only.
awk '$5 == "/sys/kernel/tracing" { print $6 }' "$work/mountinfo.txt" | tail -n 1 | grep -q '^ro' ||
  fail "/sys/kernel/tracing is writable for the service (ProtectKernelTunables=yes should make it read-only)"
# `ringwatch status`: a row per CPU reader, "CPU MODE ...".
for ((c = 0; c < cpus; c++)); do
  grep -qE "^ *$c +mmap " "$work/status.txt" || fail "CPU $c is not read with mmap: $(cat "$work/status.txt")"
done
grep -qE '^ *[0-9]+ +read ' "$work/status.txt" && fail "some reader uses read(): $(cat "$work/status.txt")"
say "$(head -n 1 "$work/status.txt"); $(grep -cE '^ *[0-9]+ +mmap ' "$work/status.txt") readers on mmap"
instance_exists || fail "no instance $instance in the host's tracefs while the daemon runs"

# --- the flight recorder under the sandbox: a snapshot through the socket ------
# The daemon writes its scratch file in StateDirectory= (ProtectSystem=strict
# leaves nothing else writable) and streams it; /proc/kallsyms is hidden
# (ProcSubset=pid), so the file carries no symbols.
marker="nspawn-snapshot-$$"
echo "$marker" >"/sys/kernel/tracing/instances/$instance/trace_marker"
ct ringwatch snapshot -o /root/snapshot.dat --seconds 10 >"$work/snapshot.txt" 2>&1 ||
  fail "ringwatch snapshot under the sandbox: $(cat "$work/snapshot.txt")"
"$ringcat" --input "/proc/$leader/root/root/snapshot.dat" --format jsonl >"$work/snapshot.jsonl" 2>&1 ||
  fail "ringcat cannot read the snapshot: $(tail -n 3 "$work/snapshot.jsonl")"
got=$(grep -c "\"buf\":\"$marker" "$work/snapshot.jsonl" || true)
[[ "$got" == 1 ]] || fail "the marker is in the snapshot $got times, want 1"
left=$(ct find /var/lib/ringwatch -type f | wc -l)
[[ "$left" == 0 ]] || fail "the snapshot left files in /var/lib/ringwatch: $(ct find /var/lib/ringwatch -type f)"
say "snapshot under the sandbox: $(cat "$work/snapshot.txt")"

# --- the socket: group ringwatch yes, others no ----------------------------------
if [[ -n "$gid" ]]; then
  out=$(ct setpriv --reuid=61000 --regid=61000 --groups="$gid" ringwatch status 2>&1) ||
    fail "a member of group ringwatch cannot use the socket: $out"
  out=$(ct setpriv --reuid=61001 --regid=61001 --clear-groups ringwatch status 2>&1) &&
    fail "a user outside group ringwatch could use the socket: $out"
  [[ "$out" == *"permission denied"* ]] || fail "the refusal does not say permission denied: $out"
fi

# --- reload under an open Subscribe stream -----------------------------------------
sock="/proc/$leader/root/run/ringwatch/ringwatch.sock"
"$ringwatch" --addr "unix://$sock" --json watch cpu_time >"$work/watch.jsonl" 2>"$work/watch.err" &
watch_pid=$!
lines() { wc -l <"$work/watch.jsonl"; }
at_least() { (($(lines) >= $1)); }
await 15 "the Subscribe stream delivered nothing" at_least 1
aggs() { ct ringwatch aggs 2>&1; }
aggs >"$work/aggs0.txt"
grep -q wakeup_latency "$work/aggs0.txt" || fail "aggregation wakeup_latency missing before reload: $(cat "$work/aggs0.txt")"
main0=$(show MainPID)

# Good: drop wakeup_latency, add nspawn_probe.
python3 - "$work/base.textproto" "$work/good.textproto" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r'(?m)^(?=aggregation \{)', text)
kept = [b for b in blocks if 'name: "wakeup_latency"' not in b]
assert len(kept) == len(blocks) - 1, "no wakeup_latency block to drop"
open(sys.argv[2], "w").write("".join(kept) + '''
aggregation {
  name: "nspawn_probe"
  event: "raw_syscalls/sys_enter"
  key: "comm"
  window: "1s"
}
''')
EOF
cp "$work/good.textproto" "$config"
mark "$work/c1"
n0=$(lines)
ct systemctl reload ringwatch.service || fail "systemctl reload (good config) failed"
reloaded() { journal_since "$work/c1" -u ringwatch.service -g 'config reloaded' -q >/dev/null 2>&1; }
await 20 "no 'config reloaded' in the journal after a good reload" reloaded
aggs >"$work/aggs1.txt"
grep -q nspawn_probe "$work/aggs1.txt" || fail "reload did not add nspawn_probe: $(cat "$work/aggs1.txt")"
grep -q wakeup_latency "$work/aggs1.txt" && fail "reload did not remove wakeup_latency: $(cat "$work/aggs1.txt")"
await 15 "the Subscribe stream got nothing after the good reload" at_least $((n0 + 2))
kill -0 "$watch_pid" 2>/dev/null || fail "the Subscribe stream ended at reload: $(cat "$work/watch.err")"
[[ "$(show MainPID)" == "$main0" ]] || fail "reload restarted the daemon"

# Bad: an unknown event. The running config stays, the journal says why.
{ cat "$work/good.textproto"; printf 'aggregation {\n  name: "broken"\n  event: "nosuch/event"\n  window: "1s"\n}\n'; } >"$config"
mark "$work/c2"
n1=$(lines)
ct systemctl reload ringwatch.service || fail "systemctl reload (bad config) failed"
rejected() { journal_since "$work/c2" -u ringwatch.service -g 'reload rejected' -q >"$work/rejected.txt" 2>&1 && [[ -s "$work/rejected.txt" ]]; }
await 20 "no 'reload rejected' in the journal after a bad reload" rejected
grep -q 'nosuch/event' "$work/rejected.txt" || fail "the rejection does not name the unknown event: $(cat "$work/rejected.txt")"
say "bad reload: $(tail -n 1 "$work/rejected.txt")"
aggs >"$work/aggs2.txt"
grep -q nspawn_probe "$work/aggs2.txt" || fail "a bad reload dropped the running config: $(cat "$work/aggs2.txt")"
grep -q broken "$work/aggs2.txt" && fail "a bad reload added its aggregation"
expect_active ringwatch.service active
await 15 "the Subscribe stream got nothing after the bad reload" at_least $((n1 + 2))
kill -0 "$watch_pid" 2>/dev/null || fail "the Subscribe stream ended at the bad reload: $(cat "$work/watch.err")"
[[ "$(show MainPID)" == "$main0" ]] || fail "a bad reload restarted the daemon"
python3 - "$work/watch.jsonl" <<'EOF' || fail "the stream's sequence numbers did not increase across the reloads"
import json, sys
seq = [int(json.loads(l).get("sequence", 0)) for l in open(sys.argv[1]) if l.strip()]
sys.exit(0 if all(b > a for a, b in zip(seq, seq[1:])) else 1)
EOF
kill "$watch_pid" 2>/dev/null
wait "$watch_pid" 2>/dev/null
watch_pid=""
cp "$work/good.textproto" "$config"

# --- the watchdog: a frozen daemon is killed and restarted ----------------------
old=$(show MainPID)
restarts0=$(show NRestarts)
mark "$work/c3"
t=$(now)
ct kill -STOP "$old"
restarted() {
  local p
  p=$(show MainPID)
  [[ "$p" != 0 && "$p" != "$old" && "$(ct systemctl is-active ringwatch.service)" == active ]]
}
if await 60 "systemd did not restart the frozen daemon" restarted; then
  say "figure: SIGSTOP to a new daemon READY: $(ms_since "$t") ms (WatchdogSec=$(show WatchdogUSec))"
  new=$(show MainPID)
  [[ "$(show NRestarts)" == $((restarts0 + 1)) ]] || fail "NRestarts is $(show NRestarts), want $((restarts0 + 1))"
  journal_since "$work/c3" -u ringwatch.service >"$work/watchdog.journal"
  grep -qi 'watchdog timeout' "$work/watchdog.journal" || fail "no watchdog timeout in the journal: $(cat "$work/watchdog.journal")"
  ct journalctl --no-pager _PID="$new" >"$work/new.journal"
  grep -q "stale instances: removed.*$instance" "$work/new.journal" ||
    fail "the new daemon did not remove the instance the old one left: $(cat "$work/new.journal")"
  ct ringwatch status >/dev/null 2>&1 || fail "ringwatch status fails after the watchdog restart"
fi

# --- socket activation: the first call starts the stopped service --------------
t=$(now)
ct systemctl stop ringwatch.service
stop1_ms=$(ms_since "$t")
[[ "$(show Result)" == success ]] || fail "stop: Result=$(show Result), want success (not a timeout)"
expect_active ringwatch.service inactive
expect_active ringwatch.socket active
instance_gone || fail "the instance is still in tracefs after systemctl stop"
out=$(ct ringwatch status 2>&1) || fail "the first call did not start the service through the socket: $out"
expect_active ringwatch.service active
[[ -n "$(ct journalctl --no-pager -q _PID="$(show MainPID)" -g 'serving inherited socket')" ]] ||
  fail "the socket-activated daemon does not say it serves the inherited socket"
say "figure: socket-activated start, exec to READY=1 $(ready_ms) ms"

# --- the web dashboard's unit: a dynamic user in group ringwatch -----------------
if ((dashboard)); then
  unit="$root/etc/systemd/system/ringwatch-dashboard.service"
  [[ -f "$unit" ]] || fail "install.sh did not install ringwatch-dashboard.service"
  # The container shares the host's network: a free port instead of 7879.
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$unit.d"
  { echo '[Service]'; echo 'ExecStart='; grep '^ExecStart=' "$unit" | sed "s/--listen [^ ]*/--listen 127.0.0.1:$port/"; } >"$unit.d/test-port.conf"
  grep -q "127.0.0.1:$port" "$unit.d/test-port.conf" || fail "could not move the dashboard to port $port"
  ct systemctl daemon-reload
  if ct systemctl enable --now ringwatch-dashboard.service >"$work/dashboard.log" 2>&1; then
    healthz() {
      python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' \
        "http://127.0.0.1:$port/healthz" >"$work/healthz.txt" 2>/dev/null && grep -q 'daemon reachable' "$work/healthz.txt"
    }
    await 30 "the dashboard never reached ringwatchd: $(cat "$work/healthz.txt" 2>/dev/null; ct journalctl --no-pager -q -u ringwatch-dashboard.service -n 10)" healthz
    dpid=$(show MainPID ringwatch-dashboard.service)
    duid=$(ct awk '/^Uid:/ { print $2 }' "/proc/$dpid/status")
    dgroups=$(ct awk '/^Groups:/ { $1 = ""; print }' "/proc/$dpid/status")
    [[ -n "$duid" && "$duid" != 0 ]] || fail "the dashboard runs as uid '$duid', want a dynamic user"
    [[ " $dgroups " == *" $gid "* ]] || fail "the dashboard is not in group ringwatch ($gid): groups$dgroups"
    say "dashboard: $(cat "$work/healthz.txt") (uid $duid, groups$dgroups)"
  else
    fail "systemctl enable --now ringwatch-dashboard.service failed: $(cat "$work/dashboard.log"; ct journalctl --no-pager -q -u ringwatch-dashboard.service -n 20)"
  fi
  ct systemctl disable --now ringwatch-dashboard.service >/dev/null 2>&1
  expect_active ringwatch-dashboard.service inactive
  rm -rf --one-file-system "$unit.d"
  ct systemctl daemon-reload
fi

# --- the /metrics drop-in (systemd/ringwatch-metrics.conf) --------------------------
if [[ -f "$src/systemd/ringwatch-metrics.conf" ]]; then
  dropins="$root/etc/systemd/system/ringwatch.service.d"
  mkdir -p "$dropins"
  cp "$src/systemd/ringwatch-metrics.conf" "$dropins/metrics.conf"
  # A free port instead of 10117 (the container shares the host's network),
  # allowed the way the drop-in says.
  mport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf '[Service]\nSocketBindAllow=tcp:%s\n' "$mport" >"$dropins/test-port.conf"
  cp "$config" "$work/pre-metrics.textproto"
  printf '\nmetrics {\n  listen: "127.0.0.1:%s"\n}\n' "$mport" >>"$config"
  ct systemctl daemon-reload
  if ct systemctl restart ringwatch.service; then
    scrape() {
      python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' \
        "http://127.0.0.1:$mport/metrics" >"$work/metrics.txt" 2>/dev/null &&
        grep -q '^ringwatch_reader_events_total' "$work/metrics.txt"
    }
    if await 15 "no ringwatch_reader_events_total on http://127.0.0.1:$mport/metrics: $(ct journalctl --no-pager -q -u ringwatch.service -n 10)" scrape; then
      say "metrics drop-in: $(grep -c '^ringwatch_' "$work/metrics.txt") ringwatch_ samples on 127.0.0.1:$mport"
    fi
    expect_active ringwatch.service active
  else
    fail "ringwatch.service does not start with the metrics drop-in: $(ct journalctl --no-pager -q -u ringwatch.service -n 20)"
  fi
  rm -rf --one-file-system "$dropins"
  cp "$work/pre-metrics.textproto" "$config"
  ct systemctl daemon-reload
  ct systemctl restart ringwatch.service || fail "ringwatch.service does not start again without the metrics drop-in"
fi

# --- start figures: three stop/start cycles -------------------------------------
for run in 1 2 3; do
  ct systemctl stop ringwatch.service
  t=$(now)
  ct systemctl start ringwatch.service || fail "systemctl start (run $run) failed"
  say "figure: systemctl start run $run returned after $(ms_since "$t") ms (exec to READY=1 $(ready_ms) ms)"
done

# --- stop: within TimeoutStopSec, the instance removed ----------------------------
t=$(now)
ct systemctl stop ringwatch.socket ringwatch.service
stop_ms=$(ms_since "$t")
[[ "$(show Result)" == success ]] || fail "stop: Result=$(show Result) (TimeoutStopSec=$(show TimeoutStopUSec))"
[[ "$(show ExecMainStatus)" == 0 ]] || fail "ringwatchd exited $(show ExecMainStatus) on stop"
expect_active ringwatch.service inactive
expect_active ringwatch.socket inactive
instance_gone || fail "the instance is still in tracefs after stop"
say "figure: systemctl stop took $stop1_ms ms (service) and $stop_ms ms (socket and service); TimeoutStopSec=$(show TimeoutStopUSec)"

# --- the journal's structured fields -----------------------------------------------
ct journalctl --no-pager -b -u ringwatch.service -o json >"$work/journal.json"
python3 - "$work/journal.json" <<'EOF' || fail "the journal lacks ringwatchd's structured fields"
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ours = [e for e in entries if e.get("SYSLOG_IDENTIFIER") == "ringwatchd"]
need = ("CODE_FILE", "CODE_LINE", "CODE_FUNC", "PRIORITY", "MESSAGE")
good = [e for e in ours if all(k in e for k in need)]
errors = [e for e in good if e["PRIORITY"] == "3" and "reload rejected" in str(e["MESSAGE"])]
print(f"nspawn_test: journal: {len(ours)} ringwatchd entries, {len(good)} with {', '.join(need)}, "
      f"{len(errors)} reload rejection(s) at PRIORITY=3")
if ours:
  print("nspawn_test: a structured entry:", {k: v for k, v in good[0].items() if not k.startswith("__")} if good else ours[0])
sys.exit(0 if ours and len(good) == len(ours) and errors else 1)
EOF

# --- uninstall.sh where systemd runs: stops and disables, then removes ----------
cp "$src/tools/uninstall.sh" "$root/root/uninstall.sh"
ct systemctl start ringwatch.socket ringwatch.service || fail "could not start the units again before uninstall"
if ct bash /root/uninstall.sh >"$work/uninstall-inside.log" 2>&1; then
  for u in ringwatch.service ringwatch.socket; do
    got=$(ct systemctl is-active "$u")
    [[ "$got" == inactive ]] || fail "$u is '$got' after uninstall.sh"
    got=$(ct systemctl is-enabled "$u" 2>&1)
    [[ "$got" == *"not-found"* || "$got" == *"No such file"* ]] || fail "$u is still known after uninstall.sh: $got"
  done
  ct test -e /usr/local/bin/ringwatchd && fail "uninstall.sh left /usr/local/bin/ringwatchd"
  instance_gone || fail "the instance is still in tracefs after uninstall.sh"
else
  fail "tools/uninstall.sh in the container failed: $(cat "$work/uninstall-inside.log")"
fi

# --- power off, uninstall --prefix, nothing left ----------------------------------
t=$(now)
ct systemctl poweroff >/dev/null 2>&1
for ((i = 0; i < 300; i++)); do
  kill -0 "$nspawn_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$nspawn_pid" 2>/dev/null; then
  fail "the container did not power off within 30 s"
else
  wait "$nspawn_pid"
  say "powered off in $(ms_since "$t") ms"
  nspawn_pid=""
  leader=""
  if ! bash "$src/tools/uninstall.sh" --prefix="$root" --purge >"$work/uninstall.log" 2>&1; then
    fail "tools/uninstall.sh --prefix --purge failed: $(cat "$work/uninstall.log")"
  fi
  listing >"$work/after.txt"
  if ! diff "$work/before.txt" "$work/after.txt" >"$work/left.diff"; then
    fail "uninstall --prefix --purge left the root changed ($(grep -c '^>' "$work/left.diff") lines more, $(grep -c '^<' "$work/left.diff") fewer):"
    head -n 40 "$work/left.diff" >&2
  fi
fi

if ((failures)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "PASS"
