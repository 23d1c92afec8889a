// RadosClusterPool: the RADOS connections (rados_t) of one Ceph cluster, shared by the RBD
// images of that cluster: up to `bdevs_per_cluster` images per connection (each connection is
// a client instance with its own messenger threads, address and blocklist identity).
//
// It also runs one maintenance thread per cluster that services the images opened through
// it (resize notifications, stall detection, recovery after blocklisting); see
// docs/ceph.md, "RBD backend".
//
// Timeouts set on every connection (and why):
//  * client_mount_timeout = rados_mon_op_timeout = connect_timeout_s (default 10 s): an
//    unreachable or misconfigured cluster gives an error when opening, instead of hanging
//    (the librados defaults are 300 s and "forever").
//  * rados_osd_op_timeout = osd_op_timeout_s (default 60 s): a hard upper bound on a data
//    I/O. librados queues I/O while the OSDs of a PG are down or peering, which is what we
//    want for an OSD restart or a failover inside the cluster (seconds to ~30 s), so the
//    bound is far above that; it only fires when the cluster is unreachable for a minute,
//    and then the I/O fails with -ETIMEDOUT (a path error: a multipath host retries it on
//    another path) instead of pinning the host's command and the gateway's buffers forever.
//    0 disables it. Exclusive-lock handover blocklists a client that lost the lock, so an
//    I/O abandoned this way can never land after another gateway took over.
//  * stall_timeout_s (default 30 s, not a Ceph option): an image whose in-flight I/O has
//    made no progress for this long reports healthy() == false, so new commands get a path
//    error at once instead of queueing behind the stuck ones.
#pragma once

#include <rados/librados.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gateway/common/status.h"
#include "rbd-backend/errc.h"

namespace nvmeof {

struct RadosClusterConfig {
  std::string name = "ceph";     // for log lines
  std::string conf_path;         // ceph.conf; empty = librados' search (CEPH_CONF, /etc/ceph)
  std::string client_id = "admin";  // the cephx user, without "client."
  std::string keyring;           // empty = what ceph.conf says
  std::string mon_host;          // optional: overrides ceph.conf's mon_host
  uint32_t bdevs_per_cluster = 32;  // images per RADOS connection
  uint32_t connect_timeout_s = 10;  // client_mount_timeout, rados_mon_op_timeout
  uint32_t osd_op_timeout_s = 60;   // rados_osd_op_timeout; 0 = never (see above)
  uint32_t stall_timeout_s = 30;    // healthy() false after this long without I/O progress
  // librbd's write-back cache. Off by default: every completed write is then on the OSDs
  // (volatile_write_cache = false, FUA is free). On: VWC = 1 and FUA writes are followed
  // by a flush before they complete.
  bool rbd_cache = false;
  // After the client was blocklisted (I/O fails with -ESHUTDOWN): reopen the image on a new
  // client instance (connection), first after recovery_delay_ms, then with doubling delays
  // up to 60 s. Off: the image stays unhealthy until it is closed and opened again.
  bool recover_blocklisted = true;
  uint32_t recovery_delay_ms = 2000;
  // Images opened read-only get no header notifications from librbd: their size is read
  // from the image's header object this often (0: only on refresh_size) to notice a resize.
  uint32_t read_only_size_check_s = 5;
  // More client options, applied with rados_conf_set after ceph.conf (e.g. {"debug_rbd","5"}).
  std::vector<std::pair<std::string, std::string>> conf_overrides;
};

class RadosClusterPool {
 public:
  // Validates the configuration; connects lazily (on the first image, or Probe()).
  static Result<std::shared_ptr<RadosClusterPool>> Create(RadosClusterConfig cfg);
  ~RadosClusterPool();
  RadosClusterPool(const RadosClusterPool&) = delete;
  RadosClusterPool& operator=(const RadosClusterPool&) = delete;

  const RadosClusterConfig& config() const { return cfg_; }

  // Connects a client instance and drops it again: checks that the cluster answers and the
  // credentials work (for an "add cluster" management call). Blocks up to connect_timeout_s.
  Status Probe();

  struct ConnectionInfo {
    uint64_t serial;       // 1, 2, ... in order of creation
    std::string address;   // e.g. 127.0.0.1:0/3446818537 (what `ceph osd blocklist` takes)
    uint64_t instance_id;  // client.<instance_id>
    uint32_t images;
    bool fenced;           // blocklisted: gets no new images, closed when the last one leaves
  };
  std::vector<ConnectionInfo> connections() const;

  // ---- Used by the RBD backend (control path, may block). ----
  struct Connection {
    rados_t cluster = nullptr;
    uint64_t serial = 0;
    uint64_t instance_id = 0;
    std::string address;
    uint32_t users = 0;  // guarded by the pool's mutex
    bool fenced = false;
  };
  // A connection with room for one more image (connecting a new one if needed).
  Result<Connection*> Acquire();
  void Release(Connection* c);
  // This connection's client was blocklisted: give it no more images.
  void MarkFenced(Connection* c);
  bool IsFenced(const Connection* c) const;

  // Called with the address of every new connection, on the thread that connected it
  // (an Open(), the maintenance thread reopening an image), after it is up and before it
  // gets its first image; no lock of the pool is held. For fencing (gateway/ha): the address
  // must be known before I/O goes through the connection. Set it before the first image.
  void SetConnectObserver(std::function<void(const std::string& address)> fn);

  // Puts every image whose connection is blocklisted on a new connection now, instead of at
  // its next I/O plus recovery_delay_ms (control path; blocks, never on a reactor). Asks the
  // monitors for the OSD blocklist (`osd blocklist ls`, one mon command through one of the
  // connections), marks the connections whose address is in it fenced, then has the
  // maintenance thread reopen their images at once and waits for one full pass of it (at most
  // `timeout`). Sets *reopened (optional) to the number of fenced connections that had images.
  // Errors: the mon command's (kCeph with its errno; EPERM without the mon cap
  // `osd blocklist`), kTimedOut when the pass did not finish in time. No connection: OK.
  Status RecoverBlocklisted(std::chrono::milliseconds timeout, uint32_t* reopened = nullptr);
  // Increases with every RecoverBlocklisted() that found blocklisted connections with
  // images: a client recovering from a blocklist reopens at once when it sees a new value.
  uint64_t recover_now() const { return recover_now_.load(std::memory_order_acquire); }

  // The maintenance thread calls Tick() on every client about 5 times a second, and soon
  // after Wake(). RemoveClient() returns once no Tick() of that client runs any more.
  class Client {
   public:
    virtual ~Client() = default;
    virtual void Tick(std::chrono::steady_clock::time_point now) = 0;
  };
  void AddClient(Client* c);
  void RemoveClient(Client* c);
  void Wake();  // any thread; never blocks for long

  // The mon address(es) from the configuration, for error messages.
  std::string mon_host() const;

 private:
  explicit RadosClusterPool(RadosClusterConfig cfg);
  Result<rados_t> Connect(std::string* mon_host_out);
  void MaintenanceLoop();
  static void Shutdown(Connection* c);
  Connection* TakeFreeLocked();  // a connection with room, its user count taken (mu_ held)

  const RadosClusterConfig cfg_;
  mutable std::mutex mu_;
  std::list<Connection> conns_;  // stable addresses
  uint64_t next_serial_ = 1;
  std::string mon_host_;         // as librados resolved it from the config

  std::mutex connect_mu_;  // one connect at a time (it can take connect_timeout_s)
  uint64_t connect_attempts_ = 0;  // finished connect attempts (mu_)
  Status last_connect_error_;      // the last attempt's outcome (mu_)

  std::mutex maint_mu_;
  std::condition_variable maint_cv_;
  std::vector<Client*> clients_;
  Client* ticking_ = nullptr;
  bool wake_ = false;
  bool stop_ = false;
  uint64_t passes_begun_ = 0;  // maintenance passes (maint_mu_)
  uint64_t passes_done_ = 0;
  std::atomic<uint64_t> recover_now_{0};
  std::function<void(const std::string&)> on_connect_;  // set before the first image (mu_)
  std::thread maint_;
};

}  // namespace nvmeof
