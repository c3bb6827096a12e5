#include "daemon/event/header_page.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::HasSubstr;

std::string CapturedHeaderPage() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::string path = absl::StrCat(srcdir ? srcdir : ".",
                                  "/ringwatch/tests/data/formats/header_page");
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing fixture " << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(HeaderPageTest, ParsesThisKernelsHeaderPage) {
  absl::StatusOr<HeaderPageFormat> h = ParseHeaderPage(CapturedHeaderPage());
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->timestamp_offset, 0u);
  EXPECT_EQ(h->timestamp_size, 8u);
  EXPECT_EQ(h->commit_offset, 8u);
  EXPECT_EQ(h->commit_size, 8u);
  EXPECT_EQ(h->data_offset, 16u);
}

TEST(HeaderPageTest, ThirtyTwoBitKernelLayout) {
  absl::StatusOr<HeaderPageFormat> h = ParseHeaderPage(
      "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
      "\tfield: local_t commit;\toffset:8;\tsize:4;\tsigned:1;\n"
      "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
      "\tfield: char data;\toffset:12;\tsize:4084;\tsigned:0;\n");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->commit_size, 4u);
  EXPECT_EQ(h->data_offset, 12u);
}

TEST(HeaderPageTest, DefaultMatchesThisKernel) {
  absl::StatusOr<HeaderPageFormat> h = ParseHeaderPage(CapturedHeaderPage());
  ASSERT_TRUE(h.ok());
  HeaderPageFormat d = HeaderPageFormat::Default64();
  EXPECT_EQ(d.commit_offset, h->commit_offset);
  EXPECT_EQ(d.commit_size, h->commit_size);
  EXPECT_EQ(d.data_offset, h->data_offset);
}

TEST(HeaderPageTest, MissingCommitIsAnError) {
  absl::StatusOr<HeaderPageFormat> h = ParseHeaderPage(
      "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
      "\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n");
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(Message(h.status()), HasSubstr("no 'commit' field"));
}

TEST(HeaderPageTest, BadCommitSizeNamesLine) {
  absl::StatusOr<HeaderPageFormat> h = ParseHeaderPage(
      "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
      "\tfield: local_t commit;\toffset:8;\tsize:3;\tsigned:1;\n"
      "\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n");
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(Message(h.status()), HasSubstr("line 2: commit has size 3"));
}

TEST(HeaderPageTest, OverlapAndGarbageAreErrors) {
  absl::StatusOr<HeaderPageFormat> overlap = ParseHeaderPage(
      "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
      "\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
      "\tfield: char data;\toffset:12;\tsize:4080;\tsigned:0;\n");
  ASSERT_FALSE(overlap.ok());
  EXPECT_THAT(Message(overlap.status()), HasSubstr("overlaps the data"));

  absl::StatusOr<HeaderPageFormat> garbage = ParseHeaderPage("hello\n");
  ASSERT_FALSE(garbage.ok());
  EXPECT_THAT(Message(garbage.status()),
              HasSubstr("header_page line 1: expected 'field:'"));
}

}  // namespace
}  // namespace ringwatch
