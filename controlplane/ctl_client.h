#pragma once
// Client side of the control socket (used by tallyctl and by tests).
#include <string>
#include <vector>

#include "controlplane/control_server.h"
#include "shared/result.h"

namespace tally {

// Sends one request and waits at most timeout_ms for the reply. An Error when the daemon
// cannot be reached or the reply is malformed; a refused command is an ok Result with !ok.
Result<Reply> sendCommand(const std::string& socket_path, const std::vector<std::string>& words,
                          int timeout_ms);

}  // namespace tally
