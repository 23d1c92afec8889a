// Helpers for golden-byte tests of wire structures (tests only).
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <sstream>
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

// A value of T with every byte zero.
template <typename T>
T Zeroed() {
  T v;
  memset(&v, 0, sizeof(v));
  return v;
}

// Byte-for-byte comparison that names the first differing offsets.
inline ::testing::AssertionResult SameBytes(const Bytes& got, const Bytes& want) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << " != " << want.size();
  }
  std::ostringstream os;
  int diffs = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] == want[i]) continue;
    if (diffs++ < 16) {
      os << "\n  offset " << i << ": got 0x" << std::hex << int(got[i]) << " want 0x"
         << int(want[i]) << std::dec;
    }
  }
  if (diffs == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << diffs << " byte(s) differ:" << os.str();
}

}  // namespace nvmeof::golden
