// The target model: subsystems, namespaces, allowed hosts, listeners and controllers, all
// changeable at runtime while hosts are connected, and the entry point for every command
// a transport receives (Target::Execute).
//
// Threads: the management plane calls the mutating API from any thread (it takes the
// target and subsystem mutexes and may block). Commands run on reactor threads; the I/O
// path reads the namespace table through a per-queue cached snapshot, so the only thing it
// touches that the control plane writes is one atomic generation counter per subsystem.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/protocol/nvme.h"
#include "gateway/nvmf/ana.h"
#include "gateway/nvmf/nvmf_probe.h"
#include "gateway/nvmf/request.h"
#include "gateway/nvmf/subsystem.h"
#include "gateway/nvmf/uuid.h"
#include "gateway/runtime/tls_stream.h"
#include "rbd-backend/block_device.h"

namespace nvmeof {

class Reactor;
class TransportRegistry;

// A live connection, for listings (reference API: list_connections).
struct ConnectionInfo {
  std::string hostnqn;
  uint16_t cntlid = 0;
  std::string traddr, trsvcid;
  std::string peer;
  uint32_t num_io_queues = 0;
  bool host_allowed = true;  // false: the host was removed and its connections kept
  bool secure = false;       // over TLS (a secure listener; TLS here is always with a PSK)
};

// Gateway-wide settings for the target.
struct TargetOptions {
  std::string gateway_name = "gateway";
  std::string group;
  uint16_t min_cntlid = 1;
  uint16_t max_cntlid = 0xFFEF;
  uint32_t max_queue_depth = 128;     // MQES + 1
  uint32_t max_io_queues = 16;        // per controller
  uint32_t in_capsule_data_size = 131072;  // I/O queues: writes up to 128 KiB skip R2T
  uint8_t mdts = 7;                   // 2^7 * 4 KiB = 512 KiB
  uint32_t max_h2c_data = 131072;
  uint32_t connect_timeout_ms = 30000;  // a connection must Connect a queue within this
  uint32_t anagrpmax = 1024;
  // The ANA state of a group nobody set a state for: inaccessible while an authority decides
  // which gateway serves the group (gateway-group HA, or the Ceph monitor client with
  // [gateway] ha = monitor).
  uint8_t unset_ana_state = nvme::kAnaOptimized;
  // The reference's [gateway] max_namespaces: namespaces of all subsystems of this gateway
  // (and the size of its per-namespace I/O slot table).
  uint32_t max_namespaces_per_gateway = 4096;
  std::string firmware_revision = "0.1.0";
  // DH-HMAC-CHAP: the hash functions and DH groups the controller picks from what a host
  // offers, most preferred first (wire identifiers: hash 1..3 SHA-256/384/512, group 0 NULL,
  // 1..5 FFDHE2048..8192). The NULL group first keeps DH work off the reactors unless the
  // host offers no NULL group.
  std::vector<uint8_t> dhchap_hashes = {3, 2, 1};
  std::vector<uint8_t> dhchap_dhgroups = {0, 1, 2, 3, 4, 5};
  // A queue that must authenticate and is not authenticated this long after its Connect (or
  // after a failed re-authentication) is closed: a host that never starts, stalls in the
  // middle of a transaction, or keeps a refused connection open. 0: never.
  uint32_t auth_timeout_ms = 10000;
  // Secure (TLS) listeners hand the record layer to the kernel (kernel TLS) where it can.
  bool tls_ktls = false;
};

class Target {
 public:
  explicit Target(TargetOptions opts);
  ~Target();

  const TargetOptions& options() const { return opts_; }

  // ------------------------------------------------------------ management plane
  Status AddSubsystem(const SubsystemSpec& spec);
  Status RemoveSubsystem(const std::string& nqn, bool force);
  std::shared_ptr<Subsystem> FindSubsystem(const std::string& nqn);
  std::vector<std::shared_ptr<Subsystem>> Subsystems();
  // Shuts every controller down (its queues close on their reactors) and waits, at most
  // timeout_ns, until no controller is left, so no queue pins a namespace any more: the
  // target's destruction then closes the devices (an RBD image's exclusive lock is released
  // instead of staying with an exiting client). For the daemon's stop, before the reactors
  // stop. Any thread but a reactor. Returns the number of controllers still left.
  size_t DisconnectAll(const char* reason, uint64_t timeout_ns);

  // The namespace limits (the reference's words): an NSID above the subsystem's
  // max_namespaces (kNsidOutOfRange, "Requested ID N is bigger than the maximal one (M)"),
  // the subsystem's max_namespaces ("Subsystem's maximal number of namespaces (M) has already
  // been reached") and max_namespaces_per_gateway ("Maximal number of namespaces (M) has
  // already been reached", both kTooManyNamespaces). AddNamespace applies them; callers
  // check before opening a device (nsid 0: any free NSID).
  Status CheckNamespaceLimits(const std::string& nqn, uint32_t nsid);
  // Adds a namespace over an opened device. Returns the NSID.
  Result<uint32_t> AddNamespace(const std::string& nqn, const NamespaceSpec& spec,
                                std::unique_ptr<BlockDevice> dev);
  Status RemoveNamespace(const std::string& nqn, uint32_t nsid);
  Status ResizeNamespace(const std::string& nqn, uint32_t nsid, uint64_t new_size_bytes);
  Status SetNamespaceAnaGroup(const std::string& nqn, uint32_t nsid, uint32_t anagrpid);
  // Visible to every allowed host, or only to the namespace's own hosts. Becoming visible
  // to all drops those hosts.
  Status SetNamespaceVisibility(const std::string& nqn, uint32_t nsid, bool auto_visible);
  Status AddNamespaceHost(const std::string& nqn, uint32_t nsid, const std::string& host);
  Status RemoveNamespaceHost(const std::string& nqn, uint32_t nsid, const std::string& host);
  Status SetNamespaceQos(const std::string& nqn, uint32_t nsid, const QosLimits& q);

  // "*" = allow any host. A host with keys: HostEntry (its secrets are never logged).
  Status AddHost(const std::string& nqn, const std::string& hostnqn);
  Status AddHost(const std::string& nqn, const HostEntry& host);
  // Replaces an allowed host's keys (DH-HMAC-CHAP host and controller key, PSK), checked as
  // AddHost checks them. Connected queues stay; the keys apply from the next authentication.
  Status ChangeHostKeys(const std::string& nqn, const HostEntry& host);
  // Removing a host disconnects its controllers (no longer allowed), unless
  // keep_connections, or SetKeepHostConnected marked the host: then they stay until they
  // end, and Connections() lists them with host_allowed false; new ones are refused.
  Status RemoveHost(const std::string& nqn, const std::string& hostnqn, bool keep_connections = false);
  // Marks an allowed host (not "*") so that its next removal keeps its connections.
  // kSubsystemNotFound, kHostNotAllowed.
  Status SetKeepHostConnected(const std::string& nqn, const std::string& hostnqn);
  // The TLS PSK for an NVMe TLS PSK identity a host offers on a secure listener
  // (gateway/nvmf/tls_psk.h): derived from the PSK the identity's host has on the identity's
  // subsystem (on any subsystem for the discovery NQN). NotFound / InvalidArgument saying
  // why the identity is refused. Any thread (a reactor during a TLS handshake).
  Result<TlsPsk> TlsPskFor(std::string_view identity);

  // Listeners belong to subsystems; the port opens while any subsystem uses it.
  Status AddListener(const std::string& nqn, const ListenerSpec& l);
  Status RemoveListener(const std::string& nqn, const ListenerSpec& l);
  // Discovery-only ports (the discovery subsystem is also reachable on every I/O port).
  Status AddDiscoveryListener(const ListenerSpec& l);
  // Listeners of the gateway group's other gateways (l.host_name names the gateway): never
  // opened here, listed in this gateway's discovery log page so that a host discovers
  // every path through any gateway. Each such port gets a port ID of its own (unique among
  // this gateway's ports, kept while a subsystem lists it). Adding or removing one raises
  // the Discovery Log Page Change notice. NotFound (subsystem), AlreadyExists, NotFound
  // (listener). Deleting the subsystem drops its peer listeners.
  Status AddPeerListener(const std::string& nqn, const ListenerSpec& l);
  Status RemovePeerListener(const std::string& nqn, const ListenerSpec& l);
  // A subsystem's peer listeners with their port IDs, by gateway then address.
  std::vector<std::pair<ListenerSpec, uint16_t>> PeerListeners(const std::string& nqn);

  // ANA (ana.h): a group's state on every path through this gateway, or a subsystem's own
  // state for a group (kept for a subsystem not created yet, until ForgetAnaState). One
  // change raises one ANA Change notice to the controllers concerned. NoDevice for a group
  // outside 1..anagrpmax, InvalidArgument for a state that is none.
  Status SetAnaGroupState(uint32_t grpid, uint8_t state);
  Status SetAnaState(const std::string& nqn, uint32_t grpid, uint8_t state);
  void ForgetAnaState(const std::string& nqn);
  uint8_t AnaState(const std::string& nqn, uint32_t grpid) const;
  const AnaTable& ana() const { return ana_; }

  // Drain (drain.cc): waits until no I/O command admitted for the namespaces of ANA group
  // `ana_group` (of any subsystem) / for namespace `nsid` of `subsystem_nqn` is in flight.
  // The caller first stops admission (the group's state INACCESSIBLE or CHANGE, the namespace
  // hidden or removed): the drain counts what was admitted before, and I/O still being
  // admitted keeps it waiting. First a barrier: every reactor that serves I/O queues runs an
  // empty task, so no command that read the old state is still being admitted; then the
  // reactors' counters are polled (relaxed loads; the I/O path only writes its own reactor's
  // counter). A command in flight at the change completes with the state's path status
  // (AnaStatus, io_cmds.cc), so the host's multipath retries it on another path.
  // Any thread but a reactor (it blocks). kDrainTimeout when commands are still in flight
  // after `timeout_ns` (one WARNING with their number), kAnaGroupNotFound for a group
  // outside 1..anagrpmax, kSubsystemNotFound / kNamespaceNotFound.
  Status DrainAnaGroup(uint32_t ana_group, uint64_t timeout_ns);
  Status DrainNamespace(const std::string& subsystem_nqn, uint32_t nsid, uint64_t timeout_ns);
  // The reactor's in-flight counters for queue qp (its reactor thread, first I/O command).
  void CountIoOn(QueuePair* qp);

  // The core's counters (nvmf_probe.h).
  NvmfProbe& probe() { return probe_; }

  // Connection I/O statistics (conn_io_stats.h; Controller::IoStats) on or off: off, the
  // transport times no command for them. On by default. Any thread.
  void set_conn_io_stats(bool on) { conn_io_stats_.store(on, std::memory_order_relaxed); }
  bool conn_io_stats() const { return conn_io_stats_.load(std::memory_order_relaxed); }
  // Per reactor counters (PollGroupCounters), for reactors 0..n-1 (at most
  // kMaxPollGroups): relaxed loads, any thread. Connect counts a queue it binds on its
  // reactor (QueueBound); QueueClosed takes it off.
  static constexpr int kMaxPollGroups = 256;
  struct PollGroupStats {
    uint64_t admin_qpairs = 0, io_qpairs = 0, current_admin_qpairs = 0, current_io_qpairs = 0;
    uint64_t pending_io = 0, completed_io = 0;
  };
  std::vector<PollGroupStats> PollGroups(int n) const;
  void QueueBound(QueuePair* qp);

  std::vector<ConnectionInfo> Connections(const std::string& nqn);
  // Whether a controller of the subsystem came in through listener `l` (ListenerSpec::Serves).
  bool HasConnectionsThrough(const std::string& nqn, const ListenerSpec& l);

  // Ports open and close through the transports registered here (not owned). Unset: ports
  // are only counted (tests of the core without a transport).
  void SetTransports(TransportRegistry* transports) { transports_ = transports; }

  // ------------------------------------------------------------ data plane
  // Runs one command received on qp. The target completes it through qp->Complete(),
  // possibly later (backend I/O).
  void Execute(QueuePair* qp, Request* req);
  // Batching: between qp->plugged = true and Unplug(qp), reads and writes Execute starts
  // may be held back, so that adjacent ones reach the backend as one I/O. The transport
  // plugs while it works through what one receive brought.
  void Unplug(QueuePair* qp);
  // The transport calls this when a queue goes away (connection closed).
  void QueueClosed(QueuePair* qp);
  // Frees a queue's namespace snapshots (when the queue is destroyed).
  static void ReleaseSnapshots(QueuePair* qp);

  std::shared_ptr<Subsystem> discovery() { return discovery_; }
  uint64_t discovery_genctr() const { return genctr_.load(); }
  // Raises the Discovery Log Page Change notice to every discovery controller.
  void DiscoveryChanged();
  // The discovery log page as host `hostnqn` sees it on `port` (the subsystems it may use).
  std::vector<uint8_t> DiscoveryLogPage(const std::string& hostnqn, const PortInfo& port);

  // Events to connected hosts.
  void NotifyNamespaceChanged(Subsystem& s, uint32_t nsid);
  void NotifyAnaChanged(Subsystem& s);

  std::vector<std::pair<ListenerSpec, uint16_t>> Ports();

 private:
  friend class Subsystem;
  Status OpenPort(const ListenerSpec& l);
  void ClosePortIfUnused(const ListenerSpec& l);
  std::shared_ptr<Subsystem> FindSubsystemLocked(const std::string& nqn);
  // Runs fn under the subsystem's mutex with the namespace; ENOENT / ENODEV when the
  // subsystem / namespace does not exist.
  Status WithNamespaceLocked(const std::string& nqn, uint32_t nsid,
                             const std::function<Status(Subsystem&, Namespace&)>& fn,
                             std::shared_ptr<Subsystem>* subsystem);
  Status ApplyQos(const std::string& nqn, Namespace& ns, const QosLimits& q);

  TargetOptions opts_;
  std::mutex mu_;  // subsystems_, ports_
  std::map<std::string, std::shared_ptr<Subsystem>> subsystems_;
  std::shared_ptr<Subsystem> discovery_;
  struct Port {
    uint16_t portid;
    int users;  // subsystems + discovery listeners
    bool discovery_listener;
  };
  std::map<ListenerSpec, Port> ports_;
  using PeerKey = std::pair<std::string, ListenerSpec>;  // gateway name, listener
  void DropPeerListenerLocked(const PeerKey& k);
  std::map<std::string, std::set<PeerKey>> peer_listeners_;  // by subsystem NQN
  std::map<PeerKey, Port> peer_ports_;                        // users = subsystems listing it
  uint16_t next_portid_ = 1;
  std::atomic<uint64_t> genctr_{1};
  TransportRegistry* transports_ = nullptr;
  std::atomic<uint32_t> total_namespaces_{0};
  AnaTable ana_;
  NvmfProbe probe_;
  std::atomic<bool> conn_io_stats_{true};
  std::unique_ptr<PollGroupCounters[]> poll_groups_{new PollGroupCounters[kMaxPollGroups]};

  // In-flight I/O counters (drain.cc): one block per reactor that served an I/O queue, one
  // counter per namespace slot; blocks live as long as the target. io_mu_ is a leaf lock.
  struct IoCounters {
    Reactor* reactor = nullptr;
    int queues = 0;  // its I/O queues not yet closed (io_mu_): the barrier's reactors
    std::unique_ptr<std::atomic<uint32_t>[]> mem;
    std::atomic<uint32_t>* counts = nullptr;  // 64-byte aligned into mem, one per slot
  };
  Status AllocateIoSlot(Namespace& ns);
  void ReleaseIoSlot(const Namespace& ns);
  void UncountQueue(QueuePair* qp);
  Status WaitDrained(const std::vector<std::shared_ptr<Namespace>>& nss, uint64_t timeout_ns,
                     const std::string& what);
  std::mutex io_mu_;
  std::vector<std::unique_ptr<IoCounters>> io_counters_;
  std::vector<uint32_t> free_io_slots_;
  uint32_t next_io_slot_ = 0;
};

}  // namespace nvmeof
