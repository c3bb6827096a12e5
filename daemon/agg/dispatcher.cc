#include "daemon/agg/dispatcher.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "daemon/agg/aggregation.h"

namespace ringwatch {
namespace agg {

std::unique_ptr<Dispatcher> Dispatcher::Build(
    std::vector<std::shared_ptr<AggRuntime>> aggs,
    const EventCatalog& catalog) {
  std::unique_ptr<Dispatcher> d(new Dispatcher());
  std::vector<std::pair<uint32_t, Program>> by_id;
  bool needs_comm = false;
  for (const std::shared_ptr<AggRuntime>& agg : aggs) {
    const AggSpec& spec = agg->spec();
    needs_comm |= spec.needs_comm;
    switch (spec.kind) {
      case AggKind::kEvent:
        by_id.push_back({spec.event_id, {Role::kEvent, agg.get()}});
        break;
      case AggKind::kCpuTime:
        by_id.push_back({spec.event_id, {Role::kCpuTime, agg.get()}});
        break;
      case AggKind::kLatency:
        // An end before a start of the same event: a record that ends one
        // pair and starts the next is paired with the older start.
        by_id.push_back({spec.end.event_id, {Role::kLatencyEnd, agg.get()}});
        by_id.push_back(
            {spec.start.event_id, {Role::kLatencyStart, agg.get()}});
        break;
    }
  }
  // Stable: programs of one id keep aggregation order.
  std::stable_sort(
      by_id.begin(), by_id.end(),
      [](const auto& a, const auto& b) { return a.first < b.first; });
  const uint32_t max_id = by_id.empty() ? 0 : by_id.back().first;
  d->begin_.assign(max_id + 2, 0);
  for (const auto& [id, program] : by_id) d->begin_[id + 1]++;
  for (size_t i = 1; i < d->begin_.size(); ++i) {
    d->begin_[i] += d->begin_[i - 1];
  }
  for (const auto& entry : by_id) d->programs_.push_back(entry.second);

  if (needs_comm) {
    const EventFormat* sw = catalog.FindByName("sched/sched_switch");
    const FieldFormat* pp = sw ? sw->FindField("prev_pid") : nullptr;
    const FieldFormat* pc = sw ? sw->FindField("prev_comm") : nullptr;
    const FieldFormat* np = sw ? sw->FindField("next_pid") : nullptr;
    const FieldFormat* nc = sw ? sw->FindField("next_comm") : nullptr;
    // Comm fields are char arrays on every kernel; anything else is not
    // tracked (keys then read "").
    if (pp && pc && np && nc && pc->kind == FieldKind::kFixedArray &&
        nc->kind == FieldKind::kFixedArray) {
      d->track_comm_ = true;
      d->switch_id_ = static_cast<int32_t>(sw->id);
      d->prev_pid_ = *pp;
      d->prev_comm_ = *pc;
      d->next_pid_ = *np;
      d->next_comm_ = *nc;
    }
  }
  d->aggs_ = std::move(aggs);
  return d;
}

}  // namespace agg
}  // namespace ringwatch
