#include "dataplane/classifier.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace tally {

namespace {
Ip6 prefixMask6(unsigned len) { return maskIp6(Ip6{~uint64_t{0}, ~uint64_t{0}}, len); }
}  // namespace

Classifier::Classifier(const CountingPlan& plan)
    : default_rg_(plan.default_rg_index) {
  const size_t n = plan.rules.size();
  if (n > 64) {
    // The config allows at most 64 rules (kMaxServiceRules in shared/config.cc).
    std::fprintf(stderr, "tally: %zu service rules: at most 64 can be classified\n", n);
    std::abort();
  }
  // Port classes: the intervals between the rules' bounds (port_min, port_max + 1).
  std::vector<uint32_t> bounds = {0, 65536};
  for (const CountingPlan::Rule& r : plan.rules) {
    if (r.has_ports) {
      bounds.push_back(r.port_min);
      bounds.push_back(uint32_t{r.port_max} + 1);
    }
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  const size_t classes = bounds.size() - 1;  // <= 2 * 64 + 1: fits in a uint8_t
  for (size_t c = 0; c < classes; ++c) {
    for (uint32_t port = bounds[c]; port < bounds[c + 1]; ++port) {
      port_class_[port] = uint8_t(c);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const CountingPlan::Rule& r = plan.rules[i];
    const uint64_t bit = uint64_t{1} << i;
    rg_[i] = r.rg_index;
    for (unsigned proto = 0; proto < 256; ++proto) {
      if (!r.has_protocol || r.protocol == proto) {
        proto_ports_[proto | 1u << 8] |= bit;  // has_ports
        if (!r.has_ports) {
          proto_ports_[proto] |= bit;
        }
      }
    }
    for (size_t c = 0; c < classes; ++c) {
      // A class lies wholly inside or outside every rule's range (its bounds are bounds).
      if (!r.has_ports || (bounds[c] >= r.port_min && bounds[c] <= r.port_max)) {
        if (r.prefix_family != 6) {
          class_mask4_[c] |= bit;
        }
        if (r.prefix_family != 4) {
          class_mask6_[c] |= bit;
        }
      }
    }
    if (r.prefix_family == 4) {
      prefix4_[i] = Prefix4{r.addr4, r.mask4};
      if (np4_ < kFlatPrefixes) {
        flat4_[np4_] = Flat4{r.addr4, r.mask4, uint32_t(i)};
      }
      ++np4_;
      prefixed4_ |= bit;
    }
    if (r.prefix_family == 6) {
      prefix6_[i] = Prefix6{r.prefix.addr.v6, prefixMask6(r.prefix.len)};
      if (np6_ < kFlatPrefixes) {
        flat6_[np6_] = Flat6{prefix6_[i].addr, prefix6_[i].mask, uint32_t(i)};
      }
      ++np6_;
      prefixed6_ |= bit;
    }
  }
  rg_[64] = default_rg_;
}

}  // namespace tally
