#include "gateway/nvmf/auth.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

#include "gateway/common/clock.h"
#include "gateway/common/log.h"
#include "gateway/protocol/nvme_auth.h"

namespace nvmeof {

using namespace nvme;

namespace {

void Wipe(auth::Bytes& b) {
  if (!b.empty()) OPENSSL_cleanse(b.data(), b.size());
  b.clear();
}

const char* ExplanationName(uint8_t e) {
  switch (e) {
    case kAuthExplFailed:
      return "authentication failed";
    case kAuthExplNotUsable:
      return "protocol not usable";
    case kAuthExplConcatMismatch:
      return "secure channel concatenation mismatch";
    case kAuthExplHashUnusable:
      return "no usable hash function";
    case kAuthExplDhGroupUnusable:
      return "no usable DH group";
    case kAuthExplIncorrectPayload:
      return "incorrect payload";
    case kAuthExplIncorrectMessage:
      return "incorrect message";
  }
  return "unknown reason";
}

// The first of `ours` that `theirs` lists.
std::optional<uint8_t> Pick(const std::vector<uint8_t>& ours, const std::vector<uint8_t>& theirs) {
  for (uint8_t id : ours)
    if (std::find(theirs.begin(), theirs.end(), id) != theirs.end()) return id;
  return std::nullopt;
}

nvme::Status Put(const std::vector<uint8_t>& msg, uint8_t* out, uint32_t al, uint32_t* written) {
  if (msg.size() > al) return Generic(kScInvalidField);
  memcpy(out, msg.data(), msg.size());
  *written = static_cast<uint32_t>(msg.size());
  return kSuccess;
}

}  // namespace

QueueAuth::QueueAuth(std::string subnqn, std::string hostnqn, uint16_t cntlid, uint16_t qid, bool required,
                     AuthPolicy policy, KeyLookup keys)
    : subnqn_(std::move(subnqn)),
      hostnqn_(std::move(hostnqn)),
      cntlid_(cntlid),
      qid_(qid),
      required_(required),
      policy_(std::move(policy)),
      keys_(std::move(keys)),
      unauthenticated_since_ns_(NowNs()) {}

QueueAuth::~QueueAuth() { Clear(); }

std::string QueueAuth::Who() const {
  char buf[64];
  snprintf(buf, sizeof(buf), " (controller %u, queue %u)", cntlid_, qid_);
  return "subsystem " + subnqn_ + " host " + hostnqn_ + buf;
}

void QueueAuth::Clear() {
  Wipe(host_key_);
  if (ctrl_key_) Wipe(*ctrl_key_);
  ctrl_key_.reset();
  Wipe(c1_);
  Wipe(session_key_);
  Wipe(r2_);
  dh_ = auth::DhKeyPair();
  bidirectional_ = false;
}

void QueueAuth::Unauthenticate() {
  if (authenticated_) unauthenticated_since_ns_ = NowNs();
  authenticated_ = false;
}

void QueueAuth::Fail(uint8_t explanation, const char* why) {
  LOG_WARN("%s: DH-HMAC-CHAP authentication failed: %s (%s)", Who().c_str(), why, ExplanationName(explanation));
  Clear();
  failure_ = explanation;
  step_ = Step::kFailure1;
  Unauthenticate();
}

void QueueAuth::Succeed() {
  bool again = authenticated_;
  authenticated_ = true;
  step_ = Step::kDone;
  LOG_INFO("%s: %sauthenticated (DH-HMAC-CHAP %s, %s%s)", Who().c_str(), again ? "re-" : "", auth::HashName(hash_),
           auth::DhGroupName(dhgroup_), bidirectional_ ? ", bidirectional" : "");
  Clear();
}

void QueueAuth::Send(const uint8_t* data, size_t len) {
  AuthHeaderWire h;
  if (DecodeAuthHeader(data, len, &h) != AuthDecodeError::kOk)
    return Fail(kAuthExplIncorrectPayload, "message shorter than its header");
  if (h.auth_type == kAuthTypeCommon && h.auth_id == kAuthIdNegotiate) return Negotiate(data, len);
  if (h.auth_type == kAuthTypeCommon && h.auth_id == kAuthIdFailure2) {
    // The host gives up (e.g. the controller's response was wrong).
    AuthFailure f;
    if (step_ == Step::kNegotiate || step_ == Step::kDone)
      return Fail(kAuthExplIncorrectMessage, "Failure2 outside a transaction");
    if (DecodeFailure2(data, len, &f) != AuthDecodeError::kOk) return Fail(kAuthExplIncorrectPayload, "bad Failure2");
    LOG_WARN("%s: the host ended DH-HMAC-CHAP authentication: %s", Who().c_str(), ExplanationName(f.explanation));
    Clear();
    Unauthenticate();
    step_ = Step::kDone;
    return;
  }
  if (h.auth_type != kAuthTypeDhchap) {
    char why[64];
    snprintf(why, sizeof(why), "unknown message type %02xh/%02xh (%zu bytes)", h.auth_type, h.auth_id, len);
    return Fail(kAuthExplIncorrectMessage, why);
  }
  Step want = h.auth_id == kAuthIdReply ? Step::kReply : h.auth_id == kAuthIdSuccess2 ? Step::kSuccess2 : Step::kDone;
  if (want == Step::kDone || step_ != want) {
    if (step_ == Step::kFailure1) return;  // a failure is pending already: keep its reason
    return Fail(kAuthExplIncorrectMessage, "message out of order");
  }
  if (h.t_id != t_id_) return Fail(kAuthExplIncorrectPayload, "wrong transaction identifier");
  if (want == Step::kReply) return Reply(data, len);
  uint16_t t_id;
  if (DecodeSuccess2(data, len, &t_id) != AuthDecodeError::kOk) return Fail(kAuthExplIncorrectPayload, "bad Success2");
  Succeed();
}

void QueueAuth::Negotiate(const uint8_t* data, size_t len) {
  Clear();
  AuthNegotiate m;
  if (auto e = DecodeNegotiate(data, len, &m); e != AuthDecodeError::kOk) {
    std::string why = "bad AUTH_Negotiate: " + std::string(AuthDecodeErrorName(e));
    return Fail(kAuthExplIncorrectPayload, why.c_str());
  }
  t_id_ = m.t_id;
  sc_c_ = m.sc_c;
  if (m.sc_c != kScCNone) return Fail(kAuthExplConcatMismatch, "secure channel concatenation is not offered");
  auto hash = Pick(policy_.hashes, m.hashes);
  if (!hash) return Fail(kAuthExplHashUnusable, "no hash function in common");
  auto group = Pick(policy_.dhgroups, m.dhgroups);
  if (!group) return Fail(kAuthExplDhGroupUnusable, "no DH group in common");
  hash_ = *hash;
  dhgroup_ = *group;

  std::optional<HostEntry> e = keys_ ? keys_() : std::nullopt;
  if (!e || !e->dhchap_key) return Fail(kAuthExplFailed, "no DH-HMAC-CHAP key is set for the host");
  auto hk = auth::ParseDhchapSecret(*e->dhchap_key);
  if (!hk.ok()) return Fail(kAuthExplFailed, ("the host key is unusable: " + hk.status().message()).c_str());
  host_key_ = auth::TransformKey(*hk, hostnqn_);
  Wipe(hk->key);
  if (e->dhchap_ctrlr_key) {
    auto ck = auth::ParseDhchapSecret(*e->dhchap_ctrlr_key);
    if (!ck.ok()) return Fail(kAuthExplFailed, ("the controller key is unusable: " + ck.status().message()).c_str());
    ctrl_key_ = auth::TransformKey(*ck, subnqn_);
    Wipe(ck->key);
  }
  step_ = Step::kChallenge;
}

void QueueAuth::Reply(const uint8_t* data, size_t len) {
  AuthReply m;
  if (auto e = DecodeReply(data, len, &m); e != AuthDecodeError::kOk) {
    std::string why = "bad Reply: " + std::string(AuthDecodeErrorName(e));
    return Fail(kAuthExplIncorrectPayload, why.c_str());
  }
  size_t hl = auth::HashLength(hash_);
  if (m.r1.size() != hl) return Fail(kAuthExplIncorrectPayload, "Reply with the wrong hash length");
  auth::Bytes c1 = c1_;
  auth::Bytes c2 = m.c2;
  if (dhgroup_ != kDhGroupNull) {
    if (m.dhv.empty()) return Fail(kAuthExplIncorrectPayload, "Reply without a DH value");
    auto z = dh_.SharedSecret(m.dhv);
    if (!z.ok()) return Fail(kAuthExplDhGroupUnusable, z.status().message().c_str());
    session_key_ = auth::SessionKey(hash_, *z);
    Wipe(*z);
    c1 = auth::AugmentedChallenge(hash_, session_key_, c1_);
    c2 = auth::AugmentedChallenge(hash_, session_key_, m.c2);
  } else if (!m.dhv.empty()) {
    return Fail(kAuthExplIncorrectPayload, "DH value in a NULL-group Reply");
  }
  auth::Bytes want = auth::HostResponse(hash_, host_key_, c1, s1_, t_id_, sc_c_, hostnqn_, subnqn_);
  if (want.size() != hl || CRYPTO_memcmp(want.data(), m.r1.data(), hl) != 0)
    return Fail(kAuthExplFailed, "wrong host response (wrong key)");
  // Sequence number 0 with C2: a challenge for a PSK, not a request to authenticate.
  bidirectional_ = m.cvalid && m.seqnum != 0;
  if (bidirectional_) {
    if (!ctrl_key_) return Fail(kAuthExplFailed, "the host asks the controller to authenticate, no controller key is set");
    r2_ = auth::ControllerResponse(hash_, *ctrl_key_, c2, m.seqnum, t_id_, sc_c_, hostnqn_, subnqn_);
  }
  step_ = Step::kSuccess1;
}

nvme::Status QueueAuth::Receive(uint8_t* out, uint32_t al, uint32_t* written) {
  *written = 0;
  switch (step_) {
    case Step::kChallenge: {
      size_t hl = auth::HashLength(hash_);
      int dhlen = auth::DhValueLength(dhgroup_);
      if (sizeof(ChallengeWire) + hl + static_cast<size_t>(std::max(dhlen, 0)) > al) return Generic(kScInvalidField);
      auto c1 = auth::RandomBytes(hl);
      auto s1 = auth::RandomBytes(4);
      if (!c1.ok() || !s1.ok()) return Generic(kScInternalError, false);
      AuthChallenge m;
      m.t_id = t_id_;
      m.hashid = hash_;
      m.dhgid = dhgroup_;
      memcpy(&s1_, s1->data(), 4);
      if (s1_ == 0) s1_ = 1;
      m.seqnum = s1_;
      c1_ = *c1;
      m.c1 = *c1;
      if (dhgroup_ != kDhGroupNull) {
        auto kp = auth::DhKeyPair::Generate(dhgroup_);
        if (!kp.ok()) {
          LOG_ERROR("%s: %s", Who().c_str(), kp.status().message().c_str());
          return Generic(kScInternalError, false);
        }
        dh_ = std::move(*kp);
        m.dhv = dh_.public_value();
      }
      step_ = Step::kReply;
      return Put(EncodeChallenge(m), out, al, written);
    }
    case Step::kSuccess1: {
      AuthSuccess1 m;
      m.t_id = t_id_;
      m.hl = static_cast<uint8_t>(auth::HashLength(hash_));
      m.rvalid = bidirectional_;
      m.r2 = r2_;
      auto msg = EncodeSuccess1(m);
      if (msg.size() > al) return Generic(kScInvalidField);
      if (bidirectional_) {
        step_ = Step::kSuccess2;
        Wipe(r2_);
      } else {
        Succeed();
      }
      return Put(msg, out, al, written);
    }
    case Step::kFailure1: {
      AuthFailure f;
      f.t_id = t_id_;
      f.explanation = failure_;
      auto msg = EncodeFailure1(f);
      if (msg.size() > al) return Generic(kScInvalidField);
      step_ = Step::kDone;
      return Put(msg, out, al, written);
    }
    case Step::kReply:
    case Step::kSuccess2:
      Fail(kAuthExplIncorrectMessage, "Authentication Receive out of order");
      [[fallthrough]];
    case Step::kNegotiate:
    case Step::kDone: {
      // Nothing to send: a Failure1 saying the message is out of order.
      AuthFailure f;
      f.t_id = t_id_;
      f.explanation = kAuthExplIncorrectMessage;
      auto msg = EncodeFailure1(f);
      if (msg.size() > al) return Generic(kScInvalidField);
      if (step_ == Step::kFailure1) step_ = Step::kDone;
      return Put(msg, out, al, written);
    }
  }
  return Generic(kScInternalError, false);
}

}  // namespace nvmeof
