// Plain TCP sockets for transports: a connected socket as a ByteStream, and a listening
// socket that accepts them.
//
// SocketStream calls go straight to the kernel (recv, sendmsg with MSG_NOSIGNAL, shutdown);
// EAGAIN, EWOULDBLOCK and EINTR are all reported as -EAGAIN. SocketListener::Listen runs on
// any thread; Accept runs on the reactor thread the listening fd() is registered with.
// Errors are values: Status (control path: Listen) or -errno (Accept, the stream).
#pragma once

#include <memory>
#include <string>

#include "gateway/common/status.h"
#include "gateway/runtime/byte_stream.h"

namespace nvmeof {

class SocketStream final : public ByteStream {
 public:
  // Takes ownership of fd (connected, non-blocking).
  explicit SocketStream(int fd) : fd_(fd) {}
  ~SocketStream() override;
  SocketStream(const SocketStream&) = delete;
  SocketStream& operator=(const SocketStream&) = delete;

  ssize_t Recv(void* buf, size_t len) override;
  ssize_t SendV(const struct iovec* iov, int iovcnt) override;
  void ShutdownWrite() override;
  void Close() override;
  int fd() const override { return fd_; }
  // Gives the descriptor up (to a stream that wraps it, TLS); the stream is then closed.
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// A connection just accepted: the stream, who is on the other end, and which local address
// it reached ("host:port" and "host"; numeric).
struct AcceptedStream {
  std::unique_ptr<ByteStream> stream;
  std::string peer;
  std::string local_addr;  // empty if unknown; an IPv4 host on an IPv6 socket: the IPv4 address
};

class SocketListener {
 public:
  // Binds and listens on traddr:trsvcid (numeric; ipv6 picks the family), non-blocking.
  static Result<std::unique_ptr<SocketListener>> Listen(const std::string& traddr,
                                                        const std::string& trsvcid, bool ipv6);
  ~SocketListener();
  SocketListener(const SocketListener&) = delete;
  SocketListener& operator=(const SocketListener&) = delete;

  // Accepts one pending connection (non-blocking, TCP_NODELAY set): 0 and *out filled,
  // -EAGAIN when none is pending (EINTR and ECONNABORTED included), or another -errno.
  int Accept(AcceptedStream* out);
  int fd() const { return fd_; }

 private:
  explicit SocketListener(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace nvmeof
