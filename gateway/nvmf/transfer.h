// A command's data transfer, judged from the command alone: the NVMe over Fabrics rules a
// transport applies to every capsule before it moves any data.
//
// Pure and inline (it runs for every capsule): no I/O, no state, any thread. The transport says how many bytes of data the
// capsule carried; CheckTransfer says which way the data goes, how long it is, and whether
// the command must fail before it executes (with which status). A transport then receives
// host data (in the capsule or through its own mechanism, e.g. R2T) or sends controller
// data, and hands the command to the target.
#pragma once

#include <cstdint>

#include "gateway/nvmf/target.h"
#include "gateway/protocol/nvme.h"

namespace nvmeof {

struct TransferInfo {
  bool host_to_ctrl = false;  // from the opcode (fabrics commands: from FCTYPE)
  bool ctrl_to_host = false;
  bool in_capsule = false;    // the capsule carried the data
  uint32_t length = 0;        // bytes to transfer; 0 when the check failed
};

// The largest transfer (SGL length) a command may ask for on queue qid: MDTS, and on the
// admin queue at least 16 KiB whatever MDTS says (log pages and Identify data must fit).
inline uint64_t MaxTransferBytes(uint16_t qid, const TargetOptions& o) {
  const uint64_t mdts_bytes = (uint64_t{1} << o.mdts) * 4096u;
  return qid == 0 ? (mdts_bytes > 16384u ? mdts_bytes : 16384u) : mdts_bytes;
}

// Fills *out and returns Success, or the status the command completes with, unexecuted. The
// first rule broken, in this order:
//   PSDT (CDW0 bits 15:14) not 01b (SGL)                      Invalid Field
//   with in-capsule data: SGL not a data block (offset)       SGL Descriptor Type Invalid
//                         SGL offset not 0                    SGL Offset Invalid
//                         SGL length != the data carried      Data SGL Length Invalid
//                         not a host-to-controller command    Invalid Field
//   without, SGL length > 0: SGL claims in-capsule data       Data SGL Length Invalid
//                         SGL not a transport data block      SGL Descriptor Type Invalid
//                         the opcode moves no data            Invalid Field
//                         length > MaxTransferBytes           Invalid Field
[[gnu::always_inline]] inline nvme::Status CheckTransfer(const nvme::Sqe& cmd, uint16_t qid, uint32_t in_capsule_bytes,
                                                      const TargetOptions& o, TransferInfo* out) {
  const uint8_t op = cmd.opcode == nvme::kAdminFabrics ? cmd.fctype() : cmd.opcode;
  out->host_to_ctrl = nvme::OpcodeHostToController(op);
  out->ctrl_to_host = nvme::OpcodeControllerToHost(op);
  out->in_capsule = in_capsule_bytes > 0;
  out->length = 0;
  // NVMe over Fabrics commands always use SGLs.
  if ((cmd.flags >> 6) != 1) return nvme::Generic(nvme::kScInvalidField);
  const nvme::SglDescriptor& sgl = cmd.sgl1;
  if (in_capsule_bytes > 0) {
    if (sgl.id != nvme::kSglDataBlockOffset) return nvme::Generic(nvme::kScSglDescriptorTypeInvalid);
    if (sgl.address != 0) return nvme::Generic(nvme::kScSglOffsetInvalid);
    if (sgl.length != in_capsule_bytes) return nvme::Generic(nvme::kScDataSglLengthInvalid);
    if (!out->host_to_ctrl) return nvme::Generic(nvme::kScInvalidField);
    out->length = in_capsule_bytes;
  } else if (sgl.length > 0) {
    if (sgl.id == nvme::kSglDataBlockOffset) return nvme::Generic(nvme::kScDataSglLengthInvalid);
    if (sgl.id != nvme::kSglTransportDataBlock) return nvme::Generic(nvme::kScSglDescriptorTypeInvalid);
    if (!out->host_to_ctrl && !out->ctrl_to_host) return nvme::Generic(nvme::kScInvalidField);
    if (sgl.length > MaxTransferBytes(qid, o)) return nvme::Generic(nvme::kScInvalidField);
    out->length = sgl.length;
  }
  return nvme::Status{};
}

}  // namespace nvmeof
