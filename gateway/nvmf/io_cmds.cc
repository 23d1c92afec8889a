// I/O commands (NVM command set): Read, Write, Flush, Write Zeroes, Dataset Management,
// Compare, translated to block-device I/O. The hot path: no locks, no allocation.
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>

#include "gateway/common/clock.h"
#include "gateway/common/log.h"
#include "gateway/runtime/reactor.h"
#include "gateway/nvmf/commands.h"
#include "gateway/nvmf/controller.h"
#include "gateway/nvmf/target.h"
#include "gateway/nvmf/transfer.h"

namespace nvmeof {

using namespace nvme;

namespace {

// Starting LBA and number of blocks (0's based on the wire) of a Read, Write, Compare or
// Write Zeroes.
uint64_t Slba(const Sqe& c) { return c.cdw10 | (static_cast<uint64_t>(c.cdw11) << 32); }
uint64_t Nlb(const Sqe& c) { return (c.cdw12 & 0xFFFF) + 1ull; }

// Builds the queue's new view after the subsystem changed (the slow part of Snapshot).
[[gnu::noinline]] NsSnapshot* RefreshSnapshot(QueuePair* qp, Controller& c) {
  NsSnapshot* cur = qp->ns_cache;
  Subsystem& s = c.subsystem();
  auto* fresh = new NsSnapshot{s.BuildTable(c.hostnqn()), 0, cur};
  qp->ns_cache = fresh;
  // Free retired snapshots nobody uses any more.
  NsSnapshot** link = &fresh->older;
  while (*link) {
    NsSnapshot* o = *link;
    if (o->inflight == 0) {
      *link = o->older;
      delete o;
    } else {
      link = &o->older;
    }
  }
  return fresh;
}

// The queue's view of the subsystem's namespaces, refreshed when the subsystem changed.
// Inline: every I/O command asks it twice (admission, completion).
inline NsSnapshot* Snapshot(QueuePair* qp, Controller& c) {
  NsSnapshot* cur = qp->ns_cache;
  if (cur && cur->table->gen == c.subsystem().ns_gen()) [[likely]] return cur;
  return RefreshSnapshot(qp, c);
}

void ReleaseSnapshot(QueuePair* qp, NsSnapshot* snap) {
  if (--snap->inflight || snap == qp->ns_cache) return;
  for (NsSnapshot** link = &qp->ns_cache->older; *link; link = &(*link)->older) {
    if (*link == snap) {
      *link = snap->older;
      delete snap;
      return;
    }
  }
}

// Backend errno to NVMe status. Losing the path to the cluster must look like a path error,
// so a multipath host retries elsewhere instead of failing the I/O.
nvme::Status FromErrno(int r) {
  if (r == 0) [[likely]] return kSuccess;
  switch (-r) {
    case EILSEQ:
      return Media(kScCompareFailure);
    case ERANGE:
      return Generic(kScLbaOutOfRange);
    case ENOSPC:
      return Generic(kScCapacityExceeded);
    case ESHUTDOWN:
    case ENOTCONN:
    case ETIMEDOUT:
    case ECONNREFUSED:
    case ECONNRESET:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EROFS:
      return Path(kScInternalPathError);
    case EINVAL:
      return Generic(kScInvalidField);
    default:
      return Generic(kScInternalError, false);
  }
}

// What a command for a namespace in ANA state `state` completes with when the state does
// not let it run: a path status, so a multipath host retries on another path.
nvme::Status AnaStatus(uint8_t state) {
  switch (state) {
    case kAnaOptimized:
    case kAnaNonOptimized:
      return kSuccess;
    case kAnaInaccessible:
      return Path(kScAnaInaccessible);
    case kAnaPersistentLoss:
      return Path(kScAnaPersistentLoss);
    default:
      return Path(kScAnaTransition);
  }
}

// AnaStatus of the command's namespace as its queue sees the subsystem now (one generation
// check; the snapshot is rebuilt only after a change).
inline nvme::Status AnaStatusNow(QueuePair* qp, const Request* req) {
  Controller* c = qp->controller().get();
  if (!c) [[unlikely]] return kSuccess;  // the queue is closed: the host sees nothing
  const NsTable& now = *Snapshot(qp, *c)->table;
  uint32_t nsid = req->cmd.nsid;
  return nsid < now.ana_state.size() ? AnaStatus(now.ana_state[nsid]) : kSuccess;
}

// Completes an admitted command. If its namespace stopped being accessible through this
// gateway while it was in flight (self-fenced, handed over: Target::DrainAnaGroup), the
// host gets the ANA state's path status instead of the result and retries elsewhere.
void Done(Request* req, nvme::Status st) {
  QueuePair* qp = req->qp;
  if (req->snap) {
    ReleaseSnapshot(qp, req->snap);
    req->snap = nullptr;
    std::atomic<uint32_t>& n = qp->io_counts[req->ns->io_slot()];
    n.store(n.load(std::memory_order_relaxed) - 1, std::memory_order_release);
    if (nvme::Status a = AnaStatusNow(qp, req); !a.ok()) [[unlikely]] st = a;
  }
  qp->inflight--;
  if (PollGroupCounters* pg = qp->poll_group) {
    PollGroupCounters::Sub(pg->pending_io, 1);
    PollGroupCounters::Add(pg->completed_io, 1);
  }
  CompleteWith(qp, req, st);
}

void AccountAndDone(Request* req) {
  Namespace* ns = req->ns;
  int r = req->bio.result;
  uint64_t ns_elapsed = NowNs() - req->start_ns;
  if (req->timed) req->times.bdev_ns = ns_elapsed;
  NsStats& st = ns->stats();
  if (r == 0) {
    switch (req->bio.op) {
      case BdevOp::kRead:
        st.read_bytes.fetch_add(req->bio.length, std::memory_order_relaxed);
        st.read_ns.fetch_add(ns_elapsed, std::memory_order_relaxed);
        st.read_latency[NsStats::LatencyBucket(ns_elapsed)].fetch_add(1, std::memory_order_relaxed);
        req->c2h_len = req->length;
        break;
      case BdevOp::kWrite:
        st.write_bytes.fetch_add(req->bio.length, std::memory_order_relaxed);
        st.write_ns.fetch_add(ns_elapsed, std::memory_order_relaxed);
        st.write_latency[NsStats::LatencyBucket(ns_elapsed)].fetch_add(1, std::memory_order_relaxed);
        break;
      case BdevOp::kDiscard:
        st.unmap_ops.fetch_add(1, std::memory_order_relaxed);
        break;
      default:
        break;
    }
  } else if (r != -EILSEQ) {
    st.errors.fetch_add(1, std::memory_order_relaxed);
    LOG_DEBUG("namespace %u: backend I/O failed: %s", ns->nsid(), strerror(-r));
  }
  Done(req, FromErrno(r));
}

// Dataset Management: one range after the other, reusing the request's single BdevIo.
void DsmNext(Request* req) {
  if (req->step > 0 && req->bio.result != 0) return Done(req, FromErrno(req->bio.result));
  uint32_t nr = (req->cmd.cdw10 & 0xFF) + 1;
  Namespace* ns = req->ns;
  while (req->step < nr) {
    DsmRange range;
    memcpy(&range, req->data + req->step * sizeof(DsmRange), sizeof(range));
    req->step++;
    if (range.nlb == 0) continue;
    req->bio.op = BdevOp::kDiscard;
    req->bio.offset = range.slba * ns->block_size();
    req->bio.length = uint64_t{range.nlb} * ns->block_size();
    req->bio.iov = nullptr;
    req->bio.iovcnt = 0;
    req->bdev_done = DsmNext;
    ns->stats().unmap_ops.fetch_add(1, std::memory_order_relaxed);
    ns->dev().submit(&req->bio);
    return;
  }
  Done(req, kSuccess);
}

void Submit(Request* req, BdevOp op, uint64_t offset, uint64_t length, bool with_data) {
  req->bio.op = op;
  req->bio.offset = offset;
  req->bio.length = length;
  // FUA for writes and write zeroes; every write is FUA while the host has the volatile
  // write cache disabled (Set Features 06h).
  req->bio.fua = (op == BdevOp::kWrite || op == BdevOp::kWriteZeroes) &&
                 ((req->cmd.cdw12 & kRwFua) || !req->qp->controller()->volatile_write_cache.load(std::memory_order_relaxed));
  if (with_data) {
    req->iov.iov_base = req->data;
    req->iov.iov_len = length;
    req->bio.iov = &req->iov;
    req->bio.iovcnt = 1;
  } else {
    req->bio.iov = nullptr;
    req->bio.iovcnt = 0;
  }
  req->bdev_done = AccountAndDone;
  req->start_ns = NowNs();
  QueuePair* qp = req->qp;
  if (qp->plugged && with_data && (op == BdevOp::kRead || op == BdevOp::kWrite) && !req->bio.fua &&
      req->ns->dev().info().coalesce) {
    req->next_plugged = nullptr;
    if (qp->plugged_tail) qp->plugged_tail->next_plugged = req;
    else qp->plugged_head = req;
    qp->plugged_tail = req;
    return;
  }
  req->ns->dev().submit(&req->bio);
}

// A merged backend I/O completed: every command in it completes with its result.
void MergedDone(Request* first) {
  const int32_t r = first->bio.result;
  first->bio.length = first->iov.iov_len;  // back to its own part
  first->bio.iov = &first->iov;
  first->bio.iovcnt = 1;
  for (Request* m = first; m;) {
    Request* next = m->next_merged;  // m's slot may be reused once it completes
    m->next_merged = nullptr;
    m->bio.result = r;
    AccountAndDone(m);
    m = next;
  }
}


// A FUA Read or Compare on a device with a volatile write cache: the cached data is
// committed first (Flush), then read back from the stable copy.
void FuaReadFlushed(Request* req) {
  if (req->bio.result != 0) return AccountAndDone(req);
  uint32_t bs = req->ns->block_size();
  Submit(req, req->cmd.opcode == kIoRead ? BdevOp::kRead : BdevOp::kCompare, Slba(req->cmd) * bs,
         Nlb(req->cmd) * bs, true);
}

// Issues an admitted command to its backend.
void Start(Request* req) {
  const Sqe& cmd = req->cmd;
  uint32_t bs = req->ns->block_size();
  uint64_t slba = Slba(cmd), nlb = Nlb(cmd);
  if ((cmd.opcode == kIoRead || cmd.opcode == kIoCompare) && (cmd.cdw12 & kRwFua) &&
      req->ns->dev().info().volatile_write_cache) {
    req->bio.op = BdevOp::kFlush;
    req->bio.offset = req->bio.length = 0;
    req->bio.iov = nullptr;
    req->bio.iovcnt = 0;
    req->bio.fua = false;
    req->bdev_done = FuaReadFlushed;
    req->start_ns = NowNs();
    return req->ns->dev().submit(&req->bio);
  }
  switch (cmd.opcode) {
    case kIoRead:
      return Submit(req, BdevOp::kRead, slba * bs, nlb * bs, true);
    case kIoWrite:
      return Submit(req, BdevOp::kWrite, slba * bs, nlb * bs, true);
    case kIoCompare:
      return Submit(req, BdevOp::kCompare, slba * bs, nlb * bs, true);
    case kIoWriteZeroes:
      return Submit(req, BdevOp::kWriteZeroes, slba * bs, nlb * bs, false);
    case kIoFlush:
      return Submit(req, BdevOp::kFlush, 0, 0, false);
    case kIoDatasetManagement:
      req->step = 0;
      return DsmNext(req);
  }
}

// QoS admission: charges the namespace's limiters if the command conforms now.
bool Admit(Request* req) {
  uint8_t op = req->cmd.opcode;
  bool rd = op == kIoRead || op == kIoCompare;
  bool wr = op == kIoWrite;
  uint64_t bytes = (rd || wr) ? Nlb(req->cmd) * req->ns->block_size() : 0;
  return req->ns->limiters().Admit(rd, wr, bytes, static_cast<int64_t>(NowNs())) == 0;
}

// A command over its namespace's limits waits on its queue, in order; a 1 ms reactor timer
// admits what conforms.
void Park(QueuePair* qp, Request* req) {
  req->next_throttled = nullptr;
  if (req->timed) req->mark_ns = NowNs();
  if (qp->throttled_tail) qp->throttled_tail->next_throttled = req;
  else qp->throttled_head = req;
  qp->throttled_tail = req;
  if (qp->throttle_timer) return;
  qp->throttle_timer = true;
  std::weak_ptr<int> life = qp->life;
  qp->reactor().Every(std::chrono::milliseconds(1), [qp, life] {
    if (life.expired()) return false;
    while (Request* r = qp->throttled_head) {
      // A command whose namespace turned inaccessible while it waited fails at once (Done).
      bool usable = AnaStatusNow(qp, r).ok();
      if (usable && !Admit(r)) return true;
      qp->throttled_head = r->next_throttled;
      if (!qp->throttled_head) qp->throttled_tail = nullptr;
      if (r->timed) r->times.qos_ns = NowNs() - r->mark_ns;
      if (usable) Start(r);
      else Done(r, kSuccess);
    }
    qp->throttle_timer = false;
    return false;
  });
}

}  // namespace

void UnplugIo(QueuePair* qp) {
  qp->plugged = false;
  Request* r = qp->plugged_head;
  qp->plugged_head = qp->plugged_tail = nullptr;
  while (r) {
    Request* first = r;
    Request* last = r;
    uint64_t len = r->bio.length;
    int n = 1;
    for (r = r->next_plugged; r && n < kMaxMergedIos && r->ns == first->ns && r->bio.op == first->bio.op &&
                              r->bio.offset == first->bio.offset + len && len + r->bio.length <= kMaxMergedBytes;
         r = r->next_plugged) {
      last->next_merged = r;
      last = r;
      len += r->bio.length;
      n++;
    }
    last->next_merged = nullptr;
    if (n > 1) {
      int i = 0;
      for (Request* m = first; m; m = m->next_merged) first->merged_iov[i++] = m->iov;
      first->bio.length = len;
      first->bio.iov = first->merged_iov;
      first->bio.iovcnt = n;
      first->bdev_done = MergedDone;
    }
    first->ns->dev().submit(&first->bio);
  }
}

// Fails every command still waiting for QoS (the queue is going away).
void AbortThrottled(QueuePair* qp) {
  while (Request* r = qp->throttled_head) {
    qp->throttled_head = r->next_throttled;
    Done(r, Generic(kScAbortSqDeleted, false));
  }
  qp->throttled_tail = nullptr;
}

void ExecuteIo(Target& t, QueuePair* qp, Request* req) {
  Controller& c = *qp->controller();
  if (!c.enabled()) return CompleteWith(qp, req, Generic(kScCommandSequenceError));
  const Sqe& cmd = req->cmd;
  uint8_t op = cmd.opcode;
  if (op != kIoRead && op != kIoWrite && op != kIoFlush && op != kIoWriteZeroes && op != kIoDatasetManagement &&
      op != kIoCompare)
    return CompleteWith(qp, req, Generic(kScInvalidOpcode));

  // The reactor joins the drain barrier (Target::DrainAnaGroup) before the queue first
  // reads a state: a drain then either waits for this reactor or this command sees the
  // new state.
  if (!qp->io_counts) [[unlikely]] t.CountIoOn(qp);
  NsSnapshot* snap = Snapshot(qp, c);
  const NsTable& table = *snap->table;
  uint32_t nsid = cmd.nsid;
  Namespace* ns = nsid < table.by_nsid.size() ? table.by_nsid[nsid].get() : nullptr;
  if (!ns) {
    // An NSID in 1..NN without a namespace this host may use is inactive (Invalid Field);
    // 0, FFFFFFFFh and beyond NN are invalid.
    bool inactive = nsid != 0 && nsid <= c.subsystem().spec().max_namespaces;
    return CompleteWith(qp, req, Generic(inactive ? kScInvalidField : kScInvalidNamespaceOrFormat));
  }
  if (nvme::Status a = AnaStatus(table.ana_state[nsid]); !a.ok()) return CompleteWith(qp, req, a);
  if (!ns->dev().healthy()) return CompleteWith(qp, req, Path(kScInternalPathError));
  if (ns->spec().read_only) [[unlikely]] {
    if (op == kIoWrite || op == kIoWriteZeroes || (op == kIoDatasetManagement && (cmd.cdw11 & kDsmAttrDeallocate)))
      return CompleteWith(qp, req, Generic(kScNamespaceWriteProtected));
  }

  uint32_t bs = ns->block_size();
  uint64_t nblocks = ns->num_blocks();
  uint64_t slba = Slba(cmd), nlb = Nlb(cmd);
  req->ns = ns;

  switch (op) {
    case kIoRead:
    case kIoWrite:
    case kIoCompare:
    case kIoWriteZeroes: {
      if (slba >= nblocks || nlb > nblocks - slba) return CompleteWith(qp, req, Generic(kScLbaOutOfRange));
      uint64_t bytes = nlb * bs;
      if (op != kIoWriteZeroes) {
        if (bytes > MaxTransferBytes(qp->qid(), t.options())) return CompleteWith(qp, req, Generic(kScInvalidField));
        if (req->length != bytes) return CompleteWith(qp, req, Generic(kScDataSglLengthInvalid));
      }
      break;
    }
    case kIoDatasetManagement: {
      uint32_t nr = (cmd.cdw10 & 0xFF) + 1;
      if (req->length < nr * sizeof(DsmRange)) return CompleteWith(qp, req, Generic(kScDataSglLengthInvalid));
      if (!(cmd.cdw11 & kDsmAttrDeallocate)) return CompleteWith(qp, req, kSuccess);  // hints only
      for (uint32_t i = 0; i < nr; i++) {
        DsmRange r;
        memcpy(&r, req->data + i * sizeof(DsmRange), sizeof(r));
        if (r.slba >= nblocks || r.nlb > nblocks - r.slba) return CompleteWith(qp, req, Generic(kScLbaOutOfRange));
      }
      if (!ns->dev().info().supports_discard) return CompleteWith(qp, req, kSuccess);
      break;
    }
    default:
      break;
  }

  snap->inflight++;
  req->snap = snap;
  std::atomic<uint32_t>& n = qp->io_counts[ns->io_slot()];
  n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  qp->inflight++;
  if (PollGroupCounters* pg = qp->poll_group) PollGroupCounters::Add(pg->pending_io, 1);
  if (ns->limiters().active.load(std::memory_order_relaxed) && (qp->throttled_head || !Admit(req))) {
    return Park(qp, req);
  }
  Start(req);
}

}  // namespace nvmeof
