// Golden-byte tests for the NVMe/TCP PDUs (nvme_tcp.h / nvme_tcp.cc), and one test per
// rejection rule of the Check* functions.
//
// Expected bytes were written by hand from the NVMe/TCP Transport Specification 1.0 PDU
// figures (common header: PDU-TYPE 0, FLAGS 1, HLEN 2, PDO 3, PLEN 7:4; little-endian),
// not derived from the structs. The header digest golden value was computed with an
// independent bit-by-bit CRC32C, outside this code base.
#include "gateway/protocol/nvme_tcp.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "gateway/protocol/crc32c.h"
#include "gateway/protocol/golden_bytes.h"

namespace nvmeof::tcp {
namespace {

// ---------------------------------------------------------------- helpers

using golden::Bytes;
using golden::Hex;
using golden::Raw;
using golden::SameBytes;
using golden::Zeroed;

Bytes Zeros(size_t n) { return Bytes(n, 0); }

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}


// Parses the first sizeof(T) bytes (the receive direction).
template <typename T>
T Parse(const Bytes& b) {
  EXPECT_GE(b.size(), sizeof(T));
  T v = Zeroed<T>();
  memcpy(&v, b.data(), b.size() < sizeof(T) ? b.size() : sizeof(T));
  return v;
}

::testing::AssertionResult IsOk(const HeaderCheck& c) {
  if (c.ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "rejected: fes " << c.fes << " fei " << c.fei;
}

::testing::AssertionResult Rejected(const HeaderCheck& c, uint16_t fes, uint32_t fei) {
  if (c.ok) return ::testing::AssertionFailure() << "accepted, want fes " << fes << " fei " << fei;
  if (c.fes != fes || c.fei != fei) {
    return ::testing::AssertionFailure() << "fes " << c.fes << " fei " << c.fei << ", want fes "
                                         << fes << " fei " << fei;
  }
  if (!c.send_term_req()) return ::testing::AssertionFailure() << "no C2HTermReq to send";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ClosedSilently(const HeaderCheck& c) {
  if (!c.ok && c.fes == 0 && !c.send_term_req()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "ok " << c.ok << " fes " << c.fes;
}

constexpr auto Ch = &MakeCommonHeader;

ConnParams Params(bool hdgst, bool ddgst, uint8_t cpda = 0, uint8_t hpda = 0) {
  ConnParams p;
  p.hdgst = hdgst;
  p.ddgst = ddgst;
  p.cpda = cpda;
  p.hpda = hpda;
  p.maxh2cdata = 128 * 1024;
  p.in_capsule_data_size = 8192;
  return p;
}

// The Read SQE of nvme_test.cc: CID 0x1234, NSID 1, 8 blocks at LBA 0x1_0000_0020, FUA,
// SGL1 = transport data block of 4 KiB.
const char* const kReadSqeHex =
    "02 40 34 12 | 01 00 00 00 | 00 00 00 00 | 00 00 00 00 |"
    "00 00 00 00 00 00 00 00 |"
    "00 00 00 00 00 00 00 00 00 10 00 00 00 00 00 5a |"
    "20 00 00 00 | 01 00 00 00 | 07 00 00 40 |"
    "00 00 00 00 | 00 00 00 00 | 00 00 00 00";

// CapsuleCmd common header with header digest: type 04, HDGSTF, HLEN 72, PDO 0, PLEN 76.
const char* const kCapsuleCmdChHex = "04 01 48 00 | 4c 00 00 00";
// CRC32C of the 72 header bytes above, as it goes on the wire (little-endian).
const char* const kCapsuleCmdHdgstHex = "3b 4f e9 f4";

// ---------------------------------------------------------------- constants

TEST(NvmeTcpConstants, SpecValues) {
  EXPECT_EQ(kIcReq, 0x00);
  EXPECT_EQ(kIcResp, 0x01);
  EXPECT_EQ(kH2CTermReq, 0x02);
  EXPECT_EQ(kC2HTermReq, 0x03);
  EXPECT_EQ(kCapsuleCmd, 0x04);
  EXPECT_EQ(kCapsuleResp, 0x05);
  EXPECT_EQ(kH2CData, 0x06);
  EXPECT_EQ(kC2HData, 0x07);
  EXPECT_EQ(kR2T, 0x09);
  EXPECT_EQ(kFlagHdgst, 0x01);
  EXPECT_EQ(kFlagDdgst, 0x02);
  EXPECT_EQ(kFlagLastPdu, 0x04);
  EXPECT_EQ(kFlagSuccess, 0x08);
  EXPECT_EQ(kDgstHeader, 0x01);
  EXPECT_EQ(kDgstData, 0x02);
  EXPECT_EQ(kFesInvalidHeaderField, 0x01);
  EXPECT_EQ(kFesPduSequenceError, 0x02);
  EXPECT_EQ(kFesHeaderDigestError, 0x03);
  EXPECT_EQ(kFesDataTransferOutOfRange, 0x04);
  EXPECT_EQ(kFesDataTransferLimitExceeded, 0x05);
  EXPECT_EQ(kFesUnsupportedParameter, 0x06);
  EXPECT_EQ(kDigestLen, 4u);
  EXPECT_EQ(kMaxTermReqData, 128u);  // TermReq PDU at most 152 bytes
  EXPECT_EQ(ExpectedHlen(kIcReq), 128);
  EXPECT_EQ(ExpectedHlen(kIcResp), 128);
  EXPECT_EQ(ExpectedHlen(kH2CTermReq), 24);
  EXPECT_EQ(ExpectedHlen(kC2HTermReq), 24);
  EXPECT_EQ(ExpectedHlen(kCapsuleCmd), 72);
  EXPECT_EQ(ExpectedHlen(kCapsuleResp), 24);
  EXPECT_EQ(ExpectedHlen(kH2CData), 24);
  EXPECT_EQ(ExpectedHlen(kC2HData), 24);
  EXPECT_EQ(ExpectedHlen(kR2T), 24);
  EXPECT_EQ(ExpectedHlen(0x08), 0);
}

// ---------------------------------------------------------------- ICReq / ICResp

TEST(NvmeTcpGolden, IcReqParse) {
  // ICReq: HLEN = PLEN = 128, PFV 0, HPDA 0, DGST = HDGST_ENABLE | DDGST_ENABLE, MAXR2T 15.
  const Bytes wire = Cat({Hex("00 00 80 00 | 80 00 00 00 | 00 00 | 00 | 03 | 0f 00 00 00"),
                          Zeros(112)});
  ASSERT_EQ(wire.size(), 128u);
  IcReq req = Parse<IcReq>(wire);
  EXPECT_EQ(req.ch.pdu_type, kIcReq);
  EXPECT_EQ(req.ch.hlen, 128);
  EXPECT_EQ(req.ch.plen, 128u);
  EXPECT_EQ(req.pfv, 0);
  EXPECT_EQ(req.hpda, 0);
  EXPECT_EQ(req.dgst, kDgstHeader | kDgstData);
  EXPECT_EQ(req.maxr2t, 15u);
  EXPECT_TRUE(IsOk(CheckCommonHeader(req.ch, false, ConnParams{})));
  EXPECT_TRUE(IsOk(CheckIcReq(req)));

  // The same PDU built field by field (what a host writes).
  IcReq built = Zeroed<IcReq>();
  built.ch = Ch(kIcReq, 0, 128, 0, 128);
  built.dgst = 3;
  built.maxr2t = 15;
  EXPECT_TRUE(SameBytes(Raw(built), wire));
}

TEST(NvmeTcpGolden, IcResp) {
  IcResp r;
  memset(&r, 0xAB, sizeof(r));  // the encoder must clear the reserved bytes
  ConnParams p = Params(true, false);
  p.maxh2cdata = 128 * 1024;
  EncodeIcResp(&r, p);
  EXPECT_TRUE(SameBytes(
      Raw(r), Cat({Hex("01 00 80 00 | 80 00 00 00 | 00 00 | 00 | 01 | 00 00 02 00"), Zeros(112)})));

  ConnParams q = Params(true, true, /*cpda=*/3);
  q.maxh2cdata = 4096;
  EncodeIcResp(&r, q);
  EXPECT_TRUE(SameBytes(
      Raw(r), Cat({Hex("01 00 80 00 | 80 00 00 00 | 00 00 | 03 | 03 | 00 10 00 00"), Zeros(112)})));
}

// ---------------------------------------------------------------- CapsuleCmd

TEST(NvmeTcpGolden, CapsuleCmdReadWithHeaderDigest) {
  const Bytes hdr = Cat({Hex(kCapsuleCmdChHex), Hex(kReadSqeHex)});
  ASSERT_EQ(hdr.size(), 72u);
  const Bytes wire = Cat({hdr, Hex(kCapsuleCmdHdgstHex)});

  CapsuleCmdHeader h = Parse<CapsuleCmdHeader>(wire);
  EXPECT_EQ(h.ch.pdu_type, kCapsuleCmd);
  EXPECT_EQ(h.ch.flags, kFlagHdgst);
  EXPECT_EQ(h.ch.hlen, 72);
  EXPECT_EQ(h.ch.pdo, 0);
  EXPECT_EQ(h.ch.plen, 76u);
  EXPECT_EQ(h.sqe.opcode, nvme::kIoRead);
  EXPECT_EQ(h.sqe.cid, 0x1234);
  EXPECT_EQ(h.sqe.sgl1.id, nvme::kSglTransportDataBlock);
  EXPECT_EQ(HeaderBytes(h.ch), 76u);
  EXPECT_EQ(DataBytes(h.ch), 0u);

  const ConnParams p = Params(true, false);
  EXPECT_TRUE(IsOk(CheckCommonHeader(h.ch, true, p)));
  EXPECT_TRUE(IsOk(CheckCapsuleCmd(h, p)));

  // Header digest: CRC32C over the 72 header bytes, little-endian on the wire.
  const uint32_t digest = Crc32c(wire.data(), 72);
  EXPECT_EQ(digest, 0xF4E94F3Bu);
  uint8_t le[4];
  memcpy(le, &digest, 4);
  EXPECT_TRUE(SameBytes(Bytes(le, le + 4), Bytes(wire.begin() + 72, wire.end())));

  // Built field by field.
  CapsuleCmdHeader built = Zeroed<CapsuleCmdHeader>();
  built.ch = Ch(kCapsuleCmd, kFlagHdgst, 72, 0, 76);
  built.sqe = Parse<nvme::Sqe>(Hex(kReadSqeHex));
  EXPECT_TRUE(SameBytes(Raw(built), hdr));
}

TEST(NvmeTcpGolden, CapsuleCmdWithInCapsuleData) {
  // Write with 512 bytes of in-capsule data, no digests: PDO 72, PLEN 72 + 512 = 0x248.
  CommonHeader ch = Parse<CommonHeader>(Hex("04 00 48 48 | 48 02 00 00"));
  EXPECT_EQ(HeaderBytes(ch), 72u);
  EXPECT_EQ(DataBytes(ch), 512u);
  EXPECT_TRUE(IsOk(CheckCommonHeader(ch, true, Params(false, false))));
  // Both digests: PDO 76, PLEN 76 + 512 + 4 = 0x250.
  ch = Parse<CommonHeader>(Hex("04 03 48 4c | 50 02 00 00"));
  EXPECT_EQ(HeaderBytes(ch), 76u);
  EXPECT_EQ(DataBytes(ch), 512u);
  EXPECT_TRUE(IsOk(CheckCommonHeader(ch, true, Params(true, true))));
  // CPDA 3 (16-byte alignment) with header digest: data at 80.
  ch = Parse<CommonHeader>(Hex("04 01 48 50 | 50 02 00 00"));
  EXPECT_EQ(DataBytes(ch), 512u);
  EXPECT_TRUE(IsOk(CheckCommonHeader(ch, true, Params(true, false, 3))));
}

// ---------------------------------------------------------------- CapsuleResp

TEST(NvmeTcpGolden, CapsuleResp) {
  nvme::Cqe cqe = Zeroed<nvme::Cqe>();
  cqe.sqhd = 0x0010;
  cqe.sqid = 1;
  cqe.cid = 0x1234;
  CapsuleRespHeader r;
  memset(&r, 0xAB, sizeof(r));
  EncodeCapsuleResp(&r, cqe, false);
  EXPECT_TRUE(SameBytes(Raw(r), Hex("05 00 18 00 | 18 00 00 00 |"
                                    "00 00 00 00 | 00 00 00 00 | 10 00 | 01 00 | 34 12 | 00 00")));

  // Connect failure (SCT 1, SC 82h, DNR) with the invalid parameter's offset in DW0, with
  // header digest: FLAGS HDGSTF, PLEN 28.
  cqe.dw0 = nvme::ConnectInvalidParam(true, 256);
  cqe.sqhd = 0;
  cqe.sqid = 0;
  cqe.cid = 0x0001;
  cqe.status = nvme::CmdSpecific(nvme::kScConnectInvalidParameters).Encode();
  EncodeCapsuleResp(&r, cqe, true);
  EXPECT_TRUE(SameBytes(Raw(r), Hex("05 01 18 00 | 1c 00 00 00 |"
                                    "00 01 01 00 | 00 00 00 00 | 00 00 | 00 00 | 01 00 | 04 83")));
}

// ---------------------------------------------------------------- R2T

TEST(NvmeTcpGolden, R2T) {
  R2THeader r;
  memset(&r, 0xAB, sizeof(r));
  EncodeR2T(&r, /*cccid=*/0x0005, /*ttag=*/0x0003, /*offset=*/0x1000, /*length=*/0x2000, false);
  EXPECT_TRUE(SameBytes(Raw(r), Hex("09 00 18 00 | 18 00 00 00 | 05 00 | 03 00 |"
                                    "00 10 00 00 | 00 20 00 00 | 00 00 00 00")));
  EncodeR2T(&r, 0xBEEF, 0x0102, 0, 0x00100000, true);
  EXPECT_TRUE(SameBytes(Raw(r), Hex("09 01 18 00 | 1c 00 00 00 | ef be | 02 01 |"
                                    "00 00 00 00 | 00 00 10 00 | 00 00 00 00")));
}

// ---------------------------------------------------------------- C2HData

TEST(NvmeTcpGolden, C2HDataLastSuccessNoDigests) {
  DataHeader d;
  memset(&d, 0xAB, sizeof(d));
  EncodeC2HData(&d, 0x1234, 0, 4096, /*last=*/true, /*success=*/true, Params(false, false));
  // FLAGS LAST_PDU | SUCCESS, PDO 24, PLEN 24 + 4096 = 0x1018.
  EXPECT_TRUE(SameBytes(Raw(d), Hex("07 0c 18 18 | 18 10 00 00 | 34 12 | 00 00 |"
                                    "00 00 00 00 | 00 10 00 00 | 00 00 00 00")));
}

TEST(NvmeTcpGolden, C2HDataLastWithDigests) {
  DataHeader d;
  EncodeC2HData(&d, 0x1234, 0x2000, 0x1000, true, false, Params(true, true));
  // FLAGS HDGSTF | DDGSTF | LAST_PDU, PDO 24 + 4 = 28, PLEN 28 + 4096 + 4 = 0x1020.
  EXPECT_TRUE(SameBytes(Raw(d), Hex("07 07 18 1c | 20 10 00 00 | 34 12 | 00 00 |"
                                    "00 20 00 00 | 00 10 00 00 | 00 00 00 00")));
}

TEST(NvmeTcpGolden, C2HDataMiddleWithHostAlignment) {
  DataHeader d;
  // HPDA 7: data at a multiple of 32 bytes; header 24 + digest 4 = 28 -> PDO 32.
  EncodeC2HData(&d, 0x0001, 0x200, 512, false, false, Params(true, false, 0, 7));
  EXPECT_TRUE(SameBytes(Raw(d), Hex("07 01 18 20 | 20 02 00 00 | 01 00 | 00 00 |"
                                    "00 02 00 00 | 00 02 00 00 | 00 00 00 00")));
  EXPECT_EQ(C2HDataPdo(Params(false, false, 0, 0)), 24);
  EXPECT_EQ(C2HDataPdo(Params(true, false, 0, 0)), 28);
  EXPECT_EQ(C2HDataPdo(Params(false, false, 0, 1)), 24);   // 8-byte alignment
  EXPECT_EQ(C2HDataPdo(Params(true, false, 0, 1)), 32);
  EXPECT_EQ(C2HDataPdo(Params(true, true, 0, 31)), 128);   // 128-byte alignment
}

TEST(NvmeTcpGolden, C2HDataSuccessImpliesLast) {
  DataHeader d;
  EncodeC2HData(&d, 7, 0, 8, /*last=*/false, /*success=*/true, Params(false, true));
  // FLAGS DDGSTF | LAST_PDU | SUCCESS = 0x0e; PLEN 24 + 8 + 4 = 36.
  EXPECT_TRUE(SameBytes(Raw(d), Hex("07 0e 18 18 | 24 00 00 00 | 07 00 | 00 00 |"
                                    "00 00 00 00 | 08 00 00 00 | 00 00 00 00")));
}

// ---------------------------------------------------------------- H2CData

TEST(NvmeTcpGolden, H2CDataParse) {
  // Both digests, LAST_PDU: FLAGS 07, PDO 28, PLEN 28 + 512 + 4 = 0x220.
  const Bytes wire = Hex("06 07 18 1c | 20 02 00 00 | 05 00 | 03 00 |"
                         "00 10 00 00 | 00 02 00 00 | 00 00 00 00");
  DataHeader h = Parse<DataHeader>(wire);
  EXPECT_EQ(h.ch.pdu_type, kH2CData);
  EXPECT_EQ(h.ch.flags, kFlagHdgst | kFlagDdgst | kFlagLastPdu);
  EXPECT_EQ(h.cccid, 5);
  EXPECT_EQ(h.ttag, 3);
  EXPECT_EQ(h.datao, 0x1000u);
  EXPECT_EQ(h.datal, 0x200u);
  EXPECT_EQ(HeaderBytes(h.ch), 28u);
  EXPECT_EQ(DataBytes(h.ch), 512u);
  const ConnParams p = Params(true, true);
  EXPECT_TRUE(IsOk(CheckCommonHeader(h.ch, true, p)));
  EXPECT_TRUE(IsOk(CheckH2CData(h, p)));

  DataHeader built = Zeroed<DataHeader>();
  built.ch = Ch(kH2CData, 0x07, 24, 28, 0x220);
  built.cccid = 5;
  built.ttag = 3;
  built.datao = 0x1000;
  built.datal = 0x200;
  EXPECT_TRUE(SameBytes(Raw(built), wire));
}

// ---------------------------------------------------------------- C2HTermReq

TEST(NvmeTcpGolden, C2HTermReq) {
  const Bytes offending = Cat({Hex(kCapsuleCmdChHex), Hex(kReadSqeHex)});  // 72 bytes
  uint8_t out[sizeof(TermReqHeader) + kMaxTermReqData];
  memset(out, 0xAB, sizeof(out));
  uint32_t n = EncodeC2HTermReq(out, kFesInvalidHeaderField, 2, offending.data(), 72);
  ASSERT_EQ(n, 96u);
  // HLEN 24, PLEN 96, FES 0001h, FEI 2, 10 reserved bytes, then the offending header.
  EXPECT_TRUE(SameBytes(Bytes(out, out + n),
                        Cat({Hex("03 00 18 00 | 60 00 00 00 | 01 00 | 02 00 00 00 |"
                                 "00 00 00 00 00 00 00 00 00 00"),
                             offending})));
  TermReqHeader t = Parse<TermReqHeader>(Bytes(out, out + 24));
  EXPECT_EQ(t.fes, kFesInvalidHeaderField);
  EXPECT_EQ(t.fei, 2u);
}

TEST(NvmeTcpGolden, C2HTermReqTruncatesTo128) {
  Bytes offending(200);
  for (size_t i = 0; i < offending.size(); ++i) offending[i] = static_cast<uint8_t>(i);
  uint8_t out[sizeof(TermReqHeader) + kMaxTermReqData];
  uint32_t n = EncodeC2HTermReq(out, kFesDataTransferLimitExceeded, 0, offending.data(), 200);
  ASSERT_EQ(n, 152u);
  EXPECT_TRUE(SameBytes(Bytes(out, out + n),
                        Cat({Hex("03 00 18 00 | 98 00 00 00 | 05 00 | 00 00 00 00 |"
                                 "00 00 00 00 00 00 00 00 00 00"),
                             Bytes(offending.begin(), offending.begin() + 128)})));
}

TEST(NvmeTcpGolden, C2HTermReqWithoutData) {
  uint8_t out[sizeof(TermReqHeader) + kMaxTermReqData];
  uint32_t n = EncodeC2HTermReq(out, kFesPduSequenceError, 0, nullptr, 0);
  ASSERT_EQ(n, 24u);
  EXPECT_TRUE(SameBytes(Bytes(out, out + n),
                        Hex("03 00 18 00 | 18 00 00 00 | 02 00 | 00 00 00 00 |"
                            "00 00 00 00 00 00 00 00 00 00")));
}

// ---------------------------------------------------------------- CheckCommonHeader rules

TEST(CheckCommonHeader, BeforeIcReqOnlyIcReqIsInSequence) {
  const ConnParams p;
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kCapsuleCmd, 0, 72, 0, 72), false, p),
                       kFesPduSequenceError, 0));
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kH2CData, 0, 24, 24, 48), false, p),
                       kFesPduSequenceError, 0));
  EXPECT_TRUE(IsOk(CheckCommonHeader(Ch(kIcReq, 0, 128, 0, 128), false, p)));
}

TEST(CheckCommonHeader, SecondIcReqIsSequenceError) {
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kIcReq, 0, 128, 0, 128), true, Params(false, false)),
                       kFesPduSequenceError, 0));
}

TEST(CheckCommonHeader, ControllerToHostTypesAreInvalidType) {
  for (uint8_t t : {kIcResp, kC2HTermReq, kCapsuleResp, kC2HData, kR2T}) {
    for (bool done : {false, true}) {
      EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(t, 0, ExpectedHlen(t), 0, ExpectedHlen(t)), done,
                                             Params(false, false)),
                           kFesInvalidHeaderField, 0))
          << "type " << int(t) << " done " << done;
    }
  }
}

TEST(CheckCommonHeader, UndefinedTypesAreInvalidType) {
  for (int t : {0x08, 0x0A, 0x10, 0x7F, 0xFF}) {
    for (bool done : {false, true}) {
      EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(static_cast<uint8_t>(t), 0, 24, 0, 24), done,
                                             Params(false, false)),
                           kFesInvalidHeaderField, 0))
          << "type " << t;
    }
  }
}

TEST(CheckCommonHeader, IcReqHlen) {
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kIcReq, 0, 127, 0, 128), false, ConnParams{}),
                       kFesInvalidHeaderField, 2));
}

TEST(CheckCommonHeader, IcReqPlen) {
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kIcReq, 0, 128, 0, 129), false, ConnParams{}),
                       kFesInvalidHeaderField, 4));
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kIcReq, 0, 128, 0, 0xFFFFFFFF), false, ConnParams{}),
                       kFesInvalidHeaderField, 4));
}

TEST(CheckCommonHeader, IcReqReservedFlagsIgnored) {
  EXPECT_TRUE(IsOk(CheckCommonHeader(Ch(kIcReq, 0xFC, 128, 0, 128), false, ConnParams{})));
}

TEST(CheckCommonHeader, IcReqDigestFlags) {
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kIcReq, kFlagHdgst, 128, 0, 128), false, ConnParams{}),
                       kFesInvalidHeaderField, 1));
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kIcReq, kFlagDdgst, 128, 0, 128), false, ConnParams{}),
                       kFesInvalidHeaderField, 1));
}

TEST(CheckCommonHeader, IcReqPdo) {
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kIcReq, 0, 128, 0x55, 128), false, ConnParams{}),
                       kFesInvalidHeaderField, 3));
}

TEST(CheckCommonHeader, Hlen) {
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kCapsuleCmd, 0, 64, 0, 72), true, Params(false, false)),
                       kFesInvalidHeaderField, 2));
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kH2CData, 0, 28, 28, 60), true, Params(false, false)),
                       kFesInvalidHeaderField, 2));
}

TEST(CheckCommonHeader, HeaderDigestFlagMissing) {
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kCapsuleCmd, 0, 72, 0, 76), true, Params(true, false)),
                       kFesInvalidHeaderField, 1));
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kH2CData, 0, 24, 28, 60), true, Params(true, false)),
                       kFesInvalidHeaderField, 1));
}

TEST(CheckCommonHeader, HeaderDigestFlagNotNegotiated) {
  EXPECT_TRUE(Rejected(
      CheckCommonHeader(Ch(kCapsuleCmd, kFlagHdgst, 72, 0, 76), true, Params(false, false)),
      kFesInvalidHeaderField, 1));
}

TEST(CheckCommonHeader, DataDigestFlagMissingOnData) {
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kH2CData, 0, 24, 24, 24 + 512), true, Params(false, true)),
                       kFesInvalidHeaderField, 1));
  EXPECT_TRUE(Rejected(
      CheckCommonHeader(Ch(kCapsuleCmd, 0, 72, 72, 72 + 512), true, Params(false, true)),
      kFesInvalidHeaderField, 1));
}

TEST(CheckCommonHeader, DataDigestFlagWithoutData) {
  // No data -> no data digest, even when negotiated.
  EXPECT_TRUE(Rejected(
      CheckCommonHeader(Ch(kCapsuleCmd, kFlagDdgst, 72, 0, 72), true, Params(false, true)),
      kFesInvalidHeaderField, 1));
  EXPECT_TRUE(IsOk(CheckCommonHeader(Ch(kCapsuleCmd, 0, 72, 0, 72), true, Params(false, true))));
}

TEST(CheckCommonHeader, DataDigestFlagNotNegotiated) {
  EXPECT_TRUE(Rejected(
      CheckCommonHeader(Ch(kH2CData, kFlagDdgst, 24, 24, 24 + 512 + 4), true, Params(false, false)),
      kFesInvalidHeaderField, 1));
}

TEST(CheckCommonHeader, LowestFieldReportedFirst) {
  // Both the digest flag (offset 1) and hlen (offset 2) are wrong: offset 1 is reported.
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kCapsuleCmd, 0, 10, 0, 76), true, Params(true, false)),
                       kFesInvalidHeaderField, 1));
}

TEST(CheckCommonHeader, PdoZeroWithData) {
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kCapsuleCmd, 0, 72, 0, 72 + 512), true, Params(false, false)),
                       kFesInvalidHeaderField, 3));
}

TEST(CheckCommonHeader, PdoInsideHeader) {
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kH2CData, 0, 24, 8, 24 + 512), true, Params(false, false)),
                       kFesInvalidHeaderField, 3));
  // Inside the header digest.
  EXPECT_TRUE(Rejected(
      CheckCommonHeader(Ch(kH2CData, kFlagHdgst, 24, 24, 28 + 512), true, Params(true, false)),
      kFesInvalidHeaderField, 3));
  // No data, but a non-zero PDO pointing into the header.
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kCapsuleCmd, 0, 72, 8, 72), true, Params(false, false)),
                       kFesInvalidHeaderField, 3));
}

TEST(CheckCommonHeader, PdoMisaligned) {
  // CPDA 1: data must start at a multiple of 8; 76 is not.
  EXPECT_TRUE(Rejected(
      CheckCommonHeader(Ch(kCapsuleCmd, kFlagHdgst, 72, 76, 76 + 512), true, Params(true, false, 1)),
      kFesInvalidHeaderField, 3));
  EXPECT_TRUE(IsOk(
      CheckCommonHeader(Ch(kCapsuleCmd, kFlagHdgst, 72, 80, 80 + 512), true, Params(true, false, 1))));
  // CPDA 0: 4-byte alignment.
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kH2CData, 0, 24, 26, 26 + 512), true, Params(false, false)),
                       kFesInvalidHeaderField, 3));
}

TEST(CheckCommonHeader, PdoBeyondPlen) {
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kH2CData, 0, 24, 200, 100), true, Params(false, false)),
                       kFesInvalidHeaderField, 3));
  // Room for the data digest only: no data byte.
  EXPECT_TRUE(Rejected(
      CheckCommonHeader(Ch(kH2CData, kFlagDdgst, 24, 24, 28), true, Params(false, true)),
      kFesInvalidHeaderField, 3));
}

TEST(CheckCommonHeader, PlenShorterThanHeader) {
  EXPECT_TRUE(Rejected(
      CheckCommonHeader(Ch(kCapsuleCmd, kFlagHdgst, 72, 0, 72), true, Params(true, false)),
      kFesInvalidHeaderField, 4));
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kCapsuleCmd, 0, 72, 0, 8), true, Params(false, false)),
                       kFesInvalidHeaderField, 4));
}

TEST(CheckCommonHeader, H2CDataWithoutData) {
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kH2CData, 0, 24, 0, 24), true, Params(false, false)),
                       kFesInvalidHeaderField, 4));
}

TEST(CheckCommonHeader, InCapsuleDataLimit) {
  ConnParams p = Params(false, false);
  p.in_capsule_data_size = 4096;
  EXPECT_TRUE(IsOk(CheckCommonHeader(Ch(kCapsuleCmd, 0, 72, 72, 72 + 4096), true, p)));
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kCapsuleCmd, 0, 72, 72, 72 + 4100), true, p),
                       kFesDataTransferLimitExceeded, 0));
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kCapsuleCmd, 0, 72, 72, 0xFFFFFFFF), true, p),
                       kFesDataTransferLimitExceeded, 0));
  p.in_capsule_data_size = 0;  // no in-capsule data accepted at all
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kCapsuleCmd, 0, 72, 72, 76), true, p),
                       kFesDataTransferLimitExceeded, 0));
}

TEST(CheckCommonHeader, H2CDataLimit) {
  ConnParams p = Params(true, true);
  p.maxh2cdata = 8192;
  EXPECT_TRUE(IsOk(CheckCommonHeader(Ch(kH2CData, 3, 24, 28, 28 + 8192 + 4), true, p)));
  EXPECT_TRUE(Rejected(CheckCommonHeader(Ch(kH2CData, 3, 24, 28, 28 + 8196 + 4), true, p),
                       kFesDataTransferLimitExceeded, 0));
}

TEST(CheckCommonHeader, UndefinedFlagBitsIgnored) {
  // LAST_PDU on a CapsuleCmd and SUCCESS on an H2CData are reserved bits: ignored.
  EXPECT_TRUE(IsOk(CheckCommonHeader(Ch(kCapsuleCmd, 0xF4, 72, 0, 72), true, Params(false, false))));
  EXPECT_TRUE(IsOk(CheckCommonHeader(Ch(kH2CData, kFlagLastPdu | kFlagSuccess, 24, 24, 30), true,
                                     Params(false, false))));
}

TEST(CheckCommonHeader, H2CTermReqAcceptedAtAnyTime) {
  for (bool done : {false, true}) {
    EXPECT_TRUE(IsOk(CheckCommonHeader(Ch(kH2CTermReq, 0, 24, 0, 24), done, Params(true, true))));
    EXPECT_TRUE(IsOk(CheckCommonHeader(Ch(kH2CTermReq, 0, 24, 0, 152), done, Params(false, false))));
  }
}

TEST(CheckCommonHeader, MalformedH2CTermReqClosesWithoutReply) {
  const ConnParams p = Params(false, false);
  EXPECT_TRUE(ClosedSilently(CheckCommonHeader(Ch(kH2CTermReq, 0, 28, 0, 28), true, p)));
  EXPECT_TRUE(ClosedSilently(CheckCommonHeader(Ch(kH2CTermReq, 0, 24, 0, 23), true, p)));
  EXPECT_TRUE(ClosedSilently(CheckCommonHeader(Ch(kH2CTermReq, 0, 24, 0, 153), true, p)));
  EXPECT_TRUE(ClosedSilently(CheckCommonHeader(Ch(kH2CTermReq, 0, 24, 0, 0xFFFFFFFF), false, p)));
  EXPECT_TRUE(ClosedSilently(CheckCommonHeader(Ch(kH2CTermReq, kFlagHdgst, 24, 0, 28), true, p)));
  EXPECT_TRUE(ClosedSilently(CheckCommonHeader(Ch(kH2CTermReq, 0, 24, 24, 48), true, p)));
}

// ---------------------------------------------------------------- CheckIcReq rules

IcReq GoodIcReq() {
  IcReq r = Zeroed<IcReq>();
  r.ch = Ch(kIcReq, 0, 128, 0, 128);
  return r;
}

TEST(CheckIcReq, Valid) {
  IcReq r = GoodIcReq();
  EXPECT_TRUE(IsOk(CheckIcReq(r)));
  r.hpda = 31;
  r.maxr2t = 0xFFFFFFFF;
  r.dgst = 0xFF;  // bits 7:2 reserved
  EXPECT_TRUE(IsOk(CheckIcReq(r)));
}

TEST(CheckIcReq, PduType) {
  IcReq r = GoodIcReq();
  r.ch.pdu_type = kCapsuleCmd;
  EXPECT_TRUE(Rejected(CheckIcReq(r), kFesInvalidHeaderField, 0));
}

TEST(CheckIcReq, Hlen) {
  IcReq r = GoodIcReq();
  r.ch.hlen = 72;
  EXPECT_TRUE(Rejected(CheckIcReq(r), kFesInvalidHeaderField, 2));
}

TEST(CheckIcReq, Plen) {
  IcReq r = GoodIcReq();
  r.ch.plen = 132;
  EXPECT_TRUE(Rejected(CheckIcReq(r), kFesInvalidHeaderField, 4));
}

TEST(CheckIcReq, UnsupportedPfv) {
  IcReq r = GoodIcReq();
  r.pfv = 1;
  EXPECT_TRUE(Rejected(CheckIcReq(r), kFesUnsupportedParameter, 8));
}

TEST(CheckIcReq, HpdaOutOfRange) {
  IcReq r = GoodIcReq();
  r.hpda = 32;
  EXPECT_TRUE(Rejected(CheckIcReq(r), kFesInvalidHeaderField, 10));
}

// ---------------------------------------------------------------- CheckCapsuleCmd rules

CapsuleCmdHeader Capsule(uint8_t flags, uint8_t pdo, uint32_t plen) {
  CapsuleCmdHeader h = Zeroed<CapsuleCmdHeader>();
  h.ch = Ch(kCapsuleCmd, flags, 72, pdo, plen);
  h.sqe.opcode = nvme::kIoWrite;
  return h;
}

TEST(CheckCapsuleCmd, Valid) {
  ConnParams p = Params(false, true);
  p.in_capsule_data_size = 8192;
  EXPECT_TRUE(IsOk(CheckCapsuleCmd(Capsule(0, 0, 72), p)));
  EXPECT_TRUE(IsOk(CheckCapsuleCmd(Capsule(kFlagDdgst, 72, 72 + 8192 + 4), p)));
}

TEST(CheckCapsuleCmd, InCapsuleDataTooLarge) {
  ConnParams p = Params(false, true);
  p.in_capsule_data_size = 8192;
  EXPECT_TRUE(Rejected(CheckCapsuleCmd(Capsule(kFlagDdgst, 72, 72 + 8196 + 4), p),
                       kFesDataTransferLimitExceeded, 0));
}

TEST(CheckCapsuleCmd, Hlen) {
  CapsuleCmdHeader h = Capsule(0, 0, 72);
  h.ch.hlen = 24;
  EXPECT_TRUE(Rejected(CheckCapsuleCmd(h, Params(false, false)), kFesInvalidHeaderField, 2));
}

// ---------------------------------------------------------------- CheckH2CData rules

DataHeader H2C(uint32_t datao, uint32_t datal, uint32_t plen_data) {
  DataHeader h = Zeroed<DataHeader>();
  h.ch = Ch(kH2CData, kFlagLastPdu, 24, 24, 24 + plen_data);
  h.cccid = 1;
  h.ttag = 1;
  h.datao = datao;
  h.datal = datal;
  return h;
}

TEST(CheckH2CData, Valid) {
  EXPECT_TRUE(IsOk(CheckH2CData(H2C(0, 4096, 4096), Params(false, false))));
}

TEST(CheckH2CData, ZeroLength) {
  EXPECT_TRUE(Rejected(CheckH2CData(H2C(0, 0, 0), Params(false, false)), kFesInvalidHeaderField, 16));
}

TEST(CheckH2CData, DatalDisagreesWithPlen) {
  EXPECT_TRUE(Rejected(CheckH2CData(H2C(0, 4096, 4092), Params(false, false)),
                       kFesInvalidHeaderField, 16));
  EXPECT_TRUE(Rejected(CheckH2CData(H2C(0, 512, 1024), Params(false, false)),
                       kFesInvalidHeaderField, 16));
}

TEST(CheckH2CData, OverMaxH2CData) {
  ConnParams p = Params(false, false);
  p.maxh2cdata = 4096;
  EXPECT_TRUE(IsOk(CheckH2CData(H2C(0, 4096, 4096), p)));
  EXPECT_TRUE(Rejected(CheckH2CData(H2C(0, 8192, 8192), p), kFesDataTransferLimitExceeded, 0));
}

TEST(CheckH2CData, OffsetOverflow) {
  EXPECT_TRUE(Rejected(CheckH2CData(H2C(0xFFFFF000, 0x2000, 0x2000), Params(false, false)),
                       kFesDataTransferOutOfRange, 0));
  // A command moves at most 0xFFFFFFFF bytes (32-bit SGL length): the end offset of the
  // last byte + 1 may be 0xFFFFFFFF, not 2^32.
  EXPECT_TRUE(Rejected(CheckH2CData(H2C(0xFFFFE000, 0x2000, 0x2000), Params(false, false)),
                       kFesDataTransferOutOfRange, 0));
  EXPECT_TRUE(IsOk(CheckH2CData(H2C(0xFFFFE000, 0x1FFF, 0x1FFF), Params(false, false))));
}

TEST(CheckH2CData, Hlen) {
  DataHeader h = H2C(0, 16, 16);
  h.ch.hlen = 28;
  EXPECT_TRUE(Rejected(CheckH2CData(h, Params(false, false)), kFesInvalidHeaderField, 2));
}

// ---------------------------------------------------------------- invariants

// Whatever CheckCommonHeader accepts, the framing arithmetic is bounded and consistent.
TEST(CheckCommonHeader, AcceptedHeadersAreBounded) {
  const ConnParams params[] = {Params(false, false), Params(true, true, 3), Params(true, false, 1),
                               Params(false, true)};
  uint64_t accepted = 0;
  for (const ConnParams& p : params) {
    for (uint8_t type : {kIcReq, kH2CTermReq, kCapsuleCmd, kH2CData}) {
      for (int flags = 0; flags < 4; ++flags) {
        for (int pdo = 0; pdo < 256; ++pdo) {
          for (uint32_t plen : {0u, 24u, 28u, 72u, 76u, 80u, 100u, 128u, 152u, 600u, 8300u, 140000u,
                                0x7FFFFFFFu, 0xFFFFFFFFu}) {
            CommonHeader ch = Ch(type, static_cast<uint8_t>(flags), ExpectedHlen(type),
                                 static_cast<uint8_t>(pdo), plen);
            if (!CheckCommonHeader(ch, type != kIcReq, p).ok) continue;
            ++accepted;
            ASSERT_LE(HeaderBytes(ch), kMaxHeaderLen);
            ASSERT_GE(plen, HeaderBytes(ch));
            const uint32_t data = DataBytes(ch);
            if (type == kIcReq || type == kH2CTermReq) {
              ASSERT_EQ(data, 0u);
              ASSERT_LE(plen - ch.hlen, kMaxTermReqData);
              continue;
            }
            const uint32_t limit = type == kCapsuleCmd ? p.in_capsule_data_size : p.maxh2cdata;
            ASSERT_LE(data, limit);
            if (data > 0) {
              ASSERT_EQ(plen, ch.pdo + data + ((ch.flags & kFlagDdgst) ? kDigestLen : 0));
            } else {
              ASSERT_EQ(plen, HeaderBytes(ch));
            }
          }
        }
      }
    }
  }
  EXPECT_GT(accepted, 0u);
}

}  // namespace
}  // namespace nvmeof::tcp
