#include "controlplane/time_format.h"

#include <cstdio>
#include <ctime>

namespace tally {
namespace {

std::tm utc(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

}  // namespace

std::string utcOffsetText(int offset_min) {
  int a = offset_min < 0 ? -offset_min : offset_min;
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%c%02d%02d", offset_min < 0 ? '-' : '+', a / 60, a % 60);
  return buf;
}

std::string localTimeText(const LocalTime& t) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d ", t.year, t.month, t.day,
                t.hour, t.minute, t.second);
  return buf + utcOffsetText(t.utc_offset_s / 60);
}

std::string localTimeText(int64_t unix_s, const TimeZone& tz) {
  return localTimeText(tz.toLocal(unix_s));
}

std::string utcTimeText(int64_t unix_s) {
  std::tm tm = utc(unix_s);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string utcLogStamp(int64_t unix_s) {
  std::tm tm = utc(unix_s);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string compactLocalTime(const LocalTime& t) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02d", t.year, t.month, t.day, t.hour,
                t.minute, t.second);
  return buf;
}

}  // namespace tally
