#include "rbd-backend/rbd_device.h"

#include <rbd/librbd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "gateway/common/log.h"
#include "rbd-backend/deferred_completer.h"
#include "rbd-backend/req_pool.h"

namespace nvmeof {
namespace {

using Clock = std::chrono::steady_clock;

std::string Errno(int err) { return std::strerror(err); }

int NoProgress(uint64_t, uint64_t, void*) { return 0; }  // rbd_resize2 needs a callback

// One opened image on one connection. A device has one current handle; after blocklisting
// it opens another one, and the old handle is closed once no I/O pins it any more. Handles
// are freed only with the device, so a stale pointer read by a submitter stays valid.
struct ImageHandle {
  RadosClusterPool::Connection* conn = nullptr;
  rados_ioctx_t ioctx = nullptr;
  rbd_image_t image = nullptr;
  uint64_t watch_handle = 0;
  bool watching = false;
  bool closed = false;
  uint64_t generation = 0;
  std::atomic<int64_t> pins{0};  // submitted, not yet completed I/Os on this handle
  std::atomic<bool> saw_shutdown{false};
};

class RbdDeviceImpl;

// Per-I/O state, pooled. The scratch buffer (Compare) survives recycling.
struct RbdReq {
  BdevIo* io = nullptr;
  ImageHandle* h = nullptr;
  RbdDeviceImpl* dev = nullptr;
  bool flush_after = false;
  char* scratch = nullptr;
  size_t scratch_cap = 0;
  uint32_t pool_index = 0;
  std::atomic<uint32_t> pool_next{0};
  ~RbdReq() { std::free(scratch); }
};

class RbdDeviceImpl final : public RbdDevice, public RadosClusterPool::Client {
 public:
  RbdDeviceImpl(std::shared_ptr<RadosClusterPool> pool, RbdSpec spec);
  ~RbdDeviceImpl() override;
  Status Init();

  uint64_t size() const override { return size_.load(std::memory_order_acquire); }
  const BdevInfo& info() const override { return info_; }
  void submit(BdevIo* io) override;
  Status resize(uint64_t new_size) override;
  Status refresh_size() override;
  void set_auto_resize(bool on) override { auto_resize_.store(on); }
  bool shrunk_from_outside() const override { return shrunk_.load(); }
  bool healthy() const override {
    return !blocklisted_.load(std::memory_order_relaxed) &&
           !stalled_.load(std::memory_order_relaxed);
  }

  std::string client_address() const override {
    std::lock_guard<std::mutex> lk(ctl_mu_);
    return current_.load()->conn->address;
  }
  uint64_t client_instance_id() const override {
    std::lock_guard<std::mutex> lk(ctl_mu_);
    return current_.load()->conn->instance_id;
  }
  bool blocklisted() const override { return blocklisted_.load(); }
  bool stalled() const override { return stalled_.load(); }
  uint64_t recoveries() const override { return recoveries_.load(); }
  uint64_t object_size() const override { return object_size_; }

  void Tick(Clock::time_point now) override;

 private:
  Result<ImageHandle*> OpenHandle(bool allow_create);
  Status CreateImage(rados_ioctx_t ioctx);
  void CloseHandle(ImageHandle* h);
  ImageHandle* Pin();
  void Complete(RbdReq* r, ssize_t ret);
  // The image's size against the device's: growth applied when auto-resize is on or
  // explicit_refresh, a shrink only flagged.
  void CheckSize(bool explicit_refresh = false);
  // Read-only images (ctl_mu_ not held): the size in the image's header object; when it
  // is larger than the handle's, a new handle replaces the current one, then CheckSize.
  void CheckReadOnlySize(bool explicit_refresh);
  Result<uint64_t> HeaderSize(ImageHandle* h);
  void TryRecover(Clock::time_point now);
  static void IoCallback(rbd_completion_t c, void* arg);
  static void WatchCallback(void* arg);

  const std::shared_ptr<RadosClusterPool> pool_;
  const RbdSpec spec_;
  std::string name_;  // pool[/ns]/image
  BdevInfo info_;
  uint64_t object_size_ = 0;

  std::atomic<ImageHandle*> current_{nullptr};
  ReqPool<RbdReq> reqs_;
  std::atomic<uint64_t> size_{0};
  std::atomic<bool> auto_resize_{true};
  std::atomic<bool> shrunk_{false};
  uint64_t ignored_size_ = 0;  // a growth not applied (auto-resize off) and logged; ctl_mu_

  // Health.
  std::atomic<bool> blocklisted_{false};
  std::atomic<bool> stalled_{false};
  std::atomic<uint64_t> submitted_{0};
  std::atomic<uint64_t> completed_{0};
  std::atomic<uint64_t> recoveries_{0};
  std::atomic<bool> header_changed_{false};

  // Control state: ctl_mu_ (maintenance thread, resize, destructor).
  mutable std::mutex ctl_mu_;
  std::vector<std::unique_ptr<ImageHandle>> handles_;  // every generation, freed with us
  std::vector<ImageHandle*> retired_;                  // to close once unpinned
  uint64_t generation_ = 0;
  // Maintenance thread only.
  uint64_t last_completed_ = 0;
  Clock::time_point last_progress_ = Clock::now();
  bool recovery_scheduled_ = false;
  Clock::time_point next_recovery_{};
  uint32_t backoff_ms_ = 0;
  uint64_t recover_now_seen_ = 0;
  Clock::time_point next_read_only_check_ = Clock::now();
  std::string header_oid_;  // rbd_header.<id>: read-only images; set by Init
  std::atomic<bool> header_size_failed_{false};  // logged once until it works again
};

RbdDeviceImpl::RbdDeviceImpl(std::shared_ptr<RadosClusterPool> pool, RbdSpec spec)
    : pool_(std::move(pool)), spec_(std::move(spec)) {
  name_ = spec_.pool_name + "/" +
          (spec_.rados_namespace.empty() ? "" : spec_.rados_namespace + "/") + spec_.image_name;
  backoff_ms_ = pool_->config().recovery_delay_ms;
  recover_now_seen_ = pool_->recover_now();
}

// Reads one option of librbd's effective configuration of this image (config, pool and
// image overrides all applied), e.g. "rbd_cache".
std::string ImageConfig(rbd_image_t image, const char* key) {
  int n = 0;
  int r = rbd_config_image_list(image, nullptr, &n);
  if (r != -ERANGE || n <= 0) return "";
  std::vector<rbd_config_option_t> opts(static_cast<size_t>(n));
  r = rbd_config_image_list(image, opts.data(), &n);
  if (r < 0) return "";
  std::string v;
  for (int i = 0; i < n; ++i)
    if (std::strcmp(opts[static_cast<size_t>(i)].name, key) == 0)
      v = opts[static_cast<size_t>(i)].value;
  rbd_config_image_list_cleanup(opts.data(), n);
  return v;
}

Status RbdDeviceImpl::Init() {
  auto h = OpenHandle(spec_.create);
  if (!h.ok()) return h.status();
  ImageHandle* handle = h.value();
  rbd_image_info_t st{};
  int r = rbd_stat(handle->image, &st, sizeof(st));
  if (r < 0) {
    CloseHandle(handle);
    return Status::Error(bdev::errc::kCeph, "rbd_stat(" + name_ + "): " + Errno(-r), -r);
  }
  size_.store(st.size);
  object_size_ = st.obj_size;
  const std::string cache = ImageConfig(handle->image, "rbd_cache");

  // info_.created was set by CreateImage.
  info_.kind = "rbd";
  info_.description = name_;  // pool[/namespace]/image
  info_.volatile_write_cache = cache == "true";
  info_.discard_zeroes = false;  // librbd skips partial-object discards
  info_.supports_discard = true;
  info_.supports_write_zeroes = true;
  info_.coalesce = true;
  info_.optimal_io_boundary = static_cast<uint32_t>(std::min<uint64_t>(st.obj_size, 1u << 31));
  if (spec_.read_only) {
    char id[64] = {};
    r = rbd_get_id(handle->image, id, sizeof(id));
    if (r == 0)
      header_oid_ = std::string("rbd_header.") + id;
    else
      LOG_WARN("rbd %s: rbd_get_id: %s: a resize from outside will go unnoticed (read-only image)", name_.c_str(),
               Errno(-r).c_str());
  }
  current_.store(handle);
  pool_->AddClient(this);
  LOG_INFO("rbd %s: opened%s, %llu bytes, object size %llu, rbd_cache %s, on client.%llu (%s)",
           name_.c_str(), spec_.read_only ? " read-only" : "", static_cast<unsigned long long>(st.size),
           static_cast<unsigned long long>(st.obj_size), cache.empty() ? "?" : cache.c_str(),
           static_cast<unsigned long long>(handle->conn->instance_id),
           handle->conn->address.c_str());
  return Status::OK();
}

Status RbdDeviceImpl::CreateImage(rados_ioctx_t ioctx) {
  if (spec_.size_bytes == 0)
    return Status::Error(bdev::errc::kImageSizeMissing, "image '" + name_ + "' does not exist and no size was given to create it");
  rbd_image_options_t opts;
  rbd_image_options_create(&opts);
  rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FORMAT, 2);
  if (!spec_.data_pool.empty()) rbd_image_options_set_string(opts, RBD_IMAGE_OPTION_DATA_POOL, spec_.data_pool.c_str());
  // Features, order, stripe: the cluster's rbd_default_* settings.
  const int r = rbd_create4(ioctx, spec_.image_name.c_str(), spec_.size_bytes, opts);
  rbd_image_options_destroy(opts);
  if (r == 0) {
    info_.created = true;
    LOG_INFO("rbd %s: created, %llu bytes%s%s", name_.c_str(), static_cast<unsigned long long>(spec_.size_bytes),
             spec_.data_pool.empty() ? "" : ", data pool ", spec_.data_pool.c_str());
    return Status::OK();
  }
  if (r == -EEXIST) return Status::OK();  // created by someone else meanwhile: open it
  if (r == -EPERM || r == -EACCES)
    return Status::Error(bdev::errc::kPermissionDenied, "permission denied creating image '" + name_ + "' as client." +
                                    pool_->config().client_id);
  return Status::Error(bdev::errc::kCeph, "cannot create image '" + name_ + "': " + Errno(-r), -r);
}

// Opens the image on a pooled connection. A connection that turns out to be blocklisted is
// marked fenced and another (new) one is tried.
Result<ImageHandle*> RbdDeviceImpl::OpenHandle(bool allow_create) {
  const std::string who = "client." + pool_->config().client_id;
  for (int attempt = 0;; ++attempt) {
    auto c = pool_->Acquire();
    if (!c.ok()) return c.status();
    auto h = std::make_unique<ImageHandle>();
    h->conn = c.value();
    auto fail = [&](Status s) -> Result<ImageHandle*> {
      if (h->ioctx != nullptr) rados_ioctx_destroy(h->ioctx);
      pool_->Release(h->conn);
      return s;
    };
    int r = rados_ioctx_create(h->conn->cluster, spec_.pool_name.c_str(), &h->ioctx);
    if (r < 0) {
      h->ioctx = nullptr;
      if (r == -ENOENT) return fail(Status::Error(bdev::errc::kPoolNotFound, "pool '" + spec_.pool_name + "' does not exist"));
      return fail(Status::Error(bdev::errc::kCeph, "cannot open pool '" + spec_.pool_name + "': " + Errno(-r), -r));
    }
    if (!spec_.rados_namespace.empty()) {
      bool exists = false;
      r = rbd_namespace_exists(h->ioctx, spec_.rados_namespace.c_str(), &exists);
      if (r == -EPERM || r == -EACCES)
        return fail(Status::Error(bdev::errc::kPermissionDenied, "permission denied reading the namespaces of pool '" +
                                             spec_.pool_name + "' as " + who));
      if (r < 0 && r != -ESHUTDOWN)
        return fail(Status::Error(bdev::errc::kCeph, "cannot check namespace '" + spec_.rados_namespace +
                                          "' in pool '" + spec_.pool_name + "': " + Errno(-r), -r));
      if (r == 0 && !exists)
        return fail(Status::Error(bdev::errc::kRadosNamespaceNotFound, "Namespace " + spec_.rados_namespace +
                                     " doesn't exist in pool " + spec_.pool_name));
      rados_ioctx_set_namespace(h->ioctx, spec_.rados_namespace.c_str());
    }
    if (r == 0) {
      auto open = [&] {
        return spec_.read_only ? rbd_open_read_only(h->ioctx, spec_.image_name.c_str(), &h->image, nullptr)
                               : rbd_open(h->ioctx, spec_.image_name.c_str(), &h->image, nullptr);
      };
      r = open();
      if (r == -ENOENT && allow_create) {
        Status s = CreateImage(h->ioctx);
        if (!s.ok()) return fail(s);
        r = open();
      }
    }
    if (r == -ESHUTDOWN && attempt < 2) {  // this client instance is blocklisted
      pool_->MarkFenced(h->conn);
      fail(Status::OK());
      continue;
    }
    if (r < 0) {
      h->image = nullptr;
      switch (-r) {
        case ENOENT:
          return fail(Status::Error(bdev::errc::kImageNotFound, "image '" + name_ + "' does not exist"));
        case EPERM:
        case EACCES:
          return fail(Status::Error(bdev::errc::kPermissionDenied,
              "permission denied opening image '" + name_ + "' as " + who +
                         " (its caps must allow pool '" + spec_.pool_name +
                         "', e.g. osd 'profile rbd pool=" + spec_.pool_name + "')"));
        case ETIMEDOUT:
          return fail(Status::Error(bdev::errc::kTimedOut, "timed out opening image '" + name_ +
                                                   "' (cluster at " + pool_->mon_host() +
                                                   " unreachable?)"));
        case ESHUTDOWN:
          return fail(Status::Error(bdev::errc::kBlocklisted, "cannot open image '" + name_ + "': " + who +
                                                   " is blocklisted"));
        default:
          return fail(Status::Error(bdev::errc::kCeph, "cannot open image '" + name_ + "': " + Errno(-r), -r));
      }
    }
    r = rbd_update_watch(h->image, &h->watch_handle, &WatchCallback, this);
    if (r == 0) {
      h->watching = true;
    } else {
      LOG_WARN("rbd %s: rbd_update_watch failed (%s): a resize from outside will go unnoticed",
               name_.c_str(), Errno(-r).c_str());
    }
    ImageHandle* raw = h.get();
    std::lock_guard<std::mutex> lk(ctl_mu_);
    raw->generation = ++generation_;
    handles_.push_back(std::move(h));
    return raw;
  }
}

void RbdDeviceImpl::CloseHandle(ImageHandle* h) {
  if (h->closed) return;
  h->closed = true;
  const auto t0 = Clock::now();
  if (h->watching) rbd_update_unwatch(h->image, h->watch_handle);
  if (h->image != nullptr) {
    const int r = rbd_close(h->image);
    if (r < 0)
      LOG_WARN("rbd %s: rbd_close (generation %llu): %s", name_.c_str(),
               static_cast<unsigned long long>(h->generation), Errno(-r).c_str());
  }
  if (h->ioctx != nullptr) rados_ioctx_destroy(h->ioctx);
  h->image = nullptr;
  h->ioctx = nullptr;
  pool_->Release(h->conn);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  if (ms > 1000)
    LOG_WARN("rbd %s: closing the image took %lld ms", name_.c_str(), static_cast<long long>(ms));
}

RbdDeviceImpl::~RbdDeviceImpl() {
  if (current_.load() == nullptr) return;  // Init() failed: nothing registered
  pool_->RemoveClient(this);  // no Tick() runs after this
  // The owner stops submitting before it destroys the device; wait for what is in flight
  // (bounded by osd_op_timeout_s).
  const auto t0 = Clock::now();
  auto next_log = t0 + std::chrono::seconds(10);
  for (;;) {
    int64_t pinned = 0;
    {
      std::lock_guard<std::mutex> lk(ctl_mu_);
      for (auto& h : handles_) pinned += h->pins.load();
    }
    if (pinned == 0) break;
    if (Clock::now() >= next_log) {
      LOG_WARN("rbd %s: closing, still waiting for %lld I/Os", name_.c_str(),
               static_cast<long long>(pinned));
      next_log += std::chrono::seconds(10);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::lock_guard<std::mutex> lk(ctl_mu_);
  for (auto& h : handles_) CloseHandle(h.get());
  LOG_INFO("rbd %s: closed", name_.c_str());
}

// ---------------------------------------------------------------- data path

ImageHandle* RbdDeviceImpl::Pin() {
  for (;;) {
    ImageHandle* h = current_.load();
    h->pins.fetch_add(1);
    // Re-check after pinning: the maintenance thread retires a handle by replacing
    // current_ first and then waiting for pins == 0 (seq_cst on both sides).
    if (current_.load() == h) return h;
    h->pins.fetch_sub(1);
  }
}

void RbdDeviceImpl::submit(BdevIo* io) {
  if (io->op != BdevOp::kFlush) {
    const uint64_t sz = size_.load(std::memory_order_acquire);
    if (io->offset > sz || io->length > sz - io->offset) {
      DeferredCompleter::Instance().Complete(io, -ERANGE);
      return;
    }
    if (io->length == 0) {
      DeferredCompleter::Instance().Complete(io, 0);
      return;
    }
  }
  RbdReq* r = reqs_.get();
  if (r == nullptr) {
    DeferredCompleter::Instance().Complete(io, -ENOMEM);
    return;
  }
  r->io = io;
  r->dev = this;
  r->flush_after = io->fua && info_.volatile_write_cache &&
                   (io->op == BdevOp::kWrite || io->op == BdevOp::kWriteZeroes);
  if (io->op == BdevOp::kCompare && r->scratch_cap < io->length) {
    // Grows to the largest Compare seen on this request object, then stays.
    char* p = static_cast<char*>(std::malloc(io->length));
    if (p == nullptr) {
      r->io = nullptr;
      reqs_.put(r);
      DeferredCompleter::Instance().Complete(io, -ENOMEM);
      return;
    }
    std::free(r->scratch);
    r->scratch = p;
    r->scratch_cap = io->length;
  }
  ImageHandle* h = Pin();
  r->h = h;
  rbd_completion_t c;
  int ret = rbd_aio_create_completion(r, &IoCallback, &c);  // librbd allocates this
  if (ret == 0) {
    submitted_.fetch_add(1, std::memory_order_relaxed);
    switch (io->op) {
      case BdevOp::kRead:
        ret = rbd_aio_readv(h->image, io->iov, io->iovcnt, io->offset, c);
        break;
      case BdevOp::kWrite:
        ret = rbd_aio_writev(h->image, io->iov, io->iovcnt, io->offset, c);
        break;
      case BdevOp::kFlush:
        ret = rbd_aio_flush(h->image, c);
        break;
      case BdevOp::kWriteZeroes:
        ret = rbd_aio_write_zeroes(h->image, io->offset, io->length, c, 0, 0);
        break;
      case BdevOp::kDiscard:
        ret = rbd_aio_discard(h->image, io->offset, io->length, c);
        break;
      case BdevOp::kCompare:
        ret = rbd_aio_read(h->image, io->offset, io->length, r->scratch, c);
        break;
      default:
        ret = -EOPNOTSUPP;
    }
    if (ret < 0) {
      rbd_aio_release(c);
      submitted_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  if (ret < 0) {
    r->io = nullptr;
    r->h = nullptr;
    reqs_.put(r);
    h->pins.fetch_sub(1);
    DeferredCompleter::Instance().Complete(io, ret);
  }
}

void RbdDeviceImpl::IoCallback(rbd_completion_t c, void* arg) {
  auto* r = static_cast<RbdReq*>(arg);
  const ssize_t ret = rbd_aio_get_return_value(c);
  rbd_aio_release(c);
  r->dev->Complete(r, ret);
}

// Runs on a librbd thread.
void RbdDeviceImpl::Complete(RbdReq* r, ssize_t ret) {
  BdevIo* io = r->io;
  ImageHandle* h = r->h;
  if (ret >= 0 && r->flush_after) {  // FUA with the cache on: flush before completing
    r->flush_after = false;
    rbd_completion_t c2;
    int e = rbd_aio_create_completion(r, &IoCallback, &c2);
    if (e == 0) {
      e = rbd_aio_flush(h->image, c2);
      if (e == 0) return;
      rbd_aio_release(c2);
    }
    ret = e;
  }
  int32_t result = ret < 0 ? static_cast<int32_t>(ret) : 0;
  if (result == 0 && io->op == BdevOp::kCompare) {
    uint64_t pos = 0;
    for (int i = 0; i < io->iovcnt && pos < io->length; ++i) {
      const size_t len = std::min<uint64_t>(io->iov[i].iov_len, io->length - pos);
      if (std::memcmp(r->scratch + pos, io->iov[i].iov_base, len) != 0) {
        result = -EILSEQ;
        break;
      }
      pos += len;
    }
  }
  if (result == -ESHUTDOWN && !h->saw_shutdown.exchange(true)) {
    // Blocklisted (EBLOCKLISTED == ESHUTDOWN). Only the handle in use makes us unhealthy:
    // a late error from a retired handle does not.
    if (current_.load() == h) blocklisted_.store(true);
    pool_->Wake();
  }
  r->io = nullptr;
  r->h = nullptr;
  reqs_.put(r);
  completed_.fetch_add(1, std::memory_order_release);
  h->pins.fetch_sub(1);  // the last access to this device's state
  io->result = result;
  io->Finish();
}

void RbdDeviceImpl::WatchCallback(void* arg) {
  // librbd's thread: no librbd calls here (rbd_get_size may have to refresh the image and
  // wait for the cluster). The maintenance thread re-reads the size.
  auto* d = static_cast<RbdDeviceImpl*>(arg);
  d->header_changed_.store(true);
  d->pool_->Wake();
}

// ---------------------------------------------------------------- control path

Status RbdDeviceImpl::resize(uint64_t new_size) {
  std::lock_guard<std::mutex> lk(ctl_mu_);
  const uint64_t cur = size_.load();
  if (new_size == cur) return Status::OK();
  if (new_size < cur)
    return Status::Error(bdev::errc::kShrinkRefused, "rbd " + name_ + ": shrinking (" + std::to_string(cur) +
                                   " -> " + std::to_string(new_size) +
                                   " bytes) is not supported");
  ImageHandle* h = current_.load();
  const int r = rbd_resize2(h->image, new_size, /*allow_shrink=*/false, &NoProgress, nullptr);
  if (r < 0) {
    if (r == -EPERM || r == -EACCES)
      return Status::Error(bdev::errc::kPermissionDenied, "permission denied resizing image '" + name_ + "'");
    return Status::Error(bdev::errc::kCeph, "cannot resize image '" + name_ + "' to " +
                                 std::to_string(new_size) + " bytes: " + Errno(-r), -r);
  }
  size_.store(new_size, std::memory_order_release);  // the watch then sees no change
  LOG_INFO("rbd %s: resized %llu -> %llu bytes", name_.c_str(),
           static_cast<unsigned long long>(cur), static_cast<unsigned long long>(new_size));
  return Status::OK();
}

Status RbdDeviceImpl::refresh_size() {
  if (spec_.read_only) {
    CheckReadOnlySize(/*explicit_refresh=*/true);
    return Status::OK();
  }
  std::lock_guard<std::mutex> lk(ctl_mu_);
  CheckSize(/*explicit_refresh=*/true);
  return Status::OK();
}

// cls_rbd "get_size" on the header object: in: snapshot id (le64, CEPH_NOSNAP = head);
// out: order (u8), size (le64).
Result<uint64_t> RbdDeviceImpl::HeaderSize(ImageHandle* h) {
  if (header_oid_.empty()) return Status::Error(bdev::errc::kCeph, "no header object");
  unsigned char in[8];
  const uint64_t head = static_cast<uint64_t>(-2);  // CEPH_NOSNAP
  for (int i = 0; i < 8; ++i) in[i] = static_cast<unsigned char>(head >> (8 * i));
  unsigned char out[16] = {};
  const int r = rados_exec(h->ioctx, header_oid_.c_str(), "rbd", "get_size", reinterpret_cast<const char*>(in),
                           sizeof(in), reinterpret_cast<char*>(out), sizeof(out));
  if (r < 9) return Status::Error(bdev::errc::kCeph, r < 0 ? Errno(-r) : "short reply", r < 0 ? -r : 0);
  uint64_t size = 0;
  for (int i = 0; i < 8; ++i) size |= static_cast<uint64_t>(out[1 + i]) << (8 * i);
  return size;
}

void RbdDeviceImpl::CheckReadOnlySize(bool explicit_refresh) {
  ImageHandle* cur = current_.load();
  auto hs = HeaderSize(cur);
  if (!hs.ok()) {
    if (hs.status().os_errno() != ESHUTDOWN && !header_size_failed_.exchange(true))
      LOG_WARN("rbd %s: reading the size from the image header: %s", name_.c_str(), hs.status().message().c_str());
    return;
  }
  if (header_size_failed_.exchange(false))
    LOG_INFO("rbd %s: the size is read from the image header again", name_.c_str());
  {
    std::lock_guard<std::mutex> lk(ctl_mu_);
    if (*hs <= size_.load() || current_.load() != cur) return;
    if (!explicit_refresh && !auto_resize_.load()) {
      if (*hs != ignored_size_)
        LOG_INFO("rbd %s: image grown from outside to %llu bytes; auto-resize is off, the namespace keeps %llu bytes "
                 "until its size is refreshed",
                 name_.c_str(), static_cast<unsigned long long>(*hs), static_cast<unsigned long long>(size_.load()));
      ignored_size_ = *hs;
      return;
    }
  }
  // The read-only handle keeps the size it opened with: open the image again.
  auto h = OpenHandle(false);
  if (!h.ok()) {
    LOG_WARN("rbd %s: reopening the read-only image to take its new size (%llu bytes): %s", name_.c_str(),
             static_cast<unsigned long long>(*hs), h.status().ToString().c_str());
    return;
  }
  std::lock_guard<std::mutex> lk(ctl_mu_);
  if (current_.load() != cur) {  // reopened meanwhile (blocklisting): that handle reads the size
    retired_.push_back(h.value());
    CheckSize(explicit_refresh);
    return;
  }
  current_.store(h.value());
  retired_.push_back(cur);
  CheckSize(explicit_refresh);
}

// Maintenance thread or refresh_size (ctl_mu_ held).
void RbdDeviceImpl::CheckSize(bool explicit_refresh) {
  ImageHandle* h = current_.load();
  uint64_t s = 0;
  const int r = rbd_get_size(h->image, &s);
  if (r < 0) {
    if (r != -ESHUTDOWN)
      LOG_WARN("rbd %s: rbd_get_size after a header update: %s", name_.c_str(),
               Errno(-r).c_str());
    return;
  }
  const uint64_t cur = size_.load();
  if (s == cur) return;
  if (s < cur) {
    if (!shrunk_.exchange(true))
      LOG_WARN("rbd %s: image shrunk from outside to %llu bytes; the namespace keeps its %llu bytes (I/O beyond the "
               "image's end fails)",
               name_.c_str(), static_cast<unsigned long long>(s), static_cast<unsigned long long>(cur));
    return;
  }
  if (shrunk_.exchange(false))
    LOG_INFO("rbd %s: image back at %llu bytes, no longer shrunk", name_.c_str(), static_cast<unsigned long long>(s));
  if (!explicit_refresh && !auto_resize_.load()) {
    if (s != ignored_size_)
      LOG_INFO("rbd %s: image grown from outside to %llu bytes; auto-resize is off, the namespace keeps %llu bytes "
               "until its size is refreshed",
               name_.c_str(), static_cast<unsigned long long>(s), static_cast<unsigned long long>(cur));
    ignored_size_ = s;
    return;
  }
  size_.store(s, std::memory_order_release);
  LOG_INFO("rbd %s: size changed from outside: %llu -> %llu bytes", name_.c_str(),
           static_cast<unsigned long long>(cur), static_cast<unsigned long long>(s));
  notify_resized(s);
}

// Maintenance thread (ctl_mu_ held): reopen the image on a new client instance.
void RbdDeviceImpl::TryRecover(Clock::time_point now) {
  ImageHandle* old = current_.load();
  pool_->MarkFenced(old->conn);
  auto h = OpenHandle(false);
  // OpenHandle takes ctl_mu_ for the handle list: it is called with the lock released.
  if (!h.ok()) {
    backoff_ms_ = std::min<uint32_t>(std::max<uint32_t>(backoff_ms_ * 2, 500), 60000);
    next_recovery_ = now + std::chrono::milliseconds(backoff_ms_);
    LOG_WARN("rbd %s: reopening after blocklisting failed: %s; next attempt in %u ms",
             name_.c_str(), h.status().ToString().c_str(), backoff_ms_);
    return;
  }
  ImageHandle* n = h.value();
  std::lock_guard<std::mutex> lk(ctl_mu_);
  current_.store(n);
  retired_.push_back(old);
  blocklisted_.store(false);
  recovery_scheduled_ = false;
  backoff_ms_ = pool_->config().recovery_delay_ms;
  recoveries_.fetch_add(1);
  LOG_INFO("rbd %s: reopened on client.%llu (%s) after client.%llu was blocklisted",
           name_.c_str(), static_cast<unsigned long long>(n->conn->instance_id),
           n->conn->address.c_str(), static_cast<unsigned long long>(old->conn->instance_id));
  CheckSize();
}

void RbdDeviceImpl::Tick(Clock::time_point now) {
  const RadosClusterConfig& cfg = pool_->config();

  // Stall detection: I/O in flight and nothing completed for stall_timeout_s.
  const uint64_t done = completed_.load(std::memory_order_acquire);
  const uint64_t sent = submitted_.load(std::memory_order_acquire);
  if (done != last_completed_ || done >= sent) {
    last_completed_ = done;
    last_progress_ = now;
    if (stalled_.exchange(false))
      LOG_INFO("rbd %s: I/O completes again; path healthy", name_.c_str());
  } else if (cfg.stall_timeout_s > 0 && !stalled_.load() &&
             now - last_progress_ >= std::chrono::seconds(cfg.stall_timeout_s)) {
    stalled_.store(true);
    LOG_WARN("rbd %s: %llu I/Os in flight and none completed for %u s: reporting the path "
             "unhealthy until they do",
             name_.c_str(), static_cast<unsigned long long>(sent - done), cfg.stall_timeout_s);
  }

  // Blocklisting: noticed by our own I/O, or by another image on the same connection.
  ImageHandle* cur = current_.load();
  if (!blocklisted_.load() && pool_->IsFenced(cur->conn)) blocklisted_.store(true);
  if (blocklisted_.load() && !recovery_scheduled_) {
    recovery_scheduled_ = true;
    next_recovery_ = now + std::chrono::milliseconds(backoff_ms_);
    pool_->MarkFenced(cur->conn);
    LOG_WARN("rbd %s: client.%llu (%s) is blocklisted: I/O fails with ESHUTDOWN%s",
             name_.c_str(), static_cast<unsigned long long>(cur->conn->instance_id),
             cur->conn->address.c_str(),
             cfg.recover_blocklisted ? "; will reopen on a new client instance"
                                     : " until the namespace is reopened");
  }
  // RadosClusterPool::RecoverBlocklisted: reopen now, not after the delay.
  const uint64_t recover_now = pool_->recover_now();
  if (recover_now != recover_now_seen_) {
    recover_now_seen_ = recover_now;
    if (recovery_scheduled_) next_recovery_ = now;
  }
  if (blocklisted_.load() && cfg.recover_blocklisted && now >= next_recovery_) TryRecover(now);

  if (header_changed_.exchange(false)) {
    std::lock_guard<std::mutex> lk(ctl_mu_);
    CheckSize();
  }
  if (spec_.read_only && cfg.read_only_size_check_s > 0 && now >= next_read_only_check_ && !blocklisted_.load()) {
    next_read_only_check_ = now + std::chrono::seconds(cfg.read_only_size_check_s);
    CheckReadOnlySize(/*explicit_refresh=*/false);
  }

  // Close retired handles nobody uses any more.
  std::vector<ImageHandle*> to_close;
  {
    std::lock_guard<std::mutex> lk(ctl_mu_);
    for (auto it = retired_.begin(); it != retired_.end();) {
      if ((*it)->pins.load() == 0) {
        to_close.push_back(*it);
        it = retired_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (ImageHandle* h : to_close) CloseHandle(h);
}

}  // namespace

Result<std::unique_ptr<BlockDevice>> OpenRbdDevice(const std::shared_ptr<RadosClusterPool>& pool,
                                                   const RbdSpec& spec) {
  if (!pool) return Status::Error(bdev::errc::kBadSpec, "rbd: no cluster");
  if (spec.pool_name.empty() || spec.image_name.empty())
    return Status::Error(bdev::errc::kBadSpec, "rbd: pool and image name are required");
  DeferredCompleter::Instance();  // start its thread on the control path
  auto dev = std::make_unique<RbdDeviceImpl>(pool, spec);
  Status s = dev->Init();
  if (!s.ok()) return s;
  return std::unique_ptr<BlockDevice>(std::move(dev));
}

Status TrashRbdImage(const std::shared_ptr<RadosClusterPool>& pool, const RbdSpec& spec) {
  if (!pool) return Status::Error(bdev::errc::kBadSpec, "rbd: no cluster");
  if (spec.pool_name.empty() || spec.image_name.empty())
    return Status::Error(bdev::errc::kBadSpec, "rbd: pool and image name are required");
  const std::string name = spec.pool_name + (spec.rados_namespace.empty() ? "" : "/" + spec.rados_namespace) + "/" +
                           spec.image_name;
  auto c = pool->Acquire();
  if (!c.ok()) return c.status();
  rados_ioctx_t ioctx = nullptr;
  int r = rados_ioctx_create(c.value()->cluster, spec.pool_name.c_str(), &ioctx);
  if (r == 0) {
    if (!spec.rados_namespace.empty()) rados_ioctx_set_namespace(ioctx, spec.rados_namespace.c_str());
    r = rbd_trash_move(ioctx, spec.image_name.c_str(), 0);
    rados_ioctx_destroy(ioctx);
  }
  pool->Release(c.value());
  if (r == 0) {
    LOG_INFO("rbd %s: moved to the RBD trash", name.c_str());
    return Status::OK();
  }
  switch (-r) {
    case ENOENT:
      return Status::Error(bdev::errc::kImageNotFound, "image '" + name + "' does not exist");
    case EPERM:
    case EACCES:
      return Status::Error(bdev::errc::kPermissionDenied, "permission denied moving image '" + name +
                                                              "' to the trash as client." + pool->config().client_id,
                           -r);
    default:
      return Status::Error(bdev::errc::kCeph, "cannot move image '" + name + "' to the trash: " + Errno(-r), -r);
  }
}

}  // namespace nvmeof
