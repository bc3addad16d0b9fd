#include "controlplane/storage/sequence_store.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string_view>

#include "controlplane/storage/durable_file.h"

namespace tally {
namespace {

constexpr const char* kKeys[3] = {"local_sequence", "charging_id", "file_sequence"};
constexpr const char* kMagic = "tally-sequence 1";
constexpr uint64_t kUint32Span = uint64_t{1} << 32;
constexpr uint64_t kFileSeqSpan = 100000000;  // 8 decimal digits in file names
constexpr uint64_t kRetryEvery = 16;          // numbers between retries after a failed store
constexpr size_t kMaxStateFileBytes = 65536;

uint32_t fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619u;
  }
  return h;
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

// Reads and checks a state file that exists; an error names the file.
Result<bool> readStateFile(const std::string& path, uint64_t ceilings[3]) {
  auto text = readFileWhole(path, kMaxStateFileBytes);
  if (!text) {
    return Error{"cannot read sequence state file " + text.error().message};
  }
  auto p = parse(text.value(), ceilings);
  if (!p) {
    return Error{"corrupt sequence state file " + path + ": " + p.error().message +
                 " (refusing to restart the numbering; restore the file or remove it "
                 "knowingly)"};
  }
  return true;
}

std::string ceilingsText(const uint64_t ceilings[3]) {
  std::string t;
  for (int i = 0; i < 3; ++i) {
    t += std::string(i == 0 ? "" : ", ") + kKeys[i] + " " + std::to_string(ceilings[i]);
  }
  return t;
}

}  // namespace

Result<std::string> SequenceStore::adoptLegacyFile(const std::string& path,
                                                  const std::string& legacy_path) {
  auto legacy = fileExists(legacy_path);
  if (!legacy) {
    return Error{"sequence state file: " + legacy.error().message};
  }
  std::error_code ec;
  if (!legacy.value() || path == legacy_path || std::filesystem::equivalent(path, legacy_path, ec)) {
    return std::string();
  }
  uint64_t ceilings[kCount] = {1, 1, 1};
  auto old = readStateFile(legacy_path, ceilings);
  if (!old) {
    return old.error();
  }
  auto current = fileExists(path);
  if (!current) {
    return Error{"sequence state file: " + current.error().message};
  }
  if (current.value()) {
    // Both exist (e.g. an older release ran again after the upgrade): keep the higher ceiling
    // of each counter, so that no number is handed out twice.
    uint64_t mine[kCount] = {1, 1, 1};
    auto r = readStateFile(path, mine);
    if (!r) {
      return r.error();
    }
    for (int i = 0; i < kCount; ++i) {
      ceilings[i] = std::max(ceilings[i], mine[i]);
    }
  }
  // Copy first (durably), remove second: a crash in between leaves both, and the next start
  // merges them to the same ceilings.
  auto d = ensureDirectory(dirName(path), 0750);
  if (!d) {
    return d.error();
  }
  auto w = writeFileDurably(path, render(ceilings));
  if (!w) {
    return w.error();
  }
  auto rm = removeDurably(dirName(legacy_path), baseName(legacy_path));
  if (!rm) {
    return rm.error();
  }
  return std::string(current.value() ? "merged" : "moved") + " the sequence state file " +
         legacy_path + " (in the CF card directory, which transfers sweep) into " + path +
         (current.value() ? " (higher ceilings kept: " : " (ceilings: ") + ceilingsText(ceilings) +
         ")";
}

Result<std::unique_ptr<SequenceStore>> SequenceStore::open(const std::string& path,
                                                           uint64_t block) {
  if (block < 2) {
    block = 2;
  }
  auto d = ensureDirectory(dirName(path), 0750);
  if (!d) {
    return d.error();
  }
  uint64_t ceilings[3] = {1, 1, 1};
  auto exists = fileExists(path);
  if (!exists) {
    return Error{"sequence state file: " + exists.error().message};
  }
  if (exists.value()) {
    auto r = readStateFile(path, ceilings);
    if (!r) {
      return r.error();
    }
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
  return writeFileDurably(path_, render(ceilings));
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

bool SequenceStore::reserveCeilings(const uint64_t reserve[kCount]) {
  auto st = store(reserve);
  if (!st) {
    ++persist_errors_;
    last_error_ = st.error().message;
    return false;
  }
  for (int k = 0; k < kCount; ++k) {
    counters_[k].ceiling = reserve[k];
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
      if (!reserveCeilings(reserve)) {
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

std::string SequenceStore::resumeAfter(uint64_t last_local, uint32_t last_file) {
  std::string note;
  auto resume = [&](Index i, uint64_t last, uint64_t span, const char* what) {
    if (last == 0) {
      return;
    }
    Counter& c = counters_[i];
    // The raw value that hands out last + 1 next, at or below c.next.
    const uint64_t want = (last + 1) % span;
    const uint64_t have = c.next % span;
    const uint64_t back = (have + span - want) % span;
    if (back == 0 || back > c.next - 1 || back > 2 * block_) {
      return;  // already there, or the journal's number is not from the last block
    }
    c.next -= back;
    note += std::string(note.empty() ? "" : "; ") + what + " continue at " +
            std::to_string(want == 0 ? 1 : want) + " (after the last committed " +
            std::to_string(last) + ")";
  };
  resume(kLocal, last_local, kUint32Span, "localSequenceNumbers");
  resume(kFile, last_file, kFileSeqSpan, "file sequence numbers");
  if (note.empty()) {
    return note;
  }
  // Store the lower reservation as well. Otherwise the ceiling on disk stays where open() put
  // it, a block above the one it found: every start after a crash adds a block, and after two
  // crashes in a row the journal's number is more than two blocks below it, so the numbers
  // would jump. Numbers handed out are below next, so next + block is a safe ceiling.
  uint64_t reserve[kCount];
  for (int k = 0; k < kCount; ++k) {
    reserve[k] = std::min(counters_[k].ceiling, counters_[k].next + block_);
  }
  // On failure still safe (the higher ceiling stays on disk); only the next crash may skip.
  reserveCeilings(reserve);
  return "bill journal: " + note;
}

}  // namespace tally
