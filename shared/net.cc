#include "shared/net.h"

#include <arpa/inet.h>

#include <cstring>

namespace tally {

Ip6 loadIp6(const uint8_t* b) noexcept {
  Ip6 a;
  for (int i = 0; i < 8; ++i) {
    a.hi = (a.hi << 8) | b[i];
    a.lo = (a.lo << 8) | b[8 + i];
  }
  return a;
}

bool IpPrefix::contains(const IpAddress& a) const noexcept {
  if (a.family != addr.family) {
    return false;
  }
  if (a.family == 4) {
    uint32_t mask = len == 0 ? 0 : (~uint32_t{0} << (32 - len));
    return (a.v4 & mask) == addr.v4;
  }
  return maskIp6(a.v6, len) == addr.v6;
}

std::optional<IpAddress> parseIpAddress(std::string_view text) {
  std::string s(text);
  IpAddress a;
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    a.family = 4;
    a.v4 = (uint32_t{buf[0]} << 24) | (uint32_t{buf[1]} << 16) | (uint32_t{buf[2]} << 8) | buf[3];
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    a.family = 6;
    a.v6 = loadIp6(buf);
    return a;
  }
  return std::nullopt;
}

std::optional<IpPrefix> parseIpPrefix(std::string_view text, bool allow_host_bits) {
  auto slash = text.find('/');
  auto addr = parseIpAddress(text.substr(0, slash));
  if (!addr) {
    return std::nullopt;
  }
  unsigned max_len = addr->family == 4 ? 32 : 128;
  unsigned len = max_len;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) {
      return std::nullopt;
    }
    len = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') {
        return std::nullopt;
      }
      len = len * 10 + unsigned(c - '0');
    }
    if (len > max_len) {
      return std::nullopt;
    }
  }
  IpPrefix p;
  p.len = uint8_t(len);
  p.addr = *addr;
  if (addr->family == 4) {
    uint32_t mask = len == 0 ? 0 : (~uint32_t{0} << (32 - len));
    p.addr.v4 &= mask;
  } else {
    p.addr.v6 = maskIp6(addr->v6, len);
  }
  if (!allow_host_bits && !(p.addr == *addr)) {
    return std::nullopt;
  }
  return p;
}

std::string formatIp4(uint32_t v) {
  char out[INET_ADDRSTRLEN];
  unsigned char b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
  inet_ntop(AF_INET, b, out, sizeof out);
  return out;
}

std::string formatIp6(const Ip6& a) {
  unsigned char b[16];
  for (int i = 0; i < 8; ++i) {
    b[i] = uint8_t(a.hi >> (56 - 8 * i));
    b[8 + i] = uint8_t(a.lo >> (56 - 8 * i));
  }
  char out[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, b, out, sizeof out);
  return out;
}

std::string formatIp(const IpAddress& a) {
  return a.family == 4 ? formatIp4(a.v4) : formatIp6(a.v6);
}

std::string formatPrefix(const IpPrefix& p) {
  return formatIp(p.addr) + "/" + std::to_string(p.len);
}

}  // namespace tally
