#pragma once
// The counting engine of one worker lcore, DPDK-free: frames (bytes) in, per-flow counters and
// named counters out. The DPDK worker (dataplane/worker.cc) is a thin adapter around it.
//
// Per packet: parse -> for each side whose address is in a subscriber pool (source = uplink,
// destination = downlink) find the subscriber's slot in the worker's own table (IPv4: a direct
// index by offset in the pools; IPv6: a hash of the prefix), or give it the next free slot ->
// rating group (first matching service rule) -> add the IP length to the flow counter
// (slot x rating group) in the worker's own slab.
// A flow whose counters are zero is new (first packet since the slot was created or released):
// it is announced to the control plane (W2c kFlowLearned) BEFORE it is counted in the slab; when
// the queue is full the packet is counted in the named unattributed counters instead, and the
// next packet of the flow tries again. So every counted octet is either in a flow the control
// plane knows, or in a named counter: nothing is lost, nothing is counted twice.
//
// Thread: everything here runs on its worker lcore only. noexcept, no allocation, no locks.
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/classifier.h"
#include "dataplane/parser.h"
#include "dataplane/slot_table.h"
#include "shared/config.h"
#include "shared/counting_plan.h"
#include "shared/counters.h"
#include "shared/events.h"
#include "shared/lazy_array.h"
#include "shared/stats.h"

namespace tally {

// Rating-group index of a parsed packet for one side (uplink: the subscriber is the source):
// the first matching service rule of the plan, else its default. The reference walk of the
// rules; the fast path uses the precompiled Classifier (classifier.h), which gives the same.
uint8_t classify(const CountingPlan& plan, const ParsedPacket& p, bool uplink) noexcept;

class FastPath {
 public:
  // `shared_stats` is this worker's published statistics (read by the control plane).
  FastPath(const CountingPlan& plan, CounterSlab& slab, W2cQueue& w2c, WorkerStats& shared_stats);
  bool ok() const { return table_.ok(); }  // its memory could be reserved
  FastPath(const FastPath&) = delete;
  FastPath& operator=(const FastPath&) = delete;

  static constexpr uint32_t kMaxBurst = 256;

  // The worker's entry: parse a burst of frames now (the frames may be freed or sent on when
  // this returns) and count it within the next two calls, or at flush(). A pipeline of three
  // bursts (parse + prefetch the IPv4 index entries; classify, read the slots and prefetch the
  // flow counters; count) gives every memory access a whole burst of work to arrive in
  // (docs/performance.md).
  // Frame i: `lens[i]` octets on the wire, of which the first `readable[i]` are contiguous at
  // `frames[i]` (parsePacket in parser.h: frames larger than one packet buffer).
  // Returns how many of the frames belong to a refused subscriber on either side (RADIUS
  // accounting start_fail offline: C2w kRefuse): they are counted as usual (the control plane
  // attributes them to radius_refused) and must not be forwarded; refusedMask()[i] != 0 flags
  // them until the next call. With no subscriber refused this costs one branch per burst.
  // Only for n <= kMaxBurst does the mask cover the whole call (the DPDK adapter's bursts).
  uint32_t stageBurst(const uint8_t* const* frames, const uint32_t* readable,
                      const uint32_t* lens, uint32_t n) noexcept;
  // Every frame contiguous (readable == len).
  uint32_t stageBurst(const uint8_t* const* frames, const uint32_t* lens, uint32_t n) noexcept {
    return stageBurst(frames, lens, lens, n);
  }
  const uint8_t* refusedMask() const noexcept { return refused_mask_; }
  // Subscribers refused now (tests and diagnostics; worker thread only).
  uint32_t refusedCount() const noexcept { return refused_n_; }
  // Count every burst in flight. Call when the rx queues are empty and before stopping.
  void flush() noexcept;
  // Count a burst now (stageBurst + flush).
  void countBurst(const uint8_t* const* frames, const uint32_t* lens, uint32_t n) noexcept;
  void countFrame(const uint8_t* frame, uint32_t len) noexcept { countBurst(&frame, &len, 1); }

  // Serve control-plane commands (slot releases, refusals) while the W2c queue has room for the answers.
  // Counts the bursts in flight first (they looked up slots before the release).
  void handleCommands(C2wQueue& c2w) noexcept;

  // Publish the local statistics into the shared WorkerStats: relaxed stores of every counter
  // (of the first `ports` ports, see setPorts), then a release store of `bursts`. Call once per
  // burst.
  void publish() noexcept;
  // The ports whose counters the adapter uses (0..n-1; default every one, kMaxPorts): publish()
  // copies only those. Call before the first burst.
  void setPorts(uint32_t n) noexcept { ports_ = n < kMaxPorts ? n : kMaxPorts; }

  // Worker-private statistics (plain memory; the DPDK adapter adds port counters here).
  WorkerStats& local() { return local_; }

  // Slot of a subscriber key (IPv4 address, IPv6 prefix) or SlotTable::kNone. Worker thread only
  // (tests and diagnostics).
  uint32_t slotOf(const IpAddress& key) const noexcept;

 private:
  // One burst in flight. Per packet and side (source = uplink, destination = downlink):
  //   ref:  IPv4 offset in the index; kIpv6Side for an IPv6 address in a pool; kNone: no pool;
  //   flow: of a side in a pool: the flow counters (slot x rating group) when the subscriber
  //         had a slot at lookup, else nullptr (its slot is found, or given, when counting);
  //   rg:   the rating-group index, written only when `flow` is nullptr (else it is
  //         (flow - slab flows) % rating groups).
  struct Staged {
    Staged() {}  // uninitialised: every stage writes what the next one reads
    uint32_t n = 0;
    union {
      ParsedPacket pkt[kMaxBurst];
    };
    // No uint8_t arrays here: a store through a char type may alias anything, and the stage
    // loops would reload every pointer and bound after it.
    uint32_t status[kMaxBurst];  // ParseStatus
    uint32_t src_ref[kMaxBurst];
    uint32_t dst_ref[kMaxBurst];
    FlowCounters* src_flow[kMaxBurst];
    FlowCounters* dst_flow[kMaxBurst];
    uint32_t src_rg[kMaxBurst];
    uint32_t dst_rg[kMaxBurst];
    // IPv6 sides in a pool: the masked key and its home bucket, computed once when parsing.
    Ip6 src_key6[kMaxBurst];
    Ip6 dst_key6[kMaxBurst];
    uint32_t src_home6[kMaxBurst];
    uint32_t dst_home6[kMaxBurst];
  };
  static constexpr uint32_t kRing = 3;
  void parseStage(Staged& s, const uint8_t* const* frames, const uint32_t* readable,
                  const uint32_t* lens, uint32_t n) noexcept;
  void lookupStage(Staged& s) noexcept;
  // The flow counters of one side, prefetched (nullptr: no slot yet; then its rating group is
  // written to `rg`). `flows`, `n_rg`: the slab's, in the caller's registers.
  FlowCounters* lookupSide(const ParsedPacket& p, bool uplink, uint32_t ref, uint32_t& rg,
                           const uint32_t* home6, const Ip6* key6, FlowCounters* flows,
                           size_t n_rg) noexcept;
  void countStage(Staged& s) noexcept;
  void countSide(const ParsedPacket& p, bool uplink, uint32_t offset, FlowCounters* flow,
                 const uint32_t& rg) noexcept;
  // countSide for a subscriber with no slot at lookup (`flow` nullptr, its rating group `rg`),
  // or a flow not announced yet.
  [[gnu::noinline]] void countSideSlow(const ParsedPacket& p, bool uplink, uint32_t offset,
                                       FlowCounters* flow, uint32_t rg) noexcept;
  void countSideSlow(const ParsedPacket& p, bool uplink, uint32_t offset, uint32_t slot,
                     uint8_t rg) noexcept;
  // Offset of an IPv4 address in the index (CountingPlan::offset4), from this worker's copy of
  // the pools.
  uint32_t offset4(uint32_t addr) const noexcept {
    for (const Pool4& p : pools4_) {
      const uint32_t d = addr - p.base;
      if (d <= p.last) {
        return p.first_offset + d;
      }
    }
    return SlotTable::kNone;
  }
  IpAddress subscriberKey(const ParsedPacket& p, bool uplink) const noexcept;
  // Refused subscribers (C2w kRefuse / kAdmit): a bit per IPv4 pool offset, and an open-address
  // set (linear probing, deletion by backward shift) of IPv6 keys, both mapped lazily at start
  // so that a refusal allocates nothing. The IPv6 set holds at most kRefused6Max keys.
  void setRefused(const IpAddress& key, bool refused) noexcept;
  bool refused6(const Ip6& key) const noexcept;
  uint32_t markRefused(const Staged& s) noexcept;
  struct Refused6 {
    Ip6 key;
    uint64_t used;
  };
  static constexpr uint32_t kRefused6Slots = 1u << 16;
 public:
  static constexpr uint32_t kRefused6Max = kRefused6Slots / 2;

 private:
  void add(Stat s, uint64_t v = 1) noexcept { local_.c[size_t(s)] += v; }

  // Serving node (GTP-U outer source of uplink packets) last announced per subscriber, as a
  // non-zero 32-bit digest in the subscriber's slot-table entry (SlotTable::serving4/6); 0 =
  // none yet, and again after the slot's release. An IPv4 node's digest is its address (exact:
  // a change between two IPv4 nodes is always seen; 0.0.0.0, no real node, is 1), an IPv6
  // node's an odd 32-bit hash (a change is missed only if the two digests are equal).
  // countSide relies on the first: it compares an IPv4 node's address with the stored digest.
  static uint32_t servingDigest(const IpAddress& o) noexcept {
    if (o.family == 4) [[likely]] {
      return o.v4 != 0 ? o.v4 : 1u;
    }
    const uint64_t h = (o.v6.hi * 0x9E3779B97F4A7C15ull) ^ o.v6.lo;
    return uint32_t((h * 0xBF58476D1CE4E5B9ull) >> 32) | 1u;
  }
  void noteServingNode(const ParsedPacket& p, uint32_t slot, const IpAddress& key,
                       uint32_t offset) noexcept;

  struct Pool4 {
    uint32_t base;
    uint32_t last;  // addresses - 1
    uint32_t first_offset;
  };
  std::vector<Pool4> pools4_;
  Pool4 pool0_;  // pools4_[0] (the one pool of most plans), or {0, 0, kNone} without pools
  struct Pool6 {
    Ip6 addr;
    Ip6 mask;
  };
  std::vector<Pool6> pools6_;
  Ip6 key_mask6_;  // the subscriber key of an IPv6 address: address & key_mask6_
  uint32_t ports_ = kMaxPorts;
  Classifier classifier_;
  const CountingPlan& plan_;
  CounterSlab& slab_;
  W2cQueue& w2c_;
  WorkerStats& shared_;
  WorkerStats local_;
  SlotTable table_;
  Staged ring_[kRing];
  uint32_t ring_next_ = 0;
  Staged* to_lookup_ = nullptr;  // parsed, not looked up yet
  Staged* to_count_ = nullptr;   // looked up, not counted yet
  uint32_t n_rg_;
  std::unique_ptr<LazyArray<uint64_t>> refused4_;  // bit per IPv4 offset
  std::unique_ptr<LazyArray<Refused6>> refused6_;  // kRefused6Slots, IPv6 pools only
  uint32_t refused_n_ = 0;
  uint32_t refused6_n_ = 0;
  uint8_t refused_mask_[kMaxBurst] = {};
};

}  // namespace tally
