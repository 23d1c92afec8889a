#include "tests/fuzz/fuzz_pdu_input.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "gateway/protocol/crc32c.h"

#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                        \
    }                                                                                 \
  } while (0)

namespace nvmeof::fuzz {

using namespace nvmeof::tcp;

FramerOptions OptionsFromByte(uint8_t opt) {
  FramerOptions o;
  o.verify_digests = (opt & kOptVerifyDigests) != 0;
  o.cpda = static_cast<uint8_t>((opt >> 1) & 3);
  if (opt & kOptSmallLimits) {
    o.maxh2cdata = 4096;
    o.in_capsule_data_size = 1024;
  }
  return o;
}

namespace {

struct Outcome {
  uint64_t pdus = 0;
  uint64_t data_bytes = 0;
  uint64_t bad_data_digests = 0;
  uint32_t first_data_crc = 0;  // order-sensitive fingerprint of what was delivered
};

void Count(void* ctx, const FramedPdu& pdu) {
  auto* o = static_cast<Outcome*>(ctx);
  FUZZ_CHECK(pdu.header != nullptr && pdu.hlen >= sizeof(CommonHeader));
  FUZZ_CHECK(pdu.data_len == 0 || pdu.data != nullptr);
  ++o->pdus;
  o->data_bytes += pdu.data_len;
  if (!pdu.data_digest_ok) ++o->bad_data_digests;
  // Touch every delivered byte (ASan checks the bounds) and fingerprint the stream.
  o->first_data_crc = Crc32cUpdate(o->first_data_crc, pdu.header, pdu.hlen);
  o->first_data_crc = Crc32cUpdate(o->first_data_crc, pdu.data, pdu.data_len);
}

}  // namespace

int FuzzPduOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t opt = data[0];
  const FramerOptions o = OptionsFromByte(opt);
  const uint8_t* stream = data + 1;
  const size_t len = size - 1;

  PduFramer whole(o);
  Outcome a;
  const size_t used = whole.Feed(stream, len, Count, &a);
  const bool ended = whole.state() == PduFramer::State::kTerminated ||
                     whole.state() == PduFramer::State::kClosed;
  FUZZ_CHECK(used == len || ended);
  FUZZ_CHECK(a.pdus == whole.pdus());
  if (whole.state() == PduFramer::State::kTerminated) {
    // The last thing sent is a well-formed C2HTermReq.
    const auto& s = whole.sent();
    FUZZ_CHECK(s.size() >= sizeof(TermReqHeader));
    FUZZ_CHECK(whole.error().send_term_req());
  }
  // Feeding more after the end consumes nothing.
  if (ended) FUZZ_CHECK(whole.Feed(stream, len, Count, &a) == 0 || len == 0);

  const uint8_t chunk_seed = static_cast<uint8_t>(opt >> 5);
  if (chunk_seed == 0) return 0;

  // Same stream in small pieces: framing must not depend on how the bytes arrive.
  PduFramer pieces(o);
  Outcome b;
  uint32_t lcg = 0x9E3779B9u * chunk_seed;
  size_t off = 0;
  while (off < len) {
    lcg = lcg * 1664525u + 1013904223u;
    size_t n = 1 + (lcg >> 16) % (chunk_seed * 29u);
    if (n > len - off) n = len - off;
    const size_t u = pieces.Feed(stream + off, n, Count, &b);
    FUZZ_CHECK(u <= n);
    off += u;
    if (u < n) break;  // the connection ended
  }
  FUZZ_CHECK(pieces.state() == whole.state());
  FUZZ_CHECK(pieces.pdus() == whole.pdus());
  FUZZ_CHECK(b.data_bytes == a.data_bytes);
  FUZZ_CHECK(b.bad_data_digests == a.bad_data_digests);
  FUZZ_CHECK(b.first_data_crc == a.first_data_crc);
  FUZZ_CHECK(pieces.icreq_done() == whole.icreq_done());
  FUZZ_CHECK(pieces.error().ok == whole.error().ok && pieces.error().fes == whole.error().fes &&
             pieces.error().fei == whole.error().fei);
  FUZZ_CHECK(pieces.sent() == whole.sent());
  return 0;
}

// ---------------------------------------------------------------- seeds

namespace {

using Bytes = std::vector<uint8_t>;

template <typename T>
void Append(Bytes& out, const T& v) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

void AppendLe32(Bytes& out, uint32_t v) { Append(out, v); }

CommonHeader Ch(uint8_t type, uint8_t flags, uint8_t hlen, uint8_t pdo, uint32_t plen) {
  CommonHeader ch;
  ch.pdu_type = type;
  ch.flags = flags;
  ch.hlen = hlen;
  ch.pdo = pdo;
  ch.plen = plen;
  return ch;
}

void IcReqPdu(Bytes& out, uint8_t dgst, uint8_t hpda) {
  IcReq r;
  memset(&r, 0, sizeof(r));
  r.ch = Ch(kIcReq, 0, sizeof(IcReq), 0, sizeof(IcReq));
  r.hpda = hpda;
  r.dgst = dgst;
  r.maxr2t = 0;
  Append(out, r);
}

// A command capsule with optional in-capsule data, laid out as a host would.
void CapsulePdu(Bytes& out, const nvme::Sqe& sqe, const Bytes& icd, bool hdgst, bool ddgst,
                uint8_t cpda) {
  const uint32_t hdr = sizeof(CapsuleCmdHeader) + (hdgst ? kDigestLen : 0);
  const uint32_t align = (cpda + 1u) * 4;
  const uint32_t pdo = icd.empty() ? 0 : (hdr + align - 1) / align * align;
  const bool dd = ddgst && !icd.empty();
  const uint32_t plen = icd.empty() ? hdr : pdo + static_cast<uint32_t>(icd.size()) + (dd ? kDigestLen : 0);
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

void H2CDataPdu(Bytes& out, uint16_t cccid, uint16_t ttag, uint32_t datao, const Bytes& data,
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

nvme::Sqe ReadSqe(uint16_t cid, uint32_t len) {
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

nvme::Sqe WriteSqe(uint16_t cid, uint32_t len, bool in_capsule) {
  nvme::Sqe s = ReadSqe(cid, len);
  s.opcode = nvme::kIoWrite;
  s.sgl1.id = in_capsule ? nvme::kSglDataBlockOffset : nvme::kSglTransportDataBlock;
  return s;
}

nvme::Sqe ConnectSqe() {
  nvme::Sqe s;
  memset(&s, 0, sizeof(s));
  s.opcode = nvme::kAdminFabrics;
  s.cid = 1;
  s.nsid = nvme::kFctypeConnect;  // FCTYPE sits at byte 4
  s.sgl1.length = sizeof(nvme::ConnectData);
  s.sgl1.id = nvme::kSglDataBlockOffset;
  s.cdw10 = 0;   // RECFMT 0 (bytes 41:40), QID 0 (43:42): admin queue
  s.cdw11 = 31;  // SQSIZE 31 (bytes 45:44)
  s.cdw12 = 30000;  // KATO
  return s;
}

Bytes Pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

}  // namespace

std::vector<std::pair<std::string, std::vector<uint8_t>>> MakePduSeeds() {
  std::vector<std::pair<std::string, Bytes>> seeds;
  const uint8_t verify = kOptVerifyDigests;

  {  // ICReq only
    Bytes s{verify};
    IcReqPdu(s, 0, 0);
    seeds.emplace_back("icreq", s);
  }
  {  // Admin connect with 1 KiB of in-capsule Connect data, no digests
    Bytes s{verify};
    IcReqPdu(s, 0, 0);
    nvme::ConnectData cd;
    memset(&cd, 0, sizeof(cd));
    cd.cntlid = 0xFFFF;
    nvme::CopyZeroPadded(cd.subnqn, sizeof(cd.subnqn), "nqn.2016-06.io.ceph:sub1");
    nvme::CopyZeroPadded(cd.hostnqn, sizeof(cd.hostnqn), "nqn.2014-08.org.nvmexpress:uuid:1");
    Bytes data(sizeof(cd));
    memcpy(data.data(), &cd, sizeof(cd));
    CapsulePdu(s, ConnectSqe(), data, false, false, 0);
    seeds.emplace_back("connect", s);
  }
  {  // Reads, no digests, chunked feeding
    Bytes s{static_cast<uint8_t>(verify | OptChunking(3))};
    IcReqPdu(s, 0, 0);
    CapsulePdu(s, ReadSqe(1, 4096), {}, false, false, 0);
    CapsulePdu(s, ReadSqe(2, 512), {}, false, false, 0);
    seeds.emplace_back("read", s);
  }
  {  // Both digests, write with in-capsule data
    Bytes s{static_cast<uint8_t>(verify | OptChunking(1))};
    IcReqPdu(s, kDgstHeader | kDgstData, 0);
    CapsulePdu(s, WriteSqe(3, 512, true), Pattern(512, 1), true, true, 0);
    seeds.emplace_back("write_icd_digests", s);
  }
  {  // Write through R2T: capsule without data, then two H2CData PDUs
    Bytes s{verify};
    IcReqPdu(s, 0, 0);
    CapsulePdu(s, WriteSqe(4, 8192, false), {}, false, false, 0);
    H2CDataPdu(s, 4, 0, 0, Pattern(4096, 2), false, false, false, 0);
    H2CDataPdu(s, 4, 0, 4096, Pattern(4096, 3), true, false, false, 0);
    seeds.emplace_back("write_h2cdata", s);
  }
  {  // Header digest only, CPDA 1 (8-byte data alignment), HPDA 7
    Bytes s{static_cast<uint8_t>(verify | OptCpda(1) | OptChunking(5))};
    IcReqPdu(s, kDgstHeader, 7);
    CapsulePdu(s, WriteSqe(5, 512, true), Pattern(512, 4), true, false, 1);
    CapsulePdu(s, WriteSqe(6, 2048, false), {}, true, false, 1);
    H2CDataPdu(s, 6, 1, 0, Pattern(2048, 5), true, true, false, 1);
    seeds.emplace_back("hdgst_cpda1", s);
  }
  {  // Both digests, small limits: an H2CData at MAXH2CDATA
    Bytes s{static_cast<uint8_t>(verify | kOptSmallLimits | OptChunking(7))};
    IcReqPdu(s, kDgstHeader | kDgstData, 0);
    CapsulePdu(s, WriteSqe(7, 4096, false), {}, true, true, 0);
    H2CDataPdu(s, 7, 2, 0, Pattern(4096, 6), true, true, true, 0);
    seeds.emplace_back("digests_small_limits", s);
  }
  {  // Digests not verified: any digest value goes (lets the fuzzer mutate headers freely)
    Bytes s{0};
    IcReqPdu(s, kDgstHeader | kDgstData, 0);
    CapsulePdu(s, WriteSqe(8, 512, true), Pattern(512, 7), true, true, 0);
    s[s.size() - 1] ^= 0xFF;  // wrong data digest: delivered, flagged
    seeds.emplace_back("unverified_digests", s);
  }
  {  // The host terminates
    Bytes s{verify};
    IcReqPdu(s, 0, 0);
    TermReqHeader t;
    memset(&t, 0, sizeof(t));
    t.ch = Ch(kH2CTermReq, 0, sizeof(t), 0, sizeof(t) + 24);
    t.fes = kFesInvalidHeaderField;
    t.fei = 2;
    Append(s, t);
    const Bytes body = Pattern(24, 8);
    s.insert(s.end(), body.begin(), body.end());
    seeds.emplace_back("h2c_termreq", s);
  }
  {  // Fatal errors: a controller-to-host PDU type after a good capsule
    Bytes s{verify};
    IcReqPdu(s, 0, 0);
    CapsulePdu(s, ReadSqe(9, 512), {}, false, false, 0);
    CapsuleRespHeader r;
    memset(&r, 0, sizeof(r));
    r.ch = Ch(kCapsuleResp, 0, sizeof(r), 0, sizeof(r));
    Append(s, r);
    seeds.emplace_back("bad_type", s);
  }
  {  // Bad header digest
    Bytes s{verify};
    IcReqPdu(s, kDgstHeader, 0);
    CapsulePdu(s, ReadSqe(10, 512), {}, true, false, 0);
    s[s.size() - 1] ^= 0x01;
    seeds.emplace_back("bad_hdgst", s);
  }
  return seeds;
}

}  // namespace nvmeof::fuzz
