#include "shared/counting_plan.h"

#include <algorithm>

namespace tally {

CountingPlan CountingPlan::fromConfig(const Config& config) {
  CountingPlan plan;
  for (const IpPrefix& p : config.subscribers.pools) {
    if (p.addr.family == 4) {
      Pool4 pool;
      pool.mask = p.len == 0 ? 0 : (~uint32_t{0} << (32 - p.len));
      pool.base = p.addr.v4;
      pool.first_offset = uint32_t(plan.v4_addresses);
      plan.v4_addresses += uint64_t{1} << (32 - p.len);
      plan.pools4.push_back(pool);
    } else {
      plan.pools6.push_back(p);
    }
  }
  plan.ipv6_prefix_length = config.subscribers.ipv6_prefix_length;
  auto rgIndex = [&plan](uint32_t rg) {
    auto it = std::find(plan.rating_groups.begin(), plan.rating_groups.end(), rg);
    if (it != plan.rating_groups.end()) {
      return uint8_t(it - plan.rating_groups.begin());
    }
    plan.rating_groups.push_back(rg);
    return uint8_t(plan.rating_groups.size() - 1);
  };
  plan.default_rg_index = rgIndex(config.services.default_rating_group);
  for (const ServiceRule& r : config.services.rules) {
    Rule rule;
    rule.rg_index = rgIndex(r.rating_group);
    if (r.match.protocol) {
      rule.has_protocol = true;
      rule.protocol = *r.match.protocol;
    }
    if (r.match.remote_prefix) {
      rule.prefix = *r.match.remote_prefix;
      rule.prefix_family = rule.prefix.addr.family;
      if (rule.prefix_family == 4) {
        rule.addr4 = rule.prefix.addr.v4;
        rule.mask4 = rule.prefix.len == 0 ? 0 : (~uint32_t{0} << (32 - rule.prefix.len));
      }
    }
    if (r.match.remote_port_min) {
      rule.has_ports = true;
      rule.port_min = *r.match.remote_port_min;
      rule.port_max = r.match.remote_port_max.value_or(rule.port_min);
    }
    plan.rules.push_back(rule);
  }
  plan.geometry.slots = slotCapacity(config.dataplane.max_sessions);
  plan.geometry.rating_groups = uint32_t(plan.rating_groups.size());
  return plan;
}

IpAddress CountingPlan::keyOf(const IpAddress& a) const {
  IpAddress k = a;
  if (a.family == 6) {
    k.v6 = maskIp6(a.v6, ipv6_prefix_length);
  }
  return k;
}

bool CountingPlan::inPool(const IpAddress& a) const {
  return a.family == 4 ? offset4(a.v4) != kNoOffset : inPool6(a.v6);
}

}  // namespace tally
