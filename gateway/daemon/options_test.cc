// Unit tests for the daemon's settings: command-line parsing and how the file and the
// flags combine (gateway/daemon/options.h).
#include "gateway/daemon/options.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "gateway/daemon/config.h"
#include "gateway/daemon/monitor_client.h"
#include "gateway/daemon/monitor_group.h"

namespace nvmeof {
namespace {

CommandLine Flags(std::vector<std::string> args) {
  auto r = ParseCommandLine(args);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : CommandLine{};
}

DaemonOptions File(const std::string& text) {
  std::vector<std::string> w;
  auto r = ParseGatewayConfig(text, "t.conf", &w);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.value();
}

std::string FlagError(std::vector<std::string> args) {
  auto r = ParseCommandLine(args);
  EXPECT_FALSE(r.ok());
  return r.status().message();
}

TEST(DaemonOptions, DefaultsWithoutFileOrFlags) {
  auto r = ResolveOptions(nullptr, Flags({}));
  ASSERT_TRUE(r.ok());
  const DaemonOptions& o = *r;
  EXPECT_TRUE(o.grpc_enabled);
  EXPECT_EQ(o.grpc_addr, "0.0.0.0");
  EXPECT_EQ(o.grpc_port, "5500");
  EXPECT_TRUE(o.discovery_enabled);
  EXPECT_EQ(o.discovery, (HostPort{"0.0.0.0", "8009"}));
  EXPECT_EQ(o.state_pool, "");  // no file: the state is kept in memory
  EXPECT_EQ(o.shutdown_timeout, 10u);
  EXPECT_EQ(o.target.max_queue_depth, TargetOptions{}.max_queue_depth);
  EXPECT_EQ(o.target.min_cntlid, 1);
  EXPECT_EQ(o.target.max_cntlid, 0xFFEF);
  EXPECT_GE(o.reactors, 1);
  EXPECT_FALSE(o.name.empty());
  EXPECT_FALSE(o.hostname.empty());
  EXPECT_EQ(o.target.gateway_name, o.name);
  EXPECT_FALSE(o.enable_prometheus_exporter);  // no file: off unless --prometheus-port
  EXPECT_FALSE(o.prometheus_exporter_ssl);     // and then over HTTP
}

TEST(DaemonOptions, PrometheusExporter) {
  DaemonOptions f = File("[gateway]\nprometheus_port = 9999\nprometheus_stats_interval = 0\n"
                         "prometheus_bdev_pools = a, b\nprometheus_exporter_ssl = false\n");
  EXPECT_TRUE(f.enable_prometheus_exporter);  // a file turns it on, as the reference does
  EXPECT_FALSE(f.prometheus_exporter_ssl);
  EXPECT_TRUE(File("[gateway]\n").prometheus_exporter_ssl);  // HTTPS unless the file says otherwise
  EXPECT_EQ(f.prometheus_port, 9999);
  EXPECT_EQ(f.prometheus_stats_interval, 0u);
  EXPECT_EQ(f.prometheus_bdev_pools, (std::vector<std::string>{"a", "b"}));
  auto flags = ParseCommandLine({"--prometheus-port", "0"});
  ASSERT_TRUE(flags.ok());
  auto o = ResolveOptions(nullptr, *flags);
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->enable_prometheus_exporter);
  EXPECT_EQ(o->prometheus_port, 0);
  flags = ParseCommandLine({"--prometheus-port=none"});
  ASSERT_TRUE(flags.ok());
  o = ResolveOptions(&f, *flags);
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->enable_prometheus_exporter);
  EXPECT_FALSE(ParseCommandLine({"--prometheus-port", "70000"}).ok());
}

TEST(DaemonOptions, FileOnly) {
  DaemonOptions f = File(
      "[gateway]\nname = gwf\ngroup = g1\naddr = 10.0.0.1\nport = 6000\noverride_hostname = hf\n"
      "[discovery]\naddr = [::1]\nport = 8010\n[ceph]\npool = mypool\n"
      "[data-plane]\nreactors = 3\nqueue_depth = 64\nlisten = 127.0.0.1:4420\nshutdown_timeout = 4\n");
  auto r = ResolveOptions(&f, Flags({}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->name, "gwf");
  EXPECT_EQ(r->hostname, "hf");
  EXPECT_EQ(r->group, "g1");
  EXPECT_EQ(r->grpc_addr, "10.0.0.1");
  EXPECT_EQ(r->grpc_port, "6000");
  EXPECT_EQ(r->discovery, (HostPort{"::1", "8010"}));
  EXPECT_EQ(r->state_pool, "mypool");
  EXPECT_EQ(r->reactors, 3);
  EXPECT_EQ(r->target.max_queue_depth, 64u);
  EXPECT_EQ(r->target.group, "g1");
  EXPECT_EQ(r->shutdown_timeout, 4u);
  ASSERT_EQ(r->listen.size(), 1u);
  EXPECT_EQ(r->listen[0], (HostPort{"127.0.0.1", "4420"}));
  // A file without [ceph] pool names the reference's default pool.
  DaemonOptions empty = File("");
  EXPECT_EQ(ResolveOptions(&empty, Flags({}))->state_pool, kConfigFileStatePool);
}

TEST(DaemonOptions, FlagsOnly) {
  auto r = ResolveOptions(
      nullptr, Flags({"--grpc", "none", "--discovery=127.0.0.1:9009", "--name", "gwn", "--reactors", "2",
                      "--cntlid-range", "10-20", "--queue-depth", "256", "--in-capsule-data-size", "0",
                      "--poll-window-us", "0", "--shutdown-timeout", "0", "--state-pool", "none", "--log-level",
                      "warning", "--listen", "[::1]:4420", "--no-verify-nqns", "--subsystem", "nqn.a",
                      "--namespace", "memory:1M", "--host", "h1", "--serial", "S1"}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->grpc_enabled);
  EXPECT_EQ(r->discovery, (HostPort{"127.0.0.1", "9009"}));
  EXPECT_EQ(r->name, "gwn");
  EXPECT_EQ(r->target.gateway_name, "gwn");
  EXPECT_EQ(r->reactors, 2);
  EXPECT_EQ(r->target.min_cntlid, 10);
  EXPECT_EQ(r->target.max_cntlid, 20);
  EXPECT_EQ(r->target.max_queue_depth, 256u);
  EXPECT_EQ(r->target.in_capsule_data_size, 0u);
  EXPECT_EQ(r->poll_window_us, 0u);
  EXPECT_EQ(r->shutdown_timeout, 0u);
  EXPECT_EQ(r->state_pool, "");
  EXPECT_EQ(r->log_level, LogLevel::kWarning);
  EXPECT_FALSE(r->verify_nqns);
  ASSERT_EQ(r->listen.size(), 1u);
  EXPECT_EQ(r->listen[0], (HostPort{"::1", "4420"}));
  ASSERT_EQ(r->subsystems.size(), 1u);
  EXPECT_EQ(r->subsystems[0].nqn, "nqn.a");
  EXPECT_EQ(r->subsystems[0].namespaces, std::vector<std::string>{"memory:1M"});
  EXPECT_EQ(r->subsystems[0].hosts, std::vector<std::string>{"h1"});
  EXPECT_EQ(r->subsystems[0].serial, "S1");
  auto d = ResolveOptions(nullptr, Flags({"--discovery", "none"}));
  EXPECT_FALSE(d->discovery_enabled);
  EXPECT_TRUE(d->enable_key_encryption);
  EXPECT_EQ(d->encryption_key, "");
  auto k = ResolveOptions(nullptr, Flags({"--encryption-key", "/encryption.key"}));
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->encryption_key, "/encryption.key");
}

TEST(DaemonOptions, FlagsOverrideFile) {
  DaemonOptions f = File(
      "[gateway]\nname = gwf\naddr = 10.0.0.1\nport = 6000\n[gateway-logs]\nlog_level = debug\n"
      "[ceph]\npool = p1\n[data-plane]\nreactors = 3\ncntlid_range = 100-200\nlisten = 127.0.0.1:4420\n"
      "shutdown_timeout = 4\n");
  auto r = ResolveOptions(&f, Flags({"--grpc", "127.0.0.1:0", "--name", "gwc", "--reactors", "1", "--cntlid-range",
                                     "5-6", "--state-pool", "none", "--log-level", "error", "--listen",
                                     "127.0.0.1:4421", "--shutdown-timeout", "7"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->grpc_addr, "127.0.0.1");
  EXPECT_EQ(r->grpc_port, "0");
  EXPECT_EQ(r->name, "gwc");
  EXPECT_EQ(r->reactors, 1);
  EXPECT_EQ(r->target.min_cntlid, 5);
  EXPECT_EQ(r->target.max_cntlid, 6);
  EXPECT_EQ(r->state_pool, "");
  EXPECT_EQ(r->log_level, LogLevel::kError);
  EXPECT_EQ(r->shutdown_timeout, 7u);
  // Listeners add up: the file's, then the command line's.
  ASSERT_EQ(r->listen.size(), 2u);
  EXPECT_EQ(r->listen[1].port, "4421");
}

TEST(DaemonOptions, SecureListenersAndHostPsks) {
  char path[] = "/tmp/nvmeof-psk-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string psk = "NVMeTLSkey-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
  ASSERT_EQ(write(fd, (psk + "\n").data(), psk.size() + 1), static_cast<ssize_t>(psk.size() + 1));
  close(fd);
  auto r = ResolveOptions(nullptr, Flags({"--grpc", "none", "--state-pool", "none", "--listen", "127.0.0.1:4420",
                                          "--secure", "--subsystem", "nqn.a", "--host-psk",
                                          std::string("nqn.h1=") + path}));
  unlink(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->listen_secure);
  ASSERT_EQ(r->subsystems[0].psk_hosts.size(), 1u);
  EXPECT_EQ(r->subsystems[0].psk_hosts[0].first, "nqn.h1");
  EXPECT_EQ(r->subsystems[0].psk_hosts[0].second, psk);
  EXPECT_NE(FlagError({"--subsystem", "nqn.a", "--host-psk", "nqn.h1"}).find("HOSTNQN=PSKFILE"), std::string::npos);
  EXPECT_NE(FlagError({"--subsystem", "nqn.a", "--host-psk", "nqn.h1=/nonexistent/psk"}).find("cannot read"),
            std::string::npos);
}

TEST(DaemonOptions, DhchapPolicyFromFileAndFlags) {
  DaemonOptions f = File("[data-plane]\ndhchap_digests = sha256, sha384\ndhchap_dhgroups = ffdhe3072\n"
                         "auth_timeout_ms = 2500\n"
                         "tls_ktls = true\n");
  EXPECT_EQ(f.target.dhchap_hashes, (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(f.target.dhchap_dhgroups, (std::vector<uint8_t>{2}));
  EXPECT_EQ(f.target.auth_timeout_ms, 2500u);
  EXPECT_TRUE(f.target.tls_ktls);
  auto r = ResolveOptions(&f, Flags({"--dhchap-digests", "sha512", "--dhchap-dhgroups=null,ffdhe8192"}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->target.dhchap_hashes, (std::vector<uint8_t>{3}));
  EXPECT_EQ(r->target.dhchap_dhgroups, (std::vector<uint8_t>{0, 5}));
  EXPECT_EQ(FlagError({"--dhchap-digests", "md5"}), "--dhchap-digests: unknown hash 'md5'");
  EXPECT_EQ(FlagError({"--dhchap-dhgroups", ""}), "--dhchap-dhgroups: no DH group given");
}

TEST(DaemonOptions, BadValuesAreRejectedWithTheirMessages) {
  EXPECT_EQ(FlagError({"--reactors", "0"}), "--reactors wants 1 to 256, not '0'");
  EXPECT_EQ(FlagError({"--queue-depth", "16"}), "--queue-depth wants 32 to 1024, not '16'");
  EXPECT_EQ(FlagError({"--shutdown-timeout", "x"}), "--shutdown-timeout wants 0 to 3600, not 'x'");
  EXPECT_EQ(FlagError({"--poll-window-us", "-1"}), "--poll-window-us wants 0 to 1000000, not '-1'");
  EXPECT_EQ(FlagError({"--bdevs-per-cluster", "0"}), "--bdevs-per-cluster wants 1 to 65536, not '0'");
  EXPECT_EQ(FlagError({"--in-capsule-data-size", "1048577"}),
            "--in-capsule-data-size wants 0 to 1048576, not '1048577'");
  EXPECT_EQ(FlagError({"--cntlid-range", "5"}), "--cntlid-range wants MIN-MAX");
  EXPECT_EQ(FlagError({"--cntlid-range", "10-5"}), "--cntlid-range must lie within 1-65519");
  EXPECT_EQ(FlagError({"--cntlid-range", "0-5"}), "--cntlid-range must lie within 1-65519");
  EXPECT_EQ(FlagError({"--cntlid-range", "1-70000"}), "--cntlid-range must lie within 1-65519");
  // Trailing junk is rejected, as in the file's [data-plane] cntlid_range.
  EXPECT_EQ(FlagError({"--cntlid-range", "1-5x"}), "--cntlid-range must lie within 1-65519");
  EXPECT_EQ(FlagError({"--listen", "127.0.0.1"}), "--listen wants ADDR:PORT");
  EXPECT_EQ(FlagError({"--log-level", "loud"}), "--log-level wants debug, info, warning or error");
  EXPECT_EQ(FlagError({"--namespace", "memory:1M"}), "--namespace must follow a --subsystem");
  EXPECT_EQ(FlagError({"--bogus"}), "unknown option '--bogus'");
  EXPECT_EQ(FlagError({"--grpc"}), "option --grpc needs a value");
  auto g = ResolveOptions(nullptr, Flags({"--grpc", "nowhere"}));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message(), "--grpc wants ADDR:PORT or none");
  auto d = ResolveOptions(nullptr, Flags({"--discovery", ":1"}));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "--discovery wants ADDR:PORT or none");
  // The log-level words of the file are accepted on the command line too.
  EXPECT_EQ(Flags({"--log-level", "WARN"}).log_level, LogLevel::kWarning);
  EXPECT_EQ(Flags({"--log-level", "20"}).log_level, LogLevel::kInfo);
  EXPECT_TRUE(Flags({"--help", "--bogus"}).help);
}

TEST(DaemonOptions, AutoListenerAddresses) {
  EXPECT_TRUE(ResolveOptions(nullptr, Flags({}))->auto_listener_addresses.empty());  // default: all
  DaemonOptions f = File("[gateway]\nauto_listener_addresses = 127.0.0.1, 192.0.2.2,::1\n");
  EXPECT_EQ(f.auto_listener_addresses, (std::vector<std::string>{"127.0.0.1", "192.0.2.2", "::1"}));
  auto r = ResolveOptions(&f, Flags({"--auto-listener-addresses", "10.0.0.1"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->auto_listener_addresses, (std::vector<std::string>{"10.0.0.1"}));
  EXPECT_EQ(FlagError({"--auto-listener-addresses", "10.0.0.1,host.example"}),
            "--auto-listener-addresses: \"host.example\" is not a numeric IPv4 or IPv6 address");
  std::vector<std::string> w;
  EXPECT_FALSE(ParseGatewayConfig("[gateway]\nauto_listener_addresses = 10.0.0/8\n", "t.conf", &w).ok());
}

TEST(DaemonOptions, HaIsOffByDefault) {
  auto none = ResolveOptions(nullptr, Flags({}));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->ha_builtin);
  DaemonOptions file = File("[gateway]\nname = a\n");
  auto r = ResolveOptions(&file, Flags({}));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ha_builtin);
  EXPECT_EQ(r->ha_lease_ms, 2000u);
  EXPECT_EQ(r->ha_failback_delay_ms, 0u);
  EXPECT_EQ(r->rebalance_period_sec, 7u);
  EXPECT_EQ(r->max_ns_to_change_lb_grp, 8u);
}

TEST(DaemonOptions, HaBuiltinFromTheFile) {
  DaemonOptions file = File("[gateway]\nname = a\nha = builtin\nha_lease_ms = 3000\nha_failback_delay_ms = 500\n"
                            "rebalance_period_sec = 2\nmax_ns_to_change_lb_grp = 3\n[ceph]\npool = nvmeof\n");
  auto r = ResolveOptions(&file, Flags({}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->ha_builtin);
  EXPECT_EQ(r->ha_lease_ms, 3000u);
  EXPECT_EQ(r->ha_failback_delay_ms, 500u);
  EXPECT_EQ(r->rebalance_period_sec, 2u);
  EXPECT_EQ(r->max_ns_to_change_lb_grp, 3u);
  EXPECT_EQ(r->state_pool, "nvmeof");
  DaemonOptions off = File("[gateway]\nha = none\n");
  EXPECT_FALSE(off.ha_builtin);
}

TEST(DaemonOptions, HaBadValuesAreRejected) {
  std::vector<std::string> w;
  auto mode = ParseGatewayConfig("[gateway]\nha = leases\n", "t.conf", &w);
  ASSERT_FALSE(mode.ok());
  EXPECT_NE(mode.status().message().find("not builtin, monitor or none"), std::string::npos) << mode.status().message();
  auto lease = ParseGatewayConfig("[gateway]\nha_lease_ms = 100\n", "t.conf", &w);
  ASSERT_FALSE(lease.ok());
  EXPECT_NE(lease.status().message().find("ha_lease_ms"), std::string::npos) << lease.status().message();
  // HA keeps its leases in the state pool: without one it cannot run.
  DaemonOptions file = File("[gateway]\nha = builtin\n");  // a file implies [ceph] pool = rbd
  EXPECT_TRUE(ResolveOptions(&file, Flags({})).ok());
  auto nopool = ResolveOptions(&file, Flags({"--state-pool", "none"}));
  ASSERT_FALSE(nopool.ok());
  EXPECT_EQ(nopool.status().message(),
            "[gateway] ha = builtin needs a state pool ([ceph] pool, not --state-pool none)");
}

TEST(DaemonOptions, HaMonitorFromTheFile) {
  DaemonOptions file = File("[gateway]\nname = a\nport = 5500\nha = monitor\nenable_monitor_client = True\n"
                            "monitor_stop_grace = 0.001\n[monitor]\ntimeout = 1.0\n");
  auto r = ResolveOptions(&file, Flags({}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->ha_monitor);
  EXPECT_FALSE(r->ha_builtin);
  EXPECT_EQ(r->enable_monitor_client, std::optional<bool>(true));
  EXPECT_EQ(MonitorAddress(*r), "0.0.0.0:5499");
  r->grpc_addr = "::1";
  EXPECT_EQ(MonitorAddress(*r), "[::1]:5499");
  EXPECT_FALSE(DaemonOptions{}.ha_monitor);
  EXPECT_FALSE(DaemonOptions{}.enable_monitor_client.has_value());
  // The monitor client's port is the API's minus one: the API needs a fixed port.
  auto any = ResolveOptions(&file, Flags({"--grpc", "127.0.0.1:0"}));
  ASSERT_FALSE(any.ok());
  EXPECT_NE(any.status().message().find("port - 1"), std::string::npos) << any.status().message();
  EXPECT_FALSE(ResolveOptions(&file, Flags({"--grpc", "none"})).ok());
}

TEST(DaemonOptions, HaBuiltinAndTheMonitorClientAreExclusive) {
  DaemonOptions both = File("[gateway]\nha = builtin\nenable_monitor_client = True\n");
  auto r = ResolveOptions(&both, Flags({}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("two sources of ANA decisions"), std::string::npos) << r.status().message();
  DaemonOptions builtin = File("[gateway]\nha = builtin\nenable_monitor_client = False\n");
  EXPECT_TRUE(ResolveOptions(&builtin, Flags({})).ok());
  // Without ha = monitor the key is accepted (the daemon logs it as not honoured).
  DaemonOptions none = File("[gateway]\nenable_monitor_client = True\n");
  EXPECT_TRUE(ResolveOptions(&none, Flags({})).ok());
}

TEST(DaemonOptions, MonitorClientArgumentsAreTheReferences) {
  DaemonOptions file = File("[gateway]\nname = client.nvmeof.rbd.h1.x\ngroup = g1\naddr = 192.168.1.10\nport = 5500\n"
                            "ha = monitor\nenable_auth = True\n[ceph]\npool = rbd\nid = nvmeof.rbd.h1.x\n"
                            "[mtls]\nserver_cert = /s.crt\nclient_key = /c.key\nclient_cert = /c.crt\n");
  auto r = ResolveOptions(&file, Flags({}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(MonitorClientArgs(*r),
            (std::vector<std::string>{"/usr/bin/ceph-nvmeof-monitor-client", "--gateway-name", "client.nvmeof.rbd.h1.x",
                                      "--gateway-address", "192.168.1.10:5500", "--gateway-pool", "rbd",
                                      "--gateway-group", "g1", "--monitor-group-address", "192.168.1.10:5499", "-c",
                                      "/etc/ceph/ceph.conf", "-n", "client.nvmeof.rbd.h1.x", "-k", "/etc/ceph/keyring",
                                      "--server-cert", "/s.crt", "--client-key", "/c.key", "--client-cert", "/c.crt"}));
}

TEST(DaemonOptions, MonitorControllerIdRangesAreTheReferences) {
  uint16_t lo = 0, hi = 0;
  ASSERT_TRUE(MonitorCntlidRange(0, &lo, &hi));
  EXPECT_EQ(lo, 1);
  EXPECT_EQ(hi, 2040);
  ASSERT_TRUE(MonitorCntlidRange(1, &lo, &hi));
  EXPECT_EQ(lo, 2041);
  EXPECT_EQ(hi, 4080);
  ASSERT_TRUE(MonitorCntlidRange(31, &lo, &hi));
  EXPECT_EQ(lo, 63241);
  EXPECT_EQ(hi, 65280);
  EXPECT_FALSE(MonitorCntlidRange(32, &lo, &hi));
  EXPECT_FALSE(MonitorCntlidRange(0xFFFFFFFF, &lo, &hi));
}

}  // namespace
}  // namespace nvmeof
