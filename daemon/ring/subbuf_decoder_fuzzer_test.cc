// Drives the fuzz target deterministically: every captured sub-buffer and
// hand-built ones with every record form, under a grid of split and resume
// offsets, then many seeded mutations of them. The target aborts on any
// broken invariant; under --config=asan any out-of-bounds read fails too.
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "daemon/event/header_page.h"
#include "daemon/ring/record.h"
#include "daemon/ring/subbuf_decoder.h"
#include "daemon/ring/testing/subbuf_builder.h"
#include "daemon/ring/testing/subbuf_fixtures.h"
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_replay.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ringwatch {
namespace {

class NullSink : public RecordSink {
 public:
  void OnRecord(const RecordView&) override {}
};

std::vector<uint8_t> Input(uint32_t split, uint32_t resume, uint8_t flags,
                           const std::vector<uint8_t>& subbuf) {
  std::vector<uint8_t> in(9 + subbuf.size());
  std::memcpy(in.data(), &split, 4);
  std::memcpy(in.data() + 4, &resume, 4);
  in[8] = flags;
  if (!subbuf.empty()) std::memcpy(in.data() + 9, subbuf.data(), subbuf.size());
  return in;
}

void RunTarget(const std::vector<uint8_t>& input) {
  ASSERT_EQ(LLVMFuzzerTestOneInput(input.data(), input.size()), 0);
}

std::vector<std::vector<uint8_t>> Corpus() {
  std::vector<std::vector<uint8_t>> corpus;
  for (absl::string_view name : {"basic", "tsc", "overrun", "abs"}) {
    absl::StatusOr<SubbufCapture> c = LoadSubbufCapture(name);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) continue;
    for (absl::Span<const uint8_t> page : c->AllPages()) {
      corpus.emplace_back(page.begin(), page.end());
    }
  }
  for (absl::string_view file :
       {"first.bin", "grown.bin", "full.bin", "next.bin"}) {
    absl::StatusOr<std::vector<uint8_t>> page = LoadSubbufFile("mmap", file);
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) corpus.push_back(*std::move(page));
  }
  const uint64_t top = uint64_t{0x1f} << 59;
  corpus.push_back(
      SubbufBuilder(top | 77)
          .Data(3, SubbufBuilder::Payload(5, "short"))
          .Data(9, SubbufBuilder::Payload(5, std::string(300, 'L')))
          .LongData(1, SubbufBuilder::Payload(6, "forced long"))
          .Discarded(4, 32)
          .TimeExtend(uint64_t{1} << 40)
          .TimeStamp(12345)
          .Data(0, SubbufBuilder::Payload(7, "after abs"))
          .MissedStored(99)
          .Build());
  corpus.push_back(SubbufBuilder(5, 256)
                       .Data(1, SubbufBuilder::Payload(1, "x"))
                       .EndPadding()
                       .MissedUnknown()
                       .Build());
  // Records that end exactly at the end of the sub-buffer: a payload one
  // byte too long would leave it.
  corpus.push_back(
      SubbufBuilder(9, 16 + 240)
          .LongData(1, SubbufBuilder::Payload(2, std::string(224, 'e')))
          .Build());
  corpus.push_back(
      SubbufBuilder(9, 16 + 116)
          .Data(1, SubbufBuilder::Payload(2, std::string(104, 's')))
          .Build());
  return corpus;
}

TEST(SubbufDecoderFuzzerTest, CorpusUnderASplitAndResumeGrid) {
  std::vector<std::vector<uint8_t>> corpus = Corpus();
  ASSERT_GE(corpus.size(), 20u);
  const uint32_t offsets[] = {0,    1,    4,    8,    92,   100,
                              1000, 2048, 4079, 4080, 4081, 0xffffffff};
  for (const std::vector<uint8_t>& page : corpus) {
    for (uint32_t split : offsets) {
      for (uint32_t resume : offsets) {
        RunTarget(Input(split, resume, 0, page));
      }
    }
    RunTarget(Input(7, 7, 1, page));  // The same bytes read as a 32-bit layout.
  }
}

TEST(SubbufDecoderFuzzerTest, SeededMutations) {
  std::vector<std::vector<uint8_t>> corpus = Corpus();
  ASSERT_FALSE(corpus.empty());
  std::mt19937 rng(20240611);
  const uint32_t interesting[] = {
      0,    1,     3,     4,          0x1c,       0x1d,       0x1e,      0x1f,
      0x3d, 0xfe0, 0xff0, 0x7ffffffc, 0x80000000, 0xc0000000, 0xffffffff};
  int decoded = 0;
  int rejected = 0;
  for (int iter = 0; iter < 30000; ++iter) {
    std::vector<uint8_t> page = corpus[rng() % corpus.size()];
    const int edits = 1 + rng() % 4;
    for (int e = 0; e < edits && !page.empty(); ++e) {
      switch (rng() % 5) {
        case 0:  // Flip a bit.
          page[rng() % page.size()] ^= 1u << (rng() % 8);
          break;
        case 1:  // An interesting word at an aligned offset.
          if (page.size() >= 4) {
            uint32_t v = interesting[rng() % (sizeof(interesting) / 4)];
            std::memcpy(&page[(rng() % (page.size() / 4)) * 4], &v, 4);
          }
          break;
        case 2:  // A random word anywhere.
          if (page.size() >= 4) {
            uint32_t v = rng();
            std::memcpy(&page[rng() % (page.size() - 3)], &v, 4);
          }
          break;
        case 3:  // Truncate.
          page.resize(rng() % (page.size() + 1));
          break;
        case 4:  // A random commit word: any data size and flags.
          if (page.size() >= 16) {
            uint32_t v = rng() % 4200 | (rng() % 4) << 30;
            std::memcpy(&page[8], &v, 4);
          }
          break;
      }
    }
    // Both outcomes must be common, or the mutations miss one side.
    DecodeCounters counters;
    NullSink sink;
    if (DecodeSubbuf(0, page, HeaderPageFormat::Default64(), &sink, &counters)
            .ok()) {
      ++decoded;
    } else {
      ++rejected;
    }
    RunTarget(Input(rng(), rng(), rng() % 4 == 0 ? 1 : 0, page));
  }
  EXPECT_GT(decoded, 3000);
  EXPECT_GT(rejected, 3000);
}

TEST(SubbufDecoderFuzzerTest, ShortInputsAreIgnored) {
  for (size_t n = 0; n < 32; ++n) {
    std::vector<uint8_t> in(n, 0xa5);
    RunTarget(in);
  }
}

// Every input the libFuzzer campaigns kept (tools/fuzz.sh merge).
TEST(SubbufDecoderFuzzerTest, ReplaysCorpus) {
  EXPECT_GE(fuzz_testing::ReplayCorpus("subbuf_decoder"), 20u);
}

}  // namespace
}  // namespace ringwatch
