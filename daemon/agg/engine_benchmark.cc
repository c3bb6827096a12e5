// Events per second per core through decode + dispatch + aggregation, for
// each preset (config/presets) on synthetic sub-buffers built with the real
// format layouts, and for the default config on the sub-buffers captured
// from the kernel (tests/data/subbufs). One reader: every page goes to
// CPU 0's sink, as one reader thread would deliver them. Cross-CPU latency
// presets include the pairing stage's work (a merger pass per iteration).
//
//   bazel run -c opt //daemon/agg:engine_benchmark -- --benchmark_min_time=0.5
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "daemon/agg/config_loader.h"
#include "daemon/agg/engine.h"
#include "daemon/agg/testing/fixtures.h"
#include "daemon/ring/record.h"
#include "daemon/ring/subbuf_decoder.h"
#include "daemon/ring/testing/subbuf_builder.h"
#include "daemon/ring/testing/subbuf_fixtures.h"

namespace ringwatch {
namespace agg {
namespace {

using testing::RecordBuilder;

const EventCatalog& Catalog() {
  static const EventCatalog* catalog = [] {
    absl::StatusOr<EventCatalog> c = testing::LoadFormatFixtures();
    if (!c.ok()) {
      std::fprintf(stderr, "%s\n", std::string(c.status().message()).c_str());
      std::abort();
    }
    return new EventCatalog(*std::move(c));
  }();
  return *catalog;
}

RecordBuilder Ev(const char* name) {
  return RecordBuilder(Catalog().FindByName(name));
}

std::string Payload(const RecordBuilder& b) {
  return std::string(b.bytes().begin(), b.bytes().end());
}

// Pages of `events` records, 1 us apart, from `make(i)`.
struct Pages {
  std::vector<std::vector<uint8_t>> pages;
  uint64_t events = 0;
};

Pages Build(int events, const std::function<std::string(int)>& make) {
  Pages out;
  uint64_t ts = 1000000000;
  std::unique_ptr<SubbufBuilder> page;
  for (int i = 0; i < events; ++i) {
    const std::string payload = make(i);
    if (page == nullptr || page->data_size() + payload.size() + 16 > 4080) {
      if (page != nullptr) out.pages.push_back(page->Build());
      page = std::make_unique<SubbufBuilder>(ts);
    }
    page->Data(1000, payload);
    ts += 1000;
    ++out.events;
  }
  out.pages.push_back(page->Build());
  return out;
}

std::string Comm(int i) { return absl::StrCat("task", i); }

Pages CpuTimePages() {
  return Build(8192, [](int i) {
    const int prev = 100 + i % 64, next = 100 + (i + 1) % 64;
    return Payload(Ev("sched/sched_switch")
                       .Set("common_pid", prev)
                       .Set("prev_pid", prev)
                       .SetString("prev_comm", Comm(prev))
                       .Set("next_pid", next)
                       .SetString("next_comm", Comm(next)));
  });
}

Pages WakeupPages() {
  return Build(8192, [](int i) {
    const int pid = 100 + (i / 2) % 64;
    if (i % 2 == 0) {
      return Payload(Ev("sched/sched_waking")
                         .Set("pid", pid)
                         .SetString("comm", Comm(pid)));
    }
    return Payload(Ev("sched/sched_switch")
                       .Set("prev_pid", 0)
                       .SetString("prev_comm", "swapper/0")
                       .Set("next_pid", pid)
                       .SetString("next_comm", Comm(pid)));
  });
}

Pages SyscallPages() {
  return Build(8192, [](int i) {
    const int pid = 1000 + (i / 2) % 16, id = (i / 2) % 40;
    if (i % 2 == 0) {
      return Payload(
          Ev("raw_syscalls/sys_enter").Set("common_pid", pid).Set("id", id));
    }
    return Payload(Ev("raw_syscalls/sys_exit")
                       .Set("common_pid", pid)
                       .Set("id", id)
                       .Set("ret", 0));
  });
}

Pages IrqPages() {
  return Build(8192, [](int i) {
    const int irq = (i / 2) % 8;
    if (i % 2 == 0) {
      return Payload(Ev("irq/irq_handler_entry")
                         .Set("irq", irq)
                         .SetString("name", absl::StrCat("virtio", irq)));
    }
    return Payload(Ev("irq/irq_handler_exit").Set("irq", irq).Set("ret", 1));
  });
}

Pages BlockPages() {
  return Build(8192, [](int i) {
    const int64_t sector = (i / 2) * 8;
    if (i % 2 == 0) {
      return Payload(Ev("block/block_rq_issue")
                         .Set("dev", 8 << 20)
                         .Set("sector", sector)
                         .Set("nr_sector", 8)
                         .Set("bytes", 4096)
                         .SetString("rwbs", sector % 16 ? "W" : "R"));
    }
    return Payload(Ev("block/block_rq_complete")
                       .Set("dev", 8 << 20)
                       .Set("sector", sector)
                       .Set("nr_sector", 8)
                       .SetString("rwbs", sector % 16 ? "W" : "R"));
  });
}

// sched_switch, sched_waking and sys_enter in the proportions of a busy
// desktop: mostly syscalls.
Pages MixedPages() {
  return Build(8192, [](int i) {
    const int pid = 100 + i % 32;
    switch (i % 8) {
      case 0:
        return Payload(Ev("sched/sched_switch")
                           .Set("common_pid", pid)
                           .Set("prev_pid", pid)
                           .SetString("prev_comm", Comm(pid))
                           .Set("next_pid", pid + 1)
                           .SetString("next_comm", Comm(pid + 1)));
      case 1:
        return Payload(Ev("sched/sched_waking")
                           .Set("pid", pid + 1)
                           .SetString("comm", Comm(pid + 1)));
      default:
        return Payload(Ev("raw_syscalls/sys_enter")
                           .Set("common_pid", pid)
                           .Set("id", i % 40));
    }
  });
}

std::unique_ptr<Engine> MakeEngine(const std::string& config_file) {
  absl::StatusOr<v1::Config> config =
      LoadConfigFile(testing::RunfilePath(config_file), Catalog());
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(config.status().message()).c_str());
    return nullptr;
  }
  EngineOptions options;
  options.live = false;
  options.num_cpus = 2;
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Create(*config, &Catalog(), options);
  if (!engine.ok()) return nullptr;
  return *std::move(engine);
}

void Run(benchmark::State& state, const std::string& config_file,
         const std::vector<std::vector<uint8_t>>& pages, uint64_t events) {
  std::unique_ptr<Engine> engine =
      config_file.empty() ? nullptr : MakeEngine(config_file);
  if (!config_file.empty() && engine == nullptr) {
    state.SkipWithError("config did not load");
    return;
  }
  struct NullSink : RecordSink {
    void OnRecord(const RecordView& r) override {
      benchmark::DoNotOptimize(r.timestamp);
    }
  } null_sink;
  RecordSink* sink = engine ? engine->sink(0) : &null_sink;
  const HeaderPageFormat header = HeaderPageFormat::Default64();
  DecodeCounters counters;
  for (auto _ : state) {
    for (const std::vector<uint8_t>& page : pages) {
      DecodeSubbuf(0, page, header, sink, &counters).IgnoreError();
    }
    // Drains the cross-CPU pairing rings (the merger's share of the work).
    if (engine) engine->Poll();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events));
  if (engine) {
    const v1::EngineStats stats = engine->Stats();
    uint64_t dropped = 0;
    for (const auto& a : stats.aggregation())
      dropped += a.counters().events_dropped();
    state.counters["dropped"] = static_cast<double>(dropped);
  }
}

#define PRESET_BENCHMARK(name, file, make_pages)     \
  void name(benchmark::State& state) {               \
    static const Pages* p = new Pages(make_pages()); \
    Run(state, file, p->pages, p->events);           \
  }                                                  \
  BENCHMARK(name)

PRESET_BENCHMARK(BM_DecodeOnly, "", MixedPages);
PRESET_BENCHMARK(BM_CpuTime, "config/presets/cpu_time.textproto", CpuTimePages);
PRESET_BENCHMARK(BM_WakeupLatency, "config/presets/wakeup_latency.textproto",
                 WakeupPages);
PRESET_BENCHMARK(BM_Syscalls, "config/presets/syscalls.textproto",
                 SyscallPages);
PRESET_BENCHMARK(BM_Irq, "config/presets/irq.textproto", IrqPages);
PRESET_BENCHMARK(BM_BlockIo, "config/presets/block_io.textproto", BlockPages);
PRESET_BENCHMARK(BM_DefaultConfig, "config/ringwatch.textproto", MixedPages);

// The default config on the pages captured from the kernel (the "basic"
// scenario: scheduler events, syscall bursts and markers on both CPUs, one
// trace clock). Each CPU's pages go to its own sink, one after the other.
void BM_DefaultConfigCapturedPages(benchmark::State& state) {
  absl::StatusOr<SubbufCapture> capture = LoadSubbufCapture("basic");
  if (!capture.ok()) {
    state.SkipWithError(std::string(capture.status().message()).c_str());
    return;
  }
  std::unique_ptr<Engine> engine = MakeEngine("config/ringwatch.textproto");
  if (engine == nullptr) {
    state.SkipWithError("config did not load");
    return;
  }
  const HeaderPageFormat header = HeaderPageFormat::Default64();
  DecodeCounters counters;
  uint64_t records = 0;
  for (auto _ : state) {
    const uint64_t before = counters.events;
    for (const CpuSubbufs& cpu : capture->cpus) {
      for (const std::vector<uint8_t>& page : cpu.pages) {
        DecodeSubbuf(cpu.cpu, page, header, engine->sink(cpu.cpu), &counters)
            .IgnoreError();
      }
    }
    engine->Poll();
    records = counters.events - before;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records));
}
BENCHMARK(BM_DefaultConfigCapturedPages);

}  // namespace
}  // namespace agg
}  // namespace ringwatch
