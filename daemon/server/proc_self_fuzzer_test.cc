// Replays the committed libFuzzer corpus of proc_stat
// (tests/data/fuzz/proc_stat, grown and minimised by tools/fuzz.sh) through the
// fuzz target under g++, so the normal test suite re-runs every input the
// campaigns kept.
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_replay.h"

namespace ringwatch {
namespace {

TEST(ProcSelfFuzzerTest, ReplaysCorpus) {
  EXPECT_GE(fuzz_testing::ReplayCorpus("proc_stat"), 20u);
}

}  // namespace
}  // namespace ringwatch
