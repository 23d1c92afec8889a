// LoadBalancer: see load_balancer.h.
#include "api/load_balancer.h"

#include "api/service.h"

namespace nvmeof::api {

LoadBalancer::LoadBalancer(GatewayService* svc, Options opts) : svc_(svc), opts_(opts) {}

LoadBalancer::~LoadBalancer() { Stop(); }

void LoadBalancer::Start() { thread_ = std::thread([this] { Loop(); }); }

void LoadBalancer::Stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LoadBalancer::Loop() {
  using Clock = std::chrono::steady_clock;
  auto next_rebalance = Clock::now() + opts_.rebalance_period;
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_) {
    cv_.wait_for(lk, opts_.tick, [&] { return stop_; });
    if (stop_) return;
    lk.unlock();
    svc_->BalanceStep();
    if (opts_.rebalance_period.count() > 0 && Clock::now() >= next_rebalance) {
      (void)svc_->RebalanceStep();
      next_rebalance = Clock::now() + opts_.rebalance_period;
    }
    lk.lock();
  }
}

}  // namespace nvmeof::api
