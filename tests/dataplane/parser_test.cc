// Table-driven tests of the fast-path parser (dataplane/parser.h) against frames built byte by
// byte in tests/dataplane/packet_builder.h. Billing rule under test (spec semantics.md §1):
// octets = IPv4 Total Length, or IPv6 Payload Length + 40; for GTP-U the inner packet's.
#include "dataplane/parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "shared/stats.h"
#include "tests/dataplane/packet_builder.h"

namespace tally {
namespace {

using pkt::Bytes;
using pkt::concat;
using pkt::ether;
using pkt::filler;
using pkt::GtpExt;
using pkt::Gtpu;
using pkt::gtpu;
using pkt::icmpEcho;
using pkt::Ipv4;
using pkt::ipv4;
using pkt::Ipv6;
using pkt::ipv6;
using pkt::ipv6Ah;
using pkt::ipv6Ext;
using pkt::ipv6Frag;
using pkt::kArpType;
using pkt::kIpv4Type;
using pkt::kIpv6Type;
using pkt::tcp;
using pkt::udp;
using pkt::Vlan;

// ---- Expected results ----------------------------------------------------------------------

Ip6 ip6(const std::string& text) {
  const auto b = pkt::v6Bytes(text);
  Ip6 a;
  for (int i = 0; i < 8; ++i) {
    a.hi = (a.hi << 8) | b[i];
    a.lo = (a.lo << 8) | b[8 + i];
  }
  return a;
}

IpAddress ipAddress(const std::string& text) {
  IpAddress a;
  if (text.find(':') != std::string::npos) {
    a.family = 6;
    a.v6 = ip6(text);
  } else {
    a.family = 4;
    a.v4 = pkt::v4(text);
  }
  return a;
}

// Fluent description of the ParsedPacket a row expects; every field is compared.
struct Want {
  ParsedPacket p;
  Want& ports(uint16_t src, uint16_t dst) {
    p.has_ports = true;
    p.src_port = src;
    p.dst_port = dst;
    return *this;
  }
  Want& fragment() {
    p.is_fragment = true;
    return *this;
  }
  Want& tunnel(const std::string& outer_src, uint32_t teid) {
    p.tunneled = true;
    p.outer_src = ipAddress(outer_src);
    p.teid = teid;
    return *this;
  }
  Want& teid(uint32_t teid) {
    p.teid = teid;
    return *this;
  }
};

Want want4(const std::string& src, const std::string& dst, uint8_t protocol, uint32_t ip_len) {
  Want w;
  w.p.family = 4;
  w.p.protocol = protocol;
  w.p.ip_len = ip_len;
  w.p.src4 = pkt::v4(src);
  w.p.dst4 = pkt::v4(dst);
  return w;
}

Want want6(const std::string& src, const std::string& dst, uint8_t protocol, uint32_t ip_len) {
  Want w;
  w.p.family = 6;
  w.p.protocol = protocol;
  w.p.ip_len = ip_len;
  w.p.src6 = ip6(src);
  w.p.dst6 = ip6(dst);
  return w;
}

std::string hex(const Ip6& a) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%016llx:%016llx", static_cast<unsigned long long>(a.hi),
                static_cast<unsigned long long>(a.lo));
  return buf;
}

// The meaningful fields of a kIp result (parser.h): the addresses of the packet's family only,
// outer_src (all of it) and teid only when tunneled.
void expectSamePacket(const ParsedPacket& got, const ParsedPacket& want) {
  EXPECT_EQ(got.family, want.family);
  EXPECT_EQ(got.protocol, want.protocol);
  EXPECT_EQ(got.has_ports, want.has_ports);
  EXPECT_EQ(got.is_fragment, want.is_fragment);
  EXPECT_EQ(got.src_port, want.src_port);
  EXPECT_EQ(got.dst_port, want.dst_port);
  EXPECT_EQ(got.ip_len, want.ip_len);
  if (want.family == 4) {
    EXPECT_EQ(got.src4, want.src4);
    EXPECT_EQ(got.dst4, want.dst4);
  } else {
    EXPECT_EQ(hex(got.src6), hex(want.src6));
    EXPECT_EQ(hex(got.dst6), hex(want.dst6));
  }
  EXPECT_EQ(got.tunneled, want.tunneled);
  if (want.tunneled) {
    // The whole address: its other family's fields are zero (parser.h; the fast path's serving
    // check relies on v4 being 0 for an IPv6 node).
    EXPECT_EQ(got.outer_src.family, want.outer_src.family);
    EXPECT_EQ(got.outer_src.v4, want.outer_src.v4);
    EXPECT_EQ(hex(got.outer_src.v6), hex(want.outer_src.v6));
    EXPECT_EQ(got.teid, want.teid);
  }
}

// ---- Frames --------------------------------------------------------------------------------

// Subscriber-side traffic.
constexpr const char* kSub4 = "10.1.2.3";
constexpr const char* kNet4 = "192.0.2.9";
constexpr const char* kSub6 = "2001:db8:1::10";
constexpr const char* kNet6 = "2001:db8:ffff::1";
// GTP-U tunnel endpoints (eNB/gNB -> SGW-U/UPF) and the UE inside.
constexpr const char* kEnb4 = "198.51.100.1";
constexpr const char* kUpf4 = "198.51.100.2";
constexpr const char* kEnb6 = "2001:db8:a::1";
constexpr const char* kUpf6 = "2001:db8:b::1";
constexpr const char* kUe4 = "10.45.0.7";
constexpr const char* kServer4 = "203.0.113.5";
constexpr const char* kUe6 = "2001:db8:45::7";
constexpr const char* kServer6 = "2001:db8:cafe::5";
constexpr uint16_t kGtpPort = 2152;
constexpr uint32_t kTeid = 0x01020304;

Bytes eth4(const Bytes& ip) { return ether(kIpv4Type, ip); }
Bytes eth6(const Bytes& ip) { return ether(kIpv6Type, ip); }

// Inner packets of the tunnel: IPv4 TCP 140 octets, IPv6 UDP 40 + 8 + 52 = 100 octets.
Bytes innerV4() {
  return ipv4({.src = kUe4, .dst = kServer4, .protocol = 6}, tcp(40001, 443, filler(100)));
}
Bytes innerV6() {
  return ipv6({.src = kUe6, .dst = kServer6, .next_header = 17}, udp(50000, 4500, filler(52)));
}
constexpr uint32_t kInnerV4Len = 140;
constexpr uint32_t kInnerV6Len = 100;

Want wantInnerV4() { return want4(kUe4, kServer4, 6, kInnerV4Len).ports(40001, 443); }
Want wantInnerV6() { return want6(kUe6, kServer6, 17, kInnerV6Len).ports(50000, 4500); }

// Outer IPv4 / UDP 2152 -> 2152 / `gtp_payload` (already a GTP-U message).
Bytes gtpOver4(const Bytes& gtp_payload) {
  return eth4(
      ipv4({.src = kEnb4, .dst = kUpf4, .protocol = 17}, udp(kGtpPort, kGtpPort, gtp_payload)));
}
Bytes gtpOver6(const Bytes& gtp_payload) {
  return eth6(
      ipv6({.src = kEnb6, .dst = kUpf6, .next_header = 17}, udp(kGtpPort, kGtpPort, gtp_payload)));
}

Bytes prefix(const Bytes& b, size_t n) { return Bytes(b.begin(), b.begin() + n); }

// A chain of `n` destination-options headers (8 octets each) ending in UDP 1000 -> 2000.
Bytes destOptsChain(int n) {
  Bytes b = udp(1000, 2000, filler(4));
  for (int i = 0; i < n; ++i) {
    b = ipv6Ext(i == 0 ? 17 : 60, 0, b);
  }
  return b;
}

// ---- The table -----------------------------------------------------------------------------

struct Case {
  std::string name;
  Bytes frame;
  ParseStatus status;
  std::optional<ParsedPacket> want;  // compared field by field when set
};

Case ok(std::string name, Bytes frame, const Want& want) {
  return Case{std::move(name), std::move(frame), ParseStatus::kIp, want.p};
}
Case bad(std::string name, Bytes frame, ParseStatus status) {
  return Case{std::move(name), std::move(frame), status, std::nullopt};
}

std::vector<Case> buildCases() {
  std::vector<Case> c;
  const Ipv4 sub_udp4{.src = kSub4, .dst = kNet4, .protocol = 17};
  const Ipv6 sub_udp6{.src = kSub6, .dst = kNet6, .next_header = 17};

  // --- Plain IPv4.
  c.push_back(ok("Ipv4Udp", eth4(ipv4(sub_udp4, udp(40000, 53, filler(20)))),
                 want4(kSub4, kNet4, 17, 48).ports(40000, 53)));
  c.push_back(
      ok("Ipv4Tcp",
         eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 6}, tcp(51000, 443, filler(100)))),
         want4(kSub4, kNet4, 6, 140).ports(51000, 443)));
  c.push_back(ok("Ipv4Icmp",
                 eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 1}, icmpEcho(filler(56)))),
                 want4(kSub4, kNet4, 1, 84)));
  c.push_back(ok("Ipv4Sctp",
                 eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 132}, udp(2905, 2906, {}))),
                 want4(kSub4, kNet4, 132, 28).ports(2905, 2906)));
  c.push_back(ok("Ipv4UdpLite",
                 eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 136}, udp(7, 9, {}))),
                 want4(kSub4, kNet4, 136, 28).ports(7, 9)));
  c.push_back(ok("Ipv4GreHasNoPorts",
                 eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 47}, filler(24))),
                 want4(kSub4, kNet4, 47, 44)));
  // 8 octets of options: the ports are at IHL * 4 = 28, not at 20.
  c.push_back(ok(
      "Ipv4WithOptions",
      eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 17, .options = {1, 1, 1, 1, 1, 1, 1, 0}},
                udp(1111, 2222, filler(10)))),
      want4(kSub4, kNet4, 17, 46).ports(1111, 2222)));
  c.push_back(ok("Ipv4MaxOptions",
                 eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 6, .options = Bytes(40, 1)},
                           tcp(1, 2, {}))),
                 want4(kSub4, kNet4, 6, 80).ports(1, 2)));
  // 60-octet minimum Ethernet frame carrying a 28-octet IP packet: the padding is not billed.
  c.push_back(ok("EthernetPadding", ether(kIpv4Type, ipv4(sub_udp4, udp(5000, 6000, {})), {}, 60),
                 want4(kSub4, kNet4, 17, 28).ports(5000, 6000)));
  // UDP with 2 octets of L4 header inside the IP length; the padding that follows must not be
  // read as the rest of the ports.
  c.push_back(ok("Ipv4PortsBeyondIpLength", ether(kIpv4Type, ipv4(sub_udp4, {0x13, 0x88}), {}, 60),
                 want4(kSub4, kNet4, 17, 22)));
  c.push_back(ok("Ipv4DontFragmentIsNoFragment",
                 eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 17, .dont_fragment = true},
                           udp(1, 2, filler(3)))),
                 want4(kSub4, kNet4, 17, 31).ports(1, 2)));

  // --- VLAN.
  const Bytes v4_udp = ipv4(sub_udp4, udp(40000, 53, filler(20)));
  const Want want_v4_udp = want4(kSub4, kNet4, 17, 48).ports(40000, 53);
  c.push_back(ok("Vlan8021Q", ether(kIpv4Type, v4_udp, {{0x8100, 10}}), want_v4_udp));
  c.push_back(
      ok("QinQ88a8Then8100", ether(kIpv4Type, v4_udp, {{0x88A8, 10}, {0x8100, 20}}), want_v4_udp));
  c.push_back(
      ok("QinQ8100Then8100", ether(kIpv4Type, v4_udp, {{0x8100, 10}, {0x8100, 20}}), want_v4_udp));
  c.push_back(
      ok("QinQ9100Then8100", ether(kIpv4Type, v4_udp, {{0x9100, 10}, {0x8100, 20}}), want_v4_udp));
  c.push_back(ok("FourTags",
                 ether(kIpv4Type, v4_udp, {{0x88A8, 1}, {0x8100, 2}, {0x8100, 3}, {0x8100, 4}}),
                 want_v4_udp));
  c.push_back(bad(
      "FiveTagsIsNonIp",
      ether(kIpv4Type, v4_udp, {{0x88A8, 1}, {0x8100, 2}, {0x8100, 3}, {0x8100, 4}, {0x8100, 5}}),
      ParseStatus::kNonIp));
  c.push_back(ok("VlanIpv6", ether(kIpv6Type, ipv6(sub_udp6, udp(1, 2, {})), {{0x8100, 7}}),
                 want6(kSub6, kNet6, 17, 48).ports(1, 2)));
  c.push_back(ok("VlanWithPadding",
                 ether(kIpv4Type, ipv4(sub_udp4, udp(5, 6, {})), {{0x8100, 7}}, 64),
                 want4(kSub4, kNet4, 17, 28).ports(5, 6)));

  // --- IPv4 fragments.
  c.push_back(ok("Ipv4FirstFragmentHasPorts",
                 eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 17, .more_fragments = true},
                           udp(7000, 8000, filler(64)))),
                 want4(kSub4, kNet4, 17, 92).ports(7000, 8000).fragment()));
  c.push_back(ok("Ipv4MiddleFragmentNoPorts",
                 eth4(ipv4({.src = kSub4,
                            .dst = kNet4,
                            .protocol = 17,
                            .more_fragments = true,
                            .fragment_offset = 9},
                           filler(64))),
                 want4(kSub4, kNet4, 17, 84).fragment()));
  c.push_back(ok(
      "Ipv4LastFragmentNoPorts",
      eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 6, .fragment_offset = 185}, filler(30))),
      want4(kSub4, kNet4, 6, 50).fragment()));
  c.push_back(ok("Ipv4FirstFragmentTruncatedL4",
                 eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 6, .more_fragments = true},
                           {0x01, 0xBB, 0x00})),
                 want4(kSub4, kNet4, 6, 23).fragment()));

  // --- IPv6.
  c.push_back(ok("Ipv6Udp", eth6(ipv6(sub_udp6, udp(40000, 53, filler(20)))),
                 want6(kSub6, kNet6, 17, 68).ports(40000, 53)));
  c.push_back(ok("Ipv6Tcp",
                 eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 6}, tcp(51000, 443, {}))),
                 want6(kSub6, kNet6, 6, 60).ports(51000, 443)));
  c.push_back(ok("Ipv6Icmpv6",
                 eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 58}, filler(16))),
                 want6(kSub6, kNet6, 58, 56)));
  // Hop-by-hop (8) -> destination options (16) -> routing (24) -> UDP (8 + 12).
  c.push_back(
      ok("Ipv6HopByHopDestOptsRouting",
         eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 0},
                   ipv6Ext(60, 0, ipv6Ext(43, 1, ipv6Ext(17, 2, udp(3000, 4000, filler(12))))))),
         want6(kSub6, kNet6, 17, 108).ports(3000, 4000)));
  c.push_back(ok(
      "Ipv6AuthenticationHeader",
      eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 51}, ipv6Ah(6, 4, tcp(22, 60000, {})))),
      want6(kSub6, kNet6, 6, 84).ports(22, 60000)));
  c.push_back(ok("Ipv6FirstFragmentHasPorts",
                 eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 44},
                           ipv6Frag(17, 0, true, udp(7000, 8000, filler(40))))),
                 want6(kSub6, kNet6, 17, 96).ports(7000, 8000).fragment()));
  c.push_back(ok("Ipv6NonFirstFragmentNoPorts",
                 eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 44},
                           ipv6Frag(17, 100, false, filler(40)))),
                 want6(kSub6, kNet6, 17, 88).fragment()));
  c.push_back(ok("Ipv6FragmentAfterHopByHop",
                 eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 0},
                           ipv6Ext(44, 0, ipv6Frag(6, 5, true, filler(16))))),
                 want6(kSub6, kNet6, 6, 72).fragment()));
  c.push_back(ok("Ipv6EspNoPorts",
                 eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 50}, filler(60))),
                 want6(kSub6, kNet6, 50, 100)));
  c.push_back(ok("Ipv6NoNextHeader",
                 eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 59}, {})),
                 want6(kSub6, kNet6, 59, 40)));
  // Hop-by-hop claims 88 octets, the payload has 16: the walk stops, the packet is billable.
  c.push_back(ok("Ipv6ExtHeaderTruncated",
                 eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 0},
                           concat({{17, 10, 1, 4, 0, 0, 0, 0}, filler(8)}))),
                 want6(kSub6, kNet6, 0, 56)));
  c.push_back(ok("Ipv6ExtHeaderOneOctet",
                 eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 60}, {17})),
                 want6(kSub6, kNet6, 60, 41)));
  // Payload length 4 < the 8-octet destination options header (which is in the frame).
  c.push_back(ok("Ipv6ExtHeaderBeyondPayload",
                 eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 60, .payload_length = 4},
                           ipv6Ext(17, 0, udp(1, 2, {})))),
                 want6(kSub6, kNet6, 60, 44)));
  // Payload length 8 covers the extension header but not the UDP ports behind it.
  c.push_back(ok("Ipv6PortsBeyondPayload",
                 eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 60, .payload_length = 8},
                           ipv6Ext(17, 0, udp(1, 2, {})))),
                 want6(kSub6, kNet6, 17, 48)));
  c.push_back(ok("Ipv6EightExtHeaders",
                 eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 60}, destOptsChain(8))),
                 want6(kSub6, kNet6, 17, 40 + 64 + 12).ports(1000, 2000)));
  c.push_back(ok("Ipv6NineExtHeadersStop",
                 eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 60}, destOptsChain(9))),
                 want6(kSub6, kNet6, 60, 40 + 72 + 12)));

  // --- GTP-U G-PDUs.
  c.push_back(ok("GtpV4InV4", gtpOver4(gtpu({.teid = kTeid}, innerV4())),
                 wantInnerV4().tunnel(kEnb4, kTeid)));
  c.push_back(ok("GtpV6InV6", gtpOver6(gtpu({.teid = 0xFFFFFFFE}, innerV6())),
                 wantInnerV6().tunnel(kEnb6, 0xFFFFFFFE)));
  c.push_back(
      ok("GtpV6InV4", gtpOver4(gtpu({.teid = 7}, innerV6())), wantInnerV6().tunnel(kEnb4, 7)));
  c.push_back(
      ok("GtpV4InV6", gtpOver6(gtpu({.teid = 8}, innerV4())), wantInnerV4().tunnel(kEnb6, 8)));
  c.push_back(ok("GtpWithSequenceNumber", gtpOver4(gtpu({.teid = kTeid, .s = true}, innerV4())),
                 wantInnerV4().tunnel(kEnb4, kTeid)));
  c.push_back(ok("GtpWithNpduNumber", gtpOver4(gtpu({.teid = kTeid, .pn = true}, innerV4())),
                 wantInnerV4().tunnel(kEnb4, kTeid)));
  c.push_back(ok("GtpEFlagNoExtensions",
                 gtpOver4(gtpu({.teid = kTeid, .e_without_extensions = true}, innerV4())),
                 wantInnerV4().tunnel(kEnb4, kTeid)));
  // PDU Session Container (0x85), 4 octets: length 1, PDU type/QFI (2 octets), next type.
  c.push_back(ok("GtpOneExtension",
                 gtpOver4(gtpu({.teid = kTeid, .extensions = {{0x85, {0x10, 0x09}}}}, innerV4())),
                 wantInnerV4().tunnel(kEnb4, kTeid)));
  // PDU Session Container (4 octets) then an 8-octet extension (length 2).
  c.push_back(
      ok("GtpTwoExtensions",
         gtpOver6(gtpu(
             {.teid = kTeid, .s = true, .extensions = {{0x85, {0x00, 0x05}}, {0xC0, filler(6)}}},
             innerV6())),
         wantInnerV6().tunnel(kEnb6, kTeid)));
  // Octets after the inner packet inside the GTP-U payload, and after the GTP-U message inside
  // the UDP datagram: neither is billed.
  c.push_back(ok("GtpTrailerAfterInner",
                 gtpOver4(gtpu({.teid = kTeid}, concat({innerV4(), filler(6)}))),
                 wantInnerV4().tunnel(kEnb4, kTeid)));
  c.push_back(ok("GtpTrailerAfterGtp",
                 gtpOver4(concat({gtpu({.teid = kTeid}, innerV4()), filler(6)})),
                 wantInnerV4().tunnel(kEnb4, kTeid)));
  c.push_back(ok("GtpOverVlanWithOuterExtHeader",
                 ether(kIpv6Type,
                       ipv6({.src = kEnb6, .dst = kUpf6, .next_header = 60},
                            ipv6Ext(17, 0, udp(40000, kGtpPort, gtpu({.teid = 9}, innerV4())))),
                       {{0x8100, 3}}),
                 wantInnerV4().tunnel(kEnb6, 9)));
  // GTP-U in GTP-U is not decapsulated twice: the inner UDP/2152 is billed as plain UDP.
  {
    const Bytes inner = ipv4({.src = kUe4, .dst = kServer4, .protocol = 17},
                             udp(kGtpPort, kGtpPort, gtpu({.teid = 0x0BADBEEF}, innerV4())));
    c.push_back(ok("GtpInGtpNotDecapsulatedTwice", gtpOver4(gtpu({.teid = kTeid}, inner)),
                   want4(kUe4, kServer4, 17, 20 + 8 + 8 + kInnerV4Len)
                       .ports(kGtpPort, kGtpPort)
                       .tunnel(kEnb4, kTeid)));
  }
  // Only the destination port selects GTP-U.
  {
    const Bytes gtp = gtpu({.teid = kTeid}, innerV4());
    const uint32_t outer_len = static_cast<uint32_t>(20 + 8 + gtp.size());
    c.push_back(
        ok("GtpSourcePortOnlyIsPlainUdp",
           eth4(ipv4({.src = kEnb4, .dst = kUpf4, .protocol = 17}, udp(kGtpPort, 5000, gtp))),
           want4(kEnb4, kUpf4, 17, outer_len).ports(kGtpPort, 5000)));
    c.push_back(ok("TcpPort2152IsPlainTcp",
                   eth4(ipv4({.src = kEnb4, .dst = kUpf4, .protocol = 6}, tcp(1, kGtpPort, gtp))),
                   want4(kEnb4, kUpf4, 6, outer_len + 12).ports(1, kGtpPort)));
    // An outer non-first fragment is never GTP-U, even if its bytes look like it.
    c.push_back(ok("GtpOuterNonFirstFragmentIsPlainIp",
                   eth4(ipv4({.src = kEnb4, .dst = kUpf4, .protocol = 17, .fragment_offset = 100},
                             udp(kGtpPort, kGtpPort, gtp))),
                   want4(kEnb4, kUpf4, 17, outer_len).fragment()));
    c.push_back(ok("GtpOuterIpv6NonFirstFragmentIsPlainIp",
                   eth6(ipv6({.src = kEnb6, .dst = kUpf6, .next_header = 44},
                             ipv6Frag(17, 100, false, udp(kGtpPort, kGtpPort, gtp)))),
                   want6(kEnb6, kUpf6, 17, outer_len + 20 + 8).fragment()));
  }

  // --- GTP-U signalling and malformed GTP-U.
  {
    // Echo Request: the fields describe the outer packet, tunneled stays false.
    const Bytes echo = gtpu({.message_type = 1, .teid = 0, .s = true}, {});
    c.push_back(Case{"GtpEchoRequestNotGpdu", gtpOver4(echo), ParseStatus::kGtpNotGpdu,
                     want4(kEnb4, kUpf4, 17, static_cast<uint32_t>(28 + echo.size()))
                         .ports(kGtpPort, kGtpPort)
                         .p});
    const Bytes end_marker = gtpu({.message_type = 254, .teid = 0x55}, {});
    c.push_back(Case{"GtpEndMarkerNotGpdu", gtpOver6(end_marker), ParseStatus::kGtpNotGpdu,
                     want6(kEnb6, kUpf6, 17, static_cast<uint32_t>(48 + end_marker.size()))
                         .ports(kGtpPort, kGtpPort)
                         .teid(0x55)
                         .p});
  }
  c.push_back(bad("GtpErrorIndicationNotGpdu", gtpOver4(gtpu({.message_type = 26}, filler(8))),
                  ParseStatus::kGtpNotGpdu));
  c.push_back(
      bad("GtpVersion2", gtpOver4(gtpu({.version = 2}, innerV4())), ParseStatus::kGtpMalformed));
  c.push_back(
      bad("GtpVersion0", gtpOver4(gtpu({.version = 0}, innerV4())), ParseStatus::kGtpMalformed));
  c.push_back(
      bad("GtpPrimePtZero", gtpOver4(gtpu({.pt = false}, innerV4())), ParseStatus::kGtpMalformed));
  c.push_back(
      bad("GtpHeaderShort", gtpOver4({0x30, 0xFF, 0x00, 0x00, 0x00}), ParseStatus::kGtpMalformed));
  c.push_back(bad("GtpUdpLengthTooShort",
                  eth4(ipv4({.src = kEnb4, .dst = kUpf4, .protocol = 17},
                            udp(kGtpPort, kGtpPort, gtpu({}, innerV4()), 12))),
                  ParseStatus::kGtpMalformed));
  {
    const Bytes g = gtpu({}, innerV4());
    const uint16_t real_len = static_cast<uint16_t>(g.size() - 8);
    c.push_back(bad("GtpLengthBeyondUdp",
                    gtpOver4(gtpu({.length_override = uint16_t(real_len + 1)}, innerV4())),
                    ParseStatus::kGtpMalformed));
    c.push_back(bad("GtpLengthShorterThanInner",
                    gtpOver4(gtpu({.length_override = uint16_t(real_len - 1)}, innerV4())),
                    ParseStatus::kGtpMalformed));
    // The UDP datagram is cut by the IP length (the UDP length field claims more).
    c.push_back(bad("GtpUdpLengthBeyondIp",
                    eth4(ipv4({.src = kEnb4, .dst = kUpf4, .protocol = 17},
                              udp(kGtpPort, kGtpPort, prefix(g, 40), uint16_t(8 + g.size())))),
                    ParseStatus::kGtpMalformed));
    // Outer first fragment of a fragmented G-PDU: the inner packet is not whole.
    c.push_back(bad("GtpOuterFirstFragment",
                    eth4(ipv4({.src = kEnb4, .dst = kUpf4, .protocol = 17, .more_fragments = true},
                              udp(kGtpPort, kGtpPort, prefix(g, 60), uint16_t(8 + g.size())))),
                    ParseStatus::kGtpMalformed));
  }
  c.push_back(bad("GtpInnerTruncated", gtpOver4(gtpu({}, prefix(innerV4(), 60))),
                  ParseStatus::kGtpMalformed));
  c.push_back(bad("GtpInnerHeaderTruncated", gtpOver4(gtpu({}, prefix(innerV4(), 12))),
                  ParseStatus::kGtpMalformed));
  c.push_back(bad("GtpInnerIpv6Truncated", gtpOver6(gtpu({}, prefix(innerV6(), 99))),
                  ParseStatus::kGtpMalformed));
  c.push_back(bad("GtpInnerIpv6HeaderTruncated", gtpOver6(gtpu({}, prefix(innerV6(), 39))),
                  ParseStatus::kGtpMalformed));
  c.push_back(bad("GtpEmptyGpdu", gtpOver4(gtpu({}, {})), ParseStatus::kGtpMalformed));
  c.push_back(bad("GtpInnerNotIp", gtpOver4(gtpu({}, concat({{0x00}, filler(40)}))),
                  ParseStatus::kGtpMalformed));
  c.push_back(bad("GtpInnerVersion5", gtpOver4(gtpu({}, concat({{0x55}, filler(40)}))),
                  ParseStatus::kGtpMalformed));
  c.push_back(bad("GtpExtensionLengthZero",
                  gtpOver4(gtpu({.extensions = {{0x85, {0x10, 0x09}}},
                                 .ext_length_override = std::pair<size_t, uint8_t>{0, 0}},
                                innerV4())),
                  ParseStatus::kGtpMalformed));
  c.push_back(bad("GtpExtensionBeyondLength",
                  gtpOver4(gtpu({.extensions = {{0x85, {0x10, 0x09}}},
                                 .ext_length_override = std::pair<size_t, uint8_t>{0, 60}},
                                innerV4())),
                  ParseStatus::kGtpMalformed));
  // The last extension announces another one (next type 0x85 instead of 0): the walk reads the
  // inner packet's first octet 0x45 as a length of 69 * 4 octets, beyond the GTP-U payload.
  {
    Bytes g = gtpu({.extensions = {{0x85, {0x10, 0x09}}}}, innerV4());
    g.at(8 + 4 + 4 - 1) = 0x85;
    c.push_back(bad("GtpExtensionChainRunsIntoPayload", gtpOver4(g), ParseStatus::kGtpMalformed));
  }
  c.push_back(bad("GtpOptionalFieldsBeyondLength",
                  gtpOver4(gtpu({.s = true, .length_override = 2}, {})),
                  ParseStatus::kGtpMalformed));
  // Same, and the UDP datagram ends with the GTP-U length: the next-extension-type octet is not
  // in the frame at all (ASan catches a read of it).
  c.push_back(bad("GtpOptionalFieldsBeyondFrame",
                  gtpOver4(prefix(gtpu({.e_without_extensions = true, .length_override = 2}, {}),
                                  10)),
                  ParseStatus::kGtpMalformed));
  c.push_back(bad("GtpInnerIhl4",
                  gtpOver4(gtpu({}, ipv4({.src = kUe4, .dst = kServer4, .protocol = 6, .ihl = 4},
                                         tcp(1, 2, {})))),
                  ParseStatus::kBadIpHeader));
  c.push_back(
      bad("GtpInnerTotalLengthBelowHeader",
          gtpOver4(gtpu({}, ipv4({.src = kUe4, .dst = kServer4, .protocol = 6, .total_length = 12},
                                 tcp(1, 2, {})))),
          ParseStatus::kIpLengthExceedsFrame));

  // --- Not billable: layer 2.
  c.push_back(bad("Arp", ether(kArpType, filler(28), {}, 60), ParseStatus::kNonIp));
  c.push_back(bad("VlanArp", ether(kArpType, filler(28), {{0x8100, 5}}), ParseStatus::kNonIp));
  c.push_back(bad("Ieee8023Length", ether(0x0040, filler(64)), ParseStatus::kNonIp));
  c.push_back(bad("Mpls", ether(0x8847, filler(64)), ParseStatus::kNonIp));
  c.push_back(bad("EmptyFrame", {}, ParseStatus::kL2Truncated));
  c.push_back(bad("Frame13Octets", prefix(eth4(v4_udp), 13), ParseStatus::kL2Truncated));
  c.push_back(bad("VlanTagTruncatedAtTpid", prefix(ether(kIpv4Type, v4_udp, {{0x8100, 1}}), 14),
                  ParseStatus::kL2Truncated));
  c.push_back(bad("VlanTagTruncatedInside", prefix(ether(kIpv4Type, v4_udp, {{0x8100, 1}}), 17),
                  ParseStatus::kL2Truncated));
  c.push_back(bad("SecondVlanTagTruncated",
                  prefix(ether(kIpv4Type, v4_udp, {{0x88A8, 1}, {0x8100, 2}}), 20),
                  ParseStatus::kL2Truncated));

  // --- Not billable: invalid IP.
  c.push_back(bad("EthernetHeaderOnly", prefix(eth4(v4_udp), 14), ParseStatus::kBadIpHeader));
  c.push_back(bad("VlanThenNothing", prefix(ether(kIpv4Type, v4_udp, {{0x8100, 1}}), 18),
                  ParseStatus::kBadIpHeader));
  c.push_back(bad("Ipv6InIpv4Ethertype", ether(kIpv4Type, ipv6(sub_udp6, udp(1, 2, {}))),
                  ParseStatus::kBadIpVersion));
  c.push_back(bad("Ipv4InIpv6Ethertype", ether(kIpv6Type, v4_udp), ParseStatus::kBadIpVersion));
  c.push_back(bad("Ipv4Version5",
                  eth4(ipv4({.src = kSub4, .dst = kNet4, .version = 5}, udp(1, 2, {}))),
                  ParseStatus::kBadIpVersion));
  c.push_back(bad("Ipv4Ihl4", eth4(ipv4({.src = kSub4, .dst = kNet4, .ihl = 4}, udp(1, 2, {}))),
                  ParseStatus::kBadIpHeader));
  c.push_back(bad("Ipv4Ihl0", eth4(ipv4({.src = kSub4, .dst = kNet4, .ihl = 0}, udp(1, 2, {}))),
                  ParseStatus::kBadIpHeader));
  // IHL 15 = 60 octets of header, but the frame holds 38 octets of IP.
  c.push_back(bad("Ipv4HeaderBeyondFrame",
                  eth4(ipv4({.src = kSub4, .dst = kNet4, .ihl = 15, .total_length = 38},
                            udp(1, 2, filler(10)))),
                  ParseStatus::kBadIpHeader));
  c.push_back(bad("Ipv4Header19Octets", prefix(eth4(v4_udp), 14 + 19), ParseStatus::kBadIpHeader));
  c.push_back(bad("Ipv6Header39Octets", prefix(eth6(ipv6(sub_udp6, {})), 14 + 39),
                  ParseStatus::kBadIpHeader));
  c.push_back(
      bad("Ipv4TotalLengthBeyondFrame",
          eth4(ipv4({.src = kSub4, .dst = kNet4, .total_length = 49}, udp(1, 2, filler(20)))),
          ParseStatus::kIpLengthExceedsFrame));
  c.push_back(
      bad("Ipv4TruncatedFrame", prefix(eth4(v4_udp), 14 + 47), ParseStatus::kIpLengthExceedsFrame));
  c.push_back(bad("Ipv4TotalLengthBelowHeader",
                  eth4(ipv4({.src = kSub4, .dst = kNet4, .total_length = 19}, udp(1, 2, {}))),
                  ParseStatus::kIpLengthExceedsFrame));
  c.push_back(
      bad("Ipv4TotalLengthBelowHeaderWithOptions",
          eth4(ipv4({.src = kSub4, .dst = kNet4, .options = {1, 1, 1, 0}, .total_length = 22},
                    udp(1, 2, {}))),
          ParseStatus::kIpLengthExceedsFrame));
  c.push_back(
      bad("Ipv6PayloadBeyondFrame",
          eth6(ipv6({.src = kSub6, .dst = kNet6, .payload_length = 29}, udp(1, 2, filler(20)))),
          ParseStatus::kIpLengthExceedsFrame));
  c.push_back(bad("Ipv6TruncatedFrame", prefix(eth6(ipv6(sub_udp6, udp(1, 2, filler(20)))), 81),
                  ParseStatus::kIpLengthExceedsFrame));
  c.push_back(bad("GtpOuterTruncated", prefix(gtpOver4(gtpu({}, innerV4())), 100),
                  ParseStatus::kIpLengthExceedsFrame));
  return c;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> kCases = buildCases();
  return kCases;
}

// Parses a copy of `frame` held in a buffer of exactly its size, so that ASan reports any read
// past `len`.
ParseStatus parseExact(const Bytes& frame, size_t n, ParsedPacket& out) {
  auto buf = std::make_unique<uint8_t[]>(n);
  if (n > 0) {
    std::memcpy(buf.get(), frame.data(), n);
  }
  return parsePacket(buf.get(), static_cast<uint32_t>(n), out);
}

// A frame of `len` octets of which only the first `readable` can be read (a frame in several
// packet buffers): those are copied into a buffer of exactly that size, so that ASan reports any
// read past them.
ParseStatus parseSplit(const Bytes& frame, size_t readable, size_t len, ParsedPacket& out) {
  auto buf = std::make_unique<uint8_t[]>(readable);
  if (readable > 0) {
    std::memcpy(buf.get(), frame.data(), readable);
  }
  return parsePacket(buf.get(), static_cast<uint32_t>(readable), static_cast<uint32_t>(len),
                     out);
}

class ParserTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(ParserTableTest, Parses) {
  const Case& c = GetParam();
  ParsedPacket out;
  const ParseStatus status = parseExact(c.frame, c.frame.size(), out);
  EXPECT_EQ(parseStatusName(status), std::string(parseStatusName(c.status)));
  if (c.want) {
    expectSamePacket(out, *c.want);
  }
}

INSTANTIATE_TEST_SUITE_P(Frames, ParserTableTest, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

// ---- Properties ----------------------------------------------------------------------------

TEST(ParserTest, StatusNamesMatchStatCounters) {
  const std::pair<ParseStatus, Stat> pairs[] = {
      {ParseStatus::kNonIp, Stat::kNonIp},
      {ParseStatus::kL2Truncated, Stat::kL2Truncated},
      {ParseStatus::kBadIpVersion, Stat::kBadIpVersion},
      {ParseStatus::kBadIpHeader, Stat::kBadIpHeader},
      {ParseStatus::kIpLengthExceedsFrame, Stat::kIpLengthExceedsFrame},
      {ParseStatus::kGtpMalformed, Stat::kGtpMalformed},
      {ParseStatus::kGtpNotGpdu, Stat::kGtpNotGpdu},
      {ParseStatus::kHeadersSplit, Stat::kHeadersSplit},
  };
  static_assert(std::size(pairs) + 1 == size_t(ParseStatus::kCount));
  for (const auto& [status, stat] : pairs) {
    EXPECT_EQ(std::string(parseStatusName(status)), kStatNames[size_t(stat)]);
  }
  EXPECT_EQ(std::string(parseStatusName(ParseStatus::kIp)), "ip");
  EXPECT_EQ(std::string(parseStatusName(ParseStatus::kCount)), "unknown");
}

TEST(ParserTest, Ipv6AddressesUseLoadIp6Layout) {
  const Bytes frame = eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 59}, {}));
  ParsedPacket out;
  ASSERT_EQ(parseExact(frame, frame.size(), out), ParseStatus::kIp);
  EXPECT_EQ(out.src6, loadIp6(frame.data() + 14 + 8));
  EXPECT_EQ(out.dst6, loadIp6(frame.data() + 14 + 24));
}

// A ParsedPacket reused across calls carries no meaningful field over (the general walk and
// the IPv4 and IPv6 fast lanes, after a tunneled IPv6-outer packet and after an IPv6 one).
TEST(ParserTest, OutputIsResetBetweenCalls) {
  ParsedPacket out;
  const Bytes tunneled = gtpOver6(gtpu({.teid = kTeid}, innerV4()));
  ASSERT_EQ(parseExact(tunneled, tunneled.size(), out), ParseStatus::kIp);
  ASSERT_TRUE(out.tunneled);
  const Bytes icmp = eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 1}, icmpEcho({})));
  ASSERT_EQ(parseExact(icmp, icmp.size(), out), ParseStatus::kIp);
  Want want = want4(kSub4, kNet4, 1, 28);
  expectSamePacket(out, want.p);

  const Bytes udp4 =
      eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 17}, udp(40000, 53, filler(40))));
  const Bytes udp6 =
      eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 17}, udp(40000, 53, filler(40))));
  ParsedPacket whole4;
  ParsedPacket whole6;
  ASSERT_EQ(parseSplit(udp4, udp4.size() - 1, udp4.size(), whole4), ParseStatus::kIp);
  ASSERT_EQ(parseSplit(udp6, udp6.size() - 1, udp6.size(), whole6), ParseStatus::kIp);
  for (const Bytes* before : {&tunneled, &udp6, &udp4}) {
    ASSERT_EQ(parseExact(*before, before->size(), out), ParseStatus::kIp);
    ASSERT_EQ(parseExact(udp4, udp4.size(), out), ParseStatus::kIp);
    expectSamePacket(out, whole4);
    ASSERT_EQ(parseExact(*before, before->size(), out), ParseStatus::kIp);
    ASSERT_EQ(parseExact(udp6, udp6.size(), out), ParseStatus::kIp);
    expectSamePacket(out, whole6);
  }
}

// L2 header length + outer IP length of a well-formed frame (test-side decoding).
size_t outerIpEnd(const Bytes& f) {
  size_t off = 12;
  uint16_t type = static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
  while (type == 0x8100 || type == 0x88A8 || type == 0x9100) {
    off += 4;
    type = static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
  }
  off += 2;
  if (type == kIpv4Type) {
    return off + (f[off + 2] << 8 | f[off + 3]);
  }
  return off + 40 + (f[off + 4] << 8 | f[off + 5]);
}

// Truncating a billable frame: every length below the end of the (outer) IP packet is refused,
// every length from there on gives the same result (the rest is padding, never read).
TEST(ParserTest, TruncationsOfBillableFrames) {
  for (const Case& c : cases()) {
    if (c.status != ParseStatus::kIp) {
      continue;
    }
    SCOPED_TRACE(c.name);
    const size_t end = outerIpEnd(c.frame);
    ASSERT_LE(end, c.frame.size());
    for (size_t n = 0; n <= c.frame.size(); ++n) {
      ParsedPacket out;
      const ParseStatus status = parseExact(c.frame, n, out);
      if (n < end) {
        EXPECT_NE(status, ParseStatus::kIp) << "n=" << n;
      } else {
        ASSERT_EQ(status, ParseStatus::kIp) << "n=" << n;
        expectSamePacket(out, *c.want);
      }
    }
  }
}

void checkInvariants(const ParsedPacket& out, ParseStatus status, size_t n) {
  if (status != ParseStatus::kIp) {
    return;
  }
  ASSERT_TRUE(out.family == 4 || out.family == 6);
  EXPECT_GE(out.ip_len, out.family == 4 ? 20u : 40u);
  EXPECT_LE(out.ip_len + 14, n);  // never bills more than the frame holds
  if (!out.has_ports) {
    EXPECT_EQ(out.src_port, 0);
    EXPECT_EQ(out.dst_port, 0);
  }
  if (out.tunneled) {
    EXPECT_TRUE(out.outer_src.family == 4 || out.outer_src.family == 6);
  }
}

// Random bytes, random truncations and random corruptions of every table frame: no crash, no
// read past `len` (run under -Db_sanitize=address), and no billable result that claims more
// octets than the frame holds.
TEST(ParserTest, RandomInputIsSafe) {
  std::mt19937 rng(20240611);
  auto byte = [&rng] { return static_cast<uint8_t>(rng()); };
  ParsedPacket out;

  // Pure noise, and noise behind plausible Ethernet / IP / UDP-2152 prefixes.
  const Bytes prefixes[] = {
      {},
      ether(kIpv4Type, {}),
      ether(kIpv6Type, {}),
      ether(kIpv4Type, {}, {{0x8100, 1}, {0x88A8, 2}}),
      ether(kIpv4Type, {0x45}),
      ether(kIpv6Type, {0x60}),
      prefix(gtpOver4(gtpu({}, innerV4())), 14 + 28),
      prefix(gtpOver4(gtpu({}, innerV4())), 14 + 28 + 8),
      prefix(gtpOver6(gtpu({.extensions = {{0x85, {1, 2}}}}, innerV6())), 14 + 48 + 12),
  };
  for (int i = 0; i < 200000; ++i) {
    const Bytes& pre = prefixes[i % std::size(prefixes)];
    Bytes f = pre;
    const size_t extra = rng() % 200;
    for (size_t k = 0; k < extra; ++k) {
      f.push_back(byte());
    }
    // Make the random IP lengths plausible half the time so the deeper code runs.
    if (i % 2 == 0 && f.size() > 14 + 6) {
      const size_t ip = pre.size() >= 18 && pre[12] == 0x81 ? 22 : 14;
      if (f.size() > ip + 6) {
        pkt::set16(f, ip + 2, static_cast<uint16_t>(f.size() - ip - rng() % 4));
        pkt::set16(f, ip + 4, static_cast<uint16_t>(f.size() - ip - 40 - rng() % 4));
      }
    }
    const size_t n = f.size();
    const ParseStatus status = parseExact(f, n, out);
    checkInvariants(out, status, n);
  }

  // Corruptions of the table frames: 1 to 4 random octets changed, random length.
  for (int round = 0; round < 300; ++round) {
    for (const Case& c : cases()) {
      if (c.frame.empty()) {
        continue;
      }
      Bytes f = c.frame;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) {
        f[rng() % f.size()] = byte();
      }
      const size_t n = round % 3 == 0 ? f.size() : rng() % (f.size() + 1);
      const ParseStatus status = parseExact(f, n, out);
      checkInvariants(out, status, n);
    }
  }
}

// ---- Frames in several buffers, and jumbo frames -----------------------------------------

// A frame whose first `readable` octets only are contiguous parses exactly like the whole frame
// contiguous, or gives kHeadersSplit; with kHeaderWindow octets (or the whole frame) readable it
// always parses like the whole frame: the headers of every table frame fit in the window.
TEST(ParserTest, SplitFramesParseLikeContiguousOnes) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const size_t n = c.frame.size();
    ParsedPacket whole;
    const ParseStatus whole_status = parseExact(c.frame, n, whole);
    ASSERT_EQ(whole_status, c.status);
    bool saw_split = false;
    for (size_t r = 0; r <= n; ++r) {
      ParsedPacket out;
      const ParseStatus status = parseSplit(c.frame, r, n, out);
      if (status == ParseStatus::kHeadersSplit) {
        saw_split = true;
        EXPECT_LT(r, std::min<size_t>(n, kHeaderWindow)) << "r=" << r;
        continue;
      }
      ASSERT_EQ(parseStatusName(status), std::string(parseStatusName(whole_status))) << "r=" << r;
      if (status == ParseStatus::kIp) {
        expectSamePacket(out, whole);
      }
    }
    // A billable frame read from too few octets must say so rather than guess.
    if (c.status == ParseStatus::kIp && n > 14) {
      EXPECT_TRUE(saw_split);
    }
  }
}

// Random corruptions of the table frames, split at random points: the same result as the whole
// frame, or kHeadersSplit; never a read past the readable octets (ASan).
TEST(ParserTest, RandomSplitsAreSafeAndAgree) {
  std::mt19937 rng(20261204);
  for (int round = 0; round < 200; ++round) {
    for (const Case& c : cases()) {
      if (c.frame.empty()) {
        continue;
      }
      Bytes f = c.frame;
      const int flips = static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) {
        f[rng() % f.size()] = static_cast<uint8_t>(rng());
      }
      const size_t r = rng() % (f.size() + 1);
      ParsedPacket whole;
      ParsedPacket out;
      const ParseStatus want = parseExact(f, f.size(), whole);
      const ParseStatus got = parseSplit(f, r, f.size(), out);
      if (got == ParseStatus::kHeadersSplit) {
        continue;
      }
      ASSERT_EQ(parseStatusName(got), std::string(parseStatusName(want)))
          << c.name << " r=" << r;
      if (got == ParseStatus::kIp) {
        expectSamePacket(out, whole);
      }
    }
  }
}

// The fast lanes (a contiguous frame: Ethernet + IPv4 or IPv6 TCP/UDP, and GTP-U over IPv4 with
// at most one extension header around inner IPv4 TCP/UDP) against the general walk (the same
// frame with its last octet unreadable, which takes no fast lane): GTP-U, IPv4 and IPv6 frames
// with random octets of their headers changed and random lengths, the same status and packet.
TEST(ParserTest, FastLanesAgreeWithTheGeneralWalk) {
  std::mt19937 rng(20261207);
  const Bytes inner_udp = ipv4({.src = kUe4, .dst = kServer4, .protocol = 17},
                               udp(40001, 53, filler(40)));
  const Bytes inner_v6 = innerV6();
  std::vector<Bytes> frames = {
      gtpOver4(gtpu({}, innerV4())),
      gtpOver4(gtpu({}, inner_udp)),
      gtpOver4(gtpu({.s = true}, inner_udp)),
      gtpOver4(gtpu({.pn = true}, innerV4())),
      gtpOver4(gtpu({.e_without_extensions = true}, inner_udp)),
      gtpOver4(gtpu({.extensions = {{0x85, {0x10, 9}}}}, inner_udp)),
      gtpOver4(gtpu({.extensions = {{0x85, {0x00, 9, 0, 0, 0, 0}}}}, innerV4())),
      gtpOver4(gtpu({.extensions = {{0x85, {0x10, 9}}, {0x40, {1, 2}}}}, inner_udp)),
      gtpOver4(gtpu({.message_type = 1}, {})),
      gtpOver4(gtpu({}, inner_v6)),
      gtpOver4(gtpu({.extensions = {{0x85, {0x10, 9}}}}, inner_v6)),
      eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 17}, udp(40000, 53, filler(40)))),
      eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = 6}, tcp(51000, 443, filler(40)))),
      eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 17}, udp(40000, 53, filler(40)))),
      eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 6}, tcp(51000, 443, filler(40)))),
  };
  int compared = 0;
  int billed = 0;
  for (int round = 0; round < 60000; ++round) {
    Bytes f = frames[size_t(round) % frames.size()];
    // Headers: up to 14 + 40 + 8 + 8 + 4 + 12 + 40 + 4 octets; leave at least 20 of filler.
    const size_t header_end = std::min<size_t>(f.size() - 20, 130);
    const int flips = static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      f[12 + rng() % (header_end - 12)] = static_cast<uint8_t>(rng() % 3 == 0 ? rng() % 8 : rng());
    }
    // An outer, UDP, GTP-U or inner length off by a little (when it lies in the headers).
    constexpr size_t kLengths[] = {14 + 2, 14 + 20 + 4, 14 + 20 + 8 + 2, 14 + 20 + 8 + 8 + 2};
    if (const size_t at = kLengths[rng() % 4]; rng() % 4 == 0 && at + 2 <= header_end) {
      const int delta = static_cast<int>(rng() % 9) - 4;
      pkt::set16(f, at, static_cast<uint16_t>(((f[at] << 8) | f[at + 1]) + delta));
    }
    const size_t n = rng() % 8 == 0 ? 30 + rng() % (f.size() - 30) : f.size();
    ParsedPacket fast;
    ParsedPacket general;
    const ParseStatus want = parseSplit(f, n - 1, n, general);
    const ParseStatus got = parseExact(f, n, fast);
    if (want == ParseStatus::kHeadersSplit) {
      continue;
    }
    ++compared;
    ASSERT_EQ(parseStatusName(got), std::string(parseStatusName(want))) << "round " << round;
    if (got == ParseStatus::kIp) {
      ++billed;
      expectSamePacket(fast, general);
      if (::testing::Test::HasFailure()) {
        FAIL() << "round " << round;
      }
    } else if (got == ParseStatus::kGtpNotGpdu) {
      EXPECT_EQ(fast.teid, general.teid) << "round " << round;
    }
  }
  EXPECT_GT(compared, 50000);
  EXPECT_GT(billed, 20000);
}

// Every IP protocol number (0-255) in each fast lane's position: the outer IPv4 packet, the inner
// IPv4 packet of a G-PDU, the IPv6 next header. The lanes take TCP and UDP only (their
// TCP-or-UDP test is arithmetic, not a comparison: tcpOrUdp in parser_inline.h); every other
// protocol must leave them and get the general walk's result.
TEST(ParserTest, FastLanesAgreeWithTheGeneralWalkForEveryProtocol) {
  int tcp_udp_with_ports = 0;
  for (int proto = 0; proto < 256; ++proto) {
    SCOPED_TRACE(proto);
    const uint8_t p8 = static_cast<uint8_t>(proto);
    const Bytes l4 = udp(40000, 53, filler(40));  // ports at the start of any L4 header
    const Bytes frames[] = {
        eth4(ipv4({.src = kSub4, .dst = kNet4, .protocol = p8}, l4)),
        gtpOver4(gtpu({}, ipv4({.src = kUe4, .dst = kServer4, .protocol = p8}, l4))),
        eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = p8}, l4)),
    };
    for (const Bytes& f : frames) {
      ParsedPacket fast;
      ParsedPacket general;
      const ParseStatus want = parseSplit(f, f.size() - 1, f.size(), general);
      const ParseStatus got = parseExact(f, f.size(), fast);
      ASSERT_EQ(parseStatusName(got), std::string(parseStatusName(want)));
      if (got == ParseStatus::kIp) {
        expectSamePacket(fast, general);
        if (fast.has_ports && (proto == 6 || proto == 17)) {
          ++tcp_udp_with_ports;
        }
      }
    }
  }
  // TCP and UDP in the three positions (UDP to port 53, not GTP-U).
  EXPECT_EQ(tcp_udp_with_ports, 6);
}

// Jumbo frames of every size up to the largest IPv4 packet, plain and tunneled, parsed from the
// first 2048-octet buffer (DPDK's default) or from the kHeaderWindow copy: billed by the IP
// length exactly.
TEST(ParserTest, JumboFramesAreBilledByTheirIpLength) {
  const Ipv4 up4{.src = kSub4, .dst = kNet4, .protocol = 17};
  const Ipv6 up6{.src = kSub6, .dst = kNet6, .next_header = 17};
  for (size_t payload : {2000u, 4000u, 8972u, 9164u, 16000u, 65000u}) {
    SCOPED_TRACE(payload);
    struct Jumbo {
      const char* name;
      Bytes frame;
      uint32_t ip_len;
      bool tunneled;
    };
    std::vector<Jumbo> frames;
    if (payload + 28 <= 65535) {
      frames.push_back({"ipv4", eth4(ipv4(up4, udp(1000, 2000, filler(payload)))),
                        uint32_t(payload + 28), false});
    }
    frames.push_back({"ipv6", eth6(ipv6(up6, udp(1000, 2000, filler(payload)))),
                      uint32_t(payload + 48), false});
    frames.push_back({"ipv6_ext", eth6(ipv6({.src = kSub6, .dst = kNet6, .next_header = 60},
                                            ipv6Ext(17, 1, udp(1000, 2000, filler(payload))))),
                      uint32_t(payload + 64), false});
    if (payload + 28 + 64 <= 65535) {
      const Bytes inner = ipv4({.src = kUe4, .dst = kServer4, .protocol = 17},
                               udp(40001, 443, filler(payload)));
      frames.push_back({"gtpu", gtpOver4(gtpu({}, inner)), uint32_t(payload + 28), true});
      frames.push_back({"gtpu_ext", gtpOver4(gtpu({.extensions = {{0x85, {1, 2}}}}, inner)),
                        uint32_t(payload + 28), true});
    }
    for (const Jumbo& j : frames) {
      SCOPED_TRACE(j.name);
      for (size_t r : {size_t{2048}, size_t{kHeaderWindow}, j.frame.size()}) {
        r = std::min(r, j.frame.size());
        ParsedPacket out;
        ASSERT_EQ(parseStatusName(parseSplit(j.frame, r, j.frame.size(), out)),
                  std::string("ip"))
            << "readable " << r;
        EXPECT_EQ(out.ip_len, j.ip_len);
        EXPECT_EQ(out.tunneled, j.tunneled);
        EXPECT_TRUE(out.has_ports);
      }
      // One octet missing from the end of the frame: refused, never billed.
      ParsedPacket out;
      EXPECT_NE(parseSplit(j.frame, kHeaderWindow, j.frame.size() - 1, out), ParseStatus::kIp);
    }
  }
}

}  // namespace
}  // namespace tally
