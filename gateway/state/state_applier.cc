// StateApplier: diff of two state maps, replayed onto a StateTarget in dependency order.
// The rules are documented in state_applier.h.
#include "gateway/state/state_applier.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "gateway/common/log.h"

namespace nvmeof {

// ------------------------------------------------------------------ plan

namespace {

// Order inside one kind: NQN, NSID numerically, host / address.
bool KeyLess(const StateKey& a, const StateKey& b) {
  return std::tie(a.nqn, a.nsid, a.host, a.trtype, a.traddr, a.trsvcid) <
         std::tie(b.nqn, b.nsid, b.host, b.trtype, b.traddr, b.trsvcid);
}

// Fields whose change a target can apply to the live item (see state_applier.h).
const std::set<std::string>& InPlaceFields(StateKeyKind kind) {
  static const std::set<std::string> kSubsystem = {"dhchap_key", "key_encrypted", "enable_ha", "no_group_append",
                                                   "network_mask"};
  static const std::set<std::string> kNamespace = {"size",         "anagrpid",    "no_auto_visible",
                                                   "force",        "create_image", "trash_image",
                                                   "disable_auto_resize", "location"};
  static const std::set<std::string> kHost = {"psk", "dhchap_key", "dhchap_ctrlr_key", "key_encrypted",
                                              "psk_encrypted", "ctrlr_key_encrypted"};
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
  if (kind == StateKeyKind::kRefreshSize) return Diff::kChange;  // a new time: a new resize
  if (kind == StateKeyKind::kKeepConnected) return Diff::kSame;  // the key says it all
  const std::optional<bool> same = SameJsonObject(old_s, new_s);
  if (!same) return Diff::kReplace;
  if (*same) return Diff::kSame;  // same JSON, other spelling (whitespace, field order)
  if (kind == StateKeyKind::kQos) return Diff::kChange;
  const auto& fields = InPlaceFields(kind);
  if (fields.empty()) return Diff::kReplace;
  return SameJsonObject(old_s, new_s, fields).value_or(false) ? Diff::kChange : Diff::kReplace;
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
    bool under_namespace = (key.kind == StateKeyKind::kQos || key.kind == StateKeyKind::kNamespaceHost ||
                            key.kind == StateKeyKind::kRefreshSize) &&
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
  // Keep-connected marks first: a host removal in the same map must see its mark.
  std::vector<StateOp> plan;
  for (auto& op : adds)
    if (op.key.kind == StateKeyKind::kKeepConnected) plan.push_back(std::move(op));
  std::erase_if(adds, [](const StateOp& op) { return op.key.kind == StateKeyKind::kKeepConnected; });
  plan.insert(plan.end(), removes.begin(), removes.end());
  plan.insert(plan.end(), adds.begin(), adds.end());
  return plan;
}

// ------------------------------------------------------------------ apply

namespace {

// `tolerated`: the predicate of an error that means the target is as wanted already.
bool Done(const Status& s, bool (Status::*tolerated)() const) { return s.ok() || (tolerated && (s.*tolerated)()); }

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
  // Namespaces this plan adds: their device is opened now and has the image's size already,
  // so a refresh-size mark next to them is not acted on (the reference does the same while
  // it comes up).
  std::set<std::pair<std::string, uint32_t>> added_namespaces;
  for (const StateOp& op : plan)
    if (op.type == StateOp::Type::kAdd && op.key.kind == StateKeyKind::kNamespace)
      added_namespaces.insert({op.key.nqn, op.key.nsid});
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
      auto tolerated = &Status::IsNotFound;
      switch (k.kind) {
        case StateKeyKind::kSubsystem: s = target_->RemoveSubsystem(k.nqn); break;
        case StateKeyKind::kNamespace: s = target_->RemoveNamespace(k.nqn, k.nsid); break;
        case StateKeyKind::kHost: s = target_->RemoveHost(k.nqn, k.host); break;
        case StateKeyKind::kQos: s = target_->ClearQos(k.nqn, k.nsid); break;
        case StateKeyKind::kNamespaceHost: s = target_->RemoveNamespaceHost(k.nqn, k.nsid, k.host); break;
        case StateKeyKind::kRefreshSize: s = target_->ForgetRefreshSizeMark(k.nqn, k.nsid); break;
        case StateKeyKind::kListener: s = target_->RemoveListener(ListenerRemoveJson(k, op.key_string, op.old_json)); break;
        case StateKeyKind::kAutoListener:
          s = target_->RemoveAutoListener(ListenerRemoveJson(k, op.key_string, op.old_json));
          break;
        case StateKeyKind::kKeepConnected: s = target_->ClearKeepConnected(k.nqn, k.host); break;
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
      fail(op, Status::Error(state::errc::kPreviousNotRemoved, "the previous value could not be removed"));
      continue;
    }
    if (k.kind != StateKeyKind::kSubsystem && k.kind != StateKeyKind::kKeepConnected &&
        !applied_.count(SubsystemKey(k.nqn))) {
      fail(op, Status::Error(state::errc::kParentNotApplied, "subsystem " + k.nqn + " is not " +
                                (desired_.count(SubsystemKey(k.nqn)) ? "applied" : "in the state")));
      continue;
    }
    if ((k.kind == StateKeyKind::kQos || k.kind == StateKeyKind::kNamespaceHost ||
         k.kind == StateKeyKind::kRefreshSize) &&
        !applied_.count(NamespaceKey(k.nqn, k.nsid))) {
      fail(op, Status::Error(state::errc::kParentNotApplied, "namespace " + std::to_string(k.nsid) + " of " + k.nqn + " is not " +
                                (desired_.count(NamespaceKey(k.nqn, k.nsid)) ? "applied" : "in the state")));
      continue;
    }
    std::string new_json;
    if (Status s = NormalizeStateJson(k, op.key_string, op.new_json, &new_json); !s.ok()) {
      fail(op, s);
      continue;
    }
    Status s;
    bool (Status::*tolerated)() const = nullptr;
    if (op.type == StateOp::Type::kAdd) {
      tolerated = &Status::IsAlreadyExists;
      switch (k.kind) {
        case StateKeyKind::kSubsystem: s = target_->AddSubsystem(new_json); break;
        case StateKeyKind::kNamespace: s = target_->AddNamespace(new_json); break;
        case StateKeyKind::kHost: s = target_->AddHost(new_json); break;
        case StateKeyKind::kQos: s = target_->SetQos(new_json); break;
        case StateKeyKind::kNamespaceHost: s = target_->AddNamespaceHost(new_json); break;
        case StateKeyKind::kRefreshSize:
          s = target_->RefreshNamespaceSize(k.nqn, k.nsid, new_json, !added_namespaces.count({k.nqn, k.nsid}));
          break;
        case StateKeyKind::kListener: s = target_->AddListener(new_json); break;
        case StateKeyKind::kAutoListener: s = target_->AddAutoListener(new_json); break;
        case StateKeyKind::kKeepConnected: s = target_->SetKeepConnected(new_json); break;
      }
    } else {
      std::string old_json;
      if (!NormalizeStateJson(k, op.key_string, op.old_json, &old_json).ok()) old_json = op.old_json;
      switch (k.kind) {
        case StateKeyKind::kSubsystem: s = target_->ChangeSubsystem(old_json, new_json); break;
        case StateKeyKind::kNamespace: s = target_->ChangeNamespace(old_json, new_json); break;
        case StateKeyKind::kHost: s = target_->ChangeHost(old_json, new_json); break;
        case StateKeyKind::kQos: s = target_->SetQos(new_json); break;
        case StateKeyKind::kRefreshSize: s = target_->RefreshNamespaceSize(k.nqn, k.nsid, new_json, true); break;
        default: s = Status::Error(state::errc::kNoInPlaceChange, "no in-place change for this kind"); break;  // not planned
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
