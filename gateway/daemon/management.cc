// The management plane: the gRPC API and the group state. See management.h.
#include "gateway/daemon/management.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "api/service.h"
#include "gateway/common/log.h"
#include "gateway/state/state_applier.h"
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
// in memory), the applier that replays it onto the service, and the reconciler thread that
// retries what could not be applied yet.

// The store, not started yet. *desc says where the state is kept (for the log).
std::unique_ptr<StateStore> OpenStateStore(const DaemonOptions& o, std::string* desc) {
  *desc = "in memory (this gateway only)";
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
        return std::move(opened.value());
      }
      LOG_WARN("group state: cannot use RADOS (pool %s, %s): %s; keeping the state in memory", o.state_pool.c_str(),
               o.ceph_conf.c_str(), opened.status().message().c_str());
    }
  }
  return NewMemoryStateStore();
}

// Replays the store onto the service: Start() subscribes, starts the store and waits until
// the full state is applied; then the reconciler retries what failed every
// state_update_interval_sec. Stop() joins the reconciler and stops the store.
class StateReplay {
 public:
  StateReplay(StateStore* store, api::GatewayService* service) : store_(store), service_(service), applier_(service) {}
  ~StateReplay() { Stop(); }

  Status Start(const DaemonOptions& o, const std::string& desc) {
    api::StateHooks hooks;
    hooks.update = [this](const StateMap& m, uint64_t v) {
      ApplyReport r = applier_.Update(m, v);
      for (auto& [key, st] : r.failed) LOG_WARN("group state: %s not applied: %s", key.c_str(), st.ToString().c_str());
      if (r.applied)
        LOG_INFO("group state version %llu: %zu change(s) applied", static_cast<unsigned long long>(v), r.applied);
    };
    hooks.reconcile = [this] {
      if (!applier_.pending()) return;
      ApplyReport r = applier_.Reconcile();
      for (auto& [key, st] : r.failed)
        LOG_DEBUG("group state: %s still pending: %s", key.c_str(), st.ToString().c_str());
    };
    hooks.record_local = [this](const StateMap& puts, const std::vector<std::string>& removes, uint64_t v) {
      if (v) applier_.RecordLocal(puts, removes, v);
      else applier_.RecordLocal(puts, removes);
    };
    service_->SetStateHooks(hooks);
    store_->Subscribe([this](const StateMap& m, uint64_t v) { service_->OnStateChanged(m, v); });
    if (Status st = store_->Start(); !st.ok()) {
      LOG_ERROR("group state: cannot start the store: %s", st.ToString().c_str());
      return st;
    }
    started_ = true;
    service_->WaitIdle();  // the full state, replayed before serving
    LOG_INFO("group state %s: %zu item(s) replayed", desc.c_str(), service_->LocalState().size());
    const uint32_t interval = std::max<uint32_t>(1, o.state_update_interval_sec);
    reconciler_ = std::thread([this, interval] {
      std::unique_lock<std::mutex> lk(mu_);
      while (!stop_) {
        cv_.wait_for(lk, std::chrono::seconds(interval));
        if (stop_) break;
        lk.unlock();
        service_->Reconcile();
        lk.lock();
      }
    });
    return Status::OK();
  }

  void Stop() {
    if (reconciler_.joinable()) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
      }
      cv_.notify_all();
      reconciler_.join();
    }
    if (started_) {
      store_->Stop();
      started_ = false;
    }
  }

 private:
  StateStore* store_;
  api::GatewayService* service_;
  StateApplier applier_;
  bool started_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread reconciler_;
};

// ------------------------------------------------------------------ gRPC server
Result<std::unique_ptr<grpc::Server>> StartServer(const DaemonOptions& o, api::GatewayService* service) {
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (o.enable_auth) {
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
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  grpc::ServerBuilder builder;
  int bound_port = 0;
  const std::string bind =
      (o.grpc_addr.find(':') != std::string::npos ? "[" + o.grpc_addr + "]" : o.grpc_addr) + ":" + o.grpc_port;
  // No SO_REUSEPORT: a second gateway on the same port must fail, not share the calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(bind, creds, &bound_port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    LOG_ERROR("grpc: cannot listen on %s (address in use, or not an address of this host)", bind.c_str());
    return Status::Error(EADDRINUSE, "grpc: cannot listen on " + bind);
  }
  LOG_INFO("grpc listening on %s:%d%s", o.grpc_addr.c_str(), bound_port, o.enable_auth ? " (mTLS)" : "");
  return server;
}

class GrpcManagementPlane final : public ManagementPlane {
 public:
  ~GrpcManagementPlane() override { Stop(); }

  Status Start(const DaemonOptions& o, Target* target, DeviceFactory* devices) {
    std::string desc;
    store_ = OpenStateStore(o, &desc);
    service_ = std::make_unique<api::GatewayService>(target, store_.get(), ServiceOptionsOf(o));
    service_->SetDeviceFactory(devices);
    replay_ = std::make_unique<StateReplay>(store_.get(), service_.get());
    if (Status st = replay_->Start(o, desc); !st.ok()) return st;
    if (!o.grpc_enabled) {
      LOG_INFO("grpc disabled");
      return Status::OK();
    }
    auto server = StartServer(o, service_.get());
    if (!server.ok()) return server.status();
    server_ = std::move(server.value());
    return Status::OK();
  }

  bool serving() const override { return server_ != nullptr; }

  void Stop() override {
    if (server_ && !stopped_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    stopped_ = true;
    if (replay_) replay_->Stop();
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
    return so;
  }

  // Destroyed in reverse: the server, the replay (applier), the service, the store.
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<api::GatewayService> service_;
  std::unique_ptr<StateReplay> replay_;
  std::unique_ptr<grpc::Server> server_;
  bool stopped_ = false;
};

}  // namespace

bool ManagementPlane::BuiltIn() { return true; }

Result<std::unique_ptr<ManagementPlane>> ManagementPlane::Start(const DaemonOptions& opts, Target* target,
                                                                DeviceFactory* devices) {
  auto plane = std::make_unique<GrpcManagementPlane>();
  if (Status st = plane->Start(opts, target, devices); !st.ok()) return st;
  return std::unique_ptr<ManagementPlane>(std::move(plane));
}

}  // namespace nvmeof
