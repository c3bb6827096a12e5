// Fuzz target for the format-file parsers and field access: any text must
// give a parsed format or an error, never a crash, and every field a parsed
// format describes must read back within the payload bounds.
//
// event_format_fuzzer_test runs it over the captured fixtures and
// deterministic mutations under g++ (and --config=asan), and replays the
// committed corpus tests/data/fuzz/event_format. `tools/fuzz.sh run
// event_format` fuzzes it for real with libFuzzer, ASan and UBSan
// (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "daemon/event/event_catalog.h"
#include "daemon/event/event_format.h"
#include "daemon/event/field_access.h"
#include "daemon/event/header_page.h"

namespace ringwatch {
namespace {

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "event_format_fuzzer invariant broken: %s\n", what);
    std::abort();
  }
}

// Invariants of a parsed field that readers rely on.
void CheckField(const FieldFormat& f) {
  Check(!f.name.empty(), "field has a name");
  Check(uint64_t{f.offset} + f.size <= UINT32_MAX, "offset + size fits");
  switch (f.kind) {
    case FieldKind::kScalar:
      Check(f.element_size == f.size, "scalar element_size == size");
      break;
    case FieldKind::kFixedArray:
      Check(f.element_size != 0, "array element_size != 0");
      Check(uint64_t{f.element_size} * f.array_length == f.size,
            "array element_size * length == size");
      break;
    case FieldKind::kDataLoc:
    case FieldKind::kRelLoc:
      Check(f.size == 4, "dynamic locator is 4 bytes");
      Check(f.element_size != 0, "dynamic element_size != 0");
      break;
    case FieldKind::kFlexArray:
      Check(f.size == 0, "flexible array has size 0");
      Check(f.element_size != 0, "flex element_size != 0");
      break;
  }
}

// Reads every field of `format` from `payload`; whatever comes back must lie
// inside the payload.
void ReadFields(const EventFormat& format, absl::Span<const uint8_t> payload) {
  const uint8_t* begin = payload.data();
  const uint8_t* end = payload.data() + payload.size();
  for (const FieldFormat& f : format.fields) {
    CheckField(f);
    absl::Span<const uint8_t> bytes;
    if (FieldBytes(payload, f, &bytes) && !bytes.empty()) {
      Check(bytes.data() >= begin && bytes.data() + bytes.size() <= end,
            "FieldBytes stays inside the payload");
    }
    absl::string_view text;
    if (FieldString(payload, f, &text) && !text.empty()) {
      const uint8_t* p = reinterpret_cast<const uint8_t*>(text.data());
      Check(p >= begin && p + text.size() <= end,
            "FieldString stays inside the payload");
    }
    int64_t value;
    FieldInteger(payload, f, &value);
  }
}

}  // namespace
}  // namespace ringwatch

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringwatch;  // NOLINT: a fuzz entry point.
  absl::string_view text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<HeaderPageFormat> header = ParseHeaderPage(text);
  if (header.ok()) {
    Check(header->commit_size == 4 || header->commit_size == 8,
          "commit is 4 or 8 bytes");
    Check(header->commit_offset + header->commit_size <= header->data_offset,
          "commit ends before data");
  }

  absl::StatusOr<EventFormat> format = ParseEventFormat("fuzz", text);
  if (!format.ok()) {
    Check(!format.status().message().empty(), "errors have a message");
    return 0;
  }
  Check(format->id <= 0xFFFF, "id fits common_type");
  // The input's own bytes double as a record payload, in full and cut short.
  absl::Span<const uint8_t> payload(data, size);
  ReadFields(*format, payload);
  ReadFields(*format, payload.subspan(0, size / 2));

  EventCatalog catalog;
  std::string full = format->FullName();
  uint32_t id = format->id;
  Check(catalog.Add(*std::move(format)).ok(), "first Add succeeds");
  Check(catalog.FindById(id) != nullptr, "added id is found");
  Check(catalog.FindByName(full) != nullptr, "added name is found");
  Check(catalog.Lookup(text.substr(0, 40)).ok() ||
            !catalog.Lookup(text.substr(0, 40)).status().message().empty(),
        "lookup errors have a message");
  return 0;
}
