// The MonitorGroup server of [gateway] ha = monitor: see monitor_group.h.
#include "gateway/daemon/monitor_group.h"

#include <grpcpp/grpcpp.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <mutex>

#include "api/monitor.grpc.pb.h"
#include "gateway/common/log.h"
#include "gateway/daemon/grpc_credentials.h"

namespace nvmeof {

namespace {

class MonitorGroupService final : public ::MonitorGroup::Service {
 public:
  ::grpc::Status group_id(::grpc::ServerContext* ctx, const ::group_id_req* req, ::google::protobuf::Empty*) override {
    const uint32_t id = req->id();
    const std::string peer = ctx ? ctx->peer() : "";
    MonitorAssignment a;
    a.index = id;
    a.ana_group = id + 1;
    if (!MonitorCntlidRange(id, &a.min_cntlid, &a.max_cntlid)) {
      LOG_ERROR("monitor: group id %u from %s refused: its controller IDs would pass 65519", id, peer.c_str());
      return ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT,
                            "group id " + std::to_string(id) + " out of range: controller IDs would pass 65519");
    }
    std::lock_guard<std::mutex> lk(mu_);
    if (assigned_) {
      if (assigned_->index == id) {
        LOG_INFO("monitor: group id %u again from %s (ANA group %u)", id, peer.c_str(), a.ana_group);
        return ::grpc::Status::OK;
      }
      LOG_ERROR("monitor: group id %u from %s refused: this gateway serves ANA group %u with controller IDs %u-%u; "
                "restart it to take group id %u",
                id, peer.c_str(), assigned_->ana_group, assigned_->min_cntlid, assigned_->max_cntlid, id);
      return ::grpc::Status(::grpc::StatusCode::FAILED_PRECONDITION,
                            "this gateway already serves group id " + std::to_string(assigned_->index) +
                                "; restart it to take group id " + std::to_string(id));
    }
    assigned_ = a;
    LOG_INFO("monitor: group id %u from %s: ANA group %u, controller IDs %u-%u", id, peer.c_str(), a.ana_group,
             a.min_cntlid, a.max_cntlid);
    return ::grpc::Status::OK;
  }

  std::optional<MonitorAssignment> Wait(const sigset_t& sigs, int* sig) {
    for (;;) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (assigned_) return assigned_;
      }
      // Signals are blocked in every thread: take one if it comes, else look again.
      timespec ts{0, 100'000'000};
      int s = sigtimedwait(&sigs, nullptr, &ts);
      if (s > 0) {
        *sig = s;
        return std::nullopt;
      }
    }
  }

 private:
  std::mutex mu_;
  std::optional<MonitorAssignment> assigned_;
};

class GrpcMonitorGroupServer final : public MonitorGroupServer {
 public:
  ~GrpcMonitorGroupServer() override { Stop(); }

  Status Start(const DaemonOptions& o) {
    auto creds = GrpcServerCredentials(o);
    if (!creds.ok()) return creds.status();
    const std::string addr = MonitorAddress(o);
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddListeningPort(addr, creds.value(), &bound);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    if (!server_ || bound == 0) {
      LOG_ERROR("monitor: cannot listen on %s for the monitor client (address in use, or not an address of this host)",
                addr.c_str());
      server_.reset();
      return Status::Error(errc::kAddressInUse, "monitor: cannot listen on " + addr);
    }
    LOG_INFO("monitor: MonitorGroup listening on %s%s; waiting for the Ceph monitor client's group id", addr.c_str(),
             o.enable_auth ? " (mTLS)" : "");
    return Status::OK();
  }

  std::optional<MonitorAssignment> Wait(const sigset_t& sigs, int* sig) override { return service_.Wait(sigs, sig); }

  void Stop() override {
    if (!server_) return;
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_.reset();
  }

 private:
  MonitorGroupService service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace

bool MonitorGroupServer::BuiltIn() { return true; }

Result<std::unique_ptr<MonitorGroupServer>> MonitorGroupServer::Start(const DaemonOptions& o) {
  auto s = std::make_unique<GrpcMonitorGroupServer>();
  if (Status st = s->Start(o); !st.ok()) return st;
  return std::unique_ptr<MonitorGroupServer>(std::move(s));
}

}  // namespace nvmeof
