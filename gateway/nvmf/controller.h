// A controller: one host's association with one subsystem, made by an admin-queue Connect.
// Its admin queue lives on one reactor; its I/O queues may live on others.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/protocol/nvme.h"
#include "gateway/nvmf/request.h"

namespace nvmeof {

class Subsystem;
class Target;

class Controller : public std::enable_shared_from_this<Controller> {
 public:
  Controller(Target* target, std::shared_ptr<Subsystem> subsys, std::string hostnqn,
             const uint8_t hostid[16], uint32_t kato_ms, QueuePair* admin);
  ~Controller();

  uint16_t cntlid() const { return cntlid_; }
  void set_cntlid(uint16_t c) { cntlid_ = c; }
  Subsystem& subsystem() { return *subsys_; }
  const std::shared_ptr<Subsystem>& subsystem_ptr() { return subsys_; }
  const std::string& hostnqn() const { return hostnqn_; }
  const std::array<uint8_t, 16>& hostid() const { return hostid_; }
  bool is_discovery() const;
  // The admin queue, or nullptr once it closed (admin reactor thread only).
  QueuePair* admin_queue() { return admin_; }
  Reactor* admin_reactor() { return admin_reactor_; }
  const std::string& peer() const { return peer_; }
  const PortInfo& port() const { return port_; }
  Target* target() { return target_; }

  // Properties.
  uint64_t cap() const;
  uint32_t cc() const { return cc_.load(); }
  uint32_t csts() const { return csts_.load(); }
  bool enabled() const { return (csts_.load(std::memory_order_relaxed) & nvme::kCstsRdy) != 0; }
  // Returns false if the value is not acceptable (Invalid Field).
  bool SetCc(uint32_t value);

  // Keep Alive (admin reactor).
  uint32_t kato_ms() const { return kato_ms_.load(); }
  void set_kato_ms(uint32_t ms) { kato_ms_.store(ms); }
  void Touch();
  bool KeepAliveExpired() const;
  // Starts the keep alive expiry check on the admin reactor, once (KATO from Connect or
  // from Set Features); a KATO of 0 disables it.
  void StartKeepAliveTimer();

  // Queues.
  uint32_t num_io_queues_allowed() const { return nr_io_queues_.load(); }
  bool SetNumIoQueues(uint32_t n);  // false once I/O queues exist (Command Sequence Error)
  enum class AddQueueResult { kOk, kInvalidQid, kExists };
  AddQueueResult AddIoQueue(QueuePair* qp, uint16_t qid);
  void RemoveIoQueue(QueuePair* qp);
  size_t io_queue_count();
  // Closes every queue of this controller (teardown).
  void Shutdown(const char* reason);

  // Features.
  static constexpr uint32_t kDefaultAec = nvme::kAecNsAttr | nvme::kAecAnaChange | nvme::kAecDiscoveryLogChange;
  std::atomic<uint32_t> async_event_config{kDefaultAec};
  // Volatile Write Cache feature, WCE: meaningful when Identify reports a cache (VWC bit
  // 0); with it cleared every write is made durable before it completes (as with FUA).
  std::atomic<bool> volatile_write_cache{true};

  // Asynchronous events: called on the admin queue's reactor.
  bool AddAer(Request* req);  // false: limit exceeded
  void RaiseEvent(uint8_t type, uint8_t info, uint8_t log_page);
  void ClearEventMask(uint8_t log_page);  // the host read the log page
  void AbortAers();                       // queue going away
  static constexpr uint32_t kAerLimit = 4;

  // Changed namespace list (any thread).
  void AddChangedNs(uint32_t nsid);
  std::vector<uint32_t> TakeChangedNs(bool clear);

  // Error log.
  void RecordError(const Request& req, uint16_t sqid);
  std::vector<nvme::ErrorInfoEntry> ErrorLog();

  std::string Describe() const;  // "subsystem <nqn> host <hostnqn> cntlid <n>"

  // Connection I/O statistics (conn_io_stats.h): the sum over this controller's I/O queues,
  // those closed included; `reset` starts them over after reading. Any thread.
  ConnIoSnapshot IoStats(bool reset);
  // The epoch its queues record in (QueuePair::RecordIo); IoStats(true) moves it on.
  uint32_t io_stats_epoch() const { return io_stats_epoch_.load(std::memory_order_relaxed); }

 private:
  Target* target_;
  std::shared_ptr<Subsystem> subsys_;
  std::string hostnqn_;
  std::array<uint8_t, 16> hostid_;
  uint16_t cntlid_ = 0;
  QueuePair* admin_;
  Reactor* admin_reactor_;
  std::string peer_;
  PortInfo port_;

  std::atomic<uint32_t> cc_{0};
  std::atomic<uint32_t> csts_{0};
  std::atomic<uint32_t> kato_ms_;
  std::atomic<int64_t> last_ka_ns_;
  std::atomic<uint32_t> nr_io_queues_;

  std::mutex mu_;  // io queues, changed ns, error log
  std::vector<QueuePair*> io_queues_;
  std::vector<uint32_t> changed_ns_;
  bool changed_ns_overflow_ = false;
  std::deque<nvme::ErrorInfoEntry> errors_;
  uint64_t error_count_ = 0;
  std::atomic<uint32_t> io_stats_epoch_{0};
  ConnIoSnapshot closed_io_stats_;  // of the I/O queues that closed (mu_)

  // Admin reactor only.
  std::vector<Request*> aers_;
  struct Event {
    uint32_t dw0;
    uint8_t log_page;
  };
  std::deque<Event> pending_events_;
  uint32_t masked_pages_ = 0;  // bit per log page class: 1 NS, 2 ANA, 4 discovery
  bool ka_timer_ = false;

  void Reset();  // controller level reset (CC.EN 1 -> 0)
};

}  // namespace nvmeof
