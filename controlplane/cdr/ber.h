#pragma once
// A small DER writer and a BER reader (ITU-T X.690), enough for TS 32.298 CDRs.
//
// The writer produces DER-canonical output: minimal definite lengths, minimal two's-complement
// INTEGERs, BOOLEAN TRUE as FF, named-bit BIT STRINGs without trailing zero bits. It does not
// sort SET members: the caller writes them in ascending tag order.
// The reader accepts any BER (long-form lengths, indefinite lengths of constructed values,
// non-minimal INTEGERs) and never reads outside its input.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/result.h"

namespace tally::ber {

enum class TagClass : uint8_t {
  kUniversal = 0x00,
  kApplication = 0x40,
  kContext = 0x80,
  kPrivate = 0xC0,
};

struct Tag {
  TagClass cls = TagClass::kContext;
  bool constructed = false;
  uint32_t number = 0;
  bool operator==(const Tag&) const = default;
};

// Shorthands: [n] primitive, [n] constructed, universal n.
constexpr Tag ctx(uint32_t number) { return Tag{TagClass::kContext, false, number}; }
constexpr Tag ctxCons(uint32_t number) { return Tag{TagClass::kContext, true, number}; }
constexpr Tag universal(uint32_t number, bool constructed = false) {
  return Tag{TagClass::kUniversal, constructed, number};
}

// Universal tag numbers used here.
constexpr uint32_t kUBoolean = 1;
constexpr uint32_t kUInteger = 2;
constexpr uint32_t kUBitString = 3;
constexpr uint32_t kUOctetString = 4;
constexpr uint32_t kUNull = 5;
constexpr uint32_t kUEnumerated = 10;
constexpr uint32_t kUSequence = 16;
constexpr uint32_t kUSet = 17;
constexpr uint32_t kUIa5String = 22;

class DerWriter {
 public:
  DerWriter() { out_.reserve(512); }

  // > X.690 8.1.2: identifier octets; tag numbers >= 31 use the high-tag-number form
  // > (base-128, most significant group first, bit 8 set on all but the last octet).
  void tag(Tag t);
  // > X.690 10.1: the definite form of length encoding shall be used, encoded in the minimum
  // > number of octets.
  void length(size_t n);

  // INTEGER with any tag; two's complement, minimal length (X.690 8.3.2).
  void integer(Tag t, int64_t value);
  // Non-negative INTEGER up to 2^64-1: a leading 00 when the top bit of the first octet is set.
  void unsignedInteger(Tag t, uint64_t value);
  void enumerated(Tag t, int64_t value) { integer(t, value); }
  // > X.690 11.1: if the encoding represents the boolean value TRUE, its single contents octet
  // > shall have all eight bits set to one.
  void boolean(Tag t, bool value);
  void null(Tag t);
  void octetString(Tag t, std::span<const uint8_t> bytes);
  void octetString(Tag t, std::string_view text);
  // Named-bit BIT STRING: bit i of `bits` is named bit i (bit 0 = most significant bit of the
  // first contents octet). > X.690 11.2.2: trailing 0 bits shall be removed (DER).
  void namedBitString(Tag t, uint64_t bits);

  // Constructed values: begin() returns a marker for end(), which patches in the length.
  // Markers nest (end the innermost first).
  size_t begin(Tag t);
  void end(size_t marker);

  // Raw octets (already encoded).
  void raw(std::span<const uint8_t> bytes);

  const std::vector<uint8_t>& bytes() const { return out_; }
  std::vector<uint8_t> take() { return std::move(out_); }
  void clear() { out_.clear(); }

 private:
  std::vector<uint8_t> out_;
};

// Encodings on their own (used by the writer and by tests).
std::vector<uint8_t> encodeTag(Tag t);
std::vector<uint8_t> encodeLength(size_t n);
// Minimal two's-complement contents octets of a signed / unsigned integer.
std::vector<uint8_t> integerContents(int64_t value);
std::vector<uint8_t> unsignedContents(uint64_t value);

// One TLV as read: its tag, contents and where it sits in the input.
struct Tlv {
  Tag tag;
  std::span<const uint8_t> value;  // contents (for an indefinite length: without the 00 00)
  size_t offset = 0;               // of the identifier octet, relative to the reader's base
  size_t header_length = 0;        // identifier + length octets
  size_t total_length = 0;         // header + contents (+ end-of-contents)
};

class BerReader {
 public:
  // `base_offset` is added to the offsets in errors and Tlvs (position in an outer buffer).
  explicit BerReader(std::span<const uint8_t> data, size_t base_offset = 0)
      : data_(data), base_(base_offset) {}
  bool atEnd() const { return pos_ >= data_.size(); }
  size_t position() const { return base_ + pos_; }
  // The next TLV; errors name the offset ("offset 12: length 300 exceeds the 40 octets left").
  Result<Tlv> next();

 private:
  std::span<const uint8_t> data_;
  size_t base_ = 0;
  size_t pos_ = 0;
};

// Contents decoders. Errors are short texts ("empty INTEGER", "INTEGER longer than 8 octets").
Result<int64_t> decodeInteger(std::span<const uint8_t> value);
// Non-negative INTEGER (rejects negative encodings): up to 9 octets with a leading 00.
Result<uint64_t> decodeUnsigned(std::span<const uint8_t> value);
Result<bool> decodeBoolean(std::span<const uint8_t> value);
// Named-bit BIT STRING into a mask (bit i = named bit i); bits >= 64 must be zero.
Result<uint64_t> decodeNamedBits(std::span<const uint8_t> value);

std::string toHex(std::span<const uint8_t> bytes);

}  // namespace tally::ber
