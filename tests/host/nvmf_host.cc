#include "tests/host/nvmf_host.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

#include "gateway/nvmf/auth_keys.h"
#include "gateway/protocol/nvme_auth.h"

namespace nvmeof::host {

// ---------------------------------------------------------------- CRC32C

namespace {

constexpr uint32_t kCrcPoly = 0x82F63B78u;  // reflected Castagnoli

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ kCrcPoly : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

uint32_t CrcSoftware(uint32_t crc, const uint8_t* p, size_t n) {
  while (n--) crc = kCrcTable[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t CrcHardware(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}
bool HaveHardwareCrc() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}
#endif

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

void PutLe32(uint8_t* p, uint32_t v) { memcpy(p, &v, 4); }

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
#if defined(__x86_64__)
  if (HaveHardwareCrc()) return CrcHardware(crc, p, len);
#endif
  return CrcSoftware(crc, p, len);
}

std::string StatusString(const nvme::Status& s) {
  char b[64];
  snprintf(b, sizeof(b), "SCT %u SC 0x%02x%s%s", s.sct, s.sc, s.dnr ? " DNR" : "", s.more ? " M" : "");
  return b;
}

const char* RecvStatusName(RecvStatus s) {
  switch (s) {
    case RecvStatus::kOk: return "ok";
    case RecvStatus::kClosed: return "closed";
    case RecvStatus::kTimeout: return "timeout";
    case RecvStatus::kError: return "error";
  }
  return "?";
}

std::string Completion::ToString() const {
  if (!transport_ok) return "no completion: " + error;
  char b[128];
  snprintf(b, sizeof(b), "%s cid %u dw0 0x%08x%s", StatusString(status).c_str(), cqe.cid, cqe.dw0,
           by_success_flag ? " (C2HData SUCCESS)" : "");
  return b;
}

// ---------------------------------------------------------------- SQE builders

namespace cmd {

namespace {
nvme::Sqe Blank(uint8_t opcode) {
  nvme::Sqe s{};
  s.opcode = opcode;
  return s;
}
nvme::Sqe Rw(uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb) {
  nvme::Sqe s = Blank(opc);
  s.nsid = nsid;
  s.cdw10 = static_cast<uint32_t>(slba);
  s.cdw11 = static_cast<uint32_t>(slba >> 32);
  s.cdw12 = (nlb - 1) & 0xFFFF;
  return s;
}
}  // namespace

nvme::Sqe Connect(uint16_t qid, uint16_t sqsize, uint32_t kato_ms, uint8_t cattr) {
  nvme::ConnectCmd c{};
  c.opcode = nvme::kAdminFabrics;
  c.fctype = nvme::kFctypeConnect;
  c.recfmt = 0;
  c.qid = qid;
  c.sqsize = sqsize;
  c.cattr = cattr;
  c.kato = kato_ms;
  nvme::Sqe s;
  memcpy(&s, &c, sizeof(s));
  return s;
}

nvme::ConnectData MakeConnectData(const uint8_t hostid[16], uint16_t cntlid, const std::string& subnqn,
                                  const std::string& hostnqn) {
  nvme::ConnectData d{};
  memcpy(d.hostid, hostid, 16);
  d.cntlid = cntlid;
  nvme::CopyZeroPadded(d.subnqn, sizeof(d.subnqn), subnqn.c_str());
  nvme::CopyZeroPadded(d.hostnqn, sizeof(d.hostnqn), hostnqn.c_str());
  return d;
}

nvme::Sqe PropertyGet(uint32_t offset, bool size8) {
  nvme::PropertyCmd p{};
  p.opcode = nvme::kAdminFabrics;
  p.fctype = nvme::kFctypePropertyGet;
  p.attrib = size8 ? 1 : 0;
  p.offset = offset;
  nvme::Sqe s;
  memcpy(&s, &p, sizeof(s));
  return s;
}

nvme::Sqe PropertySet(uint32_t offset, uint64_t value, bool size8) {
  nvme::PropertyCmd p{};
  p.opcode = nvme::kAdminFabrics;
  p.fctype = nvme::kFctypePropertySet;
  p.attrib = size8 ? 1 : 0;
  p.offset = offset;
  p.value = value;
  nvme::Sqe s;
  memcpy(&s, &p, sizeof(s));
  return s;
}

nvme::Sqe Disconnect() {
  nvme::Sqe s = Blank(nvme::kAdminFabrics);
  s.nsid = nvme::kFctypeDisconnect;  // FCTYPE lives in byte 4
  return s;
}

nvme::Sqe Identify(uint8_t cns, uint32_t nsid, uint16_t cntid, uint8_t csi) {
  nvme::Sqe s = Blank(nvme::kAdminIdentify);
  s.nsid = nsid;
  s.cdw10 = cns | (static_cast<uint32_t>(cntid) << 16);
  s.cdw11 = static_cast<uint32_t>(csi) << 24;
  return s;
}

nvme::Sqe GetLogPage(uint8_t lid, uint32_t nsid, uint32_t len, uint64_t offset, uint8_t lsp, bool rae) {
  nvme::Sqe s = Blank(nvme::kAdminGetLogPage);
  uint32_t numd = len / 4 - 1;
  s.nsid = nsid;
  s.cdw10 = lid | (static_cast<uint32_t>(lsp & 0x7F) << 8) | (rae ? 1u << 15 : 0) | ((numd & 0xFFFF) << 16);
  s.cdw11 = numd >> 16;
  s.cdw12 = static_cast<uint32_t>(offset);
  s.cdw13 = static_cast<uint32_t>(offset >> 32);
  return s;
}

nvme::Sqe SetFeatures(uint8_t fid, uint32_t cdw11, uint32_t cdw12, bool save) {
  nvme::Sqe s = Blank(nvme::kAdminSetFeatures);
  s.cdw10 = fid | (save ? 1u << 31 : 0);
  s.cdw11 = cdw11;
  s.cdw12 = cdw12;
  return s;
}

nvme::Sqe GetFeatures(uint8_t fid, uint8_t sel, uint32_t cdw11) {
  nvme::Sqe s = Blank(nvme::kAdminGetFeatures);
  s.cdw10 = fid | (static_cast<uint32_t>(sel & 7) << 8);
  s.cdw11 = cdw11;
  return s;
}

nvme::Sqe KeepAlive() { return Blank(nvme::kAdminKeepAlive); }
nvme::Sqe AsyncEventRequest() { return Blank(nvme::kAdminAsyncEventRequest); }
nvme::Sqe Read(uint32_t nsid, uint64_t slba, uint32_t nlb) { return Rw(nvme::kIoRead, nsid, slba, nlb); }
nvme::Sqe Write(uint32_t nsid, uint64_t slba, uint32_t nlb) { return Rw(nvme::kIoWrite, nsid, slba, nlb); }
nvme::Sqe Compare(uint32_t nsid, uint64_t slba, uint32_t nlb) {
  return Rw(nvme::kIoCompare, nsid, slba, nlb);
}
nvme::Sqe Flush(uint32_t nsid) {
  nvme::Sqe s = Blank(nvme::kIoFlush);
  s.nsid = nsid;
  return s;
}
nvme::Sqe WriteZeroes(uint32_t nsid, uint64_t slba, uint32_t nlb, bool deallocate) {
  nvme::Sqe s = Rw(nvme::kIoWriteZeroes, nsid, slba, nlb);
  if (deallocate) s.cdw12 |= nvme::kWzDeallocate;
  return s;
}
nvme::Sqe Dsm(uint32_t nsid, uint32_t nr_ranges, uint32_t attributes) {
  nvme::Sqe s = Blank(nvme::kIoDatasetManagement);
  s.nsid = nsid;
  s.cdw10 = (nr_ranges - 1) & 0xFF;
  s.cdw11 = attributes;
  return s;
}

namespace {
nvme::Sqe AuthCommand(uint8_t fctype, uint32_t len) {
  nvme::AuthCmd a{};
  a.opcode = nvme::kAdminFabrics;
  a.fctype = fctype;
  a.spsp0 = nvme::kAuthSpsp0;
  a.spsp1 = nvme::kAuthSpsp1;
  a.secp = nvme::kAuthSecpNvme;
  a.length = len;
  nvme::Sqe s;
  memcpy(&s, &a, sizeof(s));
  return s;
}
}  // namespace

nvme::Sqe AuthSend(uint32_t len) { return AuthCommand(nvme::kFctypeAuthSend, len); }
nvme::Sqe AuthReceive(uint32_t len) { return AuthCommand(nvme::kFctypeAuthReceive, len); }

}  // namespace cmd

// ---------------------------------------------------------------- Connection

Connection::Connection() = default;
Connection::~Connection() { Close(); }

void Connection::Fail(std::string msg) { last_error_ = std::move(msg); }

bool Connection::Connect(const std::string& addr, uint16_t port, int timeout_ms) {
  Close();
  timeout_ms_ = timeout_ms;
  peer_closed_ = false;
  fatal_ = false;
  term_req_.reset();
  pending_.clear();
  done_.clear();

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string ps = std::to_string(port);
  if (int rc = getaddrinfo(addr.c_str(), ps.c_str(), &hints, &res); rc != 0) {
    Fail(std::string("getaddrinfo: ") + gai_strerror(rc));
    return false;
  }
  std::string err = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      err = std::string("socket: ") + strerror(errno);
      continue;
    }
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, timeout_ms);
      if (rc == 1) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        rc = soerr ? -1 : 0;
        errno = soerr;
      } else {
        errno = rc == 0 ? ETIMEDOUT : errno;
        rc = -1;
      }
    }
    if (rc < 0) {
      err = std::string("connect: ") + strerror(errno);
      close(fd);
      continue;
    }
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fd_ = fd;
    break;
  }
  freeaddrinfo(res);
  if (fd_ < 0) {
    Fail(err);
    return false;
  }
  return true;
}

void Connection::Close() {
  if (ssl_) SSL_free(ssl_);
  if (ssl_ctx_) SSL_CTX_free(ssl_ctx_);
  ssl_ = nullptr;
  ssl_ctx_ = nullptr;
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

namespace {

const EVP_MD* TlsMd(uint8_t hash) { return hash == 2 ? EVP_sha384() : EVP_sha256(); }

std::vector<uint8_t> HmacBytes(uint8_t hash, const std::vector<uint8_t>& key, const std::string& msg) {
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned len = 0;
  HMAC(TlsMd(hash), key.data(), static_cast<int>(key.size()), reinterpret_cast<const uint8_t*>(msg.data()),
       msg.size(), out.data(), &len);
  out.resize(len);
  return out;
}

// RFC 5869 HKDF-Extract with a zero salt, then RFC 8446 HKDF-Expand-Label, written out.
std::vector<uint8_t> ExpandLabel(uint8_t hash, const std::vector<uint8_t>& ikm, const std::string& label,
                                 const std::string& context, size_t len) {
  const size_t hl = static_cast<size_t>(EVP_MD_get_size(TlsMd(hash)));
  std::vector<uint8_t> prk = HmacBytes(hash, std::vector<uint8_t>(hl, 0), std::string(ikm.begin(), ikm.end()));
  std::string full = "tls13 " + label;
  std::string info;
  info += static_cast<char>(len >> 8);
  info += static_cast<char>(len & 0xff);
  info += static_cast<char>(full.size());
  info += full;
  info += static_cast<char>(context.size());
  info += context;
  std::vector<uint8_t> out, t;
  for (uint8_t i = 1; out.size() < len; i++) {
    std::string m(t.begin(), t.end());
    m += info;
    m += static_cast<char>(i);
    t = HmacBytes(hash, prk, m);
    out.insert(out.end(), t.begin(), t.end());
  }
  out.resize(len);
  return out;
}

uint32_t Crc32Ieee(const uint8_t* p, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int b = 0; b < 8; ++b) crc = (crc & 1) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
  }
  return ~crc;
}

std::string B64(const std::vector<uint8_t>& b) {
  std::string out(4 * ((b.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), b.data(), static_cast<int>(b.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace

bool DeriveTlsClientPsk(const std::string& text, const std::string& hostnqn, const std::string& subnqn, int version,
                        TlsClientPsk* out, std::string* err) {
  const std::string prefix = "NVMeTLSkey-1:";
  if (text.compare(0, prefix.size(), prefix) != 0 || text.size() < prefix.size() + 4 || text.back() != ':' ||
      text[prefix.size() + 2] != ':') {
    *err = "not a PSK in interchange format";
    return false;
  }
  int hh = std::atoi(text.substr(prefix.size(), 2).c_str());
  std::string b64 = text.substr(prefix.size() + 3, text.size() - prefix.size() - 4);
  std::vector<uint8_t> raw(b64.size() / 4 * 3 + 3);
  int n = EVP_DecodeBlock(raw.data(), reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  if (n < 0 || b64.size() % 4) {
    *err = "bad base64";
    return false;
  }
  n -= static_cast<int>(std::count(b64.end() - 2, b64.end(), '='));
  if (n != 36 && n != 52) {
    *err = "bad key length";
    return false;
  }
  std::vector<uint8_t> key(raw.begin(), raw.begin() + (n - 4));
  uint32_t crc = Crc32Ieee(key.data(), key.size());
  uint32_t got = raw[n - 4] | (raw[n - 3] << 8) | (raw[n - 2] << 16) | (static_cast<uint32_t>(raw[n - 1]) << 24);
  if (crc != got) {
    *err = "CRC mismatch";
    return false;
  }
  const uint8_t hash = hh != 0 ? static_cast<uint8_t>(hh) : (key.size() == 48 ? 2 : 1);
  std::vector<uint8_t> retained = hh == 0 ? key : ExpandLabel(hash, key, "HostNQN", hostnqn, key.size());
  char head[16];
  snprintf(head, sizeof(head), "NVMe%dR%02u ", version, hash);
  out->identity = head + hostnqn + " " + subnqn;
  std::string context = out->identity;
  if (version == 1) {
    std::string digest = B64(HmacBytes(hash, retained, hostnqn + " " + subnqn + " NVMe-over-Fabrics"));
    out->identity += " " + digest;
    snprintf(head, sizeof(head), "%02u ", hash);
    context = head + digest;
  }
  out->hash = hash;
  out->key = ExpandLabel(hash, retained, "nvme-tls-psk", context, static_cast<size_t>(EVP_MD_get_size(TlsMd(hash))));
  return true;
}

namespace {
const TlsClientPsk* g_psk_for_callback = nullptr;  // set around SSL_connect (one thread)

int UsePsk(SSL* ssl, const EVP_MD* md, const unsigned char** id, size_t* idlen, SSL_SESSION** sess) {
  const TlsClientPsk* psk = g_psk_for_callback;
  *sess = nullptr;
  if (!psk) return 1;
  const unsigned char cid[2] = {0x13, static_cast<unsigned char>(psk->hash == 2 ? 0x02 : 0x01)};
  const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, cid);
  if (!cipher || (md && md != SSL_CIPHER_get_handshake_digest(cipher))) return 1;
  SSL_SESSION* s = SSL_SESSION_new();
  SSL_SESSION_set1_master_key(s, psk->key.data(), psk->key.size());
  SSL_SESSION_set_cipher(s, cipher);
  SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION);
  *sess = s;
  *id = reinterpret_cast<const unsigned char*>(psk->identity.data());
  *idlen = psk->identity.size();
  return 1;
}
}  // namespace

bool Connection::StartTls(const TlsClientPsk& psk) {
  if (fd_ < 0) {
    Fail("not connected");
    return false;
  }
  ssl_ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ssl_ctx_, TLS1_3_VERSION);
  SSL_CTX_set_ciphersuites(ssl_ctx_, psk.hash == 2 ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256");
  SSL_CTX_set_psk_use_session_callback(ssl_ctx_, UsePsk);
  SSL_CTX_set_options(ssl_ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Read-ahead into OpenSSL's default-sized buffer: one recv() per record, not two
  // (SSL_has_pending then says what waits). A larger buffer costs more: OpenSSL 3.0 moves
  // the unread rest of it to its start before each record.
  SSL_CTX_set_read_ahead(ssl_ctx_, 1);
  ssl_ = SSL_new(ssl_ctx_);
  SSL_set_fd(ssl_, fd_);
  timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  g_psk_for_callback = &psk;
  ERR_clear_error();
  int rc = SSL_connect(ssl_);
  g_psk_for_callback = nullptr;
  timeval none{0, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
  if (rc != 1) {
    unsigned long e = ERR_get_error();
    const char* r = e ? ERR_reason_error_string(e) : nullptr;
    Fail(std::string("TLS handshake failed: ") + (r ? r : "connection closed by the target"));
    ERR_clear_error();
    peer_closed_ = true;
    return false;
  }
  return true;
}

ssize_t Connection::RecvSome(void* p, size_t n) {
  if (!ssl_) return recv(fd_, p, n, 0);
  size_t got = 0;
  int rc = SSL_read_ex(ssl_, p, n, &got);
  if (rc == 1) return static_cast<ssize_t>(got);
  int err = SSL_get_error(ssl_, rc);
  ERR_clear_error();
  if (err == SSL_ERROR_ZERO_RETURN) return 0;
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  if (err == SSL_ERROR_SYSCALL && errno == 0) return 0;
  if (err != SSL_ERROR_SYSCALL) errno = EPROTO;
  return -1;
}

bool Connection::Readable(int timeout_ms) {
  if (ssl_ && SSL_has_pending(ssl_) == 1) return true;
  pollfd pf{fd_, POLLIN, 0};
  return poll(&pf, 1, timeout_ms) > 0;
}

int Connection::ReleaseFd() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

bool Connection::SendRaw(const void* p, size_t n) {
  if (fd_ < 0) {
    Fail("not connected");
    return false;
  }
  const auto* c = static_cast<const uint8_t*>(p);
  while (n > 0) {
    ssize_t w;
    if (ssl_) {
      size_t done = 0;
      int rc = SSL_write_ex(ssl_, c, n, &done);
      w = rc == 1 ? static_cast<ssize_t>(done) : -1;
      if (rc != 1) {
        ERR_clear_error();
        if (errno == 0) errno = EPIPE;
      }
    } else {
      w = send(fd_, c, n, MSG_NOSIGNAL);
    }
    if (w < 0) {
      if (errno == EINTR) continue;
      Fail(std::string("send: ") + strerror(errno));
      if (errno == EPIPE || errno == ECONNRESET) peer_closed_ = true;
      return false;
    }
    c += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool Connection::SendRawChunked(const void* p, size_t n, size_t chunk, int pause_us) {
  const auto* c = static_cast<const uint8_t*>(p);
  if (chunk == 0) chunk = 1;
  while (n > 0) {
    size_t k = std::min(n, chunk);
    if (!SendRaw(c, k)) return false;
    c += k;
    n -= k;
    if (pause_us > 0 && n > 0) std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
  }
  return true;
}

bool Connection::ReadFull(void* p, size_t n, int timeout_ms, RecvStatus* st) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto* c = static_cast<uint8_t*>(p);
  while (n > 0) {
    pollfd pf{fd_, POLLIN, 0};
    int rc = ssl_ && SSL_has_pending(ssl_) == 1 ? 1 : poll(&pf, 1, RemainingMs(deadline));
    if (rc < 0) {
      if (errno == EINTR) continue;
      Fail(std::string("poll: ") + strerror(errno));
      *st = RecvStatus::kError;
      return false;
    }
    if (rc == 0) {
      Fail("timed out waiting for data from the target");
      *st = RecvStatus::kTimeout;
      return false;
    }
    ssize_t r = RecvSome(c, n);
    if (r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE))) {
      peer_closed_ = true;
      Fail("connection closed by the target");
      *st = RecvStatus::kClosed;
      return false;
    }
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      Fail(std::string("recv: ") + strerror(errno));
      *st = RecvStatus::kError;
      return false;
    }
    c += r;
    n -= static_cast<size_t>(r);
  }
  *st = RecvStatus::kOk;
  return true;
}

RecvStatus Connection::RecvPdu(Pdu* out, int timeout_ms) {
  if (fd_ < 0) {
    Fail("not connected");
    return peer_closed_ ? RecvStatus::kClosed : RecvStatus::kError;
  }
  if (timeout_ms < 0) timeout_ms = timeout_ms_;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  RecvStatus st;
  tcp::CommonHeader ch;
  if (!ReadFull(&ch, sizeof(ch), timeout_ms, &st)) return st;
  // Sanity bounds: the host never accepts more than 64 MiB in one PDU.
  if (ch.plen < sizeof(ch) || ch.plen > (64u << 20) || ch.hlen < sizeof(ch) || ch.hlen > ch.plen) {
    char b[128];
    snprintf(b, sizeof(b), "malformed PDU from target: type 0x%02x hlen %u pdo %u plen %u", ch.pdu_type,
             ch.hlen, ch.pdo, ch.plen);
    Fail(b);
    fatal_ = true;
    return RecvStatus::kError;
  }
  out->raw.resize(ch.plen);
  memcpy(out->raw.data(), &ch, sizeof(ch));
  if (!ReadFull(out->raw.data() + sizeof(ch), ch.plen - sizeof(ch), RemainingMs(deadline), &st)) return st;

  out->hdgst_ok = true;
  out->ddgst_ok = true;
  bool term = ch.pdu_type == tcp::kC2HTermReq || ch.pdu_type == tcp::kH2CTermReq;
  if (!term && (ch.flags & tcp::kFlagHdgst)) {
    if (ch.plen < ch.hlen + tcp::kDigestLen) {
      out->hdgst_ok = false;
    } else {
      uint32_t want = Crc32c(out->raw.data(), ch.hlen), got;
      memcpy(&got, out->raw.data() + ch.hlen, 4);
      out->hdgst_ok = want == got;
    }
  }
  if (!term && (ch.flags & tcp::kFlagDdgst) && ch.pdo != 0) {
    if (ch.plen < ch.pdo + tcp::kDigestLen) {
      out->ddgst_ok = false;
    } else {
      uint32_t want = Crc32c(out->raw.data() + ch.pdo, ch.plen - ch.pdo - tcp::kDigestLen), got;
      memcpy(&got, out->raw.data() + ch.plen - tcp::kDigestLen, 4);
      out->ddgst_ok = want == got;
    }
  }
  if (term) {
    TermReq t;
    t.pdu_type = ch.pdu_type;
    if (ch.plen >= sizeof(tcp::TermReqHeader)) {
      tcp::TermReqHeader h;
      memcpy(&h, out->raw.data(), sizeof(h));
      t.fes = h.fes;
      t.fei = h.fei;
      uint32_t off = std::max<uint32_t>(ch.hlen, sizeof(tcp::TermReqHeader));
      if (ch.plen > off) t.offending.assign(out->raw.begin() + off, out->raw.end());
    }
    term_req_ = t;
  }
  return RecvStatus::kOk;
}

bool Connection::WaitForClose(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Pdu pdu;
  for (;;) {
    if (peer_closed_) return true;
    if (fd_ < 0) return false;
    RecvStatus st = RecvPdu(&pdu, RemainingMs(deadline));
    if (st == RecvStatus::kClosed) return true;
    if (st == RecvStatus::kTimeout) return false;
    if (st == RecvStatus::kError) {
      // Malformed bytes: keep draining raw bytes until EOF or the deadline.
      char junk[4096];
      for (;;) {
        if (!Readable(RemainingMs(deadline))) return false;
        ssize_t r = RecvSome(junk, sizeof(junk));
        if (r == 0 || (r < 0 && errno == ECONNRESET)) {
          peer_closed_ = true;
          return true;
        }
      }
    }
  }
}

bool Connection::WaitForTermReq(TermReq* out, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Pdu pdu;
  for (;;) {
    RecvStatus st = RecvPdu(&pdu, RemainingMs(deadline));
    if (st != RecvStatus::kOk) return false;
    if (pdu.type() == tcp::kC2HTermReq || pdu.type() == tcp::kH2CTermReq) {
      if (out) *out = *term_req_;
      return true;
    }
  }
}

bool Connection::SendIcReq(const IcOptions& opt) {
  tcp::IcReq req{};
  req.ch.pdu_type = tcp::kIcReq;
  req.ch.hlen = sizeof(req);
  req.ch.plen = sizeof(req);
  req.pfv = opt.pfv;
  req.hpda = opt.hpda;
  req.dgst = (opt.hdgst ? tcp::kDgstHeader : 0) | (opt.ddgst ? tcp::kDgstData : 0);
  req.maxr2t = opt.maxr2t;
  return SendRaw(&req, sizeof(req));
}

bool Connection::Initialize(const IcOptions& opt) {
  if (!SendIcReq(opt)) return false;
  Pdu pdu;
  RecvStatus st = RecvPdu(&pdu);
  if (st != RecvStatus::kOk) {
    Fail(std::string("no ICResp: ") + RecvStatusName(st) + ": " + last_error_);
    return false;
  }
  if (pdu.type() == tcp::kC2HTermReq) {
    char b[96];
    snprintf(b, sizeof(b), "ICReq rejected: C2HTermReq FES 0x%x FEI 0x%x", term_req_->fes, term_req_->fei);
    Fail(b);
    return false;
  }
  if (pdu.type() != tcp::kIcResp || pdu.raw.size() != sizeof(tcp::IcResp) || pdu.ch().hlen != 128) {
    char b[96];
    snprintf(b, sizeof(b), "expected ICResp, got type 0x%02x hlen %u plen %zu", pdu.type(), pdu.ch().hlen,
             pdu.raw.size());
    Fail(b);
    return false;
  }
  memcpy(&icresp_, pdu.raw.data(), sizeof(icresp_));
  hdgst_ = opt.hdgst && (icresp_.dgst & tcp::kDgstHeader);
  ddgst_ = opt.ddgst && (icresp_.dgst & tcp::kDgstData);
  maxh2cdata_ = icresp_.maxh2cdata;
  cpda_ = icresp_.cpda;
  if (maxh2cdata_ < 4096 || (maxh2cdata_ & 3)) {
    Fail("ICResp MAXH2CDATA " + std::to_string(maxh2cdata_) + " is invalid (must be >= 4096, multiple of 4)");
    return false;
  }
  return true;
}

uint32_t Connection::PadTo(uint32_t off) const {
  uint32_t align = (static_cast<uint32_t>(cpda_) + 1) * 4;
  return (off + align - 1) / align * align;
}

namespace {

// Assembles header [+hdgst] [+pad] [+data +ddgst] into one buffer.
std::vector<uint8_t> Assemble(const void* hdr, uint32_t hlen, const void* data, uint32_t len, bool hdgst,
                              bool ddgst, uint32_t pdo_aligned, const Connection::BuildOpts& o) {
  uint32_t hl = hlen + (hdgst ? tcp::kDigestLen : 0);
  uint32_t pdo = len ? pdo_aligned : 0;
  uint32_t plen = len ? pdo + len + (ddgst ? tcp::kDigestLen : 0) : hl;
  std::vector<uint8_t> b(plen, 0);
  memcpy(b.data(), hdr, hlen);
  auto* ch = reinterpret_cast<tcp::CommonHeader*>(b.data());
  ch->flags |= (hdgst ? tcp::kFlagHdgst : 0) | (ddgst && len ? tcp::kFlagDdgst : 0) | o.extra_flags;
  ch->hlen = static_cast<uint8_t>(o.hlen_override >= 0 ? o.hlen_override : hlen);
  ch->pdo = static_cast<uint8_t>(o.pdo_override >= 0 ? o.pdo_override : pdo);
  ch->plen = static_cast<uint32_t>(static_cast<int64_t>(plen) + o.plen_delta);
  if (hdgst) {
    uint32_t d = Crc32c(b.data(), hlen);
    if (o.corrupt_hdgst) d ^= 0x5A5A5A5A;
    PutLe32(b.data() + hlen, d);
  }
  if (len) {
    memcpy(b.data() + pdo, data, len);
    if (ddgst) {
      uint32_t d = Crc32c(data, len);
      if (o.corrupt_ddgst) d ^= 0xA5A5A5A5;
      PutLe32(b.data() + pdo + len, d);
    }
  }
  return b;
}

}  // namespace

std::vector<uint8_t> Connection::BuildCapsuleCmd(const nvme::Sqe& sqe, const void* icd, uint32_t len) const {
  return BuildCapsuleCmd(sqe, icd, len, BuildOpts{});
}

std::vector<uint8_t> Connection::BuildCapsuleCmd(const nvme::Sqe& sqe, const void* icd, uint32_t len,
                                                 const BuildOpts& o) const {
  tcp::CapsuleCmdHeader h{};
  h.ch.pdu_type = tcp::kCapsuleCmd;
  h.sqe = sqe;
  uint32_t pdo = PadTo(sizeof(h) + (hdgst_ ? tcp::kDigestLen : 0));
  return Assemble(&h, sizeof(h), icd, len, hdgst_, ddgst_, pdo, o);
}

std::vector<uint8_t> Connection::BuildH2CData(uint16_t cccid, uint16_t ttag, uint32_t datao, const void* data,
                                              uint32_t len, bool last) const {
  return BuildH2CData(cccid, ttag, datao, data, len, last, BuildOpts{});
}

std::vector<uint8_t> Connection::BuildH2CData(uint16_t cccid, uint16_t ttag, uint32_t datao, const void* data,
                                              uint32_t len, bool last, const BuildOpts& o) const {
  tcp::DataHeader h{};
  h.ch.pdu_type = tcp::kH2CData;
  h.ch.flags = last ? tcp::kFlagLastPdu : 0;
  h.cccid = cccid;
  h.ttag = ttag;
  h.datao = datao;
  h.datal = len;
  uint32_t pdo = PadTo(sizeof(h) + (hdgst_ ? tcp::kDigestLen : 0));
  return Assemble(&h, sizeof(h), data, len, hdgst_, ddgst_, pdo, o);
}

bool Connection::Submit(nvme::Sqe* sqe, const void* out, uint32_t out_len, void* in, uint32_t in_len) {
  return Submit(sqe, out, out_len, in, in_len, SubmitOpts{});
}

bool Connection::Submit(nvme::Sqe* sqe, const void* out, uint32_t out_len, void* in, uint32_t in_len,
                        const SubmitOpts& o) {
  if (!o.keep_cid) {
    for (int tries = 0; tries < 0x10000; tries++) {
      uint16_t c = next_cid_++;
      if (c == 0xFFFF) continue;
      if (!pending_.count(c) && !done_.count(c)) {
        sqe->cid = c;
        break;
      }
    }
  }
  bool in_capsule;
  if (!o.keep_sgl) {
    sqe->flags = static_cast<uint8_t>((sqe->flags & ~0xC0) | 0x40);  // PSDT: SGL
    memset(&sqe->sgl1, 0, sizeof(sqe->sgl1));
    if (out_len > 0) {
      in_capsule = out_len <= icd_limit_ && !o.force_r2t;
      sqe->sgl1.length = out_len;
      sqe->sgl1.id = in_capsule ? nvme::kSglDataBlockOffset : nvme::kSglTransportDataBlock;
    } else {
      in_capsule = false;
      sqe->sgl1.length = in_len;
      sqe->sgl1.id = nvme::kSglTransportDataBlock;
    }
  } else {
    in_capsule = sqe->sgl1.id == nvme::kSglDataBlockOffset && out_len > 0;
  }
  Pending p;
  p.out = static_cast<const uint8_t*>(out);
  p.out_len = out_len;
  p.in = static_cast<uint8_t*>(in);
  p.in_len = in_len;
  pending_[sqe->cid] = p;
  auto pdu = BuildCapsuleCmd(*sqe, in_capsule ? out : nullptr, in_capsule ? out_len : 0);
  stats_.capsules++;
  if (o.capture) {
    o.capture->insert(o.capture->end(), pdu.begin(), pdu.end());
    return true;
  }
  if (!SendRaw(pdu)) {
    pending_.erase(sqe->cid);
    return false;
  }
  return true;
}

bool Connection::HandleR2T(const Pdu& pdu) {
  auto r = pdu.header<tcp::R2THeader>();
  stats_.r2t++;
  auto it = pending_.find(r.cccid);
  if (it == pending_.end()) {
    Fail("R2T for unknown command id " + std::to_string(r.cccid));
    return false;
  }
  const Pending& p = it->second;
  if (static_cast<uint64_t>(r.r2to) + r.r2tl > p.out_len || r.r2tl == 0) {
    char b[128];
    snprintf(b, sizeof(b), "R2T cid %u offset %u length %u outside the command's %u bytes", r.cccid, r.r2to,
             r.r2tl, p.out_len);
    Fail(b);
    return false;
  }
  uint32_t off = r.r2to, left = r.r2tl;
  uint32_t chunk_max = maxh2cdata_ ? maxh2cdata_ : left;
  while (left > 0) {
    uint32_t n = std::min(left, chunk_max);
    auto h2c = BuildH2CData(r.cccid, r.ttag, off, p.out + off, n, n == left);
    stats_.h2c_pdus++;
    if (!SendRaw(h2c)) return false;
    off += n;
    left -= n;
  }
  return true;
}

bool Connection::HandlePdu(const Pdu& pdu) {
  char b[160];
  if (!pdu.hdgst_ok) {
    snprintf(b, sizeof(b), "header digest error in PDU type 0x%02x from the target", pdu.type());
    Fail(b);
    return false;
  }
  switch (pdu.type()) {
    case tcp::kCapsuleResp: {
      if (pdu.raw.size() < sizeof(tcp::CapsuleRespHeader)) {
        Fail("short CapsuleResp");
        return false;
      }
      auto h = pdu.header<tcp::CapsuleRespHeader>();
      stats_.capsule_resps++;
      Completion c;
      c.transport_ok = true;
      c.cqe = h.cqe;
      c.status = nvme::Status::Decode(h.cqe.status);
      if (auto it = pending_.find(h.cqe.cid); it != pending_.end()) {
        c.bytes_in = it->second.bytes_in;
        pending_.erase(it);
      }
      done_[h.cqe.cid] = c;
      return true;
    }
    case tcp::kC2HData: {
      auto h = pdu.header<tcp::DataHeader>();
      stats_.c2h_pdus++;
      auto it = pending_.find(h.cccid);
      if (it == pending_.end()) {
        Fail("C2HData for unknown command id " + std::to_string(h.cccid));
        return false;
      }
      Pending& p = it->second;
      if (!pdu.ddgst_ok) {
        Fail("data digest error in C2HData for cid " + std::to_string(h.cccid));
        return false;
      }
      if (h.datal != pdu.data_len() || static_cast<uint64_t>(h.datao) + h.datal > p.in_len) {
        snprintf(b, sizeof(b), "C2HData cid %u datao %u datal %u (PDU data %u) outside the %u-byte buffer",
                 h.cccid, h.datao, h.datal, pdu.data_len(), p.in_len);
        Fail(b);
        return false;
      }
      if (h.datal) memcpy(p.in + h.datao, pdu.data(), h.datal);
      p.bytes_in += h.datal;
      if (h.ch.flags & tcp::kFlagSuccess) {
        if (!(h.ch.flags & tcp::kFlagLastPdu)) {
          Fail("C2HData with SUCCESS but without LAST_PDU");
          return false;
        }
        stats_.c2h_success++;
        Completion c;
        c.transport_ok = true;
        c.by_success_flag = true;
        c.cqe.cid = h.cccid;
        c.cqe.sqid = qid_;
        c.bytes_in = p.bytes_in;
        c.status = nvme::kSuccess;
        done_[h.cccid] = c;
        pending_.erase(it);
      }
      return true;
    }
    case tcp::kR2T:
      return HandleR2T(pdu);
    case tcp::kC2HTermReq:
    case tcp::kH2CTermReq:
      snprintf(b, sizeof(b), "target sent C2HTermReq FES 0x%x FEI 0x%x", term_req_->fes, term_req_->fei);
      Fail(b);
      return false;
    default:
      snprintf(b, sizeof(b), "unexpected PDU type 0x%02x from the target", pdu.type());
      Fail(b);
      return false;
  }
}

Completion Connection::Wait(uint16_t cid, int timeout_ms) {
  if (timeout_ms < 0) timeout_ms = timeout_ms_;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Completion c;
  Pdu pdu;
  for (;;) {
    if (auto it = done_.find(cid); it != done_.end()) {
      c = it->second;
      done_.erase(it);
      return c;
    }
    if (fatal_ || fd_ < 0) {
      c.error = last_error_.empty() ? "connection unusable" : last_error_;
      return c;
    }
    RecvStatus st = RecvPdu(&pdu, RemainingMs(deadline));
    if (st != RecvStatus::kOk) {
      if (st != RecvStatus::kTimeout) fatal_ = true;
      c.error = std::string(RecvStatusName(st)) + ": " + last_error_;
      if (term_req_) {
        char b[80];
        snprintf(b, sizeof(b), " (after C2HTermReq FES 0x%x FEI 0x%x)", term_req_->fes, term_req_->fei);
        c.error += b;
      }
      return c;
    }
    if (!HandlePdu(pdu)) {
      fatal_ = true;
      c.error = last_error_;
      return c;
    }
  }
}

Completion Connection::Execute(nvme::Sqe sqe, const void* out, uint32_t out_len, void* in, uint32_t in_len) {
  if (!Submit(&sqe, out, out_len, in, in_len)) {
    Completion c;
    c.error = "send failed: " + last_error_;
    return c;
  }
  return Wait(sqe.cid);
}

std::optional<Completion> Connection::WaitAny(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Pdu pdu;
  for (;;) {
    if (!done_.empty()) {
      Completion c = done_.begin()->second;
      done_.erase(done_.begin());
      return c;
    }
    if (fatal_ || fd_ < 0) return std::nullopt;
    RecvStatus st = RecvPdu(&pdu, RemainingMs(deadline));
    if (st != RecvStatus::kOk) {
      if (st != RecvStatus::kTimeout) fatal_ = true;
      return std::nullopt;
    }
    if (!HandlePdu(pdu)) {
      fatal_ = true;
      return std::nullopt;
    }
  }
}

// ---------------------------------------------------------------- DH-HMAC-CHAP

namespace {

// Largest controller message: a Challenge with a SHA-512 C1 and an FFDHE8192 value.
constexpr uint32_t kAuthRecvLen = sizeof(nvme::ChallengeWire) + nvme::kAuthMaxHashLen + nvme::kAuthMaxDhLen;

void Wipe(std::vector<uint8_t>& b) {
  if (!b.empty()) OPENSSL_cleanse(b.data(), b.size());
  b.clear();
}

// The transaction's secrets, wiped whichever way it ends.
struct AuthSecrets {
  std::vector<uint8_t> host_key, ctrl_key, session_key, c1, c2;
  ~AuthSecrets() {
    for (auto* b : {&host_key, &ctrl_key, &session_key, &c1, &c2}) Wipe(*b);
  }
};

}  // namespace

bool Connection::Authenticate(const DhchapHostOptions& o, const std::string& hostnqn, const std::string& subnqn,
                              AuthOutcome* out) {
  using namespace nvme;
  *out = AuthOutcome{};
  const auto start = Clock::now();
  auto finish = [&](bool ok, std::string error) {
    out->ok = ok;
    out->error = std::move(error);
    out->elapsed_ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
    return ok;
  };
  AuthSecrets k;
  auto hk = auth::ParseDhchapSecret(o.secret);
  if (!hk.ok()) return finish(false, "the host secret: " + hk.status().message());
  k.host_key = auth::TransformKey(*hk, hostnqn);
  Wipe(hk->key);
  const bool bidirectional = !o.ctrl_secret.empty();
  if (bidirectional) {
    auto ck = auth::ParseDhchapSecret(o.ctrl_secret);
    if (!ck.ok()) return finish(false, "the controller secret: " + ck.status().message());
    k.ctrl_key = auth::TransformKey(*ck, subnqn);
    Wipe(ck->key);
  }
  const uint16_t t_id = next_cid_;  // any value; the controller echoes it
  out->attempted = true;

  // Sends one message; false (and *out set) if the command failed.
  auto send = [&](const std::vector<uint8_t>& msg, const char* what) {
    Completion c = Execute(cmd::AuthSend(static_cast<uint32_t>(msg.size())), msg.data(),
                           static_cast<uint32_t>(msg.size()));
    if (c.ok()) return true;
    out->status = c.status;
    finish(false, std::string("Authentication Send (") + what + "): " + c.ToString());
    return false;
  };
  // Receives one message into *msg; false (and *out set) if the command failed or the
  // controller sent a Failure1.
  std::vector<uint8_t> buf(kAuthRecvLen);
  auto receive = [&](const char* what, size_t* len) {
    Completion c = Execute(cmd::AuthReceive(kAuthRecvLen), nullptr, 0, buf.data(), kAuthRecvLen);
    if (!c.ok()) {
      out->status = c.status;
      finish(false, std::string("Authentication Receive (") + what + "): " + c.ToString());
      return false;
    }
    *len = c.bytes_in;
    AuthHeaderWire h;
    if (DecodeAuthHeader(buf.data(), *len, &h) != AuthDecodeError::kOk) {
      finish(false, std::string(what) + ": message shorter than its header");
      return false;
    }
    if (h.auth_type == kAuthTypeCommon && h.auth_id == kAuthIdFailure1) {
      AuthFailure f;
      if (DecodeFailure1(buf.data(), *len, &f) != AuthDecodeError::kOk) {
        finish(false, std::string(what) + ": malformed AUTH_Failure1");
        return false;
      }
      out->failure1 = f.explanation;
      char why[96];
      snprintf(why, sizeof(why), "the controller sent AUTH_Failure1 (reason %02xh, explanation %02xh) for %s",
               f.rescode, f.explanation, what);
      finish(false, why);
      return false;
    }
    return true;
  };
  // Tells the controller the transaction failed on the host's side.
  auto fail2 = [&](uint8_t explanation, std::string why) {
    AuthFailure f;
    f.t_id = t_id;
    f.explanation = explanation;
    out->failure2 = explanation;
    std::vector<uint8_t> msg = EncodeFailure2(f);
    Execute(cmd::AuthSend(static_cast<uint32_t>(msg.size())), msg.data(), static_cast<uint32_t>(msg.size()));
    return finish(false, std::move(why));
  };

  AuthNegotiate neg;
  neg.t_id = t_id;
  neg.sc_c = kScCNone;
  neg.hashes = o.hashes;
  neg.dhgroups = o.dhgroups;
  if (!send(EncodeNegotiate(neg), "AUTH_Negotiate")) return false;

  size_t len = 0;
  if (!receive("DH-HMAC-CHAP_Challenge", &len)) return false;
  AuthChallenge ch;
  if (auto e = DecodeChallenge(buf.data(), len, &ch); e != AuthDecodeError::kOk)
    return fail2(kAuthExplIncorrectPayload, "bad Challenge: " + std::string(AuthDecodeErrorName(e)));
  out->hash = ch.hashid;
  out->dhgroup = ch.dhgid;
  if (ch.t_id != t_id) return fail2(kAuthExplIncorrectPayload, "Challenge with another transaction identifier");
  if (std::find(o.hashes.begin(), o.hashes.end(), ch.hashid) == o.hashes.end())
    return fail2(kAuthExplHashUnusable, "the controller chose a hash function the host did not offer");
  if (std::find(o.dhgroups.begin(), o.dhgroups.end(), ch.dhgid) == o.dhgroups.end())
    return fail2(kAuthExplDhGroupUnusable, "the controller chose a DH group the host did not offer");
  const size_t hl = auth::HashLength(ch.hashid);
  if (ch.c1.size() != hl) return fail2(kAuthExplIncorrectPayload, "Challenge with the wrong hash length");
  k.c1 = ch.c1;

  AuthReply rep;
  rep.t_id = t_id;
  if (ch.dhgid != kDhGroupNull) {
    if (static_cast<int>(ch.dhv.size()) != auth::DhValueLength(ch.dhgid))
      return fail2(kAuthExplIncorrectPayload, "Challenge with a DH value of the wrong length");
    auto kp = auth::DhKeyPair::Generate(ch.dhgid);
    if (!kp.ok()) return fail2(kAuthExplDhGroupUnusable, kp.status().message());
    auto z = kp->SharedSecret(ch.dhv);
    if (!z.ok()) return fail2(kAuthExplDhGroupUnusable, z.status().message());
    k.session_key = auth::SessionKey(ch.hashid, *z);
    Wipe(*z);
    k.c1 = auth::AugmentedChallenge(ch.hashid, k.session_key, ch.c1);
    rep.dhv = kp->public_value();
  } else if (!ch.dhv.empty()) {
    return fail2(kAuthExplIncorrectPayload, "DH value in a NULL-group Challenge");
  }
  rep.r1 = auth::HostResponse(ch.hashid, k.host_key, k.c1, ch.seqnum, t_id, kScCNone, hostnqn, subnqn);
  uint32_t s2 = 0;
  if (bidirectional) {
    auto c2 = auth::RandomBytes(hl);
    auto s = auth::RandomBytes(4);
    if (!c2.ok() || !s.ok()) return fail2(kAuthExplFailed, "the random generator failed");
    memcpy(&s2, s->data(), 4);
    if (s2 == 0) s2 = 1;
    rep.cvalid = true;
    rep.seqnum = s2;
    rep.c2 = *c2;
    k.c2 = k.session_key.empty() ? *c2 : auth::AugmentedChallenge(ch.hashid, k.session_key, *c2);
  } else {
    rep.c2.assign(hl, 0);
  }
  std::vector<uint8_t> reply = EncodeReply(rep);
  bool sent = send(reply, "DH-HMAC-CHAP_Reply");
  Wipe(reply);
  if (!sent) return false;

  if (!receive("DH-HMAC-CHAP_Success1", &len)) return false;
  AuthSuccess1 s1;
  if (auto e = DecodeSuccess1(buf.data(), len, &s1); e != AuthDecodeError::kOk)
    return fail2(kAuthExplIncorrectPayload, "bad Success1: " + std::string(AuthDecodeErrorName(e)));
  if (s1.t_id != t_id) return fail2(kAuthExplIncorrectPayload, "Success1 with another transaction identifier");
  out->bidirectional = bidirectional;
  if (!bidirectional) return finish(true, "");
  if (!s1.rvalid || s1.r2.size() != hl)
    return fail2(kAuthExplIncorrectPayload, "Success1 without the controller's response");
  std::vector<uint8_t> want =
      auth::ControllerResponse(ch.hashid, k.ctrl_key, k.c2, s2, t_id, kScCNone, hostnqn, subnqn);
  bool match = want.size() == hl && CRYPTO_memcmp(want.data(), s1.r2.data(), hl) == 0;
  Wipe(want);
  if (!match) return fail2(kAuthExplFailed, "wrong controller response (wrong controller key)");
  if (!send(EncodeSuccess2(t_id), "DH-HMAC-CHAP_Success2")) return false;
  return finish(true, "");
}

// ---------------------------------------------------------------- Controller

Controller::Controller(ControllerOptions o) : opt_(std::move(o)) {}
Controller::~Controller() = default;

nvme::ConnectData Controller::ConnectDataFor(uint16_t cntlid) const {
  return cmd::MakeConnectData(opt_.hostid, cntlid, opt_.subnqn, opt_.hostnqn);
}

std::unique_ptr<Connection> Controller::ConnectQueue(uint16_t qid, uint16_t sqsize, uint32_t kato_ms,
                                                     const nvme::ConnectData& data, Completion* c) {
  auto q = std::make_unique<Connection>();
  *c = Completion{};
  if (!q->Connect(opt_.addr, opt_.port, opt_.timeout_ms)) {
    c->error = q->last_error();
    return nullptr;
  }
  if (!opt_.tls_psk.empty()) {
    TlsClientPsk psk;
    std::string err;
    if (!DeriveTlsClientPsk(opt_.tls_psk, opt_.hostnqn, opt_.subnqn, opt_.tls_identity_version, &psk, &err)) {
      c->error = "TLS PSK: " + err;
      return nullptr;
    }
    if (!q->StartTls(psk)) {
      c->error = q->last_error();
      return nullptr;
    }
  }
  if (!q->Initialize(opt_.ic)) {
    c->error = q->last_error();
    return nullptr;
  }
  q->set_qid(qid);
  q->set_in_capsule_limit(8192);  // fabrics commands may always carry 8 KiB in-capsule
  *c = q->Execute(cmd::Connect(qid, sqsize, kato_ms), &data, sizeof(data));
  last_auth_ = AuthOutcome{};
  if (c->ok() && (c->cqe.dw0 & nvme::kConnectAuthreqAtr) && !opt_.dhchap.secret.empty()) {
    std::string hostnqn(data.hostnqn, strnlen(data.hostnqn, sizeof(data.hostnqn)));
    std::string subnqn(data.subnqn, strnlen(data.subnqn, sizeof(data.subnqn)));
    if (!q->Authenticate(opt_.dhchap, hostnqn, subnqn, &last_auth_)) {
      c->transport_ok = false;
      c->error = "DH-HMAC-CHAP: " + last_auth_.error;
    }
  }
  if (qid != 0) q->set_in_capsule_limit(io_in_capsule_limit());
  return q;
}

Completion Controller::ConnectAdmin() {
  Completion c;
  admin_ = ConnectQueue(0, opt_.admin_sqsize, opt_.kato_ms, ConnectDataFor(0xFFFF), &c);
  if (c.ok()) cntlid_ = static_cast<uint16_t>(c.cqe.dw0 & 0xFFFF);
  return c;
}

Completion Controller::Enable(int timeout_ms) {
  uint32_t cc = nvme::kCcEn | (6u << 16) | (4u << 20);
  Completion c = PropertySet(nvme::kPropCc, cc);
  if (!c.ok()) return c;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    uint64_t csts = 0;
    c = PropertyGet(nvme::kPropCsts, &csts);
    if (!c.ok()) return c;
    if (csts & nvme::kCstsCfs) {
      c.transport_ok = false;
      c.error = "CSTS.CFS set while enabling";
      return c;
    }
    if (csts & nvme::kCstsRdy) return c;
    if (Clock::now() > deadline) {
      c.transport_ok = false;
      c.error = "CSTS.RDY did not become 1";
      return c;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

bool Controller::Open(std::string* err) {
  Completion c = ConnectAdmin();
  if (!c.ok()) {
    if (err) *err = "Connect (admin): " + c.ToString();
    return false;
  }
  c = Enable();
  if (!c.ok()) {
    if (err) *err = "enable: " + c.ToString();
    return false;
  }
  c = IdentifyController(&id_);
  if (!c.ok()) {
    if (err) *err = "Identify Controller: " + c.ToString();
    return false;
  }
  return true;
}

uint32_t Controller::io_in_capsule_limit() const {
  if (!have_id_ || id_.ioccsz < 4) return 0;
  return id_.ioccsz * 16 - 64;
}

Completion Controller::AddIoQueue(uint16_t qid, uint16_t sqsize, uint16_t cntlid) {
  if (qid == 0) qid = next_qid_;
  if (sqsize == 0) sqsize = opt_.io_sqsize;
  Completion c;
  auto q = ConnectQueue(qid, sqsize, 0, ConnectDataFor(cntlid == 0xFFFF ? cntlid_ : cntlid), &c);
  if (c.ok() && q) {
    io_.push_back(std::move(q));
    next_qid_ = std::max<uint16_t>(next_qid_, qid + 1);
  }
  return c;
}

Completion Controller::PropertyGet(uint32_t offset, uint64_t* value, bool size8) {
  Completion c = admin_->Execute(cmd::PropertyGet(offset, size8));
  if (c.ok() && value) *value = c.cqe.dw0 | (size8 ? static_cast<uint64_t>(c.cqe.dw1) << 32 : 0);
  return c;
}

Completion Controller::PropertySet(uint32_t offset, uint64_t value, bool size8) {
  return admin_->Execute(cmd::PropertySet(offset, value, size8));
}

Completion Controller::Disconnect(Connection& q) { return q.Execute(cmd::Disconnect()); }

Completion Controller::Identify(uint8_t cns, uint32_t nsid, void* buf, uint16_t cntid) {
  return admin_->Execute(cmd::Identify(cns, nsid, cntid), nullptr, 0, buf, 4096);
}

Completion Controller::IdentifyController(nvme::IdentifyController* out) {
  Completion c = Identify(nvme::kCnsController, 0, out);
  if (c.ok() && out == &id_) have_id_ = true;
  if (c.ok() && out != &id_) {
    id_ = *out;
    have_id_ = true;
  }
  return c;
}

Completion Controller::IdentifyNamespace(uint32_t nsid, nvme::IdentifyNamespace* out) {
  return Identify(nvme::kCnsNamespace, nsid, out);
}

Completion Controller::ActiveNamespaces(uint32_t after, std::vector<uint32_t>* out) {
  std::vector<uint32_t> buf(1024, 0);
  Completion c = Identify(nvme::kCnsActiveNsList, after, buf.data());
  if (c.ok() && out) {
    out->clear();
    for (uint32_t n : buf) {
      if (n == 0) break;
      out->push_back(n);
    }
  }
  return c;
}

Completion Controller::NamespaceDescriptors(uint32_t nsid, void* buf) {
  return Identify(nvme::kCnsNsIdDescriptors, nsid, buf);
}

Completion Controller::GetLogPage(uint8_t lid, void* buf, uint32_t len, uint32_t nsid, uint64_t offset,
                                  uint8_t lsp, bool rae) {
  return admin_->Execute(cmd::GetLogPage(lid, nsid, len, offset, lsp, rae), nullptr, 0, buf, len);
}

Completion Controller::SetFeatures(uint8_t fid, uint32_t cdw11, uint32_t cdw12) {
  return admin_->Execute(cmd::SetFeatures(fid, cdw11, cdw12));
}

Completion Controller::GetFeatures(uint8_t fid, uint8_t sel, uint32_t cdw11) {
  return admin_->Execute(cmd::GetFeatures(fid, sel, cdw11));
}

Completion Controller::KeepAlive() { return admin_->Execute(cmd::KeepAlive()); }

uint16_t Controller::SubmitAer() {
  nvme::Sqe s = cmd::AsyncEventRequest();
  if (!admin_->Submit(&s, nullptr, 0, nullptr, 0)) return 0;
  return s.cid;
}

Completion Controller::Read(Connection& q, uint32_t nsid, uint64_t slba, uint32_t nlb, void* buf, uint32_t len) {
  return q.Execute(cmd::Read(nsid, slba, nlb), nullptr, 0, buf, len);
}

Completion Controller::Write(Connection& q, uint32_t nsid, uint64_t slba, uint32_t nlb, const void* buf,
                             uint32_t len) {
  return q.Execute(cmd::Write(nsid, slba, nlb), buf, len);
}

Completion Controller::Compare(Connection& q, uint32_t nsid, uint64_t slba, uint32_t nlb, const void* buf,
                               uint32_t len) {
  return q.Execute(cmd::Compare(nsid, slba, nlb), buf, len);
}

Completion Controller::Flush(Connection& q, uint32_t nsid) { return q.Execute(cmd::Flush(nsid)); }

Completion Controller::WriteZeroes(Connection& q, uint32_t nsid, uint64_t slba, uint32_t nlb, bool deallocate) {
  return q.Execute(cmd::WriteZeroes(nsid, slba, nlb, deallocate));
}

Completion Controller::Dsm(Connection& q, uint32_t nsid, const std::vector<nvme::DsmRange>& ranges,
                           uint32_t attributes) {
  return q.Execute(cmd::Dsm(nsid, static_cast<uint32_t>(ranges.size()), attributes), ranges.data(),
                   static_cast<uint32_t>(ranges.size() * sizeof(nvme::DsmRange)));
}

}  // namespace nvmeof::host
