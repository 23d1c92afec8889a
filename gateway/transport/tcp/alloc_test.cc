// The data path allocates nothing per I/O in steady state: count heap allocations made on
// the reactor thread while a host does reads and writes (in-capsule and R2T, and C2H data)
// over a real NVMe/TCP connection, after a warm-up; plain and over TLS (a secure listener).
// OpenSSL's own allocations are counted apart: OpenSSL 3.0's record layer allocates its
// packet-writer state for every record it writes (a few small mallocs per record), which
// the gateway cannot avoid short of kernel TLS; the test prints that count and bounds it.
#include <gtest/gtest.h>

// The replacement operators below pair malloc/free by design.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>
#include <new>
#include <vector>

#include <openssl/crypto.h>

#include "gateway/common/log.h"
#include "gateway/transport/tcp/engine_test_util.h"
#include "gateway/runtime/reactor.h"
#include "gateway/transport/tcp/tcp_queue.h"
#include "gateway/nvmf/target.h"
#include "tests/host/nvmf_host.h"

namespace {
thread_local bool t_counting = false;
std::atomic<uint64_t> g_allocs{0};
std::atomic<uint64_t> g_ssl_allocs{0};
}  // namespace

void* operator new(size_t n) {
  if (t_counting) g_allocs.fetch_add(1, std::memory_order_relaxed);
  void* p = malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
void operator delete[](void* p, size_t) noexcept { free(p); }

namespace {
void* CountingMalloc(size_t n, const char*, int) {
  if (t_counting) g_ssl_allocs.fetch_add(1, std::memory_order_relaxed);
  return malloc(n);
}
void* CountingRealloc(void* p, size_t n, const char*, int) {
  if (t_counting) g_ssl_allocs.fetch_add(1, std::memory_order_relaxed);
  return realloc(p, n);
}
void PlainFree(void* p, const char*, int) { free(p); }
// Before OpenSSL allocates anything.
const bool g_openssl_counted = CRYPTO_set_mem_functions(CountingMalloc, CountingRealloc, PlainFree);
}  // namespace

namespace nvmeof {
namespace {

constexpr char kNqn[] = "nqn.2016-06.io.test:alloc";

constexpr char kTlsHost[] = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000000b1";
constexpr char kPsk[] = "NVMeTLSkey-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";

void SteadyState(bool tls) {
  ASSERT_TRUE(g_openssl_counted);
  SetLogLevel(LogLevel::kWarning);
  ReactorGroup group(1);
  group.set_poll_window(std::chrono::microseconds(100));  // the polling path allocates nothing either
  group.Start();
  test::ListeningTarget lt(group, TargetOptions{}, kNqn);
  Target& target = lt.target;
  uint16_t port = lt.port;
  NamespaceSpec ns;
  ns.nsid = 1;
  ns.block_size = 512;
  ASSERT_TRUE(target.AddNamespace(kNqn, ns, OpenMemoryDevice(64 << 20)).ok());
  if (tls) {
    ASSERT_TRUE(target.AddHost(kNqn, HostEntry{kTlsHost, {}, {}, kPsk}).ok());
    ListenerSpec l;
    l.traddr = "127.0.0.1";
    l.secure = true;
    for (port = static_cast<uint16_t>(lt.port + 1);; port++) {
      l.trsvcid = std::to_string(port);
      if (target.AddListener(kNqn, l).ok()) break;
    }
  }

  host::ControllerOptions o;
  o.port = port;
  o.subnqn = kNqn;
  if (tls) {
    o.hostnqn = kTlsHost;
    o.tls_psk = kPsk;
  }
  host::Controller c(o);
  std::string err;
  ASSERT_TRUE(c.Open(&err)) << err;
  auto q = c.AddIoQueue();
  ASSERT_TRUE(q.ok()) << q.ToString();
  ASSERT_EQ(c.io().tls(), tls);
  // 4 KiB and 128 KiB writes go in the capsule (default in-capsule size 128 KiB), 256 KiB
  // ones by R2T + H2CData.
  ASSERT_EQ(target.options().in_capsule_data_size, 128u << 10);
  std::vector<uint8_t> small(4096, 0x5A), mid(128 << 10, 0x3C), big(256 << 10, 0xA5), in(256 << 10);
  auto round = [&](int n) {
    for (int i = 0; i < n; i++) {
      uint64_t lba = static_cast<uint64_t>(i % 200) * 512;  // within the 64 MiB namespace
      auto w1 = c.Write(c.io(), 1, lba, 8, small.data(), 4096);  // in-capsule
      ASSERT_TRUE(w1.ok()) << w1.ToString();
      auto w3 = c.Write(c.io(), 1, lba, 256, mid.data(), mid.size());  // in-capsule, 128 KiB
      ASSERT_TRUE(w3.ok()) << w3.ToString();
      auto w2 = c.Write(c.io(), 1, lba, 512, big.data(), big.size());  // R2T + H2CData
      ASSERT_TRUE(w2.ok()) << w2.ToString();
      auto r = c.Read(c.io(), 1, lba, 512, in.data(), in.size());  // C2HData
      ASSERT_TRUE(r.ok()) << r.ToString();
      auto f = c.Flush(c.io(), 1);
      ASSERT_TRUE(f.ok()) << f.ToString();
    }
  };
  round(200);  // warm-up: buffer pools and free lists reach their working size

  auto set = [&](bool on) {
    std::promise<void> done;
    group.at(0).Post([&] {
      t_counting = on;
      done.set_value();
    });
    done.get_future().wait();
  };
  set(true);
  g_allocs = 0;
  g_ssl_allocs = 0;
  round(2000);
  set(false);
  EXPECT_EQ(g_allocs.load(), 0u) << "heap allocations on the reactor thread during 10000 steady-state I/Os";
  if (!tls) {
    EXPECT_EQ(g_ssl_allocs.load(), 0u);
  } else {
    // 10000 I/Os write about 60000 TLS records (a 256 KiB read is 16 of them).
    printf("OpenSSL allocations on the reactor: %.1f per I/O\n", static_cast<double>(g_ssl_allocs.load()) / 10000);
    EXPECT_LT(g_ssl_allocs.load(), 400000u);
  }
  // Disconnect every queue and let the reactor see the closes before it stops, so each
  // connection is torn down (the ASan build checks for leaks).
  c.io().Close();
  c.admin().Close();
  test::SettleReactor(group);
  group.Stop();
}

TEST(AllocTest, SteadyStateIoAllocatesNothingOnTheReactor) { SteadyState(false); }
TEST(AllocTest, SteadyStateIoOverTlsAllocatesNothingInTheGateway) { SteadyState(true); }

}  // namespace
}  // namespace nvmeof
