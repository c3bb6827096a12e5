// Drives the fuzz target deterministically over the committed fixtures and
// many mutations of them, so every test run fuzzes a little (and under
// --config=asan checks every access).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/tracedat/trace_dat_test_util.h"
#include "daemon/util/file_util.h"
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_replay.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ringwatch {
namespace {

std::vector<uint8_t> Fixture(const std::string& name) {
  absl::StatusOr<std::string> text = ReadFileToString(TraceDatFixture(name));
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? std::vector<uint8_t>(text->begin(), text->end())
                   : std::vector<uint8_t>();
}

// One random edit of the kinds that break parsers: flipped bytes, integers
// overwritten with boundary values, cuts, inserted or removed bytes, and
// pieces spliced in from the other fixture.
std::vector<uint8_t> Mutate(const std::vector<uint8_t>& in,
                            const std::vector<uint8_t>& other,
                            std::mt19937* rng) {
  std::vector<uint8_t> b = in;
  auto pos = [&](size_t n) { return n == 0 ? 0 : (*rng)() % n; };
  const int edits = 1 + (*rng)() % 3;
  for (int e = 0; e < edits && !b.empty(); ++e) {
    switch ((*rng)() % 6) {
      case 0:
        b[pos(b.size())] ^= 1 << ((*rng)() % 8);
        break;
      case 1: {
        static const uint64_t kValues[] = {0,
                                           1,
                                           0x7f,
                                           0xff,
                                           0x1000,
                                           0xffff,
                                           0x7fffffff,
                                           0xffffffff,
                                           1ull << 32,
                                           ~0ull,
                                           0x8000000000000000ull};
        uint64_t v = kValues[(*rng)() % (sizeof(kValues) / sizeof(kValues[0]))];
        if ((*rng)() % 4 == 0) v = b.size() + ((*rng)() % 64) - 32;
        const size_t width = (*rng)() % 2 ? 4 : 8;
        if (b.size() >= width) {
          std::memcpy(b.data() + pos(b.size() - width + 1), &v, width);
        }
        break;
      }
      case 2:
        b.resize(pos(b.size()));
        break;
      case 3: {
        const size_t at = pos(b.size());
        b.insert(b.begin() + at, 1 + (*rng)() % 16,
                 static_cast<uint8_t>((*rng)()));
        break;
      }
      case 4: {
        const size_t at = pos(b.size());
        b.erase(b.begin() + at,
                b.begin() + std::min(b.size(), at + 1 + (*rng)() % 16));
        break;
      }
      case 5:
        if (!other.empty()) {
          const size_t from = pos(other.size());
          const size_t n =
              std::min<size_t>(1 + (*rng)() % 256, other.size() - from);
          const size_t at = pos(b.size());
          for (size_t i = 0; i < n && at + i < b.size(); ++i) {
            b[at + i] = other[from + i];
          }
        }
        break;
    }
  }
  return b;
}

TEST(TraceDatFuzzerTest, FixturesAndMutations) {
  const std::vector<uint8_t> v7 = Fixture("v7.dat");
  const std::vector<uint8_t> v6 = Fixture("v6.dat");
  ASSERT_FALSE(v7.empty());
  ASSERT_FALSE(v6.empty());
  EXPECT_EQ(LLVMFuzzerTestOneInput(v7.data(), v7.size()), 0);
  EXPECT_EQ(LLVMFuzzerTestOneInput(v6.data(), v6.size()), 0);
  std::mt19937 rng(20261124);
  size_t opened = 0;
  size_t rejected = 0;
#if defined(__SANITIZE_ADDRESS__)
  constexpr int kMutations = 400;  // Sanitized builds run ~16x slower.
#else
  constexpr int kMutations = 1500;
#endif
  for (int i = 0; i < kMutations; ++i) {
    const bool seven = i % 2 == 0;
    const std::vector<uint8_t> b =
        Mutate(seven ? v7 : v6, seven ? v6 : v7, &rng);
    EXPECT_EQ(LLVMFuzzerTestOneInput(b.data(), b.size()), 0);
    if (TraceDatFile::OpenBuffer("m.dat", b).ok()) {
      ++opened;
    } else {
      ++rejected;
    }
  }
  // The mutations reach the decoders, not only the header checks.
  EXPECT_GT(opened, kMutations / 10);
  EXPECT_GT(rejected, kMutations / 10);
}

// Every input the libFuzzer campaigns kept (tools/fuzz.sh merge).
TEST(TraceDatFuzzerTest, ReplaysCorpus) {
  EXPECT_GE(fuzz_testing::ReplayCorpus("tracedat"), 20u);
}

}  // namespace
}  // namespace ringwatch
