// Gateway-group HA with real daemons on a real Ceph cluster (ctest label ceph; the cluster
// from the fixture, its directory in $NVMEOF_HA_DAEMONS_CEPH_DIR). Two `nvmeof-gateway`
// processes with `[gateway] ha = builtin` in one group; one subsystem with a listener on each
// and an RBD namespace in ANA group 1 (the first gateway's home group); a host (the project's
// host library) connected to both.
//   * KillOwner: SIGKILL of the owner: the survivor reports the group OPTIMIZED and serves
//     I/O; `ceph osd blocklist ls` holds exactly the addresses the dead gateway registered.
//   * PlannedStopAndFailback: SIGTERM hands the group over (no fencing), a restart takes it
//     back; I/O through each owner in turn.
//   * StaleWriteFails: the owner is stopped (SIGSTOP) with a write queued in its socket; the
//     peer takes over and writes; the resumed owner fails the queued write with a path
//     error and the data is the peer's. The old owner rejoins (new RADOS clients), gets its
//     group back by failback, and its first write after it reports OPTIMIZED succeeds (its
//     image was reopened on a new, registered client first); its state store reconnected
//     and applies a namespace added through the peer.
//   * ChangeWindowCutOff: the monitor is stopped (SIGSTOP), then the owner killed: the
//     survivor reports ANA Change from its decision while its fencing waits for the
//     monitor; past the Change window it reports INACCESSIBLE; the monitor resumed, the
//     fence completes and it reports OPTIMIZED. The host's ANA log page shows Change, then
//     INACCESSIBLE, then OPTIMIZED.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "tests/integration/ha_daemons.h"

namespace nvmeof::ha_daemons {
namespace {

const char kNqn[] = "nqn.2016-06.io.spdk:hadaemons";
constexpr uint32_t kGroup = 1;
constexpr uint32_t kBlock = 4096;

std::vector<uint8_t> Pattern(uint8_t v) { return std::vector<uint8_t>(kBlock, v); }

class HaDaemons : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = CephDirFromEnv("NVMEOF_HA_DAEMONS_CEPH_DIR");
    if (dir_.empty()) GTEST_SKIP() << "NVMEOF_HA_DAEMONS_CEPH_DIR is not set (run through ctest -L ceph)";
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    group_ = "hd" + test + std::to_string(getpid());
    ASSERT_TRUE(BlocklistClear(dir_));
    obs_ = std::make_unique<Observer>(dir_, "rbd", group_);
    ASSERT_TRUE(obs_->ok()) << obs_->error();
    for (const char* n : {"gw1", "gw2"}) {
      DaemonConfig c;
      c.name = n;
      c.group = group_;
      c.ceph_dir = dir_;
      gw_.push_back(std::make_unique<Daemon>(c));
    }
    // gw1 first: it gets home group 1, which the namespace uses.
    StartGw(0);
    StartGw(1);
    ASSERT_EQ(gw_[0]->Member(*obs_)->home_group, 1u);
    ASSERT_EQ(gw_[1]->Member(*obs_)->home_group, 2u);
    image_ = "hd-" + test + "-" + std::to_string(getpid());
    std::string e = CreateRbdSubsystem(*gw_[0], {gw_[0].get(), gw_[1].get()}, kNqn, {image_}, 64ull << 20, kGroup);
    ASSERT_EQ(e, "");
    // The librbd connection the namespace opened on gw1 was registered (fenceable) before
    // the namespace was added, not at the next HA round: its address (the namespace's
    // nonce) is in gw1's member record as soon as the call returned.
    {
      auto nonces = gw_[0]->api().NamespaceNonces();
      ASSERT_EQ(nonces.size(), 1u);
      auto m = gw_[0]->Member(*obs_);
      ASSERT_TRUE(m);
      EXPECT_EQ(std::count(m->addresses.begin(), m->addresses.end(), nonces[0]), 1) << nonces[0];
    }
    // gw2 serves it by replaying the group state.
    ASSERT_TRUE(WaitUntil([&] { return gw_[1]->api().NamespaceCount() == 1u; }, 20000)) << gw_[1]->LogTail();
    host_[0] = ConnectTo(0);
    host_[1] = ConnectTo(1);
    ASSERT_TRUE(host_[0] && host_[1]);
    ASSERT_TRUE(WaitState(0, nvme::kAnaOptimized, 20000));
    ASSERT_TRUE(WaitState(1, nvme::kAnaInaccessible, 20000));
    // The first write takes the image's exclusive lock on gw1.
    ASSERT_TRUE(WriteBlock(0, 0x11).ok());
    // Every RADOS client of gw1 is in its member record: HA, state store (registered at the
    // first HA round), librbd.
    ASSERT_TRUE(WaitUntil([&] {
      auto m = gw_[0]->Member(*obs_);
      return m && m->addresses.size() == 3;
    }, 10000)) << gw_[0]->LogTail();
  }
  void TearDown() override {
    if (HasFailure())
      for (auto& g : gw_) fprintf(stderr, "---- %s ----\n%s\n", g->name().c_str(), g->LogTail(20000).c_str());
    for (auto& h : host_) h.reset();
    for (auto& g : gw_) g->Stop();
  }

  void StartGw(int i) {
    std::string err;
    ASSERT_TRUE(gw_[i]->Start(&err)) << err;
  }
  std::unique_ptr<host::Controller> ConnectTo(int i) {
    std::unique_ptr<host::Controller> c;
    std::string err;
    // The listener is opened when the gateway applies the state change.
    WaitUntil([&] { return (c = Connect(gw_[i]->io_port(), kNqn, &err, 30000)) != nullptr; }, 20000, 100);
    EXPECT_TRUE(c) << gw_[i]->name() << ": " << err;
    return c;
  }
  bool WaitState(int i, uint8_t state, int timeout_ms) {
    std::optional<uint8_t> last;
    bool ok = WaitUntil([&] { return (last = AnaGroupState(*host_[i], kGroup)) == state; }, timeout_ms, 10);
    if (!ok)
      ADD_FAILURE() << gw_[i]->name() << ": ANA group " << kGroup << " state " << (last ? int(*last) : -1)
                    << ", want " << int(state);
    return ok;
  }
  host::Completion WriteBlock(int i, uint8_t v) {
    auto p = Pattern(v);
    return host_[i]->Write(host_[i]->io(), 1, 0, 1, p.data(), kBlock);
  }
  // The first byte of LBA 0 read through gateway i (-1 on failure).
  int ReadBlock(int i) {
    std::vector<uint8_t> b(kBlock);
    host::Completion c = host_[i]->Read(host_[i]->io(), 1, 0, 1, b.data(), kBlock);
    if (!c.ok()) return -1;
    return std::all_of(b.begin(), b.end(), [&](uint8_t x) { return x == b[0]; }) ? b[0] : -2;
  }

  std::string dir_, group_, image_;
  std::unique_ptr<Observer> obs_;
  std::vector<std::unique_ptr<Daemon>> gw_;
  std::unique_ptr<host::Controller> host_[2];
};

TEST_F(HaDaemons, KillOwner) {
  ASSERT_EQ(obs_->LeaseHolder(kGroup), "gw1");
  auto me = gw_[0]->Member(*obs_);
  ASSERT_TRUE(me);
  std::vector<std::string> registered = me->addresses;
  std::sort(registered.begin(), registered.end());

  const double t0 = NowMs();
  gw_[0]->Kill();
  ASSERT_TRUE(WaitState(1, nvme::kAnaOptimized, 20000)) << gw_[1]->LogTail();
  const double t_optimized = NowMs();
  host::Completion w = WriteBlock(1, 0x22);
  const double t_write = NowMs();
  ASSERT_TRUE(w.ok()) << w.ToString();
  EXPECT_EQ(ReadBlock(1), 0x22);
  printf("  SIGKILL -> survivor OPTIMIZED %.0f ms; its first write %.0f ms (took the RBD lock)\n", t_optimized - t0,
         t_write - t_optimized);
  EXPECT_EQ(obs_->LeaseHolder(kGroup), "gw2");

  // Exactly the dead gateway's registered addresses are blocklisted (librbd breaking the
  // dead owner's lock blocklists its librbd address again: the same entry).
  auto bl = BlocklistLs(dir_);
  ASSERT_TRUE(bl);
  EXPECT_EQ(*bl, registered);
}

TEST_F(HaDaemons, PlannedStopAndFailback) {
  // The host stays connected to gw1: the stopping gateway closes its queues, then its
  // images (their exclusive locks go back), so the peer's first write asks nobody dead.
  const double t0 = NowMs();
  gw_[0]->Terminate();
  ASSERT_TRUE(WaitState(1, nvme::kAnaOptimized, 10000)) << gw_[1]->LogTail();
  const double t_optimized = NowMs();
  // gw1 exits (closing its images releases their exclusive locks) before the first write
  // through gw2, the case where librbd's cooperative lock transfer has nobody to ask.
  EXPECT_EQ(gw_[0]->Stop(), "exited 0");
  const double t_exit = NowMs();
  host::Completion w = WriteBlock(1, 0x33);
  const double t_write = NowMs();
  ASSERT_TRUE(w.ok()) << w.ToString();
  printf("  SIGTERM -> peer OPTIMIZED %.0f ms, gw1 exited after %.0f ms; first write through gw2 %.0f ms\n",
         t_optimized - t0, t_exit - t0, t_write - t_exit);
  // A planned hand-over fences nobody: neither gateway blocklists the other (the lines
  // "<name> fenced <holder>: blocklisted ..." and "fenced the addresses of its previous
  // incarnation"). A gateway may still self-fence when its lease expires under it (seen in CI:
  // the wall clock stepped 16 s forward, log timestamps jumped while the test's monotonic
  // clock saw 2 s, and the OSDs expired every lease); that is no fence of anybody, so it is
  // printed, not failed.
  for (int i = 0; i < 2; ++i) {
    const std::string log = gw_[i]->Log();
    EXPECT_EQ(log.find(gw_[i]->name() + " fenced "), std::string::npos) << "a planned hand-over fences nobody";
    EXPECT_EQ(log.find("fenced the addresses"), std::string::npos);
    if (log.find("self-fenced") != std::string::npos)
      printf("  note: %s self-fenced (its lease expired under it: a stalled cluster or a wall-clock step)\n",
             gw_[i]->name().c_str());
  }
  EXPECT_NE(gw_[0]->Log().find(": closed"), std::string::npos) << "the stopping gateway closes its images";
  auto bl = BlocklistLs(dir_);
  ASSERT_TRUE(bl);
  EXPECT_TRUE(bl->empty()) << bl->front();

  // Restart: failback to the home gateway.
  if (HasFailure()) {
    fprintf(stderr, "---- gw1 before the restart ----\n%s\n", gw_[0]->LogTail(20000).c_str());
    fprintf(stderr, "---- gw2 before gw1's restart ----\n%s\n", gw_[1]->LogTail(20000).c_str());
  }
  host_[0].reset();
  StartGw(0);
  host_[0] = ConnectTo(0);
  ASSERT_TRUE(host_[0]);
  ASSERT_TRUE(WaitState(0, nvme::kAnaOptimized, 20000)) << gw_[0]->LogTail();
  ASSERT_TRUE(WaitState(1, nvme::kAnaInaccessible, 5000));
  EXPECT_EQ(ReadBlock(0), 0x33);
  w = WriteBlock(0, 0x44);
  ASSERT_TRUE(w.ok()) << w.ToString();
  EXPECT_EQ(ReadBlock(0), 0x44);
  w = WriteBlock(1, 0x55);
  EXPECT_EQ(w.status.sct, nvme::kSctPath);
  EXPECT_EQ(w.status.sc, nvme::kScAnaInaccessible) << w.ToString();
  bl = BlocklistLs(dir_);
  ASSERT_TRUE(bl);
  EXPECT_TRUE(bl->empty());
}

TEST_F(HaDaemons, StaleWriteFails) {
  // A write of pattern A through gw1 while it is stopped: it waits in gw1's socket.
  gw_[0]->Pause();
  auto a = Pattern(0xAA);
  nvme::Sqe sqe = host::cmd::Write(1, 0, 1);
  host::Connection& q1 = host_[0]->io();
  ASSERT_TRUE(q1.Submit(&sqe, a.data(), kBlock, nullptr, 0));
  const uint16_t cid = sqe.cid;

  // gw2 fences gw1 and takes the group; pattern B through gw2.
  ASSERT_TRUE(WaitState(1, nvme::kAnaOptimized, 20000)) << gw_[1]->LogTail();
  host::Completion b = WriteBlock(1, 0xBB);
  ASSERT_TRUE(b.ok()) << b.ToString();

  // gw1 resumes: the queued write fails with a path error (its lease is gone, its RADOS
  // clients are blocklisted), and LBA 0 holds B.
  gw_[0]->Resume();
  host::Completion c = q1.Wait(cid, 20000);
  ASSERT_TRUE(c.transport_ok) << c.ToString();
  EXPECT_EQ(c.status.sct, nvme::kSctPath) << c.ToString();
  EXPECT_FALSE(c.status.dnr) << c.ToString();
  // Which path error depends on what gw1 does first after SIGCONT: the watchdog turning the
  // group INACCESSIBLE (ANA Inaccessible) or the reactor handing the write to librbd, whose
  // client is blocklisted (ESHUTDOWN: Internal Path Error).
  EXPECT_TRUE(c.status.sc == nvme::kScAnaInaccessible || c.status.sc == nvme::kScInternalPathError) << c.ToString();
  printf("  stale write through the resumed gw1: %s\n", c.ToString().c_str());
  EXPECT_EQ(ReadBlock(1), 0xBB);

  // gw1 rejoins as a new client and gets its home group back by failback. Before it
  // serves the group again its image is on a new RADOS client (reopened when the HA client
  // rejoined, not at the first I/O after a delay) whose address is registered.
  ASSERT_TRUE(gw_[0]->WaitForLog("rejoined as a new RADOS client", 20000)) << gw_[0]->LogTail();
  ASSERT_TRUE(WaitState(0, nvme::kAnaOptimized, 30000)) << gw_[0]->LogTail();
  const double t_back = NowMs();
  ASSERT_TRUE(WaitState(1, nvme::kAnaInaccessible, 5000));
  EXPECT_NE(gw_[0]->Log().find("reopened on client"), std::string::npos) << "the image was not reopened";
  // The first write through gw1 after it reports OPTIMIZED succeeds: no path error. (The
  // loop only counts failures for the message; a host would retry them.)
  host::Completion w;
  int failed = 0;
  ASSERT_TRUE(WaitUntil([&] {
    w = WriteBlock(0, 0xCC);
    if (!w.ok()) ++failed;
    return w.ok();
  }, 30000, 200)) << w.ToString();
  EXPECT_EQ(failed, 0) << "writes through gw1 failed after it reported OPTIMIZED; the last: " << w.ToString();
  printf("  gw1 back as owner: first write completed %.0f ms after OPTIMIZED, %d failed attempt(s)\n",
         NowMs() - t_back, failed);
  EXPECT_EQ(ReadBlock(0), 0xCC);
  auto nonces = gw_[0]->api().NamespaceNonces();
  ASSERT_EQ(nonces.size(), 1u);
  auto m = gw_[0]->Member(*obs_);
  ASSERT_TRUE(m);
  EXPECT_EQ(std::count(m->addresses.begin(), m->addresses.end(), nonces[0]), 1)
      << "the image's new client " << nonces[0] << " is not in gw1's member record";
  auto bl = BlocklistLs(dir_);
  ASSERT_TRUE(bl);
  EXPECT_EQ(std::count(bl->begin(), bl->end(), nonces[0]), 0) << "the image's client is blocklisted";

  // gw1's state store client was fenced too: it reconnected as a new client and applies
  // the group's changes again (a namespace added through gw2).
  ASSERT_TRUE(gw_[0]->WaitForLog("was blocklisted; reconnected as instance", 20000)) << gw_[0]->LogTail();
  uint32_t nsid = 0;
  ASSERT_EQ(gw_[1]->api().AddRbdNamespace(kNqn, "rbd", image_ + "-2", 16ull << 20, true, 2, &nsid), "");
  EXPECT_TRUE(WaitUntil([&] { return gw_[0]->api().NamespaceCount() == 2u; }, 20000)) << gw_[0]->LogTail();
}

// True when `want` appears in `seen` in order (other states may come between).
bool InOrder(const std::vector<uint8_t>& seen, const std::vector<uint8_t>& want) {
  size_t i = 0;
  for (uint8_t s : seen)
    if (i < want.size() && s == want[i]) ++i;
  return i == want.size();
}

std::string Names(const std::vector<uint8_t>& states) {
  std::string out;
  for (uint8_t s : states)
    out += std::string(out.empty() ? "" : " ") +
           (s == nvme::kAnaOptimized      ? "OPTIMIZED"
            : s == nvme::kAnaChange       ? "CHANGE"
            : s == nvme::kAnaInaccessible ? "INACCESSIBLE"
                                          : std::to_string(s));
  return out;
}

TEST_F(HaDaemons, ChangeWindowCutOff) {
  const int mon = MonitorPid(dir_);
  ASSERT_GT(mon, 0) << "no ceph-mon pid file in " << dir_ << "/run";
  struct ResumeAtExit {  // the fixture's monitor must run again whatever happens here
    int pid;
    bool stopped = false;
    void Resume() {
      if (stopped) kill(pid, SIGCONT);
      stopped = false;
    }
    ~ResumeAtExit() { Resume(); }
  } mon_stop{mon};
  // The states the host reads through gw2, each change once.
  std::vector<uint8_t> seen;
  auto poll = [&] {
    auto st = AnaGroupState(*host_[1], kGroup);
    if (st && (seen.empty() || seen.back() != *st)) seen.push_back(*st);
  };
  poll();
  ASSERT_EQ(kill(mon, SIGSTOP), 0);
  mon_stop.stopped = true;
  const double t0 = NowMs();
  gw_[0]->Kill();
  // gw2 decides to take the group (Change) and fences gw1: the blocklist command waits for
  // the stopped monitor; the Change window ends first.
  ASSERT_TRUE(WaitUntil([&] {
    poll();
    return InOrder(seen, {nvme::kAnaChange, nvme::kAnaInaccessible});
  }, 60000, 10)) << Names(seen) << "\n" << gw_[1]->LogTail();
  const double t_cut = NowMs();
  mon_stop.Resume();
  ASSERT_TRUE(WaitUntil([&] {
    poll();
    return !seen.empty() && seen.back() == nvme::kAnaOptimized;
  }, 60000, 10)) << Names(seen) << "\n" << gw_[1]->LogTail();
  printf("  monitor stopped, owner killed: the host saw %s; INACCESSIBLE after %.0f ms, OPTIMIZED %.0f ms after the "
         "monitor resumed\n",
         Names(seen).c_str(), t_cut - t0, NowMs() - t_cut);
  EXPECT_TRUE(InOrder(seen, {nvme::kAnaInaccessible, nvme::kAnaChange, nvme::kAnaInaccessible, nvme::kAnaOptimized}))
      << Names(seen);
  EXPECT_NE(gw_[1]->Log().find("ANA Change state for"), std::string::npos) << gw_[1]->LogTail();
  host::Completion w = WriteBlock(1, 0x66);
  ASSERT_TRUE(w.ok()) << w.ToString();
  EXPECT_EQ(ReadBlock(1), 0x66);
  EXPECT_EQ(obs_->LeaseHolder(kGroup), "gw2");
}

}  // namespace
}  // namespace nvmeof::ha_daemons
