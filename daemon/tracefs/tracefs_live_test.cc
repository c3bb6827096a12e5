// FindOrMountTracefs and OnlineCpus on this machine.
#include <unistd.h>

#include <string>
#include <vector>

#include "daemon/tracefs/tracefs.h"
#include "daemon/util/file_util.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

TEST(TracefsLiveTest, FindsTheMountedTracefs) {
  absl::StatusOr<std::string> root = FindOrMountTracefs();
  if (!root.ok() &&
      (root.status().code() == absl::StatusCode::kUnimplemented ||
       root.status().code() == absl::StatusCode::kPermissionDenied)) {
    GTEST_SKIP() << "no usable tracefs here: " << root.status();
  }
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_TRUE(PathExists(*root + "/trace"));
  EXPECT_TRUE(PathExists(*root + "/instances"));
  EXPECT_TRUE(PathExists(*root + "/events/header_page"));
  // Calling again finds the same root (no second mount).
  absl::StatusOr<std::string> again = FindOrMountTracefs();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *root);
}

TEST(TracefsLiveTest, OnlineCpusMatchSysconf) {
  absl::StatusOr<std::vector<int>> cpus = OnlineCpus();
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  EXPECT_EQ(static_cast<long>(cpus->size()), ::sysconf(_SC_NPROCESSORS_ONLN));
  EXPECT_EQ(cpus->front(), 0);
}

}  // namespace
}  // namespace ringwatch
