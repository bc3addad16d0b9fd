// A plain thread stands in for a worker lcore: it counts real frames into a real slab (through
// the same staged pipeline as the DPDK worker) while the test thread polls, ends sessions (slot releases) and reads statistics. Built and run under
// ThreadSanitizer (suite 'tsan', build-tsan): any data race between the single writer and the
// reader fails the run. Exactness: the attributed octets equal the frames' IP lengths summed
// independently by the test.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "controlplane/poller.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/frames.h"
#include "tests/fakes/test_config.h"
#include "tests/fakes/worker_harness.h"

namespace tally {
namespace {

TEST(CountersRace, WorkerThreadAndPollerAgreeExactly) {
  Config config = testing::testConfig();
  config.dataplane.max_sessions = 64;
  CountingPlan plan = CountingPlan::fromConfig(config);
  FakeClock clock;
  testing::WorkerHarness w1(plan);
  testing::WorkerHarness w2(plan);
  Poller poller(config, plan, {w1.channel(), w2.channel()}, clock);

  // Frames: 100 IPv4 + 20 IPv6 subscribers, both directions, several rating groups.
  std::vector<std::vector<uint8_t>> frames;
  uint64_t expected_octets = 0;
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    int sub = int(rng() % 120);
    size_t payload = rng() % 1200;
    bool up = rng() % 2;
    if (sub < 100) {
      std::string a = "10.0.2." + std::to_string(sub);
      frames.push_back(up ? testing::ipv4Frame(a.c_str(), "198.51.100.1", 17, 9, 53, payload)
                          : testing::ipv4Frame("8.8.8.8", a.c_str(), 6, 443, 9, payload));
      expected_octets += 20 + (up ? 8 : 20) + payload;
    } else {
      std::string a = "2001:db8:0:" + std::to_string(sub) + "::1";
      frames.push_back(testing::ipv6Frame(a.c_str(), "2001:4860::1", 17, 9, 53, payload));
      expected_octets += 40 + 8 + payload;
    }
  }
  constexpr int kRounds = 60;
  std::atomic<bool> done{false};
  // As a worker lcore: bursts of 1..40 frames through the three-burst pipeline (stageBurst),
  // statistics published per burst, releases served every few bursts (which counts the bursts
  // in flight first), everything flushed at the end of a round (an empty rx queue).
  auto run = [&](testing::WorkerHarness& w, int offset) {
    std::mt19937 burst_rng(uint32_t(7 + offset));
    std::vector<const uint8_t*> ptr;
    std::vector<uint32_t> len;
    for (int r = 0; r < kRounds; ++r) {
      size_t i = size_t(offset);
      int bursts = 0;
      while (i < frames.size()) {
        ptr.clear();
        len.clear();
        size_t n = 1 + burst_rng() % 40;
        for (; i < frames.size() && ptr.size() < n; i += 2) {
          ptr.push_back(frames[i].data());
          len.push_back(uint32_t(frames[i].size()));
        }
        w.fp->stageBurst(ptr.data(), len.data(), uint32_t(ptr.size()));
        w.fp->publish();
        if (++bursts % 3 == 0) {
          w.fp->handleCommands(*w.c2w);
        }
      }
      w.fp->flush();
      w.fp->publish();
    }
  };
  std::thread t1([&] { run(w1, 0); });
  std::thread t2([&] {
    run(w2, 1);
    done = true;
  });
  int polls = 0;
  while (!done.load() || polls < 10) {
    poller.poll();
    ++polls;
    if (polls % 7 == 0) {
      // End a few sessions while the workers run: exercises release + zeroing under TSan.
      for (int k = 0; k < 5; ++k) {
        std::string a = "10.0.2." + std::to_string((polls + k) % 100);
        poller.endSession(*parseIpAddress(a), EndCause::kManagement);
      }
    }
    std::this_thread::yield();
  }
  t1.join();
  t2.join();
  // Let the stopped workers answer outstanding releases, as the daemon's lcores do on exit.
  w1.fp->handleCommands(*w1.c2w);
  w2.fp->handleCommands(*w2.c2w);
  w1.fp->publish();
  w2.fp->publish();
  ASSERT_TRUE(poller.finalHarvest());
  const Statistics& st = poller.statistics();
  EXPECT_EQ(st.worker[size_t(Stat::kCountedOctets)], expected_octets * kRounds / 1 / 1);
  EXPECT_EQ(st.attributed_octets + st.unattributedOctets(), expected_octets * kRounds);
  EXPECT_EQ(st.conservation_violations, 0u);
  uint64_t report = 0;
  for (const FlowUsage& u : poller.usage()) {
    report += u.counters.octets();
  }
  EXPECT_EQ(report, st.attributed_octets);
  EXPECT_GT(st.sessions_ended, 0u);
}

}  // namespace
}  // namespace tally
