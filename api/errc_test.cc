#include "api/errc.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "gateway/nvmf/errc.h"
#include "gateway/state/errc.h"
#include "rbd-backend/errc.h"

namespace nvmeof::api {
namespace {

// Status::Error takes only a module's named error: no errno can be passed in, and no errno
// can be read back out except through ToErrno.
template <typename T>
concept ErrorFrom = requires(T e) { Status::Error(e, std::string()); };
static_assert(!ErrorFrom<int>);
static_assert(ErrorFrom<nvmf::errc> && ErrorFrom<bdev::errc> && ErrorFrom<state::errc> && ErrorFrom<api::errc> &&
              ErrorFrom<::nvmeof::errc>);
template <typename S>
concept HasErrnoCode = requires(S s) { s.code(); };
static_assert(!HasErrnoCode<Status>);

struct Case {
  Status st;
  int want;
};

// Every name of every module, with the errno the API answers for it. The count check below
// fails when a module gains a name that is missing here.
#define COUNT(name, kind) +1
constexpr int kNames = 0 NVMEOF_COMMON_ERRORS(COUNT) NVMEOF_NVMF_ERRORS(COUNT) NVMEOF_BDEV_ERRORS(COUNT)
    NVMEOF_STATE_ERRORS(COUNT) NVMEOF_API_ERRORS(COUNT);
#undef COUNT

template <typename E>
Case C(E e, int want, int os_errno = 0) {
  return {Status::Error(e, "m", os_errno), want};
}

std::vector<Case> AllNames() {
  using G = ::nvmeof::errc;
  using N = nvmf::errc;
  using B = bdev::errc;
  using S = state::errc;
  using A = api::errc;
  return {
      C(G::kInvalidArgument, EINVAL), C(G::kNotFound, ENOENT), C(G::kNoDevice, ENODEV),
      C(G::kAlreadyExists, EEXIST), C(G::kBusy, EBUSY), C(G::kIOError, EIO), C(G::kOutOfRange, ERANGE),
      C(G::kNotSupported, ENOTSUP), C(G::kAddressInUse, EADDRINUSE), C(G::kSystem, EADDRNOTAVAIL, EADDRNOTAVAIL),

      C(N::kInvalidNqn, EINVAL), C(N::kSubsystemExists, EEXIST), C(N::kSubsystemNotFound, ENOENT),
      C(N::kSubsystemHasNamespaces, EBUSY), C(N::kBadBlockSize, EINVAL), C(N::kBadDevice, EINVAL),
      C(N::kTooManyNamespaces, E2BIG), C(N::kNsidOutOfRange, E2BIG), C(N::kNsidInUse, EEXIST),
      C(N::kUuidInUse, EEXIST), C(N::kNamespaceNotFound, ENODEV), C(N::kShrinkRefused, EINVAL),
      C(N::kBadAnaGroupId, EINVAL), C(N::kAnaGroupNotFound, ENODEV), C(N::kBadAnaState, EINVAL),
      C(N::kDiscoveryHasNoAna, EINVAL), C(N::kNamespaceAutoVisible, EINVAL), C(N::kNamespaceHostExists, EEXIST),
      C(N::kNamespaceHostNotFound, ENOENT), C(N::kAnyHostAlreadyAllowed, EEXIST), C(N::kHostExists, EEXIST),
      C(N::kAnyHostNotAllowed, ENOENT), C(N::kHostNotAllowed, ENOENT), C(N::kListenerExists, EEXIST),
      C(N::kListenerNotFound, ENOENT), C(N::kTransportExists, EEXIST), C(N::kNoTransport, EINVAL),
      C(N::kNoFreeCntlid, EBUSY), C(N::kDrainTimeout, ETIMEDOUT),

      C(B::kBadSpec, EINVAL), C(B::kRbdUnavailable, ENODEV), C(B::kFileNotFound, ENOENT),
      C(B::kFileUnusable, EINVAL), C(B::kShrinkRefused, EINVAL), C(B::kResizeNotSupported, EOPNOTSUPP),
      C(B::kNoMemory, ENOMEM), C(B::kSystem, EROFS, EROFS), C(B::kImageSizeMissing, EINVAL),
      C(B::kPoolNotFound, ENOENT), C(B::kRadosNamespaceNotFound, ENOENT), C(B::kImageNotFound, ENOENT),
      C(B::kPermissionDenied, EPERM), C(B::kAuthenticationFailed, EACCES), C(B::kTimedOut, ETIMEDOUT),
      C(B::kBlocklisted, ESHUTDOWN), C(B::kCeph, EDQUOT, EDQUOT),

      C(S::kBadKey, EINVAL), C(S::kBadValue, EINVAL), C(S::kKeyNotFound, ENOENT), C(S::kNoPool, EINVAL),
      C(S::kSystem, EACCES, EACCES), C(S::kTimedOut, ETIMEDOUT), C(S::kPermissionDenied, EACCES, EACCES),
      C(S::kNoKeyring, ENOENT), C(S::kPoolNotFound, ENOENT), C(S::kObjectNotFound, ENOENT),
      C(S::kBlocklisted, ESHUTDOWN), C(S::kCeph, ENOSPC, ENOSPC), C(S::kCorrupt, EIO), C(S::kUnstable, EAGAIN),
      C(S::kLocked, EBUSY), C(S::kLeaseLost, ECANCELED), C(S::kAlreadyStarted, EBUSY),
      C(S::kPreviousNotRemoved, EBUSY), C(S::kParentNotApplied, ENOENT), C(S::kNoInPlaceChange, EINVAL),
      C(S::kSecretKeyFile, EINVAL), C(S::kSecretNotOpened, ENOKEY),

      C(A::kInvalidRequest, EINVAL), C(A::kSubsystemExists, EEXIST), C(A::kSerialInUse, EEXIST),
      C(A::kNsidInUse, EEXIST), C(A::kUuidInUse, EEXIST), C(A::kImageInUse, EEXIST), C(A::kHostExists, EEXIST),
      C(A::kListenerExists, EEXIST), C(A::kHostKeyMissing, ENOKEY), C(A::kKeyConflict, EINVAL),
      C(A::kNoEncryptionKey, ENOKEY),
      C(A::kLimitReached, E2BIG),
  };
}

TEST(ToErrno, EveryNamedError) {
  const std::vector<Case> cases = AllNames();
  ASSERT_EQ(static_cast<int>(cases.size()), kNames) << "a named error is missing from this table";
  for (const Case& c : cases) EXPECT_EQ(ToErrno(c.st), c.want) << c.st.ToString();
}

TEST(ToErrno, OkIsZero) { EXPECT_EQ(ToErrno(Status::OK()), 0); }

// The names that stand for an OS or Ceph errno answer that errno (EPERM and EACCES from
// Ceph stay apart); without one they answer EIO.
TEST(ToErrno, OsErrnoDetail) {
  EXPECT_EQ(ToErrno(Status::Error(state::errc::kPermissionDenied, "m", EPERM)), EPERM);
  EXPECT_EQ(ToErrno(Status::Error(bdev::errc::kCeph, "m", ENOENT)), ENOENT);
  EXPECT_EQ(ToErrno(Status::Error(bdev::errc::kCeph, "m")), EIO);
  EXPECT_EQ(ToErrno(Status::Error(::nvmeof::errc::kSystem, "m")), EIO);
  // A name with an errno of its own ignores a detail.
  EXPECT_EQ(ToErrno(Status::Error(bdev::errc::kImageNotFound, "m", EPERM)), ENOENT);
}

}  // namespace
}  // namespace nvmeof::api
