// GatewayService: see service.h.
#include "api/service.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>

#include "api/validate.h"
#include "gateway/common/log.h"
#include "gateway/transport/tcp/tcp_transport.h"

namespace nvmeof::api {

namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint32_t kDefaultTrsvcid = 4420;
const char kSuccess[] = "Success";  // os.strerror(0), what the reference answers on success

// ", client address: ipv4:127.0.0.1:5000" for the log lines (like the reference).
std::string PeerMsg(::grpc::ServerContext* ctx) {
  if (!ctx) return "";
  return ", client address: " + ctx->peer();
}

template <class R>
::grpc::Status Answer(R* rep, int status, const std::string& msg) {
  rep->set_status(status);
  rep->set_error_message(status == 0 ? std::string(kSuccess) : msg);
  if (status != 0) LOG_ERROR("%s", msg.c_str());
  return ::grpc::Status::OK;
}

template <class R>
::grpc::Status Ok(R* rep) {
  return Answer(rep, 0, "");
}

std::string Str(uint32_t v) { return std::to_string(v); }

std::string BdevName(const Uuid& u) { return "bdev_" + UuidToString(u); }

uint8_t ToNvmeAdrfam(int proto_adrfam) {
  return proto_adrfam == ::ipv6 ? nvme::kAdrfamIpv6 : nvme::kAdrfamIpv4;
}

// Key form of a listener address: IPv6 in brackets, like the reference CLI sends it.
std::string KeyAddress(const std::string& traddr) { return EscapeAddressIfIpv6(UnescapeAddress(traddr)); }

ListenerSpec MakeListenerSpec(const std::string& host_name, const std::string& traddr, uint32_t trsvcid,
                              int proto_adrfam) {
  ListenerSpec l;
  l.host_name = host_name;
  l.traddr = UnescapeAddress(traddr);
  l.trsvcid = std::to_string(trsvcid);
  l.adrfam = ToNvmeAdrfam(proto_adrfam);
  return l;
}

std::string RandomSerial() {
  // "Ceph" + 2..99999999999999, like the reference.
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  std::uniform_int_distribution<uint64_t> dist(2, 99999999999999ull);
  return "Ceph" + std::to_string(dist(gen));
}

bool StartsWith(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// "a.b.c" -> tuple; nullopt when not three integers.
std::optional<std::tuple<int, int, int>> ParseVersion(const std::string& v) {
  int a, b, c;
  char tail;
  if (sscanf(v.c_str(), "%d.%d.%d%c", &a, &b, &c, &tail) != 3) return std::nullopt;
  return std::make_tuple(a, b, c);
}

// Maps the Target's statuses onto "not there" (the applier counts NotFound as done).
Status AsNotFound(const Status& st) {
  if (st.code() == ENOENT || st.code() == ENODEV) return Status::NotFound(st.message());
  return st;
}

QosLimits QosFromRequest(const namespace_set_qos_req& r, QosLimits base) {
  if (r.has_rw_ios_per_second()) base.rw_ios_per_second = r.rw_ios_per_second();
  if (r.has_rw_mbytes_per_second()) base.rw_mbytes_per_second = r.rw_mbytes_per_second();
  if (r.has_r_mbytes_per_second()) base.r_mbytes_per_second = r.r_mbytes_per_second();
  if (r.has_w_mbytes_per_second()) base.w_mbytes_per_second = r.w_mbytes_per_second();
  return base;
}

}  // namespace

// ----------------------------------------------------------------------------- JSON, keys

namespace {
// Compact JSON -> the layout of Python's json.dumps(indent=2), which the reference's
// MessageToJson produces: "{\n  \"key\": value,\n ...}", empty containers as {} and [].
std::string PythonIndent(const std::string& in) {
  std::string out;
  int depth = 0;
  bool in_str = false;
  auto newline = [&](int d) {
    out += '\n';
    out.append(static_cast<size_t>(2 * d), ' ');
  };
  for (size_t i = 0; i < in.size(); i++) {
    char c = in[i];
    if (in_str) {
      out += c;
      if (c == '\\' && i + 1 < in.size()) out += in[++i];
      else if (c == '"') in_str = false;
      continue;
    }
    switch (c) {
      case '"': in_str = true; out += c; break;
      case '{':
      case '[':
        out += c;
        if (i + 1 < in.size() && (in[i + 1] == '}' || in[i + 1] == ']')) {
          out += in[++i];
        } else {
          newline(++depth);
        }
        break;
      case '}':
      case ']': newline(--depth); out += c; break;
      case ',': out += c; newline(depth); break;
      case ':': out += ": "; break;
      default: out += c;
    }
  }
  return out;
}
}  // namespace

std::string RequestToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(m, &out, o);
  if (!st.ok()) LOG_ERROR("cannot render %s as JSON: %s", m.GetTypeName().c_str(), st.ToString().c_str());
  return PythonIndent(out);
}

Status JsonToRequest(const std::string& json, google::protobuf::Message* m) {
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  auto st = google::protobuf::util::JsonStringToMessage(json, m, o);
  if (!st.ok())
    return Status::InvalidArgument("cannot parse " + m->GetTypeName() + " from state JSON: " +
                                   std::string(st.message()));
  return Status::OK();
}

namespace keys {
std::string Subsystem(const std::string& nqn) { return "subsystem_" + nqn; }
std::string Namespace(const std::string& nqn, uint32_t nsid) { return "namespace_" + nqn + "_" + Str(nsid); }
std::string Qos(const std::string& nqn, uint32_t nsid) { return "qos_" + nqn + "_" + Str(nsid); }
std::string NamespaceHost(const std::string& nqn, uint32_t nsid, const std::string& host) {
  return "ns_host_" + nqn + "_" + Str(nsid) + "_" + host;
}
std::string Host(const std::string& nqn, const std::string& host) { return "host_" + nqn + "_" + host; }
std::string Listener(const std::string& nqn, const std::string& host_name, const std::string& traddr,
                     uint32_t trsvcid) {
  return "listener_" + nqn + "_" + host_name + "_" + std::string(kTcpTransportName) + "_" + KeyAddress(traddr) + "_" + Str(trsvcid);
}
}  // namespace keys

// ----------------------------------------------------------------------------- lifecycle

GatewayService::GatewayService(Target* target, StateStore* store, ServiceOptions opts)
    : target_(target), store_(store), opts_(std::move(opts)) {
  if (opts_.hostname.empty()) {
    char hn[256] = {};
    if (gethostname(hn, sizeof(hn) - 1) == 0) opts_.hostname = hn;
  }
  if (opts_.gateway_name.empty()) opts_.gateway_name = opts_.hostname;
  if (opts_.load_balancing_group == 0) opts_.load_balancing_group = 1;
  applier_ = std::thread([this] { ApplierLoop(); });
}

GatewayService::~GatewayService() {
  {
    std::lock_guard<std::mutex> lk(q_mu_);
    stop_ = true;
  }
  q_cv_.notify_all();
  if (applier_.joinable()) applier_.join();
}

void GatewayService::SetDeviceFactory(DeviceFactory* devices) {
  std::lock_guard<std::mutex> lk(mu_);
  devices_ = devices ? devices : &no_rbd_devices_;
}

void GatewayService::SetStateHooks(StateHooks hooks) {
  std::lock_guard<std::mutex> lk(mu_);
  hooks_ = std::move(hooks);
}

void GatewayService::ReplayState(const StateMap& state, uint64_t version) {
  std::lock_guard<std::mutex> lk(mu_);
  if (hooks_.update) hooks_.update(state, version);
}

void GatewayService::OnStateChanged(const StateMap& state, uint64_t version) {
  LOG_DEBUG("group state version %llu received (%zu keys)", static_cast<unsigned long long>(version),
            state.size());
  {
    std::lock_guard<std::mutex> lk(q_mu_);
    // Only the newest snapshot matters: each one is the full state.
    if (!pending_ || version >= pending_->second) pending_ = std::make_pair(state, version);
  }
  q_cv_.notify_all();
}

void GatewayService::Reconcile() {
  std::lock_guard<std::mutex> lk(mu_);
  if (hooks_.reconcile) hooks_.reconcile();
}

void GatewayService::WaitIdle() {
  std::unique_lock<std::mutex> lk(q_mu_);
  q_cv_.wait(lk, [this] { return (!pending_ && !applying_) || stop_; });
}

void GatewayService::ApplierLoop() {
  std::unique_lock<std::mutex> lk(q_mu_);
  for (;;) {
    q_cv_.wait(lk, [this] { return stop_ || pending_.has_value(); });
    if (stop_) return;
    auto snap = std::move(*pending_);
    pending_.reset();
    applying_ = true;
    lk.unlock();
    {
      std::lock_guard<std::mutex> rpc(mu_);
      if (hooks_.update) hooks_.update(snap.first, snap.second);
    }
    lk.lock();
    applying_ = false;
    q_cv_.notify_all();
  }
}

StateMap GatewayService::LocalState() {
  std::lock_guard<std::mutex> lk(mu_);
  return state_;
}

// ----------------------------------------------------------------------------- helpers

bool GatewayService::IsLocal(const std::string& host_name) const {
  return host_name == opts_.hostname || host_name == opts_.gateway_name;
}

Status GatewayService::Persist(const StateMap& puts, const std::vector<std::string>& removes, const Check& check,
                               bool* conflict) {
  if (conflict) *conflict = false;
  uint64_t version = 0;
  if (!store_) {
    if (check) {
      if (Status st = check(state_); !st.ok()) {
        if (conflict) *conflict = true;
        return st;
      }
    }
  } else {
    bool check_failed = false;
    Status st = store_->Mutate(
        [&](const StateMap& current, uint64_t, StateMap* p, std::vector<std::string>* r) -> Status {
          if (check) {
            if (Status c = check(current); !c.ok()) {
              check_failed = true;
              return c;
            }
          }
          *p = puts;
          for (auto& k : removes)
            if (current.count(k)) r->push_back(k);
          return Status::OK();
        },
        &version);
    if (!st.ok()) {
      if (conflict) *conflict = check_failed;
      return st;
    }
  }
  for (auto& [k, v] : puts) state_[k] = v;
  for (auto& k : removes) state_.erase(k);
  if (hooks_.record_local) hooks_.record_local(puts, removes, version);
  return Status::OK();
}

std::vector<std::string> GatewayService::SubsystemKeys(const std::string& nqn) {
  std::vector<std::string> v;
  const std::string prefixes[] = {"namespace_" + nqn + "_", "qos_" + nqn + "_", "ns_host_" + nqn + "_",
                                  "host_" + nqn + "_", "listener_" + nqn + "_"};
  for (auto& [k, val] : state_) {
    if (k == keys::Subsystem(nqn)) {
      v.push_back(k);
      continue;
    }
    for (auto& p : prefixes)
      if (StartsWith(k, p)) {
        v.push_back(k);
        break;
      }
  }
  return v;
}

std::vector<std::string> GatewayService::NamespaceKeys(const std::string& nqn, uint32_t nsid) {
  std::vector<std::string> v;
  const std::string nh = "ns_host_" + nqn + "_" + Str(nsid) + "_";
  for (auto& [k, val] : state_)
    if (k == keys::Namespace(nqn, nsid) || k == keys::Qos(nqn, nsid) || StartsWith(k, nh)) v.push_back(k);
  return v;
}

// Iterates the namespace_ keys of a state map (an ordered map: one contiguous range).
template <typename Fn>
static void ForEachNamespaceKey(const StateMap& m, Fn&& fn) {
  static const std::string kPrefix = "namespace_";
  for (auto it = m.lower_bound(kPrefix); it != m.end() && StartsWith(it->first, kPrefix); ++it) {
    if (!fn(it->first, it->second)) return;
  }
}

const GatewayService::NsInfo& GatewayService::NamespaceInfo(const std::string& key, const std::string& json) {
  std::lock_guard<std::mutex> lk(ns_cache_mu_);
  NsInfo& info = ns_cache_[key];
  if (info.json != json || (!info.parsed && !json.empty())) {
    info = NsInfo{};
    info.json = json;
    namespace_add_req r;
    if (JsonToRequest(json, &r).ok()) {
      info.parsed = true;
      info.nqn = r.subsystem_nqn();
      info.uuid = r.uuid();
      info.pool = r.rbd_pool_name();
      info.image = r.rbd_image_name();
      info.rbd = !r.has_backend() || r.backend() == "rbd";
    }
  }
  return info;
}

std::string GatewayService::ImageUsedBy(const std::string& pool, const std::string& image) {
  if (pool.empty() || image.empty()) return "";
  std::string used;
  ForEachNamespaceKey(state_, [&](const std::string& k, const std::string& v) {
    const NsInfo& r = NamespaceInfo(k, v);
    if (r.parsed && r.rbd && r.pool == pool && r.image == image) {
      used = r.nqn;
      return false;
    }
    return true;
  });
  return used;
}

Result<uint32_t> GatewayService::AddNamespaceToTarget(const namespace_add_req& req, uint32_t anagrpid) {
  DeviceSpec b;
  b.kind = req.has_backend() ? req.backend() : "rbd";
  b.pool = req.rbd_pool_name();
  b.image = req.rbd_image_name();
  b.create_image = req.create_image();
  b.create_size = req.size();
  b.anagrpid = anagrpid;
  b.memory_size = req.memory_size();
  b.file_path = req.file_path();
  if (req.has_file_size()) {
    b.file_size = req.file_size();
    b.file_size_checked = true;
  }
  b.block_size = req.block_size();
  auto dev = devices_->Open(b);
  if (!dev.ok()) return dev.status();
  NamespaceSpec ns;
  ns.nsid = req.has_nsid() ? req.nsid() : 0;
  ns.block_size = req.block_size();
  if (req.has_uuid() && !req.uuid().empty()) {
    Uuid u;
    if (!ParseUuid(req.uuid(), &u)) return Status::InvalidArgument("Invalid UUID \"" + req.uuid() + "\"");
    ns.uuid = u;
  }
  ns.anagrpid = anagrpid;
  ns.auto_visible = !req.no_auto_visible();
  ns.backend = b.kind;
  if (b.kind == "rbd") {
    ns.rbd_pool = b.pool;
    ns.rbd_image = b.image;
  }
  return target_->AddNamespace(req.subsystem_nqn(), ns, std::move(dev.value()));
}

void GatewayService::RemoveSubsystemFromTarget(const std::string& nqn) {
  auto s = target_->FindSubsystem(nqn);
  if (!s) return;
  for (auto& ns : s->Namespaces()) {
    Status st = target_->RemoveNamespace(nqn, ns->nsid());
    if (!st.ok()) LOG_WARN("subsystem %s: removing namespace %u: %s", nqn.c_str(), ns->nsid(), st.ToString().c_str());
  }
  Status st = target_->RemoveSubsystem(nqn, true);
  if (!st.ok()) LOG_WARN("removing subsystem %s: %s", nqn.c_str(), st.ToString().c_str());
}

void GatewayService::ApplyAnaToListener(const std::string& nqn, const ListenerSpec& l) {
  auto it = ana_map_.find(nqn);
  if (it == ana_map_.end()) return;
  for (auto& [grp, state] : it->second) {
    Status st = target_->SetAnaState(nqn, l.traddr, l.trsvcid, grp, state);
    if (!st.ok())
      LOG_WARN("subsystem %s listener %s:%s: ANA group %u: %s", nqn.c_str(), l.traddr.c_str(), l.trsvcid.c_str(),
               grp, st.ToString().c_str());
  }
}

// ----------------------------------------------------------------------------- subsystems

::grpc::Status GatewayService::create_subsystem(SC* ctx, const create_subsystem_req* in, subsys_status* rep) {
  create_subsystem_req req = *in;
  const std::string prefix = "Failure creating subsystem " + req.subsystem_nqn();
  LOG_INFO("Received request to create subsystem %s, enable_ha: %s, max_namespaces: %u%s",
           req.subsystem_nqn().c_str(), req.enable_ha() ? "True" : "False", req.max_namespaces(),
           PeerMsg(ctx).c_str());
  if (!req.enable_ha()) return Answer(rep, EINVAL, prefix + ": HA must be enabled for subsystems");
  if (req.subsystem_nqn().empty()) return Answer(rep, EINVAL, "Failure creating subsystem, missing subsystem NQN");
  if (!IsValidStateKeyElement(req.subsystem_nqn()))
    return Answer(rep, EINVAL, prefix + ": Invalid NQN \"" + req.subsystem_nqn() + "\", contains invalid characters");
  if (opts_.verify_nqns) {
    if (Status st = ValidateNqn(req.subsystem_nqn()); !st.ok()) return Answer(rep, st.code(), prefix + ": " + st.message());
  }
  if (IsDiscoveryNqn(req.subsystem_nqn())) return Answer(rep, EINVAL, prefix + ": Can't create a discovery subsystem");
  if (!opts_.group.empty() && !req.no_group_append()) {
    req.set_subsystem_nqn(req.subsystem_nqn() + "." + opts_.group);
    LOG_INFO("Subsystem NQN will be changed to %s, adding group name", req.subsystem_nqn().c_str());
    if (req.subsystem_nqn().size() > kNqnMaxLength)
      return Answer(rep, EINVAL, prefix + ": NQN \"" + req.subsystem_nqn() + "\" (with the group name appended) is too long, maximal length is " +
                                     std::to_string(kNqnMaxLength));
  }
  if (req.serial_number().empty()) {
    req.set_serial_number(RandomSerial());
    LOG_INFO("No serial number specified for %s, will use %s", req.subsystem_nqn().c_str(),
             req.serial_number().c_str());
  } else if (Status st = ValidateSerialNumber(req.serial_number()); !st.ok()) {
    return Answer(rep, EINVAL, prefix + ": " + st.message());
  }
  rep->set_nqn(req.subsystem_nqn());

  std::lock_guard<std::mutex> lk(mu_);
  if (target_->FindSubsystem(req.subsystem_nqn()) || state_.count(keys::Subsystem(req.subsystem_nqn())))
    return Answer(rep, EEXIST, prefix + ": Subsystem already exists");
  for (auto& s : target_->Subsystems())
    if (s->spec().serial == req.serial_number())
      return Answer(rep, EEXIST, prefix + ": Serial number " + req.serial_number() + " already used by subsystem " +
                                     s->nqn());
  SubsystemSpec spec;
  spec.nqn = req.subsystem_nqn();
  spec.serial = req.serial_number();
  spec.max_namespaces = req.max_namespaces() ? req.max_namespaces() : opts_.default_max_namespaces;
  spec.allow_any_host = false;
  spec.enable_ha = true;
  if (Status st = target_->AddSubsystem(spec); !st.ok()) return Answer(rep, st.code(), prefix + ": " + st.message());
  auto check = [&](const StateMap& cur) -> Status {
    if (cur.count(keys::Subsystem(spec.nqn))) return Status::AlreadyExists("Subsystem already exists");
    for (auto& [k, v] : cur) {
      if (!StartsWith(k, "subsystem_")) continue;
      create_subsystem_req o;
      if (JsonToRequest(v, &o).ok() && o.serial_number() == spec.serial)
        return Status::AlreadyExists("Serial number " + spec.serial + " already used by subsystem " + o.subsystem_nqn());
    }
    return Status::OK();
  };
  bool conflict = false;
  if (Status st = Persist({{keys::Subsystem(spec.nqn), RequestToJson(req)}}, {}, check, &conflict); !st.ok()) {
    target_->RemoveSubsystem(spec.nqn, true);
    if (conflict) return Answer(rep, st.code(), prefix + ": " + st.message());
    return Answer(rep, EINVAL, "Error persisting subsystem " + spec.nqn + ": " + st.message());
  }
  return Ok(rep);
}

::grpc::Status GatewayService::delete_subsystem(SC* ctx, const delete_subsystem_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string prefix = "Failure deleting subsystem " + nqn;
  LOG_INFO("Received request to delete subsystem %s%s%s", nqn.c_str(), req->force() ? " (force)" : "",
           PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure deleting subsystem, missing subsystem NQN");
  if (IsDiscoveryNqn(nqn)) return Answer(rep, EINVAL, prefix + ": Can't delete a discovery subsystem");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s && !state_.count(keys::Subsystem(nqn)))
    return Answer(rep, ENOENT, prefix + ": No such subsystem");
  if (s && !req->force()) {
    auto nss = s->Namespaces();
    if (!nss.empty())
      return Answer(rep, EBUSY, prefix + ": Namespace " + Str(nss.front()->nsid()) +
                                    " is still using the subsystem. Either remove it or use the '--force' command "
                                    "line option");
  }
  for (auto& [k, v] : state_)
    if (StartsWith(k, "listener_" + nqn + "_")) {
      LOG_WARN("About to delete subsystem %s which has a listener defined", nqn.c_str());
      break;
    }
  if (Status st = Persist({}, SubsystemKeys(nqn)); !st.ok())
    return Answer(rep, EINVAL, "Error persisting deletion of subsystem " + nqn + ": " + st.message());
  RemoveSubsystemFromTarget(nqn);
  ana_map_.erase(nqn);
  return Ok(rep);
}

::grpc::Status GatewayService::list_subsystems(SC* ctx, const list_subsystems_req* req, subsystems_info_cli* rep) {
  LOG_DEBUG("Received request to list subsystems%s", PeerMsg(ctx).c_str());
  const auto& o = target_->options();
  for (auto& s : target_->Subsystems()) {
    if (req->has_subsystem_nqn() && !req->subsystem_nqn().empty() && s->nqn() != req->subsystem_nqn()) continue;
    if (req->has_serial_number() && !req->serial_number().empty() && s->spec().serial != req->serial_number())
      continue;
    auto* c = rep->add_subsystems();
    c->set_nqn(s->nqn());
    c->set_enable_ha(true);
    c->set_serial_number(s->spec().serial);
    c->set_model_number(s->spec().model);
    c->set_min_cntlid(o.min_cntlid);
    c->set_max_cntlid(o.max_cntlid);
    c->set_namespace_count(s->namespace_count());
    c->set_subtype("NVMe");
    c->set_max_namespaces(s->spec().max_namespaces);
  }
  return Ok(rep);
}

::grpc::Status GatewayService::get_subsystems(SC* ctx, const get_subsystems_req*, subsystems_info* rep) {
  LOG_DEBUG("Received request to get subsystems%s", PeerMsg(ctx).c_str());
  try {
    const auto& o = target_->options();
    auto fill_listener = [](::listen_address* a, const ListenerSpec& l) {
      a->set_trtype(std::string(kTcpTransportName));
      a->set_adrfam(l.adrfam == nvme::kAdrfamIpv6 ? "IPv6" : "IPv4");
      a->set_traddr(l.traddr);
      a->set_trsvcid(l.trsvcid);
      a->set_transport(std::string(kTcpTransportName));
      a->set_secure(l.secure);
    };
    {
      auto* d = rep->add_subsystems();
      d->set_nqn(std::string(kDiscoveryNqn));
      d->set_subtype("Discovery");
      d->set_allow_any_host(true);
      for (auto& [l, portid] : target_->Ports()) fill_listener(d->add_listen_addresses(), l);
    }
    for (auto& s : target_->Subsystems()) {
      auto* out = rep->add_subsystems();
      out->set_nqn(s->nqn());
      out->set_subtype("NVMe");
      out->set_serial_number(s->spec().serial);
      out->set_model_number(s->spec().model);
      out->set_max_namespaces(s->spec().max_namespaces);
      out->set_min_cntlid(o.min_cntlid);
      out->set_max_cntlid(o.max_cntlid);
      std::lock_guard<std::mutex> lk(s->mu);
      out->set_allow_any_host(s->spec().allow_any_host);
      for (auto& l : s->listeners) fill_listener(out->add_listen_addresses(), l);
      for (auto& h : s->hosts) out->add_hosts()->set_nqn(h);
      for (auto& [nsid, ns] : s->namespaces) {
        auto* n = out->add_namespaces();
        n->set_nsid(nsid);
        n->set_name(BdevName(ns->uuid()));
        n->set_bdev_name(BdevName(ns->uuid()));
        std::string nguid = UuidToString(ns->nguid());
        nguid.erase(std::remove(nguid.begin(), nguid.end(), '-'), nguid.end());
        std::transform(nguid.begin(), nguid.end(), nguid.begin(), ::toupper);
        n->set_nguid(nguid);
        n->set_uuid(UuidToString(ns->uuid()));
        n->set_anagrpid(ns->anagrpid());
        n->set_no_auto_visible(!ns->auto_visible());
        for (auto& h : ns->hosts) n->add_hosts(h);
      }
    }
  } catch (const std::exception& e) {
    LOG_ERROR("get_subsystems failed: %s", e.what());
    return ::grpc::Status(::grpc::StatusCode::INTERNAL, e.what());
  }
  return ::grpc::Status::OK;
}

// ----------------------------------------------------------------------------- namespaces

::grpc::Status GatewayService::namespace_add(SC* ctx, const namespace_add_req* in, nsid_status* rep) {
  namespace_add_req req = *in;
  const std::string& nqn = req.subsystem_nqn();
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure adding namespace, missing subsystem NQN");
  const std::string nsid_msg = req.has_nsid() && req.nsid() ? "using NSID " + Str(req.nsid()) + " " : "";
  const std::string prefix = "Failure adding namespace " + nsid_msg + "to " + nqn;
  const std::string backend = req.has_backend() ? req.backend() : "rbd";
  LOG_INFO("Received request to add namespace %sto %s (%s%s%s), ana group %d%s", nsid_msg.c_str(), nqn.c_str(),
           backend.c_str(), backend == "rbd" ? " " : "", backend == "rbd" ? (req.rbd_pool_name() + "/" + req.rbd_image_name()).c_str() : "",
           req.anagrpid(), PeerMsg(ctx).c_str());
  if (IsDiscoveryNqn(nqn)) return Answer(rep, EINVAL, prefix + ": Can't add namespaces to a discovery subsystem");
  if (req.has_nsid() && req.nsid() != 0) {
    if (Status st = ValidateNsid(req.nsid()); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  }
  if (req.has_uuid() && !req.uuid().empty()) {
    if (Status st = ValidateUuid(req.uuid()); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  }
  if (Status st = ValidateBlockSize(req.block_size()); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  if (req.anagrpid() < 0) return Answer(rep, EINVAL, prefix + ": Load balancing group can't be negative");
  if (backend == "rbd") {
    if (req.rbd_pool_name().empty()) return Answer(rep, EINVAL, prefix + ": missing RBD pool name");
    if (req.rbd_image_name().empty()) return Answer(rep, EINVAL, prefix + ": missing RBD image name");
    if (req.create_image()) {
      if (Status st = ValidateImageSize(req.size()); !st.ok())
        return Answer(rep, EINVAL, prefix + ": " + (req.size() == 0 ? std::string("image size must be positive") : st.message()));
    }
  } else if (backend == "memory") {
    if (!req.has_memory_size() || req.memory_size() == 0)
      return Answer(rep, EINVAL, prefix + ": the memory backend needs memory_size (bytes)");
    if (Status st = ValidateBackendSize(req.memory_size(), req.block_size()); !st.ok())
      return Answer(rep, EINVAL, prefix + ": memory size: " + st.message());
  } else if (backend == "file") {
    if (req.file_path().empty() || req.file_path()[0] != '/')
      return Answer(rep, EINVAL, prefix + ": the file backend needs an absolute file_path");
    if (req.has_file_size()) {
      if (Status st = ValidateBackendSize(req.file_size(), req.block_size()); !st.ok())
        return Answer(rep, EINVAL, prefix + ": file size: " + st.message());
    }
  } else {
    return Answer(rep, EINVAL, prefix + ": unknown backend \"" + backend + "\" (rbd, memory or file)");
  }

  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  if (req.has_nsid() && req.nsid() != 0 && s->GetNamespace(req.nsid()))
    return Answer(rep, EEXIST, "Failure adding namespace, NSID " + Str(req.nsid()) + " is already in use");
  if (!req.has_uuid() || req.uuid().empty()) {
    req.set_uuid(UuidToString(RandomUuid()));
  } else {
    Uuid u;
    ParseUuid(req.uuid(), &u);
    for (auto& ns : s->Namespaces())
      if (ns->uuid() == u)
        return Answer(rep, EEXIST, "Failure adding namespace, UUID " + req.uuid() + " is already in use");
  }
  uint32_t anagrpid = static_cast<uint32_t>(req.anagrpid());
  if (anagrpid == 0) {
    anagrpid = opts_.load_balancing_group;
  } else {
    if (anagrpid > s->spec().max_namespaces)
      return Answer(rep, EINVAL, prefix + ": Group ID " + Str(anagrpid) + " is bigger than configured maximum " +
                                     Str(s->spec().max_namespaces));
    if (anagrpid > target_->options().anagrpmax)
      return Answer(rep, ENODEV, prefix + ": Load balancing group " + Str(anagrpid) + " doesn't exist");
  }
  auto image_used = [&](const std::string& used) -> Status {
    std::string what = "RBD image " + req.rbd_pool_name() + "/" + req.rbd_image_name() +
                       " is already used by a namespace in subsystem " + used;
    if (req.force()) {
      LOG_WARN("%s, will continue as the \"force\" argument was used", what.c_str());
      return Status::OK();
    }
    return Status::AlreadyExists(what + ", either delete the namespace or use the \"force\" argument,\nyou can "
                                        "find the offending namespace by using the \"namespace list --subsystem " +
                                 used + "\" CLI command");
  };
  if (backend == "rbd") {
    const std::string used = ImageUsedBy(req.rbd_pool_name(), req.rbd_image_name());
    if (!used.empty()) {
      if (Status st = image_used(used); !st.ok()) return Answer(rep, st.code(), prefix + ": " + st.message());
    }
  }
  // NSIDs the group has (other gateways may have added namespaces this one has not applied yet).
  const bool auto_nsid = !req.has_nsid() || req.nsid() == 0;
  // The group's NSIDs: this gateway's state, or a fresh read after a conflict (no copy).
  StateMap fresh_group;
  const StateMap* group = &state_;
  uint32_t nsid = 0;
  for (int attempt = 0;; attempt++) {
    if (auto_nsid) {
      uint32_t n = 1;
      while (s->GetNamespace(n) || group->count(keys::Namespace(nqn, n))) n++;
      req.set_nsid(n);
    }
    auto added = AddNamespaceToTarget(req, anagrpid);
    if (!added.ok()) return Answer(rep, added.status().code(), prefix + ": " + added.status().message());
    nsid = added.value();
    req.set_nsid(nsid);
    req.set_anagrpid(static_cast<int32_t>(anagrpid));
    bool nsid_taken = false;
    auto check = [&](const StateMap& cur) -> Status {
      if (cur.count(keys::Namespace(nqn, nsid))) {
        nsid_taken = true;
        return Status::AlreadyExists("NSID " + Str(nsid) + " is already in use");
      }
      const std::string p = "namespace_" + nqn + "_";
      Status result;
      ForEachNamespaceKey(cur, [&](const std::string& k, const std::string& v) {
        const NsInfo& o = NamespaceInfo(k, v);
        if (!o.parsed) return true;
        if (o.uuid == req.uuid() && StartsWith(k, p)) {
          result = Status::AlreadyExists("UUID " + req.uuid() + " is already in use");
          return false;
        }
        if (backend == "rbd" && o.rbd && o.pool == req.rbd_pool_name() && o.image == req.rbd_image_name()) {
          if (Status st = image_used(o.nqn); !st.ok()) {
            result = st;
            return false;
          }
        }
        return true;
      });
      return result;
    };
    bool conflict = false;
    Status st = Persist({{keys::Namespace(nqn, nsid), RequestToJson(req)}}, {}, check, &conflict);
    if (st.ok()) break;
    target_->RemoveNamespace(nqn, nsid);
    if (conflict && nsid_taken && auto_nsid && attempt < 16 && store_) {
      // Another gateway took this NSID meanwhile: choose again from the group's state.
      uint64_t v;
      auto fresh = store_->ReadAll(&v);
      if (fresh.ok()) fresh_group = fresh.value();
      else if (group == &state_) fresh_group = state_;
      fresh_group[keys::Namespace(nqn, nsid)] = "";
      group = &fresh_group;
      continue;
    }
    if (conflict) {
      if (nsid_taken) return Answer(rep, EEXIST, "Failure adding namespace, NSID " + Str(nsid) + " is already in use");
      return Answer(rep, st.code(), prefix + ": " + st.message());
    }
    return Answer(rep, EINVAL, "Error persisting namespace " + Str(nsid) + " on " + nqn + ": " + st.message());
  }
  rep->set_nsid(nsid);
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_delete(SC* ctx, const namespace_delete_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  if (!req->nsid()) return Answer(rep, EINVAL, "Failure deleting namespace, missing NSID");
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure deleting namespace " + Str(req->nsid()) + ", missing subsystem NQN");
  LOG_INFO("Received request to delete namespace %u from %s%s", req->nsid(), nqn.c_str(), PeerMsg(ctx).c_str());
  const std::string prefix = "Failure deleting namespace " + Str(req->nsid()) + " from " + nqn;
  if (IsDiscoveryNqn(nqn)) return Answer(rep, EINVAL, prefix + ": Can't remove a namespace from a discovery subsystem");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  const bool in_target = s->GetNamespace(req->nsid()) != nullptr;
  if (!in_target && !state_.count(keys::Namespace(nqn, req->nsid())))
    return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  if (Status st = Persist({}, NamespaceKeys(nqn, req->nsid())); !st.ok())
    return Answer(rep, EINVAL, "Error persisting removing of namespace " + Str(req->nsid()) + " from " + nqn + ": " +
                                   st.message());
  if (in_target) {
    if (Status st = target_->RemoveNamespace(nqn, req->nsid()); !st.ok())
      return Answer(rep, st.code(), prefix + ": " + st.message());
  }
  return Ok(rep);
}

::grpc::Status GatewayService::list_namespaces(SC* ctx, const list_namespaces_req* req, namespaces_info* rep) {
  LOG_DEBUG("Received request to list namespaces of %s%s", req->subsystem().c_str(), PeerMsg(ctx).c_str());
  rep->set_subsystem_nqn(req->subsystem());
  if (req->subsystem().empty()) return Answer(rep, EINVAL, "Failure listing namespaces, missing subsystem NQN");
  auto s = target_->FindSubsystem(req->subsystem());
  if (!s || s->is_discovery())
    return Answer(rep, ENOENT, "Failure listing namespaces: No such subsystem " + req->subsystem());
  std::lock_guard<std::mutex> lk(s->mu);
  for (auto& [nsid, ns] : s->namespaces) {
    if (req->has_nsid() && req->nsid() && req->nsid() != nsid) continue;
    const std::string uuid = UuidToString(ns->uuid());
    if (req->has_uuid() && !req->uuid().empty() && req->uuid() != uuid) continue;
    auto* n = rep->add_namespaces();
    n->set_nsid(nsid);
    n->set_bdev_name(BdevName(ns->uuid()));
    n->set_rbd_image_name(ns->spec().rbd_image);
    n->set_rbd_pool_name(ns->spec().rbd_pool);
    n->set_load_balancing_group(ns->anagrpid());
    n->set_block_size(ns->block_size());
    n->set_rbd_image_size(ns->dev().size());
    n->set_uuid(uuid);
    n->set_rw_ios_per_second(ns->qos.rw_ios_per_second);
    n->set_rw_mbytes_per_second(ns->qos.rw_mbytes_per_second);
    n->set_r_mbytes_per_second(ns->qos.r_mbytes_per_second);
    n->set_w_mbytes_per_second(ns->qos.w_mbytes_per_second);
    n->set_no_auto_visible(!ns->auto_visible());
    for (auto& h : ns->hosts) n->add_hosts(h);
    if (ns->spec().backend != "rbd") n->set_backend(ns->spec().backend);
    if (ns->spec().backend == "file") n->set_file_path(ns->dev().info().description);
  }
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_resize(SC* ctx, const namespace_resize_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  LOG_INFO("Received request to resize namespace %u on %s to %llu MiB%s", req->nsid(), nqn.c_str(),
           static_cast<unsigned long long>(req->new_size()), PeerMsg(ctx).c_str());
  if (!req->nsid()) return Answer(rep, EINVAL, "Failure resizing namespace, missing NSID");
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure resizing namespace " + Str(req->nsid()) + ", missing subsystem NQN");
  if (req->new_size() == 0)
    return Answer(rep, EINVAL, "Failure resizing namespace " + Str(req->nsid()) + ": New size must be positive");
  const std::string prefix = "Failure resizing namespace " + Str(req->nsid()) + " on " + nqn;
  if (req->new_size() > (UINT64_MAX >> 20)) return Answer(rep, EINVAL, prefix + ": new size is too large");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  auto ns = s->GetNamespace(req->nsid());
  if (!ns) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  const uint64_t bytes = req->new_size() * kMiB;
  if (bytes < ns->dev().size())
    return Answer(rep, EINVAL, prefix + ": new size " + std::to_string(bytes) + " bytes is smaller than current size " +
                                   std::to_string(ns->dev().size()) + " bytes");
  if (Status st = target_->ResizeNamespace(nqn, req->nsid(), bytes); !st.ok())
    return Answer(rep, st.code(), prefix + ": " + st.message());
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_get_io_stats(SC* ctx, const namespace_get_io_stats_req* req,
                                                      namespace_io_stats_info* rep) {
  const std::string& nqn = req->subsystem_nqn();
  LOG_DEBUG("Received request to get IO stats for namespace %u on %s%s", req->nsid(), nqn.c_str(), PeerMsg(ctx).c_str());
  if (!req->nsid()) return Answer(rep, EINVAL, "Failure getting IO stats for namespace, missing NSID");
  if (nqn.empty())
    return Answer(rep, EINVAL, "Failure getting IO stats for namespace " + Str(req->nsid()) + ", missing subsystem NQN");
  const std::string prefix = "Failure getting IO stats for namespace " + Str(req->nsid()) + " on " + nqn;
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  auto ns = s->GetNamespace(req->nsid());
  if (!ns) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  const NsStats& st = ns->stats();
  rep->set_subsystem_nqn(nqn);
  rep->set_nsid(req->nsid());
  rep->set_uuid(UuidToString(ns->uuid()));
  rep->set_bdev_name(BdevName(ns->uuid()));
  rep->set_tick_rate(1000000000ull);  // ticks are nanoseconds
  rep->set_ticks(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count()));
  rep->set_bytes_read(st.read_bytes.load());
  rep->set_num_read_ops(st.read_ops.load());
  rep->set_bytes_written(st.write_bytes.load());
  rep->set_num_write_ops(st.write_ops.load());
  rep->set_num_unmap_ops(st.unmap_ops.load());
  rep->set_read_latency_ticks(st.read_ns.load());
  rep->set_write_latency_ticks(st.write_ns.load());
  if (uint64_t e = st.errors.load()) {
    auto* err = rep->add_io_error();
    err->set_name("errors");
    err->set_value(static_cast<uint32_t>(std::min<uint64_t>(e, UINT32_MAX)));
  }
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_set_qos_limits(SC* ctx, const namespace_set_qos_req* in, req_status* rep) {
  namespace_set_qos_req req = *in;
  const std::string nqn = req.subsystem_nqn();
  LOG_INFO("Received request to set QOS limits for namespace %u on %s%s", req.nsid(), nqn.c_str(), PeerMsg(ctx).c_str());
  if (!req.nsid()) return Answer(rep, EINVAL, "Failure setting QOS limits for namespace, missing NSID");
  if (nqn.empty())
    return Answer(rep, EINVAL, "Failure setting QOS limits for namespace " + Str(req.nsid()) + ", missing subsystem NQN");
  const std::string prefix = "Failure setting QOS limits for namespace " + Str(req.nsid()) + " on " + nqn;
  if (!req.has_rw_ios_per_second() && !req.has_rw_mbytes_per_second() && !req.has_r_mbytes_per_second() &&
      !req.has_w_mbytes_per_second())
    return Answer(rep, EINVAL, prefix + ": At least one QOS limit should be set");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  auto ns = s->GetNamespace(req.nsid());
  if (!ns) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  // Merge with the limits set before (persisted), like the reference.
  auto prev = state_.find(keys::Qos(nqn, req.nsid()));
  if (prev != state_.end()) {
    namespace_set_qos_req old;
    if (JsonToRequest(prev->second, &old).ok()) {
      if (!req.has_rw_ios_per_second() && old.has_rw_ios_per_second()) req.set_rw_ios_per_second(old.rw_ios_per_second());
      if (!req.has_rw_mbytes_per_second() && old.has_rw_mbytes_per_second())
        req.set_rw_mbytes_per_second(old.rw_mbytes_per_second());
      if (!req.has_r_mbytes_per_second() && old.has_r_mbytes_per_second()) req.set_r_mbytes_per_second(old.r_mbytes_per_second());
      if (!req.has_w_mbytes_per_second() && old.has_w_mbytes_per_second()) req.set_w_mbytes_per_second(old.w_mbytes_per_second());
    }
  }
  QosLimits before;
  {
    std::lock_guard<std::mutex> slk(s->mu);
    before = ns->qos;
  }
  if (Status st = target_->SetNamespaceQos(nqn, req.nsid(), QosFromRequest(req, before)); !st.ok())
    return Answer(rep, st.code(), prefix + ": " + st.message());
  if (Status st = Persist({{keys::Qos(nqn, req.nsid()), RequestToJson(req)}}, {}); !st.ok()) {
    target_->SetNamespaceQos(nqn, req.nsid(), before);
    return Answer(rep, EINVAL, "Error persisting namespace QOS settings " + Str(req.nsid()) + " on " + nqn + ": " +
                                   st.message());
  }
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_change_load_balancing_group(
    SC* ctx, const namespace_change_load_balancing_group_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string prefix = "Failure changing load balancing group for namespace with NSID " + Str(req->nsid()) +
                             " in " + nqn;
  LOG_INFO("Received request to change load balancing group for namespace with NSID %u in %s to %d%s", req->nsid(),
           nqn.c_str(), req->anagrpid(), PeerMsg(ctx).c_str());
  if (nqn.empty())
    return Answer(rep, EINVAL, "Failure changing load balancing group for namespace, missing subsystem NQN");
  if (!req->nsid())
    return Answer(rep, ENODEV, "Failure changing load balancing group for namespace in " + nqn + ": No NSID was given");
  if (req->anagrpid() <= 0 || static_cast<uint32_t>(req->anagrpid()) > target_->options().anagrpmax)
    return Answer(rep, ENODEV, prefix + ": Load balancing group " + std::to_string(req->anagrpid()) + " doesn't exist");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  auto ns = s->GetNamespace(req->nsid());
  if (!ns) return Answer(rep, ENOENT, prefix + ": Can't find entry for namespace " + Str(req->nsid()) + " in " + nqn);
  const uint32_t old_grp = ns->anagrpid();
  const uint32_t grp = static_cast<uint32_t>(req->anagrpid());
  if (Status st = target_->SetNamespaceAnaGroup(nqn, req->nsid(), grp); !st.ok())
    return Answer(rep, st.code(), prefix + ": " + st.message());
  const std::string key = keys::Namespace(nqn, req->nsid());
  auto it = state_.find(key);
  if (it != state_.end()) {
    namespace_add_req add;
    if (JsonToRequest(it->second, &add).ok()) {
      add.set_anagrpid(req->anagrpid());
      if (Status st = Persist({{key, RequestToJson(add)}}, {}); !st.ok()) {
        target_->SetNamespaceAnaGroup(nqn, req->nsid(), old_grp);
        return Answer(rep, EINVAL, "Error persisting namespace load balancing group for namespace with NSID " +
                                       Str(req->nsid()) + " in " + nqn + ": " + st.message());
      }
    }
  }
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_add_host(SC* ctx, const namespace_add_host_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string prefix = "Failure adding host " + req->host_nqn() + " to namespace " + Str(req->nsid()) + " on " + nqn;
  LOG_INFO("Received request to add host %s to namespace %u on %s%s", req->host_nqn().c_str(), req->nsid(), nqn.c_str(),
           PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure adding host to namespace, missing subsystem NQN");
  if (!req->nsid()) return Answer(rep, EINVAL, "Failure adding host to namespace on " + nqn + ", missing NSID");
  if (req->host_nqn() == "*") return Answer(rep, EINVAL, prefix + ": Host NQN can't be \"*\"");
  if (!IsValidStateKeyElement(req->host_nqn()))
    return Answer(rep, EINVAL, prefix + ": Invalid host NQN \"" + req->host_nqn() + "\", contains invalid characters");
  if (opts_.verify_nqns) {
    if (Status st = ValidateHostNqn(req->host_nqn(), false); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  }
  std::lock_guard<std::mutex> lk(mu_);
  if (!target_->FindSubsystem(nqn)) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  if (Status st = target_->AddNamespaceHost(nqn, req->nsid(), req->host_nqn()); !st.ok())
    return Answer(rep, st.code(), prefix + ": " + st.message());
  if (Status st = Persist({{keys::NamespaceHost(nqn, req->nsid(), req->host_nqn()), RequestToJson(*req)}}, {});
      !st.ok()) {
    target_->RemoveNamespaceHost(nqn, req->nsid(), req->host_nqn());
    return Answer(rep, EINVAL, "Error persisting host " + req->host_nqn() + " for namespace " + Str(req->nsid()) + ": " +
                                   st.message());
  }
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_delete_host(SC* ctx, const namespace_delete_host_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string prefix =
      "Failure deleting host " + req->host_nqn() + " from namespace " + Str(req->nsid()) + " on " + nqn;
  LOG_INFO("Received request to delete host %s from namespace %u on %s%s", req->host_nqn().c_str(), req->nsid(),
           nqn.c_str(), PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure deleting host from namespace, missing subsystem NQN");
  if (!req->nsid()) return Answer(rep, EINVAL, "Failure deleting host from namespace on " + nqn + ", missing NSID");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  auto ns = s->GetNamespace(req->nsid());
  if (!ns) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  {
    std::lock_guard<std::mutex> slk(s->mu);
    if (!ns->hosts.count(req->host_nqn())) return Answer(rep, ENOENT, prefix + ": Host is not found in namespace's host list");
  }
  if (Status st = Persist({}, {keys::NamespaceHost(nqn, req->nsid(), req->host_nqn())}); !st.ok())
    return Answer(rep, EINVAL, "Error persisting deletion of host " + req->host_nqn() + " for namespace " +
                                   Str(req->nsid()) + ": " + st.message());
  if (Status st = target_->RemoveNamespaceHost(nqn, req->nsid(), req->host_nqn()); !st.ok())
    return Answer(rep, st.code(), prefix + ": " + st.message());
  return Ok(rep);
}

// ----------------------------------------------------------------------------- hosts

::grpc::Status GatewayService::add_host(SC* ctx, const add_host_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string& host = req->host_nqn();
  const bool any = host == kAnyHostNqn;
  const std::string prefix = any ? "Failure allowing open host access to " + nqn
                                 : "Failure adding host " + host + " to " + nqn;
  LOG_INFO("Received request to %s%s", any ? ("allow any host access for " + nqn).c_str() : ("add host " + host + " to " + nqn).c_str(),
           PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure adding host, missing subsystem NQN");
  if (host.empty()) return Answer(rep, EINVAL, "Failure adding host to " + nqn + ", missing host NQN");
  if (!IsValidStateKeyElement(host))
    return Answer(rep, EINVAL, prefix + ": Invalid host NQN \"" + host + "\", contains invalid characters");
  if (!IsValidStateKeyElement(nqn))
    return Answer(rep, EINVAL, prefix + ": Invalid subsystem NQN \"" + nqn + "\", contains invalid characters");
  if (IsDiscoveryNqn(nqn))
    return Answer(rep, EINVAL, prefix + (any ? ": Can't allow host access to a discovery subsystem"
                                             : ": Can't add host to a discovery subsystem"));
  if (IsDiscoveryNqn(host)) return Answer(rep, EINVAL, prefix + ": Can't use a discovery NQN as host's");
  if (opts_.verify_nqns) {
    if (Status st = ValidateHostNqn(host, true); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  }
  if (req->has_psk() && !req->psk().empty())
    return Answer(rep, EINVAL, prefix + ": PSK (TLS) is not supported by this gateway, add the host without --psk");
  if ((req->has_dhchap_key() && !req->dhchap_key().empty()) ||
      (req->has_dhchap_ctrlr_key() && !req->dhchap_ctrlr_key().empty()))
    return Answer(rep, EINVAL,
                  prefix + ": DH-HMAC-CHAP is not supported by this gateway, add the host without --dhchap-key");
  if (any && ((req->has_psk() && !req->psk().empty()) || (req->has_dhchap_key() && !req->dhchap_key().empty())))
    return Answer(rep, EINVAL, prefix + ": PSK and DH-HMAC-CHAP keys are only allowed for specific hosts");

  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  {
    std::lock_guard<std::mutex> slk(s->mu);
    const bool exists = any ? s->spec().allow_any_host : s->hosts.count(host) > 0;
    if (exists)
      return Answer(rep, EEXIST, prefix + (any ? ": Open host access is already allowed" : ": Host is already added"));
  }
  if (Status st = target_->AddHost(nqn, host); !st.ok()) return Answer(rep, st.code(), prefix + ": " + st.message());
  auto check = [&](const StateMap& cur) -> Status {
    if (cur.count(keys::Host(nqn, host)))
      return Status::AlreadyExists(any ? "Open host access is already allowed" : "Host is already added");
    return Status::OK();
  };
  bool conflict = false;
  if (Status st = Persist({{keys::Host(nqn, host), RequestToJson(*req)}}, {}, check, &conflict); !st.ok()) {
    target_->RemoveHost(nqn, host);
    if (conflict) return Answer(rep, st.code(), prefix + ": " + st.message());
    return Answer(rep, EINVAL, "Error persisting host " + host + " access addition: " + st.message());
  }
  return Ok(rep);
}

::grpc::Status GatewayService::remove_host(SC* ctx, const remove_host_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string& host = req->host_nqn();
  const bool any = host == kAnyHostNqn;
  const std::string prefix = any ? "Failure disabling open host access to " + nqn
                                 : "Failure removing host " + host + " access from " + nqn;
  LOG_INFO("Received request to %s%s",
           any ? ("disable open host access to " + nqn).c_str() : ("remove host " + host + " access from " + nqn).c_str(),
           PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure removing host, missing subsystem NQN");
  if (host.empty()) return Answer(rep, EINVAL, "Failure removing host from " + nqn + ", missing host NQN");
  if (IsDiscoveryNqn(nqn))
    return Answer(rep, EINVAL, prefix + (any ? ": Can't disable open host access to a discovery subsystem"
                                             : ": Can't remove host access from a discovery subsystem"));
  if (IsDiscoveryNqn(host)) return Answer(rep, EINVAL, prefix + ": Can't use a discovery NQN as host's");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  {
    std::lock_guard<std::mutex> slk(s->mu);
    const bool exists = any ? s->spec().allow_any_host : s->hosts.count(host) > 0;
    if (!exists)
      return Answer(rep, ENOENT, prefix + (any ? ": Open host access is not allowed" : ": Host is not found"));
  }
  if (Status st = Persist({}, {keys::Host(nqn, host)}); !st.ok())
    return Answer(rep, EINVAL, "Error persisting host " + host + " access removal: " + st.message());
  if (Status st = target_->RemoveHost(nqn, host); !st.ok()) return Answer(rep, st.code(), prefix + ": " + st.message());
  return Ok(rep);
}

::grpc::Status GatewayService::list_hosts(SC* ctx, const list_hosts_req* req, hosts_info* rep) {
  LOG_DEBUG("Received request to list hosts for %s%s", req->subsystem().c_str(), PeerMsg(ctx).c_str());
  rep->set_subsystem_nqn(req->subsystem());
  if (req->subsystem().empty()) return Answer(rep, EINVAL, "Failure listing hosts, missing subsystem NQN");
  auto s = target_->FindSubsystem(req->subsystem());
  if (!s || s->is_discovery())
    return Answer(rep, ENOENT, "Failure listing hosts, can't get subsystems: No such subsystem " + req->subsystem());
  std::lock_guard<std::mutex> lk(s->mu);
  rep->set_allow_any_host(s->spec().allow_any_host);
  for (auto& h : s->hosts) {
    auto* o = rep->add_hosts();
    o->set_nqn(h);
    o->set_use_psk(false);
    o->set_use_dhchap(false);
  }
  return Ok(rep);
}

::grpc::Status GatewayService::list_connections(SC* ctx, const list_connections_req* req, connections_info* rep) {
  LOG_DEBUG("Received request to list connections for %s%s", req->subsystem().c_str(), PeerMsg(ctx).c_str());
  rep->set_subsystem_nqn(req->subsystem());
  if (req->subsystem().empty()) return Answer(rep, EINVAL, "Failure listing connections, missing subsystem NQN");
  auto s = target_->FindSubsystem(req->subsystem());
  if (!s || s->is_discovery())
    return Answer(rep, ENOENT, "Failure listing connections, can't get subsystems: No such subsystem " + req->subsystem());
  std::set<std::string> hosts;
  {
    std::lock_guard<std::mutex> lk(s->mu);
    hosts = s->hosts;
  }
  for (auto& c : target_->Connections(req->subsystem())) {
    auto* o = rep->add_connections();
    o->set_nqn(c.hostnqn);
    o->set_traddr(c.traddr);
    o->set_trsvcid(static_cast<uint32_t>(std::strtoul(c.trsvcid.c_str(), nullptr, 10)));
    o->set_trtype(std::string(kTcpTransportName));
    o->set_adrfam(c.traddr.find(':') != std::string::npos ? ::ipv6 : ::ipv4);
    o->set_connected(true);
    o->set_qpairs_count(static_cast<int32_t>(c.num_io_queues));
    o->set_controller_id(c.cntlid);
    o->set_secure(false);
    o->set_use_psk(false);
    o->set_use_dhchap(false);
    hosts.erase(c.hostnqn);
  }
  for (auto& h : hosts) {
    auto* o = rep->add_connections();
    o->set_nqn(h);
    o->set_connected(false);
    o->set_traddr("<n/a>");
    o->set_trsvcid(0);
    o->set_qpairs_count(-1);
    o->set_controller_id(-1);
  }
  return Ok(rep);
}

// ----------------------------------------------------------------------------- listeners

::grpc::Status GatewayService::create_listener(SC* ctx, const create_listener_req* req, req_status* rep) {
  const uint32_t port = req->has_trsvcid() ? req->trsvcid() : kDefaultTrsvcid;
  const std::string& nqn = req->nqn();
  const std::string prefix = "Failure adding " + nqn + " listener at " + req->traddr() + ":" + Str(port);
  if (!::AddressFamily_IsValid(req->adrfam()))
    return Answer(rep, ENOKEY, prefix + ": Unknown address family " + std::to_string(req->adrfam()));
  LOG_INFO("Received request to create %s TCP %s listener for %s at %s:%u%s", req->host_name().c_str(),
           req->adrfam() == ::ipv6 ? "ipv6" : "ipv4", nqn.c_str(), req->traddr().c_str(), port, PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure adding listener, missing subsystem NQN");
  if (IsDiscoveryNqn(nqn)) return Answer(rep, EINVAL, prefix + ": Can't create a listener for a discovery subsystem");
  if (!IsValidStateKeyElement(req->host_name()))
    return Answer(rep, EINVAL, prefix + ": Host name \"" + req->host_name() + "\" contains invalid characters");
  if (Status st = ValidateHostName(req->host_name()); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  if (Status st = ValidateListenerAddress(req->traddr(), static_cast<api::AddressFamily>(req->adrfam())); !st.ok())
    return Answer(rep, EINVAL, prefix + ": " + st.message());
  if (Status st = ValidatePort(port); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  if (req->secure())
    return Answer(rep, EINVAL, prefix + ": secure (TLS) listeners are not supported by this gateway, add it without --secure");

  create_listener_req stored = *req;
  stored.set_trsvcid(port);
  stored.set_adrfam(req->adrfam());
  stored.set_traddr(KeyAddress(req->traddr()));
  const std::string key = keys::Listener(nqn, req->host_name(), req->traddr(), port);

  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  if (state_.count(key)) return Answer(rep, EEXIST, prefix + ": Subsystem already listens on this address");
  auto listener_check = [&](const StateMap& cur) -> Status {
    if (cur.count(key)) return Status::AlreadyExists("Subsystem already listens on this address");
    return Status::OK();
  };
  if (!IsLocal(req->host_name())) {
    // Another gateway of the group opens it: store it (that gateway applies it from the state).
    bool conflict = false;
    if (Status st = Persist({{key, RequestToJson(stored)}}, {}, listener_check, &conflict); !st.ok()) {
      if (conflict) return Answer(rep, st.code(), prefix + ": " + st.message());
      return Answer(rep, EINVAL, "Error persisting listener " + req->traddr() + ":" + Str(port) + ": " + st.message());
    }
    return Answer(rep, EREMOTE, prefix + ": Gateway's host name must match current host (" + opts_.hostname +
                                    "); the listener was stored for gateway " + req->host_name() +
                                    ", which opens it");
  }
  ListenerSpec l = MakeListenerSpec(req->host_name(), req->traddr(), port, req->adrfam());
  {
    std::lock_guard<std::mutex> slk(s->mu);
    if (s->listeners.count(l)) return Answer(rep, EEXIST, prefix + ": Subsystem already listens on this address");
  }
  if (Status st = target_->AddListener(nqn, l); !st.ok()) return Answer(rep, st.code(), prefix + ": " + st.message());
  ApplyAnaToListener(nqn, l);
  bool conflict = false;
  if (Status st = Persist({{key, RequestToJson(stored)}}, {}, listener_check, &conflict); !st.ok()) {
    target_->RemoveListener(nqn, l);
    if (conflict) return Answer(rep, st.code(), prefix + ": " + st.message());
    return Answer(rep, EINVAL, "Error persisting listener " + req->traddr() + ":" + Str(port) + ": " + st.message());
  }
  return Ok(rep);
}

::grpc::Status GatewayService::delete_listener(SC* ctx, const delete_listener_req* req, req_status* rep) {
  const uint32_t port = req->has_trsvcid() ? req->trsvcid() : kDefaultTrsvcid;
  const std::string& nqn = req->nqn();
  const std::string traddr = KeyAddress(req->traddr());
  const std::string prefix = "Listener " + traddr + ":" + Str(port) + " failed to delete from " + nqn;
  if (!::AddressFamily_IsValid(req->adrfam()))
    return Answer(rep, ENOKEY, prefix + ". Unknown address family " + std::to_string(req->adrfam()));
  LOG_INFO("Received request to delete TCP listener of %s for subsystem %s at %s:%u%s%s",
           req->host_name() == "*" ? "all hosts" : ("host " + req->host_name()).c_str(), nqn.c_str(), traddr.c_str(),
           port, req->force() ? " forcefully" : "", PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure deleting listener, missing subsystem NQN");
  if (req->host_name() == "*" && !req->force())
    return Answer(rep, EINVAL, prefix + ". Must use the \"--force\" parameter when setting the host name to \"*\".");
  if (IsDiscoveryNqn(nqn)) return Answer(rep, EINVAL, prefix + ". Can't delete a listener from a discovery subsystem");
  if (req->host_name().empty()) return Answer(rep, EINVAL, prefix + ". Missing host name");
  if (Status st = ValidatePort(port); !st.ok()) return Answer(rep, EINVAL, prefix + ". " + st.message());

  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ". No such subsystem");
  ListenerSpec l = MakeListenerSpec(opts_.gateway_name, req->traddr(), port, req->adrfam());
  const bool mine = IsLocal(req->host_name()) || req->host_name() == "*";
  bool in_target = false;
  {
    std::lock_guard<std::mutex> slk(s->mu);
    in_target = mine && s->listeners.count(l) > 0;
  }
  if (!req->force() && in_target) {
    for (auto& c : target_->Connections(nqn)) {
      if (c.trsvcid == l.trsvcid && (c.traddr == l.traddr || l.traddr == "0.0.0.0" || l.traddr == "::"))
        return Answer(rep, ENOTEMPTY, prefix + " due to active connections for " + req->traddr() + ":" + Str(port) +
                                          ". Deleting the listener terminates active connections. You can continue to "
                                          "delete the listener by adding the `--force` parameter.");
    }
  }
  std::vector<std::string> remove;
  if (req->host_name() == "*") {
    const std::string p = "listener_" + nqn + "_";
    const std::string tail = "_" + std::string(kTcpTransportName) + "_" + traddr + "_" + Str(port);
    for (auto& [k, v] : state_)
      if (StartsWith(k, p) && k.size() > tail.size() && k.compare(k.size() - tail.size(), tail.size(), tail) == 0)
        remove.push_back(k);
  } else {
    const std::string key = keys::Listener(nqn, req->host_name(), req->traddr(), port);
    if (state_.count(key)) remove.push_back(key);
  }
  if (remove.empty() && !in_target) return Answer(rep, ENOENT, prefix + ". No such listener");
  if (!IsLocal(req->host_name()) && req->host_name() != "*" && !req->force())
    return Answer(rep, ENOENT, prefix + ". Gateway's host name must match current host (" + opts_.hostname +
                                   "). You can continue to delete the listener by adding the `--force` parameter.");
  if (Status st = Persist({}, remove); !st.ok())
    return Answer(rep, EINVAL, "Error persisting deletion of listener " + traddr + ":" + Str(port) + " from " + nqn +
                                   ": " + st.message());
  if (in_target) {
    if (Status st = target_->RemoveListener(nqn, l); !st.ok()) return Answer(rep, st.code(), prefix + ": " + st.message());
  }
  return Ok(rep);
}

::grpc::Status GatewayService::list_listeners(SC* ctx, const list_listeners_req* req, listeners_info* rep) {
  LOG_DEBUG("Received request to list listeners for %s%s", req->subsystem().c_str(), PeerMsg(ctx).c_str());
  if (req->subsystem().empty()) return Answer(rep, EINVAL, "Failure listing listeners, missing subsystem NQN");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(req->subsystem());
  if ((!s || s->is_discovery()) && !state_.count(keys::Subsystem(req->subsystem())))
    return Answer(rep, ENOENT, "Failure listing listeners: No such subsystem " + req->subsystem());
  const std::string p = "listener_" + req->subsystem() + "_";
  std::set<std::string> listed;  // this gateway's, "traddr:trsvcid"
  for (auto& [k, v] : state_) {
    if (!StartsWith(k, p)) continue;
    create_listener_req l;
    if (!JsonToRequest(v, &l).ok()) continue;
    auto* o = rep->add_listeners();
    o->set_host_name(l.host_name());
    o->set_trtype(std::string(kTcpTransportName));
    o->set_adrfam(l.adrfam());
    o->set_traddr(l.traddr());
    o->set_trsvcid(l.has_trsvcid() ? l.trsvcid() : kDefaultTrsvcid);
    o->set_secure(l.secure());
    if (IsLocal(l.host_name())) listed.insert(UnescapeAddress(l.traddr()) + ":" + Str(o->trsvcid()));
  }
  // Listeners this gateway has that are not in the group state (--subsystem/--listen).
  if (s && !s->is_discovery()) {
    std::lock_guard<std::mutex> slk(s->mu);
    for (auto& l : s->listeners) {
      if (listed.count(l.traddr + ":" + l.trsvcid)) continue;
      auto* o = rep->add_listeners();
      o->set_host_name(opts_.gateway_name);
      o->set_trtype(std::string(kTcpTransportName));
      o->set_adrfam(l.adrfam == nvme::kAdrfamIpv6 ? ::ipv6 : ::ipv4);
      o->set_traddr(KeyAddress(l.traddr));
      o->set_trsvcid(static_cast<uint32_t>(std::strtoul(l.trsvcid.c_str(), nullptr, 10)));
      o->set_secure(l.secure);
    }
  }
  return Ok(rep);
}

// ----------------------------------------------------------------------------- ANA

::grpc::Status GatewayService::set_ana_state(SC* ctx, const ana_info* req, req_status* rep) {
  LOG_INFO("Received request to set ana states for %d subsystem(s)%s", req->states_size(), PeerMsg(ctx).c_str());
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& nas : req->states()) {
    for (auto& gs : nas.states()) {
      // Like the reference: optimized, or else inaccessible.
      ana_map_[nas.nqn()][gs.grp_id()] = gs.state() == ::OPTIMIZED ? nvme::kAnaOptimized : nvme::kAnaInaccessible;
    }
    auto s = target_->FindSubsystem(nas.nqn());
    if (!s || s->is_discovery()) continue;  // not created yet: applied when its listeners come
    std::set<ListenerSpec> ls;
    {
      std::lock_guard<std::mutex> slk(s->mu);
      ls = s->listeners;
    }
    for (auto& l : ls) {
      for (auto& gs : nas.states()) {
        uint8_t state = gs.state() == ::OPTIMIZED ? nvme::kAnaOptimized : nvme::kAnaInaccessible;
        Status st = target_->SetAnaState(nas.nqn(), l.traddr, l.trsvcid, gs.grp_id(), state);
        if (!st.ok()) {
          LOG_ERROR("set_ana_state %s %s:%s group %u: %s", nas.nqn().c_str(), l.traddr.c_str(), l.trsvcid.c_str(),
                    gs.grp_id(), st.ToString().c_str());
          return ::grpc::Status(::grpc::StatusCode::INTERNAL,
                                "setting ANA state of group " + Str(gs.grp_id()) + " on " + nas.nqn() + " " +
                                    l.traddr + ":" + l.trsvcid + ": " + st.message());
        }
      }
    }
  }
  rep->set_status(1);  // the reference answers True
  rep->set_error_message("");
  return ::grpc::Status::OK;
}

// ----------------------------------------------------------------------------- logs, info

::grpc::Status GatewayService::get_spdk_nvmf_log_flags_and_level(SC* ctx, const get_spdk_nvmf_log_flags_and_level_req*,
                                                                  spdk_nvmf_log_flags_and_level_info* rep) {
  LOG_INFO("Received request to get SPDK nvmf log flags and level%s", PeerMsg(ctx).c_str());
  std::lock_guard<std::mutex> lk(mu_);
  // There is no SPDK here: report the levels last set (no-op), and one "nvmf" flag that
  // says whether the gateway logs at debug level.
  auto* f = rep->add_nvmf_log_flags();
  f->set_name("nvmf");
  f->set_enabled(GetLogLevel() == nvmeof::LogLevel::kDebug);
  rep->set_log_level(static_cast<::LogLevel>(spdk_log_level_));
  rep->set_log_print_level(static_cast<::LogLevel>(spdk_print_level_));
  return Ok(rep);
}

::grpc::Status GatewayService::disable_spdk_nvmf_logs(SC* ctx, const disable_spdk_nvmf_logs_req*, req_status* rep) {
  LOG_INFO("Received request to disable SPDK nvmf logs%s (no SPDK in this gateway: accepted, nothing to do)",
           PeerMsg(ctx).c_str());
  std::lock_guard<std::mutex> lk(mu_);
  spdk_log_level_ = ::NOTICE;
  spdk_print_level_ = ::INFO;
  return Ok(rep);
}

::grpc::Status GatewayService::set_spdk_nvmf_logs(SC* ctx, const set_spdk_nvmf_logs_req* req, req_status* rep) {
  if (req->has_log_level() && !::LogLevel_IsValid(req->log_level()))
    return Answer(rep, ENOKEY, "Unknown log level " + std::to_string(req->log_level()));
  if (req->has_print_level() && !::LogLevel_IsValid(req->print_level()))
    return Answer(rep, ENOKEY, "Unknown print level " + std::to_string(req->print_level()));
  LOG_INFO("Received request to set SPDK nvmf logs%s (no SPDK in this gateway: accepted, nothing to do; use "
           "set_gateway_log_level)",
           PeerMsg(ctx).c_str());
  std::lock_guard<std::mutex> lk(mu_);
  if (req->has_log_level()) spdk_log_level_ = req->log_level();
  if (req->has_print_level()) spdk_print_level_ = req->print_level();
  return Ok(rep);
}

::grpc::Status GatewayService::get_gateway_info(SC* ctx, const get_gateway_info_req* req, gateway_info* rep) {
  LOG_INFO("Received request to get gateway's info%s", PeerMsg(ctx).c_str());
  std::string version = opts_.version;
  if (const char* v = getenv("NVMEOF_VERSION"); v && *v) version = v;
  rep->set_cli_version(req->cli_version());
  rep->set_version(version);
  rep->set_name(opts_.gateway_name);
  rep->set_group(opts_.group);
  rep->set_addr(opts_.addr);
  rep->set_port(opts_.port);
  rep->set_load_balancing_group(opts_.load_balancing_group);
  rep->set_hostname(opts_.hostname);
  rep->set_bool_status(true);
  rep->set_status(0);
  rep->set_error_message(kSuccess);
  auto cli = ParseVersion(req->cli_version());
  auto gw = ParseVersion(version);
  if (cli && gw && *cli < *gw) {
    rep->set_bool_status(false);
    rep->set_status(EINVAL);
    rep->set_error_message("CLI version " + req->cli_version() + " is older than gateway's version " + version);
  } else if (version.empty()) {
    rep->set_bool_status(false);
    rep->set_status(ENOKEY);
    rep->set_error_message("Gateway's version not found");
  } else if (!gw) {
    rep->set_bool_status(false);
    rep->set_status(EINVAL);
    rep->set_error_message("Invalid gateway's version " + version);
  }
  return ::grpc::Status::OK;
}

::grpc::Status GatewayService::get_gateway_log_level(SC* ctx, const get_gateway_log_level_req*,
                                                     gateway_log_level_info* rep) {
  const int level = static_cast<int>(GetLogLevel());
  LOG_INFO("Received request to get gateway's log level. Level is %s%s", LogLevelName(GetLogLevel()),
           PeerMsg(ctx).c_str());
  if (!::GwLogLevel_IsValid(level)) return Answer(rep, ENOKEY, "Invalid gateway log level");
  rep->set_log_level(static_cast<::GwLogLevel>(level));
  return Ok(rep);
}

::grpc::Status GatewayService::set_gateway_log_level(SC* ctx, const set_gateway_log_level_req* req, req_status* rep) {
  const int v = req->log_level();
  if (!::GwLogLevel_IsValid(v) || v == ::notset) return Answer(rep, ENOKEY, "Unknown log level " + std::to_string(v));
  LOG_INFO("Received request to set gateway's log level to %s%s", ::GwLogLevel_Name(req->log_level()).c_str(),
           PeerMsg(ctx).c_str());
  SetLogLevel(static_cast<nvmeof::LogLevel>(v));
  return Ok(rep);
}

// ----------------------------------------------------------------------------- StateTarget

Status GatewayService::AddSubsystem(const std::string& json) {
  create_subsystem_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  SubsystemSpec spec;
  spec.nqn = req.subsystem_nqn();
  spec.serial = req.serial_number();
  spec.max_namespaces = req.max_namespaces() ? req.max_namespaces() : opts_.default_max_namespaces;
  spec.allow_any_host = false;
  Status st = target_->AddSubsystem(spec);
  if (st.ok() || st.code() == EEXIST) state_[keys::Subsystem(spec.nqn)] = json;
  return st.code() == EEXIST ? Status::AlreadyExists(st.message()) : st;
}

Status GatewayService::ChangeSubsystem(const std::string&, const std::string& new_json) {
  create_subsystem_req req;
  if (Status st = JsonToRequest(new_json, &req); !st.ok()) return st;
  state_[keys::Subsystem(req.subsystem_nqn())] = new_json;  // nothing the target models changed
  return Status::OK();
}

Status GatewayService::RemoveSubsystem(const std::string& nqn) {
  const bool had = target_->FindSubsystem(nqn) != nullptr;
  RemoveSubsystemFromTarget(nqn);
  for (auto& k : SubsystemKeys(nqn)) state_.erase(k);
  ana_map_.erase(nqn);
  return had ? Status::OK() : Status::NotFound("subsystem " + nqn + " does not exist");
}

Status GatewayService::AddNamespace(const std::string& json) {
  namespace_add_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  auto s = target_->FindSubsystem(req.subsystem_nqn());
  if (!s) return Status::NotFound("subsystem " + req.subsystem_nqn() + " does not exist");
  const std::string key = keys::Namespace(req.subsystem_nqn(), req.nsid());
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
  if (n.anagrpid() > 0 && static_cast<uint32_t>(n.anagrpid()) != ns->anagrpid()) {
    if (Status st = target_->SetNamespaceAnaGroup(n.subsystem_nqn(), n.nsid(), static_cast<uint32_t>(n.anagrpid()));
        !st.ok())
      return st;
  }
  if (n.size() > o.size() && n.size() > ns->dev().size()) {
    if (Status st = target_->ResizeNamespace(n.subsystem_nqn(), n.nsid(), n.size()); !st.ok()) return st;
  }
  if (n.no_auto_visible() != o.no_auto_visible())
    LOG_WARN("namespace %u of %s: no_auto_visible changed in the group state; takes effect when it is re-added",
             n.nsid(), n.subsystem_nqn().c_str());
  state_[keys::Namespace(n.subsystem_nqn(), n.nsid())] = new_json;
  return Status::OK();
}

Status GatewayService::RemoveNamespace(const std::string& nqn, uint32_t nsid) {
  for (auto& k : NamespaceKeys(nqn, nsid)) state_.erase(k);
  return AsNotFound(target_->RemoveNamespace(nqn, nsid));
}

Status GatewayService::AddHost(const std::string& json) {
  add_host_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  Status st = target_->AddHost(req.subsystem_nqn(), req.host_nqn());
  if (st.ok() || st.code() == EEXIST) state_[keys::Host(req.subsystem_nqn(), req.host_nqn())] = json;
  if (st.code() == ENOENT) return Status::NotFound(st.message());
  return st.code() == EEXIST ? Status::AlreadyExists(st.message()) : st;
}

Status GatewayService::ChangeHost(const std::string&, const std::string& new_json) {
  add_host_req req;
  if (Status st = JsonToRequest(new_json, &req); !st.ok()) return st;
  state_[keys::Host(req.subsystem_nqn(), req.host_nqn())] = new_json;  // keys only: not modelled here
  return Status::OK();
}

Status GatewayService::RemoveHost(const std::string& nqn, const std::string& host_nqn) {
  state_.erase(keys::Host(nqn, host_nqn));
  return AsNotFound(target_->RemoveHost(nqn, host_nqn));
}

Status GatewayService::SetQos(const std::string& json) {
  namespace_set_qos_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  Status st = target_->SetNamespaceQos(req.subsystem_nqn(), req.nsid(), QosFromRequest(req, QosLimits{}));
  if (!st.ok()) return AsNotFound(st).code() == ENOENT ? Status::Error(ENODEV, st.message()) : st;
  state_[keys::Qos(req.subsystem_nqn(), req.nsid())] = json;
  return Status::OK();
}

Status GatewayService::ClearQos(const std::string& nqn, uint32_t nsid) {
  state_.erase(keys::Qos(nqn, nsid));
  return AsNotFound(target_->SetNamespaceQos(nqn, nsid, QosLimits{}));
}

Status GatewayService::AddNamespaceHost(const std::string& json) {
  namespace_add_host_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  Status st = target_->AddNamespaceHost(req.subsystem_nqn(), req.nsid(), req.host_nqn());
  if (st.ok() || st.code() == EEXIST)
    state_[keys::NamespaceHost(req.subsystem_nqn(), req.nsid(), req.host_nqn())] = json;
  return st.code() == EEXIST ? Status::AlreadyExists(st.message()) : st;
}

Status GatewayService::RemoveNamespaceHost(const std::string& nqn, uint32_t nsid, const std::string& host_nqn) {
  state_.erase(keys::NamespaceHost(nqn, nsid, host_nqn));
  return AsNotFound(target_->RemoveNamespaceHost(nqn, nsid, host_nqn));
}

Status GatewayService::AddListener(const std::string& json) {
  create_listener_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  const uint32_t port = req.has_trsvcid() ? req.trsvcid() : kDefaultTrsvcid;
  if (!target_->FindSubsystem(req.nqn())) return Status::NotFound("subsystem " + req.nqn() + " does not exist");
  const std::string key = keys::Listener(req.nqn(), req.host_name(), req.traddr(), port);
  if (!IsLocal(req.host_name())) {
    state_[key] = json;  // another gateway's: listed, not opened here
    return Status::OK();
  }
  ListenerSpec l = MakeListenerSpec(req.host_name(), req.traddr(), port, req.adrfam());
  Status st = target_->AddListener(req.nqn(), l);
  if (st.ok()) ApplyAnaToListener(req.nqn(), l);
  if (st.ok() || st.code() == EEXIST) state_[key] = json;
  return st.code() == EEXIST ? Status::AlreadyExists(st.message()) : st;
}

Status GatewayService::RemoveListener(const std::string& json) {
  create_listener_req req;
  if (Status st = JsonToRequest(json, &req); !st.ok()) return st;
  const uint32_t port = req.has_trsvcid() ? req.trsvcid() : kDefaultTrsvcid;
  state_.erase(keys::Listener(req.nqn(), req.host_name(), req.traddr(), port));
  if (!IsLocal(req.host_name())) return Status::OK();
  return AsNotFound(target_->RemoveListener(req.nqn(), MakeListenerSpec(req.host_name(), req.traddr(), port, req.adrfam())));
}

}  // namespace nvmeof::api
