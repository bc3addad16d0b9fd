#pragma once
// Per-worker counter layout. Ownership (see docs/architecture.md):
//   written by: exactly one worker lcore (the slab's owner), relaxed atomic store of a value it
//               loaded itself: no read-modify-write atomics, no locks;
//   read by:    the control-plane poller (relaxed atomic loads; it keeps baselines).
// Counters only go up, with one exception written into the protocol: a worker zeroes a flow
// slot it owns only when the control plane asked it to release the slot, and it hands the final
// values over in the same step (W2cEvent kFlowReleased), so no octet is lost or counted twice.
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "shared/lazy_array.h"

namespace tally {

// One flow (subscriber x rating group) on one worker. 32 bytes: two flows per cache line.
struct alignas(32) FlowCounters {
  uint64_t ul_octets = 0;
  uint64_t ul_packets = 0;
  uint64_t dl_octets = 0;
  uint64_t dl_packets = 0;

  bool operator==(const FlowCounters&) const = default;
  bool empty() const { return ul_packets == 0 && dl_packets == 0; }
  uint64_t octets() const { return ul_octets + dl_octets; }
  FlowCounters& operator+=(const FlowCounters& o) {
    ul_octets += o.ul_octets;
    ul_packets += o.ul_packets;
    dl_octets += o.dl_octets;
    dl_packets += o.dl_packets;
    return *this;
  }
  FlowCounters operator-(const FlowCounters& o) const {
    return {ul_octets - o.ul_octets, ul_packets - o.ul_packets, dl_octets - o.dl_octets,
            dl_packets - o.dl_packets};
  }
};
static_assert(sizeof(FlowCounters) == 32);

// Single-writer helpers: the only way code touches shared counters.
inline uint64_t loadCounter(const uint64_t& c) noexcept {
  return std::atomic_ref<const uint64_t>(c).load(std::memory_order_relaxed);
}
inline void storeCounter(uint64_t& c, uint64_t v) noexcept {
  std::atomic_ref<uint64_t>(c).store(v, std::memory_order_relaxed);
}
// Owner adds to its own counter: relaxed load + relaxed store (not fetch_add).
inline void bumpCounter(uint64_t& c, uint64_t add) noexcept {
  storeCounter(c, loadCounter(c) + add);
}
inline FlowCounters loadFlow(const FlowCounters& f) noexcept {
  return {loadCounter(f.ul_octets), loadCounter(f.ul_packets), loadCounter(f.dl_octets),
          loadCounter(f.dl_packets)};
}

// Slot numbering inside one worker's slab: the worker gives each subscriber (IPv4 address or
// IPv6 prefix) a slot in [0, slots) when it first sees it, a freed slot before an unused one
// (dataplane/slot_table.h), and frees it on the control plane's release. So the slab in use
// spans the subscribers the worker holds, not the pools. Flow index = slot * rating_groups +
// rating-group index.
struct SlabGeometry {
  uint32_t slots = 0;
  uint32_t rating_groups = 1;
  size_t flows() const { return size_t(slots) * rating_groups; }
};

// Slots per worker for a max_sessions limit: every billed session, plus headroom for the
// unbilled pseudo-sessions the control plane also tracks (learning off, max_sessions reached)
// and for sessions whose release is still in flight. Beyond it a worker counts new
// subscribers' octets in slot_table_full_* (named, unattributed).
constexpr uint32_t slotCapacity(uint32_t max_sessions) {
  return max_sessions + max_sessions / 8 + 64;
}

// The flow counters of one worker: one lazily backed mapping on huge pages (unused slots cost
// no memory; random subscribers touch random lines, and huge pages keep those page walks
// short, see docs/performance.md).
class CounterSlab {
 public:
  explicit CounterSlab(const SlabGeometry& g)
      : geometry_(g), mem_(g.flows()), flows_(mem_.data()) {}

  const SlabGeometry& geometry() const { return geometry_; }
  FlowCounters* flows() { return flows_; }
  const FlowCounters* flows() const { return flows_; }
  FlowCounters& flow(uint32_t slot, uint32_t rg_index) {
    return flows_[size_t(slot) * geometry_.rating_groups + rg_index];
  }
  const FlowCounters& flow(uint32_t slot, uint32_t rg_index) const {
    return flows_[size_t(slot) * geometry_.rating_groups + rg_index];
  }
  bool ok() const { return flows_ != nullptr; }

 private:
  SlabGeometry geometry_;
  LazyArray<FlowCounters> mem_;
  FlowCounters* flows_;  // mem_.data(); nullptr when the mapping failed
};

}  // namespace tally
