// The librbd RbdOpener (builds with NVMEOF_WITH_RBD): see device_factory.h.
#include <mutex>

#include "rbd-backend/device_factory.h"
#include "rbd-backend/rados_pool.h"
#include "rbd-backend/rbd_device.h"

namespace nvmeof {

namespace {

class LibrbdOpener final : public RbdOpener {
 public:
  explicit LibrbdOpener(CephClientOptions opts) : opts_(std::move(opts)) {}

  Result<std::unique_ptr<BlockDevice>> Open(const DeviceSpec& d) override {
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
      }
      p = rados_;
    }
    RbdSpec spec;
    spec.pool_name = d.pool;
    spec.rados_namespace = d.rados_namespace;
    spec.image_name = d.image;
    spec.create = d.create_image;
    spec.size_bytes = d.create_size;
    spec.data_pool = d.data_pool;
    spec.read_only = d.read_only;
    return OpenRbdDevice(p, spec);
  }

  std::vector<std::string> ClientAddresses() const override {
    std::shared_ptr<RadosClusterPool> p;
    {
      std::lock_guard<std::mutex> lk(mu_);
      p = rados_;
    }
    std::vector<std::string> out;
    if (p)
      for (const auto& c : p->connections()) out.push_back(c.address);
    return out;
  }

 private:
  const CephClientOptions opts_;
  mutable std::mutex mu_;
  std::shared_ptr<RadosClusterPool> rados_;  // connected on the first open
};

}  // namespace

bool RbdBuiltIn() { return true; }

std::unique_ptr<RbdOpener> NewRbdOpener(const CephClientOptions& opts) {
  return std::make_unique<LibrbdOpener>(opts);
}

}  // namespace nvmeof
