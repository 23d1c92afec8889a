// How gwcli reaches a gateway: one unary call by RPC name. The real transport
// is gRPC; unit tests substitute a fake that answers canned replies.
#pragma once

#include <grpcpp/support/status.h>

#include <memory>
#include <string>
#include <string_view>

namespace google::protobuf {
class Message;
}

namespace nvmeof::cli {

class Transport {
 public:
  virtual ~Transport() = default;
  // Calls /Gateway/<method> (get_ha_status: /nvmeof.ha.GatewayHa/get_ha_status).
  // `request` and `reply` must be the method's request and reply message types.
  virtual grpc::Status Call(std::string_view method, const google::protobuf::Message& request,
                            google::protobuf::Message* reply) = 0;
};

struct ConnectOptions {
  std::string address = "localhost";  // host name, IPv4 or IPv6 (brackets optional)
  int port = 5500;
  // mTLS: PEM contents (not paths). TLS is used when client_key and
  // client_cert are both set; server_cert is then the trusted root (empty:
  // the system roots).
  std::string client_key;
  std::string client_cert;
  std::string server_cert;
};

// "host:port" with IPv6 addresses in brackets.
std::string ServerTarget(const ConnectOptions& options);

// Whether the gRPC transport can call this RPC of the reference's Gateway service.
bool GatewayRpcKnown(std::string_view method);

// A gRPC transport. Creating it does not connect; the first call does.
std::unique_ptr<Transport> MakeGrpcTransport(const ConnectOptions& options);

}  // namespace nvmeof::cli
