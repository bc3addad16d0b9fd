#pragma once
// tallyd's process: EAL, ports and worker lcores; the control plane (controlplane/daemon.h) runs
// on the main lcore. The only code that includes DPDK headers is under dataplane/.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/daemon.h"
#include "shared/config.h"

namespace tally {

// Runs until a signal, --exit-when-idle or --run-for. Returns the process exit code:
// 0 ok, 1 conservation violated or report not written, 2 start-up error.
int runDaemon(const Config& config, const DaemonOptions& options);

}  // namespace tally
