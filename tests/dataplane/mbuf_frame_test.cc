// Frames in chained mbufs (jumbo frames, scattered receive) as the DPDK worker hands them to the
// parser (dataplane/mbuf_frame.h): for every way of cutting a frame into segments, the parse
// equals the parse of the same frame contiguous, and no payload is copied. Real mbufs from a
// real mempool (EAL without hugepages, shared config or devices).
#include "dataplane/mbuf_frame.h"

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/fakes/frames.h"

namespace tally {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::ipv4Frame;
using testing::ipv6Frame;

rte_mempool* pool() {
  static rte_mempool* p = [] {
    const char* args[] = {"mbuf_frame_test", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
                          "-l", "0", "--log-level=lib.eal:error"};
    if (rte_eal_init(int(std::size(args)), const_cast<char**>(args)) < 0) {
      return static_cast<rte_mempool*>(nullptr);
    }
    // 256-octet data rooms: a jumbo frame takes many segments.
    return rte_pktmbuf_pool_create("test_mbufs", 16383, 0, 0, 256 + RTE_PKTMBUF_HEADROOM,
                                   SOCKET_ID_ANY);
  }();
  return p;
}

// `frame` in a chain whose segments hold `first` octets, then `rest` octets each.
rte_mbuf* chain(const Bytes& frame, uint32_t first, uint32_t rest) {
  rte_mbuf* head = nullptr;
  size_t off = 0;
  while (off < frame.size() || head == nullptr) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool());
    if (m == nullptr) {
      ADD_FAILURE() << "mempool empty";
      break;
    }
    const uint32_t want = head == nullptr ? first : rest;
    const uint32_t n = uint32_t(std::min<size_t>(want, frame.size() - off));
    char* d = rte_pktmbuf_append(m, uint16_t(n));
    std::memcpy(d, frame.data() + off, n);
    off += n;
    if (head == nullptr) {
      head = m;
    } else if (rte_pktmbuf_chain(head, m) != 0) {
      ADD_FAILURE() << "too many segments";
      rte_pktmbuf_free(m);
      break;
    }
  }
  return head;
}

// Outer IPv4/UDP 2152 with a G-PDU (optionally with one PDU session container extension)
// carrying `inner` (an IP packet without Ethernet header).
Bytes gtpFrame(const Bytes& inner, bool extension) {
  const size_t gtp_len = (extension ? 16 : 8) + inner.size();
  Bytes f = ipv4Frame("192.0.2.77", "192.0.2.1", 17, 2152, 2152, gtp_len);
  uint8_t* g = f.data() + 14 + 28;
  g[0] = extension ? 0x34 : 0x30;  // version 1, PT, E
  g[1] = 255;
  const size_t payload = gtp_len - 8;
  g[2] = uint8_t(payload >> 8);
  g[3] = uint8_t(payload);
  g[7] = 0x42;  // TEID
  size_t off = 8;
  if (extension) {
    g[11] = 0x85;  // next extension: PDU session container
    g[12] = 1;     // 4 octets
    g[13] = 0x10;
    g[14] = 9;     // QFI
    g[15] = 0;     // no more
    off = 16;
  }
  std::memcpy(g + off, inner.data(), inner.size());
  return f;
}

Bytes ipOf(const Bytes& frame) { return Bytes(frame.begin() + 14, frame.end()); }

std::vector<Bytes> frames() {
  std::vector<Bytes> out;
  for (size_t payload : {18u, 200u, 1472u, 2100u, 8972u, 16000u, 64000u}) {
    out.push_back(ipv4Frame("10.0.0.5", "203.0.113.9", 17, 4000, 53, payload));
    out.push_back(ipv4Frame("203.0.113.9", "10.0.0.5", 6, 8080, 4000, payload));
    out.push_back(ipv6Frame("2001:db8:1::5", "2001:db8:ffff::1", 17, 4000, 53, payload));
    if (payload > 60000) {
      continue;  // the outer IP packet of a G-PDU would exceed 65535 octets
    }
    const Bytes inner = ipOf(ipv4Frame("10.0.0.6", "198.51.100.1", 6, 4001, 443, payload));
    out.push_back(gtpFrame(inner, false));
    out.push_back(gtpFrame(inner, true));
    out.push_back(
        gtpFrame(ipOf(ipv6Frame("2001:db8:2::6", "2001:db8:ffff::1", 17, 1, 2, payload)), true));
  }
  return out;
}

void expectSame(const ParsedPacket& a, const ParsedPacket& b) {
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.protocol, b.protocol);
  EXPECT_EQ(a.ip_len, b.ip_len);
  EXPECT_EQ(a.has_ports, b.has_ports);
  EXPECT_EQ(a.src_port, b.src_port);
  EXPECT_EQ(a.dst_port, b.dst_port);
  // The meaningful fields only (parser.h): the addresses of the family, the tunnel's when
  // tunneled.
  if (b.family == 4) {
    EXPECT_EQ(a.src4, b.src4);
    EXPECT_EQ(a.dst4, b.dst4);
  } else {
    EXPECT_EQ(a.src6, b.src6);
    EXPECT_EQ(a.dst6, b.dst6);
  }
  EXPECT_EQ(a.tunneled, b.tunneled);
  if (b.tunneled) {
    EXPECT_EQ(a.outer_src, b.outer_src);
    EXPECT_EQ(a.teid, b.teid);
  }
}

TEST(MbufFrameTest, ChainsParseLikeContiguousFrames) {
  ASSERT_NE(pool(), nullptr) << "EAL or mempool set-up failed";
  std::mt19937 rng(7);
  uint8_t copy[kHeaderWindow];
  for (const Bytes& f : frames()) {
    ParsedPacket want;
    ASSERT_EQ(parsePacket(f.data(), uint32_t(f.size()), want), ParseStatus::kIp);
    // First segments shorter than, equal to and longer than the header window; then random.
    std::vector<uint32_t> firsts = {1, 13, 14, 40, 60, 100, 255, 256};
    for (int k = 0; k < 4; ++k) {
      firsts.push_back(1 + rng() % 256);
    }
    for (uint32_t first : firsts) {
      const uint32_t rest = 32 + rng() % 225;  // at most ~2000 segments a frame
      rte_mbuf* m = chain(f, first, rest);
      ASSERT_NE(m, nullptr);
      ASSERT_EQ(m->pkt_len, f.size());
      std::memset(copy, 0, sizeof copy);
      const FrameRef r = frameOf(m, copy);
      EXPECT_EQ(r.len, f.size());
      // A copy only when the first segment is short, and never more than the header window.
      const bool in_place = m->nb_segs == 1 || m->data_len >= std::min<size_t>(f.size(), 512);
      EXPECT_EQ(r.data == copy, !in_place) << "first " << first;
      EXPECT_LE(r.readable, in_place ? m->data_len : kHeaderWindow);
      ParsedPacket got;
      ASSERT_EQ(parseStatusName(parsePacket(r.data, r.readable, r.len, got)), std::string("ip"))
          << "size " << f.size() << " first " << first << " rest " << rest;
      expectSame(got, want);
      rte_pktmbuf_free(m);
    }
  }
  EXPECT_EQ(rte_mempool_in_use_count(pool()), 0u);
}

// A frame one octet short of its IP length in a chain: refused, as when contiguous.
TEST(MbufFrameTest, ShortChainsAreRefused) {
  ASSERT_NE(pool(), nullptr);
  uint8_t copy[kHeaderWindow];
  for (Bytes f : frames()) {
    f.pop_back();
    rte_mbuf* m = chain(f, 100, 200);
    ASSERT_NE(m, nullptr);
    const FrameRef r = frameOf(m, copy);
    ParsedPacket got;
    EXPECT_NE(parsePacket(r.data, r.readable, r.len, got), ParseStatus::kIp);
    rte_pktmbuf_free(m);
  }
}

}  // namespace
}  // namespace tally
