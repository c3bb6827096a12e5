#!/usr/bin/env bash
# Builds ringwatch and runs the daemon, ringwatchd, in the foreground on its
# built-in defaults (config/ringwatch.textproto, compiled in): it creates the
# tracefs instance "ringwatch", maps every CPU's ring and serves the API on
# /run/ringwatch/ringwatch.sock until Ctrl-C, which removes the instance.
# Beside it runs the web dashboard (clients/dashboard), whose URL is printed.
#
#   tools/run.sh [--listen HOST:PORT] [--daemon ADDR] [--no-dashboard] [ringwatchd args...]
#
#   --listen        where the dashboard serves browsers (default 127.0.0.1:7879)
#   --daemon        the API address the dashboard uses (default the socket
#                   above; set it when a --config moves the socket)
#   --no-dashboard  the daemon alone
# Other arguments go to ringwatchd (see `ringwatchd --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
dashboard=1
listen=127.0.0.1:7879
daemon_addr=unix:///run/ringwatch/ringwatch.sock
daemon_args=()
while (($#)); do
  case "$1" in
    --listen) listen="$2"; shift 2 ;;
    --listen=*) listen="${1#--listen=}"; shift ;;
    --daemon) daemon_addr="$2"; shift 2 ;;
    --daemon=*) daemon_addr="${1#--daemon=}"; shift ;;
    --no-dashboard) dashboard=0; shift ;;
    *) daemon_args+=("$1"); shift ;;
  esac
done
bash tools/setup.sh
bazel build //daemon:ringwatchd //clients/cli:ringwatch //clients/ringcat:ringcat \
  2>&1 | grep -vE '^[0-9]+\.[0-9]+: src/main/tools/' | tail -n 1

dashboard_pid=""
stop_dashboard() {
  if [[ -n $dashboard_pid ]]; then
    kill "$dashboard_pid" 2>/dev/null || true
    wait "$dashboard_pid" 2>/dev/null || true
  fi
}
trap stop_dashboard EXIT
url=""
if ((dashboard)); then
  bash clients/dashboard/npm-ci.sh
  log="$(mktemp /tmp/ringwatch-dashboard.XXXXXX.log)"
  node clients/dashboard/bin/ringwatch-dashboard.js --daemon "$daemon_addr" \
    --listen "$listen" >"$log" 2>&1 &
  dashboard_pid=$!
  for _ in $(seq 100); do
    url="$(sed -n 's/^ringwatch-dashboard: serving \([^ ]*\).*/\1/p' "$log")"
    [[ -n $url ]] && break
    kill -0 "$dashboard_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $url ]]; then
    echo "run: the dashboard did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
fi
cat >&2 <<MSG
ringwatchd starting. In another terminal:
  bazel-bin/clients/cli/ringwatch status
  bazel-bin/clients/cli/ringwatch watch cpu_time
  bazel-bin/clients/ringcat/ringcat --duration 5 --format text   (raw events, no daemon)
MSG
if [[ -n $url ]]; then
  echo "Dashboard: $url   (its log: $log)" >&2
fi
# Not exec: the dashboard is stopped when ringwatchd exits.
bazel-bin/daemon/ringwatchd "${daemon_args[@]}"
