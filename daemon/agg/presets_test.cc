// Loads the default config and every preset against the committed format
// fixtures of the reference kernel, and compiles them into an engine.
#include <dirent.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "daemon/agg/config_loader.h"
#include "daemon/agg/engine.h"
#include "daemon/agg/testing/fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace agg {
namespace {

using ::testing::Contains;
using ::testing::IsSupersetOf;

std::vector<std::string> ConfigFiles() {
  std::vector<std::string> files = {
      testing::RunfilePath("config/ringwatch.textproto")};
  const std::string dir = testing::RunfilePath("config/presets");
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      if (absl::EndsWith(e->d_name, ".textproto")) {
        files.push_back(dir + "/" + e->d_name);
      }
    }
    closedir(d);
  }
  return files;
}

class PresetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<EventCatalog> catalog = testing::LoadFormatFixtures();
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    catalog_ = std::make_unique<EventCatalog>(*std::move(catalog));
  }
  std::unique_ptr<EventCatalog> catalog_;
};

TEST_F(PresetsTest, EveryConfigLoadsAndCompiles) {
  const std::vector<std::string> files = ConfigFiles();
  ASSERT_EQ(files.size(), 6u);  // The default and five presets.
  std::vector<std::string> names;
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    absl::StatusOr<v1::Config> config = LoadConfigFile(file, *catalog_);
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_GT(config->aggregation_size(), 0);
    absl::StatusOr<EngineOptions> options =
        Engine::OptionsFromConfig(*config, 2, /*live=*/true);
    ASSERT_TRUE(options.ok()) << options.status();
    absl::StatusOr<std::unique_ptr<Engine>> engine =
        Engine::Create(*config, catalog_.get(), *options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    EXPECT_FALSE((*engine)->RequiredEvents().empty());
    for (const v1::Aggregation& a : config->aggregation()) {
      if (!absl::EndsWith(file, "/ringwatch.textproto"))
        names.push_back(a.name());
    }
  }
  EXPECT_THAT(
      names, IsSupersetOf({"cpu_time", "wakeup_latency", "syscall_counts",
                           "syscall_latency", "irq_time", "block_io_latency"}));
}

TEST_F(PresetsTest, DefaultConfigUsesTheMonoClock) {
  absl::StatusOr<v1::Config> config = LoadConfigFile(
      testing::RunfilePath("config/ringwatch.textproto"), *catalog_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->trace_clock(), "mono");
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(
      *config, catalog_.get(), *Engine::OptionsFromConfig(*config, 2, true));
  ASSERT_TRUE(engine.ok());
  EXPECT_THAT((*engine)->RequiredEvents(), Contains("sched/sched_switch"));
}

}  // namespace
}  // namespace agg
}  // namespace ringwatch
