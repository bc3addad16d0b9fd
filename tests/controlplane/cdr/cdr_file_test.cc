// TS 32.297 CDR files: header bytes, closure reasons, durable writes, retries, and a reader that
// rejects corrupt or truncated files precisely.
#include "controlplane/cdr/cdr_file.h"
#include "tests/fakes/cdr_fixtures.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "controlplane/cdr/ber.h"
#include "controlplane/cdr/cdr_decode.h"
#include "controlplane/cdr/cdr_encode.h"
#include "controlplane/cdr/cdr_file_reader.h"
#include "controlplane/storage/sequence_store.h"
#include "tests/fakes/fake_bill_store.h"
#include "tests/fakes/fake_clock.h"

namespace tally::cdr {
namespace {

using tally::testing::FixedZone;
using tally::testing::fromHex;
using tally::testing::ip;
using tally::testing::utcNs;
using tally::testing::exampleRecord;
using tally::testing::FakeBillStore;
using tally::testing::kExampleHex;

namespace fs = std::filesystem;







std::vector<uint8_t> readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void writeBytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

class CdrFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tally-cdr-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/cfcard";
    config_.node.id = "gw-biller-01";
    config_.node.address = ip("198.51.100.1");
    config_.local_bill.cfcard_path = dir_;
    clock_.setWallNs(utcNs(2024, 5, 17, 8, 0, 0));
    tz_ = std::make_shared<FixedZone>(2 * 3600);
  }
  void TearDown() override {
    writer_.reset();
    seq_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  CdrFileWriter& open(BillStore* store = nullptr) {
    auto s = SequenceStore::open(root_ + "/state/" + SequenceStore::kFileName);
    EXPECT_TRUE(s) << s.error().message;
    seq_ = std::move(s.value());
    auto w = store != nullptr ? CdrFileWriter::open(config_, tz_, *seq_, clock_, *store)
                              : CdrFileWriter::open(config_, tz_, *seq_, clock_);
    EXPECT_TRUE(w) << w.error().message;
    writer_ = std::move(w.value());
    return *writer_;
  }
  std::vector<std::string> files(const std::string& suffix = "") {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir_)) {
      std::string n = e.path().filename().string();
      if (n[0] != '.' && (suffix.empty() || n.ends_with(suffix))) {
        v.push_back(n);
      }
    }
    std::sort(v.begin(), v.end());
    return v;
  }
  uint8_t closureReason(const std::string& name) {
    auto f = readCdrFile(dir_ + "/" + name);
    EXPECT_TRUE(f) << f.error().message;
    return f ? f.value().header.closure_reason : 255;
  }
  // A valid two-record file (as bytes) written by the writer.
  std::vector<uint8_t> twoRecordFile() {
    CdrFileWriter& w = open();
    w.emit(exampleRecord(), false);
    clock_.advanceMs(3600 * 1000);
    w.emit(exampleRecord(), true);
    auto names = files(".cdr");
    EXPECT_EQ(names.size(), 1u);
    return readBytes(dir_ + "/" + names.at(0));
  }

  std::string root_;
  std::string dir_;
  Config config_;
  FakeClock clock_;
  TimeZonePtr tz_;
  std::unique_ptr<SequenceStore> seq_;
  std::unique_ptr<CdrFileWriter> writer_;
};

TEST_F(CdrFileTest, HeaderBytesAsInSection94) {
  CdrFileHeader h;
  h.file_length = 0x204;
  h.header_length = 0x36;
  h.opening = HeaderTimestamp{5, 17, 10, 0, 120};
  h.last_append = HeaderTimestamp{5, 17, 11, 0, 120};
  h.cdr_count = 2;
  h.file_sequence_number = 1;
  h.closure_reason = 0;
  h.node_address = nodeAddressField(ip("198.51.100.1"));
  EXPECT_EQ(fileHeaderLength(h), 0x36u);
  // cdr-format.md 9.4, with one correction: its last-append timestamp "58 ac 08 00" decodes to
  // 17 May 11:00 with offset "+00:00"; the same file's opening time says +02:00, so 11:00
  // +02:00 is "58 ac 08 80" (sign bit 0x800 and 2 hours 0x080).
  const char* want =
      "00000204 00000036 ebeb 58a80880 58ac0880 00000002 00000001"
      "00 ffffffff 00000000000000000000ffff c6336401 00 0000 0000 0606";
  EXPECT_EQ(ber::toHex(encodeFileHeader(h)), ber::toHex(fromHex(want)));
  EXPECT_EQ(packHeaderTimestamp(h.opening), 0x58A80880u);  // > 17 May 10:00 +02:00
  EXPECT_EQ(unpackHeaderTimestamp(0x58A80880u), h.opening);
  EXPECT_EQ(unpackHeaderTimestamp(0x58AC0800u), (HeaderTimestamp{5, 17, 11, 0, 0}));
  EXPECT_EQ(unpackHeaderTimestamp(packHeaderTimestamp({12, 31, 23, 59, -(9 * 60 + 30)})),
            (HeaderTimestamp{12, 31, 23, 59, -(9 * 60 + 30)}));
  EXPECT_EQ(ber::toHex(encodeCdrHeader(347)), "015beb2706");  // > 01 5b eb 27 06
  EXPECT_EQ(ber::toHex(nodeAddressField(ip("2001:db8::1"))),
            "ffffffff20010db8000000000000000000000001");
  EXPECT_EQ(releaseVersionOctet(8, 3), 0xA3);  // Rel-8: id 5, no extension
  EXPECT_FALSE(releaseNeedsExtension(8));
}

TEST_F(CdrFileTest, WriterFileLayout) {
  std::vector<uint8_t> file = twoRecordFile();
  auto names = files();
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0], "gw-biller-01_20240517100000_00000001.cdr");
  std::vector<uint8_t> rec = fromHex(kExampleHex);
  ASSERT_EQ(file.size(), 54u + 2 * (5 + 347));
  // The file header of 9.4 (with its file length, and the corrected last-append time).
  const char* header =
      "000002f6 00000036 ebeb 58a80880 58ac0880 00000002 00000001"
      "00 ffffffff 00000000000000000000ffff c6336401 00 0000 0000 0606";
  EXPECT_EQ(ber::toHex(std::span<const uint8_t>(file).subspan(0, 54)), ber::toHex(fromHex(header)));
  std::vector<uint8_t> body = fromHex("015beb2706");
  body.insert(body.end(), rec.begin(), rec.end());
  EXPECT_EQ(ber::toHex(std::span<const uint8_t>(file).subspan(54, 352)), ber::toHex(body));
  EXPECT_EQ(ber::toHex(std::span<const uint8_t>(file).subspan(406, 352)), ber::toHex(body));
  // The reader gives it back.
  auto f = readCdrFile(dir_ + "/" + names[0]);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f.value().header.cdr_count, 2u);
  EXPECT_EQ(f.value().header.high_release, 16);
  EXPECT_EQ(f.value().header.high_version, 11);
  ASSERT_EQ(f.value().records.size(), 2u);
  EXPECT_EQ(f.value().records[1].offset, 406u);
  EXPECT_EQ(f.value().records[1].data, rec);
  EXPECT_EQ(f.value().records[1].ts_number, 7);
  EXPECT_EQ(writer_->filesWritten(), 1u);
  EXPECT_EQ(writer_->recordsWritten(), 2u);
  EXPECT_EQ(writer_->writeErrors(), 0u);
  EXPECT_EQ(writer_->currentFileRecords(), 0u);
}

TEST_F(CdrFileTest, DecodeFileToJsonLines) {
  twoRecordFile();
  std::string path = dir_ + "/" + files(".cdr").at(0);
  auto lines = decodeCdrFileToJson(path);
  ASSERT_TRUE(lines) << lines.error().message;
  ASSERT_EQ(lines.value().size(), 2u);
  const auto& j = lines.value()[1];
  auto it = j.begin();
  EXPECT_EQ(it.key(), "file");
  EXPECT_EQ(j["file"], path);
  EXPECT_EQ(j["fileSequenceNumber"], 1);
  EXPECT_EQ(j["recordIndex"], 2);
  EXPECT_EQ(j["recordType"], "pGWRecord (85)");
  EXPECT_EQ(j["causeForRecClosing"], "normalRelease (0)");
  std::string line = toJsonLine(j);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find("\"listOfServiceData\":[{\"ratingGroup\":100"), std::string::npos);
  auto header = readCdrFile(path);
  ASSERT_TRUE(header);
  auto hj = fileHeaderToJson(header.value().header);
  EXPECT_EQ(hj["nodeIpAddress"], "198.51.100.1");
  EXPECT_EQ(hj["fileOpeningTimestamp"], "05-17 10:00 +0200");
  EXPECT_EQ(hj["fileClosureTriggerReason"], "normalClosure (0)");
  EXPECT_EQ(hj["highReleaseVersion"], "Rel-16 v11");
}

TEST_F(CdrFileTest, ClosureReasonForEachTrigger) {
  config_.accounting.cdr.file_max_records = 3;
  config_.accounting.cdr.file_max_bytes = 54 + 2 * 352 + 100;
  config_.accounting.cdr.file_max_age_s = 60;
  CdrFileWriter& w = open();
  // Maximum number of CDRs (3): the third record closes the file.
  PgwRecord small = exampleRecord();
  small.service_data.clear();
  small.traffic_volumes.clear();
  for (int i = 0; i < 3; ++i) {
    w.emit(small, false);
  }
  ASSERT_EQ(files(".cdr").size(), 1u);
  EXPECT_EQ(closureReason(files(".cdr").back()), 3);
  // Size (1): a third large record would not fit; the file closes with two.
  w.emit(exampleRecord(), false);
  w.emit(exampleRecord(), false);
  EXPECT_EQ(files(".cdr").size(), 1u);
  w.emit(exampleRecord(), false);
  ASSERT_EQ(files(".cdr").size(), 2u);
  EXPECT_EQ(closureReason(files(".cdr").back()), 1);
  EXPECT_EQ(w.currentFileRecords(), 1u);
  // Open time (2): tick() closes it when it is file_max_age_s old.
  int64_t opened = clock_.wallNs();
  w.tick(opened + 59'000'000'000);
  EXPECT_EQ(files(".cdr").size(), 2u);
  w.tick(opened + 60'000'000'000);
  ASSERT_EQ(files(".cdr").size(), 3u);
  EXPECT_EQ(closureReason(files(".cdr").back()), 2);
  // Hot billing (0): flush_now closes at once.
  w.emit(small, true);
  ASSERT_EQ(files(".cdr").size(), 4u);
  EXPECT_EQ(closureReason(files(".cdr").back()), 0);
  // Shutdown (4, manual / O&M).
  w.emit(small, false);
  w.closeAll();
  ASSERT_EQ(files(".cdr").size(), 5u);
  EXPECT_EQ(closureReason(files(".cdr").back()), 4);
  // Nothing open: no empty file.
  w.closeAll();
  w.tick(clock_.wallNs() + 3600'000'000'000);
  EXPECT_EQ(files(".cdr").size(), 5u);
  EXPECT_EQ(w.filesWritten(), 5u);
  EXPECT_EQ(w.recordsWritten(), 3u + 2 + 1 + 1 + 1);
}

TEST_F(CdrFileTest, NamesSequenceNumbersAndNoTmpLeft) {
  CdrFileWriter& w = open();
  for (int i = 0; i < 5; ++i) {
    w.emit(exampleRecord(), true);
    clock_.advanceMs(1000);
  }
  auto names = files();
  ASSERT_EQ(names.size(), 5u);
  auto wellFormed = [](const std::string& n) {
    // gw-biller-01_<14 digits>_<8 digits>.cdr
    const std::string prefix = "gw-biller-01_";
    if (n.size() != prefix.size() + 14 + 1 + 8 + 4 || n.compare(0, prefix.size(), prefix) != 0 ||
        n[prefix.size() + 14] != '_' || !n.ends_with(".cdr")) {
      return false;
    }
    for (size_t i = prefix.size(); i < n.size() - 4; ++i) {
      if (i != prefix.size() + 14 && !std::isdigit(static_cast<unsigned char>(n[i]))) {
        return false;
      }
    }
    return true;
  };
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_TRUE(wellFormed(names[i])) << names[i];
    auto f = readCdrFile(dir_ + "/" + names[i]);
    ASSERT_TRUE(f);
    EXPECT_EQ(f.value().header.file_sequence_number, i + 1);
    EXPECT_EQ(names[i].substr(names[i].size() - 12),
              std::string("0000000") + std::to_string(i + 1) + ".cdr");
  }
  EXPECT_EQ(names[4], "gw-biller-01_20240517100004_00000005.cdr");
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_FALSE(e.path().string().ends_with(".tmp")) << e.path();
  }
  // File sequence numbers continue after a restart.
  writer_.reset();
  seq_.reset();
  CdrFileWriter& again = open();
  again.emit(exampleRecord(), true);
  EXPECT_TRUE(again.lastFileName().ends_with("_00000006.cdr")) << again.lastFileName();
}

TEST_F(CdrFileTest, DirectoryIsCreatedOrRefused) {
  CdrFileWriter& w = open();
  (void)w;
  struct stat st;
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  std::string file = root_ + "/plain-file";
  { std::ofstream(file) << "x"; }
  Config bad = config_;
  bad.local_bill.cfcard_path = file;
  auto r = CdrFileWriter::open(bad, tz_, *seq_, clock_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("plain-file"), std::string::npos) << r.error().message;
  bad.local_bill.cfcard_path = file + "/sub";
  r = CdrFileWriter::open(bad, tz_, *seq_, clock_);
  ASSERT_FALSE(r);
}

TEST_F(CdrFileTest, FailedWriteIsKeptAndRetried) {
  CdrFileWriter& w = open();
  std::string away = root_ + "/away";
  fs::rename(dir_, away);
  w.emit(exampleRecord(), true);
  EXPECT_EQ(w.writeErrors(), 1u);
  EXPECT_EQ(w.filesWritten(), 0u);
  EXPECT_EQ(w.pendingFiles(), 1u);
  EXPECT_EQ(w.pendingRecords(), 1u);
  EXPECT_NE(w.lastError().find("cfcard"), std::string::npos) << w.lastError();
  // Still failing: the next close keeps both, in order.
  w.emit(exampleRecord(), true);
  EXPECT_EQ(w.pendingFiles(), 2u);
  fs::rename(away, dir_);
  // Retried from tick() (at most every kRetryIntervalNs) ...
  int64_t now = clock_.wallNs();
  w.tick(now + CdrFileWriter::kRetryIntervalNs);
  EXPECT_EQ(w.pendingFiles(), 0u);
  EXPECT_EQ(w.filesWritten(), 2u);
  auto names = files(".cdr");
  ASSERT_EQ(names.size(), 2u);
  EXPECT_TRUE(names[0].ends_with("_00000001.cdr"));
  EXPECT_TRUE(names[1].ends_with("_00000002.cdr"));
  // ... and at the next close.
  fs::rename(dir_, away);
  w.emit(exampleRecord(), true);
  EXPECT_EQ(w.pendingFiles(), 1u);
  fs::rename(away, dir_);
  w.emit(exampleRecord(), true);
  EXPECT_EQ(w.pendingFiles(), 0u);
  EXPECT_EQ(files(".cdr").size(), 4u);
  EXPECT_EQ(w.recordsWritten(), 4u);
  EXPECT_EQ(w.writeErrors(), 3u);
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_FALSE(e.path().string().ends_with(".tmp")) << e.path();
  }
}

TEST_F(CdrFileTest, UnwrittenRecordsAreBounded) {
  CdrFileWriter& w = open();
  fs::rename(dir_, root_ + "/away");
  for (size_t i = 0; i < CdrFileWriter::kMaxPendingFiles; ++i) {
    w.emit(exampleRecord(), true);
  }
  EXPECT_EQ(w.pendingFiles(), CdrFileWriter::kMaxPendingFiles);
  EXPECT_EQ(w.recordsDropped(), 0u);
  w.emit(exampleRecord(), true);
  EXPECT_EQ(w.recordsDropped(), 1u);
  EXPECT_EQ(w.pendingFiles(), CdrFileWriter::kMaxPendingFiles);
  fs::rename(root_ + "/away", dir_);
  w.closeAll();
  EXPECT_EQ(w.pendingFiles(), 0u);
  EXPECT_EQ(files(".cdr").size(), CdrFileWriter::kMaxPendingFiles);
  EXPECT_EQ(closureReason(files(".cdr").back()), 0);
  // The next file reports the lost record in its header.
  w.emit(exampleRecord(), true);
  auto f = readCdrFile(dir_ + "/" + w.lastFileName());
  ASSERT_TRUE(f);
  EXPECT_EQ(f.value().header.lost_cdr_indicator, 1);
  w.emit(exampleRecord(), true);
  f = readCdrFile(dir_ + "/" + w.lastFileName());
  ASSERT_TRUE(f);
  EXPECT_EQ(f.value().header.lost_cdr_indicator, 0);
  EXPECT_EQ(lostCdrIndicator(127), 127);
  EXPECT_EQ(lostCdrIndicator(128), 0xFF);
}

TEST_F(CdrFileTest, TmpFilesLeftByACrashAreFinishedOrSetAside) {
  std::vector<uint8_t> good = twoRecordFile();
  writer_.reset();
  std::string name = "gw-biller-01_20240517100000_00000042.cdr";
  writeBytes(dir_ + "/" + name + ".tmp", good);
  std::vector<uint8_t> cut(good.begin(), good.begin() + 100);
  writeBytes(dir_ + "/gw-biller-01_20240517100000_00000043.cdr.tmp", cut);
  auto w = CdrFileWriter::open(config_, tz_, *seq_, clock_);
  ASSERT_TRUE(w);
  EXPECT_EQ(w.value()->recoveredTmpFiles(), 1u);
  EXPECT_EQ(w.value()->brokenTmpFiles(), 1u);
  EXPECT_TRUE(fs::exists(dir_ + "/" + name));
  EXPECT_TRUE(fs::exists(dir_ + "/gw-biller-01_20240517100000_00000043.cdr.tmp.broken"));
  EXPECT_FALSE(fs::exists(dir_ + "/" + name + ".tmp"));
}

TEST_F(CdrFileTest, CsvFormat) {
  config_.accounting.cdr.format = CdrFormat::kCsv;
  CdrFileWriter& w = open();
  w.emit(exampleRecord(), false);
  PgwRecord v6 = exampleRecord();
  v6.served_address = ip("2001:db8:1:2::");
  v6.served_prefix_length = 64;
  v6.apn = "a,b";  // quoted
  w.emit(v6, false);
  w.closeAll();
  auto names = files();
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0], "gw-biller-01_20240517100000_00000001.csv");
  std::vector<uint8_t> b = readBytes(dir_ + "/" + names[0]);
  std::string text(b.begin(), b.end());
  std::istringstream in(text);
  std::string header;
  std::string l1;
  std::string l2;
  std::getline(in, header);
  std::getline(in, l1);
  std::getline(in, l2);
  EXPECT_EQ(header + "\n", csvHeaderLine());
  EXPECT_EQ(l1.substr(0, 47), "85,001010123456789,491701234567,198.51.100.1,23");
  EXPECT_NE(l1.find(",2024-05-17 10:00:00 +0200,3600,0,1,gw-biller-01,4242,0800,"),
            std::string::npos)
      << l1;
  EXPECT_NE(l1.find("100/1/2024-05-17 10:00:00 +0200/2024-05-17 11:00:00 +0200/3600/24/"
                    "192.0.2.10/150000/3000000/2024-05-17 11:00:00 +0200"),
            std::string::npos)
      << l1;
  EXPECT_NE(l2.find("\"a,b\",IPv6,2001:db8:1:2::/64,"), std::string::npos) << l2;
  auto j = decodeCdrFileToJson(dir_ + "/" + names[0]);
  ASSERT_TRUE(j) << j.error().message;
  ASSERT_EQ(j.value().size(), 2u);
  EXPECT_EQ(j.value()[0]["servedIMSI"], "001010123456789");
  EXPECT_EQ(j.value()[1]["accessPointNameNI"], "a,b");
  EXPECT_EQ(j.value()[1]["uplinkOctets"], "150000");
  EXPECT_FALSE(j.value()[1].contains("error"));
}

// Patches a big-endian 32-bit value.
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  b[at] = static_cast<uint8_t>(v >> 24);
  b[at + 1] = static_cast<uint8_t>(v >> 16);
  b[at + 2] = static_cast<uint8_t>(v >> 8);
  b[at + 3] = static_cast<uint8_t>(v);
}

TEST_F(CdrFileTest, ReaderRejectsCorruptFilesPrecisely) {
  const std::vector<uint8_t> good = twoRecordFile();
  ASSERT_TRUE(parseCdrFile(good, "f.cdr"));
  auto err = [](const std::vector<uint8_t>& b) {
    auto r = parseCdrFile(b, "f.cdr");
    return r ? std::string("ok") : r.error().message;
  };
  std::vector<uint8_t> b = good;
  b.resize(good.size() - 10);
  EXPECT_EQ(err(b), "f.cdr: truncated: the file header says 758 octets, the file has 748");
  put32(b, 0, static_cast<uint32_t>(b.size()));
  EXPECT_EQ(err(b),
            "f.cdr: record 2 at offset 406: CDR length 347 exceeds the 337 octets left "
            "in the file");
  b = good;
  b.resize(408);
  put32(b, 0, 408);
  EXPECT_EQ(err(b), "f.cdr: record 2 at offset 406: truncated CDR header (2 octets left)");
  b = good;
  b.push_back(0);
  EXPECT_EQ(err(b), "f.cdr: 1 octets after the 758 octets the file header announces");
  b = good;
  put32(b, 18, 3);
  EXPECT_EQ(err(b), "f.cdr: the file header says 3 CDRs, the file holds 2");
  b = good;
  put32(b, 4, 60);
  EXPECT_EQ(err(b),
            "f.cdr: private extension length 0 does not match the header length 60 "
            "(expected 6)");
  b = good;
  put32(b, 4, 5000);
  EXPECT_EQ(err(b), "f.cdr: header length 5000 out of range (52..758)");
  b = good;
  b[56] = 0xE5;  // first CDR: version 5
  EXPECT_EQ(err(b),
            "f.cdr: record 1 at offset 54: release/version Rel-16 v5 outside the file "
            "header's range Rel-16 v11 .. Rel-16 v11");
  b = good;
  b[57] = 0x07;  // data record format 0
  EXPECT_EQ(err(b),
            "f.cdr: record 1 at offset 54: data record format 0 unknown (1 BER, 2 "
            "unaligned PER, 3 aligned PER, 4 XER)");
  b = good;
  b[54] = 0;
  b[55] = 0;
  EXPECT_EQ(err(b), "f.cdr: record 1 at offset 54: CDR length 0");
  b = good;
  b[9] = 0xA3;  // low release Rel-8: no low extension octet, so the header is one short
  EXPECT_NE(err(b), "ok");
  b = good;
  b[52] = 0x05;  // high release extension -> Rel-15: below the low release
  EXPECT_EQ(err(b),
            "f.cdr: high release/version Rel-15 v11 is below the low release/version "
            "Rel-16 v11");
  EXPECT_EQ(err(std::vector<uint8_t>(good.begin(), good.begin() + 20)),
            "f.cdr: truncated: 20 octets, a TS 32.297 file header needs at least 50");
  auto missing = readCdrFile(root_ + "/nope.cdr");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("nope.cdr"), std::string::npos);
  // A record that is not BER-decodable is reported in its JSON line, not fatal.
  b = good;
  b[54 + 5] = 0x00;  // first CDR: BF -> 00
  writeBytes(root_ + "/bad-record.cdr", b);
  auto lines = decodeCdrFileToJson(root_ + "/bad-record.cdr");
  ASSERT_TRUE(lines) << lines.error().message;
  ASSERT_EQ(lines.value().size(), 2u);
  EXPECT_TRUE(lines.value()[0].contains("error"));
  EXPECT_TRUE(lines.value()[0].contains("hex"));
  EXPECT_FALSE(lines.value()[1].contains("error"));
}

TEST_F(CdrFileTest, ReaderSurvivesRandomDamage) {
  const std::vector<uint8_t> good = twoRecordFile();
  std::mt19937_64 rng(3);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> b = good;
    int changes = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < changes; ++k) {
      b[rng() % b.size()] = static_cast<uint8_t>(rng());
    }
    if (rng() % 3 == 0) {
      b.resize(rng() % b.size());
    }
    auto r = parseCdrFile(b, "x.cdr");
    if (r) {
      ++accepted;
      for (const auto& rec : r.value().records) {
        auto j = decodeRecordToJson(rec.data);
        if (j) {
          (void)toJsonLine(j.value());
        }
      }
    }
  }
  EXPECT_GT(accepted, 0);  // damage inside the CDRs keeps the framing valid
}

// The writer through the storage seam: it hands whole TS 32.297 files to the store and never
// touches the file system itself.
TEST_F(CdrFileTest, HandsWholeFilesToTheStore) {
  FakeBillStore store;
  config_.local_bill.cfcard_path = root_ + "/never-created";
  CdrFileWriter& w = open(&store);
  EXPECT_EQ(w.directory(), "fake://cfcard");
  w.emit(exampleRecord(), false);
  w.emit(exampleRecord(), false);
  EXPECT_TRUE(store.calls.empty());  // nothing leaves before the file closes
  w.closeAll();
  ASSERT_EQ(store.calls.size(), 1u);
  EXPECT_EQ(store.calls[0].name, "gw-biller-01_20240517100000_00000001.cdr");
  auto f = parseCdrFile(store.calls[0].bytes, store.calls[0].name);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f.value().records.size(), 2u);
  EXPECT_EQ(f.value().header.closure_reason, 4);
  EXPECT_EQ(w.filesWritten(), 1u);
  EXPECT_EQ(w.recordsWritten(), 2u);
  EXPECT_EQ(w.lastFileName(), store.calls[0].name);
  EXPECT_FALSE(fs::exists(root_ + "/never-created"));
}

TEST_F(CdrFileTest, FailingStoreKeepsTheFilePendingAndRetriesIt) {
  FakeBillStore store;
  CdrFileWriter& w = open(&store);
  store.fail = true;
  w.emit(exampleRecord(), true);
  EXPECT_EQ(w.writeErrors(), 1u);
  EXPECT_EQ(w.filesWritten(), 0u);
  EXPECT_EQ(w.pendingFiles(), 1u);
  EXPECT_EQ(w.pendingRecords(), 1u);
  EXPECT_EQ(w.lastError(),
            "fake store: No space left on device (gw-biller-01_20240517100000_00000001.cdr)");
  ASSERT_EQ(store.calls.size(), 1u);
  const std::vector<uint8_t> first = store.calls[0].bytes;
  // The next close retries the older file first; still failing, the new one queues behind it.
  clock_.advanceMs(1000);
  w.emit(exampleRecord(), true);
  EXPECT_EQ(w.pendingFiles(), 2u);
  EXPECT_EQ(w.pendingRecords(), 2u);
  EXPECT_EQ(w.writeErrors(), 2u);
  ASSERT_EQ(store.calls.size(), 2u);
  EXPECT_EQ(store.calls[1].name, store.calls[0].name);
  // tick() retries at most every kRetryIntervalNs.
  const int64_t now = clock_.wallNs();
  w.tick(now);
  ASSERT_EQ(store.calls.size(), 3u);
  EXPECT_FALSE(store.calls[2].ok);
  w.tick(now + CdrFileWriter::kRetryIntervalNs - 1);
  EXPECT_EQ(store.calls.size(), 3u);
  EXPECT_EQ(w.writeErrors(), 3u);
  store.fail = false;
  w.tick(now + CdrFileWriter::kRetryIntervalNs);
  EXPECT_EQ(w.pendingFiles(), 0u);
  EXPECT_EQ(w.filesWritten(), 2u);
  EXPECT_EQ(w.recordsWritten(), 2u);
  ASSERT_EQ(store.calls.size(), 5u);
  EXPECT_TRUE(store.calls[3].ok);
  EXPECT_EQ(store.calls[3].name, "gw-biller-01_20240517100000_00000001.cdr");
  EXPECT_EQ(store.calls[3].bytes, first);  // the same file, byte for byte
  EXPECT_EQ(store.calls[4].name, "gw-biller-01_20240517100001_00000002.cdr");
  EXPECT_EQ(store.stored.size(), 2u);
  EXPECT_EQ(store.failedCalls(), 3u);
  // One failure in the middle: the failed file waits, the next close takes both in order.
  store.fail_next = 1;
  w.emit(exampleRecord(), true);
  EXPECT_EQ(w.pendingFiles(), 1u);
  w.emit(exampleRecord(), true);
  EXPECT_EQ(w.pendingFiles(), 0u);
  ASSERT_EQ(store.calls.size(), 8u);
  EXPECT_TRUE(store.calls[6].name.ends_with("_00000003.cdr"));
  EXPECT_TRUE(store.calls[7].name.ends_with("_00000004.cdr"));
  EXPECT_EQ(w.writeErrors(), 4u);
  EXPECT_EQ(w.filesWritten(), 4u);
}

TEST_F(CdrFileTest, FailingStoreBoundsWhatIsKept) {
  FakeBillStore store;
  CdrFileWriter& w = open(&store);
  store.fail = true;
  for (size_t i = 0; i <= CdrFileWriter::kMaxPendingFiles; ++i) {
    w.emit(exampleRecord(), true);
  }
  EXPECT_EQ(w.pendingFiles(), CdrFileWriter::kMaxPendingFiles);
  EXPECT_EQ(w.recordsDropped(), 1u);
  EXPECT_NE(w.lastError().find("record dropped"), std::string::npos) << w.lastError();
  store.fail = false;
  w.closeAll();
  EXPECT_EQ(store.stored.size(), CdrFileWriter::kMaxPendingFiles);
  w.emit(exampleRecord(), true);
  auto f = parseCdrFile(store.calls.back().bytes, "x.cdr");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f.value().header.lost_cdr_indicator, 1);
}

TEST_F(CdrFileTest, LeftoversAreFinishedOnlyWhenWhole) {
  std::vector<uint8_t> good = twoRecordFile();
  writer_.reset();
  FakeBillStore store;
  store.leftover_files["a_00000042.cdr"] = good;
  store.leftover_files["b_00000043.cdr"] = std::vector<uint8_t>(good.begin(), good.begin() + 100);
  store.leftover_files["c_00000044.csv"] = {'x', '\n'};
  store.leftover_files["d_00000045.cdr"] = good;
  store.unreadable.insert("d_00000045.cdr");
  auto w = CdrFileWriter::open(config_, tz_, *seq_, clock_, store);
  ASSERT_TRUE(w);
  EXPECT_EQ(w.value()->recoveredTmpFiles(), 1u);
  EXPECT_EQ(w.value()->brokenTmpFiles(), 3u);
  EXPECT_EQ(store.finished, std::vector<std::string>{"a_00000042.cdr"});
  EXPECT_EQ(store.stored.at("a_00000042.cdr"), good);
  std::set<std::string> aside(store.set_aside.begin(), store.set_aside.end());
  EXPECT_EQ(aside, (std::set<std::string>{"b_00000043.cdr", "c_00000044.csv", "d_00000045.cdr"}));
  EXPECT_TRUE(store.leftover_files.empty());
}

}  // namespace
}  // namespace tally::cdr
