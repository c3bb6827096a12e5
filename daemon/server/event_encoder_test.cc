#include "daemon/server/event_encoder.h"

#include "daemon/server/testing/fake_backend.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

TEST(EventEncoderTest, EncodesScalarsStringsAndDynamicStrings) {
  testing::FakeBackend backend;
  std::vector<uint8_t> payload = backend.MakePayload(
      "sched/sched_switch", 42, {{"prev_pid", 42}, {"next_pid", 7}},
      {{"prev_comm", "bash"}, {"next_comm", "swapper/1"}});
  RecordView record{1, 123456, payload};
  v1::TraceEvent event;
  EXPECT_EQ(EncodeTraceEvent(record, *backend.FindEvent("sched/sched_switch"),
                             &event),
            0);
  EXPECT_EQ(event.name(), "events/sched/sched_switch");
  EXPECT_EQ(event.cpu(), 1u);
  EXPECT_EQ(event.timestamp_ns(), 123456u);
  EXPECT_EQ(event.pid(), 42);
  ASSERT_EQ(event.fields_size(), 7);
  EXPECT_EQ(event.fields(0).name(), "prev_comm");
  EXPECT_EQ(event.fields(0).string_value(), "bash");
  EXPECT_EQ(event.fields(1).int_value(), 42);
  EXPECT_EQ(event.fields(4).string_value(), "swapper/1");
  EXPECT_EQ(event.fields(5).int_value(), 7);

  payload = backend.MakePayload("irq/irq_handler_entry", 0, {{"irq", 24}},
                                {{"name", "virtio0-input.0"}});
  record.payload = payload;
  ASSERT_EQ(EncodeTraceEvent(
                record, *backend.FindEvent("irq/irq_handler_entry"), &event),
            0);
  ASSERT_EQ(event.fields_size(), 2);
  EXPECT_EQ(event.fields(0).int_value(), 24);
  EXPECT_EQ(event.fields(1).string_value(), "virtio0-input.0");
}

TEST(EventEncoderTest, UnsignedAndArrayFields) {
  testing::FakeBackend backend;
  std::vector<uint8_t> payload =
      backend.MakePayload("raw_syscalls/sys_enter", 1, {{"id", 257}}, {});
  payload[16] = 0xff;  // args[0] low byte.
  RecordView record{0, 1, payload};
  v1::TraceEvent event;
  ASSERT_EQ(EncodeTraceEvent(
                record, *backend.FindEvent("raw_syscalls/sys_enter"), &event),
            0);
  ASSERT_EQ(event.fields_size(), 2);
  EXPECT_EQ(event.fields(0).int_value(), 257);
  EXPECT_EQ(event.fields(1).bytes_value().size(), 48u);
  EXPECT_EQ(static_cast<uint8_t>(event.fields(1).bytes_value()[0]), 0xff);
}

TEST(EventEncoderTest, TruncatedRecordSkipsFieldsWithoutReadingPastIt) {
  testing::FakeBackend backend;
  std::vector<uint8_t> payload = backend.MakePayload(
      "sched/sched_switch", 42, {{"prev_pid", 42}}, {{"prev_comm", "bash"}});
  payload.resize(28);  // Ends inside prev_prio.
  RecordView record{0, 1, payload};
  v1::TraceEvent event;
  const int bad = EncodeTraceEvent(
      record, *backend.FindEvent("sched/sched_switch"), &event);
  EXPECT_EQ(bad, 5);  // prev_prio, prev_state, next_comm, next_pid, next_prio.
  ASSERT_EQ(event.fields_size(), 2);
  EXPECT_EQ(event.fields(1).int_value(), 42);
}

TEST(EventEncoderTest, SanitizeUtf8EscapesInvalidBytes) {
  EXPECT_EQ(SanitizeUtf8("plain"), "plain");
  EXPECT_EQ(SanitizeUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(SanitizeUtf8("a\xff"
                         "b"),
            "a\\xffb");
  EXPECT_EQ(SanitizeUtf8("\xc3"), "\\xc3");                    // Cut sequence.
  EXPECT_EQ(SanitizeUtf8("\xc0\x80"), "\\xc0\\x80");           // Overlong NUL.
  EXPECT_EQ(SanitizeUtf8("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // Surrogate.
}

}  // namespace
}  // namespace ringwatch
