#include "tests/fuzz/fuzz_auth_input.h"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "gateway/nvmf/auth.h"
#include "gateway/nvmf/tls_psk.h"
#include "gateway/protocol/nvme_auth.h"

namespace nvmeof::fuzz {

namespace {

using Bytes = std::vector<uint8_t>;
using namespace nvme;

constexpr char kHostNqn[] = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001";
constexpr char kSubNqn[] = "nqn.2016-06.io.fuzz:auth";
constexpr char kHostKey[] = "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
constexpr char kCtrlKey[] = "DHHC-1:02:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5voBXMjQ==:";

[[noreturn]] void Broken(const char* what) {
  fprintf(stderr, "fuzz_auth: %s\n", what);
  abort();
}

void DecodeAll(const uint8_t* p, size_t n) {
  AuthHeaderWire h;
  AuthNegotiate neg;
  AuthChallenge ch;
  AuthReply rep;
  AuthSuccess1 s1;
  AuthFailure f;
  uint16_t t;
  // The TLS PSK parsers (tls_psk.h: the interchange format, the identity a host offers in
  // its ClientHello) take the same bytes as text.
  const std::string_view text(reinterpret_cast<const char*>(p), n);
  (void)tls::ParsePskInterchange(text);
  if (auto id = tls::ParsePskIdentity(text); id.ok()) (void)id.value();
  (void)DecodeAuthHeader(p, n, &h);
  if (DecodeNegotiate(p, n, &neg) == AuthDecodeError::kOk && (neg.hashes.size() > 30 || neg.dhgroups.size() > 30))
    Broken("negotiate lists more than 30 identifiers");
  if (DecodeChallenge(p, n, &ch) == AuthDecodeError::kOk && 16 + ch.c1.size() + ch.dhv.size() != n)
    Broken("challenge lengths do not add up");
  if (DecodeReply(p, n, &rep) == AuthDecodeError::kOk &&
      (rep.r1.size() != rep.c2.size() || 16 + 2 * rep.r1.size() + rep.dhv.size() != n))
    Broken("reply lengths do not add up");
  if (DecodeSuccess1(p, n, &s1) == AuthDecodeError::kOk && s1.rvalid && s1.r2.size() != s1.hl)
    Broken("success1 R2 is not HL bytes");
  (void)DecodeSuccess2(p, n, &t);
  (void)DecodeFailure1(p, n, &f);
  (void)DecodeFailure2(p, n, &f);
}

// What the controller sent must be a message it may send, whole.
void CheckControllerMessage(const uint8_t* p, size_t n) {
  AuthChallenge ch;
  AuthSuccess1 s1;
  AuthFailure f;
  if (DecodeChallenge(p, n, &ch) == AuthDecodeError::kOk || DecodeSuccess1(p, n, &s1) == AuthDecodeError::kOk ||
      DecodeFailure1(p, n, &f) == AuthDecodeError::kOk)
    return;
  Broken("the controller sent a message that does not decode");
}

void Record(Bytes& out, uint8_t op, const Bytes& payload) {
  out.push_back(op);
  out.push_back(static_cast<uint8_t>(payload.size()));
  out.push_back(static_cast<uint8_t>(payload.size() >> 8));
  out.insert(out.end(), payload.begin(), payload.end());
}
void Receive(Bytes& out, uint16_t al) {
  out.push_back(1);
  out.push_back(static_cast<uint8_t>(al));
  out.push_back(static_cast<uint8_t>(al >> 8));
}

}  // namespace

int FuzzAuthOneInput(const uint8_t* data, size_t size) {
  DecodeAll(data, size);
  HostEntry host{kHostNqn, std::string(kHostKey), std::string(kCtrlKey), std::nullopt};
  QueueAuth a(kSubNqn, kHostNqn, 1, 0, true, AuthPolicy{{1, 2, 3}, {0, 1}},
              [&host]() -> std::optional<HostEntry> { return host; });
  Bytes buf;
  size_t i = 0;
  while (i + 3 <= size) {
    uint8_t op = data[i];
    size_t len = data[i + 1] | (static_cast<size_t>(data[i + 2]) << 8);
    i += 3;
    if ((op & 1) == 0) {
      size_t n = std::min(len, size - i);
      DecodeAll(data + i, n);
      a.Send(data + i, n);
      i += n;
    } else {
      buf.assign(len, 0xEE);
      uint32_t written = 0;
      nvme::Status s = a.Receive(buf.data(), static_cast<uint32_t>(len), &written);
      if (written > len) Broken("Receive wrote past the allocation length");
      if (s.ok()) CheckControllerMessage(buf.data(), written);
      else if (written != 0) Broken("a failed Receive returned data");
    }
    if (a.authenticated()) {
      // Only a correct Reply authenticates, which random bytes cannot produce.
      Broken("authenticated without the key");
    }
  }
  return 0;
}

std::vector<std::pair<std::string, std::vector<uint8_t>>> MakeAuthSeeds() {
  std::vector<std::pair<std::string, Bytes>> seeds;
  AuthNegotiate n;
  n.t_id = 7;
  n.hashes = {1, 2, 3};
  n.dhgroups = {0, 1};
  Bytes b;
  Record(b, 0, EncodeNegotiate(n));
  Receive(b, 1200);
  seeds.emplace_back("negotiate_challenge", b);

  AuthReply r;
  r.t_id = 7;
  r.r1 = Bytes(64, 0x11);
  r.c2 = Bytes(64, 0x22);
  r.cvalid = true;
  r.seqnum = 9;
  Bytes full = b;
  Record(full, 0, EncodeReply(r));
  Receive(full, 200);
  seeds.emplace_back("wrong_reply", full);

  n.dhgroups = {1};
  Bytes dh;
  Record(dh, 0, EncodeNegotiate(n));
  Receive(dh, 1200);
  r.dhv = Bytes(256, 0x5A);
  Record(dh, 0, EncodeReply(r));
  Receive(dh, 200);
  seeds.emplace_back("ffdhe2048_reply", dh);

  Bytes other;
  Record(other, 0, EncodeSuccess2(7));
  AuthFailure f;
  f.t_id = 7;
  f.explanation = kAuthExplFailed;
  Record(other, 0, EncodeFailure2(f));
  Receive(other, 8);
  Record(other, 0, EncodeFailure1(f));
  seeds.emplace_back("out_of_order", other);
  return seeds;
}

}  // namespace nvmeof::fuzz
