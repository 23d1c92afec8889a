// scale_client: creates many subsystems / namespaces through the gateway's gRPC API with
// several concurrent calls, for tests/bench/bench-scale.sh. Built by that script against the
// generated stubs (api/gateway.grpc.pb.h, library nvmeof_api_proto).
//
//   scale_client --server ADDR:PORT subsystems --prefix NQNPREFIX --count S [--max-ns N] [--first K]
//   scale_client --server ADDR:PORT namespaces (--prefix NQNPREFIX --subsystems S [--first K]
//                | --nqn NQN) --count N [--backend memory|rbd] [--memory-size BYTES]
//                [--pool P --image-prefix I] [--concurrency C] [--batch B]
//
// Subsystem k is PREFIX<k> (k = K..K+S-1, K = 1 by default). Namespace i (0-based) goes to
// subsystem K + i % S (or to NQN), with an automatic NSID, as ceph-csi adds them; RBD image
// i is <image-prefix><i>.
// Prints one line per batch of B completed calls (rate of that batch, mean and max latency:
// a rate that falls as the count grows shows per-call work that grows with the state) and a
// final "RESULT ok=.. errors=.. seconds=.. rate=.." line. Exit 0 when every call succeeded.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/gateway.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

[[noreturn]] void Usage() {
  fprintf(stderr,
          "usage: scale_client --server ADDR:PORT subsystems --prefix P --count S [--max-ns N] [--first K]\n"
          "       scale_client --server ADDR:PORT namespaces (--prefix P --subsystems S [--first K] | --nqn NQN) --count N\n"
          "                    [--backend memory|rbd] [--memory-size BYTES] [--pool P --image-prefix I]\n"
          "                    [--concurrency C] [--batch B]\n");
  exit(2);
}

struct Args {
  std::string server, mode, prefix, nqn, backend = "memory", pool = "rbd", image_prefix = "scale-";
  int count = 0, subsystems = 1, first = 1, concurrency = 8, batch = 1000;
  uint32_t max_ns = 1024;
  uint64_t memory_size = 64ull << 20;
};

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i++) {
    std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (k == "--server") a.server = val();
    else if (k == "--prefix") a.prefix = val();
    else if (k == "--count") a.count = std::stoi(val());
    else if (k == "--subsystems") a.subsystems = std::max(1, std::stoi(val()));
    else if (k == "--first") a.first = std::stoi(val());
    else if (k == "--nqn") a.nqn = val();
    else if (k == "--max-ns") a.max_ns = static_cast<uint32_t>(std::stoul(val()));
    else if (k == "--backend") a.backend = val();
    else if (k == "--memory-size") a.memory_size = std::stoull(val());
    else if (k == "--pool") a.pool = val();
    else if (k == "--image-prefix") a.image_prefix = val();
    else if (k == "--concurrency") a.concurrency = std::max(1, std::stoi(val()));
    else if (k == "--batch") a.batch = std::max(1, std::stoi(val()));
    else if (k == "subsystems" || k == "namespaces") a.mode = k;
    else Usage();
  }
  if (a.server.empty() || a.mode.empty() || (a.prefix.empty() && a.nqn.empty()) || a.count <= 0) Usage();

  auto channel = grpc::CreateChannel(a.server, grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    fprintf(stderr, "scale_client: cannot connect to %s\n", a.server.c_str());
    return 1;
  }
  auto stub = Gateway::NewStub(channel);

  // One call: returns "" on success, else the error.
  auto call = [&](int i) -> std::string {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    int32_t status = 0;
    std::string msg;
    grpc::Status gs;
    if (a.mode == "subsystems") {
      create_subsystem_req req;
      req.set_subsystem_nqn(a.prefix + std::to_string(a.first + i));
      req.set_max_namespaces(a.max_ns);
      req.set_enable_ha(true);
      req.set_no_group_append(true);
      subsys_status rep;
      gs = stub->create_subsystem(&ctx, req, &rep);
      status = rep.status();
      msg = rep.error_message();
    } else {
      namespace_add_req req;
      req.set_subsystem_nqn(a.nqn.empty() ? a.prefix + std::to_string(a.first + i % a.subsystems) : a.nqn);
      req.set_block_size(4096);
      if (a.backend == "rbd") {
        req.set_rbd_pool_name(a.pool);
        req.set_rbd_image_name(a.image_prefix + std::to_string(i));
      } else {
        req.set_backend(a.backend);
        req.set_memory_size(a.memory_size);
      }
      nsid_status rep;
      gs = stub->namespace_add(&ctx, req, &rep);
      status = rep.status();
      msg = rep.error_message();
    }
    if (!gs.ok()) return "gRPC " + std::to_string(gs.error_code()) + ": " + gs.error_message();
    if (status != 0) return "status " + std::to_string(status) + ": " + msg;
    return "";
  };

  std::atomic<int> next{0};
  std::mutex mu;
  int done = 0, ok = 0, errors = 0;
  std::vector<std::string> first_errors;
  double batch_lat_sum = 0, batch_lat_max = 0;
  const auto t0 = Clock::now();
  auto batch_t0 = t0;
  std::vector<std::thread> threads;
  for (int t = 0; t < a.concurrency; t++) {
    threads.emplace_back([&] {
      for (;;) {
        int i = next.fetch_add(1);
        if (i >= a.count) return;
        auto c0 = Clock::now();
        std::string err = call(i);
        double lat = Since(c0);
        std::lock_guard<std::mutex> lk(mu);
        done++;
        if (err.empty()) ok++;
        else {
          errors++;
          if (first_errors.size() < 5) first_errors.push_back("#" + std::to_string(i) + ": " + err);
        }
        batch_lat_sum += lat;
        batch_lat_max = std::max(batch_lat_max, lat);
        if (done % a.batch == 0 || done == a.count) {
          int n = done % a.batch ? done % a.batch : a.batch;
          double bs = Since(batch_t0);
          printf("  %s %6d..%-6d %7.2f s  %8.1f/s  latency mean %7.2f ms  max %8.2f ms\n", a.mode.c_str(),
                 done - n + 1, done, bs, n / bs, 1000 * batch_lat_sum / n, 1000 * batch_lat_max);
          fflush(stdout);
          batch_t0 = Clock::now();
          batch_lat_sum = batch_lat_max = 0;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  double secs = Since(t0);
  for (auto& e : first_errors) fprintf(stderr, "scale_client: %s\n", e.c_str());
  printf("RESULT mode=%s ok=%d errors=%d seconds=%.3f rate=%.1f concurrency=%d\n", a.mode.c_str(), ok, errors, secs,
         ok / secs, a.concurrency);
  return errors ? 1 : 0;
}
