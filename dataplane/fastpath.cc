#include "dataplane/fastpath.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace tally {

namespace {

constexpr uint32_t kMaxBurst = 256;

constexpr Stat statOf(ParseStatus s) {
  switch (s) {
    case ParseStatus::kNonIp:
      return Stat::kNonIp;
    case ParseStatus::kL2Truncated:
      return Stat::kL2Truncated;
    case ParseStatus::kBadIpVersion:
      return Stat::kBadIpVersion;
    case ParseStatus::kBadIpHeader:
      return Stat::kBadIpHeader;
    case ParseStatus::kIpLengthExceedsFrame:
      return Stat::kIpLengthExceedsFrame;
    case ParseStatus::kGtpMalformed:
      return Stat::kGtpMalformed;
    case ParseStatus::kGtpNotGpdu:
      return Stat::kGtpNotGpdu;
    default:
      return Stat::kNonIp;
  }
}

}  // namespace

CountingPlan CountingPlan::fromConfig(const Config& config) {
  CountingPlan plan;
  uint64_t v4_slots = 0;
  for (const IpPrefix& p : config.subscribers.pools) {
    if (p.addr.family == 4) {
      Pool4 pool;
      pool.mask = p.len == 0 ? 0 : (~uint32_t{0} << (32 - p.len));
      pool.base = p.addr.v4;
      pool.first_slot = uint32_t(v4_slots);
      v4_slots += uint64_t{1} << (32 - p.len);
      plan.pools4.push_back(pool);
    } else {
      plan.pools6.push_back(p);
    }
  }
  plan.ipv6_prefix_length = config.subscribers.ipv6_prefix_length;
  auto rgIndex = [&plan](uint32_t rg) {
    auto it = std::find(plan.rating_groups.begin(), plan.rating_groups.end(), rg);
    if (it != plan.rating_groups.end()) {
      return uint8_t(it - plan.rating_groups.begin());
    }
    plan.rating_groups.push_back(rg);
    return uint8_t(plan.rating_groups.size() - 1);
  };
  plan.default_rg_index = rgIndex(config.services.default_rating_group);
  for (const ServiceRule& r : config.services.rules) {
    Rule rule;
    rule.rg_index = rgIndex(r.rating_group);
    if (r.match.protocol) {
      rule.has_protocol = true;
      rule.protocol = *r.match.protocol;
    }
    if (r.match.remote_prefix) {
      rule.prefix = *r.match.remote_prefix;
      rule.prefix_family = rule.prefix.addr.family;
    }
    if (r.match.remote_port_min) {
      rule.has_ports = true;
      rule.port_min = *r.match.remote_port_min;
      rule.port_max = r.match.remote_port_max.value_or(rule.port_min);
    }
    plan.rules.push_back(rule);
  }
  plan.geometry.v4_slots = uint32_t(v4_slots);
  plan.geometry.v6_slots = plan.pools6.empty() ? 0 : config.dataplane.max_sessions;
  plan.geometry.rating_groups = uint32_t(plan.rating_groups.size());
  return plan;
}

IpAddress CountingPlan::keyOf(const IpAddress& a) const {
  IpAddress k = a;
  if (a.family == 6) {
    k.v6 = maskIp6(a.v6, ipv6_prefix_length);
  }
  return k;
}

bool CountingPlan::inPool(const IpAddress& a) const {
  return a.family == 4 ? slot4(a.v4) != V6Table::kNone : inPool6(a.v6);
}

uint32_t CountingPlan::addressOfSlot4(uint32_t slot) const {
  for (const Pool4& p : pools4) {
    uint64_t size = uint64_t{~p.mask} + 1;
    if (slot >= p.first_slot && slot - p.first_slot < size) {
      return p.base + (slot - p.first_slot);
    }
  }
  return 0;
}

uint8_t CountingPlan::classify(const ParsedPacket& p, bool uplink) const noexcept {
  // The remote side: destination for uplink, source for downlink.
  uint16_t remote_port = uplink ? p.dst_port : p.src_port;
  for (const Rule& r : rules) {
    if (r.has_protocol && r.protocol != p.protocol) {
      continue;
    }
    if (r.prefix_family != 0) {
      if (r.prefix_family != p.family) {
        continue;
      }
      if (p.family == 4) {
        uint32_t addr = uplink ? p.dst4 : p.src4;
        uint32_t mask = r.prefix.len == 0 ? 0 : (~uint32_t{0} << (32 - r.prefix.len));
        if ((addr & mask) != r.prefix.addr.v4) {
          continue;
        }
      } else if (maskIp6(uplink ? p.dst6 : p.src6, r.prefix.len) != r.prefix.addr.v6) {
        continue;
      }
    }
    // A packet without ports (non-first fragment, ICMP, ...) matches only rules without ports.
    if (r.has_ports && (!p.has_ports || remote_port < r.port_min || remote_port > r.port_max)) {
      continue;
    }
    return r.rg_index;
  }
  return default_rg_index;
}

FastPath::FastPath(const CountingPlan& plan, CounterSlab& slab, W2cQueue& w2c,
                   WorkerStats& shared_stats)
    : plan_(plan), slab_(slab), w2c_(w2c), shared_(shared_stats),
      n_rg_(plan.geometry.rating_groups) {
  v6_ = std::make_unique<V6Table>(plan.geometry.v4_slots, plan.geometry.v6_slots);
  serving_bytes_ = (size_t(plan.geometry.v4_slots) + plan.geometry.v6_slots + 1) * sizeof(uint32_t);
  void* m = mmap(nullptr, serving_bytes_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  serving_ = m == MAP_FAILED ? nullptr : static_cast<uint32_t*>(m);
  if (serving_ != nullptr) {
    madvise(serving_, serving_bytes_, MADV_HUGEPAGE);
  }
}

FastPath::~FastPath() {
  if (serving_ != nullptr) {
    munmap(serving_, serving_bytes_);
  }
}

void FastPath::noteServingNode(const ParsedPacket& p, uint32_t slot,
                               const IpAddress& key) noexcept {
  if (serving_ == nullptr) {
    return;
  }
  const IpAddress& o = p.outer_src;
  uint64_t h = o.family == 4 ? (uint64_t{o.v4} | (uint64_t{4} << 32))
                             : (o.v6.hi * 0x9E3779B97F4A7C15ull) ^ o.v6.lo;
  uint32_t digest = uint32_t((h * 0xBF58476D1CE4E5B9ull) >> 32) | 1u;
  if (serving_[slot] == digest) [[likely]] {
    return;
  }
  W2cEvent ev;
  ev.type = W2cType::kServingNode;
  ev.slot = slot;
  ev.key = key;
  ev.serving_node = o;
  if (w2c_.push(ev)) {
    serving_[slot] = digest;  // else: announced with a later packet
  }
}

void FastPath::countSide(const ParsedPacket& p, bool uplink, uint32_t slot, uint8_t rg) noexcept {
  const uint64_t octets = p.ip_len;
  add(Stat::kCountedPackets);
  add(Stat::kCountedOctets, octets);
  IpAddress key;
  if (p.family == 6) {
    key.family = 6;
    key.v6 = maskIp6(uplink ? p.src6 : p.dst6, plan_.ipv6_prefix_length);
    slot = v6_->find(key.v6);
    if (slot == V6Table::kNone) {
      // A new prefix: take a slot only if its announcement can be queued, so that the control
      // plane knows every slot that holds counts.
      if (w2c_.write_available() == 0) {
        add(Stat::kLearnQueueFullPackets);
        add(Stat::kLearnQueueFullOctets, octets);
        return;
      }
      slot = v6_->insert(key.v6);
      if (slot == V6Table::kNone) {
        add(Stat::kV6TableFullPackets);
        add(Stat::kV6TableFullOctets, octets);
        return;
      }
    }
  }
  FlowCounters& f = slab_.flow(slot, rg);
  if (loadCounter(f.ul_packets) == 0 && loadCounter(f.dl_packets) == 0) [[unlikely]] {
    if (p.family == 4) {
      key.family = 4;
      key.v4 = uplink ? p.src4 : p.dst4;
    }
    W2cEvent ev;
    ev.type = W2cType::kFlowLearned;
    ev.rg_index = rg;
    ev.slot = slot;
    ev.key = key;
    if (!w2c_.push(ev)) {
      add(Stat::kLearnQueueFullPackets);
      add(Stat::kLearnQueueFullOctets, octets);
      return;
    }
  }
  if (uplink) {
    bumpCounter(f.ul_octets, octets);
    bumpCounter(f.ul_packets, 1);
    if (p.tunneled) {
      if (key.family == 0) {
        key.family = 4;
        key.v4 = p.src4;
      }
      noteServingNode(p, slot, key);
    }
  } else {
    bumpCounter(f.dl_octets, octets);
    bumpCounter(f.dl_packets, 1);
  }
}

void FastPath::countBurst(const uint8_t* const* frames, const uint32_t* lens,
                          uint32_t n) noexcept {
  while (n > kMaxBurst) {
    countBurst(frames, lens, kMaxBurst);
    frames += kMaxBurst;
    lens += kMaxBurst;
    n -= kMaxBurst;
  }
  // Uninitialised storage: parsePacket writes its output whole, and zeroing 256 packets
  // (22 KB) per call cost more than the parsing itself.
  union PacketStore {
    PacketStore() {}
    ParsedPacket p[kMaxBurst];
  } store;
  ParsedPacket* pkt = store.p;
  ParseStatus status[kMaxBurst];
  // Per packet: IPv4 slot of source / destination (kNone when not in a pool), rating groups.
  uint32_t src_slot[kMaxBurst];
  uint32_t dst_slot[kMaxBurst];
  uint8_t src_rg[kMaxBurst];
  uint8_t dst_rg[kMaxBurst];

  // Stage 1: parse, find the sides, classify, and prefetch the IPv4 counter lines.
  for (uint32_t i = 0; i < n; ++i) {
    status[i] = parsePacket(frames[i], lens[i], pkt[i]);
    src_slot[i] = dst_slot[i] = V6Table::kNone;
    if (status[i] != ParseStatus::kIp) [[unlikely]] {
      continue;
    }
    const ParsedPacket& p = pkt[i];
    bool src_in = false;
    bool dst_in = false;
    if (p.family == 4) [[likely]] {
      src_slot[i] = plan_.slot4(p.src4);
      dst_slot[i] = plan_.slot4(p.dst4);
      src_in = src_slot[i] != V6Table::kNone;
      dst_in = dst_slot[i] != V6Table::kNone;
    } else {
      src_in = plan_.inPool6(p.src6);
      dst_in = plan_.inPool6(p.dst6);
      // IPv6 slots are looked up in stage 2; mark the side with slot 0 meaning "in a pool".
      src_slot[i] = src_in ? 0 : V6Table::kNone;
      dst_slot[i] = dst_in ? 0 : V6Table::kNone;
    }
    if (src_in) {
      src_rg[i] = plan_.classify(p, true);
      if (p.family == 4) {
        __builtin_prefetch(&slab_.flow(src_slot[i], src_rg[i]), 1);
      }
    }
    if (dst_in) {
      dst_rg[i] = plan_.classify(p, false);
      if (p.family == 4) {
        __builtin_prefetch(&slab_.flow(dst_slot[i], dst_rg[i]), 1);
      }
    }
  }

  // Stage 2: count.
  for (uint32_t i = 0; i < n; ++i) {
    if (status[i] != ParseStatus::kIp) [[unlikely]] {
      add(statOf(status[i]));
      continue;
    }
    const ParsedPacket& p = pkt[i];
    if (p.tunneled) {
      add(Stat::kGtpDecapsulated);
    }
    if (p.is_fragment) {
      add(Stat::kFragments);
    }
    bool any = false;
    if (src_slot[i] != V6Table::kNone) {
      countSide(p, true, src_slot[i], src_rg[i]);
      any = true;
    }
    if (dst_slot[i] != V6Table::kNone) {
      countSide(p, false, dst_slot[i], dst_rg[i]);
      any = true;
    }
    if (!any) {
      add(Stat::kTransitPackets);
      add(Stat::kTransitOctets, p.ip_len);
    }
  }
}

void FastPath::handleCommands(C2wQueue& c2w) noexcept {
  C2wCommand cmd;
  // Room for one kFlowReleased per rating group plus the closing kSlotReleased.
  while (w2c_.write_available() >= n_rg_ + 1 && c2w.pop(cmd)) {
    if (cmd.type != C2wType::kReleaseSlot) {
      continue;
    }
    if (cmd.slot >= plan_.geometry.v4_slots + plan_.geometry.v6_slots) {
      continue;
    }
    for (uint32_t rg = 0; rg < n_rg_; ++rg) {
      FlowCounters& f = slab_.flow(cmd.slot, rg);
      FlowCounters final = loadFlow(f);
      if (final.empty()) {
        continue;
      }
      W2cEvent ev;
      ev.type = W2cType::kFlowReleased;
      ev.slot = cmd.slot;
      ev.rg_index = uint8_t(rg);
      ev.key = cmd.key;
      ev.final = final;
      w2c_.push(ev);  // room was checked above
      storeCounter(f.ul_octets, 0);
      storeCounter(f.ul_packets, 0);
      storeCounter(f.dl_octets, 0);
      storeCounter(f.dl_packets, 0);
    }
    if (cmd.slot >= plan_.geometry.v4_slots && cmd.key.family == 6) {
      v6_->remove(cmd.key.v6);
    }
    if (serving_ != nullptr) {
      serving_[cmd.slot] = 0;  // the next session announces its serving node afresh
    }
    W2cEvent done;
    done.type = W2cType::kSlotReleased;
    done.slot = cmd.slot;
    done.key = cmd.key;
    w2c_.push(done);
    add(Stat::kReleasesHandled);
  }
}

void FastPath::publish() noexcept {
  for (size_t i = 0; i < local_.c.size(); ++i) {
    storeCounter(shared_.c[i], local_.c[i]);
  }
  for (size_t i = 0; i < local_.port.size(); ++i) {
    storeCounter(shared_.port[i].rx_packets, local_.port[i].rx_packets);
    storeCounter(shared_.port[i].tx_packets, local_.port[i].tx_packets);
    storeCounter(shared_.port[i].tx_drops, local_.port[i].tx_drops);
    storeCounter(shared_.port[i].tap_drops, local_.port[i].tap_drops);
  }
  ++local_.bursts;
  std::atomic_ref<uint64_t>(shared_.bursts).store(local_.bursts, std::memory_order_release);
}

}  // namespace tally
