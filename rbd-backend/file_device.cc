#include "rbd-backend/file_device.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "gateway/common/log.h"
#include "rbd-backend/deferred_completer.h"

namespace nvmeof {
namespace {

constexpr size_t kZeroBufBytes = 1 << 20;  // shared zero buffer
constexpr int kMaxZeroIov = 16;            // up to 16 MiB of zeroes per writev
constexpr size_t kScratchAlign = 4096;
char kStopToken;                           // user_data of the NOP that stops the completer
constexpr uint8_t kMaxResubmits = 3;       // of a request cancelled with its submitter thread

std::string Errno(int err) { return std::strerror(err); }

size_t RoundUp(size_t v, size_t a) { return (v + a - 1) / a * a; }

}  // namespace

FileDevice::Req::~Req() {
  std::free(iov_buf);
  std::free(scratch);
}

Result<std::unique_ptr<BlockDevice>> OpenFileDevice(const std::string& path, uint64_t size_bytes,
                                                    bool direct) {
  FileDeviceOptions opts;
  opts.direct = direct;
  auto r = FileDevice::Open(path, size_bytes, opts);
  if (!r.ok()) return r.status();
  return std::unique_ptr<BlockDevice>(std::move(r.value()));
}

Result<std::unique_ptr<FileDevice>> FileDevice::Open(const std::string& path, uint64_t size_bytes,
                                                     const FileDeviceOptions& opts) {
  if (path.empty()) return Status::Error(bdev::errc::kBadSpec, "file device: empty path");
  if (opts.queue_depth == 0 || opts.queue_depth > 32768)
    return Status::Error(bdev::errc::kBadSpec, "file device: queue_depth must be 1..32768");
  DeferredCompleter::Instance();  // start its thread on the control path

  std::unique_ptr<FileDevice> dev(new FileDevice());
  dev->path_ = path;
  const int flags = O_RDWR | O_CLOEXEC;

  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err != ENOENT) return Status::Error(bdev::errc::kSystem, "cannot stat '" + path + "': " + Errno(err), err);
    if (size_bytes == 0)
      return Status::Error(bdev::errc::kFileNotFound, "file '" + path + "' does not exist (give a size to create it)");
    const int fd = ::open(path.c_str(), flags | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
      const int e = errno;
      return Status::Error(bdev::errc::kSystem, "cannot create '" + path + "': " + Errno(e), e);
    }
    if (::ftruncate(fd, static_cast<off_t>(size_bytes)) != 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return Status::Error(bdev::errc::kSystem, "cannot size '" + path + "': " + Errno(e), e);
    }
    ::close(fd);
    if (::stat(path.c_str(), &st) != 0) {
      const int e = errno;
      return Status::Error(bdev::errc::kSystem, "cannot stat '" + path + "': " + Errno(e), e);
    }
  }
  if (S_ISBLK(st.st_mode)) {
    dev->is_blockdev_ = true;
  } else if (!S_ISREG(st.st_mode)) {
    return Status::Error(bdev::errc::kFileUnusable, "'" + path + "' is neither a regular file nor a block device");
  }

  dev->buffered_fd_ = ::open(path.c_str(), flags);
  if (dev->buffered_fd_ < 0) {
    const int e = errno;
    return Status::Error(bdev::errc::kSystem, "cannot open '" + path + "': " + Errno(e), e);
  }
  dev->fd_ = dev->buffered_fd_;
  if (opts.direct) {
    dev->fd_ = ::open(path.c_str(), flags | O_DIRECT);
    if (dev->fd_ < 0) {
      const int e = errno;
      dev->fd_ = dev->buffered_fd_;
      return Status::Error(bdev::errc::kSystem, "cannot open '" + path + "' with O_DIRECT: " + Errno(e) +
                                  (e == EINVAL ? " (the filesystem does not support direct I/O)"
                                               : ""), e);
    }
    // Direct-I/O alignment: statx(STATX_DIOALIGN) (Linux 6.1+), else the logical block size.
    uint32_t mem = 0, off = 0;
    struct statx sx {};
    if (::statx(dev->fd_, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
        (sx.stx_mask & STATX_DIOALIGN) != 0) {
      mem = sx.stx_dio_mem_align;
      off = sx.stx_dio_offset_align;
    }
    if (off == 0 && dev->is_blockdev_) {
      int lbs = 0;
      if (::ioctl(dev->fd_, BLKSSZGET, &lbs) == 0 && lbs > 0) off = static_cast<uint32_t>(lbs);
    }
    if (off == 0) off = 4096;
    dev->align_ = off;
    dev->mem_align_ = std::max<uint32_t>(mem, 1);
  }

  uint64_t size = 0;
  if (dev->is_blockdev_) {
    if (::ioctl(dev->buffered_fd_, BLKGETSIZE64, &size) != 0) {
      const int e = errno;
      return Status::Error(bdev::errc::kSystem, "BLKGETSIZE64 on '" + path + "': " + Errno(e), e);
    }
  } else {
    if (::fstat(dev->buffered_fd_, &st) != 0) {
      const int e = errno;
      return Status::Error(bdev::errc::kSystem, "cannot stat '" + path + "': " + Errno(e), e);
    }
    size = static_cast<uint64_t>(st.st_size);
    if (size == 0 && size_bytes > 0) {  // an existing empty file: give it the requested size
      if (::ftruncate(dev->buffered_fd_, static_cast<off_t>(size_bytes)) != 0) {
        const int e = errno;
        return Status::Error(bdev::errc::kSystem, "cannot size '" + path + "': " + Errno(e), e);
      }
      size = size_bytes;
    }
  }
  if (size == 0) return Status::Error(bdev::errc::kFileUnusable, "'" + path + "' is empty (size 0)");
  dev->size_.store(size);

  void* zb = nullptr;
  if (posix_memalign(&zb, kScratchAlign, kZeroBufBytes) != 0)
    return Status::Error(bdev::errc::kNoMemory, "file device: cannot allocate the zero buffer");
  std::memset(zb, 0, kZeroBufBytes);
  dev->zero_buf_ = static_cast<char*>(zb);

  const int r = io_uring_queue_init(opts.queue_depth, &dev->ring_, 0);
  if (r < 0) {
    return Status::Error(bdev::errc::kSystem, "io_uring_queue_init(" + std::to_string(opts.queue_depth) +
                                 ") failed: " + Errno(-r) +
                                 (r == -EPERM ? " (io_uring disabled by kernel.io_uring_disabled?)"
                                              : r == -ENOMEM ? " (RLIMIT_MEMLOCK too low?)" : ""), -r);
  }
  dev->ring_ok_ = true;

  dev->info_.kind = "file";
  dev->info_.description = path;
  // Buffered I/O sits in the page cache, and even O_DIRECT writes may allocate blocks whose
  // metadata (or the device's own cache) needs an fdatasync: a Flush is always meaningful.
  dev->info_.volatile_write_cache = true;
  dev->info_.discard_zeroes = true;
  dev->info_.supports_discard = true;
  dev->info_.supports_write_zeroes = true;
  dev->info_.optimal_io_boundary = 0;

  FileDevice* raw = dev.get();
  dev->completer_ = std::thread([raw] { raw->CompletionLoop(); });
  return dev;
}

FileDevice::~FileDevice() {
  if (completer_.joinable()) {
    // The owner stops submitting before destroying the device; wait for what is in flight
    // (file I/O always completes), then stop the completion thread with a NOP.
    while (inflight_.load(std::memory_order_acquire) != 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (;;) {
      std::lock_guard<std::mutex> lk(sq_mu_);
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) {
        io_uring_submit(&ring_);
        continue;
      }
      io_uring_prep_nop(sqe);
      io_uring_sqe_set_data(sqe, &kStopToken);
      io_uring_submit(&ring_);
      break;
    }
    completer_.join();
  }
  if (ring_ok_) io_uring_queue_exit(&ring_);
  if (fd_ >= 0 && fd_ != buffered_fd_) ::close(fd_);
  if (buffered_fd_ >= 0) ::close(buffered_fd_);
  std::free(zero_buf_);
}

// Grows r's iovec buffer to at least n entries (only ever grows: pooled, steady state no-op).
// Must not be called while r->iov points into r->iov_buf with fewer than n entries in use
// elsewhere: realloc keeps the contents.
bool FileDevice::EnsureIov(Req* r, int n) {
  if (r->iov_cap >= n) return true;
  const bool aliased = r->iov == r->iov_buf && r->iov_buf != nullptr;
  void* p = std::realloc(r->iov_buf, sizeof(struct iovec) * static_cast<size_t>(n));
  if (p == nullptr) return false;
  r->iov_buf = static_cast<struct iovec*>(p);
  if (aliased) r->iov = r->iov_buf;
  r->iov_cap = n;
  return true;
}

bool FileDevice::Aligned(const BdevIo* io) const {
  const uint64_t m = align_ - 1;
  if (((io->offset | io->length) & m) != 0) return false;
  const uint64_t mm = mem_align_ - 1;
  for (int i = 0; i < io->iovcnt; ++i) {
    if (((reinterpret_cast<uintptr_t>(io->iov[i].iov_base) & mm) | (io->iov[i].iov_len & m)) != 0)
      return false;
  }
  return true;
}

void FileDevice::submit(BdevIo* io) {
  const uint64_t sz = size_.load(std::memory_order_acquire);
  if (io->op != BdevOp::kFlush &&
      (io->offset > sz || io->length > sz - io->offset)) {
    DeferredCompleter::Instance().Complete(io, -ERANGE);
    return;
  }
  Req* r = reqs_.get();
  if (r == nullptr) {
    DeferredCompleter::Instance().Complete(io, -ENOMEM);
    return;
  }
  inflight_.fetch_add(1, std::memory_order_relaxed);
  r->io = io;
  r->fua_after = false;
  r->use_rwf_dsync = false;
  r->warn_unaligned = false;
  r->resubmits = 0;
  r->off = io->offset;
  r->left = io->length;
  r->fd = buffered_fd_;
  r->iov = const_cast<struct iovec*>(io->iov);  // only read; copied before it is advanced
  r->iovcnt = io->iovcnt;

  int err = 0;
  switch (io->op) {
    case BdevOp::kRead:
    case BdevOp::kWrite:
      r->stage = Req::Stage::kRw;
      if (align_ != 0) {
        if (Aligned(io)) {
          r->fd = fd_;
        } else {
          unaligned_ios_.fetch_add(1, std::memory_order_relaxed);
          if (!warned_unaligned_.exchange(true)) r->warn_unaligned = true;
        }
      }
      r->use_rwf_dsync = io->op == BdevOp::kWrite && io->fua;
      break;
    case BdevOp::kCompare: {
      r->stage = Req::Stage::kRw;
      if (r->scratch_cap < io->length) {  // grows to the largest compare seen, then stays
        void* p = nullptr;
        const size_t cap = RoundUp(std::max<size_t>(io->length, 4096), kScratchAlign);
        if (posix_memalign(&p, kScratchAlign, cap) != 0) {
          err = -ENOMEM;
          break;
        }
        std::free(r->scratch);
        r->scratch = static_cast<char*>(p);
        r->scratch_cap = cap;
      }
      if (!EnsureIov(r, 4)) {
        err = -ENOMEM;
        break;
      }
      r->iov_buf[0].iov_base = r->scratch;
      r->iov_buf[0].iov_len = io->length;
      r->iov = r->iov_buf;
      r->iovcnt = 1;
      if (align_ != 0 && ((io->offset | io->length) & (align_ - 1)) == 0) r->fd = fd_;
      break;
    }
    case BdevOp::kFlush:
      r->stage = Req::Stage::kFsync;
      break;
    case BdevOp::kWriteZeroes:
      r->stage = zero_range_ok_.load(std::memory_order_relaxed) ? Req::Stage::kZeroRange
                                                                : Req::Stage::kZeroWrite;
      r->fua_after = io->fua;
      break;
    case BdevOp::kDiscard:
      r->stage = punch_ok_.load(std::memory_order_relaxed)        ? Req::Stage::kPunch
                 : zero_range_ok_.load(std::memory_order_relaxed) ? Req::Stage::kZeroRange
                                                                  : Req::Stage::kZeroWrite;
      break;
    default:
      err = -EOPNOTSUPP;
  }
  if (err == 0 && r->left == 0 && io->op != BdevOp::kFlush) r->stage = Req::Stage::kNop;
  if (err == 0 && r->stage == Req::Stage::kZeroWrite && !EnsureIov(r, kMaxZeroIov)) err = -ENOMEM;
  if (err == 0 && !Queue(r)) err = -EAGAIN;
  if (err != 0) {
    r->io = nullptr;
    reqs_.put(r);
    inflight_.fetch_sub(1, std::memory_order_relaxed);
    DeferredCompleter::Instance().Complete(io, err);
  }
}

// Prepares the SQE for r's current stage and submits it. False only if no SQE could be had.
bool FileDevice::Queue(Req* r) {
  std::lock_guard<std::mutex> lk(sq_mu_);
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    io_uring_submit(&ring_);  // make room
    sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return false;
  }
  switch (r->stage) {
    case Req::Stage::kNop:
      io_uring_prep_nop(sqe);
      break;
    case Req::Stage::kRw:
      if (r->io->op == BdevOp::kWrite)
        io_uring_prep_writev2(sqe, r->fd, r->iov, r->iovcnt, r->off,
                              r->use_rwf_dsync ? RWF_DSYNC : 0);
      else
        io_uring_prep_readv(sqe, r->fd, r->iov, r->iovcnt, r->off);
      break;
    case Req::Stage::kFsync:
      io_uring_prep_fsync(sqe, buffered_fd_, IORING_FSYNC_DATASYNC);
      break;
    case Req::Stage::kZeroRange:
      io_uring_prep_fallocate(sqe, buffered_fd_, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
                              static_cast<off_t>(r->off), static_cast<off_t>(r->left));
      break;
    case Req::Stage::kPunch:
      io_uring_prep_fallocate(sqe, buffered_fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                              static_cast<off_t>(r->off), static_cast<off_t>(r->left));
      break;
    case Req::Stage::kZeroWrite: {
      // r->iov_buf holds up to kMaxZeroIov entries pointing at the shared zero buffer.
      uint64_t left = r->left;
      int n = 0;
      while (left > 0 && n < kMaxZeroIov) {
        const size_t len = static_cast<size_t>(std::min<uint64_t>(left, kZeroBufBytes));
        r->iov_buf[n].iov_base = zero_buf_;
        r->iov_buf[n].iov_len = len;
        left -= len;
        ++n;
      }
      const bool direct_ok =
          align_ != 0 && ((r->off | (r->left - left)) & (align_ - 1)) == 0;
      io_uring_prep_writev(sqe, direct_ok ? fd_ : buffered_fd_, r->iov_buf, n, r->off);
      break;
    }
  }
  io_uring_sqe_set_data(sqe, r);
  // A failed io_uring_submit (EBUSY/EAGAIN under CQ pressure) leaves the SQE queued; the
  // completion loop submits again after reaping.
  io_uring_submit(&ring_);
  return true;
}

void FileDevice::Finish(Req* r, int32_t result) {
  BdevIo* io = r->io;
  r->io = nullptr;
  reqs_.put(r);
  io->result = result;
  io->Finish();
  inflight_.fetch_sub(1, std::memory_order_release);
}

namespace {
// Copies iov[0..cnt) minus its first `done` bytes into out (capacity >= cnt); returns count.
int AdvanceIov(const struct iovec* iov, int cnt, uint64_t done, struct iovec* out) {
  int n = 0;
  for (int i = 0; i < cnt; ++i) {
    if (done >= iov[i].iov_len) {
      done -= iov[i].iov_len;
      continue;
    }
    out[n].iov_base = static_cast<char*>(iov[i].iov_base) + done;
    out[n].iov_len = iov[i].iov_len - done;
    done = 0;
    ++n;
  }
  return n;
}
}  // namespace

void FileDevice::Step(Req* r, int res) {
  BdevIo* io = r->io;
  // io_uring ties a request to the thread that submitted it: when that thread exits while
  // the request still waits for an io-wq worker (buffered writes do), the kernel cancels it
  // with -ECANCELED. Nothing else here produces -ECANCELED (no links, timeouts or cancel
  // requests, and the ring outlives all I/O), so submit it again, from this thread.
  if (res == -ECANCELED && r->resubmits < kMaxResubmits) {
    ++r->resubmits;
    if (!Queue(r)) Finish(r, -EAGAIN);
    return;
  }
  if (r->warn_unaligned) {
    r->warn_unaligned = false;
    LOG_WARN("file device %s: I/O not aligned to %u bytes (offset %llu, length %llu, or "
             "its buffers) arrived in O_DIRECT mode; such I/O uses buffered I/O instead "
             "(warned once per device)",
             path_.c_str(), align_, static_cast<unsigned long long>(io->offset),
             static_cast<unsigned long long>(io->length));
  }
  switch (r->stage) {
    case Req::Stage::kNop:
      Finish(r, 0);
      return;

    case Req::Stage::kRw: {
      if (res < 0) return Finish(r, res);
      if (res == 0) return Finish(r, -EIO);  // EOF inside the device: the file shrank
      r->left -= static_cast<uint64_t>(res);
      r->off += static_cast<uint64_t>(res);
      if (r->left > 0) {  // short transfer: continue with the rest
        if (!EnsureIov(r, std::max(r->iovcnt, 8))) return Finish(r, -ENOMEM);
        // r->iov may alias r->iov_buf: advance in place (entries only move down).
        r->iovcnt = AdvanceIov(r->iov, r->iovcnt, static_cast<uint64_t>(res), r->iov_buf);
        r->iov = r->iov_buf;
        if (!Queue(r)) return Finish(r, -EAGAIN);
        return;
      }
      if (io->op == BdevOp::kCompare) {
        uint64_t pos = 0;
        for (int i = 0; i < io->iovcnt && pos < io->length; ++i) {
          const size_t len = std::min<uint64_t>(io->iov[i].iov_len, io->length - pos);
          if (std::memcmp(r->scratch + pos, io->iov[i].iov_base, len) != 0)
            return Finish(r, -EILSEQ);
          pos += len;
        }
      }
      return Finish(r, 0);
    }

    case Req::Stage::kFsync:
      return Finish(r, res < 0 ? res : 0);

    case Req::Stage::kPunch:
      if (res == -EOPNOTSUPP || res == -EINVAL) {
        punch_ok_.store(false, std::memory_order_relaxed);
        r->stage = zero_range_ok_.load(std::memory_order_relaxed) ? Req::Stage::kZeroRange
                                                                  : Req::Stage::kZeroWrite;
        break;  // queue the fallback below
      }
      return Finish(r, res < 0 ? res : 0);

    case Req::Stage::kZeroRange:
      if (res == -EOPNOTSUPP || res == -EINVAL) {
        zero_range_ok_.store(false, std::memory_order_relaxed);
        r->stage = Req::Stage::kZeroWrite;
        break;
      }
      if (res < 0) return Finish(r, res);
      if (r->fua_after) {
        r->fua_after = false;
        r->stage = Req::Stage::kFsync;
        break;
      }
      return Finish(r, 0);

    case Req::Stage::kZeroWrite:
      if (res < 0) return Finish(r, res);
      if (res == 0) return Finish(r, -EIO);
      r->left -= static_cast<uint64_t>(res);
      r->off += static_cast<uint64_t>(res);
      if (r->left > 0) break;  // next chunk
      if (r->fua_after) {
        r->fua_after = false;
        r->stage = Req::Stage::kFsync;
        break;
      }
      return Finish(r, 0);
  }
  // A follow-up step.
  if (r->stage == Req::Stage::kZeroWrite && !EnsureIov(r, kMaxZeroIov))
    return Finish(r, -ENOMEM);
  if (!Queue(r)) Finish(r, -EAGAIN);
}

void FileDevice::CompletionLoop() {
  constexpr unsigned kBatch = 64;
  io_uring_cqe* cqes[kBatch];
  struct Done {
    void* data;
    int res;
  } done[kBatch];
  for (;;) {
    io_uring_cqe* first = nullptr;
    const int w = io_uring_wait_cqe(&ring_, &first);
    if (w == -EINTR || w == -EAGAIN) continue;
    if (w < 0) {
      LOG_ERROR("file device %s: io_uring_wait_cqe: %s", path_.c_str(), Errno(-w).c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    // Copy the batch out and release the CQ slots before running follow-ups.
    const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kBatch);
    for (unsigned i = 0; i < n; ++i) done[i] = {io_uring_cqe_get_data(cqes[i]), cqes[i]->res};
    io_uring_cq_advance(&ring_, n);
    bool stop = false;
    for (unsigned i = 0; i < n; ++i) {
      if (done[i].data == &kStopToken) {
        stop = true;
        continue;
      }
      Step(static_cast<Req*>(done[i].data), done[i].res);
    }
    {
      // SQEs left behind by an io_uring_submit that failed under CQ pressure.
      std::lock_guard<std::mutex> lk(sq_mu_);
      if (io_uring_sq_ready(&ring_) > 0) io_uring_submit(&ring_);
    }
    if (stop) return;
  }
}

Status FileDevice::resize(uint64_t new_size) {
  std::lock_guard<std::mutex> lk(ctl_mu_);
  const uint64_t cur = size_.load();
  if (new_size == cur) return Status::OK();
  if (new_size < cur)
    return Status::Error(bdev::errc::kShrinkRefused, "file device " + path_ + ": shrinking (" +
                                   std::to_string(cur) + " -> " + std::to_string(new_size) +
                                   " bytes) is not supported");
  if (is_blockdev_)
    return Status::Error(bdev::errc::kResizeNotSupported, "file device " + path_ +
                                         ": a block device cannot be resized from here");
  if (::ftruncate(buffered_fd_, static_cast<off_t>(new_size)) != 0) {
    const int e = errno;
    return Status::Error(bdev::errc::kSystem, "ftruncate('" + path_ + "', " + std::to_string(new_size) +
                                "): " + Errno(e), e);
  }
  size_.store(new_size, std::memory_order_release);
  return Status::OK();
}

}  // namespace nvmeof
