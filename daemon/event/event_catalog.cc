#include "daemon/event/event_catalog.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ringwatch {
namespace {

// Queries longer than this are not typos of an event name; capping keeps the
// O(n*m) distance cheap for hostile input.
constexpr size_t kMaxCompareLength = 128;

size_t EditDistance(absl::string_view a, absl::string_view b) {
  a = a.substr(0, kMaxCompareLength);
  b = b.substr(0, kMaxCompareLength);
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t substitute = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

absl::string_view BareName(absl::string_view full) {
  size_t slash = full.find('/');
  return slash == absl::string_view::npos ? full : full.substr(slash + 1);
}

}  // namespace

std::vector<std::string> ClosestMatches(
    absl::string_view query, const std::vector<std::string>& candidates,
    size_t max) {
  if (query.empty() || query.size() > kMaxCompareLength) return {};
  const bool query_has_system = absl::StrContains(query, '/');
  // A typo changes a few characters; allow about one in three.
  const size_t limit = std::max<size_t>(2, query.size() / 3);
  std::vector<std::pair<size_t, const std::string*>> scored;
  for (const std::string& candidate : candidates) {
    size_t d = EditDistance(query, candidate);
    bool substring = false;
    if (!query_has_system) {
      absl::string_view bare = BareName(candidate);
      d = std::min(d, EditDistance(query, bare));
      substring = query.size() >= 3 && absl::StrContains(bare, query);
    }
    if (d <= limit) {
      scored.emplace_back(d, &candidate);
    } else if (substring) {
      // "switch" should find sched/sched_switch: rank substring matches
      // after the plausible typos, shortest first.
      scored.emplace_back(limit + 1 + candidate.size(), &candidate);
    }
  }
  std::sort(scored.begin(), scored.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first < y.first : *x.second < *y.second;
  });
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && out.size() < max; ++i) {
    out.push_back(*scored[i].second);
  }
  return out;
}

absl::Status UnknownEventError(absl::string_view query,
                               const std::vector<std::string>& known_names) {
  std::vector<std::string> close = ClosestMatches(query, known_names);
  std::string message = absl::StrCat("unknown event '", query, "'");
  if (!close.empty()) {
    absl::StrAppend(&message, "; did you mean ");
    for (size_t i = 0; i < close.size(); ++i) {
      if (i > 0)
        absl::StrAppend(&message, i + 1 == close.size() ? " or " : ", ");
      absl::StrAppend(&message, close[i]);
    }
    absl::StrAppend(&message, "?");
  } else {
    absl::StrAppend(&message,
                    " (events are named system/event, e.g. "
                    "sched/sched_switch; see available_events in tracefs)");
  }
  return absl::NotFoundError(message);
}

absl::Status EventCatalog::Add(EventFormat format) {
  if (format.id > 0xFFFF) {
    return absl::InvalidArgumentError(
        absl::StrCat("event ", format.FullName(), " has id ", format.id,
                     ", beyond the 16-bit common_type"));
  }
  if (format.id < by_id_.size() && by_id_[format.id] != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("event ", format.FullName(), " has id ", format.id,
                     ", already used by ", by_id_[format.id]->FullName()));
  }
  std::string full = format.FullName();
  if (by_full_name_.contains(full)) {
    return absl::AlreadyExistsError(
        absl::StrCat("event ", full, " is already in the catalog"));
  }
  formats_.push_back(std::make_unique<EventFormat>(std::move(format)));
  const EventFormat* f = formats_.back().get();
  if (f->id >= by_id_.size()) by_id_.resize(f->id + 1, nullptr);
  by_id_[f->id] = f;
  by_full_name_.emplace(std::move(full), f);
  by_name_[f->name].push_back(f);
  return absl::OkStatus();
}

const EventFormat* EventCatalog::FindByName(absl::string_view name) const {
  if (absl::StrContains(name, '/')) {
    auto it = by_full_name_.find(name);
    return it == by_full_name_.end() ? nullptr : it->second;
  }
  auto it = by_name_.find(name);
  if (it == by_name_.end() || it->second.size() != 1) return nullptr;
  return it->second.front();
}

absl::StatusOr<const EventFormat*> EventCatalog::Lookup(
    absl::string_view name) const {
  if (const EventFormat* f = FindByName(name)) return f;
  if (!absl::StrContains(name, '/')) {
    auto it = by_name_.find(name);
    if (it != by_name_.end() && it->second.size() > 1) {
      std::vector<std::string> full;
      for (const EventFormat* f : it->second) full.push_back(f->FullName());
      std::sort(full.begin(), full.end());
      return absl::InvalidArgumentError(absl::StrCat(
          "event name '", name, "' is ambiguous: ", absl::StrJoin(full, ", "),
          "; name it as system/event"));
    }
  }
  std::vector<std::string> names;
  names.reserve(formats_.size());
  for (const auto& f : formats_) names.push_back(f->FullName());
  return UnknownEventError(name, names);
}

std::vector<const EventFormat*> EventCatalog::All() const {
  std::vector<const EventFormat*> out;
  out.reserve(formats_.size());
  for (const auto& f : formats_) out.push_back(f.get());
  std::sort(
      out.begin(), out.end(),
      [](const EventFormat* a, const EventFormat* b) { return a->id < b->id; });
  return out;
}

void EventCatalog::NoteSkipped(absl::string_view error) {
  if (skipped_++ == 0) first_skip_error_ = std::string(error);
}

}  // namespace ringwatch
