#include "gateway/transport/tcp/pdu_reader.h"

#include <algorithm>
#include <cstring>

#include "gateway/protocol/crc32c.h"

namespace nvmeof::tcp {

PduReader::PduReader(Handler* handler, const ConnParams& params)
    : handler_(handler), params_(params), rx_(new uint8_t[kBufferSize]) {}

PduReader::Span PduReader::NextRecv() {
  if (rx_pos_ == rx_len_) rx_pos_ = rx_len_ = 0;
  // Big payloads go straight from the socket into their destination.
  if (state_ == State::kData && rx_pos_ == rx_len_ && data_dst_ &&
      data_left_ >= kDirectRecvThreshold) {
    last_direct_ = true;
    return {data_dst_, data_left_, true};
  }
  if (rx_pos_ > 0 && kBufferSize - rx_len_ < kMaxHeaderLen * 2) {
    memmove(rx_.get(), rx_.get() + rx_pos_, rx_len_ - rx_pos_);
    rx_len_ -= rx_pos_;
    rx_pos_ = 0;
  }
  uint32_t space = kBufferSize - rx_len_;
  if (bulk_) space = std::min(space, kBulkHeadRead);
  last_direct_ = false;
  return {rx_.get() + rx_len_, space, false};
}

bool PduReader::Received(uint32_t n) {
  if (last_direct_) {
    last_direct_ = false;
    DataReceived(data_dst_, n, /*copy_from=*/nullptr);
    return !closed_;
  }
  rx_len_ += n;
  return Parse();
}

size_t PduReader::Feed(const uint8_t* data, size_t len) {
  size_t used = 0;
  while (used < len && !closed_) {
    Span s = NextRecv();
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>(s.len, len - used));
    memcpy(s.dst, data + used, n);
    used += n;
    Received(n);
  }
  return used;
}

// n more payload bytes arrived: at `bytes`, already in place when copy_from is null (direct
// receive into the destination), else to be copied from there (or dropped when the
// payload is being discarded).
void PduReader::DataReceived(const uint8_t* bytes, uint32_t n, const uint8_t* copy_from) {
  if (params_.ddgst) data_crc_ = Crc32cUpdate(data_crc_, bytes, n);
  if (data_dst_) {
    if (copy_from) memcpy(data_dst_, copy_from, n);
    data_dst_ += n;
  }
  data_left_ -= n;
  if (data_left_ > 0) return;
  if (params_.ddgst) {
    state_ = State::kDdgst;
    ddgst_have_ = 0;
  } else {
    DataDone(true);
  }
}

void PduReader::ExpectData(uint8_t* dst, uint32_t len) {
  bulk_ = len >= kBulkData;
  data_dst_ = dst;
  data_left_ = len;
  data_crc_ = kCrc32cInit;
  const auto* ch = reinterpret_cast<const CommonHeader*>(hdr_);
  uint32_t hb = HeaderBytes(*ch);
  pad_left_ = ch->pdo > hb ? ch->pdo - hb : 0;
  state_ = pad_left_ ? State::kPad : State::kData;
}

void PduReader::DataDone(bool digest_ok) {
  state_ = State::kCh;
  handler_->OnDataDone(digest_ok);
}

bool PduReader::Parse() {
  while (!closed_) {
    if (state_ == State::kDraining) {
      rx_pos_ = rx_len_;  // after a fatal error: read and discard until the host closes
      return true;
    }
    if (failed_) return false;
    uint32_t avail = rx_len_ - rx_pos_;
    if (avail == 0) return true;
    const uint8_t* p = rx_.get() + rx_pos_;
    switch (state_) {
      case State::kCh: {
        if (avail < sizeof(CommonHeader)) return true;
        CommonHeader ch;
        memcpy(&ch, p, sizeof(ch));
        auto chk = CheckCommonHeader(ch, icreq_done_, params_);
        if (!chk.ok) {
          // The C2HTermReq carries what of the offending header has arrived.
          memcpy(hdr_, p, std::min<uint32_t>(avail, sizeof(hdr_)));
          hdr_need_ = std::min<uint32_t>(avail, ch.hlen ? ch.hlen : sizeof(ch));
          FailCheck(chk);
          return false;
        }
        hdr_need_ = HeaderBytes(ch);
        state_ = State::kHeader;
        break;
      }
      case State::kHeader:
        if (avail < hdr_need_) return true;
        memcpy(hdr_, p, hdr_need_);
        rx_pos_ += hdr_need_;
        if (!HandleHeader()) return false;
        break;
      case State::kPad: {
        uint32_t n = std::min(avail, pad_left_);
        rx_pos_ += n;
        pad_left_ -= n;
        if (pad_left_ == 0) state_ = State::kData;
        break;
      }
      case State::kData: {
        uint32_t n = std::min(avail, data_left_);
        rx_pos_ += n;
        DataReceived(p, n, p);
        break;
      }
      case State::kDdgst: {
        uint32_t n = std::min(avail, kDigestLen - ddgst_have_);
        memcpy(ddgst_buf_ + ddgst_have_, p, n);
        ddgst_have_ += n;
        rx_pos_ += n;
        if (ddgst_have_ == kDigestLen) {
          uint32_t got;
          memcpy(&got, ddgst_buf_, kDigestLen);
          DataDone(got == Crc32cFinish(data_crc_));
        }
        break;
      }
      case State::kDraining:
        break;
    }
  }
  return false;
}

bool PduReader::HandleHeader() {
  const auto* ch = reinterpret_cast<const CommonHeader*>(hdr_);
  bulk_ = false;  // until a large payload is announced (ExpectData)
  if ((ch->flags & kFlagHdgst) && ch->pdu_type != kIcReq) {
    uint32_t want = Crc32c(hdr_, ch->hlen);
    uint32_t got;
    memcpy(&got, hdr_ + ch->hlen, kDigestLen);
    if (want != got) {
      // FEI carries the header digest that was received.
      Fatal(kFesHeaderDigestError, got);
      return false;
    }
  }
  switch (ch->pdu_type) {
    case kIcReq:
      return HandleIcReq();
    case kCapsuleCmd:
      return HandleCapsule();
    case kH2CData:
      return HandleH2CData();
    case kH2CTermReq:
      closed_ = true;
      handler_->OnHostTerm(*reinterpret_cast<const TermReqHeader*>(hdr_));
      return false;
    default:
      Fatal(kFesInvalidHeaderField, 0);
      return false;
  }
}

bool PduReader::HandleIcReq() {
  const auto* req = reinterpret_cast<const IcReq*>(hdr_);
  auto chk = CheckIcReq(*req);
  if (!chk.ok) {
    FailCheck(chk);
    return false;
  }
  params_.hdgst = (req->dgst & kDgstHeader) != 0;
  params_.ddgst = (req->dgst & kDgstData) != 0;
  params_.hpda = req->hpda;
  params_.cpda = 0;
  icreq_done_ = true;
  state_ = State::kCh;
  handler_->OnIcReq(*req);
  return true;
}

bool PduReader::HandleCapsule() {
  const auto* h = reinterpret_cast<const CapsuleCmdHeader*>(hdr_);
  auto chk = CheckCapsuleCmd(*h, params_);
  if (!chk.ok) {
    FailCheck(chk);
    return false;
  }
  const uint32_t icd = DataBytes(h->ch);
  state_ = State::kCh;
  DataPlacement p = handler_->OnCapsule(*h, icd);
  if (p.fes) {
    Fatal(p.fes, p.fei);
    return false;
  }
  if (icd > 0) ExpectData(p.dst, icd);
  return true;
}

bool PduReader::HandleH2CData() {
  const auto* h = reinterpret_cast<const DataHeader*>(hdr_);
  auto chk = CheckH2CData(*h, params_);
  if (!chk.ok) {
    FailCheck(chk);
    return false;
  }
  DataPlacement p = handler_->OnH2CData(*h);
  if (p.fes) {
    Fatal(p.fes, p.fei);
    return false;
  }
  ExpectData(p.dst, h->datal);
  return true;
}

void PduReader::FailCheck(const HeaderCheck& chk) {
  if (chk.send_term_req()) return Fatal(chk.fes, chk.fei);
  // A malformed H2CTermReq is never answered with a terminate request: just close.
  closed_ = true;
  handler_->OnMalformed();
}

void PduReader::Fatal(uint16_t fes, uint32_t fei) {
  if (failed_ || closed_) return;
  failed_ = true;
  handler_->OnFatal(fes, fei, hdr_, std::min<uint32_t>(hdr_need_, kMaxTermReqData));
  // Once the terminate request is out, what the host still sends is read and dropped, so
  // that it reads the terminate request rather than a reset.
  if (!closed_) state_ = State::kDraining;
}

}  // namespace nvmeof::tcp
