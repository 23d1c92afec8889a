// The pure parts of monitor mode (monitor_group.h): the controller-ID ranges and the port.
#include <string>

#include "gateway/daemon/monitor_group.h"

namespace nvmeof {

namespace {
// The reference's controller-ID range per group index: 32 groups within 1-65519.
constexpr uint32_t kCntlidRangeSize = 2040;
constexpr uint32_t kMaxCntlid = 0xFFEF;
}  // namespace

bool MonitorCntlidRange(uint32_t index, uint16_t* lo, uint16_t* hi) {
  const uint64_t first = uint64_t{index} * kCntlidRangeSize + 1;
  const uint64_t last = first + kCntlidRangeSize - 1;
  if (last > kMaxCntlid) return false;
  *lo = static_cast<uint16_t>(first);
  *hi = static_cast<uint16_t>(last);
  return true;
}

std::string MonitorAddress(const DaemonOptions& o) {
  const std::string addr = o.grpc_addr.find(':') != std::string::npos ? "[" + o.grpc_addr + "]" : o.grpc_addr;
  return addr + ":" + std::to_string(std::stoul(o.grpc_port) - 1);
}

}  // namespace nvmeof
