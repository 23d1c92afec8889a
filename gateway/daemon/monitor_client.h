// The Ceph monitor client as a child of the gateway ([gateway] ha = monitor with
// enable_monitor_client, the reference's default): the reference gateway starts Ceph's
// ceph-nvmeof-monitor-client itself, with these arguments, and exits when it ends; so does
// this one.
//
//   MonitorClientArgs(o)   the command line: --gateway-name, --gateway-address ADDR:PORT,
//                          --gateway-pool, --gateway-group, --monitor-group-address
//                          ADDR:PORT-1, -c ceph.conf, -n client.ID, -k /etc/ceph/keyring,
//                          and with enable_auth --server-cert, --client-key, --client-cert
//   MonitorClientProcess   runs it (its output goes to the gateway's), watches it on a
//                          thread of its own: if it ends while the gateway runs, that thread
//                          logs how and calls on_exit once; Stop() sends SIGTERM, waits 1 s
//                          (the reference's [monitor] timeout), then SIGKILL.
//
// Threads: Start and Stop on the daemon's main thread; on_exit on the watcher thread.
// Errors of Start: the program cannot be run (NotFound when it does not exist).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/daemon/options.h"

namespace nvmeof {

std::vector<std::string> MonitorClientArgs(const DaemonOptions& o);

class MonitorClientProcess {
 public:
  ~MonitorClientProcess() { Stop(); }

  static Result<std::unique_ptr<MonitorClientProcess>> Start(const std::vector<std::string>& argv,
                                                             std::function<void(const std::string& how)> on_exit);
  void Stop();
  pid_t pid() const { return pid_; }

 private:
  MonitorClientProcess() = default;
  void Watch();

  pid_t pid_ = -1;
  std::function<void(const std::string&)> on_exit_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> exited_{false};
  std::thread watcher_;
};

}  // namespace nvmeof
