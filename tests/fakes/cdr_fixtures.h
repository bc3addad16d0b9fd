#pragma once
// Helpers shared by the CDR tests and benchmarks: a fixed-offset time zone, hex literals, and
// the worked example of the CDR reference (cdr-format.md section 8).
#include <cctype>
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "controlplane/cdr/cdr.h"
#include "shared/net.h"
#include "shared/timezone.h"

namespace tally::testing {

// Test-only fixed-offset time zone (shared/timezone.cc provides the real ones).
class FixedZone final : public TimeZone {
 public:
  explicit FixedZone(int offset_s) : offset_s_(offset_s) {}
  const std::string& name() const override { return name_; }
  LocalTime toLocal(int64_t unix_s) const override {
    time_t t = static_cast<time_t>(unix_s + offset_s_);
    struct tm tm;
    gmtime_r(&t, &tm);
    return LocalTime{tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min,         tm.tm_sec,     offset_s_};
  }
  int64_t nextLocalTime(int64_t after_unix_s, int hour, int minute) const override {
    int64_t day = (after_unix_s + offset_s_) / 86400 * 86400 - offset_s_;
    int64_t t = day + hour * 3600 + minute * 60;
    return t > after_unix_s ? t : t + 86400;
  }

 private:
  int offset_s_;
  std::string name_ = "fixed";
};

inline std::vector<uint8_t> fromHex(const std::string& hex) {
  std::vector<uint8_t> out;
  std::string digits;
  for (char c : hex) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      digits.push_back(c);
    }
  }
  for (size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

inline IpAddress ip(const char* text) { return *parseIpAddress(text); }

// Unix ns of a UTC wall time.
inline int64_t utcNs(int y, int mo, int d, int h, int mi, int s) {
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000000000;
}

// cdr-format.md section 8: the hand-encoded PGW-CDR, 347 octets.
inline const char* const kExampleHex =
    "bf4f820156800155830800010121436587f9a4068004c633640185050089abcd"
    "efa6068004c000020a8708696e7465726e65748802f121a908a00680040a2d00"
    "078b01ffac40301e830203e8840207d085010186092405171030002b0200a906"
    "810109860129301e83020bb884020fa085010286092405171100002b0200a906"
    "8101098601298d092405171000002b02008e020e108f0100910101920c67772d"
    "62696c6c65722d30319402109295010096079194711032547697020800980100"
    "9b0300f1109e01069f1f0280009f200d1800f110000100f11000000101bf2257"
    "3055810164820b72622d696e7465726e657484010185092405171000002b0200"
    "86092405171100002b020087020e1088050700000080aa068004c000020a8c03"
    "0249f08d032dc6c08e092405171100002b0200910203e9bf23030a01029f2503"
    "00f1109f26092405171000002b02009f27092405171100002b0200";

// The record of the worked example, local time +02:00 (10:00 local = 08:00 UTC).
inline cdr::PgwRecord exampleRecord() {
  using namespace tally::cdr;  // NOLINT(google-build-using-namespace)
  cdr::PgwRecord r;
  r.imsi = "001010123456789";
  r.msisdn = "491701234567";
  r.served_address = ip("10.45.0.7");
  r.pgw_address = ip("198.51.100.1");
  r.charging_id = 0x89ABCDEF;
  r.serving_nodes = {ip("192.0.2.10")};
  r.serving_node_types = {ServingNodeType::kGtpSgw};
  r.apn = "internet";
  r.dynamic_address = true;
  r.record_opening_time_ns = utcNs(2024, 5, 17, 8, 0, 0);
  r.duration_s = 3600;
  r.cause = Cause::kNormalRelease;
  r.record_sequence_number = 1;
  r.node_id = "gw-biller-01";
  r.local_sequence_number = 4242;
  r.charging_characteristics = 0x0800;
  TrafficContainer t1;
  t1.uplink_octets = 1000;
  t1.downlink_octets = 2000;
  t1.change_condition = ChangeCondition::kTariffTime;
  t1.change_time_ns = utcNs(2024, 5, 17, 8, 30, 0);
  t1.qci = 9;
  t1.arp = 0x29;
  TrafficContainer t2 = t1;
  t2.uplink_octets = 3000;
  t2.downlink_octets = 4000;
  t2.change_condition = ChangeCondition::kRecordClosure;
  t2.change_time_ns = utcNs(2024, 5, 17, 9, 0, 0);
  r.traffic_volumes = {t1, t2};
  ServiceContainer s;
  s.rating_group = 100;
  s.charging_rule_base_name = "rb-internet";
  s.local_sequence_number = 1;
  s.time_of_first_usage_ns = utcNs(2024, 5, 17, 8, 0, 0);
  s.time_of_last_usage_ns = utcNs(2024, 5, 17, 9, 0, 0);
  s.time_usage_s = 3600;
  s.service_condition_change = scBit(kScRecordClosure);
  s.serving_node = ip("192.0.2.10");
  s.uplink_octets = 150000;
  s.downlink_octets = 3000000;
  s.time_of_report_ns = utcNs(2024, 5, 17, 9, 0, 0);
  s.service_identifier = 1001;
  r.service_data = {s};
  r.start_time_ns = utcNs(2024, 5, 17, 8, 0, 0);
  r.stop_time_ns = utcNs(2024, 5, 17, 9, 0, 0);
  r.apn_selection_mode = ApnSelectionMode::kMsOrNetworkProvidedSubscriptionVerified;
  r.ch_ch_selection_mode = ChChSelectionMode::kServingNodeSupplied;
  r.serving_node_plmn_id = "00101";
  r.rat_type = 6;
  r.ms_time_zone = std::array<uint8_t, 2>{0x80, 0x00};
  r.user_location_information = fromHex("1800f110000100f11000000101");
  r.pgw_plmn_id = "00101";
  return r;
}

}  // namespace tally::testing
