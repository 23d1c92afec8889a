// The ownership state machine of one ANA group on one gateway: who serves the group, decided
// by a lease in RADOS. PURE: no threads, no I/O, no clock of its own. The driver (HaManager)
// feeds it the time (nanoseconds, any monotonic origin), what it observed of the cluster and
// the results of the lease operations it ran; every call returns the Actions to carry out, in
// order, and at most one Transition to log. Not thread-safe: one caller at a time.
//
// Rules (docs/ha.md):
//  * Exactly one owner: the holder of the group's lease (duration lease_ns). The owner renews
//    every renew_ns; its lease counts from when the renewal was SENT, so the OSD's expiry is
//    always later than the owner's own idea of it.
//  * Self-fencing: an owner whose last successful renewal was sent more than
//    lease_ns - margin_ns ago turns the group INACCESSIBLE (Tick), drains and releases; a
//    renewal that succeeds after that changes nothing. A lease found lost (renewal refused,
//    another holder seen, the client blocklisted) self-fences at once.
//  * Takeover: when the lease is free, the candidate (Candidate()) reports the group in ANA
//    Change state, fences every holder that left a record without releasing (blocklists its
//    addresses, waits for the OSD map), then takes the lease, then turns the group
//    OPTIMIZED. A lease released cleanly (no record) is taken without fencing. Records of
//    our own name are never fenced by us. A takeover given up (fencing failed, lease taken
//    by another, blocklisted, taken too late) turns the group INACCESSIBLE again.
//  * Failback / planned stop: an owner that is not the group's home while the home gateway is
//    alive (for failback_delay_ns) and serves the hosts this owner serves for the group (or
//    has been alive for failback_host_wait_ns without), or that is told to stop, hands over:
//    ANA Change while it drains, INACCESSIBLE once drained, release (record removed, lock
//    dropped), notify peers; the candidate takes it at once. A self-fenced owner turns
//    INACCESSIBLE at once (the lease is not its own any more: nothing is moving here).
//  * The hand-over mark: as it starts draining, the holder writes "handing over to X" into
//    its lease record (kMark) and notifies. X, seeing the mark of the current holder
//    (CurrentMark: same name and epoch), reports ANA Change while the holder drains
//    (kReceiving); the holder's release ends it (X takes the lease without fencing:
//    OPTIMIZED); the holder's lease expiring (it died) makes it a normal takeover (fencing the
//    record) if X is the candidate, else X turns INACCESSIBLE; another holder seen ends it
//    (INACCESSIBLE). A mark in a record of another holder or epoch is ignored.
//  * The Change window: this gateway reports a group in ANA Change state for at most
//    change_max_ns (Tick); past it the group is INACCESSIBLE until the step in progress ends
//    (OPTIMIZED if the lease is then taken). So a host never sees Change for longer than
//    ANATT (it resets the controller then). A taker's window starts at the mark (receiving)
//    and runs on through fencing and acquiring: one window per move.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace nvmeof::ha {

enum class Role {
  kStandby,     // not the owner; INACCESSIBLE here
  kFencing,     // candidate for a free lease whose last holder did not release: fencing it
  kAcquiring,   // taking the lease
  kOwner,       // holding the lease: OPTIMIZED here
  kDraining,    // handing over (failback, planned stop): INACCESSIBLE, in-flight I/O draining
  kSelfFenced,  // lost (or could not renew) the lease: INACCESSIBLE, draining
  kReleasing,   // drained: dropping the record and the lock
  kReceiving,   // named by the holder's hand-over mark: ANA Change until the holder releases
};
const char* RoleName(Role r);

struct Timing {
  uint64_t lease_ns = 2'000'000'000;       // lease duration L
  uint64_t renew_ns = 500'000'000;         // renew (and poll) every ~L/4
  uint64_t margin_ns = 500'000'000;        // self-fence at L - margin after the last renewal sent
  uint64_t failback_delay_ns = 0;          // home gateway alive this long before failback
  // Failback waits for the home gateway to have the hosts' controllers back (a host
  // reconnects on its own timer: the group would have no usable path until then), at most
  // this long after the home is seen alive.
  uint64_t failback_host_wait_ns = 15'000'000'000;
  // The longest this gateway reports a group in ANA Change state (taking it over: receiving
  // it while the holder drains, fencing, acquiring; handing it over: draining). Within ANATT
  // and longer than a hand-over's drain plus the taker's steps (checked in ha_manager.cc).
  uint64_t change_max_ns = 8'000'000'000;
  // Rejects inconsistent timings (margin >= lease, renew >= lease - margin, zero values).
  bool Valid(std::string* why) const;
};

// A gateway incarnation as it appears on leases: its name and the epoch of the process/client.
struct Holder {
  std::string name;
  uint64_t epoch = 0;
  bool operator==(const Holder&) const = default;
  bool empty() const { return name.empty(); }
  std::string ToString() const;
};

// A holder record's hand-over mark: `from` (the record's holder) hands the group over to `to`.
struct HandoverMark {
  Holder from;
  std::string to;
  bool operator==(const HandoverMark&) const = default;
};

// One look at the cluster, for one group (the driver reads it every renew_ns).
struct Observation {
  Holder holder;                            // current lease holder; empty = the lease is free
  std::vector<Holder> records;              // holders that took the lease and did not release it
  std::vector<HandoverMark> marks;          // the records' hand-over marks
  std::string home;                         // the group's home gateway ("" = none registered)
  std::set<std::string> alive;              // gateways whose membership lease is current
  std::map<std::string, uint32_t> held;     // groups each gateway holds now
  // The home gateway has a controller for every host this gateway serves the group to
  // (trivially true when it serves none).
  bool home_has_hosts = true;
};

// The deterministic candidate for a free lease: the home gateway if alive, else the alive
// gateway holding the fewest groups, ties broken by name. "" if nobody is alive.
std::string Candidate(const Observation& o);
// The hand-over in progress: the mark in the current holder's record (same name and epoch),
// nullptr when the lease is free or its holder marked nothing. Marks of other records (an
// earlier incarnation, a holder whose lease expired) mean nothing.
const HandoverMark* CurrentMark(const Observation& o);

enum class ActionKind {
  kFence,           // blocklist every address of `fence`'s holders, wait for the OSD map, drop their records
  kAcquire,         // take the lease (try, no wait) and record ourselves as holder
  kRenew,           // renew the lease; report with OnRenew(sent_at = `at`)
  kSetOptimized,    // ANA: the group OPTIMIZED on this gateway's listeners
  kSetChange,       // ANA: the group in ANA Change state (0Fh) on this gateway's listeners
  kSetInaccessible, // ANA: the group INACCESSIBLE on this gateway's listeners
  kDrain,           // wait until no I/O of the group is in flight here; then OnDrained
  kRelease,         // drop our record, unlock; then OnReleased
  kNotify,          // tell the peers now (watch/notify): the lease is free
  kMark,            // write the hand-over mark (`to`) into our lease record, then notify the peers
};
const char* ActionName(ActionKind k);

struct Action {
  ActionKind kind;
  uint64_t at = 0;              // kRenew: the time the renewal is sent
  std::vector<Holder> fence;    // kFence
  std::string to;               // kMark: the gateway the group is handed over to
  bool operator==(const Action&) const = default;
};

struct Transition {
  Role from, to;
  std::string old_owner, new_owner;  // as this gateway sees them ("" = nobody)
  std::string reason;
  uint64_t duration_ns = 0;          // since the change began (takeover start, drain start, ...)
};

struct Step {
  std::vector<Action> actions;
  std::optional<Transition> transition;
};

enum class LeaseResult {
  kOk,          // acquired / renewed / released
  kBusy,        // acquire: someone else holds it
  kLost,        // renew: the lease is not ours any more (expired, taken)
  kBlocklisted, // the client is blocklisted (ESHUTDOWN)
  kError,       // transient (timeout, ...): try again later
};

class OwnershipMachine {
 public:
  OwnershipMachine(uint32_t group, std::string self, uint64_t epoch, Timing t);

  // A new look at the cluster. Standby: take a free lease if we are the candidate (fencing
  // stale holders first). Owner: hand over to the home gateway; self-fence if another holds it.
  Step Observe(uint64_t now, const Observation& o);
  // The time passed: renewals due, self-fencing at the deadline. Call at least every
  // renew_ns and at NextDeadline().
  Step Tick(uint64_t now);
  Step OnFenced(uint64_t now, bool ok);
  Step OnAcquire(uint64_t now, LeaseResult r);
  Step OnRenew(uint64_t now, uint64_t sent_at, LeaseResult r);
  Step OnDrained(uint64_t now);
  Step OnReleased(uint64_t now, LeaseResult r);
  // This gateway's RADOS client was blocklisted: everything held is lost.
  Step OnBlocklisted(uint64_t now);
  // Planned stop: hand the group over and never take it again.
  Step Stop(uint64_t now);
  // The epoch changed (new RADOS client after being blocklisted; call after OnBlocklisted).
  // Records of our own name are never fenced by us: registration fences our earlier
  // incarnation's addresses, and we drain before we take anything again.
  void SetEpoch(uint64_t epoch);

  Role role() const { return role_; }
  bool serving() const { return role_ == Role::kOwner; }
  // This gateway reports the group in ANA Change state now (taking it or handing it over,
  // within change_max_ns).
  bool changing() const { return changing_; }
  bool holds_lease() const;             // a lease we may still hold (owner, draining, self-fenced...)
  bool stopped() const { return stopping_ && role_ == Role::kStandby; }
  // The gateway this holder hands the group over to while draining and releasing (what its
  // lease record's mark says); "" otherwise.
  const std::string& handing_over_to() const { return handover_to_; }
  uint32_t group() const { return group_; }
  // When Tick must run next (renewal or self-fence deadline); UINT64_MAX when nothing is due.
  uint64_t NextDeadline() const;
  uint64_t self_fence_deadline() const { return deadline_; }
  const Holder& observed_holder() const { return observed_; }
  // Send time of the last successful renewal (or acquisition) of the lease we hold.
  uint64_t last_renewed() const { return last_renew_ok_sent_; }

 private:
  Step Go(Role to, std::string reason, uint64_t now, std::vector<Action> actions);
  Step SelfFence(uint64_t now, std::string reason);
  Step StartHandover(uint64_t now, std::string reason, std::string to);
  Step Receive(uint64_t now, const HandoverMark& m);
  Step ObserveReceiving(uint64_t now, const Observation& o);
  // Leaves standby (or receiving) to take a free lease: fencing `o`'s stale records first.
  Step TakeFree(uint64_t now, const Observation& o, const std::string& why);
  std::string OwnerName(Role r) const;
  // ANA Change from `now` (kSetChange appended), or back to INACCESSIBLE (kSetInaccessible
  // appended if the group was in Change).
  void BeginChange(uint64_t now, std::vector<Action>& acts);
  void EndChange(std::vector<Action>& acts);
  // The move goes on: Change from `now` unless already in Change or its window was used up.
  void ContinueChange(uint64_t now, std::vector<Action>& acts);

  const uint32_t group_;
  const std::string self_;
  uint64_t epoch_;
  const Timing t_;
  Role role_ = Role::kStandby;
  Holder observed_;                  // the holder last observed (standby) or ourselves (owner)
  uint64_t deadline_ = 0;            // owner: self-fence at this time
  uint64_t last_renew_sent_ = 0;
  uint64_t last_renew_ok_sent_ = 0;  // send time of the last renewal (or acquisition) that succeeded
  uint64_t acquire_sent_ = 0;        // when the acquisition (or the fencing before it) started
  bool renew_in_flight_ = false;
  bool stopping_ = false;
  uint64_t change_started_ = 0;      // start of the change in progress (for Transition::duration_ns)
  bool changing_ = false;            // reporting ANA Change since change_since_
  uint64_t change_since_ = 0;
  bool window_spent_ = false;        // the move in progress was cut at change_max_ns already
  uint64_t home_seen_since_ = 0;     // owner: when the home gateway was first seen alive (0 = not)
  Observation last_;                 // the last observation (a planned stop picks its taker from it)
  std::string handover_to_;          // holder: the mark written as it started draining
  Holder receiving_from_;            // receiving: the holder whose mark names us
  std::string pending_reason_;       // why the change in progress started
};

}  // namespace nvmeof::ha
