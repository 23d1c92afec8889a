// Unit tests for nvmf_host and nvmf-perf, end to end over loopback against a tiny fake
// NVMe/TCP target that lives only here (test scaffolding, not the product: just enough of
// ICResp, Connect, Property Get/Set, Identify, Read/Write/Compare/Write Zeroes on a memory
// buffer, R2T/H2CData, C2HData with and without SUCCESS, digests, C2HTermReq).
//
// `nvmf_host_test --fake-target PORT` serves the fake target standalone (until killed), to
// measure nvmf-perf by hand.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/host/latency_histogram.h"
#include "tests/host/nvmf_host.h"

namespace nvmeof::host {
namespace {

// ---------------------------------------------------------------- fake target

struct FakeOptions {
  uint64_t ns_bytes = 16 << 20;
  uint32_t lba_size = 512;
  uint32_t maxh2cdata = 16384;     // small, so that H2CData splitting is exercised
  uint32_t io_icd = 4096;          // in-capsule data on I/O queues
  uint32_t c2h_chunk = 32768;      // C2HData PDU size
  uint8_t mdts = 5;                // 128 KiB
  uint16_t mqes = 127;
  std::string subnqn = "nqn.2026-11.io.nvmeof:fake";
};

class FakeTarget {
 public:
  explicit FakeTarget(FakeOptions o = {}) : o_(std::move(o)), mem_(o_.ns_bytes, 0) {}
  ~FakeTarget() { Stop(); }

  bool Start(uint16_t port = 0) {
    lfd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0 || listen(lfd_, 64) < 0) return false;
    socklen_t sl = sizeof(a);
    getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &sl);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
    return true;
  }
  void Stop() {
    if (lfd_ < 0) return;
    stopping_ = true;
    shutdown(lfd_, SHUT_RDWR);
    acceptor_.join();
    close(lfd_);
    lfd_ = -1;
    std::vector<std::thread> ts;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (int fd : fds_) shutdown(fd, SHUT_RDWR);
      ts.swap(threads_);
    }
    for (auto& t : ts) t.join();
  }
  uint16_t port() const { return port_; }
  const std::string& nqn() const { return o_.subnqn; }
  uint8_t* mem() { return mem_.data(); }
  std::atomic<uint64_t> r2ts{0}, success_flags{0}, capsule_resps{0}, h2c_pdus{0};

 private:
  struct Ctrl {
    uint32_t cc = 0;
    uint32_t csts = 0;
  };
  struct Conn {
    int fd;
    std::vector<uint8_t> buf = std::vector<uint8_t>(256 * 1024);
    size_t pos = 0, len = 0;
    bool hdgst = false, ddgst = false;
    uint16_t qid = 0;
    Ctrl* ctrl = nullptr;
    uint16_t cntlid = 0;
    struct Xfer {
      nvme::Sqe sqe;
      uint16_t cid;
      uint8_t opcode;
      uint64_t off;
      uint32_t len, got;
      std::vector<uint8_t> data;
    };
    std::map<uint16_t, Xfer> xfers;  // by ttag
    uint16_t next_ttag = 1;
  };

  void AcceptLoop() {
    for (;;) {
      int fd = accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopping_) return;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      std::lock_guard<std::mutex> l(mu_);
      fds_.insert(fd);
      threads_.emplace_back([this, fd] {
        Serve(fd);
        std::lock_guard<std::mutex> l2(mu_);
        fds_.erase(fd);
        close(fd);
      });
    }
  }

  static bool Read(Conn& c, void* dst, size_t n) {
    auto* d = static_cast<uint8_t*>(dst);
    while (n > 0) {
      if (c.pos == c.len) {
        c.pos = c.len = 0;
        ssize_t r = recv(c.fd, c.buf.data(), c.buf.size(), 0);
        if (r <= 0) {
          if (r < 0 && errno == EINTR) continue;
          return false;
        }
        c.len = static_cast<size_t>(r);
      }
      size_t k = std::min(n, c.len - c.pos);
      memcpy(d, c.buf.data() + c.pos, k);
      c.pos += k;
      d += k;
      n -= k;
    }
    return true;
  }

  static bool SendAll(int fd, iovec* iov, int cnt) {
    while (cnt > 0) {
      ssize_t w = writev(fd, iov, cnt);
      if (w < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      while (cnt > 0 && static_cast<size_t>(w) >= iov->iov_len) {
        w -= static_cast<ssize_t>(iov->iov_len);
        iov++;
        cnt--;
      }
      if (cnt > 0) {
        iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + w;
        iov->iov_len -= static_cast<size_t>(w);
      }
    }
    return true;
  }

  // Sends header [+hdgst] [+data +ddgst] (cpda is 0: no padding).
  static bool SendPdu(Conn& c, void* hdr, uint32_t hlen, const uint8_t* data, uint32_t len) {
    auto* ch = static_cast<tcp::CommonHeader*>(hdr);
    bool hd = c.hdgst && ch->pdu_type != tcp::kC2HTermReq;
    bool dd = c.ddgst && len && ch->pdu_type != tcp::kC2HTermReq;
    ch->hlen = static_cast<uint8_t>(ch->pdu_type == tcp::kC2HTermReq ? sizeof(tcp::TermReqHeader) : hlen);
    ch->flags |= (hd ? tcp::kFlagHdgst : 0) | (dd ? tcp::kFlagDdgst : 0);
    uint32_t hl = hlen + (hd ? 4 : 0);
    ch->pdo = static_cast<uint8_t>(len && ch->pdu_type != tcp::kC2HTermReq ? hl : 0);
    ch->plen = hl + len + (dd ? 4 : 0);
    uint32_t hd_v = hd ? Crc32c(hdr, hlen) : 0;
    uint32_t dd_v = dd ? Crc32c(data, len) : 0;
    iovec iov[4];
    int n = 0;
    iov[n++] = {hdr, hlen};
    if (hd) iov[n++] = {&hd_v, 4};
    if (len) iov[n++] = {const_cast<uint8_t*>(data), len};
    if (dd) iov[n++] = {&dd_v, 4};
    return SendAll(c.fd, iov, n);
  }

  static void TermReq(Conn& c, uint16_t fes, uint32_t fei, const uint8_t* hdr, uint32_t hlen) {
    uint8_t b[sizeof(tcp::TermReqHeader) + tcp::kMaxTermReqData] = {};
    auto* t = reinterpret_cast<tcp::TermReqHeader*>(b);
    t->ch.pdu_type = tcp::kC2HTermReq;
    t->fes = fes;
    t->fei = fei;
    uint32_t n = std::min<uint32_t>(hlen, tcp::kMaxTermReqData);
    memcpy(b + sizeof(*t), hdr, n);
    SendPdu(c, b, sizeof(*t) + n, nullptr, 0);
    shutdown(c.fd, SHUT_RDWR);
  }

  bool Respond(Conn& c, uint16_t cid, nvme::Status st, uint32_t dw0 = 0, uint32_t dw1 = 0) {
    tcp::CapsuleRespHeader r{};
    r.ch.pdu_type = tcp::kCapsuleResp;
    r.cqe.dw0 = dw0;
    r.cqe.dw1 = dw1;
    r.cqe.sqid = c.qid;
    r.cqe.cid = cid;
    r.cqe.status = st.Encode();
    capsule_resps++;
    return SendPdu(c, &r, sizeof(r), nullptr, 0);
  }

  // Controller-to-host data: C2HData PDUs, then SUCCESS (even CIDs) or a CapsuleResp (odd).
  bool SendData(Conn& c, uint16_t cid, const uint8_t* data, uint32_t len) {
    bool success = (cid % 2) == 0;
    for (uint32_t off = 0; off < len;) {
      uint32_t n = std::min(len - off, o_.c2h_chunk);
      tcp::DataHeader d{};
      d.ch.pdu_type = tcp::kC2HData;
      bool last = off + n == len;
      d.ch.flags = (last ? tcp::kFlagLastPdu : 0) | (last && success ? tcp::kFlagSuccess : 0);
      d.cccid = cid;
      d.datao = off;
      d.datal = n;
      if (!SendPdu(c, &d, sizeof(d), data + off, n)) return false;
      off += n;
    }
    if (success && len) {
      success_flags++;
      return true;
    }
    return Respond(c, cid, nvme::kSuccess);
  }

  bool InRange(uint64_t slba, uint32_t nlb) const {
    uint64_t nsze = o_.ns_bytes / o_.lba_size;
    return slba < nsze && nlb <= nsze - slba;
  }

  // Executes a command whose host-to-controller data (if any) is complete.
  bool Exec(Conn& c, const nvme::Sqe& s, const uint8_t* data, uint32_t dlen) {
    using namespace nvme;
    uint32_t sgl_len = s.sgl1.length;
    if (s.opcode == kAdminFabrics) {
      uint8_t fct = s.fctype();
      if (fct == kFctypeConnect) {
        ConnectCmd cc;
        memcpy(&cc, &s, sizeof(cc));
        if (dlen < sizeof(ConnectData)) return Respond(c, s.cid, Generic(kScDataSglLengthInvalid));
        ConnectData d;
        memcpy(&d, data, sizeof(d));
        if (strncmp(d.subnqn, o_.subnqn.c_str(), sizeof(d.subnqn)) != 0)
          return Respond(c, s.cid, CmdSpecific(kScConnectInvalidParameters), ConnectInvalidParam(true, 256));
        if (cc.sqsize == 0 || cc.sqsize > o_.mqes)
          return Respond(c, s.cid, CmdSpecific(kScConnectInvalidParameters), ConnectInvalidParam(false, 44));
        std::lock_guard<std::mutex> l(mu_);
        if (cc.qid == 0) {
          c.cntlid = next_cntlid_++;
          c.ctrl = &ctrls_[c.cntlid];
        } else {
          auto it = ctrls_.find(d.cntlid);
          if (it == ctrls_.end())
            return Respond(c, s.cid, CmdSpecific(kScConnectInvalidParameters), ConnectInvalidParam(true, 16));
          c.cntlid = d.cntlid;
          c.ctrl = &it->second;
        }
        c.qid = cc.qid;
        return Respond(c, s.cid, kSuccess, c.cntlid);
      }
      if (!c.ctrl) return Respond(c, s.cid, Generic(kScCommandSequenceError));
      if (fct == kFctypePropertyGet || fct == kFctypePropertySet) {
        PropertyCmd p;
        memcpy(&p, &s, sizeof(p));
        uint64_t v;
        switch (p.offset) {
          case kPropCap: v = o_.mqes | (1ull << 16) | (10ull << 24) | (1ull << 37); break;
          case kPropVs: v = Version(2, 0); break;
          case kPropCc: v = c.ctrl->cc; break;
          case kPropCsts: v = c.ctrl->csts; break;
          default: return Respond(c, s.cid, Generic(kScInvalidField));
        }
        if (fct == kFctypePropertySet) {
          if (p.offset != kPropCc) return Respond(c, s.cid, Generic(kScInvalidField));
          c.ctrl->cc = static_cast<uint32_t>(p.value);
          c.ctrl->csts = (c.ctrl->cc & kCcEn) ? kCstsRdy : 0;
          return Respond(c, s.cid, kSuccess);
        }
        return Respond(c, s.cid, kSuccess, static_cast<uint32_t>(v), static_cast<uint32_t>(v >> 32));
      }
      if (fct == kFctypeDisconnect) {
        Respond(c, s.cid, kSuccess);
        shutdown(c.fd, SHUT_RDWR);
        return false;
      }
      return Respond(c, s.cid, Generic(kScInvalidOpcode));
    }
    if (!c.ctrl) return Respond(c, s.cid, Generic(kScCommandSequenceError));
    if (c.qid == 0) {
      switch (s.opcode) {
        case kAdminIdentify: {
          std::vector<uint8_t> b(4096, 0);
          uint8_t cns = s.cdw10 & 0xFF;
          if (cns == kCnsController) {
            auto* id = reinterpret_cast<IdentifyController*>(b.data());
            id->vid = 0x1b36;
            CopyPadded(id->sn, sizeof(id->sn), "FAKE0001");
            CopyPadded(id->mn, sizeof(id->mn), "nvmf_host_test fake target");
            CopyPadded(id->fr, sizeof(id->fr), "0.1");
            id->mdts = o_.mdts;
            id->cntlid = c.cntlid;
            id->ver = Version(2, 0);
            id->cntrltype = kCntrlTypeIo;
            id->aerl = 3;
            id->kas = 10;
            id->sqes = 0x66;
            id->cqes = 0x44;
            id->maxcmd = 128;
            id->nn = 1;
            id->oncs = kOncsCompare | kOncsDsm | kOncsWriteZeroes;
            id->sgls = 1;
            CopyZeroPadded(id->subnqn, sizeof(id->subnqn), o_.subnqn.c_str());
            id->ioccsz = (64 + o_.io_icd) / 16;
            id->iorcsz = 1;
          } else if (cns == kCnsNamespace) {
            if (s.nsid != 1) return Respond(c, s.cid, Generic(kScInvalidNamespaceOrFormat));
            auto* ns = reinterpret_cast<IdentifyNamespace*>(b.data());
            ns->nsze = ns->ncap = ns->nuse = o_.ns_bytes / o_.lba_size;
            ns->lbaf[0].lbads = static_cast<uint8_t>(__builtin_ctz(o_.lba_size));
          } else if (cns == kCnsActiveNsList) {
            if (s.nsid < 1) {
              uint32_t one = 1;
              memcpy(b.data(), &one, 4);
            }
          } else {
            return Respond(c, s.cid, Generic(kScInvalidField));
          }
          return SendData(c, s.cid, b.data(), std::min<uint32_t>(sgl_len, 4096));
        }
        case kAdminGetLogPage: {
          std::vector<uint8_t> b(sgl_len, 0);
          return SendData(c, s.cid, b.data(), sgl_len);
        }
        case kAdminSetFeatures:
          if ((s.cdw10 & 0xFF) == kFeatNumberOfQueues) return Respond(c, s.cid, kSuccess, (15u << 16) | 15u);
          return Respond(c, s.cid, kSuccess);
        case kAdminGetFeatures:
        case kAdminKeepAlive:
          return Respond(c, s.cid, kSuccess);
        case kAdminAsyncEventRequest:
          return true;  // never completes
        default:
          return Respond(c, s.cid, Generic(kScInvalidOpcode));
      }
    }
    uint64_t slba = s.cdw10 | (static_cast<uint64_t>(s.cdw11) << 32);
    uint32_t nlb = (s.cdw12 & 0xFFFF) + 1;
    uint64_t off = slba * o_.lba_size;
    uint32_t bytes = nlb * o_.lba_size;
    switch (s.opcode) {
      case kIoRead:
      case kIoWrite:
      case kIoCompare:
        if (s.nsid != 1) return Respond(c, s.cid, Generic(kScInvalidNamespaceOrFormat));
        if (!InRange(slba, nlb)) return Respond(c, s.cid, Generic(kScLbaOutOfRange));
        if (sgl_len != bytes) return Respond(c, s.cid, Generic(kScDataSglLengthInvalid));
        if (s.opcode == kIoRead) return SendData(c, s.cid, mem_.data() + off, bytes);
        if (s.opcode == kIoWrite) {
          memcpy(mem_.data() + off, data, bytes);
          return Respond(c, s.cid, kSuccess);
        }
        return Respond(c, s.cid, memcmp(mem_.data() + off, data, bytes) ? Media(kScCompareFailure) : kSuccess);
      case kIoWriteZeroes:
        if (!InRange(slba, nlb)) return Respond(c, s.cid, Generic(kScLbaOutOfRange));
        memset(mem_.data() + off, 0, bytes);
        return Respond(c, s.cid, kSuccess);
      case kIoFlush:
      case kIoDatasetManagement:
        return Respond(c, s.cid, kSuccess);
      default:
        return Respond(c, s.cid, Generic(kScInvalidOpcode));
    }
  }

  void Serve(int fd) {
    Conn c;
    c.fd = fd;
    tcp::IcReq ic;
    if (!Read(c, &ic, sizeof(ic))) return;
    if (ic.ch.pdu_type != tcp::kIcReq || ic.ch.plen != 128) {
      TermReq(c, tcp::kFesPduSequenceError, 0, reinterpret_cast<uint8_t*>(&ic), 8);
      return;
    }
    tcp::IcResp resp{};
    resp.ch.pdu_type = tcp::kIcResp;
    resp.ch.hlen = 128;
    resp.ch.plen = 128;
    resp.dgst = ic.dgst & 3;
    resp.maxh2cdata = o_.maxh2cdata;
    iovec iov{&resp, sizeof(resp)};
    if (!SendAll(fd, &iov, 1)) return;
    c.hdgst = ic.dgst & tcp::kDgstHeader;
    c.ddgst = ic.dgst & tcp::kDgstData;

    std::vector<uint8_t> pdu;
    for (;;) {
      tcp::CommonHeader ch;
      if (!Read(c, &ch, sizeof(ch))) return;
      if (tcp::ExpectedHlen(ch.pdu_type) == 0 || ch.pdu_type == tcp::kIcReq) {
        TermReq(c, ch.pdu_type == tcp::kIcReq ? tcp::kFesPduSequenceError : tcp::kFesInvalidHeaderField, 0,
                reinterpret_cast<uint8_t*>(&ch), 8);
        return;
      }
      if (ch.plen < ch.hlen || ch.plen > (8u << 20)) {
        TermReq(c, tcp::kFesInvalidHeaderField, 4, reinterpret_cast<uint8_t*>(&ch), 8);
        return;
      }
      pdu.resize(ch.plen);
      memcpy(pdu.data(), &ch, 8);
      if (!Read(c, pdu.data() + 8, ch.plen - 8)) return;
      if (ch.flags & tcp::kFlagHdgst) {
        uint32_t got;
        memcpy(&got, pdu.data() + ch.hlen, 4);
        if (got != Crc32c(pdu.data(), ch.hlen)) {
          TermReq(c, tcp::kFesHeaderDigestError, 0, pdu.data(), ch.hlen);
          return;
        }
      }
      const uint8_t* data = ch.pdo ? pdu.data() + ch.pdo : nullptr;
      uint32_t dlen = tcp::DataBytes(ch);
      bool ddgst_bad = false;
      if ((ch.flags & tcp::kFlagDdgst) && dlen) {
        uint32_t got;
        memcpy(&got, pdu.data() + ch.plen - 4, 4);
        ddgst_bad = got != Crc32c(data, dlen);
      }
      if (ch.pdu_type == tcp::kCapsuleCmd) {
        tcp::CapsuleCmdHeader h;
        memcpy(&h, pdu.data(), sizeof(h));
        const nvme::Sqe& s = h.sqe;
        if (ddgst_bad) {
          if (!Respond(c, s.cid, nvme::Generic(kScTransientTransportError, false))) return;
          continue;
        }
        bool h2c = nvme::OpcodeHostToController(s.opcode) ||
                   (s.opcode == nvme::kAdminFabrics && s.fctype() == nvme::kFctypeConnect);
        if (h2c && s.sgl1.id == nvme::kSglTransportDataBlock && s.sgl1.length > 0) {
          Conn::Xfer x;
          x.cid = s.cid;
          x.len = s.sgl1.length;
          x.got = 0;
          x.data.resize(x.len);
          x.sqe = s;
          uint16_t ttag = c.next_ttag++;
          c.xfers[ttag] = std::move(x);
          tcp::R2THeader r{};
          r.ch.pdu_type = tcp::kR2T;
          r.cccid = s.cid;
          r.ttag = ttag;
          r.r2to = 0;
          r.r2tl = s.sgl1.length;
          r2ts++;
          if (!SendPdu(c, &r, sizeof(r), nullptr, 0)) return;
          continue;
        }
        if (!Exec(c, s, data, dlen)) return;
      } else if (ch.pdu_type == tcp::kH2CData) {
        tcp::DataHeader h;
        memcpy(&h, pdu.data(), sizeof(h));
        h2c_pdus++;
        auto it = c.xfers.find(h.ttag);
        if (it == c.xfers.end()) {
          TermReq(c, tcp::kFesInvalidHeaderField, offsetof(tcp::DataHeader, ttag), pdu.data(), ch.hlen);
          return;
        }
        auto& x = it->second;
        if (h.datal > o_.maxh2cdata) {
          TermReq(c, tcp::kFesDataTransferLimitExceeded, 0, pdu.data(), ch.hlen);
          return;
        }
        if (h.datao != x.got || static_cast<uint64_t>(h.datao) + h.datal > x.len || h.datal != dlen) {
          TermReq(c, tcp::kFesDataTransferOutOfRange, 0, pdu.data(), ch.hlen);
          return;
        }
        memcpy(x.data.data() + h.datao, data, dlen);
        x.got += dlen;
        if (x.got == x.len) {
          nvme::Sqe s = x.sqe;
          std::vector<uint8_t> d = std::move(x.data);
          c.xfers.erase(it);
          if (!Exec(c, s, d.data(), static_cast<uint32_t>(d.size()))) return;
        }
      } else {
        TermReq(c, tcp::kFesInvalidHeaderField, 0, pdu.data(), ch.hlen);
        return;
      }
    }
  }

  FakeOptions o_;
  std::vector<uint8_t> mem_;
  int lfd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> threads_;
  std::set<int> fds_;
  std::map<uint16_t, Ctrl> ctrls_;
  uint16_t next_cntlid_ = 1;
};

// ---------------------------------------------------------------- pure tests

uint32_t BitwiseCrc32c(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
  }
  return c ^ 0xFFFFFFFFu;
}

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  uint8_t zeros[32] = {};
  EXPECT_EQ(Crc32c(zeros, 32), 0x8A9136AAu);
  std::vector<uint8_t> v(1000);
  for (size_t i = 0; i < v.size(); i++) v[i] = static_cast<uint8_t>(i * 7 + 3);
  for (size_t n : {0, 1, 7, 8, 9, 63, 64, 65, 1000}) EXPECT_EQ(Crc32c(v.data(), n), BitwiseCrc32c(v.data(), n)) << n;
  // Extend in pieces == at once.
  uint32_t c = Crc32cExtend(0xFFFFFFFFu, v.data(), 333);
  c = Crc32cExtend(c, v.data() + 333, 667);
  EXPECT_EQ(c ^ 0xFFFFFFFFu, Crc32c(v.data(), 1000));
}

TEST(LatencyHistogram, BucketsAreContiguousAndTight) {
  for (uint32_t b = 0; b + 1 < 1900; b++) {
    EXPECT_EQ(LatencyHistogram::BucketHigh(b) + 1, LatencyHistogram::BucketLow(b + 1)) << b;
    EXPECT_EQ(LatencyHistogram::BucketOf(LatencyHistogram::BucketLow(b)), b);
    EXPECT_EQ(LatencyHistogram::BucketOf(LatencyHistogram::BucketHigh(b)), b);
  }
  for (uint64_t v : {100ull, 12345ull, 999999ull, 123456789012ull}) {
    uint32_t b = LatencyHistogram::BucketOf(v);
    double width = static_cast<double>(LatencyHistogram::BucketHigh(b) - LatencyHistogram::BucketLow(b) + 1);
    EXPECT_LE(width / static_cast<double>(v), 1.0 / 32 + 1e-9);
  }
}

TEST(LatencyHistogram, Percentiles) {
  LatencyHistogram h;
  for (uint64_t i = 1; i <= 10000; i++) h.Record(i * 1000);  // 1 us .. 10 ms
  EXPECT_EQ(h.count(), 10000u);
  EXPECT_NEAR(h.mean(), 5000500.0, 1);
  EXPECT_NEAR(static_cast<double>(h.Percentile(0.5)), 5.0e6, 5.0e6 * 0.035);
  EXPECT_NEAR(static_cast<double>(h.Percentile(0.99)), 9.9e6, 9.9e6 * 0.035);
  EXPECT_EQ(h.Percentile(1.0), 10000000u);
  EXPECT_EQ(h.max(), 10000000u);
  LatencyHistogram g;
  g.Record(5);
  h.Merge(g);
  EXPECT_EQ(h.min(), 5u);
  EXPECT_EQ(h.count(), 10001u);
}

TEST(SqeBuilders, Fields) {
  nvme::Sqe r = cmd::Read(1, 0x123456789ull, 8);
  EXPECT_EQ(r.opcode, nvme::kIoRead);
  EXPECT_EQ(r.cdw10, 0x23456789u);
  EXPECT_EQ(r.cdw11, 0x1u);
  EXPECT_EQ(r.cdw12, 7u);
  nvme::Sqe g = cmd::GetLogPage(nvme::kLogSmartHealth, 0xFFFFFFFF, 512, 0x100000000ull, 0, true);
  EXPECT_EQ(g.cdw10, 0x02u | (1u << 15) | (127u << 16));
  EXPECT_EQ(g.cdw11, 0u);
  EXPECT_EQ(g.cdw12, 0u);
  EXPECT_EQ(g.cdw13, 1u);
  nvme::Sqe big = cmd::GetLogPage(0x70, 0, 1u << 20);
  EXPECT_EQ(big.cdw10 >> 16, 0xFFFFu);
  EXPECT_EQ(big.cdw11, 0x3u);  // numd = 262143 = 0x3FFFF
  nvme::Sqe c = cmd::Connect(3, 127, 5000, 0);
  nvme::ConnectCmd cc;
  memcpy(&cc, &c, sizeof(cc));
  EXPECT_EQ(cc.opcode, 0x7F);
  EXPECT_EQ(cc.fctype, nvme::kFctypeConnect);
  EXPECT_EQ(cc.qid, 3);
  EXPECT_EQ(cc.sqsize, 127);
  EXPECT_EQ(cc.kato, 5000u);
  EXPECT_EQ(cmd::Disconnect().fctype(), nvme::kFctypeDisconnect);
  nvme::Sqe p = cmd::PropertyGet(nvme::kPropCap, true);
  nvme::PropertyCmd pc;
  memcpy(&pc, &p, sizeof(pc));
  EXPECT_EQ(pc.fctype, nvme::kFctypePropertyGet);
  EXPECT_EQ(pc.attrib, 1);
  EXPECT_EQ(pc.offset, 0u);
  nvme::Sqe i = cmd::Identify(nvme::kCnsNsIdDescriptors, 7, 0x1234);
  EXPECT_EQ(i.cdw10, 0x12340003u);
  EXPECT_EQ(i.nsid, 7u);
  nvme::Sqe w = cmd::WriteZeroes(1, 0, 16, true);
  EXPECT_EQ(w.cdw12, 15u | nvme::kWzDeallocate);
  nvme::Sqe d = cmd::Dsm(1, 3);
  EXPECT_EQ(d.cdw10, 2u);
  EXPECT_EQ(d.cdw11, nvme::kDsmAttrDeallocate);
}

TEST(PduBuilders, CapsuleLayoutAndDigests) {
  Connection c;  // not connected: builders only
  nvme::Sqe s = cmd::Write(1, 0, 1);
  uint8_t data[512];
  memset(data, 0xAB, sizeof(data));
  auto p = c.BuildCapsuleCmd(s, data, sizeof(data));
  ASSERT_EQ(p.size(), 72u + 512u);
  auto* ch = reinterpret_cast<tcp::CommonHeader*>(p.data());
  EXPECT_EQ(ch->pdu_type, tcp::kCapsuleCmd);
  EXPECT_EQ(ch->hlen, 72);
  EXPECT_EQ(ch->pdo, 72);
  EXPECT_EQ(ch->plen, 584u);
  EXPECT_EQ(ch->flags, 0);
  c.set_digests(true, true);
  p = c.BuildCapsuleCmd(s, data, sizeof(data));
  ch = reinterpret_cast<tcp::CommonHeader*>(p.data());
  ASSERT_EQ(p.size(), 72u + 4 + 512 + 4);
  EXPECT_EQ(ch->flags, tcp::kFlagHdgst | tcp::kFlagDdgst);
  EXPECT_EQ(ch->pdo, 76);
  uint32_t hd, dd;
  memcpy(&hd, p.data() + 72, 4);
  memcpy(&dd, p.data() + 76 + 512, 4);
  EXPECT_EQ(hd, Crc32c(p.data(), 72));
  EXPECT_EQ(dd, Crc32c(data, 512));
  Connection::BuildOpts o;
  o.corrupt_hdgst = true;
  p = c.BuildCapsuleCmd(s, nullptr, 0, o);
  ch = reinterpret_cast<tcp::CommonHeader*>(p.data());
  EXPECT_EQ(ch->flags, tcp::kFlagHdgst);  // no data: no data digest
  EXPECT_EQ(ch->pdo, 0);
  memcpy(&hd, p.data() + 72, 4);
  EXPECT_NE(hd, Crc32c(p.data(), 72));
  auto h2c = c.BuildH2CData(5, 9, 4096, data, 100, true);
  tcp::DataHeader dh;
  memcpy(&dh, h2c.data(), sizeof(dh));
  EXPECT_EQ(dh.ch.pdu_type, tcp::kH2CData);
  EXPECT_EQ(dh.ch.flags, tcp::kFlagHdgst | tcp::kFlagDdgst | tcp::kFlagLastPdu);
  EXPECT_EQ(dh.cccid, 5);
  EXPECT_EQ(dh.ttag, 9);
  EXPECT_EQ(dh.datao, 4096u);
  EXPECT_EQ(dh.datal, 100u);
  EXPECT_EQ(dh.ch.plen, 24u + 4 + 100 + 4);
}

// ---------------------------------------------------------------- end to end

class HostE2E : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { ASSERT_TRUE(target_.Start()); }
  ControllerOptions Opts() {
    ControllerOptions o;
    o.port = target_.port();
    o.subnqn = target_.nqn();
    o.ic.hdgst = GetParam() & 1;
    o.ic.ddgst = GetParam() & 2;
    o.timeout_ms = 5000;
    return o;
  }
  FakeTarget target_;
};

TEST_P(HostE2E, AdminBringUp) {
  Controller ctrl(Opts());
  std::string err;
  ASSERT_TRUE(ctrl.Open(&err)) << err;
  EXPECT_EQ(ctrl.admin().hdgst(), (GetParam() & 1) != 0);
  EXPECT_EQ(ctrl.admin().ddgst(), (GetParam() & 2) != 0);
  EXPECT_EQ(ctrl.cntlid(), 1);
  EXPECT_EQ(ctrl.id().ioccsz, (64u + 4096u) / 16);
  EXPECT_EQ(ctrl.io_in_capsule_limit(), 4096u);
  EXPECT_EQ(std::string(ctrl.id().subnqn), target_.nqn());
  uint64_t v = 0;
  ASSERT_TRUE(ctrl.PropertyGet(nvme::kPropVs, &v).ok());
  EXPECT_EQ(v, nvme::Version(2, 0));
  ASSERT_TRUE(ctrl.PropertyGet(nvme::kPropCap, &v, true).ok());
  EXPECT_EQ(v & 0xFFFF, 127u);
  EXPECT_EQ((v >> 37) & 1, 1u);
  ASSERT_TRUE(ctrl.PropertyGet(nvme::kPropCsts, &v).ok());
  EXPECT_EQ(v & 1, 1u);
  Completion c = ctrl.PropertyGet(0x44, &v);
  EXPECT_TRUE(c.transport_ok);
  EXPECT_EQ(c.status, nvme::Generic(nvme::kScInvalidField));

  nvme::IdentifyNamespace ns;
  ASSERT_TRUE(ctrl.IdentifyNamespace(1, &ns).ok());
  EXPECT_EQ(ns.nsze, (16u << 20) / 512);
  std::vector<uint32_t> list;
  ASSERT_TRUE(ctrl.ActiveNamespaces(0, &list).ok());
  EXPECT_EQ(list, std::vector<uint32_t>{1});
  uint8_t buf[4096];
  c = ctrl.Identify(0x55, 0, buf);
  EXPECT_EQ(c.status, nvme::Generic(nvme::kScInvalidField));
  c = ctrl.SetFeatures(nvme::kFeatNumberOfQueues, 0x00030003);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.cqe.dw0, 0x000F000Fu);
  EXPECT_TRUE(ctrl.KeepAlive().ok());
  nvme::SmartHealthLog smart;
  c = ctrl.GetLogPage(nvme::kLogSmartHealth, &smart, sizeof(smart));
  EXPECT_TRUE(c.ok()) << c.ToString();
  EXPECT_EQ(c.bytes_in, 512u);

  // An AER stays outstanding while other commands complete around it.
  uint16_t aer = ctrl.SubmitAer();
  ASSERT_NE(aer, 0);
  EXPECT_TRUE(ctrl.KeepAlive().ok());
  EXPECT_EQ(ctrl.admin().outstanding(), 1u);
  EXPECT_FALSE(ctrl.admin().WaitAny(50).has_value());

  c = ctrl.admin().Execute(nvme::Sqe{.opcode = 0xC5});
  EXPECT_EQ(c.status, nvme::Generic(nvme::kScInvalidOpcode));
}

TEST_P(HostE2E, ReadWriteInCapsuleAndR2T) {
  Controller ctrl(Opts());
  std::string err;
  ASSERT_TRUE(ctrl.Open(&err)) << err;
  ASSERT_TRUE(ctrl.AddIoQueue().ok());
  ASSERT_TRUE(ctrl.AddIoQueue().ok());
  ASSERT_EQ(ctrl.io_count(), 2u);
  EXPECT_EQ(ctrl.io(1).qid(), 2);
  Connection& q = ctrl.io(0);

  // 4 KiB: in-capsule. 64 KiB: R2T, split into 16 KiB H2CData PDUs.
  for (uint32_t len : {512u, 4096u, 65536u, 131072u}) {
    std::vector<uint8_t> w(len), r(len, 0);
    for (uint32_t i = 0; i < len; i++) w[i] = static_cast<uint8_t>(i * 31 + len);
    uint64_t r2t_before = q.stats().r2t, h2c_before = q.stats().h2c_pdus;
    Completion c = ctrl.Write(q, 1, 100, len / 512, w.data(), len);
    ASSERT_TRUE(c.ok()) << len << ": " << c.ToString();
    if (len <= 4096) {
      EXPECT_EQ(q.stats().r2t, r2t_before);
    } else {
      EXPECT_EQ(q.stats().r2t, r2t_before + 1);
      EXPECT_EQ(q.stats().h2c_pdus, h2c_before + len / 16384);
    }
    EXPECT_EQ(memcmp(target_.mem() + 100 * 512, w.data(), len), 0);
    // Two reads: the fake target completes even CIDs with C2HData SUCCESS, odd with a CapsuleResp.
    for (int k = 0; k < 2; k++) {
      std::fill(r.begin(), r.end(), 0);
      c = ctrl.Read(q, 1, 100, len / 512, r.data(), len);
      ASSERT_TRUE(c.ok()) << c.ToString();
      EXPECT_EQ(c.bytes_in, len);
      EXPECT_EQ(r, w);
    }
    EXPECT_TRUE(ctrl.Compare(q, 1, 100, len / 512, w.data(), len).ok());
  }
  EXPECT_GT(q.stats().c2h_success, 0u);
  EXPECT_GT(q.stats().capsule_resps, 0u);

  std::vector<uint8_t> x(512, 0x11);
  Completion c = ctrl.Compare(q, 1, 100, 1, x.data(), 512);
  EXPECT_EQ(c.status, nvme::Media(nvme::kScCompareFailure));
  c = ctrl.Read(q, 2, 0, 1, x.data(), 512);
  EXPECT_EQ(c.status, nvme::Generic(nvme::kScInvalidNamespaceOrFormat));
  c = ctrl.Read(q, 1, (16u << 20) / 512, 1, x.data(), 512);
  EXPECT_EQ(c.status, nvme::Generic(nvme::kScLbaOutOfRange));
  EXPECT_TRUE(ctrl.WriteZeroes(q, 1, 100, 1).ok());
  EXPECT_TRUE(ctrl.Flush(q, 1).ok());
  EXPECT_TRUE(ctrl.Dsm(q, 1, {{0, 8, 0}, {0, 8, 64}}).ok());
  c = ctrl.Read(q, 1, 100, 1, x.data(), 512);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(x, std::vector<uint8_t>(512, 0));
  EXPECT_TRUE(ctrl.Disconnect(ctrl.io(1)).ok());
  EXPECT_TRUE(ctrl.io(1).WaitForClose(2000));
}

TEST_P(HostE2E, Pipelined) {
  Controller ctrl(Opts());
  std::string err;
  ASSERT_TRUE(ctrl.Open(&err)) << err;
  ASSERT_TRUE(ctrl.AddIoQueue().ok());
  Connection& q = ctrl.io(0);
  constexpr int kN = 24;
  std::vector<std::vector<uint8_t>> w(kN), r(kN);
  std::vector<uint16_t> cids;
  for (int i = 0; i < kN; i++) {
    uint32_t len = (i % 3 == 0) ? 32768 : 2048;  // mix of R2T and in-capsule writes
    w[i].assign(len, static_cast<uint8_t>(i + 1));
    nvme::Sqe s = cmd::Write(1, static_cast<uint64_t>(i) * 64, len / 512);
    ASSERT_TRUE(q.Submit(&s, w[i].data(), len, nullptr, 0));
    cids.push_back(s.cid);
  }
  EXPECT_EQ(q.outstanding(), static_cast<size_t>(kN));
  for (int i = kN - 1; i >= 0; i--) ASSERT_TRUE(q.Wait(cids[i]).ok()) << i;  // any order
  cids.clear();
  for (int i = 0; i < kN; i++) {
    r[i].assign(w[i].size(), 0);
    nvme::Sqe s = cmd::Read(1, static_cast<uint64_t>(i) * 64, static_cast<uint32_t>(w[i].size() / 512));
    ASSERT_TRUE(q.Submit(&s, nullptr, 0, r[i].data(), static_cast<uint32_t>(r[i].size())));
    cids.push_back(s.cid);
  }
  for (int i = 0; i < kN; i++) {
    ASSERT_TRUE(q.Wait(cids[i]).ok());
    EXPECT_EQ(r[i], w[i]) << i;
  }
}

std::string DigestName(const ::testing::TestParamInfo<int>& info) {
  static const char* const kNames[] = {"none", "hdgst", "ddgst", "both"};
  return kNames[info.param];
}
INSTANTIATE_TEST_SUITE_P(Digests, HostE2E, ::testing::Values(0, 1, 2, 3), DigestName);

TEST(HostE2EErrors, ConnectErrorsAndTermReq) {
  FakeTarget t;
  ASSERT_TRUE(t.Start());
  ControllerOptions o;
  o.port = t.port();
  o.subnqn = "nqn.2026-11.io.nvmeof:nope";
  Controller bad(o);
  Completion c = bad.ConnectAdmin();
  ASSERT_TRUE(c.transport_ok) << c.error;
  EXPECT_EQ(c.status, nvme::CmdSpecific(nvme::kScConnectInvalidParameters));
  EXPECT_EQ(c.cqe.dw0, nvme::ConnectInvalidParam(true, 256));

  o.subnqn = t.nqn();
  Controller good(o);
  ASSERT_TRUE(good.Open());
  c = good.AddIoQueue(1, 0, 77);  // no such controller
  EXPECT_EQ(c.status, nvme::CmdSpecific(nvme::kScConnectInvalidParameters));
  EXPECT_EQ(c.cqe.dw0, nvme::ConnectInvalidParam(true, 16));
  EXPECT_EQ(good.io_count(), 0u);

  // Unknown PDU type: C2HTermReq (Invalid Header Field, FEI 0), then the target closes.
  Connection raw;
  ASSERT_TRUE(raw.Connect("127.0.0.1", t.port()));
  ASSERT_TRUE(raw.Initialize());
  uint8_t junk[8] = {0x0F, 0, 8, 0, 8, 0, 0, 0};
  ASSERT_TRUE(raw.SendRaw(junk, sizeof(junk)));
  TermReq tr;
  ASSERT_TRUE(raw.WaitForTermReq(&tr, 2000));
  EXPECT_EQ(tr.pdu_type, tcp::kC2HTermReq);
  EXPECT_EQ(tr.fes, tcp::kFesInvalidHeaderField);
  EXPECT_EQ(tr.fei, 0u);
  ASSERT_GE(tr.offending.size(), 8u);
  EXPECT_EQ(tr.offending[0], 0x0F);
  EXPECT_TRUE(raw.WaitForClose(2000));
  EXPECT_TRUE(raw.closed_by_peer());

  // Bad data digest on an in-capsule write: the command fails with a transient transport
  // error and the connection stays usable.
  ControllerOptions od = o;
  od.ic.ddgst = true;
  Controller dd(od);
  ASSERT_TRUE(dd.Open());
  ASSERT_TRUE(dd.AddIoQueue().ok());
  Connection& q = dd.io(0);
  std::vector<uint8_t> w(512, 7);
  nvme::Sqe s = cmd::Write(1, 0, 1);
  s.cid = 999;
  s.flags = 0x40;
  s.sgl1 = {0, 512, {}, nvme::kSglDataBlockOffset};
  Connection::BuildOpts bo;
  bo.corrupt_ddgst = true;
  ASSERT_TRUE(q.SendRaw(q.BuildCapsuleCmd(s, w.data(), 512, bo)));
  Pdu p;
  ASSERT_EQ(q.RecvPdu(&p), RecvStatus::kOk);
  ASSERT_EQ(p.type(), tcp::kCapsuleResp);
  auto resp = p.header<tcp::CapsuleRespHeader>();
  EXPECT_EQ(resp.cqe.cid, 999);
  EXPECT_EQ(nvme::Status::Decode(resp.cqe.status).sc, kScTransientTransportError);
  EXPECT_TRUE(dd.Write(q, 1, 0, 1, w.data(), 512).ok());
}

TEST(HostE2EErrors, ByteAtATimeIcReqAndCapsule) {
  FakeTarget t;
  ASSERT_TRUE(t.Start());
  Connection c;
  ASSERT_TRUE(c.Connect("127.0.0.1", t.port()));
  tcp::IcReq req{};
  req.ch.pdu_type = tcp::kIcReq;
  req.ch.hlen = 128;
  req.ch.plen = 128;
  ASSERT_TRUE(c.SendRawChunked(&req, sizeof(req), 1, 50));
  Pdu p;
  ASSERT_EQ(c.RecvPdu(&p), RecvStatus::kOk);
  EXPECT_EQ(p.type(), tcp::kIcResp);
}

// ---------------------------------------------------------------- nvmf-perf

struct RunResult {
  int status = -1;
  std::string out;
};

RunResult RunCmd(const std::string& cmdline) {
  RunResult r;
  FILE* f = popen(cmdline.c_str(), "r");
  if (!f) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) r.out.append(buf, n);
  int st = pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

double JsonNumber(const std::string& s, const std::string& key, size_t from = 0) {
  size_t p = s.find("\"" + key + "\": ", from);
  if (p == std::string::npos) return -1;
  return strtod(s.c_str() + p + key.size() + 4, nullptr);
}

TEST(NvmfPerf, RandRwJsonWithDigests) {
  FakeTarget t;
  ASSERT_TRUE(t.Start());
  std::string cmd = std::string(NVMF_PERF_BIN) + " --port " + std::to_string(t.port()) + " --nqn " + t.nqn() +
                    " --queues 2 --qd 8 --bs 8k --rw randrw --mix 50 --time 0.5 --hdgst --ddgst --json";
  RunResult r = RunCmd(cmd);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_GT(JsonNumber(r.out, "iops"), 100) << r.out;
  EXPECT_EQ(JsonNumber(r.out, "errors"), 0) << r.out;
  size_t rd = r.out.find("\"read\"");
  size_t wr = r.out.find("\"write\"");
  ASSERT_NE(rd, std::string::npos);
  ASSERT_NE(wr, std::string::npos);
  EXPECT_GT(JsonNumber(r.out, "ios", rd), 0) << r.out;
  EXPECT_GT(JsonNumber(r.out, "ios", wr), 0) << r.out;
  EXPECT_GT(JsonNumber(r.out, "p99", rd), 0) << r.out;
  EXPECT_NE(r.out.find("\"hdgst\": true"), std::string::npos);
}

TEST(NvmfPerf, VerifyLargeBlocksUseR2T) {
  FakeTarget t;
  ASSERT_TRUE(t.Start());
  // 64 KiB writes exceed the 4 KiB in-capsule size: R2T + 16 KiB H2CData PDUs.
  std::string cmd = std::string(NVMF_PERF_BIN) + " --port " + std::to_string(t.port()) + " --nqn " + t.nqn() +
                    " --queues 2 --threads 2 --qd 4 --bs 64k --rw randrw --size 4m --time 0.5 --verify";
  RunResult r = RunCmd(cmd);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("verify errors 0"), std::string::npos) << r.out;
  EXPECT_GT(t.r2ts.load(), 0u);
  EXPECT_GT(t.h2c_pdus.load(), 3 * t.r2ts.load());
}

TEST(NvmfPerf, VerifyDetectsCorruption) {
  FakeTarget t;
  ASSERT_TRUE(t.Start());
  std::string base = std::string(NVMF_PERF_BIN) + " --port " + std::to_string(t.port()) + " --nqn " + t.nqn();
  // Fill the pattern, then corrupt the target's memory behind nvmf-perf's back while a
  // read-only verify run is going on: mismatches must be reported with a non-zero exit.
  std::thread corrupt([&] {
    // Once the fill phase has reached the region's last block, overwrite the region.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    const volatile uint8_t* last = t.mem() + (1 << 20) - 8;
    while (*last == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    memset(t.mem(), 0xEE, 1 << 20);
  });
  RunResult r = RunCmd(base + " --qd 4 --bs 4k --rw randread --size 1m --time 1 --verify 2>&1");
  corrupt.join();
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("mismatch"), std::string::npos) << r.out;
}

TEST(NvmfPerf, ConnectTimingJson) {
  FakeTarget t;
  ASSERT_TRUE(t.Start());
  std::string cmd = std::string(NVMF_PERF_BIN) + " --port " + std::to_string(t.port()) + " --nqn " + t.nqn() +
                    " --queues 2 --qd 8 --connect-timing 3 --json";
  RunResult r = RunCmd(cmd);
  ASSERT_EQ(r.status, 0) << r.out;
  size_t all = r.out.find("\"all\"");
  size_t admin = r.out.find("\"admin\"");
  size_t io = r.out.find("\"io\"");
  size_t auth = r.out.find("\"auth\"");
  ASSERT_NE(all, std::string::npos) << r.out;
  ASSERT_NE(io, std::string::npos) << r.out;
  EXPECT_EQ(JsonNumber(r.out, "n", all), 9) << r.out;
  EXPECT_EQ(JsonNumber(r.out, "n", admin), 3) << r.out;
  EXPECT_EQ(JsonNumber(r.out, "n", io), 6) << r.out;
  EXPECT_EQ(JsonNumber(r.out, "n", auth), 0) << r.out;  // the fake target does not ask for it
  EXPECT_GT(JsonNumber(r.out, "median_us", all), 0) << r.out;
  EXPECT_GE(JsonNumber(r.out, "p99_us", all), JsonNumber(r.out, "median_us", all)) << r.out;
  EXPECT_NE(r.out.find("\"authentication\": \"no authentication\""), std::string::npos) << r.out;
}

TEST(NvmfPerf, PhasesFromStdin) {
  FakeTarget t;
  ASSERT_TRUE(t.Start());
  std::string perf = std::string(NVMF_PERF_BIN) + " --port " + std::to_string(t.port()) + " --nqn " + t.nqn() +
                     " --qd 4 --bs 4k --size 1m --phases-stdin";
  // Two phases on one connection, a pause between them longer than KATO/3 (Keep Alive is
  // sent while waiting), then end of input: one "ready" line and one line per phase.
  RunResult r = RunCmd("(echo 0.2; sleep 0.6; echo 0.1) | " + perf + " --kato 1200 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.rfind("ready\n", 0), 0u) << r.out;
  size_t p1 = r.out.find("\"phase\": 1"), p2 = r.out.find("\"phase\": 2");
  ASSERT_NE(p1, std::string::npos) << r.out;
  ASSERT_NE(p2, std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\"phase\": 3"), std::string::npos) << r.out;
  EXPECT_GT(JsonNumber(r.out, "ios", p1), 0) << r.out;
  EXPECT_GT(JsonNumber(r.out, "ios", p2), 0) << r.out;
  EXPECT_NEAR(JsonNumber(r.out, "seconds", p1), 0.2, 0.1) << r.out;
  EXPECT_NEAR(JsonNumber(r.out, "seconds", p2), 0.1, 0.1) << r.out;
  // The text form: PHASE IOS SECONDS IOPS MIBPS.
  r = RunCmd("echo 0.1 | " + perf);
  ASSERT_EQ(r.status, 0) << r.out;
  unsigned phase = 0;
  unsigned long long ios = 0;
  double secs = 0, iops = 0, mibps = 0;
  ASSERT_EQ(sscanf(r.out.c_str(), "ready\n%u %llu %lf %lf %lf", &phase, &ios, &secs, &iops, &mibps), 5) << r.out;
  EXPECT_EQ(phase, 1u);
  EXPECT_GT(ios, 0u);
  // A line that is not a length ends the run with status 2, after the phases before it.
  r = RunCmd("printf '0.1\\nsoon\\n' | " + perf + " 2>&1");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("not a phase length in seconds: 'soon'"), std::string::npos) << r.out;
  r = RunCmd("echo -1 | " + perf + " 2>&1");
  EXPECT_EQ(r.status, 2) << r.out;
  r = RunCmd(std::string(NVMF_PERF_BIN) + " --nqn x --phases-stdin --verify 2>&1 </dev/null");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--phases-stdin goes with neither"), std::string::npos) << r.out;
}

TEST(NvmfPerf, BadArguments) {
  RunResult r = RunCmd(std::string(NVMF_PERF_BIN) + " --port 1 2>&1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("--nqn is required"), std::string::npos) << r.out;
  r = RunCmd(std::string(NVMF_PERF_BIN) + " --nqn x --rw sideways 2>&1");
  EXPECT_EQ(r.status, 2);
  r = RunCmd(std::string(NVMF_PERF_BIN) + " --nqn x --dhchap-digests sha1 2>&1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("unknown hash"), std::string::npos) << r.out;
  r = RunCmd(std::string(NVMF_PERF_BIN) + " --nqn x --dhchap-ctrl-secret DHHC-1:00:x: 2>&1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("needs --dhchap-secret"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace nvmeof::host

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "--fake-target") {
    nvmeof::host::FakeOptions o;
    o.ns_bytes = 256ull << 20;
    nvmeof::host::FakeTarget t(o);
    if (!t.Start(static_cast<uint16_t>(atoi(argv[2])))) {
      perror("fake target");
      return 1;
    }
    printf("fake target listening on 127.0.0.1:%u nqn %s\n", t.port(), t.nqn().c_str());
    fflush(stdout);
    for (;;) pause();
  }
  // Stand-in for nvmeof-gateway's command line (only --listen and the first --subsystem are
  // used), so that the bad-input suite's own mechanics can be exercised without the gateway:
  //   NVMEOF_GATEWAY_BIN=<wrapper running: nvmf_host_test --as-gateway "$@"> badinput_test
  if (argc >= 2 && std::string(argv[1]) == "--as-gateway") {
    nvmeof::host::FakeOptions o;
    o.ns_bytes = 64ull << 20;
    uint16_t port = 0;
    for (int i = 2; i + 1 < argc; i++) {
      std::string a = argv[i];
      if (a == "--listen") {
        std::string v = argv[++i];
        port = static_cast<uint16_t>(atoi(v.substr(v.rfind(':') + 1).c_str()));
      } else if (a == "--subsystem" && o.subnqn == nvmeof::host::FakeOptions().subnqn) {
        o.subnqn = argv[++i];
      }
    }
    nvmeof::host::FakeTarget t(o);
    if (!t.Start(port)) {
      perror("fake target");
      return 1;
    }
    fprintf(stderr, "listening on 127.0.0.1:%u (fake target)\nready\n", t.port());
    for (;;) pause();
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
