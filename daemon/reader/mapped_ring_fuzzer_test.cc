// Replays the committed libFuzzer corpus of mapped_ring
// (tests/data/fuzz/mapped_ring, grown and minimised by tools/fuzz.sh) through
// the fuzz target under g++, so the normal test suite re-runs every input the
// campaigns kept.
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_replay.h"

namespace ringwatch {
namespace {

TEST(MappedRingFuzzerTest, ReplaysCorpus) {
  EXPECT_GE(fuzz_testing::ReplayCorpus("mapped_ring"), 20u);
}

}  // namespace
}  // namespace ringwatch
