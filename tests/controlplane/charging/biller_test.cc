// The biller end to end without DPDK: a real FastPath counts frames, the poller attributes
// them, the charging engine closes records and the writer puts TS 32.297 files on a temporary
// CF card; the files are read back with the decoder. Checks the final cause of each way a
// session ends and that the records carry exactly the counted volume.
#include "controlplane/charging/biller.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "controlplane/cdr/cdr_decode.h"
#include "controlplane/charging/billing_commands.h"
#include "controlplane/control/commands.h"
#include "controlplane/identity/identity.h"
#include "tests/fakes/cdr_records.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/frames.h"
#include "tests/fakes/test_config.h"
#include "tests/fakes/worker_harness.h"

namespace tally {
namespace {

class BillerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tally-biller-XXXXXX";
    dir_ = mkdtemp(tmpl);
    config_ = testing::testConfig();
    config_.local_bill.cfcard_path = dir_ + "/cf";
    config_.node.state_dir = dir_ + "/state";
    build();
  }
  // The poller, the worker and the biller from config_ (again, after a test changed it).
  void build() {
    biller_.reset();
    poller_.reset();
    plan_ = CountingPlan::fromConfig(config_);
    worker_ = std::make_unique<testing::WorkerHarness>(plan_);
    poller_ = std::make_unique<Poller>(config_, plan_,
                                       std::vector<WorkerChannel>{worker_->channel()}, clock_);
    auto b = Biller::open(config_, clock_);
    ASSERT_TRUE(b.ok()) << b.error().message;
    biller_ = std::move(b.value());
    poller_->addObserver(biller_.get());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void serve() {
    worker_->fp->handleCommands(*worker_->c2w);
    worker_->fp->publish();
  }
  // Every record of every file, decoded.
  std::vector<nlohmann::ordered_json> records() { return testing::decodedRecords(dir_ + "/cf"); }

  std::string dir_;
  Config config_;
  CountingPlan plan_;
  FakeClock clock_;
  std::unique_ptr<testing::WorkerHarness> worker_;
  std::unique_ptr<Poller> poller_;
  std::unique_ptr<Biller> biller_;
};

TEST_F(BillerTest, EachWayASessionEndsGivesItsCause) {
  // 10.0.0.1 logs out, 10.0.0.2 idles out, 10.0.0.3 is cut by the operator, 10.0.0.4 is
  // still up when the daemon stops.
  for (int i = 1; i <= 4; ++i) {
    std::string a = "10.0.0." + std::to_string(i);
    worker_->send(testing::ipv4Frame(a.c_str(), "8.8.8.8", 17, 9, 53, size_t(72 * i)));
  }
  poller_->poll();
  ASSERT_TRUE(poller_->endSession(*parseIpAddress("10.0.0.1"), EndCause::kLogout));
  ASSERT_TRUE(poller_->endSession(*parseIpAddress("10.0.0.3"), EndCause::kManagement));
  clock_.advanceMs(200 * 1000);
  worker_->send(testing::ipv4Frame("10.0.0.4", "8.8.8.8", 17, 9, 53, 72));  // keeps .4 alive
  serve();
  poller_->poll();
  clock_.advanceMs(200 * 1000);  // .2 idle for 400 s > 300 s
  poller_->poll();
  serve();
  poller_->poll();
  ASSERT_TRUE(poller_->finalHarvest());
  biller_->shutdown();

  std::map<std::string, std::string> cause;
  std::map<std::string, uint64_t> octets;
  for (const auto& r : records()) {
    std::string sub = r["servedPDPPDNAddress"];
    cause[sub] = r["causeForRecClosing"];
    for (const auto& sc : r["listOfServiceData"]) {
      EXPECT_EQ(sc["ratingGroup"], 10);
      octets[sub] += sc["datavolumeFBCUplink"].get<uint64_t>();
    }
  }
  EXPECT_EQ(cause["10.0.0.1"], "normalRelease (0)");
  EXPECT_EQ(cause["10.0.0.2"], "abnormalRelease (4)");
  EXPECT_EQ(cause["10.0.0.3"], "managementIntervention (20)");
  EXPECT_EQ(cause["10.0.0.4"], "managementIntervention (20)");
  EXPECT_EQ(octets["10.0.0.1"], 100u);
  EXPECT_EQ(octets["10.0.0.2"], 172u);
  EXPECT_EQ(octets["10.0.0.4"], 316u + 100u);
  EXPECT_EQ(biller_->pool().information().emitted, 4u);
  EXPECT_EQ(records().size(), 4u);
  EXPECT_EQ(biller_->pool().size(), 0u);  // pool disabled: every bill went into a file
}

// chChSelectionMode: a CC profile supplied with the session by the control plane (`session
// identify --cc-profile`) is servingNodeSupplied; one from tally's configuration (a static
// subscriber's, or the default) homeDefault.
TEST_F(BillerTest, ChChSelectionModeSaysWhereTheCcProfileCameFrom) {
  StaticSubscriber with;
  with.address = *parseIpAddress("10.0.0.7");
  with.cc_profile = 2;
  config_.subscribers.statics = {with};
  build();
  IdentityRequest supplied;  // before its first packet
  supplied.key = *parseIpAddress("10.0.0.5");
  supplied.identity.imsi = "001010123456789";
  supplied.identity.cc_profile = 2;
  poller_->identify(supplied);
  IdentityRequest no_profile;  // an identity without a CC profile: the default applies
  no_profile.key = *parseIpAddress("10.0.0.6");
  no_profile.identity.imsi = "001010123456780";
  poller_->identify(no_profile);
  for (const char* a : {"10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.9"}) {
    worker_->send(testing::ipv4Frame(a, "8.8.8.8", 17, 9, 53, 100));
  }
  serve();
  poller_->poll();
  ASSERT_TRUE(poller_->finalHarvest());
  biller_->shutdown();
  std::map<std::string, std::string> mode, cc;
  for (const auto& r : records()) {
    mode[r["servedPDPPDNAddress"]] = r["chChSelectionMode"];
    cc[r["servedPDPPDNAddress"]] = r["chargingCharacteristics"];
  }
  ASSERT_EQ(mode.size(), 4u);
  EXPECT_NE(mode["10.0.0.5"].find("servingNodeSupplied"), std::string::npos) << mode["10.0.0.5"];
  EXPECT_EQ(cc["10.0.0.5"], "0200");
  for (const char* a : {"10.0.0.6", "10.0.0.7", "10.0.0.9"}) {
    EXPECT_NE(mode[a].find("homeDefault"), std::string::npos) << a << ": " << mode[a];
  }
  EXPECT_EQ(cc["10.0.0.7"], "0200");
}

TEST_F(BillerTest, VolumeLimitGivesPartialRecordsThatAddUp) {
  config_.accounting.cc_profiles[3].volume.total = 100000;  // profile 8
  poller_ = std::make_unique<Poller>(config_, plan_,
                                     std::vector<WorkerChannel>{worker_->channel()}, clock_);
  biller_.reset();  // one daemon per state directory and CF card: the first lets go
  auto b = Biller::open(config_, clock_);
  ASSERT_TRUE(b.ok()) << b.error().message;
  biller_ = std::move(b.value());
  poller_->addObserver(biller_.get());
  uint64_t sent = 0;
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 30; ++i) {
      worker_->send(testing::ipv4Frame("10.0.0.9", "8.8.8.8", 6, 9, 80, 1400));  // 1440 octets
      sent += 1440;
    }
    clock_.advanceMs(100);
    poller_->poll();
  }
  ASSERT_TRUE(poller_->finalHarvest());
  biller_->shutdown();
  auto recs = records();
  ASSERT_GE(recs.size(), 4u);  // 432000 octets: at least 4 records of >= 100000
  uint64_t total = 0;
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i]["recordSequenceNumber"], i + 1);
    EXPECT_EQ(recs[i]["causeForRecClosing"],
              i + 1 < recs.size() ? "volumeLimit (16)" : "managementIntervention (20)");
    for (const auto& sc : recs[i]["listOfServiceData"]) {
      total += sc["datavolumeFBCUplink"].get<uint64_t>();
    }
  }
  EXPECT_EQ(total, sent);
}

// QoS end to end: the first traffic container carries the profile's QCI 9 and ARP (aRP 100);
// `session qos-change` to the same QCI is ignored and counted, in `display statistics`.
TEST_F(BillerTest, QosChangesReachTheRecordsAndTheStatistics) {
  CommandRegistry registry;
  registerSessionCommands(registry, poller_.get());
  registerBillingCommands(registry, config_.accounting, biller_.get());
  worker_->send(testing::ipv4Frame("10.0.0.7", "8.8.8.8", 17, 9, 53, 100));
  poller_->poll();  // the session's first usage: its record opens
  ASSERT_TRUE(biller_->engine().has(poller_->findSession(*parseIpAddress("10.0.0.7"))->id));
  auto same = registry.dispatch({"session", "qos-change", "10.0.0.7", "9"});
  ASSERT_TRUE(same.ok) << same.error;
  // The answer says it was ignored and why (it said "QoS of 10.0.0.7 is now QCI 9").
  EXPECT_EQ(same.text,
            "QoS change of 10.0.0.7 ignored: its records already carry QCI 9 (same QCI and ARP: "
            "no change of charging condition, no container closed; counted in display "
            "statistics)\n");
  auto changed = registry.dispatch({"session", "qos-change", "10.0.0.7", "5"});
  ASSERT_TRUE(changed.ok) << changed.error;
  EXPECT_EQ(changed.text, "QoS of 10.0.0.7 is now QCI 5\n");
  auto again = registry.dispatch({"session", "qos-change", "10.0.0.7", "5"});
  EXPECT_NE(again.text.find("ignored: its records already carry QCI 5"), std::string::npos)
      << again.text;

  auto text = registry.dispatch({"display", "statistics"});
  ASSERT_TRUE(text.ok) << text.error;
  EXPECT_NE(text.text.find("QoS changes: 1 applied, 2 ignored (same QCI and ARP)\n"),
            std::string::npos)
      << text.text;
  auto json = registry.dispatch({"display", "statistics", "--json"});
  ASSERT_TRUE(json.ok) << json.error;
  auto j = nlohmann::json::parse(json.text);
  EXPECT_EQ(j["qos_changes"], 1);
  EXPECT_EQ(j["qos_changes_ignored"], 2);
  // The open CDR's QoS and (no GTP-U, no access node) no serving node.
  auto session = registry.dispatch({"display", "session", "10.0.0.7"});
  ASSERT_TRUE(session.ok) << session.error;
  EXPECT_NE(session.text.find("  Serving nodes         : none\n"), std::string::npos)
      << session.text;
  EXPECT_NE(session.text.find("  QoS of the open CDR   : QCI 5, aRP 100\n"), std::string::npos)
      << session.text;

  ASSERT_TRUE(poller_->finalHarvest());
  biller_->shutdown();
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  const auto& tv = recs[0]["listOfTrafficVolumes"];
  ASSERT_EQ(tv.size(), 2u) << recs[0].dump();
  EXPECT_EQ(tv[0]["changeCondition"], "qoSChange (0)");
  EXPECT_EQ(tv[0]["ePCQoSInformation"], (nlohmann::ordered_json{{"qCI", 9}, {"aRP", 100}}));
  EXPECT_EQ(tv[1]["changeCondition"], "recordClosure (2)");
  EXPECT_EQ(tv[1]["ePCQoSInformation"], (nlohmann::ordered_json{{"qCI", 5}, {"aRP", 100}}));
}

// End to end through the poller: traffic without GTP-U is served by node.access_node_address
// (tWAN), a handover closes the service container (sGSNChange) and the usage after it is under
// the new node; the idle timeout's abnormalRelease carries diagnostics; node.plmn_id and
// node.rat_type in the record.
TEST_F(BillerTest, AccessNodeHandoverAndTheConfiguredFields) {
  config_.node.access_node_address = *parseIpAddress("192.0.2.50");
  config_.node.access_node_type = 6;  // tWAN
  config_.node.plmn_id = "26201";
  config_.node.rat_type = 3;  // WLAN
  poller_ = std::make_unique<Poller>(config_, plan_,
                                     std::vector<WorkerChannel>{worker_->channel()}, clock_);
  biller_.reset();
  auto b = Biller::open(config_, clock_);
  ASSERT_TRUE(b.ok()) << b.error().message;
  biller_ = std::move(b.value());
  poller_->addObserver(biller_.get());
  worker_->send(testing::ipv4Frame("10.0.0.5", "8.8.8.8", 17, 9, 53, 100));
  poller_->poll();
  ASSERT_TRUE(poller_->servingNodeChange(*parseIpAddress("10.0.0.5"),
                                         *parseIpAddress("192.0.2.60")));
  clock_.advanceMs(1000);
  serve();
  worker_->send(testing::ipv4Frame("10.0.0.5", "8.8.8.8", 17, 9, 53, 200));
  poller_->poll();
  clock_.advanceMs(400 * 1000);  // idle timeout (300 s): abnormalRelease
  poller_->poll();
  serve();
  poller_->poll();
  ASSERT_TRUE(poller_->finalHarvest());
  biller_->shutdown();
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  const auto& r = recs[0];
  EXPECT_EQ(r["servingNodeAddress"], (nlohmann::ordered_json{"192.0.2.50", "192.0.2.60"}));
  EXPECT_EQ(r["servingNodeType"], (nlohmann::ordered_json{"tWAN (6)", "gTPSGW (2)"}));
  const auto& sd = r["listOfServiceData"];
  ASSERT_EQ(sd.size(), 2u) << r.dump();
  EXPECT_EQ(sd[0]["servingNodeAddress"], "192.0.2.50");
  EXPECT_EQ(sd[0]["serviceConditionChange"], (nlohmann::ordered_json{"sGSNChange"}));
  EXPECT_EQ(sd[1]["servingNodeAddress"], "192.0.2.60");
  EXPECT_EQ(sd[1]["serviceConditionChange"], (nlohmann::ordered_json{"recordClosure"}));
  EXPECT_EQ(r["causeForRecClosing"], "abnormalRelease (4)");
  EXPECT_EQ(r["diagnostics"], (nlohmann::ordered_json{{"gsm0408Cause", 38}}));
  EXPECT_EQ(r["p-GWPLMNIdentifier"], "262-01");
  EXPECT_EQ(r["servingNodePLMNIdentifier"], "262-01");
  EXPECT_EQ(r["pDNConnectionChargingID"], r["chargingID"]);
  EXPECT_EQ(r["rATType"], "WLAN (3)") << r.dump();
  EXPECT_EQ(r["apnSelectionMode"], "networkProvidedSubscriptionNotVerified (2)");
  EXPECT_EQ(r["chChSelectionMode"], "homeDefault (3)");
}

// A QCI the operator set before the session's first usage (the poller keeps it in the session)
// is the one its records start with; without one, the profile's.
TEST_F(BillerTest, QciSetBeforeTheFirstUsageStartsTheRecords) {
  config_.accounting.cc_profiles[3].arp = ArpConfig{3, true, true};  // profile 8
  poller_ = std::make_unique<Poller>(config_, plan_,
                                     std::vector<WorkerChannel>{worker_->channel()}, clock_);
  biller_.reset();  // one daemon per state directory and CF card: the first lets go
  auto b = Biller::open(config_, clock_);
  ASSERT_TRUE(b.ok()) << b.error().message;
  biller_ = std::move(b.value());
  Session with;
  with.id = 41;
  with.key = *parseIpAddress("10.0.0.41");
  with.qci = 7;
  Session without;
  without.id = 42;
  without.key = *parseIpAddress("10.0.0.42");
  const int64_t t = 1768478400LL * 1000000000LL;
  biller_->onOpen(with, t);
  biller_->onOpen(without, t);
  biller_->onEnd(with, EndCause::kLogout, t + 1000000000LL);
  biller_->onEnd(without, EndCause::kLogout, t + 1000000000LL);
  biller_->shutdown();
  std::map<std::string, nlohmann::ordered_json> qos;
  for (const auto& r : records()) {
    qos[r["servedPDPPDNAddress"]] = r["listOfTrafficVolumes"][0]["ePCQoSInformation"];
  }
  ASSERT_EQ(qos.size(), 2u);
  EXPECT_EQ(qos["10.0.0.41"], (nlohmann::ordered_json{{"qCI", 7}, {"aRP", 12}}));
  EXPECT_EQ(qos["10.0.0.42"], (nlohmann::ordered_json{{"qCI", 9}, {"aRP", 12}}));
}

// The sequence state file lives in node.state_dir, never in the CF card directory; a state
// file an older release left on the card is taken over.
TEST_F(BillerTest, StateFilesLiveInTheStateDirectory) {
  biller_->shutdown();
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/state/.tally-sequence"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/cf/.tally-sequence"));
  biller_.reset();
  // Upgrade: the old file on the card (ceilings far above) is moved over and used.
  std::filesystem::rename(dir_ + "/state/.tally-sequence", dir_ + "/cf/.tally-sequence");
  Config moved = config_;
  moved.node.state_dir = dir_ + "/state2";
  auto b = Biller::open(moved, clock_);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/state2/.tally-sequence"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/cf/.tally-sequence"));
  b.value().reset();
  // Refused: no state directory, or the CF card directory itself.
  Config none = config_;
  none.node.state_dir = "";
  auto e = Biller::open(none, clock_);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "node.state_dir is empty");
  Config same = config_;
  same.node.state_dir = dir_ + "/cf/";
  e = Biller::open(same, clock_);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("is the CF card directory"), std::string::npos)
      << e.error().message;
}

}  // namespace
}  // namespace tally
