#pragma once
// Operator commands served on the control socket (tallyctl). Each refuses bad input with a
// reason; none blocks.
#include <string>
#include <vector>

#include "controlplane/biller.h"
#include "controlplane/control_server.h"
#include "controlplane/poller.h"

namespace tally {

// biller may be null (no billing output).
Reply handleCommand(const std::vector<std::string>& words, Poller& poller, const Biller* biller);

// The usage text listing every command.
std::string commandHelp();

// Billing output at exit: records and files written, where.
std::string formatBillingSummary(const Biller& biller);

}  // namespace tally
