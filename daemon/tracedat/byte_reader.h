// A bounds-checked cursor over bytes of a trace.dat file (or of one of its
// decompressed sections). Every read checks the length first and copies into
// the caller's local with memcpy; every failure is a DataLoss status naming
// the file, the part being read, the offset and the reason.
#ifndef RINGWATCH_DAEMON_TRACEDAT_BYTE_READER_H_
#define RINGWATCH_DAEMON_TRACEDAT_BYTE_READER_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace ringwatch {

class ByteReader {
 public:
  // `where` names the bytes for errors ("v7.dat: section 'event formats'").
  // `base` is the file offset of data[0]; when `decompressed`, offsets in
  // errors are positions in the uncompressed bytes instead.
  ByteReader(absl::Span<const uint8_t> data, std::string where,
             uint64_t base = 0, bool decompressed = false)
      : data_(data),
        where_(std::move(where)),
        base_(base),
        decompressed_(decompressed) {}

  size_t pos() const { return pos_; }
  size_t size() const { return data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }
  bool at_end() const { return pos_ == data_.size(); }
  const std::string& where() const { return where_; }
  void set_where(std::string where) { where_ = std::move(where); }
  bool decompressed() const { return decompressed_; }
  // The current position as errors print it.
  uint64_t offset() const { return base_ + pos_; }

  // DataLoss "<where> at offset N: <reason>", N being the current offset.
  absl::Status Error(absl::string_view reason) const {
    return absl::DataLossError(absl::StrCat(
        where_, decompressed_ ? " at uncompressed offset " : " at offset ",
        offset(), ": ", reason));
  }

  absl::Status Seek(uint64_t pos) {
    if (pos > data_.size()) {
      return Error(absl::StrCat("offset ", base_ + pos, " is past the end (",
                                base_ + data_.size(), ")"));
    }
    pos_ = pos;
    return absl::OkStatus();
  }

  absl::Status Skip(uint64_t n) {
    if (absl::Status s = Need(n); !s.ok()) return s;
    pos_ += n;
    return absl::OkStatus();
  }

  // Little-endian integers (the only byte order accepted).
  template <typename T>
  absl::Status Read(T* out) {
    static_assert(std::is_integral<T>::value, "integers only");
    if (absl::Status s = Need(sizeof(T)); !s.ok()) return s;
    std::memcpy(out, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return absl::OkStatus();
  }

  absl::Status ReadBytes(uint64_t n, absl::Span<const uint8_t>* out) {
    if (absl::Status s = Need(n); !s.ok()) return s;
    *out = data_.subspan(pos_, n);
    pos_ += n;
    return absl::OkStatus();
  }

  absl::Status ReadText(uint64_t n, absl::string_view* out) {
    absl::Span<const uint8_t> bytes;
    if (absl::Status s = ReadBytes(n, &bytes); !s.ok()) return s;
    *out = absl::string_view(reinterpret_cast<const char*>(bytes.data()),
                             bytes.size());
    return absl::OkStatus();
  }

  // A NUL-terminated string of at most `max_len` characters; the cursor
  // moves past the NUL.
  absl::Status ReadCString(size_t max_len, absl::string_view* out) {
    const size_t limit = std::min(remaining(), max_len + 1);
    const uint8_t* start = data_.data() + pos_;
    const void* nul = limit == 0 ? nullptr : std::memchr(start, 0, limit);
    if (nul == nullptr) {
      if (remaining() <= max_len) {
        return Error("truncated string (no terminating NUL)");
      }
      return Error(absl::StrCat("string longer than ", max_len, " bytes"));
    }
    const size_t len = static_cast<const uint8_t*>(nul) - start;
    *out = absl::string_view(reinterpret_cast<const char*>(start), len);
    pos_ += len + 1;
    return absl::OkStatus();
  }

  // Consumes exactly the bytes of `literal`, or fails saying `what` was
  // expected.
  absl::Status Expect(absl::string_view literal, absl::string_view what) {
    if (absl::Status s = Need(literal.size()); !s.ok()) return s;
    if (std::memcmp(data_.data() + pos_, literal.data(), literal.size()) != 0) {
      return Error(absl::StrCat("expected ", what));
    }
    pos_ += literal.size();
    return absl::OkStatus();
  }

 private:
  absl::Status Need(uint64_t n) const {
    if (n <= remaining()) return absl::OkStatus();
    return Error(
        absl::StrCat("truncated (need ", n, " bytes, have ", remaining(), ")"));
  }

  absl::Span<const uint8_t> data_;
  std::string where_;
  uint64_t base_ = 0;
  bool decompressed_ = false;
  size_t pos_ = 0;  // <= data_.size().
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_TRACEDAT_BYTE_READER_H_
