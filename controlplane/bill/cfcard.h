#pragma once
// The CF card: the flash directory where bill files (TS 32.297 .cdr, or .csv) wait for the bill
// server (local_aaa_server.local_bill.cfcard). It knows what is there (files, bytes, bills) and
// the configured capacity, and does the operator's deletions (reset, drop-oldest). Writing a
// bill file is FlashBillStore's (storage/bill_store.h); uploading is the transfer worker's
// (transfer.h); both tell the CF card what they added or removed.
//
// One daemon per CF card: open() takes an exclusive lock (flock) on <dir>/.tally.lock and keeps
// it for the life of the object; a second tallyd on the same directory is refused with a message
// naming the directory and the holder's pid. DirectoryLock does the same for node.state_dir.
//
// Bill files are the names ending in .cdr or .csv (not .tmp, .part, .broken or .xfer); the
// number of bills in a file is read from its TS 32.297 header (octets 18-21: number of CDRs) or,
// for .csv, its line count minus the header line.
//
// Thread-safe: every method may be called from any thread (one mutex).
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "shared/result.h"

namespace tally::bill {

// An exclusive flock on <dir>/.tally.lock (created 0640), held until destruction. The lock file
// holds the holder's pid (for the refusal message).
class DirectoryLock {
 public:
  // Error when another process holds it: "<what> <dir> is in use by another tallyd (pid N)".
  static Result<std::unique_ptr<DirectoryLock>> acquire(const std::string& dir,
                                                        const std::string& what);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

struct CfCardFile {
  std::string name;
  uint64_t bytes = 0;
  uint64_t bills = 0;
  // The octets of its records, when the writer knows them (else read from the file when
  // drop-oldest deletes it).
  bool usage_known = false;
  uint64_t ul_octets = 0;
  uint64_t dl_octets = 0;
};

struct CfCardUsage {
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t bills = 0;
  std::optional<uint64_t> capacity_bytes;  // none: no limit configured
  // bytes * 100 / capacity (0 when no capacity)
  uint32_t percent() const;
};

struct CfCardDeletion {
  uint64_t files = 0;               // bill files (.cdr, .csv) deleted
  uint64_t bytes = 0;               // of those bill files
  uint64_t bills = 0;               // in those bill files
  uint64_t ul_octets = 0;           // dropOldest(): the usage in those files (their records'
  uint64_t dl_octets = 0;           // traffic volumes), for the conservation balance
  std::vector<std::string> names;   // the bill files deleted
  uint64_t side_files = 0;          // reset(): sidecars (.xfer) and leftover .tmp deleted too
};

class CfCard {
 public:
  // Creates the directory (0750) when missing, locks it, scans its bill files. An error names
  // the directory (cannot create, not writable, locked by another daemon).
  static Result<std::unique_ptr<CfCard>> open(const std::string& dir,
                                              std::optional<uint64_t> capacity_bytes);

  const std::string& dir() const { return dir_; }
  CfCardUsage usage() const;
  // Would `bytes` more exceed the capacity? (false when no capacity is set)
  bool wouldExceed(uint64_t bytes) const;
  // Bill files, oldest first (by the file sequence in the name, then by name).
  std::vector<CfCardFile> files() const;

  // Bookkeeping after a bill file was stored / delivered and deleted by someone else.
  void added(const CfCardFile& f);
  void removed(const std::string& name);

  // `local-bill cfcard reset`: deletes every bill file (and transfer sidecars .cdr.xfer /
  // .csv.xfer, leftover .cdr.tmp / .csv.tmp / .xfer.tmp) in the directory, durably (one fsync
  // of the directory); never anything else (.tally.lock, .broken, foreign files stay). Returns
  // what was deleted; an error when an entry could not be removed (the others are gone).
  Result<CfCardDeletion> reset();
  // drop-oldest: deletes the oldest bill files (and their sidecars) until `need_bytes` more fit
  // under the capacity (or none is left); nothing without a capacity. Files in `busy` (being
  // uploaded; "dir/name" as TransferWorker::busyPaths() gives them, or plain names) are
  // skipped.
  Result<CfCardDeletion> dropOldest(uint64_t need_bytes, const std::vector<std::string>& busy);

  // Bills in one bill file, read from its header (0 when unreadable).
  static uint64_t billsInFile(const std::string& path);

 private:
  CfCard(std::string dir, std::optional<uint64_t> capacity, std::unique_ptr<DirectoryLock> lock)
      : dir_(std::move(dir)), capacity_(capacity), lock_(std::move(lock)) {}
  const std::string dir_;
  const std::optional<uint64_t> capacity_;
  std::unique_ptr<DirectoryLock> lock_;
  mutable std::mutex mu_;
  std::vector<CfCardFile> files_;  // guarded by mu_
};

}  // namespace tally::bill
