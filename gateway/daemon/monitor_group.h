// [gateway] ha = monitor: the gateway's side of the Ceph monitor client (Ceph 19 and later,
// the reference's ceph-nvmeof-monitor-client), which beacons this gateway's subsystems to
// the monitor (get_subsystems), tells it the group the monitor assigned (the MonitorGroup
// service, api/monitor.proto) and then drives ANA with set_ana_state.
//
// MonitorGroupServer serves MonitorGroup.group_id on [gateway] addr : port - 1 (5499 beside
// 5500), with the gRPC API's credentials (mTLS when enable_auth). group_id(id) carries the
// monitor's 0-based group index: this gateway then serves ANA group id + 1 and hands out the
// controller IDs [id * 2040 + 1, id * 2040 + 2040] (MonitorCntlidRange: the reference's
// ranges, so its gateways and this one never collide in one group). The daemon waits for it
// before it creates the target, as the reference waits before it starts SPDK: no host can
// connect before the range is known, and the Gateway API is not served yet (a call answers
// UNAVAILABLE). The server stays up: the same id again (a restarted monitor client) answers
// OK; another id FAILED_PRECONDITION (the range of connected hosts cannot change: restart
// the gateway); an id whose range would pass 65519 (id > 31) INVALID_ARGUMENT. Each is logged.
//
// Threads: Start, Wait and Stop on the daemon's main thread; group_id on gRPC threads.
// Errors of Start: the port cannot be bound, the [mtls] files cannot be read (logged). A
// build without gRPC has none (BuiltIn() false; Start answers NotSupported).
#pragma once

#include <signal.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "gateway/common/status.h"
#include "gateway/daemon/options.h"

namespace nvmeof {

// What the monitor assigned this gateway.
struct MonitorAssignment {
  uint32_t index = 0;      // the monitor's group index (group_id_req.id)
  uint32_t ana_group = 0;  // index + 1
  uint16_t min_cntlid = 0, max_cntlid = 0;
};

// The controller IDs of group index `index`; false when they would pass 65519.
bool MonitorCntlidRange(uint32_t index, uint16_t* lo, uint16_t* hi);
// "ADDR:PORT" of the MonitorGroup service: [gateway] addr and port - 1 (IPv6 in brackets).
std::string MonitorAddress(const DaemonOptions& o);

class MonitorGroupServer {
 public:
  virtual ~MonitorGroupServer() = default;

  static bool BuiltIn();
  static Result<std::unique_ptr<MonitorGroupServer>> Start(const DaemonOptions& o);

  // Blocks until the first valid group_id (its assignment), or until one of `sigs` (blocked
  // in the caller) is pending: nullopt, the signal taken and stored in *sig.
  virtual std::optional<MonitorAssignment> Wait(const sigset_t& sigs, int* sig) = 0;
  // Stops serving (calls in flight get 1 s).
  virtual void Stop() = 0;
};

}  // namespace nvmeof
