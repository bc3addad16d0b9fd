// PGW-CDR encoder and decoder: the cdr-format.md section 8 worked example byte for byte, DER
// details, decode(encode(x)) == x, and a decoder that survives garbage.
#include "controlplane/cdr/cdr_encode.h"
#include "tests/fakes/cdr_fixtures.h"

#include <gtest/gtest.h>

#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "controlplane/cdr/ber.h"
#include "controlplane/cdr/cdr.h"
#include "controlplane/cdr/cdr_decode.h"

namespace tally::cdr {
namespace {

using tally::testing::FixedZone;
using tally::testing::fromHex;
using tally::testing::ip;
using tally::testing::utcNs;
using tally::testing::exampleRecord;
using tally::testing::kExampleHex;







bool contains(const std::vector<uint8_t>& hay, const std::string& hex) {
  std::vector<uint8_t> needle = fromHex(hex);
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

TEST(CdrEncodeTest, WorkedExampleByteForByte) {
  FixedZone tz(2 * 3600);
  std::vector<uint8_t> got = encodePgwRecord(exampleRecord(), tz);
  std::vector<uint8_t> want = fromHex(kExampleHex);
  ASSERT_EQ(want.size(), 347u);
  EXPECT_EQ(ber::toHex(got), ber::toHex(want));
}

TEST(CdrEncodeTest, WorkedExampleDecodesToTheRecord) {
  std::vector<uint8_t> bytes = fromHex(kExampleHex);
  auto r = decodePgwRecord(bytes);
  ASSERT_TRUE(r) << r.error().message;
  PgwRecord want = exampleRecord();
  EXPECT_EQ(r.value(), want);
}

TEST(CdrEncodeTest, WorkedExampleAsJson) {
  auto j = decodeRecordToJson(fromHex(kExampleHex));
  ASSERT_TRUE(j) << j.error().message;
  const auto& o = j.value();
  EXPECT_EQ(o["recordType"], "pGWRecord (85)");
  EXPECT_EQ(o["servedIMSI"], "001010123456789");
  EXPECT_EQ(o["p-GWAddress"], "198.51.100.1");
  EXPECT_EQ(o["chargingID"], 2309737967u);
  EXPECT_EQ(o["servingNodeAddress"], nlohmann::ordered_json::array({"192.0.2.10"}));
  EXPECT_EQ(o["accessPointNameNI"], "internet");
  EXPECT_EQ(o["pdpPDNType"], "IPv4 (f121)");
  EXPECT_EQ(o["servedPDPPDNAddress"], "10.45.0.7");
  EXPECT_EQ(o["dynamicAddressFlag"], true);
  EXPECT_EQ(o["recordOpeningTime"], "2024-05-17 10:00:00 +0200");
  EXPECT_EQ(o["duration"], 3600);
  EXPECT_EQ(o["causeForRecClosing"], "normalRelease (0)");
  EXPECT_EQ(o["recordSequenceNumber"], 1);
  EXPECT_EQ(o["nodeID"], "gw-biller-01");
  EXPECT_EQ(o["localSequenceNumber"], 4242);
  EXPECT_EQ(o["apnSelectionMode"], "mSorNetworkProvidedSubscriptionVerified (0)");
  EXPECT_EQ(o["servedMSISDN"], "491701234567");
  EXPECT_EQ(o["chargingCharacteristics"], "0800");
  EXPECT_EQ(o["chChSelectionMode"], "servingNodeSupplied (0)");
  EXPECT_EQ(o["servingNodePLMNIdentifier"], "001-01");
  EXPECT_EQ(o["rATType"], "EUTRAN (6)");
  EXPECT_EQ(o["mSTimeZone"], "+02:00 (DST +0h)");
  EXPECT_EQ(o["userLocationInformation"], "1800f110000100f11000000101");
  EXPECT_EQ(o["servingNodeType"], nlohmann::ordered_json::array({"gTPSGW (2)"}));
  EXPECT_EQ(o["p-GWPLMNIdentifier"], "001-01");
  EXPECT_EQ(o["startTime"], "2024-05-17 10:00:00 +0200");
  EXPECT_EQ(o["stopTime"], "2024-05-17 11:00:00 +0200");
  const auto& tv = o["listOfTrafficVolumes"];
  ASSERT_EQ(tv.size(), 2u);
  EXPECT_EQ(tv[0]["dataVolumeGPRSUplink"], 1000);
  EXPECT_EQ(tv[0]["dataVolumeGPRSDownlink"], 2000);
  EXPECT_EQ(tv[0]["changeCondition"], "tariffTime (1)");
  EXPECT_EQ(tv[0]["changeTime"], "2024-05-17 10:30:00 +0200");
  EXPECT_EQ(tv[0]["ePCQoSInformation"]["qCI"], 9);
  EXPECT_EQ(tv[0]["ePCQoSInformation"]["aRP"], 0x29);
  EXPECT_EQ(tv[1]["changeCondition"], "recordClosure (2)");
  const auto& sd = o["listOfServiceData"];
  ASSERT_EQ(sd.size(), 1u);
  EXPECT_EQ(sd[0]["ratingGroup"], 100);
  EXPECT_EQ(sd[0]["chargingRuleBaseName"], "rb-internet");
  EXPECT_EQ(sd[0]["localSequenceNumber"], 1);
  EXPECT_EQ(sd[0]["timeOfFirstUsage"], "2024-05-17 10:00:00 +0200");
  EXPECT_EQ(sd[0]["timeOfLastUsage"], "2024-05-17 11:00:00 +0200");
  EXPECT_EQ(sd[0]["timeUsage"], 3600);
  EXPECT_EQ(sd[0]["serviceConditionChange"], nlohmann::ordered_json::array({"recordClosure"}));
  EXPECT_EQ(sd[0]["servingNodeAddress"], "192.0.2.10");
  EXPECT_EQ(sd[0]["datavolumeFBCUplink"], 150000);
  EXPECT_EQ(sd[0]["datavolumeFBCDownlink"], 3000000);
  EXPECT_EQ(sd[0]["timeOfReport"], "2024-05-17 11:00:00 +0200");
  EXPECT_EQ(sd[0]["serviceIdentifier"], 1001);
  // Wire order is kept.
  auto it = o.begin();
  EXPECT_EQ(it.key(), "recordType");
}

TEST(CdrEncodeTest, IntegerEdgeCases) {
  struct Case {
    uint64_t value;
    const char* hex;
  };
  const Case cases[] = {
      {0, "850100"},
      {127, "85017f"},
      {128, "85020080"},
      {255, "850200ff"},
      {256, "85020100"},
      {0x89ABCDEF, "85050089abcdef"},
      {3000000000ULL, "850500b2d05e00"},
      {(uint64_t{1} << 63) - 1, "85087fffffffffffffff"},
      {~uint64_t{0}, "850900ffffffffffffffff"},
  };
  for (const Case& c : cases) {
    ber::DerWriter w;
    w.unsignedInteger(ber::ctx(5), c.value);
    EXPECT_EQ(ber::toHex(w.bytes()), c.hex) << c.value;
    auto back = ber::decodeUnsigned(std::span<const uint8_t>(w.bytes()).subspan(2));
    ASSERT_TRUE(back);
    EXPECT_EQ(back.value(), c.value);
  }
  // Volumes in a record: downlink 3 000 000 000 keeps its leading 00.
  PgwRecord r = exampleRecord();
  r.service_data[0].downlink_octets = 3000000000ULL;
  r.service_data[0].uplink_octets = 128;
  FixedZone tz(7200);
  std::vector<uint8_t> bytes = encodePgwRecord(r, tz);
  EXPECT_TRUE(contains(bytes, "8d0500b2d05e00"));
  EXPECT_TRUE(contains(bytes, "8c020080"));
  auto back = decodePgwRecord(bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back.value().service_data[0].downlink_octets, 3000000000ULL);
}

TEST(CdrEncodeTest, NegativeIntegerEncodingIsRejectedForUnsignedFields) {
  // > 85 04 89 AB CD EF: a chargingID without the leading 00 is negative.
  std::vector<uint8_t> bytes = fromHex(kExampleHex);
  std::vector<uint8_t> bad;
  std::vector<uint8_t> needle = fromHex("85050089abcdef");
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  ASSERT_NE(it, bytes.end());
  bad.insert(bad.end(), bytes.begin(), it);
  std::vector<uint8_t> neg = fromHex("850489abcdef");
  bad.insert(bad.end(), neg.begin(), neg.end());
  bad.insert(bad.end(), it + 7, bytes.end());
  bad[4] = static_cast<uint8_t>(bad[4] - 1);  // outer length 0x0156 -> 0x0155
  auto r = decodePgwRecord(bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("chargingID"), std::string::npos) << r.error().message;
  auto j = decodeRecordToJson(bad);
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ(j.value()["chargingID"].get<std::string>().rfind("!invalid", 0), 0u);
}

TEST(CdrEncodeTest, Tbcd) {
  EXPECT_EQ(ber::toHex(encodeTbcd("001010123456789")), "00010121436587f9");  // odd: F filler
  EXPECT_EQ(ber::toHex(encodeTbcd("00101012345678")), "00010121436587");     // even
  EXPECT_EQ(ber::toHex(encodeTbcd("1")), "f1");
  EXPECT_EQ(ber::toHex(encodeTbcd("")), "");
  auto d = tbcdDigits(encodeTbcd("00101012345678"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d.value(), "00101012345678");
  d = tbcdDigits(encodeTbcd("001010123456789"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d.value(), "001010123456789");
  EXPECT_FALSE(tbcdDigits(fromHex("f100")));  // filler before the last octet
  EXPECT_FALSE(tbcdDigits(fromHex("1a")));    // not a digit
}

TEST(CdrEncodeTest, TbcdMsisdnOddAndEven) {
  FixedZone tz(0);
  PgwRecord r = exampleRecord();
  r.msisdn = "491701234567";  // even: 91 94 71 10 32 54 76
  EXPECT_TRUE(contains(encodePgwRecord(r, tz), "96079194711032547697"));
  r.msisdn = "4917012345678";  // odd: ... 76 f8
  EXPECT_TRUE(contains(encodePgwRecord(r, tz), "9608919471103254 76f8"));
  auto back = decodePgwRecord(encodePgwRecord(r, tz));
  ASSERT_TRUE(back);
  EXPECT_EQ(back.value().msisdn, "4917012345678");
}

TEST(CdrEncodeTest, TimeStampNegativeOffset) {
  FixedZone tz(-(3 * 3600 + 30 * 60));  // -03:30
  // 2024-01-02 03:04:05 UTC = 2024-01-01 23:34:05 -03:30
  auto ts = encodeTimeStamp(utcNs(2024, 1, 2, 3, 4, 5) / 1000000000, tz);
  EXPECT_EQ(ber::toHex(ts), "2401012334052d0330");
  auto text = timeStampText(ts);
  ASSERT_TRUE(text);
  EXPECT_EQ(text.value(), "2024-01-01 23:34:05 -0330");
  auto unix = timeStampUnix(ts);
  ASSERT_TRUE(unix);
  EXPECT_EQ(unix.value(), utcNs(2024, 1, 2, 3, 4, 5) / 1000000000);
  FixedZone plus(2 * 3600);
  EXPECT_EQ(ber::toHex(encodeTimeStamp(utcNs(2024, 5, 17, 8, 0, 0) / 1000000000, plus)),
            "2405171000002b0200");
}

TEST(CdrEncodeTest, TimeStampFollowsDaylightSavingWithTheRealZone) {
  auto berlin = TimeZone::load("Europe/Berlin");
  if (!berlin) {
    GTEST_SKIP() << "no tz database: " << berlin.error().message;
  }
  // 2026-03-29 00:59:59 UTC = 01:59:59 +0100; one second later 03:00:00 +0200.
  int64_t before = utcNs(2026, 3, 29, 0, 59, 59) / 1000000000;
  EXPECT_EQ(ber::toHex(encodeTimeStamp(before, *berlin.value())), "2603290159592b0100");
  EXPECT_EQ(ber::toHex(encodeTimeStamp(before + 1, *berlin.value())), "2603290300002b0200");
  auto unix = timeStampUnix(encodeTimeStamp(before + 1, *berlin.value()));
  ASSERT_TRUE(unix);
  EXPECT_EQ(unix.value(), before + 1);
  auto ny = TimeZone::load("America/New_York");
  ASSERT_TRUE(ny);
  EXPECT_EQ(ber::toHex(encodeTimeStamp(utcNs(2026, 1, 15, 12, 0, 0) / 1000000000, *ny.value())),
            "2601150700002d0500");
}

TEST(CdrEncodeTest, ServiceConditionChangeBitString) {
  struct Case {
    uint64_t bits;
    const char* hex;
  };
  const Case cases[] = {
      {scBit(kScRecordClosure), "88050700000080"},  // > recordClosure alone = 88 05 07 00 00 00 80
      {0, "880100"},
      {scBit(kScQosChange), "88020780"},
      {scBit(kScRecordClosure) | scBit(kScVolumeLimit), "880505000000a0"},
      {scBit(kScTimeLimit), "88050600000040"},
      {scBit(kScTariffTimeSwitch), "88020410"},
      {uint64_t{1} << 37, "8806020000000004"},
  };
  for (const Case& c : cases) {
    ber::DerWriter w;
    w.namedBitString(ber::ctx(8), c.bits);
    EXPECT_EQ(ber::toHex(w.bytes()), c.hex);
    auto back = ber::decodeNamedBits(std::span<const uint8_t>(w.bytes()).subspan(2));
    ASSERT_TRUE(back);
    EXPECT_EQ(back.value(), c.bits);
  }
  // A vendor's fixed 4-octet form with 0 unused bits decodes the same.
  auto fixed = ber::decodeNamedBits(fromHex("0000000080"));
  ASSERT_TRUE(fixed);
  EXPECT_EQ(fixed.value(), scBit(kScRecordClosure));
}

TEST(CdrEncodeTest, ServedIpv6Prefix) {
  FixedZone tz(0);
  PgwRecord r = exampleRecord();
  r.served_address = ip("2001:db8:1:2::");
  r.served_prefix_length = 64;
  std::vector<uint8_t> bytes = encodePgwRecord(r, tz);
  // pdpPDNType IPv6; PDPAddress -> iPAddress [0] -> iPBinV6Address [1] (16 octets).
  EXPECT_TRUE(contains(bytes, "8802f157"));
  EXPECT_TRUE(contains(bytes, "a914a012811020010db8000100020000000000000000"));
  auto back = decodePgwRecord(bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back.value().served_address, r.served_address);
  EXPECT_EQ(back.value().served_prefix_length, 64);
  auto j = decodeRecordToJson(bytes);
  ASSERT_TRUE(j);
  EXPECT_EQ(j.value()["servedPDPPDNAddress"], "2001:db8:1:2::");
  EXPECT_EQ(j.value()["pdpPDNType"], "IPv6 (f157)");
}

TEST(CdrEncodeTest, DecodesIpv6WithPrefixAlternative) {
  // iPBinV6AddressWithPrefix [4] { OCTET STRING, INTEGER 56 } inside PDPAddress.
  ber::DerWriter w;
  size_t rec = w.begin(ber::ctxCons(79));
  size_t a = w.begin(ber::ctxCons(9));
  size_t b = w.begin(ber::ctxCons(0));
  size_t c = w.begin(ber::ctxCons(4));
  std::vector<uint8_t> addr = fromHex("20010db8000100000000000000000000");
  w.octetString(ber::universal(ber::kUOctetString), addr);
  w.integer(ber::universal(ber::kUInteger), 56);
  w.end(c);
  w.end(b);
  w.end(a);
  w.end(rec);
  auto j = decodeRecordToJson(w.bytes());
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ(j.value()["servedPDPPDNAddress"], "2001:db8:1::/56");
}

TEST(CdrEncodeTest, OptionalFieldsAndSetOrder) {
  FixedZone tz(0);
  PgwRecord r;
  r.pgw_address = ip("192.0.2.1");
  r.charging_id = 7;
  r.serving_nodes = {ip("192.0.2.1"), ip("2001:db8::1")};
  r.serving_node_types = {ServingNodeType::kGtpSgw};  // shorter: padded with gTPSGW
  r.dynamic_address = false;
  r.record_opening_time_ns = utcNs(2026, 11, 22, 10, 0, 0);
  std::vector<uint8_t> bytes = encodePgwRecord(r, tz);
  auto j = decodeRecordToJson(bytes);
  ASSERT_TRUE(j);
  const auto& o = j.value();
  // Absent: IMSI, MSISDN, APN, served address, dynamic flag, lists, optional extras.
  for (const char* k :
       {"servedIMSI", "servedMSISDN", "accessPointNameNI", "pdpPDNType", "servedPDPPDNAddress",
        "dynamicAddressFlag", "listOfTrafficVolumes", "listOfServiceData", "recordSequenceNumber",
        "nodeID", "startTime", "stopTime", "apnSelectionMode", "chChSelectionMode", "rATType"}) {
    EXPECT_FALSE(o.contains(k)) << k;
  }
  EXPECT_EQ(o["servingNodeAddress"], nlohmann::ordered_json::array({"192.0.2.1", "2001:db8::1"}));
  EXPECT_EQ(o["servingNodeType"], nlohmann::ordered_json::array({"gTPSGW (2)", "gTPSGW (2)"}));
  // SET members in ascending tag order.
  ber::BerReader top(bytes);
  auto rec = top.next();
  ASSERT_TRUE(rec);
  ber::BerReader in(rec.value().value);
  int64_t last = -1;
  while (!in.atEnd()) {
    auto f = in.next();
    ASSERT_TRUE(f);
    EXPECT_GT(static_cast<int64_t>(f.value().tag.number), last);
    last = f.value().tag.number;
  }
}

// diagnostics [16] (explicit CHOICE, gsm0408Cause [0]), pDNConnectionChargingID [41] (an
// unsigned INTEGER: 00 prefix for the top bit), the ServingNodeTypes past ePDG, and a record
// without any serving node (both mandatory lists present and empty): bytes and round trip.
TEST(CdrEncodeTest, DiagnosticsPdnChargingIdAndEmptyServingNodes) {
  FixedZone tz(0);
  PgwRecord r;
  r.pgw_address = ip("192.0.2.1");
  r.charging_id = 0x89ABCDEF;
  r.record_opening_time_ns = utcNs(2026, 11, 22, 10, 0, 0);
  r.cause = Cause::kAbnormalRelease;
  r.diagnostics_gsm0408_cause = kGsm0408NetworkFailure;
  r.pdn_connection_charging_id = 0x89ABCDEF;
  std::vector<uint8_t> bytes = encodePgwRecord(r, tz);
  EXPECT_TRUE(contains(bytes, "8f0104b003800126")) << "cause 4, then diagnostics 38";
  EXPECT_TRUE(contains(bytes, "9f29050089abcdef"));
  EXPECT_TRUE(contains(bytes, "a600"));
  EXPECT_TRUE(contains(bytes, "bf2300"));
  auto back = decodePgwRecord(bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back.value(), r);
  auto j = decodeRecordToJson(bytes);
  ASSERT_TRUE(j);
  EXPECT_EQ(j.value()["diagnostics"], (nlohmann::ordered_json{{"gsm0408Cause", 38}}));
  EXPECT_EQ(j.value()["pDNConnectionChargingID"], 0x89ABCDEFu);
  EXPECT_EQ(j.value()["servingNodeAddress"], nlohmann::ordered_json::array());

  r.serving_nodes = {ip("192.0.2.20"), ip("192.0.2.21"), ip("192.0.2.22")};
  r.serving_node_types = {ServingNodeType::kHsgw, ServingNodeType::kMme, ServingNodeType::kTwan};
  bytes = encodePgwRecord(r, tz);
  EXPECT_TRUE(contains(bytes, "bf23090a01040a01050a0106"));
  back = decodePgwRecord(bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back.value(), r);
  j = decodeRecordToJson(bytes);
  ASSERT_TRUE(j);
  EXPECT_EQ(j.value()["servingNodeType"],
            nlohmann::ordered_json::array({"hSGW (4)", "mME (5)", "tWAN (6)"}));
}

TEST(CdrEncodeTest, UnknownTagsAreKept) {
  std::vector<uint8_t> bytes = fromHex(kExampleHex);
  // Append [99] 01 02 (9F 63 02 01 02) inside the SET: outer length 342 + 5.
  std::vector<uint8_t> extra = fromHex("9f63020102");
  bytes.insert(bytes.end(), extra.begin(), extra.end());
  bytes[3] = 0x01;
  bytes[4] = 0x5B;
  auto j = decodeRecordToJson(bytes);
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ(j.value()["[tag 99]"], "0102");
  EXPECT_EQ(j.value()["chargingID"], 2309737967u);
  auto r = decodePgwRecord(bytes);
  ASSERT_TRUE(r) << r.error().message;  // unknown fields are ignored by the model decoder
}

TEST(CdrEncodeTest, SgwRecordAndOtherRecordsAsJson) {
  // sGWRecord [78]: s-GWAddress [4], sGWChange [34] BOOLEAN, p-GWAddressUsed [36].
  ber::DerWriter w;
  size_t rec = w.begin(ber::ctxCons(78));
  w.integer(ber::ctx(0), 84);
  size_t a = w.begin(ber::ctxCons(4));
  writeIpAddressChoice(w, ip("192.0.2.7"));
  w.end(a);
  w.boolean(ber::ctx(34), true);
  size_t p = w.begin(ber::ctxCons(36));
  writeIpAddressChoice(w, ip("198.51.100.1"));
  w.end(p);
  w.end(rec);
  auto j = decodeRecordToJson(w.bytes());
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ(j.value()["recordType"], "sGWRecord (84)");
  EXPECT_EQ(j.value()["s-GWAddress"], "192.0.2.7");
  EXPECT_EQ(j.value()["sGWChange"], true);
  EXPECT_EQ(j.value()["p-GWAddressUsed"], "198.51.100.1");
  EXPECT_FALSE(decodePgwRecord(w.bytes()));
  // Another GPRSRecord alternative (sgsnPDPRecord [20]) is kept as hex.
  auto other = decodeRecordToJson(fromHex("b403800112"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other.value()["unknownRecord"], "[tag 20]");
  EXPECT_EQ(other.value()["hex"], "800112");
  // Trailing data after the record is an error.
  auto trailing = decodeRecordToJson(fromHex("b40380011200"));
  ASSERT_FALSE(trailing);
  EXPECT_EQ(trailing.error().message, "offset 5: 1 octets after the record");
}

TEST(CdrEncodeTest, IndefiniteLengthBerDecodes) {
  // Re-encode the outer SET with an indefinite length: BF 4F 80 ... 00 00.
  std::vector<uint8_t> der = fromHex(kExampleHex);
  std::vector<uint8_t> berx = {0xBF, 0x4F, 0x80};
  berx.insert(berx.end(), der.begin() + 5, der.end());
  berx.push_back(0x00);
  berx.push_back(0x00);
  auto a = decodeRecordToJson(der);
  auto b = decodeRecordToJson(berx);
  ASSERT_TRUE(a);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(a.value().dump(), b.value().dump());
  auto r = decodePgwRecord(berx);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r.value(), exampleRecord());
}

// Random records: decode(encode(x)) == x field by field.
PgwRecord randomRecord(std::mt19937_64& rng) {
  auto u = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  auto digits = [&](size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) {
      s.push_back(static_cast<char>('0' + u(0, 9)));
    }
    return s;
  };
  auto anyIp = [&]() {
    IpAddress a;
    if (u(0, 1)) {
      a.family = 4;
      a.v4 = static_cast<uint32_t>(u(0, UINT32_MAX));
    } else {
      a.family = 6;
      a.v6 = Ip6{u(0, UINT64_MAX), u(0, UINT64_MAX)};
    }
    return a;
  };
  auto time = [&]() { return static_cast<int64_t>(u(946684800, 4102444799)) * 1000000000; };
  PgwRecord r;
  r.imsi = u(0, 4) ? digits(u(5, 15)) : "";
  r.msisdn = u(0, 4) ? digits(u(1, 15)) : "";
  int fam = static_cast<int>(u(0, 2));
  if (fam == 1) {
    r.served_address.family = 4;
    r.served_address.v4 = static_cast<uint32_t>(u(0, UINT32_MAX));
  } else if (fam == 2) {
    r.served_address.family = 6;
    r.served_address.v6 = Ip6{u(0, UINT64_MAX), 0};
    r.served_prefix_length = 64;
  }
  r.pgw_address = anyIp();
  r.charging_id = static_cast<uint32_t>(u(1, UINT32_MAX));
  size_t nodes = u(1, 4);
  for (size_t i = 0; i < nodes; ++i) {
    r.serving_nodes.push_back(anyIp());
    r.serving_node_types.push_back(static_cast<ServingNodeType>(u(0, 3)));
  }
  r.apn = u(0, 3) ? "apn" + digits(u(0, 20)) : "";
  r.dynamic_address = u(0, 1) != 0;
  r.record_opening_time_ns = time();
  r.duration_s = static_cast<uint32_t>(u(0, UINT32_MAX));
  const Cause causes[] = {Cause::kNormalRelease,         Cause::kAbnormalRelease,
                          Cause::kVolumeLimit,           Cause::kTimeLimit,
                          Cause::kServingNodeChange,     Cause::kMaxChangeCond,
                          Cause::kManagementIntervention};
  r.cause = causes[u(0, 6)];
  if (u(0, 1)) {
    r.record_sequence_number = static_cast<uint32_t>(u(1, UINT32_MAX));
  }
  r.node_id = u(0, 3) ? "node-" + digits(u(1, 15)) : "";
  r.local_sequence_number = u(0, UINT32_MAX);
  r.charging_characteristics = static_cast<uint16_t>(u(0, 0xFFFF));
  size_t ns = u(0, 5);
  for (size_t i = 0; i < ns; ++i) {
    ServiceContainer s;
    s.rating_group = static_cast<uint32_t>(u(0, UINT32_MAX));
    s.local_sequence_number = static_cast<uint32_t>(u(0, UINT32_MAX));
    s.time_of_first_usage_ns = u(0, 1) ? time() : 0;
    s.time_of_last_usage_ns = s.time_of_first_usage_ns ? time() : 0;
    s.time_usage_s = static_cast<uint32_t>(u(0, UINT32_MAX));
    s.service_condition_change = u(0, (uint64_t{1} << 38) - 1);
    if (u(0, 1)) {
      s.serving_node = anyIp();
    }
    s.uplink_octets = u(0, UINT64_MAX);
    s.downlink_octets = u(0, UINT64_MAX >> u(0, 63));
    s.time_of_report_ns = time();
    if (u(0, 1)) {
      s.charging_rule_base_name = "rb" + digits(u(0, 8));
    }
    if (u(0, 1)) {
      s.service_identifier = static_cast<uint32_t>(u(0, UINT32_MAX));
    }
    r.service_data.push_back(s);
  }
  size_t nt = u(0, 4);
  for (size_t i = 0; i < nt; ++i) {
    TrafficContainer t;
    t.uplink_octets = u(0, UINT64_MAX >> u(0, 63));
    t.downlink_octets = u(0, UINT64_MAX);
    t.change_condition = static_cast<ChangeCondition>(u(0, 2));
    t.change_time_ns = time();
    t.qci = static_cast<uint8_t>(u(0, 1) ? u(1, 255) : 0);
    if (t.qci && u(0, 1)) {
      t.arp = static_cast<uint8_t>(u(0, 255));
    }
    r.traffic_volumes.push_back(t);
  }
  if (u(0, 1)) {
    r.start_time_ns = time();
  }
  if (u(0, 1)) {
    r.stop_time_ns = time();
  }
  if (u(0, 1)) {
    r.apn_selection_mode = static_cast<ApnSelectionMode>(u(0, 2));
  }
  if (u(0, 1)) {
    r.ch_ch_selection_mode = static_cast<ChChSelectionMode>(u(3, 5));
  }
  r.serving_node_plmn_id = u(0, 1) ? digits(u(5, 6)) : "";
  r.pgw_plmn_id = u(0, 1) ? digits(u(5, 6)) : "";
  if (u(0, 1)) {
    r.rat_type = static_cast<uint8_t>(u(0, 255));
  }
  if (u(0, 1)) {
    // Quarters of an hour as swapped BCD, sign in bit 4 of the tens nibble.
    uint64_t q = u(0, 56);
    uint8_t tz0 = static_cast<uint8_t>((q % 10) << 4 | (q / 10) | (u(0, 1) ? 0x08 : 0x00));
    r.ms_time_zone = std::array<uint8_t, 2>{tz0, static_cast<uint8_t>(u(0, 2))};
  }
  size_t uli = u(0, 1) ? u(1, 40) : 0;
  for (size_t i = 0; i < uli; ++i) {
    r.user_location_information.push_back(static_cast<uint8_t>(u(0, 255)));
  }
  if (u(0, 1)) {
    r.diagnostics_gsm0408_cause = static_cast<uint8_t>(u(0, 255));
  }
  if (u(0, 1)) {
    r.pdn_connection_charging_id = static_cast<uint32_t>(u(0, UINT32_MAX));
  }
  return r;
}

TEST(CdrEncodeTest, RoundTripRandomRecords) {
  std::mt19937_64 rng(20261122);
  const int offsets[] = {0, 3600, -5 * 3600, 5 * 3600 + 30 * 60, -(9 * 3600 + 30 * 60), 14 * 3600};
  for (int i = 0; i < 2000; ++i) {
    FixedZone tz(offsets[i % 6]);
    PgwRecord x = randomRecord(rng);
    std::vector<uint8_t> bytes = encodePgwRecord(x, tz);
    auto y = decodePgwRecord(bytes);
    ASSERT_TRUE(y) << i << ": " << y.error().message << "\n" << ber::toHex(bytes);
    const PgwRecord& d = y.value();
    EXPECT_EQ(d.imsi, x.imsi);
    EXPECT_EQ(d.msisdn, x.msisdn);
    EXPECT_EQ(d.served_address, x.served_address);
    EXPECT_EQ(d.served_prefix_length, x.served_prefix_length);
    EXPECT_EQ(d.pgw_address, x.pgw_address);
    EXPECT_EQ(d.charging_id, x.charging_id);
    EXPECT_EQ(d.serving_nodes, x.serving_nodes);
    EXPECT_EQ(d.serving_node_types, x.serving_node_types);
    EXPECT_EQ(d.apn, x.apn);
    EXPECT_EQ(d.dynamic_address, x.dynamic_address);
    EXPECT_EQ(d.record_opening_time_ns, x.record_opening_time_ns);
    EXPECT_EQ(d.duration_s, x.duration_s);
    EXPECT_EQ(d.cause, x.cause);
    EXPECT_EQ(d.record_sequence_number, x.record_sequence_number);
    EXPECT_EQ(d.node_id, x.node_id);
    EXPECT_EQ(d.local_sequence_number, x.local_sequence_number);
    EXPECT_EQ(d.charging_characteristics, x.charging_characteristics);
    EXPECT_EQ(d.service_data, x.service_data);
    EXPECT_EQ(d.traffic_volumes, x.traffic_volumes);
    EXPECT_EQ(d.start_time_ns, x.start_time_ns);
    EXPECT_EQ(d.stop_time_ns, x.stop_time_ns);
    EXPECT_EQ(d.apn_selection_mode, x.apn_selection_mode);
    EXPECT_EQ(d.ch_ch_selection_mode, x.ch_ch_selection_mode);
    EXPECT_EQ(d.serving_node_plmn_id, x.serving_node_plmn_id);
    EXPECT_EQ(d.rat_type, x.rat_type);
    EXPECT_EQ(d.ms_time_zone, x.ms_time_zone);
    EXPECT_EQ(d.user_location_information, x.user_location_information);
    EXPECT_EQ(d.pgw_plmn_id, x.pgw_plmn_id);
    EXPECT_EQ(d.diagnostics_gsm0408_cause, x.diagnostics_gsm0408_cause);
    EXPECT_EQ(d.pdn_connection_charging_id, x.pdn_connection_charging_id);
    EXPECT_EQ(d, x);  // and all of it at once (session_id is 0 in both)
    // The JSON decoder reads every record without an invalid field.
    auto j = decodeRecordToJson(bytes);
    ASSERT_TRUE(j);
    EXPECT_EQ(j.value().dump().find("!invalid"), std::string::npos) << j.value().dump();
    // Re-encoding the decoded record gives the same octets (DER is canonical).
    EXPECT_EQ(encodePgwRecord(d, tz), bytes);
    if (::testing::Test::HasFailure()) {
      break;
    }
  }
}

TEST(CdrEncodeTest, DecoderSurvivesGarbage) {
  std::mt19937_64 rng(7);
  std::vector<uint8_t> example = fromHex(kExampleHex);
  size_t decoded = 0;
  // Truncations of a valid record.
  for (size_t n = 0; n < example.size(); ++n) {
    std::span<const uint8_t> part(example.data(), n);
    auto j = decodeRecordToJson(part);
    auto r = decodePgwRecord(part);
    EXPECT_FALSE(r);
    decoded += j ? 1 : 0;
  }
  // Bit flips and random octet changes.
  for (int i = 0; i < 4000; ++i) {
    std::vector<uint8_t> m = example;
    int changes = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < changes; ++k) {
      m[rng() % m.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    if (rng() % 4 == 0) {
      m.resize(rng() % m.size());
    }
    auto j = decodeRecordToJson(m);
    auto r = decodePgwRecord(m);
    decoded += j ? 1 : 0;
    if (j) {
      (void)j.value().dump();  // serialisable (valid UTF-8 etc.)
    }
  }
  // Pure random input.
  for (int i = 0; i < 4000; ++i) {
    std::vector<uint8_t> m(rng() % 64);
    for (uint8_t& b : m) {
      b = static_cast<uint8_t>(rng());
    }
    if (!m.empty() && rng() % 2) {
      m[0] = 0xBF;
      if (m.size() > 1) {
        m[1] = 0x4F;
      }
    }
    auto j = decodeRecordToJson(m);
    auto r = decodePgwRecord(m);
    if (j) {
      (void)j.value().dump();
    }
  }
  EXPECT_GT(decoded, 0u);
}

}  // namespace
}  // namespace tally::cdr
