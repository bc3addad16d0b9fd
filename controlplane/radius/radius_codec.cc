#include "controlplane/radius/radius_codec.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstring>

namespace tally::radius {
namespace {

// MD5 and HMAC-MD5 from OpenSSL's libcrypto (never hand-written). MD5 is what RFC 2865/2866
// and RFC 3579 prescribe; it is not used here for anything but these authenticators.
Authenticator md5(std::initializer_list<std::span<const uint8_t>> parts) {
  Authenticator out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned int n = 0;
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) == 1;
  for (const auto& p : parts) {
    ok = ok && EVP_DigestUpdate(ctx, p.data(), p.size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(ctx, out.data(), &n) == 1 && n == out.size();
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    out.fill(0);  // never matches a real authenticator: checks fail closed
  }
  return out;
}

Authenticator hmacMd5(std::string_view key, std::span<const uint8_t> data) {
  Authenticator out{};
  unsigned int n = 0;
  if (HMAC(EVP_md5(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
           out.data(), &n) == nullptr ||
      n != out.size()) {
    out.fill(0);
  }
  return out;
}

std::span<const uint8_t> bytesOf(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void putU32(std::vector<uint8_t>& v, uint32_t x) {
  v.push_back(static_cast<uint8_t>(x >> 24));
  v.push_back(static_cast<uint8_t>(x >> 16));
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}

uint32_t getU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

bool constantTimeEqual(const uint8_t* a, const uint8_t* b, size_t n) {
  uint8_t diff = 0;
  for (size_t i = 0; i < n; ++i) {
    diff |= static_cast<uint8_t>(a[i] ^ b[i]);
  }
  return diff == 0;
}

Error attrError(uint8_t type, const std::string& what) {
  return Error{"RADIUS attribute " + std::to_string(type) + ": " + what};
}

// Header with a zero authenticator, then every attribute; refuses values of 0 or > 253 octets
// and packets > 4096 octets. The Length field is filled in.
Result<std::vector<uint8_t>> serialize(Code code, uint8_t identifier,
                                       const std::vector<Attribute>& attrs) {
  std::vector<uint8_t> out(kHeaderOctets, 0);
  out[0] = static_cast<uint8_t>(code);
  out[1] = identifier;
  for (const Attribute& a : attrs) {
    if (a.value.empty() || a.value.size() > kMaxValueOctets) {
      return attrError(
          a.type, "value of " + std::to_string(a.value.size()) + " octets (RFC 2865 §5: 1..253)");
    }
    out.push_back(a.type);
    out.push_back(static_cast<uint8_t>(a.value.size() + 2));
    out.insert(out.end(), a.value.begin(), a.value.end());
  }
  if (out.size() > kMaxPacketOctets) {
    return Error{std::string(codeName(code)) + " of " + std::to_string(out.size()) +
                 " octets (RFC 2865 §3: at most 4096)"};
  }
  out[2] = static_cast<uint8_t>(out.size() >> 8);
  out[3] = static_cast<uint8_t>(out.size());
  return out;
}

// Appends a zeroed Message-Authenticator, returns the offset of its value.
size_t appendZeroMessageAuthenticator(std::vector<uint8_t>& wire) {
  wire.push_back(attr::kMessageAuthenticator);
  wire.push_back(static_cast<uint8_t>(kAuthenticatorOctets + 2));
  size_t at = wire.size();
  wire.insert(wire.end(), kAuthenticatorOctets, 0);
  size_t len = wire.size();
  wire[2] = static_cast<uint8_t>(len >> 8);
  wire[3] = static_cast<uint8_t>(len);
  return at;
}

// The offset of the value of the first Message-Authenticator in a parsed wire (which is
// well-formed), or 0.
size_t findMessageAuthenticator(const std::vector<uint8_t>& wire) {
  size_t at = kHeaderOctets;
  while (at + 2 <= wire.size()) {
    if (wire[at] == attr::kMessageAuthenticator) {
      return at + 2;
    }
    at += wire[at + 1];
  }
  return 0;
}

// RFC 3579 §3.2: HMAC-MD5 over the packet with the Message-Authenticator value zeroed and, for
// a response, the Request Authenticator in the authenticator field.
bool messageAuthenticatorMatches(const std::vector<uint8_t>& wire, size_t value_at,
                                 const Authenticator* request_authenticator,
                                 std::string_view secret) {
  std::vector<uint8_t> copy = wire;
  std::fill_n(copy.begin() + static_cast<std::ptrdiff_t>(value_at), kAuthenticatorOctets, 0);
  if (request_authenticator != nullptr) {
    std::copy(request_authenticator->begin(), request_authenticator->end(), copy.begin() + 4);
  }
  Authenticator mac = hmacMd5(secret, copy);
  return constantTimeEqual(mac.data(), wire.data() + value_at, kAuthenticatorOctets);
}

bool knownCode(uint8_t c) {
  return c == static_cast<uint8_t>(Code::kAccessAccept) ||
         c == static_cast<uint8_t>(Code::kAccountingRequest) ||
         c == static_cast<uint8_t>(Code::kAccountingResponse) ||
         c == static_cast<uint8_t>(Code::kStatusServer);
}

}  // namespace

const char* codeName(Code c) {
  switch (c) {
    case Code::kAccessAccept:
      return "Access-Accept";
    case Code::kAccountingRequest:
      return "Accounting-Request";
    case Code::kAccountingResponse:
      return "Accounting-Response";
    case Code::kStatusServer:
      return "Status-Server";
  }
  return "unknown";
}

Attribute makeInteger(uint8_t type, uint32_t value) {
  Attribute a{type, {}};
  putU32(a.value, value);
  return a;
}

Attribute makeIpv4(uint8_t type, uint32_t host_order) { return makeInteger(type, host_order); }

Attribute makeIpv6(uint8_t type, const Ip6& address) {
  Attribute a{type, {}};
  for (size_t i = 0; i < 16; ++i) {
    uint64_t half = i < 8 ? address.hi : address.lo;
    a.value.push_back(static_cast<uint8_t>(half >> (56 - 8 * (i % 8))));
  }
  return a;
}

Result<Attribute> makeText(uint8_t type, std::string_view text) {
  if (text.empty() || text.size() > kMaxValueOctets) {
    return attrError(type, "text of " + std::to_string(text.size()) + " octets (1..253)");
  }
  return Attribute{type, std::vector<uint8_t>(text.begin(), text.end())};
}

Result<Attribute> makeIpv6Prefix(uint8_t type, const IpPrefix& prefix) {
  if (prefix.addr.family != 6 || prefix.len > 128) {
    return attrError(type, "not an IPv6 prefix");
  }
  if (!(maskIp6(prefix.addr.v6, prefix.len) == prefix.addr.v6)) {
    return attrError(type, "host bits set past the prefix length");
  }
  // > RFC 3162 §2.3: Reserved (0), Prefix-Length (0..128), Prefix (variable); Length 4..20.
  // tally sends all 16 prefix octets (Length 20), as FreeRADIUS and most NASes do: every
  // server accepts that form, not every one accepts a shortened prefix.
  Attribute a = makeIpv6(type, prefix.addr.v6);
  a.value.insert(a.value.begin(), {uint8_t{0}, prefix.len});
  return a;
}

Result<Attribute> makeVendorSpecific(const VendorAttribute& v) {
  // Vendor-Id (4) + vendor-type (1) + vendor-length (1) + value: at most 253 octets.
  if (v.value.empty() || v.value.size() > kMaxValueOctets - 6) {
    return attrError(attr::kVendorSpecific, "vendor " + std::to_string(v.vendor_id) + " type " +
                                                std::to_string(v.vendor_type) + ": value of " +
                                                std::to_string(v.value.size()) +
                                                " octets (1..247)");
  }
  Attribute a{attr::kVendorSpecific, {}};
  putU32(a.value, v.vendor_id);
  a.value.push_back(v.vendor_type);
  a.value.push_back(static_cast<uint8_t>(v.value.size() + 2));
  a.value.insert(a.value.end(), v.value.begin(), v.value.end());
  return a;
}

Result<Attribute> make3gppImsi(std::string_view digits) {
  // > TS 29.061 §16.4.7: 3GPP-IMSI, "UTF-8 encoded IMSI", at most 15 digits.
  if (digits.empty() || digits.size() > 15 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Error{"3GPP-IMSI: '" + std::string(digits) + "' is not 1..15 decimal digits"};
  }
  return makeVendorSpecific(
      {kVendor3gpp, attr3gpp::kImsi, std::vector<uint8_t>(digits.begin(), digits.end())});
}

Attribute make3gppChargingCharacteristics(uint16_t cc) {
  // > TS 29.061 §16.4.7: 3GPP-Charging-Characteristics, Length=6, "UTF-8 encoded
  // > hexadecimal characters" of the 2-octet Charging Characteristics. Upper-case digits.
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::vector<uint8_t> text = {
      static_cast<uint8_t>(kHex[(cc >> 12) & 0xf]), static_cast<uint8_t>(kHex[(cc >> 8) & 0xf]),
      static_cast<uint8_t>(kHex[(cc >> 4) & 0xf]), static_cast<uint8_t>(kHex[cc & 0xf])};
  return makeVendorSpecific({kVendor3gpp, attr3gpp::kChargingCharacteristics, text}).value();
}

void appendInputOctets(std::vector<Attribute>& attrs, uint64_t uplink_octets) {
  SplitCount s = splitOctets(uplink_octets);
  attrs.push_back(makeInteger(attr::kAcctInputOctets, s.octets));
  if (s.gigawords != 0) {
    attrs.push_back(makeInteger(attr::kAcctInputGigawords, s.gigawords));
  }
}

void appendOutputOctets(std::vector<Attribute>& attrs, uint64_t downlink_octets) {
  SplitCount s = splitOctets(downlink_octets);
  attrs.push_back(makeInteger(attr::kAcctOutputOctets, s.octets));
  if (s.gigawords != 0) {
    attrs.push_back(makeInteger(attr::kAcctOutputGigawords, s.gigawords));
  }
}

std::optional<uint32_t> asInteger(const Attribute& a) {
  if (a.value.size() != 4) {
    return std::nullopt;
  }
  return getU32(a.value.data());
}

std::optional<uint32_t> asIpv4(const Attribute& a) { return asInteger(a); }

std::optional<Ip6> asIpv6(const Attribute& a) {
  if (a.value.size() != 16) {
    return std::nullopt;
  }
  return loadIp6(a.value.data());
}

std::optional<std::string> asText(const Attribute& a) {
  if (a.value.empty()) {
    return std::nullopt;  // RFC 8044 §3.4: text is 1..253 octets
  }
  return std::string(a.value.begin(), a.value.end());
}

std::optional<IpPrefix> asIpv6Prefix(const Attribute& a) {
  if (a.value.size() < 2 || a.value.size() > 18 || a.value[0] != 0 || a.value[1] > 128) {
    return std::nullopt;
  }
  uint8_t len = a.value[1];
  size_t have = a.value.size() - 2;
  if (have < (len + 7u) / 8u) {
    return std::nullopt;  // fewer prefix octets than the length needs
  }
  uint8_t bytes[16] = {};
  std::memcpy(bytes, a.value.data() + 2, have);
  IpPrefix p;
  p.addr.family = 6;
  p.addr.v6 = loadIp6(bytes);
  p.len = len;
  // > RFC 8044 §3.10: "Bits outside of the Prefix-Length, if included, MUST be zero."
  if (!(maskIp6(p.addr.v6, len) == p.addr.v6)) {
    return std::nullopt;
  }
  return p;
}

std::optional<std::vector<VendorAttribute>> asVendorSpecific(const Attribute& a) {
  if (a.type != attr::kVendorSpecific || a.value.size() < 4 + 2) {
    return std::nullopt;
  }
  uint32_t vendor = getU32(a.value.data());
  std::vector<VendorAttribute> out;
  size_t at = 4;
  while (at < a.value.size()) {
    if (a.value.size() - at < 2) {
      return std::nullopt;
    }
    size_t len = a.value[at + 1];
    if (len < 2 || len > a.value.size() - at) {
      return std::nullopt;
    }
    out.push_back({vendor, a.value[at],
                   std::vector<uint8_t>(a.value.begin() + static_cast<std::ptrdiff_t>(at + 2),
                                        a.value.begin() + static_cast<std::ptrdiff_t>(at + len))});
    at += len;
  }
  return out;
}

const Attribute* Packet::find(uint8_t type) const {
  for (const Attribute& a : attributes) {
    if (a.type == type) {
      return &a;
    }
  }
  return nullptr;
}

std::optional<VendorAttribute> Packet::findVendor(uint32_t vendor_id, uint8_t vendor_type) const {
  for (const Attribute& a : attributes) {
    if (a.type != attr::kVendorSpecific) {
      continue;
    }
    auto subs = asVendorSpecific(a);
    if (!subs) {
      continue;
    }
    for (VendorAttribute& v : *subs) {
      if (v.vendor_id == vendor_id && v.vendor_type == vendor_type) {
        return std::move(v);
      }
    }
  }
  return std::nullopt;
}

Result<std::vector<uint8_t>> encodeAccountingRequest(uint8_t identifier,
                                                     const std::vector<Attribute>& attrs,
                                                     std::string_view secret) {
  for (const Attribute& a : attrs) {
    if (a.type == attr::kMessageAuthenticator) {
      return attrError(a.type, "Message-Authenticator is not sent in Accounting-Request");
    }
  }
  auto wire = serialize(Code::kAccountingRequest, identifier, attrs);
  if (!wire) {
    return wire;
  }
  std::vector<uint8_t>& w = wire.value();
  // > RFC 2866 §3: "the Request Authenticator field contains a 16 octet MD5 checksum ...
  // > MD5(Code + Identifier + Length + 16 zero octets + request attributes + shared secret)"
  Authenticator auth = md5({w, bytesOf(secret)});  // the field is still 16 zero octets
  std::copy(auth.begin(), auth.end(), w.begin() + 4);
  return wire;
}

Result<std::vector<uint8_t>> encodeStatusServer(uint8_t identifier,
                                                const Authenticator& request_authenticator,
                                                const std::vector<Attribute>& attrs,
                                                std::string_view secret) {
  auto wire = serialize(Code::kStatusServer, identifier, attrs);
  if (!wire) {
    return wire;
  }
  std::vector<uint8_t>& w = wire.value();
  if (w.size() + 2 + kAuthenticatorOctets > kMaxPacketOctets) {
    return Error{"Status-Server: no room for the Message-Authenticator"};
  }
  std::copy(request_authenticator.begin(), request_authenticator.end(), w.begin() + 4);
  size_t at = appendZeroMessageAuthenticator(w);
  // > RFC 3579 §3.2: "Message-Authenticator = HMAC-MD5 (Type, Identifier, Length, Request
  // > Authenticator, Attributes)" with the attribute's value taken as sixteen zero octets.
  Authenticator mac = hmacMd5(secret, w);
  std::copy(mac.begin(), mac.end(), w.begin() + static_cast<std::ptrdiff_t>(at));
  return wire;
}

Result<std::vector<uint8_t>> encodeResponse(Code code, uint8_t identifier,
                                            const Authenticator& request_authenticator,
                                            const std::vector<Attribute>& attrs,
                                            std::string_view secret, bool message_authenticator) {
  auto wire = serialize(code, identifier, attrs);
  if (!wire) {
    return wire;
  }
  std::vector<uint8_t>& w = wire.value();
  std::copy(request_authenticator.begin(), request_authenticator.end(), w.begin() + 4);
  if (message_authenticator) {
    if (w.size() + 2 + kAuthenticatorOctets > kMaxPacketOctets) {
      return Error{"response: no room for the Message-Authenticator"};
    }
    size_t at = appendZeroMessageAuthenticator(w);
    Authenticator mac = hmacMd5(secret, w);
    std::copy(mac.begin(), mac.end(), w.begin() + static_cast<std::ptrdiff_t>(at));
  }
  // > RFC 2866 §3 / RFC 2865 §3: ResponseAuth =
  // > MD5(Code+ID+Length+RequestAuth+Attributes+Secret)
  Authenticator auth = md5({w, bytesOf(secret)});
  std::copy(auth.begin(), auth.end(), w.begin() + 4);
  return wire;
}

const char* parseErrorName(ParseError e) {
  switch (e) {
    case ParseError::kShorterThanHeader:
      return "shorter-than-header";
    case ParseError::kLengthBelowMinimum:
      return "length-below-minimum";
    case ParseError::kLengthAboveMaximum:
      return "length-above-maximum";
    case ParseError::kLengthPastDatagram:
      return "length-past-datagram";
    case ParseError::kUnknownCode:
      return "unknown-code";
    case ParseError::kAttributeHeaderCut:
      return "attribute-header-cut";
    case ParseError::kAttributeLengthBelowTwo:
      return "attribute-length-below-two";
    case ParseError::kAttributePastEnd:
      return "attribute-past-end";
    case ParseError::kMessageAuthenticatorLength:
      return "message-authenticator-length";
  }
  return "unknown";
}

std::variant<ParsedPacket, ParseFailure> parsePacket(std::span<const uint8_t> datagram) {
  auto fail = [](ParseError r, std::string detail) {
    return std::variant<ParsedPacket, ParseFailure>(ParseFailure{r, std::move(detail)});
  };
  if (datagram.size() < kHeaderOctets) {
    return fail(ParseError::kShorterThanHeader,
                "datagram of " + std::to_string(datagram.size()) + " octets (header is 20)");
  }
  size_t length = (size_t{datagram[2]} << 8) | datagram[3];
  if (length < kHeaderOctets) {
    return fail(ParseError::kLengthBelowMinimum,
                "Length field " + std::to_string(length) + " < 20");
  }
  if (length > kMaxPacketOctets) {
    return fail(ParseError::kLengthAboveMaximum,
                "Length field " + std::to_string(length) + " > 4096");
  }
  if (length > datagram.size()) {
    return fail(ParseError::kLengthPastDatagram, "Length field " + std::to_string(length) +
                                                     " > datagram " +
                                                     std::to_string(datagram.size()) + " octets");
  }
  if (!knownCode(datagram[0])) {
    return fail(ParseError::kUnknownCode, "code " + std::to_string(datagram[0]));
  }
  ParsedPacket out;
  out.wire.assign(datagram.begin(), datagram.begin() + static_cast<std::ptrdiff_t>(length));
  Packet& p = out.packet;
  p.code = static_cast<Code>(datagram[0]);
  p.identifier = datagram[1];
  std::copy_n(datagram.begin() + 4, kAuthenticatorOctets, p.authenticator.begin());
  size_t at = kHeaderOctets;
  while (at < length) {
    if (length - at < 2) {
      return fail(ParseError::kAttributeHeaderCut, "1 octet left at offset " + std::to_string(at));
    }
    uint8_t type = datagram[at];
    size_t alen = datagram[at + 1];
    if (alen < 2) {
      return fail(ParseError::kAttributeLengthBelowTwo, "attribute " + std::to_string(type) +
                                                            " at offset " + std::to_string(at) +
                                                            " has Length " + std::to_string(alen));
    }
    if (alen > length - at) {
      return fail(ParseError::kAttributePastEnd, "attribute " + std::to_string(type) +
                                                     " at offset " + std::to_string(at) +
                                                     " has Length " + std::to_string(alen) + ", " +
                                                     std::to_string(length - at) + " octets left");
    }
    if (type == attr::kMessageAuthenticator && alen != 2 + kAuthenticatorOctets) {
      return fail(ParseError::kMessageAuthenticatorLength,
                  "Message-Authenticator of Length " + std::to_string(alen) + " (18)");
    }
    p.attributes.push_back(
        {type, std::vector<uint8_t>(datagram.begin() + static_cast<std::ptrdiff_t>(at + 2),
                                    datagram.begin() + static_cast<std::ptrdiff_t>(at + alen))});
    at += alen;
  }
  return out;
}

const char* responseCheckName(ResponseCheck c) {
  switch (c) {
    case ResponseCheck::kOk:
      return "ok";
    case ResponseCheck::kWrongIdentifier:
      return "wrong-identifier";
    case ResponseCheck::kUnexpectedCode:
      return "unexpected-code";
    case ResponseCheck::kBadAuthenticator:
      return "bad-authenticator";
    case ResponseCheck::kBadMessageAuthenticator:
      return "bad-message-authenticator";
    case ResponseCheck::kMissingMessageAuthenticator:
      return "missing-message-authenticator";
  }
  return "unknown";
}

ResponseCheck verifyResponse(const ParsedPacket& response, Code request_code,
                             uint8_t request_identifier, const Authenticator& request_authenticator,
                             std::string_view secret) {
  const Packet& p = response.packet;
  bool expected = p.code == Code::kAccountingResponse ||
                  (request_code == Code::kStatusServer && p.code == Code::kAccessAccept);
  if (!expected) {
    return ResponseCheck::kUnexpectedCode;
  }
  if (p.identifier != request_identifier) {
    return ResponseCheck::kWrongIdentifier;
  }
  const std::vector<uint8_t>& w = response.wire;
  Authenticator want =
      md5({std::span<const uint8_t>(w.data(), 4), request_authenticator,
           std::span<const uint8_t>(w.data() + kHeaderOctets, w.size() - kHeaderOctets),
           bytesOf(secret)});
  if (!constantTimeEqual(want.data(), p.authenticator.data(), kAuthenticatorOctets)) {
    return ResponseCheck::kBadAuthenticator;
  }
  if (size_t at = findMessageAuthenticator(w); at != 0) {
    if (!messageAuthenticatorMatches(w, at, &request_authenticator, secret)) {
      return ResponseCheck::kBadMessageAuthenticator;
    }
  }
  return ResponseCheck::kOk;
}

ResponseCheck verifyRequest(const ParsedPacket& request, std::string_view secret) {
  const Packet& p = request.packet;
  const std::vector<uint8_t>& w = request.wire;
  if (p.code == Code::kAccountingRequest) {
    static constexpr Authenticator kZero{};
    Authenticator want =
        md5({std::span<const uint8_t>(w.data(), 4), kZero,
             std::span<const uint8_t>(w.data() + kHeaderOctets, w.size() - kHeaderOctets),
             bytesOf(secret)});
    return constantTimeEqual(want.data(), p.authenticator.data(), kAuthenticatorOctets)
               ? ResponseCheck::kOk
               : ResponseCheck::kBadAuthenticator;
  }
  if (p.code == Code::kStatusServer) {
    size_t at = findMessageAuthenticator(w);
    if (at == 0) {
      return ResponseCheck::kMissingMessageAuthenticator;
    }
    return messageAuthenticatorMatches(w, at, nullptr, secret)
               ? ResponseCheck::kOk
               : ResponseCheck::kBadMessageAuthenticator;
  }
  return ResponseCheck::kUnexpectedCode;
}

}  // namespace tally::radius
