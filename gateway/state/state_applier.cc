// StateApplier: diff of two state maps, replayed onto a StateTarget in dependency order.
// The rules are documented in state_applier.h.
#include "gateway/state/state_applier.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "gateway/common/log.h"
#include "gateway/common/strings.h"

namespace nvmeof {

using json = nlohmann::json;

const char* StateKeyKindName(StateKeyKind kind) {
  switch (kind) {
    case StateKeyKind::kSubsystem: return "subsystem";
    case StateKeyKind::kNamespace: return "namespace";
    case StateKeyKind::kHost: return "host";
    case StateKeyKind::kQos: return "qos";
    case StateKeyKind::kNamespaceHost: return "namespace host";
    case StateKeyKind::kListener: return "listener";
  }
  return "?";
}

// ------------------------------------------------------------------ keys

namespace {

// True if s starts with prefix; *rest = what follows it.
bool StartsWith(const std::string& s, const char* prefix, std::string* rest) {
  if (!nvmeof::StartsWith(s, prefix)) return false;
  *rest = s.substr(std::char_traits<char>::length(prefix));
  return true;
}

// Splits "a_b" at the first '_' into a (non-empty) and b.
bool SplitFirst(const std::string& s, std::string* head, std::string* tail) {
  size_t p = s.find('_');
  if (p == std::string::npos || p == 0) return false;
  *head = s.substr(0, p);
  *tail = s.substr(p + 1);
  return true;
}

// Splits "a_b" at the last '_' into a and b (b non-empty).
bool SplitLast(const std::string& s, std::string* head, std::string* tail) {
  size_t p = s.rfind('_');
  if (p == std::string::npos || p + 1 == s.size()) return false;
  *head = s.substr(0, p);
  *tail = s.substr(p + 1);
  return true;
}

bool ParseDecimal(const std::string& s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

bool ParseNsid(const std::string& s, uint32_t* nsid) {
  uint64_t v;
  if (!ParseDecimal(s, 0xFFFFFFFEull, &v) || v == 0) return false;
  *nsid = static_cast<uint32_t>(v);
  return true;
}

bool NoUnderscore(const std::string& s) { return !s.empty() && s.find('_') == std::string::npos; }

}  // namespace

std::optional<StateKey> ParseStateKey(const std::string& key) {
  StateKey k;
  std::string rest, tail;
  if (StartsWith(key, "subsystem_", &rest)) {
    if (!NoUnderscore(rest)) return std::nullopt;
    k.kind = StateKeyKind::kSubsystem;
    k.nqn = rest;
    return k;
  }
  if (StartsWith(key, "namespace_", &rest) || StartsWith(key, "qos_", &rest)) {
    k.kind = key[0] == 'n' ? StateKeyKind::kNamespace : StateKeyKind::kQos;
    if (!SplitFirst(rest, &k.nqn, &tail) || !ParseNsid(tail, &k.nsid)) return std::nullopt;
    return k;
  }
  if (StartsWith(key, "ns_host_", &rest) || StartsWith(key, "ns-host_", &rest)) {
    k.kind = StateKeyKind::kNamespaceHost;
    std::string nsid;
    if (!SplitFirst(rest, &k.nqn, &tail) || !SplitFirst(tail, &nsid, &k.host) || !ParseNsid(nsid, &k.nsid) ||
        k.host.empty())
      return std::nullopt;
    return k;
  }
  if (StartsWith(key, "host_", &rest)) {
    k.kind = StateKeyKind::kHost;
    if (!SplitFirst(rest, &k.nqn, &k.host) || k.host.empty()) return std::nullopt;
    return k;
  }
  if (StartsWith(key, "listener_", &rest)) {
    k.kind = StateKeyKind::kListener;
    // <nqn>_[<host_name>_]<trtype>_<traddr>_<trsvcid>, host_name may contain '_'.
    std::string head, head2;
    uint64_t port;
    if (!SplitFirst(rest, &k.nqn, &tail) || !SplitLast(tail, &head, &k.trsvcid) ||
        !ParseDecimal(k.trsvcid, 65535, &port) || !SplitLast(head, &head2, &k.traddr) || head2.empty())
      return std::nullopt;
    if (!SplitLast(head2, &k.host, &k.trtype)) {
      k.host.clear();
      k.trtype = head2;  // no host_name part
    } else if (k.host.empty()) {
      return std::nullopt;
    }
    if (k.trtype.empty() || k.traddr.empty()) return std::nullopt;
    return k;
  }
  return std::nullopt;
}

std::string StateKeyString(const StateKey& k) {
  switch (k.kind) {
    case StateKeyKind::kSubsystem: return SubsystemKey(k.nqn);
    case StateKeyKind::kNamespace: return NamespaceKey(k.nqn, k.nsid);
    case StateKeyKind::kQos: return QosKey(k.nqn, k.nsid);
    case StateKeyKind::kNamespaceHost: return NamespaceHostKey(k.nqn, k.nsid, k.host);
    case StateKeyKind::kHost: return HostKey(k.nqn, k.host);
    case StateKeyKind::kListener:
      if (k.trtype == "TCP" && !k.host.empty()) return ListenerKey(k.nqn, k.host, k.traddr, k.trsvcid);
      return "listener_" + k.nqn + "_" + (k.host.empty() ? "" : k.host + "_") + k.trtype + "_" + k.traddr + "_" +
             k.trsvcid;
  }
  return {};
}

// ------------------------------------------------------------------ plan

namespace {

// Order inside one kind: NQN, NSID numerically, host / address.
bool KeyLess(const StateKey& a, const StateKey& b) {
  return std::tie(a.nqn, a.nsid, a.host, a.trtype, a.traddr, a.trsvcid) <
         std::tie(b.nqn, b.nsid, b.host, b.trtype, b.traddr, b.trsvcid);
}

json ParseObject(const std::string& s) {
  json j = json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return json();  // null
  return j;
}

// Fields whose change a target can apply to the live item (see state_applier.h).
const std::set<std::string>& InPlaceFields(StateKeyKind kind) {
  static const std::set<std::string> kSubsystem = {"dhchap_key", "key_encrypted", "enable_ha", "no_group_append"};
  static const std::set<std::string> kNamespace = {"size",         "anagrpid",    "no_auto_visible",
                                                   "force",        "create_image", "trash_image",
                                                   "disable_auto_resize"};
  static const std::set<std::string> kHost = {"psk", "dhchap_key", "dhchap_ctrlr_key", "key_encrypted",
                                              "psk_encrypted"};
  static const std::set<std::string> kNone;
  switch (kind) {
    case StateKeyKind::kSubsystem: return kSubsystem;
    case StateKeyKind::kNamespace: return kNamespace;
    case StateKeyKind::kHost: return kHost;
    default: return kNone;
  }
}

enum class Diff { kSame, kChange, kReplace };

Diff Classify(StateKeyKind kind, const std::string& old_s, const std::string& new_s) {
  if (old_s == new_s) return Diff::kSame;
  json o = ParseObject(old_s), n = ParseObject(new_s);
  if (o.is_null() || n.is_null()) return Diff::kReplace;
  if (o == n) return Diff::kSame;  // same JSON, other spelling (whitespace, field order)
  if (kind == StateKeyKind::kQos) return Diff::kChange;
  const auto& fields = InPlaceFields(kind);
  if (fields.empty()) return Diff::kReplace;
  for (const auto& f : fields) {
    o.erase(f);
    n.erase(f);
  }
  return o == n ? Diff::kChange : Diff::kReplace;
}

std::map<std::string, StateKey> ParseAll(const StateMap& m) {
  std::map<std::string, StateKey> out;
  for (const auto& [k, v] : m) {
    if (auto p = ParseStateKey(k)) out.emplace(k, *p);
  }
  return out;
}

}  // namespace

std::vector<StateOp> PlanStateChanges(const StateMap& from, const StateMap& to) {
  const auto from_keys = ParseAll(from);
  const auto to_keys = ParseAll(to);

  std::vector<StateOp> removes, adds;  // adds also hold changes
  std::set<std::string> replaced_subsystems;                 // NQNs
  std::set<std::pair<std::string, uint32_t>> replaced_namespaces;
  std::map<std::string, Diff> both;                          // keys in both maps

  for (const auto& [ks, key] : from_keys) {
    auto it = to.find(ks);
    if (it == to.end()) {
      removes.push_back({StateOp::Type::kRemove, key, ks, from.at(ks), {}});
      continue;
    }
    Diff d = Classify(key.kind, from.at(ks), it->second);
    both[ks] = d;
    if (d == Diff::kReplace) {
      if (key.kind == StateKeyKind::kSubsystem) replaced_subsystems.insert(key.nqn);
      if (key.kind == StateKeyKind::kNamespace) replaced_namespaces.insert({key.nqn, key.nsid});
    }
  }
  for (const auto& [ks, key] : to_keys) {
    if (!from_keys.count(ks)) adds.push_back({StateOp::Type::kAdd, key, ks, {}, to.at(ks)});
  }
  // Replacing a parent replaces everything below it that stays.
  for (auto& [ks, d] : both) {
    const StateKey& key = from_keys.at(ks);
    if (d == Diff::kReplace) continue;
    bool under_subsystem = key.kind != StateKeyKind::kSubsystem && replaced_subsystems.count(key.nqn);
    bool under_namespace = (key.kind == StateKeyKind::kQos || key.kind == StateKeyKind::kNamespaceHost) &&
                           replaced_namespaces.count({key.nqn, key.nsid});
    if (under_subsystem || under_namespace) d = Diff::kReplace;
  }
  for (const auto& [ks, d] : both) {
    const StateKey& key = from_keys.at(ks);
    switch (d) {
      case Diff::kSame: break;
      case Diff::kChange: adds.push_back({StateOp::Type::kChange, key, ks, from.at(ks), to.at(ks)}); break;
      case Diff::kReplace:
        removes.push_back({StateOp::Type::kRemove, key, ks, from.at(ks), {}});
        adds.push_back({StateOp::Type::kAdd, key, ks, {}, to.at(ks)});
        break;
    }
  }

  std::stable_sort(removes.begin(), removes.end(), [](const StateOp& a, const StateOp& b) {
    if (a.key.kind != b.key.kind) return a.key.kind > b.key.kind;  // children first
    return KeyLess(a.key, b.key);
  });
  std::stable_sort(adds.begin(), adds.end(), [](const StateOp& a, const StateOp& b) {
    if (a.key.kind != b.key.kind) return a.key.kind < b.key.kind;  // parents first
    return KeyLess(a.key, b.key);
  });
  removes.insert(removes.end(), adds.begin(), adds.end());
  return removes;
}

// ------------------------------------------------------------------ apply

namespace {

// Checks/fills one identity field. `want` is a string or an unsigned number.
bool FixField(json& j, const char* field, const json& want, std::string* why) {
  auto it = j.find(field);
  bool absent = it == j.end() || it->is_null() || (it->is_string() && it->get<std::string>().empty()) ||
                (it->is_number() && it->get<double>() == 0);
  if (absent) {
    j[field] = want;
    return true;
  }
  bool equal;
  if (want.is_number()) {
    // protobuf JSON may spell numbers as strings
    equal = (it->is_number_unsigned() || it->is_number_integer()) ? it->get<uint64_t>() == want.get<uint64_t>()
            : it->is_string()                                     ? it->get<std::string>() == std::to_string(want.get<uint64_t>())
                                                                  : false;
  } else {
    equal = it->is_string() && it->get<std::string>() == want.get<std::string>();
  }
  if (!equal) *why = std::string(field) + " is " + it->dump() + " but the key says " + want.dump();
  return equal;
}

// Makes the JSON's identity fields agree with the key (state_applier.h).
Status Normalize(const StateKey& k, const std::string& key_string, const std::string& in, std::string* out) {
  json j = ParseObject(in);
  if (j.is_null()) return Status::InvalidArgument("value of state key " + key_string + " is not a JSON object");
  std::string why;
  bool ok = true;
  const char* nqn_field = k.kind == StateKeyKind::kListener ? "nqn" : "subsystem_nqn";
  ok = ok && FixField(j, nqn_field, k.nqn, &why);
  if (k.kind == StateKeyKind::kNamespace || k.kind == StateKeyKind::kQos || k.kind == StateKeyKind::kNamespaceHost)
    ok = ok && FixField(j, "nsid", k.nsid, &why);
  if (k.kind == StateKeyKind::kHost || k.kind == StateKeyKind::kNamespaceHost)
    ok = ok && FixField(j, "host_nqn", k.host, &why);
  if (k.kind == StateKeyKind::kListener) {
    if (!k.host.empty()) ok = ok && FixField(j, "host_name", k.host, &why);
    ok = ok && FixField(j, "traddr", k.traddr, &why);
    ok = ok && FixField(j, "trsvcid", static_cast<uint64_t>(std::stoul(k.trsvcid)), &why);
  }
  if (!ok) return Status::InvalidArgument("value of state key " + key_string + " contradicts the key: " + why);
  *out = j.dump();
  return Status::OK();
}

// The JSON RemoveListener gets: the stored one, or one built from the key.
std::string ListenerRemoveJson(const StateKey& k, const std::string& key_string, const std::string& stored) {
  std::string out;
  if (Normalize(k, key_string, stored, &out).ok()) return out;
  json j = {{"nqn", k.nqn}, {"host_name", k.host}, {"traddr", k.traddr},
            {"trsvcid", static_cast<uint64_t>(std::stoul(k.trsvcid))}};
  return j.dump();
}

bool Done(const Status& s, int tolerated) { return s.ok() || s.code() == tolerated; }

}  // namespace

ApplyReport StateApplier::Update(const StateMap& desired, uint64_t version) {
  std::lock_guard lock(mu_);
  if (version >= base_version_) {
    base_ = desired;
    base_.erase(kOmapVersionKey);
    base_version_ = version;
    std::erase_if(local_, [&](const auto& kv) { return kv.second.version <= version; });
    RebuildDesiredLocked();
  } else {
    LOG_WARN("state: ignoring a state map of version %llu older than version %llu",
             static_cast<unsigned long long>(version), static_cast<unsigned long long>(base_version_));
  }
  return ReconcileLocked();
}

ApplyReport StateApplier::Update(const StateMap& desired) {
  std::lock_guard lock(mu_);
  base_ = desired;
  base_.erase(kOmapVersionKey);
  local_.clear();
  RebuildDesiredLocked();
  return ReconcileLocked();
}

ApplyReport StateApplier::Reconcile() {
  std::lock_guard lock(mu_);
  return ReconcileLocked();
}

void StateApplier::RecordLocal(const StateMap& puts, const std::vector<std::string>& removes, uint64_t version) {
  std::lock_guard lock(mu_);
  // desired_ is base_ overlaid with local_: only the keys written here change (no full
  // rebuild, which made every local write cost a copy of the whole state). A write the
  // base already includes (version <= base_version_) changes nothing.
  for (const auto& k : removes) {
    applied_.erase(k);
    if (version > base_version_) {
      local_[k] = LocalWrite{std::nullopt, version};
      desired_.erase(k);
    }
  }
  for (const auto& [k, v] : puts) {
    applied_[k] = v;
    if (version > base_version_) {
      local_[k] = LocalWrite{v, version};
      desired_[k] = v;
    }
  }
}

void StateApplier::RecordLocal(const StateMap& puts, const std::vector<std::string>& removes) {
  std::lock_guard lock(mu_);
  for (const auto& k : removes) {
    applied_.erase(k);
    base_.erase(k);
    local_.erase(k);
    desired_.erase(k);
  }
  for (const auto& [k, v] : puts) {
    applied_[k] = v;
    base_[k] = v;
    local_.erase(k);
    desired_[k] = v;
  }
}

StateMap StateApplier::applied() const {
  std::lock_guard lock(mu_);
  return applied_;
}

StateMap StateApplier::desired() const {
  std::lock_guard lock(mu_);
  return desired_;
}

bool StateApplier::pending() const {
  std::lock_guard lock(mu_);
  return pending_;
}

void StateApplier::RebuildDesiredLocked() {
  desired_ = base_;
  for (const auto& [k, w] : local_) {
    if (w.value)
      desired_[k] = *w.value;
    else
      desired_.erase(k);
  }
}

ApplyReport StateApplier::ReconcileLocked() {
  ApplyReport report;
  for (const auto& [k, v] : desired_) {
    if (!ParseStateKey(k)) report.ignored.push_back(k);
  }
  // Same JSON in another spelling: nothing to do but remember the new spelling.
  for (auto& [k, v] : applied_) {
    auto it = desired_.find(k);
    if (it != desired_.end() && it->second != v) {
      auto key = ParseStateKey(k);
      if (key && Classify(key->kind, v, it->second) == Diff::kSame) v = it->second;
    }
  }

  const std::vector<StateOp> plan = PlanStateChanges(applied_, desired_);
  auto fail = [&](const StateOp& op, Status s) {
    LOG_WARN("state: %s %s failed: %s",
             op.type == StateOp::Type::kRemove   ? "removing"
             : op.type == StateOp::Type::kChange ? "changing"
                                                 : "adding",
             op.key_string.c_str(), s.ToString().c_str());
    report.failed.emplace_back(op.key_string, std::move(s));
  };

  for (const StateOp& op : plan) {
    const StateKey& k = op.key;
    if (op.type == StateOp::Type::kRemove) {
      Status s;
      int tolerated = ENOENT;
      switch (k.kind) {
        case StateKeyKind::kSubsystem: s = target_->RemoveSubsystem(k.nqn); break;
        case StateKeyKind::kNamespace: s = target_->RemoveNamespace(k.nqn, k.nsid); break;
        case StateKeyKind::kHost: s = target_->RemoveHost(k.nqn, k.host); break;
        case StateKeyKind::kQos: s = target_->ClearQos(k.nqn, k.nsid); break;
        case StateKeyKind::kNamespaceHost: s = target_->RemoveNamespaceHost(k.nqn, k.nsid, k.host); break;
        case StateKeyKind::kListener: s = target_->RemoveListener(ListenerRemoveJson(k, op.key_string, op.old_json)); break;
      }
      if (Done(s, tolerated)) {
        applied_.erase(op.key_string);
        ++report.applied;
      } else {
        fail(op, s);
      }
      continue;
    }

    // Additions and changes: the parent must be on the target.
    if (op.type == StateOp::Type::kAdd && applied_.count(op.key_string)) {
      fail(op, Status::Busy("the previous value could not be removed"));
      continue;
    }
    if (k.kind != StateKeyKind::kSubsystem && !applied_.count(SubsystemKey(k.nqn))) {
      fail(op, Status::NotFound("subsystem " + k.nqn + " is not " +
                                (desired_.count(SubsystemKey(k.nqn)) ? "applied" : "in the state")));
      continue;
    }
    if ((k.kind == StateKeyKind::kQos || k.kind == StateKeyKind::kNamespaceHost) &&
        !applied_.count(NamespaceKey(k.nqn, k.nsid))) {
      fail(op, Status::NotFound("namespace " + std::to_string(k.nsid) + " of " + k.nqn + " is not " +
                                (desired_.count(NamespaceKey(k.nqn, k.nsid)) ? "applied" : "in the state")));
      continue;
    }
    std::string new_json;
    if (Status s = Normalize(k, op.key_string, op.new_json, &new_json); !s.ok()) {
      fail(op, s);
      continue;
    }
    Status s;
    int tolerated = 0;
    if (op.type == StateOp::Type::kAdd) {
      tolerated = EEXIST;
      switch (k.kind) {
        case StateKeyKind::kSubsystem: s = target_->AddSubsystem(new_json); break;
        case StateKeyKind::kNamespace: s = target_->AddNamespace(new_json); break;
        case StateKeyKind::kHost: s = target_->AddHost(new_json); break;
        case StateKeyKind::kQos: s = target_->SetQos(new_json); break;
        case StateKeyKind::kNamespaceHost: s = target_->AddNamespaceHost(new_json); break;
        case StateKeyKind::kListener: s = target_->AddListener(new_json); break;
      }
    } else {
      std::string old_json;
      if (!Normalize(k, op.key_string, op.old_json, &old_json).ok()) old_json = op.old_json;
      switch (k.kind) {
        case StateKeyKind::kSubsystem: s = target_->ChangeSubsystem(old_json, new_json); break;
        case StateKeyKind::kNamespace: s = target_->ChangeNamespace(old_json, new_json); break;
        case StateKeyKind::kHost: s = target_->ChangeHost(old_json, new_json); break;
        case StateKeyKind::kQos: s = target_->SetQos(new_json); break;
        default: s = Status::Error(EINVAL, "no in-place change for this kind"); break;  // not planned
      }
    }
    if (Done(s, tolerated)) {
      applied_[op.key_string] = op.new_json;
      ++report.applied;
    } else {
      fail(op, s);
    }
  }
  pending_ = !report.failed.empty();
  return report;
}

}  // namespace nvmeof
