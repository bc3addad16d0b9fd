#include "controlplane/log.h"

#include <cstdio>
#include <ctime>

namespace tally {

namespace {

void emit(const char* level, const std::string& msg) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::fprintf(stderr, "%s tallyd %s: %s\n", ts, level, msg.c_str());
}

}  // namespace

void logInfo(const std::string& msg) { emit("info", msg); }
void logWarn(const std::string& msg) { emit("warning", msg); }
void logAlarm(const std::string& msg) { emit("ALARM", msg); }
void logError(const std::string& msg) { emit("error", msg); }

}  // namespace tally
