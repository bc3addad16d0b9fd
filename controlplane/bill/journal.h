#pragma once
// The bill journal: an append-only, checksummed log on flash (in node.state_dir) that makes a
// bill durable within a bounded delay without the poll ever waiting for the disk.
//
// - Entries are (type, payload) with a CRC32C each; their meaning belongs to the caller (the
//   bill pool, bill_pool.h). Each entry gets a ticket: 1, 2, 3 ... never reused, continuing
//   after a restart.
// - append() copies the entry into a bounded in-memory buffer and returns at once. A commit
//   thread of its own writes the buffer out and fdatasync()s it (group commit): an entry is
//   *committed* once committed() >= its ticket. A commit starts at the latest commit_delay
//   after the first uncommitted append (at once when the buffer holds flush_bytes), so the
//   append-to-durable delay is bounded by commit_delay + one write and fsync.
// - Segments: journal-<first ticket, 16 hex digits>.log files of about segment_bytes; a new
//   segment is created and its directory fsync'd before its first entry counts as committed.
//   releaseBefore(T) lets the commit thread delete every segment whose entries are all < T
//   (never the segment being written).
// - Recovery (open): every segment is read in order and each intact entry passed to visit().
//   A torn or corrupt tail of the *last* segment (a crash during a write) is cut off
//   (truncated and fsync'd) and reported; a corrupt entry anywhere else is an error naming the
//   segment and offset (never silently skipped: those are committed bills).
// - Write failures (ENOSPC, EIO, EROFS): counted, last error kept, visible at once in
//   stats(); the thread retries (every retry_interval) and entries stay in the buffer, never
//   dropped. When the buffer is full append() refuses (back-pressure, nothing taken).
//
// Threads: append(), releaseBefore() and the destructor from one thread (the control plane);
// committed(), stats() and waitCommitted() from any thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "shared/result.h"

namespace tally::bill {

struct JournalOptions {
  std::string dir;                            // created 0750 (with parents) when missing
  int64_t commit_delay_ns = 5'000'000;        // first append -> commit start, at most
  uint64_t flush_bytes = 1 << 20;             // commit at once when this much is buffered
  uint64_t segment_bytes = 64ull << 20;       // start a new segment past this size
  uint64_t buffer_bytes = 256ull << 20;       // appended, not yet written: beyond, append fails
  int64_t retry_interval_ns = 100'000'000;    // after a failed write or fsync
};

struct JournalRecovery {
  uint64_t entries = 0;        // intact entries passed to visit()
  uint32_t segments = 0;       // segment files read
  uint64_t torn_bytes = 0;     // cut off the end of the last segment (0: clean)
  std::string torn_segment;    // its file name ("" when clean)
  std::string torn_reason;     // e.g. "short header at offset 123", "checksum mismatch at ..."
};

struct JournalStats {
  uint64_t appended = 0;           // entries
  uint64_t committed = 0;          // ticket of the newest durable entry
  uint64_t commits = 0;            // fdatasync batches
  uint64_t bytes_written = 0;
  uint64_t buffered_bytes = 0;     // appended, not yet durable
  uint64_t segments = 0;           // on disk now
  uint64_t disk_bytes = 0;         // their total size
  uint64_t write_errors = 0;       // failed write / fsync / segment creation (each attempt)
  bool failing = false;            // the last attempt failed (cleared by the next success)
  std::string last_error;          // "" when none; names the file and the system error
  // append -> committed delay of entries, over the journal's life: median and 99th percentile
  // (from a histogram of 1 microsecond .. 10 s buckets), and the largest seen.
  int64_t delay_p50_ns = 0;
  int64_t delay_p99_ns = 0;
  int64_t delay_max_ns = 0;
};

class Journal {
 public:
  using Ticket = uint64_t;
  using Visitor = std::function<void(Ticket, uint8_t type, std::span<const uint8_t> payload)>;
  static constexpr size_t kMaxPayload = 16u << 20;

  // Replays the journal in `options.dir` into visit(), cuts a torn tail, then starts the commit
  // thread. An error names the directory / segment / offset; nothing is changed then.
  static Result<std::unique_ptr<Journal>> open(const JournalOptions& options, const Visitor& visit,
                                               JournalRecovery* report = nullptr);
  // Commits what was appended (waits for it, at most a few retries when the disk fails), then
  // stops the thread.
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Copies the entry into the buffer. Error: the buffer is full, or the payload is larger than
  // kMaxPayload (nothing taken).
  Result<Ticket> append(uint8_t type, std::span<const uint8_t> payload);
  Ticket lastAppended() const;
  Ticket committed() const;
  // Blocks until `ticket` is committed or timeout_ns passes; returns whether it was committed.
  bool waitCommitted(Ticket ticket, int64_t timeout_ns) const;
  // Every entry below `ticket` is no longer needed (segments wholly below it may be deleted).
  void releaseBefore(Ticket ticket);
  JournalStats stats() const;
  const std::string& dir() const;

 private:
  struct Impl;
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally::bill
