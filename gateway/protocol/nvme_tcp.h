// NVMe/TCP transport PDUs (NVMe/TCP Transport Specification 1.0).
//
// Wire layouts and pure validation/encoding helpers: no sockets, no state beyond what is
// passed in. The transport (gateway/transport/tcp: PduReader, TcpQueue) owns the byte
// stream; this file says what the bytes mean and whether they are acceptable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gateway/protocol/nvme.h"

namespace nvmeof::tcp {

enum PduType : uint8_t {
  kIcReq = 0x00,
  kIcResp = 0x01,
  kH2CTermReq = 0x02,
  kC2HTermReq = 0x03,
  kCapsuleCmd = 0x04,
  kCapsuleResp = 0x05,
  kH2CData = 0x06,
  kC2HData = 0x07,
  kR2T = 0x09,
};

// Common header flags.
inline constexpr uint8_t kFlagHdgst = 0x01;     // header digest present
inline constexpr uint8_t kFlagDdgst = 0x02;     // data digest present
inline constexpr uint8_t kFlagLastPdu = 0x04;   // H2CData/C2HData: last PDU of the transfer
inline constexpr uint8_t kFlagSuccess = 0x08;   // C2HData: no response capsule follows

inline constexpr uint32_t kDigestLen = 4;
// In-capsule data on the admin queue: fixed at 8 KiB by the NVMe/TCP binding (IOCCSZ
// describes I/O queues only).
inline constexpr uint32_t kAdminInCapsuleDataSize = 8192;

struct __attribute__((packed)) CommonHeader {
  uint8_t pdu_type;
  uint8_t flags;
  uint8_t hlen;
  uint8_t pdo;
  uint32_t plen;
};
static_assert(sizeof(CommonHeader) == 8);

inline CommonHeader MakeCommonHeader(uint8_t type, uint8_t flags, uint8_t hlen, uint8_t pdo, uint32_t plen) {
  CommonHeader ch;
  ch.pdu_type = type;
  ch.flags = flags;
  ch.hlen = hlen;
  ch.pdo = pdo;
  ch.plen = plen;
  return ch;
}

struct __attribute__((packed)) IcReq {
  CommonHeader ch;  // hlen = plen = 128
  uint16_t pfv;     // 0
  uint8_t hpda;     // host PDU data alignment, (hpda+1)*4 bytes, 0..31
  uint8_t dgst;     // bit 0 HDGST_ENABLE, bit 1 DDGST_ENABLE
  uint32_t maxr2t;  // 0's based
  uint8_t reserved[112];
};
static_assert(sizeof(IcReq) == 128);
static_assert(offsetof(IcReq, maxr2t) == 12);

struct __attribute__((packed)) IcResp {
  CommonHeader ch;  // hlen = plen = 128
  uint16_t pfv;
  uint8_t cpda;         // controller PDU data alignment
  uint8_t dgst;
  uint32_t maxh2cdata;  // bytes, >= 4096, multiple of 4
  uint8_t reserved[112];
};
static_assert(sizeof(IcResp) == 128);
static_assert(offsetof(IcResp, maxh2cdata) == 12);

inline constexpr uint8_t kDgstHeader = 0x01;
inline constexpr uint8_t kDgstData = 0x02;

struct __attribute__((packed)) TermReqHeader {
  CommonHeader ch;  // hlen = 24
  uint16_t fes;
  uint32_t fei;     // field error information (byte offset of the bad field)
  uint8_t reserved[10];
  // followed by the offending PDU header (up to kMaxTermReqData bytes)
};
static_assert(sizeof(TermReqHeader) == 24);
static_assert(offsetof(TermReqHeader, fes) == 8);
static_assert(offsetof(TermReqHeader, fei) == 10);
inline constexpr uint32_t kMaxTermReqData = 128;  // C2HTermReq carries at most 128 bytes of header

// Fatal error status (FES).
enum Fes : uint16_t {
  kFesInvalidHeaderField = 0x01,
  kFesPduSequenceError = 0x02,
  kFesHeaderDigestError = 0x03,
  kFesDataTransferOutOfRange = 0x04,
  kFesDataTransferLimitExceeded = 0x05,
  kFesUnsupportedParameter = 0x06,
};

struct __attribute__((packed)) CapsuleCmdHeader {
  CommonHeader ch;  // hlen = 72
  nvme::Sqe sqe;
};
static_assert(sizeof(CapsuleCmdHeader) == 72);

struct __attribute__((packed)) CapsuleRespHeader {
  CommonHeader ch;  // hlen = 24
  nvme::Cqe cqe;
};
static_assert(sizeof(CapsuleRespHeader) == 24);

// H2CData and C2HData share a layout.
struct __attribute__((packed)) DataHeader {
  CommonHeader ch;  // hlen = 24
  uint16_t cccid;   // command capsule CID
  uint16_t ttag;    // H2CData: the R2T's transfer tag; C2HData: reserved
  uint32_t datao;   // offset of this PDU's data within the command's data
  uint32_t datal;   // length of this PDU's data
  uint8_t reserved[4];
};
static_assert(sizeof(DataHeader) == 24);
// The offsets are FEI values of a TermReq about these fields.
static_assert(offsetof(DataHeader, cccid) == 8);
static_assert(offsetof(DataHeader, ttag) == 10);
static_assert(offsetof(DataHeader, datao) == 12);
static_assert(offsetof(DataHeader, datal) == 16);

struct __attribute__((packed)) R2THeader {
  CommonHeader ch;  // hlen = 24
  uint16_t cccid;
  uint16_t ttag;
  uint32_t r2to;  // offset
  uint32_t r2tl;  // length
  uint8_t reserved[4];
};
static_assert(sizeof(R2THeader) == 24);

// The fixed header length (hlen) each PDU type must carry.
inline constexpr uint8_t ExpectedHlen(uint8_t type) {
  switch (type) {
    case kIcReq:
    case kIcResp:
      return 128;
    case kCapsuleCmd:
      return 72;
    case kH2CTermReq:
    case kC2HTermReq:
    case kCapsuleResp:
    case kH2CData:
    case kC2HData:
    case kR2T:
      return 24;
    default:
      return 0;  // unknown type
  }
}

// The largest header (with digest) the target ever has to buffer.
inline constexpr uint32_t kMaxHeaderLen = 128 + kDigestLen;

// The outcome of checking a received PDU header: either acceptable, or the C2HTermReq
// fatal error to send (fes + fei, the byte offset of the offending field).
// A failure with fes == 0 (Close()) means: close the connection WITHOUT sending a
// C2HTermReq. That is the answer to a malformed H2CTermReq: a termination request is
// never answered with a termination request.
struct HeaderCheck {
  bool ok = true;
  uint16_t fes = 0;
  uint32_t fei = 0;
  static constexpr HeaderCheck Ok() { return {}; }
  static constexpr HeaderCheck Fail(uint16_t fes, uint32_t fei) { return {false, fes, fei}; }
  static constexpr HeaderCheck Close() { return {false, 0, 0}; }
  constexpr bool send_term_req() const { return !ok && fes != 0; }
};

// Negotiated connection parameters that decide what a valid header looks like.
struct ConnParams {
  bool hdgst = false;
  bool ddgst = false;
  uint8_t cpda = 0;        // alignment the host must use for data in H2C PDUs
  uint8_t hpda = 0;        // alignment we must use for data in C2H PDUs
  uint32_t maxh2cdata = 0;
  uint32_t in_capsule_data_size = 0;  // largest in-capsule data accepted (bytes)
};

// Validates the 8-byte common header of a host-to-controller PDU received after the
// connection was initialized (icreq_done) or as the first PDU (!icreq_done).
// Only the header fields are checked here; type-specific fields are checked by
// CheckCapsuleCmd / CheckH2CData once the whole header has arrived.
// When it returns Ok: HeaderBytes(ch) <= min(plen, kMaxHeaderLen); DataBytes(ch) is the
// PDU's data, bounded by p.in_capsule_data_size / p.maxh2cdata (0 for ICReq and
// H2CTermReq); an H2CTermReq's plen - hlen (the offending header) is <= kMaxTermReqData.
// An H2CTermReq with a sane hlen/plen is Ok at any time (the transport then closes the
// connection); a malformed one gives Close(). See nvme_tcp.cc for the rule-by-rule FES/FEI.
HeaderCheck CheckCommonHeader(const CommonHeader& ch, bool icreq_done, const ConnParams& p);

// Checks an ICReq (whole 128-byte PDU). The caller derives the negotiated parameters
// (hdgst/ddgst from req.dgst, hpda) once this returns Ok.
HeaderCheck CheckIcReq(const IcReq& req);

// Checks the framing of a CapsuleCmd: in-capsule data offset/length consistency (inline
// below: it runs for every command).
inline HeaderCheck CheckCapsuleCmd(const CapsuleCmdHeader& h, const ConnParams& p);

// Checks the framing of an H2CData PDU (not whether the tag/offset match a transfer).
HeaderCheck CheckH2CData(const DataHeader& h, const ConnParams& p);

// Header length including the header digest, and the data length (excluding the data
// digest and padding) of a PDU with a valid common header.
inline uint32_t HeaderBytes(const CommonHeader& ch) {
  return ch.hlen + ((ch.flags & kFlagHdgst) ? kDigestLen : 0);
}
inline uint32_t DataBytes(const CommonHeader& ch) {
  if (ch.pdo == 0) return 0;
  uint32_t end = ch.plen - ((ch.flags & kFlagDdgst) ? kDigestLen : 0);
  return end > ch.pdo ? end - ch.pdo : 0;
}

inline HeaderCheck CheckCapsuleCmd(const CapsuleCmdHeader& h, const ConnParams& p) {
  if (h.ch.hlen != sizeof(CapsuleCmdHeader)) {
    return HeaderCheck::Fail(kFesInvalidHeaderField, offsetof(CommonHeader, hlen));
  }
  if (DataBytes(h.ch) > p.in_capsule_data_size) {
    return HeaderCheck::Fail(kFesDataTransferLimitExceeded, 0);
  }
  return HeaderCheck::Ok();
}

// Encoders: fill the given header; the caller appends digests (see crc32c.h).
void EncodeIcResp(IcResp* out, const ConnParams& p);
void EncodeCapsuleResp(CapsuleRespHeader* out, const nvme::Cqe& cqe, bool hdgst);
void EncodeR2T(R2THeader* out, uint16_t cccid, uint16_t ttag, uint32_t offset, uint32_t length,
               bool hdgst);
// pdo is the data offset (header + digest + alignment padding).
void EncodeC2HData(DataHeader* out, uint16_t cccid, uint32_t offset, uint32_t length, bool last,
                   bool success, const ConnParams& p);
// Returns the PDU's total header length (hlen + header data copied); copies at most
// kMaxTermReqData bytes of `offending` after the header into `out` (which must have room
// for sizeof(TermReqHeader) + kMaxTermReqData).
uint32_t EncodeC2HTermReq(uint8_t* out, uint16_t fes, uint32_t fei, const uint8_t* offending,
                          uint32_t offending_len);

// Data offset for C2HData given the negotiated header digest and host alignment.
inline uint8_t C2HDataPdo(const ConnParams& p) {
  uint32_t hl = sizeof(DataHeader) + (p.hdgst ? kDigestLen : 0);
  uint32_t align = (static_cast<uint32_t>(p.hpda) + 1) * 4;
  return static_cast<uint8_t>((hl + align - 1) / align * align);
}

}  // namespace nvmeof::tcp
