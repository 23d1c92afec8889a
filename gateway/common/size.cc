// Sizes with binary units: see size.h.
#include "gateway/common/size.h"

#include <cctype>
#include <limits>
#include <string>

namespace nvmeof {

namespace {
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

Result<std::uint64_t> ParseSize(std::string_view text, unsigned bare_shift) {
  const auto trim = [](std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  };
  const std::string_view original = trim(text);
  std::string_view s = original;
  const auto not_numeric = [&] {
    return Status::InvalidArgument("Size " + std::string(original) +
                                   " must be numeric, optionally followed by a unit "
                                   "(K, KB, M, MB, G, GB, T, TB, P, PB; a bare number means " +
                                   (bare_shift == 20 ? "MiB" : bare_shift == 0 ? "bytes" : "2^" + std::to_string(bare_shift) + " bytes") + ")");
  };

  std::size_t digits = 0;
  while (digits < s.size() && IsAsciiDigit(s[digits])) ++digits;
  if (digits == 0) return not_numeric();
  const std::string_view number = s.substr(0, digits);
  std::string unit(trim(s.substr(digits)));
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));

  int shift;
  if (unit.empty()) {
    shift = static_cast<int>(bare_shift);
  } else if (unit == "B") {
    shift = 0;
  } else {
    static constexpr std::string_view kUnits = "KMGTP";
    const auto pos = kUnits.find(unit[0]);
    const std::string_view suffix = std::string_view(unit).substr(1);
    if (pos == std::string_view::npos || !(suffix.empty() || suffix == "B" || suffix == "I" || suffix == "IB"))
      return not_numeric();
    shift = 10 * static_cast<int>(pos + 1);
  }

  std::uint64_t value = 0;
  for (char c : number) {
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
      return Status::Error(errc::kOutOfRange, "Size " + std::string(original) + " is too large");
    value = value * 10 + d;
  }
  if (shift > 0 && value > (std::numeric_limits<std::uint64_t>::max() >> shift))
    return Status::Error(errc::kOutOfRange, "Size " + std::string(original) + " is too large");
  return value << shift;
}

}  // namespace nvmeof
