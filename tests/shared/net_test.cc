#include "shared/net.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace tally {
namespace {

IpAddress v4(uint32_t a) {
  IpAddress r;
  r.family = 4;
  r.v4 = a;
  return r;
}

IpAddress v6(uint64_t hi, uint64_t lo) {
  IpAddress r;
  r.family = 6;
  r.v6 = Ip6{hi, lo};
  return r;
}

// ---- parseIpAddress ----

struct AddressCase {
  std::string text;
  std::optional<IpAddress> want;
};

class ParseIpAddressTest : public testing::TestWithParam<AddressCase> {};

TEST_P(ParseIpAddressTest, Parses) {
  const AddressCase& c = GetParam();
  std::optional<IpAddress> got = parseIpAddress(c.text);
  ASSERT_EQ(got.has_value(), c.want.has_value()) << "'" << c.text << "'";
  if (got) {
    EXPECT_EQ(got->family, c.want->family);
    EXPECT_EQ(got->v4, c.want->v4);
    EXPECT_EQ(got->v6.hi, c.want->v6.hi);
    EXPECT_EQ(got->v6.lo, c.want->v6.lo);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseIpAddressTest,
    testing::Values(AddressCase{"192.0.2.1", v4(0xc0000201)}, AddressCase{"0.0.0.0", v4(0)},
                    AddressCase{"255.255.255.255", v4(0xffffffff)},
                    AddressCase{"2001:db8::1", v6(0x20010db800000000, 1)},
                    AddressCase{"::", v6(0, 0)},
                    AddressCase{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                                v6(~uint64_t{0}, ~uint64_t{0})},
                    AddressCase{"::ffff:192.0.2.1", v6(0, 0x0000ffffc0000201)},
                    AddressCase{"1:2:3:4:5:6:7:8", v6(0x0001000200030004, 0x0005000600070008)},
                    AddressCase{"", std::nullopt}, AddressCase{"1.2.3", std::nullopt},
                    AddressCase{"256.0.0.1", std::nullopt}, AddressCase{"1.2.3.4/8", std::nullopt},
                    AddressCase{" 1.2.3.4", std::nullopt}, AddressCase{"1.2.3.4 ", std::nullopt},
                    AddressCase{"gg::1", std::nullopt}, AddressCase{"1::2::3", std::nullopt},
                    AddressCase{"localhost", std::nullopt}));

// ---- parseIpPrefix ----

struct PrefixCase {
  std::string text;
  bool allow_host_bits;
  std::optional<IpPrefix> want;
};

IpPrefix prefix(IpAddress a, uint8_t len) {
  IpPrefix p;
  p.addr = a;
  p.len = len;
  return p;
}

class ParseIpPrefixTest : public testing::TestWithParam<PrefixCase> {};

TEST_P(ParseIpPrefixTest, Parses) {
  const PrefixCase& c = GetParam();
  std::optional<IpPrefix> got = parseIpPrefix(c.text, c.allow_host_bits);
  ASSERT_EQ(got.has_value(), c.want.has_value()) << "'" << c.text << "'";
  if (got) {
    EXPECT_TRUE(*got == *c.want) << formatPrefix(*got) << " want " << formatPrefix(*c.want);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseIpPrefixTest,
    testing::Values(
        PrefixCase{"10.0.0.0/8", false, prefix(v4(0x0a000000), 8)},
        PrefixCase{"10.0.0.1/8", false, std::nullopt},
        PrefixCase{"10.0.0.1/8", true, prefix(v4(0x0a000000), 8)},
        PrefixCase{"0.0.0.0/0", false, prefix(v4(0), 0)},
        PrefixCase{"1.2.3.4/0", true, prefix(v4(0), 0)},
        PrefixCase{"1.2.3.4", false, prefix(v4(0x01020304), 32)},
        PrefixCase{"1.2.3.4/32", false, prefix(v4(0x01020304), 32)},
        PrefixCase{"10.0.0.0/33", true, std::nullopt}, PrefixCase{"10.0.0.0/", true, std::nullopt},
        PrefixCase{"10.0.0.0/x", true, std::nullopt}, PrefixCase{"10.0.0.0/-1", true, std::nullopt},
        PrefixCase{"10.0.0.0/0008", true, std::nullopt}, PrefixCase{"/8", true, std::nullopt},
        PrefixCase{"2001:db8::/32", false, prefix(v6(0x20010db800000000, 0), 32)},
        PrefixCase{"2001:db8::1/32", false, std::nullopt},
        PrefixCase{"2001:db8::1/32", true, prefix(v6(0x20010db800000000, 0), 32)},
        PrefixCase{"2001:db8::1/127", true, prefix(v6(0x20010db800000000, 0), 127)},
        PrefixCase{"2001:db8::1/128", false, prefix(v6(0x20010db800000000, 1), 128)},
        PrefixCase{"2001:db8:0:0:8000::/65", false,
                   prefix(v6(0x20010db800000000, 0x8000000000000000), 65)},
        PrefixCase{"2001:db8::/129", true, std::nullopt},
        PrefixCase{"::/0", false, prefix(v6(0, 0), 0)}));

// ---- formatting ----

TEST(FormatTest, AddressesAndPrefixes) {
  EXPECT_EQ(formatIp4(0xc0000201), "192.0.2.1");
  EXPECT_EQ(formatIp4(0), "0.0.0.0");
  EXPECT_EQ(formatIp(v4(0x0a000001)), "10.0.0.1");
  EXPECT_EQ(formatIp6(Ip6{0x20010db800000000, 1}), "2001:db8::1");
  EXPECT_EQ(formatIp(v6(0, 0)), "::");
  EXPECT_EQ(formatPrefix(prefix(v4(0x0a000000), 8)), "10.0.0.0/8");
  EXPECT_EQ(formatPrefix(prefix(v6(0x20010db800000000, 0), 32)), "2001:db8::/32");
}

TEST(FormatTest, RoundTrips) {
  for (const char* text : {"10.0.0.0/8", "192.0.2.128/25", "2001:db8::/32",
                           "2001:db8:1:2:3:4:5:6/128", "::/0", "fe80::/10"}) {
    auto p = parseIpPrefix(text);
    ASSERT_TRUE(p) << text;
    EXPECT_EQ(formatPrefix(*p), text);
  }
}

// ---- contains ----

struct ContainsCase {
  std::string prefix;
  std::string address;
  bool want;
};

class ContainsTest : public testing::TestWithParam<ContainsCase> {};

TEST_P(ContainsTest, Contains) {
  const ContainsCase& c = GetParam();
  auto p = parseIpPrefix(c.prefix);
  auto a = parseIpAddress(c.address);
  ASSERT_TRUE(p && a);
  EXPECT_EQ(p->contains(*a), c.want) << c.prefix << " " << c.address;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ContainsTest,
    testing::Values(ContainsCase{"10.0.0.0/8", "10.255.255.255", true},
                    ContainsCase{"10.0.0.0/8", "11.0.0.0", false},
                    ContainsCase{"10.0.0.0/8", "9.255.255.255", false},
                    ContainsCase{"0.0.0.0/0", "203.0.113.7", true},
                    ContainsCase{"192.0.2.1/32", "192.0.2.1", true},
                    ContainsCase{"192.0.2.1/32", "192.0.2.2", false},
                    ContainsCase{"192.0.2.128/25", "192.0.2.127", false},
                    ContainsCase{"2001:db8::/32", "2001:db8:ffff::1", true},
                    ContainsCase{"2001:db8::/32", "2001:db9::", false},
                    ContainsCase{"2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff", true},
                    ContainsCase{"2001:db8::/64", "2001:db8:0:1::", false},
                    ContainsCase{"2001:db8::8000:0:0:0/65", "2001:db8::8000:0:0:1", true},
                    ContainsCase{"2001:db8::8000:0:0:0/65", "2001:db8::7fff:0:0:1", false},
                    ContainsCase{"::/0", "2001:db8::1", true},
                    ContainsCase{"2001:db8::1/128", "2001:db8::1", true},
                    ContainsCase{"2001:db8::1/128", "2001:db8::2", false},
                    // other family never matches, not even /0
                    ContainsCase{"0.0.0.0/0", "::ffff:10.0.0.1", false},
                    ContainsCase{"::/0", "10.0.0.1", false}));

// ---- maskIp6 / loadIp6 ----

TEST(MaskIp6Test, KeepsLeadingBits) {
  const Ip6 ones{~uint64_t{0}, ~uint64_t{0}};
  EXPECT_EQ(maskIp6(ones, 0), (Ip6{0, 0}));
  EXPECT_EQ(maskIp6(ones, 1), (Ip6{0x8000000000000000, 0}));
  EXPECT_EQ(maskIp6(ones, 63), (Ip6{0xfffffffffffffffe, 0}));
  EXPECT_EQ(maskIp6(ones, 64), (Ip6{~uint64_t{0}, 0}));
  EXPECT_EQ(maskIp6(ones, 65), (Ip6{~uint64_t{0}, 0x8000000000000000}));
  EXPECT_EQ(maskIp6(ones, 127), (Ip6{~uint64_t{0}, 0xfffffffffffffffe}));
  EXPECT_EQ(maskIp6(ones, 128), ones);
  EXPECT_EQ(maskIp6(ones, 200), ones);
  EXPECT_EQ(maskIp6(Ip6{0x20010db812345678, 0x1}, 48), (Ip6{0x20010db812340000, 0}));
}

TEST(LoadIp6Test, NetworkOrderBytes) {
  const uint8_t bytes[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0, 0, 0x2a};
  EXPECT_EQ(loadIp6(bytes), (Ip6{0x20010db800000001, 0x800000000000002a}));
}

}  // namespace
}  // namespace tally
