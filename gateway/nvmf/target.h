// The target model: subsystems, namespaces, allowed hosts, listeners and controllers, all
// changeable at runtime while hosts are connected, and the entry point for every command
// a transport receives (Target::Execute).
//
// Threads: the management plane calls the mutating API from any thread (it takes the
// target and subsystem mutexes and may block). Commands run on reactor threads; the I/O
// path reads the namespace table through a per-queue cached snapshot, so the only thing it
// touches that the control plane writes is one atomic generation counter per subsystem.
#pragma once

#include <array>
#include <tuple>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/protocol/nvme.h"
#include "gateway/nvmf/qos.h"
#include "gateway/nvmf/request.h"
#include "rbd-backend/block_device.h"

namespace nvmeof {

class Reactor;
class Target;
class TransportRegistry;
class Subsystem;

using Uuid = std::array<uint8_t, 16>;
std::string UuidToString(const Uuid& u);
bool ParseUuid(const std::string& s, Uuid* out);
Uuid RandomUuid();
Uuid NameUuid(const std::string& name);

// Per-namespace I/O statistics (reference API: namespace_get_io_stats).
struct NsStats {
  std::atomic<uint64_t> read_ops{0}, write_ops{0}, read_bytes{0}, write_bytes{0};
  std::atomic<uint64_t> read_ns{0}, write_ns{0}, unmap_ops{0}, errors{0};
};

// QoS limits; 0 = unlimited.
struct QosLimits {
  uint64_t rw_ios_per_second = 0;
  uint64_t rw_mbytes_per_second = 0;
  uint64_t r_mbytes_per_second = 0;
  uint64_t w_mbytes_per_second = 0;
  bool any() const {
    return rw_ios_per_second || rw_mbytes_per_second || r_mbytes_per_second || w_mbytes_per_second;
  }
};

struct NamespaceSpec {
  uint32_t nsid = 0;  // 0 = lowest free
  uint32_t block_size = 512;
  std::optional<Uuid> uuid;  // random if unset
  uint32_t anagrpid = 0;     // 0 = default group (1)
  bool auto_visible = true;
  // Description for listings (pool/image, backend kind).
  std::string rbd_pool, rbd_image, rados_namespace;
  std::string backend = "rbd";
};

class Namespace {
 public:
  Namespace(uint32_t nsid, const NamespaceSpec& spec, Uuid uuid, std::unique_ptr<BlockDevice> dev);

  uint32_t nsid() const { return nsid_; }
  const Uuid& uuid() const { return uuid_; }
  const Uuid& nguid() const { return uuid_; }  // NGUID = UUID bytes: stable and unique
  const std::array<uint8_t, 8>& eui64() const { return eui64_; }
  uint32_t block_size() const { return block_size_; }
  uint8_t lbads() const { return lbads_; }
  uint64_t num_blocks() const { return dev_->size() / block_size_; }
  uint32_t anagrpid() const { return anagrpid_.load(std::memory_order_relaxed); }
  bool auto_visible() const { return spec_.auto_visible; }
  const NamespaceSpec& spec() const { return spec_; }
  BlockDevice& dev() { return *dev_; }
  const BlockDevice& dev() const { return *dev_; }
  NsStats& stats() { return stats_; }
  QosLimiters& limiters() { return limiters_; }

  // Guarded by the owning subsystem's mutex.
  std::set<std::string> hosts;  // visible to these hosts when !auto_visible
  QosLimits qos;

 private:
  friend class Subsystem;
  friend class Target;
  uint32_t nsid_;
  NamespaceSpec spec_;
  Uuid uuid_;
  std::array<uint8_t, 8> eui64_;
  uint32_t block_size_;
  uint8_t lbads_;
  std::atomic<uint32_t> anagrpid_;
  std::unique_ptr<BlockDevice> dev_;
  NsStats stats_;
  QosLimiters limiters_;
};

// Immutable view of a subsystem's namespaces as one host on one port sees them.
struct NsTable {
  uint64_t gen = 0;
  std::vector<std::shared_ptr<Namespace>> by_nsid;  // index = NSID; null = inactive
  std::vector<uint8_t> ana_state;                   // index = NSID
  std::vector<uint32_t> active;                     // active NSIDs, ascending
};
struct NsSnapshot {
  std::shared_ptr<const NsTable> table;
  uint32_t inflight = 0;
  NsSnapshot* older = nullptr;  // retired snapshots still in use
};

// A listener address that accepts connections to any local address.
inline bool IsWildcardAddress(const std::string& a) { return a == "0.0.0.0" || a == "::"; }

struct ListenerSpec {
  std::string host_name;  // the gateway that opens it
  std::string traddr;
  std::string trsvcid = "4420";
  uint8_t adrfam = nvme::kAdrfamIpv4;
  bool secure = false;
  uint8_t trtype = nvme::kTrtypeTcp;  // the transport that opens it (transport.h)
  bool operator<(const ListenerSpec& o) const {
    return std::tie(trtype, traddr, trsvcid, adrfam) < std::tie(o.trtype, o.traddr, o.trsvcid, o.adrfam);
  }
  // True if a connection that came in on `port` reached this listener.
  bool Serves(const PortInfo& port) const {
    return trtype == port.trtype && trsvcid == port.trsvcid && (traddr == port.traddr || IsWildcardAddress(traddr));
  }
};

struct SubsystemSpec {
  std::string nqn;
  std::string serial;  // random if empty
  std::string model = "Ceph bdev Controller";
  uint32_t max_namespaces = 1024;
  bool allow_any_host = false;
  bool enable_ha = true;
};

// A live connection, for listings (reference API: list_connections).
struct ConnectionInfo {
  std::string hostnqn;
  uint16_t cntlid = 0;
  std::string traddr, trsvcid;
  std::string peer;
  uint32_t num_io_queues = 0;
};

class Controller;

class Subsystem {
 public:
  Subsystem(Target* target, SubsystemSpec spec, bool discovery);

  const std::string& nqn() const { return spec_.nqn; }
  const SubsystemSpec& spec() const { return spec_; }
  bool is_discovery() const { return discovery_; }
  uint64_t ns_gen() const { return ns_gen_.load(std::memory_order_acquire); }

  // Builds the table a host sees on a port (takes the mutex; control-plane speed).
  std::shared_ptr<const NsTable> BuildTable(const std::string& hostnqn, const PortInfo& port);

  bool HostAllowed(const std::string& hostnqn);
  bool OnPort(const PortInfo& port);
  uint8_t AnaState(const PortInfo& port, uint32_t grpid);
  std::shared_ptr<Namespace> GetNamespace(uint32_t nsid);
  std::vector<std::shared_ptr<Namespace>> Namespaces();
  std::vector<std::shared_ptr<Controller>> Controllers();
  uint32_t namespace_count();

  // Controller registry (cntlid allocation within the gateway's range).
  Result<uint16_t> AllocateCntlid(const std::shared_ptr<Controller>& c);
  void ReleaseCntlid(uint16_t cntlid);
  std::shared_ptr<Controller> FindController(uint16_t cntlid);

  std::mutex mu;  // guards everything below
  std::map<uint32_t, std::shared_ptr<Namespace>> namespaces;
  std::set<std::string> hosts;
  std::set<ListenerSpec> listeners;
  // ANA state per port key ("traddr:trsvcid") and group; default optimized.
  std::map<std::string, std::map<uint32_t, uint8_t>> ana;
  std::map<uint16_t, std::weak_ptr<Controller>> controllers;
  uint64_t ana_change_count = 0;

  void BumpGeneration() { ns_gen_.fetch_add(1, std::memory_order_acq_rel); }
  SubsystemSpec& mutable_spec() { return spec_; }

 private:
  Target* target_;
  SubsystemSpec spec_;
  bool discovery_;
  std::atomic<uint64_t> ns_gen_{1};
  uint16_t next_cntlid_ = 0;
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
  uint32_t max_namespaces_per_gateway = 16384;
  std::string firmware_revision = "0.1.0";
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

  // Adds a namespace over an opened device. Returns the NSID.
  Result<uint32_t> AddNamespace(const std::string& nqn, const NamespaceSpec& spec,
                                std::unique_ptr<BlockDevice> dev);
  Status RemoveNamespace(const std::string& nqn, uint32_t nsid);
  Status ResizeNamespace(const std::string& nqn, uint32_t nsid, uint64_t new_size_bytes);
  Status SetNamespaceAnaGroup(const std::string& nqn, uint32_t nsid, uint32_t anagrpid);
  Status AddNamespaceHost(const std::string& nqn, uint32_t nsid, const std::string& host);
  Status RemoveNamespaceHost(const std::string& nqn, uint32_t nsid, const std::string& host);
  Status SetNamespaceQos(const std::string& nqn, uint32_t nsid, const QosLimits& q);

  Status AddHost(const std::string& nqn, const std::string& hostnqn);  // "*" = allow any
  Status RemoveHost(const std::string& nqn, const std::string& hostnqn);

  // Listeners belong to subsystems; the port opens while any subsystem uses it.
  Status AddListener(const std::string& nqn, const ListenerSpec& l);
  Status RemoveListener(const std::string& nqn, const ListenerSpec& l);
  // Discovery-only ports (the discovery subsystem is also reachable on every I/O port).
  Status AddDiscoveryListener(const ListenerSpec& l);

  Status SetAnaState(const std::string& nqn, const std::string& traddr, const std::string& trsvcid,
                     uint32_t grpid, uint8_t state);

  std::vector<ConnectionInfo> Connections(const std::string& nqn);

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
  void DiscoveryChanged();

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
  uint16_t next_portid_ = 1;
  std::atomic<uint64_t> genctr_{1};
  TransportRegistry* transports_ = nullptr;
  std::atomic<uint32_t> total_namespaces_{0};
};

}  // namespace nvmeof
