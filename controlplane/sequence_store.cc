#include "controlplane/sequence_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string_view>
#include <vector>

namespace tally {
namespace {

constexpr const char* kKeys[3] = {"local_sequence", "charging_id", "file_sequence"};
constexpr const char* kMagic = "tally-sequence 1";
constexpr uint64_t kUint32Span = uint64_t{1} << 32;
constexpr uint64_t kFileSeqSpan = 100000000;  // 8 decimal digits in file names
constexpr uint64_t kRetryEvery = 16;          // numbers between retries after a failed store

std::string sysError(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

uint32_t fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619u;
  }
  return h;
}

std::string dirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  if (slash == 0) {
    return "/";
  }
  return path.substr(0, slash);
}

std::string baseOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string render(const uint64_t ceilings[3]) {
  std::string body = std::string(kMagic) + "\n";
  for (int i = 0; i < 3; ++i) {
    body += std::string(kKeys[i]) + " " + std::to_string(ceilings[i]) + "\n";
  }
  char sum[32];
  std::snprintf(sum, sizeof(sum), "checksum %08x\n", fnv1a(body));
  return "# tally: every number handed out is below these values; do not edit\n" + body + sum;
}

// Parses the state file; an error says what is wrong (the caller adds the path).
Result<bool> parse(const std::string& text, uint64_t ceilings[3]) {
  std::istringstream in(text);
  std::string line;
  std::string body;
  bool magic = false;
  bool have[3] = {false, false, false};
  bool checked = false;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') {
      continue;
    }
    if (checked) {
      return Error{"line " + std::to_string(lineno) + ": data after the checksum"};
    }
    if (!magic) {
      if (line != kMagic) {
        return Error{"line " + std::to_string(lineno) + ": expected '" + kMagic + "'"};
      }
      magic = true;
      body += line + "\n";
      continue;
    }
    size_t sp = line.find(' ');
    std::string key = line.substr(0, sp);
    std::string value = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (key == "checksum") {
      char expect[16];
      std::snprintf(expect, sizeof(expect), "%08x", fnv1a(body));
      if (value != expect) {
        return Error{"checksum mismatch (stored " + value + ", computed " + expect + ")"};
      }
      checked = true;
      continue;
    }
    int idx = -1;
    for (int i = 0; i < 3; ++i) {
      if (key == kKeys[i]) {
        idx = i;
      }
    }
    if (idx < 0) {
      return Error{"line " + std::to_string(lineno) + ": unknown key '" + key + "'"};
    }
    if (value.empty() || value.size() > 20 ||
        value.find_first_not_of("0123456789") != std::string::npos) {
      return Error{"line " + std::to_string(lineno) + ": bad value '" + value + "'"};
    }
    errno = 0;
    unsigned long long v = std::strtoull(value.c_str(), nullptr, 10);
    if (errno != 0 || v == 0) {
      return Error{"line " + std::to_string(lineno) + ": bad value '" + value + "'"};
    }
    if (have[idx]) {
      return Error{"line " + std::to_string(lineno) + ": duplicate key '" + key + "'"};
    }
    have[idx] = true;
    ceilings[idx] = v;
    body += line + "\n";
  }
  if (!magic) {
    return Error{"empty or not a tally sequence file"};
  }
  for (int i = 0; i < 3; ++i) {
    if (!have[i]) {
      return Error{std::string("missing '") + kKeys[i] + "'"};
    }
  }
  if (!checked) {
    return Error{"missing checksum (file truncated?)"};
  }
  return true;
}

}  // namespace

Result<bool> ensureDirectory(const std::string& dir, unsigned mode) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return Error{dir + ": exists and is not a directory"};
    }
    return true;
  }
  if (errno != ENOENT) {
    return Error{sysError("cannot stat", dir)};
  }
  std::string parent = dirOf(dir);
  if (parent != dir && parent != "." && parent != "/") {
    auto p = ensureDirectory(parent, mode);
    if (!p) {
      return p;
    }
  }
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return Error{sysError("cannot create directory", dir)};
  }
  // mkdir applies the umask; the mode asked for is what we want.
  ::chmod(dir.c_str(), mode);
  return true;
}

Result<bool> writeFileDurably(const std::string& dir, const std::string& name,
                              std::span<const uint8_t> bytes) {
  const std::string final_path = dir + "/" + name;
  const std::string tmp = final_path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Error{sysError("cannot create", tmp)};
  }
  auto fail = [&](const std::string& what) {
    Error e{sysError(what, tmp)};
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    return fail("cannot fsync");
  }
  if (::close(fd) != 0) {
    Error e{sysError("cannot close", tmp)};
    ::unlink(tmp.c_str());
    return e;
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    Error e{sysError("cannot rename to " + final_path + ":", tmp)};
    ::unlink(tmp.c_str());
    return e;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    return Error{sysError("cannot open directory", dir)};
  }
  if (::fsync(dfd) != 0) {
    Error e{sysError("cannot fsync directory", dir)};
    ::close(dfd);
    return e;
  }
  ::close(dfd);
  return true;
}

Result<std::unique_ptr<SequenceStore>> SequenceStore::open(const std::string& path,
                                                           uint64_t block) {
  if (block < 2) {
    block = 2;
  }
  const std::string dir = dirOf(path);
  auto d = ensureDirectory(dir, 0750);
  if (!d) {
    return d.error();
  }
  uint64_t ceilings[3] = {1, 1, 1};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    std::string text;
    char buf[4096];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        Error e{sysError("cannot read sequence state file", path)};
        ::close(fd);
        return e;
      }
      if (n == 0) {
        break;
      }
      text.append(buf, static_cast<size_t>(n));
      if (text.size() > 65536) {
        break;
      }
    }
    ::close(fd);
    auto p = parse(text, ceilings);
    if (!p) {
      return Error{"corrupt sequence state file " + path + ": " + p.error().message +
                   " (refusing to restart the numbering; restore the file or remove it "
                   "knowingly)"};
    }
  } else if (errno != ENOENT) {
    return Error{sysError("cannot open sequence state file", path)};
  }
  uint64_t reserve[kCount];
  for (int i = 0; i < kCount; ++i) {
    reserve[i] = ceilings[i] + block;
  }
  std::unique_ptr<SequenceStore> s(new SequenceStore(path, block));
  auto st = s->store(reserve);
  if (!st) {
    return st.error();  // s was never opened: its destructor stores nothing
  }
  for (int i = 0; i < kCount; ++i) {
    s->counters_[i].next = ceilings[i];
    s->counters_[i].ceiling = reserve[i];
  }
  s->opened_ = true;
  return s;
}

SequenceStore::~SequenceStore() {
  if (opened_) {
    (void)flush();
  }
}

Result<bool> SequenceStore::store(const uint64_t ceilings[kCount]) {
  std::string text = render(ceilings);
  return writeFileDurably(
      dirOf(path_), baseOf(path_),
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Result<bool> SequenceStore::flush() {
  uint64_t exact[kCount];
  for (int i = 0; i < kCount; ++i) {
    exact[i] = counters_[i].next;
  }
  auto st = store(exact);
  if (!st) {
    ++persist_errors_;
    last_error_ = st.error().message;
    return st;
  }
  for (int i = 0; i < kCount; ++i) {
    counters_[i].ceiling = exact[i];
  }
  return true;
}

uint64_t SequenceStore::take(Index i) {
  Counter& c = counters_[i];
  uint64_t v = c.next++;
  // Refresh the reservation when half of the block is used, so a failing store still leaves
  // half a block of numbers that are safe across a crash.
  if (c.next + block_ / 2 >= c.ceiling) {
    if (retry_countdown_ > 0) {
      --retry_countdown_;
    } else {
      uint64_t reserve[kCount];
      for (int k = 0; k < kCount; ++k) {
        reserve[k] = counters_[k].ceiling;
      }
      reserve[i] = c.next + block_;
      auto st = store(reserve);
      if (st) {
        for (int k = 0; k < kCount; ++k) {
          counters_[k].ceiling = reserve[k];
        }
      } else {
        ++persist_errors_;
        last_error_ = st.error().message;
        retry_countdown_ = kRetryEvery;
      }
    }
  }
  if (v >= c.ceiling) {
    ++unsafe_numbers_;
  }
  return v;
}

uint64_t SequenceStore::nextLocalSequence() {
  while (true) {
    uint64_t v = take(kLocal) % kUint32Span;
    if (v != 0) {
      return v;
    }
  }
}

uint32_t SequenceStore::nextChargingId() {
  while (true) {
    uint64_t v = take(kCharging) % kUint32Span;
    if (v != 0) {
      return static_cast<uint32_t>(v);
    }
  }
}

uint32_t SequenceStore::nextFileSequence() {
  while (true) {
    uint64_t v = take(kFile) % kFileSeqSpan;
    if (v != 0) {
      return static_cast<uint32_t>(v);
    }
  }
}

}  // namespace tally
