// Fuzz target for the API's request validation: CreateAggregation specs
// (the checks DaemonBackend::CreateAggregation runs before anything starts),
// Query's top_n and key filter (validated, then applied to a result), and
// StreamEvents' rate and event globs. Any request is accepted or refused
// with INVALID_ARGUMENT and a message; what is accepted behaves as the API
// documents. Built by tools/fuzz.sh (api_request), run from the workspace
// root so the format fixtures are found; api_request_fuzzer_test replays
// tests/data/fuzz/api_request.
//
// Input: byte 0 picks the request (0 CreateAggregation, 1 Query, 2
// StreamEvents, 3 Snapshot, modulo 4); the rest is the request in text format
// (the server gets the binary form; both decode to the same message, which is
// what our code sees).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "daemon/agg/agg_spec.h"
#include "daemon/agg/config_loader.h"
#include "daemon/agg/testing/fixtures.h"
#include "daemon/event/event_catalog.h"
#include "daemon/server/names.h"
#include "daemon/server/request_validation.h"
#include "daemon/server/result_shaping.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "proto/ringwatch/v1/ringwatch.pb.h"

namespace {

using namespace ringwatch;  // NOLINT: a fuzz target's own file.

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "api_request_fuzzer invariant broken: %s\n", what);
    std::abort();
  }
}

const EventCatalog& Catalog() {
  static const EventCatalog* catalog = [] {
    absl::StatusOr<EventCatalog> c = agg::testing::LoadFormatFixtures();
    if (!c.ok()) {
      std::fprintf(stderr,
                   "api_request_fuzzer: %s (run from the workspace "
                   "root)\n",
                   std::string(c.status().message()).c_str());
      std::abort();
    }
    return new EventCatalog(*std::move(c));
  }();
  return *catalog;
}

// The catalog as ListEvents describes it.
const std::vector<v1::EventDescriptor>& Events() {
  static const std::vector<v1::EventDescriptor>* events = [] {
    auto* out = new std::vector<v1::EventDescriptor>;
    for (const std::string& name :
         {"sched/sched_switch", "sched/sched_wakeup", "sched/sched_waking",
          "sched/sched_process_exec", "raw_syscalls/sys_enter",
          "raw_syscalls/sys_exit", "irq/irq_handler_entry", "ftrace/print"}) {
      const std::vector<std::string> parts = absl::StrSplit(name, '/');
      v1::EventDescriptor e;
      e.set_system(parts[0]);
      e.set_event(parts[1]);
      e.set_name(EventName(parts[0], parts[1]));
      out->push_back(e);
    }
    return out;
  }();
  return *events;
}

template <typename Message>
bool Parse(absl::string_view text, Message* message) {
  google::protobuf::TextFormat::Parser parser;
  parser.AllowPartialMessage(true);
  // Quiet: errors in the text are the fuzzer's, not findings.
  struct Silent : google::protobuf::io::ErrorCollector {
    void AddError(int, int, const std::string&) override {}
  } silent;
  parser.RecordErrorsTo(&silent);
  return parser.ParseFromString(std::string(text), message);
}

void CreateAggregation(absl::string_view text) {
  v1::CreateAggregationRequest request;
  if (!Parse(text, &request) || !request.has_aggregation()) return;
  const absl::Status valid =
      agg::ValidateAggregation(request.aggregation(), Catalog());
  absl::StatusOr<std::unique_ptr<agg::AggSpec>> spec =
      agg::CompileAggregation(request.aggregation(), Catalog());
  Check(valid.ok() == spec.ok(), "validation and compiling agree");
  if (!valid.ok()) {
    Check(valid.code() == absl::StatusCode::kInvalidArgument,
          "refusals are InvalidArgument");
    Check(!valid.message().empty(), "refusals say why");
    return;
  }
  Check(*spec != nullptr, "an accepted spec compiles");
}

void Query(absl::string_view text) {
  v1::QueryRequest request;
  if (!Parse(text, &request)) return;
  const ResultShape shape{request.top_n(), request.key_filter()};
  const absl::Status valid = ValidateResultShape(shape);
  Check(valid.ok() == (request.top_n() >= 0), "only a negative top_n fails");
  if (!valid.ok()) return;
  // A result whose keys are the name's ','-separated pieces, one row each,
  // then an OTHER row: the filter runs over text the input chose.
  v1::AggregationResult in;
  int key_rows = 0;
  for (absl::string_view piece : absl::StrSplit(request.name(), '|')) {
    v1::Row* row = in.add_row();
    row->set_kind(v1::Row::KEY);
    row->add_key()->set_string_value(std::string(piece));
    row->add_key()->set_int_value(key_rows);
    ++key_rows;
  }
  in.add_row()->set_kind(v1::Row::OTHER);
  v1::AggregationResult out;
  ShapeResult(in, shape, &out);
  int kept = 0;
  for (const v1::Row& row : out.row()) {
    if (row.kind() != v1::Row::KEY) continue;
    ++kept;
    Check(KeyFilterMatches(shape.key_filter, KeyText(row)),
          "kept rows match the filter");
  }
  if (shape.top_n > 0) Check(kept <= shape.top_n, "top_n rows at most");
  Check(static_cast<int>(out.rows_filtered()) <= key_rows,
        "no more filtered than there were");
  if (shape.key_filter.empty()) {
    Check(out.rows_filtered() == 0, "no filter, nothing filtered");
  }
}

void StreamEvents(absl::string_view text) {
  v1::StreamEventsRequest request;
  if (!Parse(text, &request)) return;
  constexpr double kDefault = 100, kMax = 10000;
  absl::StatusOr<StreamRate> rate =
      ValidateStreamEventsRequest(request, kDefault, kMax, Events());
  if (!rate.ok()) {
    Check(rate.status().code() == absl::StatusCode::kInvalidArgument,
          "refusals are InvalidArgument");
    return;
  }
  Check(rate->events_per_second > 0 && rate->events_per_second <= kMax,
        "the rate is positive and capped");
  Check(rate->burst >= 1, "a burst of at least one");
  Check(rate->burst <= kMax, "the burst is capped");
  Check(request.events_size() <= kMaxStreamGlobs &&
            request.cpus_size() <= kMaxStreamCpus &&
            request.pids_size() <= kMaxStreamPids,
        "accepted lists are within the caps");
  for (int32_t pid : request.pids()) {
    Check(pid >= 0 && pid <= kMaxPid, "accepted pids are pids");
  }
  for (const std::string& glob : request.events()) {
    bool any = false;
    for (const v1::EventDescriptor& e : Events()) {
      any |= EventGlobMatches(glob, e.system(), e.event());
    }
    Check(any, "every accepted glob matches an event");
  }
}

void Snapshot(absl::string_view text) {
  v1::SnapshotRequest request;
  if (!Parse(text, &request)) return;
  int version = 0;
  absl::StatusOr<uint64_t> span = ValidateSnapshotRequest(request, &version);
  if (!span.ok()) {
    Check(span.status().code() == absl::StatusCode::kInvalidArgument,
          "refusals are InvalidArgument");
    Check(!span.status().message().empty(), "refusals say why");
    return;
  }
  Check(version == 6 || version == 7, "a version trace-cmd reads");
  Check(*span <= uint64_t{3600} * 1000000000, "the span is capped");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data + 1),
                               size - 1);
  switch (data[0] % 4) {
    case 0:
      CreateAggregation(text);
      break;
    case 1:
      Query(text);
      break;
    case 2:
      StreamEvents(text);
      break;
    default:
      Snapshot(text);
      break;
  }
  return 0;
}
