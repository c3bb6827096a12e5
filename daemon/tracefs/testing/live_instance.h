// What every live-kernel test uses to get its own tracefs instance:
//
//   TEST(MyLiveTest, Works) {
//     RW_LIVE_INSTANCE_OR_SKIP(live, "my_live_test");
//     ASSERT_TRUE(live->EnableEvent("sched/sched_switch").ok());
//     ...
//   }
//
// The instance is named rwtest_<name>_<pid>_<n> and removed when `live` goes
// out of scope, so a failing test still cleans up; instances left behind by
// a test that was killed (its pid no longer alive) are removed first.
#ifndef RINGWATCH_DAEMON_TRACEFS_TESTING_LIVE_INSTANCE_H_
#define RINGWATCH_DAEMON_TRACEFS_TESTING_LIVE_INSTANCE_H_

#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "daemon/tracefs/instance.h"
#include "gtest/gtest.h"

namespace ringwatch {

class LiveInstance {
 public:
  // Either a created instance, a reason to skip (not root, no tracefs,
  // tracefs could not be mounted) or an error (the environment is fine but
  // creating the instance failed: the test should fail).
  static LiveInstance CreateOrSkipReason(absl::string_view test_name);

  LiveInstance(LiveInstance&&) = default;
  LiveInstance& operator=(LiveInstance&&) = default;
  // Removes the instance; prints (does not throw) when that fails.
  ~LiveInstance();

  bool ok() const { return instance_ != nullptr; }
  // Set when !ok() and the test should be skipped.
  const std::string& skip_reason() const { return skip_reason_; }
  // Set when !ok() and the test should fail.
  const std::string& error() const { return error_; }

  const std::string& tracefs_root() const { return tracefs_root_; }
  // Valid when ok().
  Instance* get() const { return instance_.get(); }
  Instance* operator->() const { return instance_.get(); }
  Instance& operator*() const { return *instance_; }

  // Removes rwtest_* instances under `tracefs_root` whose embedded pid is no
  // longer alive. Returns how many were removed.
  static int RemoveStaleInstances(const std::string& tracefs_root);

 private:
  LiveInstance() = default;

  std::string tracefs_root_;
  std::unique_ptr<Instance> instance_;
  std::string skip_reason_;
  std::string error_;
};

// Pid embedded in an rwtest_<name>_<pid>_<n> instance name, or -1.
int PidFromTestInstanceName(absl::string_view name);

}  // namespace ringwatch

// Leaves the test as skipped, printing the line tools/test.sh counts
// ("RINGWATCH-SKIP: <reason>", docs/testing.md), so a skip is counted and
// never taken for a pass. `reason`: anything that converts to std::string.
#define RW_SKIP(reason)                                             \
  do {                                                              \
    const std::string rw_skip_reason = (reason);                    \
    std::cout << "RINGWATCH-SKIP: " << rw_skip_reason << std::endl; \
    GTEST_SKIP() << rw_skip_reason;                                 \
  } while (0)

// Declares `var` (a LiveInstance) or leaves the test: RW_SKIP with the
// reason when root or tracefs is missing, FAIL() when creation failed.
#define RW_LIVE_INSTANCE_OR_SKIP(var, test_name)                \
  ::ringwatch::LiveInstance var =                               \
      ::ringwatch::LiveInstance::CreateOrSkipReason(test_name); \
  if (!var.skip_reason().empty()) RW_SKIP(var.skip_reason());   \
  if (!var.ok()) FAIL() << var.error()

#endif  // RINGWATCH_DAEMON_TRACEFS_TESTING_LIVE_INSTANCE_H_
