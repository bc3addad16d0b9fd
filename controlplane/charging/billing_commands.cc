#include "controlplane/charging/billing_commands.h"

#include "controlplane/bill/local_bill_commands.h"

#include <cstdio>
#include <string>

namespace tally {

namespace {

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

std::string arpText(const ArpConfig& a) {
  return "priority level " + std::to_string(a.priority_level) + ", pre-emption capability " +
         (a.capability_enabled ? "enabled" : "disabled") + ", vulnerability " +
         (a.vulnerability_enabled ? "enabled" : "disabled") + " (aRP " +
         std::to_string(a.octet()) + ")";
}

nlohmann::ordered_json arpJson(const ArpConfig& a) {
  return {{"priority_level", a.priority_level},
          {"pre_emption_capability", a.capability_enabled ? "enabled" : "disabled"},
          {"pre_emption_vulnerability", a.vulnerability_enabled ? "enabled" : "disabled"},
          {"octet", a.octet()}};
}

std::string tariffText(const TariffTime& t) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02u:%02u", unsigned(t.hour), unsigned(t.minute));
  return buf;
}

Reply displayCcProfile(const std::vector<std::string>& args, bool json,
                       const AccountingConfig& acc) {
  std::vector<const CcProfile*> shown;
  if (args.size() > 1) {
    return refuseReply("display cc-profile takes at most one INDEX (1, 2, 4 or 8)");
  }
  if (args.empty()) {
    for (const CcProfile& p : acc.cc_profiles) {
      shown.push_back(&p);
    }
  } else {
    const std::string& a = args[0];
    if (a != "1" && a != "2" && a != "4" && a != "8") {
      return refuseReply("cc-profile index '" + a + "': allowed 1, 2, 4 or 8");
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
                     {"volume", volumeJson(p->volume)},
                     {"max_service_containers", p->max_service_containers},
                     {"qci", p->qci},
                     {"arp", arpJson(p->arp)}});
    }
    return textReply((args.empty() ? arr : arr[0]).dump(2) + "\n");
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
    line("Max service containers", std::to_string(p->max_service_containers));
    line("Initial QCI", std::to_string(p->qci));
    line("Initial ARP", arpText(p->arp));
    out += "\n";
  }
  return textReply(out);
}

}  // namespace

std::string formatBillingSummary(const Biller& biller) {
  return formatLocalBillSummary(biller.pool());
}

void registerBillingCommands(CommandRegistry& registry, const AccountingConfig& accounting,
                             const Biller* biller) {
  registry.add({"display", "cc-profile"}, "display cc-profile [INDEX] [--json]",
               "charging-characteristics profiles 1 2 4 8",
               [&accounting](const CommandRegistry::Args& a) {
                 return displayCcProfile(a.words, a.json, accounting);
               });
  if (biller == nullptr) {
    return;
  }
  registry.addStatistics(CommandRegistry::Section{
      [biller](std::string& out) {
        const ChargingCounters& c = biller->engine().counters();
        out += "  Billing\n    " + formatBillingSummary(*biller);
        out += "    QoS changes: " + std::to_string(c.qos_changes) + " applied, " +
               std::to_string(c.qos_changes_ignored) + " ignored (same QCI and ARP)\n";
      },
      [biller](nlohmann::ordered_json& j) {
        const ChargingCounters& c = biller->engine().counters();
        j["charging_sessions_open"] = biller->engine().openSessions();
        j["qos_changes"] = c.qos_changes;
        j["qos_changes_ignored"] = c.qos_changes_ignored;
      }});
  // The session's open CDR, under `display session ADDRESS`.
  registry.addSessionDetail(CommandRegistry::SessionSection{
      [biller](const Session& s, std::string& out) {
        std::optional<OpenCdrView> cdr = biller->engine().view(s.id);
        if (!cdr) {
          return;
        }
        std::string nodes;
        for (const IpAddress& n : cdr->serving_nodes) {
          nodes += (nodes.empty() ? "" : ", ") + formatIp(n);
        }
        out += "  Charging ID           : " + std::to_string(cdr->charging_id) + "\n";
        out += "  Records closed        : " + std::to_string(cdr->records_closed) + "\n";
        out += "  Open CDR volume       : uplink " + std::to_string(cdr->uplink_octets) +
               " octets, downlink " + std::to_string(cdr->downlink_octets) + " octets\n";
        // None: no GTP-U peer seen and no node.access_node_address (docs/charging.md).
        out += "  Serving nodes         : " + (nodes.empty() ? std::string("none") : nodes) + "\n";
        out += "  QoS of the open CDR   : QCI " + std::to_string(cdr->qci) + ", aRP " +
               std::to_string(cdr->arp) + "\n";
      },
      [biller](const Session& s, nlohmann::ordered_json& j) {
        std::optional<OpenCdrView> cdr = biller->engine().view(s.id);
        if (!cdr) {
          return;
        }
        nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
        for (const IpAddress& n : cdr->serving_nodes) {
          nodes.push_back(formatIp(n));
        }
        j["open_cdr"] = {{"charging_id", cdr->charging_id},
                         {"records_closed", cdr->records_closed},
                         {"uplink_octets", cdr->uplink_octets},
                         {"downlink_octets", cdr->downlink_octets},
                         {"traffic_containers_closed", cdr->traffic_containers_closed},
                         {"serving_nodes", nodes},
                         {"qci", cdr->qci},
                         {"arp", cdr->arp}};
      }});
}

}  // namespace tally
