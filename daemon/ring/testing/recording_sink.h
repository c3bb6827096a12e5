// A RecordSink that copies what it receives, for tests.
#ifndef RINGWATCH_DAEMON_RING_TESTING_RECORDING_SINK_H_
#define RINGWATCH_DAEMON_RING_TESTING_RECORDING_SINK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/ring/record.h"

namespace ringwatch {

struct RecordedRecord {
  uint32_t cpu = 0;
  uint64_t timestamp = 0;
  std::string payload;  // A copy: the view dies with the sub-buffer.
  int32_t event_id = -1;

  bool operator==(const RecordedRecord& o) const {
    return cpu == o.cpu && timestamp == o.timestamp && payload == o.payload;
  }
};

class RecordingSink : public RecordSink {
 public:
  void OnRecord(const RecordView& record) override {
    RecordedRecord r;
    r.cpu = record.cpu;
    r.timestamp = record.timestamp;
    r.payload.assign(reinterpret_cast<const char*>(record.payload.data()),
                     record.payload.size());
    r.event_id = record.event_id();
    records.push_back(std::move(r));
  }
  void OnLoss(const LossReport& loss) override { losses.push_back(loss); }

  std::vector<RecordedRecord> records;
  std::vector<LossReport> losses;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_RING_TESTING_RECORDING_SINK_H_
