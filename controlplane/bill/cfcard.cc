#include "controlplane/bill/cfcard.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <tuple>

#include "controlplane/cdr/cdr_decode.h"
#include "controlplane/log.h"
#include "controlplane/storage/durable_file.h"

namespace tally::bill {
namespace {

constexpr const char* kLockName = ".tally.lock";
constexpr unsigned kDirMode = 0750;
// TS 32.297 file header: octets 19-22 (1-based) hold the number of CDRs, big-endian.
constexpr size_t kCdrCountOffset = 18;

bool endsWith(const std::string& s, const char* suffix) { return s.ends_with(suffix); }

bool isBillName(const std::string& name) {
  return endsWith(name, ".cdr") || endsWith(name, ".csv");
}

// What reset() deletes besides the bills: a transfer sidecar of a bill, and the temporary file
// of a bill or of a sidecar that a crash left behind.
bool isBillSideName(const std::string& name) {
  return endsWith(name, ".cdr.xfer") || endsWith(name, ".csv.xfer") || endsWith(name, ".cdr.tmp") ||
         endsWith(name, ".csv.tmp") || endsWith(name, ".xfer.tmp");
}

// The file sequence number of a CDR file name <node>_<YYYYMMDDhhmmss>_<seq 8 digits>.<ext>;
// none for another name.
std::optional<uint64_t> fileSequence(const std::string& name) {
  size_t dot = name.rfind('.');
  if (dot == std::string::npos) {
    return std::nullopt;
  }
  size_t us = name.rfind('_', dot);
  if (us == std::string::npos || dot - us - 1 != 8) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (size_t i = us + 1; i < dot; ++i) {
    char c = name[i];
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// Oldest first: by the file sequence in the name, then by name; names without a sequence after
// all that have one (their age is unknown, so the known-old bills go first).
bool olderThan(const CfCardFile& a, const CfCardFile& b) {
  auto sa = fileSequence(a.name);
  auto sb = fileSequence(b.name);
  uint64_t ka = sa.value_or(std::numeric_limits<uint64_t>::max());
  uint64_t kb = sb.value_or(std::numeric_limits<uint64_t>::max());
  return std::tie(ka, a.name) < std::tie(kb, b.name);
}

std::string sysText() { return std::strerror(errno); }

// Reads the pid a holder wrote into the lock file; "" when there is none.
std::string readPid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) {
    return "";
  }
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return "";
  }
  return s;
}

}  // namespace

// ----- DirectoryLock -----

Result<std::unique_ptr<DirectoryLock>> DirectoryLock::acquire(const std::string& dir,
                                                              const std::string& what) {
  const std::string path = dir + "/" + kLockName;
  // The lock is held on a read-only descriptor: a daemon keeps no file open for writing on
  // the CF card between writes, so the card can still be remounted read-only under it (as the
  // kernel does on I/O errors, and as an operator may) and the daemon sees EROFS at its next
  // write instead of the remount failing with EBUSY.
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Error{what + " " + dir + ": cannot open " + path + ": " + sysText()};
  }
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) {
      continue;
    }
    if (errno == EWOULDBLOCK) {
      std::string pid = readPid(fd);
      ::close(fd);
      return Error{what + " " + dir + " is in use by another tallyd (pid " +
                   (pid.empty() ? std::string("unknown") : pid) + ")"};
    }
    Error e{what + " " + dir + ": cannot lock " + path + ": " + sysText()};
    ::close(fd);
    return e;
  }
  // The pid is for the refusal message of the next one; failing to write it is not fatal.
  // flock belongs to the open file description of fd: closing this second one keeps the lock.
  std::string pid = std::to_string(::getpid()) + "\n";
  int wfd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (wfd < 0 || ::ftruncate(wfd, 0) != 0 ||
      ::pwrite(wfd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    logWarn(what + " " + dir + ": cannot write the pid into " + path + ": " + sysText());
  }
  if (wfd >= 0) {
    ::close(wfd);
  }
  return std::unique_ptr<DirectoryLock>(new DirectoryLock(fd));
}

DirectoryLock::~DirectoryLock() {
  // Closing the (only) descriptor of this open file description releases the flock. The file
  // stays: removing it would let two daemons lock two different files of the same name.
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

// ----- CfCardUsage -----

uint32_t CfCardUsage::percent() const {
  if (!capacity_bytes || *capacity_bytes == 0) {
    return 0;
  }
  // bytes * 100 without overflow for any realistic card; saturate otherwise.
  uint64_t p = bytes > std::numeric_limits<uint64_t>::max() / 100 ? bytes / *capacity_bytes * 100
                                                                  : bytes * 100 / *capacity_bytes;
  return static_cast<uint32_t>(std::min<uint64_t>(p, std::numeric_limits<uint32_t>::max()));
}

// ----- CfCard -----

Result<std::unique_ptr<CfCard>> CfCard::open(const std::string& dir,
                                             std::optional<uint64_t> capacity_bytes) {
  auto made = ensureDirectory(dir, kDirMode);
  if (!made) {
    return Error{"CF card " + dir + ": " + made.error().message};
  }
  auto writable = probeWritable(dir);
  if (!writable) {
    return Error{"CF card " + dir + ": " + writable.error().message};
  }
  auto lock = DirectoryLock::acquire(dir, "CF card");
  if (!lock) {
    return lock.error();
  }
  auto names = listDirectory(dir);
  if (!names) {
    return Error{"CF card " + dir + ": " + names.error().message};
  }
  std::unique_ptr<CfCard> card(new CfCard(dir, capacity_bytes, std::move(lock.value())));
  for (const auto& n : names.value()) {
    if (!isBillName(n)) {
      continue;
    }
    const std::string path = dir + "/" + n;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    card->files_.push_back(CfCardFile{n, static_cast<uint64_t>(st.st_size), billsInFile(path)});
  }
  std::sort(card->files_.begin(), card->files_.end(), olderThan);
  return card;
}

CfCardUsage CfCard::usage() const {
  std::lock_guard lk(mu_);
  CfCardUsage u;
  u.capacity_bytes = capacity_;
  for (const auto& f : files_) {
    ++u.files;
    u.bytes += f.bytes;
    u.bills += f.bills;
  }
  return u;
}

bool CfCard::wouldExceed(uint64_t bytes) const {
  if (!capacity_) {
    return false;
  }
  uint64_t used = usage().bytes;
  return used + bytes > *capacity_ || used + bytes < used;
}

std::vector<CfCardFile> CfCard::files() const {
  std::vector<CfCardFile> v;
  {
    std::lock_guard lk(mu_);
    v = files_;
  }
  std::sort(v.begin(), v.end(), olderThan);
  return v;
}

void CfCard::added(const CfCardFile& f) {
  std::lock_guard lk(mu_);
  for (auto& e : files_) {
    if (e.name == f.name) {
      e = f;
      return;
    }
  }
  files_.push_back(f);
}

void CfCard::removed(const std::string& name) {
  std::lock_guard lk(mu_);
  std::erase_if(files_, [&](const CfCardFile& e) { return e.name == name; });
}

Result<CfCardDeletion> CfCard::reset() {
  std::lock_guard lk(mu_);
  auto names = listDirectory(dir_);
  if (!names) {
    return Error{"CF card " + dir_ + ": " + names.error().message};
  }
  CfCardDeletion del;
  std::string first_error;
  std::vector<std::string> entries = names.value();
  std::sort(entries.begin(), entries.end());
  for (const auto& n : entries) {
    bool bill = isBillName(n);
    if (!bill && !isBillSideName(n)) {
      continue;
    }
    const std::string path = dir_ + "/" + n;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      continue;  // gone meanwhile, or not a plain file: not ours to delete
    }
    uint64_t bills = bill ? billsInFile(path) : 0;
    if (::unlink(path.c_str()) != 0) {
      if (errno != ENOENT && first_error.empty()) {
        first_error = "cannot remove " + path + ": " + sysText();
      }
      continue;
    }
    if (bill) {
      ++del.files;
      del.bytes += static_cast<uint64_t>(st.st_size);
      del.bills += bills;
      del.names.push_back(n);
      std::erase_if(files_, [&](const CfCardFile& e) { return e.name == n; });
    } else {
      ++del.side_files;
    }
  }
  // One fsync makes every removal above durable.
  auto synced = fsyncDirectory(dir_);
  logInfo("CF card " + dir_ + " reset: " + std::to_string(del.files) + " bill files (" +
          std::to_string(del.bills) + " bills, " + std::to_string(del.bytes) + " bytes) and " +
          std::to_string(del.side_files) + " sidecar/temporary files deleted");
  if (!first_error.empty()) {
    return Error{"CF card " + dir_ + " reset incomplete (" + std::to_string(del.files) +
                 " bill files deleted): " + first_error};
  }
  if (!synced) {
    return Error{"CF card " + dir_ + " reset: " + synced.error().message};
  }
  return del;
}

Result<CfCardDeletion> CfCard::dropOldest(uint64_t need_bytes,
                                          const std::vector<std::string>& busy) {
  std::lock_guard lk(mu_);
  CfCardDeletion del;
  if (!capacity_) {
    return del;  // no limit: everything fits
  }
  uint64_t used = 0;
  for (const auto& f : files_) {
    used += f.bytes;
  }
  auto fits = [&] { return used + need_bytes <= *capacity_ && used + need_bytes >= used; };
  auto isBusy = [&](const std::string& name) {
    const std::string path = dir_ + "/" + name;
    return std::find(busy.begin(), busy.end(), path) != busy.end() ||
           std::find(busy.begin(), busy.end(), name) != busy.end();
  };
  std::vector<CfCardFile> oldest = files_;
  std::sort(oldest.begin(), oldest.end(), olderThan);
  std::string first_error;
  for (const auto& f : oldest) {
    if (fits()) {
      break;
    }
    if (isBusy(f.name)) {
      continue;
    }
    const std::string path = dir_ + "/" + f.name;
    // The usage in it, for the bill balance: known for the files written in this run; read from
    // the file for those found at start (best effort: an unreadable file adds nothing).
    uint64_t ul = f.ul_octets, dl = f.dl_octets;
    if (!f.usage_known) {
      if (auto u = cdr::fileUsage(path)) {
        ul = u.value().ul_octets;
        dl = u.value().dl_octets;
      }
    }
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) {
        // Deleted by someone else without telling us: it no longer takes space.
        used -= f.bytes;
        std::erase_if(files_, [&](const CfCardFile& e) { return e.name == f.name; });
      } else if (first_error.empty()) {
        first_error = "cannot remove " + path + ": " + sysText();
      }
      continue;
    }
    // A sidecar of a dropped file (not busy, so not being uploaded) would name nothing.
    ::unlink((path + ".xfer").c_str());
    used -= f.bytes;
    ++del.files;
    del.bytes += f.bytes;
    del.bills += f.bills;
    del.ul_octets += ul;
    del.dl_octets += dl;
    del.names.push_back(f.name);
    std::erase_if(files_, [&](const CfCardFile& e) { return e.name == f.name; });
  }
  if (del.files == 0 && first_error.empty()) {
    return del;
  }
  auto synced = fsyncDirectory(dir_);
  logAlarm("CF card " + dir_ + " full: dropped the " + std::to_string(del.files) +
           " oldest bill files (" + std::to_string(del.bills) + " bills, " +
           std::to_string(del.bytes) + " bytes)");
  if (!first_error.empty()) {
    return Error{"CF card " + dir_ + " drop-oldest incomplete (" + std::to_string(del.files) +
                 " bill files deleted): " + first_error};
  }
  if (!synced) {
    return Error{"CF card " + dir_ + " drop-oldest: " + synced.error().message};
  }
  return del;
}

uint64_t CfCard::billsInFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 0;
  }
  uint64_t bills = 0;
  if (endsWith(path, ".csv")) {
    // Lines (a last line without '\n' counts too), minus the column header line.
    uint64_t lines = 0;
    char last = '\n';
    char buf[65536];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      lines += static_cast<uint64_t>(std::count(buf, buf + n, '\n'));
      last = buf[n - 1];
    }
    if (last != '\n') {
      ++lines;
    }
    bills = lines > 0 ? lines - 1 : 0;
  } else {
    uint8_t h[kCdrCountOffset + 4];
    ssize_t n = ::pread(fd, h, sizeof(h), 0);
    struct stat st;
    if (n == static_cast<ssize_t>(sizeof(h)) && ::fstat(fd, &st) == 0) {
      // Only a TS 32.297 header whose file length (octets 1-4) is the file's size is believed:
      // a foreign or damaged .cdr file counts no bills (it would otherwise count whatever its
      // octets 19-22 happen to hold, billions for random data).
      const uint64_t file_length =
          uint64_t{h[0]} << 24 | uint64_t{h[1]} << 16 | uint64_t{h[2]} << 8 | h[3];
      if (file_length == static_cast<uint64_t>(st.st_size)) {
        const uint8_t* c = h + kCdrCountOffset;
        bills = uint64_t{c[0]} << 24 | uint64_t{c[1]} << 16 | uint64_t{c[2]} << 8 | c[3];
      }
    }
  }
  ::close(fd);
  return bills;
}

}  // namespace tally::bill
