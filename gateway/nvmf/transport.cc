// The transport registry: see transport.h.
#include "gateway/nvmf/transport.h"

#include <string>

#include "gateway/common/log.h"

namespace nvmeof {

TransportRegistry::~TransportRegistry() { CloseAll(); }

Status TransportRegistry::Register(std::unique_ptr<Transport> t) {
  std::lock_guard<std::mutex> lk(mu_);
  const uint8_t type = t->trtype();
  if (transports_.count(type))
    return Status::Error(nvmf::errc::kTransportExists, "transport " + std::string(t->name()) + " is registered already");
  transports_[type] = std::move(t);
  return Status::OK();
}

Transport* TransportRegistry::Find(uint8_t trtype) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = transports_.find(trtype);
  return it == transports_.end() ? nullptr : it->second.get();
}

std::vector<Transport*> TransportRegistry::Transports() {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<Transport*> v;
  for (auto& [type, t] : transports_) v.push_back(t.get());
  return v;
}

Status TransportRegistry::Listen(const ListenerSpec& l, uint16_t portid) {
  Transport* t = Find(l.trtype);
  if (!t) return Status::Error(nvmf::errc::kNoTransport, "no transport of type " + std::to_string(l.trtype) + " in this gateway");
  auto lis = t->Listen(l, portid);
  if (!lis.ok()) return lis.status();
  const std::string key = l.traddr + ":" + l.trsvcid;
  {
    std::lock_guard<std::mutex> lk(mu_);
    listeners_[l] = std::move(lis.value());
  }
  LOG_INFO("listening on %s (NVMe/%.*s%s, port id %u)", key.c_str(), static_cast<int>(t->name().size()),
           t->name().data(), l.secure ? " with TLS" : "", portid);
  return Status::OK();
}

void TransportRegistry::StopListening(const ListenerSpec& l) {
  std::unique_ptr<Listener> gone;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = listeners_.find(l);
    if (it == listeners_.end()) return;
    gone = std::move(it->second);
    listeners_.erase(it);
  }
  gone.reset();
  LOG_INFO("stopped listening on %s:%s", l.traddr.c_str(), l.trsvcid.c_str());
}

void TransportRegistry::CloseAll() {
  std::map<ListenerSpec, std::unique_ptr<Listener>> gone;
  {
    std::lock_guard<std::mutex> lk(mu_);
    gone.swap(listeners_);
  }
}

}  // namespace nvmeof
