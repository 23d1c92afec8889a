// Transports: how hosts reach the target (NVMe/TCP today). A transport registers itself in
// a TransportRegistry under its NVMe transport type (TRTYPE); the Target opens and closes
// listener ports only through the registry, so the core names no transport.
//
//   Transport          one per type: its name as the reference gateway spells it in JSON
//                      and state keys ("TCP"), its TRTYPE, and Listen()
//   Listener           an open port: accepts connections while it exists, and hands each
//                      one to the Target as a QueuePair (request.h) whose PortInfo carries
//                      the port id and transport type
//   TransportRegistry  the transports by type, and the listeners the Target opened
//
// Threads: the registry is called from control-plane threads (the Target calls Listen and
// StopListening with its own mutex held); it serialises itself. Listen may block until the
// port is registered with a reactor. Errors: EINVAL for a transport type that is not
// registered (or an address the transport cannot parse), EADDRINUSE and other errnos from
// the transport.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/nvmf/errc.h"
#include "gateway/nvmf/target.h"

namespace nvmeof {

class Listener {
 public:
  virtual ~Listener() = default;  // stops accepting; connections already made stay
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::string_view name() const = 0;  // "TCP"
  virtual uint8_t trtype() const = 0;         // nvme::kTrtypeTcp
  // Opens a port for `l` (l.trtype is this transport's); connections carry `portid`.
  virtual Result<std::unique_ptr<Listener>> Listen(const ListenerSpec& l, uint16_t portid) = 0;
};

class TransportRegistry {
 public:
  TransportRegistry() = default;
  ~TransportRegistry();
  TransportRegistry(const TransportRegistry&) = delete;
  TransportRegistry& operator=(const TransportRegistry&) = delete;

  // EEXIST when a transport of that type is registered already.
  Status Register(std::unique_ptr<Transport> t);
  Transport* Find(uint8_t trtype);
  std::vector<Transport*> Transports();

  // The Target's port operations: opens `l` on its transport (EINVAL when that type is
  // not registered) and logs "listening on ADDR:PORT (NVMe/TCP, port id N)"; closes it
  // and logs "stopped listening on ADDR:PORT".
  Status Listen(const ListenerSpec& l, uint16_t portid);
  void StopListening(const ListenerSpec& l);
  // Closes every listener without logging (shutdown).
  void CloseAll();

 private:
  std::mutex mu_;
  std::map<uint8_t, std::unique_ptr<Transport>> transports_;
  std::map<ListenerSpec, std::unique_ptr<Listener>> listeners_;
};

}  // namespace nvmeof
