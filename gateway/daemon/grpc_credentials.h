// The server credentials of every gRPC port of the daemon (the API, the monitor client's
// MonitorGroup port): mutual TLS with the [mtls] files when enable_auth, else insecure.
// InvalidArgument (logged) when a file cannot be read. gRPC builds only (management.cc).
#pragma once

#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "gateway/common/status.h"
#include "gateway/daemon/options.h"

namespace nvmeof {

Result<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(const DaemonOptions& o);

}  // namespace nvmeof
