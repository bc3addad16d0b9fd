#pragma once
// Operator commands served on the control socket (tallyctl). Each refuses bad input with a
// reason; none blocks.
#include <string>
#include <vector>

#include "controlplane/control_server.h"
#include "controlplane/poller.h"

namespace tally {

Reply handleCommand(const std::vector<std::string>& words, Poller& poller);

// The usage text listing every command.
std::string commandHelp();

}  // namespace tally
