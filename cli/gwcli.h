// gwcli: native command line client of the gateway management API, a drop-in
// for the reference `nvmeof-cli` (ceph-nvmeof 1.3): same command tree, options,
// messages, output formats and exit codes. See docs/cli.md.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/transport.h"

namespace nvmeof::cli {

using TransportFactory = std::function<std::unique_ptr<Transport>(const ConnectOptions&)>;
using GetEnv = std::function<std::optional<std::string>(const std::string&)>;

// Version string of this client ("version", get_gateway_info cli_version).
// NVMEOF_VERSION in the environment overrides it, like the reference.
std::string BuildVersion();

// Runs one gwcli invocation. `args` excludes the program name. Returns the
// process exit code: 0 on success, the gateway's errno on a failed RPC, 2 on
// a usage error (and help printed), 255 when no command is given.
// `out`/`err` stand for stdout/stderr; `factory` creates the transport (gRPC
// in the binary, a fake in tests); `getenv` reads the environment.
int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const TransportFactory& factory, const GetEnv& getenv);

}  // namespace nvmeof::cli
