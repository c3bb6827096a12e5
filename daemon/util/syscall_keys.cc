#include "daemon/util/syscall_keys.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "daemon/util/syscall_names.h"

namespace ringwatch {
namespace {

// Whether `field` of events of `event` ("system/name") is a syscall number.
bool IsSyscallField(absl::string_view event, absl::string_view field) {
  if (absl::StartsWith(event, "raw_syscalls/")) return field == "id";
  if (absl::StartsWith(event, "syscalls/")) return field == "__syscall_nr";
  return false;
}

}  // namespace

std::vector<bool> SyscallKeyColumns(const v1::Aggregation& spec) {
  std::vector<bool> columns;
  for (const std::string& key : spec.key()) {
    bool syscall = false;
    if (spec.has_latency()) {
      const std::string& start = spec.latency().start().event();
      const std::string& end = spec.latency().end().event();
      absl::string_view field = key;
      if (absl::ConsumePrefix(&field, "start.")) {
        syscall = IsSyscallField(start, field);
      } else if (absl::ConsumePrefix(&field, "end.")) {
        syscall = IsSyscallField(end, field);
      } else {
        // A bare name is looked up in the end event first (config.proto).
        syscall = IsSyscallField(end, field) ||
                  (!absl::StartsWith(end, "raw_syscalls/") &&
                   !absl::StartsWith(end, "syscalls/") &&
                   IsSyscallField(start, field));
      }
    } else if (spec.source_case() == v1::Aggregation::kEvent) {
      syscall = IsSyscallField(spec.event(), key);
    }
    columns.push_back(syscall);
  }
  return columns;
}

void AnnotateSyscallKeys(const std::vector<bool>& columns,
                         v1::AggregationResult* result) {
  bool any = false;
  for (bool c : columns) any |= c;
  if (!any) return;
  for (v1::Row& row : *result->mutable_row()) {
    for (int i = 0; i < row.key_size() && i < static_cast<int>(columns.size());
         ++i) {
      v1::KeyValue* key = row.mutable_key(i);
      if (!columns[i] || key->kind_case() != v1::KeyValue::kIntValue) continue;
      key->set_display(SyscallName(key->int_value()));
    }
  }
}

}  // namespace ringwatch
