#include "controlplane/control/commands.h"

#include <algorithm>

namespace tally {

Reply refuseReply(std::string why) { return Reply{false, "", std::move(why)}; }
Reply textReply(std::string t) { return Reply{true, std::move(t), ""}; }

void CommandRegistry::add(std::vector<std::string> words, std::string usage, std::string help,
                          Handler h) {
  commands_.push_back(Command{std::move(words), std::move(usage), std::move(help), std::move(h)});
}

std::string CommandRegistry::help() const {
  std::string out = "commands:\n";
  for (const Command& c : commands_) {
    if (c.usage.empty()) {
      continue;  // a catch-all (its refusal names the usage)
    }
    std::string line = "  " + c.usage;
    line += std::string(line.size() < 39 ? 39 - line.size() : 1, ' ');
    out += line + c.help + "\n";
  }
  return out;
}

Reply CommandRegistry::dispatch(const std::vector<std::string>& in) const {
  Args args;
  std::vector<std::string> words;
  for (const std::string& w : in) {
    if (w == "--json") {
      args.json = true;
    } else {
      words.push_back(w);
    }
  }
  if (words.empty()) {
    return refuseReply("empty command\n" + help());
  }
  // The longest registered prefix of the words.
  const Command* best = nullptr;
  for (const Command& c : commands_) {
    if (c.words.size() <= words.size() &&
        std::equal(c.words.begin(), c.words.end(), words.begin()) &&
        (best == nullptr || c.words.size() > best->words.size())) {
      best = &c;
    }
  }
  if (best == nullptr) {
    std::string joined;
    for (const std::string& w : words) {
      joined += (joined.empty() ? "" : " ") + w;
    }
    return refuseReply("unknown command '" + joined + "'\n" + help());
  }
  args.words.assign(words.begin() + long(best->words.size()), words.end());
  return best->handler(args);
}

}  // namespace tally
