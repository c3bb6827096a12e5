#include "daemon/agg/memory_budget.h"

#include <cctype>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ringwatch {
namespace agg {

absl::StatusOr<uint64_t> ParseMemorySize(absl::string_view text) {
  const std::string s(absl::StripAsciiWhitespace(text));
  size_t digits = 0;
  while (digits < s.size() && absl::ascii_isdigit(s[digits])) ++digits;
  const auto usage = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": ", why,
                     "; give bytes or a size such as \"256MiB\", \"1GiB\""));
  };
  uint64_t number;
  if (digits == 0 || digits > 15 ||
      !absl::SimpleAtoi(absl::string_view(s).substr(0, digits), &number)) {
    return usage("not a whole number");
  }
  const std::string unit = absl::AsciiStrToLower(s.substr(digits));
  uint64_t scale;
  if (unit.empty() || unit == "b") {
    scale = 1;
  } else if (unit == "kib" || unit == "k") {
    scale = uint64_t{1} << 10;
  } else if (unit == "mib" || unit == "m") {
    scale = uint64_t{1} << 20;
  } else if (unit == "gib" || unit == "g") {
    scale = uint64_t{1} << 30;
  } else if (unit == "kb") {
    scale = 1000;
  } else if (unit == "mb") {
    scale = 1000 * 1000;
  } else if (unit == "gb") {
    scale = 1000 * 1000 * 1000;
  } else {
    return usage(absl::StrCat("unknown unit \"", s.substr(digits), "\""));
  }
  if (number > kMaxMaxMemoryBytes / scale ||
      number * scale < kMinMaxMemoryBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\" is out of range ", FormatMemory(kMinMaxMemoryBytes),
        "..", FormatMemory(kMaxMaxMemoryBytes)));
  }
  return number * scale;
}

std::string FormatMemory(uint64_t bytes) {
  if (bytes < (uint64_t{1} << 10)) return absl::StrCat(bytes, " B");
  if (bytes < (uint64_t{1} << 20)) {
    return absl::StrFormat("%.1f KiB", static_cast<double>(bytes) / 1024);
  }
  if (bytes < (uint64_t{1} << 30)) {
    return absl::StrFormat("%.1f MiB",
                           static_cast<double>(bytes) / (1024 * 1024));
  }
  return absl::StrFormat("%.2f GiB",
                         static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
}

bool MemoryBudget::TryCharge(uint64_t bytes) {
  uint64_t used = used_.load(std::memory_order_relaxed);
  for (;;) {
    if (used + bytes > limit() || used + bytes < used) return false;
    if (used_.compare_exchange_weak(used, used + bytes,
                                    std::memory_order_relaxed)) {
      return true;
    }
  }
}

MemoryAccount::~MemoryAccount() {
  if (budget_ != nullptr) budget_->Release(bytes());
}

bool MemoryAccount::TryCharge(uint64_t bytes) {
  if (budget_ != nullptr && !budget_->TryCharge(bytes)) {
    denied_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  bytes_.fetch_add(bytes, std::memory_order_relaxed);
  return true;
}

void MemoryAccount::Charge(uint64_t bytes) {
  if (budget_ != nullptr) budget_->Charge(bytes);
  bytes_.fetch_add(bytes, std::memory_order_relaxed);
}

void MemoryAccount::Release(uint64_t bytes) {
  if (budget_ != nullptr) budget_->Release(bytes);
  bytes_.fetch_sub(bytes, std::memory_order_relaxed);
}

}  // namespace agg
}  // namespace ringwatch
