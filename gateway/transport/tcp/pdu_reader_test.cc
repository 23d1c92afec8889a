// The NVMe/TCP PDU reader in-process: every receive state, PDUs split at every byte and
// packed together, padding, digests, in-capsule and H2CData payloads, in-place receive, and
// every malformed PDU with the FES/FEI it must be answered with.
#include "gateway/transport/tcp/pdu_reader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "gateway/protocol/crc32c.h"
#include "gateway/transport/tcp/pdu_test_util.h"

namespace nvmeof::tcp {
namespace {

using namespace test;

struct Event {
  char kind;  // I icreq, C capsule, H h2cdata, D data done, T host term, M malformed, F fatal
  uint32_t a = 0;  // C: cid, H: datao, D: digest ok, F: fes, T: fes
  uint32_t b = 0;  // C: icd, H: datal, F: fei, T: fei
  Bytes pdu;       // F: the offending header bytes
  bool operator==(const Event& o) const = default;
};

std::string Describe(const std::vector<Event>& ev) {
  std::string s;
  for (const auto& e : ev) s += std::string(1, e.kind) + "(" + std::to_string(e.a) + "," + std::to_string(e.b) + ") ";
  return s;
}

// Records events; data goes to one buffer per data-carrying PDU.
class Recorder final : public PduReader::Handler {
 public:
  Recorder() { buffers.reserve(64); }
  void OnIcReq(const IcReq&) override { ev.push_back({'I'}); }
  DataPlacement OnCapsule(const CapsuleCmdHeader& h, uint32_t icd) override {
    ev.push_back({'C', h.sqe.cid, icd});
    if (fatal_on_capsule) return DataPlacement::Fatal(kFesPduSequenceError, 0);
    if (icd == 0) return DataPlacement::Discard();
    if (discard) return DataPlacement::Discard();
    buffers.emplace_back(icd);
    return DataPlacement::To(buffers.back().data());
  }
  DataPlacement OnH2CData(const DataHeader& h) override {
    ev.push_back({'H', h.datao, h.datal});
    if (h.ttag != expected_ttag) return DataPlacement::Fatal(kFesInvalidHeaderField, offsetof(DataHeader, ttag));
    buffers.emplace_back(h.datal);
    return DataPlacement::To(buffers.back().data());
  }
  void OnDataDone(bool ok) override {
    ev.push_back({'D', ok ? 1u : 0u});
    if (close_on_data && reader) reader->Close();
  }
  void OnHostTerm(const TermReqHeader& t) override { ev.push_back({'T', t.fes, t.fei}); }
  void OnMalformed() override { ev.push_back({'M'}); }
  void OnFatal(uint16_t fes, uint32_t fei, const uint8_t* pdu, uint32_t len) override {
    ev.push_back({'F', fes, fei, Bytes(pdu, pdu + len)});
  }

  std::vector<Event> ev;
  std::vector<Bytes> buffers;
  bool discard = false;
  bool fatal_on_capsule = false;
  bool close_on_data = false;
  uint16_t expected_ttag = 0;
  PduReader* reader = nullptr;
};

ConnParams Params(uint32_t icd = 8192, uint32_t maxh2c = 128 * 1024) {
  ConnParams p;
  p.in_capsule_data_size = icd;
  p.maxh2cdata = maxh2c;
  return p;
}

struct Outcome {
  std::vector<Event> ev;
  std::vector<Bytes> buffers;
  PduReader::State state;
  bool failed, closed;
};

// Feeds `stream` in pieces of the given sizes (the last repeats).
Outcome RunStream(const Bytes& stream, std::vector<size_t> pieces = {}, ConnParams p = Params()) {
  Recorder r;
  PduReader reader(&r, p);
  r.reader = &reader;
  size_t off = 0, i = 0;
  while (off < stream.size()) {
    size_t n = pieces.empty() ? stream.size() : pieces[std::min(i++, pieces.size() - 1)];
    n = std::min(n, stream.size() - off);
    size_t used = reader.Feed(stream.data() + off, n);
    off += n;
    if (used < n) break;
  }
  return {r.ev, r.buffers, reader.state(), reader.failed(), reader.closed()};
}

Bytes Connected(uint8_t dgst = 0) {
  Bytes s;
  IcReqPdu(s, dgst, 0);
  return s;
}

// A stream exercising every receive state: ICReq with both digests, a capsule with padded
// in-capsule data, a capsule without data, two H2CData PDUs.
Bytes EveryState() {
  Bytes s = Connected(kDgstHeader | kDgstData);
  CapsulePdu(s, WriteSqe(1, 512, true), Pattern(512, 1), true, true, 0, /*pdo=*/96);
  CapsulePdu(s, WriteSqe(2, 1024, false), {}, true, true, 0);
  H2CDataPdu(s, 2, 0, 0, Pattern(600, 2), false, true, true, 0);
  H2CDataPdu(s, 2, 0, 600, Pattern(424, 3), true, true, true, 0);
  return s;
}

TEST(PduReader, IcReqNegotiates) {
  Recorder r;
  PduReader reader(&r, Params());
  Bytes s;
  IcReqPdu(s, kDgstHeader | kDgstData, 7);
  EXPECT_EQ(reader.Feed(s.data(), s.size()), s.size());
  ASSERT_EQ(r.ev.size(), 1u);
  EXPECT_EQ(r.ev[0].kind, 'I');
  EXPECT_TRUE(reader.icreq_done());
  EXPECT_TRUE(reader.params().hdgst);
  EXPECT_TRUE(reader.params().ddgst);
  EXPECT_EQ(reader.params().hpda, 7);
  EXPECT_EQ(reader.params().cpda, 0);
  EXPECT_EQ(reader.state(), PduReader::State::kCh);
}

TEST(PduReader, EveryStateInOneBuffer) {
  Outcome o = RunStream(EveryState());
  EXPECT_EQ(Describe(o.ev), "I(0,0) C(1,512) D(1,0) C(2,0) H(0,600) D(1,0) H(600,424) D(1,0) ");
  ASSERT_EQ(o.buffers.size(), 3u);
  EXPECT_EQ(o.buffers[0], Pattern(512, 1));
  EXPECT_EQ(o.buffers[1], Pattern(600, 2));
  EXPECT_EQ(o.buffers[2], Pattern(424, 3));
  EXPECT_EQ(o.state, PduReader::State::kCh);
  EXPECT_FALSE(o.failed);
}

TEST(PduReader, SplitAtEveryByteBoundary) {
  const Bytes s = EveryState();
  const Outcome whole = RunStream(s);
  for (size_t cut = 1; cut < s.size(); ++cut) {
    Recorder r;
    PduReader reader(&r, Params());
    ASSERT_EQ(reader.Feed(s.data(), cut), cut);
    ASSERT_EQ(reader.Feed(s.data() + cut, s.size() - cut), s.size() - cut);
    ASSERT_EQ(r.ev, whole.ev) << "cut at " << cut;
    ASSERT_EQ(r.buffers, whole.buffers) << "cut at " << cut;
  }
  for (size_t piece : {1, 2, 3, 5, 7, 13, 64, 100}) {
    Outcome o = RunStream(s, {piece});
    EXPECT_EQ(o.ev, whole.ev) << "pieces of " << piece;
    EXPECT_EQ(o.buffers, whole.buffers) << "pieces of " << piece;
  }
}

TEST(PduReader, PaddingBeforeData) {
  Bytes s = Connected();
  // No digests: header 72 bytes, PDO 128: 56 bytes of padding.
  CapsulePdu(s, WriteSqe(1, 256, true), Pattern(256, 9), false, false, 0, /*pdo=*/128);
  Recorder r;
  PduReader reader(&r, Params());
  const size_t hdr_end = sizeof(IcReq) + sizeof(CapsuleCmdHeader);
  reader.Feed(s.data(), hdr_end + 10);
  EXPECT_EQ(reader.state(), PduReader::State::kPad);
  reader.Feed(s.data() + hdr_end + 10, s.size() - hdr_end - 10);
  EXPECT_EQ(Describe(r.ev), "I(0,0) C(1,256) D(1,0) ");
  ASSERT_EQ(r.buffers.size(), 1u);
  EXPECT_EQ(r.buffers[0], Pattern(256, 9));
}

TEST(PduReader, DataDigestStates) {
  Bytes s = Connected(kDgstData);
  CapsulePdu(s, WriteSqe(1, 512, true), Pattern(512, 1), false, true, 0);
  Recorder r;
  PduReader reader(&r, Params());
  reader.Feed(s.data(), s.size() - 2);  // all but two digest bytes
  EXPECT_EQ(reader.state(), PduReader::State::kDdgst);
  EXPECT_EQ(Describe(r.ev), "I(0,0) C(1,512) ");
  reader.Feed(s.data() + s.size() - 2, 2);
  EXPECT_EQ(Describe(r.ev), "I(0,0) C(1,512) D(1,0) ");
}

TEST(PduReader, BadDataDigestFailsTheCommandOnly) {
  Bytes s = Connected(kDgstData);
  CapsulePdu(s, WriteSqe(1, 512, true), Pattern(512, 1), false, true, 0);
  s.back() ^= 0x80;
  CapsulePdu(s, WriteSqe(2, 512, false), {}, false, true, 0);
  Outcome o = RunStream(s);
  EXPECT_EQ(Describe(o.ev), "I(0,0) C(1,512) D(0,0) C(2,0) ");
  EXPECT_FALSE(o.failed);
  EXPECT_EQ(o.state, PduReader::State::kCh);
}

TEST(PduReader, DiscardedDataIsStillChecked) {
  Bytes s = Connected(kDgstData);
  CapsulePdu(s, WriteSqe(1, 512, true), Pattern(512, 1), false, true, 0);
  Recorder r;
  r.discard = true;
  PduReader reader(&r, Params());
  reader.Feed(s.data(), s.size());
  EXPECT_EQ(Describe(r.ev), "I(0,0) C(1,512) D(1,0) ");
  EXPECT_TRUE(r.buffers.empty());
}

TEST(PduReader, HeaderDigestGood) {
  Bytes s = Connected(kDgstHeader);
  CapsulePdu(s, ReadSqe(5, 4096), {}, true, false, 0);
  Outcome o = RunStream(s, {3});
  EXPECT_EQ(Describe(o.ev), "I(0,0) C(5,0) ");
}

TEST(PduReader, HeaderDigestErrorReportsTheReceivedDigest) {
  Bytes s = Connected(kDgstHeader);
  const size_t start = s.size();
  CapsulePdu(s, ReadSqe(5, 4096), {}, true, false, 0);
  s.back() ^= 0x01;
  uint32_t received;
  memcpy(&received, s.data() + s.size() - 4, 4);
  Outcome o = RunStream(s);
  ASSERT_EQ(o.ev.size(), 2u);
  EXPECT_EQ(o.ev[1].kind, 'F');
  EXPECT_EQ(o.ev[1].a, kFesHeaderDigestError);
  EXPECT_EQ(o.ev[1].b, received);
  // The C2HTermReq carries the whole header with its digest (76 bytes).
  EXPECT_EQ(o.ev[1].pdu, Bytes(s.begin() + static_cast<long>(start), s.end()));
  EXPECT_TRUE(o.failed);
  EXPECT_EQ(o.state, PduReader::State::kDraining);
}

TEST(PduReader, H2CDataPlacedAtItsDestination) {
  Bytes s = Connected();
  CapsulePdu(s, WriteSqe(3, 8192, false), {}, false, false, 0);
  H2CDataPdu(s, 3, 0, 0, Pattern(4096, 4), false, false, false, 0);
  H2CDataPdu(s, 3, 0, 4096, Pattern(4096, 5), true, false, false, 0);
  Outcome o = RunStream(s, {1000});
  EXPECT_EQ(Describe(o.ev), "I(0,0) C(3,0) H(0,4096) D(1,0) H(4096,4096) D(1,0) ");
  ASSERT_EQ(o.buffers.size(), 2u);
  EXPECT_EQ(o.buffers[0], Pattern(4096, 4));
  EXPECT_EQ(o.buffers[1], Pattern(4096, 5));
}

TEST(PduReader, LargePayloadIsReceivedInPlace) {
  const uint32_t len = 64 * 1024;
  Bytes s = Connected(kDgstData);
  const size_t hdr_end = s.size() + sizeof(CapsuleCmdHeader);
  CapsulePdu(s, WriteSqe(1, len, true), Pattern(len, 6), false, true, 0);
  CapsulePdu(s, ReadSqe(2, 4096), {}, false, false, 0);
  Recorder r;
  PduReader reader(&r, Params(128 * 1024));
  // Up to the end of the capsule header: nothing of the payload buffered.
  ASSERT_EQ(reader.Feed(s.data(), hdr_end), hdr_end);
  ASSERT_EQ(reader.state(), PduReader::State::kData);
  ASSERT_EQ(r.buffers.size(), 1u);
  PduReader::Span sp = reader.NextRecv();
  EXPECT_TRUE(sp.direct);
  EXPECT_EQ(sp.dst, r.buffers[0].data());
  EXPECT_EQ(sp.len, len);
  // The "socket" delivers part of the payload in place.
  memcpy(sp.dst, s.data() + hdr_end, 10000);
  EXPECT_TRUE(reader.Received(10000));
  sp = reader.NextRecv();
  EXPECT_TRUE(sp.direct);
  EXPECT_EQ(sp.dst, r.buffers[0].data() + 10000);
  EXPECT_EQ(sp.len, len - 10000);
  memcpy(sp.dst, s.data() + hdr_end + 10000, sp.len);
  EXPECT_TRUE(reader.Received(sp.len));
  EXPECT_EQ(reader.state(), PduReader::State::kDdgst);
  // After a large payload, buffered reads are short (the next header, not the next payload).
  sp = reader.NextRecv();
  EXPECT_FALSE(sp.direct);
  EXPECT_EQ(sp.len, PduReader::kBulkHeadRead);
  const size_t rest = s.size() - hdr_end - len;
  memcpy(sp.dst, s.data() + hdr_end + len, rest);
  EXPECT_TRUE(reader.Received(static_cast<uint32_t>(rest)));
  EXPECT_EQ(Describe(r.ev), "I(0,0) C(1,65536) D(1,0) C(2,0) ");
  EXPECT_EQ(r.buffers[0], Pattern(len, 6));
  // Small payloads and a full buffer go through the buffer.
  sp = reader.NextRecv();
  EXPECT_FALSE(sp.direct);
  EXPECT_EQ(sp.len, PduReader::kBufferSize);
}

TEST(PduReader, SmallPayloadIsBuffered) {
  Bytes s = Connected();
  const size_t hdr_end = s.size() + sizeof(CapsuleCmdHeader);
  CapsulePdu(s, WriteSqe(1, 2048, true), Pattern(2048, 6), false, false, 0);
  Recorder r;
  PduReader reader(&r, Params());
  reader.Feed(s.data(), hdr_end);
  EXPECT_FALSE(reader.NextRecv().direct);
}

TEST(PduReader, HostTermination) {
  Bytes s = Connected();
  H2CTermReqPdu(s, kFesInvalidHeaderField, 2, Pattern(24, 8));
  CapsulePdu(s, ReadSqe(1, 512), {}, false, false, 0);  // never looked at
  Outcome o = RunStream(s);
  EXPECT_EQ(Describe(o.ev), "I(0,0) T(1,2) ");
  EXPECT_TRUE(o.closed);
}

TEST(PduReader, HandlerCloseStopsTheReader) {
  Bytes s = Connected();
  CapsulePdu(s, WriteSqe(1, 512, true), Pattern(512, 1), false, false, 0);
  CapsulePdu(s, ReadSqe(2, 512), {}, false, false, 0);
  Recorder r;
  r.close_on_data = true;
  PduReader reader(&r, Params());
  r.reader = &reader;
  reader.Feed(s.data(), s.size());
  EXPECT_EQ(Describe(r.ev), "I(0,0) C(1,512) D(1,0) ");
  EXPECT_TRUE(reader.closed());
  EXPECT_EQ(reader.Feed(s.data(), s.size()), 0u);
}

// ------------------------------------------------------------------ malformed PDUs

struct Fatal {
  uint16_t fes;
  uint32_t fei;
};

// Runs `s` and expects exactly one fatal error as the last event, then draining.
Event ExpectFatal(const Bytes& s, Fatal want, ConnParams p = Params()) {
  Outcome o = RunStream(s, {}, p);
  EXPECT_FALSE(o.ev.empty());
  if (o.ev.empty()) return {};
  const Event& e = o.ev.back();
  EXPECT_EQ(e.kind, 'F') << Describe(o.ev);
  EXPECT_EQ(e.a, want.fes) << Describe(o.ev);
  EXPECT_EQ(e.b, want.fei) << Describe(o.ev);
  EXPECT_TRUE(o.failed);
  EXPECT_EQ(o.state, PduReader::State::kDraining);
  // The same verdict whatever the chunking.
  Outcome bytewise = RunStream(s, {1}, p);
  EXPECT_EQ(bytewise.ev.size(), o.ev.size());
  if (!bytewise.ev.empty()) {
    EXPECT_EQ(bytewise.ev.back().a, want.fes);
    EXPECT_EQ(bytewise.ev.back().b, want.fei);
  }
  return e;
}

Bytes WithCh(Bytes s, const CommonHeader& ch) {
  Append(s, ch);
  s.resize(s.size() + 200, 0);
  return s;
}

TEST(PduReaderMalformed, ControllerToHostType) {
  for (uint8_t t : std::vector<uint8_t>{kIcResp, kC2HTermReq, kCapsuleResp, kC2HData, kR2T, 0x08, 0x0A,
                                        0xFF}) {
    SCOPED_TRACE(static_cast<int>(t));
    Bytes s = Connected();
    CapsuleRespHeader r;
    memset(&r, 0, sizeof(r));
    r.ch = Ch(t, 0, sizeof(r), 0, sizeof(r));
    Append(s, r);
    Event e = ExpectFatal(s, {kFesInvalidHeaderField, 0});
    // The C2HTermReq carries the offending header as far as it arrived (hlen bytes).
    EXPECT_EQ(e.pdu, Bytes(s.begin() + sizeof(IcReq), s.end()));
  }
}

TEST(PduReaderMalformed, TermReqCarriesWhatArrived) {
  Bytes s = Connected();
  Append(s, Ch(kCapsuleResp, 0, 24, 0, 24));
  // Only the common header arrived when the type was judged: 8 bytes.
  Event e = ExpectFatal(s, {kFesInvalidHeaderField, 0});
  EXPECT_EQ(e.pdu.size(), 8u);
}

TEST(PduReaderMalformed, PduBeforeIcReq) {
  Bytes s;
  CapsulePdu(s, ReadSqe(1, 512), {}, false, false, 0);
  ExpectFatal(s, {kFesPduSequenceError, 0});
  Bytes h;
  H2CDataPdu(h, 1, 0, 0, Pattern(64, 1), true, false, false, 0);
  ExpectFatal(h, {kFesPduSequenceError, 0});
}

TEST(PduReaderMalformed, SecondIcReq) {
  Bytes s = Connected();
  IcReqPdu(s, 0, 0);
  ExpectFatal(s, {kFesPduSequenceError, 0});
}

TEST(PduReaderMalformed, IcReqFields) {
  {  // digest flag on ICReq
    ExpectFatal(WithCh({}, Ch(kIcReq, kFlagHdgst, 128, 0, 128)), {kFesInvalidHeaderField, 1});
  }
  ExpectFatal(WithCh({}, Ch(kIcReq, 0, 127, 0, 128)), {kFesInvalidHeaderField, 2});
  ExpectFatal(WithCh({}, Ch(kIcReq, 0, 128, 4, 128)), {kFesInvalidHeaderField, 3});
  ExpectFatal(WithCh({}, Ch(kIcReq, 0, 128, 0, 132)), {kFesInvalidHeaderField, 4});
  {  // PFV 1: unsupported parameter at offset 8
    Bytes s;
    IcReqPdu(s, 0, 0);
    s[8] = 1;
    ExpectFatal(s, {kFesUnsupportedParameter, 8});
  }
  {  // HPDA 32
    Bytes s;
    IcReqPdu(s, 0, 32);
    ExpectFatal(s, {kFesInvalidHeaderField, 10});
  }
}

TEST(PduReaderMalformed, CapsuleHeaderFields) {
  const Bytes c = Connected();
  // Header digest flag without a negotiated header digest.
  ExpectFatal(WithCh(c, Ch(kCapsuleCmd, kFlagHdgst, 72, 0, 76)), {kFesInvalidHeaderField, 1});
  // Bad HLEN.
  ExpectFatal(WithCh(c, Ch(kCapsuleCmd, 0, 70, 0, 72)), {kFesInvalidHeaderField, 2});
  // PDO inside the header.
  ExpectFatal(WithCh(c, Ch(kCapsuleCmd, 0, 72, 40, 200)), {kFesInvalidHeaderField, 3});
  // PDO not 4-byte aligned.
  ExpectFatal(WithCh(c, Ch(kCapsuleCmd, 0, 72, 74, 200)), {kFesInvalidHeaderField, 3});
  // PLEN shorter than the header.
  ExpectFatal(WithCh(c, Ch(kCapsuleCmd, 0, 72, 0, 60)), {kFesInvalidHeaderField, 4});
}

TEST(PduReaderMalformed, OversizedInCapsuleData) {
  Bytes s = Connected();
  CapsulePdu(s, WriteSqe(1, 8192 + 4, true), Pattern(8192 + 4, 1), false, false, 0);
  ExpectFatal(s, {kFesDataTransferLimitExceeded, 0}, Params(8192));
}

TEST(PduReaderMalformed, H2CDataFields) {
  const Bytes c = Connected();
  {  // more than MAXH2CDATA
    Bytes s = c;
    H2CDataPdu(s, 1, 0, 0, Pattern(8192, 1), true, false, false, 0);
    ExpectFatal(s, {kFesDataTransferLimitExceeded, 0}, Params(8192, 4096));
  }
  {  // DATAL disagrees with PLEN
    Bytes s = c;
    H2CDataPdu(s, 1, 0, 0, Pattern(512, 1), true, false, false, 0);
    s[c.size() + 16] = 0x10;  // datal 512 -> 0x210
    ExpectFatal(s, {kFesInvalidHeaderField, 16});
  }
  {  // DATAL 0
    Bytes s = c;
    H2CDataPdu(s, 1, 0, 0, Pattern(512, 1), true, false, false, 0);
    memset(s.data() + c.size() + 16, 0, 4);
    ExpectFatal(s, {kFesInvalidHeaderField, 16});
  }
  {  // DATAO + DATAL beyond 4 GiB
    Bytes s = c;
    H2CDataPdu(s, 1, 0, 0xFFFFFF00u, Pattern(512, 1), true, false, false, 0);
    ExpectFatal(s, {kFesDataTransferOutOfRange, 0});
  }
  {  // H2CData without data
    ExpectFatal(WithCh(c, Ch(kH2CData, 0, 24, 0, 24)), {kFesInvalidHeaderField, 4});
  }
}

TEST(PduReaderMalformed, HandlerVerdictIsFatal) {
  Bytes s = Connected();
  H2CDataPdu(s, 1, /*ttag=*/5, 0, Pattern(512, 1), true, false, false, 0);
  Event e = ExpectFatal(s, {kFesInvalidHeaderField, offsetof(DataHeader, ttag)});
  EXPECT_EQ(e.pdu.size(), sizeof(DataHeader));

  Bytes c = Connected();
  CapsulePdu(c, ReadSqe(1, 512), {}, false, false, 0);
  Recorder r;
  r.fatal_on_capsule = true;
  PduReader reader(&r, Params());
  reader.Feed(c.data(), c.size());
  EXPECT_EQ(Describe(r.ev), "I(0,0) C(1,0) F(2,0) ");
  EXPECT_EQ(r.ev.back().pdu.size(), sizeof(CapsuleCmdHeader));
}

TEST(PduReaderMalformed, MalformedTermReqClosesWithoutTermReq) {
  const Bytes c = Connected();
  for (const CommonHeader& ch : {Ch(kH2CTermReq, 0, 20, 0, 24), Ch(kH2CTermReq, kFlagHdgst, 24, 0, 28),
                                 Ch(kH2CTermReq, 0, 24, 24, 48), Ch(kH2CTermReq, 0, 24, 0, 24 + 129)}) {
    Outcome o = RunStream(WithCh(c, ch));
    EXPECT_EQ(Describe(o.ev), "I(0,0) M(0,0) ");
    EXPECT_TRUE(o.closed);
  }
}

TEST(PduReaderMalformed, DrainsAfterAFatalError) {
  Bytes s = Connected();
  Append(s, Ch(kR2T, 0, 24, 0, 24));
  s.resize(s.size() + 16, 0);
  Bytes more;
  CapsulePdu(more, ReadSqe(1, 512), {}, false, false, 0);
  Recorder r;
  PduReader reader(&r, Params());
  reader.Feed(s.data(), s.size());
  ASSERT_EQ(reader.state(), PduReader::State::kDraining);
  const size_t events = r.ev.size();
  // Everything after is read and dropped, nothing reported.
  for (int i = 0; i < 3; i++) EXPECT_EQ(reader.Feed(more.data(), more.size()), more.size());
  EXPECT_EQ(r.ev.size(), events);
  EXPECT_EQ(reader.buffered(), 0u);
}

}  // namespace
}  // namespace nvmeof::tcp
