#include "gateway/nvmf/transfer.h"

#include <algorithm>

namespace nvmeof {

using namespace nvme;

uint64_t MaxTransferBytes(uint16_t qid, const TargetOptions& o) {
  const uint64_t mdts_bytes = (uint64_t{1} << o.mdts) * 4096u;
  return qid == 0 ? std::max<uint64_t>(mdts_bytes, 16384u) : mdts_bytes;
}

nvme::Status CheckTransfer(const Sqe& cmd, uint16_t qid, uint32_t in_capsule_bytes,
                           const TargetOptions& o, TransferInfo* out) {
  const uint8_t op = cmd.opcode == kAdminFabrics ? cmd.fctype() : cmd.opcode;
  out->host_to_ctrl = OpcodeHostToController(op);
  out->ctrl_to_host = OpcodeControllerToHost(op);
  out->in_capsule = in_capsule_bytes > 0;
  out->length = 0;
  // NVMe over Fabrics commands always use SGLs.
  if ((cmd.flags >> 6) != 1) return Generic(kScInvalidField);
  const SglDescriptor& sgl = cmd.sgl1;
  if (in_capsule_bytes > 0) {
    if (sgl.id != kSglDataBlockOffset) return Generic(kScSglDescriptorTypeInvalid);
    if (sgl.address != 0) return Generic(kScSglOffsetInvalid);
    if (sgl.length != in_capsule_bytes) return Generic(kScDataSglLengthInvalid);
    if (!out->host_to_ctrl) return Generic(kScInvalidField);
    out->length = in_capsule_bytes;
  } else if (sgl.length > 0) {
    if (sgl.id == kSglDataBlockOffset) return Generic(kScDataSglLengthInvalid);
    if (sgl.id != kSglTransportDataBlock) return Generic(kScSglDescriptorTypeInvalid);
    if (!out->host_to_ctrl && !out->ctrl_to_host) return Generic(kScInvalidField);
    if (sgl.length > MaxTransferBytes(qid, o)) return Generic(kScInvalidField);
    out->length = sgl.length;
  }
  return nvme::Status{};
}

}  // namespace nvmeof
