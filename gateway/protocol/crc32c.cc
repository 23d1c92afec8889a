// CRC32C (Castagnoli, reflected polynomial 0x82F63B78).
//
// Two implementations of the same raw update (no pre/post inversion; kCrc32cInit and
// Crc32cFinish do that):
//   - hardware: the SSE4.2 crc32 instruction, 8 bytes at a time; buffers of at least
//     3 * kHwBlock bytes run three independent streams interleaved (the instruction has a
//     latency of 3 cycles but a throughput of 1 per cycle) and the three partial CRCs are
//     combined with a precomputed "append kHwBlock zero bytes" operator;
//   - software: slicing-by-8 tables.
// The hardware path is chosen once, at run time, when the CPU has SSE4.2.
#include "gateway/protocol/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace nvmeof {
namespace crc32c_internal {

uint32_t UpdateSoftware(uint32_t crc, const void* data, size_t len);
uint32_t UpdateHardware(uint32_t crc, const void* data, size_t len);
bool HardwareAvailable();

namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected 0x1EDC6F41

using Table = std::array<uint32_t, 256>;

constexpr std::array<Table, 8> MakeSlicingTables() {
  std::array<Table, 8> t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t c = b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1u) ? kPoly : 0u);
    t[0][b] = c;
  }
  for (size_t s = 1; s < 8; ++s) {
    for (uint32_t b = 0; b < 256; ++b) t[s][b] = (t[s - 1][b] >> 8) ^ t[0][t[s - 1][b] & 0xFF];
  }
  return t;
}

constexpr std::array<Table, 8> kSlice = MakeSlicingTables();

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, sizeof(v));
  return v;  // little-endian host (nvme.h asserts it)
}

constexpr uint32_t ByteStep(uint32_t crc, uint8_t b) { return (crc >> 8) ^ kSlice[0][(crc ^ b) & 0xFF]; }

#if defined(__x86_64__)

// Bytes per stream in one round of the 3-way interleaved loop (a multiple of 8).
constexpr size_t kHwBlock = 512;

// Raw CRC of `n` zero bytes starting from register value `crc`: multiplication by
// x^(8n) modulo the polynomial, a linear map of the 32-bit register.
constexpr uint32_t ShiftZeros(uint32_t crc, size_t n) {
  for (size_t i = 0; i < n; ++i) crc = ByteStep(crc, 0);
  return crc;
}

// Tables for the linear map "append kHwBlock zero bytes", one per register byte.
constexpr std::array<Table, 4> MakeShiftTables() {
  std::array<uint32_t, 32> basis{};
  for (int bit = 0; bit < 32; ++bit) basis[bit] = ShiftZeros(1u << bit, kHwBlock);
  std::array<Table, 4> t{};
  for (int k = 0; k < 4; ++k) {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t v = 0;
      for (int bit = 0; bit < 8; ++bit) {
        if (b & (1u << bit)) v ^= basis[8 * k + bit];
      }
      t[k][b] = v;
    }
  }
  return t;
}

constexpr std::array<Table, 4> kShiftBlock = MakeShiftTables();

inline uint32_t ShiftBlock(uint32_t crc) {
  return kShiftBlock[0][crc & 0xFF] ^ kShiftBlock[1][(crc >> 8) & 0xFF] ^
         kShiftBlock[2][(crc >> 16) & 0xFF] ^ kShiftBlock[3][crc >> 24];
}

__attribute__((target("sse4.2"))) uint32_t HwUpdate(uint32_t crc, const uint8_t* p, size_t len) {
  uint64_t c0 = crc;
  while (len >= 3 * kHwBlock) {
    uint64_t c1 = 0, c2 = 0;
    const uint8_t* p1 = p + kHwBlock;
    const uint8_t* p2 = p + 2 * kHwBlock;
    for (size_t i = 0; i < kHwBlock; i += 8) {
      c0 = _mm_crc32_u64(c0, Load64(p + i));
      c1 = _mm_crc32_u64(c1, Load64(p1 + i));
      c2 = _mm_crc32_u64(c2, Load64(p2 + i));
    }
    // crc(A || B || C) = shift(shift(crc(A)) ^ crc0(B)) ^ crc0(C), crc0 = raw CRC from 0.
    uint32_t c = ShiftBlock(static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
    c0 = ShiftBlock(c) ^ static_cast<uint32_t>(c2);
    p += 3 * kHwBlock;
    len -= 3 * kHwBlock;
  }
  while (len >= 8) {
    c0 = _mm_crc32_u64(c0, Load64(p));
    p += 8;
    len -= 8;
  }
  uint32_t c = static_cast<uint32_t>(c0);
  if (len >= 4) {
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    c = _mm_crc32_u32(c, v);
    p += 4;
    len -= 4;
  }
  while (len > 0) {
    c = _mm_crc32_u8(c, *p++);
    --len;
  }
  return c;
}

#endif  // __x86_64__

uint32_t SwUpdate(uint32_t crc, const uint8_t* p, size_t len) {
  while (len >= 8) {
    uint64_t v = Load64(p) ^ crc;
    crc = kSlice[7][v & 0xFF] ^ kSlice[6][(v >> 8) & 0xFF] ^ kSlice[5][(v >> 16) & 0xFF] ^
          kSlice[4][(v >> 24) & 0xFF] ^ kSlice[3][(v >> 32) & 0xFF] ^ kSlice[2][(v >> 40) & 0xFF] ^
          kSlice[1][(v >> 48) & 0xFF] ^ kSlice[0][v >> 56];
    p += 8;
    len -= 8;
  }
  while (len > 0) {
    crc = ByteStep(crc, *p++);
    --len;
  }
  return crc;
}

bool DetectHardware() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("sse4.2");
#else
  return false;
#endif
}

using UpdateFn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

UpdateFn ChooseUpdate() {
#if defined(__x86_64__)
  if (DetectHardware()) return HwUpdate;
#endif
  return SwUpdate;
}

// Resolved on first use (function-local static: no static-initialization-order issue for
// callers in other translation units' constructors).
UpdateFn Update() {
  static const UpdateFn fn = ChooseUpdate();
  return fn;
}

}  // namespace

// Exposed for the unit tests (declared there), which compare the two paths.
uint32_t UpdateSoftware(uint32_t crc, const void* data, size_t len) {
  return SwUpdate(crc, static_cast<const uint8_t*>(data), len);
}

uint32_t UpdateHardware(uint32_t crc, const void* data, size_t len) {
#if defined(__x86_64__)
  if (DetectHardware()) return HwUpdate(crc, static_cast<const uint8_t*>(data), len);
#endif
  return SwUpdate(crc, static_cast<const uint8_t*>(data), len);
}

bool HardwareAvailable() { return DetectHardware(); }

}  // namespace crc32c_internal

uint32_t Crc32cUpdate(uint32_t crc, const void* data, size_t len) {
  if (len == 0) return crc;
  return crc32c_internal::Update()(crc, static_cast<const uint8_t*>(data), len);
}

uint32_t Crc32cIov(const struct iovec* iov, int iovcnt, size_t len) {
  uint32_t crc = kCrc32cInit;
  for (int i = 0; i < iovcnt && len > 0; ++i) {
    size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;
    crc = Crc32cUpdate(crc, iov[i].iov_base, n);
    len -= n;
  }
  return Crc32cFinish(crc);
}

bool Crc32cHardware() { return crc32c_internal::Update() != crc32c_internal::SwUpdate; }

}  // namespace nvmeof
