// DER writer and BER reader (X.690).
#include "controlplane/cdr/ber.h"
#include "tests/fakes/cdr_fixtures.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace tally::ber {
namespace {

using tally::testing::fromHex;


TEST(BerTest, TagsIncludingHighTagNumberForm) {
  EXPECT_EQ(toHex(encodeTag(ctx(0))), "80");
  EXPECT_EQ(toHex(encodeTag(ctx(30))), "9e");
  EXPECT_EQ(toHex(encodeTag(ctx(31))), "9f1f");      // > [31] -> 9F 1F
  EXPECT_EQ(toHex(encodeTag(ctx(32))), "9f20");      // > [32] -> 9F 20
  EXPECT_EQ(toHex(encodeTag(ctxCons(34))), "bf22");  // > [34] constructed -> BF 22
  EXPECT_EQ(toHex(encodeTag(ctxCons(79))), "bf4f");  // > pGWRecord -> BF 4F
  EXPECT_EQ(toHex(encodeTag(ctxCons(78))), "bf4e");
  EXPECT_EQ(toHex(encodeTag(ctx(127))), "9f7f");
  EXPECT_EQ(toHex(encodeTag(ctx(128))), "9f8100");
  EXPECT_EQ(toHex(encodeTag(ctx(16383))), "9fff7f");
  EXPECT_EQ(toHex(encodeTag(ctx(16384))), "9f818000");
  EXPECT_EQ(toHex(encodeTag(universal(kUSequence, true))), "30");
  EXPECT_EQ(toHex(encodeTag(universal(kUEnumerated))), "0a");
  EXPECT_EQ(toHex(encodeTag(Tag{TagClass::kApplication, false, 5})), "45");
  EXPECT_EQ(toHex(encodeTag(Tag{TagClass::kPrivate, true, 1})), "e1");
}

TEST(BerTest, MinimalDefiniteLengths) {
  EXPECT_EQ(toHex(encodeLength(0)), "00");
  EXPECT_EQ(toHex(encodeLength(127)), "7f");
  EXPECT_EQ(toHex(encodeLength(128)), "8180");
  EXPECT_EQ(toHex(encodeLength(255)), "81ff");
  EXPECT_EQ(toHex(encodeLength(256)), "820100");
  EXPECT_EQ(toHex(encodeLength(342)), "820156");  // > bf4f 820156
  EXPECT_EQ(toHex(encodeLength(65535)), "82ffff");
  EXPECT_EQ(toHex(encodeLength(65536)), "83010000");
}

TEST(BerTest, SignedIntegers) {
  struct Case {
    int64_t v;
    const char* hex;
  };
  const Case cases[] = {
      {0, "00"},
      {1, "01"},
      {127, "7f"},
      {128, "0080"},
      {255, "00ff"},
      {256, "0100"},
      {-1, "ff"},
      {-128, "80"},
      {-129, "ff7f"},
      {-256, "ff00"},
      {32767, "7fff"},
      {32768, "008000"},
      {INT64_MAX, "7fffffffffffffff"},
      {INT64_MIN, "8000000000000000"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(toHex(integerContents(c.v)), c.hex) << c.v;
    auto back = decodeInteger(fromHex(c.hex));
    ASSERT_TRUE(back);
    EXPECT_EQ(back.value(), c.v);
  }
  DerWriter w;
  w.integer(ctx(0), 85);  // > [0] RecordType -> 80 01 55
  EXPECT_EQ(toHex(w.bytes()), "800155");
}

TEST(BerTest, UnsignedIntegers) {
  EXPECT_EQ(toHex(unsignedContents(0)), "00");
  EXPECT_EQ(toHex(unsignedContents(0x80)), "0080");
  EXPECT_EQ(toHex(unsignedContents(0x89ABCDEF)), "0089abcdef");
  EXPECT_EQ(toHex(unsignedContents(3000000000ULL)), "00b2d05e00");
  EXPECT_EQ(toHex(unsignedContents(UINT64_MAX)), "00ffffffffffffffff");
  EXPECT_FALSE(decodeUnsigned(fromHex("89abcdef")));  // negative
  EXPECT_FALSE(decodeUnsigned({}));
  EXPECT_FALSE(decodeUnsigned(fromHex("010000000000000000")));  // > 2^64-1
  auto nonminimal = decodeUnsigned(fromHex("000001"));          // BER allows it
  ASSERT_TRUE(nonminimal);
  EXPECT_EQ(nonminimal.value(), 1u);
  EXPECT_FALSE(decodeInteger({}));
  EXPECT_FALSE(decodeInteger(fromHex("000000000000000001")));
}

TEST(BerTest, SimpleTypes) {
  DerWriter w;
  w.boolean(ctx(11), true);  // > BOOLEAN TRUE should be FF (DER)
  w.boolean(ctx(11), false);
  w.null(ctx(25));
  w.enumerated(universal(kUEnumerated), 2);
  w.octetString(ctx(7), std::string_view("internet"));
  EXPECT_EQ(toHex(w.bytes()),
            "8b01ff8b01009900"
            "0a0102"
            "8708696e7465726e6574");
  EXPECT_TRUE(decodeBoolean(fromHex("ff")).value());
  EXPECT_TRUE(decodeBoolean(fromHex("01")).value());  // BER: any non-zero
  EXPECT_FALSE(decodeBoolean(fromHex("00")).value());
  EXPECT_FALSE(decodeBoolean(fromHex("0000")));
}

TEST(BerTest, NamedBitStringsWithoutTrailingZeroBits) {
  DerWriter w;
  w.namedBitString(ctx(8), uint64_t{1} << 24);
  EXPECT_EQ(toHex(w.bytes()), "88050700000080");
  w.clear();
  w.namedBitString(ctx(8), 0);
  EXPECT_EQ(toHex(w.bytes()), "880100");
  w.clear();
  w.namedBitString(ctx(8), 0xFF);  // bits 0..7: one full octet, 0 unused
  EXPECT_EQ(toHex(w.bytes()), "880200ff");
  w.clear();
  w.namedBitString(ctx(8), uint64_t{1} << 63);
  EXPECT_EQ(toHex(w.bytes()), "8809000000000000000001");
  EXPECT_FALSE(decodeNamedBits({}));
  EXPECT_FALSE(decodeNamedBits(fromHex("08ff")));                  // 8 unused bits
  EXPECT_FALSE(decodeNamedBits(fromHex("01")));                    // unused bits without octets
  EXPECT_FALSE(decodeNamedBits(fromHex("00000000000000000080")));  // bit 64
  auto ignored = decodeNamedBits(fromHex("07000000ff"));           // unused bits set: ignored (BER)
  ASSERT_TRUE(ignored);
  EXPECT_EQ(ignored.value(), uint64_t{1} << 24);
}

TEST(BerTest, ConstructedNestingWidensLengths) {
  DerWriter w;
  size_t outer = w.begin(ctxCons(79));
  w.integer(ctx(0), 85);
  size_t inner = w.begin(ctxCons(34));
  std::vector<uint8_t> payload(300, 0xAB);
  w.octetString(ctx(1), payload);
  w.end(inner);
  size_t empty = w.begin(ctxCons(35));
  w.end(empty);
  w.end(outer);
  const auto& b = w.bytes();
  // inner: 81 82 01 2c + 300 = 304 -> BF 22 82 01 30; outer: 3 + 5 + 304 + 3 = 315 -> 82 01 3b
  EXPECT_EQ(toHex(std::span<const uint8_t>(b).subspan(0, 13)), "bf4f82013b800155bf22820130");
  EXPECT_EQ(b.size(), 4u + 1 + 315);
  BerReader r(b);
  auto t = r.next();
  ASSERT_TRUE(t);
  EXPECT_TRUE(r.atEnd());
  EXPECT_EQ(t.value().tag, ctxCons(79));
  EXPECT_EQ(t.value().value.size(), 315u);
  BerReader in(t.value().value, t.value().header_length);
  auto f0 = in.next();
  ASSERT_TRUE(f0);
  EXPECT_EQ(f0.value().tag, ctx(0));
  EXPECT_EQ(f0.value().offset, 5u);
  auto f1 = in.next();
  ASSERT_TRUE(f1);
  EXPECT_EQ(f1.value().tag, ctxCons(34));
  EXPECT_EQ(f1.value().value.size(), 304u);
  auto f2 = in.next();
  ASSERT_TRUE(f2);
  EXPECT_EQ(f2.value().tag, ctxCons(35));
  EXPECT_TRUE(f2.value().value.empty());
  EXPECT_TRUE(in.atEnd());
}

TEST(BerTest, ReaderErrorsAreLocated) {
  auto err = [](const std::string& hex) {
    std::vector<uint8_t> b = fromHex(hex);
    BerReader r(b);
    auto t = r.next();
    return t ? std::string("ok") : t.error().message;
  };
  EXPECT_EQ(err("8005010203"), "offset 0: length 5 exceeds the 3 octets left");
  EXPECT_EQ(err("9f"), "offset 0: truncated tag");
  EXPECT_EQ(err("9f80"), "offset 0: tag number with a leading zero group");
  EXPECT_EQ(err("9f8181818101"), "offset 0: tag number too large");
  EXPECT_EQ(err("80"), "offset 0: truncated length");
  EXPECT_EQ(err("8082"), "offset 0: truncated length");
  EXPECT_EQ(err("8080"), "offset 0: indefinite length on a primitive value");
  EXPECT_EQ(err("80ff"), "offset 0: invalid length octet ff");
  EXPECT_EQ(err("a080800100"), "offset 0: missing end-of-contents of an indefinite length");
  EXPECT_EQ(err("a0808001"), "offset 2: length 1 exceeds the 0 octets left");
  EXPECT_EQ(err("800101"), "ok");
  EXPECT_EQ(err("8089ffffffffffffffffff"), "offset 0: invalid length octet 89");
  std::vector<uint8_t> b = fromHex("800101 8005");
  BerReader r(b, 100);
  ASSERT_TRUE(r.next());
  auto e = r.next();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message, "offset 103: length 5 exceeds the 0 octets left");
}

TEST(BerTest, IndefiniteLengths) {
  // A0 80 { 80 01 05, A1 80 { 81 00 } 00 00 } 00 00, then 82 00
  std::vector<uint8_t> b = fromHex("a080 800105 a180 8100 0000 0000 8200");
  BerReader r(b);
  auto t = r.next();
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t.value().value.size(), 9u);
  EXPECT_EQ(t.value().total_length, 13u);
  auto n = r.next();
  ASSERT_TRUE(n);
  EXPECT_EQ(n.value().tag, ctx(2));
  EXPECT_TRUE(r.atEnd());
  BerReader in(t.value().value);
  ASSERT_TRUE(in.next());
  auto inner = in.next();
  ASSERT_TRUE(inner);
  EXPECT_EQ(inner.value().tag, ctxCons(1));
  EXPECT_EQ(toHex(inner.value().value), "8100");
}

TEST(BerTest, ReaderNeverReadsOutsideItsInput) {
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> b(rng() % 24);
    for (uint8_t& x : b) {
      x = static_cast<uint8_t>(rng());
    }
    BerReader r(b);
    int guard = 0;
    while (!r.atEnd() && guard++ < 64) {
      auto t = r.next();
      if (!t) {
        break;
      }
      ASSERT_LE(t.value().value.data() + t.value().value.size(), b.data() + b.size());
      ASSERT_GE(t.value().value.data(), b.data());
    }
  }
}

TEST(BerTest, WriterRoundTripsThroughReader) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 1000; ++i) {
    DerWriter w;
    uint32_t tag = static_cast<uint32_t>(rng() % 100000);
    int64_t v = static_cast<int64_t>(rng()) >> (rng() % 64);
    w.integer(ctx(tag), v);
    BerReader r(w.bytes());
    auto t = r.next();
    ASSERT_TRUE(t);
    EXPECT_EQ(t.value().tag, ctx(tag));
    auto back = decodeInteger(t.value().value);
    ASSERT_TRUE(back);
    EXPECT_EQ(back.value(), v);
    EXPECT_TRUE(r.atEnd());
  }
}

}  // namespace
}  // namespace tally::ber
