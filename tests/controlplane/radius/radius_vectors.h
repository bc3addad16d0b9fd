#pragma once
// The attributes of the Accounting-Request Stop used as a cross-check vector: the same list in
// FreeRADIUS syntax is tests/radius/stop_attrs.txt (what radclient is given). Used by
// radius_codec_test (against a captured radclient datagram) and tests/radius/radius_peer.cc
// (against what radclient sends at test time).
#include <vector>

#include "controlplane/radius/radius_codec.h"

namespace tally::radius {

inline std::vector<Attribute> stopAttributes() {
  std::vector<Attribute> a;
  a.push_back(makeText(attr::kUserName, "alice").value());
  a.push_back(makeInteger(attr::kAcctStatusType, static_cast<uint32_t>(AcctStatusType::kStop)));
  a.push_back(makeText(attr::kAcctSessionId, "0a000001-00000007").value());
  a.push_back(makeIpv4(attr::kNasIpAddress, 0xc000020a));  // 192.0.2.10
  a.push_back(makeText(attr::kNasIdentifier, "tally-gw1").value());
  a.push_back(makeIpv4(attr::kFramedIpAddress, 0x0a000001));
  a.push_back(makeIpv6Prefix(attr::kFramedIpv6Prefix, *parseIpPrefix("2001:db8:1:2::/64")).value());
  a.push_back(makeText(attr::kCallingStationId, "46000123456789").value());
  appendInputOctets(a, 5000000000ull);  // 705032704 + 1 gigaword
  appendOutputOctets(a, 1234567);
  a.push_back(makeInteger(attr::kAcctInputPackets, 10));
  a.push_back(makeInteger(attr::kAcctOutputPackets, 20));
  a.push_back(makeInteger(attr::kAcctSessionTime, 3600));
  a.push_back(makeInteger(attr::kAcctTerminateCause,
                          static_cast<uint32_t>(AcctTerminateCause::kIdleTimeout)));
  a.push_back(makeInteger(attr::kEventTimestamp, 1796000000));
  a.push_back(makeInteger(attr::kAcctDelayTime, 0));
  a.push_back(make3gppImsi("001010123456789").value());
  a.push_back(make3gppChargingCharacteristics(0x0800));
  return a;
}

}  // namespace tally::radius
