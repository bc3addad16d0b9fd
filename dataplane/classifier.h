#pragma once
// First-match classification of a packet side into a rating-group index, precompiled from the
// plan's service rules: the same result as classify() (fastpath.h), which walks the rules one by
// one, in a handful of table lookups (docs/performance.md).
//
// Every rule is a bit (rule i = bit i; at most 64 rules, kMaxServiceRules). The candidates of a
// packet side are the rules whose protocol condition (a 256-entry table) and remote-port
// condition (the port's class: intervals between the rules' port bounds, a 64 K-entry table of
// class numbers) hold, and whose prefix family fits. The lowest candidate wins, unless it has a
// remote prefix that does not contain the remote address: then the next one is tried.
//
// Built once by the worker's FastPath (allocation happens here, never per packet); read by that
// worker only. noexcept, no allocation after construction.
#include <bit>
#include <cstdint>
#include <memory>

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
    uint64_t m = proto_[p.protocol];
    m &= p.has_ports ? class_mask_[port_class_[uplink ? p.dst_port : p.src_port]] : no_ports_;
    m &= p.family == 4 ? fits4_ : fits6_;
    while (m != 0) {
      const unsigned r = unsigned(std::countr_zero(m));
      if ((prefixed_ >> r & 1) == 0 || prefixHolds(r, p, uplink)) {
        return rg_[r];
      }
      m &= m - 1;
    }
    return default_rg_;
  }

 private:
  bool prefixHolds(unsigned r, const ParsedPacket& p, bool uplink) const noexcept {
    const Prefix& x = prefix_[r];
    if (p.family == 4) {
      return ((uplink ? p.dst4 : p.src4) & x.mask4) == x.addr4;
    }
    const Ip6& a = uplink ? p.dst6 : p.src6;
    return (a.hi & x.mask6.hi) == x.addr6.hi && (a.lo & x.mask6.lo) == x.addr6.lo;
  }

  struct Prefix {
    uint32_t addr4 = 0;
    uint32_t mask4 = 0;
    Ip6 addr6;
    Ip6 mask6;
  };
  uint64_t proto_[256] = {};       // rules whose protocol condition holds for this protocol
  std::unique_ptr<uint8_t[]> port_class_;  // 65536 entries: the class of a remote port
  std::unique_ptr<uint64_t[]> class_mask_;  // per class: rules whose port condition holds
  uint64_t no_ports_ = 0;  // rules without a port condition (a packet without ports)
  uint64_t fits4_ = 0;     // rules without a prefix or with an IPv4 one
  uint64_t fits6_ = 0;     // rules without a prefix or with an IPv6 one
  uint64_t prefixed_ = 0;  // rules with a prefix condition
  Prefix prefix_[64];
  uint8_t rg_[64] = {};
  uint8_t default_rg_ = 0;
};

}  // namespace tally
