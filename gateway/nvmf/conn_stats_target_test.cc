// The target's side of the statistics and keep-connected RPCs on a fake queue pair: the
// per-reactor queue and I/O counters, a controller's I/O statistics summed over its queues
// (closed ones included) and reset, and removing a host with or without its connections.
#include <gtest/gtest.h>

#include <future>

#include "gateway/common/clock.h"
#include "gateway/nvmf/errc.h"
#include "gateway/nvmf/target_test_util.h"

namespace nvmeof::test {
namespace {

class ConnStatsTest : public TargetTest {
 protected:
  // A read of `blocks` 512-byte blocks at LBA 0, timed as the transport times it.
  std::unique_ptr<Cmd> Read(uint32_t blocks) {
    auto c = std::make_unique<Cmd>(blocks * 512);
    c->req.cmd.opcode = kIoRead;
    c->req.cmd.nsid = 1;
    c->req.cmd.cdw12 = blocks - 1;
    c->req.ctrl_to_host = true;
    c->req.timed = true;
    c->req.recv_ns = NowNs();
    return c;
  }
  std::shared_ptr<Controller> OnlyController() {
    auto cs = target_->FindSubsystem(kNqn)->Controllers();
    EXPECT_EQ(cs.size(), 1u);
    return cs.empty() ? nullptr : cs[0];
  }
};

TEST_F(ConnStatsTest, PollGroupCountersFollowQueuesAndIo) {
  auto [admin, io] = EnableWithIo();
  auto r = Read(8);
  EXPECT_EQ(Run(*io, *r), kSuccess);
  auto g = target_->PollGroups(1);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].admin_qpairs, 1u);
  EXPECT_EQ(g[0].io_qpairs, 1u);
  EXPECT_EQ(g[0].current_admin_qpairs, 1u);
  EXPECT_EQ(g[0].current_io_qpairs, 1u);
  EXPECT_EQ(g[0].pending_io, 0u);
  EXPECT_EQ(g[0].completed_io, 1u);
  CloseAll();
  g = target_->PollGroups(1);
  EXPECT_EQ(g[0].current_admin_qpairs, 0u);
  EXPECT_EQ(g[0].current_io_qpairs, 0u);
  EXPECT_EQ(g[0].admin_qpairs, 1u);  // since start
  EXPECT_EQ(g[0].io_qpairs, 1u);
}

TEST_F(ConnStatsTest, ControllerIoStatsCountByBucketAndReset) {
  auto [admin, io] = EnableWithIo();
  for (uint32_t blocks : {8u, 8u, 64u}) {  // 4 KiB twice, 32 KiB once
    auto r = Read(blocks);
    ASSERT_EQ(Run(*io, *r), kSuccess);
    io->RecordIo(&r->req, NowNs());
  }
  auto c = OnlyController();
  ASSERT_TRUE(c);
  ConnIoSnapshot s = c->IoStats(false);
  EXPECT_EQ(s.TotalIos(), 3u);
  EXPECT_EQ(s.g[ConnIoSnapshot::kRead][ConnIoSnapshot::Bucket(4096)].count, 2u);
  EXPECT_EQ(s.g[ConnIoSnapshot::kRead][ConnIoSnapshot::Bucket(32768)].count, 1u);
  EXPECT_GE(s.g[ConnIoSnapshot::kRead][1].total.min, s.g[ConnIoSnapshot::kRead][1].bdev.min);
  // Reading with reset returns the figures, then they start over.
  EXPECT_EQ(c->IoStats(true).TotalIos(), 3u);
  EXPECT_EQ(c->IoStats(false).TotalIos(), 0u);
  auto r = Read(8);
  ASSERT_EQ(Run(*io, *r), kSuccess);
  io->RecordIo(&r->req, NowNs());
  EXPECT_EQ(c->IoStats(false).TotalIos(), 1u);
  // A failed command is not counted.
  auto bad = Read(8);
  bad->req.cmd.cdw10 = 1u << 20;  // beyond the namespace
  EXPECT_NE(Run(*io, *bad), kSuccess);
  io->RecordIo(&bad->req, NowNs());
  EXPECT_EQ(c->IoStats(false).TotalIos(), 1u);
  // An I/O queue that closes leaves its figures with the controller.
  std::promise<void> done;
  reactor_.Post([&, io = io] {
    target_->QueueClosed(io);
    done.set_value();
  });
  done.get_future().wait();
  EXPECT_EQ(c->IoStats(false).TotalIos(), 1u);
}

TEST_F(ConnStatsTest, RemovingAHostDisconnectsItUnlessKept) {
  auto [admin, io] = EnableWithIo();
  ASSERT_TRUE(target_->RemoveHost(kNqn, kHost, /*keep_connections=*/true).ok());
  EXPECT_FALSE(admin->closed_);
  EXPECT_FALSE(io->closed_);
  auto conns = target_->Connections(kNqn);
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_FALSE(conns[0].host_allowed);
  // A new controller of the removed host is refused.
  auto& other = NewQueue();
  EXPECT_EQ(Connect(other, 0, kNqn, kHost), CmdSpecific(kScConnectInvalidHost));
  // Added again, then removed without keeping: disconnected.
  ASSERT_TRUE(target_->AddHost(kNqn, kHost).ok());
  EXPECT_TRUE(target_->Connections(kNqn)[0].host_allowed);
  ASSERT_TRUE(target_->RemoveHost(kNqn, kHost).ok());
  EXPECT_TRUE(admin->closed_);
  EXPECT_TRUE(io->closed_);
}

TEST_F(ConnStatsTest, KeepHostConnectedMarksTheNextRemoval) {
  EXPECT_TRUE(target_->SetKeepHostConnected("nqn.2016-06.io.test:none", kHost).Is(nvmf::errc::kSubsystemNotFound));
  EXPECT_TRUE(target_->SetKeepHostConnected(kNqn, "nqn.2014-08.org.nvmexpress:uuid:nobody")
                  .Is(nvmf::errc::kHostNotAllowed));
  auto [admin, io] = EnableWithIo();
  ASSERT_TRUE(target_->SetKeepHostConnected(kNqn, kHost).ok());
  ASSERT_TRUE(target_->RemoveHost(kNqn, kHost).ok());
  EXPECT_FALSE(admin->closed_);
  EXPECT_FALSE(target_->Connections(kNqn)[0].host_allowed);
  // The mark went with that removal.
  ASSERT_TRUE(target_->AddHost(kNqn, kHost).ok());
  ASSERT_TRUE(target_->RemoveHost(kNqn, kHost).ok());
  EXPECT_TRUE(admin->closed_);
}

}  // namespace
}  // namespace nvmeof::test
