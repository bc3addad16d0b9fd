#pragma once
// The transfer worker: a thread of its own that uploads bill files (from the CF card, or from
// the outbox for bills that go straight from the pool to the server) through a Transport
// (transport.h), with retries and capped exponential backoff. A dead or stopped server never
// stalls counting, polling or the control socket: nothing here is called from those paths
// except the non-blocking enqueue()/kick()/status().
//
// Exactly once at the server:
// - Before the first attempt of a file, its remote name is fixed and stored durably in a
//   sidecar <local>.xfer (durable_file.h); every later attempt, also after a restart, uses the
//   name in the sidecar. Remote names: <stem>-<YYYYMMDDhhmmss><NNN>.<ext> (local time of the
//   first attempt, NNN 000-999 counting files named in the same second; ext of the local file).
//   Never the second the worker was made in (its first attempt waits for the next second): a
//   daemon killed and started again within one second would otherwise name files like the one
//   before it, and a file already on the server under the name with the same size counts as
//   delivered (its bills lost), another size fails for ever.
// - Only after the Transport says ok / already-there is the local file deleted (then its
//   sidecar, then the directory fsync'd), and on_delivered called.
// - A file whose attempt failed stays queued; the next attempt is after the backoff
//   (min_backoff, doubling per consecutive failure of the worker, capped at max_backoff);
//   kick() (manual backup) makes the next attempt now. A failed file goes behind the other
//   queued files (one file the server refuses does not hold back the rest).
// - Statuses the operator has to fix (transferRetryable() false: host key, auth, local, too
//   large) are retried too, but after max_backoff; on_failed is called for every failed attempt.
// - A job whose local file no longer exists (deleted by `cfcard reset`) is dropped from the
//   queue with its sidecar, noted in last_file / last_detail (last_status kLocal), without a
//   callback and without counting as a failure.
//
// Threads: enqueue(), kick(), status() from any thread; callbacks run on the worker thread,
// without the worker's mutex held (they may call status()).
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "controlplane/bill/transport.h"
#include "shared/timezone.h"

namespace tally::bill {

struct TransferJob {
  std::string dir;          // where the local file is (CF card directory or outbox)
  std::string name;         // local file name
  std::string stem;         // remote name stem (bill_server.filename or the NAME of a manual
                            // backup); ignored when the file already has a sidecar
  uint64_t bytes = 0;
  uint64_t bills = 0;
};

struct TransferPolicy {
  int64_t min_backoff_ns = 1'000'000'000;     // after the first failure
  int64_t max_backoff_ns = 300'000'000'000;   // cap
};

struct TransferStatusView {
  uint64_t queued_files = 0;        // waiting, including the one in flight
  uint64_t queued_bytes = 0;
  bool in_flight = false;
  uint64_t delivered_files = 0;
  uint64_t delivered_bytes = 0;
  uint64_t delivered_bills = 0;
  uint64_t already_there = 0;       // of the delivered, found on the server already
  uint64_t attempts = 0;
  uint64_t failures = 0;
  uint32_t consecutive_failures = 0;
  bool failing = false;             // the last attempt failed (cleared by a success)
  int64_t last_attempt_unix_ns = 0; // 0: none yet
  std::string last_file;
  TransferStatus last_status = TransferStatus::kOk;
  std::string last_detail;          // never a secret
  int64_t next_attempt_unix_ns = 0; // 0: nothing waiting
};

class TransferWorker {
 public:
  using Delivered = std::function<void(const TransferJob&, const TransferResult&,
                                       const std::string& remote_name)>;
  using Failed = std::function<void(const TransferJob&, const TransferResult&)>;
  // wall_ns: the wall clock in unix nanoseconds (injected for tests).
  TransferWorker(std::unique_ptr<Transport> transport, TimeZonePtr tz, TransferPolicy policy,
                 std::function<int64_t()> wall_ns, Delivered on_delivered, Failed on_failed);
  // Stops the thread: the upload in flight ends within its step deadline; queued files stay on
  // disk (with their sidecars) for the next start.
  ~TransferWorker();

  // Queues a file (ignored when the same dir/name is already queued).
  void enqueue(TransferJob job);
  // Next attempt now, also for a worker in backoff.
  void kick();
  TransferStatusView status() const;
  // Local names (dir/name) not to be deleted by drop-oldest: the head of the queue (in flight
  // or next). Files queued behind it may be deleted; the worker then drops them (kGone).
  std::vector<std::string> busyPaths() const;
  const char* protocol() const { return transport_->protocol(); }

  // The remote name for the first attempt (exposed for tests).
  static std::string remoteName(const std::string& stem, const LocalTime& t, unsigned nnn,
                                const std::string& local_name);

 private:
  void run();
  std::unique_ptr<Transport> transport_;
  TimeZonePtr tz_;
  TransferPolicy policy_;
  std::function<int64_t()> wall_ns_;
  Delivered on_delivered_;
  Failed on_failed_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<TransferJob> queue_;
  TransferStatusView status_;
  bool kicked_ = false;
  bool stop_ = false;
  int64_t name_second_ = 0;
  unsigned name_counter_ = 0;
  LocalTime last_local_{};         // the time shown in the last name
  std::string last_local_name_;    // the same as YYYYMMDDhhmmss ("" before the first name)
  int64_t first_name_second_ = 0;  // the second after the one the worker was made in
  bool first_second_waited_ = false;
  std::thread thread_;  // last: started when everything above is set
};

}  // namespace tally::bill
