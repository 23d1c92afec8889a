// Helpers for golden-byte tests of wire structures (tests only).
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace nvmeof::golden {

using Bytes = std::vector<uint8_t>;

// "01 02 ab" (whitespace and '|' ignored) -> bytes.
inline Bytes Hex(const std::string& s) {
  Bytes out;
  int hi = -1;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '|') continue;
    int v = std::isdigit(static_cast<unsigned char>(c))
                ? c - '0'
                : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    if (v < 0 || v > 15) ADD_FAILURE() << "bad hex char '" << c << "'";
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  if (hi >= 0) ADD_FAILURE() << "odd number of hex digits";
  return out;
}

// The bytes of a (packed, little-endian) structure as it goes on the wire.
template <typename T>
Bytes Raw(const T& v) {
  Bytes b(sizeof(T));
  memcpy(b.data(), &v, sizeof(T));
  return b;
}

}  // namespace nvmeof::golden
