// SecretBox: the group state's keys at rest, sealed the way the reference gateway seals them
// (ceph-nvmeof control/utils.py, GatewayUtilsCrypto), so that either implementation opens
// what the other wrote with the same operator key.
//
//   * The operator's key is a file ([gateway] encryption_key; cephadm mounts its spec's key
//     at /encryption.key): "-----BEGIN <label>-----", base64, "-----END <label>-----", the
//     same label twice. Line breaks may be spaces (cephadm turns them into spaces). The
//     base64 must decode to at least 32 bytes; the first 32 are the key.
//   * A sealed secret is the standard base64 of a Fernet token (itself URL-safe base64 text)
//     of the secret's UTF-8 bytes: version 0x80, the time in seconds (big endian, 8 bytes),
//     a random IV (16), AES-128-CBC with PKCS#7 padding under the key's last 16 bytes, and
//     HMAC-SHA256 under its first 16 bytes over all of that. Tokens do not expire.
//
// Immutable once made: any thread. Seal and Open allocate; nothing here is for a reactor.
// Errors (state::errc): kSecretKeyFile (the file cannot be read or is not such a key: the
// message says why, never what the file holds), kSecretNotOpened (not a token, or a token
// sealed under another key). No message ever contains a secret or key material.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/common/status.h"

namespace nvmeof {

class SecretBox {
 public:
  static constexpr size_t kKeySize = 32;

  // The operator's key from a key file, or from its text.
  static Result<SecretBox> FromKeyFile(const std::string& path);
  static Result<SecretBox> FromKeyText(std::string_view text);

  // A sealed secret (see above): a new random IV and the current time on every call.
  std::string Seal(std::string_view secret) const;
  // The same with the time and IV given (golden values in tests).
  std::string SealWith(std::string_view secret, uint64_t unix_time, const std::array<uint8_t, 16>& iv) const;
  // The secret sealed in `sealed` (by Seal, or by the reference gateway with the same key).
  Result<std::string> Open(std::string_view sealed) const;

  SecretBox() = default;  // an all-zero key: for containers only; use FromKeyFile/FromKeyText

 private:
  std::array<uint8_t, 16> signing_{}, encryption_{};
};

}  // namespace nvmeof
