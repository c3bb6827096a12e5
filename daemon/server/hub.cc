#include "daemon/server/hub.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "daemon/server/names.h"

namespace ringwatch {

uint64_t Hub::Add(const std::vector<std::string>& aggregation_ids,
                  std::shared_ptr<WindowSubscriber> subscriber) {
  absl::MutexLock lock(&mu_);
  auto table = std::make_shared<Table>(*table_);
  const uint64_t handle = next_handle_++;
  for (const std::string& id : aggregation_ids) {
    std::vector<Entry>& entries = (*table)[id];
    bool present = false;
    for (const Entry& e : entries) present |= e.handle == handle;
    if (!present) entries.push_back(Entry{handle, subscriber});
  }
  table_ = std::move(table);
  ++size_;
  return handle;
}

void Hub::Remove(uint64_t handle) {
  std::shared_ptr<const Table> old;  // Released outside the lock.
  absl::MutexLock lock(&mu_);
  auto table = std::make_shared<Table>(*table_);
  bool found = false;
  for (auto it = table->begin(); it != table->end();) {
    std::vector<Entry>& entries = it->second;
    for (size_t i = 0; i < entries.size();) {
      if (entries[i].handle == handle) {
        entries.erase(entries.begin() + i);
        found = true;
      } else {
        ++i;
      }
    }
    if (entries.empty()) {
      table->erase(it++);
    } else {
      ++it;
    }
  }
  if (!found) return;
  old = std::move(table_);
  table_ = std::move(table);
  --size_;
}

std::shared_ptr<const Hub::Table> Hub::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return table_;
}

void Hub::OnWindowClosed(std::shared_ptr<const v1::AggregationResult> window) {
  absl::string_view id = window->name();
  absl::ConsumePrefix(&id, kAggregationsPrefix);
  std::shared_ptr<const Table> table;
  {
    absl::MutexLock lock(&mu_);
    table = table_;
    ++published_;
  }
  auto it = table->find(id);
  if (it == table->end()) return;
  for (const Entry& e : it->second) e.subscriber->Offer(window);
}

void Hub::OnAggregationDeleted(absl::string_view aggregation_id) {
  std::shared_ptr<const Table> table = Snapshot();
  auto it = table->find(aggregation_id);
  if (it == table->end()) return;
  const std::string id(aggregation_id);
  for (const Entry& e : it->second) e.subscriber->AggregationDeleted(id);
}

void Hub::OnSnapshotTaken(absl::string_view aggregation_id,
                          std::shared_ptr<const v1::SnapshotInfo> info) {
  std::shared_ptr<const Table> table = Snapshot();
  auto it = table->find(aggregation_id);
  if (it == table->end()) return;
  for (const Entry& e : it->second) e.subscriber->OfferSnapshot(info);
}

absl::flat_hash_map<std::string, uint32_t> Hub::SubscriberCounts() const {
  absl::flat_hash_map<std::string, uint32_t> counts;
  std::shared_ptr<const Table> table = Snapshot();
  for (const auto& [id, entries] : *table) {
    counts[id] = static_cast<uint32_t>(entries.size());
  }
  return counts;
}

size_t Hub::size() const {
  absl::MutexLock lock(&mu_);
  return size_;
}

uint64_t Hub::windows_published() const {
  absl::MutexLock lock(&mu_);
  return published_;
}

}  // namespace ringwatch
