#pragma once
#include "shared/clock.h"

namespace tally {

// A clock that only moves when the test says so.
class FakeClock final : public Clock {
 public:
  int64_t monotonicNs() const override { return mono_ns_; }
  int64_t wallNs() const override { return wall_ns_; }
  void advanceMs(int64_t ms) {
    mono_ns_ += ms * 1000000;
    wall_ns_ += ms * 1000000;
  }
  void setWallNs(int64_t ns) { wall_ns_ = ns; }

 private:
  int64_t mono_ns_ = 1000000000;
  int64_t wall_ns_ = 1700000000LL * 1000000000LL;
};

}  // namespace tally
