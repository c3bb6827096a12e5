// Fuzz target for the config loader: any text, parsed and validated with or
// without the kernel's catalog (the committed format fixtures), is a config
// or an error naming the file; an accepted config prints back to text that
// is accepted again, and every aggregation in it compiles. Built by
// tools/fuzz.sh (config_loader), run from the workspace root so the
// fixtures are found; config_loader_fuzzer_test replays
// tests/data/fuzz/config_loader.
//
// Input: byte 0 bit 0 set: validate against the catalog; the rest is the
// config's text format.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "daemon/agg/agg_spec.h"
#include "daemon/agg/config_loader.h"
#include "daemon/agg/testing/fixtures.h"
#include "daemon/event/event_catalog.h"
#include "google/protobuf/text_format.h"

namespace {

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "config_loader_fuzzer invariant broken: %s\n", what);
    std::abort();
  }
}

const ringwatch::EventCatalog& Catalog() {
  static const ringwatch::EventCatalog* catalog = [] {
    absl::StatusOr<ringwatch::EventCatalog> c =
        ringwatch::agg::testing::LoadFormatFixtures();
    if (!c.ok()) {
      std::fprintf(stderr,
                   "config_loader_fuzzer: %s (run from the workspace "
                   "root)\n",
                   std::string(c.status().message()).c_str());
      std::abort();
    }
    return new ringwatch::EventCatalog(*std::move(c));
  }();
  return *catalog;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringwatch;  // NOLINT: a fuzz entry point.
  if (size < 1) return 0;
  const EventCatalog* catalog = (data[0] & 1) ? &Catalog() : nullptr;
  const absl::string_view text(reinterpret_cast<const char*>(data + 1),
                               size - 1);
  absl::StatusOr<v1::Config> config =
      agg::ParseConfig(text, "fuzz.textproto", catalog);
  if (!config.ok()) {
    Check(config.status().code() == absl::StatusCode::kInvalidArgument,
          "errors are InvalidArgument");
    Check(absl::StartsWith(config.status().message(), "fuzz.textproto"),
          "errors name the file");
    return 0;
  }
  if (catalog != nullptr) {
    for (const v1::Aggregation& a : config->aggregation()) {
      Check(agg::ValidateAggregation(a, *catalog).ok(),
            "an accepted config's aggregations validate alone");
    }
  }
  // What we accepted, printed, is accepted again: defaults included.
  std::string printed;
  Check(google::protobuf::TextFormat::PrintToString(*config, &printed),
        "the config prints");
  Check(agg::ParseConfig(printed, "printed", catalog).ok(),
        "a printed accepted config is accepted");
  const v1::Config defaults = agg::WithDefaults(*config);
  Check(google::protobuf::TextFormat::PrintToString(defaults, &printed),
        "the defaults print");
  absl::StatusOr<v1::Config> again =
      agg::ParseConfig(printed, "defaults", catalog);
  if (!again.ok()) {
    std::fprintf(stderr, "%s\n", std::string(again.status().message()).c_str());
  }
  Check(again.ok(), "an accepted config with defaults filled in is accepted");
  return 0;
}
