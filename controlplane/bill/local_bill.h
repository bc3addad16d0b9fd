#pragma once
// The local bill (docs/local-bill.md): the record tally writes into the bill pool when a RADIUS
// accounting request that should have carried a session's usage went unanswered (the seed
// device's "local bill"). It is the RADIUS fallback ledger, kept apart from the CDRs (the 3GPP
// ledger) that carry the same usage: a local bill never enters the CDR bill balance.
//
// Encodings, one per bill file format (accounting.cdr.format):
//   BER  LocalBillRecord ::= [PRIVATE 1] SEQUENCE {...} (docs/asn1/TallyLocalBill.asn), DER,
//        in the same TS 32.297 files as the CDRs, with the same CDR header. The private outer
//        tag (identifier octet E1) cannot be taken for the TS 32.298 CallEventRecord CHOICE
//        (context tags, BF 4F for a pGWRecord).
//   CSV  one line in the CDR file's column count whose first column is "localBill", its own
//        columns after it (docs/local-bill.md, "CSV"), the CDR columns' uplinkOctets and
//        downlinkOctets positions empty.
// Times are carried to the second (the 3GPP TimeStamp; the CSV's local time text).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/cdr/ber.h"
#include "shared/config.h"
#include "shared/net.h"
#include "shared/result.h"
#include "shared/timezone.h"

namespace tally::bill {

enum class LocalBillReason : uint8_t {   // why it was written (values are on the wire: keep them)
  kStopUnanswered = 1,        // the Stop went unanswered after every retry on every server
  kStartUnansweredOnline = 2, // start_fail online: the Start was not answered, the session ran on
  kStartUnansweredOffline = 3,// start_fail offline: refused; the usage before the refusal
  kInterimUnansweredOffline = 4, // interim_fail offline: ended after max_times unanswered interims
  kNotSent = 5,               // the Stop could not be sent (no live server, client queue full)
  kShutdown = 6,              // the daemon stopped before the Stop was answered
};
constexpr uint8_t kLocalBillReasonMax = 6;
// "stop-unanswered", "start-unanswered-online", "start-unanswered-offline",
// "interim-unanswered-offline", "not-sent", "shutdown"; "?" for a value not in the list.
const char* localBillReasonName(LocalBillReason r);
// The ASN.1 ENUMERATED names: "stopUnanswered", ...
const char* localBillReasonAsn1Name(LocalBillReason r);
bool validLocalBillReason(uint64_t v);

struct LocalBill {
  uint64_t number = 0;          // bill number = the pool's localSequenceNumber (set by the pool)
  std::string acct_session_id;  // the RADIUS Acct-Session-Id, 1..253 octets
  uint64_t session_id = 0;      // tally's session id
  std::string user_name;        // as sent in User-Name ("" none)
  std::string imsi, msisdn;     // "" when unknown
  std::string nas_identifier;   // node.id
  int64_t start_ns = 0, stop_ns = 0;   // wall clock, Unix ns
  uint32_t session_time_s = 0;  // elapsed (Acct-Session-Time)
  IpAddress ip; uint8_t prefix_length = 0;   // Framed-IP-Address or Framed-IPv6-Prefix (0 for IPv4)
  uint64_t ul_octets = 0, dl_octets = 0, ul_packets = 0, dl_packets = 0;  // uplink = from the subscriber
  uint32_t terminate_cause = 0; // RFC 2866 Acct-Terminate-Cause value
  LocalBillReason reason = LocalBillReason::kStopUnanswered;
  bool operator==(const LocalBill&) const = default;
};

// > LocalBillRecord ::= [PRIVATE 1] SEQUENCE: identifier octet E1 (private, constructed, 1).
constexpr uint32_t kLocalBillTagNumber = 1;
constexpr ber::Tag kLocalBillTag{ber::TagClass::kPrivate, true, kLocalBillTagNumber};
// The first column of a local bill's CSV line.
constexpr std::string_view kLocalBillCsvType = "localBill";

// Whether the octets (a record of a TS 32.297 file) start with the LocalBillRecord tag.
bool isLocalBillRecord(std::span<const uint8_t> ber);

// What the record's constraints refuse (docs/asn1/TallyLocalBill.asn): acct_session_id empty
// or over 253 octets, user_name / nas_identifier over 253, imsi / msisdn not 1-15 digits,
// an address family other than 0/4/6, a prefix_length with an IPv4 address (0: none) or over
// 128, times before 2000 or from 2100 on (the TimeStamp's YY), a reason not in the list.
// "" when none.
std::string localBillProblem(const LocalBill& b);
// What BillPool::emitLocalBill does before encoding, so that a field the record cannot carry
// never costs the usage: an IPv4 address's prefix length set to 0 (32 means the same); an IMSI
// or MSISDN that is not 1-15 digits, an address of an unknown family, a prefix length over 128
// left out; strings over 253 octets cut. Returns what was changed (for the log), besides the
// IPv4 prefix length. What it cannot mend (an empty Acct-Session-Id, a time outside
// 2000-2099, a reason not in the list) localBillProblem() still refuses.
std::vector<std::string> makeRecordable(LocalBill& b);

// DER, appended to `out`. An error (nothing appended) for a bill localBillProblem() refuses.
Result<bool> encodeLocalBill(const LocalBill& b, const TimeZone& tz, ber::DerWriter& out);
// Strict: the [PRIVATE 1] tag, every mandatory field once, fields in order, values in range,
// nothing after the record. Unknown context tags above [17] (the extension marker) are skipped.
// Times come back as whole seconds.
Result<LocalBill> decodeLocalBill(std::span<const uint8_t> ber);

// The CSV line (with its '\n'), `columns` cells (the CDR header line's count; fewer than the
// local bill's own 19 is not allowed: the function uses max(columns, 19)).
// Text cells (acctSessionId, userName, nasIdentifier) are percent-encoded: octets outside
// 0x21-0x7E other than ' ', and '%' itself, become %XX; then quoted as the CDR CSV is.
std::string csvLocalBillLine(const LocalBill& b, const TimeZone& tz, size_t columns);
// The local bill columns, in order (docs/local-bill.md).
const std::vector<std::string>& localBillCsvColumns();
// A CSV line (without its '\n') whose first cell is "localBill"; strict like decodeLocalBill.
Result<LocalBill> parseCsvLocalBillLine(std::string_view line);

// One local bill as it goes into a file of `format`: the BER record or the CSV line.
Result<std::vector<uint8_t>> encodeLocalBillForFile(const LocalBill& b, CdrFormat format,
                                                    const TimeZone& tz, ber::DerWriter& scratch);

// For `tallyctl decode`: the BER record as JSON, "recordType": "localBill" first, then every
// field under its ASN.1 name in wire order (times as the TimeStamp says them, "2024-05-17
// 10:00:00 +0200"; absent OPTIONAL fields omitted; "reason": "stop-unanswered (1)").
Result<nlohmann::ordered_json> localBillToJson(std::span<const uint8_t> ber);

}  // namespace tally::bill
