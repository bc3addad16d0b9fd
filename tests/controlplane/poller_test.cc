// The poller: attribution of deltas to sessions, idle timeout with slot release, session table
// full, learning off, static subscribers, conservation.
#include "controlplane/poller.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "tests/fakes/fake_clock.h"
#include "tests/fakes/frames.h"
#include "tests/fakes/recording_observer.h"
#include "tests/fakes/test_config.h"
#include "tests/fakes/worker_harness.h"

namespace tally {
namespace {

using testing::ipv4Frame;
using testing::ipv6Frame;
using testing::WorkerHarness;

class PollerTest : public ::testing::Test {
 protected:
  void build(const Config& c, int workers = 1) {
    config_ = c;
    plan_ = CountingPlan::fromConfig(config_);
    w_.clear();
    std::vector<WorkerChannel> ch;
    for (int i = 0; i < workers; ++i) {
      w_.push_back(std::make_unique<WorkerHarness>(plan_));
      ch.push_back(w_.back()->channel());
    }
    poller_ = std::make_unique<Poller>(config_, plan_, ch, clock_);
  }
  void SetUp() override { build(testing::testConfig()); }
  // Run the workers' command loops, as their lcores would between bursts.
  void serveWorkers() {
    for (auto& w : w_) {
      w->fp->handleCommands(*w->c2w);
      w->fp->publish();
    }
  }
  FlowCounters usageOf(const char* sub, uint32_t rg) {
    for (const FlowUsage& u : poller_->usage()) {
      if (formatIp(u.key) == sub && u.rating_group == rg) {
        return u.counters;
      }
    }
    return {};
  }

  Config config_;
  CountingPlan plan_;
  FakeClock clock_;
  std::vector<std::unique_ptr<WorkerHarness>> w_;
  std::unique_ptr<Poller> poller_;
};

TEST_F(PollerTest, DeltasGoToTheSessionAndRatingGroup) {
  build(testing::testConfig(), 2);
  w_[0]->send(ipv4Frame("10.0.0.1", "8.8.8.8", 17, 9, 53, 72));    // 100 octets RG 10
  w_[1]->send(ipv4Frame("8.8.8.8", "10.0.0.1", 17, 53, 9, 172));   // 200 octets RG 10 (worker 2)
  poller_->poll();
  w_[0]->send(ipv4Frame("10.0.0.1", "8.8.8.8", 17, 9, 53, 72));
  poller_->poll();
  const Session* s = poller_->findSession(*parseIpAddress("10.0.0.1"));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->slots.size(), 2u);  // one slot on each worker
  EXPECT_EQ(usageOf("10.0.0.1", 10), (FlowCounters{200, 2, 200, 1}));
  EXPECT_EQ(poller_->statistics().attributed_octets, 400u);
  EXPECT_EQ(poller_->statistics().sessions_created, 1u);
  EXPECT_TRUE(poller_->finalHarvest());
  EXPECT_EQ(usageOf("10.0.0.1", 10), (FlowCounters{200, 2, 200, 1}));
}

TEST_F(PollerTest, IdleSessionEndsItsSlotIsReleasedAndUsageIsKept) {
  auto f = ipv4Frame("10.0.0.7", "8.8.8.8", 6, 9, 80, 60);  // 100 octets
  w_[0]->send(f);
  poller_->poll();
  clock_.advanceMs(301 * 1000);
  poller_->poll();  // idle check: release requested
  const Session* s = poller_->findSession(*parseIpAddress("10.0.0.7"));
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(poller_->sessions().size(), 1u);  // ending, waiting for the worker
  w_[0]->send(f);   // a packet that races with the release: belongs to the old session
  serveWorkers();
  poller_->poll();
  EXPECT_EQ(poller_->sessions().size(), 0u);
  EXPECT_EQ(poller_->statistics().sessions_ended, 1u);
  EXPECT_EQ(usageOf("10.0.0.7", 1), (FlowCounters{200, 2, 0, 0}));
  // New traffic: a new session, usage of the run keeps adding up.
  w_[0]->send(f);
  poller_->poll();
  s = poller_->findSession(*parseIpAddress("10.0.0.7"));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->id, 2u);
  EXPECT_EQ(usageOf("10.0.0.7", 1), (FlowCounters{300, 3, 0, 0}));
  EXPECT_TRUE(poller_->finalHarvest());
  EXPECT_EQ(poller_->statistics().conservation_violations, 0u);
}

TEST_F(PollerTest, ActivityPushesTheIdleDeadlineBack) {
  // idle_timeout 300 s: traffic at 0 s and 200 s; alive at 301 s and 499 s, ended at 501 s.
  auto f = ipv4Frame("10.0.0.7", "8.8.8.8", 6, 9, 80, 60);
  w_[0]->send(f);
  poller_->poll();
  clock_.advanceMs(200 * 1000);
  w_[0]->send(f);
  poller_->poll();
  for (int64_t step : {101, 198}) {  // to 301 s, then to 499 s
    clock_.advanceMs(step * 1000);
    poller_->poll();
    ASSERT_NE(poller_->findSession(*parseIpAddress("10.0.0.7")), nullptr) << "at +" << step;
  }
  clock_.advanceMs(2 * 1000);
  poller_->poll();
  EXPECT_EQ(poller_->findSession(*parseIpAddress("10.0.0.7")), nullptr);
  serveWorkers();
  poller_->poll();
  EXPECT_EQ(poller_->statistics().sessions_ended, 1u);
  EXPECT_TRUE(poller_->finalHarvest());
}

TEST_F(PollerTest, OnlyAnnouncedRatingGroupsAreReadAndAllOfThemAboveSixtyFour) {
  // 4 rating groups (slots read whole), 17 (only the announced flows), 65 (all, no mask).
  for (uint32_t n_rules : {3u, 16u, 64u}) {
    Config c = testing::testConfig();
    c.services.rules.clear();
    for (uint32_t r = 0; r < n_rules; ++r) {
      ServiceRule rule;
      rule.rating_group = 100 + r;
      rule.match.remote_port_min = uint16_t(1000 + r);
      c.services.rules.push_back(rule);
    }
    build(c);
    ASSERT_EQ(plan_.geometry.rating_groups, n_rules + 1);
    uint16_t last = uint16_t(1000 + n_rules - 1);  // the highest rating-group index
    w_[0]->send(ipv4Frame("10.0.0.1", "8.8.8.8", 17, 9, last, 72));  // 100 octets
    w_[0]->send(ipv4Frame("10.0.0.1", "8.8.8.8", 17, 9, 7, 72));     // default
    poller_->poll();
    w_[0]->send(ipv4Frame("10.0.0.1", "8.8.8.8", 17, 9, last, 72));
    w_[0]->send(ipv4Frame("8.8.8.8", "10.0.0.1", 17, 1000, 9, 172));  // rule 0, downlink
    poller_->poll();
    EXPECT_EQ(usageOf("10.0.0.1", 100 + n_rules - 1), (FlowCounters{200, 2, 0, 0})) << n_rules;
    EXPECT_EQ(usageOf("10.0.0.1", 1), (FlowCounters{100, 1, 0, 0})) << n_rules;
    EXPECT_EQ(usageOf("10.0.0.1", 100), (FlowCounters{0, 0, 200, 1})) << n_rules;
    EXPECT_EQ(poller_->statistics().attributed_octets, 500u) << n_rules;
    EXPECT_EQ(poller_->statistics().tracked_flows, 3u) << n_rules;
    EXPECT_TRUE(poller_->finalHarvest()) << n_rules;
  }
}

TEST_F(PollerTest, Ipv6SessionReleaseFreesTheWorkerTable) {
  Config c = testing::testConfig();
  c.dataplane.max_sessions = 1;
  build(c);
  w_[0]->send(ipv6Frame("2001:db8:0:1::1", "2001:4860::1", 6, 1, 80, 0));
  poller_->poll();
  clock_.advanceMs(301 * 1000);
  poller_->poll();
  serveWorkers();
  poller_->poll();
  w_[0]->send(ipv6Frame("2001:db8:0:2::1", "2001:4860::1", 6, 1, 80, 0));
  poller_->poll();
  EXPECT_NE(poller_->findSession(*parseIpAddress("2001:db8:0:2::5")), nullptr);
  EXPECT_EQ(poller_->statistics().worker[size_t(Stat::kSlotTableFullPackets)], 0u);
  EXPECT_TRUE(poller_->finalHarvest());
}

TEST_F(PollerTest, FullSessionTableSendsUsageToUnattributedAndConserves) {
  Config c = testing::testConfig();
  c.dataplane.max_sessions = 2;
  build(c);
  for (int i = 1; i <= 5; ++i) {
    std::string a = "10.0.0." + std::to_string(i);
    w_[0]->send(ipv4Frame(a.c_str(), "8.8.8.8", 6, 9, 80, 60));
  }
  poller_->poll();
  const Statistics& st = poller_->statistics();
  EXPECT_EQ(st.sessions_created, 2u);
  EXPECT_EQ(st.attributed_octets, 200u);
  EXPECT_EQ(st.unattributed_octets[size_t(Unattributed::kSessionsFull)], 300u);
  EXPECT_EQ(st.sessions_full_alarms, 1u);  // logged once, not per subscriber
  EXPECT_EQ(st.conservation_violations, 0u);
  EXPECT_TRUE(poller_->finalHarvest());
  EXPECT_EQ(poller_->usage().size(), 2u);  // unbilled subscribers have no flow in the report
}

TEST_F(PollerTest, LearningOffBillsOnlyStaticSubscribers) {
  Config c = testing::testConfig();
  c.subscribers.learn = false;
  StaticSubscriber alice;
  alice.address = *parseIpAddress("10.0.0.1");
  alice.user_name = "alice";
  alice.imsi = "001010000000001";
  alice.cc_profile = 1;
  c.subscribers.statics = {alice};
  build(c);
  w_[0]->send(ipv4Frame("10.0.0.1", "8.8.8.8", 6, 9, 80, 60));
  w_[0]->send(ipv4Frame("10.0.0.2", "8.8.8.8", 6, 9, 80, 60));
  poller_->poll();
  const Session* s = poller_->findSession(*parseIpAddress("10.0.0.1"));
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->billed);
  EXPECT_EQ(s->user_name, "alice");
  EXPECT_EQ(s->cc_profile, 1);
  EXPECT_EQ(poller_->statistics().unattributed_octets[size_t(Unattributed::kLearnDisabled)],
            100u);
  EXPECT_TRUE(poller_->finalHarvest());
  ASSERT_EQ(poller_->usage().size(), 1u);
}

TEST_F(PollerTest, LearnQueueOverflowIsUnattributedAndConserved) {
  W2cEvent filler;
  filler.type = W2cType::kServingNode;  // ignored by the poller
  while (w_[0]->w2c->push(filler)) {
  }
  w_[0]->send(ipv4Frame("10.0.0.1", "8.8.8.8", 6, 9, 80, 60));
  poller_->poll();
  EXPECT_EQ(poller_->statistics().unattributedOctets(), 100u);
  w_[0]->send(ipv4Frame("10.0.0.1", "8.8.8.8", 6, 9, 80, 60));
  poller_->poll();
  EXPECT_EQ(poller_->statistics().attributed_octets, 100u);
  EXPECT_TRUE(poller_->finalHarvest());
}

TEST_F(PollerTest, ConservationCatchesAnOctetThatVanished) {
  w_[0]->send(ipv4Frame("10.0.0.1", "8.8.8.8", 6, 9, 80, 60));
  // Simulate a lost octet: the worker claims one more counted octet than any flow holds.
  w_[0]->fp->local().c[size_t(Stat::kCountedOctets)] += 1;
  w_[0]->fp->publish();
  poller_->poll();
  EXPECT_EQ(poller_->statistics().conservation_violations, 1u);
  EXPECT_FALSE(poller_->finalHarvest());
}

TEST_F(PollerTest, AReadBetweenTheOctetAndThePacketStoreLosesNothing) {
  w_[0]->send(ipv4Frame("10.0.0.1", "8.8.8.8", 6, 9, 80, 60));  // 100 octets
  poller_->poll();
  // The worker is in the middle of counting a 100-octet packet: octets stored, packet not yet.
  uint32_t slot = w_[0]->fp->slotOf(*parseIpAddress("10.0.0.1"));
  FlowCounters& f = w_[0]->slab->flow(slot, plan_.default_rg_index);
  storeCounter(f.ul_octets, loadCounter(f.ul_octets) + 100);
  poller_->poll();
  storeCounter(f.ul_packets, loadCounter(f.ul_packets) + 1);
  w_[0]->fp->local().c[size_t(Stat::kCountedOctets)] += 100;
  w_[0]->fp->local().c[size_t(Stat::kCountedPackets)] += 1;
  w_[0]->fp->publish();
  poller_->poll();
  EXPECT_EQ(poller_->statistics().attributed_octets, 200u);
  EXPECT_EQ(usageOf("10.0.0.1", 1), (FlowCounters{200, 2, 0, 0}));
  EXPECT_TRUE(poller_->finalHarvest());
}

TEST_F(PollerTest, FlowsOfAnEndingSessionAreSettledByTheFinalCounts) {
  auto f = ipv4Frame("10.0.0.1", "8.8.8.8", 6, 9, 80, 60);  // 100 octets
  w_[0]->send(f);
  poller_->poll();
  ASSERT_TRUE(poller_->endSession(*parseIpAddress("10.0.0.1"), EndCause::kManagement));
  w_[0]->send(f);   // counted before the worker sees the release
  poller_->poll();  // must not read the slot now
  serveWorkers();   // release: final counts handed over, slot zeroed
  w_[0]->send(f);   // a new session's first packet, in the same slot
  poller_->poll();
  poller_->poll();
  EXPECT_EQ(poller_->statistics().sessions_created, 2u);
  EXPECT_EQ(poller_->statistics().attributed_octets, 300u);
  EXPECT_EQ(usageOf("10.0.0.1", 1), (FlowCounters{300, 3, 0, 0}));
  EXPECT_TRUE(poller_->finalHarvest());
}

TEST_F(PollerTest, OperatorEndsASession) {
  w_[0]->send(ipv4Frame("10.0.0.1", "8.8.8.8", 6, 9, 80, 60));
  poller_->poll();
  EXPECT_FALSE(poller_->endSession(*parseIpAddress("10.0.0.99"), EndCause::kManagement));
  EXPECT_TRUE(poller_->endSession(*parseIpAddress("10.0.0.1"), EndCause::kManagement));
  serveWorkers();
  poller_->poll();
  EXPECT_TRUE(poller_->sessions().empty());
  EXPECT_EQ(usageOf("10.0.0.1", 1).ul_octets, 100u);
}

// RADIUS start_fail offline: refuse() ends the billed session (its final counts settle it), the
// workers stop forwarding the subscriber, what it sends afterwards is unattributed
// radius_refused, conservation holds; admit() lets its next packet start a billed session.
TEST_F(PollerTest, RefusedSubscriberIsUnattributedUntilAdmitted) {
  build(testing::testConfig(), 2);
  testing::RecordingObserver obs;
  poller_->addObserver(&obs);
  auto up = ipv4Frame("10.0.0.1", "8.8.8.8", 6, 9, 80, 60);  // 100 octets
  w_[0]->send(up);
  poller_->poll();
  const IpAddress key = *parseIpAddress("10.0.0.1");
  ASSERT_TRUE(poller_->refuse(key));
  EXPECT_TRUE(poller_->isRefused(key));
  // Sent before worker 1 served the refusal: not flagged (forwarded), but after the session's
  // end, so it is the refused subscriber's (unattributed), not billed.
  w_[1]->send(up);
  serveWorkers();
  poller_->poll();
  EXPECT_EQ(obs.events.back(), "10.0.0.1 end");
  EXPECT_EQ(usageOf("10.0.0.1", 1).ul_octets, 100u);
  // From now on both workers flag it and the poller books it as radius_refused.
  const uint8_t* p = up.data();
  uint32_t len = uint32_t(up.size());
  EXPECT_EQ(w_[0]->fp->stageBurst(&p, &len, 1), 1u);
  w_[0]->fp->flush();
  w_[0]->fp->publish();
  w_[1]->send(up);
  poller_->poll();
  const Session* s = poller_->findSession(key);
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(s->billed);
  EXPECT_EQ(s->reason, Unattributed::kRadiusRefused);
  EXPECT_EQ(poller_->statistics().unattributed_octets[size_t(Unattributed::kRadiusRefused)], 300u);
  EXPECT_EQ(poller_->statistics().worker[size_t(Stat::kRefusedPackets)], 2u);
  EXPECT_EQ(usageOf("10.0.0.1", 1).ul_octets, 100u);  // nothing more billed
  // Admitted: the refused pseudo-session ends, the next packet is billed in a new session.
  ASSERT_TRUE(poller_->admit(key));
  EXPECT_FALSE(poller_->admit(key));
  serveWorkers();
  poller_->poll();
  EXPECT_EQ(w_[0]->fp->stageBurst(&p, &len, 1), 0u);
  w_[0]->fp->flush();
  w_[0]->fp->publish();
  poller_->poll();
  s = poller_->findSession(key);
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->billed);
  EXPECT_EQ(std::count(obs.events.begin(), obs.events.end(), "10.0.0.1 open"), 2);
  EXPECT_TRUE(poller_->finalHarvest());
  EXPECT_EQ(usageOf("10.0.0.1", 1).ul_octets, 200u);
  EXPECT_EQ(poller_->statistics().conservation_violations, 0u);
}

// Many refusals and admissions with packets between every step: every packet booked as
// refused (unattributed radius_refused) was flagged (not forwarded), and no flagged packet was
// billed.
TEST_F(PollerTest, RefusalCyclesBookExactlyTheFlaggedPackets) {
  const IpAddress key = *parseIpAddress("10.0.0.9");
  auto up = ipv4Frame("10.0.0.9", "8.8.8.8", 6, 9, 80, 60);  // 100 octets
  const uint8_t* p = up.data();
  uint32_t len = uint32_t(up.size());
  uint64_t flagged = 0;
  auto burst = [&](int n) {
    for (int i = 0; i < n; ++i) {
      flagged += w_[0]->fp->stageBurst(&p, &len, 1);
    }
    w_[0]->fp->publish();
  };
  for (int cycle = 0; cycle < 20; ++cycle) {
    burst(3);
    poller_->poll();
    burst(2);
    ASSERT_TRUE(poller_->refuse(key));
    burst(cycle % 3);  // before the worker serves the commands
    serveWorkers();
    burst(4);
    poller_->poll();
    burst(1);
    ASSERT_TRUE(poller_->admit(key));
    burst(cycle % 2);
    serveWorkers();
    burst(2);
    poller_->poll();
  }
  w_[0]->fp->flush();
  w_[0]->fp->publish();
  serveWorkers();
  ASSERT_TRUE(poller_->finalHarvest());
  const Statistics& st = poller_->statistics();
  EXPECT_EQ(st.worker[size_t(Stat::kRefusedPackets)], flagged);
  EXPECT_EQ(st.unattributed_octets[size_t(Unattributed::kRadiusRefused)],
            st.worker[size_t(Stat::kRefusedOctets)]);
  EXPECT_EQ(st.conservation_violations, 0u);
}

// Session events fan out to every observer (the biller, RADIUS accounting, ...): each hears
// the same events in the same order.
TEST_F(PollerTest, EveryObserverHearsEveryEvent) {
  testing::RecordingObserver a;
  testing::RecordingObserver b;
  poller_->addObserver(&a);
  poller_->addObserver(&b);
  w_[0]->send(ipv4Frame("10.0.0.1", "8.8.8.8", 17, 9, 53, 72));
  poller_->poll();
  w_[0]->send(ipv4Frame("198.51.100.4", "10.0.0.1", 6, 80, 9, 60));
  poller_->poll();
  ASSERT_TRUE(poller_->endSession(*parseIpAddress("10.0.0.1"), EndCause::kManagement));
  serveWorkers();
  poller_->poll();
  const std::vector<std::string> want = {
      "10.0.0.1 open", "10.0.0.1 usage rg 10 ul 100 dl 0", "10.0.0.1 usage rg 20 ul 0 dl 100",
      "10.0.0.1 end"};
  EXPECT_EQ(a.events, want);
  EXPECT_EQ(b.events, want);
  EXPECT_EQ(a.ticks, 3);
  EXPECT_EQ(b.ticks, 3);
}

}  // namespace
}  // namespace tally
