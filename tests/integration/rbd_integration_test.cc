// Integration tests of the RBD backend against a real single-node Ceph cluster.
//
// The cluster comes from tests/tools/ceph-local.sh: ctest starts it as a fixture and passes
// CEPH_LOCAL_DIR / CEPH_LOCAL_SH; run by hand without them, the binary starts (and destroys)
// its own cluster in a temporary directory.
//
// Some tests stop and restart the OSD or blocklist clients: they assume nobody else uses the
// cluster (ctest runs this binary RUN_SERIAL).
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rbd-backend/rados_pool.h"
#include "rbd-backend/rbd_device.h"
#include "rbd-backend/test_sink.h"

namespace nvmeof {
namespace {

using Clock = std::chrono::steady_clock;
using testing::RunIo;
using testing::TestSink;
constexpr uint64_t kMiB = 1 << 20;

double Secs(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Runs a shell command; returns its exit status and (optionally) its stdout.
int Sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  std::string o;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) o.append(buf, n);
  const int st = ::pclose(p);
  if (out != nullptr) *out = o;
  const int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (rc != 0) std::fprintf(stderr, "[sh] `%s` -> %d:\n%s\n", cmd.c_str(), rc, o.c_str());
  return rc;
}

// The cluster, plus an admin client for checks and fault injection.
class Cluster : public ::testing::Environment {
 public:
  static Cluster* Get() { return instance_; }

  void SetUp() override {
    instance_ = this;
    const char* d = std::getenv("CEPH_LOCAL_DIR");
    const char* s = std::getenv("CEPH_LOCAL_SH");
    script_ = s ? s : NVMEOF_CEPH_LOCAL_SH;
    if (d != nullptr && *d != '\0') {
      dir_ = d;
    } else {
      char tmpl[] = "/tmp/rbd_integration.XXXXXX";
      ASSERT_NE(mkdtemp(tmpl), nullptr);
      dir_ = std::string(tmpl) + "/cluster";
      own_ = true;
      const auto t0 = Clock::now();
      ASSERT_EQ(Sh(script_ + " start " + dir_), 0) << "cannot start a Ceph cluster";
      std::printf("[cluster] started in %.1f s at %s\n", Secs(t0), dir_.c_str());
    }
    conf_ = dir_ + "/ceph.conf";
    ASSERT_EQ(rados_create(&admin_, "admin"), 0);
    ASSERT_EQ(rados_conf_read_file(admin_, conf_.c_str()), 0);
    rados_conf_set(admin_, "client_mount_timeout", "15");
    ASSERT_EQ(rados_connect(admin_), 0) << "cluster at " << dir_ << " not reachable";
    ASSERT_EQ(rados_ioctx_create(admin_, "rbd", &io_), 0);
    char buf[512];
    ASSERT_EQ(rados_conf_get(admin_, "mon_host", buf, sizeof(buf)), 0);
    mon_host_ = buf;
  }

  void TearDown() override {
    if (io_ != nullptr) rados_ioctx_destroy(io_);
    if (admin_ != nullptr) rados_shutdown(admin_);
    if (own_) Sh(script_ + " destroy " + dir_);
  }

  const std::string& dir() const { return dir_; }
  const std::string& conf() const { return conf_; }
  const std::string& mon_host() const { return mon_host_; }
  rados_ioctx_t io() const { return io_; }
  rados_t admin() const { return admin_; }
  std::string cli() const { return "rbd -c " + conf_ + " "; }
  int Local(const std::string& args, std::string* out = nullptr) {
    return Sh(script_ + " " + args, out);
  }

  int MonCommand(const std::string& json, std::string* status = nullptr) {
    const char* cmds[] = {json.c_str()};
    char *outbuf = nullptr, *outs = nullptr;
    size_t outbuf_len = 0, outs_len = 0;
    const int r = rados_mon_command(admin_, cmds, 1, "", 0, &outbuf, &outbuf_len, &outs, &outs_len);
    if (status != nullptr) *status = std::string(outs ? outs : "", outs_len);
    rados_buffer_free(outbuf);
    rados_buffer_free(outs);
    return r;
  }
  int Blocklist(const std::string& addr) {
    // expire must be a JSON float (600 -> EINVAL "bad or missing field 'expire'").
    return MonCommand(R"({"prefix": "osd blocklist", "blocklistop": "add", "addr": ")" + addr +
                      R"(", "expire": 600.0})");
  }
  int Unblocklist(const std::string& addr) {
    return MonCommand(R"({"prefix": "osd blocklist", "blocklistop": "rm", "addr": ")" + addr +
                      R"("})");
  }

  // Creates rbd/<name> (removing an old one first).
  void CreateImage(const std::string& name, uint64_t size) {
    rbd_remove(io_, name.c_str());
    int order = 22;  // 4 MiB objects
    ASSERT_EQ(rbd_create2(io_, name.c_str(), size, RBD_FEATURES_DEFAULT, &order), 0)
        << "rbd_create2 " << name;
  }

  std::string StopOsd() {
    const auto t0 = Clock::now();
    EXPECT_EQ(Local("stop " + dir_ + " osd.0"), 0);
    char b[64];
    std::snprintf(b, sizeof(b), "%.2f", Secs(t0));
    return b;
  }
  std::string StartCluster() {
    const auto t0 = Clock::now();
    EXPECT_EQ(Local("start " + dir_), 0);
    char b[64];
    std::snprintf(b, sizeof(b), "%.2f", Secs(t0));
    return b;
  }

 private:
  static inline Cluster* instance_ = nullptr;
  std::string dir_, conf_, script_, mon_host_;
  bool own_ = false;
  rados_t admin_ = nullptr;
  rados_ioctx_t io_ = nullptr;
};

RadosClusterConfig BaseConfig() {
  RadosClusterConfig c;
  c.name = "it";
  c.conf_path = Cluster::Get()->conf();
  c.connect_timeout_s = 5;
  return c;
}

std::shared_ptr<RadosClusterPool> MakePool(RadosClusterConfig c = BaseConfig()) {
  auto p = RadosClusterPool::Create(std::move(c));
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? p.value() : nullptr;
}

std::unique_ptr<BlockDevice> Open(const std::shared_ptr<RadosClusterPool>& pool,
                                  const std::string& image, bool create = false,
                                  uint64_t size = 0) {
  RbdSpec s;
  s.pool_name = "rbd";
  s.image_name = image;
  s.create = create;
  s.size_bytes = size;
  auto d = OpenRbdDevice(pool, s);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return d.ok() ? std::move(d.value()) : nullptr;
}

RbdDevice* Rbd(const std::unique_ptr<BlockDevice>& d) { return dynamic_cast<RbdDevice*>(d.get()); }

std::vector<char> Pattern(size_t n, uint64_t seed) {
  std::vector<char> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 9)) & 0xff);
  return v;
}

bool AllZero(const std::vector<char>& v, size_t from = 0, size_t len = SIZE_MAX) {
  len = std::min(len, v.size() - from);
  for (size_t i = from; i < from + len; ++i)
    if (v[i] != 0) return false;
  return true;
}

int32_t Write(TestSink& sink, BlockDevice& d, uint64_t off, const std::vector<char>& data,
              bool fua = false) {
  struct iovec v = {const_cast<char*>(data.data()), data.size()};
  return RunIo(sink, d, BdevOp::kWrite, off, data.size(), &v, 1, fua);
}

int32_t Read(TestSink& sink, BlockDevice& d, uint64_t off, std::vector<char>* data) {
  struct iovec v = {data->data(), data->size()};
  return RunIo(sink, d, BdevOp::kRead, off, data->size(), &v, 1);
}

// Opens an image of the admin client for direct librbd access.
struct DirectImage {
  explicit DirectImage(const std::string& name) {
    EXPECT_EQ(rbd_open(Cluster::Get()->io(), name.c_str(), &img, nullptr), 0);
  }
  ~DirectImage() {
    if (img != nullptr) rbd_close(img);
  }
  rbd_image_t img = nullptr;
};

// ---------------------------------------------------------------- open errors

struct ErrCase {
  Status status;
  double secs;
};

ErrCase OpenWith(RadosClusterConfig cfg, RbdSpec spec) {
  const auto t0 = Clock::now();
  auto pool = RadosClusterPool::Create(std::move(cfg));
  if (!pool.ok()) return {pool.status(), Secs(t0)};
  auto d = OpenRbdDevice(pool.value(), spec);
  return {d.ok() ? Status::OK() : d.status(), Secs(t0)};
}

RbdSpec Spec(const std::string& pool, const std::string& image, const std::string& ns = "") {
  RbdSpec s;
  s.pool_name = pool;
  s.image_name = image;
  s.rados_namespace = ns;
  return s;
}

TEST(RbdOpenErrors, MissingPool) {
  auto e = OpenWith(BaseConfig(), Spec("nosuchpool", "img"));
  std::printf("[timing] missing pool: %.3f s: %s\n", e.secs, e.status.ToString().c_str());
  EXPECT_TRUE(e.status.Is(bdev::errc::kPoolNotFound)) << e.status.ToString();
  EXPECT_NE(e.status.message().find("pool 'nosuchpool' does not exist"), std::string::npos);
  EXPECT_LT(e.secs, 15);
}

TEST(RbdOpenErrors, MissingImage) {
  auto e = OpenWith(BaseConfig(), Spec("rbd", "no-such-image"));
  std::printf("[timing] missing image: %.3f s: %s\n", e.secs, e.status.ToString().c_str());
  EXPECT_TRUE(e.status.Is(bdev::errc::kImageNotFound)) << e.status.ToString();
  EXPECT_NE(e.status.message().find("image 'rbd/no-such-image' does not exist"), std::string::npos);
  EXPECT_LT(e.secs, 15);
}

TEST(RbdOpenErrors, MissingNamespace) {
  auto e = OpenWith(BaseConfig(), Spec("rbd", "img", "no-such-ns"));
  EXPECT_TRUE(e.status.Is(bdev::errc::kRadosNamespaceNotFound)) << e.status.ToString();
  EXPECT_NE(e.status.message().find("Namespace no-such-ns doesn't exist in pool rbd"), std::string::npos)
      << e.status.ToString();
}

TEST(RbdOpenErrors, CreateWithoutSize) {
  RbdSpec s = Spec("rbd", "it-create-nosize");
  s.create = true;
  auto e = OpenWith(BaseConfig(), s);
  EXPECT_TRUE(e.status.Is(bdev::errc::kImageSizeMissing)) << e.status.ToString();
}

TEST(RbdOpenErrors, WrongKey) {
  Cluster* c = Cluster::Get();
  const std::string kr = c->dir() + "/wrong.keyring";
  std::string key;
  ASSERT_EQ(Sh("ceph-authtool --gen-print-key", &key), 0);
  std::ofstream(kr) << "[client.admin]\n\tkey = " << key;  // well-formed, but not the key
  RadosClusterConfig cfg = BaseConfig();
  cfg.keyring = kr;
  auto e = OpenWith(cfg, Spec("rbd", "img"));
  std::printf("[timing] wrong key: %.3f s: %s\n", e.secs, e.status.ToString().c_str());
  EXPECT_TRUE(e.status.Is(bdev::errc::kAuthenticationFailed)) << e.status.ToString();
  EXPECT_NE(e.status.message().find("authentication as client.admin"), std::string::npos);
  EXPECT_LT(e.secs, 15);
}

TEST(RbdOpenErrors, UnknownUser) {
  RadosClusterConfig cfg = BaseConfig();
  cfg.client_id = "nosuchuser";
  auto e = OpenWith(cfg, Spec("rbd", "img"));
  EXPECT_TRUE(e.status.Is(bdev::errc::kAuthenticationFailed)) << e.status.ToString();
  EXPECT_LT(e.secs, 15);
}

TEST(RbdOpenErrors, CapsOnAnotherPoolOnly) {
  Cluster* c = Cluster::Get();
  c->CreateImage("it-caps", 16 * kMiB);
  std::string kr;
  ASSERT_EQ(c->Local("user " + c->dir() + " itlimited otherpool", &kr), 0);
  while (!kr.empty() && (kr.back() == '\n')) kr.pop_back();
  RadosClusterConfig cfg = BaseConfig();
  cfg.client_id = "itlimited";
  cfg.keyring = kr;
  auto e = OpenWith(cfg, Spec("rbd", "it-caps"));
  std::printf("[timing] no caps on pool: %.3f s: %s\n", e.secs, e.status.ToString().c_str());
  EXPECT_TRUE(e.status.Is(bdev::errc::kPermissionDenied)) << e.status.ToString();
  EXPECT_NE(e.status.message().find("permission denied"), std::string::npos);
  EXPECT_LT(e.secs, 15);
}

TEST(RbdOpenErrors, UnreachableMonitor) {
  RadosClusterConfig cfg = BaseConfig();
  // A closed port on loopback (connection refused) and an unroutable TEST-NET address
  // (SYN into the void): both must give up after connect_timeout_s.
  for (const char* mon : {"v1:127.0.0.1:9", "v1:192.0.2.1:6789"}) {
    cfg.mon_host = mon;
    cfg.connect_timeout_s = 3;
    auto e = OpenWith(cfg, Spec("rbd", "img"));
    std::printf("[timing] unreachable mon %s: %.3f s: %s\n", mon, e.secs,
                e.status.ToString().c_str());
    EXPECT_TRUE(e.status.Is(bdev::errc::kTimedOut)) << e.status.ToString();
    EXPECT_NE(e.status.message().find(mon), std::string::npos) << e.status.message();
    EXPECT_LT(e.secs, 15);
  }
}

TEST(RbdOpenErrors, ProbeChecksTheCluster) {
  auto pool = MakePool();
  ASSERT_TRUE(pool);
  EXPECT_TRUE(pool->Probe().ok());
  EXPECT_TRUE(pool->connections().empty());  // the probe's connection is closed again
}

// ---------------------------------------------------------------- data path

TEST(RbdDevice, CreateOpenAndInfo) {
  auto pool = MakePool();
  rbd_remove(Cluster::Get()->io(), "it-create");
  auto d = Open(pool, "it-create", /*create=*/true, 64 * kMiB);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->size(), 64 * kMiB);
  EXPECT_EQ(d->info().kind, "rbd");
  EXPECT_EQ(d->info().description, "rbd/it-create");
  EXPECT_EQ(d->info().optimal_io_boundary, 4 * kMiB);
  EXPECT_FALSE(d->info().discard_zeroes);
  EXPECT_FALSE(d->info().volatile_write_cache);  // rbd_cache = false
  EXPECT_TRUE(d->healthy());
  // create=true on an existing image opens it as it is.
  auto d2 = Open(pool, "it-create", true, 128 * kMiB);
  ASSERT_TRUE(d2);
  EXPECT_EQ(d2->size(), 64 * kMiB);
  uint64_t size = 0;
  DirectImage di("it-create");
  ASSERT_EQ(rbd_get_size(di.img, &size), 0);
  EXPECT_EQ(size, 64 * kMiB);
}

TEST(RbdDevice, CacheOnMeansVolatileWriteCacheAndFuaFlushes) {
  Cluster::Get()->CreateImage("it-cache", 16 * kMiB);
  RadosClusterConfig cfg = BaseConfig();
  cfg.rbd_cache = true;
  auto pool = MakePool(cfg);
  auto d = Open(pool, "it-cache");
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->info().volatile_write_cache);
  TestSink sink;
  auto data = Pattern(8192, 4);
  EXPECT_EQ(Write(sink, *d, 4096, data, /*fua=*/true), 0);
  EXPECT_EQ(RunIo(sink, *d, BdevOp::kFlush, 0, 0), 0);
  // Durable: another client sees it.
  DirectImage di("it-cache");
  std::vector<char> got(8192);
  ASSERT_EQ(rbd_read(di.img, 4096, got.size(), got.data()), 8192);
  EXPECT_EQ(got, data);
}

TEST(RbdDevice, ReadWriteMatchesDirectLibrbdAndExport) {
  Cluster* c = Cluster::Get();
  c->CreateImage("it-data", 32 * kMiB);
  auto pool = MakePool();
  auto d = Open(pool, "it-data");
  ASSERT_TRUE(d);
  TestSink sink;

  // Backend -> librbd: a scatter-gather write across an object boundary.
  auto a = Pattern(3000, 1), b = Pattern(8192 - 3000 + 4096, 2);
  struct iovec wv[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  const uint64_t off = 4 * kMiB - 4096;
  ASSERT_EQ(RunIo(sink, *d, BdevOp::kWrite, off, 12288, wv, 2), 0);
  std::vector<char> expect(a);
  expect.insert(expect.end(), b.begin(), b.end());
  {
    DirectImage di("it-data");
    std::vector<char> got(12288);
    ASSERT_EQ(rbd_read(di.img, off, got.size(), got.data()), 12288);
    EXPECT_EQ(got, expect);

    // librbd -> backend (the exclusive lock moves between the two clients).
    auto e = Pattern(65536, 3);
    ASSERT_EQ(rbd_write(di.img, 10 * kMiB, e.size(), e.data()), 65536);
    std::vector<char> r1(1000), r2(65536 - 1000);
    struct iovec rv[2] = {{r1.data(), r1.size()}, {r2.data(), r2.size()}};
    ASSERT_EQ(RunIo(sink, *d, BdevOp::kRead, 10 * kMiB, 65536, rv, 2), 0);
    r1.insert(r1.end(), r2.begin(), r2.end());
    EXPECT_EQ(r1, e);
  }
  // `rbd export` sees what the backend wrote.
  const std::string file = c->dir() + "/it-data.export";
  ASSERT_EQ(Sh(c->cli() + "export rbd/it-data " + file + " --no-progress"), 0);
  std::ifstream f(file, std::ios::binary);
  f.seekg(static_cast<std::streamoff>(off));
  std::vector<char> exported(12288);
  f.read(exported.data(), static_cast<std::streamsize>(exported.size()));
  EXPECT_EQ(exported, expect);
  std::remove(file.c_str());
  EXPECT_EQ(sink.inline_completions(), 0u);
}

TEST(RbdDevice, FlushFuaWriteZeroesDiscardCompare) {
  Cluster::Get()->CreateImage("it-ops", 32 * kMiB);
  auto pool = MakePool();
  auto d = Open(pool, "it-ops");
  ASSERT_TRUE(d);
  TestSink sink;
  EXPECT_EQ(RunIo(sink, *d, BdevOp::kFlush, 0, 0), 0);

  // Write zeroes in the middle of written data (not object aligned): reads back zeroes.
  auto data = Pattern(64 * 1024, 7);
  ASSERT_EQ(Write(sink, *d, 0, data, /*fua=*/true), 0);
  ASSERT_EQ(RunIo(sink, *d, BdevOp::kWriteZeroes, 4096, 8192), 0);
  std::vector<char> got(64 * 1024);
  ASSERT_EQ(Read(sink, *d, 0, &got), 0);
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + 4096, data.begin()));
  EXPECT_TRUE(AllZero(got, 4096, 8192));
  EXPECT_TRUE(std::equal(got.begin() + 12288, got.end(), data.begin() + 12288));

  // Compare.
  std::vector<char> cmp(got.begin(), got.begin() + 16384);
  struct iovec cv = {cmp.data(), cmp.size()};
  EXPECT_EQ(RunIo(sink, *d, BdevOp::kCompare, 0, cmp.size(), &cv, 1), 0);
  cmp[5000] ^= 0x10;
  EXPECT_EQ(RunIo(sink, *d, BdevOp::kCompare, 0, cmp.size(), &cv, 1), -EILSEQ);

  // Discard of a whole object reads back zeroes; a partial discard succeeds but librbd 16
  // leaves the data (rbd_skip_partial_discard): hence discard_zeroes = false.
  auto obj = Pattern(4 * kMiB, 8);
  ASSERT_EQ(Write(sink, *d, 8 * kMiB, obj), 0);
  ASSERT_EQ(RunIo(sink, *d, BdevOp::kDiscard, 8 * kMiB, 4 * kMiB), 0);
  std::vector<char> back(4 * kMiB);
  ASSERT_EQ(Read(sink, *d, 8 * kMiB, &back), 0);
  EXPECT_TRUE(AllZero(back));
  ASSERT_EQ(RunIo(sink, *d, BdevOp::kDiscard, 16384, 4096), 0);
  std::vector<char> partial(4096);
  ASSERT_EQ(Read(sink, *d, 16384, &partial), 0);
  std::printf("[measured] 4 KiB discard inside an object: data %s\n",
              AllZero(partial) ? "reads back as zeroes" : "stays");

  // Out of range and zero length.
  std::vector<char> small(4096);
  EXPECT_EQ(Write(sink, *d, 32 * kMiB - 2048, small), -ERANGE);
  EXPECT_EQ(RunIo(sink, *d, BdevOp::kRead, 0, 0), 0);
  EXPECT_EQ(sink.inline_completions(), 0u);
}

TEST(RbdDevice, ManyConcurrentIos) {
  Cluster::Get()->CreateImage("it-conc", 64 * kMiB);
  auto pool = MakePool();
  auto d = Open(pool, "it-conc");
  ASSERT_TRUE(d);
  TestSink sink;
  constexpr int kIos = 256;
  std::vector<std::vector<char>> bufs;
  std::vector<struct iovec> iovs(kIos);
  std::vector<BdevIo> ios(kIos);
  for (int i = 0; i < kIos; ++i) {
    bufs.push_back(Pattern(4096, static_cast<uint64_t>(i)));
    iovs[i] = {bufs[i].data(), 4096};
  }
  const auto t0 = Clock::now();
  for (int round = 0; round < 4; ++round) {
    sink.Reset();
    const uint64_t before = sink.count();
    for (int i = 0; i < kIos; ++i) {
      BdevIo& io = ios[i];
      io.op = round % 2 == 0 ? BdevOp::kWrite : BdevOp::kCompare;
      io.offset = uint64_t(i) * 256 * 1024;
      io.length = 4096;
      io.iov = &iovs[i];
      io.iovcnt = 1;
      io.done.sink = &sink;
      io.result = 1;
      d->submit(&io);
    }
    ASSERT_TRUE(sink.WaitCount(before + kIos));
    for (auto& io : ios) ASSERT_EQ(io.result, 0);
  }
  std::printf("[timing] 4 x %d concurrent 4 KiB I/Os: %.3f s\n", kIos, Secs(t0));
  EXPECT_EQ(sink.double_completions(), 0u);
}

TEST(RbdDevice, ConnectionPooling) {
  Cluster* c = Cluster::Get();
  for (int i = 0; i < 3; ++i) c->CreateImage("it-pool" + std::to_string(i), 8 * kMiB);
  RadosClusterConfig cfg = BaseConfig();
  cfg.bdevs_per_cluster = 2;
  auto pool = MakePool(cfg);
  std::vector<std::unique_ptr<BlockDevice>> devs;
  for (int i = 0; i < 3; ++i) devs.push_back(Open(pool, "it-pool" + std::to_string(i)));
  auto conns = pool->connections();
  ASSERT_EQ(conns.size(), 2u);
  EXPECT_EQ(conns[0].images + conns[1].images, 3u);
  EXPECT_EQ(Rbd(devs[0])->client_address(), Rbd(devs[1])->client_address());
  EXPECT_NE(Rbd(devs[0])->client_address(), Rbd(devs[2])->client_address());
  TestSink sink;
  for (auto& d : devs) EXPECT_EQ(Write(sink, *d, 0, Pattern(4096, 1)), 0);
  devs.clear();
  EXPECT_TRUE(pool->connections().empty());
}

// ---------------------------------------------------------------- resize

TEST(RbdDevice, ResizeOwnAndFromOutside) {
  Cluster* c = Cluster::Get();
  c->CreateImage("it-resize", 16 * kMiB);
  auto pool = MakePool();
  auto d = Open(pool, "it-resize");
  ASSERT_TRUE(d);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> seen;
  d->set_resize_callback([&](uint64_t s) {
    std::lock_guard<std::mutex> lk(mu);
    seen.push_back(s);
    cv.notify_all();
  });

  ASSERT_TRUE(d->resize(32 * kMiB).ok());
  EXPECT_EQ(d->size(), 32 * kMiB);
  EXPECT_TRUE(d->resize(8 * kMiB).Is(bdev::errc::kShrinkRefused));
  TestSink sink;
  EXPECT_EQ(Write(sink, *d, 32 * kMiB - 4096, Pattern(4096, 5)), 0);

  // From outside, with the rbd CLI.
  const auto t0 = Clock::now();
  ASSERT_EQ(Sh(c->cli() + "resize --size 48M rbd/it-resize --no-progress"), 0);
  {
    std::unique_lock<std::mutex> lk(mu);
    EXPECT_TRUE(cv.wait_for(lk, std::chrono::seconds(5), [&] {
      return std::find(seen.begin(), seen.end(), 48 * kMiB) != seen.end();
    }));
  }
  std::printf("[timing] external rbd resize -> callback: %.3f s (incl. the CLI)\n", Secs(t0));
  EXPECT_EQ(d->size(), 48 * kMiB);
  EXPECT_EQ(Write(sink, *d, 48 * kMiB - 4096, Pattern(4096, 6)), 0);
  {
    std::lock_guard<std::mutex> lk(mu);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 32 * kMiB), 0);  // own resize: no callback
  }
}

// A read-only image gets no header notifications (librbd registers no header watch for a
// read-only open, and its size stays the one it opened with): the device reads the size
// from the header object every read_only_size_check_s, takes a growth by opening the image
// again, and refresh_size() does the same at once.
TEST(RbdDevice, ReadOnlyFollowsResizeFromOutside) {
  Cluster* c = Cluster::Get();
  c->CreateImage("it-ro-resize", 16 * kMiB);
  RadosClusterConfig cfg = BaseConfig();
  cfg.read_only_size_check_s = 1;
  auto pool = MakePool(cfg);
  RbdSpec s = Spec("rbd", "it-ro-resize");
  s.read_only = true;
  auto opened = OpenRbdDevice(pool, s);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<BlockDevice> d = std::move(opened.value());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> seen;
  d->set_resize_callback([&](uint64_t sz) {
    std::lock_guard<std::mutex> lk(mu);
    seen.push_back(sz);
    cv.notify_all();
  });
  auto grow = [&](uint64_t to) {
    DirectImage img("it-ro-resize");  // librbd, read-write
    ASSERT_EQ(rbd_resize(img.img, to), 0);
  };
  TestSink sink;
  std::vector<char> buf(4096);
  EXPECT_NE(Read(sink, *d, 32 * kMiB - 4096, &buf), 0);  // beyond the end

  grow(32 * kMiB);
  const auto t0 = Clock::now();
  {
    std::unique_lock<std::mutex> lk(mu);
    EXPECT_TRUE(cv.wait_for(lk, std::chrono::seconds(60), [&] {
      return std::find(seen.begin(), seen.end(), 32 * kMiB) != seen.end();
    }));
  }
  std::printf("[timing] librbd resize -> callback (read-only image): %.3f s\n", Secs(t0));
  EXPECT_EQ(d->size(), 32 * kMiB);
  EXPECT_EQ(Read(sink, *d, 32 * kMiB - 4096, &buf), 0);  // the reopened image reads the new part

  // Auto-resize off: refresh_size() takes the growth at once.
  d->set_auto_resize(false);
  grow(48 * kMiB);
  ASSERT_TRUE(d->refresh_size().ok());
  EXPECT_EQ(d->size(), 48 * kMiB);
  EXPECT_EQ(Read(sink, *d, 48 * kMiB - 4096, &buf), 0);
}

// ---------------------------------------------------------------- faults

TEST(RbdFaults, BlocklistedClientFailsFastAndStaysUnhealthyWithoutRecovery) {
  Cluster* c = Cluster::Get();
  c->CreateImage("it-bl1", 16 * kMiB);
  RadosClusterConfig cfg = BaseConfig();
  cfg.recover_blocklisted = false;
  auto pool = MakePool(cfg);
  auto d = Open(pool, "it-bl1");
  ASSERT_TRUE(d);
  TestSink sink;
  ASSERT_EQ(Write(sink, *d, 0, Pattern(4096, 1)), 0);
  const std::string addr = Rbd(d)->client_address();
  ASSERT_EQ(c->Blocklist(addr), 0);
  const auto t0 = Clock::now();
  int32_t r = 0;
  // The client learns about the blocklist with the next osdmap; the first I/O after it fails.
  while (Secs(t0) < 15) {
    r = Write(sink, *d, 4096, Pattern(4096, 2));
    if (r != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::printf("[timing] blocklisted -> I/O error %d after %.3f s\n", r, Secs(t0));
  EXPECT_EQ(r, -ESHUTDOWN);
  EXPECT_LT(Secs(t0), 15);
  // The maintenance thread needs no part in this: the completion already marked it.
  EXPECT_FALSE(d->healthy());
  EXPECT_TRUE(Rbd(d)->blocklisted());
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_FALSE(d->healthy());
  EXPECT_EQ(Rbd(d)->recoveries(), 0u);
  std::vector<char> buf(4096);
  const auto t1 = Clock::now();
  r = Write(sink, *d, 0, Pattern(4096, 3));
  EXPECT_EQ(r, -ESHUTDOWN);
  std::printf("[timing] write while blocklisted: %d in %.3f s\n", r, Secs(t1));
  auto conns = pool->connections();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_TRUE(conns[0].fenced);
  const auto t2 = Clock::now();
  d.reset();
  std::printf("[timing] closing a blocklisted image: %.3f s\n", Secs(t2));
  EXPECT_EQ(c->Unblocklist(addr), 0);
}

TEST(RbdFaults, BlocklistedClientRecoversOnNewInstance) {
  Cluster* c = Cluster::Get();
  c->CreateImage("it-bl2", 16 * kMiB);
  RadosClusterConfig cfg = BaseConfig();
  cfg.recovery_delay_ms = 1000;
  auto pool = MakePool(cfg);
  auto d = Open(pool, "it-bl2");
  ASSERT_TRUE(d);
  TestSink sink;
  auto before = Pattern(8192, 11);
  ASSERT_EQ(Write(sink, *d, 0, before), 0);
  const std::string addr = Rbd(d)->client_address();
  const uint64_t inst = Rbd(d)->client_instance_id();
  ASSERT_EQ(c->Blocklist(addr), 0);
  const auto t0 = Clock::now();
  int32_t r = 0;
  while (Secs(t0) < 15) {
    r = Write(sink, *d, 8192, Pattern(4096, 12));
    if (r != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(r, -ESHUTDOWN);
  EXPECT_FALSE(d->healthy());
  const double failed_at = Secs(t0);
  while (!d->healthy() && Secs(t0) < 20) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::printf("[timing] blocklisted: I/O failed after %.3f s, healthy again after %.3f s\n",
              failed_at, Secs(t0));
  ASSERT_TRUE(d->healthy());
  EXPECT_EQ(Rbd(d)->recoveries(), 1u);
  EXPECT_NE(Rbd(d)->client_address(), addr);
  EXPECT_NE(Rbd(d)->client_instance_id(), inst);
  const auto t1 = Clock::now();
  auto after = Pattern(4096, 13);
  EXPECT_EQ(Write(sink, *d, 8192, after), 0);  // takes the exclusive lock from the dead client
  std::printf("[timing] first write after recovery (lock takeover): %.3f s\n", Secs(t1));
  std::vector<char> got(8192);
  ASSERT_EQ(Read(sink, *d, 0, &got), 0);
  EXPECT_EQ(got, before);
  // The fenced connection is gone once its image handle was closed.
  for (int i = 0; i < 50 && pool->connections().size() != 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto conns = pool->connections();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_FALSE(conns[0].fenced);
  EXPECT_EQ(c->Unblocklist(addr), 0);
}

// An OSD restart (clean SIGTERM; memstore keeps its data) with I/O in flight: the I/O waits
// for the OSD and then completes without error.
TEST(RbdFaults, OsdRestartDuringIoStallsThenCompletes) {
  Cluster* c = Cluster::Get();
  c->CreateImage("it-osd", 64 * kMiB);
  auto pool = MakePool();
  auto d = Open(pool, "it-osd");
  ASSERT_TRUE(d);
  TestSink sink;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ok{0}, failed{0};
  std::atomic<double> max_latency{0};
  std::thread writer([&] {
    constexpr int kDepth = 16;
    std::vector<std::vector<char>> bufs;
    std::vector<struct iovec> iovs(kDepth);
    std::vector<BdevIo> ios(kDepth);
    std::vector<Clock::time_point> started(kDepth);
    for (int i = 0; i < kDepth; ++i) {
      bufs.push_back(Pattern(4096, static_cast<uint64_t>(i)));
      iovs[i] = {bufs[i].data(), 4096};
    }
    TestSink wsink;
    uint64_t n = 0;
    auto submit = [&](int i) {
      BdevIo& io = ios[i];
      io.op = BdevOp::kWrite;
      io.offset = ((n++ * 7919) % 16384) * 4096;
      io.length = 4096;
      io.iov = &iovs[i];
      io.iovcnt = 1;
      started[i] = Clock::now();
      wsink.Submit(*d, &io);
    };
    for (int i = 0; i < kDepth; ++i) submit(i);
    while (true) {
      bool all_idle = true;
      for (int i = 0; i < kDepth; ++i) {
        if (!wsink.Done(&ios[i])) {
          all_idle = false;
          continue;
        }
        if (ios[i].result == 1) continue;  // already accounted, not resubmitted
        const double lat = std::chrono::duration<double>(Clock::now() - started[i]).count();
        if (lat > max_latency.load()) max_latency.store(lat);
        (ios[i].result == 0 ? ok : failed).fetch_add(1);
        ios[i].result = 1;
        if (!stop.load()) {
          submit(i);
          all_idle = false;
        }
      }
      if (stop.load() && all_idle) break;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const uint64_t ok_before = ok.load();
  const std::string stop_s = c->StopOsd();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const uint64_t ok_while_down = ok.load();
  const bool healthy_while_down = d->healthy();  // stall_timeout_s (30) not reached
  const std::string start_s = c->StartCluster();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop.store(true);
  writer.join();
  std::printf("[timing] OSD stop %s s, restart+healthy %s s; writes ok %llu (%llu before stop), "
              "failed %llu, max latency %.2f s\n",
              stop_s.c_str(), start_s.c_str(), static_cast<unsigned long long>(ok.load()),
              static_cast<unsigned long long>(ok_before),
              static_cast<unsigned long long>(failed.load()), max_latency.load());
  EXPECT_EQ(failed.load(), 0u);
  EXPECT_GT(ok_before, 0u);
  EXPECT_GT(ok.load(), ok_while_down);  // progress after the restart
  EXPECT_GT(max_latency.load(), 1.0);   // the I/O did wait for the OSD
  EXPECT_TRUE(healthy_while_down);
  EXPECT_TRUE(d->healthy());
}

// stall_timeout_s: I/O stuck behind a stopped OSD makes the path unhealthy; it recovers when
// the OSD is back. osd_op_timeout_s bounds an I/O: -ETIMEDOUT (a path error).
TEST(RbdFaults, StallDetectionAndOsdOpTimeout) {
  Cluster* c = Cluster::Get();
  c->CreateImage("it-stall", 16 * kMiB);
  RadosClusterConfig cfg = BaseConfig();
  cfg.stall_timeout_s = 2;
  auto pool = MakePool(cfg);
  auto d = Open(pool, "it-stall");
  ASSERT_TRUE(d);
  RadosClusterConfig tcfg = BaseConfig();
  tcfg.osd_op_timeout_s = 3;
  auto tpool = MakePool(tcfg);
  c->CreateImage("it-timeout", 16 * kMiB);
  auto t = Open(tpool, "it-timeout");
  ASSERT_TRUE(t);
  TestSink sink;
  auto data = Pattern(4096, 21);
  ASSERT_EQ(Write(sink, *d, 0, data), 0);
  ASSERT_EQ(Write(sink, *t, 0, data), 0);

  c->StopOsd();
  BdevIo io;
  struct iovec v = {data.data(), data.size()};
  io.op = BdevOp::kWrite;
  io.offset = 4096;
  io.length = 4096;
  io.iov = &v;
  io.iovcnt = 1;
  sink.Submit(*d, &io);

  const auto t0 = Clock::now();
  const int32_t tr = Write(sink, *t, 4096, data);
  const double timeout_secs = Secs(t0);
  std::printf("[timing] OSD down, osd_op_timeout_s=3: write -> %d after %.2f s\n", tr,
              timeout_secs);
  EXPECT_EQ(tr, -ETIMEDOUT);
  EXPECT_LT(timeout_secs, 10);

  while (d->healthy() && Secs(t0) < 10) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::printf("[timing] OSD down, stall_timeout_s=2: unhealthy after %.2f s\n", Secs(t0));
  EXPECT_FALSE(d->healthy());
  EXPECT_TRUE(Rbd(d)->stalled());
  EXPECT_FALSE(sink.Done(&io));

  c->StartCluster();
  ASSERT_TRUE(sink.Wait(&io, std::chrono::seconds(60)));
  EXPECT_EQ(io.result, 0);
  const auto t1 = Clock::now();
  while (!d->healthy() && Secs(t1) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(d->healthy());
  EXPECT_EQ(Write(sink, *t, 8192, data), 0);  // the timed-out image works again
  std::vector<char> got(4096);
  ASSERT_EQ(Read(sink, *d, 4096, &got), 0);
  EXPECT_EQ(got, data);
}

// ---------------------------------------------------------------- benchmark (opt-in)

// NVMEOF_RBD_BENCH_SECS=10 rbd_integration_test --gtest_filter=RbdBench.*
// 4 KiB random I/O at queue depth 32 through the BlockDevice interface, for comparison with
// `fio --ioengine=rbd` on the same cluster.
void Bench(BdevOp op, const char* label) {
  const char* env = std::getenv("NVMEOF_RBD_BENCH_SECS");
  if (env == nullptr) GTEST_SKIP() << "set NVMEOF_RBD_BENCH_SECS to run";
  const double secs = std::atof(env);
  Cluster* c = Cluster::Get();
  constexpr uint64_t kImage = 1024 * kMiB;
  static bool prefilled = false;
  if (!prefilled) {
    c->CreateImage("it-bench", kImage);
    ASSERT_EQ(Sh(c->cli() + "bench --io-type write --io-size 4M --io-threads 4 --io-total 1G "
                 "--io-pattern seq rbd/it-bench >/dev/null"), 0);
    prefilled = true;
  }
  auto pool = MakePool();
  auto d = Open(pool, "it-bench");
  ASSERT_TRUE(d);
  constexpr int kDepth = 32;
  struct Slot {
    BdevIo io;
    std::vector<char> buf = std::vector<char>(4096, 'x');
    struct iovec iov;
    Clock::time_point t;
  };
  std::vector<Slot> slots(kDepth);
  // A sink that resubmits from the completing thread (like a reactor would, minus the hop).
  struct Loop : CompletionSink {
    BlockDevice* dev;
    std::vector<Slot>* slots;
    std::atomic<bool> stop{false};
    std::atomic<int> outstanding{0};
    std::mutex mu;
    std::vector<double> lat_us;
    uint64_t rng = 88172645463325252ull;
    BdevOp op;
    uint64_t errors = 0;
    void Issue(Slot& s) {
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      s.io.op = op;
      s.io.offset = (rng % (kImage / 4096)) * 4096;
      s.io.length = 4096;
      s.iov = {s.buf.data(), 4096};
      s.io.iov = &s.iov;
      s.io.iovcnt = 1;
      s.io.done.sink = this;
      s.t = Clock::now();
      dev->submit(&s.io);
    }
    void complete(Completion* c) override {
      auto* io = BdevIo::From(c);
      Slot* s = reinterpret_cast<Slot*>(io);  // io is the first member
      std::lock_guard<std::mutex> lk(mu);
      lat_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - s->t).count());
      if (io->result != 0) ++errors;
      if (stop.load()) {
        outstanding.fetch_sub(1);
        return;
      }
      Issue(*s);
    }
  } loop;
  loop.dev = d.get();
  loop.slots = &slots;
  loop.op = op;
  loop.outstanding = kDepth;
  const auto t0 = Clock::now();
  {
    std::lock_guard<std::mutex> lk(loop.mu);
    for (auto& s : slots) loop.Issue(s);
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  loop.stop.store(true);
  while (loop.outstanding.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double el = Secs(t0);
  std::lock_guard<std::mutex> lk(loop.mu);
  auto& v = loop.lat_us;
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v.empty() ? 0.0 : v[static_cast<size_t>(p * (v.size() - 1))]; };
  double sum = 0;
  for (double x : v) sum += x;
  std::printf("[bench] %s 4k qd%d: %.0f IOPS, lat mean %.2f ms p50 %.2f p99 %.2f p99.9 %.2f ms, "
              "errors %llu\n",
              label, kDepth, v.size() / el, sum / v.size() / 1000, pct(0.5) / 1000,
              pct(0.99) / 1000, pct(0.999) / 1000, static_cast<unsigned long long>(loop.errors));
  EXPECT_EQ(loop.errors, 0u);
}

TEST(RbdBench, RandomWrite) { Bench(BdevOp::kWrite, "randwrite"); }
TEST(RbdBench, RandomRead) { Bench(BdevOp::kRead, "randread"); }

}  // namespace
}  // namespace nvmeof

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new nvmeof::Cluster());
  return RUN_ALL_TESTS();
}
