// Replays a committed libFuzzer corpus (tests/data/fuzz/<target>, written by
// tools/fuzz.sh merge) through the target's LLVMFuzzerTestOneInput, so the
// ordinary g++ test suite re-runs every input the campaigns kept, crash
// regressions included.
#ifndef RINGWATCH_TESTS_FUZZ_CORPUS_REPLAY_H_
#define RINGWATCH_TESTS_FUZZ_CORPUS_REPLAY_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace ringwatch {
namespace fuzz_testing {

// The files of tests/data/fuzz/<target> in the test's runfiles, sorted.
std::vector<std::string> CorpusFiles(absl::string_view target);

// Runs the fuzz target once on every file of the corpus (a target aborts on
// a broken invariant, which fails the test). Returns how many files ran;
// records a test failure when a file cannot be read or the target returns
// non-zero.
size_t ReplayCorpus(absl::string_view target);

}  // namespace fuzz_testing
}  // namespace ringwatch

#endif  // RINGWATCH_TESTS_FUZZ_CORPUS_REPLAY_H_
