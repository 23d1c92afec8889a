// Opening namespace devices: see device_factory.h.
#include "rbd-backend/device_factory.h"

#include <vector>

#include "gateway/common/size.h"

namespace nvmeof {

namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> v;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    v.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return v;
}

bool SizeBytes(const std::string& s, uint64_t* out) {
  auto r = ParseSize(s, 0);
  if (!r.ok()) return false;
  *out = *r;
  return true;
}

}  // namespace

Result<DeviceSpec> ParseDeviceSpec(const std::string& spec) {
  auto parts = Split(spec, ':');
  DeviceSpec d;
  const std::string& kind = parts[0];
  auto block_size = [&](size_t idx) -> Status {
    if (parts.size() > idx) {
      uint64_t bs;
      if (!SizeBytes(parts[idx], &bs) || (bs != 512 && bs != 4096))
        return Status::Error(bdev::errc::kBadSpec, "block size must be 512 or 4096 in '" + spec + "'");
      d.block_size = static_cast<uint32_t>(bs);
    }
    return Status::OK();
  };
  if (kind == "memory") {
    if (parts.size() < 2 || parts.size() > 3 || !SizeBytes(parts[1], &d.memory_size) || d.memory_size == 0)
      return Status::Error(bdev::errc::kBadSpec, "expected memory:SIZE[:BLOCKSIZE], got '" + spec + "'");
    if (auto st = block_size(2); !st.ok()) return st;
    d.kind = "memory";
    return d;
  }
  if (kind == "file") {
    if (parts.size() < 2 || parts.size() > 4 || parts[1].empty())
      return Status::Error(bdev::errc::kBadSpec, "expected file:PATH[:SIZE[:BLOCKSIZE]], got '" + spec + "'");
    if (parts.size() > 2 && !SizeBytes(parts[2], &d.file_size))
      return Status::Error(bdev::errc::kBadSpec, "bad size in '" + spec + "'");
    if (auto st = block_size(3); !st.ok()) return st;
    d.kind = "file";
    d.file_path = parts[1];
    return d;
  }
  if (kind == "rbd") {
    if (parts.size() < 2 || parts.size() > 3)
      return Status::Error(bdev::errc::kBadSpec, "expected rbd:POOL/IMAGE[:BLOCKSIZE], got '" + spec + "'");
    auto slash = parts[1].find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == parts[1].size())
      return Status::Error(bdev::errc::kBadSpec, "expected rbd:POOL/IMAGE[:BLOCKSIZE], got '" + spec + "'");
    if (auto st = block_size(2); !st.ok()) return st;
    if (!RbdBuiltIn()) return Status::Error(bdev::errc::kBadSpec, "the rbd backend is not built into this binary");
    d.kind = "rbd";
    d.pool = parts[1].substr(0, slash);
    d.image = parts[1].substr(slash + 1);
    // POOL/NAMESPACE/IMAGE: image names cannot contain '/', so the split is unambiguous.
    if (auto ns = d.image.find('/'); ns != std::string::npos) {
      d.rados_namespace = d.image.substr(0, ns);
      d.image = d.image.substr(ns + 1);
      if (d.rados_namespace.empty() || d.image.empty() || d.image.find('/') != std::string::npos)
        return Status::Error(bdev::errc::kBadSpec, "expected rbd:POOL[/NAMESPACE]/IMAGE[:BLOCKSIZE], got '" + spec + "'");
    }
    return d;
  }
  return Status::Error(bdev::errc::kBadSpec, "unknown namespace kind '" + kind + "' in '" + spec + "' (memory, file or rbd)");
}

DeviceFactory::DeviceFactory(std::unique_ptr<RbdOpener> rbd) : rbd_(std::move(rbd)) {}
DeviceFactory::~DeviceFactory() = default;

Result<std::unique_ptr<BlockDevice>> DeviceFactory::Open(const DeviceSpec& spec) {
  if (spec.kind == "memory") return OpenMemoryDevice(spec.memory_size);
  if (spec.kind == "file") {
    auto dev = OpenFileDevice(spec.file_path, spec.file_size, false);
    if (!dev.ok()) return dev.status();
    if (spec.file_size_checked && dev.value()->size() != spec.file_size)
      return Status::Error(bdev::errc::kFileUnusable, "file " + spec.file_path + " exists with size " +
                                     std::to_string(dev.value()->size()) + " bytes, not the requested " +
                                     std::to_string(spec.file_size));
    return std::move(dev.value());
  }
  if (!rbd_)
    return Status::Error(bdev::errc::kRbdUnavailable, "RBD namespaces are not available: this gateway runs without a Ceph cluster "
                            "(configure [ceph] or use the memory/file backends)");
  return rbd_->Open(spec);
}

Status DeviceFactory::MoveToTrash(const DeviceSpec& spec) {
  if (spec.kind != "rbd")
    return Status::Error(bdev::errc::kBadSpec, "only RBD images go to the RBD trash, not a " + spec.kind + " device");
  if (!rbd_) return Status::Error(bdev::errc::kRbdUnavailable, "RBD namespaces are not available");
  return rbd_->MoveToTrash(spec);
}

}  // namespace nvmeof
