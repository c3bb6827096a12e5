#!/bin/bash
# Builds tracedat_fuzzer.cc as a libFuzzer binary with clang (Bazel builds
# with g++, which has no libFuzzer) and runs it, seeded with the fixtures.
#
# Usage: daemon/tracedat/fuzz.sh [SECONDS] [extra libFuzzer flags...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
out=${FUZZ_OUT:-/tmp/tracedat_fuzz}
mkdir -p "$out/corpus"
cp tests/data/tracedat/*.dat "$out/corpus/"
sources=(
  daemon/tracedat/tracedat_fuzzer.cc daemon/tracedat/trace_dat_file.cc
  daemon/tracedat/cpu_page_reader.cc daemon/tracedat/zstd_decompressor.cc
  daemon/event/event_format.cc daemon/event/event_catalog.cc
  daemon/event/header_page.cc daemon/event/field_access.cc
  daemon/ring/subbuf_decoder.cc daemon/util/file_util.cc
)
absl_libs=$(pkg-config --libs absl_status absl_statusor absl_strings \
  absl_str_format absl_flat_hash_map absl_flat_hash_set)
clang++ -std=c++17 -O1 -g -I. -fsanitize=fuzzer,address,undefined \
  "${sources[@]}" -o "$out/tracedat_fuzzer" $absl_libs -lzstd
"$out/tracedat_fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 \
  -max_len=262144 "$@" "$out/corpus"
