// Golden-byte tests for the NVMe structures in nvme.h.
//
// Every expected byte array below was written from the specifications (NVMe Base 2.0,
// NVMe over Fabrics 1.1, NVM Command Set 1.0): field offsets and encodings are taken from
// the spec figures and typed in by hand, never derived from the structs under test.
#include "gateway/protocol/golden_bytes.h"
#include "gateway/protocol/nvme.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

namespace nvmeof::nvme {
namespace {

// ---------------------------------------------------------------- helpers

using golden::Bytes;
using golden::Hex;
using golden::Raw;
using golden::SameBytes;
using golden::Zeroed;


template <typename T>
T Parse(const Bytes& b) {
  EXPECT_EQ(b.size(), sizeof(T));
  T v = Zeroed<T>();
  memcpy(&v, b.data(), b.size() < sizeof(T) ? b.size() : sizeof(T));
  return v;
}

void PutLe(Bytes& b, size_t off, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.at(off + i) = static_cast<uint8_t>(v >> (8 * i));
}
void Put(Bytes& b, size_t off, std::initializer_list<uint8_t> v) {
  for (uint8_t x : v) b.at(off++) = x;
}
void PutStr(Bytes& b, size_t off, const std::string& s) {
  for (char c : s) b.at(off++) = static_cast<uint8_t>(c);
}

// ---------------------------------------------------------------- enumerations

TEST(NvmeConstants, Opcodes) {
  // NVMe Base 2.0 Figure 28 (admin), NVM Command Set Figure 18 (I/O), Fabrics 0x7F.
  EXPECT_EQ(kAdminGetLogPage, 0x02);
  EXPECT_EQ(kAdminIdentify, 0x06);
  EXPECT_EQ(kAdminAbort, 0x08);
  EXPECT_EQ(kAdminSetFeatures, 0x09);
  EXPECT_EQ(kAdminGetFeatures, 0x0A);
  EXPECT_EQ(kAdminAsyncEventRequest, 0x0C);
  EXPECT_EQ(kAdminKeepAlive, 0x18);
  EXPECT_EQ(kAdminFabrics, 0x7F);
  EXPECT_EQ(kIoFlush, 0x00);
  EXPECT_EQ(kIoWrite, 0x01);
  EXPECT_EQ(kIoRead, 0x02);
  EXPECT_EQ(kIoCompare, 0x05);
  EXPECT_EQ(kIoWriteZeroes, 0x08);
  EXPECT_EQ(kIoDatasetManagement, 0x09);
  EXPECT_EQ(kFctypePropertySet, 0x00);
  EXPECT_EQ(kFctypeConnect, 0x01);
  EXPECT_EQ(kFctypePropertyGet, 0x04);
  EXPECT_EQ(kFctypeAuthSend, 0x05);
  EXPECT_EQ(kFctypeAuthReceive, 0x06);
  EXPECT_EQ(kFctypeDisconnect, 0x08);
  // Data transfer direction: opcode bits 1:0.
  EXPECT_TRUE(OpcodeHostToController(kIoWrite));
  EXPECT_TRUE(OpcodeHostToController(kIoCompare));
  EXPECT_TRUE(OpcodeHostToController(kIoDatasetManagement));
  EXPECT_TRUE(OpcodeHostToController(kAdminSetFeatures));
  EXPECT_FALSE(OpcodeHostToController(kIoRead));
  EXPECT_TRUE(OpcodeControllerToHost(kIoRead));
  EXPECT_TRUE(OpcodeControllerToHost(kAdminGetLogPage));
  EXPECT_TRUE(OpcodeControllerToHost(kAdminIdentify));
  EXPECT_TRUE(OpcodeControllerToHost(kAdminGetFeatures));
  EXPECT_FALSE(OpcodeControllerToHost(kIoFlush));
  EXPECT_FALSE(OpcodeHostToController(kIoFlush));
  EXPECT_FALSE(OpcodeHostToController(kIoWriteZeroes));
  EXPECT_FALSE(OpcodeControllerToHost(kAdminKeepAlive));
}

TEST(NvmeConstants, StatusCodes) {
  EXPECT_EQ(kScInvalidOpcode, 0x01);
  EXPECT_EQ(kScInvalidField, 0x02);
  EXPECT_EQ(kScCommandIdConflict, 0x03);
  EXPECT_EQ(kScDataTransferError, 0x04);
  EXPECT_EQ(kScInternalError, 0x06);
  EXPECT_EQ(kScAbortRequested, 0x07);
  EXPECT_EQ(kScAbortSqDeleted, 0x08);
  EXPECT_EQ(kScInvalidNamespaceOrFormat, 0x0B);
  EXPECT_EQ(kScCommandSequenceError, 0x0C);
  EXPECT_EQ(kScInvalidSglSegmentDescriptor, 0x0D);
  EXPECT_EQ(kScDataSglLengthInvalid, 0x0F);
  EXPECT_EQ(kScSglDescriptorTypeInvalid, 0x11);
  EXPECT_EQ(kScSglOffsetInvalid, 0x16);
  EXPECT_EQ(kScHostIdInconsistentFormat, 0x18);
  EXPECT_EQ(kScKeepAliveTimerExpired, 0x19);
  EXPECT_EQ(kScInvalidKeepAliveTimeout, 0x1A);
  EXPECT_EQ(kScLbaOutOfRange, 0x80);
  EXPECT_EQ(kScCapacityExceeded, 0x81);
  EXPECT_EQ(kScNamespaceNotReady, 0x82);
  EXPECT_EQ(kScInvalidQueueIdentifier, 0x01);
  EXPECT_EQ(kScInvalidQueueSize, 0x02);
  EXPECT_EQ(kScAbortCommandLimitExceeded, 0x03);
  EXPECT_EQ(kScAsyncEventRequestLimitExceeded, 0x05);
  EXPECT_EQ(kScInvalidLogPage, 0x09);
  EXPECT_EQ(kScFeatureIdNotSaveable, 0x0D);
  EXPECT_EQ(kScFeatureNotChangeable, 0x0E);
  EXPECT_EQ(kScConnectIncompatibleFormat, 0x80);
  EXPECT_EQ(kScConnectControllerBusy, 0x81);
  EXPECT_EQ(kScConnectInvalidParameters, 0x82);
  EXPECT_EQ(kScConnectRestartDiscovery, 0x83);
  EXPECT_EQ(kScConnectInvalidHost, 0x84);
  EXPECT_EQ(kScWriteFault, 0x80);
  EXPECT_EQ(kScUnrecoveredReadError, 0x81);
  EXPECT_EQ(kScCompareFailure, 0x85);
  EXPECT_EQ(kScAccessDenied, 0x86);
  EXPECT_EQ(kScInternalPathError, 0x00);
  EXPECT_EQ(kScAnaPersistentLoss, 0x01);
  EXPECT_EQ(kScAnaInaccessible, 0x02);
  EXPECT_EQ(kScAnaTransition, 0x03);
  EXPECT_EQ(kScControllerPathingError, 0x60);
  EXPECT_EQ(kScHostPathingError, 0x70);
  EXPECT_EQ(kScCommandAbortedByHost, 0x71);
}

TEST(NvmeConstants, IdentifyFeaturesLogs) {
  EXPECT_EQ(kCnsNamespace, 0x00);
  EXPECT_EQ(kCnsController, 0x01);
  EXPECT_EQ(kCnsActiveNsList, 0x02);
  EXPECT_EQ(kCnsNsIdDescriptors, 0x03);
  EXPECT_EQ(kCnsIoCsNamespace, 0x05);
  EXPECT_EQ(kCnsIoCsController, 0x06);
  EXPECT_EQ(kCnsIoCsActiveNsList, 0x07);
  EXPECT_EQ(kCntrlTypeIo, 1);
  EXPECT_EQ(kCntrlTypeDiscovery, 2);
  EXPECT_EQ(kCntrlTypeAdmin, 3);
  EXPECT_EQ(kFeatArbitration, 0x01);
  EXPECT_EQ(kFeatPowerManagement, 0x02);
  EXPECT_EQ(kFeatTemperatureThreshold, 0x04);
  EXPECT_EQ(kFeatErrorRecovery, 0x05);
  EXPECT_EQ(kFeatVolatileWriteCache, 0x06);
  EXPECT_EQ(kFeatNumberOfQueues, 0x07);
  EXPECT_EQ(kFeatInterruptCoalescing, 0x08);
  EXPECT_EQ(kFeatWriteAtomicityNormal, 0x0A);
  EXPECT_EQ(kFeatAsyncEventConfig, 0x0B);
  EXPECT_EQ(kFeatKeepAliveTimer, 0x0F);
  EXPECT_EQ(kFeatHostIdentifier, 0x81);
  EXPECT_EQ(kLogErrorInfo, 0x01);
  EXPECT_EQ(kLogSmartHealth, 0x02);
  EXPECT_EQ(kLogFirmwareSlot, 0x03);
  EXPECT_EQ(kLogChangedNsList, 0x04);
  EXPECT_EQ(kLogCommandsSupported, 0x05);
  EXPECT_EQ(kLogAna, 0x0C);
  EXPECT_EQ(kLogDiscovery, 0x70);
  EXPECT_EQ(kNidEui64, 1);
  EXPECT_EQ(kNidNguid, 2);
  EXPECT_EQ(kNidUuid, 3);
  EXPECT_EQ(kNidCsi, 4);
  EXPECT_EQ(kAnaOptimized, 0x01);
  EXPECT_EQ(kAnaNonOptimized, 0x02);
  EXPECT_EQ(kAnaInaccessible, 0x03);
  EXPECT_EQ(kAnaPersistentLoss, 0x04);
  EXPECT_EQ(kAnaChange, 0x0F);
  EXPECT_EQ(kTrtypeRdma, 1);
  EXPECT_EQ(kTrtypeFc, 2);
  EXPECT_EQ(kTrtypeTcp, 3);
  EXPECT_EQ(kTrtypeLoop, 254);
  EXPECT_EQ(kAdrfamIpv4, 1);
  EXPECT_EQ(kAdrfamIpv6, 2);
  EXPECT_EQ(kSubtypeReferral, 1);
  EXPECT_EQ(kSubtypeNvm, 2);
  EXPECT_EQ(kSubtypeCurrentDiscovery, 3);
  EXPECT_EQ(kTreqNotSpecified, 0);
  EXPECT_EQ(kTreqRequired, 1);
  EXPECT_EQ(kTreqNotRequired, 2);
  EXPECT_EQ(kTreqSqFlowControlDisableSupported, 4);
  EXPECT_STREQ(kDiscoveryNqn, "nqn.2014-08.org.nvmexpress.discovery");
}

TEST(NvmeConstants, RegisterAndCommandBits) {
  // Properties (controller register offsets).
  EXPECT_EQ(kPropCap, 0x00u);
  EXPECT_EQ(kPropVs, 0x08u);
  EXPECT_EQ(kPropIntms, 0x0Cu);
  EXPECT_EQ(kPropIntmc, 0x10u);
  EXPECT_EQ(kPropCc, 0x14u);
  EXPECT_EQ(kPropCsts, 0x1Cu);
  EXPECT_EQ(kPropNssr, 0x20u);
  // CC = 0x00464001: EN=1, CSS=0, MPS=0, AMS=0, SHN=01b (bit 14), IOSQES=6, IOCQES=4.
  const uint32_t cc = 0x00464001;
  EXPECT_EQ(cc & kCcEn, 1u);
  EXPECT_EQ(CcShn(cc), 1u);
  EXPECT_EQ(CcIosqes(cc), 6u);
  EXPECT_EQ(CcIocqes(cc), 4u);
  EXPECT_EQ(CcMps(cc), 0u);
  EXPECT_EQ(CcCss(cc), 0u);
  EXPECT_EQ(CcMps(0x00000380), 7u);   // bits 10:7
  EXPECT_EQ(CcCss(0x00000070), 7u);   // bits 6:4
  EXPECT_EQ(CcShn(0x00008000), 2u);   // bits 15:14
  EXPECT_EQ(kCstsRdy, 0x1u);
  EXPECT_EQ(kCstsCfs, 0x2u);
  EXPECT_EQ(kCstsShstOccurring, 0x4u);  // SHST = 01b at bits 3:2
  EXPECT_EQ(kCstsShstComplete, 0x8u);   // SHST = 10b
  EXPECT_EQ(Version(1, 4), 0x00010400u);
  EXPECT_EQ(Version(2, 0), 0x00020000u);
  EXPECT_EQ(Version(1, 3, 1), 0x00010301u);
  // Identify bits.
  EXPECT_EQ(kOaesNsAttr, 0x00000100u);
  EXPECT_EQ(kOaesAnaChange, 0x00000800u);
  EXPECT_EQ(kOaesDiscoveryLogChange, 0x80000000u);
  EXPECT_EQ(kAecNsAttr, 0x00000100u);
  EXPECT_EQ(kAecAnaChange, 0x00000800u);
  EXPECT_EQ(kAecDiscoveryLogChange, 0x80000000u);
  EXPECT_EQ(kOncsCompare, 0x1);
  EXPECT_EQ(kOncsDsm, 0x4);
  EXPECT_EQ(kOncsWriteZeroes, 0x8);
  EXPECT_EQ(kCmicMultiCtrl, 0x2);
  EXPECT_EQ(kCmicAna, 0x8);
  // Commands Supported and Effects.
  EXPECT_EQ(kCseCsupp, 0x1u);
  EXPECT_EQ(kCseLbcc, 0x2u);
  EXPECT_EQ(kCseNcc, 0x4u);
  EXPECT_EQ(kCseNic, 0x8u);
  EXPECT_EQ(kCseCcc, 0x10u);
  // I/O command dwords.
  EXPECT_EQ(kDsmAttrDeallocate, 0x4u);      // DSM CDW11 bit 2 (AD)
  EXPECT_EQ(kRwFua, 0x40000000u);           // Read/Write CDW12 bit 30
  EXPECT_EQ(kRwLimitedRetry, 0x80000000u);  // bit 31
  EXPECT_EQ(kWzDeallocate, 0x02000000u);    // Write Zeroes CDW12 bit 25 (DEAC)
  // SGL identifiers: type in bits 7:4, subtype in 3:0.
  EXPECT_EQ(kSglDataBlockOffset, 0x01);     // Data Block (0h), Offset (1h)
  EXPECT_EQ(kSglTransportDataBlock, 0x5A);  // Transport SGL Data Block (5h), Transport (Ah)
}

// ---------------------------------------------------------------- status

TEST(NvmeStatus, KnownEncodings) {
  // CQE DW3 bits 31:16 = status field: bit 0 phase, 8:1 SC, 11:9 SCT, 13:12 CRD, 14 M, 15 DNR.
  EXPECT_EQ(kSuccess.Encode(), 0x0000);
  EXPECT_TRUE(kSuccess.ok());
  EXPECT_EQ(CmdSpecific(kScConnectInvalidParameters).Encode(), 0x8304);  // SCT 1, SC 82h, DNR
  EXPECT_EQ(Generic(kScInvalidField).Encode(), 0x8004);                  // SC 02h, DNR
  EXPECT_EQ(Generic(kScInvalidOpcode).Encode(), 0x8002);
  EXPECT_EQ(Generic(kScLbaOutOfRange).Encode(), 0x8100);
  EXPECT_EQ(Generic(kScInternalError, false).Encode(), 0x000C);
  EXPECT_EQ(Media(kScUnrecoveredReadError).Encode(), 0x8502);  // SCT 2 (0x400), SC 81h (0x102)
  EXPECT_EQ(Path(kScAnaInaccessible).Encode(), 0x0604);        // SCT 3 (0x600), SC 02h
  EXPECT_EQ(Path(kScAnaTransition).Encode(), 0x0606);
  EXPECT_EQ(Path(kScAnaPersistentLoss).Encode(), 0x0602);
  EXPECT_EQ(CmdSpecific(kScInvalidQueueSize).Encode(), 0x8204);
  Status more{kSctGeneric, kScInternalError, false, true};
  EXPECT_EQ(more.Encode(), 0x400C);
  EXPECT_FALSE(Generic(kScInvalidField).ok());
  EXPECT_FALSE(CmdSpecific(0).ok());  // SC 0 with SCT 1 is not success
}

TEST(NvmeStatus, KnownDecodings) {
  Status s = Status::Decode(0x8304);
  EXPECT_EQ(s.sct, kSctCommandSpecific);
  EXPECT_EQ(s.sc, kScConnectInvalidParameters);
  EXPECT_TRUE(s.dnr);
  EXPECT_FALSE(s.more);
  s = Status::Decode(0x0605);  // the phase bit is ignored
  EXPECT_EQ(s.sct, kSctPath);
  EXPECT_EQ(s.sc, kScAnaInaccessible);
  EXPECT_FALSE(s.dnr);
  s = Status::Decode(0x4000 | 0x3000 | 0x000C);  // M set, CRD bits ignored
  EXPECT_TRUE(s.more);
  EXPECT_EQ(s.sc, kScInternalError);
  EXPECT_EQ(s.sct, kSctGeneric);
  EXPECT_TRUE(Status::Decode(0x0000).ok());
  EXPECT_TRUE(Status::Decode(0x0001).ok());
}

TEST(NvmeStatus, RoundTripAll) {
  for (int sct = 0; sct < 8; ++sct) {
    for (int sc = 0; sc < 256; ++sc) {
      for (int flags = 0; flags < 4; ++flags) {
        Status s{static_cast<uint8_t>(sct), static_cast<uint8_t>(sc), (flags & 1) != 0,
                 (flags & 2) != 0};
        uint16_t v = s.Encode();
        EXPECT_EQ(v & 1, 0);            // phase bit never set by Encode
        EXPECT_EQ(v & 0x3000, 0);       // CRD left 0
        Status d = Status::Decode(v);
        ASSERT_EQ(d.sct, sct);
        ASSERT_EQ(d.sc, sc);
        ASSERT_EQ(d.dnr, s.dnr);
        ASSERT_EQ(d.more, s.more);
        ASSERT_TRUE(d == s);
        ASSERT_EQ(Status::Decode(static_cast<uint16_t>(v | 1)).Encode(), v);
      }
    }
  }
}

// ---------------------------------------------------------------- SQE / CQE / SGL

TEST(NvmeWire, SglDescriptors) {
  // In-capsule data: Data Block descriptor, subtype Offset, address = offset 0, 512 bytes.
  SglDescriptor icd = Zeroed<SglDescriptor>();
  icd.address = 0;
  icd.length = 512;
  icd.id = kSglDataBlockOffset;
  EXPECT_TRUE(SameBytes(Raw(icd), Hex("00 00 00 00 00 00 00 00 | 00 02 00 00 | 00 00 00 | 01")));
  // NVMe/TCP transport data block (data moved by R2T/H2CData or C2HData), 1 MiB.
  SglDescriptor tdb = Zeroed<SglDescriptor>();
  tdb.length = 0x100000;
  tdb.id = kSglTransportDataBlock;
  EXPECT_TRUE(SameBytes(Raw(tdb), Hex("00 00 00 00 00 00 00 00 | 00 00 10 00 | 00 00 00 | 5a")));
  // Parse direction.
  SglDescriptor p = Parse<SglDescriptor>(Hex("10 00 00 00 00 00 00 00 20 00 00 00 00 00 00 01"));
  EXPECT_EQ(p.address, 0x10u);
  EXPECT_EQ(p.length, 0x20u);
  EXPECT_EQ(p.id, kSglDataBlockOffset);
}

// A Read of 8 blocks at LBA 0x1_0000_0020 on NSID 1, FUA, CID 0x1234, data by C2HData.
const char* const kReadSqeHex =
    "02 40 34 12 | 01 00 00 00 | 00 00 00 00 | 00 00 00 00 |"  // opc, PSDT=01b, CID, NSID, CDW2-3
    "00 00 00 00 00 00 00 00 |"                                // MPTR
    "00 00 00 00 00 00 00 00 00 10 00 00 00 00 00 5a |"        // SGL1: transport data block 4 KiB
    "20 00 00 00 | 01 00 00 00 |"                              // CDW10-11: SLBA
    "07 00 00 40 |"                                            // CDW12: NLB 7 (0's based), FUA
    "00 00 00 00 | 00 00 00 00 | 00 00 00 00";                 // CDW13-15

TEST(NvmeWire, SqeRead) {
  Sqe sqe = Zeroed<Sqe>();
  sqe.opcode = kIoRead;
  sqe.flags = 0x40;  // PSDT 01b: SGL
  sqe.cid = 0x1234;
  sqe.nsid = 1;
  sqe.sgl1.length = 4096;
  sqe.sgl1.id = kSglTransportDataBlock;
  sqe.cdw10 = 0x00000020;
  sqe.cdw11 = 0x00000001;
  sqe.cdw12 = 7 | kRwFua;
  EXPECT_TRUE(SameBytes(Raw(sqe), Hex(kReadSqeHex)));

  Sqe in = Parse<Sqe>(Hex(kReadSqeHex));
  EXPECT_EQ(in.opcode, kIoRead);
  EXPECT_EQ(in.flags >> 6, 1);
  EXPECT_EQ(in.cid, 0x1234);
  EXPECT_EQ(in.nsid, 1u);
  EXPECT_EQ(in.sgl1.id, kSglTransportDataBlock);
  EXPECT_EQ(in.sgl1.length, 4096u);
  EXPECT_EQ((static_cast<uint64_t>(in.cdw11) << 32) | in.cdw10, 0x100000020ull);
  EXPECT_EQ(in.cdw12 & 0xFFFF, 7u);
  EXPECT_TRUE(in.cdw12 & kRwFua);
}

TEST(NvmeWire, SqeFctypeIsByte4) {
  Sqe s = Parse<Sqe>(Hex("7f 00 01 00 04 00 00 00" + std::string(56 * 2, '0')));
  EXPECT_EQ(s.opcode, kAdminFabrics);
  EXPECT_EQ(s.fctype(), kFctypePropertyGet);
}

TEST(NvmeWire, Cqe) {
  Cqe cqe = Zeroed<Cqe>();
  cqe.dw0 = 0x11223344;
  cqe.dw1 = 0;
  cqe.sqhd = 5;
  cqe.sqid = 1;
  cqe.cid = 0x1234;
  cqe.status = CmdSpecific(kScConnectInvalidParameters).Encode();
  EXPECT_TRUE(SameBytes(Raw(cqe), Hex("44 33 22 11 | 00 00 00 00 | 05 00 | 01 00 | 34 12 | 04 83")));
}

TEST(NvmeWire, DsmRange) {
  DsmRange r = Zeroed<DsmRange>();
  r.attributes = 0;
  r.nlb = 8;  // not 0's based
  r.slba = 0x123456789Aull;
  EXPECT_TRUE(SameBytes(Raw(r), Hex("00 00 00 00 | 08 00 00 00 | 9a 78 56 34 12 00 00 00")));
}

// ---------------------------------------------------------------- Fabrics

TEST(NvmeWire, ConnectCmd) {
  ConnectCmd c = Zeroed<ConnectCmd>();
  c.opcode = kAdminFabrics;
  c.cid = 0x0001;
  c.fctype = kFctypeConnect;
  c.sgl1.length = 1024;
  c.sgl1.id = kSglDataBlockOffset;
  c.recfmt = 0;
  c.qid = 2;
  c.sqsize = 127;  // 0's based: 128 entries
  c.cattr = 0;
  c.kato = 120000;  // 0x0001D4C0
  Bytes want = Hex(
      "7f 00 01 00 | 01 | 00 00 00 | 00 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00 |"  // 0-23
      "00 00 00 00 00 00 00 00 00 04 00 00 00 00 00 01 |"  // 24-39 SGL1: 1 KiB in-capsule
      "00 00 | 02 00 | 7f 00 | 00 | 00 |"                  // 40 RECFMT, 42 QID, 44 SQSIZE, 46 CATTR
      "c0 d4 01 00 |"                                      // 48 KATO
      "00 00 00 00 00 00 00 00 00 00 00 00");              // 52-63
  EXPECT_TRUE(SameBytes(Raw(c), want));
  ConnectCmd in = Parse<ConnectCmd>(want);
  EXPECT_EQ(in.qid, 2);
  EXPECT_EQ(in.sqsize, 127);
  EXPECT_EQ(in.kato, 120000u);
  EXPECT_EQ(Parse<Sqe>(want).fctype(), kFctypeConnect);
}

TEST(NvmeWire, ConnectData) {
  ConnectData d = Zeroed<ConnectData>();
  for (int i = 0; i < 16; ++i) d.hostid[i] = static_cast<uint8_t>(0xA0 + i);
  d.cntlid = 0xFFFF;
  CopyZeroPadded(d.subnqn, sizeof(d.subnqn), "nqn.2016-06.io.spdk:cnode1");
  CopyZeroPadded(d.hostnqn, sizeof(d.hostnqn), "nqn.2014-08.org.nvmexpress:uuid:1");
  Bytes want(1024, 0);
  for (int i = 0; i < 16; ++i) want[i] = static_cast<uint8_t>(0xA0 + i);
  Put(want, 16, {0xFF, 0xFF});                          // CNTLID at 17:16
  PutStr(want, 256, "nqn.2016-06.io.spdk:cnode1");      // SUBNQN at 511:256
  PutStr(want, 512, "nqn.2014-08.org.nvmexpress:uuid:1");  // HOSTNQN at 767:512
  EXPECT_TRUE(SameBytes(Raw(d), want));
}

TEST(NvmeWire, ConnectInvalidParameterDw0) {
  // Connect response DW0 for Connect Invalid Parameters: bytes 1:0 IPO (byte offset of the
  // invalid parameter), byte 2 bit 0 IATTR (1: in the Connect data), byte 3 reserved.
  EXPECT_EQ(ConnectInvalidParam(true, 256), 0x00010100u);  // SUBNQN in the data
  EXPECT_EQ(ConnectInvalidParam(false, 42), 0x0000002Au);  // QID in the SQE
  EXPECT_EQ(ConnectInvalidParam(false, 44), 0x0000002Cu);  // SQSIZE in the SQE
  EXPECT_EQ(ConnectInvalidParam(true, 16), 0x00010010u);   // CNTLID in the data
}

TEST(NvmeWire, PropertyGet) {
  PropertyCmd c = Zeroed<PropertyCmd>();
  c.opcode = kAdminFabrics;
  c.cid = 0x0007;
  c.fctype = kFctypePropertyGet;
  c.attrib = 1;  // 8 bytes
  c.offset = kPropCap;
  Bytes want = Hex("7f 00 07 00 04" + std::string(35 * 2, '0') +  // 0-39
                   "01 00 00 00 | 00 00 00 00 |"                   // 40 ATTRIB, 44 OFST
                   "00 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00");
  EXPECT_TRUE(SameBytes(Raw(c), want));
}

TEST(NvmeWire, PropertySet) {
  PropertyCmd c = Zeroed<PropertyCmd>();
  c.opcode = kAdminFabrics;
  c.cid = 0x0008;
  c.fctype = kFctypePropertySet;
  c.attrib = 0;  // 4 bytes
  c.offset = kPropCc;
  c.value = 0x00460001;  // EN, IOSQES 6, IOCQES 4
  Bytes want = Hex("7f 00 08 00 00" + std::string(35 * 2, '0') +
                   "00 00 00 00 | 14 00 00 00 |"
                   "01 00 46 00 00 00 00 00 | 00 00 00 00 00 00 00 00");
  EXPECT_TRUE(SameBytes(Raw(c), want));
}

// ---------------------------------------------------------------- Identify

TEST(NvmeWire, IdentifyControllerKeyFields) {
  auto id = std::make_unique<IdentifyController>();
  memset(id.get(), 0, sizeof(*id));
  id->vid = 0x1AF4;
  id->ssvid = 0x1AF4;
  CopyPadded(id->sn, sizeof(id->sn), "SN0001");
  CopyPadded(id->mn, sizeof(id->mn), "Ceph NVMe gateway");
  CopyPadded(id->fr, sizeof(id->fr), "0.1.0");
  id->rab = 6;
  id->ieee[0] = 0x11;
  id->ieee[1] = 0x22;
  id->ieee[2] = 0x33;
  id->cmic = kCmicMultiCtrl | kCmicAna | 0x1;
  id->mdts = 5;
  id->cntlid = 0x0102;
  id->ver = Version(2, 0);
  id->oaes = kOaesNsAttr | kOaesAnaChange;
  id->ctratt = 0x00000080;
  id->cntrltype = kCntrlTypeIo;
  id->fguid[0] = 0xFE;
  id->crdt1 = 0x0A0B;
  id->oacs = 0x0008;
  id->acl = 3;
  id->aerl = 3;
  id->frmw = 0x03;
  id->lpa = 0x06;
  id->elpe = 127;
  id->kas = 10;
  id->anatt = 10;
  id->anacap = 0x5F;
  id->anagrpmax = 0x20;
  id->nanagrpid = 0x21;
  id->pels = 0x22;
  id->sqes = 0x66;
  id->cqes = 0x44;
  id->maxcmd = 128;
  id->nn = 1024;
  id->oncs = kOncsCompare | kOncsDsm | kOncsWriteZeroes;
  id->fuses = 1;
  id->vwc = 0x07;
  id->sgls = 0x00100001;
  id->mnan = 1024;
  CopyZeroPadded(id->subnqn, sizeof(id->subnqn), "nqn.2016-06.io.ceph:sub1");
  id->ioccsz = 260;  // (64 + 4096) / 16
  id->iorcsz = 1;
  id->icdoff = 0;
  id->fcatt = 0;
  id->msdbd = 1;
  id->psd[0].mp = 0x09C4;
  id->vs[0] = 0x5A;

  // Expected: NVMe Base 2.0 Figure 275 (Identify Controller data structure) offsets.
  Bytes want(4096, 0);
  PutLe(want, 0, 0x1AF4, 2);    // 1:0 VID
  PutLe(want, 2, 0x1AF4, 2);    // 3:2 SSVID
  PutStr(want, 4, "SN0001              ");                      // 23:4 SN, space padded
  PutStr(want, 24, "Ceph NVMe gateway                       ");  // 63:24 MN
  PutStr(want, 64, "0.1.0   ");                                // 71:64 FR
  want[72] = 6;                       // RAB
  Put(want, 73, {0x11, 0x22, 0x33});  // 75:73 IEEE
  want[76] = 0x0B;                    // CMIC
  want[77] = 5;                       // MDTS
  PutLe(want, 78, 0x0102, 2);         // 79:78 CNTLID
  PutLe(want, 80, 0x00020000, 4);     // 83:80 VER
  PutLe(want, 92, 0x00000900, 4);     // 95:92 OAES
  PutLe(want, 96, 0x00000080, 4);     // 99:96 CTRATT
  want[111] = 1;                      // CNTRLTYPE
  want[112] = 0xFE;                   // 127:112 FGUID
  PutLe(want, 128, 0x0A0B, 2);        // 129:128 CRDT1
  PutLe(want, 256, 0x0008, 2);        // 257:256 OACS
  want[258] = 3;                      // ACL
  want[259] = 3;                      // AERL
  want[260] = 0x03;                   // FRMW
  want[261] = 0x06;                   // LPA
  want[262] = 127;                    // ELPE
  PutLe(want, 320, 10, 2);            // 321:320 KAS
  want[342] = 10;                     // ANATT
  want[343] = 0x5F;                   // ANACAP
  PutLe(want, 344, 0x20, 4);          // 347:344 ANAGRPMAX
  PutLe(want, 348, 0x21, 4);          // 351:348 NANAGRPID
  PutLe(want, 352, 0x22, 4);          // 355:352 PELS
  want[512] = 0x66;                   // SQES
  want[513] = 0x44;                   // CQES
  PutLe(want, 514, 128, 2);           // 515:514 MAXCMD
  PutLe(want, 516, 1024, 4);          // 519:516 NN
  PutLe(want, 520, 0x000D, 2);        // 521:520 ONCS
  PutLe(want, 522, 1, 2);             // 523:522 FUSES
  want[525] = 0x07;                   // VWC
  PutLe(want, 536, 0x00100001, 4);    // 539:536 SGLS
  PutLe(want, 540, 1024, 4);          // 543:540 MNAN
  PutStr(want, 768, "nqn.2016-06.io.ceph:sub1");  // 1023:768 SUBNQN
  PutLe(want, 1792, 260, 4);          // 1795:1792 IOCCSZ
  PutLe(want, 1796, 1, 4);            // 1799:1796 IORCSZ
  PutLe(want, 1800, 0, 2);            // 1801:1800 ICDOFF
  want[1803] = 1;                     // MSDBD
  PutLe(want, 2048, 0x09C4, 2);       // PSD0 MP
  want[3072] = 0x5A;                  // 4095:3072 vendor specific
  EXPECT_TRUE(SameBytes(Raw(*id), want));
}

TEST(NvmeWire, IdentifyNamespace) {
  auto ns = std::make_unique<IdentifyNamespace>();
  memset(ns.get(), 0, sizeof(*ns));
  ns->nsze = 0x0000000100000000ull;  // 4 Gi blocks
  ns->ncap = 0x0000000100000000ull;
  ns->nuse = 0x1000;
  ns->nsfeat = 0x01 | 0x10;  // thin provisioning, optimal performance fields
  ns->nlbaf = 1;              // 2 formats
  ns->flbas = 1;              // format 1 in use
  ns->nmic = 1;
  ns->dlfeat = 0x01;
  ns->npwg = 7;
  ns->npwa = 7;
  ns->npdg = 7;
  ns->npda = 7;
  ns->nows = 7;
  ns->anagrpid = 3;
  ns->nsattr = 0;
  for (int i = 0; i < 16; ++i) ns->nguid[i] = static_cast<uint8_t>(i + 1);
  for (int i = 0; i < 8; ++i) ns->eui64[i] = static_cast<uint8_t>(0xE0 + i);
  ns->lbaf[0].lbads = 9;   // 512 B
  ns->lbaf[1].lbads = 12;  // 4 KiB
  ns->lbaf[1].rp = 0;

  // NVM Command Set 1.0 Figure 97 (Identify Namespace) offsets.
  Bytes want(4096, 0);
  PutLe(want, 0, 0x0000000100000000ull, 8);   // 7:0 NSZE
  PutLe(want, 8, 0x0000000100000000ull, 8);   // 15:8 NCAP
  PutLe(want, 16, 0x1000, 8);                 // 23:16 NUSE
  want[24] = 0x11;                            // NSFEAT
  want[25] = 1;                               // NLBAF
  want[26] = 1;                               // FLBAS
  want[30] = 1;                               // NMIC
  want[33] = 0x01;                            // DLFEAT
  PutLe(want, 64, 7, 2);                      // NPWG
  PutLe(want, 66, 7, 2);                      // NPWA
  PutLe(want, 68, 7, 2);                      // NPDG
  PutLe(want, 70, 7, 2);                      // NPDA
  PutLe(want, 72, 7, 2);                      // NOWS
  PutLe(want, 92, 3, 4);                      // 95:92 ANAGRPID
  for (int i = 0; i < 16; ++i) want[104 + i] = static_cast<uint8_t>(i + 1);    // 119:104 NGUID
  for (int i = 0; i < 8; ++i) want[120 + i] = static_cast<uint8_t>(0xE0 + i);  // 127:120 EUI64
  Put(want, 128, {0x00, 0x00, 0x09, 0x00});   // LBAF0: MS 0, LBADS 9, RP 0
  Put(want, 132, {0x00, 0x00, 0x0C, 0x00});   // LBAF1: LBADS 12
  EXPECT_TRUE(SameBytes(Raw(*ns), want));
}

TEST(NvmeWire, NsIdDescriptors) {
  // CNS 03h: a list of {NIDT, NIDL, reserved[2], NID[NIDL]} descriptors.
  Bytes got;
  auto add = [&](uint8_t type, const Bytes& nid) {
    NsIdDescriptorHeader h = Zeroed<NsIdDescriptorHeader>();
    h.nidt = type;
    h.nidl = static_cast<uint8_t>(nid.size());
    Bytes hb = Raw(h);
    got.insert(got.end(), hb.begin(), hb.end());
    got.insert(got.end(), nid.begin(), nid.end());
  };
  add(kNidNguid, Hex("00112233445566778899aabbccddeeff"));
  add(kNidCsi, Hex("00"));
  EXPECT_TRUE(SameBytes(got, Hex("02 10 00 00 00112233445566778899aabbccddeeff | 04 01 00 00 00")));
}

// ---------------------------------------------------------------- log pages

TEST(NvmeWire, AnaLogHeaderAndDescriptor) {
  AnaLogHeader h = Zeroed<AnaLogHeader>();
  h.change_count = 0x0102030405060708ull;
  h.num_descriptors = 2;
  EXPECT_TRUE(SameBytes(Raw(h), Hex("08 07 06 05 04 03 02 01 | 02 00 | 00 00 00 00 00 00")));

  AnaGroupDescriptor d = Zeroed<AnaGroupDescriptor>();
  d.anagrpid = 1;
  d.num_nsids = 2;
  d.change_count = 5;
  d.state = kAnaNonOptimized;
  EXPECT_TRUE(SameBytes(Raw(d), Hex("01 00 00 00 | 02 00 00 00 | 05 00 00 00 00 00 00 00 | 02 |"
                                    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00")));
}

TEST(NvmeWire, AsyncEventDw0) {
  // Completion DW0: bits 2:0 type, 15:8 information, 23:16 associated log page.
  EXPECT_EQ(AsyncEventDw0(kAerNotice, kAenNsAttrChanged, kLogChangedNsList), 0x00040002u);
  EXPECT_EQ(AsyncEventDw0(kAerNotice, kAenAnaChange, kLogAna), 0x000C0302u);
  EXPECT_EQ(AsyncEventDw0(kAerNotice, kAenDiscoveryLogChange, kLogDiscovery), 0x0070F002u);
  EXPECT_EQ(AsyncEventDw0(kAerSmart, 0x00, kLogSmartHealth), 0x00020001u);
  EXPECT_EQ(AsyncEventDw0(kAerError, 0x00, kLogErrorInfo), 0x00010000u);
  EXPECT_EQ(kAerIoCmdSet, 6);
  EXPECT_EQ(kAenFirmwareActivation, 0x01);
  EXPECT_EQ(kAenTelemetry, 0x02);
}

TEST(NvmeWire, DiscoveryLogHeader) {
  auto h = std::make_unique<DiscoveryLogHeader>();
  memset(h.get(), 0, sizeof(*h));
  h->genctr = 7;
  h->numrec = 2;
  h->recfmt = 0;
  Bytes want(1024, 0);
  PutLe(want, 0, 7, 8);   // 7:0 GENCTR
  PutLe(want, 8, 2, 8);   // 15:8 NUMREC
  PutLe(want, 16, 0, 2);  // 17:16 RECFMT
  EXPECT_TRUE(SameBytes(Raw(*h), want));
}

TEST(NvmeWire, DiscoveryLogEntry) {
  auto e = std::make_unique<DiscoveryLogEntry>();
  memset(e.get(), 0, sizeof(*e));
  e->trtype = kTrtypeTcp;
  e->adrfam = kAdrfamIpv4;
  e->subtype = kSubtypeNvm;
  e->treq = kTreqNotRequired;
  e->portid = 1;
  e->cntlid = 0xFFFF;
  e->asqsz = 32;
  e->eflags = 0;
  CopyZeroPadded(e->trsvcid, sizeof(e->trsvcid), "4420");
  CopyZeroPadded(e->subnqn, sizeof(e->subnqn), "nqn.2016-06.io.ceph:sub1");
  CopyZeroPadded(e->traddr, sizeof(e->traddr), "192.0.2.10");
  e->tsas[0] = 0;  // SECTYPE none

  // NVMe Base 2.0 Figure 262 (Discovery Log Page Entry).
  Bytes want(1024, 0);
  Put(want, 0, {0x03, 0x01, 0x02, 0x02});  // TRTYPE TCP, ADRFAM IPv4, SUBTYPE NVM, TREQ not required
  PutLe(want, 4, 1, 2);                     // 5:4 PORTID
  PutLe(want, 6, 0xFFFF, 2);                // 7:6 CNTLID
  PutLe(want, 8, 32, 2);                    // 9:8 ASQSZ
  PutStr(want, 32, "4420");                 // 63:32 TRSVCID
  PutStr(want, 256, "nqn.2016-06.io.ceph:sub1");  // 511:256 SUBNQN
  PutStr(want, 512, "192.0.2.10");          // 767:512 TRADDR
  EXPECT_TRUE(SameBytes(Raw(*e), want));
}

TEST(NvmeWire, ErrorInfoEntry) {
  ErrorInfoEntry e = Zeroed<ErrorInfoEntry>();
  e.error_count = 1;
  e.sqid = 2;
  e.cid = 0x0033;
  e.status = static_cast<uint16_t>(Generic(kScInvalidField).Encode());
  e.param_error_location = 0x0028;  // byte 40 of the command
  e.lba = 0x10;
  e.nsid = 1;
  e.vs = 0;
  e.trtype = kTrtypeTcp;
  e.cs = 0;
  e.trtype_specific = 0;
  Bytes want = Hex(
      "01 00 00 00 00 00 00 00 | 02 00 | 33 00 | 04 80 | 28 00 |"  // 0-15
      "10 00 00 00 00 00 00 00 | 01 00 00 00 | 00 | 03 | 00 00 |"  // 16-31
      "00 00 00 00 00 00 00 00 | 00 00 |"                         // 32-41 CS, TTSI
      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");  // 42-63
  EXPECT_TRUE(SameBytes(Raw(e), want));
}

TEST(NvmeWire, SmartHealthLogOffsets) {
  SmartHealthLog s = Zeroed<SmartHealthLog>();
  s.critical_warning = 0x01;
  s.composite_temperature = 0x0143;  // 323 K
  s.available_spare = 100;
  s.available_spare_threshold = 10;
  s.percentage_used = 3;
  s.endurance_group_critical_warning = 0;
  s.data_units_read[0] = 0x21;
  s.data_units_written[0] = 0x22;
  s.host_read_commands[0] = 0x23;
  s.host_write_commands[0] = 0x24;
  s.controller_busy_time[0] = 0x25;
  s.power_cycles[0] = 0x26;
  s.power_on_hours[0] = 0x27;
  s.unsafe_shutdowns[0] = 0x28;
  s.media_errors[0] = 0x29;
  s.num_error_info_log_entries[0] = 0x2A;
  s.warning_temp_time = 0x2B;
  s.critical_temp_time = 0x2C;
  s.temp_sensor[0] = 0x2D;
  s.thm_temp1_trans_count = 0x2E;
  s.thm_temp2_total_time = 0x2F;

  // NVMe Base 2.0 Figure 207 (SMART / Health Information).
  Bytes want(512, 0);
  want[0] = 0x01;
  PutLe(want, 1, 0x0143, 2);
  want[3] = 100;
  want[4] = 10;
  want[5] = 3;
  want[32] = 0x21;   // 47:32 Data Units Read
  want[48] = 0x22;   // 63:48 Data Units Written
  want[64] = 0x23;   // 79:64 Host Read Commands
  want[80] = 0x24;   // 95:80 Host Write Commands
  want[96] = 0x25;   // 111:96 Controller Busy Time
  want[112] = 0x26;  // 127:112 Power Cycles
  want[128] = 0x27;  // 143:128 Power On Hours
  want[144] = 0x28;  // 159:144 Unsafe Shutdowns
  want[160] = 0x29;  // 175:160 Media and Data Integrity Errors
  want[176] = 0x2A;  // 191:176 Number of Error Information Log Entries
  PutLe(want, 192, 0x2B, 4);  // Warning Composite Temperature Time
  PutLe(want, 196, 0x2C, 4);  // Critical Composite Temperature Time
  PutLe(want, 200, 0x2D, 2);  // Temperature Sensor 1
  PutLe(want, 216, 0x2E, 4);  // Thermal Management Temperature 1 Transition Count
  PutLe(want, 228, 0x2F, 4);  // Total Time For Thermal Management Temperature 2
  EXPECT_TRUE(SameBytes(Raw(s), want));
}

TEST(NvmeWire, ChangedNsListAndEffectsLayout) {
  auto log = std::make_unique<CommandsEffectsLog>();
  memset(log.get(), 0, sizeof(*log));
  log->acs[kAdminIdentify] = kCseCsupp;
  log->iocs[kIoWrite] = kCseCsupp | kCseLbcc;
  Bytes got = Raw(*log);
  Bytes want(4096, 0);
  PutLe(want, 4 * 0x06, 0x1, 4);
  PutLe(want, 1024 + 4 * 0x01, 0x3, 4);
  EXPECT_TRUE(SameBytes(got, want));
}

// ---------------------------------------------------------------- strings

TEST(NvmeStrings, Padding) {
  char sn[8];
  CopyPadded(sn, sizeof(sn), "ab");
  EXPECT_EQ(std::string(sn, 8), "ab      ");
  CopyPadded(sn, sizeof(sn), "0123456789");  // truncated, no terminator
  EXPECT_EQ(std::string(sn, 8), "01234567");
  char nqn[8];
  memset(nqn, 'x', sizeof(nqn));
  CopyZeroPadded(nqn, sizeof(nqn), "ab");
  EXPECT_EQ(std::string(nqn, 8), std::string("ab\0\0\0\0\0\0", 8));
  CopyZeroPadded(nqn, sizeof(nqn), "0123456789");  // keeps a NUL terminator
  EXPECT_EQ(std::string(nqn, 8), std::string("0123456\0", 8));
}

}  // namespace
}  // namespace nvmeof::nvme
