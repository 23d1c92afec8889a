// MetricsExporter: serves a Collectable's metrics over HTTP in the Prometheus text format
// (GET /metrics), with prometheus-cpp's embedded server.
//
// Threads: Start and the destructor run on the caller's thread (the daemon's main
// thread); scrapes run on the exporter's own HTTP threads (two), which call the collector.
// Errors of Start: the address cannot be bound (EADDRINUSE, with the address in the
// message); nothing is logged here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "gateway/common/status.h"

namespace prometheus {
class Collectable;
class Exposer;
}  // namespace prometheus

namespace nvmeof {

class MetricsExporter {
 public:
  // Listens on addr:port (port 0: any free port, see port()). The collectable is shared
  // with the exporter and must not call back into it.
  static Result<std::unique_ptr<MetricsExporter>> Start(const std::string& addr, uint16_t port,
                                                        std::shared_ptr<prometheus::Collectable> collectable);
  ~MetricsExporter();

  // The port it listens on.
  uint16_t port() const { return port_; }
  // "ADDR:PORT" ("[ADDR]:PORT" for IPv6), for the log.
  const std::string& address() const { return address_; }

 private:
  MetricsExporter() = default;
  std::shared_ptr<prometheus::Collectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  uint16_t port_ = 0;
  std::string address_;
};

}  // namespace nvmeof
