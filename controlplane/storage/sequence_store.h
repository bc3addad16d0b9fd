#pragma once
// Numbers that never repeat across restarts: localSequenceNumber, chargingID and the CDR file
// sequence number, persisted in a small state file (<node.state_dir>/.tally-sequence; never in
// the CF card directory, which a transfer sweeps).
//
// Block reservation: the state file holds, per counter, a ceiling above every number handed
// out. Numbers below the ceiling are handed out from memory; when half of the reserved block is
// used, the next ceiling (+block) is written (temporary file, fsync, rename, directory fsync).
// A restart - clean or after kill -9 - continues at the stored ceiling: numbers may skip (at
// most one block per restart), they never repeat. A clean shutdown stores the exact next values.
//
// Not thread-safe: the control-plane thread owns it.
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "controlplane/charging/charging.h"
#include "shared/result.h"

namespace tally {

class SequenceStore : public SequenceSource {
 public:
  static constexpr uint64_t kDefaultBlock = 1000;
  static constexpr const char* kFileName = ".tally-sequence";

  // Opens (or creates, with its directory) the state file and reserves the first block. A
  // corrupt or unreadable state file is an error naming the file: counting never silently
  // restarts from 1.
  static Result<std::unique_ptr<SequenceStore>> open(const std::string& path,
                                                     uint64_t block = kDefaultBlock);
  // Upgrade from releases that kept the state file in the CF card directory. When
  // `legacy_path` exists it is moved to `path` durably: written into path's directory (created
  // 0750; tmp, fsync, rename, fsync), then the legacy file is removed (and its directory
  // fsync'd). When both exist, each counter keeps the higher ceiling, so no number repeats.
  // Both files are checked as open() checks them: a corrupt one is an error naming it, and
  // nothing is changed. Returns what was done, to be logged once ("" when nothing was to do:
  // no legacy file, or it is `path` itself).
  static Result<std::string> adoptLegacyFile(const std::string& path,
                                             const std::string& legacy_path);
  // Stores the exact next values (best effort).
  ~SequenceStore() override;

  SequenceStore(const SequenceStore&) = delete;
  SequenceStore& operator=(const SequenceStore&) = delete;

  // > LocalSequenceNumber ::= INTEGER (0..4294967295): 1, 2, 3 ...; after 2^32-1 it wraps to 1.
  uint64_t nextLocalSequence() override;
  // > ChargingID ::= INTEGER (0..4294967295): never 0; wraps within uint32, skipping 0.
  uint32_t nextChargingId() override;
  // TS 32.297 file sequence number: 1 .. 99999999 (8 digits in the file name), then wraps to 1.
  uint32_t nextFileSequence();

  // After a crash, the bill journal knows the last localSequenceNumber and file sequence number
  // that made it into a committed bill or file; the numbers reserved above them were never
  // used durably. Continues right after them when they lie within the last reserved block
  // (so a kill -9 leaves no gap), else keeps the reservation. 0 = not known. When a counter
  // moves back, the lower reservation (next + block) is stored too, so that any number of
  // crashes in a row leaves no gap. Returns a line to log ("" when nothing changed).
  std::string resumeAfter(uint64_t last_local, uint32_t last_file);

  // Stores the exact next values now (a clean shutdown does this in the destructor).
  Result<bool> flush();

  const std::string& path() const { return path_; }
  uint64_t persistErrors() const { return persist_errors_; }
  // Numbers handed out above the last stored ceiling because storing failed (they could repeat
  // after a crash; docs/cdr-format.md).
  uint64_t unsafeNumbers() const { return unsafe_numbers_; }
  const std::string& lastError() const { return last_error_; }

 private:
  enum Index { kLocal = 0, kCharging = 1, kFile = 2, kCount = 3 };
  struct Counter {
    uint64_t next = 1;     // raw 64-bit counter, never decreases
    uint64_t ceiling = 1;  // stored: every raw value handed out is below it
  };

  SequenceStore(std::string path, uint64_t block) : path_(std::move(path)), block_(block) {}
  uint64_t take(Index i);
  Result<bool> store(const uint64_t ceilings[kCount]);
  // store() and, when it worked, the new ceilings in force; a failure is counted and kept.
  bool reserveCeilings(const uint64_t reserve[kCount]);

  std::string path_;
  uint64_t block_;
  Counter counters_[kCount];
  uint64_t persist_errors_ = 0;
  uint64_t unsafe_numbers_ = 0;
  uint64_t retry_countdown_ = 0;
  bool opened_ = false;  // the destructor stores only what a successful open() started
  std::string last_error_;
};

}  // namespace tally
