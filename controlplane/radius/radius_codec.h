#pragma once
// RADIUS packets for accounting (RFC 2865 structure, RFC 2866 accounting, RFC 5997 Status-Server
// with the RFC 3579 §3.2 Message-Authenticator): building, parsing and authenticator checks.
// Pure functions on bytes: no sockets, no clock, no randomness (a Status-Server's Request
// Authenticator is given by the caller). The client (next issue) sends them through
// RadiusTransport (radius_transport.h). docs/radius.md has the attribute table.
//
// Contract:
// - Builders refuse what RFC 2865 forbids instead of truncating: an attribute value of 0 or
//   more than 253 octets (attribute 3..255 octets), a packet above 4096 octets.
// - parsePacket() never reads past the datagram; a malformed datagram yields a ParseError with
//   its reason, never a partial packet. Octets past the Length field are padding (RFC 2865 §3)
//   and ignored.
// - verify*() return a ResponseCheck; the caller drops and counts anything but kOk.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "shared/net.h"
#include "shared/result.h"

namespace tally::radius {

// > RFC 2865 §3: "The minimum length is 20 and maximum length is 4096."
inline constexpr size_t kHeaderOctets = 20;
inline constexpr size_t kMaxPacketOctets = 4096;
inline constexpr size_t kMaxValueOctets = 253;  // attribute 3..255 octets: type, length, value
inline constexpr size_t kAuthenticatorOctets = 16;

enum class Code : uint8_t {
  kAccessAccept = 2,        // RFC 5997: the answer to a Status-Server sent to an auth port
  kAccountingRequest = 4,   // RFC 2866
  kAccountingResponse = 5,  // RFC 2866; also the answer to a Status-Server on the acct port
  kStatusServer = 12,       // RFC 5997
};
const char* codeName(Code c);  // "Accounting-Request", ...

// Attribute types (IANA "RADIUS Types"). Types not listed parse as raw octets.
namespace attr {
inline constexpr uint8_t kUserName = 1;               // text, RFC 2865 §5.1
inline constexpr uint8_t kNasIpAddress = 4;           // address, RFC 2865 §5.4
inline constexpr uint8_t kFramedIpAddress = 8;        // address, RFC 2865 §5.8
inline constexpr uint8_t kClass = 25;                 // string, RFC 2865 §5.25 (echoed, RFC 2866)
inline constexpr uint8_t kVendorSpecific = 26;        // RFC 2865 §5.26
inline constexpr uint8_t kCallingStationId = 31;      // text, RFC 2865 §5.31
inline constexpr uint8_t kNasIdentifier = 32;         // text, RFC 2865 §5.32
inline constexpr uint8_t kAcctStatusType = 40;        // integer, RFC 2866 §5.1
inline constexpr uint8_t kAcctDelayTime = 41;         // integer (seconds), RFC 2866 §5.2
inline constexpr uint8_t kAcctInputOctets = 42;       // integer, RFC 2866 §5.3
inline constexpr uint8_t kAcctOutputOctets = 43;      // integer, RFC 2866 §5.4
inline constexpr uint8_t kAcctSessionId = 44;         // text, RFC 2866 §5.5
inline constexpr uint8_t kAcctSessionTime = 46;       // integer (seconds), RFC 2866 §5.7
inline constexpr uint8_t kAcctInputPackets = 47;      // integer, RFC 2866 §5.8
inline constexpr uint8_t kAcctOutputPackets = 48;     // integer, RFC 2866 §5.9
inline constexpr uint8_t kAcctTerminateCause = 49;    // integer, RFC 2866 §5.10
inline constexpr uint8_t kAcctInputGigawords = 52;    // integer, RFC 2869 §5.1
inline constexpr uint8_t kAcctOutputGigawords = 53;   // integer, RFC 2869 §5.2
inline constexpr uint8_t kEventTimestamp = 55;        // time (UNIX seconds), RFC 2869 §5.3
inline constexpr uint8_t kMessageAuthenticator = 80;  // 16 octets, RFC 3579 §3.2
inline constexpr uint8_t kNasIpv6Address = 95;        // ipv6addr, RFC 3162 §2.1
inline constexpr uint8_t kFramedIpv6Prefix = 97;      // ipv6prefix, RFC 3162 §2.3
}  // namespace attr

// Acct-Status-Type values (RFC 2866 §5.1).
enum class AcctStatusType : uint32_t {
  kStart = 1,
  kStop = 2,
  kInterimUpdate = 3,
  kAccountingOn = 7,
  kAccountingOff = 8,
};
// Acct-Terminate-Cause values used by tally (RFC 2866 §5.10).
enum class AcctTerminateCause : uint32_t {
  kUserRequest = 1,
  kIdleTimeout = 4,
  kSessionTimeout = 5,
  kAdminReset = 6,
  kNasRequest = 10,
  kNasReboot = 11,
};

// 3GPP vendor-specific attributes, TS 29.061 §16.4.7 (Vendor-Id 10415).
inline constexpr uint32_t kVendor3gpp = 10415;
namespace attr3gpp {
inline constexpr uint8_t kImsi = 1;                      // UTF-8 digits, 1..15
inline constexpr uint8_t kChargingCharacteristics = 13;  // 4 UTF-8 hex digits
}  // namespace attr3gpp

using Authenticator = std::array<uint8_t, kAuthenticatorOctets>;

struct Attribute {
  uint8_t type = 0;
  std::vector<uint8_t> value;  // 0..253 octets
  bool operator==(const Attribute&) const = default;
};

// One sub-attribute of a Vendor-Specific attribute (RFC 2865 §5.26 suggested format:
// vendor-type, vendor-length (2 + value), value).
struct VendorAttribute {
  uint32_t vendor_id = 0;
  uint8_t vendor_type = 0;
  std::vector<uint8_t> value;
  bool operator==(const VendorAttribute&) const = default;
};

// ---- typed values -> attributes. Errors name the attribute type and the rule broken.
Attribute makeInteger(uint8_t type, uint32_t value);
Attribute makeIpv4(uint8_t type, uint32_t host_order);
Attribute makeIpv6(uint8_t type, const Ip6& address);             // 16 octets, RFC 3162 §2.1
Result<Attribute> makeText(uint8_t type, std::string_view text);  // 1..253 octets
// RFC 3162 §2.3: reserved (0), prefix-length, then the prefix; tally sends all 16 prefix
// octets (Length 20, as FreeRADIUS does); host bits must be zero. asIpv6Prefix() accepts any
// Length 4..20 that holds ceil(prefix-length/8) octets.
Result<Attribute> makeIpv6Prefix(uint8_t type, const IpPrefix& prefix);
Result<Attribute> makeVendorSpecific(const VendorAttribute& v);  // value 1..247 octets
Result<Attribute> make3gppImsi(std::string_view digits);         // 1..15 decimal digits
Attribute make3gppChargingCharacteristics(uint16_t cc);          // "0800" for 0x0800

// A 64-bit octet count as RFC 2869 sends it: the low 32 bits in Acct-*-Octets and the times
// the counter wrapped 2^32 in Acct-*-Gigawords.
struct SplitCount {
  uint32_t octets = 0;
  uint32_t gigawords = 0;
};
inline SplitCount splitOctets(uint64_t total) {
  return {static_cast<uint32_t>(total & 0xffffffffu), static_cast<uint32_t>(total >> 32)};
}
inline uint64_t joinOctets(uint32_t octets, uint32_t gigawords) {
  return (uint64_t{gigawords} << 32) | octets;
}
// Appends Acct-Input-Octets + Acct-Input-Gigawords (uplink: from the subscriber) or the Output
// pair (downlink). Gigawords is sent only when non-zero.
void appendInputOctets(std::vector<Attribute>& attrs, uint64_t uplink_octets);
void appendOutputOctets(std::vector<Attribute>& attrs, uint64_t downlink_octets);

// ---- attributes -> typed values. nullopt when the value has the wrong size or form.
std::optional<uint32_t> asInteger(const Attribute& a);     // exactly 4 octets
std::optional<uint32_t> asIpv4(const Attribute& a);        // host order
std::optional<Ip6> asIpv6(const Attribute& a);             // exactly 16 octets
std::optional<std::string> asText(const Attribute& a);     // 1..253 octets (not empty)
std::optional<IpPrefix> asIpv6Prefix(const Attribute& a);  // refuses set bits past the length
// The sub-attributes of one Vendor-Specific attribute; nullopt if a vendor-length is < 2 or
// runs past the attribute.
std::optional<std::vector<VendorAttribute>> asVendorSpecific(const Attribute& a);

// ---- packets
struct Packet {
  Code code = Code::kAccountingRequest;
  uint8_t identifier = 0;
  Authenticator authenticator{};
  std::vector<Attribute> attributes;

  const Attribute* find(uint8_t type) const;  // the first of that type, or null
  // The first vendor sub-attribute (vendor_id, vendor_type), or nullopt.
  std::optional<VendorAttribute> findVendor(uint32_t vendor_id, uint8_t vendor_type) const;
};

// Accounting-Request with its Request Authenticator (RFC 2866 §3):
// > MD5(Code + Identifier + Length + 16 zero octets + request attributes + shared secret)
Result<std::vector<uint8_t>> encodeAccountingRequest(uint8_t identifier,
                                                     const std::vector<Attribute>& attrs,
                                                     std::string_view secret);
// Status-Server (RFC 5997 §3): `request_authenticator` is the caller's 16 random octets; a
// Message-Authenticator (HMAC-MD5 keyed with the secret over the packet with that attribute's
// value zeroed, RFC 3579 §3.2) is appended after `attrs`. Identifier and authenticator are
// the caller's to remember for the response check.
Result<std::vector<uint8_t>> encodeStatusServer(uint8_t identifier,
                                                const Authenticator& request_authenticator,
                                                const std::vector<Attribute>& attrs,
                                                std::string_view secret);
// A response (Accounting-Response, Access-Accept) to a request, as a server sends it (used by
// the fake server in tests and by integration checks): Response Authenticator =
// MD5(Code + Identifier + Length + Request Authenticator + attributes + secret). With
// `message_authenticator`, one is appended (computed with the Request Authenticator in the
// authenticator field, RFC 3579 §3.2) before the Response Authenticator is computed.
Result<std::vector<uint8_t>> encodeResponse(Code code, uint8_t identifier,
                                            const Authenticator& request_authenticator,
                                            const std::vector<Attribute>& attrs,
                                            std::string_view secret,
                                            bool message_authenticator = false);

enum class ParseError : uint8_t {
  kShorterThanHeader,   // datagram < 20 octets
  kLengthBelowMinimum,  // Length field < 20
  kLengthAboveMaximum,  // Length field > 4096
  kLengthPastDatagram,  // Length field > datagram size (RFC 2865 §3: silently discard)
  kUnknownCode,         // not 2, 4, 5 or 12
  kAttributeHeaderCut,  // one octet left where an attribute header (2 octets) should start
  kAttributeLengthBelowTwo,
  kAttributePastEnd,            // attribute Length runs past the packet's Length
  kMessageAuthenticatorLength,  // Message-Authenticator whose value is not 16 octets
};
const char* parseErrorName(ParseError e);  // "shorter-than-header", ...

struct ParseFailure {
  ParseError reason;
  std::string detail;  // "Length field 30 > datagram 24 octets", for the log
};

// Parses one datagram. On success `wire` holds the Length octets (padding dropped), the bytes
// the authenticator checks need.
struct ParsedPacket {
  Packet packet;
  std::vector<uint8_t> wire;
};
std::variant<ParsedPacket, ParseFailure> parsePacket(std::span<const uint8_t> datagram);

enum class ResponseCheck : uint8_t {
  kOk,
  kWrongIdentifier,              // not the request's Identifier
  kUnexpectedCode,               // e.g. Access-Accept to an Accounting-Request
  kBadAuthenticator,             // Response/Request Authenticator does not match
  kBadMessageAuthenticator,      // present (or required) and wrong
  kMissingMessageAuthenticator,  // Status-Server without one (RFC 5997 §3: MUST be present)
};
const char* responseCheckName(ResponseCheck c);

// The client's check of a response to the request it sent (identifier, authenticator).
// Accounting-Request: only Accounting-Response is expected. Status-Server: Accounting-Response
// or Access-Accept (RFC 5997 §3: the answer depends on the port). A Message-Authenticator in
// the response, if present, is checked too.
ResponseCheck verifyResponse(const ParsedPacket& response, Code request_code,
                             uint8_t request_identifier, const Authenticator& request_authenticator,
                             std::string_view secret);

// The server's check of a request (for the fake server and tests): Accounting-Request's
// Request Authenticator, Status-Server's Message-Authenticator.
ResponseCheck verifyRequest(const ParsedPacket& request, std::string_view secret);

}  // namespace tally::radius
