// MetricsExporter: serves a Collectable's metrics in the Prometheus text format (GET or
// HEAD /metrics) over HTTP, or over HTTPS with a certificate and key (OpenSSL). One small
// HTTP/1.1 server answers both; the text is prometheus-cpp's TextSerializer over what the
// collectable returns. Each response closes its connection (Connection: close).
//
// Limits, so that no client holds scrapes up: a request (TLS handshake and headers) must
// arrive within 10 s of the connection and fit in 8 KiB (else 431), a response must be
// taken within 60 s; at most 64 connections are open, and a 65th replaces the one that
// has waited longest for its request. On the HTTPS port, a request that is not TLS is
// answered 400 in plain text ("this port serves HTTPS").
//
// Threads: Start and the destructor run on the caller's thread (the daemon's main
// thread); the server runs on one thread of its own ("metrics-http": non-blocking sockets,
// poll), which calls the collectable for each scrape. It never raises SIGPIPE.
// Errors of Start: the address cannot be bound (kAddressInUse, or kSystem with the errno;
// the address in the message); with TLS, a certificate or key that cannot be read or
// used, or that do not match (kInvalidArgument, naming the file). Nothing is logged here
// but a client's failure, at debug level.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "gateway/common/status.h"

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace nvmeof {

// HTTPS: the server's certificate (PEM; the chain may follow it) and its private key (PEM).
struct ExporterTls {
  std::string cert_file;
  std::string key_file;
};

class MetricsExporter {
 public:
  // Listens on addr:port (port 0: any free port, see port()); HTTPS when `tls` is given.
  // The collectable is shared with the exporter and must not call back into it.
  static Result<std::unique_ptr<MetricsExporter>> Start(const std::string& addr, uint16_t port,
                                                        std::shared_ptr<prometheus::Collectable> collectable,
                                                        const std::optional<ExporterTls>& tls = std::nullopt);
  // Stops the server thread and closes every connection.
  ~MetricsExporter();

  // The port it listens on.
  uint16_t port() const { return port_; }
  // "ADDR:PORT" ("[ADDR]:PORT" for IPv6), for the log.
  const std::string& address() const { return address_; }
  bool tls() const { return tls_; }

 private:
  struct Server;
  MetricsExporter() = default;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  std::string address_;
  bool tls_ = false;
};

}  // namespace nvmeof
