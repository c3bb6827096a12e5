// Replays the committed libFuzzer corpus of systemd_env
// (tests/data/fuzz/systemd_env, grown and minimised by tools/fuzz.sh) through
// the fuzz target under g++, so the normal test suite re-runs every input the
// campaigns kept.
#include <stdlib.h>

#include "absl/time/time.h"
#include "daemon/systemd/notifier.h"
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_replay.h"

namespace ringwatch {
namespace {

TEST(SystemdEnvFuzzerTest, ReplaysCorpus) {
  EXPECT_GE(fuzz_testing::ReplayCorpus("systemd_env"), 10u);
}

// Found by the target's invariant: a WATCHDOG_USEC above 2^63, which
// libsystemd accepts, was cast to a negative interval, so the daemon never
// petted a watchdog systemd enforced.
TEST(SystemdEnvFuzzerTest, HugeWatchdogUsecStillPets) {
  unsetenv("WATCHDOG_PID");
  for (const char* usec :
       {"9223372036854775808", "18446744073709551614", "31536000000001"}) {
    setenv("WATCHDOG_USEC", usec, 1);
    const SystemdNotifier notifier;
    EXPECT_EQ(notifier.WatchdogInterval(), absl::Hours(24 * 365)) << usec;
  }
  setenv("WATCHDOG_USEC", "30000000", 1);
  EXPECT_EQ(SystemdNotifier().WatchdogInterval(), absl::Seconds(30));
  unsetenv("WATCHDOG_USEC");
}

}  // namespace
}  // namespace ringwatch
