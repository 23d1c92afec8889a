// DeviceFactory: opens the storage behind a namespace, for the daemon's command line and
// the management API alike. Three kinds:
//
//   memory   a sparse RAM device (OpenMemoryDevice)
//   file     a regular file or block device (OpenFileDevice)
//   rbd      a Ceph RBD image, through an RbdOpener: the librbd one (NewRbdOpener) connects
//            to the cluster on the first open and shares RADOS connections between images
//            (RadosClusterPool, bdevs_per_cluster images per connection)
//
// ParseDeviceSpec reads the command line's spelling of a device ("memory:64M:4096",
// "file:/var/lib/ns1.img:1G", "rbd:pool/image"); the management API fills a DeviceSpec from
// its request.
//
// MoveToTrash moves an RBD image to the RBD trash (the reference's trash_image on namespace
// delete): only for an image the gateway created (BdevInfo::created) and after its device is
// closed. ENODEV without RBD, EINVAL for another kind; the librbd errors of TrashRbdImage.
//
// Threads: control path only. Open() and MoveToTrash() may block (librbd, file creation) and may be called
// from several threads at once. Errors are Status values carrying the errno the
// management API reports: ENODEV when RBD is not available ("RBD namespaces are not
// available: ..."), ENOENT for a missing pool or image, EINVAL for a bad spec.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/common/status.h"
#include "rbd-backend/block_device.h"
#include "rbd-backend/errc.h"

namespace nvmeof {

struct DeviceSpec {
  std::string kind = "rbd";  // "rbd", "memory" or "file"
  // rbd: the pool, the RADOS namespace (empty: the pool's default one) and the image.
  std::string pool, rados_namespace, image;
  bool create_image = false;  // create it (create_size bytes) if it does not exist
  uint64_t create_size = 0;
  std::string data_pool;   // rbd, with create_image: the image's data pool
  bool read_only = false;  // rbd: opened read-only; other kinds: refused by the core only
  uint32_t anagrpid = 1;
  // memory
  uint64_t memory_size = 0;
  // file: created (sparse) at file_size bytes if it does not exist and file_size > 0; with
  // file_size_checked, an existing file must have exactly file_size bytes.
  std::string file_path;
  uint64_t file_size = 0;
  bool file_size_checked = false;
  // The namespace's logical block size (512 or 4096); opening does not depend on it.
  uint32_t block_size = 512;
};

// The command line's device spec:
//   memory:SIZE[:BLOCKSIZE]                    sparse RAM device
//   file:PATH[:SIZE[:BLOCKSIZE]]               file or block device
//   rbd:POOL[/NAMESPACE]/IMAGE[:BLOCKSIZE]     Ceph RBD image
// SIZE takes K/M/G/T suffixes (binary; a bare number is bytes); BLOCKSIZE is 512 or 4096.
// EINVAL "expected memory:SIZE[:BLOCKSIZE], got '...'" and the like; an rbd spec in a
// build without librbd: EINVAL "the rbd backend is not built into this binary".
Result<DeviceSpec> ParseDeviceSpec(const std::string& spec);

// Opens RBD images.
class RbdOpener {
 public:
  virtual ~RbdOpener() = default;
  virtual Result<std::unique_ptr<BlockDevice>> Open(const DeviceSpec& spec) = 0;
  // Moves the spec's image (pool, rados_namespace, image) to the RBD trash.
  // The default: an opener without a trash (ENODEV).
  virtual Status MoveToTrash(const DeviceSpec& spec) {
    return Status::Error(bdev::errc::kRbdUnavailable, "no RBD trash for image " + spec.pool + "/" + spec.image);
  }
  // The addresses of the RADOS client instances it has connected (what fencing this
  // gateway must blocklist, gateway/ha); empty before the first open.
  virtual std::vector<std::string> ClientAddresses() const { return {}; }
  // Called with the address of every RADOS client instance it connects, before any image
  // uses it (RadosClusterPool::SetConnectObserver). Set it before the first Open().
  virtual void SetConnectObserver(std::function<void(const std::string& address)> fn) { (void)fn; }
  // Reopens at once, on new client instances, the images whose client is blocklisted
  // (RadosClusterPool::RecoverBlocklisted); blocks up to `timeout`. OK when nothing is
  // connected or nothing is blocklisted.
  virtual Status RecoverBlocklisted(std::chrono::milliseconds timeout) {
    (void)timeout;
    return Status::OK();
  }
};

struct CephClientOptions {
  std::string conf_path;    // ceph.conf
  std::string client_id;    // cephx user without "client."; empty: admin
  uint32_t bdevs_per_cluster = 32;
};

// Whether this build has librbd (CMake NVMEOF_WITH_RBD).
bool RbdBuiltIn();
// The librbd opener (connects on its first Open); null when the build has no librbd.
std::unique_ptr<RbdOpener> NewRbdOpener(const CephClientOptions& opts);

class DeviceFactory {
 public:
  // rbd: null = RBD namespaces are not available (ENODEV on open).
  explicit DeviceFactory(std::unique_ptr<RbdOpener> rbd = nullptr);
  ~DeviceFactory();

  Result<std::unique_ptr<BlockDevice>> Open(const DeviceSpec& spec);
  Status MoveToTrash(const DeviceSpec& spec);
  bool rbd_available() const { return rbd_ != nullptr; }
  // The RBD opener's RADOS client addresses (RbdOpener::ClientAddresses).
  std::vector<std::string> ClientAddresses() const { return rbd_ ? rbd_->ClientAddresses() : std::vector<std::string>{}; }
  // The RBD opener's RbdOpener::SetConnectObserver and RbdOpener::RecoverBlocklisted (OK
  // without RBD).
  void SetConnectObserver(std::function<void(const std::string& address)> fn) {
    if (rbd_) rbd_->SetConnectObserver(std::move(fn));
  }
  Status RecoverBlocklisted(std::chrono::milliseconds timeout) {
    return rbd_ ? rbd_->RecoverBlocklisted(timeout) : Status::OK();
  }

 private:
  std::unique_ptr<RbdOpener> rbd_;
};

}  // namespace nvmeof
