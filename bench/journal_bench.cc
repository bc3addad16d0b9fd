// The bill journal under load (a small tool, not Google Benchmark: it runs for seconds and
// reports the journal's own figures). One thread appends 400-octet entries for N seconds on a
// directory of the real disk, either as fast as it can or at a set rate, and prints:
//   - entries committed per second,
//   - the append -> durable delay median / p99 / max (JournalStats),
//   - the longest single append() call, and how many took over 100 us (the caller must never
//     wait for the disk), and how many appends were refused (buffer full: back-pressure).
// Target (docs/storage.md): >= 100 k entries/s with a p99 delay <= 20 ms.
//
//   journal_bench [--seconds N] [--rate ENTRIES_PER_S (0: as fast as possible)] [--payload N]
//                 [--dir DIR (default: a fresh directory under /var/tmp)] [--buffer-mb N]
//                 [--delay-ms N (commit delay)] [--fifo (the appending thread SCHED_FIFO, to
//                 tell preemption by other threads from waiting in append())] [--keep]
#include <sched.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/bill/journal.h"

namespace {

int64_t nowNs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

double ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

}  // namespace

int main(int argc, char** argv) {
  double seconds = 10;
  double rate = 0;
  size_t payload_bytes = 400;
  std::string dir;
  uint64_t buffer_mb = 256;
  double delay_ms = 5;
  bool keep = false;
  bool fifo = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seconds") {
      seconds = std::stod(next());
    } else if (a == "--rate") {
      rate = std::stod(next());
    } else if (a == "--payload") {
      payload_bytes = std::stoul(next());
    } else if (a == "--dir") {
      dir = next();
    } else if (a == "--buffer-mb") {
      buffer_mb = std::stoull(next());
    } else if (a == "--delay-ms") {
      delay_ms = std::stod(next());
    } else if (a == "--fifo") {
      fifo = true;
    } else if (a == "--keep") {
      keep = true;
    } else {
      std::fprintf(stderr, "unknown argument %s (see the comment at the top of %s)\n", a.c_str(),
                   __FILE__);
      return 2;
    }
  }
  if (dir.empty()) {
    char tmpl[] = "/var/tmp/tally-journal-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = tmpl;
  }
  struct statfs fs;
  if (::statfs(std::filesystem::path(dir).parent_path().c_str(), &fs) == 0 &&
      fs.f_type == 0x01021994 /* TMPFS_MAGIC */) {
    std::fprintf(stderr, "warning: %s is on tmpfs: fdatasync is free there\n", dir.c_str());
  }

  tally::bill::JournalOptions o;
  o.dir = dir + "/journal";
  o.buffer_bytes = buffer_mb << 20;
  o.commit_delay_ns = static_cast<int64_t>(delay_ms * 1e6);
  auto opened = tally::bill::Journal::open(o, nullptr);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().message.c_str());
    return 1;
  }
  auto& j = *opened;
  std::vector<uint8_t> payload(payload_bytes);
  for (size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<uint8_t>(i * 7);
  }

  if (fifo) {
    // After open(): the commit thread stays SCHED_OTHER.
    struct sched_param sp = {};
    sp.sched_priority = 10;
    if (::sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
      std::perror("sched_setscheduler SCHED_FIFO");
      return 1;
    }
  }
  // The machine's own noise first: the longest of a 421-octet memcpy timed the same way, over
  // one second with nothing else of ours running (preemption, page faults, interrupts).
  int64_t noise_longest = 0;
  uint64_t noise_slow = 0;
  {
    std::vector<uint8_t> sink(1 << 20);
    size_t at = 0;
    const int64_t noise_end = nowNs() + 1'000'000'000;
    for (int64_t t = nowNs(); t < noise_end;) {
      const int64_t t0 = nowNs();
      std::memcpy(sink.data() + at, payload.data(), payload.size());
      at = (at + payload.size() + 21) % (sink.size() - payload.size());
      t = nowNs();
      noise_longest = std::max(noise_longest, t - t0);
      noise_slow += t - t0 > 100'000 ? 1 : 0;
    }
  }

  uint64_t refused = 0, slow_calls = 0, calls = 0;
  int64_t longest = 0;
  const int64_t start = nowNs();
  const int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  const auto first_committed = j->committed();
  int64_t now = start;
  while (now < end) {
    if (rate > 0) {
      // Paced: the entries due by now (in bursts, like a poll loop).
      const uint64_t due = static_cast<uint64_t>(static_cast<double>(now - start) * rate / 1e9);
      if (calls >= due) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
        now = nowNs();
        continue;
      }
    }
    const int64_t t0 = nowNs();
    auto r = j->append(1, payload);
    now = nowNs();
    ++calls;
    longest = std::max(longest, now - t0);
    if (now - t0 > 100'000) {
      ++slow_calls;
    }
    if (!r) {
      ++refused;
      std::this_thread::yield();
    }
  }
  const uint64_t appended_in_run = j->lastAppended() - first_committed;
  const int64_t drain_start = nowNs();
  const bool drained = j->waitCommitted(j->lastAppended(), 60'000'000'000);
  const int64_t drain_end = nowNs();
  const auto s = j->stats();
  const double run_s = static_cast<double>(drain_end - start) / 1e9;
  std::printf("journal_bench: %s, %zu-octet payloads, %s, %.1f s (+ %.2f s to drain)\n",
              o.dir.c_str(), payload_bytes,
              rate > 0 ? ("paced at " + std::to_string(static_cast<uint64_t>(rate)) + "/s").c_str()
                       : "as fast as possible",
              seconds, static_cast<double>(drain_end - drain_start) / 1e9);
  std::printf(
      "  appended %llu, committed %llu%s: %.0f entries/s committed (%.1f MB/s), "
      "%llu fdatasync batches (%.0f entries each)\n",
      static_cast<unsigned long long>(appended_in_run),
      static_cast<unsigned long long>(s.committed - first_committed),
      drained ? "" : " (NOT drained)", static_cast<double>(s.committed - first_committed) / run_s,
      static_cast<double>(s.bytes_written) / run_s / 1e6,
      static_cast<unsigned long long>(s.commits),
      s.commits
          ? static_cast<double>(s.committed - first_committed) / static_cast<double>(s.commits)
          : 0.0);
  std::printf("  append -> durable delay: median %.2f ms, p99 %.2f ms, max %.2f ms\n",
              ms(s.delay_p50_ns), ms(s.delay_p99_ns), ms(s.delay_max_ns));
  std::printf(
      "  append() calls %llu: longest %.1f us, %llu over 100 us, %llu refused (buffer "
      "full)\n",
      static_cast<unsigned long long>(calls), static_cast<double>(longest) / 1e3,
      static_cast<unsigned long long>(slow_calls), static_cast<unsigned long long>(refused));
  std::printf(
      "  (baseline, no journal: a timed memcpy of the same size over 1 s: longest %.1f "
      "us, %llu over 100 us)\n",
      static_cast<double>(noise_longest) / 1e3, static_cast<unsigned long long>(noise_slow));
  std::printf("  write errors %llu, segments %llu, %.1f MB on disk\n",
              static_cast<unsigned long long>(s.write_errors),
              static_cast<unsigned long long>(s.segments), static_cast<double>(s.disk_bytes) / 1e6);
  j.reset();
  if (!keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return drained ? 0 : 1;
}
