// Harness of the management-plane tests: see mgmt_harness.h.
#include "tests/mgmt/mgmt_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
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

std::string Describe(int status) {
  if (WIFEXITED(status)) return "exited " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace

std::string GatewayBin() { return Env("NVMEOF_GATEWAY_BIN", NVMEOF_MGMT_GATEWAY_BIN); }
std::string GwcliBin() { return Env("NVMEOF_GWCLI_BIN", NVMEOF_MGMT_GWCLI_BIN); }

uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

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
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    *err = "pipe failed";
    return false;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    log_.clear();
    eof_ = false;
  }
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test (crash, ctest timeout)
    dup2(p[1], 1);
    dup2(p[1], 2);
    auto v = Argv(argv);
    execv(v[0], v.data());
    _exit(127);
  }
  close(p[1]);
  reader_ = std::thread([this, fd = p[0]] { Reader(fd); });
  static const std::regex re("grpc listening on [^ ]*:([0-9]+)[\\s]");
  const int64_t deadline = NowMs() + timeout_ms;
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    std::smatch m;
    if (std::regex_search(log_, m, re)) {
      grpc_port_ = static_cast<uint16_t>(std::stoi(m[1]));
      lk.unlock();
      // "ready" follows at once.
      WaitForLog("ready", 2000);
      return true;
    }
    if (eof_ || NowMs() > deadline) {
      *err = (eof_ ? "the gateway exited before serving" : "no 'grpc listening on' line in time") +
             std::string("; log:\n") + log_;
      lk.unlock();
      Stop(1000);
      return false;
    }
    cv_.wait_for(lk, std::chrono::milliseconds(50));
  }
}

void Gateway::Reader(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard<std::mutex> lk(mu_);
    log_.append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
  close(fd);
  std::lock_guard<std::mutex> lk(mu_);
  eof_ = true;
  cv_.notify_all();
}

bool Gateway::WaitForLog(const std::string& text, int timeout_ms) {
  std::unique_lock<std::mutex> lk(mu_);
  return cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms),
                      [&] { return log_.find(text) != std::string::npos || eof_; }) &&
         log_.find(text) != std::string::npos;
}

bool Gateway::Alive() { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

std::string Gateway::Signal(int sig, int timeout_ms) {
  std::string how;
  if (pid_ > 0) {
    kill(pid_, sig);
    int status = 0;
    const int64_t deadline = NowMs() + timeout_ms;
    for (;;) {
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        how = Describe(status);
        break;
      }
      if (NowMs() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        how = "killed after signal " + std::to_string(sig) + " timeout";
        break;
      }
      usleep(10000);
    }
    pid_ = -1;
  }
  if (reader_.joinable()) reader_.join();
  return how;
}

std::string Gateway::Log() {
  std::lock_guard<std::mutex> lk(mu_);
  return log_;
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
