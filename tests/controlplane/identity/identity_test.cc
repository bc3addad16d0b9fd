// Provisioned identities (`session identify`): the validation table, an identity that waits for
// its session, one that applies to a live session's open record, `unknown_identity: hold`, the
// commands and the state file across a restart.
#include "controlplane/identity/identity.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "controlplane/cdr/cdr_decode.h"
#include "controlplane/charging/biller.h"
#include "controlplane/identity/identity_commands.h"
#include "controlplane/identity/identity_store.h"
#include "tests/fakes/cdr_records.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/frames.h"
#include "tests/fakes/test_config.h"
#include "tests/fakes/worker_harness.h"

namespace tally {
namespace {

// ---------------------------------------------------------------------------------------------
// Validation

struct Case {
  std::vector<std::string> words;  // after "session identify"
  const char* error;               // nullptr: accepted; else a part of the reason
};

TEST(IdentityValidation, SingleFormTable) {
  Config c = testing::testConfig();
  CountingPlan plan = CountingPlan::fromConfig(c);
  const Case cases[] = {
      {{"10.0.0.1", "--imsi", "001010000000001"}, nullptr},
      {{"10.0.0.1", "--imsi", "001010", "--msisdn", "4", "--imei", "35693803564380",
        "--user-name", "a b@c", "--cc-profile", "4", "--apn", "corp.example", "--qci", "255"},
       nullptr},
      {{"10.0.0.1", "--imei", "3569380356438012"}, nullptr},
      {{"2001:db8:0:1::77", "--msisdn", "491700000001"}, nullptr},
      {{"10.0.0.1", "--remove"}, nullptr},
      {{}, "no ADDRESS"},
      {{"10.0.0.1"}, "no identity given"},
      {{"10.9.0.1.2", "--imsi", "001010000000001"}, "not an IPv4 or IPv6 address"},
      {{"192.168.0.1", "--imsi", "001010000000001"}, "not in any subscribers.pools"},
      {{"10.0.0.1", "--imsi", "00101"}, "imsi '00101': must be 6-15 digits (has 5)"},
      {{"10.0.0.1", "--imsi", "0010100000000012"}, "must be 6-15 digits (has 16)"},
      {{"10.0.0.1", "--imsi", "00101a000000001"}, "imsi '00101a000000001': must be 6-15 digits"},
      {{"10.0.0.1", "--msisdn", ""}, "msisdn '': must be 1-15 digits"},
      {{"10.0.0.1", "--msisdn", "+491700000001"}, "must be 1-15 digits"},
      {{"10.0.0.1", "--msisdn", "4917000000012345"}, "must be 1-15 digits (has 16)"},
      {{"10.0.0.1", "--imei", "3569380356438"}, "imei '3569380356438': must be 14-16 digits"},
      {{"10.0.0.1", "--imei", "35693803564380123"}, "must be 14-16 digits (has 17)"},
      {{"10.0.0.1", "--user-name", ""}, "user_name '': must be 1-64 printable"},
      {{"10.0.0.1", "--user-name", std::string(65, 'u')}, "must be 1-64 printable"},
      {{"10.0.0.1", "--user-name", "a\tb"}, "user_name 'a\\x09b'"},
      {{"10.0.0.1", "--apn", "a..b"}, "apn 'a..b': must be 1-63"},
      {{"10.0.0.1", "--apn", ".a"}, "must be 1-63"},
      {{"10.0.0.1", "--apn", "a_b"}, "must be 1-63"},
      {{"10.0.0.1", "--apn", std::string(64, 'a')}, "must be 1-63"},
      {{"10.0.0.1", "--cc-profile", "3"}, "cc_profile '3': must be one of the CC profiles"},
      {{"10.0.0.1", "--cc-profile", "0"}, "must be one of the CC profiles 1, 2, 4, 8"},
      {{"10.0.0.1", "--cc-profile", "65536"}, "must be one of the CC profiles"},
      {{"10.0.0.1", "--qci", "0"}, "qci '0': allowed 1-255"},
      {{"10.0.0.1", "--qci", "256"}, "allowed 1-255"},
      {{"10.0.0.1", "--qci", "x"}, "allowed 1-255"},
      {{"10.0.0.1", "--imsi"}, "--imsi needs a value"},
      {{"10.0.0.1", "--imsi", "001010000000001", "--imsi", "001010000000002"}, "given twice"},
      {{"10.0.0.1", "--foo", "1"}, "unknown option '--foo'"},
      {{"10.0.0.1", "--remove", "--imsi", "001010000000001"}, "--remove takes no"},
  };
  for (const Case& k : cases) {
    auto r = parseIdentityWords(k.words, c, plan);
    std::string what = k.words.empty() ? "(none)" : k.words[0];
    for (size_t i = 1; i < k.words.size(); ++i) what += " " + k.words[i];
    if (k.error == nullptr) {
      EXPECT_TRUE(r.ok()) << what << ": " << (r.ok() ? "" : r.error().message);
    } else {
      ASSERT_FALSE(r.ok()) << what;
      EXPECT_NE(r.error().message.find(k.error), std::string::npos)
          << what << ": " << r.error().message;
    }
  }
}

TEST(IdentityValidation, JsonLinesTable) {
  Config c = testing::testConfig();
  CountingPlan plan = CountingPlan::fromConfig(c);
  const std::pair<const char*, const char*> cases[] = {
      {R"({"address":"10.0.0.1","imsi":"001010000000001","msisdn":"491700000001"})", nullptr},
      {R"({"address":"10.0.0.1","cc_profile":2,"qci":7,"apn":"x","user_name":"u","imei":"35693803564380"})",
       nullptr},
      {R"({"address":"10.0.0.1","cc_profile":"2","qci":"7"})", nullptr},
      {R"({"address":"10.0.0.1","imsi":null,"msisdn":"1"})", nullptr},
      {R"({"address":"10.0.0.1","remove":true})", nullptr},
      {R"(not json)", "not a JSON object"},
      {R"(["10.0.0.1"])", "not a JSON object"},
      {R"({"imsi":"001010000000001"})", "no \"address\""},
      {R"({"address":1,"imsi":"001010000000001"})", "no \"address\""},
      {R"({"address":"10.1.2","imsi":"001010000000001"})", "not an IPv4 or IPv6 address"},
      {R"({"address":"172.16.0.1","imsi":"001010000000001"})", "not in any subscribers.pools"},
      {R"({"address":"10.0.0.1"})", "no identity given"},
      {R"({"address":"10.0.0.1","imsi":1010000000001})", "imsi: must be a string of digits"},
      {R"({"address":"10.0.0.1","imsi":"12345"})", "must be 6-15 digits"},
      {R"({"address":"10.0.0.1","msisdn":"12 34"})", "must be 1-15 digits"},
      {R"({"address":"10.0.0.1","imei":"1234567890123"})", "must be 14-16 digits"},
      {R"({"address":"10.0.0.1","user_name":"\u00e9"})", "user_name '\\xc3\\xa9'"},
      {R"({"address":"10.0.0.1","apn":"-.."})", "apn '-..'"},
      {R"({"address":"10.0.0.1","cc_profile":5})", "must be one of the CC profiles"},
      {R"({"address":"10.0.0.1","cc_profile":-1})", "cc_profile: must be an integer"},
      {R"({"address":"10.0.0.1","qci":1.5})", "qci: must be an integer"},
      {R"({"address":"10.0.0.1","qci":0})", "allowed 1-255"},
      {R"({"address":"10.0.0.1","imsi":"001010000000001","ismi":"1"})", "unknown key 'ismi'"},
      {R"({"address":"10.0.0.1","remove":"yes"})", "remove: must be true or false"},
      {R"({"address":"10.0.0.1","remove":true,"imsi":"001010000000001"})", "takes no identity"},
  };
  for (const auto& [line, error] : cases) {
    auto r = parseIdentityJson(line, c, plan);
    if (error == nullptr) {
      EXPECT_TRUE(r.ok()) << line << ": " << (r.ok() ? "" : r.error().message);
    } else {
      ASSERT_FALSE(r.ok()) << line;
      EXPECT_NE(r.error().message.find(error), std::string::npos) << line << ": "
                                                                   << r.error().message;
    }
  }
  // The stored form reads back as the same identity.
  auto r = parseIdentityJson(
      R"({"address":"2001:db8:0:1::9","imsi":"001010000000001","cc_profile":4,"qci":6})", c,
      plan);
  ASSERT_TRUE(r.ok());
  std::string line = identityJsonLine(r->key, r->identity);
  EXPECT_EQ(line, R"({"address":"2001:db8:0:1::","imsi":"001010000000001","cc_profile":4,"qci":6})");
  auto back = parseIdentityJson(line, c, plan);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->identity, r->identity);
}

// ---------------------------------------------------------------------------------------------
// Poller, biller, commands, store

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tally-identity-XXXXXX";
    dir_ = mkdtemp(tmpl);
    config_ = testing::testConfig();
    config_.local_bill.cfcard_path = dir_ + "/cf";
    config_.node.state_dir = dir_ + "/state";
    start();
  }
  void TearDown() override {
    stop();
    std::filesystem::remove_all(dir_);
  }
  // A daemon's worth: poller, biller, the store (its identities loaded), the commands.
  void start() {
    plan_ = CountingPlan::fromConfig(config_);
    worker_ = std::make_unique<testing::WorkerHarness>(plan_);
    poller_ = std::make_unique<Poller>(config_, plan_,
                                       std::vector<WorkerChannel>{worker_->channel()}, clock_);
    auto b = Biller::open(config_, clock_);
    ASSERT_TRUE(b.ok()) << b.error().message;
    biller_ = std::move(b.value());
    poller_->addObserver(biller_.get());
    IdentityStore::Loaded loaded;
    auto s = IdentityStore::open(config_.node.state_dir, config_, plan_, loaded);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s.value());
    for (const IdentityRequest& r : loaded.identities) {
      poller_->identify(r);
    }
    loaded_ = loaded.identities.size();
    commands_ = std::make_unique<CommandRegistry>();
    registerIdentityCommands(*commands_, poller_.get(), store_.get());
  }
  void stop() {
    if (poller_ == nullptr) {
      return;
    }
    EXPECT_TRUE(poller_->finalHarvest());
    biller_->shutdown();
    store_->close();
    commands_.reset();
    store_.reset();
    poller_.reset();
    biller_.reset();
  }
  void serve() {
    worker_->fp->handleCommands(*worker_->c2w);
    worker_->fp->publish();
  }
  Reply run(std::vector<std::string> words) { return commands_->dispatch(words); }
  std::vector<nlohmann::ordered_json> records() { return testing::decodedRecords(dir_ + "/cf"); }
  // The records of one subscriber.
  std::vector<nlohmann::ordered_json> recordsOf(const std::string& sub) {
    std::vector<nlohmann::ordered_json> out;
    for (auto& r : records()) {
      if (r["servedPDPPDNAddress"] == sub) {
        out.push_back(r);
      }
    }
    return out;
  }

  std::string dir_;
  Config config_;
  CountingPlan plan_;
  FakeClock clock_;
  std::unique_ptr<testing::WorkerHarness> worker_;
  std::unique_ptr<Poller> poller_;
  std::unique_ptr<Biller> biller_;
  std::unique_ptr<IdentityStore> store_;
  std::unique_ptr<CommandRegistry> commands_;
  size_t loaded_ = 0;
};

TEST_F(IdentityTest, AnIdentityWaitsForItsSession) {
  Reply r = run({"session", "identify", "10.0.0.1", "--imsi", "001010000000001", "--msisdn",
                 "491700000001", "--imei", "35693803564380", "--apn", "corp.example",
                 "--cc-profile", "2", "--qci", "7"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.text, "identity of 10.0.0.1 stored: waiting for its session\n");
  EXPECT_EQ(poller_->findSession(*parseIpAddress("10.0.0.1")), nullptr);
  worker_->send(testing::ipv4Frame("10.0.0.1", "8.8.8.8", 17, 9, 53, 72));  // 100 octets
  worker_->send(testing::ipv4Frame("10.0.0.2", "8.8.8.8", 17, 9, 53, 72));  // no identity
  poller_->poll();
  const Session* s = poller_->findSession(*parseIpAddress("10.0.0.1"));
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->identified);
  EXPECT_EQ(s->imsi, "001010000000001");
  EXPECT_EQ(s->cc_profile, 2);
  stop();
  auto recs = recordsOf("10.0.0.1");
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["servedIMSI"], "001010000000001");
  EXPECT_EQ(recs[0]["servedMSISDN"], "491700000001");
  EXPECT_EQ(recs[0]["servedIMEI"], "356938035643800");  // the spare digit 0 (TS 23.003)
  EXPECT_EQ(recs[0]["accessPointNameNI"], "corp.example");
  EXPECT_EQ(recs[0]["chargingCharacteristics"], "0200");
  EXPECT_EQ(recs[0]["listOfTrafficVolumes"][0]["ePCQoSInformation"]["qCI"], 7);
  auto other = recordsOf("10.0.0.2");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_FALSE(other[0].contains("servedIMSI"));  // billed under its address
  EXPECT_EQ(other[0]["accessPointNameNI"], "internet");
}

TEST_F(IdentityTest, AnIdentityAppliesToTheLiveSessionsOpenRecordFromThenOn) {
  config_.accounting.cc_profiles[3].volume.total = 100000;  // profile 8: partials
  stop();
  start();
  auto send = [&](int n) {
    for (int i = 0; i < n; ++i) {
      worker_->send(testing::ipv4Frame("10.0.0.5", "8.8.8.8", 6, 9, 80, 1400));  // 1440
    }
    serve();
    poller_->poll();
  };
  send(80);  // 115,200 octets: the first record closes (volumeLimit) without identity
  Reply r = run({"session", "identify", "10.0.0.5", "--imsi", "001010000000005", "--msisdn",
                 "491700000005", "--qci", "6"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_NE(r.text.find("applied to session 1 (its open records from now on)"), std::string::npos)
      << r.text;
  send(10);
  stop();
  auto recs = recordsOf("10.0.0.5");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_FALSE(recs[0].contains("servedIMSI"));  // closed before: unchanged
  EXPECT_EQ(recs[1]["servedIMSI"], "001010000000005");
  EXPECT_EQ(recs[1]["servedMSISDN"], "491700000005");
  // The QCI is a QoS change in the open record: its traffic container closes with qoSChange.
  ASSERT_GE(recs[1]["listOfTrafficVolumes"].size(), 2u);
  EXPECT_EQ(recs[1]["listOfTrafficVolumes"][0]["changeCondition"], "qoSChange (0)");
  EXPECT_EQ(recs[1]["listOfTrafficVolumes"][1]["ePCQoSInformation"]["qCI"], 6);
}

TEST_F(IdentityTest, StaticSubscribersAndRemovalAreRefusedOrDone) {
  config_.subscribers.statics.push_back(StaticSubscriber{*parseIpAddress("10.0.0.9"),
                                                         "001010000000009", "", "", 0, 1});
  stop();
  start();
  Reply r = run({"session", "identify", "10.0.0.9", "--imsi", "001010000000001"});
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.error.find("static subscriber"), std::string::npos) << r.error;
  r = run({"session", "identify", "10.0.0.3", "--remove"});
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no provisioned identity"), std::string::npos);
  ASSERT_TRUE(run({"session", "identify", "10.0.0.3", "--msisdn", "1"}).ok);
  EXPECT_EQ(poller_->identityCount(), 1u);
  r = run({"session", "identify", "10.0.0.3", "--remove"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(poller_->identityCount(), 0u);
}

TEST_F(IdentityTest, BatchAnswersEveryLineAndRefusesBadOnesWithoutChangingAnything) {
  Reply r = run({"session", "identify", "--batch",
                 R"({"address":"10.0.0.1","imsi":"001010000000001"})",
                 R"({"address":"10.0.0.2","imsi":"0010"})",
                 R"({"address":"10.0.0.3","msisdn":"491700000003","user_name":"x"})", "{"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.text,
            "{\"ok\":true,\"address\":\"10.0.0.1\",\"state\":\"waiting\"}\n"
            "{\"ok\":false,\"error\":\"imsi '0010': must be 6-15 digits (has 4)\"}\n"
            "{\"ok\":true,\"address\":\"10.0.0.3\",\"state\":\"waiting\"}\n"
            "{\"ok\":false,\"error\":\"not a JSON object\"}\n");
  EXPECT_EQ(poller_->identityCount(), 2u);
  EXPECT_EQ(poller_->identityOf(*parseIpAddress("10.0.0.2")), nullptr);
}

TEST_F(IdentityTest, IdentitiesSurviveARestart) {
  ASSERT_TRUE(run({"session", "identify", "10.0.0.1", "--imsi", "001010000000001"}).ok);
  ASSERT_TRUE(run({"session", "identify", "2001:db8:0:7::1", "--msisdn", "491700000007",
                   "--cc-profile", "4"}).ok);
  ASSERT_TRUE(run({"session", "identify", "10.0.0.2", "--imsi", "001010000000002"}).ok);
  ASSERT_TRUE(run({"session", "identify", "10.0.0.2", "--remove"}).ok);
  ASSERT_TRUE(store_->sync());
  EXPECT_EQ(store_->stats().stored, 2u);
  stop();
  start();
  EXPECT_EQ(loaded_, 2u);
  ASSERT_NE(poller_->identityOf(*parseIpAddress("10.0.0.1")), nullptr);
  EXPECT_EQ(poller_->identityOf(*parseIpAddress("10.0.0.1"))->imsi, "001010000000001");
  const SubscriberIdentity* v6 = poller_->identityOf(plan_.keyOf(*parseIpAddress("2001:db8:0:7::99")));
  ASSERT_NE(v6, nullptr);
  EXPECT_EQ(v6->msisdn, "491700000007");
  EXPECT_EQ(v6->cc_profile, 4);
  EXPECT_EQ(poller_->identityOf(*parseIpAddress("10.0.0.2")), nullptr);
  // After the restart the identity still reaches the records.
  worker_->send(testing::ipv4Frame("10.0.0.1", "8.8.8.8", 17, 9, 53, 72));
  poller_->poll();
  stop();
  auto recs = recordsOf("10.0.0.1");
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["servedIMSI"], "001010000000001");
}

TEST_F(IdentityTest, HoldKeepsSessionsWithoutIdentityUnattributedUntilOneArrives) {
  config_.subscribers.unknown_identity = SubscribersConfig::UnknownIdentity::kHold;
  stop();
  start();
  worker_->send(testing::ipv4Frame("10.0.0.4", "8.8.8.8", 17, 9, 53, 72));  // 100 octets
  serve();
  poller_->poll();
  const Session* s = poller_->findSession(*parseIpAddress("10.0.0.4"));
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(s->billed);
  EXPECT_EQ(s->reason, Unattributed::kNoIdentity);
  EXPECT_EQ(poller_->statistics().unattributed_octets[size_t(Unattributed::kNoIdentity)], 100u);
  Reply r = run({"session", "identify", "10.0.0.4", "--imsi", "001010000000004"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_NE(r.text.find("billed from now on"), std::string::npos) << r.text;
  worker_->send(testing::ipv4Frame("10.0.0.4", "8.8.8.8", 17, 9, 53, 172));  // 200 octets
  serve();
  poller_->poll();
  EXPECT_TRUE(poller_->findSession(*parseIpAddress("10.0.0.4"))->billed);
  stop();
  auto recs = recordsOf("10.0.0.4");
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["servedIMSI"], "001010000000004");
  EXPECT_EQ(recs[0]["listOfServiceData"][0]["datavolumeFBCUplink"], 200);  // from the identity on
}

}  // namespace
}  // namespace tally
