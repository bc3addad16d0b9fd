#pragma once
// A valid Config built in code for unit tests (no YAML involved).
#include "shared/config.h"

namespace tally::testing {

inline Config testConfig() {
  Config c;
  c.source = "test";
  c.node.address = *parseIpAddress("192.0.2.1");
  // No state directory: a test that opens a Biller must give it one of its own (never the
  // default /var/lib/tally, never one shared with another test); Biller::open refuses "".
  c.node.state_dir = "";
  c.dataplane.ports = {PortConfig{"p0", PortRole::kAccess, std::nullopt}};
  c.dataplane.workers = 1;
  c.dataplane.max_sessions = 1000;
  c.subscribers.pools = {*parseIpPrefix("10.0.0.0/16"), *parseIpPrefix("2001:db8::/32")};
  c.subscribers.ipv6_prefix_length = 64;
  c.subscribers.idle_timeout_s = 300;
  ServiceRule dns;
  dns.rating_group = 10;
  dns.match.protocol = 17;
  dns.match.remote_port_min = 53;
  dns.match.remote_port_max = 53;
  ServiceRule cdn;
  cdn.rating_group = 20;
  cdn.match.remote_prefix = *parseIpPrefix("198.51.100.0/24");
  c.services.rules = {dns, cdn};
  c.services.default_rating_group = 1;
  return c;
}

}  // namespace tally::testing
