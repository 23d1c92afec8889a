// HaManager: this gateway's part in gateway-group HA. It registers the gateway in the group
// (GroupStore: name, home ANA group, listeners, every RADOS client address), keeps it alive,
// drives one OwnershipMachine per ANA group against the store and applies the decisions to
// the NVMe-oF core through AnaControl (OPTIMIZED on the owner, INACCESSIBLE elsewhere; each
// change is one ANA change, whatever the number of subsystems). docs/ha.md has the design.
//
// Threads (never a reactor): a worker thread runs every store operation (heartbeat, lease
// reads, fencing, acquire/renew/release, notify) once per renew interval and whenever a peer
// notifies; a watchdog thread applies the time rules (renewals due, self-fencing at the
// deadline) even while the worker is stuck in a slow RADOS call; a drain thread runs
// AnaControl::Drain. AnaControl::SetGroupOptimized is called with the manager's lock held
// (it must not call back). Public methods: any thread.
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
  // The group OPTIMIZED (true) or INACCESSIBLE on every listener of this gateway: one ANA
  // change and one ANA Change notice per controller when the state changes.
  virtual void SetGroupOptimized(uint32_t group, bool optimized) = 0;
  // Returns once no I/O admitted for the group before it turned INACCESSIBLE is in flight.
  virtual void Drain(uint32_t group) = 0;
};
// AnaControl on the Target's AnaTable (Target::SetAnaGroupState). Its Drain returns at once:
// the core does not count in-flight I/O per ANA group yet (docs/ha.md).
std::unique_ptr<AnaControl> NewTargetAnaControl(Target& target);

struct HaOptions {
  std::string name;                       // this gateway's name, unique in the group
  Timing timing;
  std::vector<std::string> listeners;     // for the membership record
  // The gateway's other RADOS clients (state store, librbd connections), asked every round;
  // a change is registered at once. The store's own address is added by the manager.
  std::function<std::vector<std::string>()> client_addresses;
  std::vector<uint32_t> groups;           // ANA groups to manage besides the members' home groups
  uint32_t blocklist_expire_sec = 3600;
  uint64_t stop_timeout_ns = 10'000'000'000;  // Stop(hand_over): bound on draining and releasing
  std::function<uint64_t()> clock;        // nanoseconds; default NowNs
};

class HaManager {
 public:
  HaManager(HaOptions opts, std::unique_ptr<GroupStore> store, AnaControl* ana);
  ~HaManager();  // Stop(false)

  // Registers (allocating or keeping the home group), fences the previous incarnation's
  // addresses that are no longer in use, sets every known group INACCESSIBLE and starts.
  Status Start();
  // hand_over: drop the membership lease, hand every owned group over (drain, release,
  // notify) and wait for that (stop_timeout_ns at most); then stop the threads. Without:
  // stop the threads and leave the leases to expire (what a crash looks like to the peers).
  void Stop(bool hand_over);

  struct GroupStatus {
    uint32_t group;
    Role role;
    std::string owner;  // as last observed ("" = nobody)
  };
  std::vector<GroupStatus> Groups() const;
  std::vector<uint32_t> Owned() const;   // groups this gateway serves (kOwner)
  MemberInfo member() const;             // as registered (home group, controller-ID range, addresses)
  // The group's members and the names of the live ones, as the last round read them
  // (empty before the first round).
  std::vector<MemberInfo> Members() const;
  std::set<std::string> AliveMembers() const;
  uint64_t reconnects() const;           // times the store client was replaced after a blocklist

 private:
  struct Op {
    uint32_t group;
    Action action;
  };
  void WorkerLoop();
  void WatchdogLoop();
  void DrainLoop();
  void Round();
  void RunOps();
  void RunOp(const Op& op);
  // Applies a step of group `g`'s machine: ANA at once, store operations to the worker,
  // drains to the drain thread, the transition to the log. mu_ held.
  void ApplyLocked(uint32_t g, Step step);
  OwnershipMachine& MachineLocked(uint32_t g);
  std::vector<std::string> CurrentAddresses();
  Status RegisterSelf();
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
  std::condition_variable done_cv_;     // Stop(hand_over) waits here
  bool stop_ = false;
  bool wake_ = false;
  bool blocklisted_ = false;
  bool leaving_ = false;                // Stop(hand_over) asked
  bool left_ = false;                   // the membership lease is dropped
  uint64_t last_warning_ = 0;           // worker only: rate limit of repeated failures
  uint64_t reconnects_ = 0;
  Holder me_;
  MemberInfo member_;
  std::vector<std::string> registered_addresses_;
  std::map<uint32_t, std::unique_ptr<OwnershipMachine>> machines_;
  std::vector<MemberInfo> members_;     // as last read
  std::set<std::string> alive_;         // as last read
  std::deque<Op> ops_;
  std::deque<uint32_t> drains_;
  std::thread worker_, watchdog_, drainer_;
  bool started_ = false;
};

}  // namespace nvmeof::ha
