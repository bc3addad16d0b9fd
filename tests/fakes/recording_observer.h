#pragma once
// A SessionObserver that writes down every event as one line of text, for tests of the poller's
// event fan-out (controlplane/poller.h).
#include <string>
#include <vector>

#include "controlplane/poller.h"

namespace tally::testing {

class RecordingObserver final : public SessionObserver {
 public:
  void onOpen(const Session& s, int64_t) override { add("open", s); }
  void onUsage(const Session& s, uint32_t rating_group, const FlowCounters& d, int64_t) override {
    add("usage rg " + std::to_string(rating_group) + " ul " + std::to_string(d.ul_octets) +
            " dl " + std::to_string(d.dl_octets),
        s);
  }
  void onServingNode(const Session& s, const IpAddress& node, int64_t) override {
    add("serving " + formatIp(node), s);
  }
  void onQosChange(const Session& s, uint8_t qci, int64_t) override {
    add("qos " + std::to_string(qci), s);
  }
  void onEnd(const Session& s, EndCause, int64_t) override { add("end", s); }
  void onTick(int64_t) override { ++ticks; }

  std::vector<std::string> events;
  int ticks = 0;

 private:
  void add(const std::string& what, const Session& s) {
    events.push_back(formatIp(s.key) + " " + what);
  }
};

}  // namespace tally::testing
