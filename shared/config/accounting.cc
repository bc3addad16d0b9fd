// The accounting section: CC profiles, CDR output, RADIUS accounting and its failure
// handling (start_fail, interim_fail).
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shared/config/loader.h"

namespace tally::config_loader {
namespace {

constexpr uint64_t kMinVolumeOctets = 100000;
constexpr uint64_t kMaxVolumeOctets = 4000000000;
constexpr size_t kMaxTariffTimes = 4;
constexpr size_t kMaxRadiusServers = 8;

}  // namespace

bool Loader::loadAccounting(const Field& f, AccountingConfig& out) const {
  Fields m = readMap(f, {"policy", "start_fail", "interim_fail", "radius", "cdr"});
  if (auto it = m.find("policy"); it != m.end()) {
    Fields policy = readMap(it->second, {"cc_profiles"});
    if (auto p = policy.find("cc_profiles"); p != policy.end()) {
      loadCcProfiles(p->second, out);
    }
  }
  if (auto it = m.find("cdr"); it != m.end()) {
    loadCdr(it->second, out.cdr);
  }
  // RADIUS accounting (semantics.md §4). Returns whether start_fail/interim_fail are given
  // without radius (they have no effect then: a warning).
  bool fail_keys = false;
  if (auto it = m.find("start_fail"); it != m.end()) {
    out.start_fail = oneOf(it->second, {"offline", "online"}) == "online"
                         ? RadiusFailAction::kOnline
                         : RadiusFailAction::kOffline;
    fail_keys = true;
  }
  if (auto it = m.find("interim_fail"); it != m.end()) {
    out.interim_fail = loadInterimFail(it->second);
    fail_keys = true;
  }
  if (auto it = m.find("radius"); it != m.end()) {
    out.radius = loadRadius(it->second);
  }
  return fail_keys && !out.radius;
}

void Loader::loadCcProfiles(const Field& f, AccountingConfig& out) const {
  std::vector<Field> items = readList(f, "CC profiles (each a mapping with index: 1, 2, 4 or 8)");
  std::map<uint8_t, size_t> seen;  // index -> position in items
  for (size_t i = 0; i < items.size(); ++i) {
    const Field& item = items[i];
    Fields m = readMap(item, {"index", "buckets", "interval", "interval_min_volume", "sdf_interval",
                              "sdf_volume", "serving_nodes", "tariff", "volume",
                              "max_service_containers", "qci", "arp"});
    auto index = m.find("index");
    if (index == m.end()) {
      failMissing(item, "index");
    }
    uint8_t n = ccProfile(index->second);
    if (auto prev = seen.find(n); prev != seen.end()) {
      failValue(index->second, "duplicate profile index: already listed at " +
                                   items[prev->second].path + " (line " +
                                   std::to_string(lines_.line(items[prev->second].mark)) + ")");
    }
    seen.emplace(n, i);
    CcProfile profile = loadCcProfile(item, m, n);
    for (CcProfile& slot : out.cc_profiles) {
      if (slot.index == n) {
        slot = std::move(profile);
      }
    }
  }
}

CcProfile Loader::loadCcProfile(const Field& f, const Fields& m, uint8_t index) const {
  // Starts from the defaults: a key not given keeps its default (the seed's "no cc profile N
  // key"), a profile with nothing but its index is the seed's "default cc profile N".
  CcProfile p;
  p.index = index;
  p.line = lines_.line(f.mark);
  if (auto it = m.find("buckets"); it != m.end()) {
    p.buckets = uint32_t(integerIn(it->second, 1, 20));
  }
  if (auto it = m.find("interval"); it != m.end()) {
    p.interval_s = uint32_t(integerIn(it->second, 60, 40000000));
  }
  if (auto it = m.find("interval_min_volume"); it != m.end()) {
    p.interval_min_volume = integerIn(it->second, 0, kMaxVolumeOctets);
    if (!p.interval_s) {
      failValue(it->second, "only allowed together with " + childPath(f.path, "interval") +
                                ": the minimum volume applies to the interval trigger");
    }
  }
  if (auto it = m.find("sdf_interval"); it != m.end()) {
    p.sdf_interval_s = uint32_t(integerIn(it->second, 60, 40000000));
  }
  if (auto it = m.find("sdf_volume"); it != m.end()) {
    p.sdf_volume = loadVolume(it->second);
  }
  if (auto it = m.find("serving_nodes"); it != m.end()) {
    p.serving_nodes = uint32_t(integerIn(it->second, 1, 15));
  }
  if (auto it = m.find("tariff"); it != m.end()) {
    p.tariff = loadTariff(it->second);
  }
  if (auto it = m.find("volume"); it != m.end()) {
    p.volume = loadVolume(it->second);
  }
  // tally extensions (docs/charging.md): the service-container limit and the initial QoS.
  if (auto it = m.find("max_service_containers"); it != m.end()) {
    p.max_service_containers = uint32_t(integerIn(it->second, 1, 255));
  }
  if (auto it = m.find("qci"); it != m.end()) {
    p.qci = uint8_t(integerIn(it->second, 1, 255));
  }
  if (auto it = m.find("arp"); it != m.end()) {
    p.arp = loadArp(it->second);
  }
  return p;
}

ArpConfig Loader::loadArp(const Field& f) const {
  // Each key optional: one left out keeps its default (TS 29.212 names and values).
  Fields m = readMap(f, {"priority_level", "pre_emption_capability", "pre_emption_vulnerability"});
  ArpConfig a;
  if (auto it = m.find("priority_level"); it != m.end()) {
    a.priority_level = uint8_t(integerIn(it->second, 1, 15));
  }
  if (auto it = m.find("pre_emption_capability"); it != m.end()) {
    a.capability_enabled = oneOf(it->second, {"enabled", "disabled"}) == "enabled";
  }
  if (auto it = m.find("pre_emption_vulnerability"); it != m.end()) {
    a.vulnerability_enabled = oneOf(it->second, {"enabled", "disabled"}) == "enabled";
  }
  return a;
}

VolumeLimit Loader::loadVolume(const Field& f) const {
  Fields m = readMap(f, {"total", "uplink", "downlink"});
  if (m.empty()) {
    failValue(f,
              "no limit: give {total: N} or {uplink: N, downlink: N} (one or both), or omit "
              "the key to disable it");
  }
  VolumeLimit v;
  auto octets = [&](std::string_view key, std::optional<uint64_t>& out) {
    if (auto it = m.find(key); it != m.end()) {
      out = integerIn(it->second, kMinVolumeOctets, kMaxVolumeOctets);
    }
  };
  octets("total", v.total);
  octets("uplink", v.uplink);
  octets("downlink", v.downlink);
  if (v.total && (v.uplink || v.downlink)) {
    std::string others;
    for (std::string_view key : {"uplink", "downlink"}) {
      if (m.count(key) != 0) {
        others += (others.empty() ? "" : " and ") + childPath(f.path, key);
      }
    }
    failValue(m.find("total")->second,
              "exclusive with " + others + ": give either total, or uplink and/or downlink");
  }
  return v;
}

std::vector<TariffTime> Loader::loadTariff(const Field& f) const {
  static const std::string kAllowed =
      "must be \"hh:mm\" with two digits each, 00:00-23:59 (e.g. \"07:00\")";
  std::vector<Field> items = readList(f, "times of day (\"hh:mm\", at most 4)");
  std::vector<TariffTime> out;
  for (size_t i = 0; i < items.size(); ++i) {
    const Field& item = items[i];
    if (i == kMaxTariffTimes) {
      failValue(item, "too many tariff times: allowed at most " + std::to_string(kMaxTariffTimes));
    }
    std::string text = scalar(item, kAllowed);
    if (text.size() != 5 || text[2] != ':' || !isDigits(std::string_view(text).substr(0, 2)) ||
        !isDigits(std::string_view(text).substr(3, 2))) {
      failValue(item, "not a time of day: " + kAllowed);
    }
    TariffTime t;
    int hour = (text[0] - '0') * 10 + (text[1] - '0');
    int minute = (text[3] - '0') * 10 + (text[4] - '0');
    if (hour > 23 || minute > 59) {
      failValue(item, "out of range: " + kAllowed);
    }
    t.hour = uint8_t(hour);
    t.minute = uint8_t(minute);
    for (size_t j = 0; j < out.size(); ++j) {
      if (out[j] == t) {
        failValue(item, "duplicate tariff time: same as " + items[j].path + " (line " +
                            std::to_string(lines_.line(items[j].mark)) + ", column " +
                            std::to_string(lines_.column(items[j].mark)) + ")");
      }
    }
    out.push_back(t);
  }
  std::sort(out.begin(), out.end(), [](const TariffTime& a, const TariffTime& b) {
    return a.hour != b.hour ? a.hour < b.hour : a.minute < b.minute;
  });
  return out;
}

void Loader::loadCdr(const Field& f, CdrConfig& out) const {
  Fields m = readMap(f, {"format", "file_max_records", "file_max_age", "file_max_bytes", "apn",
                         "apn_selection_mode"});
  if (auto it = m.find("apn_selection_mode"); it != m.end()) {
    std::string v = oneOf(it->second, {"mSorNetworkProvidedSubscriptionVerified",
                                       "mSProvidedSubscriptionNotVerified",
                                       "networkProvidedSubscriptionNotVerified"});
    out.apn_selection_mode = v == "mSorNetworkProvidedSubscriptionVerified" ? 0
                             : v == "mSProvidedSubscriptionNotVerified"     ? 1
                                                                            : 2;
  }
  if (auto it = m.find("format"); it != m.end()) {
    out.format = oneOf(it->second, {"3gpp", "csv"}) == "csv" ? CdrFormat::kCsv : CdrFormat::k3gpp;
  }
  if (auto it = m.find("file_max_records"); it != m.end()) {
    out.file_max_records = uint32_t(integerIn(it->second, 1, 65535));
  }
  if (auto it = m.find("file_max_age"); it != m.end()) {
    out.file_max_age_s = uint32_t(integerIn(it->second, 1, 86400));
  }
  if (auto it = m.find("file_max_bytes"); it != m.end()) {
    out.file_max_bytes = uint32_t(integerIn(it->second, 4096, 104857600));
  }
  if (auto it = m.find("apn"); it != m.end()) {
    static const std::string kAllowed =
        "must be 1-63 characters of A-Z a-z 0-9 . -, labels separated by single dots (e.g. "
        "internet or apn.example)";
    std::string apn = scalar(it->second, kAllowed);
    bool ok = !apn.empty() && apn.size() <= 63 && apn.front() != '.' && apn.back() != '.' &&
              apn.find("..") == std::string::npos;
    for (char c : apn) {
      ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-');
    }
    if (!ok) {
      failValue(it->second, kAllowed);
    }
    out.apn = apn;
  }
}

InterimFailConfig Loader::loadInterimFail(const Field& f) const {
  InterimFailConfig out;
  Fields m = readMap(f, {"max_times", "action"});
  if (auto it = m.find("max_times"); it != m.end()) {
    out.max_times = uint32_t(integerIn(it->second, 1, 255));
  }
  if (auto it = m.find("action"); it != m.end()) {
    out.action = oneOf(it->second, {"online", "offline"}) == "online" ? RadiusFailAction::kOnline
                                                                       : RadiusFailAction::kOffline;
  }
  return out;
}

RadiusConfig Loader::loadRadius(const Field& f) const {
  RadiusConfig out;
  Fields m = readMap(f, {"servers", "timeout_ms", "retries", "interim_interval", "hold_down_ms"});
  auto servers = m.find("servers");
  if (servers == m.end()) {
    failMissing(f, "servers");
  }
  std::string servers_allowed = "allowed 1-" + std::to_string(kMaxRadiusServers) + " servers";
  std::vector<Field> items =
      readList(servers->second, "servers ({address, port, secret_file}): " + servers_allowed);
  if (items.empty()) {
    failValue(servers->second, "no servers: " + servers_allowed);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const Field& item = items[i];
    if (i == kMaxRadiusServers) {
      fail(item.mark, item.path, "", "too many servers: " + servers_allowed);
    }
    Fields s = readMap(item, {"address", "port", "secret_file", "status_server"});
    RadiusServerConfig server;
    auto address = s.find("address");
    if (address == s.end()) {
      failMissing(item, "address");
    }
    server.address =
        ipAddress(address->second, "not an IPv4/IPv6 address (e.g. 192.0.2.10)");
    if (auto it = s.find("port"); it != s.end()) {
      server.port = uint16_t(integerIn(it->second, 1, 65535));
    }
    auto secret = s.find("secret_file");
    if (secret == s.end()) {
      failMissing(item, "secret_file");
    }
    server.secret_file =
        filePath(secret->second, "must be a file path of 1-4095 bytes (the file holds the secret)");
    if (auto it = s.find("status_server"); it != s.end()) {
      server.status_server = boolean(it->second);
    }
    out.servers.push_back(std::move(server));
  }
  if (auto it = m.find("timeout_ms"); it != m.end()) {
    out.timeout_ms = uint32_t(integerIn(it->second, 100, 60000));
  }
  if (auto it = m.find("retries"); it != m.end()) {
    out.retries = uint32_t(integerIn(it->second, 0, 10));
  }
  if (auto it = m.find("hold_down_ms"); it != m.end()) {
    out.hold_down_ms = uint32_t(integerIn(it->second, 1000, 3600000));
  }
  if (auto it = m.find("interim_interval"); it != m.end()) {
    out.interim_interval_s = uint32_t(zeroOrIn(
        it->second, 60, 86400, "allowed 0 (no interim updates) or 60-86400 seconds"));
  }
  return out;
}

}  // namespace tally::config_loader
