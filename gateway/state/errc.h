// The named errors of the group state (StateStore implementations, StateApplier,
// StateFollower, state keys). librados' negative errno values become these names once, in
// rados_state.cc; an errno without a name of its own (kCeph, kSystem) and the exact
// permission errno (EPERM or EACCES) stay in Status::os_errno().
#pragma once

#include "gateway/common/status.h"

namespace nvmeof::state {

#define NVMEOF_STATE_ERRORS(X)                                                          \
  X(kBadKey, kInvalidArgument)          /* empty, omap_version, both put and removed */ \
  X(kBadValue, kInvalidArgument)        /* a value that is no JSON object of its key */ \
  X(kKeyNotFound, kNotFound)                                                            \
  X(kNoPool, kInvalidArgument)          /* no [ceph] pool configured */                 \
  X(kSystem, kOther)                    /* a local file cannot be read: os_errno() */   \
  X(kTimedOut, kOther)                  /* the cluster did not answer in time */        \
  X(kPermissionDenied, kOther)          /* os_errno(): EPERM or EACCES */               \
  X(kNoKeyring, kNotFound)              /* no key for the client */                     \
  X(kPoolNotFound, kNotFound)                                                           \
  X(kObjectNotFound, kNotFound)         /* the state object was deleted */              \
  X(kBlocklisted, kOther)               /* this client instance is blocklisted */       \
  X(kCeph, kOther)                      /* another librados error: os_errno() */        \
  X(kCorrupt, kIOError)                 /* not a gateway state object */                \
  X(kUnstable, kOther)                  /* changed during every read attempt */         \
  X(kLocked, kBusy)                     /* the lock was not obtained in time */         \
  X(kLeaseLost, kOther)                 /* another writer wrote under our lock */       \
  X(kAlreadyStarted, kBusy)             /* the follower runs already */                 \
  X(kPreviousNotRemoved, kBusy)         /* an item to re-add could not be removed */    \
  X(kParentNotApplied, kNotFound)       /* its subsystem or namespace is not applied */ \
  X(kNoInPlaceChange, kInvalidArgument)                                                 \
  X(kSecretKeyFile, kInvalidArgument)   /* the operator's key file: unreadable, bad */  \
  X(kSecretNotOpened, kInvalidArgument) /* not sealed, or sealed under another key */
NVMEOF_DEFINE_ERRC("state", NVMEOF_STATE_ERRORS)

}  // namespace nvmeof::state
