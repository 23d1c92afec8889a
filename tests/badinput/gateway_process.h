// Runs the real nvmeof-gateway as a child process on free loopback ports, for tests.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace nvmeof::testing {

// The binary: $NVMEOF_GATEWAY_BIN, else the path compiled in (the build tree's gateway).
std::string GatewayBinary();

// A free TCP port on 127.0.0.1 (bound and released: racy only against other processes).
uint16_t FreePort();

class GatewayProcess {
 public:
  GatewayProcess() = default;
  ~GatewayProcess() { Stop(); }

  // Starts `bin` with `args` (ports are substituted for "{PORT}" and "{DPORT}") and waits
  // up to timeout_ms for "listening on 127.0.0.1:PORT" on its stdout/stderr.
  // false + *err (with the log) on failure.
  bool Start(const std::string& bin, const std::vector<std::string>& args, int timeout_ms, std::string* err);
  // SIGTERM, then SIGKILL after timeout_ms. Returns the exit status description.
  std::string Stop(int timeout_ms = 5000);
  bool Alive();
  // How it ended, if it did ("exited 1", "killed by signal 11").
  const std::string& exit_description() const { return exit_desc_; }
  std::string Log();
  std::string LogTail(size_t bytes = 4000);

  uint16_t port() const { return port_; }
  uint16_t discovery_port() const { return dport_; }
  pid_t pid() const { return pid_; }

 private:
  void ReaderLoop(int fd);
  void Reap(int status);

  pid_t pid_ = -1;
  uint16_t port_ = 0, dport_ = 0;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string log_;
  bool eof_ = false;
  std::string exit_desc_;
};

}  // namespace nvmeof::testing
