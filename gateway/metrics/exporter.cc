// The metrics HTTP endpoint: see exporter.h.
#include "gateway/metrics/exporter.h"

#include <cerrno>
#include <exception>

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

namespace nvmeof {

Result<std::unique_ptr<MetricsExporter>> MetricsExporter::Start(const std::string& addr, uint16_t port,
                                                                 std::shared_ptr<prometheus::Collectable> collectable) {
  const std::string host = addr.find(':') != std::string::npos ? "[" + addr + "]" : addr;
  const std::string bind = host + ":" + std::to_string(port);
  std::unique_ptr<MetricsExporter> e(new MetricsExporter());
  try {
    // civetweb refuses a port in use by throwing from the constructor.
    e->exposer_ = std::make_unique<prometheus::Exposer>(bind, 2);
  } catch (const std::exception& ex) {
    return Status::Error(errc::kAddressInUse, "prometheus exporter: cannot listen on " + bind + ": " + ex.what());
  }
  const auto ports = e->exposer_->GetListeningPorts();
  if (ports.empty()) return Status::Error(errc::kAddressInUse, "prometheus exporter: cannot listen on " + bind);
  e->port_ = static_cast<uint16_t>(ports.front());
  e->address_ = host + ":" + std::to_string(e->port_);
  e->collectable_ = std::move(collectable);
  e->exposer_->RegisterCollectable(e->collectable_);
  return e;
}

MetricsExporter::~MetricsExporter() {
  // The server's threads stop before the collector goes.
  exposer_.reset();
}

}  // namespace nvmeof
