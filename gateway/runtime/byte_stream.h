// ByteStream: the connected byte stream a transport reads from and writes to.
//
// A transport (NVMe/TCP) sees only this interface, never a socket call, so that another kind
// of connection is one more implementation: a plain socket (socket_stream.h), TLS 1.3 with
// a PSK (tls_stream.h). Every call is non-blocking and made on the reactor thread that owns
// the stream; readiness comes from registering fd() with that reactor. Errors come back as
// values: a negative errno, with -EAGAIN meaning "nothing now, wait for the next readiness
// event" (read readiness, or write readiness when RecvWantsWrite() says so). A stream that
// keeps received bytes of its own (TLS records decrypted but not yet returned) says so with
// Buffered(): no readiness event announces those. One virtual call per receive or gathered
// send; nothing allocates after a TLS stream's handshake.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <string>

namespace nvmeof {

class ByteStream {
 public:
  virtual ~ByteStream() = default;

  // Receives up to len bytes into buf: the count (> 0), 0 when the peer closed its side,
  // -EAGAIN when nothing is there now, or another -errno.
  virtual ssize_t Recv(void* buf, size_t len) = 0;
  // Sends what fits now of the iovcnt buffers, in order, in one call: the bytes sent,
  // -EAGAIN when nothing could be sent now, or another -errno. Never raises SIGPIPE.
  virtual ssize_t SendV(const struct iovec* iov, int iovcnt) = 0;
  // Half-close: nothing more will be sent; receiving goes on.
  virtual void ShutdownWrite() = 0;
  // Shuts both directions and releases the descriptor. Idempotent; the destructor closes
  // a stream still open.
  virtual void Close() = 0;
  // The descriptor to register with the reactor; -1 once closed.
  virtual int fd() const = 0;
  // True when the last Recv answered -EAGAIN because the stream must send first (a TLS
  // handshake message the socket could not take yet): call Recv again once fd() is writable.
  virtual bool RecvWantsWrite() const { return false; }
  // True when received bytes wait inside the stream: call Recv again without waiting.
  virtual bool Buffered() const { return false; }
  // What the peer authenticated as (a TLS PSK identity), once known; empty otherwise.
  virtual const std::string& PeerIdentity() const {
    static const std::string kNone;
    return kNone;
  }
};

}  // namespace nvmeof
