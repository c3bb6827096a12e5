#include "daemon/server/result_shaping.h"

#include "absl/strings/str_cat.h"
#include "daemon/server/names.h"

namespace ringwatch {

absl::Status ValidateResultShape(const ResultShape& shape) {
  if (shape.top_n < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "top_n is ", shape.top_n, "; use 0 for every row or a positive count"));
  }
  return absl::OkStatus();
}

std::string KeyText(const v1::Row& row) {
  std::string text;
  for (int i = 0; i < row.key_size(); ++i) {
    if (i > 0) text += ',';
    const v1::KeyValue& k = row.key(i);
    if (k.kind_case() == v1::KeyValue::kIntValue) {
      absl::StrAppend(&text, k.int_value());
    } else {
      text += k.string_value();
    }
  }
  return text;
}

void ShapeResult(const v1::AggregationResult& in, const ResultShape& shape,
                 v1::AggregationResult* out) {
  if (shape.top_n == 0 && shape.key_filter.empty()) {
    *out = in;
    return;
  }
  // Everything but the rows, then the rows that stay, in order.
  *out = in;
  out->clear_row();
  const bool filtering = !shape.key_filter.empty();
  int32_t kept_keys = 0;
  uint64_t filtered = 0;
  for (const v1::Row& row : in.row()) {
    if (row.kind() != v1::Row::KEY) {
      if (!filtering) *out->add_row() = row;
      continue;
    }
    if (filtering && !KeyFilterMatches(shape.key_filter, KeyText(row))) {
      ++filtered;
      continue;
    }
    if (shape.top_n > 0 && kept_keys >= shape.top_n) continue;
    ++kept_keys;
    *out->add_row() = row;
  }
  out->set_rows_filtered(in.rows_filtered() + filtered);
}

}  // namespace ringwatch
