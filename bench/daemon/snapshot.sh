#!/usr/bin/env bash
# Time of a 64 MiB flight-recorder snapshot end to end (ringwatch snapshot)
# and the recorder's memory, against trace-cmd extract of 64 MiB.
#   bench/daemon/snapshot.sh [--reps 3]
source "$(dirname "$0")/common.sh"
run_bench snapshot "$@"
