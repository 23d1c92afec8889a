// A build without the management plane (NVMEOF_WITH_GRPC=OFF): see management.h.
#include "gateway/daemon/management.h"

namespace nvmeof {

bool ManagementPlane::BuiltIn() { return false; }

Result<std::unique_ptr<ManagementPlane>> ManagementPlane::Start(const DaemonOptions&, Target*, DeviceFactory*, ReactorGroup*,
                                                                ha::HaManager*) {
  return Status::Error(errc::kNotSupported, "the management plane is not built into this binary (NVMEOF_WITH_GRPC=OFF)");
}

}  // namespace nvmeof
