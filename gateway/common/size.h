// Sizes with binary units, as operators write them on the command line and the CLI.
//
//   "<digits>"                  bytes << bare_shift (0: bytes; 20: MiB, like the reference CLI)
//   "<digits>B"                 bytes
//   "<digits>K|M|G|T|P"         KiB..PiB, each optionally followed by "B", "i" or "iB"
//
// Any case, blanks around the number and the unit ("16 GB"). Errors: EINVAL "Size X must
// be numeric, ..." for signs, fractions, empty numbers and unknown units; ERANGE "Size X
// is too large" past 64 bits.
#pragma once

#include <cstdint>
#include <string_view>

#include "gateway/common/status.h"

namespace nvmeof {

Result<std::uint64_t> ParseSize(std::string_view text, unsigned bare_shift);

}  // namespace nvmeof
