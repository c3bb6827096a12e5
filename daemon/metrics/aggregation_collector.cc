#include "daemon/metrics/aggregation_collector.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "daemon/agg/histogram.h"
#include "daemon/metrics/family_builder.h"
#include "daemon/metrics/label_names.h"

namespace ringwatch {
namespace metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr char kOtherKey[] = "\x1f<other>";

// Fields whose values are nanoseconds: exported in seconds.
bool IsNanoseconds(const v1::Aggregation& spec, absl::string_view field) {
  if (spec.has_latency()) return field == "latency";
  if (spec.has_cpu_time()) return field == "on_cpu";
  return absl::EndsWith(field, "_ns");
}

// "sum(bytes)" -> "bytes" when `name` is "sum(...)" for kind "sum".
bool ValueField(absl::string_view name, absl::string_view kind,
                std::string* field) {
  if (!absl::ConsumePrefix(&name, kind) || !absl::ConsumePrefix(&name, "(") ||
      !absl::ConsumeSuffix(&name, ")")) {
    return false;
  }
  *field = std::string(name);
  return true;
}

// The bucket layout of the histogram of `field`, as the engine builds it.
agg::BucketSpec BucketsOf(const v1::Aggregation& spec,
                          const std::string& field) {
  for (const v1::Value& v : spec.value()) {
    if (!v.has_histogram() || v.histogram().field() != field ||
        !v.histogram().has_linear()) {
      continue;
    }
    const v1::Linear& l = v.histogram().linear();
    absl::StatusOr<agg::BucketSpec> linear =
        agg::BucketSpec::Linear(l.min(), l.max(), l.step());
    if (linear.ok()) return *linear;
  }
  return agg::BucketSpec::Log2();
}

// The index of the bucket whose inclusive upper bound is `upper`.
uint32_t BucketIndex(const agg::BucketSpec& buckets, int64_t upper) {
  uint32_t lo = 0, hi = buckets.num_buckets() - 1;
  while (lo < hi) {
    const uint32_t mid = (lo + hi) / 2;
    if (buckets.Upper(mid) < upper) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

struct Series {
  Labels labels;
  uint64_t count = 0;
  std::vector<int64_t> sums;                       // Per value index.
  std::vector<std::map<uint32_t, uint64_t>> hist;  // Bucket index -> count.
  std::vector<int64_t> hist_sums;
};

void Fold(const v1::Aggregation& spec, const v1::AggregationResult& result,
          const v1::Row& row, Series* series) {
  series->count += row.count();
  const int n = result.value_names_size();
  series->sums.resize(n);
  series->hist.resize(n);
  series->hist_sums.resize(n);
  for (int i = 0; i < row.value_size() && i < n; ++i) {
    const v1::ValueResult& v = row.value(i);
    if (v.has_histogram()) {
      std::string field;
      ValueField(v.name(), "histogram", &field);
      const agg::BucketSpec buckets = BucketsOf(spec, field);
      for (const v1::Bucket& b : v.histogram().bucket()) {
        series->hist[i][BucketIndex(buckets, b.upper())] += b.count();
      }
      series->hist_sums[i] += v.histogram().sum();
    } else if (v.kind_case() == v1::ValueResult::kIntValue) {
      series->sums[i] += v.int_value();
    }
  }
}

Labels KeyLabels(const v1::AggregationResult& result, const v1::Row& row) {
  Labels labels;
  std::set<std::string> used;
  for (int i = 0; i < row.key_size() && i < result.key_names_size(); ++i) {
    std::string name = SanitizeLabelName(result.key_names(i));
    while (!used.insert(name).second) name += "_";
    const v1::KeyValue& k = row.key(i);
    labels.push_back({name, k.kind_case() == v1::KeyValue::kStringValue
                                ? LabelValue(k.string_value())
                                : absl::StrCat(k.int_value())});
    if (!k.display().empty()) {
      std::string display = name == "id" ? "syscall" : name + "_syscall";
      while (!used.insert(display).second) display += "_";
      labels.push_back({display, LabelValue(k.display())});
    }
  }
  return labels;
}

std::string KeyId(const v1::Row& row) {
  std::vector<std::string> parts;
  for (const v1::KeyValue& k : row.key()) {
    parts.push_back(k.kind_case() == v1::KeyValue::kStringValue
                        ? absl::StrCat("s", k.string_value())
                        : absl::StrCat("i", k.int_value()));
  }
  return absl::StrJoin(parts, "\x1f");
}

}  // namespace

absl::Status ValidateAggregationMetrics(const v1::Aggregation& spec) {
  if (spec.metrics().max_series() > kMaxMaxSeries) {
    return absl::InvalidArgumentError(
        absl::StrCat("aggregation '", spec.name(), "': metrics.max_series ",
                     spec.metrics().max_series(), " is over the limit of ",
                     kMaxMaxSeries, " series per aggregation"));
  }
  return absl::OkStatus();
}

void AggregationFamilies(const v1::Aggregation& spec,
                         const v1::AggregationResult& result,
                         ExportState* state, std::vector<MetricFamily>* out) {
  const std::string serialized = spec.SerializeAsString();
  if (state->spec != serialized) *state = ExportState{serialized, {}, {}};
  const uint32_t cap = spec.metrics().max_series() > 0
                           ? spec.metrics().max_series()
                           : kDefaultMaxSeries;

  // Admit new keys in the result's order (the aggregation's order_by) while
  // there is room; fold the rest into "other".
  std::map<std::string, Series> by_key;
  std::vector<std::string> order;
  uint64_t cut = 0;
  for (const v1::Row& row : result.row()) {
    std::string id = kOtherKey;
    if (row.kind() == v1::Row::KEY) {
      std::string key = KeyId(row);
      if (state->series.count(key) ||
          (state->series.size() < cap && state->series.insert(key).second)) {
        id = std::move(key);
      } else {
        ++cut;
      }
    }
    auto [it, inserted] = by_key.try_emplace(id);
    if (inserted) {
      order.push_back(id);
      it->second.labels =
          id == kOtherKey ? Labels{{"row", "other"}} : KeyLabels(result, row);
    }
    Fold(spec, result, row, &it->second);
  }

  const std::string prefix =
      absl::StrCat("ringwatch_agg_", SanitizeMetricName(spec.name()), "_");
  const char* what = spec.has_latency()    ? "latency samples"
                     : spec.has_cpu_time() ? "context switches"
                                           : "events";
  MetricFamily count =
      Family(absl::StrCat(prefix,
                          spec.has_latency()    ? "samples"
                          : spec.has_cpu_time() ? "switches"
                                                : "events",
                          "_total"),
             absl::StrCat("Aggregation '", spec.name(), "': ", what,
                          " per key since it started."),
             MetricType::Counter);
  for (const std::string& id : order) {
    AddSample(&count, by_key[id].labels, static_cast<double>(by_key[id].count));
  }
  Emit(std::move(count), out);

  for (int i = 0; i < result.value_names_size(); ++i) {
    std::string field;
    const std::string& name = result.value_names(i);
    const bool ns = [&] {
      std::string f;
      return (ValueField(name, "sum", &f) ||
              ValueField(name, "histogram", &f)) &&
             IsNanoseconds(spec, f);
    }();
    // Division, not a multiplication by 1e-9: 7 ns reads "7e-09", not
    // "7.000000000000001e-09".
    const double divisor = ns ? 1e9 : 1.0;
    if (ValueField(name, "sum", &field)) {
      MetricFamily sum = Family(
          absl::StrCat(prefix, SanitizeMetricName(field),
                       ns ? "_seconds_total" : "_total"),
          absl::StrCat("Aggregation '", spec.name(), "': sum of ", field,
                       ns ? " in seconds" : "", " per key since it started."),
          MetricType::Counter);
      for (const std::string& id : order) {
        const Series& s = by_key[id];
        AddSample(
            &sum, s.labels,
            i < static_cast<int>(s.sums.size()) ? s.sums[i] / divisor : 0);
      }
      Emit(std::move(sum), out);
    } else if (ValueField(name, "histogram", &field)) {
      const agg::BucketSpec layout = BucketsOf(spec, field);
      uint32_t& top = state->top_bucket[name];
      for (const std::string& id : order) {
        const Series& s = by_key[id];
        if (i < static_cast<int>(s.hist.size()) && !s.hist[i].empty()) {
          top = std::max(top, s.hist[i].rbegin()->first);
        }
      }
      MetricFamily hist = Family(
          absl::StrCat(prefix, SanitizeMetricName(field), ns ? "_seconds" : ""),
          absl::StrCat("Aggregation '", spec.name(), "': histogram of ", field,
                       ns ? " in seconds" : "",
                       " per key since it started; le are the aggregation's "
                       "bucket bounds."),
          MetricType::Histogram);
      for (const std::string& id : order) {
        const Series& s = by_key[id];
        ClientMetric metric;
        metric.label = s.labels;
        uint64_t cumulative = 0;
        const std::map<uint32_t, uint64_t> empty;
        const auto& buckets =
            i < static_cast<int>(s.hist.size()) ? s.hist[i] : empty;
        for (uint32_t b = 0; b <= top; ++b) {
          auto found = buckets.find(b);
          if (found != buckets.end()) cumulative += found->second;
          const int64_t upper = layout.Upper(b);
          if (upper == std::numeric_limits<int64_t>::max()) break;
          metric.histogram.bucket.push_back(
              {cumulative, static_cast<double>(upper) / divisor});
        }
        // The +Inf bucket holds every sample.
        uint64_t total = 0;
        for (const auto& [index, n] : buckets) total += n;
        metric.histogram.bucket.push_back(
            {total, std::numeric_limits<double>::infinity()});
        metric.histogram.sample_count = total;
        metric.histogram.sample_sum = i < static_cast<int>(s.hist_sums.size())
                                          ? s.hist_sums[i] / divisor
                                          : 0;
        hist.metric.push_back(std::move(metric));
      }
      Emit(std::move(hist), out);
    }
  }

  MetricFamily cut_family =
      Family("ringwatch_aggregation_cut_series",
             "Keys folded into an exported aggregation's row=\"other\" series "
             "because metrics.max_series was reached.",
             MetricType::Gauge);
  AddSample(&cut_family, {{"aggregation", spec.name()}},
            static_cast<double>(cut));
  out->push_back(std::move(cut_family));
}

std::vector<MetricFamily> AggregationCollector::Collect() const {
  std::vector<MetricFamily> out;
  std::vector<MetricFamily> cut;
  absl::MutexLock lock(&mu_);
  std::set<std::string> live;
  for (const v1::AggregationInfo& info : backend_->ListAggregations()) {
    const v1::Aggregation& spec = info.spec();
    if (!spec.metrics().enabled()) continue;
    live.insert(spec.name());
    absl::StatusOr<v1::AggregationResult> result =
        backend_->GetResult(spec.name(), v1::RESULT_VIEW_CUMULATIVE);
    if (!result.ok()) continue;  // No window closed yet.
    std::vector<MetricFamily> families;
    AggregationFamilies(spec, *result, &states_[spec.name()], &families);
    for (MetricFamily& f : families) {
      // One cut-series family for every aggregation.
      if (f.name == "ringwatch_aggregation_cut_series") {
        if (cut.empty()) cut.push_back(Family(f.name, f.help, f.type));
        for (auto& m : f.metric) cut[0].metric.push_back(std::move(m));
      } else {
        out.push_back(std::move(f));
      }
    }
  }
  for (auto it = states_.begin(); it != states_.end();) {
    it = live.count(it->first) ? std::next(it) : states_.erase(it);
  }
  for (MetricFamily& f : cut) out.push_back(std::move(f));
  return out;
}

}  // namespace metrics
}  // namespace ringwatch
