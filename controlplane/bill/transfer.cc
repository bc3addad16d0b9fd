#include "controlplane/bill/transfer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>

#include "controlplane/log.h"
#include "controlplane/storage/durable_file.h"
#include "controlplane/time_format.h"

namespace tally::bill {
namespace {

using Steady = std::chrono::steady_clock;

constexpr const char* kSidecarSuffix = ".xfer";
constexpr size_t kSidecarLimit = 4096;

bool plainName(const std::string& n) {
  return !n.empty() && n != "." && n != ".." && n.find('/') == std::string::npos &&
         n.find('\0') == std::string::npos && n.find('\n') == std::string::npos;
}

int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// The wait after `consecutive` (>= 1) failures in a row: min doubled per failure, capped; the cap
// at once after a failure the operator has to fix (the server may be fixed meanwhile).
int64_t backoffNs(const TransferPolicy& p, uint32_t consecutive, bool retryable) {
  if (!retryable) {
    return p.max_backoff_ns;
  }
  int64_t d = p.min_backoff_ns;
  for (uint32_t i = 1; i < consecutive && d < p.max_backoff_ns; ++i) {
    d = d > p.max_backoff_ns / 2 ? p.max_backoff_ns : d * 2;
  }
  return std::min(d, p.max_backoff_ns);
}

std::string secondsText(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f s", static_cast<double>(ns) / 1e9);
  return buf;
}

enum class Outcome { kDelivered, kFailed, kGone };

// What one attempt came to (worked out without the lock).
struct Attempt {
  Outcome outcome = Outcome::kFailed;
  TransferResult result;
  std::string remote_name;
};

TransferResult localFailure(std::string detail) {
  TransferResult r;
  r.status = TransferStatus::kLocal;
  r.detail = std::move(detail);
  return r;
}

}  // namespace

std::string TransferWorker::remoteName(const std::string& stem, const LocalTime& t, unsigned nnn,
                                       const std::string& local_name) {
  size_t dot = local_name.rfind('.');
  std::string ext = dot == std::string::npos ? std::string() : local_name.substr(dot);
  char counter[16];
  std::snprintf(counter, sizeof(counter), "%03u", nnn);
  return stem + "-" + compactLocalTime(t) + counter + ext;
}

TransferWorker::TransferWorker(std::unique_ptr<Transport> transport, TimeZonePtr tz,
                               TransferPolicy policy, std::function<int64_t()> wall_ns,
                               Delivered on_delivered, Failed on_failed)
    : transport_(std::move(transport)),
      tz_(tz ? std::move(tz) : TimeZone::utc()),
      policy_(policy),
      wall_ns_(std::move(wall_ns)),
      on_delivered_(std::move(on_delivered)),
      on_failed_(std::move(on_failed)) {
  policy_.min_backoff_ns = std::max<int64_t>(policy_.min_backoff_ns, 1);
  policy_.max_backoff_ns = std::max(policy_.max_backoff_ns, policy_.min_backoff_ns);
  // The daemon before this one (killed, restarted at once) may have named files in this very
  // second, with counters this worker cannot know: its names start at the next second, and
  // the first attempt waits for it (run()), so that no name is ever ahead of the clock.
  first_name_second_ = floorDiv(wall_ns_(), 1'000'000'000) + 1;
  thread_ = std::thread([this] { run(); });
}

TransferWorker::~TransferWorker() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void TransferWorker::enqueue(TransferJob job) {
  {
    std::lock_guard lk(mu_);
    for (const auto& q : queue_) {
      if (q.dir == job.dir && q.name == job.name) {
        return;
      }
    }
    ++status_.queued_files;
    status_.queued_bytes += job.bytes;
    queue_.push_back(std::move(job));
  }
  cv_.notify_all();
}

void TransferWorker::kick() {
  {
    std::lock_guard lk(mu_);
    kicked_ = true;
  }
  cv_.notify_all();
}

TransferStatusView TransferWorker::status() const {
  std::lock_guard lk(mu_);
  return status_;
}

std::vector<std::string> TransferWorker::busyPaths() const {
  // Only the head of the queue: the file being uploaded or the next to be (the worker takes
  // files from the head alone, and after a failure waits its backoff before the next one).
  // Files further back may be deleted (drop-oldest): the worker drops a vanished file from the
  // queue when it gets to it. Protecting every queued file would protect all of them once the
  // fill threshold queued the whole card, and drop-oldest could then free nothing.
  std::lock_guard lk(mu_);
  std::vector<std::string> v;
  if (!queue_.empty()) {
    v.push_back(queue_.front().dir + "/" + queue_.front().name);
  }
  return v;
}

void TransferWorker::run() {
  Steady::time_point next_attempt = Steady::now();
  std::unique_lock lk(mu_);
  while (!stop_) {
    if (queue_.empty()) {
      status_.next_attempt_unix_ns = 0;
      cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      continue;
    }
    if (kicked_) {
      kicked_ = false;
      next_attempt = Steady::now();
    }
    const Steady::time_point now = Steady::now();
    if (now < next_attempt) {
      status_.next_attempt_unix_ns =
          wall_ns_() +
          std::chrono::duration_cast<std::chrono::nanoseconds>(next_attempt - now).count();
      cv_.wait_until(lk, next_attempt, [&] { return stop_ || kicked_; });
      continue;
    }

    if (!first_second_waited_) {
      first_second_waited_ = true;
      const int64_t wait_ns = first_name_second_ * 1'000'000'000 - wall_ns_();
      if (wait_ns > 0) {
        cv_.wait_for(lk, std::chrono::nanoseconds(wait_ns + 2'000'000), [&] { return stop_; });
        continue;
      }
    }

    const TransferJob job = queue_.front();
    status_.in_flight = true;
    status_.next_attempt_unix_ns = 0;
    lk.unlock();

    // ----- one attempt, without the lock -----
    const std::string path = job.dir + "/" + job.name;
    const std::string sidecar = job.name + kSidecarSuffix;
    const std::string sidecar_path = path + kSidecarSuffix;
    Attempt a;
    auto exists = fileExists(path);
    if (exists && !exists.value()) {
      a.outcome = Outcome::kGone;
    } else if (!exists) {
      a.result = localFailure(exists.error().message);
    } else {
      // The remote name: from the sidecar, or fixed now and stored before the first attempt.
      auto has_sidecar = fileExists(sidecar_path);
      if (!has_sidecar) {
        a.result = localFailure(has_sidecar.error().message);
      } else if (has_sidecar.value()) {
        auto text = readFileWhole(sidecar_path, kSidecarLimit);
        if (!text) {
          a.result = localFailure(text.error().message);
        } else {
          std::string n = text.value();
          while (!n.empty() && (n.back() == '\n' || n.back() == '\r' || n.back() == ' ')) {
            n.pop_back();
          }
          if (plainName(n)) {
            a.remote_name = n;
          } else {
            a.result = localFailure(sidecar_path + ": does not hold a plain remote file name");
          }
        }
      } else {
        int64_t s = std::max(floorDiv(wall_ns_(), 1'000'000'000), first_name_second_);
        if (s < name_second_) {
          s = name_second_;  // the wall clock went back: never reuse a name of this run
        }
        // Names are made of local time, which repeats (the hour when daylight saving time
        // ends): within this run every name's time and counter must come after the last one's,
        // compared as the name shows them, not as UTC seconds.
        LocalTime local = tz_->toLocal(s);
        if (!last_local_name_.empty() &&
            compactLocalTime(local) <= last_local_name_) {
          if (++name_counter_ > 999) {
            // 1000 names at one shown time: the first second whose local time is later.
            do {
              local = tz_->toLocal(++s);
            } while (compactLocalTime(local) <= last_local_name_);
            name_counter_ = 0;
          } else {
            local = last_local_;
          }
        } else {
          name_counter_ = 0;
        }
        name_second_ = s;
        last_local_ = local;
        last_local_name_ = compactLocalTime(local);
        std::string n = remoteName(job.stem, local, name_counter_, job.name);
        if (!plainName(n)) {
          a.result = localFailure("remote name '" + n + "' is not a plain file name");
        } else {
          std::string text = n + "\n";
          auto w = writeFileDurably(
              job.dir, sidecar,
              std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
          if (w) {
            a.remote_name = n;
          } else {
            a.result = localFailure(w.error().message);
          }
        }
      }
      if (!a.remote_name.empty()) {
        {
          std::lock_guard g(mu_);
          ++status_.attempts;
          status_.last_attempt_unix_ns = wall_ns_();
          status_.last_file = job.name;
        }
        a.result = transport_->upload(path, a.remote_name);
        if (a.result.ok()) {
          // The server holds it whole: local file, then its sidecar (a crash in between leaves
          // the sidecar alone, harmless), each removal fsync'd.
          auto rm = removeDurably(job.dir, job.name);
          auto still = fileExists(path);
          if (!rm && (!still || still.value())) {
            a.result = localFailure("delivered as " + a.remote_name +
                                    " but the local copy stays: " + rm.error().message);
          } else {
            if (!rm) {
              fsyncDirectory(job.dir);  // gone already (reset): make that durable too
            }
            auto rs = removeDurably(job.dir, sidecar);
            if (!rs) {
              logWarn("transfer: " + rs.error().message);
            }
            a.outcome = Outcome::kDelivered;
          }
        } else {
          auto still = fileExists(path);
          if (still && !still.value()) {
            a.outcome = Outcome::kGone;
          }
        }
      }
    }
    if (a.outcome == Outcome::kGone) {
      auto side = fileExists(sidecar_path);
      if (side && side.value()) {
        removeDurably(job.dir, sidecar);
      }
    }

    // ----- the bookkeeping, under the lock -----
    lk.lock();
    status_.in_flight = false;
    auto it = std::find_if(queue_.begin(), queue_.end(), [&](const TransferJob& q) {
      return q.dir == job.dir && q.name == job.name;
    });
    auto pop = [&] {
      if (it != queue_.end()) {
        --status_.queued_files;
        status_.queued_bytes -= std::min(status_.queued_bytes, it->bytes);
        queue_.erase(it);
      }
    };
    status_.last_file = job.name;
    if (a.outcome == Outcome::kDelivered) {
      pop();
      bool was_failing = status_.failing;
      ++status_.delivered_files;
      status_.delivered_bytes += job.bytes;
      status_.delivered_bills += job.bills;
      if (a.result.status == TransferStatus::kAlreadyThere) {
        ++status_.already_there;
      }
      status_.consecutive_failures = 0;
      status_.failing = false;
      status_.last_status = a.result.status;
      status_.last_detail = a.result.detail;
      next_attempt = Steady::now();
      lk.unlock();
      if (was_failing) {
        logInfo("transfer (" + std::string(transport_->protocol()) + "): delivering again, " +
                job.name + " as " + a.remote_name);
      }
      if (on_delivered_) {
        on_delivered_(job, a.result, a.remote_name);
      }
      lk.lock();
    } else if (a.outcome == Outcome::kGone) {
      pop();
      status_.last_status = TransferStatus::kLocal;
      status_.last_detail =
          path + " no longer exists (deleted on the card?): dropped from the queue";
      const std::string note = status_.last_detail;
      lk.unlock();
      logInfo("transfer: " + note);
      lk.lock();
    } else {
      // Failed: stays queued, behind the others (one file the server refuses does not hold
      // back the rest); the next attempt after the backoff.
      if (it != queue_.end()) {
        TransferJob again = std::move(*it);
        queue_.erase(it);
        queue_.push_back(std::move(again));
      }
      ++status_.failures;
      ++status_.consecutive_failures;
      status_.failing = true;
      status_.last_status = a.result.status;
      status_.last_detail = a.result.detail;
      const bool retryable = transferRetryable(a.result.status);
      const int64_t wait_ns = backoffNs(policy_, status_.consecutive_failures, retryable);
      next_attempt = Steady::now() + std::chrono::nanoseconds(wait_ns);
      const uint32_t consecutive = status_.consecutive_failures;
      lk.unlock();
      std::string msg = "transfer (" + std::string(transport_->protocol()) + ") of " + path +
                        (a.remote_name.empty() ? "" : " as " + a.remote_name) + " failed (" +
                        transferStatusName(a.result.status) + "): " + a.result.detail + "; " +
                        std::to_string(consecutive) + " in a row, next attempt in " +
                        secondsText(wait_ns);
      if (retryable) {
        logWarn(msg);
      } else {
        logAlarm(msg + " (needs the operator: server or configuration)");
      }
      if (on_failed_) {
        on_failed_(job, a.result);
      }
      lk.lock();
    }
  }
}

}  // namespace tally::bill
