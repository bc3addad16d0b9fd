#pragma once
// The billing module's commands and views: `display cc-profile`, the Billing section of
// `display statistics`, the open CDR under `display session ADDRESS`.
#include <string>

#include "controlplane/charging/biller.h"
#include "controlplane/control/commands.h"
#include "shared/config.h"

namespace tally {

// `biller` may be null (no billing output, or tallyctl's usage text): then only the profiles.
void registerBillingCommands(CommandRegistry& registry, const AccountingConfig& accounting,
                             const Biller* biller);

// Billing output at exit and in `display statistics`: records and files written, where.
std::string formatBillingSummary(const Biller& biller);

}  // namespace tally
