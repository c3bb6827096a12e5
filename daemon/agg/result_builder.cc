#include "daemon/agg/result_builder.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/agg/histogram.h"

namespace ringwatch {
namespace agg {
namespace {

std::string KeyText(const KeyPart& part, const uint8_t* key) {
  const uint8_t* p = key + part.offset;
  if (part.is_string) {
    const void* nul = std::memchr(p, 0, part.width);
    const size_t n =
        nul == nullptr ? part.width : static_cast<const uint8_t*>(nul) - p;
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  int64_t v;
  std::memcpy(&v, p, sizeof(v));
  return absl::StrCat(v);
}

// Integers numerically, strings bytewise, part by part.
bool KeyLess(const AggSpec& spec, const uint8_t* a, const uint8_t* b) {
  for (const KeyPart& part : spec.keys) {
    if (part.is_string) {
      const int c = std::memcmp(a + part.offset, b + part.offset, part.width);
      if (c != 0) return c < 0;
    } else {
      int64_t x, y;
      std::memcpy(&x, a + part.offset, sizeof(x));
      std::memcpy(&y, b + part.offset, sizeof(y));
      if (x != y) return x < y;
    }
  }
  return false;
}

void FillKey(const AggSpec& spec, const uint8_t* key, v1::Row* row) {
  for (const KeyPart& part : spec.keys) {
    v1::KeyValue* kv = row->add_key();
    if (part.is_string) {
      kv->set_string_value(KeyText(part, key));
    } else {
      int64_t v;
      std::memcpy(&v, key + part.offset, sizeof(v));
      kv->set_int_value(v);
    }
  }
}

void FillValues(const AggSpec& spec, const uint64_t* values, v1::Row* row) {
  const RowLayout& layout = spec.layout;
  row->set_count(RowLayout::Count(values));
  for (const OutputValue& o : spec.outputs) {
    v1::ValueResult* v = row->add_value();
    v->set_name(o.name);
    switch (o.kind) {
      case OutputValue::Kind::kCount:
        v->set_int_value(static_cast<int64_t>(RowLayout::Count(values)));
        break;
      case OutputValue::Kind::kSum:
        v->set_int_value(RowLayout::Sum(values, o.stat));
        break;
      case OutputValue::Kind::kMin:
        v->set_int_value(RowLayout::Min(values, o.stat));
        break;
      case OutputValue::Kind::kMax:
        v->set_int_value(RowLayout::Max(values, o.stat));
        break;
      case OutputValue::Kind::kMean:
        v->set_double_value(RowLayout::Mean(values, o.stat));
        break;
      case OutputValue::Kind::kHistogram: {
        const HistLayout& h = layout.hists()[o.hist];
        const uint64_t* buckets = layout.Buckets(values, o.hist);
        v1::HistogramResult* out = v->mutable_histogram();
        for (uint32_t i = 0; i < h.buckets.num_buckets(); ++i) {
          if (buckets[i] == 0) continue;
          v1::Bucket* b = out->add_bucket();
          b->set_lower(h.buckets.Lower(i));
          b->set_upper(h.buckets.Upper(i));
          b->set_count(buckets[i]);
        }
        const uint64_t n = RowLayout::Count(values);
        const int64_t lo = RowLayout::Min(values, h.stat);
        const int64_t hi = RowLayout::Max(values, h.stat);
        out->set_p50(EstimatePercentile(h.buckets, buckets, n, 50, lo, hi));
        out->set_p90(EstimatePercentile(h.buckets, buckets, n, 90, lo, hi));
        out->set_p99(EstimatePercentile(h.buckets, buckets, n, 99, lo, hi));
        out->set_max(hi);
        out->set_sum(RowLayout::Sum(values, h.stat));
        break;
      }
    }
  }
}

}  // namespace

double OrderValue(const AggSpec& spec, const uint64_t* values) {
  const OrderBy& o = spec.order;
  switch (o.kind) {
    case OrderBy::Kind::kCount:
      return static_cast<double>(RowLayout::Count(values));
    case OrderBy::Kind::kSum:
      return static_cast<double>(RowLayout::Sum(values, o.stat));
    case OrderBy::Kind::kMin:
      return static_cast<double>(RowLayout::Min(values, o.stat));
    case OrderBy::Kind::kMax:
      return static_cast<double>(RowLayout::Max(values, o.stat));
    case OrderBy::Kind::kMean:
      return RowLayout::Mean(values, o.stat);
    case OrderBy::Kind::kPercentile: {
      const HistLayout& h = spec.layout.hists()[o.hist];
      return static_cast<double>(EstimatePercentile(
          h.buckets, spec.layout.Buckets(values, o.hist),
          RowLayout::Count(values), o.percent, RowLayout::Min(values, h.stat),
          RowLayout::Max(values, h.stat)));
    }
  }
  return 0;
}

absl::StatusOr<v1::AggregationResult> BuildResult(
    const AggSpec& spec, const AggTable& table, const ResultMeta& meta,
    uint32_t top_n, const std::vector<KeyMatch>& key_filter) {
  // Resolve the key filter.
  std::vector<std::pair<const KeyPart*, std::string>> filters;
  for (const KeyMatch& m : key_filter) {
    const KeyPart* found = nullptr;
    for (const KeyPart& part : spec.keys) {
      if (part.name == m.key) found = &part;
    }
    if (found == nullptr) {
      std::vector<std::string> names;
      for (const KeyPart& part : spec.keys) names.push_back(part.name);
      return absl::InvalidArgumentError(absl::StrCat(
          "aggregation \"", spec.name, "\" has no key \"", m.key, "\" (keys: ",
          names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
    }
    filters.emplace_back(found, m.value);
  }

  v1::AggregationResult result;
  result.set_name(spec.name);
  for (const KeyPart& part : spec.keys) result.add_key_names(part.name);
  for (const OutputValue& o : spec.outputs) result.add_value_names(o.name);
  result.set_cumulative(meta.cumulative);
  result.set_window_start_ns(meta.start_ns);
  result.set_window_end_ns(meta.end_ns);
  result.set_windows(meta.windows);
  result.set_distinct_keys(table.size());
  meta.counters.ToProto(result.mutable_counters());
  // Keys can also overflow when partials are merged: the overflow row is
  // the authority.
  result.mutable_counters()->set_overflow_events(
      RowLayout::Count(table.overflow_values()));

  struct Entry {
    uint32_t index;
    double order;
  };
  std::vector<Entry> rows;
  rows.reserve(table.size());
  uint64_t filtered = 0;
  for (uint32_t i = 0; i < table.size(); ++i) {
    bool keep = true;
    for (const auto& [part, value] : filters) {
      if (KeyText(*part, table.key(i)) != value) keep = false;
    }
    if (!keep) {
      ++filtered;
      continue;
    }
    rows.push_back({i, OrderValue(spec, table.values(i))});
  }
  result.set_rows_filtered(filtered);
  const bool ascending = spec.order.ascending;
  std::sort(rows.begin(), rows.end(), [&](const Entry& a, const Entry& b) {
    if (a.order != b.order) {
      return ascending ? a.order < b.order : a.order > b.order;
    }
    // Ties in key order, so results are deterministic.
    return KeyLess(spec, table.key(a.index), table.key(b.index));
  });

  const size_t shown =
      top_n == 0 ? rows.size() : std::min<size_t>(rows.size(), top_n);
  for (size_t i = 0; i < shown; ++i) {
    v1::Row* row = result.add_row();
    row->set_kind(v1::Row::KEY);
    FillKey(spec, table.key(rows[i].index), row);
    FillValues(spec, table.values(rows[i].index), row);
  }
  if (shown < rows.size()) {
    std::vector<uint64_t> other(spec.layout.value_words());
    spec.layout.Init(other.data());
    for (size_t i = shown; i < rows.size(); ++i) {
      spec.layout.Merge(other.data(), table.values(rows[i].index));
    }
    v1::Row* row = result.add_row();
    row->set_kind(v1::Row::OTHER);
    FillValues(spec, other.data(), row);
  }
  if (RowLayout::Count(table.overflow_values()) > 0) {
    v1::Row* row = result.add_row();
    row->set_kind(v1::Row::OVERFLOW);
    FillValues(spec, table.overflow_values(), row);
  }
  return result;
}

}  // namespace agg
}  // namespace ringwatch
