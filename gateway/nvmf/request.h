// What the transport hands the target: one command (Request) on one queue (QueuePair).
//
// The transport (gateway/transport/tcp/tcp_queue.*) owns the bytes: it receives the capsule and
// any host data into req->data before calling Target::Execute, and sends req->data back
// (controller-to-host commands) and the completion when the target calls qp->Complete().
// The target (gateway/nvmf/*) decides what a command does.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "gateway/protocol/nvme.h"
#include "gateway/nvmf/conn_io_stats.h"
#include "gateway/nvmf/nvmf_probe.h"
#include "rbd-backend/block_device.h"

namespace nvmeof {

class Controller;
class Namespace;
class Reactor;
struct NsSnapshot;
class QueuePair;
class QueueAuth;

// I/O coalescing (UnplugIo in gateway/nvmf/commands.h): at most this many adjacent reads or
// writes, and this many bytes, go to the backend as one I/O.
constexpr int kMaxMergedIos = 8;
constexpr uint64_t kMaxMergedBytes = 4u << 20;

struct Request {
  nvme::Sqe cmd{};
  nvme::Cqe rsp{};

  // Data buffer for the whole transfer (SGL length), owned by the transport.
  uint8_t* data = nullptr;
  uint32_t length = 0;    // transfer length from the SGL
  uint32_t c2h_len = 0;   // controller-to-host bytes the handler produced (<= length)
  bool host_to_ctrl = false;
  bool ctrl_to_host = false;

  QueuePair* qp = nullptr;  // set once by the transport

  // Target-side execution state.
  BdevIo bio;
  struct iovec iov{};
  Namespace* ns = nullptr;
  NsSnapshot* snap = nullptr;
  void (*bdev_done)(Request*) = nullptr;  // called on the queue's reactor
  uint64_t start_ns = 0;
  uint32_t step = 0;  // handler scratch (multi-step commands)
  Request* next_throttled = nullptr;
  Request* next_plugged = nullptr;  // QueuePair::plugged_head list
  // On the first command of a merged backend I/O: the others, and every buffer in order.
  Request* next_merged = nullptr;
  struct iovec merged_iov[kMaxMergedIos]{};

  // Connection I/O statistics (conn_io_stats.h). The transport sets `timed` for a read or
  // write on an I/O queue while they are on (Target::conn_io_stats()) and resets it for
  // every new command; only timed commands read the clock for them.
  bool timed = false;
  uint64_t recv_ns = 0;  // capsule received
  uint64_t mark_ns = 0;  // start of the transfer or QoS wait in progress
  IoTimes times;

  void SetStatus(nvme::Status s) { rsp.status = s.Encode(); }
  // The request whose `bio` this is, and the step that runs when it is done (on the
  // queue's reactor, from the queue's CompletionHandler).
  static Request* FromBio(BdevIo* io) {
    return reinterpret_cast<Request*>(reinterpret_cast<uint8_t*>(io) - offsetof(Request, bio));
  }
  void BioDone() { bdev_done(this); }
  nvme::Status status() const { return nvme::Status::Decode(rsp.status); }
};

// Where a connection came in (a listener port).
struct PortInfo {
  std::string traddr;
  std::string trsvcid;
  uint8_t adrfam = nvme::kAdrfamIpv4;
  uint16_t portid = 0;
  // The address this connection reached, as the host sees it (getsockname): what the
  // discovery log page names instead of a wildcard listener address. Empty if unknown.
  std::string local_traddr;
  uint8_t trtype = nvme::kTrtypeTcp;  // the transport it came through
  bool secure = false;                 // a secure (TLS) listener
};

// One NVMe queue pair (= one NVMe/TCP connection). Methods are called on its reactor.
class QueuePair {
 public:
  virtual ~QueuePair() = default;

  // Sends the completion (and, for controller-to-host commands, c2h_len bytes of data).
  virtual void Complete(Request* req) = 0;
  // Closes the connection (from any thread; the work runs on the queue's reactor).
  virtual void Close(const char* reason) = 0;
  virtual Reactor& reactor() = 0;
  virtual std::string peer() const = 0;

  const PortInfo& port() const { return port_; }
  uint16_t qid() const { return qid_; }
  uint16_t sqsize() const { return sqsize_; }  // 0's based
  bool sq_flow_disabled() const { return sq_flow_disabled_; }
  const std::shared_ptr<Controller>& controller() const { return ctrl_; }
  bool connected() const { return ctrl_ != nullptr; }

  // Set by the Connect handler.
  void Bind(std::shared_ptr<Controller> c, uint16_t qid, uint16_t sqsize, bool sqflow_disabled) {
    ctrl_ = std::move(c);
    qid_ = qid;
    sqsize_ = sqsize;
    sq_flow_disabled_ = sqflow_disabled;
    Bound();
  }
  // Called once Connect has bound the queue (qid() tells admin from I/O).
  virtual void Bound() {}
  void Unbind() { ctrl_.reset(); }

  // The TLS PSK identity of a connection through a secure listener, set by the transport
  // before the first command: Connect accepts only the host and subsystem NQNs it names.
  std::string tls_identity;

  // DH-HMAC-CHAP state (gateway/nvmf/auth.h), set by Connect when the host has a key (or by
  // the first Authentication Send); null: the queue needs no authentication.
  std::shared_ptr<QueueAuth> auth;

  // Per-queue namespace cache, maintained by the target (see Subsystem::Snapshot).
  NsSnapshot* ns_cache = nullptr;
  void* ns_cache_owner = nullptr;
  uint32_t inflight = 0;  // commands executing in the target
  // In-flight I/O commands per namespace on this queue's reactor (Target::DrainAnaGroup):
  // the reactor's counters, indexed by Namespace::io_slot(), written only on the reactor.
  // Set by the target at the queue's first I/O command; io_counted until QueueClosed.
  std::atomic<uint32_t>* io_counts = nullptr;
  bool io_counted = false;

  // Commands waiting for their namespace's QoS limits, oldest first.
  Request* throttled_head = nullptr;
  Request* throttled_tail = nullptr;
  bool throttle_timer = false;
  // While the transport works through a batch of received commands it sets `plugged`:
  // reads and writes for devices that coalesce wait here, and UnplugIo (at the end of the
  // batch) submits them, adjacent ones merged.
  bool plugged = false;
  Request* plugged_head = nullptr;
  Request* plugged_tail = nullptr;
  // Connection I/O statistics of this queue (its reactor writes them; RecordIo).
  QueueIoStats io_stats;
  // Adds a timed command that is done (its completion sent at `now`) to io_stats, if it
  // succeeded and the queue is still bound (queue's reactor; controller.cc).
  void RecordIo(Request* req, uint64_t now);
  // The counters of this queue's reactor, set when Connect binds it (Target::QueueBound).
  PollGroupCounters* poll_group = nullptr;
  // Expires when the queue is destroyed (for timers that outlive it).
  std::shared_ptr<int> life = std::make_shared<int>(0);

 protected:
  PortInfo port_;
  std::shared_ptr<Controller> ctrl_;
  uint16_t qid_ = 0;
  uint16_t sqsize_ = 0;
  bool sq_flow_disabled_ = false;
};

}  // namespace nvmeof
