#pragma once
// Fakes for the charging engine's seams: a RecordSink that keeps what it is given, and a
// SequenceSource that counts from 1.
#include <cstdint>
#include <utility>
#include <vector>

#include "controlplane/charging/charging.h"

namespace tally::testing {

class RecordingSink final : public RecordSink {
 public:
  struct Emitted {
    cdr::PgwRecord record;
    bool flush_now = false;
  };

  void emit(cdr::PgwRecord record, bool flush_now) override {
    emitted.push_back(Emitted{std::move(record), flush_now});
  }

  // The records of one session, in emission order.
  std::vector<cdr::PgwRecord> recordsOf(uint64_t session_id) const {
    std::vector<cdr::PgwRecord> out;
    for (const Emitted& e : emitted) {
      if (e.record.session_id == session_id) {
        out.push_back(e.record);
      }
    }
    return out;
  }

  std::vector<cdr::PgwRecord> records() const {
    std::vector<cdr::PgwRecord> out;
    out.reserve(emitted.size());
    for (const Emitted& e : emitted) {
      out.push_back(e.record);
    }
    return out;
  }

  std::vector<Emitted> emitted;
};

class CountingSequenceSource final : public SequenceSource {
 public:
  uint64_t nextLocalSequence() override { return ++local_; }
  uint32_t nextChargingId() override { return ++charging_; }

  uint64_t lastLocalSequence() const { return local_; }
  uint32_t lastChargingId() const { return charging_; }

 private:
  uint64_t local_ = 0;
  uint32_t charging_ = 0;
};

}  // namespace tally::testing
