#!/usr/bin/env bash
# Installs ringwatch on this host: ringwatchd, ringwatch and ringcat in
# /usr/local/bin, the systemd units, the default config (an existing
# /etc/ringwatch/ringwatch.textproto is kept), the ringwatch group
# (sysusers.d) and /run/ringwatch (tmpfiles.d); then, when systemd runs
# this machine, enables and starts the socket and the service. Idempotent.
#
#   tools/install.sh [--prefix=DIR] [--binaries=DIR] [--no-start]
#
#   --prefix=DIR    install under DIR instead of / (staging, packaging,
#                   tests); nothing is started and no systemctl is run
#   --binaries=DIR  take ringwatchd, ringwatch and ringcat from DIR instead
#                   of building them with Bazel
#   --no-start      install and enable, but do not start anything
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix=""
binaries=""
start=1
for arg in "$@"; do
  case "$arg" in
    --prefix=*) prefix="${arg#--prefix=}" ;;
    --binaries=*) binaries="${arg#--binaries=}" ;;
    --no-start) start=0 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -n "$prefix" ]]; then
  mkdir -p "$prefix"
  prefix="$(cd "$prefix" && pwd)"
fi
say() { echo "install: $*"; }

# Bazel target -> installed name.
targets=(
  "//daemon:ringwatchd ringwatchd"
  "//clients/cli:ringwatch ringwatch"
  "//clients/ringcat:ringcat ringcat"
)

# --- the binaries ------------------------------------------------------------
declare -A built
if [[ -n "$binaries" ]]; then
  for t in "${targets[@]}"; do
    name="${t#* }"
    if [[ ! -x "$binaries/$name" ]]; then
      echo "install: $binaries/$name is missing or not executable (--binaries=$binaries)" >&2
      exit 1
    fi
    built[$name]="$binaries/$name"
  done
else
  if [[ -z "$prefix" ]]; then
    bash "$repo/tools/setup.sh"
  fi
  cd "$repo"
  for t in "${targets[@]}"; do
    label="${t% *}"
    if ! bazel query "$label" >/dev/null 2>&1; then
      echo "install: Bazel target $label does not exist in this tree yet; nothing was installed" >&2
      exit 1
    fi
  done
  labels=()
  for t in "${targets[@]}"; do labels+=("${t% *}"); done
  set +e
  bazel build "${labels[@]}" 2>&1 | grep -vE '^[0-9]+\.[0-9]+: src/main/tools/' | tail -n 3
  rc=${PIPESTATUS[0]}
  set -e
  if ((rc != 0)); then
    echo "install: bazel build ${labels[*]} failed (exit $rc); nothing was installed" >&2
    exit 1
  fi
  bin="$(bazel info bazel-bin 2>/dev/null)"
  for t in "${targets[@]}"; do
    label="${t% *}"
    name="${t#* }"
    path="$bin/${label#//}"
    path="${path/://}"
    if [[ ! -x "$path" ]]; then
      echo "install: building $label failed (no $path); nothing was installed" >&2
      exit 1
    fi
    built[$name]="$path"
  done
fi

# --- files ---------------------------------------------------------------------
put() {  # mode, source, destination (under the prefix)
  install -D -m "$1" "$2" "$prefix$3"
  say "$3"
}
for t in "${targets[@]}"; do
  name="${t#* }"
  put 0755 "${built[$name]}" "/usr/local/bin/$name"
done
put 0644 "$repo/systemd/ringwatch.service" /etc/systemd/system/ringwatch.service
put 0644 "$repo/systemd/ringwatch.socket" /etc/systemd/system/ringwatch.socket
put 0644 "$repo/systemd/ringwatch.sysusers" /usr/lib/sysusers.d/ringwatch.conf
put 0644 "$repo/systemd/ringwatch.tmpfiles" /usr/lib/tmpfiles.d/ringwatch.conf
put 0644 "$repo/systemd/ringwatch-tcp.conf" /usr/local/share/doc/ringwatch/ringwatch-tcp.conf
put 0644 "$repo/systemd/ringwatch-metrics.conf" /usr/local/share/doc/ringwatch/ringwatch-metrics.conf
if [[ -f "$repo/docs/operations.md" ]]; then
  put 0644 "$repo/docs/operations.md" /usr/local/share/doc/ringwatch/operations.md
fi
for preset in "$repo"/config/presets/*.textproto; do
  [[ -e "$preset" ]] || continue
  put 0644 "$preset" "/usr/local/share/ringwatch/presets/$(basename "$preset")"
done

# The config is the administrator's once installed: never overwritten.
config=/etc/ringwatch/ringwatch.textproto
if [[ -e "$prefix$config" ]]; then
  if cmp -s "$repo/config/ringwatch.textproto" "$prefix$config"; then
    say "$config (unchanged)"
  else
    install -m 0644 "$repo/config/ringwatch.textproto" "$prefix$config.new"
    say "$config kept as it is; the new default is $config.new"
  fi
else
  put 0644 "$repo/config/ringwatch.textproto" "$config"
fi

# --- the web dashboard (clients/dashboard; docs/dashboard.md) ----------------
# Its files, the API's .proto files it loads at run time, its npm
# dependencies from the committed lock, and its unit; only where Node.js and
# npm are (tools/setup.sh installs them).
dashboard=/usr/local/lib/ringwatch-dashboard
if command -v node >/dev/null && command -v npm >/dev/null; then
  (cd "$repo/clients/dashboard" && for f in package.json package-lock.json npm-ci.sh bin/*.js src/*.js public/*; do
    install -D -m 0644 "$f" "$prefix$dashboard/$f"
  done)
  for f in "$repo"/proto/ringwatch/v1/*.proto; do
    install -D -m 0644 "$f" "$prefix$dashboard/proto/ringwatch/v1/$(basename "$f")"
  done
  bash "$prefix$dashboard/npm-ci.sh" --omit=dev "$prefix$dashboard"
  say "$dashboard"
  put 0644 "$repo/systemd/ringwatch-dashboard.service" /etc/systemd/system/ringwatch-dashboard.service
  put 0644 "$repo/docs/dashboard.md" /usr/local/share/doc/ringwatch/dashboard.md
else
  say "no node/npm on PATH: the web dashboard is not installed (tools/setup.sh installs them)"
fi

# --- the group and /run/ringwatch --------------------------------------------
if command -v systemd-sysusers >/dev/null; then
  if [[ -n "$prefix" ]]; then
    mkdir -p "$prefix/etc"
    systemd-sysusers --root="$prefix" "$prefix/usr/lib/sysusers.d/ringwatch.conf"
  else
    systemd-sysusers /usr/lib/sysusers.d/ringwatch.conf
  fi
elif [[ -z "$prefix" ]] && ! getent group ringwatch >/dev/null; then
  groupadd --system ringwatch
fi
group_file="$prefix/etc/group"
if grep -q '^ringwatch:' "$group_file" 2>/dev/null; then
  say "group ringwatch: members may use the API socket without root (usermod -aG ringwatch USER)"
fi
if command -v systemd-tmpfiles >/dev/null; then
  mkdir -p "$prefix/run"
  if [[ -n "$prefix" ]]; then
    systemd-tmpfiles --create --root="$prefix" "$prefix/usr/lib/tmpfiles.d/ringwatch.conf"
  else
    systemd-tmpfiles --create /usr/lib/tmpfiles.d/ringwatch.conf
  fi
fi

# --- systemd -------------------------------------------------------------------
if [[ -n "$prefix" ]]; then
  say "installed under $prefix; not enabling or starting anything"
elif [[ ! -d /run/systemd/system ]]; then
  say "systemd is not running this machine (PID 1 is $(cat /proc/1/comm 2>/dev/null || echo unknown)): units installed but not enabled or started."
  say "run the daemon yourself: /usr/local/bin/ringwatchd --config $config"
else
  systemctl daemon-reload
  if ((start)); then
    systemctl enable --now ringwatch.socket ringwatch.service
    say "ringwatch.socket and ringwatch.service enabled and started; try: ringwatch status"
  else
    systemctl enable ringwatch.socket ringwatch.service
    say "ringwatch.socket and ringwatch.service enabled (not started)"
  fi
fi
if [[ -z "$prefix" && -d /run/systemd/system && -f /etc/systemd/system/ringwatch-dashboard.service ]]; then
  systemctl enable ringwatch-dashboard.service
  ((start)) && systemctl restart ringwatch-dashboard.service
  say "ringwatch-dashboard.service enabled: http://127.0.0.1:7879/"
fi
