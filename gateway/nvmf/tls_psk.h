// NVMe/TCP TLS pre-shared keys (NVMe TCP Transport 1.1 section 3.6.1, TP 8011 / TP 8018):
// the PSK interchange format, the retained PSK, the PSK digest, the TLS PSK identity and
// the TLS PSK a TLS 1.3 handshake uses. Pure functions over OpenSSL (libcrypto): no state,
// no policy, any thread. Errors come back as Status / Result values whose messages never
// contain key bytes.
//
//   configured PSK  "NVMeTLSkey-1:hh:<base64(key || CRC-32 LE)>:", key 32 or 48 bytes;
//                   hh 00 = used as is, 01 = SHA-256, 02 = SHA-384 (the key's length)
//   retained PSK    hh 00: the key; else HKDF-Expand-Label(HKDF-Extract(0, key), "HostNQN",
//                   host NQN, key length) with hh's hash
//   PSK digest      base64(HMAC(retained, hostnqn " " subnqn " NVMe-over-Fabrics"))
//   identity        "NVMe0Rhh <hostnqn> <subnqn>" (version 0) or
//                   "NVMe1Rhh <hostnqn> <subnqn> <digest>" (version 1); hh 01 SHA-256 /
//                   TLS_AES_128_GCM_SHA256, 02 SHA-384 / TLS_AES_256_GCM_SHA384
//   TLS PSK         HKDF-Expand-Label(HKDF-Extract(0, retained), "nvme-tls-psk", context,
//                   hash length): context is the identity (version 0) or "hh <digest>"
//                   (version 1)
// HKDF-Expand-Label is RFC 8446's (length and label lengths included in the info).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/common/status.h"

namespace nvmeof::tls {

using Bytes = std::vector<uint8_t>;

// A configured PSK: hash 0 (none), 1 (SHA-256) or 2 (SHA-384), and the key (32 or 48 bytes;
// with hash 1 or 2 that hash's length).
struct ConfiguredPsk {
  uint8_t hash = 0;
  Bytes key;
};
// InvalidArgument naming what is wrong (prefix, hash, length, base64, CRC), never the key.
Result<ConfiguredPsk> ParsePskInterchange(std::string_view text);
std::string FormatPskInterchange(const ConfiguredPsk& psk);

// The hash of the identities and TLS PSKs derived from `psk`: its own, or by key length
// (32 bytes SHA-256, 48 bytes SHA-384) for hash 0. 1 or 2.
uint8_t IdentityHash(const ConfiguredPsk& psk);

Bytes RetainedPsk(const ConfiguredPsk& psk, std::string_view hostnqn);
// hash 1 or 2.
std::string PskDigest(uint8_t hash, const Bytes& retained, std::string_view hostnqn, std::string_view subnqn);

// An identity's parts.
struct PskIdentity {
  int version = 1;    // 0 or 1
  uint8_t hash = 1;   // 1 or 2
  std::string hostnqn, subnqn;
  std::string digest;  // version 1 only
};
// InvalidArgument for a string that is not an NVMe TLS PSK identity.
Result<PskIdentity> ParsePskIdentity(std::string_view text);
std::string FormatPskIdentity(const PskIdentity& id);

// The TLS PSK for `id` (its version, hash and digest), hash-length bytes.
Bytes TlsPsk(const PskIdentity& id, const Bytes& retained);

// What a TLS server or client needs for one identity: the identity, the TLS PSK and the
// hash (which fixes the cipher suite).
struct DerivedPsk {
  std::string identity;
  Bytes key;
  uint8_t hash = 1;
};
// From a configured PSK, for `version` (0 or 1).
DerivedPsk DerivePsk(const ConfiguredPsk& psk, std::string_view hostnqn, std::string_view subnqn, int version);
// The server's check: the identity a client offered, against the configured PSK of the host
// and subsystem it names. InvalidArgument when the identity does not come from that PSK
// (its hash or digest differs).
Result<DerivedPsk> AcceptIdentity(const PskIdentity& offered, const ConfiguredPsk& psk);

}  // namespace nvmeof::tls
