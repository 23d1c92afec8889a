// LoadBalancer: the thread that drives load balancing for one GatewayService (gateway-group
// HA; docs/ha.md "Load balancing"). Every `tick` it runs GatewayService::BalanceStep (this
// gateway's part of hand-overs), and every `rebalance_period` GatewayService::RebalanceStep
// (which writes moves only on the leader). Its own thread; never a reactor. Errors are
// logged by the service and retried at the next tick or period.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace nvmeof::api {

class GatewayService;

class LoadBalancer {
 public:
  struct Options {
    std::chrono::milliseconds tick{250};
    std::chrono::milliseconds rebalance_period{std::chrono::seconds(7)};  // 0: no rebalancing
  };
  // `svc` (not owned) must outlive the balancer and have SetLoadBalancing called.
  LoadBalancer(GatewayService* svc, Options opts);
  ~LoadBalancer();  // Stop()
  LoadBalancer(const LoadBalancer&) = delete;
  LoadBalancer& operator=(const LoadBalancer&) = delete;

  void Start();
  void Stop();  // idempotent; waits for a step in progress

 private:
  void Loop();

  GatewayService* svc_;
  const Options opts_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace nvmeof::api
