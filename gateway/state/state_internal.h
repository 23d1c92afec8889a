// Helpers shared by the memory and RADOS stores (not part of the API).
#pragma once

#include <string>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/state/state_store.h"

namespace nvmeof::state_internal {

// Rejects empty keys, omap_version, and a key both put and removed.
Status ValidateWrite(const StateMap& puts, const std::vector<std::string>& removes);

}  // namespace nvmeof::state_internal
