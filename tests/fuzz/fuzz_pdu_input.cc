#include "tests/fuzz/fuzz_pdu_input.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "gateway/protocol/crc32c.h"
#include "gateway/transport/tcp/pdu_reader.h"
#include "gateway/transport/tcp/pdu_test_util.h"

#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                        \
    }                                                                                 \
  } while (0)

namespace nvmeof::fuzz {

using namespace nvmeof::tcp;
using namespace nvmeof::tcp::test;

ConnParams ParamsFromByte(uint8_t opt) {
  ConnParams p;
  p.maxh2cdata = 128 * 1024;
  p.in_capsule_data_size = 8192;
  if (opt & kOptSmallLimits) {
    p.maxh2cdata = 4096;
    p.in_capsule_data_size = 1024;
  }
  return p;
}

namespace {

// Accepts every PDU the reader lets through (data into a buffer of exactly the announced
// size, so that ASan catches a reader writing past it) and checks what the protocol checks
// promise about each.
class Checker final : public PduReader::Handler {
 public:
  explicit Checker(PduOutcome* out) : out_(out) {}
  PduReader* reader = nullptr;

  void OnIcReq(const IcReq& req) override {
    FUZZ_CHECK(!out_->icreq_done);
    FUZZ_CHECK(req.ch.hlen == sizeof(IcReq) && req.ch.plen == sizeof(IcReq) && req.pfv == 0);
    FUZZ_CHECK(reader->params().hpda == req.hpda && req.hpda <= 31);
    out_->icreq_done = true;
    Event('I', &req, sizeof(req));
  }
  DataPlacement OnCapsule(const CapsuleCmdHeader& h, uint32_t icd) override {
    const ConnParams& p = reader->params();
    FUZZ_CHECK(out_->icreq_done);
    FUZZ_CHECK(h.ch.hlen == sizeof(CapsuleCmdHeader));
    FUZZ_CHECK(((h.ch.flags & kFlagHdgst) != 0) == p.hdgst);
    FUZZ_CHECK(icd == DataBytes(h.ch) && icd <= p.in_capsule_data_size);
    if (icd > 0) {
      const uint32_t ddgst = (h.ch.flags & kFlagDdgst) ? kDigestLen : 0;
      FUZZ_CHECK(h.ch.pdo >= HeaderBytes(h.ch) && h.ch.pdo + icd + ddgst == h.ch.plen);
    } else {
      FUZZ_CHECK(h.ch.plen == HeaderBytes(h.ch));
    }
    Event('C', &h, sizeof(h));
    return Expect(icd);
  }
  DataPlacement OnH2CData(const DataHeader& h) override {
    const ConnParams& p = reader->params();
    FUZZ_CHECK(out_->icreq_done);
    FUZZ_CHECK(h.datal > 0 && h.datal == DataBytes(h.ch) && h.datal <= p.maxh2cdata);
    FUZZ_CHECK(static_cast<uint64_t>(h.datao) + h.datal <= UINT32_MAX);
    Event('H', &h, sizeof(h));
    return Expect(h.datal);
  }
  void OnDataDone(bool digest_ok) override {
    FUZZ_CHECK(expecting_);
    expecting_ = false;
    // Touch every delivered byte and fingerprint it.
    out_->data_crc = Crc32cUpdate(out_->data_crc, buf_.data(), buf_.size());
    out_->data_bytes += buf_.size();
    out_->events.push_back(digest_ok ? 'D' : 'd');
  }
  void OnHostTerm(const TermReqHeader& t) override {
    FUZZ_CHECK(t.ch.hlen == sizeof(TermReqHeader) && t.ch.plen - sizeof(TermReqHeader) <= kMaxTermReqData);
    Event('T', &t, sizeof(t));
  }
  void OnMalformed() override { out_->events.push_back('M'); }
  void OnFatal(uint16_t fes, uint32_t fei, const uint8_t* pdu, uint32_t len) override {
    FUZZ_CHECK(fes != 0 && !out_->failed);
    FUZZ_CHECK(len <= kMaxTermReqData && (len == 0 || pdu != nullptr));
    out_->failed = true;
    out_->fes = fes;
    out_->fei = fei;
    uint8_t term[sizeof(TermReqHeader) + kMaxTermReqData];
    const uint32_t n = EncodeC2HTermReq(term, fes, fei, pdu, len);
    TermReqHeader t;
    memcpy(&t, term, sizeof(t));
    FUZZ_CHECK(n == sizeof(TermReqHeader) + len && t.ch.plen == n);
    FUZZ_CHECK(t.ch.pdu_type == kC2HTermReq && t.fes == fes && t.fei == fei);
    out_->term_req.assign(term, term + n);
    out_->events.push_back('F');
  }

 private:
  void Event(char kind, const void* hdr, size_t n) {
    FUZZ_CHECK(!expecting_);
    out_->events.push_back(static_cast<uint8_t>(kind));
    out_->data_crc = Crc32cUpdate(out_->data_crc, hdr, n);
  }
  DataPlacement Expect(uint32_t len) {
    if (len == 0) return DataPlacement::Discard();
    buf_.assign(len, 0);
    expecting_ = true;
    return DataPlacement::To(buf_.data());
  }

  PduOutcome* out_;
  std::vector<uint8_t> buf_;
  bool expecting_ = false;
};

}  // namespace

PduOutcome RunPduStream(uint8_t opt, const uint8_t* stream, size_t len, uint8_t chunk_seed) {
  PduOutcome out;
  Checker checker(&out);
  PduReader reader(&checker, ParamsFromByte(opt));
  checker.reader = &reader;
  if (chunk_seed == 0) {
    const size_t used = reader.Feed(stream, len);
    FUZZ_CHECK(used == len || reader.closed());
  } else {
    uint32_t lcg = 0x9E3779B9u * chunk_seed;
    size_t off = 0;
    while (off < len) {
      lcg = lcg * 1664525u + 1013904223u;
      size_t n = 1 + (lcg >> 16) % (chunk_seed * 29u);
      if (n > len - off) n = len - off;
      const size_t u = reader.Feed(stream + off, n);
      FUZZ_CHECK(u <= n);
      off += u;
      if (u < n) break;  // the connection ended
    }
  }
  if (reader.closed()) {
    // Feeding more after the end consumes nothing.
    FUZZ_CHECK(len == 0 || reader.Feed(stream, len) == 0);
  } else if (reader.failed()) {
    // After a fatal error everything is read and dropped.
    FUZZ_CHECK(reader.state() == PduReader::State::kDraining);
    const size_t events = out.events.size();
    FUZZ_CHECK(reader.Feed(stream, len) == len && out.events.size() == events);
  }
  FUZZ_CHECK(out.failed == reader.failed());
  out.closed = reader.closed();
  FUZZ_CHECK(out.icreq_done == reader.icreq_done());
  return out;
}

int FuzzPduOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t opt = data[0];
  const uint8_t* stream = data + 1;
  const size_t len = size - 1;
  const PduOutcome a = RunPduStream(opt, stream, len, 0);
  const uint8_t chunk_seed = static_cast<uint8_t>(opt >> 5);
  if (chunk_seed == 0) return 0;

  // Same stream in small pieces: what is reported must not depend on how the bytes arrive.
  const PduOutcome b = RunPduStream(opt, stream, len, chunk_seed);
  FUZZ_CHECK(a.events == b.events);
  FUZZ_CHECK(a.data_bytes == b.data_bytes && a.data_crc == b.data_crc);
  FUZZ_CHECK(a.fes == b.fes && a.fei == b.fei);
  FUZZ_CHECK(a.icreq_done == b.icreq_done && a.failed == b.failed && a.closed == b.closed);
  // A C2HTermReq for a bad common header carries what of the header had arrived, which
  // depends on the chunking: one must be a prefix of the other past the fixed header.
  FUZZ_CHECK(a.term_req.size() == b.term_req.size() ||
             (a.term_req.size() >= sizeof(TermReqHeader) && b.term_req.size() >= sizeof(TermReqHeader)));
  const size_t common = std::min(a.term_req.size(), b.term_req.size());
  if (common > sizeof(TermReqHeader)) {
    FUZZ_CHECK(memcmp(a.term_req.data() + sizeof(TermReqHeader), b.term_req.data() + sizeof(TermReqHeader),
                      common - sizeof(TermReqHeader)) == 0);
  }
  return 0;
}

// ---------------------------------------------------------------- seeds

namespace {

nvme::Sqe ConnectSqe() {
  nvme::Sqe s;
  memset(&s, 0, sizeof(s));
  s.opcode = nvme::kAdminFabrics;
  s.flags = 0x40;
  s.cid = 1;
  s.nsid = nvme::kFctypeConnect;  // FCTYPE sits at byte 4
  s.sgl1.length = sizeof(nvme::ConnectData);
  s.sgl1.id = nvme::kSglDataBlockOffset;
  s.cdw10 = 0;   // RECFMT 0 (bytes 41:40), QID 0 (43:42): admin queue
  s.cdw11 = 31;  // SQSIZE 31 (bytes 45:44)
  s.cdw12 = 30000;  // KATO
  return s;
}

}  // namespace

std::vector<std::pair<std::string, std::vector<uint8_t>>> MakePduSeeds() {
  std::vector<std::pair<std::string, Bytes>> seeds;

  {  // ICReq only
    Bytes s{0};
    IcReqPdu(s, 0, 0);
    seeds.emplace_back("icreq", s);
  }
  {  // Admin connect with 1 KiB of in-capsule Connect data, no digests
    Bytes s{0};
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
    Bytes s{static_cast<uint8_t>(OptChunking(3))};
    IcReqPdu(s, 0, 0);
    CapsulePdu(s, ReadSqe(1, 4096), {}, false, false, 0);
    CapsulePdu(s, ReadSqe(2, 512), {}, false, false, 0);
    seeds.emplace_back("read", s);
  }
  {  // Both digests, write with in-capsule data
    Bytes s{static_cast<uint8_t>(OptChunking(1))};
    IcReqPdu(s, kDgstHeader | kDgstData, 0);
    CapsulePdu(s, WriteSqe(3, 512, true), Pattern(512, 1), true, true, 0);
    seeds.emplace_back("write_icd_digests", s);
  }
  {  // Write through R2T: capsule without data, then two H2CData PDUs
    Bytes s{0};
    IcReqPdu(s, 0, 0);
    CapsulePdu(s, WriteSqe(4, 8192, false), {}, false, false, 0);
    H2CDataPdu(s, 4, 0, 0, Pattern(4096, 2), false, false, false, 0);
    H2CDataPdu(s, 4, 0, 4096, Pattern(4096, 3), true, false, false, 0);
    seeds.emplace_back("write_h2cdata", s);
  }
  {  // Header digest only, data at 8-byte aligned offsets (CPDA 0 allows any multiple of 4), HPDA 7
    Bytes s{static_cast<uint8_t>(OptChunking(5))};
    IcReqPdu(s, kDgstHeader, 7);
    CapsulePdu(s, WriteSqe(5, 512, true), Pattern(512, 4), true, false, 1);
    CapsulePdu(s, WriteSqe(6, 2048, false), {}, true, false, 1);
    H2CDataPdu(s, 6, 1, 0, Pattern(2048, 5), true, true, false, 1);
    seeds.emplace_back("hdgst_cpda1", s);
  }
  {  // Both digests, small limits: an H2CData at MAXH2CDATA
    Bytes s{static_cast<uint8_t>(kOptSmallLimits | OptChunking(7))};
    IcReqPdu(s, kDgstHeader | kDgstData, 0);
    CapsulePdu(s, WriteSqe(7, 4096, false), {}, true, true, 0);
    H2CDataPdu(s, 7, 2, 0, Pattern(4096, 6), true, true, true, 0);
    seeds.emplace_back("digests_small_limits", s);
  }
  {  // A wrong data digest: the data is delivered, flagged, and the connection goes on
    Bytes s{static_cast<uint8_t>(OptChunking(2))};
    IcReqPdu(s, kDgstHeader | kDgstData, 0);
    CapsulePdu(s, WriteSqe(8, 512, true), Pattern(512, 7), true, true, 0);
    s[s.size() - 1] ^= 0xFF;
    CapsulePdu(s, ReadSqe(11, 512), {}, true, true, 0);
    seeds.emplace_back("bad_ddgst", s);
  }
  {  // The host terminates
    Bytes s{0};
    IcReqPdu(s, 0, 0);
    H2CTermReqPdu(s, kFesInvalidHeaderField, 2, Pattern(24, 8));
    seeds.emplace_back("h2c_termreq", s);
  }
  {  // Fatal errors: a controller-to-host PDU type after a good capsule
    Bytes s{0};
    IcReqPdu(s, 0, 0);
    CapsulePdu(s, ReadSqe(9, 512), {}, false, false, 0);
    CapsuleRespHeader r;
    memset(&r, 0, sizeof(r));
    r.ch = Ch(kCapsuleResp, 0, sizeof(r), 0, sizeof(r));
    Append(s, r);
    seeds.emplace_back("bad_type", s);
  }
  {  // Bad header digest
    Bytes s{0};
    IcReqPdu(s, kDgstHeader, 0);
    CapsulePdu(s, ReadSqe(10, 512), {}, true, false, 0);
    s[s.size() - 1] ^= 0x01;
    seeds.emplace_back("bad_hdgst", s);
  }
  return seeds;
}

}  // namespace nvmeof::fuzz
