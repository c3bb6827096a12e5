#!/usr/bin/env bash
# Builds ringwatch and runs it on the live kernel with its built-in defaults:
# ringcat in its own tracefs instance (removed on exit), printing the default
# events (sched switches and wakeups, trace_marker writes) for 10 seconds.
# Extra arguments go to ringcat (see `ringcat --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bazel build //clients/ringcat:ringcat 2>&1 | grep -vE '^[0-9]+\.[0-9]+: src/main/tools/' | tail -n 3
if (($#)); then
  exec bazel-bin/clients/ringcat/ringcat "$@"
fi
exec bazel-bin/clients/ringcat/ringcat --duration 10 --format text
