#pragma once
// A worker's own subscriber table: subscriber key -> slot of its counter slab. Owned, written
// and read by one worker lcore only (no other thread touches it), so it needs no locks and no
// RCU: the control plane learns about entries from W2c events and asks for removal with C2w
// commands (docs/architecture.md, "slot release").
//
// Slots are dense: they are handed out in order of first appearance, freed slots before unused
// ones, so the counters in use span the number of subscribers this worker holds at most, not
// the size of the pools. That keeps the memory a worker touches per packet compact (one cache line
// of a slab of slots x rating groups x 32 bytes), and the poller's scan sequential
// (docs/performance.md).
//
// - IPv4: a direct index, one 8-byte entry per pool address (CountingPlan::offset4), holding
//   slot + 1 (0 = none) and the serving-node digest: lazily backed anonymous memory on
//   transparent huge pages, so an unused part of a pool costs address space only. One lookup,
//   no probing.
// - IPv6: open addressing with linear probing on the masked prefix, capacity a power of two
//   >= 2 x slots (load <= 0.5), backward-shift deletion (no tombstones).
// Each entry also holds the subscriber's serving-node digest (the fast path's, for GTP-U: a
// non-zero digest of the outer source last announced; 0 = none yet): in the line the lookup
// reads anyway, so GTP-U costs no extra random line per packet. Released with the entry.
// All memory is reserved up front (lazily backed: what is never used costs no memory); no
// allocation and no exceptions after construction.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "shared/lazy_array.h"
#include "shared/net.h"

namespace tally {

class SlotTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // `v4_addresses`: the number of IPv4 pool addresses (size of the direct index);
  // `slots`: how many subscribers the worker can hold at once; `v6`: whether IPv6 pools exist.
  SlotTable(uint64_t v4_addresses, uint32_t slots, bool v6);
  SlotTable(const SlotTable&) = delete;
  SlotTable& operator=(const SlotTable&) = delete;
  bool ok() const {
    return index4_ != nullptr && free_.ok() &&
           (buckets_ == nullptr || buckets_->ok());
  }

  // IPv4, by pool offset. The entry's address is for prefetching.
  const void* entry4(uint32_t offset) const noexcept { return &index4_[offset]; }
  uint32_t find4(uint32_t offset) const noexcept { return index4_[offset].slot1 - 1; }  // 0 -> kNone
  // The serving-node digest of the address's entry (meaningful while it holds a slot).
  uint32_t& serving4(uint32_t offset) noexcept { return index4_[offset].serving; }
  // Gives the (absent) address a slot; kNone when every slot is in use.
  uint32_t insert4(uint32_t offset) noexcept;
  // Frees the slot of the address; false (and nothing changes) unless it holds `slot`.
  bool release4(uint32_t offset, uint32_t slot) noexcept;

  // IPv6, by masked prefix.
  uint32_t find6(const Ip6& key) const noexcept {
    if (mask_ == 0) {
      return kNone;
    }
    for (uint32_t i = bucketOf(key);; i = (i + 1) & mask_) {
      const Bucket& b = bucket_data_[i];
      if (b.slot1 == 0) {
        return kNone;
      }
      if (b.key == key) {
        return b.slot1 - 1;
      }
    }
  }
  const void* bucket6(const Ip6& key) const noexcept {
    return mask_ == 0 ? nullptr : &bucket_data_[bucketOf(key)];
  }
  // The same in two steps (the fast path hashes once per packet side): the home bucket of a
  // key (needs IPv6 pools), its address for prefetching, the lookup from it.
  uint32_t home6(const Ip6& key) const noexcept { return bucketOf(key); }
  const void* bucketAt(uint32_t home) const noexcept { return &bucket_data_[home]; }
  // A 24-byte bucket lies across two cache lines one time in four: prefetch both.
  void prefetchBucket(uint32_t home) const noexcept {
    const char* b = reinterpret_cast<const char*>(&bucket_data_[home]);
    __builtin_prefetch(b);
    __builtin_prefetch(b + sizeof(Bucket) - 1);
  }
  uint32_t find6From(uint32_t home, const Ip6& key) const noexcept {
    for (uint32_t i = home;; i = (i + 1) & mask_) {
      const Bucket& b = bucket_data_[i];
      if (b.slot1 == 0) {
        return kNone;
      }
      if (b.key == key) {
        return b.slot1 - 1;
      }
    }
  }
  bool hasV6() const noexcept { return mask_ != 0; }
  uint32_t insert6(const Ip6& key) noexcept;
  bool release6(const Ip6& key, uint32_t slot) noexcept;
  // The serving-node digest of the prefix's entry, or nullptr when it has none.
  uint32_t* serving6(const Ip6& key) noexcept {
    if (mask_ == 0) {
      return nullptr;
    }
    for (uint32_t i = bucketOf(key);; i = (i + 1) & mask_) {
      Bucket& b = bucket_data_[i];
      if (b.slot1 == 0) {
        return nullptr;
      }
      if (b.key == key) {
        return &b.serving;
      }
    }
  }

  uint32_t used() const { return next_ - free_top_; }
  uint32_t capacity() const { return slots_; }

 private:
  struct Bucket {  // all zero = empty (the buckets are lazily backed zero memory)
    Ip6 key;
    uint32_t slot1 = 0;  // slot + 1
    uint32_t serving = 0;
  };
  struct Entry4 {  // all zero = none
    uint32_t slot1 = 0;  // slot + 1
    uint32_t serving = 0;
  };
  uint32_t bucketOf(const Ip6& k) const noexcept {
    uint64_t h = (k.hi ^ (k.lo * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
    return uint32_t(h >> 32) & mask_;
  }
  // Freed slots first (most recent first), then the lowest never used one.
  uint32_t allocate() noexcept {
    if (free_top_ != 0) {
      return free_[--free_top_];
    }
    return next_ < slots_ ? next_++ : kNone;
  }
  void free(uint32_t slot) noexcept { free_[free_top_++] = slot; }

  uint64_t v4_addresses_;
  LazyArray<Entry4> index4_mem_;
  Entry4* index4_;  // index4_mem_.data()
  uint32_t slots_;
  uint32_t next_ = 0;            // slots below it have been handed out at least once
  LazyArray<uint32_t> free_;     // stack of freed slots (backed only as it grows)
  uint32_t free_top_ = 0;
  uint32_t mask_ = 0;
  std::unique_ptr<LazyArray<Bucket>> buckets_;
  Bucket* bucket_data_ = nullptr;  // buckets_->data()
};

}  // namespace tally
