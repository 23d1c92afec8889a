// The group state in a RADOS object (the reference gateway's layout and protocol).
//
// Object: StateObjectName(group) in opts.pool. Omap: omap_version + one key per item.
// Write: cls exclusive lock "omap_file_lock" (lease lock_duration_sec) -> read omap_version
//        -> one write op {omap_cmp(omap_version == v), set keys, rm keys, omap_version = v+1}
//        -> unlock -> asynchronous notify (nobody waits for the acks).
// Read:  paged omap reads, each page also returning omap_version; a page with another
//        version restarts the read, so a map is always one version's state.
// Watch: rados_watch3 on the object; the callback acks and wakes the store thread, which
//        reads the whole map and hands it to the subscriber if the version went up. The
//        thread also polls every poll_interval_sec and re-establishes a failed watch.
// Blocklisted (an operation fails with ESHUTDOWN: this gateway was fenced): the store thread
//        connects a new client instance, swaps it in under write_mu_ and conn_mu_ (so no
//        writer or reader uses the old one any more), watches and reads the state again and
//        logs one line; ClientAddresses() then names the new client.
// docs/state.md has the details and measurements.
#include <rados/librados.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <thread>
#include <utility>

#include "gateway/common/log.h"
#include "gateway/state/state_internal.h"
#include "gateway/state/state_keys.h"
#include "gateway/state/state_store.h"

namespace nvmeof {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kLockName[] = "omap_file_lock";
constexpr char kLockDescription[] = "OMAP file changes lock";
constexpr uint64_t kPageSize = 512;  // below osd_max_omap_entries_per_request
constexpr int kReadAttempts = 10;    // reads restarted because a page saw another version
constexpr int kWriteAttempts = 3;    // writes retried after ECANCELED (lease lost)

std::string ErrnoName(int r) { return std::strerror(r < 0 ? -r : r); }

bool ParseVersion(const char* p, size_t n, uint64_t* v) {
  if (n == 0 || n > 20) return false;
  uint64_t x = 0;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] < '0' || p[i] > '9') return false;
    uint64_t next = x * 10 + static_cast<uint64_t>(p[i] - '0');
    if (next < x) return false;
    x = next;
  }
  *v = x;
  return true;
}

// Notifies are asynchronous; their bookkeeping outlives the store if the cluster hangs.
struct NotifyState {
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  uint64_t timeouts = 0;
  struct Ctx {
    std::shared_ptr<NotifyState> state;
    rados_completion_t completion = nullptr;
    char* reply = nullptr;
    size_t reply_len = 0;
  };
  std::deque<Ctx*> finished;  // released by the store (not inside the callback)

  static void Done(rados_completion_t c, void* arg) {
    auto* ctx = static_cast<Ctx*>(arg);
    int r = rados_aio_get_return_value(c);
    auto state = ctx->state;  // keeps it alive past the unlock
    std::lock_guard lock(state->mu);
    if (r == -ETIMEDOUT) ++state->timeouts;
    state->finished.push_back(ctx);
    --state->in_flight;
    state->cv.notify_all();
  }

  // Returns how many notifies timed out since the last call.
  uint64_t Reap() {
    std::deque<Ctx*> done;
    uint64_t t;
    {
      std::lock_guard lock(mu);
      done.swap(finished);
      t = timeouts;
      timeouts = 0;
    }
    for (Ctx* ctx : done) {
      if (ctx->reply) rados_buffer_free(ctx->reply);
      rados_aio_release(ctx->completion);
      delete ctx;
    }
    return t;
  }
};

class RadosStateStore final : public StateStore {
 public:
  explicit RadosStateStore(const RadosStateOptions& opts) : opts_(opts), oid_(StateObjectName(opts.group)) {
    if (opts_.poll_interval_sec == 0) opts_.poll_interval_sec = 1;
    if (opts_.lock_duration_sec == 0) opts_.lock_duration_sec = 1;
    if (opts_.lock_wait_sec == 0) opts_.lock_wait_sec = opts_.lock_duration_sec + 10;
    char cookie[96];
    std::snprintf(cookie, sizeof cookie, "omap_file_cookie_%p_%d_exclusive", static_cast<void*>(this),
                  static_cast<int>(getpid()));
    cookie_ = cookie;
  }

  ~RadosStateStore() override {
    Stop();
    if (io_) {
      // Outstanding notifies end by their own timeout (or the op timeout).
      auto limit = Clock::now() + milliseconds(opts_.notify_timeout_ms) +
                   std::chrono::seconds(opts_.op_timeout_sec ? opts_.op_timeout_sec : 30) + std::chrono::seconds(5);
      {
        std::unique_lock lock(notify_->mu);
        if (!notify_->cv.wait_until(lock, limit, [&] { return notify_->in_flight == 0; }))
          LOG_WARN("state: %d notifies on %s still pending at close", notify_->in_flight, oid_.c_str());
      }
      notify_->Reap();
      rados_watch_flush(cluster_);
      rados_ioctx_destroy(io_);
    }
    if (cluster_) rados_shutdown(cluster_);
    for (auto& [c, io] : retired_) {
      rados_watch_flush(c);
      rados_ioctx_destroy(io);
      rados_shutdown(c);
    }
  }

  Status Open();

  Status Put(const std::string& key, const std::string& json) override {
    return Apply(StateMap{{key, json}}, {});
  }

  Status Remove(const std::string& key) override {
    if (Status s = state_internal::ValidateWrite({}, {key}); !s.ok()) return s;
    return Transact({key}, /*full=*/false,
                    [&](const StateMap& seen, uint64_t, StateMap*, std::vector<std::string>* removes) {
                      if (!seen.count(key)) return Status::Error(state::errc::kKeyNotFound, "state key " + key + " not found in " + Where());
                      removes->push_back(key);
                      return Status::OK();
                    },
                    nullptr, /*retry=*/true);
  }

  Status Apply(const StateMap& puts, const std::vector<std::string>& removes) override {
    if (Status s = state_internal::ValidateWrite(puts, removes); !s.ok()) return s;
    if (puts.empty() && removes.empty()) return Status::OK();
    return Transact(removes, /*full=*/false,
                    [&](const StateMap& seen, uint64_t, StateMap* p, std::vector<std::string>* r) {
                      *p = puts;
                      for (const auto& k : removes)
                        if (seen.count(k)) r->push_back(k);
                      return Status::OK();
                    },
                    nullptr, /*retry=*/true);
  }

  Status Mutate(const Mutation& fn, uint64_t* new_version) override {
    return Transact({}, /*full=*/true, fn, new_version, /*retry=*/false);
  }

  Result<StateMap> ReadAll(uint64_t* version) override {
    std::shared_lock conn(conn_mu_);
    uint64_t v = 0;
    auto r = ReadAllInternal(&v);
    if (r.ok() && version) *version = v;
    return r;
  }

  void Subscribe(std::function<void(const StateMap&, uint64_t version)> cb) override {
    std::lock_guard lock(deliver_mu_);
    cb_ = std::move(cb);
  }

  Status Start() override;
  void Stop() override;

  std::vector<std::string> ClientAddresses() const override {
    std::shared_lock conn(conn_mu_);
    if (!cluster_) return {};
    char* a = nullptr;
    std::vector<std::string> out;
    if (rados_getaddrs(cluster_, &a) == 0 && a) {
      out.emplace_back(a);
      std::free(a);
    }
    return out;
  }

  Status RegisterService(const std::string& daemon, const std::map<std::string, std::string>& metadata) override {
    std::shared_lock conn(conn_mu_);
    if (!cluster_) return Status::Error(state::errc::kCeph, "state: not connected");
    {
      std::lock_guard lock(service_mu_);
      service_daemon_ = daemon;
      service_metadata_ = metadata;
    }
    return RegisterServiceLocked(daemon, metadata);
  }

 private:
  // conn_mu_ held (shared or exclusive).
  Status RegisterServiceLocked(const std::string& daemon, const std::map<std::string, std::string>& metadata) {
    std::string dict;  // "key\0value\0...\0"
    for (const auto& [k, v] : metadata) {
      dict.append(k).push_back('\0');
      dict.append(v).push_back('\0');
    }
    dict.push_back('\0');
    int r = rados_service_register(cluster_, "nvmeof", daemon.c_str(), dict.data());
    if (r < 0) return Error(r, "state: registering nvmeof." + daemon + " in the service map");
    return Status::OK();
  }

  std::string Where() const { return "object " + oid_ + " in pool '" + opts_.pool + "'"; }
  std::string Client() const { return "client." + client_id_; }
  Status Error(int r, const std::string& what) const;

  Status Transact(const std::vector<std::string>& probe, bool full, const Mutation& fn, uint64_t* new_version,
                  bool retry);
  Status Lock();
  void Unlock();
  std::string Lockers();
  Status ReadKeys(const std::vector<std::string>& keys, StateMap* seen, uint64_t* version);
  Result<StateMap> ReadAllInternal(uint64_t* version);
  int WriteGuarded(uint64_t version, const StateMap& puts, const std::vector<std::string>& removes);
  void RecordOwnWrite(uint64_t version, const StateMap& puts, const std::vector<std::string>& removes);
  void SendNotify();

  void Run();
  void Wake() {
    {
      std::lock_guard lock(wake_mu_);
      wake_ = true;
    }
    wake_cv_.notify_all();
  }
  void EnsureWatch();
  void Refresh();
  // A new client instance (a fresh rados handle with the store's options) and its ioctx.
  Status Connect(rados_t* cluster, rados_ioctx_t* io, uint64_t* instance_id);
  // Store thread: after ESHUTDOWN, replace the client (see the file comment).
  void Reconnect();
  void NoteError(const Status& s) {
    if (s.Is(state::errc::kBlocklisted)) {
      blocklisted_.store(true);
      Wake();
    }
  }
  void Deliver(StateMap map, uint64_t version);

  static void WatchCallback(void* arg, uint64_t notify_id, uint64_t handle, uint64_t notifier_id, void* data,
                            size_t data_len);
  static void WatchErrorCallback(void* arg, uint64_t handle, int err);

  RadosStateOptions opts_;
  std::string oid_;
  std::string client_id_;
  std::string cookie_;
  // The client instance. Replaced only by Reconnect() on the store thread, holding write_mu_
  // and conn_mu_ exclusively; other threads use it under write_mu_ (writers) or conn_mu_
  // shared (ReadAll, ClientAddresses, RegisterService). Lock order: write_mu_, conn_mu_.
  mutable std::shared_mutex conn_mu_;
  rados_t cluster_ = nullptr;
  rados_ioctx_t io_ = nullptr;
  uint64_t instance_id_ = 0;
  std::vector<std::pair<rados_t, rados_ioctx_t>> retired_;  // replaced with notifies pending: closed at the end
  std::atomic<bool> blocklisted_{false};  // an operation saw ESHUTDOWN
  Clock::time_point last_reconnect_warning_{};
  std::mutex service_mu_;  // the service map registration, repeated after a reconnect
  std::string service_daemon_;
  std::map<std::string, std::string> service_metadata_;

  std::mutex write_mu_;  // one writer of this store at a time (they would share the lock cookie)

  std::mutex deliver_mu_;  // the last state handed out (plus own writes that followed it)
  std::function<void(const StateMap&, uint64_t)> cb_;
  bool have_delivered_ = false;
  StateMap delivered_map_;
  uint64_t delivered_version_ = 0;
  std::mutex cb_mu_;  // the subscriber never runs twice at once

  std::thread thread_;
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  bool stop_ = false;
  bool started_ = false;

  // Watch: touched by Start() and then only by the store thread.
  bool watching_ = false;
  uint64_t watch_handle_ = 0;
  std::atomic<int> watch_error_{0};
  Clock::time_point last_read_warning_{};
  Clock::time_point last_notify_warning_{};  // under write_mu_

  std::shared_ptr<NotifyState> notify_ = std::make_shared<NotifyState>();
};

Status RadosStateStore::Error(int r, const std::string& what) const {
  int e = r < 0 ? -r : r;
  std::string msg = what + ": " + ErrnoName(e);
  switch (e) {
    case EPERM:
    case EACCES:
      msg += " (" + Client() + " lacks the osd caps for pool '" + opts_.pool + "')";
      break;
    case ETIMEDOUT:
      msg += " (no answer from the cluster within the configured timeout)";
      break;
    case ESHUTDOWN:
      msg += " (" + Client() + " is blocklisted)";
      break;
    default:
      break;
  }
  switch (e) {
    case EPERM:
    case EACCES: return Status::Error(state::errc::kPermissionDenied, msg, e);
    case ETIMEDOUT: return Status::Error(state::errc::kTimedOut, msg, e);
    case ESHUTDOWN: return Status::Error(state::errc::kBlocklisted, msg, e);
    default: return Status::Error(state::errc::kCeph, msg, e);
  }
}

Status RadosStateStore::Connect(rados_t* cluster_out, rados_ioctx_t* io_out, uint64_t* instance_id) {
  rados_t cluster = nullptr;
  auto fail = [&](Status st) {
    if (cluster) rados_shutdown(cluster);
    return st;
  };
  int r = rados_create(&cluster, client_id_.c_str());
  if (r < 0) {
    cluster = nullptr;
    return Error(r, "state: cannot create a RADOS client for " + Client());
  }
  const char* conf = opts_.ceph_conf.empty() ? nullptr : opts_.ceph_conf.c_str();
  if (conf && access(conf, R_OK) != 0) {
    const int e = errno;
    return fail(Status::Error(state::errc::kSystem, "state: cannot read Ceph configuration " + opts_.ceph_conf + ": " + ErrnoName(e), e));
  }
  r = rados_conf_read_file(cluster, conf);
  if (r < 0)
    return fail(Error(r, "state: cannot load Ceph configuration " + (conf ? opts_.ceph_conf : std::string("(default)"))));
  if (!opts_.keyring.empty()) {
    if (access(opts_.keyring.c_str(), R_OK) != 0) {
      const int e = errno;
      return fail(Status::Error(state::errc::kSystem, "state: cannot read keyring " + opts_.keyring + ": " + ErrnoName(e), e));
    }
    rados_conf_set(cluster, "keyring", opts_.keyring.c_str());
  }
  auto set_num = [&](const char* option, uint32_t v) {
    rados_conf_set(cluster, option, std::to_string(v).c_str());
  };
  set_num("client_mount_timeout", std::max<uint32_t>(opts_.connect_timeout_sec, 1));
  if (opts_.op_timeout_sec) {
    set_num("rados_osd_op_timeout", opts_.op_timeout_sec);
    set_num("rados_mon_op_timeout", opts_.op_timeout_sec);
  }
  char mon_host[512] = "";
  rados_conf_get(cluster, "mon_host", mon_host, sizeof mon_host);

  auto t0 = Clock::now();
  r = rados_connect(cluster);
  if (r < 0) {
    auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
    std::string what = "state: cannot connect to the Ceph cluster (mon host " +
                       std::string(*mon_host ? mon_host : "unset") + ") as " + Client();
    if (r == -ETIMEDOUT || r == -EINTR)
      return fail(Status::Error(state::errc::kTimedOut, what + ": cluster unreachable (no monitor answered within " +
                                          std::to_string(ms) + " ms)"));
    if (r == -EACCES || r == -EPERM)
      return fail(Status::Error(state::errc::kPermissionDenied, what + ": permission denied (wrong key for " + Client() + "?)", -r));
    if (r == -ENOENT)
      return fail(Status::Error(state::errc::kNoKeyring, what + ": no keyring with a key for " + Client() +
                                       (opts_.keyring.empty() ? std::string() : " in " + opts_.keyring)));
    return fail(Error(r, what));
  }
  rados_ioctx_t io = nullptr;
  r = rados_ioctx_create(cluster, opts_.pool.c_str(), &io);
  if (r < 0) {
    if (r == -ENOENT) return fail(Status::Error(state::errc::kPoolNotFound, "state: pool '" + opts_.pool + "' does not exist"));
    return fail(Error(r, "state: cannot open pool '" + opts_.pool + "'"));
  }
  *instance_id = rados_get_instance_id(cluster);
  *cluster_out = cluster;
  *io_out = io;
  return Status::OK();
}

Status RadosStateStore::Open() {
  client_id_ = opts_.client_id.empty() ? "admin" : opts_.client_id;
  if (client_id_.rfind("client.", 0) == 0) client_id_ = client_id_.substr(7);
  if (opts_.pool.empty()) return Status::Error(state::errc::kNoPool, "state: no pool configured ([ceph] pool)");
  if (Status s = Connect(&cluster_, &io_, &instance_id_); !s.ok()) return s;

  // Create the object with omap_version 1 unless it exists.
  rados_write_op_t op = rados_create_write_op();
  rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, nullptr);
  const char* keys[] = {kOmapVersionKey};
  const char* vals[] = {"1"};
  size_t key_lens[] = {std::strlen(kOmapVersionKey)};
  size_t val_lens[] = {1};
  rados_write_op_omap_set2(op, keys, vals, key_lens, val_lens, 1);
  int r = rados_write_op_operate2(op, io_, oid_.c_str(), nullptr, 0);
  rados_release_write_op(op);
  if (r == 0) {
    LOG_INFO("state: created %s (omap_version 1)", Where().c_str());
  } else if (r != -EEXIST) {
    return Error(r, "state: cannot create " + Where());
  }
  uint64_t version;
  StateMap seen;
  if (Status s = ReadKeys({}, &seen, &version); !s.ok()) return s;
  LOG_INFO("state: using %s as %s, omap_version %llu", Where().c_str(), Client().c_str(),
           static_cast<unsigned long long>(version));
  return Status::OK();
}

// ------------------------------------------------------------------ reads

Status RadosStateStore::ReadKeys(const std::vector<std::string>& keys, StateMap* seen, uint64_t* version) {
  std::vector<const char*> names{kOmapVersionKey};
  std::vector<size_t> lens{std::strlen(kOmapVersionKey)};
  for (const auto& k : keys) {
    names.push_back(k.c_str());
    lens.push_back(k.size());
  }
  rados_read_op_t op = rados_create_read_op();
  rados_omap_iter_t it = nullptr;
  int prval = 0;
  rados_read_op_omap_get_vals_by_keys2(op, names.data(), names.size(), lens.data(), &it, &prval);
  int r = rados_read_op_operate(op, io_, oid_.c_str(), 0);
  std::optional<uint64_t> v;
  bool bad_version = false;
  if (r == 0 && prval == 0) {
    char *k, *val;
    size_t kl, vl;
    while (rados_omap_get_next2(it, &k, &val, &kl, &vl) == 0 && k) {
      std::string key(k, kl);
      if (key == kOmapVersionKey) {
        uint64_t x;
        if (ParseVersion(val, vl, &x))
          v = x;
        else
          bad_version = true;
      } else {
        (*seen)[key] = std::string(val, vl);
      }
    }
  }
  if (it) rados_omap_get_end(it);
  rados_release_read_op(op);
  if (r == 0) r = prval;
  if (r == -ENOENT) return Status::Error(state::errc::kObjectNotFound, "state: " + Where() + " does not exist (deleted?)");
  if (r < 0) return Error(r, "state: cannot read " + Where());
  if (bad_version) return Status::Error(state::errc::kCorrupt, "state: omap_version of " + Where() + " is not a decimal number");
  if (!v) return Status::Error(state::errc::kCorrupt, "state: " + Where() + " has no omap_version key (not a gateway state object?)");
  *version = *v;
  return Status::OK();
}

Result<StateMap> RadosStateStore::ReadAllInternal(uint64_t* version) {
  const char* vkey[] = {kOmapVersionKey};
  size_t vlen[] = {std::strlen(kOmapVersionKey)};
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    StateMap map;
    std::string after;
    std::optional<uint64_t> first;
    bool restart = false;
    for (;;) {
      rados_read_op_t op = rados_create_read_op();
      rados_omap_iter_t vit = nullptr, it = nullptr;
      int vr = 0, pr = 0;
      unsigned char more = 0;
      rados_read_op_omap_get_vals_by_keys2(op, vkey, 1, vlen, &vit, &vr);
      rados_read_op_omap_get_vals2(op, after.c_str(), "", kPageSize, &it, &more, &pr);
      int r = rados_read_op_operate(op, io_, oid_.c_str(), 0);
      if (r == 0) r = vr ? vr : pr;
      std::optional<uint64_t> v;
      bool bad_version = false;
      if (r == 0) {
        char *k, *val;
        size_t kl, vl;
        if (rados_omap_get_next2(vit, &k, &val, &kl, &vl) == 0 && k) {
          uint64_t x;
          if (ParseVersion(val, vl, &x))
            v = x;
          else
            bad_version = true;
        }
        while (rados_omap_get_next2(it, &k, &val, &kl, &vl) == 0 && k) {
          after.assign(k, kl);
          if (after != kOmapVersionKey) map[after] = std::string(val, vl);
        }
      }
      if (vit) rados_omap_get_end(vit);
      if (it) rados_omap_get_end(it);
      rados_release_read_op(op);
      if (r == -ENOENT) return Status::Error(state::errc::kObjectNotFound, "state: " + Where() + " does not exist (deleted?)");
      if (r < 0) return Error(r, "state: cannot read " + Where());
      if (bad_version) return Status::Error(state::errc::kCorrupt, "state: omap_version of " + Where() + " is not a decimal number");
      if (!v) return Status::Error(state::errc::kCorrupt, "state: " + Where() + " has no omap_version key");
      if (!first) {
        first = v;
      } else if (*first != *v) {
        restart = true;  // written between two pages
        break;
      }
      if (!more) break;
    }
    if (restart) continue;
    *version = *first;
    return map;
  }
  return Status::Error(state::errc::kUnstable, "state: " + Where() + " changed during " + std::to_string(kReadAttempts) +
                                   " consecutive reads");
}

// ------------------------------------------------------------------ writes

std::string RadosStateStore::Lockers() {
  int exclusive = 0;
  char tag[256], clients[1024], cookies[1024], addrs[1024];
  size_t tag_len = sizeof tag, clients_len = sizeof clients, cookies_len = sizeof cookies, addrs_len = sizeof addrs;
  ssize_t n = rados_list_lockers(io_, oid_.c_str(), kLockName, &exclusive, tag, &tag_len, clients, &clients_len,
                                 cookies, &cookies_len, addrs, &addrs_len);
  if (n <= 0) return "nobody (any more)";
  std::string out;
  const char *c = clients, *k = cookies, *a = addrs;
  for (ssize_t i = 0; i < n; ++i) {
    if (!out.empty()) out += ", ";
    out += std::string(c) + " (cookie " + k + ", " + a + ")";
    c += std::strlen(c) + 1;
    k += std::strlen(k) + 1;
    a += std::strlen(a) + 1;
  }
  return out;
}

Status RadosStateStore::Lock() {
  const auto deadline = Clock::now() + std::chrono::seconds(opts_.lock_wait_sec);
  thread_local std::minstd_rand rng(std::random_device{}());
  int backoff_ms = 2;
  for (int tries = 1;; ++tries) {
    struct timeval tv = {static_cast<time_t>(opts_.lock_duration_sec), 0};
    // RENEW: a lock of ours left by a failed unlock is taken over instead of EEXIST.
    int r = rados_lock_exclusive(io_, oid_.c_str(), kLockName, cookie_.c_str(), kLockDescription, &tv,
                                 LIBRADOS_LOCK_FLAG_RENEW);
    if (r == 0) {
      if (tries > 50) LOG_INFO("state: locked %s after %d tries", Where().c_str(), tries);
      return Status::OK();
    }
    if (r != -EBUSY) return Error(r, "state: cannot lock " + Where());
    auto now = Clock::now();
    if (now >= deadline)
      return Status::Error(state::errc::kLocked, "state: " + Where() + " stayed locked for " + std::to_string(opts_.lock_wait_sec) +
                          " s, by " + Lockers());
    auto left = std::chrono::duration_cast<milliseconds>(deadline - now).count();
    int sleep_ms = std::min<long>(backoff_ms / 2 + static_cast<int>(rng() % (backoff_ms / 2 + 1)), left);
    std::this_thread::sleep_for(milliseconds(std::max(sleep_ms, 1)));
    backoff_ms = std::min(backoff_ms * 2, 100);
  }
}

void RadosStateStore::Unlock() {
  int r = rados_unlock(io_, oid_.c_str(), kLockName, cookie_.c_str());
  if (r == -ENOENT)
    LOG_WARN("state: the lock on %s expired before the write ended (lock_duration_sec %u too short?)",
             Where().c_str(), opts_.lock_duration_sec);
  else if (r < 0)
    LOG_WARN("state: unlocking %s: %s", Where().c_str(), ErrnoName(r).c_str());
}

int RadosStateStore::WriteGuarded(uint64_t version, const StateMap& puts, const std::vector<std::string>& removes) {
  const std::string cur = std::to_string(version), next = std::to_string(version + 1);
  std::vector<const char*> keys, vals, rm;
  std::vector<size_t> key_lens, val_lens, rm_lens;
  for (const auto& [k, v] : puts) {
    keys.push_back(k.data());
    key_lens.push_back(k.size());
    vals.push_back(v.data());
    val_lens.push_back(v.size());
  }
  keys.push_back(kOmapVersionKey);
  key_lens.push_back(std::strlen(kOmapVersionKey));
  vals.push_back(next.data());
  val_lens.push_back(next.size());
  for (const auto& k : removes) {
    rm.push_back(k.data());
    rm_lens.push_back(k.size());
  }
  rados_write_op_t op = rados_create_write_op();
  int cmp_rval = 0;
  rados_write_op_omap_cmp2(op, kOmapVersionKey, LIBRADOS_CMPXATTR_OP_EQ, cur.data(), std::strlen(kOmapVersionKey),
                           cur.size(), &cmp_rval);
  if (!rm.empty()) rados_write_op_omap_rm_keys2(op, rm.data(), rm_lens.data(), rm.size());
  rados_write_op_omap_set2(op, keys.data(), vals.data(), key_lens.data(), val_lens.data(), keys.size());
  int r = rados_write_op_operate2(op, io_, oid_.c_str(), nullptr, 0);
  rados_release_write_op(op);
  return r;
}

Status RadosStateStore::Transact(const std::vector<std::string>& probe, bool full, const Mutation& fn,
                                 uint64_t* new_version, bool retry) {
  if (new_version) *new_version = 0;
  std::lock_guard writer(write_mu_);
  for (int attempt = 1;; ++attempt) {
    if (Status s = Lock(); !s.ok()) {
      NoteError(s);
      return s;
    }
    StateMap seen;
    uint64_t version = 0;
    Status s = ReadKeys(full ? std::vector<std::string>{} : probe, &seen, &version);
    if (s.ok() && full) {
      bool cached = false;
      {
        std::lock_guard lock(deliver_mu_);
        if (have_delivered_ && delivered_version_ == version) {
          seen = delivered_map_;
          cached = true;
        }
      }
      if (!cached) {
        auto all = ReadAllInternal(&version);
        if (all.ok())
          seen = std::move(*all);
        else
          s = all.status();
      }
    }
    StateMap puts;
    std::vector<std::string> removes;
    NoteError(s);
    if (s.ok()) s = fn(seen, version, &puts, &removes);
    if (s.ok()) s = state_internal::ValidateWrite(puts, removes);
    if (!s.ok() || (puts.empty() && removes.empty())) {
      Unlock();
      return s;
    }
    int r = WriteGuarded(version, puts, removes);
    Unlock();
    if (r == -ECANCELED) {
      // omap_version moved although we held the lock: our lease ran out and another
      // gateway wrote. Nothing of ours was written.
      LOG_WARN("state: %s changed under our lock (version %llu is gone)", Where().c_str(),
               static_cast<unsigned long long>(version));
      if (retry && attempt < kWriteAttempts) continue;
      return Status::Error(state::errc::kLeaseLost, "state: " + Where() + " was changed by another writer while locked by " +
                                          Client() + " (lock lease of " + std::to_string(opts_.lock_duration_sec) +
                                          " s ran out); nothing was written");
    }
    if (r < 0) {
      Status e = Error(r, "state: cannot write " + Where());
      NoteError(e);
      return e;
    }
    RecordOwnWrite(version, puts, removes);
    SendNotify();
    if (new_version) *new_version = version + 1;
    return Status::OK();
  }
}

void RadosStateStore::RecordOwnWrite(uint64_t version, const StateMap& puts,
                                     const std::vector<std::string>& removes) {
  std::lock_guard lock(deliver_mu_);
  if (!have_delivered_ || delivered_version_ != version) return;  // others wrote since: a full read follows
  for (const auto& k : removes) delivered_map_.erase(k);
  for (const auto& [k, v] : puts) delivered_map_[k] = v;
  delivered_version_ = version + 1;
}

void RadosStateStore::SendNotify() {
  if (uint64_t timeouts = notify_->Reap()) {
    auto now = Clock::now();
    if (now - last_notify_warning_ > std::chrono::seconds(60)) {
      LOG_WARN("state: %llu notifies on %s were not acknowledged by every watcher within %u ms (a gateway that "
               "died keeps its watch until the OSD drops it, osd_client_watch_timeout); writers do not wait for them",
               static_cast<unsigned long long>(timeouts), Where().c_str(), opts_.notify_timeout_ms);
      last_notify_warning_ = now;
    }
  }
  auto* ctx = new NotifyState::Ctx{notify_};
  rados_aio_create_completion2(ctx, &NotifyState::Done, &ctx->completion);
  {
    std::lock_guard lock(notify_->mu);
    ++notify_->in_flight;
  }
  int r = rados_aio_notify(io_, oid_.c_str(), ctx->completion, "", 0, opts_.notify_timeout_ms, &ctx->reply,
                           &ctx->reply_len);
  if (r < 0) {
    LOG_WARN("state: notify on %s: %s", Where().c_str(), ErrnoName(r).c_str());
    {
      std::lock_guard lock(notify_->mu);
      --notify_->in_flight;
    }
    rados_aio_release(ctx->completion);
    delete ctx;
  }
}

// ------------------------------------------------------------------ watch / poll

void RadosStateStore::WatchCallback(void* arg, uint64_t notify_id, uint64_t handle, uint64_t notifier_id, void*,
                                    size_t) {
  auto* self = static_cast<RadosStateStore*>(arg);
  rados_notify_ack(self->io_, self->oid_.c_str(), notify_id, handle, nullptr, 0);
  if (notifier_id != self->instance_id_) self->Wake();  // our own writes are known already
}

void RadosStateStore::WatchErrorCallback(void* arg, uint64_t, int err) {
  auto* self = static_cast<RadosStateStore*>(arg);
  self->watch_error_.store(err ? err : -ENOTCONN);
  self->Wake();
}

void RadosStateStore::EnsureWatch() {
  bool had = watching_;
  if (watching_) {
    int err = watch_error_.exchange(0);
    int check = rados_watch_check(io_, watch_handle_);
    if (err == 0 && check >= 0) return;
    LOG_WARN("state: watch on %s failed (%s); re-establishing", Where().c_str(),
             ErrnoName(err ? err : check).c_str());
    rados_unwatch2(io_, watch_handle_);
    watching_ = false;
  }
  watch_error_.store(0);
  int r = rados_watch3(io_, oid_.c_str(), &watch_handle_, &WatchCallback, &WatchErrorCallback, 0, this);
  if (r == -ESHUTDOWN) {
    blocklisted_.store(true);  // Reconnect() says it
    return;
  }
  if (r < 0) {
    LOG_WARN("state: cannot watch %s: %s (polling every %u s, retrying the watch every second)", Where().c_str(),
             ErrnoName(r).c_str(), opts_.poll_interval_sec);
    return;
  }
  watching_ = true;
  if (had) LOG_INFO("state: watch on %s re-established", Where().c_str());
}

void RadosStateStore::Deliver(StateMap map, uint64_t version) {
  std::function<void(const StateMap&, uint64_t)> cb;
  {
    std::lock_guard lock(deliver_mu_);
    if (have_delivered_ && version <= delivered_version_) {
      if (version < delivered_version_)
        LOG_WARN("state: omap_version of %s went back from %llu to %llu (object recreated?); ignored",
                 Where().c_str(), static_cast<unsigned long long>(delivered_version_),
                 static_cast<unsigned long long>(version));
      return;
    }
    have_delivered_ = true;
    delivered_version_ = version;
    delivered_map_ = map;
    cb = cb_;
  }
  if (cb) {
    std::lock_guard lock(cb_mu_);
    cb(map, version);
  }
}

void RadosStateStore::Refresh() {
  uint64_t version = 0;
  auto r = ReadAllInternal(&version);
  if (!r.ok()) {
    NoteError(r.status());
    if (blocklisted_.load()) return;  // Reconnect() says it
    auto now = Clock::now();
    if (now - last_read_warning_ > std::chrono::seconds(60)) {
      LOG_WARN("%s", r.status().message().c_str());
      last_read_warning_ = now;
    }
    return;
  }
  Deliver(std::move(*r), version);
}

Status RadosStateStore::Start() {
  {
    std::lock_guard lock(wake_mu_);
    if (started_) return Status::OK();
    started_ = true;
    stop_ = false;
  }
  if (opts_.watch) EnsureWatch();  // before the read, so that no change falls in between
  uint64_t version = 0;
  auto r = ReadAllInternal(&version);
  if (!r.ok()) {
    if (watching_) {
      rados_unwatch2(io_, watch_handle_);
      watching_ = false;
    }
    std::lock_guard lock(wake_mu_);
    started_ = false;
    return r.status();
  }
  Deliver(std::move(*r), version);
  thread_ = std::thread([this] { Run(); });
  return Status::OK();
}

void RadosStateStore::Run() {
  const auto poll = std::chrono::seconds(opts_.poll_interval_sec);
  auto next_poll = Clock::now() + poll;
  for (;;) {
    {
      std::unique_lock lock(wake_mu_);
      auto until = next_poll;
      if ((opts_.watch && !watching_) || blocklisted_.load()) until = std::min(until, Clock::now() + std::chrono::seconds(1));
      wake_cv_.wait_until(lock, until, [&] { return stop_ || wake_; });
      if (stop_) return;
      wake_ = false;
    }
    const bool tried = blocklisted_.load();
    if (tried) Reconnect();
    if (opts_.watch) EnsureWatch();
    Refresh();
    if (blocklisted_.load() && !tried) {  // seen by this round: reconnect at once
      Reconnect();
      if (opts_.watch) EnsureWatch();
      Refresh();
    }
    if (Clock::now() >= next_poll) next_poll = Clock::now() + poll;
  }
}

void RadosStateStore::Reconnect() {
  rados_t cluster = nullptr;
  rados_ioctx_t io = nullptr;
  uint64_t id = 0;
  if (Status s = Connect(&cluster, &io, &id); !s.ok()) {
    auto now = Clock::now();
    if (now - last_reconnect_warning_ > std::chrono::seconds(60)) {
      LOG_WARN("state: %s is blocklisted and cannot reconnect yet (retrying every second): %s", Client().c_str(),
               s.ToString().c_str());
      last_reconnect_warning_ = now;
    }
    return;
  }
  std::string old_addr = ClientAddresses().empty() ? "?" : ClientAddresses().front();
  const uint64_t old_id = instance_id_;
  rados_t old_cluster;
  rados_ioctx_t old_io;
  bool notifies_done;
  {
    std::lock_guard writer(write_mu_);
    std::unique_lock conn(conn_mu_);
    if (watching_) {
      rados_unwatch2(io_, watch_handle_);
      watching_ = false;
    }
    rados_watch_flush(cluster_);  // no watch callback of the old client runs after this
    {
      // A blocklisted client's notifies fail at once; one still pending keeps its handle open.
      std::unique_lock lock(notify_->mu);
      notifies_done = notify_->cv.wait_for(lock, milliseconds(opts_.notify_timeout_ms) + std::chrono::seconds(1),
                                           [&] { return notify_->in_flight == 0; });
    }
    notify_->Reap();
    old_cluster = cluster_;
    old_io = io_;
    cluster_ = cluster;
    io_ = io;
    instance_id_ = id;
    blocklisted_.store(false);
  }
  if (notifies_done) {
    rados_ioctx_destroy(old_io);
    rados_shutdown(old_cluster);
  } else {
    retired_.emplace_back(old_cluster, old_io);
  }
  const std::string new_addr = ClientAddresses().empty() ? "?" : ClientAddresses().front();
  LOG_WARN("state: %s instance %llu (%s) was blocklisted; reconnected as instance %llu (%s), watching and reading %s again",
           Client().c_str(), static_cast<unsigned long long>(old_id), old_addr.c_str(),
           static_cast<unsigned long long>(id), new_addr.c_str(), Where().c_str());
  std::string daemon;
  std::map<std::string, std::string> metadata;
  {
    std::lock_guard lock(service_mu_);
    daemon = service_daemon_;
    metadata = service_metadata_;
  }
  if (!daemon.empty()) {
    std::shared_lock conn(conn_mu_);
    if (Status s = RegisterServiceLocked(daemon, metadata); !s.ok())
      LOG_WARN("state: %s", s.ToString().c_str());
  }
}

void RadosStateStore::Stop() {
  {
    std::lock_guard lock(wake_mu_);
    stop_ = true;
    started_ = false;
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // called from the subscriber: the thread ends when it returns
    } else {
      thread_.join();
    }
  }
  if (watching_) {
    rados_unwatch2(io_, watch_handle_);
    watching_ = false;
  }
}

}  // namespace

Result<std::unique_ptr<StateStore>> OpenRadosStateStore(const RadosStateOptions& opts) {
  auto store = std::make_unique<RadosStateStore>(opts);
  if (Status s = store->Open(); !s.ok()) return s;
  return std::unique_ptr<StateStore>(std::move(store));
}

}  // namespace nvmeof
