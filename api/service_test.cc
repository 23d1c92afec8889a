// Unit tests of GatewayService: every RPC called in-process (no gRPC transport) against a
// real Target (no ports opened: no port hook) and a fake StateStore.
#include "api/service.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "api/state_json.h"
#include "gateway/state/secret_box.h"
#include "api/validate.h"
#include "gateway/common/log.h"

namespace nvmeof::api {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
const char kNqn[] = "nqn.2016-06.io.spdk:cnode1";
const char kHost1[] = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";
const char kHost2[] = "nqn.2014-08.org.nvmexpress:uuid:66666666-2222-3333-4444-555555555555";

// A StateStore in a map; Put/Remove/Apply fail while `fail` is set.
class FakeStore : public StateStore {
 public:
  Status Put(const std::string& k, const std::string& v) override {
    if (fail) return Status::IOError("injected store failure");
    m[k] = v;
    version++;
    return Status::OK();
  }
  Status Remove(const std::string& k) override {
    if (fail) return Status::IOError("injected store failure");
    if (!m.erase(k)) return Status::NotFound("no key " + k);
    version++;
    return Status::OK();
  }
  Status Apply(const StateMap& puts, const std::vector<std::string>& removes) override {
    if (fail) return Status::IOError("injected store failure");
    for (auto& [k, v] : puts) m[k] = v;
    for (auto& k : removes) m.erase(k);
    version++;
    return Status::OK();
  }
  Result<StateMap> ReadAll(uint64_t* v) override {
    *v = version;
    return m;
  }
  Status Mutate(const Mutation& fn, uint64_t* new_version) override {
    if (new_version) *new_version = 0;
    if (fail) return Status::IOError("injected store failure");
    StateMap puts;
    std::vector<std::string> removes;
    if (Status st = fn(m, version, &puts, &removes); !st.ok()) return st;
    if (puts.empty() && removes.empty()) return Status::OK();
    for (auto& [k, v] : puts) m[k] = v;
    for (auto& k : removes) m.erase(k);
    version++;
    if (new_version) *new_version = version;
    return Status::OK();
  }
  void Subscribe(std::function<void(const StateMap&, uint64_t)>) override {}
  Status Start() override { return Status::OK(); }
  void Stop() override {}

  StateMap m;
  uint64_t version = 1;
  bool fail = false;
};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogLevel(LogLevel::kWarning);
    Make("");
  }
  void Make(const std::string& group, KeyEncryption keys = {}) {
    svc.reset();
    target = std::make_unique<Target>(TargetOptions{});
    ServiceOptions o;
    o.gateway_name = "gw1";
    o.group = group;
    o.hostname = "host1";
    o.addr = "127.0.0.1";
    o.port = "5500";
    o.version = "1.3.0";
    o.key_encryption = std::move(keys);
    store = FakeStore{};
    svc = std::make_unique<GatewayService>(target.get(), &store, o);
  }

  subsys_status CreateSubsystem(const std::string& nqn, bool no_group_append = true, bool ha = true,
                                const std::string& serial = "") {
    create_subsystem_req r;
    r.set_subsystem_nqn(nqn);
    r.set_enable_ha(ha);
    r.set_serial_number(serial);
    if (no_group_append) r.set_no_group_append(true);
    subsys_status rep;
    EXPECT_TRUE(svc->create_subsystem(nullptr, &r, &rep).ok());
    return rep;
  }
  nsid_status AddMemoryNs(const std::string& nqn, uint64_t size = 16 * kMiB, uint32_t nsid = 0,
                          uint32_t bs = 4096, const std::string& uuid = "") {
    namespace_add_req r;
    r.set_subsystem_nqn(nqn);
    r.set_block_size(bs);
    r.set_backend("memory");
    r.set_memory_size(size);
    if (nsid) r.set_nsid(nsid);
    if (!uuid.empty()) r.set_uuid(uuid);
    nsid_status rep;
    EXPECT_TRUE(svc->namespace_add(nullptr, &r, &rep).ok());
    return rep;
  }
  req_status AddHost(const std::string& nqn, const std::string& host) {
    add_host_req r;
    r.set_subsystem_nqn(nqn);
    r.set_host_nqn(host);
    req_status rep;
    EXPECT_TRUE(svc->add_host(nullptr, &r, &rep).ok());
    return rep;
  }
  req_status CreateListener(const std::string& nqn, const std::string& host_name, const std::string& addr,
                            uint32_t port) {
    create_listener_req r;
    r.set_nqn(nqn);
    r.set_host_name(host_name);
    r.set_traddr(addr);
    r.set_trsvcid(port);
    r.set_adrfam(::ipv4);
    req_status rep;
    EXPECT_TRUE(svc->create_listener(nullptr, &r, &rep).ok());
    return rep;
  }
  namespaces_info ListNs(const std::string& nqn) {
    list_namespaces_req r;
    r.set_subsystem(nqn);
    namespaces_info rep;
    EXPECT_TRUE(svc->list_namespaces(nullptr, &r, &rep).ok());
    return rep;
  }

  FakeStore store;
  std::unique_ptr<Target> target;
  std::unique_ptr<GatewayService> svc;
};

#define EXPECT_STATUS(rep_expr, code, substr)                                          \
  do {                                                                                 \
    const auto _rep = (rep_expr);                                                      \
    EXPECT_EQ(_rep.status(), (code)) << _rep.error_message();                          \
    EXPECT_NE(_rep.error_message().find(substr), std::string::npos) << _rep.error_message(); \
  } while (0)

// ------------------------------------------------------------------------------ subsystems

TEST_F(ServiceTest, CreateSubsystemPersistsTheRequestJson) {
  auto rep = CreateSubsystem(kNqn);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(rep.nqn(), kNqn);
  ASSERT_TRUE(target->FindSubsystem(kNqn));
  ASSERT_EQ(store.m.count(std::string("subsystem_") + kNqn), 1u);
  const std::string& json = store.m[std::string("subsystem_") + kNqn];
  // Proto field names, fields without presence always printed, unset optionals absent.
  EXPECT_NE(json.find("\"subsystem_nqn\": \"nqn.2016-06.io.spdk:cnode1\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"enable_ha\": true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"serial_number\": \"Ceph"), std::string::npos) << json;  // generated
  EXPECT_NE(json.find("\"no_group_append\": true"), std::string::npos) << json;
  EXPECT_EQ(json.find("max_namespaces"), std::string::npos) << json;
  create_subsystem_req back;
  ASSERT_TRUE(JsonToRequest(json, &back).ok());
  EXPECT_EQ(back.subsystem_nqn(), kNqn);
  EXPECT_EQ(svc->LocalState(), store.m);
}

TEST_F(ServiceTest, CreateSubsystemErrors) {
  EXPECT_STATUS(CreateSubsystem(kNqn, true, false), EINVAL, "HA must be enabled for subsystems");
  EXPECT_STATUS(CreateSubsystem(""), EINVAL, "missing subsystem NQN");
  EXPECT_STATUS(CreateSubsystem("nqn.2016-06.io.spdk:cnode_1"), EINVAL, "contains invalid characters");
  EXPECT_STATUS(CreateSubsystem("nqn.16-06.io.spdk:x"), EINVAL, "Failure creating subsystem nqn.16-06.io.spdk:x: ");
  EXPECT_STATUS(CreateSubsystem("short"), EINVAL, "too short");
  EXPECT_STATUS(CreateSubsystem("nqn.2014-08.org.nvmexpress.discovery"), EINVAL, "discovery");
  EXPECT_STATUS(CreateSubsystem(kNqn, true, true, "SN1"), 0, "Success");
  EXPECT_STATUS(CreateSubsystem(kNqn), EEXIST, "Subsystem already exists");
  EXPECT_STATUS(CreateSubsystem("nqn.2016-06.io.spdk:cnode2", true, true, "SN1"), EEXIST,
                "Serial number SN1 already used by subsystem nqn.2016-06.io.spdk:cnode1");
  EXPECT_EQ(target->Subsystems().size(), 1u);
}

TEST_F(ServiceTest, GroupNameIsAppendedUnlessNoGroupAppend) {
  Make("grp1");
  auto rep = CreateSubsystem(kNqn, false);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(rep.nqn(), std::string(kNqn) + ".grp1");
  EXPECT_TRUE(target->FindSubsystem(std::string(kNqn) + ".grp1"));
  EXPECT_TRUE(store.m.count(std::string("subsystem_") + kNqn + ".grp1"));
  auto rep2 = CreateSubsystem(kNqn, true);
  EXPECT_STATUS(rep2, 0, "Success");
  EXPECT_EQ(rep2.nqn(), kNqn);
}

TEST_F(ServiceTest, DeleteSubsystem) {
  delete_subsystem_req d;
  req_status rep;
  d.set_subsystem_nqn(kNqn);
  svc->delete_subsystem(nullptr, &d, &rep);
  EXPECT_STATUS(rep, ENOENT, "Failure deleting subsystem nqn.2016-06.io.spdk:cnode1");
  CreateSubsystem(kNqn);
  AddMemoryNs(kNqn);
  AddHost(kNqn, kHost1);
  CreateListener(kNqn, "gw1", "127.0.0.1", 4420);
  CreateListener(kNqn, "gw2", "127.0.0.2", 4420);
  svc->delete_subsystem(nullptr, &d, &rep);
  EXPECT_STATUS(rep, EBUSY, "Namespace 1 is still using the subsystem. Either remove it or use the '--force'");
  d.set_force(true);
  svc->delete_subsystem(nullptr, &d, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_FALSE(target->FindSubsystem(kNqn));
  EXPECT_TRUE(store.m.empty()) << store.m.begin()->first;  // every key under the subsystem
  d.set_subsystem_nqn("nqn.2014-08.org.nvmexpress.discovery");
  svc->delete_subsystem(nullptr, &d, &rep);
  EXPECT_STATUS(rep, EINVAL, "Can't delete a discovery subsystem");
}

TEST_F(ServiceTest, ListAndGetSubsystems) {
  CreateSubsystem(kNqn, true, true, "SN1");
  CreateSubsystem("nqn.2016-06.io.spdk:cnode2", true, true, "SN2");
  AddMemoryNs(kNqn);
  list_subsystems_req l;
  subsystems_info_cli li;
  svc->list_subsystems(nullptr, &l, &li);
  EXPECT_EQ(li.status(), 0);
  ASSERT_EQ(li.subsystems_size(), 2);
  EXPECT_EQ(li.subsystems(0).nqn(), kNqn);
  EXPECT_EQ(li.subsystems(0).namespace_count(), 1u);
  EXPECT_EQ(li.subsystems(0).subtype(), "NVMe");
  EXPECT_TRUE(li.subsystems(0).enable_ha());
  EXPECT_EQ(li.subsystems(0).model_number(), "Ceph bdev Controller");
  l.set_serial_number("SN2");
  li.Clear();
  svc->list_subsystems(nullptr, &l, &li);
  ASSERT_EQ(li.subsystems_size(), 1);
  EXPECT_EQ(li.subsystems(0).nqn(), "nqn.2016-06.io.spdk:cnode2");

  get_subsystems_req g;
  subsystems_info gi;
  ASSERT_TRUE(svc->get_subsystems(nullptr, &g, &gi).ok());
  ASSERT_EQ(gi.subsystems_size(), 3);
  EXPECT_EQ(gi.subsystems(0).subtype(), "Discovery");
  EXPECT_EQ(gi.subsystems(1).namespaces_size(), 1);
  EXPECT_EQ(gi.subsystems(1).namespaces(0).bdev_name(), "bdev_" + gi.subsystems(1).namespaces(0).uuid());
  EXPECT_EQ(gi.subsystems(1).namespaces(0).nguid().size(), 32u);
}

// ------------------------------------------------------------------------------ namespaces

TEST_F(ServiceTest, NamespaceAddListDelete) {
  CreateSubsystem(kNqn);
  auto a = AddMemoryNs(kNqn, 16 * kMiB, 0, 4096, "01234567-89ab-cdef-0123-456789abcdef");
  EXPECT_STATUS(a, 0, "Success");
  EXPECT_EQ(a.nsid(), 1u);
  auto b = AddMemoryNs(kNqn, 8 * kMiB, 5, 512);
  EXPECT_EQ(b.nsid(), 5u);
  auto ls = ListNs(kNqn);
  ASSERT_EQ(ls.namespaces_size(), 2);
  EXPECT_EQ(ls.namespaces(0).uuid(), "01234567-89ab-cdef-0123-456789abcdef");
  EXPECT_EQ(ls.namespaces(0).block_size(), 4096u);
  EXPECT_EQ(ls.namespaces(0).rbd_image_size(), 16 * kMiB);
  EXPECT_EQ(ls.namespaces(0).backend(), "memory");
  EXPECT_EQ(ls.namespaces(0).load_balancing_group(), 1u);
  EXPECT_EQ(ls.namespaces(1).nsid(), 5u);
  // The persisted request has the NSID, UUID and group filled in.
  const std::string& json = store.m[std::string("namespace_") + kNqn + "_1"];
  EXPECT_NE(json.find("\"nsid\": 1"), std::string::npos) << json;
  EXPECT_NE(json.find("\"uuid\": \"01234567-89ab-cdef-0123-456789abcdef\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"anagrpid\": 1"), std::string::npos) << json;
  EXPECT_NE(json.find("\"rbd_pool_name\": \"\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"backend\": \"memory\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"memory_size\": \"16777216\""), std::string::npos) << json;
  EXPECT_EQ(json.find("file_path"), std::string::npos) << json;

  namespace_delete_req d;
  d.set_subsystem_nqn(kNqn);
  d.set_nsid(1);
  req_status rep;
  svc->namespace_delete(nullptr, &d, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  svc->namespace_delete(nullptr, &d, &rep);
  EXPECT_STATUS(rep, ENODEV, "Can't find namespace");
  d.set_nsid(0);
  svc->namespace_delete(nullptr, &d, &rep);
  EXPECT_STATUS(rep, EINVAL, "missing NSID");
  d.set_nsid(5);
  d.set_subsystem_nqn("nqn.2016-06.io.spdk:nope");
  svc->namespace_delete(nullptr, &d, &rep);
  EXPECT_STATUS(rep, ENOENT, "No such subsystem");
  EXPECT_EQ(store.m.count(std::string("namespace_") + kNqn + "_1"), 0u);
  EXPECT_EQ(store.m.count(std::string("namespace_") + kNqn + "_5"), 1u);
}

TEST_F(ServiceTest, NamespaceAddErrors) {
  CreateSubsystem(kNqn);
  EXPECT_STATUS(AddMemoryNs("nqn.2016-06.io.spdk:nope"), ENOENT, "No such subsystem");
  EXPECT_STATUS(AddMemoryNs(kNqn, 16 * kMiB, 0, 0), EINVAL, "block size can't be zero");
  EXPECT_STATUS(AddMemoryNs(kNqn, 16 * kMiB, 0, 1000), EINVAL, "block size");
  EXPECT_STATUS(AddMemoryNs(kNqn, 1000, 0, 4096), EINVAL, "memory size");
  EXPECT_STATUS(AddMemoryNs(kNqn, 16 * kMiB, 0, 4096, "not-a-uuid"), EINVAL, "UUID");
  EXPECT_STATUS(AddMemoryNs(kNqn, 16 * kMiB, 3, 4096, "01234567-89ab-cdef-0123-456789abcdef"), 0, "Success");
  EXPECT_STATUS(AddMemoryNs(kNqn, 16 * kMiB, 3), EEXIST, "NSID 3 is already in use");
  EXPECT_STATUS(AddMemoryNs(kNqn, 16 * kMiB, 4, 4096, "01234567-89ab-cdef-0123-456789abcdef"), EEXIST,
                "UUID 01234567-89ab-cdef-0123-456789abcdef is already in use");

  namespace_add_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_block_size(4096);
  nsid_status rep;
  svc->namespace_add(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EINVAL, "missing RBD pool name");
  r.set_rbd_pool_name("rbd");
  svc->namespace_add(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EINVAL, "missing RBD image name");
  r.set_rbd_image_name("img");
  svc->namespace_add(nullptr, &r, &rep);
  EXPECT_STATUS(rep, ENODEV, "RBD namespaces are not available");
  r.set_create_image(true);
  r.set_size(1000);
  svc->namespace_add(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EINVAL, "image size must be aligned to MiBs");
  r.set_backend("tape");
  svc->namespace_add(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EINVAL, "unknown backend \"tape\"");
  r.set_backend("file");
  r.set_file_path("relative/path");
  svc->namespace_add(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EINVAL, "absolute file_path");
  r.set_subsystem_nqn("");
  svc->namespace_add(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EINVAL, "missing subsystem NQN");
}

TEST_F(ServiceTest, RbdBackendThroughTheOpener) {
  CreateSubsystem(kNqn);
  std::vector<DeviceSpec> seen;
  struct FakeRbd : RbdOpener {
    std::vector<DeviceSpec>* seen;
    explicit FakeRbd(std::vector<DeviceSpec>* s) : seen(s) {}
    Result<std::unique_ptr<BlockDevice>> Open(const DeviceSpec& b) override {
      seen->push_back(b);
      if (b.image == "missing") return Status::NotFound("RBD image rbd/missing does not exist");
      return OpenMemoryDevice(b.create_image ? b.create_size : 64 * kMiB);
    }
  };
  DeviceFactory devices(std::make_unique<FakeRbd>(&seen));
  svc->SetDeviceFactory(&devices);
  namespace_add_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_block_size(4096);
  r.set_rbd_pool_name("rbd");
  r.set_rbd_image_name("img");
  r.set_create_image(true);
  r.set_size(32 * kMiB);
  nsid_status rep;
  svc->namespace_add(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].pool, "rbd");
  EXPECT_TRUE(seen[0].create_image);
  EXPECT_EQ(seen[0].create_size, 32 * kMiB);
  // The same image again: EEXIST unless force (ceph-csi then lists and matches pool/image).
  r.clear_create_image();
  r.clear_size();
  svc->namespace_add(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EEXIST, "RBD image rbd/img is already used by a namespace in subsystem");
  r.set_force(true);
  svc->namespace_add(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  r.set_rbd_image_name("missing");
  svc->namespace_add(nullptr, &r, &rep);
  EXPECT_STATUS(rep, ENOENT, "RBD image rbd/missing does not exist");
  auto ls = ListNs(kNqn);
  ASSERT_EQ(ls.namespaces_size(), 2);
  EXPECT_EQ(ls.namespaces(0).rbd_pool_name(), "rbd");
  EXPECT_EQ(ls.namespaces(0).rbd_image_name(), "img");
  EXPECT_FALSE(ls.namespaces(0).has_backend());
  svc->SetDeviceFactory(nullptr);
}

TEST_F(ServiceTest, ResizeGrowOnlyInMiB) {
  CreateSubsystem(kNqn);
  AddMemoryNs(kNqn, 16 * kMiB);
  namespace_resize_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_nsid(1);
  r.set_new_size(32);
  req_status rep;
  svc->namespace_resize(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(ListNs(kNqn).namespaces(0).rbd_image_size(), 32 * kMiB);
  r.set_new_size(8);
  svc->namespace_resize(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EINVAL, "new size 8388608 bytes is smaller than current size 33554432 bytes");
  // new_size 0: refresh to the image's current size (a memory device has not changed).
  r.set_new_size(0);
  svc->namespace_resize(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(ListNs(kNqn).namespaces(0).rbd_image_size(), 32 * kMiB);
  r.set_nsid(9);
  svc->namespace_resize(nullptr, &r, &rep);
  EXPECT_STATUS(rep, ENODEV, "Can't find namespace");
  r.set_new_size(64);
  svc->namespace_resize(nullptr, &r, &rep);
  EXPECT_STATUS(rep, ENODEV, "Can't find namespace");
}

// The reference's ns-refresh-size_ mark: written (a new time) by a resize of a namespace
// without auto-resize, so the other gateways read the image's size again; removed when
// auto-resize is turned on and with the namespace; applied from the group state as a refresh.
TEST_F(ServiceTest, ResizeWithoutAutoResizeWritesTheRefreshSizeMark) {
  CreateSubsystem(kNqn);
  AddMemoryNs(kNqn, 16 * kMiB);
  const std::string mark = std::string("ns-refresh-size_") + kNqn + "_1";
  namespace_resize_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_nsid(1);
  r.set_new_size(32);
  req_status rep;
  svc->namespace_resize(nullptr, &r, &rep);  // auto-resize on: the other gateways follow by themselves
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_FALSE(store.m.count(mark));

  namespace_set_auto_resize_req ar;
  ar.set_subsystem_nqn(kNqn);
  ar.set_nsid(1);
  ar.set_auto_resize(false);
  svc->namespace_set_auto_resize(nullptr, &ar, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  r.set_new_size(48);
  svc->namespace_resize(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  ASSERT_TRUE(store.m.count(mark));
  const std::string first = store.m[mark];
  EXPECT_GT(std::stod(first), 1.7e9) << first;  // str(time.time()): seconds since the epoch
  EXPECT_NE(first.find('.'), std::string::npos) << first;
  r.set_new_size(0);  // a refresh here is not a resize: no new mark
  svc->namespace_resize(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(store.m[mark], first);

  // Applied from the group state (another gateway's mark): a refresh of the namespace.
  EXPECT_TRUE(svc->RefreshNamespaceSize(kNqn, 1, "1764820100.5", true).ok());
  EXPECT_EQ(svc->LocalState().at(mark), "1764820100.5");
  EXPECT_TRUE(svc->RefreshNamespaceSize(kNqn, 7, "1764820100.5", true).IsNotFound());
  EXPECT_EQ(ListNs(kNqn).namespaces(0).rbd_image_size(), 48 * kMiB);
  EXPECT_TRUE(svc->ForgetRefreshSizeMark(kNqn, 1).ok());
  EXPECT_FALSE(svc->LocalState().count(mark));
  store.m[mark] = first;  // (the store still has it: the calls above only mirror the group state)

  ar.set_auto_resize(true);
  svc->namespace_set_auto_resize(nullptr, &ar, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_FALSE(store.m.count(mark));

  ar.set_auto_resize(false);  // the mark goes with its namespace
  svc->namespace_set_auto_resize(nullptr, &ar, &rep);
  r.set_new_size(64);
  svc->namespace_resize(nullptr, &r, &rep);
  ASSERT_TRUE(store.m.count(mark));
  namespace_delete_req d;
  d.set_subsystem_nqn(kNqn);
  d.set_nsid(1);
  svc->namespace_delete(nullptr, &d, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_FALSE(store.m.count(mark));
}

TEST_F(ServiceTest, QosSetMergesAndLists) {
  CreateSubsystem(kNqn);
  AddMemoryNs(kNqn);
  namespace_set_qos_req q;
  q.set_subsystem_nqn(kNqn);
  q.set_nsid(1);
  q.set_rw_ios_per_second(2000);
  req_status rep;
  svc->namespace_set_qos_limits(nullptr, &q, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  namespace_set_qos_req q2;
  q2.set_subsystem_nqn(kNqn);
  q2.set_nsid(1);
  q2.set_r_mbytes_per_second(10);
  svc->namespace_set_qos_limits(nullptr, &q2, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  auto n = ListNs(kNqn).namespaces(0);
  EXPECT_EQ(n.rw_ios_per_second(), 2000u);
  EXPECT_EQ(n.r_mbytes_per_second(), 10u);
  EXPECT_EQ(n.w_mbytes_per_second(), 0u);
  const std::string& json = store.m[std::string("qos_") + kNqn + "_1"];
  EXPECT_NE(json.find("\"rw_ios_per_second\": \"2000\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"r_mbytes_per_second\": \"10\""), std::string::npos) << json;
  EXPECT_EQ(json.find("w_mbytes_per_second"), std::string::npos) << json;
  namespace_set_qos_req none;
  none.set_subsystem_nqn(kNqn);
  none.set_nsid(1);
  svc->namespace_set_qos_limits(nullptr, &none, &rep);
  EXPECT_STATUS(rep, EINVAL, "At least one QOS limit");
  q.set_nsid(7);
  svc->namespace_set_qos_limits(nullptr, &q, &rep);
  EXPECT_STATUS(rep, ENODEV, "Can't find namespace");
  // Deleting the namespace removes its QoS key too.
  namespace_delete_req d;
  d.set_subsystem_nqn(kNqn);
  d.set_nsid(1);
  svc->namespace_delete(nullptr, &d, &rep);
  EXPECT_EQ(store.m.count(std::string("qos_") + kNqn + "_1"), 0u);
}

TEST_F(ServiceTest, LoadBalancingGroupAndIoStats) {
  CreateSubsystem(kNqn);
  AddMemoryNs(kNqn);
  namespace_change_load_balancing_group_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_nsid(1);
  r.set_anagrpid(2);
  req_status rep;
  svc->namespace_change_load_balancing_group(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(ListNs(kNqn).namespaces(0).load_balancing_group(), 2u);
  EXPECT_NE(store.m[std::string("namespace_") + kNqn + "_1"].find("\"anagrpid\": 2"), std::string::npos);
  r.set_anagrpid(0);
  svc->namespace_change_load_balancing_group(nullptr, &r, &rep);
  EXPECT_STATUS(rep, ENODEV, "Load balancing group 0 doesn't exist");
  r.set_anagrpid(1);
  r.set_nsid(4);
  svc->namespace_change_load_balancing_group(nullptr, &r, &rep);
  EXPECT_STATUS(rep, ENOENT, "Can't find entry for namespace 4");

  namespace_get_io_stats_req s;
  s.set_subsystem_nqn(kNqn);
  s.set_nsid(1);
  namespace_io_stats_info st;
  svc->namespace_get_io_stats(nullptr, &s, &st);
  EXPECT_EQ(st.status(), 0);
  EXPECT_EQ(st.tick_rate(), 1000000000u);
  EXPECT_EQ(st.num_read_ops(), 0u);
  EXPECT_EQ(st.bdev_name(), "bdev_" + st.uuid());
  s.set_nsid(2);
  svc->namespace_get_io_stats(nullptr, &s, &st);
  EXPECT_STATUS(st, ENODEV, "Can't find namespace");
}

TEST_F(ServiceTest, NamespaceHosts) {
  CreateSubsystem(kNqn);
  namespace_add_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_block_size(512);
  r.set_backend("memory");
  r.set_memory_size(kMiB);
  r.set_no_auto_visible(true);
  nsid_status nrep;
  svc->namespace_add(nullptr, &r, &nrep);
  ASSERT_EQ(nrep.status(), 0) << nrep.error_message();
  namespace_add_host_req h;
  h.set_subsystem_nqn(kNqn);
  h.set_nsid(1);
  h.set_host_nqn(kHost1);
  req_status rep;
  svc->namespace_add_host(nullptr, &h, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  svc->namespace_add_host(nullptr, &h, &rep);
  EXPECT_STATUS(rep, EEXIST, "already");
  EXPECT_EQ(store.m.count(std::string("ns_host_") + kNqn + "_1_" + kHost1), 1u);
  auto n = ListNs(kNqn).namespaces(0);
  EXPECT_FALSE(n.auto_visible());
  ASSERT_EQ(n.hosts_size(), 1);
  namespace_delete_host_req d;
  d.set_subsystem_nqn(kNqn);
  d.set_nsid(1);
  d.set_host_nqn(kHost2);
  svc->namespace_delete_host(nullptr, &d, &rep);
  EXPECT_STATUS(rep, ENOENT, "Host is not found");
  d.set_host_nqn(kHost1);
  svc->namespace_delete_host(nullptr, &d, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(store.m.count(std::string("ns_host_") + kNqn + "_1_" + kHost1), 0u);
  h.set_host_nqn("nqn.2014-08.org.nvmexpress:uuid:bad_host");
  svc->namespace_add_host(nullptr, &h, &rep);
  EXPECT_STATUS(rep, EINVAL, "contains invalid characters");
  // An auto-visible namespace has no host list.
  AddMemoryNs(kNqn, kMiB, 2, 512);
  h.set_nsid(2);
  h.set_host_nqn(kHost1);
  svc->namespace_add_host(nullptr, &h, &rep);
  EXPECT_EQ(rep.status(), EINVAL) << rep.error_message();
}

// ------------------------------------------------------------------------------ hosts

TEST_F(ServiceTest, Hosts) {
  CreateSubsystem(kNqn);
  EXPECT_STATUS(AddHost(kNqn, kHost1), 0, "Success");
  EXPECT_STATUS(AddHost(kNqn, kHost1), EEXIST, "Host is already added");
  EXPECT_STATUS(AddHost(kNqn, "*"), 0, "Success");
  EXPECT_STATUS(AddHost(kNqn, "*"), EEXIST, "Open host access is already allowed");
  EXPECT_STATUS(AddHost(kNqn, "nqn.2014-08.org.nvmexpress:uuid:a_b"), EINVAL, "contains invalid characters");
  EXPECT_STATUS(AddHost(kNqn, "nqn.2014-08.org.nvmexpress.discovery"), EINVAL, "discovery NQN");
  EXPECT_STATUS(AddHost(kNqn, "host1"), EINVAL, "Failure adding host host1 to");
  EXPECT_STATUS(AddHost("nqn.2016-06.io.spdk:nope", kHost1), ENOENT, "No such subsystem");
  EXPECT_TRUE(store.m.count(std::string("host_") + kNqn + "_*"));
  list_hosts_req l;
  l.set_subsystem(kNqn);
  hosts_info hi;
  svc->list_hosts(nullptr, &l, &hi);
  EXPECT_EQ(hi.status(), 0);
  EXPECT_TRUE(hi.allow_any_host());
  ASSERT_EQ(hi.hosts_size(), 1);
  EXPECT_EQ(hi.hosts(0).nqn(), kHost1);
  remove_host_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_host_nqn(kHost1);
  req_status rep;
  svc->remove_host(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  svc->remove_host(nullptr, &r, &rep);
  EXPECT_STATUS(rep, ENOENT, "Host is not found");
  r.set_host_nqn("*");
  svc->remove_host(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_FALSE(store.m.count(std::string("host_") + kNqn + "_*"));
  l.set_subsystem("nqn.2016-06.io.spdk:nope");
  svc->list_hosts(nullptr, &l, &hi);
  EXPECT_STATUS(hi, ENOENT, "No such subsystem");

  list_connections_req c;
  c.set_subsystem(kNqn);
  connections_info ci;
  AddHost(kNqn, kHost2);
  svc->list_connections(nullptr, &c, &ci);
  EXPECT_EQ(ci.status(), 0);
  ASSERT_EQ(ci.connections_size(), 1);  // allowed, not connected
  EXPECT_FALSE(ci.connections(0).connected());
  EXPECT_EQ(ci.connections(0).traddr(), "<n/a>");
  EXPECT_EQ(ci.connections(0).controller_id(), -1);
}

constexpr char kKey1[] = "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
constexpr char kKey2[] = "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
constexpr char kCtrlKey[] =
    "DHHC-1:02:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5voBXMjQ==:";

TEST_F(ServiceTest, HostKeys) {
  CreateSubsystem(kNqn);
  add_host_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_host_nqn(kHost1);
  r.set_psk("NVMeTLSkey-1:01:abc");
  req_status rep;
  svc->add_host(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EINVAL, "Failure adding host " + std::string(kHost1) + " to " + kNqn + ": host " + kHost1 +
                                 ": TLS PSK does not end with ':'");
  r.set_psk_encrypted(true);  // sent encrypted, and this gateway has no key to open it
  svc->add_host(nullptr, &r, &rep);
  EXPECT_STATUS(rep, ENOKEY, "Failure adding host " + std::string(kHost1) + " to " + kNqn +
                                 ": No encryption key or the wrong key was found but we need to decrypt host " +
                                 kHost1 + " PSK key ([gateway] encryption_key is not set)");
  r.clear_psk_encrypted();
  r.clear_psk();
  r.set_dhchap_key("DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaS:");  // CRC wrong
  svc->add_host(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EINVAL, "Failure adding host " + std::string(kHost1) + " to " + kNqn + ": host " + kHost1 +
                                 ": DH-HMAC-CHAP secret: CRC-32 mismatch");
  EXPECT_EQ(rep.error_message().find("AAEC"), std::string::npos);  // never the key
  EXPECT_FALSE(target->FindSubsystem(kNqn)->HasHost(kHost1));
  r.set_dhchap_key(kKey1);
  r.set_key_encrypted(true);  // a key sent encrypted, and this gateway has no key to open it
  svc->add_host(nullptr, &r, &rep);
  EXPECT_STATUS(rep, ENOKEY, "Failure adding host " + std::string(kHost1) + " to " + kNqn +
                                 ": No encryption key or the wrong key was found but we need to decrypt host " +
                                 kHost1 + " DH-HMAC-CHAP key ([gateway] encryption_key is not set)");
  r.clear_key_encrypted();
  r.set_dhchap_ctrlr_key(kCtrlKey);
  svc->add_host(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  add_host_req one_way;
  one_way.set_subsystem_nqn(kNqn);
  one_way.set_host_nqn(kHost2);
  one_way.set_dhchap_key(kKey2);
  svc->add_host(nullptr, &one_way, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  AddHost(kNqn, "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000003");
  constexpr char kTlsHost[] = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000004";
  add_host_req tls_host;
  tls_host.set_subsystem_nqn(kNqn);
  tls_host.set_host_nqn(kTlsHost);
  tls_host.set_psk("NVMeTLSkey-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:");
  svc->add_host(nullptr, &tls_host, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  auto e = target->FindSubsystem(kNqn)->FindHost(kHost1);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->dhchap_key, std::optional<std::string>(kKey1));
  EXPECT_EQ(e->dhchap_ctrlr_key, std::optional<std::string>(kCtrlKey));
  // The stored request keeps the keys (the reference's add_host JSON).
  add_host_req stored;
  ASSERT_TRUE(JsonToRequest(store.m[std::string("host_") + kNqn + "_" + kHost1], &stored).ok());
  EXPECT_EQ(stored.dhchap_key(), kKey1);
  EXPECT_EQ(stored.dhchap_ctrlr_key(), kCtrlKey);

  list_hosts_req l;
  l.set_subsystem(kNqn);
  hosts_info hi;
  svc->list_hosts(nullptr, &l, &hi);
  ASSERT_EQ(hi.hosts_size(), 4);
  std::map<std::string, ::host> by;
  for (auto& h : hi.hosts()) by[h.nqn()] = h;
  EXPECT_TRUE(by[kTlsHost].use_psk());
  EXPECT_FALSE(by[kTlsHost].use_dhchap());
  EXPECT_EQ(hi.DebugString().find("NVMeTLSkey"), std::string::npos);
  EXPECT_TRUE(by[kHost1].use_dhchap());
  EXPECT_FALSE(by[kHost1].use_psk());
  EXPECT_EQ(by[kHost1].dhchap_controller_origin(), ::host_specific);
  EXPECT_TRUE(by[kHost2].use_dhchap());
  EXPECT_EQ(by[kHost2].dhchap_controller_origin(), ::no_key);
  EXPECT_FALSE(by["nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000003"].use_dhchap());
  EXPECT_EQ(hi.DebugString().find("DHHC-1"), std::string::npos);

  add_host_req any;
  any.set_subsystem_nqn(kNqn);
  any.set_host_nqn("*");
  any.set_dhchap_key(kKey1);
  svc->add_host(nullptr, &any, &rep);
  EXPECT_STATUS(rep, EINVAL, "only allowed for specific hosts");
}

TEST_F(ServiceTest, ChangeHostKey) {
  CreateSubsystem(kNqn);
  add_host_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_host_nqn(kHost1);
  r.set_dhchap_key(kKey1);
  r.set_dhchap_ctrlr_key(kCtrlKey);
  req_status rep;
  svc->add_host(nullptr, &r, &rep);
  ASSERT_EQ(rep.status(), 0);
  const std::string key = std::string("host_") + kNqn + "_" + kHost1;
  auto s = target->FindSubsystem(kNqn);

  change_host_key_req c;
  c.set_subsystem_nqn(kNqn);
  c.set_host_nqn(kHost1);
  c.set_dhchap_key(kKey2);
  svc->change_host_key(nullptr, &c, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(s->FindHost(kHost1)->dhchap_key, std::optional<std::string>(kKey2));
  EXPECT_EQ(s->FindHost(kHost1)->dhchap_ctrlr_key, std::optional<std::string>(kCtrlKey));  // kept
  add_host_req stored;
  ASSERT_TRUE(JsonToRequest(store.m[key], &stored).ok());
  EXPECT_EQ(stored.dhchap_key(), kKey2);
  EXPECT_EQ(stored.dhchap_ctrlr_key(), kCtrlKey);

  // A second gateway applies the change from the group state.
  Target t2{TargetOptions{}};
  ServiceOptions o;
  o.gateway_name = "gw2";
  GatewayService b(&t2, nullptr, o);
  auto sub = [&] {
    for (auto& [k, v] : store.m)
      if (k.rfind("subsystem_", 0) == 0) return v;
    return std::string();
  }();
  ASSERT_TRUE(b.AddSubsystem(sub).ok());
  ASSERT_TRUE(b.AddHost(RequestToJson(r)).ok());
  EXPECT_EQ(t2.FindSubsystem(kNqn)->FindHost(kHost1)->dhchap_key, std::optional<std::string>(kKey1));
  ASSERT_TRUE(b.ChangeHost(RequestToJson(r), store.m[key]).ok());
  EXPECT_EQ(t2.FindSubsystem(kNqn)->FindHost(kHost1)->dhchap_key, std::optional<std::string>(kKey2));
  EXPECT_EQ(b.LocalState().at(key), store.m[key]);

  c.set_dhchap_key("DHHC-1:01:junk:");
  svc->change_host_key(nullptr, &c, &rep);
  EXPECT_STATUS(rep, EINVAL, "Failure changing DH-HMAC-CHAP key for host " + std::string(kHost1) + " on subsystem " +
                                 kNqn + ": host " + kHost1 + ": DH-HMAC-CHAP secret");
  EXPECT_EQ(s->FindHost(kHost1)->dhchap_key, std::optional<std::string>(kKey2));  // unchanged
  c.set_host_nqn(kHost2);
  c.set_dhchap_key(kKey1);
  svc->change_host_key(nullptr, &c, &rep);
  EXPECT_STATUS(rep, ENOENT, "Can't find host on subsystem");
  c.set_host_nqn("nqn.2014-08.org.nvmexpress.discovery");
  svc->change_host_key(nullptr, &c, &rep);
  EXPECT_STATUS(rep, EINVAL, "Can't use a discovery NQN as host's");
  c.set_host_nqn(kHost1);
  c.set_subsystem_nqn("nqn.2014-08.org.nvmexpress.discovery");
  svc->change_host_key(nullptr, &c, &rep);
  EXPECT_STATUS(rep, EINVAL, "Can't use a discovery NQN as subsystem's");

  // del_key while the host has a controller key: refused (the reference's rule).
  c.set_subsystem_nqn(kNqn);
  c.set_dhchap_key("");
  svc->change_host_key(nullptr, &c, &rep);
  EXPECT_STATUS(rep, ENOKEY, "Failure deleting DH-HMAC-CHAP key for host " + std::string(kHost1) + " on subsystem " +
                                 kNqn + ": Host must have a DH-HMAC-CHAP key if the controller has one");
  // del_controller_key, then del_key.
  change_host_key_req dc;
  dc.set_subsystem_nqn(kNqn);
  dc.set_host_nqn(kHost1);
  dc.set_dhchap_ctrlr_key("");
  svc->change_host_key(nullptr, &dc, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(s->FindHost(kHost1)->dhchap_key, std::optional<std::string>(kKey2)) << "the host key stays";
  EXPECT_FALSE(s->FindHost(kHost1)->dhchap_ctrlr_key);
  svc->change_host_key(nullptr, &c, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_FALSE(s->FindHost(kHost1)->dhchap_key);
  ASSERT_TRUE(JsonToRequest(store.m[key], &stored).ok());
  EXPECT_FALSE(stored.has_dhchap_key());
  EXPECT_FALSE(stored.has_dhchap_ctrlr_key());
  change_host_key_req none;
  none.set_subsystem_nqn(kNqn);
  none.set_host_nqn(kHost1);
  svc->change_host_key(nullptr, &none, &rep);
  EXPECT_STATUS(rep, EINVAL, "no key given");
}

// The subsystem DH-HMAC-CHAP key (change_subsystem_key, create_subsystem's dhchap_key): the
// implicit controller key of hosts with a key of their own, the reference's rules and
// messages, listed as has_dhchap_key and as each host's controller key origin; replayed by
// another gateway from the group state.
TEST_F(ServiceTest, SubsystemDhchapKey) {
  CreateSubsystem(kNqn);
  auto s = target->FindSubsystem(kNqn);
  req_status rep;
  add_host_req nokey;
  nokey.set_subsystem_nqn(kNqn);
  nokey.set_host_nqn(kHost1);
  svc->add_host(nullptr, &nokey, &rep);
  ASSERT_EQ(rep.status(), 0);
  change_subsystem_key_req k;
  k.set_subsystem_nqn(kNqn);
  k.set_dhchap_key(kCtrlKey);
  svc->change_subsystem_key(nullptr, &k, &rep);
  EXPECT_STATUS(rep, ENOKEY, "Can't set a subsystem's DH-HMAC-CHAP key when it has hosts with no key, like host " +
                                 std::string(kHost1));
  remove_host_req rm;
  rm.set_subsystem_nqn(kNqn);
  rm.set_host_nqn(kHost1);
  svc->remove_host(nullptr, &rm, &rep);
  ASSERT_EQ(rep.status(), 0);
  k.set_dhchap_key("DHHC-1:01:junk:");
  svc->change_subsystem_key(nullptr, &k, &rep);
  EXPECT_STATUS(rep, EINVAL, "DH-HMAC-CHAP secret");
  k.set_dhchap_key(kCtrlKey);
  svc->change_subsystem_key(nullptr, &k, &rep);
  EXPECT_STATUS(rep, 0, "Success");

  // Hosts: a key of their own is needed, a controller key of their own is refused.
  svc->add_host(nullptr, &nokey, &rep);
  EXPECT_STATUS(rep, ENOKEY, "Host must have a DH-HMAC-CHAP key if the controller or subsystem has one");
  add_host_req both = nokey;
  both.set_dhchap_key(kKey1);
  both.set_dhchap_ctrlr_key(kKey2);
  svc->add_host(nullptr, &both, &rep);
  EXPECT_STATUS(rep, EINVAL, "Host DH-HMAC-CHAP controller keys and subsystem DH-HMAC-CHAP keys are mutually exclusive");
  add_host_req keyed = nokey;
  keyed.set_dhchap_key(kKey1);
  svc->add_host(nullptr, &keyed, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(s->FindHost(kHost1)->dhchap_ctrlr_key, std::optional<std::string>(kCtrlKey)) << "the subsystem's key";
  list_hosts_req lh;
  lh.set_subsystem(kNqn);
  hosts_info hi;
  svc->list_hosts(nullptr, &lh, &hi);
  ASSERT_EQ(hi.hosts_size(), 1);
  EXPECT_EQ(hi.hosts(0).dhchap_controller_origin(), ::subsystem_implicit);
  list_subsystems_req ls;
  subsystems_info_cli si;
  svc->list_subsystems(nullptr, &ls, &si);
  ASSERT_EQ(si.subsystems_size(), 1);
  EXPECT_TRUE(si.subsystems(0).has_dhchap_key());
  change_host_key_req dc;
  dc.set_subsystem_nqn(kNqn);
  dc.set_host_nqn(kHost1);
  dc.set_dhchap_ctrlr_key("");
  svc->change_host_key(nullptr, &dc, &rep);
  EXPECT_STATUS(rep, EINVAL, "Can't delete host DH-HMAC-CHAP controller key as it was defined in the subsystem");

  // A second gateway replays it, and follows a rotation through ChangeSubsystem.
  Target t2{TargetOptions{}};
  ServiceOptions o;
  o.gateway_name = "gw2";
  GatewayService b(&t2, nullptr, o);
  const std::string sub_key = std::string("subsystem_") + kNqn;
  const std::string old_sub = store.m.at(sub_key);
  ASSERT_TRUE(b.AddSubsystem(old_sub).ok());
  ASSERT_TRUE(b.AddHost(store.m.at(std::string("host_") + kNqn + "_" + kHost1)).ok());
  EXPECT_EQ(t2.FindSubsystem(kNqn)->FindHost(kHost1)->dhchap_ctrlr_key, std::optional<std::string>(kCtrlKey));
  k.set_dhchap_key(kKey2);
  svc->change_subsystem_key(nullptr, &k, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(s->FindHost(kHost1)->dhchap_ctrlr_key, std::optional<std::string>(kKey2));
  ASSERT_TRUE(b.ChangeSubsystem(old_sub, store.m.at(sub_key)).ok());
  EXPECT_EQ(t2.FindSubsystem(kNqn)->FindHost(kHost1)->dhchap_ctrlr_key, std::optional<std::string>(kKey2));

  // del_key: the hosts keep their own keys, without a controller key.
  change_subsystem_key_req del;
  del.set_subsystem_nqn(kNqn);
  del.set_dhchap_key("");
  svc->change_subsystem_key(nullptr, &del, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(s->FindHost(kHost1)->dhchap_key, std::optional<std::string>(kKey1));
  EXPECT_FALSE(s->FindHost(kHost1)->dhchap_ctrlr_key);
  hi.Clear();
  svc->list_hosts(nullptr, &lh, &hi);
  EXPECT_EQ(hi.hosts(0).dhchap_controller_origin(), ::no_key);
  EXPECT_EQ(store.m.at(sub_key).find("DHHC-1"), std::string::npos);
  // A controller key of its own again, and the subsystem key refused while it is there.
  dc.set_dhchap_ctrlr_key(kCtrlKey);
  svc->change_host_key(nullptr, &dc, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  k.set_dhchap_key(kKey2);
  svc->change_subsystem_key(nullptr, &k, &rep);
  EXPECT_STATUS(rep, EINVAL, "You need to remove host " + std::string(kHost1) + " DH-HMAC-CHAP controller key");
}

// Keys at rest (api/state_secrets.h): the operator's key as the reference reads it, and a
// value the reference sealed with it (computed with python3-cryptography's Fernet, see
// gateway/state/secret_box_test.cc), for hostdhchap1 of its tests/test_dhchap.py.
const char kOperatorKey[] =
    "-----BEGIN NVMEOF KEY-----\n"
    "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xd\n"
    "Xl9gYWJjZGVmZ2hpamtsbW5v\n"
    "-----END NVMEOF KEY-----\n";
const char kReferenceKey[] = "DHHC-1:00:MWPqcx1Ug1debg8fPIGpkqbQhLcYUt39k7UWirkblaKEH1kE:";
const char kReferenceSealed[] =
    "Z0FBQUFBQmxVX0VBQUFFQ0F3UUZCZ2NJQ1FvTERBME9Ed1NVZnlud1NMQmVRMURoR3h2OWJuOE5jOTEtUGVKSmx4dW9zVFVxcVhRNFNtNU5E"
    "empCcXc5ZHNsUlJsRk5WOXJlUHNrVUlQLUR0RjNxeFEzblpzbE12akpiNC1sak40ekhGY3ZhNmhOLVNSOEoyMFQzTlhYYndJTUR0RFJhMkdn"
    "PT0=";

KeyEncryption WithKey(const std::string& text = kOperatorKey) {
  KeyEncryption k;
  k.enabled = true;
  k.key_file = "/encryption.key";
  auto box = SecretBox::FromKeyText(text);
  EXPECT_TRUE(box.ok()) << box.status().ToString();
  if (box.ok()) k.key = std::make_shared<const SecretBox>(std::move(*box));
  return k;
}

// Every secret written to the store is sealed, with its flag; the Target gets it in clear;
// listings say only whether there is one; a gateway with the same key serves the same hosts.
TEST_F(ServiceTest, KeysAtRestAreSealedInTheGroupState) {
  Make("", WithKey());
  create_subsystem_req cs;
  cs.set_subsystem_nqn(kNqn);
  cs.set_enable_ha(true);
  cs.set_no_group_append(true);
  cs.set_dhchap_key(kCtrlKey);
  subsys_status ss;
  svc->create_subsystem(nullptr, &cs, &ss);
  ASSERT_EQ(ss.status(), 0) << ss.error_message();
  add_host_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_host_nqn(kHost1);
  r.set_dhchap_key(kKey1);
  req_status rep;
  svc->add_host(nullptr, &r, &rep);
  ASSERT_EQ(rep.status(), 0) << rep.error_message();
  for (auto& [k, v] : store.m) EXPECT_EQ(v.find("DHHC-1"), std::string::npos) << k << ": " << v;
  const std::string sub_key = std::string("subsystem_") + kNqn, host_key = std::string("host_") + kNqn + "_" + kHost1;
  EXPECT_NE(store.m.at(sub_key).find("\"key_encrypted\": true"), std::string::npos) << store.m.at(sub_key);
  EXPECT_NE(store.m.at(host_key).find("\"key_encrypted\": true"), std::string::npos) << store.m.at(host_key);
  auto h = target->FindSubsystem(kNqn)->FindHost(kHost1);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->dhchap_key, std::optional<std::string>(kKey1));
  EXPECT_EQ(h->dhchap_ctrlr_key, std::optional<std::string>(kCtrlKey)) << "the subsystem's key, opened";

  list_hosts_req lh;
  lh.set_subsystem(kNqn);
  hosts_info hi;
  svc->list_hosts(nullptr, &lh, &hi);
  ASSERT_EQ(hi.hosts_size(), 1);
  EXPECT_TRUE(hi.hosts(0).use_dhchap());
  EXPECT_EQ(hi.hosts(0).dhchap_controller_origin(), ::subsystem_implicit);
  list_subsystems_req ls;
  subsystems_info_cli si;
  svc->list_subsystems(nullptr, &ls, &si);
  ASSERT_EQ(si.subsystems_size(), 1);
  EXPECT_TRUE(si.subsystems(0).has_dhchap_key());
  EXPECT_FALSE(si.subsystems(0).created_without_key());
  EXPECT_EQ(hi.DebugString().find("DHHC"), std::string::npos);
  EXPECT_EQ(si.DebugString().find("DHHC"), std::string::npos);

  // A key change keeps every key sealed.
  change_host_key_req c;
  c.set_subsystem_nqn(kNqn);
  c.set_host_nqn(kHost1);
  c.set_dhchap_key(kKey2);
  svc->change_host_key(nullptr, &c, &rep);
  ASSERT_EQ(rep.status(), 0) << rep.error_message();
  EXPECT_EQ(target->FindSubsystem(kNqn)->FindHost(kHost1)->dhchap_key, std::optional<std::string>(kKey2));
  change_subsystem_key_req k;
  k.set_subsystem_nqn(kNqn);
  k.set_dhchap_key(kKey1);
  svc->change_subsystem_key(nullptr, &k, &rep);
  ASSERT_EQ(rep.status(), 0) << rep.error_message();
  for (auto& [key, v] : store.m) EXPECT_EQ(v.find("DHHC-1"), std::string::npos) << key << ": " << v;

  // Another gateway of the group with the same key serves the same host with the same keys.
  Target t2{TargetOptions{}};
  ServiceOptions o;
  o.gateway_name = "gw2";
  o.key_encryption = WithKey();
  GatewayService b(&t2, nullptr, o);
  ASSERT_TRUE(b.AddSubsystem(store.m.at(sub_key)).ok());
  ASSERT_TRUE(b.AddHost(store.m.at(host_key)).ok());
  auto h2 = t2.FindSubsystem(kNqn)->FindHost(kHost1);
  ASSERT_TRUE(h2);
  EXPECT_EQ(h2->dhchap_key, std::optional<std::string>(kKey2));
  EXPECT_EQ(h2->dhchap_ctrlr_key, std::optional<std::string>(kKey1));
}

// State the reference wrote with the same key is served; a client may send keys sealed the
// same way (they are opened with this gateway's key).
TEST_F(ServiceTest, KeysAtRestTheReferenceSealed) {
  Make("", WithKey());
  CreateSubsystem(kNqn);
  const std::string ref_json = std::string("{\"subsystem_nqn\": \"") + kNqn + "\", \"host_nqn\": \"" + kHost1 +
                               "\", \"dhchap_key\": \"" + kReferenceSealed +
                               "\", \"key_encrypted\": true, \"psk_encrypted\": false}";
  ASSERT_TRUE(svc->AddHost(ref_json).ok());
  auto h = target->FindSubsystem(kNqn)->FindHost(kHost1);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->dhchap_key, std::optional<std::string>(kReferenceKey));

  add_host_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_host_nqn(kHost2);
  r.set_dhchap_key(kReferenceSealed);
  r.set_key_encrypted(true);
  req_status rep;
  svc->add_host(nullptr, &r, &rep);
  ASSERT_EQ(rep.status(), 0) << rep.error_message();
  EXPECT_EQ(target->FindSubsystem(kNqn)->FindHost(kHost2)->dhchap_key, std::optional<std::string>(kReferenceKey));
  const std::string stored = store.m.at(std::string("host_") + kNqn + "_" + kHost2);
  EXPECT_EQ(stored.find("DHHC-1"), std::string::npos);
  EXPECT_NE(stored.find("\"key_encrypted\": true"), std::string::npos);
}

// Without a key, as the reference: host keys are refused, a subsystem key is replaced by the
// reference's placeholder (with a warning); keys in the group state that this gateway cannot
// open leave their host unserved, and the message says what is missing.
TEST_F(ServiceTest, KeysAtRestWithoutTheKey) {
  KeyEncryption none;
  none.enabled = true;
  Make("", none);
  CreateSubsystem(kNqn);
  add_host_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_host_nqn(kHost1);
  r.set_dhchap_key(kKey1);
  req_status rep;
  svc->add_host(nullptr, &r, &rep);
  EXPECT_STATUS(rep, ENOKEY, "Failure adding host " + std::string(kHost1) + " to " + kNqn +
                                 ": No encryption key or the wrong key was found but we need to encrypt host " +
                                 kHost1 + " DH-HMAC-CHAP key ([gateway] encryption_key is not set");
  EXPECT_EQ(rep.error_message().find("AAEC"), std::string::npos);
  EXPECT_FALSE(target->FindSubsystem(kNqn)->HasHost(kHost1));
  EXPECT_EQ(AddHost(kNqn, kHost2).status(), 0) << "hosts without keys are fine";

  const char kNqn2[] = "nqn.2016-06.io.spdk:cnode2";
  create_subsystem_req cs;
  cs.set_subsystem_nqn(kNqn2);
  cs.set_enable_ha(true);
  cs.set_no_group_append(true);
  cs.set_dhchap_key(kCtrlKey);
  subsys_status ss;
  svc->create_subsystem(nullptr, &cs, &ss);
  EXPECT_EQ(ss.status(), 0) << ss.error_message();
  const std::string stored_sub = store.m.at(std::string("subsystem_") + kNqn2);
  EXPECT_EQ(stored_sub.find("DHHC-1"), std::string::npos);
  create_subsystem_req stored_req;
  ASSERT_TRUE(JsonToRequest(stored_sub, &stored_req).ok());
  EXPECT_EQ(stored_req.dhchap_key(), "<invalid>") << "the reference's placeholder";
  EXPECT_FALSE(stored_req.key_encrypted());
  list_subsystems_req ls;
  ls.set_subsystem_nqn(kNqn2);
  subsystems_info_cli si;
  svc->list_subsystems(nullptr, &ls, &si);
  ASSERT_EQ(si.subsystems_size(), 1);
  EXPECT_TRUE(si.subsystems(0).created_without_key());

  // A gateway with the key wrote a host: this one does not serve it, and says why.
  const std::string sealed = std::string("{\"subsystem_nqn\": \"") + kNqn + "\", \"host_nqn\": \"" + kHost1 +
                             "\", \"dhchap_key\": \"" + kReferenceSealed + "\", \"key_encrypted\": true}";
  EXPECT_TRUE(svc->AddHost(sealed).ok()) << "known, not served: retrying cannot help";
  EXPECT_FALSE(target->FindSubsystem(kNqn)->HasHost(kHost1));
  EXPECT_TRUE(svc->LocalState().count(std::string("host_") + kNqn + "_" + kHost1));
  list_hosts_req lh;
  lh.set_subsystem(kNqn);
  hosts_info hi;
  svc->list_hosts(nullptr, &lh, &hi);
  ASSERT_EQ(hi.hosts_size(), 1);
  EXPECT_EQ(hi.hosts(0).nqn(), kHost2);

  // A gateway with another key does not serve it either.
  std::string other(kOperatorKey);
  other.replace(other.find("QEFC"), 4, "QUFC");
  Make("", WithKey(other));
  CreateSubsystem(kNqn);
  EXPECT_TRUE(svc->AddHost(sealed).ok());
  EXPECT_FALSE(target->FindSubsystem(kNqn)->HasHost(kHost1));
  // A gateway with the right key serves it.
  Make("", WithKey());
  CreateSubsystem(kNqn);
  ASSERT_TRUE(svc->AddHost(sealed).ok());
  EXPECT_TRUE(target->FindSubsystem(kNqn)->HasHost(kHost1));
}

// A subsystem key this gateway cannot open (another gateway rotated it with another key):
// the hosts it is the controller key of stop being served here; a key it can open brings
// them back.
TEST_F(ServiceTest, KeysAtRestSubsystemKeyThisGatewayCannotOpen) {
  Make("", WithKey());
  std::string other_text(kOperatorKey);
  other_text.replace(other_text.find("QEFC"), 4, "QUFC");
  auto other = SecretBox::FromKeyText(other_text);
  auto mine = SecretBox::FromKeyText(kOperatorKey);
  ASSERT_TRUE(other.ok() && mine.ok());
  auto sub = [&](const std::string& key) {
    return std::string("{\"subsystem_nqn\": \"") + kNqn + "\", \"serial_number\": \"SN9\", \"enable_ha\": true, " +
           "\"dhchap_key\": \"" + key + "\", \"key_encrypted\": true}";
  };
  const std::string host = std::string("{\"subsystem_nqn\": \"") + kNqn + "\", \"host_nqn\": \"" + kHost1 +
                           "\", \"dhchap_key\": \"" + mine->Seal(kKey1) + "\", \"key_encrypted\": true}";
  const std::string s1 = sub(mine->Seal(kCtrlKey)), s2 = sub(other->Seal(kKey2)), s3 = sub(mine->Seal(kKey2));
  ASSERT_TRUE(svc->AddSubsystem(s1).ok());
  ASSERT_TRUE(svc->AddHost(host).ok());
  auto s = target->FindSubsystem(kNqn);
  ASSERT_TRUE(s->HasHost(kHost1));
  EXPECT_EQ(s->FindHost(kHost1)->dhchap_ctrlr_key, std::optional<std::string>(kCtrlKey));
  ASSERT_TRUE(svc->ChangeSubsystem(s1, s2).ok());
  EXPECT_FALSE(s->HasHost(kHost1)) << "its controller key cannot be opened here";
  ASSERT_TRUE(svc->ChangeSubsystem(s2, s3).ok());
  ASSERT_TRUE(s->HasHost(kHost1));
  EXPECT_EQ(s->FindHost(kHost1)->dhchap_ctrlr_key, std::optional<std::string>(kKey2));
}

// [gateway] enable_key_encryption = false: keys are written in clear, as the reference does.
TEST_F(ServiceTest, KeysAtRestDisabledKeepsKeysInClear) {
  KeyEncryption off = WithKey();
  off.enabled = false;
  Make("", off);
  CreateSubsystem(kNqn);
  add_host_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_host_nqn(kHost1);
  r.set_dhchap_key(kKey1);
  req_status rep;
  svc->add_host(nullptr, &r, &rep);
  ASSERT_EQ(rep.status(), 0) << rep.error_message();
  const std::string stored = store.m.at(std::string("host_") + kNqn + "_" + kHost1);
  EXPECT_NE(stored.find(kKey1), std::string::npos);
  EXPECT_EQ(stored.find("key_encrypted"), std::string::npos);
}

TEST_F(ServiceTest, AddHostField5IsPskEncryptedAndALegacyStringIsTheControllerKey) {
  CreateSubsystem(kNqn);
  // A current client: field 5 is the bool psk_encrypted (no key given: nothing to decrypt).
  add_host_req cur;
  cur.set_subsystem_nqn(kNqn);
  cur.set_host_nqn(kHost1);
  cur.set_psk_encrypted(true);
  add_host_req parsed;
  ASSERT_TRUE(parsed.ParseFromString(cur.SerializeAsString()));
  EXPECT_TRUE(parsed.psk_encrypted());
  req_status rep;
  svc->add_host(nullptr, &parsed, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  // A client of the 2024 development proto: the controller key as a string in field 5. It
  // parses (as an unknown field) and is taken as the controller key, not dropped.
  add_host_req old;
  old.set_subsystem_nqn(kNqn);
  old.set_host_nqn(kHost2);
  const std::string key = "DHHC-1:00:y";
  std::string wire = old.SerializeAsString();
  wire += static_cast<char>((5 << 3) | 2);
  wire += static_cast<char>(key.size());
  wire += key;
  add_host_req legacy;
  ASSERT_TRUE(legacy.ParseFromString(wire));
  EXPECT_FALSE(legacy.has_psk_encrypted());
  EXPECT_FALSE(legacy.has_dhchap_ctrlr_key());
  svc->add_host(nullptr, &legacy, &rep);
  // Read as a controller key (without a host key: the reference's ENOKEY).
  EXPECT_STATUS(rep, ENOKEY, "Host must have a DH-HMAC-CHAP key if the controller or subsystem has one");
}

// ------------------------------------------------------------------------------ listeners

TEST_F(ServiceTest, Listeners) {
  CreateSubsystem(kNqn);
  EXPECT_STATUS(CreateListener(kNqn, "gw1", "127.0.0.1", 4420), 0, "Success");
  EXPECT_EQ(target->Ports().size(), 1u);
  EXPECT_STATUS(CreateListener(kNqn, "gw1", "127.0.0.1", 4420), EEXIST, "Subsystem already listens on this address");
  // Another gateway's listener: stored, not opened, EREMOTE.
  EXPECT_STATUS(CreateListener(kNqn, "gw2", "127.0.0.2", 4420), EREMOTE, "Gateway's host name must match current host (host1)");
  EXPECT_EQ(target->Ports().size(), 1u);
  ASSERT_EQ(target->PeerListeners(kNqn).size(), 1u);  // listed for discovery, not opened
  EXPECT_EQ(target->PeerListeners(kNqn)[0].first.host_name, "gw2");
  EXPECT_TRUE(store.m.count(std::string("listener_") + kNqn + "_gw2_TCP_127.0.0.2_4420"));
  EXPECT_STATUS(CreateListener(kNqn, "gw_1", "127.0.0.1", 4421), EINVAL, "contains invalid characters");
  EXPECT_STATUS(CreateListener(kNqn, "gw1", "not-an-ip", 4421), EINVAL, "Invalid IP address");
  EXPECT_STATUS(CreateListener("nqn.2016-06.io.spdk:nope", "gw1", "127.0.0.1", 4421), ENOENT, "No such subsystem");
  EXPECT_STATUS(CreateListener("nqn.2014-08.org.nvmexpress.discovery", "gw1", "127.0.0.1", 4421), EINVAL,
                "discovery subsystem");
  const std::string& json = store.m[std::string("listener_") + kNqn + "_gw1_TCP_127.0.0.1_4420"];
  EXPECT_NE(json.find("\"adrfam\": \"ipv4\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"trsvcid\": 4420"), std::string::npos) << json;

  list_listeners_req l;
  l.set_subsystem(kNqn);
  listeners_info li;
  svc->list_listeners(nullptr, &l, &li);
  ASSERT_EQ(li.listeners_size(), 2);
  EXPECT_EQ(li.listeners(0).host_name(), "gw1");
  EXPECT_EQ(li.listeners(1).host_name(), "gw2");
  EXPECT_EQ(li.listeners(1).trsvcid(), 4420u);

  delete_listener_req d;
  d.set_nqn(kNqn);
  d.set_host_name("gw2");
  d.set_traddr("127.0.0.2");
  d.set_trsvcid(4420);
  req_status rep;
  svc->delete_listener(nullptr, &d, &rep);
  EXPECT_STATUS(rep, ENOENT, "You can continue to delete the listener by adding the `--force` parameter");
  d.set_force(true);
  svc->delete_listener(nullptr, &d, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_TRUE(target->PeerListeners(kNqn).empty());
  d.set_host_name("*");
  d.set_force(false);
  svc->delete_listener(nullptr, &d, &rep);
  EXPECT_STATUS(rep, EINVAL, "Must use the \"--force\" parameter");
  d.set_host_name("gw1");
  d.set_traddr("127.0.0.1");
  svc->delete_listener(nullptr, &d, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_TRUE(target->Ports().empty());
  svc->delete_listener(nullptr, &d, &rep);
  EXPECT_STATUS(rep, ENOENT, "No such listener");
  EXPECT_EQ(store.m.size(), 1u);  // the subsystem only
}

TEST_F(ServiceTest, Ipv6ListenerKeysUseBrackets) {
  CreateSubsystem(kNqn);
  create_listener_req r;
  r.set_nqn(kNqn);
  r.set_host_name("gw1");
  r.set_traddr("[::1]");  // as gwcli sends it
  r.set_adrfam(::ipv6);
  r.set_trsvcid(4420);
  req_status rep;
  svc->create_listener(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(store.m.count(std::string("listener_") + kNqn + "_gw1_TCP_[::1]_4420"), 1u);
  ASSERT_EQ(target->Ports().size(), 1u);
  EXPECT_EQ(target->Ports()[0].first.traddr, "::1");
  EXPECT_EQ(target->Ports()[0].first.adrfam, nvme::kAdrfamIpv6);
  r.set_traddr("::1");  // unbracketed: the same listener
  svc->create_listener(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EEXIST, "already listens");
  r.set_adrfam(::ipv4);
  r.set_trsvcid(4421);
  svc->create_listener(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EINVAL, "not an IPv4 address");
  delete_listener_req d;
  d.set_nqn(kNqn);
  d.set_host_name("gw1");
  d.set_traddr("::1");
  d.set_adrfam(::ipv6);
  d.set_trsvcid(4420);
  svc->delete_listener(nullptr, &d, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_TRUE(target->Ports().empty());
  EXPECT_EQ(store.m.size(), 1u);
}

TEST_F(ServiceTest, SetAnaStateAnswersOne) {
  CreateSubsystem(kNqn);
  CreateListener(kNqn, "gw1", "127.0.0.1", 4420);
  ana_info a;
  auto* n = a.add_states();
  n->set_nqn(kNqn);
  auto* g = n->add_states();
  g->set_grp_id(2);
  g->set_state(::INACCESSIBLE);
  req_status rep;
  ASSERT_TRUE(svc->set_ana_state(nullptr, &a, &rep).ok());
  EXPECT_EQ(rep.status(), 1);
  EXPECT_EQ(target->AnaState(kNqn, 2), nvme::kAnaInaccessible);
  EXPECT_EQ(target->AnaState(kNqn, 1), nvme::kAnaOptimized);
  // A subsystem deleted and created again starts from optimized.
  delete_subsystem_req d;
  d.set_subsystem_nqn(kNqn);
  d.set_force(true);
  svc->delete_subsystem(nullptr, &d, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(target->AnaState(kNqn, 2), nvme::kAnaOptimized);
}

// ------------------------------------------------------------------------------ info, logs

TEST_F(ServiceTest, GatewayInfoAndLogLevels) {
  get_gateway_info_req r;
  r.set_cli_version("1.3.0");
  gateway_info gi;
  svc->get_gateway_info(nullptr, &r, &gi);
  EXPECT_EQ(gi.status(), 0) << gi.error_message();
  EXPECT_TRUE(gi.bool_status());
  EXPECT_EQ(gi.name(), "gw1");
  EXPECT_EQ(gi.hostname(), "host1");
  EXPECT_EQ(gi.addr(), "127.0.0.1");
  EXPECT_EQ(gi.port(), "5500");
  EXPECT_EQ(gi.version(), "1.3.0");
  EXPECT_EQ(gi.load_balancing_group(), 1u);
  r.set_cli_version("1.2.9");
  svc->get_gateway_info(nullptr, &r, &gi);
  EXPECT_STATUS(gi, EINVAL, "CLI version 1.2.9 is older than gateway's version 1.3.0");

  set_gateway_log_level_req s;
  s.set_log_level(::debug);
  req_status rep;
  svc->set_gateway_log_level(nullptr, &s, &rep);
  EXPECT_EQ(rep.status(), 0);
  gateway_log_level_info li;
  svc->get_gateway_log_level(nullptr, nullptr, &li);
  EXPECT_EQ(li.log_level(), ::debug);
  s.set_log_level(static_cast<::GwLogLevel>(15));
  svc->set_gateway_log_level(nullptr, &s, &rep);
  EXPECT_STATUS(rep, ENOKEY, "Unknown log level 15");
  SetLogLevel(LogLevel::kWarning);

  set_spdk_nvmf_logs_req sl;
  sl.set_log_level(::DEBUG);
  svc->set_spdk_nvmf_logs(nullptr, &sl, &rep);
  EXPECT_EQ(rep.status(), 0);
  spdk_nvmf_log_flags_and_level_info fl;
  svc->get_spdk_nvmf_log_flags_and_level(nullptr, nullptr, &fl);
  EXPECT_EQ(fl.status(), 0);
  EXPECT_EQ(fl.log_level(), ::DEBUG);
  svc->disable_spdk_nvmf_logs(nullptr, nullptr, &rep);
  EXPECT_EQ(rep.status(), 0);
  fl.Clear();
  svc->get_spdk_nvmf_log_flags_and_level(nullptr, nullptr, &fl);
  EXPECT_EQ(fl.log_level(), ::NOTICE);
}

// ------------------------------------------------------------------------------ persistence

TEST_F(ServiceTest, PersistFailureRollsBackTheTarget) {
  CreateSubsystem(kNqn);
  store.fail = true;
  EXPECT_STATUS(CreateSubsystem("nqn.2016-06.io.spdk:cnode2"), EINVAL, "Error persisting subsystem");
  EXPECT_FALSE(target->FindSubsystem("nqn.2016-06.io.spdk:cnode2"));
  EXPECT_STATUS(AddMemoryNs(kNqn), EINVAL, "Error persisting namespace 1");
  EXPECT_EQ(target->FindSubsystem(kNqn)->namespace_count(), 0u);
  EXPECT_STATUS(AddHost(kNqn, kHost1), EINVAL, "Error persisting host");
  EXPECT_FALSE(target->FindSubsystem(kNqn)->HostAllowed(kHost1));
  EXPECT_STATUS(CreateListener(kNqn, "gw1", "127.0.0.1", 4420), EINVAL, "Error persisting listener");
  EXPECT_TRUE(target->Ports().empty());
  // Removals are persisted first: nothing changes when the store fails.
  delete_subsystem_req d;
  d.set_subsystem_nqn(kNqn);
  req_status rep;
  svc->delete_subsystem(nullptr, &d, &rep);
  EXPECT_STATUS(rep, EINVAL, "Error persisting deletion of subsystem");
  EXPECT_TRUE(target->FindSubsystem(kNqn));
  store.fail = false;
  EXPECT_EQ(svc->LocalState(), store.m);
}

// Another gateway wrote an NSID this one has not applied yet: the automatic NSID moves on.
TEST_F(ServiceTest, AutomaticNsidSkipsNsidsTakenInTheGroup) {
  CreateSubsystem(kNqn);
  namespace_add_req other;
  other.set_subsystem_nqn(kNqn);
  other.set_nsid(1);
  other.set_block_size(512);
  other.set_uuid("01234567-89ab-cdef-0123-456789abcdef");
  other.set_backend("memory");
  other.set_memory_size(kMiB);
  store.m[std::string("namespace_") + kNqn + "_1"] = RequestToJson(other);  // not in state_ yet
  auto rep = AddMemoryNs(kNqn);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(rep.nsid(), 2u);
  EXPECT_EQ(target->FindSubsystem(kNqn)->namespace_count(), 1u);
  // An explicit NSID the group has: EEXIST, and the target is left as it was.
  EXPECT_STATUS(AddMemoryNs(kNqn, kMiB, 1, 512), EEXIST, "NSID 1 is already in use");
  EXPECT_EQ(target->FindSubsystem(kNqn)->namespace_count(), 1u);
  // A subsystem another gateway created.
  create_subsystem_req cs;
  cs.set_subsystem_nqn("nqn.2016-06.io.spdk:cnode9");
  cs.set_enable_ha(true);
  store.m["subsystem_nqn.2016-06.io.spdk:cnode9"] = RequestToJson(cs);
  EXPECT_STATUS(CreateSubsystem("nqn.2016-06.io.spdk:cnode9"), EEXIST, "Subsystem already exists");
  EXPECT_FALSE(target->FindSubsystem("nqn.2016-06.io.spdk:cnode9"));
}

// The StateTarget side: what gateway A wrote, replayed on gateway B (the applier's calls in
// its order), B's own listeners opened and A's listed.
TEST_F(ServiceTest, StateReplayOnAnotherGateway) {
  CreateSubsystem(kNqn);
  AddMemoryNs(kNqn, 8 * kMiB, 2, 4096, "01234567-89ab-cdef-0123-456789abcdef");
  AddHost(kNqn, kHost1);
  namespace_set_qos_req q;
  q.set_subsystem_nqn(kNqn);
  q.set_nsid(2);
  q.set_rw_mbytes_per_second(5);
  req_status rep;
  svc->namespace_set_qos_limits(nullptr, &q, &rep);
  ASSERT_EQ(rep.status(), 0);
  CreateListener(kNqn, "gw1", "127.0.0.1", 4420);
  CreateListener(kNqn, "gw2", "127.0.0.2", 4420);
  const StateMap state = store.m;

  Target t2{TargetOptions{}};
  ServiceOptions o;
  o.gateway_name = "gw2";
  GatewayService b(&t2, nullptr, o);
  auto key = [&](const std::string& prefix) {
    for (auto& [k, v] : state)
      if (k.rfind(prefix, 0) == 0) return v;
    return std::string();
  };
  EXPECT_TRUE(b.AddSubsystem(key("subsystem_")).ok());
  EXPECT_TRUE(b.AddNamespace(key("namespace_")).ok());
  EXPECT_TRUE(b.AddHost(key("host_")).ok());
  EXPECT_TRUE(b.SetQos(key("qos_")).ok());
  for (auto& [k, v] : state)
    if (k.rfind("listener_", 0) == 0) {
      EXPECT_TRUE(b.AddListener(v).ok()) << k;
    }
  EXPECT_TRUE(b.AddSubsystem(key("subsystem_")).IsAlreadyExists());  // counts as done
  auto s = t2.FindSubsystem(kNqn);
  ASSERT_TRUE(s);
  auto ns = s->GetNamespace(2);
  ASSERT_TRUE(ns);
  EXPECT_EQ(UuidToString(ns->uuid()), "01234567-89ab-cdef-0123-456789abcdef");  // same UUID on every gateway
  EXPECT_EQ(ns->block_size(), 4096u);
  EXPECT_EQ(s->NamespaceInfo(2)->qos.rw_mbytes_per_second, 5u);
  EXPECT_TRUE(s->HostAllowed(kHost1));
  ASSERT_EQ(t2.Ports().size(), 1u);  // gw2's listener only
  EXPECT_EQ(t2.Ports()[0].first.traddr, "127.0.0.2");
  // gw1's listener is in gw2's discovery log page.
  auto peers = t2.PeerListeners(kNqn);
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].first.host_name, "gw1");
  EXPECT_EQ(peers[0].first.traddr, "127.0.0.1");
  EXPECT_EQ(peers[0].first.trsvcid, "4420");
  EXPECT_NE(peers[0].second, t2.Ports()[0].second);  // a port ID of its own
  EXPECT_EQ(b.LocalState(), state);
  list_listeners_req l;
  l.set_subsystem(kNqn);
  listeners_info li;
  b.list_listeners(nullptr, &l, &li);
  EXPECT_EQ(li.listeners_size(), 2);

  // Changes and removals.
  namespace_add_req n;
  ASSERT_TRUE(JsonToRequest(key("namespace_"), &n).ok());
  n.set_anagrpid(3);
  EXPECT_TRUE(b.ChangeNamespace(key("namespace_"), RequestToJson(n)).ok());
  EXPECT_EQ(ns->anagrpid(), 3u);
  EXPECT_TRUE(b.ClearQos(kNqn, 2).ok());
  EXPECT_EQ(s->NamespaceInfo(2)->qos.rw_mbytes_per_second, 0u);
  for (auto& [k, v] : state)
    if (k.rfind("listener_", 0) == 0) {
      EXPECT_TRUE(b.RemoveListener(v).ok()) << k;
    }
  EXPECT_TRUE(t2.Ports().empty());
  EXPECT_TRUE(t2.PeerListeners(kNqn).empty());
  EXPECT_TRUE(b.RemoveHost(kNqn, kHost1).ok());
  EXPECT_TRUE(b.RemoveNamespace(kNqn, 2).ok());
  EXPECT_TRUE(b.RemoveNamespace(kNqn, 2).IsNotFound());  // NotFound counts as done
  EXPECT_TRUE(b.RemoveSubsystem(kNqn).ok());
  EXPECT_FALSE(t2.FindSubsystem(kNqn));
  EXPECT_TRUE(b.LocalState().empty());
}

// The service's own writes are recorded with the follower (as applied, with the store's
// version), and the follower applies other gateways' changes through the service.
TEST_F(ServiceTest, OwnWritesAreRecordedWithTheFollower) {
  StateFollower f(nullptr, svc.get(), &svc->rpc_mutex());
  ASSERT_TRUE(f.Start().ok());
  svc->SetStateFollower(&f);
  CreateSubsystem(kNqn);
  AddMemoryNs(kNqn);
  EXPECT_EQ(f.applier().applied(), store.m);
  EXPECT_EQ(f.applier().desired(), store.m);
  namespace_delete_req d;
  d.set_subsystem_nqn(kNqn);
  d.set_nsid(1);
  req_status rep;
  svc->namespace_delete(nullptr, &d, &rep);
  ASSERT_EQ(rep.status(), 0);
  EXPECT_FALSE(f.applier().applied().count(std::string("namespace_") + kNqn + "_1"));
  EXPECT_EQ(f.applier().applied(), store.m);
  EXPECT_FALSE(f.applier().pending());

  // Recorded with the versions the store gave them: an older snapshot does not undo them.
  f.OnStateChanged({}, 1);
  f.WaitIdle();
  EXPECT_TRUE(target->FindSubsystem(kNqn));
  EXPECT_EQ(svc->LocalState(), store.m);

  // Another gateway's subsystem, applied on the follower's thread through the service.
  create_subsystem_req cs;
  cs.set_subsystem_nqn("nqn.2016-06.io.spdk:cnode9");
  cs.set_serial_number("Ceph9");
  cs.set_enable_ha(true);
  StateMap next = store.m;
  next["subsystem_nqn.2016-06.io.spdk:cnode9"] = RequestToJson(cs);
  f.OnStateChanged(next, store.version + 1);
  f.WaitIdle();
  EXPECT_TRUE(target->FindSubsystem("nqn.2016-06.io.spdk:cnode9"));
  EXPECT_EQ(svc->LocalState().size(), next.size());
  EXPECT_TRUE(svc->LocalState().count("subsystem_nqn.2016-06.io.spdk:cnode9"));
  // Replay applies on the caller's thread.
  next.erase("subsystem_nqn.2016-06.io.spdk:cnode9");
  f.Replay(next, store.version + 2);
  EXPECT_FALSE(target->FindSubsystem("nqn.2016-06.io.spdk:cnode9"));
  EXPECT_EQ(svc->LocalState(), next);
  svc->SetStateFollower(nullptr);
}

// ------------------------------------------------------------------------------ current reference RPCs

TEST_F(ServiceTest, NamespaceFlagsAreKeptInTheStoredRequestAndListed) {
  CreateSubsystem(kNqn);
  AddMemoryNs(kNqn);
  const std::string key = std::string("namespace_") + kNqn + "_1";
  req_status rep;
  namespace_set_rbd_trash_image_req t;
  t.set_subsystem_nqn(kNqn);
  t.set_nsid(1);
  t.set_trash_image(true);
  svc->namespace_set_rbd_trash_image(nullptr, &t, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  namespace_set_auto_resize_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_nsid(1);
  r.set_auto_resize(false);
  svc->namespace_set_auto_resize(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  namespace_change_location_req l;
  l.set_subsystem_nqn(kNqn);
  l.set_nsid(1);
  l.set_location("site-b");
  svc->namespace_change_location(nullptr, &l, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  namespace_add_req stored;
  ASSERT_TRUE(JsonToRequest(store.m[key], &stored).ok());
  EXPECT_TRUE(stored.trash_image());
  EXPECT_TRUE(stored.disable_auto_resize());
  EXPECT_EQ(stored.location(), "site-b");
  auto n = ListNs(kNqn).namespaces(0);
  EXPECT_TRUE(n.trash_image());
  EXPECT_TRUE(n.disable_auto_resize());
  EXPECT_EQ(n.location(), "site-b");
  EXPECT_EQ(n.ns_subsystem_nqn(), kNqn);
  EXPECT_TRUE(n.auto_visible());
  // "*": every subsystem's namespaces.
  CreateSubsystem("nqn.2016-06.io.spdk:cnode9");
  AddMemoryNs("nqn.2016-06.io.spdk:cnode9");
  const namespaces_info all = ListNs("*");
  EXPECT_EQ(all.status(), 0) << all.error_message();
  ASSERT_EQ(all.namespaces_size(), 2);
  EXPECT_NE(all.namespaces(0).ns_subsystem_nqn(), all.namespaces(1).ns_subsystem_nqn());
  // Errors: no such namespace.
  t.set_nsid(7);
  svc->namespace_set_rbd_trash_image(nullptr, &t, &rep);
  EXPECT_STATUS(rep, ENODEV, "Can't find namespace");
  r.set_nsid(0);
  svc->namespace_set_auto_resize(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EINVAL, "missing ID");
  namespace_unpin_req u;
  u.set_subsystem_nqn(kNqn);
  u.set_nsid(1);
  svc->namespace_unpin(nullptr, &u, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  u.set_nsid(3);
  svc->namespace_unpin(nullptr, &u, &rep);
  EXPECT_STATUS(rep, ENODEV, "Can't find namespace");
}

TEST_F(ServiceTest, NamespaceChangeVisibility) {
  CreateSubsystem(kNqn);
  AddMemoryNs(kNqn);
  req_status rep;
  namespace_change_visibility_req v;
  v.set_subsystem_nqn(kNqn);
  v.set_nsid(1);
  v.set_auto_visible(false);
  svc->namespace_change_visibility(nullptr, &v, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_FALSE(ListNs(kNqn).namespaces(0).auto_visible());
  namespace_add_req stored;
  ASSERT_TRUE(JsonToRequest(store.m[std::string("namespace_") + kNqn + "_1"], &stored).ok());
  EXPECT_TRUE(stored.no_auto_visible());
  // A host of its own; back to all hosts needs force, and drops the host.
  namespace_add_host_req h;
  h.set_subsystem_nqn(kNqn);
  h.set_nsid(1);
  h.set_host_nqn(kHost1);
  svc->namespace_add_host(nullptr, &h, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  v.set_auto_visible(true);
  svc->namespace_change_visibility(nullptr, &v, &rep);
  EXPECT_STATUS(rep, EBUSY, "there are already hosts added to it");
  v.set_force(true);
  svc->namespace_change_visibility(nullptr, &v, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  auto n = ListNs(kNqn).namespaces(0);
  EXPECT_TRUE(n.auto_visible());
  EXPECT_EQ(n.hosts_size(), 0);
  EXPECT_EQ(store.m.count(std::string("ns_host_") + kNqn + "_1_" + kHost1), 0u);
  v.set_nsid(5);
  svc->namespace_change_visibility(nullptr, &v, &rep);
  EXPECT_STATUS(rep, ENODEV, "Can't find namespace");
}

// Read-only namespaces, RADOS namespaces and RBD data pools (namespace_add fields 14, 15
// and 17): passed to the device opener, kept in the state, reported by the listings; the
// image's identity includes its RADOS namespace.
TEST_F(ServiceTest, NamespaceAddReadOnlyRadosNamespaceDataPool) {
  CreateSubsystem(kNqn);
  std::vector<DeviceSpec> seen;
  struct FakeRbd : RbdOpener {
    std::vector<DeviceSpec>* seen;
    explicit FakeRbd(std::vector<DeviceSpec>* s) : seen(s) {}
    Result<std::unique_ptr<BlockDevice>> Open(const DeviceSpec& b) override {
      seen->push_back(b);
      return OpenMemoryDevice(64 * kMiB);
    }
  };
  DeviceFactory devices(std::make_unique<FakeRbd>(&seen));
  svc->SetDeviceFactory(&devices);
  namespace_add_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_block_size(512);
  r.set_rbd_pool_name("rbd");
  r.set_rbd_image_name("img");
  r.set_rados_namespace_name("tenant1");
  r.set_read_only(true);
  nsid_status rep;
  svc->namespace_add(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].pool, "rbd");
  EXPECT_EQ(seen[0].rados_namespace, "tenant1");
  EXPECT_EQ(seen[0].image, "img");
  EXPECT_TRUE(seen[0].read_only);
  // The same image name in the pool's default namespace is another image.
  r.clear_rados_namespace_name();
  r.clear_read_only();
  r.set_create_image(true);
  r.set_size(64 * kMiB);
  r.set_rbd_data_pool_name("ecpool");
  svc->namespace_add(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].rados_namespace, "");
  EXPECT_EQ(seen[1].data_pool, "ecpool");
  EXPECT_FALSE(seen[1].read_only);
  // The image in tenant1 again: already used.
  r.set_rados_namespace_name("tenant1");
  r.clear_rbd_data_pool_name();
  svc->namespace_add(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EEXIST, "RBD image rbd/tenant1/img is already used by a namespace in subsystem");

  auto ls = ListNs(kNqn);
  ASSERT_EQ(ls.namespaces_size(), 2);
  EXPECT_TRUE(ls.namespaces(0).read_only());
  EXPECT_EQ(ls.namespaces(0).rados_namespace_name(), "tenant1");
  EXPECT_FALSE(ls.namespaces(0).has_rbd_data_pool_name());
  EXPECT_FALSE(ls.namespaces(1).read_only());
  EXPECT_FALSE(ls.namespaces(1).has_rados_namespace_name());
  EXPECT_EQ(ls.namespaces(1).rbd_data_pool_name(), "ecpool");
  // The state keeps the fields: a restart (replay) opens the image the same way.
  const std::string json = store.m.at(std::string("namespace_") + kNqn + "_1");
  EXPECT_NE(json.find("\"read_only\": true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"rados_namespace_name\": \"tenant1\""), std::string::npos) << json;

  // Refused with a reason.
  namespace_add_req bad = r;
  bad.set_rbd_image_name("a/b");
  svc->namespace_add(nullptr, &bad, &rep);
  EXPECT_STATUS(rep, EINVAL, "RBD image name \"a/b\" can't contain '/'");
  bad = r;
  bad.set_rados_namespace_name("x/y");
  svc->namespace_add(nullptr, &bad, &rep);
  EXPECT_STATUS(rep, EINVAL, "RADOS namespace name \"x/y\" can't contain '/'");
  bad = r;
  bad.set_rbd_image_name("other");
  bad.clear_create_image();
  bad.set_rbd_data_pool_name("ecpool");
  svc->namespace_add(nullptr, &bad, &rep);
  EXPECT_STATUS(rep, EINVAL, "an RBD data pool applies only to an image the gateway creates");
  namespace_add_req mem;
  mem.set_subsystem_nqn(kNqn);
  mem.set_block_size(512);
  mem.set_backend("memory");
  mem.set_memory_size(kMiB);
  mem.set_rados_namespace_name("tenant1");
  svc->namespace_add(nullptr, &mem, &rep);
  EXPECT_STATUS(rep, EINVAL, "a RADOS namespace or an RBD data pool needs the rbd backend");
  // A read-only memory namespace (the core refuses its writes).
  mem.clear_rados_namespace_name();
  mem.set_read_only(true);
  svc->namespace_add(nullptr, &mem, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_TRUE(ListNs(kNqn).namespaces(2).read_only());
  svc->SetDeviceFactory(nullptr);
}

TEST_F(ServiceTest, IoStatsListenersInfoAndGatewayInfoLimits) {
  CreateSubsystem(kNqn);
  AddMemoryNs(kNqn);
  AddMemoryNs(kNqn);
  list_namespaces_io_stats_req r;
  list_namespaces_io_stats_info st;
  svc->list_namespaces_io_stats(nullptr, &r, &st);
  EXPECT_STATUS(st, 0, "Success");
  EXPECT_EQ(st.namespaces_size(), 2);
  EXPECT_EQ(st.tick_rate(), 1000000000u);
  r.set_subsystem_nqn(kNqn);
  r.set_nsid(2);
  svc->list_namespaces_io_stats(nullptr, &r, &st);
  EXPECT_STATUS(st, 0, "Success");
  r.set_nsid(9);
  svc->list_namespaces_io_stats(nullptr, &r, &st);
  EXPECT_STATUS(st, ENODEV, "Can't find namespace 9");

  EXPECT_STATUS(CreateListener(kNqn, "gw1", "127.0.0.1", 4420), 0, "Success");
  show_gateway_listeners_info_req lr;
  lr.set_subsystem_nqn(kNqn);
  gateway_listeners_info li;
  svc->show_gateway_listeners_info(nullptr, &lr, &li);
  EXPECT_STATUS(li, 0, "Success");
  ASSERT_EQ(li.gw_listeners_size(), 1);
  EXPECT_EQ(li.gw_listeners(0).listener().traddr(), "127.0.0.1");
  EXPECT_TRUE(li.gw_listeners(0).listener().manual());
  ASSERT_GE(li.gw_listeners(0).lb_states_size(), 1);
  EXPECT_EQ(li.gw_listeners(0).lb_states(0).grp_id(), 1u);
  lr.set_subsystem_nqn("nqn.2016-06.io.spdk:none");
  svc->show_gateway_listeners_info(nullptr, &lr, &li);
  EXPECT_EQ(li.status(), ENOENT);

  set_gateway_io_stats_mode_req m;
  m.set_enabled(false);
  req_status rep;
  svc->set_gateway_io_stats_mode(nullptr, &m, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  get_gateway_info_req gr;
  gateway_info gi;
  svc->get_gateway_info(nullptr, &gr, &gi);
  EXPECT_FALSE(gi.io_stats_enabled());
  EXPECT_TRUE(gi.gateway_initialization_over());
  EXPECT_EQ(gi.max_subsystems(), 128u);
  EXPECT_EQ(gi.max_hosts_per_subsystem(), 128u);
  EXPECT_EQ(gi.max_namespaces(), target->options().max_namespaces_per_gateway);
  EXPECT_GT(gi.max_namespaces_per_subsystem(), 0u);
}

TEST_F(ServiceTest, GatewayVersionTheReferenceCliAccepts) {
  // This project's own numbering (below the reference CLI's oldest, 1.1.0): the API level,
  // or a 1.1.0..1.9.0 reference CLI's own version.
  ServiceOptions o;
  o.gateway_name = "gw1";
  o.version = "0.1.0";
  GatewayService own(target.get(), nullptr, o);
  get_gateway_info_req r;
  gateway_info gi;
  own.get_gateway_info(nullptr, &r, &gi);
  EXPECT_EQ(gi.status(), 0) << gi.error_message();
  EXPECT_EQ(gi.version(), "1.9.0");
  r.set_cli_version("1.7.2");
  own.get_gateway_info(nullptr, &r, &gi);
  EXPECT_EQ(gi.status(), 0) << gi.error_message();
  EXPECT_EQ(gi.version(), "1.7.2");
  r.set_cli_version("1.0.5");
  own.get_gateway_info(nullptr, &r, &gi);
  EXPECT_EQ(gi.status(), EINVAL);
}

TEST_F(ServiceTest, NotYetSupportedRpcsAnswerEnotsup) {
  CreateSubsystem(kNqn);
  list_kmip_server_endpoints_req k;
  kmip_server_endpoints_info ki;
  svc->list_kmip_server_endpoints(nullptr, &k, &ki);
  EXPECT_STATUS(ki, ENOTSUP, "KMIP");
  get_thread_stats_req tr;
  thread_stats_info ti;
  svc->get_thread_stats(nullptr, &tr, &ti);
  EXPECT_STATUS(ti, ENOTSUP, "thread statistics");
  get_gateway_stats_req gsr;
  gateway_stats_info gsi;
  svc->get_gateway_stats(nullptr, &gsr, &gsi);
  EXPECT_STATUS(gsi, ENOTSUP, "poll group statistics");
  svc->SetThreadStatsSource([] { return std::vector<ThreadStats>{{"reactor_0", 30, 70}}; });
  svc->get_thread_stats(nullptr, &tr, &ti);
  EXPECT_STATUS(ti, 0, "Success");
  ASSERT_EQ(ti.threads_size(), 1);
  EXPECT_EQ(ti.threads(0).busy(), 30u);
}

// Network masks: the listeners each gateway opens on its own addresses inside them.
class NetworkMaskTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    svc->SetAddressSource([this] { return addrs; });
  }
  subsys_status CreateMasked(const std::string& nqn, std::vector<std::string> masks, uint32_t port = 0) {
    create_subsystem_req r;
    r.set_subsystem_nqn(nqn);
    r.set_enable_ha(true);
    r.set_no_group_append(true);
    for (auto& m : masks) r.add_network_mask(m);
    if (port) r.set_port(port);
    subsys_status rep;
    EXPECT_TRUE(svc->create_subsystem(nullptr, &r, &rep).ok());
    return rep;
  }
  req_status AddNet(const std::string& nqn, const std::string& mask) {
    add_subsystem_network_req r;
    r.set_subsystem_nqn(nqn);
    r.set_network_mask(mask);
    req_status rep;
    EXPECT_TRUE(svc->add_subsystem_network(nullptr, &r, &rep).ok());
    return rep;
  }
  req_status DelNet(const std::string& nqn, const std::string& mask) {
    del_subsystem_network_req r;
    r.set_subsystem_nqn(nqn);
    r.set_network_mask(mask);
    req_status rep;
    EXPECT_TRUE(svc->del_subsystem_network(nullptr, &r, &rep).ok());
    return rep;
  }
  gw_refresh_network_status Refresh(const std::string& nqn) {
    gw_refresh_network_req r;
    r.set_subsystem_nqn(nqn);
    gw_refresh_network_status rep;
    EXPECT_TRUE(svc->gw_refresh_network(nullptr, &r, &rep).ok());
    return rep;
  }
  // "ADDR:PORT" of the subsystem's listeners on this gateway's Target.
  std::set<std::string> Open(const std::string& nqn) {
    std::set<std::string> out;
    auto s = target->FindSubsystem(nqn);
    if (s)
      for (auto& l : s->Listeners()) out.insert(EscapeAddressIfIpv6(l.traddr) + ":" + l.trsvcid);
    return out;
  }
  std::vector<std::string> Masks(const std::string& nqn) {
    list_subsystems_req r;
    r.set_subsystem_nqn(nqn);
    subsystems_info_cli rep;
    svc->list_subsystems(nullptr, &r, &rep);
    if (rep.subsystems_size() != 1) return {};
    return {rep.subsystems(0).network_mask().begin(), rep.subsystems(0).network_mask().end()};
  }
  std::vector<std::string> addrs = {"127.0.0.1", "192.0.2.2", "10.1.2.3", "::1", "fd00::5"};
};

TEST_F(NetworkMaskTest, CreateValidatesMasksAndPort) {
  EXPECT_STATUS(CreateMasked(kNqn, {"10.0.0.0/24", "nosubnet"}), EINVAL,
                "Failure creating subsystem " + std::string(kNqn) + ": Invalid subnet for network mask \"nosubnet\"");
  EXPECT_STATUS(CreateMasked(kNqn, {"10.0.0.0/33"}), EINVAL, "Invalid subnet for network mask");
  EXPECT_EQ(target->FindSubsystem(kNqn), nullptr);
  create_subsystem_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_enable_ha(true);
  r.add_network_mask("10.0.0.0/8");
  r.set_port(70000);
  subsys_status rep;
  svc->create_subsystem(nullptr, &r, &rep);
  EXPECT_STATUS(rep, EINVAL, "trsvcid value must be smaller than 65536");
  EXPECT_TRUE(svc->LocalState().empty());
}

TEST_F(NetworkMaskTest, SecureListenersMakeTlsAutoListeners) {
  create_subsystem_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_enable_ha(true);
  r.add_network_mask("192.0.2.0/24");
  r.set_secure_listeners(true);
  subsys_status rep;
  svc->create_subsystem(nullptr, &r, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  auto s = target->FindSubsystem(kNqn);
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->Listeners().size(), 1u);
  EXPECT_EQ(s->Listeners()[0].traddr, "192.0.2.2");
  EXPECT_TRUE(s->Listeners()[0].secure) << "secure_listeners: the auto-listeners take TLS only";
}

TEST_F(NetworkMaskTest, CreateStoresListsAndOpensAutoListeners) {
  // IPv4 and IPv6, a repeat dropped, an address outside every mask left alone.
  EXPECT_STATUS(CreateMasked(kNqn, {"192.0.2.0/24", "fd00::/64", "192.0.2.0/24"}), 0, "Success");
  EXPECT_EQ(Masks(kNqn), (std::vector<std::string>{"192.0.2.0/24", "fd00::/64"}));
  EXPECT_EQ(Open(kNqn), (std::set<std::string>{"192.0.2.2:4420", "[fd00::5]:4420"}));
  create_subsystem_req stored;
  ASSERT_TRUE(JsonToRequest(svc->LocalState().at("subsystem_" + std::string(kNqn)), &stored).ok());
  EXPECT_EQ(stored.network_mask_size(), 2);  // in the group state: every gateway gets them
  EXPECT_EQ(store.m, svc->LocalState());
  // No listener_ keys: auto-listeners are each gateway's own.
  for (auto& [k, v] : store.m) EXPECT_NE(k.rfind("listener_", 0), 0u) << k;
  get_subsystems_req g;
  subsystems_info gi;
  svc->get_subsystems(nullptr, &g, &gi);
  ASSERT_EQ(gi.subsystems_size(), 2);  // discovery, then ours
  EXPECT_EQ(gi.subsystems(1).network_mask_size(), 2);
  EXPECT_EQ(gi.subsystems(1).listen_addresses_size(), 2);
  // Listed active and not manual; a manual one is manual.
  EXPECT_STATUS(CreateListener(kNqn, "gw1", "127.0.0.1", 4430), 0, "Success");
  list_listeners_req l;
  l.set_subsystem(kNqn);
  listeners_info li;
  svc->list_listeners(nullptr, &l, &li);
  ASSERT_EQ(li.listeners_size(), 3);
  for (auto& o : li.listeners()) {
    EXPECT_TRUE(o.active()) << o.traddr();
    EXPECT_EQ(o.manual(), o.traddr() == "127.0.0.1") << o.traddr();
  }
  show_gateway_listeners_info_req sr;
  sr.set_subsystem_nqn(kNqn);
  gateway_listeners_info si;
  svc->show_gateway_listeners_info(nullptr, &sr, &si);
  ASSERT_EQ(si.gw_listeners_size(), 3);
  for (auto& o : si.gw_listeners()) EXPECT_EQ(o.listener().manual(), o.listener().traddr() == "127.0.0.1");
  // An auto-listener cannot be deleted as a listener.
  delete_listener_req d;
  d.set_nqn(kNqn);
  d.set_host_name("gw1");
  d.set_traddr("192.0.2.2");
  d.set_trsvcid(4420);
  d.set_force(true);
  req_status dr;
  svc->delete_listener(nullptr, &d, &dr);
  EXPECT_STATUS(dr, EINVAL, "Listener was created automatically as part of the subsystem's network mask");
  EXPECT_EQ(Open(kNqn).count("192.0.2.2:4420"), 1u);
  // Deleting the subsystem closes them.
  delete_subsystem_req ds;
  ds.set_subsystem_nqn(kNqn);
  svc->delete_subsystem(nullptr, &ds, &dr);
  EXPECT_STATUS(dr, 0, "Success");
  EXPECT_TRUE(target->Ports().empty());
}

TEST_F(NetworkMaskTest, PortOfTheSubsystem) {
  EXPECT_STATUS(CreateMasked(kNqn, {"127.0.0.0/8"}, 4500), 0, "Success");
  EXPECT_EQ(Open(kNqn), (std::set<std::string>{"127.0.0.1:4500"}));
}

TEST_F(NetworkMaskTest, AddAndDeleteValidate) {
  EXPECT_STATUS(AddNet("", "10.0.0.0/8"), EINVAL, "Failure adding network mask, missing subsystem NQN");
  EXPECT_STATUS(AddNet(kNqn, ""), EINVAL, "Failure adding network mask for subsystem " + std::string(kNqn) +
                                              ": Missing network mask");
  EXPECT_STATUS(AddNet(kNqn, "nosubnet"), EADDRNOTAVAIL, "Invalid subnet \"nosubnet\"");
  EXPECT_STATUS(AddNet(kNqn, "10.0.0.0/8"), ENOENT, "Can't find entry for subsystem");
  EXPECT_STATUS(DelNet("", "10.0.0.0/8"), EINVAL, "Failure deleting network mask, missing subsystem NQN");
  EXPECT_STATUS(DelNet(kNqn, ""), EINVAL, "Missing network mask");
  EXPECT_STATUS(DelNet(kNqn, "fd00::/200"), EADDRNOTAVAIL, "Invalid subnet \"fd00::/200\"");
  EXPECT_STATUS(DelNet(kNqn, "10.0.0.0/8"), ENOENT, "Can't find entry for subsystem");
  CreateSubsystem(kNqn);
  // The reference's warnings: answered 0 with the warning as the message.
  EXPECT_STATUS(DelNet(kNqn, "10.0.0.0/8"), 0, "No existing network mask found for subsystem " + std::string(kNqn));
  EXPECT_STATUS(AddNet(kNqn, "10.0.0.0/8"), 0, "Success");
  EXPECT_STATUS(AddNet(kNqn, "10.0.0.0/8"), 0,
                "Network mask 10.0.0.0/8 already exists for subsystem " + std::string(kNqn));
  EXPECT_STATUS(DelNet(kNqn, "10.9.0.0/16"), 0,
                "Network mask 10.9.0.0/16 not found for subsystem " + std::string(kNqn));
  EXPECT_EQ(Masks(kNqn), (std::vector<std::string>{"10.0.0.0/8"}));
}

TEST_F(NetworkMaskTest, AddAndDeleteOpenAndCloseWhatTheMaskAloneCovers) {
  CreateSubsystem(kNqn);
  EXPECT_TRUE(Open(kNqn).empty());
  EXPECT_STATUS(AddNet(kNqn, "127.0.0.1/24"), 0, "Success");
  EXPECT_EQ(Open(kNqn), (std::set<std::string>{"127.0.0.1:4420"}));
  EXPECT_STATUS(AddNet(kNqn, "0.0.0.0/0"), 0, "Success");
  EXPECT_EQ(Open(kNqn), (std::set<std::string>{"127.0.0.1:4420", "192.0.2.2:4420", "10.1.2.3:4420"}));
  EXPECT_STATUS(AddNet(kNqn, "::/0"), 0, "Success");
  EXPECT_EQ(Open(kNqn).size(), 5u);
  EXPECT_EQ(Masks(kNqn), (std::vector<std::string>{"127.0.0.1/24", "0.0.0.0/0", "::/0"}));
  EXPECT_EQ(store.m, svc->LocalState());
  // 127.0.0.1 stays: 0.0.0.0/0 still covers it.
  EXPECT_STATUS(DelNet(kNqn, "127.0.0.1/24"), 0, "Success");
  EXPECT_EQ(Open(kNqn).size(), 5u);
  EXPECT_STATUS(DelNet(kNqn, "0.0.0.0/0"), 0, "Success");
  EXPECT_EQ(Open(kNqn), (std::set<std::string>{"[::1]:4420", "[fd00::5]:4420"}));
  EXPECT_STATUS(DelNet(kNqn, "::/0"), 0, "Success");
  EXPECT_TRUE(Open(kNqn).empty());
  EXPECT_TRUE(Masks(kNqn).empty());
  // A manual listener inside a mask stays manual: deleting the mask leaves it open.
  EXPECT_STATUS(CreateListener(kNqn, "gw1", "10.1.2.3", 4420), 0, "Success");
  EXPECT_STATUS(AddNet(kNqn, "10.0.0.0/8"), 0, "Success");
  EXPECT_STATUS(DelNet(kNqn, "10.0.0.0/8"), 0, "Success");
  EXPECT_EQ(Open(kNqn), (std::set<std::string>{"10.1.2.3:4420"}));
}

TEST_F(NetworkMaskTest, StoreFailureLeavesNothingOpen) {
  CreateSubsystem(kNqn);
  store.fail = true;
  EXPECT_STATUS(AddNet(kNqn, "10.0.0.0/8"), EINVAL, "injected store failure");
  EXPECT_TRUE(Open(kNqn).empty());
  store.fail = false;
  EXPECT_TRUE(Masks(kNqn).empty());
}

TEST_F(NetworkMaskTest, RefreshFollowsTheAddresses) {
  gw_refresh_network_status r = Refresh("");
  EXPECT_STATUS(r, EINVAL, "missing subsystem NQN");
  r = Refresh("nqn.invalid");
  EXPECT_STATUS(r, ENOENT, "Failure refreshing network for subsystem nqn.invalid: subsystem nqn.invalid not found");
  CreateSubsystem(kNqn);
  r = Refresh(kNqn);
  EXPECT_STATUS(r, EINVAL, "subsystem " + std::string(kNqn) + " has no network masks configured");
  EXPECT_STATUS(AddNet(kNqn, "192.0.2.0/24"), 0, "Success");
  r = Refresh(kNqn);
  EXPECT_STATUS(r, 0, "Success");
  EXPECT_EQ(r.added_size(), 0);
  EXPECT_EQ(r.removed_size(), 0);
  // An address comes, another goes.
  addrs = {"192.0.2.9", "127.0.0.1"};
  r = Refresh(kNqn);
  EXPECT_STATUS(r, 0, "Success");
  EXPECT_EQ(std::vector<std::string>(r.added().begin(), r.added().end()), std::vector<std::string>{"192.0.2.9:4420"});
  EXPECT_EQ(std::vector<std::string>(r.removed().begin(), r.removed().end()),
            std::vector<std::string>{"192.0.2.2:4420"});
  EXPECT_EQ(Open(kNqn), (std::set<std::string>{"192.0.2.9:4420"}));
}

TEST_F(NetworkMaskTest, EveryGatewayOpensItsOwnFromTheGroupState) {
  EXPECT_STATUS(CreateMasked(kNqn, {"127.0.0.0/8", "192.0.2.0/24"}, 4430), 0, "Success");
  // gw2 on the same machine considers 192.0.2.2 only ([gateway] auto_listener_addresses).
  Target t2{TargetOptions{}};
  ServiceOptions o;
  o.gateway_name = "gw2";
  o.hostname = "host1";
  o.auto_listener_addresses = {"192.0.2.2"};
  GatewayService b(&t2, nullptr, o);
  b.SetAddressSource([this] { return addrs; });
  const std::string key = "subsystem_" + std::string(kNqn);
  const std::string json = store.m.at(key);
  {
    std::lock_guard<std::mutex> lk(b.rpc_mutex());
    EXPECT_TRUE(b.AddSubsystem(json).ok());
  }
  ASSERT_EQ(t2.Ports().size(), 1u);
  EXPECT_EQ(t2.Ports()[0].first.traddr, "192.0.2.2");
  EXPECT_EQ(t2.Ports()[0].first.trsvcid, "4430");
  // gw1 adds a mask that covers none of gw2's; then deletes the one that does.
  EXPECT_STATUS(AddNet(kNqn, "10.0.0.0/8"), 0, "Success");
  EXPECT_STATUS(DelNet(kNqn, "192.0.2.0/24"), 0, "Success");
  EXPECT_EQ(Open(kNqn), (std::set<std::string>{"127.0.0.1:4430", "10.1.2.3:4430"}));
  {
    std::lock_guard<std::mutex> lk(b.rpc_mutex());
    EXPECT_TRUE(b.ChangeSubsystem(json, store.m.at(key)).ok());
  }
  EXPECT_TRUE(t2.Ports().empty());
  {
    std::lock_guard<std::mutex> lk(b.rpc_mutex());
    EXPECT_TRUE(b.RemoveSubsystem(kNqn).ok());
  }
}

// ------------------------------------------------------------------------------ statistics

TEST_F(ServiceTest, ConnectionIoStatisticsErrors) {
  CreateSubsystem(kNqn);
  AddHost(kNqn, kHost1);
  get_connection_io_statistics_req r;
  connection_io_statistics st;
  svc->get_connection_io_statistics(nullptr, &r, &st);
  EXPECT_STATUS(st, EINVAL, "missing subsystem NQN");
  r.set_subsystem_nqn(kNqn);
  svc->get_connection_io_statistics(nullptr, &r, &st);
  EXPECT_STATUS(st, EINVAL, "missing host NQN");
  r.set_host_nqn(kHost1);
  svc->get_connection_io_statistics(nullptr, &r, &st);
  EXPECT_STATUS(st, ENOENT, "No connection for host");
  EXPECT_EQ(st.subsystem_nqn(), kNqn);
  EXPECT_EQ(st.host_nqn(), kHost1);
  r.set_reset(true);
  svc->get_connection_io_statistics(nullptr, &r, &st);
  EXPECT_STATUS(st, ENOENT, "Failure resetting IO statistics for host");
  r.set_subsystem_nqn("nqn.2016-06.io.spdk:none");
  svc->get_connection_io_statistics(nullptr, &r, &st);
  EXPECT_STATUS(st, ENOENT, "No such subsystem");
  r.set_subsystem_nqn("nqn.2014-08.org.nvmexpress.discovery");
  svc->get_connection_io_statistics(nullptr, &r, &st);
  EXPECT_STATUS(st, EINVAL, "discovery");
}

TEST_F(ServiceTest, GatewayStatsPerReactor) {
  svc->SetThreadStatsSource([] { return std::vector<ThreadStats>{{"reactor_0", 1, 2}, {"reactor_1", 3, 4}}; });
  get_gateway_stats_req r;
  gateway_stats_info st;
  svc->get_gateway_stats(nullptr, &r, &st);
  EXPECT_STATUS(st, 0, "Success");
  EXPECT_EQ(st.tick_rate(), 1000000000u);
  ASSERT_EQ(st.poll_groups_size(), 2);
  EXPECT_EQ(st.poll_groups(1).name(), "reactor_1");
  EXPECT_EQ(st.poll_groups(0).current_io_qpairs(), 0u);
  EXPECT_EQ(st.poll_groups(0).completed_nvme_io(), 0u);
  ASSERT_EQ(st.poll_groups(0).transports_size(), 1);
  EXPECT_EQ(st.poll_groups(0).transports(0).trtype(), "TCP");
}

TEST_F(ServiceTest, IoStatsModeTurnsTheTargetsTimingOnAndOff) {
  EXPECT_TRUE(target->conn_io_stats());  // on by default, as the reference
  set_gateway_io_stats_mode_req m;
  req_status rep;
  m.set_enabled(false);
  svc->set_gateway_io_stats_mode(nullptr, &m, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_FALSE(target->conn_io_stats());
  m.set_enabled(true);
  svc->set_gateway_io_stats_mode(nullptr, &m, &rep);
  EXPECT_TRUE(target->conn_io_stats());
}

TEST_F(ServiceTest, KeepHostConnected) {
  CreateSubsystem(kNqn);
  AddHost(kNqn, kHost1);
  set_keep_host_connected_req k;
  req_status rep;
  svc->set_keep_host_connected(nullptr, &k, &rep);
  EXPECT_STATUS(rep, EINVAL, "missing subsystem NQN");
  k.set_subsystem_nqn(kNqn);
  svc->set_keep_host_connected(nullptr, &k, &rep);
  EXPECT_STATUS(rep, EINVAL, "missing host NQN");
  k.set_host_nqn("*");
  svc->set_keep_host_connected(nullptr, &k, &rep);
  EXPECT_STATUS(rep, EINVAL, "Host NQN can't be");
  k.set_host_nqn(kHost2);
  svc->set_keep_host_connected(nullptr, &k, &rep);
  EXPECT_STATUS(rep, ENOENT, "Host is not found");
  k.set_host_nqn(kHost1);
  k.set_subsystem_nqn("nqn.2016-06.io.spdk:none");
  svc->set_keep_host_connected(nullptr, &k, &rep);
  EXPECT_STATUS(rep, ENOENT, "No such subsystem");
  k.set_subsystem_nqn(kNqn);
  svc->set_keep_host_connected(nullptr, &k, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  // remove_host with keep_connections (field 4) removes the host like any removal.
  AddHost(kNqn, kHost2);
  remove_host_req rh;
  rh.set_subsystem_nqn(kNqn);
  rh.set_host_nqn(kHost2);
  rh.set_keep_connections(true);
  svc->remove_host(nullptr, &rh, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_FALSE(target->FindSubsystem(kNqn)->HasHost(kHost2));
  EXPECT_EQ(store.m.count(std::string("host_") + kNqn + "_" + kHost2), 0u);
}

// ------------------------------------------------------------------------------ RBD trash on delete

// An RBD opener over memory devices that "creates" the images named new-*, and records the
// images moved to the trash.
struct TrashingRbd : RbdOpener {
  struct Dev : BlockDevice {
    std::unique_ptr<BlockDevice> mem;
    BdevInfo i;
    uint64_t size() const override { return mem->size(); }
    const BdevInfo& info() const override { return i; }
    void submit(BdevIo* io) override { mem->submit(io); }
    Status resize(uint64_t n) override { return mem->resize(n); }
  };
  std::vector<std::string>* trashed;
  std::set<std::string> existing;
  explicit TrashingRbd(std::vector<std::string>* t) : trashed(t) {}
  Result<std::unique_ptr<BlockDevice>> Open(const DeviceSpec& b) override {
    auto d = std::make_unique<Dev>();
    d->mem = OpenMemoryDevice(16 * kMiB);
    d->i = d->mem->info();
    d->i.created = b.create_image && b.image.rfind("new-", 0) == 0 && existing.insert(b.image).second;
    return std::unique_ptr<BlockDevice>(std::move(d));
  }
  Status MoveToTrash(const DeviceSpec& b) override {
    trashed->push_back(b.pool + "/" + b.image);
    return Status::OK();
  }
};

TEST_F(ServiceTest, RbdTrashOnDeleteOnlyForImagesTheGatewayCreated) {
  CreateSubsystem(kNqn);
  std::vector<std::string> trashed;
  DeviceFactory devices(std::make_unique<TrashingRbd>(&trashed));
  svc->SetDeviceFactory(&devices);
  auto add = [&](const std::string& image, bool create) {
    namespace_add_req r;
    r.set_subsystem_nqn(kNqn);
    r.set_block_size(512);
    r.set_rbd_pool_name("rbd");
    r.set_rbd_image_name(image);
    r.set_create_image(create);
    if (create) r.set_size(16 * kMiB);
    r.set_trash_image(true);
    nsid_status rep;
    svc->namespace_add(nullptr, &r, &rep);
    EXPECT_STATUS(rep, 0, "Success");
    return rep.nsid();
  };
  auto stored = [&](uint32_t nsid) {
    namespace_add_req a;
    EXPECT_TRUE(JsonToRequest(store.m[std::string("namespace_") + kNqn + "_" + std::to_string(nsid)], &a).ok());
    return a;
  };
  const uint32_t created = add("new-a", true);    // created by the gateway: kept
  const uint32_t existing = add("old-b", true);   // create_image, but the image was there
  const uint32_t opened = add("old-c", false);    // opened only
  EXPECT_TRUE(stored(created).trash_image());
  EXPECT_TRUE(stored(created).create_image());
  EXPECT_FALSE(stored(existing).trash_image());
  EXPECT_FALSE(stored(existing).create_image());
  EXPECT_FALSE(stored(opened).trash_image());
  EXPECT_FALSE(ListNs(kNqn).namespaces(1).trash_image());
  // The flag set on an image the gateway did not create is kept (as the reference) and ignored
  // on delete; cleared and set again on one it did.
  namespace_set_rbd_trash_image_req t;
  t.set_subsystem_nqn(kNqn);
  t.set_nsid(existing);
  t.set_trash_image(true);
  req_status rep;
  svc->namespace_set_rbd_trash_image(nullptr, &t, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_TRUE(stored(existing).trash_image());
  t.set_nsid(created);
  t.set_trash_image(false);
  svc->namespace_set_rbd_trash_image(nullptr, &t, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_FALSE(stored(created).trash_image());
  t.set_trash_image(true);
  svc->namespace_set_rbd_trash_image(nullptr, &t, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  // Deleting it needs i_am_sure; then the image goes to the trash after the namespace is gone.
  namespace_delete_req d;
  d.set_subsystem_nqn(kNqn);
  d.set_nsid(created);
  svc->namespace_delete(nullptr, &d, &rep);
  EXPECT_STATUS(rep, EINVAL, "Confirmation for trashing RBD image is needed.\nIn order to delete the namespace either "
                             "repeat the command using the \"--i-am-sure\" parameter");
  EXPECT_TRUE(target->FindSubsystem(kNqn)->HasNamespace(created));
  EXPECT_TRUE(trashed.empty());
  d.set_i_am_sure(true);
  svc->namespace_delete(nullptr, &d, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_FALSE(target->FindSubsystem(kNqn)->HasNamespace(created));
  EXPECT_EQ(trashed, std::vector<std::string>{"rbd/new-a"});
  // Images the gateway did not create are left alone, i_am_sure or not.
  d.set_nsid(existing);
  svc->namespace_delete(nullptr, &d, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  d.set_nsid(opened);
  d.set_i_am_sure(false);
  svc->namespace_delete(nullptr, &d, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(trashed.size(), 1u);
  // delete_subsystem with force: its namespaces' images go to the trash with i_am_sure only
  // (without it the subsystem is deleted all the same, as the reference does).
  add("new-d", true);
  delete_subsystem_req ds;
  ds.set_subsystem_nqn(kNqn);
  ds.set_force(true);
  ds.set_i_am_sure(true);
  svc->delete_subsystem(nullptr, &ds, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_EQ(trashed, (std::vector<std::string>{"rbd/new-a", "rbd/new-d"}));
  CreateSubsystem(kNqn);
  add("new-e", true);
  ds.set_i_am_sure(false);
  svc->delete_subsystem(nullptr, &ds, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  EXPECT_FALSE(target->FindSubsystem(kNqn));
  EXPECT_EQ(trashed.size(), 2u);
  svc->SetDeviceFactory(nullptr);
}

// ------------------------------------------------------------------------------ limits

// Every limit of the reference ([gateway] max_*), small here, reached through the RPCs and
// through the group state (another gateway's additions): E2BIG and the reference's words.
TEST_F(ServiceTest, LimitsAreEnforcedOnEveryAddition) {
  svc.reset();
  TargetOptions to;
  to.max_namespaces_per_gateway = 3;
  target = std::make_unique<Target>(to);
  ServiceOptions o;
  o.gateway_name = "gw1";
  o.hostname = "host1";
  o.max_subsystems = 2;
  o.default_max_namespaces = 2;
  o.max_hosts = 3;
  o.max_hosts_per_subsystem = 2;
  o.max_hosts_per_namespace = 1;
  svc = std::make_unique<GatewayService>(target.get(), &store, o);
  const std::string n1 = "nqn.2016-06.io.spdk:lim1", n2 = "nqn.2016-06.io.spdk:lim2", n3 = "nqn.2016-06.io.spdk:lim3";
  auto h = [](int i) { return "nqn.2016-06.io.spdk:host" + std::to_string(i); };

  // max_subsystems; create_subsystem's max_namespaces cap.
  EXPECT_STATUS(CreateSubsystem(n1), 0, "Success");
  create_subsystem_req big;
  big.set_subsystem_nqn(n2);
  big.set_enable_ha(true);
  big.set_no_group_append(true);
  big.set_max_namespaces(3700);
  subsys_status srep;
  svc->create_subsystem(nullptr, &big, &srep);
  EXPECT_STATUS(srep, EINVAL, "Failure creating subsystem " + n2 + ": Max namespaces can't be greater than 2048");
  EXPECT_STATUS(CreateSubsystem(n2), 0, "Success");
  EXPECT_STATUS(CreateSubsystem(n3), E2BIG,
                "Failure creating subsystem " + n3 + ": Maximal number of subsystems (2) has already been reached");
  EXPECT_EQ(target->FindSubsystem(n1)->spec().max_namespaces, 2u);  // max_namespaces_per_subsystem

  // max_namespaces_per_subsystem (the subsystem's max_namespaces), NSIDs above it, max_namespaces.
  EXPECT_STATUS(AddMemoryNs(n1), 0, "Success");
  EXPECT_STATUS(AddMemoryNs(n1, 16 * kMiB, 3), E2BIG, "Requested ID 3 is bigger than the maximal one (2)");
  EXPECT_STATUS(AddMemoryNs(n1), 0, "Success");
  EXPECT_STATUS(AddMemoryNs(n1), E2BIG,
                "to " + n1 + ": Subsystem's maximal number of namespaces (2) has already been reached");
  EXPECT_STATUS(AddMemoryNs(n2), 0, "Success");
  EXPECT_STATUS(AddMemoryNs(n2), E2BIG, "to " + n2 + ": Maximal number of namespaces (3) has already been reached");

  // max_hosts_per_subsystem, max_hosts ("*" counts for neither).
  EXPECT_STATUS(AddHost(n1, h(1)), 0, "Success");
  EXPECT_STATUS(AddHost(n1, h(2)), 0, "Success");
  EXPECT_STATUS(AddHost(n1, "*"), 0, "Success");
  EXPECT_STATUS(AddHost(n1, h(3)), E2BIG, "Maximal number of hosts for subsystem (2) has already been reached");
  EXPECT_STATUS(AddHost(n2, h(3)), 0, "Success");
  EXPECT_STATUS(AddHost(n2, h(4)), E2BIG, "Maximal number of hosts (3) has already been reached");

  // max_hosts_per_namespace.
  namespace_change_visibility_req v;
  v.set_subsystem_nqn(n1);
  v.set_nsid(1);
  v.set_auto_visible(false);
  req_status rep;
  svc->namespace_change_visibility(nullptr, &v, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  namespace_add_host_req nh;
  nh.set_subsystem_nqn(n1);
  nh.set_nsid(1);
  nh.set_host_nqn(h(1));
  svc->namespace_add_host(nullptr, &nh, &rep);
  EXPECT_STATUS(rep, 0, "Success");
  nh.set_host_nqn(h(2));
  svc->namespace_add_host(nullptr, &nh, &rep);
  EXPECT_STATUS(rep, E2BIG, "Maximal host count for namespace (1) has already been reached");

  // The same limits on what another gateway wrote to the group state.
  create_subsystem_req cs;
  cs.set_subsystem_nqn(n3);
  cs.set_enable_ha(true);
  Status st = svc->AddSubsystem(RequestToJson(cs));
  EXPECT_NE(st.message().find("Maximal number of subsystems (2) has already been reached"), std::string::npos)
      << st.ToString();
  EXPECT_FALSE(target->FindSubsystem(n3));
  add_host_req ah;
  ah.set_subsystem_nqn(n2);
  ah.set_host_nqn(h(5));
  st = svc->AddHost(RequestToJson(ah));
  EXPECT_NE(st.message().find("Maximal number of hosts (3)"), std::string::npos) << st.ToString();
  nh.set_host_nqn(h(2));
  st = svc->AddNamespaceHost(RequestToJson(nh));
  EXPECT_NE(st.message().find("Maximal host count for namespace (1)"), std::string::npos) << st.ToString();
  namespace_add_req ns;
  ns.set_subsystem_nqn(n2);
  ns.set_nsid(2);
  ns.set_block_size(512);
  ns.set_backend("memory");
  ns.set_memory_size(16 * kMiB);
  st = svc->AddNamespace(RequestToJson(ns));
  EXPECT_NE(st.message().find("Maximal number of namespaces (3) has already been reached"), std::string::npos)
      << st.ToString();

  // get_gateway_info reports them.
  get_gateway_info_req gr;
  gateway_info gi;
  svc->get_gateway_info(nullptr, &gr, &gi);
  EXPECT_EQ(gi.max_subsystems(), 2u);
  EXPECT_EQ(gi.max_namespaces(), 3u);
  EXPECT_EQ(gi.max_namespaces_per_subsystem(), 2u);
  EXPECT_EQ(gi.max_hosts(), 3u);
  EXPECT_EQ(gi.max_hosts_per_subsystem(), 2u);
}

}  // namespace
}  // namespace nvmeof::api
