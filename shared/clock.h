#pragma once
// Time as a seam: production uses SteadyClock; tests use tests/fakes/fake_clock.h.
#include <chrono>
#include <cstdint>

namespace tally {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic nanoseconds (for timers: idle timeout, intervals).
  virtual int64_t monotonicNs() const = 0;
  // Wall-clock nanoseconds since the Unix epoch (for time stamps in records and reports).
  virtual int64_t wallNs() const = 0;
};

class SteadyClock final : public Clock {
 public:
  int64_t monotonicNs() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  int64_t wallNs() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace tally
