#include "controlplane/report.h"

#include <map>
#include <sstream>

#include "controlplane/storage/durable_file.h"
#include "controlplane/time_format.h"

namespace tally {

namespace {

std::string timeText(int64_t wall_ns) { return utcTimeText(wall_ns / 1000000000); }

std::string pad(const std::string& s, size_t w, bool right = false) {
  if (s.size() >= w) {
    return s;
  }
  return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

std::string num(uint64_t v) { return std::to_string(v); }

}  // namespace

std::vector<std::string> portNames(const Config& config) {
  std::vector<std::string> names;
  for (const PortConfig& p : config.dataplane.ports) {
    names.push_back(p.name);
  }
  return names;
}

std::string subscriberText(const IpAddress& key, const CountingPlan& plan) {
  if (key.family == 6) {
    return formatIp6(key.v6) + "/" + std::to_string(plan.ipv6_prefix_length);
  }
  return formatIp(key);
}

nlohmann::ordered_json flowJson(const FlowUsage& u, const CountingPlan& plan) {
  return {{"type", "flow"},
          {"subscriber", subscriberText(u.key, plan)},
          {"rating_group", u.rating_group},
          {"uplink_octets", u.counters.ul_octets},
          {"downlink_octets", u.counters.dl_octets},
          {"uplink_packets", u.counters.ul_packets},
          {"downlink_packets", u.counters.dl_packets}};
}

nlohmann::ordered_json totalsJson(const Poller& poller) {
  const Statistics& st = poller.statistics();
  nlohmann::ordered_json j;
  j["type"] = "totals";
  for (size_t i = 0; i < st.worker.size(); ++i) {
    j[kStatNames[i]] = st.worker[i];
  }
  j["attributed_octets"] = st.attributed_octets;
  j["attributed_packets"] = st.attributed_packets;
  j["unattributed_octets"] = st.unattributedOctets();
  j["unattributed_packets"] = st.unattributedPackets();
  j["unattributed_learn_disabled_octets"] =
      st.unattributed_octets[size_t(Unattributed::kLearnDisabled)];
  j["unattributed_sessions_full_octets"] =
      st.unattributed_octets[size_t(Unattributed::kSessionsFull)];
  j["unattributed_no_identity_octets"] =
      st.unattributed_octets[size_t(Unattributed::kNoIdentity)];
  j["unattributed_radius_refused_octets"] =
      st.unattributed_octets[size_t(Unattributed::kRadiusRefused)];
  j["conservation"] = st.conservation_violations == 0 ? "ok" : "violated";
  j["conservation_checks"] = st.conservation_checks;
  j["conservation_deferred"] = st.conservation_deferred;
  j["conservation_violations"] = st.conservation_violations;
  j["sessions_created"] = st.sessions_created;
  j["sessions_ended"] = st.sessions_ended;
  j["sessions_active"] = st.sessions_created - st.sessions_ended;
  j["sessions_full_alarms"] = st.sessions_full_alarms;
  j["polls"] = st.polls;
  j["max_poll_us"] = st.max_poll_ns / 1000;
  j["counters_read_mono_ns"] = st.counters_read_mono_ns;
  j["mbufs_in_use_at_exit"] = st.mbufs_in_use_at_exit;
  nlohmann::ordered_json ports = nlohmann::ordered_json::array();
  std::vector<std::string> names = portNames(poller.config());
  for (size_t p = 0; p < st.ports.size(); ++p) {
    ports.push_back({{"name", names[p]},
                     {"rx_packets", st.ports[p].rx_packets},
                     {"tx_packets", st.ports[p].tx_packets},
                     {"tx_drops", st.ports[p].tx_drops},
                     {"tap_drops", st.ports[p].tap_drops},
                     {"refused_drops", st.ports[p].refused_drops}});
  }
  j["ports"] = ports;
  return j;
}

nlohmann::ordered_json sessionJson(const Session& s, const CountingPlan& plan) {
  nlohmann::ordered_json flows = nlohmann::ordered_json::array();
  FlowCounters total;
  for (uint32_t rg = 0; rg < s.usage.size(); ++rg) {
    total += s.usage[rg];
    if (s.usage[rg].empty()) {
      continue;
    }
    flows.push_back({{"rating_group", plan.rating_groups[rg]},
                     {"uplink_octets", s.usage[rg].ul_octets},
                     {"downlink_octets", s.usage[rg].dl_octets},
                     {"uplink_packets", s.usage[rg].ul_packets},
                     {"downlink_packets", s.usage[rg].dl_packets}});
  }
  return {{"session_id", s.id},
          {"subscriber", subscriberText(s.key, plan)},
          {"billed", s.billed},
          {"unattributed_reason",
           s.billed ? ""
                    : (s.reason == Unattributed::kSessionsFull ? "sessions_full"
                       : s.reason == Unattributed::kNoIdentity ? "no_identity"
                       : s.reason == Unattributed::kRadiusRefused ? "radius_refused"
                                                                  : "learn_disabled")},
          {"static", s.is_static},
          {"user_name", s.user_name},
          {"imsi", s.imsi},
          {"msisdn", s.msisdn},
          {"imei", s.imei},
          {"apn", s.apn},
          {"identified", s.identified},
          {"cc_profile", s.cc_profile},
          {"state", s.ending ? "ending" : "active"},
          {"start_time", timeText(s.start_wall_ns)},
          {"last_activity", timeText(s.last_activity_wall_ns)},
          {"uplink_octets", total.ul_octets},
          {"downlink_octets", total.dl_octets},
          {"uplink_packets", total.ul_packets},
          {"downlink_packets", total.dl_packets},
          {"flows", flows}};
}

std::string writeUsageReport(const std::string& path, const Poller& poller) {
  std::string text;
  for (const FlowUsage& u : poller.usage()) {
    text += flowJson(u, poller.plan()).dump() + "\n";
  }
  text += totalsJson(poller).dump() + "\n";
  auto r = writeFileDurably(path, text);
  return r ? "" : r.error().message;
}

std::string formatSummary(const Poller& poller) {
  std::ostringstream o;
  const CountingPlan& plan = poller.plan();
  std::vector<FlowUsage> flows = poller.usage();
  o << "Usage per subscriber and rating group (IP octets; uplink = from the subscriber)\n";
  o << pad("SUBSCRIBER", 26) << pad("RG", 6, true) << pad("UPLINK OCTETS", 16, true)
    << pad("DOWNLINK OCTETS", 17, true) << pad("UP PKTS", 10, true) << pad("DOWN PKTS", 11, true)
    << "\n";
  std::string last;
  FlowCounters grand;
  for (const FlowUsage& u : flows) {
    std::string sub = subscriberText(u.key, plan);
    o << pad(sub == last ? "" : sub, 26) << pad(num(u.rating_group), 6, true)
      << pad(num(u.counters.ul_octets), 16, true) << pad(num(u.counters.dl_octets), 17, true)
      << pad(num(u.counters.ul_packets), 10, true) << pad(num(u.counters.dl_packets), 11, true)
      << "\n";
    last = sub;
    grand += u.counters;
  }
  o << pad("TOTAL (" + num(flows.size()) + " flows)", 32) << pad(num(grand.ul_octets), 16, true)
    << pad(num(grand.dl_octets), 17, true) << pad(num(grand.ul_packets), 10, true)
    << pad(num(grand.dl_packets), 11, true) << "\n";
  const Statistics& st = poller.statistics();
  o << "Frames received " << st.worker[size_t(Stat::kRxPackets)] << "; billed sides "
    << st.worker[size_t(Stat::kCountedPackets)] << " packets / "
    << st.worker[size_t(Stat::kCountedOctets)] << " octets; unattributed "
    << st.unattributedOctets() << " octets; transit " << st.worker[size_t(Stat::kTransitPackets)]
    << " packets; not billed (non-IP/malformed/GTP signalling) "
    << st.worker[size_t(Stat::kNonIp)] + st.worker[size_t(Stat::kL2Truncated)] +
           st.worker[size_t(Stat::kBadIpVersion)] + st.worker[size_t(Stat::kBadIpHeader)] +
           st.worker[size_t(Stat::kIpLengthExceedsFrame)] +
           st.worker[size_t(Stat::kGtpMalformed)] + st.worker[size_t(Stat::kGtpNotGpdu)] +
           st.worker[size_t(Stat::kHeadersSplit)]
    << " packets\n";
  o << "Conservation: counted " << st.worker[size_t(Stat::kCountedOctets)]
    << " = attributed " << st.attributed_octets << " + unattributed " << st.unattributedOctets()
    << " octets: " << (st.conservation_violations == 0 ? "ok" : "VIOLATED") << "\n";
  return o.str();
}

std::string formatStatistics(const Poller& poller) {
  const Statistics& st = poller.statistics();
  std::ostringstream o;
  o << "  Data plane (all " << poller.workerCount() << " workers)\n";
  for (size_t i = 0; i < st.worker.size(); ++i) {
    o << "    " << pad(kStatNames[i], 28) << ": " << st.worker[i] << "\n";
  }
  o << "  Ports\n";
  std::vector<std::string> names = portNames(poller.config());
  o << "    " << pad("NAME", 20) << pad("RX PKTS", 14, true) << pad("TX PKTS", 14, true)
    << pad("TX DROPS", 12, true) << pad("TAP DROPS", 12, true) << pad("REFUSED", 12, true)
    << "\n";
  for (size_t p = 0; p < st.ports.size(); ++p) {
    o << "    " << pad(names[p], 20) << pad(num(st.ports[p].rx_packets), 14, true)
      << pad(num(st.ports[p].tx_packets), 14, true) << pad(num(st.ports[p].tx_drops), 12, true)
      << pad(num(st.ports[p].tap_drops), 12, true)
      << pad(num(st.ports[p].refused_drops), 12, true) << "\n";
  }
  o << "  Control plane\n";
  o << "    " << pad("sessions active", 28) << ": " << st.sessions_created - st.sessions_ended
    << " (max " << poller.config().dataplane.max_sessions << ")\n";
  o << "    " << pad("sessions created / ended", 28) << ": " << st.sessions_created << " / "
    << st.sessions_ended << "\n";
  o << "    " << pad("tracked flows", 28) << ": " << st.tracked_flows << "\n";
  o << "    " << pad("polls", 28) << ": " << st.polls << " (last " << st.last_poll_ns / 1000
    << " us, max " << st.max_poll_ns / 1000 << " us)\n";
  o << "  Conservation\n";
  o << "    " << pad("counted octets", 28) << ": " << st.worker[size_t(Stat::kCountedOctets)]
    << "\n";
  o << "    " << pad("attributed octets", 28) << ": " << st.attributed_octets << "\n";
  o << "    " << pad("unattributed octets", 28) << ": " << st.unattributedOctets()
    << " (learn queue full " << st.worker[size_t(Stat::kLearnQueueFullOctets)]
    << ", slot table full " << st.worker[size_t(Stat::kSlotTableFullOctets)] << ", learning off "
    << st.unattributed_octets[size_t(Unattributed::kLearnDisabled)] << ", session table full "
    << st.unattributed_octets[size_t(Unattributed::kSessionsFull)] << ", held without identity "
    << st.unattributed_octets[size_t(Unattributed::kNoIdentity)] << ", refused by RADIUS "
    << st.unattributed_octets[size_t(Unattributed::kRadiusRefused)] << ")\n";
  o << "    " << pad("in flight (last poll)", 28) << ": " << st.conservation_last_gap << "\n";
  o << "    " << pad("checks / deferred / violated", 28) << ": " << st.conservation_checks
    << " / " << st.conservation_deferred << " / " << st.conservation_violations << "\n";
  o << "    " << pad("state", 28) << ": "
    << (st.conservation_violations == 0 ? "ok" : "VIOLATED") << "\n";
  return o.str();
}

std::string sessionListHeader() {
  std::ostringstream o;
  o << "  " << pad("ID", 8) << pad("SUBSCRIBER", 26) << pad("USER", 12) << pad("STATE", 18)
    << pad("UP OCTETS", 14, true) << pad("DOWN OCTETS", 14, true) << "\n";
  return o.str();
}

std::string sessionListRow(const Session& s, const CountingPlan& plan) {
  FlowCounters t;
  for (const FlowCounters& f : s.usage) {
    t += f;
  }
  std::string state = s.ending ? "ending" : "active";
  if (!s.billed) {
    state = s.reason == Unattributed::kSessionsFull  ? "unbilled(full)"
            : s.reason == Unattributed::kNoIdentity ? "held(no identity)"
            : s.reason == Unattributed::kRadiusRefused ? "refused(radius)"
                                                       : "unbilled(learn)";
  }
  std::ostringstream o;
  o << "  " << pad(num(s.id), 8) << pad(subscriberText(s.key, plan), 26)
    << pad(s.user_name.empty() ? "-" : s.user_name, 12) << pad(state, 18)
    << pad(num(t.ul_octets), 14, true) << pad(num(t.dl_octets), 14, true) << "\n";
  return o.str();
}

std::string sessionListFooter(size_t sessions) {
  return "  Total: " + std::to_string(sessions) + " session(s)\n";
}

std::string formatSessionList(const Poller& poller) {
  std::string out = sessionListHeader();
  auto sessions = poller.sessions();
  for (const Session* s : sessions) {
    out += sessionListRow(*s, poller.plan());
  }
  return out + sessionListFooter(sessions.size());
}

std::string formatSession(const Session& s, const Poller& poller) {
  std::ostringstream o;
  const CountingPlan& plan = poller.plan();
  auto line = [&o](const std::string& k, const std::string& v) {
    o << "  " << pad(k, 22) << ": " << v << "\n";
  };
  line("Session ID", num(s.id));
  line("Subscriber", subscriberText(s.key, plan));
  line("User name", s.user_name.empty() ? "-" : s.user_name);
  line("IMSI", s.imsi.empty() ? "-" : s.imsi);
  line("MSISDN", s.msisdn.empty() ? "-" : s.msisdn);
  line("IMEI", s.imei.empty() ? "-" : s.imei);
  line("Identity", s.is_static    ? "configuration (static)"
                   : s.identified ? "provisioned (session identify)"
                                  : "none (billed under its address)");
  line("Static", s.is_static ? "yes" : "no");
  line("CC profile", num(s.cc_profile));
  line("State", s.ending ? "ending" : (s.billed ? "active" : "active, not billed"));
  line("Start time (UTC)", timeText(s.start_wall_ns));
  line("Last activity (UTC)", timeText(s.last_activity_wall_ns));
  for (uint32_t rg = 0; rg < s.usage.size(); ++rg) {
    const FlowCounters& f = s.usage[rg];
    if (f.empty()) {
      continue;
    }
    line("Rating group " + num(plan.rating_groups[rg]),
         "uplink " + num(f.ul_octets) + " octets / " + num(f.ul_packets) + " packets, downlink " +
             num(f.dl_octets) + " octets / " + num(f.dl_packets) + " packets");
  }
  return o.str();
}

}  // namespace tally
