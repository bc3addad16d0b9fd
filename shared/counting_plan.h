#pragma once
// What the data plane counts and how, derived once from the config: subscriber pools (the IPv4
// index layout), the IPv6 key length, the service rules (rating groups) and the counter slab's
// geometry. Built by the control plane at start, read by every worker and by the poller, never
// written after start (so it needs no synchronisation). DPDK-free; the fast path classifies
// packets against it (dataplane/fastpath.h, classify()).
#include <cstdint>
#include <vector>

#include "shared/config.h"
#include "shared/counters.h"
#include "shared/net.h"

namespace tally {

// Read-only description of pools and service rules, built once from the config and shared by
// all workers (never written after start).
struct CountingPlan {
  static constexpr uint32_t kNoOffset = UINT32_MAX;  // offset4(): the address is in no pool
  struct Pool4 {
    uint32_t base = 0;
    uint32_t mask = 0;
    uint32_t first_offset = 0;  // offset of `base` in the worker's IPv4 index
  };
  struct Rule {
    bool has_protocol = false;
    uint8_t protocol = 0;
    uint8_t prefix_family = 0;  // 0 = no prefix condition
    uint32_t addr4 = 0;         // IPv4 prefix, and its mask (precomputed)
    uint32_t mask4 = 0;
    IpPrefix prefix;
    bool has_ports = false;
    uint16_t port_min = 0;
    uint16_t port_max = 0;
    uint8_t rg_index = 0;
  };

  std::vector<Pool4> pools4;
  uint64_t v4_addresses = 0;  // addresses in all IPv4 pools: the size of the IPv4 index
  std::vector<IpPrefix> pools6;
  uint8_t ipv6_prefix_length = 64;
  std::vector<Rule> rules;
  std::vector<uint32_t> rating_groups;  // rg_index -> rating group id
  uint8_t default_rg_index = 0;
  SlabGeometry geometry;

  static CountingPlan fromConfig(const Config& config);

  // Subscriber key of an address (IPv4 unchanged, IPv6 masked to ipv6_prefix_length).
  IpAddress keyOf(const IpAddress& a) const;
  bool inPool(const IpAddress& a) const;
  // Offset of an IPv4 pool address in the worker's IPv4 index (pools in config order), or
  // kNoOffset when the address is in no pool.
  uint32_t offset4(uint32_t addr) const noexcept {
    for (const Pool4& p : pools4) {
      if ((addr & p.mask) == p.base) {
        return p.first_offset + (addr - p.base);
      }
    }
    return kNoOffset;
  }
  bool inPool6(const Ip6& a) const noexcept {
    for (const IpPrefix& p : pools6) {
      if (maskIp6(a, p.len) == p.addr.v6) {
        return true;
      }
    }
    return false;
  }
};

}  // namespace tally
