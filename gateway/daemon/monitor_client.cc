// The monitor client as a child process: see monitor_client.h.
#include "gateway/daemon/monitor_client.h"

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "gateway/common/log.h"
#include "gateway/daemon/monitor_group.h"

extern char** environ;

namespace nvmeof {

namespace {

std::string Describe(int status) {
  if (WIFEXITED(status)) return "exited " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

}  // namespace

std::vector<std::string> MonitorClientArgs(const DaemonOptions& o) {
  const std::string addr = o.grpc_addr.find(':') != std::string::npos ? "[" + o.grpc_addr + "]" : o.grpc_addr;
  std::string id = o.ceph_id.empty() ? "admin" : o.ceph_id;
  if (id.rfind("client.", 0) != 0) id = "client." + id;
  std::vector<std::string> a = {o.monitor_client,
                                "--gateway-name", o.name,
                                "--gateway-address", addr + ":" + o.grpc_port,
                                "--gateway-pool", o.state_pool,
                                "--gateway-group", o.group,
                                "--monitor-group-address", MonitorAddress(o),
                                "-c", o.ceph_conf,
                                "-n", id,
                                "-k", "/etc/ceph/keyring"};
  if (o.enable_auth) {
    a.insert(a.end(), {"--server-cert", o.server_cert, "--client-key", o.client_key, "--client-cert", o.client_cert});
  }
  return a;
}

Result<std::unique_ptr<MonitorClientProcess>> MonitorClientProcess::Start(
    const std::vector<std::string>& argv, std::function<void(const std::string& how)> on_exit) {
  struct stat sb;
  if (argv.empty() || stat(argv[0].c_str(), &sb) != 0)
    return Status::NotFound("monitor client " + (argv.empty() ? std::string() : argv[0]) + " does not exist");
  std::vector<char*> args;
  for (auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
  args.push_back(nullptr);
  // The daemon blocks SIGTERM and SIGINT in every thread: the child must not inherit that.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::unique_ptr<MonitorClientProcess> p(new MonitorClientProcess());
  int rc = posix_spawn(&p->pid_, args[0], nullptr, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::Error(errc::kSystem, "monitor client " + argv[0] + ": " + strerror(rc), rc);
  p->on_exit_ = std::move(on_exit);
  p->watcher_ = std::thread([q = p.get()] { q->Watch(); });
  return p;
}

void MonitorClientProcess::Watch() {
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exited_ = true;
  if (stopping_) return;
  const std::string how = Describe(status);
  LOG_ERROR("monitor: the monitor client (pid %d) %s; stopping the gateway", static_cast<int>(pid_), how.c_str());
  if (on_exit_) on_exit_(how);
}

void MonitorClientProcess::Stop() {
  if (pid_ < 0 || stopping_.exchange(true)) return;
  if (!exited_) {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && !exited_; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!exited_) kill(pid_, SIGKILL);
  }
  if (watcher_.joinable()) watcher_.join();
}

}  // namespace nvmeof
