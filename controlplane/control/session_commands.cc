#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/control/commands.h"
#include "controlplane/report.h"

namespace tally {

namespace {

constexpr const char* kNoDaemon = "served by tallyd only";

Reply sessionCommand(const std::vector<std::string>& words, Poller& poller) {
  // session handover ADDRESS NODE | session qos-change ADDRESS QCI | session logout ADDRESS |
  // session cut ADDRESS
  static const std::string kUsage =
      "usage: session handover ADDRESS NODE | session qos-change ADDRESS QCI | "
      "session logout ADDRESS | session cut ADDRESS";
  bool two_args = words.size() == 4 && (words[1] == "handover" || words[1] == "qos-change");
  bool one_arg = words.size() == 3 && (words[1] == "logout" || words[1] == "cut");
  if (!two_args && !one_arg) {
    return refuseReply(kUsage);
  }
  auto addr = parseIpAddress(words[2]);
  if (!addr) {
    return refuseReply("'" + words[2] + "' is not an IPv4 or IPv6 address");
  }
  if (!poller.plan().inPool(*addr)) {
    return refuseReply(words[2] + " is not in any subscribers.pools prefix");
  }
  if (one_arg) {
    // logout: the signalling plane saw the subscriber leave (normalRelease); cut: the
    // operator ends the session (managementIntervention).
    EndCause cause = words[1] == "logout" ? EndCause::kLogout : EndCause::kManagement;
    if (!poller.endSession(*addr, cause)) {
      return refuseReply("no session for " + words[2]);
    }
    return textReply("session of " + words[2] + " ended (" + endCauseName(cause) +
                "); its final record is written when the workers hand over its counters\n");
  }
  if (words[1] == "handover") {
    auto node = parseIpAddress(words[3]);
    if (!node) {
      return refuseReply("serving node '" + words[3] + "' is not an IPv4 or IPv6 address");
    }
    if (!poller.servingNodeChange(*addr, *node)) {
      return refuseReply("no billed session for " + words[2]);
    }
    return textReply("serving node of " + words[2] + " is now " + words[3] + "\n");
  }
  const std::string& q = words[3];
  bool digits = !q.empty() && q.size() <= 3 &&
                q.find_first_not_of("0123456789") == std::string::npos;
  int qci = digits ? std::stoi(q) : 0;
  if (qci < 1 || qci > 255) {
    return refuseReply("QCI '" + q + "': allowed 1-255");
  }
  switch (poller.qosChange(*addr, uint8_t(qci))) {
    case Poller::QosChangeResult::kNoSession:
      return refuseReply("no billed session for " + words[2]);
    case Poller::QosChangeResult::kIgnored:
      // The engine counts it (display statistics: "QoS changes: ... ignored").
      return textReply("QoS change of " + words[2] + " ignored: its records already carry QCI " +
                       std::to_string(qci) +
                       " (same QCI and ARP: no change of charging condition, no container "
                       "closed; counted in display statistics)\n");
    case Poller::QosChangeResult::kInitial:
      return textReply("QoS of " + words[2] + " is now QCI " + std::to_string(qci) +
                       " (its records are not open yet: the first one starts with it)\n");
    case Poller::QosChangeResult::kApplied:
      break;
  }
  return textReply("QoS of " + words[2] + " is now QCI " + std::to_string(qci) + "\n");
}

// Every session, in steps (ControlServer renders the reply as the client reads, between polls):
// `begin`, then item() for each session by id, then end(sessions shown).
// Consistency: "a snapshot in motion". The display walks the sessions by id up to the newest
// id when the command arrived, each step resuming after the last id shown (O(log n), no copy
// of the ids): each session is rendered when the display reaches it, with its usage then, and
// left out if it has finished by then; sessions opened after the command are not shown.
Reply streamSessions(Poller& poller, std::string begin,
                     std::function<void(const Session& s, size_t index, std::string& out)> item,
                     std::function<std::string(size_t shown)> end) {
  struct Cursor {
    uint64_t last = 0;    // the id shown (or passed) last
    uint64_t newest = 0;  // the newest id when the command arrived: the display ends there
    size_t shown = 0;
  };
  auto cur = std::make_shared<Cursor>();
  cur->newest = poller.newestSessionId();
  Reply r = textReply(std::move(begin));
  r.more = [cur, &poller, item = std::move(item), end = std::move(end)](std::string& out,
                                                                        size_t max_bytes) {
    const size_t start = out.size();
    while (out.size() - start < max_bytes) {
      const Session* s = poller.sessionAfter(cur->last);
      if (s == nullptr || s->id > cur->newest) {
        out += end(cur->shown);
        return true;
      }
      cur->last = s->id;
      item(*s, cur->shown++, out);
    }
    return false;
  };
  return r;
}

// `display session --json`: the same text as one JSON array of sessionJson() dumped with
// indent 2.
Reply sessionListJson(Poller& poller) {
  const CountingPlan* plan = &poller.plan();
  return streamSessions(
      poller, "[",
      [plan](const Session& s, size_t index, std::string& out) {
        out += index == 0 ? "\n  " : ",\n  ";
        // As an element of an array dumped with indent 2: every line two spaces further in.
        std::string one = sessionJson(s, *plan).dump(2);
        size_t from = 0;
        for (size_t nl = one.find('\n'); nl != std::string::npos; nl = one.find('\n', from)) {
          out.append(one, from, nl + 1 - from);
          out += "  ";
          from = nl + 1;
        }
        out.append(one, from, std::string::npos);
      },
      [](size_t shown) { return std::string(shown == 0 ? "]\n" : "\n]\n"); });
}

// `display session`: the table of formatSessionList().
Reply sessionListText(Poller& poller) {
  const CountingPlan* plan = &poller.plan();
  return streamSessions(
      poller, sessionListHeader(),
      [plan](const Session& s, size_t, std::string& out) { out += sessionListRow(s, *plan); },
      [](size_t shown) { return sessionListFooter(shown); });
}

Reply displaySession(const std::vector<std::string>& args, bool json, Poller& poller,
                     const CommandRegistry& registry) {
  if (args.size() > 1) {
    return refuseReply("display session takes at most one ADDRESS, got " +
                  std::to_string(args.size()));
  }
  if (args.empty()) {
    if (json) {
      return sessionListJson(poller);
    }
    return sessionListText(poller);
  }
  auto addr = parseIpAddress(args[0]);
  if (!addr) {
    return refuseReply("'" + args[0] + "' is not an IPv4 or IPv6 address");
  }
  if (!poller.plan().inPool(*addr)) {
    return refuseReply(args[0] + " is not in any subscribers.pools prefix");
  }
  const Session* s = poller.findSession(*addr);
  if (s == nullptr) {
    return refuseReply("no session for " + args[0]);
  }
  if (json) {
    nlohmann::ordered_json j = sessionJson(*s, poller.plan());
    for (const CommandRegistry::SessionSection& d : registry.sessionDetails()) {
      d.json(*s, j);
    }
    return textReply(j.dump(2) + "\n");
  }
  std::string out = formatSession(*s, poller);
  for (const CommandRegistry::SessionSection& d : registry.sessionDetails()) {
    d.text(*s, out);
  }
  return textReply(out);
}

Reply displayStatistics(const CommandRegistry::Args& a, const Poller& poller,
                        const CommandRegistry& registry) {
  if (!a.words.empty()) {
    return refuseReply("display statistics takes no arguments, got '" + a.words[0] + "'");
  }
  if (a.json) {
    nlohmann::ordered_json j = totalsJson(poller);
    for (const CommandRegistry::Section& s : registry.statistics()) {
      s.json(j);
    }
    return textReply(j.dump(2) + "\n");
  }
  std::string out = formatStatistics(poller);
  for (const CommandRegistry::Section& s : registry.statistics()) {
    s.text(out);
  }
  return textReply(out);
}

}  // namespace

void registerSessionCommands(CommandRegistry& registry, Poller* poller) {
  const CommandRegistry* reg = &registry;
  // Any other `session ...`: refused with the usage of the session commands.
  registry.add({"session"}, "", "", [poller](const CommandRegistry::Args& a) {
    if (poller == nullptr) {
      return refuseReply(kNoDaemon);
    }
    std::vector<std::string> words = {"session"};
    words.insert(words.end(), a.words.begin(), a.words.end());
    return sessionCommand(words, *poller);
  });
  registry.add({"display", "session"}, "display session [ADDRESS] [--json]",
               "sessions, or one subscriber's session",
               [poller, reg](const CommandRegistry::Args& a) {
                 return poller == nullptr ? refuseReply(kNoDaemon)
                                          : displaySession(a.words, a.json, *poller, *reg);
               });
  registry.add({"display", "statistics"}, "display statistics [--json]",
               "data-plane counters, ports, conservation",
               [poller, reg](const CommandRegistry::Args& a) {
                 return poller == nullptr ? refuseReply(kNoDaemon)
                                          : displayStatistics(a, *poller, *reg);
               });
  struct Op {
    const char* word;
    const char* usage;
    const char* help;
  };
  static const Op kOps[] = {
      {"handover", "session handover ADDRESS NODE", "the subscriber's serving node changed"},
      {"qos-change", "session qos-change ADDRESS QCI", "the subscriber's QoS class changed"},
      {"logout", "session logout ADDRESS", "the subscriber logged out (normalRelease)"},
      {"cut", "session cut ADDRESS", "end the session (managementIntervention)"},
  };
  for (const Op& op : kOps) {
    const std::string word = op.word;
    registry.add({"session", word}, op.usage, op.help,
                 [poller, word](const CommandRegistry::Args& a) {
                   if (poller == nullptr) {
                     return refuseReply(kNoDaemon);
                   }
                   std::vector<std::string> words = {"session", word};
                   words.insert(words.end(), a.words.begin(), a.words.end());
                   return sessionCommand(words, *poller);
                 });
  }
}

}  // namespace tally
