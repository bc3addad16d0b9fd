#pragma once
// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI (RFC 3720), ext4 and
// SCTP: crc32c("123456789") = 0xE3069283.
//
// crc32c() uses the SSE4.2 CRC32 instruction when the CPU has it (checked once, at run time)
// and a slice-by-8 table otherwise; both give the same values. Pure functions, any thread.
#include <cstddef>
#include <cstdint>
#include <span>

namespace tally {

// The CRC of `data`, continuing from `crc` (the CRC of what came before; 0 to start):
// crc32c(b, crc32c(a)) == crc32c(a followed by b).
uint32_t crc32c(std::span<const uint8_t> data, uint32_t crc = 0);
inline uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0) {
  return crc32c(std::span<const uint8_t>(static_cast<const uint8_t*>(data), size), crc);
}

// The two implementations behind crc32c(), for tests and benchmarks. crc32cHardware() must only
// be called when crc32cHasHardware() says so.
uint32_t crc32cSoftware(std::span<const uint8_t> data, uint32_t crc = 0);
uint32_t crc32cHardware(std::span<const uint8_t> data, uint32_t crc = 0);
bool crc32cHasHardware();

}  // namespace tally
