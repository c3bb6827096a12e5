#include "clients/ringcat/page_capture.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/util/file_util.h"

namespace ringwatch {

absl::StatusOr<PageCapture> PageCapture::Open(const std::string& instance_dir,
                                              absl::Span<const int> cpus,
                                              uint32_t page_size,
                                              uint64_t max_pages_per_read) {
  PageCapture capture;
  capture.page_size_ = page_size;
  capture.max_pages_per_read_ = max_pages_per_read;
  capture.page_.resize(page_size);
  for (int cpu : cpus) {
    Cpu c;
    c.cpu = static_cast<uint32_t>(cpu);
    c.path = absl::StrCat(instance_dir, "/per_cpu/cpu", cpu, "/trace_pipe_raw");
    c.fd.reset(::open(c.path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!c.fd.valid()) return PathError(errno, "open", c.path);
    capture.cpus_.push_back(std::move(c));
  }
  return capture;
}

absl::StatusOr<uint64_t> PageCapture::ReadAvailable(
    const PageCallback& on_page) {
  uint64_t pages = 0;
  for (Cpu& c : cpus_) {
    for (uint64_t taken = 0; taken < max_pages_per_read_; ++taken) {
      const ssize_t n = ::read(c.fd.get(), page_.data(), page_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n < 0) return PathError(errno, "read", c.path);
      if (n == 0) break;
      if (static_cast<size_t>(n) != page_.size()) {
        return absl::DataLossError(
            absl::StrCat(c.path, ": read ", n,
                         " bytes, expected a whole page of ", page_.size()));
      }
      absl::Status status = on_page(c.cpu, page_);
      if (!status.ok()) return status;
      ++pages;
    }
  }
  return pages;
}

}  // namespace ringwatch
