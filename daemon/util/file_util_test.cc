#include "daemon/util/file_util.h"

#include <cstdlib>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const char* name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}

TEST(FileUtilTest, ReadMissingFileNamesPath) {
  auto contents = ReadFileToString("/nonexistent/ringwatch/file");
  ASSERT_FALSE(contents.ok());
  EXPECT_EQ(contents.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(contents.status().message(),
              HasSubstr("/nonexistent/ringwatch/file"));
}

TEST(FileUtilTest, WriteThenReadRoundTrips) {
  std::string path = TempPath("file_util_test.txt");
  { std::ofstream create(path); }
  ASSERT_TRUE(WriteStringToFile(path, "hello").ok());
  ASSERT_TRUE(WriteStringToFile(path, " world", /*append=*/true).ok());
  auto contents = ReadFileToString(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(*contents, "hello world");
  EXPECT_TRUE(PathExists(path));
}

TEST(FileUtilTest, WriteToMissingFileFails) {
  absl::Status status = WriteStringToFile("/nonexistent/x", "1");
  EXPECT_THAT(status.message(), HasSubstr("/nonexistent/x"));
}

}  // namespace
}  // namespace ringwatch
