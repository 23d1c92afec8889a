// HaService: the gRPC service nvmeof.ha.GatewayHa (api/gateway_ha.proto), this gateway's
// view of the gateway-group HA (gateway/ha, docs/ha.md) for operators (`gwcli gw ha`), and
// the removal of a dead member's record (`gwcli gw ha_remove_member`, HaManager::RemoveMember),
// which also withdraws that gateway's auto-listeners from the group state
// (GatewayService::WithdrawGatewayAutoListeners, when the service is given one).
// Otherwise it only reads the HaManager (Groups(), Members()); it is served by the same
// server as the reference API's `Gateway` service, whose RPC set it leaves unchanged.
//
// Threads: gRPC threads; the HaManager's accessors take its lock briefly; a removal waits
// for the HA worker (one RADOS round trip or a few). Errors: status ENODEV when HA is not
// enabled on this gateway (no manager); remove_member: EBUSY (alive), ENOENT (no member),
// EINVAL (no name), otherwise the errno of api::ToErrno.
#pragma once

#include <string>

#include "api/gateway_ha.grpc.pb.h"

namespace nvmeof::ha {
class HaManager;
}

namespace nvmeof::api {

class GatewayService;

// The reply for `ha` (null: ENODEV) of gateway group `group`.
void FillHaStatus(const ha::HaManager* ha, const std::string& group, ::nvmeof::ha::ha_status* rep);

class HaService final : public ::nvmeof::ha::GatewayHa::Service {
 public:
  // `ha` and `gateway` (each may be null) outlive the service.
  HaService(ha::HaManager* ha, std::string group, GatewayService* gateway = nullptr)
      : ha_(ha), group_(std::move(group)), gateway_(gateway) {}
  ::grpc::Status get_ha_status(::grpc::ServerContext*, const ::nvmeof::ha::get_ha_status_req*,
                               ::nvmeof::ha::ha_status* rep) override;
  ::grpc::Status remove_member(::grpc::ServerContext*, const ::nvmeof::ha::remove_member_req* req,
                               ::nvmeof::ha::ha_req_status* rep) override;

 private:
  ha::HaManager* ha_;
  const std::string group_;
  GatewayService* gateway_;
};

}  // namespace nvmeof::api
