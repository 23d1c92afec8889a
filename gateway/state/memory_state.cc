// The in-memory StateStore (a single gateway without Ceph, tests) and the write checks
// shared with the RADOS store.
#include <mutex>
#include <set>
#include <utility>

#include "gateway/state/state_internal.h"
#include "gateway/state/state_keys.h"
#include "gateway/state/state_store.h"

namespace nvmeof {

namespace state_internal {

Status ValidateWrite(const StateMap& puts, const std::vector<std::string>& removes) {
  for (const auto& [key, value] : puts) {
    if (key.empty()) return Status::Error(state::errc::kBadKey, "state key is empty");
    if (key == kOmapVersionKey) return Status::Error(state::errc::kBadKey, "state key omap_version is reserved");
  }
  std::set<std::string> seen;
  for (const auto& key : removes) {
    if (key.empty()) return Status::Error(state::errc::kBadKey, "state key is empty");
    if (key == kOmapVersionKey) return Status::Error(state::errc::kBadKey, "state key omap_version is reserved");
    if (puts.count(key)) return Status::Error(state::errc::kBadKey, "state key " + key + " is both put and removed");
  }
  return Status::OK();
}

}  // namespace state_internal

namespace {

// No other writer exists, so after Start() the subscriber is never called again.
class MemoryStateStore final : public StateStore {
 public:
  Status Put(const std::string& key, const std::string& json) override { return Apply({{key, json}}, {}); }

  Status Remove(const std::string& key) override {
    if (Status s = state_internal::ValidateWrite({}, {key}); !s.ok()) return s;
    std::lock_guard lock(mu_);
    if (!map_.erase(key)) return Status::Error(state::errc::kKeyNotFound, "state key " + key + " not found");
    ++version_;
    return Status::OK();
  }

  Status Apply(const StateMap& puts, const std::vector<std::string>& removes) override {
    if (Status s = state_internal::ValidateWrite(puts, removes); !s.ok()) return s;
    std::lock_guard lock(mu_);
    ApplyLocked(puts, removes);
    return Status::OK();
  }

  Status Mutate(const Mutation& fn, uint64_t* new_version) override {
    if (new_version) *new_version = 0;
    std::lock_guard lock(mu_);  // fn runs under the lock, as with RADOS
    StateMap puts;
    std::vector<std::string> removes;
    if (Status s = fn(map_, version_, &puts, &removes); !s.ok()) return s;
    if (Status s = state_internal::ValidateWrite(puts, removes); !s.ok()) return s;
    if (ApplyLocked(puts, removes) && new_version) *new_version = version_;
    return Status::OK();
  }

  Result<StateMap> ReadAll(uint64_t* version) override {
    std::lock_guard lock(mu_);
    if (version) *version = version_;
    return map_;
  }

  void Subscribe(std::function<void(const StateMap&, uint64_t version)> cb) override {
    std::lock_guard lock(mu_);
    cb_ = std::move(cb);
  }

  Status Start() override {
    std::function<void(const StateMap&, uint64_t)> cb;
    StateMap snapshot;
    uint64_t version;
    {
      std::lock_guard lock(mu_);
      cb = cb_;
      snapshot = map_;
      version = version_;
    }
    if (cb) cb(snapshot, version);
    return Status::OK();
  }

  void Stop() override {}

 private:
  bool ApplyLocked(const StateMap& puts, const std::vector<std::string>& removes) {
    bool changed = !puts.empty();
    for (const auto& key : removes) changed |= map_.erase(key) > 0;
    for (const auto& [key, value] : puts) map_[key] = value;
    if (changed) ++version_;
    return changed;
  }

  std::mutex mu_;
  StateMap map_;
  uint64_t version_ = 1;
  std::function<void(const StateMap&, uint64_t)> cb_;
};

}  // namespace

std::unique_ptr<StateStore> NewMemoryStateStore() { return std::make_unique<MemoryStateStore>(); }

}  // namespace nvmeof
