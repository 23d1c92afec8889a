// A command's data transfer, judged from the command alone: the NVMe over Fabrics rules a
// transport applies to every capsule before it moves any data.
//
// Pure: no I/O, no state, any thread. The transport says how many bytes of data the
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
uint64_t MaxTransferBytes(uint16_t qid, const TargetOptions& o);

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
nvme::Status CheckTransfer(const nvme::Sqe& cmd, uint16_t qid, uint32_t in_capsule_bytes,
                           const TargetOptions& o, TransferInfo* out);

}  // namespace nvmeof
