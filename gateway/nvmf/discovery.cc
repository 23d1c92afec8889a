// The discovery service: the discovery log page (Get Log Page 70h) and the notice that it
// changed (Target::DiscoveryChanged). The page lists every listener of the subsystems the
// host may use: this gateway's and the group's other gateways' (Target::AddPeerListener).
#include <cstring>

#include "gateway/runtime/reactor.h"
#include "gateway/nvmf/controller.h"
#include "gateway/nvmf/target.h"

namespace nvmeof {

using namespace nvme;

std::vector<uint8_t> Target::DiscoveryLogPage(const std::string& hostnqn, const PortInfo& port) {
  // The generation counter is read before the entries: a change that lands while they are
  // collected then shows as a newer counter on the host's next read, never as a new
  // counter on old entries.
  const uint64_t genctr = discovery_genctr();
  std::vector<DiscoveryLogEntry> entries;
  // A wildcard listener is reachable at the address this host used; "0.0.0.0" is no
  // address to connect to.
  const std::string& here = port.local_traddr;
  auto fill = [&](const std::string& nqn, uint8_t trtype, const std::string& traddr, const std::string& trsvcid,
                  uint8_t adrfam, uint16_t portid, uint8_t subtype, bool secure, bool local = true) {
    const bool via_here = local && IsWildcardAddress(traddr) && !here.empty();
    DiscoveryLogEntry e{};
    e.trtype = trtype;
    e.adrfam = via_here ? static_cast<uint8_t>(here.find(':') != std::string::npos ? kAdrfamIpv6 : kAdrfamIpv4) : adrfam;
    e.subtype = subtype;
    // A secure listener takes TLS connections only: the secure channel is required.
    e.treq = (secure ? kTreqRequired : kTreqNotRequired) | kTreqSqFlowControlDisableSupported;
    if (trtype == kTrtypeTcp) e.tsas[0] = secure ? kTcpSectypeTls13 : kTcpSectypeNone;
    e.portid = portid;
    e.cntlid = 0xFFFF;
    e.asqsz = static_cast<uint16_t>(options().max_queue_depth);
    CopyZeroPadded(e.trsvcid, sizeof(e.trsvcid), trsvcid.c_str());
    CopyZeroPadded(e.subnqn, sizeof(e.subnqn), nqn.c_str());
    CopyZeroPadded(e.traddr, sizeof(e.traddr), (via_here ? here : traddr).c_str());
    entries.push_back(e);
  };
  auto ports = Ports();
  auto portid_of = [&](const ListenerSpec& l) -> uint16_t {
    for (auto& [pl, id] : ports)
      if (pl.trtype == l.trtype && pl.traddr == l.traddr && pl.trsvcid == l.trsvcid) return id;
    return 0;
  };
  // The discovery subsystem itself, as reached now.
  fill(kDiscoveryNqn, port.trtype, port.traddr, port.trsvcid, port.adrfam, port.portid,
       kSubtypeCurrentDiscovery, port.secure);
  for (auto& s : Subsystems()) {
    if (!s->HostAllowed(hostnqn)) continue;
    for (auto& l : s->Listeners()) fill(s->nqn(), l.trtype, l.traddr, l.trsvcid, l.adrfam == kAdrfamIpv6 ? kAdrfamIpv6 : kAdrfamIpv4,
                            portid_of(l), kSubtypeNvm, l.secure);
    // The other gateways' paths to the subsystem: a host connects to all of them through
    // any gateway. A wildcard listener of another gateway names no address a host can use.
    for (auto& [l, portid] : PeerListeners(s->nqn())) {
      if (IsWildcardAddress(l.traddr)) continue;
      fill(s->nqn(), l.trtype, l.traddr, l.trsvcid, l.adrfam == kAdrfamIpv6 ? kAdrfamIpv6 : kAdrfamIpv4, portid,
           kSubtypeNvm, l.secure, false);
    }
  }
  std::vector<uint8_t> out(sizeof(DiscoveryLogHeader) + entries.size() * sizeof(DiscoveryLogEntry));
  DiscoveryLogHeader h{};
  h.genctr = genctr;
  h.numrec = entries.size();
  h.recfmt = 0;
  memcpy(out.data(), &h, sizeof(h));
  if (!entries.empty())
    memcpy(out.data() + sizeof(h), entries.data(), entries.size() * sizeof(DiscoveryLogEntry));
  return out;
}

void Target::DiscoveryChanged() {
  genctr_.fetch_add(1);
  for (auto& c : discovery_->Controllers()) {
    std::weak_ptr<Controller> w = c;
    c->admin_reactor()->Run([w] {
        if (auto c2 = w.lock())
          c2->RaiseEvent(nvme::kAerNotice, nvme::kAenDiscoveryLogChange, nvme::kLogDiscovery);
      });
  }
}

}  // namespace nvmeof
