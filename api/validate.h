// Request validation helpers for the management API (pure functions: no I/O,
// no gRPC, no protobuf).
//
// Every check returns a Status carrying the errno the reference gateway
// (ceph-nvmeof) answers with - EINVAL, E2BIG (kLimitReached) for the limits - and a message that
// says what is wrong and what is accepted. Where the reference has a known
// message, the same wording is used, because operators and tests grep for it.
// The messages are the *reason*; callers prefix them with the operation, e.g.
// "Failure creating subsystem <nqn>: " + status.message().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/errc.h"
#include "gateway/common/status.h"

namespace nvmeof::api {

// ---- NQNs (NVMe base specification, "NVMe Qualified Names") ----------------

inline constexpr std::string_view kDiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";
inline constexpr std::string_view kUuidNqnPrefix = "nqn.2014-08.org.nvmexpress:uuid:";
inline constexpr std::size_t kNqnMinLength = 11;
inline constexpr std::size_t kNqnMaxLength = 223;  // bytes, UTF-8
// add_host/remove_host: "*" means "any host".
inline constexpr std::string_view kAnyHostNqn = "*";

bool IsDiscoveryNqn(std::string_view nqn);

// NQN syntax as the NVMe specification and the reference define it:
//   * 11..223 bytes of valid UTF-8;
//   * "nqn.2014-08.org.nvmexpress:uuid:" followed by a UUID
//     (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hexadecimal), or
//   * "nqn.yyyy-mm.<reverse domain>:<user string>": a 4-digit year and a
//     01..12 month, a reverse domain of dot-separated labels (1..63 chars of
//     [A-Za-z0-9-], starting with a letter, not ending with '-') and a
//     non-empty user string after the first ':'.
// The discovery NQN is syntactically valid here; see ValidateSubsystemNqn.
// Does not check for '_' (StateKeyElementHasSeparator, gateway/state/state_keys.h).
Status ValidateNqn(std::string_view nqn);

// A subsystem NQN as create_subsystem accepts it: no '_', valid syntax, not
// the discovery NQN.
Status ValidateSubsystemNqn(std::string_view nqn);

// A host NQN as add_host accepts it: "*" when allow_any is true; otherwise no
// '_', valid syntax, not the discovery NQN.
Status ValidateHostNqn(std::string_view nqn, bool allow_any = true);

// ---- Other identifiers ------------------------------------------------------

// Canonical textual UUID: 36 characters, 8-4-4-4-12 hexadecimal digits.
Status ValidateUuid(std::string_view uuid);

// Subsystem serial number (Identify Controller SN): 1..20 printable ASCII
// characters (0x20..0x7e), not only spaces. Empty is NOT accepted here: the
// server generates one ("Ceph<digits>") before validating.
inline constexpr std::size_t kSerialNumberMaxLength = 20;
Status ValidateSerialNumber(std::string_view serial);

// Name of the gateway a listener belongs to (create_listener host_name): a DNS
// host name (1..253 chars, dot-separated labels of 1..63 [A-Za-z0-9-] chars not
// starting or ending with '-'), without '_' (state key delimiter).
inline constexpr std::size_t kHostNameMaxLength = 253;
Status ValidateHostName(std::string_view host_name);

// ---- Listeners ---------------------------------------------------------------

// Same values as the proto enum AddressFamily.
enum class AddressFamily : int { kIpv4 = 0, kIpv6 = 1 };

// A listener transport address: a numeric IPv4 (dotted quad) or IPv6 address
// of the given family. An IPv6 address may be given in brackets ("[::1]").
// Host names are not accepted.
Status ValidateListenerAddress(std::string_view traddr, AddressFamily adrfam);

// trsvcid: 1..65535.
Status ValidatePort(std::int64_t port);

// "[addr]" for IPv6 addresses (anything containing ':'), addr otherwise;
// already bracketed addresses are returned unchanged.
std::string EscapeAddressIfIpv6(std::string_view addr);
// Strips surrounding white space and one pair of brackets.
std::string UnescapeAddress(std::string_view addr);

// A subsystem network mask (create_subsystem network_mask, add_subsystem_network): an
// IPv4 or IPv6 network in CIDR notation, "ADDR/PREFIX" (host bits may be set, as Python's
// ip_network(strict=False) allows; "ADDR" alone is the one address). InvalidArgument
// "Invalid subnet" otherwise.
struct NetworkMask {
  bool ipv6 = false;
  unsigned char addr[16] = {};
  unsigned prefix = 0;  // 0..32 (IPv4) or 0..128 (IPv6)
};
Result<NetworkMask> ParseNetworkMask(std::string_view cidr);
// Whether the numeric address `addr` (brackets allowed) lies inside `mask` (same family).
bool NetworkMaskContains(const NetworkMask& mask, std::string_view addr);

// ---- Namespaces -----------------------------------------------------------------

// Logical block size: 512 or 4096. 0 is rejected ("block size can't be zero").
Status ValidateBlockSize(std::uint32_t block_size);

// Namespace ID given by a client: 1..0xfffffffe (0 and the broadcast value
// 0xffffffff are not namespace IDs).
Status ValidateNsid(std::uint32_t nsid);

// An RBD image or RADOS namespace name (`what`: "RBD image", "RADOS namespace"): no '/',
// which separates pool, namespace and image.
Status ValidateRbdName(std::string_view what, std::string_view name);

// Size of an RBD image to create (namespace_add size, bytes): positive and a
// multiple of 1 MiB.
Status ValidateImageSize(std::uint64_t bytes);

// Size of a memory/file-backed namespace: positive and a multiple of the
// block size.
Status ValidateBackendSize(std::uint64_t bytes, std::uint32_t block_size);

// ---- Limits (the reference's [gateway] max_* keys) --------------------------
// Each takes how many there are now and the maximum; kLimitReached (E2BIG) when one more
// would exceed it. The namespace limits are the Target's (Target::CheckNamespaceLimits).

// The largest max_namespaces a subsystem may ask for (create_subsystem; EINVAL above it:
// "Max namespaces can't be greater than 2048").
inline constexpr std::uint32_t kMaxNamespacesPerSubsystemCap = 2048;
Status ValidateMaxNamespaces(std::uint32_t max_namespaces);
// max_subsystems: "Maximal number of subsystems (N) has already been reached".
Status CheckSubsystemLimit(std::size_t subsystems, std::uint32_t max_subsystems);
// max_hosts_per_subsystem (specific hosts, not "*"): "Maximal number of hosts for subsystem
// (N) has already been reached".
Status CheckSubsystemHostLimit(std::size_t subsystem_hosts, std::uint32_t max_hosts_per_subsystem);
// max_hosts (specific hosts of all subsystems): "Maximal number of hosts (N) has already
// been reached".
Status CheckHostLimit(std::size_t hosts, std::uint32_t max_hosts);
// max_hosts_per_namespace: "Maximal host count for namespace (N) has already been reached".
Status CheckNamespaceHostLimit(std::size_t namespace_hosts, std::uint32_t max_hosts_per_namespace);

// ---- Sizes ------------------------------------------------------------------

// Parses a size as the reference CLI does, with binary units:
//   "<digits>"                 MiB (a bare number means MiB)
//   "<digits>B"                bytes
//   "<digits>K|M|G|T|P[B]"     KiB..PiB ("16M", "16MB")
// Also accepted: "KiB".."PiB", lower-case units, and blanks around the
// number and the unit ("16 GB"). Rejected (EINVAL, "... must be numeric"):
// signs, fractions, empty numbers and unknown units. Overflow of 64 bits is
// rejected too (ERANGE).
Result<std::uint64_t> ParseSize(std::string_view text);

// Human readable size like the reference CLI: "512 Bytes", "4 KiB", "1.5 GiB",
// "16 MiB" (integers without decimals, others with one decimal).
std::string FormatSize(std::uint64_t bytes);

}  // namespace nvmeof::api
