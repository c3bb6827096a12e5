#include "daemon/agg/testing/fixtures.h"

#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/event/header_page.h"
#include "daemon/util/file_util.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace agg {
namespace testing {
namespace {

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') out.push_back(e->d_name);
  }
  closedir(d);
  return out;
}

}  // namespace

std::string RunfilePath(absl::string_view relative) {
  if (const char* srcdir = std::getenv("TEST_SRCDIR")) {
    return absl::StrCat(srcdir, "/ringwatch/", relative);
  }
  return std::string(relative);
}

absl::StatusOr<EventCatalog> LoadFormatFixtures() {
  const std::string root = RunfilePath("tests/data/formats");
  EventCatalog catalog;
  int added = 0;
  for (const std::string& system : ListDir(root)) {
    const std::string dir = absl::StrCat(root, "/", system);
    for (const std::string& file : ListDir(dir)) {
      if (!absl::EndsWith(file, ".format")) continue;
      absl::StatusOr<std::string> text =
          ReadFileToString(absl::StrCat(dir, "/", file));
      if (!text.ok()) return text.status();
      absl::StatusOr<EventFormat> format = ParseEventFormat(system, *text);
      if (!format.ok()) return format.status();
      absl::Status s = catalog.Add(*std::move(format));
      if (!s.ok()) return s;
      ++added;
    }
  }
  if (added == 0) {
    return absl::NotFoundError(absl::StrCat("no format fixtures under ", root));
  }
  absl::StatusOr<std::string> header = ReadFileToString(root + "/header_page");
  if (header.ok()) {
    absl::StatusOr<HeaderPageFormat> h = ParseHeaderPage(*header);
    if (h.ok()) catalog.set_header_page(*h);
  }
  return catalog;
}

RecordBuilder::RecordBuilder(const EventFormat* format) : format_(format) {
  uint32_t end = 8;
  for (const FieldFormat& f : format->fields) {
    end = std::max(end, f.offset + f.size);
  }
  bytes_.assign((end + 3) / 4 * 4, 0);
  const uint16_t id = static_cast<uint16_t>(format->id);
  std::memcpy(bytes_.data(), &id, sizeof(id));
}

const FieldFormat& RecordBuilder::Field(absl::string_view name) const {
  const FieldFormat* f = format_->FindField(name);
  if (f == nullptr) {
    ADD_FAILURE() << "no field " << name << " in " << format_->FullName();
    std::abort();
  }
  return *f;
}

RecordBuilder& RecordBuilder::Set(absl::string_view field, int64_t value) {
  const FieldFormat& f = Field(field);
  std::memcpy(bytes_.data() + f.offset, &value, std::min<uint32_t>(f.size, 8));
  return *this;
}

RecordBuilder& RecordBuilder::SetString(absl::string_view field,
                                        absl::string_view value) {
  const FieldFormat& f = Field(field);
  if (f.kind == FieldKind::kDataLoc) {
    const uint32_t offset = static_cast<uint32_t>(bytes_.size());
    const uint32_t length = static_cast<uint32_t>(value.size() + 1);
    bytes_.insert(bytes_.end(), value.begin(), value.end());
    bytes_.push_back(0);
    while (bytes_.size() % 4 != 0) bytes_.push_back(0);
    const uint32_t locator = (length << 16) | offset;
    std::memcpy(bytes_.data() + f.offset, &locator, sizeof(locator));
    return *this;
  }
  std::memset(bytes_.data() + f.offset, 0, f.size);
  std::memcpy(bytes_.data() + f.offset, value.data(),
              std::min<size_t>(value.size(), f.size));
  return *this;
}

}  // namespace testing
}  // namespace agg
}  // namespace ringwatch
