#include "daemon/util/syscall_keys.h"

#include <sys/syscall.h>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::ElementsAre;

v1::Aggregation Spec(const std::string& text) {
  v1::Aggregation spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec));
  return spec;
}

TEST(SyscallKeyColumnsTest, FindsSyscallNumberKeys) {
  EXPECT_THAT(SyscallKeyColumns(Spec(R"pb(event: "raw_syscalls/sys_enter"
                                          key: "id"
                                          key: "pid")pb")),
              ElementsAre(true, false));
  EXPECT_THAT(SyscallKeyColumns(Spec(R"pb(event: "syscalls/sys_enter_openat"
                                          key: "__syscall_nr")pb")),
              ElementsAre(true));
  EXPECT_THAT(
      SyscallKeyColumns(Spec(R"pb(event: "sched/sched_switch" key: "id")pb")),
      ElementsAre(false));
  EXPECT_THAT(SyscallKeyColumns(Spec(R"pb(
                latency {
                  start { event: "raw_syscalls/sys_enter" key: "common_pid" }
                  end { event: "raw_syscalls/sys_exit" key: "common_pid" }
                }
                key: "start.id"
                key: "id"
                key: "comm"
              )pb")),
              ElementsAre(true, true, false));
}

TEST(AnnotateSyscallKeysTest, NamesIntegerKeysOfSyscallColumns) {
  v1::AggregationResult result;
  v1::Row* row = result.add_row();
  row->add_key()->set_int_value(SYS_getppid);
  row->add_key()->set_int_value(SYS_getppid);
  result.add_row()->set_kind(v1::Row::OTHER);
  AnnotateSyscallKeys({true, false}, &result);
  EXPECT_EQ(result.row(0).key(0).display(), "getppid");
  EXPECT_EQ(result.row(0).key(0).int_value(), SYS_getppid);
  EXPECT_EQ(result.row(0).key(1).display(), "");
  EXPECT_EQ(result.row(1).key_size(), 0);
}

}  // namespace
}  // namespace ringwatch
