#pragma once
// tallyd's process: EAL, ports, worker lcores, and the control-plane loop on the main lcore.
// The only code that includes DPDK headers is runtime.cc.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shared/config.h"

namespace tally {

struct DaemonOptions {
  std::optional<std::vector<std::string>> eal_override;  // replaces dataplane.eal
  int64_t exit_when_idle_ms = -1;  // stop when no packet arrived for this long (-1: never)
  double run_for_s = 0;            // stop after this many seconds (0: never)
  std::string usage_report;        // JSON Lines written at exit ("" = none)
  bool summary = true;             // print the per-subscriber summary at exit
  bool rate = false;               // print the receive rate at exit (benchmarks)
};

// Runs until a signal, --exit-when-idle or --run-for. Returns the process exit code:
// 0 ok, 1 conservation violated or report not written, 2 start-up error.
int runDaemon(const Config& config, const DaemonOptions& options);

}  // namespace tally
