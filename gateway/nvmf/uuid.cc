// UUIDs: see uuid.h.
#include "gateway/nvmf/uuid.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string_view>

namespace nvmeof {

std::string UuidToString(const Uuid& u) {
  char b[37];
  snprintf(b, sizeof(b), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
           u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
           u[15]);
  return b;
}

bool ParseUuid(const std::string& s, Uuid* out) {
  if (s.size() != 36) return false;
  int j = 0;
  for (size_t i = 0; i < s.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
      i++;
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(s[i]), lo = hex(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[j++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return j == 16;
}

// A name-based UUID (RFC 9562 version 8): the same name always gives the same UUID, so a
// namespace defined by configuration keeps its identity across restarts.
Uuid NameUuid(const std::string& name) {
  auto mix = [](uint64_t h, uint64_t seed) {
    for (unsigned char c : std::string_view(reinterpret_cast<const char*>(&seed), 8)) h = (h ^ c) * 0x100000001b3ull;
    return h;
  };
  uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
  for (unsigned char c : name) {
    a = (a ^ c) * 0x100000001b3ull;
    b = (b ^ c) * 0x100000001b3ull;
    b ^= b >> 29;
  }
  a = mix(a, b);
  b = mix(b, a);
  Uuid u;
  memcpy(u.data(), &a, 8);
  memcpy(u.data() + 8, &b, 8);
  u[6] = (u[6] & 0x0F) | 0x80;  // version 8
  u[8] = (u[8] & 0x3F) | 0x80;  // RFC variant
  return u;
}

Uuid RandomUuid() {
  Uuid u;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, u.data(), u.size()) : -1;
  if (fd >= 0) close(fd);
  if (n != static_cast<ssize_t>(u.size())) {
    std::random_device rd;
    for (auto& b : u) b = static_cast<uint8_t>(rd());
  }
  u[6] = (u[6] & 0x0F) | 0x40;  // version 4
  u[8] = (u[8] & 0x3F) | 0x80;  // RFC 4122 variant
  return u;
}
}  // namespace nvmeof
