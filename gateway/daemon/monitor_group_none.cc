// A build without gRPC (NVMEOF_WITH_GRPC=OFF) has no monitor-client mode: see monitor_group.h.
#include "gateway/daemon/monitor_group.h"

namespace nvmeof {

bool MonitorGroupServer::BuiltIn() { return false; }

Result<std::unique_ptr<MonitorGroupServer>> MonitorGroupServer::Start(const DaemonOptions&) {
  return Status::Error(errc::kNotSupported, "[gateway] ha = monitor needs gRPC (NVMEOF_WITH_GRPC=OFF)");
}

}  // namespace nvmeof
