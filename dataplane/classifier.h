#pragma once
// First-match classification of a packet side into a rating-group index, precompiled from the
// plan's service rules: the same result as classify() (fastpath.h), which walks the rules one by
// one, in a handful of table lookups (docs/performance.md).
//
// Every rule is a bit (rule i = bit i; at most 64 rules, kMaxServiceRules). The candidates of a
// packet side are the rules whose protocol condition (a 256-entry table) and remote-port
// condition (the port's class: intervals between the rules' port bounds, a 64 K-entry table of
// class numbers) hold, and whose prefix family fits (tables per family). The lowest candidate
// whose remote prefix (if it has one) contains the remote address wins. With up to 8 prefixes of
// the packet's family, all of them are tested at once, with no branch on the packet (the rules
// that decide differ from packet to packet, and a branch per candidate was mispredicted for a
// large share of packets); with more, candidate after candidate.
//
// Built once by the worker's FastPath (allocation happens here, never per packet); read by that
// worker only. noexcept, no allocation after construction.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dataplane/parser.h"
#include "shared/counting_plan.h"

namespace tally {

class Classifier {
 public:
  explicit Classifier(const CountingPlan& plan);
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  // Rating-group index of one side of a kIp packet (uplink: the subscriber is the source).
  uint8_t classify(const ParsedPacket& p, bool uplink) const noexcept {
    return p.family == 4 ? classify4(p, uplink) : classify6(p, uplink);
  }
  // The same for a packet known to be IPv4 (family 4) or IPv6 (family 6).
  uint8_t classify4(const ParsedPacket& p, bool uplink) const noexcept {
    const uint64_t m = candidates(p, uplink, class_mask4_);
    const uint32_t remote = uplink ? p.dst4 : p.src4;
    if (np4_ <= kFlatPrefixes) [[likely]] {
      // Without a branch on the packet: every IPv4 prefix is tested (a loop of a fixed count,
      // the configuration's), the lowest candidate whose prefix holds wins; none: index 64, the
      // default. The rules that decide differ from packet to packet (the usual mix of services),
      // and a branch per rule was mispredicted often enough to take half the time of a packet
      // (docs/performance.md).
      uint64_t holds = ~prefixed4_;
      for (uint32_t j = 0; j < np4_; ++j) {
        holds |= uint64_t((remote & flat4_[j].mask) == flat4_[j].addr) << flat4_[j].rule;
      }
      return rg_[std::countr_zero(m & holds)];
    }
    uint64_t left = m;
    while (left != 0) {
      const unsigned r = unsigned(std::countr_zero(left));
      // A rule without a prefix has mask 0 and address 0: it always holds.
      if ((remote & prefix4_[r].mask) == prefix4_[r].addr) {
        return rg_[r];
      }
      left &= left - 1;
    }
    return default_rg_;
  }
  uint8_t classify6(const ParsedPacket& p, bool uplink) const noexcept {
    const uint64_t m = candidates(p, uplink, class_mask6_);
    if (np6_ <= kFlatPrefixes) [[likely]] {
      // As classify4: no branch on the packet.
      const Ip6& a = uplink ? p.dst6 : p.src6;
      uint64_t holds = ~prefixed6_;
      for (uint32_t j = 0; j < np6_; ++j) {
        const Flat6& x = flat6_[j];
        holds |= uint64_t(((a.hi & x.mask.hi) == x.addr.hi) & ((a.lo & x.mask.lo) == x.addr.lo))
                 << x.rule;
      }
      return rg_[std::countr_zero(m & holds)];
    }
    uint64_t left = m;
    while (left != 0) {
      const unsigned r = unsigned(std::countr_zero(left));
      // A candidate here has no prefix or an IPv6 one (class_mask6_ leaves IPv4 ones out).
      if ((prefixed6_ >> r & 1) == 0 || prefixHolds6(r, p, uplink)) {
        return rg_[r];
      }
      left &= left - 1;
    }
    return default_rg_;
  }

 private:
  // The rules whose protocol, port and prefix-family conditions hold. A packet without ports
  // matches only rules without a port condition: those are in every class's mask, so the port
  // (whatever its value) does not matter then.
  uint64_t candidates(const ParsedPacket& p, bool uplink,
                      const uint64_t* class_mask) const noexcept {
    uint16_t key;  // protocol | has_ports << 8: adjacent octets of ParsedPacket, one load
    std::memcpy(&key, &p.protocol, sizeof key);
    return proto_ports_[key] & class_mask[port_class_[uplink ? p.dst_port : p.src_port]];
  }
  bool prefixHolds6(unsigned r, const ParsedPacket& p, bool uplink) const noexcept {
    const Prefix6& x = prefix6_[r];
    const Ip6& a = uplink ? p.dst6 : p.src6;
    return (a.hi & x.mask.hi) == x.addr.hi && (a.lo & x.mask.lo) == x.addr.lo;
  }
  static_assert(offsetof(ParsedPacket, has_ports) == offsetof(ParsedPacket, protocol) + 1 &&
                    sizeof(bool) == 1 && std::endian::native == std::endian::little,
                "candidates() reads protocol and has_ports as one little-endian uint16_t");

  struct Prefix4 {
    uint32_t addr = 0;
    uint32_t mask = 0;
  };
  struct Prefix6 {
    Ip6 addr;
    Ip6 mask;
  };
  // Indexed by protocol | has_ports << 8: the rules whose protocol condition holds, and when
  // has_ports is false only those without a port condition.
  uint64_t proto_ports_[512] = {};
  // Arrays in the object, not behind pointers: their addresses are offsets from `this`, not
  // members reloaded per packet (a store of a pointer could change them, as far as GCC knows).
  uint8_t port_class_[65536] = {};  // the class of a remote port
  // Per class (at most 2 bounds per rule + 1): rules whose port condition holds and whose
  // prefix, if any, is of the family.
  static constexpr size_t kMaxClasses = 2 * 64 + 1;
  uint64_t class_mask4_[kMaxClasses] = {};
  uint64_t class_mask6_[kMaxClasses] = {};
  Prefix4 prefix4_[64];    // IPv4 prefix of each rule (0/0 without one)
  Prefix6 prefix6_[64];    // IPv6 prefix of each rule with one
  // The rules with a prefix of each family, in rule order, for the flat test (at most
  // kFlatPrefixes of a family; with more, the per-candidate loop tests them).
  static constexpr uint32_t kFlatPrefixes = 8;
  struct Flat4 {
    uint32_t addr = 0;
    uint32_t mask = 0;
    uint32_t rule = 0;
  };
  struct Flat6 {
    Ip6 addr;
    Ip6 mask;
    uint32_t rule = 0;
  };
  Flat4 flat4_[kFlatPrefixes];
  Flat6 flat6_[kFlatPrefixes];
  uint32_t np4_ = 0;          // rules with an IPv4 prefix
  uint32_t np6_ = 0;          // rules with an IPv6 prefix
  uint64_t prefixed4_ = 0;    // their bits
  uint64_t prefixed6_ = 0;
  // Per rule, and [64]: the default (no candidate holds; countr_zero(0) is 64).
  uint8_t rg_[65] = {};
  uint8_t default_rg_ = 0;
};

}  // namespace tally
