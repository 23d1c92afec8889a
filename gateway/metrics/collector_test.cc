// Unit tests of the GatewayCollector (collector.h): the reference's metric names, types,
// labels and values, and this gateway's own, from an in-process Target (no transport,
// memory devices) and probes filled by hand.
#include "gateway/metrics/collector.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <set>
#include <sstream>
#include <string>

#include "gateway/common/clock.h"
#include "gateway/ha/ha_manager.h"
#include "gateway/ha/ha_test_util.h"
#include "gateway/nvmf/target.h"
#include "gateway/runtime/reactor_probe.h"
#include "rbd-backend/block_device.h"

namespace nvmeof {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr char kNqn[] = "nqn.2016-06.io.spdk:m1";
constexpr char kHostA[] = "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-0000-0000-000000000001";
constexpr char kHostB[] = "nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-0000-0000-0000-000000000002";

class CollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TargetOptions o;
    o.gateway_name = "gw1";
    target_ = std::make_unique<Target>(o);
    SubsystemSpec s;
    s.nqn = kNqn;
    s.serial = "SN7";
    s.max_namespaces = 32;
    ASSERT_TRUE(target_->AddSubsystem(s).ok());
    ASSERT_TRUE(target_->AddHost(kNqn, kHostA).ok());
    ASSERT_TRUE(target_->AddHost(kNqn, kHostB).ok());
    ListenerSpec l;
    l.host_name = "gw1";
    l.traddr = "127.0.0.1";
    l.trsvcid = "4420";
    ASSERT_TRUE(target_->AddListener(kNqn, l).ok());
    NamespaceSpec rbd;
    rbd.block_size = 4096;
    rbd.backend = "rbd";
    rbd.rbd_pool = "pool1";
    rbd.rbd_image = "img1";
    rbd.rados_namespace = "ns1";
    ASSERT_TRUE(target_->AddNamespace(kNqn, rbd, OpenMemoryDevice(8 << 20)).ok());
    NamespaceSpec mem;
    mem.backend = "memory";
    mem.rbd_pool.clear();
    ASSERT_TRUE(target_->AddNamespace(kNqn, mem, OpenMemoryDevice(4 << 20)).ok());
    ns1_ = target_->FindSubsystem(kNqn)->GetNamespace(1);
    bdev1_ = BdevName(ns1_->uuid());
    bdev2_ = BdevName(target_->FindSubsystem(kNqn)->GetNamespace(2)->uuid());

    NsStats& st = ns1_->stats();
    st.read_bytes = 3 * 4096;
    st.read_ns = 1500000000;  // 1.5 s
    st.write_bytes = 8192;
    st.write_ns = 250000000;
    st.read_latency[NsStats::LatencyBucket(5000)] += 2;       // <= 8.192 us
    st.read_latency[NsStats::LatencyBucket(100000)] += 1;     // <= 131 us
    st.write_latency[NsStats::LatencyBucket(5000000000)] += 2;  // beyond the last bound
    probe0_.AddBusy(2000000000);
    probe0_.AddIdle(500000000);
    target_->FindSubsystem(kNqn)->NoteKeepAliveTimeout(kHostB);
  }

  CollectorOptions Options() {
    CollectorOptions o;
    o.gateway.version = "9.9.9";
    o.gateway.addr = "10.0.0.5";
    o.gateway.port = "5500";
    o.gateway.name = "gw1";
    o.gateway.hostname = "node1";
    return o;
  }

  std::map<std::string, MetricFamily> Collect(CollectorOptions o) {
    GatewayCollector c(target_.get(), {&probe0_}, std::move(o));
    std::map<std::string, MetricFamily> by_name;
    for (auto& f : c.Collect()) {
      EXPECT_FALSE(by_name.count(f.name)) << f.name << " twice";
      by_name[f.name] = f;
    }
    return by_name;
  }

  static std::map<std::string, std::string> Labels(const prometheus::ClientMetric& m) {
    std::map<std::string, std::string> l;
    for (auto& x : m.label) l[x.name] = x.value;
    return l;
  }
  static std::set<std::string> LabelNames(const MetricFamily& f) {
    std::set<std::string> names;
    for (auto& m : f.metric)
      for (auto& x : m.label) names.insert(x.name);
    return names;
  }
  // The sample whose labels include `want`.
  static const prometheus::ClientMetric* Find(const MetricFamily& f, const std::map<std::string, std::string>& want) {
    for (auto& m : f.metric) {
      auto l = Labels(m);
      bool all = true;
      for (auto& [k, v] : want) all = all && l.count(k) && l[k] == v;
      if (all) return &m;
    }
    return nullptr;
  }

  std::unique_ptr<Target> target_;
  std::shared_ptr<Namespace> ns1_;
  std::string bdev1_, bdev2_;
  ReactorProbe probe0_;
};

TEST_F(CollectorTest, ReferenceMetricsHaveTheirNamesTypesAndLabels) {
  auto m = Collect(Options());
  struct Want {
    const char* name;
    MetricType type;
    std::set<std::string> labels;
  };
  const Want wants[] = {
      {"ceph_nvmeof_gateway_info", MetricType::Gauge,
       {"spdk_version", "version", "addr", "port", "name", "hostname", "group", "load_balancing_group"}},
      {"ceph_nvmeof_bdev_metadata", MetricType::Gauge, {"bdev_name", "pool_name", "namespace", "rbd_name", "block_size"}},
      {"ceph_nvmeof_bdev_capacity_bytes", MetricType::Gauge, {"bdev_name"}},
      {"ceph_nvmeof_bdev_reads_completed_total", MetricType::Counter, {"bdev_name"}},
      {"ceph_nvmeof_bdev_writes_completed_total", MetricType::Counter, {"bdev_name"}},
      {"ceph_nvmeof_bdev_read_bytes_total", MetricType::Counter, {"bdev_name"}},
      {"ceph_nvmeof_bdev_written_bytes_total", MetricType::Counter, {"bdev_name"}},
      {"ceph_nvmeof_bdev_read_seconds_total", MetricType::Counter, {"bdev_name"}},
      {"ceph_nvmeof_bdev_write_seconds_total", MetricType::Counter, {"bdev_name"}},
      {"ceph_nvmeof_reactor_seconds_total", MetricType::Counter, {"name", "mode"}},
      {"ceph_nvmeof_subsystem_metadata", MetricType::Gauge,
       {"nqn", "serial_number", "model_number", "allow_any_host", "ha_enabled", "group"}},
      {"ceph_nvmeof_subsystem_listener_count", MetricType::Gauge, {"nqn"}},
      {"ceph_nvmeof_subsystem_host_count", MetricType::Gauge, {"nqn"}},
      {"ceph_nvmeof_subsystem_namespace_count", MetricType::Gauge, {"nqn"}},
      {"ceph_nvmeof_subsystem_namespace_limit", MetricType::Gauge, {"nqn"}},
      {"ceph_nvmeof_subsystem_namespace_metadata", MetricType::Gauge, {"nqn", "nsid", "bdev_name", "anagrpid"}},
      {"ceph_nvmeof_host_connection_state", MetricType::Gauge, {"gw_name", "nqn", "host_nqn", "host_addr"}},
      {"ceph_nvmeof_host_keepalive_timeout", MetricType::Gauge, {"gw_name", "nqn", "host_nqn"}},
      {"ceph_nvmeof_rpc_method_seconds", MetricType::Gauge, {"method"}},
      {"ceph_nvmeof_bdev_read_latency_seconds", MetricType::Histogram, {"bdev_name"}},
      {"ceph_nvmeof_bdev_write_latency_seconds", MetricType::Histogram, {"bdev_name"}},
      {"ceph_nvmeof_subsystem_listener_controllers", MetricType::Gauge, {"nqn", "traddr", "trsvcid"}},
      {"ceph_nvmeof_tcp_requests", MetricType::Gauge, {"state"}},
      {"ceph_nvmeof_subsystem_ana_group_optimized", MetricType::Gauge, {"nqn", "anagrpid"}},
      {"ceph_nvmeof_command_errors_total", MetricType::Counter, {"sct"}},
  };
  for (auto& w : wants) {
    ASSERT_TRUE(m.count(w.name)) << w.name;
    EXPECT_EQ(m[w.name].type, w.type) << w.name;
    EXPECT_FALSE(m[w.name].help.empty()) << w.name;
    EXPECT_EQ(LabelNames(m[w.name]), w.labels) << w.name;
  }
  // Present even when empty (no interface matches 127.0.0.1 under a fake /sys is fine).
  for (const char* name : {"ceph_nvmeof_subsystem_listener_iface_info", "ceph_nvmeof_subsystem_listener_iface_speed_bytes",
                           "ceph_nvmeof_subsystem_listener_iface_nqn_info", "ceph_nvmeof_tcp_data_digest_errors_total",
                           "ceph_nvmeof_tcp_header_digest_errors_total", "ceph_nvmeof_tcp_connections_accepted_total",
                           "ceph_nvmeof_keepalive_timeouts_total", "ceph_nvmeof_ana_changes_total"})
    EXPECT_TRUE(m.count(name)) << name;
  EXPECT_EQ(m["ceph_nvmeof_gateway_info"].help, "Gateway information");
  EXPECT_EQ(m["ceph_nvmeof_host_connection_state"].help, "Host connection state 0=disconnected, 1=connected");
}

TEST_F(CollectorTest, Values) {
  auto m = Collect(Options());
  auto gi = Labels(m["ceph_nvmeof_gateway_info"].metric.at(0));
  EXPECT_EQ(gi["group"], "_null_");  // as the reference writes an empty group
  EXPECT_EQ(gi["version"], "9.9.9");
  EXPECT_EQ(gi["name"], "gw1");
  EXPECT_EQ(gi["load_balancing_group"], "1");

  auto* meta = Find(m["ceph_nvmeof_bdev_metadata"], {{"bdev_name", bdev1_}});
  ASSERT_TRUE(meta);
  auto ml = Labels(*meta);
  EXPECT_EQ(ml["pool_name"], "pool1");
  EXPECT_EQ(ml["rbd_name"], "img1");
  EXPECT_EQ(ml["namespace"], "ns1");
  EXPECT_EQ(ml["block_size"], "4096");
  EXPECT_EQ(Find(m["ceph_nvmeof_bdev_capacity_bytes"], {{"bdev_name", bdev1_}})->gauge.value, 8 << 20);
  EXPECT_EQ(Find(m["ceph_nvmeof_bdev_reads_completed_total"], {{"bdev_name", bdev1_}})->counter.value, 3);
  EXPECT_EQ(Find(m["ceph_nvmeof_bdev_written_bytes_total"], {{"bdev_name", bdev1_}})->counter.value, 8192);
  EXPECT_DOUBLE_EQ(Find(m["ceph_nvmeof_bdev_read_seconds_total"], {{"bdev_name", bdev1_}})->counter.value, 1.5);
  ASSERT_TRUE(Find(m["ceph_nvmeof_bdev_metadata"], {{"bdev_name", bdev2_}}));  // not RBD: still listed

  auto* rh = Find(m["ceph_nvmeof_bdev_read_latency_seconds"], {{"bdev_name", bdev1_}});
  ASSERT_TRUE(rh);
  EXPECT_EQ(rh->histogram.sample_count, 3u);
  EXPECT_DOUBLE_EQ(rh->histogram.sample_sum, 1.5);
  ASSERT_EQ(rh->histogram.bucket.size(), NsStats::kLatencyBuckets);
  EXPECT_EQ(rh->histogram.bucket[0].cumulative_count, 2u);
  EXPECT_DOUBLE_EQ(rh->histogram.bucket[0].upper_bound, 8.192e-6);
  EXPECT_EQ(rh->histogram.bucket[4].cumulative_count, 3u);  // 100 us <= 131.072 us
  EXPECT_EQ(rh->histogram.bucket[3].cumulative_count, 2u);
  auto* wh = Find(m["ceph_nvmeof_bdev_write_latency_seconds"], {{"bdev_name", bdev1_}});
  EXPECT_EQ(wh->histogram.bucket[NsStats::kLatencyBuckets - 2].cumulative_count, 0u);
  EXPECT_EQ(wh->histogram.bucket.back().cumulative_count, 2u);

  EXPECT_DOUBLE_EQ(
      Find(m["ceph_nvmeof_reactor_seconds_total"], {{"name", "nvmf_tgt_poll_group_000"}, {"mode", "busy"}})->counter.value,
      2.0);
  EXPECT_DOUBLE_EQ(
      Find(m["ceph_nvmeof_reactor_seconds_total"], {{"name", "nvmf_tgt_poll_group_000"}, {"mode", "idle"}})->counter.value,
      0.5);

  auto sl = Labels(*Find(m["ceph_nvmeof_subsystem_metadata"], {{"nqn", kNqn}}));
  EXPECT_EQ(sl["serial_number"], "SN7");
  EXPECT_EQ(sl["allow_any_host"], "no");
  EXPECT_EQ(sl["ha_enabled"], "yes");
  EXPECT_EQ(sl["group"], "_null_");
  EXPECT_EQ(Find(m["ceph_nvmeof_subsystem_host_count"], {{"nqn", kNqn}})->gauge.value, 2);
  EXPECT_EQ(Find(m["ceph_nvmeof_subsystem_listener_count"], {{"nqn", kNqn}})->gauge.value, 1);
  EXPECT_EQ(Find(m["ceph_nvmeof_subsystem_namespace_count"], {{"nqn", kNqn}})->gauge.value, 2);
  EXPECT_EQ(Find(m["ceph_nvmeof_subsystem_namespace_limit"], {{"nqn", kNqn}})->gauge.value, 32);
  auto nl = Labels(*Find(m["ceph_nvmeof_subsystem_namespace_metadata"], {{"nsid", "1"}}));
  EXPECT_EQ(nl["bdev_name"], bdev1_);
  EXPECT_EQ(nl["anagrpid"], "1");

  // No controller: every allowed host is disconnected.
  auto* ca = Find(m["ceph_nvmeof_host_connection_state"], {{"host_nqn", kHostA}});
  ASSERT_TRUE(ca);
  EXPECT_EQ(ca->gauge.value, 0);
  EXPECT_EQ(Labels(*ca)["host_addr"], "<n/a>");
  EXPECT_EQ(Labels(*ca)["gw_name"], "gw1");
  EXPECT_EQ(Find(m["ceph_nvmeof_host_keepalive_timeout"], {{"host_nqn", kHostA}})->gauge.value, 0);
  EXPECT_EQ(Find(m["ceph_nvmeof_host_keepalive_timeout"], {{"host_nqn", kHostB}})->gauge.value, 1);
  EXPECT_EQ(Find(m["ceph_nvmeof_subsystem_listener_controllers"], {{"traddr", "127.0.0.1"}, {"trsvcid", "4420"}})
                ->gauge.value,
            0);

  EXPECT_EQ(Find(m["ceph_nvmeof_subsystem_ana_group_optimized"], {{"nqn", kNqn}, {"anagrpid", "1"}})->gauge.value,
            target_->AnaState(kNqn, 1) == nvme::kAnaOptimized ? 1 : 0);
  ASSERT_TRUE(target_->SetAnaGroupState(1, nvme::kAnaInaccessible).ok());
  EXPECT_EQ(Find(Collect(Options())["ceph_nvmeof_subsystem_ana_group_optimized"], {{"anagrpid", "1"}})->gauge.value, 0);
  ASSERT_TRUE(target_->SetAnaGroupState(1, nvme::kAnaOptimized).ok());
  EXPECT_EQ(Find(Collect(Options())["ceph_nvmeof_subsystem_ana_group_optimized"], {{"anagrpid", "1"}})->gauge.value, 1);

  std::set<std::string> methods;
  for (auto& s : m["ceph_nvmeof_rpc_method_seconds"].metric) methods.insert(Labels(s)["method"]);
  EXPECT_TRUE(methods.count("_get_bdev_info"));
  EXPECT_TRUE(methods.count("_get_host_map"));
}

// With gateway-group HA: who owns each ANA group, whether this gateway does, the owner
// changes (failovers), the lease age of what it holds, the members by liveness.
TEST_F(CollectorTest, HaMetrics) {
  auto cluster = ha::NewMemoryCluster(NowNs);
  ha::FakeAna ana_a, ana_b;
  auto make = [&](const std::string& name, ha::FakeAna* ana) {
    ha::HaOptions o;
    o.name = name;
    o.timing.lease_ns = 1'000'000'000;
    o.timing.renew_ns = 250'000'000;
    o.timing.margin_ns = 250'000'000;
    return std::make_unique<ha::HaManager>(o, ha::NewMemoryGroupStore(cluster), ana);
  };
  auto a = make("a", &ana_a);
  auto b = make("b", &ana_b);
  ASSERT_TRUE(a->Start().ok());
  ASSERT_TRUE(b->Start().ok());
  auto owns = [](ha::HaManager& m, uint32_t g) {
    auto o = m.Owned();
    return o.size() == 1 && o[0] == g;
  };
  auto a_sees_b = [&] {
    for (auto& g : a->Groups())
      if (g.group == 2) return g.owner == "b";
    return false;
  };
  ASSERT_TRUE(ha::WaitFor([&] { return owns(*a, 1) && owns(*b, 2) && a->Members().size() == 2 && a_sees_b(); }));
  CollectorOptions o = Options();
  EXPECT_FALSE(Collect(o).count("ceph_nvmeof_ha_ana_group_owned"));  // HA off: none
  o.ha_manager = a.get();
  auto m = Collect(o);
  ASSERT_TRUE(m.count("ceph_nvmeof_ha_ana_group_owned"));
  EXPECT_EQ(m["ceph_nvmeof_ha_ana_group_owned"].type, MetricType::Gauge);
  EXPECT_EQ(Find(m["ceph_nvmeof_ha_ana_group_owned"], {{"anagrpid", "1"}})->gauge.value, 1);
  EXPECT_EQ(Find(m["ceph_nvmeof_ha_ana_group_owned"], {{"anagrpid", "2"}})->gauge.value, 0);
  EXPECT_EQ(Find(m["ceph_nvmeof_ha_ana_group_change"], {{"anagrpid", "1"}})->gauge.value, 0);  // settled
  EXPECT_TRUE(Find(m["ceph_nvmeof_ha_ana_group_owner"], {{"anagrpid", "1"}, {"owner", "a"}}));
  EXPECT_TRUE(Find(m["ceph_nvmeof_ha_ana_group_owner"], {{"anagrpid", "2"}, {"owner", "b"}}));
  EXPECT_EQ(m["ceph_nvmeof_ha_ana_group_failovers_total"].type, MetricType::Counter);
  const auto* age = Find(m["ceph_nvmeof_ha_lease_age_seconds"], {{"anagrpid", "1"}});
  ASSERT_TRUE(age);
  EXPECT_LT(age->gauge.value, 1.0);
  EXPECT_FALSE(Find(m["ceph_nvmeof_ha_lease_age_seconds"], {{"anagrpid", "2"}}));  // not held here
  EXPECT_EQ(Find(m["ceph_nvmeof_ha_members"], {{"state", "alive"}})->gauge.value, 2);
  // b dies: a takes group 2 over, one more owner change.
  const double before = Find(m["ceph_nvmeof_ha_ana_group_failovers_total"], {{"anagrpid", "2"}})->counter.value;
  b->Stop(false);
  ASSERT_TRUE(ha::WaitFor([&] { return a->Owned().size() == 2; }));
  m = Collect(o);
  EXPECT_EQ(Find(m["ceph_nvmeof_ha_ana_group_owned"], {{"anagrpid", "2"}})->gauge.value, 1);
  EXPECT_EQ(Find(m["ceph_nvmeof_ha_ana_group_failovers_total"], {{"anagrpid", "2"}})->counter.value, before + 1);
  a->Stop(true);
}

TEST_F(CollectorTest, PoolFilterKeepsOnlyThosePools) {
  CollectorOptions o = Options();
  o.bdev_pools = {"pool1"};
  auto m = Collect(o);
  EXPECT_EQ(m["ceph_nvmeof_bdev_metadata"].metric.size(), 1u);
  EXPECT_TRUE(Find(m["ceph_nvmeof_bdev_reads_completed_total"], {{"bdev_name", bdev1_}}));
  EXPECT_FALSE(Find(m["ceph_nvmeof_bdev_reads_completed_total"], {{"bdev_name", bdev2_}}));
  o.bdev_pools = {"other"};
  EXPECT_TRUE(Collect(o)["ceph_nvmeof_bdev_metadata"].metric.empty());
  // The subsystem's namespace listing is not filtered.
  EXPECT_EQ(Collect(o)["ceph_nvmeof_subsystem_namespace_metadata"].metric.size(), 2u);
}

TEST_F(CollectorTest, ScrapesWithinTheIntervalGetTheCachedResult) {
  CollectorOptions o = Options();
  o.interval = std::chrono::hours(1);
  GatewayCollector c(target_.get(), {&probe0_}, o);
  auto reads = [&c, this] {
    for (auto& f : c.Collect())
      if (f.name == "ceph_nvmeof_bdev_reads_completed_total")
        for (auto& s : f.metric)
          if (Labels(s)["bdev_name"] == bdev1_) return s.counter.value;
    return -1.0;
  };
  EXPECT_EQ(reads(), 3);
  ns1_->stats().read_latency[0] += 10;
  EXPECT_EQ(reads(), 3);
  CollectorOptions every = Options();
  GatewayCollector fresh(target_.get(), {&probe0_}, every);
  for (auto& f : fresh.Collect()) {
    if (f.name == "ceph_nvmeof_bdev_reads_completed_total") {
      EXPECT_EQ(f.metric.at(0).counter.value, 13);
    }
  }
}

TEST_F(CollectorTest, TextExpositionNamesEveryFamilyOnce) {
  GatewayCollector c(target_.get(), {&probe0_}, Options());
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, c.Collect());
  const std::string s = text.str();
  EXPECT_NE(s.find("# TYPE ceph_nvmeof_gateway_info gauge"), std::string::npos);
  EXPECT_NE(s.find("# TYPE ceph_nvmeof_bdev_reads_completed_total counter"), std::string::npos);
  EXPECT_NE(s.find("# TYPE ceph_nvmeof_bdev_read_latency_seconds histogram"), std::string::npos);
  EXPECT_NE(s.find("ceph_nvmeof_bdev_read_latency_seconds_bucket{bdev_name=\"" + bdev1_ + "\",le=\"+Inf\"} 3"),
            std::string::npos)
      << s;
}

TEST(NsStatsLatencyBucket, Bounds) {
  EXPECT_EQ(NsStats::LatencyBucket(0), 0u);
  EXPECT_EQ(NsStats::LatencyBucket(8192), 0u);
  EXPECT_EQ(NsStats::LatencyBucket(8193), 1u);
  EXPECT_EQ(NsStats::LatencyBucket(16384), 1u);
  EXPECT_EQ(NsStats::LatencyBucket(16385), 2u);
  EXPECT_EQ(NsStats::LatencyBucket(NsStats::LatencyBucketBoundNs(NsStats::kLatencyBuckets - 2)),
            NsStats::kLatencyBuckets - 2);
  EXPECT_EQ(NsStats::LatencyBucket(UINT64_MAX), NsStats::kLatencyBuckets - 1);
}

}  // namespace
}  // namespace nvmeof
