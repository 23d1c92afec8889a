// File backend: a regular file or a block device behind a namespace, via io_uring.
//
// One io_uring per device. Submission is serialised by a mutex (held for a get_sqe/prep/
// io_uring_submit, never across anything that waits); one completion thread per device reaps
// CQEs, runs follow-up steps (short transfers, fallbacks, FUA) and calls io->Finish().
//
// Semantics (see docs/ceph.md, "File backend"):
//  * read/write: readv/writev on the caller's iovec; short transfers are continued.
//  * FUA write: RWF_DSYNC on the write itself (durable when it completes).
//  * flush: fdatasync (IORING_OP_FSYNC + IORING_FSYNC_DATASYNC).
//  * write zeroes: fallocate(FALLOC_FL_ZERO_RANGE); where unsupported (EOPNOTSUPP/EINVAL,
//    e.g. tmpfs), writes of a shared zero buffer. Remembered per device.
//  * discard: fallocate(PUNCH_HOLE | KEEP_SIZE); reads back zeroes (info().discard_zeroes).
//    Falls back to write zeroes where punching is unsupported, so the promise holds.
//  * compare: read into a pooled per-request scratch buffer, memcmp; -EILSEQ on mismatch.
//  * O_DIRECT (direct=true): I/O whose offset, length or buffers are not aligned to the
//    file's direct-I/O alignment goes through a second, buffered descriptor instead (the
//    kernel keeps the two coherent); the first such I/O logs a clear warning to stderr and
//    unaligned_ios() counts them.
//  * resize: grow with ftruncate (regular files only). Shrinking is refused (EINVAL).
//  * A file changed from outside is not watched: size() is what open/resize saw.
//  * No per-I/O heap allocation in steady state: requests (with their iovec copies and
//    scratch buffers) come from a ReqPool and keep their buffers when recycled.
#pragma once

#include <liburing.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "rbd-backend/block_device.h"
#include "rbd-backend/req_pool.h"

namespace nvmeof {

struct FileDeviceOptions {
  bool direct = false;         // O_DIRECT
  unsigned queue_depth = 256;  // io_uring SQ entries (in-flight I/O beyond this waits in-kernel)
};

class FileDevice final : public BlockDevice {
 public:
  static Result<std::unique_ptr<FileDevice>> Open(const std::string& path, uint64_t size_bytes,
                                                  const FileDeviceOptions& opts);
  ~FileDevice() override;

  uint64_t size() const override { return size_.load(std::memory_order_acquire); }
  const BdevInfo& info() const override { return info_; }
  void submit(BdevIo* io) override;
  Status resize(uint64_t new_size) override;

  // Diagnostics.
  uint32_t direct_alignment() const { return align_; }     // 0 when not in direct mode
  uint64_t unaligned_ios() const { return unaligned_ios_.load(std::memory_order_relaxed); }
  bool zero_range_supported() const { return zero_range_ok_.load(std::memory_order_relaxed); }
  bool punch_hole_supported() const { return punch_ok_.load(std::memory_order_relaxed); }
  uint32_t request_pool_capacity() const { return reqs_.capacity(); }

  // Per-I/O state, pooled. Buffers it owns survive recycling.
  struct Req {
    enum class Stage : uint8_t {
      kNop,        // nothing to do (zero-length I/O): complete through the ring
      kRw,         // readv/writev of io (or of the compare scratch buffer)
      kFsync,      // fdatasync (flush, or after zeroing with FUA)
      kZeroRange,  // fallocate(ZERO_RANGE)
      kPunch,      // fallocate(PUNCH_HOLE | KEEP_SIZE)
      kZeroWrite,  // writev of the shared zero buffer
    };
    BdevIo* io = nullptr;
    Stage stage = Stage::kRw;
    bool fua_after = false;   // run an fdatasync before completing
    bool use_rwf_dsync = false;
    bool warn_unaligned = false;  // log the O_DIRECT fallback warning from the completer
    uint8_t resubmits = 0;        // after -ECANCELED (the submitting thread exited)
    int fd = -1;
    uint64_t off = 0;         // current position
    uint64_t left = 0;        // bytes still to transfer in this stage
    struct iovec* iov = nullptr;  // working copy (advanced on short transfers)
    int iovcnt = 0;
    struct iovec* iov_buf = nullptr;  // owned; iov_cap entries
    int iov_cap = 0;
    char* scratch = nullptr;  // owned, aligned; compare reads land here
    size_t scratch_cap = 0;
    uint32_t pool_index = 0;
    std::atomic<uint32_t> pool_next{0};
    ~Req();
  };

 private:
  FileDevice() = default;
  void CompletionLoop();
  void Start(Req* r);           // first step of an I/O
  void Step(Req* r, int res);   // a CQE for r arrived
  bool Queue(Req* r);           // prepare + submit the SQE for r's current step
  void Finish(Req* r, int32_t result);
  bool Aligned(const BdevIo* io) const;
  static bool EnsureIov(Req* r, int n);

  std::string path_;
  int fd_ = -1;           // O_DIRECT when direct
  int buffered_fd_ = -1;  // == fd_ when not direct
  bool is_blockdev_ = false;
  uint32_t align_ = 0;      // O_DIRECT offset/length alignment; 0 = not direct
  uint32_t mem_align_ = 1;  // O_DIRECT buffer alignment
  std::atomic<uint64_t> size_{0};
  BdevInfo info_;

  io_uring ring_{};
  bool ring_ok_ = false;
  std::mutex sq_mu_;  // guards SQ access and io_uring_submit
  std::thread completer_;
  std::atomic<int64_t> inflight_{0};
  std::atomic<bool> warned_unaligned_{false};
  std::atomic<uint64_t> unaligned_ios_{0};
  std::atomic<bool> zero_range_ok_{true};
  std::atomic<bool> punch_ok_{true};
  char* zero_buf_ = nullptr;  // kZeroBufBytes of zeroes, aligned, shared by all requests
  std::mutex ctl_mu_;         // resize

  ReqPool<Req> reqs_;
};

}  // namespace nvmeof
