// The gateway process: see daemon.h.
#include "gateway/daemon/daemon.h"

#include <unistd.h>

#include <chrono>
#include <future>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "gateway/common/log.h"
#include "gateway/ha/ha_manager.h"
#include "gateway/ha/rados_group_store.h"
#include "gateway/daemon/management.h"
#include "gateway/daemon/monitor_client.h"
#include "gateway/daemon/monitor_group.h"
#include "gateway/metrics/collector.h"
#include "gateway/metrics/exporter.h"
#include "gateway/nvmf/controller.h"
#include "gateway/nvmf/target.h"
#include "gateway/nvmf/transport.h"
#include "gateway/runtime/reactor.h"
#include "gateway/transport/tcp/tcp_transport.h"
#include "rbd-backend/device_factory.h"

namespace nvmeof {

Status CheckBuildSupports(const CommandLine& flags) {
  if (ManagementPlane::BuiltIn()) return Status::OK();
  if (flags.config)
    return Status::InvalidArgument("--config: this binary was built without the management plane (NVMEOF_WITH_GRPC=OFF)");
  if (flags.grpc && *flags.grpc != "none")
    return Status::InvalidArgument("--grpc: this binary was built without the management plane");
  return Status::OK();
}

Daemon::Daemon(const DaemonOptions& opts) : opts_(opts) {}

Daemon::~Daemon() { StopParts(); }

Result<std::unique_ptr<Daemon>> Daemon::Start(const DaemonOptions& opts) {
  std::unique_ptr<Daemon> d(new Daemon(opts));
  if (Status st = d->StartAll(); !st.ok()) return st;
  return d;
}

Status Daemon::StartAll() {
  const DaemonOptions& o = opts_;
  SetLogLevel(o.log_level);
  // Signals are taken by the main thread only.
  sigemptyset(&sigs_);
  sigaddset(&sigs_, SIGTERM);
  sigaddset(&sigs_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs_, nullptr);
  signal(SIGPIPE, SIG_IGN);

  reactors_ = std::make_unique<ReactorGroup>(o.reactors);
  reactors_->set_poll_window(std::chrono::microseconds(o.poll_window_us));
  reactors_->Start();
  if (o.ha_builtin) {
    if (Status st = OpenHa(); !st.ok()) return st;
  }
  if (!o.ha_monitor && o.enable_monitor_client.value_or(false))
    LOG_WARN("[gateway] enable_monitor_client = true: not honoured without ha = monitor (no monitor client is "
             "started; ANA is set through the API)");
  if (o.ha_monitor) {
    if (Status st = WaitForMonitorGroup(); !st.ok()) return st;
  }
  target_ = std::make_unique<Target>(o.target);
  transports_ = std::make_unique<TransportRegistry>();
  if (Status st = RegisterTcpTransport(*transports_, target_.get(), *reactors_); !st.ok()) return st;
  target_->SetTransports(transports_.get());

  LOG_INFO("nvmeof-gateway %s starting: gateway %s, host %s, group '%s', %d reactor(s)", NVMEOF_VERSION_STRING,
           o.name.c_str(), o.hostname.c_str(), o.group.c_str(), o.reactors);
  CephClientOptions ceph;
  ceph.conf_path = o.ceph_conf;
  ceph.client_id = o.ceph_id;
  ceph.bdevs_per_cluster = o.bdevs_per_cluster;
  devices_ = std::make_unique<DeviceFactory>(NewRbdOpener(ceph));
  // With HA, a new librbd connection is fenceable (in the member record and the lease
  // records) before any image on it serves I/O.
  if (ha_) devices_->SetConnectObserver([ha = ha_.get()](const std::string&) { ha->AddressesChanged(); });

  bool failures = false;
  std::vector<const SubsystemOption*> created;
  if (Status st = AddInitialConfiguration(&created, &failures); !st.ok()) return st;
  OpenInitialNamespaces(created, &failures);

  if (ManagementPlane::BuiltIn()) {
    auto m = ManagementPlane::Start(o, target_.get(), devices_.get(), reactors_.get(), ha_.get());
    if (!m.ok()) return m.status();
    management_ = std::move(m.value());
  }
  if (failures && target_->Ports().empty() && !(management_ && management_->serving())) {
    LOG_ERROR("nothing to serve; exiting");
    return Status::InvalidArgument("nothing to serve");
  }
  if (o.ha_builtin) {
    if (Status st = StartHa(); !st.ok()) return st;
    if (management_) StartLoadBalancing();
  }
  StartMetrics();
  if (management_) management_->SetReady(!failures);
  LOG_INFO("ready");
  return Status::OK();
}

Status Daemon::OpenHa() {
  DaemonOptions& o = opts_;
  if (o.state_pool.empty()) return Status::InvalidArgument("[gateway] ha = builtin needs a state pool ([ceph] pool)");
  ha::HaOptions h;
  h.name = o.name;
  h.timing.lease_ns = uint64_t{o.ha_lease_ms} * 1'000'000;
  h.timing.renew_ns = h.timing.lease_ns / 4;
  h.timing.margin_ns = h.timing.lease_ns / 4;
  h.timing.failback_delay_ns = uint64_t{o.ha_failback_delay_ms} * 1'000'000;
  std::string why;
  if (!h.timing.Valid(&why)) return Status::InvalidArgument("[gateway] ha_lease_ms: " + why);
  // Asked by the manager's worker thread at registration and every round; the parts they
  // read exist from StartHa on (the manager's threads start there and stop before them).
  h.listeners = [this] {
    std::set<std::string> out;
    if (target_)
      for (auto& ss : target_->Subsystems())
        for (auto& l : ss->Listeners())
          if (l.host_name.empty() || l.host_name == opts_.name) out.insert("tcp:" + l.traddr + ":" + l.trsvcid);
    return std::vector<std::string>(out.begin(), out.end());
  };
  h.groups = [this] {
    std::set<uint32_t> out;
    if (target_)
      for (auto& ss : target_->Subsystems())
        for (auto& ns : ss->Namespaces()) out.insert(ns->anagrpid() ? ns->anagrpid() : 1);
    return std::vector<uint32_t>(out.begin(), out.end());
  };
  h.hosts = [this](uint32_t group) {
    std::vector<std::string> out;
    if (!target_) return out;
    for (auto& ss : target_->Subsystems()) {
      bool in_group = group == 0;
      for (auto& ns : ss->Namespaces())
        if ((ns->anagrpid() ? ns->anagrpid() : 1) == group) in_group = true;
      if (!in_group) continue;
      for (auto& c : ss->Controllers())
        if (!c->is_discovery() && c->io_queue_count() > 0) out.push_back(ss->nqn() + " " + c->hostnqn());
    }
    return out;
  };
  h.client_addresses = [this] {
    std::vector<std::string> a;
    if (devices_) a = devices_->ClientAddresses();
    if (management_) {
      auto m = management_->ClientAddresses();
      a.insert(a.end(), m.begin(), m.end());
    }
    return a;
  };
  ha::RadosGroupStoreOptions ro;
  ro.ceph_conf = o.ceph_conf;
  if (!o.ceph_id.empty()) ro.client_id = o.ceph_id;
  ro.pool = o.state_pool;
  ro.group = o.group;
  auto store = ha::OpenRadosGroupStore(ro);
  if (!store.ok()) {
    LOG_ERROR("ha: cannot open the group store in pool %s: %s", o.state_pool.c_str(), store.status().message().c_str());
    return store.status();
  }
  // Registered before the target exists: the home group is allocated under the members'
  // lock, so the controller-ID range the target gets is the registered one, even when
  // several new gateways start at once. Not alive (no lease taken) until StartHa.
  ha_ = std::make_unique<ha::HaManager>(std::move(h), std::move(store.value()), nullptr);
  if (Status st = ha_->Register(); !st.ok()) {
    LOG_ERROR("ha: cannot register gateway %s in group '%s' (pool %s): %s", o.name.c_str(), o.group.c_str(),
              o.state_pool.c_str(), st.message().c_str());
    ha_.reset();
    return st;
  }
  ha::MemberInfo me = ha_->member();
  o.target.min_cntlid = me.min_cntlid;
  o.target.max_cntlid = me.max_cntlid;
  o.ana_group = me.home_group;  // get_gateway_info's load-balancing group
  // A group HA has not decided on is served by nobody here (a namespace added in a new
  // group stays INACCESSIBLE until the next round manages it).
  o.target.unset_ana_state = nvme::kAnaInaccessible;
  return Status::OK();
}

Status Daemon::StartHa() {
  const DaemonOptions& o = opts_;
  // Before a group is served: its images off blocklisted RADOS clients (a rejoin after
  // being fenced), instead of failing their first I/O and reopening after a delay.
  ha_ana_ = ha::NewTargetAnaControl(*target_, ha::kDrainTimeoutNs, [this](uint32_t) {
    return devices_->RecoverBlocklisted(std::chrono::milliseconds(uint64_t{opts_.ha_lease_ms} * 2));
  });
  if (Status st = ha_->Start(ha_ana_.get()); !st.ok()) {
    LOG_ERROR("ha: cannot start gateway %s: %s", o.name.c_str(), st.message().c_str());
    return st;
  }
  ha::MemberInfo me = ha_->member();
  LOG_INFO("ha: builtin, gateway %s, home ANA group %u, controller IDs %u-%u, lease %u ms, pool %s, group '%s'",
           o.name.c_str(), me.home_group, me.min_cntlid, me.max_cntlid, o.ha_lease_ms, o.state_pool.c_str(),
           o.group.c_str());
  return Status::OK();
}

// Namespaces over the groups the HA members can own (docs/ha.md "Load balancing"); the
// leader is the live member with the lowest name.
void Daemon::StartLoadBalancing() {
  ha::HaManager* ha = ha_.get();
  const std::string name = opts_.name;
  LoadBalancingHooks h;
  h.groups = [ha] {
    std::set<uint32_t> g;
    for (const auto& m : ha->Members())
      if (m.info.home_group) g.insert(m.info.home_group);
    g.insert(ha->member().home_group);
    return g;
  };
  h.owned = [ha] {
    std::vector<uint32_t> o = ha->Owned();
    return std::set<uint32_t>(o.begin(), o.end());
  };
  h.leader = [ha, name] {
    std::set<std::string> alive = ha->AliveMembers();
    return !alive.empty() && *alive.begin() == name;
  };
  h.rebalance_period_sec = opts_.rebalance_period_sec;
  h.max_ns_to_change_lb_grp = opts_.max_ns_to_change_lb_grp;
  management_->StartLoadBalancing(std::move(h));
}

Status Daemon::WaitForMonitorGroup() {
  DaemonOptions& o = opts_;
  auto server = MonitorGroupServer::Start(o);
  if (!server.ok()) return server.status();
  monitor_ = std::move(server.value());
  // Like the reference: the gateway runs the client and ends when it ends.
  if (o.enable_monitor_client.value_or(true)) {
    auto client = MonitorClientProcess::Start(MonitorClientArgs(o), [this](const std::string&) {
      exit_status_ = 1;
      kill(getpid(), SIGTERM);
    });
    if (client.ok()) {
      monitor_client_ = std::move(client.value());
      LOG_INFO("monitor: started %s (pid %d)", o.monitor_client.c_str(), static_cast<int>(monitor_client_->pid()));
    } else if (o.enable_monitor_client.has_value() || !client.status().IsNotFound()) {
      LOG_ERROR("monitor: cannot start the monitor client: %s", client.status().message().c_str());
      return client.status();
    } else {
      LOG_WARN("monitor: %s does not exist: waiting for a monitor client started beside the gateway "
               "(--gateway-address %s:%s --monitor-group-address %s)",
               o.monitor_client.c_str(), o.grpc_addr.c_str(), o.grpc_port.c_str(), MonitorAddress(o).c_str());
    }
  }
  int sig = 0;
  std::optional<MonitorAssignment> a = monitor_->Wait(sigs_, &sig);
  if (!a) {
    LOG_INFO("signal %d before the monitor client assigned a group: shutting down", sig);
    return Status::InvalidArgument("stopped while waiting for the monitor client");
  }
  o.ana_group = a->ana_group;
  o.target.min_cntlid = a->min_cntlid;
  o.target.max_cntlid = a->max_cntlid;
  o.target.unset_ana_state = nvme::kAnaInaccessible;
  LOG_INFO("ha: monitor, gateway %s, ANA group %u (monitor group id %u), controller IDs %u-%u; every ANA group "
           "inaccessible until the monitor client sets it",
           o.name.c_str(), a->ana_group, a->index, a->min_cntlid, a->max_cntlid);
  return Status::OK();
}

// Like the reference, a gateway whose exporter cannot listen serves without it (logged).
void Daemon::StartMetrics() {
  const DaemonOptions& o = opts_;
  if (!o.enable_prometheus_exporter) return;
  CollectorOptions co;
  co.gateway.version = NVMEOF_VERSION_STRING;
  co.gateway.addr = o.grpc_addr;
  co.gateway.port = o.grpc_port;
  co.gateway.name = o.name;
  co.gateway.hostname = o.hostname;
  co.gateway.group = o.group;
  co.bdev_pools = o.prometheus_bdev_pools;
  co.interval = std::chrono::seconds(o.prometheus_stats_interval);
  co.ha_manager = ha_.get();
  std::vector<const ReactorProbe*> probes;
  for (int i = 0; i < reactors_->size(); i++) probes.push_back(&reactors_->at(i).probe());
  auto collector = std::make_shared<GatewayCollector>(target_.get(), std::move(probes), co);
  std::optional<ExporterTls> tls;
  if (o.prometheus_exporter_ssl) tls = ExporterTls{o.server_cert, o.server_key};
  auto exporter = MetricsExporter::Start(o.grpc_addr, o.prometheus_port, collector, tls);
  if (!exporter.ok()) {
    LOG_ERROR("%s%s; serving without metrics", exporter.status().message().c_str(),
              exporter.status().Is(errc::kInvalidArgument) && tls
                  ? " (prometheus_exporter_ssl: [mtls] server_cert and server_key)"
                  : "");
    return;
  }
  metrics_ = std::move(exporter.value());
  LOG_INFO("prometheus exporter listening on %s%s", metrics_->address().c_str(), tls ? " (HTTPS)" : "");
}

// Subsystems, hosts and listeners first: they cannot wait on anything, so the gateway
// serves (and its discovery log is right) even while a cluster is slow to answer. A
// listener given on the command line that cannot be opened is fatal: the operator asked
// for an address this gateway cannot serve.
Status Daemon::AddInitialConfiguration(std::vector<const SubsystemOption*>* created, bool* failures) {
  const DaemonOptions& o = opts_;
  bool listen_failed = false;
  if (o.discovery_enabled) {
    ListenerSpec d;
    d.traddr = o.discovery.addr;
    d.trsvcid = o.discovery.port;
    if (d.traddr.find(':') != std::string::npos) d.adrfam = nvme::kAdrfamIpv6;
    Status st = target_->AddDiscoveryListener(d);
    if (!st.ok()) {
      LOG_ERROR("discovery listener: %s", st.message().c_str());
      *failures = true;
      listen_failed = true;
    }
  }
  for (auto& sa : o.subsystems) {
    SubsystemSpec ss;
    ss.nqn = sa.nqn;
    ss.serial = sa.serial;
    ss.allow_any_host = sa.hosts.empty() && sa.psk_hosts.empty();
    Status st = target_->AddSubsystem(ss);
    if (!st.ok()) {
      LOG_ERROR("subsystem %s: %s", sa.nqn.c_str(), st.message().c_str());
      *failures = true;
      continue;
    }
    created->push_back(&sa);
    for (auto& h : sa.hosts) {
      st = target_->AddHost(sa.nqn, h);
      if (!st.ok()) LOG_ERROR("subsystem %s host %s: %s", sa.nqn.c_str(), h.c_str(), st.message().c_str());
    }
    for (auto& [h, psk] : sa.psk_hosts) {
      st = target_->AddHost(sa.nqn, HostEntry{h, {}, {}, psk});
      if (!st.ok()) LOG_ERROR("subsystem %s host %s: %s", sa.nqn.c_str(), h.c_str(), st.message().c_str());
    }
    for (auto& hp : o.listen) {
      ListenerSpec l;
      l.host_name = o.name;
      l.traddr = hp.addr;
      l.trsvcid = hp.port;
      l.secure = o.listen_secure;
      if (hp.addr.find(':') != std::string::npos) l.adrfam = nvme::kAdrfamIpv6;
      st = target_->AddListener(sa.nqn, l);
      if (!st.ok()) {
        LOG_ERROR("subsystem %s: %s", sa.nqn.c_str(), st.message().c_str());
        *failures = true;
        if (!st.IsAlreadyExists()) listen_failed = true;
      }
    }
  }
  if (listen_failed) {
    LOG_ERROR("a listener could not be opened; exiting");
    return Status::InvalidArgument("a listener could not be opened");
  }
  return Status::OK();
}

// Every device opens at once (an unreachable cluster costs one connect timeout, not one
// per namespace), and they are added in the order given so automatic NSIDs follow the
// command line. A namespace that cannot be opened is logged and skipped; the others are
// served.
void Daemon::OpenInitialNamespaces(const std::vector<const SubsystemOption*>& created, bool* failures) {
  using Opened = Result<std::pair<NamespaceSpec, std::unique_ptr<BlockDevice>>>;
  struct Pending {
    const std::string* nqn;
    const std::string* spec;
    uint32_t nsid;  // by position on the command line, so NSIDs do not depend on timing
    std::future<Opened> dev;
  };
  DeviceFactory* devices = devices_.get();
  auto open = [devices](const std::string& text) -> Opened {
    auto spec = ParseDeviceSpec(text);
    if (!spec.ok()) return spec.status();
    auto dev = devices->Open(*spec);
    if (!dev.ok()) return dev.status();
    NamespaceSpec ns;
    ns.block_size = spec->block_size;
    ns.backend = spec->kind;
    if (spec->kind == "rbd") {
      ns.rbd_pool = spec->pool;
      ns.rados_namespace = spec->rados_namespace;
      ns.rbd_image = spec->image;
    }
    return std::make_pair(ns, std::move(dev.value()));
  };
  std::vector<Pending> pending;
  for (const SubsystemOption* sa : created) {
    uint32_t nsid = 0;
    for (auto& spec : sa->namespaces)
      pending.push_back({&sa->nqn, &spec, ++nsid, std::async(std::launch::async, [&open, &spec] { return open(spec); })});
  }
  // Each namespace is added as soon as its device is open.
  while (!pending.empty()) {
    for (size_t i = 0; i < pending.size();) {
      Pending& p = pending[i];
      if (p.dev.wait_for(std::chrono::milliseconds(i == 0 ? 20 : 0)) != std::future_status::ready) {
        i++;
        continue;
      }
      Opened dev = p.dev.get();
      if (!dev.ok()) {
        LOG_ERROR("subsystem %s: namespace '%s' not added: %s", p.nqn->c_str(), p.spec->c_str(),
                  dev.status().message().c_str());
        *failures = true;
      } else {
        dev->first.nsid = p.nsid;
        auto added = target_->AddNamespace(*p.nqn, dev->first, std::move(dev->second));
        if (!added.ok()) {
          LOG_ERROR("subsystem %s: namespace '%s' not added: %s", p.nqn->c_str(), p.spec->c_str(),
                    added.status().message().c_str());
          *failures = true;
        }
      }
      pending.erase(pending.begin() + static_cast<long>(i));
    }
  }
}

void Daemon::Run() {
  int sig = 0;
  sigwait(&sigs_, &sig);
  LOG_INFO("signal %d: shutting down", sig);
  Stop();
}

void Daemon::Stop() {
  if (stopped_) return;
  if (opts_.shutdown_timeout > 0) {
    // Closing an RBD image waits for Ceph; a cluster that is gone would hold the exit for
    // rados_osd_op_timeout per image. Nothing a host was told is done depends on it.
    const uint32_t timeout = opts_.shutdown_timeout;
    std::thread([timeout] {
      std::this_thread::sleep_for(std::chrono::seconds(timeout));
      LOG_WARN("shutdown not finished after %u s (RBD images still closing: is the Ceph cluster reachable?); "
               "exiting without waiting",
               timeout);
      _exit(0);
    }).detach();
  }
  StopParts();
}

void Daemon::StopParts() {
  if (stopped_) return;
  stopped_ = true;
  // A planned stop hands the owned ANA groups over while the listeners still serve.
  if (ha_) ha_->Stop(true);
  if (ha_ && devices_) devices_->SetConnectObserver(nullptr);  // the manager goes before the devices
  metrics_.reset();  // scrapes read the target and the reactors' probes
  if (monitor_client_) monitor_client_->Stop();
  if (management_) management_->Stop();
  if (monitor_) monitor_->Stop();
  if (transports_) transports_->CloseAll();
  // Hosts' queues pin the namespaces: close them while the reactors run, so the devices
  // close when the target goes (librbd hands the images' exclusive locks back cleanly).
  if (target_) target_->DisconnectAll("gateway stopping", 2'000'000'000ull);
  if (reactors_) reactors_->Stop();
}

}  // namespace nvmeof
