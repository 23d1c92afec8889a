// fuzz_target: the real transport (TcpQueue) and target under arbitrary host bytes.
//
// Each input is one host's byte stream into a real TcpQueue (over a socketpair) on a real
// reactor, with a real Target behind it (two memory namespaces). Byte 0 picks a mode:
//   mode 0: the raw stream (PDU parsing from the first byte)
//   mode 1: after a valid ICReq, admin Connect and CC.EN=1 (admin command dispatch)
//   mode 2: on an I/O queue of an enabled controller (I/O command dispatch)
// The rest is sent as is; the target must answer, terminate or close, never crash, hang
// or leak. A stream that makes the target go silent for kSilenceMs is reported as a hang.
// Run it with -detect_leaks=0: the reactor frees a connection's objects after the input
// returns, which libFuzzer's per-input leak check takes for leaks (the ASan unit and
// bad-input runs check for real leaks).
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <future>
#include <vector>

#include "gateway/common/log.h"
#include "gateway/runtime/reactor.h"
#include "gateway/transport/tcp/tcp_queue.h"
#include "gateway/protocol/nvme_tcp.h"
#include "gateway/nvmf/target.h"

using namespace nvmeof;

namespace {

constexpr char kNqn[] = "nqn.2016-06.io.fuzz:target";
// How long the target may stay silent before the input counts as a hang. Generous: a
// loaded 2-core CI machine running ASan can starve the reactor thread for seconds.
constexpr int kSilenceMs = 20000;
constexpr char kHost[] = "nqn.2014-08.org.nvmexpress:uuid:f0f0f0f0-0000-4000-8000-000000000001";

struct World {
  Reactor reactor{0};
  Target target{TargetOptions{}};
  World() {
    SetLogLevel(getenv("FUZZ_TARGET_LOG") ? LogLevel::kDebug : LogLevel::kCritical);
    reactor.Start();
    SubsystemSpec s;
    s.nqn = kNqn;
    s.allow_any_host = true;
    s.max_namespaces = 8;
    target.AddSubsystem(s);
    ListenerSpec l;
    l.traddr = "127.0.0.1";
    l.trsvcid = "4420";
    target.AddListener(kNqn, l);
    NamespaceSpec a;
    a.nsid = 1;
    a.block_size = 512;
    target.AddNamespace(kNqn, a, OpenMemoryDevice(1 << 20));
    NamespaceSpec b;
    b.nsid = 2;
    b.block_size = 4096;
    target.AddNamespace(kNqn, b, OpenMemoryDevice(1 << 20));
  }
};

World& W() {
  static World* w = new World();  // lives for the process: reactors must outlive queues
  return *w;
}

std::atomic<uint64_t> g_posted{0}, g_started{0};

// On a stall: what the process's descriptors and the reactor's epoll set look like.
void DumpStall(int fd) {
  fprintf(stderr, "fuzz_target: stall on fd %d: %llu starts posted, %llu ran\n", fd,
          (unsigned long long)g_posted.load(), (unsigned long long)g_started.load());
  DIR* d = opendir("/proc/self/fd");
  if (!d) return;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char path[64], link[256] = {};
    snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
    if (readlink(path, link, sizeof(link) - 1) < 0) continue;
    fprintf(stderr, "  fd %s -> %s\n", e->d_name, link);
    if (strstr(link, "eventpoll")) {
      snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", e->d_name);
      if (FILE* f = fopen(path, "r")) {
        char line[256];
        while (fgets(line, sizeof(line), f)) fprintf(stderr, "    %s", line);
        fclose(f);
      }
    }
  }
  closedir(d);
  // Every thread: its state and the system call it is in (or "running").
  if (DIR* t = opendir("/proc/self/task")) {
    while (struct dirent* e = readdir(t)) {
      if (e->d_name[0] == '.') continue;
      char path[96], comm[64] = {}, sc[128] = {};
      snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
      if (FILE* f = fopen(path, "r")) { if (!fgets(comm, sizeof(comm), f)) comm[0] = 0; fclose(f); }
      snprintf(path, sizeof(path), "/proc/self/task/%s/syscall", e->d_name);
      if (FILE* f = fopen(path, "r")) { if (!fgets(sc, sizeof(sc), f)) sc[0] = 0; fclose(f); }
      comm[strcspn(comm, "\n")] = 0;
      fprintf(stderr, "  thread %s (%s): syscall %s", e->d_name, comm, sc[0] ? sc : "?\n");
    }
    closedir(t);
  }
  Reactor& r = W().reactor;
  uint64_t b0 = r.probe().busy_ns(), i0 = r.probe().idle_ns();
  usleep(1000000);
  fprintf(stderr, "  reactor over 1 s: busy %llu us, idle %llu us\n",
          (unsigned long long)(r.probe().busy_ns() - b0) / 1000, (unsigned long long)(r.probe().idle_ns() - i0) / 1000);
}

[[maybe_unused]] int Open() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) abort();
  // The target side must be non-blocking.
  int f = fcntl(sv[0], F_GETFL);
  fcntl(sv[0], F_SETFL, f | O_NONBLOCK);
  PortInfo port;
  port.traddr = "127.0.0.1";
  port.trsvcid = "4420";
  port.portid = 1;
  World& w = W();
  int fd = sv[0];
  g_posted++;
  w.reactor.Post([&w, fd, port] {
    TcpQueue::Start(&w.target, w.reactor, fd, port, "fuzz");
    g_started++;
  });
  return sv[1];
}

// poll() for one fd that waits out signals: libFuzzer's -timeout watchdog sends SIGALRM
// every timeout/2 + 1 s, and an EINTR taken for a timeout looked like a stalled target.
// Returns poll's result: > 0 ready, 0 after ms without an event, < 0 on a real error.
int PollFor(int fd, short events, int ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    struct pollfd pf{fd, events, 0};
    int r = poll(&pf, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
    if (r >= 0 || errno != EINTR) return r;
  }
}

bool WriteAll(int fd, const uint8_t* p, size_t n) {
  while (n) {
    if (PollFor(fd, POLLOUT, kSilenceMs) <= 0) return false;
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

// Reads one PDU (blocking, bounded). Returns false on close/timeout.
bool ReadPdu(int fd, std::vector<uint8_t>* out) {
  auto read_n = [&](uint8_t* p, size_t n) {
    while (n) {
      if (PollFor(fd, POLLIN, kSilenceMs) <= 0) {
        fprintf(stderr, "fuzz_target: timed out waiting for the target (fd %d)\n", fd);
        return false;
      }
      ssize_t k = recv(fd, p, n, 0);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) {
        fprintf(stderr, "fuzz_target: the target closed the connection (fd %d): %s\n", fd, k ? strerror(errno) : "EOF");
        return false;
      }
      p += k;
      n -= static_cast<size_t>(k);
    }
    return true;
  };
  tcp::CommonHeader ch;
  if (!read_n(reinterpret_cast<uint8_t*>(&ch), sizeof(ch))) return false;
  out->resize(ch.plen);
  memcpy(out->data(), &ch, sizeof(ch));
  return ch.plen >= sizeof(ch) && read_n(out->data() + sizeof(ch), ch.plen - sizeof(ch));
}

void Capsule(std::vector<uint8_t>* s, const nvme::Sqe& sqe, const void* data, uint32_t len) {
  tcp::CapsuleCmdHeader h{};
  h.ch.pdu_type = tcp::kCapsuleCmd;
  h.ch.hlen = sizeof(h);
  h.ch.pdo = len ? sizeof(h) : 0;
  h.ch.plen = sizeof(h) + len;
  h.sqe = sqe;
  h.sqe.flags = static_cast<uint8_t>((h.sqe.flags & ~0xC0) | 0x40);  // PSDT: SGL, as fabrics require
  if (len) {
    h.sqe.sgl1.id = nvme::kSglDataBlockOffset;
    h.sqe.sgl1.length = len;
  }
  auto* p = reinterpret_cast<const uint8_t*>(&h);
  s->insert(s->end(), p, p + sizeof(h));
  if (len) s->insert(s->end(), static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + len);
}

std::vector<uint8_t> IcReq() {
  tcp::IcReq r{};
  r.ch.pdu_type = tcp::kIcReq;
  r.ch.hlen = r.ch.plen = sizeof(r);
  auto* p = reinterpret_cast<uint8_t*>(&r);
  return {p, p + sizeof(r)};
}

std::vector<uint8_t> ConnectPdu(uint16_t qid, uint16_t cntlid) {
  nvme::Sqe sqe{};
  auto* c = reinterpret_cast<nvme::ConnectCmd*>(&sqe);
  c->opcode = nvme::kAdminFabrics;
  c->fctype = nvme::kFctypeConnect;
  c->cid = 1;
  c->qid = qid;
  c->sqsize = 31;
  nvme::ConnectData d{};
  memset(d.hostid, 0x5A, 16);
  d.cntlid = cntlid;
  nvme::CopyZeroPadded(d.subnqn, sizeof(d.subnqn), kNqn);
  nvme::CopyZeroPadded(d.hostnqn, sizeof(d.hostnqn), kHost);
  std::vector<uint8_t> s;
  Capsule(&s, sqe, &d, sizeof(d));
  return s;
}

// Brings a queue to the point the mode asks for. Returns the cntlid (admin) or 0.
[[maybe_unused]] bool Handshake(int fd, uint16_t qid, uint16_t* cntlid) {
  std::vector<uint8_t> pdu;
  auto ic = IcReq();
  if (!WriteAll(fd, ic.data(), ic.size()) || !ReadPdu(fd, &pdu)) {
    fprintf(stderr, "fuzz_target: no ICResp (pid %d)\n", getpid());
    DumpStall(fd);
    // Debugging aid: FUZZ_TARGET_PAUSE=1 parks here so a debugger can look at the reactor.
    if (getenv("FUZZ_TARGET_PAUSE")) for (;;) pause();  // run with -timeout=0
    return false;
  }
  auto conn = ConnectPdu(qid, qid ? *cntlid : 0xFFFF);
  if (!WriteAll(fd, conn.data(), conn.size()) || !ReadPdu(fd, &pdu) || pdu.size() < 24) {
    fprintf(stderr, "fuzz_target: no Connect response\n");
    return false;
  }
  auto* rsp = reinterpret_cast<const tcp::CapsuleRespHeader*>(pdu.data());
  if (rsp->cqe.status >> 1) {
    fprintf(stderr, "fuzz_target: Connect (qid %u) failed with status 0x%04x\n", qid, rsp->cqe.status);
    return false;
  }
  if (qid == 0) {
    *cntlid = static_cast<uint16_t>(rsp->cqe.dw0);
    nvme::Sqe sqe{};
    auto* p = reinterpret_cast<nvme::PropertyCmd*>(&sqe);
    p->opcode = nvme::kAdminFabrics;
    p->fctype = nvme::kFctypePropertySet;
    p->cid = 2;
    p->offset = nvme::kPropCc;
    p->value = nvme::kCcEn | (6u << 16) | (4u << 20);
    std::vector<uint8_t> s;
    Capsule(&s, sqe, nullptr, 0);
    if (!WriteAll(fd, s.data(), s.size()) || !ReadPdu(fd, &pdu)) return false;
  }
  return true;
}

// Sends the fuzz bytes, half-closes, and drains until the target closes (bounded).
[[maybe_unused]] void Drive(int fd, const uint8_t* data, size_t size) {
  WriteAll(fd, data, size);
  shutdown(fd, SHUT_WR);
  uint8_t buf[65536];
  for (;;) {
    int r = PollFor(fd, POLLIN, kSilenceMs);
    if (r == 0) {
      fprintf(stderr, "fuzz_target: the target neither answered nor closed for %d ms\n", kSilenceMs);
      DumpStall(fd);
      if (getenv("FUZZ_TARGET_PAUSE")) for (;;) pause();  // run with -timeout=0
      abort();
    }
    if (r < 0) break;
    ssize_t k = recv(fd, buf, sizeof(buf), 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
  }
}

}  // namespace

#ifdef NVMEOF_MAKE_SEEDS
// Writes seed inputs: valid commands for each mode, so mutation starts close to the
// interesting paths.
int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto write = [&](const char* name, uint8_t mode, const std::vector<uint8_t>& body) {
    std::string path = std::string(argv[1]) + "/" + name;
    FILE* f = fopen(path.c_str(), "wb");
    if (!f) return;
    fputc(mode, f);
    fwrite(body.data(), 1, body.size(), f);
    fclose(f);
  };
  auto cmd = [](uint8_t opc, uint32_t nsid, uint32_t c10, uint32_t c11, uint32_t c12, uint32_t len,
                const void* data, uint32_t dlen) {
    nvme::Sqe sqe{};
    sqe.opcode = opc;
    sqe.cid = 7;
    sqe.nsid = nsid;
    sqe.cdw10 = c10;
    sqe.cdw11 = c11;
    sqe.cdw12 = c12;
    sqe.sgl1.id = nvme::kSglTransportDataBlock;
    sqe.sgl1.length = len;
    std::vector<uint8_t> s;
    Capsule(&s, sqe, data, dlen);
    return s;
  };
  write("raw-icreq", 0, IcReq());
  auto both = IcReq();
  auto c = ConnectPdu(0, 0xFFFF);
  both.insert(both.end(), c.begin(), c.end());
  write("raw-connect", 0, both);
  write("identify-ctrl", 1, cmd(nvme::kAdminIdentify, 0, 1, 0, 0, 4096, nullptr, 0));
  write("identify-ns", 1, cmd(nvme::kAdminIdentify, 1, 0, 0, 0, 4096, nullptr, 0));
  write("ns-descs", 1, cmd(nvme::kAdminIdentify, 1, 3, 0, 0, 4096, nullptr, 0));
  write("ana-log", 1, cmd(nvme::kAdminGetLogPage, 0, 0x0C | (1023u << 16), 0, 0, 4096, nullptr, 0));
  write("features", 1, cmd(nvme::kAdminSetFeatures, 0, 7, 0x00030003, 0, 0, nullptr, 0));
  write("aer", 1, cmd(nvme::kAdminAsyncEventRequest, 0, 0, 0, 0, 0, nullptr, 0));
  write("read", 2, cmd(nvme::kIoRead, 1, 0, 0, 7, 4096, nullptr, 0));
  write("write-r2t", 2, cmd(nvme::kIoWrite, 2, 0, 0, 1, 8192, nullptr, 0));
  uint8_t blk[512] = {1, 2, 3};
  write("write-icd", 2, cmd(nvme::kIoWrite, 1, 4, 0, 0, 512, blk, 512));
  write("compare", 2, cmd(nvme::kIoCompare, 1, 4, 0, 0, 512, blk, 512));
  nvme::DsmRange r{0, 8, 0};
  write("dsm", 2, cmd(nvme::kIoDatasetManagement, 1, 0, 4, 0, 16, &r, 16));
  write("wz", 2, cmd(nvme::kIoWriteZeroes, 2, 0, 0, 3, 0, nullptr, 0));
  write("flush", 2, cmd(nvme::kIoFlush, 1, 0, 0, 0, 0, nullptr, 0));
  return 0;
}
#else
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0] % 3;
  data++;
  size--;
  int admin = Open();
  if (mode == 0) {
    Drive(admin, data, size);
    close(admin);
    return 0;
  }
  uint16_t cntlid = 0;
  if (!Handshake(admin, 0, &cntlid)) abort();
  if (mode == 1) {
    Drive(admin, data, size);
    close(admin);
    return 0;
  }
  int io = Open();
  if (!Handshake(io, 1, &cntlid)) abort();
  Drive(io, data, size);
  close(io);
  close(admin);
  return 0;
}
#endif
