// A child process for tests (the gateway under test): fork/exec with its stdout and stderr
// collected into one log by a reader thread, waiting for lines in that log, and stopping it.
//
// Threads: Start, Signal/Stop/Kill, Alive and the destructor are called from one test thread
// (the one that started it: the child gets SIGKILL when that thread ends, so it never outlives
// a crashed or timed-out test). Log, LogTail and WaitForLog may be called from any thread.
// Failures to start come back as false plus a message; how the child ended as a description
// ("exited 0", "killed by signal 9 (Killed)").
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <csignal>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace nvmeof::testing {

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess() { Stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Runs argv[0] (a path, not searched in $PATH) with argv. false + *err if it could not be
  // started (not executable, pipe or fork failed).
  bool Start(const std::vector<std::string>& argv, std::string* err);

  // Waits until `done(log)` holds (true), or until timeout_ms passed or the child closed its
  // output without it holding (false).
  bool WaitForLog(const std::function<bool(const std::string& log)>& done, int timeout_ms);
  bool WaitForLog(const std::string& text, int timeout_ms);
  // The child closed its stdout and stderr (it exited, usually).
  bool OutputClosed();

  // Sends `sig`, waits up to timeout_ms for the child to end, then SIGKILL. Returns how it
  // ended (also when it had already ended: the last description).
  std::string Signal(int sig, int timeout_ms);
  std::string Stop(int timeout_ms = 5000) { return Signal(SIGTERM, timeout_ms); }
  // SIGKILL at once: a crash, nothing flushed or closed by the child.
  std::string Kill() { return Signal(SIGKILL, 5000); }
  // Whether it still runs (reaps it, and records how it ended, if not).
  bool Alive();
  // How it ended, if it did; empty while it runs.
  const std::string& exit_description() const { return exit_desc_; }

  std::string Log();
  // The last `bytes` of the log ("..." in front if cut).
  std::string LogTail(size_t bytes = 4000);
  pid_t pid() const { return pid_; }

 private:
  void ReaderLoop(int fd);
  void Reap(int status);

  pid_t pid_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string log_;  // the last 4-8 MiB
  bool eof_ = false;
  std::string exit_desc_;
};

}  // namespace nvmeof::testing
