// The layout of a ring-buffer sub-buffer header, from events/header_page:
//   u64 timestamp; local_t commit; ... char data;
#ifndef RINGWATCH_DAEMON_EVENT_HEADER_PAGE_H_
#define RINGWATCH_DAEMON_EVENT_HEADER_PAGE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ringwatch {

struct HeaderPageFormat {
  uint32_t timestamp_offset = 0;
  uint32_t timestamp_size = 8;
  uint32_t commit_offset = 8;
  uint32_t commit_size = 8;  // local_t: 8 on 64-bit kernels, 4 on 32-bit.
  uint32_t data_offset = 16;
  // The default is what every 64-bit kernel writes, for captures that carry
  // no header_page text.
  static HeaderPageFormat Default64() { return HeaderPageFormat(); }
};

absl::StatusOr<HeaderPageFormat> ParseHeaderPage(absl::string_view text);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_EVENT_HEADER_PAGE_H_
