// The local bill record (local_bill.h, docs/local-bill.md): BER and CSV round trips with large
// counts, IPv4 and IPv6, optional fields absent; the exact DER of a worked example (so the
// encoding cannot drift unnoticed); refusal of truncated, reordered, mistagged or garbage input.
#include "controlplane/bill/local_bill.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "controlplane/cdr/ber.h"
#include "controlplane/cdr/cdr_decode.h"
#include "controlplane/cdr/cdr_file.h"

namespace tally::bill {
namespace {

constexpr int64_t kNsPerS = 1'000'000'000;
constexpr int64_t kT0 = 1715932800;  // 2024-05-17 08:00:00 UTC

IpAddress v4(uint32_t a) {
  IpAddress ip;
  ip.family = 4;
  ip.v4 = a;
  return ip;
}

IpAddress v6(uint64_t hi, uint64_t lo) {
  IpAddress ip;
  ip.family = 6;
  ip.v6 = Ip6{hi, lo};
  return ip;
}

LocalBill full() {
  LocalBill b;
  b.number = 4242;
  b.acct_session_id = "00000001-5f3a2b10";
  b.session_id = 77;
  b.user_name = "alice@example.net";
  b.imsi = "001010123456789";
  b.msisdn = "491701234567";
  b.nas_identifier = "gw-biller-01";
  b.start_ns = kT0 * kNsPerS;
  b.stop_ns = (kT0 + 3600) * kNsPerS;
  b.session_time_s = 3600;
  b.ip = v4(0x0A2D0007);  // 10.45.0.7
  b.ul_octets = 150000;
  b.dl_octets = 3000000;
  b.ul_packets = 1200;
  b.dl_packets = 2500;
  b.terminate_cause = 1;  // User-Request
  b.reason = LocalBillReason::kStopUnanswered;
  return b;
}

std::vector<uint8_t> ber(const LocalBill& b, const TimeZone& tz) {
  ber::DerWriter w;
  auto ok = encodeLocalBill(b, tz, w);
  EXPECT_TRUE(ok.ok()) << (ok.ok() ? "" : ok.error().message);
  return w.take();
}

void expectRoundTripBer(const LocalBill& b) {
  const std::vector<uint8_t> d = ber(b, *TimeZone::utc());
  ASSERT_FALSE(d.empty());
  EXPECT_TRUE(isLocalBillRecord(d));
  auto back = decodeLocalBill(d);
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << ber::toHex(d);
  EXPECT_EQ(back.value(), b) << ber::toHex(d);
}

void expectRoundTripCsv(const LocalBill& b, const TimeZone& tz) {
  const std::string line = csvLocalBillLine(b, tz, 31);
  ASSERT_FALSE(line.empty());
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
  auto back = parseCsvLocalBillLine(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << line;
  EXPECT_EQ(back.value(), b) << line;
}

TEST(LocalBill, ReasonNamesAreTheDocumentedOnes) {
  EXPECT_STREQ(localBillReasonName(LocalBillReason::kStopUnanswered), "stop-unanswered");
  EXPECT_STREQ(localBillReasonName(LocalBillReason::kStartUnansweredOnline), "start-unanswered-online");
  EXPECT_STREQ(localBillReasonName(LocalBillReason::kStartUnansweredOffline), "start-unanswered-offline");
  EXPECT_STREQ(localBillReasonName(LocalBillReason::kInterimUnansweredOffline),
               "interim-unanswered-offline");
  EXPECT_STREQ(localBillReasonName(LocalBillReason::kNotSent), "not-sent");
  EXPECT_STREQ(localBillReasonName(LocalBillReason::kShutdown), "shutdown");
  EXPECT_STREQ(localBillReasonName(LocalBillReason(9)), "?");
  EXPECT_EQ(int(LocalBillReason::kShutdown), 6);  // on the wire
}

// The worked example of docs/local-bill.md, octet by octet: a change to the encoding shows here.
TEST(LocalBill, WorkedExampleDer) {
  const std::vector<uint8_t> d = ber(full(), *TimeZone::utc());
  const std::string expected =
      "e1"  // [PRIVATE 1] constructed
      "8194"                                      // 148 octets
      "80021092"                                  // billNumber [0] 4242
      "811130303030303030312d3566336132623130"    // acctSessionId [1]
      "82014d"                                    // sessionId [2] 77
      "8311616c696365406578616d706c652e6e6574"    // userName [3]
      "840f303031303130313233343536373839"        // imsi [4] IA5String digits
      "850c343931373031323334353637"              // msisdn [5]
      "860c67772d62696c6c65722d3031"              // nasIdentifier [6]
      "8709240517080000" "2b0000"                 // startTime [7] 2024-05-17 08:00:00 +0000
      "8809240517090000" "2b0000"                 // stopTime [8]
      "89020e10"                                  // sessionTime [9] 3600
      "aa0680040a2d0007"                          // servedAddress [10] { iPBinV4Address [0] }
      "8c030249f0"                                // uplinkOctets [12] 150000
      "8d032dc6c0"                                // downlinkOctets [13] 3000000
      "8e0204b0"                                  // uplinkPackets [14] 1200
      "8f0209c4"                                  // downlinkPackets [15] 2500
      "900101"                                    // terminateCause [16] 1
      "910101";                                   // reason [17] stopUnanswered
  EXPECT_EQ(ber::toHex(d), expected);
}

TEST(LocalBill, BerRoundTripLargeCountsIpv4Ipv6AndAbsentFields) {
  expectRoundTripBer(full());

  LocalBill big = full();
  big.number = (uint64_t{1} << 32) + 5;
  big.session_id = UINT64_MAX;
  big.ul_octets = (uint64_t{1} << 32) + 1;  // above 4 GiB
  big.dl_octets = UINT64_MAX;               // 2^64-1: 9 content octets, a leading 00
  big.ul_packets = uint64_t{1} << 63;       // 2^63: a leading 00
  big.dl_packets = (uint64_t{1} << 63) - 1;
  big.session_time_s = UINT32_MAX;
  big.terminate_cause = UINT32_MAX;
  big.reason = LocalBillReason::kShutdown;
  expectRoundTripBer(big);
  {
    // 2^64-1 is 00 FF FF FF FF FF FF FF FF (X.690 8.3: non-negative, so the leading 00).
    const std::string hex = ber::toHex(ber(big, *TimeZone::utc()));
    EXPECT_NE(hex.find("8d0900ffffffffffffffff"), std::string::npos) << hex;
    EXPECT_NE(hex.find("8e09008000000000000000"), std::string::npos) << hex;
  }

  LocalBill six = full();
  six.ip = v6(0x20010db800010002ull, 0);
  six.prefix_length = 64;
  six.reason = LocalBillReason::kStartUnansweredOnline;
  expectRoundTripBer(six);
  {
    const std::string hex = ber::toHex(ber(six, *TimeZone::utc()));
    EXPECT_NE(hex.find("aa12811020010db8000100020000000000000000" "8b0140"), std::string::npos)
        << hex;
  }

  LocalBill bare = full();  // every OPTIONAL field absent
  bare.user_name.clear();
  bare.imsi.clear();
  bare.msisdn.clear();
  bare.nas_identifier.clear();
  bare.ip = IpAddress{};
  bare.prefix_length = 0;
  bare.ul_octets = bare.dl_octets = bare.ul_packets = bare.dl_packets = 0;
  bare.session_time_s = 0;
  bare.reason = LocalBillReason::kNotSent;
  expectRoundTripBer(bare);
  const std::string hex = ber::toHex(ber(bare, *TimeZone::utc()));
  auto back = decodeLocalBill(ber(bare, *TimeZone::utc()));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->ip.family, 0);
  EXPECT_TRUE(back->user_name.empty());
  EXPECT_LT(hex.size(), ber::toHex(ber(full(), *TimeZone::utc())).size());
}

TEST(LocalBill, TimesInAZoneWithAnOffsetComeBackAsTheSameInstant) {
  auto berlin = TimeZone::load("Europe/Berlin");
  ASSERT_TRUE(berlin.ok()) << berlin.error().message;
  LocalBill b = full();
  const std::vector<uint8_t> d = ber(b, *berlin.value());
  // 08:00 UTC is 10:00 +0200 in May.
  EXPECT_NE(ber::toHex(d).find("87092405171000002b0200"), std::string::npos) << ber::toHex(d);
  auto back = decodeLocalBill(d);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->start_ns, b.start_ns);
  EXPECT_EQ(back->stop_ns, b.stop_ns);
  expectRoundTripCsv(b, *berlin.value());
}

TEST(LocalBill, SubSecondTimesAreCarriedToTheSecond) {
  LocalBill b = full();
  b.start_ns += 999'999'999;
  auto back = decodeLocalBill(ber(b, *TimeZone::utc()));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->start_ns, kT0 * kNsPerS);
}

TEST(LocalBill, CsvRoundTripLargeCountsIpv6AbsentFieldsAndAwkwardText) {
  const TimeZone& utc = *TimeZone::utc();
  expectRoundTripCsv(full(), utc);
  LocalBill big = full();
  big.ul_octets = (uint64_t{1} << 32) + 1;
  big.dl_octets = UINT64_MAX;
  big.ul_packets = uint64_t{1} << 63;
  big.number = (uint64_t{1} << 32) + 5;
  big.ip = v6(0x20010db800010002ull, 0);
  big.prefix_length = 64;
  big.reason = LocalBillReason::kInterimUnansweredOffline;
  expectRoundTripCsv(big, utc);
  LocalBill bare = full();
  bare.user_name.clear();
  bare.imsi.clear();
  bare.msisdn.clear();
  bare.nas_identifier.clear();
  bare.ip = IpAddress{};
  expectRoundTripCsv(bare, utc);
  // Commas, quotes, a newline, '%' and non-ASCII octets in the RADIUS strings: still one line,
  // still the same octets back.
  LocalBill odd = full();
  odd.acct_session_id = "a,b\"c\nd%e";
  odd.user_name = std::string("m\xc3\xbcller,\r\x01", 10);
  expectRoundTripCsv(odd, utc);
  const std::string line = csvLocalBillLine(odd, utc, 31);
  EXPECT_NE(line.find("%0A"), std::string::npos) << line;
  EXPECT_NE(line.find("%25"), std::string::npos) << line;
}

TEST(LocalBill, CsvLineHasTheCdrColumnCountAndEmptyCdrOctetColumns) {
  const std::string header = cdr::csvHeaderLine();
  bool ok = true;
  const std::vector<std::string> h = cdr::splitCsvLine(header.substr(0, header.size() - 1), &ok);
  ber::DerWriter scratch;
  auto enc = encodeLocalBillForFile(full(), CdrFormat::kCsv, *TimeZone::utc(), scratch);
  ASSERT_TRUE(enc.ok());
  const std::string line(enc->begin(), enc->end() - 1);
  const std::vector<std::string> v = cdr::splitCsvLine(line, &ok);
  ASSERT_EQ(v.size(), h.size());
  EXPECT_EQ(v[0], "localBill");
  for (size_t i = 0; i < h.size(); ++i) {
    if (h[i] == "uplinkOctets" || h[i] == "downlinkOctets") {
      EXPECT_EQ(v[i], "") << "a CDR-only reader must not find octets under " << h[i];
    }
  }
  const std::vector<std::string>& cols = localBillCsvColumns();
  ASSERT_EQ(cols.size(), 19u);
  EXPECT_EQ(v[12], "150000");
  EXPECT_EQ(cols[12], "uplinkOctets");
  EXPECT_EQ(v[17], "1");
  EXPECT_EQ(v[18], "stop-unanswered");
}

TEST(LocalBill, JsonHasEveryField) {
  auto j = localBillToJson(ber(full(), *TimeZone::utc()));
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_EQ(j.value()["recordType"], "localBill");
  EXPECT_EQ(j.value()["billNumber"], 4242u);
  EXPECT_EQ(j.value()["acctSessionId"], "00000001-5f3a2b10");
  EXPECT_EQ(j.value()["sessionId"], 77u);
  EXPECT_EQ(j.value()["userName"], "alice@example.net");
  EXPECT_EQ(j.value()["imsi"], "001010123456789");
  EXPECT_EQ(j.value()["msisdn"], "491701234567");
  EXPECT_EQ(j.value()["nasIdentifier"], "gw-biller-01");
  EXPECT_EQ(j.value()["startTime"], "2024-05-17 08:00:00 +0000");
  EXPECT_EQ(j.value()["stopTime"], "2024-05-17 09:00:00 +0000");
  EXPECT_EQ(j.value()["sessionTime"], 3600u);
  EXPECT_EQ(j.value()["servedAddress"], "10.45.0.7");
  EXPECT_EQ(j.value()["uplinkOctets"], 150000u);
  EXPECT_EQ(j.value()["downlinkOctets"], 3000000u);
  EXPECT_EQ(j.value()["uplinkPackets"], 1200u);
  EXPECT_EQ(j.value()["downlinkPackets"], 2500u);
  EXPECT_EQ(j.value()["terminateCause"], 1u);
  EXPECT_EQ(j.value()["reason"], "stop-unanswered (1)");
}

TEST(LocalBill, EncoderRefusesWhatTheRecordCannotCarry) {
  ber::DerWriter w;
  const TimeZone& utc = *TimeZone::utc();
  auto refused = [&](LocalBill b) {
    w.clear();
    const bool ok = encodeLocalBill(b, utc, w).ok();
    return !ok && w.bytes().empty() && !localBillProblem(b).empty();
  };
  LocalBill b = full();
  b.acct_session_id.clear();
  EXPECT_TRUE(refused(b));
  b = full();
  b.acct_session_id.assign(254, 'x');
  EXPECT_TRUE(refused(b));
  b = full();
  b.imsi = "00101A";
  EXPECT_TRUE(refused(b));
  b = full();
  b.msisdn = "1234567890123456";
  EXPECT_TRUE(refused(b));
  b = full();
  b.prefix_length = 33;  // IPv4
  EXPECT_TRUE(refused(b));
  b = full();
  b.start_ns = 0;  // 1970: the TimeStamp cannot say it
  EXPECT_TRUE(refused(b));
  b = full();
  b.reason = LocalBillReason(0);
  EXPECT_TRUE(refused(b));
  EXPECT_TRUE(localBillProblem(full()).empty());
}

TEST(LocalBill, MakeRecordableMendsWhatItCanWithoutLosingTheUsage) {
  LocalBill b = full();
  b.prefix_length = 32;  // what a RADIUS client may keep for an IPv4 host
  EXPECT_FALSE(localBillProblem(b).empty());
  EXPECT_TRUE(makeRecordable(b).empty()) << "32 for IPv4 is no change worth a log line";
  EXPECT_EQ(b.prefix_length, 0);
  EXPECT_TRUE(localBillProblem(b).empty());
  b.msisdn = "+49 170 1234567";
  b.imsi = "0010101234567890";  // 16 digits
  b.user_name.assign(300, 'u');
  const std::vector<std::string> changed = makeRecordable(b);
  EXPECT_EQ(changed.size(), 3u);
  EXPECT_TRUE(b.msisdn.empty());
  EXPECT_TRUE(b.imsi.empty());
  EXPECT_EQ(b.user_name.size(), 253u);
  EXPECT_EQ(b.ul_octets, full().ul_octets);
  EXPECT_TRUE(localBillProblem(b).empty());
  LocalBill empty_id = full();
  empty_id.acct_session_id.clear();
  makeRecordable(empty_id);
  EXPECT_FALSE(localBillProblem(empty_id).empty()) << "nothing to mend an empty id with";
}

TEST(LocalBill, DecoderRefusesTruncatedMistaggedReorderedAndGarbageInput) {
  const std::vector<uint8_t> good = ber(full(), *TimeZone::utc());
  ASSERT_TRUE(decodeLocalBill(good).ok());
  // Every truncation.
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> t(good.begin(), good.begin() + n);
    EXPECT_FALSE(decodeLocalBill(t).ok()) << "truncated to " << n;
  }
  // Trailing octets.
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_FALSE(decodeLocalBill(longer).ok());
  // Another outer tag: a pGWRecord's BF 4F, or [PRIVATE 2].
  std::vector<uint8_t> other = good;
  other[0] = 0xE2;
  EXPECT_FALSE(decodeLocalBill(other).ok());
  EXPECT_FALSE(isLocalBillRecord(std::vector<uint8_t>{0xBF, 0x4F, 0x00}));
  // A mandatory field missing: drop billNumber [0] (80 02 10 92), fix the length.
  {
    std::vector<uint8_t> m = good;
    ASSERT_EQ(m[3], 0x80);
    m.erase(m.begin() + 3, m.begin() + 7);
    m[2] = uint8_t(m[2] - 4);
    auto r = decodeLocalBill(m);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("billNumber"), std::string::npos) << r.error().message;
  }
  // Fields out of order: swap billNumber [0] and acctSessionId [1].
  {
    std::vector<uint8_t> m(good.begin(), good.begin() + 3);
    m.insert(m.end(), good.begin() + 7, good.begin() + 7 + 19);
    m.insert(m.end(), good.begin() + 3, good.begin() + 7);
    m.insert(m.end(), good.begin() + 7 + 19, good.end());
    ASSERT_EQ(m.size(), good.size());
    EXPECT_FALSE(decodeLocalBill(m).ok());
  }
  // A reason not in the list; a negative count.
  {
    std::vector<uint8_t> m = good;
    ASSERT_EQ(m[m.size() - 3], 0x91);
    m.back() = 7;
    EXPECT_FALSE(decodeLocalBill(m).ok());
    m = good;
    m[5] = 0x90;  // billNumber 10 92 -> 90 92: negative
    EXPECT_FALSE(decodeLocalBill(m).ok());
  }
  // IMSI with a letter.
  {
    std::vector<uint8_t> m = good;
    const std::string hex = ber::toHex(m);
    const size_t at = hex.find("840f") / 2 + 2;
    m[at] = 'A';
    EXPECT_FALSE(decodeLocalBill(m).ok());
  }
  // Random garbage after an E1 never crashes and is (almost surely) refused; flipping any one
  // octet of a good record never crashes the decoder.
  std::mt19937 rng(12345);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> g(1 + rng() % 200);
    for (auto& o : g) o = uint8_t(rng());
    g[0] = 0xE1;
    (void)decodeLocalBill(g);
    std::vector<uint8_t> f = good;
    f[rng() % f.size()] ^= uint8_t(1 + rng() % 255);
    (void)decodeLocalBill(f);
  }
}

TEST(LocalBill, CsvParserRefusesMalformedLines) {
  const TimeZone& utc = *TimeZone::utc();
  std::string line = csvLocalBillLine(full(), utc, 31);
  line.pop_back();
  ASSERT_TRUE(parseCsvLocalBillLine(line).ok());
  auto refused = [](std::string l) { return !parseCsvLocalBillLine(l).ok(); };
  EXPECT_TRUE(refused(line.substr(0, line.size() / 2)));       // cut
  EXPECT_TRUE(refused("85" + line.substr(9)));                  // not localBill
  std::string x = line;
  x.replace(x.find(",150000,"), 8, ",15x000,");                 // not a count
  EXPECT_TRUE(refused(x));
  x = line;
  x.replace(x.find(",1,stop-unanswered"), 18, ",2,stop-unanswered");  // name and value disagree
  EXPECT_TRUE(refused(x));
  x = line;
  x.replace(x.find("2024-05-17 08"), 13, "2024-13-17 08");      // no such month
  EXPECT_TRUE(refused(x));
  EXPECT_TRUE(refused(line + "x"));                             // a CDR-only column filled
  x = line;
  x.replace(x.find(",10.45.0.7,"), 11, ",10.45.0.777,");
  EXPECT_TRUE(refused(x));
  EXPECT_TRUE(refused("localBill"));
  EXPECT_TRUE(refused(""));
}

}  // namespace
}  // namespace tally::bill
