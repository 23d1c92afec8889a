// NVMe/TCP transport: one TCP connection = one NVMe queue pair.
//
// Receive side: stream reads feed a PduReader (pdu_reader.h: the PDU state machine, every
// framing check and fatal error), which reports PDUs back; this class turns them into
// requests. Large data is received straight into the request's buffer.
//
// Every command has a request in one of these states (ReqState), changed only by SetState,
// which keeps the reactor's per-state request counts (its probe, tcp_probe.h):
//
//   kFree --capsule with in-capsule data--> kRecvCapsuleData --data in--> (ready)
//   kFree --capsule without data----------------------------------------> (ready)
//   (ready) --host data wanted: R2T sent--> kAwaitH2C --all H2CData in--> kExecuting
//   (ready) --otherwise-------------------------------------------------> kExecuting
//   kExecuting --target completed--> kSending --response (or C2HData with SUCCESS) sent--> kFree
//
// A command that fails before executing (bad SGL, data digest error...) passes through
// kExecuting and completes at once with its status. On close, requests not in the target go
// straight back to kFree; after a fatal error, so do those whose response was still queued.
//
// Connection I/O statistics (gateway/nvmf/conn_io_stats.h): while Target::conn_io_stats()
// is on, a read or write on an I/O queue is timed from its capsule to its response sent
// (the net time: R2T -> all H2CData in, C2HData queued -> sent), then recorded in the
// queue's QueuePair::io_stats (QueuePair::RecordIo).
//
// The connection is a ByteStream (gateway/runtime/byte_stream.h; a plain socket today):
// no socket call is made here.
//
// Send side: a ring of pending PDUs gathered into one SendV (sendmsg) per flush, once per
// batch of events. Nothing here allocates per command: requests and their PDU headers are
// preallocated per connection, data buffers come from the reactor's pool.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gateway/runtime/byte_stream.h"
#include "gateway/runtime/reactor.h"
#include "gateway/runtime/socket_stream.h"
#include "gateway/runtime/tls_stream.h"
#include "gateway/protocol/nvme_tcp.h"
#include "gateway/nvmf/request.h"
#include "gateway/transport/tcp/pdu_reader.h"
#include "gateway/transport/tcp/tcp_probe.h"

namespace nvmeof {

class Target;

class TcpQueue final : public QueuePair,
                       public EventHandler,
                       public CompletionHandler,
                       private tcp::PduReader::Handler {
 public:
  // Takes ownership of the stream (connected, non-blocking). Runs on `reactor`'s thread.
  static void Start(Target* target, Reactor& reactor, std::unique_ptr<ByteStream> stream,
                    const PortInfo& port, std::string peer);
  // The same over a plain socket (SocketStream): takes ownership of fd.
  static void Start(Target* target, Reactor& reactor, int fd, const PortInfo& port,
                    std::string peer);

  // QueuePair
  void Complete(Request* req) override;
  void Close(const char* reason) override;
  void Bound() override;
  Reactor& reactor() override { return reactor_; }
  std::string peer() const override { return peer_; }

  // EventHandler
  void OnEvents(uint32_t events) override;
  // CompletionHandler: a backend finished req->bio.
  void OnComplete(Completion* c) override;

 private:
  TcpQueue(Target* target, Reactor& reactor, std::unique_ptr<ByteStream> stream,
           const PortInfo& port, std::string peer);
  ~TcpQueue() override;

  enum class ReqState : uint8_t {
    kFree,
    kRecvCapsuleData,  // in-capsule data arriving
    kAwaitH2C,         // R2T sent, H2CData arriving
    kExecuting,        // in the target
    kSending,          // response (and data) queued for sending
  };
  static constexpr size_t kReqStates = static_cast<size_t>(ReqState::kSending) + 1;
  static_assert(static_cast<size_t>(TcpCounter::kRequestsSending) -
                        static_cast<size_t>(TcpCounter::kRequestsFree) == kReqStates - 1,
                "one probe gauge per request state, in order");
  static TcpCounter StateCounter(ReqState s) {
    return static_cast<TcpCounter>(static_cast<size_t>(TcpCounter::kRequestsFree) + static_cast<size_t>(s));
  }

  struct TcpRequest {
    Request req;
    ReqState state = ReqState::kFree;
    uint16_t ttag = 0;
    int buf_cls = -1;
    bool in_capsule = false;
    bool failed = false;        // fails without executing (status already set)
    bool c2h_success = false;   // C2HData carries SUCCESS: no response capsule
    uint32_t h2c_received = 0;
    uint32_t c2h_hdr_len = 0;
    uint32_t ddgst = 0;
    alignas(8) uint8_t small_hdr[sizeof(tcp::CapsuleRespHeader) + tcp::kDigestLen];  // R2T or response
    alignas(8) uint8_t c2h_hdr[136];                         // C2HData header + digest + pad
  };

  enum class SendKind : uint8_t { kIcResp, kTermReq, kR2T, kC2H, kResp };
  struct SendItem {
    SendKind kind;
    TcpRequest* r;
  };

  // Receive: socket reads into the reader, and its events.
  void DoRecv();
  void ReceiveBatch();
  void ScheduleRecv();
  void OnIcReq(const tcp::IcReq& req) override;
  tcp::DataPlacement OnCapsule(const tcp::CapsuleCmdHeader& h, uint32_t icd) override;
  tcp::DataPlacement OnH2CData(const tcp::DataHeader& h) override;
  void OnDataDone(bool digest_ok) override;
  void OnHostTerm(const tcp::TermReqHeader& t) override;
  void OnMalformed() override;
  void OnFatal(uint16_t fes, uint32_t fei, const uint8_t* pdu, uint32_t pdu_len) override;
  const tcp::ConnParams& params() const { return reader_.params(); }

  // Commands.
  TcpRequest* AllocRequest();
  void FreeRequest(TcpRequest* r);
  // Every request state change goes through here; the reactor's probe follows it.
  void SetState(TcpRequest* r, ReqState s) {
    probe_.Sub(StateCounter(r->state));
    probe_.Add(StateCounter(s));
    r->state = s;
  }
  void CommandReady(TcpRequest* r);
  void Execute(TcpRequest* r);
  void FailEarly(TcpRequest* r, nvme::Status s);

  // Send.
  void Queue(SendKind k, TcpRequest* r);
  void ScheduleFlush();
  void Flush();
  void ItemSent(const SendItem& it);
  int BuildIov(const SendItem& it, struct iovec* iov, int max);
  void SetWantWrite(bool on);

  void CloseNow(const char* reason);
  void MaybeDestroy();

  Target* target_;
  Reactor& reactor_;
  std::unique_ptr<ByteStream> stream_;
  std::string peer_;
  TcpProbe& probe_;  // this reactor's
  bool closed_ = false;
  bool destroying_ = false;
  bool fatal_ = false;
  bool flush_scheduled_ = false;
  bool want_write_ = false;
  bool recv_wants_write_ = false;  // the stream's Recv waits for write readiness (TLS)
  bool recv_scheduled_ = false;
  uint16_t sq_head_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for timers

  std::unique_ptr<TcpRequest[]> reqs_;
  uint32_t nreqs_ = 0;
  std::vector<uint16_t> free_;

  // Receive state.
  tcp::PduReader reader_;
  TcpRequest* cur_ = nullptr;    // request receiving data
  uint32_t cur_datal_ = 0;
  bool cur_is_h2c_ = false;

  // Send state.
  std::vector<SendItem> ring_;
  uint32_t ring_head_ = 0, ring_tail_ = 0, ring_count_ = 0;
  uint32_t send_off_ = 0;  // bytes of the head item already sent
  tcp::IcResp icresp_{};
  alignas(8) uint8_t term_[sizeof(tcp::TermReqHeader) + tcp::kMaxTermReqData];
  uint32_t term_len_ = 0;
};

// Accepts connections on one address (a SocketListener) and hands each, as a ByteStream, to
// the next reactor. Accepting runs on reactor 0. A secure listener wraps each connection in
// TLS (tls_stream.h), the PSK chosen by Target::TlsPskFor; a host that does not start TLS
// fails the handshake and is closed.
class TcpListener final : public EventHandler {
 public:
  static Result<std::unique_ptr<TcpListener>> Open(Target* target, ReactorGroup& reactors,
                                                   const std::string& traddr,
                                                   const std::string& trsvcid, uint8_t adrfam,
                                                   uint16_t portid, bool secure = false);
  ~TcpListener() override;
  void OnEvents(uint32_t events) override;
  const PortInfo& port() const { return port_; }

 private:
  TcpListener(Target* target, ReactorGroup& reactors, std::unique_ptr<SocketListener> sock,
              PortInfo port, std::shared_ptr<TlsContext> tls);
  Target* target_;
  ReactorGroup& reactors_;
  std::unique_ptr<SocketListener> sock_;
  PortInfo port_;
  std::shared_ptr<TlsContext> tls_;  // secure listeners
};

}  // namespace nvmeof
