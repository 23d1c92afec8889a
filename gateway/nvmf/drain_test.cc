// Draining (Target::DrainAnaGroup / DrainNamespace) and I/O that completes after its
// namespace turned inaccessible, on a device that holds I/O until the test lets it go.
#include <future>

#include "gateway/nvmf/target_test_util.h"

namespace nvmeof::test {
namespace {

// A memory device whose I/O waits (submitted from the reactor) until Release().
class HoldingDevice final : public BlockDevice {
 public:
  explicit HoldingDevice(uint64_t size) : inner_(OpenMemoryDevice(size)), info_(inner_->info()) {
    info_.coalesce = false;
  }
  uint64_t size() const override { return inner_->size(); }
  const BdevInfo& info() const override { return info_; }
  nvmeof::Status resize(uint64_t n) override { return inner_->resize(n); }
  void submit(BdevIo* io) override {
    std::lock_guard<std::mutex> lk(mu_);
    held_.push_back(io);
    cv_.notify_all();
  }
  // Waits until n I/Os are held.
  bool WaitHeld(size_t n) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, std::chrono::seconds(10), [&] { return held_.size() >= n; });
  }
  size_t held() {
    std::lock_guard<std::mutex> lk(mu_);
    return held_.size();
  }
  // Runs what is held on the memory device (from the test's thread).
  void Release() {
    std::vector<BdevIo*> v;
    {
      std::lock_guard<std::mutex> lk(mu_);
      v.swap(held_);
    }
    for (BdevIo* io : v) inner_->submit(io);
  }

 private:
  std::unique_ptr<BlockDevice> inner_;
  BdevInfo info_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<BdevIo*> held_;
};

constexpr uint32_t kGroup = 2;
constexpr uint64_t kLong = 60'000'000'000;  // a drain that must end because the I/O did

class DrainTest : public TargetTest {
 protected:
  // Namespace `nsid` in ANA group kGroup over a holding device.
  HoldingDevice* AddHeld(uint32_t nsid) {
    auto dev = std::make_unique<HoldingDevice>(1 << 20);
    HoldingDevice* d = dev.get();
    NamespaceSpec spec;
    spec.nsid = nsid;
    spec.block_size = 512;
    spec.anagrpid = kGroup;
    EXPECT_TRUE(target_->AddNamespace(kNqn, spec, std::move(dev)).ok());
    return d;
  }
  // A write of 8 blocks to `nsid` on queue q, started on the reactor (not waited for).
  std::unique_ptr<Cmd> StartWrite(FakeQueue& q, uint32_t nsid) {
    auto c = std::make_unique<Cmd>(8 * 512);
    c->req.cmd.opcode = kIoWrite;
    c->req.cmd.nsid = nsid;
    c->req.cmd.cdw12 = 7;
    c->req.host_to_ctrl = true;
    c->req.qp = &q;
    c->req.bio.done.handler = &q;
    c->req.bio.done.sink = &reactor_;
    Request* r = &c->req;
    reactor_.Post([this, &q, r] { target_->Execute(&q, r); });
    return c;
  }
  void ExpectAnaInaccessible(const Cmd& c) {
    nvme::Status s = c.req.status();
    EXPECT_EQ(s.sct, 3) << "path related status";
    EXPECT_EQ(s.sc, 0x02) << "ANA Inaccessible";
  }
};

// An I/O in flight when its group turns INACCESSIBLE: the drain waits for the device, the
// command completes with ANA Inaccessible instead of its result, new I/O is refused with
// it without reaching the device.
TEST_F(DrainTest, WaitsForInFlightIoWhichCompletesWithAnaInaccessible) {
  HoldingDevice* d = AddHeld(2);
  auto [admin, io] = EnableWithIo();
  auto w = StartWrite(*io, 2);
  ASSERT_TRUE(d->WaitHeld(1));

  ASSERT_TRUE(target_->SetAnaGroupState(kGroup, kAnaInaccessible).ok());
  auto drain = std::async(std::launch::async, [&] { return target_->DrainAnaGroup(kGroup, kLong); });
  // The device still holds the write: the drain cannot be over.
  EXPECT_EQ(drain.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  d->Release();
  nvmeof::Status s = drain.get();
  EXPECT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(io->Wait(&w->req));
  ExpectAnaInaccessible(*w);

  Cmd n(8 * 512);
  n.req.cmd.opcode = kIoWrite;
  n.req.cmd.nsid = 2;
  n.req.cmd.cdw12 = 7;
  n.req.host_to_ctrl = true;
  Run(*io, n);
  ExpectAnaInaccessible(n);
  EXPECT_EQ(d->held(), 0u);  // refused before the device
  EXPECT_TRUE(target_->DrainAnaGroup(kGroup, 0).ok());
}

// The same I/O completes with its own result when the group stays accessible.
TEST_F(DrainTest, InFlightIoOfAnAccessibleGroupCompletesNormally) {
  HoldingDevice* d = AddHeld(2);
  auto [admin, io] = EnableWithIo();
  auto w = StartWrite(*io, 2);
  ASSERT_TRUE(d->WaitHeld(1));
  d->Release();
  ASSERT_TRUE(io->Wait(&w->req));
  EXPECT_EQ(w->req.status(), kSuccess);
  EXPECT_TRUE(target_->DrainAnaGroup(kGroup, 0).ok());
}

// Nothing in flight: the drain needs no time at all (a zero timeout is enough), with or
// without I/O queues.
TEST_F(DrainTest, IdleGroupDrainsAtOnce) {
  AddHeld(2);
  EXPECT_TRUE(target_->DrainAnaGroup(kGroup, 0).ok());
  auto [admin, io] = EnableWithIo();
  Cmd r(8 * 512);
  r.req.cmd.opcode = kIoRead;
  r.req.cmd.nsid = 1;  // group 1, memory device
  r.req.cmd.cdw12 = 7;
  r.req.ctrl_to_host = true;
  EXPECT_EQ(Run(*io, r), kSuccess);
  ASSERT_TRUE(target_->SetAnaGroupState(kGroup, kAnaInaccessible).ok());
  EXPECT_TRUE(target_->DrainAnaGroup(kGroup, 0).ok());
  EXPECT_TRUE(target_->DrainAnaGroup(1, 0).ok());
  EXPECT_TRUE(target_->DrainAnaGroup(77, 0).ok());  // a group without namespaces
  EXPECT_TRUE(target_->DrainAnaGroup(0, 0).Is(nvmf::errc::kAnaGroupNotFound));
}

// Time is up with I/O in flight: the named error; the I/O still completes later.
TEST_F(DrainTest, TimeoutIsNamedError) {
  HoldingDevice* d = AddHeld(2);
  auto [admin, io] = EnableWithIo();
  auto w = StartWrite(*io, 2);
  ASSERT_TRUE(d->WaitHeld(1));
  ASSERT_TRUE(target_->SetAnaGroupState(kGroup, kAnaInaccessible).ok());
  nvmeof::Status s = target_->DrainAnaGroup(kGroup, 1'000'000);
  EXPECT_TRUE(s.Is(nvmf::errc::kDrainTimeout)) << s.ToString();
  EXPECT_NE(s.ToString().find("1 I/O commands still in flight"), std::string::npos) << s.ToString();
  d->Release();
  ASSERT_TRUE(io->Wait(&w->req));
  ExpectAnaInaccessible(*w);
  EXPECT_TRUE(target_->DrainAnaGroup(kGroup, kLong).ok());
}

// DrainNamespace waits for its own namespace only; other groups are not held up by
// another group's I/O.
TEST_F(DrainTest, DrainNamespaceWaitsForItsNamespaceOnly) {
  HoldingDevice* d2 = AddHeld(2);
  AddHeld(3);
  auto [admin, io] = EnableWithIo();
  auto w = StartWrite(*io, 2);
  ASSERT_TRUE(d2->WaitHeld(1));
  EXPECT_TRUE(target_->DrainNamespace(kNqn, 3, 0).ok());
  EXPECT_TRUE(target_->DrainNamespace(kNqn, 1, 0).ok());
  EXPECT_TRUE(target_->DrainAnaGroup(1, 0).ok());
  EXPECT_TRUE(target_->DrainNamespace(kNqn, 2, 1'000'000).Is(nvmf::errc::kDrainTimeout));
  EXPECT_TRUE(target_->DrainNamespace(kNqn, 9, 0).Is(nvmf::errc::kNamespaceNotFound));
  EXPECT_TRUE(target_->DrainNamespace("nqn.2016-06.io.test:none", 2, 0).Is(nvmf::errc::kSubsystemNotFound));

  auto drain = std::async(std::launch::async, [&] { return target_->DrainNamespace(kNqn, 2, kLong); });
  EXPECT_EQ(drain.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  d2->Release();
  EXPECT_TRUE(drain.get().ok());
  ASSERT_TRUE(io->Wait(&w->req));
  EXPECT_EQ(w->req.status(), kSuccess);  // the group stayed OPTIMIZED
}

// A removed namespace's slot serves the next one; the counts stay balanced.
TEST_F(DrainTest, SlotsAreReused) {
  for (int i = 0; i < 3; i++) {
    HoldingDevice* d = AddHeld(2);
    auto [admin, io] = EnableWithIo();
    auto w = StartWrite(*io, 2);
    ASSERT_TRUE(d->WaitHeld(1));
    d->Release();
    ASSERT_TRUE(io->Wait(&w->req));
    EXPECT_EQ(w->req.status(), kSuccess);
    EXPECT_TRUE(target_->DrainNamespace(kNqn, 2, 0).ok());
    CloseAll();
    ASSERT_TRUE(target_->RemoveNamespace(kNqn, 2).ok());
  }
}

}  // namespace
}  // namespace nvmeof::test
