// Replays the committed libFuzzer corpus of config_loader
// (tests/data/fuzz/config_loader, grown and minimised by tools/fuzz.sh) through
// the fuzz target under g++, so the normal test suite re-runs every input the
// campaigns kept.
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_replay.h"

namespace ringwatch {
namespace {

TEST(ConfigLoaderFuzzerTest, ReplaysCorpus) {
  EXPECT_GE(fuzz_testing::ReplayCorpus("config_loader"), 20u);
}

}  // namespace
}  // namespace ringwatch
