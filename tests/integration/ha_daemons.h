// Harness for gateway-group HA with real daemons on a real Ceph cluster: N `nvmeof-gateway`
// child processes with `[gateway] ha = builtin`, one state pool and gateway group, each with
// its own name, config file, gRPC and I/O ports; the configuration (subsystems, RBD
// namespaces, one listener per gateway) is created through the gRPC API of one of them and
// every daemon serves it by group state replay. Plus what the HA tests and the takeover
// benchmark observe: the cluster's blocklist (`ceph osd blocklist ls`), the members' records
// (read through a RADOS GroupStore of its own), the ANA state a host sees (ANA log page
// through tests/host/nvmf_host.h).
//
// Threads: everything from the test thread (ChildProcess's rule: the thread that started a
// daemon stops it). Failures come back as false / an error string / nullopt; nothing throws.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/gateway.grpc.pb.h"
#include "api/gateway_ha.grpc.pb.h"
#include "gateway/ha/group_store.h"
#include "tests/common/child_process.h"
#include "tests/host/nvmf_host.h"

namespace nvmeof::ha_daemons {

// The cluster directory of tests/tools/ceph-local.sh (ceph.conf, keyring): from $env_var.
std::string CephDirFromEnv(const char* env_var);

struct CmdResult {
  int rc = -1;
  std::string out;  // stdout and stderr
};
// Runs argv (argv[0] searched in $PATH) and collects its output.
CmdResult Run(const std::vector<std::string>& argv, int timeout_ms = 60000);
// `ceph -c DIR/ceph.conf ARGS...`.
CmdResult Ceph(const std::string& dir, const std::vector<std::string>& args);
// The addresses in `ceph osd blocklist ls` ("127.0.0.1:0/123", sorted); nullopt on error.
std::optional<std::vector<std::string>> BlocklistLs(const std::string& dir);
bool BlocklistClear(const std::string& dir);
// The pid of the cluster's monitor (DIR/run/mon.*.pid, checked against /proc/PID/comm), 0
// when none runs. A test may SIGSTOP it to hold every mon command (fencing) back.
int MonitorPid(const std::string& dir);
// The omap keys of RADOS object `oid` in `pool` (`rados listomapkeys`, sorted); nullopt on error.
std::optional<std::vector<std::string>> OmapKeys(const std::string& dir, const std::string& pool,
                                                 const std::string& oid);

// The members' records of a gateway group, read with a GroupStore of its own.
class Observer {
 public:
  Observer(const std::string& ceph_dir, const std::string& pool, const std::string& group);
  bool ok() const { return store_ != nullptr; }
  const std::string& error() const { return error_; }
  std::optional<ha::MemberInfo> Member(const std::string& name);
  // The holder of ANA group g's lease ("" when free), nullopt on error.
  std::optional<std::string> LeaseHolder(uint32_t g);

 private:
  std::unique_ptr<ha::GroupStore> store_;
  std::string error_;
};

// gRPC calls on one gateway. Each returns "" on success, else the error.
class Api {
 public:
  explicit Api(uint16_t grpc_port);
  ~Api();
  std::string CreateSubsystem(const std::string& nqn);
  std::string AddListener(const std::string& nqn, const std::string& gateway_name, uint16_t port);
  // Creates the image (size bytes) when create; *nsid gets the namespace ID.
  std::string AddRbdNamespace(const std::string& nqn, const std::string& pool, const std::string& image,
                              uint64_t size, bool create, uint32_t anagrpid, uint32_t* nsid);
  // Subsystems and namespaces this gateway serves (get_subsystems).
  std::optional<size_t> NamespaceCount();
  // Each namespace's nonce (its librbd client's address); empty on error.
  std::vector<std::string> NamespaceNonces();
  // NSID -> ANA group of subsystem nqn's namespaces as this gateway serves them; nullopt on error.
  std::optional<std::map<uint32_t, uint32_t>> NamespaceGroups(const std::string& nqn);
  // namespace_change_load_balancing_group.
  std::string ChangeLbGroup(const std::string& nqn, uint32_t nsid, uint32_t anagrpid);
  // nvmeof.ha.GatewayHa: this gateway's HA view; nullopt when the call failed.
  std::optional<::nvmeof::ha::ha_status> HaStatus();
  // nvmeof.ha.GatewayHa remove_member: {status, error_message}; status -1 when the call failed.
  std::pair<int, std::string> RemoveMember(const std::string& name);

 private:
  std::unique_ptr<::Gateway::Stub> stub_;
  std::unique_ptr<::nvmeof::ha::GatewayHa::Stub> ha_stub_;
};

struct DaemonConfig {
  std::string name;
  std::string group;
  std::string pool = "rbd";
  std::string ceph_dir;
  uint32_t lease_ms = 0;            // 0: the default
  uint32_t failback_delay_ms = 0;
  int rebalance_period_sec = -1;     // -1: the default
  int max_ns_to_change_lb_grp = -1;  // -1: the default
  int reactors = 1;
  std::string log_level = "info";
  std::string work_dir;             // where the config file goes (default: /tmp)
};

// One gateway daemon. Its gRPC and I/O ports are chosen at construction (free loopback ports)
// and stay the same across restarts, so the listener created through the API keeps working.
class Daemon {
 public:
  explicit Daemon(DaemonConfig c);
  ~Daemon();
  // Writes the config file and starts the gateway; waits up to timeout_ms for "ready".
  bool Start(std::string* err, int timeout_ms = 60000);
  std::string Kill() { return child_.Kill(); }         // SIGKILL
  void Terminate();  // SIGTERM without waiting (Stop() reaps it)
  std::string Stop(int timeout_ms = 20000) { return child_.Stop(timeout_ms); }  // SIGTERM
  void Pause();   // SIGSTOP
  void Resume();  // SIGCONT
  bool Alive() { return child_.Alive(); }
  bool WaitForLog(const std::string& text, int timeout_ms) { return child_.WaitForLog(text, timeout_ms); }
  std::string Log() { return child_.Log(); }
  std::string LogTail(size_t n = 6000) { return child_.LogTail(n); }

  const std::string& name() const { return cfg_.name; }
  uint16_t grpc_port() const { return grpc_port_; }
  uint16_t io_port() const { return io_port_; }
  Api& api();
  // The registered member record (home group, addresses), through `obs`.
  std::optional<ha::MemberInfo> Member(Observer& obs) { return obs.Member(cfg_.name); }

 private:
  DaemonConfig cfg_;
  nvmeof::testing::ChildProcess child_;
  uint16_t grpc_port_ = 0, io_port_ = 0;
  std::string conf_path_;
  std::unique_ptr<Api> api_;
};

// Creates subsystem `nqn` through `via`, one listener per daemon (through that daemon, its
// own name and I/O port), and `images.size()` RBD namespaces (created images of `size` bytes, ANA group
// `anagrpid`). Returns "" or the error.
std::string CreateRbdSubsystem(Daemon& via, const std::vector<Daemon*>& all, const std::string& nqn,
                               const std::vector<std::string>& images, uint64_t size, uint32_t anagrpid);

// ---------------------------------------------------------------- host side

// The state of ANA group g in the controller's ANA log page (0 when absent), nullopt when the
// command failed.
std::optional<uint8_t> AnaGroupState(host::Controller& c, uint32_t g);
// A controller with one I/O queue on 127.0.0.1:port; nullptr + *err on failure.
std::unique_ptr<host::Controller> Connect(uint16_t port, const std::string& nqn, std::string* err,
                                          int timeout_ms = 5000);

// A block of `size` bytes (a multiple of 4) whose every 4-byte word is v.
std::vector<uint8_t> PatternBlock(uint32_t v, size_t size);
// True for the ANA path statuses a multipath host retries on another path (Inaccessible,
// Asymmetric Access Transition).
bool IsAnaPathStatus(const host::Completion& c);
// How many times `what` occurs in `log`.
size_t CountOf(const std::string& log, const std::string& what);

// Polls fn every poll_ms until true or timeout_ms passed.
template <typename F>
bool WaitUntil(F fn, int timeout_ms, int poll_ms = 20);

// Monotonic milliseconds.
double NowMs();

}  // namespace nvmeof::ha_daemons

#include <unistd.h>
template <typename F>
bool nvmeof::ha_daemons::WaitUntil(F fn, int timeout_ms, int poll_ms) {
  const double end = NowMs() + timeout_ms;
  while (NowMs() < end) {
    if (fn()) return true;
    usleep(static_cast<useconds_t>(poll_ms) * 1000);
  }
  return fn();
}
