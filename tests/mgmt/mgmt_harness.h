// Harness of the management-plane tests: runs the real nvmeof-gateway (as a child process,
// gRPC on a free loopback port) and the real gwcli binary.
//
// Binaries: $NVMEOF_GATEWAY_BIN / $NVMEOF_GWCLI_BIN, else the build tree's (compiled in).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/common/child_process.h"
#include "tests/common/test_ports.h"

namespace nvmeof::mgmt_test {

using nvmeof::testing::FreePort;

std::string GatewayBin();
std::string GwcliBin();

class Gateway {
 public:
  // Starts the gateway with `args` plus "--grpc 127.0.0.1:0" (unless args has --grpc or
  // --config), waits up to timeout_ms for "grpc listening on ADDR:N" (N is grpc_port()), then
  // up to 2 s for "ready". false + *err (with the log) on failure.
  bool Start(std::vector<std::string> args, std::string* err, int timeout_ms = 20000);
  // SIGTERM (then SIGKILL); returns how it ended.
  std::string Stop(int timeout_ms = 5000) { return child_.Stop(timeout_ms); }
  // SIGKILL at once: a crash, nothing flushed or closed by the gateway.
  std::string Kill() { return child_.Kill(); }
  bool Alive() { return child_.Alive(); }
  uint16_t grpc_port() const { return grpc_port_; }
  std::string Log() { return child_.Log(); }
  // Waits until the log contains `text` (true) or timeout.
  bool WaitForLog(const std::string& text, int timeout_ms) { return child_.WaitForLog(text, timeout_ms); }

 private:
  nvmeof::testing::ChildProcess child_;
  uint16_t grpc_port_ = 0;
};

struct CliResult {
  int rc = -1;
  std::string out, err;
  std::string all() const { return out + err; }
};

// Runs gwcli with --server-address 127.0.0.1 --server-port `port` and `args`.
CliResult Gwcli(uint16_t port, const std::vector<std::string>& args, int timeout_ms = 30000);
// The same with --output stdio --format json prepended (stdout is the JSON document).
CliResult GwcliJson(uint16_t port, const std::vector<std::string>& args);

// Runs a command (argv) and returns its exit status and combined output.
CliResult Run(const std::vector<std::string>& argv, int timeout_ms = 120000);

}  // namespace nvmeof::mgmt_test
