// The worker's subscriber table against std::map / std::unordered_map as the oracle.
#include "dataplane/slot_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

namespace tally {
namespace {

struct H {
  size_t operator()(const Ip6& a) const { return std::hash<uint64_t>()(a.hi * 31 + a.lo); }
};

TEST(SlotTable, SlotsAreDenseInOrderOfFirstAppearance) {
  SlotTable t(1u << 24, 8, true);
  ASSERT_TRUE(t.ok());
  // Addresses far apart in the pool still get slots 0, 1, 2, ... in the order they are seen.
  EXPECT_EQ(t.insert4(9000000), 0u);
  EXPECT_EQ(t.insert6(Ip6{0x20010db800000001ull, 0}), 1u);
  EXPECT_EQ(t.insert4(17), 2u);
  EXPECT_EQ(t.find4(9000000), 0u);
  EXPECT_EQ(t.find4(17), 2u);
  EXPECT_EQ(t.find4(18), SlotTable::kNone);
  EXPECT_EQ(t.find6(Ip6{0x20010db800000001ull, 0}), 1u);
  EXPECT_EQ(t.used(), 3u);
  // A freed slot is the next one handed out (the slab in use stays compact).
  EXPECT_TRUE(t.release4(9000000, 0));
  EXPECT_EQ(t.find4(9000000), SlotTable::kNone);
  EXPECT_EQ(t.insert4(5), 0u);
}

TEST(SlotTable, ReleaseOfAnotherSlotChangesNothing) {
  SlotTable t(256, 4, true);
  uint32_t a = t.insert4(10);
  uint32_t b = t.insert6(Ip6{1, 0});
  EXPECT_FALSE(t.release4(10, b));
  EXPECT_FALSE(t.release4(11, a));
  EXPECT_FALSE(t.release4(1000, a));  // beyond the pools
  EXPECT_FALSE(t.release6(Ip6{1, 0}, a));
  EXPECT_FALSE(t.release6(Ip6{2, 0}, b));
  EXPECT_EQ(t.find4(10), a);
  EXPECT_EQ(t.find6(Ip6{1, 0}), b);
  EXPECT_EQ(t.used(), 2u);
}

TEST(SlotTable, FullTableRefusesAndRecovers) {
  SlotTable t(1024, 2, true);
  EXPECT_NE(t.insert4(1), SlotTable::kNone);
  EXPECT_NE(t.insert6(Ip6{7, 0}), SlotTable::kNone);
  EXPECT_EQ(t.insert4(2), SlotTable::kNone);
  EXPECT_EQ(t.insert6(Ip6{8, 0}), SlotTable::kNone);
  EXPECT_EQ(t.find4(2), SlotTable::kNone);  // a refused insert leaves no entry
  EXPECT_TRUE(t.release6(Ip6{7, 0}, t.find6(Ip6{7, 0})));
  EXPECT_NE(t.insert4(2), SlotTable::kNone);
}

// Narrow (16-byte buckets, keys of at most /64: low halves zero) and wide (32-byte buckets, any
// key; here keys that differ only in the low half too).
class SlotTableLayout : public ::testing::TestWithParam<bool> {};

TEST_P(SlotTableLayout, RandomOperationsAgreeWithOracle) {
  constexpr uint32_t kSlots = 512;
  constexpr uint32_t kV4 = 4096;
  const bool wide = GetParam();
  SlotTable t(kV4, kSlots, true, wide);
  ASSERT_TRUE(t.ok());
  std::map<uint32_t, uint32_t> oracle4;
  std::unordered_map<Ip6, uint32_t, H> oracle6;
  std::mt19937_64 rng(7);
  std::vector<Ip6> keys;
  for (int i = 0; i < 2000; ++i) {
    const uint64_t r = rng();
    keys.push_back(wide ? Ip6{0x20010db800000000ull | (r & 0xff), (r >> 8) & 0x7}
                        : Ip6{0x20010db800000000ull | (r & 0xffff), 0});
  }
  for (int step = 0; step < 200000; ++step) {
    bool v6 = rng() % 2 == 0;
    const Ip6& k = keys[rng() % keys.size()];
    uint32_t off = uint32_t(rng() % 2000);
    int op = int(rng() % 3);
    size_t used = oracle4.size() + oracle6.size();
    if (op == 0) {
      bool present = v6 ? oracle6.count(k) != 0 : oracle4.count(off) != 0;
      if (!present) {
        uint32_t s = v6 ? t.insert6(k) : t.insert4(off);
        if (used == kSlots) {
          ASSERT_EQ(s, SlotTable::kNone);
        } else {
          ASSERT_LT(s, kSlots);
          if (v6) {
            oracle6[k] = s;
          } else {
            oracle4[off] = s;
          }
        }
      }
    } else if (op == 1) {
      if (v6) {
        auto it = oracle6.find(k);
        uint32_t s = it == oracle6.end() ? 0 : it->second;
        ASSERT_EQ(t.release6(k, s), it != oracle6.end());
        if (it != oracle6.end()) {
          oracle6.erase(it);
        }
      } else {
        auto it = oracle4.find(off);
        uint32_t s = it == oracle4.end() ? 0 : it->second;
        ASSERT_EQ(t.release4(off, s), it != oracle4.end());
        if (it != oracle4.end()) {
          oracle4.erase(it);
        }
      }
    } else if (v6) {
      auto it = oracle6.find(k);
      ASSERT_EQ(t.find6(k), it == oracle6.end() ? SlotTable::kNone : it->second);
    } else {
      auto it = oracle4.find(off);
      ASSERT_EQ(t.find4(off), it == oracle4.end() ? SlotTable::kNone : it->second);
    }
    ASSERT_EQ(t.used(), oracle4.size() + oracle6.size());
  }
  // Every slot handed out is distinct across both families.
  std::set<uint32_t> slots;
  for (auto& [k, s] : oracle6) {
    ASSERT_TRUE(slots.insert(s).second);
    ASSERT_EQ(t.find6(k), s);
  }
  for (auto& [k, s] : oracle4) {
    ASSERT_TRUE(slots.insert(s).second);
    ASSERT_EQ(t.find4(k), s);
  }
  // The serving digest lives in the key's bucket: kept as the others move, gone with the key.
  for (auto& [k, s] : oracle6) {
    uint32_t* d = t.serving6(k);
    ASSERT_NE(d, nullptr);
    ASSERT_EQ(*d, 0u);
    *d = s + 1;
  }
  std::vector<Ip6> held;
  for (auto& [k, s] : oracle6) {
    held.push_back(k);
  }
  for (size_t i = 0; i < held.size(); i += 2) {
    ASSERT_TRUE(t.release6(held[i], oracle6[held[i]]));
    ASSERT_EQ(t.serving6(held[i]), nullptr);
    ASSERT_EQ(t.find6(held[i]), SlotTable::kNone);
  }
  for (size_t i = 1; i < held.size(); i += 2) {
    uint32_t* d = t.serving6(held[i]);
    ASSERT_NE(d, nullptr);
    ASSERT_EQ(*d, oracle6[held[i]] + 1);
    ASSERT_EQ(t.find6(held[i]), oracle6[held[i]]);
  }
}

INSTANTIATE_TEST_SUITE_P(Buckets, SlotTableLayout, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "Wide" : "Narrow";
                         });

TEST(SlotTable, WithoutIpv6PoolsFindsNothing) {
  SlotTable t(16, 4, false);
  EXPECT_EQ(t.find6(Ip6{1, 2}), SlotTable::kNone);
  EXPECT_EQ(t.insert6(Ip6{1, 2}), SlotTable::kNone);
  EXPECT_EQ(t.used(), 0u);
}

}  // namespace
}  // namespace tally
