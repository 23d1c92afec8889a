// The gateway group's configuration, kept where every gateway of the group can see it.
//
// The reference gateway's layout (so a group can move to this gateway): one RADOS object
// `nvmeof.state` (no group) or `nvmeof.<group>.state` in the pool of [ceph] pool, whose omap
// holds `omap_version` (decimal string, starts at "1") and one key per configured item,
// each holding the JSON of the request message that created it (proto field names,
// default values included):
//   subsystem_<nqn>, namespace_<nqn>_<nsid>, qos_<nqn>_<nsid>, ns_host_<nqn>_<nsid>_<hostnqn>,
//   host_<nqn>_<hostnqn>, listener_<nqn>_<host_name>_TCP_<traddr>_<trsvcid>
// (built and parsed by state_keys.h)
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
#include <vector>

#include "gateway/common/status.h"
#include "gateway/state/errc.h"

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

  // Read-modify-write under the group lock, for changes that depend on the group state
  // (NSID allocation, "subsystem exists" checks, cascading deletes). `fn` runs on the
  // caller's thread while this gateway holds the lock, with the state and version as they
  // are; it fills `puts`/`removes` (it may apply them to the local target first). If it
  // returns OK and there is something to write, the changes are written as version + 1
  // and *new_version (optional) is set to it; otherwise nothing is written, *new_version
  // is 0, and fn's error is returned unchanged. Keep fn well below lock_duration_sec.
  // state::errc::kLeaseLost after fn succeeded means the lock lease ran out and another gateway wrote:
  // the changes were NOT written (undo any local effect).
  using Mutation = std::function<Status(const StateMap& current, uint64_t version, StateMap* puts,
                                        std::vector<std::string>* removes)>;
  virtual Status Mutate(const Mutation& fn, uint64_t* new_version) = 0;

  // The address of this store's RADOS client instance (what fencing this gateway must
  // blocklist, gateway/ha); empty for the memory store. The RADOS store replaces a
  // blocklisted client by a new instance on its own thread (watch and state read again,
  // one log line), so the address can change.
  virtual std::vector<std::string> ClientAddresses() const { return {}; }
  // Registers this gateway in the Ceph service map (service "nvmeof", daemon `daemon`, with
  // `metadata`) through the store's cluster connection, so `ceph service dump` and
  // `ceph -s` list it (the managers keep the map). kNotSupported without a cluster.
  virtual Status RegisterService(const std::string& daemon, const std::map<std::string, std::string>& metadata) {
    (void)daemon;
    (void)metadata;
    return Status::Error(errc::kNotSupported, "the group state is not kept in Ceph");
  }
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
  // Defaults are the reference gateway's.
  // [gateway] state_update_notify: watch the object and notify it after each write.
  // false: poll only (every poll_interval_sec); writers still notify.
  bool watch = true;
  // [gateway] state_update_timeout_in_msec: how long a notify waits for the watchers' acks.
  // Notifies are sent asynchronously: a dead watcher never delays Put/Remove/Apply.
  uint32_t notify_timeout_ms = 2000;
  // Bound on reaching the cluster at open (rados client_mount_timeout).
  uint32_t connect_timeout_sec = 10;
  // Bound on any one RADOS operation (rados_osd_op_timeout, rados_mon_op_timeout); 0 = none.
  uint32_t op_timeout_sec = 30;
  // How long a writer retries while another holds the lock before failing with EBUSY;
  // 0 = lock_duration_sec + 10 (enough to outlive the lease of a writer that died).
  uint32_t lock_wait_sec = 0;
};
// Behaviour of both implementations:
//  * ReadAll's map and the subscriber's map hold the configured items only, not
//    omap_version (that is the `version` argument).
//  * Subscribe() before Start(). Start() calls the subscriber once, synchronously, with the
//    current state; afterwards it is called on the store's own thread, only for a version
//    greater than the last one it got, never for this store's own writes when nothing else
//    was written in between (when something was, it gets the full map, own writes included).
//  * Apply: a remove of an absent key is skipped (not an error); a key may not be both put
//    and removed; nothing to do = OK without a version step. Put/Remove/Apply reject the
//    key omap_version and empty keys (InvalidArgument).
//  * Errors (state::errc, gateway/state/errc.h): kLocked lock not obtained within
//    lock_wait_sec; kLeaseLost the version moved under the lock (a writer whose lease
//    expired wrote); kPoolNotFound / kObjectNotFound / kKeyNotFound; kPermissionDenied
//    (os_errno EPERM or EACCES); kTimedOut cluster unreachable; kBadKey. Messages name the
//    pool, object and client.
//  * Stop() (also done by the destructor) ends the thread and the watch; the subscriber is
//    not called after Stop() returns.
Result<std::unique_ptr<StateStore>> OpenRadosStateStore(const RadosStateOptions& opts);

// A store in local memory (a single gateway without Ceph, tests).
std::unique_ptr<StateStore> NewMemoryStateStore();

// Key spelling, the object name and the omap_version key: state_keys.h.

}  // namespace nvmeof
