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
//   >= 2 x slots (load <= 0.5), backward-shift deletion (no tombstones). Buckets of 16 bytes
//   (the prefix's upper 64 bits, slot, serving digest) when subscriber prefixes are at most
//   /64, else 32 bytes: aligned, never across two cache lines.
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
  // `slots`: how many subscribers the worker can hold at once; `v6`: whether IPv6 pools exist;
  // `wide6`: IPv6 keys may have non-zero low halves (subscriber prefixes longer than 64 bits).
  // Without it, every IPv6 key's low half must be zero.
  SlotTable(uint64_t v4_addresses, uint32_t slots, bool v6, bool wide6 = true);
  SlotTable(const SlotTable&) = delete;
  SlotTable& operator=(const SlotTable&) = delete;
  bool ok() const {
    return index4_ != nullptr && free_.ok() && (narrow_ == nullptr || narrow_->ok()) &&
           (wide_buckets_ == nullptr || wide_buckets_->ok());
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
    return mask_ == 0 ? kNone : find6From(bucketOf(key), key);
  }
  // The same in two steps (the fast path hashes once per packet side): the home bucket of a
  // key (needs IPv6 pools), the lookup from it.
  uint32_t home6(const Ip6& key) const noexcept { return bucketOf(key); }
  // Buckets are 16 or 32 bytes, aligned: a bucket never lies across two cache lines.
  void prefetchBucket(uint32_t home) const noexcept {
    __builtin_prefetch(wide_ ? static_cast<const void*>(&wide_data_[home])
                             : static_cast<const void*>(&narrow_data_[home]), 0, 2);
  }
  uint32_t find6From(uint32_t home, const Ip6& key) const noexcept {
    if (wide_) [[unlikely]] {
      const uint32_t i = probe(wide_data_, home, key);
      return wide_data_[i].slot1 - 1;  // 0 (empty) -> kNone
    }
    const uint32_t i = probe(narrow_data_, home, key);
    return narrow_data_[i].slot1 - 1;
  }
  bool hasV6() const noexcept { return mask_ != 0; }
  uint32_t insert6(const Ip6& key) noexcept;
  bool release6(const Ip6& key, uint32_t slot) noexcept;
  // The serving-node digest of the prefix's entry, or nullptr when it has none.
  uint32_t* serving6(const Ip6& key) noexcept {
    if (mask_ == 0) {
      return nullptr;
    }
    const uint32_t home = bucketOf(key);
    if (wide_) {
      WideBucket& b = wide_data_[probe(wide_data_, home, key)];
      return b.slot1 == 0 ? nullptr : &b.serving;
    }
    NarrowBucket& b = narrow_data_[probe(narrow_data_, home, key)];
    return b.slot1 == 0 ? nullptr : &b.serving;
  }

  uint32_t used() const { return next_ - free_top_; }
  uint32_t capacity() const { return slots_; }

 private:
  // All zero = empty (the buckets are lazily backed zero memory). Narrow: subscriber prefixes
  // of at most 64 bits (the key's low half is always zero), four buckets to a cache line;
  // wide: longer prefixes, two to a line.
  struct NarrowBucket {
    uint64_t hi = 0;
    uint32_t slot1 = 0;  // slot + 1
    uint32_t serving = 0;
    Ip6 key() const noexcept { return Ip6{hi, 0}; }
    bool holds(const Ip6& k) const noexcept { return hi == k.hi; }
    void setKey(const Ip6& k) noexcept { hi = k.hi; }
  };
  struct alignas(32) WideBucket {
    Ip6 key_;
    uint32_t slot1 = 0;
    uint32_t serving = 0;
    Ip6 key() const noexcept { return key_; }
    bool holds(const Ip6& k) const noexcept { return key_ == k; }
    void setKey(const Ip6& k) noexcept { key_ = k; }
  };
  static_assert(sizeof(NarrowBucket) == 16 && sizeof(WideBucket) == 32);
  // The bucket holding `key`, or the empty one that ends its probe run.
  template <typename B>
  uint32_t probe(const B* b, uint32_t home, const Ip6& key) const noexcept {
    for (uint32_t i = home;; i = (i + 1) & mask_) {
      if (b[i].slot1 == 0 || b[i].holds(key)) {
        return i;
      }
    }
  }
  template <typename B>
  uint32_t insertIn(B* b, const Ip6& key) noexcept;
  template <typename B>
  bool releaseIn(B* b, const Ip6& key, uint32_t slot) noexcept;
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
  bool wide_ = false;
  std::unique_ptr<LazyArray<NarrowBucket>> narrow_;
  std::unique_ptr<LazyArray<WideBucket>> wide_buckets_;
  NarrowBucket* narrow_data_ = nullptr;  // narrow_->data()
  WideBucket* wide_data_ = nullptr;      // wide_buckets_->data()
};

}  // namespace tally
