#include "tests/fuzz/pdu_framer.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "gateway/protocol/crc32c.h"

// An invariant the protocol checks promise. Violations are bugs in gateway/protocol, and
// the fuzzer must report them as crashes.
#define FRAMER_CHECK(cond)                                                          \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                      \
    }                                                                               \
  } while (0)

namespace nvmeof::fuzz {

using namespace nvmeof::tcp;

PduFramer::PduFramer(const FramerOptions& o) : opts_(o) {
  params_.cpda = o.cpda;
  params_.maxh2cdata = o.maxh2cdata;
  params_.in_capsule_data_size = o.in_capsule_data_size;
  Reset();
}

void PduFramer::Reset() {
  hdr_have_ = 0;
  hdr_need_ = sizeof(CommonHeader);
  payload_have_ = 0;
  payload_need_ = 0;
  state_ = State::kCommonHeader;
}

void PduFramer::Fail(const HeaderCheck& c) {
  FRAMER_CHECK(!c.ok);
  error_ = c;
  if (!c.send_term_req()) {
    state_ = State::kClosed;
    return;
  }
  uint8_t out[sizeof(TermReqHeader) + kMaxTermReqData];
  const uint32_t n = EncodeC2HTermReq(out, c.fes, c.fei, hdr_, hdr_have_);
  TermReqHeader t;
  memcpy(&t, out, sizeof(t));
  FRAMER_CHECK(n >= sizeof(TermReqHeader) && n <= sizeof(out));
  FRAMER_CHECK(t.ch.pdu_type == kC2HTermReq && t.ch.hlen == sizeof(TermReqHeader));
  FRAMER_CHECK(t.ch.plen == n && t.fes == c.fes && t.fei == c.fei);
  sent_.insert(sent_.end(), out, out + n);
  state_ = State::kTerminated;
}

void PduFramer::OnCommonHeader() {
  CommonHeader ch;
  memcpy(&ch, hdr_, sizeof(ch));
  const HeaderCheck c = CheckCommonHeader(ch, icreq_done_, params_);
  if (!c.ok) return Fail(c);

  // What CheckCommonHeader promises about an accepted header.
  const uint32_t hb = HeaderBytes(ch);
  FRAMER_CHECK(hb >= sizeof(CommonHeader) && hb <= kMaxHeaderLen && hb <= ch.plen);
  FRAMER_CHECK(ch.hlen == ExpectedHlen(ch.pdu_type));
  const uint32_t data = DataBytes(ch);
  switch (ch.pdu_type) {
    case kIcReq:
      FRAMER_CHECK(!icreq_done_ && ch.plen == sizeof(IcReq) && data == 0);
      break;
    case kH2CTermReq:
      FRAMER_CHECK(hb == sizeof(TermReqHeader) && data == 0);
      FRAMER_CHECK(ch.plen - hb <= kMaxTermReqData);
      break;
    case kCapsuleCmd:
      FRAMER_CHECK(icreq_done_ && data <= params_.in_capsule_data_size);
      break;
    case kH2CData:
      FRAMER_CHECK(icreq_done_ && data > 0 && data <= params_.maxh2cdata);
      break;
    default:
      FRAMER_CHECK(false && "accepted a PDU type a controller never receives");
  }
  const uint32_t payload = ch.plen - hb;
  const uint32_t limit = ch.pdu_type == kCapsuleCmd ? params_.in_capsule_data_size
                         : ch.pdu_type == kH2CData  ? params_.maxh2cdata
                                                    : kMaxTermReqData;
  FRAMER_CHECK(payload <= kMaxPad + limit + kDigestLen);
  FRAMER_CHECK(hb > sizeof(CommonHeader));  // there is always more header to read
  if (data > 0) {
    const uint32_t ddgst = (ch.flags & kFlagDdgst) ? kDigestLen : 0;
    FRAMER_CHECK(ch.pdo >= hb && ch.pdo + data + ddgst == ch.plen);
  }
  hdr_need_ = hb;
  payload_need_ = payload;
  state_ = State::kHeader;
}

void PduFramer::OnHeader() {
  CommonHeader ch;
  memcpy(&ch, hdr_, sizeof(ch));
  const bool has_hdgst = (ch.flags & kFlagHdgst) != 0;
  if (has_hdgst && opts_.verify_digests) {
    uint32_t want;
    memcpy(&want, hdr_ + ch.hlen, sizeof(want));
    // FES 03h: FEI carries the PDU's (received) header digest.
    if (Crc32c(hdr_, ch.hlen) != want) return Fail(HeaderCheck::Fail(kFesHeaderDigestError, want));
  }
  HeaderCheck c;
  switch (ch.pdu_type) {
    case kIcReq: {
      IcReq req;
      memcpy(&req, hdr_, sizeof(req));
      c = CheckIcReq(req);
      if (!c.ok) return Fail(c);
      params_.hdgst = (req.dgst & kDgstHeader) != 0;
      params_.ddgst = (req.dgst & kDgstData) != 0;
      params_.hpda = req.hpda;
      IcResp resp;
      EncodeIcResp(&resp, params_);
      FRAMER_CHECK(resp.ch.pdu_type == kIcResp && resp.ch.plen == sizeof(IcResp));
      const uint8_t* r = reinterpret_cast<const uint8_t*>(&resp);
      sent_.insert(sent_.end(), r, r + sizeof(resp));
      icreq_done_ = true;
      break;
    }
    case kCapsuleCmd: {
      CapsuleCmdHeader h;
      memcpy(&h, hdr_, sizeof(h));
      c = CheckCapsuleCmd(h, params_);
      if (!c.ok) return Fail(c);
      break;
    }
    case kH2CData: {
      DataHeader h;
      memcpy(&h, hdr_, sizeof(h));
      c = CheckH2CData(h, params_);
      if (!c.ok) return Fail(c);
      FRAMER_CHECK(h.datal == DataBytes(ch));
      FRAMER_CHECK(static_cast<uint64_t>(h.datao) + h.datal <= UINT32_MAX);
      break;
    }
    case kH2CTermReq:
      break;
    default:
      FRAMER_CHECK(false);
  }
  payload_.resize(payload_need_);
  payload_have_ = 0;
  state_ = State::kPayload;
}

void PduFramer::OnPayload(OnPdu on_pdu, void* ctx) {
  CommonHeader ch;
  memcpy(&ch, hdr_, sizeof(ch));
  FramedPdu pdu;
  pdu.type = ch.pdu_type;
  pdu.header = hdr_;
  pdu.hlen = ch.hlen;
  if (ch.pdu_type == kH2CTermReq) {
    pdu.data = payload_.data();
    pdu.data_len = payload_need_;
  } else {
    const uint32_t data = DataBytes(ch);
    if (data > 0) {
      const uint32_t off = ch.pdo - hdr_need_;  // padding before the data
      FRAMER_CHECK(off + data <= payload_need_);
      pdu.data = payload_.data() + off;
      pdu.data_len = data;
      if ((ch.flags & kFlagDdgst) != 0) {
        FRAMER_CHECK(off + data + kDigestLen == payload_need_);
        uint32_t want;
        memcpy(&want, pdu.data + data, sizeof(want));
        pdu.data_digest_ok = !opts_.verify_digests || Crc32c(pdu.data, data) == want;
      }
    } else {
      FRAMER_CHECK(payload_need_ == 0);
    }
  }
  ++pdus_;
  if (on_pdu != nullptr) on_pdu(ctx, pdu);
  if (ch.pdu_type == kH2CTermReq) {
    state_ = State::kClosed;  // the host ended the connection
    return;
  }
  Reset();
}

size_t PduFramer::Feed(const uint8_t* data, size_t len, OnPdu on_pdu, void* ctx) {
  size_t used = 0;
  while (used < len) {
    const size_t avail = len - used;
    switch (state_) {
      case State::kCommonHeader:
      case State::kHeader: {
        FRAMER_CHECK(hdr_need_ <= sizeof(hdr_) && hdr_have_ < hdr_need_);
        const size_t n = hdr_need_ - hdr_have_ < avail ? hdr_need_ - hdr_have_ : avail;
        memcpy(hdr_ + hdr_have_, data + used, n);
        hdr_have_ += static_cast<uint32_t>(n);
        used += n;
        if (hdr_have_ < hdr_need_) break;
        if (state_ == State::kCommonHeader) {
          OnCommonHeader();  // -> kHeader (more header bytes to read), or failed
        } else {
          OnHeader();  // -> kPayload, or failed
          if (state_ == State::kPayload && payload_need_ == 0) OnPayload(on_pdu, ctx);
        }
        break;
      }
      case State::kPayload: {
        FRAMER_CHECK(payload_have_ < payload_need_);
        const size_t n = payload_need_ - payload_have_ < avail ? payload_need_ - payload_have_ : avail;
        memcpy(payload_.data() + payload_have_, data + used, n);
        payload_have_ += static_cast<uint32_t>(n);
        used += n;
        if (payload_have_ == payload_need_) OnPayload(on_pdu, ctx);
        break;
      }
      case State::kTerminated:
      case State::kClosed:
        return used;
    }
  }
  return used;
}

}  // namespace nvmeof::fuzz
