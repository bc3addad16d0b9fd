// The node section: id, address, time zone, state directory.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "shared/config/loader.h"

namespace tally::config_loader {
namespace {

constexpr const char* kZoneInfoDir = "/usr/share/zoneinfo";

bool isZoneFile(const std::string& name) {
  std::string path = std::string(kZoneInfoDir) + "/" + name;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return false;
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  char magic[4] = {};
  ssize_t n = ::read(fd, magic, sizeof magic);
  ::close(fd);
  return n == 4 && std::memcmp(magic, "TZif", 4) == 0;
}

bool validZoneName(const std::string& name) {
  if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos) {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '/';
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Loader::loadNode(const Field& f, NodeConfig& out) const {
  Fields m = readMap(f, {"id", "address", "timezone", "state_dir"});
  if (auto it = m.find("id"); it != m.end()) {
    // Part of every CDR file name (docs/cdr-format.md): a name starting with a dot is not a
    // CDR file there (".tally-sequence", "." and ".." are not files at all).
    static const std::string kAllowed =
        "must be 1-20 characters of A-Z a-z 0-9 _ . -, not starting with '.' (it starts the CDR "
        "file names)";
    std::string id = scalar(it->second, kAllowed);
    bool ok = !id.empty() && id.size() <= 20 && id.front() != '.';
    for (char c : id) {
      ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-');
    }
    if (!ok) {
      failValue(it->second, kAllowed);
    }
    out.id = id;
  }
  auto address = m.find("address");
  if (address == m.end()) {
    failMissing(f, "address");
  }
  out.address = ipAddress(address->second, "not an IPv4/IPv6 address (e.g. 192.0.2.1)");
  if (auto it = m.find("timezone"); it != m.end()) {
    static const std::string kAllowed =
        "unknown time zone: must be UTC or a name under /usr/share/zoneinfo (e.g. Europe/Berlin)";
    std::string tz = scalar(it->second, kAllowed);
    if (tz != "UTC" && (!validZoneName(tz) || !isZoneFile(tz))) {
      failValue(it->second, kAllowed);
    }
    out.timezone = tz;
    locate(it->second);
  }
  if (auto it = m.find("state_dir"); it != m.end()) {
    out.state_dir =
        filePath(it->second, "must be a directory path of 1-4095 bytes (e.g. /var/lib/tally)");
  }
}

}  // namespace tally::config_loader
