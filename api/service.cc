// GatewayService: construction (options and their defaults), the links to the device
// opener and the state follower, and opening the storage behind a namespace (used by the
// RPCs and by the state backend). Runs on the thread that calls it: the daemon's at
// start-up, then gRPC threads or the StateFollower's thread with the RPC lock held.
#include "api/service.h"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "api/service_internal.h"

namespace nvmeof::api {

using namespace internal;

GatewayService::GatewayService(Target* target, StateStore* store, ServiceOptions opts)
    : target_(target), store_(store), opts_(std::move(opts)), secrets_(opts_.key_encryption) {
  if (opts_.hostname.empty()) {
    char hn[256] = {};
    if (gethostname(hn, sizeof(hn) - 1) == 0) opts_.hostname = hn;
  }
  if (opts_.gateway_name.empty()) opts_.gateway_name = opts_.hostname;
  if (opts_.load_balancing_group == 0) opts_.load_balancing_group = 1;
}

GatewayService::~GatewayService() = default;

void GatewayService::SetDeviceFactory(DeviceFactory* devices) {
  std::lock_guard<std::mutex> lk(mu_);
  devices_ = devices ? devices : &no_rbd_devices_;
}

void GatewayService::SetStateFollower(StateFollower* follower) {
  std::lock_guard<std::mutex> lk(mu_);
  follower_ = follower;
  // This gateway's auto-listeners change while it applies the group state; they are
  // written to it once the applier is done (mu_ held by the follower).
  if (follower_) follower_->SetAfterApply([this] { PublishAutoListeners(); });
}

StateMap GatewayService::LocalState() {
  std::lock_guard<std::mutex> lk(mu_);
  return state_;
}

DeviceSpec GatewayService::DeviceSpecOf(const namespace_add_req& req, uint32_t anagrpid) {
  DeviceSpec b;
  b.kind = req.has_backend() ? req.backend() : "rbd";
  b.pool = req.rbd_pool_name();
  b.rados_namespace = req.rados_namespace_name();
  b.image = req.rbd_image_name();
  b.data_pool = req.rbd_data_pool_name();
  b.read_only = req.read_only();
  b.create_image = req.create_image();
  b.create_size = req.size();
  b.anagrpid = anagrpid;
  b.memory_size = req.memory_size();
  b.file_path = req.file_path();
  if (req.has_file_size()) {
    b.file_size = req.file_size();
    b.file_size_checked = true;
  }
  b.block_size = req.block_size();
  return b;
}

void GatewayService::TrashImageOfDeleted(const namespace_add_req& req, const std::weak_ptr<Namespace>& ns) {
  const std::string image = RbdImagePath(req);
  // The target drops a namespace at once; connections holding it let go at their next step.
  for (int i = 0; i < 3000 && !ns.expired(); i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!ns.expired())
    LOG_WARN("namespace %u of %s: its device on image %s is still open after 30 s, moving the image to the RBD "
             "trash anyway", req.nsid(), req.subsystem_nqn().c_str(), image.c_str());
  Status st = devices_->MoveToTrash(DeviceSpecOf(req, 0));
  if (st.ok()) {
    LOG_INFO("namespace %u of %s deleted: RBD image %s moved to the trash", req.nsid(), req.subsystem_nqn().c_str(),
             image.c_str());
  } else {
    LOG_WARN("namespace %u of %s deleted, but its RBD image %s was not moved to the trash: %s", req.nsid(),
             req.subsystem_nqn().c_str(), image.c_str(), st.message().c_str());
  }
}

Result<uint32_t> GatewayService::AddNamespaceToTarget(const namespace_add_req& req, uint32_t anagrpid) {
  DeviceSpec b = DeviceSpecOf(req, anagrpid);
  auto dev = devices_->Open(b);
  if (!dev.ok()) return dev.status();
  dev.value()->set_auto_resize(!req.disable_auto_resize());
  NamespaceSpec ns;
  ns.nsid = req.has_nsid() ? req.nsid() : 0;
  ns.block_size = req.block_size();
  if (req.has_uuid() && !req.uuid().empty()) {
    Uuid u;
    if (!ParseUuid(req.uuid(), &u)) return Status::Error(errc::kInvalidRequest, "Invalid UUID \"" + req.uuid() + "\"");
    ns.uuid = u;
  }
  ns.anagrpid = anagrpid;
  ns.auto_visible = !req.no_auto_visible();
  ns.read_only = req.read_only();
  ns.backend = b.kind;
  if (b.kind == "rbd") {
    ns.rbd_pool = b.pool;
    ns.rados_namespace = b.rados_namespace;
    ns.rbd_image = b.image;
  }
  return target_->AddNamespace(req.subsystem_nqn(), ns, std::move(dev.value()));
}

}  // namespace nvmeof::api
