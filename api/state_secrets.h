// Keys at rest in the group state (docs/state.md, "Keys at rest"), the reference gateway's
// way: every secret of a stored request (add_host_req's dhchap_key, dhchap_ctrlr_key and psk,
// create_subsystem_req's dhchap_key) is written sealed with the operator's key
// (gateway/state/secret_box.h) and its *_encrypted flag set, so that the RADOS object never
// holds a key in clear; what is read back is opened before use.
//
// StateSecrets is the one place that knows which fields are secrets (one table: a new secret
// field is one more line) and the only code that seals and opens them. It is immutable after
// construction: any thread. It logs nothing; callers log, never a secret.
//
// Errors: api::errc::kNoEncryptionKey (ENOKEY) when a secret must be sealed or opened and this
// gateway has no key; state::errc::kSecretNotOpened (ENOKEY) when the key does not open it, or
// the value is the reference's placeholder for a key that was never stored. Every message
// starts with the reference's words ("No encryption key or the wrong key was found but we
// need to encrypt host H DH-HMAC-CHAP key") and says what is missing: [gateway]
// encryption_key not set, the file it names unreadable (and why), or its key not the one
// the secret was sealed with.
#pragma once

#include <google/protobuf/message.h>

#include <memory>
#include <string>

#include "gateway/common/status.h"
#include "gateway/state/secret_box.h"

namespace nvmeof::api {

struct KeyEncryption {
  // Seal secrets before writing them ([gateway] enable_key_encryption, on by default, as in
  // the reference; the daemon turns it off for a state kept in memory, where nothing is at
  // rest). Off: secrets are written in clear; sealed ones are still opened with `key`.
  bool enabled = false;
  std::string key_file;                  // [gateway] encryption_key, "" when not set
  std::shared_ptr<const SecretBox> key;  // read from key_file; null: no key
  std::string key_error;                 // why key_file gave no key (never its content)
};

class StateSecrets {
 public:
  // The reference's stand-in for a subsystem key that a gateway without an encryption key
  // could not seal: written instead of the key, never opened.
  static constexpr char kUnsealedPlaceholder[] = "<invalid>";

  explicit StateSecrets(KeyEncryption k = {}) : k_(std::move(k)) {}

  // Seals every secret of `m` that is set in clear and sets its flag (nothing when sealing is
  // off); an empty secret loses its flag. kNoEncryptionKey when a secret must be sealed and
  // there is no key: `m` is then unchanged.
  Status Seal(google::protobuf::Message* m) const;
  // Opens every sealed secret of `m` and clears its flag; `m` is left unchanged on error.
  Status Open(google::protobuf::Message* m) const;

  bool enabled() const { return k_.enabled; }
  bool has_key() const { return k_.key != nullptr; }
  // What the operator must fix, for messages: "[gateway] encryption_key is not set", ...
  std::string MissingKeyHint() const;

 private:
  KeyEncryption k_;
};

}  // namespace nvmeof::api
