#include "gateway/nvmf/controller.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "gateway/common/clock.h"
#include "gateway/common/log.h"
#include "gateway/runtime/reactor.h"
#include "gateway/nvmf/target.h"

namespace nvmeof {

using namespace nvme;

namespace {
uint32_t PageClass(uint8_t log_page) {
  switch (log_page) {
    case kLogChangedNsList: return 1;
    case kLogAna: return 2;
    case kLogDiscovery: return 4;
    default: return 0;
  }
}
}  // namespace

Controller::Controller(Target* target, std::shared_ptr<Subsystem> subsys, std::string hostnqn,
                       const uint8_t hostid[16], uint32_t kato_ms, QueuePair* admin)
    : target_(target), subsys_(std::move(subsys)), hostnqn_(std::move(hostnqn)), admin_(admin),
      admin_reactor_(&admin->reactor()), peer_(admin->peer()), port_(admin->port()),
      kato_ms_(kato_ms), last_ka_ns_(static_cast<int64_t>(NowNs())), nr_io_queues_(target->options().max_io_queues) {
  memcpy(hostid_.data(), hostid, 16);
}

Controller::~Controller() = default;

bool Controller::is_discovery() const { return subsys_->is_discovery(); }

std::string Controller::Describe() const {
  return "subsystem " + subsys_->nqn() + " host " + hostnqn_ + " cntlid " + std::to_string(cntlid_);
}

uint64_t Controller::cap() const {
  const auto& o = target_->options();
  uint64_t cap = 0;
  cap |= (o.max_queue_depth - 1) & 0xFFFF;  // MQES, 0's based
  cap |= 1ull << 16;                        // CQR: contiguous queues required
  cap |= 15ull << 24;                       // TO: 7.5 s to become ready
  cap |= 1ull << 37;                        // CSS: NVM command set
  // DSTRD 0, MPSMIN 0 (4 KiB), MPSMAX 0
  return cap;
}

bool Controller::SetCc(uint32_t v) {
  uint32_t old = cc_.load();
  bool was_en = old & kCcEn, en = v & kCcEn;
  if (CcShn(v) == 3) return false;  // reserved
  if (en && !was_en) {
    // Validate the queue entry sizes, page size, command set and arbitration the host
    // chose (CAP: MPSMIN = MPSMAX = 4 KiB, NVM command set, round robin only).
    if (CcMps(v) != 0 || CcCss(v) != 0 || CcAms(v) != 0) return false;
    if (CcIosqes(v) != 6 || CcIocqes(v) != 4) {
      // A discovery controller has no I/O queues: the sizes may be left 0.
      if (!is_discovery() || (CcIosqes(v) != 0 && CcIosqes(v) != 6)) return false;
    }
    cc_.store(v);
    csts_.store(kCstsRdy);
    LOG_DEBUG("%s: enabled", Describe().c_str());
    return true;
  }
  if (!en && was_en) {
    cc_.store(v);
    csts_.store(0);
    Reset();
    LOG_INFO("%s: controller reset by host (CC.EN cleared)", Describe().c_str());
    return true;
  }
  // While enabled only SHN may change (CSS, MPS, AMS and the entry sizes are fixed by EN).
  if (en && ((v ^ old) & ~kCcShnMask)) return false;
  uint32_t shn = CcShn(v);
  cc_.store(v);
  if (shn == 1 || shn == 2) {
    // Normal or abrupt shutdown: nothing is cached in the gateway, so it completes at once.
    csts_.store((csts_.load() & ~(3u << 2)) | kCstsShstComplete);
    LOG_INFO("%s: shutdown requested by host", Describe().c_str());
  } else {
    csts_.store(csts_.load() & ~(3u << 2));
  }
  return true;
}

// Controller level reset (NVMe Base 2.0, 3.7.2): the I/O queues are deleted (their
// connections closed; the host connects new ones), outstanding AERs aborted, features back to
// their defaults. The admin queue, and with it the association and its KATO, stays.
void Controller::Reset() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto* q : io_queues_) q->Close("controller reset by host");
    io_queues_.clear();
    nr_io_queues_.store(target_->options().max_io_queues);
  }
  AbortAers();
  pending_events_.clear();
  masked_pages_ = 0;
  async_event_config.store(kDefaultAec);
  volatile_write_cache.store(true);
}

void Controller::Touch() { last_ka_ns_.store(static_cast<int64_t>(NowNs()), std::memory_order_relaxed); }

void Controller::StartKeepAliveTimer() {
  if (ka_timer_ || kato_ms_.load() == 0 || !admin_) return;
  ka_timer_ = true;
  std::weak_ptr<Controller> w = weak_from_this();
  auto period = std::chrono::milliseconds(std::clamp<uint32_t>(kato_ms_.load() / 4, 100, 1000));
  admin_reactor_->Every(period, [w] {
    auto c = w.lock();
    if (!c || !c->admin_queue()) return false;
    if (!c->KeepAliveExpired()) return true;
    LOG_WARN("%s: keep alive timeout (%u ms): tearing the controller down", c->Describe().c_str(), c->kato_ms());
    c->target()->probe().Count(c->target()->probe().keep_alive_timeouts);
    c->subsystem().NoteKeepAliveTimeout(c->hostnqn());
    c->Shutdown("keep alive timeout");
    return false;
  });
}

bool Controller::KeepAliveExpired() const {
  uint32_t kato = kato_ms_.load();
  if (kato == 0) return false;
  // Allow the host the full timeout plus a grace period for transport delays.
  int64_t limit = (static_cast<int64_t>(kato) + std::max<int64_t>(kato / 2, 500)) * 1000000;
  return static_cast<int64_t>(NowNs()) - last_ka_ns_.load(std::memory_order_relaxed) > limit;
}

bool Controller::SetNumIoQueues(uint32_t n) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!io_queues_.empty()) return false;
  nr_io_queues_.store(std::min(n, target_->options().max_io_queues));
  return true;
}

Controller::AddQueueResult Controller::AddIoQueue(QueuePair* qp, uint16_t qid) {
  std::lock_guard<std::mutex> lk(mu_);
  if (qid == 0 || qid > nr_io_queues_.load()) return AddQueueResult::kInvalidQid;
  for (auto* q : io_queues_)
    if (q->qid() == qid) return AddQueueResult::kExists;
  io_queues_.push_back(qp);
  return AddQueueResult::kOk;
}

void Controller::RemoveIoQueue(QueuePair* qp) {
  std::lock_guard<std::mutex> lk(mu_);
  if (qp != admin_ && std::find(io_queues_.begin(), io_queues_.end(), qp) != io_queues_.end())
    qp->io_stats.AddTo(io_stats_epoch(), &closed_io_stats_);
  io_queues_.erase(std::remove(io_queues_.begin(), io_queues_.end(), qp), io_queues_.end());
  if (qp == admin_) admin_ = nullptr;
}

ConnIoSnapshot Controller::IoStats(bool reset) {
  std::lock_guard<std::mutex> lk(mu_);
  const uint32_t epoch = io_stats_epoch();
  ConnIoSnapshot s = closed_io_stats_;
  for (QueuePair* q : io_queues_) q->io_stats.AddTo(epoch, &s);
  if (reset) {
    closed_io_stats_ = ConnIoSnapshot{};
    io_stats_epoch_.store(epoch + 1, std::memory_order_relaxed);
  }
  return s;
}

void QueuePair::RecordIo(Request* req, uint64_t now) {
  if (!ctrl_ || (req->rsp.status >> 1) != 0) return;
  req->times.total_ns = now - req->recv_ns;
  io_stats.Record(ctrl_->io_stats_epoch(),
                  req->cmd.opcode == nvme::kIoRead ? ConnIoSnapshot::kRead : ConnIoSnapshot::kWrite, req->length,
                  req->times);
}

size_t Controller::io_queue_count() {
  std::lock_guard<std::mutex> lk(mu_);
  return io_queues_.size();
}

void Controller::Shutdown(const char* reason) {
  // Close() only posts to the queue's reactor, so holding mu_ here cannot deadlock with
  // the queue's own QueueClosed(), and no queue is destroyed while we hold the pointer.
  std::lock_guard<std::mutex> lk(mu_);
  for (auto* q : io_queues_) q->Close(reason);
  if (admin_) admin_->Close(reason);
}

bool Controller::AddAer(Request* req) {
  if (aers_.size() >= kAerLimit) return false;
  if (!pending_events_.empty()) {
    Event e = pending_events_.front();
    pending_events_.pop_front();
    req->rsp.dw0 = e.dw0;
    admin_->Complete(req);
    return true;
  }
  aers_.push_back(req);
  return true;
}

void Controller::RaiseEvent(uint8_t type, uint8_t info, uint8_t log_page) {
  if (!admin_) return;
  uint32_t aec = async_event_config.load();
  if (type == kAerNotice) {
    if (info == kAenNsAttrChanged && !(aec & kAecNsAttr)) return;
    if (info == kAenAnaChange && !(aec & kAecAnaChange)) return;
    if (info == kAenDiscoveryLogChange && !(aec & kAecDiscoveryLogChange)) return;
  }
  uint32_t cls = PageClass(log_page);
  if (masked_pages_ & cls) return;  // the host has not read the log page since the last notice
  masked_pages_ |= cls;
  uint32_t dw0 = AsyncEventDw0(type, info, log_page);
  LOG_INFO("%s: asynchronous event notice 0x%02x (log page 0x%02x)", Describe().c_str(), info, log_page);
  if (!aers_.empty()) {
    Request* r = aers_.front();
    aers_.erase(aers_.begin());
    r->rsp.dw0 = dw0;
    admin_->Complete(r);
    return;
  }
  pending_events_.push_back(Event{dw0, log_page});
}

void Controller::ClearEventMask(uint8_t log_page) {
  uint32_t cls = PageClass(log_page);
  masked_pages_ &= ~cls;
  // A notice still waiting for an AER is answered by this read: it no longer goes out.
  pending_events_.erase(std::remove_if(pending_events_.begin(), pending_events_.end(),
                                       [&](const Event& e) { return PageClass(e.log_page) == cls; }),
                        pending_events_.end());
}

void Controller::AbortAers() {
  auto aers = std::move(aers_);
  aers_.clear();
  for (Request* r : aers) {
    r->SetStatus(Generic(kScAbortSqDeleted, false));
    if (admin_) admin_->Complete(r);
  }
}

void Controller::AddChangedNs(uint32_t nsid) {
  std::lock_guard<std::mutex> lk(mu_);
  if (changed_ns_overflow_) return;
  if (std::find(changed_ns_.begin(), changed_ns_.end(), nsid) != changed_ns_.end()) return;
  if (changed_ns_.size() >= 1024) {
    changed_ns_overflow_ = true;
    changed_ns_.clear();
    return;
  }
  changed_ns_.push_back(nsid);
}

std::vector<uint32_t> Controller::TakeChangedNs(bool clear) {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<uint32_t> v;
  if (changed_ns_overflow_) {
    v.push_back(0xFFFFFFFFu);
  } else {
    v = changed_ns_;
    std::sort(v.begin(), v.end());
  }
  if (clear) {
    changed_ns_.clear();
    changed_ns_overflow_ = false;
  }
  return v;
}

void Controller::RecordError(const Request& req, uint16_t sqid) {
  std::lock_guard<std::mutex> lk(mu_);
  ErrorInfoEntry e{};
  e.error_count = ++error_count_;
  e.sqid = sqid;
  e.cid = req.cmd.cid;
  e.status = req.rsp.status;
  e.param_error_location = 0xFFFF;
  e.nsid = req.cmd.nsid;
  e.trtype = req.qp ? req.qp->port().trtype : PortInfo{}.trtype;
  errors_.push_front(e);
  if (errors_.size() > 64) errors_.pop_back();
}

std::vector<ErrorInfoEntry> Controller::ErrorLog() {
  std::lock_guard<std::mutex> lk(mu_);
  return {errors_.begin(), errors_.end()};
}

}  // namespace nvmeof
