#include "gateway/protocol/crc32c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace nvmeof {
namespace crc32c_internal {
// Defined in crc32c.cc, exposed for these tests only.
uint32_t UpdateSoftware(uint32_t crc, const void* data, size_t len);
uint32_t UpdateHardware(uint32_t crc, const void* data, size_t len);
bool HardwareAvailable();
}  // namespace crc32c_internal

namespace {

using crc32c_internal::UpdateHardware;
using crc32c_internal::UpdateSoftware;

uint32_t Sw(const void* p, size_t n) { return Crc32cFinish(UpdateSoftware(kCrc32cInit, p, n)); }
uint32_t Hw(const void* p, size_t n) { return Crc32cFinish(UpdateHardware(kCrc32cInit, p, n)); }

// Bit-at-a-time reference, straight from the definition (reflected 0x1EDC6F41).
uint32_t Reference(const uint8_t* p, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ ((crc & 1u) ? 0x82F63B78u : 0u);
  }
  return crc ^ 0xFFFFFFFFu;
}

TEST(Crc32c, CheckValue) {
  const char* s = "123456789";
  EXPECT_EQ(Crc32c(s, 9), 0xE3069283u);
  EXPECT_EQ(Sw(s, 9), 0xE3069283u);
  EXPECT_EQ(Hw(s, 9), 0xE3069283u);
}

TEST(Crc32c, Empty) {
  EXPECT_EQ(Crc32c(nullptr, 0), 0u);
  EXPECT_EQ(Crc32cUpdate(0x12345678u, nullptr, 0), 0x12345678u);
}

// RFC 3720 appendix B.4 test vectors.
TEST(Crc32c, Rfc3720Zeros) {
  uint8_t b[32];
  memset(b, 0, sizeof(b));
  EXPECT_EQ(Crc32c(b, 32), 0x8A9136AAu);
  EXPECT_EQ(Sw(b, 32), 0x8A9136AAu);
  EXPECT_EQ(Hw(b, 32), 0x8A9136AAu);
}

TEST(Crc32c, Rfc3720Ones) {
  uint8_t b[32];
  memset(b, 0xFF, sizeof(b));
  EXPECT_EQ(Crc32c(b, 32), 0x62A8AB43u);
  EXPECT_EQ(Sw(b, 32), 0x62A8AB43u);
  EXPECT_EQ(Hw(b, 32), 0x62A8AB43u);
}

TEST(Crc32c, Rfc3720Ascending) {
  uint8_t b[32];
  for (int i = 0; i < 32; ++i) b[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Crc32c(b, 32), 0x46DD794Eu);
  EXPECT_EQ(Sw(b, 32), 0x46DD794Eu);
  EXPECT_EQ(Hw(b, 32), 0x46DD794Eu);
}

TEST(Crc32c, Rfc3720Descending) {
  uint8_t b[32];
  for (int i = 0; i < 32; ++i) b[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(Crc32c(b, 32), 0x113FDB5Cu);
}

TEST(Crc32c, Rfc3720IscsiReadPdu) {
  // RFC 3720 B.4: an iSCSI SCSI Read (10) command PDU.
  const uint8_t b[48] = {0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                         0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                         0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                         0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(Crc32c(b, sizeof(b)), 0xD9963A56u);
}

TEST(Crc32c, DispatchMatchesCpu) {
  EXPECT_EQ(Crc32cHardware(), crc32c_internal::HardwareAvailable());
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("sse4.2")) GTEST_SKIP() << "no SSE4.2 on this CPU";
  EXPECT_TRUE(Crc32cHardware());
#endif
}

TEST(Crc32c, HardwareEqualsSoftwareAllLengthsAndAlignments) {
  std::mt19937 rng(12345);
  std::vector<uint8_t> buf(1000 + 16);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t start = 0; start < 8; ++start) {
    for (size_t len = 0; len <= 1000; ++len) {
      const uint8_t* p = buf.data() + start;
      uint32_t sw = Sw(p, len);
      ASSERT_EQ(Hw(p, len), sw) << "start " << start << " len " << len;
      ASSERT_EQ(Crc32c(p, len), sw) << "start " << start << " len " << len;
    }
  }
}

TEST(Crc32c, SoftwareEqualsBitwiseReference) {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(300);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t len = 0; len <= buf.size(); ++len) {
    ASSERT_EQ(Sw(buf.data(), len), Reference(buf.data(), len)) << len;
  }
}

// Large buffers exercise the 3-way interleaved hardware loop and its combine step.
TEST(Crc32c, LargeBuffersHardwareEqualsSoftware) {
  std::mt19937 rng(99);
  std::vector<uint8_t> buf(256 * 1024 + 64);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  const size_t lens[] = {1535, 1536, 1537, 3071, 3072, 3073, 4096, 4099, 8192, 65536,
                         131072, 131079, 256 * 1024};
  for (size_t start : {0, 1, 3, 7}) {
    for (size_t len : lens) {
      const uint8_t* p = buf.data() + start;
      uint32_t ref = Reference(p, len);
      EXPECT_EQ(Sw(p, len), ref) << start << "/" << len;
      EXPECT_EQ(Hw(p, len), ref) << start << "/" << len;
      EXPECT_EQ(Crc32c(p, len), ref) << start << "/" << len;
    }
  }
}

TEST(Crc32c, IncrementalEqualsOneShot) {
  std::mt19937 rng(3);
  std::vector<uint8_t> buf(5000);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  const uint32_t whole = Crc32c(buf.data(), buf.size());
  for (size_t cut : {0, 1, 7, 8, 9, 1536, 2500, 4999, 5000}) {
    uint32_t c = Crc32cUpdate(kCrc32cInit, buf.data(), cut);
    c = Crc32cUpdate(c, buf.data() + cut, buf.size() - cut);
    EXPECT_EQ(Crc32cFinish(c), whole) << cut;
  }
}

TEST(Crc32c, IovEqualsContiguous) {
  std::mt19937 rng(42);
  std::vector<uint8_t> buf(4096 + 100);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (int trial = 0; trial < 200; ++trial) {
    // Split a random-length prefix into up to 8 random pieces (some empty).
    size_t total = rng() % buf.size();
    std::vector<struct iovec> iov;
    size_t off = 0;
    while (off < total && iov.size() < 7) {
      size_t n = rng() % (total - off + 1);
      iov.push_back({buf.data() + off, n});
      off += n;
      if (rng() % 4 == 0) iov.push_back({nullptr, 0});
    }
    iov.push_back({buf.data() + off, total - off});
    ASSERT_EQ(Crc32cIov(iov.data(), static_cast<int>(iov.size()), total), Crc32c(buf.data(), total))
        << "trial " << trial;
  }
}

TEST(Crc32c, IovLenLimitsTheBytes) {
  uint8_t a[10], b[10];
  for (int i = 0; i < 10; ++i) {
    a[i] = static_cast<uint8_t>(i);
    b[i] = static_cast<uint8_t>(100 + i);
  }
  struct iovec iov[2] = {{a, 10}, {b, 10}};
  uint8_t joined[20];
  memcpy(joined, a, 10);
  memcpy(joined + 10, b, 10);
  EXPECT_EQ(Crc32cIov(iov, 2, 15), Crc32c(joined, 15));
  EXPECT_EQ(Crc32cIov(iov, 2, 20), Crc32c(joined, 20));
  EXPECT_EQ(Crc32cIov(iov, 2, 100), Crc32c(joined, 20));  // len beyond the iov: stops at the end
  EXPECT_EQ(Crc32cIov(iov, 0, 10), Crc32c(nullptr, 0));
  EXPECT_EQ(Crc32cIov(iov, 2, 0), 0u);
}

}  // namespace
}  // namespace nvmeof
