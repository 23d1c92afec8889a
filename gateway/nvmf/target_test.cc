// Target model and command handling, driven in-process: a fake queue pair on a real reactor
// stands in for the transport.
#include "gateway/nvmf/target.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "gateway/runtime/reactor.h"
#include "gateway/nvmf/controller.h"
#include "gateway/nvmf/target_test_util.h"

namespace nvmeof {
namespace {

using namespace nvme;
using namespace nvmeof::test;


TEST_F(TargetTest, ManagementErrnos) {
  SubsystemSpec s;
  s.nqn = kNqn;
  EXPECT_TRUE(target_->AddSubsystem(s).Is(nvmf::errc::kSubsystemExists));
  EXPECT_TRUE(target_->RemoveSubsystem("nqn.2016-06.io.test:nope", false).Is(nvmf::errc::kSubsystemNotFound));
  EXPECT_TRUE(target_->RemoveSubsystem(kNqn, false).Is(nvmf::errc::kSubsystemHasNamespaces));  // has a namespace
  NamespaceSpec ns;
  ns.nsid = 1;
  EXPECT_TRUE(target_->AddNamespace(kNqn, ns, OpenMemoryDevice(1 << 20)).status().Is(nvmf::errc::kNsidInUse));
  ns.nsid = 2;
  ns.block_size = 0;
  EXPECT_TRUE(target_->AddNamespace(kNqn, ns, OpenMemoryDevice(1 << 20)).status().Is(nvmf::errc::kBadBlockSize));
  EXPECT_TRUE(target_->RemoveNamespace(kNqn, 7).Is(nvmf::errc::kNamespaceNotFound));
  EXPECT_TRUE(target_->AddHost(kNqn, kHost).Is(nvmf::errc::kHostExists));
  EXPECT_TRUE(target_->RemoveHost(kNqn, "nqn.2014-08.org.nvmexpress:uuid:nobody").Is(nvmf::errc::kHostNotAllowed));
  EXPECT_TRUE(target_->ResizeNamespace(kNqn, 1, 4096).Is(nvmf::errc::kShrinkRefused));  // shrink
  EXPECT_TRUE(target_->ResizeNamespace(kNqn, 1, 2 << 20).ok());
  EXPECT_EQ(target_->FindSubsystem(kNqn)->GetNamespace(1)->num_blocks(), (2u << 20) / 512);
}

TEST(TargetLimits, ForcedSubsystemRemovalReturnsItsNamespacesToTheGatewayCap) {
  TargetOptions o;
  o.max_namespaces_per_gateway = 2;
  Target t(o);
  SubsystemSpec s;
  s.nqn = kNqn;
  ASSERT_TRUE(t.AddSubsystem(s).ok());
  NamespaceSpec ns;
  ASSERT_TRUE(t.AddNamespace(kNqn, ns, OpenMemoryDevice(1 << 20)).ok());
  ASSERT_TRUE(t.AddNamespace(kNqn, ns, OpenMemoryDevice(1 << 20)).ok());
  EXPECT_TRUE(t.AddNamespace(kNqn, ns, OpenMemoryDevice(1 << 20)).status().Is(nvmf::errc::kTooManyNamespaces));
  ASSERT_TRUE(t.RemoveSubsystem(kNqn, /*force=*/true).ok());
  ASSERT_TRUE(t.AddSubsystem(s).ok());
  EXPECT_TRUE(t.AddNamespace(kNqn, ns, OpenMemoryDevice(1 << 20)).ok());
  EXPECT_TRUE(t.AddNamespace(kNqn, ns, OpenMemoryDevice(1 << 20)).ok());
}

TEST_F(TargetTest, NamespaceUuidsStableAndUnique) {
  NamespaceSpec ns;
  ns.nsid = 5;
  Uuid u;
  ASSERT_TRUE(ParseUuid("0f8d1b3c-1111-4a22-9b33-444455556666", &u));
  ns.uuid = u;
  auto r = target_->AddNamespace(kNqn, ns, OpenMemoryDevice(1 << 20));
  ASSERT_TRUE(r.ok());
  auto n5 = target_->FindSubsystem(kNqn)->GetNamespace(5);
  EXPECT_EQ(UuidToString(n5->uuid()), "0f8d1b3c-1111-4a22-9b33-444455556666");
  ns.nsid = 6;  // same UUID again
  EXPECT_TRUE(target_->AddNamespace(kNqn, ns, OpenMemoryDevice(1 << 20)).status().Is(nvmf::errc::kUuidInUse));
}

TEST_F(TargetTest, ConnectChecksSubsystemHostAndPort) {
  auto& q = NewQueue();
  EXPECT_EQ(Connect(q, 0, "nqn.2016-06.io.test:missing", kHost), CmdSpecific(kScConnectInvalidParameters));
  EXPECT_EQ(Connect(q, 0, kNqn, "nqn.2014-08.org.nvmexpress:uuid:stranger"), CmdSpecific(kScConnectInvalidHost));
  auto& other_port = NewQueue("4421");
  EXPECT_EQ(Connect(other_port, 0, kNqn, kHost), CmdSpecific(kScConnectInvalidParameters));
  EXPECT_EQ(Connect(q, 0, kNqn, kHost, 0xFFFF, 0), CmdSpecific(kScConnectInvalidParameters));  // sqsize 0
  uint32_t dw0 = 0;
  EXPECT_EQ(Connect(q, 0, kNqn, kHost, 0xFFFF, 31, &dw0), kSuccess);
  EXPECT_GE(dw0, 10u);
  EXPECT_LE(dw0, 12u);
  EXPECT_EQ(Connect(q, 0, kNqn, kHost), Generic(kScCommandSequenceError));  // already connected
}

TEST_F(TargetTest, CntlidRangeExhaustion) {
  for (int i = 0; i < 3; i++) EXPECT_EQ(Connect(NewQueue(), 0, kNqn, kHost), kSuccess);
  EXPECT_EQ(Connect(NewQueue(), 0, kNqn, kHost).sc, kScConnectControllerBusy);
}

TEST_F(TargetTest, IoQueueNeedsEnabledControllerAndMatchingHost) {
  auto& admin = NewQueue();
  uint32_t cntlid = 0;
  ASSERT_EQ(Connect(admin, 0, kNqn, kHost, 0xFFFF, 31, &cntlid), kSuccess);
  auto& io = NewQueue();
  EXPECT_EQ(Connect(io, 1, kNqn, kHost, static_cast<uint16_t>(cntlid)), Generic(kScCommandSequenceError));
  ASSERT_EQ(PropSet(admin, kPropCc, kCcEn | (6u << 16) | (4u << 20)), kSuccess);
  EXPECT_EQ(Connect(io, 1, kNqn, kHost, 0x7777), CmdSpecific(kScConnectInvalidParameters));
  EXPECT_EQ(Connect(io, 1, kNqn, kHost, static_cast<uint16_t>(cntlid)), kSuccess);
  auto& dup = NewQueue();
  EXPECT_EQ(Connect(dup, 1, kNqn, kHost, static_cast<uint16_t>(cntlid)), Generic(kScCommandSequenceError));
  auto& beyond = NewQueue();
  EXPECT_EQ(Connect(beyond, 200, kNqn, kHost, static_cast<uint16_t>(cntlid)),
            CmdSpecific(kScConnectInvalidParameters));
}

TEST_F(TargetTest, CommandsBeforeEnableAreSequenceErrors) {
  auto& q = NewQueue();
  ASSERT_EQ(Connect(q, 0, kNqn, kHost), kSuccess);
  Cmd c(4096);
  c.req.cmd.opcode = kAdminIdentify;
  c.req.cmd.cdw10 = kCnsController;
  c.req.ctrl_to_host = true;
  EXPECT_EQ(Run(q, c), Generic(kScCommandSequenceError));
}

TEST_F(TargetTest, IdentifyControllerFields) {
  auto& q = NewQueue();
  uint16_t cntlid = Enable(q);
  Cmd c(4096);
  c.req.cmd.opcode = kAdminIdentify;
  c.req.cmd.cdw10 = kCnsController;
  c.req.ctrl_to_host = true;
  ASSERT_EQ(Run(q, c), kSuccess);
  auto* id = reinterpret_cast<IdentifyController*>(c.buf.data());
  EXPECT_EQ(id->cntlid, cntlid);
  EXPECT_EQ(id->cntrltype, kCntrlTypeIo);
  EXPECT_EQ(std::string(id->subnqn), kNqn);
  EXPECT_EQ(id->ioccsz, (64u + TargetOptions{}.in_capsule_data_size) / 16u);
  EXPECT_EQ(id->iorcsz, 1u);
  EXPECT_EQ(id->cmic, kCmicMultiCtrl | kCmicAna);
  EXPECT_EQ(id->oncs, kOncsCompare | kOncsDsm | kOncsWriteZeroes);
  EXPECT_EQ(id->sqes, 0x66);
  EXPECT_EQ(id->cqes, 0x44);
  EXPECT_EQ(c.req.c2h_len, 4096u);
}

TEST_F(TargetTest, UnknownOpcodesAndLogPages) {
  auto& q = NewQueue();
  Enable(q);
  Cmd c;
  c.req.cmd.opcode = 0xC1;
  EXPECT_EQ(Run(q, c), Generic(kScInvalidOpcode));
  Cmd l(512);
  l.req.cmd.opcode = kAdminGetLogPage;
  l.req.cmd.cdw10 = 0x7F | ((512 / 4 - 1) << 16);
  l.req.ctrl_to_host = true;
  EXPECT_EQ(Run(q, l), CmdSpecific(kScInvalidLogPage));
  Cmd i(4096);
  i.req.cmd.opcode = kAdminIdentify;
  i.req.cmd.cdw10 = 0x55;
  i.req.ctrl_to_host = true;
  EXPECT_EQ(Run(q, i), Generic(kScInvalidField));
}


// Reads and writes started while the queue is plugged reach a coalescing backend at Unplug,
// adjacent ones of the same direction as one vectored I/O; each command completes with
// its own data; a failed merged I/O fails each of its commands.
TEST_F(TargetTest, PluggedAdjacentIosReachTheBackendAsOne) {
  auto dev = std::make_unique<RecordingDevice>(1 << 20);
  RecordingDevice* d = dev.get();
  NamespaceSpec spec;
  spec.nsid = 2;
  spec.block_size = 512;
  ASSERT_TRUE(target_->AddNamespace(kNqn, spec, std::move(dev)).ok());
  auto& admin = NewQueue();
  uint16_t cntlid = Enable(admin);
  auto& io = NewQueue();
  ASSERT_EQ(Connect(io, 1, kNqn, kHost, cntlid), kSuccess);

  auto make = [&](uint8_t op, uint64_t slba, uint32_t nlb, uint8_t fill, bool fua = false) {
    auto c = std::make_unique<Cmd>(nlb * 512);
    c->req.cmd.opcode = op;
    c->req.cmd.nsid = 2;
    c->req.cmd.cdw10 = static_cast<uint32_t>(slba);
    c->req.cmd.cdw12 = (nlb - 1) | (fua ? kRwFua : 0);
    c->req.host_to_ctrl = op == kIoWrite;
    c->req.ctrl_to_host = op == kIoRead;
    c->req.qp = &io;
    c->req.bio.done.handler = &io;
    c->req.bio.done.sink = &reactor_;
    memset(c->buf.data(), fill, c->buf.size());
    return c;
  };
  // Runs the commands as one plugged batch; returns what the device saw.
  auto batch = [&](std::vector<std::unique_ptr<Cmd>>& cmds) {
    std::promise<std::vector<RecordingDevice::Seen>> seen;
    reactor_.Post([&] {
      d->seen.clear();
      io.plugged = true;
      for (auto& c : cmds) target_->Execute(&io, &c->req);
      target_->Unplug(&io);
      seen.set_value(d->seen);
    });
    auto v = seen.get_future().get();
    for (auto& c : cmds) EXPECT_TRUE(io.Wait(&c->req)) << "command did not complete";
    return v;
  };

  std::vector<std::unique_ptr<Cmd>> w;
  w.push_back(make(kIoWrite, 0, 8, 0x11));
  w.push_back(make(kIoWrite, 8, 8, 0x22));
  w.push_back(make(kIoWrite, 16, 4, 0x33));
  w.push_back(make(kIoWrite, 40, 8, 0x44));        // not adjacent
  w.push_back(make(kIoWrite, 48, 8, 0x55, true));  // FUA: never held back
  auto seen = batch(w);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].op, BdevOp::kWrite);  // the FUA write went first, at once
  EXPECT_EQ(seen[0].offset, 48u * 512);
  EXPECT_EQ(seen[0].iovcnt, 1);
  EXPECT_EQ(seen[1].offset, 0u);
  EXPECT_EQ(seen[1].length, 20u * 512);
  EXPECT_EQ(seen[1].iovcnt, 3);
  EXPECT_EQ(seen[2].offset, 40u * 512);
  EXPECT_EQ(seen[2].length, 8u * 512);
  EXPECT_EQ(seen[2].iovcnt, 1);
  for (auto& c : w) EXPECT_EQ(c->req.status(), kSuccess);

  std::vector<std::unique_ptr<Cmd>> r;
  r.push_back(make(kIoRead, 0, 8, 0));
  r.push_back(make(kIoRead, 8, 8, 0));
  r.push_back(make(kIoRead, 16, 4, 0));
  r.push_back(make(kIoWrite, 20, 4, 0x66));  // other direction: its own I/O
  seen = batch(r);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].op, BdevOp::kRead);
  EXPECT_EQ(seen[0].length, 20u * 512);
  EXPECT_EQ(seen[0].iovcnt, 3);
  EXPECT_EQ(seen[1].op, BdevOp::kWrite);
  for (auto& c : r) EXPECT_EQ(c->req.status(), kSuccess);
  EXPECT_EQ(r[0]->buf, std::vector<uint8_t>(8 * 512, 0x11));
  EXPECT_EQ(r[1]->buf, std::vector<uint8_t>(8 * 512, 0x22));
  EXPECT_EQ(r[2]->buf, std::vector<uint8_t>(4 * 512, 0x33));
  EXPECT_EQ(r[0]->req.c2h_len, 8u * 512);

  // At most kMaxMergedIos commands per backend I/O.
  std::vector<std::unique_ptr<Cmd>> many;
  for (int i = 0; i < kMaxMergedIos + 2; i++) many.push_back(make(kIoRead, 8u * i, 8, 0));
  seen = batch(many);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].iovcnt, kMaxMergedIos);
  EXPECT_EQ(seen[1].iovcnt, 2);

  // A merged I/O that fails fails each of its commands.
  std::vector<std::unique_ptr<Cmd>> f;
  f.push_back(make(kIoWrite, 0, 8, 0x77));
  f.push_back(make(kIoWrite, 8, 8, 0x77));
  reactor_.Post([&] { d->fail_next = -EIO; });
  seen = batch(f);
  ASSERT_EQ(seen.size(), 1u);
  for (auto& c : f) EXPECT_EQ(c->req.status(), Generic(kScInternalError, false));

  // Unplugged (the default), nothing is held back or merged.
  Cmd single(512);
  single.req.cmd.opcode = kIoRead;
  single.req.cmd.nsid = 2;
  single.req.ctrl_to_host = true;
  reactor_.Post([&] { d->seen.clear(); });
  EXPECT_EQ(Run(io, single), kSuccess);
  std::promise<size_t> n;
  reactor_.Post([&] { n.set_value(d->seen.size()); });
  EXPECT_EQ(n.get_future().get(), 1u);
}

TEST_F(TargetTest, IoRangeAndNamespaceChecks) {
  auto& admin = NewQueue();
  uint16_t cntlid = Enable(admin);
  auto& io = NewQueue();
  ASSERT_EQ(Connect(io, 1, kNqn, kHost, cntlid), kSuccess);
  auto rw = [&](uint8_t op, uint32_t nsid, uint64_t slba, uint32_t nlb, uint32_t len) {
    Cmd c(len);
    c.req.cmd.opcode = op;
    c.req.cmd.nsid = nsid;
    c.req.cmd.cdw10 = static_cast<uint32_t>(slba);
    c.req.cmd.cdw11 = static_cast<uint32_t>(slba >> 32);
    c.req.cmd.cdw12 = nlb - 1;
    c.req.host_to_ctrl = op == kIoWrite;
    c.req.ctrl_to_host = op == kIoRead;
    for (size_t k = 0; k < c.buf.size(); k++) c.buf[k] = static_cast<uint8_t>(k * 7);
    nvme::Status s = Run(io, c);
    return std::make_pair(s, c.buf);
  };
  uint64_t blocks = (1 << 20) / 512;
  // NSID 2 is valid (NN = 1024) but inactive: Invalid Field; 0, FFFFFFFFh and beyond NN
  // are invalid NSIDs.
  EXPECT_EQ(rw(kIoRead, 2, 0, 1, 512).first, Generic(kScInvalidField));
  EXPECT_EQ(rw(kIoRead, 1025, 0, 1, 512).first, Generic(kScInvalidNamespaceOrFormat));
  EXPECT_EQ(rw(kIoRead, 0, 0, 1, 512).first, Generic(kScInvalidNamespaceOrFormat));
  EXPECT_EQ(rw(kIoRead, 0xFFFFFFFF, 0, 1, 512).first, Generic(kScInvalidNamespaceOrFormat));
  EXPECT_EQ(rw(kIoRead, 1, blocks, 1, 512).first, Generic(kScLbaOutOfRange));
  EXPECT_EQ(rw(kIoRead, 1, blocks - 1, 2, 1024).first, Generic(kScLbaOutOfRange));
  EXPECT_EQ(rw(kIoRead, 1, ~0ull, 2, 1024).first, Generic(kScLbaOutOfRange));  // overflow
  EXPECT_EQ(rw(kIoRead, 1, 0, 2, 512).first, Generic(kScDataSglLengthInvalid));
  auto w = rw(kIoWrite, 1, 8, 4, 2048);
  EXPECT_EQ(w.first, kSuccess);
  auto r = rw(kIoRead, 1, 8, 4, 2048);
  EXPECT_EQ(r.first, kSuccess);
  EXPECT_EQ(r.second, w.second);
  // Compare: match, then mismatch.
  Cmd cmp(2048);
  cmp.req.cmd.opcode = kIoCompare;
  cmp.req.cmd.nsid = 1;
  cmp.req.cmd.cdw10 = 8;
  cmp.req.cmd.cdw12 = 3;
  cmp.req.host_to_ctrl = true;
  cmp.buf = w.second;
  cmp.req.data = cmp.buf.data();
  EXPECT_EQ(Run(io, cmp), kSuccess);
  Cmd bad(2048);
  bad.req.cmd = cmp.req.cmd;
  bad.req.host_to_ctrl = true;
  EXPECT_EQ(Run(io, bad), Media(kScCompareFailure));
}

TEST_F(TargetTest, NamespaceAddRaisesAenAndChangedList) {
  auto& q = NewQueue();
  Enable(q);
  Cmd aer;
  aer.req.cmd.opcode = kAdminAsyncEventRequest;
  aer.req.qp = &q;
  reactor_.Post([&] { target_->Execute(&q, &aer.req); });
  NamespaceSpec ns;
  ns.nsid = 3;
  ASSERT_TRUE(target_->AddNamespace(kNqn, ns, OpenMemoryDevice(1 << 20)).ok());
  ASSERT_TRUE(q.Wait(&aer.req));
  EXPECT_EQ(aer.req.rsp.dw0, AsyncEventDw0(kAerNotice, kAenNsAttrChanged, kLogChangedNsList));
  Cmd l(4096);
  l.req.cmd.opcode = kAdminGetLogPage;
  l.req.cmd.cdw10 = kLogChangedNsList | ((4096 / 4 - 1) << 16);
  l.req.ctrl_to_host = true;
  ASSERT_EQ(Run(q, l), kSuccess);
  uint32_t first;
  memcpy(&first, l.buf.data(), 4);
  EXPECT_EQ(first, 3u);
  // The list was cleared by the read (RAE = 0).
  Cmd l2(4096);
  l2.req.cmd = l.req.cmd;
  l2.req.ctrl_to_host = true;
  ASSERT_EQ(Run(q, l2), kSuccess);
  memcpy(&first, l2.buf.data(), 4);
  EXPECT_EQ(first, 0u);
}

TEST_F(TargetTest, AerLimit) {
  auto& q = NewQueue();
  Enable(q);
  std::vector<std::unique_ptr<Cmd>> aers;
  for (uint32_t i = 0; i < Controller::kAerLimit + 1; i++) {
    aers.push_back(std::make_unique<Cmd>());
    aers.back()->req.cmd.opcode = kAdminAsyncEventRequest;
    aers.back()->req.qp = &q;
    Request* r = &aers.back()->req;
    reactor_.Post([this, &q, r] { target_->Execute(&q, r); });
  }
  ASSERT_TRUE(q.Wait(&aers.back()->req));
  EXPECT_EQ(nvme::Status::Decode(aers.back()->req.rsp.status), CmdSpecific(kScAsyncEventRequestLimitExceeded));
  CloseAll();  // the other AERs are still outstanding: abort them before their memory goes
  for (uint32_t i = 0; i < Controller::kAerLimit; i++)
    EXPECT_EQ(nvme::Status::Decode(aers[i]->req.rsp.status), Generic(kScAbortSqDeleted, false));
}

TEST_F(TargetTest, AnaInaccessibleFailsIoWithPathError) {
  auto& admin = NewQueue();
  uint16_t cntlid = Enable(admin);
  auto& io = NewQueue();
  ASSERT_EQ(Connect(io, 1, kNqn, kHost, cntlid), kSuccess);
  ASSERT_TRUE(target_->SetAnaState(kNqn, 1, kAnaInaccessible).ok());
  Cmd c(512);
  c.req.cmd.opcode = kIoRead;
  c.req.cmd.nsid = 1;
  c.req.ctrl_to_host = true;
  nvme::Status s = Run(io, c);
  EXPECT_EQ(s.sct, kSctPath);
  EXPECT_EQ(s.sc, kScAnaInaccessible);
  EXPECT_FALSE(s.dnr);
  // The probe counted the controller, the ANA change and the failed command.
  NvmfProbe& p = target_->probe();
  EXPECT_EQ(p.controllers_created.load(), 1u);
  EXPECT_EQ(p.ana_changes.load(), 1u);
  EXPECT_EQ(p.errors_by_sct[kSctPath].load(), 1u);
  EXPECT_EQ(p.errors_by_sct[kSctGeneric].load(), 0u);
}

// One ANA table per gateway: a group's state holds for every subsystem, a subsystem's own
// state for a group wins, each change is counted once, and a state may be set for a
// subsystem before it exists.
TEST(AnaTableTest, GroupStateSubsystemStateAndChangeCount) {
  AnaTable t;
  EXPECT_EQ(t.State("nqn.a", 1), kAnaOptimized);
  EXPECT_TRUE(t.SetGroup(1, kAnaInaccessible));
  EXPECT_FALSE(t.SetGroup(1, kAnaInaccessible));
  EXPECT_EQ(t.change_count(), 1u);
  EXPECT_EQ(t.State("nqn.a", 1), kAnaInaccessible);
  EXPECT_EQ(t.State("nqn.b", 1), kAnaInaccessible);
  EXPECT_EQ(t.State("nqn.a", 2), kAnaOptimized);
  EXPECT_TRUE(t.SetForSubsystem("nqn.a", 1, kAnaOptimized));
  EXPECT_EQ(t.State("nqn.a", 1), kAnaOptimized);
  EXPECT_EQ(t.State("nqn.b", 1), kAnaInaccessible);
  EXPECT_FALSE(t.SetForSubsystem("nqn.b", 1, kAnaInaccessible));  // already so: no change
  EXPECT_EQ(t.change_count(), 2u);
  t.ForgetSubsystem("nqn.a");
  EXPECT_EQ(t.State("nqn.a", 1), kAnaInaccessible);
}

TEST_F(TargetTest, AnaStateRulesAndEarlyState) {
  EXPECT_TRUE(target_->SetAnaState(kNqn, 0, kAnaInaccessible).Is(nvmf::errc::kAnaGroupNotFound));
  EXPECT_TRUE(target_->SetAnaState(kNqn, 1, 0x7).Is(nvmf::errc::kBadAnaState));
  EXPECT_TRUE(target_->SetAnaGroupState(target_->options().anagrpmax + 1, kAnaInaccessible).Is(nvmf::errc::kAnaGroupNotFound));
  EXPECT_TRUE(target_->SetAnaState(kDiscoveryNqn, 1, kAnaInaccessible).Is(nvmf::errc::kDiscoveryHasNoAna));
  ASSERT_TRUE(target_->SetAnaState("nqn.2016-06.io.spdk:later", 3, kAnaInaccessible).ok());
  SubsystemSpec later;
  later.nqn = "nqn.2016-06.io.spdk:later";
  ASSERT_TRUE(target_->AddSubsystem(later).ok());
  EXPECT_EQ(target_->AnaState(later.nqn, 3), kAnaInaccessible);
  EXPECT_EQ(target_->AnaState(kNqn, 3), kAnaOptimized);
  ASSERT_TRUE(target_->SetAnaGroupState(1, kAnaNonOptimized).ok());
  EXPECT_EQ(target_->FindSubsystem(kNqn)->BuildTable(kHost)->ana_state[1], kAnaNonOptimized);
}

TEST_F(TargetTest, NoAutoVisibleNamespaceNeedsHost) {
  NamespaceSpec ns;
  ns.nsid = 9;
  ns.auto_visible = false;
  ASSERT_TRUE(target_->AddNamespace(kNqn, ns, OpenMemoryDevice(1 << 20)).ok());
  auto s = target_->FindSubsystem(kNqn);
  EXPECT_EQ(s->BuildTable(kHost)->active, (std::vector<uint32_t>{1}));
  ASSERT_TRUE(target_->AddNamespaceHost(kNqn, 9, kHost).ok());
  EXPECT_EQ(s->BuildTable(kHost)->active, (std::vector<uint32_t>{1, 9}));
  EXPECT_TRUE(target_->AddNamespaceHost(kNqn, 1, kHost).Is(nvmf::errc::kNamespaceAutoVisible));  // auto-visible
}

TEST_F(TargetTest, KeepAliveTimeoutTearsDown) {
  auto& q = NewQueue();
  auto c = MakeConnect(0, kNqn, kHost);
  reinterpret_cast<ConnectCmd*>(&c->req.cmd)->kato = 200;
  ASSERT_EQ(Run(q, *c), kSuccess);
  for (int i = 0; i < 40 && !q.closed_; i++) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(q.closed_) << "keep alive timeout did not close the admin queue";
}

// A wildcard listener (IPv4 or IPv6) serves connections to any address; removing it
// drops the controllers that came in through it.
TEST_F(TargetTest, RemovingAWildcardListenerDropsItsControllers) {
  for (const char* any : {"0.0.0.0", "::"}) {
    ListenerSpec l;
    l.traddr = any;
    l.trsvcid = "4421";
    l.adrfam = any[0] == ':' ? kAdrfamIpv6 : kAdrfamIpv4;
    ASSERT_TRUE(target_->AddListener(kNqn, l).ok()) << any;
    auto& q = NewQueue("4421");
    Enable(q);
    ASSERT_TRUE(target_->RemoveListener(kNqn, l).ok()) << any;
    for (int i = 0; i < 40 && !q.closed_; i++) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_TRUE(q.closed_) << "controller connected through " << any << " kept after its listener was removed";
  }
}

TEST_F(TargetTest, DiscoveryLogListsOnlyWhatTheHostMayUse) {
  auto entries = [&](const std::string& host) {
    auto& q = NewQueue();
    uint32_t dw0 = 0;
    EXPECT_EQ(Connect(q, 0, kDiscoveryNqn, host, 0xFFFF, 31, &dw0), kSuccess);
    EXPECT_EQ(PropSet(q, kPropCc, kCcEn), kSuccess);
    Cmd l(4096);
    l.req.cmd.opcode = kAdminGetLogPage;
    l.req.cmd.cdw10 = kLogDiscovery | ((4096 / 4 - 1) << 16);
    l.req.ctrl_to_host = true;
    EXPECT_EQ(Run(q, l), kSuccess);
    auto* h = reinterpret_cast<DiscoveryLogHeader*>(l.buf.data());
    std::vector<std::pair<int, std::string>> v;
    for (uint64_t i = 0; i < h->numrec && i < 3; i++) {
      auto* e = reinterpret_cast<DiscoveryLogEntry*>(l.buf.data() + 1024 * (i + 1));
      v.push_back({e->subtype, std::string(e->subnqn) + "@" + e->traddr + ":" + e->trsvcid});
    }
    return v;
  };
  auto allowed = entries(kHost);
  ASSERT_EQ(allowed.size(), 2u);
  EXPECT_EQ(allowed[0].first, kSubtypeCurrentDiscovery);
  EXPECT_EQ(allowed[1], std::make_pair(int{kSubtypeNvm}, std::string(kNqn) + "@127.0.0.1:4420"));
  auto other = entries("nqn.2014-08.org.nvmexpress:uuid:someone-else");
  ASSERT_EQ(other.size(), 1u);  // only the discovery subsystem itself
  EXPECT_EQ(other[0].first, kSubtypeCurrentDiscovery);
}

TEST_F(TargetTest, DiscoveryLogChangeNoticeReachesDiscoveryControllers) {
  auto& q = NewQueue();
  ASSERT_EQ(Connect(q, 0, kDiscoveryNqn, kHost), kSuccess);
  ASSERT_EQ(PropSet(q, kPropCc, kCcEn), kSuccess);
  Cmd aer;
  aer.req.cmd.opcode = kAdminAsyncEventRequest;
  aer.req.qp = &q;
  reactor_.Post([&] { target_->Execute(&q, &aer.req); });
  // A change to what hosts may discover: a new listener on the subsystem.
  ListenerSpec l;
  l.traddr = "127.0.0.1";
  l.trsvcid = "4430";
  ASSERT_TRUE(target_->AddListener(kNqn, l).ok());
  ASSERT_TRUE(q.Wait(&aer.req));
  EXPECT_EQ(aer.req.rsp.dw0, AsyncEventDw0(kAerNotice, kAenDiscoveryLogChange, kLogDiscovery));
}

// The group's other gateways' listeners are listed too, each with a port ID of its own
// (distinct from this gateway's ports), their address as given (never the address this
// host used), wildcards left out; adding and removing one raises the change notice.
TEST_F(TargetTest, DiscoveryLogListsTheOtherGatewaysListeners) {
  ListenerSpec p1;
  p1.host_name = "gw2";
  p1.traddr = "10.0.0.2";
  p1.trsvcid = "4420";
  ListenerSpec p2 = p1;
  p2.host_name = "gw3";
  p2.traddr = "fd00::3";
  p2.adrfam = kAdrfamIpv6;
  ListenerSpec wild = p1;
  wild.host_name = "gw4";
  wild.traddr = "0.0.0.0";

  auto& q = NewQueue();
  ASSERT_EQ(Connect(q, 0, kDiscoveryNqn, kHost), kSuccess);
  ASSERT_EQ(PropSet(q, kPropCc, kCcEn), kSuccess);
  Cmd aer;
  aer.req.cmd.opcode = kAdminAsyncEventRequest;
  aer.req.qp = &q;
  reactor_.Post([&] { target_->Execute(&q, &aer.req); });
  const uint64_t gen0 = target_->discovery_genctr();
  ASSERT_TRUE(target_->AddPeerListener(kNqn, p1).ok());
  ASSERT_TRUE(q.Wait(&aer.req));
  EXPECT_EQ(aer.req.rsp.dw0, AsyncEventDw0(kAerNotice, kAenDiscoveryLogChange, kLogDiscovery));
  EXPECT_GT(target_->discovery_genctr(), gen0);
  ASSERT_TRUE(target_->AddPeerListener(kNqn, p2).ok());
  ASSERT_TRUE(target_->AddPeerListener(kNqn, wild).ok());
  EXPECT_TRUE(target_->AddPeerListener(kNqn, p1).IsAlreadyExists());
  EXPECT_TRUE(target_->AddPeerListener("nqn.2016-06.io.spdk:none", p1).IsNotFound());

  auto read = [&] {
    Cmd l(8192);
    l.req.cmd.opcode = kAdminGetLogPage;
    l.req.cmd.cdw10 = kLogDiscovery | ((8192 / 4 - 1) << 16);
    l.req.ctrl_to_host = true;
    EXPECT_EQ(Run(q, l), kSuccess);
    auto* h = reinterpret_cast<DiscoveryLogHeader*>(l.buf.data());
    std::vector<DiscoveryLogEntry> v;
    for (uint64_t i = 0; i < h->numrec && i < 7; i++)
      v.push_back(*reinterpret_cast<DiscoveryLogEntry*>(l.buf.data() + 1024 * (i + 1)));
    return v;
  };
  auto v = read();
  ASSERT_EQ(v.size(), 4u);  // discovery, this gateway's listener, gw2's, gw3's (gw4's wildcard left out)
  std::set<uint16_t> portids;  // of the NVM entries (the discovery entry is the port this host used)
  for (size_t i = 1; i < v.size(); i++) portids.insert(uint16_t{v[i].portid});
  EXPECT_EQ(portids.size(), 3u);
  EXPECT_EQ(v[0].portid, v[1].portid);  // this host came in through this gateway's listener
  EXPECT_EQ(std::string(v[1].traddr), "127.0.0.1");
  EXPECT_EQ(std::string(v[2].subnqn), kNqn);
  EXPECT_EQ(std::string(v[2].traddr), "10.0.0.2");
  EXPECT_EQ(std::string(v[2].trsvcid), "4420");
  EXPECT_EQ(v[2].adrfam, kAdrfamIpv4);
  EXPECT_EQ(v[2].subtype, kSubtypeNvm);
  EXPECT_EQ(std::string(v[3].traddr), "fd00::3");
  EXPECT_EQ(v[3].adrfam, kAdrfamIpv6);
  auto peers = target_->PeerListeners(kNqn);
  ASSERT_EQ(peers.size(), 3u);
  EXPECT_EQ(peers[0].second, uint16_t{v[2].portid});

  const uint64_t gen1 = target_->discovery_genctr();
  ASSERT_TRUE(target_->RemovePeerListener(kNqn, p1).ok());
  EXPECT_GT(target_->discovery_genctr(), gen1);
  EXPECT_TRUE(target_->RemovePeerListener(kNqn, p1).IsNotFound());
  v = read();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(std::string(v[2].traddr), "fd00::3");
  // Deleting the subsystem drops them.
  ASSERT_TRUE(target_->RemoveSubsystem(kNqn, true).ok());
  EXPECT_TRUE(target_->PeerListeners(kNqn).empty());
}

// DisconnectAll closes every queue of every controller and returns once the controllers are
// gone (here the fake transport reports the queues closed when asked), or the number left
// at the timeout.
TEST_F(TargetTest, DisconnectAllClosesEveryQueueAndWaits) {
  auto queues = EnableWithIo();
  FakeQueue* admin = queues.first;
  FakeQueue* io = queues.second;
  EXPECT_EQ(target_->DisconnectAll("test", 0), 1u);  // asked, not yet closed
  EXPECT_TRUE(admin->closed_.load());
  EXPECT_TRUE(io->closed_.load());
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    reactor_.RunSync([&] {
      target_->QueueClosed(io);
      target_->QueueClosed(admin);
    });
  });
  EXPECT_EQ(target_->DisconnectAll("test", 10'000'000'000ull), 0u);
  closer.join();
  auto s = target_->FindSubsystem(kNqn);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->Controllers().empty());
}

// Namespace identities derive from NameUuid: a change of the hash would give every
// namespace a new UUID after an upgrade, so its value for a fixed name is pinned.
TEST(UuidTest, NameBasedIsStableAndDistinct) {
  EXPECT_EQ(UuidToString(NameUuid("nqn.a|1|file|/x")), "63a33a7d-7781-8ff4-99f0-7b253636e8b3");
  EXPECT_EQ(UuidToString(NameUuid("")), "1cd5146e-917a-80b7-b37f-96c81f2b2d30");
  EXPECT_EQ(NameUuid("nqn.a|1|file|/x"), NameUuid("nqn.a|1|file|/x"));
  EXPECT_NE(NameUuid("nqn.a|1|file|/x"), NameUuid("nqn.a|2|file|/x"));
  EXPECT_EQ(NameUuid("x")[6] >> 4, 8);
}

TEST(UuidTest, RoundTripAndRejects) {
  Uuid u = RandomUuid();
  Uuid v;
  ASSERT_TRUE(ParseUuid(UuidToString(u), &v));
  EXPECT_EQ(u, v);
  EXPECT_EQ(u[6] >> 4, 4);
  EXPECT_FALSE(ParseUuid("not-a-uuid", &v));
  EXPECT_FALSE(ParseUuid("0f8d1b3c-1111-4a22-9b33-44445555666g", &v));
}

}  // namespace
}  // namespace nvmeof
