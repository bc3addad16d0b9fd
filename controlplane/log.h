#pragma once
// Control-plane logging to stderr with a level and a UTC time stamp. Never used on an lcore.
#include <string>

namespace tally {

void logInfo(const std::string& msg);
void logWarn(const std::string& msg);
void logAlarm(const std::string& msg);  // an operator must act
void logError(const std::string& msg);

}  // namespace tally
