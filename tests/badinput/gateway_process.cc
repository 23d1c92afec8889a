#include "tests/badinput/gateway_process.h"

#include <cstdlib>
#include <utility>

#ifndef NVMEOF_GATEWAY_DEFAULT_BIN
#define NVMEOF_GATEWAY_DEFAULT_BIN "nvmeof-gateway"
#endif

namespace nvmeof::testing {

std::string GatewayBinary() {
  const char* e = getenv("NVMEOF_GATEWAY_BIN");
  return e && *e ? e : NVMEOF_GATEWAY_DEFAULT_BIN;
}

bool GatewayProcess::Start(const std::string& bin, const std::vector<std::string>& args, int timeout_ms,
                           std::string* err) {
  port_ = FreePort();
  dport_ = FreePort();
  while (dport_ == port_) dport_ = FreePort();
  std::vector<std::string> argv{bin};
  for (std::string a : args) {
    for (auto [key, val] : {std::pair<std::string, uint16_t>{"{PORT}", port_}, {"{DPORT}", dport_}}) {
      for (size_t p; (p = a.find(key)) != std::string::npos;) a.replace(p, key.size(), std::to_string(val));
    }
    argv.push_back(a);
  }
  if (!child_.Start(argv, err)) {
    *err = "nvmeof-gateway: " + *err + " (build it: ninja nvmeof-gateway, or set NVMEOF_GATEWAY_BIN)";
    return false;
  }
  const std::string want = "listening on 127.0.0.1:" + std::to_string(port_);
  if (!child_.WaitForLog(want, timeout_ms)) {
    const bool timed_out = !child_.OutputClosed();
    std::string how = child_.Alive() ? "still running" : child_.exit_description();
    *err = (timed_out ? "timed out waiting for '" : "exited before printing '") + want + "' (" + how +
           "); its output:\n" + child_.Log();
    child_.Stop(1000);
    return false;
  }
  // Everything is configured once it says "ready" (if it does); don't insist.
  child_.WaitForLog("ready", 2000);
  return true;
}

}  // namespace nvmeof::testing
