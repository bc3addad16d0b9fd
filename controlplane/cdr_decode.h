#pragma once
// Reading what tally writes: BER PGW-CDRs (and SGW-CDRs) into JSON with the TS 32.298 field
// names, PGW-CDRs back into the record model, and TS 32.297 CDR files (header, CDR headers,
// records) with precise errors for corrupt or truncated files. Never throws, never reads
// outside its input.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "controlplane/cdr.h"
#include "controlplane/cdr_file.h"
#include "shared/result.h"

namespace tally::cdr {

// One GPRSRecord (pGWRecord [79] / sGWRecord [78]) as a JSON object, fields in wire order:
//   "recordType": "pGWRecord (85)", "servedIMSI": "001010123456789",
//   "p-GWAddress": "198.51.100.1", "servingNodeAddress": ["192.0.2.10"],
//   "recordOpeningTime": "2024-05-17 10:00:00 +0200", "causeForRecClosing": "volumeLimit (16)",
//   "listOfServiceData": [{"ratingGroup": 100, "serviceConditionChange": ["recordClosure"], ...}]
// Unknown tags: "[tag N]": "hex". A field whose contents are malformed: "!invalid (reason): hex".
// Errors only for a broken TLV structure of the record itself or trailing data.
Result<nlohmann::ordered_json> decodeRecordToJson(std::span<const uint8_t> ber);

// Strict decode of a pGWRecord into the model (what tally writes; unknown fields are ignored).
// Times are whole seconds; an IPv6 servedPDPPDNAddress in iPBinV6Address [1] gets prefix
// length 64 (> PDPAddressPrefixLength: the default value is 64 bits); session_id is 0.
Result<PgwRecord> decodePgwRecord(std::span<const uint8_t> ber);

// > TimeStamp: YYMMDDhhmmssShhmm -> "2024-05-17 10:00:00 +0200" (years 20YY).
Result<std::string> timeStampText(std::span<const uint8_t> ts);
// The instant a TimeStamp denotes (Unix seconds).
Result<int64_t> timeStampUnix(std::span<const uint8_t> ts);
// TBCD digits (stops at an F filler).
Result<std::string> tbcdDigits(std::span<const uint8_t> v);

struct CdrFileRecord {
  size_t offset = 0;    // of its CDR header in the file
  uint16_t length = 0;  // CDR length from its header
  uint8_t release = 0;  // 99 (Rel-99 and earlier), 4..9, 10+ (from the extension octet)
  uint8_t version = 0;
  uint8_t data_record_format = 0;  // 1 BER, 2 unaligned PER, 3 aligned PER, 4 XER
  uint8_t ts_number = 0;           // 7 = TS 32.251
  std::vector<uint8_t> data;       // the CDR
};

struct CdrFileContents {
  std::string name;  // path as given
  CdrFileHeader header;
  std::vector<CdrFileRecord> records;
};

// Parses and validates a TS 32.297 file: file length = size, header length = the parsed
// header, release/version ids (extension octets), CDR count = records found, each CDR header
// within the file and within the header's low..high release/version. Errors name the file and
// the offset ("x.cdr: record 2 at offset 406: CDR length 347 exceeds the 110 octets left").
Result<CdrFileContents> parseCdrFile(std::span<const uint8_t> bytes, const std::string& name);
Result<CdrFileContents> readCdrFile(const std::string& path);

nlohmann::ordered_json fileHeaderToJson(const CdrFileHeader& h);

// For `tallyctl decode FILE`: one JSON object per record, each starting with "file" (the path
// as given), "fileSequenceNumber" and "recordIndex" (1 = first record), then the record's
// fields (or "error" and "hex" for a record that does not decode). A .csv file gives one
// object per line with the column names as keys.
Result<std::vector<nlohmann::ordered_json>> decodeCdrFileToJson(const std::string& path);

// One line of JSON (no newline); never throws (invalid UTF-8 would be replaced).
std::string toJsonLine(const nlohmann::ordered_json& j);

}  // namespace tally::cdr
