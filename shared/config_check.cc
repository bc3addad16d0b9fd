#include "shared/config_check.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "shared/timezone.h"

// Each check mirrors one start-up step (the file named in its comment) without its side
// effects: nothing is created, bound or opened for writing; "writable" is asked of the kernel
// with faccessat(AT_EACCESS) for the effective user, which is the user tallyd would run as.

namespace tally {

const char* const kNotCheckedWithoutStarting =
    "not checked without starting: EAL option syntax and memory (-m, hugepages), whether PCI "
    "ports exist and are bound to a DPDK driver, device capabilities (queues, MTU), lcore "
    "lists written with '@' or '()', the contents of the CF card's .tally-sequence file";

namespace {

struct Where {
  std::string key;
  std::string value;
};

class Checker {
 public:
  Checker(const Config& config, const EnvironmentOptions& options)
      : config_(config), options_(options) {}

  EnvironmentReport run();

 private:
  void error(const Where& w, const std::string& message);
  // The key's own location, or (for a key not in the file) none.
  Where inFile(const std::string& key, const std::string& value) const { return {key, value}; }
  Where ealItem(size_t index) const;

  void checkCfCard();
  void checkSocket();
  void checkTimeZone();
  void checkEal();
  void checkUsageReport();
  // A directory the daemon writes into and creates (with its parents) when missing.
  void checkWritableDirectory(const Where& w, const std::string& dir, bool create_parents,
                              const std::string& what);

  const Config& config_;
  const EnvironmentOptions& options_;
  EnvironmentReport report_;
};

std::string parentOf(const std::string& path) {
  size_t end = path.size();
  while (end > 1 && path[end - 1] == '/') {
    --end;  // "a/b/" is "a/b"
  }
  size_t slash = path.rfind('/', end - 1);
  if (slash == std::string::npos) {
    return ".";
  }
  if (slash == 0) {
    return "/";
  }
  return path.substr(0, slash);
}

bool canWrite(const std::string& dir) {
  return ::faccessat(AT_FDCWD, dir.c_str(), W_OK | X_OK, AT_EACCESS) == 0;
}

std::string errnoText() { return std::strerror(errno); }

bool looksLikePci(const std::string& name) {
  // [DDDD:]BB:DD.F, hexadecimal.
  auto hex = [](std::string_view s, size_t n) {
    if (s.size() != n) {
      return false;
    }
    for (char c : s) {
      if (!std::isxdigit(static_cast<unsigned char>(c))) {
        return false;
      }
    }
    return true;
  };
  std::string_view s = name;
  size_t first = s.find(':');
  if (first == 4 && hex(s.substr(0, 4), 4)) {
    s.remove_prefix(5);
  }
  return s.size() == 7 && hex(s.substr(0, 2), 2) && s[2] == ':' && hex(s.substr(3, 2), 2) &&
         s[5] == '.' && hex(s.substr(6, 1), 1);
}

void Checker::error(const Where& w, const std::string& message) {
  ConfigError e;
  e.file = config_.source;
  if (auto it = config_.locations.find(w.key); it != config_.locations.end()) {
    e.line = it->second.line;
    e.column = it->second.column;
  }
  e.key = w.key;
  e.value = w.value;
  e.message = message;
  report_.errors.push_back(std::move(e));
}

Where Checker::ealItem(size_t index) const {
  const std::vector<std::string>& eal =
      options_.eal_override ? *options_.eal_override : config_.dataplane.eal;
  std::string value = index < eal.size() ? eal[index] : std::string();
  if (options_.eal_override) {
    return {"--eal-args", value};
  }
  return {"dataplane.eal[" + std::to_string(index) + "]", value};
}

void Checker::checkWritableDirectory(const Where& w, const std::string& dir, bool create_parents,
                                     const std::string& what) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      error(w, what + " " + dir + " exists and is not a directory");
    } else if (!canWrite(dir)) {
      error(w, what + " " + dir + " is not writable: " + errnoText());
    }
    return;
  }
  if (errno != ENOENT) {
    error(w, "cannot use " + what + " " + dir + ": " + errnoText());
    return;
  }
  // Missing: it is created (ensureDirectory, controlplane/storage/durable_file.cc, creates the
  // parents too; controlplane/control/control_server.cc only the last level). The nearest
  // existing ancestor decides.
  std::string missing = dir;
  std::string parent = parentOf(dir);
  for (;;) {
    if (::stat(parent.c_str(), &st) == 0) {
      break;
    }
    if (errno != ENOENT) {
      error(w, "cannot use " + what + " " + dir + ": " + parent + ": " + errnoText());
      return;
    }
    if (!create_parents || parent == "." || parent == "/") {
      error(w, what + " " + dir + " does not exist and cannot be created: " + parent +
                   " does not exist either");
      return;
    }
    missing = parent;
    parent = parentOf(parent);
  }
  if (!S_ISDIR(st.st_mode)) {
    error(w, what + " " + dir + " cannot be created: " + parent + " is not a directory");
  } else if (!canWrite(parent)) {
    error(w, what + " " + dir + " does not exist and cannot be created: " + parent +
                 " is not writable: " + errnoText());
  }
}

// controlplane/cdr/cdr_file.cc CdrFileWriter::open and sequence_store.cc SequenceStore::open.
void Checker::checkCfCard() {
  const std::string& dir = config_.local_bill.cfcard_path;
  Where w = inFile("local_aaa_server.local_bill.cfcard.path", dir);
  size_t before = report_.errors.size();
  checkWritableDirectory(w, dir, /*create_parents=*/true, "CF card directory");
  if (report_.errors.size() != before) {
    return;
  }
  std::string seq = dir + "/.tally-sequence";
  struct stat st;
  if (::stat(seq.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      error(w, "sequence state file " + seq + " is not a regular file");
    } else if (::faccessat(AT_FDCWD, seq.c_str(), R_OK, AT_EACCESS) != 0) {
      error(w, "sequence state file " + seq + " is not readable: " + errnoText());
    }
  }
}

// controlplane/control/control_server.cc ControlServer::open.
void Checker::checkSocket() {
  const std::string& path = config_.control.socket;
  Where w = inFile("control.socket", path);
  size_t before = report_.errors.size();
  checkWritableDirectory(w, parentOf(path), /*create_parents=*/false, "control socket directory");
  if (report_.errors.size() != before) {
    return;
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    return;
  }
  if (!S_ISSOCK(st.st_mode)) {
    error(w, path + " exists and is not a socket; start-up does not remove it");
    return;
  }
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    return;  // the loader refuses such a path
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool live = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (probe >= 0) {
    ::close(probe);
  }
  if (live) {
    report_.warnings.push_back("control.socket " + path +
                               " is in use by a running tallyd: start-up refuses while it runs");
  }
}

// controlplane/charging/biller.cc Biller::open (the loader checks the file, this the zone's
// contents).
void Checker::checkTimeZone() {
  auto tz = TimeZone::load(config_.node.timezone);
  if (!tz.ok()) {
    error(inFile("node.timezone", config_.node.timezone), tz.error().message);
  }
}

// dataplane/runtime.cc runDaemon: rte_eal_init (the vdev drivers open their files and
// interfaces there), rte_lcore_count, rte_eth_dev_get_port_by_name.
void Checker::checkEal() {
  const std::vector<std::string>& eal =
      options_.eal_override ? *options_.eal_override : config_.dataplane.eal;
  std::vector<VdevArg> vdevs = findVdevs(eal);
  for (const VdevArg& v : vdevs) {
    Where w = ealItem(v.index);
    for (const auto& [key, value] : v.kvargs) {
      struct stat st;
      if (key == "rx_pcap") {
        if (::stat(value.c_str(), &st) != 0) {
          error(w, v.name + " rx_pcap file " + value + ": " + errnoText());
        } else if (S_ISDIR(st.st_mode)) {
          error(w, v.name + " rx_pcap file " + value + " is a directory");
        } else if (::faccessat(AT_FDCWD, value.c_str(), R_OK, AT_EACCESS) != 0) {
          error(w, v.name + " rx_pcap file " + value + " is not readable: " + errnoText());
        }
      } else if (key == "tx_pcap") {
        if (::stat(value.c_str(), &st) == 0) {
          if (S_ISDIR(st.st_mode)) {
            error(w, v.name + " tx_pcap file " + value + " is a directory");
          } else if (::faccessat(AT_FDCWD, value.c_str(), W_OK, AT_EACCESS) != 0) {
            error(w, v.name + " tx_pcap file " + value + " is not writable: " + errnoText());
          }
        } else {
          std::string dir = parentOf(value);
          if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            error(w, v.name + " tx_pcap file " + value + " cannot be created: directory " + dir +
                         " does not exist");
          } else if (!canWrite(dir)) {
            error(w, v.name + " tx_pcap file " + value + " cannot be created: " + dir +
                         " is not writable: " + errnoText());
          }
        }
      } else if (key == "iface" || key == "rx_iface" || key == "rx_iface_in" || key == "tx_iface") {
        if (::if_nametoindex(value.c_str()) == 0) {
          error(w, v.name + " " + key + ": no network interface named " + value);
        }
      }
    }
  }
  // Ports: a virtual device (net_*) exists only when a --vdev creates it.
  bool no_pci = false;
  for (const std::string& a : eal) {
    no_pci = no_pci || a == "--no-pci";
  }
  std::string created;
  for (const VdevArg& v : vdevs) {
    created += (created.empty() ? "" : ", ") + v.name;
  }
  const auto& ports = config_.dataplane.ports;
  for (size_t i = 0; i < ports.size(); ++i) {
    Where w = inFile("dataplane.ports[" + std::to_string(i) + "].name", ports[i].name);
    bool found = false;
    for (const VdevArg& v : vdevs) {
      found = found || v.name == ports[i].name;
    }
    if (!found && ports[i].name.rfind("net_", 0) == 0) {
      error(w, "no --vdev EAL argument creates this virtual device (EAL creates: " +
                   (created.empty() ? std::string("none") : created) + ")");
    } else if (!found && no_pci && looksLikePci(ports[i].name)) {
      error(w, "a PCI device, but the EAL arguments hold --no-pci");
    }
  }
  // Lcores: the main lcore runs the control plane, one more per worker.
  const uint32_t need = config_.dataplane.workers + 1;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  bool have_affinity = ::sched_getaffinity(0, sizeof allowed, &allowed) == 0;
  std::optional<LcoreList> lcores = findLcores(eal);
  if (lcores && !lcores->readable) {
    // written in a form not read here: EAL decides (kNotCheckedWithoutStarting)
  } else if (lcores) {
    Where w = ealItem(lcores->index);
    if (lcores->cpus.size() < need) {
      error(w, "gives " + std::to_string(lcores->cpus.size()) + " lcore(s) but dataplane.workers " +
                   std::to_string(config_.dataplane.workers) +
                   " needs workers + 1 (the main lcore runs the control plane)");
    }
    for (unsigned cpu : lcores->cpus) {
      if (have_affinity && (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed))) {
        error(w, "CPU " + std::to_string(cpu) + " is not available to this process (" +
                     std::to_string(CPU_COUNT(&allowed)) + " CPU(s) allowed)");
        break;
      }
    }
  } else if (have_affinity && uint32_t(CPU_COUNT(&allowed)) < need) {
    error(inFile("dataplane.workers", std::to_string(config_.dataplane.workers)),
          "needs workers + 1 = " + std::to_string(need) + " lcores but only " +
              std::to_string(CPU_COUNT(&allowed)) + " CPU(s) are available");
  }
}

// controlplane/report.cc writeUsageReport: PATH.tmp is created, then renamed to PATH.
void Checker::checkUsageReport() {
  const std::string& path = options_.usage_report;
  if (path.empty()) {
    return;
  }
  Where w{"--usage-report", path};
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    error(w, path + " is a directory");
    return;
  }
  std::string dir = parentOf(path);
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    error(w, "directory " + dir + " does not exist");
  } else if (!canWrite(dir)) {
    error(w, "directory " + dir + " is not writable: " + errnoText());
  }
}

EnvironmentReport Checker::run() {
  checkTimeZone();
  checkEal();
  checkSocket();
  checkCfCard();
  checkUsageReport();
  return std::move(report_);
}

// "key=value" pairs after the device name.
VdevArg splitDevargs(const std::string& text, size_t index) {
  VdevArg v;
  v.index = index;
  size_t comma = text.find(',');
  v.name = text.substr(0, comma);
  while (comma != std::string::npos) {
    size_t start = comma + 1;
    comma = text.find(',', start);
    std::string kv = text.substr(start, comma == std::string::npos ? comma : comma - start);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) {
      v.kvargs.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
  }
  return v;
}

// The value of option `name` (long "--name=V" / "--name V", or short "-xV" / "-x V") at
// eal[i]; sets *at to the index of the value.
std::optional<std::string> optionValue(const std::vector<std::string>& eal, size_t i,
                                       std::string_view name, size_t* at) {
  std::string_view a = eal[i];
  bool is_long = name.size() > 2;
  if (a == name) {
    if (i + 1 < eal.size()) {
      *at = i + 1;
      return eal[i + 1];
    }
    return std::nullopt;
  }
  if (a.substr(0, name.size()) == name) {
    std::string_view rest = a.substr(name.size());
    if (is_long && rest.front() != '=') {
      return std::nullopt;
    }
    *at = i;
    return std::string(is_long ? rest.substr(1) : rest);
  }
  return std::nullopt;
}

}  // namespace

EnvironmentReport checkEnvironment(const Config& config, const EnvironmentOptions& options) {
  return Checker(config, options).run();
}

std::vector<VdevArg> findVdevs(const std::vector<std::string>& eal) {
  std::vector<VdevArg> out;
  for (size_t i = 0; i < eal.size(); ++i) {
    size_t at = 0;
    if (auto v = optionValue(eal, i, "--vdev", &at)) {
      out.push_back(splitDevargs(*v, at));
      i = at;
    }
  }
  return out;
}

std::optional<std::vector<unsigned>> parseCpuList(std::string_view text) {
  std::vector<unsigned> out;
  if (text.empty()) {
    return std::nullopt;
  }
  auto number = [](std::string_view s, unsigned* v) {
    if (s.empty() || s.size() > 5) {
      return false;
    }
    *v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') {
        return false;
      }
      *v = *v * 10 + unsigned(c - '0');
    }
    return true;
  };
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (comma != std::string_view::npos && text.empty()) {
      return std::nullopt;  // trailing comma
    }
    size_t dash = part.find('-');
    unsigned lo = 0;
    unsigned hi = 0;
    if (!number(part.substr(0, dash), &lo) ||
        !number(dash == std::string_view::npos ? part : part.substr(dash + 1), &hi) || lo > hi ||
        hi - lo > 4096) {
      return std::nullopt;
    }
    for (unsigned c = lo; c <= hi; ++c) {
      if (std::find(out.begin(), out.end(), c) == out.end()) {
        out.push_back(c);
      }
    }
  }
  return out;
}

std::optional<LcoreList> findLcores(const std::vector<std::string>& eal) {
  std::optional<LcoreList> out;
  bool unreadable = false;
  for (size_t i = 0; i < eal.size(); ++i) {
    size_t at = 0;
    std::optional<std::string> list = optionValue(eal, i, "--lcores", &at);
    if (!list) {
      list = optionValue(eal, i, "-l", &at);
    }
    if (list) {
      auto cpus = parseCpuList(*list);
      unreadable = !cpus;
      if (cpus) {
        out = LcoreList{*cpus, at};
      }
      i = at;
      continue;
    }
    if (auto mask = optionValue(eal, i, "-c", &at)) {
      std::string_view m = *mask;
      if (m.substr(0, 2) == "0x" || m.substr(0, 2) == "0X") {
        m.remove_prefix(2);
      }
      LcoreList l;
      l.index = at;
      unreadable = m.empty() || m.size() > 16;
      for (size_t k = 0; !unreadable && k < m.size(); ++k) {
        char c = m[m.size() - 1 - k];
        int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                : std::isxdigit(static_cast<unsigned char>(c))
                    ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                    : -1;
        unreadable = d < 0;
        for (int b = 0; !unreadable && b < 4; ++b) {
          if (d & (1 << b)) {
            l.cpus.push_back(unsigned(k * 4 + size_t(b)));
          }
        }
      }
      if (!unreadable) {
        out = l;
      }
      i = at;
    }
  }
  if (unreadable) {
    out = LcoreList{{}, 0, false};  // the last list is in a form not read here: EAL decides
  }
  return out;
}

}  // namespace tally
