// Subsystem network masks and the auto-listeners they open: add_subsystem_network,
// del_subsystem_network, gw_refresh_network, and the reconciliation every path that changes
// a subsystem's masks (create_subsystem, the group state replay) runs. The masks live in the
// subsystem's stored create_subsystem_req (network_mask, port), so every gateway of the group
// gets them with the subsystem; each gateway then opens, on each of its own addresses
// (SetAddressSource, filtered by ServiceOptions::auto_listener_addresses) that lies inside a
// mask, a listener on the subsystem's port. Auto-listeners are this gateway's own: reported
// active and not manual, closed when no mask covers them any more and never by
// delete_listener. Each gateway publishes the ones it has open in the group state
// (auto-listener_<nqn>_<gateway name>_TCP_<traddr>_<trsvcid>, PublishAutoListeners), so
// that every gateway lists the others' in list_listeners and its discovery log page
// (AddAutoListener, as another gateway's manual listener). RPCs run on gRPC threads, the
// group state's replay on the StateFollower's thread; everything holds the RPC lock.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "api/service_internal.h"

namespace nvmeof::api {

using namespace internal;

namespace {

// One textual form per address (inet_ntop's), so that "::0001" and "::1" compare equal.
std::string CanonicalAddress(const std::string& addr) {
  const std::string a = UnescapeAddress(addr);
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, a.c_str(), buf) == 1 && inet_ntop(AF_INET, buf, out, sizeof out)) return out;
  if (inet_pton(AF_INET6, a.c_str(), buf) == 1 && inet_ntop(AF_INET6, buf, out, sizeof out)) return out;
  return "";
}

std::string AddrPort(const ListenerSpec& l) { return EscapeAddressIfIpv6(l.traddr) + ":" + l.trsvcid; }

uint32_t AutoListenerPort(const create_subsystem_req& r) { return r.port() ? r.port() : kDefaultTrsvcid; }

}  // namespace

std::vector<std::string> InterfaceAddresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    LOG_WARN("auto-listeners: cannot list the network interfaces: errno %d", errno);
    return out;
  }
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || !(i->ifa_flags & IFF_UP)) continue;
    char buf[INET6_ADDRSTRLEN];
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      if (inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf)) out.push_back(buf);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr)) continue;
      if (inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf)) out.push_back(buf);
    }
  }
  freeifaddrs(list);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool GatewayService::IsAutoListener(const std::string& nqn, const ListenerSpec& l) const {
  auto it = auto_listeners_.find(nqn);
  return it != auto_listeners_.end() && it->second.count(l) > 0;
}

Status GatewayService::ReconcileAutoListeners(const std::string& nqn) {
  create_subsystem_req r;
  auto it = state_.find(SubsystemKey(nqn));
  const bool stored = it != state_.end() && JsonToRequest(it->second, &r).ok();
  return ReconcileAutoListeners(nqn, stored ? &r : nullptr);
}

Status GatewayService::ReconcileAutoListeners(const std::string& nqn, const create_subsystem_req* req,
                                              std::vector<std::string>* added, std::vector<std::string>* removed) {
  auto s = target_->FindSubsystem(nqn);
  std::set<ListenerSpec> want;
  if (s && req && req->network_mask_size() > 0) {
    std::vector<NetworkMask> masks;
    for (const auto& m : req->network_mask())
      if (auto parsed = ParseNetworkMask(m); parsed.ok()) masks.push_back(*parsed);
    std::set<std::string> allowed;
    for (const auto& a : opts_.auto_listener_addresses) allowed.insert(CanonicalAddress(a));
    for (const std::string& raw : addresses_ ? addresses_() : InterfaceAddresses()) {
      const std::string addr = CanonicalAddress(raw);
      if (addr.empty() || (!allowed.empty() && !allowed.count(addr))) continue;
      const bool v6 = addr.find(':') != std::string::npos;
      if (std::none_of(masks.begin(), masks.end(),
                       [&](const NetworkMask& m) { return m.ipv6 == v6 && NetworkMaskContains(m, addr); }))
        continue;
      ListenerSpec l = MakeListenerSpec(opts_.gateway_name, addr, AutoListenerPort(*req), v6 ? ::ipv6 : ::ipv4);
      l.secure = req->secure_listeners();  // TLS only, as `listener add --secure`
      want.insert(l);
    }
  }
  std::set<ListenerSpec>& mine = auto_listeners_[nqn];
  for (auto l = mine.begin(); l != mine.end();) {
    if (want.count(*l)) {
      ++l;
      continue;
    }
    if (s) {
      if (Status st = target_->RemoveListener(nqn, *l); !st.ok() && !st.IsNotFound())
        LOG_WARN("Failure deleting auto-listener at %s for %s: %s", AddrPort(*l).c_str(), nqn.c_str(),
                 st.ToString().c_str());
    }
    LOG_INFO("Automatically deleted listener at %s for %s", AddrPort(*l).c_str(), nqn.c_str());
    if (removed) removed->push_back(AddrPort(*l));
    l = mine.erase(l);
    auto_published_ = false;
  }
  Status result;
  for (const ListenerSpec& l : want) {
    if (mine.count(l) || s->HasListener(l)) continue;  // opened already, or a manual listener
    if (Status st = target_->AddListener(nqn, l); !st.ok()) {
      LOG_ERROR("Failure creating auto-listener at %s for %s: %s", AddrPort(l).c_str(), nqn.c_str(),
                st.ToString().c_str());
      if (result.ok()) result = st;
      continue;
    }
    LOG_INFO("Automatically created listener at %s for %s", AddrPort(l).c_str(), nqn.c_str());
    mine.insert(l);
    auto_published_ = false;
    if (added) added->push_back(AddrPort(l));
  }
  if (mine.empty()) auto_listeners_.erase(nqn);
  return result;
}

void GatewayService::PublishAutoListeners() {
  if (auto_published_) return;
  struct Entry {
    std::string nqn, json;
  };
  std::map<std::string, Entry> want;  // key -> entry
  for (const auto& [nqn, listeners] : auto_listeners_) {
    for (const ListenerSpec& l : listeners) {
      create_listener_req r;
      r.set_nqn(nqn);
      r.set_host_name(opts_.gateway_name);
      r.set_traddr(KeyAddress(l.traddr));
      r.set_trsvcid(static_cast<uint32_t>(std::strtoul(l.trsvcid.c_str(), nullptr, 10)));
      r.set_adrfam(l.adrfam == nvme::kAdrfamIpv6 ? ::ipv6 : ::ipv4);
      r.set_secure(l.secure);
      want[AutoListenerKey(nqn, opts_.gateway_name, r.traddr(), l.trsvcid)] = {nqn, RequestToJson(r)};
    }
  }
  size_t puts_n = 0, removes_n = 0;
  Status st = PersistComputed([&](const StateMap& cur, StateMap* puts, std::vector<std::string>* removes) -> Status {
    for (const auto& [k, e] : want) {
      if (!cur.count(SubsystemKey(e.nqn))) continue;  // being deleted: its keys go with it
      auto it = cur.find(k);
      if (it == cur.end() || it->second != e.json) (*puts)[k] = e.json;
    }
    const std::string p = StateKeyPrefix(StateKeyKind::kAutoListener);
    for (auto it = cur.lower_bound(p); it != cur.end() && StartsWith(it->first, p); ++it) {
      auto key = ParseStateKey(it->first);
      if (key && key->host == opts_.gateway_name && (!want.count(it->first) || !cur.count(SubsystemKey(key->nqn))))
        removes->push_back(it->first);
    }
    puts_n = puts->size();
    removes_n = removes->size();
    return Status::OK();
  });
  if (!st.ok()) {
    LOG_WARN("auto-listeners of gateway %s: cannot write them to the group state: %s", opts_.gateway_name.c_str(),
             st.ToString().c_str());
    return;
  }
  auto_published_ = true;
  if (puts_n || removes_n)
    LOG_INFO("auto-listeners of gateway %s: %zu published, %zu withdrawn in the group state",
             opts_.gateway_name.c_str(), puts_n, removes_n);
}

Result<size_t> GatewayService::WithdrawGatewayAutoListeners(const std::string& gateway_name) {
  if (gateway_name.empty() || gateway_name == opts_.gateway_name)
    return Status::InvalidArgument("not another gateway's name: '" + gateway_name + "'");
  std::lock_guard<std::mutex> lk(mu_);
  StateMap gone;  // key -> the stored create_listener_req
  Status st = PersistComputed([&](const StateMap& cur, StateMap*, std::vector<std::string>* removes) -> Status {
    gone.clear();
    const std::string p = StateKeyPrefix(StateKeyKind::kAutoListener);
    for (auto it = cur.lower_bound(p); it != cur.end() && StartsWith(it->first, p); ++it) {
      auto key = ParseStateKey(it->first);
      if (!key || key->host != gateway_name) continue;
      removes->push_back(it->first);
      gone[it->first] = it->second;
    }
    return Status::OK();
  });
  if (!st.ok()) return st;
  for (const auto& [key, json] : gone) (void)RemoveAutoListener(json);  // the write is recorded as applied here
  if (!gone.empty())
    LOG_INFO("auto-listeners of gateway %s: %zu withdrawn from the group state (gateway removed)",
             gateway_name.c_str(), gone.size());
  return gone.size();
}

::grpc::Status GatewayService::add_subsystem_network(SC* ctx, const add_subsystem_network_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string& mask = req->network_mask();
  LOG_INFO("Received request to add network to subsystem %s, network mask: %s%s", nqn.c_str(), mask.c_str(),
           PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure adding network mask, missing subsystem NQN");
  const std::string prefix = "Failure adding network mask for subsystem " + nqn;
  if (mask.empty()) return Answer(rep, EINVAL, prefix + ": Missing network mask");
  if (!ParseNetworkMask(mask).ok()) return Answer(rep, EADDRNOTAVAIL, prefix + ": Invalid subnet \"" + mask + "\"");
  std::lock_guard<std::mutex> lk(mu_);
  const std::string key = SubsystemKey(nqn);
  create_subsystem_req old;
  auto it = state_.find(key);
  if (it == state_.end() || !JsonToRequest(it->second, &old).ok() || !target_->FindSubsystem(nqn))
    return Answer(rep, ENOENT, prefix + ": Can't find entry for subsystem " + nqn);
  const auto& masks = old.network_mask();
  if (std::find(masks.begin(), masks.end(), mask) != masks.end()) {
    const std::string msg = "Network mask " + mask + " already exists for subsystem " + nqn;
    LOG_WARN("%s", msg.c_str());
    rep->set_status(0);
    rep->set_error_message(msg);
    return ::grpc::Status::OK;
  }
  create_subsystem_req want = old;
  want.add_network_mask(mask);
  if (Status st = ReconcileAutoListeners(nqn, &want); !st.ok()) {
    ReconcileAutoListeners(nqn, &old);
    return Answer(rep, ToErrno(st), "Failed to add network for subsystem " + nqn + ": " + st.message());
  }
  // From the group's current entry: another gateway may have changed the subsystem meanwhile.
  Status st = PersistComputed([&](const StateMap& cur, StateMap* puts, std::vector<std::string>*) -> Status {
    create_subsystem_req r;
    auto c = cur.find(key);
    if (c == cur.end() || !JsonToRequest(c->second, &r).ok())
      return Status::NotFound("Can't find entry for subsystem " + nqn);
    if (std::find(r.network_mask().begin(), r.network_mask().end(), mask) == r.network_mask().end())
      r.add_network_mask(mask);
    (*puts)[key] = RewriteStateJson(c->second, r);  // keeping fields this gateway does not know
    return Status::OK();
  });
  if (!st.ok()) {
    ReconcileAutoListeners(nqn, &old);
    return Answer(rep, st.IsNotFound() ? ENOENT : EINVAL, prefix + ": " + st.message());
  }
  ReconcileAutoListeners(nqn);
  PublishAutoListeners();
  LOG_INFO("Added network %s for subsystem %s", mask.c_str(), nqn.c_str());
  return Ok(rep);
}

::grpc::Status GatewayService::del_subsystem_network(SC* ctx, const del_subsystem_network_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string& mask = req->network_mask();
  LOG_INFO("Received request to delete network from subsystem %s, network mask: %s%s", nqn.c_str(), mask.c_str(),
           PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure deleting network mask, missing subsystem NQN");
  const std::string prefix = "Failure deleting network mask for subsystem " + nqn;
  if (mask.empty()) return Answer(rep, EINVAL, prefix + ": Missing network mask");
  if (!ParseNetworkMask(mask).ok()) return Answer(rep, EADDRNOTAVAIL, prefix + ": Invalid subnet \"" + mask + "\"");
  std::lock_guard<std::mutex> lk(mu_);
  const std::string key = SubsystemKey(nqn);
  create_subsystem_req old;
  auto it = state_.find(key);
  if (it == state_.end() || !JsonToRequest(it->second, &old).ok())
    return Answer(rep, ENOENT, prefix + ": Can't find entry for subsystem " + nqn);
  auto warn = [&](const std::string& msg) {
    LOG_WARN("%s", msg.c_str());
    rep->set_status(0);
    rep->set_error_message(msg);
    return ::grpc::Status::OK;
  };
  if (old.network_mask_size() == 0) return warn("No existing network mask found for subsystem " + nqn);
  const auto& masks = old.network_mask();
  if (std::find(masks.begin(), masks.end(), mask) == masks.end())
    return warn("Network mask " + mask + " not found for subsystem " + nqn);
  Status st = PersistComputed([&](const StateMap& cur, StateMap* puts, std::vector<std::string>*) -> Status {
    create_subsystem_req r;
    auto c = cur.find(key);
    if (c == cur.end() || !JsonToRequest(c->second, &r).ok())
      return Status::NotFound("Can't find entry for subsystem " + nqn);
    auto* m = r.mutable_network_mask();
    m->erase(std::remove(m->begin(), m->end(), mask), m->end());
    (*puts)[key] = RewriteStateJson(c->second, r);  // keeping fields this gateway does not know
    return Status::OK();
  });
  if (!st.ok()) return Answer(rep, st.IsNotFound() ? ENOENT : EINVAL, prefix + ": " + st.message());
  ReconcileAutoListeners(nqn);
  PublishAutoListeners();
  LOG_INFO("Deleted network %s for subsystem %s", mask.c_str(), nqn.c_str());
  if (auto a = auto_listeners_.find(nqn); a != auto_listeners_.end())
    LOG_INFO("Keeping %zu auto-listener(s) for %s", a->second.size(), nqn.c_str());
  return Ok(rep);
}

::grpc::Status GatewayService::gw_refresh_network(SC* ctx, const gw_refresh_network_req* req,
                                                  gw_refresh_network_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  LOG_INFO("Received request to refresh network for subsystem %s%s", nqn.c_str(), PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure refreshing network, missing subsystem NQN");
  const std::string prefix = "Failure refreshing network for subsystem " + nqn;
  std::lock_guard<std::mutex> lk(mu_);
  create_subsystem_req r;
  auto it = state_.find(SubsystemKey(nqn));
  if (it == state_.end() || !JsonToRequest(it->second, &r).ok() || !target_->FindSubsystem(nqn))
    return Answer(rep, ENOENT, prefix + ": subsystem " + nqn + " not found");
  if (r.network_mask_size() == 0)
    return Answer(rep, EINVAL, prefix + ": subsystem " + nqn + " has no network masks configured");
  std::vector<std::string> added, removed;
  Status st = ReconcileAutoListeners(nqn, &r, &added, &removed);
  PublishAutoListeners();
  for (auto& a : added) rep->add_added(a);
  for (auto& a : removed) rep->add_removed(a);
  if (!st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  LOG_INFO("Refreshed network for subsystem %s: %zu auto-listener(s) added, %zu removed", nqn.c_str(), added.size(),
           removed.size());
  return Ok(rep);
}

}  // namespace nvmeof::api
