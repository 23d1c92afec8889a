#include "tests/common/child_process.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace nvmeof::testing {

namespace {

constexpr size_t kLogMax = 8u << 20;   // past this, the log keeps only its last kLogKeep bytes
constexpr size_t kLogKeep = 4u << 20;

}  // namespace

bool ChildProcess::Start(const std::vector<std::string>& argv, std::string* err) {
  if (pid_ > 0 || reader_.joinable()) Stop();
  if (argv.empty() || access(argv[0].c_str(), X_OK) != 0) {
    *err = "binary not found or not executable: " + (argv.empty() ? std::string("(none)") : argv[0]);
    return false;
  }
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    *err = std::string("pipe: ") + strerror(errno);
    return false;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    log_.clear();
    eof_ = false;
  }
  exit_desc_.clear();
  std::vector<char*> av;
  for (auto& s : argv) av.push_back(const_cast<char*>(s.c_str()));
  av.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) {
    *err = std::string("fork: ") + strerror(errno);
    close(pipefd[0]);
    close(pipefd[1]);
    return false;
  }
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test (crash, ctest timeout)
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    execv(av[0], av.data());
    fprintf(stderr, "exec %s: %s\n", av[0], strerror(errno));
    _exit(127);
  }
  close(pipefd[1]);
  reader_ = std::thread([this, fd = pipefd[0]] { ReaderLoop(fd); });
  return true;
}

void ChildProcess::ReaderLoop(int fd) {
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
    if (log_.size() > kLogMax) log_.erase(0, log_.size() - kLogKeep);
    cv_.notify_all();
  }
  close(fd);
}

bool ChildProcess::WaitForLog(const std::function<bool(const std::string& log)>& done, int timeout_ms) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [&] { return done(log_) || eof_; }) && done(log_);
}

bool ChildProcess::WaitForLog(const std::string& text, int timeout_ms) {
  return WaitForLog([&](const std::string& log) { return log.find(text) != std::string::npos; }, timeout_ms);
}

bool ChildProcess::OutputClosed() {
  std::lock_guard<std::mutex> l(mu_);
  return eof_;
}

void ChildProcess::Reap(int status) {
  char b[96];
  if (WIFEXITED(status)) snprintf(b, sizeof(b), "exited %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    snprintf(b, sizeof(b), "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else snprintf(b, sizeof(b), "status 0x%x", status);
  exit_desc_ = b;
  pid_ = -1;
}

bool ChildProcess::Alive() {
  if (pid_ <= 0) return false;
  int status;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    Reap(status);
    return false;
  }
  return true;
}

std::string ChildProcess::Signal(int sig, int timeout_ms) {
  if (pid_ > 0) {
    kill(pid_, sig);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    int status;
    for (;;) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        Reap(status);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        Reap(status);
        exit_desc_ += " (needed SIGKILL: did not end " + std::to_string(timeout_ms) + " ms after signal " +
                      std::to_string(sig) + ")";
        break;
      }
      usleep(10000);
    }
  }
  if (reader_.joinable()) reader_.join();
  return exit_desc_;
}

std::string ChildProcess::Log() {
  std::lock_guard<std::mutex> l(mu_);
  return log_;
}

std::string ChildProcess::LogTail(size_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  return log_.size() > bytes ? "..." + log_.substr(log_.size() - bytes) : log_;
}

}  // namespace nvmeof::testing
