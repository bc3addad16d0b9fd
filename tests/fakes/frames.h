#pragma once
// Minimal Ethernet/IPv4/IPv6/UDP/TCP frame writer for fast-path and poller tests (parser tests
// have their own, richer builder). Lengths and fields are computed here, not by project code.
#include <cstdint>
#include <string>
#include <vector>

#include "shared/net.h"

namespace tally::testing {

inline void put16(std::vector<uint8_t>& b, size_t off, uint16_t v) {
  b[off] = uint8_t(v >> 8);
  b[off + 1] = uint8_t(v);
}

// IPv4 frame: Ethernet + IPv4 (no options) + UDP(17)/TCP(6)/ICMP(1) with `payload` bytes.
// frag_offset (in 8-byte units) != 0 makes a non-first fragment (no L4 header written).
inline std::vector<uint8_t> ipv4Frame(const std::string& src, const std::string& dst,
                                      uint8_t proto, uint16_t sport, uint16_t dport,
                                      size_t payload, uint16_t frag_offset = 0) {
  size_t l4 = frag_offset != 0 ? 0 : (proto == 6 ? 20 : (proto == 17 ? 8 : 4));
  size_t ip_len = 20 + l4 + payload;
  std::vector<uint8_t> b(14 + ip_len, 0);
  b[12] = 0x08;
  b[13] = 0x00;
  uint8_t* ip = b.data() + 14;
  ip[0] = 0x45;
  put16(b, 16, uint16_t(ip_len));
  put16(b, 20, frag_offset);
  ip[8] = 64;
  ip[9] = proto;
  uint32_t s = parseIpAddress(src)->v4;
  uint32_t d = parseIpAddress(dst)->v4;
  for (int i = 0; i < 4; ++i) {
    ip[12 + i] = uint8_t(s >> (24 - 8 * i));
    ip[16 + i] = uint8_t(d >> (24 - 8 * i));
  }
  if (l4 >= 4) {
    put16(b, 34, sport);
    put16(b, 36, dport);
  }
  if (proto == 17 && l4 == 8) {
    put16(b, 38, uint16_t(8 + payload));
  }
  if (b.size() < 60) {
    b.resize(60, 0);  // Ethernet padding: never billed
  }
  return b;
}

inline std::vector<uint8_t> ipv6Frame(const std::string& src, const std::string& dst,
                                      uint8_t proto, uint16_t sport, uint16_t dport,
                                      size_t payload) {
  size_t l4 = proto == 6 ? 20 : 8;
  size_t plen = l4 + payload;
  std::vector<uint8_t> b(14 + 40 + plen, 0);
  b[12] = 0x86;
  b[13] = 0xdd;
  uint8_t* ip = b.data() + 14;
  ip[0] = 0x60;
  put16(b, 18, uint16_t(plen));
  ip[6] = proto;
  ip[7] = 64;
  Ip6 s = parseIpAddress(src)->v6;
  Ip6 d = parseIpAddress(dst)->v6;
  for (int i = 0; i < 8; ++i) {
    ip[8 + i] = uint8_t(s.hi >> (56 - 8 * i));
    ip[16 + i] = uint8_t(s.lo >> (56 - 8 * i));
    ip[24 + i] = uint8_t(d.hi >> (56 - 8 * i));
    ip[32 + i] = uint8_t(d.lo >> (56 - 8 * i));
  }
  put16(b, 54, sport);
  put16(b, 56, dport);
  return b;
}

}  // namespace tally::testing
