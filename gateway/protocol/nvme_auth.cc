#include "gateway/protocol/nvme_auth.h"

#include <algorithm>
#include <cstring>

namespace nvmeof::nvme {

namespace {

template <typename T>
T Load(const uint8_t* p) {
  T v;
  memcpy(&v, p, sizeof(T));
  return v;
}

// The fixed part of a message of (type, id), checked for its identity and minimum size.
template <typename T>
AuthDecodeError Fixed(const uint8_t* data, size_t len, uint8_t type, uint8_t id, T* out) {
  if (len < sizeof(AuthHeaderWire)) return AuthDecodeError::kTruncated;
  auto h = Load<AuthHeaderWire>(data);
  if (h.auth_type != type || h.auth_id != id) return AuthDecodeError::kWrongMessage;
  if (len < sizeof(T)) return AuthDecodeError::kTruncated;
  *out = Load<T>(data);
  return AuthDecodeError::kOk;
}

// A message whose whole length is `want` (computed from its own fields).
AuthDecodeError Exactly(size_t len, size_t want) {
  if (len < want) return AuthDecodeError::kTruncated;
  if (len > want) return AuthDecodeError::kOversized;
  return AuthDecodeError::kOk;
}

AuthHeaderWire Header(uint8_t type, uint8_t id, uint16_t t_id) { return AuthHeaderWire{type, id, 0, t_id}; }

template <typename T>
std::vector<uint8_t> Start(const T& fixed, size_t extra) {
  std::vector<uint8_t> out(sizeof(T) + extra);
  memcpy(out.data(), &fixed, sizeof(T));
  return out;
}

uint8_t Clamp8(size_t n) { return static_cast<uint8_t>(std::min<size_t>(n, 0xFF)); }
uint16_t Clamp16(size_t n) { return static_cast<uint16_t>(std::min<size_t>(n, 0xFFFF)); }

// Copies min(src.size(), n) bytes to dst (zero-filled up to n).
void Put(uint8_t* dst, const std::vector<uint8_t>& src, size_t n) {
  size_t k = std::min(src.size(), n);
  if (k) memcpy(dst, src.data(), k);
}

AuthDecodeError DecodeFailure(const uint8_t* data, size_t len, uint8_t id, AuthFailure* out) {
  FailureWire w;
  if (auto e = Fixed(data, len, kAuthTypeCommon, id, &w); e != AuthDecodeError::kOk) return e;
  if (auto e = Exactly(len, sizeof(FailureWire)); e != AuthDecodeError::kOk) return e;
  out->t_id = w.h.t_id;
  out->rescode = w.rescode;
  out->explanation = w.rescode_exp;
  return AuthDecodeError::kOk;
}

std::vector<uint8_t> EncodeFailure(const AuthFailure& m, uint8_t id) {
  FailureWire w{};
  w.h = Header(kAuthTypeCommon, id, m.t_id);
  w.rescode = m.rescode;
  w.rescode_exp = m.explanation;
  return Start(w, 0);
}

}  // namespace

std::string_view AuthDecodeErrorName(AuthDecodeError e) {
  switch (e) {
    case AuthDecodeError::kOk:
      return "ok";
    case AuthDecodeError::kTruncated:
      return "message truncated";
    case AuthDecodeError::kOversized:
      return "message longer than its lengths say";
    case AuthDecodeError::kWrongMessage:
      return "unexpected message type";
    case AuthDecodeError::kBadField:
      return "field out of range";
  }
  return "?";
}

AuthDecodeError DecodeAuthHeader(const uint8_t* data, size_t len, AuthHeaderWire* out) {
  if (len < sizeof(AuthHeaderWire)) return AuthDecodeError::kTruncated;
  *out = Load<AuthHeaderWire>(data);
  return AuthDecodeError::kOk;
}

AuthDecodeError DecodeNegotiate(const uint8_t* data, size_t len, AuthNegotiate* out) {
  NegotiateWire w;
  if (auto e = Fixed(data, len, kAuthTypeCommon, kAuthIdNegotiate, &w); e != AuthDecodeError::kOk) return e;
  if (auto e = Exactly(len, sizeof(w) + size_t{w.napd} * sizeof(DhchapProtocolDescriptorWire));
      e != AuthDecodeError::kOk)
    return e;
  // One protocol is defined (DH-HMAC-CHAP): exactly one descriptor, for it.
  if (w.napd != 1) return AuthDecodeError::kBadField;
  auto d = Load<DhchapProtocolDescriptorWire>(data + sizeof(w));
  if (d.authid != kAuthProtocolDhchap || d.halen > kAuthMaxIds || d.dhlen > kAuthMaxIds)
    return AuthDecodeError::kBadField;
  out->t_id = w.h.t_id;
  out->sc_c = w.sc_c;
  out->hashes.assign(d.idlist, d.idlist + d.halen);
  out->dhgroups.assign(d.idlist + kAuthMaxIds, d.idlist + kAuthMaxIds + d.dhlen);
  return AuthDecodeError::kOk;
}

AuthDecodeError DecodeChallenge(const uint8_t* data, size_t len, AuthChallenge* out) {
  ChallengeWire w;
  if (auto e = Fixed(data, len, kAuthTypeDhchap, kAuthIdChallenge, &w); e != AuthDecodeError::kOk) return e;
  if (auto e = Exactly(len, sizeof(w) + w.hl + w.dhvlen); e != AuthDecodeError::kOk) return e;
  if (w.hl == 0 || w.hl > kAuthMaxHashLen || w.dhvlen > kAuthMaxDhLen) return AuthDecodeError::kBadField;
  out->t_id = w.h.t_id;
  out->hashid = w.hashid;
  out->dhgid = w.dhgid;
  out->seqnum = w.seqnum;
  const uint8_t* p = data + sizeof(w);
  out->c1.assign(p, p + w.hl);
  out->dhv.assign(p + w.hl, p + w.hl + w.dhvlen);
  return AuthDecodeError::kOk;
}

AuthDecodeError DecodeReply(const uint8_t* data, size_t len, AuthReply* out) {
  ReplyWire w;
  if (auto e = Fixed(data, len, kAuthTypeDhchap, kAuthIdReply, &w); e != AuthDecodeError::kOk) return e;
  if (auto e = Exactly(len, sizeof(w) + 2 * size_t{w.hl} + w.dhvlen); e != AuthDecodeError::kOk) return e;
  if (w.hl == 0 || w.hl > kAuthMaxHashLen || w.dhvlen > kAuthMaxDhLen || w.cvalid > 1)
    return AuthDecodeError::kBadField;
  out->t_id = w.h.t_id;
  out->cvalid = w.cvalid != 0;
  out->seqnum = w.seqnum;
  const uint8_t* p = data + sizeof(w);
  out->r1.assign(p, p + w.hl);
  out->c2.assign(p + w.hl, p + 2 * w.hl);
  out->dhv.assign(p + 2 * w.hl, p + 2 * w.hl + w.dhvlen);
  return AuthDecodeError::kOk;
}

AuthDecodeError DecodeSuccess1(const uint8_t* data, size_t len, AuthSuccess1* out) {
  Success1Wire w;
  if (auto e = Fixed(data, len, kAuthTypeDhchap, kAuthIdSuccess1, &w); e != AuthDecodeError::kOk) return e;
  if (w.rvalid > 1) return AuthDecodeError::kBadField;
  if (auto e = Exactly(len, sizeof(w) + (w.rvalid ? w.hl : 0)); e != AuthDecodeError::kOk) return e;
  if (w.hl == 0 || w.hl > kAuthMaxHashLen) return AuthDecodeError::kBadField;
  out->t_id = w.h.t_id;
  out->hl = w.hl;
  out->rvalid = w.rvalid != 0;
  if (w.rvalid) out->r2.assign(data + sizeof(w), data + sizeof(w) + w.hl);
  else out->r2.clear();
  return AuthDecodeError::kOk;
}

AuthDecodeError DecodeSuccess2(const uint8_t* data, size_t len, uint16_t* t_id) {
  Success2Wire w;
  if (auto e = Fixed(data, len, kAuthTypeDhchap, kAuthIdSuccess2, &w); e != AuthDecodeError::kOk) return e;
  if (auto e = Exactly(len, sizeof(w)); e != AuthDecodeError::kOk) return e;
  *t_id = w.h.t_id;
  return AuthDecodeError::kOk;
}

AuthDecodeError DecodeFailure1(const uint8_t* data, size_t len, AuthFailure* out) {
  return DecodeFailure(data, len, kAuthIdFailure1, out);
}

AuthDecodeError DecodeFailure2(const uint8_t* data, size_t len, AuthFailure* out) {
  return DecodeFailure(data, len, kAuthIdFailure2, out);
}

std::vector<uint8_t> EncodeNegotiate(const AuthNegotiate& m) {
  NegotiateWire w{};
  w.h = Header(kAuthTypeCommon, kAuthIdNegotiate, m.t_id);
  w.sc_c = m.sc_c;
  w.napd = 1;
  DhchapProtocolDescriptorWire d{};
  d.authid = kAuthProtocolDhchap;
  d.halen = static_cast<uint8_t>(std::min(m.hashes.size(), kAuthMaxIds));
  d.dhlen = static_cast<uint8_t>(std::min(m.dhgroups.size(), kAuthMaxIds));
  if (d.halen) memcpy(d.idlist, m.hashes.data(), d.halen);
  if (d.dhlen) memcpy(d.idlist + kAuthMaxIds, m.dhgroups.data(), d.dhlen);
  auto out = Start(w, sizeof(d));
  memcpy(out.data() + sizeof(w), &d, sizeof(d));
  return out;
}

std::vector<uint8_t> EncodeChallenge(const AuthChallenge& m) {
  ChallengeWire w{};
  w.h = Header(kAuthTypeDhchap, kAuthIdChallenge, m.t_id);
  w.hl = Clamp8(m.c1.size());
  w.hashid = m.hashid;
  w.dhgid = m.dhgid;
  w.dhvlen = Clamp16(m.dhv.size());
  w.seqnum = m.seqnum;
  auto out = Start(w, size_t{w.hl} + w.dhvlen);
  Put(out.data() + sizeof(w), m.c1, w.hl);
  Put(out.data() + sizeof(w) + w.hl, m.dhv, w.dhvlen);
  return out;
}

std::vector<uint8_t> EncodeReply(const AuthReply& m) {
  ReplyWire w{};
  w.h = Header(kAuthTypeDhchap, kAuthIdReply, m.t_id);
  w.hl = Clamp8(m.r1.size());
  w.cvalid = m.cvalid ? 1 : 0;
  w.dhvlen = Clamp16(m.dhv.size());
  w.seqnum = m.seqnum;
  auto out = Start(w, 2 * size_t{w.hl} + w.dhvlen);
  uint8_t* p = out.data() + sizeof(w);
  Put(p, m.r1, w.hl);
  Put(p + w.hl, m.c2, w.hl);
  Put(p + 2 * w.hl, m.dhv, w.dhvlen);
  return out;
}

std::vector<uint8_t> EncodeSuccess1(const AuthSuccess1& m) {
  Success1Wire w{};
  w.h = Header(kAuthTypeDhchap, kAuthIdSuccess1, m.t_id);
  w.hl = m.hl;
  w.rvalid = m.rvalid ? 1 : 0;
  auto out = Start(w, m.rvalid ? w.hl : 0);
  if (m.rvalid) Put(out.data() + sizeof(w), m.r2, w.hl);
  return out;
}

std::vector<uint8_t> EncodeSuccess2(uint16_t t_id) {
  Success2Wire w{};
  w.h = Header(kAuthTypeDhchap, kAuthIdSuccess2, t_id);
  return Start(w, 0);
}

std::vector<uint8_t> EncodeFailure1(const AuthFailure& m) { return EncodeFailure(m, kAuthIdFailure1); }
std::vector<uint8_t> EncodeFailure2(const AuthFailure& m) { return EncodeFailure(m, kAuthIdFailure2); }

}  // namespace nvmeof::nvme
