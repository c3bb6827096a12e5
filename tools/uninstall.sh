#!/usr/bin/env bash
# Removes what tools/install.sh installed: stops and disables the units,
# removes the binaries, units, sysusers/tmpfiles entries, docs and presets,
# and /run/ringwatch. The config in /etc/ringwatch, the triggered
# snapshots in /var/lib/ringwatch and the ringwatch group stay unless
# --purge. Idempotent.
#
#   tools/uninstall.sh [--prefix=DIR] [--purge]
set -euo pipefail

prefix=""
purge=0
for arg in "$@"; do
  case "$arg" in
    --prefix=*) prefix="${arg#--prefix=}" ;;
    --purge) purge=1 ;;
    -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "uninstall: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -n "$prefix" ]]; then
  if [[ ! -d "$prefix" ]]; then
    echo "uninstall: nothing installed under $prefix (no such directory)"
    exit 0
  fi
  prefix="$(cd "$prefix" && pwd)"
fi
say() { echo "uninstall: $*"; }

systemd_runs=0
if [[ -z "$prefix" && -d /run/systemd/system ]]; then
  systemd_runs=1
  # Stopping lets ringwatchd remove its tracefs instance itself.
  systemctl disable --now ringwatch-dashboard.service ringwatch.socket ringwatch.service 2>/dev/null || true
fi

remove() {  # paths under the prefix
  for p in "$@"; do
    if [[ -e "$prefix$p" || -L "$prefix$p" ]]; then
      rm -rf -- "$prefix$p"
      say "removed $p"
    fi
  done
}
remove /usr/local/bin/ringwatchd /usr/local/bin/ringwatch /usr/local/bin/ringcat \
  /etc/systemd/system/ringwatch.service /etc/systemd/system/ringwatch.socket \
  /usr/lib/sysusers.d/ringwatch.conf /usr/lib/tmpfiles.d/ringwatch.conf \
  /usr/local/share/doc/ringwatch /usr/local/share/ringwatch \
  /etc/systemd/system/ringwatch-dashboard.service /usr/local/lib/ringwatch-dashboard
# What `systemctl enable` made: with --prefix (or without a running
# systemd) nobody ran `systemctl disable`, and the links would dangle.
units_dir="$prefix/etc/systemd/system"
for link in "$units_dir"/*.wants/ringwatch.* "$units_dir"/*.requires/ringwatch.*; do
  [[ -L "$link" ]] || continue
  rm -f -- "$link"
  say "removed ${link#"$prefix"}"
  rmdir --ignore-fail-on-non-empty -- "$(dirname "$link")"
done
# A directory install.sh had to create, now empty.
if [[ -d "$prefix/usr/local/share/doc" ]]; then
  rmdir --ignore-fail-on-non-empty -- "$prefix/usr/local/share/doc"
fi
# A ringwatchd still running (started by hand) holds its pid file
# (/run/ringwatch/<instance>.pid) locked: leave its socket alone.
held=""
for pid_file in "$prefix"/run/ringwatch/*.pid; do
  if [[ -e "$pid_file" ]] && ! flock -n -s "$pid_file" true 2>/dev/null; then
    held="$pid_file"
  fi
done
if [[ -n "$held" ]]; then
  say "kept /run/ringwatch: ringwatchd (pid $(cat "$held" 2>/dev/null)) still runs; stop it first"
else
  remove /run/ringwatch
fi
if ((systemd_runs)); then
  systemctl daemon-reload
fi

if ((purge)); then
  remove /etc/ringwatch /etc/systemd/system/ringwatch.service.d /var/lib/ringwatch
  if [[ -n "$prefix" ]]; then
    if grep -q '^ringwatch:' "$prefix/etc/group" 2>/dev/null; then
      groupdel --prefix "$prefix" ringwatch && say "removed group ringwatch"
    fi
  elif getent group ringwatch >/dev/null; then
    groupdel ringwatch && say "removed group ringwatch"
  fi
else
  if [[ -e "$prefix/etc/ringwatch" ]]; then
    say "kept /etc/ringwatch and the ringwatch group (--purge removes them)"
  fi
  if [[ -e "$prefix/var/lib/ringwatch" ]]; then
    say "kept /var/lib/ringwatch, the flight recorder's snapshots (--purge removes it)"
  fi
fi

# An instance left by a daemon that was killed outlives it until reboot.
for tracefs in /sys/kernel/tracing /sys/kernel/debug/tracing; do
  if [[ -z "$prefix" && -d "$tracefs/instances/ringwatch" ]]; then
    say "note: $tracefs/instances/ringwatch still exists; if no ringwatchd runs, remove it with: rmdir $tracefs/instances/ringwatch"
  fi
done
