// The gateway group's configuration, kept where every gateway of the group can see it.
//
// The reference gateway's layout (so a group can move to this gateway): one RADOS object
// `nvmeof.state` (no group) or `nvmeof.<group>.state` in the pool of [ceph] pool, whose omap
// holds `omap_version` (decimal string, starts at "1") and one key per configured item,
// each holding the JSON of the request message that created it (proto field names,
// default values included):
//   subsystem_<nqn>, namespace_<nqn>_<nsid>, qos_<nqn>_<nsid>, ns_host_<nqn>_<nsid>_<hostnqn>,
//   host_<nqn>_<hostnqn>, listener_<nqn>_<host_name>_TCP_<traddr>_<trsvcid>
//
// Writers: exclusive lock on the object, version check, write key + version+1 guarded by
// an omap compare, notify. Readers: watch + periodic poll; on a change, read everything and
// hand the new map to the subscriber, which applies the difference.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "gateway/common/status.h"

namespace nvmeof {

using StateMap = std::map<std::string, std::string>;  // omap key -> JSON value

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Adds (or overwrites) one key and bumps omap_version, atomically with respect to
  // every other gateway of the group.
  virtual Status Put(const std::string& key, const std::string& json) = 0;
  // Removes one key (and bumps omap_version). NotFound if absent.
  virtual Status Remove(const std::string& key) = 0;
  // Several changes in one version step (e.g. a subsystem and everything below it).
  virtual Status Apply(const StateMap& puts, const std::vector<std::string>& removes) = 0;
  // The whole state and its version.
  virtual Result<StateMap> ReadAll(uint64_t* version) = 0;
  // Called (on a store thread) with the full new state whenever another writer changed it,
  // and once at Start(). Never called concurrently with itself.
  virtual void Subscribe(std::function<void(const StateMap&, uint64_t version)> cb) = 0;
  virtual Status Start() = 0;
  virtual void Stop() = 0;
};

// A store in RADOS (the real thing). `pool`, object name derived from `group`.
struct RadosStateOptions {
  std::string ceph_conf = "/etc/ceph/ceph.conf";
  std::string client_id = "admin";
  std::string keyring;  // optional
  std::string pool = "rbd";
  std::string group;
  uint32_t poll_interval_sec = 5;
  uint32_t lock_duration_sec = 20;
};
Result<std::unique_ptr<StateStore>> OpenRadosStateStore(const RadosStateOptions& opts);

// A store in local memory (a single gateway without Ceph, tests).
std::unique_ptr<StateStore> NewMemoryStateStore();

// Key helpers (the reference's spelling).
std::string SubsystemKey(const std::string& nqn);
std::string NamespaceKey(const std::string& nqn, uint32_t nsid);
std::string QosKey(const std::string& nqn, uint32_t nsid);
std::string NamespaceHostKey(const std::string& nqn, uint32_t nsid, const std::string& host);
std::string HostKey(const std::string& nqn, const std::string& host);
std::string ListenerKey(const std::string& nqn, const std::string& host_name, const std::string& traddr,
                        const std::string& trsvcid);

}  // namespace nvmeof
