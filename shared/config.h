#pragma once
// The validated configuration model (see docs/config.md). Loaded from YAML by loadConfig();
// a bad file yields a ConfigError naming file:line:column, the key, the value and the allowed
// range, and no Config at all (nothing of a bad file is ever applied).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shared/net.h"

namespace tally {

struct NodeConfig {
  std::string id = "tally";        // nodeID in CDRs; 1-20 chars [A-Za-z0-9_.-]
  IpAddress address;               // this gateway; required
  std::string timezone = "UTC";    // IANA name, must exist under /usr/share/zoneinfo (or "UTC")
};

enum class PortRole : uint8_t { kAccess, kCore };

struct PortConfig {
  std::string name;                        // DPDK device name (vdev name or PCI address)
  PortRole role = PortRole::kAccess;
  std::optional<std::string> forward_to;   // must name another configured port
};

struct DataplaneConfig {
  std::vector<std::string> eal;            // EAL arguments
  std::vector<PortConfig> ports;           // 1..kMaxPorts, names unique
  uint32_t workers = 1;                    // 1..kMaxWorkers
  uint32_t max_sessions = 262144;          // 1..16777216
  uint32_t poll_interval_ms = 100;         // 10..10000
  uint32_t burst_size = 32;                // 1..256 (tally extension)
  uint32_t mbufs = 0;                      // 0 = sized automatically, else 1024..16777216
                                           // (tally extension; net_pcap infinite_rx keeps the
                                           // whole trace in mbufs)
};

struct StaticSubscriber {
  IpAddress address;          // IPv4 address or any IPv6 address of the subscriber's prefix
  std::string imsi;           // optional, 5..15 digits
  std::string msisdn;         // optional, 1..15 digits
  std::string user_name;      // optional, 1..64 chars
  uint8_t cc_profile = 0;     // 0 = subscribers.default_cc_profile; else 1, 2, 4 or 8
  // where in the file it was declared, for later error messages
  int line = 0;
};

struct SubscribersConfig {
  std::vector<IpPrefix> pools;       // at least one; non-overlapping; IPv4 pools total <= 2^24 addresses
  uint8_t ipv6_prefix_length = 64;   // 32..128; must be >= the length of every IPv6 pool
  bool learn = true;
  uint32_t idle_timeout_s = 300;     // 0 (never) or 10..86400
  uint8_t default_cc_profile = 8;    // 1, 2, 4 or 8
  std::vector<StaticSubscriber> statics;  // each inside a pool, no duplicates
};

struct ServiceMatch {
  std::optional<uint8_t> protocol;          // "tcp" | "udp" | "icmp" | "sctp" | "icmpv6" | 0..255
  std::optional<IpPrefix> remote_prefix;    // IPv4 or IPv6
  std::optional<uint16_t> remote_port_min;  // "remote_port: 53" or "remote_port: 1000-2000"
  std::optional<uint16_t> remote_port_max;  //   (both set together, min <= max)
};

struct ServiceRule {
  uint32_t rating_group = 0;  // 0..4294967295
  ServiceMatch match;         // at least one condition
};

struct ServicesConfig {
  std::vector<ServiceRule> rules;   // ordered; first match wins; at most 64
  uint32_t default_rating_group = 1;
};

struct ControlConfig {
  std::string socket = "/run/tally/tally.sock";  // absolute or relative path
  uint32_t socket_mode = 0660;                   // "socket_mode: 0660"; no world bits allowed
};

constexpr unsigned kMaxPorts = 16;
constexpr unsigned kMaxWorkers = 64;

struct Config {
  std::string source;  // file name it was read from
  NodeConfig node;
  DataplaneConfig dataplane;
  SubscribersConfig subscribers;
  ServicesConfig services;
  ControlConfig control;
  // Non-fatal notes, e.g. sections recognised but not implemented in this release.
  std::vector<std::string> warnings;
};

struct ConfigError {
  std::string file;
  int line = 0;      // 1-based; 0 when not known
  int column = 0;    // 1-based
  std::string key;   // dotted path, e.g. "dataplane.ports[1].forward_to"
  std::string value; // the offending value as written ("" when missing)
  std::string message;  // what is wrong and what is allowed, e.g. "out of range: allowed 1-64"
  // "cfg.yaml:12:14: dataplane.workers: value '0' out of range: allowed 1-64"
  std::string format() const;
};

struct ConfigResult {
  std::optional<Config> config;   // set when valid
  std::optional<ConfigError> error;
};

ConfigResult loadConfigFile(const std::string& path);
ConfigResult parseConfigText(const std::string& yaml_text, const std::string& name);

}  // namespace tally
