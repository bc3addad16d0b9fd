// The control plane's loop (controlplane/daemon.h) driven by FakeClock, with a WorkerHarness as
// the worker: polls on the interval without catching up after an overrun, the stop conditions,
// the control socket served between polls, and the final harvest and reports.
#include "controlplane/daemon.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>
#include <utility>

#include "controlplane/control/ctl_client.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/frames.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/test_config.h"
#include "tests/fakes/worker_harness.h"

namespace tally {
namespace {

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    config_ = testing::testConfig();
    config_.control.socket = dir_ + "/ctl.sock";
    config_.local_bill.cfcard_path = dir_ + "/cdr";
    config_.node.state_dir = dir_ + "/state";
    config_.dataplane.poll_interval_ms = 100;
    plan_ = CountingPlan::fromConfig(config_);
    worker_ = std::make_unique<testing::WorkerHarness>(plan_);
  }
  void TearDown() override { daemon_.reset(); }
  void open(DaemonOptions opt = {}) {
    auto d = Daemon::open(config_, plan_, {worker_->channel()}, clock_, opt);
    ASSERT_TRUE(d.ok()) << d.error().message;
    daemon_ = std::move(*d);
  }
  uint64_t polls() { return daemon_->poller().statistics().polls; }
  // Turns of 100 ms (one poll each) until the daemon says to stop (at most 100), and why.
  std::pair<int, Daemon::Stop> turnsUntilStop() {
    for (int turns = 1; turns <= 100; ++turns) {
      clock_.advanceMs(100);
      Daemon::Stop s = daemon_->step(0);
      if (s != Daemon::Stop::kNo) {
        return {turns, s};
      }
    }
    return {100, Daemon::Stop::kNo};
  }
  // One received frame, as the DPDK worker counts it (rx_packets is the adapter's counter).
  void sendDns(const char* sub, size_t payload) {
    worker_->fp->local().c[size_t(Stat::kRxPackets)] += 1;
    worker_->send(testing::ipv4Frame(sub, "8.8.8.8", 17, 9, 53, payload));
  }

  testing::TempDir tmp_{"tally-daemon"};
  std::string dir_;
  Config config_;
  CountingPlan plan_;
  FakeClock clock_;
  std::unique_ptr<testing::WorkerHarness> worker_;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(DaemonTest, PollsOnTheIntervalAndNeverCatchesUp) {
  open();
  EXPECT_EQ(daemon_->step(0), Daemon::Stop::kNo);
  EXPECT_EQ(polls(), 0u);  // the first poll is one interval after start
  clock_.advanceMs(99);
  daemon_->step(0);
  EXPECT_EQ(polls(), 0u);
  clock_.advanceMs(1);
  daemon_->step(0);
  EXPECT_EQ(polls(), 1u);
  daemon_->step(0);
  EXPECT_EQ(polls(), 1u);  // not due again yet
  // An overrun of ten intervals gives one poll now and the next an interval later.
  clock_.advanceMs(1000);
  daemon_->step(0);
  daemon_->step(0);
  EXPECT_EQ(polls(), 2u);
  clock_.advanceMs(100);
  daemon_->step(0);
  EXPECT_EQ(polls(), 3u);
}

TEST_F(DaemonTest, StopsWhenIdleOnlyAfterTheLastPacketIsOldEnough) {
  DaemonOptions opt;
  opt.exit_when_idle_ms = 500;
  open(opt);
  for (int i = 0; i < 8; ++i) {  // a packet every interval: never idle
    sendDns("10.0.0.1", 10);
    clock_.advanceMs(100);
    ASSERT_EQ(daemon_->step(0), Daemon::Stop::kNo) << i;
  }
  EXPECT_EQ(turnsUntilStop(), std::make_pair(5, Daemon::Stop::kIdle));  // 500 ms after the last poll that saw a packet
}

TEST_F(DaemonTest, StopsAfterRunFor) {
  DaemonOptions opt;
  opt.run_for_s = 1.0;
  open(opt);
  EXPECT_EQ(turnsUntilStop(), std::make_pair(10, Daemon::Stop::kRunFor));
}

TEST_F(DaemonTest, RunReturnsOnTheSignal) {
  open();
  std::atomic<bool> signal{true};
  EXPECT_EQ(daemon_->run(signal), Daemon::Stop::kSignal);
}

TEST_F(DaemonTest, ServesTheControlSocketBetweenPolls) {
  open();
  sendDns("10.0.0.7", 100);
  clock_.advanceMs(100);
  daemon_->step(0);
  auto fut = std::async(std::launch::async, [this] {
    return sendCommand(config_.control.socket, {"display", "session", "10.0.0.7"}, 3000);
  });
  while (fut.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
    daemon_->step(10);
  }
  auto r = fut.get();
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->ok) << r->error;
  EXPECT_NE(r->text.find("10.0.0.7"), std::string::npos);
}

TEST_F(DaemonTest, FinishHarvestsEverythingAndReportsIt) {
  DaemonOptions opt;
  opt.summary = false;
  opt.usage_report = dir_ + "/usage.jsonl";
  open(opt);
  sendDns("10.0.0.9", 100);  // never polled before the stop: only the final harvest sees it
  EXPECT_TRUE(daemon_->finish());
  EXPECT_EQ(daemon_->report(0), 0);
  std::ifstream in(opt.usage_report);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("\"subscriber\":\"10.0.0.9\""), std::string::npos) << ss.str();
  EXPECT_NE(ss.str().find("\"uplink_octets\":128"), std::string::npos) << ss.str();
  // The socket is closed by finish().
  EXPECT_NE(::access(config_.control.socket.c_str(), F_OK), 0);
}

TEST_F(DaemonTest, LeakedBuffersMakeTheExitCodeFail) {
  DaemonOptions opt;
  opt.summary = false;
  open(opt);
  EXPECT_TRUE(daemon_->finish());
  EXPECT_EQ(daemon_->report(3), 1);
  EXPECT_EQ(daemon_->poller().statistics().mbufs_in_use_at_exit, 3);
}

TEST_F(DaemonTest, OpenNamesWhatFailed) {
  config_.control.socket = dir_ + "/missing/dir/ctl.sock";
  auto d = Daemon::open(config_, plan_, {worker_->channel()}, clock_, {});
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("missing/dir"), std::string::npos) << d.error().message;
}

}  // namespace
}  // namespace tally
