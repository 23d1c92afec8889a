// The management API's own named errors (request validation and the conflicts it finds in
// the group state), and ToErrno: the one place where an error of any module becomes the
// errno value the API answers (the `status` field of every reply; gwcli shows it). No other
// layer returns or compares errno values for control-path errors. Pure functions, any thread.
#pragma once

#include "gateway/common/status.h"

namespace nvmeof::api {

#define NVMEOF_API_ERRORS(X)                                             \
  X(kInvalidRequest, kInvalidArgument) /* a field fails validation */    \
  X(kSubsystemExists, kAlreadyExists)  /* in the group state */          \
  X(kSerialInUse, kAlreadyExists)      /* by another subsystem */        \
  X(kNsidInUse, kAlreadyExists)                                          \
  X(kUuidInUse, kAlreadyExists)                                          \
  X(kImageInUse, kAlreadyExists)       /* by another namespace */        \
  X(kHostExists, kAlreadyExists)                                         \
  X(kListenerExists, kAlreadyExists)                                     \
  X(kHostKeyMissing, kInvalidArgument) /* a subsystem or controller key needs one */ \
  X(kKeyConflict, kInvalidArgument)    /* subsystem key vs host controller keys */ \
  X(kNoEncryptionKey, kNotFound)       /* a key to seal or open, no key file */ \
  X(kLimitReached, kOther)             /* a configured maximum ([gateway] max_*) */
NVMEOF_DEFINE_ERRC("api", NVMEOF_API_ERRORS)

// The errno the management API answers for `st`: 0 when OK; for an error whose name stands
// for an OS or Ceph errno (kSystem, kCeph, state's kPermissionDenied) that errno.
int ToErrno(const Status& st);

}  // namespace nvmeof::api
