#include "controlplane/log.h"

#include <cstdio>
#include <ctime>

#include "controlplane/time_format.h"

namespace tally {

namespace {

void emit(const char* level, const std::string& msg) {
  std::string ts = utcLogStamp(std::time(nullptr));
  std::fprintf(stderr, "%s tallyd %s: %s\n", ts.c_str(), level, msg.c_str());
}

}  // namespace

void logInfo(const std::string& msg) { emit("info", msg); }
void logWarn(const std::string& msg) { emit("warning", msg); }
void logAlarm(const std::string& msg) { emit("ALARM", msg); }
void logError(const std::string& msg) { emit("error", msg); }

}  // namespace tally
