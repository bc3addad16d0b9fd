#include "dataplane/fastpath.h"

#include "dataplane/parser_inline.h"

#include <algorithm>
#include <cstring>
#include <set>

namespace tally {

namespace {

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
    case ParseStatus::kHeadersSplit:
      return Stat::kHeadersSplit;
    default:
      return Stat::kNonIp;
  }
}

}  // namespace

uint8_t classify(const CountingPlan& plan, const ParsedPacket& p, bool uplink) noexcept {
  // The remote side: destination for uplink, source for downlink.
  uint16_t remote_port = uplink ? p.dst_port : p.src_port;
  for (const CountingPlan::Rule& r : plan.rules) {
    if (r.has_protocol && r.protocol != p.protocol) {
      continue;
    }
    if (r.prefix_family != 0) {
      if (r.prefix_family != p.family) {
        continue;
      }
      if (p.family == 4) {
        if (((uplink ? p.dst4 : p.src4) & r.mask4) != r.addr4) {
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
  return plan.default_rg_index;
}

FastPath::FastPath(const CountingPlan& plan, CounterSlab& slab, W2cQueue& w2c,
                   WorkerStats& shared_stats)
    : classifier_(plan), plan_(plan), slab_(slab), w2c_(w2c), shared_(shared_stats),
      table_(plan.v4_addresses, plan.geometry.slots, !plan.pools6.empty(),
             plan.ipv6_prefix_length > 64),
      n_rg_(plan.geometry.rating_groups) {
  for (const CountingPlan::Pool4& p : plan.pools4) {
    pools4_.push_back(Pool4{p.base, ~p.mask, p.first_offset});
  }
  // Without IPv4 pools, only address 0 is in pool0_ and its offset is kNone + 0 = kNone.
  pool0_ = pools4_.empty() ? Pool4{0, 0, SlotTable::kNone} : pools4_[0];
  const Ip6 ones{~uint64_t{0}, ~uint64_t{0}};
  for (const IpPrefix& p : plan.pools6) {
    pools6_.push_back(Pool6{p.addr.v6, maskIp6(ones, p.len)});
  }
  key_mask6_ = maskIp6(ones, plan.ipv6_prefix_length);
  refused4_ = std::make_unique<LazyArray<uint64_t>>((plan.v4_addresses + 63) / 64 + 1);
  if (!plan.pools6.empty()) {
    refused6_ = std::make_unique<LazyArray<Refused6>>(kRefused6Slots);
  }
}

// `offset`: the subscriber's IPv4 index offset (family 4; `key` for family 6).
void FastPath::noteServingNode(const ParsedPacket& p, uint32_t slot, const IpAddress& key,
                               uint32_t offset) noexcept {
  const IpAddress& o = p.outer_src;
  uint32_t* stored = key.family == 4 ? &table_.serving4(offset) : table_.serving6(key.v6);
  if (stored == nullptr) {
    return;  // cannot be: the subscriber holds `slot`
  }
  const uint32_t digest = servingDigest(o);
  if (*stored == digest) [[likely]] {
    return;
  }
  W2cEvent ev;
  ev.type = W2cType::kServingNode;
  ev.slot = slot;
  ev.key = key;
  ev.serving_node = o;
  if (w2c_.push(ev)) {
    *stored = digest;  // else: announced with a later packet
  }
}

uint32_t FastPath::slotOf(const IpAddress& key) const noexcept {
  if (key.family == 4) {
    uint32_t off = plan_.offset4(key.v4);
    return off == SlotTable::kNone ? SlotTable::kNone : table_.find4(off);
  }
  return table_.find6(maskIp6(key.v6, plan_.ipv6_prefix_length));
}

IpAddress FastPath::subscriberKey(const ParsedPacket& p, bool uplink) const noexcept {
  IpAddress key;
  key.family = p.family;
  if (p.family == 4) {
    key.v4 = uplink ? p.src4 : p.dst4;
  } else {
    key.v6 = maskIp6(uplink ? p.src6 : p.dst6, plan_.ipv6_prefix_length);
  }
  return key;
}

// The common case inline: the subscriber had its slot at lookup and the flow is known.
// `rg`: read only on the slow path without a flow (lookupStage writes it only then).
inline void FastPath::countSide(const ParsedPacket& p, bool uplink, uint32_t offset,
                                FlowCounters* flow, const uint32_t& rg) noexcept {
  if (flow != nullptr) [[likely]] {
    FlowCounters& f = *flow;
    const uint64_t octets = p.ip_len;
    if (uplink) {
      const uint64_t packets = loadCounter(f.ul_packets);
      // GTP-U: the serving node is unchanged (its digest is in the index entry, in cache since
      // the lookup). An IPv4 node's digest is its address (servingDigest), so the address is
      // compared as it is; an IPv6 node (v4 is 0 then: parser.h), the node 0.0.0.0, IPv6
      // subscribers and changes take the slow path.
      if (packets != 0 &&
          (!p.tunneled || (p.family == 4 && p.outer_src.v4 != 0 &&
                           table_.serving4(offset) == p.outer_src.v4))) [[likely]] {
        storeCounter(f.ul_octets, loadCounter(f.ul_octets) + octets);
        storeCounter(f.ul_packets, packets + 1);
        return;
      }
    } else {
      const uint64_t packets = loadCounter(f.dl_packets);
      if (packets != 0) [[likely]] {
        storeCounter(f.dl_octets, loadCounter(f.dl_octets) + octets);
        storeCounter(f.dl_packets, packets + 1);
        return;
      }
    }
    countSideSlow(p, uplink, offset, flow, 0);
    return;
  }
  countSideSlow(p, uplink, offset, nullptr, rg);
}

// A flow known at lookup: its slot and rating group from its index (slot x rating groups + rg).
void FastPath::countSideSlow(const ParsedPacket& p, bool uplink, uint32_t offset,
                             FlowCounters* flow, uint32_t rg) noexcept {
  if (flow == nullptr) {
    countSideSlow(p, uplink, offset, SlotTable::kNone, uint8_t(rg));
    return;
  }
  const size_t index = size_t(flow - slab_.flows());
  countSideSlow(p, uplink, offset, uint32_t(index / n_rg_), uint8_t(index % n_rg_));
}

void FastPath::countSideSlow(const ParsedPacket& p, bool uplink, uint32_t offset, uint32_t slot,
                             uint8_t rg) noexcept {
  const uint64_t octets = p.ip_len;
  IpAddress key;
  if (slot == SlotTable::kNone) {
    // IPv6 (looked up here), or an IPv4 subscriber without a slot when the burst was staged
    // (new, or given a slot by an earlier packet of this burst).
    if (p.family == 6) {
      key.family = 6;
      key.v6 = maskIp6(uplink ? p.src6 : p.dst6, plan_.ipv6_prefix_length);
      slot = table_.find6(key.v6);
    } else {
      slot = table_.find4(offset);
    }
    if (slot == SlotTable::kNone) {
      // A new subscriber: take a slot only if its announcement can be queued, so that the
      // control plane knows every slot that holds counts.
      if (w2c_.write_available() == 0) {
        add(Stat::kLearnQueueFullPackets);
        add(Stat::kLearnQueueFullOctets, octets);
        return;
      }
      slot = p.family == 6 ? table_.insert6(key.v6) : table_.insert4(offset);
      if (slot == SlotTable::kNone) {
        add(Stat::kSlotTableFullPackets);
        add(Stat::kSlotTableFullOctets, octets);
        return;
      }
    }
  }
  FlowCounters& f = slab_.flow(slot, rg);
  if (loadCounter(f.ul_packets) == 0 && loadCounter(f.dl_packets) == 0) [[unlikely]] {
    if (key.family == 0) {
      key = subscriberKey(p, uplink);
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
        key = subscriberKey(p, true);
      }
      noteServingNode(p, slot, key, offset);
    }
  } else {
    bumpCounter(f.dl_octets, octets);
    bumpCounter(f.dl_packets, 1);
  }
}

namespace {
constexpr uint32_t kNone = SlotTable::kNone;
static_assert(CountingPlan::kNoOffset == kNone, "an address in no pool has no slot reference");
constexpr uint32_t kIpv6Side = SlotTable::kNone - 1;
}  // namespace

uint32_t FastPath::stageBurst(const uint8_t* const* frames, const uint32_t* readable,
                              const uint32_t* lens, uint32_t n) noexcept {
  uint32_t refused = 0;
  while (n > kMaxBurst) {
    refused += stageBurst(frames, readable, lens, kMaxBurst);
    frames += kMaxBurst;
    readable += kMaxBurst;
    lens += kMaxBurst;
    n -= kMaxBurst;
  }
  if (n == 0) {
    return refused;
  }
  // Three bursts in flight, one stage each: this burst is parsed (its IPv4 index entries
  // prefetched), the one before last is counted, the last one is looked up (its counters
  // prefetched). Every prefetch has a whole burst of work to arrive in.
  Staged& s = ring_[ring_next_];
  ring_next_ = (ring_next_ + 1) % kRing;
  parseStage(s, frames, readable, lens, n);
  if (refused_n_ != 0) [[unlikely]] {
    refused += markRefused(s);
  }
  if (to_count_ != nullptr) {
    countStage(*to_count_);
  }
  to_count_ = to_lookup_;
  if (to_count_ != nullptr) {
    lookupStage(*to_count_);
  }
  to_lookup_ = &s;
  return refused;
}

void FastPath::flush() noexcept {
  if (to_count_ != nullptr) {
    countStage(*to_count_);
    to_count_ = nullptr;
  }
  if (to_lookup_ != nullptr) {
    lookupStage(*to_lookup_);
    countStage(*to_lookup_);
    to_lookup_ = nullptr;
  }
}

void FastPath::countBurst(const uint8_t* const* frames, const uint32_t* lens,
                          uint32_t n) noexcept {
  stageBurst(frames, lens, n);
  flush();
}

// Parse, find the sides that are in a pool, prefetch their index entries (IPv4) or home
// buckets (IPv6).
void FastPath::parseStage(Staged& s, const uint8_t* const* frames, const uint32_t* readable,
                          const uint32_t* lens, uint32_t n) noexcept {
  s.n = n;
  // The first pool is read from the member for each packet, not held in locals: its fields are
  // memory operands of the sub/cmp/add (no extra instruction), and the three registers are
  // the parser's (the GTP-U lane spilled without them). The rest in locals: the parser's
  // stores to uint8_t fields could alias the members.
  const Pool4& pool0 = pool0_;
  const bool one_pool = pools4_.size() <= 1;
  const bool has_v6 = table_.hasV6();  // IPv6 pools exist
  const Pool6 pool6_0 = has_v6 ? pools6_[0] : Pool6{};
  const bool one_pool6 = pools6_.size() <= 1;
  const Ip6 key_mask6 = key_mask6_;
  auto offset = [&](uint32_t addr) {
    const uint32_t d = addr - pool0.base;
    if (d <= pool0.last) [[likely]] {
      return pool0.first_offset + d;
    }
    return one_pool ? kNone : offset4(addr);
  };
  for (uint32_t i = 0; i < n; ++i) {
    ParsedPacket& p = s.pkt[i];
    const ParseStatus status = parsePacketInline(frames[i], readable[i], lens[i], p);
    s.status[i] = uint32_t(status);
    uint32_t src_ref = kNone;
    uint32_t dst_ref = kNone;
    if (status == ParseStatus::kIp) [[likely]] {
      if (p.family == 4) [[likely]] {
        src_ref = offset(p.src4);
        dst_ref = offset(p.dst4);
        // Into L2 (locality 2: prefetcht1), as the counters' prefetch in lookupSide and the
        // IPv6 buckets': a burst's 64 random lines in flight at once then wait in L2's miss
        // queue, not in L1's few fill buffers (IPv4 1 M: 35.0 -> 29.6 ns/pkt, same run;
        // docs/performance.md). The line moves to L1 when the next stage reads it.
        if (src_ref != kNone) {
          __builtin_prefetch(table_.entry4(src_ref), 0, 2);
        }
        if (dst_ref != kNone) {
          __builtin_prefetch(table_.entry4(dst_ref), 0, 2);
        }
      } else if (has_v6) {
        auto inPool6 = [&](const Ip6& a) {
          if ((a.hi & pool6_0.mask.hi) == pool6_0.addr.hi &&
              (a.lo & pool6_0.mask.lo) == pool6_0.addr.lo) [[likely]] {
            return true;
          }
          if (one_pool6) [[likely]] {
            return false;
          }
          for (const Pool6& q : pools6_) {
            if ((a.hi & q.mask.hi) == q.addr.hi && (a.lo & q.mask.lo) == q.addr.lo) {
              return true;
            }
          }
          return false;
        };
        if (inPool6(p.src6)) {
          src_ref = kIpv6Side;
          const Ip6 key{p.src6.hi & key_mask6.hi, p.src6.lo & key_mask6.lo};
          const uint32_t home = table_.home6(key);
          s.src_key6[i] = key;
          s.src_home6[i] = home;
          table_.prefetchBucket(home);
        }
        if (inPool6(p.dst6)) {
          dst_ref = kIpv6Side;
          const Ip6 key{p.dst6.hi & key_mask6.hi, p.dst6.lo & key_mask6.lo};
          const uint32_t home = table_.home6(key);
          s.dst_key6[i] = key;
          s.dst_home6[i] = home;
          table_.prefetchBucket(home);
        }
      }
    }
    s.src_ref[i] = src_ref;
    s.dst_ref[i] = dst_ref;
  }
}

// Classify, read the slots (a subscriber given a slot by a count after this lookup is found
// again when counting) and prefetch the flow counters.
void FastPath::lookupStage(Staged& s) noexcept {
  FlowCounters* const flows = slab_.flows();  // in locals: stores could alias the members
  const size_t n_rg = n_rg_;
  const uint32_t n = s.n;
  for (uint32_t i = 0; i < n; ++i) {
    // A side in no pool has no flow (countStage reads it only for a side in a pool).
    const uint32_t src_ref = s.src_ref[i];
    const uint32_t dst_ref = s.dst_ref[i];
    if (src_ref != kNone) {
      s.src_flow[i] = lookupSide(s.pkt[i], true, src_ref, s.src_rg[i], &s.src_home6[i],
                                 &s.src_key6[i], flows, n_rg);
    }
    if (dst_ref != kNone) {
      s.dst_flow[i] = lookupSide(s.pkt[i], false, dst_ref, s.dst_rg[i], &s.dst_home6[i],
                                 &s.dst_key6[i], flows, n_rg);
    }
  }
}

// `home6`, `key6`: of an IPv6 side (ref == kIpv6Side) only, read only then.
inline FlowCounters* FastPath::lookupSide(const ParsedPacket& p, bool uplink, uint32_t ref,
                                          uint32_t& rg, const uint32_t* home6,
                                          const Ip6* key6, FlowCounters* flows,
                                          size_t n_rg) noexcept {
  size_t r;
  uint32_t slot1;  // slot + 1, 0: none (as in the table: no subtraction)
  if (ref != kIpv6Side) [[likely]] {
    r = classifier_.classify4(p, uplink);
    slot1 = table_.find4(ref) + 1;
  } else {
    r = classifier_.classify6(p, uplink);
    slot1 = table_.find6From(*home6, *key6) + 1;
  }
  if (slot1 == 0) {
    rg = uint32_t(r);
    return nullptr;
  }
  // &flows[(slot1 - 1) * n_rg + r], from the address one slot before the flows.
  const uintptr_t before = reinterpret_cast<uintptr_t>(flows) - n_rg * sizeof(FlowCounters);
  FlowCounters* const f =
      reinterpret_cast<FlowCounters*>(before + (slot1 * n_rg + r) * sizeof(FlowCounters));
  __builtin_prefetch(f, 1, 2);
  return f;
}

void FastPath::countStage(Staged& s) noexcept {
  // Every side in a pool is counted (kCountedPackets/Octets: in a flow, or in a named
  // unattributed counter when it cannot be): summed for the burst here, both in one word
  // (packets << kPacketsShift + octets: at most 2 x kMaxBurst sides of at most 65,575 octets).
  constexpr unsigned kPacketsShift = 40;
  static_assert(uint64_t{2} * kMaxBurst * 65575 < (uint64_t{1} << kPacketsShift));
  uint64_t counted = 0;
  uint64_t decapsulated = 0;
  const uint32_t n = s.n;  // in a local: countSideSlow could change s.n as far as it is known
  for (uint32_t i = 0; i < n; ++i) {
    if (s.status[i] != uint32_t(ParseStatus::kIp)) [[unlikely]] {
      add(statOf(ParseStatus(s.status[i])));
      continue;
    }
    const ParsedPacket& p = s.pkt[i];
    decapsulated += p.tunneled ? 1 : 0;
    if (p.is_fragment) [[unlikely]] {
      add(Stat::kFragments);
    }
    const uint32_t src_ref = s.src_ref[i];
    const uint32_t dst_ref = s.dst_ref[i];
    const uint64_t side = (uint64_t{1} << kPacketsShift) + p.ip_len;
    if (src_ref != kNone) [[likely]] {
      counted += side;
      countSide(p, true, src_ref, s.src_flow[i], s.src_rg[i]);
    }
    if (dst_ref != kNone) {
      counted += side;
      countSide(p, false, dst_ref, s.dst_flow[i], s.dst_rg[i]);
    }
    if ((src_ref & dst_ref) == kNone) [[unlikely]] {  // neither side in a pool
      add(Stat::kTransitPackets);
      add(Stat::kTransitOctets, p.ip_len);
    }
  }
  add(Stat::kCountedPackets, counted >> kPacketsShift);
  add(Stat::kCountedOctets, counted & ((uint64_t{1} << kPacketsShift) - 1));
  add(Stat::kGtpDecapsulated, decapsulated);
  s.n = 0;
}

namespace {
uint32_t refusedHash6(const Ip6& k) noexcept {
  const uint64_t h = (k.hi * 0xBF58476D1CE4E5B9ull) ^ (k.lo * 0x94D049BB133111EBull);
  return uint32_t(h >> 40);
}
}  // namespace

bool FastPath::refused6(const Ip6& key) const noexcept {
  if (!refused6_ || refused6_n_ == 0) {
    return false;
  }
  const LazyArray<Refused6>& t = *refused6_;
  for (uint32_t i = refusedHash6(key) & (kRefused6Slots - 1);; i = (i + 1) & (kRefused6Slots - 1)) {
    if (!t[i].used) {
      return false;
    }
    if (t[i].key.hi == key.hi && t[i].key.lo == key.lo) {
      return true;
    }
  }
}

uint32_t FastPath::markRefused(const Staged& s) noexcept {
  uint32_t refused = 0;
  const LazyArray<uint64_t>& bits = *refused4_;
  for (uint32_t i = 0; i < s.n; ++i) {
    bool r = false;
    for (int side = 0; side < 2 && !r; ++side) {
      const uint32_t ref = side == 0 ? s.src_ref[i] : s.dst_ref[i];
      if (ref == kNone) {
        continue;
      }
      if (ref == kIpv6Side) {
        r = refused6(side == 0 ? s.src_key6[i] : s.dst_key6[i]);
      } else {
        r = (bits[ref >> 6] >> (ref & 63)) & 1;
      }
    }
    refused_mask_[i] = r;
    if (r) {
      ++refused;
      add(Stat::kRefusedPackets);
      add(Stat::kRefusedOctets, s.pkt[i].ip_len);
    }
  }
  return refused;
}

void FastPath::setRefused(const IpAddress& key, bool refused) noexcept {
  if (key.family == 4) {
    const uint32_t off = plan_.offset4(key.v4);
    if (off == SlotTable::kNone) {
      return;
    }
    uint64_t& word = (*refused4_)[off >> 6];
    const uint64_t bit = uint64_t{1} << (off & 63);
    if (bool(word & bit) != refused) {
      word ^= bit;
      refused ? ++refused_n_ : --refused_n_;
    }
    return;
  }
  if (key.family != 6 || !refused6_) {
    return;
  }
  LazyArray<Refused6>& t = *refused6_;
  constexpr uint32_t kMask = kRefused6Slots - 1;
  uint32_t i = refusedHash6(key.v6) & kMask;
  while (t[i].used && !(t[i].key.hi == key.v6.hi && t[i].key.lo == key.v6.lo)) {
    i = (i + 1) & kMask;
  }
  if (refused) {
    if (t[i].used) {
      return;  // already refused
    }
    if (refused6_n_ >= kRefused6Max) {
      add(Stat::kRefuseTableFull);
      return;
    }
    t[i] = Refused6{key.v6, 1};
    ++refused6_n_;
    ++refused_n_;
    return;
  }
  if (!t[i].used) {
    return;  // not refused
  }
  // Backward-shift deletion: move later members of the probe run into the hole.
  t[i].used = 0;
  --refused6_n_;
  --refused_n_;
  for (uint32_t hole = i, j = (i + 1) & kMask; t[j].used; j = (j + 1) & kMask) {
    const uint32_t home = refusedHash6(t[j].key) & kMask;
    // j's entry may fill the hole when its home is not in (hole, j] (cyclically).
    const bool home_between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_between) {
      t[hole] = t[j];
      t[j].used = 0;
      hole = j;
    }
  }
}

void FastPath::handleCommands(C2wQueue& c2w) noexcept {
  if (c2w.read_available() == 0) {
    return;
  }
  // Packets in flight looked their slots up before this release: count them first.
  flush();
  C2wCommand cmd;
  // Room for one kFlowReleased per rating group plus the closing kSlotReleased.
  while (w2c_.write_available() >= n_rg_ + 1 && c2w.pop(cmd)) {
    if (cmd.type == C2wType::kRefuse || cmd.type == C2wType::kAdmit) {
      setRefused(cmd.key, cmd.type == C2wType::kRefuse);
      continue;
    }
    if (cmd.type != C2wType::kReleaseSlot) {
      continue;
    }
    if (cmd.refusal != 0) {
      setRefused(cmd.key, cmd.refusal > 0);
    }
    if (cmd.slot >= plan_.geometry.slots) {
      continue;
    }
    // Free the slot in the table first: if the key does not hold this slot (cannot happen in
    // the protocol), the counters belong to someone else and stay untouched.
    bool held = false;
    if (cmd.key.family == 4) {
      uint32_t off = plan_.offset4(cmd.key.v4);
      held = off != SlotTable::kNone && table_.release4(off, cmd.slot);
    } else if (cmd.key.family == 6) {
      held = table_.release6(cmd.key.v6, cmd.slot);
    }
    for (uint32_t rg = 0; held && rg < n_rg_; ++rg) {
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
    W2cEvent done;
    done.type = W2cType::kSlotReleased;
    done.slot = cmd.slot;
    done.key = cmd.key;
    w2c_.push(done);
    add(Stat::kReleasesHandled);
  }
}

void FastPath::publish() noexcept {
  // Unrolled: the count is a constant, and this runs once per burst.
#pragma GCC unroll 64
  for (size_t i = 0; i < local_.c.size(); ++i) {
    storeCounter(shared_.c[i], local_.c[i]);
  }
  for (size_t i = 0; i < ports_; ++i) {
    storeCounter(shared_.port[i].rx_packets, local_.port[i].rx_packets);
    storeCounter(shared_.port[i].tx_packets, local_.port[i].tx_packets);
    storeCounter(shared_.port[i].tx_drops, local_.port[i].tx_drops);
    storeCounter(shared_.port[i].tap_drops, local_.port[i].tap_drops);
    storeCounter(shared_.port[i].refused_drops, local_.port[i].refused_drops);
  }
  ++local_.bursts;
  std::atomic_ref<uint64_t>(shared_.bursts).store(local_.bursts, std::memory_order_release);
}

}  // namespace tally
