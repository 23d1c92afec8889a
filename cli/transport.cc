#include "cli/transport.h"

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>

#include "api/gateway.grpc.pb.h"
#include "api/gateway_ha.grpc.pb.h"
#include "api/validate.h"

namespace nvmeof::cli {
namespace {

using google::protobuf::Message;
using Invoker = std::function<grpc::Status(Gateway::Stub*, grpc::ClientContext*, const Message&,
                                           Message*)>;

template <typename Req, typename Rep>
Invoker Bind(grpc::Status (Gateway::Stub::*fn)(grpc::ClientContext*, const Req&, Rep*)) {
  return [fn](Gateway::Stub* stub, grpc::ClientContext* ctx, const Message& req, Message* rep) {
    if (req.GetDescriptor() != Req::descriptor() || rep->GetDescriptor() != Rep::descriptor())
      return grpc::Status(grpc::StatusCode::INTERNAL, "gwcli: wrong message type for RPC");
    return (stub->*fn)(ctx, static_cast<const Req&>(req), static_cast<Rep*>(rep));
  };
}

const std::map<std::string, Invoker, std::less<>>& Invokers() {
  using S = Gateway::Stub;
  static const std::map<std::string, Invoker, std::less<>> table = {
      {"namespace_add", Bind(&S::namespace_add)},
      {"create_subsystem", Bind(&S::create_subsystem)},
      {"delete_subsystem", Bind(&S::delete_subsystem)},
      {"list_namespaces", Bind(&S::list_namespaces)},
      {"namespace_resize", Bind(&S::namespace_resize)},
      {"namespace_get_io_stats", Bind(&S::namespace_get_io_stats)},
      {"namespace_set_qos_limits", Bind(&S::namespace_set_qos_limits)},
      {"namespace_change_load_balancing_group", Bind(&S::namespace_change_load_balancing_group)},
      {"namespace_delete", Bind(&S::namespace_delete)},
      {"namespace_add_host", Bind(&S::namespace_add_host)},
      {"namespace_delete_host", Bind(&S::namespace_delete_host)},
      {"add_host", Bind(&S::add_host)},
      {"remove_host", Bind(&S::remove_host)},
      {"change_host_key", Bind(&S::change_host_key)},
      {"list_hosts", Bind(&S::list_hosts)},
      {"list_connections", Bind(&S::list_connections)},
      {"create_listener", Bind(&S::create_listener)},
      {"delete_listener", Bind(&S::delete_listener)},
      {"list_listeners", Bind(&S::list_listeners)},
      {"list_subsystems", Bind(&S::list_subsystems)},
      {"get_subsystems", Bind(&S::get_subsystems)},
      {"set_ana_state", Bind(&S::set_ana_state)},
      {"get_spdk_nvmf_log_flags_and_level", Bind(&S::get_spdk_nvmf_log_flags_and_level)},
      {"disable_spdk_nvmf_logs", Bind(&S::disable_spdk_nvmf_logs)},
      {"set_spdk_nvmf_logs", Bind(&S::set_spdk_nvmf_logs)},
      {"get_gateway_info", Bind(&S::get_gateway_info)},
      {"get_gateway_log_level", Bind(&S::get_gateway_log_level)},
      {"set_gateway_log_level", Bind(&S::set_gateway_log_level)},
      {"add_kmip_server_endpoints", Bind(&S::add_kmip_server_endpoints)},
      {"add_subsystem_network", Bind(&S::add_subsystem_network)},
      {"change_subsystem_key", Bind(&S::change_subsystem_key)},
      {"del_kmip_server_endpoints", Bind(&S::del_kmip_server_endpoints)},
      {"del_subsystem_network", Bind(&S::del_subsystem_network)},
      {"get_connection_io_statistics", Bind(&S::get_connection_io_statistics)},
      {"get_gateway_stats", Bind(&S::get_gateway_stats)},
      {"get_thread_stats", Bind(&S::get_thread_stats)},
      {"gw_refresh_network", Bind(&S::gw_refresh_network)},
      {"list_kmip_server_endpoints", Bind(&S::list_kmip_server_endpoints)},
      {"list_namespaces_io_stats", Bind(&S::list_namespaces_io_stats)},
      {"namespace_change_location", Bind(&S::namespace_change_location)},
      {"namespace_change_visibility", Bind(&S::namespace_change_visibility)},
      {"namespace_set_auto_resize", Bind(&S::namespace_set_auto_resize)},
      {"namespace_set_rbd_trash_image", Bind(&S::namespace_set_rbd_trash_image)},
      {"namespace_unpin", Bind(&S::namespace_unpin)},
      {"set_gateway_io_stats_mode", Bind(&S::set_gateway_io_stats_mode)},
      {"set_keep_host_connected", Bind(&S::set_keep_host_connected)},
      {"show_gateway_listeners_info", Bind(&S::show_gateway_listeners_info)},
  };
  return table;
}

class GrpcTransport final : public Transport {
 public:
  explicit GrpcTransport(const ConnectOptions& options) {
    std::shared_ptr<grpc::ChannelCredentials> creds;
    if (!options.client_key.empty() && !options.client_cert.empty()) {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = options.server_cert;
      ssl.pem_private_key = options.client_key;
      ssl.pem_cert_chain = options.client_cert;
      creds = grpc::SslCredentials(ssl);
    } else {
      creds = grpc::InsecureChannelCredentials();
    }
    grpc::ChannelArguments args;
    // Replies such as get_subsystems grow with the configuration.
    args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    channel_ = grpc::CreateCustomChannel(ServerTarget(options), creds, args);
    stub_ = Gateway::NewStub(channel_);
    ha_stub_ = ::nvmeof::ha::GatewayHa::NewStub(channel_);
  }

  grpc::Status Call(std::string_view method, const Message& request, Message* reply) override {
    if (method == "get_ha_status") {  // /nvmeof.ha.GatewayHa/get_ha_status (api/gateway_ha.proto)
      using Req = ::nvmeof::ha::get_ha_status_req;
      using Rep = ::nvmeof::ha::ha_status;
      if (request.GetDescriptor() != Req::descriptor() || reply->GetDescriptor() != Rep::descriptor())
        return grpc::Status(grpc::StatusCode::INTERNAL, "gwcli: wrong message type for RPC");
      grpc::ClientContext ctx;
      return ha_stub_->get_ha_status(&ctx, static_cast<const Req&>(request), static_cast<Rep*>(reply));
    }
    if (method == "remove_member") {  // /nvmeof.ha.GatewayHa/remove_member
      using Req = ::nvmeof::ha::remove_member_req;
      using Rep = ::nvmeof::ha::ha_req_status;
      if (request.GetDescriptor() != Req::descriptor() || reply->GetDescriptor() != Rep::descriptor())
        return grpc::Status(grpc::StatusCode::INTERNAL, "gwcli: wrong message type for RPC");
      grpc::ClientContext ctx;
      return ha_stub_->remove_member(&ctx, static_cast<const Req&>(request), static_cast<Rep*>(reply));
    }
    const auto& table = Invokers();
    const auto it = table.find(method);
    if (it == table.end())
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          "gwcli: unknown RPC " + std::string(method));
    grpc::ClientContext ctx;
    return it->second(stub_.get(), &ctx, request, reply);
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Gateway::Stub> stub_;
  std::unique_ptr<::nvmeof::ha::GatewayHa::Stub> ha_stub_;
};

}  // namespace

bool GatewayRpcKnown(std::string_view method) { return Invokers().count(method) > 0; }

std::string ServerTarget(const ConnectOptions& options) {
  return api::EscapeAddressIfIpv6(options.address) + ":" + std::to_string(options.port);
}

std::unique_ptr<Transport> MakeGrpcTransport(const ConnectOptions& options) {
  return std::make_unique<GrpcTransport>(options);
}

}  // namespace nvmeof::cli
