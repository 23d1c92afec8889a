// GroupStore in RADOS: see rados_group_store.h.
#include "gateway/ha/rados_group_store.h"

#include <rados/librados.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/common/log.h"
#include "gateway/ha/all_at_once.h"

namespace nvmeof::ha {
namespace {

using json = nlohmann::json;

constexpr char kMembersLock[] = "ha_members";
constexpr char kAliveLock[] = "ha_alive";
constexpr char kAliveTag[] = "ha";
constexpr char kLeaseLock[] = "ha_lease";
constexpr char kMemberPrefix[] = "gw_";
constexpr char kHolderPrefix[] = "holder_";
constexpr uint32_t kRegisterLockSec = 10;
constexpr int kRegisterWaitMs = 15000;

std::string Err(int r) { return std::strerror(r < 0 ? -r : r); }

std::string Cookie(const Holder& h) { return h.name + "/" + std::to_string(h.epoch); }

Holder ParseCookie(const std::string& c) {
  Holder h;
  auto slash = c.rfind('/');
  if (slash == std::string::npos) return h;
  h.name = c.substr(0, slash);
  h.epoch = std::strtoull(c.c_str() + slash + 1, nullptr, 10);
  return h;
}

struct timeval Duration(uint64_t ns) {
  struct timeval tv;
  tv.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  tv.tv_usec = static_cast<suseconds_t>((ns % 1'000'000'000) / 1000);
  return tv;
}

json MemberJson(const MemberInfo& m) {
  return json{{"name", m.name},          {"epoch", m.epoch},           {"home_group", m.home_group},
              {"listeners", m.listeners}, {"addresses", m.addresses}, {"min_cntlid", m.min_cntlid},
              {"max_cntlid", m.max_cntlid}, {"hosts", m.hosts}};
}

bool ParseMember(const std::string& s, MemberInfo* m) {
  auto j = json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  m->name = j.value("name", "");
  m->epoch = j.value("epoch", uint64_t{0});
  m->home_group = j.value("home_group", 0u);
  m->listeners = j.value("listeners", std::vector<std::string>{});
  m->addresses = j.value("addresses", std::vector<std::string>{});
  m->hosts = j.value("hosts", std::vector<std::string>{});
  m->min_cntlid = j.value("min_cntlid", uint16_t{0});
  m->max_cntlid = j.value("max_cntlid", uint16_t{0});
  return !m->name.empty();
}

// Asynchronous notifies, reaped later (a dead watcher delays the answer by the timeout).
struct PendingNotify {
  rados_completion_t c = nullptr;
  char* reply = nullptr;
  size_t reply_len = 0;
};

class RadosGroupStore final : public GroupStore {
 public:
  explicit RadosGroupStore(RadosGroupStoreOptions o)
      : opts_(std::move(o)), members_oid_(HaMembersObject(opts_.group)) {}

  ~RadosGroupStore() override { Disconnect(); }

  Status Connect() {
    std::string id = opts_.client_id.empty() ? "admin" : opts_.client_id;
    if (id.rfind("client.", 0) == 0) id = id.substr(7);
    int r = rados_create(&cluster_, id.c_str());
    if (r < 0) return Fail(r, "cannot create a RADOS client for client." + id);
    r = rados_conf_read_file(cluster_, opts_.ceph_conf.empty() ? nullptr : opts_.ceph_conf.c_str());
    if (r < 0 && !opts_.ceph_conf.empty()) return Fail(r, "cannot read " + opts_.ceph_conf);
    if (!opts_.keyring.empty()) rados_conf_set(cluster_, "keyring", opts_.keyring.c_str());
    rados_conf_set(cluster_, "client_mount_timeout", std::to_string(opts_.connect_timeout_sec).c_str());
    rados_conf_set(cluster_, "rados_mon_op_timeout", std::to_string(opts_.mon_op_timeout_sec).c_str());
    rados_conf_set(cluster_, "rados_osd_op_timeout", std::to_string(opts_.op_timeout_sec).c_str());
    r = rados_connect(cluster_);
    if (r < 0) return Fail(r, "cannot connect to the Ceph cluster as client." + id);
    instance_ = rados_get_instance_id(cluster_);
    r = rados_ioctx_create(cluster_, opts_.pool.c_str(), &io_);
    if (r < 0) {
      io_ = nullptr;
      return Fail(r, "cannot open pool '" + opts_.pool + "'");
    }
    char* addrs = nullptr;
    address_.clear();
    if (rados_getaddrs(cluster_, &addrs) == 0 && addrs) {
      address_ = addrs;
      std::free(addrs);
    }
    if (watch_cb_) EnsureWatch();
    return Status::OK();
  }

  // ---- membership
  Result<MemberInfo> Register(const MemberInfo& me, MemberInfo* previous) override {
    *previous = MemberInfo{};
    if (Status st = LockMembers("register " + me.name); !st.ok()) return st;
    auto unlock = [&] { UnlockMembers(); };
    auto all = ReadMembers();
    if (!all.ok()) {
      unlock();
      return all.status();
    }
    MemberInfo rec = me;
    rec.home_group = 0;
    for (const auto& m : *all)
      if (m.name == me.name) {
        *previous = m;
        rec.home_group = m.home_group;
      }
    if (rec.home_group == 0) rec.home_group = LowestFreeHomeGroup(*all);
    if (rec.home_group == 0) {
      unlock();
      return Status::Error(errc::kNoFreeHomeGroup, "ha: no free home ANA group in " + members_oid_ + " (at most " +
                                       std::to_string(kMaxHomeGroups) + " gateways)");
    }
    CntlidRangeFor(rec.home_group, &rec.min_cntlid, &rec.max_cntlid);
    Status s = WriteMember(rec);
    unlock();
    if (!s.ok()) return s;
    return rec;
  }

  Status UpdateMember(const MemberInfo& me) override { return WriteMember(me); }

  Status RemoveMember(const std::string& name) override {
    if (Status st = LockMembers("remove " + name); !st.ok()) return st;
    auto unlock = [&] { UnlockMembers(); };
    auto alive = Alive();
    auto all = alive.ok() ? ReadMembers() : Result<std::vector<MemberInfo>>(alive.status());
    if (!all.ok()) {
      unlock();
      return all.status();
    }
    for (const auto& h : *alive)
      if (h.name == name) {
        unlock();
        return Status::Error(errc::kMemberAlive, "ha: gateway " + name + " is alive (its membership lease on " +
                                                     members_oid_ + " is current)");
      }
    if (std::none_of(all->begin(), all->end(), [&](const MemberInfo& m) { return m.name == name; })) {
      unlock();
      return Status::Error(errc::kMemberNotFound, "ha: no member " + name + " in " + members_oid_);
    }
    int r = RemoveKeys(members_oid_, {kMemberPrefix + name});
    unlock();
    if (r < 0) return Fail(r, "cannot remove the member record of " + name + " from " + members_oid_);
    return Status::OK();
  }

  Result<std::vector<MemberInfo>> Members() override { return ReadMembers(); }

  Status Heartbeat(const Holder& me, uint64_t duration_ns) override {
    if (watch_cb_) EnsureWatch();
    struct timeval tv = Duration(duration_ns);
    int r = rados_lock_shared(io_, members_oid_.c_str(), kAliveLock, Cookie(me).c_str(), kAliveTag,
                              me.name.c_str(), &tv, LIBRADOS_LOCK_FLAG_RENEW);
    if (r < 0) return Fail(r, "membership heartbeat on " + members_oid_);
    return Status::OK();
  }

  Status Leave(const Holder& me) override {
    int r = rados_unlock(io_, members_oid_.c_str(), kAliveLock, Cookie(me).c_str());
    if (r < 0 && r != -ENOENT) return Fail(r, "cannot leave " + members_oid_);
    return Status::OK();
  }

  Result<std::vector<Holder>> Alive() override {
    std::vector<std::string> cookies;
    int r = Lockers(members_oid_, kAliveLock, &cookies);
    if (r < 0) return Fail(r, "cannot read the live members in " + members_oid_);
    std::vector<Holder> out;
    for (const auto& c : cookies)
      if (Holder h = ParseCookie(c); !h.empty()) out.push_back(h);
    return out;
  }

  // ---- leases
  Result<LeaseView> ReadLease(uint32_t group) override {
    const std::string oid = HaLeaseObject(opts_.group, group);
    LeaseView v;
    std::vector<std::string> cookies;
    int r = Lockers(oid, kLeaseLock, &cookies);
    if (r < 0) return Fail(r, "cannot read the lease " + oid);
    if (!cookies.empty()) v.holder = ParseCookie(cookies.front());
    std::map<std::string, std::string> recs;
    r = ReadOmap(oid, kHolderPrefix, &recs);
    if (r < 0) return Fail(r, "cannot read the holder records of " + oid);
    for (auto& [k, val] : recs) {
      auto j = json::parse(val, nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;
      Holder h{j.value("name", ""), j.value("epoch", uint64_t{0})};
      if (h.empty()) continue;
      v.records[h.name] = LeaseRecord{h, j.value("addresses", std::vector<std::string>{}), j.value("handover_to", "")};
    }
    return v;
  }

  LeaseResult Acquire(uint32_t group, const Holder& me, const std::vector<std::string>& addresses,
                      uint64_t duration_ns) override {
    const std::string oid = HaLeaseObject(opts_.group, group);
    struct timeval tv = Duration(duration_ns);
    int r = rados_lock_exclusive(io_, oid.c_str(), kLeaseLock, Cookie(me).c_str(), me.name.c_str(), &tv,
                                 LIBRADOS_LOCK_FLAG_RENEW);
    if (r < 0) return ToResult(r, "take the lease " + oid, LeaseResult::kBusy);
    r = WriteRecord(oid, me, addresses, "");
    if (r < 0) {
      rados_unlock(io_, oid.c_str(), kLeaseLock, Cookie(me).c_str());
      return ToResult(r, "record the holder of " + oid, LeaseResult::kError);
    }
    return LeaseResult::kOk;
  }

  LeaseResult Renew(uint32_t group, const Holder& me, uint64_t duration_ns) override {
    const std::string oid = HaLeaseObject(opts_.group, group);
    struct timeval tv = Duration(duration_ns);
    int r = rados_lock_exclusive(io_, oid.c_str(), kLeaseLock, Cookie(me).c_str(), me.name.c_str(), &tv,
                                 LIBRADOS_LOCK_FLAG_MUST_RENEW);
    if (r == -ENOENT || r == -EBUSY) return LeaseResult::kLost;
    if (r < 0) return ToResult(r, "renew the lease " + oid, LeaseResult::kError);
    return LeaseResult::kOk;
  }

  Status UpdateRecord(uint32_t group, const Holder& me, const std::vector<std::string>& addresses,
                      const std::string& handover_to) override {
    const std::string oid = HaLeaseObject(opts_.group, group);
    int r = WriteRecord(oid, me, addresses, handover_to);
    if (r < 0) return Fail(r, "cannot update the holder record of " + oid);
    return Status::OK();
  }

  LeaseResult Release(uint32_t group, const Holder& me) override {
    const std::string oid = HaLeaseObject(opts_.group, group);
    // Our record first (it is what makes a taker fence us), then the lock.
    auto lv = ReadLease(group);
    if (!lv.ok()) return IsBlocklisted(lv.status()) ? LeaseResult::kBlocklisted : LeaseResult::kError;
    if (auto it = lv->records.find(me.name); it != lv->records.end() && it->second.holder == me) {
      int r = RemoveKeys(oid, {std::string(kHolderPrefix) + me.name});
      if (r < 0) return ToResult(r, "remove the holder record of " + oid, LeaseResult::kError);
    }
    int r = rados_unlock(io_, oid.c_str(), kLeaseLock, Cookie(me).c_str());
    if (r < 0 && r != -ENOENT) return ToResult(r, "unlock " + oid, LeaseResult::kError);
    return LeaseResult::kOk;
  }

  Status RemoveRecords(uint32_t group, const std::vector<std::string>& names) override {
    const std::string oid = HaLeaseObject(opts_.group, group);
    std::vector<std::string> keys;
    for (const auto& n : names) keys.push_back(kHolderPrefix + n);
    int r = RemoveKeys(oid, keys);
    if (r < 0) return Fail(r, "cannot remove holder records of " + oid);
    return Status::OK();
  }

  // ---- fencing
  Status BlocklistOne(const std::string& a, uint32_t expire_sec) {
    json cmd = {{"prefix", "osd blocklist"}, {"blocklistop", "add"}, {"addr", a}};
    // `expire` must be a JSON float: "600" is refused (EINVAL).
    std::string text = cmd.dump();
    text.pop_back();
    text += ",\"expire\":" + std::to_string(expire_sec) + ".0}";
    const char* cmds[] = {text.c_str()};
    char *outbuf = nullptr, *outs = nullptr;
    size_t outbuf_len = 0, outs_len = 0;
    int r = rados_mon_command(cluster_, cmds, 1, "", 0, &outbuf, &outbuf_len, &outs, &outs_len);
    std::string why = outs ? std::string(outs, outs_len) : std::string();
    if (outbuf) rados_buffer_free(outbuf);
    if (outs) rados_buffer_free(outs);
    if (r < 0) return Fail(r, "cannot blocklist " + a + (why.empty() ? "" : " (" + why + ")"));
    return Status::OK();
  }

  // One mon command per address, all in flight at once (RunAllAtOnce): the monitor folds
  // the entries that arrive within paxos_min_wait of the first into one OSD map, so fencing
  // a gateway with many librbd connections costs one map (two when a loaded monitor takes
  // longer to read them), not one per address or per batch (a command arriving after the
  // proposal started waits for the next one, up to paxos_propose_interval later). Then one
  // wait, on this client, for the latest map: it holds every entry.
  Status Blocklist(const std::vector<std::string>& addresses, uint32_t expire_sec) override {
    std::vector<Status> results(addresses.size());
    RunAllAtOnce(addresses.size(), [&](size_t i) { results[i] = BlocklistOne(addresses[i], expire_sec); });
    for (const auto& st : results)
      if (!st.ok()) return st;
    int r = rados_wait_for_latest_osdmap(cluster_);
    if (r < 0) return Fail(r, "cannot get the OSD map with the blocklist");
    return Status::OK();
  }

  // ---- peers
  Status Notify() override {
    Reap(false);
    auto* p = new PendingNotify;
    rados_aio_create_completion2(nullptr, nullptr, &p->c);
    int r = rados_aio_notify(io_, members_oid_.c_str(), p->c, "", 0, opts_.notify_timeout_ms, &p->reply,
                             &p->reply_len);
    if (r < 0) {
      rados_aio_release(p->c);
      delete p;
      return Fail(r, "cannot notify " + members_oid_);
    }
    std::lock_guard lk(notify_mu_);
    notifies_.push_back(p);
    return Status::OK();
  }

  void Watch(std::function<void()> cb) override {
    watch_cb_ = std::move(cb);
    EnsureWatch();
  }

  std::vector<std::string> Addresses() override {
    if (address_.empty()) return {};
    return {address_};
  }

  Status Reconnect() override {
    Disconnect();
    return Connect();
  }

 private:
  // The members object's registration lock (kMembersLock, held at most kRegisterLockSec),
  // waited for up to kRegisterWaitMs; `why` names the operation in the error.
  std::string MembersLockCookie() const { return "register/" + std::to_string(instance_); }
  Status LockMembers(const std::string& why) {
    struct timeval tv = {kRegisterLockSec, 0};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kRegisterWaitMs);
    for (;;) {
      int r = rados_lock_exclusive(io_, members_oid_.c_str(), kMembersLock, MembersLockCookie().c_str(),
                                   "registration", &tv, LIBRADOS_LOCK_FLAG_RENEW);
      if (r == 0) return Status::OK();
      if (r != -EBUSY || std::chrono::steady_clock::now() > deadline)
        return Fail(r, "cannot lock " + members_oid_ + " to " + why);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  void UnlockMembers() { rados_unlock(io_, members_oid_.c_str(), kMembersLock, MembersLockCookie().c_str()); }

  Status Fail(int r, const std::string& what) const {
    int e = r < 0 ? -r : r;
    std::string msg = "ha: " + what + ": " + Err(e);
    if (e == ESHUTDOWN) msg += " (this client, " + address_ + ", is blocklisted)";
    if (e == EPERM || e == EACCES) msg += " (missing caps? HA needs rw on pool '" + opts_.pool + "' and mon 'osd blocklist')";
    switch (e) {
      case ESHUTDOWN: return Status::Error(errc::kBlocklisted, msg, e);
      case EPERM:
      case EACCES: return Status::Error(errc::kPermissionDenied, msg, e);
      case ENOTCONN: return Status::Error(errc::kNotConnected, msg, e);
      default: return Status::Error(errc::kCeph, msg, e);
    }
  }

  LeaseResult ToResult(int r, const std::string& what, LeaseResult busy) {
    if (r == -EBUSY) return busy;
    if (r == -ESHUTDOWN) return LeaseResult::kBlocklisted;
    LOG_WARN("ha: cannot %s: %s", what.c_str(), Err(r).c_str());
    return LeaseResult::kError;
  }

  void Disconnect() {
    if (watching_) {
      rados_unwatch2(io_, watch_handle_);
      watching_ = false;
    }
    if (cluster_) rados_watch_flush(cluster_);
    Reap(true);
    if (io_) rados_ioctx_destroy(io_);
    io_ = nullptr;
    if (cluster_) rados_shutdown(cluster_);
    cluster_ = nullptr;
  }

  void Reap(bool all) {
    std::vector<PendingNotify*> done;
    {
      std::lock_guard lk(notify_mu_);
      for (auto it = notifies_.begin(); it != notifies_.end();) {
        if (all || rados_aio_is_complete((*it)->c)) {
          done.push_back(*it);
          it = notifies_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto* p : done) {
      rados_aio_wait_for_complete(p->c);
      if (p->reply) rados_buffer_free(p->reply);
      rados_aio_release(p->c);
      delete p;
    }
  }

  static void WatchCb(void* arg, uint64_t notify_id, uint64_t handle, uint64_t, void*, size_t) {
    auto* self = static_cast<RadosGroupStore*>(arg);
    rados_notify_ack(self->io_, self->members_oid_.c_str(), notify_id, handle, nullptr, 0);
    if (self->watch_cb_) self->watch_cb_();
  }
  static void WatchErrCb(void* arg, uint64_t, int err) {
    static_cast<RadosGroupStore*>(arg)->watch_error_.store(err ? err : -ENOTCONN);
  }

  void EnsureWatch() {
    if (watching_) {
      int err = watch_error_.exchange(0);
      if (err == 0 && rados_watch_check(io_, watch_handle_) >= 0) return;
      rados_unwatch2(io_, watch_handle_);
      watching_ = false;
    }
    watch_error_.store(0);
    // The object must exist for a watch: create it (empty) unless it does.
    rados_write_op_t op = rados_create_write_op();
    rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, nullptr);
    rados_write_op_operate2(op, io_, members_oid_.c_str(), nullptr, 0);
    rados_release_write_op(op);
    int r = rados_watch3(io_, members_oid_.c_str(), &watch_handle_, &WatchCb, &WatchErrCb, 0, this);
    if (r == 0) watching_ = true;
  }

  // The cookies of the lockers of `lock` on `oid` (none if the object does not exist).
  int Lockers(const std::string& oid, const char* lock, std::vector<std::string>* cookies) {
    size_t sz = 4096;
    for (int attempt = 0; attempt < 4; ++attempt) {
      int exclusive = 0;
      std::vector<char> tag(sz), clients(sz), cks(sz), addrs(sz);
      size_t tag_len = sz, clients_len = sz, cookies_len = sz, addrs_len = sz;
      ssize_t n = rados_list_lockers(io_, oid.c_str(), lock, &exclusive, tag.data(), &tag_len, clients.data(),
                                     &clients_len, cks.data(), &cookies_len, addrs.data(), &addrs_len);
      if (n == -ENOENT) return 0;
      if (n == -ERANGE) {
        sz = std::max({tag_len, clients_len, cookies_len, addrs_len, sz * 2});
        continue;
      }
      if (n < 0) return static_cast<int>(n);
      const char* c = cks.data();
      for (ssize_t i = 0; i < n; ++i) {
        cookies->emplace_back(c);
        c += std::strlen(c) + 1;
      }
      return 0;
    }
    return -ERANGE;
  }

  int ReadOmap(const std::string& oid, const std::string& prefix, std::map<std::string, std::string>* out) {
    std::string after;
    for (;;) {
      rados_read_op_t op = rados_create_read_op();
      rados_omap_iter_t it = nullptr;
      unsigned char more = 0;
      int prval = 0;
      rados_read_op_omap_get_vals2(op, after.c_str(), prefix.c_str(), 256, &it, &more, &prval);
      int r = rados_read_op_operate(op, io_, oid.c_str(), 0);
      if (r == 0) r = prval;
      if (r == 0) {
        char *k, *v;
        size_t kl, vl;
        while (rados_omap_get_next2(it, &k, &v, &kl, &vl) == 0 && k) {
          after.assign(k, kl);
          (*out)[after] = std::string(v, vl);
        }
      }
      if (it) rados_omap_get_end(it);
      rados_release_read_op(op);
      if (r == -ENOENT) return 0;
      if (r < 0) return r;
      if (!more) return 0;
    }
  }

  int WriteKeys(const std::string& oid, const std::map<std::string, std::string>& kv) {
    std::vector<const char*> keys, vals;
    std::vector<size_t> kl, vl;
    for (const auto& [k, v] : kv) {
      keys.push_back(k.data());
      kl.push_back(k.size());
      vals.push_back(v.data());
      vl.push_back(v.size());
    }
    rados_write_op_t op = rados_create_write_op();
    rados_write_op_omap_set2(op, keys.data(), vals.data(), kl.data(), vl.data(), keys.size());
    int r = rados_write_op_operate2(op, io_, oid.c_str(), nullptr, 0);
    rados_release_write_op(op);
    return r;
  }

  int RemoveKeys(const std::string& oid, const std::vector<std::string>& names) {
    if (names.empty()) return 0;
    std::vector<const char*> keys;
    std::vector<size_t> kl;
    for (const auto& k : names) {
      keys.push_back(k.data());
      kl.push_back(k.size());
    }
    rados_write_op_t op = rados_create_write_op();
    rados_write_op_omap_rm_keys2(op, keys.data(), kl.data(), keys.size());
    int r = rados_write_op_operate2(op, io_, oid.c_str(), nullptr, 0);
    rados_release_write_op(op);
    return r == -ENOENT ? 0 : r;
  }

  int WriteRecord(const std::string& oid, const Holder& me, const std::vector<std::string>& addresses,
                  const std::string& handover_to) {
    json j = {{"name", me.name}, {"epoch", me.epoch}, {"addresses", addresses}};
    if (!handover_to.empty()) j["handover_to"] = handover_to;
    return WriteKeys(oid, {{kHolderPrefix + me.name, j.dump()}});
  }

  Status WriteMember(const MemberInfo& m) {
    MemberInfo rec = m;
    if (rec.home_group) CntlidRangeFor(rec.home_group, &rec.min_cntlid, &rec.max_cntlid);
    int r = WriteKeys(members_oid_, {{kMemberPrefix + m.name, MemberJson(rec).dump()}});
    if (r < 0) return Fail(r, "cannot write the member record of " + m.name + " in " + members_oid_);
    return Status::OK();
  }

  Result<std::vector<MemberInfo>> ReadMembers() {
    std::map<std::string, std::string> kv;
    int r = ReadOmap(members_oid_, kMemberPrefix, &kv);
    if (r < 0) return Fail(r, "cannot read the members in " + members_oid_);
    std::vector<MemberInfo> out;
    for (auto& [k, v] : kv) {
      MemberInfo m;
      if (ParseMember(v, &m)) out.push_back(std::move(m));
    }
    return out;
  }

  RadosGroupStoreOptions opts_;
  const std::string members_oid_;
  rados_t cluster_ = nullptr;
  rados_ioctx_t io_ = nullptr;
  uint64_t instance_ = 0;
  std::string address_;
  std::function<void()> watch_cb_;
  bool watching_ = false;
  uint64_t watch_handle_ = 0;
  std::atomic<int> watch_error_{0};
  std::mutex notify_mu_;
  std::vector<PendingNotify*> notifies_;
};

std::string Prefix(const std::string& group) { return group.empty() ? "nvmeof.ha." : "nvmeof." + group + ".ha."; }

}  // namespace

std::string HaMembersObject(const std::string& group) { return Prefix(group) + "members"; }
std::string HaLeaseObject(const std::string& group, uint32_t ana_group) {
  return Prefix(group) + "ana." + std::to_string(ana_group);
}

Result<std::unique_ptr<GroupStore>> OpenRadosGroupStore(const RadosGroupStoreOptions& opts) {
  if (opts.pool.empty()) return Status::InvalidArgument("ha: no pool configured");
  auto s = std::make_unique<RadosGroupStore>(opts);
  if (Status st = s->Connect(); !st.ok()) return st;
  return std::unique_ptr<GroupStore>(std::move(s));
}

}  // namespace nvmeof::ha
