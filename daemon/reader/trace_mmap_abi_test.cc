// The layout itself is checked by static_asserts in the header; these pin
// the derived constants the reader relies on.
#include "daemon/reader/trace_mmap_abi.h"

#include <cstddef>

#include "gtest/gtest.h"

namespace ringwatch {
namespace {

TEST(TraceMmapAbiTest, IoctlNumberMatchesUapi) {
  // _IO('R', 0x20): type 'R' (0x52) in bits 8-15, number 0x20, no size, no
  // direction.
  EXPECT_EQ(trace_mmap::kIoctlGetReader, 0x5220u);
}

TEST(TraceMmapAbiTest, MinimumStructCoversReadCounter) {
  EXPECT_EQ(trace_mmap::kMinMetaStructLen,
            offsetof(trace_mmap::TraceBufferMeta, read) + 8);
  EXPECT_LT(trace_mmap::kMinMetaStructLen, sizeof(trace_mmap::TraceBufferMeta));
}

TEST(TraceMmapAbiTest, CommitFlagsAreOutsideTheSizeMask) {
  EXPECT_EQ(trace_mmap::kCommitSizeMask & trace_mmap::kMissedEvents, 0u);
  EXPECT_EQ(trace_mmap::kCommitSizeMask & trace_mmap::kMissedStored, 0u);
  // A 16 MiB sub-buffer's size still fits under the flags.
  EXPECT_GE(trace_mmap::kCommitSizeMask, (1u << 24));
}

}  // namespace
}  // namespace ringwatch
