#include "dataplane/slot_table.h"

namespace tally {

SlotTable::SlotTable(uint64_t v4_addresses, uint32_t slots, bool v6)
    : v4_addresses_(v4_addresses), index4_mem_(v4_addresses), index4_(index4_mem_.data()),
      slots_(slots), free_(slots) {
  if (v6 && slots_ != 0) {
    uint64_t cap = 16;
    while (cap < 2 * uint64_t{slots_}) {
      cap <<= 1;
    }
    mask_ = uint32_t(cap - 1);
    buckets_ = std::make_unique<LazyArray<Bucket>>(cap);
    bucket_data_ = buckets_->data();
  }
}

uint32_t SlotTable::insert4(uint32_t offset) noexcept {
  uint32_t slot = allocate();
  if (slot != kNone) {
    index4_[offset] = Entry4{slot + 1, 0};
  }
  return slot;
}

bool SlotTable::release4(uint32_t offset, uint32_t slot) noexcept {
  if (offset >= v4_addresses_ || slot >= slots_ || index4_[offset].slot1 != slot + 1) {
    return false;
  }
  index4_[offset] = Entry4{};
  free(slot);
  return true;
}

uint32_t SlotTable::insert6(const Ip6& key) noexcept {
  if (mask_ == 0) {
    return kNone;
  }
  uint32_t slot = allocate();
  if (slot == kNone) {
    return kNone;
  }
  LazyArray<Bucket>& b = *buckets_;
  uint32_t i = bucketOf(key);
  while (b[i].slot1 != 0) {
    i = (i + 1) & mask_;
  }
  b[i].key = key;
  b[i].slot1 = slot + 1;
  b[i].serving = 0;
  return slot;
}

bool SlotTable::release6(const Ip6& key, uint32_t slot) noexcept {
  if (mask_ == 0) {
    return false;
  }
  LazyArray<Bucket>& b = *buckets_;
  uint32_t i = bucketOf(key);
  while (true) {
    if (b[i].slot1 == 0) {
      return false;
    }
    if (b[i].key == key) {
      break;
    }
    i = (i + 1) & mask_;
  }
  if (b[i].slot1 != slot + 1) {
    return false;
  }
  // Backward-shift deletion: move later members of the cluster into the hole when their home
  // bucket is not between the hole and their position.
  uint32_t hole = i;
  for (uint32_t j = (i + 1) & mask_; b[j].slot1 != 0; j = (j + 1) & mask_) {
    uint32_t home = bucketOf(b[j].key);
    bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      b[hole] = b[j];
      hole = j;
    }
  }
  b[hole] = Bucket{};
  free(slot);
  return true;
}

}  // namespace tally
