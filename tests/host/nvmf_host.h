// nvmf_host: a small NVMe/TCP host for protocol tests and load generation.
//
// Synchronous by default (Execute = submit + wait), pipelined when asked (Submit several
// commands, Wait for each). Blocking sockets with poll() timeouts: this is test tooling,
// not a data path. nvmf-perf uses it for setup only and then drives the sockets itself.
//
// Layering:
//   cmd::*        pure SQE builders (no I/O), so tests can tamper with any field;
//   TlsClientPsk  the NVMe/TCP TLS PSK a host derives from a configured PSK (own code over
//                 OpenSSL's HMAC, independent of the gateway's), for Connection::StartTls;
//   DhchapHostOptions / Connection::Authenticate
//                 the host side of DH-HMAC-CHAP (NVMe Base 2.0 section 8.13) after Connect;
//                 the cryptography (DHHC-1 secrets, key transformation, responses, FFDHE)
//                 is the gateway's pure nvmeof_auth_keys, the messages nvme_auth.h's codecs;
//   Connection    one TCP connection = one NVMe queue: ICReq/ICResp, raw bytes, PDU
//                 receive with digest checks, capsules with in-capsule data or R2T/H2CData,
//                 C2HData into a buffer, CapsuleResp, C2HTermReq, peer close;
//   Controller    an admin queue plus I/O queues of one controller and the usual commands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/protocol/nvme.h"
#include "gateway/protocol/nvme_tcp.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace nvmeof::host {

// ---------------------------------------------------------------- digests

// CRC32C as NVMe/TCP digests use it (init ~0, final xor ~0). Own implementation so that the
// host checks the target's digests independently of the target's code.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t len);  // raw register update
inline uint32_t Crc32c(const void* data, size_t len) {
  return Crc32cExtend(0xFFFFFFFFu, data, len) ^ 0xFFFFFFFFu;
}

// Generic status codes not named in nvme.h.
inline constexpr uint8_t kScTransientTransportError = 0x22;

std::string StatusString(const nvme::Status& s);  // "SCT 1 SC 0x82 DNR"

// ---------------------------------------------------------------- SQE builders

namespace cmd {
nvme::Sqe Connect(uint16_t qid, uint16_t sqsize_0based, uint32_t kato_ms, uint8_t cattr = 0);
nvme::ConnectData MakeConnectData(const uint8_t hostid[16], uint16_t cntlid, const std::string& subnqn,
                                  const std::string& hostnqn);
nvme::Sqe PropertyGet(uint32_t offset, bool size8);
nvme::Sqe PropertySet(uint32_t offset, uint64_t value, bool size8);
nvme::Sqe Disconnect();
nvme::Sqe Identify(uint8_t cns, uint32_t nsid, uint16_t cntid = 0, uint8_t csi = 0);
// len in bytes (multiple of 4); offset in bytes.
nvme::Sqe GetLogPage(uint8_t lid, uint32_t nsid, uint32_t len, uint64_t offset = 0, uint8_t lsp = 0,
                     bool rae = false);
nvme::Sqe SetFeatures(uint8_t fid, uint32_t cdw11, uint32_t cdw12 = 0, bool save = false);
nvme::Sqe GetFeatures(uint8_t fid, uint8_t sel = 0, uint32_t cdw11 = 0);
nvme::Sqe KeepAlive();
nvme::Sqe AsyncEventRequest();
// nlb is the number of blocks (1-based here; the SQE gets nlb-1).
nvme::Sqe Read(uint32_t nsid, uint64_t slba, uint32_t nlb);
nvme::Sqe Write(uint32_t nsid, uint64_t slba, uint32_t nlb);
nvme::Sqe Compare(uint32_t nsid, uint64_t slba, uint32_t nlb);
nvme::Sqe Flush(uint32_t nsid);
nvme::Sqe WriteZeroes(uint32_t nsid, uint64_t slba, uint32_t nlb, bool deallocate = false);
nvme::Sqe Dsm(uint32_t nsid, uint32_t nr_ranges, uint32_t attributes = nvme::kDsmAttrDeallocate);
// Authentication Send (TL = len) / Receive (AL = len) for DH-HMAC-CHAP (SECP E9h, SPSP 01h).
nvme::Sqe AuthSend(uint32_t len);
nvme::Sqe AuthReceive(uint32_t len);
}  // namespace cmd

// ---------------------------------------------------------------- TLS PSK

// What a host offers in a TLS 1.3 handshake (NVMe TCP Transport 1.1 section 3.6.1.3): the
// identity ("NVMe<version>R<hh> <hostnqn> <subnqn>[ <digest>]"), the TLS PSK and its hash
// (1 SHA-256, 2 SHA-384).
struct TlsClientPsk {
  std::string identity;
  std::vector<uint8_t> key;
  uint8_t hash = 1;
};
// From a configured PSK in interchange format ("NVMeTLSkey-1:hh:<base64>:"). False (and
// *err) for a malformed one.
bool DeriveTlsClientPsk(const std::string& interchange, const std::string& hostnqn, const std::string& subnqn,
                        int version, TlsClientPsk* out, std::string* err);

// ---------------------------------------------------------------- DH-HMAC-CHAP

// What a host brings to DH-HMAC-CHAP: its secret and, for bidirectional authentication, the
// controller's (the host then checks the controller's response), both "DHHC-1:hh:<b64>:";
// the hash functions and DH groups AUTH_Negotiate offers, most preferred first (wire
// identifiers: hash 1..3 SHA-256..SHA-512; group 0 NULL, 1..5 FFDHE2048..8192).
struct DhchapHostOptions {
  std::string secret;
  std::string ctrl_secret;
  std::vector<uint8_t> hashes = {1, 2, 3};
  std::vector<uint8_t> dhgroups = {0, 1, 2, 3, 4, 5};
};

// One queue's authentication transaction, as the host saw it.
struct AuthOutcome {
  bool attempted = false;  // a transaction was started (AUTH_Negotiate sent)
  bool ok = false;         // Success1 received (and R2 verified, Success2 sent, if bidirectional)
  uint8_t hash = 0;        // what the controller's Challenge chose
  uint8_t dhgroup = 0;
  bool bidirectional = false;
  uint8_t failure1 = 0;    // explanation of the controller's AUTH_Failure1 (0: none received)
  uint8_t failure2 = 0;    // explanation of the host's AUTH_Failure2 (0: none sent)
  nvme::Status status{};   // the failed Authentication Send / Receive's status, if one failed
  std::string error;       // why not ok (never key bytes)
  uint64_t elapsed_ns = 0; // AUTH_Negotiate sent to the transaction's end
};

// ---------------------------------------------------------------- connection

struct IcOptions {
  bool hdgst = false;
  bool ddgst = false;
  uint8_t hpda = 0;   // host PDU data alignment, (hpda+1)*4 bytes
  uint16_t pfv = 0;
  uint32_t maxr2t = 0;  // 0's based
};

// A received C2HTermReq (or H2CTermReq if a broken target sent one).
struct TermReq {
  uint8_t pdu_type = 0;
  uint16_t fes = 0;
  uint32_t fei = 0;
  std::vector<uint8_t> offending;  // the header bytes the target echoed back
};

// One received PDU, verbatim.
struct Pdu {
  std::vector<uint8_t> raw;  // plen bytes
  bool hdgst_ok = true;      // header digest present and correct, or absent
  bool ddgst_ok = true;

  const tcp::CommonHeader& ch() const { return *reinterpret_cast<const tcp::CommonHeader*>(raw.data()); }
  uint8_t type() const { return raw.empty() ? 0xFF : raw[0]; }
  // The data section: from PDO to the data digest (none when pdo == 0).
  const uint8_t* data() const { return raw.data() + ch().pdo; }
  uint32_t data_len() const { return tcp::DataBytes(ch()); }
  template <typename T>
  T header() const {
    T t{};
    memcpy(&t, raw.data(), raw.size() < sizeof(T) ? raw.size() : sizeof(T));
    return t;
  }
};

enum class RecvStatus { kOk, kClosed, kTimeout, kError };
const char* RecvStatusName(RecvStatus s);

// The outcome of one command.
struct Completion {
  bool transport_ok = false;  // a completion arrived (CapsuleResp or C2HData with SUCCESS)
  std::string error;          // why not, when !transport_ok
  nvme::Cqe cqe{};
  nvme::Status status{};
  bool by_success_flag = false;  // completed by a C2HData PDU with the SUCCESS flag
  uint32_t bytes_in = 0;         // controller-to-host bytes received

  bool ok() const { return transport_ok && status.ok(); }
  std::string ToString() const;
};

class Connection {
 public:
  Connection();
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // TCP. timeout_ms bounds the connect and is the default for every later receive.
  bool Connect(const std::string& addr, uint16_t port, int timeout_ms = 5000);
  void Close();
  // TLS 1.3 with `psk` on the connected socket (before Initialize): the handshake, then every
  // byte goes through TLS. False (last_error() says why) when the target refuses it.
  bool StartTls(const TlsClientPsk& psk);
  bool tls() const { return ssl_ != nullptr; }
  // Hands the TLS connection over with the socket (call before ReleaseFd); nullptr without TLS.
  SSL* ReleaseTls() {
    SSL* s = ssl_;
    ssl_ = nullptr;
    return s;
  }
  // Hands the socket over (e.g. to nvmf-perf's event loop); the Connection forgets it.
  int ReleaseFd();
  int fd() const { return fd_; }
  bool connected() const { return fd_ >= 0; }
  void set_timeout_ms(int ms) { timeout_ms_ = ms; }
  int timeout_ms() const { return timeout_ms_; }
  const std::string& last_error() const { return last_error_; }

  // ICReq/ICResp exchange. On failure last_error() says why (and last_term_req() is set if the
  // target answered with a C2HTermReq).
  bool Initialize(const IcOptions& opt = {});
  bool SendIcReq(const IcOptions& opt);  // only sends
  const tcp::IcResp& icresp() const { return icresp_; }
  bool hdgst() const { return hdgst_; }
  bool ddgst() const { return ddgst_; }
  uint32_t maxh2cdata() const { return maxh2cdata_; }
  uint8_t cpda() const { return cpda_; }
  // Overrides the negotiated parameters (for tests that sent a raw ICReq).
  void set_digests(bool hdgst, bool ddgst) { hdgst_ = hdgst, ddgst_ = ddgst; }

  // Raw bytes, for bad-input tests.
  bool SendRaw(const void* p, size_t n);
  bool SendRaw(const std::vector<uint8_t>& v) { return SendRaw(v.data(), v.size()); }
  // One send() per `chunk` bytes, with TCP_NODELAY, so the target sees them separately.
  bool SendRawChunked(const void* p, size_t n, size_t chunk, int pause_us = 200);

  // Receives exactly one PDU (timeout_ms < 0: the connection's default). Digests are
  // verified when the PDU's flags say they are present; the result is in Pdu::*_ok.
  // A C2HTermReq is also recorded as last_term_req().
  RecvStatus RecvPdu(Pdu* out, int timeout_ms = -1);
  // Reads (and handles) PDUs until the target closes the connection: true if it did within
  // timeout_ms. A C2HTermReq received meanwhile is recorded.
  bool WaitForClose(int timeout_ms);
  // Reads PDUs until a C2HTermReq arrives: true (and *out) if one did within timeout_ms.
  bool WaitForTermReq(TermReq* out, int timeout_ms);
  bool closed_by_peer() const { return peer_closed_; }
  const std::optional<TermReq>& last_term_req() const { return term_req_; }

  // PDU builders using the negotiated digests and alignment. `pdo_override` / `plen_delta`
  // and the corrupt flags exist for bad-input tests.
  struct BuildOpts {
    int pdo_override = -1;
    int hlen_override = -1;
    int64_t plen_delta = 0;
    bool corrupt_hdgst = false;
    bool corrupt_ddgst = false;
    uint8_t extra_flags = 0;
  };
  std::vector<uint8_t> BuildCapsuleCmd(const nvme::Sqe& sqe, const void* icd, uint32_t icd_len) const;
  std::vector<uint8_t> BuildCapsuleCmd(const nvme::Sqe& sqe, const void* icd, uint32_t icd_len,
                                       const BuildOpts& o) const;
  std::vector<uint8_t> BuildH2CData(uint16_t cccid, uint16_t ttag, uint32_t datao, const void* data,
                                    uint32_t len, bool last) const;
  std::vector<uint8_t> BuildH2CData(uint16_t cccid, uint16_t ttag, uint32_t datao, const void* data,
                                    uint32_t len, bool last, const BuildOpts& o) const;

  // Command execution. The in-capsule limit decides between in-capsule data and R2T for
  // host-to-controller data: 8 KiB on the admin queue, IOCCSZ*16-64 on I/O queues
  // (Controller sets it after Identify Controller).
  uint32_t in_capsule_limit() const { return icd_limit_; }
  void set_in_capsule_limit(uint32_t n) { icd_limit_ = n; }
  uint16_t qid() const { return qid_; }
  void set_qid(uint16_t q) { qid_ = q; }

  struct SubmitOpts {
    bool force_r2t = false;  // never send in-capsule data
    bool keep_cid = false;   // use sqe->cid as given
    bool keep_sgl = false;   // use sqe->sgl1 as given
    // When set, the capsule PDU is appended here instead of being sent (the command is
    // still tracked: send the bytes yourself, e.g. many PDUs in one write, then Wait).
    std::vector<uint8_t>* capture = nullptr;
  };
  // Sends a command. `out` (host-to-controller) and `in` (controller-to-host) must stay valid
  // until the command completes. Returns false on a send error. sqe->cid is set.
  bool Submit(nvme::Sqe* sqe, const void* out, uint32_t out_len, void* in, uint32_t in_len);
  bool Submit(nvme::Sqe* sqe, const void* out, uint32_t out_len, void* in, uint32_t in_len,
              const SubmitOpts& o);
  // Waits for the command's completion, serving R2Ts and C2HData of every outstanding
  // command meanwhile. Completions of other commands are kept for their own Wait.
  Completion Wait(uint16_t cid, int timeout_ms = -1);
  Completion Execute(nvme::Sqe sqe, const void* out = nullptr, uint32_t out_len = 0, void* in = nullptr,
                     uint32_t in_len = 0);
  // Waits for any completion that nobody is waiting for yet (e.g. an AER).
  std::optional<Completion> WaitAny(int timeout_ms);

  // One DH-HMAC-CHAP transaction on this queue (after its Connect; also re-authentication):
  // AUTH_Negotiate with o's hashes and groups, the controller's Challenge, the Reply (with C2
  // and a nonzero S2 when o.ctrl_secret is set), Success1 (R2 checked: a mismatch sends
  // AUTH_Failure2 "authentication failed"), Success2. A Failure1 from the controller ends it.
  // The host key is transformed with hostnqn, the controller key with subnqn. *out says how
  // it went; returns out->ok.
  bool Authenticate(const DhchapHostOptions& o, const std::string& hostnqn, const std::string& subnqn,
                    AuthOutcome* out);
  size_t outstanding() const { return pending_.size(); }

  struct Stats {
    uint64_t r2t = 0, h2c_pdus = 0, c2h_pdus = 0, c2h_success = 0, capsule_resps = 0, capsules = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Pending {
    const uint8_t* out = nullptr;
    uint32_t out_len = 0;
    uint8_t* in = nullptr;
    uint32_t in_len = 0;
    uint32_t bytes_in = 0;
  };
  bool ReadFull(void* p, size_t n, int timeout_ms, RecvStatus* st);
  bool HandlePdu(const Pdu& pdu);  // false: fatal (TermReq, protocol error)
  bool HandleR2T(const Pdu& pdu);
  uint32_t PadTo(uint32_t off) const;
  void Fail(std::string msg);

  ssize_t RecvSome(void* p, size_t n);  // recv or SSL_read; -1 with errno
  bool Readable(int timeout_ms);        // poll, or bytes TLS has decrypted already

  int fd_ = -1;
  SSL_CTX* ssl_ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int timeout_ms_ = 5000;
  std::string last_error_;
  tcp::IcResp icresp_{};
  bool hdgst_ = false, ddgst_ = false;
  uint32_t maxh2cdata_ = 0;
  uint8_t cpda_ = 0;
  uint16_t qid_ = 0;
  uint32_t icd_limit_ = 8192;
  uint16_t next_cid_ = 1;
  bool peer_closed_ = false;
  bool fatal_ = false;
  std::optional<TermReq> term_req_;
  std::map<uint16_t, Pending> pending_;
  std::map<uint16_t, Completion> done_;
  Stats stats_;
};

// ---------------------------------------------------------------- controller

struct ControllerOptions {
  std::string addr = "127.0.0.1";
  uint16_t port = 4420;
  std::string subnqn;
  std::string hostnqn = "nqn.2014-08.org.nvmexpress:uuid:6e766d66-686f-7374-0000-000000000001";
  uint8_t hostid[16] = {0x6e, 0x76, 0x6d, 0x66, 0x68, 0x6f, 0x73, 0x74, 0, 0, 0, 0, 0, 0, 0, 1};
  IcOptions ic;
  // A configured PSK (interchange format): every queue connects over TLS 1.3 with the
  // identity of tls_identity_version (0 or 1) derived from it.
  std::string tls_psk;
  int tls_identity_version = 1;
  // DH-HMAC-CHAP: with dhchap.secret set, every queue whose Connect response asks for
  // authentication (AUTHREQ.ATR) authenticates right after Connect; the queue's Completion
  // is then not ok (transport_ok false, error set) if the transaction fails, and
  // Controller::last_auth() has the details. Without a secret the host does not
  // authenticate (the controller then answers Authentication Required).
  DhchapHostOptions dhchap;
  uint32_t kato_ms = 0;          // 0: keep alive disabled
  uint16_t admin_sqsize = 31;    // 0's based
  uint16_t io_sqsize = 127;      // 0's based
  int timeout_ms = 5000;
};

class Controller {
 public:
  explicit Controller(ControllerOptions o);
  ~Controller();

  const ControllerOptions& options() const { return opt_; }
  ControllerOptions& mutable_options() { return opt_; }

  // TCP connect + ICReq/ICResp + Connect (qid 0, dynamic controller) [+ DH-HMAC-CHAP]. Sets
  // cntlid(). transport_ok == false with error set when the TCP/ICReq step or the
  // authentication failed (last_auth() says how).
  Completion ConnectAdmin();
  // CC := EN | IOSQES=6 | IOCQES=4, then polls CSTS.RDY.
  Completion Enable(int timeout_ms = 5000);
  // ConnectAdmin + Enable + Identify Controller.
  bool Open(std::string* err = nullptr);
  // Connects I/O queue `qid` (0: next free) with sqsize (0: options().io_sqsize) on a new
  // connection for controller cntlid (0xFFFF: this controller's). The queue is kept (io(i))
  // only on success.
  Completion AddIoQueue(uint16_t qid = 0, uint16_t sqsize_0based = 0, uint16_t cntlid = 0xFFFF);
  // Connects a queue with full control over the Connect command and data (and authenticates
  // it, see ControllerOptions::dhchap); the connection is returned whatever the outcome
  // (nullptr if TCP/ICReq failed; *c says why).
  std::unique_ptr<Connection> ConnectQueue(uint16_t qid, uint16_t sqsize_0based, uint32_t kato_ms,
                                           const nvme::ConnectData& data, Completion* c);

  Connection& admin() { return *admin_; }
  bool has_admin() const { return admin_ != nullptr; }
  Connection& io(size_t i = 0) { return *io_.at(i); }
  size_t io_count() const { return io_.size(); }
  uint16_t cntlid() const { return cntlid_; }
  // The authentication of the queue connected last (attempted == false: none ran).
  const AuthOutcome& last_auth() const { return last_auth_; }
  const nvme::IdentifyController& id() const { return id_; }
  nvme::ConnectData ConnectDataFor(uint16_t cntlid) const;

  // Fabrics
  Completion PropertyGet(uint32_t offset, uint64_t* value, bool size8 = false);
  Completion PropertySet(uint32_t offset, uint64_t value, bool size8 = false);
  Completion Disconnect(Connection& q);

  // Admin
  Completion Identify(uint8_t cns, uint32_t nsid, void* buf4096, uint16_t cntid = 0);
  Completion IdentifyController(nvme::IdentifyController* out);
  Completion IdentifyNamespace(uint32_t nsid, nvme::IdentifyNamespace* out);
  Completion ActiveNamespaces(uint32_t after_nsid, std::vector<uint32_t>* out);
  Completion NamespaceDescriptors(uint32_t nsid, void* buf4096);
  Completion GetLogPage(uint8_t lid, void* buf, uint32_t len, uint32_t nsid = 0xFFFFFFFF,
                        uint64_t offset = 0, uint8_t lsp = 0, bool rae = false);
  Completion SetFeatures(uint8_t fid, uint32_t cdw11, uint32_t cdw12 = 0);
  Completion GetFeatures(uint8_t fid, uint8_t sel = 0, uint32_t cdw11 = 0);
  Completion KeepAlive();
  // Sends an Asynchronous Event Request; returns its CID (0 on send failure). Collect with
  // admin().Wait(cid) or admin().WaitAny().
  uint16_t SubmitAer();

  // NVM commands on queue q. len = nlb * block size unless a test wants otherwise.
  Completion Read(Connection& q, uint32_t nsid, uint64_t slba, uint32_t nlb, void* buf, uint32_t len);
  Completion Write(Connection& q, uint32_t nsid, uint64_t slba, uint32_t nlb, const void* buf,
                   uint32_t len);
  Completion Compare(Connection& q, uint32_t nsid, uint64_t slba, uint32_t nlb, const void* buf,
                     uint32_t len);
  Completion Flush(Connection& q, uint32_t nsid);
  Completion WriteZeroes(Connection& q, uint32_t nsid, uint64_t slba, uint32_t nlb, bool deallocate = false);
  Completion Dsm(Connection& q, uint32_t nsid, const std::vector<nvme::DsmRange>& ranges,
                 uint32_t attributes = nvme::kDsmAttrDeallocate);

  // I/O queue in-capsule limit from IOCCSZ (bytes of data a capsule may carry).
  uint32_t io_in_capsule_limit() const;

 private:
  ControllerOptions opt_;
  std::unique_ptr<Connection> admin_;
  std::vector<std::unique_ptr<Connection>> io_;
  uint16_t cntlid_ = 0xFFFF;
  uint16_t next_qid_ = 1;
  AuthOutcome last_auth_;
  nvme::IdentifyController id_{};
  bool have_id_ = false;
};

}  // namespace nvmeof::host
