// The state backend: the StateTarget methods through which the StateFollower replays the
// group state (other gateways' changes, and the full state at start-up) onto this gateway's
// Target, keeping the service's view of the state (state_) in step. Runs on the
// StateFollower's thread (or its caller's, for Replay/Reconcile) with the RPC lock held.
#include <algorithm>
#include <string>

#include "api/errc.h"
#include "api/service_internal.h"
#include "gateway/state/errc.h"

namespace nvmeof::api {

using namespace internal;

namespace {

// Maps the Target's statuses onto "not there" (the applier counts NotFound as done).
Status AsNotFound(const Status& st) {
  if (st.IsNotFound() || st.IsNoDevice()) return Status::NotFound(st.message());
  return st;
}

}  // namespace

Status GatewayService::AddSubsystem(const std::string& json) {
  create_subsystem_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  SubsystemSpec spec;
  spec.nqn = req.subsystem_nqn();
  spec.serial = req.serial_number();
  spec.max_namespaces = req.max_namespaces() ? req.max_namespaces() : opts_.default_max_namespaces;
  spec.allow_any_host = false;
  if (!target_->FindSubsystem(spec.nqn)) {
    if (Status st = SubsystemLimit(); !st.ok()) return st;
  }
  Status st = target_->AddSubsystem(spec);
  if (st.ok() || st.IsAlreadyExists()) {
    state_[SubsystemKey(spec.nqn)] = json;
    if (Result<std::string> key = OpenSubsystemKey(spec.nqn); !key.ok())
      ReportUnopened(SubsystemKey(spec.nqn), json,
                     "subsystem " + spec.nqn + ": any attempt to add host access using a DH-HMAC-CHAP key to it would fail",
                     key.status());
    ReconcileAutoListeners(spec.nqn, &req);  // a failure is logged; gw_refresh_network retries
  }
  return st;
}

Status GatewayService::ChangeSubsystem(const std::string&, const std::string& new_json) {
  create_subsystem_req req;
  if (Status st = JsonToRequest(new_json, &req); !st.ok()) return st;
  const std::string& nqn = req.subsystem_nqn();
  const std::string old_key = SubsystemDhchapKey(nqn);
  state_[SubsystemKey(nqn)] = new_json;
  if (Result<std::string> key = OpenSubsystemKey(nqn); !key.ok())
    ReportUnopened(SubsystemKey(nqn), new_json,
                   "subsystem " + nqn + ": any attempt to add host access using a DH-HMAC-CHAP key to it would fail",
                   key.status());
  ReconcileAutoListeners(nqn, &req);  // the network masks may have changed
  if (SubsystemDhchapKey(nqn) != old_key) return ApplySubsystemKeyToHosts(nqn);
  return Status::OK();
}

std::string GatewayService::SubsystemDhchapKey(const std::string& nqn) const {
  auto it = state_.find(SubsystemKey(nqn));
  if (it == state_.end()) return "";
  create_subsystem_req r;
  if (!JsonToRequest(it->second, &r).ok()) return "";
  return r.has_dhchap_key() ? r.dhchap_key() : "";
}

Result<std::string> GatewayService::OpenSubsystemKey(const std::string& nqn) const {
  auto it = state_.find(SubsystemKey(nqn));
  if (it == state_.end()) return std::string();
  create_subsystem_req r;
  if (!JsonToRequest(it->second, &r).ok()) return std::string();
  if (Status st = secrets_.Open(&r); !st.ok()) return st;
  return r.has_dhchap_key() ? r.dhchap_key() : "";
}

create_subsystem_req GatewayService::SealedSubsystem(create_subsystem_req r) const {
  if (secrets_.Seal(&r).ok()) return r;
  LOG_WARN("No encryption key or the wrong key was found but we need to encrypt subsystem %s DH-HMAC-CHAP key. Any "
           "attempt to add host access using a DH-HMAC-CHAP key to the subsystem would fail (%s)",
           r.subsystem_nqn().c_str(), secrets_.MissingKeyHint().c_str());
  r.set_dhchap_key(StateSecrets::kUnsealedPlaceholder);
  r.clear_key_encrypted();
  return r;
}

void GatewayService::ReportUnopened(const std::string& key, const std::string& value, const std::string& what,
                                    const Status& st) {
  auto [it, added] = reported_.emplace(key, value);
  if (!added && it->second == value) return;
  it->second = value;
  LOG_ERROR("group state: %s: %s", what.c_str(), st.message().c_str());
}

Status GatewayService::ApplySubsystemKeyToHosts(const std::string& nqn) {
  auto s = target_->FindSubsystem(nqn);
  if (!s) return Status::OK();
  // A key this gateway cannot open (reported when the subsystem was read): the hosts it is
  // the controller key of are not served until it can.
  Result<std::string> key = OpenSubsystemKey(nqn);
  const std::string p = StateKeyPrefix(StateKeyKind::kHost, nqn);
  Status result;
  for (auto it = state_.lower_bound(p); it != state_.end() && StartsWith(it->first, p); ++it) {
    add_host_req h;
    if (!JsonToRequest(it->second, &h).ok() || h.host_nqn() == kAnyHostNqn) continue;
    if (!secrets_.Open(&h).ok()) continue;  // not served: reported when it was read
    const bool served = s->HasHost(h.host_nqn());
    if (!key.ok()) {
      const bool uses_it = h.has_dhchap_key() && !h.dhchap_key().empty() &&
                           !(h.has_dhchap_ctrlr_key() && !h.dhchap_ctrlr_key().empty());
      if (uses_it && served) target_->RemoveHost(nqn, h.host_nqn());
      continue;
    }
    Result<HostEntry> entry = HostEntryFromRequest(h, *key);
    if (!entry.ok()) continue;
    Status st = served ? target_->ChangeHostKeys(nqn, *entry) : target_->AddHost(nqn, *entry);
    if (!st.ok() && result.ok()) result = st;
  }
  return result;
}

Status GatewayService::RemoveSubsystem(const std::string& nqn) {
  const bool had = target_->FindSubsystem(nqn) != nullptr;
  RemoveSubsystemFromTarget(nqn);
  for (auto& k : SubsystemKeys(nqn)) {
    state_.erase(k);
    reported_.erase(k);
  }
  target_->ForgetAnaState(nqn);
  return had ? Status::OK() : Status::NotFound("subsystem " + nqn + " does not exist");
}

Status GatewayService::AddNamespace(const std::string& json) {
  namespace_add_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  auto s = target_->FindSubsystem(req.subsystem_nqn());
  if (!s) return Status::NotFound("subsystem " + req.subsystem_nqn() + " does not exist");
  const std::string key = NamespaceKey(req.subsystem_nqn(), req.nsid());
  if (s->GetNamespace(req.nsid())) {
    state_[key] = json;
    return Status::AlreadyExists("namespace " + Str(req.nsid()) + " already exists in " + req.subsystem_nqn());
  }
  if (req.block_size() == 0) return Status::InvalidArgument("block size can't be zero");
  req.set_create_image(false);  // the gateway that took the request created the image
  uint32_t grp = req.anagrpid() > 0 ? static_cast<uint32_t>(req.anagrpid()) : opts_.load_balancing_group;
  auto added = AddNamespaceToTarget(req, grp);
  if (!added.ok()) return added.status();
  state_[key] = json;
  return Status::OK();
}

Status GatewayService::ChangeNamespace(const std::string& old_json, const std::string& new_json) {
  namespace_add_req o, n;
  if (Status st = JsonToRequest(old_json, &o); !st.ok()) return st;
  if (Status st = JsonToRequest(new_json, &n); !st.ok()) return st;
  auto s = target_->FindSubsystem(n.subsystem_nqn());
  auto ns = s ? s->GetNamespace(n.nsid()) : nullptr;
  if (!ns) return Status::NotFound("namespace " + Str(n.nsid()) + " does not exist in " + n.subsystem_nqn());
  // With load balancing the group moves in BalanceStep (a drained hand-over), not here.
  if (!lb_.groups && n.anagrpid() > 0 && static_cast<uint32_t>(n.anagrpid()) != ns->anagrpid()) {
    if (Status st = target_->SetNamespaceAnaGroup(n.subsystem_nqn(), n.nsid(), static_cast<uint32_t>(n.anagrpid()));
        !st.ok())
      return st;
  }
  if (n.size() > o.size() && n.size() > ns->dev().size()) {
    if (Status st = target_->ResizeNamespace(n.subsystem_nqn(), n.nsid(), n.size()); !st.ok()) return st;
  }
  if (n.disable_auto_resize() != o.disable_auto_resize()) ns->dev().set_auto_resize(!n.disable_auto_resize());
  if (n.no_auto_visible() != o.no_auto_visible()) {
    if (Status st = target_->SetNamespaceVisibility(n.subsystem_nqn(), n.nsid(), !n.no_auto_visible()); !st.ok())
      return st;
  }
  state_[NamespaceKey(n.subsystem_nqn(), n.nsid())] = new_json;
  return Status::OK();
}

Status GatewayService::RefreshNamespaceSize(const std::string& nqn, uint32_t nsid, const std::string& value,
                                            bool refresh) {
  auto s = target_->FindSubsystem(nqn);
  auto ns = s ? s->GetNamespace(nsid) : nullptr;
  if (!ns) return Status::NotFound("namespace " + Str(nsid) + " does not exist in " + nqn);
  if (refresh) {
    if (Status st = ns->dev().refresh_size(); !st.ok()) return st;  // a new size is logged by the resize callback
  }
  state_[NamespaceRefreshSizeKey(nqn, nsid)] = value;
  return Status::OK();
}

Status GatewayService::ForgetRefreshSizeMark(const std::string& nqn, uint32_t nsid) {
  state_.erase(NamespaceRefreshSizeKey(nqn, nsid));
  return Status::OK();
}

Status GatewayService::RemoveNamespace(const std::string& nqn, uint32_t nsid) {
  for (auto& k : NamespaceKeys(nqn, nsid)) state_.erase(k);
  return AsNotFound(target_->RemoveNamespace(nqn, nsid));
}

Result<HostEntry> GatewayService::StoredHostEntry(const std::string& json, add_host_req* req) {
  if (Status st = JsonToRequest(json, req); !st.ok()) return st;
  const std::string key = HostKey(req->subsystem_nqn(), req->host_nqn());
  const std::string what = "host " + req->host_nqn() + " of subsystem " + req->subsystem_nqn() + " is not served";
  Status opened = secrets_.Open(req);
  if (opened.ok()) {
    // The subsystem's key is the controller key of a host with a key and none of its own.
    const bool needs_subsystem_key = req->has_dhchap_key() && !req->dhchap_key().empty() &&
                                     !(req->has_dhchap_ctrlr_key() && !req->dhchap_ctrlr_key().empty());
    Result<std::string> subsystem_key = needs_subsystem_key ? OpenSubsystemKey(req->subsystem_nqn()) : std::string();
    if (subsystem_key.ok()) {
      reported_.erase(key);
      return HostEntryFromRequest(*req, *subsystem_key);
    }
    opened = subsystem_key.status();
  }
  ReportUnopened(key, json, what, opened);
  return opened;
}

Status GatewayService::AddHost(const std::string& json) {
  add_host_req req;
  Result<HostEntry> entry = StoredHostEntry(json, &req);
  if (!entry.ok()) {
    // Its keys cannot be opened here, and retrying will not change that (the key file is
    // read at start-up): known, not served.
    if (entry.status().Is(errc::kNoEncryptionKey) || entry.status().Is(state::errc::kSecretNotOpened)) {
      state_[HostKey(req.subsystem_nqn(), req.host_nqn())] = json;
      return Status::OK();
    }
    return entry.status();
  }
  if (auto s = target_->FindSubsystem(req.subsystem_nqn());
      s && req.host_nqn() != kAnyHostNqn && !s->HasHost(req.host_nqn())) {
    if (Status st = HostLimits(s); !st.ok()) return st;
  }
  Status st = target_->AddHost(req.subsystem_nqn(), *entry);
  if (st.ok() || st.IsAlreadyExists()) state_[HostKey(req.subsystem_nqn(), req.host_nqn())] = json;
  if (st.ok() && state_.count(KeepConnectedKey(req.subsystem_nqn(), req.host_nqn())))
    (void)target_->SetKeepHostConnected(req.subsystem_nqn(), req.host_nqn());
  return st;
}

Status GatewayService::ChangeHost(const std::string&, const std::string& new_json) {
  add_host_req req;
  Result<HostEntry> entry = StoredHostEntry(new_json, &req);
  const std::string& nqn = req.subsystem_nqn();
  auto s = target_->FindSubsystem(nqn);
  const bool served = req.host_nqn() == kAnyHostNqn || (s && s->HasHost(req.host_nqn()));
  if (!entry.ok()) {
    if (!entry.status().Is(errc::kNoEncryptionKey) && !entry.status().Is(state::errc::kSecretNotOpened))
      return entry.status();
    // The new keys cannot be opened here: the host is no longer served with the old ones.
    if (served && req.host_nqn() != kAnyHostNqn) target_->RemoveHost(nqn, req.host_nqn());
    state_[HostKey(nqn, req.host_nqn())] = new_json;
    return Status::OK();
  }
  if (!served) return AddHost(new_json);  // known but not served until now
  if (req.host_nqn() != kAnyHostNqn) {
    if (Status st = target_->ChangeHostKeys(nqn, *entry); !st.ok()) return st;
  }
  state_[HostKey(nqn, req.host_nqn())] = new_json;
  return Status::OK();
}

Status GatewayService::RemoveHost(const std::string& nqn, const std::string& host_nqn) {
  state_.erase(HostKey(nqn, host_nqn));
  reported_.erase(HostKey(nqn, host_nqn));
  // Marked (set_keep_host_connected, remove_host keep_connections on any gateway): the
  // host's connections stay here too.
  return AsNotFound(target_->RemoveHost(nqn, host_nqn, state_.count(KeepConnectedKey(nqn, host_nqn)) > 0));
}

Status GatewayService::SetQos(const std::string& json) {
  namespace_set_qos_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  Status st = target_->SetNamespaceQos(req.subsystem_nqn(), req.nsid(), QosFromRequest(req, QosLimits{}));
  if (!st.ok()) return AsNotFound(st).IsNotFound() ? Status::NoDevice(st.message()) : st;
  state_[QosKey(req.subsystem_nqn(), req.nsid())] = json;
  return Status::OK();
}

Status GatewayService::ClearQos(const std::string& nqn, uint32_t nsid) {
  state_.erase(QosKey(nqn, nsid));
  return AsNotFound(target_->SetNamespaceQos(nqn, nsid, QosLimits{}));
}

Status GatewayService::AddNamespaceHost(const std::string& json) {
  namespace_add_host_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  if (auto s = target_->FindSubsystem(req.subsystem_nqn())) {
    auto ns = s->NamespaceInfo(req.nsid());
    if (ns.ok() && !std::binary_search(ns->hosts.begin(), ns->hosts.end(), req.host_nqn())) {
      if (Status st = NamespaceHostLimit(s, req.nsid()); !st.ok()) return st;
    }
  }
  Status st = target_->AddNamespaceHost(req.subsystem_nqn(), req.nsid(), req.host_nqn());
  if (st.ok() || st.IsAlreadyExists())
    state_[NamespaceHostKey(req.subsystem_nqn(), req.nsid(), req.host_nqn())] = json;
  return st;
}

Status GatewayService::RemoveNamespaceHost(const std::string& nqn, uint32_t nsid, const std::string& host_nqn) {
  state_.erase(NamespaceHostKey(nqn, nsid, host_nqn));
  return AsNotFound(target_->RemoveNamespaceHost(nqn, nsid, host_nqn));
}

Status GatewayService::AddListener(const std::string& json) {
  create_listener_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  const uint32_t port = req.has_trsvcid() ? req.trsvcid() : kDefaultTrsvcid;
  if (!target_->FindSubsystem(req.nqn())) return Status::NotFound("subsystem " + req.nqn() + " does not exist");
  const std::string key = ListenerStateKey(req.nqn(), req.host_name(), req.traddr(), port);
  if (!IsLocal(req.host_name())) {
    // Another gateway's: listed in the discovery log page, not opened here.
    state_[key] = json;
    ListenerSpec peer = MakeListenerSpec(req.host_name(), req.traddr(), port, req.adrfam());
    peer.secure = req.secure();
    Status st = target_->AddPeerListener(req.nqn(), peer);
    return st.IsAlreadyExists() ? Status::OK() : st;
  }
  ListenerSpec l = MakeListenerSpec(req.host_name(), req.traddr(), port, req.adrfam());
  l.secure = req.secure();
  Status st = target_->AddListener(req.nqn(), l);
  if (st.ok() || st.IsAlreadyExists()) state_[key] = json;
  return st;
}

Status GatewayService::RemoveListener(const std::string& json) {
  create_listener_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  const uint32_t port = req.has_trsvcid() ? req.trsvcid() : kDefaultTrsvcid;
  state_.erase(ListenerStateKey(req.nqn(), req.host_name(), req.traddr(), port));
  if (!IsLocal(req.host_name()))
    return AsNotFound(
        target_->RemovePeerListener(req.nqn(), MakeListenerSpec(req.host_name(), req.traddr(), port, req.adrfam())));
  return AsNotFound(target_->RemoveListener(req.nqn(), MakeListenerSpec(req.host_name(), req.traddr(), port, req.adrfam())));
}

// Another gateway's auto-listener: listed (list_listeners) and in the discovery log page,
// like its manual listeners. This gateway's own are opened by ReconcileAutoListeners, never
// from the state (an entry of an earlier run is withdrawn by PublishAutoListeners).
Status GatewayService::AddAutoListener(const std::string& json) {
  create_listener_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  const uint32_t port = req.has_trsvcid() ? req.trsvcid() : kDefaultTrsvcid;
  const std::string key = AutoListenerKey(req.nqn(), req.host_name(), KeyAddress(req.traddr()), Str(port));
  if (req.host_name() == opts_.gateway_name) {
    state_[key] = json;
    auto_published_ = false;  // compare with what this gateway has open now
    return Status::OK();
  }
  ListenerSpec peer = MakeListenerSpec(req.host_name(), req.traddr(), port, req.adrfam());
  peer.secure = req.secure();
  Status st = target_->AddPeerListener(req.nqn(), peer);
  if (!st.ok() && !st.IsAlreadyExists()) return st;
  state_[key] = json;
  LOG_INFO("Auto-listener of gateway %s for %s at %s:%u listed here", req.host_name().c_str(), req.nqn().c_str(),
           req.traddr().c_str(), port);
  return Status::OK();
}

Status GatewayService::RemoveAutoListener(const std::string& json) {
  create_listener_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  const uint32_t port = req.has_trsvcid() ? req.trsvcid() : kDefaultTrsvcid;
  state_.erase(AutoListenerKey(req.nqn(), req.host_name(), KeyAddress(req.traddr()), Str(port)));
  if (req.host_name() == opts_.gateway_name) return Status::OK();
  return AsNotFound(
      target_->RemovePeerListener(req.nqn(), MakeListenerSpec(req.host_name(), req.traddr(), port, req.adrfam())));
}

Status GatewayService::SetKeepConnected(const std::string& json) {
  set_keep_host_connected_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  state_[KeepConnectedKey(req.subsystem_nqn(), req.host_nqn())] = json;
  auto s = target_->FindSubsystem(req.subsystem_nqn());
  if (s && s->HasHost(req.host_nqn())) return target_->SetKeepHostConnected(req.subsystem_nqn(), req.host_nqn());
  return Status::OK();  // RemoveHost / AddHost read the mark from state_
}

Status GatewayService::ClearKeepConnected(const std::string& nqn, const std::string& host_nqn) {
  state_.erase(KeepConnectedKey(nqn, host_nqn));
  return Status::OK();
}

}  // namespace nvmeof::api
