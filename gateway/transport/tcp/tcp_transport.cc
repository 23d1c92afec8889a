// The NVMe/TCP transport's registration: see tcp_transport.h.
#include "gateway/transport/tcp/tcp_transport.h"

#include <memory>

#include "gateway/protocol/nvme.h"
#include "gateway/transport/tcp/tcp_queue.h"

namespace nvmeof {

namespace {

class TcpPort final : public Listener {
 public:
  explicit TcpPort(std::unique_ptr<TcpListener> l) : listener_(std::move(l)) {}

 private:
  std::unique_ptr<TcpListener> listener_;
};

class TcpTransport final : public Transport {
 public:
  TcpTransport(Target* target, ReactorGroup& reactors) : target_(target), reactors_(reactors) {}
  std::string_view name() const override { return kTcpTransportName; }
  uint8_t trtype() const override { return nvme::kTrtypeTcp; }
  Result<std::unique_ptr<Listener>> Listen(const ListenerSpec& l, uint16_t portid) override {
    auto lis = TcpListener::Open(target_, reactors_, l.traddr, l.trsvcid, l.adrfam, portid, l.secure);
    if (!lis.ok()) return lis.status();
    return std::unique_ptr<Listener>(std::make_unique<TcpPort>(std::move(lis.value())));
  }

 private:
  Target* target_;
  ReactorGroup& reactors_;
};

}  // namespace

Status RegisterTcpTransport(TransportRegistry& registry, Target* target, ReactorGroup& reactors) {
  return registry.Register(std::make_unique<TcpTransport>(target, reactors));
}

}  // namespace nvmeof
