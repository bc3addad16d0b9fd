#include "controlplane/commands.h"

#include <algorithm>

#include "controlplane/report.h"

namespace tally {

namespace {

Reply refuse(std::string why) { return Reply{false, "", std::move(why)}; }
Reply text(std::string t) { return Reply{true, std::move(t), ""}; }

Reply displaySession(const std::vector<std::string>& args, bool json, Poller& poller) {
  if (args.size() > 1) {
    return refuse("display session takes at most one ADDRESS, got " +
                  std::to_string(args.size()));
  }
  if (args.empty()) {
    if (json) {
      nlohmann::ordered_json arr = nlohmann::ordered_json::array();
      for (const Session* s : poller.sessions()) {
        arr.push_back(sessionJson(*s, poller.plan()));
      }
      return text(arr.dump(2) + "\n");
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
  return text(json ? sessionJson(*s, poller.plan()).dump(2) + "\n" : formatSession(*s, poller));
}

}  // namespace

std::string commandHelp() {
  return "commands:\n"
         "  display session [ADDRESS] [--json]   sessions, or one subscriber's session\n"
         "  display statistics [--json]          data-plane counters, ports, conservation\n";
}

Reply handleCommand(const std::vector<std::string>& in, Poller& poller) {
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
      return displaySession(args, json, poller);
    }
    if (words[1] == "statistics") {
      if (!args.empty()) {
        return refuse("display statistics takes no arguments, got '" + args[0] + "'");
      }
      if (json) {
        return text(totalsJson(poller).dump(2) + "\n");
      }
      return text(formatStatistics(poller));
    }
  }
  std::string joined;
  for (const std::string& w : words) {
    joined += (joined.empty() ? "" : " ") + w;
  }
  return refuse("unknown command '" + joined + "'\n" + commandHelp());
}

}  // namespace tally
