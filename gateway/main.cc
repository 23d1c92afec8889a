// nvmeof-gateway: the daemon. Parses the command line, starts the reactors, builds the
// initial target model and serves until SIGTERM/SIGINT.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/common/log.h"
#include "gateway/engine/reactor.h"
#include "gateway/engine/tcp_queue.h"
#include "gateway/target/target.h"
#include "rbd-backend/block_device.h"

using namespace nvmeof;

namespace {

const char kUsage[] = R"(usage: nvmeof-gateway [options]

Serves NVMe/TCP: RBD images (and memory or file devices) as NVMe namespaces.

Data plane:
  --listen ADDR:PORT        I/O listener for every subsystem given here (repeatable)
  --discovery ADDR:PORT     discovery listener (default 0.0.0.0:8009; "none" to disable)
  --reactors N              reactor threads (default: one per core)
  --cntlid-range MIN-MAX    controller IDs this gateway hands out (default 1-65519)
  --queue-depth N           deepest queue a host may create (default 128)

Initial configuration (changeable at runtime through the management API):
  --subsystem NQN           create a subsystem; the options below apply to the last one
    --namespace SPEC        add a namespace (repeatable). SPEC is one of
                              memory:SIZE[:BLOCKSIZE]             sparse RAM device
                              file:PATH[:SIZE[:BLOCKSIZE]]        file or block device
                              rbd:POOL/IMAGE[:BLOCKSIZE]          Ceph RBD image
                            SIZE takes K/M/G/T suffixes (binary); BLOCKSIZE is 512 or 4096
    --host HOSTNQN          allow this host (repeatable); without any, every host is allowed
    --serial SN             serial number (default: random)

Other:
  --name NAME               this gateway's name (default: the host name)
  --log-level LEVEL         debug, info, warning or error (default info)
  -h, --help                this text
)";

[[noreturn]] void Die(const std::string& msg) {
  fprintf(stderr, "nvmeof-gateway: %s\n(see --help)\n", msg.c_str());
  exit(2);
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

struct NsArg {
  std::string spec;
};
struct SubsysArg {
  std::string nqn, serial;
  std::vector<std::string> namespaces;
  std::vector<std::string> hosts;
};

Result<std::pair<NamespaceSpec, std::unique_ptr<BlockDevice>>> OpenNamespace(const std::string& spec) {
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
    return Status::InvalidArgument("the rbd backend is not built into this binary");
  }
  return Status::InvalidArgument("unknown namespace kind '" + kind + "' in '" + spec +
                                 "' (memory, file or rbd)");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::pair<std::string, std::string>> listens;
  std::string discovery = "0.0.0.0:8009";
  int reactors = static_cast<int>(std::thread::hardware_concurrency());
  std::vector<SubsysArg> subsystems;
  TargetOptions opts;
  char hn[256] = "gateway";
  gethostname(hn, sizeof(hn) - 1);
  opts.gateway_name = hn;

  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("option " + a + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      fputs(kUsage, stdout);
      return 0;
    } else if (a == "--listen") {
      std::string h, p;
      if (!SplitHostPort(next(), &h, &p)) Die("--listen wants ADDR:PORT");
      listens.push_back({h, p});
    } else if (a == "--discovery") {
      discovery = next();
    } else if (a == "--reactors") {
      reactors = atoi(next().c_str());
      if (reactors < 1 || reactors > 256) Die("--reactors wants 1 to 256");
    } else if (a == "--cntlid-range") {
      auto r = Split(next(), '-');
      if (r.size() != 2) Die("--cntlid-range wants MIN-MAX");
      int lo = atoi(r[0].c_str()), hi = atoi(r[1].c_str());
      if (lo < 1 || hi > 0xFFEF || lo > hi) Die("--cntlid-range must lie within 1-65519");
      opts.min_cntlid = static_cast<uint16_t>(lo);
      opts.max_cntlid = static_cast<uint16_t>(hi);
    } else if (a == "--queue-depth") {
      int q = atoi(next().c_str());
      if (q < 2 || q > 1024) Die("--queue-depth wants 2 to 1024");
      opts.max_queue_depth = static_cast<uint32_t>(q);
    } else if (a == "--subsystem") {
      subsystems.push_back(SubsysArg{next(), "", {}, {}});
    } else if (a == "--namespace" || a == "--host" || a == "--serial") {
      if (subsystems.empty()) Die(a + " must follow a --subsystem");
      std::string v = next();
      if (a == "--namespace") subsystems.back().namespaces.push_back(v);
      else if (a == "--host") subsystems.back().hosts.push_back(v);
      else subsystems.back().serial = v;
    } else if (a == "--name") {
      opts.gateway_name = next();
    } else if (a == "--log-level") {
      LogLevel l;
      if (!ParseLogLevel(next(), &l)) Die("--log-level wants debug, info, warning or error");
      SetLogLevel(l);
    } else {
      Die("unknown option '" + a + "'");
    }
  }

  // Signals are taken by the main thread only.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ReactorGroup group(reactors);
  group.Start();
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
    auto lis = TcpListener::Open(&target, group, l.traddr, l.trsvcid, l.adrfam, portid);
    if (!lis.ok()) return lis.status();
    ports[key] = std::move(lis.value());
    LOG_INFO("listening on %s (NVMe/TCP, port id %u)", key.c_str(), portid);
    return Status::OK();
  });

  LOG_INFO("nvmeof-gateway %s starting: gateway %s, %d reactor(s)", opts.firmware_revision.c_str(),
           opts.gateway_name.c_str(), reactors);
  int rc = 0;
  if (discovery != "none") {
    ListenerSpec d;
    if (!SplitHostPort(discovery, &d.traddr, &d.trsvcid)) Die("--discovery wants ADDR:PORT or none");
    Status st = target.AddDiscoveryListener(d);
    if (!st.ok()) {
      LOG_ERROR("discovery listener: %s", st.message().c_str());
      rc = 1;
    }
  }
  for (auto& sa : subsystems) {
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
    for (auto& h : sa.hosts) {
      st = target.AddHost(sa.nqn, h);
      if (!st.ok()) LOG_ERROR("subsystem %s host %s: %s", sa.nqn.c_str(), h.c_str(), st.message().c_str());
    }
    for (auto& spec : sa.namespaces) {
      auto dev = OpenNamespace(spec);
      if (!dev.ok()) {
        // Keep serving the others.
        LOG_ERROR("subsystem %s: namespace '%s' not added: %s", sa.nqn.c_str(), spec.c_str(),
                  dev.status().message().c_str());
        rc = 1;
        continue;
      }
      auto added = target.AddNamespace(sa.nqn, dev->first, std::move(dev->second));
      if (!added.ok()) {
        LOG_ERROR("subsystem %s: namespace '%s' not added: %s", sa.nqn.c_str(), spec.c_str(),
                  added.status().message().c_str());
        rc = 1;
      }
    }
    for (auto& [h, p] : listens) {
      ListenerSpec l;
      l.host_name = opts.gateway_name;
      l.traddr = h;
      l.trsvcid = p;
      st = target.AddListener(sa.nqn, l);
      if (!st.ok()) {
        LOG_ERROR("subsystem %s: %s", sa.nqn.c_str(), st.message().c_str());
        rc = 1;
      }
    }
  }
  if (rc != 0 && target.Ports().empty()) {
    LOG_ERROR("nothing to serve; exiting");
    return 1;
  }
  LOG_INFO("ready");

  int sig = 0;
  sigwait(&sigs, &sig);
  LOG_INFO("signal %d: shutting down", sig);
  {
    std::lock_guard<std::mutex> lk(ports_mu);
    ports.clear();
  }
  group.Stop();
  return 0;
}
