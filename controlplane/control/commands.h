#pragma once
// The operator's command table (tallyctl over the control socket). The registry knows no
// module: each module registers the commands it owns and the parts it adds to shared views
// (a section of `display statistics`, lines of `display session ADDRESS`), and the daemon wires
// them (controlplane/daemon.cc). Each command refuses bad input with a reason; none blocks.
//
// Thread: the control-plane thread (the registry is filled before the socket opens).
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controlplane/control/control_server.h"
#include "controlplane/poller.h"

namespace tally {

Reply refuseReply(std::string why);
Reply textReply(std::string text);

class CommandRegistry {
 public:
  // The words after the command's own words, and whether --json was given (anywhere).
  struct Args {
    std::vector<std::string> words;
    bool json = false;
  };
  using Handler = std::function<Reply(const Args& args)>;
  // A part of a shared view, text and JSON.
  struct Section {
    std::function<void(std::string& text)> text;
    std::function<void(nlohmann::ordered_json& j)> json;
  };
  struct SessionSection {
    std::function<void(const Session& s, std::string& text)> text;
    std::function<void(const Session& s, nlohmann::ordered_json& j)> json;
  };

  // `words`: the command's fixed words, e.g. {"display", "session"}; `usage` and `help`: its
  // line in the help text (none when empty). A longer registered prefix wins over a shorter
  // one.
  void add(std::vector<std::string> words, std::string usage, std::string help, Handler h);
  // Parts of `display statistics` (in the order added) and of `display session ADDRESS`.
  void addStatistics(Section s) { statistics_.push_back(std::move(s)); }
  void addSessionDetail(SessionSection s) { session_details_.push_back(std::move(s)); }

  Reply dispatch(const std::vector<std::string>& words) const;
  std::string help() const;

  const std::vector<Section>& statistics() const { return statistics_; }
  const std::vector<SessionSection>& sessionDetails() const { return session_details_; }

 private:
  struct Command {
    std::vector<std::string> words;
    std::string usage;
    std::string help;
    Handler handler;
  };
  std::vector<Command> commands_;
  std::vector<Section> statistics_;
  std::vector<SessionSection> session_details_;
};

// The poller's commands (sessions, counters): display session, display statistics (the
// counters, then every registered section), session handover | qos-change | logout | cut.
// A null poller registers the table only (tallyctl's usage text).
void registerSessionCommands(CommandRegistry& registry, Poller* poller);


}  // namespace tally
