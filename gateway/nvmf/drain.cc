// Draining: in-flight I/O counters per reactor and namespace, and the waits on them
// (Target::DrainAnaGroup / DrainNamespace, target.h).
#include <algorithm>
#include <chrono>
#include <thread>

#include "gateway/common/clock.h"
#include "gateway/common/log.h"
#include "gateway/runtime/reactor.h"
#include "gateway/nvmf/target.h"

namespace nvmeof {

Status Target::AllocateIoSlot(Namespace& ns) {
  std::lock_guard<std::mutex> lk(io_mu_);
  if (!free_io_slots_.empty()) {
    ns.io_slot_ = free_io_slots_.back();
    free_io_slots_.pop_back();
    return Status::OK();
  }
  if (next_io_slot_ >= opts_.max_namespaces_per_gateway)
    return Status::Error(nvmf::errc::kTooManyNamespaces, "the gateway already has its maximum of " +
                                                             std::to_string(opts_.max_namespaces_per_gateway) + " namespaces");
  ns.io_slot_ = next_io_slot_++;
  return Status::OK();
}

// A slot used again while the removed namespace still has I/O in flight only makes a drain
// of the new one wait for that I/O too: every command counts down the slot it counted up.
void Target::ReleaseIoSlot(const Namespace& ns) {
  std::lock_guard<std::mutex> lk(io_mu_);
  free_io_slots_.push_back(ns.io_slot_);
}

void Target::CountIoOn(QueuePair* qp) {
  Reactor* r = &qp->reactor();
  std::lock_guard<std::mutex> lk(io_mu_);
  auto it = std::find_if(io_counters_.begin(), io_counters_.end(), [r](auto& c) { return c->reactor == r; });
  if (it == io_counters_.end()) {
    auto c = std::make_unique<IoCounters>();
    c->reactor = r;
    // Own cache lines: 64 bytes of slack on each side of the aligned counters.
    constexpr size_t kLine = 64 / sizeof(std::atomic<uint32_t>);
    c->mem = std::make_unique<std::atomic<uint32_t>[]>(opts_.max_namespaces_per_gateway + 3 * kLine);
    auto addr = reinterpret_cast<uintptr_t>(c->mem.get() + kLine);
    c->counts = c->mem.get() + kLine + ((64 - addr % 64) % 64) / sizeof(std::atomic<uint32_t>);
    io_counters_.push_back(std::move(c));
    it = io_counters_.end() - 1;
  }
  (*it)->queues++;
  qp->io_counts = (*it)->counts;
  qp->io_counted = true;
}

void Target::UncountQueue(QueuePair* qp) {
  if (!qp->io_counted) return;
  qp->io_counted = false;  // io_counts stays: commands still in flight count down there
  Reactor* r = &qp->reactor();
  std::lock_guard<std::mutex> lk(io_mu_);
  for (auto& c : io_counters_) {
    if (c->reactor == r) c->queues--;
  }
}

Status Target::WaitDrained(const std::vector<std::shared_ptr<Namespace>>& nss, uint64_t timeout_ns,
                           const std::string& what) {
  // The barrier: a command admitted on a reactor is counted before its task returns, so
  // once every reactor serving I/O queues has run one task after the state changed, every
  // command admitted under the old state is counted and no new one is admitted.
  std::vector<Reactor*> reactors;
  std::vector<const std::atomic<uint32_t>*> blocks;
  {
    std::lock_guard<std::mutex> lk(io_mu_);
    for (auto& c : io_counters_) {
      if (c->queues > 0) reactors.push_back(c->reactor);
    }
  }
  for (Reactor* r : reactors) {
    if (!r->OnThread()) r->RunSync([] {});
  }
  {
    std::lock_guard<std::mutex> lk(io_mu_);
    for (auto& c : io_counters_) blocks.push_back(c->counts);
  }
  auto in_flight = [&] {
    uint64_t n = 0;
    for (auto* b : blocks) {
      for (auto& ns : nss) n += b[ns->io_slot()].load(std::memory_order_acquire);
    }
    return n;
  };
  const uint64_t start = NowNs();
  auto pause = std::chrono::microseconds(50);
  for (;;) {
    uint64_t n = in_flight();
    if (n == 0) return Status::OK();
    if (NowNs() - start >= timeout_ns) {
      LOG_WARN("%s: drain timed out after %llu ms: %llu I/O commands still in flight", what.c_str(),
               static_cast<unsigned long long>(timeout_ns / 1'000'000), static_cast<unsigned long long>(n));
      return Status::Error(nvmf::errc::kDrainTimeout, what + ": " + std::to_string(n) +
                                                          " I/O commands still in flight after the drain timeout");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(5000));
  }
}

Status Target::DrainAnaGroup(uint32_t ana_group, uint64_t timeout_ns) {
  if (ana_group == 0 || ana_group > opts_.anagrpmax)
    return Status::Error(nvmf::errc::kAnaGroupNotFound, "ANA group " + std::to_string(ana_group) + " is invalid");
  std::vector<std::shared_ptr<Namespace>> nss;
  for (auto& s : Subsystems()) {
    for (auto& ns : s->Namespaces()) {
      if (ns->anagrpid() == ana_group) nss.push_back(ns);
    }
  }
  return WaitDrained(nss, timeout_ns, "ANA group " + std::to_string(ana_group));
}

Status Target::DrainNamespace(const std::string& subsystem_nqn, uint32_t nsid, uint64_t timeout_ns) {
  auto s = FindSubsystem(subsystem_nqn);
  if (!s || s->is_discovery())
    return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + subsystem_nqn + " does not exist");
  auto ns = s->GetNamespace(nsid);
  if (!ns)
    return Status::Error(nvmf::errc::kNamespaceNotFound,
                         "namespace " + std::to_string(nsid) + " does not exist in " + subsystem_nqn);
  return WaitDrained({ns}, timeout_ns, "subsystem " + subsystem_nqn + " namespace " + std::to_string(nsid));
}

}  // namespace nvmeof
