#!/usr/bin/env bash
# Builds every libFuzzer target with clang (Bazel builds with g++, which has
# no libFuzzer) under ASan and UBSan, and runs, minimises or lists them.
#
#   tools/fuzz.sh list                      the targets
#   tools/fuzz.sh build [TARGET...]         build (all by default)
#   tools/fuzz.sh run TARGET [FLAGS...]     fuzz; FLAGS go to libFuzzer, e.g.
#                                           -runs=10000000 -max_total_time=3600
#   tools/fuzz.sh merge TARGET              minimise the campaign corpus into
#                                           tests/data/fuzz/TARGET (-merge=1)
#   tools/fuzz.sh replay TARGET [FILES...]  run inputs once (a crash to check)
#   tools/fuzz.sh summary                   the last campaigns as a table
#
# A campaign starts from the committed corpus tests/data/fuzz/TARGET plus the
# target's seeds, grows it in $FUZZ_OUT/corpus/TARGET, writes crashes to
# $FUZZ_OUT/crashes/TARGET and its log to $FUZZ_OUT/logs/TARGET.log (the last
# "#N ... cov: C ft: F" line there is what docs/fuzzing.md reports). The
# committed corpora are replayed by each target's g++ *_fuzzer_test in
# `bazel test`. Needs clang and libclang-rt-14-dev (tools/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${FUZZ_OUT:-/tmp/ringwatch-fuzz}
cxx=${CXX_FUZZ:-clang++}

# Sources per target: the fuzzer first, then what it links.
declare -A srcs
declare -A libs   # pkg-config modules beyond Abseil's, plus raw -l flags.
declare -A max_len
declare -A dict

event_srcs="daemon/event/event_format.cc daemon/event/header_page.cc
  daemon/event/event_catalog.cc daemon/event/field_access.cc"
agg_srcs="daemon/agg/agg_spec.cc daemon/agg/config_loader.cc
  daemon/agg/histogram.cc daemon/agg/row_layout.cc daemon/agg/memory_budget.cc
  daemon/snapshot/recorder_settings.cc
  daemon/filter/filter.cc
  daemon/filter/filter_parser.cc
  daemon/filter/glob.cc daemon/util/file_util.cc
  daemon/agg/testing/fixtures.cc $event_srcs"

srcs[subbuf_decoder]="daemon/ring/subbuf_decoder_fuzzer.cc
  daemon/ring/subbuf_decoder.cc daemon/event/header_page.cc
  daemon/event/event_format.cc"
max_len[subbuf_decoder]=4200

srcs[mapped_ring]="daemon/reader/mapped_ring_fuzzer.cc
  daemon/reader/mapped_ring.cc daemon/reader/cpu_ring.cc daemon/reader/read_ring.cc
  daemon/ring/subbuf_decoder.cc daemon/event/header_page.cc
  daemon/event/event_format.cc daemon/util/file_util.cc
  daemon/recorder/flight_recorder.cc daemon/tracedat/trace_dat_writer.cc"
libs[mapped_ring]="libzstd"
max_len[mapped_ring]=20000

srcs[event_format]="daemon/event/event_format_fuzzer.cc $event_srcs"
max_len[event_format]=8192
dict[event_format]=daemon/event/event_format_fuzzer.dict

srcs[filter]="daemon/filter/filter_fuzzer.cc daemon/filter/filter.cc
  daemon/filter/filter_parser.cc daemon/filter/glob.cc
  daemon/event/event_format.cc"
max_len[filter]=1024
dict[filter]=daemon/filter/filter_fuzzer.dict

srcs[tracedat]="daemon/tracedat/tracedat_fuzzer.cc
  daemon/tracedat/trace_dat_file.cc daemon/tracedat/cpu_page_reader.cc
  daemon/tracedat/zstd_decompressor.cc daemon/ring/subbuf_decoder.cc
  daemon/util/file_util.cc $event_srcs"
libs[tracedat]="libzstd"
max_len[tracedat]=32768

srcs[config_loader]="daemon/agg/config_loader_fuzzer.cc $agg_srcs"
libs[config_loader]="protobuf gtest"
max_len[config_loader]=4096
dict[config_loader]=daemon/agg/config_loader_fuzzer.dict

srcs[api_request]="daemon/server/api_request_fuzzer.cc
  daemon/server/request_validation.cc daemon/server/result_shaping.cc
  daemon/server/names.cc $agg_srcs"
libs[api_request]="protobuf gtest"
max_len[api_request]=4096
dict[api_request]=daemon/server/api_request_fuzzer.dict

srcs[trace_cmd_report]="daemon/tracedat/trace_cmd_report_fuzzer.cc
  daemon/tracedat/trace_cmd_report.cc"
max_len[trace_cmd_report]=4096

srcs[proc_stat]="daemon/server/proc_self_fuzzer.cc daemon/server/proc_self.cc
  daemon/util/file_util.cc"
max_len[proc_stat]=1024

srcs[systemd_env]="daemon/systemd/systemd_env_fuzzer.cc
  daemon/systemd/listen_fds.cc daemon/systemd/notifier.cc
  daemon/util/file_util.cc"
libs[systemd_env]="libsystemd"
max_len[systemd_env]=512

all_targets="subbuf_decoder mapped_ring event_format filter tracedat
  config_loader api_request trace_cmd_report proc_stat systemd_env"

die() {
  echo "fuzz: $*" >&2
  exit 1
}

known() { [[ -n "${srcs[$1]:-}" ]] || die "unknown target '$1' (see: $0 list)"; }

uses_proto() { [[ " ${libs[$1]:-} " == *" protobuf "* ]]; }

flags=(-std=c++17 -O1 -g -I. -I"$out/gen" -fsanitize=fuzzer,address,undefined
  -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  -Wno-unused-command-line-argument)

# Generates the C++ of the protos (system protoc) once per change.
gen_protos() {
  mkdir -p "$out/gen"
  local p
  for p in proto/ringwatch/v1/config.proto proto/ringwatch/v1/ringwatch.proto; do
    local cc="$out/gen/${p%.proto}.pb.cc"
    if [[ ! -e "$cc" || "$p" -nt "$cc" ]]; then
      protoc -I. --cpp_out="$out/gen" "$p"
    fi
  done
}

# Compiles one source to $out/obj (again only when it or a header under
# daemon/ or proto/ changed since).
compile() {
  local src=$1 obj="$out/obj/${1%.cc}.o"
  mkdir -p "$(dirname "$obj")"
  if [[ -e "$obj" && -z $(find "$src" daemon proto -newer "$obj" \
    \( -name '*.h' -o -name '*.cc' -o -name '*.proto' \) -print -quit) ]]; then
    return 0
  fi
  "$cxx" "${flags[@]}" -c "$src" -o "$obj"
}

build_one() {
  local t=$1
  known "$t"
  local objs=() s extra=()
  local sources=(${srcs[$t]})
  if uses_proto "$t"; then
    gen_protos
    sources+=("$out/gen/proto/ringwatch/v1/config.pb.cc"
      "$out/gen/proto/ringwatch/v1/ringwatch.pb.cc")
  fi
  for s in "${sources[@]}"; do
    [[ -e "$s" ]] || continue # A source another change has not added yet.
    compile "$s"
    objs+=("$out/obj/${s%.cc}.o")
  done
  local modules="absl_status absl_statusor absl_strings absl_str_format
    absl_flat_hash_map absl_flat_hash_set absl_synchronization absl_time
    absl_hash ${libs[$t]:-}"
  # shellcheck disable=SC2086
  "$cxx" "${flags[@]}" "${objs[@]}" -o "$out/bin/${t}_fuzzer" \
    $(pkg-config --libs $modules) -lpthread
  echo "fuzz: built $out/bin/${t}_fuzzer" >&2
}

# Seeds beyond the committed corpus: real inputs the target's parser reads.
seed() {
  local t=$1 dir=$2
  case "$t" in
    subbuf_decoder)
      # Each captured page behind the 9 parameter bytes (split, resume,
      # flags): split 100, resume 0, 64-bit layout.
      local f i=0
      for f in tests/data/subbufs/*/*.bin; do
        [[ -s "$f" ]] || continue
        split -b 4096 -d "$f" "$dir/.page_"
        local p
        for p in "$dir"/.page_*; do
          { printf '\x64\x00\x00\x00\x00\x00\x00\x00\x00'; cat "$p"; } >"$dir/seed_$i"
          rm -f "$p"
          i=$((i + 1))
        done
      done
      ;;
    mapped_ring)
      local f i=0
      for f in tests/data/subbufs/mmap/*.bin; do
        # A meta page for 2 sub-buffers of 4096 bytes, reader on sub-buffer 0
        # at offset 0, then the captured page as sub-buffer 0.
        {
          printf '\x00\x10\x00\x00\x50\x00\x00\x00\x00\x10\x00\x00\x02\x00\x00\x00'
          head -c 64 /dev/zero
          head -c 4096 "$f"
        } >"$dir/seed_$i"
        i=$((i + 1))
      done
      ;;
    event_format)
      local f
      for f in tests/data/formats/header_page tests/data/formats/*/*.format; do
        cp "$f" "$dir/$(echo "${f#tests/data/formats/}" | tr / _)"
      done
      ;;
    filter)
      # Byte 0: format index (low 3 bits) and CPU; the expression; NUL; the
      # payload (see filter_fuzzer.cc).
      printf '\x00prev_pid == 0 && next_comm ~ "kworker*"\x00' >"$dir/seed_0"
      printf '\x01filename ~ "/usr/bin/*" && pid != -1\x00' >"$dir/seed_1"
      printf '\x03id == 1 && args[0] == 3 && args[5] & 0x80\x00' >"$dir/seed_2"
      printf '\x05name == abc && delta < 0 && digest[15] == 7\x00' >"$dir/seed_3"
      printf '\x0a(prev_state & 2 || next_prio < 120) && !(cpu == 1)\x00' >"$dir/seed_4"
      ;;
    tracedat)
      cp tests/data/tracedat/*.dat "$dir/"
      ;;
    config_loader)
      # Byte 0 bit 0: validate against the format fixtures.
      local f
      for f in config/*.textproto config/presets/*.textproto; do
        { printf '\x01'; cat "$f"; } >"$dir/$(basename "$f")"
        { printf '\x00'; cat "$f"; } >"$dir/nocatalog_$(basename "$f")"
      done
      ;;
    api_request)
      # Byte 0 picks the request (0 CreateAggregation, 1 Query, 2
      # StreamEvents, 3 Snapshot); the rest is its text format.
      local f i=0
      for f in config/*.textproto config/presets/*.textproto; do
        [[ -e "$f" ]] || continue
        # Each aggregation block of the shipped configs as a request.
        awk 'BEGIN{d=0} /^aggregation *\{/{d=1; n++; next}
          d==1 && /^\}/{d=0; next} d==1{print > (out "_" n)}' \
          out="$dir/.agg_$i" "$f" || true
        i=$((i + 1))
      done
      local a j=0
      for a in "$dir"/.agg_*; do
        [[ -e "$a" ]] || continue
        { printf '\x00aggregation {\n'; cat "$a"; printf '}\n'; } >"$dir/seed_create_$j"
        rm -f "$a"
        j=$((j + 1))
      done
      printf '\x01name: "syscalls" top_n: 5 key_filter: "bash*,1?"\n' >"$dir/seed_query"
      printf '\x02events: "sched/*" events: "sys_enter" cpus: 1 pids: 4 max_events_per_second: 100 burst: 3\n' >"$dir/seed_stream"
      printf '\x03seconds: 2.5 file_version: 6\n' >"$dir/seed_snapshot"
      ;;
    trace_cmd_report)
      local f
      for f in tests/data/tracedat/*report.txt; do
        head -c 4000 "$f" >"$dir/$(basename "$f")"
      done
      ;;
    proc_stat)
      cp /proc/self/stat "$dir/self_stat"
      printf '%s' '1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 17 4 0 0 20 0 3 0 555 12345678 910 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0' >"$dir/weird_comm"
      ;;
    systemd_env)
      # LISTEN_PID (0: ours), LISTEN_FDS, LISTEN_FDNAMES, WATCHDOG_USEC and
      # WATCHDOG_PID, NUL-separated (see systemd_env_fuzzer.cc).
      printf '0\x001\x00ringwatch.socket\x0030000000\x000' >"$dir/seed_0"
      printf '0\x003\x00a:b:c\x00abc\x00' >"$dir/seed_1"
      ;;
  esac
}

corpus_args() {
  local t=$1
  local work="$out/corpus/$t" committed="tests/data/fuzz/$t"
  mkdir -p "$work" "$out/seeds/$t"
  if [[ -z $(ls -A "$out/seeds/$t") ]]; then seed "$t" "$out/seeds/$t"; fi
  dirs=("$work")
  [[ -d "$committed" ]] && dirs+=("$committed")
  dirs+=("$out/seeds/$t")
}

run_one() {
  local t=$1
  shift
  known "$t"
  [[ -x "$out/bin/${t}_fuzzer" ]] || build_one "$t"
  corpus_args "$t"
  mkdir -p "$out/crashes/$t" "$out/logs"
  local opts=(-rss_limit_mb=2048 -max_len="${max_len[$t]:-4096}"
    -artifact_prefix="$out/crashes/$t/" -print_final_stats=1)
  [[ -n "${dict[$t]:-}" && -e "${dict[$t]}" ]] && opts+=(-dict="${dict[$t]}")
  # The first directory receives what the campaign finds; the rest are read.
  "$out/bin/${t}_fuzzer" "${opts[@]}" "$@" "${dirs[@]}" 2>&1 |
    tee "$out/logs/$t.log" | grep -E '^(#[0-9]+ +(INITED|DONE|pulse))|^Done|ERROR|SUMMARY|stat::' || true
  return "${PIPESTATUS[0]}"
}

merge_one() {
  local t=$1
  known "$t"
  corpus_args "$t"
  local dest="tests/data/fuzz/$t" fresh="$out/merged/$t"
  rm -rf "$fresh"
  mkdir -p "$fresh"
  # A snapshot of the campaign's corpus: a running campaign deletes files
  # it has reduced.
  local snapshot="$out/merged/$t.snapshot"
  rm -rf "$snapshot"
  cp -r "$out/corpus/$t" "$snapshot"
  dirs[0]=$snapshot
  "$out/bin/${t}_fuzzer" -merge=1 -rss_limit_mb=2048 \
    -max_len="${max_len[$t]:-4096}" "$fresh" "${dirs[@]}" 2>&1 | tail -n 3
  [[ -n $(ls -A "$fresh") ]] || die "merge of $t gave nothing"
  # Inputs that once crashed stay, whatever the merge thinks of them.
  local keep="$out/merged/$t.regressions"
  rm -rf "$keep"
  mkdir -p "$keep"
  cp "$dest"/regression-* "$keep/" 2>/dev/null || true
  rm -rf "$dest"
  mkdir -p "$dest"
  cp "$fresh"/* "$keep"/* "$dest/" 2>/dev/null || true
  echo "fuzz: $dest: $(ls "$dest" | wc -l) files, $(du -sh "$dest" | cut -f1)" >&2
}

# One markdown table row per target from the last campaign's log.
summary() {
  local t log
  echo "| target | executions | time (s) | cov | ft | crashes in the run |"
  echo "|---|---|---|---|---|---|"
  for t in $all_targets; do
    log="$out/logs/$t.log"
    [[ -e "$log" ]] || continue
    local last runs secs crashes
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
    crashes=$(grep -c 'Test unit written to' "$log" || true)
    echo "| $t | ${runs:-?} | ${secs:-?} | $(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p') |" \
      "$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p') | $crashes |"
  done
}

cmd=${1:-}
shift || true
mkdir -p "$out/bin" "$out/obj"
case "$cmd" in
  list) echo $all_targets ;;
  summary) summary ;;
  build)
    targets=("$@")
    ((${#targets[@]})) || targets=($all_targets)
    for t in "${targets[@]}"; do build_one "$t"; done
    ;;
  run)
    [[ $# -ge 1 ]] || die "run TARGET [libFuzzer flags]"
    run_one "$@"
    ;;
  merge)
    [[ $# -eq 1 ]] || die "merge TARGET"
    merge_one "$1"
    ;;
  replay)
    [[ $# -ge 1 ]] || die "replay TARGET [FILES...]"
    t=$1
    shift
    known "$t"
    [[ -x "$out/bin/${t}_fuzzer" ]] || build_one "$t"
    if (($#)); then
      "$out/bin/${t}_fuzzer" -runs=1 "$@"
    else
      "$out/bin/${t}_fuzzer" -runs=0 "tests/data/fuzz/$t"
    fi
    ;;
  *) die "usage: $0 list|build|run|merge|replay (see the top of $0)" ;;
esac
