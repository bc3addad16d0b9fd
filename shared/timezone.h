#pragma once
// Time zones for tariff times and CDR time stamps (node.timezone), from the system tz database
// (/usr/share/zoneinfo), correct across daylight-saving changes.
#include <cstdint>
#include <memory>
#include <string>

#include "shared/result.h"

namespace tally {

struct LocalTime {
  int year = 1970;  // e.g. 2026
  int month = 1;    // 1..12
  int day = 1;      // 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int utc_offset_s = 0;  // local = UTC + offset
};

class TimeZone {
 public:
  // "UTC" or an IANA name such as "Europe/Berlin".
  static Result<std::shared_ptr<const TimeZone>> load(const std::string& name);
  static std::shared_ptr<const TimeZone> utc();

  virtual ~TimeZone() = default;
  virtual const std::string& name() const = 0;
  virtual LocalTime toLocal(int64_t unix_s) const = 0;
  // The first instant strictly after `after_unix_s` at which the local wall clock shows
  // hour:minute:00. On a day where that wall time does not exist (spring-forward gap) it is
  // the instant the clock jumps over it; where it exists twice (fall-back) the first one.
  virtual int64_t nextLocalTime(int64_t after_unix_s, int hour, int minute) const = 0;
};

using TimeZonePtr = std::shared_ptr<const TimeZone>;

}  // namespace tally
