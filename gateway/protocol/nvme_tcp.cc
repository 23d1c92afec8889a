// NVMe/TCP PDU validation and encoding (NVMe/TCP Transport Specification 1.0).
//
// Fatal error status (FES) / field error information (FEI) decisions:
//
//  - FES 01h Invalid PDU Header Field: FEI is the byte offset, within the PDU header, of
//    the field found invalid. When several fields are wrong, the one at the lowest offset
//    that can be judged is reported (pdu_type 0, flags 1, hlen 2, pdo 3, plen 4, then the
//    PDU-specific fields).
//  - FES 03h Header Digest Error is detected by the PDU reader (it owns the digest check):
//    its FEI carries the PDU Header Digest found in the PDU, not an offset.
//  - FES 02h PDU Sequence Error: a PDU type the controller accepts, received at the wrong
//    time (anything but ICReq before the connection is initialized; a second ICReq).
//    FEI is reserved for this FES: 0.
//  - FES 05h Data Transfer Limit Exceeded: an H2CData PDU carrying more than MAXH2CDATA
//    bytes, or a command capsule carrying more in-capsule data than the controller accepts
//    (IOCCSZ). FEI is reserved for this FES: 0.
//  - FES 04h Data Transfer Out of Range: an H2CData whose DATAO + DATAL does not fit the
//    32-bit offset space (matching DATAO/DATAL against the R2T is the transport's job, with
//    the same FES). FEI reserved: 0.
//  - FES 06h Unsupported Parameter: ICReq PFV other than 0. PFV is a version number, not
//    a malformed value: a later version is well-formed but not supported by this
//    controller, which is what FES 06h says. FEI is the offset of the parameter (8).
//  - Types a controller never receives (ICResp, C2HTermReq, CapsuleResp, C2HData, R2T) and
//    undefined types are Invalid PDU Header Field at offset 0 (pdu_type), in any state.
//  - H2CTermReq: a termination request is never answered with a termination request.
//    A well-formed one (hlen 24, 24 <= plen <= 24 + 128) is accepted so that the transport
//    can read it and close the connection; a malformed one gives Close() (close without
//    a C2HTermReq).
//  - Reserved bits and fields (undefined flag bits, CapsuleCmd PDO when there is no data,
//    ICReq DGST bits 7:2) are ignored, as the NVMe base specification allows a receiver to
//    do. Exceptions, so that HeaderBytes()/DataBytes() stay true for every accepted PDU:
//    the digest flags (checked against what was negotiated; never set on ICReq or
//    H2CTermReq) and the PDO of ICReq and H2CTermReq (must be 0).
//
// Not checked here, by design: the command's SGL against the in-capsule data (a mismatch
// is a command error the target returns as a completion status, e.g. Data SGL Length
// Invalid or SGL Offset Invalid, not a transport fatal error), and H2CData CCCID/TTAG/
// DATAO against the outstanding R2T (transport state).
//
// Encoders fill headers only. They never compute digests: when a digest was negotiated
// the transport computes CRC32C over the final header bytes (and over the data) and appends
// it; the flags and lengths written here already account for those 4-byte fields.
#include "gateway/protocol/nvme_tcp.h"

namespace nvmeof::tcp {
namespace {

// Byte offsets of the common header fields (FEI values).
constexpr uint32_t kFeiPduType = offsetof(CommonHeader, pdu_type);
constexpr uint32_t kFeiFlags = offsetof(CommonHeader, flags);
constexpr uint32_t kFeiHlen = offsetof(CommonHeader, hlen);
constexpr uint32_t kFeiPdo = offsetof(CommonHeader, pdo);
constexpr uint32_t kFeiPlen = offsetof(CommonHeader, plen);
static_assert(kFeiPduType == 0 && kFeiFlags == 1 && kFeiHlen == 2 && kFeiPdo == 3 &&
              kFeiPlen == 4);

constexpr uint32_t kFeiIcReqPfv = offsetof(IcReq, pfv);
constexpr uint32_t kFeiIcReqHpda = offsetof(IcReq, hpda);
static_assert(kFeiIcReqPfv == 8 && kFeiIcReqHpda == 10);

constexpr uint32_t kFeiDatal = offsetof(DataHeader, datal);
static_assert(kFeiDatal == 16);

constexpr uint32_t kIcPduLen = sizeof(IcReq);          // 128
constexpr uint32_t kTermReqHlen = sizeof(TermReqHeader);  // 24
constexpr uint8_t kMaxPda = 31;                         // HPDA/CPDA: 0..31

constexpr HeaderCheck InvalidField(uint32_t fei) {
  return HeaderCheck::Fail(kFesInvalidHeaderField, fei);
}

constexpr uint8_t kDigestFlags = kFlagHdgst | kFlagDdgst;

// A termination request carries no digests and its data (the offending PDU header, at
// most 128 bytes) follows the 24-byte header directly (PDO 0). Anything else: Close().
HeaderCheck CheckH2CTermReqHeader(const CommonHeader& ch) {
  if ((ch.flags & kDigestFlags) != 0 || ch.hlen != kTermReqHlen || ch.pdo != 0 ||
      ch.plen < kTermReqHlen || ch.plen > kTermReqHlen + kMaxTermReqData) {
    return HeaderCheck::Close();
  }
  return HeaderCheck::Ok();
}

// CapsuleCmd and H2CData: the PDUs that carry digests and (may) carry data.
HeaderCheck CheckDataPduHeader(const CommonHeader& ch, const ConnParams& p) {
  const uint8_t type = ch.pdu_type;
  const uint32_t plen = ch.plen;
  // Header length with the negotiated digest. ExpectedHlen, not ch.hlen: the hlen check
  // comes after the flags check, and a bad hlen must not skew the flags verdict.
  const uint32_t hdr = ExpectedHlen(type) + (p.hdgst ? kDigestLen : 0);
  const bool has_data = plen > hdr;

  // flags: HDGSTF iff a header digest was negotiated; DDGSTF iff a data digest was
  // negotiated and the PDU carries data (no data, no data digest).
  const bool want_hdgst = p.hdgst;
  const bool want_ddgst = p.ddgst && has_data;
  if (((ch.flags & kFlagHdgst) != 0) != want_hdgst) return InvalidField(kFeiFlags);
  if (((ch.flags & kFlagDdgst) != 0) != want_ddgst) return InvalidField(kFeiFlags);

  if (ch.hlen != ExpectedHlen(type)) return InvalidField(kFeiHlen);

  // pdo: with data, at or after the header (and its digest), aligned to CPDA, and leaving
  // at least one data byte before the data digest. Without data it is reserved, but a
  // non-zero value must not point inside the header.
  const uint32_t ddgst_len = want_ddgst ? kDigestLen : 0;
  if (has_data) {
    const uint32_t align = (static_cast<uint32_t>(p.cpda) + 1) * 4;
    const uint32_t misaligned = p.cpda == 0 ? (ch.pdo & 3u) : ch.pdo % align;
    if (ch.pdo < hdr || misaligned != 0 || static_cast<uint64_t>(ch.pdo) + ddgst_len >= plen) {
      return InvalidField(kFeiPdo);
    }
  } else if (ch.pdo != 0 && ch.pdo < hdr) {
    return InvalidField(kFeiPdo);
  }

  // plen: at least the header (with digest); an H2CData must carry data; a PDU without
  // data is exactly its header.
  if (plen < hdr) return InvalidField(kFeiPlen);
  if (type == kH2CData && !has_data) return InvalidField(kFeiPlen);

  // The data must fit what the controller accepts in one PDU.
  const uint32_t data = has_data ? plen - ch.pdo - ddgst_len : 0;
  const uint32_t limit = type == kCapsuleCmd ? p.in_capsule_data_size : p.maxh2cdata;
  if (data > limit) return HeaderCheck::Fail(kFesDataTransferLimitExceeded, 0);
  return HeaderCheck::Ok();
}

}  // namespace

HeaderCheck CheckCommonHeader(const CommonHeader& ch, bool icreq_done, const ConnParams& p) {
  switch (ch.pdu_type) {
    case kH2CTermReq:
      return CheckH2CTermReqHeader(ch);
    case kIcReq:
      if (icreq_done) return HeaderCheck::Fail(kFesPduSequenceError, 0);
      // ICReq carries neither digests nor data. Its other flag bits are ignored, but a
      // digest flag or a PDO would make HeaderBytes()/DataBytes() lie about the framing.
      if ((ch.flags & kDigestFlags) != 0) return InvalidField(kFeiFlags);
      if (ch.hlen != kIcPduLen) return InvalidField(kFeiHlen);
      if (ch.pdo != 0) return InvalidField(kFeiPdo);
      if (ch.plen != kIcPduLen) return InvalidField(kFeiPlen);
      return HeaderCheck::Ok();
    case kCapsuleCmd:
    case kH2CData:
      if (!icreq_done) return HeaderCheck::Fail(kFesPduSequenceError, 0);
      return CheckDataPduHeader(ch, p);
    default:
      // Controller-to-host types and undefined types.
      return InvalidField(kFeiPduType);
  }
}

HeaderCheck CheckIcReq(const IcReq& req) {
  if (req.ch.pdu_type != kIcReq) return InvalidField(kFeiPduType);
  if (req.ch.hlen != kIcPduLen) return InvalidField(kFeiHlen);
  if (req.ch.plen != kIcPduLen) return InvalidField(kFeiPlen);
  if (req.pfv != 0) return HeaderCheck::Fail(kFesUnsupportedParameter, kFeiIcReqPfv);
  if (req.hpda > kMaxPda) return InvalidField(kFeiIcReqHpda);
  // dgst bits 7:2 reserved; maxr2t: any value.
  return HeaderCheck::Ok();
}

HeaderCheck CheckH2CData(const DataHeader& h, const ConnParams& p) {
  if (h.ch.hlen != sizeof(DataHeader)) return InvalidField(kFeiHlen);
  if (h.datal == 0) return InvalidField(kFeiDatal);
  if (h.datal > p.maxh2cdata) return HeaderCheck::Fail(kFesDataTransferLimitExceeded, 0);
  if (h.datal != DataBytes(h.ch)) return InvalidField(kFeiDatal);
  // A command transfers at most 0xFFFFFFFF bytes (32-bit SGL length).
  if (static_cast<uint64_t>(h.datao) + h.datal > UINT32_MAX) {
    return HeaderCheck::Fail(kFesDataTransferOutOfRange, 0);
  }
  return HeaderCheck::Ok();
}

void EncodeIcResp(IcResp* out, const ConnParams& p) {
  memset(out, 0, sizeof(*out));
  out->ch.pdu_type = kIcResp;
  out->ch.flags = 0;
  out->ch.hlen = sizeof(IcResp);
  out->ch.pdo = 0;
  out->ch.plen = sizeof(IcResp);
  out->pfv = 0;
  out->cpda = p.cpda;
  out->dgst = static_cast<uint8_t>((p.hdgst ? kDgstHeader : 0) | (p.ddgst ? kDgstData : 0));
  out->maxh2cdata = p.maxh2cdata;
}

void EncodeCapsuleResp(CapsuleRespHeader* out, const nvme::Cqe& cqe, bool hdgst) {
  memset(out, 0, sizeof(*out));
  out->ch.pdu_type = kCapsuleResp;
  out->ch.flags = hdgst ? kFlagHdgst : 0;
  out->ch.hlen = sizeof(CapsuleRespHeader);
  out->ch.pdo = 0;
  out->ch.plen = sizeof(CapsuleRespHeader) + (hdgst ? kDigestLen : 0);
  out->cqe = cqe;
}

void EncodeR2T(R2THeader* out, uint16_t cccid, uint16_t ttag, uint32_t offset, uint32_t length,
               bool hdgst) {
  memset(out, 0, sizeof(*out));
  out->ch.pdu_type = kR2T;
  out->ch.flags = hdgst ? kFlagHdgst : 0;
  out->ch.hlen = sizeof(R2THeader);
  out->ch.pdo = 0;
  out->ch.plen = sizeof(R2THeader) + (hdgst ? kDigestLen : 0);
  out->cccid = cccid;
  out->ttag = ttag;
  out->r2to = offset;
  out->r2tl = length;
}

// length must be > 0: a C2HData PDU always carries data (DDGSTF is set whenever a data
// digest was negotiated).
// SUCCESS is only valid on the last PDU of a transfer, so success implies LAST_PDU.
// (The transport may set SUCCESS only when SQ flow control is disabled for the queue, since
// the omitted response capsule is what would carry SQHD.)
void EncodeC2HData(DataHeader* out, uint16_t cccid, uint32_t offset, uint32_t length, bool last,
                   bool success, const ConnParams& p) {
  memset(out, 0, sizeof(*out));
  const uint8_t pdo = C2HDataPdo(p);
  uint8_t flags = 0;
  if (p.hdgst) flags |= kFlagHdgst;
  if (p.ddgst) flags |= kFlagDdgst;
  if (last || success) flags |= kFlagLastPdu;
  if (success) flags |= kFlagSuccess;
  out->ch.pdu_type = kC2HData;
  out->ch.flags = flags;
  out->ch.hlen = sizeof(DataHeader);
  out->ch.pdo = pdo;
  out->ch.plen = pdo + length + (p.ddgst ? kDigestLen : 0);
  out->cccid = cccid;
  out->ttag = 0;  // reserved in C2HData
  out->datao = offset;
  out->datal = length;
}

uint32_t EncodeC2HTermReq(uint8_t* out, uint16_t fes, uint32_t fei, const uint8_t* offending,
                          uint32_t offending_len) {
  const uint32_t copy = offending == nullptr ? 0
                        : offending_len < kMaxTermReqData ? offending_len
                                                          : kMaxTermReqData;
  TermReqHeader h;
  memset(&h, 0, sizeof(h));
  h.ch.pdu_type = kC2HTermReq;
  h.ch.flags = 0;  // termination requests carry no digests
  h.ch.hlen = sizeof(TermReqHeader);
  h.ch.pdo = 0;
  h.ch.plen = sizeof(TermReqHeader) + copy;
  h.fes = fes;
  h.fei = fei;
  memcpy(out, &h, sizeof(h));
  if (copy > 0) memcpy(out + sizeof(h), offending, copy);
  return sizeof(h) + copy;
}

}  // namespace nvmeof::tcp
