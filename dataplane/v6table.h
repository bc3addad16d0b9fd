#pragma once
// A worker's own IPv6 subscriber table: masked prefix -> slab slot. Owned, written and read by
// one worker lcore only (no other thread touches it), so it needs no locks and no RCU: the
// control plane learns about entries from W2c events and asks for removal with C2w commands.
// Open addressing with linear probing, capacity a power of two >= 2 x slots (load <= 0.5),
// backward-shift deletion (no tombstones). All memory is allocated up front; no allocation,
// no exceptions after construction.
#include <cstdint>
#include <memory>

#include "shared/net.h"

namespace tally {

class V6Table {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // Slots handed out are first_slot .. first_slot + slots - 1.
  V6Table(uint32_t first_slot, uint32_t slots);

  uint32_t find(const Ip6& key) const noexcept {
    if (slots_ == 0) {
      return kNone;
    }
    for (uint32_t i = bucketOf(key);; i = (i + 1) & mask_) {
      const Bucket& b = buckets_[i];
      if (b.slot == kNone) {
        return kNone;
      }
      if (b.key == key) {
        return b.slot;
      }
    }
  }

  // Inserts key (not present) and returns its new slot, or kNone when all slots are in use.
  uint32_t insert(const Ip6& key) noexcept;
  // Removes key; returns its slot (now free for reuse) or kNone if absent.
  uint32_t remove(const Ip6& key) noexcept;

  uint32_t size() const { return used_; }
  uint32_t capacity() const { return slots_; }

 private:
  struct Bucket {
    Ip6 key;
    uint32_t slot = kNone;
  };
  uint32_t bucketOf(const Ip6& k) const noexcept {
    uint64_t h = (k.hi ^ (k.lo * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
    return uint32_t(h >> 32) & mask_;
  }

  uint32_t first_slot_;
  uint32_t slots_;
  uint32_t mask_ = 0;
  uint32_t used_ = 0;
  std::unique_ptr<Bucket[]> buckets_;
  std::unique_ptr<uint32_t[]> free_;  // stack of free slots
  uint32_t free_top_ = 0;
};

}  // namespace tally
