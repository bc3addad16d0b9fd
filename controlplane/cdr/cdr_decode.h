#pragma once
// Reading what tally writes: BER PGW-CDRs (and SGW-CDRs) into JSON with the TS 32.298 field
// names, PGW-CDRs back into the record model, and whole CDR files (read by cdr_file_reader.h,
// or tally's CSV) as JSON lines for `tallyctl decode`. Never throws, never reads outside its
// input.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "controlplane/cdr/cdr.h"
#include "controlplane/cdr/cdr_file.h"
#include "controlplane/cdr/cdr_file_reader.h"
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

nlohmann::ordered_json fileHeaderToJson(const CdrFileHeader& h);

// For `tallyctl decode FILE`: one JSON object per record, each starting with "file" (the path
// as given), "fileSequenceNumber" and "recordIndex" (1 = first record), then the record's
// fields (or "error" and "hex" for a record that does not decode). A .csv file gives one
// object per line with the column names as keys. A local bill (bill/local_bill.h) gives
// "recordType": "localBill" and its own fields (BER: localBillToJson; CSV: its own columns).
Result<std::vector<nlohmann::ordered_json>> decodeCdrFileToJson(const std::string& path);

// The usage in a bill file: octets summed over its records (BER: each PGW-CDR's traffic
// containers; CSV: the uplinkOctets / downlinkOctets columns, found by the header line).
// Records that do not decode are skipped and counted. Local bills (bill/local_bill.h: BER
// [PRIVATE 1], CSV lines starting "localBill") are the RADIUS fallback ledger and duplicate
// usage the CDRs carry: they are counted apart and never in records / ul_octets / dl_octets.
struct FileUsage {
  uint64_t records = 0;      // CDRs
  uint64_t undecodable = 0;  // CDRs and local bills that do not decode
  uint64_t ul_octets = 0;    // of the CDRs
  uint64_t dl_octets = 0;
  uint64_t local_bills = 0;
  uint64_t local_ul_octets = 0;
  uint64_t local_dl_octets = 0;
};
Result<FileUsage> fileUsage(const std::string& path);

// One CSV line (without its newline) into cells: "" quoting, ',' separators; *ok false for an
// unterminated quote.
std::vector<std::string> splitCsvLine(const std::string& line, bool* ok);

// One line of JSON (no newline); never throws (invalid UTF-8 would be replaced).
std::string toJsonLine(const nlohmann::ordered_json& j);

}  // namespace tally::cdr
