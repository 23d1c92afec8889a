// Host-to-controller NVMe/TCP PDUs as byte vectors, laid out as a host would send them, for
// tests of the PDU reader and for the fuzz seeds (tests/fuzz). Test code only.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "gateway/protocol/crc32c.h"
#include "gateway/protocol/nvme_tcp.h"

namespace nvmeof::tcp::test {

using Bytes = std::vector<uint8_t>;

template <typename T>
inline void Append(Bytes& out, const T& v) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

inline void AppendLe32(Bytes& out, uint32_t v) { Append(out, v); }

inline constexpr auto Ch = &MakeCommonHeader;

inline void IcReqPdu(Bytes& out, uint8_t dgst, uint8_t hpda) {
  IcReq r;
  memset(&r, 0, sizeof(r));
  r.ch = Ch(kIcReq, 0, sizeof(IcReq), 0, sizeof(IcReq));
  r.hpda = hpda;
  r.dgst = dgst;
  r.maxr2t = 0;
  Append(out, r);
}

// A command capsule with optional in-capsule data. pdo 0: the first offset at or after the
// header (and its digest) aligned to (cpda+1)*4.
inline void CapsulePdu(Bytes& out, const nvme::Sqe& sqe, const Bytes& icd, bool hdgst, bool ddgst,
                       uint8_t cpda, uint32_t pdo_override = 0) {
  const uint32_t hdr = sizeof(CapsuleCmdHeader) + (hdgst ? kDigestLen : 0);
  const uint32_t align = (cpda + 1u) * 4;
  uint32_t pdo = icd.empty() ? 0 : (hdr + align - 1) / align * align;
  if (!icd.empty() && pdo_override) pdo = pdo_override;
  const bool dd = ddgst && !icd.empty();
  const uint32_t plen =
      icd.empty() ? hdr : pdo + static_cast<uint32_t>(icd.size()) + (dd ? kDigestLen : 0);
  CapsuleCmdHeader h;
  memset(&h, 0, sizeof(h));
  h.ch = Ch(kCapsuleCmd, static_cast<uint8_t>((hdgst ? kFlagHdgst : 0) | (dd ? kFlagDdgst : 0)),
            sizeof(CapsuleCmdHeader), static_cast<uint8_t>(pdo), plen);
  h.sqe = sqe;
  const size_t start = out.size();
  Append(out, h);
  if (hdgst) AppendLe32(out, Crc32c(out.data() + start, sizeof(h)));
  if (!icd.empty()) {
    out.resize(start + pdo, 0);  // padding
    out.insert(out.end(), icd.begin(), icd.end());
    if (dd) AppendLe32(out, Crc32c(icd.data(), icd.size()));
  }
}

inline void H2CDataPdu(Bytes& out, uint16_t cccid, uint16_t ttag, uint32_t datao, const Bytes& data,
                       bool last, bool hdgst, bool ddgst, uint8_t cpda) {
  const uint32_t hdr = sizeof(DataHeader) + (hdgst ? kDigestLen : 0);
  const uint32_t align = (cpda + 1u) * 4;
  const uint32_t pdo = (hdr + align - 1) / align * align;
  DataHeader h;
  memset(&h, 0, sizeof(h));
  h.ch = Ch(kH2CData,
            static_cast<uint8_t>((hdgst ? kFlagHdgst : 0) | (ddgst ? kFlagDdgst : 0) |
                                 (last ? kFlagLastPdu : 0)),
            sizeof(DataHeader), static_cast<uint8_t>(pdo),
            pdo + static_cast<uint32_t>(data.size()) + (ddgst ? kDigestLen : 0));
  h.cccid = cccid;
  h.ttag = ttag;
  h.datao = datao;
  h.datal = static_cast<uint32_t>(data.size());
  const size_t start = out.size();
  Append(out, h);
  if (hdgst) AppendLe32(out, Crc32c(out.data() + start, sizeof(h)));
  out.resize(start + pdo, 0);
  out.insert(out.end(), data.begin(), data.end());
  if (ddgst) AppendLe32(out, Crc32c(data.data(), data.size()));
}

// An H2CTermReq carrying `body` (the offending header) after its 24-byte header.
inline void H2CTermReqPdu(Bytes& out, uint16_t fes, uint32_t fei, const Bytes& body) {
  TermReqHeader t;
  memset(&t, 0, sizeof(t));
  t.ch = Ch(kH2CTermReq, 0, sizeof(t), 0, static_cast<uint32_t>(sizeof(t) + body.size()));
  t.fes = fes;
  t.fei = fei;
  Append(out, t);
  out.insert(out.end(), body.begin(), body.end());
}

inline nvme::Sqe ReadSqe(uint16_t cid, uint32_t len) {
  nvme::Sqe s;
  memset(&s, 0, sizeof(s));
  s.opcode = nvme::kIoRead;
  s.flags = 0x40;
  s.cid = cid;
  s.nsid = 1;
  s.sgl1.length = len;
  s.sgl1.id = nvme::kSglTransportDataBlock;
  s.cdw12 = len / 512 - 1;
  return s;
}

inline nvme::Sqe WriteSqe(uint16_t cid, uint32_t len, bool in_capsule) {
  nvme::Sqe s = ReadSqe(cid, len);
  s.opcode = nvme::kIoWrite;
  s.sgl1.id = in_capsule ? nvme::kSglDataBlockOffset : nvme::kSglTransportDataBlock;
  return s;
}

inline Bytes Pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

}  // namespace nvmeof::tcp::test
