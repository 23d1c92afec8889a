#include "gateway/runtime/tls_stream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "gateway/common/log.h"

namespace nvmeof {

namespace {

// One TLS record's plaintext at most: with partial writes SSL_write_ex sends one record a
// call, so small iovecs are gathered into one record and large ones go to it directly.
constexpr size_t kRecordSize = 16 * 1024;
constexpr char kCipherSuites[] = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384";

std::string LastSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "connection closed during the handshake";
  const char* r = ERR_reason_error_string(e);
  return r ? r : "TLS error";
}

// A TLS 1.3 session carrying `psk` as its resumption secret, which is how OpenSSL takes an
// external PSK.
SSL_SESSION* PskSession(SSL* ssl, const TlsPsk& psk) {
  const unsigned char id[2] = {0x13, static_cast<unsigned char>(psk.hash == 2 ? 0x02 : 0x01)};
  const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, id);
  if (!cipher) return nullptr;
  SSL_SESSION* s = SSL_SESSION_new();
  if (!s) return nullptr;
  if (!SSL_SESSION_set1_master_key(s, psk.key.data(), psk.key.size()) || !SSL_SESSION_set_cipher(s, cipher) ||
      !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
    SSL_SESSION_free(s);
    return nullptr;
  }
  return s;
}


const char* CipherSuite(uint8_t hash) { return hash == 2 ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256"; }

// The first identity of a ClientHello's pre_shared_key extension (RFC 8446 4.2.11).
bool FirstPskIdentity(SSL* ssl, std::string_view* out) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (!SSL_client_hello_get0_ext(ssl, 41, &p, &len) || len < 4) return false;
  size_t ids = (static_cast<size_t>(p[0]) << 8) | p[1];
  size_t idlen = (static_cast<size_t>(p[2]) << 8) | p[3];
  if (ids + 2 > len || idlen + 2 > ids) return false;
  *out = std::string_view(reinterpret_cast<const char*>(p + 4), idlen);
  return true;
}

}  // namespace

struct TlsCallbacks {
  // Before the server picks a cipher suite: the PSK of the identity the client offers
  // fixes it (a SHA-384 PSK is usable with TLS_AES_256_GCM_SHA384 only).
  static int ClientHello(SSL* ssl, int* alert, void*) {
    auto* st = static_cast<TlsStream*>(SSL_get_app_data(ssl));
    std::string_view identity;
    if (!FirstPskIdentity(ssl, &identity)) {
      st->refused_ = "the client offered no PSK";
      return SSL_CLIENT_HELLO_SUCCESS;  // fails later for want of a PSK
    }
    auto psk = st->ctx_->lookup_(identity);
    if (!psk.ok()) {
      st->refused_ = "PSK identity refused: " + psk.status().message();
      return SSL_CLIENT_HELLO_SUCCESS;
    }
    st->offered_.assign(identity);
    st->psk_ = std::move(psk.value());
    if (!SSL_set_ciphersuites(ssl, CipherSuite(st->psk_.hash))) {
      *alert = SSL_AD_INTERNAL_ERROR;
      return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
  }
  static int Find(SSL* ssl, const unsigned char* id, size_t len, SSL_SESSION** sess) {
    *sess = nullptr;
    auto* st = static_cast<TlsStream*>(SSL_get_app_data(ssl));
    std::string_view identity(reinterpret_cast<const char*>(id), len);
    if (st->offered_.empty() || identity != st->offered_) return 1;  // no session: no PSK, the handshake fails
    *sess = PskSession(ssl, st->psk_);
    OPENSSL_cleanse(st->psk_.key.data(), st->psk_.key.size());
    if (!*sess) return 0;
    st->identity_.assign(identity);
    return 1;
  }
  static int Use(SSL* ssl, const EVP_MD* md, const unsigned char** id, size_t* idlen, SSL_SESSION** sess) {
    auto* st = static_cast<TlsStream*>(SSL_get_app_data(ssl));
    const TlsContext& c = *st->ctx_;
    *sess = PskSession(ssl, c.psk_);
    if (!*sess) return 0;
    if (md && md != SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(*sess))) {
      SSL_SESSION_free(*sess);
      *sess = nullptr;
      return 1;
    }
    *id = reinterpret_cast<const unsigned char*>(c.identity_.data());
    *idlen = c.identity_.size();
    st->identity_ = c.identity_;
    return 1;
  }
};

namespace {

Result<SSL_CTX*> NewCtx(bool server, bool ktls) {
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!ctx) return Status::IOError("TLS: cannot create a context: " + LastSslError());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  if (!SSL_CTX_set_ciphersuites(ctx, kCipherSuites)) {
    SSL_CTX_free(ctx);
    return Status::IOError("TLS: cipher suites refused: " + LastSslError());
  }
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Read-ahead: one recv() fills OpenSSL's buffer (one full record and its header), not a
  // 5-byte header then a body per record. Its default size, not a larger one: before each
  // record OpenSSL 3.0 moves the unread rest of the buffer to its start (payload
  // alignment), so a large buffer costs a copy of most of itself per record.
  if (!ktls) SSL_CTX_set_read_ahead(ctx, 1);  // kernel TLS reads records itself
  uint64_t opts = SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET;
#ifdef SSL_OP_ENABLE_KTLS
  if (ktls) opts |= SSL_OP_ENABLE_KTLS;
#else
  (void)ktls;
#endif
  SSL_CTX_set_options(ctx, opts);
  return ctx;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::Server(PskLookup lookup, bool ktls) {
  auto ctx = NewCtx(true, ktls);
  if (!ctx.ok()) return ctx.status();
  std::shared_ptr<TlsContext> c(new TlsContext());
  c->ctx_ = ctx.value();
  c->server_ = true;
  c->lookup_ = std::move(lookup);
  SSL_CTX_set_client_hello_cb(c->ctx_, &TlsCallbacks::ClientHello, nullptr);
  SSL_CTX_set_psk_find_session_callback(c->ctx_, &TlsCallbacks::Find);
  return c;
}

Result<std::shared_ptr<TlsContext>> TlsContext::Client(std::string identity, TlsPsk psk, bool ktls) {
  auto ctx = NewCtx(false, ktls);
  if (!ctx.ok()) return ctx.status();
  std::shared_ptr<TlsContext> c(new TlsContext());
  c->ctx_ = ctx.value();
  c->server_ = false;
  c->identity_ = std::move(identity);
  c->psk_ = std::move(psk);
  if (!SSL_CTX_set_ciphersuites(c->ctx_, CipherSuite(c->psk_.hash))) return Status::IOError("TLS: cipher suite refused");
  SSL_CTX_set_psk_use_session_callback(c->ctx_, &TlsCallbacks::Use);
  return c;
}

TlsContext::~TlsContext() {
  OPENSSL_cleanse(psk_.key.data(), psk_.key.size());
  SSL_CTX_free(ctx_);
}

Result<std::unique_ptr<TlsStream>> TlsStream::Make(int fd, std::shared_ptr<TlsContext> ctx, std::string peer) {
  std::unique_ptr<TlsStream> s(new TlsStream(fd, std::move(ctx), std::move(peer)));
  s->ssl_ = SSL_new(s->ctx_->ctx_);
  if (!s->ssl_ || !SSL_set_fd(s->ssl_, fd)) return Status::IOError("TLS: cannot create a connection: " + LastSslError());
  SSL_set_app_data(s->ssl_, s.get());
  if (s->ctx_->server_) {
    SSL_set_accept_state(s->ssl_);
  } else {
    SSL_set_connect_state(s->ssl_);
  }
  return s;
}

TlsStream::TlsStream(int fd, std::shared_ptr<TlsContext> ctx, std::string peer)
    : fd_(fd), ctx_(std::move(ctx)), peer_(std::move(peer)), stage_(new uint8_t[kRecordSize]) {}

TlsStream::~TlsStream() {
  Close();
  OPENSSL_cleanse(psk_.key.data(), psk_.key.size());
}

int TlsStream::Handshake() {
  if (done_) return 0;
  if (failed_ || fd_ < 0) return -ECONNABORTED;
  recv_wants_write_ = false;
  if (ctx_->server_ && !peeked_) {
    // A TLS connection opens with a handshake record (type 22); an NVMe/TCP host that did
    // not start TLS opens with an ICReq PDU (type 0).
    uint8_t first = 0;
    ssize_t n = ::recv(fd_, &first, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return -EAGAIN;
    peeked_ = true;
    if (n == 0) {  // closed before a byte (a port probe): nothing to report
      failed_ = true;
      return -ECONNRESET;
    }
    if (n == 1 && first != 22) {
      failed_ = true;
      LOG_WARN("connection from %s refused: not a TLS connection (a secure listener takes TLS only)", peer_.c_str());
      return -ECONNABORTED;
    }
  }
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    done_ = true;
    LOG_DEBUG("TLS connection from %s: %s, %s%s", peer_.c_str(), SSL_get_version(ssl_), SSL_get_cipher_name(ssl_),
              ktls_send() ? ", kernel TLS" : "");
    return 0;
  }
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ) return -EAGAIN;
  if (err == SSL_ERROR_WANT_WRITE) {
    recv_wants_write_ = true;
    return -EAGAIN;
  }
  failed_ = true;
  std::string why = !refused_.empty() ? refused_ : LastSslError();
  if (err == SSL_ERROR_SYSCALL && errno != 0 && refused_.empty()) why = strerror(errno);
  // The identity the host offered, when it named a known host and subsystem (so the
  // handshake failed on the key itself: a wrong PSK gives a bad binder); only a parsed,
  // accepted identity is logged, never raw client bytes, and never the key.
  const std::string who = offered_.empty() ? std::string() : " (PSK identity \"" + offered_ + "\")";
  LOG_WARN("TLS handshake with %s%s failed: %s", peer_.c_str(), who.c_str(), why.c_str());
  return -ECONNABORTED;
}

ssize_t TlsStream::Recv(void* buf, size_t len) {
  if (!done_) {
    int rc = Handshake();
    if (rc != 0) return rc;
  }
  recv_wants_write_ = false;
  auto* p = static_cast<uint8_t*>(buf);
  size_t got = 0;
  while (got < len) {
    size_t n = 0;
    int rc = SSL_read_ex(ssl_, p + got, len - got, &n);
    if (rc == 1) {
      got += n;
      continue;
    }
    int err = SSL_get_error(ssl_, rc);
    if (got > 0 && (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)) break;
    switch (err) {
      case SSL_ERROR_WANT_READ:
        return -EAGAIN;
      case SSL_ERROR_WANT_WRITE:
        recv_wants_write_ = true;
        return -EAGAIN;
      case SSL_ERROR_ZERO_RETURN:
        if (got) return static_cast<ssize_t>(got);
        return 0;
      case SSL_ERROR_SYSCALL:
        if (got) return static_cast<ssize_t>(got);
        ERR_clear_error();
        return errno != 0 ? -errno : 0;
      default:
        if (got) return static_cast<ssize_t>(got);
        LOG_WARN("TLS connection from %s: %s", peer_.c_str(), LastSslError().c_str());
        return -EPROTO;
    }
  }
  return static_cast<ssize_t>(got);
}

ssize_t TlsStream::SendV(const struct iovec* iov, int iovcnt) {
  if (!done_) {
    int rc = Handshake();
    if (rc != 0) return rc;
  }
  // One record a call (partial writes): an iovec with a full record left goes to
  // SSL_write_ex directly, smaller pieces are gathered into the staging buffer first. The same unsent bytes
  // come back after -EAGAIN, so the retry offers OpenSSL at least the bytes of the record it
  // holds, starting with the same bytes, as it wants.
  size_t sent = 0;
  int i = 0;
  size_t off = 0;
  while (i < iovcnt) {
    if (off == iov[i].iov_len) {
      i++;
      off = 0;
      continue;
    }
    const uint8_t* p = static_cast<const uint8_t*>(iov[i].iov_base) + off;
    size_t len = iov[i].iov_len - off;
    if (len < kRecordSize) {
      len = 0;
      size_t o = off;
      for (int k = i; k < iovcnt && len < kRecordSize; k++, o = 0) {
        size_t n = std::min(iov[k].iov_len - o, kRecordSize - len);
        memcpy(stage_.get() + len, static_cast<const uint8_t*>(iov[k].iov_base) + o, n);
        len += n;
      }
      p = stage_.get();
    }
    size_t n = 0;
    int rc = SSL_write_ex(ssl_, p, len, &n);
    if (rc == 1) {
      sent += n;
      for (; n > 0 && i < iovcnt;) {  // step over what went out
        size_t k = std::min(n, iov[i].iov_len - off);
        off += k;
        n -= k;
        if (off == iov[i].iov_len) {
          i++;
          off = 0;
        }
      }
      continue;
    }
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) break;
    if (sent) break;
    if (err == SSL_ERROR_SYSCALL) {
      ERR_clear_error();
      return errno != 0 ? -errno : -EPIPE;
    }
    LOG_WARN("TLS connection from %s: %s", peer_.c_str(), LastSslError().c_str());
    return -EPROTO;
  }
  return sent ? static_cast<ssize_t>(sent) : -EAGAIN;
}

// With read-ahead OpenSSL may hold whole records it has not decrypted yet: SSL_has_pending
// counts those too.
bool TlsStream::Buffered() const { return ssl_ && SSL_has_pending(ssl_) == 1; }

bool TlsStream::ktls_send() const { return ssl_ && BIO_get_ktls_send(SSL_get_wbio(ssl_)); }
bool TlsStream::ktls_recv() const { return ssl_ && BIO_get_ktls_recv(SSL_get_rbio(ssl_)); }

void TlsStream::ShutdownWrite() {
  if (fd_ < 0) return;
  if (done_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // close_notify, best effort
    ERR_clear_error();
  }
  ::shutdown(fd_, SHUT_WR);
}

void TlsStream::Close() {
  if (ssl_) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ < 0) return;
  ::shutdown(fd_, SHUT_RDWR);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace nvmeof
