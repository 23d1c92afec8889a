// StateFollower: see state_follower.h.
#include "gateway/state/state_follower.h"

#include "gateway/common/log.h"

namespace nvmeof {

StateFollower::StateFollower(StateStore* store, StateTarget* target, std::mutex* target_mu, Options opts)
    : store_(store), target_mu_(target_mu), opts_(opts), applier_(target) {}

StateFollower::~StateFollower() { Stop(); }

Status StateFollower::Start() {
  {
    std::lock_guard<std::mutex> lk(q_mu_);
    if (thread_.joinable() || stop_) return Status::Error(state::errc::kAlreadyStarted, "the state follower was already started");
    thread_ = std::thread([this] { Loop(); });
  }
  if (store_) {
    store_->Subscribe([this](const StateMap& m, uint64_t v) { OnStateChanged(m, v); });
    if (Status st = store_->Start(); !st.ok()) return st;
  }
  WaitIdle();
  return Status::OK();
}

void StateFollower::Stop() {
  if (store_) store_->Stop();
  {
    std::lock_guard<std::mutex> lk(q_mu_);
    stop_ = true;
    pending_.reset();
  }
  q_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StateFollower::OnStateChanged(const StateMap& state, uint64_t version) {
  LOG_DEBUG("group state version %llu received (%zu keys)", static_cast<unsigned long long>(version),
            state.size());
  {
    std::lock_guard<std::mutex> lk(q_mu_);
    if (stop_) return;
    // Only the newest snapshot matters: each one is the full state.
    if (!pending_ || version >= pending_->second) pending_ = std::make_pair(state, version);
  }
  q_cv_.notify_all();
}

void StateFollower::WaitIdle() {
  std::unique_lock<std::mutex> lk(q_mu_);
  q_cv_.wait(lk, [this] { return (!pending_ && !applying_) || stop_; });
}

std::unique_lock<std::mutex> StateFollower::LockTarget() {
  return target_mu_ ? std::unique_lock<std::mutex>(*target_mu_) : std::unique_lock<std::mutex>();
}

void StateFollower::Replay(const StateMap& state, uint64_t version) {
  auto lk = LockTarget();
  ApplyReport r = applier_.Update(state, version);
  for (auto& [key, st] : r.failed) LOG_WARN("group state: %s not applied: %s", key.c_str(), st.ToString().c_str());
  if (r.applied)
    LOG_INFO("group state version %llu: %zu change(s) applied", static_cast<unsigned long long>(version), r.applied);
  if (after_apply_) after_apply_();
}

void StateFollower::Reconcile() {
  auto lk = LockTarget();
  if (applier_.pending()) {
    ApplyReport r = applier_.Reconcile();
    for (auto& [key, st] : r.failed) LOG_DEBUG("group state: %s still pending: %s", key.c_str(), st.ToString().c_str());
  }
  if (after_apply_) after_apply_();
}

void StateFollower::RecordLocal(const StateMap& puts, const std::vector<std::string>& removes, uint64_t version) {
  if (version) {
    applier_.RecordLocal(puts, removes, version);
  } else {
    applier_.RecordLocal(puts, removes);
  }
}

void StateFollower::Loop() {
  std::unique_lock<std::mutex> lk(q_mu_);
  auto next_reconcile = std::chrono::steady_clock::now() + opts_.reconcile_interval;
  for (;;) {
    q_cv_.wait_until(lk, next_reconcile, [this] { return stop_ || pending_.has_value(); });
    if (stop_) return;
    if (pending_) {
      auto snap = std::move(*pending_);
      pending_.reset();
      applying_ = true;
      lk.unlock();
      Replay(snap.first, snap.second);
      lk.lock();
      applying_ = false;
      q_cv_.notify_all();
      continue;
    }
    if (std::chrono::steady_clock::now() < next_reconcile) continue;
    lk.unlock();
    Reconcile();
    lk.lock();
    next_reconcile = std::chrono::steady_clock::now() + opts_.reconcile_interval;
  }
}

}  // namespace nvmeof
