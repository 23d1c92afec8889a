#include "gateway/common/log.h"

#include <sys/time.h>
#include <time.h>

#include <cstring>
#include <mutex>

#include "gateway/common/strings.h"

namespace nvmeof {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
}

LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }
void SetLogLevel(LogLevel l) { g_level.store(static_cast<int>(l)); }

const char* LogLevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarning: return "WARNING";
    case LogLevel::kError: return "ERROR";
    case LogLevel::kCritical: return "CRITICAL";
  }
  return "?";
}

bool ParseLogLevel(const std::string& s, LogLevel* out) {
  const std::string v = Lower(Trim(s));
  if (v == "debug" || v == "10") *out = LogLevel::kDebug;
  else if (v == "info" || v == "notset" || v == "20") *out = LogLevel::kInfo;
  else if (v == "warning" || v == "warn" || v == "30") *out = LogLevel::kWarning;
  else if (v == "error" || v == "40") *out = LogLevel::kError;
  else if (v == "critical" || v == "fatal" || v == "50") *out = LogLevel::kCritical;
  else return false;
  return true;
}

void LogLine(LogLevel l, const char* fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[32];
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(stderr, "%s.%03dZ %-7s %s\n", ts, static_cast<int>(tv.tv_usec / 1000), LogLevelName(l), msg);
}

}  // namespace nvmeof
