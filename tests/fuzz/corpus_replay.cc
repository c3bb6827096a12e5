#include "tests/fuzz/corpus_replay.h"

#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "daemon/util/file_util.h"
#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ringwatch {
namespace fuzz_testing {

std::vector<std::string> CorpusFiles(absl::string_view target) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const std::string dir = absl::StrCat(srcdir != nullptr ? srcdir : ".",
                                       "/ringwatch/tests/data/fuzz/", target);
  std::vector<std::string> files;
  DIR* d = opendir(dir.c_str());
  EXPECT_NE(d, nullptr) << "no corpus directory " << dir;
  if (d == nullptr) return files;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    files.push_back(absl::StrCat(dir, "/", e->d_name));
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

size_t ReplayCorpus(absl::string_view target) {
  size_t ran = 0;
  for (const std::string& path : CorpusFiles(target)) {
    absl::StatusOr<std::string> bytes = ReadFileToString(path);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    if (!bytes.ok()) continue;
    // An exact-size copy, as libFuzzer passes it: ASan sees any overread.
    std::vector<uint8_t> input(bytes->begin(), bytes->end());
    SCOPED_TRACE(path);
    EXPECT_EQ(LLVMFuzzerTestOneInput(input.data(), input.size()), 0);
    ++ran;
  }
  return ran;
}

}  // namespace fuzz_testing
}  // namespace ringwatch
