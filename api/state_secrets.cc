#include "api/state_secrets.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <vector>

#include "api/errc.h"
#include "gateway/common/check.h"
#include "gateway/state/errc.h"

namespace nvmeof::api {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Every secret of every stored request, with its flag, its name in messages and the field
// that names its owner ("host <host_nqn>", "subsystem <subsystem_nqn>").
struct SecretField {
  const char* message;
  const char* field;
  const char* flag;
  const char* what;
  const char* owner_kind;
  const char* owner_field;
};
constexpr SecretField kSecretFields[] = {
    {"add_host_req", "dhchap_key", "key_encrypted", "DH-HMAC-CHAP key", "host", "host_nqn"},
    {"add_host_req", "dhchap_ctrlr_key", "ctrlr_key_encrypted", "DH-HMAC-CHAP controller key", "host", "host_nqn"},
    {"add_host_req", "psk", "psk_encrypted", "PSK key", "host", "host_nqn"},
    {"create_subsystem_req", "dhchap_key", "key_encrypted", "DH-HMAC-CHAP key", "subsystem", "subsystem_nqn"},
};

struct Bound {
  const SecretField* spec;
  const FieldDescriptor* field;
  const FieldDescriptor* flag;
  const FieldDescriptor* owner;
};

std::vector<Bound> FieldsOf(const Message& m) {
  std::vector<Bound> out;
  const auto* d = m.GetDescriptor();
  for (const auto& s : kSecretFields) {
    if (d->full_name() != s.message) continue;
    Bound b{&s, d->FindFieldByName(s.field), d->FindFieldByName(s.flag), d->FindFieldByName(s.owner_field)};
    NVMEOF_CHECK(b.field && b.flag && b.owner, "%s has no field %s, %s or %s", s.message, s.field, s.flag,
                 s.owner_field);
    out.push_back(b);
  }
  return out;
}

std::string Value(const Message& m, const FieldDescriptor* f) {
  const auto* r = m.GetReflection();
  return f->has_presence() && !r->HasField(m, f) ? std::string() : r->GetString(m, f);
}
bool Flag(const Message& m, const FieldDescriptor* f) { return m.GetReflection()->GetBool(m, f); }
std::string Owner(const Message& m, const Bound& b) {
  return std::string(b.spec->owner_kind) + " " + m.GetReflection()->GetString(m, b.owner);
}

}  // namespace

std::string StateSecrets::MissingKeyHint() const {
  if (k_.key) return "";
  if (k_.key_file.empty()) return "[gateway] encryption_key is not set";
  return "[gateway] encryption_key = " + k_.key_file + ": " + k_.key_error;
}

Status StateSecrets::Seal(Message* m) const {
  std::vector<Bound> fields = FieldsOf(*m);
  // Check first, change after: `m` stays as it was on error.
  for (const Bound& b : fields) {
    if (!k_.enabled || k_.key || Flag(*m, b.flag) || Value(*m, b.field).empty()) continue;
    return Status::Error(errc::kNoEncryptionKey,
                         "No encryption key or the wrong key was found but we need to encrypt " + Owner(*m, b) + " " +
                             b.spec->what + " (" + MissingKeyHint() +
                             "; [gateway] enable_key_encryption = false keeps keys in clear)");
  }
  const auto* r = m->GetReflection();
  for (const Bound& b : fields) {
    std::string v = Value(*m, b.field);
    if (v.empty()) {
      r->ClearField(m, b.flag);
      continue;
    }
    if (!k_.enabled || Flag(*m, b.flag)) continue;
    r->SetString(m, b.field, k_.key->Seal(v));
    r->SetBool(m, b.flag, true);
  }
  return Status::OK();
}

Status StateSecrets::Open(Message* m) const {
  std::vector<Bound> fields = FieldsOf(*m);
  std::vector<std::pair<const Bound*, std::string>> opened;
  for (const Bound& b : fields) {
    const std::string v = Value(*m, b.field);
    if (v.empty()) continue;
    const std::string head = "No encryption key or the wrong key was found but we need to decrypt " + Owner(*m, b) +
                             " " + b.spec->what;
    if (!Flag(*m, b.flag)) {
      if (v == kUnsealedPlaceholder)
        return Status::Error(state::errc::kSecretNotOpened,
                             "No valid " + std::string(b.spec->what) + " was found for " + Owner(*m, b) +
                                 " (the gateway that set it had no encryption key, so the group state holds the "
                                 "reference's placeholder instead: set the key again)");
      continue;
    }
    if (!k_.key) return Status::Error(errc::kNoEncryptionKey, head + " (" + MissingKeyHint() + ")");
    Result<std::string> clear = k_.key->Open(v);
    if (!clear.ok())
      return Status::Error(state::errc::kSecretNotOpened,
                           head + " (the key in " + k_.key_file + " does not decrypt it: " + clear.status().message() +
                               ")");
    opened.emplace_back(&b, std::move(*clear));
  }
  const auto* r = m->GetReflection();
  for (const Bound& b : fields)
    if (Value(*m, b.field).empty()) r->ClearField(m, b.flag);
  for (auto& [b, v] : opened) {
    r->SetString(m, b->field, v);
    r->ClearField(m, b->flag);
  }
  return Status::OK();
}

}  // namespace nvmeof::api
