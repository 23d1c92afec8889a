// The RADOS state store against a real single-node cluster (tests/tools/ceph-local.sh).
// Run by ctest (label ceph), whose fixture starts the cluster and sets
// NVMEOF_STATE_CEPH_DIR; by hand:
//   tests/tools/ceph-local.sh start /tmp/c1
//   NVMEOF_STATE_CEPH_DIR=/tmp/c1 NVMEOF_CEPH_LOCAL=tests/tools/ceph-local.sh ./state_integration_test
#include <rados/librados.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/state/state_applier.h"
#include "gateway/state/state_store.h"
#include "gateway/state/state_test_util.h"

namespace nvmeof {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string CephDir() {
  const char* d = std::getenv("NVMEOF_STATE_CEPH_DIR");
  return d ? d : "";
}

std::string Sh(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

class StateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = CephDir();
    if (dir_.empty()) GTEST_SKIP() << "NVMEOF_STATE_CEPH_DIR not set (run through ctest -L ceph)";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    group_ = std::string("t") + std::to_string(getpid()) + "-" + info->name();
    ASSERT_EQ(rados_create(&admin_, "admin"), 0);
    ASSERT_EQ(rados_conf_read_file(admin_, Conf().c_str()), 0);
    ASSERT_EQ(rados_connect(admin_), 0);
    ASSERT_EQ(rados_ioctx_create(admin_, "rbd", &io_), 0);
  }
  void TearDown() override {
    if (io_) rados_ioctx_destroy(io_);
    if (admin_) rados_shutdown(admin_);
  }

  std::string Conf() const { return dir_ + "/ceph.conf"; }
  std::string Oid() const { return StateObjectName(group_); }

  RadosStateOptions Opts() const {
    RadosStateOptions o;
    o.ceph_conf = Conf();
    o.client_id = "admin";
    o.pool = "rbd";
    o.group = group_;
    o.poll_interval_sec = 60;  // tests that want polling say so
    o.lock_duration_sec = 5;
    o.connect_timeout_sec = 10;
    return o;
  }

  std::unique_ptr<StateStore> Open(const RadosStateOptions& o) {
    auto r = OpenRadosStateStore(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }

  // The omap as the reference gateway would read it.
  std::map<std::string, std::string> RawOmap() {
    std::map<std::string, std::string> m;
    rados_read_op_t op = rados_create_read_op();
    rados_omap_iter_t it;
    unsigned char more = 0;
    int prval = 0;
    rados_read_op_omap_get_vals2(op, "", "", 100000, &it, &more, &prval);
    int r = rados_read_op_operate(op, io_, Oid().c_str(), 0);
    if (r == 0) {
      char *k, *v;
      size_t kl, vl;
      while (rados_omap_get_next2(it, &k, &v, &kl, &vl) == 0 && k) m[std::string(k, kl)] = std::string(v, vl);
    }
    rados_omap_get_end(it);
    rados_release_read_op(op);
    return m;
  }

  std::string dir_, group_;
  rados_t admin_ = nullptr;
  rados_ioctx_t io_ = nullptr;
};

// Waits for a subscriber to see a condition.
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  StateMap map;
  uint64_t version = 0;
  int calls = 0;
  Clock::time_point at;

  std::function<void(const StateMap&, uint64_t)> Callback() {
    return [this](const StateMap& m, uint64_t v) {
      std::lock_guard lock(mu);
      EXPECT_GT(v, version) << "subscriber called for a version that is not newer";
      map = m;
      version = v;
      ++calls;
      at = Clock::now();
      cv.notify_all();
    };
  }
  bool WaitVersion(uint64_t v, milliseconds timeout) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return version >= v; });
  }
};

TEST_F(StateTest, LayoutAndBasicOperations) {
  auto a = Open(Opts());
  ASSERT_TRUE(a);
  auto raw = RawOmap();
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_EQ(raw["omap_version"], "1");

  const std::string nqn = "nqn.2016-06.io.spdk:cnode1";
  EXPECT_TRUE(a->Put(SubsystemKey(nqn), R"({"subsystem_nqn": "nqn.2016-06.io.spdk:cnode1"})").ok());
  EXPECT_TRUE(a->Put(NamespaceKey(nqn, 1), "{}").ok());
  EXPECT_TRUE(a->Remove(NamespaceKey(nqn, 1)).ok());
  Status s = a->Remove(NamespaceKey(nqn, 1));
  EXPECT_TRUE(s.Is(state::errc::kKeyNotFound)) << s.ToString();
  EXPECT_TRUE(a->Put("omap_version", "9").Is(state::errc::kBadKey));
  EXPECT_TRUE(a->Apply({{HostKey(nqn, "*"), "{}"}, {ListenerKey(nqn, "gw", "127.0.0.1", "4420"), "{}"}},
                       {NamespaceKey(nqn, 7) /* absent: skipped */})
                  .ok());

  raw = RawOmap();
  EXPECT_EQ(raw["omap_version"], "5");
  EXPECT_EQ(raw.count("subsystem_nqn.2016-06.io.spdk:cnode1"), 1u);
  EXPECT_EQ(raw.count("host_nqn.2016-06.io.spdk:cnode1_*"), 1u);
  EXPECT_EQ(raw.count("listener_nqn.2016-06.io.spdk:cnode1_gw_TCP_127.0.0.1_4420"), 1u);
  EXPECT_EQ(raw.size(), 4u);

  // A second gateway (its own connection) reads the same, without omap_version.
  auto b = Open(Opts());
  ASSERT_TRUE(b);
  uint64_t v = 0;
  auto all = b->ReadAll(&v);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(v, 5u);
  EXPECT_EQ(all->size(), 3u);
  EXPECT_EQ(all->count("omap_version"), 0u);

  // No lock is left behind.
  int exclusive = 0;
  char tag[64], clients[256], cookies[256], addrs[256];
  size_t tl = sizeof tag, cl = sizeof clients, kl = sizeof cookies, al = sizeof addrs;
  EXPECT_EQ(rados_list_lockers(io_, Oid().c_str(), "omap_file_lock", &exclusive, tag, &tl, clients, &cl, cookies,
                               &kl, addrs, &al),
            0);
}

TEST_F(StateTest, LockNameCookieAndDurationMatchTheReference) {
  auto a = Open(Opts());
  ASSERT_TRUE(a);
  bool checked = false;
  uint64_t nv = 0;
  Status s = a->Mutate(
      [&](const StateMap&, uint64_t version, StateMap* puts, std::vector<std::string>*) {
        // While fn runs the store holds the reference's lock.
        int exclusive = 0;
        char tag[64], clients[256], cookies[256], addrs[256];
        size_t tl = sizeof tag, cl = sizeof clients, kl = sizeof cookies, al = sizeof addrs;
        ssize_t n = rados_list_lockers(io_, Oid().c_str(), "omap_file_lock", &exclusive, tag, &tl, clients, &cl,
                                       cookies, &kl, addrs, &al);
        EXPECT_EQ(n, 1);
        EXPECT_EQ(exclusive, 1);
        EXPECT_EQ(std::string(clients).rfind("client.", 0), 0u) << clients;
        EXPECT_EQ(std::string(cookies).rfind("omap_file_cookie_", 0), 0u) << cookies;
        EXPECT_EQ(version, 1u);
        (*puts)["subsystem_x"] = "{}";
        checked = true;
        return Status::OK();
      },
      &nv);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(checked);
  EXPECT_EQ(nv, 2u);
  EXPECT_EQ(RawOmap()["omap_version"], "2");
}

TEST_F(StateTest, WatchNotifyReachesTheOtherGatewayWithin1s) {
  auto a = Open(Opts());
  auto b = Open(Opts());  // polls every 60 s: only the watch can be this fast
  ASSERT_TRUE(a && b);
  Seen seen;
  b->Subscribe(seen.Callback());
  ASSERT_TRUE(b->Start().ok());
  ASSERT_EQ(seen.calls, 1);  // once at Start
  EXPECT_EQ(seen.version, 1u);

  std::vector<double> lat;
  for (int i = 0; i < 30; ++i) {
    auto t0 = Clock::now();
    ASSERT_TRUE(a->Put("subsystem_nqn.x:" + std::to_string(i), "{}").ok());
    auto t_put = Clock::now();
    ASSERT_TRUE(seen.WaitVersion(2 + i, milliseconds(1000))) << "write " << i << " not seen within 1 s";
    std::lock_guard lock(seen.mu);
    EXPECT_EQ(seen.map.count("subsystem_nqn.x:" + std::to_string(i)), 1u);
    lat.push_back(Ms(seen.at - t_put));
    (void)t0;
  }
  std::sort(lat.begin(), lat.end());
  std::printf("[ latency  ] Put returned -> other gateway's subscriber called: min %.2f ms, median %.2f ms, "
              "p90 %.2f ms, max %.2f ms (%zu writes)\n",
              lat.front(), lat[lat.size() / 2], lat[lat.size() * 9 / 10], lat.back(), lat.size());
  EXPECT_EQ(seen.calls, 31);  // Start + one per write, none for an unchanged version
  b->Stop();
}

TEST_F(StateTest, OwnWritesAreNotDelivered) {
  auto a = Open(Opts());
  ASSERT_TRUE(a);
  Seen seen;
  a->Subscribe(seen.Callback());
  ASSERT_TRUE(a->Start().ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a->Put("subsystem_own" + std::to_string(i), "{}").ok());
  std::this_thread::sleep_for(milliseconds(300));
  std::lock_guard lock(seen.mu);
  EXPECT_EQ(seen.calls, 1);
}

TEST_F(StateTest, PollingAloneSeesChangesWithinThePollInterval) {
  auto a = Open(Opts());
  RadosStateOptions ob = Opts();
  ob.watch = false;  // as with state_update_notify = False
  ob.poll_interval_sec = 1;
  auto b = Open(ob);
  ASSERT_TRUE(a && b);
  Seen seen;
  b->Subscribe(seen.Callback());
  ASSERT_TRUE(b->Start().ok());
  std::vector<double> lat;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(a->Put("subsystem_poll" + std::to_string(i), "{}").ok());
    auto t_put = Clock::now();
    ASSERT_TRUE(seen.WaitVersion(2 + i, milliseconds(1500))) << "not seen within the 1 s poll interval";
    std::lock_guard lock(seen.mu);
    lat.push_back(Ms(seen.at - t_put));
  }
  std::sort(lat.begin(), lat.end());
  std::printf("[ latency  ] poll only (interval 1 s): min %.0f ms, max %.0f ms\n", lat.front(), lat.back());
  for (double l : lat) EXPECT_LE(l, 1100);
}

// 200 Put/Remove from 4 writers (2 threads on each of 2 gateways).
TEST_F(StateTest, ConcurrentWritersFromTwoGateways) {
  auto a = Open(Opts());
  auto b = Open(Opts());
  ASSERT_TRUE(a && b);
  Seen sa, sb;
  a->Subscribe(sa.Callback());
  b->Subscribe(sb.Callback());
  ASSERT_TRUE(a->Start().ok());
  ASSERT_TRUE(b->Start().ok());

  constexpr int kWriters = 4, kOpsPerWriter = 50;
  std::atomic<int> writes{0}, failures{0};
  std::vector<std::map<std::string, std::string>> expect(kWriters);
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      StateStore* s = w % 2 ? b.get() : a.get();
      std::mt19937 rng(w);
      std::vector<std::string> live;
      for (int i = 0; i < kOpsPerWriter; ++i) {
        Status st;
        if (!live.empty() && rng() % 3 == 0) {
          size_t j = rng() % live.size();
          st = s->Remove(live[j]);
          if (st.ok()) {
            expect[w].erase(live[j]);
            live.erase(live.begin() + static_cast<long>(j));
          }
        } else {
          std::string key = "host_nqn.2016-06.io.spdk:w" + std::to_string(w) + "_h" + std::to_string(i);
          std::string val = "{\"writer\": " + std::to_string(w) + ", \"op\": " + std::to_string(i) + "}";
          st = s->Put(key, val);
          if (st.ok()) {
            expect[w][key] = val;
            live.push_back(key);
          }
        }
        if (st.ok())
          ++writes;
        else {
          ++failures;
          ADD_FAILURE() << "writer " << w << " op " << i << ": " << st.ToString();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = Ms(Clock::now() - t0) / 1000;
  std::printf("[ timing   ] %d writes from 4 writers on 2 gateways in %.2f s (%.1f ms per write)\n", writes.load(),
              secs, secs * 1000 / writes.load());
  EXPECT_EQ(writes.load(), kWriters * kOpsPerWriter);
  EXPECT_EQ(failures.load(), 0);

  StateMap want;
  for (auto& m : expect) want.insert(m.begin(), m.end());
  uint64_t va = 0, vb = 0;
  auto ra = a->ReadAll(&va);
  auto rb = b->ReadAll(&vb);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(*ra, want);
  EXPECT_EQ(*rb, want);
  EXPECT_EQ(va, 1u + static_cast<uint64_t>(writes.load()));
  EXPECT_EQ(vb, va);
  EXPECT_EQ(RawOmap()["omap_version"], std::to_string(va));
}

// What the gRPC service does: Mutate (read-modify-write under the lock) + an applier per
// gateway fed by the subscriber. No gateway re-applies or undoes its own changes, and every
// gateway's target ends with the group state.
class CountingTarget : public test::NullStateTarget {
 public:
  std::mutex mu;
  std::map<std::string, int> adds, removes;
  Status Count(std::map<std::string, int>& m, const std::string& key) {
    std::lock_guard lock(mu);
    ++m[key];
    return Status::OK();
  }
  static std::string NsKey(const std::string& j) { return nlohmann::json::parse(j)["nsid"].dump(); }
  Status AddNamespace(const std::string& j) override { return Count(adds, NsKey(j)); }
  Status RemoveNamespace(const std::string&, uint32_t nsid) override { return Count(removes, std::to_string(nsid)); }
};

TEST_F(StateTest, ServicePatternMutateWithAppliers) {
  const std::string nqn = "nqn.2016-06.io.spdk:svc";
  struct Gateway {
    std::unique_ptr<StateStore> store;
    CountingTarget target;
    std::unique_ptr<StateApplier> applier;
    std::mutex m;  // the service's mutex: gRPC changes and the subscriber
    std::set<std::string> created, deleted;  // NSIDs this gateway created / deleted
    std::vector<std::string> trace;           // printed on failure
  };
  Gateway gw[2];
  for (auto& g : gw) {
    g.store = Open(Opts());
    ASSERT_TRUE(g.store);
    g.applier = std::make_unique<StateApplier>(&g.target);
    g.store->Subscribe([&g](const StateMap& m, uint64_t v) {
      std::lock_guard lock(g.m);
      std::string keys;
      for (const auto& [k, val] : m)
        if (auto key = ParseStateKey(k); key && key->kind == StateKeyKind::kNamespace) keys += " " + std::to_string(key->nsid);
      size_t a0 = 0, r0 = 0;
      {
        std::lock_guard tl(g.target.mu);
        for (auto& [n, c] : g.target.adds) a0 += c;
        for (auto& [n, c] : g.target.removes) r0 += c;
      }
      g.applier->Update(m, v);
      std::string calls;
      {
        std::lock_guard tl(g.target.mu);
        size_t a1 = 0, r1 = 0;
        for (auto& [n, c] : g.target.adds) a1 += c;
        for (auto& [n, c] : g.target.removes) r1 += c;
        calls = " adds+" + std::to_string(a1 - a0) + " removes+" + std::to_string(r1 - r0);
      }
      g.trace.push_back("Update v" + std::to_string(v) + " ns:" + keys + calls);
    });
    ASSERT_TRUE(g.store->Start().ok());
  }
  {
    std::lock_guard lock(gw[0].m);
    uint64_t nv = 0;
    ASSERT_TRUE(gw[0]
                    .store
                    ->Mutate(
                        [&](const StateMap&, uint64_t, StateMap* p, std::vector<std::string>*) {
                          (*p)[SubsystemKey(nqn)] = "{\"subsystem_nqn\": \"" + nqn + "\"}";
                          return Status::OK();
                        },
                        &nv)
                    .ok());
    gw[0].applier->RecordLocal({{SubsystemKey(nqn), "{\"subsystem_nqn\": \"" + nqn + "\"}"}}, {}, nv);
  }
  std::this_thread::sleep_for(milliseconds(200));

  auto t0 = Clock::now();
  std::atomic<int> ops{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      Gateway& g = gw[w % 2];
      std::mt19937 rng(100 + w);
      for (int i = 0; i < 40; ++i) {
        std::lock_guard lock(g.m);
        StateMap puts_done;
        std::vector<std::string> removes_done;
        uint64_t nv = 0;
        bool del = rng() % 3 == 0;
        Status s = g.store->Mutate(
            [&](const StateMap& cur, uint64_t version, StateMap* puts, std::vector<std::string>* removes) {
              // NSID = the version this write makes: never reused, so each key lives once.
              std::vector<std::string> ns;
              for (const auto& [k, v] : cur) {
                auto key = ParseStateKey(k);
                if (key && key->kind == StateKeyKind::kNamespace) ns.push_back(k);
              }
              if (del && !ns.empty()) {
                removes->push_back(ns[rng() % ns.size()]);
              } else {
                uint32_t nsid = static_cast<uint32_t>(version + 1);
                (*puts)[NamespaceKey(nqn, nsid)] =
                    "{\"subsystem_nqn\": \"" + nqn + "\", \"nsid\": " + std::to_string(nsid) + "}";
              }
              // (the real service applies the change to its target here)
              puts_done = *puts;
              removes_done = *removes;
              return Status::OK();
            },
            &nv);
        ASSERT_TRUE(s.ok()) << s.ToString();
        if (nv) {
          g.applier->RecordLocal(puts_done, removes_done, nv);
          std::string what;
          for (const auto& [k, v] : puts_done) what += " +" + std::to_string(ParseStateKey(k)->nsid);
          for (const auto& k : removes_done) what += " -" + std::to_string(ParseStateKey(k)->nsid);
          g.trace.push_back("Local v" + std::to_string(nv) + what);
          for (const auto& [k, v] : puts_done) g.created.insert(std::to_string(ParseStateKey(k)->nsid));
          for (const auto& k : removes_done) g.deleted.insert(std::to_string(ParseStateKey(k)->nsid));
          ++ops;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::printf("[ timing   ] %d Mutate calls from 4 writers on 2 gateways in %.2f s\n", ops.load(),
              Ms(Clock::now() - t0) / 1000);

  uint64_t v = 0;
  auto all = gw[0].store->ReadAll(&v);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(v, 2u + static_cast<uint64_t>(ops.load()));
  auto deadline = Clock::now() + std::chrono::seconds(3);
  for (auto& g : gw) {
    while (Clock::now() < deadline) {
      {
        std::lock_guard lock(g.m);
        if (g.applier->applied() == *all) break;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    std::lock_guard lock(g.m);
    EXPECT_EQ(g.applier->desired(), *all);
    EXPECT_EQ(g.applier->applied(), *all);
    EXPECT_FALSE(g.applier->pending());
  }
  for (int i = 0; i < 2; ++i) {
    Gateway& g = gw[i];
    std::lock_guard lock(g.target.mu);
    for (const auto& nsid : g.created) EXPECT_EQ(g.target.adds.count(nsid), 0u) << "gateway " << i << " re-added its own namespace " << nsid;
    for (const auto& nsid : g.deleted) EXPECT_EQ(g.target.removes.count(nsid), 0u) << "gateway " << i << " re-removed namespace " << nsid;
    for (const auto& [nsid, n] : g.target.adds) EXPECT_EQ(n, 1) << "gateway " << i << " added namespace " << nsid << " " << n << " times";
    for (const auto& [nsid, n] : g.target.removes) EXPECT_EQ(n, 1) << "gateway " << i << " removed namespace " << nsid << " " << n << " times";
    if (::testing::Test::HasFailure()) {
      std::lock_guard gl(g.m);
      for (const auto& t : g.trace) std::printf("  gw%d %s\n", i, t.c_str());
    }
  }
}

// A writer that died holding the lock delays others only until its lease ends.
TEST_F(StateTest, DeadLockHolderBlocksOnlyForItsLease) {
  auto a = Open(Opts());
  ASSERT_TRUE(a);
  {
    rados_t dead;
    ASSERT_EQ(rados_create(&dead, "admin"), 0);
    ASSERT_EQ(rados_conf_read_file(dead, Conf().c_str()), 0);
    ASSERT_EQ(rados_connect(dead), 0);
    rados_ioctx_t dio;
    ASSERT_EQ(rados_ioctx_create(dead, "rbd", &dio), 0);
    struct timeval tv = {3, 0};
    ASSERT_EQ(rados_lock_exclusive(dio, Oid().c_str(), "omap_file_lock", "omap_file_cookie_dead", "OMAP file changes lock",
                                   &tv, 0),
              0);
    rados_ioctx_destroy(dio);
    rados_shutdown(dead);  // gone without unlocking
  }
  auto t0 = Clock::now();
  Status s = a->Put("subsystem_after-dead", "{}");
  double ms = Ms(Clock::now() - t0);
  std::printf("[ timing   ] Put behind a dead writer's 3 s lease: %.0f ms\n", ms);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_GE(ms, 2000);
  EXPECT_LE(ms, 3600);
}

TEST_F(StateTest, LockHeldTooLongGivesEbusyNamingTheHolder) {
  RadosStateOptions o = Opts();
  o.lock_wait_sec = 2;
  auto a = Open(o);
  ASSERT_TRUE(a);
  struct timeval tv = {60, 0};
  ASSERT_EQ(rados_lock_exclusive(io_, Oid().c_str(), "omap_file_lock", "omap_file_cookie_other", "OMAP file changes lock",
                                 &tv, 0),
            0);
  auto t0 = Clock::now();
  Status s = a->Put("subsystem_x", "{}");
  double ms = Ms(Clock::now() - t0);
  EXPECT_TRUE(s.Is(state::errc::kLocked)) << s.ToString();
  EXPECT_NE(s.message().find("omap_file_cookie_other"), std::string::npos) << s.message();
  EXPECT_GE(ms, 1900);
  EXPECT_LE(ms, 2600);
  std::printf("[ error    ] %s (after %.0f ms)\n", s.ToString().c_str(), ms);
  char client[64];
  std::snprintf(client, sizeof client, "client.%llu", static_cast<unsigned long long>(rados_get_instance_id(admin_)));
  EXPECT_EQ(rados_break_lock(io_, Oid().c_str(), "omap_file_lock", client, "omap_file_cookie_other"), 0);
  EXPECT_TRUE(a->Put("subsystem_x", "{}").ok());
}

// A store whose client is blocklisted (this gateway fenced) reconnects as a new client
// instance by itself: a new address, the watch back, changes of the others delivered again,
// and its own writes work.
TEST_F(StateTest, ReconnectsAsANewClientAfterBeingBlocklisted) {
  auto a = Open(Opts());
  ASSERT_TRUE(a);
  Seen seen;
  a->Subscribe(seen.Callback());
  ASSERT_TRUE(a->Start().ok());
  auto watchers = [&] {
    return Sh("rados -c " + Conf() + " -p rbd listwatchers " + Oid() + " 2>/dev/null");
  };
  ASSERT_EQ(a->ClientAddresses().size(), 1u);
  const std::string addr = a->ClientAddresses()[0];
  ASSERT_NE(watchers().find(addr), std::string::npos) << watchers();

  auto b = Open(Opts());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->Put("subsystem_before-blocklist", "{}").ok());
  ASSERT_TRUE(seen.WaitVersion(2, milliseconds(10000)));

  const auto t0 = Clock::now();
  ASSERT_EQ(rados_blocklist_add(admin_, const_cast<char*>(addr.c_str()), 600), 0);
  // A new client instance: another address, watching the object.
  std::string now_addr;
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    auto v = a->ClientAddresses();
    now_addr = v.empty() ? "" : v[0];
    if (!now_addr.empty() && now_addr != addr && watchers().find(now_addr) != std::string::npos) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_NE(now_addr, addr) << "the store did not reconnect";
  ASSERT_NE(watchers().find(now_addr), std::string::npos) << watchers();
  std::printf("[ timing   ] reconnected and watching again %.0f ms after the blocklist\n", Ms(Clock::now() - t0));

  // The other gateway's change reaches it through the new watch (polling is every 60 s)...
  uint64_t vb = 0;
  ASSERT_TRUE(b->ReadAll(&vb).ok());
  ASSERT_TRUE(b->Put("subsystem_after-reconnect", "{}").ok());
  ASSERT_TRUE(seen.WaitVersion(vb + 1, milliseconds(10000)));
  {
    std::lock_guard lock(seen.mu);
    EXPECT_EQ(seen.map.count("subsystem_after-reconnect"), 1u);
  }
  // ...and it writes again.
  ASSERT_TRUE(a->Put("subsystem_from-a", "{}").ok());
  EXPECT_EQ(RawOmap().count("subsystem_from-a"), 1u);
}

// A watcher that never acknowledges (a hung gateway; one that died without unwatching has
// the same effect until the OSD drops its watch after osd_client_watch_timeout, 30 s): every
// notify waits notify_timeout_ms for it. Writers must not wait, live watchers must not either.
TEST_F(StateTest, DeadWatcherDelaysNobody) {
  {
    rados_t dead;
    ASSERT_EQ(rados_create(&dead, "admin"), 0);
    ASSERT_EQ(rados_conf_read_file(dead, Conf().c_str()), 0);
    ASSERT_EQ(rados_connect(dead), 0);
    rados_ioctx_t dio;
    ASSERT_EQ(rados_ioctx_create(dead, "rbd", &dio), 0);
    // The object must exist to be watched.
    rados_write_op_t op = rados_create_write_op();
    rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, nullptr);
    const char* k[] = {"omap_version"};
    const char* v[] = {"1"};
    size_t kl[] = {12}, vl[] = {1};
    rados_write_op_omap_set2(op, k, v, kl, vl, 1);
    ASSERT_EQ(rados_write_op_operate2(op, dio, Oid().c_str(), nullptr, 0), 0);
    rados_release_write_op(op);
    uint64_t handle;
    auto never_ack = [](void*, uint64_t, uint64_t, uint64_t, void*, size_t) {};
    ASSERT_EQ(rados_watch3(dio, Oid().c_str(), &handle, never_ack, nullptr, 0, nullptr), 0);
    // Left as it is: the watch stays registered and never acknowledges (the client is
    // intentionally leaked until the test process exits).
    (void)handle;
  }
  RadosStateOptions o = Opts();
  o.notify_timeout_ms = 2000;
  auto a = Open(o);
  auto b = Open(Opts());
  ASSERT_TRUE(a && b);
  Seen seen;
  b->Subscribe(seen.Callback());
  ASSERT_TRUE(b->Start().ok());
  std::vector<double> put_ms, seen_ms;
  for (int i = 0; i < 10; ++i) {
    auto t0 = Clock::now();
    ASSERT_TRUE(a->Put("subsystem_dw" + std::to_string(i), "{}").ok());
    put_ms.push_back(Ms(Clock::now() - t0));
    ASSERT_TRUE(seen.WaitVersion(2 + i, milliseconds(1000)));
    std::lock_guard lock(seen.mu);
    seen_ms.push_back(Ms(seen.at - t0));
  }
  std::sort(put_ms.begin(), put_ms.end());
  std::sort(seen_ms.begin(), seen_ms.end());
  std::printf("[ timing   ] with a dead watcher: Put max %.1f ms, seen by the live gateway max %.1f ms\n",
              put_ms.back(), seen_ms.back());
  EXPECT_LT(put_ms.back(), 500);
  EXPECT_LT(seen_ms.back(), 1000);
  auto t0 = Clock::now();
  a.reset();  // waits for its outstanding notifies (they time out after 2 s)
  std::printf("[ timing   ] closing the writer with notifies pending on the dead watcher: %.0f ms\n",
              Ms(Clock::now() - t0));
}

TEST_F(StateTest, MissingPoolIsAClearErrorQuickly) {
  RadosStateOptions o = Opts();
  o.pool = "no-such-pool";
  auto t0 = Clock::now();
  auto r = OpenRadosStateStore(o);
  double ms = Ms(Clock::now() - t0);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(state::errc::kPoolNotFound)) << r.status().ToString();
  EXPECT_NE(r.status().message().find("pool 'no-such-pool' does not exist"), std::string::npos)
      << r.status().message();
  EXPECT_LT(ms, 2000);
  std::printf("[ error    ] %s (%.0f ms)\n", r.status().ToString().c_str(), ms);
}

TEST_F(StateTest, MissingConfigAndKeyring) {
  RadosStateOptions o = Opts();
  o.ceph_conf = dir_ + "/nope.conf";
  auto r = OpenRadosStateStore(o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(state::errc::kSystem)) << r.status().ToString();
  EXPECT_EQ(r.status().os_errno(), ENOENT);
  EXPECT_NE(r.status().message().find("nope.conf"), std::string::npos) << r.status().message();

  o = Opts();
  o.keyring = dir_ + "/nope.keyring";
  r = OpenRadosStateStore(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nope.keyring"), std::string::npos) << r.status().message();
}

TEST_F(StateTest, PermissionDeniedNamesThePool) {
  const char* tool = std::getenv("NVMEOF_CEPH_LOCAL");
  if (!tool) GTEST_SKIP() << "NVMEOF_CEPH_LOCAL not set";
  // A user whose osd caps cover another pool only.
  std::string keyring = Sh(std::string(tool) + " user " + dir_ + " stateother otherpool 2>/dev/null");
  keyring.erase(keyring.find_last_not_of("\n") + 1);
  ASSERT_FALSE(keyring.empty());
  RadosStateOptions o = Opts();
  o.client_id = "stateother";
  o.keyring = keyring;
  auto t0 = Clock::now();
  auto r = OpenRadosStateStore(o);
  double ms = Ms(Clock::now() - t0);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(state::errc::kPermissionDenied)) << r.status().ToString();
  EXPECT_TRUE(r.status().os_errno() == EPERM || r.status().os_errno() == EACCES) << r.status().ToString();
  EXPECT_NE(r.status().message().find("pool 'rbd'"), std::string::npos) << r.status().message();
  EXPECT_LT(ms, 3000);
  std::printf("[ error    ] %s (%.0f ms)\n", r.status().ToString().c_str(), ms);

  // The right user with a wrong key.
  std::string bad = dir_ + "/client.badkey.keyring";
  std::ofstream(bad) << "[client.stateother]\n\tkey = AQBuDmZnAAAAABAAq2uDhSHk2NLEPJCmXxC7Nw==\n";
  o.keyring = bad;
  o.connect_timeout_sec = 5;
  t0 = Clock::now();
  r = OpenRadosStateStore(o);
  ms = Ms(Clock::now() - t0);
  ASSERT_FALSE(r.ok());
  std::printf("[ error    ] %s (%.0f ms)\n", r.status().ToString().c_str(), ms);
  EXPECT_LT(ms, 7000);
}

TEST_F(StateTest, UnreachableClusterFailsWithinTheConnectTimeout) {
  // A copy of the configuration whose monitor address nobody listens on.
  std::string conf = dir_ + "/unreachable.conf";
  {
    std::ifstream in(Conf());
    std::ofstream out(conf);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("mon host", 0) == 0) line = "mon host = [v2:127.0.0.1:9,v1:127.0.0.1:9]";
      out << line << "\n";
    }
  }
  RadosStateOptions o = Opts();
  o.ceph_conf = conf;
  o.connect_timeout_sec = 3;
  auto t0 = Clock::now();
  auto r = OpenRadosStateStore(o);
  double ms = Ms(Clock::now() - t0);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(state::errc::kTimedOut)) << r.status().ToString();
  EXPECT_NE(r.status().message().find("127.0.0.1:9"), std::string::npos) << r.status().message();
  EXPECT_LT(ms, 5000);
  std::printf("[ error    ] %s (%.0f ms)\n", r.status().ToString().c_str(), ms);
}

TEST_F(StateTest, LargeStateIsReadAcrossPages) {
  auto a = Open(Opts());
  ASSERT_TRUE(a);
  StateMap puts;
  for (int i = 0; i < 1500; ++i) puts["namespace_nqn.big_" + std::to_string(i + 1)] = std::string(200, 'x');
  auto t0 = Clock::now();
  ASSERT_TRUE(a->Apply(puts, {}).ok());
  double w = Ms(Clock::now() - t0);
  auto b = Open(Opts());
  ASSERT_TRUE(b);
  uint64_t v = 0;
  t0 = Clock::now();
  auto all = b->ReadAll(&v);
  double r = Ms(Clock::now() - t0);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, puts);
  EXPECT_EQ(v, 2u);
  std::printf("[ timing   ] 1500 keys: Apply %.1f ms, ReadAll %.1f ms (3 pages)\n", w, r);
}

}  // namespace
}  // namespace nvmeof
