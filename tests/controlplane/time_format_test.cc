// Time as text: one module for log stamps, report times, CSV/JSON local times and file names.
#include "controlplane/time_format.h"

#include <gtest/gtest.h>

#include "tests/fakes/cdr_fixtures.h"

namespace tally {
namespace {

// 2024-05-17 08:00:00 UTC
constexpr int64_t kInstant = 1715932800;

TEST(TimeFormat, UtcOffsets) {
  EXPECT_EQ(utcOffsetText(0), "+0000");
  EXPECT_EQ(utcOffsetText(120), "+0200");
  EXPECT_EQ(utcOffsetText(-330), "-0530");
  EXPECT_EQ(utcOffsetText(345), "+0545");
}

TEST(TimeFormat, LocalTimes) {
  EXPECT_EQ(localTimeText(LocalTime{2024, 5, 17, 10, 0, 0, 7200}), "2024-05-17 10:00:00 +0200");
  EXPECT_EQ(localTimeText(LocalTime{2009, 1, 2, 3, 4, 5, -3 * 3600 - 1800}),
            "2009-01-02 03:04:05 -0330");
  testing::FixedZone plus2(2 * 3600);
  EXPECT_EQ(localTimeText(kInstant, plus2), "2024-05-17 10:00:00 +0200");
  EXPECT_EQ(localTimeText(kInstant, *TimeZone::utc()), "2024-05-17 08:00:00 +0000");
  EXPECT_EQ(compactLocalTime(plus2.toLocal(kInstant + 59)), "20240517100059");
}

TEST(TimeFormat, UtcTexts) {
  EXPECT_EQ(utcTimeText(kInstant), "2024-05-17 08:00:00");
  EXPECT_EQ(utcTimeText(0), "1970-01-01 00:00:00");
  EXPECT_EQ(utcLogStamp(kInstant + 3661), "2024-05-17T09:01:01Z");
}

}  // namespace
}  // namespace tally
