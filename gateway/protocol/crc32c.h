// CRC32C (Castagnoli), as NVMe/TCP header and data digests use it.
// Hardware-accelerated (SSE4.2 crc32 instruction) where the CPU has it.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

namespace nvmeof {

// Continues a CRC over more bytes. Start with kCrc32cInit; finish with Crc32cFinish.
inline constexpr uint32_t kCrc32cInit = 0xFFFFFFFFu;
uint32_t Crc32cUpdate(uint32_t crc, const void* data, size_t len);
inline uint32_t Crc32cFinish(uint32_t crc) { return crc ^ 0xFFFFFFFFu; }

// The digest of one buffer / of a scatter list, as it goes on the wire (little-endian).
inline uint32_t Crc32c(const void* data, size_t len) {
  return Crc32cFinish(Crc32cUpdate(kCrc32cInit, data, len));
}
uint32_t Crc32cIov(const struct iovec* iov, int iovcnt, size_t len);

// True when the hardware path is in use.
bool Crc32cHardware();

}  // namespace nvmeof
