// NVMEOF_CHECK(cond, fmt, ...): a programming-error check that stays in release builds
// (unlike <cassert>): when `cond` is false it logs a critical line naming the file, line,
// condition and the printf-style message, and aborts. For bugs only: conditions the code
// must handle (bad input, I/O errors) are errors returned as values, never checks.
#pragma once

namespace nvmeof {

[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));

}  // namespace nvmeof

#define NVMEOF_CHECK(cond, fmt, ...)                                                      \
  do {                                                                                    \
    if (!(cond)) [[unlikely]]                                                             \
      ::nvmeof::CheckFailed(__FILE__, __LINE__, #cond, fmt __VA_OPT__(, ) __VA_ARGS__); \
  } while (0)
