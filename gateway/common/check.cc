#include "gateway/common/check.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "gateway/common/log.h"

namespace nvmeof {

void CheckFailed(const char* file, int line, const char* cond, const char* fmt, ...) {
  char what[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  LogLine(LogLevel::kCritical, "%s:%d: check failed: %s: %s", file, line, cond, what);
  std::abort();
}

}  // namespace nvmeof
