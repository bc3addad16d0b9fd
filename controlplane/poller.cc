#include "controlplane/poller.h"

#include <algorithm>
#include <cstdio>

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
  }
  return "?";
}

uint64_t Statistics::unattributedOctets() const {
  uint64_t sum = worker[size_t(Stat::kLearnQueueFullOctets)] +
                 worker[size_t(Stat::kV6TableFullOctets)];
  for (uint64_t v : unattributed_octets) {
    sum += v;
  }
  return sum;
}

uint64_t Statistics::unattributedPackets() const {
  uint64_t sum = worker[size_t(Stat::kLearnQueueFullPackets)] +
                 worker[size_t(Stat::kV6TableFullPackets)];
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

Poller::Poller(const Config& config, const CountingPlan& plan, std::vector<WorkerChannel> workers,
               const Clock& clock)
    : config_(config), plan_(plan), clock_(clock),
      idle_timeout_ns_(int64_t{config.subscribers.idle_timeout_s} * 1000000000) {
  for (const WorkerChannel& ch : workers) {
    Worker w;
    w.ch = ch;
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
    }
  }
  stats_.worker = sum;
  stats_.ports = ports;
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
  if (observer_ != nullptr) {
    observer_->onTick(clock_.wallNs());
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
  auto s = std::make_unique<Session>();
  s->id = next_session_id_++;
  s->key = key;
  s->start_wall_ns = clock_.wallNs();
  s->last_activity_mono_ns = clock_.monotonicNs();
  s->last_activity_wall_ns = s->start_wall_ns;
  s->usage.resize(plan_.geometry.rating_groups);
  s->cc_profile = config_.subscribers.default_cc_profile;
  if (stat != nullptr) {
    s->is_static = true;
    s->user_name = stat->user_name;
    s->imsi = stat->imsi;
    s->msisdn = stat->msisdn;
    if (stat->cc_profile != 0) {
      s->cc_profile = stat->cc_profile;
    }
  }
  if (stat == nullptr && !config_.subscribers.learn) {
    s->billed = false;
    s->reason = Unattributed::kLearnDisabled;
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
  sessions_[raw->id] = std::move(s);
  return raw;
}

void Poller::onFlowLearned(uint16_t w, const W2cEvent& ev) {
  Worker& wk = workers_[w];
  auto [it, fresh] = wk.slots.try_emplace(ev.slot);
  SlotInfo& si = it->second;
  if (fresh) {
    si.session = sessionFor(ev.key);
    si.session->slots.emplace_back(w, ev.slot);
  }
  // A repeated announcement of a flow already tracked cannot happen (the worker announces a flow
  // only while its counters are zero, and they are zeroed only on release), but be safe.
  for (uint32_t pos : si.flow_pos) {
    if (wk.flows[pos].rg == ev.rg_index) {
      return;
    }
  }
  TrackedFlow f;
  f.slot = ev.slot;
  f.rg = ev.rg_index;
  f.session = si.session;
  si.flow_pos.push_back(uint32_t(wk.flows.size()));
  wk.flows.push_back(f);
}

void Poller::onFlowReleased(uint16_t w, const W2cEvent& ev) {
  Worker& wk = workers_[w];
  auto it = wk.slots.find(ev.slot);
  if (it == wk.slots.end()) {
    return;
  }
  for (uint32_t pos : it->second.flow_pos) {
    TrackedFlow& f = wk.flows[pos];
    if (f.rg == ev.rg_index) {
      // The baseline was last read before the release was requested, so final >= baseline.
      FlowCounters delta = ev.final - f.baseline;
      f.baseline = ev.final;
      attribute(f.session, f.rg, delta);
      return;
    }
  }
}

void Poller::onSlotReleased(uint16_t w, const W2cEvent& ev) {
  Worker& wk = workers_[w];
  auto it = wk.slots.find(ev.slot);
  if (it == wk.slots.end()) {
    return;
  }
  Session* s = it->second.session;
  // Remove the slot's flows, highest position first so that swaps do not disturb the rest.
  std::vector<uint32_t> pos = it->second.flow_pos;
  std::sort(pos.rbegin(), pos.rend());
  for (uint32_t p : pos) {
    removeFlow(wk, p);
  }
  wk.slots.erase(ev.slot);
  if (s != nullptr && s->pending_releases > 0 && --s->pending_releases == 0 && s->ending) {
    finalizeSession(s);
  }
}

void Poller::onServingNodeEvent(uint16_t w, const W2cEvent& ev) {
  auto it = workers_[w].slots.find(ev.slot);
  if (it == workers_[w].slots.end() || it->second.session == nullptr) {
    return;
  }
  setServingNode(it->second.session, ev.serving_node);
}

void Poller::setServingNode(Session* s, const IpAddress& node) {
  if (s->serving_node && *s->serving_node == node) {
    return;
  }
  s->serving_node = node;
  if (s->billed && s->charging_open && observer_ != nullptr && !s->ending) {
    observer_->onServingNode(*s, node, clock_.wallNs());
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

bool Poller::qosChange(const IpAddress& address, uint8_t qci) {
  auto it = by_key_.find(plan_.keyOf(address));
  if (it == by_key_.end() || !it->second->billed) {
    return false;
  }
  Session* s = it->second;
  s->qci = qci;
  if (s->charging_open && observer_ != nullptr) {
    observer_->onQosChange(*s, qci, clock_.wallNs());
  }
  return true;
}

void Poller::removeFlow(Worker& wk, uint32_t pos) {
  uint32_t last = uint32_t(wk.flows.size() - 1);
  if (pos != last) {
    TrackedFlow moved = wk.flows[last];
    wk.flows[pos] = moved;
    auto sit = wk.slots.find(moved.slot);
    if (sit != wk.slots.end()) {
      for (uint32_t& fp : sit->second.flow_pos) {
        if (fp == last) {
          fp = pos;
        }
      }
    }
  }
  wk.flows.pop_back();
}

bool Poller::scanFlows(uint16_t w, bool include_ending) {
  Worker& wk = workers_[w];
  const FlowCounters* base = wk.ch.slab->flows();
  const uint32_t n_rg = plan_.geometry.rating_groups;
  bool clean = true;
  const size_t n = wk.flows.size();
  constexpr size_t kAhead = 32;
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) {
      const TrackedFlow& a = wk.flows[i + kAhead];
      __builtin_prefetch(&base[size_t(a.slot) * n_rg + a.rg]);
    }
    TrackedFlow& f = wk.flows[i];
    if (f.session->ending && !include_ending) {
      // A release is requested: the worker may zero the slot at any moment and count new
      // packets into it, so a read cannot tell old from new. The flow is settled exactly by
      // the final counts of kFlowReleased (final - baseline).
      clean = false;
      continue;
    }
    FlowCounters cur = loadFlow(base[size_t(f.slot) * n_rg + f.rg]);
    if (cur == f.baseline) {
      continue;
    }
    if (cur.ul_packets < f.baseline.ul_packets || cur.dl_packets < f.baseline.dl_packets ||
        cur.ul_octets < f.baseline.ul_octets || cur.dl_octets < f.baseline.dl_octets) {
      // Cannot happen for a flow that is not being released (counters only go up); be safe.
      clean = false;
      continue;
    }
    FlowCounters delta = cur - f.baseline;
    f.baseline = cur;
    attribute(f.session, f.rg, delta);
  }
  stats_.tracked_flows = 0;
  for (const Worker& x : workers_) {
    stats_.tracked_flows += x.flows.size();
  }
  return clean;
}

void Poller::attribute(Session* s, uint8_t rg, const FlowCounters& d) {
  // A reader can see a flow between its owner's octet store and its packet store, so a delta
  // may carry octets without packets (the packet arrives with the next poll): still usage.
  if (d == FlowCounters{}) {
    return;
  }
  s->usage[rg] += d;
  s->last_activity_mono_ns = now_mono_ns_;
  s->last_activity_wall_ns = now_wall_ns_;
  if (s->billed) {
    stats_.attributed_octets += d.octets();
    stats_.attributed_packets += d.ul_packets + d.dl_packets;
    if (observer_ != nullptr) {
      int64_t now = now_wall_ns_;
      if (!s->charging_open) {
        s->charging_open = true;
        observer_->onOpen(*s, now);
        if (s->qci != 0) {
          observer_->onQosChange(*s, s->qci, now);
        }
      }
      observer_->onUsage(*s, plan_.rating_groups[rg], d, now);
    }
  } else {
    stats_.unattributed_octets[size_t(s->reason)] += d.octets();
    stats_.unattributed_packets[size_t(s->reason)] += d.ul_packets + d.dl_packets;
  }
}

void Poller::checkIdle() {
  if (idle_timeout_ns_ == 0) {
    return;
  }
  int64_t now = clock_.monotonicNs();
  std::vector<Session*> idle;
  for (auto& [id, s] : sessions_) {
    if (!s->ending && now - s->last_activity_mono_ns >= idle_timeout_ns_) {
      idle.push_back(s.get());
    }
  }
  for (Session* s : idle) {
    endSessionInternal(s, EndCause::kIdleTimeout, true);
  }
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
    C2wCommand cmd;
    cmd.type = C2wType::kReleaseSlot;
    cmd.slot = slot;
    cmd.key = s->key;
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
  if (s->billed && s->charging_open && observer_ != nullptr) {
    observer_->onEnd(*s, s->cause, clock_.wallNs());
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
  // Slots of a finalized session that workers still hold (final harvest) are forgotten.
  for (auto [w, slot] : s->slots) {
    auto sit = workers_[w].slots.find(slot);
    if (sit != workers_[w].slots.end() && sit->second.session == s) {
      std::vector<uint32_t> pos = sit->second.flow_pos;
      std::sort(pos.rbegin(), pos.rend());
      for (uint32_t p : pos) {
        removeFlow(workers_[w], p);
      }
      workers_[w].slots.erase(sit);
    }
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
  return it == by_key_.end() ? nullptr : it->second;
}

std::vector<const Session*> Poller::sessions() const {
  std::vector<const Session*> out;
  for (const auto& [id, s] : sessions_) {
    out.push_back(s.get());
  }
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->id < b->id; });
  return out;
}

std::vector<FlowUsage> Poller::usage() const {
  std::map<UsageKey, FlowCounters> all = archive_;
  for (const auto& [id, s] : sessions_) {
    if (!s->billed) {
      continue;
    }
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
