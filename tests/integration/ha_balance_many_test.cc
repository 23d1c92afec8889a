// Load balancing of gateway-group HA with more than two real daemons, two subsystems and the
// rebalancing leader dying, on a real Ceph cluster (ctest label ceph, entry
// ha_daemons_test_balance_many; the cluster from the fixture ha_daemons_ceph, its directory in
// $NVMEOF_HA_DAEMONS_CEPH_DIR). One scenario, HaBalanceMany.JoinKillLeaderRemove:
//   1. three gateways (home groups 1-3); 18 RBD namespaces added without a group, alternating
//      between two subsystems and between the three gateways' APIs: 6/6/6, 3/3/3 per subsystem;
//   2. a multipath host (its own thread, the project's host library, one controller per
//      gateway and subsystem) writes and reads back every namespace from here on; a write
//      that gets an ANA path status (or a connection error from the killed gateway) is retried
//      with the same data on the next gateway, as a multipath host does;
//   3. a fourth gateway joins: the leader (gw1, the lowest live name) moves namespaces to its
//      empty group, at most max_ns_to_change_lb_grp (2) hand-over records in the group state
//      at any time (a watcher thread polls the state object's omap through the whole test);
//   4. right after gw1 recorded the move of one of its own group's namespaces, and before it
//      drained it, gw1 is SIGSTOPped; if the record is still there it is SIGKILLed: the
//      survivors fail group 1 over, the new owner of group 1 drains the recorded namespace and
//      removes the record, gw2 (the lowest live name now) finishes the rebalance: no record
//      left, every group held by a survivor, 5/5/4/4;
//   5. gw1 is removed (remove_member): group 1's namespaces go to groups 2-4 (6/6/6), at most
//      two at a time, all moved by gw2;
//   6. the host stops: no I/O error other than ANA path statuses and the killed gateway's
//      connection errors; every write was read back through the path that acknowledged it,
//      every namespace was written in every phase, and the last data of each reads back.
// Every wait is a poll with a generous bound; durations are printed, never asserted. With
// HB_DUMP set in the environment the daemons' logs are printed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "gateway/ha/rados_group_store.h"
#include "gateway/state/state_keys.h"
#include "tests/integration/ha_daemons.h"

namespace nvmeof::ha_daemons {
namespace {

const std::vector<std::string> kNqns = {"nqn.2016-06.io.spdk:hbmany-a", "nqn.2016-06.io.spdk:hbmany-b"};
constexpr uint32_t kPerSubsystem = 9;
constexpr int kMax = 2;  // max_ns_to_change_lb_grp
constexpr uint32_t kBlock = 4096;
constexpr uint64_t kImageSize = 16ull << 20;

struct NsRef {
  size_t sub = 0;  // index in kNqns
  uint32_t nsid = 0;
  bool operator<(const NsRef& o) const { return std::tie(sub, nsid) < std::tie(o.sub, o.nsid); }
  bool operator==(const NsRef&) const = default;
};
using Placement = std::map<NsRef, uint32_t>;  // namespace -> ANA group

std::vector<uint8_t> Block(uint32_t v) { return PatternBlock(v, kBlock); }

std::map<uint32_t, size_t> Loads(const Placement& p) {
  std::map<uint32_t, size_t> l;
  for (const auto& [ns, g] : p) l[g]++;
  return l;
}

std::string Show(const Placement& p) {
  std::string s;
  for (const auto& [g, n] : Loads(p)) s += " group " + std::to_string(g) + ": " + std::to_string(n) + ";";
  return s.empty() ? "(none)" : s;
}

// Every group of `groups` holds a namespace count within one of the others, and no namespace
// is in another group.
bool Balanced(const Placement& p, const std::set<uint32_t>& groups) {
  auto l = Loads(p);
  size_t lo = SIZE_MAX, hi = 0;
  for (uint32_t g : groups) {
    lo = std::min(lo, l[g]);
    hi = std::max(hi, l[g]);
  }
  for (const auto& [g, n] : l)
    if (n && !groups.count(g)) return false;
  return hi - lo <= 1;
}

// The multipath host: its own thread, one controller per (gateway, subsystem), connected
// lazily (and again after a connection error, except to a gateway marked killed). Each
// namespace has a current path; a write is read back through the path that acknowledged it.
class MultipathHost {
 public:
  MultipathHost(std::vector<uint16_t> ports, std::vector<NsRef> ns)
      : ports_(std::move(ports)), ns_(ns.size()), killed_(ports_.size()) {
    for (size_t k = 0; k < ns.size(); ++k) {
      ns_[k].ref = ns[k];
      ns_[k].value = Value(k, 1);
    }
    for (size_t g = 0; g < ports_.size(); ++g) {
      ctrl_.emplace_back(kNqns.size());
      next_try_.emplace_back(kNqns.size(), 0.0);
      path_statuses_.push_back(0);
      transport_errors_.push_back(0);
    }
  }
  ~MultipathHost() { Stop(); }

  void Start() { thread_ = std::thread([this] { Loop(); }); }
  // Stops once no namespace has a write in doubt (failed on a connection): bounded.
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Connection errors through gateway g are expected from now on; it is not used again.
  void MarkKilled(size_t g) { killed_[g] = true; }

  // Successful writes per namespace (a snapshot).
  std::vector<uint64_t> Writes() {
    std::lock_guard lk(mu_);
    std::vector<uint64_t> w;
    for (const auto& s : ns_) w.push_back(s.writes);
    return w;
  }
  // Every namespace had a successful write after `since`.
  bool AllWrittenSince(const std::vector<uint64_t>& since) {
    auto now = Writes();
    for (size_t k = 0; k < now.size(); ++k)
      if (now[k] <= since[k]) return false;
    return true;
  }

  // After Stop (the thread has ended): what happened.
  std::vector<std::string> errors() const { return errors_; }
  uint64_t path_statuses(size_t g) const { return path_statuses_[g]; }
  uint64_t transport_errors(size_t g) const { return transport_errors_[g]; }
  uint64_t verified_reads() const { return verified_reads_; }
  double max_stall_ms() const { return max_stall_ms_; }
  uint64_t total_writes() const {
    uint64_t n = 0;
    for (const auto& s : ns_) n += s.writes;
    return n;
  }
  // Reads every namespace's block through any gateway that admits it: the last value written.
  void VerifyAll() {
    for (size_t k = 0; k < ns_.size(); ++k) {
      const auto& s = ns_[k];
      std::optional<uint32_t> got;
      std::string why = "no path admitted the read";
      WaitUntil([&] {
        for (size_t g = 0; g < ports_.size() && !got; ++g) {
          host::Controller* c = Ctrl(g, s.ref.sub);
          if (!c) continue;
          std::vector<uint8_t> b(kBlock);
          host::Completion r = c->Read(c->io(), s.ref.nsid, 0, 1, b.data(), kBlock);
          if (r.ok()) {
            uint32_t v;
            memcpy(&v, b.data(), 4);
            got = v;
            if (b != Block(v)) why = "a torn block";
          } else if (!IsAnaPathStatus(r)) {
            why = r.ToString();
            Drop(g, s.ref.sub);
          }
        }
        return got.has_value();
      }, 30000, 50);
      if (!got) {
        errors_.push_back(Name(k) + ": final read: " + why);
        continue;
      }
      if (*got != s.last_ok)
        errors_.push_back(Name(k) + ": final read " + std::to_string(*got) + ", last write " +
                          std::to_string(s.last_ok));
    }
  }

 private:
  struct Ns {
    NsRef ref;
    size_t path = 0;
    uint32_t value = 0, last_ok = 0;  // value: the next (or in doubt) write
    uint64_t writes = 0, seq = 1;
    bool in_doubt = false;  // the last attempt of `value` failed on a connection
    double failing_since = 0;  // 0: the last attempt succeeded
  };
  static uint32_t Value(size_t k, uint64_t seq) { return static_cast<uint32_t>((k + 1) << 24 | (seq & 0xFFFFFF)); }
  std::string Name(size_t k) const { return kNqns[ns_[k].ref.sub] + " nsid " + std::to_string(ns_[k].ref.nsid); }

  host::Controller* Ctrl(size_t g, size_t sub) {
    if (killed_[g]) return nullptr;
    if (ctrl_[g][sub]) return ctrl_[g][sub].get();
    if (NowMs() < next_try_[g][sub]) return nullptr;
    next_try_[g][sub] = NowMs() + 500;
    std::string err;
    ctrl_[g][sub] = Connect(ports_[g], kNqns[sub], &err, 15000);
    return ctrl_[g][sub].get();
  }
  void Drop(size_t g, size_t sub) {
    ctrl_[g][sub].reset();
    next_try_[g][sub] = NowMs() + 500;
  }
  void Next(Ns& s) { s.path = (s.path + 1) % ports_.size(); }
  // A failed command through gateway g: an ANA path status or a connection error of a killed
  // gateway is expected (the caller tries the next path); anything else is an error.
  void Failed(size_t k, size_t g, const host::Completion& c, const char* what) {
    Ns& s = ns_[k];
    if (IsAnaPathStatus(c)) {
      path_statuses_[g]++;
    } else if (!c.transport_ok) {
      transport_errors_[g]++;
      if (!killed_[g])
        errors_.push_back(Name(k) + ": " + what + " through gateway " + std::to_string(g + 1) + ": " + c.ToString());
      Drop(g, s.ref.sub);
    } else {
      errors_.push_back(Name(k) + ": " + what + " through gateway " + std::to_string(g + 1) + ": " + c.ToString());
    }
  }

  void Loop() {
    double stop_deadline = 0;
    while (true) {
      if (stop_) {
        if (stop_deadline == 0) stop_deadline = NowMs() + 60000;
        bool doubt = false;
        for (const auto& s : ns_) doubt |= s.in_doubt;
        if (!doubt || NowMs() > stop_deadline) {
          if (doubt) errors_.push_back("writes still in doubt when the host stopped");
          return;
        }
      }
      bool progress = false;
      for (size_t k = 0; k < ns_.size(); ++k) {
        Ns& s = ns_[k];
        if (stop_ && !s.in_doubt) continue;
        const size_t g = s.path;
        host::Controller* c = Ctrl(g, s.ref.sub);
        if (!c) {
          Next(s);
          continue;
        }
        const double now = NowMs();
        auto b = Block(s.value);
        host::Completion w = c->Write(c->io(), s.ref.nsid, 0, 1, b.data(), kBlock);
        if (!w.ok()) {
          if (!w.transport_ok) s.in_doubt = true;
          if (s.failing_since == 0) s.failing_since = now;
          Failed(k, g, w, "write");
          Next(s);
          continue;
        }
        progress = true;
        if (s.failing_since != 0) max_stall_ms_ = std::max(max_stall_ms_, NowMs() - s.failing_since);
        s.failing_since = 0;
        s.in_doubt = false;
        s.last_ok = s.value;
        s.value = Value(k, ++s.seq);
        {
          std::lock_guard lk(mu_);
          s.writes++;
        }
        // Read back through the same path (another gateway may have taken it over meanwhile:
        // a path status then, verified at the next write).
        std::vector<uint8_t> r(kBlock);
        host::Completion rc = c->Read(c->io(), s.ref.nsid, 0, 1, r.data(), kBlock);
        if (rc.ok()) {
          if (r != Block(s.last_ok)) {
            uint32_t got;
            memcpy(&got, r.data(), 4);
            errors_.push_back(Name(k) + ": read " + std::to_string(got) + " through gateway " + std::to_string(g + 1) +
                              " right after writing " + std::to_string(s.last_ok));
          } else {
            verified_reads_++;
          }
        } else {
          Failed(k, g, rc, "read");
        }
      }
      if (!progress) usleep(5000);
    }
  }

  const std::vector<uint16_t> ports_;
  std::vector<Ns> ns_;
  std::vector<std::vector<std::unique_ptr<host::Controller>>> ctrl_;
  std::vector<std::vector<double>> next_try_;
  std::vector<uint64_t> path_statuses_, transport_errors_;
  std::vector<std::atomic<bool>> killed_;
  std::vector<std::string> errors_;
  uint64_t verified_reads_ = 0;
  double max_stall_ms_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // writes counters read by the test thread
  std::thread thread_;
};

// Polls the hand-over records in the group state object's omap until stopped: the most seen
// at once, and which were seen.
class HandoverWatch {
 public:
  HandoverWatch(std::string dir, std::string oid) : dir_(std::move(dir)), oid_(std::move(oid)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        auto keys = OmapKeys(dir_, "rbd", oid_);
        std::lock_guard lk(mu_);
        if (!keys) {
          ++failed_;
          continue;
        }
        ++samples_;
        std::vector<std::string> h;
        for (const auto& k : *keys)
          if (k.rfind(kLbHandoverPrefix, 0) == 0) h.push_back(k);
        most_ = std::max(most_, h.size());
        if (h.size() > size_t{kMax}) over_.push_back(h);
      }
    });
  }
  ~HandoverWatch() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  size_t most() {
    std::lock_guard lk(mu_);
    return most_;
  }
  std::vector<std::vector<std::string>> over() {
    std::lock_guard lk(mu_);
    return over_;
  }
  uint64_t samples() {
    std::lock_guard lk(mu_);
    return samples_;
  }
  uint64_t failed() {
    std::lock_guard lk(mu_);
    return failed_;
  }

 private:
  const std::string dir_, oid_;
  std::mutex mu_;
  size_t most_ = 0;
  uint64_t samples_ = 0, failed_ = 0;
  std::vector<std::vector<std::string>> over_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class HaBalanceMany : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = CephDirFromEnv("NVMEOF_HA_DAEMONS_CEPH_DIR");
    if (dir_.empty()) GTEST_SKIP() << "NVMEOF_HA_DAEMONS_CEPH_DIR is not set (run through ctest -L ceph)";
    group_ = "hbm" + std::to_string(getpid());
    ASSERT_TRUE(BlocklistClear(dir_));
    obs_ = std::make_unique<Observer>(dir_, "rbd", group_);
    ASSERT_TRUE(obs_->ok()) << obs_->error();
    t0_ = NowMs();
  }
  void TearDown() override {
    if (host_) host_->Stop();
    if (watch_) watch_->Stop();
    if (HasFailure() || getenv("HB_DUMP"))
      for (auto& g : gw_) fprintf(stderr, "---- %s ----\n%s\n", g->name().c_str(), g->LogTail(40000).c_str());
    for (auto& g : gw_) g->Stop();
  }

  Daemon& AddGw(const std::string& name) {
    DaemonConfig c;
    c.name = name;
    c.group = group_;
    c.ceph_dir = dir_;
    c.rebalance_period_sec = 1;
    c.max_ns_to_change_lb_grp = kMax;
    gw_.push_back(std::make_unique<Daemon>(c));
    return *gw_.back();
  }
  void Phase(const char* what) { printf("  %7.1f s  %s\n", (NowMs() - t0_) / 1000, what); fflush(stdout); }

  // The placement gateway i serves (get_subsystems of both subsystems); nullopt on error.
  std::optional<Placement> PlacementOn(size_t i) {
    Placement p;
    for (size_t s = 0; s < kNqns.size(); ++s) {
      auto g = gw_[i]->api().NamespaceGroups(kNqns[s]);
      if (!g) return std::nullopt;
      for (const auto& [nsid, grp] : *g) p[{s, nsid}] = grp;
    }
    return p;
  }
  // Polls until every gateway of `live` serves the same placement of all namespaces, no
  // hand-over record is left and `ok` holds for it; the placement, or nullopt (a failure).
  template <typename F>
  std::optional<Placement> WaitSettled(const std::vector<size_t>& live, F ok, int timeout_ms = 90000) {
    std::optional<Placement> p;
    std::string last;
    bool done = WaitUntil([&] {
      p = PlacementOn(live[0]);
      if (!p || p->size() != kNqns.size() * kPerSubsystem) {
        last = gw_[live[0]]->name() + ": " + (p ? Show(*p) : "(no answer)");
        return false;
      }
      for (size_t i : live)
        if (PlacementOn(i) != p) {
          last = "gateways differ";
          return false;
        }
      last = Show(*p);
      if (!ok(*p)) return false;
      auto h = OmapKeys(dir_, "rbd", StateObjectName(group_));
      if (!h) return false;
      for (const auto& k : *h)
        if (k.rfind(kLbHandoverPrefix, 0) == 0) {
          last += " record " + k + " left";
          return false;
        }
      return true;
    }, timeout_ms, 100);
    if (!done) {
      ADD_FAILURE() << "not settled: " << last;
      return std::nullopt;
    }
    return p;
  }

  std::string dir_, group_;
  double t0_ = 0;
  std::unique_ptr<Observer> obs_;
  std::vector<std::unique_ptr<Daemon>> gw_;
  std::unique_ptr<MultipathHost> host_;
  std::unique_ptr<HandoverWatch> watch_;
};

// The namespaces gw1's log says it moved out of group 1 to group 4 (rebalancing), in order.
std::vector<NsRef> MovedOutOfGroup1(const std::string& log) {
  std::vector<NsRef> out;
  const std::string head = "load balancing: gateway gw1 moves namespace ";
  for (size_t p = log.find(head); p != std::string::npos; p = log.find(head, p + 1)) {
    const size_t eol = log.find('\n', p);
    const std::string line = log.substr(p, eol == std::string::npos ? std::string::npos : eol - p);
    if (line.find(" from ANA group 1 to 4 (rebalancing)") == std::string::npos) continue;
    unsigned nsid = 0;
    char nqn[256] = {};
    if (sscanf(line.c_str() + head.size(), "%u of %255s", &nsid, nqn) != 2) continue;
    for (size_t s = 0; s < kNqns.size(); ++s)
      if (kNqns[s] == nqn) out.push_back({s, nsid});
  }
  return out;
}

TEST_F(HaBalanceMany, JoinKillLeaderRemove) {
  // 1. Three gateways; 18 namespaces without a group, through every gateway's API in turn.
  for (const char* n : {"gw1", "gw2", "gw3", "gw4"}) AddGw(n);
  for (size_t i = 0; i < 3; ++i) {
    std::string err;
    ASSERT_TRUE(gw_[i]->Start(&err)) << err;
    ASSERT_EQ(gw_[i]->Member(*obs_)->home_group, i + 1);
  }
  Phase("three gateways registered");
  for (const auto& nqn : kNqns)
    ASSERT_EQ(CreateRbdSubsystem(*gw_[0], {gw_[0].get(), gw_[1].get(), gw_[2].get()}, nqn, {}, kImageSize, 0), "");
  std::vector<NsRef> all;
  for (uint32_t k = 0; k < kPerSubsystem; ++k)
    for (size_t s = 0; s < kNqns.size(); ++s) {
      Daemon& via = *gw_[all.size() % 3];
      const std::string image = "hbm-" + std::to_string(getpid()) + "-" + std::to_string(s) + "-" + std::to_string(k);
      uint32_t nsid = 0;
      ASSERT_EQ(via.api().AddRbdNamespace(kNqns[s], "rbd", image, kImageSize, true, 0, &nsid), "") << image;
      all.push_back({s, nsid});
    }
  auto spread = WaitSettled({0, 1, 2}, [](const Placement& p) { return Balanced(p, {1, 2, 3}); }, 30000);
  ASSERT_TRUE(spread);
  Phase(("namespaces added:" + Show(*spread)).c_str());
  // Each subsystem is spread too (3 per group): the adds alternate between them.
  for (size_t s = 0; s < kNqns.size(); ++s)
    for (uint32_t g = 1; g <= 3; ++g)
      EXPECT_EQ(std::count_if(spread->begin(), spread->end(),
                              [&](const auto& e) { return e.first.sub == s && e.second == g; }),
                3)
          << kNqns[s] << " in group " << g;

  // 2. The host writes and reads every namespace from here to the end.
  watch_ = std::make_unique<HandoverWatch>(dir_, StateObjectName(group_));
  std::vector<uint16_t> ports;
  for (auto& g : gw_) ports.push_back(g->io_port());
  host_ = std::make_unique<MultipathHost>(ports, all);
  auto mark = host_->Writes();
  host_->Start();
  ASSERT_TRUE(WaitUntil([&] { return host_->AllWrittenSince(mark); }, 60000, 50)) << "a namespace was never written";
  Phase("the host writes every namespace");

  // 3. gw4 joins; gw1 leads the rebalance: 6/6/6/0 -> 5/5/4/4 (groups 1, 2, then 3, 1 to 4).
  mark = host_->Writes();
  {
    std::string err;
    ASSERT_TRUE(gw_[3]->Start(&err)) << err;
  }
  ASSERT_EQ(gw_[3]->Member(*obs_)->home_group, 4u);
  for (const auto& nqn : kNqns) {
    std::string e;
    ASSERT_TRUE(WaitUntil([&] { return (e = gw_[3]->api().AddListener(nqn, "gw4", gw_[3]->io_port())).empty(); },
                          20000, 50))
        << e;
  }
  Phase("gw4 joined");

  // 4. gw1 is stopped right after it recorded a move out of its own group (it drains at its
  // next tick, 250 ms later); killed if the record is still there.
  bool killed = false;
  NsRef victim;
  size_t seen = 0;
  while (!killed) {
    std::vector<NsRef> moved;
    if (!WaitUntil([&] { return (moved = MovedOutOfGroup1(gw_[0]->Log())).size() > seen; }, 90000, 10)) break;
    gw_[0]->Pause();
    victim = moved[seen];
    seen = moved.size();
    auto keys = OmapKeys(dir_, "rbd", StateObjectName(group_));
    ASSERT_TRUE(keys);
    const std::string rec = LbHandoverKey(kNqns[victim.sub], victim.nsid);
    if (std::find(keys->begin(), keys->end(), rec) != keys->end()) {
      host_->MarkKilled(0);
      gw_[0]->Kill();
      killed = true;
    } else {
      gw_[0]->Resume();
      Phase("gw1 had drained its move already; waiting for the next");
    }
  }
  ASSERT_TRUE(killed) << "gw1 never stopped with a move out of group 1 recorded";
  Phase(("gw1 killed with the hand-over of " + kNqns[victim.sub] + " nsid " + std::to_string(victim.nsid) +
         " recorded")
            .c_str());
  const std::vector<size_t> survivors{1, 2, 3};
  auto joined = WaitSettled(survivors, [](const Placement& p) { return Balanced(p, {1, 2, 3, 4}); });
  ASSERT_TRUE(joined);
  Phase(("rebalanced by the survivors:" + Show(*joined)).c_str());
  EXPECT_EQ(joined->at(victim), 4u);
  // Every group is held by a survivor: group 1 was failed over.
  std::map<uint32_t, std::string> holders;
  for (uint32_t g = 1; g <= 4; ++g) {
    EXPECT_TRUE(WaitUntil([&] {
      auto h = obs_->LeaseHolder(g);
      return h && (holders[g] = *h, *h == "gw2" || *h == "gw3" || *h == "gw4");
    }, 30000, 100))
        << "group " << g << " held by '" << holders[g] << "'";
  }
  Phase(("groups 1-4 held by " + holders[1] + ", " + holders[2] + ", " + holders[3] + ", " + holders[4]).c_str());
  // The recorded namespace was drained by group 1's new owner; the rest of the plan came
  // from gw2, the lowest live name; gw3 and gw4 planned nothing.
  std::string drained_by;
  for (size_t i : survivors)
    if (gw_[i]->Log().find("namespace " + std::to_string(victim.nsid) + " of " + kNqns[victim.sub] +
                           ": ANA group 1's owner " + gw_[i]->name() + " has drained it") != std::string::npos)
      drained_by = gw_[i]->name();
  EXPECT_EQ(drained_by, holders[1]) << "the hand-over of the killed leader's namespace";
  const size_t by_gw1 = CountOf(gw_[0]->Log(), " to 4 (rebalancing)");
  const size_t by_gw2 = CountOf(gw_[1]->Log(), " to 4 (rebalancing)");
  EXPECT_EQ(CountOf(gw_[0]->Log() + gw_[1]->Log(), "load balancing: gateway"), by_gw1 + by_gw2)
      << "moves other than to the new group";
  EXPECT_GE(by_gw1, 1u);
  EXPECT_EQ(by_gw1 + by_gw2, 4u) << "gw1 " << by_gw1 << ", gw2 " << by_gw2;
  EXPECT_EQ(CountOf(gw_[2]->Log() + gw_[3]->Log(), "load balancing: gateway"), 0u);
  ASSERT_TRUE(WaitUntil([&] { return host_->AllWrittenSince(mark); }, 60000, 50))
      << "a namespace was not written during the rebalance";
  Phase("every namespace written again");

  // 5. gw1 is removed for good: group 1's namespaces go to groups 2-4, two at a time, by gw2.
  mark = host_->Writes();
  const size_t in_group_1 = Loads(*joined)[1];
  std::pair<int, std::string> r;
  ASSERT_TRUE(WaitUntil([&] { return (r = gw_[1]->api().RemoveMember("gw1")).first != EBUSY; }, 60000, 200))
      << r.second;
  ASSERT_EQ(r.first, 0) << r.second;
  Phase("gw1 removed");
  auto removed = WaitSettled(survivors, [](const Placement& p) { return Balanced(p, {2, 3, 4}); });
  ASSERT_TRUE(removed);
  Phase(("group 1 emptied:" + Show(*removed)).c_str());
  EXPECT_GT(in_group_1, size_t{kMax}) << "more moves than one batch";
  EXPECT_EQ(CountOf(gw_[1]->Log(), "(no gateway owns the old group)"), in_group_1);
  EXPECT_EQ(CountOf(gw_[2]->Log() + gw_[3]->Log(), "load balancing: gateway"), 0u);
  ASSERT_TRUE(WaitUntil([&] { return host_->AllWrittenSince(mark); }, 60000, 50))
      << "a namespace was not written after the removal";
  Phase("every namespace written again");

  // 6. The host's record.
  host_->Stop();
  watch_->Stop();
  host_->VerifyAll();
  printf("  host: %llu writes, %llu read back; ANA path statuses through gw1-4: %llu %llu %llu %llu; connection "
         "errors through gw1: %llu; longest a namespace waited for a path: %.0f ms\n",
         (unsigned long long)host_->total_writes(), (unsigned long long)host_->verified_reads(),
         (unsigned long long)host_->path_statuses(0), (unsigned long long)host_->path_statuses(1),
         (unsigned long long)host_->path_statuses(2), (unsigned long long)host_->path_statuses(3),
         (unsigned long long)host_->transport_errors(0), host_->max_stall_ms());
  printf("  hand-over records: at most %zu at once in %llu samples (%llu failed reads)\n", watch_->most(),
         (unsigned long long)watch_->samples(), (unsigned long long)watch_->failed());
  for (const auto& e : host_->errors()) ADD_FAILURE() << "host: " << e;
  for (const auto& o : watch_->over()) ADD_FAILURE() << o.size() << " hand-over records at once";
  EXPECT_LE(watch_->most(), size_t{kMax});
  EXPECT_GT(watch_->samples(), 0u);
  for (size_t g = 1; g < 4; ++g) EXPECT_EQ(host_->transport_errors(g), 0u) << gw_[g]->name();
}

}  // namespace
}  // namespace nvmeof::ha_daemons
