// DH-HMAC-CHAP through the target's command handlers: Connect with AUTHREQ.ATR, then
// Authentication Send / Receive carrying AUTH_Negotiate .. Success2, driven by a host-side
// implementation written here (over auth_keys.h, whose values auth_keys_test.cc checks
// against independently computed vectors). Every failure must come back as the specified
// Failure1 explanation (or command status), leave the queue refusing commands with
// Authentication Required, and not close it (the host does).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gateway/nvmf/auth_keys.h"
#include "gateway/nvmf/target_test_util.h"
#include "gateway/protocol/nvme_auth.h"

namespace nvmeof::test {
namespace {

using auth::Bytes;

// Keys: 00..1f (SHA-256 transformed), 40..6f (SHA-384), 80..bf (SHA-512), and another one.
constexpr char kKey256[] = "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
constexpr char kKey384[] = "DHHC-1:02:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5voBXMjQ==:";
constexpr char kKey512[] =
    "DHHC-1:03:gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp+goaKjpKWmp6ipqqusra6vsLGys7S1tre4ubq7vL2+v6rfDIU=:";

std::string OtherKey() {
  auth::DhchapSecret s;
  s.hash = 1;
  s.key = Bytes(32, 0x5A);
  return auth::FormatDhchapSecret(s);
}

// What the host does.
struct HostSide {
  std::string key = kKey256;
  std::optional<std::string> ctrl_key;  // set: ask the controller to authenticate
  std::vector<uint8_t> hashes = {nvme::kHashSha256, nvme::kHashSha384, nvme::kHashSha512};
  std::vector<uint8_t> groups = {nvme::kDhGroupNull};
  uint16_t t_id = 0x4242;
};

// How a transaction ended, from the host's side.
struct Outcome {
  bool ok = false;
  uint8_t explanation = 0;      // Failure1's, if the controller refused
  bool ctrl_mismatch = false;   // the controller's response was wrong (Failure2 sent)
  uint8_t hash = 0, group = 0;  // as the controller chose
};

class AuthTest : public TargetTest {
 protected:
  void SetKeys(const std::optional<std::string>& key, const std::optional<std::string>& ctrl) {
    ASSERT_TRUE(target_->RemoveHost(kNqn, kHost).ok());
    ASSERT_TRUE(target_->AddHost(kNqn, HostEntry{kHost, key, ctrl, std::nullopt}).ok());
  }

  nvme::Status Send(FakeQueue& q, const Bytes& msg, uint32_t tl = 0, uint8_t secp = nvme::kAuthSecpNvme) {
    Cmd c(static_cast<uint32_t>(msg.size()));
    std::copy(msg.begin(), msg.end(), c.buf.begin());
    auto* a = reinterpret_cast<nvme::AuthCmd*>(&c.req.cmd);
    a->opcode = kAdminFabrics;
    a->fctype = kFctypeAuthSend;
    a->secp = secp;
    a->spsp0 = nvme::kAuthSpsp0;
    a->spsp1 = nvme::kAuthSpsp1;
    a->length = tl ? tl : static_cast<uint32_t>(msg.size());
    c.req.host_to_ctrl = true;
    return Run(q, c);
  }
  nvme::Status Receive(FakeQueue& q, Bytes* out, uint32_t al = 2048) {
    Cmd c(al);
    auto* a = reinterpret_cast<nvme::AuthCmd*>(&c.req.cmd);
    a->opcode = kAdminFabrics;
    a->fctype = kFctypeAuthReceive;
    a->secp = nvme::kAuthSecpNvme;
    a->spsp0 = nvme::kAuthSpsp0;
    a->spsp1 = nvme::kAuthSpsp1;
    a->length = al;
    c.req.ctrl_to_host = true;
    nvme::Status s = Run(q, c);
    out->assign(c.buf.begin(), c.buf.begin() + c.req.c2h_len);
    return s;
  }
  // The Failure1 explanation in msg (0 if msg is not a Failure1).
  static uint8_t Failure1Of(const Bytes& msg) {
    nvme::AuthFailure f;
    if (nvme::DecodeFailure1(msg.data(), msg.size(), &f) != nvme::AuthDecodeError::kOk) return 0;
    EXPECT_EQ(f.rescode, nvme::kAuthReasonFailed);
    return f.explanation;
  }
  // Sends a message and returns the Failure1 explanation the next Receive brings.
  uint8_t SendExpectFailure(FakeQueue& q, const Bytes& msg) {
    EXPECT_EQ(Send(q, msg), kSuccess);
    Bytes r;
    EXPECT_EQ(Receive(q, &r), kSuccess);
    return Failure1Of(r);
  }
  static Bytes Negotiate(const HostSide& h, uint8_t sc_c = 0) {
    nvme::AuthNegotiate n;
    n.t_id = h.t_id;
    n.sc_c = sc_c;
    n.hashes = h.hashes;
    n.dhgroups = h.groups;
    return nvme::EncodeNegotiate(n);
  }

  // The challenge after a negotiate (asserting it is one).
  nvme::AuthChallenge Challenge(FakeQueue& q, const HostSide& h) {
    EXPECT_EQ(Send(q, Negotiate(h)), kSuccess);
    Bytes r;
    EXPECT_EQ(Receive(q, &r), kSuccess);
    nvme::AuthChallenge ch;
    EXPECT_EQ(nvme::DecodeChallenge(r.data(), r.size(), &ch), nvme::AuthDecodeError::kOk) << "Failure1 " << int(Failure1Of(r));
    return ch;
  }

  // A correct reply to ch (with `h`'s keys); *c2 and *ks receive what the host needs later.
  static Bytes MakeReply(const HostSide& h, const nvme::AuthChallenge& ch, Bytes* c2_aug, uint32_t s2 = 0x0BADF00D) {
    Bytes c1 = ch.c1, ks;
    nvme::AuthReply rep;
    rep.t_id = h.t_id;
    if (ch.dhgid != nvme::kDhGroupNull) {
      auto kp = auth::DhKeyPair::Generate(ch.dhgid);
      EXPECT_TRUE(kp.ok());
      auto z = kp->SharedSecret(ch.dhv);
      EXPECT_TRUE(z.ok());
      ks = auth::SessionKey(ch.hashid, *z);
      c1 = auth::AugmentedChallenge(ch.hashid, ks, ch.c1);
      rep.dhv = kp->public_value();
    }
    Bytes kh = auth::TransformKey(*auth::ParseDhchapSecret(h.key), kHost);
    rep.r1 = auth::HostResponse(ch.hashid, kh, c1, ch.seqnum, h.t_id, 0, kHost, kNqn);
    rep.c2 = Bytes(ch.c1.size(), 0);
    if (h.ctrl_key) {
      rep.cvalid = true;
      rep.seqnum = s2;
      rep.c2 = *auth::RandomBytes(ch.c1.size());
      *c2_aug = ks.empty() ? rep.c2 : auth::AugmentedChallenge(ch.hashid, ks, rep.c2);
    }
    return nvme::EncodeReply(rep);
  }

  // The whole transaction as a host runs it.
  Outcome Authenticate(FakeQueue& q, const HostSide& h) {
    Outcome o;
    EXPECT_EQ(Send(q, Negotiate(h)), kSuccess);
    Bytes r;
    EXPECT_EQ(Receive(q, &r), kSuccess);
    nvme::AuthChallenge ch;
    if (nvme::DecodeChallenge(r.data(), r.size(), &ch) != nvme::AuthDecodeError::kOk) {
      o.explanation = Failure1Of(r);
      return o;
    }
    EXPECT_EQ(ch.t_id, h.t_id);
    EXPECT_EQ(ch.c1.size(), auth::HashLength(ch.hashid));
    EXPECT_EQ(ch.dhv.size(), static_cast<size_t>(auth::DhValueLength(ch.dhgid)));
    o.hash = ch.hashid;
    o.group = ch.dhgid;
    Bytes c2;
    const uint32_t s2 = 0x0BADF00D;
    EXPECT_EQ(Send(q, MakeReply(h, ch, &c2, s2)), kSuccess);
    EXPECT_EQ(Receive(q, &r), kSuccess);
    nvme::AuthSuccess1 s1;
    if (nvme::DecodeSuccess1(r.data(), r.size(), &s1) != nvme::AuthDecodeError::kOk) {
      o.explanation = Failure1Of(r);
      return o;
    }
    EXPECT_EQ(s1.t_id, h.t_id);
    EXPECT_EQ(s1.hl, auth::HashLength(ch.hashid));
    EXPECT_EQ(s1.rvalid, h.ctrl_key.has_value());
    if (!h.ctrl_key) {
      o.ok = true;
      return o;
    }
    Bytes kc = auth::TransformKey(*auth::ParseDhchapSecret(*h.ctrl_key), kNqn);
    Bytes want = auth::ControllerResponse(ch.hashid, kc, c2, s2, h.t_id, 0, kHost, kNqn);
    if (want != s1.r2) {
      nvme::AuthFailure f;
      f.t_id = h.t_id;
      f.explanation = nvme::kAuthExplFailed;
      EXPECT_EQ(Send(q, nvme::EncodeFailure2(f)), kSuccess);
      o.ctrl_mismatch = true;
      return o;
    }
    EXPECT_EQ(Send(q, nvme::EncodeSuccess2(h.t_id)), kSuccess);
    o.ok = true;
    return o;
  }

  // An admin queue connected with ATR; returns the cntlid.
  uint16_t ConnectAdmin(FakeQueue& q) {
    uint32_t dw0 = 0;
    EXPECT_EQ(Connect(q, 0, kNqn, kHost, 0xFFFF, 31, &dw0), kSuccess);
    EXPECT_TRUE(dw0 & nvme::kConnectAuthreqAtr) << std::hex << dw0;
    return static_cast<uint16_t>(dw0);
  }
  nvme::Status EnableCc(FakeQueue& q) { return PropSet(q, kPropCc, kCcEn | (6u << 16) | (4u << 20)); }
  bool Refused(FakeQueue& q) {
    uint64_t v;
    return PropGet(q, kPropCap, true, &v) == CmdSpecific(kScAuthRequired);
  }
  nvme::Status Read(FakeQueue& q) {
    Cmd c(512);
    c.req.cmd.opcode = kIoRead;
    c.req.cmd.nsid = 1;
    c.req.cmd.flags = 1u << 6;
    c.req.ctrl_to_host = true;
    return Run(q, c);
  }
};

TEST_F(AuthTest, HostWithoutKeyIsNotAskedToAuthenticate) {
  auto& q = NewQueue();
  uint32_t dw0 = 0;
  ASSERT_EQ(Connect(q, 0, kNqn, kHost, 0xFFFF, 31, &dw0), kSuccess);
  EXPECT_EQ(dw0 & (nvme::kConnectAuthreqAtr | nvme::kConnectAuthreqAscr), 0u);
  EXPECT_FALSE(Refused(q));
  // A host that authenticates anyway, without a key set: refused, the queue keeps working.
  EXPECT_EQ(SendExpectFailure(q, Negotiate(HostSide{})), nvme::kAuthExplFailed);
  EXPECT_FALSE(Refused(q));
  EXPECT_FALSE(q.closed_);
}

TEST_F(AuthTest, OneWayEveryHashAdminAndIoQueue) {
  SetKeys(kKey256, std::nullopt);
  for (uint8_t hash : {nvme::kHashSha256, nvme::kHashSha384, nvme::kHashSha512}) {
    SCOPED_TRACE(int(hash));
    auto& admin = NewQueue();
    uint16_t cntlid = ConnectAdmin(admin);
    EXPECT_TRUE(Refused(admin));
    EXPECT_EQ(EnableCc(admin), CmdSpecific(kScAuthRequired));
    HostSide h;
    h.hashes = {hash};
    Outcome o = Authenticate(admin, h);
    ASSERT_TRUE(o.ok) << int(o.explanation);
    EXPECT_EQ(o.hash, hash);
    EXPECT_EQ(o.group, nvme::kDhGroupNull);
    EXPECT_FALSE(Refused(admin));
    ASSERT_EQ(EnableCc(admin), kSuccess);

    auto& io = NewQueue();
    uint32_t dw0 = 0;
    ASSERT_EQ(Connect(io, 1, kNqn, kHost, cntlid, 31, &dw0), kSuccess);
    EXPECT_TRUE(dw0 & nvme::kConnectAuthreqAtr);
    EXPECT_EQ(Read(io), CmdSpecific(kScAuthRequired));
    ASSERT_TRUE(Authenticate(io, h).ok);
    EXPECT_EQ(Read(io), kSuccess);
    CloseAll();
  }
}

TEST_F(AuthTest, BidirectionalEveryHashNullAndFfdhe2048) {
  SetKeys(kKey384, kKey512);
  for (uint8_t group : {nvme::kDhGroupNull, nvme::kDhGroup2048}) {
    for (uint8_t hash : {nvme::kHashSha256, nvme::kHashSha384, nvme::kHashSha512}) {
      SCOPED_TRACE(std::to_string(hash) + "/" + std::to_string(group));
      auto& q = NewQueue();
      ConnectAdmin(q);
      HostSide h;
      h.key = kKey384;
      h.ctrl_key = kKey512;
      h.hashes = {hash};
      h.groups = {group};
      Outcome o = Authenticate(q, h);
      ASSERT_TRUE(o.ok) << int(o.explanation);
      EXPECT_EQ(o.group, group);
      EXPECT_FALSE(Refused(q));
      CloseAll();
    }
  }
}

TEST_F(AuthTest, EveryDhGroup) {
  SetKeys(kKey512, std::nullopt);
  for (uint8_t group = nvme::kDhGroup2048; group <= nvme::kDhGroup8192; ++group) {
    SCOPED_TRACE(int(group));
    auto& q = NewQueue();
    ConnectAdmin(q);
    HostSide h;
    h.key = kKey512;
    h.groups = {group};
    Outcome o = Authenticate(q, h);
    ASSERT_TRUE(o.ok) << int(o.explanation);
    EXPECT_EQ(o.group, group);
    CloseAll();
  }
}

TEST_F(AuthTest, ControllerPrefersItsOwnOrder) {
  SetKeys(kKey256, std::nullopt);
  auto& q = NewQueue();
  ConnectAdmin(q);
  HostSide h;
  h.groups = {nvme::kDhGroup2048, nvme::kDhGroupNull};
  Outcome o = Authenticate(q, h);
  ASSERT_TRUE(o.ok);
  EXPECT_EQ(o.hash, nvme::kHashSha512);  // defaults: strongest hash, NULL group first
  EXPECT_EQ(o.group, nvme::kDhGroupNull);
}

TEST_F(AuthTest, WrongHostKeyIsRefusedAndARetryMaySucceed) {
  SetKeys(kKey256, std::nullopt);
  auto& q = NewQueue();
  ConnectAdmin(q);
  HostSide bad;
  bad.key = OtherKey();
  Outcome o = Authenticate(q, bad);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.explanation, nvme::kAuthExplFailed);
  EXPECT_TRUE(Refused(q));
  EXPECT_FALSE(q.closed_);
  EXPECT_TRUE(Authenticate(q, HostSide{}).ok);
  EXPECT_FALSE(Refused(q));
}

TEST_F(AuthTest, WrongControllerKeyTheHostEndsWithFailure2) {
  SetKeys(kKey256, kKey384);
  auto& q = NewQueue();
  ConnectAdmin(q);
  HostSide h;
  h.ctrl_key = kKey512;  // not the controller's
  Outcome o = Authenticate(q, h);
  EXPECT_FALSE(o.ok);
  EXPECT_TRUE(o.ctrl_mismatch);
  EXPECT_TRUE(Refused(q));
}

TEST_F(AuthTest, BidirectionalWithoutControllerKeyIsRefused) {
  SetKeys(kKey256, std::nullopt);
  auto& q = NewQueue();
  ConnectAdmin(q);
  HostSide h;
  h.ctrl_key = kKey384;
  Outcome o = Authenticate(q, h);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.explanation, nvme::kAuthExplFailed);
  EXPECT_TRUE(Refused(q));
}

TEST_F(AuthTest, NoAuthenticationAtAllGetsNothing) {
  SetKeys(kKey256, std::nullopt);
  auto& admin = NewQueue();
  uint16_t cntlid = ConnectAdmin(admin);
  EXPECT_TRUE(Refused(admin));
  EXPECT_EQ(EnableCc(admin), CmdSpecific(kScAuthRequired));
  Cmd identify(4096);
  identify.req.cmd.opcode = 0x06;
  identify.req.cmd.cdw10 = 1;
  identify.req.cmd.flags = 1u << 6;
  identify.req.ctrl_to_host = true;
  EXPECT_EQ(Run(admin, identify), CmdSpecific(kScAuthRequired));
  // The I/O queue cannot even connect: the controller is not enabled.
  auto& io = NewQueue();
  EXPECT_NE(Connect(io, 1, kNqn, kHost, cntlid), kSuccess);
  EXPECT_FALSE(admin.closed_);
}

TEST_F(AuthTest, UnsupportedHashGroupAndConcatenation) {
  SetKeys(kKey256, std::nullopt);
  auto& q = NewQueue();
  ConnectAdmin(q);
  HostSide h;
  h.hashes = {0x07};
  EXPECT_EQ(SendExpectFailure(q, Negotiate(h)), nvme::kAuthExplHashUnusable);
  h = HostSide{};
  h.groups = {0x09};
  EXPECT_EQ(SendExpectFailure(q, Negotiate(h)), nvme::kAuthExplDhGroupUnusable);
  h = HostSide{};
  h.groups = {};
  EXPECT_EQ(SendExpectFailure(q, Negotiate(h)), nvme::kAuthExplDhGroupUnusable);
  EXPECT_EQ(SendExpectFailure(q, Negotiate(HostSide{}, nvme::kScCNewTlsPsk)), nvme::kAuthExplConcatMismatch);
  EXPECT_TRUE(Refused(q));
  EXPECT_TRUE(Authenticate(q, HostSide{}).ok);
}

TEST_F(AuthTest, TruncatedAndOversizedMessages) {
  SetKeys(kKey256, std::nullopt);
  auto& q = NewQueue();
  ConnectAdmin(q);
  HostSide h;
  Bytes neg = Negotiate(h);
  EXPECT_EQ(SendExpectFailure(q, Bytes(neg.begin(), neg.begin() + 4)), nvme::kAuthExplIncorrectPayload);
  EXPECT_EQ(SendExpectFailure(q, Bytes(neg.begin(), neg.end() - 1)), nvme::kAuthExplIncorrectPayload);
  Bytes big = neg;
  big.push_back(0);
  EXPECT_EQ(SendExpectFailure(q, big), nvme::kAuthExplIncorrectPayload);

  Bytes c2;
  nvme::AuthChallenge ch = Challenge(q, h);
  Bytes reply = MakeReply(h, ch, &c2);
  reply.push_back(0);
  EXPECT_EQ(SendExpectFailure(q, reply), nvme::kAuthExplIncorrectPayload);
  ch = Challenge(q, h);
  reply = MakeReply(h, ch, &c2);
  reply.resize(reply.size() - 1);
  EXPECT_EQ(SendExpectFailure(q, reply), nvme::kAuthExplIncorrectPayload);
  EXPECT_TRUE(Refused(q));
  EXPECT_FALSE(q.closed_);
}

TEST_F(AuthTest, WrongTransactionId) {
  SetKeys(kKey256, std::nullopt);
  auto& q = NewQueue();
  ConnectAdmin(q);
  HostSide h;
  nvme::AuthChallenge ch = Challenge(q, h);
  HostSide other = h;
  other.t_id = h.t_id + 1;
  Bytes c2;
  EXPECT_EQ(SendExpectFailure(q, MakeReply(other, ch, &c2)), nvme::kAuthExplIncorrectPayload);
  EXPECT_TRUE(Refused(q));
}

TEST_F(AuthTest, MessagesOutOfOrder) {
  SetKeys(kKey256, kKey384);
  auto& q = NewQueue();
  ConnectAdmin(q);
  HostSide h;
  // Receive before anything: a Failure1 saying so.
  Bytes r;
  ASSERT_EQ(Receive(q, &r), kSuccess);
  EXPECT_EQ(Failure1Of(r), nvme::kAuthExplIncorrectMessage);
  // A Reply before AUTH_Negotiate.
  nvme::AuthReply rep;
  rep.t_id = h.t_id;
  rep.r1 = Bytes(32, 1);
  EXPECT_EQ(SendExpectFailure(q, nvme::EncodeReply(rep)), nvme::kAuthExplIncorrectMessage);
  // Success2 where the Reply is due.
  Challenge(q, h);
  EXPECT_EQ(SendExpectFailure(q, nvme::EncodeSuccess2(h.t_id)), nvme::kAuthExplIncorrectMessage);
  // A second AUTH_Negotiate before the Receive of the challenge: the later one wins.
  EXPECT_EQ(Send(q, Negotiate(h)), kSuccess);
  EXPECT_TRUE(Authenticate(q, h).ok);
  // A Reply after success: out of order, and the queue is no longer authenticated.
  EXPECT_EQ(SendExpectFailure(q, nvme::EncodeReply(rep)), nvme::kAuthExplIncorrectMessage);
  EXPECT_TRUE(Refused(q));
  // A Receive while a Reply is due ends the transaction.
  Challenge(q, h);
  ASSERT_EQ(Receive(q, &r), kSuccess);
  EXPECT_EQ(Failure1Of(r), nvme::kAuthExplIncorrectMessage);
  EXPECT_EQ(SendExpectFailure(q, nvme::EncodeReply(rep)), nvme::kAuthExplIncorrectMessage);
  // An unknown message type.
  EXPECT_EQ(SendExpectFailure(q, Bytes{0x70, 0, 0, 0, 0x42, 0x42, 0, 0}), nvme::kAuthExplIncorrectMessage);
  EXPECT_TRUE(Refused(q));
  EXPECT_FALSE(q.closed_);
}

TEST_F(AuthTest, CommandFields) {
  SetKeys(kKey256, std::nullopt);
  auto& q = NewQueue();
  ConnectAdmin(q);
  HostSide h;
  Bytes neg = Negotiate(h);
  EXPECT_EQ(Send(q, neg, 0, 0xEA), Generic(kScInvalidField));                      // SECP
  EXPECT_EQ(Send(q, neg, static_cast<uint32_t>(neg.size()) + 1), Generic(kScDataSglLengthInvalid));  // TL
  Cmd zero(0);
  auto* a = reinterpret_cast<nvme::AuthCmd*>(&zero.req.cmd);
  a->opcode = kAdminFabrics;
  a->fctype = kFctypeAuthSend;
  a->secp = nvme::kAuthSecpNvme;
  a->spsp0 = a->spsp1 = 1;
  EXPECT_EQ(Run(q, zero), Generic(kScInvalidField));  // TL 0
  // An allocation length too small for the challenge: refused, and a retry with room works.
  ASSERT_EQ(Send(q, neg), kSuccess);
  Bytes r;
  EXPECT_EQ(Receive(q, &r, 16), Generic(kScInvalidField));
  ASSERT_EQ(Receive(q, &r), kSuccess);
  nvme::AuthChallenge ch;
  EXPECT_EQ(nvme::DecodeChallenge(r.data(), r.size(), &ch), nvme::AuthDecodeError::kOk);
}

TEST_F(AuthTest, ReauthenticationAndKeyChange) {
  SetKeys(kKey256, std::nullopt);
  auto& q = NewQueue();
  ConnectAdmin(q);
  ASSERT_TRUE(Authenticate(q, HostSide{}).ok);
  ASSERT_EQ(EnableCc(q), kSuccess);
  // Re-authentication: the queue keeps working during and after it.
  ASSERT_EQ(Send(q, Negotiate(HostSide{})), kSuccess);
  EXPECT_FALSE(Refused(q));
  Bytes r;
  ASSERT_EQ(Receive(q, &r), kSuccess);
  EXPECT_TRUE(Authenticate(q, HostSide{}).ok);
  EXPECT_FALSE(Refused(q));
  // The key changes: the connected queue stays, the old key no longer authenticates.
  ASSERT_TRUE(target_->ChangeHostKeys(kNqn, HostEntry{kHost, kKey512, std::nullopt, std::nullopt}).ok());
  EXPECT_FALSE(Refused(q));
  Outcome o = Authenticate(q, HostSide{});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.explanation, nvme::kAuthExplFailed);
  EXPECT_TRUE(Refused(q));
  HostSide h;
  h.key = kKey512;
  EXPECT_TRUE(Authenticate(q, h).ok);
  EXPECT_FALSE(Refused(q));
  // A new connection with the old key fails, with the new one succeeds.
  auto& q2 = NewQueue();
  ConnectAdmin(q2);
  EXPECT_FALSE(Authenticate(q2, HostSide{}).ok);
  EXPECT_TRUE(Authenticate(q2, h).ok);
}

TEST_F(AuthTest, KeysAreCheckedWhenTheHostIsAdded) {
  ASSERT_TRUE(target_->RemoveHost(kNqn, kHost).ok());
  EXPECT_TRUE(target_->AddHost(kNqn, HostEntry{kHost, "DHHC-1:01:nonsense:", std::nullopt, std::nullopt})
                  .IsInvalidArgument());
  EXPECT_TRUE(target_->AddHost(kNqn, HostEntry{kHost, std::nullopt, kKey256, std::nullopt}).IsInvalidArgument());
  EXPECT_TRUE(target_->AddHost(kNqn, HostEntry{kHost, kKey256, "DHHC-1:09:x:", std::nullopt}).IsInvalidArgument());
  EXPECT_TRUE(target_->AddHost(kNqn, HostEntry{kHost, kKey256, kKey384, std::nullopt}).ok());
  EXPECT_TRUE(target_->ChangeHostKeys(kNqn, HostEntry{kHost, "DHHC-1:01:x:", std::nullopt, std::nullopt})
                  .IsInvalidArgument());
  EXPECT_TRUE(target_->ChangeHostKeys(kNqn, HostEntry{"nqn.2014-08.org.nvmexpress:other", kKey256, std::nullopt,
                                                      std::nullopt})
                  .IsNotFound());
  EXPECT_TRUE(target_->ChangeHostKeys(kNqn, HostEntry{kHost, std::nullopt, std::nullopt, std::nullopt}).ok());
  auto& q = NewQueue();
  uint32_t dw0 = 0;
  ASSERT_EQ(Connect(q, 0, kNqn, kHost, 0xFFFF, 31, &dw0), kSuccess);
  EXPECT_EQ(dw0 & nvme::kConnectAuthreqAtr, 0u);  // keys removed: no authentication asked
}

// TargetOptions::auth_timeout_ms: a queue that must authenticate and has not within the bound
// is closed. The bound is short here; the checks wait for the close (no timed assertion).
class AuthTimeoutTest : public AuthTest {
 protected:
  static constexpr uint32_t kBoundMs = 50;
  void Tune(TargetOptions& o) override { o.auth_timeout_ms = kBoundMs; }
  // Waits (up to 10 s) for the queue to be closed.
  static bool ClosedSoon(FakeQueue& q) {
    for (int i = 0; i < 1000 && !q.closed_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return q.closed_;
  }
};

TEST_F(AuthTimeoutTest, HostThatNeverAuthenticatesIsDisconnected) {
  SetKeys(kKey256, std::nullopt);
  auto& q = NewQueue();
  ConnectAdmin(q);
  EXPECT_TRUE(ClosedSoon(q));
}

TEST_F(AuthTimeoutTest, HostThatStallsMidTransactionIsDisconnected) {
  SetKeys(kKey256, std::nullopt);
  auto& admin = NewQueue();
  ConnectAdmin(admin);
  HostSide h;
  Challenge(admin, h);  // and no Reply
  EXPECT_TRUE(ClosedSoon(admin));
}

TEST_F(AuthTimeoutTest, RefusedHostThatKeepsTheConnectionIsDisconnected) {
  SetKeys(kKey256, std::nullopt);
  auto& q = NewQueue();
  ConnectAdmin(q);
  HostSide wrong;
  wrong.key = OtherKey();
  EXPECT_EQ(Authenticate(q, wrong).explanation, nvme::kAuthExplFailed);
  EXPECT_TRUE(ClosedSoon(q));
}

TEST_F(AuthTimeoutTest, IoQueueThatNeverAuthenticatesIsDisconnected) {
  SetKeys(kKey256, std::nullopt);
  auto& admin = NewQueue();
  uint16_t cntlid = ConnectAdmin(admin);
  ASSERT_TRUE(Authenticate(admin, HostSide{}).ok);
  ASSERT_EQ(EnableCc(admin), kSuccess);
  auto& io = NewQueue();
  uint32_t dw0 = 0;
  ASSERT_EQ(Connect(io, 1, kNqn, kHost, cntlid, 31, &dw0), kSuccess);
  EXPECT_TRUE(dw0 & nvme::kConnectAuthreqAtr);
  EXPECT_TRUE(ClosedSoon(io));
}

TEST_F(AuthTimeoutTest, AuthenticatedQueueStaysAndAFailedReauthenticationRestartsTheClock) {
  SetKeys(kKey256, std::nullopt);
  auto& q = NewQueue();
  ConnectAdmin(q);
  ASSERT_TRUE(Authenticate(q, HostSide{}).ok);
  // Well past the bound: the authenticated queue stays, and so does a queue that needs none.
  auto& plain = NewQueue();
  ASSERT_TRUE(target_->AddHost(kNqn, "nqn.2014-08.org.nvmexpress:nokey").ok());
  ASSERT_EQ(Connect(plain, 0, kNqn, "nqn.2014-08.org.nvmexpress:nokey"), kSuccess);
  std::this_thread::sleep_for(std::chrono::milliseconds(10 * kBoundMs));
  EXPECT_FALSE(q.closed_);
  EXPECT_FALSE(plain.closed_);
  EXPECT_FALSE(Refused(q));
  // A re-authentication that fails takes the authentication away: the clock runs again.
  HostSide wrong;
  wrong.key = OtherKey();
  EXPECT_FALSE(Authenticate(q, wrong).ok);
  EXPECT_TRUE(Refused(q));
  EXPECT_TRUE(ClosedSoon(q));
  EXPECT_FALSE(plain.closed_);
}

}  // namespace
}  // namespace nvmeof::test
