#pragma once
// Usage report (JSON Lines) and the human-readable views of sessions and statistics.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controlplane/poller.h"

namespace tally {

// Port names by config index, for the statistics views.
std::vector<std::string> portNames(const Config& config);

std::string subscriberText(const IpAddress& key, const CountingPlan& plan);

nlohmann::ordered_json flowJson(const FlowUsage& u, const CountingPlan& plan);
nlohmann::ordered_json totalsJson(const Poller& poller);
nlohmann::ordered_json sessionJson(const Session& s, const CountingPlan& plan);

// Writes the report durably (durable_file.h: temporary file, fsync, rename, fsync of the
// directory). Returns "" or an error text.
std::string writeUsageReport(const std::string& path, const Poller& poller);

// Per-subscriber summary table printed at exit.
std::string formatSummary(const Poller& poller);
std::string formatStatistics(const Poller& poller);
std::string formatSessionList(const Poller& poller);  // header, a row per session, footer
std::string sessionListHeader();
std::string sessionListRow(const Session& s, const CountingPlan& plan);
std::string sessionListFooter(size_t sessions);
std::string formatSession(const Session& s, const Poller& poller);

}  // namespace tally
