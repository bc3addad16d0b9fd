#pragma once
// What tallyd needs from the machine, checked without starting anything (docs/config.md,
// "What --check-config checks"): the paths a loaded Config names (CF card directory, control
// socket, time zone), the files and interfaces the EAL --vdev arguments name, the virtual
// ports the config polls, the lcores the EAL list gives, and the --usage-report path.
// `tallyd --check-config` reports every problem found; `tallyd --config` runs the same checks
// before EAL start-up, so the two never disagree on these. Nothing is created or changed.
// DPDK-free: the EAL arguments are read as text.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/config.h"

namespace tally {

struct EnvironmentOptions {
  std::optional<std::vector<std::string>> eal_override;  // --eal-args: replaces dataplane.eal
  std::string usage_report;                              // --usage-report PATH ("" = none)
};

struct EnvironmentReport {
  // Each would make start-up fail; file:line:column of the key when it is in the file.
  std::vector<ConfigError> errors;
  // Would not stop a later start, e.g. a control socket in use by the tallyd still running.
  std::vector<std::string> warnings;
};

EnvironmentReport checkEnvironment(const Config& config, const EnvironmentOptions& options);

// What only starting can tell, for --check-config's output.
extern const char* const kNotCheckedWithoutStarting;

// ---- EAL argument reading (exposed for tests) ----

// One --vdev argument: "net_pcap0,rx_pcap=a.pcap" -> name net_pcap0, {rx_pcap, a.pcap}.
struct VdevArg {
  std::string name;
  std::vector<std::pair<std::string, std::string>> kvargs;
  size_t index = 0;  // position in the EAL argument list (of the device text)
};
std::vector<VdevArg> findVdevs(const std::vector<std::string>& eal);

// The lcores an EAL argument list gives: -l/--lcores LIST ("0-3,5"; the forms with '@' or
// '(' are not read: readable = false), or -c MASK (hex). `index`: the list argument's
// position. nullopt when none is given (EAL then uses every CPU available to the process).
struct LcoreList {
  std::vector<unsigned> cpus;
  size_t index = 0;
  bool readable = true;
};
std::optional<LcoreList> findLcores(const std::vector<std::string>& eal);
// "0-3,5" -> {0, 1, 2, 3, 5}; nullopt when not of that form.
std::optional<std::vector<unsigned>> parseCpuList(std::string_view text);

}  // namespace tally
