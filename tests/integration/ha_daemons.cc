// See ha_daemons.h.
#include "tests/integration/ha_daemons.h"

#include <glob.h>
#include <grpcpp/grpcpp.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "gateway/ha/rados_group_store.h"
#include "tests/common/test_ports.h"

namespace nvmeof::ha_daemons {

double NowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string CephDirFromEnv(const char* env_var) {
  const char* d = getenv(env_var);
  return d ? d : "";
}

namespace {

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string GatewayBin() {
  const char* b = getenv("NVMEOF_GATEWAY_BIN");
  return b && *b ? b : NVMEOF_HA_GATEWAY_BIN;
}

}  // namespace

CmdResult Run(const std::vector<std::string>& argv, int timeout_ms) {
  std::string cmd = "timeout " + std::to_string((timeout_ms + 999) / 1000);
  for (const auto& a : argv) cmd += " " + Quote(a);
  cmd += " 2>&1";
  CmdResult r;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) r.out.append(buf, n);
  int st = pclose(f);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

CmdResult Ceph(const std::string& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ceph", "-c", dir + "/ceph.conf"};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv);
}

std::optional<std::vector<std::string>> BlocklistLs(const std::string& dir) {
  std::vector<std::string> argv{"ceph", "-c", dir + "/ceph.conf", "osd", "blocklist", "ls", "--format", "json"};
  // stdout only: the CLI says "listed N entries" on stderr.
  std::string cmd;
  for (const auto& a : argv) cmd += Quote(a) + " ";
  cmd += "2>/dev/null";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  if (pclose(f) != 0) return std::nullopt;
  std::vector<std::string> addrs;
  // The first JSON value (the Pacific CLI prints an empty list after it).
  try {
    std::istringstream in(out);
    nlohmann::json j;
    in >> j;
    for (auto& e : j) addrs.push_back(e.value("addr", ""));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::sort(addrs.begin(), addrs.end());
  return addrs;
}

bool BlocklistClear(const std::string& dir) { return Ceph(dir, {"osd", "blocklist", "clear"}).rc == 0; }

int MonitorPid(const std::string& dir) {
  glob_t g{};
  int pid = 0;
  if (glob((dir + "/run/mon.*.pid").c_str(), 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
    std::ifstream f(g.gl_pathv[0]);
    int p = 0;
    std::string comm;
    if (f >> p && p > 0 && std::getline(std::ifstream("/proc/" + std::to_string(p) + "/comm"), comm) &&
        comm == "ceph-mon")
      pid = p;
  }
  globfree(&g);
  return pid;
}

std::optional<std::vector<std::string>> OmapKeys(const std::string& dir, const std::string& pool,
                                                 const std::string& oid) {
  std::string cmd;
  for (const auto& a : std::vector<std::string>{"rados", "-c", dir + "/ceph.conf", "-p", pool, "listomapkeys", oid})
    cmd += Quote(a) + " ";
  cmd += "2>/dev/null";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  if (pclose(f) != 0) return std::nullopt;
  std::vector<std::string> keys;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) keys.push_back(line);
  std::sort(keys.begin(), keys.end());
  return keys;
}

// ---------------------------------------------------------------- Observer

Observer::Observer(const std::string& ceph_dir, const std::string& pool, const std::string& group) {
  ha::RadosGroupStoreOptions o;
  o.ceph_conf = ceph_dir + "/ceph.conf";
  o.pool = pool;
  o.group = group;
  auto s = ha::OpenRadosGroupStore(o);
  if (!s.ok()) {
    error_ = s.status().ToString();
    return;
  }
  store_ = std::move(s.value());
}

std::optional<ha::MemberInfo> Observer::Member(const std::string& name) {
  if (!store_) return std::nullopt;
  auto m = store_->Members();
  if (!m.ok()) return std::nullopt;
  for (auto& x : *m)
    if (x.name == name) return x;
  return std::nullopt;
}

std::optional<std::string> Observer::LeaseHolder(uint32_t g) {
  if (!store_) return std::nullopt;
  auto l = store_->ReadLease(g);
  if (!l.ok()) return std::nullopt;
  return l->holder.name;
}

// ---------------------------------------------------------------- Api

Api::Api(uint16_t grpc_port) {
  auto ch = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port), grpc::InsecureChannelCredentials());
  stub_ = ::Gateway::NewStub(ch);
  ha_stub_ = ::nvmeof::ha::GatewayHa::NewStub(ch);
}
Api::~Api() = default;

namespace {
template <typename Rep>
std::string Outcome(const grpc::Status& g, const Rep& r) {
  if (!g.ok()) return "gRPC: " + g.error_message();
  if (r.status() != 0) return "status " + std::to_string(r.status()) + ": " + r.error_message();
  return "";
}
}  // namespace

std::string Api::CreateSubsystem(const std::string& nqn) {
  create_subsystem_req q;
  q.set_subsystem_nqn(nqn);
  q.set_enable_ha(true);
  q.set_no_group_append(true);
  q.set_max_namespaces(1024);
  subsys_status r;
  grpc::ClientContext ctx;
  std::string e = Outcome(stub_->create_subsystem(&ctx, q, &r), r);
  if (!e.empty()) return e;
  add_host_req h;
  h.set_subsystem_nqn(nqn);
  h.set_host_nqn("*");
  req_status hr;
  grpc::ClientContext hctx;
  return Outcome(stub_->add_host(&hctx, h, &hr), hr);
}

std::string Api::AddListener(const std::string& nqn, const std::string& gateway_name, uint16_t port) {
  create_listener_req q;
  q.set_nqn(nqn);
  q.set_host_name(gateway_name);
  q.set_traddr("127.0.0.1");
  q.set_trsvcid(port);
  req_status r;
  grpc::ClientContext ctx;
  return Outcome(stub_->create_listener(&ctx, q, &r), r);
}

std::string Api::AddRbdNamespace(const std::string& nqn, const std::string& pool, const std::string& image,
                                 uint64_t size, bool create, uint32_t anagrpid, uint32_t* nsid) {
  namespace_add_req q;
  q.set_subsystem_nqn(nqn);
  q.set_rbd_pool_name(pool);
  q.set_rbd_image_name(image);
  q.set_block_size(4096);
  q.set_anagrpid(static_cast<int32_t>(anagrpid));
  if (create) {
    q.set_create_image(true);
    q.set_size(size);
  }
  nsid_status r;
  grpc::ClientContext ctx;
  std::string e = Outcome(stub_->namespace_add(&ctx, q, &r), r);
  if (e.empty() && nsid) *nsid = r.nsid();
  return e;
}

std::optional<size_t> Api::NamespaceCount() {
  get_subsystems_req q;
  subsystems_info r;
  grpc::ClientContext ctx;
  if (!stub_->get_subsystems(&ctx, q, &r).ok()) return std::nullopt;
  size_t n = 0;
  for (auto& s : r.subsystems()) n += static_cast<size_t>(s.namespaces_size());
  return n;
}

std::vector<std::string> Api::NamespaceNonces() {
  get_subsystems_req q;
  subsystems_info r;
  grpc::ClientContext ctx;
  std::vector<std::string> out;
  if (!stub_->get_subsystems(&ctx, q, &r).ok()) return out;
  for (auto& s : r.subsystems())
    for (auto& ns : s.namespaces()) out.push_back(ns.nonce());
  return out;
}

std::optional<std::map<uint32_t, uint32_t>> Api::NamespaceGroups(const std::string& nqn) {
  get_subsystems_req q;
  subsystems_info r;
  grpc::ClientContext ctx;
  if (!stub_->get_subsystems(&ctx, q, &r).ok()) return std::nullopt;
  std::map<uint32_t, uint32_t> out;
  for (auto& s : r.subsystems())
    if (s.nqn() == nqn)
      for (auto& ns : s.namespaces()) out[ns.nsid()] = ns.anagrpid();
  return out;
}

std::string Api::ChangeLbGroup(const std::string& nqn, uint32_t nsid, uint32_t anagrpid) {
  namespace_change_load_balancing_group_req q;
  q.set_subsystem_nqn(nqn);
  q.set_nsid(nsid);
  q.set_anagrpid(static_cast<int32_t>(anagrpid));
  req_status r;
  grpc::ClientContext ctx;
  return Outcome(stub_->namespace_change_load_balancing_group(&ctx, q, &r), r);
}

std::optional<::nvmeof::ha::ha_status> Api::HaStatus() {
  ::nvmeof::ha::get_ha_status_req q;
  ::nvmeof::ha::ha_status r;
  grpc::ClientContext ctx;
  if (!ha_stub_->get_ha_status(&ctx, q, &r).ok()) return std::nullopt;
  return r;
}

std::pair<int, std::string> Api::RemoveMember(const std::string& name) {
  ::nvmeof::ha::remove_member_req q;
  q.set_name(name);
  ::nvmeof::ha::ha_req_status r;
  grpc::ClientContext ctx;
  grpc::Status g = ha_stub_->remove_member(&ctx, q, &r);
  if (!g.ok()) return {-1, "gRPC: " + g.error_message()};
  return {r.status(), r.error_message()};
}

// ---------------------------------------------------------------- Daemon

Daemon::Daemon(DaemonConfig c) : cfg_(std::move(c)) {
  grpc_port_ = testing::FreePort();
  io_port_ = testing::FreePort();
  std::string dir = cfg_.work_dir.empty() ? "/tmp" : cfg_.work_dir;
  conf_path_ = dir + "/nvmeof-ha-" + cfg_.group + "-" + cfg_.name + "-" + std::to_string(getpid()) + ".conf";
}

Daemon::~Daemon() {
  child_.Kill();
  unlink(conf_path_.c_str());
}

bool Daemon::Start(std::string* err, int timeout_ms) {
  std::ofstream f(conf_path_);
  f << "[gateway]\nname = " << cfg_.name << "\ngroup = " << cfg_.group << "\naddr = 127.0.0.1\nport = " << grpc_port_
    << "\nenable_prometheus_exporter = False\nha = builtin\n";
  if (cfg_.lease_ms) f << "ha_lease_ms = " << cfg_.lease_ms << "\n";
  f << "ha_failback_delay_ms = " << cfg_.failback_delay_ms << "\n";
  if (cfg_.rebalance_period_sec >= 0) f << "rebalance_period_sec = " << cfg_.rebalance_period_sec << "\n";
  if (cfg_.max_ns_to_change_lb_grp >= 0) f << "max_ns_to_change_lb_grp = " << cfg_.max_ns_to_change_lb_grp << "\n";
  f << "[gateway-logs]\nlog_level = " << cfg_.log_level << "\n";
  f << "[ceph]\npool = " << cfg_.pool << "\nconfig_file = " << cfg_.ceph_dir << "/ceph.conf\nid = admin\n";
  f << "[data-plane]\nreactors = " << cfg_.reactors << "\n";
  f.close();
  if (!f) {
    *err = "cannot write " + conf_path_;
    return false;
  }
  if (!child_.Start({GatewayBin(), "--config", conf_path_, "--hostname", cfg_.name, "--discovery", "none"}, err))
    return false;
  if (!child_.WaitForLog([](const std::string& l) { return l.find("ready") != std::string::npos; }, timeout_ms)) {
    *err = cfg_.name + ": no 'ready' in time:\n" + child_.LogTail();
    return false;
  }
  return true;
}

void Daemon::Terminate() { kill(child_.pid(), SIGTERM); }
void Daemon::Pause() { kill(child_.pid(), SIGSTOP); }
void Daemon::Resume() { kill(child_.pid(), SIGCONT); }

Api& Daemon::api() {
  if (!api_) api_ = std::make_unique<Api>(grpc_port_);
  return *api_;
}

std::string CreateRbdSubsystem(Daemon& via, const std::vector<Daemon*>& all, const std::string& nqn,
                               const std::vector<std::string>& images, uint64_t size, uint32_t anagrpid) {
  if (std::string e = via.api().CreateSubsystem(nqn); !e.empty()) return "create_subsystem " + nqn + ": " + e;
  // Each listener through its own gateway (the reference refuses one for another host, after
  // storing it); a peer knows the subsystem once it applied the change.
  for (Daemon* d : all) {
    std::string e;
    WaitUntil([&] { return (e = d->api().AddListener(nqn, d->name(), d->io_port())).empty(); }, 10000, 20);
    if (!e.empty()) return "create_listener " + nqn + " " + d->name() + ": " + e;
  }
  for (const auto& img : images) {
    uint32_t nsid = 0;
    if (std::string e = via.api().AddRbdNamespace(nqn, "rbd", img, size, true, anagrpid, &nsid); !e.empty())
      return "namespace_add " + nqn + " " + img + ": " + e;
  }
  return "";
}

// ---------------------------------------------------------------- host side

std::optional<uint8_t> AnaGroupState(host::Controller& c, uint32_t g) {
  // RGO (LSP bit 0): the group descriptors without their NSID lists.
  std::vector<uint8_t> buf(4096);
  host::Completion cp = c.GetLogPage(nvme::kLogAna, buf.data(), static_cast<uint32_t>(buf.size()), 0xFFFFFFFF, 0, 1);
  if (!cp.ok()) return std::nullopt;
  nvme::AnaLogHeader h;
  memcpy(&h, buf.data(), sizeof h);
  size_t off = sizeof h;
  for (uint16_t i = 0; i < h.num_descriptors && off + sizeof(nvme::AnaGroupDescriptor) <= buf.size(); ++i) {
    nvme::AnaGroupDescriptor d;
    memcpy(&d, buf.data() + off, sizeof d);
    if (d.anagrpid == g) return d.state;
    off += sizeof d + 4u * d.num_nsids;
  }
  return uint8_t{0};
}

std::unique_ptr<host::Controller> Connect(uint16_t port, const std::string& nqn, std::string* err, int timeout_ms) {
  host::ControllerOptions o;
  o.port = port;
  o.subnqn = nqn;
  o.timeout_ms = timeout_ms;
  auto c = std::make_unique<host::Controller>(o);
  if (!c->Open(err)) return nullptr;
  host::Completion q = c->AddIoQueue();
  if (!q.ok()) {
    *err = "I/O queue: " + q.ToString();
    return nullptr;
  }
  return c;
}

std::vector<uint8_t> PatternBlock(uint32_t v, size_t size) {
  std::vector<uint8_t> b(size);
  for (size_t i = 0; i + 4 <= size; i += 4) memcpy(&b[i], &v, 4);
  return b;
}

bool IsAnaPathStatus(const host::Completion& c) {
  return c.transport_ok && c.status.sct == nvme::kSctPath &&
         (c.status.sc == nvme::kScAnaInaccessible || c.status.sc == nvme::kScAnaTransition);
}

size_t CountOf(const std::string& log, const std::string& what) {
  size_t n = 0;
  for (size_t p = log.find(what); p != std::string::npos; p = log.find(what, p + 1)) ++n;
  return n;
}

}  // namespace nvmeof::ha_daemons
