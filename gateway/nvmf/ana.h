// Asymmetric Namespace Access: the ANA state of each group as a host sees it, and the ANA
// log page (Get Log Page 0Ch) built from it.
//
// Threads: states change from the management plane (Target::SetAnaState, any thread);
// the log page is built on the admin queue's reactor (control-plane speed: it takes the
// subsystem mutex).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/nvmf/request.h"

namespace nvmeof {

class Controller;

// Key of a listener in the ANA state ("traddr:trsvcid").
std::string AnaPortKey(const std::string& traddr, const std::string& trsvcid);

// The ANA log page as controller `c` sees it on `port`: one descriptor per ANA group that
// has a namespace visible to the host; with `groups_only` (LSP bit 0) without the NSID lists.
std::vector<uint8_t> AnaLogPage(Controller& c, const PortInfo& port, bool groups_only);

}  // namespace nvmeof
