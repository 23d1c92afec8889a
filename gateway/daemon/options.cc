// The daemon's settings: see options.h.
#include "gateway/daemon/options.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "gateway/common/strings.h"
#include "gateway/daemon/config.h"
#include "gateway/nvmf/auth_keys.h"

namespace nvmeof {

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
  --auto-listener-addresses LIST
                            the local addresses (ADDR,ADDR,...) on which subsystem network
                            masks open auto-listeners ([gateway] auto_listener_addresses;
                            default: every address of the interfaces that are up)

Group state and Ceph:
  --state-pool POOL         RADOS pool of the group state object nvmeof[.GROUP].state
                            ([ceph] pool; "none": keep the state in memory). Without a
                            pool, or when Ceph cannot be reached, the state is kept in
                            memory (logged)
  --ceph-conf PATH          ceph.conf ([ceph] config_file, default /etc/ceph/ceph.conf)
  --ceph-id ID              cephx user without "client." ([ceph] id, default admin)
  --encryption-key FILE     the key that encrypts DH-HMAC-CHAP keys and PSKs in the group
                            state ([gateway] encryption_key; docs/state.md)
  --bdevs-per-cluster N     RBD images per RADOS connection ([data-plane] or [spdk]
                            bdevs_per_cluster, default 32)

Data plane:
  --listen ADDR:PORT        I/O listener for every subsystem given here (repeatable;
                            [data-plane] listen = ADDR:PORT, ...)
  --secure                  the --listen listeners take NVMe/TCP over TLS 1.3 only: hosts
                            connect with the PSK of --host-psk
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
  --dhchap-digests LIST     DH-HMAC-CHAP hash functions the gateway accepts, most preferred
                            first (default sha512,sha384,sha256; [data-plane]
                            dhchap_digests): the first the host offers is used
  --dhchap-dhgroups LIST    DH-HMAC-CHAP DH groups, most preferred first (default
                            null,ffdhe2048,ffdhe3072,ffdhe4096,ffdhe6144,ffdhe8192;
                            [data-plane] dhchap_dhgroups); "null": no DH exchange
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
    --host-psk HOSTNQN=FILE allow this host with the TLS PSK in FILE (NVMeTLSkey-1:hh:...:)
    --serial SN             serial number (default: random)

Metrics:
  --prometheus-port N       serve Prometheus metrics on [gateway] addr:N (default with a
                            configuration file: [gateway] enable_prometheus_exporter = true,
                            prometheus_port = 10008; without one: off). 0 picks a free port,
                            logged as "prometheus exporter listening on ADDR:PORT"; "none"
                            turns the exporter off. HTTPS with [gateway]
                            prometheus_exporter_ssl (default true in a file) and [mtls]
                            server_cert, server_key; else HTTP

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

std::string HostName() {
  char hn[256] = "gateway";
  gethostname(hn, sizeof(hn) - 1);
  return hn;
}

// A whole decimal number within [lo, hi] for a flag.
Result<long> IntArg(const std::string& flag, const std::string& v, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  long n = strtol(v.c_str(), &end, 10);
  if (v.empty() || errno || *end || n < lo || n > hi)
    return Status::InvalidArgument(flag + " wants " + std::to_string(lo) + " to " + std::to_string(hi) + ", not '" +
                                   v + "'");
  return n;
}

}  // namespace

const char* UsageText() { return kUsage; }

bool SplitHostPort(const std::string& s, HostPort* out) {
  auto pos = s.rfind(':');
  if (pos == std::string::npos || pos == 0 || pos + 1 == s.size()) return false;
  out->addr = s.substr(0, pos);
  out->port = s.substr(pos + 1);
  if (out->addr.size() > 2 && out->addr.front() == '[' && out->addr.back() == ']')
    out->addr = out->addr.substr(1, out->addr.size() - 2);
  return true;
}

Result<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  CommandLine f;
  for (size_t i = 0; i < args.size(); i++) {
    std::string a = args[i];
    // --opt=value is accepted too.
    std::optional<std::string> inline_value;
    if (a.rfind("--", 0) == 0) {
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        inline_value = a.substr(eq + 1);
        a = a.substr(0, eq);
      }
    }
    std::string v;
    auto next = [&]() -> Status {
      if (inline_value) {
        v = *inline_value;
      } else {
        if (i + 1 >= args.size()) return Status::InvalidArgument("option " + a + " needs a value");
        v = args[++i];
      }
      return Status::OK();
    };
    auto uint_arg = [&](std::optional<uint32_t>* out, long lo, long hi) -> Status {
      if (Status st = next(); !st.ok()) return st;
      auto n = IntArg(a, v, lo, hi);
      if (!n.ok()) return n.status();
      *out = static_cast<uint32_t>(*n);
      return Status::OK();
    };
    auto str_arg = [&](std::optional<std::string>* out) -> Status {
      if (Status st = next(); !st.ok()) return st;
      *out = v;
      return Status::OK();
    };
    Status st;
    if (a == "-h" || a == "--help") {
      f.help = true;
      return f;
    } else if (a == "--config") {
      st = str_arg(&f.config);
    } else if (a == "--grpc") {
      st = str_arg(&f.grpc);
    } else if (a == "--hostname") {
      st = str_arg(&f.hostname);
    } else if (a == "--group") {
      st = str_arg(&f.group);
    } else if (a == "--state-pool") {
      st = str_arg(&f.state_pool);
    } else if (a == "--ceph-conf") {
      st = str_arg(&f.ceph_conf);
    } else if (a == "--ceph-id") {
      st = str_arg(&f.ceph_id);
    } else if (a == "--encryption-key") {
      st = str_arg(&f.encryption_key);
    } else if (a == "--name") {
      st = str_arg(&f.name);
    } else if (a == "--discovery") {
      st = str_arg(&f.discovery);
    } else if (a == "--auto-listener-addresses") {
      if (st = next(); st.ok()) {
        std::vector<std::string> list;
        std::string why;
        if (!ParseAddressList(v, &list, &why)) return Status::InvalidArgument(a + ": " + why);
        f.auto_listener_addresses = list;
      }
    } else if (a == "--no-verify-nqns") {
      f.no_verify_nqns = true;
    } else if (a == "--bdevs-per-cluster") {
      st = uint_arg(&f.bdevs_per_cluster, 1, 65536);
    } else if (a == "--queue-depth") {
      st = uint_arg(&f.queue_depth, 32, 1024);  // admin queues need 32
    } else if (a == "--poll-window-us") {
      st = uint_arg(&f.poll_window_us, 0, 1000000);
    } else if (a == "--shutdown-timeout") {
      st = uint_arg(&f.shutdown_timeout, 0, 3600);
    } else if (a == "--in-capsule-data-size") {
      st = uint_arg(&f.in_capsule_data_size, 0, 1 << 20);
    } else if (a == "--prometheus-port") {
      if (st = next(); st.ok()) {
        if (v == "none") {
          f.no_prometheus = true;
        } else {
          auto n = IntArg(a, v, 0, 65535);
          if (!n.ok()) return n.status();
          f.prometheus_port = static_cast<uint16_t>(*n);
        }
      }
    } else if (a == "--reactors") {
      std::optional<uint32_t> n;
      st = uint_arg(&n, 1, 256);
      if (n) f.reactors = static_cast<int>(*n);
    } else if (a == "--listen") {
      if (st = next(); st.ok()) {
        HostPort hp;
        if (!SplitHostPort(v, &hp)) return Status::InvalidArgument("--listen wants ADDR:PORT");
        f.listens.push_back(hp);
      }
    } else if (a == "--cntlid-range") {
      if (st = next(); st.ok()) {
        uint16_t lo, hi;
        if (v.find('-') == std::string::npos || v.find('-') != v.rfind('-'))
          return Status::InvalidArgument("--cntlid-range wants MIN-MAX");
        if (!ParseCntlidRange(v, &lo, &hi)) return Status::InvalidArgument("--cntlid-range must lie within 1-65519");
        f.min_cntlid = lo;
        f.max_cntlid = hi;
      }
    } else if (a == "--subsystem") {
      if (st = next(); st.ok()) f.subsystems.push_back(SubsystemOption{v, "", {}, {}});
    } else if (a == "--secure") {
      f.secure = true;
    } else if (a == "--host-psk") {
      if (f.subsystems.empty()) return Status::InvalidArgument(a + " must follow a --subsystem");
      if (st = next(); st.ok()) {
        size_t eq = v.find('=');
        if (eq == std::string::npos || eq == 0) return Status::InvalidArgument("--host-psk wants HOSTNQN=PSKFILE");
        std::ifstream in(v.substr(eq + 1));
        std::string psk;
        if (!in || !std::getline(in, psk)) return Status::InvalidArgument("--host-psk: cannot read " + v.substr(eq + 1));
        f.subsystems.back().psk_hosts.emplace_back(v.substr(0, eq), Trim(psk));
      }
    } else if (a == "--namespace" || a == "--host" || a == "--serial") {
      if (f.subsystems.empty()) return Status::InvalidArgument(a + " must follow a --subsystem");
      if (st = next(); st.ok()) {
        if (a == "--namespace") f.subsystems.back().namespaces.push_back(v);
        else if (a == "--host") f.subsystems.back().hosts.push_back(v);
        else f.subsystems.back().serial = v;
      }
    } else if (a == "--dhchap-digests" || a == "--dhchap-dhgroups") {
      if (st = next(); st.ok()) {
        auto ids = a == "--dhchap-digests" ? auth::ParseHashList(v) : auth::ParseDhGroupList(v);
        if (!ids.ok()) return Status::InvalidArgument(a + ": " + ids.status().message());
        (a == "--dhchap-digests" ? f.dhchap_digests : f.dhchap_dhgroups) = *ids;
      }
    } else if (a == "--log-level") {
      if (st = next(); st.ok()) {
        LogLevel l;
        if (!ParseLogLevel(v, &l)) return Status::InvalidArgument("--log-level wants debug, info, warning or error");
        f.log_level = l;
      }
    } else {
      return Status::InvalidArgument("unknown option '" + a + "'");
    }
    if (!st.ok()) return st;
  }
  return f;
}

Result<DaemonOptions> ResolveOptions(const DaemonOptions* file, const CommandLine& flags) {
  DaemonOptions o = file ? *file : DaemonOptions{};
  if (flags.log_level) o.log_level = *flags.log_level;
  if (flags.name) o.name = *flags.name;
  if (flags.hostname) o.hostname = *flags.hostname;
  if (flags.group) o.group = *flags.group;
  if (flags.grpc) {
    HostPort hp;
    if (*flags.grpc == "none") {
      o.grpc_enabled = false;
    } else if (SplitHostPort(*flags.grpc, &hp)) {
      o.grpc_addr = hp.addr;
      o.grpc_port = hp.port;
    } else {
      return Status::InvalidArgument("--grpc wants ADDR:PORT or none");
    }
  }
  if (flags.discovery) {
    if (*flags.discovery == "none") {
      o.discovery_enabled = false;
    } else if (!SplitHostPort(*flags.discovery, &o.discovery)) {
      return Status::InvalidArgument("--discovery wants ADDR:PORT or none");
    }
  } else if (o.discovery_enabled) {
    // [discovery] addr may be written "[::1]" or be empty.
    if (!SplitHostPort(o.discovery.addr + ":" + o.discovery.port, &o.discovery))
      return Status::InvalidArgument("--discovery wants ADDR:PORT or none");
  }
  if (flags.reactors) o.reactors = *flags.reactors;
  if (flags.poll_window_us) o.poll_window_us = *flags.poll_window_us;
  if (flags.shutdown_timeout) o.shutdown_timeout = *flags.shutdown_timeout;
  if (flags.min_cntlid) {
    o.target.min_cntlid = *flags.min_cntlid;
    o.target.max_cntlid = *flags.max_cntlid;
  }
  if (flags.queue_depth) o.target.max_queue_depth = *flags.queue_depth;
  if (flags.in_capsule_data_size) o.target.in_capsule_data_size = *flags.in_capsule_data_size;
  if (flags.dhchap_digests) o.target.dhchap_hashes = *flags.dhchap_digests;
  if (flags.dhchap_dhgroups) o.target.dhchap_dhgroups = *flags.dhchap_dhgroups;
  if (flags.bdevs_per_cluster) o.bdevs_per_cluster = *flags.bdevs_per_cluster;
  if (flags.ceph_conf) o.ceph_conf = *flags.ceph_conf;
  if (flags.ceph_id) o.ceph_id = *flags.ceph_id;
  if (flags.encryption_key) o.encryption_key = *flags.encryption_key;
  if (flags.state_pool) o.state_pool = *flags.state_pool;
  if (o.state_pool == "none") o.state_pool.clear();
  if (o.ha_builtin && o.state_pool.empty())
    return Status::InvalidArgument("[gateway] ha = builtin needs a state pool ([ceph] pool, not --state-pool none)");
  if (o.ha_builtin && o.enable_monitor_client.value_or(false))
    return Status::InvalidArgument(
        "[gateway] ha = builtin and enable_monitor_client = true: two sources of ANA decisions; use ha = monitor "
        "for the Ceph monitor client, or set enable_monitor_client = false for the built-in leases");
  if (o.ha_monitor && (!o.grpc_enabled || o.grpc_port == "0" || o.grpc_port == "1"))
    return Status::InvalidArgument(
        "[gateway] ha = monitor needs the gRPC API on a fixed port (the monitor client's port is [gateway] port - 1)");
  if (flags.no_verify_nqns) o.verify_nqns = false;
  if (flags.secure) o.listen_secure = true;
  if (flags.auto_listener_addresses) o.auto_listener_addresses = *flags.auto_listener_addresses;
  if (flags.prometheus_port) {
    o.enable_prometheus_exporter = true;
    o.prometheus_port = *flags.prometheus_port;
  }
  if (flags.no_prometheus) o.enable_prometheus_exporter = false;
  o.listen.insert(o.listen.end(), flags.listens.begin(), flags.listens.end());
  o.subsystems.insert(o.subsystems.end(), flags.subsystems.begin(), flags.subsystems.end());

  if (o.hostname.empty()) o.hostname = HostName();
  if (o.name.empty()) o.name = HostName();
  if (o.reactors <= 0) o.reactors = static_cast<int>(std::thread::hardware_concurrency());
  if (o.reactors < 1) o.reactors = 1;
  o.target.gateway_name = o.name;
  o.target.group = o.group;
  return o;
}

}  // namespace nvmeof
