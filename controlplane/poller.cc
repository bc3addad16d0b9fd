#include "controlplane/poller.h"

#include <algorithm>
#include <cstdio>
#include <new>

#include "controlplane/log.h"

namespace tally {

const char* endCauseName(EndCause c) {
  switch (c) {
    case EndCause::kNone:
      return "none";
    case EndCause::kIdleTimeout:
      return "idle-timeout";
    case EndCause::kManagement:
      return "management-intervention";
    case EndCause::kLogout:
      return "logout";
    case EndCause::kRadius:
      return "radius";
  }
  return "?";
}

uint64_t Statistics::unattributedOctets() const {
  uint64_t sum = worker[size_t(Stat::kLearnQueueFullOctets)] +
                 worker[size_t(Stat::kSlotTableFullOctets)];
  for (uint64_t v : unattributed_octets) {
    sum += v;
  }
  return sum;
}

uint64_t Statistics::unattributedPackets() const {
  uint64_t sum = worker[size_t(Stat::kLearnQueueFullPackets)] +
                 worker[size_t(Stat::kSlotTableFullPackets)];
  for (uint64_t v : unattributed_packets) {
    sum += v;
  }
  return sum;
}

bool Poller::UsageKey::operator<(const UsageKey& o) const {
  auto t = [](const UsageKey& k) {
    return std::tuple(k.key.family, k.key.v4, k.key.v6.hi, k.key.v6.lo, k.rating_group);
  };
  return t(*this) < t(o);
}

SessionArena::SessionArena(size_t capacity, uint32_t rating_groups)
    : capacity_(capacity), n_rg_(rating_groups), sessions_(capacity * sizeof(Session)),
      usage_(capacity * 2 * rating_groups * sizeof(FlowCounters)) {
  if (!sessions_.ok() || !usage_.ok()) {
    capacity_ = 0;  // everything on the heap
  }
}

SessionPtr SessionArena::create() {
  uint32_t idx = UINT32_MAX;
  if (!free_.empty()) {
    idx = free_.back();
    free_.pop_back();
  } else if (next_ < capacity_) {
    idx = uint32_t(next_++);
  }
  Session* s = nullptr;
  FlowCounters* usage = nullptr;
  if (idx == UINT32_MAX) {
    s = new Session();
    usage = new FlowCounters[2 * n_rg_]();
  } else {
    s = new (static_cast<Session*>(sessions_.data()) + idx) Session();
    usage = static_cast<FlowCounters*>(usage_.data()) + size_t(idx) * 2 * n_rg_;  // zero
  }
  s->arena_index = idx;
  s->usage = std::span<FlowCounters>(usage, n_rg_);
  s->settled = std::span<FlowCounters>(usage + n_rg_, n_rg_);
  return SessionPtr(s, SessionDeleter{this});
}

void SessionArena::destroy(Session* s) {
  uint32_t idx = s->arena_index;
  if (idx == UINT32_MAX) {
    delete[] s->usage.data();
    delete s;
    return;
  }
  std::fill(s->usage.data(), s->usage.data() + 2 * n_rg_, FlowCounters{});
  s->~Session();
  free_.push_back(idx);
}

void SessionDeleter::operator()(Session* s) const {
  if (arena != nullptr) {
    arena->destroy(s);
  }
}

Poller::Poller(const Config& config, const CountingPlan& plan, std::vector<WorkerChannel> workers,
               const Clock& clock)
    : config_(config), plan_(plan), clock_(clock),
      idle_timeout_ns_(int64_t{config.subscribers.idle_timeout_s} * 1000000000),
      // Every session holds at least one worker slot until it is finalized.
      arena_(workers.size() * size_t(plan.geometry.slots), plan.geometry.rating_groups) {
  for (const WorkerChannel& ch : workers) {
    Worker w;
    w.ch = ch;
    w.baselines = std::make_unique<CounterSlab>(plan_.geometry);
    w.slots = std::make_unique<LazyArray<SlotInfo>>(plan_.geometry.slots);
    w.masks = std::make_unique<LazyArray<uint64_t>>(plan_.geometry.slots);
    if (!w.baselines->ok() || !w.slots->ok() || !w.masks->ok()) {
      throw std::bad_alloc();
    }
    workers_.push_back(std::move(w));
  }
  for (const StaticSubscriber& s : config_.subscribers.statics) {
    statics_[plan_.keyOf(s.address)] = &s;
  }
  stats_.ports.resize(config_.dataplane.ports.size());
  next_idle_check_ns_ = clock_.monotonicNs();
}

void Poller::readWorkerStats() {
  std::array<uint64_t, size_t(Stat::kCount)> sum{};
  std::vector<PortStats> ports(stats_.ports.size());
  for (Worker& w : workers_) {
    const WorkerStats& ws = *w.ch.stats;
    // Acquire: every flow-counter store the worker made before this publish is visible.
    (void)std::atomic_ref<const uint64_t>(ws.bursts).load(std::memory_order_acquire);
    for (size_t i = 0; i < sum.size(); ++i) {
      sum[i] += loadCounter(ws.c[i]);
    }
    for (size_t p = 0; p < ports.size() && p < kMaxPorts; ++p) {
      ports[p].rx_packets += loadCounter(ws.port[p].rx_packets);
      ports[p].tx_packets += loadCounter(ws.port[p].tx_packets);
      ports[p].tx_drops += loadCounter(ws.port[p].tx_drops);
      ports[p].tap_drops += loadCounter(ws.port[p].tap_drops);
      ports[p].refused_drops += loadCounter(ws.port[p].refused_drops);
    }
  }
  stats_.worker = sum;
  stats_.ports = ports;
  stats_.counters_read_mono_ns = uint64_t(now_mono_ns_);  // its callers set it first
}

void Poller::poll() {
  int64_t t0 = clock_.monotonicNs();
  now_mono_ns_ = t0;
  now_wall_ns_ = clock_.wallNs();
  auto wall0 = std::chrono::steady_clock::now();
  readWorkerStats();
  bool raced = false;
  for (uint16_t w = 0; w < workers_.size(); ++w) {
    drainEvents(w);
  }
  for (uint16_t w = 0; w < workers_.size(); ++w) {
    raced |= !scanFlows(w, false);
  }
  for (Worker& wk : workers_) {
    sendCommands(wk);
    raced |= !wk.pending_commands.empty();
  }
  raced |= ending_sessions_ != 0;  // a release is mid-flight
  checkConservation(false, raced);
  for (SessionObserver* o : observers_) {
    o->onTick(clock_.wallNs());
  }
  if (t0 >= next_idle_check_ns_) {
    checkIdle();
    next_idle_check_ns_ = t0 + 1000000000;  // idle timeouts are whole seconds
  }
  ++stats_.polls;
  stats_.last_poll_ns = uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now() - wall0)
                                     .count());
  stats_.max_poll_ns = std::max(stats_.max_poll_ns, stats_.last_poll_ns);
}

void Poller::drainEvents(uint16_t w) {
  W2cEvent ev;
  while (workers_[w].ch.w2c->pop(ev)) {
    switch (ev.type) {
      case W2cType::kFlowLearned:
        onFlowLearned(w, ev);
        break;
      case W2cType::kFlowReleased:
        onFlowReleased(w, ev);
        break;
      case W2cType::kSlotReleased:
        onSlotReleased(w, ev);
        break;
      case W2cType::kServingNode:
        onServingNodeEvent(w, ev);
        break;
    }
  }
}

Session* Poller::sessionFor(const IpAddress& key) {
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {
    return it->second;
  }
  auto st = statics_.find(key);
  const StaticSubscriber* stat = st == statics_.end() ? nullptr : st->second;
  SessionPtr s = arena_.create();
  s->id = next_session_id_++;
  s->key = key;
  s->start_wall_ns = clock_.wallNs();
  s->last_activity_mono_ns = clock_.monotonicNs();
  s->last_activity_wall_ns = s->start_wall_ns;
  s->cc_profile = config_.subscribers.default_cc_profile;
  if (stat == nullptr) {
    if (auto id = identities_.find(key); id != identities_.end()) {
      applyIdentity(*s, id->second, config_.subscribers.default_cc_profile);
      s->qci = id->second.qci;  // its records' initial QCI (0: the CC profile's)
      ++identities_applied_;
    }
  }
  if (stat != nullptr) {
    s->is_static = true;
    s->user_name = stat->user_name;
    s->imsi = stat->imsi;
    s->msisdn = stat->msisdn;
    if (stat->cc_profile != 0) {
      s->cc_profile = stat->cc_profile;
    }
  }
  // A provisioned identity makes its address known, like a static subscriber (learn: false).
  if (!refused_.empty() && refused_.count(key) != 0) {
    s->billed = false;
    s->reason = Unattributed::kRadiusRefused;
  } else if (stat == nullptr && !s->identified && !config_.subscribers.learn) {
    s->billed = false;
    s->reason = Unattributed::kLearnDisabled;
  } else if (stat == nullptr && !s->identified &&
             config_.subscribers.unknown_identity == SubscribersConfig::UnknownIdentity::kHold) {
    // Held: counted as unattributed (no_identity) until an identity arrives (identify()).
    s->billed = false;
    s->reason = Unattributed::kNoIdentity;
  } else if (billed_sessions_ >= config_.dataplane.max_sessions) {
    s->billed = false;
    s->reason = Unattributed::kSessionsFull;
    if (!sessions_full_alarm_) {
      sessions_full_alarm_ = true;
      ++stats_.sessions_full_alarms;
      logAlarm("session table full: max_sessions=" +
               std::to_string(config_.dataplane.max_sessions) +
               " reached; usage of new subscribers goes to unattributed_octets (sessions_full)");
    }
  }
  if (s->billed) {
    ++billed_sessions_;
    ++stats_.sessions_created;
  }
  Session* raw = s.get();
  by_key_[key] = raw;
  if (idle_timeout_ns_ != 0) {
    idle_queue_.emplace(raw->last_activity_mono_ns + idle_timeout_ns_, raw->id);
  }
  sessions_[raw->id] = std::move(s);
  return raw;
}

void Poller::onFlowLearned(uint16_t w, const W2cEvent& ev) {
  Worker& wk = workers_[w];
  if (ev.slot >= plan_.geometry.slots || ev.rg_index >= plan_.geometry.rating_groups) {
    return;
  }
  SlotInfo& si = (*wk.slots)[ev.slot];
  if (si.session == nullptr) {
    // The worker took the slot for this subscriber (its first flow).
    si.session = sessionFor(ev.key);
    si.billed = si.session->billed;
    si.reason = si.session->reason;
    si.last_mono_ns = si.session->last_activity_mono_ns;
    si.last_wall_ns = si.session->last_activity_wall_ns;
    si.session->slots.emplace_back(w, ev.slot);
    wk.slot_end = std::max(wk.slot_end, ev.slot + 1);
  }
  ++si.flows;
  ++stats_.tracked_flows;
  uint64_t& m = (*wk.masks)[ev.slot];
  m = plan_.geometry.rating_groups > 64 ? ~uint64_t{0} : m | (uint64_t{1} << ev.rg_index);
}

void Poller::onFlowReleased(uint16_t w, const W2cEvent& ev) {
  Worker& wk = workers_[w];
  if (ev.slot >= plan_.geometry.slots || ev.rg_index >= plan_.geometry.rating_groups) {
    return;
  }
  SlotInfo& si = (*wk.slots)[ev.slot];
  if (si.session == nullptr) {
    return;
  }
  // The baseline was last updated before the release was requested, so final >= baseline.
  FlowCounters& b = wk.baselines->flow(ev.slot, ev.rg_index);
  FlowCounters delta = ev.final - b;
  b = ev.final;
  attribute(si, ev.rg_index, delta);
}

void Poller::clearSlot(Worker& wk, uint32_t slot) {
  SlotInfo& si = (*wk.slots)[slot];
  Session* s = si.session;
  if (s != nullptr) {
    foldActivity(si, *s);  // the slot's last activity stays the session's
  }
  stats_.tracked_flows -= si.flows;
  si = SlotInfo{};
  (*wk.masks)[slot] = 0;
  for (uint32_t rg = 0; rg < plan_.geometry.rating_groups; ++rg) {
    FlowCounters& b = wk.baselines->flow(slot, rg);
    if (s != nullptr) {
      s->settled[rg] += b;  // the slot's usage is the session's for good
    }
    b = FlowCounters{};  // the worker zeroed its counters too
  }
  if (s != nullptr) {
    syncSession(*s);
  }
}

void Poller::onSlotReleased(uint16_t w, const W2cEvent& ev) {
  Worker& wk = workers_[w];
  if (ev.slot >= plan_.geometry.slots) {
    return;
  }
  Session* s = (*wk.slots)[ev.slot].session;
  clearSlot(wk, ev.slot);
  if (s != nullptr && s->pending_releases > 0 && --s->pending_releases == 0 && s->ending) {
    finalizeSession(s);
  }
}

void Poller::onServingNodeEvent(uint16_t w, const W2cEvent& ev) {
  if (ev.slot >= plan_.geometry.slots) {
    return;
  }
  Session* s = (*workers_[w].slots)[ev.slot].session;
  if (s != nullptr) {
    setServingNode(s, ev.serving_node);
  }
}

void Poller::setServingNode(Session* s, const IpAddress& node) {
  if (s->serving_node && *s->serving_node == node) {
    return;
  }
  s->serving_node = node;
  if (s->billed && s->charging_open && !s->ending) {
    notify([&](SessionObserver& o) { o.onServingNode(*s, node, clock_.wallNs()); });
  }
}

bool Poller::servingNodeChange(const IpAddress& address, const IpAddress& node) {
  auto it = by_key_.find(plan_.keyOf(address));
  if (it == by_key_.end() || !it->second->billed) {
    return false;
  }
  setServingNode(it->second, node);
  return true;
}

Poller::QosChangeResult Poller::qosChange(const IpAddress& address, uint8_t qci) {
  auto it = by_key_.find(plan_.keyOf(address));
  if (it == by_key_.end() || !it->second->billed) {
    return QosChangeResult::kNoSession;
  }
  Session* s = it->second;
  s->qci = qci;
  if (!s->charging_open) {
    return QosChangeResult::kInitial;
  }
  std::optional<uint8_t> current;
  for (const SessionObserver* o : observers_) {
    if (!current) {
      current = o->chargingQci(*s);
    }
  }
  notify([&](SessionObserver& o) { o.onQosChange(*s, qci, clock_.wallNs()); });
  return current && *current == qci ? QosChangeResult::kIgnored : QosChangeResult::kApplied;
}

void Poller::applyIdentity(Session& s, const SubscriberIdentity& id, uint8_t default_cc) {
  s.identified = true;
  s.imsi = id.imsi;
  s.msisdn = id.msisdn;
  s.user_name = id.user_name;
  s.imei = id.imei;
  s.apn = id.apn;
  s.cc_profile = id.cc_profile != 0 ? id.cc_profile : default_cc;
  s.cc_profile_supplied = id.cc_profile != 0;
}

const SubscriberIdentity* Poller::identityOf(const IpAddress& key) const {
  auto it = identities_.find(key);
  return it == identities_.end() ? nullptr : &it->second;
}

IdentifyOutcome Poller::identify(const IdentityRequest& r) {
  if (statics_.count(r.key) != 0) {
    return IdentifyOutcome::kStatic;
  }
  if (r.remove) {
    // The live session keeps the identity it has (its records are billed to it); the next
    // session of the address has none.
    return identities_.erase(r.key) != 0 ? IdentifyOutcome::kRemoved : IdentifyOutcome::kNotFound;
  }
  auto it = identities_.find(r.key);
  if (it == identities_.end()) {
    if (identities_.size() >= config_.dataplane.max_sessions) {
      return IdentifyOutcome::kFull;
    }
    it = identities_.emplace(r.key, r.identity).first;
  } else {
    it->second = r.identity;
  }
  auto live = by_key_.find(r.key);
  if (live == by_key_.end()) {
    return IdentifyOutcome::kWaiting;
  }
  Session* s = live->second;
  applyIdentity(*s, r.identity, config_.subscribers.default_cc_profile);
  ++identities_applied_;
  if (!s->billed &&
      (s->reason == Unattributed::kNoIdentity || s->reason == Unattributed::kLearnDisabled) &&
      billed_sessions_ < config_.dataplane.max_sessions) {
    // Held without identity (or unknown with learn: false): billed from now on; its usage so
    // far stays unattributed (no_identity / learn_disabled); its records open with its next
    // usage.
    s->billed = true;
    ++billed_sessions_;
    ++stats_.sessions_created;
    for (auto [w, slot] : s->slots) {
      SlotInfo& si = (*workers_[w].slots)[slot];
      if (si.session == s) {
        si.billed = true;
      }
    }
    if (r.identity.qci != 0) {
      s->qci = r.identity.qci;
    }
    return IdentifyOutcome::kReleased;
  }
  if (!s->billed) {
    return IdentifyOutcome::kApplied;
  }
  if (!s->charging_open) {
    if (r.identity.qci != 0) {
      s->qci = r.identity.qci;  // the initial QCI of its records (Biller::onOpen)
    }
    return IdentifyOutcome::kApplied;
  }
  if (r.identity.qci != 0) {
    s->qci = r.identity.qci;
  }
  const int64_t now = clock_.wallNs();
  notify([&](SessionObserver& o) { o.onIdentity(*s, r.identity.qci, now); });
  return IdentifyOutcome::kApplied;
}

bool Poller::scanFlows(uint16_t w, bool include_ending) {
  Worker& wk = workers_[w];
  const FlowCounters* counters = wk.ch.slab->flows();
  FlowCounters* baselines = wk.baselines->flows();
  const uint32_t n_rg = plan_.geometry.rating_groups;
  bool clean = true;
  // Slab and baselines front to back (the hardware prefetchers stream them); a flow whose
  // counters equal its baseline costs a compare. Only the announced flows of a slot are read
  // (its mask), so rating groups a subscriber never used cost nothing. A change touches only
  // the slot's info unless the biller listens: the baseline is the usage.
  auto check = [&](uint32_t slot, uint32_t rg) {
    const size_t i = size_t(slot) * n_rg + rg;
    FlowCounters cur = loadFlow(counters[i]);
    FlowCounters& b = baselines[i];
    if (cur == b) [[likely]] {
      return;
    }
    SlotInfo& si = (*wk.slots)[slot];
    if (si.ending && !include_ending) {
      // A release is requested: the worker may zero the slot at any moment and count new
      // packets into it, so a read cannot tell old from new. The flow is settled exactly by
      // the final counts of kFlowReleased (final - baseline).
      clean = false;
      return;
    }
    if (cur.ul_packets < b.ul_packets || cur.dl_packets < b.dl_packets ||
        cur.ul_octets < b.ul_octets || cur.dl_octets < b.dl_octets) {
      // Cannot happen for a flow that is not being released (counters only go up); be safe.
      clean = false;
      return;
    }
    FlowCounters delta = cur - b;
    b = cur;
    attribute(si, uint8_t(rg), delta);
  };
  const uint64_t* masks = wk.masks->data();
  // More than 64 rating groups: the masks are all ones, every flow is read.
  const bool dense_scan = n_rg <= 8 || n_rg > 64;
  constexpr uint32_t kAhead = 16;
  for (uint32_t slot = 0; slot < wk.slot_end; ++slot) {
    uint64_t m = masks[slot];
    if (m == 0) {
      // Free, or taken by the worker after this poll drained its events: announced (and its
      // counts attributed) next poll.
      continue;
    }
    if (dense_scan) {
      // Few rating groups: the slot's flows span at most 4 cache lines, and reading them all
      // keeps the access sequential (the hardware prefetchers stream it); picking the
      // announced ones out made a scan of 1 M one-rating-group slots 2x slower.
      for (uint32_t rg = 0; rg < n_rg; ++rg) {
        check(slot, rg);
      }
      continue;
    }
    // The announced flows lie anywhere in the slot's stretch: the hardware prefetchers do not
    // follow, so fetch the flows kAhead slots ahead.
    if (slot + kAhead < wk.slot_end) {
      for (uint64_t a = masks[slot + kAhead]; a != 0; a &= a - 1) {
        const size_t j = size_t(slot + kAhead) * n_rg + uint32_t(__builtin_ctzll(a));
        __builtin_prefetch(&counters[j]);
        __builtin_prefetch(&baselines[j], 1);
      }
    }
    do {
      check(slot, uint32_t(__builtin_ctzll(m)));
      m &= m - 1;
    } while (m != 0);
  }
  return clean;
}

void Poller::attribute(SlotInfo& si, uint8_t rg, const FlowCounters& d) {
  // A reader can see a flow between its owner's octet store and its packet store, so a delta
  // may carry octets without packets (the packet arrives with the next poll): still usage.
  if (d == FlowCounters{}) {
    return;
  }
  // The session object itself is not touched unless an observer (the biller) listens: the
  // session's usage in this slot is the slot's baselines, its activity is kept per slot; both
  // are brought to the session when asked for (syncSession).
  si.last_mono_ns = now_mono_ns_;
  si.last_wall_ns = now_wall_ns_;
  if (si.billed) {
    stats_.attributed_octets += d.octets();
    stats_.attributed_packets += d.ul_packets + d.dl_packets;
    if (!observers_.empty()) {
      Session* s = si.session;
      int64_t now = now_wall_ns_;
      if (!s->charging_open) {
        s->charging_open = true;
        // A QCI known before this first usage (`session qos-change`, a provisioned identity)
        // is in s->qci: the session's initial QoS (Biller::onOpen), not a change of it.
        notify([&](SessionObserver& o) { o.onOpen(*s, now); });
      }
      const uint32_t rating_group = plan_.rating_groups[rg];
      notify([&](SessionObserver& o) { o.onUsage(*s, rating_group, d, now); });
    }
  } else {
    stats_.unattributed_octets[size_t(si.reason)] += d.octets();
    stats_.unattributed_packets[size_t(si.reason)] += d.ul_packets + d.dl_packets;
  }
}

void Poller::foldActivity(const SlotInfo& si, const Session& s) {
  if (si.last_mono_ns > s.last_activity_mono_ns) {
    s.last_activity_mono_ns = si.last_mono_ns;
    s.last_activity_wall_ns = si.last_wall_ns;
  }
}

void Poller::syncSession(const Session& s) const {
  std::copy(s.settled.begin(), s.settled.end(), s.usage.begin());
  for (auto [w, slot] : s.slots) {
    const SlotInfo& si = (*workers_[w].slots)[slot];
    if (si.session != &s) {
      continue;
    }
    for (uint32_t rg = 0; rg < s.usage.size(); ++rg) {
      s.usage[rg] += workers_[w].baselines->flow(slot, rg);
    }
    foldActivity(si, s);
  }
}

void Poller::checkIdle() {
  if (idle_timeout_ns_ == 0) {
    return;
  }
  // Only the sessions whose deadline has come are looked at: a session is checked about once
  // per idle_timeout, not every second (1 M sessions would cost a walk of them all).
  int64_t now = clock_.monotonicNs();
  std::vector<Session*> idle;
  while (!idle_queue_.empty() && idle_queue_.top().first <= now) {
    uint64_t id = idle_queue_.top().second;
    idle_queue_.pop();
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second->ending) {
      continue;  // finished or finishing
    }
    Session* s = it->second.get();
    syncSession(*s);
    int64_t deadline = s->last_activity_mono_ns + idle_timeout_ns_;
    if (deadline <= now) {
      idle.push_back(s);
    } else {
      idle_queue_.emplace(deadline, id);  // active since: check again at its new deadline
    }
  }
  std::sort(idle.begin(), idle.end(), [](auto* a, auto* b) { return a->id < b->id; });
  for (Session* s : idle) {
    endSessionInternal(s, EndCause::kIdleTimeout, true);
  }
}

void Poller::sendRefusal(const IpAddress& key, bool refuse, Session* ending) {
  std::vector<bool> holds(workers_.size(), false);
  if (ending != nullptr) {
    for (auto [w, slot] : ending->slots) {
      holds[w] = true;
    }
    // The releases of its slots carry the change (one step on each worker holding one).
    release_refusal_ = refuse ? 1 : -1;
    endSessionInternal(ending, refuse ? EndCause::kRadius : EndCause::kManagement, true);
    release_refusal_ = 0;
  }
  for (size_t w = 0; w < workers_.size(); ++w) {
    if (holds[w]) {
      continue;
    }
    C2wCommand c;
    c.type = refuse ? C2wType::kRefuse : C2wType::kAdmit;
    c.key = key;
    workers_[w].pending_commands.push_back(c);
    sendCommands(workers_[w]);
  }
}

bool Poller::refuse(const IpAddress& key) {
  if (refused_.count(key) != 0) {
    return true;
  }
  // FastPath::kRefused6Max: the workers' IPv6 refusal set (half of 65,536 slots).
  if (key.family == 6 && refused_v6_ >= 32768) {
    return false;
  }
  refused_.insert(key);
  refused_v6_ += key.family == 6;
  auto it = by_key_.find(key);
  sendRefusal(key, true, it != by_key_.end() ? it->second : nullptr);
  return true;
}

bool Poller::admit(const IpAddress& key) {
  if (refused_.erase(key) == 0) {
    return false;
  }
  refused_v6_ -= key.family == 6;
  // The refused pseudo-session ends with the admission; the next packet learns a billed one.
  auto it = by_key_.find(key);
  sendRefusal(key, false,
              it != by_key_.end() && !it->second->billed ? it->second : nullptr);
  return true;
}

bool Poller::endSession(const IpAddress& address, EndCause cause) {
  IpAddress key = plan_.keyOf(address);
  auto it = by_key_.find(key);
  if (it == by_key_.end()) {
    return false;
  }
  endSessionInternal(it->second, cause, true);
  return true;
}

void Poller::endSessionInternal(Session* s, EndCause cause, bool workers_running) {
  if (!s->ending) {
    ++ending_sessions_;
  }
  s->ending = true;
  s->cause = cause;
  auto it = by_key_.find(s->key);
  if (it != by_key_.end() && it->second == s) {
    by_key_.erase(it);
  }
  if (!workers_running || s->slots.empty()) {
    finalizeSession(s);
    return;
  }
  // Ask each worker holding the subscriber's counts to hand them over and free the slot.
  s->pending_releases = uint32_t(s->slots.size());
  for (auto [w, slot] : s->slots) {
    (*workers_[w].slots)[slot].ending = true;
    C2wCommand cmd;
    cmd.type = C2wType::kReleaseSlot;
    cmd.slot = slot;
    cmd.key = s->key;
    cmd.refusal = release_refusal_;
    workers_[w].pending_commands.push_back(cmd);
  }
  for (Worker& wk : workers_) {
    sendCommands(wk);
  }
}

void Poller::sendCommands(Worker& wk) {
  size_t sent = 0;
  while (sent < wk.pending_commands.size() && wk.ch.c2w->push(wk.pending_commands[sent])) {
    ++sent;
  }
  wk.pending_commands.erase(wk.pending_commands.begin(), wk.pending_commands.begin() + sent);
}

void Poller::finalizeSession(Session* s) {
  // Slots of a finalized session that workers still hold (final harvest) are forgotten, their
  // usage settled in the session.
  for (auto [w, slot] : s->slots) {
    if ((*workers_[w].slots)[slot].session == s) {
      clearSlot(workers_[w], slot);
    }
  }
  syncSession(*s);
  if (s->billed && s->charging_open) {
    notify([&](SessionObserver& o) { o.onEnd(*s, s->cause, clock_.wallNs()); });
  }
  if (s->billed) {
    for (uint32_t rg = 0; rg < s->usage.size(); ++rg) {
      if (!s->usage[rg].empty()) {
        archive_[UsageKey{s->key, plan_.rating_groups[rg]}] += s->usage[rg];
      }
    }
    --billed_sessions_;
    ++stats_.sessions_ended;
    if (sessions_full_alarm_ && billed_sessions_ < config_.dataplane.max_sessions) {
      sessions_full_alarm_ = false;
      logInfo("session table below max_sessions again; alarm cleared");
    }
  }
  auto it = by_key_.find(s->key);
  if (it != by_key_.end() && it->second == s) {
    by_key_.erase(it);
  }
  if (s->ending) {
    --ending_sessions_;
  }
  sessions_.erase(s->id);
}

void Poller::checkConservation(bool exact, bool raced) {
  uint64_t counted = stats_.worker[size_t(Stat::kCountedOctets)];
  uint64_t accounted = stats_.attributed_octets + stats_.unattributedOctets();
  stats_.conservation_last_gap = int64_t(accounted) - int64_t(counted);
  ++stats_.conservation_checks;
  bool ok = exact ? accounted == counted : accounted >= counted;
  if (!ok && raced && !exact) {
    ++stats_.conservation_deferred;
    return;
  }
  if (!ok) {
    ++stats_.conservation_violations;
    logAlarm("conservation violated: counted " + std::to_string(counted) + " octets, attributed " +
             std::to_string(stats_.attributed_octets) + " + unattributed " +
             std::to_string(stats_.unattributedOctets()));
  }
}

bool Poller::finalHarvest() {
  now_mono_ns_ = clock_.monotonicNs();
  now_wall_ns_ = clock_.wallNs();
  readWorkerStats();
  for (uint16_t w = 0; w < workers_.size(); ++w) {
    drainEvents(w);
  }
  // The workers are stopped: every counter is final, including those of releases they never
  // answered.
  for (uint16_t w = 0; w < workers_.size(); ++w) {
    scanFlows(w, true);
  }
  std::vector<Session*> live;
  for (auto& [id, s] : sessions_) {
    live.push_back(s.get());
  }
  std::sort(live.begin(), live.end(), [](auto* a, auto* b) { return a->id < b->id; });
  for (Session* s : live) {
    if (s->ending) {
      // A release that the stopped workers never answered: the slot's counts were read above.
      finalizeSession(s);
    } else {
      endSessionInternal(s, EndCause::kManagement, false);
    }
  }
  uint64_t before = stats_.conservation_violations;
  checkConservation(true, false);
  return stats_.conservation_violations == before;
}

const Session* Poller::findSession(const IpAddress& address) const {
  auto it = by_key_.find(plan_.keyOf(address));
  if (it == by_key_.end()) {
    return nullptr;
  }
  syncSession(*it->second);
  return it->second;
}

std::vector<const Session*> Poller::sessions() const {
  std::vector<const Session*> out;
  for (const auto& [id, s] : sessions_) {
    syncSession(*s);
    out.push_back(s.get());  // in id order: the map's
  }
  return out;
}

const Session* Poller::sessionAfter(uint64_t id) const {
  auto it = sessions_.upper_bound(id);
  if (it == sessions_.end()) {
    return nullptr;
  }
  syncSession(*it->second);
  return it->second.get();
}

std::vector<FlowUsage> Poller::usage() const {
  std::map<UsageKey, FlowCounters> all = archive_;
  for (const auto& [id, s] : sessions_) {
    if (!s->billed) {
      continue;
    }
    syncSession(*s);
    for (uint32_t rg = 0; rg < s->usage.size(); ++rg) {
      if (!s->usage[rg].empty()) {
        all[UsageKey{s->key, plan_.rating_groups[rg]}] += s->usage[rg];
      }
    }
  }
  std::vector<FlowUsage> out;
  for (const auto& [k, c] : all) {
    out.push_back(FlowUsage{k.key, k.rating_group, c});
  }
  return out;
}

}  // namespace tally
