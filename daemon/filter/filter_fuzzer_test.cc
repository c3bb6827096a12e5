// Drives the fuzz target deterministically: seed inputs (valid and broken
// expressions with payloads laid out per their formats) and a few tens of
// thousands of mutations of them, so plain `bazel test` and --config=asan
// exercise compile and evaluate on hostile input without libFuzzer.
#include "daemon/filter/filter_fuzzer.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "daemon/filter/filter_testing.h"
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_replay.h"

namespace ringwatch {
namespace {

using filter_testing::PayloadBuilder;

struct Seed {
  size_t format;  // Index into the target's formats (see filter_fuzzer.cc).
  const char* expression;
};

const Seed kSeeds[] = {
    {0, "prev_pid == 0 && next_comm ~ \"kworker*\""},
    {0, "(prev_state & 2 || next_prio < 120) && !(cpu == 1)"},
    {0, "prev_comm == swapper/1 || next_pid >= 0x4d2"},
    {0, "prev_comm[0] == 0x73 && common_flags & 1"},
    {1, "filename ~ \"/usr/bin/*\" && pid != -1"},
    {1, "filename == \"\" || old_pid < 10"},
    {2, "buf ~ \"hello*\" && ip > 0xffffffff00000000"},
    {2, "buf == 'x\\n'"},
    {3, "id == 1 && args[0] == 3 && args[5] & 0x80"},
    {4, "comm ~ \"ba[!x]?\" && target_cpu == 1"},
    {5, "name == abc && delta < 0 && digest[15] == 7 && flag > 254"},
    {0, "(prev_pid == 1"},
    {0, "prev_comm > 3"},
    {3, "args == 1"},
    {0, "comm == bash"},
    {1, "filename ~ \"[ab\""},
    {0, ""},
};

std::vector<uint8_t> SeedPayload(size_t format) {
  switch (format) {
    case 0: {
      PayloadBuilder b(64);
      b.Int(0, 2, 372).Int(2, 1, 1).Text(8, "swapper/1").Int(28, 4, 120);
      b.Int(32, 8, 2).Text(40, "kworker/1:2").Int(56, 4, 1234).Int(60, 4, 120);
      return b.bytes();
    }
    case 1: {
      PayloadBuilder b(32);
      b.Int(0, 2, 365).Loc(8, 20, 12).Int(12, 4, 7).Text(20, "/usr/bin/ls");
      return b.bytes();
    }
    case 2: {
      PayloadBuilder b(32);
      b.Int(0, 2, 5).Int(8, 8, 0xffffffff81000000).Text(16, "hello\n");
      return b.bytes();
    }
    case 3: {
      PayloadBuilder b(64);
      b.Int(0, 2, 443).Int(8, 8, 1).Int(16, 8, 3).Int(56, 8, 0x80);
      return b.bytes();
    }
    case 4: {
      PayloadBuilder b(36);
      b.Int(0, 2, 374).Text(8, "bash").Int(32, 4, 1);
      return b.bytes();
    }
    default: {
      PayloadBuilder b(40);
      b.Int(0, 2, 900).Loc(8, 20, 4).Int(12, 2, 0xfffb).Int(14, 1, 255);
      b.Int(31, 1, 7).Text(32, "abc");
      return b.bytes();
    }
  }
}

const char* const kTokens[] = {"==",
                               "!=",
                               "<",
                               "<=",
                               ">",
                               ">=",
                               "&",
                               "~",
                               "&&",
                               "||",
                               "!",
                               "(",
                               ")",
                               "\"",
                               "'",
                               "\\",
                               "0x",
                               "-",
                               "*",
                               "?",
                               "[",
                               "]",
                               "[!",
                               " ",
                               "cpu",
                               "comm",
                               "prev_pid",
                               "next_comm",
                               "filename",
                               "buf",
                               "args[",
                               "99999999999999999999",
                               "-9223372036854775808",
                               "\x00",
                               "\xff"};

void Mutate(std::mt19937* rng, std::string* s) {
  auto pick = [&](size_t n) { return n == 0 ? 0 : (*rng)() % n; };
  int ops = 1 + pick(4);
  for (int i = 0; i < ops; ++i) {
    size_t at = pick(s->size() + 1);
    switch (pick(6)) {
      case 0:  // Flip bits of one byte (the selector byte included).
        if (!s->empty()) (*s)[pick(s->size())] ^= 1 << pick(8);
        break;
      case 1: {  // Insert a token.
        const char* t = kTokens[pick(sizeof(kTokens) / sizeof(kTokens[0]))];
        s->insert(at, t[0] == '\0' ? std::string(1, '\0') : std::string(t));
        break;
      }
      case 2:  // Delete a run.
        s->erase(at, pick(8));
        break;
      case 3:  // Duplicate a run.
        if (at < s->size()) s->insert(at, s->substr(at, pick(16)));
        break;
      case 4:  // Truncate (often cuts the payload short).
        s->resize(at);
        break;
      default:  // A random byte.
        s->insert(s->begin() + at, static_cast<char>((*rng)()));
        break;
    }
  }
}

void RunInput(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                         input.size());
}

TEST(FilterFuzzerTest, SeedsAndMutations) {
  ASSERT_EQ(FilterFuzzFormatCount(), 6);
  std::vector<std::string> seeds;
  for (const Seed& seed : kSeeds) {
    std::vector<uint8_t> payload = SeedPayload(seed.format);
    for (uint32_t cpu : {0u, 1u, 31u}) {
      seeds.push_back(
          MakeFilterFuzzInput(seed.format, cpu, seed.expression, payload));
    }
  }
  GetFilterFuzzCounts() = FilterFuzzCounts();
  for (const std::string& s : seeds) RunInput(s);
  // The valid seeds reach evaluation and match.
  EXPECT_GT(GetFilterFuzzCounts().match, 10u);
  EXPECT_GT(GetFilterFuzzCounts().compile_errors, 10u);

  std::mt19937 rng(7);
  uint64_t nonempty = seeds.size();
  for (int i = 0; i < 40000; ++i) {
    std::string input = seeds[rng() % seeds.size()];
    Mutate(&rng, &input);
    RunInput(input);
    nonempty += !input.empty();
  }
  const FilterFuzzCounts& c = GetFilterFuzzCounts();
  EXPECT_EQ(c.inputs, nonempty);  // The target ignores empty inputs.
  // Mutations must keep reaching every outcome, or this test would only
  // exercise the parser's error paths.
  EXPECT_GT(c.compile_errors, 5000u);
  EXPECT_GT(c.match, 1000u);
  EXPECT_GT(c.no_match, 1000u);
  EXPECT_GT(c.truncated, 500u);
}

TEST(FilterFuzzerTest, EdgeInputs) {
  GetFilterFuzzCounts() = FilterFuzzCounts();
  RunInput("");
  RunInput(std::string(1, '\0'));
  RunInput(std::string(1, '\x07'));  // Format index 7 wraps; no expression.
  RunInput(std::string("\x00prev_pid==0", 12));  // No NUL: empty payload.
  RunInput(std::string(1, '\0') + std::string(100000, '('));
  RunInput(std::string(1, '\0') + std::string(70000, '!') + "cpu==0");
  std::string wide(1, '\0');
  for (int i = 0; i < 2000; ++i) wide += "cpu==0||";
  RunInput(wide + "cpu==1");
  const FilterFuzzCounts& c = GetFilterFuzzCounts();
  EXPECT_EQ(c.inputs, 6u);  // The empty input is ignored.
  EXPECT_EQ(c.compile_errors, 3u);
  EXPECT_EQ(c.match, 2u);      // Empty expressions.
  EXPECT_EQ(c.truncated, 1u);  // prev_pid on an empty payload.
}

// Every input the libFuzzer campaigns kept (tools/fuzz.sh merge).
TEST(FilterFuzzerTest, ReplaysCorpus) {
  EXPECT_GE(fuzz_testing::ReplayCorpus("filter"), 20u);
}

}  // namespace
}  // namespace ringwatch
