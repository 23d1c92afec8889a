// GroupStore in memory (tests): several stores on one MemoryCluster. See group_store.h.
#include <algorithm>
#include <mutex>

#include "gateway/ha/group_store.h"

namespace nvmeof::ha {

class MemoryCluster {
 public:
  explicit MemoryCluster(std::function<uint64_t()> clock) : clock_(std::move(clock)) {}

  struct Lease {
    Holder holder;
    uint64_t expires = 0;
    std::map<std::string, LeaseRecord> records;
  };

  std::mutex mu;
  std::function<uint64_t()> clock_;
  std::map<std::string, MemberInfo> members;
  std::map<std::string, std::pair<uint64_t, uint64_t>> alive;  // name -> (epoch, expires)
  std::map<uint32_t, Lease> leases;
  std::set<std::string> blocklist;
  std::map<uint64_t, std::function<void()>> watchers;
  uint64_t next_id = 1;

  uint64_t Now() const { return clock_(); }
  Lease& LeaseOf(uint32_t g) {
    Lease& l = leases[g];
    if (!l.holder.empty() && Now() >= l.expires) l.holder = Holder{};
    return l;
  }
};

std::shared_ptr<MemoryCluster> NewMemoryCluster(std::function<uint64_t()> clock) {
  return std::make_shared<MemoryCluster>(std::move(clock));
}

std::set<std::string> MemoryBlocklist(const MemoryCluster& cluster) {
  auto& c = const_cast<MemoryCluster&>(cluster);
  std::lock_guard lk(c.mu);
  return c.blocklist;
}

void MemoryBlocklistAdd(MemoryCluster& cluster, const std::string& address) {
  std::lock_guard lk(cluster.mu);
  cluster.blocklist.insert(address);
}

namespace {

class MemoryGroupStore final : public GroupStore {
 public:
  explicit MemoryGroupStore(std::shared_ptr<MemoryCluster> c) : c_(std::move(c)) { NewAddress(); }
  ~MemoryGroupStore() override {
    std::lock_guard lk(c_->mu);
    c_->watchers.erase(id_);
  }

  Result<MemberInfo> Register(const MemberInfo& me, MemberInfo* previous) override {
    std::lock_guard lk(c_->mu);
    if (Status s = Check(); !s.ok()) return s;
    MemberInfo rec = me;
    *previous = MemberInfo{};
    if (auto it = c_->members.find(me.name); it != c_->members.end()) {
      *previous = it->second;
      rec.home_group = it->second.home_group;
    } else {
      std::vector<MemberInfo> all;
      for (auto& [n, m] : c_->members) all.push_back(m);
      rec.home_group = LowestFreeHomeGroup(all);
      if (rec.home_group == 0) return Status::Error(errc::kNoFreeHomeGroup, "no free home ANA group");
    }
    CntlidRangeFor(rec.home_group, &rec.min_cntlid, &rec.max_cntlid);
    c_->members[me.name] = rec;
    return rec;
  }

  Status UpdateMember(const MemberInfo& me) override {
    std::lock_guard lk(c_->mu);
    if (Status s = Check(); !s.ok()) return s;
    auto it = c_->members.find(me.name);
    if (it == c_->members.end()) return Status::NotFound("member " + me.name + " not registered");
    uint32_t home = it->second.home_group;
    it->second = me;
    it->second.home_group = home;
    CntlidRangeFor(home, &it->second.min_cntlid, &it->second.max_cntlid);
    return Status::OK();
  }

  Status RemoveMember(const std::string& name) override {
    std::lock_guard lk(c_->mu);
    if (Status s = Check(); !s.ok()) return s;
    if (auto a = c_->alive.find(name); a != c_->alive.end() && c_->Now() < a->second.second)
      return Status::Error(errc::kMemberAlive, "gateway " + name + " is alive");
    if (!c_->members.erase(name)) return Status::Error(errc::kMemberNotFound, "no member " + name);
    return Status::OK();
  }

  Result<std::vector<MemberInfo>> Members() override {
    std::lock_guard lk(c_->mu);
    if (Status s = Check(); !s.ok()) return s;
    std::vector<MemberInfo> out;
    for (auto& [n, m] : c_->members) out.push_back(m);
    return out;
  }

  Status Heartbeat(const Holder& me, uint64_t duration_ns) override {
    std::lock_guard lk(c_->mu);
    if (Status s = Check(); !s.ok()) return s;
    c_->alive[me.name] = {me.epoch, c_->Now() + duration_ns};
    return Status::OK();
  }

  Status Leave(const Holder& me) override {
    std::lock_guard lk(c_->mu);
    if (Status s = Check(); !s.ok()) return s;
    c_->alive.erase(me.name);
    return Status::OK();
  }

  Result<std::vector<Holder>> Alive() override {
    std::lock_guard lk(c_->mu);
    if (Status s = Check(); !s.ok()) return s;
    std::vector<Holder> out;
    for (auto& [n, a] : c_->alive)
      if (c_->Now() < a.second) out.push_back(Holder{n, a.first});
    return out;
  }

  Result<LeaseView> ReadLease(uint32_t group) override {
    std::lock_guard lk(c_->mu);
    if (Status s = Check(); !s.ok()) return s;
    auto& l = c_->LeaseOf(group);
    LeaseView v;
    v.holder = l.holder;
    v.records = l.records;
    return v;
  }

  LeaseResult Acquire(uint32_t group, const Holder& me, const std::vector<std::string>& addresses,
                      uint64_t duration_ns) override {
    std::lock_guard lk(c_->mu);
    if (Status s = Check(); !s.ok()) return LeaseResult::kBlocklisted;
    auto& l = c_->LeaseOf(group);
    if (!l.holder.empty() && l.holder != me) return LeaseResult::kBusy;
    l.holder = me;
    l.expires = c_->Now() + duration_ns;
    l.records[me.name] = LeaseRecord{me, addresses, ""};
    return LeaseResult::kOk;
  }

  LeaseResult Renew(uint32_t group, const Holder& me, uint64_t duration_ns) override {
    std::lock_guard lk(c_->mu);
    if (Status s = Check(); !s.ok()) return LeaseResult::kBlocklisted;
    auto& l = c_->LeaseOf(group);
    if (l.holder != me) return LeaseResult::kLost;
    l.expires = c_->Now() + duration_ns;
    return LeaseResult::kOk;
  }

  Status UpdateRecord(uint32_t group, const Holder& me, const std::vector<std::string>& addresses,
                      const std::string& handover_to) override {
    std::lock_guard lk(c_->mu);
    if (Status s = Check(); !s.ok()) return s;
    c_->leases[group].records[me.name] = LeaseRecord{me, addresses, handover_to};
    return Status::OK();
  }

  LeaseResult Release(uint32_t group, const Holder& me) override {
    std::lock_guard lk(c_->mu);
    if (Status s = Check(); !s.ok()) return LeaseResult::kBlocklisted;
    auto& l = c_->LeaseOf(group);
    if (auto it = l.records.find(me.name); it != l.records.end() && it->second.holder == me) l.records.erase(it);
    if (l.holder == me) l.holder = Holder{};
    return LeaseResult::kOk;
  }

  Status RemoveRecords(uint32_t group, const std::vector<std::string>& names) override {
    std::lock_guard lk(c_->mu);
    if (Status s = Check(); !s.ok()) return s;
    for (auto& n : names) c_->leases[group].records.erase(n);
    return Status::OK();
  }

  Status Blocklist(const std::vector<std::string>& addresses, uint32_t) override {
    std::lock_guard lk(c_->mu);
    if (Status s = Check(); !s.ok()) return s;
    for (auto& a : addresses) c_->blocklist.insert(a);
    return Status::OK();
  }

  Status Notify() override {
    std::vector<std::function<void()>> cbs;
    {
      std::lock_guard lk(c_->mu);
      if (Status s = Check(); !s.ok()) return s;
      for (auto& [id, cb] : c_->watchers) cbs.push_back(cb);
    }
    for (auto& cb : cbs) cb();
    return Status::OK();
  }

  void Watch(std::function<void()> cb) override {
    std::lock_guard lk(c_->mu);
    c_->watchers[id_] = std::move(cb);
  }

  std::vector<std::string> Addresses() override {
    std::lock_guard lk(c_->mu);
    return {address_};
  }

  Status Reconnect() override {
    std::lock_guard lk(c_->mu);
    std::function<void()> cb;
    if (auto it = c_->watchers.find(id_); it != c_->watchers.end()) {
      cb = std::move(it->second);
      c_->watchers.erase(it);
    }
    NewAddressLocked();
    if (cb) c_->watchers[id_] = std::move(cb);
    return Status::OK();
  }

 private:
  Status Check() const {
    if (c_->blocklist.count(address_)) return Status::Error(errc::kBlocklisted, "client " + address_ + " is blocklisted");
    return Status::OK();
  }
  void NewAddress() {
    std::lock_guard lk(c_->mu);
    NewAddressLocked();
  }
  void NewAddressLocked() {
    id_ = c_->next_id++;
    address_ = "memory:0/" + std::to_string(id_);
  }

  std::shared_ptr<MemoryCluster> c_;
  uint64_t id_ = 0;
  std::string address_;
};

}  // namespace

std::unique_ptr<GroupStore> NewMemoryGroupStore(std::shared_ptr<MemoryCluster> cluster) {
  return std::make_unique<MemoryGroupStore>(std::move(cluster));
}

}  // namespace nvmeof::ha
