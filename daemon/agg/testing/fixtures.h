// Test helpers: the committed format fixtures (tests/data/formats) as an
// EventCatalog, and records built field by field on a real format layout.
#ifndef RINGWATCH_DAEMON_AGG_TESTING_FIXTURES_H_
#define RINGWATCH_DAEMON_AGG_TESTING_FIXTURES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/event/event_catalog.h"
#include "daemon/event/event_format.h"
#include "daemon/ring/record.h"

namespace ringwatch {
namespace agg {
namespace testing {

// A path under the workspace root, resolved in the test's runfiles.
std::string RunfilePath(absl::string_view relative);

// Every tests/data/formats/<system>/<event>.format, plus header_page.
absl::StatusOr<EventCatalog> LoadFormatFixtures();

// Builds one record payload of `format`: common_type set, every other byte
// zero until set. Dynamic strings are appended after the fixed part.
class RecordBuilder {
 public:
  explicit RecordBuilder(const EventFormat* format);

  // Sets a scalar field (truncated to its size). Dies on an unknown field.
  RecordBuilder& Set(absl::string_view field, int64_t value);
  // Sets a char-array or __data_loc string field.
  RecordBuilder& SetString(absl::string_view field, absl::string_view value);

  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  const FieldFormat& Field(absl::string_view name) const;

  const EventFormat* format_;
  std::vector<uint8_t> bytes_;
};

// Owns the payloads of records fed to a sink in a test.
struct OwnedRecord {
  uint32_t cpu = 0;
  uint64_t timestamp = 0;
  std::vector<uint8_t> payload;
  RecordView view() const {
    RecordView v;
    v.cpu = cpu;
    v.timestamp = timestamp;
    v.payload = payload;
    return v;
  }
};

}  // namespace testing
}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_TESTING_FIXTURES_H_
