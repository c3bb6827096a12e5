#include "daemon/metrics/label_names.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"

namespace ringwatch {
namespace metrics {
namespace {

bool IsNameChar(char c, bool colon_ok) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         (colon_ok && c == ':');
}

std::string Sanitize(absl::string_view name, bool colon_ok) {
  std::string out;
  out.reserve(name.size() + 1);
  for (char c : name) out.push_back(IsNameChar(c, colon_ok) ? c : '_');
  if (out.empty() || absl::ascii_isdigit(static_cast<unsigned char>(out[0]))) {
    out.insert(out.begin(), '_');
  }
  return out;
}

// Length of the valid UTF-8 sequence at s[i], or 0 when there is none.
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t min;
  if ((c & 0xE0) == 0xC0) {
    n = 2, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  uint32_t cp = c & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return n;
}

}  // namespace

std::string SanitizeLabelName(absl::string_view name) {
  std::string out = Sanitize(name, /*colon_ok=*/false);
  if (absl::StartsWith(out, "__") || out == "le" || out == "aggregation" ||
      out == "row" || out == "job" || out == "instance" || out == "host") {
    out = "key_" + out;
  }
  return out;
}

std::string SanitizeMetricName(absl::string_view name) {
  return Sanitize(name, /*colon_ok=*/true);
}

std::string LabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size();) {
    const size_t n = Utf8SequenceLength(value, i);
    if (n == 0) {
      out += absl::StrFormat("\\x%02x", static_cast<uint8_t>(value[i]));
      ++i;
    } else {
      out.append(value.data() + i, n);
      i += n;
    }
  }
  return out;
}

}  // namespace metrics
}  // namespace ringwatch
