#pragma once
// The charging engine: turns per-session usage (deltas from the poller) into PGW-CDRs following
// the session's CC profile (semantics.md §2, docs/charging.md). DPDK-free and single-threaded
// (control-plane thread); time comes from the caller (wall-clock ns), so tests drive it with a
// fake clock.
//
// Per session it keeps one open CDR with
//   - the open traffic-volume container (listOfTrafficVolumes) and the closed ones,
//   - one open service-data container per rating group that has seen usage (listOfServiceData),
//   - the serving-node list.
// Triggers: volume (16), interval (+ interval_min_volume) (17), serving-node list overflow (18),
// buckets (19: traffic containers closed by tariff times and QoS changes, nothing else),
// max_service_containers (19: a full listOfServiceData), tariff time (traffic container,
// changeCondition tariffTime), QoS change (traffic container, qoSChange), sdf_volume /
// sdf_interval (service container, volumeLimit / timeLimit), session end (normalRelease 0 /
// abnormalRelease 4 / managementIntervention 20).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "controlplane/cdr/cdr.h"
#include "shared/config.h"
#include "shared/counters.h"
#include "shared/timezone.h"

namespace tally {

// Where closed records go (the CDR file writer in production, a recorder in tests).
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // flush_now: hot billing (profile 1): the record must be written out and handed to transfer
  // at once, not batched.
  virtual void emit(cdr::PgwRecord record, bool flush_now) = 0;
};

// Numbers that must never repeat, across restarts (localSequenceNumber, chargingID, file
// sequence numbers).
class SequenceSource {
 public:
  virtual ~SequenceSource() = default;
  virtual uint64_t nextLocalSequence() = 0;  // 1, 2, 3 ... per node, over all CDRs
  virtual uint32_t nextChargingId() = 0;     // per session (bearer), never 0
};

struct ChargingSessionInfo {
  uint64_t session_id = 0;
  IpAddress served_address;          // IPv4 address or IPv6 prefix address
  uint8_t served_prefix_length = 0;  // IPv6 only
  std::string imsi;
  std::string msisdn;
  std::string imei;  // servedIMEI; empty = absent
  std::string apn;   // accessPointNameNI; empty = accounting.cdr.apn
  uint8_t cc_profile = 8;
  bool is_static = false;
  // Known at start (GTP-U outer source, or `session handover`); else node.access_node_address,
  // else none (docs/charging.md, "serving nodes").
  std::optional<IpAddress> serving_node;
  // The bearer's QoS when the session starts, from its identity (QCI 1..255; ARP as the
  // TS 29.274 ARP octet, ArpConfig::octet()); each one not given: the CC profile's qci / arp.
  std::optional<uint8_t> qci;
  std::optional<uint8_t> arp;
  // rATType of the session's records; not given: node.rat_type (absent when that is not set).
  std::optional<uint8_t> rat_type;
  // chChSelectionMode; not given: homeDefault (tally's own configuration chose the CC profile).
  // servingNodeSupplied when the profile came with the session from the node serving it.
  std::optional<cdr::ChChSelectionMode> ch_ch_selection_mode;
};

// Engine-wide counters, for `tallyctl display statistics`.
struct ChargingCounters {
  uint64_t qos_changes = 0;          // QoS changes applied (a traffic container closed)
  uint64_t qos_changes_ignored = 0;  // QoS "changes" to the QCI/ARP the session already had
};

// What `tallyctl display session` shows of the open CDR.
struct OpenCdrView {
  uint32_t charging_id = 0;
  uint32_t records_closed = 0;
  int64_t record_opening_time_ns = 0;
  uint64_t uplink_octets = 0;   // since the record opened
  uint64_t downlink_octets = 0;
  uint32_t traffic_containers_closed = 0;
  std::vector<IpAddress> serving_nodes;
  uint8_t qci = 0;  // the QoS the open record carries now
  uint8_t arp = 0;
};

class ChargingEngine {
 public:
  ChargingEngine(const Config& config, TimeZonePtr tz, RecordSink& sink, SequenceSource& seq);
  ~ChargingEngine();

  void open(const ChargingSessionInfo& info, int64_t now_ns);
  // Usage of one rating group since the previous call for this session. Volume triggers are
  // evaluated here; the overshoot of a threshold stays in the closing record.
  void usage(uint64_t session_id, uint32_t rating_group, const FlowCounters& delta,
             int64_t now_ns);
  void servingNodeChange(uint64_t session_id, const IpAddress& node, int64_t now_ns);
  // The bearer's QoS changed: the QCI (1..255) and, when given, the ARP (TS 29.274 octet; not
  // given: unchanged). To the values the session already has it is no change: ignored and
  // counted (ChargingCounters::qos_changes_ignored). QCI 0 is not a QCI: ignored.
  void qosChange(uint64_t session_id, uint8_t qci, int64_t now_ns,
                 std::optional<uint8_t> arp = std::nullopt);
  // A provisioned identity for an open session (docs/charging.md "Subscriber identity"): imsi,
  // msisdn, imei, apn and cc_profile of `info` replace the session's, in the open record and
  // every later one (records closed before keep theirs); the CC profile's triggers apply from
  // now on. A QCI (not 0) other than the current one is a QoS change.
  void identify(uint64_t session_id, const ChargingSessionInfo& info, uint8_t qci,
                int64_t now_ns);
  // Time triggers: interval, sdf_interval, tariff times. Call at least once per poll.
  void tick(int64_t now_ns);
  // Final record of the session; the session is forgotten.
  void close(uint64_t session_id, cdr::Cause cause, int64_t now_ns);

  // Crash checkpoint (bill_pool.h): every open record as it would be if the session were lost
  // now - a partial record with cause abnormalRelease holding the usage so far - without
  // changing anything (no number is taken: local_sequence_number is 0; the record's own
  // recordSequenceNumber is the one it will have). Sessions with no usage in their open record
  // are left out.
  std::vector<cdr::PgwRecord> snapshotOpen(int64_t now_ns) const;

  bool has(uint64_t session_id) const;
  std::optional<OpenCdrView> view(uint64_t session_id) const;
  size_t openSessions() const;
  const ChargingCounters& counters() const { return counters_; }

 private:
  struct State;
  // Opens the session's next record at now_ns; its serving-node list starts with the session's
  // current serving node (empty when there is none).
  void startRecord(State& st, int64_t now_ns);
  // Closes every open container, fills the closing fields and emits the record.
  void closeRecord(State& st, cdr::Cause cause, int64_t now_ns, bool final);
  // closeRecord() without numbering or emitting: the record st would close as (st is left with
  // its containers closed).
  static cdr::PgwRecord finishRecord(State& st, cdr::Cause cause, int64_t now_ns, bool final);
  // closeRecord() as a partial record, then startRecord() at the same instant.
  void closePartial(State& st, cdr::Cause cause, int64_t now_ns);
  // The ServingNodeType of a serving node: node.access_node_type for node.access_node_address,
  // gTPSGW for any other (a GTP-U peer, or a node given by `session handover`).
  cdr::ServingNodeType nodeType(const IpAddress& node) const;

  const Config& config_;
  TimeZonePtr tz_;
  RecordSink& sink_;
  SequenceSource& seq_;
  std::unordered_map<uint64_t, std::unique_ptr<State>> sessions_;
  ChargingCounters counters_;
};

}  // namespace tally
