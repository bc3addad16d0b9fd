#include "dataplane/slot_table.h"

namespace tally {

SlotTable::SlotTable(uint64_t v4_addresses, uint32_t slots, bool v6, bool wide6)
    : v4_addresses_(v4_addresses), index4_mem_(v4_addresses), index4_(index4_mem_.data()),
      slots_(slots), free_(slots) {
  if (v6 && slots_ != 0) {
    uint64_t cap = 16;
    while (cap < 2 * uint64_t{slots_}) {
      cap <<= 1;
    }
    mask_ = uint32_t(cap - 1);
    wide_ = wide6;
    if (wide_) {
      wide_buckets_ = std::make_unique<LazyArray<WideBucket>>(cap);
      wide_data_ = wide_buckets_->data();
    } else {
      narrow_ = std::make_unique<LazyArray<NarrowBucket>>(cap);
      narrow_data_ = narrow_->data();
    }
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

// Called for an absent key only.
template <typename B>
uint32_t SlotTable::insertIn(B* b, const Ip6& key) noexcept {
  uint32_t slot = allocate();
  if (slot == kNone) {
    return kNone;
  }
  uint32_t i = bucketOf(key);
  while (b[i].slot1 != 0) {
    i = (i + 1) & mask_;
  }
  b[i].setKey(key);
  b[i].slot1 = slot + 1;
  b[i].serving = 0;
  return slot;
}

uint32_t SlotTable::insert6(const Ip6& key) noexcept {
  if (mask_ == 0) {
    return kNone;
  }
  return wide_ ? insertIn(wide_data_, key) : insertIn(narrow_data_, key);
}

template <typename B>
bool SlotTable::releaseIn(B* b, const Ip6& key, uint32_t slot) noexcept {
  const uint32_t i = probe(b, bucketOf(key), key);
  if (b[i].slot1 == 0 || b[i].slot1 != slot + 1) {
    return false;
  }
  // Backward-shift deletion: move later members of the cluster into the hole when their home
  // bucket is not between the hole and their position.
  uint32_t hole = i;
  for (uint32_t j = (i + 1) & mask_; b[j].slot1 != 0; j = (j + 1) & mask_) {
    uint32_t home = bucketOf(b[j].key());
    bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      b[hole] = b[j];
      hole = j;
    }
  }
  b[hole] = B{};
  free(slot);
  return true;
}

bool SlotTable::release6(const Ip6& key, uint32_t slot) noexcept {
  if (mask_ == 0) {
    return false;
  }
  return wide_ ? releaseIn(wide_data_, key, slot) : releaseIn(narrow_data_, key, slot);
}

}  // namespace tally
