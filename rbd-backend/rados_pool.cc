#include "rbd-backend/rados_pool.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "gateway/common/log.h"

namespace nvmeof {
namespace {

std::string Errno(int err) { return std::strerror(err); }

std::string ConfGet(rados_t c, const char* opt) {
  char buf[1024];
  if (rados_conf_get(c, opt, buf, sizeof(buf)) != 0) return "";
  return buf;
}

}  // namespace

Result<std::shared_ptr<RadosClusterPool>> RadosClusterPool::Create(RadosClusterConfig cfg) {
  if (cfg.client_id.empty()) return Status::Error(bdev::errc::kBadSpec, "rados: empty client id");
  if (cfg.client_id.rfind("client.", 0) == 0) cfg.client_id = cfg.client_id.substr(7);
  if (cfg.bdevs_per_cluster == 0)
    return Status::Error(bdev::errc::kBadSpec, "rados: bdevs_per_cluster must be at least 1");
  if (cfg.connect_timeout_s == 0)
    return Status::Error(bdev::errc::kBadSpec, "rados: connect_timeout_s must be at least 1");
  return std::shared_ptr<RadosClusterPool>(new RadosClusterPool(std::move(cfg)));
}

RadosClusterPool::RadosClusterPool(RadosClusterConfig cfg) : cfg_(std::move(cfg)) {
  maint_ = std::thread([this] { MaintenanceLoop(); });
}

RadosClusterPool::~RadosClusterPool() {
  {
    std::lock_guard<std::mutex> lk(maint_mu_);
    stop_ = true;
  }
  maint_cv_.notify_all();
  maint_.join();
  std::lock_guard<std::mutex> lk(mu_);
  for (Connection& c : conns_) {
    if (c.users != 0)
      LOG_ERROR("rados %s: connection %llu destroyed with %u images still open",
                cfg_.name.c_str(), static_cast<unsigned long long>(c.serial), c.users);
    Shutdown(&c);
  }
}

void RadosClusterPool::Shutdown(Connection* c) {
  if (c->cluster != nullptr) rados_shutdown(c->cluster);
  c->cluster = nullptr;
}

std::string RadosClusterPool::mon_host() const {
  std::lock_guard<std::mutex> lk(mu_);
  return mon_host_.empty() ? cfg_.mon_host : mon_host_;
}

// Creates and connects one client instance. Every failure becomes a bdev::errc name
// (kCeph keeps librados' errno as os_errno).
Result<rados_t> RadosClusterPool::Connect(std::string* mon_host_out) {
  const std::string who = "client." + cfg_.client_id;
  rados_t c = nullptr;
  int r = rados_create(&c, cfg_.client_id.c_str());
  if (r < 0) return Status::Error(bdev::errc::kCeph, "rados_create(" + who + "): " + Errno(-r), -r);
  auto fail = [&](Status s) -> Result<rados_t> {
    rados_shutdown(c);  // also frees an unconnected handle
    return s;
  };

  r = rados_conf_read_file(c, cfg_.conf_path.empty() ? nullptr : cfg_.conf_path.c_str());
  if (r < 0 && !cfg_.conf_path.empty())
    return fail(Status::Error(bdev::errc::kCeph, "cannot read Ceph config '" + cfg_.conf_path + "': " +
                                      Errno(-r), -r));
  const std::string t = std::to_string(cfg_.connect_timeout_s);
  std::vector<std::pair<std::string, std::string>> opts = {
      {"client_mount_timeout", t},
      {"rados_mon_op_timeout", t},
      {"rados_osd_op_timeout", std::to_string(cfg_.osd_op_timeout_s)},
      {"rbd_cache", cfg_.rbd_cache ? "true" : "false"},
      // librbd copies write buffers (once). Its zero-copy mode (false here) was measured
      // to hang every write issued after the client got blocklisted: the completion waits
      // for a buffer reference that is never dropped. Set it explicitly, whatever ceph.conf says.
      {"rbd_disable_zero_copy_writes", "true"},
  };
  if (!cfg_.keyring.empty()) opts.emplace_back("keyring", cfg_.keyring);
  if (!cfg_.mon_host.empty()) opts.emplace_back("mon_host", cfg_.mon_host);
  for (const auto& kv : cfg_.conf_overrides) opts.push_back(kv);
  for (const auto& [k, v] : opts) {
    r = rados_conf_set(c, k.c_str(), v.c_str());
    if (r < 0)
      return fail(Status::Error(bdev::errc::kBadSpec, "rados: cannot set option " + k + "=" + v + ": " +
                                          Errno(-r)));
  }
  const std::string mons = ConfGet(c, "mon_host");
  *mon_host_out = mons;
  if (mons.empty())
    return fail(Status::Error(bdev::errc::kBadSpec,
        "no Ceph monitor address: set mon_host in " +
        (cfg_.conf_path.empty() ? std::string("the Ceph config (none found)") : cfg_.conf_path) +
        " or in the cluster configuration"));

  r = rados_connect(c);
  if (r < 0) {
    const std::string keyring = ConfGet(c, "keyring");
    switch (-r) {
      case ETIMEDOUT:
        return fail(Status::Error(bdev::errc::kTimedOut,
            "cannot reach the Ceph monitors at " + mons + " within " + t +
                           " s (as " + who + "): cluster down, wrong address or firewall?"));
      case EACCES:
      case EPERM:
        return fail(Status::Error(bdev::errc::kAuthenticationFailed, "authentication as " + who +
                                              " to the Ceph cluster at " + mons +
                                              " failed: wrong key, unknown user, or no mon caps for this user (keyring " +
                                              keyring + ")"));
      case ENOENT:
        return fail(Status::Error(bdev::errc::kAuthenticationFailed, "no key for " + who + " found (keyring " + keyring +
                                              ") to authenticate to the Ceph cluster at " +
                                              mons));
      case EIO:
        return fail(Status::Error(bdev::errc::kAuthenticationFailed, "authentication as " + who + " to the Ceph cluster at " +
                                              mons + " failed: unreadable key (keyring " +
                                              keyring + ")"));
      default:
        return fail(Status::Error(bdev::errc::kCeph, "cannot connect to the Ceph cluster at " + mons + " as " +
                                          who + ": " + Errno(-r), -r));
    }
  }
  return c;
}

RadosClusterPool::Connection* RadosClusterPool::TakeFreeLocked() {
  for (Connection& c : conns_) {
    if (!c.fenced && c.cluster != nullptr && c.users < cfg_.bdevs_per_cluster) {
      ++c.users;
      return &c;
    }
  }
  return nullptr;
}

Result<RadosClusterPool::Connection*> RadosClusterPool::Acquire() {
  uint64_t attempts_seen;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (Connection* c = TakeFreeLocked()) return c;
    attempts_seen = connect_attempts_;
  }
  std::lock_guard<std::mutex> connect_lk(connect_mu_);
  {
    // Another thread may have connected while we waited...
    std::lock_guard<std::mutex> lk(mu_);
    if (Connection* c = TakeFreeLocked()) return c;
    // ...or failed: callers that queued behind a failed attempt share its answer rather
    // than each waiting out its own connect timeout (many namespaces, one dead cluster).
    if (connect_attempts_ != attempts_seen && !last_connect_error_.ok()) return last_connect_error_;
  }
  std::string mons;
  auto r = Connect(&mons);
  {
    std::lock_guard<std::mutex> lk(mu_);
    connect_attempts_++;
    last_connect_error_ = r.ok() ? Status::OK() : r.status();
  }
  if (!r.ok()) return r.status();
  rados_t cluster = r.value();
  Connection conn;
  conn.cluster = cluster;
  conn.instance_id = rados_get_instance_id(cluster);
  char* addrs = nullptr;
  if (rados_getaddrs(cluster, &addrs) == 0 && addrs != nullptr) {
    conn.address = addrs;
    std::free(addrs);
  }
  conn.users = 1;
  Connection* c;
  std::function<void(const std::string&)> observer;
  {
    std::lock_guard<std::mutex> lk(mu_);
    mon_host_ = mons;
    conn.serial = next_serial_++;
    conns_.push_back(std::move(conn));
    c = &conns_.back();
    observer = on_connect_;
  }
  LOG_INFO("rados %s: connected as client.%s (instance client.%llu, address %s) to %s",
           cfg_.name.c_str(), cfg_.client_id.c_str(),
           static_cast<unsigned long long>(c->instance_id), c->address.c_str(), mons.c_str());
  // The connection is ours alone until we return (users = 1): nothing goes through it
  // before the observer knows its address.
  if (observer) observer(c->address);
  return c;
}

void RadosClusterPool::Release(Connection* c) {
  bool shutdown = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (c->users > 0) --c->users;
    // An unused connection is closed: it costs threads and sockets, and reconnecting takes
    // only milliseconds.
    shutdown = c->users == 0;
  }
  if (!shutdown) return;
  // rados_shutdown joins the connection's threads: never under mu_. Acquire() skips a
  // connection whose cluster is null, and only Release() (users == 0) gets here, so no one
  // else uses it.
  rados_t cluster = nullptr;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (c->users != 0) return;  // picked up again meanwhile
    cluster = c->cluster;
    c->cluster = nullptr;
  }
  if (cluster != nullptr) {
    LOG_INFO("rados %s: closing connection %llu (client.%llu%s)", cfg_.name.c_str(),
             static_cast<unsigned long long>(c->serial),
             static_cast<unsigned long long>(c->instance_id), c->fenced ? ", blocklisted" : "");
    rados_shutdown(cluster);
  }
  std::lock_guard<std::mutex> lk(mu_);
  conns_.remove_if([c](const Connection& x) { return &x == c && x.cluster == nullptr && x.users == 0; });
}

void RadosClusterPool::MarkFenced(Connection* c) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!c->fenced)
    LOG_WARN("rados %s: client.%llu (%s) is blocklisted; it gets no new images",
             cfg_.name.c_str(), static_cast<unsigned long long>(c->instance_id),
             c->address.c_str());
  c->fenced = true;
}

bool RadosClusterPool::IsFenced(const Connection* c) const {
  std::lock_guard<std::mutex> lk(mu_);
  return c->fenced;
}

std::vector<RadosClusterPool::ConnectionInfo> RadosClusterPool::connections() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<ConnectionInfo> v;
  for (const Connection& c : conns_)
    if (c.cluster != nullptr) v.push_back({c.serial, c.address, c.instance_id, c.users, c.fenced});
  return v;
}

Status RadosClusterPool::Probe() {
  auto c = Acquire();
  if (!c.ok()) return c.status();
  Release(c.value());
  return Status::OK();
}

void RadosClusterPool::SetConnectObserver(std::function<void(const std::string& address)> fn) {
  std::lock_guard<std::mutex> lk(mu_);
  on_connect_ = std::move(fn);
}

namespace {

// Whether `text` (the output of `osd blocklist ls`, plain or JSON) names `addr` exactly: the
// nonce after '/' must not continue with more digits.
bool NamesAddress(const std::string& text, const std::string& addr) {
  if (addr.empty()) return false;
  for (size_t pos = text.find(addr); pos != std::string::npos; pos = text.find(addr, pos + 1)) {
    const size_t end = pos + addr.size();
    const bool starts = pos == 0 || !std::isalnum(static_cast<unsigned char>(text[pos - 1]));
    const bool ends = end == text.size() || !std::isdigit(static_cast<unsigned char>(text[end]));
    if (starts && ends) return true;
  }
  return false;
}

}  // namespace

Status RadosClusterPool::RecoverBlocklisted(std::chrono::milliseconds timeout, uint32_t* reopened) {
  if (reopened) *reopened = 0;
  // One connection, pinned (users + 1) so that it is not shut down under the mon command.
  Connection* via = nullptr;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (Connection& c : conns_)
      if (c.cluster != nullptr && c.users > 0 && (via == nullptr || (via->fenced && !c.fenced))) via = &c;
    if (via != nullptr) ++via->users;
  }
  if (via == nullptr) return Status::OK();
  // The monitors answer a blocklisted client's commands: only the OSDs refuse it.
  const char* cmd[] = {R"({"prefix":"osd blocklist ls","format":"json"})"};
  char *outbuf = nullptr, *outs = nullptr;
  size_t outbuf_len = 0, outs_len = 0;
  const int r = rados_mon_command(via->cluster, cmd, 1, "", 0, &outbuf, &outbuf_len, &outs, &outs_len);
  std::string list = outbuf ? std::string(outbuf, outbuf_len) : std::string();
  const std::string why = outs ? std::string(outs, outs_len) : std::string();
  if (outbuf) rados_buffer_free(outbuf);
  if (outs) rados_buffer_free(outs);
  Release(via);
  if (r < 0)
    return Status::Error(bdev::errc::kCeph, "rados " + cfg_.name + ": cannot list the OSD blocklist: " + Errno(-r) +
                                                (why.empty() ? "" : " (" + why + ")"), -r);
  std::vector<std::string> fenced;
  uint32_t with_images = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (Connection& c : conns_) {
      if (c.cluster == nullptr || c.users == 0) continue;
      if (!c.fenced && NamesAddress(list, c.address)) {
        c.fenced = true;
        fenced.push_back("client." + std::to_string(c.instance_id) + " (" + c.address + ")");
      }
      if (c.fenced) ++with_images;
    }
  }
  for (const auto& f : fenced)
    LOG_WARN("rados %s: %s is blocklisted; it gets no new images", cfg_.name.c_str(), f.c_str());
  if (reopened) *reopened = with_images;
  if (with_images == 0) return Status::OK();
  std::unique_lock<std::mutex> lk(maint_mu_);
  recover_now_.fetch_add(1, std::memory_order_acq_rel);
  const uint64_t pass = passes_begun_ + 1;  // the first pass to begin from now on
  wake_ = true;
  maint_cv_.notify_all();
  if (!maint_cv_.wait_for(lk, timeout, [&] { return passes_done_ >= pass || stop_; }))
    return Status::Error(bdev::errc::kTimedOut, "rados " + cfg_.name + ": reopening the images of blocklisted clients took more than " +
                                                    std::to_string(timeout.count()) + " ms");
  return Status::OK();
}

void RadosClusterPool::AddClient(Client* c) {
  std::lock_guard<std::mutex> lk(maint_mu_);
  clients_.push_back(c);
}

void RadosClusterPool::RemoveClient(Client* c) {
  std::unique_lock<std::mutex> lk(maint_mu_);
  std::erase(clients_, c);
  maint_cv_.wait(lk, [&] { return ticking_ != c; });
}

void RadosClusterPool::Wake() {
  {
    std::lock_guard<std::mutex> lk(maint_mu_);
    wake_ = true;
  }
  maint_cv_.notify_all();
}

void RadosClusterPool::MaintenanceLoop() {
  std::unique_lock<std::mutex> lk(maint_mu_);
  while (!stop_) {
    maint_cv_.wait_for(lk, std::chrono::milliseconds(200), [&] { return wake_ || stop_; });
    if (stop_) break;
    wake_ = false;
    ++passes_begun_;
    const auto now = std::chrono::steady_clock::now();
    // By index: RemoveClient may shrink the vector while we tick (then one client may miss
    // this round, which is harmless).
    for (size_t i = 0; i < clients_.size() && !stop_; ++i) {
      Client* c = clients_[i];
      ticking_ = c;
      lk.unlock();
      c->Tick(now);
      lk.lock();
      ticking_ = nullptr;
      maint_cv_.notify_all();
    }
    ++passes_done_;
    maint_cv_.notify_all();
  }
}

}  // namespace nvmeof
