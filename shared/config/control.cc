// The control section: the control socket and its mode.
#include <string>
#include <string_view>

#include "shared/config/loader.h"

namespace tally::config_loader {
namespace {

constexpr size_t kMaxSocketPathBytes = 107;  // sizeof(sockaddr_un::sun_path) - 1

}  // namespace

void Loader::loadControl(const Field& f, ControlConfig& out) const {
  Fields m = readMap(f, {"socket", "socket_mode"});
  if (auto it = m.find("socket"); it != m.end()) {
    static const std::string kAllowed =
        "must be a file path of 1-107 bytes, not ending in '/' (e.g. /run/tally/tally.sock)";
    std::string path = scalar(it->second, kAllowed);
    if (path.empty() || path.size() > kMaxSocketPathBytes || path.back() == '/' ||
        path.find('\0') != std::string::npos) {
      failValue(it->second, kAllowed);
    }
    out.socket = path;
    locate(it->second);
  }
  if (auto it = m.find("socket_mode"); it != m.end()) {
    static const std::string kAllowed =
        "must be an octal mode 0000-0777 with read and write for the owner and nothing for "
        "others (e.g. 0660)";
    std::string text = scalar(it->second, kAllowed);
    std::string_view octal = text;
    if (octal.substr(0, 2) == "0o") {
      octal.remove_prefix(2);
    }
    bool ok = !octal.empty() && octal.size() <= 4;
    uint32_t mode = 0;
    for (char c : octal) {
      ok = ok && c >= '0' && c <= '7';
      mode = mode * 8 + uint32_t(c - '0');
    }
    if (!ok) {
      failValue(it->second, "not an octal mode: " + kAllowed);
    }
    if (mode > 0777) {
      failValue(it->second, "out of range: " + kAllowed);
    }
    if ((mode & 07) != 0) {
      failValue(it->second, "world bits set: " + kAllowed);
    }
    if ((mode & 0600) != 0600) {
      failValue(it->second, "owner lacks read or write: " + kAllowed);
    }
    out.socket_mode = mode;
  }
}

}  // namespace tally::config_loader
