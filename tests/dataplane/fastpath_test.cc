// The counting engine: slots, rating groups, announcements, unattributed counters, releases.
#include "dataplane/fastpath.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/dataplane/packet_builder.h"
#include "tests/fakes/frames.h"
#include "tests/fakes/test_config.h"

namespace tally {
namespace {

using testing::ipv4Frame;
using testing::ipv6Frame;

class FastPathTest : public ::testing::Test {
 protected:
  void SetUp() override { build(testing::testConfig()); }
  void build(const Config& c) {
    config_ = c;
    plan_ = CountingPlan::fromConfig(config_);
    slab_ = std::make_unique<CounterSlab>(plan_.geometry);
    w2c_ = std::make_unique<W2cQueue>();
    c2w_ = std::make_unique<C2wQueue>();
    shared_ = std::make_unique<WorkerStats>();
    fp_ = std::make_unique<FastPath>(plan_, *slab_, *w2c_, *shared_);
  }
  void send(const std::vector<uint8_t>& f) { fp_->countFrame(f.data(), uint32_t(f.size())); }
  uint64_t stat(Stat s) { return fp_->local().c[size_t(s)]; }
  uint8_t rg(uint32_t id) {
    for (size_t i = 0; i < plan_.rating_groups.size(); ++i) {
      if (plan_.rating_groups[i] == id) {
        return uint8_t(i);
      }
    }
    ADD_FAILURE() << "no rating group " << id;
    return 0;
  }
  uint32_t slotOf(const char* addr) { return fp_->slotOf(*parseIpAddress(addr)); }
  // The control plane asks for a slot's release (naming its subscriber key); the worker serves it.
  void release(uint32_t slot, const IpAddress& key) {
    c2w_->push(C2wCommand{C2wType::kReleaseSlot, slot, key});
    fp_->handleCommands(*c2w_);
  }
  void release(const char* addr) { release(slotOf(addr), *parseIpAddress(addr)); }
  // The counters of an IPv4 subscriber's flow; empty when it has no slot.
  FlowCounters flow4(const char* addr, uint32_t rating_group) {
    uint32_t slot = slotOf(addr);
    return slot == SlotTable::kNone ? FlowCounters{}
                                    : loadFlow(slab_->flow(slot, rg(rating_group)));
  }
  // Sends one packet from each of `n` distinct /64s of 2001:db8:0:x::/64, x from `first`.
  void sendPrefixes(uint32_t first, uint32_t n) {
    for (uint32_t x = first; x < first + n; ++x) {
      char a[64];
      std::snprintf(a, sizeof a, "2001:db8:0:%x::1", x);
      send(ipv6Frame(a, "2001:4860::1", 6, 1, 80, 0));
    }
  }
  std::vector<W2cEvent> drain() {
    std::vector<W2cEvent> out;
    W2cEvent ev;
    while (w2c_->pop(ev)) {
      out.push_back(ev);
    }
    return out;
  }

  Config config_;
  CountingPlan plan_;
  std::unique_ptr<CounterSlab> slab_;
  std::unique_ptr<W2cQueue> w2c_;
  std::unique_ptr<C2wQueue> c2w_;
  std::unique_ptr<WorkerStats> shared_;
  std::unique_ptr<FastPath> fp_;
};

TEST_F(FastPathTest, UplinkAndDownlinkCountIpLengthPerRatingGroup) {
  send(ipv4Frame("10.0.1.2", "8.8.8.8", 17, 4000, 53, 100));       // uplink RG 10: 128 octets
  send(ipv4Frame("8.8.8.8", "10.0.1.2", 17, 53, 4000, 200));       // downlink RG 10: 228
  send(ipv4Frame("10.0.1.2", "198.51.100.7", 6, 4000, 443, 10));   // uplink RG 20: 50
  send(ipv4Frame("203.0.113.9", "10.0.1.2", 1, 0, 0, 4));          // ICMP downlink RG 1: 28
  EXPECT_EQ(flow4("10.0.1.2", 10), (FlowCounters{128, 1, 228, 1}));
  EXPECT_EQ(flow4("10.0.1.2", 20), (FlowCounters{50, 1, 0, 0}));
  EXPECT_EQ(flow4("10.0.1.2", 1), (FlowCounters{0, 0, 28, 1}));
  EXPECT_EQ(stat(Stat::kCountedPackets), 4u);
  EXPECT_EQ(stat(Stat::kCountedOctets), 128u + 228 + 50 + 28);
  // One announcement per new flow, before its first count.
  auto ev = drain();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].type, W2cType::kFlowLearned);
  EXPECT_EQ(formatIp(ev[0].key), "10.0.1.2");
  EXPECT_EQ(ev[0].rg_index, rg(10));
  EXPECT_EQ(ev[1].rg_index, rg(20));
  EXPECT_EQ(ev[2].rg_index, rg(1));
}

TEST_F(FastPathTest, EthernetPaddingIsNotBilled) {
  auto f = ipv4Frame("10.0.0.5", "8.8.8.8", 17, 1, 2, 0);  // 28-byte IP packet in 60 bytes
  ASSERT_EQ(f.size(), 60u);
  send(f);
  EXPECT_EQ(flow4("10.0.0.5", 1).ul_octets, 28u);
}

TEST_F(FastPathTest, SubscriberToSubscriberCountsBothSides) {
  send(ipv4Frame("10.0.0.1", "10.0.0.2", 6, 1000, 2000, 60));
  EXPECT_EQ(flow4("10.0.0.1", 1), (FlowCounters{100, 1, 0, 0}));
  EXPECT_EQ(flow4("10.0.0.2", 1), (FlowCounters{0, 0, 100, 1}));
  EXPECT_EQ(stat(Stat::kCountedPackets), 2u);
  EXPECT_EQ(stat(Stat::kTransitPackets), 0u);
}

TEST_F(FastPathTest, TransitAndMalformedAreNotBilled) {
  send(ipv4Frame("192.168.1.1", "8.8.8.8", 17, 1, 2, 10));
  std::vector<uint8_t> arp(60, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  send(arp);
  auto bad = ipv4Frame("10.0.0.1", "8.8.8.8", 17, 1, 2, 10);
  bad[14] = 0x44;  // IHL 4
  send(bad);
  EXPECT_EQ(stat(Stat::kTransitPackets), 1u);
  EXPECT_EQ(stat(Stat::kTransitOctets), 38u);
  EXPECT_EQ(stat(Stat::kNonIp), 1u);
  EXPECT_EQ(stat(Stat::kBadIpHeader), 1u);
  EXPECT_EQ(stat(Stat::kCountedPackets), 0u);
  EXPECT_TRUE(drain().empty());
}

TEST_F(FastPathTest, NonFirstFragmentMatchesOnlyPortlessRules) {
  send(ipv4Frame("10.0.0.1", "8.8.8.8", 17, 4000, 53, 100));           // RG 10
  send(ipv4Frame("10.0.0.1", "8.8.8.8", 17, 0, 0, 100, /*offset=*/185));  // no ports: RG 1
  send(ipv4Frame("10.0.0.1", "198.51.100.1", 17, 0, 0, 100, 185));      // prefix rule: RG 20
  EXPECT_EQ(flow4("10.0.0.1", 10).ul_packets, 1u);
  EXPECT_EQ(flow4("10.0.0.1", 1).ul_octets, 120u);
  EXPECT_EQ(flow4("10.0.0.1", 20).ul_octets, 120u);
  EXPECT_EQ(stat(Stat::kFragments), 2u);
}

TEST_F(FastPathTest, Ipv6AddressesOfOnePrefixShareOneSubscriber) {
  send(ipv6Frame("2001:db8:1:2::1", "2001:4860::8888", 17, 5000, 53, 10));
  send(ipv6Frame("2001:db8:1:2:aaaa::9", "2001:4860::8888", 17, 5001, 53, 20));
  send(ipv6Frame("2001:4860::8888", "2001:db8:1:3::1", 6, 443, 5000, 0));
  auto ev = drain();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(formatIp(ev[0].key), "2001:db8:1:2::");
  EXPECT_EQ(formatIp(ev[1].key), "2001:db8:1:3::");
  EXPECT_NE(ev[0].slot, ev[1].slot);
  EXPECT_LT(ev[0].slot, plan_.geometry.slots);
  FlowCounters f = loadFlow(slab_->flow(ev[0].slot, rg(10)));
  EXPECT_EQ(f, (FlowCounters{40 + 18 + 40 + 28, 2, 0, 0}));
  EXPECT_EQ(loadFlow(slab_->flow(ev[1].slot, rg(1))), (FlowCounters{0, 0, 60, 1}));
}

TEST_F(FastPathTest, FullLearnQueueSendsOctetsToNamedCounterAndRetries) {
  // Fill the queue without draining.
  W2cEvent filler;
  while (w2c_->push(filler)) {
  }
  auto f = ipv4Frame("10.0.0.9", "8.8.8.8", 6, 1, 80, 100);
  send(f);
  send(f);
  EXPECT_EQ(stat(Stat::kLearnQueueFullPackets), 2u);
  EXPECT_EQ(stat(Stat::kLearnQueueFullOctets), 280u);
  EXPECT_TRUE(flow4("10.0.0.9", 1).empty());  // never counted where nobody would look
  drain();
  send(f);
  EXPECT_EQ(flow4("10.0.0.9", 1), (FlowCounters{140, 1, 0, 0}));
  auto ev = drain();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(stat(Stat::kCountedOctets), 420u);
}

TEST_F(FastPathTest, SlotsAreGivenInOrderOfFirstAppearanceToBothFamilies) {
  // Far apart in the pool, yet slots 0, 1, 2: the counters in use stay compact.
  send(ipv4Frame("10.0.200.7", "8.8.8.8", 17, 1, 53, 0));
  send(ipv6Frame("2001:db8:0:1::1", "2001:4860::1", 6, 1, 80, 0));
  send(ipv4Frame("8.8.8.8", "10.0.0.2", 17, 53, 1, 0));
  EXPECT_EQ(slotOf("10.0.200.7"), 0u);
  EXPECT_EQ(fp_->slotOf(*parseIpAddress("2001:db8:0:1::5")), 1u);
  EXPECT_EQ(slotOf("10.0.0.2"), 2u);
  EXPECT_EQ(slotOf("10.0.0.3"), SlotTable::kNone);
  auto ev = drain();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].slot, 0u);
  EXPECT_EQ(ev[1].slot, 1u);
  EXPECT_EQ(ev[2].slot, 2u);
}

TEST_F(FastPathTest, FullSlotTableSendsOctetsToNamedCounter) {
  Config c = testing::testConfig();
  c.dataplane.max_sessions = 2;
  build(c);
  const uint32_t slots = plan_.geometry.slots;
  EXPECT_EQ(slots, slotCapacity(2));
  sendPrefixes(1, slots);  // IPv4 and IPv6 share the table: fill it with prefixes
  EXPECT_EQ(stat(Stat::kSlotTableFullPackets), 0u);
  send(ipv6Frame("2001:db8:1:1::1", "2001:4860::1", 6, 1, 80, 0));
  send(ipv4Frame("10.0.0.9", "8.8.8.8", 6, 1, 80, 100));
  EXPECT_EQ(stat(Stat::kSlotTableFullPackets), 2u);
  EXPECT_EQ(stat(Stat::kSlotTableFullOctets), 60u + 140u);
  EXPECT_EQ(slotOf("10.0.0.9"), SlotTable::kNone);
  EXPECT_EQ(drain().size(), slots);
}

TEST_F(FastPathTest, ReleaseHandsOverFinalCountsZeroesAndReannounces) {
  auto up = ipv4Frame("10.0.3.3", "8.8.8.8", 17, 1, 53, 10);
  send(up);
  send(ipv4Frame("10.0.3.3", "9.9.9.9", 6, 1, 80, 10));
  drain();
  release("10.0.3.3");
  auto ev = drain();
  ASSERT_EQ(ev.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(ev[i].type, W2cType::kFlowReleased);
    if (ev[i].rg_index == rg(10)) {
      EXPECT_EQ(ev[i].final, (FlowCounters{38, 1, 0, 0}));
    } else {
      EXPECT_EQ(ev[i].rg_index, rg(1));
      EXPECT_EQ(ev[i].final, (FlowCounters{50, 1, 0, 0}));
    }
  }
  EXPECT_EQ(ev[2].type, W2cType::kSlotReleased);
  EXPECT_TRUE(flow4("10.0.3.3", 10).empty());
  send(up);
  ev = drain();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, W2cType::kFlowLearned);
}

TEST_F(FastPathTest, Ipv6ReleaseFreesTheSlotForAnotherPrefix) {
  Config c = testing::testConfig();
  c.dataplane.max_sessions = 1;
  build(c);
  sendPrefixes(1, plan_.geometry.slots);  // every slot in use
  auto ev = drain();
  ASSERT_EQ(ev.size(), plan_.geometry.slots);
  release(ev[0].slot, ev[0].key);
  drain();
  send(ipv6Frame("2001:db8:1:2::1", "2001:4860::1", 6, 1, 80, 0));
  ev = drain();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(formatIp(ev[0].key), "2001:db8:1:2::");
  EXPECT_EQ(stat(Stat::kSlotTableFullPackets), 0u);
}

// RADIUS start_fail offline: a refused subscriber's frames are flagged (not to be forwarded) on
// either side and still counted; admitting it clears the flag.
TEST_F(FastPathTest, RefusedSubscriberFramesAreFlaggedAndStillCounted) {
  auto frame = [](const char* src, const char* dst) { return ipv4Frame(src, dst, 6, 1000, 80, 100); };
  const std::vector<std::vector<uint8_t>> burst = {
      frame("10.0.0.1", "198.51.100.9"),  // uplink of .1
      frame("10.0.0.2", "198.51.100.9"),
      frame("198.51.100.9", "10.0.0.1"),  // downlink of .1
      frame("10.0.0.3", "10.0.0.1"),      // sub to sub: .1 on the destination side
  };
  std::vector<const uint8_t*> ptrs;
  std::vector<uint32_t> lens;
  for (const auto& f : burst) {
    ptrs.push_back(f.data());
    lens.push_back(uint32_t(f.size()));
  }
  EXPECT_EQ(fp_->stageBurst(ptrs.data(), lens.data(), uint32_t(ptrs.size())), 0u);
  c2w_->push(C2wCommand{C2wType::kRefuse, 0, *parseIpAddress("10.0.0.1")});
  fp_->handleCommands(*c2w_);
  EXPECT_EQ(fp_->refusedCount(), 1u);
  EXPECT_EQ(fp_->stageBurst(ptrs.data(), lens.data(), uint32_t(ptrs.size())), 3u);
  const uint8_t* mask = fp_->refusedMask();
  EXPECT_EQ(std::vector<int>(mask, mask + 4), (std::vector<int>{1, 0, 1, 1}));
  fp_->flush();
  EXPECT_EQ(stat(Stat::kRefusedPackets), 3u);
  // Counted as usual over both bursts: to and from 198.51.100.9 in rating group 20 (the CDN
  // rule), from .3 in the default one.
  EXPECT_EQ(flow4("10.0.0.1", 20).ul_packets, 2u);
  EXPECT_EQ(flow4("10.0.0.1", 20).dl_packets, 2u);
  EXPECT_EQ(flow4("10.0.0.1", 1).dl_packets, 2u);
  c2w_->push(C2wCommand{C2wType::kAdmit, 0, *parseIpAddress("10.0.0.1")});
  fp_->handleCommands(*c2w_);
  EXPECT_EQ(fp_->refusedCount(), 0u);
  EXPECT_EQ(fp_->stageBurst(ptrs.data(), lens.data(), uint32_t(ptrs.size())), 0u);
  // Refusing twice, admitting an address never refused or outside the pools: no change.
  c2w_->push(C2wCommand{C2wType::kRefuse, 0, *parseIpAddress("10.0.0.2")});
  c2w_->push(C2wCommand{C2wType::kRefuse, 0, *parseIpAddress("10.0.0.2")});
  c2w_->push(C2wCommand{C2wType::kAdmit, 0, *parseIpAddress("10.0.0.7")});
  c2w_->push(C2wCommand{C2wType::kRefuse, 0, *parseIpAddress("192.0.2.77")});
  fp_->handleCommands(*c2w_);
  EXPECT_EQ(fp_->refusedCount(), 1u);
}

// A release that carries the refusal (or the admission) changes both in one step: the packet
// after it is flagged and in a new slot (or unflagged and in a new slot).
TEST_F(FastPathTest, ReleaseCarryingARefusalChangesBothInOneStep) {
  auto up = ipv4Frame("10.0.0.4", "198.51.100.9", 6, 1000, 80, 100);
  send(up);
  const uint32_t old_slot = slotOf("10.0.0.4");
  drain();
  C2wCommand c{C2wType::kReleaseSlot, old_slot, *parseIpAddress("10.0.0.4")};
  c.refusal = 1;
  c2w_->push(c);
  fp_->handleCommands(*c2w_);
  EXPECT_EQ(fp_->refusedCount(), 1u);
  EXPECT_EQ(slotOf("10.0.0.4"), SlotTable::kNone);
  const uint8_t* p = up.data();
  uint32_t len = uint32_t(up.size());
  EXPECT_EQ(fp_->stageBurst(&p, &len, 1), 1u);
  fp_->flush();
  const uint32_t pseudo_slot = slotOf("10.0.0.4");
  ASSERT_NE(pseudo_slot, SlotTable::kNone);
  drain();
  c = C2wCommand{C2wType::kReleaseSlot, pseudo_slot, *parseIpAddress("10.0.0.4")};
  c.refusal = -1;
  c2w_->push(c);
  fp_->handleCommands(*c2w_);
  EXPECT_EQ(fp_->refusedCount(), 0u);
  EXPECT_EQ(slotOf("10.0.0.4"), SlotTable::kNone);
  EXPECT_EQ(fp_->stageBurst(&p, &len, 1), 0u);
}

// The IPv6 refusal set: many prefixes in and out (deletion by backward shift keeps every
// remaining member findable), checked against a std::set.
TEST_F(FastPathTest, RefusedIpv6PrefixesStayExactThroughManyInsertsAndRemovals) {
  std::mt19937 rng(7);
  std::set<uint32_t> want;
  auto key = [](uint32_t x) {
    char a[64];
    std::snprintf(a, sizeof a, "2001:db8:%x:%x::", x >> 16, x & 0xffff);
    return *parseIpAddress(a);
  };
  for (int round = 0; round < 4000; ++round) {
    const uint32_t x = rng() % 3000;
    const bool refuse = rng() % 3 != 0;
    c2w_->push(C2wCommand{refuse ? C2wType::kRefuse : C2wType::kAdmit, 0, key(x)});
    refuse ? (void)want.insert(x) : (void)want.erase(x);
    if (c2w_->write_available() < 8 || round % 64 == 0) {
      fp_->handleCommands(*c2w_);
    }
  }
  fp_->handleCommands(*c2w_);
  EXPECT_EQ(fp_->refusedCount(), want.size());
  for (uint32_t x = 0; x < 3000; x += 1) {
    char a[64];
    std::snprintf(a, sizeof a, "2001:db8:%x:%x::1", x >> 16, x & 0xffff);
    std::vector<uint8_t> f = ipv6Frame(a, "2001:4860::1", 6, 1, 80, 0);
    const uint8_t* p = f.data();
    uint32_t len = uint32_t(f.size());
    EXPECT_EQ(fp_->stageBurst(&p, &len, 1), want.count(x)) << x;
  }
}

TEST_F(FastPathTest, ReleaseNamingAnotherSubscriberLeavesTheSlotAlone) {
  send(ipv4Frame("10.0.3.3", "8.8.8.8", 17, 1, 53, 10));
  drain();
  uint32_t slot = slotOf("10.0.3.3");
  release(slot, *parseIpAddress("10.0.3.4"));
  auto ev = drain();
  ASSERT_EQ(ev.size(), 1u);  // answered (nothing waits forever), but nothing handed over
  EXPECT_EQ(ev[0].type, W2cType::kSlotReleased);
  EXPECT_EQ(slotOf("10.0.3.3"), slot);
  EXPECT_EQ(flow4("10.0.3.3", 10).ul_packets, 1u);
}

TEST_F(FastPathTest, ReleaseWaitsWhileTheEventQueueHasNoRoom) {
  send(ipv4Frame("10.0.3.3", "8.8.8.8", 17, 1, 53, 10));
  drain();
  W2cEvent filler;
  while (w2c_->push(filler)) {
  }
  release("10.0.3.3");
  EXPECT_EQ(flow4("10.0.3.3", 10).ul_packets, 1u);  // untouched: no room for the answer
  EXPECT_EQ(c2w_->read_available(), 1u);
  drain();
  fp_->handleCommands(*c2w_);
  EXPECT_TRUE(flow4("10.0.3.3", 10).empty());
  EXPECT_EQ(drain().size(), 2u);
}

TEST_F(FastPathTest, ReleaseCountsTheBurstsInFlightFirst) {
  auto up = ipv4Frame("10.0.3.3", "8.8.8.8", 17, 1, 53, 10);  // 38 octets
  send(up);
  drain();
  const uint8_t* p = up.data();
  uint32_t l = uint32_t(up.size());
  fp_->stageBurst(&p, &l, 1);  // parsed, looked up later, not counted yet
  EXPECT_EQ(flow4("10.0.3.3", 10).ul_packets, 1u);
  release("10.0.3.3");
  auto ev = drain();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, W2cType::kFlowReleased);
  EXPECT_EQ(ev[0].final, (FlowCounters{76, 2, 0, 0}));  // the packet in flight is in it
  fp_->flush();
  EXPECT_EQ(stat(Stat::kCountedPackets), 2u);  // and counted once
  EXPECT_TRUE(drain().empty());
}

TEST_F(FastPathTest, StagedBurstsAreCountedTwoBurstsLaterOrAtFlush) {
  auto a = ipv4Frame("10.0.0.1", "8.8.8.8", 17, 1, 53, 10);
  const uint8_t* p = a.data();
  uint32_t l = uint32_t(a.size());
  fp_->stageBurst(&p, &l, 1);  // burst 1: parsed
  fp_->stageBurst(&p, &l, 1);  // burst 2: parsed; burst 1 looked up
  EXPECT_EQ(stat(Stat::kCountedPackets), 0u);
  fp_->stageBurst(&p, &l, 1);  // burst 3; burst 1 counted
  EXPECT_EQ(stat(Stat::kCountedPackets), 1u);
  fp_->flush();                // bursts 2 and 3
  EXPECT_EQ(stat(Stat::kCountedPackets), 3u);
  EXPECT_EQ(flow4("10.0.0.1", 10), (FlowCounters{3 * 38, 3, 0, 0}));
  fp_->flush();  // nothing left: idempotent
  EXPECT_EQ(stat(Stat::kCountedPackets), 3u);
}

TEST_F(FastPathTest, PipelinedBurstsOfAnySizeCountLikeSinglePackets) {
  // New subscribers appear in bursts whose lookups ran before an earlier burst gave them a slot.
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 600; ++i) {
    std::string sub = "10.0." + std::to_string(i % 37) + "." + std::to_string(i / 200 + 1);
    frames.push_back(i % 3 ? ipv4Frame(sub.c_str(), "8.8.8.8", 17, 9, 53, size_t(i))
                           : ipv4Frame("198.51.100.3", sub.c_str(), 6, 80, 9, size_t(i)));
  }
  std::mt19937 rng(3);
  size_t i = 0;
  while (i < frames.size()) {
    std::vector<const uint8_t*> ptr;
    std::vector<uint32_t> len;
    size_t n = rng() % 300;  // empty and above-maximum bursts too
    for (; i < frames.size() && ptr.size() < n; ++i) {
      ptr.push_back(frames[i].data());
      len.push_back(uint32_t(frames[i].size()));
    }
    fp_->stageBurst(ptr.data(), len.data(), uint32_t(ptr.size()));
  }
  fp_->flush();
  // Independent sum: every frame's IP length once, per direction.
  uint64_t want_ul = 0, want_dl = 0, got_ul = 0, got_dl = 0;
  for (int k = 0; k < 600; ++k) {
    (k % 3 ? want_ul : want_dl) += (k % 3 ? 28u : 40u) + uint64_t(k);
  }
  std::set<std::string> subscribers;
  for (int k = 0; k < 600; ++k) {
    subscribers.insert(std::to_string(k % 37) + "." + std::to_string(k / 200 + 1));
  }
  std::set<uint32_t> slots;
  std::vector<W2cEvent> ev = drain();
  for (const W2cEvent& e : ev) {
    FlowCounters f = loadFlow(slab_->flow(e.slot, e.rg_index));
    got_ul += f.ul_octets;
    got_dl += f.dl_octets;
    slots.insert(e.slot);
  }
  EXPECT_EQ(slots.size(), subscribers.size());  // one slot per subscriber, never two
  EXPECT_EQ(got_ul, want_ul);
  EXPECT_EQ(got_dl, want_dl);
  EXPECT_EQ(stat(Stat::kCountedPackets), 600u);
}

TEST_F(FastPathTest, PublishCopiesLocalStatisticsToTheSharedBlock) {
  send(ipv4Frame("10.0.0.1", "8.8.8.8", 17, 1, 53, 10));
  EXPECT_EQ(shared_->c[size_t(Stat::kCountedPackets)], 0u);
  fp_->publish();
  EXPECT_EQ(shared_->c[size_t(Stat::kCountedPackets)], 1u);
  EXPECT_EQ(shared_->c[size_t(Stat::kCountedOctets)], 38u);
  EXPECT_EQ(shared_->bursts, 1u);
}

TEST_F(FastPathTest, BurstGivesTheSameCountsAsSinglePackets) {
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 300; ++i) {
    std::string a = "10.0.0." + std::to_string(i % 7 + 1);
    frames.push_back(i % 2 ? ipv4Frame(a.c_str(), "8.8.8.8", 17, 9, 53, size_t(i))
                           : ipv4Frame("198.51.100.3", a.c_str(), 6, 80, 9, size_t(i)));
  }
  std::vector<const uint8_t*> ptr;
  std::vector<uint32_t> len;
  for (auto& f : frames) {
    ptr.push_back(f.data());
    len.push_back(uint32_t(f.size()));
  }
  fp_->countBurst(ptr.data(), len.data(), uint32_t(ptr.size()));
  uint64_t ul = 0;
  uint64_t dl = 0;
  for (int i = 0; i < 7; ++i) {
    std::string a = "10.0.0." + std::to_string(i + 1);
    ul += flow4(a.c_str(), 10).ul_octets;
    dl += flow4(a.c_str(), 20).dl_octets;
  }
  uint64_t expect_ul = 0;
  uint64_t expect_dl = 0;
  for (int i = 0; i < 300; ++i) {
    (i % 2 ? expect_ul : expect_dl) += (i % 2 ? 28u : 40u) + uint64_t(i);
  }
  EXPECT_EQ(ul, expect_ul);
  EXPECT_EQ(dl, expect_dl);
}

// Jumbo frames of which only the headers are readable (a frame in several packet buffers): each
// is billed by its whole IP length; a header beyond the readable octets is counted as
// headers_split, never billed and never guessed.
TEST_F(FastPathTest, FramesInSeveralBuffersAreBilledByTheirWholeLength) {
  const std::vector<uint8_t> up = ipv4Frame("10.0.0.2", "8.8.8.8", 17, 9, 53, 9000);
  const std::vector<uint8_t> down = ipv4Frame("198.51.100.3", "10.0.0.2", 6, 80, 9, 65000);
  const uint8_t* ptr[3] = {up.data(), down.data(), up.data()};
  const uint32_t readable[3] = {kHeaderWindow, 2048, 20};  // the third: headers cut
  const uint32_t len[3] = {uint32_t(up.size()), uint32_t(down.size()), uint32_t(up.size())};
  fp_->stageBurst(ptr, readable, len, 3);
  fp_->flush();
  EXPECT_EQ(flow4("10.0.0.2", 10).ul_octets, 9028u);
  EXPECT_EQ(flow4("10.0.0.2", 10).ul_packets, 1u);
  EXPECT_EQ(flow4("10.0.0.2", 20).dl_octets, 65040u);
  EXPECT_EQ(stat(Stat::kHeadersSplit), 1u);
  EXPECT_EQ(stat(Stat::kCountedOctets), 9028u + 65040u);
}

// GTP-U uplink from serving node `sgw` (IPv4, or IPv6 when it has a colon) carrying a
// subscriber packet (inner 10.0.0.4 -> 8.8.8.8).
std::vector<uint8_t> gtpUplink(const std::string& sgw, size_t payload) {
  pkt::Ipv4 inner;
  inner.src = "10.0.0.4";
  inner.dst = "8.8.8.8";
  inner.protocol = 6;
  const auto in = pkt::ipv4(inner, pkt::tcp(1000, 80, pkt::filler(payload)));
  const auto gpdu = pkt::udp(2152, 2152, pkt::gtpu(pkt::Gtpu{}, in));
  if (sgw.find(':') != std::string::npos) {
    pkt::Ipv6 outer;
    outer.src = sgw;
    outer.next_header = 17;
    return pkt::ether(pkt::kIpv6Type, pkt::ipv6(outer, gpdu));
  }
  pkt::Ipv4 outer;
  outer.src = sgw;
  outer.dst = "192.0.2.1";
  outer.protocol = 17;
  return pkt::ether(pkt::kIpv4Type, pkt::ipv4(outer, gpdu));
}

TEST_F(FastPathTest, GtpUplinkAnnouncesEachNewServingNodeOnce) {
  send(gtpUplink("192.0.2.10", 10));
  send(gtpUplink("192.0.2.10", 10));
  send(gtpUplink("192.0.2.11", 10));
  send(ipv4Frame("8.8.8.8", "10.0.0.4", 6, 80, 1000, 10));  // downlink: no serving node
  auto ev = drain();
  std::vector<std::string> nodes;
  for (const W2cEvent& e : ev) {
    if (e.type == W2cType::kServingNode) {
      EXPECT_EQ(formatIp(e.key), "10.0.0.4");
      EXPECT_EQ(e.slot, slotOf("10.0.0.4"));
      nodes.push_back(formatIp(e.serving_node));
    }
  }
  EXPECT_EQ(nodes, (std::vector<std::string>{"192.0.2.10", "192.0.2.11"}));
  EXPECT_EQ(flow4("10.0.0.4", 1).ul_octets, 3u * 50);  // inner IP length billed
  EXPECT_EQ(stat(Stat::kGtpDecapsulated), 3u);
}

// Handovers back and forth within one burst and across the bursts in flight (parsed, looked up
// and counted in three stages, so a burst is looked up before the one ahead of it is counted):
// every change is announced, in order. A check of the serving node moved to the lookup stage
// without a second check after an announcement in the same burst fails this (tried).
TEST_F(FastPathTest, EveryServingNodeChangeIsAnnouncedWithinABurstAndAcrossBurstsInFlight) {
  send(gtpUplink("192.0.2.10", 10));  // the subscriber's slot and its first node
  const auto x = gtpUplink("192.0.2.10", 10);
  const auto y = gtpUplink("192.0.2.11", 10);
  // One burst: X, Y, X, X, Y, Y; then three single-packet bursts in flight: X, X, Y.
  const std::vector<const std::vector<uint8_t>*> burst = {&x, &y, &x, &x, &y, &y};
  std::vector<const uint8_t*> ptr;
  std::vector<uint32_t> len;
  for (const auto* f : burst) {
    ptr.push_back(f->data());
    len.push_back(uint32_t(f->size()));
  }
  fp_->stageBurst(ptr.data(), len.data(), uint32_t(ptr.size()));
  for (const auto* f : {&x, &x, &y}) {
    const uint8_t* p = f->data();
    const uint32_t l = uint32_t(f->size());
    fp_->stageBurst(&p, &l, 1);
  }
  fp_->flush();
  std::vector<std::string> nodes;
  for (const W2cEvent& e : drain()) {
    if (e.type == W2cType::kServingNode) {
      nodes.push_back(formatIp(e.serving_node));
    }
  }
  EXPECT_EQ(nodes, (std::vector<std::string>{"192.0.2.10", "192.0.2.11", "192.0.2.10",
                                             "192.0.2.11", "192.0.2.10", "192.0.2.11"}));
  EXPECT_EQ(flow4("10.0.0.4", 1).ul_packets, 10u);
  EXPECT_EQ(flow4("10.0.0.4", 1).ul_octets, 10u * 50);
}

// The count stage compares an IPv4 node's address with the digest in the subscriber's entry and
// leaves everything else to the slow path: a subscriber seen untunneled first (its flow counted,
// no node yet), nodes of either family, and the node 0.0.0.0 (whose digest is not its address).
// Each change is announced once, in order, and every packet counted.
TEST_F(FastPathTest, ServingNodesOfEitherFamilyAndAfterUntunneledTrafficAreAnnounced) {
  struct Case {
    std::vector<std::vector<uint8_t>> frames;
    std::vector<std::string> announced;
  };
  // The first tunneled packet after untunneled ones comes from an IPv6 node, then from 0.0.0.0:
  // the subscriber's flow has packets and its entry no digest (0) yet.
  const Case cases[2] = {
      {{gtpUplink("2001:db8:5::1", 10), gtpUplink("2001:db8:5::1", 10),
        gtpUplink("192.0.2.10", 10), gtpUplink("192.0.2.10", 10), gtpUplink("0.0.0.0", 10),
        gtpUplink("0.0.0.0", 10), gtpUplink("2001:db8:5::2", 10), gtpUplink("0.0.0.1", 10),
        gtpUplink("0.0.0.1", 10)},
       {"2001:db8:5::1", "192.0.2.10", "0.0.0.0", "2001:db8:5::2", "0.0.0.1"}},
      {{gtpUplink("0.0.0.0", 10), gtpUplink("0.0.0.0", 10), gtpUplink("192.0.2.10", 10),
        gtpUplink("2001:db8:5::1", 10), gtpUplink("192.0.2.10", 10)},
       {"0.0.0.0", "192.0.2.10", "2001:db8:5::1", "192.0.2.10"}}};
  // The first case packet by packet, the second (after a release) in one burst.
  for (int c = 0; c < 2; ++c) {
    if (c == 1) {
      release("10.0.0.4");
      drain();
    }
    send(ipv4Frame("10.0.0.4", "8.8.8.8", 6, 1000, 80, 50));  // untunneled uplink first
    const auto& frames = cases[c].frames;
    if (c == 0) {
      for (const auto& f : frames) {
        send(f);
      }
    } else {
      std::vector<const uint8_t*> ptr;
      std::vector<uint32_t> len;
      for (const auto& f : frames) {
        ptr.push_back(f.data());
        len.push_back(uint32_t(f.size()));
      }
      fp_->stageBurst(ptr.data(), len.data(), uint32_t(ptr.size()));
      fp_->flush();
    }
    std::vector<std::string> nodes;
    for (const W2cEvent& e : drain()) {
      if (e.type == W2cType::kServingNode) {
        nodes.push_back(formatIp(e.serving_node));
      }
    }
    EXPECT_EQ(nodes, cases[c].announced) << "case " << c;
    EXPECT_EQ(flow4("10.0.0.4", 1).ul_packets, 1u + frames.size()) << "case " << c;
  }
}

TEST_F(FastPathTest, ServingNodeIsAnnouncedAgainAfterRelease) {
  send(gtpUplink("192.0.2.10", 10));
  drain();
  release("10.0.0.4");
  drain();
  send(gtpUplink("192.0.2.10", 10));
  auto ev = drain();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, W2cType::kFlowLearned);
  EXPECT_EQ(ev[1].type, W2cType::kServingNode);
}

}  // namespace
}  // namespace tally
