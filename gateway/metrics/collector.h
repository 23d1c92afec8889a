// GatewayCollector: the gateway's Prometheus metrics, built at scrape time from the probes
// and the target model. The reference gateway's metrics keep their names, types, labels
// and help texts (ceph-nvmeof control/prometheus.py), so the Ceph dashboard and Ceph's
// NVMe-oF alert rules work unchanged; this gateway's own metrics follow them.
//
//   reference   ceph_nvmeof_gateway_info, ceph_nvmeof_bdev_* (metadata, capacity,
//               reads/writes completed, bytes, seconds), ceph_nvmeof_reactor_seconds_total,
//               ceph_nvmeof_subsystem_* (metadata, listener/host/namespace counts, namespace
//               limit, namespace metadata), ceph_nvmeof_host_connection_state,
//               ceph_nvmeof_host_keepalive_timeout, ceph_nvmeof_subsystem_listener_iface_*,
//               ceph_nvmeof_rpc_method_seconds (how long each step of the collection took)
//   own         per-namespace read/write latency histograms, unmaps and errors; requests
//               per state (queue depth); controllers per listener; ANA groups this gateway
//               serves optimized; NVMe/TCP counters
//               (connections, PDUs, digest and fatal transport errors, bytes); controllers
//               created/destroyed, keep alive timeouts, ANA changes, failed commands;
//               gateway-group HA (with an HaManager): owner of each ANA group, whether
//               this gateway serves it, owner changes (failovers), lease age, live members
//
// Threads: Collect() runs on the exporter's thread (never a reactor). It reads the
// probes' relaxed atomics (ReactorProbe, NvmfProbe, NsStats, TcpProbe::Totals) and takes
// the target's and subsystems' mutexes for the model (as the gRPC listings do); reactors
// never wait for it, and no I/O touches anything it creates. Scrapes within `interval` of
// the last collection get the cached result (the reference's prometheus_stats_interval).
// Nothing fails: what cannot be read (an interface's /sys files) is left out.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace nvmeof {

class ReactorProbe;
class Target;
namespace ha {
class HaManager;
}

// What ceph_nvmeof_gateway_info says about this gateway.
struct GatewayIdentity {
  std::string version;
  std::string spdk_version = "none";  // no SPDK here; a non-empty value keeps the label
  std::string addr, port;             // the management (gRPC) address
  std::string name, hostname;
  std::string group;  // empty: "_null_", as the reference writes it
  uint32_t load_balancing_group = 1;
};

struct CollectorOptions {
  GatewayIdentity gateway;
  // Only namespaces on RBD images of these pools ([gateway] prometheus_bdev_pools); empty:
  // every namespace, whatever its device.
  std::vector<std::string> bdev_pools;
  // Scrapes within this time of a collection get its result (0: collect on every scrape).
  std::chrono::milliseconds interval{0};
  // Where network interfaces are described (the listener iface metrics); tests change it.
  std::string sys_class_net = "/sys/class/net";
  // The gateway-group HA manager (outlives the collector); null: no ceph_nvmeof_ha_* metrics.
  const ha::HaManager* ha_manager = nullptr;
};

class GatewayCollector final : public prometheus::Collectable {
 public:
  // `target` and the probes outlive the collector (the daemon owns them). Each reactor's
  // probe is named "nvmf_tgt_poll_group_NNN" by its index, as the reference's SPDK poll
  // groups are.
  GatewayCollector(Target* target, std::vector<const ReactorProbe*> reactors, CollectorOptions opts);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::vector<prometheus::MetricFamily> Build() const;

  Target* target_;
  std::vector<const ReactorProbe*> reactors_;
  CollectorOptions opts_;
  mutable std::mutex mu_;  // the cache
  mutable std::vector<prometheus::MetricFamily> cache_;
  mutable std::chrono::steady_clock::time_point cached_at_{};
  mutable bool cached_ = false;
};

}  // namespace nvmeof
