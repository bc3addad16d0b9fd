#include "shared/timezone.h"

#include <utility>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace tally {
namespace {

class AbslZone final : public TimeZone {
 public:
  AbslZone(std::string name, absl::TimeZone tz) : name_(std::move(name)), tz_(tz) {}

  const std::string& name() const override { return name_; }

  LocalTime toLocal(int64_t unix_s) const override {
    const absl::TimeZone::CivilInfo ci = tz_.At(absl::FromUnixSeconds(unix_s));
    LocalTime lt;
    lt.year = static_cast<int>(ci.cs.year());
    lt.month = ci.cs.month();
    lt.day = ci.cs.day();
    lt.hour = ci.cs.hour();
    lt.minute = ci.cs.minute();
    lt.second = ci.cs.second();
    lt.utc_offset_s = ci.offset;
    return lt;
  }

  int64_t nextLocalTime(int64_t after_unix_s, int hour, int minute) const override {
    // Walk the local calendar days starting with the one that contains `after`; on each day the
    // wall time hour:minute:00 maps to exactly one instant:
    //   UNIQUE   -> that instant;
    //   SKIPPED  -> the transition (the instant the clock jumps over the wall time);
    //   REPEATED -> the first occurrence (pre-transition offset), so it fires once per day.
    const absl::CivilDay first_day(tz_.At(absl::FromUnixSeconds(after_unix_s)).cs);
    // A zone may skip a whole calendar day (e.g. Pacific/Apia, 2011-12-30): look a few days on.
    for (int i = 0; i < 4; ++i) {
      const absl::CivilDay day = first_day + i;
      const absl::CivilSecond wall(day.year(), day.month(), day.day(), hour, minute, 0);
      const absl::TimeZone::TimeInfo ti = tz_.At(wall);
      const absl::Time at = ti.kind == absl::TimeZone::TimeInfo::SKIPPED ? ti.trans : ti.pre;
      const int64_t s = absl::ToUnixSeconds(at);
      if (s > after_unix_s) {
        return s;
      }
    }
    // Not reachable for real zones; fall back to a day later so callers always progress.
    return after_unix_s + 86400;
  }

 private:
  std::string name_;
  absl::TimeZone tz_;
};

bool plausibleName(const std::string& name) {
  if (name.empty() || name.size() > 255 || name.front() == '/') {
    return false;
  }
  if (name.find("..") != std::string::npos) {
    return false;
  }
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '/' || c == '_' || c == '-' || c == '+';
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::shared_ptr<const TimeZone>> TimeZone::load(const std::string& name) {
  if (name == "UTC") {
    return utc();
  }
  absl::TimeZone tz;
  if (!plausibleName(name) || !absl::LoadTimeZone(name, &tz)) {
    return Error{"unknown time zone '" + name +
                 "' (expected \"UTC\" or an IANA name such as "
                 "\"Europe/Berlin\" present under /usr/share/zoneinfo)"};
  }
  return std::shared_ptr<const TimeZone>(std::make_shared<AbslZone>(name, tz));
}

std::shared_ptr<const TimeZone> TimeZone::utc() {
  static const std::shared_ptr<const TimeZone> kUtc =
      std::make_shared<AbslZone>("UTC", absl::UTCTimeZone());
  return kUtc;
}

}  // namespace tally
