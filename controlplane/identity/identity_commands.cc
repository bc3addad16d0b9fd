#include "controlplane/identity/identity_commands.h"

#include <span>

#include <nlohmann/json.hpp>

namespace tally {
namespace {

constexpr const char* kUsage =
    "usage: session identify ADDRESS [--imsi N] [--msisdn N] [--user-name S] [--imei N] "
    "[--cc-profile N] [--apn S] [--qci N] | session identify ADDRESS --remove | "
    "session identify --bulk (JSON Lines on stdin)";

struct Applied {
  bool ok = false;
  std::string state;  // waiting, applied, released, removed; or the refusal
  uint64_t session = 0;
};

Applied apply(const IdentityRequest& r, Poller& poller, IdentityStore* store) {
  Applied a;
  const IdentifyOutcome o = poller.identify(r);
  const std::string addr = formatIp(r.key);
  switch (o) {
    case IdentifyOutcome::kWaiting:
      a = {true, "waiting"};
      break;
    case IdentifyOutcome::kApplied:
      a = {true, "applied"};
      break;
    case IdentifyOutcome::kReleased:
      a = {true, "released"};
      break;
    case IdentifyOutcome::kRemoved:
      a = {true, "removed"};
      break;
    case IdentifyOutcome::kNotFound:
      return {false, "address " + addr + ": has no provisioned identity to remove"};
    case IdentifyOutcome::kStatic:
      return {false, "address " + addr +
                         ": a static subscriber (subscribers.static): its identity is in the "
                         "configuration"};
    case IdentifyOutcome::kFull:
      return {false, "identity table full: " + std::to_string(poller.identityCount()) +
                         " identities (dataplane.max_sessions); remove some with --remove"};
  }
  if (o == IdentifyOutcome::kApplied || o == IdentifyOutcome::kReleased) {
    if (const Session* s = poller.findSession(r.key)) {
      a.session = s->id;
    }
  }
  if (store != nullptr) {
    if (r.remove) {
      store->remove(r.key);
    } else {
      store->put(r.key, identityJsonLine(r.key, r.identity));
    }
  }
  return a;
}

std::string subscriberText(const IpAddress& key, const Poller& poller) {
  std::string t = formatIp(key);
  if (key.family == 6) {
    t += "/" + std::to_string(poller.config().subscribers.ipv6_prefix_length);
  }
  return t;
}

Reply single(const std::vector<std::string>& words, Poller& poller, IdentityStore* store) {
  auto r = parseIdentityWords(words, poller.config(), poller.plan());
  if (!r.ok()) {
    return refuseReply(r.error().message + "\n" + kUsage);
  }
  Applied a = apply(r.value(), poller, store);
  if (!a.ok) {
    return refuseReply(a.state);
  }
  const std::string who = subscriberText(r.value().key, poller);
  if (a.state == "removed") {
    return textReply("identity of " + who +
                     " removed (a live session keeps the identity it has)\n");
  }
  if (a.state == "waiting") {
    return textReply("identity of " + who + " stored: waiting for its session\n");
  }
  if (a.state == "released") {
    return textReply("identity of " + who + " stored and applied to session " +
                     std::to_string(a.session) +
                     ", held without identity until now: billed from now on\n");
  }
  return textReply("identity of " + who + " stored and applied to session " +
                   std::to_string(a.session) + " (its open records from now on)\n");
}

// One answer line per JSON line: {"ok":true,"address":A,"state":S[,"session":N]} or
// {"ok":false,"error":WHY}.
Reply batch(std::span<const std::string> lines, Poller& poller, IdentityStore* store) {
  if (lines.size() > kIdentifyBatchMaxLines) {
    return refuseReply("a batch holds at most " + std::to_string(kIdentifyBatchMaxLines) +
                       " lines");
  }
  std::string out;
  out.reserve(lines.size() * 64);
  for (const std::string& line : lines) {
    auto r = parseIdentityJson(line, poller.config(), poller.plan());
    Applied a;
    if (!r.ok()) {
      a.state = r.error().message;
    } else {
      a = apply(r.value(), poller, store);
    }
    if (a.ok) {
      // By hand: an address and a fixed word need no escaping.
      out += "{\"ok\":true,\"address\":\"";
      out += subscriberText(r.value().key, poller);
      out += "\",\"state\":\"";
      out += a.state;
      out += '"';
      if (a.session != 0) {
        out += ",\"session\":";
        out += std::to_string(a.session);
      }
      out += "}\n";
      continue;
    }
    nlohmann::ordered_json j;
    j["ok"] = false;
    j["error"] = a.state;
    out += j.dump();
    out += '\n';
  }
  return textReply(std::move(out));
}

}  // namespace

void registerIdentityCommands(CommandRegistry& registry, Poller* poller, IdentityStore* store) {
  registry.add({"session", "identify"},
               "session identify ADDRESS OPTION...",
               "the subscriber's identity, before or during its\n"
               "                                       session: --imsi N, --msisdn N, --user-name S,\n"
               "                                       --imei N, --cc-profile N, --apn S, --qci N;\n"
               "                                       or --remove. `session identify --bulk`: JSON\n"
               "                                       Lines on stdin, an answer per line",
               [poller, store](const CommandRegistry::Args& a) {
                 if (poller == nullptr) {
                   return refuseReply("served by tallyd only");
                 }
                 if (a.words.empty()) {
                   return refuseReply(kUsage);
                 }
                 if (a.words[0] == "--batch") {
                   return batch(std::span<const std::string>(a.words).subspan(1), *poller,
                                store);
                 }
                 if (a.words[0] == "--bulk") {
                   return refuseReply("--bulk is tallyctl's: it reads stdin and sends batches");
                 }
                 return single(a.words, *poller, store);
               });
  if (poller == nullptr) {
    return;
  }
  registry.addStatistics(CommandRegistry::Section{
      [poller, store](std::string& out) {
        out += "Identities (session identify)\n";
        out += "  provisioned                 : " + std::to_string(poller->identityCount()) +
               " (at most " + std::to_string(poller->config().dataplane.max_sessions) + ")\n";
        out += "  applied to sessions         : " +
               std::to_string(poller->identitiesApplied()) + "\n";
        if (store != nullptr) {
          IdentityStoreStats s = store->stats();
          out += "  stored (state_dir)          : " + std::to_string(s.stored) + " in " +
                 std::to_string(s.writes) + " writes, " + std::to_string(s.pending) +
                 " changes not yet written, " + std::to_string(s.write_errors) +
                 " write errors" + (s.last_error.empty() ? "" : " (last: " + s.last_error + ")") +
                 "\n";
        }
      },
      [poller, store](nlohmann::ordered_json& j) {
        nlohmann::ordered_json& i = j["identities"];
        i["provisioned"] = poller->identityCount();
        i["max"] = poller->config().dataplane.max_sessions;
        i["applied"] = poller->identitiesApplied();
        if (store != nullptr) {
          IdentityStoreStats s = store->stats();
          i["stored"] = s.stored;
          i["writes"] = s.writes;
          i["pending_writes"] = s.pending;
          i["write_errors"] = s.write_errors;
          i["last_write_error"] = s.last_error;
        }
      }});
}

}  // namespace tally
