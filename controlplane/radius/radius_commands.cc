#include "controlplane/radius/radius_commands.h"

#include <sstream>

#include "controlplane/bill/local_bill.h"
#include "controlplane/time_format.h"

namespace tally::radius {

namespace {

using nlohmann::ordered_json;

std::string endpointText(const Endpoint& e) {
  return e.address.family == 6 ? "[" + formatIp(e.address) + "]:" + std::to_string(e.port)
                               : formatIp(e.address) + ":" + std::to_string(e.port);
}

constexpr bill::LocalBillReason kReasons[] = {
    bill::LocalBillReason::kStopUnanswered,         bill::LocalBillReason::kStartUnansweredOnline,
    bill::LocalBillReason::kStartUnansweredOffline, bill::LocalBillReason::kInterimUnansweredOffline,
    bill::LocalBillReason::kNotSent,                bill::LocalBillReason::kShutdown};

Reply display(const RadiusAccounting& acct, bool json) {
  const ClientStats c = acct.clientStats();
  const AccountingStats a = acct.stats();
  if (json) {
    ordered_json j;
    ordered_json servers = ordered_json::array();
    for (size_t i = 0; i < c.servers.size(); ++i) {
      const ServerStats& s = c.servers[i];
      servers.push_back({{"index", i},
                         {"server", endpointText(s.endpoint)},
                         {"state", serverStateName(s.state)},
                         {"state_since_unix_ns", s.state_since_wall_ns},
                         {"requests", s.requests},
                         {"retransmissions", s.retransmissions},
                         {"timeouts", s.timeouts},
                         {"responses", s.responses},
                         {"unreachable", s.unreachable},
                         {"send_errors", s.send_errors},
                         {"failovers_from", s.failovers_from},
                         {"marked_dead", s.marked_dead},
                         {"probes_sent", s.probes_sent},
                         {"probes_answered", s.probes_answered},
                         {"sockets", s.sockets},
                         {"last_rtt_us", s.last_rtt_ns / 1000}});
    }
    j["servers"] = servers;
    ordered_json completed;
    for (size_t i = 0; i < size_t(Outcome::kCount); ++i) {
      completed[outcomeName(Outcome(i))] = c.completed[i];
    }
    ordered_json dropped;
    for (size_t i = 0; i < size_t(DropReason::kCount); ++i) {
      dropped[dropReasonName(DropReason(i))] = c.dropped[i];
    }
    j["requests"] = {{"submitted", c.submitted},
                     {"queued", c.queued},
                     {"outstanding", c.outstanding},
                     {"window", c.window},
                     {"max_queued", c.max_queued},
                     {"completed", completed}};
    j["responses_dropped"] = dropped;
    j["sessions"] = {{"starts", a.sessions_started},
                     {"starts_waiting", a.starts_waiting},
                     {"interims", a.interims},
                     {"stops", a.stops},
                     {"starts_unanswered", a.starts_unanswered},
                     {"interims_unanswered", a.interims_unanswered},
                     {"stops_unanswered", a.stops_unanswered},
                     {"accounting_active", a.sessions_active},
                     {"stops_in_flight", a.stops_in_flight},
                     {"refused_now", a.refused_now},
                     {"refusals", a.refusals},
                     {"refusals_not_stored", a.refusals_not_stored},
                     {"admitted", a.admitted}};
    ordered_json lb;
    uint64_t total = 0;
    for (bill::LocalBillReason r : kReasons) {
      lb[bill::localBillReasonName(r)] = a.local_bills[size_t(r)];
      total += a.local_bills[size_t(r)];
    }
    lb["total"] = total;
    lb["octets"] = a.local_bill_octets;
    j["local_bills"] = lb;
    return textReply(j.dump(2) + "\n");
  }
  std::ostringstream o;
  o << "  RADIUS accounting servers\n";
  o << "    " << "#  SERVER                  STATE     REQUESTS  RETRANS  TIMEOUTS  RESPONSES"
    << "  DEAD  PROBES(ANSWERED)\n";
  for (size_t i = 0; i < c.servers.size(); ++i) {
    const ServerStats& s = c.servers[i];
    char line[256];
    std::snprintf(line, sizeof line, "    %-2zu %-23s %-9s %8llu %8llu %9llu %10llu %5llu  %llu(%llu)\n",
                  i, endpointText(s.endpoint).c_str(), serverStateName(s.state),
                  (unsigned long long)s.requests, (unsigned long long)s.retransmissions,
                  (unsigned long long)s.timeouts, (unsigned long long)s.responses,
                  (unsigned long long)s.marked_dead, (unsigned long long)s.probes_sent,
                  (unsigned long long)s.probes_answered);
    o << line;
  }
  o << "  Requests\n";
  o << "    submitted                   : " << c.submitted << "\n";
  o << "    queued / in flight / window : " << c.queued << " / " << c.outstanding << " / "
    << c.window << " (most queued " << c.max_queued << ")\n";
  o << "    completed                   :";
  for (size_t i = 0; i < size_t(Outcome::kCount); ++i) {
    o << " " << outcomeName(Outcome(i)) << " " << c.completed[i];
  }
  o << "\n    responses dropped           :";
  for (size_t i = 0; i < size_t(DropReason::kCount); ++i) {
    o << " " << dropReasonName(DropReason(i)) << " " << c.dropped[i];
  }
  o << "\n  Sessions\n";
  o << "    starts / interims / stops   : " << a.sessions_started << " / " << a.interims << " / "
    << a.stops << " (starts waiting " << a.starts_waiting << ")\n";
  o << "    unanswered                  : starts " << a.starts_unanswered << ", interims "
    << a.interims_unanswered << ", stops " << a.stops_unanswered << "\n";
  o << "    with accounting / stopping  : " << a.sessions_active << " / " << a.stops_in_flight
    << "\n";
  o << "    refused (start_fail offline): " << a.refused_now << " now, " << a.refusals
    << " in all, " << a.admitted << " admitted again, " << a.refusals_not_stored
    << " not stored\n";
  o << "  Local bills\n";
  uint64_t total = 0;
  for (bill::LocalBillReason r : kReasons) {
    o << "    " << bill::localBillReasonName(r);
    for (size_t pad = std::string(bill::localBillReasonName(r)).size(); pad < 28; ++pad) {
      o << ' ';
    }
    o << ": " << a.local_bills[size_t(r)] << "\n";
    total += a.local_bills[size_t(r)];
  }
  o << "    total                       : " << total << " (" << a.local_bill_octets
    << " octets)\n";
  return textReply(o.str());
}

}  // namespace

void registerRadiusCommands(CommandRegistry& registry, const RadiusAccounting* accounting) {
  registry.add({"display", "radius"}, "display radius [--json]",
               "RADIUS servers, requests, drops, refusals, local bills by cause",
               [accounting](const CommandRegistry::Args& a) {
                 if (!a.words.empty()) {
                   return refuseReply("display radius takes no argument");
                 }
                 if (accounting == nullptr) {
                   return refuseReply(
                       "RADIUS accounting is not configured (accounting.radius)");
                 }
                 return display(*accounting, a.json);
               });
}

}  // namespace tally::radius
