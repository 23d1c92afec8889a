// RBD backend: a Ceph RBD image behind a namespace, through librbd's asynchronous API.
//
// Semantics (details and measurements in docs/ceph.md, "RBD backend"):
//  * read/write: rbd_aio_readv / rbd_aio_writev on the caller's iovec (no gathering copy of
//    ours; librbd copies write data once into its bufferlist: its zero-copy mode hangs
//    writes after blocklisting, see rados_pool.cc).
//  * flush: rbd_aio_flush. write zeroes: rbd_aio_write_zeroes (reads back zeroes).
//  * discard: rbd_aio_discard. librbd 16 skips partial-object discards
//    (rbd_skip_partial_discard), so the data may stay: info().discard_zeroes = false.
//  * compare: rbd_aio_read into the request's pooled scratch buffer, then memcmp: -EILSEQ
//    on a mismatch (not atomic with respect to concurrent writes, as NVMe allows).
//  * cache / FUA: info().volatile_write_cache follows librbd's effective rbd_cache for the
//    image (cluster config, pool and image overrides). Cache off (our default): a completed
//    write is on the OSDs, FUA needs nothing. Cache on: FUA writes and write-zeroes are
//    followed by rbd_aio_flush before they complete.
//  * optimal_io_boundary = the image's object size.
//  * resize(): grows with rbd_resize2; shrinking is refused (EINVAL). An outside resize
//    (`rbd resize`) is seen through rbd_update_watch; the pool's maintenance thread re-reads
//    the size and calls the resize callback (never on a reactor, never from librbd's thread).
//    A read-only image gets no header notifications and its handle keeps the size it was
//    opened with: the maintenance thread reads the size from the header object every
//    read_only_size_check_s (and refresh_size() at once), and a growth is taken by opening
//    the image again (the old handle is closed once its I/O completed).
//  * faults: -ESHUTDOWN (108, blocklisted) makes healthy() false; with recover_blocklisted
//    the image is reopened on a new client instance after a delay (see rados_pool.h), or
//    at once when RadosClusterPool::RecoverBlocklisted asks.
//    In-flight I/O that makes no progress for stall_timeout_s makes healthy() false until
//    I/O completes again. I/O is bounded by osd_op_timeout_s (-ETIMEDOUT).
//  * Per I/O: no heap allocation of ours in steady state (requests are pooled). librbd
//    allocates its AioCompletion (rbd_aio_create_completion) and its own request state for
//    every I/O; that cannot be avoided through its API.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "rbd-backend/block_device.h"
#include "rbd-backend/rados_pool.h"

namespace nvmeof {

struct RbdSpec {
  std::string pool_name;
  std::string rados_namespace;  // empty = the pool's default namespace
  std::string image_name;
  bool create = false;          // create the image (size_bytes) if it does not exist;
                                // an existing image is opened as it is
  uint64_t size_bytes = 0;
  std::string data_pool;        // with create: the image's data pool (e.g. erasure-coded)
  bool read_only = false;       // opened read-only (no exclusive lock; writes are refused)
};

// Diagnostics beyond BlockDevice (tests, management API "namespace info").
class RbdDevice : public BlockDevice {
 public:
  std::string client_address() const override = 0;  // of the client instance in use
  virtual uint64_t client_instance_id() const = 0;
  virtual bool blocklisted() const = 0;  // saw -ESHUTDOWN and has not recovered yet
  virtual bool stalled() const = 0;      // in-flight I/O without progress > stall_timeout_s
  virtual uint64_t recoveries() const = 0;  // successful reopens after blocklisting
  virtual uint64_t object_size() const = 0;
};

// Opens (or, with spec.create, creates and opens) an image. Blocks (control path).
// Errors: ENOENT "pool 'x' does not exist" / "namespace ..." / "image ... does not exist";
// EACCES authentication (wrong key, unknown user, no keyring); EPERM missing caps;
// ETIMEDOUT cluster unreachable (message names the mon address); EINVAL bad spec.
Result<std::unique_ptr<BlockDevice>> OpenRbdDevice(const std::shared_ptr<RadosClusterPool>& pool,
                                                   const RbdSpec& spec);

// Moves an image to the RBD trash (rbd_trash_move, no deferment), on a pooled connection.
// The caller has closed its own device on the image first. Blocks (control path). Errors:
// ENOENT (kImageNotFound) when the image is not there (already trashed or removed);
// EPERM/EACCES (kPermissionDenied); any other librbd error (kCeph, os_errno), e.g. EBUSY
// while the image cannot be taken from another client.
Status TrashRbdImage(const std::shared_ptr<RadosClusterPool>& pool, const RbdSpec& spec);

}  // namespace nvmeof
