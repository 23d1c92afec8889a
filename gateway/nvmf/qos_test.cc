// The GCRA limiter on a synthetic clock: deterministic, no sleeping.
#include "gateway/nvmf/qos.h"

#include <gtest/gtest.h>

namespace nvmeof {
namespace {

// Offers `offered_per_sec` I/Os of `bytes` for `seconds` of simulated time and returns how
// many were admitted.
uint64_t Simulate(QosLimiters& q, bool rd, uint64_t bytes, uint64_t offered_per_sec, int seconds) {
  uint64_t admitted = 0;
  int64_t step = 1'000'000'000 / static_cast<int64_t>(offered_per_sec);
  int64_t t = 1'000'000'000;
  for (uint64_t i = 0; i < offered_per_sec * seconds; i++, t += step) {
    if (q.Admit(rd, !rd, bytes, t) == 0) admitted++;
  }
  return admitted;
}

TEST(QosTest, UnlimitedAdmitsEverything) {
  QosLimiters q;
  EXPECT_EQ(Simulate(q, true, 4096, 100000, 2), 200000u);
}

TEST(QosTest, IopsLimitHolds) {
  QosLimiters q;
  q.rw_ios.Set(5000);
  uint64_t n = Simulate(q, true, 4096, 50000, 10);
  EXPECT_NEAR(static_cast<double>(n) / 10, 5000, 5000 * 0.02);
}

TEST(QosTest, BandwidthLimitsPerDirection) {
  QosLimiters q;
  q.w_bytes.Set(10ull << 20);  // 10 MiB/s for writes only
  uint64_t writes = Simulate(q, false, 128 << 10, 1000, 10);  // 125 MiB/s offered
  EXPECT_NEAR(static_cast<double>(writes) * (128 << 10) / 10 / (1 << 20), 10.0, 0.2);
  uint64_t reads = Simulate(q, true, 128 << 10, 1000, 1);
  EXPECT_EQ(reads, 1000u);  // reads are not limited
}

TEST(QosTest, TightestLimitWins) {
  QosLimiters q;
  q.rw_ios.Set(100000);
  q.rw_bytes.Set(4ull << 20);  // 4 MiB/s = 1024 x 4 KiB
  uint64_t n = Simulate(q, true, 4096, 20000, 5);
  EXPECT_NEAR(static_cast<double>(n) / 5, 1024, 1024 * 0.05);
}

TEST(QosTest, WaitTimeReported) {
  QosLimiters q;
  q.rw_ios.Set(10);  // 100 ms per I/O
  int64_t t = 1'000'000'000;
  int admitted = 0;
  while (q.Admit(true, false, 0, t) == 0) admitted++;  // the burst allowance
  EXPECT_GE(admitted, 1);
  int64_t wait = q.Admit(true, false, 0, t);
  EXPECT_GT(wait, 0);
  EXPECT_LE(wait, 100'000'000);
  EXPECT_EQ(q.Admit(true, false, 0, t + wait), 0);
}

}  // namespace
}  // namespace nvmeof
