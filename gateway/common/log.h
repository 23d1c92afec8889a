// Operator-facing log lines: one line per event that matters, to stderr.
//   2026-11-21T12:00:00.123Z INFO  [subsystem nqn... host nqn... cntlid 1] message
#pragma once

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace nvmeof {

enum class LogLevel : int { kDebug = 10, kInfo = 20, kWarning = 30, kError = 40, kCritical = 50 };

LogLevel GetLogLevel();
void SetLogLevel(LogLevel l);
// A level as the reference (Python logging) and this gateway spell it, any case, blanks
// around allowed: debug, info (notset), warning (warn), error, critical (fatal), or the
// numbers 10, 20, 30, 40, 50.
bool ParseLogLevel(const std::string& s, LogLevel* out);
const char* LogLevelName(LogLevel l);
void LogLine(LogLevel l, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

inline bool LogEnabled(LogLevel l) { return static_cast<int>(l) >= static_cast<int>(GetLogLevel()); }

}  // namespace nvmeof

#define NVMEOF_LOG(level, ...)                                                   \
  do {                                                                           \
    if (::nvmeof::LogEnabled(level)) ::nvmeof::LogLine(level, __VA_ARGS__);      \
  } while (0)
#define LOG_DEBUG(...) NVMEOF_LOG(::nvmeof::LogLevel::kDebug, __VA_ARGS__)
#define LOG_INFO(...) NVMEOF_LOG(::nvmeof::LogLevel::kInfo, __VA_ARGS__)
#define LOG_WARN(...) NVMEOF_LOG(::nvmeof::LogLevel::kWarning, __VA_ARGS__)
#define LOG_ERROR(...) NVMEOF_LOG(::nvmeof::LogLevel::kError, __VA_ARGS__)
#define LOG_FATAL(...)                                            \
  do {                                                            \
    ::nvmeof::LogLine(::nvmeof::LogLevel::kCritical, __VA_ARGS__); \
    std::abort();                                                 \
  } while (0)
