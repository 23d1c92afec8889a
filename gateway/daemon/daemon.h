// Daemon: the gateway process, wired from its DaemonOptions. Start() brings the parts up in
// order, Run() serves until SIGTERM or SIGINT, Stop() takes them down.
//
//   reactors      ReactorGroup (gateway/runtime): every connection's I/O
//   target        Target (gateway/nvmf) with its transports (TransportRegistry, NVMe/TCP)
//   devices       DeviceFactory (rbd-backend): namespaces of the command line and the API
//   initial       the command line's subsystems, hosts, listeners and namespaces
//   management    ManagementPlane (management.h): gRPC API and group state, when built in
//   ha            with [gateway] ha = builtin: the HaManager (gateway/ha) registers the
//                 gateway before the target is created (the controller-ID range comes from
//                 its home ANA group), starts once the listeners, namespaces and group
//                 state are up and manages every ANA group the namespaces use (new ones
//                 too), keeping the member record's listeners current; the gRPC server
//                 serves its view (nvmeof.ha.GatewayHa); Stop hands its groups over before
//                 the listeners close
//   monitor       with [gateway] ha = monitor: the MonitorGroup server (monitor_group.h) on
//                 port - 1; the daemon waits for the monitor client's group id before
//                 it creates the target (the controller-ID range and this gateway's ANA
//                 group come from it; every ANA group starts inaccessible), then
//                 set_ana_state on the API drives ANA. With enable_monitor_client (true
//                 or not given) it first starts the client (monitor_client.h); the
//                 gateway stops, exit status 1, when the client ends
//   metrics       MetricsExporter (gateway/metrics) when enable_prometheus_exporter: a port
//                 that cannot be opened is logged and the gateway serves without it
//   readiness     the management plane's gRPC health service says SERVING once all of the
//                 above is up (ManagementPlane::SetReady)
//
// Threads: Start, Run and Stop run on the thread that called Start, which must be the
// process's main thread before any other thread exists: Start blocks SIGTERM and SIGINT
// (every thread it starts inherits the mask) and Run takes them with sigwait. Start fails
// (the daemon exits 1; the reason is logged) when a listener of the command line or the
// gRPC port cannot be opened, the state store cannot start, HA is asked for and cannot
// start (cluster unreachable, no free home group; in monitor mode the monitor port cannot
// be opened, or a signal came before the group id), or there is nothing to serve.
// A namespace that cannot be opened is logged and skipped.
#pragma once

#include <signal.h>

#include <atomic>
#include <memory>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/daemon/options.h"

namespace nvmeof {

class DeviceFactory;
class ManagementPlane;
namespace ha {
class AnaControl;
class GroupStore;
class HaManager;
}  // namespace ha
class MetricsExporter;
class MonitorClientProcess;
class MonitorGroupServer;
class ReactorGroup;
class Target;
class TransportRegistry;

// The flags this build cannot honour: --config and --grpc without a management plane
// (EINVAL, the message the daemon prints before exiting 2).
Status CheckBuildSupports(const CommandLine& flags);

class Daemon {
 public:
  static Result<std::unique_ptr<Daemon>> Start(const DaemonOptions& opts);
  ~Daemon();

  // Waits for SIGTERM or SIGINT, then stops.
  void Run();
  // Stops serving: from then on the process exits within opts.shutdown_timeout seconds
  // (0: when every RBD image is closed).
  void Stop();

  Target& target() { return *target_; }
  // The process's exit status after Run: 1 when the monitor client ended (monitor mode).
  int exit_status() const { return exit_status_; }

 private:
  explicit Daemon(const DaemonOptions& opts);
  Status StartAll();
  Status AddInitialConfiguration(std::vector<const SubsystemOption*>* created, bool* failures);
  void OpenInitialNamespaces(const std::vector<const SubsystemOption*>& created, bool* failures);
  void StartMetrics();
  // [gateway] ha = builtin: opens the group store, registers the gateway (home group
  // allocated or kept) and sets opts_.target's controller-ID range from it (before the
  // target exists); StartHa starts the manager.
  Status OpenHa();
  Status StartHa();
  // Load balancing over the HA members' groups (management plane; after StartHa).
  void StartLoadBalancing();
  // [gateway] ha = monitor: serves MonitorGroup and waits for the group id (or a signal),
  // then sets opts_'s controller-ID range, ANA group and unset ANA state.
  Status WaitForMonitorGroup();
  // Takes the parts down in order (the management plane, the listeners, the reactors).
  void StopParts();

  DaemonOptions opts_;
  sigset_t sigs_;
  bool stopped_ = false;
  // Destroyed in reverse order: the management plane first, the reactors last.
  std::unique_ptr<ReactorGroup> reactors_;
  std::unique_ptr<Target> target_;
  std::unique_ptr<TransportRegistry> transports_;
  std::unique_ptr<DeviceFactory> devices_;
  std::unique_ptr<ManagementPlane> management_;
  std::unique_ptr<MonitorGroupServer> monitor_;
  std::unique_ptr<MonitorClientProcess> monitor_client_;
  std::atomic<int> exit_status_{0};
  std::unique_ptr<MetricsExporter> metrics_;
  std::unique_ptr<ha::AnaControl> ha_ana_;
  std::unique_ptr<ha::HaManager> ha_;
};

}  // namespace nvmeof
