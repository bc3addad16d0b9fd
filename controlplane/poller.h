#pragma once
// The control-plane poller: runs on the main lcore (never on a worker core). Every
// poll_interval_ms it reads every worker's published statistics, drains the workers' W2c event
// queues, reads every tracked flow counter and attributes the delta against its baseline to the
// flow's session and rating group. It owns all sessions; it is single-threaded (no locks).
//
// Conservation (docs/counting.md): total counted octets (workers) = attributed (sessions) +
// unattributed (named counters), exactly once the workers are stopped, and "attributed +
// unattributed >= counted" at every poll (the difference is traffic counted after the
// statistics snapshot was taken).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <functional>
#include <queue>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "shared/counting_plan.h"
#include "shared/clock.h"
#include "controlplane/identity/identity.h"
#include "shared/config.h"
#include "shared/counters.h"
#include "shared/events.h"
#include "shared/lazy_array.h"
#include "shared/stats.h"

namespace tally {

// What the poller needs of one worker. All memory is owned elsewhere and outlives the poller.
struct WorkerChannel {
  const CounterSlab* slab = nullptr;
  const WorkerStats* stats = nullptr;  // published by the worker
  W2cQueue* w2c = nullptr;             // consumer side: the poller
  C2wQueue* c2w = nullptr;             // producer side: the poller
};

// kRadius: RADIUS accounting ended it (start_fail offline: refused; interim_fail offline).
enum class EndCause : uint8_t { kNone, kIdleTimeout, kManagement, kLogout, kRadius };
const char* endCauseName(EndCause c);

enum class Unattributed : uint8_t {
  kLearnDisabled,   // address in a pool, learning off, not a static subscriber
  kSessionsFull,    // max_sessions reached
  kNoIdentity,      // subscribers.unknown_identity: hold, and no identity yet
  kRadiusRefused,   // RADIUS start_fail offline: refused (its packets are not forwarded)
  kCount
};

struct Session {
  bool billed = true;       // false: a pseudo-session whose usage is unattributed
  Unattributed reason = Unattributed::kLearnDisabled;  // when !billed
  bool ending = false;
  bool charging_open = false;  // the observer has seen onOpen
  uint8_t qci = 0;             // last QoS class set by the operator; 0 = none
  // Last poll that saw usage. Kept per worker slot while the session holds one and brought
  // here when it is asked for (Poller::findSession, sessions(), the idle check, a release).
  mutable int64_t last_activity_mono_ns = 0;
  mutable int64_t last_activity_wall_ns = 0;
  // By rating-group index (storage: the SessionArena). `usage` is the whole session's, brought
  // up to date when asked for (like the activity); `settled` is the part from slots already
  // released (the rest is in the poller's baselines of the slots the session holds).
  std::span<FlowCounters> usage;
  std::span<FlowCounters> settled;
  uint64_t id = 0;
  IpAddress key;            // IPv4 address or IPv6 prefix (ipv6_prefix_length)
  bool is_static = false;
  std::string user_name, imsi, msisdn;
  std::string imei, apn;    // from a provisioned identity (apn empty: accounting.cdr.apn)
  bool identified = false;  // a provisioned identity applies (`session identify`)
  uint8_t cc_profile = 8;
  // The CC profile came with the session from the control plane that serves it (`session
  // identify --cc-profile`): chChSelectionMode servingNodeSupplied. A profile from tally's own
  // configuration (a static subscriber's, or the default) is homeDefault.
  bool cc_profile_supplied = false;
  int64_t start_wall_ns = 0;
  EndCause cause = EndCause::kNone;
  std::vector<std::pair<uint16_t, uint32_t>> slots;  // (worker, slot) holding its counts
  uint32_t pending_releases = 0;
  std::optional<IpAddress> serving_node;  // last GTP-U outer source seen uplink (or set by CLI)
  uint32_t arena_index = UINT32_MAX;      // UINT32_MAX: allocated on the heap
};

// Where sessions and their usage live: two lazily backed mappings on transparent huge pages,
// so that a poll attributing changes to sessions all over the table does not miss the TLB on
// every one (docs/performance.md). Freed indices are reused first (a free stack); beyond the
// capacity (cannot happen: every session holds a worker slot) sessions go to the heap.
class SessionArena;
struct SessionDeleter {
  SessionArena* arena = nullptr;
  void operator()(Session* s) const;
};
using SessionPtr = std::unique_ptr<Session, SessionDeleter>;

class SessionArena {
 public:
  SessionArena(size_t capacity, uint32_t rating_groups);
  SessionArena(const SessionArena&) = delete;
  SessionArena& operator=(const SessionArena&) = delete;
  SessionPtr create();  // usage zeroed, sized rating_groups
  void destroy(Session* s);

 private:
  size_t capacity_;
  uint32_t n_rg_;
  LazyMapping sessions_;
  LazyMapping usage_;
  size_t next_ = 0;             // indices below it have been used
  std::vector<uint32_t> free_;  // freed indices
};

// What the biller (controlplane/charging/biller.h) and any other observer hear about billed
// sessions. Called on the control-plane thread, in this order per session: onOpen (with its
// first usage, so that the serving node learned with the first packets is known), onUsage*,
// onServingNode*, onQosChange*, onEnd. Unbilled pseudo-sessions are never reported.
class SessionObserver {
 public:
  virtual ~SessionObserver() = default;
  virtual void onOpen(const Session& s, int64_t now_ns) = 0;
  virtual void onUsage(const Session& s, uint32_t rating_group, const FlowCounters& delta,
                       int64_t now_ns) = 0;
  virtual void onServingNode(const Session& s, const IpAddress& node, int64_t now_ns) = 0;
  virtual void onQosChange(const Session& s, uint8_t qci, int64_t now_ns) = 0;
  // The QCI the session's open records carry now (the charging engine's), or none: lets
  // `session qos-change` say when a change to that QCI is ignored.
  virtual std::optional<uint8_t> chargingQci(const Session& s) const {
    (void)s;
    return std::nullopt;
  }
  virtual void onEnd(const Session& s, EndCause cause, int64_t now_ns) = 0;
  virtual void onTick(int64_t now_ns) = 0;
  // A provisioned identity now applies to a session whose records are open (its fields in the
  // Session; `qci`: the identity's QCI, 0 = none): from now on, the open record included.
  virtual void onIdentity(const Session& s, uint8_t qci, int64_t now_ns) {
    (void)s;
    (void)qci;
    (void)now_ns;
  }
};

// What Poller::identify did.
enum class IdentifyOutcome : uint8_t {
  kWaiting,   // stored; no session yet: the session takes it when it opens
  kApplied,   // stored and applied to the subscriber's live session
  kReleased,  // stored; the session held without identity (unknown_identity: hold) is billed now
  kRemoved,   // the identity was removed (the live session keeps what it has)
  kNotFound,  // removal of an identity that is not there
  kStatic,    // the address is a static subscriber: its identity is in the configuration
  kFull,      // the table holds dataplane.max_sessions identities
};

// Totals across workers (sums of WorkerStats) plus the control plane's own figures.
struct Statistics {
  std::array<uint64_t, size_t(Stat::kCount)> worker{};
  std::vector<PortStats> ports;  // by config port index
  uint64_t attributed_octets = 0;
  uint64_t attributed_packets = 0;
  std::array<uint64_t, size_t(Unattributed::kCount)> unattributed_octets{};
  std::array<uint64_t, size_t(Unattributed::kCount)> unattributed_packets{};
  uint64_t unattributedOctets() const;   // all named unattributed counters, octets
  uint64_t unattributedPackets() const;
  uint64_t polls = 0;
  // When the worker counters above (`worker`, `ports`) were read: the last poll's start, on
  // the poller's monotonic clock (CLOCK_MONOTONIC in tallyd). A reader that computes rates from
  // them takes this time, not the time of its request: a request is answered between polls.
  uint64_t counters_read_mono_ns = 0;
  uint64_t last_poll_ns = 0;       // duration of the last poll
  uint64_t max_poll_ns = 0;
  uint64_t sessions_active = 0;
  uint64_t sessions_created = 0;
  uint64_t sessions_ended = 0;
  uint64_t tracked_flows = 0;
  uint64_t conservation_checks = 0;
  uint64_t conservation_deferred = 0;   // a slot release was mid-flight: checked next poll
  uint64_t conservation_violations = 0;
  int64_t conservation_last_gap = 0;    // attributed + unattributed - counted, last poll
  uint64_t sessions_full_alarms = 0;
  // Packet buffers not back in the pool after the ports were closed (a leak); -1 = not known.
  int64_t mbufs_in_use_at_exit = -1;
};

// Usage of one flow summed over the whole run (all sessions of the subscriber).
struct FlowUsage {
  IpAddress key;
  uint32_t rating_group = 0;
  FlowCounters counters;
};

class Poller {
 public:
  Poller(const Config& config, const CountingPlan& plan, std::vector<WorkerChannel> workers,
         const Clock& clock);
  Poller(const Poller&) = delete;  // sessions point into its arena
  Poller& operator=(const Poller&) = delete;

  // One poll cycle.
  void poll();
  // After every worker has stopped: drain, poll once more, end every session
  // (managementIntervention). Returns true when conservation holds exactly.
  bool finalHarvest();

  // Operator action: end a session now (managementIntervention). False if no such session.
  bool endSession(const IpAddress& key, EndCause cause);
  // Operator actions for deployments where the signalling plane knows of a handover or a QoS
  // change. False if the address has no billed session.
  bool servingNodeChange(const IpAddress& address, const IpAddress& node);
  // kIgnored: the session's records already carry that QCI (the engine counts it, nothing
  // closes); kInitial: its records are not open yet, the first one starts with it.
  enum class QosChangeResult : uint8_t { kNoSession, kInitial, kApplied, kIgnored };
  QosChangeResult qosChange(const IpAddress& address, uint8_t qci);
  // A provisioned identity (`session identify`, docs/charging.md "Subscriber identity"): kept
  // by subscriber key, bounded by dataplane.max_sessions; a session takes it when it opens, a
  // live session at once (its open records from now on).
  IdentifyOutcome identify(const IdentityRequest& r);
  const SubscriberIdentity* identityOf(const IpAddress& key) const;
  size_t identityCount() const { return identities_.size(); }
  uint64_t identitiesApplied() const { return identities_applied_; }
  // Every observer hears every event, in the order they were added (the biller, RADIUS
  // accounting, ...). Each must outlive the poller's use of it.
  void addObserver(SessionObserver* observer) { observers_.push_back(observer); }

  // RADIUS accounting start_fail offline (docs/radius.md): the subscriber's billed session ends
  // (EndCause::kRadius) and from now on its packets are not forwarded by any worker (C2w
  // kRefuse) and their usage is unattributed (radius_refused) until admit(). False when the
  // refusal cannot be stored (IPv6: FastPath::kRefused6Max subscribers refused already).
  bool refuse(const IpAddress& key);
  // Lifts a refusal: the workers forward again, and the subscriber's next packet starts a new
  // billed session. False if the key was not refused.
  bool admit(const IpAddress& key);
  size_t refusedCount() const { return refused_.size(); }
  bool isRefused(const IpAddress& key) const { return refused_.count(key) != 0; }

  const Statistics& statistics() const { return stats_; }
  // Set by the DPDK runtime at exit, after the ports are closed.
  void setMbufsInUseAtExit(int64_t n) { stats_.mbufs_in_use_at_exit = n; }
  const Session* findSession(const IpAddress& address) const;  // any address of the subscriber
  std::vector<const Session*> sessions() const;                 // billed and pseudo, by id
  // For a display in steps (the control socket): the session with the lowest id above `id`,
  // brought up to date (nullptr when there is none), in O(log sessions); and the newest id
  // given so far (0: none yet).
  const Session* sessionAfter(uint64_t id) const;
  uint64_t newestSessionId() const { return next_session_id_ - 1; }
  std::vector<FlowUsage> usage() const;                         // billed usage of the whole run
  const CountingPlan& plan() const { return plan_; }
  const Config& config() const { return config_; }
  size_t workerCount() const { return workers_.size(); }

 private:
  // The poller's view of one slot of a worker's slab (zero = free).
  struct SlotInfo {
    Session* session = nullptr;  // nullptr: free, or taken by the worker and not announced yet
    int64_t last_mono_ns = 0;       // last poll that saw usage in this slot
    int64_t last_wall_ns = 0;
    uint32_t flows = 0;          // flows announced (kFlowLearned) since the slot was taken
    bool ending = false;         // a release is requested: settled by the worker's final counts
    bool billed = false;         // copies of the session's (fixed at creation)
    Unattributed reason = Unattributed::kLearnDisabled;
  };
  struct Worker {
    WorkerChannel ch;
    // What has been attributed of each flow, laid out as the worker's slab (slot x rating
    // group), so that a poll compares two arrays front to back (docs/performance.md).
    std::unique_ptr<CounterSlab> baselines;
    std::unique_ptr<LazyArray<SlotInfo>> slots;  // by slot
    // By slot: the rating groups announced (bit = rating-group index; all bits when more than
    // 64 are configured). The scan reads only these flows. Zero = nothing to read.
    std::unique_ptr<LazyArray<uint64_t>> masks;
    uint32_t slot_end = 0;  // 1 + the highest slot announced so far: the scan range
    std::vector<C2wCommand> pending_commands;  // C2w queue was full
  };
  struct KeyHash {
    size_t operator()(const IpAddress& a) const noexcept {
      return std::hash<uint64_t>()(a.v4 ^ a.v6.hi ^ (a.v6.lo * 31) ^ a.family);
    }
  };
  struct UsageKey {
    IpAddress key;
    uint32_t rating_group;
    bool operator<(const UsageKey& o) const;
  };

  void readWorkerStats();
  void drainEvents(uint16_t w);
  void onFlowLearned(uint16_t w, const W2cEvent& ev);
  void onFlowReleased(uint16_t w, const W2cEvent& ev);
  void onSlotReleased(uint16_t w, const W2cEvent& ev);
  void onServingNodeEvent(uint16_t w, const W2cEvent& ev);
  void setServingNode(Session* s, const IpAddress& node);
  // false when a flow could not be read (a release is mid-flight). include_ending: also the
  // flows of ending sessions (only when the workers are stopped).
  bool scanFlows(uint16_t w, bool include_ending);
  void attribute(SlotInfo& si, uint8_t rg, const FlowCounters& delta);
  // Brings the session's usage and last activity up to date from the slots it holds.
  void syncSession(const Session& s) const;
  static void foldActivity(const SlotInfo& si, const Session& s);  // the later of the two
  Session* sessionFor(const IpAddress& key);
  void clearSlot(Worker& wk, uint32_t slot);
  void endSessionInternal(Session* s, EndCause cause, bool workers_running);
  void finalizeSession(Session* s);
  void sendCommands(Worker& wk);
  void checkIdle();
  void checkConservation(bool exact, bool raced);

  Config config_;
  const CountingPlan& plan_;
  std::vector<Worker> workers_;
  const Clock& clock_;
  int64_t idle_timeout_ns_;
  int64_t next_idle_check_ns_ = 0;
  // (deadline, session id), earliest first: when to look at a session's last activity again.
  std::priority_queue<std::pair<int64_t, uint64_t>, std::vector<std::pair<int64_t, uint64_t>>,
                      std::greater<>>
      idle_queue_;

  uint64_t next_session_id_ = 1;
  SessionArena arena_;  // before sessions_: outlives them
  std::map<uint64_t, SessionPtr> sessions_;  // by id: ordered, for displays in steps
  std::unordered_map<IpAddress, Session*, KeyHash> by_key_;        // live (not ending) only
  std::unordered_map<IpAddress, const StaticSubscriber*, KeyHash> statics_;
  std::unordered_map<IpAddress, SubscriberIdentity, KeyHash> identities_;  // by subscriber key
  std::unordered_set<IpAddress, KeyHash> refused_;  // RADIUS start_fail offline
  uint64_t refused_v6_ = 0;
  // Set while refuse()/admit() end a session: its slot releases carry the refusal (+1) or the
  // admission (-1) (C2wCommand::refusal).
  int8_t release_refusal_ = 0;
  // refuse()/admit(): the change to every worker, with the release on those holding a slot.
  void sendRefusal(const IpAddress& key, bool refuse, Session* ending);
  uint64_t identities_applied_ = 0;  // to sessions (at their opening or live)
  static void applyIdentity(Session& s, const SubscriberIdentity& id, uint8_t default_cc);
  std::map<UsageKey, FlowCounters> archive_;  // usage of finished billed sessions
  uint64_t billed_sessions_ = 0;              // counted against max_sessions
  bool sessions_full_alarm_ = false;
  std::vector<SessionObserver*> observers_;
  template <typename F>
  void notify(F&& event) {
    for (SessionObserver* o : observers_) {
      event(*o);
    }
  }
  uint64_t ending_sessions_ = 0;  // sessions waiting for their slot releases
  // The clock, read once per poll (time stamps have the poll's resolution anyway).
  int64_t now_mono_ns_ = 0;
  int64_t now_wall_ns_ = 0;
  Statistics stats_;
};

}  // namespace tally
