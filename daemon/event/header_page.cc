#include "daemon/event/header_page.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "daemon/event/event_format.h"

namespace ringwatch {

absl::StatusOr<HeaderPageFormat> ParseHeaderPage(absl::string_view text) {
  HeaderPageFormat h;
  bool have_timestamp = false, have_commit = false, have_data = false;
  size_t line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed.empty()) continue;
    absl::StatusOr<FieldFormat> field = ParseFieldLine(trimmed);
    if (!field.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "header_page line ", line_no, ": ", field.status().message()));
    }
    if (field->name == "timestamp") {
      if (field->size != 8) {
        return absl::InvalidArgumentError(
            absl::StrCat("header_page line ", line_no, ": timestamp has size ",
                         field->size, ", expected 8"));
      }
      h.timestamp_offset = field->offset;
      h.timestamp_size = field->size;
      have_timestamp = true;
    } else if (field->name == "commit") {
      if (field->size != 4 && field->size != 8) {
        return absl::InvalidArgumentError(
            absl::StrCat("header_page line ", line_no, ": commit has size ",
                         field->size, ", expected 4 or 8 (local_t)"));
      }
      h.commit_offset = field->offset;
      h.commit_size = field->size;
      have_commit = true;
    } else if (field->name == "data") {
      h.data_offset = field->offset;
      have_data = true;
    }
    // Other fields (overwrite: a flag bit inside commit) are not needed.
  }
  if (!have_timestamp || !have_commit || !have_data) {
    return absl::InvalidArgumentError(absl::StrCat("header_page has no '",
                                                   !have_timestamp ? "timestamp"
                                                   : !have_commit  ? "commit"
                                                                   : "data",
                                                   "' field"));
  }
  if (h.data_offset > 256) {
    return absl::InvalidArgumentError(absl::StrCat(
        "header_page: data offset ", h.data_offset,
        " is implausible for a sub-buffer header (expected 16 or 12)"));
  }
  if (h.timestamp_offset + h.timestamp_size > h.data_offset ||
      h.commit_offset + h.commit_size > h.data_offset) {
    return absl::InvalidArgumentError(
        absl::StrCat("header_page: timestamp (offset ", h.timestamp_offset,
                     ") or commit (offset ", h.commit_offset,
                     ") overlaps the data starting at offset ", h.data_offset));
  }
  return h;
}

}  // namespace ringwatch
