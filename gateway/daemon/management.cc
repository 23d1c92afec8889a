// The management plane: the gRPC API and the group state. See management.h.
#include "gateway/daemon/management.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "api/ha_service.h"
#include "api/load_balancer.h"
#include "api/service.h"
#include "gateway/common/log.h"
#include "gateway/daemon/grpc_credentials.h"
#include "gateway/runtime/reactor.h"
#include "gateway/state/secret_box.h"
#include "gateway/state/state_follower.h"
#include "gateway/state/state_store.h"

namespace nvmeof {

namespace {

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::stringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

// ------------------------------------------------------------------ group state
// The group state: the store (RADOS when a pool is configured and Ceph is reachable, else
// in memory), followed by a StateFollower (gateway/state/state_follower.h) that replays it
// onto the service and retries what could not be applied yet.

// The store, not started yet. *desc says where the state is kept (for the log);
// *ceph_ok is false when a pool is configured but RADOS could not be used.
std::unique_ptr<StateStore> OpenStateStore(const DaemonOptions& o, std::string* desc, bool* ceph_ok) {
  *desc = "in memory (this gateway only)";
  *ceph_ok = o.state_pool.empty();
  if (!o.state_pool.empty()) {
    struct stat sb;
    if (stat(o.ceph_conf.c_str(), &sb) != 0) {
      LOG_WARN("group state: %s does not exist; keeping the state in memory (no Ceph)", o.ceph_conf.c_str());
    } else {
      RadosStateOptions ro;
      ro.ceph_conf = o.ceph_conf;
      if (!o.ceph_id.empty()) ro.client_id = o.ceph_id;
      ro.pool = o.state_pool;
      ro.group = o.group;
      ro.poll_interval_sec = o.state_update_interval_sec;
      ro.lock_duration_sec = o.omap_file_lock_duration;
      ro.watch = o.state_update_notify;
      ro.notify_timeout_ms = o.state_update_timeout_in_msec;
      auto opened = OpenRadosStateStore(ro);
      if (opened.ok()) {
        *desc = "in RADOS, pool " + o.state_pool + ", object " + StateObjectName(o.group);
        *ceph_ok = true;
        return std::move(opened.value());
      }
      LOG_WARN("group state: cannot use RADOS (pool %s, %s): %s; keeping the state in memory", o.state_pool.c_str(),
               o.ceph_conf.c_str(), opened.status().message().c_str());
    }
  }
  return NewMemoryStateStore();
}

}  // namespace

// ------------------------------------------------------------------ gRPC server
Result<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(const DaemonOptions& o) {
  if (!o.enable_auth) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  const std::string root_path = o.root_ca_cert.empty() ? o.client_cert : o.root_ca_cert;
  if (!ReadFile(o.server_key, &pair.private_key) || !ReadFile(o.server_cert, &pair.cert_chain) ||
      !ReadFile(root_path, &ssl.pem_root_certs)) {
    LOG_ERROR("enable_auth: cannot read [mtls] server_key %s, server_cert %s or client certificate %s",
              o.server_key.c_str(), o.server_cert.c_str(), root_path.c_str());
    return Status::InvalidArgument("enable_auth: cannot read the [mtls] files");
  }
  ssl.pem_key_cert_pairs.push_back(pair);
  return grpc::SslServerCredentials(ssl);
}

namespace {

Result<std::unique_ptr<grpc::Server>> StartServer(const DaemonOptions& o, api::GatewayService* service,
                                                  api::HaService* ha_service) {
  auto c = GrpcServerCredentials(o);
  if (!c.ok()) return c.status();
  std::shared_ptr<grpc::ServerCredentials> creds = c.value();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  const std::string bind =
      (o.grpc_addr.find(':') != std::string::npos ? "[" + o.grpc_addr + "]" : o.grpc_addr) + ":" + o.grpc_port;
  // No SO_REUSEPORT: a second gateway on the same port must fail, not share the calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(bind, creds, &bound_port);
  builder.RegisterService(service);
  builder.RegisterService(ha_service);  // nvmeof.ha.GatewayHa (api/gateway_ha.proto)
  // grpc.health.v1.Health, NOT_SERVING until the plane is told it is ready.
  grpc::EnableDefaultHealthCheckService(true);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    LOG_ERROR("grpc: cannot listen on %s (address in use, or not an address of this host)", bind.c_str());
    return Status::Error(errc::kAddressInUse, "grpc: cannot listen on " + bind);
  }
  LOG_INFO("grpc listening on %s:%d%s", o.grpc_addr.c_str(), bound_port, o.enable_auth ? " (mTLS)" : "");
  return server;
}

class GrpcManagementPlane final : public ManagementPlane {
 public:
  ~GrpcManagementPlane() override { Stop(); }

  Status Start(const DaemonOptions& o, Target* target, DeviceFactory* devices, ReactorGroup* reactors,
               ha::HaManager* ha) {
    std::string desc;
    store_ = OpenStateStore(o, &desc, &ceph_ok_);
    api::ServiceOptions so = ServiceOptionsOf(o);
    so.key_encryption = KeyEncryptionOf(o, !o.state_pool.empty() && desc.rfind("in RADOS", 0) == 0);
    service_ = std::make_unique<api::GatewayService>(target, store_.get(), std::move(so));
    service_->SetDeviceFactory(devices);
    if (reactors) {
      // gRPC threads read the reactors' probes (relaxed atomic loads).
      service_->SetThreadStatsSource([reactors] {
        std::vector<api::ThreadStats> out;
        for (int i = 0; i < reactors->size(); i++) {
          const ReactorProbe& p = reactors->at(i).probe();
          out.push_back({"reactor_" + std::to_string(i), p.busy_ns(), p.idle_ns()});
        }
        return out;
      });
    }
    // The full state is replayed before serving; then followed until Stop().
    follower_ = std::make_unique<StateFollower>(
        store_.get(), service_.get(), &service_->rpc_mutex(),
        StateFollower::Options{std::chrono::seconds(std::max<uint32_t>(1, o.state_update_interval_sec))});
    service_->SetStateFollower(follower_.get());
    if (Status st = follower_->Start(); !st.ok()) {
      LOG_ERROR("group state: cannot start the store: %s", st.ToString().c_str());
      return st;
    }
    LOG_INFO("group state %s: %zu item(s) replayed", desc.c_str(), service_->LocalState().size());
    if (ceph_ok_) {
      // The Ceph service map (`ceph service dump`, `ceph -s`), with the reference's metadata.
      Status st = store_->RegisterService(
          o.name, {{"id", o.name}, {"daemon_type", "gateway"}, {"group", o.group}, {"pool_name", o.state_pool},
                   {"hostname", o.hostname}, {"version", NVMEOF_VERSION_STRING}});
      if (st.ok()) LOG_INFO("service map: registered as nvmeof.%s (group '%s')", o.name.c_str(), o.group.c_str());
      else LOG_WARN("service map: %s", st.message().c_str());
    }
    if (!o.grpc_enabled) {
      LOG_INFO("grpc disabled");
      return Status::OK();
    }
    ha_service_ = std::make_unique<api::HaService>(ha, o.group, service_.get());
    auto server = StartServer(o, service_.get(), ha_service_.get());
    if (!server.ok()) return server.status();
    server_ = std::move(server.value());
    SetHealth(false);
    return Status::OK();
  }

  bool serving() const override { return server_ != nullptr; }
  std::vector<std::string> ClientAddresses() const override {
    return store_ ? store_->ClientAddresses() : std::vector<std::string>{};
  }

  void SetReady(bool daemon_ready) override {
    // The group state is replayed: Start returned.
    const bool ready = daemon_ready && ceph_ok_;
    if (ready) LOG_INFO("health: SERVING (group state replayed, listeners open)");
    else
      LOG_WARN("health: NOT_SERVING (%s)", !ceph_ok_ ? "the group state pool in Ceph cannot be reached"
                                                     : "a listener or namespace of the command line failed");
    SetHealth(ready);
  }

  void StartLoadBalancing(LoadBalancingHooks h) override {
    if (balancer_ || !service_) return;
    api::LoadBalancing lb;
    lb.groups = std::move(h.groups);
    lb.owned = std::move(h.owned);
    lb.leader = std::move(h.leader);
    lb.max_ns_to_change_lb_grp = h.max_ns_to_change_lb_grp;
    service_->SetLoadBalancing(std::move(lb));
    api::LoadBalancer::Options bo;
    bo.rebalance_period = std::chrono::seconds(h.rebalance_period_sec);
    balancer_ = std::make_unique<api::LoadBalancer>(service_.get(), bo);
    balancer_->Start();
    LOG_INFO("load balancing: on, rebalance every %u s, at most %u namespace(s) moving at once",
             h.rebalance_period_sec, h.max_ns_to_change_lb_grp);
  }

  void Stop() override {
    if (balancer_) balancer_->Stop();
    if (server_ && !stopped_) SetHealth(false);
    if (server_ && !stopped_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    stopped_ = true;
    if (follower_) follower_->Stop();
  }

 private:
  static api::ServiceOptions ServiceOptionsOf(const DaemonOptions& o) {
    api::ServiceOptions so;
    so.gateway_name = o.name;
    so.hostname = o.hostname;
    so.group = o.group;
    so.addr = o.grpc_addr;
    so.port = o.grpc_port;
    so.version = NVMEOF_VERSION_STRING;
    so.verify_nqns = o.verify_nqns;
    so.auto_listener_addresses = o.auto_listener_addresses;
    so.max_subsystems = o.max_subsystems;
    so.default_max_namespaces = o.max_namespaces_per_subsystem;
    so.max_hosts = o.max_hosts;
    so.max_hosts_per_subsystem = o.max_hosts_per_subsystem;
    so.max_hosts_per_namespace = o.max_hosts_per_namespace;
    if (o.ana_group) so.load_balancing_group = o.ana_group;
    so.ana_by_group = o.ha_monitor;
    return so;
  }

  // Keys at rest: the operator's key file read once, here; what is missing said once.
  static api::KeyEncryption KeyEncryptionOf(const DaemonOptions& o, bool at_rest) {
    api::KeyEncryption k;
    k.enabled = o.enable_key_encryption && at_rest;
    k.key_file = o.encryption_key;
    if (!o.encryption_key.empty()) {
      Result<SecretBox> box = SecretBox::FromKeyFile(o.encryption_key);
      if (box.ok()) {
        k.key = std::make_shared<const SecretBox>(std::move(*box));
        if (k.enabled)
          LOG_INFO("group state: DH-HMAC-CHAP keys and PSKs are encrypted with the key in %s", o.encryption_key.c_str());
        else
          LOG_INFO("group state: the key in %s decrypts the keys read; new keys are written in clear (%s)",
                   o.encryption_key.c_str(),
                   at_rest ? "[gateway] enable_key_encryption = false" : "the state is in memory");
      } else {
        k.key_error = box.status().message();
        LOG_ERROR("group state: [gateway] encryption_key = %s: %s; DH-HMAC-CHAP keys and PSKs in the group state "
                  "can be neither encrypted nor decrypted",
                  o.encryption_key.c_str(), k.key_error.c_str());
      }
    } else if (k.enabled) {
      LOG_WARN("group state: [gateway] encryption_key is not set: hosts with DH-HMAC-CHAP keys or PSKs cannot be added, "
               "and those in the group state are not served ([gateway] enable_key_encryption = false keeps keys in "
               "clear)");
    }
    return k;
  }

  void SetHealth(bool serving) {
    if (!server_) return;
    grpc::HealthCheckServiceInterface* h = server_->GetHealthCheckService();
    if (!h) return;
    h->SetServingStatus(serving);  // every service, "" included
    h->SetServingStatus("Gateway", serving);
  }

  bool ceph_ok_ = true;
  // Destroyed in reverse: the server, the follower, the service, the store.
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<api::GatewayService> service_;
  std::unique_ptr<StateFollower> follower_;
  std::unique_ptr<api::HaService> ha_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<api::LoadBalancer> balancer_;
  bool stopped_ = false;
};

}  // namespace

bool ManagementPlane::BuiltIn() { return true; }

Result<std::unique_ptr<ManagementPlane>> ManagementPlane::Start(const DaemonOptions& opts, Target* target,
                                                                DeviceFactory* devices, ReactorGroup* reactors,
                                                                ha::HaManager* ha) {
  auto plane = std::make_unique<GrpcManagementPlane>();
  if (Status st = plane->Start(opts, target, devices, reactors, ha); !st.ok()) return st;
  return std::unique_ptr<ManagementPlane>(std::move(plane));
}

}  // namespace nvmeof
