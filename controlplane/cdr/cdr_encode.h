#pragma once
// PGW-CDR encoder: TS 32.298 V16.11.0 GPRSRecord / pGWRecord [79] in DER (docs/cdr-format.md).
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "controlplane/cdr/ber.h"
#include "controlplane/cdr/cdr.h"
#include "shared/net.h"
#include "shared/timezone.h"

namespace tally::cdr {

// > RecordType: pGWRecord (85)
constexpr int64_t kRecordTypePgw = 85;
// > GPRSRecord ::= CHOICE { ... pGWRecord [79] PGWRecord ... }
constexpr uint32_t kGprsRecordPgwTag = 79;
constexpr uint32_t kGprsRecordSgwTag = 78;

// The whole record (identifier octets BF 4F ...).
std::vector<uint8_t> encodePgwRecord(const PgwRecord& record, const TimeZone& tz);
// The same, appended to `out` (lets a caller reuse one buffer).
void encodePgwRecord(const PgwRecord& record, const TimeZone& tz, ber::DerWriter& out);

// > TimeStamp ::= OCTET STRING (SIZE(9)): YYMMDDhhmmssShhmm, BCD, local time + offset to UTC.
std::array<uint8_t, 9> encodeTimeStamp(int64_t unix_s, const TimeZone& tz);
// Unix nanoseconds to the seconds a TimeStamp carries (floor).
constexpr int64_t toUnixSeconds(int64_t ns) {
  return ns >= 0 ? ns / 1000000000 : -((-ns + 999999999) / 1000000000);
}
// TBCD-STRING: two digits per octet, first digit in the low nibble, F filler for odd counts.
// Characters other than 0-9 are skipped.
std::vector<uint8_t> encodeTbcd(std::string_view digits);
// PLMN-Id from 5 or 6 digits (MCC + MNC): MCC2 MCC1, MNC3 MCC3, MNC2 MNC1 (F for a 2-digit MNC).
// Returns all zero octets for a malformed input.
std::array<uint8_t, 3> encodePlmnId(std::string_view mcc_mnc);
// GSNAddress / IPAddress CHOICE contents: iPBinV4Address [0] or iPBinV6Address [1].
void writeIpAddressChoice(ber::DerWriter& out, const IpAddress& address);

}  // namespace tally::cdr
