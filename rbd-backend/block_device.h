// The block-backend interface: what a namespace needs from the storage behind it.
//
// Contract (the data path depends on every line of it):
//  * submit() never blocks. The result is delivered through io->Finish(), from
//    any thread, possibly from inside submit() itself: the sink (the reactor that owns the
//    I/O, gateway/runtime/completion.h) only queues it and calls its handler later, so the
//    submitter is never re-entered. On the reactor's own thread that queueing takes no lock.
//  * submit() allocates nothing per I/O in steady state: BdevIo is owned by the caller
//    (preallocated per queue slot) and embeds a Completion, whose links the sink uses.
//  * Results: 0, or a negative errno. -EILSEQ means a Compare found a mismatch.
//    -ESHUTDOWN / -EBLOCKLISTED / -ENOTCONN / -ETIMEDOUT mean the path to the storage is
//    gone (the gateway reports a path error so that a multipath host goes elsewhere).
//  * Control-path calls (resize, close) may block; they are never called on a reactor.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "gateway/common/status.h"
#include "rbd-backend/errc.h"
#include "gateway/runtime/completion.h"

namespace nvmeof {

enum class BdevOp : uint8_t {
  kRead,
  kWrite,
  kFlush,
  kWriteZeroes,
  kDiscard,  // deallocate; data may or may not read back as zeroes (see BdevInfo)
  kCompare,  // compare iov with the stored data; -EILSEQ on mismatch
};

// One block I/O. Its Completion carries its way home: done.sink (the submitting reactor)
// and done.handler (the submitter), set once by whoever owns the io.
struct BdevIo {
  Completion done;  // first member: the sink's Completion* converts back (From)
  BdevOp op = BdevOp::kRead;
  bool fua = false;            // write: durable before completion
  uint64_t offset = 0;         // bytes
  uint64_t length = 0;         // bytes
  const struct iovec* iov = nullptr;  // read: destination; write/compare: source
  int iovcnt = 0;
  int32_t result = 0;          // set by the backend before complete()
  BdevIo* next = nullptr;      // intrusive link for the backend's own queues

  static BdevIo* From(Completion* c) { return reinterpret_cast<BdevIo*>(c); }
  // Hands the finished io back to its reactor (any thread; exactly once per submit).
  void Finish() { done.sink->complete(&done); }
};

// Properties a namespace advertises to hosts.
struct BdevInfo {
  bool volatile_write_cache = false;  // a Flush is needed for durability (VWC bit)
  bool discard_zeroes = false;        // deallocated blocks read back as zeroes (DLFEAT)
  bool supports_discard = true;
  bool supports_write_zeroes = true;
  uint32_t optimal_io_boundary = 0;   // bytes, 0 = none (e.g. the RBD object size)
  // Adjacent reads (or writes) that arrive together may be merged into one vectored I/O:
  // worth it when every I/O has a high fixed cost (librbd: a hand-off to its threads, a
  // message to the OSD, an OSD op).
  bool coalesce = false;
  std::string kind;                   // "memory", "file", "rbd"
  std::string description;            // e.g. "rbd/pool/image", "/path/to/file"
  // Opening it created the storage (an RBD image opened with create_image that did not
  // exist): the image is the gateway's own, the one kind the RBD trash may take on delete.
  bool created = false;
};

class BlockDevice {
 public:
  virtual ~BlockDevice() = default;

  virtual uint64_t size() const = 0;  // bytes; may change (resize)
  virtual const BdevInfo& info() const = 0;

  // Data path: see the contract above.
  virtual void submit(BdevIo* io) = 0;

  // Control path. Grow (or shrink, if allowed) the device.
  virtual Status resize(uint64_t new_size) = 0;

  // Control path. Re-reads the size of the storage now (the image may have been resized
  // from outside) and takes a growth even with auto-resize off; a change is reported
  // through the resize callback as usual. Devices whose size only changes through resize()
  // have nothing to do.
  virtual Status refresh_size() { return Status::OK(); }

  // Control path (any thread). Auto-resize (on by default): a growth of the storage from
  // outside grows the device at once; off, it waits for refresh_size(). A shrink from
  // outside is never applied: the device keeps its size and shrunk_from_outside() is true
  // until the storage is back at least at that size.
  virtual void set_auto_resize(bool on) { (void)on; }
  virtual bool shrunk_from_outside() const { return false; }

  // Control path. Called (from a backend thread) when the size changed from outside,
  // e.g. `rbd resize`. Set once, before I/O starts.
  void set_resize_callback(std::function<void(uint64_t)> cb) { on_resize_ = std::move(cb); }

  // False while the storage is unreachable (the namespace reports a path error).
  virtual bool healthy() const { return true; }
  // Control path: the address of the Ceph client instance the device uses now (RBD:
  // "IP:PORT/NONCE", what the Ceph monitor blocklists to fence this gateway); empty for
  // devices without one.
  virtual std::string client_address() const { return {}; }

 protected:
  void notify_resized(uint64_t new_size) {
    if (on_resize_) on_resize_(new_size);
  }

 private:
  std::function<void(uint64_t)> on_resize_;
};

// Sparse in-memory device, for tests and demos.
std::unique_ptr<BlockDevice> OpenMemoryDevice(uint64_t size_bytes);

// A regular file or block device. Created (sparse) at size_bytes if it does not exist
// and size_bytes > 0. direct=true uses O_DIRECT.
Result<std::unique_ptr<BlockDevice>> OpenFileDevice(const std::string& path, uint64_t size_bytes,
                                                    bool direct);

}  // namespace nvmeof
