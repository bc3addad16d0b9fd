#pragma once
// Byte-level frame builder for parser tests. Independent of project code on purpose: lengths
// and field layouts are written out here from the RFCs / TS 29.281, so a test built with it
// checks the parser against the wire format, not against itself.
//
// Each layer function takes its payload and returns the layer's bytes with its length fields
// computed from that payload (unless an override is given to build a broken packet).
#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tally::pkt {

using Bytes = std::vector<uint8_t>;

inline void put8(Bytes& b, uint32_t v) { b.push_back(static_cast<uint8_t>(v)); }
inline void put16(Bytes& b, uint32_t v) {
  put8(b, v >> 8);
  put8(b, v);
}
inline void put32(Bytes& b, uint32_t v) {
  put16(b, v >> 16);
  put16(b, v);
}
inline void append(Bytes& b, const Bytes& tail) { b.insert(b.end(), tail.begin(), tail.end()); }
inline void set16(Bytes& b, size_t at, uint32_t v) {
  b.at(at) = static_cast<uint8_t>(v >> 8);
  b.at(at + 1) = static_cast<uint8_t>(v);
}
inline Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) {
    append(out, p);
  }
  return out;
}
inline Bytes filler(size_t n, uint8_t seed = 0xA5) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) {
    b[i] = static_cast<uint8_t>(seed + i);
  }
  return b;
}

// Addresses: dotted / colon text to network-order bytes (inet_pton, not project code).
inline std::array<uint8_t, 4> v4Bytes(const std::string& text) {
  std::array<uint8_t, 4> a{};
  if (inet_pton(AF_INET, text.c_str(), a.data()) != 1) {
    std::abort();
  }
  return a;
}
inline uint32_t v4(const std::string& text) {
  auto a = v4Bytes(text);
  return (uint32_t{a[0]} << 24) | (uint32_t{a[1]} << 16) | (uint32_t{a[2]} << 8) | a[3];
}
inline std::array<uint8_t, 16> v6Bytes(const std::string& text) {
  std::array<uint8_t, 16> a{};
  if (inet_pton(AF_INET6, text.c_str(), a.data()) != 1) {
    std::abort();
  }
  return a;
}

// ---- Layer 4 -------------------------------------------------------------------------------

inline Bytes udp(uint16_t src_port, uint16_t dst_port, const Bytes& payload,
                 std::optional<uint16_t> length_override = std::nullopt) {
  Bytes b;
  put16(b, src_port);
  put16(b, dst_port);
  put16(b, length_override.value_or(static_cast<uint16_t>(8 + payload.size())));
  put16(b, 0);  // checksum: not checked by the parser
  append(b, payload);
  return b;
}

inline Bytes tcp(uint16_t src_port, uint16_t dst_port, const Bytes& payload) {
  Bytes b;
  put16(b, src_port);
  put16(b, dst_port);
  put32(b, 1000);   // seq
  put32(b, 0);      // ack
  put8(b, 5 << 4);  // data offset 5 words
  put8(b, 0x02);    // SYN
  put16(b, 65535);  // window
  put16(b, 0);      // checksum
  put16(b, 0);      // urgent
  append(b, payload);
  return b;
}

inline Bytes icmpEcho(const Bytes& payload) {
  Bytes b;
  put8(b, 8);        // echo request
  put8(b, 0);        // code
  put16(b, 0);       // checksum
  put16(b, 0x1234);  // identifier
  put16(b, 1);       // sequence number
  append(b, payload);
  return b;
}

// ---- IPv4 ----------------------------------------------------------------------------------

struct Ipv4 {
  std::string src = "10.1.2.3";
  std::string dst = "192.0.2.9";
  uint8_t protocol = 17;
  Bytes options;  // multiple of 4 octets
  bool more_fragments = false;
  uint16_t fragment_offset = 0;  // in 8-octet units
  bool dont_fragment = false;
  // Overrides for broken packets.
  std::optional<uint8_t> version;
  std::optional<uint8_t> ihl;
  std::optional<uint16_t> total_length;
};

inline Bytes ipv4(const Ipv4& h, const Bytes& payload) {
  const size_t header_len = 20 + h.options.size();
  Bytes b;
  put8(b, (h.version.value_or(4) << 4) | h.ihl.value_or(static_cast<uint8_t>(header_len / 4)));
  put8(b, 0);  // DSCP/ECN
  put16(b, h.total_length.value_or(static_cast<uint16_t>(header_len + payload.size())));
  put16(b, 0x4242);  // identification
  put16(b, (h.dont_fragment ? 0x4000 : 0) | (h.more_fragments ? 0x2000 : 0) |
               (h.fragment_offset & 0x1FFF));
  put8(b, 64);  // TTL
  put8(b, h.protocol);
  put16(b, 0);  // checksum: not checked by the parser
  for (uint8_t x : v4Bytes(h.src)) {
    put8(b, x);
  }
  for (uint8_t x : v4Bytes(h.dst)) {
    put8(b, x);
  }
  append(b, h.options);
  append(b, payload);
  return b;
}

// ---- IPv6 ----------------------------------------------------------------------------------

struct Ipv6 {
  std::string src = "2001:db8:1::10";
  std::string dst = "2001:db8:ffff::1";
  uint8_t next_header = 17;
  std::optional<uint8_t> version;
  std::optional<uint16_t> payload_length;
};

inline Bytes ipv6(const Ipv6& h, const Bytes& payload) {
  Bytes b;
  put32(b, (uint32_t{h.version.value_or(6)} << 28) | 0x00012345);  // version, TC 0, flow label
  put16(b, h.payload_length.value_or(static_cast<uint16_t>(payload.size())));
  put8(b, h.next_header);
  put8(b, 64);  // hop limit
  for (uint8_t x : v6Bytes(h.src)) {
    put8(b, x);
  }
  for (uint8_t x : v6Bytes(h.dst)) {
    put8(b, x);
  }
  append(b, payload);
  return b;
}

// Hop-by-hop (0), routing (43) or destination options (60) header of 8 * (1 + len_units)
// octets (RFC 8200: Hdr Ext Len excludes the first 8 octets), followed by `payload`.
inline Bytes ipv6Ext(uint8_t next_header, uint8_t len_units, const Bytes& payload) {
  Bytes b;
  put8(b, next_header);
  put8(b, len_units);
  for (size_t i = 2; i < 8u * (1u + len_units); ++i) {
    put8(b, i == 2 ? 1 : 0);  // PadN-ish filler (content is not interpreted)
  }
  append(b, payload);
  return b;
}

// Fragment header (44): 8 octets; offset in 8-octet units.
inline Bytes ipv6Frag(uint8_t next_header, uint16_t offset_units, bool more, const Bytes& payload) {
  Bytes b;
  put8(b, next_header);
  put8(b, 0);
  put16(b, static_cast<uint32_t>(offset_units << 3) | (more ? 1 : 0));
  put32(b, 0xCAFEF00D);  // identification
  append(b, payload);
  return b;
}

// Authentication header (51): (payload_len + 2) * 4 octets (RFC 4302).
inline Bytes ipv6Ah(uint8_t next_header, uint8_t payload_len, const Bytes& payload) {
  Bytes b;
  put8(b, next_header);
  put8(b, payload_len);
  for (size_t i = 2; i < 4u * (payload_len + 2u); ++i) {
    put8(b, 0x11);
  }
  append(b, payload);
  return b;
}

// ---- GTP-U (TS 29.281 §5) --------------------------------------------------------------------

struct GtpExt {
  uint8_t type = 0x85;  // PDU Session Container
  Bytes content;        // the octets between the length octet and the next-type octet
};

struct Gtpu {
  uint8_t version = 1;
  bool pt = true;
  uint8_t message_type = 255;  // G-PDU
  uint32_t teid = 0x01020304;
  bool s = false;
  bool pn = false;
  std::vector<GtpExt> extensions;     // non-empty sets the E flag
  bool e_without_extensions = false;  // E flag set, next type 0
  std::optional<uint16_t> length_override;
  // Overrides the length octet of extension i (e.g. 0, or too long).
  std::optional<std::pair<size_t, uint8_t>> ext_length_override;
};

inline Bytes gtpu(const Gtpu& g, const Bytes& payload) {
  const bool e = !g.extensions.empty() || g.e_without_extensions;
  Bytes rest;  // everything after the first 8 octets
  if (e || g.s || g.pn) {
    put16(rest, g.s ? 0x1234 : 0);  // sequence number
    put8(rest, g.pn ? 0x56 : 0);    // N-PDU number
    put8(rest, g.extensions.empty() ? 0 : g.extensions[0].type);
    for (size_t i = 0; i < g.extensions.size(); ++i) {
      const GtpExt& x = g.extensions[i];
      // length octet + content + next-type octet, padded to a multiple of 4.
      size_t total = 1 + x.content.size() + 1;
      total = (total + 3) / 4 * 4;
      uint8_t units = static_cast<uint8_t>(total / 4);
      if (g.ext_length_override && g.ext_length_override->first == i) {
        units = g.ext_length_override->second;
      }
      put8(rest, units);
      append(rest, x.content);
      for (size_t pad = 1 + x.content.size() + 1; pad < total; ++pad) {
        put8(rest, 0);
      }
      put8(rest, i + 1 < g.extensions.size() ? g.extensions[i + 1].type : 0);
    }
  }
  append(rest, payload);
  Bytes b;
  put8(b, (g.version << 5) | (g.pt ? 0x10 : 0) | (e ? 0x04 : 0) | (g.s ? 0x02 : 0) |
              (g.pn ? 0x01 : 0));
  put8(b, g.message_type);
  put16(b, g.length_override.value_or(static_cast<uint16_t>(rest.size())));
  put32(b, g.teid);
  append(b, rest);
  return b;
}

// ---- Ethernet ------------------------------------------------------------------------------

struct Vlan {
  uint16_t tpid = 0x8100;
  uint16_t vid = 100;
};

// Ethernet II: dst, src, tags, ethertype, payload; padded with zeros to `min_len` octets.
inline Bytes ether(uint16_t ethertype, const Bytes& payload, std::vector<Vlan> tags = {},
                   size_t min_len = 0) {
  Bytes b = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  for (const Vlan& t : tags) {
    put16(b, t.tpid);
    put16(b, t.vid);
  }
  put16(b, ethertype);
  append(b, payload);
  if (b.size() < min_len) {
    b.resize(min_len, 0);
  }
  return b;
}

constexpr uint16_t kIpv4Type = 0x0800;
constexpr uint16_t kIpv6Type = 0x86DD;
constexpr uint16_t kArpType = 0x0806;

}  // namespace tally::pkt
