// Replays the committed libFuzzer corpus of api_request
// (tests/data/fuzz/api_request, grown and minimised by tools/fuzz.sh) through
// the fuzz target under g++, so the normal test suite re-runs every input the
// campaigns kept.
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_replay.h"

namespace ringwatch {
namespace {

TEST(ApiRequestFuzzerTest, ReplaysCorpus) {
  EXPECT_GE(fuzz_testing::ReplayCorpus("api_request"), 20u);
}

}  // namespace
}  // namespace ringwatch
