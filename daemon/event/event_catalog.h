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
  // NotFound naming `name`, with up to three close matches.
  absl::StatusOr<const EventFormat*> Lookup(absl::string_view name) const;

  std::vector<const EventFormat*> All() const;
  size_t size() const { return formats_.size(); }

  const HeaderPageFormat& header_page() const { return header_page_; }
  void set_header_page(const HeaderPageFormat& h) { header_page_ = h; }

 private:
  std::vector<std::unique_ptr<EventFormat>> formats_;  // Owns; stable addresses.
  std::vector<const EventFormat*> by_id_;              // Dense, may hold nulls.
  absl::flat_hash_map<std::string, const EventFormat*> by_full_name_;
  HeaderPageFormat header_page_;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_EVENT_EVENT_CATALOG_H_
