#include "controlplane/cdr/cdr_file.h"

#include <cstdio>
#include <utility>

#include "controlplane/cdr/cdr_encode.h"
#include "controlplane/cdr/cdr_file_reader.h"
#include "controlplane/time_format.h"

namespace tally::cdr {
namespace {

void put32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

uint8_t releaseExtension(uint8_t release) { return static_cast<uint8_t>(release - 10); }

std::string pad(int v, int width) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%0*d", width, v);
  return buf;
}

// "2024-05-17 10:00:00 +0200"
std::string timeText(int64_t ns, const TimeZone& tz) {
  return localTimeText(toUnixSeconds(ns), tz);
}

std::string csvQuote(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) {
    return s;
  }
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') {
      q += '"';
    }
    q += c;
  }
  return q + "\"";
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

const char* closureReasonName(uint8_t reason) {
  switch (reason) {
    case 0:
      return "normalClosure";
    case 1:
      return "fileSizeLimitReached";
    case 2:
      return "fileOpenTimeLimitedReached";
    case 3:
      return "maximumNumberOfCdrsInFileReached";
    case 4:
      return "fileClosedByManualIntervention";
    case 5:
      return "cdrReleaseVersionOrEncodingChange";
    case 128:
      return "abnormalFileClosure";
    case 129:
      return "fileSystemError";
    case 130:
      return "fileSystemStorageExhausted";
    case 131:
      return "fileIntegrityError";
    default:
      return "unknown";
  }
}

HeaderTimestamp headerTimestamp(int64_t unix_s, const TimeZone& tz) {
  LocalTime lt = tz.toLocal(unix_s);
  HeaderTimestamp t;
  t.month = static_cast<uint8_t>(lt.month);
  t.day = static_cast<uint8_t>(lt.day);
  t.hour = static_cast<uint8_t>(lt.hour);
  t.minute = static_cast<uint8_t>(lt.minute);
  t.utc_offset_min = lt.utc_offset_s / 60;
  return t;
}

uint32_t packHeaderTimestamp(const HeaderTimestamp& t) {
  int off = t.utc_offset_min;
  uint32_t plus = off >= 0 ? 1 : 0;
  uint32_t a = static_cast<uint32_t>(off < 0 ? -off : off);
  return (uint32_t{t.month} & 0x0F) << 28 | (uint32_t{t.day} & 0x1F) << 23 |
         (uint32_t{t.hour} & 0x1F) << 18 | (uint32_t{t.minute} & 0x3F) << 12 | plus << 11 |
         ((a / 60) & 0x1F) << 6 | ((a % 60) & 0x3F);
}

HeaderTimestamp unpackHeaderTimestamp(uint32_t v) {
  HeaderTimestamp t;
  t.month = static_cast<uint8_t>((v >> 28) & 0x0F);
  t.day = static_cast<uint8_t>((v >> 23) & 0x1F);
  t.hour = static_cast<uint8_t>((v >> 18) & 0x1F);
  t.minute = static_cast<uint8_t>((v >> 12) & 0x3F);
  int off = static_cast<int>(((v >> 6) & 0x1F) * 60 + (v & 0x3F));
  t.utc_offset_min = (v >> 11) & 1 ? off : -off;
  return t;
}

uint8_t lostCdrIndicator(uint64_t lost) {
  return lost <= 127 ? static_cast<uint8_t>(lost) : static_cast<uint8_t>(0x80 | 127);
}

bool releaseNeedsExtension(uint8_t release) { return release >= 10 && release != 99; }

uint8_t releaseVersionOctet(uint8_t release, uint8_t version) {
  // > 0 = Rel-99 (and earlier), 1 = Rel-4, ..., 6 = Rel-9, 7 = Rel-10 or later (then the
  // > extension octet holds release - 10)
  uint8_t id = 0;
  if (release == 99 || release < 4) {
    id = 0;
  } else if (release <= 9) {
    id = static_cast<uint8_t>(release - 3);
  } else {
    id = 7;
  }
  return static_cast<uint8_t>(id << 5 | (version & 0x1F));
}

std::array<uint8_t, 20> nodeAddressField(const IpAddress& a) {
  std::array<uint8_t, 20> f{};
  f[0] = f[1] = f[2] = f[3] = 0xFF;
  if (a.family == 6) {
    for (int i = 0; i < 8; ++i) {
      f[4 + i] = static_cast<uint8_t>(a.v6.hi >> (8 * (7 - i)));
      f[12 + i] = static_cast<uint8_t>(a.v6.lo >> (8 * (7 - i)));
    }
  } else {
    // IPv4-mapped IPv6 address ::ffff:a.b.c.d
    f[14] = f[15] = 0xFF;
    f[16] = static_cast<uint8_t>(a.v4 >> 24);
    f[17] = static_cast<uint8_t>(a.v4 >> 16);
    f[18] = static_cast<uint8_t>(a.v4 >> 8);
    f[19] = static_cast<uint8_t>(a.v4);
  }
  return f;
}

uint32_t fileHeaderLength(const CdrFileHeader& h) {
  uint32_t n = 50 + static_cast<uint32_t>(h.routeing_filter.size()) + 2 +
               static_cast<uint32_t>(h.private_extension.size());
  n += releaseNeedsExtension(h.high_release) ? 1 : 0;
  n += releaseNeedsExtension(h.low_release) ? 1 : 0;
  return n;
}

std::vector<uint8_t> encodeFileHeader(const CdrFileHeader& h) {
  std::vector<uint8_t> out;
  out.reserve(fileHeaderLength(h));
  put32(out, h.file_length);                                            // octets 1-4
  put32(out, h.header_length);                                          // 5-8
  out.push_back(releaseVersionOctet(h.high_release, h.high_version));   // 9
  out.push_back(releaseVersionOctet(h.low_release, h.low_version));     // 10
  put32(out, packHeaderTimestamp(h.opening));                           // 11-14
  put32(out, packHeaderTimestamp(h.last_append));                       // 15-18
  put32(out, h.cdr_count);                                              // 19-22
  put32(out, h.file_sequence_number);                                   // 23-26
  out.push_back(h.closure_reason);                                      // 27
  out.insert(out.end(), h.node_address.begin(), h.node_address.end());  // 28-47
  out.push_back(h.lost_cdr_indicator);                                  // 48
  put16(out, static_cast<uint16_t>(h.routeing_filter.size()));          // 49-50
  out.insert(out.end(), h.routeing_filter.begin(), h.routeing_filter.end());
  // > Length of private extension: free5gc and SigScale always write it (0 when empty)
  put16(out, static_cast<uint16_t>(h.private_extension.size()));
  out.insert(out.end(), h.private_extension.begin(), h.private_extension.end());
  if (releaseNeedsExtension(h.high_release)) {
    out.push_back(releaseExtension(h.high_release));
  }
  if (releaseNeedsExtension(h.low_release)) {
    out.push_back(releaseExtension(h.low_release));
  }
  return out;
}

std::array<uint8_t, kCdrHeaderLength> encodeCdrHeader(uint16_t cdr_length) {
  // > For our Release-16 PGW-CDR: LL LL EB 27 06 (EB = 7<<5 | 11, 27 = 1<<5 | 7, 06 = 16-10)
  return {static_cast<uint8_t>(cdr_length >> 8), static_cast<uint8_t>(cdr_length),
          releaseVersionOctet(kCdrRelease, kCdrVersion),
          static_cast<uint8_t>(kDataRecordFormatBer << 5 | kTsNumber32251),
          releaseExtension(kCdrRelease)};
}

std::string cdrFileName(const std::string& node_id, int64_t opening_unix_s, const TimeZone& tz,
                        uint32_t file_sequence, CdrFormat format) {
  return node_id + "_" + compactLocalTime(tz.toLocal(opening_unix_s)) + "_" +
         pad(static_cast<int>(file_sequence), 8) + (format == CdrFormat::kCsv ? ".csv" : ".cdr");
}

std::string csvHeaderLine() {
  return "recordType,servedIMSI,servedMSISDN,p-GWAddress,chargingID,servingNodeAddress,"
         "servingNodeType,accessPointNameNI,pdpPDNType,servedPDPPDNAddress,dynamicAddressFlag,"
         "recordOpeningTime,duration,causeForRecClosing,recordSequenceNumber,nodeID,"
         "localSequenceNumber,chargingCharacteristics,apnSelectionMode,chChSelectionMode,"
         "servingNodePLMNIdentifier,rATType,mSTimeZone,userLocationInformation,"
         "p-GWPLMNIdentifier,startTime,stopTime,uplinkOctets,downlinkOctets,"
         "listOfTrafficVolumes,listOfServiceData\n";
}

std::string csvRecordLine(const PgwRecord& r, const TimeZone& tz) {
  std::vector<std::string> c;
  c.reserve(31);
  c.push_back(std::to_string(kRecordTypePgw));
  c.push_back(r.imsi);
  c.push_back(r.msisdn);
  c.push_back(formatIp(r.pgw_address));
  c.push_back(std::to_string(r.charging_id));
  std::string nodes;
  std::string types;
  for (size_t i = 0; i < r.serving_nodes.size(); ++i) {
    if (i != 0) {
      nodes += ';';
      types += ';';
    }
    nodes += formatIp(r.serving_nodes[i]);
    ServingNodeType t =
        i < r.serving_node_types.size() ? r.serving_node_types[i] : ServingNodeType::kGtpSgw;
    types += std::to_string(static_cast<int>(t));
  }
  c.push_back(nodes);
  c.push_back(types);
  c.push_back(r.apn);
  bool has_addr = r.served_address.family == 4 || r.served_address.family == 6;
  c.push_back(!has_addr ? "" : r.served_address.family == 4 ? "IPv4" : "IPv6");
  std::string served;
  if (has_addr) {
    served = formatIp(r.served_address);
    if (r.served_address.family == 6 && r.served_prefix_length != 0) {
      served += '/';
      served += std::to_string(r.served_prefix_length);
    }
  }
  c.push_back(served);
  c.push_back(r.dynamic_address ? "true" : "false");
  c.push_back(timeText(r.record_opening_time_ns, tz));
  c.push_back(std::to_string(r.duration_s));
  c.push_back(std::to_string(static_cast<int>(r.cause)));
  c.push_back(r.record_sequence_number ? std::to_string(*r.record_sequence_number) : "");
  c.push_back(r.node_id);
  c.push_back(std::to_string(r.local_sequence_number));
  char cc[8];
  std::snprintf(cc, sizeof(cc), "%04x", r.charging_characteristics);
  c.push_back(cc);
  c.push_back(r.apn_selection_mode ? std::to_string(static_cast<int>(*r.apn_selection_mode)) : "");
  c.push_back(r.ch_ch_selection_mode ? std::to_string(static_cast<int>(*r.ch_ch_selection_mode))
                                     : "");
  c.push_back(r.serving_node_plmn_id);
  c.push_back(r.rat_type ? std::to_string(*r.rat_type) : "");
  c.push_back(r.ms_time_zone ? ber::toHex(*r.ms_time_zone) : "");
  c.push_back(ber::toHex(r.user_location_information));
  c.push_back(r.pgw_plmn_id);
  c.push_back(r.start_time_ns ? timeText(*r.start_time_ns, tz) : "");
  c.push_back(r.stop_time_ns ? timeText(*r.stop_time_ns, tz) : "");
  uint64_t ul = 0;
  uint64_t dl = 0;
  if (!r.service_data.empty()) {
    for (const ServiceContainer& s : r.service_data) {
      ul += s.uplink_octets;
      dl += s.downlink_octets;
    }
  } else {
    for (const TrafficContainer& t : r.traffic_volumes) {
      ul += t.uplink_octets;
      dl += t.downlink_octets;
    }
  }
  c.push_back(std::to_string(ul));
  c.push_back(std::to_string(dl));
  // Traffic containers: uplink/downlink/changeCondition/changeTime/qci, separated by ';'.
  std::string tv;
  for (size_t i = 0; i < r.traffic_volumes.size(); ++i) {
    const TrafficContainer& t = r.traffic_volumes[i];
    if (i != 0) {
      tv += ';';
    }
    tv += std::to_string(t.uplink_octets) + "/" + std::to_string(t.downlink_octets) + "/" +
          std::to_string(static_cast<int>(t.change_condition)) + "/" +
          timeText(t.change_time_ns, tz) + "/" + (t.qci ? std::to_string(t.qci) : "");
  }
  c.push_back(tv);
  // Service containers: ratingGroup/localSequenceNumber/timeOfFirstUsage/timeOfLastUsage/
  // timeUsage/serviceConditionChange (bit numbers joined by '+')/servingNodeAddress/
  // uplink/downlink/timeOfReport, separated by ';'.
  std::string sd;
  for (size_t i = 0; i < r.service_data.size(); ++i) {
    const ServiceContainer& s = r.service_data[i];
    std::string bits;
    for (int b = 0; b < 64; ++b) {
      if (s.service_condition_change & (uint64_t{1} << b)) {
        if (!bits.empty()) {
          bits += '+';
        }
        bits += std::to_string(b);
      }
    }
    if (i != 0) {
      sd += ';';
    }
    sd += std::to_string(s.rating_group) + "/" + std::to_string(s.local_sequence_number) + "/" +
          (s.time_of_first_usage_ns ? timeText(s.time_of_first_usage_ns, tz) : "") + "/" +
          (s.time_of_last_usage_ns ? timeText(s.time_of_last_usage_ns, tz) : "") + "/" +
          std::to_string(s.time_usage_s) + "/" + bits + "/" +
          (s.serving_node ? formatIp(*s.serving_node) : "") + "/" +
          std::to_string(s.uplink_octets) + "/" + std::to_string(s.downlink_octets) + "/" +
          timeText(s.time_of_report_ns, tz);
  }
  c.push_back(sd);
  std::string line;
  for (size_t i = 0; i < c.size(); ++i) {
    if (i) {
      line += ',';
    }
    line += csvQuote(c[i]);
  }
  line += '\n';
  return line;
}

CdrFileWriter::CdrFileWriter(const Config& config, TimeZonePtr tz, SequenceStore& seq,
                             const Clock& clock, BillStore& store)
    : cdr_(config.accounting.cdr),
      node_id_(config.node.id),
      node_address_(config.node.address),
      store_(store),
      tz_(std::move(tz)),
      seq_(seq),
      clock_(clock) {
  CdrFileHeader h;
  header_length_ = cdr_.format == CdrFormat::kCsv ? csvHeaderLine().size() : fileHeaderLength(h);
}

CdrFileWriter::~CdrFileWriter() {
  // Safety net: a writer destroyed without closeAll() still writes what it holds.
  if ((current_ && !current_->records.empty()) || !pending_.empty()) {
    closeAll();
  }
}

Result<std::unique_ptr<CdrFileWriter>> CdrFileWriter::open(const Config& config, TimeZonePtr tz,
                                                           SequenceStore& seq, const Clock& clock,
                                                           BillStore& store) {
  if (!tz) {
    return Error{"no time zone"};
  }
  std::unique_ptr<CdrFileWriter> w(new CdrFileWriter(config, std::move(tz), seq, clock, store));
  w->recoverLeftovers();
  return w;
}

Result<std::unique_ptr<CdrFileWriter>> CdrFileWriter::open(const Config& config, TimeZonePtr tz,
                                                           SequenceStore& seq,
                                                           const Clock& clock) {
  auto store = FlashBillStore::open(config.local_bill.cfcard_path);
  if (!store) {
    return store.error();
  }
  auto w = open(config, std::move(tz), seq, clock, *store.value());
  if (w) {
    w.value()->owned_store_ = std::move(store.value());
  }
  return w;
}

void CdrFileWriter::recoverLeftovers() {
  auto names = store_.leftovers();
  if (!names) {
    return;
  }
  for (const std::string& name : names.value()) {
    // A crash between write and rename: the file may be complete (then it is finished now) or
    // not (then it is set aside for the operator; never deleted). CSV files have no framing
    // to check them by: always set aside.
    bool complete = false;
    if (endsWith(name, ".cdr")) {
      auto bytes = store_.readLeftover(name);
      complete = bytes && parseCdrFile(bytes.value(), store_.location() + "/" + name);
    }
    if (complete && store_.finishLeftover(name)) {
      ++recovered_tmp_;
    } else if (store_.setAsideLeftover(name)) {
      ++broken_tmp_;
    }
  }
}

size_t CdrFileWriter::pendingRecords() const {
  size_t n = 0;
  for (const OpenFile& f : pending_) {
    n += f.records.size();
  }
  return n;
}

void CdrFileWriter::startFile(int64_t now_ns) {
  current_ = std::make_unique<OpenFile>();
  current_->sequence = seq_.nextFileSequence();
  current_->opened_ns = now_ns;
  current_->last_append_ns = now_ns;
  current_->name =
      cdrFileName(node_id_, toUnixSeconds(now_ns), *tz_, current_->sequence, cdr_.format);
  current_->bytes = header_length_;
  current_->lost_cdr_indicator = lostCdrIndicator(lost_unreported_);
  lost_unreported_ = 0;
  current_->records.reserve(cdr_.file_max_records < 1024 ? cdr_.file_max_records : 1024);
}

void CdrFileWriter::emit(PgwRecord record, bool flush_now) {
  if (pending_.size() >= kMaxPendingFiles || pendingRecords() >= kMaxPendingRecords) {
    ++records_dropped_;
    ++lost_unreported_;
    last_error_ = "record dropped: " + std::to_string(pendingRecords()) + " records in " +
                  std::to_string(pending_.size()) + " unwritten files";
    return;
  }
  auto encoded = encodeRecordForFile(record, cdr_.format, *tz_, scratch_);
  if (!encoded) {
    ++records_dropped_;
    ++lost_unreported_;
    ++write_errors_;
    last_error_ = "record dropped: " + encoded.error().message;
    return;
  }
  std::vector<uint8_t> data = std::move(encoded.value());
  const size_t size = cdrRecordOverhead(cdr_.format) + data.size();
  int64_t now = clock_.wallNs();
  if (current_ && !current_->records.empty() && current_->bytes + size > cdr_.file_max_bytes) {
    close(FileClosureReason::kFileSizeLimit);
  }
  if (!current_) {
    startFile(now);
  }
  current_->records.push_back(std::move(data));
  current_->bytes += size;
  current_->last_append_ns = now;
  if (current_->count() >= cdr_.file_max_records) {
    close(FileClosureReason::kMaxCdrs);
  } else if (flush_now) {
    close(FileClosureReason::kNormal);
  }
}

void CdrFileWriter::tick(int64_t now_ns) {
  if (current_ && !current_->records.empty() &&
      now_ns - current_->opened_ns >= int64_t{cdr_.file_max_age_s} * 1000000000) {
    close(FileClosureReason::kFileOpenTimeLimit);
  }
  if (!pending_.empty() && now_ns - last_retry_ns_ >= kRetryIntervalNs) {
    last_retry_ns_ = now_ns;
    retryPending();
  }
}

void CdrFileWriter::closeCurrent(FileClosureReason reason) {
  close(reason);
  retryPending();
}

void CdrFileWriter::closeAll() { closeCurrent(FileClosureReason::kManual); }

void CdrFileWriter::close(FileClosureReason reason) {
  // Older unwritten files first: keeps file sequence numbers in order on the card.
  retryPending();
  if (!current_) {
    return;
  }
  std::unique_ptr<OpenFile> f = std::move(current_);
  if (f->records.empty()) {
    return;
  }
  f->closure_reason = static_cast<uint8_t>(reason);
  if (!pending_.empty() || !writeOut(*f)) {
    pending_.push_back(std::move(*f));
  }
}

void CdrFileWriter::retryPending() {
  while (!pending_.empty()) {
    if (!writeOut(pending_.front())) {
      return;
    }
    pending_.pop_front();
  }
}

std::vector<uint8_t> CdrFileWriter::render(const OpenFile& f) const {
  CdrFileSpec spec;
  spec.format = cdr_.format;
  spec.sequence = f.sequence;
  spec.opened_ns = f.opened_ns;
  spec.last_append_ns = f.last_append_ns;
  spec.closure_reason = f.closure_reason;
  spec.lost_cdr_indicator = f.lost_cdr_indicator;
  spec.node_address = node_address_;
  std::vector<std::span<const uint8_t>> records(f.records.begin(), f.records.end());
  return renderCdrFile(spec, records, *tz_);
}

size_t cdrFileHeaderBytes(CdrFormat format) {
  return format == CdrFormat::kCsv ? csvHeaderLine().size() : fileHeaderLength(CdrFileHeader{});
}

size_t cdrRecordOverhead(CdrFormat format) {
  return format == CdrFormat::kCsv ? 0 : kCdrHeaderLength;
}

std::vector<uint8_t> renderCdrFile(const CdrFileSpec& spec,
                                   const std::vector<std::span<const uint8_t>>& records,
                                   const TimeZone& tz) {
  size_t bytes = cdrFileHeaderBytes(spec.format);
  for (const auto& r : records) {
    bytes += cdrRecordOverhead(spec.format) + r.size();
  }
  std::vector<uint8_t> out;
  out.reserve(bytes);
  if (spec.format == CdrFormat::kCsv) {
    std::string h = csvHeaderLine();
    out.assign(h.begin(), h.end());
    for (const auto& r : records) {
      out.insert(out.end(), r.begin(), r.end());
    }
    return out;
  }
  CdrFileHeader h;
  h.header_length = static_cast<uint32_t>(cdrFileHeaderBytes(spec.format));
  h.file_length = static_cast<uint32_t>(bytes);
  h.opening = headerTimestamp(toUnixSeconds(spec.opened_ns), tz);
  h.last_append = headerTimestamp(toUnixSeconds(spec.last_append_ns), tz);
  h.cdr_count = static_cast<uint32_t>(records.size());
  h.file_sequence_number = spec.sequence;
  h.closure_reason = spec.closure_reason;
  h.node_address = nodeAddressField(spec.node_address);
  h.lost_cdr_indicator = spec.lost_cdr_indicator;
  out = encodeFileHeader(h);
  for (const auto& r : records) {
    auto ch = encodeCdrHeader(static_cast<uint16_t>(r.size()));
    out.insert(out.end(), ch.begin(), ch.end());
    out.insert(out.end(), r.begin(), r.end());
  }
  return out;
}

Result<std::vector<uint8_t>> encodeRecordForFile(const PgwRecord& record, CdrFormat format,
                                                 const TimeZone& tz, ber::DerWriter& scratch) {
  if (format == CdrFormat::kCsv) {
    std::string line = csvRecordLine(record, tz);
    return std::vector<uint8_t>(line.begin(), line.end());
  }
  scratch.clear();
  encodePgwRecord(record, tz, scratch);
  if (scratch.bytes().size() > 0xFFFF) {
    // > CDR length: 2 octets. Cannot happen with the containers tally writes.
    return Error{"encoded CDR of " + std::to_string(scratch.bytes().size()) +
                 " octets exceeds 65535"};
  }
  return scratch.bytes();
}

bool CdrFileWriter::writeOut(const OpenFile& f) {
  std::vector<uint8_t> bytes = render(f);
  auto r = store_.store(f.name, bytes);
  if (!r) {
    ++write_errors_;
    last_error_ = r.error().message;
    return false;
  }
  ++files_written_;
  records_written_ += f.records.size();
  last_file_ = f.name;
  return true;
}

}  // namespace tally::cdr
