// Subsystems and their namespaces: what a subsystem holds (namespaces, allowed hosts,
// listeners, controllers) and the per-host namespace table the I/O path reads.
//
// Threads: the Target's management methods change a subsystem under its mutex (any thread,
// may block). Reactors read the namespace table through a per-queue snapshot (NsTable,
// NsSnapshot): the only thing the I/O path reads that the control plane writes is the
// subsystem's atomic generation counter (ns_gen).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/nvmf/errc.h"
#include "gateway/protocol/nvme.h"
#include "gateway/nvmf/nvmf_probe.h"
#include "gateway/nvmf/qos.h"
#include "gateway/nvmf/request.h"
#include "gateway/nvmf/uuid.h"
#include "rbd-backend/block_device.h"

namespace nvmeof {

class Controller;
class Target;
class Subsystem;

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
  // Write protected: Identify Namespace reports NSATTR bit 0, and every command that would
  // change the data (Write, Write Zeroes, Dataset Management deallocate) fails with
  // Namespace is Write Protected (SCT 0h, SC 20h) before reaching the device.
  bool read_only = false;
  // Description for listings (pool/image, backend kind).
  std::string rbd_pool, rbd_image, rados_namespace;
  std::string backend = "rbd";
};

// A host allowed on a subsystem, or given a namespace, with what it authenticates with.
// The secrets are never logged and never copied into views: listings say only whether one
// is set. DH-HMAC-CHAP uses the host and controller keys (gateway/nvmf/auth.h); the PSK
// (interchange format, gateway/nvmf/tls_psk.h) admits the host on secure (TLS) listeners
// (Target::TlsPskFor).
struct HostEntry {
  std::string nqn;
  std::optional<std::string> dhchap_key;        // DH-HMAC-CHAP host key
  std::optional<std::string> dhchap_ctrlr_key;  // DH-HMAC-CHAP controller key (bidirectional)
  std::optional<std::string> psk;               // TLS pre-shared key
};

// A host as listings show it.
struct HostView {
  std::string nqn;
  bool dhchap = false;  // a DH-HMAC-CHAP key is set
  bool psk = false;     // a TLS PSK is set
};

// Hosts by NQN.
using HostMap = std::map<std::string, HostEntry>;

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
  bool auto_visible() const { return spec_.auto_visible; }  // subsystem mutex (Target::SetNamespaceVisibility)
  const NamespaceSpec& spec() const { return spec_; }
  BlockDevice& dev() { return *dev_; }
  const BlockDevice& dev() const { return *dev_; }
  NsStats& stats() { return stats_; }
  QosLimiters& limiters() { return limiters_; }
  // Index of this namespace's in-flight counter in each reactor's counters (QueuePair::
  // io_counts), unique among the target's namespaces; set before the namespace is published.
  uint32_t io_slot() const { return io_slot_; }

 private:
  friend class Subsystem;
  friend class Target;
  // Guarded by the owning subsystem's mutex.
  HostMap hosts_;  // visible to these hosts when !auto_visible
  QosLimits qos_;
  uint32_t nsid_;
  NamespaceSpec spec_;
  Uuid uuid_;
  std::array<uint8_t, 8> eui64_;
  uint32_t block_size_;
  uint8_t lbads_;
  std::atomic<uint32_t> anagrpid_;
  uint32_t io_slot_ = 0;
  std::unique_ptr<BlockDevice> dev_;
  NsStats stats_;
  QosLimiters limiters_;
};

// Immutable view of a subsystem's namespaces as one host sees them.
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
  bool secure = false;  // TLS only (a port is secure or not for all its subsystems)
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

// A namespace as listings show it (a copy, taken under the subsystem's mutex).
struct NamespaceView {
  uint32_t nsid = 0;
  Uuid uuid{};
  uint32_t block_size = 0;
  uint64_t size_bytes = 0;
  uint32_t anagrpid = 0;
  bool auto_visible = true;
  NamespaceSpec spec;               // as added: pool/image, backend kind
  std::string device_description;  // BlockDevice::info().description (a file's path)
  std::string client_address;      // BlockDevice::client_address() (RBD: the RADOS client)
  bool image_shrunk = false;       // BlockDevice::shrunk_from_outside()
  QosLimits qos;
  std::vector<std::string> hosts;  // visible to these hosts when !auto_visible, sorted
};

// A subsystem as listings show it (a copy, taken under its mutex).
struct SubsystemView {
  SubsystemSpec spec;  // allow_any_host as it is now
  std::vector<ListenerSpec> listeners;
  std::vector<HostView> hosts;            // allowed hosts, by NQN
  std::vector<NamespaceView> namespaces;  // ascending NSID
};

// "bdev_<uuid>": the name the reference gives a namespace's block device (API listings,
// metrics labels).
std::string BdevName(const Uuid& u);

// A serial number for a subsystem created without one: "Ceph" and a random number from 2
// to 99999999999999 (what the reference gateway generates).
std::string RandomSerialNumber();

class Subsystem {
 public:
  Subsystem(Target* target, SubsystemSpec spec, bool discovery);

  const std::string& nqn() const { return spec_.nqn; }
  // The settings fixed at creation (nqn, serial, model, max_namespaces); allow_any_host
  // here is the value at creation: the current one is AllowsAnyHost() / View().
  const SubsystemSpec& spec() const { return spec_; }
  bool is_discovery() const { return discovery_; }
  uint64_t ns_gen() const { return ns_gen_.load(std::memory_order_acquire); }

  // Builds the table a host sees, with each namespace's ANA state (takes the mutex and
  // the Target's ANA table's; control-plane speed).
  std::shared_ptr<const NsTable> BuildTable(const std::string& hostnqn);

  // Reads (each takes the mutex; control-plane speed).
  SubsystemView View();
  // ENODEV (NoDevice) if the namespace does not exist.
  Result<NamespaceView> NamespaceInfo(uint32_t nsid);
  bool HostAllowed(const std::string& hostnqn);  // may connect
  bool AllowsAnyHost();
  bool HasHost(const std::string& hostnqn);  // in the host list
  // The host's entry with its keys (nullopt if not in the host list).
  std::optional<HostEntry> FindHost(const std::string& hostnqn);
  bool HasListener(const ListenerSpec& l);
  std::vector<ListenerSpec> Listeners();
  bool OnPort(const PortInfo& port);
  // Whether the NSID is taken; which namespace has this UUID. Target::AddNamespace refuses
  // a namespace that repeats either.
  bool HasNamespace(uint32_t nsid);
  std::optional<uint32_t> NamespaceWithUuid(const Uuid& uuid);
  // The live namespace (null if none): for its device and counters.
  std::shared_ptr<Namespace> GetNamespace(uint32_t nsid);
  std::vector<std::shared_ptr<Namespace>> Namespaces();
  std::vector<std::shared_ptr<Controller>> Controllers();
  uint32_t namespace_count();

  // Controller registry (cntlid allocation within the gateway's range).
  Result<uint16_t> AllocateCntlid(const std::shared_ptr<Controller>& c);
  void ReleaseCntlid(uint16_t cntlid);
  std::shared_ptr<Controller> FindController(uint16_t cntlid);

  // Hosts whose last controller was torn down by its keep alive timeout (reference API:
  // list_hosts' disconnected_due_to_keepalive_timeout). A host leaves the set when it
  // creates a controller again.
  void NoteKeepAliveTimeout(const std::string& hostnqn);
  std::set<std::string> KeepAliveTimedOutHosts();

 private:
  // Changes are Target methods: they take mu_ and raise the events hosts must see.
  friend class Target;
  void BumpGeneration() { ns_gen_.fetch_add(1, std::memory_order_acq_rel); }
  NamespaceView ViewLocked(const Namespace& ns) const;
  bool NsidUsedLocked(uint32_t nsid) const { return namespaces_.count(nsid) > 0; }
  uint32_t UuidUserLocked(const Uuid& uuid) const;  // the NSID, 0 if none

  Target* target_;
  const SubsystemSpec spec_;
  bool discovery_;
  std::atomic<uint64_t> ns_gen_{1};

  std::mutex mu_;  // guards everything below
  std::map<uint32_t, std::shared_ptr<Namespace>> namespaces_;
  bool allow_any_host_;
  HostMap hosts_;
  std::set<ListenerSpec> listeners_;
  std::map<uint16_t, std::weak_ptr<Controller>> controllers_;
  uint16_t next_cntlid_ = 0;
  std::set<std::string> kato_timed_out_;
  std::set<std::string> keep_connected_;  // hosts whose removal keeps their controllers
};

}  // namespace nvmeof
