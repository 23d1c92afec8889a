// Harness of the management-plane tests: see mgmt_harness.h.
#include "tests/mgmt/mgmt_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <regex>

namespace nvmeof::mgmt_test {

namespace {

std::string Env(const char* name, const char* fallback) {
  const char* v = getenv(name);
  return v && *v ? v : fallback;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<char*> Argv(const std::vector<std::string>& args) {
  std::vector<char*> v;
  for (auto& a : args) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  return v;
}

}  // namespace

std::string GatewayBin() { return Env("NVMEOF_GATEWAY_BIN", NVMEOF_MGMT_GATEWAY_BIN); }
std::string GwcliBin() { return Env("NVMEOF_GWCLI_BIN", NVMEOF_MGMT_GWCLI_BIN); }

bool Gateway::Start(std::vector<std::string> args, std::string* err, int timeout_ms) {
  bool has_grpc = false;
  for (auto& a : args)
    if (a == "--grpc" || a.rfind("--grpc=", 0) == 0 || a == "--config") has_grpc = true;
  if (!has_grpc) {
    args.push_back("--grpc");
    args.push_back("127.0.0.1:0");
  }
  std::vector<std::string> argv{GatewayBin()};
  argv.insert(argv.end(), args.begin(), args.end());
  if (!child_.Start(argv, err)) return false;
  static const std::regex re("grpc listening on [^ ]*:([0-9]+)[\\s]");
  int port = -1;
  auto serving = [&](const std::string& log) {
    std::smatch m;
    if (!std::regex_search(log, m, re)) return false;
    port = std::stoi(m[1]);
    return true;
  };
  if (!child_.WaitForLog(serving, timeout_ms)) {
    *err = (child_.OutputClosed() ? "the gateway exited before serving" : "no 'grpc listening on' line in time") +
           std::string("; log:\n") + child_.Log();
    child_.Stop(1000);
    return false;
  }
  grpc_port_ = static_cast<uint16_t>(port);
  // "ready" follows at once.
  child_.WaitForLog("ready", 2000);
  return true;
}

CliResult Run(const std::vector<std::string>& argv, int timeout_ms) {
  CliResult r;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return r;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    auto v = Argv(argv);
    execvp(v[0], v.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  const int64_t deadline = NowMs() + timeout_ms;
  char buf[4096];
  while (open_fds > 0) {
    int left = static_cast<int>(deadline - NowMs());
    if (left <= 0) {
      kill(pid, SIGKILL);
      r.err += "\n[harness: timed out]";
      break;
    }
    if (poll(fds, 2, left) <= 0) continue;
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        open_fds--;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int status = 0;
  waitpid(pid, &status, 0);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return r;
}

CliResult Gwcli(uint16_t port, const std::vector<std::string>& args, int timeout_ms) {
  std::vector<std::string> argv{GwcliBin(), "--server-address", "127.0.0.1", "--server-port", std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv, timeout_ms);
}

CliResult GwcliJson(uint16_t port, const std::vector<std::string>& args) {
  std::vector<std::string> a{"--output", "stdio", "--format", "json"};
  a.insert(a.end(), args.begin(), args.end());
  return Gwcli(port, a);
}

}  // namespace nvmeof::mgmt_test
