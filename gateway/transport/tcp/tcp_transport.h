// The NVMe/TCP transport as the core sees it (gateway/nvmf/transport.h): a Transport whose
// listeners are TcpListeners (tcp_queue.h) on the given reactors. RegisterTcpTransport adds
// it to a registry.
//
// Threads: Listen runs on a control-plane thread and waits until reactor 0 has registered
// the socket; connections then run on the reactors (tcp_queue.h).
#pragma once

#include <string_view>

#include "gateway/common/status.h"
#include "gateway/nvmf/transport.h"

namespace nvmeof {

class ReactorGroup;
class Target;

// The transport's name as the reference gateway spells it in JSON and state keys.
inline constexpr std::string_view kTcpTransportName = "TCP";

// Registers NVMe/TCP (TRTYPE 3) for `target` on `reactors` (both outlive the registry's
// listeners). EEXIST when a TCP transport is registered already.
Status RegisterTcpTransport(TransportRegistry& registry, Target* target, ReactorGroup& reactors);

}  // namespace nvmeof
