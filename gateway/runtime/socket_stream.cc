#include "gateway/runtime/socket_stream.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nvmeof {

namespace {
ssize_t Errno() {
  const int e = errno;
  return e == EAGAIN || e == EWOULDBLOCK || e == EINTR ? -EAGAIN : -e;
}
}  // namespace

SocketStream::~SocketStream() {
  if (fd_ >= 0) ::close(fd_);
}

ssize_t SocketStream::Recv(void* buf, size_t len) {
  ssize_t n = ::recv(fd_, buf, len, 0);
  return n >= 0 ? n : Errno();
}

ssize_t SocketStream::SendV(const struct iovec* iov, int iovcnt) {
  struct msghdr mh{};
  mh.msg_iov = const_cast<struct iovec*>(iov);
  mh.msg_iovlen = static_cast<size_t>(iovcnt);
  ssize_t n = ::sendmsg(fd_, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
  return n >= 0 ? n : Errno();
}

void SocketStream::ShutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void SocketStream::Close() {
  if (fd_ < 0) return;
  ::shutdown(fd_, SHUT_RDWR);
  ::close(fd_);
  fd_ = -1;
}

Result<std::unique_ptr<SocketListener>> SocketListener::Listen(const std::string& traddr,
                                                               const std::string& trsvcid, bool ipv6) {
  struct addrinfo hints{}, *res = nullptr;
  hints.ai_family = ipv6 ? AF_INET6 : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  int rc = getaddrinfo(traddr.c_str(), trsvcid.c_str(), &hints, &res);
  if (rc != 0)
    return Status::InvalidArgument("invalid listener address " + traddr + ":" + trsvcid + ": " +
                                   gai_strerror(rc));
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return Status::IOError(std::string("socket: ") + strerror(errno));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 1024) != 0) {
    int e = errno;
    freeaddrinfo(res);
    ::close(fd);
    return Status::Error(errc::kSystem, "cannot listen on " + traddr + ":" + trsvcid + ": " + strerror(e), e);
  }
  freeaddrinfo(res);
  return std::unique_ptr<SocketListener>(new SocketListener(fd));
}

SocketListener::~SocketListener() { ::close(fd_); }

int SocketListener::Accept(AcceptedStream* out) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return errno == ECONNABORTED ? -EAGAIN : static_cast<int>(Errno());
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  char host[INET6_ADDRSTRLEN + 8] = "?";
  char serv[16] = "?";
  getnameinfo(reinterpret_cast<sockaddr*>(&ss), sl, host, sizeof(host), serv, sizeof(serv),
              NI_NUMERICHOST | NI_NUMERICSERV);
  out->peer = std::string(host) + ":" + serv;
  out->local_addr.clear();
  sl = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) == 0 &&
      getnameinfo(reinterpret_cast<sockaddr*>(&ss), sl, host, sizeof(host), nullptr, 0, NI_NUMERICHOST) == 0) {
    out->local_addr = host;
    // An IPv4 host on a dual-stack IPv6 listener: name the IPv4 address.
    if (out->local_addr.rfind("::ffff:", 0) == 0 && out->local_addr.find('.') != std::string::npos)
      out->local_addr.erase(0, 7);
  }
  out->stream = std::make_unique<SocketStream>(fd);
  return 0;
}

}  // namespace nvmeof
