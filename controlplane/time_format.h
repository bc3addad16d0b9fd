#pragma once
// Time as text: the one place where tally formats an instant or a local time for people and
// for CSV/JSON output. Pure functions, no clock: the caller passes the instant.
#include <cstdint>
#include <string>

#include "shared/timezone.h"

namespace tally {

// UTC offset as text: 120 -> "+0200", -330 -> "-0530", 0 -> "+0000".
std::string utcOffsetText(int offset_min);

// A local time with its offset: "2024-05-17 10:00:00 +0200" (CSV, tallyctl decode).
std::string localTimeText(const LocalTime& t);
// The same for an instant in a zone.
std::string localTimeText(int64_t unix_s, const TimeZone& tz);

// UTC, for views and reports: "2024-05-17 08:00:00".
std::string utcTimeText(int64_t unix_s);
// UTC, for log lines: "2024-05-17T08:00:00Z".
std::string utcLogStamp(int64_t unix_s);

// Compact local time for file names: "20240517100000".
std::string compactLocalTime(const LocalTime& t);

}  // namespace tally
