// nvmf-perf: NVMe/TCP load generator.
//
// Setup (admin queue, enable, Identify, I/O queue Connect) uses the blocking nvmf_host
// library; then every I/O queue's socket is switched to nonblocking and driven by an epoll
// loop per thread (--threads, default 1). Requests, buffers and the latency histograms are
// allocated before the run: the I/O path does not allocate. With --tls-psk every queue
// runs over TLS 1.3 (the handshake by the library, then OpenSSL on the nonblocking socket,
// reading ahead; one record per SSL_write, large payloads passed straight to it, small
// pieces gathered through a record-sized staging buffer; no splice).
// With --dhchap-secret every queue
// authenticates with DH-HMAC-CHAP after its Connect. --connect-timing N runs no I/O: it
// connects N associations (admin queue, enable, --queues I/O queues, close) one after
// the other and prints the median and p99 time to connect (and authenticate) one queue.
// --phases-stdin runs phases on the same connection as standard input asks (a length in
// seconds per line) and answers each with one line: the paced A/B benchmarks alternate
// two of these processes slice by slice.
//
// See docs/nvmf-perf.md.
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway/nvmf/auth_keys.h"
#include "tests/host/latency_histogram.h"
#include "tests/host/nvmf_host.h"

namespace nvmeof::host {
namespace {

using nvme::Sqe;

inline uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

enum class Mode { kRandRead, kRandWrite, kRead, kWrite, kRandRw, kRw };

struct Config {
  std::string addr = "127.0.0.1";
  uint16_t port = 4420;
  std::string nqn;
  std::string hostnqn;
  uint32_t nsid = 1;
  uint32_t queues = 1;
  uint32_t threads = 1;
  uint32_t qd = 32;
  uint32_t bs = 4096;
  Mode mode = Mode::kRandRead;
  std::string mode_name = "randread";
  uint32_t mix = 70;  // read percentage for rw/randrw
  double time_s = 10;
  uint64_t size = 0;  // region in bytes, 0 = whole namespace
  bool hdgst = false;
  bool ddgst = false;
  bool json = false;
  bool verify = false;
  bool splice = true;  // payloads >= 32 KiB by vmsplice + splice (no copy on the host side)
  std::string tls_psk;  // a configured PSK (interchange format): TLS 1.3 on every queue
  DhchapHostOptions dhchap;  // DH-HMAC-CHAP secrets and what AUTH_Negotiate offers
  uint32_t connect_timing = 0;  // associations to connect and time (no I/O); 0: an I/O run
  bool phases_stdin = false;  // phases as standard input asks, one result line each
  uint32_t kato_ms = 30000;
  uint64_t seed = 0x6e766d66ull;
};

[[noreturn]] void Usage(const char* msg) {
  if (msg) fprintf(stderr, "nvmf-perf: %s\n\n", msg);
  fprintf(stderr,
          "usage: nvmf-perf --nqn NQN [--addr 127.0.0.1] [--port 4420] [--nsid 1]\n"
          "                 [--queues N] [--threads T] [--qd 32] [--bs 4k]\n"
          "                 [--rw randread|randwrite|read|write|randrw|rw] [--mix 70]\n"
          "                 [--time 10] [--size BYTES] [--hdgst] [--ddgst] [--verify]\n"
          "                 [--json] [--hostnqn NQN] [--kato MS] [--seed N] [--no-splice]\n"
          "                 [--tls-psk NVMeTLSkey-1:hh:...: | --tls-psk-file PATH]\n"
          "                 [--dhchap-secret DHHC-1:hh:...: [--dhchap-ctrl-secret DHHC-1:hh:...:]]\n"
          "                 [--dhchap-digests sha256,sha384,sha512]\n"
          "                 [--dhchap-dhgroups null,ffdhe2048,...,ffdhe8192]\n"
          "                 [--connect-timing ASSOCIATIONS] [--phases-stdin]\n");
  exit(2);
}

uint64_t ParseSize(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  double v = strtod(s.c_str(), &end);
  if (errno || end == s.c_str() || v < 0) Usage(("bad size: " + s).c_str());
  std::string suf(end);
  for (auto& c : suf) c = static_cast<char>(tolower(c));
  if (suf == "" || suf == "b") return static_cast<uint64_t>(v);
  if (suf == "k" || suf == "kb" || suf == "kib") return static_cast<uint64_t>(v * 1024);
  if (suf == "m" || suf == "mb" || suf == "mib") return static_cast<uint64_t>(v * 1024 * 1024);
  if (suf == "g" || suf == "gb" || suf == "gib") return static_cast<uint64_t>(v * 1024 * 1024 * 1024);
  if (suf == "t" || suf == "tb" || suf == "tib") return static_cast<uint64_t>(v * 1024 * 1024 * 1024 * 1024);
  Usage(("bad size suffix: " + s).c_str());
}

Config ParseArgs(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i], v;
    if (a == "-h" || a == "--help") Usage(nullptr);
    if (a.rfind("--", 0) != 0) Usage(("unexpected argument: " + a).c_str());
    auto eq = a.find('=');
    bool has_inline = eq != std::string::npos;
    if (has_inline) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto flag = [&](bool* dst) {
      if (has_inline) Usage(("option takes no value: " + a).c_str());
      *dst = true;
    };
    auto value = [&]() -> std::string {
      if (has_inline) return v;
      if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    auto num = [&](uint64_t lo, uint64_t hi) -> uint64_t {
      std::string s = value();
      char* end = nullptr;
      unsigned long long n = strtoull(s.c_str(), &end, 0);
      if (end == s.c_str() || *end || n < lo || n > hi) Usage(("bad value for " + a + ": " + s).c_str());
      return n;
    };
    if (a == "--addr") c.addr = value();
    else if (a == "--port") c.port = static_cast<uint16_t>(num(1, 65535));
    else if (a == "--nqn") c.nqn = value();
    else if (a == "--hostnqn") c.hostnqn = value();
    else if (a == "--nsid") c.nsid = static_cast<uint32_t>(num(1, 0xFFFFFFFEu));
    else if (a == "--queues") c.queues = static_cast<uint32_t>(num(1, 1024));
    else if (a == "--threads") c.threads = static_cast<uint32_t>(num(1, 256));
    else if (a == "--qd") c.qd = static_cast<uint32_t>(num(1, 65535));
    else if (a == "--bs") c.bs = static_cast<uint32_t>(ParseSize(value()));
    else if (a == "--mix") c.mix = static_cast<uint32_t>(num(0, 100));
    else if (a == "--size") c.size = ParseSize(value());
    else if (a == "--kato") c.kato_ms = static_cast<uint32_t>(num(0, 3600000));
    else if (a == "--seed") c.seed = num(0, UINT64_MAX);
    else if (a == "--time") {
      std::string s = value();
      char* end = nullptr;
      c.time_s = strtod(s.c_str(), &end);
      if (end == s.c_str() || *end || c.time_s <= 0 || c.time_s > 86400) Usage(("bad --time: " + s).c_str());
    } else if (a == "--rw") {
      c.mode_name = value();
      if (c.mode_name == "randread") c.mode = Mode::kRandRead;
      else if (c.mode_name == "randwrite") c.mode = Mode::kRandWrite;
      else if (c.mode_name == "read") c.mode = Mode::kRead;
      else if (c.mode_name == "write") c.mode = Mode::kWrite;
      else if (c.mode_name == "randrw") c.mode = Mode::kRandRw;
      else if (c.mode_name == "rw") c.mode = Mode::kRw;
      else Usage(("bad --rw: " + c.mode_name).c_str());
    } else if (a == "--hdgst") flag(&c.hdgst);
    else if (a == "--ddgst") flag(&c.ddgst);
    else if (a == "--json") flag(&c.json);
    else if (a == "--phases-stdin") flag(&c.phases_stdin);
    else if (a == "--verify") flag(&c.verify);
    else if (a == "--no-splice") c.splice = false;
    else if (a == "--tls-psk") c.tls_psk = value();
    else if (a == "--dhchap-secret") c.dhchap.secret = value();
    else if (a == "--dhchap-ctrl-secret") c.dhchap.ctrl_secret = value();
    else if (a == "--dhchap-digests" || a == "--dhchap-dhgroups") {
      std::string list = value();
      auto ids = a == "--dhchap-digests" ? auth::ParseHashList(list) : auth::ParseDhGroupList(list);
      if (!ids.ok()) Usage((a + ": " + ids.status().message()).c_str());
      (a == "--dhchap-digests" ? c.dhchap.hashes : c.dhchap.dhgroups) = *ids;
    } else if (a == "--connect-timing") c.connect_timing = static_cast<uint32_t>(num(1, 100000));
    else if (a == "--tls-psk-file") {
      FILE* f = fopen(value().c_str(), "r");
      if (!f) Usage("--tls-psk-file: cannot open the file");
      char line[256] = {0};
      if (!fgets(line, sizeof(line), f)) line[0] = 0;
      fclose(f);
      c.tls_psk = line;
      while (!c.tls_psk.empty() && (c.tls_psk.back() == '\n' || c.tls_psk.back() == ' ')) c.tls_psk.pop_back();
    }
    else Usage(("unknown option: " + a).c_str());
  }
  if (c.nqn.empty()) Usage("--nqn is required");
  if (!c.dhchap.ctrl_secret.empty() && c.dhchap.secret.empty())
    Usage("--dhchap-ctrl-secret needs --dhchap-secret");
  if (c.bs == 0) Usage("--bs must be > 0");
  if (c.threads > c.queues) c.threads = c.queues;
  if (c.phases_stdin && (c.verify || c.connect_timing)) Usage("--phases-stdin goes with neither --verify nor --connect-timing");
  return c;
}

// ---------------------------------------------------------------- run state

struct Stats {
  LatencyHistogram read_lat, write_lat;
  uint64_t read_ios = 0, write_ios = 0;
  uint64_t errors = 0, verify_errors = 0;
};

struct Shared {
  const Config* cfg = nullptr;
  uint32_t lba_size = 512;
  uint64_t nblocks = 0;       // I/O-sized blocks in the region
  uint32_t lbas_per_io = 8;
  std::atomic<bool> stop_submit{false};
  std::atomic<bool> fatal{false};
  uint64_t measure_end_ns = 0;  // completions after this are not counted
  std::atomic<uint64_t> fill_next{0};  // verify fill phase: next block to write
  bool fill_phase = false;
};

void FillPattern(uint8_t* buf, uint32_t len, uint64_t slba, uint32_t lba_size, uint64_t seed) {
  for (uint32_t off = 0; off < len; off += lba_size) {
    uint64_t lba = slba + off / lba_size;
    uint64_t base = (lba * 0x9E3779B97F4A7C15ull) ^ seed;
    auto* w = reinterpret_cast<uint64_t*>(buf + off);
    for (uint32_t i = 0; i < lba_size / 8; i++) w[i] = base + i;
  }
}

// Returns the first mismatching LBA, or UINT64_MAX.
uint64_t CheckPattern(const uint8_t* buf, uint32_t len, uint64_t slba, uint32_t lba_size, uint64_t seed) {
  for (uint32_t off = 0; off < len; off += lba_size) {
    uint64_t lba = slba + off / lba_size;
    uint64_t base = (lba * 0x9E3779B97F4A7C15ull) ^ seed;
    const auto* w = reinterpret_cast<const uint64_t*>(buf + off);
    for (uint32_t i = 0; i < lba_size / 8; i++)
      if (w[i] != base + i) return lba;
  }
  return UINT64_MAX;
}

struct Req {
  uint16_t cid = 0;
  bool active = false;
  bool write = false;
  uint64_t slba = 0;
  uint64_t t0 = 0;
  uint8_t* buf = nullptr;
  uint32_t received = 0;
};

class Queue {
  struct Seg {
    const uint8_t* ptr;  // payload in a request's buffer, or nullptr: wbuf_ + off
    size_t off, len;
  };

 public:
  Queue(Shared* sh, Stats* st, int fd, SSL* ssl, uint16_t qid, const Connection& setup, uint32_t icd_limit,
        uint32_t index, uint32_t nqueues)
      : sh_(sh), cfg_(*sh->cfg), st_(st), fd_(fd), ssl_(ssl), qid_(qid) {
    if (ssl_) {
      SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
      stage_.resize(kTlsStage);
    }
    hdgst_ = setup.hdgst();
    ddgst_ = setup.ddgst();
    align_ = (static_cast<uint32_t>(setup.cpda()) + 1) * 4;
    maxh2cdata_ = setup.maxh2cdata();
    icd_limit_ = icd_limit;
    rng_ = sh->cfg->seed * 0x2545F4914F6CDD1Dull + index * 0x9E3779B97F4A7C15ull + 1;
    seq_next_ = sh->nblocks * index / std::max<uint32_t>(nqueues, 1);
    reqs_.resize(cfg_.qd);
    data_ = static_cast<uint8_t*>(aligned_alloc(4096, (static_cast<size_t>(cfg_.bs) * cfg_.qd + 4095) / 4096 * 4096));
    for (uint32_t i = 0; i < cfg_.qd; i++) {
      reqs_[i].cid = static_cast<uint16_t>(i);
      reqs_[i].buf = data_ + static_cast<size_t>(i) * cfg_.bs;
      memset(reqs_[i].buf, static_cast<int>(i), cfg_.bs);
    }
    rbuf_.resize(256 * 1024);
    // Headers and digests only: payloads are sent from the requests' buffers (as a kernel
    // host sends from the page cache), so a write costs the load generator no copy.
    wbuf_.resize(static_cast<size_t>(cfg_.qd) * 512 + 64 * 1024);
    segs_.reserve(static_cast<size_t>(cfg_.qd) * 8 + 64);
    int fl = fcntl(fd_, F_GETFL);
    fcntl(fd_, F_SETFL, fl | O_NONBLOCK);
    // Large payloads go to the socket by vmsplice + splice: page references, no copy, as
    // the kernel host sends page-cache pages. A request's buffer is not touched again
    // until its command completes, i.e. after the target has read the data.
    if (!ssl_ && sh->cfg->splice && cfg_.bs >= kSpliceMin && pipe2(pipe_, O_NONBLOCK | O_CLOEXEC) == 0) {
      fcntl(pipe_[1], F_SETPIPE_SZ, 1 << 20);
    } else {
      pipe_[0] = pipe_[1] = -1;
    }
  }
  ~Queue() {
    if (ssl_) SSL_free(ssl_);
    free(data_);
    if (fd_ >= 0) close(fd_);
    if (pipe_[0] >= 0) close(pipe_[0]);
    if (pipe_[1] >= 0) close(pipe_[1]);
  }

  int fd() const { return fd_; }
  uint32_t outstanding() const { return outstanding_; }
  bool want_out() const { return seg_head_ < segs_.size() || piped_ > 0; }
  bool epollout = false;

  void Start() {
    for (auto& r : reqs_) Submit(&r);
  }

  // Reads everything available. false on a fatal error.
  bool OnReadable() {
    for (;;) {
      if (rlen_ == rbuf_.size()) {
        if (rpos_ == 0) return Fatal("receive buffer full");
        memmove(rbuf_.data(), rbuf_.data() + rpos_, rlen_ - rpos_);
        rlen_ -= rpos_;
        rpos_ = 0;
      }
      if (state_ == kData && rpos_ == rlen_ && data_left_ >= kDirectRecv) {
        // A large payload goes straight into the request's buffer.
        ssize_t r = Recv(dest_, data_left_);
        if (r > 0) {
          if (!DataBytes(dest_, static_cast<size_t>(r))) return false;
          continue;
        }
        if (r == 0) return Fatal("connection closed by the target");
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        if (errno == EINTR) continue;
        return Fatal(std::string("recv: ") + strerror(errno));
      }
      ssize_t r = Recv(rbuf_.data() + rlen_, rbuf_.size() - rlen_);
      if (r > 0) {
        rlen_ += static_cast<size_t>(r);
        if (!Process()) return false;
        continue;
      }
      if (r == 0) return Fatal("connection closed by the target");
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == EINTR) continue;
      return Fatal(std::string("recv: ") + strerror(errno));
    }
  }

  // Sends queued bytes. false on a fatal error.
  bool Flush() {
    while (seg_head_ < segs_.size() || piped_ > 0) {
      if (piped_ > 0) {  // what is in the pipe goes first
        ssize_t w = splice(pipe_[0], nullptr, fd_, nullptr, piped_, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (w > 0) {
          piped_ -= static_cast<size_t>(w);
          continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;  // socket full
        if (w < 0 && errno == EINTR) continue;
        return Fatal(std::string("splice: ") + (w == 0 ? "no progress" : strerror(errno)));
      }
      if (Spliceable(segs_[seg_head_])) {
        const Seg& g = segs_[seg_head_];
        struct iovec v = {const_cast<uint8_t*>(g.ptr + seg_off_), g.len - seg_off_};
        ssize_t w = vmsplice(pipe_[1], &v, 1, SPLICE_F_NONBLOCK);
        if (w > 0) {
          piped_ += static_cast<size_t>(w);
          seg_off_ += static_cast<size_t>(w);
          if (seg_off_ == g.len) {
            seg_head_++;
            seg_off_ = 0;
          }
          continue;
        }
        if (w < 0 && errno == EINTR) continue;
        // Not available here: send everything by sendmsg from now on.
        close(pipe_[0]);
        close(pipe_[1]);
        pipe_[0] = pipe_[1] = -1;
      }
      struct iovec iov[64];
      int n = 0;
      for (size_t i = seg_head_; i < segs_.size() && n < 64; i++, n++) {
        const Seg& g = segs_[i];
        if (i > seg_head_ && Spliceable(g)) break;
        const uint8_t* base = g.ptr ? g.ptr : wbuf_.data() + g.off;
        size_t skip = i == seg_head_ ? seg_off_ : 0;
        iov[n] = {const_cast<uint8_t*>(base + skip), g.len - skip};
      }
      ssize_t w;
      if (ssl_) {
        w = TlsSend(iov, n);
      } else {
        struct msghdr mh{};
        mh.msg_iov = iov;
        mh.msg_iovlen = static_cast<size_t>(n);
        w = sendmsg(fd_, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      if (w > 0) {
        size_t left = static_cast<size_t>(w);
        while (left > 0) {
          size_t rest = segs_[seg_head_].len - seg_off_;
          if (left < rest) {
            seg_off_ += left;
            break;
          }
          left -= rest;
          seg_head_++;
          seg_off_ = 0;
        }
        continue;
      }
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      if (w < 0 && errno == EINTR) continue;
      return Fatal(std::string("send: ") + strerror(errno));
    }
    segs_.clear();
    seg_head_ = seg_off_ = 0;
    wlen_ = 0;
    return true;
  }

 private:
  static constexpr size_t kTlsStage = 16 * 1024;  // one TLS record

  // recv() or SSL_read: bytes, 0 when the target closed, -1 with errno (EAGAIN: nothing now).
  ssize_t Recv(void* p, size_t n) {
    if (!ssl_) return recv(fd_, p, n, 0);
    size_t got = 0;
    int rc = SSL_read_ex(ssl_, p, n, &got);
    if (rc == 1) return static_cast<ssize_t>(got);
    int e = SSL_get_error(ssl_, rc);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      errno = EAGAIN;
      return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) return 0;
    if (e != SSL_ERROR_SYSCALL) errno = EPROTO;
    return -1;
  }
  // One TLS record through SSL_write (partial writes: one record a call): straight from an
  // iovec with a full record left, else the iovecs' first kTlsStage bytes gathered. The same
  // unsent bytes come back after EAGAIN, so OpenSSL gets its pending record's bytes again.
  // Bytes written, or -1 with errno.
  ssize_t TlsSend(const struct iovec* iov, int n) {
    const uint8_t* p = static_cast<const uint8_t*>(iov[0].iov_base);
    size_t len = iov[0].iov_len;
    if (len < kTlsStage) {
      len = 0;
      for (int i = 0; i < n && len < kTlsStage; i++) {
        size_t k = std::min(iov[i].iov_len, kTlsStage - len);
        memcpy(stage_.data() + len, iov[i].iov_base, k);
        len += k;
      }
      p = stage_.data();
    }
    size_t done = 0;
    int rc = SSL_write_ex(ssl_, p, len, &done);
    if (rc == 1) return static_cast<ssize_t>(done);
    int e = SSL_get_error(ssl_, rc);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
      errno = EAGAIN;
      return -1;
    }
    if (e != SSL_ERROR_SYSCALL) errno = EPROTO;
    return -1;
  }

  bool Fatal(const std::string& msg) {
    if (!sh_->fatal.exchange(true)) fprintf(stderr, "nvmf-perf: queue %u: %s\n", qid_, msg.c_str());
    return false;
  }

  uint64_t Rand() {  // xorshift64*
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 0x2545F4914F6CDD1Dull;
  }

  // n bytes of the header arena, queued for sending as one segment. Segments refer to the
  // arena by offset; both are emptied when everything is sent, and compacted when full
  // while the socket never drains, so neither grows in steady state.
  uint8_t* Reserve(size_t n) {
    if (wlen_ + n > wbuf_.size()) {
      Compact();
      if (wlen_ + n > wbuf_.size()) wbuf_.resize((wlen_ + n) * 2);  // not expected after warm-up
    }
    uint8_t* p = wbuf_.data() + wlen_;
    PushSeg(Seg{nullptr, wlen_, n});
    wlen_ += n;
    return p;
  }
  // Queues len bytes at p (a request's buffer, unchanged until the command completes).
  void QueueData(const uint8_t* p, size_t len) { PushSeg(Seg{p, 0, len}); }
  void PushSeg(const Seg& g) {
    if (segs_.size() == segs_.capacity()) Compact();
    segs_.push_back(g);
  }
  // Drops the segments already sent and moves the unsent arena bytes to its start.
  void Compact() {
    if (seg_head_ == 0) return;
    segs_.erase(segs_.begin(), segs_.begin() + static_cast<long>(seg_head_));
    seg_head_ = 0;
    size_t first = wlen_;
    for (const Seg& g : segs_)
      if (!g.ptr) first = std::min(first, g.off);
    memmove(wbuf_.data(), wbuf_.data() + first, wlen_ - first);
    wlen_ -= first;
    for (Seg& g : segs_)
      if (!g.ptr) g.off -= first;
  }

  uint32_t Align(uint32_t off) const { return (off + align_ - 1) / align_ * align_; }

  // Appends a PDU: header (hlen bytes) [+hdgst] [+pad +data [+ddgst]].
  void AppendPdu(const void* hdr, uint32_t hlen, const uint8_t* data, uint32_t len) {
    uint32_t hl = hlen + (hdgst_ ? 4 : 0);
    uint32_t pdo = len ? Align(hl) : 0;
    uint32_t plen = len ? pdo + len + (ddgst_ ? 4 : 0) : hl;
    uint8_t* p = Reserve(len ? pdo : hl);
    memcpy(p, hdr, hlen);
    auto* ch = reinterpret_cast<tcp::CommonHeader*>(p);
    ch->flags |= (hdgst_ ? tcp::kFlagHdgst : 0) | (ddgst_ && len ? tcp::kFlagDdgst : 0);
    ch->hlen = static_cast<uint8_t>(hlen);
    ch->pdo = static_cast<uint8_t>(pdo);
    ch->plen = plen;
    if (hdgst_) {
      uint32_t d = Crc32c(p, hlen);
      memcpy(p + hlen, &d, 4);
    }
    if (len) {
      if (pdo > hl) memset(p + hl, 0, pdo - hl);
      QueueData(data, len);
      if (ddgst_) {
        uint32_t d = Crc32c(data, len);
        memcpy(Reserve(4), &d, 4);
      }
    }
  }

  bool PickWrite() {
    switch (cfg_.mode) {
      case Mode::kRandRead:
      case Mode::kRead: return false;
      case Mode::kRandWrite:
      case Mode::kWrite: return true;
      default: return Rand() % 100 >= cfg_.mix;
    }
  }

  void Submit(Req* r) {
    uint64_t blk;
    if (sh_->fill_phase) {
      blk = sh_->fill_next.fetch_add(1, std::memory_order_relaxed);
      if (blk >= sh_->nblocks) return;
      r->write = true;
    } else {
      r->write = PickWrite();
      if (cfg_.mode == Mode::kRead || cfg_.mode == Mode::kWrite || cfg_.mode == Mode::kRw) {
        blk = seq_next_++;
        if (seq_next_ >= sh_->nblocks) seq_next_ = 0;
      } else {
        blk = Rand() % sh_->nblocks;
      }
    }
    r->slba = blk * sh_->lbas_per_io;
    r->active = true;
    r->received = 0;
    outstanding_++;

    tcp::CapsuleCmdHeader h{};
    h.ch.pdu_type = tcp::kCapsuleCmd;
    Sqe& s = h.sqe;
    s.opcode = r->write ? nvme::kIoWrite : nvme::kIoRead;
    s.flags = 0x40;
    s.cid = r->cid;
    s.nsid = cfg_.nsid;
    s.cdw10 = static_cast<uint32_t>(r->slba);
    s.cdw11 = static_cast<uint32_t>(r->slba >> 32);
    s.cdw12 = sh_->lbas_per_io - 1;
    s.sgl1.length = cfg_.bs;
    bool icd = r->write && cfg_.bs <= icd_limit_;
    s.sgl1.id = icd ? nvme::kSglDataBlockOffset : nvme::kSglTransportDataBlock;
    if (r->write && cfg_.verify) FillPattern(r->buf, cfg_.bs, r->slba, sh_->lba_size, cfg_.seed);
    r->t0 = NowNs();
    AppendPdu(&h, sizeof(h), icd ? r->buf : nullptr, icd ? cfg_.bs : 0);
  }

  void Complete(Req* r, uint16_t status) {
    uint64_t now = NowNs();
    r->active = false;
    outstanding_--;
    nvme::Status s = nvme::Status::Decode(status);
    bool counted = now <= sh_->measure_end_ns || sh_->fill_phase;
    if (!s.ok()) {
      st_->errors++;
      if (st_->errors <= 5)
        fprintf(stderr, "nvmf-perf: queue %u %s slba %" PRIu64 ": %s\n", qid_, r->write ? "write" : "read",
                r->slba, StatusString(s).c_str());
    } else if (!r->write && cfg_.verify && !sh_->fill_phase) {
      uint64_t bad = CheckPattern(r->buf, cfg_.bs, r->slba, sh_->lba_size, cfg_.seed);
      if (bad != UINT64_MAX) {
        st_->verify_errors++;
        if (st_->verify_errors <= 5)
          fprintf(stderr, "nvmf-perf: verify: queue %u read slba %" PRIu64 ": LBA %" PRIu64 " mismatch\n",
                  qid_, r->slba, bad);
      }
    }
    if (counted && !sh_->fill_phase) {
      if (r->write) {
        st_->write_ios++;
        st_->write_lat.Record(now - r->t0);
      } else {
        st_->read_ios++;
        st_->read_lat.Record(now - r->t0);
      }
    }
    if (!sh_->stop_submit.load(std::memory_order_relaxed) && !sh_->fatal.load(std::memory_order_relaxed))
      Submit(r);
  }

  Req* ReqFor(uint16_t cid) {
    if (cid >= reqs_.size() || !reqs_[cid].active) return nullptr;
    return &reqs_[cid];
  }

  bool SendH2C(Req* r, uint16_t ttag, uint32_t off, uint32_t len) {
    if (static_cast<uint64_t>(off) + len > cfg_.bs || len == 0)
      return Fatal("R2T outside the command's data: offset " + std::to_string(off) + " length " +
                   std::to_string(len));
    while (len > 0) {
      uint32_t n = std::min(len, maxh2cdata_);
      tcp::DataHeader d{};
      d.ch.pdu_type = tcp::kH2CData;
      d.ch.flags = n == len ? tcp::kFlagLastPdu : 0;
      d.cccid = r->cid;
      d.ttag = ttag;
      d.datao = off;
      d.datal = n;
      AppendPdu(&d, sizeof(d), r->buf + off, n);
      off += n;
      len -= n;
    }
    return true;
  }

  // The header (common header through padding) is complete in hdr_.
  bool OnHeader() {
    const auto* ch = reinterpret_cast<const tcp::CommonHeader*>(hdr_);
    if (ch->flags & tcp::kFlagHdgst) {
      if (!hdgst_) return Fatal("unexpected header digest");
      uint32_t want = Crc32c(hdr_, ch->hlen), got;
      memcpy(&got, hdr_ + ch->hlen, 4);
      if (want != got) return Fatal("header digest error from the target");
    }
    switch (ch->pdu_type) {
      case tcp::kCapsuleResp: {
        tcp::CapsuleRespHeader h;
        memcpy(&h, hdr_, sizeof(h));
        Req* r = ReqFor(h.cqe.cid);
        if (!r) return Fatal("CapsuleResp for unknown cid " + std::to_string(h.cqe.cid));
        Complete(r, h.cqe.status);
        state_ = kHeader;
        return true;
      }
      case tcp::kC2HData: {
        tcp::DataHeader h;
        memcpy(&h, hdr_, sizeof(h));
        Req* r = ReqFor(h.cccid);
        if (!r || r->write) return Fatal("C2HData for unknown cid " + std::to_string(h.cccid));
        uint32_t dlen = ch->plen - ch->pdo - ((ch->flags & tcp::kFlagDdgst) ? 4 : 0);
        if (ch->pdo == 0 || h.datal != dlen || static_cast<uint64_t>(h.datao) + h.datal > cfg_.bs)
          return Fatal("bad C2HData framing");
        cur_ = r;
        cur_flags_ = ch->flags;
        dest_ = r->buf + h.datao;
        data_left_ = h.datal;
        r->received += h.datal;
        data_crc_ = 0xFFFFFFFFu;
        state_ = data_left_ ? kData : ((cur_flags_ & tcp::kFlagDdgst) ? kDigest : kHeader);
        have_ = 0;
        if (state_ == kHeader) return DataDone();
        return true;
      }
      case tcp::kR2T: {
        tcp::R2THeader h;
        memcpy(&h, hdr_, sizeof(h));
        Req* r = ReqFor(h.cccid);
        if (!r || !r->write) return Fatal("R2T for unknown cid " + std::to_string(h.cccid));
        state_ = kHeader;
        return SendH2C(r, h.ttag, h.r2to, h.r2tl);
      }
      case tcp::kC2HTermReq: {
        tcp::TermReqHeader t;
        memcpy(&t, hdr_, sizeof(t));
        char b[96];
        snprintf(b, sizeof(b), "C2HTermReq from the target: FES 0x%x FEI 0x%x", t.fes, t.fei);
        return Fatal(b);
      }
      default:
        return Fatal("unexpected PDU type " + std::to_string(ch->pdu_type));
    }
  }

  bool DataDone() {
    state_ = kHeader;
    if (cur_flags_ & tcp::kFlagSuccess) {
      if (cur_->received != cfg_.bs) return Fatal("C2HData SUCCESS before all data arrived");
      Complete(cur_, 0);
    }
    cur_ = nullptr;
    return true;
  }

  // n payload bytes of the current C2HData are in place at p (== dest_).
  bool DataBytes(const uint8_t* p, size_t n) {
    if (cur_flags_ & tcp::kFlagDdgst) data_crc_ = Crc32cExtend(data_crc_, p, n);
    dest_ += n;
    data_left_ -= static_cast<uint32_t>(n);
    if (data_left_ > 0) return true;
    if (cur_flags_ & tcp::kFlagDdgst) {
      state_ = kDigest;
      have_ = 0;
      return true;
    }
    return DataDone();
  }

  bool Process() {
    while (rpos_ < rlen_) {
      size_t avail = rlen_ - rpos_;
      const uint8_t* in = rbuf_.data() + rpos_;
      switch (state_) {
        case kHeader: {
          if (have_ == 0) need_ = sizeof(tcp::CommonHeader);
          size_t n = std::min(avail, need_ - have_);
          memcpy(hdr_ + have_, in, n);
          have_ += n;
          rpos_ += n;
          if (have_ < need_) return true;
          if (need_ == sizeof(tcp::CommonHeader)) {
            const auto* ch = reinterpret_cast<const tcp::CommonHeader*>(hdr_);
            size_t full = ch->pdo ? ch->pdo : ch->plen;
            if (ch->hlen < 8 || full < ch->hlen || full > sizeof(hdr_) || ch->plen < full)
              return Fatal("malformed PDU header from the target");
            if (full > need_) {
              need_ = full;
              continue;
            }
          }
          have_ = 0;
          if (!OnHeader()) return false;
          break;
        }
        case kData: {
          size_t n = std::min<size_t>(avail, data_left_);
          memcpy(dest_, in, n);
          rpos_ += n;
          if (!DataBytes(dest_, n)) return false;
          break;
        }
        case kDigest: {
          size_t n = std::min(avail, 4 - have_);
          memcpy(digest_ + have_, in, n);
          have_ += n;
          rpos_ += n;
          if (have_ < 4) return true;
          have_ = 0;
          uint32_t got;
          memcpy(&got, digest_, 4);
          if (got != (data_crc_ ^ 0xFFFFFFFFu)) return Fatal("data digest error from the target");
          if (!DataDone()) return false;
          break;
        }
      }
    }
    rpos_ = rlen_ = 0;
    return true;
  }

  Shared* sh_;
  const Config& cfg_;
  Stats* st_;
  int fd_;
  SSL* ssl_ = nullptr;
  std::vector<uint8_t> stage_;
  uint16_t qid_;
  bool hdgst_ = false, ddgst_ = false;
  uint32_t align_ = 4, maxh2cdata_ = 4096, icd_limit_ = 0;
  uint64_t rng_;
  uint64_t seq_next_ = 0;
  std::vector<Req> reqs_;
  uint8_t* data_ = nullptr;
  uint32_t outstanding_ = 0;

  std::vector<uint8_t> rbuf_;
  size_t rpos_ = 0, rlen_ = 0;
  enum State { kHeader, kData, kDigest } state_ = kHeader;
  uint8_t hdr_[256];
  size_t have_ = 0, need_ = 8;
  Req* cur_ = nullptr;
  uint8_t cur_flags_ = 0;
  uint8_t* dest_ = nullptr;
  uint32_t data_left_ = 0;
  uint32_t data_crc_ = 0;
  uint8_t digest_[4];

  static constexpr uint32_t kDirectRecv = 8192;
  static constexpr size_t kSpliceMin = 32 * 1024;
  int pipe_[2] = {-1, -1};
  size_t piped_ = 0;  // bytes in the pipe, not yet spliced to the socket
  // A payload segment (the head one counted from what is still unsent) worth splicing.
  bool Spliceable(const Seg& g) const {
    size_t left = g.len - (&g == &segs_[seg_head_] ? seg_off_ : 0);
    return pipe_[1] >= 0 && g.ptr && left >= kSpliceMin;
  }
  std::vector<uint8_t> wbuf_;  // header arena
  size_t wlen_ = 0;
  std::vector<Seg> segs_;
  size_t seg_head_ = 0, seg_off_ = 0;
};

// One thread: an epoll loop over its queues. Returns when stop_submit is set and every
// request has completed (or drain_deadline passes), or on a fatal error.
void RunWorker(Shared* sh, std::vector<Queue*> queues, std::atomic<uint64_t>* drain_deadline) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (Queue* q : queues) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = q;
    epoll_ctl(ep, EPOLL_CTL_ADD, q->fd(), &ev);
  }
  for (Queue* q : queues) {
    q->epollout = false;
    q->Start();
  }
  epoll_event evs[64];
  for (;;) {
    if (sh->fatal.load(std::memory_order_relaxed)) break;
    // Flush everything queued by the previous round (submissions, H2CData).
    for (Queue* q : queues) {
      if (q->want_out() && !q->Flush()) break;
      bool need = q->want_out();
      if (need != q->epollout) {
        epoll_event ev{};
        ev.events = EPOLLIN | (need ? static_cast<uint32_t>(EPOLLOUT) : 0u);
        ev.data.ptr = q;
        epoll_ctl(ep, EPOLL_CTL_MOD, q->fd(), &ev);
        q->epollout = need;
      }
    }
    uint32_t busy = 0;
    for (Queue* q : queues) busy += q->outstanding();
    if (busy == 0 && (sh->stop_submit.load() || sh->fill_phase)) break;
    if (sh->stop_submit.load() && NowNs() > drain_deadline->load()) {
      fprintf(stderr, "nvmf-perf: %u commands did not complete within the drain timeout\n", busy);
      sh->fatal = true;
      break;
    }
    int n = epoll_wait(ep, evs, 64, 10);
    for (int i = 0; i < n; i++) {
      auto* q = static_cast<Queue*>(evs[i].data.ptr);
      if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        if (!q->OnReadable()) break;
      }
      if (evs[i].events & EPOLLOUT) {
        if (!q->Flush()) break;
      }
    }
  }
  close(ep);
}

struct Summary {
  double iops, mibps, avg_us, p50, p90, p99, p999, max_us;
  uint64_t ios;
};

Summary Summarize(const LatencyHistogram& h, uint64_t ios, double secs, uint32_t bs) {
  Summary s{};
  s.ios = ios;
  s.iops = secs > 0 ? static_cast<double>(ios) / secs : 0;
  s.mibps = s.iops * bs / (1024.0 * 1024.0);
  s.avg_us = h.mean() / 1000.0;
  s.p50 = static_cast<double>(h.Percentile(0.50)) / 1000.0;
  s.p90 = static_cast<double>(h.Percentile(0.90)) / 1000.0;
  s.p99 = static_cast<double>(h.Percentile(0.99)) / 1000.0;
  s.p999 = static_cast<double>(h.Percentile(0.999)) / 1000.0;
  s.max_us = static_cast<double>(h.max()) / 1000.0;
  return s;
}

void PrintText(const char* name, const Summary& s) {
  printf("  %-6s IOPS %.0f  MiB/s %.1f  ios %" PRIu64 "\n", name, s.iops, s.mibps, s.ios);
  printf("         latency us: avg %.1f  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", s.avg_us, s.p50,
         s.p90, s.p99, s.p999, s.max_us);
}

std::string JsonSummary(const Summary& s) {
  char b[512];
  snprintf(b, sizeof(b),
           "{\"iops\": %.1f, \"mibps\": %.2f, \"ios\": %" PRIu64
           ", \"latency_us\": {\"avg\": %.2f, \"p50\": %.2f, \"p90\": %.2f, \"p99\": %.2f, \"p99_9\": %.2f, "
           "\"max\": %.2f}}",
           s.iops, s.mibps, s.ios, s.avg_us, s.p50, s.p90, s.p99, s.p999, s.max_us);
  return b;
}

std::string JsonString(const std::string& v) {
  std::string o = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    o += c;
  }
  return o + "\"";
}

// ---------------------------------------------------------------- connect timing

struct Spread {
  size_t n = 0;
  double median_us = 0, p99_us = 0, mean_us = 0, min_us = 0, max_us = 0;
};

Spread SpreadOf(std::vector<uint64_t> ns) {
  Spread s;
  s.n = ns.size();
  if (ns.empty()) return s;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {  // nearest rank
    size_t r = static_cast<size_t>(std::ceil(q * static_cast<double>(ns.size())));
    return static_cast<double>(ns[std::clamp<size_t>(r, 1, ns.size()) - 1]) / 1e3;
  };
  s.median_us = ns.size() % 2 ? ns[ns.size() / 2] / 1e3 : (ns[ns.size() / 2 - 1] + ns[ns.size() / 2]) / 2e3;
  s.p99_us = at(0.99);
  double sum = 0;
  for (uint64_t v : ns) sum += static_cast<double>(v);
  s.mean_us = sum / static_cast<double>(ns.size()) / 1e3;
  s.min_us = ns.front() / 1e3;
  s.max_us = ns.back() / 1e3;
  return s;
}

// --connect-timing: per association the admin queue's TCP connect + ICReq + Connect (+
// authentication), then (untimed) enable and Identify, then each I/O queue's the same, then
// every connection closes. Times are per queue, wall clock on this thread.
int ConnectTiming(const Config& cfg, const ControllerOptions& co) {
  std::vector<uint64_t> admin, io, auth_ns;
  std::string what = "no authentication";
  for (uint32_t a = 0; a < cfg.connect_timing; a++) {
    Controller ctrl(co);
    uint64_t t0 = NowNs();
    Completion c = ctrl.ConnectAdmin();
    uint64_t t1 = NowNs();
    if (!c.ok()) {
      fprintf(stderr, "nvmf-perf: Connect (admin): %s\n", c.ToString().c_str());
      return 1;
    }
    admin.push_back(t1 - t0);
    if (ctrl.last_auth().ok) {
      auth_ns.push_back(ctrl.last_auth().elapsed_ns);
      what = std::string(auth::HashName(ctrl.last_auth().hash)) + "/" + auth::DhGroupName(ctrl.last_auth().dhgroup) +
             (ctrl.last_auth().bidirectional ? " bidirectional" : " one-way");
    }
    c = ctrl.Enable();
    nvme::IdentifyController id{};
    if (c.ok()) c = ctrl.IdentifyController(&id);
    if (!c.ok()) {
      fprintf(stderr, "nvmf-perf: enable / Identify: %s\n", c.ToString().c_str());
      return 1;
    }
    for (uint32_t i = 0; i < cfg.queues; i++) {
      t0 = NowNs();
      c = ctrl.AddIoQueue(static_cast<uint16_t>(i + 1), static_cast<uint16_t>(cfg.qd));
      t1 = NowNs();
      if (!c.ok()) {
        fprintf(stderr, "nvmf-perf: Connect I/O queue %u: %s\n", i + 1, c.ToString().c_str());
        return 1;
      }
      io.push_back(t1 - t0);
      if (ctrl.last_auth().ok) auth_ns.push_back(ctrl.last_auth().elapsed_ns);
    }
    // Every queue closes with ctrl.
  }
  std::vector<uint64_t> all = admin;
  all.insert(all.end(), io.begin(), io.end());
  struct Row {
    const char* name;
    Spread s;
  };
  Row rows[] = {{"all", SpreadOf(all)}, {"admin", SpreadOf(admin)}, {"io", SpreadOf(io)}, {"auth", SpreadOf(auth_ns)}};
  if (cfg.json) {
    printf("{\"connect_timing\": {\"associations\": %u, \"io_queues\": %u, \"authentication\": %s", cfg.connect_timing,
           cfg.queues, JsonString(what).c_str());
    for (const Row& r : rows)
      printf(", %s: {\"n\": %zu, \"median_us\": %.1f, \"p99_us\": %.1f, \"mean_us\": %.1f, \"min_us\": %.1f, "
             "\"max_us\": %.1f}",
             JsonString(r.name).c_str(), r.s.n, r.s.median_us, r.s.p99_us, r.s.mean_us, r.s.min_us, r.s.max_us);
    printf("}}\n");
    return 0;
  }
  printf("connect timing: %u associations x (1 admin + %u I/O queues), %s\n", cfg.connect_timing, cfg.queues,
         what.c_str());
  printf("  %-32s %6s %12s %12s %12s %12s\n", "per queue", "n", "median us", "p99 us", "mean us", "max us");
  const char* label[] = {"connect (admin and I/O)", "connect (admin queue)", "connect (I/O queue)",
                         "of which authentication"};
  for (size_t i = 0; i < 4; i++)
    printf("  %-32s %6zu %12.1f %12.1f %12.1f %12.1f\n", label[i], rows[i].s.n, rows[i].s.median_us, rows[i].s.p99_us,
           rows[i].s.mean_us, rows[i].s.max_us);
  return 0;
}

// --phases-stdin: waits for a line on standard input (a phase length in seconds), runs a
// phase of that length on the open connection, answers with one line (`PHASE IOS SECONDS
// IOPS MIBPS`, or a JSON object with --json) and waits again; keeps the association alive
// while it waits. Ends at end of input (exit 0), on a line it cannot read as a length
// (exit 2), or when a phase fails (exit 1). One line at a time: the answer comes before
// the next line is read.
template <typename RunPhase, typename KeepAlive>
int ServePhases(const Config& cfg, Shared& sh, const std::vector<std::unique_ptr<Stats>>& stats,
                RunPhase& run_phase, KeepAlive& keep_alive) {
  auto done = [&] {
    uint64_t n = 0;
    for (auto& s : stats) n += s->read_ios + s->write_ios;
    return n;
  };
  auto errors = [&] {
    uint64_t n = 0;
    for (auto& s : stats) n += s->errors + s->verify_errors;
    return n;
  };
  printf("ready\n");
  fflush(stdout);
  std::string line;
  for (uint32_t phase = 1;; phase++) {
    line.clear();
    for (;;) {  // read one line, sending Keep Alive while none comes
      pollfd p{0, POLLIN, 0};
      int r = poll(&p, 1, 100);
      keep_alive(NowNs());
      if (r < 0 && errno != EINTR) return 1;
      if (r <= 0) continue;
      char ch;
      ssize_t n = read(0, &ch, 1);
      if (n == 0) return errors() ? 1 : 0;
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return 1;
      }
      if (ch == '\n') break;
      line.push_back(ch);
    }
    char* end = nullptr;
    double seconds = strtod(line.c_str(), &end);
    if (end == line.c_str() || *end || !(seconds > 0) || seconds > 86400) {
      fprintf(stderr, "nvmf-perf: --phases-stdin: not a phase length in seconds: '%s'\n", line.c_str());
      return 2;
    }
    uint64_t before = done(), errors_before = errors();
    double secs = run_phase(seconds);
    uint64_t ios = done() - before;
    double iops = static_cast<double>(ios) / secs;
    double mibps = iops * cfg.bs / (1024.0 * 1024.0);
    if (cfg.json)
      printf("{\"phase\": %u, \"ios\": %" PRIu64 ", \"seconds\": %.6f, \"iops\": %.1f, \"mibps\": %.2f}\n", phase,
             ios, secs, iops, mibps);
    else
      printf("%u %" PRIu64 " %.6f %.1f %.2f\n", phase, ios, secs, iops, mibps);
    fflush(stdout);
    if (sh.fatal || errors() != errors_before) return 1;
  }
}

int Main(int argc, char** argv) {
  Config cfg = ParseArgs(argc, argv);

  ControllerOptions co;
  co.addr = cfg.addr;
  co.port = cfg.port;
  co.subnqn = cfg.nqn;
  if (!cfg.hostnqn.empty()) co.hostnqn = cfg.hostnqn;
  co.tls_psk = cfg.tls_psk;
  co.ic.hdgst = cfg.hdgst;
  co.ic.ddgst = cfg.ddgst;
  co.kato_ms = cfg.kato_ms;
  co.dhchap = cfg.dhchap;
  if (cfg.connect_timing) return ConnectTiming(cfg, co);
  Controller ctrl(co);
  std::string err;
  if (!ctrl.Open(&err)) {
    fprintf(stderr, "nvmf-perf: %s:%u: %s\n", cfg.addr.c_str(), cfg.port, err.c_str());
    return 1;
  }
  nvme::IdentifyNamespace ns{};
  Completion c = ctrl.IdentifyNamespace(cfg.nsid, &ns);
  if (!c.ok()) {
    fprintf(stderr, "nvmf-perf: Identify Namespace %u: %s\n", cfg.nsid, c.ToString().c_str());
    return 1;
  }
  uint32_t lba_size = 1u << ns.lbaf[ns.flbas & 0xF].lbads;
  uint64_t ns_bytes = ns.nsze * lba_size;
  if (ns_bytes == 0 || lba_size < 512) {
    fprintf(stderr, "nvmf-perf: namespace %u has size %" PRIu64 " / LBA size %u\n", cfg.nsid, ns_bytes, lba_size);
    return 1;
  }
  if (cfg.bs % lba_size) {
    fprintf(stderr, "nvmf-perf: --bs %u is not a multiple of the LBA size %u\n", cfg.bs, lba_size);
    return 1;
  }
  if (cfg.bs / lba_size > 65536) {
    fprintf(stderr, "nvmf-perf: --bs %u is more than 65536 blocks\n", cfg.bs);
    return 1;
  }
  const auto& id = ctrl.id();
  if (id.mdts && static_cast<uint64_t>(cfg.bs) > (4096ull << id.mdts)) {
    fprintf(stderr, "nvmf-perf: --bs %u exceeds the controller's MDTS (%llu bytes)\n", cfg.bs,
            4096ull << id.mdts);
    return 1;
  }
  uint64_t cap = 0;
  if (ctrl.PropertyGet(nvme::kPropCap, &cap, true).ok()) {
    uint32_t mqes = static_cast<uint32_t>(cap & 0xFFFF);
    if (cfg.qd > mqes) {
      fprintf(stderr, "nvmf-perf: --qd %u exceeds the controller's MQES %u (0's based)\n", cfg.qd, mqes);
      return 1;
    }
  }
  uint64_t region = cfg.size ? std::min(cfg.size, ns_bytes) : ns_bytes;
  Shared sh;
  sh.cfg = &cfg;
  sh.lba_size = lba_size;
  sh.lbas_per_io = cfg.bs / lba_size;
  sh.nblocks = region / cfg.bs;
  if (sh.nblocks == 0) {
    fprintf(stderr, "nvmf-perf: region of %" PRIu64 " bytes is smaller than --bs\n", region);
    return 1;
  }
  // Number of Queues: ask for what we need; a target that refuses is tried anyway.
  ctrl.SetFeatures(nvme::kFeatNumberOfQueues, (cfg.queues - 1) | ((cfg.queues - 1) << 16));

  std::vector<std::unique_ptr<Stats>> stats(cfg.threads);
  for (auto& s : stats) s = std::make_unique<Stats>();
  std::vector<std::unique_ptr<Queue>> queues;
  for (uint32_t i = 0; i < cfg.queues; i++) {
    // sqsize (0's based) = qd: qd+1 entries, so qd commands fit even with one slot kept empty.
    c = ctrl.AddIoQueue(static_cast<uint16_t>(i + 1), static_cast<uint16_t>(cfg.qd));
    if (!c.ok()) {
      fprintf(stderr, "nvmf-perf: Connect I/O queue %u: %s\n", i + 1, c.ToString().c_str());
      return 1;
    }
    Connection& q = ctrl.io(i);
    uint32_t icd = q.in_capsule_limit();
    SSL* ssl = q.ReleaseTls();
    int fd = q.ReleaseFd();
    queues.push_back(std::make_unique<Queue>(&sh, stats[i % cfg.threads].get(), fd, ssl, static_cast<uint16_t>(i + 1), q,
                                             icd, i, cfg.queues));
  }

  std::atomic<uint64_t> drain_deadline{UINT64_MAX};
  // Keep Alive every KATO/3 across phases (and while --phases-stdin waits for the next).
  const uint64_t ka_every = static_cast<uint64_t>(cfg.kato_ms) * 1000000ull / 3;
  uint64_t next_ka = NowNs() + ka_every;
  auto keep_alive = [&](uint64_t now) {
    if (!cfg.kato_ms || now < next_ka) return;
    Completion k = ctrl.KeepAlive();
    if (!k.ok()) fprintf(stderr, "nvmf-perf: Keep Alive: %s\n", k.ToString().c_str());
    next_ka = now + ka_every;
  };
  auto run_phase = [&](double seconds) -> double {
    sh.stop_submit = false;
    uint64_t t0 = NowNs();
    sh.measure_end_ns = seconds > 0 ? t0 + static_cast<uint64_t>(seconds * 1e9) : UINT64_MAX;
    drain_deadline = UINT64_MAX;
    std::vector<std::thread> workers;
    for (uint32_t t = 0; t < cfg.threads; t++) {
      std::vector<Queue*> mine;
      for (uint32_t i = t; i < cfg.queues; i += cfg.threads) mine.push_back(queues[i].get());
      workers.emplace_back(RunWorker, &sh, mine, &drain_deadline);
    }
    // The main thread keeps the association alive and ends the phase.
    while (!sh.fatal) {
      uint64_t now = NowNs();
      if (seconds > 0 && now >= sh.measure_end_ns) break;
      if (seconds <= 0 && sh.fill_next.load() >= sh.nblocks) break;
      keep_alive(now);
      // Short phases end on time: sleep no further than the phase's end.
      uint64_t nap = 5000000;
      if (seconds > 0) nap = std::min(nap, sh.measure_end_ns - now);
      std::this_thread::sleep_for(std::chrono::nanoseconds(nap));
    }
    uint64_t t1 = NowNs();
    drain_deadline = t1 + 10ull * 1000000000ull;
    sh.stop_submit = true;
    for (auto& w : workers) w.join();
    if (seconds <= 0) t1 = NowNs();
    return static_cast<double>(t1 - t0) / 1e9;
  };

  if (cfg.verify) {
    sh.fill_phase = true;
    double secs = run_phase(0);
    sh.fill_phase = false;
    if (!cfg.json)
      printf("nvmf-perf: verify: wrote the pattern to %" PRIu64 " blocks of %u bytes in %.2f s\n", sh.nblocks,
             cfg.bs, secs);
    if (sh.fatal) return 1;
  }
  if (cfg.phases_stdin) return ServePhases(cfg, sh, stats, run_phase, keep_alive);
  double secs = run_phase(cfg.time_s);

  Stats total;
  for (auto& s : stats) {
    total.read_lat.Merge(s->read_lat);
    total.write_lat.Merge(s->write_lat);
    total.read_ios += s->read_ios;
    total.write_ios += s->write_ios;
    total.errors += s->errors;
    total.verify_errors += s->verify_errors;
  }
  LatencyHistogram all = total.read_lat;
  all.Merge(total.write_lat);
  Summary sa = Summarize(all, total.read_ios + total.write_ios, secs, cfg.bs);
  Summary sr = Summarize(total.read_lat, total.read_ios, secs, cfg.bs);
  Summary sw = Summarize(total.write_lat, total.write_ios, secs, cfg.bs);
  bool mixed = total.read_ios && total.write_ios;

  if (cfg.json) {
    printf("{\"addr\": %s, \"port\": %u, \"nqn\": %s, \"nsid\": %u, \"queues\": %u, \"threads\": %u, "
           "\"qd\": %u, \"bs\": %u, \"rw\": %s, \"mix\": %u, \"hdgst\": %s, \"ddgst\": %s, \"verify\": %s, "
           "\"seconds\": %.3f, \"errors\": %" PRIu64 ", \"verify_errors\": %" PRIu64 ", \"fatal\": %s,\n"
           " \"total\": %s,\n \"read\": %s,\n \"write\": %s}\n",
           JsonString(cfg.addr).c_str(), cfg.port, JsonString(cfg.nqn).c_str(), cfg.nsid, cfg.queues, cfg.threads,
           cfg.qd, cfg.bs, JsonString(cfg.mode_name).c_str(), cfg.mix, ctrl.admin().hdgst() ? "true" : "false",
           ctrl.admin().ddgst() ? "true" : "false", cfg.verify ? "true" : "false", secs, total.errors,
           total.verify_errors, sh.fatal ? "true" : "false", JsonSummary(sa).c_str(), JsonSummary(sr).c_str(),
           JsonSummary(sw).c_str());
  } else {
    printf("nvmf-perf %s:%u %s nsid %u | %u queue(s) x qd %u, %u thread(s) | bs %u %s%s | %.2f s | hdgst %s ddgst %s\n",
           cfg.addr.c_str(), cfg.port, cfg.nqn.c_str(), cfg.nsid, cfg.queues, cfg.qd, cfg.threads, cfg.bs,
           cfg.mode_name.c_str(),
           (cfg.mode == Mode::kRandRw || cfg.mode == Mode::kRw) ? (" mix " + std::to_string(cfg.mix) + "% read").c_str()
                                                                : "",
           secs, ctrl.admin().hdgst() ? "on" : "off", ctrl.admin().ddgst() ? "on" : "off");
    PrintText("total", sa);
    if (mixed) {
      PrintText("read", sr);
      PrintText("write", sw);
    }
    printf("  errors %" PRIu64 "%s\n", total.errors,
           cfg.verify ? (", verify errors " + std::to_string(total.verify_errors)).c_str() : "");
  }
  fflush(stdout);
  return (sh.fatal || total.errors || total.verify_errors) ? 1 : 0;
}

}  // namespace
}  // namespace nvmeof::host

int main(int argc, char** argv) { return nvmeof::host::Main(argc, argv); }
