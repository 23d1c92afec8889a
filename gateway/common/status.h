// Status: the result of a control-path operation (LevelDB style), and Result<T>: a value
// or an error. The data path returns plain NVMe status codes or negative errno values instead.
// Callers ask what went wrong with the predicates (IsNotFound(), ...), not by errno; code()
// is for the edge that reports errno values (the management API).
// Result<T>::value(), operator* and operator-> on an error are bugs: they log and abort, in
// every build (NVMEOF_CHECK). Check ok() first.
#pragma once

#include <cerrno>
#include <string>
#include <utility>

#include "gateway/common/check.h"

namespace nvmeof {

class Status {
 public:
  Status() = default;  // OK
  static Status OK() { return Status(); }
  // errno-valued errors: the management API reports exactly these values.
  static Status Error(int err, std::string msg) { return Status(err, std::move(msg)); }
  static Status InvalidArgument(std::string msg) { return Status(EINVAL, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(ENOENT, std::move(msg)); }
  static Status NoDevice(std::string msg) { return Status(ENODEV, std::move(msg)); }
  static Status AlreadyExists(std::string msg) { return Status(EEXIST, std::move(msg)); }
  static Status Busy(std::string msg) { return Status(EBUSY, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(EIO, std::move(msg)); }

  bool ok() const { return code_ == 0; }
  bool IsInvalidArgument() const { return code_ == EINVAL; }
  bool IsNotFound() const { return code_ == ENOENT; }
  bool IsNoDevice() const { return code_ == ENODEV; }
  bool IsAlreadyExists() const { return code_ == EEXIST; }
  bool IsBusy() const { return code_ == EBUSY; }
  bool IsIOError() const { return code_ == EIO; }
  int code() const { return code_; }  // positive errno, 0 when OK
  const std::string& message() const { return msg_; }
  std::string ToString() const {
    return ok() ? std::string("OK") : msg_ + " (errno " + std::to_string(code_) + ")";
  }

 private:
  Status(int code, std::string msg) : code_(code), msg_(std::move(msg)) {}
  int code_ = 0;
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
