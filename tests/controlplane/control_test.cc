// Control socket + commands, end to end over a real Unix socket (server in this thread, client
// in another), and the refusals promised for bad input.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "controlplane/commands.h"
#include "controlplane/control_server.h"
#include "controlplane/ctl_client.h"
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
  void open(unsigned mode = 0660) {
    auto s = ControlServer::open(path_, mode, [this](const std::vector<std::string>& w) {
      return handleCommand(w, *poller_, nullptr);
    });
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(s.value());
  }
  // Sends from another thread while this one serves, as tallyd's main lcore does.
  Result<Reply> call(std::vector<std::string> words) {
    auto fut = std::async(std::launch::async,
                          [this, words] { return sendCommand(path_, words, 3000); });
    while (fut.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
      server_->serve(10);
    }
    return fut.get();
  }

  std::string dir_, path_;
  Config config_;
  CountingPlan plan_;
  FakeClock clock_;
  std::unique_ptr<testing::WorkerHarness> worker_;
  std::unique_ptr<Poller> poller_;
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
  r = call({"display", "cc-profile", "--json"});
  ASSERT_TRUE(r.ok() && r->ok);
  auto j = nlohmann::json::parse(r->text);
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[0]["index"], 1);
  EXPECT_EQ(j[0]["interval"], nullptr);
  EXPECT_EQ(j[3]["volume"]["total"], 500000000);
  EXPECT_EQ(j[3]["tariff"][1], "19:30");
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

}  // namespace
}  // namespace tally
