// NVMe/TCP receive side of one connection: bytes in, PDU events out. No sockets, no
// reactor, no target; it runs on whichever thread feeds it (the connection's reactor).
//
// The byte stream goes through a state machine that works whether PDUs arrive split across
// reads or packed within one:
//
//   kCh (8-byte common header, CheckCommonHeader)
//    -> kHeader (rest of the header + header digest; digest checked, type-specific check)
//    -> kPad (bytes between the header and PDO) -> kData -> kDdgst (data digest) -> kCh
//
// and, after a fatal error, kDraining (everything is read and dropped).
//
// Feeding: the reader owns a 64 KiB receive buffer. The owner asks NextRecv() where the next
// read from the socket should land and reports with Received(n) how many bytes did. While a
// large payload is expected and nothing is buffered, NextRecv() points straight at the
// payload's destination (the request's buffer): the read lands in place, uncopied. While
// the host sends large payloads the buffered reads are kept short (4 KiB), so at most that
// much of the next payload is copied out of the buffer. Feed() does the same from memory.
//
// Events go to the Handler, one virtual call per PDU (nothing allocated):
//   OnIcReq        an accepted ICReq; the negotiated parameters are in params()
//   OnCapsule      a command capsule; the handler says where its in-capsule data goes
//   OnH2CData      an H2CData PDU; the handler says where its data goes
//   OnDataDone     a capsule's or H2CData's data arrived (digest_ok false: data digest error)
//   OnHostTerm     the host sent an H2CTermReq: the connection is over
//   OnMalformed    a malformed H2CTermReq: close without a C2HTermReq
//   OnFatal        a fatal transport error: send a C2HTermReq with fes/fei and the
//                  offending header bytes given; the reader then drains
// The handler may call Close() from any callback; the reader then stops at once.
// FES/FEI rules are those of gateway/protocol/nvme_tcp.cc, plus the ones decided here:
// a header digest mismatch is FES 03h with FEI = the digest received.
#pragma once

#include <cstdint>
#include <memory>

#include "gateway/protocol/nvme_tcp.h"

namespace nvmeof::tcp {

// The handler's answer to a PDU that carries data: where the data goes (nullptr: read and
// drop it), or a fatal error.
struct DataPlacement {
  uint8_t* dst = nullptr;
  uint16_t fes = 0;  // non-zero: fatal transport error
  uint32_t fei = 0;
  static DataPlacement To(uint8_t* dst) { return {dst, 0, 0}; }
  static DataPlacement Discard() { return {}; }
  static DataPlacement Fatal(uint16_t fes, uint32_t fei) { return {nullptr, fes, fei}; }
};

class PduReader {
 public:
  class Handler {
   public:
    virtual void OnIcReq(const IcReq& req) = 0;
    // icd: the in-capsule data bytes that follow (0: none; the return value is then only
    // looked at for a fatal error).
    virtual DataPlacement OnCapsule(const CapsuleCmdHeader& h, uint32_t icd) = 0;
    virtual DataPlacement OnH2CData(const DataHeader& h) = 0;
    virtual void OnDataDone(bool digest_ok) = 0;
    virtual void OnHostTerm(const TermReqHeader& t) = 0;
    virtual void OnMalformed() = 0;
    virtual void OnFatal(uint16_t fes, uint32_t fei, const uint8_t* pdu, uint32_t pdu_len) = 0;

   protected:
    ~Handler() = default;
  };

  enum class State : uint8_t { kCh, kHeader, kPad, kData, kDdgst, kDraining };

  // Payloads of at least this size, with nothing buffered ahead of them, are received in
  // place (NextRecv().direct).
  static constexpr uint32_t kDirectRecvThreshold = 4096;
  // While the host sends large payloads (the last PDU carried at least kBulkData bytes),
  // a buffered read is kept to kBulkHeadRead bytes.
  static constexpr uint32_t kBulkData = 32 * 1024;
  static constexpr uint32_t kBulkHeadRead = 4096;
  static constexpr uint32_t kBufferSize = 64 * 1024;

  // params: what a valid PDU looks like before ICReq (maxh2cdata, in-capsule data size).
  PduReader(Handler* handler, const ConnParams& params);
  PduReader(const PduReader&) = delete;
  PduReader& operator=(const PduReader&) = delete;

  // Where the next read should land: `len` bytes at `dst`. direct: into a payload's
  // destination (then every byte read is payload).
  struct Span {
    uint8_t* dst;
    uint32_t len;
    bool direct;
  };
  Span NextRecv();
  // n (> 0, <= the span's len) bytes landed where the last NextRecv() said. Returns false
  // when the owner should stop reading for now (closed, or a fatal error was just found).
  bool Received(uint32_t n);
  // Feeds len bytes from memory exactly as reads of at most len bytes would (landing in
  // place when NextRecv says so). Returns the bytes taken: all of them unless the reader was
  // closed (0 once it is); after a fatal error it drains, taking everything.
  size_t Feed(const uint8_t* data, size_t len);

  // Stops the reader: nothing more is parsed or reported.
  void Close() { closed_ = true; }

  const ConnParams& params() const { return params_; }
  // The in-capsule data size the next capsules are checked against (the I/O queues' size
  // once Connect made this an I/O queue).
  void set_in_capsule_data_size(uint32_t n) { params_.in_capsule_data_size = n; }
  bool icreq_done() const { return icreq_done_; }
  bool closed() const { return closed_; }
  bool failed() const { return failed_; }
  State state() const { return state_; }
  uint32_t buffered() const { return rx_len_ - rx_pos_; }

 private:
  bool Parse();  // false: stop (closed or fatal)
  bool HandleHeader();
  bool HandleIcReq();
  bool HandleCapsule();
  bool HandleH2CData();
  void ExpectData(uint8_t* dst, uint32_t len);
  void DataReceived(const uint8_t* bytes, uint32_t n, const uint8_t* copy_from);
  void DataDone(bool digest_ok);
  void FailCheck(const HeaderCheck& chk);
  void Fatal(uint16_t fes, uint32_t fei);

  Handler* handler_;
  ConnParams params_;
  bool icreq_done_ = false;
  bool closed_ = false;
  bool failed_ = false;
  bool bulk_ = false;  // the host is sending large payloads: short buffered reads
  State state_ = State::kCh;

  std::unique_ptr<uint8_t[]> rx_;
  uint32_t rx_pos_ = 0, rx_len_ = 0;
  bool last_direct_ = false;  // what the last NextRecv() returned

  alignas(8) uint8_t hdr_[kMaxHeaderLen];
  uint32_t hdr_need_ = 0;
  uint32_t pad_left_ = 0;
  uint8_t* data_dst_ = nullptr;  // nullptr: discard
  uint32_t data_left_ = 0;
  uint32_t data_crc_ = 0;
  uint8_t ddgst_buf_[kDigestLen];
  uint32_t ddgst_have_ = 0;
};

}  // namespace nvmeof::tcp
