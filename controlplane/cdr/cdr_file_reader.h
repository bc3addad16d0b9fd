#pragma once
// Reading TS 32.297 CDR files (the format cdr_file.h writes): the file header, the CDR headers
// and the records, with precise errors for corrupt or truncated files. The CDR file writer's
// recovery uses it to tell a complete temporary file from a broken one; `tallyctl decode`
// (cdr_decode.h) renders what it reads as JSON. Never throws, never reads outside its input.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "controlplane/cdr/cdr_file.h"
#include "shared/result.h"

namespace tally::cdr {

// Larger files are refused by readCdrFile().
constexpr size_t kMaxCdrFileSize = size_t{1} << 30;

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

// "Rel-16 v11", "Rel-99 v3".
std::string releaseVersionText(uint8_t release, uint8_t version);

}  // namespace tally::cdr
