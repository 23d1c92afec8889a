// HaManager: see ha_manager.h and docs/ha.md.
#include "gateway/ha/ha_manager.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <set>

#include "gateway/common/clock.h"
#include "gateway/common/log.h"
#include "gateway/nvmf/target.h"
#include "gateway/protocol/nvme.h"

namespace nvmeof::ha {
namespace {

constexpr uint64_t kAnattNs = nvmeof::kAnaTransitionTimeSec * 1'000'000'000ull;
static_assert(Timing{}.lease_ns + kDrainTimeoutNs <= kAnattNs,
              "a group's move (lease, then drain) must fit in the ANATT hosts are told");
// A gateway reports a group in ANA Change while it takes it (fencing, at most the lease's
// wait for the OSD map, preparing, acquiring) or drains it (kDrainTimeoutNs); the machine
// cuts it at change_max_ns, which must be within ANATT and must not cut a drain short.
static_assert(Timing{}.change_max_ns <= kAnattNs, "the ANA Change window must fit in ANATT");
static_assert(kDrainTimeoutNs <= Timing{}.change_max_ns, "a drain must end within the ANA Change window");
// The taker of a drained hand-over reports Change from the holder's mark (the holder's drain
// start) until it serves: the drain, then the holder's release and notify, the taker's round
// (at most one renew interval when the notify is lost), preparing (one mon command when
// nothing is blocklisted) and acquiring (a lock and a record write): kTakeAfterReleaseNs
// covers those operations many times over (measured: tens of milliseconds). A holder that
// dies mid-drain makes it longer (its lease must expire): the watchdog cuts that at
// change_max_ns.
constexpr uint64_t kTakeAfterReleaseNs = 1'000'000'000;
static_assert(kDrainTimeoutNs + Timing{}.renew_ns + kTakeAfterReleaseNs <= Timing{}.change_max_ns,
              "the taker's Change (the holder's drain, a round, release and acquisition) must fit in its window");

class TargetAnaControl final : public AnaControl {
 public:
  TargetAnaControl(Target& t, uint64_t drain_timeout_ns, std::function<Status(uint32_t)> prepare)
      : t_(t), drain_timeout_ns_(drain_timeout_ns), prepare_(std::move(prepare)) {}
  void SetGroupState(uint32_t group, uint8_t ana_state) override {
    Status s = t_.SetAnaGroupState(group, ana_state);
    if (!s.ok()) LOG_WARN("ha: ANA group %u: %s", group, s.ToString().c_str());
  }
  void Drain(uint32_t group) override {
    Status s = t_.DrainAnaGroup(group, drain_timeout_ns_);
    if (!s.ok() && !s.Is(nvmf::errc::kDrainTimeout)) LOG_WARN("ha: ANA group %u: drain: %s", group, s.ToString().c_str());
  }
  Status PrepareToServe(uint32_t group) override { return prepare_ ? prepare_(group) : Status::OK(); }

 private:
  Target& t_;
  uint64_t drain_timeout_ns_;
  std::function<Status(uint32_t)> prepare_;
};

uint64_t NewEpoch() {
  std::random_device rd;
  uint64_t e = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return e ? e : 1;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

}  // namespace

std::unique_ptr<AnaControl> NewTargetAnaControl(Target& target, uint64_t drain_timeout_ns,
                                                std::function<Status(uint32_t group)> prepare) {
  return std::make_unique<TargetAnaControl>(target, drain_timeout_ns, std::move(prepare));
}

HaManager::HaManager(HaOptions opts, std::unique_ptr<GroupStore> store, AnaControl* ana)
    : opts_(std::move(opts)), store_(std::move(store)), ana_(ana) {
  if (!opts_.clock) opts_.clock = NowNs;
}

HaManager::~HaManager() {
  Stop(false);
  store_.reset();  // before the mutex its watch callback takes
}

std::vector<std::string> HaManager::CurrentListeners() {
  return opts_.listeners ? Sorted(opts_.listeners()) : std::vector<std::string>{};
}

std::vector<std::string> HaManager::CurrentHosts(uint32_t group) {
  return opts_.hosts ? Sorted(opts_.hosts(group)) : std::vector<std::string>{};
}

std::vector<std::string> HaManager::CurrentAddresses() {
  std::vector<std::string> a = store_->Addresses();
  if (opts_.client_addresses)
    for (auto& x : opts_.client_addresses()) a.push_back(std::move(x));
  std::sort(a.begin(), a.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  a.erase(std::remove(a.begin(), a.end(), std::string()), a.end());
  return a;
}

Status HaManager::RegisterSelf() {
  MemberInfo m;
  m.name = opts_.name;
  m.epoch = me_.epoch;
  m.listeners = CurrentListeners();
  m.addresses = CurrentAddresses();
  m.hosts = CurrentHosts(0);
  MemberInfo prev;
  auto r = store_->Register(m, &prev);
  if (!r.ok()) return r.status();
  // Our earlier incarnation (a crash, a restart, a blocklisted client) may still hold
  // leases: whatever of its addresses we no longer use is fenced now.
  std::vector<std::string> stale;
  if (!prev.name.empty() && prev.epoch != m.epoch) {
    for (const auto& a : prev.addresses)
      if (!std::count(m.addresses.begin(), m.addresses.end(), a)) stale.push_back(a);
  }
  if (!stale.empty()) {
    Status s = store_->Blocklist(stale, opts_.blocklist_expire_sec);
    if (!s.ok()) return s;
    LOG_WARN("ha: %s: fenced the addresses of its previous incarnation (epoch %llu): %s", opts_.name.c_str(),
             static_cast<unsigned long long>(prev.epoch), Join(stale).c_str());
  }
  std::lock_guard lk(mu_);
  member_ = *r;
  registered_addresses_ = m.addresses;
  registered_ = true;
  LOG_INFO("ha: %s registered (epoch %llu): home ANA group %u, controller IDs %u-%u, RADOS addresses %s",
           opts_.name.c_str(), static_cast<unsigned long long>(me_.epoch), member_.home_group, member_.min_cntlid,
           member_.max_cntlid, Join(m.addresses).c_str());
  return Status::OK();
}

Status HaManager::Register() {
  std::string why;
  if (opts_.name.empty()) return Status::InvalidArgument("ha: the gateway needs a name");
  if (!opts_.timing.Valid(&why)) return Status::InvalidArgument("ha: " + why);
  {
    std::lock_guard lk(mu_);
    if (registered_) return Status::OK();
    if (me_.epoch == 0) me_ = Holder{opts_.name, NewEpoch()};
  }
  return RegisterSelf();
}

Status HaManager::Start(AnaControl* ana) {
  if (ana) ana_ = ana;
  if (!ana_) return Status::InvalidArgument("ha: no ANA control");
  if (Status s = Register(); !s.ok()) return s;
  store_->Watch([this] { Wake(); });
  // Registered but not alive until now: a peer may have served our home group meanwhile
  // (as an orphan); it hands it back once it sees us alive.
  if (Status s = store_->Heartbeat(me_, opts_.timing.lease_ns); !s.ok()) return s;
  store_->Notify();  // peers serving our home group hand it over now
  {
    std::lock_guard lk(mu_);
    MachineLocked(member_.home_group);
    if (opts_.groups)
      for (uint32_t g : opts_.groups())
        if (g != 0) MachineLocked(g);
    started_ = true;
    wake_ = true;
  }
  worker_ = std::thread([this] { WorkerLoop(); });
  watchdog_ = std::thread([this] { WatchdogLoop(); });
  drainer_ = std::thread([this] { DrainLoop(); });
  fencer_ = std::thread([this] { FenceLoop(); });
  return Status::OK();
}

void HaManager::Stop(bool hand_over) {
  std::unique_lock lk(mu_);
  if (!started_) return;
  bool released = false;
  if (hand_over) {
    leaving_ = true;
    for (auto& [g, m] : machines_) ApplyLocked(g, m->Stop(Now()));
    wake_ = true;
    cv_.notify_all();
    auto all_released = [&] {
      for (auto& [g, m] : machines_)
        if (m->role() != Role::kStandby) return false;
      return ops_.empty() && drains_.empty() && left_;
    };
    released = done_cv_.wait_for(lk, std::chrono::nanoseconds(opts_.stop_timeout_ns), all_released);
    if (!released)
      LOG_WARN("ha: %s: hand-over not finished within %llu ms; stopping anyway", opts_.name.c_str(),
               static_cast<unsigned long long>(opts_.stop_timeout_ns / 1'000'000));
  }
  stop_ = true;
  started_ = false;
  cv_.notify_all();
  watchdog_cv_.notify_all();
  drain_cv_.notify_all();
  fence_cv_.notify_all();
  done_cv_.notify_all();
  const bool clean = released;
  lk.unlock();
  if (worker_.joinable()) worker_.join();
  if (watchdog_.joinable()) watchdog_.join();
  if (drainer_.joinable()) drainer_.join();
  if (fencer_.joinable()) fencer_.join();
  if (clean) {
    // Nothing of ours is left to fence: the next start need not blocklist these addresses.
    MemberInfo m = member();
    m.addresses.clear();
    if (Status s = store_->UpdateMember(m); !s.ok())
      LOG_WARN("ha: %s: cannot clear its addresses at stop: %s", opts_.name.c_str(), s.ToString().c_str());
  }
  LOG_INFO("ha: %s stopped%s", opts_.name.c_str(), hand_over ? " after handing over its groups" : "");
}

void HaManager::Wake() {
  {
    std::lock_guard lk(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

OwnershipMachine& HaManager::MachineLocked(uint32_t g) {
  auto& m = machines_[g];
  if (!m) {
    m = std::make_unique<OwnershipMachine>(g, opts_.name, me_.epoch, opts_.timing);
    // Nobody serves a group here until its lease says so.
    ana_->SetGroupState(g, nvme::kAnaInaccessible);
    history_[g].since = Now();
    if (started_) LOG_INFO("ha: ANA group %u: managed by %s from now on", g, opts_.name.c_str());
  }
  return *m;
}

void HaManager::ApplyLocked(uint32_t g, Step step) {
  if (step.transition) {
    const Transition& t = *step.transition;
    // One line per transition. Changes of who serves (and owner changes observed among
    // the peers) at INFO; the steps in between (fencing, acquiring, draining) at DEBUG.
    const bool serves = t.from == t.to || t.from == Role::kOwner || t.to == Role::kOwner || t.to == Role::kStandby ||
                        t.to == Role::kReceiving;
    NVMEOF_LOG(serves ? LogLevel::kInfo : LogLevel::kDebug, "ha: ANA group %u: %s %s -> %s, owner %s -> %s: %s (%.3f s)",
               g, opts_.name.c_str(), RoleName(t.from), RoleName(t.to), t.old_owner.empty() ? "nobody" : t.old_owner.c_str(),
               t.new_owner.empty() ? "nobody" : t.new_owner.c_str(), t.reason.c_str(), t.duration_ns / 1e9);
    GroupHistory& h = history_[g];
    h.since = Now();
    h.reason = t.reason;
    // The serving gateway as seen here changed (the steps in between report nobody or the
    // taker itself as the owner: count against the last one seen serving).
    if (!t.new_owner.empty() && t.new_owner != h.last_owner) {
      h.owner_changes++;
      h.last_owner = t.new_owner;
    }
  }
  for (auto& a : step.actions) {
    switch (a.kind) {
      case ActionKind::kSetOptimized: ana_->SetGroupState(g, nvme::kAnaOptimized); break;
      case ActionKind::kSetChange: ana_->SetGroupState(g, nvme::kAnaChange); break;
      case ActionKind::kSetInaccessible: ana_->SetGroupState(g, nvme::kAnaInaccessible); break;
      case ActionKind::kDrain:
        drains_.push_back(g);
        drain_cv_.notify_all();
        break;
      case ActionKind::kFence:
        fences_.push_back(Op{g, a});
        fence_cv_.notify_all();
        break;
      default:
        ops_.push_back(Op{g, a});
        cv_.notify_all();
        break;
    }
  }
  watchdog_cv_.notify_all();
  done_cv_.notify_all();
}

void HaManager::WorkerLoop() {
  {
    std::lock_guard lk(mu_);
    worker_id_ = std::this_thread::get_id();
  }
  uint64_t next_round = 0;
  for (;;) {
    bool round = false;
    {
      std::unique_lock lk(mu_);
      uint64_t now = Now();
      if (!wake_ && ops_.empty() && removals_.empty() && now < next_round)
        cv_.wait_for(lk, std::chrono::nanoseconds(next_round - now),
                     [&] { return stop_ || wake_ || !ops_.empty() || !removals_.empty(); });
      if (stop_) return;
      now = Now();
      if (wake_ || now >= next_round) {
        round = true;
        wake_ = false;
        next_round = now + opts_.timing.renew_ns;
      }
    }
    RunOps();  // renewals first
    if (round) Round();
    RunOps();
    RunRemovals();
  }
}

void HaManager::WatchdogLoop() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    uint64_t now = Now();
    uint64_t next = now + opts_.timing.renew_ns;
    for (auto& [g, m] : machines_) {
      ApplyLocked(g, m->Tick(now));
      next = std::min(next, m->NextDeadline());
    }
    now = Now();
    if (next > now) watchdog_cv_.wait_for(lk, std::chrono::nanoseconds(next - now));
  }
}

void HaManager::DrainLoop() {
  std::unique_lock lk(mu_);
  for (;;) {
    drain_cv_.wait(lk, [&] { return stop_ || !drains_.empty(); });
    if (stop_) return;
    uint32_t g = drains_.front();
    lk.unlock();
    ana_->Drain(g);
    lk.lock();
    drains_.pop_front();
    ApplyLocked(g, MachineLocked(g).OnDrained(Now()));
  }
}

// The fencer thread: one fence at a time, never while the worker replaces the store's client.
void HaManager::FenceLoop() {
  std::unique_lock lk(mu_);
  for (;;) {
    fence_cv_.wait(lk, [&] { return stop_ || (!fences_.empty() && !reconnecting_); });
    if (stop_) return;
    Op op = fences_.front();
    fences_.pop_front();
    fencing_ = true;
    lk.unlock();
    RunOp(op);
    lk.lock();
    fencing_ = false;
    fence_cv_.notify_all();
  }
}

void HaManager::HandleBlocklisted() {
  {
    std::unique_lock lk(mu_);
    reconnecting_ = true;
    fence_cv_.wait(lk, [&] { return !fencing_ || stop_; });
    if (fencing_) {  // stopping, the fence still in a store call: no reconnect under it
      reconnecting_ = false;
      return;
    }
  }
  Status s = store_->Reconnect();
  {
    std::lock_guard lk(mu_);
    reconnecting_ = false;
    fence_cv_.notify_all();
  }
  if (!s.ok()) {
    LOG_WARN("ha: %s: cannot reconnect after being blocklisted: %s", opts_.name.c_str(), s.ToString().c_str());
    return;
  }
  uint64_t old_epoch;
  {
    std::lock_guard lk(mu_);
    old_epoch = me_.epoch;
    me_.epoch = NewEpoch();
    for (auto& [g, m] : machines_) m->SetEpoch(me_.epoch);
  }
  // Our other clients were most likely fenced with this one: have the backend move off
  // them now, so that the registration below carries the new addresses and the home group
  // handed back by failback is served at once.
  Prepare(member().home_group);
  s = RegisterSelf();
  std::lock_guard lk(mu_);
  if (!s.ok()) {
    LOG_WARN("ha: %s: reconnected but cannot register again: %s", opts_.name.c_str(), s.ToString().c_str());
    return;  // the next round retries the registration with this client
  }
  blocklisted_ = false;
  reconnects_++;
  LOG_WARN("ha: %s: was blocklisted (epoch %llu); rejoined as a new RADOS client, epoch %llu", opts_.name.c_str(),
           static_cast<unsigned long long>(old_epoch), static_cast<unsigned long long>(me_.epoch));
}

void HaManager::Round() {
  bool need_reconnect;
  bool leaving;
  {
    std::lock_guard lk(mu_);
    need_reconnect = blocklisted_;
    leaving = leaving_;
  }
  if (need_reconnect) {
    HandleBlocklisted();
    std::lock_guard lk(mu_);
    if (blocklisted_) return;
  }
  auto blocked = [&](const Status& s) {
    if (!IsBlocklisted(s)) return false;
    std::lock_guard lk(mu_);
    OnBlocklistedLocked();
    return true;
  };
  auto warn = [&](const char* what, const Status& s) {
    uint64_t now = Now();
    if (now - last_warning_ >= 10'000'000'000ull || last_warning_ == 0) {
      LOG_WARN("ha: %s: %s: %s", opts_.name.c_str(), what, s.ToString().c_str());
      last_warning_ = now;
    }
  };

  // Our addresses (a new librbd connection, ...), listeners or hosts changed: register them
  // at once (new hosts with a notify: a peer may be waiting for them to fail a group back).
  if (Status s = RegisterChanges(); !s.ok()) {
    if (blocked(s)) return;
    warn("cannot register new addresses, listeners or hosts", s);
  }
  Holder me;
  std::vector<uint32_t> held;
  {
    std::lock_guard lk(mu_);
    me = me_;
    for (auto& [g, mach] : machines_)
      if (mach->holds_lease()) held.push_back(g);
  }
  // The hosts served here for each held group: a failback waits until the home has them.
  std::map<uint32_t, std::vector<std::string>> held_hosts;
  for (uint32_t g : held) held_hosts[g] = CurrentHosts(g);

  if (leaving) {
    if (!left_) {
      Status s = store_->Leave(me);
      if (blocked(s)) return;
      std::lock_guard lk(mu_);
      left_ = true;  // a failed Leave is as good: the membership lease expires
      done_cv_.notify_all();
    }
  } else {
    Status s = store_->Heartbeat(me, opts_.timing.lease_ns);
    if (blocked(s)) return;
    if (!s.ok()) warn("membership heartbeat failed", s);
  }

  auto members = store_->Members();
  if (!members.ok()) {
    if (!blocked(members.status())) warn("cannot read the members", members.status());
    return;
  }
  auto alive = store_->Alive();
  if (!alive.ok()) {
    if (!blocked(alive.status())) warn("cannot read the live members", alive.status());
    return;
  }
  std::set<uint32_t> groups;
  std::map<uint32_t, std::string> home;
  std::map<std::string, const MemberInfo*> by_name;
  for (const auto& m : *members) {
    by_name[m.name] = &m;
    if (m.home_group == 0) continue;
    groups.insert(m.home_group);
    home[m.home_group] = m.name;
  }
  if (opts_.groups)
    for (uint32_t g : opts_.groups())
      if (g != 0) groups.insert(g);
  std::set<std::string> alive_names;
  for (const auto& h : *alive) alive_names.insert(h.name);
  {
    std::lock_guard lk(mu_);
    for (auto& [g, mach] : machines_) groups.insert(g);
    members_.clear();
    for (const auto& mem : *members) members_.push_back(MemberStatus{mem, alive_names.count(mem.name) > 0});
  }
  std::map<uint32_t, LeaseView> leases;
  std::map<std::string, uint32_t> held_count;
  for (uint32_t g : groups) {
    auto lv = store_->ReadLease(g);
    if (!lv.ok()) {
      if (blocked(lv.status())) return;
      warn("cannot read a lease", lv.status());
      continue;
    }
    if (!lv->holder.empty()) held_count[lv->holder.name]++;
    leases[g] = std::move(*lv);
  }

  std::lock_guard lk(mu_);
  uint64_t now = Now();
  for (auto& [g, lv] : leases) {  // in group order: every gateway plans the same way
    Observation o;
    o.holder = lv.holder;
    for (auto& [name, rec] : lv.records) {
      o.records.push_back(rec.holder);
      if (!rec.handover_to.empty()) o.marks.push_back(HandoverMark{rec.holder, rec.handover_to});
    }
    if (const HandoverMark* m = CurrentMark(o)) marks_[g] = *m;
    else marks_.erase(g);
    if (auto it = home.find(g); it != home.end()) o.home = it->second;
    o.alive = alive_names;
    o.held = held_count;
    auto hh = held_hosts.find(g);
    if (hh == held_hosts.end()) waiting_for_hosts_.erase(g);
    if (hh != held_hosts.end() && !o.home.empty() && o.home != opts_.name) {
      auto hm = by_name.find(o.home);
      std::vector<std::string> missing;
      for (const auto& h : hh->second)
        if (hm == by_name.end() || !std::binary_search(hm->second->hosts.begin(), hm->second->hosts.end(), h))
          missing.push_back(h);
      o.home_has_hosts = missing.empty();
      if (!missing.empty() && alive_names.count(o.home) && !waiting_for_hosts_.count(g)) {
        waiting_for_hosts_.insert(g);
        LOG_INFO("ha: ANA group %u: %s fails it back to %s once these hosts have reconnected to it (at most %llu "
                 "ms): %s",
                 g, opts_.name.c_str(), o.home.c_str(),
                 static_cast<unsigned long long>(opts_.timing.failback_host_wait_ns / 1'000'000),
                 Join(missing).c_str());
      }
      if (missing.empty()) waiting_for_hosts_.erase(g);
    }
    // A free group counts for its candidate from now on, so that several orphans spread
    // over the survivors instead of all going to the one that held the fewest.
    if (o.holder.empty())
      if (std::string c = Candidate(o); !c.empty()) held_count[c]++;
    ApplyLocked(g, MachineLocked(g).Observe(now, o));
  }
}

Status HaManager::RegisterChanges() {
  uint64_t request;
  Holder me;
  std::map<uint32_t, std::string> held;  // group -> its hand-over mark
  MemberInfo m;
  std::vector<std::string> registered;
  {
    std::lock_guard lk(mu_);
    request = address_requests_;  // before the addresses are read: they include its client
    me = me_;
    m = member_;
    registered = registered_addresses_;
    for (auto& [g, mach] : machines_)
      if (mach->holds_lease()) held[g] = mach->handing_over_to();
  }
  std::vector<std::string> addrs = CurrentAddresses();
  std::vector<std::string> listeners = CurrentListeners();
  std::vector<std::string> hosts = CurrentHosts(0);
  const bool new_addrs = addrs != registered;
  const bool new_hosts = hosts != m.hosts;
  if (new_addrs || listeners != m.listeners || new_hosts) {
    m.epoch = me.epoch;
    m.addresses = addrs;
    m.listeners = listeners;
    m.hosts = hosts;
    Status s = store_->UpdateMember(m);
    if (new_addrs)
      for (const auto& [g, to] : held)
        if (s.ok()) s = store_->UpdateRecord(g, me, addrs, to);
    if (s.ok() && new_hosts) s = store_->Notify();
    if (!s.ok()) return s;
    std::lock_guard lk(mu_);
    if (new_addrs) {
      LOG_INFO("ha: %s: RADOS addresses now %s", opts_.name.c_str(), Join(addrs).c_str());
      address_updates_++;
    }
    if (listeners != member_.listeners)
      LOG_INFO("ha: %s: listeners now %s", opts_.name.c_str(), listeners.empty() ? "none" : Join(listeners).c_str());
    member_.addresses = addrs;
    member_.listeners = listeners;
    member_.hosts = hosts;
    registered_addresses_ = addrs;
  }
  std::lock_guard lk(mu_);
  addresses_done_ = std::max(addresses_done_, request);
  done_cv_.notify_all();
  return Status::OK();
}

void HaManager::Prepare(uint32_t g) {
  {
    std::lock_guard lk(mu_);
    preparing_ = true;
  }
  done_cv_.notify_all();  // AddressesChanged() waiters: the worker registers after this
  Status s = ana_->PrepareToServe(g);
  {
    std::lock_guard lk(mu_);
    preparing_ = false;
  }
  if (!s.ok())
    LOG_WARN("ha: ANA group %u: %s: preparing to serve: %s; going on", g, opts_.name.c_str(), s.ToString().c_str());
}

void HaManager::AddressesChanged() {
  std::unique_lock lk(mu_);
  // Not serving anything yet, or about to register anyway.
  if (!started_ || stop_ || blocklisted_ || preparing_ || std::this_thread::get_id() == worker_id_) return;
  const uint64_t want = ++address_requests_;
  wake_ = true;
  cv_.notify_all();
  if (!done_cv_.wait_for(lk, std::chrono::nanoseconds(opts_.timing.lease_ns),
                         [&] { return addresses_done_ >= want || preparing_ || blocklisted_ || stop_; }))
    LOG_WARN("ha: %s: a new RADOS client is not registered within %llu ms; the next round registers it",
             opts_.name.c_str(), static_cast<unsigned long long>(opts_.timing.lease_ns / 1'000'000));
}

Status HaManager::RemoveMember(const std::string& name) {
  if (name == opts_.name)
    return Status::Error(errc::kMemberAlive, "gateway " + name + " is this gateway (alive); remove it from another one");
  auto req = std::make_shared<Removal>();
  req->name = name;
  std::unique_lock lk(mu_);
  if (!started_ || stop_) return Status::Error(errc::kNotConnected, "ha: not started");
  removals_.push_back(req);
  cv_.notify_all();
  if (!done_cv_.wait_for(lk, std::chrono::nanoseconds(opts_.stop_timeout_ns), [&] { return req->done || stop_; }) ||
      !req->done)
    return Status::Error(errc::kNotConnected, "ha: the HA worker did not answer in time");
  return req->result;
}

void HaManager::RunRemovals() {
  for (;;) {
    std::shared_ptr<Removal> req;
    {
      std::lock_guard lk(mu_);
      if (removals_.empty()) return;
      req = removals_.front();
      removals_.pop_front();
    }
    Status s = store_->RemoveMember(req->name);
    if (s.ok()) LOG_WARN("ha: %s: removed the member record of gateway %s (operator request)", opts_.name.c_str(),
                         req->name.c_str());
    std::lock_guard lk(mu_);
    if (IsBlocklisted(s)) OnBlocklistedLocked();
    req->result = s;
    req->done = true;
    wake_ = true;  // the next round re-reads the members
    done_cv_.notify_all();
  }
}

uint64_t HaManager::address_updates() const {
  std::lock_guard lk(mu_);
  return address_updates_;
}

void HaManager::OnBlocklistedLocked() {
  if (!blocklisted_)
    LOG_WARN("ha: %s: this gateway's RADOS client is blocklisted: self-fencing every group", opts_.name.c_str());
  blocklisted_ = true;
  for (auto& [g, m] : machines_) ApplyLocked(g, m->OnBlocklisted(Now()));
}

void HaManager::RunOps() {
  for (;;) {
    Op op;
    {
      std::lock_guard lk(mu_);
      if (ops_.empty() || stop_) return;
      op = ops_.front();
      ops_.pop_front();
    }
    RunOp(op);
  }
}

void HaManager::RunOp(const Op& op) {
  const uint32_t g = op.group;
  Holder me;
  std::vector<std::string> addrs;
  {
    std::lock_guard lk(mu_);
    me = me_;
    addrs = registered_addresses_;
  }
  const uint64_t lease = opts_.timing.lease_ns;
  switch (op.action.kind) {
    case ActionKind::kFence: {
      std::vector<std::string> fence_addrs, names, who;
      Status s;
      auto lv = store_->ReadLease(g);
      if (!lv.ok()) {
        s = lv.status();
      } else {
        for (const auto& h : op.action.fence) {
          auto it = lv->records.find(h.name);
          if (it == lv->records.end()) continue;  // removed meanwhile (fenced by another)
          names.push_back(h.name);
          who.push_back(it->second.holder.ToString());
          for (const auto& a : it->second.addresses) fence_addrs.push_back(a);
        }
        if (!fence_addrs.empty()) s = store_->Blocklist(fence_addrs, opts_.blocklist_expire_sec);
        if (s.ok() && !names.empty()) s = store_->RemoveRecords(g, names);
      }
      if (s.ok() && !fence_addrs.empty())
        LOG_WARN("ha: ANA group %u: %s fenced %s: blocklisted %s", g, opts_.name.c_str(), Join(who).c_str(),
                 Join(fence_addrs).c_str());
      if (!s.ok() && !IsBlocklisted(s))
        LOG_WARN("ha: ANA group %u: %s cannot fence %s: %s", g, opts_.name.c_str(), Join(who).c_str(),
                 s.ToString().c_str());
      std::lock_guard lk(mu_);
      if (IsBlocklisted(s)) {
        OnBlocklistedLocked();
        return;
      }
      ApplyLocked(g, MachineLocked(g).OnFenced(Now(), s.ok()));
      return;
    }
    case ActionKind::kAcquire: {
      // Serve only through clients that are not blocklisted, and only once every one of
      // them is registered (fenceable): the lease record carries the addresses.
      Prepare(g);
      Status s = RegisterChanges();
      LeaseResult r = LeaseResult::kError;
      if (IsBlocklisted(s)) {
        r = LeaseResult::kBlocklisted;
      } else if (!s.ok()) {
        LOG_WARN("ha: ANA group %u: %s: cannot register its addresses before taking the lease: %s", g,
                 opts_.name.c_str(), s.ToString().c_str());
      } else {
        {
          std::lock_guard lk(mu_);
          addrs = registered_addresses_;
        }
        r = store_->Acquire(g, me, addrs, lease);
      }
      std::lock_guard lk(mu_);
      ApplyLocked(g, MachineLocked(g).OnAcquire(Now(), r));
      if (r == LeaseResult::kBlocklisted) OnBlocklistedLocked();
      return;
    }
    case ActionKind::kRenew: {
      LeaseResult r = store_->Renew(g, me, lease);
      std::lock_guard lk(mu_);
      ApplyLocked(g, MachineLocked(g).OnRenew(Now(), op.action.at, r));
      if (r == LeaseResult::kBlocklisted) OnBlocklistedLocked();
      return;
    }
    case ActionKind::kRelease: {
      LeaseResult r = store_->Release(g, me);
      std::lock_guard lk(mu_);
      ApplyLocked(g, MachineLocked(g).OnReleased(Now(), r));
      if (r == LeaseResult::kBlocklisted) OnBlocklistedLocked();
      return;
    }
    case ActionKind::kMark: {
      {
        std::lock_guard lk(mu_);
        // Given up meanwhile (self-fenced, released): nothing to announce.
        if (MachineLocked(g).handing_over_to() != op.action.to) return;
        addrs = registered_addresses_;
      }
      Status s = store_->UpdateRecord(g, me, addrs, op.action.to);
      if (s.ok()) s = store_->Notify();
      if (!s.ok() && !IsBlocklisted(s))
        LOG_WARN("ha: ANA group %u: %s cannot mark its hand-over to %s (%s sees it once the lease is free): %s", g,
                 opts_.name.c_str(), op.action.to.c_str(), op.action.to.c_str(), s.ToString().c_str());
      if (IsBlocklisted(s)) {
        std::lock_guard lk(mu_);
        OnBlocklistedLocked();
      }
      return;
    }
    case ActionKind::kNotify: {
      Status s = store_->Notify();
      if (IsBlocklisted(s)) {
        std::lock_guard lk(mu_);
        OnBlocklistedLocked();
      }
      return;
    }
    default: return;
  }
}

std::vector<HaManager::GroupStatus> HaManager::Groups() const {
  std::lock_guard lk(mu_);
  std::vector<GroupStatus> out;
  const uint64_t now = Now();
  for (auto& [g, m] : machines_) {
    const uint8_t ana = m->serving() ? nvme::kAnaOptimized : m->changing() ? nvme::kAnaChange : nvme::kAnaInaccessible;
    GroupStatus s{g, m->role(), m->serving() ? opts_.name : m->observed_holder().name, 0, 0, "", 0, ana, "", ""};
    if (auto mk = marks_.find(g); mk != marks_.end()) {
      s.handover_from = mk->second.from.name;
      s.handover_to = mk->second.to;
    }
    if (m->holds_lease() && m->last_renewed() && now > m->last_renewed()) s.lease_age_ns = now - m->last_renewed();
    if (auto h = history_.find(g); h != history_.end()) {
      s.since_ns = now > h->second.since ? now - h->second.since : 0;
      s.last_reason = h->second.reason;
      s.owner_changes = h->second.owner_changes;
    }
    out.push_back(s);
  }
  return out;
}

std::vector<HaManager::MemberStatus> HaManager::Members() const {
  std::lock_guard lk(mu_);
  return members_;
}

std::vector<uint32_t> HaManager::Owned() const {
  std::lock_guard lk(mu_);
  std::vector<uint32_t> out;
  for (auto& [g, m] : machines_)
    if (m->serving()) out.push_back(g);
  return out;
}

MemberInfo HaManager::member() const {
  std::lock_guard lk(mu_);
  return member_;
}

std::set<std::string> HaManager::AliveMembers() const {
  std::lock_guard lk(mu_);
  std::set<std::string> out;
  for (const auto& m : members_)
    if (m.alive) out.insert(m.info.name);
  return out;
}

uint64_t HaManager::reconnects() const {
  std::lock_guard lk(mu_);
  return reconnects_;
}

}  // namespace nvmeof::ha
