#include "gateway/transport/tcp/tcp_probe.h"

#include <algorithm>
#include <mutex>
#include <vector>

namespace nvmeof {

namespace {

constexpr const char* kNames[TcpProbe::kCount] = {
    "connections_accepted",
    "connections_closed",
    "pdus_icreq",
    "pdus_h2c_termreq",
    "pdus_capsule_cmd",
    "pdus_h2c_data",
    "header_digest_errors",
    "data_digest_errors",
    "fatal_invalid_header_field",
    "fatal_pdu_sequence_error",
    "fatal_header_digest_error",
    "fatal_data_transfer_out_of_range",
    "fatal_data_transfer_limit_exceeded",
    "fatal_unsupported_parameter",
    "r2t_sent",
    "bytes_in",
    "bytes_out",
    "requests_free",
    "requests_recv_capsule_data",
    "requests_await_h2c",
    "requests_executing",
    "requests_sending",
};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == TcpProbe::kCount);

// Every thread's probe, and what exited threads had counted. Never destroyed: threads may
// exit during static destruction.
struct Registry {
  std::mutex mu;
  std::vector<const TcpProbe*> live;
  TcpProbe::Values retired{};
};
Registry& Reg() {
  static Registry* r = new Registry();
  return *r;
}

void AddTo(TcpProbe::Values& sum, const TcpProbe& p) {
  for (size_t i = 0; i < TcpProbe::kCount; i++) sum[i] += p.Get(static_cast<TcpCounter>(i));
}

struct Slot {
  TcpProbe probe;
  Slot() {
    std::lock_guard<std::mutex> lk(Reg().mu);
    Reg().live.push_back(&probe);
  }
  ~Slot() {
    Registry& r = Reg();
    std::lock_guard<std::mutex> lk(r.mu);
    AddTo(r.retired, probe);
    r.live.erase(std::find(r.live.begin(), r.live.end(), &probe));
  }
};

}  // namespace

const char* TcpCounterName(TcpCounter c) {
  return TcpProbe::Index(c) < TcpProbe::kCount ? kNames[TcpProbe::Index(c)] : "?";
}

TcpProbe& TcpProbe::Local() {
  thread_local Slot slot;
  return slot.probe;
}

TcpProbe::Values TcpProbe::Totals() {
  Registry& r = Reg();
  std::lock_guard<std::mutex> lk(r.mu);
  Values sum = r.retired;
  for (const TcpProbe* p : r.live) AddTo(sum, *p);
  return sum;
}

}  // namespace nvmeof
