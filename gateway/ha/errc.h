// The named errors of gateway-group HA (GroupStore implementations, HaManager). librados'
// negative errno values become these names once, where the RADOS store gets them
// (rados_group_store.cc); an errno without a name of its own stays in Status::os_errno().
#pragma once

#include "gateway/common/status.h"

namespace nvmeof::ha {

#define NVMEOF_HA_ERRORS(X)                                                    \
  X(kNoFreeHomeGroup, kBusy)     /* every home ANA group is taken */          \
  X(kBlocklisted, kOther)        /* this client instance is blocklisted */    \
  X(kPermissionDenied, kOther)   /* os_errno(): EPERM or EACCES */            \
  X(kNotConnected, kOther)       /* no cluster connection (yet, or any more) */ \
  X(kMemberAlive, kBusy)         /* the member to remove is alive */           \
  X(kMemberNotFound, kNotFound)  /* no such member record */                   \
  X(kCeph, kOther)               /* another librados error: os_errno() */
NVMEOF_DEFINE_ERRC("ha", NVMEOF_HA_ERRORS)

}  // namespace nvmeof::ha
