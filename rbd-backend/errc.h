// The named errors of the block backends (memory, file, RBD): what opening, creating or
// resizing a device can fail with. Ceph's and the kernel's negative errno values are turned
// into these names once, where librados, librbd or the system call returns them; an errno
// that has no name of its own (kSystem, kCeph) stays in Status::os_errno().
#pragma once

#include "gateway/common/status.h"

namespace nvmeof::bdev {

#define NVMEOF_BDEV_ERRORS(X)                                                         \
  X(kBadSpec, kInvalidArgument)        /* a device spec or option is malformed */    \
  X(kRbdUnavailable, kNoDevice)        /* no Ceph cluster configured */               \
  X(kFileNotFound, kNotFound)          /* no such file and no size to create it */    \
  X(kFileUnusable, kInvalidArgument)   /* not a file or block device, empty, size */  \
  X(kShrinkRefused, kInvalidArgument)  /* devices only grow */                        \
  X(kResizeNotSupported, kOther)       /* a block device is not resized from here */  \
  X(kNoMemory, kOther)                                                                \
  X(kSystem, kOther)                   /* a system call failed: os_errno() */         \
  X(kImageSizeMissing, kInvalidArgument) /* image absent and no size to create it */  \
  X(kPoolNotFound, kNotFound)                                                         \
  X(kRadosNamespaceNotFound, kNotFound)                                               \
  X(kImageNotFound, kNotFound)                                                        \
  X(kPermissionDenied, kOther)         /* the client's caps do not allow it */        \
  X(kAuthenticationFailed, kOther)     /* wrong or missing key, unknown user */       \
  X(kTimedOut, kOther)                 /* the cluster did not answer in time */       \
  X(kBlocklisted, kOther)              /* this client instance is blocklisted */      \
  X(kCeph, kOther)                     /* another librados/librbd error: os_errno() */
NVMEOF_DEFINE_ERRC("bdev", NVMEOF_BDEV_ERRORS)

}  // namespace nvmeof::bdev
