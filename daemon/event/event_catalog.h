// Every event format of one tracefs (or one trace.dat), looked up by id in
// O(1) and by name.
#ifndef RINGWATCH_DAEMON_EVENT_EVENT_CATALOG_H_
#define RINGWATCH_DAEMON_EVENT_EVENT_CATALOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/event/event_format.h"
#include "daemon/event/header_page.h"

namespace ringwatch {

class EventCatalog {
 public:
  EventCatalog() = default;
  EventCatalog(EventCatalog&&) = default;
  EventCatalog& operator=(EventCatalog&&) = default;

  // Adds a parsed format; fails on a duplicate id.
  absl::Status Add(EventFormat format);

  // nullptr when no event has this id. O(1): a dense table indexed by id.
  const EventFormat* FindById(uint32_t id) const {
    return id < by_id_.size() ? by_id_[id] : nullptr;
  }
  // "system/name", or a bare "name" when it is unique.
  const EventFormat* FindByName(absl::string_view name) const;
  // NotFound naming `name`, with up to three close matches. A bare name
  // that several systems define is InvalidArgument listing them.
  absl::StatusOr<const EventFormat*> Lookup(absl::string_view name) const;

  std::vector<const EventFormat*> All() const;
  size_t size() const { return formats_.size(); }

  const HeaderPageFormat& header_page() const { return header_page_; }
  void set_header_page(const HeaderPageFormat& h) { header_page_ = h; }

  // Formats a loader could not parse and left out (some kernels have odd
  // ones): how many, and the first error for diagnostics.
  void NoteSkipped(absl::string_view error);
  size_t skipped() const { return skipped_; }
  const std::string& first_skip_error() const { return first_skip_error_; }

 private:
  std::vector<std::unique_ptr<EventFormat>>
      formats_;                            // Owns; stable addresses.
  std::vector<const EventFormat*> by_id_;  // Dense, may hold nulls.
  absl::flat_hash_map<std::string, const EventFormat*> by_full_name_;
  // Bare name -> every format with that name (usually one).
  absl::flat_hash_map<std::string, std::vector<const EventFormat*>> by_name_;
  HeaderPageFormat header_page_;
  size_t skipped_ = 0;
  std::string first_skip_error_;
};

// Up to `max` of `candidates` closest to `query` by edit distance (ties by
// name), leaving out those too far to be a plausible typo. For "did you
// mean" hints.
std::vector<std::string> ClosestMatches(
    absl::string_view query, const std::vector<std::string>& candidates,
    size_t max = 3);

// "unknown event 'X'; did you mean a, b or c?" (or without the hint), as a
// NotFound status. Shared by the catalog and tracefs instances.
absl::Status UnknownEventError(absl::string_view query,
                               const std::vector<std::string>& known_names);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_EVENT_EVENT_CATALOG_H_
