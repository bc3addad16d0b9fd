#pragma once
// RADIUS accounting of billed sessions (issue 10, docs/radius.md): a SessionObserver on the
// control-plane thread that turns session events into Accounting-Requests for the client
// (radius_client.h, its own thread) and turns the client's answers into what semantics.md §4
// asks for:
//
//   start   -> Accounting-On     onTick -> Interim-Update every interim_interval (spread)
//   onOpen  -> Start             completions -> local bills, refusals, ends (below)
//   onEnd   -> Stop              drain (daemon stop) -> the Stops answered, Accounting-Off
//
// - Usage is the sum of the poller's deltas over every rating group: Acct-Input-* = uplink
//   (from the subscriber), Acct-Output-* = downlink, 64-bit with Gigawords.
// - Stop unanswered after every retry on every server (or never sent: no live server, queue
//   full, daemon stopping) -> a local bill with the session's final usage enters the bill pool,
//   exactly once; a late answer changes nothing (the client counts it).
// - Start unanswered: start_fail offline -> the session is refused (Poller::refuse: it ends,
//   its packets are no longer forwarded, their usage is unattributed radius_refused) and a local
//   bill holds the usage before the refusal; online -> the session runs on without further
//   RADIUS requests and gets a local bill when it ends.
// - interim_fail.max_times consecutive unanswered interims: online -> nothing changes; offline
//   -> the session ends with a local bill.
// - For every Acct-Session-Id exactly one final record exists: an answered Stop, or a local bill
//   (docs/radius.md, "Reconciling").
// - Acct-Session-Id = <node.id>-<boot counter, 8 hex>-<session id, 12 hex>; the boot counter is
//   kept in node.state_dir/radius-boot (durable), so ids never repeat across restarts, whatever
//   the wall clock does.
//
// The refusals and ends that an answer asks for act on the poller: they are queued by onTick
// and carried out by applyActions(), which the daemon calls after each poll (never from inside
// the poller's notifications).
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "controlplane/bill/local_bill.h"
#include "controlplane/poller.h"
#include "controlplane/radius/radius_client.h"
#include "shared/clock.h"
#include "shared/config.h"
#include "shared/result.h"

namespace tally::radius {

struct IpAddressHash {
  size_t operator()(const IpAddress& a) const noexcept {
    return std::hash<uint64_t>()(a.v4 ^ a.v6.hi ^ (a.v6.lo * 31) ^ (uint64_t{a.family} << 56));
  }
};

// The client as accounting uses it: RadiusClient in production, a fake in unit tests
// (tests/fakes/fake_accounting_client.h).
class AccountingClient {
 public:
  virtual ~AccountingClient() = default;
  virtual void submit(std::vector<Request>& batch) = 0;  // moved from
  virtual void drainCompletions(std::vector<Completion>& out) = 0;
  virtual uint64_t pending() const = 0;
  virtual ClientStats stats() const = 0;
  virtual void stop() = 0;
};

// What accounting needs from the rest of the daemon.
struct AccountingHooks {
  std::function<void(bill::LocalBill)> local_bill;     // into the bill pool
  std::function<bool(const IpAddress&)> refuse;        // Poller::refuse
  std::function<bool(const IpAddress&)> admit;         // Poller::admit
  std::function<bool(const IpAddress&)> end_session;   // ends it with EndCause::kRadius
};

// Local bills written, by why.
struct AccountingStats {
  uint64_t sessions_started = 0;   // Starts submitted
  uint64_t starts_waiting = 0;     // sessions opened whose Start is not built yet (a burst)
  uint64_t interims = 0;           // Interim-Updates submitted
  uint64_t stops = 0;              // Stops submitted
  uint64_t starts_unanswered = 0;
  uint64_t interims_unanswered = 0;
  uint64_t stops_unanswered = 0;
  std::array<uint64_t, 8> local_bills{};  // by bill::LocalBillReason value
  uint64_t local_bill_octets = 0;
  uint64_t refused_now = 0;        // subscribers refused at this moment
  uint64_t refusals = 0;           // over the run
  uint64_t refusals_not_stored = 0;  // refusal table full: the session stayed online
  uint64_t admitted = 0;           // refusals lifted (a server answered again)
  uint64_t sessions_active = 0;    // with accounting state
  uint64_t stops_in_flight = 0;
};

class RadiusAccounting final : public SessionObserver {
 public:
  // Reads every server's secret_file (must be a regular file not readable by group or others,
  // non-empty, first line is the secret), bumps the boot counter in node.state_dir and starts
  // the client. An error names the file or the server.
  static Result<std::unique_ptr<RadiusAccounting>> open(const Config& config, const Clock& clock,
                                                        AccountingHooks hooks);
  // With a given client (tests) and boot counter.
  RadiusAccounting(const Config& config, const Clock& clock, AccountingHooks hooks,
                   std::unique_ptr<AccountingClient> client, uint32_t boot);
  ~RadiusAccounting() override;

  void onOpen(const Session& s, int64_t now_ns) override;
  void onUsage(const Session& s, uint32_t rating_group, const FlowCounters& delta,
               int64_t now_ns) override;
  void onServingNode(const Session&, const IpAddress&, int64_t) override {}
  void onQosChange(const Session&, uint8_t, int64_t) override {}
  void onEnd(const Session& s, EndCause cause, int64_t now_ns) override;
  void onTick(int64_t now_ns) override;
  void onIdentity(const Session& s, uint8_t qci, int64_t now_ns) override;

  // After each poll (control-plane thread): the refusals, admissions and ends that answers
  // asked for, and one log line for the local bills written since the last one.
  void applyActions();
  // The daemon is stopping: the Stops of the sessions ended from now on say NAS-Reboot.
  void beginShutdown() { shutting_down_ = true; }
  // At daemon stop, after the final harvest (every session has ended, its Stop submitted):
  // waits until every request is answered or has failed over every server (the client's retry
  // budget), writing local bills for the Stops that failed; after `limit_ns` the rest are
  // abandoned (local bills, reason shutdown). Then an Accounting-Off (RFC 2866 §5.1) is sent
  // and waited for within what is left of the limit. Returns the Stops settled by a local bill.
  uint64_t drain(int64_t limit_ns);

  AccountingStats stats() const;
  ClientStats clientStats() const { return client_->stats(); }
  const std::string& acctSessionIdOf(uint64_t session_id) const;  // "" when unknown
  // The most time the client may need to settle a request: every transmission on every server.
  int64_t retryBudgetNs() const;

 private:
  struct Acct {
    std::string acct_session_id;
    IpAddress key;
    uint8_t prefix_length = 0;
    std::string user_name, imsi, msisdn;
    uint8_t cc_profile = 0;
    int64_t start_wall_ns = 0;
    int64_t start_mono_ns = 0;
    FlowCounters total;
    uint32_t unanswered_interims = 0;
    bool start_answered = false;
    bool start_sent = false;
    // fallback: no more RADIUS requests; a local bill (fallback_reason) when the session ends.
    bool fallback = false;
    bill::LocalBillReason fallback_reason = bill::LocalBillReason::kStartUnansweredOnline;
    bool ended = false;  // Stop submitted (or settled by a local bill)
    int64_t stop_wall_ns = 0;
    uint32_t terminate_cause = 0;
  };
  enum Kind : uint64_t { kStartTag = 0, kInterimTag = 1, kStopTag = 2 };

  static void takeIdentity(Acct& a, const Session& s);  // user name, IMSI, MSISDN, CC profile
  std::vector<Attribute> baseAttributes(const Acct& a) const;
  // Acct-Session-Id, NAS-IP-Address (or NAS-IPv6-Address) and NAS-Identifier.
  void appendIdAndNas(std::vector<Attribute>& v, const std::string& acct_session_id) const;
  void appendUsage(std::vector<Attribute>& attrs, const Acct& a, int64_t now_wall_ns) const;
  void submit(uint64_t session, Kind kind, AcctStatusType type, std::vector<Attribute> attrs,
              int64_t event_mono_ns = 0);
  void sendStart(uint64_t id, Acct& a);
  // The Starts of sessions opened since, oldest first, for at most kStartBudgetNs per poll.
  void sendPendingStarts();
  static constexpr int64_t kStartBudgetNs = 10 * 1000 * 1000;
  void flushSubmissions();
  void settle(const Completion& c);
  void submitOnOff(AcctStatusType type);  // Accounting-On at start, Accounting-Off at stop
  void writeLocalBill(uint64_t session, const Acct& a, bill::LocalBillReason reason);
  static uint32_t terminateCauseOf(EndCause c);

  Config config_;
  const Clock& clock_;
  AccountingHooks hooks_;
  std::unique_ptr<AccountingClient> client_;
  uint32_t boot_;
  int64_t interim_ns_;
  std::unordered_map<uint64_t, Acct> sessions_;  // by tally session id, until settled
  // (due monotonic ns, session id), earliest first.
  std::priority_queue<std::pair<int64_t, uint64_t>, std::vector<std::pair<int64_t, uint64_t>>,
                      std::greater<>>
      interim_due_;
  std::deque<uint64_t> pending_starts_;  // session ids whose Start is not built yet
  std::vector<Request> outbox_;
  std::vector<Completion> completions_;
  std::vector<std::pair<IpAddress, uint64_t>> to_refuse_;  // (key, session id)
  std::vector<IpAddress> to_end_, to_admit_;
  // Local bills written since the last log line (one line per poll: logLocalBills).
  uint64_t unlogged_bills_ = 0;
  std::array<uint64_t, 8> unlogged_by_reason_{};
  std::string first_unlogged_;
  void logLocalBills();
  struct Refusal {
    int64_t since_mono_ns = 0;
    uint64_t answers = 0;  // responses + probe answers of all servers at the refusal
  };
  std::unordered_map<IpAddress, Refusal, IpAddressHash> refused_;
  AccountingStats stats_;
  bool shutting_down_ = false;
};

}  // namespace tally::radius
