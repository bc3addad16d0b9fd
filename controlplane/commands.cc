#include "controlplane/commands.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include "controlplane/report.h"

namespace tally {

namespace {

Reply refuse(std::string why) { return Reply{false, "", std::move(why)}; }
Reply text(std::string t) { return Reply{true, std::move(t), ""}; }

std::string profileName(uint8_t index) {
  switch (index) {
    case 1:
      return "hot billing";
    case 2:
      return "flat billing";
    case 4:
      return "prepaid billing";
    default:
      return "normal billing";
  }
}

std::string volumeText(const VolumeLimit& v) {
  if (!v.enabled()) {
    return "disabled";
  }
  if (v.total) {
    return "total " + std::to_string(*v.total) + " octets";
  }
  std::string out;
  if (v.uplink) {
    out += "uplink " + std::to_string(*v.uplink) + " octets";
  }
  if (v.downlink) {
    out += std::string(out.empty() ? "" : ", ") + "downlink " + std::to_string(*v.downlink) +
           " octets";
  }
  return out;
}

nlohmann::ordered_json volumeJson(const VolumeLimit& v) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (v.total) {
    j["total"] = *v.total;
  }
  if (v.uplink) {
    j["uplink"] = *v.uplink;
  }
  if (v.downlink) {
    j["downlink"] = *v.downlink;
  }
  return j;
}

std::string tariffText(const TariffTime& t) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02u:%02u", unsigned(t.hour), unsigned(t.minute));
  return buf;
}

Reply displayCcProfile(const std::vector<std::string>& args, bool json, const Poller& poller) {
  const AccountingConfig& acc = poller.config().accounting;
  std::vector<const CcProfile*> shown;
  if (args.size() > 1) {
    return refuse("display cc-profile takes at most one INDEX (1, 2, 4 or 8)");
  }
  if (args.empty()) {
    for (const CcProfile& p : acc.cc_profiles) {
      shown.push_back(&p);
    }
  } else {
    const std::string& a = args[0];
    if (a != "1" && a != "2" && a != "4" && a != "8") {
      return refuse("cc-profile index '" + a + "': allowed 1, 2, 4 or 8");
    }
    shown.push_back(&acc.profile(uint8_t(std::stoi(a))));
  }
  if (json) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const CcProfile* p : shown) {
      nlohmann::ordered_json t = nlohmann::ordered_json::array();
      for (const TariffTime& tt : p->tariff) {
        t.push_back(tariffText(tt));
      }
      arr.push_back({{"index", p->index},
                     {"name", profileName(p->index)},
                     {"buckets", p->buckets},
                     {"interval", p->interval_s ? nlohmann::ordered_json(*p->interval_s)
                                                : nlohmann::ordered_json(nullptr)},
                     {"interval_min_volume", p->interval_min_volume},
                     {"sdf_interval", p->sdf_interval_s
                                          ? nlohmann::ordered_json(*p->sdf_interval_s)
                                          : nlohmann::ordered_json(nullptr)},
                     {"sdf_volume", volumeJson(p->sdf_volume)},
                     {"serving_nodes", p->serving_nodes},
                     {"tariff", t},
                     {"volume", volumeJson(p->volume)}});
    }
    return text((args.empty() ? arr : arr[0]).dump(2) + "\n");
  }
  std::string out;
  for (const CcProfile* p : shown) {
    auto line = [&out](const std::string& k, const std::string& v) {
      out += "  " + k + std::string(k.size() < 24 ? 24 - k.size() : 0, ' ') + ": " + v + "\n";
    };
    line("CC profile index", std::to_string(p->index) + " (" + profileName(p->index) + ")");
    line("Buckets", std::to_string(p->buckets));
    line("Interval", p->interval_s ? std::to_string(*p->interval_s) + " s (minimum volume " +
                                         std::to_string(p->interval_min_volume) + " octets)"
                                   : "disabled");
    line("SDF interval", p->sdf_interval_s ? std::to_string(*p->sdf_interval_s) + " s"
                                           : "disabled");
    line("SDF volume", volumeText(p->sdf_volume));
    line("Serving nodes", std::to_string(p->serving_nodes));
    std::string tariffs;
    for (const TariffTime& t : p->tariff) {
      tariffs += (tariffs.empty() ? "" : ", ") + tariffText(t);
    }
    line("Tariff times", tariffs.empty() ? "none" : tariffs);
    line("Volume", volumeText(p->volume));
    out += "\n";
  }
  return text(out);
}

Reply sessionCommand(const std::vector<std::string>& words, Poller& poller) {
  // session handover ADDRESS NODE | session qos-change ADDRESS QCI | session logout ADDRESS |
  // session cut ADDRESS
  static const std::string kUsage =
      "usage: session handover ADDRESS NODE | session qos-change ADDRESS QCI | "
      "session logout ADDRESS | session cut ADDRESS";
  bool two_args = words.size() == 4 && (words[1] == "handover" || words[1] == "qos-change");
  bool one_arg = words.size() == 3 && (words[1] == "logout" || words[1] == "cut");
  if (!two_args && !one_arg) {
    return refuse(kUsage);
  }
  auto addr = parseIpAddress(words[2]);
  if (!addr) {
    return refuse("'" + words[2] + "' is not an IPv4 or IPv6 address");
  }
  if (!poller.plan().inPool(*addr)) {
    return refuse(words[2] + " is not in any subscribers.pools prefix");
  }
  if (one_arg) {
    // logout: the signalling plane saw the subscriber leave (normalRelease); cut: the
    // operator ends the session (managementIntervention).
    EndCause cause = words[1] == "logout" ? EndCause::kLogout : EndCause::kManagement;
    if (!poller.endSession(*addr, cause)) {
      return refuse("no session for " + words[2]);
    }
    return text("session of " + words[2] + " ended (" + endCauseName(cause) +
                "); its final record is written when the workers hand over its counters\n");
  }
  if (words[1] == "handover") {
    auto node = parseIpAddress(words[3]);
    if (!node) {
      return refuse("serving node '" + words[3] + "' is not an IPv4 or IPv6 address");
    }
    if (!poller.servingNodeChange(*addr, *node)) {
      return refuse("no billed session for " + words[2]);
    }
    return text("serving node of " + words[2] + " is now " + words[3] + "\n");
  }
  const std::string& q = words[3];
  bool digits = !q.empty() && q.size() <= 3 &&
                q.find_first_not_of("0123456789") == std::string::npos;
  int qci = digits ? std::stoi(q) : 0;
  if (qci < 1 || qci > 255) {
    return refuse("QCI '" + q + "': allowed 1-255");
  }
  if (!poller.qosChange(*addr, uint8_t(qci))) {
    return refuse("no billed session for " + words[2]);
  }
  return text("QoS of " + words[2] + " is now QCI " + q + "\n");
}

// `display session --json` of every session, in steps (ControlServer renders it as the client
// reads, between polls): the same text as one JSON array of sessionJson() by session id.
// Consistency: "a snapshot in motion". The ids are those of the sessions when the command
// arrives; each session is rendered when the display reaches it, with its usage then, and
// left out if it has finished by then; sessions opened after the command are not shown.
Reply sessionListJson(Poller& poller) {
  struct Cursor {
    std::vector<uint64_t> ids;
    size_t next = 0;
    size_t shown = 0;
  };
  auto cur = std::make_shared<Cursor>();
  cur->ids = poller.sessionIds();
  Reply r = text("[");
  r.more = [cur, &poller](std::string& out, size_t max_bytes) {
    const size_t start = out.size();
    while (cur->next < cur->ids.size() && out.size() - start < max_bytes) {
      const Session* s = poller.sessionById(cur->ids[cur->next++]);
      if (s == nullptr) {
        continue;
      }
      out += cur->shown++ == 0 ? "\n  " : ",\n  ";
      // As an element of an array dumped with indent 2: every line two spaces further in.
      std::string one = sessionJson(*s, poller.plan()).dump(2);
      size_t from = 0;
      for (size_t nl = one.find('\n'); nl != std::string::npos; nl = one.find('\n', from)) {
        out.append(one, from, nl + 1 - from);
        out += "  ";
        from = nl + 1;
      }
      out.append(one, from, std::string::npos);
    }
    if (cur->next < cur->ids.size()) {
      return false;
    }
    out += cur->shown == 0 ? "]\n" : "\n]\n";
    return true;
  };
  return r;
}

// The control socket's own figures (display statistics), when served over it.
void addControlSocketJson(nlohmann::ordered_json& j) {
  const ControlSocketStats* cs = servingControlStats();
  if (cs == nullptr) {
    return;
  }
  nlohmann::ordered_json refused = nlohmann::ordered_json::object();
  for (size_t r = 0; r < size_t(Refusal::kCount); ++r) {
    refused[refusalName(Refusal(r))] = cs->refused[r];
  }
  j["control_socket"] = {{"open_connections", cs->open_connections},
                         {"accepted", cs->accepted},
                         {"replies_complete", cs->replies_complete},
                         {"refused_total", cs->refusedTotal()},
                         {"refused", refused}};
}

std::string controlSocketText() {
  const ControlSocketStats* cs = servingControlStats();
  if (cs == nullptr) {
    return "";
  }
  std::string refused;
  for (size_t r = 0; r < size_t(Refusal::kCount); ++r) {
    refused += (refused.empty() ? "" : ", ") + std::string(refusalName(Refusal(r))) + " " +
               std::to_string(cs->refused[r]);
  }
  return "  Control socket\n"
         "    open / accepted / complete  : " +
         std::to_string(cs->open_connections) + " / " + std::to_string(cs->accepted) + " / " +
         std::to_string(cs->replies_complete) + "\n" +
         "    refused or closed early     : " + std::to_string(cs->refusedTotal()) + " (" +
         refused + ")\n";
}

Reply displaySession(const std::vector<std::string>& args, bool json, Poller& poller,
                     const Biller* biller) {
  if (args.size() > 1) {
    return refuse("display session takes at most one ADDRESS, got " +
                  std::to_string(args.size()));
  }
  if (args.empty()) {
    if (json) {
      return sessionListJson(poller);
    }
    return text(formatSessionList(poller));
  }
  auto addr = parseIpAddress(args[0]);
  if (!addr) {
    return refuse("'" + args[0] + "' is not an IPv4 or IPv6 address");
  }
  if (!poller.plan().inPool(*addr)) {
    return refuse(args[0] + " is not in any subscribers.pools prefix");
  }
  const Session* s = poller.findSession(*addr);
  if (s == nullptr) {
    return refuse("no session for " + args[0]);
  }
  std::optional<OpenCdrView> cdr;
  if (biller != nullptr) {
    cdr = biller->engine().view(s->id);
  }
  if (json) {
    nlohmann::ordered_json j = sessionJson(*s, poller.plan());
    if (cdr) {
      nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
      for (const IpAddress& n : cdr->serving_nodes) {
        nodes.push_back(formatIp(n));
      }
      j["open_cdr"] = {{"charging_id", cdr->charging_id},
                       {"records_closed", cdr->records_closed},
                       {"uplink_octets", cdr->uplink_octets},
                       {"downlink_octets", cdr->downlink_octets},
                       {"traffic_containers_closed", cdr->traffic_containers_closed},
                       {"serving_nodes", nodes}};
    }
    return text(j.dump(2) + "\n");
  }
  std::string out = formatSession(*s, poller);
  if (cdr) {
    std::string nodes;
    for (const IpAddress& n : cdr->serving_nodes) {
      nodes += (nodes.empty() ? "" : ", ") + formatIp(n);
    }
    out += "  Charging ID           : " + std::to_string(cdr->charging_id) + "\n";
    out += "  Records closed        : " + std::to_string(cdr->records_closed) + "\n";
    out += "  Open CDR volume       : uplink " + std::to_string(cdr->uplink_octets) +
           " octets, downlink " + std::to_string(cdr->downlink_octets) + " octets\n";
    out += "  Serving nodes         : " + nodes + "\n";
  }
  return text(out);
}

}  // namespace

std::string commandHelp() {
  return "commands:\n"
         "  display session [ADDRESS] [--json]   sessions, or one subscriber's session\n"
         "  display statistics [--json]          data-plane counters, ports, conservation\n"
         "  display cc-profile [INDEX] [--json]  charging-characteristics profiles 1 2 4 8\n"
         "  session handover ADDRESS NODE        the subscriber's serving node changed\n"
         "  session qos-change ADDRESS QCI       the subscriber's QoS class changed\n"
         "  session logout ADDRESS               the subscriber logged out (normalRelease)\n"
         "  session cut ADDRESS                  end the session (managementIntervention)\n"
         "  decode FILE...                       print CDR files as JSON (local, no daemon)\n";
}

std::string formatBillingSummary(const Biller& biller) {
  const cdr::CdrFileWriter& w = biller.writer();
  std::string out = "CDR output: " + std::to_string(w.recordsWritten()) + " record(s) in " +
                    std::to_string(w.filesWritten()) + " file(s) in " + w.directory();
  if (!w.lastFileName().empty()) {
    out += " (last " + w.lastFileName() + ")";
  }
  out += "\n";
  if (w.writeErrors() != 0 || w.pendingRecords() != 0 || w.recordsDropped() != 0) {
    out += "CDR output problems: " + std::to_string(w.writeErrors()) + " write error(s), " +
           std::to_string(w.pendingRecords()) + " record(s) waiting, " +
           std::to_string(w.recordsDropped()) + " dropped; last error: " + w.lastError() + "\n";
  }
  return out;
}

Reply handleCommand(const std::vector<std::string>& in, Poller& poller, const Biller* biller) {
  std::vector<std::string> words;
  bool json = false;
  for (const std::string& w : in) {
    if (w == "--json") {
      json = true;
    } else {
      words.push_back(w);
    }
  }
  if (words.empty()) {
    return refuse("empty command\n" + commandHelp());
  }
  if (words[0] == "display" && words.size() >= 2) {
    std::vector<std::string> args(words.begin() + 2, words.end());
    if (words[1] == "session") {
      return displaySession(args, json, poller, biller);
    }
    if (words[1] == "cc-profile") {
      return displayCcProfile(args, json, poller);
    }
    if (words[1] == "statistics") {
      if (!args.empty()) {
        return refuse("display statistics takes no arguments, got '" + args[0] + "'");
      }
      if (json) {
        nlohmann::ordered_json j = totalsJson(poller);
        if (biller != nullptr) {
          const cdr::CdrFileWriter& w = biller->writer();
          j["cdr_records_written"] = w.recordsWritten();
          j["cdr_files_written"] = w.filesWritten();
          j["cdr_write_errors"] = w.writeErrors();
          j["cdr_records_pending"] = w.pendingRecords();
          j["cdr_records_dropped"] = w.recordsDropped();
          j["charging_sessions_open"] = biller->engine().openSessions();
        }
        addControlSocketJson(j);
        return text(j.dump(2) + "\n");
      }
      std::string out = formatStatistics(poller);
      if (biller != nullptr) {
        out += "  Billing\n    " + formatBillingSummary(*biller);
      }
      out += controlSocketText();
      return text(out);
    }
  }
  if (words[0] == "session") {
    return sessionCommand(words, poller);
  }
  std::string joined;
  for (const std::string& w : words) {
    joined += (joined.empty() ? "" : " ") + w;
  }
  return refuse("unknown command '" + joined + "'\n" + commandHelp());
}

}  // namespace tally
