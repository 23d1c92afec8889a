// The named errors of the NVMe-oF core's control path (Target, Subsystem, AnaTable,
// TransportRegistry): one per failure a caller or the management API tells apart. The data
// path answers NVMe status codes instead (nvme.h).
#pragma once

#include "gateway/common/status.h"

namespace nvmeof::nvmf {

#define NVMEOF_NVMF_ERRORS(X)                                                          \
  X(kInvalidNqn, kInvalidArgument)          /* bad length, or the discovery NQN */     \
  X(kSubsystemExists, kAlreadyExists)                                                  \
  X(kSubsystemNotFound, kNotFound)                                                     \
  X(kSubsystemHasNamespaces, kBusy)         /* removal without force */                \
  X(kBadBlockSize, kInvalidArgument)                                                   \
  X(kBadDevice, kInvalidArgument)           /* none, or smaller than one block */      \
  X(kTooManyNamespaces, kOther)             /* gateway or subsystem maximum reached */ \
  X(kNsidOutOfRange, kInvalidArgument)      /* larger than the subsystem's maximum */  \
  X(kNsidInUse, kAlreadyExists)                                                        \
  X(kUuidInUse, kAlreadyExists)                                                        \
  X(kNamespaceNotFound, kNoDevice)                                                     \
  X(kShrinkRefused, kInvalidArgument)       /* namespaces only grow */                 \
  X(kBadAnaGroupId, kInvalidArgument)       /* a namespace's group out of range */     \
  X(kAnaGroupNotFound, kNoDevice)           /* an ANA state for a group out of range */ \
  X(kBadAnaState, kInvalidArgument)                                                    \
  X(kDiscoveryHasNoAna, kInvalidArgument)                                              \
  X(kNamespaceAutoVisible, kInvalidArgument) /* per-host visibility on a shared one */ \
  X(kNamespaceHostExists, kAlreadyExists)                                              \
  X(kNamespaceHostNotFound, kNotFound)                                                 \
  X(kAnyHostAlreadyAllowed, kAlreadyExists)                                            \
  X(kHostExists, kAlreadyExists)                                                       \
  X(kAnyHostNotAllowed, kNotFound)                                                     \
  X(kHostNotAllowed, kNotFound)                                                        \
  X(kListenerExists, kAlreadyExists)                                                   \
  X(kListenerNotFound, kNotFound)                                                      \
  X(kTransportExists, kAlreadyExists)                                                  \
  X(kNoTransport, kInvalidArgument)         /* no transport of the listener's type */  \
  X(kNoFreeCntlid, kBusy)                                                               \
  X(kDrainTimeout, kBusy)           /* I/O still in flight when a drain's time was up */
NVMEOF_DEFINE_ERRC("nvmf", NVMEOF_NVMF_ERRORS)

}  // namespace nvmeof::nvmf
