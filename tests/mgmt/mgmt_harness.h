// Harness of the management-plane tests: runs the real nvmeof-gateway (as a child process,
// gRPC on a free loopback port) and the real gwcli binary.
//
// Binaries: $NVMEOF_GATEWAY_BIN / $NVMEOF_GWCLI_BIN, else the build tree's (compiled in).
#pragma once

#include <sys/types.h>

#include <csignal>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace nvmeof::mgmt_test {

std::string GatewayBin();
std::string GwcliBin();

// A free TCP port on 127.0.0.1 (bound and released: racy only against other processes).
uint16_t FreePort();

class Gateway {
 public:
  Gateway() = default;
  ~Gateway() { Stop(); }
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Starts the gateway with `args` plus "--grpc 127.0.0.1:0" (unless args has --grpc or
  // --config) and waits for "grpc listening on 127.0.0.1:N" (or `ready_line`).
  bool Start(std::vector<std::string> args, std::string* err, int timeout_ms = 20000);
  // SIGTERM (then SIGKILL); returns how it ended.
  std::string Stop(int timeout_ms = 5000) { return Signal(SIGTERM, timeout_ms); }
  // SIGKILL at once: a crash, nothing flushed or closed by the gateway.
  std::string Kill() { return Signal(SIGKILL, 5000); }
  bool Alive();
  uint16_t grpc_port() const { return grpc_port_; }
  std::string Log();
  // Waits until the log contains `text` (true) or timeout.
  bool WaitForLog(const std::string& text, int timeout_ms);

 private:
  std::string Signal(int sig, int timeout_ms);
  void Reader(int fd);
  pid_t pid_ = -1;
  uint16_t grpc_port_ = 0;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string log_;
  bool eof_ = false;
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
