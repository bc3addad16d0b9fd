#pragma once
// The local bill commands (docs/operations.md): display local-bill configuration | information |
// cache START COUNT, local-bill cache backup [TARGET], local-bill cfcard backup [NAME],
// local-bill cfcard reset --confirm. Control-plane thread (the pool's).
#include "controlplane/bill/bill_pool.h"
#include "controlplane/control/commands.h"

namespace tally {

// `pool` may be null (tallyctl's usage text): the table only.
void registerLocalBillCommands(CommandRegistry& registry, bill::BillPool* pool);

// One paragraph for the exit summary and `display statistics`: bills in the pool, files on the
// CF card, dropped bills, transfer state.
std::string formatLocalBillSummary(const bill::BillPool& pool);

}  // namespace tally
