// ByteStream: the connected byte stream a transport reads from and writes to.
//
// A transport (NVMe/TCP) sees only this interface, never a socket call, so that another kind
// of connection (TLS) is one more implementation. Today's: a plain socket (socket_stream.h).
// Every call is non-blocking and made on the reactor thread that owns the stream; readiness
// comes from registering fd() with that reactor. Errors come back as values: a negative
// errno, with -EAGAIN meaning "nothing now, wait for the next readiness event". One virtual
// call per receive or gathered send; nothing allocates.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>

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
};

}  // namespace nvmeof
