#!/usr/bin/env bash
# Builds ringwatch and runs the daemon, ringwatchd, in the foreground on its
# built-in defaults (config/ringwatch.textproto, compiled in): it creates the
# tracefs instance "ringwatch", maps every CPU's ring and serves the API on
# /run/ringwatch/ringwatch.sock until Ctrl-C, which removes the instance.
# Extra arguments go to ringwatchd (see `ringwatchd --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bazel build //daemon:ringwatchd //clients/cli:ringwatch //clients/ringcat:ringcat \
  2>&1 | grep -vE '^[0-9]+\.[0-9]+: src/main/tools/' | tail -n 1
cat >&2 <<'MSG'
ringwatchd starting. In another terminal:
  bazel-bin/clients/cli/ringwatch status
  bazel-bin/clients/cli/ringwatch watch cpu_time
  bazel-bin/clients/ringcat/ringcat --duration 5 --format text   (raw events, no daemon)
MSG
exec bazel-bin/daemon/ringwatchd "$@"
