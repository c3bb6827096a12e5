#!/usr/bin/env bash
# ringwatchd's CPU with 0, 10 and 200 subscribers, and the ratio to 0.
#   bench/daemon/fanout.sh [--seconds 8] [--counts 0,10,200]
source "$(dirname "$0")/common.sh"
run_bench fanout "$@"
