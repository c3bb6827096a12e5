#include "clients/ringcat/event_printer.h"

#include <cstring>
#include <string>
#include <vector>

#include "daemon/event/event_format.h"
#include "daemon/util/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

EventFormat LoadFormat(const std::string& system, const std::string& name) {
  auto text =
      ReadFileToString("tests/data/formats/" + system + "/" + name + ".format");
  EXPECT_TRUE(text.ok()) << text.status();
  auto format = ParseEventFormat(system, *text);
  EXPECT_TRUE(format.ok()) << format.status();
  return *format;
}

template <typename T>
void Put(std::vector<uint8_t>* payload, size_t offset, T value) {
  if (payload->size() < offset + sizeof(T)) payload->resize(offset + sizeof(T));
  std::memcpy(payload->data() + offset, &value, sizeof(T));
}

void PutString(std::vector<uint8_t>* payload, size_t offset,
               const std::string& text, size_t size) {
  if (payload->size() < offset + size) payload->resize(offset + size);
  std::memset(payload->data() + offset, 0, size);
  std::memcpy(payload->data() + offset, text.data(),
              std::min(text.size(), size));
}

class EventPrinterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(catalog_.Add(LoadFormat("sched", "sched_switch")).ok());
    ASSERT_TRUE(catalog_.Add(LoadFormat("ftrace", "print")).ok());
    ASSERT_TRUE(catalog_.Add(LoadFormat("raw_syscalls", "sys_enter")).ok());
  }

  std::vector<uint8_t> SchedSwitchPayload() {
    const EventFormat* event = catalog_.FindByName("sched/sched_switch");
    std::vector<uint8_t> payload(64, 0);
    Put<uint16_t>(&payload, 0, static_cast<uint16_t>(event->id));
    Put<int32_t>(&payload, 4, 1234);
    PutString(&payload, 8, "bash", 16);
    Put<int32_t>(&payload, 24, 1234);
    Put<int32_t>(&payload, 28, 120);
    Put<int64_t>(&payload, 32, 1);
    PutString(&payload, 40, "swapper/1", 16);
    Put<int32_t>(&payload, 56, 0);
    Put<int32_t>(&payload, 60, -1);
    return payload;
  }

  EventCatalog catalog_;
};

TEST_F(EventPrinterTest, JsonHasEveryFieldTyped) {
  std::vector<uint8_t> payload = SchedSwitchPayload();
  RecordView record{1, 123456789, absl::MakeConstSpan(payload)};
  EventPrinter printer(&catalog_, OutputFormat::kJsonLines);
  std::string out;
  printer.Append(record, &out);
  EXPECT_EQ(out,
            "{\"cpu\":1,\"ts\":123456789,\"event\":\"sched/sched_switch\","
            "\"pid\":1234,\"fields\":{\"prev_comm\":\"bash\",\"prev_pid\":"
            "1234,\"prev_prio\":120,\"prev_state\":1,\"next_comm\":"
            "\"swapper/1\",\"next_pid\":0,\"next_prio\":-1}}\n");
  EXPECT_EQ(printer.unknown_events(), 0u);
}

// ipi/ipi_send_cpu has a field named "cpu": it stays inside "fields", so
// the record's CPU is not shadowed by a duplicate key (issue 14).
TEST_F(EventPrinterTest, JsonFieldNamedLikeEnvelopeKeyDoesNotCollide) {
  ASSERT_TRUE(catalog_.Add(LoadFormat("ipi", "ipi_send_cpu")).ok());
  const EventFormat* event = catalog_.FindByName("ipi/ipi_send_cpu");
  std::vector<uint8_t> payload(32, 0);
  Put<uint16_t>(&payload, 0, static_cast<uint16_t>(event->id));
  Put<int32_t>(&payload, 4, 77);
  Put<uint32_t>(&payload, 8, 5);
  Put<uint64_t>(&payload, 16, 0xffffffff81000000ull);
  Put<uint64_t>(&payload, 24, 0xffffffff81000010ull);
  EventPrinter printer(&catalog_, OutputFormat::kJsonLines);
  std::string out;
  printer.Append(RecordView{1, 9, absl::MakeConstSpan(payload)}, &out);
  EXPECT_EQ(out,
            "{\"cpu\":1,\"ts\":9,\"event\":\"ipi/ipi_send_cpu\",\"pid\":77,"
            "\"fields\":{\"cpu\":5,\"callsite\":18446744071578845184,"
            "\"callback\":18446744071578845200}}\n");
}

TEST_F(EventPrinterTest, TextRendersSecondsAndFields) {
  std::vector<uint8_t> payload = SchedSwitchPayload();
  RecordView record{0, 5123456789, absl::MakeConstSpan(payload)};
  EventPrinter printer(&catalog_, OutputFormat::kText);
  std::string out;
  printer.Append(record, &out);
  EXPECT_EQ(out,
            "[000] 5.123456: sched/sched_switch: common_pid=1234 "
            "prev_comm=bash prev_pid=1234 prev_prio=120 prev_state=1 "
            "next_comm=swapper/1 next_pid=0 next_prio=-1\n");
}

TEST_F(EventPrinterTest, NonCharArraysAreArraysAndFlexStringsStrings) {
  const EventFormat* sys_enter = catalog_.FindByName("raw_syscalls/sys_enter");
  std::vector<uint8_t> payload(64, 0);
  Put<uint16_t>(&payload, 0, static_cast<uint16_t>(sys_enter->id));
  Put<int64_t>(&payload, 8, 39);
  for (int i = 0; i < 6; ++i) Put<uint64_t>(&payload, 16 + 8 * i, i * 10);
  EventPrinter printer(&catalog_, OutputFormat::kJsonLines);
  std::string out;
  printer.Append(RecordView{0, 1, absl::MakeConstSpan(payload)}, &out);
  EXPECT_THAT(out,
              ::testing::HasSubstr("\"id\":39,\"args\":[0,10,20,30,40,50]"));

  const EventFormat* print = catalog_.FindByName("ftrace/print");
  std::vector<uint8_t> marker(16, 0);
  Put<uint16_t>(&marker, 0, static_cast<uint16_t>(print->id));
  std::string text = "say \"hi\"\n";
  marker.insert(marker.end(), text.begin(), text.end());
  marker.push_back(0);
  out.clear();
  printer.Append(RecordView{0, 1, absl::MakeConstSpan(marker)}, &out);
  EXPECT_THAT(out, ::testing::HasSubstr("\"buf\":\"say \\\"hi\\\"\\n\"}}"));
}

TEST_F(EventPrinterTest, UnknownIdAndShortRecordAreCountedNotDropped) {
  std::vector<uint8_t> payload = {0xff, 0x7f, 0, 0};
  EventPrinter printer(&catalog_, OutputFormat::kJsonLines);
  std::string out;
  printer.Append(RecordView{0, 7, absl::MakeConstSpan(payload)}, &out);
  EXPECT_EQ(out,
            "{\"cpu\":0,\"ts\":7,\"event\":null,\"id\":32767,\"length\":4}\n");
  EXPECT_EQ(printer.unknown_events(), 1u);

  // A sched_switch cut short: fields past the end print as null.
  std::vector<uint8_t> truncated = SchedSwitchPayload();
  truncated.resize(30);
  out.clear();
  printer.Append(RecordView{0, 7, absl::MakeConstSpan(truncated)}, &out);
  EXPECT_THAT(out, ::testing::HasSubstr("\"prev_prio\":null"));
  EXPECT_GT(printer.bad_fields(), 0u);
}

TEST(JsonStringTest, EscapesControlAndInvalidUtf8) {
  std::string out;
  AppendJsonString(std::string("a\x01\x7f\xff\xc3\xa9\\", 7), &out);
  EXPECT_EQ(out, "\"a\\u0001\\u007f\\u00ff\xc3\xa9\\\\\"");
}

}  // namespace
}  // namespace ringwatch
