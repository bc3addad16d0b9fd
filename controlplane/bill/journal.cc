// The bill journal (journal.h).
//
// On-disk format (docs/storage.md, "The bill journal"), all integers little-endian:
//
//   directory:  journal-<first ticket, 16 lower-case hex digits>.log, one file per segment;
//               other names are ignored. Tickets are consecutive across segments: a segment
//               starts with the ticket after the last one of the segment before it.
//   file header (16 octets):
//     0  magic        4  "TJNL" (0x4C4E4A54)
//     4  version      4  1
//     8  first ticket 8  the same as in the file name
//   entries, back to back from offset 16:
//     0  magic        4  "TJEN" (0x4E454A54)
//     4  length       4  octets of payload (<= Journal::kMaxPayload)
//     8  type         1  the caller's
//     9  ticket       8  the previous entry's + 1 (the first: the file header's first ticket)
//     17 crc          4  CRC32C over octets 0..16 of this header, then the payload
//     21 payload      length octets
//
// Recovery: an entry that does not read whole (short header or payload, bad magic, bad length,
// checksum mismatch) ends the readable part of a segment. In the last segment that is a torn
// tail (a crash during a write that was never fdatasync'd): it is cut off. Anywhere else it is
// an error, as are a ticket out of sequence, a foreign file and an unknown version.
//
// Threads: the control thread encodes an entry (header, CRC) without a lock and copies it into
// the current chunk under mu_; the commit thread takes every pending chunk under mu_ (moving
// pointers only), then writes and syncs with no lock held. So append() waits at most for a
// memcpy or a pointer swap of the other side, never for the disk.
#include "controlplane/bill/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "controlplane/storage/durable_file.h"
#include "shared/crc32c.h"

namespace tally::bill {
namespace {

constexpr uint32_t kFileMagic = 0x4C4E4A54;  // "TJNL"
constexpr uint32_t kFileVersion = 1;
constexpr size_t kFileHeaderBytes = 16;
constexpr uint32_t kEntryMagic = 0x4E454A54;  // "TJEN"
constexpr size_t kEntryHeaderBytes = 21;
constexpr size_t kCrcOffset = 17;
constexpr size_t kChunkBytes = 1u << 20;  // buffer chunks (a larger entry gets its own)
constexpr size_t kSpareChunks = 8;        // kept for reuse instead of freed
constexpr int kStopAttempts = 3;          // write attempts once the destructor waits
constexpr const char* kPrefix = "journal-";
constexpr const char* kSuffix = ".log";

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    p[i] = static_cast<uint8_t>(v >> (8 * i));
  }
}
void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    p[i] = static_cast<uint8_t>(v >> (8 * i));
  }
}
uint32_t get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) {
    v = (v << 8) | p[i];
  }
  return v;
}
uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | p[i];
  }
  return v;
}

int64_t nowNs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string segmentName(uint64_t first_ticket) {
  static const char* kHex = "0123456789abcdef";
  std::string name = kPrefix;
  for (int i = 15; i >= 0; --i) {
    name += kHex[(first_ticket >> (4 * i)) & 0xF];
  }
  return name + kSuffix;
}

// Whether `name` looks like a segment (prefix and suffix); parseSegmentName: the first ticket.
bool looksLikeSegment(const std::string& name) {
  const size_t p = std::strlen(kPrefix), s = std::strlen(kSuffix);
  return name.size() > p + s && name.compare(0, p, kPrefix) == 0 &&
         name.compare(name.size() - s, s, kSuffix) == 0;
}
bool parseSegmentName(const std::string& name, uint64_t* first) {
  const size_t p = std::strlen(kPrefix);
  if (name.size() != p + 16 + std::strlen(kSuffix)) {
    return false;
  }
  uint64_t v = 0;
  for (size_t i = p; i < p + 16; ++i) {
    char c = name[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) {
      return false;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *first = v;
  return true;
}

void fileHeader(uint8_t* out, uint64_t first_ticket) {
  put32(out, kFileMagic);
  put32(out + 4, kFileVersion);
  put64(out + 8, first_ticket);
}

std::string sysError(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// ---- Recovery -------------------------------------------------------------------------------

struct ScannedSegment {
  std::string name;
  uint64_t first = 0;       // from the name
  uint64_t good_bytes = 0;  // the readable part: file header + intact entries
  uint64_t file_bytes = 0;
  uint64_t entries = 0;
  std::string bad_reason;    // why the readable part ends before file_bytes ("" if it does not)
  bool header_torn = false;  // the file header itself is missing or partly written
};

bool allZero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

// Reads one segment's entries; visit (may be null) gets each intact one. Stops at the first
// entry that does not read whole (reason in bad_reason). An Error: not a segment of ours, or a
// ticket out of sequence (never a torn write).
Result<ScannedSegment> scanSegment(const std::string& dir, const std::string& name, uint64_t first,
                                   const Journal::Visitor* visit) {
  ScannedSegment s;
  s.name = name;
  s.first = first;
  const std::string path = dir + "/" + name;
  auto data = readFileWhole(path, std::numeric_limits<size_t>::max());
  if (!data) {
    return data.error();
  }
  const auto* p = reinterpret_cast<const uint8_t*>(data->data());
  const size_t size = data->size();
  s.file_bytes = size;
  if (size < kFileHeaderBytes) {
    uint8_t expect[kFileHeaderBytes];
    fileHeader(expect, first);
    if (std::memcmp(p, expect, size) != 0 && !allZero(p, size)) {
      return Error{path + ": not a tally journal segment (bad file header)"};
    }
    s.header_torn = size > 0;
    s.bad_reason = size > 0 ? "short file header (" + std::to_string(size) + " octets)" : "";
    return s;
  }
  if (get32(p) != kFileMagic) {
    if (allZero(p, kFileHeaderBytes)) {
      s.header_torn = true;
      s.bad_reason = "zero-filled file header";
      return s;
    }
    return Error{path + ": not a tally journal segment (bad magic)"};
  }
  if (get32(p + 4) != kFileVersion) {
    return Error{path + ": unsupported journal format version " + std::to_string(get32(p + 4)) +
                 " (this build reads version " + std::to_string(kFileVersion) + ")"};
  }
  if (get64(p + 8) != first) {
    return Error{path + ": file header says first ticket " + std::to_string(get64(p + 8)) +
                 ", the name says " + std::to_string(first)};
  }
  size_t off = kFileHeaderBytes;
  uint64_t ticket = first;
  while (off < size) {
    const std::string at = " at offset " + std::to_string(off);
    const size_t left = size - off;
    if (left < kEntryHeaderBytes) {
      s.bad_reason = (allZero(p + off, left) ? "zero-filled tail" : "short header") + at;
      break;
    }
    const uint8_t* h = p + off;
    if (get32(h) != kEntryMagic) {
      s.bad_reason = (allZero(h, left) ? "zero-filled tail" : "bad entry magic") + at;
      break;
    }
    const uint32_t len = get32(h + 4);
    if (len > Journal::kMaxPayload) {
      s.bad_reason = "bad length " + std::to_string(len) + at;
      break;
    }
    if (left - kEntryHeaderBytes < len) {
      s.bad_reason = "short payload" + at + " (" + std::to_string(len) + " octets announced, " +
                     std::to_string(left - kEntryHeaderBytes) + " present)";
      break;
    }
    uint32_t crc = crc32c(h, kCrcOffset);
    crc = crc32c(h + kEntryHeaderBytes, len, crc);
    if (crc != get32(h + kCrcOffset)) {
      s.bad_reason = "checksum mismatch" + at;
      break;
    }
    const uint64_t t = get64(h + 9);
    if (t != ticket) {
      return Error{path + ": ticket " + std::to_string(t) + at + ", expected " +
                   std::to_string(ticket)};
    }
    if (visit != nullptr) {
      (*visit)(t, h[8], std::span<const uint8_t>(h + kEntryHeaderBytes, len));
    }
    ++ticket;
    ++s.entries;
    off += kEntryHeaderBytes + len;
  }
  s.good_bytes = s.bad_reason.empty() ? size : off;
  return s;
}

// ---- Delay histogram ------------------------------------------------------------------------

// Log buckets, 16 per octave from 2^10 ns (about 1 microsecond) to 2^34 ns (about 17 s):
// a percentile is read as the upper bound of its bucket (at most 6.25 % high).
class DelayHistogram {
 public:
  void add(int64_t ns) {
    ++counts_[index(ns)];
    ++total_;
    max_ = std::max(max_, ns);
  }
  int64_t percentile(double q) const {
    if (total_ == 0) {
      return 0;
    }
    const uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        return std::min(upper(i), max_);
      }
    }
    return max_;
  }
  int64_t max() const { return max_; }

 private:
  static constexpr int kMinOctave = 10;
  static constexpr int kOctaves = 24;
  static constexpr int kSubBits = 4;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr size_t kBuckets = kOctaves * kSub + 2;  // + below 2^10, + beyond 2^34
  static size_t index(int64_t ns) {
    if (ns < (int64_t{1} << kMinOctave)) {
      return 0;
    }
    const int octave = 63 - __builtin_clzll(static_cast<uint64_t>(ns));
    if (octave >= kMinOctave + kOctaves) {
      return kBuckets - 1;
    }
    const uint64_t top = static_cast<uint64_t>(ns) >> (octave - kSubBits);  // 1xxxx
    const int sub = static_cast<int>(top & (kSub - 1));
    return 1 + static_cast<size_t>((octave - kMinOctave) * kSub + sub);
  }
  static int64_t upper(size_t i) {
    if (i == 0) {
      return int64_t{1} << kMinOctave;
    }
    if (i == kBuckets - 1) {
      return std::numeric_limits<int64_t>::max();
    }
    const int octave = kMinOctave + static_cast<int>((i - 1) / kSub);
    const int sub = static_cast<int>((i - 1) % kSub);
    return (int64_t{kSub + sub + 1}) << (octave - kSubBits);
  }
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  int64_t max_ = 0;
};

}  // namespace

// ---- The journal ----------------------------------------------------------------------------

struct Journal::Impl {
  struct Chunk {
    std::unique_ptr<uint8_t[]> data;
    size_t capacity = 0;
    size_t used = 0;
  };
  struct EntryMeta {
    int64_t append_ns;
    uint32_t bytes;  // header + payload
  };
  // Appended entries in order, as encoded octets in chunks (an entry never spans two) and one
  // EntryMeta each.
  struct Pending {
    std::deque<std::unique_ptr<Chunk>> chunks;
    std::vector<EntryMeta> meta;
    uint64_t bytes = 0;
  };
  // A segment on disk. Commit thread only.
  struct Segment {
    std::string name;
    uint64_t first = 0;
    uint64_t bytes = 0;    // durable
    uint64_t entries = 0;  // durable
  };

  JournalOptions options;

  // Control thread only.
  uint64_t next_ticket = 1;

  // mu_: the buffer (active side), counters the control thread changes, stop / release requests.
  mutable std::mutex mu;
  std::condition_variable work_cv;  // commit thread waits for work
  Pending active;
  int64_t active_oldest_ns = 0;
  uint64_t buffered_bytes = 0;  // active + inflight not yet committed
  uint64_t appended = 0;
  bool stop = false;
  uint64_t release_before = 0;
  std::vector<std::unique_ptr<Chunk>> spare;

  // Commit thread only.
  Pending inflight;
  size_t inflight_done_entries = 0;  // already committed from the front of inflight
  size_t inflight_chunk = 0;         // where the next uncommitted entry is: chunk index ..
  size_t inflight_offset = 0;        // .. and offset in it
  Segment cur;                       // the segment being written
  int cur_fd = -1;                   // -1: not created yet (or its creation failed)
  bool cur_dir_synced = true;
  std::deque<Segment> closed;  // older segments, oldest first
  uint64_t released_upto = 0;
  int64_t retry_at_ns = 0;
  bool failing_local = false;
  std::vector<iovec> iov;

  // stats_mu: what stats() shows of the commit thread's work (never taken by append()).
  mutable std::mutex stats_mu;
  DelayHistogram delays;
  uint64_t commits = 0;
  uint64_t bytes_written = 0;
  uint64_t segments_on_disk = 0;
  uint64_t disk_bytes = 0;
  uint64_t write_errors = 0;
  bool failing = false;
  std::string last_error;

  std::atomic<uint64_t> committed{0};
  std::atomic<uint64_t> last_appended{0};
  mutable std::mutex commit_mu;  // with commit_cv: waitCommitted()
  mutable std::condition_variable commit_cv;

  std::thread thread;

  ~Impl() {
    if (cur_fd >= 0) {
      ::close(cur_fd);
    }
  }

  std::string path(const std::string& name) const { return options.dir + "/" + name; }

  // ---- control thread ----

  Result<Ticket> append(uint8_t type, std::span<const uint8_t> payload) {
    if (payload.size() > kMaxPayload) {
      return Error{"journal entry of " + std::to_string(payload.size()) +
                   " octets is larger than the limit of " + std::to_string(kMaxPayload)};
    }
    const Ticket ticket = next_ticket;
    uint8_t header[kEntryHeaderBytes];
    put32(header, kEntryMagic);
    put32(header + 4, static_cast<uint32_t>(payload.size()));
    header[8] = type;
    put64(header + 9, ticket);
    put32(header + kCrcOffset, crc32c(payload, crc32c(header, kCrcOffset)));
    const size_t bytes = kEntryHeaderBytes + payload.size();
    const int64_t now = nowNs();
    bool wake = false;
    {
      std::lock_guard lk(mu);
      if (buffered_bytes + bytes > options.buffer_bytes) {
        return Error{"journal buffer full (" + std::to_string(buffered_bytes) + " of " +
                     std::to_string(options.buffer_bytes) + " octets not yet on disk in " +
                     options.dir + ")"};
      }
      Chunk* c = active.chunks.empty() ? nullptr : active.chunks.back().get();
      if (c == nullptr || c->capacity - c->used < bytes) {
        active.chunks.push_back(takeChunk(bytes));
        c = active.chunks.back().get();
      }
      std::memcpy(c->data.get() + c->used, header, kEntryHeaderBytes);
      if (!payload.empty()) {
        std::memcpy(c->data.get() + c->used + kEntryHeaderBytes, payload.data(), payload.size());
      }
      c->used += bytes;
      if (active.meta.empty()) {
        active_oldest_ns = now;
        wake = true;
      }
      active.meta.push_back({now, static_cast<uint32_t>(bytes)});
      const uint64_t before = active.bytes;
      active.bytes += bytes;
      wake = wake || (before < options.flush_bytes && active.bytes >= options.flush_bytes);
      buffered_bytes += bytes;
      ++appended;
      if (wake) {
        work_cv.notify_one();
      }
    }
    next_ticket = ticket + 1;
    last_appended.store(ticket, std::memory_order_release);
    return ticket;
  }

  // Under mu.
  std::unique_ptr<Chunk> takeChunk(size_t bytes) {
    if (bytes <= kChunkBytes && !spare.empty()) {
      auto c = std::move(spare.back());
      spare.pop_back();
      c->used = 0;
      return c;
    }
    auto c = std::make_unique<Chunk>();
    c->capacity = std::max(bytes, kChunkBytes);
    c->data.reset(new uint8_t[c->capacity]);
    return c;
  }

  // ---- commit thread ----

  void run() {
    std::unique_lock lk(mu);
    int stop_attempts = 0;
    while (true) {
      if (release_before > released_upto) {
        const uint64_t t = release_before;
        lk.unlock();
        release(t);
        lk.lock();
        released_upto = t;
        continue;
      }
      const bool have = inflight_done_entries < inflight.meta.size() || !active.meta.empty();
      if (!have) {
        if (stop) {
          break;
        }
        work_cv.wait(lk);
        continue;
      }
      const int64_t now = nowNs();
      if (stop && stop_attempts >= kStopAttempts) {
        break;  // the disk keeps failing: give up (the destructor's wait is bounded)
      }
      if (failing_local && now < retry_at_ns) {
        work_cv.wait_for(lk, std::chrono::nanoseconds(retry_at_ns - now));
        continue;
      }
      if (!failing_local && !stop && active.bytes < options.flush_bytes &&
          now < active_oldest_ns + options.commit_delay_ns) {
        work_cv.wait_for(
            lk, std::chrono::nanoseconds(active_oldest_ns + options.commit_delay_ns - now));
        continue;
      }
      // Take what is buffered (pointer moves only).
      if (inflight.meta.empty()) {
        std::swap(inflight.chunks, active.chunks);
        std::swap(inflight.meta, active.meta);
      } else {  // a retry: what came since joins the end
        for (auto& c : active.chunks) {
          inflight.chunks.push_back(std::move(c));
        }
        inflight.meta.insert(inflight.meta.end(), active.meta.begin(), active.meta.end());
      }
      inflight.bytes += active.bytes;
      active.chunks.clear();
      active.meta.clear();
      active.bytes = 0;
      if (stop) {
        ++stop_attempts;
      }
      lk.unlock();
      const bool ok = writeInflight();
      if (ok) {
        inflight.meta.clear();
        inflight.bytes = 0;
        inflight_done_entries = 0;
        inflight_chunk = 0;
        inflight_offset = 0;
        lk.lock();
        for (auto& c : inflight.chunks) {
          if (spare.size() < kSpareChunks && c->capacity == kChunkBytes) {
            spare.push_back(std::move(c));
          }
        }
        lk.unlock();
        inflight.chunks.clear();  // frees the rest with no lock held (munmap is slow)
      }
      lk.lock();
    }
  }

  void noteError(const std::string& message) {
    failing_local = true;
    retry_at_ns = nowNs() + options.retry_interval_ns;
    std::lock_guard lk(stats_mu);
    ++write_errors;
    failing = true;
    last_error = message;
  }

  // A failed removal or directory fsync after release: counted and shown, but not `failing`
  // (no entry waits for it); tried again at the next releaseBefore() with a larger ticket.
  void noteReleaseError(const std::string& message) {
    std::lock_guard lk(stats_mu);
    ++write_errors;
    last_error = message;
  }

  void publishSegments() {
    uint64_t n = closed.size() + (cur_fd >= 0 ? 1 : 0);
    uint64_t b = cur_fd >= 0 ? cur.bytes : 0;
    for (const auto& s : closed) {
      b += s.bytes;
    }
    std::lock_guard lk(stats_mu);
    segments_on_disk = n;
    disk_bytes = b;
  }

  // Writes what inflight holds beyond inflight_done_entries, segment by segment; each part is
  // committed once written, fdatasync'd and (a new segment) its directory fsync'd. false: an
  // attempt failed (recorded; the rest stays in inflight for the retry).
  bool writeInflight() {
    while (inflight_done_entries < inflight.meta.size()) {
      const uint64_t first_ticket = committed.load(std::memory_order_relaxed) + 1;
      const uint32_t first_bytes = inflight.meta[inflight_done_entries].bytes;
      if (cur_fd >= 0 && cur.entries > 0 && cur.bytes + first_bytes > options.segment_bytes) {
        // The current segment is full (and all of it durable): the next one starts here.
        ::close(cur_fd);
        cur_fd = -1;
        closed.push_back(cur);
        publishSegments();
      }
      if (cur_fd < 0) {
        // A new segment (or another try at creating it after a failure).
        cur = Segment{segmentName(first_ticket), first_ticket, 0, 0};
        int fd = ::open(path(cur.name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (fd < 0) {
          noteError(sysError("cannot create", path(cur.name)));
          return false;
        }
        cur_fd = fd;
        cur_dir_synced = false;
        publishSegments();
      }
      // The entries that go into this segment.
      size_t n = 0;
      uint64_t bytes = 0;
      const size_t from = inflight_done_entries;
      while (from + n < inflight.meta.size()) {
        const uint32_t b = inflight.meta[from + n].bytes;
        if ((cur.entries > 0 || n > 0) &&
            cur.bytes + (cur.bytes == 0 ? kFileHeaderBytes : 0) + bytes + b >
                options.segment_bytes) {
          break;
        }
        bytes += b;
        ++n;
      }
      // iovecs over the chunks (an entry never spans two chunks).
      iov.clear();
      uint8_t header[kFileHeaderBytes];
      if (cur.bytes == 0) {
        fileHeader(header, cur.first);
        iov.push_back({header, kFileHeaderBytes});
      }
      size_t chunk = inflight_chunk, offset = inflight_offset;
      for (size_t i = 0; i < n; ++i) {
        const uint32_t b = inflight.meta[from + i].bytes;
        if (offset + b > inflight.chunks[chunk]->used) {
          ++chunk;
          offset = 0;
        }
        uint8_t* p = inflight.chunks[chunk]->data.get() + offset;
        if (!iov.empty() && static_cast<uint8_t*>(iov.back().iov_base) + iov.back().iov_len == p) {
          iov.back().iov_len += b;
        } else {
          iov.push_back({p, b});
        }
        offset += b;
      }
      const uint64_t total = bytes + (cur.bytes == 0 ? kFileHeaderBytes : 0);
      if (!writeAt(cur.bytes, total)) {
        return false;
      }
      if (::fdatasync(cur_fd) != 0) {
        noteError(sysError("cannot fdatasync", path(cur.name)));
        (void)!::ftruncate(cur_fd, static_cast<off_t>(cur.bytes));
        return false;
      }
      if (!cur_dir_synced) {
        auto r = fsyncDirectory(options.dir);
        if (!r) {
          noteError(r.error().message);
          return false;
        }
        cur_dir_synced = true;
      }
      // Committed.
      const int64_t now = nowNs();
      cur.bytes += total;
      cur.entries += n;
      inflight_done_entries += n;
      inflight_chunk = chunk;
      inflight_offset = offset;
      committed.store(first_ticket + n - 1, std::memory_order_release);
      {
        std::lock_guard lk(stats_mu);
        for (size_t i = 0; i < n; ++i) {
          delays.add(now - inflight.meta[from + i].append_ns);
        }
        ++commits;
        bytes_written += total;
        failing = false;
      }
      failing_local = false;
      publishSegments();
      {
        std::lock_guard lk(mu);
        buffered_bytes -= bytes;
      }
      {
        std::lock_guard lk(commit_mu);
        commit_cv.notify_all();
      }
    }
    return true;
  }

  // pwritev of iov (total octets) at `offset` of the current segment; a failure truncates back
  // to `offset` so that a partial write leaves nothing behind (and the retry rewrites anyway).
  bool writeAt(uint64_t offset, uint64_t total) {
    size_t first = 0;
    uint64_t done = 0;
    while (done < total) {
      const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
      ssize_t w = ::pwritev(cur_fd, iov.data() + first, count, static_cast<off_t>(offset + done));
      if (w < 0 && errno == EINTR) {
        continue;
      }
      if (w <= 0) {
        if (w == 0) {
          errno = EIO;
        }
        noteError(sysError("cannot write", path(cur.name)));
        (void)!::ftruncate(cur_fd, static_cast<off_t>(offset));
        return false;
      }
      done += static_cast<uint64_t>(w);
      size_t left = static_cast<size_t>(w);
      while (left > 0 && first < iov.size()) {
        if (left >= iov[first].iov_len) {
          left -= iov[first].iov_len;
          ++first;
        } else {
          iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
          iov[first].iov_len -= left;
          left = 0;
        }
      }
    }
    return true;
  }

  // Deletes the closed segments whose entries are all below `ticket`, then fsyncs the directory.
  void release(uint64_t ticket) {
    bool removed = false;
    while (!closed.empty()) {
      const uint64_t next_first = closed.size() > 1 ? closed[1].first : cur.first;
      if (next_first > ticket) {
        break;
      }
      const std::string p = path(closed.front().name);
      if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
        noteReleaseError(sysError("cannot remove", p));
        break;
      }
      closed.pop_front();
      removed = true;
    }
    if (removed) {
      auto r = fsyncDirectory(options.dir);
      if (!r) {
        noteReleaseError(r.error().message);
      }
      publishSegments();
    }
  }
};

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Journal>> Journal::open(const JournalOptions& options, const Visitor& visit,
                                               JournalRecovery* report) {
  if (options.dir.empty()) {
    return Error{"journal: no directory given"};
  }
  auto made = ensureDirectory(options.dir, 0750);
  if (!made) {
    return made.error();
  }
  auto names = listDirectory(options.dir);
  if (!names) {
    return names.error();
  }
  std::vector<std::pair<uint64_t, std::string>> found;
  for (const auto& n : *names) {
    if (!looksLikeSegment(n)) {
      continue;
    }
    uint64_t first = 0;
    if (!parseSegmentName(n, &first)) {
      return Error{options.dir + "/" + n + ": not a journal segment name (expected journal-" +
                   "<16 hex digits>.log)"};
    }
    found.emplace_back(first, n);
  }
  std::sort(found.begin(), found.end());

  // Pass 1: check everything, change nothing, visit nothing.
  std::vector<ScannedSegment> segs;
  for (size_t i = 0; i < found.size(); ++i) {
    auto s = scanSegment(options.dir, found[i].second, found[i].first, nullptr);
    if (!s) {
      return s.error();
    }
    const bool last = i + 1 == found.size();
    if (!s->bad_reason.empty() && !last) {
      return Error{options.dir + "/" + s->name + ": " + s->bad_reason +
                   " (not the last segment: committed entries are damaged)"};
    }
    if (s->file_bytes == 0 && !last) {
      return Error{options.dir + "/" + s->name + ": empty (not the last segment)"};
    }
    if (!segs.empty()) {
      const uint64_t expect = segs.back().first + segs.back().entries;
      if (s->first != expect) {
        return Error{options.dir + "/" + s->name + ": ticket gap: starts at ticket " +
                     std::to_string(s->first) + ", the segment before it (" + segs.back().name +
                     ") ends at " + std::to_string(expect - 1)};
      }
    }
    segs.push_back(std::move(*s));
  }

  // Pass 2: visit.
  JournalRecovery rec;
  for (const auto& s : segs) {
    if (s.entries > 0) {
      auto again = scanSegment(options.dir, s.name, s.first, visit ? &visit : nullptr);
      if (!again) {
        return again.error();
      }
      if (again->entries != s.entries) {
        return Error{options.dir + "/" + s.name + ": changed while being read"};
      }
    }
    rec.entries += s.entries;
    ++rec.segments;
  }

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (impl->options.segment_bytes < kFileHeaderBytes + kEntryHeaderBytes) {
    impl->options.segment_bytes = kFileHeaderBytes + kEntryHeaderBytes;
  }
  uint64_t next = 1;
  if (!segs.empty()) {
    ScannedSegment& last = segs.back();
    const std::string lp = options.dir + "/" + last.name;
    if (!last.bad_reason.empty()) {
      // The torn tail: cut it off (a torn file header: back to an empty file).
      const uint64_t keep = last.header_torn ? 0 : last.good_bytes;
      if (::truncate(lp.c_str(), static_cast<off_t>(keep)) != 0) {
        return Error{sysError("cannot truncate", lp)};
      }
      rec.torn_bytes = last.file_bytes - keep;
      rec.torn_segment = last.name;
      rec.torn_reason = last.bad_reason;
      last.good_bytes = keep;
    }
    // What was read may have been written but never synced (a crash between write and
    // fdatasync): make it durable before it counts.
    auto f = fsyncFile(lp);
    if (!f) {
      return f.error();
    }
    auto d = fsyncDirectory(options.dir);
    if (!d) {
      return d.error();
    }
    for (size_t i = 0; i + 1 < segs.size(); ++i) {
      impl->closed.push_back({segs[i].name, segs[i].first, segs[i].file_bytes, segs[i].entries});
    }
    impl->cur = {last.name, last.first, last.good_bytes, last.entries};
    int fd = ::open(lp.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      return Error{sysError("cannot open", lp)};
    }
    impl->cur_fd = fd;
    next = last.first + last.entries;
  }
  impl->next_ticket = next;
  impl->committed.store(next - 1);
  impl->last_appended.store(next - 1);
  impl->publishSegments();
  for (size_t i = 0; i < 2; ++i) {  // a couple of chunks ready, touched once
    auto c = std::make_unique<Impl::Chunk>();
    c->capacity = kChunkBytes;
    c->data.reset(new uint8_t[kChunkBytes]);
    std::memset(c->data.get(), 0, kChunkBytes);
    impl->spare.push_back(std::move(c));
  }
  if (report != nullptr) {
    *report = rec;
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Journal>(new Journal(std::move(impl)));
}

Journal::~Journal() {
  {
    std::lock_guard lk(impl_->mu);
    impl_->stop = true;
    impl_->work_cv.notify_one();
  }
  impl_->thread.join();
}

Result<Journal::Ticket> Journal::append(uint8_t type, std::span<const uint8_t> payload) {
  return impl_->append(type, payload);
}

Journal::Ticket Journal::lastAppended() const {
  return impl_->last_appended.load(std::memory_order_acquire);
}

Journal::Ticket Journal::committed() const {
  return impl_->committed.load(std::memory_order_acquire);
}

bool Journal::waitCommitted(Ticket ticket, int64_t timeout_ns) const {
  std::unique_lock lk(impl_->commit_mu);
  return impl_->commit_cv.wait_for(lk, std::chrono::nanoseconds(std::max<int64_t>(timeout_ns, 0)),
                                   [&] { return committed() >= ticket; });
}

void Journal::releaseBefore(Ticket ticket) {
  std::lock_guard lk(impl_->mu);
  if (ticket > impl_->release_before) {
    impl_->release_before = ticket;
    impl_->work_cv.notify_one();
  }
}

JournalStats Journal::stats() const {
  JournalStats s;
  {
    std::lock_guard lk(impl_->mu);
    s.appended = impl_->appended;
    s.buffered_bytes = impl_->buffered_bytes;
  }
  s.committed = committed();
  std::lock_guard lk(impl_->stats_mu);
  s.commits = impl_->commits;
  s.bytes_written = impl_->bytes_written;
  s.segments = impl_->segments_on_disk;
  s.disk_bytes = impl_->disk_bytes;
  s.write_errors = impl_->write_errors;
  s.failing = impl_->failing;
  s.last_error = impl_->last_error;
  s.delay_p50_ns = impl_->delays.percentile(0.50);
  s.delay_p99_ns = impl_->delays.percentile(0.99);
  s.delay_max_ns = impl_->delays.max();
  return s;
}

const std::string& Journal::dir() const { return impl_->options.dir; }

}  // namespace tally::bill
