// Loads the sub-buffers captured from the kernel under tests/data/subbufs
// (see its README.md), for tests and benchmarks that replay real pages.
#ifndef RINGWATCH_DAEMON_RING_TESTING_SUBBUF_FIXTURES_H_
#define RINGWATCH_DAEMON_RING_TESTING_SUBBUF_FIXTURES_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "daemon/event/event_format.h"
#include "daemon/event/header_page.h"

namespace ringwatch {

// The sub-buffers one CPU gave, in the order they were read.
struct CpuSubbufs {
  uint32_t cpu = 0;
  std::vector<std::vector<uint8_t>> pages;
};

// One scenario directory: tests/data/subbufs/<name>/.
struct SubbufCapture {
  std::string name;
  std::string dir;
  uint32_t page_size = 0;
  std::string trace_clock;                  // "local", "x86-tsc".
  std::map<std::string, std::string> info;  // info.txt.
  std::vector<CpuSubbufs> cpus;             // From cpuN.bin; may be empty.
  std::string trace_text;                   // trace.txt, "" when absent.

  // Every page of every CPU, CPU by CPU.
  std::vector<absl::Span<const uint8_t>> AllPages() const;
};

// tests/data/subbufs as the test or benchmark sees it: under the runfiles
// (TEST_SRCDIR, RUNFILES_DIR, or <binary>.runfiles), else relative to the
// working directory (a workspace-root run). RINGWATCH_SUBBUF_FIXTURES
// overrides. NotFound names every place tried.
absl::StatusOr<std::string> SubbufFixtureRoot();

absl::StatusOr<std::vector<uint8_t>> ReadBinaryFile(const std::string& path);
absl::StatusOr<std::string> ReadTextFile(const std::string& path);

// Loads scenario `name` ("basic", "tsc", "overrun", "abs", "mmap"): info.txt,
// every cpuN.bin (split into page_size pages) and trace.txt.
absl::StatusOr<SubbufCapture> LoadSubbufCapture(absl::string_view name);

// One extra file of a scenario (mmap/first.bin...).
absl::StatusOr<std::vector<uint8_t>> LoadSubbufFile(absl::string_view name,
                                                    absl::string_view file);

// Every complete sub-buffer captured (the read() captures of every scenario
// and the mapped ring's full pages), for benchmarks: about two dozen pages
// of markers, syscalls, scheduler, irq and timer events.
absl::StatusOr<std::vector<std::vector<uint8_t>>> LoadAllCapturedSubbufs();

// formats/header_page of the capture kernel, parsed.
absl::StatusOr<HeaderPageFormat> LoadCaptureHeaderPage();

// formats/<system>/<event>/format of the capture kernel, parsed.
absl::StatusOr<EventFormat> LoadCaptureEventFormat(absl::string_view system,
                                                   absl::string_view event);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_RING_TESTING_SUBBUF_FIXTURES_H_
