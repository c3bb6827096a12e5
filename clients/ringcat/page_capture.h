// Reads whole ring-buffer sub-buffers, as the kernel wrote them, from each
// CPU's trace_pipe_raw with read() (non-blocking), for `ringcat --output`:
// the kernel hands out complete pages (a partly filled one is copied out
// with its own header), the same pages `trace-cmd extract` stores.
#ifndef RINGWATCH_CLIENTS_RINGCAT_PAGE_CAPTURE_H_
#define RINGWATCH_CLIENTS_RINGCAT_PAGE_CAPTURE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "daemon/util/scoped_fd.h"

namespace ringwatch {

class PageCapture {
 public:
  using PageCallback =
      std::function<absl::Status(uint32_t cpu, absl::Span<const uint8_t>)>;

  // Opens <instance_dir>/per_cpu/cpu<N>/trace_pipe_raw for each of `cpus`.
  // `max_pages_per_read` bounds what one ReadAvailable takes from a CPU (a
  // ring's worth), so a writer that keeps up with us cannot hold it forever.
  static absl::StatusOr<PageCapture> Open(const std::string& instance_dir,
                                          absl::Span<const int> cpus,
                                          uint32_t page_size,
                                          uint64_t max_pages_per_read);

  // Hands the pages the kernel holds now, CPU by CPU, to `on_page`, until
  // each CPU's ring is empty or max_pages_per_read were taken from it.
  // Returns the number of pages. Stops at the first error of a read or of
  // `on_page`.
  absl::StatusOr<uint64_t> ReadAvailable(const PageCallback& on_page);

  uint32_t page_size() const { return page_size_; }

 private:
  struct Cpu {
    uint32_t cpu;
    std::string path;
    ScopedFd fd;
  };
  std::vector<Cpu> cpus_;
  uint32_t page_size_ = 0;
  uint64_t max_pages_per_read_ = 0;
  std::vector<uint8_t> page_;
};

}  // namespace ringwatch

#endif  // RINGWATCH_CLIENTS_RINGCAT_PAGE_CAPTURE_H_
