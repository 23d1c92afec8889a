// GatewayService: the gRPC management API (api/gateway.proto, wire-compatible with
// the reference ceph-nvmeof as of 2026, v1.7 to v1.9) mapped onto the target model and the group
// state store. RPCs whose feature this gateway does not have answer ENOTSUP (rpc_current.cc).
//
// Every RPC answers the way the reference gateway does: gRPC OK with `status` = errno and
// an `error_message` that says what is wrong ("Failure adding namespace to NQN: ..."),
// except set_ana_state (status 1 on success) and get_subsystems (failures as gRPC INTERNAL).
//
// Mutations follow one path whether they come from a client or from the group state
// (another gateway's change, or the full state replayed at start-up):
//   * client RPC: validate -> apply to the Target -> persist the request JSON under the
//     reference key (roll the Target change back if persisting fails). Removals are
//     validated first, then persisted, then applied (a removal cannot be rolled back
//     without re-opening storage; validation under the service lock makes the Target step
//     succeed).
//   * group state: a StateFollower (gateway/state/state_follower.h) diffs the store's
//     snapshots against what this gateway has and calls the StateTarget methods below for
//     the rest only (its own writes, recorded with the follower, are not applied twice), in
//     a safe order: subsystems, namespaces, QoS, hosts, namespace hosts, listeners for
//     additions; the reverse for removals.
//
// Threads: RPCs run on gRPC threads and are serialised by one mutex (rpc_mutex(), the
// reference's RPC lock); the group state is applied on the StateFollower's thread, which
// holds the same mutex; load balancing (BalanceStep, RebalanceStep) runs on a LoadBalancer's
// thread (load_balancer.h) and takes the same mutex. The service has no thread of its own.
// Nothing here runs on a reactor; opening a backend (librbd, files) blocks only the calling
// thread.
//
// This header is the whole public surface. The implementation is split by kind of work:
// frontend.cc (the client path: Persist, the state lookups, the Target steps shared with
// replay), backend.cc (the StateTarget methods: replay of the group state), one file per RPC
// family (rpc_subsystem.cc, rpc_namespace.cc, rpc_host.cc, rpc_listener.cc, rpc_gateway.cc:
// ANA, info, log levels), auto_listeners.cc (subsystem network masks: the listeners each
// gateway opens on its own addresses inside them), balance.cc (load balancing: hand-overs and rebalancing),
// service.cc (construction, opening devices), and the private
// service_internal.h (reply conventions and conversions they share).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/gateway.grpc.pb.h"
#include "api/load_balance.h"
#include "api/state_secrets.h"
#include "gateway/common/status.h"
#include "gateway/state/state_applier.h"
#include "gateway/state/state_follower.h"
#include "gateway/state/state_store.h"
#include "gateway/nvmf/target.h"
#include "rbd-backend/block_device.h"
#include "rbd-backend/device_factory.h"

namespace nvmeof::api {

struct ServiceOptions {
  std::string gateway_name;  // this gateway's name ([gateway] name)
  std::string group;         // appended to subsystem NQNs unless no_group_append
  // The host name ([gateway] override_hostname, default gethostname). A listener is this
  // gateway's (opened here) when its host_name is the host name or the gateway name.
  std::string hostname;
  std::string addr, port;    // the gRPC address, reported by get_gateway_info
  std::string version;       // gateway version (get_gateway_info); NVMEOF_VERSION overrides
  uint32_t load_balancing_group = 1;  // ANA group of new namespaces without one
  bool verify_nqns = true;            // NQN syntax checks ([gateway] verify_nqns)
  // The reference's limits (config_registry.py keys and defaults, [gateway] section),
  // enforced on every addition, from a client or from the group state: max_subsystems,
  // max_namespaces_per_subsystem (a subsystem's max_namespaces when create_subsystem gives
  // none), max_hosts and max_hosts_per_subsystem (specific hosts, not "*"),
  // max_hosts_per_namespace. max_namespaces (per gateway) is
  // TargetOptions::max_namespaces_per_gateway. Checks: validate.h ("Limits") and
  // Target::CheckNamespaceLimits; E2BIG with the reference's messages.
  uint32_t default_max_namespaces = 512;
  uint32_t max_subsystems = 128;
  uint32_t max_hosts = 2048;
  uint32_t max_hosts_per_subsystem = 128;
  uint32_t max_hosts_per_namespace = 16;
  std::string location;  // stretch-cluster site of this gateway ([gateway] location)
  // set_ana_state sets a group's state for the whole gateway (one AnaTable change) when the
  // request gives it one state for every subsystem: the Ceph monitor client's requests
  // ([gateway] ha = monitor). Otherwise, and for partial requests, per subsystem.
  bool ana_by_group = false;
  // Keys at rest (api/state_secrets.h): secrets written to the group state are sealed with
  // the operator's key, secrets read from it are opened.
  KeyEncryption key_encryption;
  // The local addresses auto-listeners (subsystem network masks) may open on
  // ([gateway] auto_listener_addresses); empty: every address of the address source.
  std::vector<std::string> auto_listener_addresses;
};

// Load balancing over the ANA groups gateways can own (docs/ha.md, "Load balancing"), for a
// gateway group with HA. The functions are called with the RPC lock held and must not call
// back into the service.
struct LoadBalancing {
  std::function<std::set<uint32_t>()> groups;  // groups a gateway can own: the members' home groups
  std::function<std::set<uint32_t>()> owned;   // groups this gateway serves now
  std::function<bool()> leader;                // whether this gateway plans the rebalancing now
  uint32_t max_ns_to_change_lb_grp = 8;        // moves in progress at most (the reference's name)
  uint64_t drain_timeout_ns = 10'000'000'000;  // bound on draining one namespace at a hand-over
};

// One thread's busy and idle time (get_thread_stats), in nanoseconds.
struct ThreadStats {
  std::string name;
  uint64_t busy_ns = 0, idle_ns = 0;
};

class GatewayService final : public ::Gateway::Service, public StateTarget {
 public:
  // `store` may be null (state kept in this process only). Neither is owned.
  GatewayService(Target* target, StateStore* store, ServiceOptions opts);
  ~GatewayService() override;

  // Opens the devices of new namespaces (not owned). Unset: memory and file devices only;
  // rbd namespaces are answered ENODEV ("RBD namespaces are not available").
  void SetDeviceFactory(DeviceFactory* devices);
  // The follower of the group state (gateway/state/state_follower.h), built on this service
  // and rpc_mutex(): this service records its own writes with it. Set once, before serving;
  // unset, nothing is recorded (no group state).
  void SetStateFollower(StateFollower* follower);
  // The threads get_thread_stats reports (the reactors, i-th = reactor i; get_gateway_stats
  // reports a poll group for each); called on a gRPC thread. Unset: get_thread_stats and
  // get_gateway_stats answer ENOTSUP. Set once, before serving.
  void SetThreadStatsSource(std::function<std::vector<ThreadStats>()> source) { thread_stats_ = std::move(source); }
  // The gateway's own addresses, for auto-listeners (auto_listeners.cc): numeric IPv4/IPv6
  // addresses, filtered by ServiceOptions::auto_listener_addresses. Unset: the addresses of
  // the interfaces that are up (InterfaceAddresses). Called with the RPC lock held, on the
  // thread that applies a change. Set once, before serving.
  void SetAddressSource(std::function<std::vector<std::string>()> source) { addresses_ = std::move(source); }
  // Turns load balancing on (gateway-group HA): namespace_add without a group picks the
  // least loaded of lb.groups(), a group outside them is refused (ENODEV, as the reference),
  // and group changes are handed over (BalanceStep). Unset (HA off): a namespace without a
  // group gets ServiceOptions::load_balancing_group, any group 1..anagrpmax is accepted and
  // a change applies at once on every gateway. Set once, from any thread.
  void SetLoadBalancing(LoadBalancing lb);
  // One pass of the hand-over protocol on this gateway (LoadBalancer's thread, or tests):
  // each namespace whose group in the group state differs from the target's moves on this
  // gateway when no hand-over is recorded for it, or when this gateway owns its current
  // group (then it stops serving it here, drains it and removes the hand-over record).
  // Takes the RPC lock for each change, never while draining or reading the store. Returns
  // whether a move is still waiting here.
  bool BalanceStep();
  // The leader's rebalancing (LoadBalancer's thread every rebalance_period_sec, or tests):
  // when lb.leader(), plans with PlanRebalance (load_balance.h) on the store's current state
  // under the group lock, at most max_ns_to_change_lb_grp moves in progress at once, and
  // writes each move (the namespace's new group and its hand-over record) in one version
  // step. Returns the number of moves written (0 when not the leader or nothing to move).
  Result<size_t> RebalanceStep();

  // The RPC lock: one management operation at a time. The StateFollower holds it while it
  // applies the group state through the StateTarget methods below.
  std::mutex& rpc_mutex() { return mu_; }

  // A gateway that left the group for good (its HA member record removed): removes its
  // auto-listener_ keys from the group state in one write and drops its auto-listeners from
  // this gateway's listings and discovery; every other gateway drops them when it applies
  // the removal. Takes the RPC lock; returns the number of keys removed, or the store's error.
  Result<size_t> WithdrawGatewayAutoListeners(const std::string& gateway_name);

  // The group state as this gateway knows it (keys -> JSON), for tests and diagnostics.
  StateMap LocalState();

  // ------------------------------------------------------------------- RPCs
  using SC = ::grpc::ServerContext;
  ::grpc::Status namespace_add(SC*, const namespace_add_req*, nsid_status*) override;
  ::grpc::Status create_subsystem(SC*, const create_subsystem_req*, subsys_status*) override;
  ::grpc::Status delete_subsystem(SC*, const delete_subsystem_req*, req_status*) override;
  ::grpc::Status list_namespaces(SC*, const list_namespaces_req*, namespaces_info*) override;
  ::grpc::Status namespace_resize(SC*, const namespace_resize_req*, req_status*) override;
  ::grpc::Status namespace_get_io_stats(SC*, const namespace_get_io_stats_req*,
                                        namespace_io_stats_info*) override;
  ::grpc::Status namespace_set_qos_limits(SC*, const namespace_set_qos_req*, req_status*) override;
  ::grpc::Status namespace_change_load_balancing_group(SC*, const namespace_change_load_balancing_group_req*,
                                                       req_status*) override;
  ::grpc::Status namespace_delete(SC*, const namespace_delete_req*, req_status*) override;
  ::grpc::Status namespace_add_host(SC*, const namespace_add_host_req*, req_status*) override;
  ::grpc::Status namespace_delete_host(SC*, const namespace_delete_host_req*, req_status*) override;
  ::grpc::Status add_host(SC*, const add_host_req*, req_status*) override;
  ::grpc::Status remove_host(SC*, const remove_host_req*, req_status*) override;
  ::grpc::Status list_hosts(SC*, const list_hosts_req*, hosts_info*) override;
  ::grpc::Status list_connections(SC*, const list_connections_req*, connections_info*) override;
  ::grpc::Status create_listener(SC*, const create_listener_req*, req_status*) override;
  ::grpc::Status delete_listener(SC*, const delete_listener_req*, req_status*) override;
  ::grpc::Status list_listeners(SC*, const list_listeners_req*, listeners_info*) override;
  ::grpc::Status list_subsystems(SC*, const list_subsystems_req*, subsystems_info_cli*) override;
  ::grpc::Status get_subsystems(SC*, const get_subsystems_req*, subsystems_info*) override;
  ::grpc::Status set_ana_state(SC*, const ana_info*, req_status*) override;
  ::grpc::Status get_spdk_nvmf_log_flags_and_level(SC*, const get_spdk_nvmf_log_flags_and_level_req*,
                                                   spdk_nvmf_log_flags_and_level_info*) override;
  ::grpc::Status disable_spdk_nvmf_logs(SC*, const disable_spdk_nvmf_logs_req*, req_status*) override;
  ::grpc::Status set_spdk_nvmf_logs(SC*, const set_spdk_nvmf_logs_req*, req_status*) override;
  ::grpc::Status get_gateway_info(SC*, const get_gateway_info_req*, gateway_info*) override;
  ::grpc::Status get_gateway_log_level(SC*, const get_gateway_log_level_req*, gateway_log_level_info*) override;
  ::grpc::Status set_gateway_log_level(SC*, const set_gateway_log_level_req*, req_status*) override;
  // Added by the reference after 1.3 (rpc_current.cc).
  ::grpc::Status change_subsystem_key(SC*, const change_subsystem_key_req*, req_status*) override;
  ::grpc::Status add_subsystem_network(SC*, const add_subsystem_network_req*, req_status*) override;
  ::grpc::Status del_subsystem_network(SC*, const del_subsystem_network_req*, req_status*) override;
  ::grpc::Status gw_refresh_network(SC*, const gw_refresh_network_req*, gw_refresh_network_status*) override;
  ::grpc::Status add_kmip_server_endpoints(SC*, const add_kmip_server_endpoints_req*, req_status*) override;
  ::grpc::Status del_kmip_server_endpoints(SC*, const del_kmip_server_endpoints_req*, req_status*) override;
  ::grpc::Status list_kmip_server_endpoints(SC*, const list_kmip_server_endpoints_req*,
                                            kmip_server_endpoints_info*) override;
  ::grpc::Status list_namespaces_io_stats(SC*, const list_namespaces_io_stats_req*,
                                          list_namespaces_io_stats_info*) override;
  ::grpc::Status namespace_change_visibility(SC*, const namespace_change_visibility_req*, req_status*) override;
  ::grpc::Status namespace_change_location(SC*, const namespace_change_location_req*, req_status*) override;
  ::grpc::Status namespace_set_rbd_trash_image(SC*, const namespace_set_rbd_trash_image_req*, req_status*) override;
  ::grpc::Status namespace_set_auto_resize(SC*, const namespace_set_auto_resize_req*, req_status*) override;
  ::grpc::Status namespace_unpin(SC*, const namespace_unpin_req*, req_status*) override;
  ::grpc::Status set_keep_host_connected(SC*, const set_keep_host_connected_req*, req_status*) override;
  ::grpc::Status change_host_key(SC*, const change_host_key_req*, req_status*) override;
  ::grpc::Status get_connection_io_statistics(SC*, const get_connection_io_statistics_req*,
                                              connection_io_statistics*) override;
  ::grpc::Status show_gateway_listeners_info(SC*, const show_gateway_listeners_info_req*,
                                             gateway_listeners_info*) override;
  ::grpc::Status get_gateway_stats(SC*, const get_gateway_stats_req*, gateway_stats_info*) override;
  ::grpc::Status get_thread_stats(SC*, const get_thread_stats_req*, thread_stats_info*) override;
  ::grpc::Status set_gateway_io_stats_mode(SC*, const set_gateway_io_stats_mode_req*, req_status*) override;

  // ------------------------------------------------------------------- StateTarget
  // Called by the applier on the StateFollower's thread (or from its Replay/Reconcile), with
  // the RPC lock held.
  Status AddSubsystem(const std::string& json) override;
  Status ChangeSubsystem(const std::string& old_json, const std::string& new_json) override;
  Status RemoveSubsystem(const std::string& nqn) override;
  Status AddNamespace(const std::string& json) override;
  Status ChangeNamespace(const std::string& old_json, const std::string& new_json) override;
  Status RemoveNamespace(const std::string& nqn, uint32_t nsid) override;
  Status AddHost(const std::string& json) override;
  Status ChangeHost(const std::string& old_json, const std::string& new_json) override;
  Status RemoveHost(const std::string& nqn, const std::string& host_nqn) override;
  Status SetQos(const std::string& json) override;
  Status ClearQos(const std::string& nqn, uint32_t nsid) override;
  Status AddNamespaceHost(const std::string& json) override;
  Status RemoveNamespaceHost(const std::string& nqn, uint32_t nsid, const std::string& host_nqn) override;
  Status AddListener(const std::string& json) override;
  Status RemoveListener(const std::string& json) override;
  Status RefreshNamespaceSize(const std::string& nqn, uint32_t nsid, const std::string& value, bool refresh) override;
  Status ForgetRefreshSizeMark(const std::string& nqn, uint32_t nsid) override;
  Status AddAutoListener(const std::string& json) override;
  Status RemoveAutoListener(const std::string& json) override;
  Status SetKeepConnected(const std::string& json) override;
  Status ClearKeepConnected(const std::string& nqn, const std::string& host_nqn) override;

 private:
  // Persistence (mu_ held): writes the change to the store under the group lock (Mutate),
  // after `check` passed against the group's current state (cross-gateway races: a
  // subsystem, NSID or listener another gateway just created); then state_ and the
  // follower's record. *conflict tells a failed check (its status is returned) from a
  // store failure.
  using Check = std::function<Status(const StateMap& current)>;
  bool IsLocal(const std::string& host_name) const;
  Status Persist(const StateMap& puts, const std::vector<std::string>& removes, const Check& check = nullptr,
                 bool* conflict = nullptr);
  // Persist with the changes computed from the group's current state (under the group lock);
  // a failure of `fn` is a conflict. Hand-over records are written to the store only, never
  // to state_ (the applier does not follow them).
  using Compute = std::function<Status(const StateMap& current, StateMap* puts, std::vector<std::string>* removes)>;
  Status PersistComputed(const Compute& fn, bool* conflict = nullptr);
  // Load balancing (mu_ held): the namespaces of the group state with their groups.
  std::vector<LbNamespace> LbNamespaces(const StateMap& m);
  // A stored namespace_add_req's group (0: does not parse); parsed once per value.
  uint32_t StateGroupOf(const std::string& key, const std::string& json);
  // Removes a hand-over record if it still holds `value` (store only). mu_ not needed.
  Status RemoveHandover(const std::string& key, const std::string& value);
  // Auto-listeners (auto_listeners.cc, mu_ held): opens a listener on each own address
  // inside one of `req`'s network masks on its port (default 4420), and closes the ones
  // opened before that no mask covers any more (req null: all of the subsystem's). Appends
  // "ADDR:PORT" of each to *added / *removed; returns the first failure to open one.
  Status ReconcileAutoListeners(const std::string& nqn, const create_subsystem_req* req,
                                std::vector<std::string>* added = nullptr, std::vector<std::string>* removed = nullptr);
  // The same from the subsystem's stored request in state_.
  Status ReconcileAutoListeners(const std::string& nqn);
  bool IsAutoListener(const std::string& nqn, const ListenerSpec& l) const;
  // Writes this gateway's auto-listeners to the group state (auto-listener_ keys under its
  // gateway name, docs/state.md) when they changed since the last write: adds the new ones,
  // removes the closed ones and any other of its own keys (stale ones of an earlier run, or
  // of subsystems gone). mu_ held; never from the StateTarget calls (the follower's
  // after-apply hook and the RPCs that change masks call it). A failure is logged and the
  // write retried at the next call.
  void PublishAutoListeners();
  // The limits for one more subsystem, host (specific, not "*") or namespace host on this
  // gateway (mu_ held): validate.h's check functions on the Target's counts.
  Status SubsystemLimit();
  Status HostLimits(const std::shared_ptr<Subsystem>& s);
  Status NamespaceHostLimit(const std::shared_ptr<Subsystem>& s, uint32_t nsid);
  std::vector<std::string> SubsystemKeys(const std::string& nqn);
  std::vector<std::string> NamespaceKeys(const std::string& nqn, uint32_t nsid);
  Result<uint32_t> AddNamespaceToTarget(const namespace_add_req& req, uint32_t anagrpid);
  // The device spec of a namespace's stored request.
  static DeviceSpec DeviceSpecOf(const namespace_add_req& req, uint32_t anagrpid);
  // Moves a deleted namespace's image to the RBD trash (ImageTrashedOnDelete) once the
  // target has dropped the namespace (`ns` expired: its device closed; waited for a bounded
  // time). Blocks the calling gRPC thread; a failure is logged, the deletion stands.
  void TrashImageOfDeleted(const namespace_add_req& req, const std::weak_ptr<Namespace>& ns);
  void RemoveSubsystemFromTarget(const std::string& nqn);
  std::string ImageUsedBy(const std::string& image);  // RbdImagePath
  // The subsystem's DH-HMAC-CHAP key in the group state as stored, sealed or not (empty:
  // none): for presence; OpenSubsystemKey gives it in clear (an error when it cannot be
  // opened: StateSecrets::Open).
  std::string SubsystemDhchapKey(const std::string& nqn) const;
  Result<std::string> OpenSubsystemKey(const std::string& nqn) const;
  // The subsystem request to store: its key sealed; without an encryption key (sealing on),
  // the reference's placeholder instead of the key, and a warning.
  create_subsystem_req SealedSubsystem(create_subsystem_req r) const;
  // Logs that the group state item `key` cannot be served as it is (its secrets do not
  // open), once per value of the item.
  void ReportUnopened(const std::string& key, const std::string& value, const std::string& what, const Status& st);
  // Gives the subsystem's hosts their keys again after its key changed (the subsystem key is
  // the implicit controller key of hosts without one of their own).
  Status ApplySubsystemKeyToHosts(const std::string& nqn);
  // The Target's entry for a stored add_host_req (parsed into *req), its keys and the
  // subsystem's opened; when they do not open, the reason (reported once).
  Result<HostEntry> StoredHostEntry(const std::string& json, add_host_req* req);
  // Rewrites the namespace's stored namespace_add_req with edit() applied, unless edit
  // returns false (nothing changes), removing the keys of `also_remove` that exist in the
  // same write. NotFound when the group state has no entry for it.
  Status EditNamespaceRequest(const std::string& nqn, uint32_t nsid,
                              const std::function<bool(namespace_add_req*)>& edit,
                              const std::vector<std::string>& also_remove = {});
  // What a namespace_ key's JSON says, parsed once per distinct value: namespace_add
  // checks every namespace of the group, which must not cost a JSON parse per namespace.
  struct NsInfo {
    std::string json;
    bool parsed = false;
    std::string nqn, uuid, image;  // image: RbdImagePath
    bool rbd = true;
    uint32_t nsid = 0, group = 0;  // group: anagrpid as stored (0: none)
  };
  const NsInfo& NamespaceInfo(const std::string& key, const std::string& json);
  std::mutex ns_cache_mu_;
  std::unordered_map<std::string, NsInfo> ns_cache_;

  Target* target_;
  StateStore* store_;
  ServiceOptions opts_;
  DeviceFactory no_rbd_devices_;
  DeviceFactory* devices_ = &no_rbd_devices_;
  StateFollower* follower_ = nullptr;
  LoadBalancing lb_;  // lb_.groups unset: HA off (mu_)

  std::mutex mu_;   // the RPC lock: one management operation at a time
  StateMap state_;  // the group state as this gateway knows it
  StateSecrets secrets_;                          // from opts_.key_encryption
  std::map<std::string, std::string> reported_;  // ReportUnopened: state key -> value reported
  int spdk_log_level_ = 2, spdk_print_level_ = 3;  // NOTICE, INFO (no-op)
  std::function<std::vector<ThreadStats>()> thread_stats_;
  std::function<std::vector<std::string>()> addresses_;               // SetAddressSource
  std::map<std::string, std::set<ListenerSpec>> auto_listeners_;      // NQN -> opened here (mu_)
  bool auto_published_ = false;  // auto_listeners_ is what the group state says (mu_)
};

// The numeric addresses of this machine's interfaces that are up (getifaddrs), IPv4 and
// IPv6 without link-local IPv6 ones (they need a scope); any thread.
std::vector<std::string> InterfaceAddresses();

}  // namespace nvmeof::api
