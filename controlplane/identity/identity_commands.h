#pragma once
// `session identify` (control socket): the single form, the batches tallyctl sends for
// `session identify --bulk`, and the Identities section of `display statistics`.
#include "controlplane/control/commands.h"
#include "controlplane/identity/identity_store.h"
#include "controlplane/poller.h"

namespace tally {

// A null poller registers the table only (tallyctl's usage text). `store` may be null (no
// persistence: tests).
void registerIdentityCommands(CommandRegistry& registry, Poller* poller, IdentityStore* store);

// The most JSON Lines one batch request carries; tallyctl also keeps each request within the
// socket's request limit (ControlLimits::max_request_bytes).
constexpr size_t kIdentifyBatchMaxLines = 512;

}  // namespace tally
