#pragma once
// The provisioned identities on disk: node.state_dir/identities.jsonl, one JSON object per
// line in the bulk form's keys (identity.h, identityJsonLine), written whole through
// controlplane/storage/durable_file.h (tmp, fsync, rename, fsync dir) by a thread of its own,
// so that the poll never waits for the disk.
//
// The control-plane thread hands over each change (put / remove, O(1), no I/O); the writer
// keeps its own copy of the table, takes every change handed over since its last write and
// writes the whole file again. Changes that arrive while a write runs go into the next one, so
// a burst of 10 000 identities costs a few writes, not 10 000. Promise (docs/charging.md
// "Subscriber identity"): an identity answered "ok" is in the file after the write that follows
// it (milliseconds for tens of thousands of identities); a crash before that loses it. A failed
// write is retried after a second, counted and logged; the identities stay in force in memory.
// At a clean stop (close()) everything handed over is written.
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/identity/identity.h"
#include "shared/result.h"

namespace tally {

struct IdentityStoreStats {
  uint64_t writes = 0;         // whole-file writes done
  uint64_t write_errors = 0;
  uint64_t pending = 0;        // changes handed over, not yet in the file
  uint64_t stored = 0;         // identities in the file after the last write
  std::string last_error;
};

class IdentityStore {
 public:
  static constexpr const char* kFileName = "identities.jsonl";
  // After a change wakes it, the writer waits this long for more before it writes (group
  // commit: a bulk of 100 000 identities is a few writes, and the writer does not compete for
  // the CPU with the control-plane thread that applies them).
  static constexpr int kCommitDelayMs = 50;

  // Reads dir/identities.jsonl (missing: none) and starts the writer. Each stored line is
  // checked as a bulk line under the current configuration; a line refused now (e.g. its
  // address left the pools, or became a static subscriber: `skip` says so) is dropped, and
  // counted in `dropped` with the first reason.
  struct Loaded {
    std::vector<IdentityRequest> identities;
    size_t dropped = 0;
    std::string first_reason;
  };
  static Result<std::unique_ptr<IdentityStore>> open(const std::string& dir, const Config& config,
                                                     const CountingPlan& plan, Loaded& loaded);
  ~IdentityStore();  // close()

  // The identity of `key` is now `line` (identityJsonLine) / has none. O(1), no I/O.
  void put(const IpAddress& key, std::string line);
  void remove(const IpAddress& key);
  // Waits until everything handed over is written (or a write failed), then stops the writer.
  void close();
  // Waits until everything handed over so far is written or a write failed (tests, bench).
  bool sync();

  IdentityStoreStats stats() const;

 private:
  IdentityStore(std::string dir, std::map<std::string, std::string> initial);
  void writerMain();

  const std::string dir_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // wakes the writer
  std::condition_variable done_cv_;  // a write finished
  std::vector<std::pair<std::string, std::string>> queue_;  // (key text, line; "" = remove)
  uint64_t handed_ = 0;   // changes handed over
  uint64_t written_ = 0;  // ... of which are in the file
  bool stop_ = false;
  IdentityStoreStats stats_;
  std::map<std::string, std::string> mirror_;  // the writer's copy: key text -> line
  std::thread writer_;
};

}  // namespace tally
