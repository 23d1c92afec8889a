// Loopback ports for tests that start servers (the gateway, fake targets).
#pragma once

#include <cstdint>

namespace nvmeof::testing {

// A free TCP port on 127.0.0.1: bound to port 0 and released, so racy only against other
// processes. 0 if no socket could be bound.
uint16_t FreePort();

}  // namespace nvmeof::testing
