// Cost of parsing a format file (done once per event at startup; a kernel
// has ~2300) and of the run-time field reads ringcat and compiled
// aggregation programs use per event.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "daemon/event/event_format.h"
#include "daemon/event/field_access.h"

namespace ringwatch {
namespace {

std::string Fixture(const std::string& relative) {
  // `bazel run` starts in the runfiles tree; `bazel test` sets TEST_SRCDIR.
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::ifstream in(absl::StrCat(
      srcdir ? absl::StrCat(srcdir, "/ringwatch") : std::string("."),
      "/tests/data/formats/", relative));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void BM_ParseSchedSwitch(benchmark::State& state) {
  std::string text = Fixture("sched/sched_switch.format");
  for (auto _ : state) {
    absl::StatusOr<EventFormat> f = ParseEventFormat("sched", text);
    if (!f.ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(f);
  }
  state.SetBytesProcessed(state.iterations() * text.size());
}
BENCHMARK(BM_ParseSchedSwitch);

void BM_ReadSchedSwitchFields(benchmark::State& state) {
  absl::StatusOr<EventFormat> f =
      ParseEventFormat("sched", Fixture("sched/sched_switch.format"));
  if (!f.ok()) {
    state.SkipWithError("parse failed");
    return;
  }
  std::vector<uint8_t> payload(64, 'a');
  payload[23] = 0;
  const FieldFormat* comm = f->FindField("prev_comm");
  const FieldFormat* pid = f->FindField("next_pid");
  const FieldFormat* state_field = f->FindField("prev_state");
  for (auto _ : state) {
    absl::string_view s;
    int64_t a, b;
    bool ok = FieldString(payload, *comm, &s) &&
              FieldInteger(payload, *pid, &a) &&
              FieldInteger(payload, *state_field, &b);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(a + b);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReadSchedSwitchFields);

}  // namespace
}  // namespace ringwatch
