#pragma once
// TS 32.297 CDR files (Bx interface): file header + N x (CDR header + BER CDR), and the CDR
// file writer (RecordSink) that closes files on record count, size, age, hot billing and
// shutdown and hands each finished file to a BillStore (bill_store.h). The reader of the
// format is cdr_file_reader.h. See docs/cdr-format.md.
#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "controlplane/cdr/ber.h"
#include "controlplane/storage/bill_store.h"
#include "controlplane/cdr/cdr.h"
#include "controlplane/charging/charging.h"
#include "controlplane/storage/sequence_store.h"
#include "shared/clock.h"
#include "shared/config.h"
#include "shared/result.h"
#include "shared/timezone.h"

namespace tally::cdr {

// > File closure trigger reason (TS 32.297 file header, octet 27)
enum class FileClosureReason : uint8_t {
  kNormal = 0,
  kFileSizeLimit = 1,
  kFileOpenTimeLimit = 2,
  kMaxCdrs = 3,
  kManual = 4,
  kReleaseVersionEncodingChange = 5,
  kAbnormal = 128,
  kFileSystemError = 129,
  kStorageExhausted = 130,
  kFileIntegrityError = 131,
};
const char* closureReasonName(uint8_t reason);

// What tally claims: TS 32.298 V16.11.0 -> Release 16, version 11; BER; TS 32.251.
constexpr uint8_t kCdrRelease = 16;
constexpr uint8_t kCdrVersion = 11;
constexpr uint8_t kDataRecordFormatBer = 1;
constexpr uint8_t kTsNumber32251 = 7;
constexpr size_t kCdrHeaderLength = 5;  // LL LL EB 27 06

// > Header timestamp: month (4 bits) | day (5) | hour (5) | minute (6) | sign of the offset
// > from UTC (1: 1 = "+") | offset hours (5) | offset minutes (6); local time, big-endian.
struct HeaderTimestamp {
  uint8_t month = 1;
  uint8_t day = 1;
  uint8_t hour = 0;
  uint8_t minute = 0;
  int utc_offset_min = 0;  // local = UTC + offset
  bool operator==(const HeaderTimestamp&) const = default;
};
HeaderTimestamp headerTimestamp(int64_t unix_s, const TimeZone& tz);
uint32_t packHeaderTimestamp(const HeaderTimestamp& t);
HeaderTimestamp unpackHeaderTimestamp(uint32_t v);

// Release / version octet: release id (bits 8-6) | version id (bits 5-1). Releases >= 10 use
// release id 7 and an extension octet (release - 10). Release numbers: 99 = Rel-99 and
// earlier, 4..9, 10 and later.
uint8_t releaseVersionOctet(uint8_t release, uint8_t version);
bool releaseNeedsExtension(uint8_t release);

struct CdrFileHeader {
  uint32_t file_length = 0;    // header + all CDRs
  uint32_t header_length = 0;  // including the variable parts and extension octets
  uint8_t high_release = kCdrRelease;
  uint8_t high_version = kCdrVersion;
  uint8_t low_release = kCdrRelease;
  uint8_t low_version = kCdrVersion;
  HeaderTimestamp opening;
  HeaderTimestamp last_append;
  uint32_t cdr_count = 0;
  uint32_t file_sequence_number = 0;
  uint8_t closure_reason = 0;
  std::array<uint8_t, 20> node_address{};  // FF FF FF FF + IPv6 (IPv4 as ::ffff:a.b.c.d)
  uint8_t lost_cdr_indicator = 0;
  std::vector<uint8_t> routeing_filter;
  std::vector<uint8_t> private_extension;  // its 2-octet length is always written
  bool operator==(const CdrFileHeader&) const = default;
};

// > Lost CDR indicator: 0 = none lost; otherwise the count, with a "more than" flag in the top
// > bit: 1..127 exactly, 0xFF = more than 127.
uint8_t lostCdrIndicator(uint64_t lost);

// > IP address of the node that generated the file: 20 octets (cdr-format.md 9.1)
std::array<uint8_t, 20> nodeAddressField(const IpAddress& a);
// Length of the encoded header for these variable parts (fills nothing in).
uint32_t fileHeaderLength(const CdrFileHeader& h);
// Encodes the header as given (file_length and header_length are written as they are).
std::vector<uint8_t> encodeFileHeader(const CdrFileHeader& h);
// > CDR header: CDR length (2) | release/version | data record format / TS number | release
// > extension -> LL LL EB 27 06 for our Release-16 PGW-CDR.
std::array<uint8_t, kCdrHeaderLength> encodeCdrHeader(uint16_t cdr_length);

// File names: <node.id>_<YYYYMMDDhhmmss local opening time>_<file seq, 8 digits>.cdr|.csv
std::string cdrFileName(const std::string& node_id, int64_t opening_unix_s, const TimeZone& tz,
                        uint32_t file_sequence, CdrFormat format);

// CSV (cdr.format: csv): the column header line and one line per record (docs/cdr-format.md).
std::string csvHeaderLine();
std::string csvRecordLine(const PgwRecord& r, const TimeZone& tz);

// One bill file as the CDR file writer and the bill pool build it: what goes into the TS 32.297
// file header besides the records themselves.
struct CdrFileSpec {
  CdrFormat format = CdrFormat::k3gpp;
  uint32_t sequence = 0;            // file sequence number
  int64_t opened_ns = 0;            // wall clock
  int64_t last_append_ns = 0;
  uint8_t closure_reason = 0;       // FileClosureReason
  uint8_t lost_cdr_indicator = 0;
  IpAddress node_address;
};
// Octets a file has before its first record (the TS 32.297 header, or the CSV header line),
// and what each record adds besides its own bytes (the 5-octet CDR header; 0 for CSV).
size_t cdrFileHeaderBytes(CdrFormat format);
size_t cdrRecordOverhead(CdrFormat format);
// The file's bytes: header + records (encoded CDRs for BER, lines for CSV).
std::vector<uint8_t> renderCdrFile(const CdrFileSpec& spec,
                                   const std::vector<std::span<const uint8_t>>& records,
                                   const TimeZone& tz);
// One record as it goes into a file of `format`: the BER PGW-CDR, or its CSV line. An error when
// the encoded CDR exceeds the 2-octet CDR length (65535).
Result<std::vector<uint8_t>> encodeRecordForFile(const PgwRecord& record, CdrFormat format,
                                                 const TimeZone& tz, ber::DerWriter& scratch);

class CdrFileWriter : public RecordSink {
 public:
  // Records waiting in files that could not be written are bounded: beyond these, new records
  // are dropped (counted in recordsDropped()), nothing already held is touched.
  static constexpr size_t kMaxPendingFiles = 64;
  static constexpr size_t kMaxPendingRecords = 65536;
  // Minimum time between retries of unwritten files from tick().
  static constexpr int64_t kRetryIntervalNs = 10'000'000'000;

  // Finished files go to `store` (which must outlive the writer). Completes or sets aside the
  // files a crash left half stored (the store's leftovers): a leftover .cdr that reads as a
  // complete, valid TS 32.297 file is finished, any other is set aside.
  static Result<std::unique_ptr<CdrFileWriter>> open(const Config& config, TimeZonePtr tz,
                                                     SequenceStore& seq, const Clock& clock,
                                                     BillStore& store);
  // The same with a FlashBillStore of its own on config.local_bill.cfcard_path (created 0750
  // if missing; an error if it cannot be written).
  static Result<std::unique_ptr<CdrFileWriter>> open(const Config& config, TimeZonePtr tz,
                                                     SequenceStore& seq, const Clock& clock);
  // Closes and writes what is still open (as closeAll()), best effort.
  ~CdrFileWriter() override;

  // Appends the record to the open file (opening one if needed); closes the file when it
  // reaches cdr.file_max_records (reason 3), before file_max_bytes would be exceeded (1), and
  // at once when flush_now (hot billing, reason 0).
  void emit(PgwRecord record, bool flush_now) override;
  // Closes the open file when it is file_max_age_s old (reason 2); retries unwritten files.
  // now_ns: wall-clock nanoseconds.
  void tick(int64_t now_ns);
  // Closes the open file with the given reason (if it holds records) and retries unwritten
  // files.
  void closeCurrent(FileClosureReason reason);
  // Shutdown: closes the open file (reason 4, manual / O&M) and retries unwritten files once.
  void closeAll();

  uint64_t filesWritten() const { return files_written_; }
  uint64_t recordsWritten() const { return records_written_; }
  uint64_t writeErrors() const { return write_errors_; }
  uint64_t recordsDropped() const { return records_dropped_; }
  const std::string& lastError() const { return last_error_; }
  uint32_t currentFileRecords() const { return current_ ? current_->count() : 0; }
  size_t pendingFiles() const { return pending_.size(); }
  size_t pendingRecords() const;
  // Where the files go (the store's location, e.g. the CF card directory).
  const std::string& directory() const { return store_.location(); }
  const std::string& lastFileName() const { return last_file_; }
  // Leftovers found at open(): finished / set aside (FlashBillStore: <name>.tmp renamed to
  // <name> / <name>.tmp.broken).
  uint32_t recoveredTmpFiles() const { return recovered_tmp_; }
  uint32_t brokenTmpFiles() const { return broken_tmp_; }

 private:
  struct OpenFile {
    std::string name;
    uint32_t sequence = 0;
    int64_t opened_ns = 0;
    int64_t last_append_ns = 0;
    uint8_t closure_reason = 0;
    uint8_t lost_cdr_indicator = 0;             // records dropped before this file was opened
    std::vector<std::vector<uint8_t>> records;  // encoded CDRs, or CSV lines
    size_t bytes = 0;                           // file size so far (with the header)
    uint32_t count() const { return static_cast<uint32_t>(records.size()); }
  };

  CdrFileWriter(const Config& config, TimeZonePtr tz, SequenceStore& seq, const Clock& clock,
                BillStore& store);
  void startFile(int64_t now_ns);
  void close(FileClosureReason reason);
  bool writeOut(const OpenFile& f);
  void retryPending();
  std::vector<uint8_t> render(const OpenFile& f) const;
  void recoverLeftovers();

  const CdrConfig cdr_;
  const std::string node_id_;
  const IpAddress node_address_;
  BillStore& store_;
  BillStorePtr owned_store_;  // set when open() made the store itself
  TimeZonePtr tz_;
  SequenceStore& seq_;
  const Clock& clock_;
  size_t header_length_ = 0;
  std::unique_ptr<OpenFile> current_;
  std::deque<OpenFile> pending_;  // closed but not yet written
  int64_t last_retry_ns_ = 0;
  ber::DerWriter scratch_;
  uint64_t files_written_ = 0;
  uint64_t records_written_ = 0;
  uint64_t write_errors_ = 0;
  uint64_t records_dropped_ = 0;
  uint64_t lost_unreported_ = 0;  // dropped since the last file was opened
  uint32_t recovered_tmp_ = 0;
  uint32_t broken_tmp_ = 0;
  std::string last_error_;
  std::string last_file_;
};

}  // namespace tally::cdr
