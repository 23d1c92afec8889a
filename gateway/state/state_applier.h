// Replays the group state (a StateMap from a StateStore) onto this gateway's target.
//
// The subscriber of a StateStore hands every new map to StateApplier::Update(). The applier
// compares it with what the target already has and calls a StateTarget, one call per item,
// in an order that never creates an item before its parent nor removes a parent before its
// children:
//
//   marks     : keep-connected marks added
//   removals  : keep-connected marks -> auto-listeners -> listeners -> refresh-size marks
//               -> namespace hosts -> QoS -> hosts -> namespaces -> subsystems
//   additions : subsystems -> namespaces -> hosts -> QoS -> namespace hosts -> refresh-size marks
//               -> listeners -> auto-listeners
//
// All removals run before all additions and in-place changes, except the keep-connected
// marks added: they come first, so that a host removed in the same map (remove_host
// keep_connections writes both at once) keeps its connections. Within one kind the items
// go by (NQN, NSID numerically, host / address).
//
// A key whose value changed (same key, different JSON):
//   subsystem_  in place, ChangeSubsystem(old, new), when only dhchap_key, key_encrypted,
//               enable_ha, no_group_append or network_mask (add/del_subsystem_network) differ; otherwise it is a different subsystem
//               under the same NQN: RemoveSubsystem + AddSubsystem, and every unchanged
//               item under that NQN is removed before and added again after (replace).
//   namespace_  in place, ChangeNamespace(old, new), when only size (resize), anagrpid
//               (load balancing group), no_auto_visible, force, create_image, trash_image,
//               disable_auto_resize or location differ; otherwise (other image, UUID, block size,
//               backend...) a replace: its QoS and namespace hosts go and come back with it.
//   host_       in place, ChangeHost(old, new), when only keys (psk, dhchap_key,
//               dhchap_ctrlr_key, key_encrypted, psk_encrypted, ctrlr_key_encrypted)
//               differ; otherwise
//               RemoveHost + AddHost.
//   qos_        SetQos(new) (QoS limits are absolute). A removed qos_ key: ClearQos.
//   ns_host_    RemoveNamespaceHost + AddNamespaceHost.
//   listener_   RemoveListener(old) + AddListener(new).
//   ns-refresh-size_  (the newer reference's mark that a namespace without auto-resize was
//               resized; its value is the time of the resize) RefreshNamespaceSize: the
//               namespace follows its image's size. Added or changed: refresh, unless the
//               namespace itself is added by the same update (its device is new: refresh
//               false). Removed: ForgetRefreshSizeMark.
//   auto-listener_  RemoveAutoListener(old) + AddAutoListener(new).
//   keep-connected_ nothing (the key is the whole mark).
// Change* calls run in the addition phase, at their kind's place. JSON that is not an
// object makes the change a replace.
//
// What the target may rely on:
//  * Add*/Change*/SetQos get the JSON stored in the state (the request message that created
//    the item, proto field names), normalised so that its identity fields match the key:
//    subsystem_nqn (nqn for listeners), nsid, host_nqn, host_name, traddr and trsvcid are
//    always present and equal to what the key says (filled in from the key when absent;
//    a value that contradicts the key makes the item fail, without a call).
//    (RefreshNamespaceSize gets the key's NQN and NSID and the value as stored: not JSON.)
//  * No child is added unless its parent is there: a namespace, host, listener or
//    auto-listener needs its subsystem (a keep-connected mark needs nothing); a QoS,
//    namespace host or refresh-size mark needs its namespace. An item whose parent is
//    missing from the state or failed to apply is not passed to the target and stays pending.
//  * Add* returning AlreadyExists and Remove*/ClearQos returning NotFound count as done
//    (the gateway that made a change applies it to itself before writing it, and may see
//    it again here).
//  * AddListener/RemoveListener are called for the listeners of every gateway of the group;
//    the target opens only those whose host_name is its own (the others are for discovery).
//    AddAutoListener/RemoveAutoListener likewise, for every gateway's published
//    auto-listeners (the target's own are opened by the target itself, not from the state).
//  * Any other error leaves the item pending: the applier keeps the target's old value for
//    it (or its absence) and retries on the next Update() or Reconcile().
//  * Calls come from one thread at a time (StateApplier holds a mutex around the whole
//    update); a target must not call back into the applier.
//
// Keys this gateway does not know (lbgroup_, key-host_, ns-visibility-on_, ...: names the
// reference uses only in memory) are ignored and listed in the report. The
// reference's later spelling `ns-host_` of namespace host keys is read like `ns_host_`.
// Keys are parsed and values normalised by state_keys.h.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/state/state_keys.h"
#include "gateway/state/state_store.h"

namespace nvmeof {

// The gateway's target, as the applier sees it. Each call returns Status (see above for
// what AlreadyExists / NotFound mean). JSON arguments are the stored request messages:
// create_subsystem_req, namespace_add_req, add_host_req, namespace_set_qos_req,
// namespace_add_host_req, create_listener_req.
class StateTarget {
 public:
  virtual ~StateTarget() = default;

  virtual Status AddSubsystem(const std::string& json) = 0;
  virtual Status ChangeSubsystem(const std::string& old_json, const std::string& new_json) = 0;
  virtual Status RemoveSubsystem(const std::string& nqn) = 0;

  virtual Status AddNamespace(const std::string& json) = 0;
  virtual Status ChangeNamespace(const std::string& old_json, const std::string& new_json) = 0;
  virtual Status RemoveNamespace(const std::string& nqn, uint32_t nsid) = 0;

  virtual Status AddHost(const std::string& json) = 0;
  virtual Status ChangeHost(const std::string& old_json, const std::string& new_json) = 0;
  virtual Status RemoveHost(const std::string& nqn, const std::string& host_nqn) = 0;

  virtual Status SetQos(const std::string& json) = 0;
  virtual Status ClearQos(const std::string& nqn, uint32_t nsid) = 0;  // back to unlimited

  virtual Status AddNamespaceHost(const std::string& json) = 0;
  virtual Status RemoveNamespaceHost(const std::string& nqn, uint32_t nsid, const std::string& host_nqn) = 0;

  // `json` of RemoveListener is the create_listener_req the listener was added with.
  virtual Status AddListener(const std::string& json) = 0;
  virtual Status RemoveListener(const std::string& json) = 0;

  // The namespace's refresh-size mark (ns-refresh-size_) is now `value` (a time): with
  // `refresh`, another gateway resized the namespace's image, read its size again; without
  // (the namespace is added by the same update, its device is new), only remember the mark.
  // ForgetRefreshSizeMark: the mark is gone. Targets without such devices keep the defaults.
  virtual Status RefreshNamespaceSize(const std::string& /*nqn*/, uint32_t /*nsid*/, const std::string& /*value*/,
                                      bool /*refresh*/) {
    return Status::OK();
  }
  virtual Status ForgetRefreshSizeMark(const std::string& /*nqn*/, uint32_t /*nsid*/) { return Status::OK(); }

  // Another gateway's published auto-listener (create_listener_req, host_name = its
  // gateway name); `json` of RemoveAutoListener as for RemoveListener. Default: ignored.
  virtual Status AddAutoListener(const std::string&) { return Status::OK(); }
  virtual Status RemoveAutoListener(const std::string&) { return Status::OK(); }
  // A keep-connected mark (set_keep_host_connected_req): the host's removal keeps its
  // connections. Default: ignored.
  virtual Status SetKeepConnected(const std::string&) { return Status::OK(); }
  virtual Status ClearKeepConnected(const std::string& /*nqn*/, const std::string& /*host_nqn*/) { return Status::OK(); }
};

// One step of a plan.
struct StateOp {
  enum class Type { kRemove, kChange, kAdd };
  Type type = Type::kAdd;
  StateKey key;
  std::string key_string;  // the omap key as found in the state
  std::string old_json;    // kRemove, kChange
  std::string new_json;    // kAdd, kChange (not yet normalised)
};

// The ordered steps that take a target from `from` to `to` (pure; no parent checks, those
// happen while applying). omap_version and unknown keys are left out.
std::vector<StateOp> PlanStateChanges(const StateMap& from, const StateMap& to);

struct ApplyReport {
  size_t applied = 0;                                      // target calls that succeeded
  std::vector<std::pair<std::string, Status>> failed;      // key -> why (still pending)
  std::vector<std::string> ignored;                        // unknown / malformed keys
  bool ok() const { return failed.empty(); }
};

// Use with a StateStore (see docs/state.md; StateFollower in state_follower.h does this):
//   store->Subscribe([&](const StateMap& m, uint64_t v) { lock M; applier.Update(m, v); });
//   gRPC change: lock M; store->Mutate(fn /* validate, apply to target, fill changes */, &v);
//                if (v) applier.RecordLocal(puts, removes, v);
// The versions make the order of the two paths irrelevant: a map older than a local write
// (read before it, delivered after it) does not undo that write.
class StateApplier {
 public:
  explicit StateApplier(StateTarget* target) : target_(target) {}

  // Makes the target match `desired` (a full map from StateStore at `version`; omap_version
  // ignored). Local writes recorded with a greater version stay in force over it; a map
  // older than the last one given is not used (the call only retries pending items).
  ApplyReport Update(const StateMap& desired, uint64_t version);
  // Without versions (a single writer, e.g. the memory store): `desired` is the truth.
  ApplyReport Update(const StateMap& desired);
  // Retries what failed, against the last desired state (e.g. from a timer).
  ApplyReport Reconcile();
  // This gateway changed its own target and wrote the same change to the store as
  // `version`: record it as applied and desired, so that it is not applied twice and not
  // undone by an older map.
  void RecordLocal(const StateMap& puts, const std::vector<std::string>& removes, uint64_t version);
  // Without a version (single writer): the change becomes part of the last map.
  void RecordLocal(const StateMap& puts, const std::vector<std::string>& removes);
  // What the target has now, per the applier (keys -> JSON as stored).
  StateMap applied() const;
  // What the target should have: the last map plus newer local writes.
  StateMap desired() const;
  // Whether the last Update/Reconcile left items pending.
  bool pending() const;

 private:
  struct LocalWrite {
    std::optional<std::string> value;  // nullopt: removed
    uint64_t version = 0;
  };
  void RebuildDesiredLocked();
  ApplyReport ReconcileLocked();

  StateTarget* target_;
  mutable std::mutex mu_;
  StateMap applied_;
  StateMap base_;  // the last map given to Update
  uint64_t base_version_ = 0;
  std::map<std::string, LocalWrite> local_;  // local writes newer than base_
  StateMap desired_;
  bool pending_ = false;
};

}  // namespace nvmeof
