// QoS under load (ctest label mgmt): a real nvmeof-gateway (memory namespace), limits set
// through the real gwcli (`namespace set_qos`), load from the real nvmf-perf (--json).
//
// Each limit must hold (measured rate at most 1.1 x limit) for a few seconds of load well
// above it, and removing it (0) must lift it (measured above 1.1 x limit). A busy machine
// only lowers rates, so these never fail for want of CPU; the figures are printed (ctest -V)
// and tests/bench measures how close to the limit the rate stays. A rate under half the
// limit fails too: a limiter that throttles far too hard is a bug, not load. The limits are
// small (2000 IOPS, 20 MiB/s); the gateway unlimited does hundreds of thousands of IOPS here.
//
// The direction-specific limits are checked with a 50/50 read/write mix: the limited
// direction runs at its limit. The other direction is not checked against a rate in the mix
// (commands over a limit wait on their queue in order, as in SPDK's bdev QoS, so the other
// direction is held back by the queue); a load of only the other direction must run at
// full speed.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "tests/mgmt/mgmt_harness.h"

namespace nvmeof::mgmt_test {
namespace {

using json = nlohmann::json;

const char kNqn[] = "nqn.2016-06.io.spdk:qos-load";
constexpr double kTolerance = 0.10;
constexpr double kSeconds = 3.0;      // load per measured run
constexpr double kFullSeconds = 1.5;  // load per "full speed" run

std::string PerfBin() {
  const char* v = getenv("NVMEOF_PERF_BIN");
  return v && *v ? v : NVMEOF_MGMT_PERF_BIN;
}

struct Rate {
  double iops = 0, mibps = 0;
};
struct PerfResult {
  bool ok = false;
  std::string what;  // command and output, for failure messages
  Rate total, read, write;
};

class QosLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(gw.Start({"--name", "gwA", "--hostname", "hostA", "--discovery", "none", "--reactors", "1"}, &err))
        << err;
    Must({"subsystem", "add", "-n", kNqn, "--no-group-append"});
    Must({"host", "add", "-n", kNqn, "-t", "*"});
    // A free port can be taken by someone else between FreePort() and the bind: retry.
    for (int i = 0; i < 5; i++) {
      port = FreePort();
      CliResult r = Gwcli(gw.grpc_port(), {"listener", "add", "-n", kNqn, "-t", "gwA", "-a", "127.0.0.1", "-s",
                                           std::to_string(port)});
      if (r.rc == 0) break;
      port = 0;
    }
    ASSERT_NE(port, 0) << "could not open an I/O listener";
    // Sparse RAM: only what is written takes memory.
    Must({"namespace", "add", "-n", kNqn, "--memory-size", "1G", "-s", "4096"});
  }
  void TearDown() override {
    if (HasFailure()) fprintf(stderr, "---- gateway log (tail) ----\n%s\n", Tail(gw.Log(), 6000).c_str());
    gw.Stop();
  }
  static std::string Tail(const std::string& s, size_t n) { return s.size() > n ? s.substr(s.size() - n) : s; }
  void Must(const std::vector<std::string>& a) {
    CliResult r = Gwcli(gw.grpc_port(), a);
    ASSERT_EQ(r.rc, 0) << r.all();
  }
  // gwcli namespace set_qos --nsid 1 FLAG VALUE (one limit; the others keep their values).
  void SetQos(const std::string& flag, uint64_t value) {
    Must({"namespace", "set_qos", "-n", kNqn, "--nsid", "1", flag, std::to_string(value)});
  }
  json NsJson() {
    CliResult r = GwcliJson(gw.grpc_port(), {"namespace", "list", "-n", kNqn, "--nsid", "1"});
    EXPECT_EQ(r.rc, 0) << r.all();
    try {
      return json::parse(r.out)["namespaces"][0];
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << r.all();
      return json();
    }
  }
  PerfResult Perf(const std::string& rw, const std::string& bs, double seconds, int mix = 50, int queues = 1) {
    std::vector<std::string> argv{PerfBin(), "--addr", "127.0.0.1", "--port", std::to_string(port), "--nqn", kNqn,
                                  "--nsid", "1", "--queues", std::to_string(queues), "--qd", "32", "--bs", bs, "--rw", rw, "--time",
                                  std::to_string(seconds), "--size", "256m", "--json"};
    if (rw == "randrw" || rw == "rw") {
      argv.push_back("--mix");
      argv.push_back(std::to_string(mix));
    }
    CliResult r = ::nvmeof::mgmt_test::Run(argv, static_cast<int>(seconds * 1000) + 30000);
    PerfResult p;
    for (auto& a : argv) p.what += a + " ";
    p.what += "\n-> exit " + std::to_string(r.rc) + "\n" + r.all();
    if (r.rc != 0) return p;
    try {
      json j = json::parse(r.out);
      auto rate = [](const json& x) { return Rate{x["iops"].get<double>(), x["mibps"].get<double>()}; };
      p.total = rate(j["total"]);
      p.read = rate(j["read"]);
      p.write = rate(j["write"]);
      p.ok = j["errors"].get<uint64_t>() == 0 && !j["fatal"].get<bool>();
    } catch (const std::exception& e) {
      p.what += std::string("\n(not JSON: ") + e.what() + ")";
    }
    return p;
  }
  // Prints the figure (ctest -V shows it) and checks it against the limit.
  static void ExpectWithin(const char* what, double measured, double limit) {
    fprintf(stderr, "[qos] %-48s measured %10.1f  limit %8.1f  (%+.1f%%)\n", what, measured, limit,
            100.0 * (measured - limit) / limit);
    EXPECT_GE(measured, limit * 0.5) << what << ": under half the limit: throttled far too hard";
    EXPECT_LE(measured, limit * (1 + kTolerance)) << what << ": above the limit by more than 10%";
  }
  static void ExpectFull(const char* what, double measured, double limit) {
    fprintf(stderr, "[qos] %-48s measured %10.1f  (limit %.1f not in force)\n", what, measured, limit);
    EXPECT_GT(measured, limit * (1 + kTolerance)) << what << ": still held at the (removed or other-direction) limit";
  }

  Gateway gw;
  uint16_t port = 0;
};

TEST_F(QosLoad, IopsLimitHoldsAndRemovingItRestoresFullSpeed) {
  constexpr double kLimit = 2000;
  PerfResult base = Perf("randread", "4k", kFullSeconds);
  ASSERT_TRUE(base.ok) << base.what;
  ExpectFull("4k randread qd32, no limit (IOPS)", base.total.iops, kLimit);

  SetQos("--rw-ios-per-second", 2000);
  EXPECT_EQ(NsJson()["rw_ios_per_second"], "2000");
  PerfResult rd = Perf("randread", "4k", kSeconds);
  ASSERT_TRUE(rd.ok) << rd.what;
  ExpectWithin("4k randread qd32, rw_ios 2000 (IOPS)", rd.total.iops, kLimit);
  // The IOPS limit counts reads and writes together.
  PerfResult mix = Perf("randrw", "4k", kSeconds, 50);
  ASSERT_TRUE(mix.ok) << mix.what;
  ExpectWithin("4k randrw 50% qd32, rw_ios 2000 (IOPS)", mix.total.iops, kLimit);
  // One limit for the namespace, whatever the number of connections.
  PerfResult four = Perf("randread", "4k", kSeconds, 50, 4);
  ASSERT_TRUE(four.ok) << four.what;
  ExpectWithin("4k randread 4 queues x qd32, rw_ios 2000 (IOPS)", four.total.iops, kLimit);

  SetQos("--rw-ios-per-second", 0);
  EXPECT_EQ(NsJson()["rw_ios_per_second"], "0");
  PerfResult after = Perf("randread", "4k", kFullSeconds);
  ASSERT_TRUE(after.ok) << after.what;
  ExpectFull("4k randread qd32, limit removed (IOPS)", after.total.iops, kLimit);
}

TEST_F(QosLoad, ReadWriteBandwidthLimitHoldsForReadsAndWrites) {
  constexpr double kLimit = 20;
  SetQos("--rw-megabytes-per-second", 20);
  EXPECT_EQ(NsJson()["rw_mbytes_per_second"], "20");
  PerfResult rd = Perf("read", "128k", kSeconds);
  ASSERT_TRUE(rd.ok) << rd.what;
  ExpectWithin("128k read qd32, rw_mbytes 20 (MiB/s)", rd.total.mibps, kLimit);
  PerfResult wr = Perf("write", "128k", kSeconds);
  ASSERT_TRUE(wr.ok) << wr.what;
  ExpectWithin("128k write qd32, rw_mbytes 20 (MiB/s)", wr.total.mibps, kLimit);
  PerfResult mix = Perf("randrw", "128k", kSeconds, 50);
  ASSERT_TRUE(mix.ok) << mix.what;
  ExpectWithin("128k randrw 50% qd32, rw_mbytes 20 (MiB/s)", mix.total.mibps, kLimit);

  SetQos("--rw-megabytes-per-second", 0);
  PerfResult after = Perf("read", "128k", kFullSeconds);
  ASSERT_TRUE(after.ok) << after.what;
  ExpectFull("128k read qd32, limit removed (MiB/s)", after.total.mibps, kLimit);
}

TEST_F(QosLoad, ReadBandwidthLimitHoldsForReadsOnly) {
  constexpr double kLimit = 20;
  SetQos("--r-megabytes-per-second", 20);
  EXPECT_EQ(NsJson()["r_mbytes_per_second"], "20");
  PerfResult mix = Perf("randrw", "128k", kSeconds, 50);
  ASSERT_TRUE(mix.ok) << mix.what;
  ExpectWithin("128k randrw 50% qd32, r_mbytes 20: reads (MiB/s)", mix.read.mibps, kLimit);
  fprintf(stderr, "[qos]   (writes in that mix: %.1f MiB/s)\n", mix.write.mibps);
  PerfResult rd = Perf("read", "128k", kSeconds);
  ASSERT_TRUE(rd.ok) << rd.what;
  ExpectWithin("128k read qd32, r_mbytes 20 (MiB/s)", rd.total.mibps, kLimit);
  PerfResult wr = Perf("write", "128k", kFullSeconds);
  ASSERT_TRUE(wr.ok) << wr.what;
  ExpectFull("128k write qd32, r_mbytes 20: writes (MiB/s)", wr.total.mibps, kLimit);

  SetQos("--r-megabytes-per-second", 0);
  PerfResult after = Perf("read", "128k", kFullSeconds);
  ASSERT_TRUE(after.ok) << after.what;
  ExpectFull("128k read qd32, limit removed (MiB/s)", after.total.mibps, kLimit);
}

TEST_F(QosLoad, WriteBandwidthLimitHoldsForWritesOnly) {
  constexpr double kLimit = 20;
  SetQos("--w-megabytes-per-second", 20);
  EXPECT_EQ(NsJson()["w_mbytes_per_second"], "20");
  PerfResult mix = Perf("randrw", "128k", kSeconds, 50);
  ASSERT_TRUE(mix.ok) << mix.what;
  ExpectWithin("128k randrw 50% qd32, w_mbytes 20: writes (MiB/s)", mix.write.mibps, kLimit);
  fprintf(stderr, "[qos]   (reads in that mix: %.1f MiB/s)\n", mix.read.mibps);
  PerfResult wr = Perf("write", "128k", kSeconds);
  ASSERT_TRUE(wr.ok) << wr.what;
  ExpectWithin("128k write qd32, w_mbytes 20 (MiB/s)", wr.total.mibps, kLimit);
  PerfResult rd = Perf("read", "128k", kFullSeconds);
  ASSERT_TRUE(rd.ok) << rd.what;
  ExpectFull("128k read qd32, w_mbytes 20: reads (MiB/s)", rd.total.mibps, kLimit);

  SetQos("--w-megabytes-per-second", 0);
  PerfResult after = Perf("write", "128k", kFullSeconds);
  ASSERT_TRUE(after.ok) << after.what;
  ExpectFull("128k write qd32, limit removed (MiB/s)", after.total.mibps, kLimit);
}

}  // namespace
}  // namespace nvmeof::mgmt_test
