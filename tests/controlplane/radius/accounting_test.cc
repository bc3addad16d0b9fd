// RADIUS accounting of sessions (controlplane/radius/accounting.h) with a fake client: what is
// sent for each session event, and what each unanswered request leads to (semantics.md §4).
// The requests are checked as decoded attributes of the bytes the codec builds from them.
#include "controlplane/radius/accounting.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "controlplane/radius/radius_commands.h"
#include "tests/fakes/fake_accounting_client.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/test_config.h"

namespace tally::radius {
namespace {

using testing::FakeAccountingClient;
using testing::testConfig;

constexpr int64_t kS = 1000000000;

Config radiusConfig(RadiusFailAction start_fail, InterimFailConfig interim_fail,
                    uint32_t interim_s = 600) {
  Config c = testConfig();
  c.node.id = "gw01";
  c.accounting.start_fail = start_fail;
  c.accounting.interim_fail = interim_fail;
  RadiusConfig r;
  r.servers = {RadiusServerConfig{*parseIpAddress("127.0.0.1"), 1813, "secret"}};
  r.timeout_ms = 1000;
  r.retries = 2;
  r.interim_interval_s = interim_s;
  r.hold_down_ms = 5000;
  c.accounting.radius = r;
  return c;
}

struct Harness {
  explicit Harness(Config c, uint32_t boot = 7) : config(std::move(c)) {
    auto f = std::make_unique<FakeAccountingClient>();
    client = f.get();
    AccountingHooks hooks;
    hooks.local_bill = [this](bill::LocalBill b) { bills.push_back(std::move(b)); };
    hooks.refuse = [this](const IpAddress& k) {
      refused.push_back(k);
      return refuse_ok;
    };
    hooks.admit = [this](const IpAddress& k) {
      admitted.push_back(k);
      return true;
    };
    hooks.end_session = [this](const IpAddress& k) {
      ended.push_back(k);
      return true;
    };
    acct = std::make_unique<RadiusAccounting>(config, clock, std::move(hooks), std::move(f), boot);
  }
  Session session(uint64_t id, const char* address) {
    Session s;
    s.id = id;
    s.key = *parseIpAddress(address);
    if (s.key.family == 6) {
      s.key.v6.lo = 0;  // the /64 key
    }
    s.start_wall_ns = clock.wallNs();
    s.msisdn = "491701234567";
    s.imsi = "262011234567890";
    s.cc_profile = 8;
    return s;
  }
  // Decoded attributes of request i.
  Packet packet(size_t i) {
    const Request& r = client->requests().at(i).request;
    auto bytes = encodeAccountingRequest(1, r.attributes, "s");
    EXPECT_TRUE(bytes.ok());
    auto parsed = parsePacket(*bytes);
    EXPECT_TRUE(std::holds_alternative<ParsedPacket>(parsed));
    return std::get<ParsedPacket>(parsed).packet;
  }
  uint32_t integer(const Packet& p, uint8_t type) {
    const Attribute* a = p.find(type);
    EXPECT_NE(a, nullptr) << int(type);
    return a ? asInteger(*a).value_or(0xdeadbeef) : 0xdeadbeef;
  }
  std::string text(const Packet& p, uint8_t type) {
    const Attribute* a = p.find(type);
    return a ? asText(*a).value_or("?") : "";
  }
  void tick() { acct->onTick(clock.wallNs()); }

  Config config;
  FakeClock clock;
  FakeAccountingClient* client = nullptr;
  std::unique_ptr<RadiusAccounting> acct;
  std::vector<bill::LocalBill> bills;
  std::vector<IpAddress> refused, admitted, ended;
  bool refuse_ok = true;
};

FlowCounters usage(uint64_t ul_o, uint64_t ul_p, uint64_t dl_o, uint64_t dl_p) {
  return FlowCounters{ul_o, ul_p, dl_o, dl_p};
}

TEST(AccountingTest, StartInterimStopCarryTheCountedUsage) {
  Harness h(radiusConfig(RadiusFailAction::kOffline, {3, RadiusFailAction::kOnline}, 60));
  Session s = h.session(42, "10.0.1.2");
  h.acct->onOpen(s, h.clock.wallNs());
  h.acct->onUsage(s, 1, usage(1000, 10, 2000, 20), h.clock.wallNs());
  h.tick();
  ASSERT_EQ(h.client->requests().size(), 1u);
  Packet start = h.packet(0);
  EXPECT_EQ(h.integer(start, attr::kAcctStatusType), uint32_t(AcctStatusType::kStart));
  EXPECT_EQ(h.text(start, attr::kAcctSessionId), "gw01-00000007-00000000002a");
  EXPECT_EQ(h.text(start, attr::kUserName), "491701234567");
  EXPECT_EQ(h.text(start, attr::kCallingStationId), "491701234567");
  EXPECT_EQ(h.text(start, attr::kNasIdentifier), "gw01");
  EXPECT_EQ(asIpv4(*start.find(attr::kFramedIpAddress)), parseIpAddress("10.0.1.2")->v4);
  EXPECT_EQ(asIpv4(*start.find(attr::kNasIpAddress)), parseIpAddress("192.0.2.1")->v4);
  EXPECT_EQ(h.integer(start, attr::kEventTimestamp), uint32_t(h.clock.wallNs() / kS));
  EXPECT_EQ(start.find(attr::kAcctInputOctets), nullptr);  // a Start carries no usage
  auto imsi = start.findVendor(kVendor3gpp, attr3gpp::kImsi);
  ASSERT_TRUE(imsi);
  EXPECT_EQ(std::string(imsi->value.begin(), imsi->value.end()), "262011234567890");
  auto cc = start.findVendor(kVendor3gpp, attr3gpp::kChargingCharacteristics);
  ASSERT_TRUE(cc);
  EXPECT_EQ(std::string(cc->value.begin(), cc->value.end()), "0800");
  h.client->complete(0, Outcome::kAnswered);

  // The first interim comes between half an interval and a whole one after the Start.
  h.clock.advanceMs(29000);
  h.tick();
  EXPECT_EQ(h.client->count(AcctStatusType::kInterimUpdate), 0u);
  // Over 4 GiB uplink: Gigawords.
  h.acct->onUsage(s, 10, usage(5ull << 32, 3000000, 7, 1), h.clock.wallNs());
  h.clock.advanceMs(31000);
  h.tick();
  ASSERT_EQ(h.client->count(AcctStatusType::kInterimUpdate), 1u);
  Packet interim = h.packet(1);
  EXPECT_EQ(h.integer(interim, attr::kAcctStatusType), uint32_t(AcctStatusType::kInterimUpdate));
  EXPECT_EQ(joinOctets(h.integer(interim, attr::kAcctInputOctets),
                       h.integer(interim, attr::kAcctInputGigawords)),
            (5ull << 32) + 1000);
  EXPECT_EQ(h.integer(interim, attr::kAcctOutputOctets), 2007u);
  EXPECT_EQ(interim.find(attr::kAcctOutputGigawords), nullptr);
  EXPECT_EQ(h.integer(interim, attr::kAcctInputPackets), 3000010u);
  EXPECT_EQ(h.integer(interim, attr::kAcctOutputPackets), 21u);
  EXPECT_EQ(h.integer(interim, attr::kAcctSessionTime), 60u);
  EXPECT_EQ(h.text(interim, attr::kAcctSessionId), h.text(start, attr::kAcctSessionId));
  h.client->complete(1, Outcome::kAnswered);
  // The next one an interval later.
  h.clock.advanceMs(59000);
  h.tick();
  EXPECT_EQ(h.client->count(AcctStatusType::kInterimUpdate), 1u);
  h.clock.advanceMs(1000);
  h.tick();
  EXPECT_EQ(h.client->count(AcctStatusType::kInterimUpdate), 2u);

  h.acct->onUsage(s, 1, usage(1, 1, 1, 1), h.clock.wallNs());
  h.acct->onEnd(s, EndCause::kIdleTimeout, h.clock.wallNs());
  int stop_i = h.client->last(42, AcctStatusType::kStop);
  ASSERT_GE(stop_i, 0);
  Packet stop = h.packet(size_t(stop_i));
  EXPECT_EQ(joinOctets(h.integer(stop, attr::kAcctInputOctets),
                       h.integer(stop, attr::kAcctInputGigawords)),
            (5ull << 32) + 1001);
  EXPECT_EQ(h.integer(stop, attr::kAcctOutputOctets), 2008u);
  EXPECT_EQ(h.integer(stop, attr::kAcctTerminateCause), uint32_t(AcctTerminateCause::kIdleTimeout));
  EXPECT_EQ(h.integer(stop, attr::kAcctSessionTime), 120u);
  // No Interim-Update after the Stop.
  h.clock.advanceMs(600000);
  h.tick();
  EXPECT_EQ(h.client->count(AcctStatusType::kInterimUpdate), 2u);
  h.client->completeAll(Outcome::kAnswered);
  h.tick();
  EXPECT_TRUE(h.bills.empty());
  EXPECT_EQ(h.acct->stats().stops_in_flight, 0u);
}

// Starts are built by onTick (a bounded amount per poll); a session that ends before its
// Start went out gets its Start, then its Stop.
TEST(AccountingTest, StartsGoOutAtTheTickAndBeforeAnEarlyStop) {
  Harness h(radiusConfig(RadiusFailAction::kOffline, {}));
  Session a = h.session(40, "10.0.0.40");
  Session b = h.session(41, "10.0.0.41");
  h.acct->onOpen(a, 0);
  h.acct->onOpen(b, 0);
  EXPECT_EQ(h.client->requests().size(), 0u);
  EXPECT_EQ(h.acct->stats().starts_waiting, 2u);
  h.acct->onEnd(b, EndCause::kLogout, 0);
  ASSERT_EQ(h.client->requests().size(), 2u);
  EXPECT_EQ(h.client->requests()[0].request.type, AcctStatusType::kStart);
  EXPECT_EQ(h.client->requests()[0].request.session, 41u);
  EXPECT_EQ(h.client->requests()[1].request.type, AcctStatusType::kStop);
  h.tick();
  ASSERT_EQ(h.client->requests().size(), 3u);
  EXPECT_EQ(h.client->requests()[2].request.session, 40u);
  EXPECT_EQ(h.client->count(AcctStatusType::kStart), 2u);  // b's Start not twice
  EXPECT_EQ(h.acct->stats().starts_waiting, 0u);
}

// An identity provisioned before the Start went out is in it; one after it is not (the
// session keeps what its Start said).
TEST(AccountingTest, AnIdentityBeforeTheStartIsSentAfterItIsNot) {
  Harness h(radiusConfig(RadiusFailAction::kOffline, {}));
  Session s = h.session(50, "10.0.0.50");
  s.msisdn.clear();
  s.imsi.clear();
  h.acct->onOpen(s, 0);
  s.msisdn = "4915112345678";
  h.acct->onIdentity(s, 0, 0);
  h.tick();
  EXPECT_EQ(h.text(h.packet(0), attr::kUserName), "4915112345678");
  EXPECT_EQ(h.text(h.packet(0), attr::kCallingStationId), "4915112345678");
  s.msisdn = "4915199999999";
  h.acct->onIdentity(s, 0, 0);
  h.acct->onEnd(s, EndCause::kLogout, 0);
  EXPECT_EQ(h.text(h.packet(1), attr::kUserName), "4915112345678");
}

TEST(AccountingTest, IdsDifferAcrossBootsAndSessions) {
  Harness a(radiusConfig(RadiusFailAction::kOffline, {}), 1);
  Harness b(radiusConfig(RadiusFailAction::kOffline, {}), 2);
  Session s1 = a.session(1, "10.0.0.1");
  a.acct->onOpen(s1, 0);
  b.acct->onOpen(s1, 0);
  Session s2 = a.session(2, "10.0.0.1");
  a.acct->onOpen(s2, 0);
  a.tick();
  b.tick();
  EXPECT_NE(a.text(a.packet(0), attr::kAcctSessionId), b.text(b.packet(0), attr::kAcctSessionId));
  EXPECT_NE(a.text(a.packet(0), attr::kAcctSessionId), a.text(a.packet(1), attr::kAcctSessionId));
}

TEST(AccountingTest, Ipv6SubscriberSendsFramedIpv6Prefix) {
  Harness h(radiusConfig(RadiusFailAction::kOffline, {}));
  Session s = h.session(3, "2001:db8:0:5::");
  h.acct->onOpen(s, 0);
  h.tick();
  Packet p = h.packet(0);
  EXPECT_EQ(p.find(attr::kFramedIpAddress), nullptr);
  auto prefix = asIpv6Prefix(*p.find(attr::kFramedIpv6Prefix));
  ASSERT_TRUE(prefix);
  EXPECT_EQ(prefix->len, 64);
  EXPECT_EQ(formatPrefix(*prefix), "2001:db8:0:5::/64");
}

TEST(AccountingTest, UnansweredStopWritesExactlyOneLocalBill) {
  Harness h(radiusConfig(RadiusFailAction::kOffline, {}));
  Session s = h.session(5, "10.0.0.5");
  h.acct->onOpen(s, 0);
  h.acct->onUsage(s, 1, usage(123, 3, 456, 4), 0);
  h.tick();
  h.client->complete(0, Outcome::kAnswered);
  h.clock.advanceMs(10000);
  h.acct->onEnd(s, EndCause::kLogout, h.clock.wallNs());
  h.tick();
  EXPECT_TRUE(h.bills.empty());
  h.client->complete(size_t(h.client->last(5, AcctStatusType::kStop)), Outcome::kNoAnswer);
  h.tick();
  ASSERT_EQ(h.bills.size(), 1u);
  const bill::LocalBill& b = h.bills[0];
  EXPECT_EQ(b.reason, bill::LocalBillReason::kStopUnanswered);
  EXPECT_EQ(b.acct_session_id, "gw01-00000007-000000000005");
  EXPECT_EQ(b.ul_octets, 123u);
  EXPECT_EQ(b.ul_packets, 3u);
  EXPECT_EQ(b.dl_octets, 456u);
  EXPECT_EQ(b.dl_packets, 4u);
  EXPECT_EQ(b.session_time_s, 10u);
  EXPECT_EQ(b.terminate_cause, uint32_t(AcctTerminateCause::kUserRequest));
  EXPECT_EQ(formatIp(b.ip), "10.0.0.5");
  EXPECT_EQ(b.nas_identifier, "gw01");
  // Nothing more happens for it, whatever comes later.
  h.tick();
  h.acct->drain(0);
  EXPECT_EQ(h.bills.size(), 1u);
  EXPECT_EQ(h.acct->stats().local_bills[size_t(bill::LocalBillReason::kStopUnanswered)], 1u);
}

TEST(AccountingTest, StopNotSentWhenNoServerIsLive) {
  Harness h(radiusConfig(RadiusFailAction::kOnline, {}));
  Session s = h.session(6, "10.0.0.6");
  h.acct->onOpen(s, 0);
  h.tick();
  h.client->complete(0, Outcome::kAnswered);
  h.acct->onEnd(s, EndCause::kManagement, 0);
  h.client->complete(1, Outcome::kNoServer);
  h.tick();
  ASSERT_EQ(h.bills.size(), 1u);
  EXPECT_EQ(h.bills[0].reason, bill::LocalBillReason::kNotSent);
  EXPECT_EQ(h.bills[0].terminate_cause, uint32_t(AcctTerminateCause::kAdminReset));
}

TEST(AccountingTest, StartFailOfflineRefusesAndBillsTheUsageBeforeTheRefusal) {
  Harness h(radiusConfig(RadiusFailAction::kOffline, {}, 60));
  Session s = h.session(8, "10.0.0.8");
  h.acct->onOpen(s, 0);
  h.acct->onUsage(s, 1, usage(100, 1, 200, 2), 0);
  h.tick();
  h.client->complete(0, Outcome::kNoAnswer);
  h.tick();
  EXPECT_TRUE(h.refused.empty());  // acted on after the poll, not inside it
  h.acct->applyActions();
  ASSERT_EQ(h.refused.size(), 1u);
  EXPECT_EQ(formatIp(h.refused[0]), "10.0.0.8");
  // The poller ends the session (EndCause::kRadius) once the workers hand its counts over.
  h.acct->onUsage(s, 1, usage(10, 1, 0, 0), 0);
  h.acct->onEnd(s, EndCause::kRadius, h.clock.wallNs());
  EXPECT_EQ(h.client->count(AcctStatusType::kStop), 0u);  // no RADIUS Stop for it
  ASSERT_EQ(h.bills.size(), 1u);
  EXPECT_EQ(h.bills[0].reason, bill::LocalBillReason::kStartUnansweredOffline);
  EXPECT_EQ(h.bills[0].ul_octets, 110u);
  EXPECT_EQ(h.bills[0].dl_octets, 200u);
  EXPECT_EQ(h.acct->stats().refused_now, 1u);
  // No interim for it either.
  h.clock.advanceMs(120000);
  h.tick();
  EXPECT_EQ(h.client->count(AcctStatusType::kInterimUpdate), 0u);
}

TEST(AccountingTest, RefusalIsLiftedAfterTheHoldDownOnceAServerAnswersAgain) {
  Harness h(radiusConfig(RadiusFailAction::kOffline, {}));
  h.client->mutableStats().servers.resize(1);
  ServerStats& srv = h.client->mutableStats().servers[0];
  srv.state = ServerState::kDead;
  Session s = h.session(9, "10.0.0.9");
  h.acct->onOpen(s, 0);
  h.tick();
  h.client->complete(0, Outcome::kNoAnswer);
  h.tick();
  h.acct->applyActions();
  ASSERT_EQ(h.refused.size(), 1u);
  h.clock.advanceMs(10000);  // past the hold-down, but the server is still dead
  h.tick();
  h.acct->applyActions();
  EXPECT_TRUE(h.admitted.empty());
  srv.state = ServerState::kAlive;
  srv.probes_answered = 1;
  h.tick();
  h.acct->applyActions();
  ASSERT_EQ(h.admitted.size(), 1u);
  EXPECT_EQ(formatIp(h.admitted[0]), "10.0.0.9");
  EXPECT_EQ(h.acct->stats().refused_now, 0u);
}

TEST(AccountingTest, RefusalBeforeTheHoldDownIsKept) {
  Harness h(radiusConfig(RadiusFailAction::kOffline, {}));
  h.client->mutableStats().servers.resize(1);
  Session s = h.session(10, "10.0.0.10");
  h.acct->onOpen(s, 0);
  h.tick();
  h.client->complete(0, Outcome::kNoAnswer);
  h.tick();
  h.acct->applyActions();
  h.client->mutableStats().servers[0].responses = 5;  // answers others at once
  h.clock.advanceMs(4000);
  h.tick();
  h.acct->applyActions();
  EXPECT_TRUE(h.admitted.empty());
  h.clock.advanceMs(1000);
  h.tick();
  h.acct->applyActions();
  EXPECT_EQ(h.admitted.size(), 1u);
}

TEST(AccountingTest, StartFailOnlineKeepsTheSessionAndBillsItLocallyAtItsEnd) {
  Harness h(radiusConfig(RadiusFailAction::kOnline, {}, 60));
  Session s = h.session(11, "10.0.0.11");
  h.acct->onOpen(s, 0);
  h.tick();
  h.client->complete(0, Outcome::kNoAnswer);
  h.tick();
  h.acct->applyActions();
  EXPECT_TRUE(h.refused.empty());
  h.acct->onUsage(s, 1, usage(7, 1, 9, 1), 0);
  h.clock.advanceMs(300000);
  h.tick();
  EXPECT_EQ(h.client->count(AcctStatusType::kInterimUpdate), 0u);  // it fell back: no RADIUS
  h.acct->onEnd(s, EndCause::kIdleTimeout, h.clock.wallNs());
  EXPECT_EQ(h.client->count(AcctStatusType::kStop), 0u);
  ASSERT_EQ(h.bills.size(), 1u);
  EXPECT_EQ(h.bills[0].reason, bill::LocalBillReason::kStartUnansweredOnline);
  EXPECT_EQ(h.bills[0].ul_octets + h.bills[0].dl_octets, 16u);
}

TEST(AccountingTest, StartAnsweredLateAfterTheStopChangesNothing) {
  Harness h(radiusConfig(RadiusFailAction::kOffline, {}));
  Session s = h.session(12, "10.0.0.12");
  h.acct->onOpen(s, 0);
  h.tick();
  h.acct->onEnd(s, EndCause::kLogout, 0);
  h.client->complete(0, Outcome::kNoAnswer);  // the Start fails after the session ended
  h.tick();
  h.acct->applyActions();
  EXPECT_TRUE(h.refused.empty());
  h.client->complete(1, Outcome::kAnswered);  // its Stop is answered: no local bill
  h.tick();
  EXPECT_TRUE(h.bills.empty());
}

TEST(AccountingTest, InterimFailOfflineEndsTheSessionAfterMaxTimes) {
  Harness h(radiusConfig(RadiusFailAction::kOffline, {2, RadiusFailAction::kOffline}, 60));
  Session s = h.session(13, "10.0.0.13");
  h.acct->onOpen(s, 0);
  h.tick();
  h.client->complete(0, Outcome::kAnswered);
  h.acct->onUsage(s, 1, usage(50, 5, 60, 6), 0);
  // interim 1 unanswered, interim 2 answered (resets), then 3 and 4 unanswered.
  const Outcome outcomes[] = {Outcome::kNoAnswer, Outcome::kAnswered, Outcome::kNoAnswer,
                              Outcome::kNoAnswer};
  for (Outcome o : outcomes) {
    h.clock.advanceMs(60000);
    h.tick();
    int i = h.client->last(13, AcctStatusType::kInterimUpdate);
    ASSERT_GE(i, 0);
    h.client->complete(size_t(i), o);
    h.tick();
    h.acct->applyActions();
    if (o == Outcome::kAnswered) {
      EXPECT_TRUE(h.ended.empty());
    }
  }
  ASSERT_EQ(h.ended.size(), 1u);
  EXPECT_EQ(formatIp(h.ended[0]), "10.0.0.13");
  h.acct->onEnd(s, EndCause::kRadius, h.clock.wallNs());
  EXPECT_EQ(h.client->count(AcctStatusType::kStop), 0u);
  ASSERT_EQ(h.bills.size(), 1u);
  EXPECT_EQ(h.bills[0].reason, bill::LocalBillReason::kInterimUnansweredOffline);
  EXPECT_EQ(h.bills[0].ul_octets, 50u);
}

TEST(AccountingTest, InterimFailOnlineKeepsTheSession) {
  Harness h(radiusConfig(RadiusFailAction::kOffline, {1, RadiusFailAction::kOnline}, 60));
  Session s = h.session(14, "10.0.0.14");
  h.acct->onOpen(s, 0);
  h.tick();
  h.client->complete(0, Outcome::kAnswered);
  for (int k = 0; k < 3; ++k) {
    h.clock.advanceMs(60000);
    h.tick();
    h.client->complete(size_t(h.client->last(14, AcctStatusType::kInterimUpdate)),
                       Outcome::kNoAnswer);
    h.tick();
    h.acct->applyActions();
  }
  EXPECT_TRUE(h.ended.empty());
  EXPECT_GE(h.client->count(AcctStatusType::kInterimUpdate), 3u);  // still reported
  h.acct->onEnd(s, EndCause::kLogout, 0);
  EXPECT_EQ(h.client->count(AcctStatusType::kStop), 1u);
}

TEST(AccountingTest, DrainWaitsForStopsAndBillsTheRestAtShutdown) {
  Harness h(radiusConfig(RadiusFailAction::kOffline, {}));
  Session a = h.session(20, "10.0.0.20");
  Session b = h.session(21, "10.0.0.21");
  h.acct->onOpen(a, 0);
  h.acct->onOpen(b, 0);
  h.tick();
  h.client->complete(0, Outcome::kAnswered);
  h.client->complete(1, Outcome::kAnswered);
  h.acct->onUsage(a, 1, usage(1, 1, 1, 1), 0);
  h.acct->onUsage(b, 1, usage(2, 2, 2, 2), 0);
  h.acct->onEnd(a, EndCause::kManagement, 0);
  h.acct->onEnd(b, EndCause::kManagement, 0);
  h.client->complete(size_t(h.client->last(20, AcctStatusType::kStop)), Outcome::kAnswered);
  // b's Stop stays unanswered: drain gives up (limit 0) and stops the client (kShutdown).
  EXPECT_EQ(h.acct->drain(0), 1u);
  EXPECT_EQ(h.client->stops(), 1);
  ASSERT_EQ(h.bills.size(), 1u);
  EXPECT_EQ(h.bills[0].session_id, 21u);
  EXPECT_EQ(h.bills[0].reason, bill::LocalBillReason::kShutdown);
  EXPECT_EQ(h.bills[0].ul_octets, 2u);
}

TEST(AccountingTest, AccountingOnAtStartOffAfterTheStopsAndStopsAtShutdownSayNasReboot) {
  Harness h(radiusConfig(RadiusFailAction::kOffline, {}));
  ASSERT_EQ(h.client->onOff().size(), 1u);
  auto on = encodeAccountingRequest(1, h.client->onOff()[0].attributes, "s");
  ASSERT_TRUE(on.ok());
  Packet p = std::get<ParsedPacket>(parsePacket(*on)).packet;
  EXPECT_EQ(h.integer(p, attr::kAcctStatusType), uint32_t(AcctStatusType::kAccountingOn));
  EXPECT_EQ(h.text(p, attr::kNasIdentifier), "gw01");
  EXPECT_EQ(h.text(p, attr::kAcctSessionId), "gw01-00000007-000000000000");
  Session s = h.session(30, "10.0.0.30");
  h.acct->onOpen(s, 0);
  h.tick();
  h.acct->beginShutdown();
  h.acct->onEnd(s, EndCause::kManagement, 0);
  Packet stop = h.packet(size_t(h.client->last(30, AcctStatusType::kStop)));
  EXPECT_EQ(h.integer(stop, attr::kAcctTerminateCause), uint32_t(AcctTerminateCause::kNasReboot));
  h.client->complete(0, Outcome::kAnswered);
  h.client->complete(1, Outcome::kAnswered);
  EXPECT_EQ(h.acct->drain(int64_t(1) * kS), 0u);
  ASSERT_EQ(h.client->onOff().size(), 2u);
  EXPECT_EQ(h.client->onOff()[1].type, AcctStatusType::kAccountingOff);
}

// A refusal the data plane cannot store (the IPv6 refusal set full): the session stays up,
// like start_fail online, and its local bill says so.
TEST(AccountingTest, ARefusalThatCannotBeStoredKeepsTheSessionOnline) {
  Harness h(radiusConfig(RadiusFailAction::kOffline, {}));
  h.refuse_ok = false;
  Session s = h.session(60, "10.0.0.60");
  h.acct->onOpen(s, 0);
  h.tick();
  h.client->complete(0, Outcome::kNoAnswer);
  h.tick();
  h.acct->applyActions();
  ASSERT_EQ(h.refused.size(), 1u);  // asked, refused by the poller
  EXPECT_EQ(h.acct->stats().refusals_not_stored, 1u);
  EXPECT_EQ(h.acct->stats().refused_now, 0u);
  h.acct->onEnd(s, EndCause::kLogout, 0);
  ASSERT_EQ(h.bills.size(), 1u);
  EXPECT_EQ(h.bills[0].reason, bill::LocalBillReason::kStartUnansweredOnline);
}

// `display radius`: refused without accounting.radius and with arguments; the JSON counts what
// happened.
TEST(AccountingTest, DisplayRadiusCommand) {
  CommandRegistry none;
  registerRadiusCommands(none, nullptr);
  Reply r = none.dispatch({"display", "radius"});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("not configured"), std::string::npos) << r.error;

  Harness h(radiusConfig(RadiusFailAction::kOffline, {}));
  CommandRegistry reg;
  registerRadiusCommands(reg, h.acct.get());
  r = reg.dispatch({"display", "radius", "now"});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("takes no argument"), std::string::npos) << r.error;
  Session s = h.session(61, "10.0.0.61");
  h.acct->onOpen(s, 0);
  h.tick();
  h.client->complete(0, Outcome::kAnswered);
  h.acct->onEnd(s, EndCause::kLogout, 0);
  h.client->complete(1, Outcome::kNoAnswer);
  h.tick();
  r = reg.dispatch({"display", "radius", "--json"});
  ASSERT_TRUE(r.ok) << r.error;
  auto j = nlohmann::json::parse(r.text);
  EXPECT_EQ(j["sessions"]["starts"], 1);
  EXPECT_EQ(j["sessions"]["stops"], 1);
  EXPECT_EQ(j["sessions"]["stops_unanswered"], 1);
  EXPECT_EQ(j["local_bills"]["stop-unanswered"], 1);
  EXPECT_EQ(j["local_bills"]["total"], 1);
  r = reg.dispatch({"display", "radius"});
  ASSERT_TRUE(r.ok);
  EXPECT_NE(r.text.find("stop-unanswered             : 1"), std::string::npos) << r.text;
}

TEST(AccountingTest, OpenRefusesASecretOthersCanReadAndCountsBoots) {
  testing::TempDir dir("tally-acct");
  FakeClock clock;
  Config c = radiusConfig(RadiusFailAction::kOffline, {});
  c.node.state_dir = dir.path() + "/state";
  const std::string secret = dir.path() + "/radius.secret";
  {
    std::ofstream(secret) << "testing123\n";
  }
  c.accounting.radius->servers[0].secret_file = secret;
  ::chmod(secret.c_str(), 0644);
  auto r = RadiusAccounting::open(c, clock, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("mode 0644"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("testing123"), std::string::npos);
  ::chmod(secret.c_str(), 0600);
  {
    std::ofstream(secret) << "\n";
  }
  r = RadiusAccounting::open(c, clock, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("empty"), std::string::npos) << r.error().message;
  {
    std::ofstream(secret) << "testing123\n";
  }
  for (int boot = 1; boot <= 2; ++boot) {
    auto ok = RadiusAccounting::open(c, clock, {});
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    std::ifstream in(c.node.state_dir + "/radius-boot");
    int v = 0;
    in >> v;
    EXPECT_EQ(v, boot);
  }
}

}  // namespace
}  // namespace tally::radius
