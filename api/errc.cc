#include "api/errc.h"

#include <cerrno>

#include "gateway/ha/errc.h"
#include "gateway/nvmf/errc.h"
#include "gateway/state/errc.h"
#include "rbd-backend/errc.h"

namespace nvmeof::api {

namespace {

// An errno the OS or Ceph gave; EIO if none was kept.
int Os(const Status& st) { return st.os_errno() > 0 ? st.os_errno() : EIO; }

// No default labels: -Wswitch (-Wall -Werror) rejects a name without an errno.
int Errno(::nvmeof::errc e) {
  using E = ::nvmeof::errc;
  switch (e) {
    case E::kInvalidArgument: return EINVAL;
    case E::kNotFound: return ENOENT;
    case E::kNoDevice: return ENODEV;
    case E::kAlreadyExists: return EEXIST;
    case E::kBusy: return EBUSY;
    case E::kIOError: return EIO;
    case E::kOutOfRange: return ERANGE;
    case E::kNotSupported: return ENOTSUP;
    case E::kAddressInUse: return EADDRINUSE;
    case E::kSystem: return 0;  // os_errno
  }
  return EIO;
}

int Errno(nvmf::errc e) {
  using E = nvmf::errc;
  switch (e) {
    case E::kInvalidNqn: return EINVAL;
    case E::kSubsystemExists: return EEXIST;
    case E::kSubsystemNotFound: return ENOENT;
    case E::kSubsystemHasNamespaces: return EBUSY;
    case E::kBadBlockSize: return EINVAL;
    case E::kBadDevice: return EINVAL;
    case E::kTooManyNamespaces: return E2BIG;
    case E::kNsidOutOfRange: return E2BIG;
    case E::kNsidInUse: return EEXIST;
    case E::kUuidInUse: return EEXIST;
    case E::kNamespaceNotFound: return ENODEV;
    case E::kShrinkRefused: return EINVAL;
    case E::kBadAnaGroupId: return EINVAL;
    case E::kAnaGroupNotFound: return ENODEV;
    case E::kBadAnaState: return EINVAL;
    case E::kDiscoveryHasNoAna: return EINVAL;
    case E::kNamespaceAutoVisible: return EINVAL;
    case E::kNamespaceHostExists: return EEXIST;
    case E::kNamespaceHostNotFound: return ENOENT;
    case E::kAnyHostAlreadyAllowed: return EEXIST;
    case E::kHostExists: return EEXIST;
    case E::kAnyHostNotAllowed: return ENOENT;
    case E::kHostNotAllowed: return ENOENT;
    case E::kListenerExists: return EEXIST;
    case E::kListenerNotFound: return ENOENT;
    case E::kTransportExists: return EEXIST;
    case E::kNoTransport: return EINVAL;
    case E::kNoFreeCntlid: return EBUSY;
    case E::kDrainTimeout: return ETIMEDOUT;
  }
  return EIO;
}

int Errno(bdev::errc e) {
  using E = bdev::errc;
  switch (e) {
    case E::kBadSpec: return EINVAL;
    case E::kRbdUnavailable: return ENODEV;
    case E::kFileNotFound: return ENOENT;
    case E::kFileUnusable: return EINVAL;
    case E::kShrinkRefused: return EINVAL;
    case E::kResizeNotSupported: return EOPNOTSUPP;
    case E::kNoMemory: return ENOMEM;
    case E::kSystem: return 0;  // os_errno
    case E::kImageSizeMissing: return EINVAL;
    case E::kPoolNotFound: return ENOENT;
    case E::kRadosNamespaceNotFound: return ENOENT;
    case E::kImageNotFound: return ENOENT;
    case E::kPermissionDenied: return EPERM;
    case E::kAuthenticationFailed: return EACCES;
    case E::kTimedOut: return ETIMEDOUT;
    case E::kBlocklisted: return ESHUTDOWN;
    case E::kCeph: return 0;  // os_errno
  }
  return EIO;
}

int Errno(state::errc e) {
  using E = state::errc;
  switch (e) {
    case E::kBadKey: return EINVAL;
    case E::kBadValue: return EINVAL;
    case E::kKeyNotFound: return ENOENT;
    case E::kNoPool: return EINVAL;
    case E::kSystem: return 0;            // os_errno
    case E::kTimedOut: return ETIMEDOUT;
    case E::kPermissionDenied: return 0;  // os_errno: EPERM or EACCES as Ceph said
    case E::kNoKeyring: return ENOENT;
    case E::kPoolNotFound: return ENOENT;
    case E::kObjectNotFound: return ENOENT;
    case E::kBlocklisted: return ESHUTDOWN;
    case E::kCeph: return 0;  // os_errno
    case E::kCorrupt: return EIO;
    case E::kUnstable: return EAGAIN;
    case E::kLocked: return EBUSY;
    case E::kLeaseLost: return ECANCELED;
    case E::kAlreadyStarted: return EBUSY;
    case E::kPreviousNotRemoved: return EBUSY;
    case E::kParentNotApplied: return ENOENT;
    case E::kNoInPlaceChange: return EINVAL;
    case E::kSecretKeyFile: return EINVAL;
    case E::kSecretNotOpened: return ENOKEY;
  }
  return EIO;
}

int Errno(ha::errc e) {
  using E = ha::errc;
  switch (e) {
    case E::kNoFreeHomeGroup: return ENOSPC;
    case E::kBlocklisted: return ESHUTDOWN;
    case E::kPermissionDenied: return 0;  // os_errno: EPERM or EACCES as Ceph said
    case E::kNotConnected: return ENOTCONN;
    case E::kMemberAlive: return EBUSY;
    case E::kMemberNotFound: return ENOENT;
    case E::kCeph: return 0;  // os_errno
  }
  return EIO;
}

int Errno(api::errc e) {
  using E = api::errc;
  switch (e) {
    case E::kInvalidRequest: return EINVAL;
    case E::kLimitReached: return E2BIG;
    case E::kSubsystemExists: return EEXIST;
    case E::kSerialInUse: return EEXIST;
    case E::kNsidInUse: return EEXIST;
    case E::kUuidInUse: return EEXIST;
    case E::kImageInUse: return EEXIST;
    case E::kHostExists: return EEXIST;
    case E::kListenerExists: return EEXIST;
    case E::kHostKeyMissing: return ENOKEY;
    case E::kKeyConflict: return EINVAL;
    case E::kNoEncryptionKey: return ENOKEY;
  }
  return EIO;
}

template <typename E>
bool Map(const Status& st, int* out) {
  E e{};
  if (!st.In(&e)) return false;
  const int v = Errno(e);
  *out = v != 0 ? v : Os(st);
  return true;
}

}  // namespace

int ToErrno(const Status& st) {
  if (st.ok()) return 0;
  int v = EIO;  // an error of no module above: cannot happen, EIO says "internal"
  Map<::nvmeof::errc>(st, &v) || Map<nvmf::errc>(st, &v) || Map<bdev::errc>(st, &v) || Map<state::errc>(st, &v) ||
      Map<ha::errc>(st, &v) || Map<api::errc>(st, &v);
  return v;
}

}  // namespace nvmeof::api
