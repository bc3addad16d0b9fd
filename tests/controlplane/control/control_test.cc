// Control socket + commands, end to end over a real Unix socket (server in this thread, client
// in another), and the refusals promised for bad input.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "controlplane/charging/billing_commands.h"
#include "controlplane/control/commands.h"
#include "controlplane/control/control_server.h"
#include "controlplane/control/ctl_client.h"
#include "controlplane/report.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/frames.h"
#include "tests/fakes/test_config.h"
#include "tests/fakes/worker_harness.h"

namespace tally {
namespace {

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tally-control-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/ctl.sock";
    config_ = testing::testConfig();
    plan_ = CountingPlan::fromConfig(config_);
    worker_ = std::make_unique<testing::WorkerHarness>(plan_);
    poller_ = std::make_unique<Poller>(config_, plan_,
                                       std::vector<WorkerChannel>{worker_->channel()}, clock_);
    worker_->send(testing::ipv4Frame("10.0.0.1", "8.8.8.8", 17, 9, 53, 72));
    poller_->poll();
  }
  void TearDown() override {
    server_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }
  // The commands as tallyd registers them, without a biller (the profiles only).
  void open(unsigned mode = 0660, const ControlLimits& limits = {}) {
    commands_ = std::make_unique<CommandRegistry>();
    registerSessionCommands(*commands_, poller_.get());
    registerBillingCommands(*commands_, config_.accounting, nullptr);
    auto s = ControlServer::open(
        path_, mode,
        [this](const std::vector<std::string>& w) { return commands_->dispatch(w); }, limits);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(s.value());
    registerControlSocketStatistics(*commands_, *server_);
  }
  // One serve() call, as tallyd's loop makes it; remembers the longest.
  void serveOnce(int timeout_ms = 10) {
    auto t0 = std::chrono::steady_clock::now();
    server_->serve(timeout_ms);
    auto took = std::chrono::steady_clock::now() - t0;
    // What serve() worked beyond its wait (it may return early when something is ready).
    max_serve_ = std::max(max_serve_, took - std::chrono::milliseconds(timeout_ms));
  }
  // Runs fn in another thread while this one serves, as tallyd's main lcore does.
  template <typename F>
  auto serveWhile(F fn) {
    auto fut = std::async(std::launch::async, std::move(fn));
    while (fut.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
      serveOnce();
    }
    return fut.get();
  }
  Result<Reply> call(std::vector<std::string> words, int timeout_ms = 3000) {
    return serveWhile([this, words, timeout_ms] { return sendCommand(path_, words, timeout_ms); });
  }
  const ControlSocketStats& socketStats() const { return server_->stats(); }
  uint64_t refused(Refusal r) const { return socketStats().refused[size_t(r)]; }

  std::chrono::steady_clock::duration max_serve_{};

  std::string dir_, path_;
  Config config_;
  CountingPlan plan_;
  FakeClock clock_;
  std::unique_ptr<testing::WorkerHarness> worker_;
  std::unique_ptr<Poller> poller_;
  std::unique_ptr<CommandRegistry> commands_;
  std::unique_ptr<ControlServer> server_;
};

TEST_F(ControlTest, DisplaySessionListAndOne) {
  open();
  auto r = call({"display", "session"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->ok) << r->error;
  EXPECT_NE(r->text.find("10.0.0.1"), std::string::npos);
  EXPECT_NE(r->text.find("Total: 1 session"), std::string::npos);
  r = call({"display", "session", "10.0.0.1", "--json"});
  ASSERT_TRUE(r.ok() && r->ok);
  auto j = nlohmann::json::parse(r->text);
  EXPECT_EQ(j["subscriber"], "10.0.0.1");
  EXPECT_EQ(j["uplink_octets"], 100);
  EXPECT_EQ(j["flows"][0]["rating_group"], 10);
}

TEST_F(ControlTest, DisplayStatisticsJsonHasConservation) {
  open();
  auto r = call({"display", "statistics", "--json"});
  ASSERT_TRUE(r.ok() && r->ok);
  auto j = nlohmann::json::parse(r->text);
  EXPECT_EQ(j["counted_octets"], 100);
  EXPECT_EQ(j["attributed_octets"], 100);
  EXPECT_EQ(j["conservation"], "ok");
  r = call({"display", "statistics"});
  ASSERT_TRUE(r.ok() && r->ok);
  EXPECT_NE(r->text.find("attributed octets"), std::string::npos);
}

TEST_F(ControlTest, BadCommandsAreRefusedWithAReason) {
  open();
  struct Case {
    std::vector<std::string> words;
    std::string reason;
  } cases[] = {
      {{"display", "sessions"}, "unknown command 'display sessions'"},
      {{"reboot"}, "unknown command 'reboot'"},
      {{"display", "session", "10.0.0.999"}, "is not an IPv4 or IPv6 address"},
      {{"display", "session", "192.168.0.1"}, "not in any subscribers.pools"},
      {{"display", "session", "10.0.0.2"}, "no session for 10.0.0.2"},
      {{"display", "session", "10.0.0.1", "10.0.0.2"}, "at most one ADDRESS"},
      {{"display", "statistics", "x"}, "takes no arguments"},
  };
  for (const Case& c : cases) {
    auto r = call(c.words);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
    EXPECT_NE(r->error.find(c.reason), std::string::npos) << r->error;
  }
}

TEST_F(ControlTest, DisplayCcProfileShowsTheConfiguredThresholds) {
  CcProfile& p8 = config_.accounting.cc_profiles[3];
  p8.volume.total = 500000000;
  p8.interval_s = 3600;
  p8.tariff = {TariffTime{7, 0}, TariffTime{19, 30}};
  poller_ = std::make_unique<Poller>(config_, plan_,
                                     std::vector<WorkerChannel>{worker_->channel()}, clock_);
  open();
  auto r = call({"display", "cc-profile", "8"});
  ASSERT_TRUE(r.ok() && r->ok) << r->error;
  EXPECT_NE(r->text.find("8 (normal billing)"), std::string::npos) << r->text;
  EXPECT_NE(r->text.find("total 500000000 octets"), std::string::npos);
  EXPECT_NE(r->text.find("3600 s"), std::string::npos);
  EXPECT_NE(r->text.find("07:00, 19:30"), std::string::npos);
  EXPECT_NE(r->text.find("Max service containers  : 10\n"), std::string::npos) << r->text;
  EXPECT_NE(r->text.find("Initial QCI             : 9\n"), std::string::npos) << r->text;
  EXPECT_NE(r->text.find("Initial ARP             : priority level 9, pre-emption capability "
                         "disabled, vulnerability enabled (aRP 100)\n"),
            std::string::npos)
      << r->text;
  r = call({"display", "cc-profile", "--json"});
  ASSERT_TRUE(r.ok() && r->ok);
  auto j = nlohmann::json::parse(r->text);
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[0]["index"], 1);
  EXPECT_EQ(j[0]["interval"], nullptr);
  EXPECT_EQ(j[3]["volume"]["total"], 500000000);
  EXPECT_EQ(j[3]["tariff"][1], "19:30");
  EXPECT_EQ(j[3]["max_service_containers"], 10);
  EXPECT_EQ(j[3]["qci"], 9);
  EXPECT_EQ(j[3]["arp"]["priority_level"], 9);
  EXPECT_EQ(j[3]["arp"]["pre_emption_capability"], "disabled");
  EXPECT_EQ(j[3]["arp"]["pre_emption_vulnerability"], "enabled");
  EXPECT_EQ(j[3]["arp"]["octet"], 100);
}

TEST_F(ControlTest, SessionEventsFromTheOperator) {
  open();
  auto r = call({"session", "handover", "10.0.0.1", "192.0.2.77"});
  ASSERT_TRUE(r.ok() && r->ok) << r->error;
  const Session* s = poller_->findSession(*parseIpAddress("10.0.0.1"));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->serving_node.has_value());
  EXPECT_EQ(formatIp(*s->serving_node), "192.0.2.77");
  r = call({"session", "qos-change", "10.0.0.1", "7"});
  ASSERT_TRUE(r.ok() && r->ok) << r->error;
  EXPECT_EQ(s->qci, 7);
  r = call({"session", "logout", "10.0.0.1"});
  ASSERT_TRUE(r.ok() && r->ok) << r->error;
  EXPECT_EQ(poller_->findSession(*parseIpAddress("10.0.0.1")), nullptr);
  auto all = poller_->sessions();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0]->ending);
  EXPECT_EQ(all[0]->cause, EndCause::kLogout);
}

TEST_F(ControlTest, BadSessionAndProfileCommandsAreRefused) {
  open();
  struct Case {
    std::vector<std::string> words;
    std::string reason;
  } cases[] = {
      {{"display", "cc-profile", "3"}, "allowed 1, 2, 4 or 8"},
      {{"display", "cc-profile", "1", "2"}, "at most one INDEX"},
      {{"session", "qos-change", "10.0.0.1", "0"}, "allowed 1-255"},
      {{"session", "qos-change", "10.0.0.1", "256"}, "allowed 1-255"},
      {{"session", "qos-change", "10.0.0.1", "x"}, "allowed 1-255"},
      {{"session", "handover", "10.0.0.1", "nowhere"}, "is not an IPv4 or IPv6 address"},
      {{"session", "handover", "10.0.0.2", "192.0.2.7"}, "no billed session for 10.0.0.2"},
      {{"session", "handover", "172.16.0.1", "192.0.2.7"}, "not in any subscribers.pools"},
      {{"session", "handover", "10.0.0.1"}, "usage: session handover"},
      {{"session", "logout", "10.0.0.1", "x"}, "usage: session handover"},
      {{"session", "cut", "10.0.0.2"}, "no session for 10.0.0.2"},
      {{"session", "logout"}, "usage: session handover"},
  };
  for (const Case& c : cases) {
    auto r = call(c.words);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok);
    EXPECT_NE(r->error.find(c.reason), std::string::npos) << r->error;
  }
}

TEST_F(ControlTest, MalformedRequestIsRefused) {
  EXPECT_FALSE(parseRequest("display session").ok());
  EXPECT_FALSE(parseRequest("[]").ok());
  EXPECT_FALSE(parseRequest("[1,2]").ok());
  EXPECT_TRUE(parseRequest("[\"display\",\"session\"]").ok());
}

TEST_F(ControlTest, SocketIsNotWorldAccessible) {
  open(0660);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  server_.reset();
  auto bad = ControlServer::open(path_, 0666, [](auto&) { return Reply{}; });
  EXPECT_FALSE(bad.ok());
}

TEST_F(ControlTest, StaleSocketIsReplacedButALiveOneOrAFileIsNot) {
  open();
  auto second = ControlServer::open(path_, 0660, [](auto&) { return Reply{}; });
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("in use"), std::string::npos);
  // Simulate a crashed daemon: the socket file stays behind, nobody listens.
  std::string stale = dir_ + "/stale.sock";
  {
    auto s = ControlServer::open(stale, 0660, [](auto&) { return Reply{}; });
    ASSERT_TRUE(s.ok());
    ::link(stale.c_str(), (dir_ + "/keep").c_str());
  }
  ::rename((dir_ + "/keep").c_str(), stale.c_str());
  auto again = ControlServer::open(stale, 0660, [](auto&) { return Reply{}; });
  EXPECT_TRUE(again.ok()) << again.error().message;
  std::string file = dir_ + "/plain";
  std::ofstream(file) << "x";
  auto notsock = ControlServer::open(file, 0660, [](auto&) { return Reply{}; });
  ASSERT_FALSE(notsock.ok());
  EXPECT_NE(notsock.error().message.find("not a socket"), std::string::npos);
}

TEST_F(ControlTest, ClientReportsAMissingDaemon) {
  auto r = sendCommand(dir_ + "/nobody.sock", {"display", "statistics"}, 500);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cannot connect"), std::string::npos);
}

TEST_F(ControlTest, SilentClientDoesNotBlockServing) {
  open();
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strcpy(a.sun_path, path_.c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  auto start = std::chrono::steady_clock::now();
  auto r = call({"display", "statistics"});  // served although the first client says nothing
  EXPECT_TRUE(r.ok() && r->ok);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ::close(fd);
}

// ---- the socket under abuse (idle holders, storms, half requests, slow readers) ----

// A connected client socket (blocking), or -1.
int rawConnect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strcpy(a.sun_path, path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Everything the server sends until it closes (or timeout_ms passes).
std::string readAll(int fd, int timeout_ms) {
  std::string out;
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[4096];
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10) <= 0) {
      continue;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    out.append(buf, size_t(n));
  }
  return out;
}

// Another process (its own SO_PEERCRED pid) that opens `n` connections to path, one after
// the other (a refused one is not reopened), sends `request` on each (nothing when empty),
// writes one byte to `ready` and then holds them until killed.
pid_t forkHolder(const std::string& path, int n, const std::string& request, int ready) {
  pid_t pid = ::fork();
  if (pid != 0) {
    return pid;
  }
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strcpy(a.sun_path, path.c_str());
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    while (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno == EAGAIN) {
      ::usleep(1000);  // backlog full: the server is accepting
    }
    if (!request.empty()) {
      (void)!::write(fd, request.data(), request.size());
    }
  }
  (void)!::write(ready, "x", 1);
  while (true) {
    ::pause();
  }
}

struct Holder {
  pid_t pid = -1;
  ~Holder() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

class ControlAbuseTest : public ControlTest {
 protected:
  // Starts a holder and serves until it holds its connections.
  void hold(Holder& h, int n, const std::string& request = "") {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    h.pid = forkHolder(path_, n, request, p[1]);
    ::close(p[1]);
    ::fcntl(p[0], F_SETFL, O_NONBLOCK);
    char c;
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (::read(p[0], &c, 1) != 1) {
      ASSERT_LT(std::chrono::steady_clock::now(), end) << "holder did not get its connections";
      serveOnce(1);
    }
    ::close(p[0]);
    for (int i = 0; i < 20; ++i) {
      serveOnce(1);  // take in what is still queued
    }
  }
  ControlLimits patient() {
    ControlLimits l;
    l.request_timeout_ms = 60000;  // the holders stay until the test ends
    return l;
  }
};

TEST_F(ControlAbuseTest, IdleHoldersOfOneClientGetBusyAndTheOperatorIsAnswered) {
  open(0660, patient());
  Holder h;
  hold(h, 40);  // the 32 idle connections, and more
  EXPECT_EQ(socketStats().open_connections, 8u);  // max_per_client
  EXPECT_EQ(refused(Refusal::kBusyPerClient), 32u);
  for (int i = 0; i < 5; ++i) {
    auto r = call({"display", "statistics", "--json"});
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(r->ok) << r->error;
    auto j = nlohmann::json::parse(r->text);
    EXPECT_EQ(j["control_socket"]["refused"]["busy_per_client"], 32);
    EXPECT_EQ(j["control_socket"]["open_connections"], 9);
  }
  auto text = call({"display", "statistics"});
  ASSERT_TRUE(text.ok() && text->ok);
  EXPECT_NE(text->text.find("busy_per_client 32"), std::string::npos) << text->text;
}

TEST_F(ControlAbuseTest, AFullTableMakesRoomByEvictingTheHeaviestClientsOldestIdle) {
  open(0660, patient());
  std::vector<Holder> holders(8);
  for (Holder& h : holders) {
    hold(h, 8);  // 8 clients x 8 = the 64 connections allowed in all
  }
  ASSERT_EQ(socketStats().open_connections, 64u);
  for (int i = 0; i < 3; ++i) {
    auto r = call({"display", "statistics"});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->ok) << r->error;
  }
  // The first call took the place of one idle connection; it closed after its answer, so the
  // others found the place free.
  EXPECT_EQ(refused(Refusal::kEvicted), 1u);
  EXPECT_EQ(socketStats().open_connections, 63u);
  EXPECT_EQ(refused(Refusal::kBusyTotal), 0u);
}

TEST_F(ControlAbuseTest, OverTheTotalLimitTheAnswerIsBusyNotABrokenReply) {
  ControlLimits l = patient();
  l.max_connections = 4;
  open(0660, l);
  std::vector<int> mine;  // this process holds them all: nobody else to evict
  for (int i = 0; i < 4; ++i) {
    mine.push_back(rawConnect(path_));
    serveOnce(1);
  }
  auto start = std::chrono::steady_clock::now();
  auto r = call({"display", "statistics"});
  ASSERT_TRUE(r.ok()) << r.error().message;  // an answer, not "Broken pipe"/"malformed"
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->error.rfind("busy: 4 control connections open", 0), 0u) << r->error;
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));  // retried
  EXPECT_GE(refused(Refusal::kBusyTotal), 2u);
  for (int fd : mine) {
    ::close(fd);
  }
}

TEST_F(ControlAbuseTest, AReconnectStormOf500IsRefusedCountedAndLoggedOnce) {
  open(0660, patient());
  ::testing::internal::CaptureStderr();
  Holder h;
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  h.pid = forkHolder(path_, 500, "", p[1]);
  ::close(p[1]);
  // Never block on the pipe: the storm can only finish while this thread serves.
  ::fcntl(p[0], F_SETFL, O_NONBLOCK);
  // While the storm runs, 20 of 20 operator calls are answered.
  int answered = serveWhile([this] {
    int ok = 0;
    for (int i = 0; i < 20; ++i) {
      auto r = sendCommand(path_, {"display", "statistics"}, 3000);
      ok += r.ok() && r->ok ? 1 : 0;
    }
    return ok;
  });
  char c;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (::read(p[0], &c, 1) != 1 && std::chrono::steady_clock::now() < end) {
    serveOnce(1);
  }
  ::close(p[0]);
  for (int i = 0; i < 20; ++i) {
    serveOnce(1);
  }
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(answered, 20);
  EXPECT_EQ(refused(Refusal::kBusyPerClient), 492u);
  size_t lines = 0;
  for (size_t at = log.find("control socket: busy_per_client"); at != std::string::npos;
       at = log.find("control socket: busy_per_client", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << log;  // rate-limited: one line for the first, the rest summed later
}

TEST_F(ControlAbuseTest, HalfRequestsAndSilentClientsAreAnsweredAndClosedInTime) {
  ControlLimits l;
  l.request_timeout_ms = 200;
  open(0660, l);
  int silent = rawConnect(path_);
  int half = rawConnect(path_);
  ASSERT_EQ(::write(half, "[\"display\",", 11), 11);
  int gone = rawConnect(path_);
  ASSERT_EQ(::write(gone, "[\"disp", 6), 6);
  ::close(gone);
  auto start = std::chrono::steady_clock::now();
  std::string a = serveWhile([silent] { return readAll(silent, 2000); });
  std::string b = serveWhile([half] { return readAll(half, 2000); });
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(a, "{\"error\":\"no full request within 200 ms\",\"ok\":false}\n");
  EXPECT_EQ(b, a);
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  EXPECT_EQ(refused(Refusal::kIdleTimeout), 2u);
  EXPECT_EQ(refused(Refusal::kHalfRequest), 1u);
  EXPECT_EQ(socketStats().open_connections, 0u);
  ::close(silent);
  ::close(half);
}

TEST_F(ControlAbuseTest, AnOversizedRequestIsRefusedWithTheLimit) {
  open();
  int fd = rawConnect(path_);
  std::string big = "[\"" + std::string(5000, 'x');
  std::string got = serveWhile([fd, &big] {
    (void)!::send(fd, big.data(), big.size(), MSG_NOSIGNAL);
    return readAll(fd, 2000);
  });
  EXPECT_EQ(got, "{\"error\":\"request longer than 4096 bytes\",\"ok\":false}\n");
  EXPECT_EQ(refused(Refusal::kOversized), 1u);
  ::close(fd);
}

// A reply of `chunks` x 64 KB produced in steps, as the session display is.
Reply bigReply(int chunks) {
  auto left = std::make_shared<int>(chunks);
  Reply r;
  r.text = "begin\n";
  r.more = [left](std::string& out, size_t max_bytes) {
    out.append(std::min<size_t>(max_bytes, 65536), 'x');
    return --*left == 0;
  };
  return r;
}

class ControlStreamTest : public ControlTest {
 protected:
  void openBig(int chunks, const ControlLimits& l = {}) {
    auto s = ControlServer::open(
        path_, 0660, [chunks](const std::vector<std::string>&) { return bigReply(chunks); }, l);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(s.value());
  }
};

TEST_F(ControlStreamTest, ASlowReaderGetsTheWholeReplyAndServingStaysShort) {
  openBig(320);  // 20 MB
  size_t got = 0;
  int pieces = 0;
  auto r = serveWhile([&] {
    return sendCommand(path_, {"x"}, 3000, [&](std::string_view t) {
      got += t.size();
      if (++pieces % 16 == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a slow terminal
      }
    });
  });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->ok);
  EXPECT_EQ(got, 6u + 320u * 65536u);
  EXPECT_EQ(refused(Refusal::kReplyCut), 0u);
  // Each serve() worked about its budget (5 ms) beyond its wait, however big the reply.
  EXPECT_LT(max_serve_, std::chrono::milliseconds(40))
      << std::chrono::duration_cast<std::chrono::milliseconds>(max_serve_).count() << " ms";
}

TEST_F(ControlStreamTest, AStalledReaderIsCutAndTheClientSaysSo) {
  ControlLimits l;
  l.stall_timeout_ms = 200;
  openBig(320, l);
  bool slept = false;
  auto r = serveWhile([&] {
    return sendCommand(path_, {"x"}, 5000, [&](std::string_view) {
      if (!slept) {
        slept = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(600));  // stops reading
      }
    });
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("reply cut after ", 0), 0u) << r.error().message;
  EXPECT_NE(r.error().message.find("the client read nothing for 200 ms"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(refused(Refusal::kReplyCut), 1u);
}

TEST_F(ControlStreamTest, AReplyCutByStoppingTheDaemonIsReportedAsCut) {
  openBig(320);
  auto fut = std::async(std::launch::async, [this] {
    return sendCommand(path_, {"x"}, 3000, [](std::string_view) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  });
  for (int i = 0; i < 20; ++i) {
    serveOnce(1);
  }
  server_.reset();  // tallyd stops while the reply is being sent
  auto r = fut.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("reply cut after ", 0), 0u) << r.error().message;
}

TEST_F(ControlTest, TheSessionDisplayOfThousandsIsStreamedWholeAndInOrder) {
  config_.dataplane.max_sessions = 4000;
  plan_ = CountingPlan::fromConfig(config_);
  worker_ = std::make_unique<testing::WorkerHarness>(plan_);
  poller_ = std::make_unique<Poller>(config_, plan_,
                                     std::vector<WorkerChannel>{worker_->channel()}, clock_);
  for (int i = 0; i < 3000; ++i) {
    worker_->send(testing::ipv4Frame("10.0." + std::to_string(i / 250) + "." +
                                         std::to_string(i % 250 + 1),
                                     "8.8.8.8", 17, 9, 53, 72));
    if (i % 1000 == 999) {
      poller_->poll();
    }
  }
  poller_->poll();
  ASSERT_EQ(poller_->sessions().size(), 3000u);
  open();
  auto r = call({"display", "session", "--json"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->ok) << r->error;
  // The same text as the whole array rendered at once.
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const Session* s : poller_->sessions()) {
    arr.push_back(sessionJson(*s, poller_->plan()));
  }
  EXPECT_GT(r->text.size(), 1000000u);  // many chunk frames
  EXPECT_EQ(r->text, arr.dump(2) + "\n");
  EXPECT_LT(max_serve_, std::chrono::milliseconds(40))
      << std::chrono::duration_cast<std::chrono::milliseconds>(max_serve_).count() << " ms";
  // The text table too, in steps: the same text as rendered at once.
  max_serve_ = {};
  r = call({"display", "session"});
  ASSERT_TRUE(r.ok() && r->ok);
  EXPECT_GT(r->text.size(), 200000u);
  EXPECT_EQ(r->text, formatSessionList(*poller_));
  EXPECT_NE(r->text.find("Total: 3000 session(s)"), std::string::npos);
  EXPECT_LT(max_serve_, std::chrono::milliseconds(40))
      << std::chrono::duration_cast<std::chrono::milliseconds>(max_serve_).count() << " ms";
  // Small answers keep their text (a new poller: the commands are registered anew with it).
  server_.reset();
  poller_ = std::make_unique<Poller>(config_, plan_,
                                     std::vector<WorkerChannel>{worker_->channel()}, clock_);
  open();
  r = call({"display", "session", "--json"});
  ASSERT_TRUE(r.ok() && r->ok);
  EXPECT_EQ(r->text, "[]\n");
}

// The client's side of the framing, against a stand-in daemon that sends `wire` and closes.
Result<Reply> replyOf(const std::string& dir, const std::string& wire) {
  std::string path = dir + "/fake.sock";
  int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strcpy(a.sun_path, path.c_str());
  ::unlink(path.c_str());
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd, 4) != 0) {
    return Error{"test set-up: cannot listen"};
  }
  std::thread daemon([lfd, wire] {
    int fd = ::accept(lfd, nullptr, nullptr);
    char buf[256];
    (void)!::read(fd, buf, sizeof buf);
    (void)!::write(fd, wire.data(), wire.size());
    ::close(fd);
  });
  auto r = sendCommand(path, {"display", "session"}, 2000);
  daemon.join();
  ::close(lfd);
  return r;
}

TEST_F(ControlTest, TheClientTellsACompleteReplyFromACutOne) {
  auto whole = replyOf(dir_, "chunk 7\nhello \n{\"ok\":true,\"text\":\"world\\n\"}\n");
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  EXPECT_EQ(whole->text, "hello \nworld\n");
  auto small = replyOf(dir_, "{\"ok\":true,\"text\":\"just this\\n\"}\n");  // a small reply
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->text, "just this\n");
  auto noend = replyOf(dir_, "chunk 6\nhello ");
  ASSERT_FALSE(noend.ok());
  EXPECT_EQ(noend.error().message,
            "reply cut after 6 octets: tallyd closed the connection before the end of the reply");
  auto midframe = replyOf(dir_, "chunk 60\nhello ");
  ASSERT_FALSE(midframe.ok());
  EXPECT_EQ(midframe.error().message.rfind("reply cut after 6 octets", 0), 0u);
  auto marked = replyOf(
      dir_, "chunk 2\nab{\"ok\":false,\"cut\":true,\"error\":\"reply cut after 2 octets: x\"}\n");
  ASSERT_FALSE(marked.ok());
  EXPECT_EQ(marked.error().message, "reply cut after 2 octets: x");
  auto junk = replyOf(dir_, "HTTP/1.1 200 OK\r\n\r\n");
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.error().message, "malformed reply from tallyd");
}

}  // namespace
}  // namespace tally
