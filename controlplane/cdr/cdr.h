#pragma once
// The charging-record model: what the charging engine closes and the encoders write.
// TS 32.298 V16.11.0 PGW-CDR (PGWRecord, recordType 85). Times are Unix nanoseconds (UTC);
// the encoders turn them into local TimeStamps with the configured time zone.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shared/net.h"

namespace tally::cdr {

// > CauseForRecClosing ::= INTEGER (TS 32.298 GenericChargingDataTypes)
enum class Cause : uint8_t {
  kNormalRelease = 0,
  kAbnormalRelease = 4,
  kVolumeLimit = 16,
  kTimeLimit = 17,
  kServingNodeChange = 18,
  kMaxChangeCond = 19,
  kManagementIntervention = 20,
};

// > ChangeCondition ::= ENUMERATED (listOfTrafficVolumes element)
enum class ChangeCondition : uint8_t {
  kQosChange = 0,
  kTariffTime = 1,
  kRecordClosure = 2,
};

// > ServiceConditionChange ::= BIT STRING: bit numbers (bit 0 = first, most significant bit).
enum ServiceConditionBit : uint8_t {
  kScQosChange = 0,
  kScSgsnChange = 1,
  kScTariffTimeSwitch = 3,
  kScRecordClosure = 24,
  kScTimeLimit = 25,
  kScVolumeLimit = 26,
};
constexpr uint64_t scBit(ServiceConditionBit b) { return uint64_t{1} << b; }

// > APNSelectionMode ::= ENUMERATED
enum class ApnSelectionMode : uint8_t {
  kMsOrNetworkProvidedSubscriptionVerified = 0,
  kMsProvidedSubscriptionNotVerified = 1,
  kNetworkProvidedSubscriptionNotVerified = 2,
};

// > ChChSelectionMode ::= ENUMERATED (S-GW/P-GW: servingNodeSupplied, homeDefault,
// > roamingDefault, visitingDefault)
enum class ChChSelectionMode : uint8_t {
  kServingNodeSupplied = 0,
  kHomeDefault = 3,
  kRoamingDefault = 4,
  kVisitingDefault = 5,
};

// > ServingNodeType ::= ENUMERATED
enum class ServingNodeType : uint8_t {
  kSgsn = 0,
  kPmipSgw = 1,
  kGtpSgw = 2,
  kEpdg = 3,
  kHsgw = 4,
  kMme = 5,
  kTwan = 6,
};

// > Diagnostics ::= CHOICE { gsm0408Cause [0] INTEGER, ... }: TS 24.008 cause values tally
// writes on abnormalRelease records (docs/cdr-format.md).
constexpr uint8_t kGsm0408NetworkFailure = 38;

// One element of listOfTrafficVolumes (ChangeOfCharCondition).
struct TrafficContainer {
  uint64_t uplink_octets = 0;    // dataVolumeGPRSUplink
  uint64_t downlink_octets = 0;  // dataVolumeGPRSDownlink
  ChangeCondition change_condition = ChangeCondition::kRecordClosure;
  int64_t change_time_ns = 0;
  uint8_t qci = 0;  // ePCQoSInformation.qCI on the first container and after a QoS change; 0 = absent
  // ePCQoSInformation.aRP (GTPv2 ARP octet: PCI, priority level, PVI); only with qci != 0.
  std::optional<uint8_t> arp;
  bool operator==(const TrafficContainer&) const = default;
};

// One element of listOfServiceData (ChangeOfServiceCondition), one per rating group.
struct ServiceContainer {
  uint32_t rating_group = 0;
  uint32_t local_sequence_number = 0;   // per container over the session's life, from 1
  int64_t time_of_first_usage_ns = 0;   // 0 = no usage (field omitted)
  int64_t time_of_last_usage_ns = 0;
  uint32_t time_usage_s = 0;            // last - first usage, seconds
  uint64_t service_condition_change = 0;  // bit mask of scBit(...)
  std::optional<IpAddress> serving_node;  // servingNodeAddress of the container
  uint64_t uplink_octets = 0;           // datavolumeFBCUplink
  uint64_t downlink_octets = 0;         // datavolumeFBCDownlink
  int64_t time_of_report_ns = 0;
  std::string charging_rule_base_name;     // chargingRuleBaseName [2]; empty = absent
  std::optional<uint32_t> service_identifier;  // serviceIdentifier [17]
  bool operator==(const ServiceContainer&) const = default;
};

struct PgwRecord {
  std::string imsi;                    // digits; empty = absent
  std::string msisdn;                  // digits (international, E.164); empty = absent
  std::string imei;                    // servedIMEI [29]: 14-16 digits; empty = absent
  IpAddress served_address;            // IPv4 address, or the IPv6 prefix address
  uint8_t served_prefix_length = 0;    // for IPv6: the subscriber's prefix length
  IpAddress pgw_address;               // node.address
  uint32_t charging_id = 0;
  std::vector<IpAddress> serving_nodes;             // may be empty (no serving node known: A6 00)
  std::vector<ServingNodeType> serving_node_types;  // same length and order
  std::string apn;                     // accessPointNameNI
  bool dynamic_address = true;         // learned (true) or static subscriber (false)
  int64_t record_opening_time_ns = 0;
  uint32_t duration_s = 0;             // this record only
  Cause cause = Cause::kNormalRelease;
  std::optional<uint32_t> record_sequence_number;  // partials: 1, 2, 3 ...
  std::string node_id;
  uint64_t local_sequence_number = 0;  // per node, never repeats
  uint16_t charging_characteristics = 0x0800;       // TS 32.251 Annex A: profile index << 8
  std::vector<ServiceContainer> service_data;
  std::vector<TrafficContainer> traffic_volumes;
  std::optional<int64_t> start_time_ns;  // first record of the session
  std::optional<int64_t> stop_time_ns;   // final record of the session
  // Optional fields (TS 32.298 OPTIONAL, "OM"/"OC" in TS 32.251); absent by default, encoded
  // only when set (docs/cdr-format.md).
  std::optional<ApnSelectionMode> apn_selection_mode;     // apnSelectionMode [21]
  std::optional<ChChSelectionMode> ch_ch_selection_mode;  // chChSelectionMode [24]
  std::string serving_node_plmn_id;  // servingNodePLMNIdentifier [27]: MCC+MNC, 5 or 6 digits
  std::optional<uint8_t> rat_type;   // rATType [30] (TS 29.061 value, e.g. 6 = EUTRAN)
  std::optional<std::array<uint8_t, 2>> ms_time_zone;  // mSTimeZone [31], TS 29.060 octets
  std::vector<uint8_t> user_location_information;       // [32] TS 29.274 ULI; empty = absent
  std::string pgw_plmn_id;           // p-GWPLMNIdentifier [37]: MCC+MNC, 5 or 6 digits
  // diagnostics [16], the gsm0408Cause [0] alternative (TS 24.008 cause value); absent = none.
  std::optional<uint8_t> diagnostics_gsm0408_cause;
  std::optional<uint32_t> pdn_connection_charging_id;  // pDNConnectionChargingID [41]
  // Context for files, logs and the bill pool, not encoded: which session this belongs to, and
  // the packets counted in this record (the CDR carries octets only; local bills show both).
  uint64_t session_id = 0;
  uint64_t uplink_packets = 0;
  uint64_t downlink_packets = 0;
  bool operator==(const PgwRecord&) const = default;
};

}  // namespace tally::cdr
