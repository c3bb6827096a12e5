// Matches() cost per record for typical filters, on sched_switch and
// sched_process_exec payloads laid out per the captured formats. 64 varied
// records are cycled so branches are not perfectly predicted.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "daemon/event/event_format.h"
#include "daemon/filter/filter.h"
#include "daemon/filter/filter_testing.h"
#include "daemon/ring/record.h"

namespace ringwatch {
namespace {

using filter_testing::PayloadBuilder;

constexpr int kRecords = 64;

std::vector<std::vector<uint8_t>> SwitchPayloads() {
  static const char* const kComms[] = {
      "swapper/1", "kworker/1:2", "bash", "sshd", "kworker/u4:0", "ringwatchd"};
  std::vector<std::vector<uint8_t>> out;
  for (int i = 0; i < kRecords; ++i) {
    PayloadBuilder b(64);
    b.Int(0, 2, 372).Int(4, 4, i * 37 % 500);
    b.Text(8, kComms[i % 6]).Int(24, 4, i * 37 % 500).Int(28, 4, 120);
    b.Int(32, 8, i % 3).Text(40, kComms[(i * 5 + 1) % 6]);
    b.Int(56, 4, i * 53 % 700).Int(60, 4, 100 + i % 40);
    out.push_back(b.bytes());
  }
  return out;
}

std::vector<std::vector<uint8_t>> ExecPayloads() {
  static const char* const kFiles[] = {"/usr/bin/ls", "/bin/sh",
                                       "/usr/local/bin/ringwatch",
                                       "/usr/lib/systemd/systemd-journald"};
  std::vector<std::vector<uint8_t>> out;
  for (int i = 0; i < kRecords; ++i) {
    std::string file = kFiles[i % 4];
    PayloadBuilder b(20 + ((file.size() + 1 + 3) & ~size_t{3}));
    b.Int(0, 2, 365).Loc(8, 20, file.size() + 1).Int(12, 4, i);
    b.Int(16, 4, i).Text(20, file);
    out.push_back(b.bytes());
  }
  return out;
}

void RunFilter(benchmark::State& state, const char* format_text,
               const std::vector<std::vector<uint8_t>>& payloads,
               const char* expression) {
  absl::StatusOr<EventFormat> format = ParseEventFormat("sched", format_text);
  absl::StatusOr<CompiledFilter> filter =
      format.ok() ? CompileFilter(expression, *format)
                  : absl::StatusOr<CompiledFilter>(format.status());
  if (!filter.ok()) {
    state.SkipWithError(std::string(filter.status().message()).c_str());
    return;
  }
  std::vector<RecordView> records(payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) {
    records[i].cpu = i % 2;
    records[i].payload = payloads[i];
  }
  size_t i = 0;
  int64_t matched = 0;
  for (auto _ : state) {
    matched += filter->Matches(records[i]);
    i = (i + 1) % records.size();
  }
  benchmark::DoNotOptimize(matched);
  state.SetItemsProcessed(state.iterations());
  state.counters["match_ratio"] =
      static_cast<double>(matched) / std::max<int64_t>(1, state.iterations());
}

void BM_SwitchFilter(benchmark::State& state, const char* expression) {
  static const auto* payloads =
      new std::vector<std::vector<uint8_t>>(SwitchPayloads());
  RunFilter(state, filter_testing::kSchedSwitchFormat, *payloads, expression);
}

void BM_ExecFilter(benchmark::State& state, const char* expression) {
  static const auto* payloads =
      new std::vector<std::vector<uint8_t>>(ExecPayloads());
  RunFilter(state, filter_testing::kSchedProcessExecFormat, *payloads,
            expression);
}

BENCHMARK_CAPTURE(BM_SwitchFilter, empty, "");
BENCHMARK_CAPTURE(BM_SwitchFilter, int_eq, "prev_pid == 0");
BENCHMARK_CAPTURE(BM_SwitchFilter, cpu_and_int, "cpu == 1 && next_pid > 300");
BENCHMARK_CAPTURE(BM_SwitchFilter, comm_eq, "next_comm == \"kworker/1:2\"");
BENCHMARK_CAPTURE(BM_SwitchFilter, comm_glob, "next_comm ~ \"kworker*\"");
BENCHMARK_CAPTURE(BM_SwitchFilter, mixed,
                  "(prev_pid > 100 && prev_state & 2) || next_prio < 110 || "
                  "!(prev_comm ~ \"*sh*\")");
BENCHMARK_CAPTURE(BM_ExecFilter, data_loc_glob, "filename ~ \"/usr/*bin/*\"");

// The floor: the same test as int_eq written by hand.
void BM_SwitchHandWritten(benchmark::State& state) {
  static const auto* payloads =
      new std::vector<std::vector<uint8_t>>(SwitchPayloads());
  size_t i = 0;
  int64_t matched = 0;
  for (auto _ : state) {
    const std::vector<uint8_t>& p = (*payloads)[i];
    int32_t pid = -1;
    if (p.size() >= 28) std::memcpy(&pid, p.data() + 24, sizeof(pid));
    matched += pid == 0;
    i = (i + 1) % payloads->size();
  }
  benchmark::DoNotOptimize(matched);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SwitchHandWritten);

}  // namespace
}  // namespace ringwatch
