// DH-HMAC-CHAP cryptography (NVMe Base 2.0 section 8.13.5): the DHHC-1 secret format, the
// key transformation, the host and controller responses, the FFDHE exchange (RFC 7919
// groups 2048..8192 and the NULL group), the session key and the PSK secure concatenation
// derives from it. Pure functions over OpenSSL (Debian's libssl): no state, no policy, any
// thread. Errors come back as Status / Result values; their messages never contain key bytes.
//
// Identifiers are the wire's (nvme_auth.h): hash 1 SHA-256, 2 SHA-384, 3 SHA-512; DH group 0
// NULL, 1..5 FFDHE2048..8192.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/common/status.h"

namespace nvmeof::auth {

using Bytes = std::vector<uint8_t>;

// Hash output length in bytes (32, 48, 64); 0 for an unknown identifier.
size_t HashLength(uint8_t hash);
const char* HashName(uint8_t hash);  // "sha256", ...; "?" if unknown
// DH public value / shared secret length in bytes (0 for NULL); -1 for an unknown group.
int DhValueLength(uint8_t group);
const char* DhGroupName(uint8_t group);  // "null", "ffdhe2048", ...; "?" if unknown
// A comma-separated list of those names, in preference order ("sha384,sha256",
// "ffdhe2048,null"), as wire identifiers. InvalidArgument naming the unknown or repeated
// name; an empty list is invalid.
Result<std::vector<uint8_t>> ParseHashList(std::string_view text);
Result<std::vector<uint8_t>> ParseDhGroupList(std::string_view text);

// CRC-32 (IEEE 802.3, reflected, as zlib computes it) over a DHHC-1 key.
uint32_t Crc32(const uint8_t* p, size_t n);

// A configured DH-HMAC-CHAP secret: "DHHC-1:<hh>:<base64 of key || CRC-32 (LE)>:" where hh is
// the hash the key is transformed with (00 none, 01 SHA-256, 02 SHA-384, 03 SHA-512). The key
// is 32, 48 or 64 bytes; with hh 01..03 it must be that hash's length.
struct DhchapSecret {
  uint8_t hash = 0;
  Bytes key;
};
// InvalidArgument naming what is wrong (prefix, hash, length, base64, CRC), never the key.
Result<DhchapSecret> ParseDhchapSecret(std::string_view text);
std::string FormatDhchapSecret(const DhchapSecret& s);

// The transformed key Kh' (Kc'): the key itself for hash 00, else
// HMAC-hh(key, nqn || "NVMe-over-Fabrics"). The host key is transformed with the host NQN,
// the controller key with the subsystem NQN.
Bytes TransformKey(const DhchapSecret& s, std::string_view nqn);

Bytes Hash(uint8_t hash, const Bytes& data);
Bytes Hmac(uint8_t hash, const Bytes& key, const Bytes& data);

// Response of the host (R1) to challenge C1, or of the controller (R2) to challenge C2, with
// the negotiated hash and the transformed key: HMAC(key, C || seqnum (LE32) || T_ID (LE16) ||
// SC_C || "HostHost" || hostnqn || 00h || subnqn) and HMAC(key, C || S2 || T_ID || SC_C ||
// "Controller" || subnqn || 00h || hostnqn). With a DH group, C is the augmented challenge.
Bytes HostResponse(uint8_t hash, const Bytes& transformed_key, const Bytes& challenge, uint32_t seqnum,
                   uint16_t t_id, uint8_t sc_c, std::string_view hostnqn, std::string_view subnqn);
Bytes ControllerResponse(uint8_t hash, const Bytes& transformed_key, const Bytes& challenge, uint32_t seqnum,
                         uint16_t t_id, uint8_t sc_c, std::string_view hostnqn, std::string_view subnqn);

// Session key Ks = H(g^xy mod p), the shared secret padded to the group's length.
Bytes SessionKey(uint8_t hash, const Bytes& shared_secret);
// Augmented challenge Ca = HMAC(Ks, C).
Bytes AugmentedChallenge(uint8_t hash, const Bytes& session_key, const Bytes& challenge);
// The PSK a successful transaction with secure concatenation generates: HMAC(Ks, C1 || C2).
Bytes GeneratedPsk(uint8_t hash, const Bytes& session_key, const Bytes& c1, const Bytes& c2);

// Cryptographically random bytes (OpenSSL's RAND_bytes); IOError if the generator fails.
Result<Bytes> RandomBytes(size_t n);

// One side's ephemeral FFDHE key pair.
class DhKeyPair {
 public:
  ~DhKeyPair();
  DhKeyPair(DhKeyPair&&) noexcept;
  DhKeyPair& operator=(DhKeyPair&&) noexcept;

  // A fresh key pair in group 1..5.
  static Result<DhKeyPair> Generate(uint8_t group);
  // The pair with this private exponent (big-endian): for golden-value tests.
  static Result<DhKeyPair> FromPrivate(uint8_t group, const Bytes& priv);

  uint8_t group() const { return group_; }
  // g^x mod p, big-endian, padded to the group's length.
  const Bytes& public_value() const { return public_; }
  // g^xy mod p from the peer's public value (which must be the group's length and in
  // 2..p-2), padded to the group's length. InvalidArgument for an unusable peer value.
  Result<Bytes> SharedSecret(const Bytes& peer_public) const;

  DhKeyPair();  // empty (for Result); use Generate

 private:
  struct Key;
  uint8_t group_ = 0;
  Bytes public_;
  std::unique_ptr<Key> key_;
};

}  // namespace nvmeof::auth
