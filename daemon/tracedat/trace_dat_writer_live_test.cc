// Live kernel + trace-cmd: the same sub-buffers, once in the file
// `trace-cmd extract` writes and once in files TraceDatWriter writes (v7
// zstd, v7 uncompressed, v6) with metadata read from tracefs, must give the
// same `trace-cmd report` (default and -R -t renderings) and decode to the
// same records. Skips, saying why, without root, tracefs or trace-cmd.
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "daemon/tracedat/cpu_page_reader.h"
#include "daemon/tracedat/trace_cmd_runner.h"
#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/tracedat/trace_dat_metadata.h"
#include "daemon/tracedat/trace_dat_test_util.h"
#include "daemon/tracedat/trace_dat_writer.h"
#include "daemon/tracefs/testing/live_instance.h"
#include "daemon/util/file_util.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

void SpawnChildren(int n) {
  for (int i = 0; i < n; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/true", "true", static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid > 0) waitpid(pid, nullptr, 0);
  }
}

// `trace-cmd report` lines with the instance prefix ("NAME: ") removed:
// trace-cmd extract -B stores the pages under the instance's name, our
// writer as the top-level buffer.
std::vector<std::string> ReportLines(const std::string& text,
                                     const std::string& prefix) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    absl::ConsumePrefix(&line, prefix);
    lines.emplace_back(line);
  }
  return lines;
}

TEST(TraceDatWriterLiveTest, TraceCmdReportsOurFilesAsItReportsItsOwn) {
  const std::string trace_cmd = FindTraceCmd();
  if (trace_cmd.empty()) {
    RW_SKIP("no trace-cmd binary on PATH (tools/setup.sh installs it)");
  }
  RW_LIVE_INSTANCE_OR_SKIP(live, "tracedat_writer");
  const std::string name = live->name();
  ASSERT_TRUE(live->SetEventPid({getpid()}, /*follow_forks=*/true).ok());
  ASSERT_TRUE(live->SetBufferSizeKb(1024).ok());
  for (const char* event :
       {"sched/sched_switch", "sched/sched_waking", "sched/sched_process_exec",
        "raw_syscalls/sys_enter", "raw_syscalls/sys_exit"}) {
    ASSERT_TRUE(live->EnableEvent(event).ok()) << event;
  }
  ASSERT_TRUE(live->SetTracingOn(true).ok());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(live->WriteMarker(absl::StrCat("rwwriter marker ", i)).ok());
    SpawnChildren(2);
  }
  ASSERT_TRUE(live->SetTracingOn(false).ok());

  TraceDatMetadataSources sources;
  sources.tracefs_root = live.tracefs_root();
  sources.instance_dir = live->path();
  absl::StatusOr<TraceDatMetadata> metadata = LoadTraceDatMetadata(sources);
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  const uint32_t page_size = InstanceSubbufSize(live->path());

  const std::string dir = TestScratchDir();
  const std::string theirs = absl::StrCat(dir, "/theirs.dat");
  absl::Status run = ExtractInstance(trace_cmd, live.get(), theirs,
                                     absl::StrCat(dir, "/extract.log"));
  ASSERT_TRUE(run.ok()) << run;
  absl::StatusOr<std::unique_ptr<TraceDatFile>> source =
      TraceDatFile::Open(theirs);
  ASSERT_TRUE(source.ok()) << source.status();
  absl::StatusOr<std::string> source_bytes = ReadFileToString(theirs);
  ASSERT_TRUE(source_bytes.ok());
  const TraceDatBuffer& buffer =
      (*source)->buffers()[(*source)->default_buffer()];
  ASSERT_EQ(buffer.name, name);
  ASSERT_EQ(buffer.page_size, page_size);
  // trace-cmd read saved_cmdlines when it extracted; so must we, or a task
  // that exited in between is named differently.
  metadata->cmdlines.clear();
  for (const auto& [pid, comm] : (*source)->cmdlines()) {
    absl::StrAppend(&metadata->cmdlines, pid, " ", comm, "\n");
  }

  run = RunShell(absl::StrCat(trace_cmd, " report -i ", theirs),
                 absl::StrCat(theirs, ".report"));
  ASSERT_TRUE(run.ok()) << run;
  run = RunShell(absl::StrCat(trace_cmd, " report -R -t -i ", theirs),
                 absl::StrCat(theirs, ".raw"));
  ASSERT_TRUE(run.ok()) << run;
  CapturingSink their_records;
  ASSERT_TRUE((*source)->ReadAll(&their_records).ok());
  EXPECT_GT(their_records.records.size(), 40u);

  struct Variant {
    int version;
    TraceDatCompression compression;
    const char* file;
  };
  for (const Variant& v :
       {Variant{7, TraceDatCompression::kZstd, "ours7.dat"},
        Variant{7, TraceDatCompression::kNone, "ours7n.dat"},
        Variant{6, TraceDatCompression::kNone, "ours6.dat"}}) {
    SCOPED_TRACE(v.file);
    const std::string ours = absl::StrCat(dir, "/", v.file);
    TraceDatWriterOptions options;
    options.version = v.version;
    options.compression = v.compression;
    auto writer = TraceDatWriter::Create(ours, page_size,
                                         (*source)->cpu_count(), options);
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (const CpuDataExtent& extent : buffer.cpus) {
      CpuPageReader pages(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(
                                                  source_bytes->data()),
                                              source_bytes->size()),
                          extent, buffer.page_size, theirs);
      for (;;) {
        absl::Span<const uint8_t> page;
        bool has_page = false;
        ASSERT_TRUE(pages.Next(&page, &has_page).ok());
        if (!has_page) break;
        ASSERT_TRUE((*writer)->AddPage(extent.cpu, page).ok());
      }
    }
    ASSERT_TRUE((*writer)->Finish(*metadata).ok());

    for (const char* flags : {"", "-R -t "}) {
      SCOPED_TRACE(flags);
      const std::string report =
          absl::StrCat(ours, flags[0] ? ".raw" : ".report");
      run = RunShell(absl::StrCat(trace_cmd, " report ", flags, "-i ", ours),
                     report);
      ASSERT_TRUE(run.ok()) << run;
      auto our_text = ReadFileToString(report);
      auto their_text =
          ReadFileToString(absl::StrCat(theirs, flags[0] ? ".raw" : ".report"));
      ASSERT_TRUE(our_text.ok() && their_text.ok());
      const std::vector<std::string> a = ReportLines(*our_text, "");
      const std::vector<std::string> b =
          ReportLines(*their_text, absl::StrCat(name, ": "));
      EXPECT_EQ(a.size(), b.size());
      for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        if (a[i] != b[i]) {
          ADD_FAILURE() << "line " << i << " differs:\n ours:   " << a[i]
                        << "\n theirs: " << b[i];
          break;
        }
      }
    }
    absl::StatusOr<std::unique_ptr<TraceDatFile>> back =
        TraceDatFile::Open(ours);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ((*back)->version(), v.version);
    CapturingSink our_records;
    ASSERT_TRUE((*back)->ReadAll(&our_records).ok());
    EXPECT_TRUE(our_records.records == their_records.records);
  }
}

}  // namespace
}  // namespace ringwatch
