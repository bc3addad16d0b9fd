#include "shared/timezone.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace tally {
namespace {

// 2026 transitions (zdump -v): Europe/Berlin 2026-03-29 01:00:00Z (02:00 CET -> 03:00 CEST) and
// 2026-10-25 01:00:00Z (03:00 CEST -> 02:00 CET); America/New_York 2026-03-08 07:00:00Z and
// 2026-11-01 06:00:00Z.
constexpr int64_t kBerlinSpring = 1774746000;  // 2026-03-29T01:00:00Z
constexpr int64_t kBerlinFall = 1792890000;    // 2026-10-25T01:00:00Z
constexpr int64_t kNySpring = 1772953200;      // 2026-03-08T07:00:00Z
constexpr int64_t kNyFall = 1793512800;        // 2026-11-01T06:00:00Z
constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 86400;

std::shared_ptr<const TimeZone> zone(const std::string& name) {
  auto r = TimeZone::load(name);
  EXPECT_TRUE(r.ok()) << name << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : TimeZone::utc();
}

// ---- toLocal ----

struct ToLocalCase {
  std::string zone;
  int64_t unix_s;
  LocalTime want;
};

class ToLocalTest : public testing::TestWithParam<ToLocalCase> {};

TEST_P(ToLocalTest, CivilFieldsAndOffset) {
  const ToLocalCase& c = GetParam();
  auto tz = zone(c.zone);
  ASSERT_EQ(tz->name(), c.zone);
  LocalTime got = tz->toLocal(c.unix_s);
  EXPECT_EQ(got.year, c.want.year);
  EXPECT_EQ(got.month, c.want.month);
  EXPECT_EQ(got.day, c.want.day);
  EXPECT_EQ(got.hour, c.want.hour);
  EXPECT_EQ(got.minute, c.want.minute);
  EXPECT_EQ(got.second, c.want.second);
  EXPECT_EQ(got.utc_offset_s, c.want.utc_offset_s);
}

INSTANTIATE_TEST_SUITE_P(
    Zones, ToLocalTest,
    testing::Values(
        // 2026-01-15T12:00:00Z
        ToLocalCase{"UTC", 1768478400, {2026, 1, 15, 12, 0, 0, 0}},
        ToLocalCase{"Europe/Berlin", 1768478400, {2026, 1, 15, 13, 0, 0, 3600}},
        ToLocalCase{"America/New_York", 1768478400, {2026, 1, 15, 7, 0, 0, -18000}},
        ToLocalCase{"Asia/Kolkata", 1768478400, {2026, 1, 15, 17, 30, 0, 19800}},
        // 2026-07-01T12:00:00Z: summer time in Berlin and New York, none in Kolkata
        ToLocalCase{"Europe/Berlin", 1782907200, {2026, 7, 1, 14, 0, 0, 7200}},
        ToLocalCase{"America/New_York", 1782907200, {2026, 7, 1, 8, 0, 0, -14400}},
        ToLocalCase{"Asia/Kolkata", 1782907200, {2026, 7, 1, 17, 30, 0, 19800}},
        // around the Berlin transitions, to the second
        ToLocalCase{"Europe/Berlin", kBerlinSpring - 1, {2026, 3, 29, 1, 59, 59, 3600}},
        ToLocalCase{"Europe/Berlin", kBerlinSpring, {2026, 3, 29, 3, 0, 0, 7200}},
        ToLocalCase{"Europe/Berlin", kBerlinFall - 1, {2026, 10, 25, 2, 59, 59, 7200}},
        ToLocalCase{"Europe/Berlin", kBerlinFall, {2026, 10, 25, 2, 0, 0, 3600}},
        // date change across midnight and a negative offset
        ToLocalCase{"America/New_York", 1768446000, {2026, 1, 14, 22, 0, 0, -18000}},
        ToLocalCase{"Asia/Kolkata", 1768501800, {2026, 1, 16, 0, 0, 0, 19800}}));

// ---- nextLocalTime ----

struct NextCase {
  std::string name;
  std::string zone;
  int64_t after;
  int hour;
  int minute;
  int64_t want;
};

class NextLocalTimeTest : public testing::TestWithParam<NextCase> {};

TEST_P(NextLocalTimeTest, FirstInstantStrictlyAfter) {
  const NextCase& c = GetParam();
  EXPECT_EQ(zone(c.zone)->nextLocalTime(c.after, c.hour, c.minute), c.want) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Transitions, NextLocalTimeTest,
    testing::Values(
        NextCase{"utc_same_day", "UTC", 1768478400, 13, 0, 1768478400 + kHour},
        NextCase{"utc_strictly_after", "UTC", 1768478400, 12, 0, 1768478400 + kDay},
        NextCase{"utc_next_day", "UTC", 1768478400, 11, 59, 1768478400 + kDay - 60},
        // Berlin winter: 13:00 local = 12:00Z
        NextCase{"berlin_winter", "Europe/Berlin", 1768478400 - 1, 13, 0, 1768478400},
        // spring forward: 02:30 does not exist on 2026-03-29 -> the jump instant (01:00Z)
        NextCase{"berlin_spring_gap", "Europe/Berlin", kBerlinSpring - 10 * kHour, 2, 30,
                 kBerlinSpring},
        // two days before and the day after: 02:30 CET = 01:30Z, 02:30 CEST = 00:30Z
        NextCase{"berlin_before_spring", "Europe/Berlin", kBerlinSpring - 2 * kDay, 2, 30,
                 kBerlinSpring - 2 * kDay + 30 * 60},
        NextCase{"berlin_after_spring", "Europe/Berlin", kBerlinSpring, 2, 30,
                 kBerlinSpring + kDay - 30 * 60},
        // 07:00 on the spring day is CEST: 05:00Z
        NextCase{"berlin_spring_0700", "Europe/Berlin", kBerlinSpring - 10 * kHour, 7, 0,
                 kBerlinSpring + 4 * kHour},
        // 03:00 on the spring day is the first valid wall time, the same instant as the gap
        NextCase{"berlin_spring_0300", "Europe/Berlin", kBerlinSpring - kHour, 3, 0, kBerlinSpring},
        // fall back: 02:30 happens twice (00:30Z CEST, 01:30Z CET) -> the first one
        NextCase{"berlin_fall_first", "Europe/Berlin", kBerlinFall - 10 * kHour, 2, 30,
                 kBerlinFall - 30 * 60},
        // once the first one has passed, not the repeat but the next day (02:30 CET = 01:30Z)
        NextCase{"berlin_fall_no_repeat", "Europe/Berlin", kBerlinFall - 30 * 60, 2, 30,
                 kBerlinFall + 30 * 60 + kDay},
        NextCase{"berlin_fall_inside_repeat", "Europe/Berlin", kBerlinFall + 10 * 60, 2, 30,
                 kBerlinFall + 30 * 60 + kDay},
        // 07:00 on the fall day is CET: 06:00Z
        NextCase{"berlin_fall_0700", "Europe/Berlin", kBerlinFall - 10 * kHour, 7, 0,
                 kBerlinFall + 5 * kHour},
        // New York: 02:30 skipped on 2026-03-08 -> 07:00Z; 01:30 repeated on 2026-11-01 ->
        // 01:30 EDT = 05:30Z
        NextCase{"ny_spring_gap", "America/New_York", kNySpring - 5 * kHour, 2, 30, kNySpring},
        NextCase{"ny_fall_first", "America/New_York", kNyFall - 5 * kHour, 1, 30,
                 kNyFall - 30 * 60},
        NextCase{"ny_fall_no_repeat", "America/New_York", kNyFall - 30 * 60, 1, 30,
                 kNyFall + 30 * 60 + kDay},
        // Kolkata: +05:30, no DST: 00:00 local = 18:30Z the day before
        NextCase{"kolkata_midnight", "Asia/Kolkata", 1768478400, 0, 0, 1768501800}),
    [](const testing::TestParamInfo<NextCase>& info) { return info.param.name; });

// Every day of a year that contains both transitions: exactly one instant per day, each shows the
// wall time asked for (or is the jump instant on the gap day), and they are strictly increasing.
TEST(NextLocalTime, OncePerDayThroughAYear) {
  auto tz = zone("Europe/Berlin");
  int64_t t = 1767225600;  // 2026-01-01T00:00:00Z
  int gaps = 0;
  for (int day = 0; day < 365; ++day) {
    const int64_t next = tz->nextLocalTime(t, 2, 30);
    ASSERT_GT(next, t);
    ASSERT_LE(next - t, kDay + kHour) << "day " << day;
    LocalTime lt = tz->toLocal(next);
    if (lt.hour == 3 && lt.minute == 0) {
      ++gaps;  // the spring-forward day
      EXPECT_EQ(next, kBerlinSpring);
    } else {
      EXPECT_EQ(lt.hour, 2);
      EXPECT_EQ(lt.minute, 30);
      EXPECT_EQ(lt.second, 0);
    }
    t = next;
  }
  EXPECT_EQ(gaps, 1);
}

TEST(TimeZoneLoad, UtcIsTheSharedInstance) {
  auto r = TimeZone::load("UTC");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), TimeZone::utc());
  EXPECT_EQ(TimeZone::utc()->name(), "UTC");
  EXPECT_EQ(TimeZone::utc()->toLocal(0).year, 1970);
}

class BadZoneTest : public testing::TestWithParam<std::string> {};

TEST_P(BadZoneTest, IsAnError) {
  auto r = TimeZone::load(GetParam());
  ASSERT_FALSE(r.ok()) << GetParam();
  EXPECT_NE(r.error().message.find("unknown time zone"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Names, BadZoneTest,
                         testing::Values("Mars/Olympus_Mons", "", "Europe/Berlinn",
                                         "../../etc/passwd", "/etc/localtime", "Europe/Berlin "));

}  // namespace
}  // namespace tally
