// HaService: the gRPC service nvmeof.ha.GatewayHa (api/gateway_ha.proto), this gateway's
// view of the gateway-group HA (gateway/ha, docs/ha.md) for operators (`gwcli gw ha`). It
// only reads the HaManager (Groups(), Members()); it is served by the same server as the
// reference API's `Gateway` service, whose RPC set it leaves unchanged.
//
// Threads: gRPC threads; the HaManager's accessors take its lock briefly. Errors: status
// ENODEV when HA is not enabled on this gateway (no manager).
#pragma once

#include <string>

#include "api/gateway_ha.grpc.pb.h"

namespace nvmeof::ha {
class HaManager;
}

namespace nvmeof::api {

// The reply for `ha` (null: ENODEV) of gateway group `group`.
void FillHaStatus(const ha::HaManager* ha, const std::string& group, ::nvmeof::ha::ha_status* rep);

class HaService final : public ::nvmeof::ha::GatewayHa::Service {
 public:
  // `ha` (may be null) outlives the service.
  HaService(const ha::HaManager* ha, std::string group) : ha_(ha), group_(std::move(group)) {}
  ::grpc::Status get_ha_status(::grpc::ServerContext*, const ::nvmeof::ha::get_ha_status_req*,
                               ::nvmeof::ha::ha_status* rep) override;

 private:
  const ha::HaManager* ha_;
  const std::string group_;
};

}  // namespace nvmeof::api
