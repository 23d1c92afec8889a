#include "tests/badinput/gateway_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#ifndef NVMEOF_GATEWAY_DEFAULT_BIN
#define NVMEOF_GATEWAY_DEFAULT_BIN "nvmeof-gateway"
#endif

namespace nvmeof::testing {

std::string GatewayBinary() {
  const char* e = getenv("NVMEOF_GATEWAY_BIN");
  return e && *e ? e : NVMEOF_GATEWAY_DEFAULT_BIN;
}

uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    socklen_t sl = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &sl);
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

bool GatewayProcess::Start(const std::string& bin, const std::vector<std::string>& args, int timeout_ms,
                           std::string* err) {
  if (access(bin.c_str(), X_OK) != 0) {
    *err = "nvmeof-gateway binary not found or not executable: " + bin +
           " (build it: ninja nvmeof-gateway, or set NVMEOF_GATEWAY_BIN)";
    return false;
  }
  port_ = FreePort();
  dport_ = FreePort();
  while (dport_ == port_) dport_ = FreePort();
  std::vector<std::string> argv_s{bin};
  for (std::string a : args) {
    for (auto [key, val] : {std::pair<std::string, uint16_t>{"{PORT}", port_}, {"{DPORT}", dport_}}) {
      for (size_t p; (p = a.find(key)) != std::string::npos;) a.replace(p, key.size(), std::to_string(val));
    }
    argv_s.push_back(a);
  }
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    *err = std::string("pipe: ") + strerror(errno);
    return false;
  }
  log_.clear();
  eof_ = false;
  exit_desc_.clear();
  pid_ = fork();
  if (pid_ < 0) {
    *err = std::string("fork: ") + strerror(errno);
    return false;
  }
  if (pid_ == 0) {
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    std::vector<char*> av;
    for (auto& s : argv_s) av.push_back(s.data());
    av.push_back(nullptr);
    execv(bin.c_str(), av.data());
    fprintf(stderr, "exec %s: %s\n", bin.c_str(), strerror(errno));
    _exit(127);
  }
  close(pipefd[1]);
  reader_ = std::thread([this, fd = pipefd[0]] { ReaderLoop(fd); });

  std::string want = "listening on 127.0.0.1:" + std::to_string(port_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> l(mu_);
  while (log_.find(want) == std::string::npos) {
    if (eof_ || cv_.wait_until(l, deadline) == std::cv_status::timeout) {
      bool timed_out = !eof_;
      l.unlock();
      std::string how = Alive() ? "still running" : exit_desc_;
      *err = (timed_out ? "timed out waiting for '" : "exited before printing '") + want + "' (" + how +
             "); its output:\n" + Log();
      Stop(1000);
      return false;
    }
  }
  // Everything is configured once it says "ready" (if it does); don't insist.
  cv_.wait_until(l, std::chrono::steady_clock::now() + std::chrono::milliseconds(2000),
                 [&] { return eof_ || log_.find("ready") != std::string::npos; });
  return true;
}

void GatewayProcess::ReaderLoop(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t r = read(fd, buf, sizeof(buf));
    if (r < 0 && errno == EINTR) continue;
    std::lock_guard<std::mutex> l(mu_);
    if (r <= 0) {
      eof_ = true;
      cv_.notify_all();
      break;
    }
    log_.append(buf, static_cast<size_t>(r));
    if (log_.size() > (8u << 20)) log_.erase(0, log_.size() - (4u << 20));
    cv_.notify_all();
  }
  close(fd);
}

void GatewayProcess::Reap(int status) {
  char b[64];
  if (WIFEXITED(status)) snprintf(b, sizeof(b), "exited %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status)) snprintf(b, sizeof(b), "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else snprintf(b, sizeof(b), "status 0x%x", status);
  exit_desc_ = b;
  pid_ = -1;
}

bool GatewayProcess::Alive() {
  if (pid_ <= 0) return false;
  int status;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    Reap(status);
    return false;
  }
  return true;
}

std::string GatewayProcess::Stop(int timeout_ms) {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    int status;
    for (;;) {
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        Reap(status);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        Reap(status);
        exit_desc_ += " (needed SIGKILL: did not stop on SIGTERM)";
        break;
      }
      usleep(10000);
    }
  }
  if (reader_.joinable()) reader_.join();
  return exit_desc_;
}

std::string GatewayProcess::Log() {
  std::lock_guard<std::mutex> l(mu_);
  return log_;
}

std::string GatewayProcess::LogTail(size_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  return log_.size() > bytes ? "..." + log_.substr(log_.size() - bytes) : log_;
}

}  // namespace nvmeof::testing
