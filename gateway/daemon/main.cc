// nvmeof-gateway: the daemon. Reads the configuration (file + command line, options.h) and
// runs the Daemon (daemon.h) until SIGTERM/SIGINT. Exit codes: 0 after a signal, 1 when
// the gateway cannot start, 2 for a bad command line or configuration file.
#include <cstdio>
#include <string>
#include <vector>

#include "gateway/common/log.h"
#include "gateway/daemon/config.h"
#include "gateway/daemon/daemon.h"
#include "gateway/daemon/options.h"

using namespace nvmeof;

namespace {

int Usage(const std::string& msg) {
  fprintf(stderr, "nvmeof-gateway: %s\n(see --help)\n", msg.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  auto flags = ParseCommandLine(std::vector<std::string>(argv + 1, argv + argc));
  if (!flags.ok()) return Usage(flags.status().message());
  if (flags->help) {
    fputs(UsageText(), stdout);
    return 0;
  }
  if (Status st = CheckBuildSupports(*flags); !st.ok()) return Usage(st.message());
  DaemonOptions file;
  if (flags->config) {
    std::vector<std::string> warnings;
    auto loaded = LoadGatewayConfig(*flags->config, &warnings);
    if (!loaded.ok()) {
      fprintf(stderr, "nvmeof-gateway: %s\n", loaded.status().message().c_str());
      return 2;
    }
    file = std::move(loaded.value());
    SetLogLevel(file.log_level);
    LOG_INFO("using configuration file %s", flags->config->c_str());
    for (auto& w : warnings) LOG_WARN("%s", w.c_str());
  }
  auto opts = ResolveOptions(flags->config ? &file : nullptr, *flags);
  if (!opts.ok()) return Usage(opts.status().message());
  auto daemon = Daemon::Start(*opts);
  if (!daemon.ok()) return 1;
  daemon.value()->Run();
  return daemon.value()->exit_status();
}
