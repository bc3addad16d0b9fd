#pragma once
// The RADIUS accounting client (RFC 2866 with the retransmission and server-selection rules of
// RFC 5080, Status-Server probing of RFC 5997): many requests in flight, never blocking its
// caller. Two layers:
//
// - ClientEngine: the whole protocol logic, single-threaded, driven by its owner's event loop,
//   with the clock, the sockets (TransportFactory) and the randomness injected, so unit tests
//   run it with tests/fakes/fake_radius_transport.h and tests/fakes/fake_clock.h.
// - RadiusClient: the engine on its own thread with real UDP sockets (udp_transport.h), fed by
//   submit() from the control-plane (poll) thread and answering through drainCompletions().
//
// Rules the engine keeps (docs/radius.md):
// - Identifiers: 256 per socket; a socket is connected to one server; a server gets more
//   sockets (source ports) as needed, up to ceil(max_outstanding / 256). An Identifier is not
//   reused on its socket while a request with it is outstanding there.
// - A retransmission of an unchanged packet resends the same bytes (same Identifier and
//   Request Authenticator). Acct-Delay-Time (whole seconds since event_mono_ns) is part of
//   every request; when its value changes between transmissions the packet is a new one: new
//   Identifier, new Request Authenticator (RFC 5080 §2.2.1). No (socket, Identifier,
//   authenticator) is ever reused with different content.
// - Each server gets 1 + retries transmissions of a request, timeout_ms apart; then the next
//   live server in the configured order, with its own 1 + retries; after the last server the
//   request completes with kNoAnswer. ECONNREFUSED on a server's socket counts as that
//   transmission's timeout at once.
// - A server is marked dead when a request used up its transmissions there and no valid
//   response came from that server since that request was first sent to it. A dead server
//   with status_server is probed with Status-Server at once and every probe_interval_ms until
//   a valid answer marks it alive; one without is held down for hold_down_ms, then alive
//   again. New requests go to the first live server in order. When no server is live a
//   request waits in the queue, at most its budget (servers x (1 + retries) x timeout_ms from
//   its submission), then completes with kNoServer.
// - A response is matched by (socket, Identifier) and checked (radius_codec.h verifyResponse)
//   against any transmission of the request still remembered; datagrams from a source other
//   than the socket's server, unparsable ones, unknown Identifiers, wrong codes and wrong
//   authenticators are dropped and counted by reason. An answer to a request that already
//   completed (kNoAnswer, kCancelled) is counted as late and changes nothing.
// - Submitting a Stop cancels that session's Interim-Updates still queued or in flight
//   (kCancelled): no Interim-Update is sent after the session's Stop. Start, Interim and Stop
//   never wait for each other's answers.
// - Bounded: at most max_outstanding in flight, at most queue_limit waiting; a submit beyond
//   that completes with kQueueFull (counted, never silent).
// - Paced: new requests go out within a congestion window (32 at first, growing with answers
//   like TCP's slow start, halved at most once per timeout_ms when a transmission times out),
//   so that a burst (a restart's sessions) does not overflow the server's socket buffer.
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/radius/radius_codec.h"
#include "controlplane/radius/radius_transport.h"
#include "shared/clock.h"
#include "shared/result.h"

namespace tally::radius {

struct ServerOptions {
  Endpoint endpoint;
  std::string secret;         // non-empty; never logged
  bool status_server = true;  // probe a dead server with Status-Server before using it again
};

struct ClientOptions {
  std::vector<ServerOptions> servers;  // 1..8, in order of preference
  uint32_t timeout_ms = 3000;          // wait for the answer to one transmission
  uint32_t retries = 3;                // retransmissions per server: 1 + retries sends
  uint32_t hold_down_ms = 30000;       // a dead server without Status-Server: not used this long
  uint32_t probe_interval_ms = 5000;   // Status-Server probes of a dead server
  size_t max_outstanding = 4096;       // requests in flight at once, all servers
  size_t queue_limit = 262144;         // requests waiting to be sent
  size_t initial_window = 32;          // congestion window at start (see "Paced" above)
  // Each transmission waits timeout_ms x (1 + U[0, timeout_jitter)) for its answer (RFC 5080
  // §2.2.1's RAND): the retransmissions of a burst that was lost together spread out.
  double timeout_jitter = 0.1;
};

enum class Outcome : uint8_t {
  kAnswered = 0,  // a valid Accounting-Response
  kNoAnswer,      // every transmission to every live server went unanswered
  kNoServer,      // no server came alive within the request's budget: not sent
  kQueueFull,     // refused at submit: queue_limit requests were waiting (back-pressure)
  kCancelled,     // an Interim-Update superseded by its session's Stop
  kShutdown,      // the client stopped before it completed
  kCount
};
const char* outcomeName(Outcome o);  // "answered", "no-answer", ...

struct Request {
  uint64_t tag = 0;      // the caller's; echoed in the Completion
  uint64_t session = 0;  // a Stop cancels the Interim-Updates of the same session
  AcctStatusType type = AcctStatusType::kStart;
  std::vector<Attribute> attributes;  // without Acct-Delay-Time: the client adds it
  int64_t event_mono_ns = 0;          // the event's time: Acct-Delay-Time counts from here
                                      // (0: the time of submission)
};

struct Completion {
  uint64_t tag = 0;
  uint64_t session = 0;
  AcctStatusType type = AcctStatusType::kStart;
  Outcome outcome = Outcome::kAnswered;
  int server = -1;              // index of the server that answered, else -1
  uint32_t transmissions = 0;   // datagrams sent for it, all servers
  int64_t latency_ns = 0;       // submit to completion
};

// Why a received datagram was dropped.
enum class DropReason : uint8_t {
  kUnknownSource = 0,   // not from the socket's server
  kMalformed,           // parsePacket refused it
  kUnknownIdentifier,   // no request outstanding with it on that socket (and not late)
  kUnexpectedCode,
  kBadAuthenticator,    // Response Authenticator or Message-Authenticator wrong
  kLate,                // answer to a request that had already completed
  kCount
};
const char* dropReasonName(DropReason r);  // "unknown-source", ...

enum class ServerState : uint8_t { kAlive = 0, kDead, kProbing };
const char* serverStateName(ServerState s);  // "alive", "dead", "probing"

struct ServerStats {
  Endpoint endpoint;
  ServerState state = ServerState::kAlive;
  int64_t state_since_wall_ns = 0;
  uint64_t requests = 0;          // first transmissions of requests to this server
  uint64_t retransmissions = 0;   // further transmissions (same bytes or new Identifier)
  uint64_t timeouts = 0;          // transmissions unanswered within timeout_ms (or refused)
  uint64_t responses = 0;         // valid answers
  uint64_t unreachable = 0;       // ICMP unreachable reports
  uint64_t send_errors = 0;
  uint64_t failovers_from = 0;    // requests moved on to the next server after this one
  uint64_t marked_dead = 0;
  uint64_t probes_sent = 0;
  uint64_t probes_answered = 0;
  uint32_t sockets = 0;
  int64_t last_rtt_ns = 0;
};

struct ClientStats {
  std::vector<ServerStats> servers;
  uint64_t submitted = 0;
  uint64_t queued = 0;        // waiting now
  uint64_t outstanding = 0;   // in flight now
  uint64_t window = 0;        // in flight allowed now (congestion window, <= max_outstanding)
  uint64_t max_queued = 0;
  std::array<uint64_t, size_t(Outcome::kCount)> completed{};
  std::array<uint64_t, size_t(DropReason::kCount)> dropped{};
};

class ClientEngine {
 public:
  // Opens one socket connected to `to`; null with *error set when it cannot.
  using TransportFactory =
      std::function<std::unique_ptr<RadiusTransport>(const Endpoint& to, std::string* error)>;
  // Fills 16 random octets (production: libsodium randombytes_buf).
  using RandomFn = std::function<void(Authenticator&)>;

  ClientEngine(ClientOptions options, TransportFactory sockets, const Clock& clock,
               RandomFn random);
  ~ClientEngine();
  ClientEngine(const ClientEngine&) = delete;
  ClientEngine& operator=(const ClientEngine&) = delete;

  // Queues a request (or completes it at once: kQueueFull, kNoServer).
  void submit(Request r);
  // Reads every waiting datagram of every socket and settles what it answers.
  void receive();
  // Sends what is due: queued requests (up to max_outstanding), retransmissions, fail-overs,
  // probes; completes what timed out on the last server.
  void run();
  // The monotonic time run() next has work (INT64_MAX: none), for the event loop's poll().
  int64_t nextDueMonoNs() const;
  // The sockets' descriptors to wait on (those with one).
  std::vector<int> fds() const;
  // Completions since the last call, appended to `out`.
  void takeCompletions(std::vector<Completion>& out);
  // Completes everything queued or in flight with kShutdown.
  void abandon();
  bool idle() const;  // nothing queued, nothing in flight
  ClientStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The engine on its own thread, with UDP sockets (udp_transport.h) and libsodium randomness.
class RadiusClient {
 public:
  // Refuses options with no server, an empty secret, or a socket that cannot be opened.
  static Result<std::unique_ptr<RadiusClient>> start(ClientOptions options, const Clock& clock);
  ~RadiusClient();  // stop()
  // Any thread (the control-plane thread): hands the request to the client's thread and wakes
  // it. Never blocks on the network; a full queue completes the request with kQueueFull.
  void submit(Request r);
  void submit(std::vector<Request>& batch);  // moved from; one wake-up
  // Control-plane thread: completions since the last call, appended.
  void drainCompletions(std::vector<Completion>& out);
  // Requests submitted and not yet drained as completions.
  uint64_t pending() const;
  ClientStats stats() const;  // a snapshot, taken on the client's thread at most 100 ms ago
  // Completes what is still queued or in flight with kShutdown and joins the thread.
  void stop();

 private:
  RadiusClient() = default;
  struct Shared;
  std::unique_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace tally::radius
