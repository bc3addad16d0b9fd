// cdr_sample_writer: writes TS 32.297 CDR files with varied PGW-CDRs through tally's own
// encoder, plus a JSON "truth" file with the values that were put into every record.
//
//   cdr_sample_writer --out-dir DIR --truth FILE.json
//
// tests/cdr/verify_cdr.py decodes the files with decoders that share no code with tally
// (asn1c's generated C decoder, tshark's gprscdr dissector) and compares every decoded value
// with the truth. The truth is what we INTENDED to encode: it is written from the PgwRecord
// values (digits, address literals, numbers, bit numbers, ASN.1 names) and, for time stamps,
// from TimeZone::toLocal (verify_cdr.py cross-checks those local times with Python's
// zoneinfo). Nothing in the truth comes from tally's encoder or file writer.
//
// Files (one per time zone, each through its own writer):
//   Europe/Berlin     21 records: summer (+02:00) and winter (+01:00) dates, both DST
//                     changes inside a record, the local year change
//   America/New_York  negative offsets ('-' sign), one DST change
//   Asia/Kolkata      a +05:30 offset (minutes in the offset)
//   UTC               records made by tally's charging engine (not by hand): the session's
//                     initial QoS in the first traffic container (ePCQoSInformation qCI 9,
//                     aRP 100), a QoS change, a tariff time, partials closed by buckets and by
//                     max_service_containers (maxChangeCond), a QCI >= 128 from the identity;
//                     with node.plmn_id, node.rat_type and an access node (tWAN): the fields
//                     every engine record carries (apnSelectionMode, chChSelectionMode,
//                     pDNConnectionChargingID, PLMN ids, rATType), diagnostics on
//                     abnormalRelease, a handover splitting the service containers
//                     (sGSNChange) with the access node and a GTP-U S-GW in one record, and a
//                     session without any serving node (empty servingNodeAddress and
//                     servingNodeType lists)
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/cdr/cdr.h"
#include "controlplane/charging/charging.h"
#include "controlplane/cdr/cdr_encode.h"
#include "controlplane/cdr/cdr_file.h"
#include "controlplane/storage/sequence_store.h"
#include "shared/clock.h"
#include "shared/config.h"
#include "shared/net.h"
#include "shared/timezone.h"

namespace {

using tally::IpAddress;
using tally::TimeZone;
using namespace tally::cdr;

constexpr int64_t kNs = 1000000000;

// Seconds a TimeStamp should show for a nanosecond time: floor (written here, not taken from
// the encoder).
int64_t floorSeconds(int64_t ns) { return ns >= 0 ? ns / kNs : -((-ns + kNs - 1) / kNs); }

constexpr const char* kNodeId = "gw-biller-01";
constexpr const char* kNodeAddress = "198.51.100.1";

class FixedClock final : public tally::Clock {
 public:
  explicit FixedClock(int64_t wall_ns) : wall_ns_(wall_ns) {}
  int64_t monotonicNs() const override { return wall_ns_; }
  int64_t wallNs() const override { return wall_ns_; }

 private:
  int64_t wall_ns_;
};

// ---- a tiny JSON writer --------------------------------------------------------------------
class Json {
 public:
  Json& open(char c) {
    sep();
    out_ += c;
    first_ = true;
    return *this;
  }
  Json& close(char c) {
    out_ += c;
    first_ = false;
    return *this;
  }
  Json& key(const std::string& k) {
    sep();
    str(k);
    out_ += ": ";
    first_ = true;  // the value follows without a comma
    return *this;
  }
  Json& s(const std::string& v) {
    sep();
    str(v);
    return *this;
  }
  Json& u(uint64_t v) {
    sep();
    out_ += std::to_string(v);
    return *this;
  }
  Json& i(int64_t v) {
    sep();
    out_ += std::to_string(v);
    return *this;
  }
  Json& b(bool v) {
    sep();
    out_ += v ? "true" : "false";
    return *this;
  }
  Json& null() {
    sep();
    out_ += "null";
    return *this;
  }
  const std::string& text() const { return out_; }

 private:
  void sep() {
    if (!first_) out_ += ", ";
    first_ = false;
  }
  void str(const std::string& v) {
    out_ += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out_ += buf;
      } else {
        out_ += c;
      }
    }
    out_ += '"';
  }
  std::string out_;
  bool first_ = true;
};

// ---- building records ------------------------------------------------------------------------
IpAddress ip(const char* text) {
  auto a = tally::parseIpAddress(text);
  if (!a) {
    std::fprintf(stderr, "bad address literal %s\n", text);
    std::exit(2);
  }
  return *a;
}

// The address literal each IpAddress was built from (the truth uses the literal, not
// tally's formatter).
struct Literal {
  IpAddress a;
  std::string text;
};
std::vector<Literal> g_literals;
IpAddress lit(const char* text) {
  IpAddress a = ip(text);
  g_literals.push_back({a, text});
  return a;
}
std::string literalOf(const IpAddress& a) {
  for (const Literal& l : g_literals)
    if (l.a == a) return l.text;
  std::fprintf(stderr, "address without a literal\n");
  std::exit(2);
}

struct Sample {
  std::string name;  // what the record exercises
  PgwRecord r;
};

const char* causeName(Cause c) {
  switch (c) {
    case Cause::kNormalRelease: return "normalRelease";
    case Cause::kAbnormalRelease: return "abnormalRelease";
    case Cause::kVolumeLimit: return "volumeLimit";
    case Cause::kTimeLimit: return "timeLimit";
    case Cause::kServingNodeChange: return "servingNodeChange";
    case Cause::kMaxChangeCond: return "maxChangeCond";
    case Cause::kManagementIntervention: return "managementIntervention";
  }
  return "?";
}
const char* changeConditionName(ChangeCondition c) {
  switch (c) {
    case ChangeCondition::kQosChange: return "qoSChange";
    case ChangeCondition::kTariffTime: return "tariffTime";
    case ChangeCondition::kRecordClosure: return "recordClosure";
  }
  return "?";
}
const char* servingNodeTypeName(ServingNodeType t) {
  switch (t) {
    case ServingNodeType::kSgsn: return "sGSN";
    case ServingNodeType::kPmipSgw: return "pMIPSGW";
    case ServingNodeType::kGtpSgw: return "gTPSGW";
    case ServingNodeType::kEpdg: return "ePDG";
    case ServingNodeType::kHsgw: return "hSGW";
    case ServingNodeType::kMme: return "mME";
    case ServingNodeType::kTwan: return "tWAN";
  }
  return "?";
}
const char* apnSelectionModeName(ApnSelectionMode m) {
  switch (m) {
    case ApnSelectionMode::kMsOrNetworkProvidedSubscriptionVerified:
      return "mSorNetworkProvidedSubscriptionVerified";
    case ApnSelectionMode::kMsProvidedSubscriptionNotVerified:
      return "mSProvidedSubscriptionNotVerified";
    case ApnSelectionMode::kNetworkProvidedSubscriptionNotVerified:
      return "networkProvidedSubscriptionNotVerified";
  }
  return "?";
}
const char* chChSelectionModeName(ChChSelectionMode m) {
  switch (m) {
    case ChChSelectionMode::kServingNodeSupplied: return "servingNodeSupplied";
    case ChChSelectionMode::kHomeDefault: return "homeDefault";
    case ChChSelectionMode::kRoamingDefault: return "roamingDefault";
    case ChChSelectionMode::kVisitingDefault: return "visitingDefault";
  }
  return "?";
}

// A plain final record: one service container, IPv4 subscriber.
PgwRecord base(int64_t open_s, uint32_t duration_s, uint32_t charging_id, uint64_t lsn) {
  PgwRecord r;
  r.imsi = "001010123456789";
  r.msisdn = "491701234567";
  r.served_address = lit("10.45.0.7");
  r.pgw_address = lit("198.51.100.1");
  r.charging_id = charging_id;
  r.serving_nodes = {lit("192.0.2.10")};
  r.serving_node_types = {ServingNodeType::kGtpSgw};
  r.apn = "internet";
  r.dynamic_address = true;
  r.record_opening_time_ns = open_s * kNs;
  r.duration_s = duration_s;
  r.cause = Cause::kNormalRelease;
  r.node_id = "gw-biller-01";
  r.local_sequence_number = lsn;
  r.charging_characteristics = 0x0800;
  ServiceContainer c;
  c.rating_group = 100;
  c.local_sequence_number = 1;
  c.time_of_first_usage_ns = open_s * kNs + 250000000;  // sub-second: TimeStamps floor
  c.time_of_last_usage_ns = (open_s + duration_s) * kNs - 1;
  c.time_usage_s = duration_s;
  c.service_condition_change = scBit(kScRecordClosure);
  c.serving_node = r.serving_nodes[0];
  c.uplink_octets = 150000;
  c.downlink_octets = 3000000;
  c.time_of_report_ns = (open_s + duration_s) * kNs;
  r.service_data = {c};
  r.start_time_ns = r.record_opening_time_ns;
  r.stop_time_ns = (open_s + duration_s) * kNs;
  return r;
}

ServiceContainer service(uint32_t rg, uint32_t lsn, int64_t first_s, int64_t last_s,
                         uint64_t scc, uint64_t up, uint64_t down, int64_t report_s) {
  ServiceContainer c;
  c.rating_group = rg;
  c.local_sequence_number = lsn;
  c.time_of_first_usage_ns = first_s ? first_s * kNs : 0;
  c.time_of_last_usage_ns = last_s ? last_s * kNs : 0;
  c.time_usage_s = first_s && last_s ? static_cast<uint32_t>(last_s - first_s) : 0;
  c.service_condition_change = scc;
  c.uplink_octets = up;
  c.downlink_octets = down;
  c.time_of_report_ns = report_s * kNs;
  return c;
}

TrafficContainer traffic(uint64_t up, uint64_t down, ChangeCondition cc, int64_t t_s, uint8_t qci,
                         std::optional<uint8_t> arp = std::nullopt) {
  TrafficContainer t;
  t.uplink_octets = up;
  t.downlink_octets = down;
  t.change_condition = cc;
  t.change_time_ns = t_s * kNs;
  t.qci = qci;
  t.arp = arp;
  return t;
}

// 2024-07-15 08:00:00 UTC (10:00 CEST), 2024-01-20 09:00:00 UTC (10:00 CET)
constexpr int64_t kSummer = 1721030400;
constexpr int64_t kWinter = 1705741200;
constexpr int64_t kFallBack = 1729989000;    // 2024-10-27 00:30 UTC = 02:30 CEST; 01:00 UTC -> CET
constexpr int64_t kSpringFwd = 1711845900;   // 2024-03-31 00:45 UTC = 01:45 CET; 01:00 UTC -> CEST
constexpr int64_t kYearEnd = 1735685999;     // 2024-12-31 22:59:59 UTC = 23:59:59 CET
constexpr uint64_t k2p31 = 2147483648ULL;
constexpr uint64_t k2p40 = 1099511627776ULL;

std::vector<Sample> berlinSamples() {
  std::vector<Sample> v;
  uint64_t lsn = 1;
  {  // 1: the worked-example-like plain record
    PgwRecord r = base(kSummer, 3600, 0x89ABCDEF, lsn++);
    r.apn_selection_mode = ApnSelectionMode::kMsOrNetworkProvidedSubscriptionVerified;
    r.ch_ch_selection_mode = ChChSelectionMode::kServingNodeSupplied;
    r.serving_node_plmn_id = "00101";
    r.rat_type = 6;
    r.ms_time_zone = std::array<uint8_t, 2>{0x80, 0x00};
    r.user_location_information = {0x18, 0x00, 0xF1, 0x10, 0x00, 0x01, 0x00, 0xF1, 0x10, 0x00, 0x00, 0x01, 0x01};
    r.pgw_plmn_id = "00101";
    r.service_data[0].charging_rule_base_name = "rb-internet";
    r.service_data[0].service_identifier = 1001;
    v.push_back({"plain_summer_ipv4", r});
  }
  {  // 2: winter, volumes 0 / 127 / 128 around the one-octet boundary, two rating groups
    PgwRecord r = base(kWinter, 600, 1, lsn++);
    r.service_data = {
        service(1, 1, kWinter + 1, kWinter + 500, scBit(kScRecordClosure), 0, 127, kWinter + 600),
        service(2, 2, kWinter + 10, kWinter + 20, scBit(kScRecordClosure), 128, 255, kWinter + 600)};
    r.service_data[0].serving_node = r.serving_nodes[0];
    v.push_back({"winter_small_volumes", r});
  }
  {  // 3: 2^31, 3e9, 2^40 volumes; charging id with the top bit set; 4 containers
    PgwRecord r = base(kSummer + 86400, 7200, 0x80000000u, lsn++);
    const int64_t o = kSummer + 86400;
    r.service_data = {
        service(10, 3, o + 1, o + 7000, scBit(kScRecordClosure), k2p31, 3000000000ULL, o + 7200),
        service(20, 4, o + 5, o + 7100, scBit(kScRecordClosure), 3000000000ULL, k2p40, o + 7200),
        service(0x80000000u, 5, o + 7, o + 100, scBit(kScRecordClosure), k2p31 - 1, 65535, o + 7200),
        service(4294967295u, 6, 0, 0, scBit(kScRecordClosure), 0, 0, o + 7200)};
    v.push_back({"big_volumes_four_rating_groups", r});
  }
  {  // 4: IPv6 prefix subscriber /64, no MSISDN, static address
    PgwRecord r = base(kSummer + 3600, 1800, 0xFFFFFFFFu, lsn++);
    r.served_address = lit("2001:db8:1:2::");
    r.served_prefix_length = 64;
    r.msisdn.clear();
    r.dynamic_address = false;
    v.push_back({"ipv6_prefix_no_msisdn_static", r});
  }
  {  // 5: IPv6 /56 prefix, no IMSI (emergency-like), 11-digit MSISDN (F filler)
    PgwRecord r = base(kWinter + 3600, 60, 0x7FFFFFFFu, lsn++);
    r.served_address = lit("2001:db8:ab00::");
    r.served_prefix_length = 56;
    r.imsi.clear();
    r.msisdn = "12025550123";
    v.push_back({"ipv6_prefix56_no_imsi_odd_msisdn", r});
  }
  {  // 6: neither IMSI nor MSISDN
    PgwRecord r = base(kWinter + 7200, 120, 128, lsn++);
    r.imsi.clear();
    r.msisdn.clear();
    v.push_back({"no_imsi_no_msisdn", r});
  }
  {  // 7: 14-digit IMSI (no filler), abnormal release
    PgwRecord r = base(kWinter + 10800, 42, 127, lsn++);
    r.imsi = "31026012345678";
    r.cause = Cause::kAbnormalRelease;
    r.service_data[0].service_condition_change = scBit(kScRecordClosure);
    v.push_back({"imsi14_abnormal_release", r});
  }
  // 8..11: one bearer's partial records 1..3 + final (volume limit, time limit, max change
  // condition, normal release), recordSequenceNumber 1, 2, 3, 4
  {
    const int64_t o = kSummer + 2 * 86400;
    const uint32_t cid = 0xC0000001u;
    PgwRecord p1 = base(o, 900, cid, lsn++);
    p1.cause = Cause::kVolumeLimit;
    p1.record_sequence_number = 1;
    p1.stop_time_ns.reset();
    p1.service_data = {service(100, 1, o, o + 899, scBit(kScVolumeLimit), 1000000, 9000000, o + 900)};
    v.push_back({"partial1_volume_limit", p1});

    PgwRecord p2 = base(o + 900, 3600, cid, lsn++);
    p2.cause = Cause::kTimeLimit;
    p2.record_sequence_number = 2;
    p2.start_time_ns.reset();
    p2.stop_time_ns.reset();
    p2.service_data = {service(100, 2, o + 900, o + 4499, scBit(kScTimeLimit), 5, 6, o + 4500),
                       service(200, 3, o + 1000, o + 1100, scBit(kScRecordClosure), 7, 8, o + 4500)};
    v.push_back({"partial2_time_limit", p2});

    PgwRecord p3 = base(o + 4500, 100, cid, lsn++);
    p3.cause = Cause::kMaxChangeCond;
    p3.record_sequence_number = 3;
    p3.start_time_ns.reset();
    p3.stop_time_ns.reset();
    p3.service_data = {
        service(100, 4, o + 4500, o + 4550, scBit(kScTariffTimeSwitch), 1, 2, o + 4560),
        service(100, 5, o + 4560, o + 4570, scBit(kScQosChange), 3, 4, o + 4570),
        service(100, 6, o + 4570, o + 4580, scBit(kScSgsnChange), 5, 6, o + 4580),
        service(100, 7, o + 4580, o + 4599, scBit(kScRecordClosure), 7, 8, o + 4600)};
    v.push_back({"partial3_max_change_cond_tariff_qos_sgsn", p3});

    PgwRecord p4 = base(o + 4600, 0, cid, lsn++);
    p4.cause = Cause::kNormalRelease;
    p4.record_sequence_number = 4;
    p4.start_time_ns.reset();
    p4.service_data = {service(100, 8, o + 4600, o + 4600, scBit(kScRecordClosure), 1, 0, o + 4600)};
    v.push_back({"partial4_final_duration0", p4});
  }
  {  // 12: serving node change: two serving nodes (S-GW, then an SGSN), one IPv6
    PgwRecord r = base(kWinter + 86400, 300, 0x00800000u, lsn++);
    r.cause = Cause::kServingNodeChange;
    r.record_sequence_number = 128;
    r.serving_nodes = {lit("192.0.2.10"), lit("2001:db8:ffff::10")};
    r.serving_node_types = {ServingNodeType::kGtpSgw, ServingNodeType::kSgsn};
    r.service_data = {service(7, 9, kWinter + 86400, kWinter + 86700,
                              scBit(kScSgsnChange) | scBit(kScRecordClosure), 11, 22, kWinter + 86700)};
    r.service_data[0].serving_node = r.serving_nodes[1];
    v.push_back({"serving_node_change_ipv6_serving_node", r});
  }
  {  // 13: management intervention, three serving nodes, PMIP S-GW / ePDG types
    PgwRecord r = base(kSummer + 5 * 86400, 10, 0x00010000u, lsn++);
    r.cause = Cause::kManagementIntervention;
    r.record_sequence_number = 2;
    r.serving_nodes = {lit("192.0.2.11"), lit("192.0.2.12"), lit("203.0.113.7")};
    r.serving_node_types = {ServingNodeType::kPmipSgw, ServingNodeType::kEpdg, ServingNodeType::kGtpSgw};
    r.ch_ch_selection_mode = ChChSelectionMode::kHomeDefault;
    r.apn_selection_mode = ApnSelectionMode::kNetworkProvidedSubscriptionNotVerified;
    v.push_back({"management_intervention_three_serving_nodes", r});
  }
  {  // 14: bearer charging: traffic containers (tariffTime, qoSChange, recordClosure) with QCI
    PgwRecord r = base(kSummer + 6 * 86400, 7200, 0x89ABCDEFu, lsn++);
    const int64_t o = kSummer + 6 * 86400;
    r.service_data.clear();
    r.traffic_volumes = {traffic(1000, 2000, ChangeCondition::kTariffTime, o + 1800, 9, 0x29),
                         traffic(127, 128, ChangeCondition::kQosChange, o + 3600, 0),
                         traffic(3000000000ULL, k2p40, ChangeCondition::kRecordClosure, o + 7200, 5, 0x45)};
    r.ch_ch_selection_mode = ChChSelectionMode::kRoamingDefault;
    r.rat_type = 10;
    v.push_back({"traffic_containers_tariff_qos_closure", r});
  }
  {  // 15: both lists; QCI 128 (needs a leading 00), service containers too
    PgwRecord r = base(kWinter + 2 * 86400, 1, 2, lsn++);
    const int64_t o = kWinter + 2 * 86400;
    r.traffic_volumes = {traffic(k2p31, 0, ChangeCondition::kRecordClosure, o + 1, 128)};
    r.service_data = {service(55, 1, o, o + 1, scBit(kScTimeLimit) | scBit(kScVolumeLimit), k2p31, 0, o + 1)};
    r.ch_ch_selection_mode = ChChSelectionMode::kVisitingDefault;
    r.serving_node_plmn_id = "310260";  // 3-digit MNC
    r.pgw_plmn_id = "26201";
    r.charging_characteristics = 0xFFFF;
    v.push_back({"both_lists_qci128_three_digit_mnc", r});
  }
  {  // 16: fall-back DST change inside the record: 02:30 +02:00 -> 02:30 +01:00
    PgwRecord r = base(kFallBack, 3600, 3, lsn++);
    r.service_data = {service(100, 1, kFallBack, kFallBack + 3599, scBit(kScTariffTimeSwitch), 10, 20, kFallBack + 1800),
                      service(100, 2, kFallBack + 1800, kFallBack + 3599, scBit(kScRecordClosure), 30, 40, kFallBack + 3600)};
    v.push_back({"dst_fall_back_inside_record", r});
  }
  {  // 17: spring-forward change: 01:45 +01:00 -> 03:15 +02:00
    PgwRecord r = base(kSpringFwd, 1800, 4, lsn++);
    v.push_back({"dst_spring_forward_inside_record", r});
  }
  {  // 18: local year change 2024-12-31 23:59:59 +01:00 -> 2025-01-01 00:00:01
    PgwRecord r = base(kYearEnd, 2, 5, lsn++);
    r.charging_characteristics = 0x0400;
    v.push_back({"local_year_change", r});
  }
  {  // 19: IPv6 P-GW address, big local sequence number, long APN/node id
    PgwRecord r = base(kSummer + 7 * 86400, 86400, 6, 4294967295ULL);
    r.pgw_address = lit("2001:db8::1");
    r.apn = "ims.mnc001.mcc001.gprs";
    r.node_id = "gw-biller-0123456789";  // 20 characters (NodeID SIZE(1..20))
    r.duration_s = 86400;
    v.push_back({"ipv6_pgw_max_lsn", r});
  }
  {  // 20: local sequence number 2^31, duration 2^31 - 1 s, container lsn 2^31
    PgwRecord r = base(kSummer + 8 * 86400, 2147483647u, 7, k2p31);
    r.service_data[0].local_sequence_number = 2147483648u;
    r.stop_time_ns.reset();
    r.service_data[0].time_of_last_usage_ns = 0;
    r.service_data[0].time_usage_s = 0;
    r.service_data[0].time_of_report_ns = (kSummer + 8 * 86400 + 3600) * kNs;
    v.push_back({"lsn_2p31_long_duration", r});
  }
  {  // 21: a partial record without any container (no usage in the interval)
    PgwRecord r = base(kWinter + 3 * 86400, 3600, 8, lsn++);
    r.cause = Cause::kTimeLimit;
    r.record_sequence_number = 5;
    r.service_data.clear();
    r.start_time_ns.reset();
    r.stop_time_ns.reset();
    v.push_back({"partial_without_containers", r});
  }
  (void)lsn;
  return v;
}

std::vector<Sample> newYorkSamples() {
  std::vector<Sample> v;
  // 2024-11-03 05:30 UTC = 01:30 EDT (-04:00); at 06:00 UTC the clock falls back to 01:00 EST.
  const int64_t o = 1730611800;
  PgwRecord r = base(o, 3600, 0xDEADBEEFu, 1);
  r.service_data = {service(300, 1, o, o + 3599, scBit(kScRecordClosure), 12345, 67890, o + 3600)};
  v.push_back({"new_york_negative_offset_dst", r});
  PgwRecord w = base(1705741200, 60, 0xDEADBEF0u, 2);  // 2024-01-20 04:00 EST
  w.cause = Cause::kTimeLimit;
  w.record_sequence_number = 1;
  w.stop_time_ns.reset();
  w.service_data[0].service_condition_change = scBit(kScTimeLimit);
  v.push_back({"new_york_winter_partial", w});
  return v;
}

std::vector<Sample> kolkataSamples() {
  std::vector<Sample> v;
  PgwRecord r = base(kSummer, 1234, 0xABCDEF01u, 1);  // 13:30:00 +05:30
  v.push_back({"kolkata_half_hour_offset", r});
  return v;
}

// Records closed by tally's charging engine, in emission order. The truth is still what the
// records hold (the PgwRecord values), so this group checks that what the engine produces -
// the new ePCQoSInformation on every record's first container, maxChangeCond partials - is
// accepted by both decoders.
std::vector<Sample> engineSamples() {
  struct Sink final : tally::RecordSink {
    std::vector<PgwRecord> out;
    void emit(PgwRecord r, bool) override { out.push_back(std::move(r)); }
  };
  struct Seq final : tally::SequenceSource {
    uint64_t lsn = 500;
    uint32_t cid = 0x00C0FFEE;
    uint64_t nextLocalSequence() override { return ++lsn; }
    uint32_t nextChargingId() override { return cid++; }
  };
  tally::Config config;
  config.node.id = kNodeId;
  config.node.address = lit(kNodeAddress);
  tally::CcProfile& p = config.accounting.cc_profiles.back();  // profile 8, qci 9, arp default
  p.buckets = 2;
  p.max_service_containers = 2;
  p.tariff = {tally::TariffTime{13, 0}};
  config.node.plmn_id = "26203";   // MCC 262, MNC 03
  config.node.rat_type = 3;        // WLAN
  config.node.access_node_address = lit("192.0.2.50");
  config.node.access_node_type = 6;  // tWAN
  Sink sink;
  Seq seq;
  tally::ChargingEngine engine(config, TimeZone::utc(), sink, seq);
  const int64_t t0 = (kSummer + 4 * 3600) * kNs;  // 2024-07-15 12:00:00 UTC
  auto at = [t0](int64_t s) { return t0 + s * kNs; };
  tally::ChargingSessionInfo a;
  a.session_id = 1;
  a.served_address = lit("10.45.0.8");
  a.imsi = "001010123456780";
  a.msisdn = "491701234560";
  a.serving_node = lit("192.0.2.10");
  engine.open(a, t0);
  engine.usage(1, 1, tally::FlowCounters{1000, 2, 2000, 3}, at(10));
  engine.qosChange(1, 9, at(20));  // the QCI it has: ignored
  engine.usage(1, 10, tally::FlowCounters{300, 1, 400, 1}, at(30));
  engine.usage(1, 20, tally::FlowCounters{50, 1, 60, 1}, at(40));  // a third container: full
  engine.qosChange(1, 5, at(50));
  engine.usage(1, 20, tally::FlowCounters{70, 1, 80, 1}, at(55));
  engine.tick(at(3600));  // 13:00: the second change, buckets 2
  engine.usage(1, 1, tally::FlowCounters{5, 1, 6, 1}, at(3610));
  engine.close(1, Cause::kNormalRelease, at(3660));
  tally::ChargingSessionInfo b = a;
  b.session_id = 2;
  b.served_address = lit("10.45.0.9");
  b.qci = 200;   // from the identity; two content octets (00 C8)
  b.arp = 0x45;  // PCI disabled, level 1, PVI disabled
  b.is_static = true;
  engine.open(b, at(100));
  engine.usage(2, 30, tally::FlowCounters{7, 1, 8, 1}, at(110));
  engine.close(2, Cause::kAbnormalRelease, at(120));  // diagnostics gsm0408Cause 38
  // Without GTP-U: the access node (tWAN); a handover to a GTP-U S-GW closes both service
  // containers (sGSNChange), the later usage is under the new node; a 3-digit MNC PLMN is in
  // the other engine below.
  tally::ChargingSessionInfo c;
  c.session_id = 3;
  c.served_address = lit("10.45.0.10");
  c.imsi = "001010123456781";
  c.rat_type = 6;  // the session's own: EUTRAN
  c.ch_ch_selection_mode = ChChSelectionMode::kServingNodeSupplied;
  engine.open(c, at(200));
  engine.usage(3, 1, tally::FlowCounters{11, 1, 12, 1}, at(210));
  engine.usage(3, 2, tally::FlowCounters{13, 1, 14, 1}, at(215));
  engine.servingNodeChange(3, lit("192.0.2.11"), at(220));
  engine.usage(3, 1, tally::FlowCounters{15, 1, 16, 1}, at(230));
  engine.close(3, Cause::kNormalRelease, at(240));
  // No GTP-U and no access node configured: no serving node at all (empty lists).
  tally::Config bare = config;
  bare.node.access_node_address.reset();
  bare.node.plmn_id = "310410";  // 3-digit MNC
  bare.node.rat_type.reset();
  bare.accounting.cdr.apn_selection_mode = 0;
  tally::ChargingEngine engine2(bare, TimeZone::utc(), sink, seq);
  tally::ChargingSessionInfo d;
  d.session_id = 4;
  d.served_address = lit("10.45.0.11");
  engine2.open(d, at(300));
  engine2.usage(4, 7, tally::FlowCounters{17, 1, 18, 1}, at(310));
  engine2.close(4, Cause::kAbnormalRelease, at(320));

  const char* names[] = {"engine_partial_service_container_limit_initial_qos",
                         "engine_partial_buckets_qos_change_and_tariff", "engine_final_after_tariff",
                         "engine_identity_qci200_arp69",
                         // max_service_containers 2: the third container (rating group 1 under
                         // the new node) goes into the next record
                         "engine_access_node_then_gtp_split", "engine_split_usage_under_gtp_node",
                         "engine_no_serving_node"};
  std::vector<Sample> v;
  for (size_t i = 0; i < sink.out.size() && i < std::size(names); ++i) {
    v.push_back({names[i], sink.out[i]});
  }
  if (v.size() != 7 || sink.out.size() != 7) {
    std::fprintf(stderr, "the engine closed %zu records, expected 7\n", sink.out.size());
    std::exit(1);
  }
  return v;
}

// ---- writing: tally's CdrFileWriter (TS 32.297 framing, file name, header) ----------------
struct Written {
  std::string path;
  int64_t opened_s = 0;
  uint32_t file_sequence = 0;
};

// All samples into one file in `dir`, through CdrFileWriter with a fixed clock; the file is
// closed with reason "normal" (0).
tally::Result<Written> writeSampleFile(const std::string& dir, const std::vector<Sample>& samples,
                                       const tally::TimeZonePtr& tz, int64_t wall_s) {
  tally::Config config;
  config.node.id = kNodeId;
  config.node.address = ip(kNodeAddress);
  config.node.timezone = tz->name();
  config.local_bill.cfcard_path = dir;
  auto seq = tally::SequenceStore::open(dir + "/state/" + tally::SequenceStore::kFileName);
  if (!seq.ok()) return seq.error();
  FixedClock clock(wall_s * kNs);
  auto writer = CdrFileWriter::open(config, tz, **seq, clock);
  if (!writer.ok()) return writer.error();
  for (const Sample& s : samples) (*writer)->emit(s.r, false);
  (*writer)->closeCurrent(FileClosureReason::kNormal);
  if ((*writer)->filesWritten() != 1 || (*writer)->writeErrors() != 0) {
    return tally::Error{"CdrFileWriter wrote " + std::to_string((*writer)->filesWritten()) +
                        " files, " + std::to_string((*writer)->writeErrors()) + " errors: " +
                        (*writer)->lastError()};
  }
  Written w;
  w.path = dir + "/" + (*writer)->lastFileName();
  w.opened_s = wall_s;
  w.file_sequence = 1;  // a fresh sequence store starts at 1
  return w;
}

// ---- truth ----------------------------------------------------------------------------------
void timeJson(Json& j, int64_t ns, const TimeZone& tz) {
  const int64_t s = floorSeconds(ns);
  tally::LocalTime lt = tz.toLocal(s);
  char local[40];
  std::snprintf(local, sizeof local, "%04d-%02d-%02d %02d:%02d:%02d", lt.year, lt.month, lt.day,
                lt.hour, lt.minute, lt.second);
  j.open('{').key("unix_s").i(s).key("local").s(local).key("utc_offset_s").i(lt.utc_offset_s).close('}');
}

void optTime(Json& j, const std::string& k, const std::optional<int64_t>& ns, const TimeZone& tz) {
  j.key(k);
  if (ns) timeJson(j, *ns, tz);
  else j.null();
}

void bitsJson(Json& j, uint64_t mask) {
  j.open('[');
  for (int b = 0; b < 64; ++b)
    if (mask & (uint64_t{1} << b)) j.i(b);
  j.close(']');
}

void recordJson(Json& j, const Sample& smp, const TimeZone& tz) {
  const PgwRecord& r = smp.r;
  j.open('{');
  j.key("name").s(smp.name);
  j.key("record_type").i(85);
  j.key("imsi");
  r.imsi.empty() ? j.null() : j.s(r.imsi);
  j.key("msisdn");
  r.msisdn.empty() ? j.null() : j.s(r.msisdn);
  j.key("pgw_address").s(literalOf(r.pgw_address));
  j.key("charging_id").u(r.charging_id);
  j.key("serving_nodes").open('[');
  for (const IpAddress& a : r.serving_nodes) j.s(literalOf(a));
  j.close(']');
  j.key("serving_node_types").open('[');
  for (ServingNodeType t : r.serving_node_types) j.s(servingNodeTypeName(t));
  j.close(']');
  j.key("apn");
  r.apn.empty() ? j.null() : j.s(r.apn);
  j.key("served_address").s(literalOf(r.served_address));
  j.key("served_family").i(r.served_address.family);
  j.key("served_prefix_length").i(r.served_prefix_length);
  j.key("dynamic_address").b(r.dynamic_address);
  j.key("record_opening_time");
  timeJson(j, r.record_opening_time_ns, tz);
  j.key("duration").u(r.duration_s);
  j.key("cause").i(static_cast<int>(r.cause));
  j.key("cause_name").s(causeName(r.cause));
  j.key("record_sequence_number");
  r.record_sequence_number ? j.u(*r.record_sequence_number) : j.null();
  j.key("node_id");
  r.node_id.empty() ? j.null() : j.s(r.node_id);
  j.key("local_sequence_number").u(r.local_sequence_number);
  char cc[8];
  std::snprintf(cc, sizeof cc, "%04x", r.charging_characteristics);
  j.key("charging_characteristics").s(cc);
  j.key("apn_selection_mode");
  r.apn_selection_mode ? j.s(apnSelectionModeName(*r.apn_selection_mode)) : j.null();
  j.key("ch_ch_selection_mode");
  r.ch_ch_selection_mode ? j.s(chChSelectionModeName(*r.ch_ch_selection_mode)) : j.null();
  j.key("serving_node_plmn_id");
  r.serving_node_plmn_id.empty() ? j.null() : j.s(r.serving_node_plmn_id);
  j.key("rat_type");
  r.rat_type ? j.u(*r.rat_type) : j.null();
  j.key("ms_time_zone");
  if (r.ms_time_zone) {
    char tzs[8];
    std::snprintf(tzs, sizeof tzs, "%02x%02x", (*r.ms_time_zone)[0], (*r.ms_time_zone)[1]);
    j.s(tzs);
  } else {
    j.null();
  }
  j.key("user_location_information");
  if (r.user_location_information.empty()) {
    j.null();
  } else {
    std::string h;
    for (uint8_t b : r.user_location_information) {
      char x[4];
      std::snprintf(x, sizeof x, "%02x", b);
      h += x;
    }
    j.s(h);
  }
  j.key("pgw_plmn_id");
  r.pgw_plmn_id.empty() ? j.null() : j.s(r.pgw_plmn_id);
  j.key("diagnostics_gsm0408_cause");
  r.diagnostics_gsm0408_cause ? j.u(*r.diagnostics_gsm0408_cause) : j.null();
  j.key("pdn_connection_charging_id");
  r.pdn_connection_charging_id ? j.u(*r.pdn_connection_charging_id) : j.null();
  optTime(j, "start_time", r.start_time_ns, tz);
  optTime(j, "stop_time", r.stop_time_ns, tz);

  j.key("traffic").open('[');
  for (const TrafficContainer& t : r.traffic_volumes) {
    j.open('{');
    j.key("uplink").u(t.uplink_octets).key("downlink").u(t.downlink_octets);
    j.key("change_condition").s(changeConditionName(t.change_condition));
    j.key("change_time");
    timeJson(j, t.change_time_ns, tz);
    j.key("qci");
    t.qci ? j.u(t.qci) : j.null();
    j.key("arp");
    (t.qci && t.arp) ? j.u(*t.arp) : j.null();
    j.close('}');
  }
  j.close(']');

  j.key("services").open('[');
  for (const ServiceContainer& c : r.service_data) {
    j.open('{');
    j.key("rating_group").u(c.rating_group);
    j.key("local_sequence_number");
    c.local_sequence_number ? j.u(c.local_sequence_number) : j.null();
    optTime(j, "time_of_first_usage",
            c.time_of_first_usage_ns ? std::optional<int64_t>(c.time_of_first_usage_ns) : std::nullopt, tz);
    optTime(j, "time_of_last_usage",
            c.time_of_last_usage_ns ? std::optional<int64_t>(c.time_of_last_usage_ns) : std::nullopt, tz);
    j.key("time_usage").u(c.time_usage_s);
    j.key("service_condition_change_bits");
    bitsJson(j, c.service_condition_change);
    j.key("serving_node");
    c.serving_node ? j.s(literalOf(*c.serving_node)) : j.null();
    j.key("uplink").u(c.uplink_octets).key("downlink").u(c.downlink_octets);
    j.key("time_of_report");
    timeJson(j, c.time_of_report_ns, tz);
    j.key("charging_rule_base_name");
    c.charging_rule_base_name.empty() ? j.null() : j.s(c.charging_rule_base_name);
    j.key("service_identifier");
    c.service_identifier ? j.u(*c.service_identifier) : j.null();
    j.close('}');
  }
  j.close(']');
  j.close('}');
}

int usage() {
  std::fprintf(stderr, "usage: cdr_sample_writer --out-dir DIR --truth FILE.json\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_dir, truth_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--out-dir" && i + 1 < argc) out_dir = argv[++i];
    else if (a == "--truth" && i + 1 < argc) truth_path = argv[++i];
    else return usage();
  }
  if (out_dir.empty() || truth_path.empty()) return usage();
  std::filesystem::create_directories(out_dir);

  struct Group {
    const char* tz;
    std::vector<Sample> samples;
    int64_t wall_s;  // the writer's clock: file opening time
  };
  std::vector<Group> groups = {{"Europe/Berlin", berlinSamples(), 1735700000},  // 2025-01-01 02:53:20 UTC
                               {"America/New_York", newYorkSamples(), 1730620000},
                               {"Asia/Kolkata", kolkataSamples(), 1721040000},
                               {"UTC", engineSamples(), 1721052000}};

  Json j;
  j.open('{').key("files").open('[');
  int group_index = 0;
  for (const Group& g : groups) {
    auto tz = TimeZone::load(g.tz);
    if (!tz.ok()) {
      std::fprintf(stderr, "time zone %s: %s\n", g.tz, tz.error().message.c_str());
      return 1;
    }
    const std::string dir = out_dir + "/" + std::to_string(group_index++);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto written = writeSampleFile(dir, g.samples, *tz, g.wall_s);
    if (!written.ok()) {
      std::fprintf(stderr, "writing %s: %s\n", dir.c_str(), written.error().message.c_str());
      return 1;
    }
    j.open('{');
    j.key("path").s(written->path);
    j.key("time_zone").s(g.tz);
    j.key("node_id").s(kNodeId);
    j.key("node_address").s(kNodeAddress);
    j.key("file_sequence_number").u(written->file_sequence);
    j.key("closure_reason").u(0);
    j.key("opened");
    timeJson(j, written->opened_s * kNs, **tz);
    j.key("records").open('[');
    for (const Sample& s : g.samples) recordJson(j, s, **tz);
    j.close(']');
    j.close('}');
    std::printf("%s: %zu records (%s)\n", written->path.c_str(), g.samples.size(), g.tz);
  }
  j.close(']').close('}');
  std::ofstream f(truth_path);
  f << j.text() << "\n";
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", truth_path.c_str());
    return 1;
  }
  return 0;
}
