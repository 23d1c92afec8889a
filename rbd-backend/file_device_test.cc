#include "rbd-backend/file_device.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rbd-backend/test_sink.h"

namespace nvmeof {
namespace {

using testing::RunIo;
using testing::TestSink;

constexpr uint64_t kMiB = 1 << 20;

class TempDir {
 public:
  explicit TempDir(const char* base) {
    std::string tmpl = std::string(base) + "/file_device_test.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~TempDir() {
    if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An aligned buffer, so that the same data works with O_DIRECT.
struct Buf {
  explicit Buf(size_t n, int fill = 0) : size(n) {
    void* p = nullptr;
    if (posix_memalign(&p, 4096, n) != 0) std::abort();
    data = static_cast<char*>(p);
    std::memset(data, fill, n);
  }
  ~Buf() { std::free(data); }
  struct iovec iov() const { return {data, size}; }
  char* data;
  size_t size;
};

void Pattern(char* p, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 9)) & 0xff);
}

bool AllZero(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

// Reads the file directly (not through the device).
std::vector<char> PreadFile(const std::string& path, uint64_t off, size_t len) {
  std::vector<char> v(len);
  int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::pread(fd, v.data(), len, static_cast<off_t>(off)), static_cast<ssize_t>(len));
  ::close(fd);
  return v;
}

std::unique_ptr<FileDevice> OpenOrDie(const std::string& path, uint64_t size, bool direct) {
  FileDeviceOptions o;
  o.direct = direct;
  auto r = FileDevice::Open(path, size, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return nullptr;
  return std::move(r.value());
}

class FileDeviceTest : public ::testing::TestWithParam<const char*> {
 protected:
  // Parameter: the directory the backing file lives in (/tmp = ext4 here, /dev/shm = tmpfs,
  // which lacks FALLOC_FL_ZERO_RANGE and exercises the zero-buffer fallback).
  TempDir dir_{GetParam()};
  std::string file_ = dir_.path() + "/dev.img";
  TestSink sink_;
};

TEST_P(FileDeviceTest, CreatesSparseFileAndReportsInfo) {
  ASSERT_FALSE(dir_.path().empty());
  auto dev = OpenOrDie(file_, 16 * kMiB, false);
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->size(), 16 * kMiB);
  EXPECT_EQ(dev->info().kind, "file");
  EXPECT_EQ(dev->info().description, file_);
  EXPECT_TRUE(dev->info().discard_zeroes);
  EXPECT_TRUE(dev->info().volatile_write_cache);
  struct stat st {};
  ASSERT_EQ(::stat(file_.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 16 * kMiB);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 1 * kMiB);  // sparse

  Buf b(8192, 0x55);
  struct iovec v = b.iov();
  EXPECT_EQ(RunIo(sink_, *dev, BdevOp::kRead, 4096, 8192, &v, 1), 0);
  EXPECT_TRUE(AllZero(b.data, 8192));
  EXPECT_EQ(sink_.inline_completions(), 0u);
}

TEST_P(FileDeviceTest, WriteReadRoundTripScatterGather) {
  auto dev = OpenOrDie(file_, 8 * kMiB, false);
  ASSERT_TRUE(dev);
  // Three pieces of odd sizes that add up to 3 blocks.
  Buf a(1000), b(4096), c(12288 - 5096);
  Pattern(a.data, a.size, 1);
  Pattern(b.data, b.size, 2);
  Pattern(c.data, c.size, 3);
  struct iovec w[3] = {a.iov(), b.iov(), c.iov()};
  ASSERT_EQ(RunIo(sink_, *dev, BdevOp::kWrite, 3 * 4096, 12288, w, 3), 0);

  auto disk = PreadFile(file_, 3 * 4096, 12288);
  EXPECT_EQ(std::memcmp(disk.data(), a.data, 1000), 0);
  EXPECT_EQ(std::memcmp(disk.data() + 1000, b.data, 4096), 0);
  EXPECT_EQ(std::memcmp(disk.data() + 5096, c.data, c.size), 0);

  Buf r1(512), r2(12288 - 512);
  struct iovec rv[2] = {r1.iov(), r2.iov()};
  ASSERT_EQ(RunIo(sink_, *dev, BdevOp::kRead, 3 * 4096, 12288, rv, 2), 0);
  EXPECT_EQ(std::memcmp(r1.data, disk.data(), 512), 0);
  EXPECT_EQ(std::memcmp(r2.data, disk.data() + 512, r2.size), 0);
}

TEST_P(FileDeviceTest, FlushAndFuaWrite) {
  auto dev = OpenOrDie(file_, 4 * kMiB, false);
  ASSERT_TRUE(dev);
  Buf b(4096);
  Pattern(b.data, b.size, 9);
  struct iovec v = b.iov();
  EXPECT_EQ(RunIo(sink_, *dev, BdevOp::kWrite, 0, 4096, &v, 1, /*fua=*/true), 0);
  EXPECT_EQ(RunIo(sink_, *dev, BdevOp::kFlush, 0, 0), 0);
  auto disk = PreadFile(file_, 0, 4096);
  EXPECT_EQ(std::memcmp(disk.data(), b.data, 4096), 0);
}

TEST_P(FileDeviceTest, WriteZeroesAndDiscardReadBackZeroes) {
  auto dev = OpenOrDie(file_, 8 * kMiB, false);
  ASSERT_TRUE(dev);
  const size_t len = 3 * kMiB + 4096;  // more than one zero-buffer chunk
  Buf b(len);
  Pattern(b.data, len, 5);
  struct iovec v = b.iov();
  ASSERT_EQ(RunIo(sink_, *dev, BdevOp::kWrite, 0, len, &v, 1), 0);

  ASSERT_EQ(RunIo(sink_, *dev, BdevOp::kWriteZeroes, 4096, len - 8192, nullptr, 0, true), 0);
  auto disk = PreadFile(file_, 0, len);
  EXPECT_EQ(std::memcmp(disk.data(), b.data, 4096), 0);  // untouched head
  EXPECT_TRUE(AllZero(disk.data() + 4096, len - 8192));
  EXPECT_EQ(std::memcmp(disk.data() + len - 4096, b.data + len - 4096, 4096), 0);

  ASSERT_EQ(RunIo(sink_, *dev, BdevOp::kWrite, 0, len, &v, 1), 0);
  ASSERT_EQ(RunIo(sink_, *dev, BdevOp::kDiscard, 8192, 2 * kMiB), 0);
  Buf r(len, 0x77);
  struct iovec rv = r.iov();
  ASSERT_EQ(RunIo(sink_, *dev, BdevOp::kRead, 0, len, &rv, 1), 0);
  EXPECT_EQ(std::memcmp(r.data, b.data, 8192), 0);
  EXPECT_TRUE(AllZero(r.data + 8192, 2 * kMiB));
  EXPECT_EQ(std::memcmp(r.data + 8192 + 2 * kMiB, b.data + 8192 + 2 * kMiB,
                        len - 8192 - 2 * kMiB), 0);
  if (std::string(GetParam()) == "/dev/shm") {
    EXPECT_FALSE(dev->zero_range_supported());
  }
}

TEST_P(FileDeviceTest, CompareMatchAndMismatch) {
  auto dev = OpenOrDie(file_, 4 * kMiB, false);
  ASSERT_TRUE(dev);
  Buf b(16384);
  Pattern(b.data, b.size, 11);
  struct iovec v = b.iov();
  ASSERT_EQ(RunIo(sink_, *dev, BdevOp::kWrite, 65536, 16384, &v, 1), 0);

  // Same data, split across two iovecs.
  struct iovec cmp[2] = {{b.data, 5000}, {b.data + 5000, 16384 - 5000}};
  EXPECT_EQ(RunIo(sink_, *dev, BdevOp::kCompare, 65536, 16384, cmp, 2), 0);
  Buf other(16384);
  std::memcpy(other.data, b.data, 16384);
  other.data[16000] ^= 1;
  struct iovec ov = other.iov();
  EXPECT_EQ(RunIo(sink_, *dev, BdevOp::kCompare, 65536, 16384, &ov, 1), -EILSEQ);
  // A larger compare than any before grows the request's scratch buffer.
  Buf big(256 * 1024);
  struct iovec bv = big.iov();
  EXPECT_EQ(RunIo(sink_, *dev, BdevOp::kCompare, 1 * kMiB, big.size, &bv, 1), 0);  // zeroes
}

TEST_P(FileDeviceTest, OutOfRangeFailsWithErange) {
  auto dev = OpenOrDie(file_, 1 * kMiB, false);
  ASSERT_TRUE(dev);
  Buf b(8192);
  struct iovec v = b.iov();
  EXPECT_EQ(RunIo(sink_, *dev, BdevOp::kWrite, kMiB - 4096, 8192, &v, 1), -ERANGE);
  EXPECT_EQ(RunIo(sink_, *dev, BdevOp::kRead, ~0ull - 100, 4096, &v, 1), -ERANGE);
  EXPECT_EQ(sink_.inline_completions(), 0u);  // even errors complete from another thread
  struct stat st {};
  ASSERT_EQ(::stat(file_.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kMiB);  // not extended
}

TEST_P(FileDeviceTest, SequentialIoDoesNotGrowThePool) {
  auto dev = OpenOrDie(file_, 4 * kMiB, false);
  ASSERT_TRUE(dev);
  Buf b(4096, 3);
  struct iovec v = b.iov();
  for (int i = 0; i < 500; ++i) {
    const BdevOp op = i % 3 == 0 ? BdevOp::kWrite : i % 3 == 1 ? BdevOp::kRead : BdevOp::kCompare;
    ASSERT_EQ(RunIo(sink_, *dev, op, 8192, 4096, &v, 1), 0);
  }
  EXPECT_EQ(dev->request_pool_capacity(), 64u);  // one chunk, allocated by the first I/O
}

TEST_P(FileDeviceTest, ZeroLengthIoCompletes) {
  auto dev = OpenOrDie(file_, 1 * kMiB, false);
  ASSERT_TRUE(dev);
  EXPECT_EQ(RunIo(sink_, *dev, BdevOp::kRead, 0, 0), 0);
  EXPECT_EQ(RunIo(sink_, *dev, BdevOp::kDiscard, 4096, 0), 0);
}

TEST_P(FileDeviceTest, ResizeGrowsAndRefusesShrink) {
  auto dev = OpenOrDie(file_, 1 * kMiB, false);
  ASSERT_TRUE(dev);
  EXPECT_TRUE(dev->resize(3 * kMiB).ok());
  EXPECT_EQ(dev->size(), 3 * kMiB);
  struct stat st {};
  ASSERT_EQ(::stat(file_.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 3 * kMiB);
  Buf b(4096, 1);
  struct iovec v = b.iov();
  EXPECT_EQ(RunIo(sink_, *dev, BdevOp::kWrite, 3 * kMiB - 4096, 4096, &v, 1), 0);
  Status s = dev->resize(kMiB);
  EXPECT_TRUE(s.Is(bdev::errc::kShrinkRefused)) << s.ToString();
  EXPECT_EQ(dev->size(), 3 * kMiB);
}

TEST_P(FileDeviceTest, ReopenKeepsSizeAndData) {
  Buf b(4096);
  Pattern(b.data, b.size, 3);
  {
    auto dev = OpenOrDie(file_, 2 * kMiB, false);
    ASSERT_TRUE(dev);
    struct iovec v = b.iov();
    ASSERT_EQ(RunIo(sink_, *dev, BdevOp::kWrite, 4096, 4096, &v, 1), 0);
  }
  auto dev = OpenOrDie(file_, 0, false);  // size 0: use the existing file as it is
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->size(), 2 * kMiB);
  Buf r(4096);
  struct iovec rv = r.iov();
  ASSERT_EQ(RunIo(sink_, *dev, BdevOp::kRead, 4096, 4096, &rv, 1), 0);
  EXPECT_EQ(std::memcmp(r.data, b.data, 4096), 0);
}

TEST_P(FileDeviceTest, FileShrunkFromOutsideGivesEioNotGarbage) {
  auto dev = OpenOrDie(file_, 1 * kMiB, false);
  ASSERT_TRUE(dev);
  ASSERT_EQ(::truncate(file_.c_str(), 512 * 1024 + 1000), 0);
  Buf r(8192);
  struct iovec rv[2] = {{r.data, 3000}, {r.data + 3000, 8192 - 3000}};
  // Starts before the new EOF: a short read, continued, then EOF.
  EXPECT_EQ(RunIo(sink_, *dev, BdevOp::kRead, 512 * 1024 - 4096, 8192, rv, 2), -EIO);
}

TEST_P(FileDeviceTest, ManyConcurrentIosCompleteOnceWithoutSteadyStateGrowth) {
  auto dev = OpenOrDie(file_, 64 * kMiB, false);
  ASSERT_TRUE(dev);
  constexpr int kThreads = 2, kPerThread = 400, kRounds = 3;
  std::vector<std::unique_ptr<Buf>> bufs;
  std::vector<struct iovec> iovs(kThreads * kPerThread);
  std::vector<BdevIo> ios(kThreads * kPerThread);
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    bufs.push_back(std::make_unique<Buf>(4096, i & 0xff));
    iovs[i] = bufs.back()->iov();
  }
  uint32_t cap_after_first = 0;
  for (int round = 0; round < kRounds; ++round) {
    const uint64_t before = sink_.count();
    sink_.Reset();
    std::vector<std::thread> th;
    for (int t = 0; t < kThreads; ++t) {
      th.emplace_back([&, t] {
        for (int k = 0; k < kPerThread; ++k) {
          const int i = t * kPerThread + k;
          BdevIo& io = ios[i];
          io.op = (round % 2 == 0) ? BdevOp::kWrite : BdevOp::kRead;
          io.offset = uint64_t(i) * 4096;
          io.length = 4096;
          io.iov = &iovs[i];
          io.iovcnt = 1;
          io.done.sink = &sink_;
          io.result = 1;
          dev->submit(&io);
        }
      });
    }
    for (auto& x : th) x.join();
    ASSERT_TRUE(sink_.WaitCount(before + kThreads * kPerThread));
    for (auto& io : ios) ASSERT_EQ(io.result, 0);
    if (round == 0) cap_after_first = dev->request_pool_capacity();
  }
  EXPECT_EQ(sink_.double_completions(), 0u);
  // The pool never holds more requests than were in flight at once (rounded up to a chunk):
  // it grows with the high-water mark, not with the number of I/Os.
  EXPECT_LE(dev->request_pool_capacity(), 832u);
  EXPECT_GE(dev->request_pool_capacity(), cap_after_first);
  for (int i = 0; i < kThreads * kPerThread; ++i)
    EXPECT_EQ(static_cast<unsigned char>(bufs[i]->data[100]), static_cast<unsigned>(i & 0xff));
}

INSTANTIATE_TEST_SUITE_P(Fs, FileDeviceTest, ::testing::Values("/tmp", "/dev/shm"),
                         [](const auto& info) {
                           return std::string(info.param) == "/tmp" ? "tmp" : "shm";
                         });

// O_DIRECT: aligned I/O goes direct, unaligned I/O falls back to buffered I/O (and is counted).
TEST(FileDeviceDirect, AlignedDirectAndUnalignedFallback) {
  TempDir dir("/tmp");
  const std::string file = dir.path() + "/direct.img";
  TestSink sink;
  auto dev = OpenOrDie(file, 8 * kMiB, true);
  ASSERT_TRUE(dev);
  EXPECT_GE(dev->direct_alignment(), 512u);

  Buf a(8192);
  Pattern(a.data, a.size, 21);
  struct iovec av = a.iov();
  ASSERT_EQ(RunIo(sink, *dev, BdevOp::kWrite, 8192, 8192, &av, 1, true), 0);
  EXPECT_EQ(dev->unaligned_ios(), 0u);

  // Unaligned buffer address and length.
  std::vector<char> raw(5000);
  Pattern(raw.data(), raw.size(), 22);
  struct iovec uv = {raw.data() + 1, 4000};
  ASSERT_EQ(RunIo(sink, *dev, BdevOp::kWrite, 8192 + 100, 4000, &uv, 1), 0);
  EXPECT_EQ(dev->unaligned_ios(), 1u);

  // A direct read sees the buffered write (the kernel keeps both descriptors coherent).
  Buf r(16384);
  struct iovec rv = r.iov();
  ASSERT_EQ(RunIo(sink, *dev, BdevOp::kRead, 8192, 16384, &rv, 1), 0);
  EXPECT_EQ(std::memcmp(r.data, a.data, 100), 0);
  EXPECT_EQ(std::memcmp(r.data + 100, raw.data() + 1, 4000), 0);
  EXPECT_EQ(std::memcmp(r.data + 4100, a.data + 4100, 8192 - 4100), 0);
  EXPECT_EQ(dev->unaligned_ios(), 1u);

  struct iovec cv = a.iov();
  EXPECT_EQ(RunIo(sink, *dev, BdevOp::kCompare, 8192, 4096, &cv, 1), -EILSEQ);
  ASSERT_EQ(RunIo(sink, *dev, BdevOp::kWriteZeroes, 8192, 16384), 0);
  ASSERT_EQ(RunIo(sink, *dev, BdevOp::kRead, 8192, 16384, &rv, 1), 0);
  EXPECT_TRUE(AllZero(r.data, 16384));
}

TEST(FileDeviceOpen, ClearErrors) {
  TempDir dir("/tmp");
  auto r = FileDevice::Open(dir.path() + "/missing.img", 0, {});
  EXPECT_TRUE(r.status().Is(bdev::errc::kFileNotFound)) << r.status().ToString();
  EXPECT_NE(r.status().message().find("does not exist"), std::string::npos);
  r = FileDevice::Open(dir.path(), 0, {});
  EXPECT_TRUE(r.status().Is(bdev::errc::kFileUnusable)) << r.status().ToString();
  r = FileDevice::Open("/nonexistent-dir/x.img", kMiB, {});
  EXPECT_TRUE(r.status().Is(bdev::errc::kSystem)) << r.status().ToString();
  EXPECT_EQ(r.status().os_errno(), ENOENT) << r.status().ToString();
  // Through the generic entry point of block_device.h.
  auto g = OpenFileDevice(dir.path() + "/g.img", kMiB, false);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g.value()->size(), kMiB);
}

}  // namespace
}  // namespace nvmeof
