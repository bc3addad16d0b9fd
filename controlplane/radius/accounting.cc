#include "controlplane/radius/accounting.h"

#include <sys/stat.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <thread>

#include "controlplane/log.h"
#include "controlplane/storage/durable_file.h"

namespace tally::radius {

namespace {

constexpr int64_t kNsPerMs = 1000000;
constexpr int64_t kNsPerS = 1000000000;
constexpr const char* kBootFile = "radius-boot";

// RadiusClient as an AccountingClient.
class ThreadClient final : public AccountingClient {
 public:
  explicit ThreadClient(std::unique_ptr<RadiusClient> c) : c_(std::move(c)) {}
  void submit(std::vector<Request>& batch) override { c_->submit(batch); }
  void drainCompletions(std::vector<Completion>& out) override { c_->drainCompletions(out); }
  uint64_t pending() const override { return c_->pending(); }
  ClientStats stats() const override { return c_->stats(); }
  void stop() override { c_->stop(); }

 private:
  std::unique_ptr<RadiusClient> c_;
};

// The shared secret: the first line of a regular file that group and others cannot read.
Result<std::string> readSecret(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Error{"secret_file " + path + ": " + std::strerror(errno)};
  }
  if (!S_ISREG(st.st_mode)) {
    return Error{"secret_file " + path + ": not a regular file"};
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    return Error{"secret_file " + path + ": mode " + mode +
                 " lets group or others read the secret (chmod 600)"};
  }
  auto text = readFileWhole(path, 4096);
  if (!text.ok()) {
    return text.error();
  }
  std::string secret = *text;
  secret = secret.substr(0, secret.find('\n'));
  if (!secret.empty() && secret.back() == '\r') {
    secret.pop_back();
  }
  if (secret.empty()) {
    return Error{"secret_file " + path + ": the secret is empty"};
  }
  return secret;
}

// The boot counter of node.state_dir/radius-boot, incremented durably.
Result<uint32_t> nextBoot(const std::string& state_dir) {
  if (auto d = ensureDirectory(state_dir, 0700); !d.ok()) {
    return d.error();
  }
  uint32_t boot = 0;
  const std::string path = state_dir + "/" + kBootFile;
  auto exists = fileExists(path);
  if (exists.ok() && *exists) {
    auto text = readFileWhole(path, 64);
    if (!text.ok()) {
      return text.error();
    }
    char* end = nullptr;
    unsigned long v = std::strtoul(text->c_str(), &end, 10);
    if (end == text->c_str()) {
      return Error{path + ": not a boot counter (a decimal number): remove it only if no "
                          "Acct-Session-Id of an earlier run can still be pending"};
    }
    boot = uint32_t(v);
  }
  ++boot;
  if (auto w = writeFileDurably(path, std::to_string(boot) + "\n"); !w.ok()) {
    return w.error();
  }
  return boot;
}

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

// Valid answers (responses and probe answers) of every server so far.
uint64_t answersOf(const ClientStats& cs) {
  uint64_t n = 0;
  for (const ServerStats& s : cs.servers) {
    n += s.responses + s.probes_answered;
  }
  return n;
}

bool failed(Outcome o) {
  return o == Outcome::kNoAnswer || o == Outcome::kNoServer || o == Outcome::kQueueFull;
}

}  // namespace

Result<std::unique_ptr<RadiusAccounting>> RadiusAccounting::open(const Config& config,
                                                                 const Clock& clock,
                                                                 AccountingHooks hooks) {
  const RadiusConfig& rc = *config.accounting.radius;
  ClientOptions o;
  for (const RadiusServerConfig& s : rc.servers) {
    auto secret = readSecret(s.secret_file);
    if (!secret.ok()) {
      return Error{"radius server " + formatIp(s.address) + ":" + std::to_string(s.port) + ": " +
                   secret.error().message};
    }
    ServerOptions so;
    so.endpoint = Endpoint{s.address, s.port};
    so.secret = std::move(*secret);
    so.status_server = s.status_server;
    o.servers.push_back(std::move(so));
  }
  o.timeout_ms = rc.timeout_ms;
  o.retries = rc.retries;
  o.hold_down_ms = rc.hold_down_ms;
  o.probe_interval_ms = std::max<uint32_t>(rc.timeout_ms, 1000);
  o.max_outstanding = rc.max_outstanding;
  o.queue_limit = rc.queue_limit;
  auto boot = nextBoot(config.node.state_dir);
  if (!boot.ok()) {
    return Error{"radius: " + boot.error().message};
  }
  auto client = RadiusClient::start(std::move(o), clock);
  if (!client.ok()) {
    return Error{"radius: " + client.error().message};
  }
  return std::make_unique<RadiusAccounting>(
      config, clock, std::move(hooks), std::make_unique<ThreadClient>(std::move(*client)), *boot);
}

RadiusAccounting::RadiusAccounting(const Config& config, const Clock& clock,
                                   AccountingHooks hooks, std::unique_ptr<AccountingClient> client,
                                   uint32_t boot)
    : config_(config), clock_(clock), hooks_(std::move(hooks)), client_(std::move(client)),
      boot_(boot),
      interim_ns_(int64_t(config.accounting.radius ? config.accounting.radius->interim_interval_s
                                                   : 0) *
                  kNsPerS) {
  // RFC 2866 §5.1 Accounting-On: this NAS (re)started; a server may close what it still holds
  // open for it (sessions of a run that ended without their Stops, e.g. a crash).
  submitOnOff(AcctStatusType::kAccountingOn);
  flushSubmissions();
}

void RadiusAccounting::submitOnOff(AcctStatusType type) {
  Acct nas;
  char id[64];
  std::snprintf(id, sizeof id, "-%08" PRIx32 "-%012" PRIx64, boot_, uint64_t{0});
  nas.acct_session_id = config_.node.id + id;
  std::vector<Attribute> attrs;
  appendIdAndNas(attrs, nas.acct_session_id);
  attrs.push_back(makeInteger(attr::kAcctStatusType, uint32_t(type)));
  attrs.push_back(makeInteger(attr::kEventTimestamp, uint32_t(clock_.wallNs() / kNsPerS)));
  // Session 0 is no session's: its completion settles nothing.
  Request r;
  r.tag = uint64_t(type);
  r.session = 0;
  r.type = type;
  r.attributes = std::move(attrs);
  r.event_mono_ns = clock_.monotonicNs();
  outbox_.push_back(std::move(r));
}

RadiusAccounting::~RadiusAccounting() {
  if (client_) {
    client_->stop();
  }
}

int64_t RadiusAccounting::retryBudgetNs() const {
  const RadiusConfig& rc = *config_.accounting.radius;
  return int64_t(rc.servers.size()) * int64_t(rc.retries + 1) * int64_t(rc.timeout_ms) * kNsPerMs;
}

uint32_t RadiusAccounting::terminateCauseOf(EndCause c) {
  switch (c) {
    case EndCause::kIdleTimeout:
      return uint32_t(AcctTerminateCause::kIdleTimeout);
    case EndCause::kLogout:
      return uint32_t(AcctTerminateCause::kUserRequest);
    case EndCause::kRadius:
      return uint32_t(AcctTerminateCause::kNasRequest);
    case EndCause::kManagement:
    case EndCause::kNone:
      return uint32_t(AcctTerminateCause::kAdminReset);
  }
  return uint32_t(AcctTerminateCause::kAdminReset);
}

void RadiusAccounting::appendIdAndNas(std::vector<Attribute>& v,
                                      const std::string& acct_session_id) const {
  if (auto id = makeText(attr::kAcctSessionId, acct_session_id); id.ok()) {
    v.push_back(std::move(*id));
  }
  const IpAddress& nas = config_.node.address;
  if (nas.family == 4) {
    v.push_back(makeIpv4(attr::kNasIpAddress, nas.v4));
  } else if (nas.family == 6) {
    v.push_back(makeIpv6(attr::kNasIpv6Address, nas.v6));
  }
  if (auto n = makeText(attr::kNasIdentifier, config_.node.id); n.ok()) {
    v.push_back(std::move(*n));
  }
}

std::vector<Attribute> RadiusAccounting::baseAttributes(const Acct& a) const {
  std::vector<Attribute> v;
  v.reserve(24);
  if (!a.user_name.empty()) {
    if (auto u = makeText(attr::kUserName, a.user_name); u.ok()) {
      v.push_back(std::move(*u));
    }
  }
  appendIdAndNas(v, a.acct_session_id);
  if (a.key.family == 4) {
    v.push_back(makeIpv4(attr::kFramedIpAddress, a.key.v4));
  } else if (a.key.family == 6) {
    IpPrefix p;
    p.addr = a.key;
    p.len = a.prefix_length;
    if (auto f = makeIpv6Prefix(attr::kFramedIpv6Prefix, p); f.ok()) {
      v.push_back(std::move(*f));
    }
  }
  if (!a.msisdn.empty()) {
    if (auto c = makeText(attr::kCallingStationId, a.msisdn); c.ok()) {
      v.push_back(std::move(*c));
    }
  }
  if (!a.imsi.empty()) {
    if (auto i = make3gppImsi(a.imsi); i.ok()) {  // a whole Vendor-Specific attribute
      v.push_back(std::move(*i));
    }
  }
  v.push_back(make3gppChargingCharacteristics(uint16_t(uint16_t{a.cc_profile} << 8)));
  return v;
}

void RadiusAccounting::appendUsage(std::vector<Attribute>& attrs, const Acct& a,
                                   int64_t now_wall_ns) const {
  appendInputOctets(attrs, a.total.ul_octets);
  appendOutputOctets(attrs, a.total.dl_octets);
  attrs.push_back(makeInteger(attr::kAcctInputPackets, uint32_t(std::min<uint64_t>(
                                                           a.total.ul_packets, UINT32_MAX))));
  attrs.push_back(makeInteger(attr::kAcctOutputPackets, uint32_t(std::min<uint64_t>(
                                                            a.total.dl_packets, UINT32_MAX))));
  const int64_t secs = std::max<int64_t>(0, (now_wall_ns - a.start_wall_ns) / kNsPerS);
  attrs.push_back(makeInteger(attr::kAcctSessionTime, uint32_t(secs)));
}

void RadiusAccounting::submit(uint64_t session, Kind kind, AcctStatusType type,
                              std::vector<Attribute> attrs, int64_t event_mono_ns) {
  Request r;
  r.tag = session * 4 + uint64_t(kind);
  r.session = session;
  r.type = type;
  r.attributes = std::move(attrs);
  r.event_mono_ns = event_mono_ns != 0 ? event_mono_ns : clock_.monotonicNs();
  outbox_.push_back(std::move(r));
}

void RadiusAccounting::flushSubmissions() {
  if (!outbox_.empty()) {
    client_->submit(outbox_);
    outbox_.clear();
  }
}

void RadiusAccounting::takeIdentity(Acct& a, const Session& s) {
  a.user_name = !s.user_name.empty() ? s.user_name : (!s.msisdn.empty() ? s.msisdn : s.imsi);
  if (a.user_name.empty()) {
    a.user_name = formatIp(s.key);  // RFC 2865 §5.1: User-Name SHOULD be sent
  }
  a.imsi = s.imsi;
  a.msisdn = s.msisdn;
  a.cc_profile = s.cc_profile;
}

void RadiusAccounting::onIdentity(const Session& s, uint8_t, int64_t) {
  // Before its Start went out the session takes the identity; after, its requests keep the
  // identity the Start carried (a server keys a session by what its Start said).
  auto it = sessions_.find(s.id);
  if (it != sessions_.end() && !it->second.start_sent) {
    takeIdentity(it->second, s);
  }
}

void RadiusAccounting::onOpen(const Session& s, int64_t now_ns) {
  Acct& a = sessions_[s.id];
  char id[64];
  std::snprintf(id, sizeof id, "-%08" PRIx32 "-%012" PRIx64, boot_, s.id);
  a.acct_session_id = config_.node.id + id;
  a.key = s.key;
  a.prefix_length = s.key.family == 6 ? config_.subscribers.ipv6_prefix_length : 32;
  takeIdentity(a, s);
  a.start_wall_ns = s.start_wall_ns != 0 ? s.start_wall_ns : now_ns;
  a.start_mono_ns = clock_.monotonicNs();
  // Built and sent by onTick, a bounded amount per poll: a restart's burst of sessions opening
  // in one poll does not make that poll long (its Acct-Delay-Time counts from now).
  pending_starts_.push_back(s.id);
  if (interim_ns_ > 0) {
    // Spread: the first Interim-Update comes between half an interval and a whole one after the
    // Start (by the session id), so sessions that start together do not report together.
    const int64_t first =
        interim_ns_ / 2 + int64_t(mix(s.id ^ (uint64_t{boot_} << 40)) % uint64_t(interim_ns_ / 2));
    interim_due_.emplace(a.start_mono_ns + first, s.id);
  }
}

void RadiusAccounting::sendStart(uint64_t id, Acct& a) {
  std::vector<Attribute> attrs = baseAttributes(a);
  attrs.push_back(makeInteger(attr::kAcctStatusType, uint32_t(AcctStatusType::kStart)));
  attrs.push_back(makeInteger(attr::kEventTimestamp, uint32_t(a.start_wall_ns / kNsPerS)));
  submit(id, kStartTag, AcctStatusType::kStart, std::move(attrs), a.start_mono_ns);
  a.start_sent = true;
  ++stats_.sessions_started;
}

void RadiusAccounting::sendPendingStarts() {
  const int64_t t0 = clock_.monotonicNs();
  size_t n = 0;
  while (!pending_starts_.empty()) {
    const uint64_t id = pending_starts_.front();
    pending_starts_.pop_front();
    auto it = sessions_.find(id);
    if (it != sessions_.end() && !it->second.start_sent && !it->second.ended) {
      sendStart(id, it->second);
    }
    if (++n % 128 == 0 && clock_.monotonicNs() - t0 >= kStartBudgetNs) {
      break;  // the rest next poll
    }
  }
}

void RadiusAccounting::onUsage(const Session& s, uint32_t, const FlowCounters& delta, int64_t) {
  auto it = sessions_.find(s.id);
  if (it != sessions_.end()) {
    it->second.total += delta;
  }
}

void RadiusAccounting::onEnd(const Session& s, EndCause cause, int64_t now_ns) {
  auto it = sessions_.find(s.id);
  if (it == sessions_.end() || it->second.ended) {
    return;
  }
  Acct& a = it->second;
  if (!a.start_sent && !a.fallback) {
    sendStart(s.id, a);  // it ended before its turn in the Start queue
  }
  a.ended = true;
  a.stop_wall_ns = now_ns;
  a.terminate_cause = shutting_down_ && cause == EndCause::kManagement
                          ? uint32_t(AcctTerminateCause::kNasReboot)
                          : terminateCauseOf(cause);
  if (a.fallback) {
    // No RADIUS request for a session that fell back: its usage goes to a local bill only.
    writeLocalBill(s.id, a, a.fallback_reason);
    sessions_.erase(it);
    return;
  }
  std::vector<Attribute> attrs = baseAttributes(a);
  attrs.push_back(makeInteger(attr::kAcctStatusType, uint32_t(AcctStatusType::kStop)));
  appendUsage(attrs, a, now_ns);
  attrs.push_back(makeInteger(attr::kAcctTerminateCause, a.terminate_cause));
  attrs.push_back(makeInteger(attr::kEventTimestamp, uint32_t(now_ns / kNsPerS)));
  submit(s.id, kStopTag, AcctStatusType::kStop, std::move(attrs));
  ++stats_.stops;
  flushSubmissions();  // a Stop never waits for the next poll
}

void RadiusAccounting::onTick(int64_t now_ns) {
  sendPendingStarts();
  const int64_t mono = clock_.monotonicNs();
  while (!interim_due_.empty() && interim_due_.top().first <= mono) {
    const uint64_t id = interim_due_.top().second;
    interim_due_.pop();
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.ended || it->second.fallback) {
      continue;
    }
    const Acct& a = it->second;
    if (!a.start_sent) {
      interim_due_.emplace(mono + interim_ns_, id);  // its Start first
      continue;
    }
    std::vector<Attribute> attrs = baseAttributes(a);
    attrs.push_back(makeInteger(attr::kAcctStatusType, uint32_t(AcctStatusType::kInterimUpdate)));
    appendUsage(attrs, a, now_ns);
    attrs.push_back(makeInteger(attr::kEventTimestamp, uint32_t(now_ns / kNsPerS)));
    submit(id, kInterimTag, AcctStatusType::kInterimUpdate, std::move(attrs));
    ++stats_.interims;
    interim_due_.emplace(mono + interim_ns_, id);
  }
  flushSubmissions();
  completions_.clear();
  client_->drainCompletions(completions_);
  for (const Completion& c : completions_) {
    settle(c);
  }
  // Refusals are lifted once they are older than the hold-down and a server answers again: the
  // subscriber's next packet starts a new session and a new Start.
  if (!refused_.empty()) {
    const ClientStats cs = client_->stats();
    const uint64_t answers = answersOf(cs);
    bool alive = false;
    for (const ServerStats& s : cs.servers) {
      alive |= s.state == ServerState::kAlive;
    }
    const int64_t hold = int64_t(config_.accounting.radius->hold_down_ms) * kNsPerMs;
    for (auto it = refused_.begin(); it != refused_.end();) {
      if (alive && answers > it->second.answers && mono - it->second.since_mono_ns >= hold) {
        to_admit_.push_back(it->first);
        it = refused_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

void RadiusAccounting::settle(const Completion& c) {
  const uint64_t id = c.session;
  auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    return;  // settled already (a fallback session's Start or Interim answered late)
  }
  Acct& a = it->second;
  switch (c.type) {
    case AcctStatusType::kStart:
      if (c.outcome == Outcome::kAnswered) {
        a.start_answered = true;
      } else if (failed(c.outcome)) {
        ++stats_.starts_unanswered;
        if (a.ended || a.fallback) {
          break;  // its Stop (or local bill) settles its usage
        }
        a.fallback = true;
        if (config_.accounting.start_fail == RadiusFailAction::kOffline) {
          a.fallback_reason = bill::LocalBillReason::kStartUnansweredOffline;
          to_refuse_.emplace_back(a.key, id);
        } else {
          a.fallback_reason = bill::LocalBillReason::kStartUnansweredOnline;
        }
      }
      break;
    case AcctStatusType::kInterimUpdate:
      if (c.outcome == Outcome::kAnswered) {
        a.unanswered_interims = 0;
      } else if (failed(c.outcome)) {
        ++stats_.interims_unanswered;
        ++a.unanswered_interims;
        if (!a.ended && !a.fallback &&
            a.unanswered_interims >= config_.accounting.interim_fail.max_times &&
            config_.accounting.interim_fail.action == RadiusFailAction::kOffline) {
          a.fallback = true;
          a.fallback_reason = bill::LocalBillReason::kInterimUnansweredOffline;
          to_end_.push_back(a.key);
        }
      }
      break;
    case AcctStatusType::kStop:
      if (c.outcome == Outcome::kAnswered) {
        sessions_.erase(it);
        return;
      }
      if (c.outcome == Outcome::kCancelled) {
        return;  // cannot happen: only Interim-Updates are cancelled
      }
      ++stats_.stops_unanswered;
      writeLocalBill(id, a, c.outcome == Outcome::kNoAnswer  ? bill::LocalBillReason::kStopUnanswered
                            : c.outcome == Outcome::kShutdown ? bill::LocalBillReason::kShutdown
                                                              : bill::LocalBillReason::kNotSent);
      sessions_.erase(it);
      return;
    default:
      break;
  }
}

void RadiusAccounting::writeLocalBill(uint64_t session, const Acct& a,
                                      bill::LocalBillReason reason) {
  bill::LocalBill b;
  b.acct_session_id = a.acct_session_id;
  b.session_id = session;
  b.user_name = a.user_name;
  b.imsi = a.imsi;
  b.msisdn = a.msisdn;
  b.nas_identifier = config_.node.id;
  b.start_ns = a.start_wall_ns;
  b.stop_ns = a.stop_wall_ns != 0 ? a.stop_wall_ns : clock_.wallNs();
  b.session_time_s = uint32_t(std::max<int64_t>(0, (b.stop_ns - b.start_ns) / kNsPerS));
  b.ip = a.key;
  b.prefix_length = a.prefix_length;
  b.ul_octets = a.total.ul_octets;
  b.dl_octets = a.total.dl_octets;
  b.ul_packets = a.total.ul_packets;
  b.dl_packets = a.total.dl_packets;
  b.terminate_cause = a.terminate_cause;
  b.reason = reason;
  ++stats_.local_bills[size_t(reason) & 7];
  stats_.local_bill_octets += a.total.octets();
  // Logged once per poll for all of them (logLocalBills): an outage can write thousands.
  if (unlogged_bills_ == 0) {
    first_unlogged_ = a.acct_session_id;
  }
  ++unlogged_bills_;
  ++unlogged_by_reason_[size_t(reason) & 7];
  if (hooks_.local_bill) {
    hooks_.local_bill(std::move(b));
  }
}

void RadiusAccounting::logLocalBills() {
  if (unlogged_bills_ == 0) {
    return;
  }
  std::string by_reason;
  for (size_t r = 0; r < unlogged_by_reason_.size(); ++r) {
    if (unlogged_by_reason_[r] != 0) {
      by_reason += std::string(by_reason.empty() ? "" : ", ") +
                   bill::localBillReasonName(bill::LocalBillReason(r)) + " " +
                   std::to_string(unlogged_by_reason_[r]);
    }
  }
  logInfo("radius: " + std::to_string(unlogged_bills_) + " local bill(s) written (" + by_reason +
          "), the first for " + first_unlogged_);
  unlogged_bills_ = 0;
  unlogged_by_reason_ = {};
}

void RadiusAccounting::applyActions() {
  logLocalBills();
  const uint64_t answers = to_refuse_.empty() ? 0 : answersOf(client_->stats());
  for (const auto& [k, session] : to_refuse_) {
    if (hooks_.refuse && hooks_.refuse(k)) {
      ++stats_.refusals;
      refused_[k] = Refusal{clock_.monotonicNs(), answers};
    } else if (auto it = sessions_.find(session); it != sessions_.end()) {
      // Not stored (the IPv6 refusal table is full): it stays online, like start_fail online.
      ++stats_.refusals_not_stored;
      it->second.fallback_reason = bill::LocalBillReason::kStartUnansweredOnline;
    }
  }
  to_refuse_.clear();
  for (const IpAddress& k : to_end_) {
    if (hooks_.end_session) {
      hooks_.end_session(k);
    }
  }
  to_end_.clear();
  for (const IpAddress& k : to_admit_) {
    if (hooks_.admit && hooks_.admit(k)) {
      ++stats_.admitted;
    }
  }
  to_admit_.clear();
}

uint64_t RadiusAccounting::drain(int64_t limit_ns) {
  pending_starts_.clear();  // every session has ended: onEnd sent the Starts still waiting
  flushSubmissions();
  const uint64_t before = stats_.stops_unanswered;
  const int64_t deadline = clock_.monotonicNs() + limit_ns;
  while (client_->pending() != 0 && clock_.monotonicNs() < deadline) {
    completions_.clear();
    client_->drainCompletions(completions_);
    for (const Completion& c : completions_) {
      settle(c);
    }
    if (client_->pending() != 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  completions_.clear();
  if (client_->pending() == 0) {
    submitOnOff(AcctStatusType::kAccountingOff);
    flushSubmissions();
    while (client_->pending() != 0 && clock_.monotonicNs() < deadline) {
      client_->drainCompletions(completions_);
      if (client_->pending() != 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
  }
  client_->stop();  // what is left completes with kShutdown
  client_->drainCompletions(completions_);
  for (const Completion& c : completions_) {
    settle(c);
  }
  // Sessions whose Stop was never submitted (cannot happen after the final harvest) and
  // fallback sessions still open get their local bill now.
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    writeLocalBill(it->first, it->second, it->second.fallback ? it->second.fallback_reason
                                                               : bill::LocalBillReason::kShutdown);
    ++stats_.stops_unanswered;
    it = sessions_.erase(it);
  }
  logLocalBills();
  return stats_.stops_unanswered - before;
}

AccountingStats RadiusAccounting::stats() const {
  AccountingStats s = stats_;
  s.starts_waiting = pending_starts_.size();
  s.refused_now = refused_.size();
  s.sessions_active = 0;
  s.stops_in_flight = 0;
  for (const auto& [id, a] : sessions_) {
    a.ended ? ++s.stops_in_flight : ++s.sessions_active;
  }
  return s;
}

const std::string& RadiusAccounting::acctSessionIdOf(uint64_t session_id) const {
  static const std::string kNone;
  auto it = sessions_.find(session_id);
  return it == sessions_.end() ? kNone : it->second.acct_session_id;
}

}  // namespace tally::radius
