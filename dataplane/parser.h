#pragma once
// Packet parser of the fast path (DPDK-free: plain bytes in, a ParsedPacket out).
// Semantics: ../docs/counting.md. noexcept, no allocation, never reads past `len`.
#include <cstdint>

#include "shared/net.h"

namespace tally {

// Outcome of parsing one frame. Only kIp is billable; every other value has a named
// counter in WorkerStats (see shared/stats.h) and is never billed.
enum class ParseStatus : uint8_t {
  kIp = 0,               // IPv4/IPv6 packet (possibly the inner packet of a GTP-U G-PDU)
  kNonIp,                // Ethernet type is not IPv4/IPv6 (ARP, LLDP, MPLS, ...)
  kL2Truncated,          // frame shorter than the Ethernet header or a VLAN tag
  kBadIpVersion,         // IP version nibble does not match the ethertype
  kBadIpHeader,          // IPv4 IHL < 5, or IPv4/IPv6 header longer than the frame
  kIpLengthExceedsFrame, // IPv4 total length / IPv6 payload length + 40 beyond the frame,
                         // or IPv4 total length < IHL*4
  kGtpMalformed,         // UDP/2152 but the GTP-U header or its extension chain is invalid,
                         // or the G-PDU does not carry an IPv4/IPv6 packet (inner version
                         // nibble not 4 or 6) that fits inside it
  kGtpNotGpdu,           // GTP-U signalling (echo, error indication, end marker): not billed
  kHeadersSplit,         // a frame in several buffers whose headers (up to the L4 ports of the
                         // billed packet) reach beyond its readable contiguous octets; cannot
                         // happen when the first buffer holds kHeaderWindow octets or more
  kCount
};

// On kIp, every field describes the billed packet, except that the fields of the other family
// and of a tunnel are unspecified (the parser's fast lanes leave them as they were): src4/dst4
// are meaningful only when family == 4, src6/dst6 only when family == 6, outer_src and teid only
// when tunneled (and teid on kGtpNotGpdu, parser_inline.h). A tunneled packet's outer_src is
// whole: the fields of its other family are zero (v4 is 0 for an IPv6 node: the fast path's
// serving check relies on it).
struct ParsedPacket {
  uint8_t family = 0;        // 4 or 6: of the billed (inner, for GTP-U) packet
  uint8_t protocol = 0;      // IPv4 protocol / IPv6 final next header (after ext headers)
  bool has_ports = false;    // false for non-first fragments, ICMP, truncated L4, ...
  bool is_fragment = false;  // IPv4 MF or offset != 0; IPv6 fragment header present
  uint16_t src_port = 0;     // host order; valid when has_ports
  uint16_t dst_port = 0;
  uint32_t ip_len = 0;       // octets billed: IPv4 total length, or IPv6 payload length + 40
  uint32_t src4 = 0;         // host order, family 4
  uint32_t dst4 = 0;
  Ip6 src6;                  // family 6
  Ip6 dst6;
  // GTP-U G-PDU: tunneled = true, outer source address (the serving node for uplink), TEID;
  // outer_src and teid are meaningful only when tunneled.
  bool tunneled = false;
  IpAddress outer_src;
  uint32_t teid = 0;
};

// Layer 2: Ethernet II, then any number (up to 4) of 802.1Q (0x8100) / 802.1ad (0x88a8) /
// 0x9100 tags. Layer 3: IPv4 (with options, fragments) or IPv6 (extension headers: hop-by-hop 0,
// routing 43, fragment 44, destination options 60, AH 51; stops at ESP 50, no-next-header 59 and
// any upper-layer protocol; at most 8 extension headers, then has_ports = false).
// GTP-U: IPv4/IPv6 + UDP with destination port 2152 + GTPv1 (version 1, PT 1); message type 255
// (G-PDU) is decapsulated (optional seq/N-PDU/next-ext fields and the extension-header chain
// skipped) and the inner IPv4/IPv6 packet is what is parsed and billed; other message types
// give kGtpNotGpdu. Outer non-first fragments are never treated as GTP-U.
//
// Frame sizes: every length check uses `len`, the frame's length on the wire (a frame may be
// larger than one packet buffer). Only the first `readable` octets, contiguous at `frame`, are
// ever read: the headers, never the payload. A frame held in one buffer has readable == len; the
// DPDK adapter gives a frame in several buffers at least min(len, kHeaderWindow) readable
// octets (its first buffer, or a copy of the first kHeaderWindow octets when that buffer is
// shorter). Same result as the whole frame contiguous, except kHeadersSplit when a header needed
// lies beyond `readable`.
ParseStatus parsePacket(const uint8_t* frame, uint32_t readable, uint32_t len,
                        ParsedPacket& out) noexcept;
inline ParseStatus parsePacket(const uint8_t* frame, uint32_t len, ParsedPacket& out) noexcept {
  return parsePacket(frame, len, len, out);
}

// Octets of a frame in several buffers that the DPDK adapter makes readable at least (copying
// them only when the first buffer is shorter): room for the deepest header stack tally parses
// (4 VLAN tags, outer IPv6 with extension headers, UDP, GTP-U with extension headers, inner
// IPv6 with extension headers, the L4 ports).
constexpr uint32_t kHeaderWindow = 512;

const char* parseStatusName(ParseStatus s) noexcept;  // "non_ip", "l2_truncated", ...

}  // namespace tally
