#!/usr/bin/env bash
# Latency from a kernel event to a gRPC client: raw StreamEvents of
# trace_marker lines, and window close to Subscribe delivery.
#   bench/daemon/latency.sh [--seconds 15] [--rate 200]
source "$(dirname "$0")/common.sh"
run_bench latency "$@"
