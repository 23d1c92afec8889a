#include "gateway/state/secret_box.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "gateway/common/check.h"
#include "gateway/state/errc.h"

namespace nvmeof {

namespace {

using Bytes = std::vector<uint8_t>;

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr uint8_t kFernetVersion = 0x80;
constexpr size_t kHeader = 1 + 8 + 16;  // version, time, IV
constexpr size_t kMac = 32;

std::string Encode(const uint8_t* p, size_t n, const char* alphabet) {
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = static_cast<uint32_t>(p[i]) << 16;
    if (i + 1 < n) v |= static_cast<uint32_t>(p[i + 1]) << 8;
    if (i + 2 < n) v |= p[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
    out += i + 2 < n ? alphabet[v & 63] : '=';
  }
  return out;
}

// Strict base64 in `alphabet`: padding required, nothing else allowed.
bool Decode(std::string_view s, const char* alphabet, Bytes* out) {
  out->clear();
  if (s.size() % 4 != 0) return false;
  int8_t rev[256];
  std::memset(rev, -1, sizeof(rev));
  for (int i = 0; i < 64; i++) rev[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
  out->reserve(s.size() / 4 * 3);
  for (size_t i = 0; i < s.size(); i += 4) {
    const bool last = i + 4 == s.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; j++) {
      const char c = s[i + j];
      if (c == '=' && last && j >= 2) {
        pad++;
        v[j] = 0;
        continue;
      }
      if (pad) return false;  // a character after padding
      v[j] = rev[static_cast<uint8_t>(c)];
      if (v[j] < 0) return false;
    }
    const uint32_t w = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out->push_back(static_cast<uint8_t>(w >> 16));
    if (pad < 2) out->push_back(static_cast<uint8_t>(w >> 8));
    if (pad < 1) out->push_back(static_cast<uint8_t>(w));
  }
  return true;
}

void Wipe(Bytes* b) {
  if (!b->empty()) OPENSSL_cleanse(b->data(), b->size());
}
void Wipe(std::string* s) {
  if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
}

Status KeyFileError(std::string why) { return Status::Error(state::errc::kSecretKeyFile, std::move(why)); }
Status NotOpened(std::string why) { return Status::Error(state::errc::kSecretNotOpened, std::move(why)); }

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

// AES-128-CBC with PKCS#7 padding; false on a cipher failure (a bad padding when decrypting).
bool Cbc(bool encrypt, const std::array<uint8_t, 16>& key, const uint8_t* iv, const uint8_t* in, size_t n, Bytes* out) {
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_CipherInit_ex(ctx.get(), EVP_aes_128_cbc(), nullptr, key.data(), iv, encrypt ? 1 : 0) != 1)
    return false;
  out->assign(n + 16, 0);
  int len = 0, fin = 0;
  if (EVP_CipherUpdate(ctx.get(), out->data(), &len, in, static_cast<int>(n)) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), out->data() + len, &fin) != 1) {
    Wipe(out);
    return false;
  }
  out->resize(static_cast<size_t>(len + fin));
  return true;
}

void Mac(const std::array<uint8_t, 16>& key, const uint8_t* p, size_t n, uint8_t out[kMac]) {
  unsigned int len = kMac;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), p, n, out, &len);
}

}  // namespace

Result<SecretBox> SecretBox::FromKeyFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    const int e = errno ? errno : ENOENT;
    return Status::Error(state::errc::kSecretKeyFile, "cannot read " + path + ": " + std::strerror(e), e);
  }
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  Result<SecretBox> box = FromKeyText(text);
  Wipe(&text);
  if (!box.ok()) return KeyFileError(path + ": " + box.status().message());
  return box;
}

Result<SecretBox> SecretBox::FromKeyText(std::string_view text) {
  static constexpr std::string_view kBegin = "-----BEGIN", kEnd = "-----END", kDashes = "-----";
  // Lines stripped and joined, as the reference reads the file.
  std::string s;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
    s += line;
    pos = nl + 1;
  }
  struct Cleanup {
    std::string* s;
    ~Cleanup() { Wipe(s); }
  } cleanup{&s};
  if (s.empty()) return KeyFileError("the key is empty");
  if (s.compare(0, kBegin.size(), kBegin) != 0) return KeyFileError("the key does not start with \"-----BEGIN\"");
  std::string_view rest = std::string_view(s).substr(kBegin.size());
  const size_t close = rest.find(kDashes);
  if (close == std::string_view::npos) return KeyFileError("the key's BEGIN line does not end with \"-----\"");
  std::string_view begin_label = rest.substr(0, close);
  rest.remove_prefix(close + kDashes.size());
  const size_t end = rest.find(kEnd);
  if (end == std::string_view::npos) return KeyFileError("the key has no \"-----END\" line");
  std::string_view end_label = rest.substr(end + kEnd.size());
  if (end_label.size() < kDashes.size() || end_label.substr(end_label.size() - kDashes.size()) != kDashes)
    return KeyFileError("the key's END line does not end with \"-----\"");
  end_label.remove_suffix(kDashes.size());
  auto trim = [](std::string_view v) {
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    return v;
  };
  begin_label = trim(begin_label);
  end_label = trim(end_label);
  if (begin_label.empty()) return KeyFileError("the key's BEGIN line has no label");
  if (begin_label != end_label) return KeyFileError("the key's BEGIN and END labels differ");
  std::string body;
  for (char c : rest.substr(0, end))
    if (c != ' ') body += c;
  Bytes raw;
  const bool decoded = Decode(body, kStd, &raw);
  Wipe(&body);
  if (!decoded) {
    Wipe(&raw);
    return KeyFileError("the key is not valid base64");
  }
  if (raw.size() < kKeySize) {
    const size_t n = raw.size();
    Wipe(&raw);
    return KeyFileError("the key has " + std::to_string(n) + " bytes, at least " + std::to_string(kKeySize) +
                        " are needed");
  }
  SecretBox box;
  std::memcpy(box.signing_.data(), raw.data(), 16);
  std::memcpy(box.encryption_.data(), raw.data() + 16, 16);
  Wipe(&raw);
  return box;
}

std::string SecretBox::Seal(std::string_view secret) const {
  std::array<uint8_t, 16> iv;
  NVMEOF_CHECK(RAND_bytes(iv.data(), static_cast<int>(iv.size())) == 1, "RAND_bytes failed");
  return SealWith(secret, static_cast<uint64_t>(std::time(nullptr)), iv);
}

std::string SecretBox::SealWith(std::string_view secret, uint64_t unix_time, const std::array<uint8_t, 16>& iv) const {
  Bytes token(kHeader);
  token[0] = kFernetVersion;
  for (int i = 0; i < 8; i++) token[1 + i] = static_cast<uint8_t>(unix_time >> (56 - 8 * i));
  std::memcpy(token.data() + 9, iv.data(), iv.size());
  Bytes cipher;
  const bool sealed =
      Cbc(true, encryption_, iv.data(), reinterpret_cast<const uint8_t*>(secret.data()), secret.size(), &cipher);
  NVMEOF_CHECK(sealed, "AES-128-CBC failed");
  token.insert(token.end(), cipher.begin(), cipher.end());
  uint8_t mac[kMac];
  Mac(signing_, token.data(), token.size(), mac);
  token.insert(token.end(), mac, mac + kMac);
  const std::string text = Encode(token.data(), token.size(), kUrl);
  return Encode(reinterpret_cast<const uint8_t*>(text.data()), text.size(), kStd);
}

Result<std::string> SecretBox::Open(std::string_view sealed) const {
  Bytes text, token;
  if (!Decode(sealed, kStd, &text)) return NotOpened("not an encrypted key (not base64)");
  if (!Decode(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), kUrl, &token))
    return NotOpened("not an encrypted key (not a Fernet token)");
  if (token.size() < kHeader + 16 + kMac || (token.size() - kHeader - kMac) % 16 != 0 || token[0] != kFernetVersion)
    return NotOpened("not an encrypted key (not a Fernet token)");
  uint8_t mac[kMac];
  Mac(signing_, token.data(), token.size() - kMac, mac);
  if (CRYPTO_memcmp(mac, token.data() + token.size() - kMac, kMac) != 0)
    return NotOpened("it was encrypted with another key");
  Bytes plain;
  if (!Cbc(false, encryption_, token.data() + 9, token.data() + kHeader, token.size() - kHeader - kMac, &plain))
    return NotOpened("it was encrypted with another key");
  std::string out(plain.begin(), plain.end());
  Wipe(&plain);
  return out;
}

}  // namespace nvmeof
