#include "daemon/ring/testing/subbuf_fixtures.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ringwatch {
namespace {

constexpr char kRelativeRoot[] = "tests/data/subbufs";

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  return std::string(buf, n);
}

}  // namespace

std::vector<absl::Span<const uint8_t>> SubbufCapture::AllPages() const {
  std::vector<absl::Span<const uint8_t>> out;
  for (const CpuSubbufs& cpu : cpus) {
    for (const std::vector<uint8_t>& page : cpu.pages) out.emplace_back(page);
  }
  return out;
}

absl::StatusOr<std::string> SubbufFixtureRoot() {
  std::vector<std::string> tried;
  if (const char* env = std::getenv("RINGWATCH_SUBBUF_FIXTURES")) {
    if (IsDirectory(env)) return std::string(env);
    tried.push_back(env);
  }
  std::vector<std::string> bases;
  if (const char* d = std::getenv("TEST_SRCDIR")) bases.push_back(d);
  if (const char* d = std::getenv("RUNFILES_DIR")) bases.push_back(d);
  const std::string exe = SelfExe();
  if (!exe.empty()) bases.push_back(exe + ".runfiles");
  for (const std::string& base : bases) {
    std::string dir = absl::StrCat(base, "/ringwatch/", kRelativeRoot);
    if (IsDirectory(dir)) return dir;
    tried.push_back(dir);
  }
  if (IsDirectory(kRelativeRoot)) return std::string(kRelativeRoot);
  tried.push_back(kRelativeRoot);
  return absl::NotFoundError(absl::StrCat(
      "sub-buffer fixtures not found; tried: ", absl::StrJoin(tried, ", ")));
}

absl::StatusOr<std::vector<uint8_t>> ReadBinaryFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat(path, ": open: ", std::strerror(errno)));
  }
  std::vector<uint8_t> out;
  uint8_t buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return absl::InternalError(
          absl::StrCat(path, ": read: ", std::strerror(err)));
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  close(fd);
  return out;
}

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  absl::StatusOr<std::vector<uint8_t>> bytes = ReadBinaryFile(path);
  if (!bytes.ok()) return bytes.status();
  return std::string(bytes->begin(), bytes->end());
}

absl::StatusOr<SubbufCapture> LoadSubbufCapture(absl::string_view name) {
  absl::StatusOr<std::string> root = SubbufFixtureRoot();
  if (!root.ok()) return root.status();
  SubbufCapture capture;
  capture.name = std::string(name);
  capture.dir = absl::StrCat(*root, "/", name);
  const std::string info_path = capture.dir + "/info.txt";
  absl::StatusOr<std::string> info = ReadTextFile(info_path);
  if (!info.ok()) return info.status();
  for (absl::string_view line : absl::StrSplit(*info, '\n')) {
    if (line.empty()) continue;
    std::pair<std::string, std::string> kv = absl::StrSplit(line, '=');
    capture.info[kv.first] = kv.second;
  }
  if (!absl::SimpleAtoi(capture.info["page_size"], &capture.page_size) ||
      capture.page_size == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(info_path, ": bad or missing page_size"));
  }
  capture.trace_clock = capture.info["trace_clock"];
  for (uint32_t cpu = 0; cpu < 1024; ++cpu) {
    const std::string path = absl::StrCat(capture.dir, "/cpu", cpu, ".bin");
    if (!IsFile(path)) break;
    absl::StatusOr<std::vector<uint8_t>> bytes = ReadBinaryFile(path);
    if (!bytes.ok()) return bytes.status();
    if (bytes->size() % capture.page_size != 0) {
      return absl::DataLossError(absl::StrCat(
          path, ": ", bytes->size(), " bytes is not a whole number of ",
          capture.page_size, "-byte pages"));
    }
    CpuSubbufs subbufs;
    subbufs.cpu = cpu;
    for (size_t off = 0; off < bytes->size(); off += capture.page_size) {
      subbufs.pages.emplace_back(bytes->begin() + off,
                                 bytes->begin() + off + capture.page_size);
    }
    capture.cpus.push_back(std::move(subbufs));
  }
  const std::string trace_path = capture.dir + "/trace.txt";
  if (IsFile(trace_path)) {
    absl::StatusOr<std::string> text = ReadTextFile(trace_path);
    if (!text.ok()) return text.status();
    capture.trace_text = *std::move(text);
  }
  return capture;
}

absl::StatusOr<std::vector<uint8_t>> LoadSubbufFile(absl::string_view name,
                                                    absl::string_view file) {
  absl::StatusOr<std::string> root = SubbufFixtureRoot();
  if (!root.ok()) return root.status();
  return ReadBinaryFile(absl::StrCat(*root, "/", name, "/", file));
}

absl::StatusOr<std::vector<std::vector<uint8_t>>> LoadAllCapturedSubbufs() {
  std::vector<std::vector<uint8_t>> out;
  for (absl::string_view name : {"basic", "tsc", "overrun", "abs"}) {
    absl::StatusOr<SubbufCapture> capture = LoadSubbufCapture(name);
    if (!capture.ok()) return capture.status();
    for (CpuSubbufs& cpu : capture->cpus) {
      for (std::vector<uint8_t>& page : cpu.pages) {
        out.push_back(std::move(page));
      }
    }
  }
  for (absl::string_view file : {"full.bin", "next.bin"}) {
    absl::StatusOr<std::vector<uint8_t>> page = LoadSubbufFile("mmap", file);
    if (!page.ok()) return page.status();
    out.push_back(*std::move(page));
  }
  return out;
}

absl::StatusOr<HeaderPageFormat> LoadCaptureHeaderPage() {
  absl::StatusOr<std::string> root = SubbufFixtureRoot();
  if (!root.ok()) return root.status();
  absl::StatusOr<std::string> text =
      ReadTextFile(absl::StrCat(*root, "/formats/header_page"));
  if (!text.ok()) return text.status();
  return ParseHeaderPage(*text);
}

absl::StatusOr<EventFormat> LoadCaptureEventFormat(absl::string_view system,
                                                   absl::string_view event) {
  absl::StatusOr<std::string> root = SubbufFixtureRoot();
  if (!root.ok()) return root.status();
  absl::StatusOr<std::string> text = ReadTextFile(
      absl::StrCat(*root, "/formats/", system, "/", event, "/format"));
  if (!text.ok()) return text.status();
  return ParseEventFormat(system, *text);
}

}  // namespace ringwatch
