// The command table: modules register what they own; dispatch picks the longest registered
// prefix, passes the rest and --json, and refuses anything else with the help text.
#include "controlplane/control/commands.h"

#include <gtest/gtest.h>

namespace tally {
namespace {

Reply echo(const std::string& who, const CommandRegistry::Args& a) {
  std::string t = who + (a.json ? " json" : "");
  for (const std::string& w : a.words) {
    t += " [" + w + "]";
  }
  return textReply(t);
}

CommandRegistry table() {
  CommandRegistry r;
  r.add({"display"}, "", "", [](const auto& a) { return echo("display", a); });
  r.add({"display", "session"}, "display session [ADDRESS]", "sessions",
        [](const auto& a) { return echo("session", a); });
  r.add({"display", "statistics"}, "display statistics", "counters",
        [](const auto& a) { return echo("statistics", a); });
  return r;
}

TEST(CommandsTest, TheLongestRegisteredPrefixWins) {
  CommandRegistry r = table();
  EXPECT_EQ(r.dispatch({"display", "session", "10.0.0.1"}).text, "session [10.0.0.1]");
  EXPECT_EQ(r.dispatch({"display", "statistics"}).text, "statistics");
  EXPECT_EQ(r.dispatch({"display", "other", "x"}).text, "display [other] [x]");
}

TEST(CommandsTest, JsonIsAFlagAnywhere) {
  CommandRegistry r = table();
  EXPECT_EQ(r.dispatch({"display", "--json", "session", "a"}).text, "session json [a]");
  EXPECT_EQ(r.dispatch({"display", "session", "a", "--json"}).text, "session json [a]");
}

TEST(CommandsTest, UnknownAndEmptyCommandsAreRefusedWithTheHelp) {
  CommandRegistry r = table();
  Reply u = r.dispatch({"reboot", "now"});
  EXPECT_FALSE(u.ok);
  EXPECT_EQ(u.error.rfind("unknown command 'reboot now'\n", 0), 0u) << u.error;
  EXPECT_NE(u.error.find("display session [ADDRESS]"), std::string::npos);
  Reply e = r.dispatch({"--json"});
  EXPECT_FALSE(e.ok);
  EXPECT_EQ(e.error.rfind("empty command", 0), 0u);
}

TEST(CommandsTest, HelpListsEveryCommandWithUsageOnce) {
  const std::string h = table().help();
  EXPECT_EQ(h,
            "commands:\n"
            "  display session [ADDRESS]            sessions\n"
            "  display statistics                   counters\n");
}

TEST(CommandsTest, SectionsAreKeptInTheOrderAdded) {
  CommandRegistry r;
  r.addStatistics({[](std::string& t) { t += "A"; }, [](nlohmann::ordered_json& j) { j["a"] = 1; }});
  r.addStatistics({[](std::string& t) { t += "B"; }, [](nlohmann::ordered_json& j) { j["b"] = 2; }});
  std::string text;
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& s : r.statistics()) {
    s.text(text);
    s.json(j);
  }
  EXPECT_EQ(text, "AB");
  EXPECT_EQ(j.dump(), R"({"a":1,"b":2})");
}

}  // namespace
}  // namespace tally
