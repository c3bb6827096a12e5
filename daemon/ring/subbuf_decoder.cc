#include "daemon/ring/subbuf_decoder.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "absl/strings/str_format.h"

namespace ringwatch {
namespace {

// include/linux/ring_buffer.h and kernel/trace/ring_buffer.c.
constexpr uint32_t kTypeLenMask = 0x1f;
constexpr uint32_t kTypeLenDataMax = 28;
constexpr uint32_t kTypePadding = 29;
constexpr uint32_t kTypeTimeExtend = 30;
constexpr uint32_t kTypeTimeStamp = 31;
constexpr uint32_t kTimeShift = 27;                  // TS_SHIFT
constexpr uint64_t kAbsTimeTopBits = 0xf8ULL << 56;  // TS_MSB
constexpr uint32_t kMissedEvents = 1u << 31;         // RB_MISSED_EVENTS
constexpr uint32_t kMissedStored = 1u << 30;         // RB_MISSED_STORED
constexpr uint32_t kDataSizeMask = kMissedStored - 1;
constexpr uint32_t kHeaderBytes = 4;      // RB_EVNT_HDR_SIZE
constexpr uint32_t kTimeRecordBytes = 8;  // RB_LEN_TIME_EXTEND/_STAMP

inline uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// A 4- or 8-byte unsigned long / local_t.
inline uint64_t LoadWord(const uint8_t* p, uint32_t size) {
  return size == 8 ? Load64(p) : Load32(p);
}

// Absolute timestamps keep 59 bits; the kernel restores the top 5 from the
// running time and assumes a wrap of the low bits when the result would go
// backwards (rb_fix_abs_ts).
inline uint64_t FixAbsoluteTime(uint64_t abs, uint64_t running) {
  if (running & kAbsTimeTopBits) {
    abs |= running & kAbsTimeTopBits;
    if (abs < running) abs += 1ULL << 59;
  }
  return abs;
}

enum class Kind : uint8_t { kData, kPadding, kEnd, kTimeExtend, kTimeStamp };

enum class RecordError : uint8_t {
  kOk,
  kHeaderCut,       // Fewer than 4 bytes left for the header.
  kLengthWordCut,   // Fewer than 8 bytes left for header + array[0].
  kLengthTooSmall,  // array[0] does not cover its own 4 bytes.
  kLengthUnaligned,
  kOverrun,  // The record runs past the end.
};

struct Record {
  Kind kind;
  uint32_t length;          // Bytes the record occupies.
  uint32_t payload_offset;  // kData: from the record's start.
  uint64_t time;  // kData/kTimeExtend: delta; kTimeStamp: low 59 bits.
};

// Parses the record at `off`, which must fit in [off, end). Hot: inlined
// into the decode loop; errors are turned into messages by the caller.
inline RecordError ParseRecord(const uint8_t* base, uint32_t off, uint32_t end,
                               Record* r) {
  const uint32_t left = end - off;
  if (left < kHeaderBytes) return RecordError::kHeaderCut;
  const uint32_t header = Load32(base + off);
  const uint32_t type_len = header & kTypeLenMask;
  const uint32_t delta = header >> 5;
  if (type_len - 1 < kTypeLenDataMax) {  // 1..28
    r->kind = Kind::kData;
    r->length = kHeaderBytes + type_len * 4;
    r->payload_offset = kHeaderBytes;
    r->time = delta;
    return r->length <= left ? RecordError::kOk : RecordError::kOverrun;
  }
  if (type_len == kTypePadding && delta == 0) {
    r->kind = Kind::kEnd;
    r->length = left;
    r->payload_offset = 0;
    r->time = 0;
    return RecordError::kOk;
  }
  if (left < kHeaderBytes + 4) return RecordError::kLengthWordCut;
  const uint32_t array0 = Load32(base + off + kHeaderBytes);
  switch (type_len) {
    case 0:
    case kTypePadding:
      // Data: array[0] = 4 + data length. Discarded event: array[0] = its
      // length past the header. Both cover at least the array[0] word, and
      // the writer keeps every record 4-byte aligned.
      if (array0 < 4) return RecordError::kLengthTooSmall;
      if (array0 % 4 != 0) return RecordError::kLengthUnaligned;
      if (array0 > left - kHeaderBytes) return RecordError::kOverrun;
      r->kind = type_len == 0 ? Kind::kData : Kind::kPadding;
      r->length = kHeaderBytes + array0;
      r->payload_offset = kHeaderBytes + 4;
      r->time = delta;
      return RecordError::kOk;
    case kTypeTimeExtend:
    default:  // kTypeTimeStamp
      r->kind =
          type_len == kTypeTimeExtend ? Kind::kTimeExtend : Kind::kTimeStamp;
      r->length = kTimeRecordBytes;
      r->payload_offset = 0;
      r->time = (static_cast<uint64_t>(array0) << kTimeShift) | delta;
      return RecordError::kOk;
  }
}

// Cold: describes a record error with the values that caused it.
absl::Status RecordErrorStatus(uint32_t cpu, const uint8_t* base,
                               uint32_t data_offset, uint32_t off, uint32_t end,
                               RecordError error) {
  std::string reason;
  const uint32_t left = end - off;
  switch (error) {
    case RecordError::kHeaderCut:
      reason = absl::StrFormat("record header cut short: %u bytes left", left);
      break;
    case RecordError::kLengthWordCut:
      reason = absl::StrFormat(
          "record of type_len %u cut short: %u bytes left, its length word "
          "needs 8",
          Load32(base + off) & kTypeLenMask, left);
      break;
    case RecordError::kLengthTooSmall:
    case RecordError::kLengthUnaligned:
    case RecordError::kOverrun: {
      const uint32_t header = Load32(base + off);
      const uint32_t type_len = header & kTypeLenMask;
      const bool has_array0 = type_len == 0 || type_len == kTypePadding;
      const uint64_t length =
          has_array0 ? uint64_t{kHeaderBytes} + Load32(base + off + 4)
                     : uint64_t{kHeaderBytes} + type_len * 4;
      const char* what = type_len == 0              ? "long data record"
                         : type_len == kTypePadding ? "discarded event"
                                                    : "data record";
      if (error == RecordError::kLengthTooSmall) {
        reason = absl::StrFormat("%s length word %u is below 4", what,
                                 length - kHeaderBytes);
      } else if (error == RecordError::kLengthUnaligned) {
        reason = absl::StrFormat("%s length %u is not a multiple of 4", what,
                                 length);
      } else {
        reason = absl::StrFormat("%s of %u bytes overruns the end by %u", what,
                                 length, length - left);
      }
      break;
    }
    case RecordError::kOk:
      break;
  }
  return absl::DataLossError(absl::StrFormat(
      "cpu %u: sub-buffer record at data offset %u (byte %u of the "
      "sub-buffer, data ends at %u): %s",
      cpu, off, data_offset + off, end, reason));
}

}  // namespace

absl::Status ParseSubbufHeader(absl::Span<const uint8_t> subbuf,
                               const HeaderPageFormat& format,
                               SubbufHeader* header) {
  if (format.timestamp_size != 8) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "header_page: timestamp size %u, want 8", format.timestamp_size));
  }
  if (format.commit_size != 4 && format.commit_size != 8) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "header_page: commit size %u, want 4 or 8", format.commit_size));
  }
  if (uint64_t{format.timestamp_offset} + 8 > format.data_offset ||
      uint64_t{format.commit_offset} + format.commit_size >
          format.data_offset) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "header_page: timestamp at %u or commit at %u (size %u) overlaps the "
        "data at %u",
        format.timestamp_offset, format.commit_offset, format.commit_size,
        format.data_offset));
  }
  if (subbuf.size() < format.data_offset) {
    return absl::DataLossError(absl::StrFormat(
        "sub-buffer of %u bytes is shorter than its %u-byte header",
        subbuf.size(), format.data_offset));
  }
  if (subbuf.size() - format.data_offset >
      std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("sub-buffer of %u bytes is too large", subbuf.size()));
  }
  const uint8_t* base = subbuf.data();
  const uint32_t capacity =
      static_cast<uint32_t>(subbuf.size() - format.data_offset);
  const uint64_t commit_word =
      LoadWord(base + format.commit_offset, format.commit_size);
  // Only the low half: see the layout note in the header.
  const uint32_t commit = static_cast<uint32_t>(commit_word);
  SubbufHeader h;
  h.timestamp = Load64(base + format.timestamp_offset);
  h.data_size = commit & kDataSizeMask;
  h.missed_events = (commit & kMissedEvents) != 0;
  h.missed_stored = (commit & kMissedStored) != 0;
  if (h.data_size > capacity) {
    return absl::DataLossError(absl::StrFormat(
        "sub-buffer commit %#x: data size %u exceeds the %u-byte data area",
        commit_word, h.data_size, capacity));
  }
  if (h.missed_stored) {
    if (!h.missed_events) {
      return absl::DataLossError(absl::StrFormat(
          "sub-buffer commit %#x: RB_MISSED_STORED without RB_MISSED_EVENTS",
          commit_word));
    }
    if (capacity - h.data_size < format.commit_size) {
      return absl::DataLossError(absl::StrFormat(
          "sub-buffer commit %#x: the lost count after %u bytes of data does "
          "not fit in the %u-byte data area",
          commit_word, h.data_size, capacity));
    }
    h.missed_count =
        LoadWord(base + format.data_offset + h.data_size, format.commit_size);
  }
  *header = h;
  return absl::OkStatus();
}

void SubbufDecoder::Start(uint32_t cpu, absl::Span<const uint8_t> subbuf,
                          const HeaderPageFormat& format,
                          const SubbufHeader& header, RecordSink* sink,
                          DecodeCounters* counters) {
  cpu_ = cpu;
  // A sub-buffer shorter than its header has no data area: Decode then
  // reports any data_end as out of range.
  if (subbuf.size() < format.data_offset) {
    data_ = absl::Span<const uint8_t>();
  } else {
    data_ =
        subbuf.subspan(format.data_offset,
                       std::min<size_t>(subbuf.size() - format.data_offset,
                                        std::numeric_limits<int32_t>::max()));
  }
  data_offset_ = format.data_offset;
  offset_ = 0;
  timestamp_ = header.timestamp;
  failed_ = false;
  ended_ = false;
  ++counters->subbufs;
  if (header.missed_events) {
    LossReport loss;
    loss.cpu = cpu;
    loss.timestamp = header.timestamp;
    if (header.missed_stored) {
      loss.count = header.missed_count;
      counters->lost_events += header.missed_count;
    } else {
      loss.unknown = true;
      ++counters->lost_unknown;
    }
    sink->OnLoss(loss);
  }
}

absl::Status SubbufDecoder::Fail(absl::Status status,
                                 DecodeCounters* counters) {
  failed_ = true;
  if (counters != nullptr) ++counters->decode_errors;
  return status;
}

absl::Status SubbufDecoder::Decode(uint32_t data_end, RecordSink* sink,
                                   DecodeCounters* counters) {
  if (failed_ || ended_) return absl::OkStatus();
  if (data_end > data_.size()) {
    return Fail(absl::DataLossError(absl::StrFormat(
                    "cpu %u: sub-buffer data end %u is beyond its %u-byte "
                    "data area",
                    cpu_, data_end, data_.size())),
                counters);
  }
  if (data_end < offset_) {
    return Fail(absl::DataLossError(absl::StrFormat(
                    "cpu %u: sub-buffer data end %u is before the %u bytes "
                    "already decoded (the sub-buffer shrank)",
                    cpu_, data_end, offset_)),
                counters);
  }
  const uint8_t* base = data_.data();
  uint32_t off = offset_;
  uint64_t ts = timestamp_;
  uint64_t events = 0;
  uint64_t bytes = 0;
  uint64_t padding = 0;
  RecordView view;
  view.cpu = cpu_;
  absl::Status status;
  while (off < data_end) {
    Record r;
    const RecordError error = ParseRecord(base, off, data_end, &r);
    if (error != RecordError::kOk) {
      status = Fail(
          RecordErrorStatus(cpu_, base, data_offset_, off, data_end, error),
          counters);
      break;
    }
    switch (r.kind) {
      case Kind::kData:
        ts += r.time;
        view.timestamp = ts;
        view.payload = absl::Span<const uint8_t>(base + off + r.payload_offset,
                                                 r.length - r.payload_offset);
        ++events;
        bytes += view.payload.size();
        sink->OnRecord(view);
        break;
      case Kind::kPadding:
        ++padding;
        break;
      case Kind::kEnd:
        ++padding;
        ended_ = true;
        break;
      case Kind::kTimeExtend:
        ts += r.time;
        break;
      case Kind::kTimeStamp:
        ts = FixAbsoluteTime(r.time, ts);
        break;
    }
    off += r.length;
  }
  offset_ = off;
  timestamp_ = ts;
  counters->events += events;
  counters->bytes += bytes;
  counters->padding += padding;
  return status;
}

absl::Status SubbufDecoder::Skip(uint32_t resume_offset,
                                 DecodeCounters* counters) {
  if (failed_) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "cpu %u: cannot skip to %u: the sub-buffer failed to decode at %u",
        cpu_, resume_offset, offset_));
  }
  if (resume_offset > data_.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cpu %u: resume offset %u is beyond the sub-buffer's %u-byte data "
        "area",
        cpu_, resume_offset, data_.size()));
  }
  if (resume_offset < offset_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cpu %u: resume offset %u is before the %u bytes already decoded", cpu_,
        resume_offset, offset_));
  }
  if (ended_ && resume_offset != offset_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cpu %u: resume offset %u is past the end-of-page padding", cpu_,
        resume_offset));
  }
  const uint8_t* base = data_.data();
  const uint32_t limit = static_cast<uint32_t>(data_.size());
  uint32_t off = offset_;
  uint64_t ts = timestamp_;
  while (off < resume_offset) {
    Record r;
    const RecordError error = ParseRecord(base, off, limit, &r);
    if (error != RecordError::kOk) {
      offset_ = off;
      timestamp_ = ts;
      return Fail(
          RecordErrorStatus(cpu_, base, data_offset_, off, limit, error),
          counters);
    }
    if (r.kind == Kind::kEnd) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "cpu %u: resume offset %u is past the end-of-page padding at %u",
          cpu_, resume_offset, off));
    }
    if (r.length > resume_offset - off) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "cpu %u: resume offset %u is not a record boundary: it falls inside "
          "the %u-byte record at %u",
          cpu_, resume_offset, r.length, off));
    }
    if (r.kind == Kind::kData || r.kind == Kind::kTimeExtend) {
      ts += r.time;
    } else if (r.kind == Kind::kTimeStamp) {
      ts = FixAbsoluteTime(r.time, ts);
    }
    off += r.length;
  }
  offset_ = off;
  timestamp_ = ts;
  return absl::OkStatus();
}

absl::Status DecodeSubbuf(uint32_t cpu, absl::Span<const uint8_t> subbuf,
                          const HeaderPageFormat& format, RecordSink* sink,
                          DecodeCounters* counters) {
  SubbufHeader header;
  absl::Status status = ParseSubbufHeader(subbuf, format, &header);
  if (!status.ok()) {
    ++counters->decode_errors;
    return absl::Status(status.code(),
                        absl::StrFormat("cpu %u: %s", cpu, status.message()));
  }
  SubbufDecoder decoder;
  decoder.Start(cpu, subbuf, format, header, sink, counters);
  return decoder.Decode(header.data_size, sink, counters);
}

}  // namespace ringwatch
