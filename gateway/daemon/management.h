// The management plane: the gRPC API (api/service.h) over the target, and the group state
// store it persists to and replays from (gateway/state). A build without gRPC
// (NVMEOF_WITH_GRPC=OFF) has none: CMake links management_none.cc instead of
// management.cc, whose Start answers "not built in".
//
// Threads: Start and Stop run on the daemon's main thread. Start replays the full group
// state before it returns (so the gateway serves what the group configured), then the
// service's own threads apply later changes, a reconciler thread retries what failed, and
// gRPC threads run the RPCs. Errors of Start are logged already when they come back (the
// daemon exits 1): the store cannot start, the [mtls] files cannot be read, the gRPC
// address cannot be bound.
//
// Health: the gRPC port also serves grpc.health.v1.Health (for the whole server, "", and
// for the "Gateway" service). It answers NOT_SERVING until the daemon calls SetReady with
// everything up, and again from Stop on, so probes and load balancers drain first.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/daemon/options.h"

namespace nvmeof {

class DeviceFactory;
class ReactorGroup;
class Target;
namespace ha {
class HaManager;
}

// What load balancing needs of gateway-group HA (docs/ha.md "Load balancing"); the
// functions are called from the plane's threads and must not call into the plane.
struct LoadBalancingHooks {
  std::function<std::set<uint32_t>()> groups;  // groups a gateway can own (members' home groups)
  std::function<std::set<uint32_t>()> owned;   // groups this gateway serves now
  std::function<bool()> leader;                // whether this gateway rebalances now
  uint32_t rebalance_period_sec = 7;
  uint32_t max_ns_to_change_lb_grp = 8;
};

class ManagementPlane {
 public:
  virtual ~ManagementPlane() = default;

  // Whether this build has a management plane.
  static bool BuiltIn();
  // Opens the group state store (RADOS, or in memory), replays it onto `target`, and serves
  // the gRPC API when opts.grpc_enabled ("grpc listening on ADDR:PORT"). `target`,
  // `devices` and `reactors` (whose busy and idle time get_thread_stats reports; may be
  // null) outlive the plane. The same server serves nvmeof.ha.GatewayHa (api/ha_service.h)
  // over `ha` (null: HA is off; the service answers ENODEV), which outlives the plane.
  static Result<std::unique_ptr<ManagementPlane>> Start(const DaemonOptions& opts, Target* target,
                                                        DeviceFactory* devices, ReactorGroup* reactors = nullptr,
                                                        ha::HaManager* ha = nullptr);

  // The state store's RADOS client addresses (empty in memory); any thread.
  virtual std::vector<std::string> ClientAddresses() const { return {}; }
  // Whether the gRPC API is being served.
  virtual bool serving() const = 0;
  // The daemon's part of readiness: its listeners are open and its namespaces opened. The
  // plane adds its own (the group state replayed; Ceph reachable when a pool is configured)
  // and sets the health service's status (logged once).
  virtual void SetReady(bool daemon_ready) = 0;
  // Turns load balancing on (with HA) and starts its thread; once, after Start. Without a
  // management plane: nothing.
  virtual void StartLoadBalancing(LoadBalancingHooks) {}
  // Stops serving RPCs (2 s for those in flight), then the state threads and the store.
  virtual void Stop() = 0;
};

}  // namespace nvmeof
