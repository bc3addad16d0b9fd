#pragma once
// tallyd's control plane as one object: the poller, the biller (CDR output), the control socket
// and the loop that drives them on the main lcore, timed by an injected Clock (tests drive it
// with FakeClock, step by step). The DPDK adapter (dataplane/runtime.cc) only starts EAL, the
// ports and the worker lcores, hands the workers' channels to Daemon::open, calls run(), stops
// the workers and calls finish().
//
// Thread: the control-plane thread (main lcore) only.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/charging/biller.h"
#include "controlplane/control/commands.h"
#include "controlplane/control/control_server.h"
#include "controlplane/identity/identity_store.h"
#include "controlplane/poller.h"
#include "controlplane/radius/accounting.h"
#include "shared/clock.h"
#include "shared/config.h"
#include "shared/counting_plan.h"
#include "shared/result.h"

namespace tally {

// tallyd's command line (dataplane/tallyd_main.cc).
struct DaemonOptions {
  std::optional<std::vector<std::string>> eal_override;  // replaces dataplane.eal
  int64_t exit_when_idle_ms = -1;  // stop when no packet arrived for this long (-1: never)
  double run_for_s = 0;            // stop after this many seconds (0: never)
  std::string usage_report;        // JSON Lines written at exit ("" = none)
  bool summary = true;             // print the per-subscriber summary at exit
  bool rate = false;               // print the receive rate at exit (benchmarks)
};

class Daemon {
 public:
  // Why run() or step() says to stop.
  enum class Stop : uint8_t { kNo = 0, kSignal, kIdle, kRunFor };

  // Builds the poller over the workers' channels, opens the biller (time zone, state file, CDR
  // directory) and the control socket. An error names what failed.
  static Result<std::unique_ptr<Daemon>> open(const Config& config, const CountingPlan& plan,
                                              std::vector<WorkerChannel> workers,
                                              const Clock& clock, const DaemonOptions& options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // One turn of the loop: polls the counters when a poll is due (an overrun poll is not caught
  // up: the next one is an interval later), checks the stop conditions, then serves the control
  // socket until the next poll is due, waiting at most max_wait_ms.
  Stop step(int max_wait_ms = 100);
  // Turns until `signal` is set or a stop condition holds.
  Stop run(const std::atomic<bool>& signal);

  // After the workers have stopped (and counted everything in flight): the final harvest, the
  // biller's last file, the socket closed. Returns whether conservation held.
  bool finish();
  // After the ports are closed: the exit reports (usage report, summary, rate, alarms). Returns
  // the process exit code part owned by the control plane (0 or 1).
  int report(int64_t mbufs_in_use_at_exit);

  Poller& poller() { return *poller_; }
  const Biller& biller() const { return *biller_; }
  const radius::RadiusAccounting* radius() const { return radius_.get(); }
  const std::string& socketPath() const { return server_->path(); }

 private:
  Daemon(const Config& config, const CountingPlan& plan, std::vector<WorkerChannel> workers,
         const Clock& clock, const DaemonOptions& options);

  const Config& config_;
  const Clock& clock_;
  DaemonOptions options_;
  std::unique_ptr<Poller> poller_;
  std::unique_ptr<Biller> biller_;
  std::unique_ptr<IdentityStore> identities_;  // node.state_dir/identities.jsonl
  std::unique_ptr<radius::RadiusAccounting> radius_;  // accounting.radius; null without it
  CommandRegistry commands_;  // before server_: the socket's handler uses it
  std::unique_ptr<ControlServer> server_;
  int64_t interval_ns_;
  int64_t start_ns_;
  int64_t next_poll_ns_;
  uint64_t last_rx_ = 0;
  int64_t last_rx_change_ns_;
  int64_t first_rx_ns_;
  bool seen_rx_ = false;
  int64_t stopped_at_ns_ = 0;
  bool conserved_ = true;  // at the final harvest
};

}  // namespace tally
