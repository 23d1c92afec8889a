// The per-ANA-group ownership state machine: see ownership.h.
#include "gateway/ha/ownership.h"

#include <algorithm>
#include <climits>
#include <utility>

namespace nvmeof::ha {

const char* RoleName(Role r) {
  switch (r) {
    case Role::kStandby: return "standby";
    case Role::kFencing: return "fencing";
    case Role::kAcquiring: return "acquiring";
    case Role::kOwner: return "owner";
    case Role::kDraining: return "draining";
    case Role::kSelfFenced: return "self-fenced";
    case Role::kReleasing: return "releasing";
    case Role::kReceiving: return "receiving";
  }
  return "?";
}

const char* ActionName(ActionKind k) {
  switch (k) {
    case ActionKind::kFence: return "fence";
    case ActionKind::kAcquire: return "acquire";
    case ActionKind::kRenew: return "renew";
    case ActionKind::kSetOptimized: return "set-optimized";
    case ActionKind::kSetChange: return "set-change";
    case ActionKind::kSetInaccessible: return "set-inaccessible";
    case ActionKind::kDrain: return "drain";
    case ActionKind::kRelease: return "release";
    case ActionKind::kNotify: return "notify";
    case ActionKind::kMark: return "mark";
  }
  return "?";
}

bool Timing::Valid(std::string* why) const {
  auto fail = [&](const char* w) {
    if (why) *why = w;
    return false;
  };
  if (lease_ns == 0 || renew_ns == 0 || margin_ns == 0 || change_max_ns == 0)
    return fail("lease, renew interval, margin and ANA Change bound must be > 0");
  if (margin_ns >= lease_ns) return fail("the self-fence margin must be shorter than the lease");
  if (renew_ns >= lease_ns - margin_ns)
    return fail("the renew interval must be shorter than the lease minus the self-fence margin");
  return true;
}

std::string Holder::ToString() const {
  return name.empty() ? std::string("nobody") : name + "/" + std::to_string(epoch);
}

std::string Candidate(const Observation& o) {
  if (!o.home.empty() && o.alive.count(o.home)) return o.home;
  std::string best;
  uint32_t best_held = UINT32_MAX;
  for (const auto& name : o.alive) {  // ordered by name: the first of equals wins
    auto it = o.held.find(name);
    uint32_t h = it == o.held.end() ? 0 : it->second;
    if (h < best_held) {
      best = name;
      best_held = h;
    }
  }
  return best;
}

const HandoverMark* CurrentMark(const Observation& o) {
  if (o.holder.empty()) return nullptr;
  for (const auto& m : o.marks)
    if (m.from == o.holder && !m.to.empty()) return &m;
  return nullptr;
}

OwnershipMachine::OwnershipMachine(uint32_t group, std::string self, uint64_t epoch, Timing t)
    : group_(group), self_(std::move(self)), epoch_(epoch), t_(t) {}

void OwnershipMachine::SetEpoch(uint64_t epoch) { epoch_ = epoch; }

bool OwnershipMachine::holds_lease() const {
  return role_ == Role::kOwner || role_ == Role::kDraining || role_ == Role::kSelfFenced ||
         role_ == Role::kReleasing;
}

uint64_t OwnershipMachine::NextDeadline() const {
  uint64_t d = changing_ ? change_since_ + t_.change_max_ns : UINT64_MAX;
  if (role_ != Role::kOwner && role_ != Role::kDraining) return d;
  d = std::min(d, deadline_);
  if (!renew_in_flight_) d = std::min(d, last_renew_sent_ + t_.renew_ns);
  return d;
}

void OwnershipMachine::BeginChange(uint64_t now, std::vector<Action>& acts) {
  changing_ = true;
  change_since_ = now;
  acts.push_back({ActionKind::kSetChange});
}

void OwnershipMachine::EndChange(std::vector<Action>& acts) {
  if (!changing_) return;
  changing_ = false;
  acts.push_back({ActionKind::kSetInaccessible});
}

void OwnershipMachine::ContinueChange(uint64_t now, std::vector<Action>& acts) {
  if (!changing_ && !window_spent_) BeginChange(now, acts);
}

std::string OwnershipMachine::OwnerName(Role r) const {
  switch (r) {
    case Role::kOwner: return self_;
    case Role::kStandby:
    case Role::kReceiving:
    case Role::kFencing:
    case Role::kAcquiring: return observed_.name;
    default: return "";  // draining / self-fenced / releasing: nobody serves
  }
}

Step OwnershipMachine::Go(Role to, std::string reason, uint64_t now, std::vector<Action> actions) {
  Step s;
  s.actions = std::move(actions);
  Transition tr;
  tr.from = role_;
  tr.to = to;
  tr.old_owner = OwnerName(role_);
  role_ = to;
  tr.new_owner = OwnerName(to);
  tr.reason = std::move(reason);
  tr.duration_ns = now >= change_started_ ? now - change_started_ : 0;
  s.transition = std::move(tr);
  return s;
}

Step OwnershipMachine::SelfFence(uint64_t now, std::string reason) {
  std::vector<Action> acts;
  if (role_ == Role::kOwner) {
    acts.push_back({ActionKind::kSetInaccessible});
    acts.push_back({ActionKind::kDrain});
  }
  // From kDraining the group is already draining; the lease is gone, so Change ends here.
  EndChange(acts);
  handover_to_.clear();  // the lease is not ours: nothing is handed over by us any more
  change_started_ = now;
  pending_reason_ = "self-fenced: " + reason;
  Step s = Go(Role::kSelfFenced, pending_reason_, now, std::move(acts));
  // How long the lease went unconfirmed.
  uint64_t since = last_renew_ok_sent_;
  s.transition->duration_ns = now >= since ? now - since : 0;
  return s;
}

Step OwnershipMachine::StartHandover(uint64_t now, std::string reason, std::string to) {
  change_started_ = now;
  pending_reason_ = std::move(reason);
  window_spent_ = false;
  handover_to_ = std::move(to);
  // New I/O is refused from here (Asymmetric Access Transition while in Change); the drain
  // waits for what was admitted before. The mark tells the taker, which reports Change too.
  std::vector<Action> acts;
  BeginChange(now, acts);
  if (!handover_to_.empty()) {
    Action mark{ActionKind::kMark};
    mark.to = handover_to_;
    acts.push_back(std::move(mark));
  }
  acts.push_back({ActionKind::kDrain});
  return Go(Role::kDraining, "handing over: " + pending_reason_, now, std::move(acts));
}

Step OwnershipMachine::Receive(uint64_t now, const HandoverMark& m) {
  change_started_ = now;
  window_spent_ = false;
  receiving_from_ = m.from;
  pending_reason_ = m.from.ToString() + " is handing it over to " + self_;
  std::vector<Action> acts;
  BeginChange(now, acts);
  return Go(Role::kReceiving, pending_reason_, now, std::move(acts));
}

Step OwnershipMachine::TakeFree(uint64_t now, const Observation& o, const std::string& why) {
  std::vector<Holder> stale;
  for (const auto& r : o.records)
    if (r.name != self_) stale.push_back(r);
  acquire_sent_ = now;
  std::vector<Action> acts;
  ContinueChange(now, acts);
  if (!stale.empty()) {
    std::string names;
    for (const auto& h : stale) names += (names.empty() ? "" : ", ") + h.ToString();
    pending_reason_ = "takeover: lease of " + names + " expired" + why;
    Action fence{ActionKind::kFence};
    fence.fence = std::move(stale);
    acts.push_back(std::move(fence));
    return Go(Role::kFencing, pending_reason_, now, std::move(acts));
  }
  pending_reason_ = (o.records.empty() ? "lease free (released)" : "lease free (our own earlier record)") + why;
  acts.push_back({ActionKind::kAcquire});
  return Go(Role::kAcquiring, pending_reason_, now, std::move(acts));
}

Step OwnershipMachine::ObserveReceiving(uint64_t now, const Observation& o) {
  const std::string from = receiving_from_.ToString();
  auto give_up = [&](const std::string& why) {
    std::vector<Action> acts;
    EndChange(acts);
    observed_ = o.holder;
    return Go(Role::kStandby, "hand-over from " + from + " ended: " + why, now, std::move(acts));
  };
  if (stopping_) return give_up("this gateway stops");
  // Still held by the marking holder: draining, or releasing (its record goes before its
  // lock).
  if (o.holder == receiving_from_) return {};
  if (!o.holder.empty()) return give_up("the lease is held by " + o.holder.ToString());
  // Free. Released cleanly (no record of another): ours, as the holder said. Its lease
  // expired instead (it died or gave up mid-drain): a takeover like any other, by the
  // candidate, fencing the record first.
  const bool stale = std::any_of(o.records.begin(), o.records.end(), [&](const Holder& r) { return r.name != self_; });
  if (stale && Candidate(o) != self_) return give_up("the lease of " + from + " expired; another gateway takes it");
  return TakeFree(now, o, " (handed over by " + from + ")");
}

Step OwnershipMachine::Observe(uint64_t now, const Observation& o) {
  const Holder me{self_, epoch_};
  last_ = o;
  switch (role_) {
    case Role::kStandby: {
      if (o.holder != observed_) {
        Holder old = observed_;
        observed_ = o.holder;
        if (!o.holder.empty() && o.holder != me) {
          if (const HandoverMark* m = CurrentMark(o); m && m->to == self_ && !stopping_) return Receive(now, *m);
          Step s;
          s.transition = Transition{Role::kStandby, Role::kStandby, old.name, o.holder.name, "observed", 0};
          return s;
        }
      }
      if (stopping_) return {};
      if (o.holder == me) {
        // A lock of ours that we do not use (a release that failed half-way): drop it.
        change_started_ = now;
        pending_reason_ = "stale lock of ours";
        return Go(Role::kReleasing, pending_reason_, now, {{ActionKind::kRelease}});
      }
      if (const HandoverMark* m = CurrentMark(o); m && m->to == self_) return Receive(now, *m);  // it drains for us
      if (!o.holder.empty()) return {};
      if (Candidate(o) != self_) return {};
      change_started_ = now;
      window_spent_ = false;
      return TakeFree(now, o, "");
    }
    case Role::kReceiving: return ObserveReceiving(now, o);
    case Role::kOwner: {
      if (!o.holder.empty() && o.holder != me) return SelfFence(now, "lease held by " + o.holder.ToString());
      if (stopping_) return {};
      if (!o.home.empty() && o.home != self_ && o.alive.count(o.home)) {
        if (home_seen_since_ == 0) home_seen_since_ = now ? now : 1;
        const uint64_t seen = now - home_seen_since_;
        if (seen < t_.failback_delay_ns) return {};
        if (o.home_has_hosts) return StartHandover(now, "failback to home gateway " + o.home, o.home);
        if (seen >= t_.failback_host_wait_ns)
          return StartHandover(now,
                               "failback to home gateway " + o.home + " (hosts not reconnected to it within " +
                                   std::to_string(t_.failback_host_wait_ns / 1'000'000) + " ms)",
                               o.home);
      } else {
        home_seen_since_ = 0;
      }
      return {};
    }
    default:
      return {};
  }
}

Step OwnershipMachine::Tick(uint64_t now) {
  if (changing_ && now >= change_since_ + t_.change_max_ns) {
    // The host resets a controller whose group stays in Change past ANATT: say
    // INACCESSIBLE instead; the step in progress goes on (an acquisition that succeeds
    // still serves).
    Step s;
    EndChange(s.actions);
    window_spent_ = true;
    s.transition = Transition{role_, role_, OwnerName(role_), OwnerName(role_),
                              "ANA Change state for " + std::to_string((now - change_since_) / 1'000'000) +
                                  " ms: inaccessible until " + RoleName(role_) + " ends",
                              now - change_since_};
    return s;
  }
  if (role_ != Role::kOwner && role_ != Role::kDraining) return {};
  if (now >= deadline_) {
    std::string why = "lease not renewed for " + std::to_string((now - last_renew_ok_sent_) / 1'000'000) + " ms";
    return SelfFence(now, why);
  }
  if (!renew_in_flight_ && now >= last_renew_sent_ + t_.renew_ns) {
    renew_in_flight_ = true;
    last_renew_sent_ = now;
    Step s;
    s.actions.push_back({ActionKind::kRenew, now, {}});
    return s;
  }
  return {};
}

Step OwnershipMachine::OnRenew(uint64_t now, uint64_t sent_at, LeaseResult r) {
  renew_in_flight_ = false;
  if (role_ != Role::kOwner && role_ != Role::kDraining) return {};
  switch (r) {
    case LeaseResult::kOk:
      // A renewal that came back after the deadline changes nothing: the group may already
      // have been reported inaccessible, and the lease was unconfirmed for too long.
      if (now >= deadline_) return SelfFence(now, "renewal came back after the deadline");
      if (sent_at + t_.lease_ns - t_.margin_ns > deadline_) {
        deadline_ = sent_at + t_.lease_ns - t_.margin_ns;
        last_renew_ok_sent_ = sent_at;
      }
      return {};
    case LeaseResult::kLost: return SelfFence(now, "lease lost");
    case LeaseResult::kBlocklisted: return SelfFence(now, "blocklisted");
    default: return {};  // transient: the deadline decides
  }
}

Step OwnershipMachine::OnFenced(uint64_t now, bool ok) {
  if (role_ != Role::kFencing) return {};
  if (!ok) {
    std::vector<Action> acts;
    EndChange(acts);
    return Go(Role::kStandby, "fencing failed", now, std::move(acts));
  }
  acquire_sent_ = now;
  return Go(Role::kAcquiring, pending_reason_ + " (fenced)", now, {{ActionKind::kAcquire}});
}

Step OwnershipMachine::OnAcquire(uint64_t now, LeaseResult r) {
  if (role_ != Role::kAcquiring) return {};
  if (r != LeaseResult::kOk) {
    std::vector<Action> acts;
    EndChange(acts);
    return Go(Role::kStandby, r == LeaseResult::kBusy ? "lease taken by another gateway" : "could not take the lease",
              now, std::move(acts));
  }
  deadline_ = acquire_sent_ + t_.lease_ns - t_.margin_ns;
  last_renew_sent_ = acquire_sent_;
  last_renew_ok_sent_ = acquire_sent_;
  renew_in_flight_ = false;
  home_seen_since_ = 0;
  if (now >= deadline_ || stopping_) {
    // Too slow to be sure of the lease, or stopping: give it back without serving.
    change_started_ = now;
    pending_reason_ = stopping_ ? "stopping" : "took the lease too late";
    std::vector<Action> acts;
    EndChange(acts);
    acts.push_back({ActionKind::kRelease});
    return Go(Role::kReleasing, pending_reason_, now, std::move(acts));
  }
  observed_ = Holder{self_, epoch_};
  changing_ = false;
  window_spent_ = false;
  return Go(Role::kOwner, pending_reason_, now, {{ActionKind::kSetOptimized}});
}

Step OwnershipMachine::OnDrained(uint64_t now) {
  if (role_ != Role::kDraining && role_ != Role::kSelfFenced) return {};
  // Keep the change's start: the transition to standby reports the whole hand-over.
  std::vector<Action> acts;
  EndChange(acts);  // nothing of the group is in flight here any more
  acts.push_back({ActionKind::kRelease});
  return Go(Role::kReleasing, pending_reason_ + " (drained)", now, std::move(acts));
}

Step OwnershipMachine::OnReleased(uint64_t now, LeaseResult r) {
  if (role_ != Role::kReleasing) return {};
  observed_ = Holder{};
  handover_to_.clear();
  std::vector<Action> acts;
  if (r == LeaseResult::kOk) acts.push_back({ActionKind::kNotify});
  return Go(Role::kStandby, pending_reason_ + (r == LeaseResult::kOk ? " (released)" : " (release failed)"), now,
            std::move(acts));
}

Step OwnershipMachine::OnBlocklisted(uint64_t now) {
  switch (role_) {
    case Role::kOwner:
    case Role::kDraining: return SelfFence(now, "this gateway's RADOS client is blocklisted");
    case Role::kReceiving:
    case Role::kFencing:
    case Role::kAcquiring: {
      std::vector<Action> acts;
      EndChange(acts);
      return Go(Role::kStandby, "blocklisted", now, std::move(acts));
    }
    default: return {};
  }
}

Step OwnershipMachine::Stop(uint64_t now) {
  stopping_ = true;
  if (role_ == Role::kReceiving) {
    std::vector<Action> acts;
    EndChange(acts);
    return Go(Role::kStandby, "stopping", now, std::move(acts));
  }
  if (role_ != Role::kOwner) return {};
  // The taker: the candidate once this gateway is gone.
  Observation o = last_;
  o.alive.erase(self_);
  if (o.home == self_) o.home.clear();
  return StartHandover(now, "planned stop", Candidate(o));
}

}  // namespace nvmeof::ha
