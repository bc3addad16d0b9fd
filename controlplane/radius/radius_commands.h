#pragma once
// The RADIUS accounting commands (tallyctl): `display radius [--json]` — the servers and their
// state, requests, retransmissions, timeouts, responses dropped by reason, the queue, and the
// local bills written by cause (docs/radius.md, "What an operator sees").
#include "controlplane/control/commands.h"
#include "controlplane/radius/accounting.h"

namespace tally::radius {

// A null `accounting` (no accounting.radius configured): the command says so.
void registerRadiusCommands(CommandRegistry& registry, const RadiusAccounting* accounting);

}  // namespace tally::radius
