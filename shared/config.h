#pragma once
// The validated configuration model (see docs/config.md). Loaded from YAML by loadConfig();
// a bad file yields a ConfigError naming file:line:column, the key, the value and the allowed
// range, and no Config at all (nothing of a bad file is ever applied).
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shared/net.h"

namespace tally {

struct NodeConfig {
  std::string id = "tally";        // nodeID in CDRs; 1-20 chars [A-Za-z0-9_.-], no leading '.'

  IpAddress address;               // this gateway; required
  std::string timezone = "UTC";    // IANA name, must exist under /usr/share/zoneinfo (or "UTC")
  // State files (.tally-sequence: numbers that never repeat). Not the CF card directory: a
  // transfer sweeps that one. 1-4095 bytes, no NUL.
  std::string state_dir = "/var/lib/tally";
  // The access node serving subscribers whose traffic comes without GTP-U (a BNG/BRAS, an
  // ePDG, a TWAG ...): servingNodeAddress/servingNodeType of their CDRs. Not given: those CDRs
  // have no serving node (empty lists). The type is a TS 32.298 ServingNodeType value (0 sGSN,
  // 1 pMIPSGW, 2 gTPSGW, 3 ePDG, 4 hSGW, 5 mME, 6 tWAN), required with the address.
  std::optional<IpAddress> access_node_address;
  uint8_t access_node_type = 0;
  // MCC + MNC (5 or 6 digits): p-GWPLMNIdentifier and servingNodePLMNIdentifier; empty = absent.
  std::string plmn_id;
  // rATType (TS 29.061 RAT type, 0-255, e.g. 6 EUTRAN, 3 WLAN); not given = absent.
  std::optional<uint8_t> rat_type;
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
  uint32_t max_frame_size = 9216;          // 1518..65535: largest Ethernet frame (no FCS)
                                           // received; sets MTU, mbuf size and scatter
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
  // A learned session whose address has no identity (`tallyctl session identify`) when it
  // opens: billed under its address (kAddress, the default), or held unattributed until an
  // identity arrives (kHold; docs/charging.md "Subscriber identity").
  enum class UnknownIdentity : uint8_t { kAddress, kHold };
  UnknownIdentity unknown_identity = UnknownIdentity::kAddress;
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

// accounting.policy.cc_profiles[]: charging-characteristics thresholds (semantics.md §2).
struct VolumeLimit {
  // Either total, or uplink and/or downlink (first reached triggers). Octets, 100000..4e9.
  std::optional<uint64_t> total;
  std::optional<uint64_t> uplink;
  std::optional<uint64_t> downlink;
  bool enabled() const { return total || uplink || downlink; }
};

struct TariffTime {
  uint8_t hour = 0;    // 0..23
  uint8_t minute = 0;  // 0..59
  bool operator==(const TariffTime&) const = default;
};

// The allocation and retention priority of a bearer (TS 23.203 6.1.7.3, TS 29.212
// Allocation-Retention-Priority): the QoS a session's records start with (docs/charging.md).
struct ArpConfig {
  uint8_t priority_level = 9;          // 1..15, 1 = highest
  bool capability_enabled = false;     // pre_emption_capability: may pre-empt other bearers
  bool vulnerability_enabled = true;   // pre_emption_vulnerability: may be pre-empted
  // ePCQoSInformation.aRP as the TS 29.274 Bearer QoS ARP octet: bit 7 PCI, bits 6-3 priority
  // level, bit 1 PVI, where PCI/PVI 1 = disabled (the reading Wireshark applies).
  uint8_t octet() const {
    return static_cast<uint8_t>((capability_enabled ? 0 : 0x40) | ((priority_level & 0x0f) << 2) |
                                (vulnerability_enabled ? 0 : 0x01));
  }
  bool operator==(const ArpConfig&) const = default;
};

struct CcProfile {
  uint8_t index = 8;                        // 1 hot, 2 flat, 4 prepaid, 8 normal
  uint32_t buckets = 4;                     // 1..20 traffic containers closed by QoS change or
                                            // tariff time per CDR (then maxChangeCond)
  uint32_t max_service_containers = 10;     // 1..255 service data containers per CDR
  std::optional<uint32_t> interval_s;       // 60..40000000
  uint64_t interval_min_volume = 0;         // octets; only with interval
  std::optional<uint32_t> sdf_interval_s;   // 60..40000000
  VolumeLimit sdf_volume;                   // per service container (rating group)
  uint32_t serving_nodes = 4;               // 1..15
  std::vector<TariffTime> tariff;           // at most 4, distinct, sorted
  VolumeLimit volume;                       // per CDR since it opened
  uint8_t qci = 9;                          // 1..255: the QCI a session starts with
  ArpConfig arp;                            // the ARP a session starts with
  int line = 0;                             // where it was declared
};

enum class CdrFormat : uint8_t { k3gpp, kCsv };

struct CdrConfig {
  CdrFormat format = CdrFormat::k3gpp;
  uint32_t file_max_records = 1000;     // 1..65535: close the file after this many CDRs
  uint32_t file_max_age_s = 300;        // 1..86400: close a file open this long
  uint32_t file_max_bytes = 1048576;    // 4096..104857600
  std::string apn = "internet";         // accessPointNameNI, 1..63 chars
  // apnSelectionMode (TS 32.298 APNSelectionMode): 0 mSorNetworkProvidedSubscriptionVerified,
  // 1 mSProvidedSubscriptionNotVerified, 2 networkProvidedSubscriptionNotVerified (default: the
  // APN is tally's configuration or the identity's, not checked against a subscription).
  uint8_t apn_selection_mode = 2;
};

inline std::vector<CcProfile> defaultCcProfiles() {
  std::vector<CcProfile> v(4);
  v[0].index = 1;
  v[1].index = 2;
  v[2].index = 4;
  v[3].index = 8;
  return v;
}

// accounting.start_fail and accounting.interim_fail.action (semantics.md §4): what becomes of a
// session whose RADIUS accounting request is not answered after all retries.
enum class RadiusFailAction : uint8_t {
  kOffline,  // start_fail: the session is refused (its traffic is not forwarded);
             // interim_fail: the session ends, with a local bill
  kOnline,   // the session stays up; a local bill is written when it goes offline
};

struct InterimFailConfig {
  uint32_t max_times = 3;                               // 1..255 consecutive unanswered interims
  RadiusFailAction action = RadiusFailAction::kOnline;  // then keep (online) or end (offline)
};

struct RadiusServerConfig {
  IpAddress address;        // required
  uint16_t port = 1813;     // 1..65535
  std::string secret_file;  // required, 1..4095 bytes: the file holding the shared secret
  bool status_server = true;  // probe it with Status-Server (RFC 5997) after a hold-down
};

// accounting.radius: RFC 2866 accounting servers.
struct RadiusConfig {
  std::vector<RadiusServerConfig> servers;  // 1..8, tried in order (fail-over)
  uint32_t timeout_ms = 3000;               // 100..60000: wait per request
  uint32_t retries = 3;                     // 0..10 retransmissions before the next server
  uint32_t interim_interval_s = 600;        // 0 (no Interim-Update) or 60..86400
  uint32_t hold_down_ms = 30000;            // 1000..3600000: a dead server is not used this long
  size_t max_outstanding = 4096;            // requests in flight (not a key)
  size_t queue_limit = 262144;              // requests waiting to be sent (not a key)
};

struct AccountingConfig {
  // Always holds all four profiles in the order 1, 2, 4, 8: those not listed in the file have
  // the defaults (the seed's "default cc profile N").
  std::vector<CcProfile> cc_profiles = defaultCcProfiles();
  CdrConfig cdr;
  // RADIUS accounting (controlplane/radius/accounting.h, docs/radius.md).
  RadiusFailAction start_fail = RadiusFailAction::kOffline;
  InterimFailConfig interim_fail;
  std::optional<RadiusConfig> radius;  // none: no RADIUS accounting is sent
  const CcProfile& profile(uint8_t index) const {
    for (const CcProfile& p : cc_profiles) {
      if (p.index == index) {
        return p;
      }
    }
    return cc_profiles.back();
  }
};

// local_aaa_server (semantics.md §3; docs/storage.md): the local bill pool, the CF card and the
// bill server.
struct BillPoolConfig {            // local_bill_pool
  bool enable = false;             // keep bills in the local bill pool
  uint32_t capacity_bills = 49152; // 1..1048576 (the seed's example devices: 49,152)
  // Group commit: the longest a closed bill waits before the journal's fsync starts (0..1000;
  // the bill is durable within this + one fsync).
  uint32_t commit_delay_ms = 5;
  // Open records' usage is journaled this often (1..3600 s): a kill -9 loses at most this much
  // counted usage.
  uint32_t checkpoint_interval_s = 10;
};

struct BillServerConfig {          // bill_server
  IpAddress address;               // required
  std::optional<uint16_t> port;    // 1..65535; none: not given
  std::string filename;            // 1..30 printable ASCII, no '/': name stem of files on the
                                   // server; "" = not given
  std::string user_name;           // 1..64 printable ASCII (SFTP user); "" = not given
  // password: {cipher: ...} as written, 1..1024 printable ASCII; "" = not given. Only the
  // cipher text is ever held (a plaintext password is refused at load); it is decrypted only
  // where it is used. Never log it.
  std::string password_cipher;
  std::string known_hosts_path;    // 1..4095 bytes (OpenSSH known_hosts file); "" = not given
  // private_key: an ed25519 / ECDSA key file, instead of the password (not both); "" = not given
  std::string private_key_path;
  // key_file: the root-only key that password.cipher is decrypted with (tallyctl
  // encrypt-password writes it).
  std::string key_file = "/etc/tally/bill-server.key";
  uint32_t timeout_ms = 10000;     // 100..600000: deadline of every step of a transfer
};

// local_bill.cache.backup_mode: where bills leave the pool for.
enum class CacheBackupMode : uint8_t { kCfcard, kNone, kTftp, kSftp };
// local_bill.cfcard.backup_mode: how CF card files go to the bill server.
enum class CfCardBackupMode : uint8_t { kTftp, kSftp };
// local_bill.cfcard.overflow: what goes when the CF card is full and the server unreachable.
enum class CfCardOverflow : uint8_t { kDropNew, kDropOldest };

struct LocalBillCacheConfig {      // local_bill.cache
  CacheBackupMode backup_mode = CacheBackupMode::kCfcard;
  uint32_t backup_interval_min = 1440;  // 1..65535 minutes: automatic transfer period
  uint32_t alarm_threshold_pct = 75;    // 50..100: fill level that triggers transfer or alarm
};

struct CfCardConfig {              // local_bill.cfcard, but its path (LocalBillConfig::cfcard_path)
  std::optional<uint64_t> capacity_bytes;  // 1 MiB..16 TiB ("1GiB" = 1073741824); none: not given
  CfCardBackupMode backup_mode = CfCardBackupMode::kSftp;
  uint32_t backup_interval_min = 1440;     // 1..65535 minutes
  uint32_t alarm_threshold_pct = 75;       // 50..100
  CfCardOverflow overflow = CfCardOverflow::kDropNew;  // drop-new (the seed device) | drop-oldest
};

struct LocalBillConfig {
  std::string cfcard_path = "/var/spool/tally";  // local_bill.cfcard.path: CDR files (used)
  BillPoolConfig bill_pool;
  std::optional<BillServerConfig> bill_server;   // none: no bill server configured
  LocalBillCacheConfig cache;
  CfCardConfig cfcard;
};

constexpr unsigned kMaxPorts = 16;
constexpr unsigned kMaxWorkers = 64;
// dataplane.max_frame_size: a standard Ethernet frame up to the largest an IPv4 packet allows.
constexpr unsigned kMinMaxFrameSize = 1518;
constexpr unsigned kMaxMaxFrameSize = 65535;

// Where a value was written in the file (1-based).
struct SourceLocation {
  int line = 0;
  int column = 0;
};

struct Config {
  std::string source;  // file name it was read from
  NodeConfig node;
  DataplaneConfig dataplane;
  SubscribersConfig subscribers;
  ServicesConfig services;
  ControlConfig control;
  AccountingConfig accounting;
  LocalBillConfig local_bill;  // the local_aaa_server section
  // Non-fatal notes, e.g. sections recognised but not implemented in this release.
  std::vector<std::string> warnings;
  // Where the values that the start-up checks (shared/config_check.h) name were written, by
  // key path: "node.timezone", "dataplane.eal[I]", "dataplane.ports[I].name",
  // "dataplane.workers", "control.socket", "local_aaa_server.local_bill.cfcard.path". A key
  // not in the file (its default applies) has no entry.
  std::map<std::string, SourceLocation, std::less<>> locations;
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
