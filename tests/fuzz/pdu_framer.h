// A small, pure NVMe/TCP receive-side PDU framer for fuzzing (and its unit test).
//
// It does what the engine's reader does with the bytes of one connection, without sockets:
// common header -> CheckCommonHeader -> rest of the header (+ header digest) -> the
// type-specific check (CheckIcReq / CheckCapsuleCmd / CheckH2CData) -> data (+ data
// digest) -> deliver. On a fatal error it encodes the C2HTermReq the target would send
// and stops. Bytes can be fed in chunks of any size.
//
// Built only for tests/fuzz. When gateway/engine grows a pure PDU reader
// (gateway/engine/pdu_reader.h), fuzz_pdu should drive that instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gateway/protocol/nvme_tcp.h"

namespace nvmeof::fuzz {

struct FramerOptions {
  bool verify_digests = true;  // the fuzzer turns this off to get past random digests
  uint8_t cpda = 0;            // what ICResp would advertise
  uint32_t maxh2cdata = 128 * 1024;
  uint32_t in_capsule_data_size = 8192;
};

// One complete received PDU. Pointers are valid until the next Feed().
struct FramedPdu {
  uint8_t type = 0;
  const uint8_t* header = nullptr;  // hlen bytes, without the header digest
  uint32_t hlen = 0;
  const uint8_t* data = nullptr;  // the PDU data (in-capsule / H2CData / TermReq body)
  uint32_t data_len = 0;
  bool data_digest_ok = true;  // false: data digest mismatch (a command error, not fatal)
};

class PduFramer {
 public:
  enum class State { kCommonHeader, kHeader, kPayload, kTerminated, kClosed };

  // Largest payload (everything after the header and its digest) an accepted PDU can
  // have: PDO padding + data + data digest.
  static constexpr uint32_t kMaxPad = 255;

  explicit PduFramer(const FramerOptions& o);

  // Consumes up to len bytes, calling on_pdu(ctx, pdu) for each complete PDU. Returns the
  // bytes consumed: all of them, unless the connection ended (terminated or closed).
  using OnPdu = void (*)(void* ctx, const FramedPdu& pdu);
  size_t Feed(const uint8_t* data, size_t len, OnPdu on_pdu, void* ctx);

  State state() const { return state_; }
  bool icreq_done() const { return icreq_done_; }
  const tcp::ConnParams& params() const { return params_; }
  const tcp::HeaderCheck& error() const { return error_; }
  // What the target would have sent: the ICResp and/or the C2HTermReq.
  const std::vector<uint8_t>& sent() const { return sent_; }
  uint64_t pdus() const { return pdus_; }

 private:
  void OnCommonHeader();
  void OnHeader();
  void OnPayload(OnPdu on_pdu, void* ctx);
  void Fail(const tcp::HeaderCheck& c);
  void Reset();

  FramerOptions opts_;
  tcp::ConnParams params_;
  State state_ = State::kCommonHeader;
  bool icreq_done_ = false;
  tcp::HeaderCheck error_;

  uint8_t hdr_[tcp::kMaxHeaderLen];
  uint32_t hdr_have_ = 0;
  uint32_t hdr_need_ = 0;  // header bytes with digest (TermReq: hlen only)
  std::vector<uint8_t> payload_;
  uint32_t payload_have_ = 0;
  uint32_t payload_need_ = 0;

  std::vector<uint8_t> sent_;
  uint64_t pdus_ = 0;
};

}  // namespace nvmeof::fuzz
