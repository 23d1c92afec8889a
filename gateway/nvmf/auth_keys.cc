#include "gateway/nvmf/auth_keys.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace nvmeof::auth {

namespace {

const EVP_MD* Md(uint8_t hash) {
  switch (hash) {
    case 1:
      return EVP_sha256();
    case 2:
      return EVP_sha384();
    case 3:
      return EVP_sha512();
  }
  return nullptr;
}

void Append(Bytes& b, const void* p, size_t n) {
  const auto* c = static_cast<const uint8_t*>(p);
  b.insert(b.end(), c, c + n);
}
void Append(Bytes& b, std::string_view s) { Append(b, s.data(), s.size()); }

Bytes ResponseInput(const Bytes& challenge, uint32_t seqnum, uint16_t t_id, uint8_t sc_c, std::string_view role,
                    std::string_view first_nqn, std::string_view second_nqn) {
  Bytes in;
  in.reserve(challenge.size() + 7 + role.size() + first_nqn.size() + 1 + second_nqn.size());
  Append(in, challenge.data(), challenge.size());
  uint8_t le[4] = {static_cast<uint8_t>(seqnum), static_cast<uint8_t>(seqnum >> 8), static_cast<uint8_t>(seqnum >> 16),
                   static_cast<uint8_t>(seqnum >> 24)};
  Append(in, le, 4);
  uint8_t tid[2] = {static_cast<uint8_t>(t_id), static_cast<uint8_t>(t_id >> 8)};
  Append(in, tid, 2);
  in.push_back(sc_c);
  Append(in, role);
  Append(in, first_nqn);
  in.push_back(0);
  Append(in, second_nqn);
  return in;
}

struct BnFree {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct BnCtxFree {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, CtxFree>;

// A DH key from parameters built with the group name plus `priv` / `pub` (either may be null).
PkeyPtr FromData(uint8_t group, const BIGNUM* priv, const BIGNUM* pub, int selection) {
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld) return nullptr;
  if (!OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, DhGroupName(group), 0)) return nullptr;
  if (priv && !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv)) return nullptr;
  if (pub && !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub)) return nullptr;
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0) return nullptr;
  EVP_PKEY* k = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &k, selection, params.get()) <= 0) return nullptr;
  return PkeyPtr(k);
}

// The group's prime p.
BnPtr Prime(uint8_t group) {
  PkeyPtr params = FromData(group, nullptr, nullptr, EVP_PKEY_KEY_PARAMETERS);
  BIGNUM* p = nullptr;
  if (!params || !EVP_PKEY_get_bn_param(params.get(), OSSL_PKEY_PARAM_FFC_P, &p)) return nullptr;
  return BnPtr(p);
}

}  // namespace

size_t HashLength(uint8_t hash) {
  switch (hash) {
    case 1:
      return 32;
    case 2:
      return 48;
    case 3:
      return 64;
  }
  return 0;
}

const char* HashName(uint8_t hash) {
  switch (hash) {
    case 1:
      return "sha256";
    case 2:
      return "sha384";
    case 3:
      return "sha512";
  }
  return "?";
}

int DhValueLength(uint8_t group) {
  switch (group) {
    case 0:
      return 0;
    case 1:
      return 256;
    case 2:
      return 384;
    case 3:
      return 512;
    case 4:
      return 768;
    case 5:
      return 1024;
  }
  return -1;
}

const char* DhGroupName(uint8_t group) {
  switch (group) {
    case 0:
      return "null";
    case 1:
      return "ffdhe2048";
    case 2:
      return "ffdhe3072";
    case 3:
      return "ffdhe4096";
    case 4:
      return "ffdhe6144";
    case 5:
      return "ffdhe8192";
  }
  return "?";
}

namespace {

// Names -> identifiers with `name_of` over 0..max_id.
Result<std::vector<uint8_t>> ParseNameList(std::string_view text, uint8_t max_id, const char* (*name_of)(uint8_t),
                                           const char* what) {
  std::vector<uint8_t> ids;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    pos = comma + 1;
    if (item.empty()) continue;
    std::optional<uint8_t> id;
    for (unsigned i = 0; i <= max_id; ++i) {
      std::string_view name = name_of(static_cast<uint8_t>(i));
      if (name != "?" && item == name) id = static_cast<uint8_t>(i);
    }
    if (!id) return Status::InvalidArgument("unknown " + std::string(what) + " '" + std::string(item) + "'");
    if (std::find(ids.begin(), ids.end(), *id) != ids.end())
      return Status::InvalidArgument(std::string(what) + " '" + std::string(item) + "' given twice");
    ids.push_back(*id);
  }
  if (ids.empty()) return Status::InvalidArgument("no " + std::string(what) + " given");
  return ids;
}

}  // namespace

Result<std::vector<uint8_t>> ParseHashList(std::string_view text) { return ParseNameList(text, 3, HashName, "hash"); }

Result<std::vector<uint8_t>> ParseDhGroupList(std::string_view text) {
  return ParseNameList(text, 5, DhGroupName, "DH group");
}

uint32_t Crc32(const uint8_t* p, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

Result<DhchapSecret> ParseDhchapSecret(std::string_view text) {
  constexpr std::string_view kPrefix = "DHHC-1:";
  if (text.substr(0, kPrefix.size()) != kPrefix)
    return Status::InvalidArgument("DH-HMAC-CHAP secret does not start with DHHC-1:");
  text.remove_prefix(kPrefix.size());
  if (text.size() < 3 || text[2] != ':' || text[0] < '0' || text[0] > '9' || text[1] < '0' || text[1] > '9')
    return Status::InvalidArgument("DH-HMAC-CHAP secret: the hash field is not two digits");
  DhchapSecret s;
  s.hash = static_cast<uint8_t>((text[0] - '0') * 10 + (text[1] - '0'));
  if (s.hash > 3) return Status::InvalidArgument("DH-HMAC-CHAP secret: unknown hash " + std::to_string(s.hash));
  text.remove_prefix(3);
  if (text.empty() || text.back() != ':') return Status::InvalidArgument("DH-HMAC-CHAP secret does not end with ':'");
  text.remove_suffix(1);
  // 36, 52 or 68 bytes of key and CRC: 48, 72 or 92 base64 characters.
  if (text.size() % 4 != 0 || (text.size() != 48 && text.size() != 72 && text.size() != 92))
    return Status::InvalidArgument("DH-HMAC-CHAP secret: the key is not 32, 48 or 64 bytes long");
  Bytes raw(text.size() / 4 * 3);
  std::string b64(text);
  int n = EVP_DecodeBlock(raw.data(), reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  OPENSSL_cleanse(b64.data(), b64.size());
  if (n < 0) {
    OPENSSL_cleanse(raw.data(), raw.size());
    return Status::InvalidArgument("DH-HMAC-CHAP secret: the key is not valid base64");
  }
  size_t pad = 0;
  if (text.size() >= 1 && text[text.size() - 1] == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  size_t len = static_cast<size_t>(n) - pad;
  if (len != 36 && len != 52 && len != 68) {
    OPENSSL_cleanse(raw.data(), raw.size());
    return Status::InvalidArgument("DH-HMAC-CHAP secret: the key is not 32, 48 or 64 bytes long");
  }
  size_t klen = len - 4;
  uint32_t want = Crc32(raw.data(), klen);
  uint32_t got = raw[klen] | (raw[klen + 1] << 8) | (raw[klen + 2] << 16) | (static_cast<uint32_t>(raw[klen + 3]) << 24);
  if (want != got) {
    OPENSSL_cleanse(raw.data(), raw.size());
    return Status::InvalidArgument("DH-HMAC-CHAP secret: CRC-32 mismatch (the key is corrupt)");
  }
  if (s.hash != 0 && klen != HashLength(s.hash)) {
    OPENSSL_cleanse(raw.data(), raw.size());
    return Status::InvalidArgument("DH-HMAC-CHAP secret: a " + std::to_string(klen) + "-byte key does not fit hash " +
                                   HashName(s.hash));
  }
  s.key.assign(raw.begin(), raw.begin() + klen);
  OPENSSL_cleanse(raw.data(), raw.size());
  return s;
}

std::string FormatDhchapSecret(const DhchapSecret& s) {
  Bytes raw = s.key;
  uint32_t crc = Crc32(raw.data(), raw.size());
  for (int i = 0; i < 4; ++i) raw.push_back(static_cast<uint8_t>(crc >> (8 * i)));
  std::string b64(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), raw.data(), static_cast<int>(raw.size()));
  b64.resize(static_cast<size_t>(n));
  OPENSSL_cleanse(raw.data(), raw.size());
  char hh[4];
  snprintf(hh, sizeof(hh), "%02u", static_cast<unsigned>(s.hash));
  return "DHHC-1:" + std::string(hh) + ":" + b64 + ":";
}

Bytes Hash(uint8_t hash, const Bytes& data) {
  const EVP_MD* md = Md(hash);
  if (!md) return {};
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  if (!EVP_Digest(data.data(), data.size(), out.data(), &n, md, nullptr)) return {};
  out.resize(n);
  return out;
}

Bytes Hmac(uint8_t hash, const Bytes& key, const Bytes& data) {
  const EVP_MD* md = Md(hash);
  if (!md) return {};
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  if (!HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &n)) return {};
  out.resize(n);
  return out;
}

Bytes TransformKey(const DhchapSecret& s, std::string_view nqn) {
  if (s.hash == 0) return s.key;
  Bytes in;
  Append(in, nqn);
  Append(in, std::string_view("NVMe-over-Fabrics"));
  return Hmac(s.hash, s.key, in);
}

Bytes HostResponse(uint8_t hash, const Bytes& transformed_key, const Bytes& challenge, uint32_t seqnum,
                   uint16_t t_id, uint8_t sc_c, std::string_view hostnqn, std::string_view subnqn) {
  return Hmac(hash, transformed_key, ResponseInput(challenge, seqnum, t_id, sc_c, "HostHost", hostnqn, subnqn));
}

Bytes ControllerResponse(uint8_t hash, const Bytes& transformed_key, const Bytes& challenge, uint32_t seqnum,
                         uint16_t t_id, uint8_t sc_c, std::string_view hostnqn, std::string_view subnqn) {
  return Hmac(hash, transformed_key, ResponseInput(challenge, seqnum, t_id, sc_c, "Controller", subnqn, hostnqn));
}

Bytes SessionKey(uint8_t hash, const Bytes& shared_secret) { return Hash(hash, shared_secret); }

Bytes AugmentedChallenge(uint8_t hash, const Bytes& session_key, const Bytes& challenge) {
  return Hmac(hash, session_key, challenge);
}

Bytes GeneratedPsk(uint8_t hash, const Bytes& session_key, const Bytes& c1, const Bytes& c2) {
  Bytes in = c1;
  Append(in, c2.data(), c2.size());
  return Hmac(hash, session_key, in);
}

Result<Bytes> RandomBytes(size_t n) {
  Bytes b(n);
  if (n && RAND_bytes(b.data(), static_cast<int>(n)) != 1) return Status::IOError("the random generator failed");
  return b;
}

// ---------------------------------------------------------------- DhKeyPair

struct DhKeyPair::Key {
  PkeyPtr pkey;
};

DhKeyPair::DhKeyPair() = default;
DhKeyPair::~DhKeyPair() = default;
DhKeyPair::DhKeyPair(DhKeyPair&&) noexcept = default;
DhKeyPair& DhKeyPair::operator=(DhKeyPair&&) noexcept = default;

Result<DhKeyPair> DhKeyPair::Generate(uint8_t group) {
  int len = DhValueLength(group);
  if (len <= 0) return Status::InvalidArgument(std::string("no key pair in DH group ") + DhGroupName(group));
  CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0) return Status::IOError("DH key generation failed");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(DhGroupName(group)), 0),
      OSSL_PARAM_construct_end()};
  EVP_PKEY* k = nullptr;
  if (EVP_PKEY_CTX_set_params(ctx.get(), params) <= 0 || EVP_PKEY_generate(ctx.get(), &k) <= 0)
    return Status::IOError("DH key generation failed");
  DhKeyPair kp;
  kp.group_ = group;
  kp.key_ = std::make_unique<Key>();
  kp.key_->pkey.reset(k);
  BIGNUM* pub = nullptr;
  if (!EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PUB_KEY, &pub)) return Status::IOError("DH key generation failed");
  BnPtr pub_owner(pub);
  kp.public_.resize(static_cast<size_t>(len));
  if (BN_bn2binpad(pub, kp.public_.data(), len) != len) return Status::IOError("DH key generation failed");
  return kp;
}

Result<DhKeyPair> DhKeyPair::FromPrivate(uint8_t group, const Bytes& priv) {
  int len = DhValueLength(group);
  if (len <= 0) return Status::InvalidArgument(std::string("no key pair in DH group ") + DhGroupName(group));
  BnPtr p = Prime(group);
  BnPtr x(BN_bin2bn(priv.data(), static_cast<int>(priv.size()), nullptr));
  BnPtr g(BN_new());
  BnPtr y(BN_new());
  std::unique_ptr<BN_CTX, BnCtxFree> bctx(BN_CTX_new());
  if (!p || !x || !g || !y || !bctx || !BN_set_word(g.get(), 2) ||
      !BN_mod_exp(y.get(), g.get(), x.get(), p.get(), bctx.get()))
    return Status::IOError("DH key import failed");
  PkeyPtr k = FromData(group, x.get(), y.get(), EVP_PKEY_KEYPAIR);
  if (!k) return Status::IOError("DH key import failed");
  DhKeyPair kp;
  kp.group_ = group;
  kp.key_ = std::make_unique<Key>();
  kp.key_->pkey = std::move(k);
  kp.public_.resize(static_cast<size_t>(len));
  BN_bn2binpad(y.get(), kp.public_.data(), len);
  return kp;
}

Result<Bytes> DhKeyPair::SharedSecret(const Bytes& peer_public) const {
  int len = DhValueLength(group_);
  if (!key_ || len <= 0) return Status::InvalidArgument("no DH key pair");
  if (peer_public.size() != static_cast<size_t>(len))
    return Status::InvalidArgument("DH value of " + std::to_string(peer_public.size()) + " bytes in " +
                                   DhGroupName(group_) + " (" + std::to_string(len) + " expected)");
  // RFC 7919: 1 < y < p - 1.
  BnPtr p = Prime(group_);
  BnPtr y(BN_bin2bn(peer_public.data(), len, nullptr));
  BnPtr pm1(BN_new());
  if (!p || !y || !pm1 || !BN_sub(pm1.get(), p.get(), BN_value_one())) return Status::IOError("DH derivation failed");
  if (BN_cmp(y.get(), BN_value_one()) <= 0 || BN_cmp(y.get(), pm1.get()) >= 0)
    return Status::InvalidArgument("DH value out of range");
  PkeyPtr peer = FromData(group_, nullptr, y.get(), EVP_PKEY_PUBLIC_KEY);
  if (!peer) return Status::InvalidArgument("DH value not usable");
  CtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_->pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_dh_pad(ctx.get(), 1) <= 0 ||
      EVP_PKEY_derive_set_peer_ex(ctx.get(), peer.get(), 0) <= 0)
    return Status::IOError("DH derivation failed");
  size_t n = static_cast<size_t>(len);
  Bytes out(n);
  if (EVP_PKEY_derive(ctx.get(), out.data(), &n) <= 0) return Status::IOError("DH derivation failed");
  if (n < static_cast<size_t>(len)) {  // left-pad (dh_pad should already have)
    out.resize(n);
    out.insert(out.begin(), static_cast<size_t>(len) - n, 0);
  }
  return out;
}

}  // namespace nvmeof::auth
