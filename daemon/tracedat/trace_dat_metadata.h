// Gathers, from a live tracefs, the metadata a trace.dat stores beside the
// ring-buffer pages (TraceDatMetadata): the format files of every event, the
// header_page/header_event descriptions, kallsyms, printk formats, saved
// command lines, the instance's clock and sub-buffer size, uname.
#ifndef RINGWATCH_DAEMON_TRACEDAT_TRACE_DAT_METADATA_H_
#define RINGWATCH_DAEMON_TRACEDAT_TRACE_DAT_METADATA_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/tracedat/trace_dat_writer.h"

namespace ringwatch {

struct TraceDatMetadataSources {
  std::string tracefs_root;  // "/sys/kernel/tracing".
  // The instance the pages come from (its trace_clock and sub-buffer size);
  // empty: the top level.
  std::string instance_dir;
  // /proc/kallsyms, or "" to store none (addresses then print as hex).
  std::string kallsyms_path = "/proc/kallsyms";
};

// Reads everything once. Format files that cannot be read are an error
// naming the file; a missing printk_formats or saved_cmdlines is stored
// empty (trace-cmd then prints "<...>" for comms).
absl::StatusOr<TraceDatMetadata> LoadTraceDatMetadata(
    const TraceDatMetadataSources& sources);

// The sub-buffer size of the instance at `instance_dir` (its
// buffer_subbuf_size_kb), or the system page size on kernels without it.
uint32_t InstanceSubbufSize(const std::string& instance_dir);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_TRACEDAT_TRACE_DAT_METADATA_H_
