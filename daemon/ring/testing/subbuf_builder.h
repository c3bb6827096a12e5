// Builds sub-buffers by hand from the documented record layout (see
// daemon/ring/subbuf_decoder.h), for the record forms and damage a capture
// cannot be relied on to contain.
#ifndef RINGWATCH_DAEMON_RING_TESTING_SUBBUF_BUILDER_H_
#define RINGWATCH_DAEMON_RING_TESTING_SUBBUF_BUILDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace ringwatch {

class SubbufBuilder {
 public:
  // A `size`-byte sub-buffer (16-byte 64-bit header included) whose first
  // record's base time is `timestamp`.
  explicit SubbufBuilder(uint64_t timestamp, uint32_t size = 4096);

  // A data record of `payload` (padded to 4 bytes): the short form
  // (type_len = words) up to 112 bytes, else the long form (type_len 0).
  SubbufBuilder& Data(uint32_t delta, absl::string_view payload);
  // Always the long form, as archs with RB_FORCE_8BYTE_ALIGNMENT write.
  SubbufBuilder& LongData(uint32_t delta, absl::string_view payload);
  // A discarded event occupying `length` bytes (header included, >= 8).
  SubbufBuilder& Discarded(uint32_t delta, uint32_t length);
  // Padding with time_delta 0: the rest of the page is empty.
  SubbufBuilder& EndPadding();
  SubbufBuilder& TimeExtend(uint64_t delta);
  // An absolute timestamp: only its low 59 bits are stored.
  SubbufBuilder& TimeStamp(uint64_t time);
  // Any 32-bit words, for damage.
  SubbufBuilder& Raw32(uint32_t word);

  // Loss flags in the commit word, as the kernel sets them (the int flags
  // added to a 64-bit local_t: the upper half becomes 0xffffffff).
  SubbufBuilder& MissedStored(uint64_t count);
  SubbufBuilder& MissedUnknown();

  // Bytes of records written so far (the commit's data size).
  uint32_t data_size() const { return static_cast<uint32_t>(data_.size()); }

  // The sub-buffer, zero-filled after the data (and the stored count).
  std::vector<uint8_t> Build() const;

  // A data payload that starts like a trace event: common_type = `id`,
  // then `text`.
  static std::string Payload(uint16_t id, absl::string_view text);

 private:
  void Put32(uint32_t v);
  void Header(uint32_t type_len, uint32_t delta);

  uint64_t timestamp_;
  uint32_t size_;
  std::vector<uint8_t> data_;
  bool missed_ = false;
  bool stored_ = false;
  uint64_t missed_count_ = 0;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_RING_TESTING_SUBBUF_BUILDER_H_
