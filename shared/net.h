#pragma once
// IP addresses and prefixes, host byte order, shared by data plane and control plane.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tally {

// IPv6 address as two host-order 64-bit halves: hi holds bytes 0..7, lo bytes 8..15.
struct Ip6 {
  uint64_t hi = 0;
  uint64_t lo = 0;
  bool operator==(const Ip6&) const = default;
};

// Keep only the first `len` bits (0..128). Inline: the fast path masks every IPv6 address.
inline Ip6 maskIp6(Ip6 a, unsigned len) noexcept {
  if (len >= 128) {
    return a;
  }
  if (len >= 64) {
    unsigned rest = len - 64;
    a.lo = rest == 0 ? 0 : (a.lo & (~uint64_t{0} << (64 - rest)));
    return a;
  }
  a.lo = 0;
  a.hi = len == 0 ? 0 : (a.hi & (~uint64_t{0} << (64 - len)));
  return a;
}
Ip6 loadIp6(const uint8_t* network_order_bytes) noexcept;

struct IpAddress {
  uint8_t family = 0;  // 4 or 6; 0 = unset
  uint32_t v4 = 0;     // host order, when family == 4
  Ip6 v6;              // when family == 6
  bool operator==(const IpAddress&) const = default;
};

struct IpPrefix {
  IpAddress addr;  // already masked to len
  uint8_t len = 0;
  bool contains(const IpAddress& a) const noexcept;
  bool operator==(const IpPrefix&) const = default;
};

std::optional<IpAddress> parseIpAddress(std::string_view text);
// "10.0.0.0/8", "2001:db8::/32"; a bare address means a host prefix. Host bits must be zero
// unless allow_host_bits (then they are masked off).
std::optional<IpPrefix> parseIpPrefix(std::string_view text, bool allow_host_bits = false);
std::string formatIp(const IpAddress& a);
std::string formatIp4(uint32_t host_order);
std::string formatIp6(const Ip6& a);
std::string formatPrefix(const IpPrefix& p);

}  // namespace tally
