// Status: the result of a control-path operation (LevelDB style), and Result<T>: a value
// or an error. The data path returns plain NVMe status codes or negative errno values instead.
// An error is a named code of the module that produced it (an `errc` enum in that module's
// errc.h, Redpanda style: nvmf::errc, bdev::errc, state::errc, api::errc, and common's errc
// below for generic failures), a message, and, where the OS or Ceph gave one, the errno it
// gave (os_errno(), a detail: Ceph's or the kernel's errno is converted to a named code once,
// where it is returned). Callers ask what went wrong with the generic predicates
// (IsNotFound(), ...) or compare with a module's name (st.Is(nvmf::errc::kNsidInUse)); no
// layer compares errno values. The errno values the management API answers are chosen in one
// place, api::ToErrno (api/errc.h).
// Result<T>::value(), operator* and operator-> on an error are bugs: they log and abort, in
// every build (NVMEOF_CHECK). Check ok() first.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include "gateway/common/check.h"

namespace nvmeof {

// The generic class of an error, what the Status predicates ask.
enum class ErrorKind : uint8_t {
  kInvalidArgument,
  kNotFound,
  kNoDevice,
  kAlreadyExists,
  kBusy,
  kIOError,
  kOther,
};

// One per module error enum: its name and the kind and name of each of its codes.
class ErrorCategory {
 public:
  virtual const char* name() const = 0;                // "nvmf"
  virtual const char* code_name(int code) const = 0;  // "kSubsystemNotFound"
  virtual ErrorKind kind(int code) const = 0;

 protected:
  ~ErrorCategory() = default;
};

struct ErrorInfo {
  const char* name;
  ErrorKind kind;
};

// A category described by a table indexed by code.
class TableErrorCategory final : public ErrorCategory {
 public:
  template <std::size_t N>
  constexpr TableErrorCategory(const char* name, const ErrorInfo (&table)[N]) : name_(name), table_(table), n_(N) {}
  const char* name() const override { return name_; }
  const char* code_name(int code) const override { return Valid(code) ? table_[code].name : "unknown"; }
  ErrorKind kind(int code) const override { return Valid(code) ? table_[code].kind : ErrorKind::kOther; }

 private:
  bool Valid(int code) const { return code >= 0 && static_cast<std::size_t>(code) < n_; }
  const char* name_;
  const ErrorInfo* table_;
  std::size_t n_;
};

// An error enum: a scoped enum with an ErrorCategoryOf overload (found by ADL).
template <typename E>
concept ErrorEnum = std::is_enum_v<E> && requires(E e) {
  { ErrorCategoryOf(e) } -> std::same_as<const ErrorCategory&>;
};

// A module's `enum class errc` and its category from one list LIST(X) of X(name, kind)
// entries, in the module's namespace.
#define NVMEOF_ERRC_ENUMERATOR(name, kind) name,
#define NVMEOF_ERRC_INFO(name, kind) {#name, ::nvmeof::ErrorKind::kind},
#define NVMEOF_DEFINE_ERRC(category_name, LIST)                                 \
  enum class errc : int { LIST(NVMEOF_ERRC_ENUMERATOR) };                       \
  inline const ::nvmeof::ErrorCategory& ErrorCategoryOf(errc) {                 \
    static constexpr ::nvmeof::ErrorInfo kInfo[] = {LIST(NVMEOF_ERRC_INFO)};    \
    static const ::nvmeof::TableErrorCategory kCategory(category_name, kInfo); \
    return kCategory;                                                           \
  }

// Generic failures of code that has no errors of its own (options, sizes, sockets, the
// daemon's start-up).
#define NVMEOF_COMMON_ERRORS(X)                                  \
  X(kInvalidArgument, kInvalidArgument)                          \
  X(kNotFound, kNotFound)                                        \
  X(kNoDevice, kNoDevice)                                        \
  X(kAlreadyExists, kAlreadyExists)                              \
  X(kBusy, kBusy)                                                \
  X(kIOError, kIOError)                                          \
  X(kOutOfRange, kOther)           /* a number too large */      \
  X(kNotSupported, kOther)         /* not built into this binary */ \
  X(kAddressInUse, kOther)         /* a server port is taken */  \
  X(kSystem, kOther)               /* a system call failed: os_errno() says how */
NVMEOF_DEFINE_ERRC("common", NVMEOF_COMMON_ERRORS)

class Status {
 public:
  Status() = default;  // OK
  static Status OK() { return Status(); }
  // A module's named error; os_errno is the errno the OS or Ceph gave, if any (positive).
  template <ErrorEnum E>
  static Status Error(E e, std::string msg, int os_errno = 0) {
    return Status(&ErrorCategoryOf(e), static_cast<int>(e), os_errno, std::move(msg));
  }
  // Generic errors (common's errc).
  static Status InvalidArgument(std::string msg) { return Error(errc::kInvalidArgument, std::move(msg)); }
  static Status NotFound(std::string msg) { return Error(errc::kNotFound, std::move(msg)); }
  static Status NoDevice(std::string msg) { return Error(errc::kNoDevice, std::move(msg)); }
  static Status AlreadyExists(std::string msg) { return Error(errc::kAlreadyExists, std::move(msg)); }
  static Status Busy(std::string msg) { return Error(errc::kBusy, std::move(msg)); }
  static Status IOError(std::string msg) { return Error(errc::kIOError, std::move(msg)); }

  bool ok() const { return cat_ == nullptr; }
  bool IsInvalidArgument() const { return kind() == ErrorKind::kInvalidArgument; }
  bool IsNotFound() const { return kind() == ErrorKind::kNotFound; }
  bool IsNoDevice() const { return kind() == ErrorKind::kNoDevice; }
  bool IsAlreadyExists() const { return kind() == ErrorKind::kAlreadyExists; }
  bool IsBusy() const { return kind() == ErrorKind::kBusy; }
  bool IsIOError() const { return kind() == ErrorKind::kIOError; }
  // Exactly this module error.
  template <ErrorEnum E>
  bool Is(E e) const {
    return cat_ == &ErrorCategoryOf(e) && code_ == static_cast<int>(e);
  }
  // The error as an E when it is one of E's (else nullopt-like: false).
  template <ErrorEnum E>
  bool In(E* e) const {
    if (cat_ != &ErrorCategoryOf(E{})) return false;
    *e = static_cast<E>(code_);
    return true;
  }
  const ErrorCategory* category() const { return cat_; }  // nullptr when OK
  int os_errno() const { return os_errno_; }                // 0 when none was given
  const std::string& message() const { return msg_; }
  // "message (nvmf.kSubsystemNotFound)", for logs.
  std::string ToString() const {
    if (ok()) return "OK";
    return msg_ + " (" + cat_->name() + "." + cat_->code_name(code_) + ")";
  }

 private:
  Status(const ErrorCategory* cat, int code, int os_errno, std::string msg)
      : cat_(cat), code_(code), os_errno_(os_errno), msg_(std::move(msg)) {}
  ErrorKind kind() const { return ok() ? ErrorKind::kOther : cat_->kind(code_); }

  const ErrorCategory* cat_ = nullptr;
  int code_ = 0;
  int os_errno_ = 0;
  std::string msg_;
};

// A value or an error. The value of an error is a bug (aborts): check ok() first.
template <typename T>
class Result {
 public:
  Result(T v) : value_(std::move(v)) {}            // NOLINT: implicit on purpose
  Result(Status s) : status_(std::move(s)) {}      // NOLINT
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() {
    CheckOk();
    return value_;
  }
  const T& value() const {
    CheckOk();
    return value_;
  }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void CheckOk() const {
    NVMEOF_CHECK(ok(), "value of a Result holding an error: %s", status_.ToString().c_str());
  }

  Status status_;
  T value_{};
};

}  // namespace nvmeof
