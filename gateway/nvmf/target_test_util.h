// In-process harness for the target's command handlers: a fake queue pair on a real reactor
// stands in for the transport. Used by target_test.cc and conformance_test.cc.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/runtime/reactor.h"
#include "gateway/nvmf/controller.h"
#include "gateway/nvmf/target.h"

namespace nvmeof::test {

using namespace nvme;

inline constexpr char kNqn[] = "nqn.2016-06.io.test:t1";
inline constexpr char kHost[] = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";

class FakeQueue final : public QueuePair, public CompletionHandler {
 public:
  FakeQueue(Reactor& r, const std::string& traddr, const std::string& trsvcid) : reactor_(r) {
    port_.traddr = traddr;
    port_.trsvcid = trsvcid;
    port_.portid = 1;
  }
  ~FakeQueue() override { Target::ReleaseSnapshots(this); }
  void Complete(Request* req) override {
    std::lock_guard<std::mutex> lk(mu_);
    done_.push_back(req);
    cv_.notify_all();
  }
  void Close(const char*) override { closed_ = true; }
  Reactor& reactor() override { return reactor_; }
  std::string peer() const override { return "fake"; }
  void OnComplete(Completion* c) override { Request::FromBio(BdevIo::From(c))->BioDone(); }
  // Waits for req to complete (it may already have).
  bool Wait(Request* req, int ms = 2000) {
    std::unique_lock<std::mutex> lk(mu_);
    bool ok = cv_.wait_for(lk, std::chrono::milliseconds(ms), [&] {
      return std::find(done_.begin(), done_.end(), req) != done_.end();
    });
    // Consume it: the next command may reuse the same address.
    if (ok) done_.erase(std::find(done_.begin(), done_.end(), req));
    return ok;
  }
  std::atomic<bool> closed_{false};
  void set_local_traddr(const std::string& a) { port_.local_traddr = a; }

 private:
  Reactor& reactor_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request*> done_;
};

struct Cmd {
  Request req;
  std::vector<uint8_t> buf;
  explicit Cmd(uint32_t len = 0) : buf(len) {
    req.data = len ? buf.data() : nullptr;
    req.length = len;
  }
};

class TargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor_.Start();
    TargetOptions o;
    o.min_cntlid = 10;
    o.max_cntlid = 12;
    Tune(o);
    target_ = std::make_unique<Target>(o);
    SubsystemSpec s;
    s.nqn = kNqn;
    s.allow_any_host = false;
    ASSERT_TRUE(target_->AddSubsystem(s).ok());
    ASSERT_TRUE(target_->AddHost(kNqn, kHost).ok());
    ListenerSpec l;
    l.traddr = "127.0.0.1";
    l.trsvcid = "4420";
    ASSERT_TRUE(target_->AddListener(kNqn, l).ok());
    NamespaceSpec ns;
    ns.nsid = 1;
    ns.block_size = 512;
    ASSERT_TRUE(target_->AddNamespace(kNqn, ns, OpenMemoryDevice(1 << 20)).ok());
  }
  void TearDown() override {
    CloseAll();
    reactor_.Stop();
  }
  // A fixture's changes to the target's options.
  virtual void Tune(TargetOptions&) {}
  // Closes every queue (aborting outstanding AERs) and waits until that ran.
  void CloseAll() {
    std::promise<void> done;
    reactor_.Post([&] {
      for (auto& q : queues_) target_->QueueClosed(q.get());
      done.set_value();
    });
    done.get_future().wait();
    queues_.clear();
  }

  // Runs a command on the reactor (as the transport would) and waits for its completion.
  nvme::Status Run(FakeQueue& q, Cmd& c) {
    c.req.qp = &q;
    c.req.bio.done.handler = &q;
    c.req.bio.done.sink = &reactor_;
    reactor_.Post([&] { target_->Execute(&q, &c.req); });
    EXPECT_TRUE(q.Wait(&c.req)) << "command did not complete";
    return nvme::Status::Decode(c.req.rsp.status);
  }

  FakeQueue& NewQueue(const std::string& port = "4420", const std::string& traddr = "127.0.0.1") {
    queues_.push_back(std::make_unique<FakeQueue>(reactor_, traddr, port));
    return *queues_.back();
  }

  // A Connect command with its data (host ID 0xAB..., KATO 0), to run or to alter first.
  static std::unique_ptr<Cmd> MakeConnect(uint16_t qid, const std::string& subnqn, const std::string& host,
                                          uint16_t cntlid = 0xFFFF, uint16_t sqsize = 31) {
    auto c = std::make_unique<Cmd>(sizeof(ConnectData));
    auto* cmd = reinterpret_cast<ConnectCmd*>(&c->req.cmd);
    cmd->opcode = kAdminFabrics;
    cmd->fctype = kFctypeConnect;
    cmd->qid = qid;
    cmd->sqsize = sqsize;
    cmd->kato = 0;
    auto* d = reinterpret_cast<ConnectData*>(c->buf.data());
    memset(d->hostid, 0xAB, 16);
    d->cntlid = cntlid;
    CopyZeroPadded(d->subnqn, sizeof(d->subnqn), subnqn.c_str());
    CopyZeroPadded(d->hostnqn, sizeof(d->hostnqn), host.c_str());
    c->req.host_to_ctrl = true;
    return c;
  }
  nvme::Status Connect(FakeQueue& q, uint16_t qid, const std::string& subnqn, const std::string& host,
                 uint16_t cntlid = 0xFFFF, uint16_t sqsize = 31, uint32_t* dw0 = nullptr) {
    auto c = MakeConnect(qid, subnqn, host, cntlid, sqsize);
    nvme::Status s = Run(q, *c);
    if (dw0) *dw0 = c->req.rsp.dw0;
    return s;
  }

  nvme::Status PropGet(FakeQueue& q, uint32_t off, bool eight, uint64_t* v = nullptr) {
    Cmd c;
    auto* p = reinterpret_cast<PropertyCmd*>(&c.req.cmd);
    p->opcode = kAdminFabrics;
    p->fctype = kFctypePropertyGet;
    p->attrib = eight ? 1 : 0;
    p->offset = off;
    nvme::Status s = Run(q, c);
    if (v) *v = c.req.rsp.dw0 | (static_cast<uint64_t>(c.req.rsp.dw1) << 32);
    return s;
  }

  nvme::Status PropSet(FakeQueue& q, uint32_t off, uint64_t v) {
    Cmd c;
    auto* p = reinterpret_cast<PropertyCmd*>(&c.req.cmd);
    p->opcode = kAdminFabrics;
    p->fctype = kFctypePropertySet;
    p->offset = off;
    p->value = v;
    return Run(q, c);
  }

  // Connects an admin queue and enables the controller. Returns the cntlid.
  uint16_t Enable(FakeQueue& q) {
    uint32_t dw0 = 0;
    EXPECT_EQ(Connect(q, 0, kNqn, kHost, 0xFFFF, 31, &dw0), kSuccess);
    EXPECT_EQ(PropSet(q, kPropCc, kCcEn | (6u << 16) | (4u << 20)), kSuccess);
    return static_cast<uint16_t>(dw0);
  }
  // An enabled controller with I/O queue 1: {admin, io}.
  std::pair<FakeQueue*, FakeQueue*> EnableWithIo() {
    auto& admin = NewQueue();
    uint16_t cntlid = Enable(admin);
    auto& io = NewQueue();
    EXPECT_EQ(Connect(io, 1, kNqn, kHost, cntlid), kSuccess);
    return {&admin, &io};
  }

  Reactor reactor_{0};
  std::unique_ptr<Target> target_;
  std::vector<std::unique_ptr<FakeQueue>> queues_;
};

// A memory device that records what it is given (on the reactor thread), can fail the next
// I/O with an errno, and can claim coalescing or a volatile write cache.
class RecordingDevice final : public BlockDevice {
 public:
  struct Seen {
    BdevOp op;
    uint64_t offset, length;
    int iovcnt;
    bool fua;
  };
  explicit RecordingDevice(uint64_t size, bool coalesce = true, bool volatile_cache = false)
      : inner_(OpenMemoryDevice(size)), info_(inner_->info()) {
    info_.coalesce = coalesce;
    info_.volatile_write_cache = volatile_cache;
  }
  uint64_t size() const override { return inner_->size(); }
  const BdevInfo& info() const override { return info_; }
  nvmeof::Status resize(uint64_t n) override { return inner_->resize(n); }
  void submit(BdevIo* io) override {
    seen.push_back({io->op, io->offset, io->length, io->iovcnt, io->fua});
    if (fail_next) {
      io->result = fail_next;
      fail_next = 0;
      io->Finish();
      return;
    }
    inner_->submit(io);
  }
  std::vector<Seen> seen;  // reactor thread only
  int fail_next = 0;       // -errno for the next I/O

 private:
  std::unique_ptr<BlockDevice> inner_;
  BdevInfo info_;
};

}  // namespace nvmeof::test
