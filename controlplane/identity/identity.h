#pragma once
// Subscriber identities provisioned from the control plane that knows them (a BNG, an SMF):
// `tallyctl session identify` (docs/charging.md, "Subscriber identity"). This file is the
// model, its validation and its text forms; the poller keeps the table (Poller::identify), the
// IdentityStore (identity_store.h) keeps it on disk in node.state_dir.
//
// DPDK-free, control-plane thread only.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config.h"
#include "shared/counting_plan.h"
#include "shared/net.h"
#include "shared/result.h"

namespace tally {

struct SubscriberIdentity {
  std::string imsi;       // 6-15 digits; empty = absent
  std::string msisdn;     // 1-15 digits
  std::string user_name;  // 1-64 printable ASCII
  std::string imei;       // 14-16 digits (IMEI without / with check digit, IMEISV)
  std::string apn;        // accessPointNameNI; empty = accounting.cdr.apn
  uint8_t cc_profile = 0; // 1, 2, 4, 8; 0 = subscribers.default_cc_profile
  uint8_t qci = 0;        // initial QCI 1-255; 0 = the CC profile's
  bool operator==(const SubscriberIdentity&) const = default;
  bool empty() const { return *this == SubscriberIdentity{}; }
};

// One request: the subscriber (its key: IPv4 address or IPv6 prefix) and its identity, or the
// removal of its identity.
struct IdentityRequest {
  IpAddress key;
  SubscriberIdentity identity;
  bool remove = false;
};

// Checks of single values; "" when fine, else the reason (the value quoted, escaped).
std::string checkImsi(std::string_view v);
std::string checkMsisdn(std::string_view v);
std::string checkImei(std::string_view v);
std::string checkUserName(std::string_view v);
std::string checkApn(std::string_view v);

// The single form's words after "session identify": ADDRESS [--imsi N] [--msisdn N]
// [--user-name S] [--imei N] [--cc-profile N] [--apn S] [--qci N] | ADDRESS --remove.
Result<IdentityRequest> parseIdentityWords(const std::vector<std::string>& words,
                                           const Config& config, const CountingPlan& plan);
// One JSON Lines object of the bulk form (keys address, imsi, msisdn, user_name, imei,
// cc_profile, apn, qci; "remove": true instead of the identity fields).
Result<IdentityRequest> parseIdentityJson(std::string_view line, const Config& config,
                                          const CountingPlan& plan);
// The stored form (one line of the state file, no newline): the bulk form's object with the
// subscriber key as address.
std::string identityJsonLine(const IpAddress& key, const SubscriberIdentity& id);

}  // namespace tally
