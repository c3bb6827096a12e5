#!/usr/bin/env bash
# The highest getppid() event rate ringwatchd keeps up with at the default
# buffer size with zero loss, its CPU, and trace-cmd record on the same steps.
#   bench/daemon/max_rate.sh [--seconds 3] [--rates 50000,100000,0]
source "$(dirname "$0")/common.sh"
run_bench max_rate "$@"
