#include "controlplane/bill/local_bill.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "controlplane/cdr/cdr_decode.h"
#include "controlplane/cdr/cdr_encode.h"
#include "controlplane/time_format.h"

namespace tally::bill {

namespace {

using Bytes = std::span<const uint8_t>;
using ber::ctx;
using ber::ctxCons;

constexpr size_t kMaxText = 253;    // RADIUS attribute value
constexpr size_t kMaxDigits = 15;   // E.164 / E.212
// The TimeStamp's YY is read as 20YY: instants within 2000-01-02 .. 2099-12-30 UTC survive
// any UTC offset (a day of margin each side).
constexpr int64_t kMinUnix = 946771200;   // 2000-01-02T00:00:00Z
constexpr int64_t kMaxUnix = 4102185600;  // 2099-12-30T00:00:00Z
constexpr int64_t kNsPerS = 1'000'000'000;

// Field tags of LocalBillRecord (docs/asn1/TallyLocalBill.asn).
enum FieldTag : uint32_t {
  kBillNumber = 0,
  kAcctSessionId = 1,
  kSessionId = 2,
  kUserName = 3,
  kImsi = 4,
  kMsisdn = 5,
  kNasIdentifier = 6,
  kStartTime = 7,
  kStopTime = 8,
  kSessionTime = 9,
  kServedAddress = 10,
  kPrefixLength = 11,
  kUplinkOctets = 12,
  kDownlinkOctets = 13,
  kUplinkPackets = 14,
  kDownlinkPackets = 15,
  kTerminateCause = 16,
  kReason = 17,
  kLastTag = 17,
};
constexpr uint32_t kMandatory = 1u << kBillNumber | 1u << kAcctSessionId | 1u << kSessionId |
                                1u << kStartTime | 1u << kStopTime | 1u << kSessionTime |
                                1u << kUplinkOctets | 1u << kDownlinkOctets |
                                1u << kUplinkPackets | 1u << kDownlinkPackets |
                                1u << kTerminateCause | 1u << kReason;

const char* const kFieldNames[] = {
    "billNumber",    "acctSessionId", "sessionId",      "userName",        "imsi",
    "msisdn",        "nasIdentifier", "startTime",      "stopTime",        "sessionTime",
    "servedAddress", "prefixLength",  "uplinkOctets",   "downlinkOctets",  "uplinkPackets",
    "downlinkPackets", "terminateCause", "reason"};

bool allDigits(const std::string& s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

Bytes textBytes(const std::string& s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string fieldName(uint32_t tag) {
  return tag <= kLastTag ? kFieldNames[tag] : "[" + std::to_string(tag) + "]";
}

// --- CSV cells --------------------------------------------------------------------------------

std::string percentEncode(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c == '%' || c < 0x20 || c > 0x7E) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out;
}

Result<std::string> percentDecode(const std::string& s, const char* what) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c > 0x7E) {
      return Error{std::string(what) + ": octet " + std::to_string(c) + " must be %-encoded"};
    }
    if (c != '%') {
      out += char(c);
      continue;
    }
    if (i + 2 >= s.size()) {
      return Error{std::string(what) + ": '%' without two hex digits"};
    }
    int h = hex(s[i + 1]), l = hex(s[i + 2]);
    if (h < 0 || l < 0) {
      return Error{std::string(what) + ": '%' without two hex digits"};
    }
    out += char(h << 4 | l);
    i += 2;
  }
  return out;
}

std::string csvQuote(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

bool parseU64(const std::string& s, uint64_t& v) {
  if (s.empty() || s[0] == '+' || s[0] == '-') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

// "2024-05-17 10:00:00 +0200" -> the 9-octet TimeStamp it denotes -> Unix seconds.
Result<int64_t> parseLocalTimeText(const std::string& s, const char* what) {
  // YYYY-MM-DD hh:mm:ss +hhmm
  auto bad = [&] { return Error{std::string(what) + ": '" + s + "' is not YYYY-MM-DD hh:mm:ss +hhmm"}; };
  if (s.size() != 25 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' ||
      s[16] != ':' || s[19] != ' ' || (s[20] != '+' && s[20] != '-')) {
    return bad();
  }
  const size_t digits[] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 21, 22, 23, 24};
  for (size_t i : digits) {
    if (s[i] < '0' || s[i] > '9') return bad();
  }
  if (s[0] != '2' || s[1] != '0') {
    return Error{std::string(what) + ": year " + s.substr(0, 4) + " outside 2000-2099"};
  }
  auto bcd = [&](size_t i) { return uint8_t((s[i] - '0') << 4 | (s[i + 1] - '0')); };
  const uint8_t ts[9] = {bcd(2), bcd(5), bcd(8), bcd(11), bcd(14), bcd(17),
                         uint8_t(s[20]), bcd(21), bcd(23)};
  auto u = cdr::timeStampUnix(Bytes(ts, 9));
  if (!u) return Error{std::string(what) + ": " + u.error().message};
  return u.value();
}

// --- BER decoding helpers --------------------------------------------------------------------

Result<std::string> ia5Digits(Bytes v, const char* what) {
  if (v.empty() || v.size() > kMaxDigits) {
    return Error{std::string(what) + ": " + std::to_string(v.size()) + " digits (1-15)"};
  }
  for (uint8_t c : v) {
    if (c < '0' || c > '9') return Error{std::string(what) + ": not a digit string"};
  }
  return std::string(v.begin(), v.end());
}

Result<std::string> text(Bytes v, const char* what, size_t min) {
  if (v.size() < min || v.size() > kMaxText) {
    return Error{std::string(what) + ": " + std::to_string(v.size()) + " octets (" +
                 std::to_string(min) + "-253)"};
  }
  return std::string(v.begin(), v.end());
}

Result<IpAddress> servedAddress(const ber::Tlv& t) {
  // > servedAddress [10] IPAddress: a tag on a CHOICE is explicit -> AA 06 80 04 a b c d
  ber::BerReader r(t.value);
  auto inner = r.next();
  if (!inner) return Error{"servedAddress: " + inner.error().message};
  if (!r.atEnd()) return Error{"servedAddress: more than one alternative"};
  const ber::Tlv& a = inner.value();
  IpAddress ip;
  if (a.tag == ctx(0) && a.value.size() == 4) {
    ip.family = 4;
    ip.v4 = uint32_t{a.value[0]} << 24 | uint32_t{a.value[1]} << 16 |
            uint32_t{a.value[2]} << 8 | a.value[3];
    return ip;
  }
  if (a.tag == ctx(1) && a.value.size() == 16) {
    ip.family = 6;
    ip.v6 = loadIp6(a.value.data());
    return ip;
  }
  return Error{"servedAddress: not iPBinV4Address [0] (4 octets) or iPBinV6Address [1] (16)"};
}

// Walks the record: calls `field(tag, tlv)` for each known field in order. Checks the outer tag,
// the order, duplicates, the mandatory fields and trailing octets.
template <typename F>
Result<bool> walk(Bytes data, F&& field) {
  ber::BerReader top(data);
  auto rec = top.next();
  if (!rec) return rec.error();
  if (!top.atEnd()) {
    return Error{std::to_string(data.size() - top.position()) + " octets after the record"};
  }
  if (rec.value().tag != kLocalBillTag) {
    return Error{"not a LocalBillRecord [PRIVATE 1] (identifier octet " +
                 ber::toHex(data.first(1)) + ")"};
  }
  ber::BerReader r(rec.value().value, rec.value().offset + rec.value().header_length);
  uint32_t seen = 0;
  int64_t last = -1;
  while (!r.atEnd()) {
    auto t = r.next();
    if (!t) return t.error();
    const ber::Tlv& tlv = t.value();
    if (tlv.tag.cls != ber::TagClass::kContext) {
      return Error{"offset " + std::to_string(tlv.offset) + ": a field with a non-context tag"};
    }
    const uint32_t n = tlv.tag.number;
    if (int64_t(n) <= last) {
      return Error{"offset " + std::to_string(tlv.offset) + ": " + fieldName(n) +
                   (int64_t(n) == last ? " twice" : " out of order")};
    }
    last = n;
    if (n > kLastTag) continue;  // an extension this reader does not know
    const bool constructed = n == kServedAddress;
    if (tlv.tag.constructed != constructed) {
      return Error{"offset " + std::to_string(tlv.offset) + ": " + fieldName(n) + " must be " +
                   (constructed ? "constructed" : "primitive")};
    }
    seen |= 1u << n;
    auto ok = field(n, tlv);
    if (!ok) {
      return Error{"offset " + std::to_string(tlv.offset) + ": " + ok.error().message};
    }
  }
  if ((seen & kMandatory) != kMandatory) {
    for (uint32_t n = 0; n <= kLastTag; ++n) {
      if ((kMandatory & (1u << n)) && !(seen & (1u << n))) {
        return Error{"LocalBillRecord without " + fieldName(n) + " [" + std::to_string(n) + "]"};
      }
    }
  }
  return true;
}

Result<uint64_t> unsignedMax(const ber::Tlv& t, uint64_t max) {
  auto v = ber::decodeUnsigned(t.value);
  if (!v) return Error{fieldName(t.tag.number) + ": " + v.error().message};
  if (v.value() > max) {
    return Error{fieldName(t.tag.number) + ": " + std::to_string(v.value()) + " above " +
                 std::to_string(max)};
  }
  return v.value();
}

}  // namespace

const char* localBillReasonName(LocalBillReason r) {
  switch (r) {
    case LocalBillReason::kStopUnanswered:
      return "stop-unanswered";
    case LocalBillReason::kStartUnansweredOnline:
      return "start-unanswered-online";
    case LocalBillReason::kStartUnansweredOffline:
      return "start-unanswered-offline";
    case LocalBillReason::kInterimUnansweredOffline:
      return "interim-unanswered-offline";
    case LocalBillReason::kNotSent:
      return "not-sent";
    case LocalBillReason::kShutdown:
      return "shutdown";
  }
  return "?";
}

const char* localBillReasonAsn1Name(LocalBillReason r) {
  switch (r) {
    case LocalBillReason::kStopUnanswered:
      return "stopUnanswered";
    case LocalBillReason::kStartUnansweredOnline:
      return "startUnansweredOnline";
    case LocalBillReason::kStartUnansweredOffline:
      return "startUnansweredOffline";
    case LocalBillReason::kInterimUnansweredOffline:
      return "interimUnansweredOffline";
    case LocalBillReason::kNotSent:
      return "notSent";
    case LocalBillReason::kShutdown:
      return "shutdown";
  }
  return "?";
}

bool validLocalBillReason(uint64_t v) { return v >= 1 && v <= kLocalBillReasonMax; }

bool isLocalBillRecord(Bytes ber) { return !ber.empty() && ber[0] == 0xE1; }

std::vector<std::string> makeRecordable(LocalBill& b) {
  std::vector<std::string> changed;
  if (b.ip.family == 4 && b.prefix_length != 0) {
    b.prefix_length = 0;  // Framed-IP-Address: a host, no prefix (32 said the same)
  }
  if (b.ip.family != 4 && b.ip.family != 6 && (b.ip.family != 0 || b.prefix_length != 0)) {
    changed.push_back("address of family " + std::to_string(b.ip.family) + " left out");
    b.ip = IpAddress{};
    b.prefix_length = 0;
  }
  if (b.prefix_length > 128) {
    changed.push_back("prefix length " + std::to_string(b.prefix_length) + " left out");
    b.prefix_length = 0;
  }
  for (auto [s, what] : {std::pair{&b.imsi, "IMSI"}, std::pair{&b.msisdn, "MSISDN"}}) {
    if (s->size() > kMaxDigits || !allDigits(*s)) {
      changed.push_back(std::string(what) + " '" + *s + "' (not 1-15 digits) left out");
      s->clear();
    }
  }
  for (auto [s, what] : {std::pair{&b.user_name, "User-Name"},
                         std::pair{&b.nas_identifier, "NAS-Identifier"},
                         std::pair{&b.acct_session_id, "Acct-Session-Id"}}) {
    if (s->size() > kMaxText) {
      changed.push_back(std::string(what) + " cut to 253 octets");
      s->resize(kMaxText);
    }
  }
  return changed;
}

std::string localBillProblem(const LocalBill& b) {
  if (b.acct_session_id.empty() || b.acct_session_id.size() > kMaxText) {
    return "Acct-Session-Id of " + std::to_string(b.acct_session_id.size()) + " octets (1-253)";
  }
  if (b.user_name.size() > kMaxText) return "User-Name longer than 253 octets";
  if (b.nas_identifier.size() > kMaxText) return "NAS-Identifier longer than 253 octets";
  if (b.imsi.size() > kMaxDigits || !allDigits(b.imsi)) return "IMSI '" + b.imsi + "' is not 1-15 digits";
  if (b.msisdn.size() > kMaxDigits || !allDigits(b.msisdn)) {
    return "MSISDN '" + b.msisdn + "' is not 1-15 digits";
  }
  if (b.ip.family != 0 && b.ip.family != 4 && b.ip.family != 6) {
    return "address family " + std::to_string(b.ip.family);
  }
  if (b.prefix_length > 128 || (b.ip.family == 4 && b.prefix_length != 0)) {
    return "prefix length " + std::to_string(b.prefix_length) +
           (b.ip.family == 4 ? " for an IPv4 address (0: none)" : "");
  }
  if (b.ip.family == 0 && b.prefix_length != 0) return "a prefix length without an address";
  for (int64_t ns : {b.start_ns, b.stop_ns}) {
    const int64_t s = cdr::toUnixSeconds(ns);
    if (s < kMinUnix || s >= kMaxUnix) {
      return "time " + std::to_string(s) + " s outside 2000-01-02 .. 2099-12-29 (TimeStamp YY)";
    }
  }
  if (!validLocalBillReason(uint8_t(b.reason))) {
    return "reason " + std::to_string(int(b.reason)) + " not in the list";
  }
  return "";
}

Result<bool> encodeLocalBill(const LocalBill& b, const TimeZone& tz, ber::DerWriter& w) {
  if (std::string p = localBillProblem(b); !p.empty()) {
    return Error{"local bill of session " + std::to_string(b.session_id) + ": " + p};
  }
  const size_t rec = w.begin(kLocalBillTag);
  w.unsignedInteger(ctx(kBillNumber), b.number);
  w.octetString(ctx(kAcctSessionId), textBytes(b.acct_session_id));
  w.unsignedInteger(ctx(kSessionId), b.session_id);
  if (!b.user_name.empty()) w.octetString(ctx(kUserName), textBytes(b.user_name));
  if (!b.imsi.empty()) w.octetString(ctx(kImsi), textBytes(b.imsi));
  if (!b.msisdn.empty()) w.octetString(ctx(kMsisdn), textBytes(b.msisdn));
  if (!b.nas_identifier.empty()) w.octetString(ctx(kNasIdentifier), textBytes(b.nas_identifier));
  w.octetString(ctx(kStartTime), cdr::encodeTimeStamp(cdr::toUnixSeconds(b.start_ns), tz));
  w.octetString(ctx(kStopTime), cdr::encodeTimeStamp(cdr::toUnixSeconds(b.stop_ns), tz));
  w.unsignedInteger(ctx(kSessionTime), b.session_time_s);
  if (b.ip.family == 4 || b.ip.family == 6) {
    const size_t m = w.begin(ctxCons(kServedAddress));
    cdr::writeIpAddressChoice(w, b.ip);
    w.end(m);
    if (b.prefix_length != 0) w.unsignedInteger(ctx(kPrefixLength), b.prefix_length);
  }
  w.unsignedInteger(ctx(kUplinkOctets), b.ul_octets);
  w.unsignedInteger(ctx(kDownlinkOctets), b.dl_octets);
  w.unsignedInteger(ctx(kUplinkPackets), b.ul_packets);
  w.unsignedInteger(ctx(kDownlinkPackets), b.dl_packets);
  w.unsignedInteger(ctx(kTerminateCause), b.terminate_cause);
  w.enumerated(ctx(kReason), int64_t(b.reason));
  w.end(rec);
  return true;
}

Result<LocalBill> decodeLocalBill(Bytes data) {
  LocalBill b;
  auto ok = walk(data, [&b](uint32_t n, const ber::Tlv& t) -> Result<bool> {
    switch (n) {
      case kBillNumber:
      case kSessionId:
      case kUplinkOctets:
      case kDownlinkOctets:
      case kUplinkPackets:
      case kDownlinkPackets: {
        auto v = unsignedMax(t, UINT64_MAX);
        if (!v) return v.error();
        if (n == kBillNumber) b.number = v.value();
        if (n == kSessionId) b.session_id = v.value();
        if (n == kUplinkOctets) b.ul_octets = v.value();
        if (n == kDownlinkOctets) b.dl_octets = v.value();
        if (n == kUplinkPackets) b.ul_packets = v.value();
        if (n == kDownlinkPackets) b.dl_packets = v.value();
        return true;
      }
      case kAcctSessionId:
      case kUserName:
      case kNasIdentifier: {
        auto s = text(t.value, kFieldNames[n], 1);  // absent rather than empty
        if (!s) return s.error();
        (n == kAcctSessionId ? b.acct_session_id : n == kUserName ? b.user_name : b.nas_identifier) =
            std::move(s.value());
        return true;
      }
      case kImsi:
      case kMsisdn: {
        auto s = ia5Digits(t.value, kFieldNames[n]);
        if (!s) return s.error();
        (n == kImsi ? b.imsi : b.msisdn) = std::move(s.value());
        return true;
      }
      case kStartTime:
      case kStopTime: {
        auto u = cdr::timeStampUnix(t.value);
        if (!u) return Error{std::string(kFieldNames[n]) + ": " + u.error().message};
        (n == kStartTime ? b.start_ns : b.stop_ns) = u.value() * kNsPerS;
        return true;
      }
      case kSessionTime:
      case kTerminateCause: {
        auto v = unsignedMax(t, UINT32_MAX);
        if (!v) return v.error();
        (n == kSessionTime ? b.session_time_s : b.terminate_cause) = uint32_t(v.value());
        return true;
      }
      case kServedAddress: {
        auto ip = servedAddress(t);
        if (!ip) return ip.error();
        b.ip = ip.value();
        return true;
      }
      case kPrefixLength: {
        auto v = unsignedMax(t, 128);
        if (!v) return v.error();
        if (v.value() == 0) return Error{"prefixLength 0 (absent when there is none)"};
        b.prefix_length = uint8_t(v.value());
        return true;
      }
      case kReason: {
        auto v = ber::decodeInteger(t.value);
        if (!v) return Error{"reason: " + v.error().message};
        if (v.value() < 0 || !validLocalBillReason(uint64_t(v.value()))) {
          return Error{"reason " + std::to_string(v.value()) + " not in the list (1-6)"};
        }
        b.reason = LocalBillReason(v.value());
        return true;
      }
      default:
        return true;
    }
  });
  if (!ok) return ok.error();
  if (b.prefix_length != 0 && b.ip.family == 0) {
    return Error{"prefixLength without servedAddress"};
  }
  if (b.ip.family == 4 && b.prefix_length != 0) {
    return Error{"prefixLength " + std::to_string(b.prefix_length) + " for an IPv4 address"};
  }
  return b;
}

Result<nlohmann::ordered_json> localBillToJson(Bytes data) {
  // Decoded strictly first: the JSON of a record tally would refuse is an error, not a guess.
  auto b = decodeLocalBill(data);
  if (!b) return b.error();
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["recordType"] = std::string(kLocalBillCsvType);
  auto ok = walk(data, [&](uint32_t n, const ber::Tlv& t) -> Result<bool> {
    const LocalBill& v = b.value();
    switch (n) {
      case kBillNumber: j["billNumber"] = v.number; break;
      case kAcctSessionId: j["acctSessionId"] = v.acct_session_id; break;
      case kSessionId: j["sessionId"] = v.session_id; break;
      case kUserName: j["userName"] = v.user_name; break;
      case kImsi: j["imsi"] = v.imsi; break;
      case kMsisdn: j["msisdn"] = v.msisdn; break;
      case kNasIdentifier: j["nasIdentifier"] = v.nas_identifier; break;
      case kStartTime:
      case kStopTime: {
        auto s = cdr::timeStampText(t.value);
        if (!s) return s.error();
        j[kFieldNames[n]] = s.value();
        break;
      }
      case kSessionTime: j["sessionTime"] = v.session_time_s; break;
      case kServedAddress: j["servedAddress"] = formatIp(v.ip); break;
      case kPrefixLength: j["prefixLength"] = v.prefix_length; break;
      case kUplinkOctets: j["uplinkOctets"] = v.ul_octets; break;
      case kDownlinkOctets: j["downlinkOctets"] = v.dl_octets; break;
      case kUplinkPackets: j["uplinkPackets"] = v.ul_packets; break;
      case kDownlinkPackets: j["downlinkPackets"] = v.dl_packets; break;
      case kTerminateCause: j["terminateCause"] = v.terminate_cause; break;
      case kReason:
        j["reason"] = std::string(localBillReasonName(v.reason)) + " (" +
                      std::to_string(int(v.reason)) + ")";
        break;
      default: break;
    }
    return true;
  });
  if (!ok) return ok.error();
  return j;
}

const std::vector<std::string>& localBillCsvColumns() {
  static const std::vector<std::string> cols = {
      "recordType",    "billNumber",     "acctSessionId",  "sessionId",       "userName",
      "imsi",          "msisdn",         "nasIdentifier",  "startTime",       "stopTime",
      "sessionTime",   "servedAddress",  "uplinkOctets",   "downlinkOctets",  "uplinkPackets",
      "downlinkPackets", "terminateCause", "reason",       "reasonName"};
  return cols;
}

std::string csvLocalBillLine(const LocalBill& b, const TimeZone& tz, size_t columns) {
  std::vector<std::string> c;
  c.reserve(std::max(columns, localBillCsvColumns().size()));
  c.push_back(std::string(kLocalBillCsvType));
  c.push_back(std::to_string(b.number));
  c.push_back(percentEncode(b.acct_session_id));
  c.push_back(std::to_string(b.session_id));
  c.push_back(percentEncode(b.user_name));
  c.push_back(b.imsi);
  c.push_back(b.msisdn);
  c.push_back(percentEncode(b.nas_identifier));
  c.push_back(localTimeText(cdr::toUnixSeconds(b.start_ns), tz));
  c.push_back(localTimeText(cdr::toUnixSeconds(b.stop_ns), tz));
  c.push_back(std::to_string(b.session_time_s));
  std::string ip;
  if (b.ip.family == 4 || b.ip.family == 6) {
    ip = formatIp(b.ip);
    if (b.prefix_length != 0) ip += "/" + std::to_string(b.prefix_length);
  }
  c.push_back(ip);
  c.push_back(std::to_string(b.ul_octets));
  c.push_back(std::to_string(b.dl_octets));
  c.push_back(std::to_string(b.ul_packets));
  c.push_back(std::to_string(b.dl_packets));
  c.push_back(std::to_string(b.terminate_cause));
  c.push_back(std::to_string(int(b.reason)));
  c.push_back(localBillReasonName(b.reason));
  while (c.size() < columns) c.emplace_back();
  std::string line;
  for (size_t i = 0; i < c.size(); ++i) {
    if (i) line += ',';
    line += csvQuote(c[i]);
  }
  line += '\n';
  return line;
}

Result<LocalBill> parseCsvLocalBillLine(std::string_view line) {
  bool quoted_ok = true;
  std::vector<std::string> v = cdr::splitCsvLine(std::string(line), &quoted_ok);
  const std::vector<std::string>& cols = localBillCsvColumns();
  if (!quoted_ok) return Error{"unterminated quote"};
  if (v.size() < cols.size()) {
    return Error{std::to_string(v.size()) + " columns, a local bill has " +
                 std::to_string(cols.size())};
  }
  if (v[0] != kLocalBillCsvType) return Error{"first column '" + v[0] + "' is not localBill"};
  for (size_t i = cols.size(); i < v.size(); ++i) {
    if (!v[i].empty()) {
      return Error{"column " + std::to_string(i + 1) + " of a local bill must be empty"};
    }
  }
  LocalBill b;
  auto u64 = [&](size_t i, uint64_t& out) -> Result<bool> {
    if (!parseU64(v[i], out)) return Error{cols[i] + ": '" + v[i] + "' is not a count"};
    return true;
  };
  auto u32 = [&](size_t i, uint32_t& out) -> Result<bool> {
    uint64_t x = 0;
    if (!parseU64(v[i], x) || x > UINT32_MAX) return Error{cols[i] + ": '" + v[i] + "' out of range"};
    out = uint32_t(x);
    return true;
  };
#define TRY(expr)               \
  do {                          \
    auto r_ = (expr);           \
    if (!r_) return r_.error(); \
  } while (0)
  TRY(u64(1, b.number));
  {
    auto s = percentDecode(v[2], "acctSessionId");
    if (!s) return s.error();
    b.acct_session_id = s.value();
  }
  TRY(u64(3, b.session_id));
  {
    auto s = percentDecode(v[4], "userName");
    if (!s) return s.error();
    b.user_name = s.value();
  }
  b.imsi = v[5];
  b.msisdn = v[6];
  {
    auto s = percentDecode(v[7], "nasIdentifier");
    if (!s) return s.error();
    b.nas_identifier = s.value();
  }
  {
    auto t = parseLocalTimeText(v[8], "startTime");
    if (!t) return t.error();
    b.start_ns = t.value() * kNsPerS;
    auto e = parseLocalTimeText(v[9], "stopTime");
    if (!e) return e.error();
    b.stop_ns = e.value() * kNsPerS;
  }
  TRY(u32(10, b.session_time_s));
  if (!v[11].empty()) {
    std::string a = v[11];
    const size_t slash = a.find('/');
    if (slash != std::string::npos) {
      uint64_t len = 0;
      if (!parseU64(a.substr(slash + 1), len) || len == 0 || len > 128) {
        return Error{"servedAddress: prefix length in '" + v[11] + "'"};
      }
      b.prefix_length = uint8_t(len);
      a.resize(slash);
    }
    auto ip = parseIpAddress(a);
    if (!ip) return Error{"servedAddress: '" + v[11] + "' is not an address"};
    b.ip = *ip;
  }
  TRY(u64(12, b.ul_octets));
  TRY(u64(13, b.dl_octets));
  TRY(u64(14, b.ul_packets));
  TRY(u64(15, b.dl_packets));
  TRY(u32(16, b.terminate_cause));
  {
    uint64_t r = 0;
    if (!parseU64(v[17], r) || !validLocalBillReason(r)) {
      return Error{"reason '" + v[17] + "' not in the list (1-6)"};
    }
    b.reason = LocalBillReason(r);
    if (v[18] != localBillReasonName(b.reason)) {
      return Error{"reasonName '" + v[18] + "' does not match reason " + v[17]};
    }
  }
#undef TRY
  if (std::string p = localBillProblem(b); !p.empty()) return Error{p};
  return b;
}

Result<std::vector<uint8_t>> encodeLocalBillForFile(const LocalBill& b, CdrFormat format,
                                                    const TimeZone& tz, ber::DerWriter& scratch) {
  if (format == CdrFormat::kCsv) {
    if (std::string p = localBillProblem(b); !p.empty()) {
      return Error{"local bill of session " + std::to_string(b.session_id) + ": " + p};
    }
    static const size_t columns = [] {
      const std::string h = cdr::csvHeaderLine();
      return size_t(std::count(h.begin(), h.end(), ',')) + 1;
    }();
    std::string line = csvLocalBillLine(b, tz, columns);
    return std::vector<uint8_t>(line.begin(), line.end());
  }
  scratch.clear();
  auto ok = encodeLocalBill(b, tz, scratch);
  if (!ok) return ok.error();
  return scratch.bytes();
}

}  // namespace tally::bill
