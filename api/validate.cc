#include "api/validate.h"

#include "gateway/common/size.h"
#include "gateway/state/state_keys.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <limits>

namespace nvmeof::api {
namespace {

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlnum(char c) { return IsAsciiAlpha(c) || IsAsciiDigit(c); }
bool IsHexDigit(char c) {
  return IsAsciiDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Strict UTF-8 check (no overlongs, no surrogates, max U+10FFFF).
bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(extra) >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr std::array<std::uint32_t, 4> kMin = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

// Checks one reverse-domain label; returns the reason when invalid.
std::string CheckDomainLabel(std::string_view label) {
  if (label.empty()) return "empty domain label doesn't start with a letter";
  if (label.size() > 63) return "domain label " + std::string(label) + " is too long";
  if (!IsAsciiAlpha(label.front()))
    return "domain label " + std::string(label) + " doesn't start with a letter";
  if (label.back() == '-')
    return "domain label " + std::string(label) + " doesn't end with an alphanumeric character";
  for (char c : label) {
    if (!IsAsciiAlnum(c) && c != '-')
      return "domain label " + std::string(label) +
             " contains a character which is not [a-z,A-Z,0-9,'-','.']";
  }
  return {};
}

}  // namespace

// ---- NQNs -------------------------------------------------------------------

bool IsDiscoveryNqn(std::string_view nqn) { return nqn == kDiscoveryNqn; }


Status ValidateNqn(std::string_view nqn) {
  if (!IsValidUtf8(nqn))
    return Status::Error(errc::kInvalidRequest, "Invalid NQN " + Quoted(nqn) + ", must have an UTF-8 encoding");
  if (nqn.size() < kNqnMinLength)
    return Status::Error(errc::kInvalidRequest, "NQN " + Quoted(nqn) + " is too short, minimal length is " +
                                   std::to_string(kNqnMinLength));
  if (nqn.size() > kNqnMaxLength)
    return Status::Error(errc::kInvalidRequest, "NQN " + Quoted(nqn) + " is too long, maximal length is " +
                                   std::to_string(kNqnMaxLength));
  if (IsDiscoveryNqn(nqn)) return Status::OK();

  const std::string prefix = "Invalid NQN " + Quoted(nqn);
  if (nqn.starts_with(kUuidNqnPrefix)) {
    const std::string_view uuid = nqn.substr(kUuidNqnPrefix.size());
    if (uuid.size() != 36)
      return Status::Error(errc::kInvalidRequest, prefix + ": UUID is not the correct length");
    if (!ValidateUuid(uuid).ok())
      return Status::Error(errc::kInvalidRequest, prefix + ": UUID is not formatted correctly");
    return Status::OK();
  }

  if (!nqn.starts_with("nqn."))
    return Status::Error(errc::kInvalidRequest, prefix + ", doesn't start with \"nqn.\"");

  // "yyyy-mm." date code.
  const std::string_view rest = nqn.substr(4);
  const auto bad_date = [&] {
    return Status::Error(errc::kInvalidRequest, prefix +
                                   ": invalid date code, expected \"nqn.yyyy-mm.\" with a year and a "
                                   "month (01-12)");
  };
  if (rest.size() < 8 || rest[4] != '-' || rest[7] != '.') return bad_date();
  for (int i : {0, 1, 2, 3, 5, 6})
    if (!IsAsciiDigit(rest[i])) return bad_date();
  const int month = (rest[5] - '0') * 10 + (rest[6] - '0');
  if (month < 1 || month > 12) return bad_date();

  const std::string_view domain_and_user = rest.substr(8);
  const auto colon = domain_and_user.find(':');
  if (colon == std::string_view::npos || colon + 1 == domain_and_user.size())
    return Status::Error(errc::kInvalidRequest, prefix +
                                   ": must contain a user specified name starting with a \":\"");

  std::string_view domain = domain_and_user.substr(0, colon);
  while (true) {
    const auto dot = domain.find('.');
    const std::string reason = CheckDomainLabel(domain.substr(0, dot));
    if (!reason.empty())
      return Status::Error(errc::kInvalidRequest, prefix +
                                     ": reverse domain is not formatted correctly: " + reason);
    if (dot == std::string_view::npos) break;
    domain.remove_prefix(dot + 1);
  }
  return Status::OK();
}

Status ValidateSubsystemNqn(std::string_view nqn) {
  if (nqn.empty()) return Status::Error(errc::kInvalidRequest, "missing subsystem NQN");
  if (StateKeyElementHasSeparator(nqn))
    return Status::Error(errc::kInvalidRequest, "Invalid subsystem NQN " + Quoted(nqn) +
                                   ", contains invalid characters");
  if (Status s = ValidateNqn(nqn); !s.ok()) return s;
  if (IsDiscoveryNqn(nqn))
    return Status::Error(errc::kInvalidRequest, "Can't use a discovery NQN as subsystem's");
  return Status::OK();
}

Status ValidateHostNqn(std::string_view nqn, bool allow_any) {
  if (nqn == kAnyHostNqn) {
    if (allow_any) return Status::OK();
    return Status::Error(errc::kInvalidRequest, "Host NQN \"*\" is not allowed here, please use a real NQN");
  }
  if (nqn.empty()) return Status::Error(errc::kInvalidRequest, "missing host NQN");
  if (StateKeyElementHasSeparator(nqn))
    return Status::Error(errc::kInvalidRequest, "Invalid host NQN " + Quoted(nqn) +
                                   ", contains invalid characters");
  if (Status s = ValidateNqn(nqn); !s.ok()) return s;
  if (IsDiscoveryNqn(nqn)) return Status::Error(errc::kInvalidRequest, "Can't use a discovery NQN as host's");
  return Status::OK();
}

// ---- Other identifiers --------------------------------------------------------

Status ValidateUuid(std::string_view uuid) {
  static constexpr std::array<std::size_t, 4> kDashes = {8, 13, 18, 23};
  const auto bad = [&] {
    return Status::Error(errc::kInvalidRequest, "Invalid UUID " + Quoted(uuid) +
                                   ", expected 32 hexadecimal digits as "
                                   "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
  };
  if (uuid.size() != 36) return bad();
  for (std::size_t i = 0; i < uuid.size(); ++i) {
    const bool dash_pos = i == kDashes[0] || i == kDashes[1] || i == kDashes[2] || i == kDashes[3];
    if (dash_pos ? uuid[i] != '-' : !IsHexDigit(uuid[i])) return bad();
  }
  return Status::OK();
}

Status ValidateSerialNumber(std::string_view serial) {
  const std::string prefix = "Invalid serial number " + Quoted(serial);
  if (serial.empty()) return Status::Error(errc::kInvalidRequest, "Invalid serial number, it can't be empty");
  if (serial.size() > kSerialNumberMaxLength)
    return Status::Error(errc::kInvalidRequest, prefix + ": too long, maximal length is " +
                                   std::to_string(kSerialNumberMaxLength));
  bool only_spaces = true;
  for (char c : serial) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e)
      return Status::Error(errc::kInvalidRequest, prefix + ": only printable ASCII characters are allowed");
    if (c != ' ') only_spaces = false;
  }
  if (only_spaces) return Status::Error(errc::kInvalidRequest, prefix + ": can't be only spaces");
  return Status::OK();
}

Status ValidateHostName(std::string_view host_name) {
  if (host_name.empty()) return Status::Error(errc::kInvalidRequest, "missing host name");
  const std::string prefix = "Invalid host name " + Quoted(host_name);
  if (StateKeyElementHasSeparator(host_name))
    return Status::Error(errc::kInvalidRequest, prefix + ", contains invalid characters");
  if (host_name.size() > kHostNameMaxLength)
    return Status::Error(errc::kInvalidRequest, prefix + ": too long, maximal length is " +
                                   std::to_string(kHostNameMaxLength));
  std::string_view rest = host_name;
  while (true) {
    const auto dot = rest.find('.');
    const std::string_view label = rest.substr(0, dot);
    if (label.empty())
      return Status::Error(errc::kInvalidRequest, prefix + ": empty label");
    if (label.size() > 63)
      return Status::Error(errc::kInvalidRequest, prefix + ": label " + std::string(label) +
                                     " is longer than 63 characters");
    if (label.front() == '-' || label.back() == '-')
      return Status::Error(errc::kInvalidRequest, prefix + ": label " + std::string(label) +
                                     " starts or ends with '-'");
    for (char c : label)
      if (!IsAsciiAlnum(c) && c != '-')
        return Status::Error(errc::kInvalidRequest, prefix + ": only [a-z,A-Z,0-9,'-','.'] are allowed");
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  return Status::OK();
}

// ---- Listeners -------------------------------------------------------------------

std::string EscapeAddressIfIpv6(std::string_view addr) {
  std::string_view a = addr;
  while (!a.empty() && std::isspace(static_cast<unsigned char>(a.front()))) a.remove_prefix(1);
  if (addr.find(':') != std::string_view::npos && !a.starts_with('['))
    return "[" + std::string(addr) + "]";
  return std::string(addr);
}

std::string UnescapeAddress(std::string_view addr) {
  while (!addr.empty() && std::isspace(static_cast<unsigned char>(addr.front())))
    addr.remove_prefix(1);
  while (!addr.empty() && std::isspace(static_cast<unsigned char>(addr.back())))
    addr.remove_suffix(1);
  if (addr.starts_with('[')) addr.remove_prefix(1);
  if (addr.ends_with(']')) addr.remove_suffix(1);
  return std::string(addr);
}

Status ValidateListenerAddress(std::string_view traddr, AddressFamily adrfam) {
  if (adrfam != AddressFamily::kIpv4 && adrfam != AddressFamily::kIpv6)
    return Status::Error(errc::kInvalidRequest, "Invalid address family " +
                                   std::to_string(static_cast<int>(adrfam)) +
                                   ", use ipv4 or ipv6");
  const std::string addr = UnescapeAddress(traddr);
  if (addr.empty()) return Status::Error(errc::kInvalidRequest, "missing address");
  unsigned char buf[16];
  const bool is_v4 = inet_pton(AF_INET, addr.c_str(), buf) == 1;
  const bool is_v6 = !is_v4 && inet_pton(AF_INET6, addr.c_str(), buf) == 1;
  if (!is_v4 && !is_v6) return Status::Error(errc::kInvalidRequest, "Invalid IP address " + Quoted(addr));
  if (adrfam == AddressFamily::kIpv4 && !is_v4)
    return Status::Error(errc::kInvalidRequest, "IP address " + addr + " is not an IPv4 address");
  if (adrfam == AddressFamily::kIpv6 && !is_v6)
    return Status::Error(errc::kInvalidRequest, "IP address " + addr + " is not an IPv6 address");
  return Status::OK();
}

Status ValidatePort(std::int64_t port) {
  if (port <= 0) return Status::Error(errc::kInvalidRequest, "trsvcid value must be positive");
  if (port > 0xffff) return Status::Error(errc::kInvalidRequest, "trsvcid value must be smaller than 65536");
  return Status::OK();
}

Result<NetworkMask> ParseNetworkMask(std::string_view cidr) {
  const std::string text(cidr);
  const auto bad = [&] { return Status::Error(errc::kInvalidRequest, "Invalid subnet " + Quoted(text)); };
  const auto slash = text.find('/');
  const std::string addr = text.substr(0, slash);
  NetworkMask m;
  if (inet_pton(AF_INET, addr.c_str(), m.addr) == 1) {
    m.ipv6 = false;
  } else if (inet_pton(AF_INET6, addr.c_str(), m.addr) == 1) {
    m.ipv6 = true;
  } else {
    return bad();
  }
  const unsigned max = m.ipv6 ? 128 : 32;
  m.prefix = max;
  if (slash != std::string::npos) {
    const std::string p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 || !std::all_of(p.begin(), p.end(), [](unsigned char c) { return std::isdigit(c); }))
      return bad();
    m.prefix = static_cast<unsigned>(std::stoul(p));
    if (m.prefix > max) return bad();
  }
  return m;
}

bool NetworkMaskContains(const NetworkMask& mask, std::string_view addr) {
  const std::string a = UnescapeAddress(addr);
  unsigned char buf[16] = {};
  if (inet_pton(mask.ipv6 ? AF_INET6 : AF_INET, a.c_str(), buf) != 1) return false;
  unsigned bits = mask.prefix;
  for (unsigned i = 0; bits > 0; ++i) {
    const unsigned n = bits >= 8 ? 8 : bits;
    const unsigned char keep = static_cast<unsigned char>(0xff00u >> n);
    if ((buf[i] & keep) != (mask.addr[i] & keep)) return false;
    bits -= n;
  }
  return true;
}

// ---- Namespaces -------------------------------------------------------------------

Status ValidateBlockSize(std::uint32_t block_size) {
  if (block_size == 0) return Status::Error(errc::kInvalidRequest, "block size can't be zero");
  if (block_size != 512 && block_size != 4096)
    return Status::Error(errc::kInvalidRequest, "block size " + std::to_string(block_size) +
                                   " is not supported, use 512 or 4096");
  return Status::OK();
}

Status ValidateNsid(std::uint32_t nsid) {
  if (nsid == 0) return Status::Error(errc::kInvalidRequest, "nsid value must be positive");
  if (nsid == 0xffffffffu)
    return Status::Error(errc::kInvalidRequest, "nsid value 4294967295 is the broadcast NSID, not a namespace ID");
  return Status::OK();
}

Status ValidateRbdName(std::string_view what, std::string_view name) {
  if (name.find('/') != std::string_view::npos)
    return Status::Error(errc::kInvalidRequest, std::string(what) + " name \"" + std::string(name) + "\" can't contain '/'");
  return Status::OK();
}

Status ValidateImageSize(std::uint64_t bytes) {
  if (bytes == 0) return Status::Error(errc::kInvalidRequest, "size value must be positive");
  if (bytes % (1024 * 1024) != 0)
    return Status::Error(errc::kInvalidRequest, "image size must be aligned to MiBs");
  return Status::OK();
}

Status ValidateBackendSize(std::uint64_t bytes, std::uint32_t block_size) {
  if (bytes == 0) return Status::Error(errc::kInvalidRequest, "size value must be positive");
  if (block_size == 0) return Status::Error(errc::kInvalidRequest, "block size can't be zero");
  if (bytes % block_size != 0)
    return Status::Error(errc::kInvalidRequest, "size " + std::to_string(bytes) +
                                   " is not a multiple of the block size " +
                                   std::to_string(block_size));
  return Status::OK();
}

// ---- Sizes ------------------------------------------------------------------------

Result<std::uint64_t> ParseSize(std::string_view text) { return nvmeof::ParseSize(text, 20); }

std::string FormatSize(std::uint64_t bytes) {
  static constexpr std::array<const char*, 6> kUnits = {"Bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  char buf[64];
  if (value == static_cast<double>(static_cast<std::uint64_t>(value)))
    std::snprintf(buf, sizeof(buf), "%llu %s",
                  static_cast<unsigned long long>(static_cast<std::uint64_t>(value)), kUnits[unit]);
  else
    std::snprintf(buf, sizeof(buf), "%.1f %s", value, kUnits[unit]);
  return buf;
}

// ---- Limits -------------------------------------------------------------------

namespace {

Status Reached(const std::string& what, std::uint32_t max) {
  return Status::Error(errc::kLimitReached, what + " (" + std::to_string(max) + ") has already been reached");
}

}  // namespace

Status ValidateMaxNamespaces(std::uint32_t max_namespaces) {
  if (max_namespaces > kMaxNamespacesPerSubsystemCap)
    return Status::Error(errc::kInvalidRequest,
                         "Max namespaces can't be greater than " + std::to_string(kMaxNamespacesPerSubsystemCap));
  return Status::OK();
}

Status CheckSubsystemLimit(std::size_t subsystems, std::uint32_t max_subsystems) {
  return subsystems >= max_subsystems ? Reached("Maximal number of subsystems", max_subsystems) : Status::OK();
}

Status CheckSubsystemHostLimit(std::size_t subsystem_hosts, std::uint32_t max_hosts_per_subsystem) {
  return subsystem_hosts >= max_hosts_per_subsystem
             ? Reached("Maximal number of hosts for subsystem", max_hosts_per_subsystem)
             : Status::OK();
}

Status CheckHostLimit(std::size_t hosts, std::uint32_t max_hosts) {
  return hosts >= max_hosts ? Reached("Maximal number of hosts", max_hosts) : Status::OK();
}

Status CheckNamespaceHostLimit(std::size_t namespace_hosts, std::uint32_t max_hosts_per_namespace) {
  return namespace_hosts >= max_hosts_per_namespace
             ? Reached("Maximal host count for namespace", max_hosts_per_namespace)
             : Status::OK();
}

}  // namespace nvmeof::api
