// The subscribers section: pools, IPv6 prefix length, learning, idle timeout, static
// subscribers (the part a large file is made of).
#include <functional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "shared/config/loader.h"

namespace tally::config_loader {
namespace {

constexpr uint64_t kMaxIpv4PoolAddresses = uint64_t{1} << 24;

bool overlaps(const IpPrefix& a, const IpPrefix& b) {
  if (a.addr.family != b.addr.family) {
    return false;
  }
  return a.len <= b.len ? a.contains(b.addr) : b.contains(a.addr);
}

}  // namespace

std::vector<Field> Loader::loadPools(const Field& f, SubscribersConfig& out) const {
  static const std::string kAllowed = "not an IPv4/IPv6 prefix (e.g. 10.0.0.0/8)";
  std::vector<Field> items = readList(f, "prefixes (e.g. [10.0.0.0/8, \"2001:db8::/32\"])");
  if (items.empty()) {
    failValue(f, "no pools: at least one prefix is required (e.g. 10.0.0.0/8)");
  }
  uint64_t v4_total = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const Field& item = items[i];
    std::string text = scalar(item, kAllowed);
    std::optional<IpPrefix> p;
    if (text.find('/') != std::string::npos) {
      p = parseIpPrefix(text, /*allow_host_bits=*/true);
    }
    if (!p) {
      failValue(item, kAllowed);
    }
    if (!parseIpPrefix(text)) {
      failValue(item, "host bits set: the prefix is " + formatPrefix(*p));
    }
    if (p->addr.family == 4 && (p->len < 8 || p->len > 32)) {
      failValue(item, "prefix length out of range: allowed /8-/32 for IPv4 pools");
    }
    if (p->addr.family == 6 && (p->len < 16 || p->len > 128)) {
      failValue(item, "prefix length out of range: allowed /16-/128 for IPv6 pools");
    }
    for (size_t j = 0; j < out.pools.size(); ++j) {
      if (overlaps(out.pools[j], *p)) {
        failValue(item, "overlaps " + items[j].path + " (" + formatPrefix(out.pools[j]) +
                            "): pools must not overlap");
      }
    }
    if (p->addr.family == 4) {
      v4_total += uint64_t{1} << (32 - p->len);
      if (v4_total > kMaxIpv4PoolAddresses) {
        failValue(item, "IPv4 pools too large: together " + std::to_string(v4_total) +
                            " addresses, allowed at most 16777216 (2^24, one /8)");
      }
    }
    out.pools.push_back(*p);
  }
  return items;
}

void Loader::loadSubscribers(const Field& f, SubscribersConfig& out) const {
  Fields m = readMap(
      f, {"pools", "ipv6_prefix_length", "learn", "idle_timeout", "default_cc_profile", "static",
          "unknown_identity"});
  auto pools = m.find("pools");
  if (pools == m.end()) {
    failMissing(f, "pools");
  }
  std::vector<Field> pool_fields = loadPools(pools->second, out);
  unsigned longest_v6 = 0;
  size_t longest_index = 0;
  for (size_t i = 0; i < out.pools.size(); ++i) {
    if (out.pools[i].addr.family == 6 && out.pools[i].len > longest_v6) {
      longest_v6 = out.pools[i].len;
      longest_index = i;
    }
  }
  if (auto it = m.find("ipv6_prefix_length"); it != m.end()) {
    out.ipv6_prefix_length = uint8_t(integerIn(it->second, 32, 128));
    if (out.ipv6_prefix_length < longest_v6) {
      failValue(it->second, "out of range: allowed " + std::to_string(longest_v6) +
                                "-128 (not shorter than IPv6 pool " +
                                formatPrefix(out.pools[longest_index]) + ")");
    }
  } else if (longest_v6 > out.ipv6_prefix_length) {
    failValue(pool_fields[longest_index],
              "prefix length out of range: IPv6 pools may be at most /" +
                  std::to_string(out.ipv6_prefix_length) +
                  " (subscribers.ipv6_prefix_length, default 64); raise ipv6_prefix_length");
  }
  if (auto it = m.find("learn"); it != m.end()) {
    out.learn = boolean(it->second);
  }
  if (auto it = m.find("idle_timeout"); it != m.end()) {
    out.idle_timeout_s =
        uint32_t(zeroOrIn(it->second, 10, 86400, "allowed 0 (never) or 10-86400 seconds"));
  }
  if (auto it = m.find("default_cc_profile"); it != m.end()) {
    out.default_cc_profile = ccProfile(it->second);
  }
  if (auto it = m.find("static"); it != m.end()) {
    loadStatics(it->second, out);
  }
  if (auto it = m.find("unknown_identity"); it != m.end()) {
    out.unknown_identity = oneOf(it->second, {"address", "hold"}) == "hold"
                               ? SubscribersConfig::UnknownIdentity::kHold
                               : SubscribersConfig::UnknownIdentity::kAddress;
  }
}

void Loader::loadStatics(const Field& f, SubscribersConfig& out) const {
  // The subscriber key (IPv4 address, or IPv6 prefix) -> index of the first entry with it.
  struct KeyHash {
    size_t operator()(const std::tuple<uint8_t, uint64_t, uint64_t>& k) const {
      auto [family, hi, lo] = k;
      return std::hash<uint64_t>()(hi * 0x9e3779b97f4a7c15ULL ^ lo ^ family);
    }
  };
  std::unordered_map<std::tuple<uint8_t, uint64_t, uint64_t>, size_t, KeyHash> seen;
  const size_t count = listSize(f, "static subscribers");
  seen.reserve(count);
  out.statics.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const Field item = listItem(f, i);
    Fields s = readMap(item, {"address", "imsi", "msisdn", "user_name", "cc_profile"});
    StaticSubscriber sub;
    sub.line = lines_.line(item.mark);
    auto address = s.find("address");
    if (address == s.end()) {
      failMissing(item, "address");
    }
    static const std::string kAllowed = "not an IPv4/IPv6 address (e.g. 10.0.0.1)";
    const IpAddress a = ipAddress(address->second, kAllowed);
    sub.address = a;
    bool in_pool = false;
    for (const IpPrefix& p : out.pools) {
      in_pool = in_pool || p.contains(a);
    }
    if (!in_pool) {
      std::string pool_list;
      for (const IpPrefix& p : out.pools) {
        pool_list += (pool_list.empty() ? "" : ", ") + formatPrefix(p);
      }
      failValue(address->second, "not inside any subscribers.pools prefix: " + pool_list);
    }
    std::tuple<uint8_t, uint64_t, uint64_t> key{4, a.v4, 0};
    if (a.family == 6) {
      Ip6 k = maskIp6(a.v6, out.ipv6_prefix_length);
      key = {6, k.hi, k.lo};
    }
    if (auto prev = seen.find(key); prev != seen.end()) {
      std::string what = a.family == 4
                             ? "same address as "
                             : "same /" + std::to_string(out.ipv6_prefix_length) + " prefix as ";
      failValue(address->second, "duplicate static subscriber: " + what +
                                     indexPath(f.path, prev->second) +
                                     " (line " + std::to_string(out.statics[prev->second].line) +
                                     ")");
    }
    seen.emplace(key, i);
    if (auto it = s.find("imsi"); it != s.end()) {
      sub.imsi = digits(it->second, 5, 15);
    }
    if (auto it = s.find("msisdn"); it != s.end()) {
      sub.msisdn = digits(it->second, 1, 15);
    }
    if (auto it = s.find("user_name"); it != s.end()) {
      static const std::string kNameAllowed = "must be 1-64 printable ASCII characters";
      sub.user_name = scalar(it->second, kNameAllowed);
      bool ok = !sub.user_name.empty() && sub.user_name.size() <= 64;
      for (char c : sub.user_name) {
        ok = ok && c >= 0x20 && c <= 0x7e;
      }
      if (!ok) {
        failValue(it->second, kNameAllowed);
      }
    }
    if (auto it = s.find("cc_profile"); it != s.end()) {
      sub.cc_profile = ccProfile(it->second);
    }
    out.statics.push_back(std::move(sub));
  }
}

}  // namespace tally::config_loader
