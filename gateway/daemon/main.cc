// nvmeof-gateway: the daemon. Reads the configuration (file + command line), starts the
// reactors, builds the initial target model, replays the group state, serves the gRPC
// management API and NVMe/TCP until SIGTERM/SIGINT.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gateway/common/log.h"
#include "gateway/runtime/reactor.h"
#include "gateway/transport/tcp/tcp_queue.h"
#include "gateway/nvmf/target.h"
#include "rbd-backend/block_device.h"

#if defined(NVMEOF_WITH_RBD) && __has_include("rbd-backend/rbd_device.h")
#define NVMEOF_HAVE_RBD 1
#include "rbd-backend/rados_pool.h"
#include "rbd-backend/rbd_device.h"
#endif

#ifdef NVMEOF_WITH_MGMT
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include "api/service.h"
#include "gateway/daemon/config.h"
#endif
#ifdef NVMEOF_WITH_STATE
#include "gateway/state/state_follower.h"
#include "gateway/state/state_keys.h"
#include "gateway/state/state_store.h"
#endif

#ifndef NVMEOF_VERSION_STRING
#define NVMEOF_VERSION_STRING "0.1.0"
#endif

using namespace nvmeof;

namespace {

const char kUsage[] = R"(usage: nvmeof-gateway [options]

Serves NVMe/TCP: RBD images (and memory or file devices) as NVMe namespaces, managed
through the gRPC API of the Ceph NVMe-oF gateway (ceph-nvmeof 1.3: nvmeof-cli, gwcli,
ceph-csi, cephadm and the dashboard drive it unchanged).

Configuration:
  --config FILE             the INI file cephadm renders for the reference gateway
                            (ceph-nvmeof.conf) plus this gateway's [data-plane] section;
                            command-line options override it (see docs/operations.md)

Management API:
  --grpc ADDR:PORT          gRPC listener (default: [gateway] addr:port, 0.0.0.0:5500;
                            "none" disables it; port 0 picks a free port, logged as
                            "grpc listening on ADDR:PORT"). With [gateway] enable_auth the
                            port requires mutual TLS ([mtls] server_key, server_cert, and
                            client_cert or root_ca_cert to verify clients)
  --name NAME               this gateway's name ([gateway] name; default: the host name)
  --hostname NAME           the host name listeners are matched against
                            ([gateway] override_hostname; default: gethostname())
  --group NAME              gateway group ([gateway] group): appended to subsystem NQNs
                            (unless no_group_append) and names the state object
  --no-verify-nqns          accept NQNs that are not well formed ([gateway] verify_nqns)

Group state and Ceph:
  --state-pool POOL         RADOS pool of the group state object nvmeof[.GROUP].state
                            ([ceph] pool; "none": keep the state in memory). Without a
                            pool, or when Ceph cannot be reached, the state is kept in
                            memory (logged)
  --ceph-conf PATH          ceph.conf ([ceph] config_file, default /etc/ceph/ceph.conf)
  --ceph-id ID              cephx user without "client." ([ceph] id, default admin)
  --bdevs-per-cluster N     RBD images per RADOS connection ([data-plane] or [spdk]
                            bdevs_per_cluster, default 32)

Data plane:
  --listen ADDR:PORT        I/O listener for every subsystem given here (repeatable;
                            [data-plane] listen = ADDR:PORT, ...)
  --discovery ADDR:PORT     discovery listener (default [discovery] addr:port, 0.0.0.0:8009;
                            "none" to disable)
  --reactors N              reactor threads (default: one per core; [data-plane] reactors)
  --cntlid-range MIN-MAX    controller IDs this gateway hands out (default 1-65519;
                            [data-plane] cntlid_range)
  --queue-depth N           deepest queue a host may create, 32-1024 (default 128;
                            [data-plane] queue_depth)
  --in-capsule-data-size N  largest write data a host may send inside the command capsule
                            on I/O queues, in bytes (default 131072; larger writes go by
                            R2T; [data-plane] in_capsule_data_size)
  --poll-window-us N        after work, a reactor keeps polling (yielding the CPU between
                            empty polls) this long before it sleeps: lower latency for a
                            little CPU (default 100; 0 = always sleep; [data-plane]
                            poll_window_us)

Initial configuration (changeable at runtime through the management API; not stored
in the group state):
  --subsystem NQN           create a subsystem; the options below apply to the last one
    --namespace SPEC        add a namespace (repeatable). SPEC is one of
                              memory:SIZE[:BLOCKSIZE]             sparse RAM device
                              file:PATH[:SIZE[:BLOCKSIZE]]        file or block device
                              rbd:POOL[/NAMESPACE]/IMAGE[:BLOCKSIZE]  Ceph RBD image (optionally in a RADOS namespace)
                            SIZE takes K/M/G/T suffixes (binary); BLOCKSIZE is 512 or 4096
    --host HOSTNQN          allow this host (repeatable); without any, every host is allowed
    --serial SN             serial number (default: random)

Other:
  --log-level LEVEL         debug, info, warning or error ([gateway-logs] log_level,
                            default info)
  --shutdown-timeout SEC    on SIGTERM/SIGINT, exit after this many seconds even if RBD
                            images are still closing (a Ceph cluster that no longer answers
                            holds each close for rados_osd_op_timeout); every write a host
                            was told is done is already in Ceph. Default 10; 0 = wait for
                            every close ([data-plane] shutdown_timeout)
  -h, --help                this text
)";

[[noreturn]] void Die(const std::string& msg) {
  fprintf(stderr, "nvmeof-gateway: %s\n(see --help)\n", msg.c_str());
  exit(2);
}

// A whole decimal number within [lo, hi] for a flag, or exit with its usage.
long IntArg(const std::string& flag, const std::string& v, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  long n = strtol(v.c_str(), &end, 10);
  if (v.empty() || errno || *end || n < lo || n > hi)
    Die(flag + " wants " + std::to_string(lo) + " to " + std::to_string(hi) + ", not '" + v + "'");
  return n;
}

bool ParseSize(const std::string& s, uint64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(s.c_str(), &end, 10);
  if (errno || end == s.c_str()) return false;
  std::string suf(end);
  if (!suf.empty() && (suf.back() == 'B' || suf.back() == 'b')) suf.pop_back();
  if (!suf.empty() && (suf.back() == 'i')) suf.pop_back();
  uint64_t mul = 1;
  if (suf.empty()) mul = 1;
  else if (suf == "K" || suf == "k") mul = 1ull << 10;
  else if (suf == "M" || suf == "m") mul = 1ull << 20;
  else if (suf == "G" || suf == "g") mul = 1ull << 30;
  else if (suf == "T" || suf == "t") mul = 1ull << 40;
  else return false;
  *out = v * mul;
  return true;
}

bool SplitHostPort(const std::string& s, std::string* host, std::string* port) {
  auto pos = s.rfind(':');
  if (pos == std::string::npos || pos == 0 || pos + 1 == s.size()) return false;
  *host = s.substr(0, pos);
  *port = s.substr(pos + 1);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  return true;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> v;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    v.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return v;
}

struct SubsysArg {
  std::string nqn, serial;
  std::vector<std::string> namespaces;
  std::vector<std::string> hosts;
};

using RbdOpenFn = std::function<Result<std::unique_ptr<BlockDevice>>(const std::string& pool, const std::string& image,
                                                                     bool create, uint64_t size)>;

Result<std::pair<NamespaceSpec, std::unique_ptr<BlockDevice>>> OpenNamespace(const std::string& spec,
                                                                             const RbdOpenFn& rbd) {
  auto parts = Split(spec, ':');
  NamespaceSpec ns;
  const std::string& kind = parts[0];
  auto block_size = [&](size_t idx) -> Status {
    if (parts.size() > idx) {
      uint64_t bs;
      if (!ParseSize(parts[idx], &bs) || (bs != 512 && bs != 4096))
        return Status::InvalidArgument("block size must be 512 or 4096 in '" + spec + "'");
      ns.block_size = static_cast<uint32_t>(bs);
    }
    return Status::OK();
  };
  if (kind == "memory") {
    uint64_t size;
    if (parts.size() < 2 || parts.size() > 3 || !ParseSize(parts[1], &size) || size == 0)
      return Status::InvalidArgument("expected memory:SIZE[:BLOCKSIZE], got '" + spec + "'");
    if (auto st = block_size(2); !st.ok()) return st;
    ns.backend = "memory";
    return std::make_pair(ns, OpenMemoryDevice(size));
  }
  if (kind == "file") {
    if (parts.size() < 2 || parts.size() > 4 || parts[1].empty())
      return Status::InvalidArgument("expected file:PATH[:SIZE[:BLOCKSIZE]], got '" + spec + "'");
    uint64_t size = 0;
    if (parts.size() > 2 && !ParseSize(parts[2], &size))
      return Status::InvalidArgument("bad size in '" + spec + "'");
    if (auto st = block_size(3); !st.ok()) return st;
    ns.backend = "file";
    auto dev = OpenFileDevice(parts[1], size, false);
    if (!dev.ok()) return dev.status();
    return std::make_pair(ns, std::move(dev.value()));
  }
  if (kind == "rbd") {
    if (parts.size() < 2 || parts.size() > 3)
      return Status::InvalidArgument("expected rbd:POOL/IMAGE[:BLOCKSIZE], got '" + spec + "'");
    auto slash = parts[1].find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == parts[1].size())
      return Status::InvalidArgument("expected rbd:POOL/IMAGE[:BLOCKSIZE], got '" + spec + "'");
    if (auto st = block_size(2); !st.ok()) return st;
    if (!rbd) return Status::InvalidArgument("the rbd backend is not built into this binary");
    ns.backend = "rbd";
    ns.rbd_pool = parts[1].substr(0, slash);
    ns.rbd_image = parts[1].substr(slash + 1);
    auto dev = rbd(ns.rbd_pool, ns.rbd_image, false, 0);
    if (!dev.ok()) return dev.status();
    return std::make_pair(ns, std::move(dev.value()));
  }
  return Status::InvalidArgument("unknown namespace kind '" + kind + "' in '" + spec +
                                 "' (memory, file or rbd)");
}

[[maybe_unused]] bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::stringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

// Command-line values; unset = take the configuration file's (or the default).
struct Flags {
  std::optional<std::string> config, grpc, name, hostname, group, state_pool, ceph_conf, ceph_id, discovery;
  std::optional<int> reactors;
  std::optional<uint16_t> min_cntlid, max_cntlid;
  std::optional<uint32_t> queue_depth, bdevs_per_cluster, in_capsule_data_size, poll_window_us, shutdown_timeout;
  std::optional<nvmeof::LogLevel> log_level;
  bool no_verify_nqns = false;
  std::vector<std::pair<std::string, std::string>> listens;
  std::vector<SubsysArg> subsystems;
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    // --opt=value is accepted too.
    std::optional<std::string> inline_value;
    if (a.rfind("--", 0) == 0) {
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        inline_value = a.substr(eq + 1);
        a = a.substr(0, eq);
      }
    }
    auto next = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) Die("option " + a + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      fputs(kUsage, stdout);
      exit(0);
    } else if (a == "--config") {
      f.config = next();
    } else if (a == "--grpc") {
      f.grpc = next();
    } else if (a == "--hostname") {
      f.hostname = next();
    } else if (a == "--group") {
      f.group = next();
    } else if (a == "--state-pool") {
      f.state_pool = next();
    } else if (a == "--ceph-conf") {
      f.ceph_conf = next();
    } else if (a == "--ceph-id") {
      f.ceph_id = next();
    } else if (a == "--no-verify-nqns") {
      f.no_verify_nqns = true;
    } else if (a == "--bdevs-per-cluster") {
      f.bdevs_per_cluster = static_cast<uint32_t>(IntArg(a, next(), 1, 65536));
    } else if (a == "--listen") {
      std::string h, p;
      if (!SplitHostPort(next(), &h, &p)) Die("--listen wants ADDR:PORT");
      f.listens.push_back({h, p});
    } else if (a == "--discovery") {
      f.discovery = next();
    } else if (a == "--reactors") {
      f.reactors = static_cast<int>(IntArg(a, next(), 1, 256));
    } else if (a == "--cntlid-range") {
      auto r = Split(next(), '-');
      if (r.size() != 2) Die("--cntlid-range wants MIN-MAX");
      int lo = atoi(r[0].c_str()), hi = atoi(r[1].c_str());
      if (lo < 1 || hi > 0xFFEF || lo > hi) Die("--cntlid-range must lie within 1-65519");
      f.min_cntlid = static_cast<uint16_t>(lo);
      f.max_cntlid = static_cast<uint16_t>(hi);
    } else if (a == "--queue-depth") {
      f.queue_depth = static_cast<uint32_t>(IntArg(a, next(), 32, 1024));  // admin queues need 32
    } else if (a == "--poll-window-us") {
      f.poll_window_us = static_cast<uint32_t>(IntArg(a, next(), 0, 1000000));
    } else if (a == "--shutdown-timeout") {
      f.shutdown_timeout = static_cast<uint32_t>(IntArg(a, next(), 0, 3600));
    } else if (a == "--in-capsule-data-size") {
      f.in_capsule_data_size = static_cast<uint32_t>(IntArg(a, next(), 0, 1 << 20));
    } else if (a == "--subsystem") {
      f.subsystems.push_back(SubsysArg{next(), "", {}, {}});
    } else if (a == "--namespace" || a == "--host" || a == "--serial") {
      if (f.subsystems.empty()) Die(a + " must follow a --subsystem");
      std::string v = next();
      if (a == "--namespace") f.subsystems.back().namespaces.push_back(v);
      else if (a == "--host") f.subsystems.back().hosts.push_back(v);
      else f.subsystems.back().serial = v;
    } else if (a == "--name") {
      f.name = next();
    } else if (a == "--log-level") {
      nvmeof::LogLevel l;
      if (!ParseLogLevel(next(), &l)) Die("--log-level wants debug, info, warning or error");
      f.log_level = l;
    } else {
      Die("unknown option '" + a + "'");
    }
  }
  return f;
}

std::string HostName() {
  char hn[256] = "gateway";
  gethostname(hn, sizeof(hn) - 1);
  return hn;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = ParseFlags(argc, argv);

  // ------------------------------------------------------------ effective settings
  // Defaults < configuration file < command line.
  std::string name = HostName(), hostname = HostName(), group;
  std::string grpc_addr = "0.0.0.0", grpc_port = "5500";
  bool grpc_enabled = true;
  std::string discovery = "0.0.0.0:8009";
  int reactors = static_cast<int>(std::thread::hardware_concurrency());
  TargetOptions opts;
  uint32_t bdevs_per_cluster = 32;
  uint32_t poll_window_us = kDefaultPollWindowUs;
  uint32_t shutdown_timeout = 10;  // seconds (GatewayConfig has the same default)
  std::string ceph_conf = "/etc/ceph/ceph.conf", ceph_id, state_pool;
  bool verify_nqns = true;
  std::vector<std::pair<std::string, std::string>> listens;
#ifdef NVMEOF_WITH_MGMT
  GatewayConfig cfg;
  if (flags.config) {
    std::vector<std::string> warnings;
    auto loaded = LoadGatewayConfig(*flags.config, &warnings);
    if (!loaded.ok()) {
      fprintf(stderr, "nvmeof-gateway: %s\n", loaded.status().message().c_str());
      return 2;
    }
    cfg = loaded.value();
    SetLogLevel(cfg.log_level);
    LOG_INFO("using configuration file %s", flags.config->c_str());
    for (auto& w : warnings) LOG_WARN("%s", w.c_str());
    if (!cfg.name.empty()) name = cfg.name;
    hostname = cfg.override_hostname.empty() ? HostName() : cfg.override_hostname;
    group = cfg.group;
    grpc_addr = cfg.addr;
    grpc_port = std::to_string(cfg.port);
    discovery = cfg.discovery_addr + ":" + std::to_string(cfg.discovery_port);
    if (cfg.reactors > 0) reactors = cfg.reactors;
    opts.max_queue_depth = cfg.queue_depth;
    opts.min_cntlid = cfg.min_cntlid;
    opts.max_cntlid = cfg.max_cntlid;
    opts.max_io_queues = cfg.max_io_queues;
    opts.in_capsule_data_size = cfg.in_capsule_data_size;
    bdevs_per_cluster = cfg.bdevs_per_cluster;
    poll_window_us = cfg.poll_window_us;
    shutdown_timeout = cfg.shutdown_timeout;
    ceph_conf = cfg.ceph_config_file;
    ceph_id = cfg.ceph_id;
    state_pool = cfg.ceph_pool;
    verify_nqns = cfg.verify_nqns;
    for (auto& l : cfg.listen) {
      std::string h, p;
      if (SplitHostPort(l, &h, &p)) listens.push_back({h, p});
    }
  }
#else
  if (flags.config) Die("--config: this binary was built without the management plane (NVMEOF_WITH_GRPC=OFF)");
  if (flags.grpc && *flags.grpc != "none") Die("--grpc: this binary was built without the management plane");
  grpc_enabled = false;
  (void)grpc_enabled;
#endif
  if (flags.log_level) SetLogLevel(*flags.log_level);
  if (flags.name) name = *flags.name;
  if (flags.hostname) hostname = *flags.hostname;
  if (flags.group) group = *flags.group;
  if (flags.grpc) {
    if (*flags.grpc == "none") {
      grpc_enabled = false;
    } else if (!SplitHostPort(*flags.grpc, &grpc_addr, &grpc_port)) {
      Die("--grpc wants ADDR:PORT or none");
    }
  }
  if (flags.discovery) discovery = *flags.discovery;
  if (flags.reactors) reactors = *flags.reactors;
  if (flags.poll_window_us) poll_window_us = *flags.poll_window_us;
  if (flags.shutdown_timeout) shutdown_timeout = *flags.shutdown_timeout;
  if (flags.min_cntlid) {
    opts.min_cntlid = *flags.min_cntlid;
    opts.max_cntlid = *flags.max_cntlid;
  }
  if (flags.queue_depth) opts.max_queue_depth = *flags.queue_depth;
  if (flags.in_capsule_data_size) opts.in_capsule_data_size = *flags.in_capsule_data_size;
  if (flags.bdevs_per_cluster) bdevs_per_cluster = *flags.bdevs_per_cluster;
  if (flags.ceph_conf) ceph_conf = *flags.ceph_conf;
  if (flags.ceph_id) ceph_id = *flags.ceph_id;
  if (flags.state_pool) state_pool = *flags.state_pool;
  if (state_pool == "none") state_pool.clear();
  if (flags.no_verify_nqns) verify_nqns = false;
  for (auto& l : flags.listens) listens.push_back(l);
  if (reactors < 1) reactors = 1;
  opts.gateway_name = name;
  opts.group = group;
  (void)bdevs_per_cluster;
  (void)verify_nqns;

  // Signals are taken by the main thread only.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ReactorGroup rgroup(reactors);
  rgroup.set_poll_window(std::chrono::microseconds(poll_window_us));
  rgroup.Start();
  Target target(opts);
  std::mutex ports_mu;
  std::map<std::string, std::unique_ptr<TcpListener>> ports;
  target.SetPortHook([&](const ListenerSpec& l, bool open, uint16_t portid) -> Status {
    std::lock_guard<std::mutex> lk(ports_mu);
    std::string key = l.traddr + ":" + l.trsvcid;
    if (!open) {
      ports.erase(key);
      LOG_INFO("stopped listening on %s", key.c_str());
      return Status::OK();
    }
    auto lis = TcpListener::Open(&target, rgroup, l.traddr, l.trsvcid, l.adrfam, portid);
    if (!lis.ok()) return lis.status();
    ports[key] = std::move(lis.value());
    LOG_INFO("listening on %s (NVMe/TCP, port id %u)", key.c_str(), portid);
    return Status::OK();
  });

  LOG_INFO("nvmeof-gateway %s starting: gateway %s, host %s, group '%s', %d reactor(s)", NVMEOF_VERSION_STRING,
           name.c_str(), hostname.c_str(), group.c_str(), reactors);

  // ------------------------------------------------------------ RBD backend
  RbdOpenFn rbd_open;
#ifdef NVMEOF_HAVE_RBD
  std::shared_ptr<RadosClusterPool> rados;
  std::mutex rados_mu;
  rbd_open = [&](const std::string& pool, const std::string& image, bool create,
                 uint64_t size) -> Result<std::unique_ptr<BlockDevice>> {
    std::shared_ptr<RadosClusterPool> p;
    {
      std::lock_guard<std::mutex> lk(rados_mu);
      if (!rados) {
        RadosClusterConfig rc;
        rc.conf_path = ceph_conf;
        if (!ceph_id.empty()) rc.client_id = ceph_id;
        rc.bdevs_per_cluster = bdevs_per_cluster;
        auto created = RadosClusterPool::Create(rc);
        if (!created.ok()) return created.status();
        rados = created.value();
      }
      p = rados;
    }
    RbdSpec spec;
    spec.pool_name = pool;
    spec.image_name = image;
    // POOL/NAMESPACE/IMAGE: image names cannot contain '/', so the split is unambiguous.
    if (auto slash = image.find('/'); slash != std::string::npos) {
      spec.rados_namespace = image.substr(0, slash);
      spec.image_name = image.substr(slash + 1);
    }
    spec.create = create;
    spec.size_bytes = size;
    return OpenRbdDevice(p, spec);
  };
#endif

  // ------------------------------------------------------------ initial configuration
  int rc = 0;
  // A listener given on the command line that cannot be opened is fatal: the operator
  // asked for an address this gateway cannot serve. A namespace that cannot be opened is
  // not: the gateway keeps serving the others (it may come back through the API).
  bool listen_failed = false;
  if (discovery != "none") {
    ListenerSpec d;
    if (!SplitHostPort(discovery, &d.traddr, &d.trsvcid)) Die("--discovery wants ADDR:PORT or none");
    if (d.traddr.find(':') != std::string::npos) d.adrfam = nvme::kAdrfamIpv6;
    Status st = target.AddDiscoveryListener(d);
    if (!st.ok()) {
      LOG_ERROR("discovery listener: %s", st.message().c_str());
      rc = 1;
      listen_failed = true;
    }
  }
  // Subsystems, hosts and listeners first: they cannot wait on anything, so the gateway
  // serves (and its discovery log is right) even while a cluster is slow to answer.
  std::vector<const SubsysArg*> created;
  for (auto& sa : flags.subsystems) {
    SubsystemSpec ss;
    ss.nqn = sa.nqn;
    ss.serial = sa.serial;
    ss.allow_any_host = sa.hosts.empty();
    Status st = target.AddSubsystem(ss);
    if (!st.ok()) {
      LOG_ERROR("subsystem %s: %s", sa.nqn.c_str(), st.message().c_str());
      rc = 1;
      continue;
    }
    created.push_back(&sa);
    for (auto& h : sa.hosts) {
      st = target.AddHost(sa.nqn, h);
      if (!st.ok()) LOG_ERROR("subsystem %s host %s: %s", sa.nqn.c_str(), h.c_str(), st.message().c_str());
    }
    for (auto& [h, p] : listens) {
      ListenerSpec l;
      l.host_name = name;
      l.traddr = h;
      l.trsvcid = p;
      if (h.find(':') != std::string::npos) l.adrfam = nvme::kAdrfamIpv6;
      st = target.AddListener(sa.nqn, l);
      if (!st.ok()) {
        LOG_ERROR("subsystem %s: %s", sa.nqn.c_str(), st.message().c_str());
        rc = 1;
        if (st.code() != EEXIST) listen_failed = true;
      }
    }
  }
  if (listen_failed) {
    LOG_ERROR("a listener could not be opened; exiting");
    return 1;
  }
  // Then the namespaces: every device opens at once (an unreachable cluster costs one
  // connect timeout, not one per namespace), and they are added in the order given so
  // automatic NSIDs follow the command line. A namespace that cannot be opened is logged
  // and skipped; the others are served.
  {
    using Opened = Result<std::pair<NamespaceSpec, std::unique_ptr<BlockDevice>>>;
    struct Pending {
      const std::string* nqn;
      const std::string* spec;
      uint32_t nsid;  // by position on the command line, so NSIDs do not depend on timing
      std::future<Opened> dev;
    };
    std::vector<Pending> pending;
    for (const SubsysArg* sa : created) {
      uint32_t nsid = 0;
      for (auto& spec : sa->namespaces) {
        pending.push_back({&sa->nqn, &spec, ++nsid,
                           std::async(std::launch::async, [&rbd_open, &spec] { return OpenNamespace(spec, rbd_open); })});
      }
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
          rc = 1;
        } else {
          dev->first.nsid = p.nsid;
          auto added = target.AddNamespace(*p.nqn, dev->first, std::move(dev->second));
          if (!added.ok()) {
            LOG_ERROR("subsystem %s: namespace '%s' not added: %s", p.nqn->c_str(), p.spec->c_str(),
                      added.status().message().c_str());
            rc = 1;
          }
        }
        pending.erase(pending.begin() + static_cast<long>(i));
      }
    }
  }


#ifdef NVMEOF_WITH_MGMT
  // ------------------------------------------------------------ management plane
  api::ServiceOptions so;
  so.gateway_name = name;
  so.hostname = hostname;
  so.group = group;
  so.addr = grpc_addr;
  so.port = grpc_port;
  so.version = NVMEOF_VERSION_STRING;
  so.verify_nqns = verify_nqns;

  std::unique_ptr<StateStore> store;
#ifdef NVMEOF_WITH_STATE
  std::string store_desc = "in memory (this gateway only)";
  if (!state_pool.empty()) {
    struct stat sb;
    if (stat(ceph_conf.c_str(), &sb) != 0) {
      LOG_WARN("group state: %s does not exist; keeping the state in memory (no Ceph)", ceph_conf.c_str());
    } else {
      RadosStateOptions ro;
      ro.ceph_conf = ceph_conf;
      if (!ceph_id.empty()) ro.client_id = ceph_id;
      ro.pool = state_pool;
      ro.group = group;
      ro.poll_interval_sec = cfg.state_update_interval_sec;
      ro.lock_duration_sec = cfg.omap_file_lock_duration;
      ro.watch = cfg.state_update_notify;
      ro.notify_timeout_ms = cfg.state_update_timeout_in_msec;
      auto opened = OpenRadosStateStore(ro);
      if (opened.ok()) {
        store = std::move(opened.value());
        store_desc = "in RADOS, pool " + state_pool + ", object " + StateObjectName(group);
      } else {
        LOG_WARN("group state: cannot use RADOS (pool %s, %s): %s; keeping the state in memory", state_pool.c_str(),
                 ceph_conf.c_str(), opened.status().message().c_str());
      }
    }
  }
  if (!store) store = NewMemoryStateStore();
#endif
  api::GatewayService service(&target, store.get(), so);
  if (rbd_open) {
    service.SetRbdOpener([&](const api::BackendSpec& b) { return rbd_open(b.pool, b.image, b.create_image, b.create_size); });
  }
#ifdef NVMEOF_WITH_STATE
  // Applies the group state (replayed in full before serving), then follows it; stopped
  // (store first) on every way out of main.
  StateFollower follower(store.get(), &service, &service.rpc_mutex(),
                         {std::chrono::seconds(std::max<uint32_t>(1, cfg.state_update_interval_sec))});
  service.SetStateFollower(&follower);
  if (Status st = follower.Start(); !st.ok()) {
    LOG_ERROR("group state: cannot start the store: %s", st.ToString().c_str());
    return 1;
  }
  LOG_INFO("group state %s: %zu item(s) replayed", store_desc.c_str(), service.LocalState().size());
#else
  LOG_WARN("group state: not built in; the configuration is kept in this process only");
#endif

  std::unique_ptr<grpc::Server> server;
  if (grpc_enabled) {
    std::shared_ptr<grpc::ServerCredentials> creds;
    if (cfg.enable_auth) {
      grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
      const std::string root_path = cfg.root_ca_cert.empty() ? cfg.client_cert : cfg.root_ca_cert;
      if (!ReadFile(cfg.server_key, &pair.private_key) || !ReadFile(cfg.server_cert, &pair.cert_chain) ||
          !ReadFile(root_path, &ssl.pem_root_certs)) {
        LOG_ERROR("enable_auth: cannot read [mtls] server_key %s, server_cert %s or client certificate %s",
                  cfg.server_key.c_str(), cfg.server_cert.c_str(), root_path.c_str());
        return 1;
      }
      ssl.pem_key_cert_pairs.push_back(pair);
      creds = grpc::SslServerCredentials(ssl);
    } else {
      creds = grpc::InsecureServerCredentials();
    }
    grpc::ServerBuilder builder;
    int bound_port = 0;
    const std::string bind = (grpc_addr.find(':') != std::string::npos ? "[" + grpc_addr + "]" : grpc_addr) + ":" + grpc_port;
    // No SO_REUSEPORT: a second gateway on the same port must fail, not share the calls.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddListeningPort(bind, creds, &bound_port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    if (!server || bound_port == 0) {
      LOG_ERROR("grpc: cannot listen on %s (address in use, or not an address of this host)", bind.c_str());
      return 1;
    }
    LOG_INFO("grpc listening on %s:%d%s", grpc_addr.c_str(), bound_port, cfg.enable_auth ? " (mTLS)" : "");
  } else {
    LOG_INFO("grpc disabled");
  }
  if (rc != 0 && target.Ports().empty() && !server) {
    LOG_ERROR("nothing to serve; exiting");
    return 1;
  }
#else
  if (rc != 0 && target.Ports().empty()) {
    LOG_ERROR("nothing to serve; exiting");
    return 1;
  }
#endif
  LOG_INFO("ready");

  int sig = 0;
  sigwait(&sigs, &sig);
  LOG_INFO("signal %d: shutting down", sig);
  if (shutdown_timeout > 0) {
    // Closing an RBD image waits for Ceph; a cluster that is gone would hold the exit for
    // rados_osd_op_timeout per image. Nothing a host was told is done depends on it.
    std::thread([shutdown_timeout] {
      std::this_thread::sleep_for(std::chrono::seconds(shutdown_timeout));
      LOG_WARN("shutdown not finished after %u s (RBD images still closing: is the Ceph cluster reachable?); "
               "exiting without waiting",
               shutdown_timeout);
      _exit(0);
    }).detach();
  }
#ifdef NVMEOF_WITH_MGMT
  if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
#ifdef NVMEOF_WITH_STATE
  follower.Stop();
#endif
#endif
  {
    std::lock_guard<std::mutex> lk(ports_mu);
    ports.clear();
  }
  rgroup.Stop();
  return 0;
}
