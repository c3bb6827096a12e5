// Reads compiled key parts and values out of one record: the per-event
// inner loop. Every field load is bounds-checked (field_access.h); a record
// too short for a field makes the read fail, and the caller counts it.
#ifndef RINGWATCH_DAEMON_AGG_RECORD_READER_H_
#define RINGWATCH_DAEMON_AGG_RECORD_READER_H_

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"
#include "daemon/agg/agg_spec.h"
#include "daemon/event/field_access.h"
#include "daemon/ring/record.h"

namespace ringwatch {
namespace agg {

// The task running on one CPU, as its sched_switch events tell.
struct CommState {
  int64_t pid = -1;  // -1 until the first sched_switch on the CPU.
  uint8_t comm[kCommBytes] = {};
};

// A scalar field, sign-extended per the format (FieldInteger is inline: this
// runs for most keys and values of every event).
inline bool ReadInteger(absl::Span<const uint8_t> payload, const FieldFormat& f,
                        int64_t* out) {
  return FieldInteger(payload, f, out);
}

// A char-array field up to its first NUL, at most `width` bytes, into `dst`
// (already zeroed): the common string key (comm), inlined.
inline bool ReadFixedString(absl::Span<const uint8_t> payload,
                            const FieldFormat& f, uint32_t width,
                            uint8_t* dst) {
  if (f.offset > payload.size() || f.size > payload.size() - f.offset) {
    return false;
  }
  const uint8_t* src = payload.data() + f.offset;
  const uint32_t n = std::min(f.size, width);
  // A word at a time: copy, and stop at the word holding the first NUL with
  // the bytes after it cleared (kernels leave stale bytes after the NUL).
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, src + i, 8);
    const uint64_t zero =
        (w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull;
    if (zero != 0) {
      // Keep the bytes below the lowest zero byte (little-endian).
      const int nul = __builtin_ctzll(zero) / 8;
      w &= nul == 0 ? 0 : (~uint64_t{0} >> (64 - 8 * nul));
      std::memcpy(dst + i, &w, 8);
      return true;
    }
    std::memcpy(dst + i, &w, 8);
  }
  for (; i < n && src[i] != 0; ++i) dst[i] = src[i];
  return true;
}

// Writes `width` bytes at `dst` (already zeroed) for one key part.
inline bool ReadKeyPart(const ReadSpec& read, uint32_t width,
                        const RecordView& record, const CommState& comm,
                        uint8_t* dst) {
  switch (read.source) {
    case Source::kInteger: {
      int64_t v;
      if (!ReadInteger(record.payload, read.field, &v)) return false;
      std::memcpy(dst, &v, sizeof(v));
      return true;
    }
    case Source::kString: {
      if (read.field.kind == FieldKind::kFixedArray) {
        return ReadFixedString(record.payload, read.field, width, dst);
      }
      absl::string_view s;
      if (!FieldString(record.payload, read.field, &s)) return false;
      std::memcpy(dst, s.data(), std::min<size_t>(s.size(), width));
      return true;
    }
    case Source::kCpu: {
      const int64_t v = record.cpu;
      std::memcpy(dst, &v, sizeof(v));
      return true;
    }
    case Source::kComm: {
      int64_t pid;
      if (!ReadInteger(record.payload, read.field, &pid)) return false;
      // Unknown (no switch seen yet on this CPU, or lost events): "".
      if (pid == comm.pid) {
        std::memcpy(dst, comm.comm, std::min<uint32_t>(width, kCommBytes));
      }
      return true;
    }
    case Source::kLatency:
    case Source::kOnCpu:
      return false;  // Not key sources; rejected at compile time.
  }
  return false;
}

// Every key part of `side` (kEnd also for non-latency aggregations).
inline bool ReadKey(const AggSpec& spec, Side side, const RecordView& record,
                    const CommState& comm, uint8_t* key) {
  for (const KeyPart& part : spec.keys) {
    if (part.read.side != side) continue;
    if (!ReadKeyPart(part.read, part.width, record, comm, key + part.offset)) {
      return false;
    }
  }
  return true;
}

// The pairing key of one latency endpoint.
inline bool ReadMatchKey(const AggSpec& spec, const EndpointSpec& endpoint,
                         const RecordView& record, const CommState& comm,
                         uint8_t* key) {
  for (size_t i = 0; i < endpoint.match.size(); ++i) {
    if (!ReadKeyPart(endpoint.match[i], spec.match_widths[i], record, comm,
                     key + spec.match_offsets[i])) {
      return false;
    }
  }
  return true;
}

// Field values of the stats; `special` is used for kLatency / kOnCpu.
inline bool ReadSamples(const AggSpec& spec, const RecordView& record,
                        int64_t special, int64_t* samples) {
  for (size_t s = 0; s < spec.stats.size(); ++s) {
    const ReadSpec& read = spec.stats[s].read;
    if (read.source == Source::kInteger) {
      if (!ReadInteger(record.payload, read.field, &samples[s])) return false;
    } else {
      samples[s] = special;
    }
  }
  return true;
}

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_RECORD_READER_H_
