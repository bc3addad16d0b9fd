#include "controlplane/charging/charging.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tests/fakes/recording_sink.h"
#include "tests/fakes/test_config.h"

namespace tally {
namespace {

using cdr::Cause;
using cdr::ChangeCondition;
using cdr::PgwRecord;
using cdr::scBit;

constexpr int64_t kS = 1000000000;
constexpr int64_t kT0 = 1768478400LL * kS;  // 2026-01-15T12:00:00Z (13:00 in Berlin)
constexpr uint64_t kSid = 77;

int64_t at(double seconds) { return kT0 + static_cast<int64_t>(seconds * 1e9); }

FlowCounters vol(uint64_t ul, uint64_t dl) {
  return FlowCounters{ul, ul ? uint64_t{1} : 0, dl, dl ? uint64_t{1} : 0};
}

IpAddress ip(const char* text) { return *parseIpAddress(text); }

// Field by field, so the test does not depend on the order or number of members.
// qci 0: no ePCQoSInformation. kArp: the default profile's ARP (priority level 9, may not
// pre-empt, may be pre-empted).
constexpr uint8_t kArp = 0x64;
cdr::TrafficContainer tc(uint64_t ul, uint64_t dl, ChangeCondition cond, int64_t time,
                         uint8_t qci, std::optional<uint8_t> arp = std::nullopt) {
  cdr::TrafficContainer c;
  c.uplink_octets = ul;
  c.downlink_octets = dl;
  c.change_condition = cond;
  c.change_time_ns = time;
  c.qci = qci;
  c.arp = arp;
  return c;
}

struct Sum {
  uint64_t ul = 0;
  uint64_t dl = 0;
  bool operator==(const Sum&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Sum& s) {
  return os << "{ul " << s.ul << ", dl " << s.dl << "}";
}

Sum trafficSum(const PgwRecord& r) {
  Sum s;
  for (const auto& c : r.traffic_volumes) {
    s.ul += c.uplink_octets;
    s.dl += c.downlink_octets;
  }
  return s;
}

Sum serviceSum(const PgwRecord& r) {
  Sum s;
  for (const auto& c : r.service_data) {
    s.ul += c.uplink_octets;
    s.dl += c.downlink_octets;
  }
  return s;
}

class ChargingTest : public ::testing::Test {
 protected:
  ChargingTest() : config_(testing::testConfig()) {
    config_.node.id = "gw-biller-01";
    config_.accounting.cdr.apn = "internet.example";
  }

  CcProfile& profile(uint8_t index) {
    for (CcProfile& p : config_.accounting.cc_profiles) {
      if (p.index == index) {
        return p;
      }
    }
    ADD_FAILURE() << "no profile " << int{index};
    return config_.accounting.cc_profiles.back();
  }

  void useZone(const std::string& name) {
    auto r = TimeZone::load(name);
    ASSERT_TRUE(r.ok());
    tz_ = r.value();
  }

  // Created on first use, after the test has set up config_ and the zone.
  ChargingEngine& engine() {
    if (!engine_) {
      engine_ = std::make_unique<ChargingEngine>(config_, tz_, sink_, seq_);
    }
    return *engine_;
  }

  ChargingSessionInfo info(uint64_t id = kSid, uint8_t cc_profile = 8) {
    ChargingSessionInfo i;
    i.session_id = id;
    i.served_address = ip("10.0.0.5");
    i.imsi = "001010123456789";
    i.msisdn = "491701234567";
    i.cc_profile = cc_profile;
    return i;
  }

  void open(int64_t now = kT0, uint64_t id = kSid, uint8_t cc_profile = 8) {
    engine().open(info(id, cc_profile), now);
  }

  std::vector<PgwRecord> records(uint64_t id = kSid) const { return sink_.recordsOf(id); }

  Config config_;
  TimeZonePtr tz_ = TimeZone::utc();
  testing::RecordingSink sink_;
  testing::CountingSequenceSource seq_;
  std::unique_ptr<ChargingEngine> engine_;
};

// ---- open / close: the record fields ----

TEST_F(ChargingTest, SingleRecordCarriesEveryField) {
  open(kT0);
  engine().usage(kSid, 1, FlowCounters{100, 1, 200, 2}, at(10));
  engine().close(kSid, Cause::kNormalRelease, at(65.5));

  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  const PgwRecord& r = recs[0];
  EXPECT_EQ(r.imsi, "001010123456789");
  EXPECT_EQ(r.msisdn, "491701234567");
  EXPECT_EQ(r.served_address, ip("10.0.0.5"));
  EXPECT_EQ(r.pgw_address, ip("192.0.2.1"));
  EXPECT_EQ(r.charging_id, 1u);
  // No GTP-U peer known and no node.access_node_address: no serving node (before, the P-GW's
  // own address posed as a gTPSGW).
  EXPECT_TRUE(r.serving_nodes.empty());
  EXPECT_TRUE(r.serving_node_types.empty());
  EXPECT_EQ(r.apn, "internet.example");
  EXPECT_TRUE(r.dynamic_address);
  EXPECT_EQ(r.record_opening_time_ns, kT0);
  EXPECT_EQ(r.duration_s, 65u);  // 65.5 s truncated
  EXPECT_EQ(r.cause, Cause::kNormalRelease);
  EXPECT_FALSE(r.record_sequence_number.has_value());  // the only record of the session
  EXPECT_EQ(r.node_id, "gw-biller-01");
  EXPECT_EQ(r.local_sequence_number, 1u);
  EXPECT_EQ(r.charging_characteristics, 0x0800);
  EXPECT_EQ(r.start_time_ns, std::optional<int64_t>(kT0));
  EXPECT_EQ(r.stop_time_ns, std::optional<int64_t>(at(65.5)));
  EXPECT_EQ(r.session_id, kSid);
  // The fields with documented defaults (docs/cdr-format.md).
  EXPECT_EQ(r.apn_selection_mode,
            std::optional(cdr::ApnSelectionMode::kNetworkProvidedSubscriptionNotVerified));
  EXPECT_EQ(r.ch_ch_selection_mode, std::optional(cdr::ChChSelectionMode::kHomeDefault));
  EXPECT_EQ(r.pdn_connection_charging_id, std::optional<uint32_t>(1));
  EXPECT_EQ(r.rat_type, std::nullopt);             // node.rat_type not set
  EXPECT_EQ(r.pgw_plmn_id, "");                    // node.plmn_id not set
  EXPECT_EQ(r.serving_node_plmn_id, "");
  EXPECT_EQ(r.diagnostics_gsm0408_cause, std::nullopt);  // not an abnormalRelease

  ASSERT_EQ(r.traffic_volumes.size(), 1u);
  // The first container carries the session's QoS: the profile's QCI 9 and ARP.
  EXPECT_EQ(r.traffic_volumes[0],
            tc(100, 200, ChangeCondition::kRecordClosure, at(65.5), 9, kArp));

  ASSERT_EQ(r.service_data.size(), 1u);
  const cdr::ServiceContainer& s = r.service_data[0];
  EXPECT_EQ(s.rating_group, 1u);
  EXPECT_EQ(s.local_sequence_number, 1u);
  EXPECT_EQ(s.time_of_first_usage_ns, at(10));
  EXPECT_EQ(s.time_of_last_usage_ns, at(10));
  EXPECT_EQ(s.time_usage_s, 0u);
  EXPECT_EQ(s.service_condition_change, scBit(cdr::kScRecordClosure));
  EXPECT_EQ(s.serving_node, std::nullopt);
  EXPECT_EQ(s.uplink_octets, 100u);
  EXPECT_EQ(s.downlink_octets, 200u);
  EXPECT_EQ(s.time_of_report_ns, at(65.5));
  EXPECT_FALSE(engine().has(kSid));
  EXPECT_EQ(engine().openSessions(), 0u);
}

TEST_F(ChargingTest, ServingNodeStaticAddressAndIpv6PrefixFromSessionInfo) {
  ChargingSessionInfo i = info();
  i.serving_node = ip("198.51.100.7");
  i.is_static = true;
  i.served_address = ip("2001:db8:1:2::");
  i.served_prefix_length = 64;
  i.imsi.clear();
  i.msisdn.clear();
  engine().open(i, kT0);
  engine().close(kSid, Cause::kNormalRelease, at(1));
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].serving_nodes, std::vector<IpAddress>{ip("198.51.100.7")});
  EXPECT_FALSE(recs[0].dynamic_address);
  EXPECT_EQ(recs[0].served_address, ip("2001:db8:1:2::"));
  EXPECT_EQ(recs[0].served_prefix_length, 64);
  EXPECT_TRUE(recs[0].imsi.empty());
  EXPECT_TRUE(recs[0].msisdn.empty());
  // No usage at all: the record still has its (empty) traffic container and no service data.
  ASSERT_EQ(recs[0].traffic_volumes.size(), 1u);
  EXPECT_EQ(trafficSum(recs[0]), (Sum{0, 0}));
  EXPECT_TRUE(recs[0].service_data.empty());
}

TEST_F(ChargingTest, ServiceContainerTimesFollowPacketDeltas) {
  open(kT0);
  engine().usage(kSid, 10, vol(100, 0), at(5));
  engine().usage(kSid, 10, vol(0, 100), at(17.9));
  engine().usage(kSid, 10, FlowCounters{}, at(30));  // no packets: not a usage
  engine().close(kSid, Cause::kNormalRelease, at(40));
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  ASSERT_EQ(recs[0].service_data.size(), 1u);
  EXPECT_EQ(recs[0].service_data[0].time_of_first_usage_ns, at(5));
  EXPECT_EQ(recs[0].service_data[0].time_of_last_usage_ns, at(17.9));
  EXPECT_EQ(recs[0].service_data[0].time_usage_s, 12u);
}

// ---- final causes ----

class FinalCauseTest : public ChargingTest, public ::testing::WithParamInterface<Cause> {};

TEST_P(FinalCauseTest, FinalRecordCarriesTheGivenCause) {
  open(kT0);
  engine().usage(kSid, 1, vol(10, 20), at(1));
  engine().close(kSid, GetParam(), at(2));
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].cause, GetParam());
  EXPECT_TRUE(recs[0].stop_time_ns.has_value());
  EXPECT_EQ(recs[0].traffic_volumes.back().change_condition, ChangeCondition::kRecordClosure);
  EXPECT_EQ(recs[0].service_data.back().service_condition_change, scBit(cdr::kScRecordClosure));
}

INSTANTIATE_TEST_SUITE_P(Causes, FinalCauseTest,
                         ::testing::Values(Cause::kNormalRelease, Cause::kAbnormalRelease,
                                           Cause::kManagementIntervention));

TEST(CauseValues, MatchTs32298) {
  EXPECT_EQ(static_cast<int>(Cause::kNormalRelease), 0);
  EXPECT_EQ(static_cast<int>(Cause::kAbnormalRelease), 4);
  EXPECT_EQ(static_cast<int>(Cause::kVolumeLimit), 16);
  EXPECT_EQ(static_cast<int>(Cause::kTimeLimit), 17);
  EXPECT_EQ(static_cast<int>(Cause::kServingNodeChange), 18);
  EXPECT_EQ(static_cast<int>(Cause::kMaxChangeCond), 19);
  EXPECT_EQ(static_cast<int>(Cause::kManagementIntervention), 20);
}

// ---- profile index: charging characteristics and hot billing ----

struct ProfileCase {
  uint8_t cc_profile;
  uint16_t want_cc;
  bool want_flush;
};

class ProfileTest : public ChargingTest, public ::testing::WithParamInterface<ProfileCase> {};

TEST_P(ProfileTest, ChargingCharacteristicsAndFlush) {
  const ProfileCase& c = GetParam();
  // A partial (interval) and a final record: both carry the same flags.
  for (CcProfile& p : config_.accounting.cc_profiles) {
    p.interval_s = 60;
  }
  open(kT0, kSid, c.cc_profile);
  engine().usage(kSid, 1, vol(1, 1), at(1));
  engine().tick(at(60));
  engine().close(kSid, Cause::kNormalRelease, at(61));
  ASSERT_EQ(sink_.emitted.size(), 2u);
  for (const auto& e : sink_.emitted) {
    EXPECT_EQ(e.record.charging_characteristics, c.want_cc);
    EXPECT_EQ(e.flush_now, c.want_flush);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Profiles, ProfileTest,
    ::testing::Values(ProfileCase{1, 0x0100, true}, ProfileCase{2, 0x0200, false},
                      ProfileCase{4, 0x0400, false}, ProfileCase{8, 0x0800, false},
                      // not a profile index: the engine uses profile 8 (AccountingConfig::profile)
                      ProfileCase{3, 0x0800, false}));

// ---- volume ----

struct VolumeCase {
  std::string name;
  VolumeLimit limit;
  std::vector<std::pair<uint64_t, uint64_t>> deltas;
  int closes_at;  // index of the delta after which the first record closes; -1 = never
};

class VolumeTest : public ChargingTest, public ::testing::WithParamInterface<VolumeCase> {};

TEST_P(VolumeTest, ClosesPartialWithOvershootInside) {
  const VolumeCase& c = GetParam();
  profile(8).volume = c.limit;
  open(kT0);
  Sum in;
  for (size_t i = 0; i < c.deltas.size(); ++i) {
    engine().usage(kSid, 1, vol(c.deltas[i].first, c.deltas[i].second), at(10.0 * (i + 1)));
    in.ul += c.deltas[i].first;
    in.dl += c.deltas[i].second;
    const bool closed = c.closes_at >= 0 && static_cast<int>(i) >= c.closes_at;
    ASSERT_EQ(records().size(), closed ? 1u : 0u) << c.name << " after delta " << i;
    if (static_cast<int>(i) == c.closes_at) {
      const PgwRecord r = records()[0];
      EXPECT_EQ(r.cause, Cause::kVolumeLimit);
      EXPECT_EQ(r.record_sequence_number, std::optional<uint32_t>(1));
      EXPECT_EQ(trafficSum(r), in);  // the whole crossing delta is in this record
      EXPECT_EQ(serviceSum(r), in);
      EXPECT_EQ(r.duration_s, static_cast<uint32_t>(10 * (i + 1)));
      EXPECT_FALSE(r.stop_time_ns.has_value());
    }
  }
  engine().close(kSid, Cause::kNormalRelease, at(1000));
  auto recs = records();
  ASSERT_EQ(recs.size(), c.closes_at >= 0 ? 2u : 1u);
  Sum total;
  for (const auto& r : recs) {
    total.ul += trafficSum(r).ul;
    total.dl += trafficSum(r).dl;
  }
  EXPECT_EQ(total, in);
}

INSTANTIATE_TEST_SUITE_P(
    Limits, VolumeTest,
    ::testing::Values(
        VolumeCase{"total_exact", {100000, {}, {}}, {{60000, 0}, {0, 39999}, {0, 1}}, 2},
        VolumeCase{"total_overshoot", {100000, {}, {}}, {{90000, 0}, {50000, 50000}}, 1},
        VolumeCase{"total_not_reached", {100000, {}, {}}, {{50000, 0}, {0, 49999}}, -1},
        VolumeCase{"uplink_only", {{}, 100000, {}}, {{0, 500000}, {99999, 0}, {1, 0}}, 2},
        VolumeCase{"downlink_only", {{}, {}, 100000}, {{500000, 0}, {0, 100000}}, 1},
        VolumeCase{
            "both_downlink_first", {{}, 100000, 200000}, {{0, 150000}, {99999, 0}, {0, 50000}}, 2},
        VolumeCase{
            "both_uplink_first", {{}, 100000, 200000}, {{0, 150000}, {99999, 49999}, {1, 0}}, 2}),
    [](const ::testing::TestParamInfo<VolumeCase>& i) { return i.param.name; });

TEST_F(ChargingTest, VolumeCountsSinceTheRecordOpened) {
  profile(8).volume.total = 100000;
  open(kT0);
  for (int i = 1; i <= 10; ++i) {
    engine().usage(kSid, 1, vol(30000, 0), at(i));
  }
  auto recs = records();
  ASSERT_EQ(recs.size(), 2u);  // after deltas 4 and 8: 120000 each
  for (const auto& r : recs) {
    EXPECT_EQ(trafficSum(r), (Sum{120000, 0}));
    EXPECT_EQ(r.cause, Cause::kVolumeLimit);
  }
  EXPECT_EQ(recs[1].record_opening_time_ns, at(4));
  ASSERT_TRUE(engine().view(kSid).has_value());
  EXPECT_EQ(engine().view(kSid)->uplink_octets, 60000u);
}

// ---- interval ----

TEST_F(ChargingTest, IntervalClosesPartialAtExactlyTheInterval) {
  profile(8).interval_s = 60;
  open(kT0);
  engine().usage(kSid, 1, vol(1, 2), at(5));
  engine().tick(at(59.999));
  EXPECT_TRUE(records().empty());
  engine().tick(at(60));
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].cause, Cause::kTimeLimit);
  EXPECT_EQ(recs[0].duration_s, 60u);
  EXPECT_EQ(recs[0].record_sequence_number, std::optional<uint32_t>(1));
  // The next record opens at the closure and runs its own interval.
  engine().tick(at(119));
  EXPECT_EQ(records().size(), 1u);
  engine().tick(at(120));
  recs = records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].record_opening_time_ns, at(60));
  EXPECT_EQ(recs[1].record_sequence_number, std::optional<uint32_t>(2));
  // Without interval_min_volume an empty record closes too.
  EXPECT_EQ(trafficSum(recs[1]), (Sum{0, 0}));
  EXPECT_TRUE(recs[1].service_data.empty());
}

TEST_F(ChargingTest, IntervalMinVolumeRearmsUntilEnoughVolume) {
  profile(8).interval_s = 60;
  profile(8).interval_min_volume = 1000;
  open(kT0);
  engine().tick(at(60));  // nothing counted: re-arm to 120
  EXPECT_TRUE(records().empty());
  engine().usage(kSid, 1, vol(500, 499), at(70));
  engine().tick(at(120));  // 999 < 1000: re-arm to 180
  EXPECT_TRUE(records().empty());
  engine().usage(kSid, 1, vol(0, 1), at(130));
  engine().tick(at(179));  // volume reached, but the check is at 180
  EXPECT_TRUE(records().empty());
  engine().tick(at(180));
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].cause, Cause::kTimeLimit);
  EXPECT_EQ(recs[0].duration_s, 180u);
  EXPECT_EQ(trafficSum(recs[0]), (Sum{500, 500}));
}

TEST_F(ChargingTest, IntervalMinVolumeLateTickRearmsOnTheIntervalGrid) {
  profile(8).interval_s = 60;
  profile(8).interval_min_volume = 1000;
  open(kT0);
  engine().tick(at(250));  // checks at 60..240 missed: next check at 300
  engine().usage(kSid, 1, vol(1000, 0), at(260));
  engine().tick(at(299));
  EXPECT_TRUE(records().empty());
  engine().tick(at(300));
  ASSERT_EQ(records().size(), 1u);
  EXPECT_EQ(records()[0].duration_s, 300u);
}

// ---- sdf_volume / sdf_interval ----

TEST_F(ChargingTest, SdfVolumeClosesOnlyThatServiceContainer) {
  profile(8).sdf_volume.total = 100000;
  open(kT0);
  engine().usage(kSid, 10, vol(60000, 0), at(1));
  engine().usage(kSid, 20, vol(5000, 0), at(2));
  engine().usage(kSid, 10, vol(0, 50000), at(3));  // RG 10 reaches 110000: closes
  EXPECT_TRUE(records().empty());                  // the record goes on
  engine().usage(kSid, 20, vol(0, 95000), at(4));  // RG 20 has 100000: closes too
  engine().usage(kSid, 10, vol(3000, 0), at(5));   // RG 10: a new container
  engine().close(kSid, Cause::kNormalRelease, at(9));

  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  const auto& sd = recs[0].service_data;
  ASSERT_EQ(sd.size(), 3u);
  EXPECT_EQ(sd[0].rating_group, 10u);
  EXPECT_EQ(sd[0].local_sequence_number, 1u);
  EXPECT_EQ(sd[0].service_condition_change, scBit(cdr::kScVolumeLimit));
  EXPECT_EQ(sd[0].uplink_octets + sd[0].downlink_octets, 110000u);
  EXPECT_EQ(sd[0].time_of_report_ns, at(3));
  EXPECT_EQ(sd[1].rating_group, 20u);
  EXPECT_EQ(sd[1].local_sequence_number, 2u);
  EXPECT_EQ(sd[1].service_condition_change, scBit(cdr::kScVolumeLimit));
  EXPECT_EQ(sd[1].uplink_octets + sd[1].downlink_octets, 100000u);
  EXPECT_EQ(sd[2].rating_group, 10u);
  EXPECT_EQ(sd[2].local_sequence_number, 3u);
  EXPECT_EQ(sd[2].service_condition_change, scBit(cdr::kScRecordClosure));
  EXPECT_EQ(sd[2].time_of_first_usage_ns, at(5));
  EXPECT_EQ(sd[2].uplink_octets, 3000u);
  // The traffic container is not touched by sdf triggers.
  ASSERT_EQ(recs[0].traffic_volumes.size(), 1u);
  EXPECT_EQ(trafficSum(recs[0]), serviceSum(recs[0]));
}

struct SdfCase {
  std::string name;
  VolumeLimit limit;
  std::pair<uint64_t, uint64_t> first;
  std::pair<uint64_t, uint64_t> second;
  bool closes_after_second;
};

class SdfVolumeTest : public ChargingTest, public ::testing::WithParamInterface<SdfCase> {};

TEST_P(SdfVolumeTest, FirstReachedDirectionTriggers) {
  const SdfCase& c = GetParam();
  profile(8).sdf_volume = c.limit;
  open(kT0);
  engine().usage(kSid, 10, vol(c.first.first, c.first.second), at(1));
  engine().usage(kSid, 10, vol(c.second.first, c.second.second), at(2));
  engine().close(kSid, Cause::kNormalRelease, at(3));
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  ASSERT_EQ(recs[0].service_data.size(), 1u);
  EXPECT_EQ(recs[0].service_data[0].service_condition_change,
            c.closes_after_second ? scBit(cdr::kScVolumeLimit) : scBit(cdr::kScRecordClosure));
}

INSTANTIATE_TEST_SUITE_P(
    Limits, SdfVolumeTest,
    ::testing::Values(SdfCase{"uplink", {{}, 100000, {}}, {0, 900000}, {100000, 0}, true},
                      SdfCase{"uplink_short", {{}, 100000, {}}, {0, 900000}, {99999, 0}, false},
                      SdfCase{"downlink", {{}, {}, 100000}, {900000, 0}, {0, 100000}, true},
                      SdfCase{"both_dl", {{}, 500000, 100000}, {0, 50000}, {0, 50000}, true},
                      SdfCase{"both_none", {{}, 500000, 100000}, {400000, 0}, {0, 99999}, false},
                      SdfCase{"total", {150000, {}, {}}, {100000, 0}, {0, 50000}, true}),
    [](const ::testing::TestParamInfo<SdfCase>& i) { return i.param.name; });

TEST_F(ChargingTest, SdfIntervalClosesEachContainerAfterItsOwnInterval) {
  profile(8).sdf_interval_s = 60;
  open(kT0);
  engine().usage(kSid, 10, vol(10, 0), at(10));
  engine().usage(kSid, 20, vol(20, 0), at(30));
  engine().tick(at(69));
  engine().usage(kSid, 10, vol(1, 0), at(69.5));
  engine().tick(at(70));  // RG 10 opened at 10
  engine().tick(at(89));
  engine().tick(at(90));  // RG 20 opened at 30
  engine().usage(kSid, 10, vol(5, 0), at(100));
  engine().close(kSid, Cause::kNormalRelease, at(110));
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  const auto& sd = recs[0].service_data;
  ASSERT_EQ(sd.size(), 3u);
  EXPECT_EQ(sd[0].rating_group, 10u);
  EXPECT_EQ(sd[0].service_condition_change, scBit(cdr::kScTimeLimit));
  EXPECT_EQ(sd[0].time_of_report_ns, at(70));
  EXPECT_EQ(sd[0].uplink_octets, 11u);
  EXPECT_EQ(sd[0].time_usage_s, 59u);
  EXPECT_EQ(sd[1].rating_group, 20u);
  EXPECT_EQ(sd[1].service_condition_change, scBit(cdr::kScTimeLimit));
  EXPECT_EQ(sd[1].time_of_report_ns, at(90));
  EXPECT_EQ(sd[2].rating_group, 10u);
  EXPECT_EQ(sd[2].service_condition_change, scBit(cdr::kScRecordClosure));
  EXPECT_EQ(sd[2].uplink_octets, 5u);
  EXPECT_EQ(recs[0].cause, Cause::kNormalRelease);
}

TEST_F(ChargingTest, SdfIntervalDueAtRecordClosureSetsBothBits) {
  profile(8).sdf_interval_s = 60;
  profile(8).interval_s = 60;
  open(kT0);
  engine().usage(kSid, 10, vol(10, 0), at(0));
  engine().tick(at(60));  // the container's own interval and the record's at the same instant
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].cause, Cause::kTimeLimit);
  ASSERT_EQ(recs[0].service_data.size(), 1u);
  EXPECT_EQ(recs[0].service_data[0].service_condition_change, scBit(cdr::kScTimeLimit));
}

// ---- tariff times ----

TEST_F(ChargingTest, TariffClosesTrafficAndServiceContainersAtTheInstant) {
  profile(8).tariff = {TariffTime{12, 30}, TariffTime{18, 0}};
  profile(8).buckets = 20;
  open(kT0);  // 12:00Z, zone UTC
  engine().usage(kSid, 10, vol(100, 0), at(60));
  engine().usage(kSid, 20, vol(0, 50), at(61));
  engine().tick(at(1799));
  EXPECT_EQ(engine().view(kSid)->traffic_containers_closed, 0u);
  engine().tick(at(1800));  // 12:30:00Z
  EXPECT_EQ(engine().view(kSid)->traffic_containers_closed, 1u);
  engine().usage(kSid, 10, vol(7, 0), at(1900));
  engine().tick(at(6 * 3600 + 5));  // 18:00:05Z, a late tick
  engine().tick(at(6 * 3600 + 10));
  engine().close(kSid, Cause::kNormalRelease, at(7 * 3600));
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  const auto& tv = recs[0].traffic_volumes;
  ASSERT_EQ(tv.size(), 3u);
  EXPECT_EQ(tv[0], tc(100, 50, ChangeCondition::kTariffTime, at(1800), 9, kArp));
  // The change time is the tariff instant even when the tick came 5 s later. After a tariff
  // time the container has no ePCQoSInformation (the previous condition was no QoS change).
  EXPECT_EQ(tv[1], tc(7, 0, ChangeCondition::kTariffTime, at(6 * 3600), 0));
  EXPECT_EQ(tv[2], tc(0, 0, ChangeCondition::kRecordClosure, at(7 * 3600), 0));
  const auto& sd = recs[0].service_data;
  ASSERT_EQ(sd.size(), 3u);
  EXPECT_EQ(sd[0].rating_group, 10u);
  EXPECT_EQ(sd[0].service_condition_change, scBit(cdr::kScTariffTimeSwitch));
  EXPECT_EQ(sd[0].time_of_report_ns, at(1800));
  EXPECT_EQ(sd[1].rating_group, 20u);
  EXPECT_EQ(sd[1].service_condition_change, scBit(cdr::kScTariffTimeSwitch));
  EXPECT_EQ(sd[2].rating_group, 10u);
  EXPECT_EQ(sd[2].uplink_octets, 7u);
  EXPECT_EQ(sd[2].service_condition_change, scBit(cdr::kScTariffTimeSwitch));
  EXPECT_EQ(sd[2].time_of_report_ns, at(6 * 3600));
}

struct TariffDstCase {
  std::string name;
  int64_t open_unix_s;
  std::vector<TariffTime> tariff;
  std::vector<int64_t> want_unix_s;  // change times of the tariffTime containers
};

class TariffDstTest : public ChargingTest, public ::testing::WithParamInterface<TariffDstCase> {};

TEST_P(TariffDstTest, OneClosurePerTariffPerDayAtTheRightInstant) {
  const TariffDstCase& c = GetParam();
  useZone("Europe/Berlin");
  profile(8).tariff = c.tariff;
  profile(8).buckets = 20;
  const int64_t start = c.open_unix_s * kS;
  open(start);
  // Poll every 20 s for two days (plus usage now and then so containers are not all empty).
  for (int64_t t = start; t <= start + 48 * 3600 * kS; t += 20 * kS) {
    if ((t - start) % (3600 * kS) == 0) {
      engine().usage(kSid, 1, vol(1, 1), t);
    }
    engine().tick(t);
  }
  engine().close(kSid, Cause::kNormalRelease, start + 48 * 3600 * kS + kS);
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  std::vector<int64_t> got;
  for (const auto& tc : recs[0].traffic_volumes) {
    if (tc.change_condition == ChangeCondition::kTariffTime) {
      got.push_back(tc.change_time_ns / kS);
    }
  }
  EXPECT_EQ(got, c.want_unix_s) << c.name;
}

// 2026-03-28T00:00Z and 2026-10-24T00:00Z; Berlin switches 2026-03-29 01:00Z (CET -> CEST) and
// 2026-10-25 01:00Z (CEST -> CET).
constexpr int64_t kSpringEve = 1774656000;
constexpr int64_t kFallEve = 1792800000;
constexpr int64_t kH = 3600;

INSTANTIATE_TEST_SUITE_P(
    Berlin, TariffDstTest,
    ::testing::Values(
        // 02:30 CET = 01:30Z; on the spring day 02:30 does not exist: the jump at 01:00Z
        TariffDstCase{"spring_0230",
                      kSpringEve,
                      {{2, 30}},
                      {kSpringEve + kH + 1800, kSpringEve + 24 * kH + kH}},
        // 07:00 CET = 06:00Z, then 07:00 CEST = 05:00Z
        TariffDstCase{"spring_0700",
                      kSpringEve,
                      {{7, 0}},
                      {kSpringEve + 6 * kH, kSpringEve + 24 * kH + 5 * kH}},
        TariffDstCase{"spring_both",
                      kSpringEve,
                      {{2, 30}, {7, 0}},
                      {kSpringEve + kH + 1800, kSpringEve + 6 * kH, kSpringEve + 25 * kH,
                       kSpringEve + 29 * kH}},
        // 02:30 CEST = 00:30Z; on the fall day 02:30 happens twice: only the first (00:30Z)
        TariffDstCase{
            "fall_0230", kFallEve, {{2, 30}}, {kFallEve + 1800, kFallEve + 24 * kH + 1800}},
        // 07:00 CEST = 05:00Z, then 07:00 CET = 06:00Z
        TariffDstCase{
            "fall_0700", kFallEve, {{7, 0}}, {kFallEve + 5 * kH, kFallEve + 24 * kH + 6 * kH}},
        TariffDstCase{
            "fall_both",
            kFallEve,
            {{2, 30}, {7, 0}},
            {kFallEve + 1800, kFallEve + 5 * kH, kFallEve + 24 * kH + 1800, kFallEve + 30 * kH}}),
    [](const ::testing::TestParamInfo<TariffDstCase>& i) { return i.param.name; });

TEST_F(ChargingTest, TariffAtTheOpeningInstantWaitsForTheNextDay) {
  profile(8).tariff = {TariffTime{12, 0}};
  open(kT0);  // exactly 12:00Z
  engine().tick(kT0);
  engine().tick(at(3600));
  EXPECT_EQ(engine().view(kSid)->traffic_containers_closed, 0u);
  engine().tick(at(86400));
  EXPECT_EQ(engine().view(kSid)->traffic_containers_closed, 1u);
}

// ---- QoS change ----

TEST_F(ChargingTest, QosChangeClosesTrafficContainerAndNextCarriesQci) {
  profile(8).tariff = {TariffTime{13, 0}};
  profile(8).interval_s = 7200;
  profile(8).buckets = 20;
  open(kT0);
  engine().usage(kSid, 1, vol(10, 0), at(10));
  engine().qosChange(kSid, 5, at(20));
  engine().usage(kSid, 1, vol(20, 0), at(30));
  engine().tick(at(3600));  // 13:00Z tariff
  engine().usage(kSid, 1, vol(30, 0), at(3700));
  engine().tick(at(7200));  // interval: partial record
  engine().usage(kSid, 1, vol(40, 0), at(7300));
  engine().close(kSid, Cause::kNormalRelease, at(7400));
  auto recs = records();
  ASSERT_EQ(recs.size(), 2u);
  const auto& tv = recs[0].traffic_volumes;
  ASSERT_EQ(tv.size(), 3u);
  EXPECT_EQ(tv[0], tc(10, 0, ChangeCondition::kQosChange, at(20), 9, kArp));  // initial QoS
  EXPECT_EQ(tv[1], tc(20, 0, ChangeCondition::kTariffTime, at(3600), 5, kArp));
  EXPECT_EQ(tv[2], tc(30, 0, ChangeCondition::kRecordClosure, at(7200), 0));
  // The first container of the next record carries the current QoS.
  ASSERT_EQ(recs[1].traffic_volumes.size(), 1u);
  EXPECT_EQ(recs[1].traffic_volumes[0],
            tc(40, 0, ChangeCondition::kRecordClosure, at(7400), 5, kArp));
  // Service containers are not closed by a QoS change.
  EXPECT_EQ(recs[0].service_data.size(), 2u);  // tariff switch + record closure
}

// The QoS a session starts with (table-driven): the profile's qci / arp, or the session's own.
struct InitialQosCase {
  std::string name;
  uint8_t profile_qci;
  ArpConfig profile_arp;
  std::optional<uint8_t> session_qci;
  std::optional<uint8_t> session_arp;
  uint8_t want_qci;
  uint8_t want_arp;
};

void PrintTo(const InitialQosCase& c, std::ostream* os) { *os << c.name; }

class InitialQosTest : public ChargingTest, public ::testing::WithParamInterface<InitialQosCase> {};

TEST_P(InitialQosTest, FirstContainerOfEveryRecordCarriesTheQos) {
  const InitialQosCase& c = GetParam();
  profile(8).qci = c.profile_qci;
  profile(8).arp = c.profile_arp;
  profile(8).interval_s = 60;
  ChargingSessionInfo i = info();
  i.qci = c.session_qci;
  i.arp = c.session_arp;
  engine().open(i, kT0);
  engine().usage(kSid, 1, vol(1, 0), at(1));
  engine().tick(at(60));  // partial: the successor's first container carries the QoS too
  engine().close(kSid, Cause::kNormalRelease, at(61));
  auto recs = records();
  ASSERT_EQ(recs.size(), 2u);
  for (const PgwRecord& r : recs) {
    ASSERT_EQ(r.traffic_volumes.size(), 1u);
    EXPECT_EQ(r.traffic_volumes[0].qci, c.want_qci) << c.name;
    EXPECT_EQ(r.traffic_volumes[0].arp, std::optional<uint8_t>(c.want_arp)) << c.name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sources, InitialQosTest,
    ::testing::Values(
        InitialQosCase{"profile_default", 9, ArpConfig{}, {}, {}, 9, 0x64},
        InitialQosCase{"profile_configured", 6, ArpConfig{2, true, false}, {}, {}, 6, 0x09},
        InitialQosCase{"session_qci", 9, ArpConfig{}, 7, {}, 7, 0x64},
        InitialQosCase{"session_qci_and_arp", 9, ArpConfig{}, 128, 0x45, 128, 0x45},
        InitialQosCase{"session_qci_0_is_none", 8, ArpConfig{}, 0, {}, 8, 0x64}),
    [](const ::testing::TestParamInfo<InitialQosCase>& i) { return i.param.name; });

// QoS changes (table-driven): to the QCI/ARP the session already has is no change.
struct QosChangeCase {
  std::string name;
  std::vector<std::pair<uint8_t, std::optional<uint8_t>>> changes;  // QCI, ARP (none: same)
  uint64_t want_applied;
  uint64_t want_ignored;
  std::vector<uint8_t> want_qci;  // per traffic container of the one record (0 = no QoS)
};

void PrintTo(const QosChangeCase& c, std::ostream* os) { *os << c.name; }

class QosChangeTest : public ChargingTest, public ::testing::WithParamInterface<QosChangeCase> {};

TEST_P(QosChangeTest, SameValuesAreIgnoredAndCounted) {
  const QosChangeCase& c = GetParam();
  // One more than the applied changes: an ignored change counted against buckets would close
  // the record.
  profile(8).buckets = static_cast<uint32_t>(c.want_applied + 1);
  open(kT0);
  int t = 1;
  for (const auto& [qci, arp] : c.changes) {
    engine().usage(kSid, 1, vol(1, 0), at(t++));
    engine().qosChange(kSid, qci, at(t++), arp);
  }
  engine().close(kSid, Cause::kNormalRelease, at(t));
  EXPECT_EQ(engine().counters().qos_changes, c.want_applied) << c.name;
  EXPECT_EQ(engine().counters().qos_changes_ignored, c.want_ignored) << c.name;
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u) << c.name;  // buckets = applied + 1: never reached
  std::vector<uint8_t> qcis;
  for (const auto& tv : recs[0].traffic_volumes) {
    qcis.push_back(tv.qci);
  }
  EXPECT_EQ(qcis, c.want_qci) << c.name;
  EXPECT_EQ(trafficSum(recs[0]), (Sum{c.changes.size(), 0}));
}

INSTANTIATE_TEST_SUITE_P(
    Changes, QosChangeTest,
    ::testing::Values(
        QosChangeCase{"same_as_profile_qci", {{9, {}}}, 0, 1, {9}},
        QosChangeCase{"same_qci_twice", {{5, {}}, {5, {}}, {5, {}}}, 1, 2, {9, 5}},
        QosChangeCase{"back_and_forth", {{5, {}}, {9, {}}, {9, {}}}, 2, 1, {9, 5, 9}},
        QosChangeCase{"same_qci_and_arp", {{9, 0x64}}, 0, 1, {9}},
        QosChangeCase{"same_qci_other_arp", {{9, 0x24}, {9, 0x24}}, 1, 1, {9, 9}},
        QosChangeCase{"qci_0_is_not_a_qci", {{0, {}}}, 0, 0, {9}}),
    [](const ::testing::TestParamInfo<QosChangeCase>& i) { return i.param.name; });

TEST_F(ChargingTest, IgnoredQosChangeDoesNotCountAgainstBuckets) {
  profile(8).buckets = 1;
  open(kT0);
  engine().qosChange(kSid, 9, at(1));  // the profile's QCI: no change
  engine().qosChange(kSid, 9, at(2));
  EXPECT_TRUE(records().empty());
  EXPECT_EQ(engine().view(kSid)->traffic_containers_closed, 0u);
  engine().qosChange(kSid, 8, at(3));  // a change: buckets 1 closes the record
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].cause, Cause::kMaxChangeCond);
  ASSERT_EQ(recs[0].traffic_volumes.size(), 1u);
  EXPECT_EQ(recs[0].traffic_volumes[0], tc(0, 0, ChangeCondition::kQosChange, at(3), 9, kArp));
  EXPECT_EQ(engine().counters().qos_changes, 1u);
  EXPECT_EQ(engine().counters().qos_changes_ignored, 2u);
  // The successor starts with the new QCI, the ARP unchanged.
  engine().close(kSid, Cause::kNormalRelease, at(4));
  EXPECT_EQ(records()[1].traffic_volumes[0],
            tc(0, 0, ChangeCondition::kRecordClosure, at(4), 8, kArp));
}

// ---- buckets ----

class BucketsTest : public ChargingTest, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(BucketsTest, RecordClosesWhenItHoldsBucketsClosedContainers) {
  const uint32_t buckets = GetParam();
  profile(8).buckets = buckets;
  open(kT0);
  for (uint32_t i = 1; i <= buckets; ++i) {
    engine().usage(kSid, 1, vol(i, 0), at(i * 10));
    EXPECT_TRUE(records().empty()) << "before change " << i;
    engine().qosChange(kSid, static_cast<uint8_t>(i), at(i * 10 + 5));
  }
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].cause, Cause::kMaxChangeCond);
  ASSERT_EQ(recs[0].traffic_volumes.size(), buckets);
  for (uint32_t i = 0; i < buckets; ++i) {
    EXPECT_EQ(recs[0].traffic_volumes[i].change_condition, ChangeCondition::kQosChange);
    EXPECT_EQ(recs[0].traffic_volumes[i].uplink_octets, i + 1);
  }
  EXPECT_EQ(recs[0].duration_s, buckets * 10 + 5);
  // The next record's first container carries the last QCI.
  engine().close(kSid, Cause::kNormalRelease, at(1000));
  recs = records();
  ASSERT_EQ(recs.size(), 2u);
  ASSERT_EQ(recs[1].traffic_volumes.size(), 1u);
  EXPECT_EQ(recs[1].traffic_volumes[0].qci, static_cast<uint8_t>(buckets));
  EXPECT_EQ(recs[1].record_sequence_number, std::optional<uint32_t>(2));
}

INSTANTIATE_TEST_SUITE_P(Counts, BucketsTest, ::testing::Values(1u, 4u, 20u));

TEST_F(ChargingTest, TariffClosuresCountAgainstBuckets) {
  profile(8).tariff = {TariffTime{13, 0}, TariffTime{14, 0}};
  profile(8).buckets = 2;
  open(kT0);
  engine().tick(at(3600));
  EXPECT_TRUE(records().empty());
  engine().tick(at(7200));
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].cause, Cause::kMaxChangeCond);
  ASSERT_EQ(recs[0].traffic_volumes.size(), 2u);
  // Kept although empty: a tariff container with no traffic is still reported.
  EXPECT_EQ(recs[0].traffic_volumes[1].change_condition, ChangeCondition::kTariffTime);
}

// ---- what buckets counts, and the service-container limit (table-driven) ----

// One event of a scripted session: usage of a rating group, a QoS change or a tick.
struct Ev {
  enum Kind { kUsage, kQos, kTick } kind;
  double t;             // seconds after kT0 (12:00Z, zone UTC)
  uint32_t rg = 0;      // kUsage
  uint64_t ul = 0;      // kUsage: uplink octets (one packet)
  uint8_t qci = 0;      // kQos
};
Ev use(double t, uint32_t rg, uint64_t ul) { return Ev{Ev::kUsage, t, rg, ul, 0}; }
Ev qos(double t, uint8_t qci) { return Ev{Ev::kQos, t, 0, 0, qci}; }
Ev tick(double t) { return Ev{Ev::kTick, t, 0, 0, 0}; }

struct TriggerCase {
  std::string name;
  uint32_t buckets = 4;
  uint32_t max_service_containers = 10;
  VolumeLimit sdf_volume;
  std::optional<uint32_t> sdf_interval_s;
  std::vector<TariffTime> tariff;
  std::vector<Ev> events;  // the session is closed (normalRelease) at the last event + 1 s
  std::vector<Cause> want_causes;                // per record
  std::vector<size_t> want_service_containers;  // per record
  std::vector<ChangeCondition> want_first_conditions;  // the first record's traffic containers
};

void PrintTo(const TriggerCase& c, std::ostream* os) { *os << c.name; }

class TriggerTest : public ChargingTest, public ::testing::WithParamInterface<TriggerCase> {};

TEST_P(TriggerTest, CausesAndContainers) {
  const TriggerCase& c = GetParam();
  CcProfile& p = profile(8);
  p.buckets = c.buckets;
  p.max_service_containers = c.max_service_containers;
  p.sdf_volume = c.sdf_volume;
  p.sdf_interval_s = c.sdf_interval_s;
  p.tariff = c.tariff;
  open(kT0);
  Sum in;
  double last = 0;
  for (const Ev& e : c.events) {
    switch (e.kind) {
      case Ev::kUsage:
        engine().usage(kSid, e.rg, vol(e.ul, 0), at(e.t));
        in.ul += e.ul;
        break;
      case Ev::kQos:
        engine().qosChange(kSid, e.qci, at(e.t));
        break;
      case Ev::kTick:
        engine().tick(at(e.t));
        break;
    }
    last = e.t;
  }
  engine().close(kSid, Cause::kNormalRelease, at(last + 1));
  auto recs = records();
  std::vector<Cause> causes;
  std::vector<size_t> containers;
  Sum out;
  for (const PgwRecord& r : recs) {
    causes.push_back(r.cause);
    containers.push_back(r.service_data.size());
    EXPECT_LE(r.service_data.size(), c.max_service_containers) << c.name;
    EXPECT_EQ(trafficSum(r), serviceSum(r)) << c.name;
    out.ul += serviceSum(r).ul;
  }
  EXPECT_EQ(causes, c.want_causes) << c.name;
  EXPECT_EQ(containers, c.want_service_containers) << c.name;
  EXPECT_EQ(out, in) << c.name;
  if (!c.want_first_conditions.empty() && !recs.empty()) {
    std::vector<ChangeCondition> got;
    for (const auto& t : recs[0].traffic_volumes) {
      got.push_back(t.change_condition);
    }
    EXPECT_EQ(got, c.want_first_conditions) << c.name;
  }
}

constexpr Cause kMax = Cause::kMaxChangeCond;
constexpr Cause kNormal = Cause::kNormalRelease;
constexpr ChangeCondition kQosCc = ChangeCondition::kQosChange;
constexpr ChangeCondition kTariffCc = ChangeCondition::kTariffTime;
constexpr ChangeCondition kClosureCc = ChangeCondition::kRecordClosure;

// `buckets` counts QoS changes and tariff times (the seed: "the number of container changes
// ... due to QoS changes or tariff times"); sdf_volume / sdf_interval closures do not.
INSTANTIATE_TEST_SUITE_P(
    Buckets, TriggerTest,
    ::testing::Values(
        TriggerCase{"qos_changes_count", 2, 10, {}, {}, {},
                    {use(1, 1, 10), qos(10, 5), use(11, 1, 10), qos(20, 6), use(21, 1, 10)},
                    {kMax, kNormal}, {1, 1}, {kQosCc, kQosCc}},
        TriggerCase{"tariff_times_count", 2, 10, {}, {}, {{13, 0}, {14, 0}},
                    {use(1, 1, 10), tick(3600), use(3601, 1, 10), tick(7200), use(7201, 1, 10)},
                    {kMax, kNormal}, {2, 1}, {kTariffCc, kTariffCc}},
        TriggerCase{"qos_and_tariff_count_together", 2, 10, {}, {}, {{13, 0}},
                    {use(1, 1, 10), qos(10, 5), use(11, 1, 10), tick(3600), use(3601, 1, 10)},
                    {kMax, kNormal}, {1, 1}, {kQosCc, kTariffCc}},
        TriggerCase{"one_change_below_buckets", 2, 10, {}, {}, {},
                    {use(1, 1, 10), qos(10, 5), use(11, 1, 10)},
                    {kNormal}, {1}, {kQosCc, kClosureCc}},
        TriggerCase{"buckets_1_every_change_closes", 1, 10, {}, {}, {{13, 0}},
                    {use(1, 1, 10), qos(10, 5), use(11, 1, 10), qos(20, 6), tick(3600)},
                    {kMax, kMax, kMax, kNormal}, {1, 1, 0, 0}, {kQosCc}},
        TriggerCase{"sdf_volume_closures_do_not_count", 1, 10, {100000, {}, {}}, {}, {},
                    {use(1, 10, 100000), use(2, 10, 100000), use(3, 20, 100000),
                     use(4, 10, 100000), use(5, 10, 5)},
                    {kNormal}, {5}, {kClosureCc}},
        TriggerCase{"sdf_interval_closures_do_not_count", 1, 10, {}, 60, {},
                    {use(0, 10, 1), use(0, 20, 1), tick(60), use(61, 10, 1), use(61, 20, 1),
                     tick(121), use(122, 10, 1), tick(182)},
                    {kNormal}, {5}, {kClosureCc}},
        TriggerCase{"sdf_closures_and_one_qos_change_stay_below_2", 2, 10, {100000, {}, {}}, {},
                    {},
                    {use(1, 10, 100000), use(2, 10, 100000), use(3, 10, 100000), qos(4, 7),
                     use(5, 10, 1)},
                    {kNormal}, {4}, {kQosCc, kClosureCc}}),
    [](const ::testing::TestParamInfo<TriggerCase>& i) { return i.param.name; });

// max_service_containers: a record holds at most that many service data containers, whatever
// closed them; a usage that needs one more closes the record first (maxChangeCond).
INSTANTIATE_TEST_SUITE_P(
    ServiceContainerLimit, TriggerTest,
    ::testing::Values(
        TriggerCase{"rating_groups_fill_the_record", 4, 2, {}, {}, {},
                    {use(1, 1, 10), use(2, 10, 10), use(3, 20, 10), use(4, 1, 10),
                     use(5, 10, 10)},
                    {kMax, kMax, kNormal}, {2, 2, 1}, {kClosureCc}},
        TriggerCase{"same_rating_group_needs_no_new_container", 4, 1, {}, {}, {},
                    {use(1, 1, 10), use(2, 1, 10), use(3, 1, 10)},
                    {kNormal}, {1}, {kClosureCc}},
        TriggerCase{"sdf_volume_closures_fill_it", 4, 3, {100000, {}, {}}, {}, {},
                    {use(1, 10, 100000), use(2, 10, 100000), use(3, 10, 100000), use(4, 10, 50)},
                    {kMax, kNormal}, {3, 1}, {kClosureCc}},
        TriggerCase{"sdf_interval_closures_fill_it", 4, 2, {}, 60, {},
                    {use(0, 10, 1), tick(60), use(61, 10, 1), tick(121), use(122, 10, 1)},
                    {kMax, kNormal}, {2, 1}, {kClosureCc}},
        TriggerCase{"tariff_closures_fill_it", 20, 2, {}, {}, {{13, 0}},
                    {use(10, 1, 1), use(20, 10, 1), tick(3600), use(3700, 1, 1)},
                    {kMax, kNormal}, {2, 1}, {kTariffCc, kClosureCc}},
        TriggerCase{"default_10", 4, 10, {}, {}, {},
                    {use(1, 1, 1), use(1, 2, 1), use(1, 3, 1), use(1, 4, 1), use(1, 5, 1),
                     use(1, 6, 1), use(1, 7, 1), use(1, 8, 1), use(1, 9, 1), use(1, 10, 1),
                     use(2, 11, 1), use(2, 12, 1), use(3, 1, 1)},
                    {kMax, kNormal}, {10, 3}, {kClosureCc}}),
    [](const ::testing::TestParamInfo<TriggerCase>& i) { return i.param.name; });

TEST_F(ChargingTest, FullRecordClosesAtTheUsageThatNeedsAnotherContainer) {
  profile(8).max_service_containers = 2;
  open(kT0);
  engine().usage(kSid, 1, vol(10, 0), at(1));
  engine().usage(kSid, 10, vol(20, 0), at(2));
  engine().usage(kSid, 1, vol(30, 0), at(3));  // no new container: stays open
  EXPECT_TRUE(records().empty());
  engine().usage(kSid, 20, vol(40, 0), at(4));  // a third container: the record closes first
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  const PgwRecord& r = recs[0];
  EXPECT_EQ(r.cause, Cause::kMaxChangeCond);
  EXPECT_EQ(r.record_sequence_number, std::optional<uint32_t>(1));
  EXPECT_EQ(r.duration_s, 4u);
  ASSERT_EQ(r.service_data.size(), 2u);
  EXPECT_EQ(r.service_data[0].rating_group, 1u);
  EXPECT_EQ(r.service_data[0].uplink_octets, 40u);
  EXPECT_EQ(r.service_data[0].service_condition_change, scBit(cdr::kScRecordClosure));
  EXPECT_EQ(r.service_data[1].rating_group, 10u);
  EXPECT_EQ(r.service_data[1].time_of_report_ns, at(4));
  // The usage that did not fit is in the next record, which opened at that instant.
  EXPECT_EQ(trafficSum(r), (Sum{60, 0}));
  auto v = engine().view(kSid);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->record_opening_time_ns, at(4));
  EXPECT_EQ(v->uplink_octets, 40u);
}

// ---- serving nodes ----

struct NodeCase {
  std::string name;
  uint32_t serving_nodes;
  std::vector<std::string> changes;
  // per record: its serving-node list (the last one is the open record, closed at the end)
  std::vector<std::vector<std::string>> want;
};

class ServingNodeTest : public ChargingTest, public ::testing::WithParamInterface<NodeCase> {};

TEST_P(ServingNodeTest, AppendsUntilOverflowThenStartsAgainWithTheNewNode) {
  const NodeCase& c = GetParam();
  profile(8).serving_nodes = c.serving_nodes;
  ChargingSessionInfo i = info();
  i.serving_node = ip("192.0.2.10");
  engine().open(i, kT0);
  int t = 1;
  for (const std::string& n : c.changes) {
    engine().usage(kSid, 1, vol(1, 1), at(t++));
    engine().servingNodeChange(kSid, ip(n.c_str()), at(t++));
  }
  engine().close(kSid, Cause::kNormalRelease, at(t));
  auto recs = records();
  ASSERT_EQ(recs.size(), c.want.size()) << c.name;
  for (size_t r = 0; r < recs.size(); ++r) {
    std::vector<IpAddress> want;
    for (const std::string& n : c.want[r]) {
      want.push_back(ip(n.c_str()));
    }
    EXPECT_EQ(recs[r].serving_nodes, want) << c.name << " record " << r;
    EXPECT_EQ(recs[r].serving_node_types.size(), want.size());
    EXPECT_EQ(recs[r].cause,
              r + 1 < recs.size() ? Cause::kServingNodeChange : Cause::kNormalRelease);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Lists, ServingNodeTest,
    ::testing::Values(
        NodeCase{"one_node", 1, {"192.0.2.11"}, {{"192.0.2.10"}, {"192.0.2.11"}}},
        NodeCase{"one_node_same", 1, {"192.0.2.10", "192.0.2.10"}, {{"192.0.2.10"}}},
        NodeCase{"one_node_twice",
                 1,
                 {"192.0.2.11", "192.0.2.11", "192.0.2.12"},
                 {{"192.0.2.10"}, {"192.0.2.11"}, {"192.0.2.12"}}},
        NodeCase{"four_fill",
                 4,
                 {"192.0.2.11", "192.0.2.12", "192.0.2.13"},
                 {{"192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"}}},
        NodeCase{"four_overflow",
                 4,
                 {"192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.13", "192.0.2.14"},
                 {{"192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"}, {"192.0.2.14"}}},
        // back to an earlier node is a change (only "already last" is not)
        NodeCase{"four_back_and_forth",
                 4,
                 {"192.0.2.11", "192.0.2.10", "192.0.2.11", "192.0.2.10"},
                 {{"192.0.2.10", "192.0.2.11", "192.0.2.10", "192.0.2.11"}, {"192.0.2.10"}}}),
    [](const ::testing::TestParamInfo<NodeCase>& i) { return i.param.name; });

TEST_F(ChargingTest, ServiceContainerTakesTheServingNodeOfItsFirstUsage) {
  open(kT0);
  engine().servingNodeChange(kSid, ip("192.0.2.20"), at(1));
  engine().usage(kSid, 10, vol(1, 0), at(2));
  engine().close(kSid, Cause::kNormalRelease, at(3));
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].service_data[0].serving_node, std::optional<IpAddress>(ip("192.0.2.20")));
}

// The serving node of traffic without GTP-U, and the split of service containers at a change.
struct SplitStep {
  double t;
  std::string handover;  // empty: a usage of `rg` with `ul` octets
  uint32_t rg = 0;
  uint64_t ul = 0;
};
struct WantContainer {
  uint32_t rg;
  std::string node;  // empty: no servingNodeAddress
  uint64_t ul;
  uint64_t bits;
};
struct WantRecord {
  std::vector<std::string> nodes;
  std::vector<cdr::ServingNodeType> types;
  Cause cause;
  std::vector<WantContainer> containers;
};
struct SplitCase {
  std::string name;
  std::string access_node;  // node.access_node_address; empty: not configured
  uint8_t access_type;      // node.access_node_type
  std::string gtp_node;     // the GTP-U peer known at open (ChargingSessionInfo::serving_node)
  uint32_t serving_nodes;
  uint64_t volume;  // profile volume total, 0: off
  std::vector<SplitStep> steps;
  std::vector<WantRecord> want;
};

class ServingNodeSplitTest : public ChargingTest, public ::testing::WithParamInterface<SplitCase> {};

TEST_P(ServingNodeSplitTest, ContainersShowTheNodeTheirUsageWentThrough) {
  const SplitCase& c = GetParam();
  if (!c.access_node.empty()) {
    config_.node.access_node_address = ip(c.access_node.c_str());
    config_.node.access_node_type = c.access_type;
  }
  profile(8).serving_nodes = c.serving_nodes;
  if (c.volume != 0) {
    profile(8).volume.total = c.volume;
  }
  ChargingSessionInfo i = info();
  if (!c.gtp_node.empty()) {
    i.serving_node = ip(c.gtp_node.c_str());
  }
  engine().open(i, kT0);
  for (const SplitStep& s : c.steps) {
    if (!s.handover.empty()) {
      engine().servingNodeChange(kSid, ip(s.handover.c_str()), at(s.t));
    } else {
      engine().usage(kSid, s.rg, vol(s.ul, 0), at(s.t));
    }
  }
  engine().close(kSid, Cause::kNormalRelease, at(100));
  auto recs = records();
  ASSERT_EQ(recs.size(), c.want.size()) << c.name;
  for (size_t r = 0; r < recs.size(); ++r) {
    const WantRecord& w = c.want[r];
    std::vector<IpAddress> nodes;
    for (const std::string& n : w.nodes) {
      nodes.push_back(ip(n.c_str()));
    }
    EXPECT_EQ(recs[r].serving_nodes, nodes) << c.name << " record " << r;
    EXPECT_EQ(recs[r].serving_node_types, w.types) << c.name << " record " << r;
    EXPECT_EQ(recs[r].cause, w.cause) << c.name << " record " << r;
    ASSERT_EQ(recs[r].service_data.size(), w.containers.size()) << c.name << " record " << r;
    for (size_t k = 0; k < w.containers.size(); ++k) {
      const cdr::ServiceContainer& got = recs[r].service_data[k];
      const WantContainer& want = w.containers[k];
      const std::string where = c.name + " record " + std::to_string(r) + " container " +
                                std::to_string(k);
      EXPECT_EQ(got.rating_group, want.rg) << where;
      EXPECT_EQ(got.serving_node, want.node.empty() ? std::nullopt
                                                    : std::optional(ip(want.node.c_str())))
          << where;
      EXPECT_EQ(got.uplink_octets, want.ul) << where;
      EXPECT_EQ(got.service_condition_change, want.bits) << where;
    }
  }
}

constexpr auto kGtp = cdr::ServingNodeType::kGtpSgw;
constexpr auto kTwan = cdr::ServingNodeType::kTwan;
constexpr auto kEpdg = cdr::ServingNodeType::kEpdg;
const uint64_t kClosure = scBit(cdr::kScRecordClosure);
const uint64_t kSgsn = scBit(cdr::kScSgsnChange);

INSTANTIATE_TEST_SUITE_P(
    Split, ServingNodeSplitTest,
    ::testing::Values(
        // Without GTP-U and without an access node: no serving node at all (empty lists), never
        // the P-GW's own address.
        SplitCase{"no_gtp_no_access_node", "", 0, "", 4, 0,
                  {{1, "", 1, 10}},
                  {{{}, {}, Cause::kNormalRelease, {{1, "", 10, kClosure}}}}},
        // Without GTP-U: the configured access node with its configured type.
        SplitCase{"access_node_twan", "192.0.2.50", 6, "", 4, 0,
                  {{1, "", 1, 10}, {2, "", 2, 20}},
                  {{{"192.0.2.50"}, {kTwan}, Cause::kNormalRelease,
                    {{1, "192.0.2.50", 10, kClosure}, {2, "192.0.2.50", 20, kClosure}}}}},
        // A handover closes every open service container (sGSNChange); the usage after it is
        // in new containers under the new node.
        SplitCase{"handover_splits_every_container", "", 0, "192.0.2.10", 4, 0,
                  {{1, "", 1, 10}, {2, "", 2, 20}, {3, "192.0.2.11"}, {4, "", 1, 5}},
                  {{{"192.0.2.10", "192.0.2.11"}, {kGtp, kGtp}, Cause::kNormalRelease,
                    {{1, "192.0.2.10", 10, kSgsn},
                     {2, "192.0.2.10", 20, kSgsn},
                     {1, "192.0.2.11", 5, kClosure}}}}},
        // The same node again is no change: nothing closes.
        SplitCase{"same_node_no_split", "", 0, "192.0.2.10", 4, 0,
                  {{1, "", 1, 10}, {2, "192.0.2.10"}, {3, "", 1, 5}},
                  {{{"192.0.2.10"}, {kGtp}, Cause::kNormalRelease,
                    {{1, "192.0.2.10", 15, kClosure}}}}},
        // From the access node to a GTP-U peer (and back): each entry with its own type.
        SplitCase{"access_node_then_gtp_and_back", "192.0.2.50", 3, "", 4, 0,
                  {{1, "", 1, 10}, {2, "192.0.2.11"}, {3, "", 1, 5}, {4, "192.0.2.50"},
                   {5, "", 1, 7}},
                  {{{"192.0.2.50", "192.0.2.11", "192.0.2.50"}, {kEpdg, kGtp, kEpdg},
                    Cause::kNormalRelease,
                    {{1, "192.0.2.50", 10, kSgsn},
                     {1, "192.0.2.11", 5, kSgsn},
                     {1, "192.0.2.50", 7, kClosure}}}}},
        // No node at first, then a GTP-U peer: the usage before it has no node.
        SplitCase{"none_then_gtp", "", 0, "", 4, 0,
                  {{1, "", 1, 10}, {2, "192.0.2.11"}, {3, "", 1, 5}},
                  {{{"192.0.2.11"}, {kGtp}, Cause::kNormalRelease,
                    {{1, "", 10, kSgsn}, {1, "192.0.2.11", 5, kClosure}}}}},
        // List overflow: the containers close with sGSNChange, then the record (partial,
        // servingNodeChange); the next record starts with the new node alone.
        SplitCase{"overflow_partial", "", 0, "192.0.2.10", 1, 0,
                  {{1, "", 1, 10}, {2, "192.0.2.11"}, {3, "", 1, 5}},
                  {{{"192.0.2.10"}, {kGtp}, Cause::kServingNodeChange,
                    {{1, "192.0.2.10", 10, kSgsn}}},
                   {{"192.0.2.11"}, {kGtp}, Cause::kNormalRelease,
                    {{1, "192.0.2.11", 5, kClosure}}}}},
        // A partial record for another reason starts the next one with the node serving the
        // session now (before: the P-GW's address when the list was empty).
        SplitCase{"volume_partial_keeps_the_current_node", "", 0, "192.0.2.10", 4, 100000,
                  {{1, "192.0.2.11"}, {2, "", 1, 100000}, {3, "", 1, 5}},
                  {{{"192.0.2.10", "192.0.2.11"}, {kGtp, kGtp}, Cause::kVolumeLimit,
                    {{1, "192.0.2.11", 100000, kClosure}}},
                   {{"192.0.2.11"}, {kGtp}, Cause::kNormalRelease,
                    {{1, "192.0.2.11", 5, kClosure}}}}},
        SplitCase{"volume_partial_without_node", "", 0, "", 4, 100000,
                  {{1, "", 1, 100000}, {2, "", 1, 5}},
                  {{{}, {}, Cause::kVolumeLimit, {{1, "", 100000, kClosure}}},
                   {{}, {}, Cause::kNormalRelease, {{1, "", 5, kClosure}}}}}),
    [](const ::testing::TestParamInfo<SplitCase>& i) { return i.param.name; });

// abnormalRelease records carry diagnostics (gsm0408Cause 38); node.plmn_id and node.rat_type
// go into every record.
TEST_F(ChargingTest, ConfiguredFieldsAndDiagnostics) {
  config_.node.plmn_id = "26201";
  config_.node.rat_type = 3;
  config_.accounting.cdr.apn_selection_mode = 0;
  profile(8).volume.total = 100000;
  open(kT0);
  engine().usage(kSid, 1, vol(100000, 0), at(1));  // partial, volumeLimit
  engine().usage(kSid, 1, vol(1, 0), at(2));
  engine().close(kSid, Cause::kAbnormalRelease, at(3));
  auto recs = records();
  ASSERT_EQ(recs.size(), 2u);
  for (const PgwRecord& r : recs) {
    EXPECT_EQ(r.pgw_plmn_id, "26201");
    EXPECT_EQ(r.serving_node_plmn_id, "26201");
    EXPECT_EQ(r.rat_type, std::optional<uint8_t>(3));
    EXPECT_EQ(r.apn_selection_mode,
              std::optional(cdr::ApnSelectionMode::kMsOrNetworkProvidedSubscriptionVerified));
    EXPECT_EQ(r.pdn_connection_charging_id, std::optional<uint32_t>(r.charging_id));
  }
  EXPECT_EQ(recs[0].diagnostics_gsm0408_cause, std::nullopt);
  EXPECT_EQ(recs[1].diagnostics_gsm0408_cause, std::optional<uint8_t>(38));
  // A session's own RAT type and CC selection mode win over the configuration.
  ChargingSessionInfo i = info(kSid + 1);
  i.rat_type = 6;
  i.ch_ch_selection_mode = cdr::ChChSelectionMode::kServingNodeSupplied;
  engine().open(i, at(4));
  // The crash checkpoint's records are abnormalRelease: with diagnostics too.
  engine().usage(kSid + 1, 1, vol(1, 0), at(5));
  auto snap = engine().snapshotOpen(at(6));
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].diagnostics_gsm0408_cause, std::optional<uint8_t>(38));
  engine().close(kSid + 1, Cause::kNormalRelease, at(7));
  auto recs2 = records(kSid + 1);
  ASSERT_EQ(recs2.size(), 1u);
  EXPECT_EQ(recs2[0].rat_type, std::optional<uint8_t>(6));
  EXPECT_EQ(recs2[0].ch_ch_selection_mode,
            std::optional(cdr::ChChSelectionMode::kServingNodeSupplied));
}

// ---- record sequence numbers, local sequence numbers, start/stop ----

class SequenceTest : public ChargingTest, public ::testing::WithParamInterface<int> {};

TEST_P(SequenceTest, NumberedOnlyWhenMoreThanOneRecord) {
  const int partials = GetParam();
  profile(8).interval_s = 60;
  open(kT0);
  for (int i = 1; i <= partials; ++i) {
    engine().tick(at(60.0 * i));
  }
  engine().close(kSid, Cause::kNormalRelease, at(60.0 * partials + 1));
  auto recs = records();
  ASSERT_EQ(recs.size(), static_cast<size_t>(partials + 1));
  for (size_t i = 0; i < recs.size(); ++i) {
    if (partials == 0) {
      EXPECT_FALSE(recs[i].record_sequence_number.has_value());
    } else {
      EXPECT_EQ(recs[i].record_sequence_number, std::optional<uint32_t>(i + 1));
    }
    EXPECT_EQ(recs[i].start_time_ns.has_value(), i == 0);
    EXPECT_EQ(recs[i].stop_time_ns.has_value(), i + 1 == recs.size());
    EXPECT_EQ(recs[i].charging_id, recs[0].charging_id);
    EXPECT_EQ(recs[i].local_sequence_number, i + 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Partials, SequenceTest, ::testing::Values(0, 1, 2, 5));

TEST_F(ChargingTest, LocalSequenceRunsOverAllSessionsAndChargingIdsDiffer) {
  profile(8).interval_s = 60;
  open(kT0, 1);
  open(at(30), 2);
  engine().tick(at(60));  // session 1 partial
  engine().tick(at(90));  // session 2 partial
  engine().close(2, Cause::kNormalRelease, at(91));
  engine().close(1, Cause::kNormalRelease, at(92));
  std::vector<uint64_t> lsn;
  for (const auto& e : sink_.emitted) {
    lsn.push_back(e.record.local_sequence_number);
  }
  EXPECT_EQ(lsn, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(records(1)[0].charging_id, 1u);
  EXPECT_EQ(records(2)[0].charging_id, 2u);
  EXPECT_EQ(records(2)[1].record_sequence_number, std::optional<uint32_t>(2));
}

// ---- robustness and the view ----

TEST_F(ChargingTest, UnknownSessionsAndDuplicateOpenAreIgnored) {
  engine().usage(5, 1, vol(1, 1), kT0);
  engine().qosChange(5, 9, kT0);
  engine().servingNodeChange(5, ip("192.0.2.9"), kT0);
  engine().close(5, Cause::kNormalRelease, kT0);
  EXPECT_FALSE(engine().view(5).has_value());
  open(kT0);
  engine().usage(kSid, 1, vol(5, 5), at(1));
  open(at(2));  // duplicate: keeps the open CDR and its usage
  EXPECT_EQ(engine().openSessions(), 1u);
  EXPECT_EQ(engine().view(kSid)->uplink_octets, 5u);
  EXPECT_EQ(engine().view(kSid)->charging_id, 1u);
  EXPECT_TRUE(sink_.emitted.empty());
}

TEST_F(ChargingTest, ViewShowsTheOpenRecord) {
  profile(8).volume.total = 100000;
  profile(8).buckets = 10;
  open(kT0);
  engine().usage(kSid, 1, vol(100000, 0), at(1));  // partial
  engine().usage(kSid, 1, vol(30, 40), at(2));
  engine().qosChange(kSid, 5, at(3));
  engine().servingNodeChange(kSid, ip("192.0.2.30"), at(4));
  auto v = engine().view(kSid);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->charging_id, 1u);
  EXPECT_EQ(v->records_closed, 1u);
  EXPECT_EQ(v->record_opening_time_ns, at(1));
  EXPECT_EQ(v->uplink_octets, 30u);
  EXPECT_EQ(v->downlink_octets, 40u);
  EXPECT_EQ(v->traffic_containers_closed, 1u);
  EXPECT_EQ(v->serving_nodes, (std::vector<IpAddress>{ip("192.0.2.30")}));
}

// ---- exactness under random usage and random triggers ----

class ExactnessTest : public ChargingTest, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(ExactnessTest, RecordsAddUpToTheInput) {
  std::mt19937_64 rng(GetParam());
  auto pick = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  useZone("Europe/Berlin");
  config_.node.access_node_address = ip("192.0.2.200");  // every record has a serving node
  config_.node.access_node_type = 6;                     // tWAN
  for (CcProfile& p : config_.accounting.cc_profiles) {
    p.buckets = static_cast<uint32_t>(pick(1, 5));
    p.max_service_containers = static_cast<uint32_t>(pick(1, 6));
    p.serving_nodes = static_cast<uint32_t>(pick(1, 4));
    if (pick(0, 1)) {
      p.volume.total = pick(100000, 400000);
    } else if (pick(0, 1)) {
      p.volume.uplink = pick(100000, 300000);
      p.volume.downlink = pick(100000, 300000);
    }
    if (pick(0, 1)) {
      p.sdf_volume.total = pick(100000, 200000);
    } else if (pick(0, 1)) {
      p.sdf_volume.downlink = pick(100000, 200000);
    }
    if (pick(0, 1)) {
      p.interval_s = static_cast<uint32_t>(pick(60, 900));
      p.interval_min_volume = pick(0, 1) ? pick(1, 200000) : 0;
    }
    if (pick(0, 1)) {
      p.sdf_interval_s = static_cast<uint32_t>(pick(60, 600));
    }
    p.tariff.clear();
    for (uint64_t n = pick(0, 4); n > 0; --n) {
      TariffTime t{static_cast<uint8_t>(pick(0, 23)), static_cast<uint8_t>(pick(0, 59))};
      if (std::find(p.tariff.begin(), p.tariff.end(), t) == p.tariff.end()) {
        p.tariff.push_back(t);
      }
    }
  }
  const uint8_t kProfiles[] = {1, 2, 4, 8};
  const uint32_t kRatingGroups[] = {1, 10, 20, 30};
  std::map<uint64_t, Sum> input;
  std::map<uint64_t, uint8_t> profile_of;
  std::vector<uint64_t> open_ids;
  uint64_t next_id = 1;
  int64_t now = 1774600000LL * kS;  // a day before the Berlin spring change

  for (int step = 0; step < 6000; ++step) {
    const uint64_t op = pick(0, 99);
    if (open_ids.size() < 3 || op < 2) {
      ChargingSessionInfo i = info(next_id, kProfiles[pick(0, 3)]);
      engine().open(i, now);
      profile_of[next_id] = i.cc_profile;
      input[next_id] = {};
      open_ids.push_back(next_id++);
      continue;
    }
    const uint64_t id = open_ids[pick(0, open_ids.size() - 1)];
    if (op < 60) {
      FlowCounters d{pick(0, 60000), pick(0, 40), pick(0, 90000), pick(0, 60)};
      engine().usage(id, kRatingGroups[pick(0, 3)], d, now);
      input[id].ul += d.ul_octets;
      input[id].dl += d.dl_octets;
    } else if (op < 63) {
      engine().qosChange(id, static_cast<uint8_t>(pick(1, 9)), now);
    } else if (op < 67) {
      const std::string n = "192.0.2." + std::to_string(pick(10, 14));
      engine().servingNodeChange(id, ip(n.c_str()), now);
    } else if (op < 95) {
      now += static_cast<int64_t>(pick(0, 240)) * kS + static_cast<int64_t>(pick(0, kS - 1));
      engine().tick(now);
    } else if (op < 97) {
      const Cause causes[] = {Cause::kNormalRelease, Cause::kAbnormalRelease,
                              Cause::kManagementIntervention};
      engine().close(id, causes[pick(0, 2)], now);
      open_ids.erase(std::find(open_ids.begin(), open_ids.end(), id));
    }
  }
  for (uint64_t id : open_ids) {
    engine().close(id, Cause::kManagementIntervention, now);
  }
  EXPECT_EQ(engine().openSessions(), 0u);

  uint64_t last_lsn = 0;
  for (const auto& e : sink_.emitted) {
    EXPECT_GT(e.record.local_sequence_number, last_lsn);
    last_lsn = e.record.local_sequence_number;
    EXPECT_EQ(e.flush_now, profile_of[e.record.session_id] == 1);
  }
  for (const auto& [id, in] : input) {
    auto recs = records(id);
    ASSERT_FALSE(recs.empty()) << "session " << id;
    const CcProfile& p = config_.accounting.profile(profile_of[id]);
    Sum traffic;
    Sum service;
    for (size_t k = 0; k < recs.size(); ++k) {
      const PgwRecord& r = recs[k];
      const bool last = k + 1 == recs.size();
      // Traffic and service containers of one record carry the same usage.
      EXPECT_EQ(trafficSum(r), serviceSum(r)) << "session " << id << " record " << k;
      traffic.ul += trafficSum(r).ul;
      traffic.dl += trafficSum(r).dl;
      service.ul += serviceSum(r).ul;
      service.dl += serviceSum(r).dl;
      if (recs.size() == 1) {
        EXPECT_FALSE(r.record_sequence_number.has_value());
      } else {
        EXPECT_EQ(r.record_sequence_number, std::optional<uint32_t>(k + 1));
      }
      EXPECT_EQ(r.start_time_ns.has_value(), k == 0);
      EXPECT_EQ(r.stop_time_ns.has_value(), last);
      const bool final_cause = r.cause == Cause::kNormalRelease ||
                               r.cause == Cause::kAbnormalRelease ||
                               r.cause == Cause::kManagementIntervention;
      EXPECT_EQ(final_cause, last) << "session " << id << " record " << k;
      EXPECT_EQ(r.charging_id, recs[0].charging_id);
      EXPECT_GE(r.serving_nodes.size(), 1u);
      EXPECT_LE(r.serving_nodes.size(), p.serving_nodes);
      EXPECT_EQ(r.serving_node_types.size(), r.serving_nodes.size());
      // Each service container shows a node of its record (a change closes the open ones).
      for (const auto& sc : r.service_data) {
        ASSERT_TRUE(sc.serving_node.has_value());
        EXPECT_NE(std::find(r.serving_nodes.begin(), r.serving_nodes.end(), *sc.serving_node),
                  r.serving_nodes.end());
      }
      ASSERT_FALSE(r.traffic_volumes.empty());
      uint32_t changes = 0;
      int64_t prev = r.record_opening_time_ns;
      for (const auto& tc : r.traffic_volumes) {
        changes += tc.change_condition != ChangeCondition::kRecordClosure;
        EXPECT_GE(tc.change_time_ns, prev);
        prev = tc.change_time_ns;
      }
      EXPECT_LE(changes, p.buckets);
      // ePCQoSInformation: on the first container of every record, then exactly on those that
      // follow a qoSChange container.
      for (size_t t = 0; t < r.traffic_volumes.size(); ++t) {
        const bool want_qos =
            t == 0 || r.traffic_volumes[t - 1].change_condition == ChangeCondition::kQosChange;
        EXPECT_EQ(r.traffic_volumes[t].qci != 0, want_qos)
            << "session " << id << " record " << k << " container " << t;
        EXPECT_EQ(r.traffic_volumes[t].arp.has_value(), want_qos);
      }
      for (const auto& sc : r.service_data) {
        EXPECT_NE(sc.service_condition_change, 0u);
      }
      EXPECT_LE(r.service_data.size(), p.max_service_containers);
      // maxChangeCond only when `buckets` QoS changes / tariff times or a full listOfServiceData
      // closed the record; never for sdf closures alone.
      if (r.cause == Cause::kMaxChangeCond) {
        EXPECT_TRUE(changes == p.buckets || r.service_data.size() == p.max_service_containers)
            << "session " << id << " record " << k << ": " << changes << " changes, "
            << r.service_data.size() << " service containers";
      }
      if (r.cause == Cause::kVolumeLimit) {
        ASSERT_TRUE(p.volume.enabled());
      }
      if (k > 0) {
        EXPECT_GE(r.record_opening_time_ns, recs[k - 1].record_opening_time_ns);
      }
    }
    EXPECT_EQ(traffic, in) << "session " << id;
    EXPECT_EQ(service, in) << "session " << id;
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, ExactnessTest, ::testing::Values(1u, 2u, 3u, 42u, 1234u, 99991u));

}  // namespace
}  // namespace tally
