#!/usr/bin/env bash
# Checks the unit files offline, without a running systemd:
# - systemd-analyze verify prints nothing for the service, the socket and
#   the service with the TCP drop-in (ExecStart must name an existing binary,
#   so copies point it at the test probe);
# - systemd-analyze security --offline keeps the exposure at or below the
#   figure recorded in docs/operations.md (0.5 default, 1.4 with the TCP
#   drop-in);
# - the sysusers and tmpfiles files create the group and /run/ringwatch in
#   a scratch root;
# - the settings the daemon relies on are there.
set -uo pipefail

probe="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
units="$(cd "$2" && pwd)"
tmp="${TEST_TMPDIR:-$(mktemp -d)}/units"
rm -rf "$tmp" && mkdir -p "$tmp/default" "$tmp/tcp" "$tmp/root/etc" "$tmp/root/run"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

if ! command -v systemd-analyze >/dev/null; then
  echo "RINGWATCH-SKIP: systemd-analyze is missing (Debian package systemd)" >&2
  exit 0
fi

with_probe() { sed "s|^ExecStart=/usr/local/bin/ringwatchd|ExecStart=$probe|"; }
with_probe <"$units/ringwatch.service" >"$tmp/default/ringwatch.service"
cp "$units/ringwatch.socket" "$tmp/default/"
cat "$units/ringwatch.service" "$units/ringwatch-tcp.conf" | with_probe >"$tmp/tcp/ringwatch.service"
grep -q "^ExecStart=$probe " "$tmp/default/ringwatch.service" || fail "ExecStart was not rewritten"

# --- verify: any output is a warning (unknown key, bad value, missing file) --
for unit in default/ringwatch.service default/ringwatch.socket tcp/ringwatch.service; do
  out=$(cd "$tmp/${unit%/*}" && systemd-analyze verify "./${unit#*/}" 2>&1)
  rc=$?
  [[ $rc -eq 0 ]] || fail "systemd-analyze verify $unit exited $rc"
  [[ -z "$out" ]] || fail "systemd-analyze verify $unit warned: $out"
done

# A unit with a mistake must be caught the same way (the check can fail).
printf '[Service]\nExecStart=%s\nRestart=sometimes\n' "$probe" >"$tmp/default/bad.service"
out=$(cd "$tmp/default" && systemd-analyze verify ./bad.service 2>&1)
[[ "$out" == *"sometimes"* ]] || fail "verify did not flag a bad Restart= value: $out"

# --- exposure ----------------------------------------------------------------
exposure() {
  systemd-analyze security --offline=true "$1" 2>&1 |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
check_exposure() {  # file, ceiling
  local got
  got=$(exposure "$1")
  if [[ -z "$got" ]]; then
    fail "no 'Overall exposure level' line for $1"
  elif awk -v g="$got" -v c="$2" 'BEGIN { exit !(g > c) }'; then
    fail "exposure of $1 is $got, above $2"
    systemd-analyze security --offline=true "$1" 2>&1 | grep '✗' >&2
  else
    echo "exposure $1: $got (ceiling $2)"
  fi
}
check_exposure "$tmp/default/ringwatch.service" 0.5
check_exposure "$tmp/tcp/ringwatch.service" 1.4
# The parser sees a worse unit as worse (the check can fail).
grep -vE '^(PrivateNetwork|CapabilityBoundingSet|SystemCallFilter)=' \
  "$tmp/default/ringwatch.service" >"$tmp/default/weak.service"
weak=$(exposure "$tmp/default/weak.service")
awk -v g="$weak" 'BEGIN { exit !(g > 0.5) }' || fail "weakened unit still scores $weak"

# --- sysusers and tmpfiles in a scratch root --------------------------------
if command -v systemd-sysusers >/dev/null; then
  systemd-sysusers --root="$tmp/root" "$units/ringwatch.sysusers" >/dev/null 2>&1 ||
    fail "systemd-sysusers failed on ringwatch.sysusers"
  grep -q '^ringwatch:x:[0-9]*:$' "$tmp/root/etc/group" ||
    fail "group ringwatch not created: $(cat "$tmp/root/etc/group" 2>&1)"
  if command -v systemd-tmpfiles >/dev/null; then
    systemd-tmpfiles --create --root="$tmp/root" "$units/ringwatch.tmpfiles" ||
      fail "systemd-tmpfiles failed on ringwatch.tmpfiles"
    gid=$(sed -n 's/^ringwatch:x:\([0-9]*\):$/\1/p' "$tmp/root/etc/group")
    got=$(stat -c '%a %u %g' "$tmp/root/run/ringwatch" 2>&1)
    [[ "$got" == "750 0 $gid" ]] || fail "/run/ringwatch is '$got', want '750 0 $gid'"
  fi
fi

# --- what the daemon relies on ------------------------------------------------
need() {  # file, line regex, why
  grep -qE "$2" "$1" || fail "$(basename "$1"): no line matching '$2' ($3)"
}
s="$units/ringwatch.service"
need "$s" '^Type=notify$' "READY=1 is sent once readers run"
need "$s" '^NotifyAccess=main$' "only ringwatchd itself notifies"
need "$s" '^WatchdogSec=[0-9]+s$' "the watchdog petter needs WATCHDOG_USEC"
need "$s" '^ExecReload=/bin/kill -HUP \$MAINPID$' "reload is SIGHUP"
need "$s" '^Restart=on-failure$' "a watchdog kill restarts it"
need "$s" '^RuntimeDirectory=ringwatch$' "socket and pid file"
need "$s" '^RuntimeDirectoryPreserve=yes$' "the pid file survives a crash"
need "$s" '^BindPaths=/sys/kernel/tracing:/tmp/tracefs$' "tracefs writable under ProtectKernelTunables (a bind elsewhere)"
need "$s" '^ExecStart=.* --tracefs /tmp/tracefs$' "the daemon uses the writable bind"
need "$s" '^PrivateTmp=yes$' "/tmp/tracefs is created in the private /tmp"
need "$s" '^WantedBy=multi-user.target$' "enable starts it at boot"
need "$s" '^CapabilityBoundingSet=$' "no capabilities"
k="$units/ringwatch.socket"
need "$k" '^ListenStream=/run/ringwatch/ringwatch.sock$' "the default socket path"
need "$k" '^SocketMode=0660$' "group members may connect"
need "$k" '^SocketGroup=ringwatch$' "group members may connect"
need "$k" '^#ListenStream=127\.0\.0\.1:' "TCP offered, commented out"

if ((failures)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "PASS"
