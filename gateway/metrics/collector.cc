// The gateway's Prometheus metrics: see collector.h.
#include "gateway/metrics/collector.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "gateway/common/clock.h"
#include "gateway/common/strings.h"
#include "gateway/ha/ha_manager.h"
#include "gateway/nvmf/subsystem.h"
#include "gateway/nvmf/target.h"
#include "gateway/runtime/reactor_probe.h"
#include "gateway/transport/tcp/tcp_probe.h"

namespace nvmeof {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr char kPrefix[] = "ceph_nvmeof_";

MetricFamily Family(const std::string& name, const std::string& help, MetricType type) {
  MetricFamily f;
  f.name = kPrefix + name;
  f.help = help;
  f.type = type;
  return f;
}

// One sample with labels (names and values in order).
void Add(MetricFamily& f, std::vector<std::pair<const char*, std::string>> labels, double value) {
  ClientMetric m;
  for (auto& [k, v] : labels) m.label.push_back({k, std::move(v)});
  if (f.type == MetricType::Counter) m.counter.value = value;
  else m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

void AddHistogram(MetricFamily& f, std::vector<std::pair<const char*, std::string>> labels,
                  const NsStats::Histogram& h, uint64_t sum_ns) {
  ClientMetric m;
  for (auto& [k, v] : labels) m.label.push_back({k, std::move(v)});
  uint64_t cumulative = 0;
  for (size_t i = 0; i < NsStats::kLatencyBuckets; i++) {
    cumulative += h[i].load(std::memory_order_relaxed);
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i + 1 < NsStats::kLatencyBuckets ? static_cast<double>(NsStats::LatencyBucketBoundNs(i)) / 1e9
                                                      : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(sum_ns) / 1e9;
  f.metric.push_back(std::move(m));
}

double Seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }
uint64_t Load(const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); }

std::string ReadLine(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  if (f) std::getline(f, s);
  return Trim(s);
}

// Local addresses ("10.0.0.1", "fe80::1") -> interface name.
std::map<std::string, std::string> InterfaceAddresses() {
  std::map<std::string, std::string> out;
  struct ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (auto* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || !a->ifa_name) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof(buf));
    else if (a->ifa_addr->sa_family == AF_INET6)
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, buf, sizeof(buf));
    else
      continue;
    out.emplace(buf, a->ifa_name);
  }
  freeifaddrs(list);
  return out;
}

// Times each step of a collection (ceph_nvmeof_rpc_method_seconds, by the reference's
// method names).
class StepTimer {
 public:
  explicit StepTimer(std::vector<std::pair<std::string, double>>* out) : out_(out) {}
  void Done(const char* method) {
    const uint64_t now = NowNs();
    out_->push_back({method, Seconds(now - start_)});
    start_ = now;
  }

 private:
  std::vector<std::pair<std::string, double>>* out_;
  uint64_t start_ = NowNs();
};

bool IsGauge(TcpCounter c) {
  return c >= TcpCounter::kRequestsFree && c <= TcpCounter::kRequestsSending;
}

}  // namespace

GatewayCollector::GatewayCollector(Target* target, std::vector<const ReactorProbe*> reactors, CollectorOptions opts)
    : target_(target), reactors_(std::move(reactors)), opts_(std::move(opts)) {
  if (opts_.gateway.group.empty()) opts_.gateway.group = "_null_";
}

std::vector<MetricFamily> GatewayCollector::Collect() const {
  std::lock_guard<std::mutex> lk(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!cached_ || opts_.interval.count() == 0 || now - cached_at_ >= opts_.interval) {
    cache_ = Build();
    cached_at_ = now;
    cached_ = true;
  }
  return cache_;
}

std::vector<MetricFamily> GatewayCollector::Build() const {
  std::vector<MetricFamily> out;
  std::vector<std::pair<std::string, double>> timings;
  StepTimer timer(&timings);
  const GatewayIdentity& gw = opts_.gateway;

  // ------------------------------------------------------------ gateway
  MetricFamily info = Family("gateway_info", "Gateway information", MetricType::Gauge);
  Add(info,
      {{"spdk_version", gw.spdk_version},
       {"version", gw.version},
       {"addr", gw.addr},
       {"port", gw.port},
       {"name", gw.name},
       {"hostname", gw.hostname},
       {"group", gw.group},
       {"load_balancing_group", std::to_string(gw.load_balancing_group)}},
      1);
  out.push_back(std::move(info));

  // ------------------------------------------------------------ block devices (namespaces)
  struct Ns {
    std::string nqn;
    std::shared_ptr<Namespace> ns;
    std::string bdev;
  };
  std::vector<Ns> namespaces;
  std::vector<std::shared_ptr<Subsystem>> subsystems;
  for (auto& s : target_->Subsystems()) {
    if (s->is_discovery()) continue;
    subsystems.push_back(s);
    for (auto& ns : s->Namespaces()) namespaces.push_back({s->nqn(), ns, BdevName(ns->uuid())});
  }
  const std::set<std::string> pools(opts_.bdev_pools.begin(), opts_.bdev_pools.end());
  MetricFamily bdev_capacity = Family("bdev_capacity_bytes", "BDEV Capacity", MetricType::Gauge);
  MetricFamily bdev_metadata = Family("bdev_metadata", "BDEV Metadata", MetricType::Gauge);
  std::vector<Ns> exported;
  for (auto& n : namespaces) {
    const NamespaceSpec& spec = n.ns->spec();
    const bool rbd = spec.backend == "rbd";
    if (!pools.empty() && (!rbd || !pools.count(spec.rbd_pool))) continue;
    Add(bdev_metadata,
        {{"bdev_name", n.bdev},
         {"pool_name", rbd ? spec.rbd_pool : ""},
         {"namespace", rbd ? spec.rados_namespace : ""},
         {"rbd_name", rbd ? spec.rbd_image : ""},
         {"block_size", std::to_string(n.ns->block_size())}},
        1);
    Add(bdev_capacity, {{"bdev_name", n.bdev}}, static_cast<double>(n.ns->dev().size()));
    exported.push_back(n);
  }
  out.push_back(std::move(bdev_capacity));
  out.push_back(std::move(bdev_metadata));
  timer.Done("_get_bdev_info");

  MetricFamily reads = Family("bdev_reads_completed_total", "Total number of read operations completed",
                              MetricType::Counter);
  MetricFamily writes = Family("bdev_writes_completed_total", "Total number of write operations completed",
                               MetricType::Counter);
  MetricFamily read_bytes = Family("bdev_read_bytes_total", "Total number of bytes read successfully",
                                   MetricType::Counter);
  MetricFamily written_bytes = Family("bdev_written_bytes_total", "Total number of bytes written successfully",
                                      MetricType::Counter);
  MetricFamily read_seconds = Family("bdev_read_seconds_total", "Total time spent servicing READ I/O",
                                     MetricType::Counter);
  MetricFamily write_seconds = Family("bdev_write_seconds_total", "Total time spent servicing WRITE I/O",
                                      MetricType::Counter);
  MetricFamily unmaps = Family("bdev_unmaps_completed_total", "Total number of deallocate (unmap) ranges completed",
                               MetricType::Counter);
  MetricFamily io_errors = Family("bdev_io_errors_total", "Total number of I/O operations the device failed",
                                  MetricType::Counter);
  MetricFamily read_latency = Family("bdev_read_latency_seconds",
                                     "Latency of successful reads, from command to device completion",
                                     MetricType::Histogram);
  MetricFamily write_latency = Family("bdev_write_latency_seconds",
                                      "Latency of successful writes, from command to device completion",
                                      MetricType::Histogram);
  for (auto& n : exported) {
    const NsStats& st = n.ns->stats();
    Add(reads, {{"bdev_name", n.bdev}}, static_cast<double>(st.ReadOps()));
    Add(writes, {{"bdev_name", n.bdev}}, static_cast<double>(st.WriteOps()));
    Add(read_bytes, {{"bdev_name", n.bdev}}, static_cast<double>(Load(st.read_bytes)));
    Add(written_bytes, {{"bdev_name", n.bdev}}, static_cast<double>(Load(st.write_bytes)));
    Add(read_seconds, {{"bdev_name", n.bdev}}, Seconds(Load(st.read_ns)));
    Add(write_seconds, {{"bdev_name", n.bdev}}, Seconds(Load(st.write_ns)));
    Add(unmaps, {{"bdev_name", n.bdev}}, static_cast<double>(Load(st.unmap_ops)));
    Add(io_errors, {{"bdev_name", n.bdev}}, static_cast<double>(Load(st.errors)));
    AddHistogram(read_latency, {{"bdev_name", n.bdev}}, st.read_latency, Load(st.read_ns));
    AddHistogram(write_latency, {{"bdev_name", n.bdev}}, st.write_latency, Load(st.write_ns));
  }
  for (auto* f : {&reads, &writes, &read_bytes, &written_bytes, &read_seconds, &write_seconds, &unmaps, &io_errors,
                  &read_latency, &write_latency})
    out.push_back(std::move(*f));
  timer.Done("_get_bdev_io_stats");

  // ------------------------------------------------------------ reactors
  MetricFamily reactor = Family("reactor_seconds_total", "time reactor thread active with I/O", MetricType::Counter);
  for (size_t i = 0; i < reactors_.size(); i++) {
    char name[64];
    snprintf(name, sizeof(name), "nvmf_tgt_poll_group_%03zu", i);
    Add(reactor, {{"name", name}, {"mode", "busy"}}, Seconds(reactors_[i]->busy_ns()));
    Add(reactor, {{"name", name}, {"mode", "idle"}}, Seconds(reactors_[i]->idle_ns()));
  }
  out.push_back(std::move(reactor));
  timer.Done("_get_spdk_thread_stats");

  // ------------------------------------------------------------ subsystems, hosts, listeners
  MetricFamily sub_metadata = Family("subsystem_metadata", "Metadata describing the subsystem configuration",
                                     MetricType::Gauge);
  MetricFamily sub_listeners = Family("subsystem_listener_count", "Number of listener addresses used by the subsystem",
                                      MetricType::Gauge);
  MetricFamily sub_hosts = Family("subsystem_host_count", "Number of hosts defined to the subsystem",
                                  MetricType::Gauge);
  MetricFamily sub_ns_count = Family("subsystem_namespace_count",
                                     "Number of namespaces associated with the subsystem", MetricType::Gauge);
  MetricFamily sub_ns_limit = Family("subsystem_namespace_limit", "Maximum namespaces supported", MetricType::Gauge);
  MetricFamily sub_ns_metadata = Family("subsystem_namespace_metadata", "Namespace information for the subsystem",
                                        MetricType::Gauge);
  MetricFamily conn_state = Family("host_connection_state", "Host connection state 0=disconnected, 1=connected",
                                   MetricType::Gauge);
  MetricFamily kato = Family("host_keepalive_timeout", "Host keepalive timeout 0=no, 1=yes", MetricType::Gauge);
  MetricFamily listener_ctrls = Family("subsystem_listener_controllers",
                                       "Host controllers (associations) connected through the listener",
                                       MetricType::Gauge);
  MetricFamily ana_optimized = Family("subsystem_ana_group_optimized",
                                      "Whether this gateway serves the ANA group optimized (owns it) 0=no, 1=yes",
                                      MetricType::Gauge);
  std::map<std::string, std::set<std::string>> nqns_by_addr;  // listener address -> subsystems
  std::vector<std::pair<std::shared_ptr<Subsystem>, SubsystemView>> views;
  for (auto& s : subsystems) views.push_back({s, s->View()});
  timer.Done("_get_subsystems");
  for (auto& [s, v] : views) {
    const std::string& nqn = v.spec.nqn;
    Add(sub_metadata,
        {{"nqn", nqn},
         {"serial_number", v.spec.serial},
         {"model_number", v.spec.model},
         {"allow_any_host", v.spec.allow_any_host ? "yes" : "no"},
         {"ha_enabled", v.spec.enable_ha ? "yes" : "no"},
         {"group", gw.group}},
        1);
    Add(sub_listeners, {{"nqn", nqn}}, static_cast<double>(v.listeners.size()));
    Add(sub_hosts, {{"nqn", nqn}}, static_cast<double>(v.hosts.size()));
    Add(sub_ns_count, {{"nqn", nqn}}, static_cast<double>(v.namespaces.size()));
    Add(sub_ns_limit, {{"nqn", nqn}}, static_cast<double>(v.spec.max_namespaces));
    for (auto& ns : v.namespaces)
      Add(sub_ns_metadata,
          {{"nqn", nqn}, {"nsid", std::to_string(ns.nsid)}, {"bdev_name", BdevName(ns.uuid)},
           {"anagrpid", std::to_string(ns.anagrpid)}},
          1);
    for (auto& l : v.listeners) nqns_by_addr[l.traddr].insert(nqn);
    std::set<uint32_t> groups;
    for (auto& ns : v.namespaces) groups.insert(ns.anagrpid);
    for (uint32_t g : groups)
      Add(ana_optimized, {{"nqn", nqn}, {"anagrpid", std::to_string(g)}},
          target_->AnaState(nqn, g) == nvme::kAnaOptimized ? 1 : 0);
  }
  timer.Done("_list_subsystems");
  for (auto& [s, v] : views) {
    const std::string& nqn = v.spec.nqn;
    std::set<std::string> hosts;
    for (auto& h : v.hosts) hosts.insert(h.nqn);
    std::map<std::pair<std::string, std::string>, int> per_listener;
    for (auto& l : v.listeners) per_listener[{l.traddr, l.trsvcid}] = 0;
    for (auto& c : target_->Connections(nqn)) {
      Add(conn_state, {{"gw_name", gw.name}, {"nqn", nqn}, {"host_nqn", c.hostnqn}, {"host_addr", c.peer}}, 1);
      hosts.erase(c.hostnqn);
      // The listener the controller came in through (a wildcard listener serves any address).
      bool counted = false;
      for (auto& l : v.listeners) {
        PortInfo p;
        p.trtype = l.trtype;
        p.traddr = c.traddr;
        p.trsvcid = c.trsvcid;
        if (!counted && l.Serves(p)) {
          per_listener[{l.traddr, l.trsvcid}]++;
          counted = true;
        }
      }
    }
    for (auto& h : hosts) Add(conn_state, {{"gw_name", gw.name}, {"nqn", nqn}, {"host_nqn", h}, {"host_addr", "<n/a>"}}, 0);
    for (auto& [l, n] : per_listener)
      Add(listener_ctrls, {{"nqn", nqn}, {"traddr", l.first}, {"trsvcid", l.second}}, n);
  }
  timer.Done("_get_connection_map");
  for (auto& [s, v] : views) {
    const std::set<std::string> timed_out = s->KeepAliveTimedOutHosts();
    for (auto& h : v.hosts)
      Add(kato, {{"gw_name", gw.name}, {"nqn", v.spec.nqn}, {"host_nqn", h.nqn}}, timed_out.count(h.nqn) ? 1 : 0);
  }
  timer.Done("_get_host_map");
  for (auto* f : {&sub_metadata, &sub_listeners, &sub_hosts, &sub_ns_count, &sub_ns_limit, &sub_ns_metadata,
                  &conn_state, &kato, &listener_ctrls, &ana_optimized})
    out.push_back(std::move(*f));

  // ------------------------------------------------------------ listener interfaces
  MetricFamily iface_info = Family("subsystem_listener_iface_info", "Interface information", MetricType::Gauge);
  MetricFamily iface_speed = Family("subsystem_listener_iface_speed_bytes", "Link speed of the Listener interface",
                                    MetricType::Gauge);
  MetricFamily iface_nqn = Family("subsystem_listener_iface_nqn_info", "Subsystem usage of a NIC device",
                                  MetricType::Gauge);
  const auto addresses = InterfaceAddresses();
  std::set<std::string> devices_done;
  for (auto& [addr, nqns] : nqns_by_addr) {
    auto it = addresses.find(addr);
    if (it == addresses.end()) continue;  // a wildcard, or not an address of this host
    const std::string& dev = it->second;
    const std::string dir = opts_.sys_class_net + "/" + dev + "/";
    if (devices_done.insert(dev).second) {
      Add(iface_info,
          {{"device", dev},
           {"operstate", ReadLine(dir + "operstate")},
           {"duplex", ReadLine(dir + "duplex")},
           {"mac_address", ReadLine(dir + "address")}},
          1);
      // /sys gives Mb/s (-1 or unreadable when the link has none, e.g. loopback).
      const long mbps = std::strtol(ReadLine(dir + "speed").c_str(), nullptr, 10);
      Add(iface_speed, {{"device", dev}}, mbps > 0 ? static_cast<double>(mbps) * 1e6 / 8 : 0);
    }
    for (auto& nqn : nqns) Add(iface_nqn, {{"device", dev}, {"nqn", nqn}}, 1);
  }
  out.push_back(std::move(iface_info));
  out.push_back(std::move(iface_speed));
  out.push_back(std::move(iface_nqn));

  // ------------------------------------------------------------ the core's and the transport's counters
  NvmfProbe& np = target_->probe();
  MetricFamily created = Family("controllers_created_total", "Host controllers created (admin queue connected)",
                                MetricType::Counter);
  Add(created, {}, static_cast<double>(Load(np.controllers_created)));
  MetricFamily destroyed = Family("controllers_destroyed_total", "Host controllers destroyed (admin queue gone)",
                                  MetricType::Counter);
  Add(destroyed, {}, static_cast<double>(Load(np.controllers_destroyed)));
  MetricFamily kato_total = Family("keepalive_timeouts_total", "Host controllers torn down by their keep alive timeout",
                                   MetricType::Counter);
  Add(kato_total, {}, static_cast<double>(Load(np.keep_alive_timeouts)));
  MetricFamily ana = Family("ana_changes_total", "ANA state changes of this gateway's groups", MetricType::Counter);
  Add(ana, {}, static_cast<double>(Load(np.ana_changes)));
  MetricFamily failed = Family("command_errors_total", "Commands completed with an error, by NVMe status code type",
                               MetricType::Counter);
  static const char* const kSct[8] = {"generic", "command_specific", "media", "path", "4", "5", "6", "vendor"};
  for (size_t i = 0; i < np.errors_by_sct.size(); i++)
    Add(failed, {{"sct", kSct[i]}}, static_cast<double>(Load(np.errors_by_sct[i])));
  for (auto* f : {&created, &destroyed, &kato_total, &ana, &failed}) out.push_back(std::move(*f));

  const TcpProbe::Values tcp = TcpProbe::Totals();
  MetricFamily requests = Family("tcp_requests", "NVMe/TCP requests in each state, over every connection (queue depth)",
                                 MetricType::Gauge);
  for (size_t i = 0; i < TcpProbe::kCount; i++) {
    const auto c = static_cast<TcpCounter>(i);
    const std::string name = TcpCounterName(c);
    if (IsGauge(c)) {
      Add(requests, {{"state", name.substr(std::string("requests_").size())}},
          static_cast<double>(static_cast<int64_t>(tcp[i])));
      continue;
    }
    std::string words = name;
    std::replace(words.begin(), words.end(), '_', ' ');
    MetricFamily f = Family("tcp_" + name + "_total", "NVMe/TCP: " + words, MetricType::Counter);
    Add(f, {}, static_cast<double>(tcp[i]));
    out.push_back(std::move(f));
  }
  out.push_back(std::move(requests));

  if (opts_.ha_manager) {
    // Gateway-group HA, as this gateway sees it (docs/ha.md).
    MetricFamily owner = Family("ha_ana_group_owner", "The gateway serving the ANA group (1 per group; owner \"\" = nobody)",
                                MetricType::Gauge);
    MetricFamily owned = Family("ha_ana_group_owned", "Whether this gateway serves the ANA group 0=no, 1=yes",
                                MetricType::Gauge);
    MetricFamily in_change = Family("ha_ana_group_change",
                                    "Whether this gateway reports the ANA group in ANA Change state (taking it over or "
                                    "handing it over) 0=no, 1=yes",
                                    MetricType::Gauge);
    MetricFamily changes = Family("ha_ana_group_failovers_total",
                                  "Times the owner of the ANA group changed, as seen by this gateway", MetricType::Counter);
    MetricFamily lease_age = Family("ha_lease_age_seconds",
                                    "Since the last successful renewal of an ANA group lease this gateway holds",
                                    MetricType::Gauge);
    for (const auto& g : opts_.ha_manager->Groups()) {
      const std::string grp = std::to_string(g.group);
      Add(owner, {{"anagrpid", grp}, {"owner", g.owner}}, 1);
      Add(owned, {{"anagrpid", grp}}, g.role == ha::Role::kOwner ? 1 : 0);
      Add(in_change, {{"anagrpid", grp}}, g.ana_state == nvme::kAnaChange ? 1 : 0);
      Add(changes, {{"anagrpid", grp}}, static_cast<double>(g.owner_changes));
      if (g.lease_age_ns) Add(lease_age, {{"anagrpid", grp}}, Seconds(g.lease_age_ns));
    }
    MetricFamily members = Family("ha_members", "Gateways of the group, by liveness (membership lease current)",
                                  MetricType::Gauge);
    double alive = 0, dead = 0;
    for (const auto& m : opts_.ha_manager->Members()) (m.alive ? alive : dead) += 1;
    Add(members, {{"state", "alive"}}, alive);
    Add(members, {{"state", "down"}}, dead);
    for (auto* f : {&owner, &owned, &in_change, &changes, &lease_age, &members}) out.push_back(std::move(*f));
  }

  MetricFamily rpc = Family("rpc_method_seconds", "Run times of the RPC method calls", MetricType::Gauge);
  for (auto& [method, seconds] : timings) Add(rpc, {{"method", method}}, seconds);
  out.push_back(std::move(rpc));
  return out;
}

}  // namespace nvmeof
