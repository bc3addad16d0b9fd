#pragma once
// Fast-path packet parser: plain bytes in, a ParsedPacket out (contract in parser.h). The
// implementation, in a header so that the fast path inlines the contiguous-frame parse
// (parsePacketInline); dataplane/parser.cc holds the out-of-line entry points.
//
// Billing rule (spec semantics.md §1): "Octets are the IP length of the subscriber's packet:
// IPv4 Total Length, or IPv6 Payload Length + 40. For GTP-U (UDP port 2152, G-PDU, with or
// without extension headers) it is the inner packet's IP length. Layer-2 headers, VLAN tags,
// Ethernet padding and tunnel headers are never billed."
//
// Safety contract: every read is preceded by a bounds check against the bytes known to be in the
// frame, so the parser is safe on arbitrary input (tests run it on random bytes under ASan).
//
// Frames in several buffers (parser.h): length checks use the frame's length on the wire, reads
// stay within the `readable` contiguous octets. The windowed variant (kWin = true) adds a read
// check after each length check; a header that passes the length check but lies beyond the
// readable octets is kHeadersSplit. A frame whose every octet is readable takes kWin = false,
// where those checks compile away (the hot path pays one compare per frame).
// All offsets are uint32_t and bounded by the frame length (a uint32_t) plus small constants
// only after a check, so no arithmetic below can wrap.
//
// Output contract beyond parser.h:
//   - On kIp the fields of the billed packet are written (parser.h): family, protocol, ports,
//     ip_len, is_fragment, tunneled, the addresses of its family and, when tunneled, outer_src
//     and teid. The fast lanes write only those (fewer stores); the general walk resets `out`
//     first, so there the others are zero.
//   - On kGtpNotGpdu the fields describe the OUTER UDP packet (tunneled = false) and `teid` is
//     the TEID of the signalling message (0 for echo).
//   - On every other status the fields are unspecified (partially filled): only the status
//     decides what is counted.
#include "dataplane/parser.h"

namespace tally {
namespace parser_detail {

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86DD;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;     // IEEE 802.1Q C-tag
inline constexpr uint16_t kEtherTypeQinQ = 0x88A8;     // IEEE 802.1ad S-tag
inline constexpr uint16_t kEtherTypeQinQOld = 0x9100;  // pre-standard S-tag
inline constexpr uint32_t kEthHeaderLen = 14;
inline constexpr uint32_t kVlanTagLen = 4;
// A frame with more than this many VLAN tags is kNonIp: we do not look for an IP packet behind
// a fifth tag (no real deployment stacks that deep; the frame is counted, never billed).
inline constexpr int kMaxVlanTags = 4;

inline constexpr uint32_t kIpv4MinHeaderLen = 20;
inline constexpr uint32_t kIpv6HeaderLen = 40;
inline constexpr uint16_t kIpv4MoreFragments = 0x2000;
inline constexpr uint16_t kIpv4FragmentOffsetMask = 0x1FFF;
inline constexpr int kMaxIpv6ExtHeaders = 8;

inline constexpr uint8_t kProtoHopByHop = 0;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoRouting = 43;
inline constexpr uint8_t kProtoFragment = 44;
inline constexpr uint8_t kProtoAh = 51;
inline constexpr uint8_t kProtoDestOpts = 60;
inline constexpr uint8_t kProtoSctp = 132;
inline constexpr uint8_t kProtoUdpLite = 136;

inline constexpr uint32_t kUdpHeaderLen = 8;
inline constexpr uint16_t kGtpuPort = 2152;
inline constexpr uint32_t kGtpHeaderLen = 8;    // flags, type, length, TEID
inline constexpr uint32_t kGtpOptionalLen = 4;  // sequence number, N-PDU number, next ext type
inline constexpr uint8_t kGtpVersion1 = 1;
inline constexpr uint8_t kGtpFlagPt = 0x10;
inline constexpr uint8_t kGtpFlagE = 0x04;
inline constexpr uint8_t kGtpFlagsEsPn = 0x07;  // E | S | PN
inline constexpr uint8_t kGtpMsgGpdu = 255;

// Copying this constant compiles to a few vector stores; `= ParsedPacket{}` became `rep stos`,
// which costs more than the whole IPv4 parse.
inline constexpr ParsedPacket kEmptyPacket{};

// Big-endian loads by byte shifts: no alignment requirement; compilers fuse them into one
// load + bswap.
inline uint16_t load16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((uint32_t{p[0]} << 8) | p[1]);
}
inline uint32_t load32(const uint8_t* p) noexcept {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline uint64_t load64(const uint8_t* p) noexcept {
  return (uint64_t{load32(p)} << 32) | load32(p + 4);
}
// Same layout as loadIp6() in shared/net.h (hi = bytes 0..7), inlined for the fast path.
inline Ip6 loadIp6Inline(const uint8_t* p) noexcept { return Ip6{load64(p), load64(p + 8)}; }

inline bool isVlanTpid(uint16_t type) noexcept {
  return type == kEtherTypeVlan || type == kEtherTypeQinQ || type == kEtherTypeQinQOld;
}

// TCP or UDP, with no branch: the two are mixed at random in real traffic, and a branch on
// which one it is is mispredicted for a large share of packets. `(p == TCP) | (p == UDP)` is not
// enough: GCC 12 compiles it to two branches in the IPv4 lanes. The product of the two
// differences (each < 256, no overflow) is 0 for exactly these two protocols.
[[gnu::always_inline]] inline bool tcpOrUdp(uint8_t protocol) noexcept {
  return (uint32_t{protocol} ^ kProtoTcp) * (uint32_t{protocol} ^ kProtoUdp) == 0;
}
// UDP to the GTP-U port, in one compare.
[[gnu::always_inline]] inline bool udpToGtpu(uint8_t protocol, uint16_t dst_port) noexcept {
  return (uint32_t{protocol} << 16 | dst_port) == (uint32_t{kProtoUdp} << 16 | kGtpuPort);
}

// Ports are read only for protocols whose header starts with 16-bit source and destination
// ports: TCP, UDP, SCTP, UDP-Lite.
inline bool protocolHasPorts(uint8_t protocol) noexcept {
  return protocol == kProtoTcp || protocol == kProtoUdp || protocol == kProtoSctp ||
         protocol == kProtoUdpLite;
}

// The source and destination ports at `p` (TCP, UDP, SCTP, UDP-Lite), in one load.
struct Ports {
  uint16_t src;
  uint16_t dst;
};
[[gnu::always_inline]] inline Ports loadPorts(const uint8_t* p) noexcept {
  const uint32_t v = load32(p);
  return Ports{uint16_t(v >> 16), uint16_t(v)};
}

// Reads the two ports at `p + l4_off` when the 4 port bytes lie within the IP packet
// (`ip_len` <= the bytes available, checked by the caller).
inline void readPorts(const uint8_t* p, uint32_t l4_off, uint32_t ip_len,
                      ParsedPacket& out) noexcept {
  if (protocolHasPorts(out.protocol) && l4_off + 4 <= ip_len) {
    out.has_ports = true;
    const Ports ports = loadPorts(p + l4_off);
    out.src_port = ports.src;
    out.dst_port = ports.dst;
  }
}

// True when readPorts would read ports that lie in the packet but beyond the `rd` readable
// octets (windowed parsing only).
inline bool portsUnreadable(uint8_t protocol, uint32_t l4_off, uint32_t ip_len,
                            uint32_t rd) noexcept {
  return protocolHasPorts(protocol) && l4_off + 4 <= ip_len && l4_off + 4 > rd;
}

// Parses the IPv4 packet at `p`; `avail` bytes of the frame remain from `p` on. Fills
// family, protocol, addresses, ip_len, is_fragment, ports; `l4_off` = IHL * 4.
//
// kInner: the packet is the payload of a GTP-U G-PDU and `avail` is what the GTP-U length
// leaves for it. Its header or length reaching beyond that is a tunnel framing error
// (kGtpMalformed); intrinsic header errors (IHL < 5, total length < IHL * 4) keep the IP
// statuses. The caller has checked the version nibble and that avail >= 1.
//
// kWin: only `rd` (<= avail) octets from `p` on may be read (see the file comment).
template <bool kInner, bool kWin>
inline ParseStatus parseIpv4(const uint8_t* p, uint32_t avail, uint32_t rd, ParsedPacket& out,
                             uint32_t& l4_off) noexcept {
  constexpr ParseStatus kHeaderBeyond =
      kInner ? ParseStatus::kGtpMalformed : ParseStatus::kBadIpHeader;
  constexpr ParseStatus kLengthBeyond =
      kInner ? ParseStatus::kGtpMalformed : ParseStatus::kIpLengthExceedsFrame;
  if (avail < 1) [[unlikely]] {
    return kHeaderBeyond;
  }
  if (kWin && rd < 1) {
    return ParseStatus::kHeadersSplit;
  }
  const uint8_t version_ihl = p[0];
  if ((version_ihl >> 4) != 4) [[unlikely]] {
    return ParseStatus::kBadIpVersion;
  }
  const uint32_t header_len = uint32_t{version_ihl & 0x0Fu} * 4;
  if (header_len < kIpv4MinHeaderLen) [[unlikely]] {
    return ParseStatus::kBadIpHeader;
  }
  if (header_len > avail) [[unlikely]] {
    return kHeaderBeyond;
  }
  if (kWin && header_len > rd) {
    return ParseStatus::kHeadersSplit;
  }
  const uint32_t total_len = load16(p + 2);
  if (total_len < header_len) [[unlikely]] {
    return ParseStatus::kIpLengthExceedsFrame;
  }
  if (total_len > avail) [[unlikely]] {
    return kLengthBeyond;
  }
  // Every load before the first store to `out`: its uint8_t fields may alias the frame, so a
  // load after such a store is done again.
  const uint16_t frag = load16(p + 6);
  const uint8_t protocol = p[9];
  const uint32_t src = load32(p + 12);
  const uint32_t dst = load32(p + 16);
  bool has_ports = false;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  // Non-first fragments carry no L4 header: no ports (they match only port-less rules).
  if ((frag & kIpv4FragmentOffsetMask) == 0) [[likely]] {
    if (kWin && portsUnreadable(protocol, header_len, total_len, rd)) {
      return ParseStatus::kHeadersSplit;
    }
    if (protocolHasPorts(protocol) && header_len + 4 <= total_len) {
      has_ports = true;
      src_port = load16(p + header_len);
      dst_port = load16(p + header_len + 2);
    }
  }
  out.family = 4;
  out.protocol = protocol;
  out.ip_len = total_len;
  out.src4 = src;
  out.dst4 = dst;
  out.is_fragment = (frag & (kIpv4MoreFragments | kIpv4FragmentOffsetMask)) != 0;
  out.has_ports = has_ports;
  out.src_port = src_port;
  out.dst_port = dst_port;
  l4_off = header_len;
  return ParseStatus::kIp;
}

// Parses the IPv6 packet at `p` (see parseIpv4 for `avail`, kInner, `l4_off`). Walks the
// extension headers of parser.h; a chain that is truncated, reaches beyond the payload, is
// longer than kMaxIpv6ExtHeaders, or ends in a non-first fragment / ESP / no-next-header ends
// the walk with has_ports = false and protocol = the next-header value where it stopped. The
// packet is still kIp: its IP header and length are valid, so its octets are billable.
template <bool kInner, bool kWin>
inline ParseStatus parseIpv6(const uint8_t* p, uint32_t avail, uint32_t rd, ParsedPacket& out,
                             uint32_t& l4_off) noexcept {
  constexpr ParseStatus kHeaderBeyond =
      kInner ? ParseStatus::kGtpMalformed : ParseStatus::kBadIpHeader;
  constexpr ParseStatus kLengthBeyond =
      kInner ? ParseStatus::kGtpMalformed : ParseStatus::kIpLengthExceedsFrame;
  if (avail < 1) [[unlikely]] {
    return kHeaderBeyond;
  }
  if (kWin && rd < 1) {
    return ParseStatus::kHeadersSplit;
  }
  if ((p[0] >> 4) != 6) [[unlikely]] {
    return ParseStatus::kBadIpVersion;
  }
  if (avail < kIpv6HeaderLen) [[unlikely]] {
    return kHeaderBeyond;
  }
  if (kWin && rd < kIpv6HeaderLen) {
    return ParseStatus::kHeadersSplit;
  }
  const uint32_t ip_len = load16(p + 4) + kIpv6HeaderLen;
  if (ip_len > avail) [[unlikely]] {
    return kLengthBeyond;
  }
  out.family = 6;
  out.ip_len = ip_len;
  out.src6 = loadIp6Inline(p + 8);
  out.dst6 = loadIp6Inline(p + 24);

  uint8_t next = p[6];
  uint32_t off = kIpv6HeaderLen;
  for (int ext = 0;; ++ext) {
    uint32_t ext_len;
    switch (next) {
      case kProtoHopByHop:
      case kProtoRouting:
      case kProtoDestOpts:
      case kProtoAh:
        if (ext == kMaxIpv6ExtHeaders || off + 2 > ip_len) {
          out.protocol = next;
          return ParseStatus::kIp;
        }
        if (kWin && off + 2 > rd) {
          return ParseStatus::kHeadersSplit;
        }
        // RFC 8200: Hdr Ext Len in 8-octet units, not counting the first 8 octets.
        // RFC 4302 (AH): Payload Len in 4-octet units, minus 2.
        ext_len =
            next == kProtoAh ? (uint32_t{p[off + 1]} + 2) * 4 : (uint32_t{p[off + 1]} + 1) * 8;
        if (off + ext_len > ip_len) {
          out.protocol = next;
          return ParseStatus::kIp;
        }
        next = p[off];
        off += ext_len;
        break;
      case kProtoFragment: {
        // The packet is a fragment even if its fragment header is cut short.
        out.is_fragment = true;
        if (ext == kMaxIpv6ExtHeaders || off + 8 > ip_len) {
          out.protocol = next;
          return ParseStatus::kIp;
        }
        if (kWin && off + 8 > rd) {
          return ParseStatus::kHeadersSplit;
        }
        const uint16_t offset_flags = load16(p + off + 2);  // offset << 3 | res | M
        next = p[off];
        off += 8;
        if ((offset_flags & 0xFFF8) != 0) {
          // Non-first fragment: the upper-layer header is in the first fragment.
          out.protocol = next;
          return ParseStatus::kIp;
        }
        break;
      }
      default:
        // Upper-layer protocol, ESP (50: ports encrypted) or no-next-header (59; neither is in
        // the port set): the walk ends here.
        out.protocol = next;
        l4_off = off;
        if (kWin && portsUnreadable(next, off, ip_len, rd)) {
          return ParseStatus::kHeadersSplit;
        }
        readPorts(p, off, ip_len, out);
        return ParseStatus::kIp;
    }
  }
}

// The fields every fast lane writes, whatever the family: a packet that is not a fragment, with
// its ports (the lanes take only such packets). The addresses are the lane's own.
[[gnu::always_inline]] inline void writeLaneFields(uint8_t family, uint8_t protocol,
                                                   uint16_t src_port, uint16_t dst_port,
                                                   uint32_t ip_len, bool tunneled,
                                                   ParsedPacket& out) noexcept {
  out.family = family;
  out.protocol = protocol;
  out.has_ports = true;
  out.is_fragment = false;
  out.src_port = src_port;
  out.dst_port = dst_port;
  out.ip_len = ip_len;
  out.tunneled = tunneled;
}

// What the IPv4 fast lanes (the outer one in parseFrame, the inner one of GTP-U) write: an
// IPv4 packet without options, not a fragment, TCP or UDP with its ports (parser.h: the IPv6
// addresses are not written; outer_src and teid are the caller's when tunneled).
[[gnu::always_inline]] inline void writeIpv4Lane(uint8_t protocol, uint16_t src_port,
                                                 uint16_t dst_port, uint32_t total_len,
                                                 uint32_t src, uint32_t dst, bool tunneled,
                                                 ParsedPacket& out) noexcept {
  writeLaneFields(4, protocol, src_port, dst_port, total_len, tunneled, out);
  out.src4 = src;
  out.dst4 = dst;
}

// The inner fast lane of a GTP-U packet (parseGtpu's contiguous case and gtpuFastLane): IPv4
// without options, not a fragment, TCP or UDP with its ports inside; `inner_avail` >= 24. Every
// load comes before the first store, and every meaningful field of `out` is written (parser.h:
// not the IPv6 addresses), so no reset of `out` first. Anything else returns false with `out`
// untouched.
[[gnu::always_inline]] inline bool innerIpv4FastLane(const uint8_t* inner, uint32_t inner_avail,
                                                     const IpAddress& outer_src, uint32_t teid,
                                                     ParsedPacket& out) noexcept {
  const uint8_t vihl = inner[0];
  const uint32_t total_len = load16(inner + 2);
  const uint16_t frag = load16(inner + 6);
  const uint8_t protocol = inner[9];
  // total_len in [24, inner_avail] as one unsigned compare (inner_avail >= 24).
  constexpr uint32_t kMin = kIpv4MinHeaderLen + 4;
  if (vihl != 0x45 || total_len - kMin > inner_avail - kMin ||
      (frag & (kIpv4MoreFragments | kIpv4FragmentOffsetMask)) != 0 ||
      !tcpOrUdp(protocol)) {
    return false;
  }
  const auto [src_port, dst_port] = loadPorts(inner + kIpv4MinHeaderLen);
  const uint32_t src = load32(inner + 12);
  const uint32_t dst = load32(inner + 16);
  writeIpv4Lane(protocol, src_port, dst_port, total_len, src, dst, true, out);
  out.outer_src = outer_src;
  out.teid = teid;
  return true;
}

// Decapsulates the GTP-U packet whose outer IP packet (already parsed into `out`, kIp, UDP with
// destination port 2152, ports present) starts at `ip`; its UDP header is at `ip + l4_off`.
// TS 29.281 §5.1:
// > Version field: This field is used to determine the version of the GTP-U protocol. The
// > version number shall be set to '1'.
// > Protocol Type (PT): This bit is used as a protocol discriminator between GTP (when PT is '1')
// > and GTP' (when PT is '0').
// > Length: This field indicates the length in octets of the payload, i.e. the rest of the
// > packet following the mandatory part of the GTP header (that is the first 8 octets). The
// > Sequence Number, the N-PDU Number or any Extension headers shall be considered to be part
// > of the payload, i.e. included in the length count.
// > If and only if one or more of these three flags are set, the fields Sequence Number, N-PDU
// > and Extension Header shall be present.
//
// Out of line: keeps the plain IPv4/IPv6 path free of its register pressure. `rd`: octets
// readable from `ip` on (kWin).
template <bool kWin>
[[gnu::noinline]] ParseStatus parseGtpu(const uint8_t* ip, uint32_t l4_off, uint32_t rd,
                                        ParsedPacket& out) noexcept {
  // Bytes of the outer IP packet from the UDP header on (ip_len <= frame, checked).
  const uint32_t udp_avail = out.ip_len - l4_off;
  if (udp_avail < kUdpHeaderLen) {
    return ParseStatus::kGtpMalformed;
  }
  // Octets readable from the UDP header on (the ports were read, so rd >= l4_off + 4).
  const uint32_t udp_rd = kWin ? rd - l4_off : 0;
  if (kWin && udp_rd < kUdpHeaderLen) {
    return ParseStatus::kHeadersSplit;
  }
  const uint8_t* udp = ip + l4_off;
  // The UDP datagram ends at the UDP length or at the end of the IP packet, whichever is first
  // (a UDP length beyond the IP packet - an outer first fragment - leaves the GTP-U payload
  // incomplete, and the inner packet then fails the checks below).
  uint32_t udp_len = load16(udp + 4);
  if (udp_len > udp_avail) {
    udp_len = udp_avail;
  }
  if (udp_len < kUdpHeaderLen + kGtpHeaderLen) {
    return ParseStatus::kGtpMalformed;
  }
  if (kWin && udp_rd < kUdpHeaderLen + kGtpHeaderLen) {
    return ParseStatus::kHeadersSplit;
  }
  // Octets readable from the GTP-U header on.
  const uint32_t gtp_rd = kWin ? udp_rd - kUdpHeaderLen : 0;
  const uint8_t* gtp = udp + kUdpHeaderLen;
  const uint32_t gtp_avail = udp_len - kUdpHeaderLen;
  const uint8_t flags = gtp[0];
  if ((flags >> 5) != kGtpVersion1 || (flags & kGtpFlagPt) == 0) {
    return ParseStatus::kGtpMalformed;
  }
  const uint32_t teid = load32(gtp + 4);
  out.teid = teid;
  // Only the G-PDU (255) carries user data. Echo Request (1), Echo Response (2), Error
  // Indication (26), Supported Extension Headers Notification (31) and End Marker (254) are
  // path/tunnel signalling: never billed.
  if (gtp[1] != kGtpMsgGpdu) {
    return ParseStatus::kGtpNotGpdu;
  }
  const uint32_t gtp_end = kGtpHeaderLen + load16(gtp + 2);
  if (gtp_end > gtp_avail) {
    return ParseStatus::kGtpMalformed;
  }
  uint32_t off = kGtpHeaderLen;
  if ((flags & kGtpFlagsEsPn) != 0) {
    if (off + kGtpOptionalLen > gtp_end) {
      return ParseStatus::kGtpMalformed;
    }
    if (kWin && off + kGtpOptionalLen > gtp_rd) {
      return ParseStatus::kHeadersSplit;
    }
    off += kGtpOptionalLen;
    // > Extension Header flag (E): This flag indicates the presence of a meaningful value of
    // > the Next Extension Header field. When it is set to '0', the Next Extension Header field
    // > either is not present or, if present, shall not be interpreted.
    // TS 29.281 §5.2.1:
    // > The length of the Extension header shall be defined in a variable length of 4 octets,
    // > i.e. m+1 = n*4 octets, where n is a positive integer.
    // Its first octet is that length in 4-octet units (0 cannot be: kGtpMalformed), its last
    // octet the next extension header type, 0 meaning no more extension headers. Each header is
    // >= 4 octets, so the walk ends within gtp_end / 4 steps. Unknown types are skipped by
    // length (the comprehension-required bits do not matter for counting).
    if ((flags & kGtpFlagE) != 0) {
      uint8_t next_type = gtp[off - 1];
      while (next_type != 0) {
        if (off >= gtp_end) {
          return ParseStatus::kGtpMalformed;
        }
        if (kWin && off >= gtp_rd) {
          return ParseStatus::kHeadersSplit;
        }
        const uint32_t ext_len = uint32_t{gtp[off]} * 4;
        if (ext_len == 0 || off + ext_len > gtp_end) {
          return ParseStatus::kGtpMalformed;
        }
        if (kWin && off + ext_len > gtp_rd) {
          return ParseStatus::kHeadersSplit;
        }
        next_type = gtp[off + ext_len - 1];
        off += ext_len;
      }
    }
  }
  // The T-PDU (inner IP packet) is what remains of the GTP-U payload.
  if (off >= gtp_end) {
    return ParseStatus::kGtpMalformed;
  }
  if (kWin && off >= gtp_rd) {
    return ParseStatus::kHeadersSplit;
  }
  const uint8_t* inner_ip = gtp + off;
  const uint32_t inner_avail = gtp_end - off;
  // Readable octets of the inner packet (at least its first octet, checked above).
  const uint32_t inner_rd = kWin ? gtp_rd - off : 0;
  // From here on `out` describes the inner packet. (Parsing into a local ParsedPacket and copying
  // it over cost more than the whole IPv4 parse: the copy's wide loads stall on the narrow
  // stores just made.) GTP-U inside GTP-U is not decapsulated: inner UDP/2152 is plain UDP.
  IpAddress outer_src;
  outer_src.family = out.family;
  if (out.family == 4) {
    outer_src.v4 = out.src4;
  } else {
    outer_src.v6 = out.src6;
  }
  if constexpr (!kWin) {
    // The inner fast lane (see parseFrame): IPv4 without options, not a fragment, TCP or UDP
    // with its ports inside. Every meaningful field is written (parser.h), so no reset of `out`
    // first.
    if (inner_avail >= kIpv4MinHeaderLen + 4 &&
        innerIpv4FastLane(inner_ip, inner_avail, outer_src, teid, out)) [[likely]] {
      return ParseStatus::kIp;
    }
  }
  out = kEmptyPacket;
  uint32_t inner_l4_off = 0;
  ParseStatus status;
  switch (inner_ip[0] >> 4) {
    case 4:
      status = parseIpv4<true, kWin>(inner_ip, inner_avail, inner_rd, out, inner_l4_off);
      break;
    case 6:
      status = parseIpv6<true, kWin>(inner_ip, inner_avail, inner_rd, out, inner_l4_off);
      break;
    default:
      return ParseStatus::kGtpMalformed;
  }
  if (status != ParseStatus::kIp) {
    return status;
  }
  out.tunneled = true;
  out.outer_src = outer_src;
  out.teid = teid;
  return ParseStatus::kIp;
}

// The GTP-U fast lane (a contiguous frame): the outer packet took the IPv4 fast lane (Ethernet
// II + IPv4 without options, not a fragment, UDP to 2152, `outer_len` <= the frame) and starts at
// `ip`. A G-PDU without optional fields or with them and at most one extension header (the PDU
// session container of N3), carrying IPv4 without options, not a fragment, TCP or UDP with its
// ports inside: `out` is filled as parseGtpu would, every load before the first store, and true
// is returned. Anything else returns false with `out` untouched: parseGtpu decides (the lane's
// conditions imply every check of parseGtpu and parseIpv4 on the way, so the result is the
// same; which one fails first does not matter here).
[[gnu::always_inline]] inline bool gtpuFastLane(const uint8_t* ip, uint32_t outer_len,
                                                uint32_t outer_src, ParsedPacket& out) noexcept {
  // The lane takes an outer packet that holds the UDP and GTP-U headers and an inner IPv4
  // header with its ports (60 octets), so the reads before the check of `off` (up to gtp + 12)
  // lie in the frame; the inner header's are bounded by gtp_end (<= the outer packet, checked).
  constexpr uint32_t kLaneMin =
      kIpv4MinHeaderLen + kUdpHeaderLen + kGtpHeaderLen + kIpv4MinHeaderLen + 4;
  if (outer_len < kLaneMin) {
    return false;
  }
  const uint8_t* udp = ip + kIpv4MinHeaderLen;
  const uint32_t udp_len = load16(udp + 4);
  const uint8_t* gtp = udp + kUdpHeaderLen;
  const uint32_t head = load32(gtp);  // flags, type, length
  const uint32_t gtp_len = head & 0xFFFF;
  // Version 1, PT 1, the reserved bit 0, a G-PDU; its payload inside the UDP length and inside
  // the outer packet (parseGtpu: within min(UDP length, what the IP packet leaves), which is
  // then >= 16).
  if ((head & 0xF0FF0000u) != ((uint32_t{0x30} << 24) | (uint32_t{kGtpMsgGpdu} << 16)) ||
      gtp_len + kUdpHeaderLen + kGtpHeaderLen > udp_len ||
      gtp_len + kIpv4MinHeaderLen + kUdpHeaderLen + kGtpHeaderLen > outer_len) {
    return false;
  }
  const uint32_t gtp_end = kGtpHeaderLen + gtp_len;
  uint32_t off = kGtpHeaderLen;
  if ((head & (uint32_t{kGtpFlagsEsPn} << 24)) != 0) {
    // The optional fields (within gtp_end: see the check of off below).
    off += kGtpOptionalLen;
    if ((head & (uint32_t{kGtpFlagE} << 24)) != 0 && gtp[off - 1] != 0) {
      // One extension header, the last one (its length octet is gtp[12]; gtp[12..15] lie in
      // the first 60 octets). The usual one, 4 octets (length 1, next type 0), in one test.
      if ((load32(gtp + off) & 0xFF0000FFu) == 0x01000000u) {
        off += 4;  // within gtp_end: see the check of off below
      } else {
        const uint32_t ext_len = uint32_t{gtp[off]} * 4;
        if (ext_len == 0 || off + ext_len > gtp_end || gtp[off + ext_len - 1] != 0) {
          return false;
        }
        off += ext_len;
      }
    }
  }
  // The inner header and its ports inside the G-PDU (so off < gtp_end, and off + 4 <= gtp_end
  // for the optional fields).
  if (off + kIpv4MinHeaderLen + 4 > gtp_end) {
    return false;
  }
  IpAddress src;
  src.family = 4;
  src.v4 = outer_src;
  return innerIpv4FastLane(gtp + off, gtp_end - off, src, load32(gtp + 4), out);
}

// `rd`: octets readable at `frame` (kWin; rd < len), `len`: the frame's length.
template <bool kWin>
inline ParseStatus parseFrame(const uint8_t* frame, uint32_t rd, uint32_t len,
                              ParsedPacket& out) noexcept {
  if constexpr (!kWin) {
    // The fast lane: the frame almost every packet is, Ethernet II + IPv4 without options, not
    // a fragment, TCP or UDP with its ports inside the packet, not GTP-U. The same result as
    // the general walk below, with its checks folded into one test (no loads after stores).
    // The ethertype first, alone: the lane's loads come after that test, so that an IPv6 frame
    // does not pay for them (they would be done before it: every one is within `len`).
    if (len >= kEthHeaderLen + kIpv4MinHeaderLen + 4 && load16(frame + 12) == kEtherTypeIpv4)
        [[likely]] {
      const uint8_t* ip = frame + kEthHeaderLen;
      const uint8_t vihl = ip[0];
      const uint32_t total_len = load16(ip + 2);
      const uint16_t frag = load16(ip + 6);
      const uint8_t protocol = ip[9];
      const auto [src_port, dst_port] = loadPorts(ip + kIpv4MinHeaderLen);
      if (vihl == 0x45 &&
          total_len >= kIpv4MinHeaderLen + 4 && total_len <= len - kEthHeaderLen &&
          (frag & (kIpv4MoreFragments | kIpv4FragmentOffsetMask)) == 0) [[likely]] {
        // GTP-U first: UDP to 2152 is UDP, so a GTP-U packet skips the TCP-or-UDP test. (A
        // link carries GTP-U or not: this branch follows the link, not the packet.)
        const bool gtpu = udpToGtpu(protocol, dst_port);
        if (gtpu && gtpuFastLane(ip, total_len, load32(ip + 12), out)) [[likely]] {
          return ParseStatus::kIp;
        }
        if (gtpu || tcpOrUdp(protocol)) [[likely]] {
          const uint32_t src = load32(ip + 12);
          const uint32_t dst = load32(ip + 16);
          // Every meaningful field written (parser.h: not the IPv6 addresses, outer_src and
          // teid of a packet that is not tunneled), no reset first: fewer stores.
          writeIpv4Lane(protocol, src_port, dst_port, total_len, src, dst, false, out);
          if (gtpu) {
            return parseGtpu<false>(ip, kIpv4MinHeaderLen, 0, out);
          }
          return ParseStatus::kIp;
        }
      }
    }
  }
  if constexpr (!kWin) {
    // The IPv6 fast lane: Ethernet II + IPv6 whose next header is TCP or UDP (no extension
    // headers) with the ports inside the packet, not GTP-U.
    if (len >= kEthHeaderLen + kIpv6HeaderLen + 4 && load16(frame + 12) == kEtherTypeIpv6) {
      const uint8_t* ip = frame + kEthHeaderLen;
      // Payload length and next header in one load.
      const uint32_t len_next = load32(ip + 4);
      const uint32_t ip_len = (len_next >> 16) + kIpv6HeaderLen;
      const uint8_t next = uint8_t(len_next >> 8);
      const auto [src_port, dst_port] = loadPorts(ip + kIpv6HeaderLen);
      if ((ip[0] >> 4) == 6 && ip_len >= kIpv6HeaderLen + 4 && ip_len <= len - kEthHeaderLen &&
          tcpOrUdp(next) & !udpToGtpu(next, dst_port)) [[likely]] {
        const Ip6 src = loadIp6Inline(ip + 8);
        const Ip6 dst = loadIp6Inline(ip + 24);
        // Every meaningful field written (parser.h: not the IPv4 addresses, outer_src and teid),
        // no reset first: fewer stores.
        writeLaneFields(6, next, src_port, dst_port, ip_len, false, out);
        out.src6 = src;
        out.dst6 = dst;
        return ParseStatus::kIp;
      }
    }
  }
  out = kEmptyPacket;
  if (len < kEthHeaderLen) [[unlikely]] {
    return ParseStatus::kL2Truncated;
  }
  if (kWin && rd < kEthHeaderLen) {
    return ParseStatus::kHeadersSplit;
  }
  uint16_t type = load16(frame + 12);
  uint32_t off = kEthHeaderLen;
  if (type != kEtherTypeIpv4 && isVlanTpid(type)) [[unlikely]] {
    // Each tag: TCI (2 octets), then the next ethertype / TPID (2 octets).
    int tags = 0;
    do {
      if (tags == kMaxVlanTags) {
        return ParseStatus::kNonIp;  // a fifth tag: see kMaxVlanTags
      }
      if (len - off < kVlanTagLen) {
        return ParseStatus::kL2Truncated;
      }
      if (kWin && rd - off < kVlanTagLen) {
        return ParseStatus::kHeadersSplit;
      }
      type = load16(frame + off + 2);
      off += kVlanTagLen;
      ++tags;
    } while (isVlanTpid(type));
  }

  const uint8_t* ip = frame + off;
  const uint32_t avail = len - off;
  const uint32_t ip_rd = kWin ? rd - off : 0;
  uint32_t l4_off = 0;
  ParseStatus status;
  if (type == kEtherTypeIpv4) [[likely]] {
    status = parseIpv4<false, kWin>(ip, avail, ip_rd, out, l4_off);
  } else if (type == kEtherTypeIpv6) {
    status = parseIpv6<false, kWin>(ip, avail, ip_rd, out, l4_off);
  } else {
    return ParseStatus::kNonIp;
  }
  if (status != ParseStatus::kIp) [[unlikely]] {
    return status;
  }
  // has_ports is false for outer non-first fragments (IPv4 offset != 0, IPv6 fragment header
  // with offset != 0): those are never treated as GTP-U.
  if (out.has_ports && udpToGtpu(out.protocol, out.dst_port)) {
    return parseGtpu<kWin>(ip, l4_off, ip_rd, out);
  }
  return ParseStatus::kIp;
}

}  // namespace parser_detail

// parsePacket (parser.h), inlined: the contiguous case in place, a frame in several buffers
// through the out-of-line windowed parse.
[[gnu::always_inline]] inline ParseStatus parsePacketInline(const uint8_t* frame,
                                                            uint32_t readable, uint32_t len,
                                                            ParsedPacket& out) noexcept {
  if (readable >= len) [[likely]] {
    return parser_detail::parseFrame<false>(frame, len, len, out);
  }
  return parsePacket(frame, readable, len, out);
}

}  // namespace tally
