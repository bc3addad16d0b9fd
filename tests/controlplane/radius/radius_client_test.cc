// The RADIUS accounting client (controlplane/radius/radius_client.h):
// - ClientEngine with one FakeRadiusTransport per socket (the factory below creates them and
//   keeps pointers) and a FakeClock: every assertion on what went out is made on the datagrams
//   themselves, decoded with parsePacket and checked with verifyRequest.
// - UdpTransport and RadiusClient against a small UDP responder on 127.0.0.1 made of the codec
//   (encodeResponse), on a thread of the test.
#include "controlplane/radius/radius_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "controlplane/radius/udp_transport.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_radius_transport.h"

namespace tally::radius {
namespace {

using testing::FakeRadiusTransport;

Endpoint ep(const char* ip, uint16_t port) { return Endpoint{*parseIpAddress(ip), port}; }

const Endpoint kS1 = ep("192.0.2.1", 1813);
const Endpoint kS2 = ep("192.0.2.2", 1813);
const std::string kSecret1 = "secret-one";
const std::string kSecret2 = "secret-two";

ParsedPacket parse(const std::vector<uint8_t>& bytes) {
  auto v = parsePacket(bytes);
  EXPECT_TRUE(std::holds_alternative<ParsedPacket>(v));
  return std::get<ParsedPacket>(v);
}

uint32_t delayOf(const ParsedPacket& p) {
  const Attribute* a = p.packet.find(attr::kAcctDelayTime);
  EXPECT_NE(a, nullptr);
  return a ? asInteger(*a).value_or(999999) : 999999;
}

std::string sessionIdOf(const ParsedPacket& p) {
  const Attribute* a = p.packet.find(attr::kAcctSessionId);
  return a ? asText(*a).value_or("") : "";
}

std::vector<uint8_t> answerTo(const std::vector<uint8_t>& request, const std::string& secret,
                              Code code = Code::kAccountingResponse) {
  ParsedPacket p = parse(request);
  return encodeResponse(code, p.packet.identifier, p.packet.authenticator, {}, secret,
                        p.packet.code == Code::kStatusServer)
      .value();
}

struct Harness {
  FakeClock clock;
  ClientOptions opt;
  struct Sock {
    int server;
    FakeRadiusTransport* t;
  };
  std::vector<Sock> socks;
  bool factory_fails = false;
  // Send results scripted on every socket opened for a server, when it is opened.
  std::map<int, std::vector<TransportStatus>> script;
  uint8_t rnd = 0;
  std::unique_ptr<ClientEngine> engine;
  std::vector<Completion> completions;

  explicit Harness(int servers = 1, std::function<void(ClientOptions&)> tweak = nullptr) {
    opt.timeout_ms = 1000;
    opt.retries = 2;
    opt.hold_down_ms = 10000;
    opt.probe_interval_ms = 2000;
    opt.timeout_jitter = 0;  // exact timers; JitterStretchesTimeouts tests the jitter
    for (int i = 0; i < servers; ++i) {
      ServerOptions so;
      so.endpoint = i == 0 ? kS1 : kS2;
      so.secret = i == 0 ? kSecret1 : kSecret2;
      opt.servers.push_back(so);
    }
    if (tweak) {
      tweak(opt);
    }
    engine = std::make_unique<ClientEngine>(
        opt,
        [this](const Endpoint& to, std::string* error) -> std::unique_ptr<RadiusTransport> {
          if (factory_fails) {
            *error = "scripted factory failure";
            return nullptr;
          }
          int server = to == kS1 ? 0 : 1;
          auto t = std::make_unique<FakeRadiusTransport>();
          for (TransportStatus s : script[server]) {
            t->pushSendResult(s, "scripted");
          }
          socks.push_back({server, t.get()});
          return t;
        },
        clock, [this](Authenticator& a) { a.fill(++rnd); });
  }

  const std::string& secret(int server) const { return opt.servers[size_t(server)].secret; }
  const Endpoint& endpoint(int server) const { return opt.servers[size_t(server)].endpoint; }

  std::vector<FakeRadiusTransport*> socketsOf(int server) const {
    std::vector<FakeRadiusTransport*> out;
    for (const Sock& s : socks) {
      if (s.server == server) {
        out.push_back(s.t);
      }
    }
    return out;
  }
  // Datagrams sent to a server (one socket per server in these tests unless said otherwise).
  std::vector<std::vector<uint8_t>> sentTo(int server) const {
    std::vector<std::vector<uint8_t>> out;
    for (FakeRadiusTransport* t : socketsOf(server)) {
      for (const auto& s : t->sent()) {
        EXPECT_EQ(s.to, endpoint(server));
        out.push_back(s.bytes);
      }
    }
    return out;
  }
  FakeRadiusTransport* sock(int server) {
    auto v = socketsOf(server);
    EXPECT_FALSE(v.empty());
    return v.empty() ? nullptr : v.front();
  }
  void answer(int server, const std::vector<uint8_t>& request) {
    sock(server)->deliver(endpoint(server), answerTo(request, secret(server)));
  }

  Request req(uint64_t tag, uint64_t session = 1,
              AcctStatusType type = AcctStatusType::kStart) {
    Request r;
    r.tag = tag;
    r.session = session;
    r.type = type;
    r.attributes.push_back(makeInteger(attr::kAcctStatusType, static_cast<uint32_t>(type)));
    r.attributes.push_back(
        makeText(attr::kAcctSessionId, "sess-" + std::to_string(session)).value());
    r.event_mono_ns = clock.monotonicNs();
    return r;
  }
  void submit(uint64_t tag, uint64_t session = 1, AcctStatusType type = AcctStatusType::kStart) {
    engine->submit(req(tag, session, type));
  }
  // Starts 0..n-1, each of its own session (session = tag).
  void submitMany(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      submit(i, i);
    }
  }
  void step() {
    engine->receive();
    engine->run();
    engine->takeCompletions(completions);
  }
  void advance(int64_t ms) {
    clock.advanceMs(ms);
    step();
  }
  ClientStats stats() const { return engine->stats(); }
  uint64_t dropped(DropReason r) const { return stats().dropped[size_t(r)]; }
};

// ---------------------------------------------------------------- first send, retransmission

TEST(ClientEngine, FirstSendCarriesDelayZeroAndAValidRequestAuthenticator) {
  Harness h;
  h.submit(1);
  h.step();
  auto sent = h.sentTo(0);
  ASSERT_EQ(sent.size(), 1u);
  ParsedPacket p = parse(sent[0]);
  EXPECT_EQ(p.packet.code, Code::kAccountingRequest);
  EXPECT_EQ(verifyRequest(p, kSecret1), ResponseCheck::kOk);
  EXPECT_NE(verifyRequest(p, kSecret2), ResponseCheck::kOk);
  EXPECT_EQ(delayOf(p), 0u);
  EXPECT_EQ(sessionIdOf(p), "sess-1");
  const Attribute* st = p.packet.find(attr::kAcctStatusType);
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(asInteger(*st), 1u);
  h.answer(0, sent[0]);
  h.step();
  ASSERT_EQ(h.completions.size(), 1u);
  EXPECT_EQ(h.completions[0].tag, 1u);
  EXPECT_EQ(h.completions[0].outcome, Outcome::kAnswered);
  EXPECT_EQ(h.completions[0].server, 0);
  EXPECT_EQ(h.completions[0].transmissions, 1u);
  EXPECT_TRUE(h.engine->idle());
  EXPECT_EQ(h.stats().servers[0].responses, 1u);
}

TEST(ClientEngine, EventTimeBeforeSubmitCountsInTheFirstDelay) {
  Harness h;
  Request r = h.req(1);
  h.clock.advanceMs(2500);
  h.engine->submit(std::move(r));
  h.step();
  ASSERT_EQ(h.sentTo(0).size(), 1u);
  EXPECT_EQ(delayOf(parse(h.sentTo(0)[0])), 2u);
}

TEST(ClientEngine, RetransmissionWithinTheSameSecondIsByteIdentical) {
  Harness h(1, [](ClientOptions& o) { o.timeout_ms = 300; });
  h.submit(1);
  h.step();
  h.advance(299);
  EXPECT_EQ(h.sentTo(0).size(), 1u);  // not yet
  h.advance(1);
  auto sent = h.sentTo(0);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0], sent[1]);
  EXPECT_EQ(h.stats().servers[0].retransmissions, 1u);
  EXPECT_EQ(h.stats().servers[0].timeouts, 1u);
}

TEST(ClientEngine, RetransmissionAfterASecondIsANewPacketAndAnAnswerToTheOldOneCompletes) {
  Harness h(1, [](ClientOptions& o) { o.timeout_ms = 1200; });
  h.submit(7);
  h.step();
  h.advance(1200);
  auto sent = h.sentTo(0);
  ASSERT_EQ(sent.size(), 2u);
  ParsedPacket first = parse(sent[0]);
  ParsedPacket second = parse(sent[1]);
  EXPECT_EQ(delayOf(first), 0u);
  EXPECT_EQ(delayOf(second), 1u);
  EXPECT_NE(first.packet.identifier, second.packet.identifier);
  EXPECT_NE(first.packet.authenticator, second.packet.authenticator);
  EXPECT_EQ(verifyRequest(second, kSecret1), ResponseCheck::kOk);
  // The server answers the first transmission only: that completes the request.
  h.answer(0, sent[0]);
  h.step();
  ASSERT_EQ(h.completions.size(), 1u);
  EXPECT_EQ(h.completions[0].tag, 7u);
  EXPECT_EQ(h.completions[0].outcome, Outcome::kAnswered);
  EXPECT_EQ(h.completions[0].transmissions, 2u);
  // Its answer to the second one comes after: late, nothing changes.
  h.answer(0, sent[1]);
  h.step();
  EXPECT_EQ(h.completions.size(), 1u);
  EXPECT_EQ(h.dropped(DropReason::kLate), 1u);
  EXPECT_TRUE(h.engine->idle());
}

TEST(ClientEngine, AnAnswerToTheNewTransmissionCompletesToo) {
  Harness h(1, [](ClientOptions& o) { o.timeout_ms = 1500; });
  h.submit(1);
  h.step();
  h.advance(1500);
  auto sent = h.sentTo(0);
  ASSERT_EQ(sent.size(), 2u);
  h.answer(0, sent[1]);
  h.step();
  ASSERT_EQ(h.completions.size(), 1u);
  EXPECT_EQ(h.completions[0].outcome, Outcome::kAnswered);
}

TEST(ClientEngine, IdentifiersAreNotReusedAtOnceAfterBeingFreed) {
  Harness h;
  std::set<uint8_t> ids;
  for (uint64_t i = 0; i < 10; ++i) {  // one at a time: each freed before the next is taken
    h.submit(i);
    h.step();
    ASSERT_EQ(h.sentTo(0).size(), i + 1);
    ids.insert(parse(h.sentTo(0)[i]).packet.identifier);
    h.answer(0, h.sentTo(0)[i]);
    h.step();
  }
  EXPECT_EQ(ids.size(), 10u);
  EXPECT_EQ(h.completions.size(), 10u);
}

// ---------------------------------------------------------------- fail-over, dead, probing

TEST(ClientEngine, EachServerGetsOnePlusRetriesThenFailOverThenNoAnswer) {
  Harness h(2, [](ClientOptions& o) {
    o.retries = 2;
    o.timeout_ms = 100;
  });
  h.submit(1);
  h.step();
  for (int i = 0; i < 2; ++i) {
    h.advance(100);
  }
  EXPECT_EQ(h.sentTo(0).size(), 3u);
  EXPECT_EQ(h.sentTo(1).size(), 0u);
  h.advance(100);  // third timeout on server 1: fail over, server 1 dead and probed
  ASSERT_EQ(h.sentTo(0).size(), 4u);
  EXPECT_EQ(parse(h.sentTo(0)[3]).packet.code, Code::kStatusServer);
  auto s2 = h.sentTo(1);
  ASSERT_EQ(s2.size(), 1u);
  EXPECT_EQ(verifyRequest(parse(s2[0]), kSecret2), ResponseCheck::kOk);
  EXPECT_TRUE(h.completions.empty());
  h.advance(100);
  h.advance(100);
  EXPECT_EQ(h.sentTo(1).size(), 3u);
  EXPECT_TRUE(h.completions.empty());
  h.advance(100);
  ASSERT_EQ(h.completions.size(), 1u);
  EXPECT_EQ(h.completions[0].outcome, Outcome::kNoAnswer);
  EXPECT_EQ(h.completions[0].transmissions, 6u);
  EXPECT_EQ(h.completions[0].server, -1);
  ClientStats st = h.stats();
  EXPECT_EQ(st.servers[0].requests, 1u);
  EXPECT_EQ(st.servers[0].retransmissions, 2u);
  EXPECT_EQ(st.servers[0].timeouts, 3u);
  EXPECT_EQ(st.servers[0].failovers_from, 1u);
  EXPECT_EQ(st.servers[0].marked_dead, 1u);
  EXPECT_EQ(st.servers[1].marked_dead, 1u);
  EXPECT_EQ(st.completed[size_t(Outcome::kNoAnswer)], 1u);
  // An answer from server 1 to the abandoned transmission now: late.
  h.answer(0, h.sentTo(0)[0]);
  h.step();
  EXPECT_EQ(h.dropped(DropReason::kLate), 1u);
  EXPECT_EQ(h.completions.size(), 1u);
}

TEST(ClientEngine, AServerIsMarkedDeadOnlyWhenNothingValidCameFromItMeanwhile) {
  Harness h(2, [](ClientOptions& o) {
    o.retries = 1;
    o.timeout_ms = 100;
  });
  h.submit(1);  // A: never answered
  h.submit(2);  // B: answered
  h.step();
  auto sent = h.sentTo(0);
  ASSERT_EQ(sent.size(), 2u);
  h.advance(50);
  h.answer(0, sent[1]);
  h.step();
  ASSERT_EQ(h.completions.size(), 1u);
  h.advance(50);
  h.advance(100);  // A: 2 transmissions unanswered, fail-over; B's answer came meanwhile
  EXPECT_EQ(h.sentTo(1).size(), 1u);
  EXPECT_EQ(h.stats().servers[0].marked_dead, 0u);
  EXPECT_EQ(h.stats().servers[0].state, ServerState::kAlive);
  // C: first sent after B's answer, nothing comes: now server 1 is dead.
  h.submit(3);
  h.step();
  EXPECT_EQ(h.sentTo(0).size(), 4u);  // A twice, B, C
  h.advance(100);
  h.advance(100);
  EXPECT_EQ(h.stats().servers[0].marked_dead, 1u);
  EXPECT_EQ(h.stats().servers[0].state, ServerState::kProbing);  // dead, probed at once
}

TEST(ClientEngine, DeadServerIsProbedAtOnceAndAnAnswerRevivesIt) {
  Harness h(2, [](ClientOptions& o) {
    o.retries = 0;
    o.timeout_ms = 100;
    o.hold_down_ms = 5000;  // not for a server that answers Status-Server
    o.probe_interval_ms = 1000;
  });
  h.submit(1);
  h.step();
  h.advance(100);  // dead, fail-over; probed at once
  EXPECT_EQ(h.stats().servers[0].state, ServerState::kProbing);
  EXPECT_EQ(h.stats().servers[0].marked_dead, 1u);
  auto s1 = h.sentTo(0);
  ASSERT_EQ(s1.size(), 2u);
  ParsedPacket probe = parse(s1[1]);
  EXPECT_EQ(probe.packet.code, Code::kStatusServer);
  EXPECT_NE(probe.packet.find(attr::kMessageAuthenticator), nullptr);
  EXPECT_EQ(verifyRequest(probe, kSecret1), ResponseCheck::kOk);
  ASSERT_EQ(h.sentTo(1).size(), 1u);
  h.answer(1, h.sentTo(1)[0]);
  h.step();
  // New requests skip the server being probed.
  h.submit(2);
  h.step();
  EXPECT_EQ(h.sentTo(0).size(), 2u);
  ASSERT_EQ(h.sentTo(1).size(), 2u);
  h.answer(1, h.sentTo(1)[1]);
  h.step();
  EXPECT_EQ(h.completions.size(), 2u);
  EXPECT_EQ(h.completions[1].server, 1);
  // Unanswered: the next probe after probe_interval_ms, not before.
  h.advance(999);
  EXPECT_EQ(h.sentTo(0).size(), 2u);
  h.advance(1);
  s1 = h.sentTo(0);
  ASSERT_EQ(s1.size(), 3u);
  ParsedPacket probe2 = parse(s1[2]);
  EXPECT_EQ(probe2.packet.code, Code::kStatusServer);
  EXPECT_NE(probe2.packet.authenticator, probe.packet.authenticator);
  EXPECT_EQ(h.stats().servers[0].probes_sent, 2u);
  // The answer (Access-Accept, as on an authentication port) to the current probe revives it,
  // long before hold_down_ms.
  h.sock(0)->deliver(kS1, answerTo(s1[2], kSecret1, Code::kAccessAccept));
  h.step();
  EXPECT_EQ(h.stats().servers[0].state, ServerState::kAlive);
  EXPECT_EQ(h.stats().servers[0].probes_answered, 1u);
  h.submit(3);
  h.step();
  s1 = h.sentTo(0);
  ASSERT_EQ(s1.size(), 4u);
  EXPECT_EQ(parse(s1[3]).packet.code, Code::kAccountingRequest);
}

TEST(ClientEngine, AProbeAnswerWithAWrongSecretDoesNotRevive) {
  Harness h(2, [](ClientOptions& o) {
    o.retries = 0;
    o.timeout_ms = 100;
    o.hold_down_ms = 1000;
  });
  h.submit(1);
  h.step();
  h.advance(100);
  h.advance(1000);
  auto s1 = h.sentTo(0);
  ASSERT_EQ(s1.size(), 2u);
  h.sock(0)->deliver(kS1, answerTo(s1[1], "not-the-secret"));
  h.step();
  EXPECT_EQ(h.stats().servers[0].state, ServerState::kProbing);
  EXPECT_EQ(h.dropped(DropReason::kBadAuthenticator), 1u);
}

TEST(ClientEngine, WithoutStatusServerTheServerIsAliveAgainAfterHoldDown) {
  Harness h(2, [](ClientOptions& o) {
    o.retries = 0;
    o.timeout_ms = 100;
    o.hold_down_ms = 3000;
    o.servers[0].status_server = false;
  });
  h.submit(1);
  h.step();
  h.advance(100);
  EXPECT_EQ(h.stats().servers[0].state, ServerState::kDead);
  h.advance(2999);
  EXPECT_EQ(h.stats().servers[0].state, ServerState::kDead);
  h.advance(1);
  EXPECT_EQ(h.stats().servers[0].state, ServerState::kAlive);
  EXPECT_EQ(h.sentTo(0).size(), 1u);  // no probe
  h.submit(2);
  h.step();
  auto s1 = h.sentTo(0);
  ASSERT_EQ(s1.size(), 2u);
  EXPECT_EQ(parse(s1[1]).packet.code, Code::kAccountingRequest);
}

TEST(ClientEngine, WithNoLiveServerARequestWaitsItsBudgetThenNoServer) {
  Harness h(1, [](ClientOptions& o) {
    o.retries = 1;
    o.timeout_ms = 100;
    o.probe_interval_ms = 1000;
  });
  h.submit(1);
  h.step();
  h.advance(100);
  h.advance(100);
  ASSERT_EQ(h.completions.size(), 1u);
  EXPECT_EQ(h.completions[0].outcome, Outcome::kNoAnswer);
  EXPECT_EQ(h.stats().servers[0].state, ServerState::kProbing);
  // Waits (not sent: no live server) for its budget, 1 server x 2 x 100 ms.
  h.submit(2);
  h.step();
  h.advance(199);
  EXPECT_EQ(h.completions.size(), 1u);
  EXPECT_EQ(h.engine->nextDueMonoNs(), h.clock.monotonicNs() + 1000000);  // no busy wait
  h.advance(1);
  ASSERT_EQ(h.completions.size(), 2u);
  EXPECT_EQ(h.completions[1].outcome, Outcome::kNoServer);
  EXPECT_EQ(h.completions[1].transmissions, 0u);
  // Revived while a request waits: it goes out then.
  h.submit(3);
  h.step();
  auto s0 = h.sentTo(0);
  const size_t probes = s0.size();
  ASSERT_EQ(parse(s0.back()).packet.code, Code::kStatusServer);
  h.advance(50);
  h.sock(0)->deliver(kS1, answerTo(s0.back(), kSecret1, Code::kAccountingResponse));
  h.step();
  s0 = h.sentTo(0);
  ASSERT_EQ(s0.size(), probes + 1);
  EXPECT_EQ(parse(s0.back()).packet.code, Code::kAccountingRequest);
  h.answer(0, s0.back());
  h.step();
  ASSERT_EQ(h.completions.size(), 3u);
  EXPECT_EQ(h.completions[2].outcome, Outcome::kAnswered);
  EXPECT_TRUE(h.engine->idle());
}

// ---------------------------------------------------------------- drops

TEST(ClientEngine, BadDatagramsAreCountedByReasonAndCompleteNothing) {
  Harness h(1, [](ClientOptions& o) { o.timeout_ms = 100000; });
  h.submit(1);
  h.step();
  auto sent = h.sentTo(0);
  ASSERT_EQ(sent.size(), 1u);
  ParsedPacket req = parse(sent[0]);
  const uint8_t id = req.packet.identifier;
  FakeRadiusTransport* t = h.sock(0);

  t->deliver(ep("192.0.2.99", 1813), answerTo(sent[0], kSecret1));  // wrong address
  t->deliver(ep("192.0.2.1", 1814), answerTo(sent[0], kSecret1));   // wrong port
  t->deliver(kS1, {5, id, 0, 30});                                  // shorter than header
  t->deliver(kS1, encodeResponse(Code::kAccountingResponse, uint8_t(id + 1),
                                 req.packet.authenticator, {}, kSecret1)
                      .value());                                    // unknown Identifier
  t->deliver(kS1, answerTo(sent[0], "wrong-secret"));               // bad authenticator
  t->deliver(kS1, answerTo(sent[0], kSecret1, Code::kAccessAccept));  // unexpected code
  h.step();
  EXPECT_TRUE(h.completions.empty());
  EXPECT_EQ(h.dropped(DropReason::kUnknownSource), 2u);
  EXPECT_EQ(h.dropped(DropReason::kMalformed), 1u);
  EXPECT_EQ(h.dropped(DropReason::kUnknownIdentifier), 1u);
  EXPECT_EQ(h.dropped(DropReason::kBadAuthenticator), 1u);
  EXPECT_EQ(h.dropped(DropReason::kUnexpectedCode), 1u);
  EXPECT_EQ(h.dropped(DropReason::kLate), 0u);
  EXPECT_EQ(h.stats().servers[0].responses, 0u);
  // The real answer still completes it, once; its duplicate is late.
  h.answer(0, sent[0]);
  h.answer(0, sent[0]);
  h.step();
  ASSERT_EQ(h.completions.size(), 1u);
  EXPECT_EQ(h.completions[0].outcome, Outcome::kAnswered);
  EXPECT_EQ(h.dropped(DropReason::kLate), 1u);
}

TEST(ClientEngine, AnAnswerAfterNoAnswerIsLateAndChangesNothing) {
  Harness h(1, [](ClientOptions& o) {
    o.retries = 0;
    o.timeout_ms = 100;
    o.servers[0].status_server = false;
  });
  h.submit(1);
  h.step();
  h.advance(100);
  ASSERT_EQ(h.completions.size(), 1u);
  EXPECT_EQ(h.completions[0].outcome, Outcome::kNoAnswer);
  h.answer(0, h.sentTo(0)[0]);
  h.step();
  EXPECT_EQ(h.completions.size(), 1u);
  EXPECT_EQ(h.dropped(DropReason::kLate), 1u);
  EXPECT_EQ(h.dropped(DropReason::kUnknownIdentifier), 0u);
  EXPECT_EQ(h.stats().servers[0].state, ServerState::kDead);  // a late answer revives nothing
}

// ---------------------------------------------------------------- Stop cancels interims

TEST(ClientEngine, StopCancelsItsSessionsInterimsQueuedAndInFlightOnly) {
  Harness h(1, [](ClientOptions& o) { o.max_outstanding = 2; });
  h.submit(1, 1, AcctStatusType::kInterimUpdate);  // in flight
  h.submit(2, 2, AcctStatusType::kInterimUpdate);  // in flight, other session
  h.step();
  h.submit(3, 1, AcctStatusType::kInterimUpdate);  // queued
  h.submit(4, 2, AcctStatusType::kInterimUpdate);  // queued, other session
  h.step();
  ASSERT_EQ(h.sentTo(0).size(), 2u);
  h.submit(5, 1, AcctStatusType::kStop);
  h.engine->takeCompletions(h.completions);
  std::map<uint64_t, Outcome> got;
  for (const Completion& c : h.completions) {
    got[c.tag] = c.outcome;
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1], Outcome::kCancelled);
  EXPECT_EQ(got[3], Outcome::kCancelled);
  // The slot freed by the cancelled interim goes to the other session's interim, then the
  // Stop; no interim of session 1 ever goes out again.
  h.step();
  auto sent = h.sentTo(0);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sessionIdOf(parse(sent[2])), "sess-2");
  h.answer(0, sent[1]);
  h.step();
  sent = h.sentTo(0);
  ASSERT_EQ(sent.size(), 4u);
  ParsedPacket stop = parse(sent[3]);
  EXPECT_EQ(sessionIdOf(stop), "sess-1");
  EXPECT_EQ(asInteger(*stop.packet.find(attr::kAcctStatusType)), 2u);
  for (size_t i = 1; i < sent.size(); ++i) {
    ParsedPacket p = parse(sent[i]);
    EXPECT_FALSE(sessionIdOf(p) == "sess-1" &&
                 asInteger(*p.packet.find(attr::kAcctStatusType)) == 3u);
  }
  // The cancelled interim's answer arrives: late.
  h.answer(0, sent[0]);
  h.step();
  EXPECT_EQ(h.dropped(DropReason::kLate), 1u);
  EXPECT_EQ(h.stats().completed[size_t(Outcome::kCancelled)], 2u);
  h.answer(0, sent[2]);
  h.answer(0, sent[3]);
  h.step();
  EXPECT_TRUE(h.engine->idle());
  EXPECT_EQ(h.completions.size(), 5u);
}

// ---------------------------------------------------------------- sockets, limits, errors

TEST(ClientEngine, AThousandOutstandingRequestsUseFourSocketsWithUniqueIdentifiers) {
  Harness h(1, [](ClientOptions& o) {
    o.max_outstanding = 1024;
    o.initial_window = o.max_outstanding;  // all at once: the Identifier rules
    o.timeout_ms = 100000;
  });
  h.submitMany(1000);
  h.step();
  auto socks = h.socketsOf(0);
  ASSERT_EQ(socks.size(), 4u);
  size_t total = 0;
  for (FakeRadiusTransport* t : socks) {
    std::set<uint8_t> ids;
    for (const auto& s : t->sent()) {
      ids.insert(parse(s.bytes).packet.identifier);
    }
    EXPECT_EQ(ids.size(), t->sent().size());
    total += t->sent().size();
  }
  EXPECT_EQ(total, 1000u);
  EXPECT_EQ(h.stats().servers[0].sockets, 4u);
  EXPECT_EQ(h.stats().outstanding, 1000u);
}

TEST(ClientEngine, WithEveryIdentifierTakenARetransmissionResendsItsUnchangedPacket) {
  Harness h(1, [](ClientOptions& o) {
    o.max_outstanding = 256;  // one socket
    o.initial_window = o.max_outstanding;  // all at once: the Identifier rules
    o.timeout_ms = 1500;
  });
  h.submitMany(256);
  h.step();
  ASSERT_EQ(h.sentTo(0).size(), 256u);
  h.advance(1500);  // Acct-Delay-Time is 1 now, but no Identifier is free for a new packet
  auto sent = h.sentTo(0);
  ASSERT_EQ(sent.size(), 512u);
  EXPECT_EQ(h.socketsOf(0).size(), 1u);
  std::map<uint8_t, std::vector<uint8_t>> first;  // timers due at once run in any order
  for (size_t i = 0; i < 256; ++i) {
    first[parse(sent[i]).packet.identifier] = sent[i];
  }
  ASSERT_EQ(first.size(), 256u);
  for (size_t i = 256; i < 512; ++i) {
    EXPECT_EQ(sent[i], first[parse(sent[i]).packet.identifier]) << i;
  }
  // One answered frees an Identifier: the next retransmission of another is a new packet.
  h.answer(0, sent[0]);
  h.step();
  ASSERT_EQ(h.completions.size(), 1u);
  h.advance(1500);
  sent = h.sentTo(0);
  ASSERT_EQ(sent.size(), 512u + 255u);
  size_t changed = 0;
  for (size_t i = 512; i < sent.size(); ++i) {
    ParsedPacket p = parse(sent[i]);
    if (delayOf(p) == 3) {
      ++changed;
      EXPECT_EQ(verifyRequest(p, kSecret1), ResponseCheck::kOk);
    } else {
      EXPECT_EQ(delayOf(p), 0u);
    }
  }
  EXPECT_EQ(changed, 1u);
}

TEST(ClientEngine, MaxOutstandingBoundsWhatIsInFlight) {
  Harness h(1, [](ClientOptions& o) {
    o.max_outstanding = 300;
    o.initial_window = o.max_outstanding;  // all at once: the Identifier rules
    o.timeout_ms = 100000;
  });
  h.submitMany(400);
  h.step();
  EXPECT_EQ(h.sentTo(0).size(), 300u);
  EXPECT_EQ(h.stats().queued, 100u);
  EXPECT_EQ(h.socketsOf(0).size(), 2u);  // ceil(300 / 256)
}

TEST(ClientEngine, ABurstGoesOutWithinAWindowThatGrowsWithAnswersAndHalvesOnATimeout) {
  Harness h(1, [](ClientOptions& o) {
    o.max_outstanding = 4096;
    o.initial_window = 32;
    o.timeout_ms = 1000;
    o.retries = 3;
  });
  h.submitMany(1000);
  h.step();
  ASSERT_EQ(h.sentTo(0).size(), 32u);
  EXPECT_EQ(h.stats().window, 32u);
  // Each answer opens the window by one (slow start): 32 answers -> 64 in flight.
  auto sent = h.sentTo(0);
  for (size_t i = 0; i < 32; ++i) {
    h.answer(0, sent[i]);
  }
  h.step();
  EXPECT_EQ(h.stats().window, 64u);
  EXPECT_EQ(h.stats().outstanding, 64u);
  EXPECT_EQ(h.sentTo(0).size(), 96u);
  // A round of timeouts halves it, once (not once per request).
  h.advance(1000);
  EXPECT_EQ(h.stats().window, 32u);
  EXPECT_EQ(h.stats().outstanding, 64u);  // what is in flight stays; nothing new goes out
  EXPECT_EQ(h.sentTo(0).size(), 96u + 64u);  // the 64 retransmitted
}

TEST(ClientEngine, JitterStretchesTimeoutsWithinItsFraction) {
  Harness h(1, [](ClientOptions& o) {
    o.timeout_ms = 1000;
    o.timeout_jitter = 0.1;
    o.retries = 1;
    o.initial_window = 200;
  });
  h.submitMany(200);
  h.step();
  ASSERT_EQ(h.sentTo(0).size(), 200u);
  h.advance(999);
  EXPECT_EQ(h.sentTo(0).size(), 200u);  // none before timeout_ms
  size_t last = 200;
  int steps_with_retransmissions = 0;
  for (int ms = 1; ms <= 101; ++ms) {
    h.advance(1);
    const size_t n = h.sentTo(0).size();
    steps_with_retransmissions += n > last;
    last = n;
  }
  EXPECT_EQ(last, 400u);  // all retransmitted by 1.1 x timeout_ms
  EXPECT_GE(steps_with_retransmissions, 20);  // spread, not one burst
}

TEST(ClientEngine, BeyondQueueLimitRequestsCompleteWithQueueFull) {
  Harness h(1, [](ClientOptions& o) { o.queue_limit = 2; });
  h.submit(1);
  h.submit(2);
  h.submit(3);
  h.engine->takeCompletions(h.completions);
  ASSERT_EQ(h.completions.size(), 1u);
  EXPECT_EQ(h.completions[0].tag, 3u);
  EXPECT_EQ(h.completions[0].outcome, Outcome::kQueueFull);
  ClientStats st = h.stats();
  EXPECT_EQ(st.queued, 2u);
  EXPECT_EQ(st.max_queued, 2u);
  EXPECT_EQ(st.submitted, 3u);
  EXPECT_EQ(st.completed[size_t(Outcome::kQueueFull)], 1u);
}

TEST(ClientEngine, RefusedSendsFailOverAtOnce) {
  Harness h(2, [](ClientOptions& o) {
    o.retries = 2;
    o.timeout_ms = 1000;
  });
  h.script[0] = {TransportStatus::kUnreachable, TransportStatus::kUnreachable,
                 TransportStatus::kUnreachable};
  h.submit(1);
  h.step();  // no time passes
  EXPECT_EQ(h.sentTo(0).size(), 0u);
  EXPECT_EQ(h.sock(0)->sendCalls(), 3u);
  ASSERT_EQ(h.sentTo(1).size(), 1u);
  ClientStats st = h.stats();
  EXPECT_EQ(st.servers[0].unreachable, 3u);
  EXPECT_EQ(st.servers[0].failovers_from, 1u);
  EXPECT_EQ(st.servers[0].marked_dead, 1u);
  EXPECT_EQ(st.servers[0].state, ServerState::kProbing);
  h.answer(1, h.sentTo(1)[0]);
  h.step();
  ASSERT_EQ(h.completions.size(), 1u);
  EXPECT_EQ(h.completions[0].outcome, Outcome::kAnswered);
  EXPECT_EQ(h.completions[0].server, 1);
  EXPECT_EQ(h.completions[0].transmissions, 1u);
}

TEST(ClientEngine, ARefusedSendAlsoTimesOutTheOtherTransmissionsToThatServer) {
  Harness h(2, [](ClientOptions& o) {
    o.retries = 0;
    o.timeout_ms = 5000;
  });
  h.script[0] = {TransportStatus::kOk, TransportStatus::kUnreachable};
  h.submit(1);
  h.step();
  ASSERT_EQ(h.sentTo(0).size(), 1u);
  h.submit(2);
  h.step();  // 2 is refused: fails over; 1 times out now
  h.step();  // no time passes: 1 fails over too
  auto s2 = h.sentTo(1);
  ASSERT_EQ(s2.size(), 2u);
  ClientStats st = h.stats();
  EXPECT_EQ(st.servers[0].unreachable, 1u);
  EXPECT_EQ(st.servers[0].timeouts, 2u);
  EXPECT_EQ(st.servers[0].failovers_from, 2u);
  h.answer(1, s2[0]);
  h.answer(1, s2[1]);
  h.step();
  ASSERT_EQ(h.completions.size(), 2u);
  EXPECT_EQ(h.completions[0].server, 1);
  EXPECT_EQ(h.completions[1].server, 1);
}

TEST(ClientEngine, UnreachableOnReceiveTimesOutTheServersTransmissionsNow) {
  Harness h(2, [](ClientOptions& o) {
    o.retries = 0;
    o.timeout_ms = 5000;
  });
  h.submit(1);
  h.submit(2);
  h.step();
  ASSERT_EQ(h.sentTo(0).size(), 2u);
  h.sock(0)->deliverError(TransportStatus::kUnreachable, "recvfrom: Connection refused");
  h.step();  // no time passes
  EXPECT_EQ(h.sentTo(1).size(), 2u);
  ClientStats st = h.stats();
  EXPECT_EQ(st.servers[0].unreachable, 1u);
  EXPECT_EQ(st.servers[0].timeouts, 2u);
  EXPECT_EQ(st.servers[0].failovers_from, 2u);
}

TEST(ClientEngine, WouldBlockKeepsTheRequestQueuedAndCountsNoTransmission) {
  Harness h;
  h.script[0] = {TransportStatus::kWouldBlock};
  h.submit(1);
  h.step();
  EXPECT_EQ(h.sentTo(0).size(), 0u);
  EXPECT_EQ(h.stats().queued, 1u);
  EXPECT_EQ(h.stats().servers[0].requests, 0u);
  EXPECT_LE(h.engine->nextDueMonoNs(), h.clock.monotonicNs() + 1000000);
  h.step();  // the next run() sends it
  auto sent = h.sentTo(0);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(delayOf(parse(sent[0])), 0u);
  h.answer(0, sent[0]);
  h.step();
  ASSERT_EQ(h.completions.size(), 1u);
  EXPECT_EQ(h.completions[0].transmissions, 1u);
}

TEST(ClientEngine, AFailingSocketFactoryCountsASendErrorAndKeepsTheRequestQueued) {
  Harness h;
  h.factory_fails = true;
  h.submit(1);
  h.step();
  EXPECT_EQ(h.stats().servers[0].send_errors, 1u);
  EXPECT_EQ(h.stats().queued, 1u);
  EXPECT_TRUE(h.completions.empty());
  h.factory_fails = false;
  h.advance(1000);  // the factory is tried again after a pause
  ASSERT_EQ(h.sentTo(0).size(), 1u);
  EXPECT_EQ(delayOf(parse(h.sentTo(0)[0])), 1u);
}

TEST(ClientEngine, SendErrorsCountAndTheTryIsUsedUp) {
  Harness h(1, [](ClientOptions& o) {
    o.retries = 1;
    o.servers[0].status_server = false;
  });
  h.script[0] = {TransportStatus::kTooLarge, TransportStatus::kError};
  h.submit(1);
  h.step();
  ASSERT_EQ(h.completions.size(), 1u);
  EXPECT_EQ(h.completions[0].outcome, Outcome::kNoAnswer);
  EXPECT_EQ(h.completions[0].transmissions, 0u);
  EXPECT_EQ(h.stats().servers[0].send_errors, 2u);
}

TEST(ClientEngine, NextDueFollowsTheTimers) {
  Harness h(1, [](ClientOptions& o) { o.timeout_ms = 700; });
  EXPECT_EQ(h.engine->nextDueMonoNs(), std::numeric_limits<int64_t>::max());
  h.submit(1);
  EXPECT_LE(h.engine->nextDueMonoNs(), h.clock.monotonicNs());
  h.step();
  EXPECT_EQ(h.engine->nextDueMonoNs(), h.clock.monotonicNs() + 700 * 1000000LL);
}

TEST(ClientEngine, AbandonCompletesEverythingWithShutdown) {
  Harness h(1, [](ClientOptions& o) { o.max_outstanding = 3; });
  h.submitMany(5);
  h.step();
  EXPECT_EQ(h.sentTo(0).size(), 3u);
  h.engine->abandon();
  h.engine->takeCompletions(h.completions);
  ASSERT_EQ(h.completions.size(), 5u);
  std::set<uint64_t> tags;
  for (const Completion& c : h.completions) {
    EXPECT_EQ(c.outcome, Outcome::kShutdown);
    tags.insert(c.tag);
  }
  EXPECT_EQ(tags.size(), 5u);
  EXPECT_TRUE(h.engine->idle());
  // Late answers after it change nothing.
  h.answer(0, h.sentTo(0)[0]);
  h.step();
  EXPECT_EQ(h.completions.size(), 5u);
  EXPECT_EQ(h.dropped(DropReason::kLate), 1u);
}

TEST(ClientEngine, AHundredThousandRequestsCompleteExactlyOnce) {
  Harness h(1, [](ClientOptions& o) {
    o.max_outstanding = 4096;
    o.initial_window = 4096;  // every socket in use from the start
    o.queue_limit = 200000;
  });
  constexpr uint64_t kN = 100000;
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < kN; ++i) {
    h.submit(i, i, AcctStatusType::kInterimUpdate);
  }
  std::map<FakeRadiusTransport*, size_t> answered;
  int rounds = 0;
  while (h.completions.size() < kN && rounds < 1000) {
    ++rounds;
    h.step();
    for (FakeRadiusTransport* t : h.socketsOf(0)) {
      size_t& from = answered[t];
      for (; from < t->sent().size(); ++from) {
        t->deliver(kS1, answerTo(t->sent()[from].bytes, kSecret1));
      }
    }
    h.clock.advanceMs(1);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(h.completions.size(), kN);
  std::vector<uint8_t> seen(kN, 0);
  for (const Completion& c : h.completions) {
    ASSERT_LT(c.tag, kN);
    EXPECT_EQ(seen[c.tag]++, 0) << c.tag;
    EXPECT_EQ(c.outcome, Outcome::kAnswered);
  }
  EXPECT_TRUE(h.engine->idle());
  ClientStats st = h.stats();
  EXPECT_EQ(st.completed[size_t(Outcome::kAnswered)], kN);
  EXPECT_EQ(st.servers[0].retransmissions, 0u);
  EXPECT_EQ(st.servers[0].sockets, 16u);
  // Two MD5s per request dominate; an O(n^2) anything would take minutes.
  EXPECT_LT(seconds, 30.0);
}

// ---------------------------------------------------------------- real UDP on 127.0.0.1

// Answers every Accounting-Request and Status-Server it receives (unless silent), from a
// socket bound to 127.0.0.1 at a port the kernel picks.
class Responder {
 public:
  explicit Responder(std::string secret, bool silent = false)
      : secret_(std::move(secret)), silent_(silent) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    int big = 4 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    thread_ = std::thread([this] { loop(); });
  }
  ~Responder() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  Endpoint endpoint() const { return ep("127.0.0.1", port_); }
  uint64_t received() const { return received_; }

 private:
  void loop() {
    std::vector<uint8_t> buf(65536);
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) {
        continue;
      }
      sockaddr_in from{};
      socklen_t len = sizeof(from);
      ssize_t n = ::recvfrom(fd_, buf.data(), buf.size(), MSG_DONTWAIT,
                             reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) {
        continue;
      }
      ++received_;
      if (silent_) {
        continue;
      }
      auto v = parsePacket(std::span<const uint8_t>(buf.data(), size_t(n)));
      if (!std::holds_alternative<ParsedPacket>(v)) {
        continue;
      }
      const ParsedPacket& p2 = std::get<ParsedPacket>(v);
      if (verifyRequest(p2, secret_) != ResponseCheck::kOk) {
        continue;
      }
      auto out = encodeResponse(Code::kAccountingResponse, p2.packet.identifier,
                                p2.packet.authenticator, {}, secret_,
                                p2.packet.code == Code::kStatusServer);
      ::sendto(fd_, out.value().data(), out.value().size(), 0,
               reinterpret_cast<sockaddr*>(&from), len);
    }
  }

  std::string secret_;
  bool silent_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> received_{0};
  std::thread thread_;
};

template <typename F>
bool waitFor(F done, int ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

TEST(UdpTransport, SendsAndReceivesWithTheRealSource) {
  Responder server(kSecret1);
  std::string error;
  auto t = UdpTransport::open(server.endpoint(), &error);
  ASSERT_NE(t, nullptr) << error;
  EXPECT_GE(t->readableFd(), 0);
  EXPECT_EQ(t->receive().result.status, TransportStatus::kWouldBlock);
  auto wire = encodeAccountingRequest(9, {makeInteger(attr::kAcctStatusType, 1)}, kSecret1);
  ASSERT_TRUE(wire.ok());
  ASSERT_TRUE(t->send(server.endpoint(), wire.value()).ok());
  ReceivedDatagram d;
  ASSERT_TRUE(waitFor(
      [&] {
        d = t->receive();
        return d.result.status != TransportStatus::kWouldBlock;
      },
      2000));
  ASSERT_TRUE(d.result.ok()) << d.result.detail;
  EXPECT_EQ(d.source, server.endpoint());
  ParsedPacket req = parse(wire.value());
  EXPECT_EQ(verifyResponse(parse(d.bytes), Code::kAccountingRequest, 9, req.packet.authenticator,
                           kSecret1),
            ResponseCheck::kOk);
  // Only its own server.
  auto other = t->send(ep("127.0.0.1", uint16_t(server.endpoint().port + 1)), wire.value());
  EXPECT_EQ(other.status, TransportStatus::kError);
}

TEST(UdpTransport, AClosedPortIsReportedUnreachable) {
  // A port that was free a moment ago: bind, note, close.
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  const Endpoint closed = ep("127.0.0.1", ntohs(a.sin_port));
  std::string error;
  auto t = UdpTransport::open(closed, &error);
  ASSERT_NE(t, nullptr) << error;
  std::vector<uint8_t> datagram(20, 0);
  TransportResult first = t->send(closed, datagram);
  EXPECT_TRUE(first.ok()) << first.detail;
  ReceivedDatagram d;
  ASSERT_TRUE(waitFor(
      [&] {
        d = t->receive();
        return d.result.status != TransportStatus::kWouldBlock;
      },
      2000));
  EXPECT_EQ(d.result.status, TransportStatus::kUnreachable);
  EXPECT_NE(d.result.detail.find("127.0.0.1:"), std::string::npos) << d.result.detail;
}

TEST(UdpTransport, OpenRefusesAnEndpointWithoutAddress) {
  std::string error;
  EXPECT_EQ(UdpTransport::open(Endpoint{}, &error), nullptr);
  EXPECT_FALSE(error.empty());
}

Request clientRequest(uint64_t tag, const Clock& clock) {
  Request r;
  r.tag = tag;
  r.session = tag;
  r.type = AcctStatusType::kInterimUpdate;
  r.attributes.push_back(makeText(attr::kAcctSessionId, "s" + std::to_string(tag)).value());
  r.event_mono_ns = clock.monotonicNs();
  return r;
}

TEST(RadiusClient, TwoThousandRequestsAreAllAnsweredOverUdp) {
  Responder server(kSecret1);
  SteadyClock clock;
  ClientOptions o;
  o.servers.push_back({server.endpoint(), kSecret1, true});
  o.timeout_ms = 2000;
  o.max_outstanding = 512;
  auto c = RadiusClient::start(o, clock);
  ASSERT_TRUE(c.ok()) << c.error().message;
  RadiusClient& client = *c.value();
  std::vector<Request> batch;
  for (uint64_t i = 0; i < 1000; ++i) {
    batch.push_back(clientRequest(i, clock));
  }
  client.submit(batch);
  EXPECT_TRUE(batch.empty());
  for (uint64_t i = 1000; i < 2000; ++i) {
    client.submit(clientRequest(i, clock));
  }
  std::vector<Completion> done;
  ASSERT_TRUE(waitFor(
      [&] {
        client.drainCompletions(done);
        return done.size() >= 2000;
      },
      30000))
      << done.size();
  EXPECT_EQ(client.pending(), 0u);
  std::set<uint64_t> tags;
  for (const Completion& x : done) {
    EXPECT_EQ(x.outcome, Outcome::kAnswered) << outcomeName(x.outcome);
    tags.insert(x.tag);
  }
  EXPECT_EQ(tags.size(), 2000u);
  ASSERT_TRUE(waitFor([&] { return client.stats().completed[0] == 2000; }, 1000));
  ClientStats st = client.stats();
  EXPECT_EQ(st.servers[0].responses, 2000u);
  EXPECT_EQ(st.servers[0].sockets, 2u);
  client.stop();
  client.submit(clientRequest(5000, clock));  // after stop: completed at once
  done.clear();
  client.drainCompletions(done);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].outcome, Outcome::kShutdown);
}

TEST(RadiusClient, ASilentServerEndsInNoAnswerAfterTheExpectedTransmissions) {
  Responder server(kSecret1, /*silent=*/true);
  SteadyClock clock;
  ClientOptions o;
  o.servers.push_back({server.endpoint(), kSecret1, true});
  o.timeout_ms = 100;
  o.retries = 1;
  auto c = RadiusClient::start(o, clock);
  ASSERT_TRUE(c.ok()) << c.error().message;
  RadiusClient& client = *c.value();
  auto t0 = std::chrono::steady_clock::now();
  client.submit(clientRequest(1, clock));
  std::vector<Completion> done;
  ASSERT_TRUE(waitFor(
      [&] {
        client.drainCompletions(done);
        return !done.empty();
      },
      5000));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
  EXPECT_EQ(done[0].outcome, Outcome::kNoAnswer);
  EXPECT_EQ(done[0].transmissions, 2u);
  EXPECT_GE(ms, 200);
  // 2 Accounting-Requests, then (the server marked dead) Status-Server probes.
  EXPECT_GE(server.received(), 2u);
  ASSERT_TRUE(waitFor([&] { return client.stats().servers[0].marked_dead == 1; }, 1000));
  // With the only server dead (its probes unanswered), the next request waits its budget
  // (2 x 100 ms), then kNoServer.
  client.submit(clientRequest(2, clock));
  ASSERT_TRUE(waitFor(
      [&] {
        client.drainCompletions(done);
        return done.size() == 2;
      },
      2000));
  EXPECT_EQ(done[1].outcome, Outcome::kNoServer);
}

TEST(RadiusClient, StopCompletesWhatIsInFlightWithShutdown) {
  Responder server(kSecret1, /*silent=*/true);
  SteadyClock clock;
  ClientOptions o;
  o.servers.push_back({server.endpoint(), kSecret1, true});
  o.timeout_ms = 10000;
  auto c = RadiusClient::start(o, clock);
  ASSERT_TRUE(c.ok());
  RadiusClient& client = *c.value();
  for (uint64_t i = 0; i < 10; ++i) {
    client.submit(clientRequest(i, clock));
  }
  ASSERT_TRUE(waitFor([&] { return server.received() == 10; }, 2000));
  client.stop();
  std::vector<Completion> done;
  client.drainCompletions(done);
  ASSERT_EQ(done.size(), 10u);
  for (const Completion& x : done) {
    EXPECT_EQ(x.outcome, Outcome::kShutdown);
  }
  EXPECT_EQ(client.pending(), 0u);
}

TEST(RadiusClient, StartRefusesBadOptions) {
  SteadyClock clock;
  ClientOptions none;
  EXPECT_FALSE(RadiusClient::start(none, clock).ok());
  ClientOptions empty_secret;
  empty_secret.servers.push_back({ep("127.0.0.1", 1813), "", true});
  auto r = RadiusClient::start(empty_secret, clock);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("empty secret"), std::string::npos);
}

}  // namespace
}  // namespace tally::radius
