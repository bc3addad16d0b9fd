#include "controlplane/cdr/cdr_encode.h"

#include <cstdlib>

namespace tally::cdr {
namespace {

using ber::ctx;
using ber::ctxCons;
using ber::DerWriter;

constexpr size_t kMaxApnLength = 63;     // > AccessPointNameNI ::= IA5String (SIZE(1..63))
constexpr size_t kMaxNodeIdLength = 20;  // > NodeID ::= IA5String (SIZE(1..20))

uint8_t bcd(int v) { return static_cast<uint8_t>(((v / 10) % 10) << 4 | (v % 10)); }

void ip4Bytes(uint32_t v4, uint8_t out[4]) {
  out[0] = static_cast<uint8_t>(v4 >> 24);
  out[1] = static_cast<uint8_t>(v4 >> 16);
  out[2] = static_cast<uint8_t>(v4 >> 8);
  out[3] = static_cast<uint8_t>(v4);
}

void ip6Bytes(const Ip6& a, uint8_t out[16]) {
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<uint8_t>(a.hi >> (8 * (7 - i)));
    out[8 + i] = static_cast<uint8_t>(a.lo >> (8 * (7 - i)));
  }
}

void timeStamp(DerWriter& w, uint32_t tag, int64_t ns, const TimeZone& tz) {
  std::array<uint8_t, 9> ts = encodeTimeStamp(toUnixSeconds(ns), tz);
  w.octetString(ctx(tag), ts);
}

// A tag on a CHOICE is explicit: [n] constructed, then the chosen alternative.
// > p-GWAddress [4] GSNAddress -> A4 06 80 04 c6 33 64 01 (cdr-format.md section 2)
void gsnAddress(DerWriter& w, uint32_t tag, const IpAddress& a) {
  size_t m = w.begin(ctxCons(tag));
  writeIpAddressChoice(w, a);
  w.end(m);
}

void ia5(DerWriter& w, uint32_t tag, const std::string& s, size_t max) {
  std::string_view v(s);
  if (v.size() > max) {
    v = v.substr(0, max);
  }
  w.octetString(ctx(tag), v);
}

void trafficContainer(DerWriter& w, const TrafficContainer& c, const TimeZone& tz) {
  // > ChangeOfCharCondition ::= SEQUENCE (universal 30)
  size_t m = w.begin(ber::universal(ber::kUSequence, true));
  w.unsignedInteger(ctx(3), c.uplink_octets);    // dataVolumeGPRSUplink
  w.unsignedInteger(ctx(4), c.downlink_octets);  // dataVolumeGPRSDownlink
  w.enumerated(ctx(5), static_cast<int64_t>(c.change_condition));
  timeStamp(w, 6, c.change_time_ns, tz);  // changeTime
  if (c.qci != 0) {
    // > ePCQoSInformation [9] EPCQoSInformation: SEQUENCE { qCI [1] INTEGER, ... aRP [6] ... }
    size_t q = w.begin(ctxCons(9));
    w.unsignedInteger(ctx(1), c.qci);
    if (c.arp) {
      w.unsignedInteger(ctx(6), *c.arp);
    }
    w.end(q);
  }
  w.end(m);
}

void serviceContainer(DerWriter& w, const ServiceContainer& c, const TimeZone& tz) {
  // > ChangeOfServiceCondition ::= SEQUENCE (universal 30)
  size_t m = w.begin(ber::universal(ber::kUSequence, true));
  w.unsignedInteger(ctx(1), c.rating_group);  // ratingGroup
  if (!c.charging_rule_base_name.empty()) {
    w.octetString(ctx(2), c.charging_rule_base_name);  // chargingRuleBaseName
  }
  if (c.local_sequence_number != 0) {
    w.unsignedInteger(ctx(4), c.local_sequence_number);
  }
  if (c.time_of_first_usage_ns != 0) {
    timeStamp(w, 5, c.time_of_first_usage_ns, tz);
  }
  if (c.time_of_last_usage_ns != 0) {
    timeStamp(w, 6, c.time_of_last_usage_ns, tz);
  }
  w.unsignedInteger(ctx(7), c.time_usage_s);  // timeUsage
  // > serviceConditionChange [8] ServiceConditionChange (named-bit BIT STRING, DER)
  w.namedBitString(ctx(8), c.service_condition_change);
  if (c.serving_node) {
    gsnAddress(w, 10, *c.serving_node);  // servingNodeAddress [10] GSNAddress: explicit
  }
  w.unsignedInteger(ctx(12), c.uplink_octets);    // datavolumeFBCUplink
  w.unsignedInteger(ctx(13), c.downlink_octets);  // datavolumeFBCDownlink
  timeStamp(w, 14, c.time_of_report_ns, tz);      // timeOfReport
  if (c.service_identifier) {
    w.unsignedInteger(ctx(17), *c.service_identifier);  // serviceIdentifier
  }
  w.end(m);
}

}  // namespace

std::array<uint8_t, 9> encodeTimeStamp(int64_t unix_s, const TimeZone& tz) {
  LocalTime lt = tz.toLocal(unix_s);
  std::array<uint8_t, 9> ts{};
  ts[0] = bcd(lt.year % 100);
  ts[1] = bcd(lt.month);
  ts[2] = bcd(lt.day);
  ts[3] = bcd(lt.hour);
  ts[4] = bcd(lt.minute);
  ts[5] = bcd(lt.second);
  // > S = Sign 0 = "+", "-" ASCII encoded; hh = hour 00 to 23 BCD; mm = minute 00 to 59 BCD
  int off = lt.utc_offset_s;
  ts[6] = off < 0 ? '-' : '+';
  int abs_min = std::abs(off) / 60;
  ts[7] = bcd(abs_min / 60);
  ts[8] = bcd(abs_min % 60);
  return ts;
}

std::vector<uint8_t> encodeTbcd(std::string_view digits) {
  std::vector<uint8_t> out;
  out.reserve(digits.size() / 2 + 1);
  bool low = true;
  for (char c : digits) {
    if (c < '0' || c > '9') {
      continue;
    }
    uint8_t d = static_cast<uint8_t>(c - '0');
    if (low) {
      out.push_back(0xF0 | d);
    } else {
      out.back() = static_cast<uint8_t>((out.back() & 0x0F) | (d << 4));
    }
    low = !low;
  }
  return out;
}

std::array<uint8_t, 3> encodePlmnId(std::string_view d) {
  std::array<uint8_t, 3> p{};
  if (d.size() != 5 && d.size() != 6) {
    return p;
  }
  for (char c : d) {
    if (c < '0' || c > '9') {
      return p;
    }
  }
  auto n = [&](size_t i) { return static_cast<uint8_t>(d[i] - '0'); };
  uint8_t mnc3 = d.size() == 6 ? n(5) : 0x0F;
  // > octet 1: MCC digit 2 | MCC digit 1; octet 2: MNC digit 3 | MCC digit 3;
  // > octet 3: MNC digit 2 | MNC digit 1 (TS 29.060 RAI)
  p[0] = static_cast<uint8_t>(n(1) << 4 | n(0));
  p[1] = static_cast<uint8_t>(mnc3 << 4 | n(2));
  p[2] = static_cast<uint8_t>(n(4) << 4 | n(3));
  return p;
}

void writeIpAddressChoice(DerWriter& w, const IpAddress& a) {
  if (a.family == 6) {
    uint8_t b[16];
    ip6Bytes(a.v6, b);
    w.octetString(ctx(1), std::span<const uint8_t>(b, 16));  // iPBinV6Address [1]
    return;
  }
  uint8_t b[4];
  ip4Bytes(a.v4, b);
  w.octetString(ctx(0), std::span<const uint8_t>(b, 4));  // iPBinV4Address [0]
}

void encodePgwRecord(const PgwRecord& r, const TimeZone& tz, DerWriter& w) {
  // > GPRSRecord ::= CHOICE { ... pGWRecord [79] PGWRecord } ; PGWRecord ::= SET
  size_t rec = w.begin(ctxCons(kGprsRecordPgwTag));
  // SET members in ascending tag order (DER).
  w.integer(ctx(0), kRecordTypePgw);  // recordType [0]
  if (!r.imsi.empty()) {
    w.octetString(ctx(3), encodeTbcd(r.imsi));  // servedIMSI [3] IMSI (TBCD)
  }
  gsnAddress(w, 4, r.pgw_address);           // p-GWAddress [4] GSNAddress
  w.unsignedInteger(ctx(5), r.charging_id);  // chargingID [5]
  {
    // > servingNodeAddress [6] SEQUENCE OF GSNAddress: the elements follow the [6] directly
    size_t m = w.begin(ctxCons(6));
    for (const IpAddress& a : r.serving_nodes) {
      writeIpAddressChoice(w, a);
    }
    w.end(m);
  }
  if (!r.apn.empty()) {
    ia5(w, 7, r.apn, kMaxApnLength);  // accessPointNameNI [7]
  }
  if (r.served_address.family == 4 || r.served_address.family == 6) {
    // > pdpPDNType [8] PDPType: octet 1 spare F + organisation 1 (IETF); octet 2 0x21 IPv4,
    // > 0x57 IPv6 (TS 29.060)
    uint8_t type[2] = {0xF1, static_cast<uint8_t>(r.served_address.family == 4 ? 0x21 : 0x57)};
    w.octetString(ctx(8), std::span<const uint8_t>(type, 2));
    // > servedPDPPDNAddress [9] PDPAddress ::= CHOICE { iPAddress [0] IPAddress }: both tags
    // > are on CHOICEs, hence explicit: A9 08 A0 06 80 04 ...
    // For IPv6 the prefix address goes in iPBinV6Address [1] (docs/cdr-format.md: not
    // iPBinV6AddressWithPrefix [4], which BDs built on pre-Rel-16 ASN.1 cannot decode).
    size_t m = w.begin(ctxCons(9));
    size_t n = w.begin(ctxCons(0));
    writeIpAddressChoice(w, r.served_address);
    w.end(n);
    w.end(m);
  }
  if (r.dynamic_address) {
    w.boolean(ctx(11), true);  // dynamicAddressFlag [11], only when dynamic
  }
  if (!r.traffic_volumes.empty()) {
    // > listOfTrafficVolumes [12] SEQUENCE OF ChangeOfCharCondition
    size_t m = w.begin(ctxCons(12));
    for (const TrafficContainer& c : r.traffic_volumes) {
      trafficContainer(w, c, tz);
    }
    w.end(m);
  }
  timeStamp(w, 13, r.record_opening_time_ns, tz);     // recordOpeningTime [13]
  w.unsignedInteger(ctx(14), r.duration_s);           // duration [14]
  w.integer(ctx(15), static_cast<int64_t>(r.cause));  // causeForRecClosing [15]
  if (r.diagnostics_gsm0408_cause) {
    // > diagnostics [16] Diagnostics: a tag on a CHOICE is explicit, then gsm0408Cause [0]
    // > INTEGER: B0 03 80 01 26
    size_t m = w.begin(ctxCons(16));
    w.unsignedInteger(ctx(0), *r.diagnostics_gsm0408_cause);
    w.end(m);
  }
  if (r.record_sequence_number) {
    w.unsignedInteger(ctx(17), *r.record_sequence_number);  // recordSequenceNumber [17]
  }
  if (!r.node_id.empty()) {
    ia5(w, 18, r.node_id, kMaxNodeIdLength);  // nodeID [18]
  }
  w.unsignedInteger(ctx(20), r.local_sequence_number);  // localSequenceNumber [20]
  if (r.apn_selection_mode) {
    w.enumerated(ctx(21), static_cast<int64_t>(*r.apn_selection_mode));
  }
  if (!r.msisdn.empty()) {
    // > MSISDN ::= ISDN-AddressString: octet 1 = 91 (international number, ISDN/E.164),
    // > then TBCD digits
    std::vector<uint8_t> v = encodeTbcd(r.msisdn);
    v.insert(v.begin(), 0x91);
    w.octetString(ctx(22), v);
  }
  {
    // > chargingCharacteristics [23] ChargingCharacteristics ::= OCTET STRING (SIZE(2))
    uint8_t cc[2] = {static_cast<uint8_t>(r.charging_characteristics >> 8),
                     static_cast<uint8_t>(r.charging_characteristics)};
    w.octetString(ctx(23), std::span<const uint8_t>(cc, 2));
  }
  if (r.ch_ch_selection_mode) {
    w.enumerated(ctx(24), static_cast<int64_t>(*r.ch_ch_selection_mode));
  }
  if (!r.serving_node_plmn_id.empty()) {
    w.octetString(ctx(27), encodePlmnId(r.serving_node_plmn_id));
  }
  if (!r.imei.empty()) {
    // > servedIMEI [29] IMEI ::= TBCD-STRING (SIZE (8)): 15 digits and the filler F, or 16
    // > (IMEISV). A 14-digit IMEI (TAC + SNR) gets the spare digit 0 (TS 23.003 6.2.1: "this
    // > digit shall be zero, when transmitted by the MS").
    w.octetString(ctx(29), encodeTbcd(r.imei.size() == 14 ? r.imei + "0" : r.imei));
  }
  if (r.rat_type) {
    w.unsignedInteger(ctx(30), *r.rat_type);
  }
  if (r.ms_time_zone) {
    w.octetString(ctx(31), *r.ms_time_zone);
  }
  if (!r.user_location_information.empty()) {
    w.octetString(ctx(32), r.user_location_information);
  }
  if (!r.service_data.empty()) {
    // > listOfServiceData [34] SEQUENCE OF ChangeOfServiceCondition -> BF 22
    size_t m = w.begin(ctxCons(34));
    for (const ServiceContainer& c : r.service_data) {
      serviceContainer(w, c, tz);
    }
    w.end(m);
  }
  {
    // > servingNodeType [35] SEQUENCE OF ServingNodeType: one per servingNodeAddress, same
    // > order; elements keep their universal ENUMERATED tag (BF 23 03 0A 01 02).
    size_t m = w.begin(ctxCons(35));
    for (size_t i = 0; i < r.serving_nodes.size(); ++i) {
      ServingNodeType t =
          i < r.serving_node_types.size() ? r.serving_node_types[i] : ServingNodeType::kGtpSgw;
      w.enumerated(ber::universal(ber::kUEnumerated), static_cast<int64_t>(t));
    }
    w.end(m);
  }
  if (!r.pgw_plmn_id.empty()) {
    w.octetString(ctx(37), encodePlmnId(r.pgw_plmn_id));  // p-GWPLMNIdentifier [37]
  }
  if (r.start_time_ns) {
    timeStamp(w, 38, *r.start_time_ns, tz);  // startTime [38]
  }
  if (r.stop_time_ns) {
    timeStamp(w, 39, *r.stop_time_ns, tz);  // stopTime [39]
  }
  if (r.pdn_connection_charging_id) {
    w.unsignedInteger(ctx(41), *r.pdn_connection_charging_id);  // pDNConnectionChargingID [41]
  }
  w.end(rec);
}

std::vector<uint8_t> encodePgwRecord(const PgwRecord& record, const TimeZone& tz) {
  DerWriter w;
  encodePgwRecord(record, tz, w);
  return w.take();
}

}  // namespace tally::cdr
