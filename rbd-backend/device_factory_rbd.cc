// The librbd RbdOpener (builds with NVMEOF_WITH_RBD): see device_factory.h.
#include <mutex>

#include "gateway/common/log.h"
#include "rbd-backend/device_factory.h"
#include "rbd-backend/rados_pool.h"
#include "rbd-backend/rbd_device.h"

namespace nvmeof {

namespace {

class LibrbdOpener final : public RbdOpener {
 public:
  explicit LibrbdOpener(CephClientOptions opts) : opts_(std::move(opts)) {}

  Result<std::unique_ptr<BlockDevice>> Open(const DeviceSpec& d) override {
    auto p = Connected();
    if (!p.ok()) return p.status();
    return OpenRbdDevice(p.value(), ToRbdSpec(d));
  }

  Status MoveToTrash(const DeviceSpec& d) override {
    auto p = Connected();
    if (!p.ok()) return p.status();
    return TrashRbdImage(p.value(), ToRbdSpec(d));
  }

  static RbdSpec ToRbdSpec(const DeviceSpec& d) {
    RbdSpec spec;
    spec.pool_name = d.pool;
    spec.rados_namespace = d.rados_namespace;
    spec.image_name = d.image;
    spec.create = d.create_image;
    spec.size_bytes = d.create_size;
    spec.data_pool = d.data_pool;
    spec.read_only = d.read_only;
    return spec;
  }

  // The cluster pool, connected on the first use.
  Result<std::shared_ptr<RadosClusterPool>> Connected() {
    std::shared_ptr<RadosClusterPool> p;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!rados_) {
        RadosClusterConfig rc;
        rc.conf_path = opts_.conf_path;
        if (!opts_.client_id.empty()) rc.client_id = opts_.client_id;
        rc.bdevs_per_cluster = opts_.bdevs_per_cluster;
        auto created = RadosClusterPool::Create(rc);
        if (!created.ok()) return created.status();
        rados_ = created.value();
        if (on_connect_) rados_->SetConnectObserver(on_connect_);
      }
      p = rados_;
    }
    return p;
  }

  void SetConnectObserver(std::function<void(const std::string& address)> fn) override {
    std::lock_guard<std::mutex> lk(mu_);
    on_connect_ = fn;
    if (rados_) rados_->SetConnectObserver(std::move(fn));
  }

  Status RecoverBlocklisted(std::chrono::milliseconds timeout) override {
    std::shared_ptr<RadosClusterPool> p = pool();
    uint32_t reopened = 0;
    const auto t0 = std::chrono::steady_clock::now();
    Status s = p ? p->RecoverBlocklisted(timeout, &reopened) : Status::OK();
    if (s.ok() && reopened > 0)
      LOG_INFO("rbd: images of %u blocklisted RADOS connection(s) reopened on new ones in %lld ms", reopened,
               static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now() - t0).count()));
    return s;
  }

  std::vector<std::string> ClientAddresses() const override {
    std::shared_ptr<RadosClusterPool> p = pool();
    std::vector<std::string> out;
    if (p)
      for (const auto& c : p->connections()) out.push_back(c.address);
    return out;
  }

 private:
  std::shared_ptr<RadosClusterPool> pool() const {
    std::lock_guard<std::mutex> lk(mu_);
    return rados_;
  }

  const CephClientOptions opts_;
  mutable std::mutex mu_;
  std::shared_ptr<RadosClusterPool> rados_;  // connected on the first open
  std::function<void(const std::string&)> on_connect_;
};

}  // namespace

bool RbdBuiltIn() { return true; }

std::unique_ptr<RbdOpener> NewRbdOpener(const CephClientOptions& opts) {
  return std::make_unique<LibrbdOpener>(opts);
}

}  // namespace nvmeof
