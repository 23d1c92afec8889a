// The metrics HTTP(S) endpoint: see exporter.h.
#include "gateway/metrics/exporter.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <string_view>
#include <thread>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <prometheus/collectable.h>
#include <prometheus/text_serializer.h>

#include "gateway/common/log.h"

namespace nvmeof {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxRequestBytes = 8192;
constexpr size_t kMaxConnections = 64;
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr auto kResponseTimeout = std::chrono::seconds(60);
constexpr unsigned char kTlsHandshakeRecord = 0x16;  // the first byte of a ClientHello
constexpr ssize_t kWait = -2;                          // Read/Write: would block

// "ADDR:PORT", "[ADDR]:PORT" for IPv6.
std::string FormatAddress(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (sa->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  if (sa->sa_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

// The most specific error OpenSSL queued on this thread ("library: reason"); clears the queue.
std::string TakeOpenSslError() {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  const char* lib = ERR_lib_error_string(e);
  const char* reason = ERR_reason_error_string(e);
  std::string s = lib ? std::string(lib) + ": " : "";
  return s + (reason ? reason : "error " + std::to_string(ERR_GET_REASON(e)));
}

Status TlsError(const std::string& msg) { return Status::Error(errc::kInvalidArgument, "prometheus exporter: " + msg); }

// The server context for cert_file and key_file: TLS 1.2 or later, no renegotiation.
Result<SSL_CTX*> MakeTlsContext(const ExporterTls& tls) {
  const std::pair<const char*, const std::string*> files[] = {{"certificate", &tls.cert_file},
                                                              {"private key", &tls.key_file}};
  for (const auto& [what, path] : files) {
    if (path->empty()) return TlsError(std::string("no ") + what + " file given");
    const int fd = open(path->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return TlsError(std::string(what) + " " + *path + ": " + std::strerror(errno));
    close(fd);
  }
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return TlsError("cannot create a TLS context: " + TakeOpenSslError());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    const std::string err = TakeOpenSslError();
    SSL_CTX_free(ctx);
    return TlsError("certificate " + tls.cert_file + ": " + err);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    const unsigned long e = ERR_peek_last_error();
    const bool mismatch = ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;
    const std::string err = TakeOpenSslError();
    SSL_CTX_free(ctx);
    if (mismatch) return TlsError("private key " + tls.key_file + " does not match certificate " + tls.cert_file);
    return TlsError("private key " + tls.key_file + ": " + err);
  }
  return ctx;
}

// Where the request's header ends (past its empty line), or npos. Lines end with CRLF;
// a bare LF is taken too.
size_t HeaderEnd(std::string_view in, size_t from) {
  for (size_t i = in.find('\n', from); i != std::string_view::npos; i = in.find('\n', i + 1)) {
    if (i + 1 < in.size() && in[i + 1] == '\n') return i + 2;
    if (i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

const char* Reason(int code) {
  switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    default: return "Error";
  }
}

std::string Response(int code, std::string_view content_type, const std::string& body, bool head) {
  std::string r = "HTTP/1.1 " + std::to_string(code) + " " + Reason(code) + "\r\n";
  r += "Content-Type: ";
  r += content_type;
  r += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n";
  if (code == 405) r += "Allow: GET, HEAD\r\n";
  r += "\r\n";
  if (!head) r += body;
  return r;
}

std::string TextResponse(int code, const std::string& text, bool head = false) {
  return Response(code, "text/plain; charset=utf-8", text + "\n", head);
}

// The request line's answer: 200 for GET or HEAD /metrics (any query), else the error.
int Route(std::string_view request, bool* head) {
  std::string_view line = request.substr(0, request.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) return 400;
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return 400;
  if (method.empty() || target.empty() || target[0] != '/') return 400;
  *head = method == "HEAD";
  if (method != "GET" && !*head) return 405;
  return target.substr(0, target.find('?')) == "/metrics" ? 200 : 404;
}

struct Conn {
  enum class State { kSniff, kHandshake, kRequest, kResponse, kDone };
  int fd = -1;
  SSL* ssl = nullptr;
  State state = State::kRequest;
  std::string peer;
  bool plain_on_tls = false;  // a request without TLS on the HTTPS port
  std::string in;
  std::string out;
  size_t sent = 0;
  Clock::time_point accepted, deadline;
  short events = POLLIN;

  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() {
    if (ssl) SSL_free(ssl);
    if (fd >= 0) close(fd);
  }

  bool waiting_for_request() const { return state != State::kResponse && state != State::kDone; }

  // The SSL call's result r: kWait (events set) when it needs the socket, else -1 (0 for a
  // clean close from the peer).
  ssize_t SslOutcome(int r) {
    switch (SSL_get_error(ssl, r)) {
      case SSL_ERROR_WANT_READ: events = POLLIN; return kWait;
      case SSL_ERROR_WANT_WRITE: events = POLLOUT; return kWait;
      case SSL_ERROR_ZERO_RETURN: return 0;
      default: return -1;
    }
  }

  // Bytes read (> 0), 0 at the end of the stream, -1 on an error, kWait.
  ssize_t Read(char* buf, size_t len) {
    if (ssl) {
      ERR_clear_error();
      const int r = SSL_read(ssl, buf, static_cast<int>(len));
      return r > 0 ? r : SslOutcome(r);
    }
    for (;;) {
      const ssize_t n = recv(fd, buf, len, 0);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        events = POLLIN;
        return kWait;
      }
      return -1;
    }
  }

  // Bytes written (> 0), -1 on an error, kWait.
  ssize_t Write(const char* buf, size_t len) {
    if (ssl) {
      ERR_clear_error();
      const int r = SSL_write(ssl, buf, static_cast<int>(std::min<size_t>(len, 1 << 20)));
      if (r > 0) return r;
      const ssize_t o = SslOutcome(r);
      return o == kWait ? kWait : -1;
    }
    for (;;) {
      const ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        events = POLLOUT;
        return kWait;
      }
      return -1;
    }
  }
};

}  // namespace

struct MetricsExporter::Server {
  std::shared_ptr<prometheus::Collectable> collectable;
  SSL_CTX* ctx = nullptr;  // null: plain HTTP
  int listen_fd = -1;
  int wake_fd = -1;
  std::thread thread;
  std::vector<std::unique_ptr<Conn>> conns;  // the server thread's only

  ~Server() {
    if (thread.joinable()) {
      const uint64_t one = 1;
      ssize_t n;
      do n = write(wake_fd, &one, sizeof(one));
      while (n < 0 && errno == EINTR);
      thread.join();
    }
    conns.clear();
    if (listen_fd >= 0) close(listen_fd);
    if (wake_fd >= 0) close(wake_fd);
    if (ctx) SSL_CTX_free(ctx);
  }

  void Run();
  void Accept();
  void Advance(Conn& c);
  std::string Answer(const Conn& c);
  void Respond(Conn& c, std::string response) {
    c.out = std::move(response);
    c.sent = 0;
    c.state = Conn::State::kResponse;
    c.deadline = Clock::now() + kResponseTimeout;
  }
};

std::string MetricsExporter::Server::Answer(const Conn& c) {
  if (c.plain_on_tls) return TextResponse(400, "This port serves HTTPS: use https://");
  bool head = false;
  const int code = Route(c.in, &head);
  if (code != 200) return TextResponse(code, Reason(code), head);
  try {
    const std::string body = prometheus::TextSerializer().Serialize(collectable->Collect());
    return Response(200, "text/plain; version=0.0.4; charset=utf-8", body, head);
  } catch (const std::exception& e) {
    LOG_ERROR("prometheus exporter: collecting the metrics failed: %s", e.what());
    return TextResponse(500, "collecting the metrics failed", head);
  }
}

// Takes the connection as far as it goes without waiting; c.events says what it waits for.
void MetricsExporter::Server::Advance(Conn& c) {
  using State = Conn::State;
  for (;;) {
    switch (c.state) {
      case State::kSniff: {
        unsigned char b;
        const ssize_t n = recv(c.fd, &b, 1, MSG_PEEK);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
          c.events = POLLIN;
          return;
        }
        if (n <= 0) {
          c.state = State::kDone;
          return;
        }
        if (b != kTlsHandshakeRecord) {
          c.plain_on_tls = true;
          c.state = State::kRequest;
          break;
        }
        c.ssl = SSL_new(ctx);
        if (!c.ssl || SSL_set_fd(c.ssl, c.fd) != 1) {
          LOG_DEBUG("prometheus exporter: %s: %s", c.peer.c_str(), TakeOpenSslError().c_str());
          c.state = State::kDone;
          return;
        }
        c.state = State::kHandshake;
        break;
      }
      case State::kHandshake: {
        ERR_clear_error();
        const int r = SSL_accept(c.ssl);
        if (r == 1) {
          c.state = State::kRequest;
          break;
        }
        if (c.SslOutcome(r) == kWait) return;
        LOG_DEBUG("prometheus exporter: TLS handshake with %s failed: %s", c.peer.c_str(),
                  TakeOpenSslError().c_str());
        c.state = State::kDone;
        return;
      }
      case State::kRequest: {
        char buf[4096];
        const ssize_t n = c.Read(buf, std::min(sizeof(buf), kMaxRequestBytes - c.in.size()));
        if (n == kWait) return;
        if (n <= 0) {
          c.state = State::kDone;
          return;
        }
        const size_t from = c.in.size() >= 2 ? c.in.size() - 2 : 0;
        c.in.append(buf, static_cast<size_t>(n));
        if (HeaderEnd(c.in, from) != std::string::npos) {
          Respond(c, Answer(c));
        } else if (c.in.size() >= kMaxRequestBytes) {
          LOG_DEBUG("prometheus exporter: %s: request larger than %zu bytes", c.peer.c_str(), kMaxRequestBytes);
          Respond(c, TextResponse(431, Reason(431)));
        }
        break;
      }
      case State::kResponse: {
        if (c.sent == c.out.size()) {
          if (c.ssl) SSL_shutdown(c.ssl);  // close_notify, not waiting for the peer's
          c.state = State::kDone;
          return;
        }
        const ssize_t n = c.Write(c.out.data() + c.sent, c.out.size() - c.sent);
        if (n == kWait) return;
        if (n < 0) {
          c.state = State::kDone;
          return;
        }
        c.sent += static_cast<size_t>(n);
        break;
      }
      case State::kDone:
        return;
    }
  }
}

void MetricsExporter::Server::Accept() {
  for (;;) {
    sockaddr_storage sa{};
    socklen_t len = sizeof(sa);
    const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN; or out of descriptors: retried on the next poll
    }
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->peer = FormatAddress(reinterpret_cast<const sockaddr*>(&sa));
    c->accepted = Clock::now();
    c->deadline = c->accepted + kRequestTimeout;
    c->state = ctx ? Conn::State::kSniff : Conn::State::kRequest;
    size_t live = 0;
    Conn* oldest = nullptr;
    for (auto& o : conns) {
      if (o->state == Conn::State::kDone) continue;
      live++;
      if (o->waiting_for_request() && (!oldest || o->accepted < oldest->accepted)) oldest = o.get();
    }
    if (live >= kMaxConnections) {
      if (!oldest) {
        LOG_DEBUG("prometheus exporter: %s: %zu responses in progress, connection closed", c->peer.c_str(), live);
        continue;  // c closes
      }
      LOG_DEBUG("prometheus exporter: %s: %zu connections, closing %s (waited longest for its request)",
                c->peer.c_str(), live, oldest->peer.c_str());
      oldest->state = Conn::State::kDone;
    }
    conns.push_back(std::move(c));
    Advance(*conns.back());
  }
}

void MetricsExporter::Server::Run() {
  // A write to a peer gone away is an error value here (OpenSSL writes with write(2)).
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  pthread_setname_np(pthread_self(), "metrics-http");
  std::vector<pollfd> pfds;
  for (;;) {
    pfds.clear();
    pfds.push_back({wake_fd, POLLIN, 0});
    pfds.push_back({listen_fd, POLLIN, 0});
    const auto now = Clock::now();
    int timeout = -1;
    for (auto& c : conns) {
      pfds.push_back({c->fd, c->events, 0});
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(c->deadline - now).count() + 1;
      const int ms = static_cast<int>(std::clamp<int64_t>(left, 0, 60000));
      timeout = timeout < 0 ? ms : std::min(timeout, ms);
    }
    if (poll(pfds.data(), pfds.size(), timeout) < 0 && errno != EINTR) {
      LOG_ERROR("prometheus exporter: poll: %s; no more scrapes are served", std::strerror(errno));
      return;
    }
    if (pfds[0].revents) return;
    const size_t polled = conns.size();
    for (size_t i = 0; i < polled; i++)
      if (pfds[i + 2].revents) Advance(*conns[i]);
    if (pfds[1].revents) Accept();
    const auto later = Clock::now();
    for (auto& c : conns) {
      if (c->state == Conn::State::kDone || later < c->deadline) continue;
      LOG_DEBUG("prometheus exporter: %s: %s timed out, connection closed", c->peer.c_str(),
                c->waiting_for_request() ? "request" : "response");
      c->state = Conn::State::kDone;
    }
    std::erase_if(conns, [](const std::unique_ptr<Conn>& c) { return c->state == Conn::State::kDone; });
  }
}

Result<std::unique_ptr<MetricsExporter>> MetricsExporter::Start(const std::string& addr, uint16_t port,
                                                                 std::shared_ptr<prometheus::Collectable> collectable,
                                                                 const std::optional<ExporterTls>& tls) {
  const std::string host = addr.find(':') != std::string::npos ? "[" + addr + "]" : addr;
  const std::string bind_to = host + ":" + std::to_string(port);
  std::unique_ptr<MetricsExporter> e(new MetricsExporter());
  e->server_ = std::make_unique<Server>();
  Server& s = *e->server_;
  s.collectable = std::move(collectable);
  if (tls) {
    auto ctx = MakeTlsContext(*tls);
    if (!ctx.ok()) return ctx.status();
    s.ctx = ctx.value();
    e->tls_ = true;
  }

  const auto cannot_listen = [&](const std::string& why, int err) {
    return Status::Error(err == EADDRINUSE ? errc::kAddressInUse : errc::kSystem,
                         "prometheus exporter: cannot listen on " + bind_to + ": " + why, err);
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int gai = getaddrinfo(addr.empty() ? nullptr : addr.c_str(), service.c_str(), &hints, &res);
  if (gai != 0) return Status::Error(errc::kInvalidArgument, "prometheus exporter: cannot listen on " + bind_to + ": " + gai_strerror(gai));
  int err = 0;
  for (addrinfo* ai = res; ai && s.listen_fd < 0; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
      err = errno;
      close(fd);
      continue;
    }
    s.listen_fd = fd;
  }
  freeaddrinfo(res);
  if (s.listen_fd < 0) return cannot_listen(std::strerror(err), err);
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  if (getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) return cannot_listen(std::strerror(errno), errno);
  e->port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                         : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  e->address_ = host + ":" + std::to_string(e->port_);
  s.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s.wake_fd < 0) return cannot_listen(std::strerror(errno), errno);
  s.thread = std::thread([&s] { s.Run(); });
  return e;
}

MetricsExporter::~MetricsExporter() = default;

}  // namespace nvmeof
