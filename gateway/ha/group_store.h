// GroupStore: what the HA driver (HaManager) needs of the cluster, for one gateway group:
// membership, one lease per ANA group, fencing and peer notification. Two implementations:
// RADOS (rados_group_store.h, the real thing) and memory (NewMemoryGroupStore below: several
// stores on one MemoryCluster behave like gateways on one cluster; for tests).
//
// Threads: at most two callers at once per store: the HaManager's worker thread (any call)
// and its fencer thread (ReadLease, Blocklist, RemoveRecords); Reconnect only while no other
// call runs. Every call may block for up to the store's operation timeout. The watch callback runs on a store thread.
// Errors are Status values with ha::errc names (errc.h): kBlocklisted (IsBlocklisted) = this
// store's client is blocklisted and must Reconnect(); kCeph with the errno in os_errno()
// otherwise (ETIMEDOUT: the cluster did not answer in time).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/ha/errc.h"
#include "gateway/ha/ownership.h"

namespace nvmeof::ha {

// The largest home group: controller-ID blocks of kCntlidBlock per home group fit below
// 0xFFEF (the highest controller ID a static controller may use).
constexpr uint32_t kCntlidBlock = 2048;
constexpr uint32_t kMaxHomeGroups = 32;
// Controller IDs of the gateway whose home group is `group` (1..kMaxHomeGroups): disjoint
// ranges, so the gateways of a group never hand out the same ID.
void CntlidRangeFor(uint32_t group, uint16_t* min_cntlid, uint16_t* max_cntlid);

struct MemberInfo {
  std::string name;                     // the gateway's name (unique in the group)
  uint64_t epoch = 0;                   // incarnation: new at every start and every reconnect
  uint32_t home_group = 0;              // allocated at the first registration, kept afterwards
  std::vector<std::string> listeners;   // "trtype:traddr:trsvcid", for operators and discovery
  std::vector<std::string> addresses;   // every RADOS client address the gateway uses
  // "subsystem-NQN host-NQN" of every host with I/O queues on this gateway (a holder's
  // failback waits for the home gateway to have its hosts back). Sorted.
  std::vector<std::string> hosts;
  uint16_t min_cntlid = 0, max_cntlid = 0;  // derived from home_group
};

// A holder's record on a lease.
struct LeaseRecord {
  Holder holder;
  std::vector<std::string> addresses;  // registered when taking the lease (what fencing blocklists)
  std::string handover_to;             // the hand-over mark: draining to hand the group to this gateway
};

// The lease of one ANA group as read from the cluster.
struct LeaseView {
  Holder holder;                 // empty: free (never taken, released or expired)
  // Holders that took the lease and did not release it.
  std::map<std::string, LeaseRecord> records;  // by name
};

bool IsBlocklisted(const Status& s);
// The lowest home group no member has (0 when all kMaxHomeGroups are taken).
uint32_t LowestFreeHomeGroup(const std::vector<MemberInfo>& members);

class GroupStore {
 public:
  virtual ~GroupStore() = default;

  // ---- membership
  // Registers `me` (name, epoch, listeners, addresses). Keeps the home group of an earlier
  // registration of the same name, else allocates the lowest free one (1..kMaxHomeGroups;
  // ENOSPC when none is left). Returns the stored record (home group, controller-ID range)
  // and, in *previous, the record it replaced (empty name if none).
  virtual Result<MemberInfo> Register(const MemberInfo& me, MemberInfo* previous) = 0;
  // Replaces this gateway's record (listeners or addresses changed). Home group unchanged.
  virtual Status UpdateMember(const MemberInfo& me) = 0;
  // Removes another gateway's record (an operator retiring a dead gateway), serialised with
  // registrations: its home group is free for the next new gateway. kMemberAlive while its
  // membership lease is current, kMemberNotFound without a record.
  virtual Status RemoveMember(const std::string& name) = 0;
  virtual Result<std::vector<MemberInfo>> Members() = 0;
  // Membership lease: `me` is alive for `duration_ns` from now (taken or renewed).
  virtual Status Heartbeat(const Holder& me, uint64_t duration_ns) = 0;
  // Drops the membership lease (planned stop).
  virtual Status Leave(const Holder& me) = 0;
  // The gateways whose membership lease is current.
  virtual Result<std::vector<Holder>> Alive() = 0;

  // ---- leases, one per ANA group
  virtual Result<LeaseView> ReadLease(uint32_t group) = 0;
  // Takes the lease if free (or already ours) for duration_ns and records `me` with
  // `addresses` as holder. kOk, kBusy (held by another), kBlocklisted, kError.
  virtual LeaseResult Acquire(uint32_t group, const Holder& me, const std::vector<std::string>& addresses,
                              uint64_t duration_ns) = 0;
  // Extends a lease we hold; never takes a free one. kOk, kLost, kBlocklisted, kError.
  virtual LeaseResult Renew(uint32_t group, const Holder& me, uint64_t duration_ns) = 0;
  // Rewrites our holder record in one operation: its addresses (they changed while holding
  // the lease) and the hand-over mark (`handover_to`: the gateway we drain the group for;
  // "" none).
  virtual Status UpdateRecord(uint32_t group, const Holder& me, const std::vector<std::string>& addresses,
                              const std::string& handover_to) = 0;
  // Removes our record, then unlocks. kOk (also when it was not ours any more), kBlocklisted, kError.
  virtual LeaseResult Release(uint32_t group, const Holder& me) = 0;
  // Removes the records of fenced holders.
  virtual Status RemoveRecords(uint32_t group, const std::vector<std::string>& names) = 0;

  // ---- fencing
  // Blocklists every address (for expire_sec), then waits until this client has the OSD map
  // that holds them (its next operations are ordered after the blocklist on every OSD).
  virtual Status Blocklist(const std::vector<std::string>& addresses, uint32_t expire_sec) = 0;

  // ---- peers
  // Wakes every watcher (including ourselves) at once; never waits for their answers.
  virtual Status Notify() = 0;
  // `cb` runs (on a store thread) when a peer notifies. Call before the first Heartbeat.
  virtual void Watch(std::function<void()> cb) = 0;

  // ---- this store's own client
  virtual std::vector<std::string> Addresses() = 0;
  // A new client instance (new address) after this one was blocklisted.
  virtual Status Reconnect() = 0;
};

// A cluster in memory that memory stores share: leases expire on `clock` (nanoseconds).
class MemoryCluster;
std::shared_ptr<MemoryCluster> NewMemoryCluster(std::function<uint64_t()> clock);
std::unique_ptr<GroupStore> NewMemoryGroupStore(std::shared_ptr<MemoryCluster> cluster);
// What the memory cluster's blocklist holds (for tests).
std::set<std::string> MemoryBlocklist(const MemoryCluster& cluster);
// Blocklists an address from outside (tests: a Ceph-side partition).
void MemoryBlocklistAdd(MemoryCluster& cluster, const std::string& address);

}  // namespace nvmeof::ha
