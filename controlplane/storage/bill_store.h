#pragma once
// The bill-storage seam: where finished bill files (TS 32.297 CDR files, or CSV) go. The CDR
// file writer (cdr_file.h) builds a file's bytes when it closes and hands them to a BillStore;
// it never calls the file system itself.
//
// Contract (what the writer relies on, and what any store behind the seam must keep):
// - store() takes a whole file or nothing. ok: the file is durable under `name` and a reader
//   (billing domain, transfer) will only ever see it complete. An error (naming the file and
//   the system error): nothing was taken; the writer keeps the file in memory, counts the
//   error and offers the same name and bytes again later (older files first).
// - The bytes are only borrowed for the call: a store that keeps them must copy them.
// - Recovery at start: leftovers() names the bills whose storing a crash interrupted; the
//   writer reads each, checks it, and either finishes it under its name or sets it aside for
//   the operator. A leftover is never deleted.
// - Errors are status values (Result), never exceptions. Control-plane thread only: a store is
//   not thread-safe towards its caller.
//
// Today's store, FlashBillStore, writes synchronously to the CF card directory (durable_file.h:
// tmp, fsync, rename, fsync of the directory), so store() blocks the poll for the disk. The
// seam is shaped so that the next step can put a journal behind it and move the disk work off
// the poll: a journaled store copies the bytes into its bounded journal and returns ok at once
// (the bill is then the journal's to make durable and to place on the card from a thread of
// its own); it returns an error when the journal is full, which the writer already handles by
// keeping the file pending and retrying. The writer's own bound (kMaxPendingFiles) stays the
// back-pressure above the seam.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "shared/result.h"

namespace tally {

class BillStore {
 public:
  virtual ~BillStore() = default;

  // Where the bills go, for messages and views (e.g. the CF card directory).
  virtual const std::string& location() const = 0;

  // Takes one finished bill file under `name` (a plain file name, no directory), whole.
  virtual Result<bool> store(const std::string& name, std::span<const uint8_t> bytes) = 0;

  // Names (final names, e.g. "gw_20240517100000_00000001.cdr") of bills a crash left half
  // stored, in no particular order.
  virtual Result<std::vector<std::string>> leftovers() = 0;
  // What a leftover holds (possibly incomplete).
  virtual Result<std::vector<uint8_t>> readLeftover(const std::string& name) = 0;
  // Completes a leftover that was checked whole: from now on it is a stored bill `name`.
  virtual Result<bool> finishLeftover(const std::string& name) = 0;
  // Sets a leftover aside for the operator (never deleted); it is no longer a leftover.
  virtual Result<bool> setAsideLeftover(const std::string& name) = 0;
};

using BillStorePtr = std::unique_ptr<BillStore>;

// The CF card directory (local_bill.cfcard_path). A bill is written as <name>.tmp, fsync'd,
// renamed to <name>, and the directory fsync'd. Leftovers are <name>.tmp files of bills
// (.cdr.tmp, .csv.tmp); finishing fsyncs and renames one, setting aside renames it to
// <name>.tmp.broken. Other files in the directory are not its business.
class FlashBillStore final : public BillStore {
 public:
  // Creates the directory (mode 0750, with missing parents) when needed and checks that files
  // can be created in it. An error names the directory.
  static Result<std::unique_ptr<FlashBillStore>> open(const std::string& dir);

  const std::string& location() const override { return dir_; }
  Result<bool> store(const std::string& name, std::span<const uint8_t> bytes) override;
  Result<std::vector<std::string>> leftovers() override;
  Result<std::vector<uint8_t>> readLeftover(const std::string& name) override;
  Result<bool> finishLeftover(const std::string& name) override;
  Result<bool> setAsideLeftover(const std::string& name) override;

 private:
  explicit FlashBillStore(std::string dir) : dir_(std::move(dir)) {}
  const std::string dir_;
};

}  // namespace tally
