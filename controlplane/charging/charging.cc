#include "controlplane/charging/charging.h"

#include <algorithm>
#include <limits>
#include <utility>

// Decisions and 3GPP references for everything below: docs/charging.md. Lines quoted with
// "// >" are TS 32.298 V16.11.0 text (clause 5.1.2.2, PS domain CDR parameters).

namespace tally {
namespace {

constexpr int64_t kNsPerS = 1000000000;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// `volume` / `sdf_volume`: {total}, or {uplink and/or downlink} where the first one reached
// triggers.
bool limitReached(const VolumeLimit& limit, uint64_t ul, uint64_t dl) {
  if (limit.total) {
    return ul + dl >= *limit.total;
  }
  return (limit.uplink && ul >= *limit.uplink) || (limit.downlink && dl >= *limit.downlink);
}

int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) {
    --q;
  }
  return q;
}

uint32_t secondsBetween(int64_t from_ns, int64_t to_ns) {
  if (to_ns <= from_ns) {
    return 0;
  }
  const int64_t s = (to_ns - from_ns) / kNsPerS;  // truncation, the same for every record
  return s > int64_t{std::numeric_limits<uint32_t>::max()} ? std::numeric_limits<uint32_t>::max()
                                                           : static_cast<uint32_t>(s);
}

int64_t addSeconds(int64_t ns, uint32_t s) {
  const int64_t add = int64_t{s} * kNsPerS;
  return ns > kNever - add ? kNever : ns + add;
}

}  // namespace

struct ChargingEngine::State {
  // One service-data container that is still open (one per rating group with usage).
  struct OpenService {
    cdr::ServiceContainer container;
    int64_t opened_ns = 0;  // sdf_interval runs from here
  };

  ChargingSessionInfo info;
  const CcProfile* profile = nullptr;
  uint32_t charging_id = 0;
  uint32_t records_emitted = 0;
  uint32_t next_service_lsn = 1;  // ChangeOfServiceCondition.localSequenceNumber, per bearer
  uint8_t qci = 0;                // the bearer's current QoS: QCI (1..255) and ARP octet
  uint8_t arp = 0;
  // The node serving the session now (servingNodeAddress / servingNodeType); none: no GTP-U
  // seen and no node.access_node_address.
  std::optional<std::pair<IpAddress, cdr::ServingNodeType>> node;

  // The open record: header fields, and the containers closed so far.
  cdr::PgwRecord rec;
  uint64_t rec_ul = 0;  // counted since the record opened (volume, interval_min_volume, view)
  uint64_t rec_dl = 0;
  uint64_t rec_ul_packets = 0;
  uint64_t rec_dl_packets = 0;
  bool traffic_open = false;
  cdr::TrafficContainer traffic;  // the open traffic container (change_* filled on closure)
  int64_t last_traffic_change_ns = 0;
  // `buckets` counts these and nothing else: traffic containers closed by a change of charging
  // condition (tariffTime, qoSChange) in the open record.
  uint32_t traffic_changes = 0;
  std::map<uint32_t, OpenService> services;  // by rating group: deterministic order
  int64_t next_interval_ns = kNever;
  int64_t next_tariff_ns = kNever;

  bool isHot() const { return profile->index == 1; }

  // Service data containers the open record holds: closed ones and open ones (each open one is
  // in the record when it closes). `max_service_containers` bounds this.
  size_t serviceContainers() const { return rec.service_data.size() + services.size(); }

  bool sdfIntervalDue(const OpenService& s, int64_t now_ns) const {
    return profile->sdf_interval_s && now_ns >= addSeconds(s.opened_ns, *profile->sdf_interval_s);
  }

  int64_t nextTariffAfter(const TimeZone& tz, int64_t now_ns) const {
    if (profile->tariff.empty()) {
      return kNever;
    }
    const int64_t after_s = floorDiv(now_ns, kNsPerS);
    int64_t best = kNever;
    for (const TariffTime& t : profile->tariff) {
      best = std::min(best, tz.nextLocalTime(after_s, t.hour, t.minute));
    }
    return best > kNever / kNsPerS ? kNever : best * kNsPerS;
  }

  // with_qos: the container carries ePCQoSInformation (the current QCI and ARP).
  void openTraffic(bool with_qos, int64_t now_ns) {
    traffic = cdr::TrafficContainer{};
    if (with_qos) {
      traffic.qci = qci;
      traffic.arp = arp;
    }
    traffic_open = true;
    last_traffic_change_ns = std::max(last_traffic_change_ns, now_ns);
  }

  void closeTraffic(cdr::ChangeCondition cond, int64_t at_ns) {
    if (!traffic_open) {
      return;
    }
    traffic.change_condition = cond;
    traffic.change_time_ns = at_ns;
    rec.traffic_volumes.push_back(traffic);
    traffic_open = false;
    last_traffic_change_ns = at_ns;
  }

  // Moves an open service container into the record's listOfServiceData.
  void closeService(std::map<uint32_t, OpenService>::iterator it, uint64_t condition_bits,
                    int64_t at_ns) {
    cdr::ServiceContainer c = it->second.container;
    // > Local Sequence Number is a service data container sequence number. It starts from 1 and
    // > is increased by 1 for each service date container generated within the lifetime of this
    // > IP-CAN bearer/TDF session.
    c.local_sequence_number = next_service_lsn++;
    c.service_condition_change |= condition_bits;
    // > Report Time is a time stamp, which defines the moment when the service data container
    // > is closed.
    c.time_of_report_ns = at_ns;
    if (c.time_of_first_usage_ns != 0 && c.time_of_last_usage_ns >= c.time_of_first_usage_ns) {
      c.time_usage_s = secondsBetween(c.time_of_first_usage_ns, c.time_of_last_usage_ns);
    }
    rec.service_data.push_back(std::move(c));
    services.erase(it);
  }
};

ChargingEngine::ChargingEngine(const Config& config, TimeZonePtr tz, RecordSink& sink,
                               SequenceSource& seq)
    : config_(config), tz_(tz ? std::move(tz) : TimeZone::utc()), sink_(sink), seq_(seq) {}

ChargingEngine::~ChargingEngine() = default;

// ---------------------------------------------------------------------------------------------
// Record life cycle

void ChargingEngine::open(const ChargingSessionInfo& info, int64_t now_ns) {
  if (sessions_.count(info.session_id) != 0) {
    return;  // duplicate open: the session already has its open CDR (docs/charging.md)
  }
  auto st = std::make_unique<State>();
  st->info = info;
  st->profile = &config_.accounting.profile(info.cc_profile);
  st->charging_id = seq_.nextChargingId();
  // The QoS the bearer starts with: the session's own, else the profile's (docs/charging.md).
  st->qci = info.qci && *info.qci != 0 ? *info.qci : st->profile->qci;
  st->arp = info.arp ? *info.arp : st->profile->arp.octet();
  st->last_traffic_change_ns = now_ns;
  // The serving node: the GTP-U peer (or the handover's node) known at start, else the
  // configured access node, else none. Never the P-GW itself (docs/charging.md).
  if (info.serving_node) {
    st->node = std::make_pair(*info.serving_node, nodeType(*info.serving_node));
  } else if (config_.node.access_node_address) {
    st->node = std::make_pair(*config_.node.access_node_address,
                              static_cast<cdr::ServingNodeType>(config_.node.access_node_type));
  }
  startRecord(*st, now_ns);
  // > This field contains the time when the IP-CAN session starts at the S-GW/P-GW/IP-Edge
  // > [...], available in the CDR for the first bearer in an IP-CAN session
  st->rec.start_time_ns = now_ns;
  sessions_.emplace(info.session_id, std::move(st));
}

cdr::ServingNodeType ChargingEngine::nodeType(const IpAddress& node) const {
  if (config_.node.access_node_address && *config_.node.access_node_address == node) {
    return static_cast<cdr::ServingNodeType>(config_.node.access_node_type);
  }
  return cdr::ServingNodeType::kGtpSgw;
}

void ChargingEngine::startRecord(State& st, int64_t now_ns) {
  const Config& config = config_;
  cdr::PgwRecord& r = st.rec;
  r = cdr::PgwRecord{};
  r.imsi = st.info.imsi;
  r.msisdn = st.info.msisdn;
  r.imei = st.info.imei;
  r.served_address = st.info.served_address;
  r.served_prefix_length = st.info.served_prefix_length;
  r.pgw_address = config.node.address;
  r.charging_id = st.charging_id;
  if (st.node) {
    r.serving_nodes.push_back(st.node->first);
    r.serving_node_types.push_back(st.node->second);
  }
  // > This field indicates how the SGSN/MME selected the APN to be used.
  // tally's APN is configured (accounting.cdr.apn_selection_mode, default
  // networkProvidedSubscriptionNotVerified).
  r.apn_selection_mode =
      static_cast<cdr::ApnSelectionMode>(config.accounting.cdr.apn_selection_mode);
  // > In the S-GW/P-GW/TDF the allowed values are: Home default; Visiting default; Roaming
  // > default; Serving node supplied.
  r.ch_ch_selection_mode =
      st.info.ch_ch_selection_mode.value_or(cdr::ChChSelectionMode::kHomeDefault);
  r.serving_node_plmn_id = config.node.plmn_id;
  r.pgw_plmn_id = config.node.plmn_id;
  r.rat_type = st.info.rat_type ? st.info.rat_type : config.node.rat_type;
  // > For a PDN connection that is limited to use one single access at a time this field
  // > includes Charging Id of first IP-CAN bearer activated: one bearer per session in tally.
  r.pdn_connection_charging_id = st.charging_id;
  r.apn = st.info.apn.empty() ? config.accounting.cdr.apn : st.info.apn;
  // > This field is missing if address is static.
  r.dynamic_address = !st.info.is_static;
  // > [...] or record opening time on subsequent partial records
  r.record_opening_time_ns = now_ns;
  r.node_id = config.node.id;
  // TS 32.251 Annex A / TS 32.298 5.1.2.2.7: profile index bits P3..P0 = N, P, F, H are the low
  // nibble of the first octet, i.e. bits 11..8 of the 16-bit value: index << 8.
  r.charging_characteristics = static_cast<uint16_t>(uint16_t{st.profile->index} << 8);
  r.session_id = st.info.session_id;

  st.rec_ul = 0;
  st.rec_dl = 0;
  st.rec_ul_packets = 0;
  st.rec_dl_packets = 0;
  st.traffic_changes = 0;
  st.last_traffic_change_ns = now_ns;
  // > EPC QoS Information ... First container for each QCI/ARP pair includes this field.
  // Every record's first container carries the current QoS (a partial's successor too).
  st.openTraffic(/*with_qos=*/true, now_ns);
  st.next_interval_ns =
      st.profile->interval_s ? addSeconds(now_ns, *st.profile->interval_s) : kNever;
  // A tariff instant that passed before this record opened (a tick came late and another trigger
  // closed the previous record first) is covered by the record boundary itself.
  if (st.next_tariff_ns == kNever || st.next_tariff_ns <= now_ns) {
    st.next_tariff_ns = st.nextTariffAfter(*tz_, now_ns);
  }
}

cdr::PgwRecord ChargingEngine::finishRecord(State& st, cdr::Cause cause, int64_t now_ns,
                                            bool final) {
  // > Change Condition defines the reason for closing the container ... When no
  // > Change-Condition AVP is provided, the "recordClosure" value is set for the container.
  st.closeTraffic(cdr::ChangeCondition::kRecordClosure, now_ns);
  while (!st.services.empty()) {
    auto it = st.services.begin();
    uint64_t bits = cdr::scBit(cdr::kScRecordClosure);
    if (st.sdfIntervalDue(it->second, now_ns)) {
      bits |= cdr::scBit(cdr::kScTimeLimit);  // both conditions met at the same instant
    }
    st.closeService(it, bits, now_ns);
  }

  cdr::PgwRecord r = std::move(st.rec);
  st.rec = cdr::PgwRecord{};
  // > It is the duration from Record Opening Time to record closure. For partial records this
  // > is the duration of the individual partial record and not the cumulative duration.
  r.duration_s = secondsBetween(r.record_opening_time_ns, now_ns);
  r.cause = cause;
  if (cause == cdr::Cause::kAbnormalRelease) {
    // > A more detailed reason may be found in the diagnostics field
    // The gsm0408Cause alternative, as the seed's vendor writes it; 38 "network failure": the
    // session was lost (idle timeout without a release, or a crash of this node: the
    // checkpoint's records). docs/cdr-format.md, decision 8.
    r.diagnostics_gsm0408_cause = cdr::kGsm0408NetworkFailure;
  }
  // > The Record Sequence Number is missing if the record is the only one produced in the
  // > SGSN/SGW/PGW/TDF/IP-Edge
  // A partial record is by definition followed by another one, so it is always numbered.
  if (!final || st.records_emitted > 0) {
    r.record_sequence_number = st.records_emitted + 1;
  } else {
    r.record_sequence_number.reset();
  }
  if (final) {
    r.stop_time_ns = now_ns;
  }
  r.uplink_packets = st.rec_ul_packets;
  r.downlink_packets = st.rec_dl_packets;
  return r;
}

void ChargingEngine::closeRecord(State& st, cdr::Cause cause, int64_t now_ns, bool final) {
  cdr::PgwRecord out = finishRecord(st, cause, now_ns, final);
  out.local_sequence_number = seq_.nextLocalSequence();
  ++st.records_emitted;
  sink_.emit(std::move(out), st.isHot());
}

std::vector<cdr::PgwRecord> ChargingEngine::snapshotOpen(int64_t now_ns) const {
  std::vector<cdr::PgwRecord> out;
  out.reserve(sessions_.size());
  for (const auto& [id, st] : sessions_) {
    if (st->rec_ul_packets + st->rec_dl_packets == 0 && st->rec_ul + st->rec_dl == 0) {
      continue;
    }
    State copy = *st;  // finishRecord closes the copy's containers, never the session's
    out.push_back(finishRecord(copy, cdr::Cause::kAbnormalRelease, now_ns, /*final=*/false));
  }
  return out;
}

void ChargingEngine::closePartial(State& st, cdr::Cause cause, int64_t now_ns) {
  closeRecord(st, cause, now_ns, /*final=*/false);
  startRecord(st, now_ns);  // with the node serving the session now
}

// ---------------------------------------------------------------------------------------------
// Events

void ChargingEngine::usage(uint64_t session_id, uint32_t rating_group, const FlowCounters& delta,
                           int64_t now_ns) {
  auto found = sessions_.find(session_id);
  if (found == sessions_.end()) {
    return;
  }
  if (delta.ul_octets == 0 && delta.dl_octets == 0 && delta.empty()) {
    return;  // nothing happened on this flow
  }
  State& st = *found->second;
  const CcProfile& p = *st.profile;
  if (st.services.count(rating_group) == 0 && st.serviceContainers() >= p.max_service_containers) {
    // max_service_containers: the record already holds as many service data containers as it
    // may, and this usage needs one more. The record closes first, as a partial record with
    // maxChangeCond (docs/charging.md: TS 32.298 5.1.2.2.5 has no cause of its own for a full
    // list of service data); the usage goes into the next record.
    closePartial(st, cdr::Cause::kMaxChangeCond, now_ns);
  }
  if (!st.traffic_open) {
    st.openTraffic(/*with_qos=*/false, now_ns);  // defensive: a record always has one open
  }
  st.traffic.uplink_octets += delta.ul_octets;
  st.traffic.downlink_octets += delta.dl_octets;
  st.rec_ul += delta.ul_octets;
  st.rec_dl += delta.dl_octets;
  st.rec_ul_packets += delta.ul_packets;
  st.rec_dl_packets += delta.dl_packets;

  auto it = st.services.find(rating_group);
  if (it == st.services.end()) {
    State::OpenService s;
    s.container.rating_group = rating_group;
    // > Time of First Usage is the time stamp for the first IP packet to be transmitted and
    // > mapped to the current service data container.
    s.container.time_of_first_usage_ns = now_ns;
    s.container.time_of_last_usage_ns = now_ns;
    // > Serving Node Address contains the valid serving node (e.g. SGSN/S-GW) control plane IP
    // > address during the service data container recording interval.
    // A serving-node change closes the open containers, so this is the node of all its usage.
    if (st.node) {
      s.container.serving_node = st.node->first;
    }
    s.opened_ns = now_ns;
    it = st.services.emplace(rating_group, std::move(s)).first;
  }
  cdr::ServiceContainer& c = it->second.container;
  c.uplink_octets += delta.ul_octets;
  c.downlink_octets += delta.dl_octets;
  if (!delta.empty()) {
    c.time_of_last_usage_ns = now_ns;
  }

  if (p.sdf_volume.enabled() && limitReached(p.sdf_volume, c.uplink_octets, c.downlink_octets)) {
    // sdf_volume: the service container closes (serviceConditionChange volumeLimit); the other
    // rating groups continue; the next usage of this rating group opens a new container. Not a
    // change of charging condition: `buckets` does not count it.
    st.closeService(it, cdr::scBit(cdr::kScVolumeLimit), now_ns);
  }
  if (p.volume.enabled() && limitReached(p.volume, st.rec_ul, st.rec_dl)) {
    // > data volume limit; It corresponds to "Volume Limit" in Change-Condition AVP.
    // The crossing delta (the overshoot) stays in this record.
    closePartial(st, cdr::Cause::kVolumeLimit, now_ns);
  }
}

void ChargingEngine::servingNodeChange(uint64_t session_id, const IpAddress& node, int64_t now_ns) {
  auto found = sessions_.find(session_id);
  if (found == sessions_.end()) {
    return;
  }
  State& st = *found->second;
  cdr::PgwRecord& r = st.rec;
  if (st.node && st.node->first == node) {
    return;  // not a change
  }
  // > Service Condition Change defines the reason for closing the service data container ...
  // > IP-CAN bearer modification (e.g. QoS change, S-GW change ...): every open service
  // container closes with sGSNChange ("apply to Gn-SGSN /SGW Change"), so that each container
  // shows the node its usage went through; the next usage opens new ones under the new node.
  // Not a change counted by `buckets` (only QoS changes and tariff times are).
  while (!st.services.empty()) {
    st.closeService(st.services.begin(), cdr::scBit(cdr::kScSgsnChange), now_ns);
  }
  st.node = std::make_pair(node, nodeType(node));
  if (r.serving_nodes.size() < st.profile->serving_nodes) {
    r.serving_nodes.push_back(st.node->first);
    r.serving_node_types.push_back(st.node->second);
    return;
  }
  // Serving node address list overflow: partial record, cause servingNodeChange (18); the new
  // record starts with the new node alone.
  closePartial(st, cdr::Cause::kServingNodeChange, now_ns);
}

void ChargingEngine::qosChange(uint64_t session_id, uint8_t qci, int64_t now_ns,
                              std::optional<uint8_t> arp) {
  auto found = sessions_.find(session_id);
  if (found == sessions_.end() || qci == 0) {
    return;
  }
  State& st = *found->second;
  if (qci == st.qci && (!arp || *arp == st.arp)) {
    // The same QCI/ARP pair: not a change of charging condition (no container closes, `buckets`
    // does not count it), e.g. a signalling update that repeats the QoS.
    ++counters_.qos_changes_ignored;
    return;
  }
  ++counters_.qos_changes;
  st.qci = qci;
  if (arp) {
    st.arp = *arp;
  }
  st.closeTraffic(cdr::ChangeCondition::kQosChange, now_ns);
  ++st.traffic_changes;
  if (st.traffic_changes >= st.profile->buckets) {
    // The container whose closure reaches `buckets` is the last one of this record; the next
    // record's first container carries the new QoS.
    closePartial(st, cdr::Cause::kMaxChangeCond, now_ns);
    return;
  }
  // > In following containers this field is present if previous change condition is
  // > "QoS change".
  st.openTraffic(/*with_qos=*/true, now_ns);
}

void ChargingEngine::identify(uint64_t session_id, const ChargingSessionInfo& info, uint8_t qci,
                              int64_t now_ns) {
  auto found = sessions_.find(session_id);
  if (found == sessions_.end()) {
    return;
  }
  State& st = *found->second;
  st.info.imsi = info.imsi;
  st.info.msisdn = info.msisdn;
  st.info.imei = info.imei;
  st.info.apn = info.apn;
  st.info.cc_profile = info.cc_profile;
  st.info.ch_ch_selection_mode = info.ch_ch_selection_mode;
  // The open record carries the identity (it closes with it); closed records keep theirs.
  cdr::PgwRecord& r = st.rec;
  r.imsi = info.imsi;
  r.msisdn = info.msisdn;
  r.imei = info.imei;
  r.apn = info.apn.empty() ? config_.accounting.cdr.apn : info.apn;
  r.ch_ch_selection_mode =
      info.ch_ch_selection_mode.value_or(cdr::ChChSelectionMode::kHomeDefault);
  const CcProfile* profile = &config_.accounting.profile(info.cc_profile);
  if (profile != st.profile) {
    // The new profile's triggers from now on: its interval counted from the record's opening
    // (a deadline already passed closes the record at the next tick), its tariff times from
    // now; its thresholds at the next usage.
    st.profile = profile;
    r.charging_characteristics = static_cast<uint16_t>(uint16_t{profile->index} << 8);
    st.next_interval_ns = profile->interval_s
                              ? addSeconds(r.record_opening_time_ns, *profile->interval_s)
                              : kNever;
    st.next_tariff_ns = st.nextTariffAfter(*tz_, now_ns);
  }
  if (qci != 0 && qci != st.qci) {
    qosChange(session_id, qci, now_ns);
  }
}

void ChargingEngine::tick(int64_t now_ns) {
  for (auto& [id, ptr] : sessions_) {
    State& st = *ptr;
    const CcProfile& p = *st.profile;

    // Tariff time: the traffic container (and every open service container, tariffTimeSwitch)
    // closes at the tariff instant.
    if (st.next_tariff_ns <= now_ns) {
      const int64_t at =
          std::max({st.next_tariff_ns, st.rec.record_opening_time_ns, st.last_traffic_change_ns});
      st.closeTraffic(cdr::ChangeCondition::kTariffTime, at);
      while (!st.services.empty()) {
        auto it = st.services.begin();
        uint64_t bits = cdr::scBit(cdr::kScTariffTimeSwitch);
        if (st.sdfIntervalDue(it->second, at)) {
          bits |= cdr::scBit(cdr::kScTimeLimit);
        }
        st.closeService(it, bits, at);
      }
      // Instants missed by a late tick collapse into this one closure.
      st.next_tariff_ns = st.nextTariffAfter(*tz_, now_ns);
      ++st.traffic_changes;
      if (st.traffic_changes >= p.buckets) {
        closePartial(st, cdr::Cause::kMaxChangeCond, now_ns);
      } else {
        st.openTraffic(/*with_qos=*/false, at);  // after a tariff time: no ePCQoSInformation
      }
    }

    // sdf_interval: per service container, since it opened. Not a change of charging
    // condition: `buckets` does not count it.
    if (p.sdf_interval_s) {
      for (auto it = st.services.begin(); it != st.services.end();) {
        if (!st.sdfIntervalDue(it->second, now_ns)) {
          ++it;
          continue;
        }
        auto next = std::next(it);
        st.closeService(it, cdr::scBit(cdr::kScTimeLimit), now_ns);
        it = next;
      }
    }

    // interval (+ interval_min_volume): since the record opened.
    if (st.next_interval_ns <= now_ns) {
      if (st.rec_ul + st.rec_dl >= p.interval_min_volume) {
        // > time (duration) limit; It corresponds to "Time Limit" in Change-Condition AVP.
        closePartial(st, cdr::Cause::kTimeLimit, now_ns);
      } else {
        // Re-arm: the next check is one interval later (several if the tick came very late).
        while (st.next_interval_ns <= now_ns) {
          st.next_interval_ns = addSeconds(st.next_interval_ns, *p.interval_s);
        }
      }
    }
  }
}

void ChargingEngine::close(uint64_t session_id, cdr::Cause cause, int64_t now_ns) {
  auto found = sessions_.find(session_id);
  if (found == sessions_.end()) {
    return;
  }
  closeRecord(*found->second, cause, now_ns, /*final=*/true);
  sessions_.erase(found);
}

// ---------------------------------------------------------------------------------------------
// Queries

bool ChargingEngine::has(uint64_t session_id) const { return sessions_.count(session_id) != 0; }

std::optional<OpenCdrView> ChargingEngine::view(uint64_t session_id) const {
  auto found = sessions_.find(session_id);
  if (found == sessions_.end()) {
    return std::nullopt;
  }
  const State& st = *found->second;
  OpenCdrView v;
  v.charging_id = st.charging_id;
  v.records_closed = st.records_emitted;
  v.record_opening_time_ns = st.rec.record_opening_time_ns;
  v.uplink_octets = st.rec_ul;
  v.downlink_octets = st.rec_dl;
  v.traffic_containers_closed = static_cast<uint32_t>(st.rec.traffic_volumes.size());
  v.serving_nodes = st.rec.serving_nodes;
  v.qci = st.qci;
  v.arp = st.arp;
  return v;
}

size_t ChargingEngine::openSessions() const { return sessions_.size(); }

}  // namespace tally
