// Runs the fuzz target over the captured format files and a few thousand
// deterministic mutations of them, so plain `bazel test` (and
// --config=asan) exercises the parsers on hostile input without libFuzzer.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/event/event_format.h"
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_replay.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ringwatch {
namespace {

const char* const kFixtures[] = {
    "header_page",
    "header_event",
    "sched/sched_switch.format",
    "sched/sched_waking.format",
    "sched/sched_wakeup.format",
    "sched/sched_process_exec.format",
    "raw_syscalls/sys_enter.format",
    "raw_syscalls/sys_exit.format",
    "ftrace/print.format",
    "ftrace/bprint.format",
    "ftrace/function.format",
    "irq/irq_handler_entry.format",
    "irq/irq_handler_exit.format",
    "block/block_rq_issue.format",
    "block/block_rq_complete.format",
    "syscalls/sys_enter_openat.format",
    "ipi/ipi_send_cpumask.format",
};

std::string Fixture(const std::string& relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::string path = absl::StrCat(srcdir ? srcdir : ".",
                                  "/ringwatch/tests/data/formats/", relative);
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing fixture " << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int RunFuzzer(const std::string& input) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                                input.size());
}

// Mutations aimed at the parser's edges: numbers, separators, brackets,
// dynamic-field keywords, truncation and splicing.
std::string Mutate(const std::string& in, std::mt19937* rng) {
  std::string s = in;
  if (s.empty()) s = "x";
  auto pick = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(*rng);
  };
  static const char* const kTokens[] = {
      "4294967295",
      "65535",
      "65536",
      "0",
      ";",
      ":",
      "[",
      "]",
      "[]",
      "\n",
      "\t",
      "__data_loc ",
      "__rel_loc ",
      "field:",
      "size:0;",
      "offset:",
      "signed:1;",
      "char ",
      "[TASK_COMM_LEN]",
      "-1",
      "print fmt:",
      "format:\n",
      "ID: ",
      "*",
  };
  int rounds = 1 + static_cast<int>(pick(4));
  for (int r = 0; r < rounds; ++r) {
    size_t pos = pick(s.size() + 1);
    switch (pick(7)) {
      case 0:  // Flip a byte.
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1 + pick(255));
        break;
      case 1:  // Insert a token.
        s.insert(pos, kTokens[pick(sizeof(kTokens) / sizeof(kTokens[0]))]);
        break;
      case 2:  // Delete a range.
        if (pos < s.size()) s.erase(pos, 1 + pick(16));
        break;
      case 3:  // Truncate.
        s.resize(pos);
        break;
      case 4: {  // Replace a digit run with an extreme number.
        size_t d = s.find_first_of("0123456789", pos);
        if (d != std::string::npos) {
          size_t e = s.find_first_not_of("0123456789", d);
          s.replace(d, e == std::string::npos ? std::string::npos : e - d,
                    pick(2) ? "4294967295" : "65532");
        }
        break;
      }
      case 5: {  // Duplicate a line.
        size_t start = s.rfind('\n', pos == 0 ? 0 : pos - 1);
        start = start == std::string::npos ? 0 : start + 1;
        size_t end = s.find('\n', start);
        if (end != std::string::npos) {
          s.insert(start, s.substr(start, end - start + 1));
        }
        break;
      }
      case 6:  // Splice in a piece of itself.
        if (!s.empty()) {
          size_t from = pick(s.size());
          s.insert(pos, s.substr(from, 1 + pick(32)));
        }
        break;
    }
    if (s.empty()) s = "\n";
  }
  return s;
}

TEST(EventFormatFuzzerTest, CapturedFixturesParseAndPassInvariants) {
  for (const char* name : kFixtures) {
    SCOPED_TRACE(name);
    std::string text = Fixture(name);
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(RunFuzzer(text), 0);
    if (absl::string_view(name).find(".format") != absl::string_view::npos) {
      EXPECT_TRUE(ParseEventFormat("x", text).ok());
    }
  }
}

TEST(EventFormatFuzzerTest, DeterministicMutations) {
  std::mt19937 rng(20240601);  // Fixed: failures reproduce.
  int parsed = 0, rejected = 0;
  std::vector<std::string> seeds;
  for (const char* name : kFixtures) seeds.push_back(Fixture(name));
  constexpr int kIterations = 4000;
  for (int i = 0; i < kIterations; ++i) {
    std::string input = Mutate(seeds[i % seeds.size()], &rng);
    ASSERT_EQ(RunFuzzer(input), 0) << "iteration " << i;
    (ParseEventFormat("x", input).ok() ? parsed : rejected)++;
  }
  // The mutations reach both outcomes: some still parse (so field reads on
  // odd layouts are exercised) and most are rejected with an error.
  EXPECT_GT(parsed, kIterations / 20);
  EXPECT_GT(rejected, kIterations / 4);
}

TEST(EventFormatFuzzerTest, EmptyAndBinaryInputs) {
  EXPECT_EQ(LLVMFuzzerTestOneInput(nullptr, 0), 0);
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string junk(std::uniform_int_distribution<int>(0, 300)(rng), '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    EXPECT_EQ(RunFuzzer(junk), 0);
  }
}

// Every input the libFuzzer campaigns kept (tools/fuzz.sh merge).
TEST(EventFormatFuzzerTest, ReplaysCorpus) {
  EXPECT_GE(fuzz_testing::ReplayCorpus("event_format"), 20u);
}

}  // namespace
}  // namespace ringwatch
