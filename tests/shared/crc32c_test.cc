// CRC32C against the RFC 3720 (iSCSI) vectors, software and hardware paths agreeing on every
// length and alignment, and continuation.
#include "shared/crc32c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace tally {
namespace {

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct Vector {
  std::vector<uint8_t> data;
  uint32_t crc;
};

std::vector<Vector> knownVectors() {
  std::vector<Vector> v;
  std::string check = "123456789";
  v.push_back({std::vector<uint8_t>(check.begin(), check.end()), 0xE3069283u});
  v.push_back({{}, 0u});
  // RFC 3720, B.4 "CRC Examples".
  v.push_back({std::vector<uint8_t>(32, 0x00), 0x8A9136AAu});
  v.push_back({std::vector<uint8_t>(32, 0xFF), 0x62A8AB43u});
  std::vector<uint8_t> inc(32), dec(32);
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<uint8_t>(i);
    dec[i] = static_cast<uint8_t>(31 - i);
  }
  v.push_back({inc, 0x46DD794Eu});
  v.push_back({dec, 0x113FDB5Cu});
  return v;
}

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(crc32c(bytes("123456789")), 0xE3069283u);
  for (const auto& v : knownVectors()) {
    EXPECT_EQ(crc32c(v.data), v.crc);
    EXPECT_EQ(crc32cSoftware(v.data), v.crc);
    if (crc32cHasHardware()) {
      EXPECT_EQ(crc32cHardware(v.data), v.crc);
    }
  }
}

TEST(Crc32cTest, SoftwareAndHardwareAgreeOnEveryLengthAndAlignment) {
  if (!crc32cHasHardware()) {
    GTEST_SKIP() << "no SSE4.2 on this CPU: only the software path is in use";
  }
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(4096 + 16);
  for (auto& b : buf) {
    b = static_cast<uint8_t>(rng());
  }
  for (size_t offset = 0; offset < 16; ++offset) {
    for (size_t len = 0; len < 300; ++len) {
      std::span<const uint8_t> s(buf.data() + offset, len);
      ASSERT_EQ(crc32cSoftware(s), crc32cHardware(s)) << "offset " << offset << " len " << len;
    }
  }
  std::span<const uint8_t> all(buf.data() + 3, 4096);
  EXPECT_EQ(crc32cSoftware(all), crc32cHardware(all));
}

TEST(Crc32cTest, ContinuesFromAPreviousCrc) {
  const std::string a = "1234", b = "56789";
  EXPECT_EQ(crc32c(bytes(b), crc32c(bytes(a))), 0xE3069283u);
  EXPECT_EQ(crc32cSoftware(bytes(b), crc32cSoftware(bytes(a))), 0xE3069283u);
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
}

}  // namespace
}  // namespace tally
