// Connection I/O statistics: size buckets, the min/max/sum of each time, the reset epoch and
// the sum over queues.
#include "gateway/nvmf/conn_io_stats.h"

#include <gtest/gtest.h>

namespace nvmeof {
namespace {

using S = ConnIoSnapshot;

TEST(ConnIoStatsTest, SizeBuckets) {
  EXPECT_EQ(S::Bucket(0), 0u);
  EXPECT_EQ(S::Bucket(512), 0u);
  EXPECT_EQ(S::Bucket(2048), 0u);
  EXPECT_EQ(S::Bucket(2049), 1u);
  EXPECT_EQ(S::Bucket(4096), 1u);
  EXPECT_EQ(S::Bucket(8192), 2u);
  EXPECT_EQ(S::Bucket(128 * 1024), 6u);
  EXPECT_EQ(S::Bucket(1024 * 1024), 9u);
  EXPECT_EQ(S::Bucket(4 * 1024 * 1024), 11u);
  EXPECT_EQ(S::Bucket(64 * 1024 * 1024), 11u);  // the last bucket takes the rest
  for (size_t i = 0; i < S::kBuckets; i++) {
    EXPECT_EQ(S::Bucket(S::BucketBytes(i)), i);
    EXPECT_EQ(S::Bucket(S::BucketBytes(i) + 1), std::min(i + 1, S::kBuckets - 1));
  }
  EXPECT_EQ(S::BucketBytes(0) / 1024, 2u);
  EXPECT_EQ(S::BucketBytes(S::kBuckets - 1) / 1024, 4096u);
}

TEST(ConnIoStatsTest, CountsTimesIntoTheRightBucket) {
  QueueIoStats q;
  q.Record(0, S::kRead, 4096, {100, 40, 10, 0});
  q.Record(0, S::kRead, 4096, {300, 60, 20, 5});
  q.Record(0, S::kWrite, 4096, {500, 70, 30, 0});
  q.Record(0, S::kWrite, 65536, {900, 80, 40, 0});
  S s;
  q.AddTo(0, &s);
  EXPECT_EQ(s.TotalIos(), 4u);
  const LatencyGroup& r = s.g[S::kRead][1];
  EXPECT_EQ(r.count, 2u);
  EXPECT_EQ(r.total.min, 100u);
  EXPECT_EQ(r.total.max, 300u);
  EXPECT_EQ(r.total.Mean(r.count), 200u);
  EXPECT_EQ(r.bdev.min, 40u);
  EXPECT_EQ(r.bdev.max, 60u);
  EXPECT_EQ(r.net.sum, 30u);
  EXPECT_EQ(r.qos.min, 0u);
  EXPECT_EQ(r.qos.max, 5u);
  EXPECT_EQ(s.g[S::kWrite][1].count, 1u);
  EXPECT_EQ(s.g[S::kWrite][5].count, 1u);
  EXPECT_EQ(s.g[S::kWrite][5].total.min, 900u);
  for (size_t i = 0; i < S::kBuckets; i++) {
    EXPECT_EQ(s.g[S::kRead][i].count, i == 1 ? 2u : 0u) << i;
    EXPECT_EQ(s.g[S::kWrite][i].count, (i == 1 || i == 5) ? 1u : 0u) << i;
  }
}

TEST(ConnIoStatsTest, ResetByEpoch) {
  QueueIoStats q;
  q.Record(0, S::kRead, 4096, {100, 0, 0, 0});
  S before;
  q.AddTo(0, &before);
  EXPECT_EQ(before.TotalIos(), 1u);
  // The reader moved the epoch on: the queue counts for nothing until it records again,
  // then it starts from zero.
  S stale;
  q.AddTo(1, &stale);
  EXPECT_EQ(stale.TotalIos(), 0u);
  q.Record(1, S::kRead, 4096, {700, 0, 0, 0});
  S after;
  q.AddTo(1, &after);
  EXPECT_EQ(after.TotalIos(), 1u);
  EXPECT_EQ(after.g[S::kRead][1].total.min, 700u);
  EXPECT_EQ(after.g[S::kRead][1].total.max, 700u);
}

TEST(ConnIoStatsTest, SumOverQueues) {
  QueueIoStats a, b;
  a.Record(0, S::kWrite, 8192, {50, 0, 0, 0});
  b.Record(0, S::kWrite, 8192, {20, 0, 0, 0});
  b.Record(0, S::kWrite, 8192, {90, 0, 0, 0});
  S s;
  a.AddTo(0, &s);
  b.AddTo(0, &s);
  const LatencyGroup& w = s.g[S::kWrite][2];
  EXPECT_EQ(w.count, 3u);
  EXPECT_EQ(w.total.min, 20u);
  EXPECT_EQ(w.total.max, 90u);
  EXPECT_EQ(w.total.sum, 160u);
}

}  // namespace
}  // namespace nvmeof
