// local_bill_sample_writer: a TS 32.297 file with local bills (bill/local_bill.h) between two
// PGW-CDRs, written by tally's own encoder and file renderer, plus a JSON "truth" with the
// values put into every local bill.
//
//   local_bill_sample_writer --out-dir DIR
//
// Writes DIR/local-bills.cdr and DIR/local-bills.json. tests/cdr/verify_local_bill.py decodes
// the file with an asn1c decoder generated from docs/asn1/TallyLocalBill.asn (no code shared
// with tally) and compares. The truth is what we INTENDED to encode: numbers and strings as
// given, addresses as literals, local times from TimeZone::toLocal (not from the encoder).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controlplane/bill/local_bill.h"
#include "controlplane/cdr/cdr_encode.h"
#include "controlplane/cdr/cdr_file.h"
#include "tests/fakes/cdr_fixtures.h"

namespace {

using tally::IpAddress;
using tally::TimeZone;
using tally::bill::LocalBill;
using tally::bill::LocalBillReason;

constexpr int64_t kNs = 1'000'000'000;

// "YYMMDDhhmmss+hhmm" as the TimeStamp's digits say it, from the zone (the truth).
std::string stampDigits(int64_t unix_s, const TimeZone& tz) {
  tally::LocalTime t = tz.toLocal(unix_s);
  const int off = t.utc_offset_s / 60;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d%02d%02d%02d%02d%02d%c%02d%02d", t.year % 100, t.month,
                t.day, t.hour, t.minute, t.second, off < 0 ? '-' : '+', std::abs(off) / 60,
                std::abs(off) % 60);
  return buf;
}

// Octets as lower-case hex (OCTET STRING values: any octet, JSON-safe); null when empty (absent).
nlohmann::ordered_json hexOrNull(const std::string& s) {
  if (s.empty()) return nullptr;
  std::string h;
  char buf[3];
  for (unsigned char c : s) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    h += buf;
  }
  return h;
}

nlohmann::ordered_json truth(const LocalBill& b, const TimeZone& tz, const std::string& ip) {
  nlohmann::ordered_json j;
  j["billNumber"] = std::to_string(b.number);  // as text: 2^64-1 survives any JSON reader
  j["acctSessionId"] = hexOrNull(b.acct_session_id);
  j["sessionId"] = std::to_string(b.session_id);
  j["userName"] = hexOrNull(b.user_name);
  j["imsi"] = b.imsi.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(b.imsi);
  j["msisdn"] = b.msisdn.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(b.msisdn);
  j["nasIdentifier"] = hexOrNull(b.nas_identifier);
  j["startTime"] = stampDigits(b.start_ns / kNs, tz);
  j["stopTime"] = stampDigits(b.stop_ns / kNs, tz);
  j["sessionTime"] = std::to_string(b.session_time_s);
  j["servedAddress"] = ip.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(ip);
  j["prefixLength"] = b.prefix_length ? nlohmann::ordered_json(std::to_string(b.prefix_length))
                                      : nlohmann::ordered_json(nullptr);
  j["uplinkOctets"] = std::to_string(b.ul_octets);
  j["downlinkOctets"] = std::to_string(b.dl_octets);
  j["uplinkPackets"] = std::to_string(b.ul_packets);
  j["downlinkPackets"] = std::to_string(b.dl_packets);
  j["terminateCause"] = std::to_string(b.terminate_cause);
  j["reason"] = tally::bill::localBillReasonAsn1Name(b.reason);
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_dir;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--out-dir") out_dir = argv[i + 1];
  }
  if (out_dir.empty()) {
    std::cerr << "usage: local_bill_sample_writer --out-dir DIR\n";
    return 2;
  }
  auto tz = TimeZone::load("Europe/Berlin");
  if (!tz) {
    std::cerr << tz.error().message << "\n";
    return 1;
  }
  const TimeZone& berlin = *tz.value();
  const int64_t summer = 1715932800;  // 2024-05-17 08:00:00 UTC (+02:00)
  const int64_t winter = 1735689599;  // 2024-12-31 23:59:59 UTC (+01:00: the local year change)

  std::vector<std::pair<LocalBill, std::string>> bills;
  LocalBill a;
  a.number = 2;
  a.acct_session_id = "00000001-5f3a2b10";
  a.session_id = 77;
  a.user_name = "alice@example.net";
  a.imsi = "001010123456789";
  a.msisdn = "491701234567";
  a.nas_identifier = "gw-biller-01";
  a.start_ns = summer * kNs;
  a.stop_ns = (summer + 3600) * kNs + 999'999'999;  // the TimeStamp floors
  a.session_time_s = 3600;
  a.ip.family = 4;
  a.ip.v4 = 0x0A2D0007;
  a.ul_octets = 150000;
  a.dl_octets = 3000000;
  a.ul_packets = 1200;
  a.dl_packets = 2500;
  a.terminate_cause = 1;
  a.reason = LocalBillReason::kStopUnanswered;
  bills.emplace_back(a, "10.45.0.7");

  LocalBill big = a;  // the largest counts: a leading 00 for 2^63 and above
  big.number = 3;
  big.acct_session_id = std::string("sess,\"odd\"\x01\xff", 12);
  big.session_id = UINT64_MAX;
  big.ul_octets = (uint64_t{1} << 32) + 1;
  big.dl_octets = UINT64_MAX;
  big.ul_packets = uint64_t{1} << 63;
  big.dl_packets = (uint64_t{1} << 63) - 1;
  big.session_time_s = UINT32_MAX;
  big.terminate_cause = 4294967295u;
  big.start_ns = winter * kNs;
  big.stop_ns = (winter + 2) * kNs;
  big.reason = LocalBillReason::kShutdown;
  big.ip.family = 6;
  big.ip.v6 = tally::Ip6{0x20010db800010002ull, 0};
  big.prefix_length = 64;
  bills.emplace_back(big, "2001:db8:1:2::");

  LocalBill bare;  // every OPTIONAL field absent, zero counts
  bare.number = 4;
  bare.acct_session_id = "x";
  bare.session_id = 0;
  bare.start_ns = summer * kNs;
  bare.stop_ns = summer * kNs;
  bare.reason = LocalBillReason::kNotSent;
  bills.emplace_back(bare, "");

  for (uint8_t r = 2; r <= 5; ++r) {  // the other reasons
    LocalBill o = a;
    o.number = 3 + r;
    o.acct_session_id = "reason-" + std::to_string(r);
    o.reason = LocalBillReason(r);
    bills.emplace_back(o, "10.45.0.7");
  }

  tally::ber::DerWriter w;
  std::vector<std::vector<uint8_t>> records;
  nlohmann::ordered_json t = nlohmann::ordered_json::array();
  // A PGW-CDR first and last: the local bills travel between CDRs in one file.
  tally::cdr::PgwRecord cdr = tally::testing::exampleRecord();
  cdr.local_sequence_number = 1;
  records.push_back(tally::cdr::encodePgwRecord(cdr, berlin));
  for (const auto& [b, ip] : bills) {
    w.clear();
    auto ok = tally::bill::encodeLocalBill(b, berlin, w);
    if (!ok) {
      std::cerr << ok.error().message << "\n";
      return 1;
    }
    records.push_back(w.bytes());
    t.push_back(truth(b, berlin, ip));
  }
  cdr.local_sequence_number = 10;
  records.push_back(tally::cdr::encodePgwRecord(cdr, berlin));

  tally::cdr::CdrFileSpec spec;
  spec.sequence = 1;
  spec.opened_ns = summer * kNs;
  spec.last_append_ns = summer * kNs;
  spec.node_address.family = 4;
  spec.node_address.v4 = 0xC6336401;
  std::vector<std::span<const uint8_t>> spans(records.begin(), records.end());
  const std::vector<uint8_t> file = tally::cdr::renderCdrFile(spec, spans, berlin);
  std::ofstream(out_dir + "/local-bills.cdr", std::ios::binary)
      .write(reinterpret_cast<const char*>(file.data()), std::streamsize(file.size()));
  std::ofstream(out_dir + "/local-bills.json") << t.dump(2) << "\n";
  std::cout << out_dir << "/local-bills.cdr: " << records.size() << " records ("
            << bills.size() << " local bills)\n";
  return 0;
}
