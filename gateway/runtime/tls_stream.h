// TLS 1.3 with external pre-shared keys over a connected TCP socket, as a ByteStream
// (byte_stream.h), for NVMe/TCP secure channels: the server side a secure listener hands to
// the transport, and the client side tests and tools use.
//
// TlsContext holds the OpenSSL SSL_CTX of one listener or one client. A server looks the
// PSK up by the first identity of the client's ClientHello (through the lookup given at
// creation), and that PSK's hash fixes the cipher suite; a client has one identity and key.
// Only TLS 1.3, only TLS_AES_128_GCM_SHA256 (SHA-256 PSKs) and TLS_AES_256_GCM_SHA384
// (SHA-384 PSKs), no certificates, no session tickets; kernel TLS offload
// (SSL_OP_ENABLE_KTLS) when asked and the kernel has it. Create runs on any thread.
//
// TlsStream runs on the reactor thread that owns it, like SocketStream: non-blocking, the
// handshake driven by Recv (a server's first Recv calls run it; readiness comes from the
// socket's events, and RecvWantsWrite() says when it waits for write readiness). The PSK
// lookup runs inside Recv on that thread. After the handshake Recv decrypts into the
// caller's buffer (OpenSSL reads ahead: one recv() per record or several small ones, and
// Buffered() says when records wait in its buffer) and SendV hands OpenSSL one record at a
// time, straight from an iovec with a full record left, else gathered through one
// record-sized staging buffer allocated with the stream: our code allocates nothing per I/O. A failed handshake is logged once
// with the peer and the reason (never a key) and Recv answers -ECONNABORTED; other TLS
// errors -EPROTO; a socket error its -errno.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/runtime/byte_stream.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace nvmeof {

struct TlsPsk {
  std::vector<uint8_t> key;  // the TLS PSK
  uint8_t hash = 1;          // 1 SHA-256 (TLS_AES_128_GCM_SHA256), 2 SHA-384 (TLS_AES_256_GCM_SHA384)
};

class TlsContext {
 public:
  // The server's lookup: the TLS PSK for the identity a client offered, or an error whose
  // message says why the identity is refused (logged; no key in it).
  using PskLookup = std::function<Result<TlsPsk>(std::string_view identity)>;

  static Result<std::shared_ptr<TlsContext>> Server(PskLookup lookup, bool ktls);
  static Result<std::shared_ptr<TlsContext>> Client(std::string identity, TlsPsk psk, bool ktls);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool server() const { return server_; }

 private:
  friend class TlsStream;
  friend struct TlsCallbacks;
  TlsContext() = default;
  SSL_CTX* ctx_ = nullptr;
  bool server_ = true;
  PskLookup lookup_;
  std::string identity_;
  TlsPsk psk_;
};

class TlsStream final : public ByteStream {
 public:
  // Takes ownership of fd (connected, non-blocking). `peer` names the other end in logs.
  static Result<std::unique_ptr<TlsStream>> Make(int fd, std::shared_ptr<TlsContext> ctx, std::string peer);
  ~TlsStream() override;
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  ssize_t Recv(void* buf, size_t len) override;
  ssize_t SendV(const struct iovec* iov, int iovcnt) override;
  void ShutdownWrite() override;
  void Close() override;
  int fd() const override { return fd_; }
  bool RecvWantsWrite() const override { return recv_wants_write_; }
  bool Buffered() const override;

  // Runs the handshake as far as the socket allows: 0 when done, -EAGAIN (see
  // RecvWantsWrite), -ECONNABORTED when it failed (-ECONNRESET: closed before a byte
  // came). Recv and SendV call it as needed.
  int Handshake();
  bool handshake_done() const { return done_; }
  // After the handshake: the PSK identity agreed, and whether kernel TLS carries the data.
  const std::string& identity() const { return identity_; }
  const std::string& PeerIdentity() const override { return identity_; }
  bool ktls_send() const;
  bool ktls_recv() const;

 private:
  TlsStream(int fd, std::shared_ptr<TlsContext> ctx, std::string peer);
  friend struct TlsCallbacks;
  int fd_;
  std::shared_ptr<TlsContext> ctx_;
  std::string peer_;
  SSL* ssl_ = nullptr;
  bool done_ = false;
  bool failed_ = false;
  bool peeked_ = false;
  bool recv_wants_write_ = false;
  std::string identity_;
  std::string refused_;  // why the lookup refused the offered identity
  std::string offered_;  // the identity the lookup accepted, and its PSK (until the handshake takes it)
  TlsPsk psk_;
  std::unique_ptr<uint8_t[]> stage_;
};

}  // namespace nvmeof
