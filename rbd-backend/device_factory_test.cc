// Unit tests for the device factory and the command line's device specs
// (rbd-backend/device_factory.h).
#include "rbd-backend/device_factory.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace nvmeof {
namespace {

constexpr uint64_t kMiB = 1 << 20;

TEST(ParseDeviceSpec, Memory) {
  auto d = ParseDeviceSpec("memory:64M");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->kind, "memory");
  EXPECT_EQ(d->memory_size, 64 * kMiB);
  EXPECT_EQ(d->block_size, 512u);
  d = ParseDeviceSpec("memory:1GiB:4096");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->memory_size, 1024 * kMiB);
  EXPECT_EQ(d->block_size, 4096u);
  d = ParseDeviceSpec("memory:8192");  // a bare number is bytes
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->memory_size, 8192u);
  d = ParseDeviceSpec("memory:16Ki:4k");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->memory_size, 16384u);
  EXPECT_EQ(d->block_size, 4096u);
}

TEST(ParseDeviceSpec, FileAndRbd) {
  auto d = ParseDeviceSpec("file:/var/lib/x.img");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, "file");
  EXPECT_EQ(d->file_path, "/var/lib/x.img");
  EXPECT_EQ(d->file_size, 0u);
  EXPECT_FALSE(d->file_size_checked);
  d = ParseDeviceSpec("file:/x.img:1G:4096");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->file_size, 1024 * kMiB);
  EXPECT_EQ(d->block_size, 4096u);
  d = ParseDeviceSpec("rbd:pool/ns/image:4096");
  if (!RbdBuiltIn()) {
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().message(), "the rbd backend is not built into this binary");
    return;
  }
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, "rbd");
  EXPECT_EQ(d->pool, "pool");
  EXPECT_EQ(d->rados_namespace, "ns");
  EXPECT_EQ(d->image, "image");
  EXPECT_EQ(d->block_size, 4096u);
  EXPECT_FALSE(d->create_image);
  d = ParseDeviceSpec("rbd:pool/image");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->rados_namespace, "");
  EXPECT_EQ(d->image, "image");
  for (const char* bad : {"rbd:pool//image", "rbd:pool/ns/", "rbd:pool/a/b/c"}) {
    d = ParseDeviceSpec(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().message(), std::string("expected rbd:POOL[/NAMESPACE]/IMAGE[:BLOCKSIZE], got '") + bad + "'");
  }
}

TEST(ParseDeviceSpec, BadSpecsSayWhatIsExpected) {
  struct Case {
    const char* spec;
    const char* message;
  };
  const Case cases[] = {
      {"memory", "expected memory:SIZE[:BLOCKSIZE], got 'memory'"},
      {"memory:0", "expected memory:SIZE[:BLOCKSIZE], got 'memory:0'"},
      {"memory:lots", "expected memory:SIZE[:BLOCKSIZE], got 'memory:lots'"},
      {"memory:1M:512:x", "expected memory:SIZE[:BLOCKSIZE], got 'memory:1M:512:x'"},
      {"memory:1M:1024", "block size must be 512 or 4096 in 'memory:1M:1024'"},
      {"file", "expected file:PATH[:SIZE[:BLOCKSIZE]], got 'file'"},
      {"file::1M", "expected file:PATH[:SIZE[:BLOCKSIZE]], got 'file::1M'"},
      {"file:/x:big", "bad size in 'file:/x:big'"},
      {"file:/x:1M:333", "block size must be 512 or 4096 in 'file:/x:1M:333'"},
      {"rbd:pool", "expected rbd:POOL/IMAGE[:BLOCKSIZE], got 'rbd:pool'"},
      {"rbd:/image", "expected rbd:POOL/IMAGE[:BLOCKSIZE], got 'rbd:/image'"},
      {"rbd:pool/", "expected rbd:POOL/IMAGE[:BLOCKSIZE], got 'rbd:pool/'"},
      {"rbd:p/i:512:x", "expected rbd:POOL/IMAGE[:BLOCKSIZE], got 'rbd:p/i:512:x'"},
      {"tape:1", "unknown namespace kind 'tape' in 'tape:1' (memory, file or rbd)"},
  };
  for (const Case& c : cases) {
    auto d = ParseDeviceSpec(c.spec);
    ASSERT_FALSE(d.ok()) << c.spec;
    EXPECT_TRUE(d.status().Is(bdev::errc::kBadSpec)) << c.spec;
    EXPECT_EQ(d.status().message(), c.message);
  }
}

TEST(DeviceFactory, OpensMemoryAndFileDevices) {
  DeviceFactory f;
  DeviceSpec m;
  m.kind = "memory";
  m.memory_size = 4 * kMiB;
  auto dev = f.Open(m);
  ASSERT_TRUE(dev.ok()) << dev.status().message();
  EXPECT_EQ(dev.value()->size(), 4 * kMiB);

  char path[] = "/tmp/nvmeof-devfactory-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  unlink(path);
  DeviceSpec fs;
  fs.kind = "file";
  fs.file_path = path;
  fs.file_size = 2 * kMiB;  // created at this size
  auto file = f.Open(fs);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file.value()->size(), 2 * kMiB);
  file.value().reset();
  // An existing file with another size: accepted unless the size is checked (the API).
  fs.file_size = 3 * kMiB;
  auto again = f.Open(fs);
  ASSERT_TRUE(again.ok()) << again.status().message();
  again.value().reset();
  fs.file_size_checked = true;
  auto checked = f.Open(fs);
  ASSERT_FALSE(checked.ok());
  EXPECT_TRUE(checked.status().Is(bdev::errc::kFileUnusable)) << checked.status().ToString();
  EXPECT_NE(checked.status().message().find("exists with size 2097152 bytes, not the requested 3145728"),
            std::string::npos)
      << checked.status().message();
  unlink(path);
}

TEST(DeviceFactory, RbdWithoutAnOpenerIsNoDevice) {
  DeviceFactory f;
  EXPECT_FALSE(f.rbd_available());
  DeviceSpec r;
  r.pool = "rbd";
  r.image = "img";
  auto dev = f.Open(r);
  ASSERT_FALSE(dev.ok());
  EXPECT_TRUE(dev.status().Is(bdev::errc::kRbdUnavailable));
  EXPECT_NE(dev.status().message().find("RBD namespaces are not available"), std::string::npos);
}

TEST(DeviceFactory, RbdGoesThroughTheOpener) {
  struct Fake : RbdOpener {
    std::vector<DeviceSpec>* seen;
    explicit Fake(std::vector<DeviceSpec>* s) : seen(s) {}
    Result<std::unique_ptr<BlockDevice>> Open(const DeviceSpec& d) override {
      seen->push_back(d);
      return OpenMemoryDevice(kMiB);
    }
  };
  std::vector<DeviceSpec> seen;
  DeviceFactory f(std::make_unique<Fake>(&seen));
  EXPECT_TRUE(f.rbd_available());
  DeviceSpec r;
  r.pool = "p";
  r.image = "i";
  ASSERT_TRUE(f.Open(r).ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].pool, "p");
  EXPECT_EQ(NewRbdOpener(CephClientOptions{}) != nullptr, RbdBuiltIn());
}

}  // namespace
}  // namespace nvmeof
