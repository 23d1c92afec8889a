// HaManager: this gateway's part in gateway-group HA. It registers the gateway in the group
// (GroupStore: name, home ANA group, listeners, every RADOS client address, the hosts it
// serves: a holder fails a group back once the home gateway has them), keeps it alive,
// drives one OwnershipMachine per ANA group against the store and applies the decisions to
// the NVMe-oF core through AnaControl (OPTIMIZED on the owner, ANA Change while this gateway
// takes a group over or hands it over, including while the holder drains a group it hands
// to this gateway, INACCESSIBLE elsewhere; each change is one ANA change, whatever the
// number of subsystems). The managed groups are the
// members' home groups and those HaOptions::groups names, re-read every round; Groups()
// and Members() are the view operators get (api/ha_service.h, the metrics). docs/ha.md
// has the design.
//
// Threads (never a reactor): a worker thread runs the store operations (heartbeat, lease
// reads, acquire/renew/release, notify, member removal) once per renew interval and
// whenever a peer notifies; a fencer thread runs fencing (blocklist, wait for the OSD map,
// drop the records), which can take long (an OSD dropping the fenced gateway's watches, one
// per open image), so that the renewals of the groups this gateway owns never wait behind
// it; a watchdog thread applies the time rules (renewals due, self-fencing at the deadline)
// even while the worker is stuck in a slow RADOS call; a drain thread runs
// AnaControl::Drain. AnaControl::SetGroupState is called with the manager's lock held
// (it must not call back); AnaControl::PrepareToServe on the worker, without the lock.
// Public methods: any thread.
//
// Errors: Start() fails when the store cannot register the gateway (unreachable cluster,
// no free home group: ENOSPC). Afterwards failures are retried; a blocklisted store client
// self-fences every group, reconnects as a new client (new epoch) and registers again.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/ha/group_store.h"
#include "gateway/ha/ownership.h"

namespace nvmeof {
class Target;
}

namespace nvmeof::ha {

// What HA needs of the NVMe-oF core.
class AnaControl {
 public:
  virtual ~AnaControl() = default;
  // The group's ANA state on every listener of this gateway: nvme::kAnaOptimized,
  // kAnaChange or kAnaInaccessible; one ANA change and one ANA Change notice per
  // controller when the state changes.
  virtual void SetGroupState(uint32_t group, uint8_t ana_state) = 0;
  // Returns once no I/O admitted for the group before it turned INACCESSIBLE is in flight
  // (or after a bound: the machine then releases anyway).
  virtual void Drain(uint32_t group) = 0;
  // Before this gateway takes the group's lease (and so before it turns the group
  // OPTIMIZED), and before it registers again after its own client was blocklisted: returns
  // once the group's I/O would go through RADOS clients that are not blocklisted (e.g.
  // images reopened on a new client). Runs on the manager's worker thread without its lock;
  // may block. New client addresses it creates are registered by the manager right after
  // it returns, before the lease is taken. An error is logged and the group is taken
  // anyway (the backend then recovers at its own pace).
  virtual Status PrepareToServe(uint32_t group) {
    (void)group;
    return Status::OK();
  }
};
// Default bound on one group's drain: in-flight I/O of a healthy cluster completes far
// sooner; a hung one is cut off by the taker's fencing. Lease + this bound, and the ANA
// Change window (Timing::change_max_ns), stay within ANATT (kAnaTransitionTimeSec,
// checked in ha_manager.cc).
constexpr uint64_t kDrainTimeoutNs = 5'000'000'000;
// AnaControl on the Target: SetGroupState = Target::SetAnaGroupState, Drain =
// Target::DrainAnaGroup with `drain_timeout_ns` (a timeout is logged by the Target as one
// WARNING; the hand-over goes on), PrepareToServe = `prepare` (unset: nothing to do).
std::unique_ptr<AnaControl> NewTargetAnaControl(Target& target, uint64_t drain_timeout_ns = kDrainTimeoutNs,
                                                std::function<Status(uint32_t group)> prepare = {});

struct HaOptions {
  std::string name;                       // this gateway's name, unique in the group
  Timing timing;
  // Asked at registration and every round (on the worker thread; must not block): a change
  // is registered at once. Unset: none.
  std::function<std::vector<std::string>()> listeners;  // "trtype:traddr:trsvcid", for the member record
  // The gateway's other RADOS clients (state store, librbd connections). The store's own
  // address is added by the manager.
  std::function<std::vector<std::string>()> client_addresses;
  // ANA groups to manage besides the members' home groups (those of the namespaces); a new
  // one is managed from the round that sees it (INACCESSIBLE until its lease says so).
  std::function<std::vector<uint32_t>()> groups;
  // Hosts served here, "subsystem-NQN host-NQN" per host with I/O queues on a subsystem
  // that has a namespace in ANA group `group` (0: on any subsystem). Asked every round (on
  // the worker thread; must not block): group 0 is published in the member record (a change
  // at once, with a notify), a held group's before failing it back (the home gateway must
  // have them all, see Timing::failback_host_wait_ns). Unset: none.
  std::function<std::vector<std::string>(uint32_t group)> hosts;
  uint32_t blocklist_expire_sec = 3600;
  uint64_t stop_timeout_ns = 10'000'000'000;  // Stop(hand_over): bound on draining and releasing
  std::function<uint64_t()> clock;        // nanoseconds; default NowNs
};

class HaManager {
 public:
  HaManager(HaOptions opts, std::unique_ptr<GroupStore> store, AnaControl* ana);
  ~HaManager();  // Stop(false)

  // Registers (allocating or keeping the home group) and fences the previous incarnation's
  // addresses that are no longer in use; member() then holds the home group and the
  // controller-ID range. The registration is serialised in the store, so two gateways
  // registering at once never get the same home group. No lease or heartbeat is taken: a
  // gateway registers before it creates its NVMe-oF target (whose controller-ID range is
  // the registered one) and is seen alive only from Start().
  Status Register();
  // Register() unless done, then: sets every known group INACCESSIBLE, takes the membership
  // lease, wakes the peers and starts the threads. `ana`, if given, replaces the
  // constructor's (which may be null until then: a daemon registers before its target exists).
  Status Start(AnaControl* ana = nullptr);
  // hand_over: drop the membership lease, hand every owned group over (drain, release,
  // notify) and wait for that (stop_timeout_ns at most); then stop the threads. Without:
  // stop the threads and leave the leases to expire (what a crash looks like to the peers).
  void Stop(bool hand_over);

  struct GroupStatus {
    uint32_t group;
    Role role;
    std::string owner;         // as last observed ("" = nobody)
    uint64_t lease_age_ns;     // holding the lease: since the last successful renewal was sent; else 0
    uint64_t since_ns;         // since the last transition (role or observed owner); since Start if none
    std::string last_reason;   // of that transition ("" if none)
    uint64_t owner_changes;    // times the owner changed (as seen here) since Start
    uint8_t ana_state;         // what this gateway reports for the group: nvme::kAnaOptimized, kAnaChange, kAnaInaccessible
    // A hand-over in progress as read at the last round (the current holder's mark): the
    // holder draining and the gateway it hands the group to, both reporting ANA Change.
    std::string handover_from, handover_to;
  };
  std::vector<GroupStatus> Groups() const;
  struct MemberStatus {
    MemberInfo info;
    bool alive;                // its membership lease was current at the last round
  };
  // The group's members as read at the last round, by name (this gateway's own record too).
  std::vector<MemberStatus> Members() const;
  std::vector<uint32_t> Owned() const;   // groups this gateway serves (kOwner)
  MemberInfo member() const;             // as registered (home group, controller-ID range, addresses)
  // The names of the live members, as the last round read them (empty before the first).
  std::set<std::string> AliveMembers() const;
  uint64_t reconnects() const;           // times the store client was replaced after a blocklist
  // A new RADOS client of this gateway exists (e.g. a librbd connection, through
  // DeviceFactory::SetConnectObserver): returns once the worker has written the current
  // addresses to the member record and to the records of the leases held here, so the
  // client is fenceable before any I/O through it is served for an owned group. Returns at
  // once before Start(), on the worker thread and while the worker prepares to serve a group
  // (it registers the addresses itself before it takes the lease); gives up after lease_ns
  // (one WARNING; the next round registers them). Any thread but the worker's may wait here.
  void AddressesChanged();
  uint64_t address_updates() const;      // times the registered addresses changed since Start
  // Removes a dead gateway's member record (GroupStore::RemoveMember, run by the worker):
  // its home group is free for the next new gateway; a survivor keeps serving the group
  // meanwhile. Errors: kMemberAlive (also for this gateway itself), kMemberNotFound,
  // kNotConnected before Start() or when the worker does not answer within stop_timeout_ns,
  // the store's errors.
  Status RemoveMember(const std::string& name);
  const HaOptions& options() const { return opts_; }

 private:
  struct Op {
    uint32_t group;
    Action action;
  };
  void WorkerLoop();
  void WatchdogLoop();
  void DrainLoop();
  void FenceLoop();
  void Round();
  void RunOps();
  void RunOp(const Op& op);
  // Applies a step of group `g`'s machine: ANA at once, fencing to the fencer, other store
  // operations to the worker, drains to the drain thread, the transition to the log. mu_ held.
  void ApplyLocked(uint32_t g, Step step);
  OwnershipMachine& MachineLocked(uint32_t g);
  std::vector<std::string> CurrentAddresses();
  std::vector<std::string> CurrentListeners();
  std::vector<std::string> CurrentHosts(uint32_t group);
  Status RegisterSelf();
  // Writes the current addresses and listeners to the member record (and the addresses to
  // the records of the leases held) if they changed. Worker thread.
  Status RegisterChanges();
  // AnaControl::PrepareToServe with preparing_ set (worker thread, mu_ not held).
  void Prepare(uint32_t group);
  void HandleBlocklisted();
  void OnBlocklistedLocked();
  void Wake();
  uint64_t Now() const { return opts_.clock(); }

  HaOptions opts_;
  std::unique_ptr<GroupStore> store_;
  AnaControl* ana_;

  mutable std::mutex mu_;
  std::condition_variable cv_;          // worker wake-ups
  std::condition_variable watchdog_cv_;
  std::condition_variable drain_cv_;
  std::condition_variable fence_cv_;    // fencer wake-ups; a fence finished
  std::condition_variable done_cv_;     // Stop(hand_over) waits here
  bool stop_ = false;
  bool wake_ = false;
  bool blocklisted_ = false;
  bool leaving_ = false;                // Stop(hand_over) asked
  bool left_ = false;                   // the membership lease is dropped
  uint64_t last_warning_ = 0;           // worker only: rate limit of repeated failures
  uint64_t reconnects_ = 0;
  bool preparing_ = false;              // the worker is in AnaControl::PrepareToServe
  uint64_t address_requests_ = 0;       // AddressesChanged() calls waiting or served
  uint64_t addresses_done_ = 0;         // requests up to this one are registered
  uint64_t address_updates_ = 0;
  Holder me_;
  MemberInfo member_;
  std::vector<std::string> registered_addresses_;
  std::set<uint32_t> waiting_for_hosts_;  // held groups whose failback waits for hosts (logged once)
  std::map<uint32_t, std::unique_ptr<OwnershipMachine>> machines_;
  struct GroupHistory {
    uint64_t since = 0;
    std::string reason;
    uint64_t owner_changes = 0;
    std::string last_owner;  // the last gateway seen serving it
  };
  std::map<uint32_t, GroupHistory> history_;
  std::map<uint32_t, HandoverMark> marks_;  // the current holder's hand-over mark, by group (last round)
  std::vector<MemberStatus> members_;   // as read at the last round
  bool registered_ = false;
  std::deque<Op> ops_;
  std::deque<uint32_t> drains_;
  std::deque<Op> fences_;
  bool fencing_ = false;                // the fencer is in a store call
  bool reconnecting_ = false;           // the worker replaces the store's client: no fence starts
  struct Removal {
    std::string name;
    bool done = false;
    Status result;
  };
  std::deque<std::shared_ptr<Removal>> removals_;  // RemoveMember() requests for the worker
  void RunRemovals();
  std::thread worker_, watchdog_, drainer_, fencer_;
  std::thread::id worker_id_;
  bool started_ = false;
};

}  // namespace nvmeof::ha
