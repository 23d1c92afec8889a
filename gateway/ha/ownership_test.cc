// The ownership state machine with an injected clock: every time below is chosen by the test.
#include "gateway/ha/ownership.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace nvmeof::ha {
namespace {

constexpr uint64_t kMs = 1'000'000;

Timing T() {
  Timing t;
  t.lease_ns = 2000 * kMs;
  t.renew_ns = 500 * kMs;
  t.margin_ns = 500 * kMs;
  return t;
}

std::vector<ActionKind> Kinds(const Step& s) {
  std::vector<ActionKind> k;
  for (auto& a : s.actions) k.push_back(a.kind);
  return k;
}

bool Has(const Step& s, ActionKind k) {
  return std::any_of(s.actions.begin(), s.actions.end(), [&](const Action& a) { return a.kind == k; });
}

Observation Free(std::set<std::string> alive, std::string home = "") {
  Observation o;
  o.alive = std::move(alive);
  o.home = std::move(home);
  return o;
}

// Brings `m` to kOwner at time `now` through a clean acquisition.
void MakeOwner(OwnershipMachine& m, uint64_t now, const std::string& home = "") {
  Step s = m.Observe(now, Free({"a", "b"}, home.empty() ? "a" : home));
  ASSERT_EQ(Kinds(s), (std::vector<ActionKind>{ActionKind::kSetChange, ActionKind::kAcquire}));
  s = m.OnAcquire(now, LeaseResult::kOk);
  ASSERT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kSetOptimized});
  ASSERT_EQ(m.role(), Role::kOwner);
}

TEST(Candidate, HomeIfAliveElseFewestHeldThenName) {
  Observation o = Free({"a", "b", "c"}, "b");
  EXPECT_EQ(Candidate(o), "b");
  o.alive.erase("b");
  o.held = {{"a", 2}, {"c", 1}};
  EXPECT_EQ(Candidate(o), "c");
  o.held = {{"a", 1}, {"c", 1}};
  EXPECT_EQ(Candidate(o), "a");
  o.alive.clear();
  EXPECT_EQ(Candidate(o), "");
}

TEST(Timing, RejectsInconsistent) {
  std::string why;
  EXPECT_TRUE(T().Valid(&why));
  Timing t = T();
  t.margin_ns = t.lease_ns;
  EXPECT_FALSE(t.Valid(&why));
  t = T();
  t.renew_ns = 1500 * kMs;
  EXPECT_FALSE(t.Valid(&why));
}

TEST(Ownership, OnlyTheCandidateTakesAFreeLease) {
  OwnershipMachine a(1, "a", 1, T()), b(1, "b", 1, T());
  Observation o = Free({"a", "b"}, "a");
  EXPECT_TRUE(b.Observe(0, o).actions.empty());
  EXPECT_EQ(b.role(), Role::kStandby);
  Step s = a.Observe(0, o);
  EXPECT_EQ(Kinds(s), (std::vector<ActionKind>{ActionKind::kSetChange, ActionKind::kAcquire}));
  EXPECT_TRUE(a.changing());
  ASSERT_TRUE(s.transition);
  EXPECT_EQ(s.transition->to, Role::kAcquiring);
  s = a.OnAcquire(20 * kMs, LeaseResult::kOk);
  EXPECT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kSetOptimized});
  ASSERT_TRUE(s.transition);
  EXPECT_EQ(s.transition->new_owner, "a");
  EXPECT_EQ(s.transition->duration_ns, 20 * kMs);
  EXPECT_TRUE(a.serving());
  EXPECT_FALSE(a.changing());
}

TEST(Ownership, HeldLeaseIsLeftAlone) {
  OwnershipMachine b(1, "b", 1, T());
  Observation o = Free({"a", "b"}, "b");
  o.holder = Holder{"a", 7};
  Step s = b.Observe(0, o);
  EXPECT_TRUE(s.actions.empty());
  ASSERT_TRUE(s.transition);  // the observed owner changed: one log line
  EXPECT_EQ(s.transition->new_owner, "a");
  EXPECT_FALSE(b.Observe(1, o).transition);  // the same holder again: nothing
}

TEST(Ownership, RenewsEveryIntervalFromTheSendTime) {
  OwnershipMachine m(1, "a", 1, T());
  MakeOwner(m, 0);
  EXPECT_EQ(m.self_fence_deadline(), 1500 * kMs);
  EXPECT_TRUE(m.Tick(499 * kMs).actions.empty());
  Step s = m.Tick(500 * kMs);
  ASSERT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kRenew});
  EXPECT_EQ(s.actions[0].at, 500 * kMs);
  EXPECT_TRUE(m.Tick(1000 * kMs).actions.empty());  // one renewal in flight at a time
  // It comes back late but before the deadline: the lease counts from the send time.
  EXPECT_TRUE(m.OnRenew(1400 * kMs, 500 * kMs, LeaseResult::kOk).actions.empty());
  EXPECT_EQ(m.self_fence_deadline(), 2000 * kMs);
  EXPECT_TRUE(m.serving());
  EXPECT_EQ(m.NextDeadline(), 1000 * kMs);  // the next renewal is already due
}

TEST(Ownership, RenewalRacingExpirySelfFencesFirst) {
  OwnershipMachine m(1, "a", 1, T());
  MakeOwner(m, 0);
  ASSERT_TRUE(Has(m.Tick(500 * kMs), ActionKind::kRenew));
  // The renewal hangs; the deadline comes first.
  Step s = m.Tick(1500 * kMs);
  EXPECT_EQ(Kinds(s), (std::vector<ActionKind>{ActionKind::kSetInaccessible, ActionKind::kDrain}));
  EXPECT_EQ(m.role(), Role::kSelfFenced);
  ASSERT_TRUE(s.transition);
  EXPECT_EQ(s.transition->duration_ns, 1500 * kMs);  // since the last confirmed lease
  // The renewal then succeeds: too late, the group stays inaccessible.
  s = m.OnRenew(1600 * kMs, 500 * kMs, LeaseResult::kOk);
  EXPECT_TRUE(s.actions.empty());
  EXPECT_EQ(m.role(), Role::kSelfFenced);
  EXPECT_FALSE(m.serving());
  EXPECT_TRUE(m.Tick(1700 * kMs).actions.empty());  // no more renewals
  s = m.OnDrained(1800 * kMs);
  EXPECT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kRelease});
  s = m.OnReleased(1900 * kMs, LeaseResult::kOk);
  EXPECT_EQ(m.role(), Role::kStandby);
}

TEST(Ownership, RenewalResultAfterDeadlineWithoutTickSelfFences) {
  OwnershipMachine m(1, "a", 1, T());
  MakeOwner(m, 0);
  ASSERT_TRUE(Has(m.Tick(500 * kMs), ActionKind::kRenew));
  // The driver was late calling Tick; the result arrives past the old deadline.
  Step s = m.OnRenew(1500 * kMs, 500 * kMs, LeaseResult::kOk);
  EXPECT_TRUE(Has(s, ActionKind::kSetInaccessible));
  EXPECT_EQ(m.role(), Role::kSelfFenced);
}

TEST(Ownership, LostLeaseSelfFencesAtOnce) {
  OwnershipMachine m(1, "a", 1, T());
  MakeOwner(m, 0);
  ASSERT_TRUE(Has(m.Tick(500 * kMs), ActionKind::kRenew));
  Step s = m.OnRenew(510 * kMs, 500 * kMs, LeaseResult::kLost);
  EXPECT_TRUE(Has(s, ActionKind::kSetInaccessible));
  EXPECT_EQ(m.role(), Role::kSelfFenced);

  OwnershipMachine n(1, "a", 1, T());
  MakeOwner(n, 0);
  Observation o = Free({"a", "b"}, "a");
  o.holder = Holder{"b", 3};  // someone else holds it: we lost it
  EXPECT_TRUE(Has(n.Observe(100 * kMs, o), ActionKind::kSetInaccessible));
  EXPECT_EQ(n.role(), Role::kSelfFenced);
}

TEST(Ownership, TakeoverFencesTheStaleHolderFirst) {
  OwnershipMachine b(1, "b", 1, T());
  Observation o = Free({"b"}, "a");  // home "a" is not alive
  o.records = {Holder{"a", 7}, Holder{"b", 1}};  // our own record is never fenced
  Step s = b.Observe(0, o);
  // ANA Change from the decision on, before the fencing.
  ASSERT_EQ(Kinds(s), (std::vector<ActionKind>{ActionKind::kSetChange, ActionKind::kFence}));
  EXPECT_EQ(s.actions[1].fence, std::vector<Holder>{(Holder{"a", 7})});
  EXPECT_EQ(b.role(), Role::kFencing);
  s = b.OnFenced(100 * kMs, true);
  EXPECT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kAcquire});
  s = b.OnAcquire(110 * kMs, LeaseResult::kOk);
  EXPECT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kSetOptimized});
  ASSERT_TRUE(s.transition);
  EXPECT_EQ(s.transition->duration_ns, 110 * kMs);
  EXPECT_NE(s.transition->reason.find("a/7"), std::string::npos);
  // The lease counts from the acquisition, not from the start of the fencing.
  EXPECT_EQ(b.self_fence_deadline(), 100 * kMs + 1500 * kMs);
}

TEST(Ownership, FailedFencingRetriesLater) {
  OwnershipMachine b(1, "b", 1, T());
  Observation o = Free({"b"}, "");
  o.records = {Holder{"a", 7}};
  ASSERT_EQ(Kinds(b.Observe(0, o)), (std::vector<ActionKind>{ActionKind::kSetChange, ActionKind::kFence}));
  // The takeover is abandoned: INACCESSIBLE again.
  EXPECT_EQ(Kinds(b.OnFenced(10 * kMs, false)), std::vector<ActionKind>{ActionKind::kSetInaccessible});
  EXPECT_EQ(b.role(), Role::kStandby);
  EXPECT_FALSE(b.changing());
  EXPECT_EQ(Kinds(b.Observe(500 * kMs, o)), (std::vector<ActionKind>{ActionKind::kSetChange, ActionKind::kFence}));
}

TEST(Ownership, TwoCandidatesOneWins) {
  // Different views (b saw a holding more groups than a did): both think they are the
  // candidate. The lease decides.
  OwnershipMachine a(2, "a", 1, T()), b(2, "b", 1, T());
  Observation va = Free({"a", "b"});
  va.held = {{"a", 0}, {"b", 1}};
  Observation vb = Free({"a", "b"});
  vb.held = {{"a", 2}, {"b", 1}};
  Holder lease;  // the simulated lease
  auto try_acquire = [&](OwnershipMachine& m, const std::string& name) {
    if (!lease.empty()) return m.OnAcquire(10 * kMs, LeaseResult::kBusy);
    lease = Holder{name, 1};
    return m.OnAcquire(10 * kMs, LeaseResult::kOk);
  };
  ASSERT_TRUE(Has(a.Observe(0, va), ActionKind::kAcquire));
  ASSERT_TRUE(Has(b.Observe(0, vb), ActionKind::kAcquire));
  Step sb = try_acquire(b, "b");
  Step sa = try_acquire(a, "a");
  EXPECT_TRUE(Has(sb, ActionKind::kSetOptimized));
  // The loser's takeover is abandoned: from Change back to INACCESSIBLE.
  EXPECT_EQ(Kinds(sa), std::vector<ActionKind>{ActionKind::kSetInaccessible});
  EXPECT_EQ(b.role(), Role::kOwner);
  EXPECT_EQ(a.role(), Role::kStandby);
  // a then sees b holding it and stays standby.
  va.holder = lease;
  EXPECT_TRUE(a.Observe(100 * kMs, va).actions.empty());
}

TEST(Ownership, FailbackIsADrainedHandOver) {
  OwnershipMachine b(1, "b", 1, T()), a(1, "a", 2, T());
  // b owns a's home group while a is away.
  Observation o = Free({"b"}, "a");
  ASSERT_TRUE(Has(b.Observe(0, o), ActionKind::kAcquire));
  ASSERT_TRUE(Has(b.OnAcquire(0, LeaseResult::kOk), ActionKind::kSetOptimized));
  // a comes back: b drains and releases; a takes it at once, without fencing.
  o.alive.insert("a");
  o.holder = Holder{"b", 1};
  o.records = {Holder{"b", 1}};
  Step s = b.Observe(300 * kMs, o);
  // The holder reports ANA Change while it drains (new I/O: Asymmetric Access Transition)
  // and marks its record: handing over to a.
  EXPECT_EQ(Kinds(s), (std::vector<ActionKind>{ActionKind::kSetChange, ActionKind::kMark, ActionKind::kDrain}));
  EXPECT_EQ(s.actions[1].to, "a");
  EXPECT_EQ(b.handing_over_to(), "a");
  EXPECT_EQ(b.role(), Role::kDraining);
  EXPECT_TRUE(b.changing());
  EXPECT_TRUE(a.Observe(300 * kMs, o).actions.empty());  // still held, no mark read yet: a waits
  // Draining keeps the lease alive.
  EXPECT_TRUE(Has(b.Tick(500 * kMs), ActionKind::kRenew));
  EXPECT_TRUE(b.OnRenew(510 * kMs, 500 * kMs, LeaseResult::kOk).actions.empty());
  // Drained: INACCESSIBLE, then the release.
  EXPECT_EQ(Kinds(b.OnDrained(600 * kMs)),
            (std::vector<ActionKind>{ActionKind::kSetInaccessible, ActionKind::kRelease}));
  EXPECT_FALSE(b.changing());
  s = b.OnReleased(610 * kMs, LeaseResult::kOk);
  EXPECT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kNotify});
  ASSERT_TRUE(s.transition);
  EXPECT_EQ(s.transition->duration_ns, 310 * kMs);  // the whole hand-over
  o.holder = Holder{};
  o.records.clear();
  s = a.Observe(620 * kMs, o);
  EXPECT_EQ(Kinds(s), (std::vector<ActionKind>{ActionKind::kSetChange, ActionKind::kAcquire}));
  EXPECT_EQ(Kinds(a.OnAcquire(630 * kMs, LeaseResult::kOk)), std::vector<ActionKind>{ActionKind::kSetOptimized});
  // b is no candidate while a lives.
  EXPECT_TRUE(b.Observe(620 * kMs, o).actions.empty());
}

TEST(Ownership, FailbackWaitsForTheDelay) {
  Timing t = T();
  t.failback_delay_ns = 1000 * kMs;
  OwnershipMachine b(1, "b", 1, t);
  Observation o = Free({"b"}, "a");
  ASSERT_TRUE(Has(b.Observe(0, o), ActionKind::kAcquire));
  ASSERT_TRUE(Has(b.OnAcquire(0, LeaseResult::kOk), ActionKind::kSetOptimized));
  o.alive.insert("a");
  o.holder = Holder{"b", 1};
  EXPECT_TRUE(b.Observe(100 * kMs, o).actions.empty());
  EXPECT_TRUE(b.Observe(600 * kMs, o).actions.empty());
  EXPECT_TRUE(Has(b.Observe(1100 * kMs, o), ActionKind::kDrain));
}

TEST(Ownership, FailbackWaitsForTheHomeToHaveTheHosts) {
  Timing t = T();
  t.failback_host_wait_ns = 15'000 * kMs;
  OwnershipMachine b(1, "b", 1, t);
  Observation o = Free({"b"}, "a");
  ASSERT_TRUE(Has(b.Observe(0, o), ActionKind::kAcquire));
  ASSERT_TRUE(Has(b.OnAcquire(0, LeaseResult::kOk), ActionKind::kSetOptimized));
  // a is back but the hosts b serves have not reconnected to it yet: b keeps serving.
  o.alive.insert("a");
  o.holder = Holder{"b", 1};
  o.home_has_hosts = false;
  EXPECT_TRUE(b.Observe(100 * kMs, o).actions.empty());
  EXPECT_TRUE(b.Observe(3000 * kMs, o).actions.empty());
  EXPECT_EQ(b.role(), Role::kOwner);
  // They have: b hands over.
  o.home_has_hosts = true;
  Step s = b.Observe(3500 * kMs, o);
  EXPECT_EQ(Kinds(s), (std::vector<ActionKind>{ActionKind::kSetChange, ActionKind::kMark, ActionKind::kDrain}));
  ASSERT_TRUE(s.transition);
  EXPECT_EQ(s.transition->reason, "handing over: failback to home gateway a");
}

TEST(Ownership, FailbackWaitsForTheHostsAtMostTheBound) {
  Timing t = T();
  t.failback_delay_ns = 1000 * kMs;
  t.failback_host_wait_ns = 5000 * kMs;
  OwnershipMachine b(1, "b", 1, t);
  Observation o = Free({"b"}, "a");
  ASSERT_TRUE(Has(b.Observe(0, o), ActionKind::kAcquire));
  ASSERT_TRUE(Has(b.OnAcquire(0, LeaseResult::kOk), ActionKind::kSetOptimized));
  o.alive.insert("a");
  o.holder = Holder{"b", 1};
  o.home_has_hosts = false;
  EXPECT_TRUE(b.Observe(1000 * kMs, o).actions.empty());  // seen from here on
  // a goes away and comes back: the wait starts again.
  o.alive.erase("a");
  EXPECT_TRUE(b.Observe(4000 * kMs, o).actions.empty());
  o.alive.insert("a");
  EXPECT_TRUE(b.Observe(5000 * kMs, o).actions.empty());
  EXPECT_TRUE(b.Observe(9900 * kMs, o).actions.empty());
  // The hosts never reconnected to a: b hands over anyway once a has been alive for the bound.
  Step s = b.Observe(10'000 * kMs, o);
  EXPECT_TRUE(Has(s, ActionKind::kDrain));
  ASSERT_TRUE(s.transition);
  EXPECT_NE(s.transition->reason.find("hosts not reconnected"), std::string::npos) << s.transition->reason;
  // The failback delay still applies when the hosts are there at once.
  OwnershipMachine c(1, "c", 3, t);
  Observation oc = Free({"c"}, "a");
  ASSERT_TRUE(Has(c.Observe(0, oc), ActionKind::kAcquire));
  ASSERT_TRUE(Has(c.OnAcquire(0, LeaseResult::kOk), ActionKind::kSetOptimized));
  oc.alive.insert("a");
  oc.holder = Holder{"c", 3};
  EXPECT_TRUE(c.Observe(100 * kMs, oc).actions.empty());
  EXPECT_TRUE(Has(c.Observe(1100 * kMs, oc), ActionKind::kDrain));
}

TEST(Ownership, FencedGatewayWakingUpServesNothing) {
  OwnershipMachine a(1, "a", 1, T());
  MakeOwner(a, 0);
  ASSERT_TRUE(Has(a.Tick(500 * kMs), ActionKind::kRenew));
  ASSERT_TRUE(a.OnRenew(505 * kMs, 500 * kMs, LeaseResult::kOk).actions.empty());
  // Frozen for 30 s. The first thing it does on waking is look at the clock.
  Step s = a.Tick(30'000 * kMs);
  EXPECT_EQ(Kinds(s), (std::vector<ActionKind>{ActionKind::kSetInaccessible, ActionKind::kDrain}));
  EXPECT_EQ(a.role(), Role::kSelfFenced);
  // Its client was blocklisted by the taker: operations fail.
  EXPECT_TRUE(a.OnBlocklisted(30'001 * kMs).actions.empty());
  EXPECT_TRUE(a.OnDrained(30'002 * kMs).actions.size() == 1);
  s = a.OnReleased(30'003 * kMs, LeaseResult::kBlocklisted);
  EXPECT_TRUE(s.actions.empty());  // nothing released: no notify
  EXPECT_EQ(a.role(), Role::kStandby);
  // New client: new epoch. Another holds the group now.
  a.SetEpoch(2);
  Observation o = Free({"a", "b"}, "a");
  o.holder = Holder{"b", 1};
  EXPECT_TRUE(a.Observe(30'100 * kMs, o).actions.empty());
  // Failback (b hands over): a takes it back without fencing anybody.
  o.holder = Holder{};
  EXPECT_EQ(Kinds(a.Observe(30'200 * kMs, o)), (std::vector<ActionKind>{ActionKind::kSetChange, ActionKind::kAcquire}));
}

TEST(Ownership, BlocklistedOwnerSelfFences) {
  OwnershipMachine a(1, "a", 1, T());
  MakeOwner(a, 0);
  Step s = a.OnBlocklisted(100 * kMs);
  EXPECT_EQ(Kinds(s), (std::vector<ActionKind>{ActionKind::kSetInaccessible, ActionKind::kDrain}));
  EXPECT_EQ(a.role(), Role::kSelfFenced);
}

TEST(Ownership, PlannedStopHandsOverAndNeverTakesAgain) {
  OwnershipMachine a(1, "a", 1, T());
  MakeOwner(a, 0);
  Step s = a.Stop(100 * kMs);
  // The taker named in the mark: the candidate once a is gone.
  EXPECT_EQ(Kinds(s), (std::vector<ActionKind>{ActionKind::kSetChange, ActionKind::kMark, ActionKind::kDrain}));
  EXPECT_EQ(s.actions[1].to, "b");
  a.OnDrained(150 * kMs);
  s = a.OnReleased(160 * kMs, LeaseResult::kOk);
  EXPECT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kNotify});
  EXPECT_EQ(a.handing_over_to(), "");
  EXPECT_TRUE(a.stopped());
  EXPECT_TRUE(a.Observe(200 * kMs, Free({"a"}, "a")).actions.empty());
}

TEST(Ownership, DrainingPastTheDeadlineBecomesSelfFenced) {
  OwnershipMachine a(1, "a", 1, T());
  MakeOwner(a, 0);
  a.Stop(100 * kMs);
  ASSERT_TRUE(Has(a.Tick(500 * kMs), ActionKind::kRenew));
  Step s = a.Tick(1500 * kMs);  // renewal never answered
  // Already draining; the lease is gone, so Change ends: INACCESSIBLE.
  EXPECT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kSetInaccessible});
  EXPECT_EQ(a.role(), Role::kSelfFenced);
  EXPECT_EQ(Kinds(a.OnDrained(1600 * kMs)), std::vector<ActionKind>{ActionKind::kRelease});
}

TEST(Ownership, SlowAcquisitionIsGivenBack) {
  OwnershipMachine a(1, "a", 1, T());
  ASSERT_TRUE(Has(a.Observe(0, Free({"a"}, "a")), ActionKind::kAcquire));
  Step s = a.OnAcquire(1600 * kMs, LeaseResult::kOk);
  EXPECT_EQ(Kinds(s), (std::vector<ActionKind>{ActionKind::kSetInaccessible, ActionKind::kRelease}));
  EXPECT_FALSE(a.serving());
}

TEST(Ownership, OwnStaleLockIsReleased) {
  OwnershipMachine a(1, "a", 1, T());
  Observation o = Free({"a"}, "a");
  o.holder = Holder{"a", 1};
  EXPECT_EQ(Kinds(a.Observe(0, o)), std::vector<ActionKind>{ActionKind::kRelease});
}

// A takeover that stays in ANA Change past change_max_ns turns INACCESSIBLE (a host resets
// a controller whose group stays in Change past ANATT); the acquisition still serves if it
// succeeds afterwards.
TEST(Ownership, ChangeWindowIsBounded) {
  Timing t = T();
  t.change_max_ns = 3000 * kMs;
  OwnershipMachine b(1, "b", 1, t);
  Observation o = Free({"b"}, "");
  o.records = {Holder{"a", 7}};
  ASSERT_EQ(Kinds(b.Observe(100 * kMs, o)), (std::vector<ActionKind>{ActionKind::kSetChange, ActionKind::kFence}));
  EXPECT_EQ(b.NextDeadline(), 3100 * kMs);
  EXPECT_TRUE(b.Tick(3099 * kMs).actions.empty());
  Step s = b.Tick(3100 * kMs);  // the fence is still running
  EXPECT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kSetInaccessible});
  ASSERT_TRUE(s.transition);
  EXPECT_NE(s.transition->reason.find("ANA Change state for 3000 ms"), std::string::npos) << s.transition->reason;
  EXPECT_EQ(b.role(), Role::kFencing);
  EXPECT_FALSE(b.changing());
  EXPECT_EQ(b.NextDeadline(), UINT64_MAX);
  EXPECT_TRUE(b.Tick(3200 * kMs).actions.empty());  // once
  // Fenced at last: acquiring stays INACCESSIBLE, then serves.
  EXPECT_EQ(Kinds(b.OnFenced(3300 * kMs, true)), std::vector<ActionKind>{ActionKind::kAcquire});
  EXPECT_EQ(Kinds(b.OnAcquire(3310 * kMs, LeaseResult::kOk)), std::vector<ActionKind>{ActionKind::kSetOptimized});
  EXPECT_TRUE(b.serving());
}

// Every way a takeover is given up ends INACCESSIBLE.
TEST(Ownership, AbandonedTakeoverEndsInaccessible) {
  const std::vector<ActionKind> back{ActionKind::kSetInaccessible};
  {
    OwnershipMachine b(1, "b", 1, T());
    ASSERT_TRUE(Has(b.Observe(0, Free({"b"}, "b")), ActionKind::kSetChange));
    EXPECT_EQ(Kinds(b.OnAcquire(10 * kMs, LeaseResult::kBusy)), back);  // lease taken by another
    EXPECT_EQ(b.role(), Role::kStandby);
  }
  {
    OwnershipMachine b(1, "b", 1, T());
    ASSERT_TRUE(Has(b.Observe(0, Free({"b"}, "b")), ActionKind::kSetChange));
    EXPECT_EQ(Kinds(b.OnAcquire(10 * kMs, LeaseResult::kError)), back);
  }
  {
    OwnershipMachine b(1, "b", 1, T());
    ASSERT_TRUE(Has(b.Observe(0, Free({"b"}, "b")), ActionKind::kSetChange));
    EXPECT_EQ(Kinds(b.OnBlocklisted(10 * kMs)), back);
    EXPECT_EQ(b.role(), Role::kStandby);
  }
  {
    OwnershipMachine b(1, "b", 1, T());
    Observation o = Free({"b"}, "b");
    o.records = {Holder{"a", 7}};
    ASSERT_TRUE(Has(b.Observe(0, o), ActionKind::kSetChange));
    EXPECT_EQ(Kinds(b.OnBlocklisted(10 * kMs)), back);  // while fencing
  }
}

// The holder's hand-over: Change while it drains, bounded like a takeover; a drain that
// outlasts the window ends the Change, the release still waits for the drain.
TEST(Ownership, DrainingHolderReportsChangeWithinTheWindow) {
  Timing t = T();
  t.lease_ns = 20'000 * kMs;  // the lease outlives the window here
  t.margin_ns = 500 * kMs;
  t.change_max_ns = 1000 * kMs;
  OwnershipMachine a(1, "a", 1, t);
  ASSERT_TRUE(Has(a.Observe(0, Free({"a"}, "a")), ActionKind::kAcquire));
  ASSERT_TRUE(Has(a.OnAcquire(0, LeaseResult::kOk), ActionKind::kSetOptimized));
  EXPECT_EQ(Kinds(a.Stop(100 * kMs)), (std::vector<ActionKind>{ActionKind::kSetChange, ActionKind::kDrain}));
  EXPECT_TRUE(a.changing());
  Step s = a.Tick(1100 * kMs);
  EXPECT_TRUE(Has(s, ActionKind::kSetInaccessible));
  EXPECT_FALSE(a.changing());
  EXPECT_EQ(a.role(), Role::kDraining);
  EXPECT_EQ(Kinds(a.OnDrained(1200 * kMs)), std::vector<ActionKind>{ActionKind::kRelease});
}

// The hand-over mark names the taker; only the current holder's (same name and epoch) counts.
TEST(Ownership, CurrentMarkIsTheHoldersOnly) {
  Observation o = Free({"a", "b"}, "a");
  o.marks = {HandoverMark{Holder{"b", 1}, "a"}};
  EXPECT_EQ(CurrentMark(o), nullptr);  // the lease is free
  o.holder = Holder{"b", 2};
  EXPECT_EQ(CurrentMark(o), nullptr);  // a mark of b's earlier incarnation
  o.holder = Holder{"b", 1};
  ASSERT_NE(CurrentMark(o), nullptr);
  EXPECT_EQ(CurrentMark(o)->to, "a");
}

// A failback as the taker sees it: ANA Change from the holder's mark (while it drains) until
// the taker serves, one Change for the whole move; the release is taken without fencing.
TEST(Ownership, TakerReportsChangeWhileTheHolderDrains) {
  OwnershipMachine a(1, "a", 2, T());
  Observation o = Free({"a", "b"}, "a");
  o.holder = Holder{"b", 1};
  o.records = {Holder{"b", 1}};
  EXPECT_TRUE(a.Observe(0, o).actions.empty());  // b serves; a is back, b not draining yet
  o.marks = {HandoverMark{Holder{"b", 1}, "a"}};
  Step s = a.Observe(100 * kMs, o);
  EXPECT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kSetChange});
  ASSERT_TRUE(s.transition);
  EXPECT_EQ(s.transition->to, Role::kReceiving);
  EXPECT_EQ(s.transition->old_owner, "b");
  EXPECT_EQ(a.role(), Role::kReceiving);
  EXPECT_TRUE(a.changing());
  EXPECT_FALSE(a.holds_lease());
  EXPECT_TRUE(a.Observe(300 * kMs, o).actions.empty());  // still draining
  // b drained and removed its record; its lock goes next: still b's.
  o.records.clear();
  o.marks.clear();
  EXPECT_TRUE(a.Observe(400 * kMs, o).actions.empty());
  EXPECT_EQ(a.role(), Role::kReceiving);
  // Released: a takes it at once, still in the same Change.
  o.holder = Holder{};
  s = a.Observe(410 * kMs, o);
  EXPECT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kAcquire});
  EXPECT_TRUE(a.changing());
  s = a.OnAcquire(420 * kMs, LeaseResult::kOk);
  EXPECT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kSetOptimized});
  ASSERT_TRUE(s.transition);
  EXPECT_EQ(s.transition->duration_ns, 320 * kMs);  // from the mark
  EXPECT_TRUE(a.serving());
  EXPECT_FALSE(a.changing());
}

// The holder dies mid-drain: its lease expires with its marked record; the taker, the
// candidate, fences it like any stale holder. Its Change started at the mark and is cut at
// change_max_ns all the same (not restarted by the takeover).
TEST(Ownership, HolderDyingMidDrainIsFencedAndTheWindowStaysCapped) {
  OwnershipMachine a(1, "a", 2, T());  // change_max_ns 8 s
  Observation o = Free({"a", "b"}, "a");
  o.holder = Holder{"b", 1};
  o.records = {Holder{"b", 1}};
  o.marks = {HandoverMark{Holder{"b", 1}, "a"}};
  ASSERT_EQ(Kinds(a.Observe(1000 * kMs, o)), std::vector<ActionKind>{ActionKind::kSetChange});
  EXPECT_EQ(a.NextDeadline(), 9000 * kMs);
  // b dies at 5 s; its lease (renewed at 4.9 s) expires at 6.9 s, its record stays.
  o.holder = Holder{};
  o.alive.erase("b");
  Step s = a.Observe(7000 * kMs, o);
  ASSERT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kFence});  // no second Change
  EXPECT_EQ(s.actions[0].fence, (std::vector<Holder>{Holder{"b", 1}}));
  EXPECT_EQ(a.role(), Role::kFencing);
  EXPECT_TRUE(a.changing());
  // The fence is slow: the window ends 8 s after the mark.
  EXPECT_TRUE(a.Tick(8999 * kMs).actions.empty());
  s = a.Tick(9000 * kMs);
  EXPECT_EQ(Kinds(s), std::vector<ActionKind>{ActionKind::kSetInaccessible});
  EXPECT_FALSE(a.changing());
  EXPECT_EQ(Kinds(a.OnFenced(9100 * kMs, true)), std::vector<ActionKind>{ActionKind::kAcquire});
  EXPECT_EQ(Kinds(a.OnAcquire(9110 * kMs, LeaseResult::kOk)), std::vector<ActionKind>{ActionKind::kSetOptimized});
  EXPECT_TRUE(a.serving());
}

// Receiving ends INACCESSIBLE when another gateway is the candidate for the expired lease,
// when another holder shows up, when the taker is blocklisted or stops.
TEST(Ownership, ReceivingThatEndsWithoutTheLeaseIsInaccessible) {
  const std::vector<ActionKind> back{ActionKind::kSetInaccessible};
  Observation marked = Free({"a", "b", "c"}, "b");
  marked.holder = Holder{"b", 1};
  marked.records = {Holder{"b", 1}};
  marked.marks = {HandoverMark{Holder{"b", 1}, "a"}};  // b stops and names a
  {
    OwnershipMachine a(1, "a", 2, T());
    ASSERT_EQ(a.Observe(0, marked).actions.size(), 1u);
    Observation o = marked;
    o.holder = Holder{};
    o.alive = {"a", "c"};
    o.held = {{"a", 2}, {"c", 0}};  // c holds fewer: c is the candidate
    EXPECT_EQ(Kinds(a.Observe(3000 * kMs, o)), back);
    EXPECT_EQ(a.role(), Role::kStandby);
  }
  {
    OwnershipMachine a(1, "a", 2, T());
    ASSERT_EQ(a.Observe(0, marked).actions.size(), 1u);
    Observation o = marked;
    o.holder = Holder{"c", 3};
    EXPECT_EQ(Kinds(a.Observe(100 * kMs, o)), back);
    EXPECT_EQ(a.observed_holder(), (Holder{"c", 3}));
  }
  {
    OwnershipMachine a(1, "a", 2, T());
    ASSERT_EQ(a.Observe(0, marked).actions.size(), 1u);
    EXPECT_EQ(Kinds(a.OnBlocklisted(100 * kMs)), back);
  }
  {
    OwnershipMachine a(1, "a", 2, T());
    ASSERT_EQ(a.Observe(0, marked).actions.size(), 1u);
    EXPECT_EQ(Kinds(a.Stop(100 * kMs)), back);
    EXPECT_TRUE(a.stopped());
  }
}

// Marks that are not for this gateway, or not the current holder's, change nothing.
TEST(Ownership, OtherMarksAreIgnored) {
  OwnershipMachine a(1, "a", 2, T());
  Observation o = Free({"a", "b", "c"}, "a");
  o.holder = Holder{"b", 2};
  o.records = {Holder{"b", 2}};
  o.marks = {HandoverMark{Holder{"b", 1}, "a"}};  // b's earlier incarnation
  EXPECT_TRUE(a.Observe(0, o).actions.empty());
  EXPECT_TRUE(a.Observe(100 * kMs, o).actions.empty());
  o.marks = {HandoverMark{Holder{"b", 2}, "c"}};  // for c
  EXPECT_TRUE(a.Observe(200 * kMs, o).actions.empty());
  EXPECT_EQ(a.role(), Role::kStandby);
  EXPECT_FALSE(a.changing());
}

// A Change window cut while receiving is not reopened by the takeover that follows.
TEST(Ownership, WindowCutWhileReceivingStaysCut) {
  Timing t = T();
  t.change_max_ns = 1000 * kMs;
  OwnershipMachine a(1, "a", 2, t);
  Observation o = Free({"a", "b"}, "a");
  o.holder = Holder{"b", 1};
  o.records = {Holder{"b", 1}};
  o.marks = {HandoverMark{Holder{"b", 1}, "a"}};
  ASSERT_EQ(Kinds(a.Observe(0, o)), std::vector<ActionKind>{ActionKind::kSetChange});
  EXPECT_EQ(Kinds(a.Tick(1000 * kMs)), std::vector<ActionKind>{ActionKind::kSetInaccessible});
  EXPECT_EQ(a.role(), Role::kReceiving);
  o.holder = Holder{};
  o.records.clear();
  o.marks.clear();
  EXPECT_EQ(Kinds(a.Observe(1500 * kMs, o)), std::vector<ActionKind>{ActionKind::kAcquire});
  EXPECT_EQ(Kinds(a.OnAcquire(1510 * kMs, LeaseResult::kOk)), std::vector<ActionKind>{ActionKind::kSetOptimized});
}

}  // namespace
}  // namespace nvmeof::ha
