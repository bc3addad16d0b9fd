#include "controlplane/daemon.h"

#include <algorithm>
#include <cstdio>

#include "controlplane/bill/local_bill_commands.h"
#include "controlplane/charging/billing_commands.h"
#include "controlplane/control/commands.h"
#include "controlplane/identity/identity_commands.h"
#include "controlplane/log.h"
#include "controlplane/radius/radius_commands.h"
#include "controlplane/report.h"

namespace tally {

namespace {
constexpr int64_t kNsPerMs = 1000000;
}  // namespace

Daemon::Daemon(const Config& config, const CountingPlan& plan, std::vector<WorkerChannel> workers,
               const Clock& clock, const DaemonOptions& options)
    : config_(config),
      clock_(clock),
      options_(options),
      poller_(std::make_unique<Poller>(config, plan, std::move(workers), clock)),
      interval_ns_(int64_t(config.dataplane.poll_interval_ms) * kNsPerMs),
      start_ns_(clock.monotonicNs()),
      next_poll_ns_(start_ns_ + interval_ns_),
      last_rx_change_ns_(start_ns_),
      first_rx_ns_(start_ns_) {}

Daemon::~Daemon() = default;

Result<std::unique_ptr<Daemon>> Daemon::open(const Config& config, const CountingPlan& plan,
                                             std::vector<WorkerChannel> workers,
                                             const Clock& clock, const DaemonOptions& options) {
  std::unique_ptr<Daemon> d(new Daemon(config, plan, std::move(workers), clock, options));
  auto biller = Biller::open(config, clock);
  if (!biller.ok()) {
    return Error{"billing: " + biller.error().message};
  }
  d->biller_ = std::move(*biller);
  d->poller_->addObserver(d->biller_.get());
  if (config.accounting.radius) {
    Poller* poller = d->poller_.get();
    Biller* biller_ptr = d->biller_.get();
    radius::AccountingHooks hooks;
    hooks.local_bill = [biller_ptr](bill::LocalBill b) {
      biller_ptr->pool().emitLocalBill(std::move(b));
    };
    hooks.refuse = [poller](const IpAddress& key) { return poller->refuse(key); };
    hooks.admit = [poller](const IpAddress& key) { return poller->admit(key); };
    hooks.end_session = [poller](const IpAddress& key) {
      return poller->endSession(key, EndCause::kRadius);
    };
    auto acct = radius::RadiusAccounting::open(config, clock, std::move(hooks));
    if (!acct.ok()) {
      return acct.error();
    }
    d->radius_ = std::move(*acct);
    d->poller_->addObserver(d->radius_.get());
  }
  // Provisioned identities (`session identify`) from the last run, before any traffic.
  IdentityStore::Loaded loaded;
  auto store = IdentityStore::open(config.node.state_dir, config, plan, loaded);
  if (!store.ok()) {
    return Error{"identities: " + store.error().message};
  }
  d->identities_ = std::move(*store);
  size_t not_taken = 0;  // beyond dataplane.max_sessions (lowered since they were stored)
  for (const IdentityRequest& r : loaded.identities) {
    not_taken += d->poller_->identify(r) == IdentifyOutcome::kFull;
  }
  if (not_taken != 0) {
    logAlarm("identities: " + std::to_string(not_taken) + " of " +
             std::to_string(loaded.identities.size()) +
             " stored identities not loaded: the table holds at most dataplane.max_sessions = " +
             std::to_string(config.dataplane.max_sessions));
  }
  if (!loaded.identities.empty() || loaded.dropped != 0) {
    logInfo("identities: " + std::to_string(loaded.identities.size()) + " loaded from " +
            config.node.state_dir + "/" + IdentityStore::kFileName +
            (loaded.dropped == 0 ? std::string()
                                 : ", " + std::to_string(loaded.dropped) +
                                       " dropped (not valid under this configuration; first: " +
                                       loaded.first_reason + ")"));
  }
  // Each module registers the commands it owns.
  registerSessionCommands(d->commands_, d->poller_.get());
  registerIdentityCommands(d->commands_, d->poller_.get(), d->identities_.get());
  registerBillingCommands(d->commands_, config.accounting, d->biller_.get());
  registerLocalBillCommands(d->commands_, &d->biller_->pool());
  radius::registerRadiusCommands(d->commands_, d->radius_.get());
  const CommandRegistry* commands = &d->commands_;
  auto server = ControlServer::open(
      config.control.socket, config.control.socket_mode,
      [commands](const std::vector<std::string>& words) { return commands->dispatch(words); });
  if (!server.ok()) {
    return server.error();
  }
  registerControlSocketStatistics(d->commands_, **server);
  d->server_ = std::move(*server);
  return d;
}

Daemon::Stop Daemon::step(int max_wait_ms) {
  const int64_t now = clock_.monotonicNs();
  if (now >= next_poll_ns_) {
    poller_->poll();
    if (radius_) {
      radius_->applyActions();  // refusals and ends that RADIUS answers asked for
    }
    next_poll_ns_ += interval_ns_;
    if (next_poll_ns_ < now) {
      next_poll_ns_ = now + interval_ns_;  // the poll overran: do not try to catch up
    }
    const uint64_t rx = poller_->statistics().worker[size_t(Stat::kRxPackets)];
    if (rx != last_rx_) {
      if (!seen_rx_) {
        seen_rx_ = true;
        first_rx_ns_ = now;
      }
      last_rx_ = rx;
      last_rx_change_ns_ = now;
    }
    if (options_.exit_when_idle_ms >= 0 &&
        now - last_rx_change_ns_ >= options_.exit_when_idle_ms * kNsPerMs) {
      logInfo("no packet for " + std::to_string(options_.exit_when_idle_ms) + " ms: stopping");
      stopped_at_ns_ = now;
      return Stop::kIdle;
    }
    if (options_.run_for_s > 0 && double(now - start_ns_) >= options_.run_for_s * 1e9) {
      stopped_at_ns_ = now;
      return Stop::kRunFor;
    }
  }
  const int64_t wait_ms = (next_poll_ns_ - clock_.monotonicNs()) / kNsPerMs;
  server_->serve(int(std::clamp<int64_t>(wait_ms, 0, max_wait_ms)));
  return Stop::kNo;
}

Daemon::Stop Daemon::run(const std::atomic<bool>& signal) {
  while (!signal.load(std::memory_order_relaxed)) {
    Stop s = step();
    if (s != Stop::kNo) {
      return s;
    }
  }
  stopped_at_ns_ = clock_.monotonicNs();
  return Stop::kSignal;
}

bool Daemon::finish() {
  if (stopped_at_ns_ == 0) {
    stopped_at_ns_ = clock_.monotonicNs();
  }
  if (radius_) {
    radius_->beginShutdown();  // the Stops of the final harvest say NAS-Reboot
  }
  conserved_ = poller_->finalHarvest();
  if (radius_) {
    // Every session has ended and its Stop is submitted: wait for the answers within the
    // client's retry budget (every transmission on every server), local bills for the rest,
    // before the bill pool closes.
    const int64_t budget = radius_->retryBudgetNs() + 1000 * kNsPerMs;
    logInfo("radius: waiting up to " + std::to_string(budget / kNsPerMs) +
            " ms for the Stops of " + std::to_string(radius_->stats().stops_in_flight) +
            " sessions");
    const uint64_t local = radius_->drain(budget);
    if (local != 0) {
      logInfo("radius: " + std::to_string(local) + " sessions settled by local bills at stop");
    }
  }
  biller_->shutdown();
  if (identities_) {
    identities_->close();  // every identity answered "ok" is in the file
  }
  server_.reset();
  return conserved_;
}

int Daemon::report(int64_t mbufs_in_use_at_exit) {
  poller_->setMbufsInUseAtExit(mbufs_in_use_at_exit);
  int rc = 0;
  if (mbufs_in_use_at_exit != 0) {
    logAlarm(std::to_string(mbufs_in_use_at_exit) +
             " packet buffer(s) not returned to the pool at exit");
    rc = 1;
  }
  if (!options_.usage_report.empty()) {
    std::string err = writeUsageReport(options_.usage_report, *poller_);
    if (!err.empty()) {
      logError("usage report: " + err);
      rc = 1;
    }
  }
  if (options_.summary) {
    std::fputs(formatSummary(*poller_).c_str(), stdout);
    std::fputs(formatBillingSummary(*biller_).c_str(), stdout);
  }
  const bill::PoolInformation bills = biller_->pool().information();
  uint64_t dropped = 0;
  for (const auto& d : bills.dropped) {
    dropped += d.bills;
  }
  // The bill balance: after the final harvest every session's record is closed, so the usage
  // attributed to sessions this run went into closed records, and each closed record was kept
  // or counted as dropped (docs/storage.md).
  const uint64_t attributed = poller_->statistics().attributed_octets;
  if (!bills.balanced() || (conserved_ && attributed != bills.emitted_octets)) {
    logAlarm("bill balance violated: attributed " + std::to_string(attributed) +
             " octets, closed into records " + std::to_string(bills.emitted_octets) + ", kept " +
             std::to_string(bills.kept_octets) + " + dropped " +
             std::to_string(bills.droppedAtEmitOctets()));
    rc = 1;
  }
  if (dropped != 0 || (!bills.enabled && bills.bills != 0)) {
    logAlarm("bills: " + std::to_string(bills.bills) + " not yet in a file (kept in the journal" +
             " for the next start), " + std::to_string(dropped) + " dropped" +
             (bills.last_write_error.empty() ? "" : "; last write error: " + bills.last_write_error));
    rc = 1;
  }
  if (options_.rate) {
    const double secs = double(stopped_at_ns_ - first_rx_ns_) / 1e9;
    const uint64_t rx = poller_->statistics().worker[size_t(Stat::kRxPackets)];
    std::printf("rx_packets %llu seconds %.3f rate_pps %.0f\n", (unsigned long long)rx, secs,
                secs > 0 ? double(rx) / secs : 0.0);
  }
  std::fflush(stdout);
  if (!conserved_) {
    logAlarm("conservation check failed at the final harvest");
    rc = 1;
  }
  return rc;
}

}  // namespace tally
