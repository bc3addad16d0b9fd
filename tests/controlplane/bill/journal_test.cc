// The bill journal: round trips across segments, tickets across restarts, torn tails cut and
// reported, corruption refused, release of whole segments, back-pressure, a full disk, and
// a process killed at random moments losing nothing it saw committed.
#include "controlplane/bill/journal.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/fakes/temp_dir.h"

namespace tally::bill {
namespace {

namespace fs = std::filesystem;

struct Entry {
  Journal::Ticket ticket;
  uint8_t type;
  std::vector<uint8_t> payload;
};

// The payload the tests write for a ticket: its size and contents follow from the ticket.
std::vector<uint8_t> payloadFor(Journal::Ticket t, size_t max_size = 300) {
  std::vector<uint8_t> p((t * 37) % (max_size + 1));
  for (size_t i = 0; i < p.size(); ++i) {
    p[i] = static_cast<uint8_t>(t * 131 + i * 7);
  }
  return p;
}
uint8_t typeFor(Journal::Ticket t) { return static_cast<uint8_t>(t % 7); }

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void writeAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

class JournalTest : public ::testing::Test {
 protected:
  JournalOptions options(uint64_t segment_bytes = 64ull << 20) {
    JournalOptions o;
    o.dir = dir_;
    o.commit_delay_ns = 1'000'000;
    o.segment_bytes = segment_bytes;
    o.retry_interval_ns = 20'000'000;
    return o;
  }
  std::unique_ptr<Journal> openOk(const JournalOptions& o, std::vector<Entry>* seen = nullptr,
                                  JournalRecovery* rec = nullptr) {
    auto j = Journal::open(
        o,
        [&](Journal::Ticket t, uint8_t type, std::span<const uint8_t> p) {
          if (seen != nullptr) {
            seen->push_back({t, type, std::vector<uint8_t>(p.begin(), p.end())});
          }
        },
        rec);
    EXPECT_TRUE(j) << j.error().message;
    return j ? std::move(j.value()) : nullptr;
  }
  // Appends tickets lastAppended()+1 .. `upto` with the payloadFor() contents.
  void appendUpTo(Journal& j, Journal::Ticket upto, size_t max_size = 300) {
    while (j.lastAppended() < upto) {
      const auto t = j.lastAppended() + 1;
      auto r = j.append(typeFor(t), payloadFor(t, max_size));
      ASSERT_TRUE(r) << r.error().message;
      ASSERT_EQ(*r, t);
    }
  }
  void expectEntries(const std::vector<Entry>& seen, Journal::Ticket first, Journal::Ticket last,
                     size_t max_size = 300) {
    ASSERT_EQ(seen.size(), last + 1 - first);
    for (size_t i = 0; i < seen.size(); ++i) {
      const auto t = first + i;
      ASSERT_EQ(seen[i].ticket, t);
      ASSERT_EQ(seen[i].type, typeFor(t)) << "ticket " << t;
      ASSERT_EQ(seen[i].payload, payloadFor(t, max_size)) << "ticket " << t;
    }
  }
  std::vector<std::string> segments(const std::string& dir = "") {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir.empty() ? dir_ : dir)) {
      v.push_back(e.path().filename().string());
    }
    std::sort(v.begin(), v.end());
    return v;
  }
  static uint64_t firstOf(const std::string& name) {
    return std::stoull(name.substr(8, 16), nullptr, 16);
  }

  testing::TempDir tmp_{"tally-journal"};
  const std::string dir_ = tmp_.path() + "/journal";
};

TEST_F(JournalTest, RoundTripAcrossManySegments) {
  {
    auto j = openOk(options(4096));
    ASSERT_TRUE(j);
    EXPECT_EQ(j->lastAppended(), 0u);
    EXPECT_EQ(j->committed(), 0u);
    appendUpTo(*j, 3000);
    ASSERT_TRUE(j->waitCommitted(3000, 10'000'000'000));
    auto s = j->stats();
    EXPECT_EQ(s.appended, 3000u);
    EXPECT_EQ(s.committed, 3000u);
    EXPECT_EQ(s.buffered_bytes, 0u);
    EXPECT_GT(s.commits, 0u);
    EXPECT_EQ(s.segments, segments().size());
    uint64_t bytes = 0;
    for (const auto& n : segments()) {
      bytes += fs::file_size(dir_ + "/" + n);
      EXPECT_LE(fs::file_size(dir_ + "/" + n), 4096u) << n;
    }
    EXPECT_EQ(s.disk_bytes, bytes);
    EXPECT_EQ(s.write_errors, 0u);
    EXPECT_FALSE(s.failing);
    EXPECT_GT(s.delay_max_ns, 0);
    EXPECT_LE(s.delay_p50_ns, s.delay_p99_ns);
    EXPECT_LE(s.delay_p99_ns, s.delay_max_ns);
  }
  auto names = segments();
  EXPECT_GT(names.size(), 100u);
  EXPECT_EQ(names.front(), "journal-0000000000000001.log");
  std::vector<Entry> seen;
  JournalRecovery rec;
  auto j = openOk(options(4096), &seen, &rec);
  expectEntries(seen, 1, 3000);
  EXPECT_EQ(rec.entries, 3000u);
  EXPECT_EQ(rec.segments, names.size());
  EXPECT_EQ(rec.torn_bytes, 0u);
  EXPECT_EQ(rec.torn_segment, "");
  // The segments' names are their first tickets, consecutive with the entries in them.
  for (size_t i = 1; i < names.size(); ++i) {
    EXPECT_GT(firstOf(names[i]), firstOf(names[i - 1]));
  }
}

TEST_F(JournalTest, EmptyAndLargeEntries) {
  {
    auto j = openOk(options(4096));
    ASSERT_TRUE(j);
    EXPECT_EQ(*j->append(1, {}), 1u);
    std::vector<uint8_t> big(3u << 20, 0xAB);  // larger than a buffer chunk and a segment
    EXPECT_EQ(*j->append(2, big), 2u);
    EXPECT_EQ(*j->append(3, std::vector<uint8_t>{9}), 3u);
    std::vector<uint8_t> too_big(Journal::kMaxPayload + 1);
    auto r = j->append(4, too_big);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("larger than the limit"), std::string::npos);
    EXPECT_EQ(j->lastAppended(), 3u);
  }
  std::vector<Entry> seen;
  auto j = openOk(options(4096), &seen);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_TRUE(seen[0].payload.empty());
  EXPECT_EQ(seen[1].payload.size(), 3u << 20);
  EXPECT_EQ(seen[1].payload[12345], 0xAB);
  EXPECT_EQ(seen[2].type, 3);
}

TEST_F(JournalTest, TicketsContinueAfterReopen) {
  {
    auto j = openOk(options());
    appendUpTo(*j, 10);
  }
  {
    std::vector<Entry> seen;
    auto j = openOk(options(), &seen);
    expectEntries(seen, 1, 10);
    EXPECT_EQ(j->lastAppended(), 10u);
    EXPECT_EQ(j->committed(), 10u);
    appendUpTo(*j, 15);
  }
  std::vector<Entry> seen;
  auto j = openOk(options(), &seen);
  expectEntries(seen, 1, 15);
  EXPECT_EQ(segments().size(), 1u);  // continued in the last segment
}

TEST_F(JournalTest, TornTailAtEveryOffsetOfTheLastEntryIsCut) {
  {
    auto j = openOk(options());
    appendUpTo(*j, 5);
  }
  const std::string name = "journal-0000000000000001.log";
  const std::string whole = readAll(dir_ + "/" + name);
  const size_t last_entry = 21 + payloadFor(5).size();
  const size_t good = whole.size() - last_entry;
  for (size_t len = good; len < whole.size(); ++len) {
    SCOPED_TRACE("cut to " + std::to_string(len));
    writeAll(dir_ + "/" + name, whole.substr(0, len));
    std::vector<Entry> seen;
    JournalRecovery rec;
    {
      auto j = openOk(options(), &seen, &rec);
      ASSERT_TRUE(j);
      expectEntries(seen, 1, 4);
      EXPECT_EQ(rec.torn_bytes, len - good);
      if (len > good) {
        EXPECT_EQ(rec.torn_segment, name);
        EXPECT_FALSE(rec.torn_reason.empty());
        EXPECT_NE(rec.torn_reason.find("offset " + std::to_string(good)), std::string::npos)
            << rec.torn_reason;
      } else {
        EXPECT_EQ(rec.torn_segment, "");
      }
      EXPECT_EQ(fs::file_size(dir_ + "/" + name), good);
      EXPECT_EQ(j->lastAppended(), 4u);
      appendUpTo(*j, 5);  // the same ticket again, written after the cut
    }
    seen.clear();
    auto j = openOk(options(), &seen, &rec);
    expectEntries(seen, 1, 5);
    EXPECT_EQ(rec.torn_bytes, 0u);
  }
}

TEST_F(JournalTest, ZeroFilledTailAndTornFileHeaderAreCut) {
  {
    auto j = openOk(options());
    appendUpTo(*j, 3);
  }
  const std::string name = "journal-0000000000000001.log";
  const std::string whole = readAll(dir_ + "/" + name);
  writeAll(dir_ + "/" + name, whole + std::string(4096, '\0'));
  std::vector<Entry> seen;
  JournalRecovery rec;
  {
    auto j = openOk(options(), &seen, &rec);
    expectEntries(seen, 1, 3);
    EXPECT_EQ(rec.torn_bytes, 4096u);
    EXPECT_NE(rec.torn_reason.find("zero-filled tail"), std::string::npos) << rec.torn_reason;
  }
  // A new segment whose file header was only partly written: cut to empty, its tickets kept.
  const std::string next = "journal-0000000000000004.log";
  writeAll(dir_ + "/" + next, std::string("TJN", 3));
  seen.clear();
  {
    auto j = openOk(options(), &seen, &rec);
    expectEntries(seen, 1, 3);
    EXPECT_EQ(rec.torn_segment, next);
    EXPECT_EQ(rec.torn_bytes, 3u);
    appendUpTo(*j, 6);
  }
  seen.clear();
  auto j = openOk(options(), &seen, &rec);
  expectEntries(seen, 1, 6);
  EXPECT_EQ(rec.torn_bytes, 0u);
}

TEST_F(JournalTest, BitFlipInTheLastEntryIsCut) {
  {
    auto j = openOk(options());
    appendUpTo(*j, 8);
  }
  const std::string name = "journal-0000000000000001.log";
  std::string data = readAll(dir_ + "/" + name);
  data[data.size() - 2] ^= 0x10;  // inside the payload of ticket 8
  writeAll(dir_ + "/" + name, data);
  std::vector<Entry> seen;
  JournalRecovery rec;
  auto j = openOk(options(), &seen, &rec);
  expectEntries(seen, 1, 7);
  EXPECT_EQ(rec.torn_bytes, 21 + payloadFor(8).size());
  EXPECT_NE(rec.torn_reason.find("checksum mismatch"), std::string::npos) << rec.torn_reason;
  EXPECT_EQ(j->lastAppended(), 7u);
}

TEST_F(JournalTest, CorruptionInANonLastSegmentIsAnErrorAndChangesNothing) {
  {
    auto j = openOk(options(2048));
    appendUpTo(*j, 100);
  }
  auto names = segments();
  ASSERT_GE(names.size(), 3u);
  const std::string victim = dir_ + "/" + names[1];
  std::string data = readAll(victim);
  const size_t at = data.size() / 2;
  data[at] ^= 0x01;
  writeAll(victim, data);
  std::vector<std::string> before;
  for (const auto& n : names) {
    before.push_back(readAll(dir_ + "/" + n));
  }
  bool visited = false;
  auto j = Journal::open(
      options(2048), [&](Journal::Ticket, uint8_t, std::span<const uint8_t>) { visited = true; });
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message.find(names[1]), std::string::npos) << j.error().message;
  EXPECT_NE(j.error().message.find("at offset "), std::string::npos) << j.error().message;
  EXPECT_FALSE(visited);
  EXPECT_EQ(segments(), names);
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(readAll(dir_ + "/" + names[i]), before[i]) << names[i];
  }
}

TEST_F(JournalTest, TicketGapBetweenSegmentsIsAnError) {
  {
    auto j = openOk(options(2048));
    appendUpTo(*j, 100);
  }
  auto names = segments();
  ASSERT_GE(names.size(), 4u);
  fs::remove(dir_ + "/" + names[2]);
  auto j = Journal::open(options(2048), nullptr);
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message.find("ticket gap"), std::string::npos) << j.error().message;
  EXPECT_NE(j.error().message.find(names[3]), std::string::npos) << j.error().message;
}

TEST_F(JournalTest, ForeignFileIsRefused) {
  fs::create_directories(dir_);
  writeAll(dir_ + "/journal-0000000000000001.log", "this is not a journal at all, really\n");
  writeAll(dir_ + "/notes.txt", "ignored");
  auto j = Journal::open(options(), nullptr);
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message.find("not a tally journal segment"), std::string::npos)
      << j.error().message;
  EXPECT_NE(j.error().message.find("journal-0000000000000001.log"), std::string::npos);

  writeAll(dir_ + "/journal-0000000000000001.log",
           std::string("TJNL\x07\0\0\0", 8) + std::string(8, '\0'));
  j = Journal::open(options(), nullptr);
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message.find("version 7"), std::string::npos) << j.error().message;

  fs::remove(dir_ + "/journal-0000000000000001.log");
  writeAll(dir_ + "/journal-xyz.log", "");
  j = Journal::open(options(), nullptr);
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message.find("journal-xyz.log"), std::string::npos) << j.error().message;
}

TEST_F(JournalTest, ReleaseBeforeDeletesOnlyWholeSegmentsBelowTheTicket) {
  auto j = openOk(options(2048));
  appendUpTo(*j, 200);
  ASSERT_TRUE(j->waitCommitted(200, 10'000'000'000));
  auto names = segments();
  ASSERT_GE(names.size(), 5u);
  // A ticket in the middle of the fourth segment: the first three go, the fourth stays.
  const uint64_t t = firstOf(names[3]) + 1;
  j->releaseBefore(t);
  for (int i = 0; i < 500 && j->stats().segments != names.size() - 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(j->stats().segments, names.size() - 3);
  EXPECT_EQ(segments(), std::vector<std::string>(names.begin() + 3, names.end()));
  uint64_t bytes = 0;
  for (const auto& n : segments()) {
    bytes += fs::file_size(dir_ + "/" + n);
  }
  EXPECT_EQ(j->stats().disk_bytes, bytes);
  // Beyond everything: the segment being written stays.
  j->releaseBefore(1'000'000);
  for (int i = 0; i < 500 && j->stats().segments != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(segments(), std::vector<std::string>{names.back()});
  j.reset();
  std::vector<Entry> seen;
  j = openOk(options(2048), &seen);
  ASSERT_FALSE(seen.empty());
  expectEntries(seen, firstOf(names.back()), 200);
  appendUpTo(*j, 210);
}

TEST_F(JournalTest, WaitCommitted) {
  auto o = options();
  o.commit_delay_ns = 100'000'000;
  auto j = openOk(o);
  const auto start = std::chrono::steady_clock::now();
  auto t = j->append(1, payloadFor(1));
  ASSERT_TRUE(t);
  EXPECT_FALSE(j->waitCommitted(*t, 1'000'000));  // within the commit delay: not yet
  EXPECT_TRUE(j->waitCommitted(*t, 5'000'000'000));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(90));
  EXPECT_EQ(j->committed(), *t);
  EXPECT_FALSE(j->waitCommitted(*t + 1, 10'000'000));  // never appended
  // From another thread too.
  std::thread waiter([&] { EXPECT_TRUE(j->waitCommitted(*t + 1, 5'000'000'000)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(j->append(1, payloadFor(2)));
  waiter.join();
  // flush_bytes reached: at once, not after the commit delay.
  o.dir = dir_ + "-flush";
  o.commit_delay_ns = 10'000'000'000;
  o.flush_bytes = 1000;
  auto k = openOk(o);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<uint8_t> p(1200, 1);
  auto kt = k->append(1, p);
  EXPECT_TRUE(k->waitCommitted(*kt, 5'000'000'000));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  k.reset();
  fs::remove_all(o.dir);
}

TEST_F(JournalTest, BackPressureWhenTheBufferIsFull) {
  auto o = options();
  o.buffer_bytes = 1000;
  o.commit_delay_ns = 200'000'000;
  auto j = openOk(o);
  std::vector<uint8_t> p(400, 7);
  ASSERT_TRUE(j->append(1, p));
  ASSERT_TRUE(j->append(1, p));
  auto r = j->append(1, p);  // 3 x 421 > 1000
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("buffer full"), std::string::npos) << r.error().message;
  EXPECT_EQ(j->lastAppended(), 2u);
  EXPECT_EQ(j->stats().appended, 2u);
  EXPECT_EQ(j->stats().buffered_bytes, 842u);
  ASSERT_TRUE(j->waitCommitted(2, 5'000'000'000));
  EXPECT_EQ(j->stats().buffered_bytes, 0u);
  auto again = j->append(1, p);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 3u);  // nothing was taken by the refusal
  j.reset();
  std::vector<Entry> seen;
  j = openOk(o, &seen);
  EXPECT_EQ(seen.size(), 3u);
}

// A tmpfs of 64 KiB: the journal fills it; failing and last_error show it within the retry;
// once space is freed everything appended is committed and reads back.
TEST_F(JournalTest, FullDiskFailsVisiblyAndLosesNothing) {
  const std::string mnt = tmp_.path() + "/tiny";
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs of 64 KiB on " << mnt << " (" << std::strerror(errno)
                 << "): needs root";
  }
  struct Unmount {
    std::string m;
    ~Unmount() { ::umount2(m.c_str(), MNT_DETACH); }
  } unmount{mnt};
  writeAll(mnt + "/filler", std::string(40 << 10, 'x'));
  auto o = options(8192);
  o.dir = mnt + "/journal";
  o.retry_interval_ns = 20'000'000;
  const uint64_t n = 100;  // 100 x ~420 octets: more than the space left
  {
    auto j = openOk(o);
    ASSERT_TRUE(j);
    for (uint64_t t = 1; t <= n; ++t) {
      ASSERT_TRUE(j->append(typeFor(t), std::vector<uint8_t>(400, static_cast<uint8_t>(t))));
    }
    for (int i = 0; i < 1000 && !j->stats().failing; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    auto s = j->stats();
    ASSERT_TRUE(s.failing);
    EXPECT_GE(s.write_errors, 1u);
    EXPECT_NE(s.last_error.find("No space left on device"), std::string::npos) << s.last_error;
    EXPECT_NE(s.last_error.find(o.dir + "/journal-"), std::string::npos) << s.last_error;
    EXPECT_LT(j->committed(), n);
    EXPECT_GT(s.buffered_bytes, 0u);
    // Still failing a few retries later, and counting them.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_GT(j->stats().write_errors, s.write_errors);
    EXPECT_TRUE(j->stats().failing);
    // append() still answers at once while the disk fails.
    fs::remove(mnt + "/filler");
    ASSERT_TRUE(j->waitCommitted(n, 5'000'000'000));
    s = j->stats();
    EXPECT_FALSE(s.failing);
    EXPECT_EQ(s.buffered_bytes, 0u);
    EXPECT_NE(s.last_error, "");  // kept for the display
  }
  std::vector<Entry> seen;
  JournalRecovery rec;
  auto j = openOk(o, &seen, &rec);
  ASSERT_EQ(seen.size(), n);
  EXPECT_EQ(rec.torn_bytes, 0u);
  for (uint64_t t = 1; t <= n; ++t) {
    ASSERT_EQ(seen[t - 1].ticket, t);
    ASSERT_EQ(seen[t - 1].payload, std::vector<uint8_t>(400, static_cast<uint8_t>(t)));
  }
}

// A child appends as fast as it can and reports every committed ticket over a pipe; it is
// SIGKILLed at a random moment. Everything it saw committed must be there, intact.
TEST_F(JournalTest, KilledProcessLosesNothingCommitted) {
  std::mt19937 rng(12345);
  auto o = options(64 << 10);
  o.commit_delay_ns = 2'000'000;
  o.buffer_bytes = 4 << 20;
  uint64_t total_seen_committed = 0;
  int torn_rounds = 0;
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto j = Journal::open(o, nullptr);
      if (!j) {
        ::_exit(2);
      }
      uint64_t sent = 0;
      while (true) {
        const auto t = (*j)->lastAppended() + 1;
        if (!(*j)->append(typeFor(t), payloadFor(t, 600))) {
          ::usleep(100);
        }
        const uint64_t c = (*j)->committed();
        if (c > sent) {
          if (::write(fds[1], &c, sizeof c) != sizeof c) {
            ::_exit(3);
          }
          sent = c;
        }
      }
    }
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 120));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    uint64_t seen_committed = 0, v = 0;
    while (::read(fds[0], &v, sizeof v) == sizeof v) {
      seen_committed = std::max(seen_committed, v);
    }
    ::close(fds[0]);
    // (0 when the child was killed before it reopened the journal.)
    total_seen_committed = std::max(total_seen_committed, seen_committed);
    std::vector<Entry> seen;
    JournalRecovery rec;
    auto j = openOk(o, &seen, &rec);
    ASSERT_TRUE(j);
    ASSERT_GE(seen.size(), total_seen_committed);  // this round's and every earlier round's
    if (rec.torn_bytes > 0) {
      ++torn_rounds;
    }
    expectEntries(seen, 1, seen.size(), 600);
  }
  EXPECT_GT(total_seen_committed, 0u);
  std::cout << "[ INFO     ] " << total_seen_committed << " entries committed over 20 kills, "
            << torn_rounds << " torn tails cut\n";
}

}  // namespace
}  // namespace tally::bill
