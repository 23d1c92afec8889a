#include "gateway/nvmf/tls_psk.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>

#include "gateway/nvmf/auth_keys.h"

namespace nvmeof::tls {

namespace {

// auth_keys' identifiers: 1 SHA-256, 2 SHA-384 (the same numbers as here).
size_t HashLen(uint8_t hash) { return auth::HashLength(hash); }

struct KdfFree {
  void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
};
struct KdfCtxFree {
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

// HKDF-Expand-Label(HKDF-Extract(0, ikm), label, context, len) with `hash`: OpenSSL's HKDF in
// extract-and-expand mode with no salt (HashLen zeros) and RFC 8446's HkdfLabel as the info.
Bytes ExtractExpandLabel(uint8_t hash, const Bytes& ikm, std::string_view label, std::string_view context, size_t len) {
  std::string full = "tls13 ";
  full.append(label);
  Bytes info;
  info.reserve(4 + full.size() + context.size());
  info.push_back(static_cast<uint8_t>(len >> 8));
  info.push_back(static_cast<uint8_t>(len));
  info.push_back(static_cast<uint8_t>(full.size()));
  info.insert(info.end(), full.begin(), full.end());
  info.push_back(static_cast<uint8_t>(context.size()));
  info.insert(info.end(), context.begin(), context.end());

  Bytes out(len);
  std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  std::unique_ptr<EVP_KDF_CTX, KdfCtxFree> ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
  if (!ctx) return {};
  char digest[16];
  snprintf(digest, sizeof(digest), "%s", hash == 2 ? "SHA384" : "SHA256");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(ikm.data()), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) <= 0) return {};
  return out;
}

bool Digit(char c) { return c >= '0' && c <= '9'; }

std::string Base64(const Bytes& b) {
  std::string out(4 * ((b.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), b.data(), static_cast<int>(b.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace

Result<ConfiguredPsk> ParsePskInterchange(std::string_view text) {
  constexpr std::string_view kPrefix = "NVMeTLSkey-1:";
  if (text.substr(0, kPrefix.size()) != kPrefix) return Status::InvalidArgument("TLS PSK does not start with NVMeTLSkey-1:");
  text.remove_prefix(kPrefix.size());
  if (text.size() < 3 || text[2] != ':' || !Digit(text[0]) || !Digit(text[1]))
    return Status::InvalidArgument("TLS PSK: the hash field is not two digits");
  ConfiguredPsk p;
  p.hash = static_cast<uint8_t>((text[0] - '0') * 10 + (text[1] - '0'));
  if (p.hash > 2) return Status::InvalidArgument("TLS PSK: unknown hash " + std::to_string(p.hash) + " (00, 01 or 02)");
  text.remove_prefix(3);
  if (text.empty() || text.back() != ':') return Status::InvalidArgument("TLS PSK does not end with ':'");
  text.remove_suffix(1);
  // 36 or 52 bytes of key and CRC: 48 or 72 base64 characters.
  if (text.size() != 48 && text.size() != 72) return Status::InvalidArgument("TLS PSK: the key is not 32 or 48 bytes long");
  Bytes raw(text.size() / 4 * 3);
  std::string b64(text);
  int n = EVP_DecodeBlock(raw.data(), reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  OPENSSL_cleanse(b64.data(), b64.size());
  auto fail = [&raw](std::string msg) {
    OPENSSL_cleanse(raw.data(), raw.size());
    return Status::InvalidArgument("TLS PSK: " + msg);
  };
  if (n < 0) return fail("the key is not valid base64");
  size_t pad = (text[text.size() - 1] == '=') + (text[text.size() - 2] == '=');
  size_t len = static_cast<size_t>(n) - pad;
  if (len != 36 && len != 52) return fail("the key is not 32 or 48 bytes long");
  size_t klen = len - 4;
  uint32_t want = auth::Crc32(raw.data(), klen);
  uint32_t got = raw[klen] | (raw[klen + 1] << 8) | (raw[klen + 2] << 16) | (static_cast<uint32_t>(raw[klen + 3]) << 24);
  if (want != got) return fail("CRC-32 mismatch (the key is corrupt)");
  if (p.hash != 0 && klen != HashLen(p.hash))
    return fail("a " + std::to_string(klen) + "-byte key does not fit hash " + auth::HashName(p.hash));
  p.key.assign(raw.begin(), raw.begin() + static_cast<ptrdiff_t>(klen));
  OPENSSL_cleanse(raw.data(), raw.size());
  return p;
}

std::string FormatPskInterchange(const ConfiguredPsk& psk) {
  Bytes raw = psk.key;
  uint32_t crc = auth::Crc32(raw.data(), raw.size());
  for (int i = 0; i < 4; i++) raw.push_back(static_cast<uint8_t>(crc >> (8 * i)));
  char hh[8];
  snprintf(hh, sizeof(hh), "%02u", psk.hash);
  std::string out = "NVMeTLSkey-1:" + std::string(hh) + ":" + Base64(raw) + ":";
  OPENSSL_cleanse(raw.data(), raw.size());
  return out;
}

uint8_t IdentityHash(const ConfiguredPsk& psk) {
  if (psk.hash != 0) return psk.hash;
  return psk.key.size() == 48 ? 2 : 1;
}

Bytes RetainedPsk(const ConfiguredPsk& psk, std::string_view hostnqn) {
  if (psk.hash == 0) return psk.key;
  return ExtractExpandLabel(psk.hash, psk.key, "HostNQN", hostnqn, psk.key.size());
}

std::string PskDigest(uint8_t hash, const Bytes& retained, std::string_view hostnqn, std::string_view subnqn) {
  std::string msg;
  msg.reserve(hostnqn.size() + subnqn.size() + 19);
  msg.append(hostnqn).append(" ").append(subnqn).append(" NVMe-over-Fabrics");
  return Base64(auth::Hmac(hash, retained, Bytes(msg.begin(), msg.end())));
}

Result<PskIdentity> ParsePskIdentity(std::string_view text) {
  // "NVMe<v>R<hh> <hostnqn> <subnqn>[ <digest>]"; NQNs contain no spaces.
  if (text.size() < 9 || text.substr(0, 4) != "NVMe" || text[5] != 'R' || text[8] != ' ' || !Digit(text[4]) ||
      !Digit(text[6]) || !Digit(text[7]))
    return Status::InvalidArgument("not an NVMe TLS PSK identity");
  PskIdentity id;
  id.version = text[4] - '0';
  id.hash = static_cast<uint8_t>((text[6] - '0') * 10 + (text[7] - '0'));
  if (id.version > 1) return Status::InvalidArgument("TLS PSK identity version " + std::to_string(id.version) + " is unknown");
  if (id.hash != 1 && id.hash != 2) return Status::InvalidArgument("TLS PSK identity hash " + std::to_string(id.hash) + " is unknown");
  std::vector<std::string_view> parts;
  std::string_view rest = text.substr(9);
  while (!rest.empty()) {
    size_t sp = rest.find(' ');
    parts.push_back(rest.substr(0, sp));
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  const size_t want = id.version == 0 ? 2 : 3;
  if (parts.size() != want) return Status::InvalidArgument("TLS PSK identity: wrong number of fields");
  for (auto p : parts)
    if (p.empty()) return Status::InvalidArgument("TLS PSK identity: an empty field");
  id.hostnqn = parts[0];
  id.subnqn = parts[1];
  if (id.version == 1) id.digest = parts[2];
  return id;
}

std::string FormatPskIdentity(const PskIdentity& id) {
  char head[16];
  snprintf(head, sizeof(head), "NVMe%dR%02u ", id.version, id.hash);
  std::string out = head + id.hostnqn + " " + id.subnqn;
  if (id.version == 1) out += " " + id.digest;
  return out;
}

Bytes TlsPsk(const PskIdentity& id, const Bytes& retained) {
  std::string context;
  if (id.version == 0) {
    context = FormatPskIdentity(id);
  } else {
    char hh[8];
    snprintf(hh, sizeof(hh), "%02u ", id.hash);
    context = hh + id.digest;
  }
  return ExtractExpandLabel(id.hash, retained, "nvme-tls-psk", context, HashLen(id.hash));
}

DerivedPsk DerivePsk(const ConfiguredPsk& psk, std::string_view hostnqn, std::string_view subnqn, int version) {
  PskIdentity id;
  id.version = version;
  id.hash = IdentityHash(psk);
  id.hostnqn = hostnqn;
  id.subnqn = subnqn;
  Bytes retained = RetainedPsk(psk, hostnqn);
  if (version == 1) id.digest = PskDigest(id.hash, retained, hostnqn, subnqn);
  DerivedPsk d;
  d.identity = FormatPskIdentity(id);
  d.key = TlsPsk(id, retained);
  d.hash = id.hash;
  OPENSSL_cleanse(retained.data(), retained.size());
  return d;
}

Result<DerivedPsk> AcceptIdentity(const PskIdentity& offered, const ConfiguredPsk& psk) {
  if (offered.hash != IdentityHash(psk))
    return Status::InvalidArgument("TLS PSK identity hash " + std::to_string(offered.hash) + " does not match the host's PSK");
  DerivedPsk d = DerivePsk(psk, offered.hostnqn, offered.subnqn, offered.version);
  if (d.identity != FormatPskIdentity(offered)) {
    OPENSSL_cleanse(d.key.data(), d.key.size());
    return Status::InvalidArgument("TLS PSK identity digest does not match the host's PSK");
  }
  return d;
}

}  // namespace nvmeof::tls
