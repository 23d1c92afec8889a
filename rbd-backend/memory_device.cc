// Sparse in-memory block device: 1 MiB chunks allocated on first write, zeroes elsewhere.
// Completes every I/O from inside submit() (the sink defers processing, see block_device.h).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "rbd-backend/block_device.h"

namespace nvmeof {
namespace {

constexpr uint64_t kChunkShift = 20;
constexpr uint64_t kChunkSize = 1ull << kChunkShift;

struct ChunkTable {
  explicit ChunkTable(uint64_t n) : slots(new std::atomic<uint8_t*>[n]), count(n) {
    for (uint64_t i = 0; i < n; i++) slots[i].store(nullptr, std::memory_order_relaxed);
  }
  std::unique_ptr<std::atomic<uint8_t*>[]> slots;
  uint64_t count;
};

class MemoryDevice final : public BlockDevice {
 public:
  explicit MemoryDevice(uint64_t size) : size_(size) {
    info_.kind = "memory";
    info_.description = "sparse RAM";
    info_.discard_zeroes = true;
    info_.volatile_write_cache = false;
    auto t = std::make_unique<ChunkTable>((size + kChunkSize - 1) >> kChunkShift);
    table_.store(t.get());
    tables_.push_back(std::move(t));
  }
  ~MemoryDevice() override {
    std::unordered_set<uint8_t*> chunks;
    for (auto& t : tables_)
      for (uint64_t i = 0; i < t->count; i++)
        if (uint8_t* c = t->slots[i].load()) chunks.insert(c);
    for (uint8_t* c : chunks) free(c);
  }

  uint64_t size() const override { return size_.load(std::memory_order_relaxed); }
  const BdevInfo& info() const override { return info_; }

  void submit(BdevIo* io) override {
    io->result = Execute(io);
    io->Finish();
  }

  Status resize(uint64_t new_size) override {
    std::lock_guard<std::mutex> lk(resize_mu_);
    ChunkTable* old = table_.load();
    uint64_t n = (new_size + kChunkSize - 1) >> kChunkShift;
    if (n > old->count) {
      auto t = std::make_unique<ChunkTable>(n);
      for (uint64_t i = 0; i < old->count; i++) t->slots[i].store(old->slots[i].load());
      table_.store(t.get());
      tables_.push_back(std::move(t));
    }
    size_.store(new_size);
    notify_resized(new_size);
    return Status::OK();
  }

 private:
  uint8_t* Chunk(uint64_t idx, bool create) {
    for (;;) {
      ChunkTable* t = table_.load(std::memory_order_acquire);
      if (idx >= t->count) return nullptr;
      uint8_t* c = t->slots[idx].load(std::memory_order_acquire);
      if (c || !create) return c;
      auto* fresh = static_cast<uint8_t*>(calloc(1, kChunkSize));
      if (!fresh) return nullptr;
      if (t->slots[idx].compare_exchange_strong(c, fresh)) {
        if (table_.load(std::memory_order_acquire) == t) return fresh;
        continue;  // a resize copied the table meanwhile: install in the new one too
      }
      free(fresh);
      if (table_.load(std::memory_order_acquire) == t) return c;
    }
  }

  // Walks [offset, offset+length) chunk by chunk alongside the iovec.
  template <typename Fn>
  int Walk(const BdevIo* io, bool create, Fn&& fn) {
    uint64_t off = io->offset, left = io->length;
    int vi = 0;
    size_t voff = 0;
    while (left > 0) {
      if (vi >= io->iovcnt) return -EINVAL;
      uint64_t in_chunk = kChunkSize - (off & (kChunkSize - 1));
      uint64_t in_iov = io->iov[vi].iov_len - voff;
      uint64_t n = std::min({left, in_chunk, in_iov});
      uint8_t* c = Chunk(off >> kChunkShift, create);
      if (create && !c) return -ENOMEM;
      int r = fn(c ? c + (off & (kChunkSize - 1)) : nullptr,
                 static_cast<uint8_t*>(io->iov[vi].iov_base) + voff, n);
      if (r) return r;
      off += n;
      left -= n;
      voff += n;
      if (voff == io->iov[vi].iov_len) vi++, voff = 0;
    }
    return 0;
  }

  int Execute(BdevIo* io) {
    if (io->op != BdevOp::kFlush && (io->offset > size() || io->length > size() - io->offset))
      return -ERANGE;
    switch (io->op) {
      case BdevOp::kRead:
        return Walk(io, false, [](uint8_t* src, uint8_t* dst, uint64_t n) {
          if (src) memcpy(dst, src, n); else memset(dst, 0, n);
          return 0;
        });
      case BdevOp::kWrite:
        return Walk(io, true, [](uint8_t* dst, uint8_t* src, uint64_t n) {
          memcpy(dst, src, n);
          return 0;
        });
      case BdevOp::kCompare:
        return Walk(io, false, [](uint8_t* stored, uint8_t* host, uint64_t n) {
          if (stored) return memcmp(stored, host, n) ? -EILSEQ : 0;
          for (uint64_t i = 0; i < n; i++)
            if (host[i]) return -EILSEQ;
          return 0;
        });
      case BdevOp::kWriteZeroes:
      case BdevOp::kDiscard: {
        uint64_t off = io->offset, left = io->length;
        while (left > 0) {
          uint64_t n = std::min(left, kChunkSize - (off & (kChunkSize - 1)));
          if (uint8_t* c = Chunk(off >> kChunkShift, false)) memset(c + (off & (kChunkSize - 1)), 0, n);
          off += n;
          left -= n;
        }
        return 0;
      }
      case BdevOp::kFlush:
        return 0;
    }
    return -EINVAL;
  }

  std::atomic<uint64_t> size_;
  BdevInfo info_;
  std::atomic<ChunkTable*> table_{nullptr};
  std::mutex resize_mu_;
  std::vector<std::unique_ptr<ChunkTable>> tables_;
};

}  // namespace

std::unique_ptr<BlockDevice> OpenMemoryDevice(uint64_t size_bytes) {
  return std::make_unique<MemoryDevice>(size_bytes);
}

}  // namespace nvmeof
