// Specification rules for fabrics, admin and I/O commands that independent hosts and
// conformance suites check (NVMe Base 2.0, NVMe over Fabrics 1.1, NVM Command Set 1.0),
// driven in-process through the target's command handlers.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "gateway/nvmf/target_test_util.h"

namespace nvmeof {
namespace {

using namespace nvme;
using namespace nvmeof::test;

class Conformance : public TargetTest {
 protected:
  // Runs an admin command without data.
  nvme::Status Admin(FakeQueue& q, uint8_t opcode, uint32_t cdw10, uint32_t cdw11 = 0, uint32_t* dw0 = nullptr,
                     uint32_t nsid = 0) {
    Cmd c;
    c.req.cmd.opcode = opcode;
    c.req.cmd.nsid = nsid;
    c.req.cmd.cdw10 = cdw10;
    c.req.cmd.cdw11 = cdw11;
    nvme::Status s = Run(q, c);
    if (dw0) *dw0 = c.req.rsp.dw0;
    return s;
  }
  // Get Log Page into a buffer of len bytes at offset.
  nvme::Status GetLog(FakeQueue& q, uint8_t lid, uint32_t len, uint64_t offset, bool rae, std::vector<uint8_t>* out) {
    Cmd c(len);
    c.req.cmd.opcode = kAdminGetLogPage;
    c.req.cmd.cdw10 = lid | (rae ? 1u << 15 : 0u) | ((len / 4 - 1) << 16);
    c.req.cmd.cdw12 = static_cast<uint32_t>(offset);
    c.req.cmd.cdw13 = static_cast<uint32_t>(offset >> 32);
    c.req.ctrl_to_host = true;
    nvme::Status s = Run(q, c);
    if (out) *out = c.buf;
    return s;
  }
  nvme::Status IdentifyInto(FakeQueue& q, uint8_t cns, uint32_t nsid, std::vector<uint8_t>* out, uint32_t len = 4096) {
    Cmd c(len);
    c.req.cmd.opcode = kAdminIdentify;
    c.req.cmd.nsid = nsid;
    c.req.cmd.cdw10 = cns;
    c.req.ctrl_to_host = true;
    nvme::Status s = Run(q, c);
    if (out) *out = c.buf;
    return s;
  }
  // An I/O command of nlb 512-byte blocks on nsid (data buffer for reads and writes).
  std::unique_ptr<Cmd> Io(FakeQueue& q, uint8_t op, uint32_t nsid, uint64_t slba, uint32_t nlb, uint32_t cdw12_flags = 0) {
    bool data = op == kIoWrite || op == kIoRead;
    auto c = std::make_unique<Cmd>(data ? nlb * 512 : 0);
    c->req.cmd.opcode = op;
    c->req.cmd.nsid = nsid;
    c->req.cmd.cdw10 = static_cast<uint32_t>(slba);
    c->req.cmd.cdw12 = (nlb - 1) | cdw12_flags;
    c->req.host_to_ctrl = op == kIoWrite;
    c->req.ctrl_to_host = op == kIoRead;
    (void)q;
    return c;
  }
  // Posts an Asynchronous Event Request (it completes when an event occurs).
  void PostAer(FakeQueue& q, Cmd& aer) {
    aer.req.cmd.opcode = kAdminAsyncEventRequest;
    aer.req.qp = &q;
    reactor_.Post([&] { target_->Execute(&q, &aer.req); });
  }
  // Adds NSID 2 on a recording device; returns it (owned by the target).
  RecordingDevice* AddRecording(bool volatile_cache) {
    auto dev = std::make_unique<RecordingDevice>(1 << 20, /*coalesce=*/false, volatile_cache);
    RecordingDevice* d = dev.get();
    NamespaceSpec spec;
    spec.nsid = 2;
    spec.block_size = 512;
    EXPECT_TRUE(target_->AddNamespace(kNqn, spec, std::move(dev)).ok());
    return d;
  }
  std::vector<RecordingDevice::Seen> Seen(RecordingDevice* d) {
    std::promise<std::vector<RecordingDevice::Seen>> p;
    reactor_.Post([&p, d] {
      auto v = std::move(d->seen);
      d->seen.clear();
      p.set_value(std::move(v));
    });
    return p.get_future().get();
  }
};

// ------------------------------------------------------------------------------- fabrics

// Connect Invalid Parameters (NVMe-oF 1.1, Connect response): dw0 bits 15:0 IPO, bit 16
// IATTR (1: the field is in the Connect data).
TEST_F(Conformance, ConnectInvalidParametersNamesTheField) {
  auto& q = NewQueue();
  uint32_t dw0 = 0;
  EXPECT_EQ(Connect(q, 0, "nqn.2016-06.io.test:missing", kHost, 0xFFFF, 31, &dw0),
            CmdSpecific(kScConnectInvalidParameters));
  EXPECT_EQ(dw0, 0x00010100u);  // SUBNQN, byte 256 of the data
  auto& q2 = NewQueue();
  EXPECT_EQ(Connect(q2, 0, kNqn, kHost, 0xFFFF, 0, &dw0), CmdSpecific(kScConnectInvalidParameters));
  EXPECT_EQ(dw0, 0x0000002Cu);  // SQSIZE, byte 44 of the SQE
  auto& admin = NewQueue();
  Enable(admin);
  auto& io = NewQueue();
  EXPECT_EQ(Connect(io, 1, kNqn, kHost, 0x7777, 31, &dw0), CmdSpecific(kScConnectInvalidParameters));
  EXPECT_EQ(dw0, 0x00010010u);  // CNTLID, byte 16 of the data
}

// NQNs are NUL-terminated, at most 223 bytes: a HOSTNQN filling all 256 bytes is invalid.
TEST_F(Conformance, ConnectRejectsUnterminatedNqn) {
  auto& q = NewQueue();
  auto c = MakeConnect(0, kNqn, kHost);
  memset(reinterpret_cast<ConnectData*>(c->buf.data())->hostnqn, 'a', sizeof(ConnectData::hostnqn));
  EXPECT_EQ(Run(q, *c), CmdSpecific(kScConnectInvalidParameters));
  EXPECT_EQ(c->req.rsp.dw0, 0x00010200u);  // HOSTNQN, byte 512
}

// Disconnect deletes I/O queues only (SCT 1 / 85h Invalid Queue Type on the admin queue);
// a RECFMT it does not know is Incompatible Format, and the queue stays.
TEST_F(Conformance, DisconnectOnlyOnIoQueues) {
  auto& admin = NewQueue();
  uint16_t cntlid = Enable(admin);
  Cmd d;
  d.req.cmd.opcode = kAdminFabrics;
  reinterpret_cast<uint8_t*>(&d.req.cmd)[4] = kFctypeDisconnect;
  EXPECT_EQ(Run(admin, d), CmdSpecific(kScInvalidQueueType));
  EXPECT_FALSE(admin.closed_);
  auto& io = NewQueue();
  ASSERT_EQ(Connect(io, 1, kNqn, kHost, cntlid), kSuccess);
  Cmd bad;
  bad.req.cmd.opcode = kAdminFabrics;
  reinterpret_cast<uint8_t*>(&bad.req.cmd)[4] = kFctypeDisconnect;
  bad.req.cmd.cdw10 = 1;  // RECFMT 1
  EXPECT_EQ(Run(io, bad), CmdSpecific(kScConnectIncompatibleFormat));
  EXPECT_FALSE(io.closed_);
}

// Property Get/Set belong to the admin queue: on an I/O queue they are an invalid opcode.
TEST_F(Conformance, PropertiesOnlyOnTheAdminQueue) {
  auto [admin, io] = EnableWithIo();
  EXPECT_EQ(PropGet(*io, kPropVs, false), Generic(kScInvalidOpcode));
  EXPECT_EQ(PropSet(*io, kPropCc, 0), Generic(kScInvalidOpcode));
}

// CC: only round robin arbitration, 4 KiB pages and the NVM command set; SHN 11b is
// reserved; while enabled only SHN may change.
TEST_F(Conformance, CcFieldsAreChecked) {
  auto& q = NewQueue();
  ASSERT_EQ(Connect(q, 0, kNqn, kHost), kSuccess);
  const uint32_t ok = kCcEn | (6u << 16) | (4u << 20);
  EXPECT_EQ(PropSet(q, kPropCc, ok | (1u << 11)), Generic(kScInvalidField));  // AMS weighted RR
  EXPECT_EQ(PropSet(q, kPropCc, ok | (1u << 7)), Generic(kScInvalidField));   // MPS 8 KiB
  EXPECT_EQ(PropSet(q, kPropCc, ok | (3u << 14)), Generic(kScInvalidField));  // SHN reserved
  ASSERT_EQ(PropSet(q, kPropCc, ok), kSuccess);
  EXPECT_EQ(PropSet(q, kPropCc, ok | (1u << 7)), Generic(kScInvalidField));
  EXPECT_EQ(PropSet(q, kPropCc, ok | (1u << 14)), kSuccess);  // normal shutdown
}

// A controller level reset (CC.EN 1 -> 0) deletes the I/O queues, aborts outstanding AERs
// and resets features; after re-enabling, the host sets the queue count and reconnects.
TEST_F(Conformance, ControllerResetDeletesIoQueues) {
  auto& admin = NewQueue();
  uint16_t cntlid = Enable(admin);
  auto& io = NewQueue();
  ASSERT_EQ(Connect(io, 1, kNqn, kHost, cntlid), kSuccess);
  Cmd aer;
  PostAer(admin, aer);
  ASSERT_EQ(PropSet(admin, kPropCc, (6u << 16) | (4u << 20)), kSuccess);  // EN 0
  ASSERT_TRUE(admin.Wait(&aer.req)) << "outstanding AER not aborted";
  EXPECT_EQ(aer.req.status(), Generic(kScAbortSqDeleted, false));
  for (int i = 0; i < 40 && !io.closed_; i++) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(io.closed_) << "I/O queue survived the reset";
  EXPECT_FALSE(admin.closed_);
  ASSERT_EQ(PropSet(admin, kPropCc, kCcEn | (6u << 16) | (4u << 20)), kSuccess);
  uint32_t dw0 = 0;
  EXPECT_EQ(Admin(admin, kAdminSetFeatures, kFeatNumberOfQueues, 1 | (1u << 16), &dw0), kSuccess);
  EXPECT_EQ(dw0, 1u | (1u << 16));
  auto& io2 = NewQueue();
  EXPECT_EQ(Connect(io2, 1, kNqn, kHost, cntlid), kSuccess);
}

// A KATO set by Set Features after a Connect without one is enforced.
TEST_F(Conformance, KeepAliveTimerFromSetFeatures) {
  auto& q = NewQueue();
  Enable(q);  // Connect with KATO 0
  ASSERT_EQ(Admin(q, kAdminSetFeatures, kFeatKeepAliveTimer, 200), kSuccess);
  for (int i = 0; i < 60 && !q.closed_; i++) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(q.closed_) << "keep alive timeout set by Set Features did not close the association";
}

// ------------------------------------------------------------------------------- discovery

// The discovery controller offers the discovery log page only, and so claims no other
// (LPA bit 1 commands supported and effects, ELPE); Abort is not in its command set.
TEST_F(Conformance, DiscoveryControllerClaimsOnlyWhatItServes) {
  auto& q = NewQueue();
  ASSERT_EQ(Connect(q, 0, kDiscoveryNqn, kHost), kSuccess);
  ASSERT_EQ(PropSet(q, kPropCc, kCcEn), kSuccess);
  std::vector<uint8_t> b;
  ASSERT_EQ(IdentifyInto(q, kCnsController, 0, &b), kSuccess);
  auto* id = reinterpret_cast<nvme::IdentifyController*>(b.data());
  EXPECT_EQ(id->cntrltype, kCntrlTypeDiscovery);
  EXPECT_EQ(id->lpa & 0x2, 0);
  EXPECT_EQ(id->elpe, 0);
  EXPECT_EQ(id->nn, 0u);
  EXPECT_EQ(GetLog(q, kLogCommandsSupported, 4096, 0, false, nullptr), CmdSpecific(kScInvalidLogPage));
  EXPECT_EQ(Admin(q, kAdminAbort, 0), Generic(kScInvalidOpcode));
}

// Listeners on a wildcard address are published with the address the host reached, never
// as 0.0.0.0 (not an address to connect to).
TEST_F(Conformance, DiscoveryLogNamesReachableAddresses) {
  ListenerSpec any;
  any.traddr = "0.0.0.0";
  any.trsvcid = "4421";
  ASSERT_TRUE(target_->AddListener(kNqn, any).ok());
  auto& q = NewQueue("8009", "0.0.0.0");
  q.set_local_traddr("192.0.2.7");
  ASSERT_EQ(Connect(q, 0, kDiscoveryNqn, kHost), kSuccess);
  ASSERT_EQ(PropSet(q, kPropCc, kCcEn), kSuccess);
  std::vector<uint8_t> b;
  ASSERT_EQ(GetLog(q, kLogDiscovery, 4096, 0, false, &b), kSuccess);
  auto* h = reinterpret_cast<DiscoveryLogHeader*>(b.data());
  ASSERT_EQ(h->numrec, 3u);
  std::vector<std::string> seen;
  for (int i = 0; i < 3; i++) {
    auto* e = reinterpret_cast<DiscoveryLogEntry*>(b.data() + 1024 * (i + 1));
    seen.push_back(std::string(e->traddr) + ":" + e->trsvcid);
    EXPECT_EQ(e->adrfam, kAdrfamIpv4);
  }
  EXPECT_EQ(seen[0], "192.0.2.7:8009");  // the discovery subsystem itself
  EXPECT_NE(std::find(seen.begin(), seen.end(), "192.0.2.7:4421"), seen.end());
  EXPECT_NE(std::find(seen.begin(), seen.end(), "127.0.0.1:4420"), seen.end());
}

// ------------------------------------------------------------------------------- admin

// Identify: version 1.4 (ANA, CNTRLTYPE) as the VS property says; NSID FFFFFFFFh exists
// only with namespace management; every structure needs a 4 KiB buffer.
TEST_F(Conformance, IdentifyVersionBroadcastNsidAndBufferSize) {
  auto& q = NewQueue();
  Enable(q);
  std::vector<uint8_t> b;
  ASSERT_EQ(IdentifyInto(q, kCnsController, 0, &b), kSuccess);
  auto* id = reinterpret_cast<nvme::IdentifyController*>(b.data());
  EXPECT_EQ(id->ver, Version(1, 4));
  uint64_t vs = 0;
  ASSERT_EQ(PropGet(q, kPropVs, false, &vs), kSuccess);
  EXPECT_EQ(vs, Version(1, 4));
  EXPECT_EQ(IdentifyInto(q, kCnsNamespace, 0xFFFFFFFF, nullptr), Generic(kScInvalidNamespaceOrFormat));
  EXPECT_EQ(IdentifyInto(q, kCnsController, 0, nullptr, 512), Generic(kScDataSglLengthInvalid));
}

// Get Log Page: an offset beyond a fixed-size page is an invalid field, and such a failed
// read of the changed namespace list loses nothing. The ANA page reads as zeroes past its
// current end (nvme-cli fetches the largest possible ANA page in 4 KiB pieces).
TEST_F(Conformance, LogPageOffsetBeyondTheEnd) {
  auto& q = NewQueue();
  Enable(q);
  EXPECT_EQ(GetLog(q, kLogSmartHealth, 512, 4096, true, nullptr), Generic(kScInvalidField));
  std::vector<uint8_t> ana;
  EXPECT_EQ(GetLog(q, kLogAna, 4096, 65536, true, &ana), kSuccess);
  EXPECT_EQ(ana, std::vector<uint8_t>(4096, 0));
  AddRecording(false);  // NSID 2 changes
  EXPECT_EQ(GetLog(q, kLogChangedNsList, 4096, 8192, false, nullptr), Generic(kScInvalidField));
  std::vector<uint8_t> b;
  ASSERT_EQ(GetLog(q, kLogChangedNsList, 4096, 0, false, &b), kSuccess);
  uint32_t first;
  memcpy(&first, b.data(), 4);
  EXPECT_EQ(first, 2u);
}

// A notice that had no AER to go to is answered by a read of its log page (RAE clear): it
// is not delivered to a later AER.
TEST_F(Conformance, LogReadRetiresAQueuedNotice) {
  auto& q = NewQueue();
  Enable(q);
  AddRecording(false);  // notice queued: no AER outstanding
  ASSERT_EQ(GetLog(q, kLogChangedNsList, 4096, 0, false, nullptr), kSuccess);
  Cmd aer;
  PostAer(q, aer);
  EXPECT_FALSE(q.Wait(&aer.req, 200)) << "a notice already answered by the log read was delivered";
  CloseAll();  // aborts the AER while `aer` still exists
}

// Features: nothing is saveable, but an unknown feature is an invalid field first.
TEST_F(Conformance, SetFeaturesSaveBit) {
  auto& q = NewQueue();
  Enable(q);
  EXPECT_EQ(Admin(q, kAdminSetFeatures, 0x80u | (1u << 31)), Generic(kScInvalidField));
  EXPECT_EQ(Admin(q, kAdminSetFeatures, kFeatAsyncEventConfig | (1u << 31)), CmdSpecific(kScFeatureIdNotSaveable));
  uint32_t dw0 = 0;
  ASSERT_EQ(Admin(q, kAdminGetFeatures, kFeatAsyncEventConfig | (1u << 8), 0, &dw0), kSuccess);  // default
  EXPECT_EQ(dw0, Controller::kDefaultAec);
  ASSERT_EQ(Admin(q, kAdminSetFeatures, kFeatAsyncEventConfig, 0), kSuccess);
  ASSERT_EQ(Admin(q, kAdminGetFeatures, kFeatAsyncEventConfig | (2u << 8), 0, &dw0), kSuccess);  // saved
  EXPECT_EQ(dw0, Controller::kDefaultAec) << "nothing is saved: the saved value is the default";
  ASSERT_EQ(Admin(q, kAdminGetFeatures, kFeatAsyncEventConfig, 0, &dw0), kSuccess);  // current
  EXPECT_EQ(dw0, 0u);
  ASSERT_EQ(Admin(q, kAdminGetFeatures, kFeatNumberOfQueues | (3u << 8), 0, &dw0), kSuccess);  // capabilities
  EXPECT_EQ(dw0, 0x4u) << "Number of Queues: changeable, not saveable";
}

// Volatile Write Cache (FID 06h): absent, the feature is an invalid field; present, it is
// enabled by default and, cleared, makes every write durable before it completes.
TEST_F(Conformance, VolatileWriteCacheFeature) {
  auto& admin = NewQueue();
  uint16_t cntlid = Enable(admin);
  EXPECT_EQ(Admin(admin, kAdminSetFeatures, kFeatVolatileWriteCache, 0), Generic(kScInvalidField));
  EXPECT_EQ(Admin(admin, kAdminGetFeatures, kFeatVolatileWriteCache), Generic(kScInvalidField));

  RecordingDevice* d = AddRecording(/*volatile_cache=*/true);
  std::vector<uint8_t> b;
  ASSERT_EQ(IdentifyInto(admin, kCnsController, 0, &b), kSuccess);
  EXPECT_EQ(reinterpret_cast<nvme::IdentifyController*>(b.data())->vwc & 1, 1);
  uint32_t dw0 = 0;
  ASSERT_EQ(Admin(admin, kAdminGetFeatures, kFeatVolatileWriteCache, 0, &dw0), kSuccess);
  EXPECT_EQ(dw0, 1u);
  auto& io = NewQueue();
  ASSERT_EQ(Connect(io, 1, kNqn, kHost, cntlid), kSuccess);
  auto w = Io(io, kIoWrite, 2, 0, 1);
  ASSERT_EQ(Run(io, *w), kSuccess);
  auto wz = Io(io, kIoWriteZeroes, 2, 8, 1, kRwFua);
  ASSERT_EQ(Run(io, *wz), kSuccess);
  auto seen = Seen(d);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_FALSE(seen[0].fua);
  EXPECT_EQ(seen[1].op, BdevOp::kWriteZeroes);
  EXPECT_TRUE(seen[1].fua) << "Write Zeroes with FUA";

  ASSERT_EQ(Admin(admin, kAdminSetFeatures, kFeatVolatileWriteCache, 0), kSuccess);
  ASSERT_EQ(Admin(admin, kAdminGetFeatures, kFeatVolatileWriteCache, 0, &dw0), kSuccess);
  EXPECT_EQ(dw0, 0u);
  auto w2 = Io(io, kIoWrite, 2, 0, 1);
  ASSERT_EQ(Run(io, *w2), kSuccess);
  auto wz2 = Io(io, kIoWriteZeroes, 2, 8, 1);
  ASSERT_EQ(Run(io, *wz2), kSuccess);
  seen = Seen(d);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[0].fua) << "write with the cache disabled";
  EXPECT_TRUE(seen[1].fua) << "write zeroes with the cache disabled";
}

// ------------------------------------------------------------------------------- I/O

// A FUA Read (or Compare) returns what is on stable media: with a volatile write cache the
// cache is flushed first; without one the read goes straight to the device.
TEST_F(Conformance, FuaReadCommitsTheCacheFirst) {
  auto [admin, iop] = EnableWithIo();
  FakeQueue& io = *iop;
  RecordingDevice* d = AddRecording(/*volatile_cache=*/true);
  auto r = Io(io, kIoRead, 2, 0, 1, kRwFua);
  ASSERT_EQ(Run(io, *r), kSuccess);
  auto seen = Seen(d);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].op, BdevOp::kFlush);
  EXPECT_EQ(seen[1].op, BdevOp::kRead);
  auto plain = Io(io, kIoRead, 2, 0, 1);
  ASSERT_EQ(Run(io, *plain), kSuccess);
  seen = Seen(d);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].op, BdevOp::kRead);
  reactor_.Post([&] { d->fail_next = -ESHUTDOWN; });  // the flush fails: so does the read
  auto f = Io(io, kIoRead, 2, 0, 1, kRwFua);
  EXPECT_EQ(Run(io, *f), Path(kScInternalPathError));
  EXPECT_EQ(Seen(d).size(), 1u);
}

// A write-protected (read-only) namespace: Identify Namespace NSATTR bit 0 set; Write,
// Write Zeroes and Dataset Management with Deallocate fail with Namespace is Write
// Protected (SCT 0h, SC 20h) and never reach the device; reads, flushes and DSM hints work.
TEST_F(Conformance, ReadOnlyNamespaceIsWriteProtected) {
  auto [admin, iop] = EnableWithIo();
  FakeQueue& io = *iop;
  auto dev = std::make_unique<RecordingDevice>(1 << 20, /*coalesce=*/false, /*volatile_cache=*/false);
  RecordingDevice* d = dev.get();
  NamespaceSpec spec;
  spec.nsid = 3;
  spec.read_only = true;
  ASSERT_TRUE(target_->AddNamespace(kNqn, spec, std::move(dev)).ok());
  std::vector<uint8_t> b;
  ASSERT_EQ(IdentifyInto(*admin, kCnsNamespace, 3, &b), kSuccess);
  EXPECT_EQ(reinterpret_cast<nvme::IdentifyNamespace*>(b.data())->nsattr, 0x01);
  ASSERT_EQ(IdentifyInto(*admin, kCnsNamespace, 1, &b), kSuccess);
  EXPECT_EQ(reinterpret_cast<nvme::IdentifyNamespace*>(b.data())->nsattr, 0x00) << "a writable namespace";

  const nvme::Status wp = Generic(kScNamespaceWriteProtected);
  auto w = Io(io, kIoWrite, 3, 0, 1);
  EXPECT_EQ(Run(io, *w), wp);
  auto wz = Io(io, kIoWriteZeroes, 3, 0, 1);
  EXPECT_EQ(Run(io, *wz), wp);
  auto dsm = std::make_unique<Cmd>(sizeof(DsmRange));
  dsm->req.cmd.opcode = kIoDatasetManagement;
  dsm->req.cmd.nsid = 3;
  dsm->req.cmd.cdw11 = kDsmAttrDeallocate;
  dsm->req.host_to_ctrl = true;
  DsmRange range{};
  range.nlb = 1;
  memcpy(dsm->buf.data(), &range, sizeof(range));
  EXPECT_EQ(Run(io, *dsm), wp);
  EXPECT_TRUE(Seen(d).empty()) << "nothing reached the device";

  auto r = Io(io, kIoRead, 3, 0, 1);
  EXPECT_EQ(Run(io, *r), kSuccess);
  auto f = Io(io, kIoFlush, 3, 0, 1);
  EXPECT_EQ(Run(io, *f), kSuccess);
  auto hint = std::make_unique<Cmd>(sizeof(DsmRange));
  hint->req.cmd.opcode = kIoDatasetManagement;
  hint->req.cmd.nsid = 3;
  hint->req.cmd.cdw11 = 0x1;  // integral dataset for read: a hint
  hint->req.host_to_ctrl = true;
  memcpy(hint->buf.data(), &range, sizeof(range));
  EXPECT_EQ(Run(io, *hint), kSuccess);
  auto w1 = Io(io, kIoWrite, 1, 0, 1);
  EXPECT_EQ(Run(io, *w1), kSuccess) << "the writable namespace beside it";
}

// Backend errors become statuses a host can act on: a lost path to the cluster is a path
// error (DNR clear: retry on another path), a full pool Capacity Exceeded, anything else an
// internal error the host may retry.
TEST_F(Conformance, BackendErrorsMapToNvmeStatus) {
  auto [admin, iop] = EnableWithIo();
  FakeQueue& io = *iop;
  RecordingDevice* d = AddRecording(false);
  struct Case {
    int err;
    nvme::Status want;
  };
  for (Case c : {Case{-ESHUTDOWN, Path(kScInternalPathError)}, Case{-ETIMEDOUT, Path(kScInternalPathError)},
                 Case{-ENOTCONN, Path(kScInternalPathError)}, Case{-ENOSPC, Generic(kScCapacityExceeded)},
                 Case{-EIO, Generic(kScInternalError, false)}}) {
    reactor_.Post([&] { d->fail_next = c.err; });
    auto w = Io(io, kIoWrite, 2, 0, 1);
    EXPECT_EQ(Run(io, *w), c.want) << strerror(-c.err);
    EXPECT_EQ(w->req.status().dnr, c.want.dnr) << strerror(-c.err);
  }
}

// ANA Change state (NVMe Base 2.0, 8.1.3.5), what gateway-group HA reports while a group
// moves: the ANA log page carries state 0Fh (with and without the NSID lists: RGO, LSP bit
// 0) and the change count of the step, and a command to a namespace of the group completes
// with Asymmetric Access Transition (SCT 3h, SC 03h, DNR clear) before reaching the device.
TEST_F(Conformance, AnaChangeStateInTheLogPageAndOnCommands) {
  auto [admin_b, iop] = EnableWithIo();
  auto admin = admin_b;  // a plain variable: clang 14 refuses a structured binding in a lambda
  FakeQueue& io = *iop;
  RecordingDevice* d = AddRecording(false);
  const uint64_t before = target_->ana().change_count();
  ASSERT_TRUE(target_->SetAnaGroupState(1, kAnaChange).ok());
  EXPECT_EQ(target_->ana().change_count(), before + 1);
  auto read_ana = [&](bool rgo) {
    Cmd c(4096);
    c.req.cmd.opcode = kAdminGetLogPage;
    c.req.cmd.cdw10 = kLogAna | (rgo ? 1u << 8 : 0u) | (1u << 15) | ((4096 / 4 - 1) << 16);
    c.req.ctrl_to_host = true;
    EXPECT_EQ(Run(*admin, c), kSuccess);
    return c.buf;
  };
  const uint8_t cc = static_cast<uint8_t>(before + 1);
  // Header: change count, 1 descriptor. Descriptor: group 1, 2 NSIDs, change count, state 0Fh; NSIDs 1, 2.
  std::vector<uint8_t> want = {cc, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                               1,  0, 0, 0, 2, 0, 0, 0, cc, 0, 0, 0, 0, 0, 0, 0,
                               0x0F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                               1,  0, 0, 0, 2, 0, 0, 0};
  std::vector<uint8_t> page = read_ana(false);
  EXPECT_EQ(std::vector<uint8_t>(page.begin(), page.begin() + want.size()), want);
  EXPECT_EQ(std::vector<uint8_t>(page.begin() + want.size(), page.end()), std::vector<uint8_t>(4096 - want.size(), 0));
  // RGO: no NSID list, the descriptor says 0 NSIDs.
  std::vector<uint8_t> want_rgo(want.begin(), want.begin() + 48);
  want_rgo[20] = 0;
  page = read_ana(true);
  EXPECT_EQ(std::vector<uint8_t>(page.begin(), page.begin() + 48), want_rgo);
  EXPECT_EQ(std::vector<uint8_t>(page.begin() + 48, page.begin() + 56), std::vector<uint8_t>(8, 0));
  // Commands: Asymmetric Access Transition; the device sees nothing.
  for (uint8_t op : {kIoWrite, kIoRead}) {
    auto c = Io(io, op, 2, 0, 1);
    nvme::Status st = Run(io, *c);
    EXPECT_EQ(st.sct, kSctPath);
    EXPECT_EQ(st.sc, kScAnaTransition);
    EXPECT_FALSE(st.dnr);
  }
  EXPECT_TRUE(Seen(d).empty());
  // Out of Change (the group served here): the same command succeeds.
  ASSERT_TRUE(target_->SetAnaGroupState(1, kAnaOptimized).ok());
  auto w = Io(io, kIoWrite, 2, 0, 1);
  EXPECT_EQ(Run(io, *w), kSuccess);
}

}  // namespace
}  // namespace nvmeof
