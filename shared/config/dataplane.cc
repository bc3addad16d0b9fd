// The dataplane section: EAL arguments, ports, workers and sizes.
#include <optional>
#include <string>
#include <vector>

#include "shared/config/loader.h"

namespace tally::config_loader {
namespace {

constexpr uint64_t kMaxSessions = 16777216;
constexpr size_t kMaxPortNameChars = 63;     // RTE_DEV_NAME_MAX_LEN - 1

}  // namespace

void Loader::loadDataplane(const Field& f, DataplaneConfig& out) const {
  Fields m =
      readMap(f, {"eal", "ports", "workers", "max_sessions", "poll_interval_ms", "burst_size",
                  "mbufs", "max_frame_size"});
  if (auto it = m.find("eal"); it != m.end()) {
    for (const Field& arg : readList(it->second, "strings (EAL arguments)")) {
      out.eal.push_back(scalar(arg, "must be a string (an EAL argument)"));
      locate(arg);
    }
  }
  auto ports = m.find("ports");
  if (ports == m.end()) {
    failMissing(f, "ports");
  }
  std::string ports_allowed = "allowed 1-" + std::to_string(kMaxPorts) + " ports";
  std::vector<Field> items = readList(ports->second, "ports: " + ports_allowed);
  if (items.empty()) {
    failValue(ports->second, "no ports: " + ports_allowed);
  }
  std::vector<std::optional<Field>> forwards;  // parallel to out.ports
  for (size_t i = 0; i < items.size(); ++i) {
    const Field& item = items[i];
    if (i == kMaxPorts) {
      fail(item.mark, item.path, "", "too many ports: " + ports_allowed);
    }
    Fields p = readMap(item, {"name", "role", "forward_to"});
    PortConfig port;
    auto name = p.find("name");
    if (name == p.end()) {
      failMissing(item, "name");
    }
    static const std::string kNameAllowed =
        "must be 1-63 characters without spaces (a DPDK device name)";
    port.name = scalar(name->second, kNameAllowed);
    locate(name->second);
    bool name_ok = !port.name.empty() && port.name.size() <= kMaxPortNameChars;
    for (char c : port.name) {
      name_ok = name_ok && c > ' ' && c != 0x7f;
    }
    if (!name_ok) {
      failValue(name->second, kNameAllowed);
    }
    for (size_t j = 0; j < out.ports.size(); ++j) {
      if (out.ports[j].name == port.name) {
        failValue(name->second, "duplicate port name: already used by " + items[j].path);
      }
    }
    auto role = p.find("role");
    if (role == p.end()) {
      failMissing(item, "role");
    }
    static const std::string kRoleAllowed = "must be one of: access, core";
    std::string r = scalar(role->second, kRoleAllowed);
    if (r == "access") {
      port.role = PortRole::kAccess;
    } else if (r == "core") {
      port.role = PortRole::kCore;
    } else {
      failValue(role->second, kRoleAllowed);
    }
    auto fwd = p.find("forward_to");
    forwards.push_back(fwd == p.end() ? std::nullopt : std::optional<Field>(fwd->second));
    out.ports.push_back(std::move(port));
  }
  for (size_t i = 0; i < out.ports.size(); ++i) {
    if (!forwards[i]) {
      continue;
    }
    const Field& fwd = *forwards[i];
    std::string others;
    for (const PortConfig& p : out.ports) {
      if (p.name != out.ports[i].name) {
        others += (others.empty() ? "" : ", ") + p.name;
      }
    }
    std::string allowed = others.empty()
                              ? std::string("must name another configured port: there is none")
                              : "must name another configured port: one of " + others;
    std::string target = scalar(fwd, allowed);
    bool found = false;
    for (const PortConfig& p : out.ports) {
      found = found || (p.name == target && p.name != out.ports[i].name);
    }
    if (!found) {
      failValue(fwd, allowed);
    }
    out.ports[i].forward_to = target;
  }
  if (auto it = m.find("workers"); it != m.end()) {
    out.workers = uint32_t(integerIn(it->second, 1, kMaxWorkers));
    locate(it->second);
  }
  if (auto it = m.find("max_sessions"); it != m.end()) {
    out.max_sessions = uint32_t(integerIn(it->second, 1, kMaxSessions));
  }
  if (auto it = m.find("poll_interval_ms"); it != m.end()) {
    out.poll_interval_ms = uint32_t(integerIn(it->second, 10, 10000));
  }
  if (auto it = m.find("burst_size"); it != m.end()) {
    out.burst_size = uint32_t(integerIn(it->second, 1, 256));
  }
  if (auto it = m.find("mbufs"); it != m.end()) {
    out.mbufs = uint32_t(zeroOrIn(it->second, 1024, 16777216,
                                  "allowed 0 (sized automatically) or 1024-16777216"));
  }
  if (auto it = m.find("max_frame_size"); it != m.end()) {
    out.max_frame_size = uint32_t(integerIn(it->second, kMinMaxFrameSize, kMaxMaxFrameSize));
  }
}

}  // namespace tally::config_loader
