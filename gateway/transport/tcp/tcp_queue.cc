#include "gateway/transport/tcp/tcp_queue.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include <unistd.h>

#include "gateway/common/clock.h"
#include "gateway/common/log.h"
#include "gateway/protocol/crc32c.h"
#include "gateway/nvmf/controller.h"
#include "gateway/nvmf/target.h"
#include "gateway/nvmf/transfer.h"

namespace nvmeof {

using namespace nvme;

namespace {
constexpr int kMaxIov = 64;
constexpr int kMaxRecvRounds = 16;
}  // namespace

// ----------------------------------------------------------------------------- lifecycle

void TcpQueue::Start(Target* target, Reactor& reactor, int fd, const PortInfo& port,
                     std::string peer) {
  Start(target, reactor, std::make_unique<SocketStream>(fd), port, std::move(peer));
}

void TcpQueue::Start(Target* target, Reactor& reactor, std::unique_ptr<ByteStream> stream,
                     const PortInfo& port, std::string peer) {
  const int fd = stream->fd();
  auto* q = new TcpQueue(target, reactor, std::move(stream), port, std::move(peer));
  if (!reactor.Add(fd, EPOLLIN | EPOLLRDHUP, q)) {
    LOG_ERROR("connection from %s: cannot register with reactor: %s", q->peer_.c_str(), strerror(errno));
    q->CloseNow("epoll registration failed");
    return;
  }
  LOG_DEBUG("connection from %s on %s:%s (reactor %d)", q->peer_.c_str(), port.traddr.c_str(),
            port.trsvcid.c_str(), reactor.index());
  // A connection that has not connected a queue (ICReq, then Connect) within
  // connect_timeout_ms is closed: idle sockets must not pile up on a listener.
  const uint32_t limit_ms = target->options().connect_timeout_ms;
  std::weak_ptr<bool> alive = q->alive_;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limit_ms);
  reactor.Every(std::chrono::milliseconds(std::clamp<uint32_t>(limit_ms / 4, 10, 1000)), [q, alive, deadline, limit_ms] {
    auto a = alive.lock();
    if (!a || !*a || q->closed_ || q->connected()) return false;
    if (std::chrono::steady_clock::now() < deadline) return true;
    LOG_WARN("connection from %s: no Connect within %u ms: closing", q->peer_.c_str(), limit_ms);
    q->CloseNow("no Connect in time");
    return false;
  });
}

namespace {
// What a valid PDU looks like before Connect: the admin queue's in-capsule data size, which
// the NVMe/TCP binding fixes at 8 KiB whatever IOCCSZ says (hosts send the admin Connect's
// 1 KiB of data in the capsule). Bound() applies the I/O queues' size.
tcp::ConnParams InitialParams(const TargetOptions& o) {
  tcp::ConnParams p;
  p.in_capsule_data_size = std::max(o.in_capsule_data_size, tcp::kAdminInCapsuleDataSize);
  p.maxh2cdata = o.max_h2c_data;
  return p;
}
}  // namespace

TcpQueue::TcpQueue(Target* target, Reactor& reactor, std::unique_ptr<ByteStream> stream,
                   const PortInfo& port, std::string peer)
    : target_(target),
      reactor_(reactor),
      stream_(std::move(stream)),
      peer_(std::move(peer)),
      probe_(TcpProbe::Local()),
      reader_(this, InitialParams(target->options())) {
  port_ = port;
  const auto& o = target->options();
  // One more than the deepest queue, so a host that overruns it is caught, not corrupted.
  uint32_t n = o.max_queue_depth + 1;
  reqs_.reset(new TcpRequest[n]);
  nreqs_ = n;
  free_.reserve(n);
  for (uint32_t i = 0; i < n; i++) {
    reqs_[i].ttag = static_cast<uint16_t>(i);
    reqs_[i].req.bio.done.handler = this;
    reqs_[i].req.bio.done.sink = &reactor_;
    reqs_[i].req.qp = this;
    free_.push_back(static_cast<uint16_t>(n - 1 - i));
  }
  ring_.resize(3 * n + 8);
  probe_.Add(StateCounter(ReqState::kFree), n);
}

void TcpQueue::Bound() {
  if (qid() != 0) reader_.set_in_capsule_data_size(target_->options().in_capsule_data_size);
}

TcpQueue::~TcpQueue() {
  *alive_ = false;
  for (uint32_t i = 0; i < nreqs_; i++) probe_.Sub(StateCounter(reqs_[i].state));
  for (uint32_t i = 0; i < nreqs_; i++) {
    if (reqs_[i].req.data) reactor_.buffers().Put(reqs_[i].req.data, reqs_[i].buf_cls);
  }
  Target::ReleaseSnapshots(this);
}

void TcpQueue::Close(const char* reason) {
  // Always posted, never inline: callers may hold locks that closing takes (the
  // controller's queue list), and a response queued just before must go out first.
  std::string why = reason;
  std::weak_ptr<bool> alive = alive_;
  reactor_.Post([this, alive, why] {
    auto a = alive.lock();
    if (!a || !*a) return;
    // The flush is deferred and may not have run yet: send what the socket takes now (a
    // Disconnect's completion), then close.
    if (!closed_ && ring_count_ && !want_write_) Flush();
    CloseNow(why.c_str());
  });
}

void TcpQueue::CloseNow(const char* reason) {
  if (closed_) return;
  closed_ = true;
  probe_.Add(TcpCounter::kConnectionsClosed);
  reader_.Close();
  if (ctrl_) {
    LOG_INFO("%s qid %u: connection from %s closed: %s", ctrl_->Describe().c_str(), qid_,
             peer_.c_str(), reason);
  } else {
    LOG_INFO("connection from %s closed: %s", peer_.c_str(), reason);
  }
  if (stream_->fd() >= 0) {
    reactor_.Remove(stream_->fd());
    stream_->Close();
  }
  // Drop what was waiting to be sent; requests executing in the target come back through
  // Complete() and are freed there.
  while (ring_count_) {
    SendItem it = ring_[ring_head_];
    ring_head_ = (ring_head_ + 1) % ring_.size();
    ring_count_--;
    if (it.r && (it.kind == SendKind::kResp || it.kind == SendKind::kC2H) &&
        it.r->state == ReqState::kSending) {
      FreeRequest(it.r);
    }
  }
  for (uint32_t i = 0; i < nreqs_; i++) {
    TcpRequest& r = reqs_[i];
    if (r.state == ReqState::kRecvCapsuleData || r.state == ReqState::kAwaitH2C) FreeRequest(&r);
  }
  target_->QueueClosed(this);  // unbinds the controller; AERs come back via Complete()
  MaybeDestroy();
}

void TcpQueue::MaybeDestroy() {
  if (!closed_ || destroying_) return;
  for (uint32_t i = 0; i < nreqs_; i++) {
    if (reqs_[i].state == ReqState::kExecuting) return;  // the target still holds it
  }
  destroying_ = true;
  // Deleting from inside a callback chain is unsafe: do it at the end of the loop turn.
  reactor_.Defer([this] { delete this; });
}

// ----------------------------------------------------------------------------- requests

TcpQueue::TcpRequest* TcpQueue::AllocRequest() {
  if (free_.empty()) return nullptr;
  TcpRequest* r = &reqs_[free_.back()];
  free_.pop_back();
  r->req.rsp = Cqe{};
  r->req.length = r->req.c2h_len = 0;
  r->req.host_to_ctrl = r->req.ctrl_to_host = false;
  r->req.ns = nullptr;
  r->req.snap = nullptr;
  r->req.bdev_done = nullptr;
  r->req.step = 0;
  r->req.timed = false;
  r->in_capsule = r->failed = r->c2h_success = false;
  r->h2c_received = 0;
  return r;
}

void TcpQueue::FreeRequest(TcpRequest* r) {
  if (r->req.data) {
    reactor_.buffers().Put(r->req.data, r->buf_cls);
    r->req.data = nullptr;
    r->buf_cls = -1;
  }
  SetState(r, ReqState::kFree);
  free_.push_back(r->ttag);
}

void TcpQueue::FailEarly(TcpRequest* r, nvme::Status s) {
  if (r->failed) return;  // the first problem found is the one reported
  r->failed = true;
  r->req.SetStatus(s);
}

void TcpQueue::CommandReady(TcpRequest* r) {
  if (r->failed) {
    SetState(r, ReqState::kExecuting);
    Complete(&r->req);
    return;
  }
  if (r->req.host_to_ctrl && !r->in_capsule && r->req.length > 0) {
    // Ask for the data: one R2T for the whole transfer; the host splits it into H2CData
    // PDUs of at most MAXH2CDATA bytes.
    SetState(r, ReqState::kAwaitH2C);
    r->h2c_received = 0;
    if (r->req.timed) r->req.mark_ns = NowNs();
    bool hd = params().hdgst;
    tcp::EncodeR2T(reinterpret_cast<tcp::R2THeader*>(r->small_hdr), r->req.cmd.cid, r->ttag, 0,
                   r->req.length, hd);
    if (hd) {
      uint32_t c = Crc32c(r->small_hdr, sizeof(tcp::R2THeader));
      memcpy(r->small_hdr + sizeof(tcp::R2THeader), &c, 4);
    }
    probe_.Add(TcpCounter::kR2tSent);
    Queue(SendKind::kR2T, r);
    return;
  }
  Execute(r);
}

void TcpQueue::Execute(TcpRequest* r) {
  SetState(r, ReqState::kExecuting);
  target_->Execute(this, &r->req);
}

void TcpQueue::Complete(Request* req) {
  auto* r = reinterpret_cast<TcpRequest*>(reinterpret_cast<uint8_t*>(req) - offsetof(TcpRequest, req));
  if (closed_ || fatal_) {
    // Nothing goes out after a terminate request (or on a closed connection).
    FreeRequest(r);
    MaybeDestroy();
    return;
  }
  SetState(r, ReqState::kSending);
  Cqe& cqe = req->rsp;
  cqe.cid = req->cmd.cid;
  cqe.sqid = qid_;
  cqe.sqhd = sq_flow_disabled_ ? 0xFFFF : sq_head_;
  cqe.status &= 0xFFFE;  // phase bit is always 0 on fabrics
  bool ok = (cqe.status >> 1) == 0;
  if (req->ctrl_to_host && ok && req->c2h_len > 0) {
    uint32_t len = std::min(req->c2h_len, req->length);
    // With SQ flow control disabled, the C2HData SUCCESS flag replaces the response capsule
    // when there is nothing in it the host needs (dw0/dw1 zero).
    r->c2h_success = sq_flow_disabled_ && cqe.dw0 == 0 && cqe.dw1 == 0;
    auto* h = reinterpret_cast<tcp::DataHeader*>(r->c2h_hdr);
    tcp::EncodeC2HData(h, req->cmd.cid, 0, len, true, r->c2h_success, params());
    uint32_t pdo = h->ch.pdo;
    memset(r->c2h_hdr + sizeof(tcp::DataHeader), 0, pdo - sizeof(tcp::DataHeader));
    if (params().hdgst) {
      uint32_t c = Crc32c(h, sizeof(tcp::DataHeader));
      memcpy(r->c2h_hdr + sizeof(tcp::DataHeader), &c, 4);
    }
    r->c2h_hdr_len = pdo;
    req->c2h_len = len;
    if (params().ddgst) r->ddgst = Crc32c(req->data, len);
    if (req->timed) req->mark_ns = NowNs();
    Queue(SendKind::kC2H, r);
    if (r->c2h_success) return;
  }
  auto* rh = reinterpret_cast<tcp::CapsuleRespHeader*>(r->small_hdr);
  tcp::EncodeCapsuleResp(rh, cqe, params().hdgst);
  if (params().hdgst) {
    uint32_t c = Crc32c(rh, sizeof(*rh));
    memcpy(r->small_hdr + sizeof(*rh), &c, 4);
  }
  Queue(SendKind::kResp, r);
}

void TcpQueue::OnComplete(Completion* c) { Request::FromBio(BdevIo::From(c))->BioDone(); }

// ----------------------------------------------------------------------------- receive

void TcpQueue::OnEvents(uint32_t events) {
  if (closed_) return;
  const bool recv_on_write = recv_wants_write_ && (events & EPOLLOUT);
  if (events & EPOLLOUT) Flush();
  if (closed_) return;
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) || recv_on_write) DoRecv();
  if (!closed_) ScheduleFlush();
}

// A stream with received bytes of its own (TLS) that the round limit left unread: no
// readiness event will come for them.
void TcpQueue::ScheduleRecv() {
  if (recv_scheduled_) return;
  recv_scheduled_ = true;
  reactor_.Defer([this] {
    recv_scheduled_ = false;
    if (closed_) return;
    DoRecv();
    if (!closed_) ScheduleFlush();
  });
}

// Commands that one receive completes are executed plugged (Target::Unplug): adjacent reads
// or writes among them reach the backend as one I/O.
void TcpQueue::DoRecv() {
  plugged = true;
  ReceiveBatch();
  target_->Unplug(this);
}

void TcpQueue::ReceiveBatch() {
  for (int round = 0; round < kMaxRecvRounds && !closed_; round++) {
    tcp::PduReader::Span span = reader_.NextRecv();
    ssize_t n = stream_->Recv(span.dst, span.len);
    if (n == 0) return CloseNow("host closed the connection");
    if (n < 0) {
      if (n == -EAGAIN) {
        if (stream_->RecvWantsWrite()) {
          recv_wants_write_ = true;
          SetWantWrite(true);
        }
        return;
      }
      if (n == -ECONNABORTED) return CloseNow("TLS handshake failed");
      return CloseNow(strerror(static_cast<int>(-n)));
    }
    if (recv_wants_write_) {
      recv_wants_write_ = false;
      SetWantWrite(ring_count_ != 0);
    }
    probe_.Add(TcpCounter::kBytesIn, static_cast<uint64_t>(n));
    if (!reader_.Received(static_cast<uint32_t>(n))) return;
    if (span.direct) continue;
    if (static_cast<uint32_t>(n) < span.len) return;  // the stream is drained
  }
  if (!closed_ && stream_->Buffered()) ScheduleRecv();
}

void TcpQueue::OnIcReq(const tcp::IcReq&) {
  probe_.Add(TcpCounter::kPdusIcReq);
  tls_identity = stream_->PeerIdentity();  // the handshake is over: a PDU came through it
  tcp::EncodeIcResp(&icresp_, reader_.params());
  Queue(SendKind::kIcResp, nullptr);
}

tcp::DataPlacement TcpQueue::OnCapsule(const tcp::CapsuleCmdHeader& h, uint32_t icd) {
  probe_.Add(TcpCounter::kPdusCapsuleCmd);
  TcpRequest* r = AllocRequest();
  if (!r) {
    // More commands outstanding than the queue has entries: the host broke flow control.
    LOG_WARN("connection from %s: more than %u commands outstanding", peer_.c_str(), nreqs_);
    return tcp::DataPlacement::Fatal(tcp::kFesPduSequenceError, 0);
  }
  if (!sq_flow_disabled_) {
    // SQHD wraps after SQSIZE (a 0's based size; 0 before Connect set it: plain counting).
    sq_head_ = (sqsize_ != 0 && sq_head_ >= sqsize_) ? 0 : static_cast<uint16_t>(sq_head_ + 1);
  }
  Request& req = r->req;
  memcpy(&req.cmd, &h.sqe, sizeof(Sqe));
  if (qid_ != 0 && (req.cmd.opcode == kIoRead || req.cmd.opcode == kIoWrite) && target_->conn_io_stats()) {
    req.timed = true;
    req.recv_ns = NowNs();
    req.times = IoTimes{};
  }
  TransferInfo xfer;
  nvme::Status st = CheckTransfer(req.cmd, qid_, icd, target_->options(), &xfer);
  if (!st.ok()) FailEarly(r, st);
  req.host_to_ctrl = xfer.host_to_ctrl;
  req.ctrl_to_host = xfer.ctrl_to_host;
  r->in_capsule = xfer.in_capsule;
  const uint32_t length = xfer.length;
  req.length = length;
  if (length > 0 && !r->failed) {
    req.data = reactor_.buffers().Get(length, &r->buf_cls);
    if (!req.data) FailEarly(r, Generic(kScInternalError, false));
  }
  if (icd > 0) {
    SetState(r, ReqState::kRecvCapsuleData);
    cur_ = r;
    cur_is_h2c_ = false;
    cur_datal_ = icd;
    return tcp::DataPlacement::To(r->failed ? nullptr : req.data);
  }
  CommandReady(r);
  return tcp::DataPlacement::Discard();
}

tcp::DataPlacement TcpQueue::OnH2CData(const tcp::DataHeader& h) {
  probe_.Add(TcpCounter::kPdusH2CData);
  if (h.ttag >= nreqs_ || reqs_[h.ttag].state != ReqState::kAwaitH2C)
    return tcp::DataPlacement::Fatal(tcp::kFesInvalidHeaderField, offsetof(tcp::DataHeader, ttag));
  TcpRequest* r = &reqs_[h.ttag];
  if (r->req.cmd.cid != h.cccid)
    return tcp::DataPlacement::Fatal(tcp::kFesInvalidHeaderField, offsetof(tcp::DataHeader, cccid));
  if (h.datao != r->h2c_received || uint64_t{h.datao} + h.datal > r->req.length)
    return tcp::DataPlacement::Fatal(tcp::kFesDataTransferOutOfRange, 0);  // FEI is reserved for this FES
  cur_ = r;
  cur_is_h2c_ = true;
  cur_datal_ = h.datal;
  return tcp::DataPlacement::To(r->req.data + h.datao);
}

void TcpQueue::OnDataDone(bool digest_ok) {
  TcpRequest* r = cur_;
  cur_ = nullptr;
  if (!r) return;
  if (!digest_ok && !r->failed) {
    // NVMe/TCP: a data digest error fails the command with Transient Transport Error;
    // the connection stays up.
    LOG_WARN("connection from %s: data digest error on command %u", peer_.c_str(), r->req.cmd.cid);
    probe_.Add(TcpCounter::kDataDigestErrors);
    FailEarly(r, Generic(kScTransientTransportError, false));
  }
  if (!cur_is_h2c_) {
    CommandReady(r);
    return;
  }
  r->h2c_received += cur_datal_;
  if (r->h2c_received == r->req.length) {
    if (r->req.timed) r->req.times.net_ns = NowNs() - r->req.mark_ns;
    if (r->failed) {
      SetState(r, ReqState::kExecuting);
      Complete(&r->req);
    } else {
      Execute(r);
    }
  }
}

void TcpQueue::OnHostTerm(const tcp::TermReqHeader& t) {
  probe_.Add(TcpCounter::kPdusH2CTermReq);
  LOG_WARN("connection from %s: host terminated the connection (FES %u, FEI %u)", peer_.c_str(),
           t.fes, t.fei);
  CloseNow("H2CTermReq from host");
}

void TcpQueue::OnMalformed() {
  LOG_WARN("connection from %s: malformed PDU: closing", peer_.c_str());
  CloseNow("malformed PDU");
}

void TcpQueue::OnFatal(uint16_t fes, uint32_t fei, const uint8_t* pdu, uint32_t pdu_len) {
  if (fatal_ || closed_) return;
  fatal_ = true;
  probe_.Add(TcpProbe::FatalCounter(fes));
  if (fes == tcp::kFesHeaderDigestError) probe_.Add(TcpCounter::kHeaderDigestErrors);
  LOG_WARN("connection from %s: fatal transport error (FES %u, FEI %u): terminating", peer_.c_str(),
           fes, fei);
  term_len_ = tcp::EncodeC2HTermReq(term_, fes, fei, pdu, pdu_len);
  // Nothing else goes out after the terminate request, except the rest of a PDU already
  // partly on the wire: cut short, it would swallow the terminate request.
  const uint32_t keep = send_off_ > 0 && ring_count_ > 0 ? 1 : 0;
  TcpRequest* kept = keep ? ring_[ring_head_].r : nullptr;  // its buffer is still being sent
  for (uint32_t i = keep; i < ring_count_; i++) {
    SendItem it = ring_[(ring_head_ + i) % ring_.size()];
    if (it.r && it.r != kept && (it.kind == SendKind::kResp || it.kind == SendKind::kC2H) &&
        it.r->state == ReqState::kSending)
      FreeRequest(it.r);
  }
  ring_count_ = keep;
  ring_tail_ = (ring_head_ + keep) % ring_.size();
  if (!keep) send_off_ = 0;
  Queue(SendKind::kTermReq, nullptr);
  Flush();
  if (closed_) return;
  // Once the terminate request is out the sending side is half-closed (ItemSent); until
  // the host closes (or 2 s pass), what it still sends is read and dropped (the reader
  // drains), so it reads the terminate request rather than a reset.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  std::shared_ptr<bool> alive = alive_;
  reactor_.Every(std::chrono::milliseconds(100), [this, alive, deadline] {
    if (!*alive || closed_) return false;
    if (std::chrono::steady_clock::now() < deadline) return true;
    CloseNow("fatal transport error");
    return false;
  });
}

// ----------------------------------------------------------------------------- send

void TcpQueue::Queue(SendKind k, TcpRequest* r) {
  if (ring_count_ == ring_.size()) {
    CloseNow("send queue overflow");
    return;
  }
  ring_[ring_tail_] = SendItem{k, r};
  ring_tail_ = (ring_tail_ + 1) % ring_.size();
  ring_count_++;
  ScheduleFlush();
}

void TcpQueue::ScheduleFlush() {
  if (flush_scheduled_ || want_write_ || ring_count_ == 0) return;
  flush_scheduled_ = true;
  reactor_.Defer([this] {
    flush_scheduled_ = false;
    if (!closed_) Flush();
  });
}

int TcpQueue::BuildIov(const SendItem& it, struct iovec* iov, int max) {
  int n = 0;
  auto add = [&](const void* p, size_t len) {
    if (n < max && len) iov[n++] = {const_cast<void*>(p), len};
  };
  switch (it.kind) {
    case SendKind::kIcResp:
      add(&icresp_, sizeof(icresp_));
      break;
    case SendKind::kTermReq:
      add(term_, term_len_);
      break;
    case SendKind::kR2T:
      add(it.r->small_hdr, sizeof(tcp::R2THeader) + (params().hdgst ? 4 : 0));
      break;
    case SendKind::kResp:
      add(it.r->small_hdr, sizeof(tcp::CapsuleRespHeader) + (params().hdgst ? 4 : 0));
      break;
    case SendKind::kC2H:
      add(it.r->c2h_hdr, it.r->c2h_hdr_len);
      add(it.r->req.data, it.r->req.c2h_len);
      if (params().ddgst) add(&it.r->ddgst, 4);
      break;
  }
  return n;
}

void TcpQueue::Flush() {
  while (ring_count_ && !closed_) {
    struct iovec iov[kMaxIov];
    int cnt = 0;
    uint32_t idx = ring_head_;
    for (uint32_t i = 0; i < ring_count_ && cnt + 3 <= kMaxIov; i++) {
      cnt += BuildIov(ring_[idx], iov + cnt, kMaxIov - cnt);
      idx = (idx + 1) % ring_.size();
    }
    // Skip what was already sent of the head item.
    int first = 0;
    size_t skip = send_off_;
    while (skip > 0 && first < cnt) {
      if (skip >= iov[first].iov_len) {
        skip -= iov[first].iov_len;
        first++;
      } else {
        iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + skip;
        iov[first].iov_len -= skip;
        skip = 0;
      }
    }
    ssize_t n = stream_->SendV(iov + first, cnt - first);
    if (n < 0) {
      if (n == -EAGAIN) {
        SetWantWrite(true);
        return;
      }
      CloseNow(strerror(static_cast<int>(-n)));
      return;
    }
    probe_.Add(TcpCounter::kBytesOut, static_cast<uint64_t>(n));
    // Retire fully sent items.
    size_t sent = static_cast<size_t>(n) + send_off_;
    while (ring_count_) {
      struct iovec tmp[4];
      int k = BuildIov(ring_[ring_head_], tmp, 4);
      size_t len = 0;
      for (int i = 0; i < k; i++) len += tmp[i].iov_len;
      if (sent < len) break;
      sent -= len;
      SendItem it = ring_[ring_head_];
      ring_head_ = (ring_head_ + 1) % ring_.size();
      ring_count_--;
      ItemSent(it);
      if (closed_) return;
    }
    send_off_ = static_cast<uint32_t>(sent);
  }
  SetWantWrite(false);
}

void TcpQueue::ItemSent(const SendItem& it) {
  switch (it.kind) {
    case SendKind::kC2H:
      if (it.r->req.timed) {
        const uint64_t now = NowNs();
        it.r->req.times.net_ns = now - it.r->req.mark_ns;
        if (it.r->c2h_success) RecordIo(&it.r->req, now);
      }
      if (it.r->c2h_success) FreeRequest(it.r);
      break;
    case SendKind::kResp:
      if (it.r->req.timed) RecordIo(&it.r->req, NowNs());
      FreeRequest(it.r);
      break;
    case SendKind::kTermReq:
      stream_->ShutdownWrite();
      break;
    default:
      break;
  }
}

void TcpQueue::SetWantWrite(bool on) {
  on = on || recv_wants_write_;
  if (on == want_write_ || stream_->fd() < 0) return;
  want_write_ = on;
  reactor_.Modify(stream_->fd(), EPOLLIN | EPOLLRDHUP | (on ? static_cast<uint32_t>(EPOLLOUT) : 0u), this);
}

// ----------------------------------------------------------------------------- listener

Result<std::unique_ptr<TcpListener>> TcpListener::Open(Target* target, ReactorGroup& reactors,
                                                       const std::string& traddr,
                                                       const std::string& trsvcid, uint8_t adrfam,
                                                       uint16_t portid, bool secure) {
  std::shared_ptr<TlsContext> tls;
  if (secure) {
    auto ctx = TlsContext::Server([target](std::string_view identity) { return target->TlsPskFor(identity); },
                                  target->options().tls_ktls);
    if (!ctx.ok()) return ctx.status();
    tls = std::move(ctx.value());
  }
  auto sock = SocketListener::Listen(traddr, trsvcid, adrfam == static_cast<uint8_t>(kAdrfamIpv6));
  if (!sock.ok()) return sock.status();
  PortInfo port;
  port.secure = secure;
  port.traddr = traddr;
  port.trsvcid = trsvcid;
  port.adrfam = adrfam;
  port.portid = portid;
  const int fd = sock.value()->fd();
  std::unique_ptr<TcpListener> l(new TcpListener(target, reactors, std::move(sock.value()), port, std::move(tls)));
  Reactor& r0 = reactors.at(0);
  TcpListener* raw = l.get();
  r0.Run([&r0, raw, fd] { r0.Add(fd, EPOLLIN, raw); });
  return l;
}

TcpListener::TcpListener(Target* target, ReactorGroup& reactors, std::unique_ptr<SocketListener> sock,
                         PortInfo port, std::shared_ptr<TlsContext> tls)
    : target_(target), reactors_(reactors), sock_(std::move(sock)), port_(std::move(port)), tls_(std::move(tls)) {}

TcpListener::~TcpListener() {
  // Deregister on the reactor (it may be dispatching an event to this listener) before the
  // object goes away.
  Reactor& r0 = reactors_.at(0);
  int fd = sock_->fd();
  r0.RunSync([&] { r0.Remove(fd); });
}

void TcpListener::OnEvents(uint32_t) {
  for (int i = 0; i < 64; i++) {
    AcceptedStream a;
    int rc = sock_->Accept(&a);
    if (rc != 0) {
      if (rc != -EAGAIN)
        LOG_WARN("accept on %s:%s: %s", port_.traddr.c_str(), port_.trsvcid.c_str(), strerror(-rc));
      return;
    }
    TcpProbe::Local().Add(TcpCounter::kConnectionsAccepted);
    Reactor& r = reactors_.Next();
    Target* t = target_;
    PortInfo port = port_;
    if (!a.local_addr.empty()) port.local_traddr = a.local_addr;
    std::string peer = std::move(a.peer);
    if (tls_) {
      int fd = static_cast<SocketStream*>(a.stream.get())->Release();
      auto t = TlsStream::Make(fd, tls_, peer);
      if (!t.ok()) {
        ::close(fd);
        LOG_WARN("connection from %s on %s:%s: %s", peer.c_str(), port_.traddr.c_str(), port_.trsvcid.c_str(),
                 t.status().message().c_str());
        continue;
      }
      a.stream = std::move(t.value());
    }
    ByteStream* stream = a.stream.release();  // owned by the queue Start makes
    r.Run([t, &r, stream, port, peer] {
      TcpQueue::Start(t, r, std::unique_ptr<ByteStream>(stream), port, peer);
    });
  }
}

}  // namespace nvmeof
