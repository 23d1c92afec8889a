// A build without librbd (NVMEOF_WITH_RBD=OFF): no RbdOpener. See device_factory.h.
#include "rbd-backend/device_factory.h"

namespace nvmeof {

bool RbdBuiltIn() { return false; }

std::unique_ptr<RbdOpener> NewRbdOpener(const CephClientOptions&) { return nullptr; }

}  // namespace nvmeof
