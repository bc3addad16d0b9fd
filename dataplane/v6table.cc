#include "dataplane/v6table.h"

namespace tally {

V6Table::V6Table(uint32_t first_slot, uint32_t slots) : first_slot_(first_slot), slots_(slots) {
  if (slots_ == 0) {
    return;
  }
  uint32_t cap = 16;
  while (cap < 2 * uint64_t{slots_}) {
    cap <<= 1;
  }
  mask_ = cap - 1;
  buckets_ = std::make_unique<Bucket[]>(cap);
  free_ = std::make_unique<uint32_t[]>(slots_);
  // Hand out low slots first (pop from the top).
  for (uint32_t i = 0; i < slots_; ++i) {
    free_[i] = first_slot_ + slots_ - 1 - i;
  }
  free_top_ = slots_;
}

uint32_t V6Table::insert(const Ip6& key) noexcept {
  if (free_top_ == 0) {
    return kNone;
  }
  uint32_t i = bucketOf(key);
  while (buckets_[i].slot != kNone) {
    i = (i + 1) & mask_;
  }
  uint32_t slot = free_[--free_top_];
  buckets_[i].key = key;
  buckets_[i].slot = slot;
  ++used_;
  return slot;
}

uint32_t V6Table::remove(const Ip6& key) noexcept {
  if (slots_ == 0) {
    return kNone;
  }
  uint32_t i = bucketOf(key);
  while (true) {
    if (buckets_[i].slot == kNone) {
      return kNone;
    }
    if (buckets_[i].key == key) {
      break;
    }
    i = (i + 1) & mask_;
  }
  uint32_t slot = buckets_[i].slot;
  // Backward-shift deletion: move later members of the cluster into the hole when their home
  // bucket is not between the hole and their position.
  uint32_t hole = i;
  for (uint32_t j = (i + 1) & mask_; buckets_[j].slot != kNone; j = (j + 1) & mask_) {
    uint32_t home = bucketOf(buckets_[j].key);
    bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      buckets_[hole] = buckets_[j];
      hole = j;
    }
  }
  buckets_[hole] = Bucket{};
  free_[free_top_++] = slot;
  --used_;
  return slot;
}

}  // namespace tally
