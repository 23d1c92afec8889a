// Runs the real nvmeof-gateway as a child process on free loopback ports, for tests.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/common/child_process.h"
#include "tests/common/test_ports.h"

namespace nvmeof::testing {

// The binary: $NVMEOF_GATEWAY_BIN, else the path compiled in (the build tree's gateway).
std::string GatewayBinary();

class GatewayProcess {
 public:
  // Starts `bin` with `args` (ports are substituted for "{PORT}" and "{DPORT}") and waits
  // up to timeout_ms for "listening on 127.0.0.1:PORT" on its stdout/stderr.
  // false + *err (with the log) on failure.
  bool Start(const std::string& bin, const std::vector<std::string>& args, int timeout_ms, std::string* err);
  // SIGTERM, then SIGKILL after timeout_ms. Returns the exit status description.
  std::string Stop(int timeout_ms = 5000) { return child_.Stop(timeout_ms); }
  bool Alive() { return child_.Alive(); }
  // How it ended, if it did ("exited 1", "killed by signal 11 (Segmentation fault)").
  const std::string& exit_description() const { return child_.exit_description(); }
  std::string Log() { return child_.Log(); }
  std::string LogTail(size_t bytes = 4000) { return child_.LogTail(bytes); }

  uint16_t port() const { return port_; }
  uint16_t discovery_port() const { return dport_; }
  pid_t pid() const { return child_.pid(); }

 private:
  ChildProcess child_;
  uint16_t port_ = 0, dport_ = 0;
};

}  // namespace nvmeof::testing
