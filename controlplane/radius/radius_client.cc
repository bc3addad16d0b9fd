#include "controlplane/radius/radius_client.h"

#include <poll.h>
#include <sodium.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <queue>
#include <unordered_map>
#include <utility>

#include "controlplane/log.h"
#include "controlplane/radius/udp_transport.h"

// The rules are in radius_client.h (and docs/radius.md, section 6). Decisions taken here:
//
// - Timers: one min-heap of (due time, request slot, timer sequence) with lazy deletion: a
//   request that is answered, or whose timer moved, leaves its old entry behind; an entry
//   counts only when its sequence is still the request's. run() costs O(due · log n); the
//   heap is rebuilt when stale entries outnumber live ones, so it stays O(outstanding).
// - No live server: a request waits in the (bounded) queue for a server to come back, but no
//   longer than it would have taken to try every server (servers x (1 + retries) x timeout_ms
//   from its submission); then it completes with kNoServer. A dead server that answers
//   Status-Server is probed at once, so a server marked dead by one unlucky request (a user
//   it never answers) is back within a probe's round trip and the waiting requests go out.
//   A request already sent that runs out of servers completes with kNoAnswer.
// - Late answers: per (socket, Identifier) the last kLateDepth (socket, Identifier,
//   authenticator) of requests that completed, answered or not, and of probes replaced by the
//   next one; a duplicate answer to an answered request is late too. O(1) per datagram.
// - kWouldBlock on send: nothing counts (no transmission, no try); a first send goes back to
//   the front of the queue, a retransmission is retried; both on the next run(), which
//   nextDueMonoNs() puts 1 ms ahead so a full socket buffer does not spin the event loop.
// - An Identifier is needed for a new packet (first send to a server, Acct-Delay-Time
//   changed). When the server's sockets are all full (ceil(max_outstanding / 256) of them),
//   a retransmission whose Acct-Delay-Time changed resends its previous, unchanged packet
//   instead (allowed: it is a plain retransmission), and a first send waits in the queue
//   until an Identifier is freed.
// - Attributes: Acct-Status-Type is added from Request::type when the caller did not put one
//   in; an Acct-Delay-Time the caller put in is replaced by the client's.
// - A request whose attributes cannot be encoded (a packet above 4096 octets) can never be
//   sent: it counts as a send error and completes with kNoAnswer, with a warning (a caller
//   bug: the codec names the attribute and the rule).
// - A Stop cancels its session's Interim-Updates when it is submitted, even when the Stop
//   itself is then refused (kQueueFull, kNoServer): the caller bills the Stop locally, and an
//   interim sent after it would contradict it.
// - Transmissions to a server the request failed over from are remembered as late (the brief
//   of this client): their answers are counted kLate and do not complete the request, which
//   is in the next server's hands by then.
// - Only a probe's answer (or, without Status-Server, the end of the hold-down) revives a dead
//   server; answers to requests still in flight on it complete them but do not revive it
//   (RFC 5997 §4: the probe is what says the server is back). With Status-Server the probing
//   starts the moment the server is marked dead (kProbing) and hold_down_ms does not apply.

namespace tally::radius {

const char* outcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAnswered:
      return "answered";
    case Outcome::kNoAnswer:
      return "no-answer";
    case Outcome::kNoServer:
      return "no-server";
    case Outcome::kQueueFull:
      return "queue-full";
    case Outcome::kCancelled:
      return "cancelled";
    case Outcome::kShutdown:
      return "shutdown";
    case Outcome::kCount:
      break;
  }
  return "unknown";
}

const char* dropReasonName(DropReason r) {
  switch (r) {
    case DropReason::kUnknownSource:
      return "unknown-source";
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kUnknownIdentifier:
      return "unknown-identifier";
    case DropReason::kUnexpectedCode:
      return "unexpected-code";
    case DropReason::kBadAuthenticator:
      return "bad-authenticator";
    case DropReason::kLate:
      return "late";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

const char* serverStateName(ServerState s) {
  switch (s) {
    case ServerState::kAlive:
      return "alive";
    case ServerState::kDead:
      return "dead";
    case ServerState::kProbing:
      return "probing";
  }
  return "unknown";
}

namespace {

constexpr int64_t kNsPerMs = 1000000;
constexpr int64_t kNsPerS = 1000000000;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr uint32_t kFree = std::numeric_limits<uint32_t>::max();
constexpr uint32_t kProbeOwner = kFree - 1;
constexpr size_t kLateDepth = 8;          // late authenticators remembered per (socket, id)
constexpr size_t kReceiveBurst = 4096;    // datagrams per socket per receive() call
constexpr int64_t kRetryNs = kNsPerMs;    // would-block: the next run(), not a busy loop
constexpr int64_t kSocketRetryNs = 1000 * kNsPerMs;  // after the socket factory failed

}  // namespace

struct ClientEngine::Impl {
  // One transmission's identity: what an answer is checked against.
  struct Tx {
    uint32_t sock = 0;
    uint8_t id = 0;
    Authenticator auth{};
    int64_t sent_ns = 0;  // the last time these bytes were sent (for the RTT)
  };

  enum class Phase : uint8_t { kFree, kQueued, kAwaiting, kSendDue };

  struct Req {
    uint64_t serial = 0;  // 0: slot free; unique per request otherwise
    Phase phase = Phase::kFree;
    Request r;
    int64_t submit_ns = 0;
    uint32_t transmissions = 0;
    int server = -1;
    uint32_t tries = 0;              // transmissions (or refused tries) on `server`
    int64_t first_sent_ns = kNever;  // first transmission to `server`
    uint32_t delay = 0;              // Acct-Delay-Time of `bytes`
    std::vector<uint8_t> bytes;      // the current packet for `server` (empty: none yet)
    std::vector<Tx> txs;             // every packet of this server try; back() = current
    uint64_t timer_seq = 0;
  };

  struct LateEntry {
    Authenticator auth{};
    Code code = Code::kAccountingRequest;
    bool valid = false;
  };
  struct LateSet {
    std::array<LateEntry, kLateDepth> e;
    uint8_t next = 0;
  };

  struct Owner {
    uint32_t slot = kFree;
    uint64_t serial = 0;
  };

  struct Socket {
    std::unique_ptr<RadiusTransport> t;
    int server = 0;
    std::array<Owner, 256> owner;
    uint16_t used = 0;
    uint8_t next = 0;  // round-robin cursor: a just-freed Identifier is not reused at once
    std::unique_ptr<std::array<LateSet, 256>> late;
  };

  struct Server {
    ServerOptions opt;
    std::string name;  // endpoint text for logs
    ServerStats st;
    std::vector<uint32_t> sockets;
    int64_t dead_until_ns = 0;
    int64_t last_response_ns = std::numeric_limits<int64_t>::min();
    int64_t socket_retry_ns = 0;  // factory failed: not before this
    bool full = false;            // every Identifier of every allowed socket is taken
    // The probe in flight (Status-Server), if any.
    bool probe_active = false;
    uint32_t probe_sock = 0;
    uint8_t probe_id = 0;
    Authenticator probe_auth{};
    int64_t next_probe_ns = 0;
  };

  struct Timer {
    int64_t at;
    uint32_t slot;
    uint64_t seq;
    bool operator>(const Timer& o) const { return at > o.at; }
  };

  ClientOptions opt;
  TransportFactory factory;
  const Clock& clock;
  RandomFn random;
  size_t max_sockets_per_server = 1;

  std::vector<Server> servers;
  std::vector<Socket> sockets;
  std::vector<Req> reqs;
  std::vector<uint32_t> free_slots;
  uint64_t next_serial = 1;
  uint64_t next_timer_seq = 1;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers;
  size_t live_timers = 0;  // requests in kAwaiting / kSendDue with a heap entry

  std::deque<std::pair<uint32_t, uint64_t>> queue;  // (slot, serial); cancelled ones stay, stale
  uint64_t queued = 0;
  uint64_t outstanding = 0;
  // Congestion window (requests in flight, all servers), TCP-like: a burst sent at once
  // overflows a server's socket buffer (a stock FreeRADIUS holds ~190 requests) and every
  // request lost there costs a whole timeout. Starts at initial_window, +1 per answer below
  // ssthresh (doubling per round trip), +1/window above it; a timeout halves it (not below
  // kMinWindow). Never above max_outstanding.
  double cwnd = 0;
  double ssthresh = 0;
  static constexpr double kMinWindow = 8;
  size_t window() const {
    return std::min<size_t>(opt.max_outstanding, size_t(cwnd));
  }
  void onAnswerWindow() {
    cwnd += cwnd < ssthresh ? 1.0 : 1.0 / cwnd;
    cwnd = std::min(cwnd, double(opt.max_outstanding));
  }
  // timeout_ms, stretched by up to timeout_jitter (a xorshift seeded from RandomFn).
  uint64_t jitter_state = 0x9E3779B97F4A7C15ull;
  int64_t timeoutNs() {
    const int64_t base = int64_t{opt.timeout_ms} * kNsPerMs;
    if (opt.timeout_jitter <= 0) {
      return base;
    }
    jitter_state ^= jitter_state << 13;
    jitter_state ^= jitter_state >> 7;
    jitter_state ^= jitter_state << 17;
    const double u = double(jitter_state >> 11) / double(uint64_t{1} << 53);
    return base + int64_t(double(base) * opt.timeout_jitter * u);
  }
  // Once per timeout_ms at most: the requests of one lost burst time out together.
  void onLossWindow() {
    const int64_t now = clock.monotonicNs();
    if (now - last_loss_ns < int64_t{opt.timeout_ms} * kNsPerMs) {
      return;
    }
    last_loss_ns = now;
    ssthresh = std::max(kMinWindow, cwnd / 2);
    cwnd = ssthresh;
  }
  int64_t last_loss_ns = std::numeric_limits<int64_t>::min() / 2;
  // Why the queue is not drained now: kNever = an Identifier must be freed first; else the
  // time from which it may be tried again (0: now).
  int64_t queue_ready_ns = 0;
  bool queue_retry_next_run = false;
  std::vector<std::pair<uint32_t, uint64_t>> send_retry;  // would-block retransmissions

  // Session -> its Interim-Updates queued or in flight, for a Stop to cancel.
  std::unordered_map<uint64_t, std::vector<std::pair<uint32_t, uint64_t>>> interims;

  std::vector<Completion> done;
  uint64_t submitted = 0;
  uint64_t max_queued = 0;
  std::array<uint64_t, size_t(Outcome::kCount)> completed{};
  std::array<uint64_t, size_t(DropReason::kCount)> dropped{};

  Impl(ClientOptions o, TransportFactory f, const Clock& c, RandomFn rnd)
      : opt(std::move(o)), factory(std::move(f)), clock(c), random(std::move(rnd)) {
    max_sockets_per_server = std::max<size_t>(1, (opt.max_outstanding + 255) / 256);
    cwnd = double(std::max<size_t>(1, std::min(opt.initial_window, opt.max_outstanding)));
    // Slow start up to 256 in flight (what a stock server buffer takes), then +1 per window.
    ssthresh = double(std::min<size_t>(opt.max_outstanding, 256));
    Authenticator seed{};
    random(seed);
    for (size_t i = 0; i < 8; ++i) {
      jitter_state = (jitter_state << 8) ^ seed[i] ^ (jitter_state >> 56);
    }
    jitter_state |= 1;
    for (const ServerOptions& so : opt.servers) {
      Server s;
      s.opt = so;
      s.name = formatEndpoint(so.endpoint);
      s.st.endpoint = so.endpoint;
      s.st.state = ServerState::kAlive;
      s.st.state_since_wall_ns = clock.wallNs();
      servers.push_back(std::move(s));
    }
  }

  // ---- requests

  uint32_t allocSlot() {
    if (!free_slots.empty()) {
      uint32_t s = free_slots.back();
      free_slots.pop_back();
      return s;
    }
    reqs.emplace_back();
    return static_cast<uint32_t>(reqs.size() - 1);
  }

  bool current(uint32_t slot, uint64_t serial) const {
    return slot < reqs.size() && reqs[slot].serial == serial;
  }

  void setTimer(uint32_t slot, Phase phase, int64_t at) {
    Req& q = reqs[slot];
    if (q.phase != Phase::kAwaiting && q.phase != Phase::kSendDue) {
      ++live_timers;
    }
    q.phase = phase;
    q.timer_seq = next_timer_seq++;
    timers.push({at, slot, q.timer_seq});
    // Lazy deletion leaves stale entries; rebuild when they dominate.
    if (timers.size() > 4 * live_timers + 4096) {
      std::vector<Timer> keep;
      keep.reserve(live_timers);
      while (!timers.empty()) {
        const Timer& t = timers.top();
        if (timerValid(t)) {
          keep.push_back(t);
        }
        timers.pop();
      }
      timers = decltype(timers)(std::greater<Timer>(), std::move(keep));
    }
  }

  bool timerValid(const Timer& t) const {
    if (t.slot >= reqs.size()) {
      return false;
    }
    const Req& q = reqs[t.slot];
    return q.serial != 0 && q.timer_seq == t.seq &&
           (q.phase == Phase::kAwaiting || q.phase == Phase::kSendDue);
  }

  void complete(uint32_t slot, Outcome outcome, int answered_by) {
    Req& q = reqs[slot];
    const int64_t now = clock.monotonicNs();
    if (q.phase == Phase::kQueued) {
      --queued;
    } else if (q.phase == Phase::kAwaiting || q.phase == Phase::kSendDue) {
      --outstanding;
      --live_timers;
    }
    retireTxs(q);
    if (q.r.type == AcctStatusType::kInterimUpdate) {
      auto it = interims.find(q.r.session);
      if (it != interims.end()) {
        auto& v = it->second;
        v.erase(std::remove(v.begin(), v.end(), std::make_pair(slot, q.serial)), v.end());
        if (v.empty()) {
          interims.erase(it);
        }
      }
    }
    Completion c;
    c.tag = q.r.tag;
    c.session = q.r.session;
    c.type = q.r.type;
    c.outcome = outcome;
    c.server = answered_by;
    c.transmissions = q.transmissions;
    c.latency_ns = now - q.submit_ns;
    done.push_back(c);
    ++completed[size_t(outcome)];
    q.serial = 0;
    q.phase = Phase::kFree;
    q.r = Request{};
    q.bytes.clear();
    q.bytes.shrink_to_fit();
    q.txs.clear();
    q.txs.shrink_to_fit();
    free_slots.push_back(slot);
  }

  // The request's transmissions become late-matchable and their Identifiers free.
  void retireTxs(Req& q) {
    for (const Tx& tx : q.txs) {
      rememberLate(tx.sock, tx.id, tx.auth, Code::kAccountingRequest);
      freeId(tx.sock, tx.id);
    }
    q.txs.clear();
  }

  // ---- Identifiers and sockets

  void rememberLate(uint32_t sock, uint8_t id, const Authenticator& auth, Code code) {
    Socket& s = sockets[sock];
    if (!s.late) {
      s.late = std::make_unique<std::array<LateSet, 256>>();
    }
    LateSet& ls = (*s.late)[id];
    ls.e[ls.next] = {auth, code, true};
    ls.next = static_cast<uint8_t>((ls.next + 1) % kLateDepth);
  }

  void freeId(uint32_t sock, uint8_t id) {
    Socket& s = sockets[sock];
    if (s.owner[id].slot == kFree) {
      return;
    }
    s.owner[id] = Owner{};
    --s.used;
    Server& sv = servers[size_t(s.server)];
    if (sv.full) {
      sv.full = false;
      if (queue_ready_ns == kNever) {
        queue_ready_ns = 0;
      }
    }
  }

  enum class Alloc : uint8_t { kOk, kFull, kNoSocket };

  // An Identifier on one of the server's sockets, opening another socket when all are full.
  Alloc allocId(int server, Owner owner, uint32_t* sock_out, uint8_t* id_out) {
    Server& sv = servers[size_t(server)];
    for (uint32_t si : sv.sockets) {
      Socket& s = sockets[si];
      if (s.used < 256) {
        for (int k = 0; k < 256; ++k) {
          uint8_t id = static_cast<uint8_t>(s.next + k);
          if (s.owner[id].slot == kFree) {
            s.owner[id] = owner;
            ++s.used;
            s.next = static_cast<uint8_t>(id + 1);
            *sock_out = si;
            *id_out = id;
            return Alloc::kOk;
          }
        }
      }
    }
    if (sv.sockets.size() >= max_sockets_per_server) {
      sv.full = true;
      return Alloc::kFull;
    }
    const int64_t now = clock.monotonicNs();
    if (now < sv.socket_retry_ns) {
      return Alloc::kNoSocket;
    }
    std::string error;
    std::unique_ptr<RadiusTransport> t = factory(sv.opt.endpoint, &error);
    if (!t) {
      ++sv.st.send_errors;
      sv.socket_retry_ns = now + kSocketRetryNs;
      logWarn("radius: cannot open a socket to server " + sv.name + ": " + error);
      return Alloc::kNoSocket;
    }
    Socket s;
    s.t = std::move(t);
    s.server = server;
    s.owner[0] = owner;
    s.used = 1;
    s.next = 1;
    sockets.push_back(std::move(s));
    uint32_t si = static_cast<uint32_t>(sockets.size() - 1);
    sv.sockets.push_back(si);
    ++sv.st.sockets;
    *sock_out = si;
    *id_out = 0;
    return Alloc::kOk;
  }

  // ---- servers

  bool alive(int s) const { return servers[size_t(s)].st.state == ServerState::kAlive; }

  int firstAlive(int after) const {
    for (int s = after + 1; s < int(servers.size()); ++s) {
      if (alive(s)) {
        return s;
      }
    }
    return -1;
  }

  void setState(int s, ServerState st) {
    Server& sv = servers[size_t(s)];
    sv.st.state = st;
    sv.st.state_since_wall_ns = clock.wallNs();
    if (st == ServerState::kAlive) {
      queue_ready_ns = 0;  // the queue may go to this server now; drainQueue() finds out
    }
  }

  void markDead(int s, const std::string& why) {
    Server& sv = servers[size_t(s)];
    setState(s, ServerState::kDead);
    ++sv.st.marked_dead;
    if (sv.opt.status_server) {
      // Probed from now on (run() sends the first probe at once); alive on an answer.
      sv.dead_until_ns = clock.monotonicNs();
      setState(s, ServerState::kProbing);
      sv.next_probe_ns = sv.dead_until_ns;
      logWarn("radius: server " + sv.name + " marked dead: " + why +
              "; probing it with Status-Server every " + std::to_string(opt.probe_interval_ms) +
              " ms");
      return;
    }
    sv.dead_until_ns = clock.monotonicNs() + int64_t{opt.hold_down_ms} * kNsPerMs;
    logWarn("radius: server " + sv.name + " marked dead: " + why + "; held down " +
            std::to_string(opt.hold_down_ms) + " ms");
  }

  void markAlive(int s, const std::string& why) {
    setState(s, ServerState::kAlive);
    // A server back from the dead starts a fresh slow start (the losses were its absence).
    cwnd = std::max(cwnd, double(std::max<size_t>(1, std::min(opt.initial_window,
                                                                opt.max_outstanding))));
    ssthresh = std::max(ssthresh, double(std::min<size_t>(opt.max_outstanding, 256)));
    logInfo("radius: server " + servers[size_t(s)].name + " alive again: " + why);
  }

  // Hold-down ends: probing, or alive without Status-Server. Probes are sent by run().
  void refreshStates(int64_t now) {
    for (int s = 0; s < int(servers.size()); ++s) {
      Server& sv = servers[size_t(s)];
      if (sv.st.state == ServerState::kDead && now >= sv.dead_until_ns) {
        if (sv.opt.status_server) {
          setState(s, ServerState::kProbing);
          sv.next_probe_ns = now;
        } else {
          markAlive(s, "hold-down of " + std::to_string(opt.hold_down_ms) +
                           " ms over (no Status-Server)");
        }
      }
    }
  }

  void retireProbe(Server& sv) {
    if (sv.probe_active) {
      rememberLate(sv.probe_sock, sv.probe_id, sv.probe_auth, Code::kStatusServer);
      freeId(sv.probe_sock, sv.probe_id);
      sv.probe_active = false;
    }
  }

  void sendProbe(int s, int64_t now) {
    Server& sv = servers[size_t(s)];
    sv.next_probe_ns = now + int64_t{opt.probe_interval_ms} * kNsPerMs;
    retireProbe(sv);
    uint32_t sock = 0;
    uint8_t id = 0;
    if (allocId(s, Owner{kProbeOwner, 0}, &sock, &id) != Alloc::kOk) {
      return;  // no Identifier or socket now: the next interval tries again
    }
    Authenticator auth{};
    random(auth);
    auto wire = encodeStatusServer(id, auth, {}, sv.opt.secret);
    if (!wire) {
      freeId(sock, id);
      ++sv.st.send_errors;
      return;
    }
    TransportResult r = sockets[sock].t->send(sv.opt.endpoint, wire.value());
    if (!r.ok()) {
      freeId(sock, id);
      if (r.status == TransportStatus::kUnreachable) {
        ++sv.st.unreachable;
      } else if (r.status != TransportStatus::kWouldBlock) {
        ++sv.st.send_errors;
      }
      return;
    }
    ++sv.st.probes_sent;
    sv.probe_active = true;
    sv.probe_sock = sock;
    sv.probe_id = id;
    sv.probe_auth = auth;
  }

  // ---- transmissions

  uint32_t delayNow(const Req& q, int64_t now) const {
    if (now <= q.r.event_mono_ns) {
      return 0;
    }
    int64_t s = (now - q.r.event_mono_ns) / kNsPerS;
    return s > int64_t{std::numeric_limits<uint32_t>::max()}
               ? std::numeric_limits<uint32_t>::max()
               : static_cast<uint32_t>(s);
  }

  std::vector<Attribute> attributesWithDelay(const Request& r, uint32_t delay) const {
    std::vector<Attribute> a;
    a.reserve(r.attributes.size() + 2);
    bool has_status = false;
    for (const Attribute& x : r.attributes) {
      has_status = has_status || x.type == attr::kAcctStatusType;
    }
    if (!has_status) {
      a.push_back(makeInteger(attr::kAcctStatusType, static_cast<uint32_t>(r.type)));
    }
    for (const Attribute& x : r.attributes) {
      if (x.type != attr::kAcctDelayTime) {
        a.push_back(x);
      }
    }
    a.push_back(makeInteger(attr::kAcctDelayTime, delay));
    return a;
  }

  enum class Sent : uint8_t { kOk, kBlocked, kFailed, kDropped };

  // One transmission of request `slot` to its server: the remembered bytes when unchanged,
  // else a new packet with a new Identifier. kBlocked: nothing happened that counts (would
  // block, no Identifier or socket yet); kFailed: the try counts and failed now (refused,
  // send error); kDropped: the request was completed (cannot be encoded).
  Sent transmit(uint32_t slot, int64_t now) {
    Req& q = reqs[slot];
    Server& sv = servers[size_t(q.server)];
    const uint32_t delay = delayNow(q, now);
    if (q.bytes.empty() || delay != q.delay) {
      uint32_t sock = 0;
      uint8_t id = 0;
      Alloc a = allocId(q.server, Owner{slot, q.serial}, &sock, &id);
      if (a != Alloc::kOk) {
        if (q.bytes.empty()) {
          return Sent::kBlocked;
        }
        // No Identifier for a new packet: the previous one, unchanged, is a valid
        // retransmission (its Acct-Delay-Time one step behind).
      } else {
        auto wire = encodeAccountingRequest(id, attributesWithDelay(q.r, delay), sv.opt.secret);
        if (!wire) {
          freeId(sock, id);
          ++sv.st.send_errors;
          logWarn("radius: request (session " + std::to_string(q.r.session) +
                  ") cannot be encoded, not sent: " + wire.error().message);
          complete(slot, Outcome::kNoAnswer, -1);
          return Sent::kDropped;
        }
        q.bytes = std::move(wire.value());
        q.delay = delay;
        Tx tx;
        tx.sock = sock;
        tx.id = id;
        std::copy_n(q.bytes.begin() + 4, kAuthenticatorOctets, tx.auth.begin());
        q.txs.push_back(tx);
      }
    }
    Tx& tx = q.txs.back();
    TransportResult r = sockets[tx.sock].t->send(sv.opt.endpoint, q.bytes);
    if (r.status != TransportStatus::kWouldBlock && q.first_sent_ns == kNever) {
      q.first_sent_ns = now;  // a refused try starts the server try as a sent one would
    }
    switch (r.status) {
      case TransportStatus::kOk:
        break;
      case TransportStatus::kWouldBlock:
        return Sent::kBlocked;
      case TransportStatus::kUnreachable:
        // The server's port or host is unreachable: this try and every other transmission
        // awaiting its answer time out now, so fail-over does not wait for timeout_ms.
        ++sv.st.unreachable;
        ++sv.st.timeouts;
        ++q.tries;
        expireServer(q.server, now);
        return Sent::kFailed;
      case TransportStatus::kTooLarge:
      case TransportStatus::kError:
        ++sv.st.send_errors;
        ++q.tries;
        return Sent::kFailed;
    }
    ++q.tries;
    ++q.transmissions;
    tx.sent_ns = now;
    if (q.tries == 1) {
      ++sv.st.requests;
    } else {
      ++sv.st.retransmissions;
    }
    setTimer(slot, Phase::kAwaiting, now + timeoutNs());
    return Sent::kOk;
  }

  // The current server try of an in-flight request goes on: retransmit, fail over, or end.
  // Loops rather than recursing: refused tries fail at once, up to (1 + retries) · servers.
  void advance(uint32_t slot, int64_t now) {
    for (;;) {
      Req& q = reqs[slot];
      if (q.tries < 1 + opt.retries) {
        Sent s = transmit(slot, now);
        if (s == Sent::kOk || s == Sent::kDropped) {
          return;
        }
        if (s == Sent::kBlocked) {
          setTimer(slot, Phase::kSendDue, now + kRetryNs);
          send_retry.emplace_back(slot, q.serial);
          return;
        }
        continue;  // kFailed: that try is used up now
      }
      const int from = q.server;
      Server& sv = servers[size_t(from)];
      if (alive(from) && q.first_sent_ns != kNever && sv.last_response_ns < q.first_sent_ns) {
        markDead(from, "a request got no answer to " + std::to_string(q.tries) +
                           " tries (timeout " + std::to_string(opt.timeout_ms) +
                           " ms, or unreachable) and nothing valid came from it meanwhile");
      }
      const int next = firstAlive(from);
      if (next < 0) {
        complete(slot, Outcome::kNoAnswer, -1);
        return;
      }
      ++sv.st.failovers_from;
      retireTxs(q);
      q.server = next;
      q.tries = 0;
      q.first_sent_ns = kNever;
      q.bytes.clear();
    }
  }

  // Every transmission awaiting an answer from server `s` times out now (ICMP unreachable).
  void expireServer(int s, int64_t now) {
    for (uint32_t si : servers[size_t(s)].sockets) {
      for (const Owner& o : sockets[si].owner) {
        if (o.slot < kProbeOwner && current(o.slot, o.serial) &&
            reqs[o.slot].phase == Phase::kAwaiting) {
          setTimer(o.slot, Phase::kAwaiting, now);
        }
      }
    }
  }

  // ---- receiving

  void handleDatagram(uint32_t si, const ReceivedDatagram& d, int64_t now) {
    Socket& s = sockets[si];
    Server& sv = servers[size_t(s.server)];
    if (!(d.source == sv.opt.endpoint)) {
      ++dropped[size_t(DropReason::kUnknownSource)];
      return;
    }
    auto parsed = parsePacket(d.bytes);
    if (std::holds_alternative<ParseFailure>(parsed)) {
      ++dropped[size_t(DropReason::kMalformed)];
      return;
    }
    const ParsedPacket& p = std::get<ParsedPacket>(parsed);
    const uint8_t id = p.packet.identifier;
    const Owner o = s.owner[id];
    ResponseCheck check = ResponseCheck::kWrongIdentifier;
    if (o.slot == kProbeOwner) {
      check = verifyResponse(p, Code::kStatusServer, id, sv.probe_auth, sv.opt.secret);
      if (check == ResponseCheck::kOk) {
        sv.last_response_ns = now;
        ++sv.st.responses;
        ++sv.st.probes_answered;
        freeId(si, id);
        sv.probe_active = false;
        if (sv.st.state != ServerState::kAlive) {
          markAlive(s.server, "answered a Status-Server probe");
        }
        return;
      }
    } else if (o.slot != kFree && current(o.slot, o.serial)) {
      Req& q = reqs[o.slot];
      for (const Tx& tx : q.txs) {
        if (tx.sock == si && tx.id == id) {
          check = verifyResponse(p, Code::kAccountingRequest, id, tx.auth, sv.opt.secret);
          if (check == ResponseCheck::kOk) {
            sv.last_response_ns = now;
            ++sv.st.responses;
            sv.st.last_rtt_ns = now - tx.sent_ns;
            onAnswerWindow();
            complete(o.slot, Outcome::kAnswered, s.server);
            return;
          }
          break;
        }
      }
    }
    if (s.late) {
      for (const LateEntry& e : (*s.late)[id].e) {
        if (e.valid && verifyResponse(p, e.code, id, e.auth, sv.opt.secret) == ResponseCheck::kOk) {
          ++dropped[size_t(DropReason::kLate)];
          return;
        }
      }
    }
    switch (check) {
      case ResponseCheck::kOk:  // not reached
      case ResponseCheck::kWrongIdentifier:
        ++dropped[size_t(DropReason::kUnknownIdentifier)];
        break;
      case ResponseCheck::kUnexpectedCode:
        ++dropped[size_t(DropReason::kUnexpectedCode)];
        break;
      case ResponseCheck::kBadAuthenticator:
      case ResponseCheck::kBadMessageAuthenticator:
      case ResponseCheck::kMissingMessageAuthenticator:
        ++dropped[size_t(DropReason::kBadAuthenticator)];
        break;
    }
  }

  void receive() {
    const int64_t now = clock.monotonicNs();
    for (uint32_t si = 0; si < sockets.size(); ++si) {
      for (size_t n = 0; n < kReceiveBurst; ++n) {
        ReceivedDatagram d = sockets[si].t->receive();
        if (d.result.status == TransportStatus::kWouldBlock) {
          break;
        }
        if (d.result.status == TransportStatus::kUnreachable) {
          const int s = sockets[si].server;
          ++servers[size_t(s)].st.unreachable;
          expireServer(s, now);
          continue;
        }
        if (!d.result.ok()) {
          break;  // a socket error with nothing to read: the next call tries again
        }
        handleDatagram(si, d, now);
      }
    }
  }

  // ---- the loop's work

  void submit(Request r) {
    const int64_t now = clock.monotonicNs();
    ++submitted;
    uint32_t slot = allocSlot();
    Req& q = reqs[slot];
    q.serial = next_serial++;
    q.phase = Phase::kQueued;
    q.r = std::move(r);
    if (q.r.event_mono_ns == 0) {
      q.r.event_mono_ns = now;  // not given: the event is its submission
    }
    q.submit_ns = now;
    q.transmissions = 0;
    q.server = -1;
    q.tries = 0;
    q.first_sent_ns = kNever;
    ++queued;
    if (q.r.type == AcctStatusType::kStop) {
      cancelInterims(q.r.session);
    }
    refreshStates(now);
    if (queued > opt.queue_limit) {
      complete(slot, Outcome::kQueueFull, -1);
      return;
    }
    Req& q2 = reqs[slot];  // cancelInterims() does not grow reqs, but be plain about it
    if (q2.r.type == AcctStatusType::kInterimUpdate) {
      interims[q2.r.session].emplace_back(slot, q2.serial);
    }
    queue.emplace_back(slot, q2.serial);
    max_queued = std::max(max_queued, queued);
  }

  void cancelInterims(uint64_t session) {
    auto it = interims.find(session);
    if (it == interims.end()) {
      return;
    }
    std::vector<std::pair<uint32_t, uint64_t>> list = std::move(it->second);
    interims.erase(it);
    for (auto [slot, serial] : list) {
      if (current(slot, serial)) {
        complete(slot, Outcome::kCancelled, -1);
      }
    }
  }

  void drainQueue(int64_t now) {
    if (queued == 0 || (now < queue_ready_ns && !queue_retry_next_run)) {
      return;
    }
    queue_retry_next_run = false;
    queue_ready_ns = 0;
    while (!queue.empty() && outstanding < window()) {
      auto [slot, serial] = queue.front();
      if (!current(slot, serial) || reqs[slot].phase != Phase::kQueued) {
        queue.pop_front();
        continue;
      }
      const int s = firstAlive(-1);
      if (s < 0) {
        // No live server: the oldest wait while their budget lasts (expireQueued()); the
        // queue moves again when a server comes alive (setState).
        queue_ready_ns = kNever;
        break;
      }
      Req& q = reqs[slot];
      q.server = s;
      q.tries = 0;
      q.first_sent_ns = kNever;
      Sent r = transmit(slot, now);
      if (r == Sent::kBlocked) {
        // Back to the front, untouched: an Identifier it took for a packet never sent is free
        // again (no datagram carried it).
        for (const Tx& tx : q.txs) {
          freeId(tx.sock, tx.id);
        }
        q.txs.clear();
        q.bytes.clear();
        q.server = -1;
        Server& sv = servers[size_t(s)];
        if (sv.full) {
          queue_ready_ns = kNever;
        } else if (now < sv.socket_retry_ns) {
          queue_ready_ns = sv.socket_retry_ns;
        } else {
          queue_retry_next_run = true;
        }
        return;
      }
      queue.pop_front();
      if (r == Sent::kDropped) {
        continue;
      }
      // Now in flight (transmit() queued the timer, or a refused try to be advanced).
      --queued;
      ++outstanding;
      if (r == Sent::kFailed) {
        ++live_timers;  // advance() expects an in-flight request with a timer slot
        q.phase = Phase::kSendDue;
        advance(slot, now);
      } else {
        // transmit() already counted the live timer for kAwaiting
      }
    }
  }

  void run() {
    const int64_t now = clock.monotonicNs();
    refreshStates(now);
    // Would-block retransmissions: this run, whatever their timer says.
    std::vector<std::pair<uint32_t, uint64_t>> retry;
    retry.swap(send_retry);
    for (auto [slot, serial] : retry) {
      if (current(slot, serial) && reqs[slot].phase == Phase::kSendDue) {
        advance(slot, now);
      }
    }
    while (!timers.empty() && timers.top().at <= now) {
      Timer t = timers.top();
      timers.pop();
      if (!timerValid(t)) {
        continue;
      }
      Req& q = reqs[t.slot];
      if (q.phase == Phase::kAwaiting) {
        ++servers[size_t(q.server)].st.timeouts;
        onLossWindow();
      }
      q.timer_seq = 0;  // this entry is consumed; advance() sets the next one
      advance(t.slot, now);
    }
    // Probes after the timers: a server marked dead just now is probed in this same run.
    for (int s = 0; s < int(servers.size()); ++s) {
      Server& sv = servers[size_t(s)];
      if (sv.st.state == ServerState::kProbing && now >= sv.next_probe_ns) {
        sendProbe(s, now);
      }
    }
    drainQueue(now);
    expireQueued(now);
  }

  // The time a request may take: every transmission on every server.
  int64_t budgetNs() const {
    return int64_t(servers.size()) * int64_t(opt.retries + 1) * int64_t(opt.timeout_ms) *
           kNsPerMs;
  }

  // Queued requests that waited their whole budget for a live server: kNoServer. The queue is
  // in submission order, so only its front can be due.
  void expireQueued(int64_t now) {
    while (!queue.empty()) {
      auto [slot, serial] = queue.front();
      if (!current(slot, serial) || reqs[slot].phase != Phase::kQueued) {
        queue.pop_front();
        continue;
      }
      if (now - reqs[slot].submit_ns < budgetNs()) {
        break;
      }
      queue.pop_front();
      complete(slot, Outcome::kNoServer, -1);
    }
  }

  int64_t queueDeadline() const {
    for (auto [slot, serial] : queue) {
      if (current(slot, serial) && reqs[slot].phase == Phase::kQueued) {
        return reqs[slot].submit_ns + budgetNs();
      }
    }
    return kNever;
  }

  int64_t nextDue() const {
    const int64_t now = clock.monotonicNs();
    int64_t due = kNever;
    if (!send_retry.empty()) {
      due = std::min(due, now + kRetryNs);
    }
    if (queued > 0 && outstanding < window()) {
      if (queue_retry_next_run) {
        due = std::min(due, now + kRetryNs);
      } else if (queue_ready_ns != kNever) {
        due = std::min(due, queue_ready_ns);
      }
    }
    if (queued > 0) {
      due = std::min(due, queueDeadline());
    }
    // The heap top may be stale (its request answered); waking for it early is harmless.
    if (!timers.empty()) {
      due = std::min(due, timers.top().at);
    }
    for (const Server& sv : servers) {
      if (sv.st.state == ServerState::kDead) {
        due = std::min(due, sv.dead_until_ns);
      } else if (sv.st.state == ServerState::kProbing) {
        due = std::min(due, sv.next_probe_ns);
      }
    }
    return due;
  }

  void abandon() {
    for (uint32_t slot = 0; slot < reqs.size(); ++slot) {
      if (reqs[slot].serial != 0) {
        complete(slot, Outcome::kShutdown, -1);
      }
    }
    queue.clear();
    send_retry.clear();
    interims.clear();
    timers = decltype(timers)();
    live_timers = 0;
  }

  ClientStats stats() const {
    ClientStats c;
    for (const Server& sv : servers) {
      c.servers.push_back(sv.st);
    }
    c.submitted = submitted;
    c.queued = queued;
    c.outstanding = outstanding;
    c.window = window();
    c.max_queued = max_queued;
    c.completed = completed;
    c.dropped = dropped;
    return c;
  }
};

ClientEngine::ClientEngine(ClientOptions options, TransportFactory sockets, const Clock& clock,
                           RandomFn random)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(sockets), clock,
                                   std::move(random))) {}
ClientEngine::~ClientEngine() = default;

void ClientEngine::submit(Request r) { impl_->submit(std::move(r)); }
void ClientEngine::receive() { impl_->receive(); }
void ClientEngine::run() { impl_->run(); }
int64_t ClientEngine::nextDueMonoNs() const { return impl_->nextDue(); }

std::vector<int> ClientEngine::fds() const {
  std::vector<int> out;
  for (const auto& s : impl_->sockets) {
    int fd = s.t->readableFd();
    if (fd >= 0) {
      out.push_back(fd);
    }
  }
  return out;
}

void ClientEngine::takeCompletions(std::vector<Completion>& out) {
  if (out.empty()) {
    out.swap(impl_->done);
  } else {
    out.insert(out.end(), impl_->done.begin(), impl_->done.end());
  }
  impl_->done.clear();
}

void ClientEngine::abandon() { impl_->abandon(); }
bool ClientEngine::idle() const { return impl_->queued == 0 && impl_->outstanding == 0; }
ClientStats ClientEngine::stats() const { return impl_->stats(); }

// ---- RadiusClient: the engine on its own thread.
//
// The thread owns the engine and every socket. The control-plane thread only touches
// `incoming` (submit), `done` (drainCompletions) and `snapshot` (stats), each under a mutex
// held for a swap or a copy, and wakes the thread through an eventfd. The thread's one
// blocking call is poll() (sockets + eventfd), its timeout from nextDueMonoNs() and at most
// kSnapshotMs so the statistics snapshot is never older than that.

namespace {
constexpr int64_t kSnapshotMs = 100;
}  // namespace

struct RadiusClient::Shared {
  explicit Shared(const Clock& c) : clock(c) {}
  ~Shared() {
    if (wake_fd >= 0) {
      ::close(wake_fd);
    }
  }

  const Clock& clock;
  std::unique_ptr<ClientEngine> engine;  // the thread's only
  // One socket per server opened by start() (so a bad endpoint is refused there); the engine's
  // factory hands these out first.
  std::vector<std::pair<Endpoint, std::unique_ptr<RadiusTransport>>> preopened;
  int wake_fd = -1;

  mutable std::mutex m;
  std::vector<Request> incoming;
  std::vector<Completion> done;
  bool stopping = false;
  bool closed = false;  // the thread took its last batch: submit() completes with kShutdown

  mutable std::mutex stats_m;
  ClientStats snapshot;

  std::atomic<uint64_t> submitted{0};
  std::atomic<uint64_t> drained{0};

  // Under m.
  void wakeLocked() const {
    const uint64_t one = 1;
    // An eventfd write only fails when the counter would overflow: it is then readable anyway.
    [[maybe_unused]] ssize_t n = ::write(wake_fd, &one, sizeof(one));
  }

  void publish(std::vector<Completion>& out) {
    if (!out.empty()) {
      std::lock_guard<std::mutex> lock(m);
      done.insert(done.end(), out.begin(), out.end());
    }
    out.clear();
  }

  void takeSnapshot() {
    ClientStats s = engine->stats();
    std::lock_guard<std::mutex> lock(stats_m);
    snapshot = std::move(s);
  }

  void loop() {
    std::vector<Request> batch;
    std::vector<Completion> out;
    std::vector<pollfd> pfds;
    for (;;) {
      bool stop = false;
      {
        std::lock_guard<std::mutex> lock(m);
        batch.swap(incoming);
        stop = stopping;
        closed = stop;
      }
      for (Request& r : batch) {
        engine->submit(std::move(r));
      }
      batch.clear();
      if (stop) {
        engine->abandon();
        engine->takeCompletions(out);
        publish(out);
        takeSnapshot();
        return;
      }
      engine->receive();
      engine->run();
      engine->takeCompletions(out);
      publish(out);
      takeSnapshot();

      const int64_t now = clock.monotonicNs();
      const int64_t due = engine->nextDueMonoNs();
      int timeout_ms = static_cast<int>(kSnapshotMs);
      if (due <= now) {
        timeout_ms = 0;
      } else if (due - now < kSnapshotMs * kNsPerMs) {
        timeout_ms = static_cast<int>((due - now + kNsPerMs - 1) / kNsPerMs);
      }
      pfds.clear();
      pfds.push_back({wake_fd, POLLIN, 0});
      for (int fd : engine->fds()) {
        pfds.push_back({fd, POLLIN, 0});
      }
      int n = ::poll(pfds.data(), pfds.size(), timeout_ms);
      if (n > 0 && (pfds[0].revents & POLLIN) != 0) {
        uint64_t count = 0;
        [[maybe_unused]] ssize_t r = ::read(wake_fd, &count, sizeof(count));
      }
    }
  }
};

Result<std::unique_ptr<RadiusClient>> RadiusClient::start(ClientOptions options,
                                                          const Clock& clock) {
  if (options.servers.empty() || options.servers.size() > 8) {
    return Error{"radius: 1 to 8 servers are needed, " + std::to_string(options.servers.size()) +
                 " given"};
  }
  for (const ServerOptions& so : options.servers) {
    if (so.secret.empty()) {
      return Error{"radius: server " + formatEndpoint(so.endpoint) + " has an empty secret"};
    }
  }
  if (options.max_outstanding == 0) {
    return Error{"radius: max_outstanding must be at least 1"};
  }
  if (::sodium_init() < 0) {
    return Error{"radius: libsodium cannot be initialised (no randomness for Status-Server)"};
  }
  std::unique_ptr<RadiusClient> c(new RadiusClient());
  c->shared_ = std::make_unique<Shared>(clock);
  Shared* sh = c->shared_.get();
  sh->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (sh->wake_fd < 0) {
    return Error{std::string("radius: eventfd: ") + std::strerror(errno)};
  }
  for (const ServerOptions& so : options.servers) {
    std::string error;
    std::unique_ptr<RadiusTransport> t = UdpTransport::open(so.endpoint, &error);
    if (!t) {
      return Error{"radius: server " + formatEndpoint(so.endpoint) + ": " + error};
    }
    sh->preopened.emplace_back(so.endpoint, std::move(t));
  }
  ClientEngine::TransportFactory factory = [sh](const Endpoint& to, std::string* error) {
    for (auto& [ep, t] : sh->preopened) {
      if (t && ep == to) {
        return std::move(t);
      }
    }
    return UdpTransport::open(to, error);
  };
  ClientEngine::RandomFn random = [](Authenticator& a) { ::randombytes_buf(a.data(), a.size()); };
  sh->engine = std::make_unique<ClientEngine>(std::move(options), std::move(factory), clock,
                                              std::move(random));
  sh->snapshot = sh->engine->stats();
  c->thread_ = std::thread([sh] { sh->loop(); });
  return c;
}

RadiusClient::~RadiusClient() { stop(); }

void RadiusClient::submit(Request r) {
  shared_->submitted.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(shared_->m);
  if (shared_->closed) {
    Completion c;
    c.tag = r.tag;
    c.session = r.session;
    c.type = r.type;
    c.outcome = Outcome::kShutdown;
    shared_->done.push_back(c);
    return;
  }
  const bool was_empty = shared_->incoming.empty();
  shared_->incoming.push_back(std::move(r));
  if (was_empty) {
    shared_->wakeLocked();  // one wake-up per batch the thread has not taken yet
  }
}

void RadiusClient::submit(std::vector<Request>& batch) {
  if (batch.empty()) {
    return;
  }
  shared_->submitted.fetch_add(batch.size(), std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(shared_->m);
  if (shared_->closed) {
    for (Request& r : batch) {
      Completion c;
      c.tag = r.tag;
      c.session = r.session;
      c.type = r.type;
      c.outcome = Outcome::kShutdown;
      shared_->done.push_back(c);
    }
    batch.clear();
    return;
  }
  const bool was_empty = shared_->incoming.empty();
  for (Request& r : batch) {
    shared_->incoming.push_back(std::move(r));
  }
  batch.clear();
  if (was_empty) {
    shared_->wakeLocked();
  }
}

void RadiusClient::drainCompletions(std::vector<Completion>& out) {
  size_t n = 0;
  {
    std::lock_guard<std::mutex> lock(shared_->m);
    n = shared_->done.size();
    if (out.empty()) {
      out.swap(shared_->done);
    } else {
      out.insert(out.end(), shared_->done.begin(), shared_->done.end());
      shared_->done.clear();
    }
  }
  shared_->drained.fetch_add(n, std::memory_order_relaxed);
}

uint64_t RadiusClient::pending() const {
  return shared_->submitted.load(std::memory_order_relaxed) -
         shared_->drained.load(std::memory_order_relaxed);
}

ClientStats RadiusClient::stats() const {
  std::lock_guard<std::mutex> lock(shared_->stats_m);
  return shared_->snapshot;
}

void RadiusClient::stop() {
  if (!shared_ || !thread_.joinable()) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(shared_->m);
    shared_->stopping = true;
    shared_->wakeLocked();
  }
  thread_.join();
}

}  // namespace tally::radius
