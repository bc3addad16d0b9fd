// The node section: id, address, time zone, state directory.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>

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
  Fields m = readMap(f, {"id", "address", "timezone", "state_dir", "access_node_address",
                         "access_node_type", "plmn_id", "rat_type"});
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
  // The access node for traffic without GTP-U (docs/charging.md, "serving nodes"): the
  // address and its ServingNodeType, both or neither.
  auto access = m.find("access_node_address");
  auto access_type = m.find("access_node_type");
  if (access != m.end()) {
    out.access_node_address =
        ipAddress(access->second, "not an IPv4/IPv6 address (e.g. 192.0.2.20)");
    if (access_type == m.end()) {
      failValue(access->second,
                "needs access_node_type: the node's ServingNodeType (sGSN, pMIPSGW, gTPSGW, "
                "ePDG, hSGW, mME, tWAN)");
    }
  }
  if (access_type != m.end()) {
    if (access == m.end()) {
      failValue(access_type->second, "only with access_node_address (the node it describes)");
    }
    static constexpr std::string_view kTypes[] = {"sGSN", "pMIPSGW", "gTPSGW", "ePDG",
                                                  "hSGW", "mME",     "tWAN"};
    std::string t = oneOf(access_type->second,
                          {"sGSN", "pMIPSGW", "gTPSGW", "ePDG", "hSGW", "mME", "tWAN"});
    for (size_t i = 0; i < std::size(kTypes); ++i) {
      if (t == kTypes[i]) {
        out.access_node_type = static_cast<uint8_t>(i);
      }
    }
  }
  if (auto it = m.find("plmn_id"); it != m.end()) {
    static const std::string kAllowed =
        "must be MCC + MNC, 5 or 6 digits (e.g. 00101 for MCC 001, MNC 01)";
    std::string plmn = scalar(it->second, kAllowed);
    if ((plmn.size() != 5 && plmn.size() != 6) || !isDigits(plmn)) {
      failValue(it->second, kAllowed);
    }
    out.plmn_id = plmn;
  }
  if (auto it = m.find("rat_type"); it != m.end()) {
    // A TS 29.061 RAT type by name, or its number.
    static constexpr std::pair<std::string_view, uint8_t> kRats[] = {
        {"UTRAN", 1},   {"GERAN", 2},         {"WLAN", 3},  {"GAN", 4},
        {"HSPA-Evolution", 5}, {"EUTRAN", 6}, {"Virtual", 7}, {"EUTRAN-NB-IoT", 8},
        {"LTE-M", 9},   {"NR", 10}};
    static const std::string kAllowed =
        "must be one of: UTRAN, GERAN, WLAN, GAN, HSPA-Evolution, EUTRAN, Virtual, "
        "EUTRAN-NB-IoT, LTE-M, NR, or a TS 29.061 RAT type number 0-255";
    std::string v = scalar(it->second, kAllowed);
    bool found = false;
    for (const auto& [name, value] : kRats) {
      if (v == name) {
        out.rat_type = value;
        found = true;
      }
    }
    if (!found) {
      uint64_t n = 0;
      if (parseUnsigned(v, &n) != IntParse::kOk || n > 255) {
        failValue(it->second, kAllowed);
      }
      out.rat_type = static_cast<uint8_t>(n);
    }
  }
}

}  // namespace tally::config_loader
