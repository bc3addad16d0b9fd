// The worker's IPv6 prefix table against std::unordered_map as the oracle.
#include "dataplane/v6table.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <unordered_map>

namespace tally {
namespace {

struct H {
  size_t operator()(const Ip6& a) const { return std::hash<uint64_t>()(a.hi * 31 + a.lo); }
};

TEST(V6Table, RandomOperationsAgreeWithOracle) {
  constexpr uint32_t kSlots = 512;
  V6Table t(1000, kSlots);
  std::unordered_map<Ip6, uint32_t, H> oracle;
  std::mt19937_64 rng(7);
  std::vector<Ip6> keys;
  for (int i = 0; i < 2000; ++i) {
    keys.push_back(Ip6{0x20010db800000000ull | (rng() & 0xffff), 0});
  }
  for (int step = 0; step < 200000; ++step) {
    const Ip6& k = keys[rng() % keys.size()];
    int op = int(rng() % 3);
    if (op == 0) {
      if (oracle.count(k) == 0) {
        uint32_t s = t.insert(k);
        if (oracle.size() == kSlots) {
          ASSERT_EQ(s, V6Table::kNone);
        } else {
          ASSERT_NE(s, V6Table::kNone);
          ASSERT_GE(s, 1000u);
          ASSERT_LT(s, 1000u + kSlots);
          oracle[k] = s;
        }
      }
    } else if (op == 1) {
      uint32_t s = t.remove(k);
      auto it = oracle.find(k);
      ASSERT_EQ(s, it == oracle.end() ? V6Table::kNone : it->second);
      if (it != oracle.end()) {
        oracle.erase(it);
      }
    } else {
      auto it = oracle.find(k);
      ASSERT_EQ(t.find(k), it == oracle.end() ? V6Table::kNone : it->second);
    }
    ASSERT_EQ(t.size(), oracle.size());
  }
  // Every slot handed out is distinct.
  std::set<uint32_t> slots;
  for (auto& [k, s] : oracle) {
    ASSERT_TRUE(slots.insert(s).second);
    ASSERT_EQ(t.find(k), s);
  }
}

TEST(V6Table, EmptyTableFindsNothing) {
  V6Table t(0, 0);
  EXPECT_EQ(t.find(Ip6{1, 2}), V6Table::kNone);
  EXPECT_EQ(t.insert(Ip6{1, 2}), V6Table::kNone);
}

}  // namespace
}  // namespace tally
