#pragma once
// The service classes every benchmark uses: 4 rating groups (udp/53 -> 10,
// remote 198.51.100.0/24 -> 20, tcp/443 -> 30, default 1).
#include "shared/config.h"

namespace tally::bench {

inline ServicesConfig benchServices() {
  ServiceRule dns;
  dns.rating_group = 10;
  dns.match.protocol = 17;
  dns.match.remote_port_min = 53;
  dns.match.remote_port_max = 53;
  ServiceRule net;
  net.rating_group = 20;
  net.match.remote_prefix = *parseIpPrefix("198.51.100.0/24");
  ServiceRule https;
  https.rating_group = 30;
  https.match.protocol = 6;
  https.match.remote_port_min = 443;
  https.match.remote_port_max = 443;
  ServicesConfig s;
  s.rules = {dns, net, https};
  s.default_rating_group = 1;
  return s;
}

}  // namespace tally::bench
