#include "daemon/util/syscall_names.h"

#include <sys/syscall.h>

#include "gtest/gtest.h"

namespace ringwatch {
namespace {

// The numbers come from this machine's <sys/syscall.h>, so the test holds on
// any architecture libseccomp supports.
TEST(SyscallNameTest, NamesNativeSyscalls) {
  EXPECT_EQ(SyscallName(SYS_getppid), "getppid");
  EXPECT_EQ(SyscallName(SYS_openat), "openat");
  EXPECT_EQ(SyscallName(SYS_read), "read");
}

TEST(SyscallNameTest, UnknownNumbersAreEmpty) {
  EXPECT_EQ(SyscallName(-1), "");
  EXPECT_EQ(SyscallName(kSyscallNameCacheSize - 1), "");
  EXPECT_EQ(SyscallName(int64_t{1} << 40), "");
}

}  // namespace
}  // namespace ringwatch
