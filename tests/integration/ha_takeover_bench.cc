// ha_takeover_bench: the host-visible takeover time of gateway-group HA with real daemons
// (tests/bench/bench-takeover.sh runs it). Two gateways with `[gateway] ha = builtin`
// (default timings), S subsystems x N RBD namespaces in ANA group 1 (gw1's home group),
// created through gw1's gRPC API. Each event: SIGKILL gw1 (the owner) and, through a host
// connected to gw2, write 4 KiB to LBA 0 of the first namespace every --poll-ms until one
// completes: takeover time = SIGKILL to that completion. Then gw1 is restarted and takes its
// group back (failback) before the next event.
//
// usage: ha_takeover_bench --ceph-dir DIR [--subsystems S] [--namespaces N] [--events E]
//                          [--poll-ms P] [--image-mb M] [--trace]
// Prints one line per event and "takeover_ms median MED max MAX events E" at the end. Each
// event's line splits the time: until the first write that did not fail with ANA
// Inaccessible (the group turned OPTIMIZED on gw2), then until a write completed (the RBD
// exclusive lock taken from the fenced owner), and the latency of that write. --trace: gw2 logs at debug level and each
// event prints gw2's log lines from the kill on (wall-clock times, as in the logs).
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <random>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/integration/ha_daemons.h"

using namespace nvmeof;
using namespace nvmeof::ha_daemons;

namespace {

int Usage() {
  fprintf(stderr,
          "usage: ha_takeover_bench --ceph-dir DIR [--subsystems S] [--namespaces N] [--events E] [--poll-ms P] "
          "[--image-mb M] [--trace]\n");
  return 2;
}

std::string Nqn(int s) { return "nqn.2016-06.io.spdk:takeover" + std::to_string(s); }

bool Die(const std::string& what, Daemon* a = nullptr, Daemon* b = nullptr) {
  fprintf(stderr, "ha_takeover_bench: %s\n", what.c_str());
  for (Daemon* d : {a, b})
    if (d) fprintf(stderr, "---- %s ----\n%s\n", d->name().c_str(), d->LogTail(8000).c_str());
  return false;
}

bool WriteOk(host::Controller& c, const std::vector<uint8_t>& buf) {
  return c.Write(c.io(), 1, 0, 1, buf.data(), static_cast<uint32_t>(buf.size())).ok();
}

// The write failed because the namespace's ANA group is not accessible on this path.
bool AnaError(const host::Completion& cp) {
  return cp.transport_ok && cp.status.sct == nvme::kSctPath && cp.status.sc == nvme::kScAnaInaccessible;
}

// Wall clock "HH:MM:SS.mmm" (the gateways' logs use it).
std::string WallTime() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  gmtime_r(&tv.tv_sec, &t);
  char b[32];
  snprintf(b, sizeof(b), "%02d:%02d:%02d.%03d", t.tm_hour, t.tm_min, t.tm_sec, static_cast<int>(tv.tv_usec / 1000));
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  int subsystems = 1, namespaces = 1, events = 5, poll_ms = 5, image_mb = 4;
  bool trace = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--ceph-dir" && (v = next())) dir = v;
    else if (a == "--subsystems" && (v = next())) subsystems = atoi(v);
    else if (a == "--namespaces" && (v = next())) namespaces = atoi(v);
    else if (a == "--events" && (v = next())) events = atoi(v);
    else if (a == "--poll-ms" && (v = next())) poll_ms = atoi(v);
    else if (a == "--image-mb" && (v = next())) image_mb = atoi(v);
    else if (a == "--trace") trace = true;
    else return Usage();
  }
  if (dir.empty() || subsystems < 1 || namespaces < 1 || events < 1 || poll_ms < 1 || image_mb < 1) return Usage();
  setvbuf(stdout, nullptr, _IOLBF, 0);

  const std::string group = "tk" + std::to_string(getpid());
  std::vector<std::unique_ptr<Daemon>> gw;
  for (const char* n : {"gw1", "gw2"}) {
    DaemonConfig c;
    c.name = n;
    c.group = group;
    c.ceph_dir = dir;
    if (trace) c.log_level = "debug";
    gw.push_back(std::make_unique<Daemon>(c));
  }
  Daemon& g1 = *gw[0];
  Daemon& g2 = *gw[1];
  std::string err;
  if (!g1.Start(&err) || !g2.Start(&err)) return Die(err, &g1, &g2), 1;

  // The configuration, through gw1's API.
  const int total = subsystems * namespaces;
  const double t_setup = NowMs();
  int done = 0;
  for (int s = 0; s < subsystems; ++s) {
    std::vector<std::string> images;
    for (int n = 0; n < namespaces; ++n) images.push_back(group + "-s" + std::to_string(s) + "-n" + std::to_string(n));
    if (std::string e = CreateRbdSubsystem(g1, {&g1, &g2}, Nqn(s), images, uint64_t(image_mb) << 20, 1); !e.empty())
      return Die(e, &g1, &g2), 1;
    done += namespaces;
    if (total >= 50 && (s + 1) % std::max(1, subsystems / 10) == 0)
      fprintf(stderr, "  created %d/%d namespaces (%.0f s)\n", done, total, (NowMs() - t_setup) / 1000);
  }
  if (!WaitUntil([&] { return g2.api().NamespaceCount() == size_t(total); }, 600000, 500))
    return Die("gw2 does not serve all namespaces", &g1, &g2), 1;
  fprintf(stderr, "  %d namespaces on both gateways after %.0f s\n", total, (NowMs() - t_setup) / 1000);

  const std::vector<uint8_t> buf(4096, 0x5A);
  std::vector<double> times;
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> jitter(0, 499);  // ms: one renew interval (lease / 4)
  for (int e = 0; e < events; ++e) {
    // gw1 owns the group and serves; wait until every RADOS client it has is registered.
    std::unique_ptr<host::Controller> h1, h2;
    if (!WaitUntil([&] { return (h1 = Connect(g1.io_port(), Nqn(0), &err)) != nullptr; }, 120000, 200))
      return Die("connect gw1: " + err, &g1, &g2), 1;
    if (!WaitUntil([&] { return AnaGroupState(*h1, 1) == nvme::kAnaOptimized && WriteOk(*h1, buf); }, 120000, 50))
      return Die("gw1 does not serve ANA group 1", &g1, &g2), 1;
    if (!WaitUntil([&] { return (h2 = Connect(g2.io_port(), Nqn(0), &err)) != nullptr; }, 60000, 200))
      return Die("connect gw2: " + err, &g1, &g2), 1;
    if (!WaitUntil([&] { return AnaGroupState(*h2, 1) == nvme::kAnaInaccessible; }, 60000, 50))
      return Die("gw2 does not report ANA group 1 inaccessible", &g1, &g2), 1;
    // Three HA rounds (librbd connections opened at start are registered), then a random
    // part of a round: the kill falls anywhere between two renewals and two lease reads of
    // gw2, not always at the same phase (which would bias the median by up to a round).
    usleep(static_cast<useconds_t>(1500 + jitter(rng)) * 1000);

    const size_t log_from = g2.Log().size();
    const std::string wall0 = WallTime();
    const double t0 = NowMs();
    g1.Kill();
    int polls = 0;
    double t1 = 0, t_sent = 0, t_opt = 0;  // t_opt: the first write not refused by ANA
    while (NowMs() - t0 < 120000) {
      ++polls;
      t_sent = NowMs();
      host::Completion cp = h2->Write(h2->io(), 1, 0, 1, buf.data(), static_cast<uint32_t>(buf.size()));
      if (t_opt == 0 && !AnaError(cp)) t_opt = t_sent;
      if (cp.ok()) {
        t1 = NowMs();
        break;
      }
      usleep(static_cast<useconds_t>(poll_ms) * 1000);
    }
    if (t1 == 0) return Die("no write completed through gw2 within 120 s", &g1, &g2), 1;
    times.push_back(t1 - t0);
    printf("event %d: takeover %.0f ms (%d polls): OPTIMIZED seen after %.0f ms, then %.0f ms to the completed write (its "
           "latency %.0f ms)\n",
           e + 1, t1 - t0, polls, t_opt - t0, t1 - t_opt, t1 - t_sent);
    if (trace) {
      printf("  %s SIGKILL gw1; gw2's log from then on:\n", wall0.c_str());
      std::string l = g2.Log().substr(log_from);
      for (size_t at = 0; at < l.size();) {
        size_t nl = l.find('\n', at);
        if (nl == std::string::npos) nl = l.size();
        printf("  | %s\n", l.substr(at, nl - at).c_str());
        at = nl + 1;
      }
    }

    h1.reset();
    h2.reset();
    if (!g1.Start(&err)) return Die("restart gw1: " + err, &g1, &g2), 1;
  }
  std::sort(times.begin(), times.end());
  const double med = times.size() % 2 ? times[times.size() / 2]
                                      : (times[times.size() / 2 - 1] + times[times.size() / 2]) / 2;
  printf("takeover_ms median %.0f max %.0f events %zu subsystems %d namespaces %d\n", med, times.back(), times.size(),
         subsystems, total);
  g1.Stop();
  g2.Stop();
  return 0;
}
