// CheckTransfer: data direction, PSDT, the SGL against the in-capsule data, MDTS.
#include "gateway/nvmf/transfer.h"

#include <gtest/gtest.h>

#include <cstring>

namespace nvmeof {
namespace {

using namespace nvme;

Sqe Cmd(uint8_t opcode, uint8_t sgl_id, uint32_t sgl_len) {
  Sqe s;
  memset(&s, 0, sizeof(s));
  s.opcode = opcode;
  s.flags = 0x40;  // PSDT 01b: SGL
  s.sgl1.id = sgl_id;
  s.sgl1.length = sgl_len;
  return s;
}

nvme::Status Check(const Sqe& s, uint32_t icd, TransferInfo* out = nullptr, uint16_t qid = 1,
                   TargetOptions o = TargetOptions{}) {
  TransferInfo t;
  return CheckTransfer(s, qid, icd, o, out ? out : &t);
}

TEST(Transfer, DirectionFromOpcodeAndFctype) {
  TransferInfo t;
  EXPECT_TRUE(Check(Cmd(kIoWrite, kSglTransportDataBlock, 4096), 0, &t).ok());
  EXPECT_TRUE(t.host_to_ctrl);
  EXPECT_FALSE(t.ctrl_to_host);
  EXPECT_FALSE(t.in_capsule);
  EXPECT_EQ(t.length, 4096u);
  EXPECT_TRUE(Check(Cmd(kIoRead, kSglTransportDataBlock, 4096), 0, &t).ok());
  EXPECT_TRUE(t.ctrl_to_host);
  EXPECT_FALSE(t.host_to_ctrl);
  EXPECT_TRUE(Check(Cmd(kIoFlush, 0, 0), 0, &t).ok());
  EXPECT_FALSE(t.host_to_ctrl || t.ctrl_to_host);
  EXPECT_EQ(t.length, 0u);
  // Fabrics: FCTYPE decides (Connect 01h: host to controller; Property Get 04h: none).
  Sqe c = Cmd(kAdminFabrics, kSglDataBlockOffset, 1024);
  c.nsid = kFctypeConnect;
  EXPECT_TRUE(Check(c, 1024, &t, 0).ok());
  EXPECT_TRUE(t.host_to_ctrl);
  EXPECT_TRUE(t.in_capsule);
  EXPECT_EQ(t.length, 1024u);
  c.nsid = kFctypeAuthReceive;  // 06h: controller to host
  c.sgl1.id = kSglTransportDataBlock;
  EXPECT_TRUE(Check(c, 0, &t, 0).ok());
  EXPECT_TRUE(t.ctrl_to_host);
}

TEST(Transfer, PsdtMustBeSgl) {
  Sqe s = Cmd(kIoRead, kSglTransportDataBlock, 4096);
  for (uint8_t psdt : {0, 2, 3}) {
    s.flags = static_cast<uint8_t>(psdt << 6);
    TransferInfo t;
    EXPECT_EQ(Check(s, 0, &t), Generic(kScInvalidField));
    EXPECT_EQ(t.length, 0u);
    EXPECT_TRUE(t.ctrl_to_host);  // the direction is known even then
  }
  // PSDT is checked before anything else.
  s.flags = 0;
  s.sgl1.id = 0x77;
  EXPECT_EQ(Check(s, 512), Generic(kScInvalidField));
}

TEST(Transfer, InCapsuleData) {
  EXPECT_TRUE(Check(Cmd(kIoWrite, kSglDataBlockOffset, 512), 512).ok());
  EXPECT_EQ(Check(Cmd(kIoWrite, kSglTransportDataBlock, 512), 512), Generic(kScSglDescriptorTypeInvalid));
  Sqe off = Cmd(kIoWrite, kSglDataBlockOffset, 512);
  off.sgl1.address = 8;
  EXPECT_EQ(Check(off, 512), Generic(kScSglOffsetInvalid));
  EXPECT_EQ(Check(Cmd(kIoWrite, kSglDataBlockOffset, 1024), 512), Generic(kScDataSglLengthInvalid));
  // Data in the capsule of a command that reads.
  TransferInfo t;
  EXPECT_EQ(Check(Cmd(kIoRead, kSglDataBlockOffset, 512), 512, &t), Generic(kScInvalidField));
  EXPECT_TRUE(t.in_capsule);
  EXPECT_EQ(t.length, 0u);
}

TEST(Transfer, TransportDataBlock) {
  // Claims in-capsule data that is not there.
  EXPECT_EQ(Check(Cmd(kIoWrite, kSglDataBlockOffset, 512), 0), Generic(kScDataSglLengthInvalid));
  EXPECT_EQ(Check(Cmd(kIoWrite, 0x00, 512), 0), Generic(kScSglDescriptorTypeInvalid));
  // A data length on a command that moves no data.
  EXPECT_EQ(Check(Cmd(kIoFlush, kSglTransportDataBlock, 512), 0), Generic(kScInvalidField));
  // No length: nothing to check about the descriptor.
  EXPECT_TRUE(Check(Cmd(kIoWrite, 0x00, 0), 0).ok());
}

TEST(Transfer, Mdts) {
  TargetOptions o;
  o.mdts = 5;  // 128 KiB
  EXPECT_EQ(MaxTransferBytes(1, o), 128u << 10);
  EXPECT_TRUE(Check(Cmd(kIoRead, kSglTransportDataBlock, 128 << 10), 0, nullptr, 1, o).ok());
  EXPECT_EQ(Check(Cmd(kIoRead, kSglTransportDataBlock, (128 << 10) + 1), 0, nullptr, 1, o),
            Generic(kScInvalidField));
  // The admin queue allows at least 16 KiB.
  o.mdts = 1;  // 8 KiB
  EXPECT_EQ(MaxTransferBytes(0, o), 16384u);
  EXPECT_EQ(MaxTransferBytes(1, o), 8192u);
  EXPECT_TRUE(Check(Cmd(kAdminGetLogPage, kSglTransportDataBlock, 16384), 0, nullptr, 0, o).ok());
  EXPECT_EQ(Check(Cmd(kAdminGetLogPage, kSglTransportDataBlock, 16388), 0, nullptr, 0, o),
            Generic(kScInvalidField));
  EXPECT_EQ(Check(Cmd(kIoRead, kSglTransportDataBlock, 16384), 0, nullptr, 1, o), Generic(kScInvalidField));
  // The default: 512 KiB.
  EXPECT_EQ(MaxTransferBytes(1, TargetOptions{}), 512u << 10);
}

}  // namespace
}  // namespace nvmeof
