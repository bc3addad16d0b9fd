// The local bill pool (bill_pool.h, semantics.md §3): every bill the biller closes ends in
// exactly one file - never lost, never twice - across crashes at every step of a move, with the
// pool disabled or enabled; the cache view and the operator commands; checkpointed open records
// closed at restart; drop-new / drop-oldest on a full CF card; delivery to a bill server; the
// directory locks; the pool alarm's hysteresis.
//
// Bill numbers and octets are checked by reading the TS 32.297 files on the CF card (or the
// server) back with the file reader and the record decoder, not by the pool's own counters.
#include "controlplane/bill/bill_pool.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/bill/local_bill.h"
#include "controlplane/bill/local_bill_commands.h"
#include "controlplane/cdr/cdr_decode.h"
#include "controlplane/cdr/cdr_file_reader.h"
#include "controlplane/charging/charging.h"
#include "controlplane/storage/sequence_store.h"
#include "tests/fakes/cdr_fixtures.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/scripted_transport.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/test_config.h"

namespace tally::bill {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNsPerS = 1'000'000'000;
constexpr int64_t kWait = 10 * kNsPerS;  // waitIdle / waitCommitted bound

// One record read back from a bill file.
struct Decoded {
  std::string file;
  uint32_t file_sequence = 0;
  uint64_t lsn = 0;
  uint64_t ul = 0;
  uint64_t dl = 0;
  uint32_t charging_id = 0;
  std::optional<uint32_t> record_sequence;
  cdr::Cause cause = cdr::Cause::kNormalRelease;
};

struct Usage {
  uint64_t ul = 0;
  uint64_t dl = 0;
};

std::vector<uint8_t> readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// The .cdr files of a directory, sorted by name.
std::vector<std::string> cdrFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".cdr") {
      out.push_back(e.path().filename());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> filesEndingIn(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename();
    if (n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(n);
    }
  }
  return out;
}

// Every record of every .cdr file in `dir`, decoded (a failure to parse is a test failure).
std::vector<Decoded> readCard(const std::string& dir) {
  std::vector<Decoded> out;
  for (const std::string& name : cdrFiles(dir)) {
    auto f = cdr::readCdrFile(dir + "/" + name);
    EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
    if (!f.ok()) continue;
    for (const cdr::CdrFileRecord& rec : f->records) {
      auto r = cdr::decodePgwRecord(rec.data);
      EXPECT_TRUE(r.ok()) << name << ": " << (r.ok() ? "" : r.error().message);
      if (!r.ok()) continue;
      Decoded d;
      d.file = name;
      d.file_sequence = f->header.file_sequence_number;
      d.lsn = r->local_sequence_number;
      for (const cdr::TrafficContainer& t : r->traffic_volumes) {
        d.ul += t.uplink_octets;
        d.dl += t.downlink_octets;
      }
      d.charging_id = r->charging_id;
      d.record_sequence = r->record_sequence_number;
      d.cause = r->cause;
      out.push_back(d);
    }
  }
  return out;
}

// lsn -> how many times it is in `records`.
std::map<uint64_t, int> countByLsn(const std::vector<Decoded>& records) {
  std::map<uint64_t, int> n;
  for (const Decoded& d : records) ++n[d.lsn];
  return n;
}

// The journal's last segment, entry by entry (docs/storage.md, "The bill journal").
struct JournalEntry {
  uint64_t offset = 0;
  uint32_t length = 0;  // payload
  uint8_t type = 0;
  uint64_t ticket = 0;
};
constexpr uint8_t kEntryBill = 1;
constexpr uint8_t kEntryIntent = 2;
constexpr uint8_t kEntryDone = 3;
constexpr size_t kEntryHeader = 21;
constexpr size_t kSegmentHeader = 16;

std::string lastSegment(const std::string& journal_dir) {
  std::vector<std::string> segs;
  for (const auto& e : fs::directory_iterator(journal_dir)) {
    const std::string n = e.path().filename();
    if (n.rfind("journal-", 0) == 0 && e.path().extension() == ".log") segs.push_back(e.path());
  }
  std::sort(segs.begin(), segs.end());
  return segs.empty() ? std::string() : segs.back();
}

uint32_t le32(const std::vector<uint8_t>& b, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(b[at + i]) << (8 * i);
  return v;
}
uint64_t le64(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(b[at + i]) << (8 * i);
  return v;
}

std::vector<JournalEntry> journalEntries(const std::string& segment) {
  std::vector<JournalEntry> out;
  const std::vector<uint8_t> b = readBytes(segment);
  size_t at = kSegmentHeader;
  while (at + kEntryHeader <= b.size()) {
    JournalEntry e;
    e.offset = at;
    e.length = le32(b, at + 4);
    e.type = b[at + 8];
    e.ticket = le64(b, at + 9);
    out.push_back(e);
    at += kEntryHeader + e.length;
  }
  return out;
}

// A record like the biller's (cdr-format.md worked example) with the given number and usage.
// Every field has the same encoded size for numbers below 128 and octets of 2-octet size, so
// all these records take the same room in a file.
cdr::PgwRecord record(uint64_t lsn, uint64_t ul, uint64_t dl, uint32_t charging_id) {
  cdr::PgwRecord r = testing::exampleRecord();
  r.local_sequence_number = lsn;
  r.session_id = 1000 + lsn;
  r.charging_id = charging_id;
  r.traffic_volumes.resize(1);
  r.traffic_volumes[0].uplink_octets = ul;
  r.traffic_volumes[0].downlink_octets = dl;
  r.traffic_volumes[0].change_condition = cdr::ChangeCondition::kRecordClosure;
  r.uplink_packets = 3;
  r.downlink_packets = 4;
  return r;
}

bool waitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class BillPoolTest : public ::testing::Test {
 protected:
  BillPoolTest() : dir_("tally-billpool") {
    config_ = testing::testConfig();
    config_.node.id = "gw-test";
    config_.node.state_dir = dir_.path() + "/state";
    config_.local_bill.cfcard_path = dir_.path() + "/cf";
    config_.accounting.cdr.file_max_records = 5;
    config_.local_bill.bill_pool.commit_delay_ms = 1;
  }
  ~BillPoolTest() override {
    engine_.reset();
    pool_.reset();
    seq_.reset();
  }

  std::string cf() const { return config_.local_bill.cfcard_path; }
  std::string journalDir() const { return config_.node.state_dir + "/bill-journal"; }

  // Opens the sequence store (when not open) and the pool.
  void open(std::unique_ptr<Transport> transport = nullptr) {
    if (!seq_) {
      auto s = SequenceStore::open(config_.node.state_dir + "/" + SequenceStore::kFileName);
      if (!s.ok()) throw std::runtime_error("sequence store: " + s.error().message);
      seq_ = std::move(s.value());
    }
    auto p = BillPool::open(config_, tz_, *seq_, clock_, std::move(transport));
    if (!p.ok()) throw std::runtime_error("BillPool::open: " + p.error().message);
    pool_ = std::move(p.value());
  }
  // A crash: the pool goes without shutdown() (its journal commits what was appended; whatever
  // the storage thread had not started stays undone), then the daemon starts again.
  void crash() {
    engine_.reset();
    pool_.reset();
    seq_.reset();
  }
  void restart(std::unique_ptr<Transport> transport = nullptr) {
    crash();
    open(std::move(transport));
  }

  // Emits n bills numbered by the sequence store, with usage that follows from the number;
  // remembers them in emitted_.
  void emit(int n, bool hot = false) {
    for (int i = 0; i < n; ++i) {
      const uint64_t lsn = seq_->nextLocalSequence();
      const Usage u{1000 + 10 * lsn, 20000 + 7 * lsn};
      EXPECT_TRUE(emitted_.emplace(lsn, u).second) << "number " << lsn << " handed out twice";
      pool_->emit(record(lsn, u.ul, u.dl, 0x10000000u + uint32_t(lsn)), hot);
    }
  }
  void tick() { pool_->tick(clock_.wallNs()); }
  void settle() {
    ASSERT_TRUE(pool_->waitCommitted(kWait));
    ASSERT_TRUE(pool_->waitIdle(kWait));
  }
  // Octets of one bill as a file holds it, and of a file of n bills.
  size_t recordBytes() {
    ber::DerWriter scratch;
    auto a = cdr::encodeRecordForFile(record(1, 1010, 20007, 0x10000001u),
                                      config_.accounting.cdr.format, *tz_, scratch);
    auto b = cdr::encodeRecordForFile(record(99, 1990, 20693, 0x10000063u),
                                      config_.accounting.cdr.format, *tz_, scratch);
    EXPECT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->size(), b->size()) << "the test records should all have one size";
    return a->size() + cdr::cdrRecordOverhead(config_.accounting.cdr.format);
  }
  size_t fileBytes(size_t bills) {
    return cdr::cdrFileHeaderBytes(config_.accounting.cdr.format) + bills * recordBytes();
  }
  Usage emittedSum() const {
    Usage s;
    for (const auto& [lsn, u] : emitted_) {
      s.ul += u.ul;
      s.dl += u.dl;
    }
    return s;
  }
  // Every emitted bill is in `records` exactly once, with its own octets, and nothing else is.
  void expectExactlyOnce(const std::vector<Decoded>& records) {
    std::map<uint64_t, int> n = countByLsn(records);
    EXPECT_EQ(n.size(), emitted_.size());
    for (const auto& [lsn, count] : n) {
      EXPECT_EQ(count, 1) << "bill " << lsn << " is in the files " << count << " times";
      EXPECT_EQ(emitted_.count(lsn), 1u) << "bill " << lsn << " was never emitted";
    }
    for (const auto& [lsn, u] : emitted_) {
      EXPECT_EQ(n.count(lsn), 1u) << "bill " << lsn << " is lost";
    }
    Usage got;
    for (const Decoded& d : records) {
      got.ul += d.ul;
      got.dl += d.dl;
      auto e = emitted_.find(d.lsn);
      if (e != emitted_.end()) {
        EXPECT_EQ(d.ul, e->second.ul) << "bill " << d.lsn;
        EXPECT_EQ(d.dl, e->second.dl) << "bill " << d.lsn;
      }
    }
    EXPECT_EQ(got.ul, emittedSum().ul);
    EXPECT_EQ(got.dl, emittedSum().dl);
  }

  testing::TempDir dir_;
  Config config_;
  TimeZonePtr tz_ = TimeZone::utc();
  FakeClock clock_;
  std::map<uint64_t, Usage> emitted_;
  std::unique_ptr<SequenceStore> seq_;
  std::unique_ptr<BillPool> pool_;
  std::unique_ptr<ChargingEngine> engine_;
};

// ---------------------------------------------------------------------------------------------
// 1. Pool disabled: the accounting.cdr file rules, every bill once, across a crash.

TEST_F(BillPoolTest, DisabledPoolWritesEveryBillOnceAcrossACrash) {
  ASSERT_FALSE(config_.local_bill.bill_pool.enable);
  ASSERT_EQ(config_.local_bill.cache.backup_mode, CacheBackupMode::kCfcard);
  open();
  EXPECT_FALSE(pool_->information().enabled);
  emit(12);
  tick();  // 12 >= file_max_records 5: everything moves, cut 5 + 5 + 2
  settle();
  EXPECT_EQ(cdrFiles(cf()).size(), 3u);
  EXPECT_EQ(pool_->size(), 0u);
  // Three more wait for the file rules (fewer than 5, younger than file_max_age_s), five more
  // are moved and the daemon dies right away: the storage thread may or may not have written
  // their file, its done is never journaled.
  emit(3);
  tick();
  ASSERT_TRUE(pool_->waitCommitted(kWait));
  EXPECT_EQ(pool_->size(), 3u);
  EXPECT_EQ(cdrFiles(cf()).size(), 3u);
  emit(5);
  tick();
  EXPECT_EQ(pool_->information().moving, 8u);  // the 3 waiting and the 5 new: files of 5 + 3
  crash();

  open();
  const PoolInformation after = pool_->information();
  EXPECT_EQ(after.intents_completed + after.intents_undone, 2u);
  // Whatever the crash left, the file rules take the pooled bills on: age.
  clock_.advanceMs((int64_t{config_.accounting.cdr.file_max_age_s} + 1) * 1000);
  tick();
  settle();
  emit(4);
  pool_->shutdown();  // pool disabled: a last file with what waits
  EXPECT_EQ(pool_->size(), 0u);
  EXPECT_EQ(pool_->information().emitted, 4u);

  const std::vector<Decoded> records = readCard(cf());
  EXPECT_EQ(records.size(), 24u);
  expectExactlyOnce(records);
  // No two files share a sequence number.
  std::set<uint32_t> seqs;
  for (const std::string& n : cdrFiles(cf())) {
    auto f = cdr::readCdrFile(cf() + "/" + n);
    ASSERT_TRUE(f.ok());
    EXPECT_TRUE(seqs.insert(f->header.file_sequence_number).second) << n;
  }
  // A restart after the clean shutdown pools nothing again.
  restart();
  EXPECT_EQ(pool_->size(), 0u);
  tick();
  pool_->shutdown();
  EXPECT_EQ(readCard(cf()).size(), 24u);
}

TEST_F(BillPoolTest, DisabledPoolClosesFilesByRecordsAndAge) {
  open();
  emit(4);
  tick();
  ASSERT_TRUE(pool_->waitIdle(kWait));
  EXPECT_TRUE(cdrFiles(cf()).empty()) << "4 bills < file_max_records, file not old yet";
  clock_.advanceMs(int64_t{config_.accounting.cdr.file_max_age_s} * 1000 - 1000);
  tick();
  ASSERT_TRUE(pool_->waitIdle(kWait));
  EXPECT_TRUE(cdrFiles(cf()).empty());
  clock_.advanceMs(1000);
  tick();
  settle();
  ASSERT_EQ(cdrFiles(cf()).size(), 1u);
  auto f = cdr::readCdrFile(cf() + "/" + cdrFiles(cf())[0]);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->records.size(), 4u);
  EXPECT_EQ(f->header.closure_reason, uint8_t(cdr::FileClosureReason::kFileOpenTimeLimit));
  EXPECT_EQ(fs::file_size(cf() + "/" + cdrFiles(cf())[0]), fileBytes(4));
  EXPECT_EQ(pool_->information().files_written, 1u);
  expectExactlyOnce(readCard(cf()));
}

// ---------------------------------------------------------------------------------------------
// 2. Pool enabled, backup_mode none: bills stay pooled, the cache view, manual backup.

TEST_F(BillPoolTest, EnabledPoolModeNoneKeepsBillsAndListsThemInOrder) {
  config_.local_bill.bill_pool.enable = true;
  config_.local_bill.bill_pool.capacity_bills = 100;
  config_.local_bill.cache.backup_mode = CacheBackupMode::kNone;
  open();
  emit(7);
  ASSERT_TRUE(pool_->waitCommitted(kWait));
  tick();
  clock_.advanceMs(int64_t{config_.local_bill.cache.backup_interval_min} * 60 * 1000 + 1000);
  tick();  // mode none: no automatic backup, whatever the interval
  ASSERT_TRUE(pool_->waitIdle(kWait));
  EXPECT_TRUE(cdrFiles(cf()).empty());
  EXPECT_EQ(pool_->size(), 7u);
  PoolInformation info = pool_->information();
  EXPECT_TRUE(info.enabled);
  EXPECT_EQ(info.bills, 7u);
  EXPECT_EQ(info.committed, 7u);
  EXPECT_EQ(info.moving, 0u);
  EXPECT_EQ(info.capacity, 100u);
  EXPECT_EQ(info.average_bill_bytes, recordBytes() - cdr::cdrRecordOverhead(config_.accounting.cdr.format));
  EXPECT_EQ(info.next_cache_backup_unix_ns, 0);

  std::vector<CachedBill> all = pool_->cache(1, 100);
  ASSERT_EQ(all.size(), 7u);
  const cdr::PgwRecord like = testing::exampleRecord();
  for (size_t i = 0; i < all.size(); ++i) {
    const BillInfo& b = all[i].info;
    const uint64_t lsn = i + 1;
    EXPECT_EQ(b.number, lsn);
    EXPECT_EQ(b.session_id, 1000 + lsn);
    EXPECT_EQ(b.user_name, like.msisdn);
    EXPECT_EQ(b.ul_octets, emitted_[lsn].ul);
    EXPECT_EQ(b.dl_octets, emitted_[lsn].dl);
    EXPECT_EQ(b.ul_packets, 3u);
    EXPECT_EQ(b.dl_packets, 4u);
    EXPECT_EQ(b.charging_id, 0x10000000u + lsn);
    EXPECT_EQ(b.record_index, 1u);
    EXPECT_EQ(b.cause, uint8_t(cdr::Cause::kNormalRelease));
    EXPECT_EQ(b.start_ns, like.record_opening_time_ns);
    EXPECT_EQ(b.stop_ns, like.record_opening_time_ns + int64_t{like.duration_s} * kNsPerS);
    EXPECT_EQ(b.ip, like.served_address);
    EXPECT_FALSE(b.hot);
    EXPECT_FALSE(b.recovered);
    EXPECT_STREQ(all[i].status, "committed");
  }
  // Windows and out-of-range requests.
  std::vector<CachedBill> mid = pool_->cache(3, 2);
  ASSERT_EQ(mid.size(), 2u);
  EXPECT_EQ(mid[0].info.number, 3u);
  EXPECT_EQ(mid[1].info.number, 4u);
  std::vector<CachedBill> tail = pool_->cache(6, 10);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].info.number, 6u);
  EXPECT_EQ(tail[1].info.number, 7u);
  EXPECT_TRUE(pool_->cache(0, 5).empty()) << "positions start at 1";
  EXPECT_TRUE(pool_->cache(8, 5).empty());
  EXPECT_TRUE(pool_->cache(1, 0).empty());

  // The pool survives a restart as it was.
  restart();
  EXPECT_EQ(pool_->size(), 7u);
  ASSERT_EQ(pool_->cache(1, 100).size(), 7u);
  EXPECT_EQ(pool_->cache(7, 1)[0].info.number, 7u);
  EXPECT_EQ(pool_->cache(7, 1)[0].info.ul_octets, emitted_[7].ul);

  // Backup without a target is refused with the reason; a target needing a server too.
  auto refused = pool_->backupCache(std::nullopt);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("none"), std::string::npos) << refused.error().message;
  auto no_server = pool_->backupCache(CacheBackupMode::kSftp);
  ASSERT_FALSE(no_server.ok());
  EXPECT_NE(no_server.error().message.find("bill server"), std::string::npos);
  EXPECT_EQ(pool_->size(), 7u);
  EXPECT_TRUE(cdrFiles(cf()).empty());

  auto moved = pool_->backupCache(CacheBackupMode::kCfcard);
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_NE(moved.value().find("7 bills"), std::string::npos) << moved.value();
  // Until the file is written and its done journaled, the bills show as moving.
  std::vector<CachedBill> moving = pool_->cache(1, 100);
  ASSERT_EQ(moving.size(), 7u);
  for (const CachedBill& c : moving) EXPECT_STREQ(c.status, "moving");
  settle();
  EXPECT_EQ(pool_->size(), 0u);
  EXPECT_TRUE(pool_->cache(1, 100).empty());
  std::vector<Decoded> records = readCard(cf());
  expectExactlyOnce(records);
  ASSERT_EQ(cdrFiles(cf()).size(), 2u);  // 5 + 2 (file_max_records)
  auto again = pool_->backupCache(CacheBackupMode::kCfcard);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again.value().find("no bill"), std::string::npos) << again.value();

  // Nothing comes back after a crash, nothing is written twice.
  restart();
  EXPECT_EQ(pool_->size(), 0u);
  tick();
  ASSERT_TRUE(pool_->waitIdle(kWait));
  EXPECT_EQ(readCard(cf()).size(), 7u);
}

TEST_F(BillPoolTest, EnabledPoolModeNoneSendsHotBillsAtOnce) {
  config_.local_bill.bill_pool.enable = true;
  config_.local_bill.cache.backup_mode = CacheBackupMode::kNone;
  open();
  emit(3);
  emit(2, /*hot=*/true);
  tick();
  settle();
  EXPECT_EQ(pool_->size(), 3u);
  std::vector<Decoded> records = readCard(cf());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].lsn, 4u);
  EXPECT_EQ(records[1].lsn, 5u);
}

// ---------------------------------------------------------------------------------------------
// 3. A crash between intent and done, in each state it can leave.

class BillPoolCrashTest : public BillPoolTest {
 protected:
  // Five bills moved into one file, written, done journaled; then the daemon is gone and the
  // journal's last entry is that done.
  void writeOneFileAndStop() {
    open();
    emit(5);
    tick();
    settle();
    ASSERT_EQ(cdrFiles(cf()).size(), 1u);
    file_ = cdrFiles(cf())[0];
    file_bytes_ = readBytes(cf() + "/" + file_);
    crash();
    entries_ = journalEntries(lastSegment(journalDir()));
    ASSERT_GE(entries_.size(), 7u);
    ASSERT_EQ(entries_.back().type, kEntryDone);
    ASSERT_EQ(entries_[entries_.size() - 2].type, kEntryIntent);
    for (size_t i = 0; i + 2 < entries_.size(); ++i) ASSERT_EQ(entries_[i].type, kEntryBill);
  }
  // The journal as a crash leaves it when the entries from `index` on never reached the disk
  // (plus `torn` octets of the first of them: a write cut short).
  void cutJournal(size_t index, uint64_t torn = 0) {
    fs::resize_file(lastSegment(journalDir()), entries_[index].offset + torn);
  }

  std::string file_;
  std::vector<uint8_t> file_bytes_;
  std::vector<JournalEntry> entries_;
};

TEST_F(BillPoolCrashTest, FileWrittenDoneNotJournaledIsCompleted) {
  ASSERT_NO_FATAL_FAILURE(writeOneFileAndStop());
  cutJournal(entries_.size() - 1);
  open();
  PoolInformation info = pool_->information();
  EXPECT_EQ(info.intents_completed, 1u);
  EXPECT_EQ(info.intents_undone, 0u);
  EXPECT_EQ(info.recovery.torn_bytes, 0u);
  EXPECT_EQ(pool_->size(), 0u);
  tick();
  settle();
  EXPECT_EQ(cdrFiles(cf()), std::vector<std::string>{file_});
  EXPECT_EQ(readBytes(cf() + "/" + file_), file_bytes_);
  EXPECT_EQ(pool_->information().cfcard.files, 1u);
  EXPECT_EQ(pool_->information().cfcard.bills, 5u);
  // The completion was journaled: the next start finds nothing to settle.
  emit(1);
  pool_->shutdown();
  restart();
  EXPECT_EQ(pool_->information().intents_completed, 0u);
  EXPECT_EQ(pool_->information().intents_undone, 0u);
  pool_->shutdown();
  EXPECT_EQ(cdrFiles(cf()).size(), 2u);
  expectExactlyOnce(readCard(cf()));
}

TEST_F(BillPoolCrashTest, TornDoneIsCutAndTheIntentCompleted) {
  ASSERT_NO_FATAL_FAILURE(writeOneFileAndStop());
  cutJournal(entries_.size() - 1, /*torn=*/kEntryHeader + 3);
  open();
  PoolInformation info = pool_->information();
  EXPECT_GT(info.recovery.torn_bytes, 0u);
  EXPECT_EQ(info.intents_completed, 1u);
  EXPECT_EQ(pool_->size(), 0u);
  pool_->shutdown();
  EXPECT_EQ(cdrFiles(cf()), std::vector<std::string>{file_});
  expectExactlyOnce(readCard(cf()));
}

TEST_F(BillPoolCrashTest, TmpLeftBehindIsRemovedAndTheBillsWrittenAgain) {
  ASSERT_NO_FATAL_FAILURE(writeOneFileAndStop());
  cutJournal(entries_.size() - 1);
  // The crash came before the rename: the file is still its temporary.
  fs::rename(cf() + "/" + file_, cf() + "/" + file_ + ".tmp");
  open();
  PoolInformation info = pool_->information();
  EXPECT_EQ(info.intents_completed, 0u);
  EXPECT_EQ(info.intents_undone, 1u);
  EXPECT_FALSE(fs::exists(cf() + "/" + file_ + ".tmp"));
  EXPECT_EQ(pool_->size(), 5u);
  EXPECT_EQ(info.cfcard.files, 0u);
  tick();  // 5 pooled >= file_max_records
  settle();
  EXPECT_EQ(pool_->size(), 0u);
  ASSERT_EQ(cdrFiles(cf()).size(), 1u);
  EXPECT_NE(cdrFiles(cf())[0], file_) << "a new file sequence number";
  expectExactlyOnce(readCard(cf()));
  restart();
  EXPECT_EQ(pool_->size(), 0u);
  EXPECT_EQ(pool_->information().intents_undone, 0u);
}

TEST_F(BillPoolCrashTest, NothingWrittenYetIsUndone) {
  ASSERT_NO_FATAL_FAILURE(writeOneFileAndStop());
  cutJournal(entries_.size() - 1);
  fs::remove(cf() + "/" + file_);
  open();
  EXPECT_EQ(pool_->information().intents_undone, 1u);
  EXPECT_EQ(pool_->size(), 5u);
  pool_->shutdown();  // disabled: a last file
  EXPECT_EQ(cdrFiles(cf()).size(), 1u);
  expectExactlyOnce(readCard(cf()));
}

TEST_F(BillPoolCrashTest, IntentNotCommittedLeavesTheBillsPooled) {
  ASSERT_NO_FATAL_FAILURE(writeOneFileAndStop());
  // The intent never reached the disk (torn): no file can exist, its storage waits for it.
  cutJournal(entries_.size() - 2, /*torn=*/7);
  fs::remove(cf() + "/" + file_);
  open();
  PoolInformation info = pool_->information();
  EXPECT_GT(info.recovery.torn_bytes, 0u);
  EXPECT_EQ(info.intents_completed + info.intents_undone, 0u);
  EXPECT_EQ(pool_->size(), 5u);
  tick();
  settle();
  EXPECT_EQ(cdrFiles(cf()).size(), 1u);
  expectExactlyOnce(readCard(cf()));
}

TEST_F(BillPoolCrashTest, FileOfTheWrongSizeIsSetAsideAndTheBillsWrittenAgain) {
  ASSERT_NO_FATAL_FAILURE(writeOneFileAndStop());
  cutJournal(entries_.size() - 1);
  fs::resize_file(cf() + "/" + file_, file_bytes_.size() - 10);
  open();
  EXPECT_EQ(pool_->information().intents_undone, 1u);
  EXPECT_TRUE(fs::exists(cf() + "/" + file_ + ".broken"));
  EXPECT_FALSE(fs::exists(cf() + "/" + file_));
  EXPECT_EQ(pool_->information().cfcard.files, 0u) << "the broken file is no bill file";
  EXPECT_EQ(pool_->size(), 5u);
  tick();
  settle();
  EXPECT_EQ(pool_->information().cfcard.files, 1u);
  expectExactlyOnce(readCard(cf()));
}

// ---------------------------------------------------------------------------------------------
// 4. Checkpoints: open records closed at restart as abnormalRelease with the checkpointed usage.

TEST_F(BillPoolTest, CheckpointedOpenRecordsAreClosedAtRestartOnce) {
  open();
  engine_ = std::make_unique<ChargingEngine>(config_, tz_, *pool_, *seq_);
  auto session = [](uint64_t id, const char* addr) {
    ChargingSessionInfo i;
    i.session_id = id;
    i.served_address = testing::ip(addr);
    i.imsi = "00101000000000" + std::to_string(id);
    i.msisdn = "4917000000" + std::to_string(id);
    return i;
  };
  const int64_t t0 = clock_.wallNs();
  engine_->open(session(1, "10.0.0.1"), t0);
  engine_->open(session(2, "10.0.0.2"), t0);
  engine_->open(session(3, "10.0.0.3"), t0);  // no usage: not checkpointed
  engine_->usage(1, 1, FlowCounters{100, 1, 200, 2}, t0 + kNsPerS);
  engine_->usage(2, 1, FlowCounters{1000, 10, 2000, 20}, t0 + kNsPerS);
  const uint32_t cid2 = engine_->view(2)->charging_id;
  const uint32_t cid1 = engine_->view(1)->charging_id;
  clock_.advanceMs(5000);
  ASSERT_TRUE(pool_->checkpointDue(clock_.wallNs()));
  pool_->checkpoint(engine_->snapshotOpen(clock_.wallNs()), clock_.wallNs());
  EXPECT_EQ(pool_->information().checkpoint_records, 2u);
  EXPECT_FALSE(pool_->checkpointDue(clock_.wallNs()));
  // After the checkpoint: session 1 ends (its record is a bill now), session 2 counts more,
  // which the crash loses.
  engine_->close(1, cdr::Cause::kNormalRelease, clock_.wallNs() + kNsPerS);
  engine_->usage(2, 1, FlowCounters{5, 1, 7, 1}, clock_.wallNs() + 2 * kNsPerS);
  ASSERT_TRUE(pool_->waitCommitted(kWait));
  EXPECT_EQ(pool_->size(), 1u);
  crash();

  open();
  EXPECT_EQ(pool_->information().recovered_open_records, 1u);
  ASSERT_EQ(pool_->size(), 2u);
  std::vector<CachedBill> bills = pool_->cache(1, 10);
  const BillInfo& closed = bills[0].info;
  const BillInfo& recovered = bills[1].info;
  EXPECT_EQ(closed.charging_id, cid1);
  EXPECT_FALSE(closed.recovered);
  EXPECT_EQ(recovered.charging_id, cid2);
  EXPECT_TRUE(recovered.recovered);
  EXPECT_EQ(recovered.session_id, 2u);
  EXPECT_EQ(recovered.cause, uint8_t(cdr::Cause::kAbnormalRelease));
  EXPECT_EQ(recovered.ul_octets, 1000u);
  EXPECT_EQ(recovered.dl_octets, 2000u);
  EXPECT_EQ(recovered.ul_packets, 10u);
  EXPECT_EQ(recovered.dl_packets, 20u);
  EXPECT_NE(recovered.number, closed.number);
  EXPECT_GT(recovered.number, closed.number) << "numbering continues after the journal";

  // A second crash before anything else: the recovered record is a bill now, not recovered again.
  crash();
  open();
  EXPECT_EQ(pool_->information().recovered_open_records, 0u);
  EXPECT_EQ(pool_->size(), 2u);
  pool_->shutdown();

  // What the files hold.
  std::vector<Decoded> records = readCard(cf());
  ASSERT_EQ(records.size(), 2u);
  std::map<uint64_t, int> n = countByLsn(records);
  EXPECT_EQ(n.size(), 2u);
  const Decoded& a = records[0].charging_id == cid1 ? records[0] : records[1];
  const Decoded& b = records[0].charging_id == cid1 ? records[1] : records[0];
  EXPECT_EQ(a.charging_id, cid1);
  EXPECT_EQ(a.cause, cdr::Cause::kNormalRelease);
  EXPECT_EQ(a.ul, 100u);
  EXPECT_EQ(a.dl, 200u);
  EXPECT_EQ(b.charging_id, cid2);
  EXPECT_EQ(b.cause, cdr::Cause::kAbnormalRelease);
  EXPECT_EQ(b.ul, 1000u);
  EXPECT_EQ(b.dl, 2000u);
  EXPECT_EQ(b.record_sequence, std::optional<uint32_t>(1));
  EXPECT_EQ(b.lsn, recovered.number);

  // And after the clean stop, nothing is recovered or written again.
  restart();
  EXPECT_EQ(pool_->information().recovered_open_records, 0u);
  pool_->shutdown();
  EXPECT_EQ(readCard(cf()).size(), 2u);
}

TEST_F(BillPoolTest, OnlyTheLastCompleteCheckpointCounts) {
  open();
  engine_ = std::make_unique<ChargingEngine>(config_, tz_, *pool_, *seq_);
  ChargingSessionInfo s;
  s.session_id = 7;
  s.served_address = testing::ip("10.0.0.7");
  engine_->open(s, clock_.wallNs());
  engine_->usage(7, 1, FlowCounters{10, 1, 20, 1}, clock_.wallNs());
  pool_->checkpoint(engine_->snapshotOpen(clock_.wallNs()), clock_.wallNs());
  clock_.advanceMs(int64_t{config_.local_bill.bill_pool.checkpoint_interval_s} * 1000);
  ASSERT_TRUE(pool_->checkpointDue(clock_.wallNs()));
  engine_->usage(7, 1, FlowCounters{300, 1, 400, 1}, clock_.wallNs());
  pool_->checkpoint(engine_->snapshotOpen(clock_.wallNs()), clock_.wallNs());
  ASSERT_TRUE(pool_->waitCommitted(kWait));
  crash();
  open();
  EXPECT_EQ(pool_->information().recovered_open_records, 1u);
  ASSERT_EQ(pool_->size(), 1u);
  EXPECT_EQ(pool_->cache(1, 1)[0].info.ul_octets, 310u);
  EXPECT_EQ(pool_->cache(1, 1)[0].info.dl_octets, 420u);
  pool_->shutdown();
  std::vector<Decoded> records = readCard(cf());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].ul, 310u);
  EXPECT_EQ(records[0].dl, 420u);
  EXPECT_EQ(records[0].cause, cdr::Cause::kAbnormalRelease);
}

// ---------------------------------------------------------------------------------------------
// 5. A full CF card without a bill server.

TEST_F(BillPoolTest, FullCardDropsNewBillsCountsThemAndAlarmsOnce) {
  // Room for two files of 5 and not for one more bill.
  config_.local_bill.cfcard.capacity_bytes = fileBytes(5) * 2 + recordBytes() / 2;
  ASSERT_EQ(config_.local_bill.cfcard.overflow, CfCardOverflow::kDropNew);
  open();
  emit(10);
  tick();
  settle();
  ASSERT_EQ(cdrFiles(cf()).size(), 2u);
  for (const std::string& n : cdrFiles(cf())) EXPECT_EQ(fs::file_size(cf() + "/" + n), fileBytes(5));
  std::map<std::string, std::vector<uint8_t>> stored;
  for (const std::string& n : cdrFiles(cf())) stored[n] = readBytes(cf() + "/" + n);

  // A file's worth waits in the (invisible) pool, journaled; the rest is dropped.
  emit(5);
  const std::map<uint64_t, Usage> before_drop = emitted_;
  emit(7);
  tick();
  ASSERT_TRUE(pool_->waitIdle(kWait));
  tick();
  PoolInformation info = pool_->information();
  const DropCounters& d = info.dropped[size_t(DropCause::kCfcardFull)];
  EXPECT_EQ(d.bills, 7u);
  Usage dropped;
  for (const auto& [lsn, u] : emitted_) {
    if (!before_drop.count(lsn)) {
      dropped.ul += u.ul;
      dropped.dl += u.dl;
    }
  }
  EXPECT_EQ(d.ul_octets, dropped.ul);
  EXPECT_EQ(d.dl_octets, dropped.dl);
  EXPECT_TRUE(info.full_alarm.raised);
  EXPECT_EQ(info.full_alarm.raised_count, 1u) << "once per crossing, not per bill";
  EXPECT_NE(info.full_alarm.text.find("dropped"), std::string::npos) << info.full_alarm.text;
  EXPECT_EQ(info.emitted, 22u);
  EXPECT_EQ(pool_->size(), 5u);
  // Nothing stored was touched.
  EXPECT_EQ(cdrFiles(cf()).size(), 2u);
  for (const auto& [n, bytes] : stored) EXPECT_EQ(readBytes(cf() + "/" + n), bytes) << n;
  // Conservation: emitted = in files + waiting + dropped.
  Usage sum;
  for (const Decoded& r : readCard(cf())) {
    sum.ul += r.ul;
    sum.dl += r.dl;
  }
  for (const CachedBill& c : pool_->cache(1, 100)) {
    sum.ul += c.info.ul_octets;
    sum.dl += c.info.dl_octets;
  }
  sum.ul += d.ul_octets;
  sum.dl += d.dl_octets;
  EXPECT_EQ(sum.ul, emittedSum().ul);
  EXPECT_EQ(sum.dl, emittedSum().dl);
  // The pool's own balance agrees: closed = kept + dropped at emit.
  EXPECT_EQ(info.emitted_octets, emittedSum().ul + emittedSum().dl);
  EXPECT_EQ(info.kept_octets + d.ul_octets + d.dl_octets, info.emitted_octets);

  // The operator clears the card: the waiting bills go out, their file says how many were lost,
  // the alarm clears.
  auto del = pool_->resetCfcard();
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->files, 2u);
  tick();
  settle();
  tick();
  info = pool_->information();
  EXPECT_FALSE(info.full_alarm.raised);
  EXPECT_EQ(info.full_alarm.raised_count, 1u);
  ASSERT_EQ(cdrFiles(cf()).size(), 1u);
  auto f = cdr::readCdrFile(cf() + "/" + cdrFiles(cf())[0]);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->records.size(), 5u);
  EXPECT_EQ(f->header.lost_cdr_indicator, cdr::lostCdrIndicator(7));
  std::vector<Decoded> records = readCard(cf());
  for (const Decoded& r : records) EXPECT_TRUE(before_drop.count(r.lsn)) << r.lsn;
}

TEST_F(BillPoolTest, FullCardDropOldestDeletesTheOldestFilesAndCountsThem) {
  config_.local_bill.cfcard.capacity_bytes = fileBytes(5) * 2 + recordBytes() / 2;
  config_.local_bill.cfcard.overflow = CfCardOverflow::kDropOldest;
  open();
  emit(10);
  tick();
  settle();
  ASSERT_EQ(cdrFiles(cf()).size(), 2u);
  const std::string oldest = cdrFiles(cf())[0];
  const std::string second = cdrFiles(cf())[1];
  const std::vector<uint8_t> second_bytes = readBytes(cf() + "/" + second);
  std::vector<Decoded> lost_records = readCard(cf());
  lost_records.resize(5);  // those of the oldest file (sorted by name = by sequence)
  for (const Decoded& r : lost_records) ASSERT_EQ(r.file, oldest);

  emit(5);
  tick();
  settle();
  PoolInformation info = pool_->information();
  EXPECT_EQ(info.dropped[size_t(DropCause::kCfcardFull)].bills, 0u) << "no new bill dropped";
  EXPECT_EQ(info.dropped[size_t(DropCause::kDropOldest)].bills, 5u);
  // The octets of the deleted file, read from it before it went: the balance's drop-oldest term.
  uint64_t lost_ul = 0, lost_dl = 0;
  for (const Decoded& r : lost_records) {
    lost_ul += r.ul;
    lost_dl += r.dl;
  }
  EXPECT_GT(lost_ul + lost_dl, 0u);
  EXPECT_EQ(info.dropped[size_t(DropCause::kDropOldest)].ul_octets, lost_ul);
  EXPECT_EQ(info.dropped[size_t(DropCause::kDropOldest)].dl_octets, lost_dl);
  // Raised once when files had to go, cleared once there was room again.
  EXPECT_EQ(info.full_alarm.raised_count, 1u);
  // Every bill closed was kept (drop-oldest deletes kept bills; nothing dropped at emit).
  EXPECT_EQ(info.emitted_octets, info.kept_octets);
  EXPECT_EQ(pool_->size(), 0u);
  std::vector<std::string> now = cdrFiles(cf());
  ASSERT_EQ(now.size(), 2u);
  EXPECT_EQ(now[0], second);
  EXPECT_FALSE(fs::exists(cf() + "/" + oldest));
  EXPECT_EQ(readBytes(cf() + "/" + second), second_bytes);
  // Conservation: every bill is on the card or in the deleted file.
  std::vector<Decoded> records = readCard(cf());
  EXPECT_EQ(records.size(), 10u);
  for (const Decoded& r : lost_records) records.push_back(r);
  expectExactlyOnce(records);
  // The next file reports the bills deleted to make room.
  auto f = cdr::readCdrFile(cf() + "/" + now[1]);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->header.lost_cdr_indicator, cdr::lostCdrIndicator(5));
}

// ---------------------------------------------------------------------------------------------
// 6. The bill server.

class BillPoolTransferTest : public BillPoolTest {
 protected:
  BillPoolTransferTest() : server_("tally-billserver") {
    BillServerConfig s;
    s.address = testing::ip("192.0.2.99");
    s.filename = "gwbills";
    config_.local_bill.bill_server = s;
    config_.local_bill.cfcard.backup_interval_min = 1;
    state_->server_dir = server_.path();
  }
  void openWithServer() { open(std::make_unique<testing::ScriptedTransport>(state_)); }
  // The cfcard backup interval passes: the files on the card are queued.
  void interval() {
    clock_.advanceMs(int64_t{config_.local_bill.cfcard.backup_interval_min} * 60 * 1000 + 1000);
    tick();
  }

  testing::TempDir server_;
  std::shared_ptr<testing::ScriptedTransport::State> state_ =
      std::make_shared<testing::ScriptedTransport::State>();
};

TEST_F(BillPoolTransferTest, CardFilesAreDeliveredAndDeletedLocally) {
  openWithServer();
  emit(5);
  tick();
  settle();
  ASSERT_EQ(cdrFiles(cf()).size(), 1u);
  const std::vector<uint8_t> local = readBytes(cf() + "/" + cdrFiles(cf())[0]);
  EXPECT_EQ(state_->callCount(), 0u) << "nothing is sent before the interval";
  interval();
  ASSERT_TRUE(state_->waitForCalls(1, std::chrono::seconds(5)));
  ASSERT_TRUE(waitUntil([&] { return cdrFiles(cf()).empty(); }, std::chrono::seconds(5)));
  ASSERT_TRUE(waitUntil([&] { return pool_->information().transfer->delivered_files == 1; },
                        std::chrono::seconds(5)));
  std::vector<std::string> remote = cdrFiles(server_.path());
  ASSERT_EQ(remote.size(), 1u);
  EXPECT_EQ(remote[0].rfind("gwbills-", 0), 0u) << remote[0];
  EXPECT_EQ(readBytes(server_.path() + "/" + remote[0]), local);
  expectExactlyOnce(readCard(server_.path()));
  EXPECT_TRUE(filesEndingIn(cf(), ".xfer").empty());
  PoolInformation info = pool_->information();
  EXPECT_EQ(info.cfcard.files, 0u);
  EXPECT_EQ(info.transfer->delivered_bills, 5u);
  EXPECT_EQ(info.transfer_protocol, "scripted");
  EXPECT_FALSE(info.transfer_alarm.raised);
  EXPECT_EQ(state_->callCount(), 1u);
}

TEST_F(BillPoolTransferTest, FailingServerRaisesTheAlarmKeepsTheFileAndRetries) {
  state_->push(TransferStatus::kRemote);
  openWithServer();
  emit(5);
  tick();
  settle();
  ASSERT_EQ(cdrFiles(cf()).size(), 1u);
  const std::string name = cdrFiles(cf())[0];
  interval();
  ASSERT_TRUE(state_->waitForCalls(1, std::chrono::seconds(5)));
  ASSERT_TRUE(waitUntil([&] { return pool_->information().transfer->failing; },
                        std::chrono::seconds(5)));
  tick();
  PoolInformation info = pool_->information();
  EXPECT_TRUE(info.transfer_alarm.raised);
  EXPECT_EQ(info.transfer_alarm.raised_count, 1u);
  EXPECT_NE(info.transfer_alarm.text.find("failing"), std::string::npos) << info.transfer_alarm.text;
  EXPECT_TRUE(fs::exists(cf() + "/" + name)) << "kept until the server has it";
  EXPECT_TRUE(cdrFiles(server_.path()).empty());
  tick();
  EXPECT_EQ(pool_->information().transfer_alarm.raised_count, 1u);
  // Retried after the backoff, by itself: the same remote name, delivered, deleted locally.
  ASSERT_TRUE(state_->waitForCalls(2, std::chrono::seconds(10)));
  ASSERT_TRUE(waitUntil([&] { return !fs::exists(cf() + "/" + name); }, std::chrono::seconds(5)));
  ASSERT_TRUE(waitUntil([&] { return !pool_->information().transfer->failing; },
                        std::chrono::seconds(5)));
  tick();
  info = pool_->information();
  EXPECT_FALSE(info.transfer_alarm.raised);
  EXPECT_EQ(info.transfer_alarm.raised_count, 1u);
  std::vector<testing::ScriptedTransport::Call> calls = state_->callsCopy();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].remote_name, calls[1].remote_name);
  ASSERT_EQ(cdrFiles(server_.path()).size(), 1u);
  expectExactlyOnce(readCard(server_.path()));
}

TEST_F(BillPoolTransferTest, ManualCardBackupSendsNowUnderTheGivenName) {
  openWithServer();
  emit(7);
  tick();
  settle();
  ASSERT_EQ(cdrFiles(cf()).size(), 2u);
  auto bad = pool_->backupCfcard("a/b");
  EXPECT_FALSE(bad.ok());
  auto r = pool_->backupCfcard("manual");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NE(r.value().find("2 files"), std::string::npos) << r.value();
  ASSERT_TRUE(waitUntil([&] { return cdrFiles(cf()).empty(); }, std::chrono::seconds(5)));
  std::vector<std::string> remote = cdrFiles(server_.path());
  ASSERT_EQ(remote.size(), 2u);
  for (const std::string& n : remote) EXPECT_EQ(n.rfind("manual-", 0), 0u) << n;
  expectExactlyOnce(readCard(server_.path()));
}

// ---------------------------------------------------------------------------------------------
// 7. local-bill cfcard reset

TEST_F(BillPoolTest, ResetCfcardDeletesBillFilesOnlyAndNumberingGoesOn) {
  open();
  emit(12);
  tick();
  settle();
  emit(3);  // waiting in the pool: not on the card, not touched
  ASSERT_TRUE(pool_->waitCommitted(kWait));
  const std::vector<std::string> before = cdrFiles(cf());
  ASSERT_EQ(before.size(), 3u);
  uint64_t bytes = 0;
  uint32_t last_seq = 0;
  for (const std::string& n : before) {
    bytes += fs::file_size(cf() + "/" + n);
    last_seq = std::max(last_seq, cdr::readCdrFile(cf() + "/" + n)->header.file_sequence_number);
  }
  {
    std::ofstream(cf() + "/notes.txt") << "not a bill";
  }
  auto del = pool_->resetCfcard();
  ASSERT_TRUE(del.ok()) << del.error().message;
  EXPECT_EQ(del->files, 3u);
  EXPECT_EQ(del->bills, 12u);
  EXPECT_EQ(del->bytes, bytes);
  std::vector<std::string> names = del->names;
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, before);
  EXPECT_TRUE(cdrFiles(cf()).empty());
  EXPECT_TRUE(fs::exists(cf() + "/notes.txt"));
  EXPECT_TRUE(fs::exists(cf() + "/.tally.lock"));
  EXPECT_FALSE(lastSegment(journalDir()).empty()) << "the journal stays";
  EXPECT_TRUE(fs::exists(config_.node.state_dir + "/" + SequenceStore::kFileName));
  EXPECT_EQ(pool_->information().cfcard.files, 0u);
  EXPECT_EQ(pool_->information().cfcard.bytes, 0u);
  EXPECT_EQ(pool_->size(), 3u);

  emit(2);
  pool_->shutdown();
  std::vector<Decoded> records = readCard(cf());
  ASSERT_EQ(records.size(), 5u);
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].lsn, 13 + i) << "numbers go on after the reset";
    EXPECT_GT(records[i].file_sequence, last_seq);
  }
  // The deleted bills do not come back.
  restart();
  EXPECT_EQ(pool_->size(), 0u);
  pool_->shutdown();
  EXPECT_EQ(readCard(cf()).size(), 5u);
}

// ---------------------------------------------------------------------------------------------
// 8. One daemon per state directory and per CF card.

TEST_F(BillPoolTest, SecondOpenOnTheSameStateDirOrCardIsRefused) {
  open();
  auto second = BillPool::open(config_, tz_, *seq_, clock_, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("node.state_dir " + config_.node.state_dir +
                                        " is in use by another tallyd"),
            std::string::npos)
      << second.error().message;

  Config other = config_;
  other.node.state_dir = dir_.path() + "/state2";
  auto s2 = SequenceStore::open(other.node.state_dir + "/" + SequenceStore::kFileName);
  ASSERT_TRUE(s2.ok());
  auto third = BillPool::open(other, tz_, *s2.value(), clock_, nullptr);
  ASSERT_FALSE(third.ok());
  EXPECT_NE(third.error().message.find("CF card " + cf() + " is in use by another tallyd"),
            std::string::npos)
      << third.error().message;

  // The first one goes on unharmed.
  emit(5);
  tick();
  settle();
  expectExactlyOnce(readCard(cf()));
  // Once it is gone, the directory can be opened again.
  restart();
  EXPECT_EQ(pool_->size(), 0u);
}

// ---------------------------------------------------------------------------------------------
// 9. The pool alarm: raised at the threshold, cleared 5 points below it.

TEST_F(BillPoolTest, PoolAlarmHysteresis) {
  config_.local_bill.bill_pool.enable = true;
  config_.local_bill.bill_pool.capacity_bills = 20;
  config_.local_bill.cache.backup_mode = CacheBackupMode::kNone;
  config_.local_bill.cache.alarm_threshold_pct = 50;
  config_.accounting.cdr.file_max_records = 2;
  // The card takes one file of 2 bills: a backup moves 2 bills at a time.
  config_.local_bill.cfcard.capacity_bytes = fileBytes(2) + recordBytes() / 2;
  open();
  auto alarm = [&] { return pool_->information().pool_alarm; };
  auto backupTwo = [&] {
    auto r = pool_->backupCache(CacheBackupMode::kCfcard);
    ASSERT_TRUE(r.ok()) << r.error().message;
    settle();
    tick();
  };

  emit(9);
  tick();
  EXPECT_FALSE(alarm().raised) << "45% < 50%";
  emit(1);
  tick();
  EXPECT_TRUE(alarm().raised) << "50%";
  EXPECT_EQ(alarm().raised_count, 1u);
  EXPECT_NE(alarm().text.find("50%"), std::string::npos) << alarm().text;
  emit(1);
  tick();
  tick();
  EXPECT_TRUE(alarm().raised);
  EXPECT_EQ(alarm().raised_count, 1u);

  backupTwo();  // 11 -> 9 bills: 45%, not 5 points below 50
  EXPECT_EQ(pool_->size(), 9u);
  EXPECT_TRUE(alarm().raised);
  EXPECT_EQ(alarm().raised_count, 1u);

  ASSERT_TRUE(pool_->resetCfcard().ok());
  backupTwo();  // 9 -> 7 bills: 35%
  EXPECT_EQ(pool_->size(), 7u);
  EXPECT_FALSE(alarm().raised);
  EXPECT_EQ(alarm().raised_count, 1u);
  tick();
  EXPECT_FALSE(alarm().raised);

  emit(2);  // 45%: below the threshold, no alarm
  tick();
  EXPECT_FALSE(alarm().raised);
  emit(1);  // 50% again: raised a second time
  tick();
  EXPECT_TRUE(alarm().raised);
  EXPECT_EQ(alarm().raised_count, 2u);
}

// ---------------------------------------------------------------------------------------------
// 10. Found by the end-to-end test (tests/bill/pool_it.py) and the operations review.

// A burst closed in one poll (sessions ending together) with the card nearly full and no
// server: what the card cannot take beyond one file's worth is dropped at once, not left to
// wait beyond the card's capacity because the card's books had not seen the burst yet.
TEST_F(BillPoolTest, BurstBeyondTheCardWithTheServerDownIsDroppedAtOnce) {
  config_.local_bill.cfcard.capacity_bytes = fileBytes(5) * 2 + recordBytes() / 2;
  open();
  emit(22);  // no tick in between: one poll's worth
  PoolInformation info = pool_->information();
  EXPECT_EQ(info.dropped[size_t(DropCause::kCfcardFull)].bills, 7u)
      << "10 fit on the card, 5 (a file's worth) may wait, 7 have no room";
  EXPECT_EQ(pool_->size(), 15u);
  EXPECT_TRUE(info.full_alarm.raised);
  tick();
  settle();
  tick();
  EXPECT_EQ(cdrFiles(cf()).size(), 2u);
  EXPECT_EQ(pool_->size(), 5u);
  info = pool_->information();
  EXPECT_EQ(info.kept_octets + info.droppedAtEmitOctets(), info.emitted_octets);
  EXPECT_LE(info.cfcard.bytes, *config_.local_bill.cfcard.capacity_bytes);
}

// An enabled pool at its capacity whose overflow the card cannot take, with no server: new
// bills are dropped (counted, alarmed) instead of the pool growing past its capacity.
TEST_F(BillPoolTest, EnabledPoolAtCapacityWithTheCardFullDropsInsteadOfGrowing) {
  config_.local_bill.bill_pool.enable = true;
  config_.local_bill.bill_pool.capacity_bills = 4;
  config_.local_bill.cache.backup_mode = CacheBackupMode::kNone;
  config_.local_bill.cfcard.capacity_bytes = fileBytes(2) + recordBytes() / 2;
  open();
  for (int i = 0; i < 10; ++i) {
    emit(1);
    tick();
  }
  settle();
  tick();
  PoolInformation info = pool_->information();
  EXPECT_LE(pool_->size(), 4u) << "the pool never holds more than its capacity";
  const uint64_t on_card = info.cfcard.bills;
  EXPECT_EQ(on_card + pool_->size() + info.dropped[size_t(DropCause::kCfcardFull)].bills, 10u);
  EXPECT_GT(info.dropped[size_t(DropCause::kCfcardFull)].bills, 0u);
  EXPECT_EQ(info.full_alarm.raised_count, 1u);
  EXPECT_EQ(info.kept_octets + info.droppedAtEmitOctets(), info.emitted_octets);
}

// A failed write (here: the card's directory replaced by a file) raises the write alarm at the
// next poll, keeps the bills, and is tried again by itself - also after a manual backup with
// backup_mode none, where no trigger of the mode would move the bills again.
TEST_F(BillPoolTest, FailedManualWriteIsRetriedByItself) {
  config_.local_bill.bill_pool.enable = true;
  config_.local_bill.bill_pool.capacity_bills = 100;
  config_.local_bill.cache.backup_mode = CacheBackupMode::kNone;
  open();
  emit(3);
  tick();
  ASSERT_TRUE(pool_->waitCommitted(kWait));
  fs::rename(cf(), cf() + ".away");
  { std::ofstream(cf()) << "not a directory"; }
  auto r = pool_->backupCache(CacheBackupMode::kCfcard);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(pool_->waitIdle(kWait));
  tick();
  PoolInformation info = pool_->information();
  EXPECT_TRUE(info.write_alarm.raised) << "raised at the first poll after the failure";
  EXPECT_EQ(pool_->size(), 3u) << "the bills stay pooled";
  fs::remove(cf());
  fs::rename(cf() + ".away", cf());
  clock_.advanceMs(1000);
  tick();
  ASSERT_TRUE(pool_->waitIdle(kWait));
  EXPECT_TRUE(cdrFiles(cf()).empty()) << "not before the retry interval";
  clock_.advanceMs(5000);
  tick();
  settle();
  tick();
  info = pool_->information();
  EXPECT_FALSE(info.write_alarm.raised);
  EXPECT_EQ(pool_->size(), 0u);
  expectExactlyOnce(readCard(cf()));
}

// Files the cache put in the outbox (backup_mode sftp/tftp) that were not sent before a stop
// are sent after the start, under the default stem node.id when bill_server.filename is empty.
TEST_F(BillPoolTransferTest, OutboxFilesFromBeforeTheStartAreSent) {
  config_.local_bill.bill_server->filename.clear();
  openWithServer();
  crash();
  const std::string outbox = config_.node.state_dir + "/outbox";
  ASSERT_TRUE(fs::is_directory(outbox));
  const std::vector<uint8_t> bytes = {1, 2, 3, 4, 5, 6, 7};
  {
    std::ofstream f(outbox + "/gw-test_20261207000000_00000001.cdr", std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
  openWithServer();
  ASSERT_TRUE(waitUntil([&] { return cdrFiles(outbox).empty(); }, std::chrono::seconds(10)));
  std::vector<std::string> remote = cdrFiles(server_.path());
  ASSERT_EQ(remote.size(), 1u);
  EXPECT_EQ(remote[0].rfind("gw-test-", 0), 0u) << "default stem node.id: " << remote[0];
  EXPECT_EQ(readBytes(server_.path() + "/" + remote[0]), bytes);
}

// drop-oldest with the server down once the fill threshold queued every file on the card: the
// queued files behind the head are not protected, so room is still made (before, every queued
// file counted as busy and drop-oldest could delete nothing).
TEST_F(BillPoolTransferTest, DropOldestWorksWhileTheWholeCardIsQueued) {
  config_.local_bill.cfcard.capacity_bytes = fileBytes(5) * 2 + recordBytes() / 2;
  config_.local_bill.cfcard.overflow = CfCardOverflow::kDropOldest;
  for (int i = 0; i < 50; ++i) state_->push(TransferStatus::kConnect);
  openWithServer();
  emit(10);
  tick();
  settle();
  tick();
  ASSERT_EQ(cdrFiles(cf()).size(), 2u);
  interval();  // both files queued; the first attempt fails: the server is down
  ASSERT_TRUE(waitUntil([&] { return pool_->information().transfer->failing; },
                        std::chrono::seconds(5)));
  ASSERT_EQ(pool_->information().transfer->queued_files, 2u);
  emit(5);
  tick();
  settle();
  tick();
  PoolInformation info = pool_->information();
  EXPECT_EQ(info.dropped[size_t(DropCause::kDropOldest)].bills, 5u);
  EXPECT_EQ(pool_->size(), 0u) << "the new bills found room";
  EXPECT_EQ(cdrFiles(cf()).size(), 2u);
  EXPECT_EQ(info.dropped[size_t(DropCause::kCfcardFull)].bills, 0u);
}

// ---------------------------------------------------------------------------------------------
// Local bills (local_bill.h, docs/local-bill.md): numbered with the CDRs, in the same files,
// durable and replayed exactly once, apart from the CDR bill balance, counted by reason.

class LocalBillPoolTest : public BillPoolTest {
 protected:
  LocalBill localBill(uint64_t session, LocalBillReason reason) {
    LocalBill b;
    b.acct_session_id = "acct-" + std::to_string(session);
    b.session_id = session;
    b.user_name = "user" + std::to_string(session);
    b.imsi = "001010123456789";
    b.msisdn = "491701234567";
    b.nas_identifier = config_.node.id;
    b.start_ns = clock_.wallNs() / kNsPerS * kNsPerS - 600 * kNsPerS;
    b.stop_ns = clock_.wallNs() / kNsPerS * kNsPerS;
    b.session_time_s = 600;
    b.ip.family = 4;
    b.ip.v4 = 0x0A2D0000u + uint32_t(session);
    b.ul_octets = (uint64_t{1} << 32) + session;  // above 4 GiB
    b.dl_octets = 7'000'000'000ull + session;
    b.ul_packets = 5'000'000 + session;
    b.dl_packets = 6'000'000 + session;
    b.terminate_cause = 1;
    b.reason = reason;
    return b;
  }
  // Emits a local bill, remembers it by its number.
  uint64_t emitLocal(uint64_t session, LocalBillReason reason) {
    LocalBill b = localBill(session, reason);
    const uint64_t n = pool_->emitLocalBill(b);
    EXPECT_NE(n, 0u) << "local bill of session " << session << " dropped";
    b.number = n;
    EXPECT_TRUE(local_.emplace(n, b).second) << "number " << n << " twice";
    return n;
  }
  // Every record of every bill file of `dir` in file order: the CDRs (as readCard would) and
  // the local bills.
  void readAll(const std::string& dir, std::vector<Decoded>& cdrs, std::vector<LocalBill>& locals,
               std::vector<uint64_t>* order = nullptr) {
    for (const std::string& name : cdrFiles(dir)) {
      auto f = cdr::readCdrFile(dir + "/" + name);
      ASSERT_TRUE(f.ok()) << f.error().message;
      for (const cdr::CdrFileRecord& rec : f->records) {
        if (isLocalBillRecord(rec.data)) {
          auto b = decodeLocalBill(rec.data);
          ASSERT_TRUE(b.ok()) << name << ": " << b.error().message;
          locals.push_back(b.value());
          if (order) order->push_back(b->number);
          continue;
        }
        auto r = cdr::decodePgwRecord(rec.data);
        ASSERT_TRUE(r.ok()) << name << ": " << r.error().message;
        Decoded d;
        d.file = name;
        d.lsn = r->local_sequence_number;
        for (const cdr::TrafficContainer& t : r->traffic_volumes) {
          d.ul += t.uplink_octets;
          d.dl += t.downlink_octets;
        }
        cdrs.push_back(d);
        if (order) order->push_back(d.lsn);
      }
    }
  }
  // Every local bill emitted is in `locals` exactly once with every field as emitted.
  void expectLocalsExactlyOnce(const std::vector<LocalBill>& locals) {
    std::map<uint64_t, int> n;
    for (const LocalBill& b : locals) {
      ++n[b.number];
      auto e = local_.find(b.number);
      ASSERT_NE(e, local_.end()) << "local bill " << b.number << " never emitted";
      EXPECT_EQ(b, e->second) << "local bill " << b.number;
    }
    EXPECT_EQ(n.size(), local_.size());
    for (const auto& [num, count] : n) EXPECT_EQ(count, 1) << "local bill " << num;
  }


  // Drop-oldest deletes a file holding a local bill: the bills count includes it, the octets
  // (the CDR balance's drop-oldest term) are the CDRs' only, whether the file's usage is known
  // from this run (moveOut) or read from the file at the next start (cdr::fileUsage).
  void dropOldestWithALocalBill(bool restart_before_the_drop) {
    ber::DerWriter scratch;
    auto lb = encodeLocalBillForFile(localBill(3, LocalBillReason::kStopUnanswered),
                                     config_.accounting.cdr.format, *tz_, scratch);
    ASSERT_TRUE(lb.ok());
    const uint64_t first_file = fileBytes(4) + lb->size() + cdr::cdrRecordOverhead(config_.accounting.cdr.format);
    ASSERT_LT(first_file, fileBytes(5)) << "a local bill is smaller than these CDRs";
    // Room for the two files and not for a third of 5: deleting the first makes room.
    config_.local_bill.cfcard.capacity_bytes = fileBytes(5) * 2 + recordBytes() / 2;
    config_.local_bill.cfcard.overflow = CfCardOverflow::kDropOldest;
    open();
    emit(2);
    emitLocal(3, LocalBillReason::kStopUnanswered);
    emit(2);
    tick();
    settle();
    emit(5);
    tick();
    settle();
    ASSERT_EQ(cdrFiles(cf()).size(), 2u);
    ASSERT_EQ(fs::file_size(cf() + "/" + cdrFiles(cf())[0]), first_file);
    Usage lost;
    for (const auto& [lsn, u] : emitted_) {
      if (lsn <= 5) {
        lost.ul += u.ul;
        lost.dl += u.dl;
      }
    }
    if (restart_before_the_drop) restart();
    emit(5);
    tick();
    settle();
    const PoolInformation info = pool_->information();
    const DropCounters& d = info.dropped[size_t(DropCause::kDropOldest)];
    EXPECT_EQ(d.bills, 5u) << "4 CDRs and the local bill";
    EXPECT_EQ(d.ul_octets, lost.ul) << "CDR octets only";
    EXPECT_EQ(d.dl_octets, lost.dl);
    EXPECT_EQ(info.emitted_octets, info.kept_octets);
    EXPECT_TRUE(info.balanced());
  }
  std::map<uint64_t, LocalBill> local_;
};

TEST_F(LocalBillPoolTest, BetweenCdrsItGetsTheNextNumberAndLandsInTheCardFileApartFromTheBalance) {
  open();
  emit(2);
  const uint64_t n = emitLocal(501, LocalBillReason::kStopUnanswered);
  EXPECT_EQ(n, 3u) << "the CDRs' numbering: 1, 2, then the local bill";
  emit(2);
  tick();  // 5 records = file_max_records: one file
  settle();
  ASSERT_EQ(cdrFiles(cf()).size(), 1u);
  std::vector<Decoded> cdrs;
  std::vector<LocalBill> locals;
  std::vector<uint64_t> order;
  readAll(cf(), cdrs, locals, &order);
  EXPECT_EQ(order, (std::vector<uint64_t>{1, 2, 3, 4, 5})) << "gap-free, in emit order";
  expectExactlyOnce(cdrs);
  expectLocalsExactlyOnce(locals);
  // The file reader's usage keeps the ledgers apart.
  auto u = cdr::fileUsage(cf() + "/" + cdrFiles(cf())[0]);
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->records, 4u);
  EXPECT_EQ(u->undecodable, 0u);
  EXPECT_EQ(u->ul_octets, emittedSum().ul);
  EXPECT_EQ(u->dl_octets, emittedSum().dl);
  EXPECT_EQ(u->local_bills, 1u);
  EXPECT_EQ(u->local_ul_octets, local_.at(3).ul_octets);
  EXPECT_EQ(u->local_dl_octets, local_.at(3).dl_octets);
  // The CDR balance holds with the CDRs alone; the local bill is counted apart, by reason.
  const PoolInformation info = pool_->information();
  EXPECT_EQ(info.emitted, 4u);
  EXPECT_EQ(info.emitted_octets, emittedSum().ul + emittedSum().dl);
  EXPECT_EQ(info.kept_octets, info.emitted_octets);
  EXPECT_TRUE(info.balanced());
  EXPECT_EQ(info.local.emitted, 1u);
  EXPECT_EQ(info.local.kept, 1u);
  EXPECT_EQ(info.local.emitted_octets, local_.at(3).ul_octets + local_.at(3).dl_octets);
  EXPECT_EQ(info.local.by_reason[size_t(LocalBillReason::kStopUnanswered)], 1u);
  EXPECT_TRUE(info.local.balanced());
  // tallyctl decode shows it among the CDRs.
  auto j = cdr::decodeCdrFileToJson(cf() + "/" + cdrFiles(cf())[0]);
  ASSERT_TRUE(j.ok());
  ASSERT_EQ(j->size(), 5u);
  EXPECT_EQ((*j)[2]["recordType"], "localBill");
  EXPECT_EQ((*j)[2]["billNumber"], 3u);
  EXPECT_EQ((*j)[2]["acctSessionId"], "acct-501");
  EXPECT_EQ((*j)[2]["uplinkOctets"], (uint64_t{1} << 32) + 501);
  EXPECT_EQ((*j)[2]["reason"], "stop-unanswered (1)");
  EXPECT_FALSE((*j)[2].contains("error"));
  EXPECT_EQ((*j)[1]["recordType"], "pGWRecord (85)");
  // The summary names the local bills apart from the balance.
  const std::string summary = formatLocalBillSummary(*pool_);
  EXPECT_NE(summary.find("Bill balance: closed " + std::to_string(info.emitted_octets)),
            std::string::npos) << summary;
  EXPECT_NE(summary.find("Local bills: 1 written"), std::string::npos) << summary;
}

TEST_F(LocalBillPoolTest, CdrBillEntriesKeepTheOldJournalFormat) {
  // A CDR's BILL entry ends with its record (u32 length + octets) as before local bills: old
  // journals replay unchanged and an older tally can read a newer journal's CDR entries.
  open();
  emit(1);
  emitLocal(7, LocalBillReason::kShutdown);
  ASSERT_TRUE(pool_->waitCommitted(kWait));
  crash();
  const std::string seg = lastSegment(journalDir());
  const std::vector<uint8_t> b = readBytes(seg);
  const std::vector<JournalEntry> entries = journalEntries(seg);
  std::vector<JournalEntry> bills;
  for (const JournalEntry& e : entries) {
    if (e.type == kEntryBill) bills.push_back(e);
  }
  ASSERT_EQ(bills.size(), 2u);
  ber::DerWriter scratch;
  auto rec = cdr::encodeRecordForFile(record(1, 1010, 20007, 0x10000001u),
                                      config_.accounting.cdr.format, *tz_, scratch);
  ASSERT_TRUE(rec.ok());
  const size_t end = bills[0].offset + kEntryHeader + bills[0].length;
  ASSERT_GE(bills[0].length, rec->size() + 4);
  EXPECT_EQ(le32(b, end - rec->size() - 4), rec->size());
  EXPECT_TRUE(std::equal(rec->begin(), rec->end(), b.begin() + (end - rec->size())));
  // The local bill's entry is longer than info + record: its own fields follow the record.
  open();
  EXPECT_EQ(pool_->size(), 2u);
  const std::vector<CachedBill> c = pool_->cache(1, 10);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].info.kind, BillKind::kCdr);
  EXPECT_EQ(c[1].info.kind, BillKind::kLocal);
  EXPECT_EQ(c[1].info.reason, LocalBillReason::kShutdown);
  EXPECT_EQ(c[1].info.acct_session_id, "acct-7");
}

TEST_F(LocalBillPoolTest, SurvivesCrashesAndReplayExactlyOnceAndTheCacheShowsIt) {
  config_.local_bill.bill_pool.enable = true;
  config_.local_bill.bill_pool.capacity_bills = 100;
  config_.local_bill.cache.backup_mode = CacheBackupMode::kNone;
  open();
  emit(2);
  emitLocal(11, LocalBillReason::kStartUnansweredOnline);
  emit(1);
  emitLocal(12, LocalBillReason::kNotSent);
  ASSERT_TRUE(pool_->waitCommitted(kWait));
  crash();  // kill -9: the pool is the journal

  open();
  ASSERT_EQ(pool_->size(), 5u);
  std::vector<CachedBill> c = pool_->cache(1, 10);
  ASSERT_EQ(c.size(), 5u);
  EXPECT_EQ(c[2].info.kind, BillKind::kLocal);
  EXPECT_EQ(c[2].info.number, 3u);
  EXPECT_EQ(c[2].info.reason, LocalBillReason::kStartUnansweredOnline);
  EXPECT_EQ(c[2].info.acct_session_id, "acct-11");
  EXPECT_EQ(c[2].info.user_name, "user11");
  EXPECT_EQ(c[2].info.ul_octets, local_.at(3).ul_octets);
  EXPECT_EQ(c[4].info.reason, LocalBillReason::kNotSent);
  EXPECT_EQ(c[3].info.kind, BillKind::kCdr);
  // Numbering continues after the replayed numbers.
  EXPECT_EQ(emitLocal(13, LocalBillReason::kInterimUnansweredOffline), 6u);
  ASSERT_TRUE(pool_->waitCommitted(kWait));

  // display local-bill cache, text and JSON.
  CommandRegistry registry;
  registerLocalBillCommands(registry, pool_.get());
  Reply text = registry.dispatch({"display", "local-bill", "cache", "1", "10"});
  ASSERT_TRUE(text.ok) << text.error;
  EXPECT_NE(text.text.find("Bills 1-6 of 6"), std::string::npos) << text.text;
  EXPECT_NE(text.text.find("local bill (start-unanswered-online)"), std::string::npos) << text.text;
  EXPECT_NE(text.text.find("acct-11"), std::string::npos) << text.text;
  EXPECT_NE(text.text.find("Kind                          : CDR"), std::string::npos) << text.text;
  Reply json = registry.dispatch({"display", "local-bill", "cache", "1", "10", "--json"});
  ASSERT_TRUE(json.ok) << json.error;
  auto arr = nlohmann::json::parse(json.text);
  ASSERT_EQ(arr.size(), 6u);
  EXPECT_EQ(arr[0]["kind"], "cdr");
  EXPECT_FALSE(arr[0].contains("reason"));
  EXPECT_EQ(arr[2]["kind"], "local");
  EXPECT_EQ(arr[2]["reason"], "start-unanswered-online");
  EXPECT_EQ(arr[2]["acct_session_id"], "acct-11");
  EXPECT_EQ(arr[2]["number"], 3u);
  EXPECT_EQ(arr[2]["ul_octets"], (uint64_t{1} << 32) + 11);
  EXPECT_EQ(arr[2]["status"], "committed");
  EXPECT_EQ(arr[5]["reason"], "interim-unanswered-offline");
  Reply info_text = registry.dispatch({"display", "local-bill", "information"});
  ASSERT_TRUE(info_text.ok);
  EXPECT_NE(info_text.text.find("interim-unanswered-offline"), std::string::npos) << info_text.text;
  Reply info_json = registry.dispatch({"display", "local-bill", "information", "--json"});
  ASSERT_TRUE(info_json.ok);
  auto ij = nlohmann::json::parse(info_json.text);
  EXPECT_EQ(ij["local_bills"]["written"], 1u) << "this run's: the replayed ones were counted before";
  EXPECT_EQ(ij["local_bills"]["by_reason"]["interim-unanswered-offline"], 1u);
  EXPECT_EQ(ij["bills_closed"], 0u);

  // Moved to the card, the daemon dies before the move's done is journaled: the next start
  // settles it, every bill once.
  ASSERT_TRUE(pool_->backupCache(CacheBackupMode::kCfcard).ok());
  crash();
  open();
  tick();
  settle();
  ASSERT_TRUE(pool_->backupCache(CacheBackupMode::kCfcard).ok() || pool_->size() == 0);
  tick();
  settle();
  restart();
  EXPECT_EQ(pool_->size(), 0u);
  std::vector<Decoded> cdrs;
  std::vector<LocalBill> locals;
  std::vector<uint64_t> order;
  readAll(cf(), cdrs, locals, &order);
  expectExactlyOnce(cdrs);
  expectLocalsExactlyOnce(locals);
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
}

TEST_F(LocalBillPoolTest, DroppedWhenTheCardIsFullCountedApartFromTheCdrBalance) {
  // Room for two files of 5 and not for one more bill (as FullCardDropsNewBills...).
  config_.local_bill.cfcard.capacity_bytes = fileBytes(5) * 2 + recordBytes() / 2;
  open();
  emit(10);
  tick();
  settle();
  ASSERT_EQ(cdrFiles(cf()).size(), 2u);
  emit(5);  // a file's worth waits
  EXPECT_EQ(pool_->emitLocalBill(localBill(90, LocalBillReason::kStopUnanswered)), 0u);
  emit(1);
  PoolInformation info = pool_->information();
  EXPECT_EQ(info.local.emitted, 1u);
  EXPECT_EQ(info.local.dropped, 1u);
  EXPECT_EQ(info.local.kept, 0u);
  EXPECT_EQ(info.local.dropped_octets, localBill(90, LocalBillReason::kStopUnanswered).ul_octets +
                                           localBill(90, LocalBillReason::kStopUnanswered).dl_octets);
  EXPECT_TRUE(info.local.balanced());
  const DropCounters& d = info.dropped[size_t(DropCause::kCfcardFull)];
  EXPECT_EQ(d.bills, 1u) << "the CDR dropped after it; the local bill is not a CDR drop";
  EXPECT_EQ(info.emitted, 16u);
  EXPECT_EQ(info.emitted_octets, emittedSum().ul + emittedSum().dl);
  EXPECT_TRUE(info.balanced());
  EXPECT_TRUE(info.full_alarm.raised);
  // The gap in the numbering is declared: both drops in the next file's lost-CDR indicator.
  ASSERT_TRUE(pool_->resetCfcard().ok());
  tick();
  settle();
  ASSERT_EQ(cdrFiles(cf()).size(), 1u);
  auto f = cdr::readCdrFile(cf() + "/" + cdrFiles(cf())[0]);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->header.lost_cdr_indicator, cdr::lostCdrIndicator(2));
}

TEST_F(LocalBillPoolTest, AFieldTheRecordCannotCarryIsLeftOutNotTheUsage) {
  open();
  LocalBill b = localBill(31, LocalBillReason::kStopUnanswered);
  b.prefix_length = 32;          // IPv4 host
  b.msisdn = "+49 170 1234567";  // not digits
  const uint64_t n = pool_->emitLocalBill(b);
  ASSERT_NE(n, 0u);
  LocalBill unrecordable = localBill(32, LocalBillReason::kStopUnanswered);
  unrecordable.acct_session_id.clear();  // nothing to mend it with: dropped, counted
  EXPECT_EQ(pool_->emitLocalBill(unrecordable), 0u);
  emit(4);  // 5 pooled: one file
  tick();
  settle();
  std::vector<Decoded> cdrs;
  std::vector<LocalBill> locals;
  readAll(cf(), cdrs, locals);
  ASSERT_EQ(locals.size(), 1u);
  EXPECT_EQ(locals[0].number, n);
  EXPECT_EQ(locals[0].prefix_length, 0);
  EXPECT_TRUE(locals[0].msisdn.empty());
  EXPECT_EQ(locals[0].ul_octets, b.ul_octets);
  const PoolInformation info = pool_->information();
  EXPECT_EQ(info.local.emitted, 2u);
  EXPECT_EQ(info.local.kept, 1u);
  EXPECT_EQ(info.local.dropped, 1u);
  EXPECT_TRUE(info.local.balanced());
  EXPECT_EQ(info.dropped[size_t(DropCause::kEncoding)].bills, 0u) << "not a CDR drop";
  EXPECT_TRUE(info.balanced());
}

TEST_F(LocalBillPoolTest, DropOldestCountsOnlyCdrOctetsOfAFileWithALocalBill) {
  dropOldestWithALocalBill(false);
}

TEST_F(LocalBillPoolTest, DropOldestAfterARestartReadsOnlyCdrOctetsFromTheFile) {
  dropOldestWithALocalBill(true);
}

TEST_F(LocalBillPoolTest, CsvFilesCarryLocalBillLinesApartFromTheCdrOctets) {
  config_.accounting.cdr.format = CdrFormat::kCsv;
  open();
  emit(1);
  emitLocal(21, LocalBillReason::kStartUnansweredOffline);
  emit(3);
  tick();
  settle();
  std::vector<std::string> csv = filesEndingIn(cf(), ".csv");
  ASSERT_EQ(csv.size(), 1u);
  const std::string path = cf() + "/" + csv[0];
  auto u = cdr::fileUsage(path);
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->records, 4u);
  EXPECT_EQ(u->undecodable, 0u);
  // The CDR lines' uplinkOctets / downlinkOctets (the service containers' sums, csvRecordLine).
  Usage cdr_csv;
  for (const auto& [lsn, usage] : emitted_) {
    for (const cdr::ServiceContainer& sc : record(lsn, usage.ul, usage.dl, 0).service_data) {
      cdr_csv.ul += sc.uplink_octets;
      cdr_csv.dl += sc.downlink_octets;
    }
  }
  ASSERT_NE(cdr_csv.ul, 0u);
  EXPECT_EQ(u->ul_octets, cdr_csv.ul);
  EXPECT_EQ(u->dl_octets, cdr_csv.dl);
  EXPECT_EQ(u->local_bills, 1u);
  EXPECT_EQ(u->local_ul_octets, local_.at(2).ul_octets);
  EXPECT_EQ(CfCard::billsInFile(path), 5u);
  auto j = cdr::decodeCdrFileToJson(path);
  ASSERT_TRUE(j.ok()) << j.error().message;
  ASSERT_EQ(j->size(), 5u);
  EXPECT_FALSE((*j)[1].contains("error")) << (*j)[1].dump();
  EXPECT_EQ((*j)[1]["recordType"], "localBill");
  EXPECT_EQ((*j)[1]["billNumber"], "2");
  EXPECT_EQ((*j)[1]["reasonName"], "start-unanswered-offline");
  EXPECT_EQ((*j)[0]["recordType"], "85");
  // The line itself parses back to the bill.
  const std::vector<uint8_t> bytes = readBytes(path);
  const std::string text(bytes.begin(), bytes.end());
  const size_t at = text.find("\nlocalBill,");
  ASSERT_NE(at, std::string::npos);
  const size_t eol = text.find('\n', at + 1);
  auto b = parseCsvLocalBillLine(std::string_view(text).substr(at + 1, eol - at - 1));
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b.value(), local_.at(2));
}

}  // namespace
}  // namespace tally::bill
