// The transfer worker against a scripted transport: delivery and the local delete, the sidecar
// and its remote name across failures and restarts, the backoff, kick, stop, the queue.
#include "controlplane/bill/transfer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/fakes/cdr_fixtures.h"
#include "tests/fakes/scripted_transport.h"
#include "tests/fakes/temp_dir.h"

namespace tally::bill {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using tally::testing::ScriptedTransport;
using tally::testing::TempDir;
using tally::testing::utcNs;
using Steady = std::chrono::steady_clock;

void writeText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Polls until pred() or the timeout; returns pred().
template <typename Pred>
bool waitFor(Pred pred, milliseconds timeout = milliseconds(10000)) {
  auto until = Steady::now() + timeout;
  while (!pred()) {
    if (Steady::now() > until) {
      return pred();
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

int64_t msBetween(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration_cast<milliseconds>(b - a).count();
}

// 2024-05-17 08:00:00.999 UTC: a worker made then names files 20240517080001NNN in the UTC
// zone (never in the second it was made in; its first attempt waits 1 ms for the next one).
const int64_t kWall = utcNs(2024, 5, 17, 8, 0, 0) + 999'000'000;

class TransferTest : public ::testing::Test {
 protected:
  TransferTest()
      : tmp_("tally-transfer"), dir_(tmp_.path() + "/cfcard"), server_(tmp_.path() + "/server") {
    fs::create_directories(dir_);
    fs::create_directories(server_);
    state_ = std::make_shared<ScriptedTransport::State>();
    state_->server_dir = server_;
  }
  ~TransferTest() override {
    state_->unblock();
    worker_.reset();
  }

  // running: the wall clock reads `wall` when the fixture was made and goes on with real time;
  // otherwise it stands still at `wall`.
  // manual: the wall clock reads manual_wall_, which the test sets; tz: the names' zone.
  TransferWorker& start(TransferPolicy policy, int64_t wall = kWall, bool running = false,
                        TimeZonePtr tz = TimeZone::utc(), bool manual = false) {
    std::function<int64_t()> clock = [wall] { return wall; };
    if (running) {
      clock = [wall, base = made_] {
        return wall + std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now() - base)
                          .count();
      };
    }
    if (manual) {
      manual_wall_ = wall;
      clock = [this] { return manual_wall_.load(); };
    }
    worker_ = std::make_unique<TransferWorker>(
        std::make_unique<ScriptedTransport>(state_), std::move(tz), policy, clock,
        [this](const TransferJob& j, const TransferResult& r, const std::string& remote) {
          std::lock_guard lk(mu_);
          delivered_.push_back({j.name, r.status, remote});
        },
        [this](const TransferJob& j, const TransferResult& r) {
          std::lock_guard lk(mu_);
          failed_.push_back({j.name, r.status, ""});
        });
    return *worker_;
  }
  static TransferPolicy policy(int64_t min_ms, int64_t max_ms) {
    TransferPolicy p;
    p.min_backoff_ns = min_ms * 1'000'000;
    p.max_backoff_ns = max_ms * 1'000'000;
    return p;
  }
  // A local bill file of `bytes` octets, and its job.
  TransferJob file(const std::string& name, size_t bytes = 100, uint64_t bills = 2,
                   const std::string& stem = "bill") {
    writeText(dir_ + "/" + name, std::string(bytes, 'b'));
    return TransferJob{dir_, name, stem, bytes, bills};
  }
  std::string local(const std::string& name) const { return dir_ + "/" + name; }

  struct Seen {
    std::string name;
    TransferStatus status;
    std::string remote;
  };
  size_t deliveredCount() {
    std::lock_guard lk(mu_);
    return delivered_.size();
  }
  size_t failedCount() {
    std::lock_guard lk(mu_);
    return failed_.size();
  }
  std::vector<Seen> deliveredCopy() {
    std::lock_guard lk(mu_);
    return delivered_;
  }
  std::vector<Seen> failedCopy() {
    std::lock_guard lk(mu_);
    return failed_;
  }

  const Steady::time_point made_ = Steady::now();

  std::atomic<int64_t> manual_wall_{0};
  TempDir tmp_;
  std::string dir_;
  std::string server_;
  std::shared_ptr<ScriptedTransport::State> state_;
  std::mutex mu_;
  std::vector<Seen> delivered_;
  std::vector<Seen> failed_;
  std::unique_ptr<TransferWorker> worker_;
};

TEST(TransferNames, RemoteNameIsStemLocalTimeCounterAndExtension) {
  LocalTime t{2024, 5, 17, 10, 0, 0, 7200};
  EXPECT_EQ(TransferWorker::remoteName("bill", t, 7, "gw_20240517100000_00000001.cdr"),
            "bill-20240517100000007.cdr");
  EXPECT_EQ(TransferWorker::remoteName("backup", t, 999, "gw_20240517100000_00000001.csv"),
            "backup-20240517100000999.csv");
  EXPECT_EQ(TransferWorker::remoteName("x", LocalTime{2025, 1, 2, 3, 4, 5, 0}, 0, "noext"),
            "x-20250102030405000");
}

TEST(TransferNames, StatusNamesAndRetryable) {
  const std::vector<std::pair<TransferStatus, const char*>> all = {
      {TransferStatus::kOk, "ok"},
      {TransferStatus::kAlreadyThere, "already-there"},
      {TransferStatus::kConnect, "connect"},
      {TransferStatus::kTimeout, "timeout"},
      {TransferStatus::kHostKeyUnknown, "host-key-unknown"},
      {TransferStatus::kHostKeyChanged, "host-key-changed"},
      {TransferStatus::kAuth, "auth"},
      {TransferStatus::kRemote, "remote"},
      {TransferStatus::kLocal, "local"},
      {TransferStatus::kTooLarge, "too-large"},
      {TransferStatus::kProtocol, "protocol"},
  };
  std::set<std::string> retryable;
  for (const auto& [s, name] : all) {
    EXPECT_STREQ(transferStatusName(s), name);
    if (transferRetryable(s)) {
      retryable.insert(name);
    }
  }
  EXPECT_EQ(retryable, (std::set<std::string>{"connect", "timeout", "remote", "protocol"}));
}

TEST_F(TransferTest, DeliveredFileIsDeletedWithItsSidecarAndReportedOnce) {
  TransferWorker& w = start(policy(1000, 10000));
  EXPECT_STREQ(w.protocol(), "scripted");
  w.enqueue(file("gw_1.cdr", 321, 5));
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 1; }));
  const std::string remote = "bill-20240517080001000.cdr";
  auto d = deliveredCopy();
  EXPECT_EQ(d[0].name, "gw_1.cdr");
  EXPECT_EQ(d[0].status, TransferStatus::kOk);
  EXPECT_EQ(d[0].remote, remote);
  EXPECT_FALSE(fs::exists(local("gw_1.cdr")));
  EXPECT_FALSE(fs::exists(local("gw_1.cdr.xfer")));
  EXPECT_EQ(readText(server_ + "/" + remote), std::string(321, 'b'));
  auto calls = state_->callsCopy();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].local_path, local("gw_1.cdr"));
  EXPECT_EQ(calls[0].remote_name, remote);

  ASSERT_TRUE(waitFor([&] { return w.status().queued_files == 0 && !w.status().in_flight; }));
  TransferStatusView s = w.status();
  EXPECT_EQ(s.delivered_files, 1u);
  EXPECT_EQ(s.delivered_bytes, 321u);
  EXPECT_EQ(s.delivered_bills, 5u);
  EXPECT_EQ(s.already_there, 0u);
  EXPECT_EQ(s.attempts, 1u);
  EXPECT_EQ(s.failures, 0u);
  EXPECT_FALSE(s.failing);
  EXPECT_EQ(s.queued_bytes, 0u);
  EXPECT_EQ(s.last_file, "gw_1.cdr");
  EXPECT_EQ(s.last_status, TransferStatus::kOk);
  EXPECT_EQ(s.last_attempt_unix_ns, kWall);
  EXPECT_EQ(s.next_attempt_unix_ns, 0);
  EXPECT_TRUE(w.busyPaths().empty());

  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(deliveredCount(), 1u);
  EXPECT_EQ(state_->callCount(), 1u);
  EXPECT_EQ(failedCount(), 0u);
}

TEST_F(TransferTest, FailureKeepsFileAndSidecarAndRetriesWithTheSameName) {
  state_->push(TransferStatus::kConnect, 2);
  TransferWorker& w = start(policy(200, 10000));
  w.enqueue(file("gw_1.cdr"));
  ASSERT_TRUE(waitFor([&] { return failedCount() == 1; }));
  // In the 200 ms before the retry: the file and its sidecar are there, still queued.
  EXPECT_TRUE(fs::exists(local("gw_1.cdr")));
  EXPECT_EQ(readText(local("gw_1.cdr.xfer")), "bill-20240517080001000.cdr\n");
  TransferStatusView s = w.status();
  EXPECT_EQ(s.queued_files, 1u);
  EXPECT_EQ(s.queued_bytes, 100u);
  EXPECT_TRUE(s.failing);
  EXPECT_EQ(s.consecutive_failures, 1u);
  EXPECT_EQ(s.last_status, TransferStatus::kConnect);
  EXPECT_EQ(s.last_detail, "scripted connect");
  EXPECT_EQ(w.busyPaths(), (std::vector<std::string>{local("gw_1.cdr")}));

  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 1; }));
  auto calls = state_->callsCopy();
  ASSERT_EQ(calls.size(), 3u);
  for (const auto& c : calls) {
    EXPECT_EQ(c.remote_name, "bill-20240517080001000.cdr");
  }
  EXPECT_EQ(failedCount(), 2u);
  EXPECT_FALSE(fs::exists(local("gw_1.cdr")));
  EXPECT_FALSE(fs::exists(local("gw_1.cdr.xfer")));
  ASSERT_TRUE(waitFor([&] { return !w.status().in_flight; }));
  s = w.status();
  EXPECT_EQ(s.attempts, 3u);
  EXPECT_EQ(s.failures, 2u);
  EXPECT_EQ(s.consecutive_failures, 0u);
  EXPECT_FALSE(s.failing);
}

TEST_F(TransferTest, BackoffDoublesAndIsCapped) {
  state_->push(TransferStatus::kTimeout, 6);
  start(policy(40, 100)).enqueue(file("gw_1.cdr"));
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 1; }));
  auto calls = state_->callsCopy();
  ASSERT_EQ(calls.size(), 7u);
  // 40, 80, then the cap of 100 (uncapped: 160, 320, 640, 1280).
  const int64_t expected[] = {40, 80, 100, 100, 100, 100};
  for (size_t i = 0; i + 1 < calls.size(); ++i) {
    int64_t gap = msBetween(calls[i].at, calls[i + 1].at);
    EXPECT_GE(gap, expected[i]) << "gap " << i;
    if (i >= 2) {
      EXPECT_LT(gap, 155) << "gap " << i << " is not capped";
    }
  }
}

TEST_F(TransferTest, NonRetryableFailuresRetryAtTheCapAndAreReportedEachTime) {
  state_->push(TransferStatus::kAuth);
  state_->push(TransferStatus::kHostKeyChanged);
  start(policy(5, 150)).enqueue(file("gw_1.cdr"));
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 1; }));
  auto calls = state_->callsCopy();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_GE(msBetween(calls[0].at, calls[1].at), 150);  // not 5
  EXPECT_GE(msBetween(calls[1].at, calls[2].at), 150);  // not 10
  auto f = failedCopy();
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].status, TransferStatus::kAuth);
  EXPECT_EQ(f[1].status, TransferStatus::kHostKeyChanged);
}

TEST_F(TransferTest, KickMakesTheNextAttemptNow) {
  state_->push(TransferStatus::kConnect);
  TransferWorker& w = start(policy(60'000, 300'000));
  w.enqueue(file("gw_1.cdr"));
  ASSERT_TRUE(waitFor([&] { return failedCount() == 1; }));
  ASSERT_TRUE(waitFor([&] { return w.status().next_attempt_unix_ns != 0; }));
  TransferStatusView s = w.status();
  EXPECT_GT(s.next_attempt_unix_ns, kWall + 50'000'000'000);
  EXPECT_LE(s.next_attempt_unix_ns, kWall + 60'000'000'000);
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(state_->callCount(), 1u);  // in backoff
  auto t0 = Steady::now();
  w.kick();
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 1; }, milliseconds(5000)));
  EXPECT_LT(msBetween(t0, Steady::now()), 5000);
  EXPECT_EQ(state_->callCount(), 2u);
}

TEST_F(TransferTest, RestartReusesTheNameInTheSidecar) {
  state_->push(TransferStatus::kConnect);
  start(policy(60'000, 300'000)).enqueue(file("gw_1.cdr", 100, 2, "first"));
  ASSERT_TRUE(waitFor([&] { return failedCount() == 1; }));
  const std::string name = state_->callsCopy().at(0).remote_name;
  EXPECT_EQ(name, "first-20240517080001000.cdr");
  worker_.reset();  // queued file stays on disk, with its sidecar
  ASSERT_TRUE(fs::exists(local("gw_1.cdr")));
  ASSERT_EQ(readText(local("gw_1.cdr.xfer")), name + "\n");

  // A new worker, a minute later, with another stem: the sidecar's name wins.
  start(policy(60'000, 300'000), kWall + 60'000'000'000)
      .enqueue(TransferJob{dir_, "gw_1.cdr", "second", 100, 2});
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 1; }));
  auto calls = state_->callsCopy();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].remote_name, name);
  EXPECT_EQ(deliveredCopy()[0].remote, name);
  EXPECT_TRUE(fs::exists(server_ + "/" + name));
  EXPECT_FALSE(fs::exists(local("gw_1.cdr")));
  EXPECT_FALSE(fs::exists(local("gw_1.cdr.xfer")));
}

// A daemon killed and started again within the same second: the new worker must not name a
// file like one the worker before it delivered in that second (same size: taken for "already
// there" and deleted undelivered; another size: refused for ever). Found by the crash-loop test.
TEST_F(TransferTest, ARestartWithinTheSameSecondNeverReusesAName) {
  const int64_t t = utcNs(2024, 5, 17, 8, 0, 0) + 500'000'000;  // a clock running from 08:00:00.5
  start(policy(1000, 10000), t, true).enqueue(file("gw_1.cdr", 100));
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 1; }));
  worker_.reset();
  start(policy(1000, 10000), t, true).enqueue(file("gw_2.cdr", 100));  // the same size
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 2; }));
  auto d = deliveredCopy();
  EXPECT_NE(d[0].remote, d[1].remote);
  EXPECT_EQ(d[1].status, TransferStatus::kOk);  // not kAlreadyThere
  EXPECT_TRUE(fs::exists(server_ + "/" + d[0].remote));
  EXPECT_TRUE(fs::exists(server_ + "/" + d[1].remote));
}

// When daylight saving time ends the local hour repeats: a file named at 02:30:00 in the
// second pass must not get the name of one named at 02:30:00 in the first (the same size would
// count as already there and be deleted undelivered). Names stay in order as shown.
TEST_F(TransferTest, TheRepeatedLocalHourNeverReusesAName) {
  auto berlin = TimeZone::load("Europe/Berlin");
  ASSERT_TRUE(berlin.ok()) << berlin.error().message;
  // 2024-10-27 00:30:00 UTC = 02:30:00 CEST; 01:30:00 UTC = 02:30:00 CET.
  TransferWorker& w = start(policy(1000, 10000), utcNs(2024, 10, 27, 0, 30, 0), false,
                            berlin.value(), true);
  w.enqueue(file("gw_1.cdr", 100));
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 1; }));
  manual_wall_ = utcNs(2024, 10, 27, 1, 30, 0);
  w.enqueue(file("gw_2.cdr", 100));  // the same size
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 2; }));
  auto d = deliveredCopy();
  EXPECT_NE(d[0].remote, d[1].remote);
  EXPECT_LT(d[0].remote, d[1].remote);
  EXPECT_EQ(d[1].status, TransferStatus::kOk);  // not kAlreadyThere
  EXPECT_TRUE(fs::exists(server_ + "/" + d[1].remote));
  // Back in step once local time passes the last name's.
  manual_wall_ = utcNs(2024, 10, 27, 2, 0, 0);  // 03:00:00 CET
  w.enqueue(file("gw_3.cdr", 100));
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 3; }));
  EXPECT_EQ(deliveredCopy()[2].remote, "bill-20241027030000000.cdr");
}

// Delivered before a crash between the server's rename and the local delete: the next start
// finds it on the server and only deletes the local copy.
TEST_F(TransferTest, AlreadyThereDeletesTheLocalCopy) {
  const std::string name = "bill-20240101000000042.cdr";
  TransferJob job = file("gw_1.cdr", 64, 3);
  writeText(local("gw_1.cdr.xfer"), name + "\n");
  fs::copy_file(local("gw_1.cdr"), server_ + "/" + name);
  TransferWorker& w = start(policy(1000, 10000));
  w.enqueue(job);
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 1; }));
  auto d = deliveredCopy();
  EXPECT_EQ(d[0].status, TransferStatus::kAlreadyThere);
  EXPECT_EQ(d[0].remote, name);
  EXPECT_FALSE(fs::exists(local("gw_1.cdr")));
  EXPECT_FALSE(fs::exists(local("gw_1.cdr.xfer")));
  ASSERT_TRUE(waitFor([&] { return !w.status().in_flight; }));
  TransferStatusView s = w.status();
  EXPECT_EQ(s.already_there, 1u);
  EXPECT_EQ(s.delivered_files, 1u);
  EXPECT_EQ(s.delivered_bills, 3u);
}

TEST_F(TransferTest, ScriptedAlreadyThereAlsoDeletes) {
  state_->push(TransferStatus::kAlreadyThere);
  start(policy(1000, 10000)).enqueue(file("gw_1.cdr"));
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 1; }));
  EXPECT_FALSE(fs::exists(local("gw_1.cdr")));
  EXPECT_FALSE(fs::exists(local("gw_1.cdr.xfer")));
}

TEST_F(TransferTest, DestructorWaitsOnlyForTheUploadInFlight) {
  state_->block();
  TransferWorker& w = start(policy(1000, 10000));
  w.enqueue(file("gw_1.cdr"));
  w.enqueue(file("gw_2.cdr"));
  ASSERT_TRUE(state_->waitForCalls(1, milliseconds(10000)));
  EXPECT_TRUE(w.status().in_flight);
  std::thread releaser([this] {
    std::this_thread::sleep_for(milliseconds(300));
    state_->unblock();
  });
  auto t0 = Steady::now();
  worker_.reset();
  int64_t took = msBetween(t0, Steady::now());
  releaser.join();
  EXPECT_GE(took, 250);   // the transfer in flight ends first
  EXPECT_LT(took, 5000);  // and then nothing else is waited for
  EXPECT_EQ(state_->callCount(), 1u);
  EXPECT_TRUE(fs::exists(local("gw_2.cdr")));  // still queued: stays for the next start
}

TEST_F(TransferTest, DestructorDuringBackoffIsImmediate) {
  state_->push(TransferStatus::kConnect);
  start(policy(60'000, 300'000)).enqueue(file("gw_1.cdr"));
  ASSERT_TRUE(waitFor([&] { return failedCount() == 1; }));
  auto t0 = Steady::now();
  worker_.reset();
  EXPECT_LT(msBetween(t0, Steady::now()), 1000);
  EXPECT_TRUE(fs::exists(local("gw_1.cdr")));
  EXPECT_TRUE(fs::exists(local("gw_1.cdr.xfer")));
}

TEST_F(TransferTest, TheSameFileIsQueuedOnce) {
  state_->block();
  TransferWorker& w = start(policy(1000, 10000));
  TransferJob a = file("gw_1.cdr", 10);
  w.enqueue(a);
  w.enqueue(a);
  ASSERT_TRUE(state_->waitForCalls(1, milliseconds(10000)));
  w.enqueue(a);  // in flight
  w.enqueue(file("gw_2.cdr", 20));
  w.enqueue(file("gw_2.cdr", 20));
  TransferStatusView s = w.status();
  EXPECT_EQ(s.queued_files, 2u);
  EXPECT_EQ(s.queued_bytes, 30u);
  // Only the head (in flight) is protected from drop-oldest; gw_2 may be deleted meanwhile.
  EXPECT_EQ(w.busyPaths(), (std::vector<std::string>{local("gw_1.cdr")}));
  state_->unblock();
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 2; }));
  std::this_thread::sleep_for(milliseconds(50));
  auto calls = state_->callsCopy();
  ASSERT_EQ(calls.size(), 2u);
  // Two names fixed in the same second: counters 000 and 001.
  EXPECT_EQ(calls[0].remote_name, "bill-20240517080001000.cdr");
  EXPECT_EQ(calls[1].remote_name, "bill-20240517080001001.cdr");
  EXPECT_EQ(deliveredCount(), 2u);
}

TEST_F(TransferTest, MissingLocalFileIsDroppedNotRetried) {
  TransferWorker& w = start(policy(5, 10));
  w.enqueue(TransferJob{dir_, "gone.cdr", "bill", 100, 1});
  ASSERT_TRUE(waitFor([&] { return w.status().queued_files == 0; }));
  TransferStatusView s = w.status();
  EXPECT_NE(s.last_detail.find("no longer exists"), std::string::npos) << s.last_detail;
  EXPECT_EQ(s.last_file, "gone.cdr");
  EXPECT_EQ(s.failures, 0u);
  EXPECT_EQ(state_->callCount(), 0u);
  EXPECT_EQ(failedCount(), 0u);
  // The worker goes on with the next file.
  w.enqueue(file("gw_1.cdr"));
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 1; }));
  EXPECT_EQ(state_->callCount(), 1u);
}

// `cfcard reset` while the file waits for its retry: dropped with its sidecar, not retried.
TEST_F(TransferTest, FileDeletedDuringBackoffIsDropped) {
  state_->push(TransferStatus::kConnect);
  TransferWorker& w = start(policy(60'000, 300'000));
  w.enqueue(file("gw_1.cdr"));
  ASSERT_TRUE(waitFor([&] { return failedCount() == 1; }));
  fs::remove(local("gw_1.cdr"));
  ASSERT_TRUE(fs::exists(local("gw_1.cdr.xfer")));
  w.kick();
  ASSERT_TRUE(waitFor([&] { return w.status().queued_files == 0; }));
  EXPECT_EQ(state_->callCount(), 1u);
  EXPECT_TRUE(w.busyPaths().empty());
  EXPECT_FALSE(fs::exists(local("gw_1.cdr.xfer")));
  EXPECT_NE(w.status().last_detail.find("no longer exists"), std::string::npos);
}

// A file the server refuses does not hold back the others.
TEST_F(TransferTest, AFailedFileGoesBehindTheOthers) {
  state_->push(TransferStatus::kRemote);
  TransferWorker& w = start(policy(5, 10));
  state_->block();
  w.enqueue(file("gw_1.cdr"));
  w.enqueue(file("gw_2.cdr"));
  state_->unblock();
  ASSERT_TRUE(waitFor([&] { return deliveredCount() == 2; }));
  auto calls = state_->callsCopy();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].local_path, local("gw_1.cdr"));
  EXPECT_EQ(calls[1].local_path, local("gw_2.cdr"));
  EXPECT_EQ(calls[2].local_path, local("gw_1.cdr"));
  EXPECT_EQ(calls[2].remote_name, calls[0].remote_name);
}

}  // namespace
}  // namespace tally::bill
