// Counters of the NVMe/TCP transport: one set per reactor thread, one place for all of them.
//
// Each reactor thread owns one TcpProbe (TcpProbe::Local()) and is its only writer: a
// counter update is a relaxed load and store (no locked instruction, nothing allocated).
// Any thread may read the sum over every thread that ever counted (TcpProbe::Totals()),
// e.g. an exporter or a test; each value is exact, the set is not one atomic snapshot.
// Gauges (requests per state) go up and down; they are kept modulo 2^64 and read as signed.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace nvmeof {

enum class TcpCounter : uint16_t {
  kConnectionsAccepted,  // by a listener (counted on the accepting reactor)
  kConnectionsClosed,
  // Well-formed PDUs received (those that passed the header checks), by type.
  kPdusIcReq,
  kPdusH2CTermReq,
  kPdusCapsuleCmd,
  kPdusH2CData,
  kHeaderDigestErrors,  // each is also a fatal error with FES 03h
  kDataDigestErrors,    // each fails its command (Transient Transport Error)
  // Fatal transport errors (C2HTermReq sent), by FES 01h..06h.
  kFatalInvalidHeaderField,
  kFatalPduSequenceError,
  kFatalHeaderDigestError,
  kFatalDataTransferOutOfRange,
  kFatalDataTransferLimitExceeded,
  kFatalUnsupportedParameter,
  kR2tSent,
  kBytesIn,   // from the stream, headers and data
  kBytesOut,  // to the stream
  // Requests in each state, over every connection of the reactor (gauges, kept by
  // TcpQueue::SetState). In the order of TcpQueue's request states.
  kRequestsFree,
  kRequestsRecvCapsuleData,
  kRequestsAwaitH2C,
  kRequestsExecuting,
  kRequestsSending,
  kCount
};

// A stable name for each counter ("requests_free", ...), for exporters and logs.
const char* TcpCounterName(TcpCounter c);

class TcpProbe {
 public:
  static constexpr size_t kCount = static_cast<size_t>(TcpCounter::kCount);
  using Values = std::array<uint64_t, kCount>;

  // The calling thread's probe (created on first use; reactor threads cache the reference).
  static TcpProbe& Local();
  // The sum over all threads' probes, live and exited.
  static Values Totals();
  static int64_t Total(TcpCounter c) { return static_cast<int64_t>(Totals()[Index(c)]); }

  void Add(TcpCounter c, uint64_t n = 1) {
    auto& v = v_[Index(c)];
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void Sub(TcpCounter c, uint64_t n = 1) { Add(c, ~n + 1); }
  uint64_t Get(TcpCounter c) const { return v_[Index(c)].load(std::memory_order_relaxed); }

  static constexpr size_t Index(TcpCounter c) { return static_cast<size_t>(c); }
  // The counter of fatal errors with this FES (01h..06h; anything else counts as 01h).
  static constexpr TcpCounter FatalCounter(uint16_t fes) {
    return fes >= 1 && fes <= 6
               ? static_cast<TcpCounter>(Index(TcpCounter::kFatalInvalidHeaderField) + fes - 1)
               : TcpCounter::kFatalInvalidHeaderField;
  }

 private:
  std::atomic<uint64_t> v_[kCount]{};
};

}  // namespace nvmeof
