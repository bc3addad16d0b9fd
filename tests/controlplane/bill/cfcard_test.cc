// The CF card: what a scan finds (files, bytes, bills of real TS 32.297 and CSV files), the
// capacity, the order of files, reset and drop-oldest, and the one-daemon-per-card lock.
#include "controlplane/bill/cfcard.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "controlplane/bill/transfer.h"
#include "controlplane/cdr/ber.h"
#include "controlplane/cdr/cdr_decode.h"
#include "controlplane/cdr/cdr_file.h"
#include "controlplane/cdr/cdr_file_reader.h"
#include "controlplane/storage/sequence_store.h"
#include "tests/fakes/cdr_fixtures.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/scripted_transport.h"
#include "tests/fakes/temp_dir.h"

namespace tally::bill {
namespace {

namespace fs = std::filesystem;
using tally::testing::exampleRecord;
using tally::testing::FixedZone;
using tally::testing::ip;
using tally::testing::ScriptedTransport;
using tally::testing::TempDir;
using tally::testing::utcNs;

void writeText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// A bill file with a TS 32.297 header claiming `cdrs` CDRs, padded to `bytes` octets (the scan
// reads the header only).
void writeCdr(const std::string& path, uint32_t cdrs, size_t bytes) {
  cdr::CdrFileHeader h;
  h.cdr_count = cdrs;
  h.header_length = cdr::fileHeaderLength(h);
  h.file_length = static_cast<uint32_t>(bytes);
  std::vector<uint8_t> b = cdr::encodeFileHeader(h);
  b.resize(std::max(bytes, b.size()), 0);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> s;
  for (const auto& e : fs::directory_iterator(dir)) {
    s.insert(e.path().filename().string());
  }
  return s;
}

std::vector<std::string> names(const std::vector<CfCardFile>& files) {
  std::vector<std::string> v;
  for (const auto& f : files) {
    v.push_back(f.name);
  }
  return v;
}

class CfCardTest : public ::testing::Test {
 protected:
  CfCardTest() : tmp_("tally-cfcard"), dir_(tmp_.path() + "/cfcard") {}

  std::unique_ptr<CfCard> open(std::optional<uint64_t> capacity = std::nullopt) {
    auto c = CfCard::open(dir_, capacity);
    EXPECT_TRUE(c) << c.error().message;
    return c ? std::move(c.value()) : nullptr;
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  static std::string bill(uint32_t seq, const char* ext = ".cdr") {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "gw_20240517100000_%08u%s", seq, ext);
    return buf;
  }

  TempDir tmp_;
  std::string dir_;
};

TEST_F(CfCardTest, OpenCreatesTheDirectoryAndTheLockFile) {
  auto card = open();
  ASSERT_TRUE(card);
  EXPECT_TRUE(fs::is_directory(dir_));
  EXPECT_EQ(fs::status(dir_).permissions() & fs::perms::all,
            fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  EXPECT_TRUE(fs::exists(path(".tally.lock")));
  EXPECT_EQ(card->dir(), dir_);
  CfCardUsage u = card->usage();
  EXPECT_EQ(u.files, 0u);
  EXPECT_EQ(u.bytes, 0u);
  EXPECT_EQ(u.bills, 0u);
  EXPECT_FALSE(u.capacity_bytes);
}

TEST_F(CfCardTest, OpenErrorNamesTheDirectory) {
  writeText(tmp_.path() + "/plain", "x");
  auto c = CfCard::open(tmp_.path() + "/plain/cfcard", std::nullopt);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find(tmp_.path() + "/plain"), std::string::npos) << c.error().message;
}

// Real files, written by the CDR file writer through its FlashBillStore.
TEST_F(CfCardTest, ScanCountsFilesBytesAndBillsOfRealFiles) {
  Config config;
  config.node.id = "gw-biller-01";
  config.node.address = ip("198.51.100.1");
  config.local_bill.cfcard_path = dir_;
  FakeClock clock;
  clock.setWallNs(utcNs(2024, 5, 17, 8, 0, 0));
  TimeZonePtr tz = std::make_shared<FixedZone>(2 * 3600);
  auto seq = SequenceStore::open(tmp_.path() + "/state/" + SequenceStore::kFileName);
  ASSERT_TRUE(seq) << seq.error().message;
  {
    auto w = cdr::CdrFileWriter::open(config, tz, *seq.value(), clock);
    ASSERT_TRUE(w) << w.error().message;
    w.value()->emit(exampleRecord(), false);
    w.value()->emit(exampleRecord(), false);
    w.value()->emit(exampleRecord(), true);  // file 1: 3 CDRs
    clock.advanceMs(1000);
    w.value()->emit(exampleRecord(), true);  // file 2: 1 CDR
    ASSERT_EQ(w.value()->filesWritten(), 2u);
  }
  config.accounting.cdr.format = CdrFormat::kCsv;
  {
    auto w = cdr::CdrFileWriter::open(config, tz, *seq.value(), clock);
    ASSERT_TRUE(w) << w.error().message;
    clock.advanceMs(1000);
    w.value()->emit(exampleRecord(), false);
    w.value()->emit(exampleRecord(), true);  // file 3 (CSV): 2 lines + the header line
    ASSERT_EQ(w.value()->filesWritten(), 1u);
  }
  uint64_t bytes = 0;
  uint64_t bills_by_reader = 0;
  for (const auto& n : entries(dir_)) {
    if (n.ends_with(".cdr")) {
      auto f = cdr::readCdrFile(path(n));
      ASSERT_TRUE(f) << f.error().message;
      bills_by_reader += f.value().header.cdr_count;
      EXPECT_EQ(CfCard::billsInFile(path(n)), f.value().header.cdr_count);
    }
    if (n.ends_with(".cdr") || n.ends_with(".csv")) {
      bytes += fs::file_size(path(n));
    }
  }
  EXPECT_EQ(bills_by_reader, 4u);

  auto card = open(uint64_t{1} << 20);
  ASSERT_TRUE(card);
  CfCardUsage u = card->usage();
  EXPECT_EQ(u.files, 3u);
  EXPECT_EQ(u.bytes, bytes);
  EXPECT_EQ(u.bills, 6u);
  auto files = card->files();
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].bills, 3u);
  EXPECT_EQ(files[1].bills, 1u);
  EXPECT_EQ(files[2].bills, 2u);
  EXPECT_TRUE(files[2].name.ends_with(".csv")) << files[2].name;
  EXPECT_EQ(files[0].bytes, fs::file_size(path(files[0].name)));
}

TEST_F(CfCardTest, BillsInFileFromTheHeaderOrTheCsvLines) {
  fs::create_directories(dir_);
  writeCdr(path("a.cdr"), 0x01020304u, 200);
  EXPECT_EQ(CfCard::billsInFile(path("a.cdr")), 0x01020304u);
  writeText(path("short.cdr"), std::string(21, '\x01'));  // one octet short of the count
  EXPECT_EQ(CfCard::billsInFile(path("short.cdr")), 0u);
  EXPECT_EQ(CfCard::billsInFile(path("missing.cdr")), 0u);
  // A .cdr file that is not a TS 32.297 file (its length field is not its size): no bills, not
  // whatever octets 19-22 hold.
  writeText(path("junk.cdr"), std::string(200, '\x7f'));
  EXPECT_EQ(CfCard::billsInFile(path("junk.cdr")), 0u);
  writeCdr(path("truncated.cdr"), 5, 200);
  fs::resize_file(path("truncated.cdr"), 150);
  EXPECT_EQ(CfCard::billsInFile(path("truncated.cdr")), 0u);
  writeText(path("a.csv"), "h\n1\n2\n3\n");
  EXPECT_EQ(CfCard::billsInFile(path("a.csv")), 3u);
  writeText(path("b.csv"), "h\n1\n2");  // last line without its newline
  EXPECT_EQ(CfCard::billsInFile(path("b.csv")), 2u);
  writeText(path("c.csv"), "");
  EXPECT_EQ(CfCard::billsInFile(path("c.csv")), 0u);
}

TEST_F(CfCardTest, ScanIgnoresEverythingButBillFiles) {
  fs::create_directories(dir_);
  writeCdr(path(bill(1)), 5, 300);
  writeText(path(bill(2, ".csv")), "h\nr\n");
  for (const char* other :
       {".cdr.tmp", ".cdr.part", ".cdr.xfer", ".cdr.tmp.broken", ".txt", ".cdrx"}) {
    writeCdr(path("gw_20240517100000_00000009" + std::string(other)), 7, 100);
  }
  fs::create_directories(path("sub.cdr"));  // a directory with a bill's name
  auto card = open();
  ASSERT_TRUE(card);
  CfCardUsage u = card->usage();
  EXPECT_EQ(u.files, 2u);
  EXPECT_EQ(u.bytes, 300u + 4u);
  EXPECT_EQ(u.bills, 5u + 1u);
  EXPECT_EQ(names(card->files()), (std::vector<std::string>{bill(1), bill(2, ".csv")}));
}

TEST_F(CfCardTest, CapacityPercentAndWouldExceed) {
  fs::create_directories(dir_);
  writeCdr(path(bill(1)), 1, 250);
  writeCdr(path(bill(2)), 1, 250);
  {
    auto card = open(uint64_t{1000});
    ASSERT_TRUE(card);
    CfCardUsage u = card->usage();
    ASSERT_TRUE(u.capacity_bytes);
    EXPECT_EQ(*u.capacity_bytes, 1000u);
    EXPECT_EQ(u.percent(), 50u);
    EXPECT_FALSE(card->wouldExceed(500));
    EXPECT_TRUE(card->wouldExceed(501));
    card->added(CfCardFile{bill(3), 249, 1});
    EXPECT_EQ(card->usage().percent(), 74u);  // 749 * 100 / 1000, rounded down
    EXPECT_FALSE(card->wouldExceed(251));
    EXPECT_TRUE(card->wouldExceed(252));
    card->removed(bill(1));
    EXPECT_EQ(card->usage().bytes, 499u);
    EXPECT_EQ(card->usage().files, 2u);
  }
  auto unlimited = open(std::nullopt);
  ASSERT_TRUE(unlimited);
  EXPECT_EQ(unlimited->usage().percent(), 0u);
  EXPECT_FALSE(unlimited->wouldExceed(uint64_t{1} << 62));

  CfCardUsage over;
  over.bytes = 1500;
  over.capacity_bytes = 1000;
  EXPECT_EQ(over.percent(), 150u);
  over.capacity_bytes = 0;
  EXPECT_EQ(over.percent(), 0u);
}

TEST_F(CfCardTest, FilesOldestFirstBySequenceThenName) {
  fs::create_directories(dir_);
  for (const char* n :
       {"gw_20240517100000_00000010.cdr", "manual.cdr", "gw_20250101000000_00000002.cdr",
        "b_20240101000000_00000002.csv", "gw_20230101000000_00000100.cdr"}) {
    writeCdr(path(n), 1, 100);
  }
  auto card = open();
  ASSERT_TRUE(card);
  EXPECT_EQ(names(card->files()),
            (std::vector<std::string>{
                "b_20240101000000_00000002.csv", "gw_20250101000000_00000002.cdr",
                "gw_20240517100000_00000010.cdr", "gw_20230101000000_00000100.cdr", "manual.cdr"}));
  // Bookkeeping keeps the order and replaces a file added twice.
  card->added(CfCardFile{"gw_20240517100000_00000005.cdr", 10, 1});
  card->added(CfCardFile{"gw_20240517100000_00000005.cdr", 20, 2});
  auto files = card->files();
  ASSERT_EQ(files.size(), 6u);
  EXPECT_EQ(files[2].name, "gw_20240517100000_00000005.cdr");
  EXPECT_EQ(files[2].bytes, 20u);
  EXPECT_EQ(files[2].bills, 2u);
}

TEST_F(CfCardTest, ResetDeletesBillsSidecarsAndTmpOnly) {
  fs::create_directories(dir_);
  writeCdr(path(bill(1)), 3, 300);
  writeCdr(path(bill(2)), 4, 400);
  writeText(path(bill(3, ".csv")), "h\na\nb\n");
  writeText(path(bill(1) + ".xfer"), "bill-20240517100000000.cdr\n");
  writeText(path(bill(2) + ".xfer.tmp"), "half");
  writeText(path(bill(4) + ".tmp"), "crashed while storing");
  writeText(path(bill(5, ".csv") + ".tmp"), "crashed");
  writeText(path(bill(6) + ".tmp.broken"), "set aside for the operator");
  writeText(path("notes.txt"), "the operator's");
  writeText(path("other.tmp"), "not a bill's");
  auto card = open();
  ASSERT_TRUE(card);
  ASSERT_EQ(card->usage().files, 3u);

  auto del = card->reset();
  ASSERT_TRUE(del) << del.error().message;
  EXPECT_EQ(del.value().files, 3u);
  EXPECT_EQ(del.value().bytes, 300u + 400u + 6u);
  EXPECT_EQ(del.value().bills, 3u + 4u + 2u);
  EXPECT_EQ(del.value().side_files, 4u);
  std::vector<std::string> deleted = del.value().names;
  std::sort(deleted.begin(), deleted.end());
  EXPECT_EQ(deleted, (std::vector<std::string>{bill(1), bill(2), bill(3, ".csv")}));
  EXPECT_EQ(entries(dir_), (std::set<std::string>{".tally.lock", bill(6) + ".tmp.broken",
                                                  "notes.txt", "other.tmp"}));
  CfCardUsage u = card->usage();
  EXPECT_EQ(u.files, 0u);
  EXPECT_EQ(u.bytes, 0u);
  EXPECT_EQ(u.bills, 0u);

  auto again = card->reset();
  ASSERT_TRUE(again);
  EXPECT_EQ(again.value().files, 0u);
  EXPECT_EQ(again.value().side_files, 0u);
}

TEST_F(CfCardTest, DropOldestFreesEnoughAndSkipsBusy) {
  fs::create_directories(dir_);
  for (uint32_t s = 1; s <= 4; ++s) {
    writeCdr(path(bill(s)), s, 200);
  }
  writeText(path(bill(2) + ".xfer"), "name-of-2");
  auto card = open(uint64_t{1000});
  ASSERT_TRUE(card);
  // 800 used: 500 more fit once 300 are gone; bill 1 is being uploaded.
  auto del = card->dropOldest(500, {dir_ + "/" + bill(1)});
  ASSERT_TRUE(del) << del.error().message;
  EXPECT_EQ(del.value().names, (std::vector<std::string>{bill(2), bill(3)}));
  EXPECT_EQ(del.value().files, 2u);
  EXPECT_EQ(del.value().bytes, 400u);
  EXPECT_EQ(del.value().bills, 2u + 3u);
  EXPECT_EQ(names(card->files()), (std::vector<std::string>{bill(1), bill(4)}));
  EXPECT_EQ(entries(dir_), (std::set<std::string>{".tally.lock", bill(1), bill(4)}));

  auto nothing = card->dropOldest(600, {});
  ASSERT_TRUE(nothing);
  EXPECT_EQ(nothing.value().files, 0u);

  // More than the capacity: all but the busy one (a plain name counts too).
  auto all = card->dropOldest(5000, {bill(4)});
  ASSERT_TRUE(all);
  EXPECT_EQ(all.value().names, (std::vector<std::string>{bill(1)}));
  EXPECT_EQ(names(card->files()), (std::vector<std::string>{bill(4)}));
}

// A real bill file of `n` records with the given traffic volumes per record (both formats).
std::vector<uint8_t> realFile(CdrFormat format, uint32_t seq, uint64_t ul, uint64_t dl,
                              int n) {
  FixedZone tz(0);
  ber::DerWriter w;
  std::vector<std::vector<uint8_t>> recs;
  for (int i = 0; i < n; ++i) {
    cdr::PgwRecord r = exampleRecord();
    r.local_sequence_number = seq * 100 + uint64_t(i);
    r.service_data.clear();
    r.traffic_volumes.resize(1);
    r.traffic_volumes[0].uplink_octets = ul + uint64_t(i);
    r.traffic_volumes[0].downlink_octets = dl + uint64_t(i);
    auto e = cdr::encodeRecordForFile(r, format, tz, w);
    EXPECT_TRUE(e);
    recs.push_back(e.value());
  }
  std::vector<std::span<const uint8_t>> spans(recs.begin(), recs.end());
  cdr::CdrFileSpec spec;
  spec.format = format;
  spec.sequence = seq;
  return cdr::renderCdrFile(spec, spans, tz);
}

void writeBytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// drop-oldest reports the octets it deleted (the bill balance's term): read from the file for
// files found at start, BER and CSV alike; taken from the writer for files it booked.
TEST_F(CfCardTest, DropOldestCountsTheOctetsOfWhatItDeletes) {
  fs::create_directories(dir_);
  const auto ber1 = realFile(CdrFormat::k3gpp, 1, 1000, 5000, 3);  // 3003 / 15003
  const auto csv2 = realFile(CdrFormat::kCsv, 2, 700, 900, 2);     // 1401 / 1801
  writeBytes(path(bill(1)), ber1);
  writeBytes(path(bill(2, ".csv")), csv2);
  auto u1 = cdr::fileUsage(path(bill(1)));
  ASSERT_TRUE(u1) << u1.error().message;
  EXPECT_EQ(u1.value().records, 3u);
  EXPECT_EQ(u1.value().ul_octets, 3003u);
  EXPECT_EQ(u1.value().dl_octets, 15003u);
  auto u2 = cdr::fileUsage(path(bill(2, ".csv")));
  ASSERT_TRUE(u2) << u2.error().message;
  EXPECT_EQ(u2.value().records, 2u);
  EXPECT_EQ(u2.value().ul_octets, 1401u);
  EXPECT_EQ(u2.value().dl_octets, 1801u);

  const uint64_t used = ber1.size() + csv2.size();
  auto card = open(used + 100);
  ASSERT_TRUE(card);
  // A file booked by its writer with its usage: taken as booked (no read).
  writeCdr(path(bill(3)), 4, 50);
  card->added(CfCardFile{bill(3), 50, 4, true, 11, 22});
  auto del = card->dropOldest(used + 100, {});
  ASSERT_TRUE(del) << del.error().message;
  EXPECT_EQ(del.value().files, 3u);
  EXPECT_EQ(del.value().ul_octets, 3003u + 1401u + 11u);
  EXPECT_EQ(del.value().dl_octets, 15003u + 1801u + 22u);
}

TEST_F(CfCardTest, DropOldestWithoutCapacityDeletesNothing) {
  fs::create_directories(dir_);
  writeCdr(path(bill(1)), 1, 200);
  auto card = open();
  ASSERT_TRUE(card);
  auto del = card->dropOldest(uint64_t{1} << 40, {});
  ASSERT_TRUE(del);
  EXPECT_EQ(del.value().files, 0u);
  EXPECT_TRUE(fs::exists(path(bill(1))));
}

// drop-oldest with the transfer worker's busy paths: the file in flight stays.
TEST_F(CfCardTest, DropOldestSkipsTheFileTheWorkerUploads) {
  fs::create_directories(dir_);
  writeCdr(path(bill(1)), 1, 600);
  writeCdr(path(bill(2)), 1, 300);
  auto card = open(uint64_t{1000});
  ASSERT_TRUE(card);
  auto state = std::make_shared<ScriptedTransport::State>();
  state->block();
  TransferWorker worker(
      std::make_unique<ScriptedTransport>(state), TimeZone::utc(), TransferPolicy{},
      [] { return int64_t{1'700'000'000} * 1'000'000'000; }, nullptr, nullptr);
  worker.enqueue(TransferJob{dir_, bill(1), "bill", 600, 1});
  ASSERT_TRUE(state->waitForCalls(1, std::chrono::seconds(10)));
  EXPECT_EQ(worker.busyPaths(), (std::vector<std::string>{dir_ + "/" + bill(1)}));
  auto del = card->dropOldest(500, worker.busyPaths());
  ASSERT_TRUE(del) << del.error().message;
  EXPECT_EQ(del.value().names, (std::vector<std::string>{bill(2)}));
  EXPECT_TRUE(fs::exists(path(bill(1))));
  state->unblock();
}

TEST_F(CfCardTest, SecondOpenInTheSameProcessIsRefusedUntilTheFirstIsGone) {
  auto first = open();
  ASSERT_TRUE(first);
  auto second = CfCard::open(dir_, std::nullopt);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().message, "CF card " + dir_ + " is in use by another tallyd (pid " +
                                        std::to_string(::getpid()) + ")");
  first.reset();
  auto third = CfCard::open(dir_, std::nullopt);
  EXPECT_TRUE(third) << third.error().message;
}

// Another process holds the card: the refusal names that process's pid.
TEST_F(CfCardTest, OpenRefusedWhileAnotherProcessHoldsTheCard) {
  fs::create_directories(dir_);
  int ready[2];
  int release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(ready[0]);
    ::close(release[1]);
    auto c = CfCard::open(dir_, std::nullopt);
    char ok = c ? 'y' : 'n';
    (void)!::write(ready[1], &ok, 1);
    char b;
    (void)!::read(release[0], &b, 1);  // until the parent closes its end
    ::_exit(c ? 0 : 1);
  }
  ::close(ready[1]);
  ::close(release[0]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, 'y');
  auto refused = CfCard::open(dir_, std::nullopt);
  ::close(release[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(ready[0]);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message,
            "CF card " + dir_ + " is in use by another tallyd (pid " + std::to_string(pid) + ")");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // The holder is gone, and with it its lock.
  auto after = CfCard::open(dir_, std::nullopt);
  EXPECT_TRUE(after) << after.error().message;
}

TEST_F(CfCardTest, DirectoryLockNamesWhatItLocks) {
  fs::create_directories(dir_);
  auto a = DirectoryLock::acquire(dir_, "state directory");
  ASSERT_TRUE(a) << a.error().message;
  auto b = DirectoryLock::acquire(dir_, "state directory");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().message, "state directory " + dir_ + " is in use by another tallyd (pid " +
                                   std::to_string(::getpid()) + ")");
  auto missing = DirectoryLock::acquire(dir_ + "/nope", "state directory");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find(dir_ + "/nope"), std::string::npos);
}

}  // namespace
}  // namespace tally::bill
