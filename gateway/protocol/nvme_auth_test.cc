// Golden-byte tests for the authentication messages and commands in nvme_auth.h.
//
// Every expected byte array was typed in by hand from NVMe Base 2.0 section 8.13 (the
// AUTH_Negotiate, DH-HMAC-CHAP_Challenge/_Reply/_Success1/_Success2/_Failure1/_Failure2
// figures) and the NVMe-oF Authentication Send/Receive command figures, never derived from
// the structures under test.
#include "gateway/protocol/nvme_auth.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/protocol/golden_bytes.h"

namespace nvmeof::nvme {
namespace {

using golden::Bytes;
using golden::Hex;
using golden::SameBytes;

Bytes Seq(uint8_t first, size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(first + i);
  return b;
}
Bytes Cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
Bytes Zeros(size_t n) { return Bytes(n, 0); }

TEST(AuthCmd, Layout) {
  AuthCmd c{};
  c.opcode = 0x7F;
  c.cid = 0x0203;
  c.fctype = 0x05;
  c.spsp0 = kAuthSpsp0;
  c.spsp1 = kAuthSpsp1;
  c.secp = kAuthSecpNvme;
  c.length = 0x48;
  Bytes want = Cat(Cat(Hex("7f 00 03 02 05"), Zeros(35)), Cat(Hex("00 01 01 e9 | 48 00 00 00"), Zeros(16)));
  EXPECT_TRUE(SameBytes(golden::Raw(c), want));
}

TEST(AuthNegotiate, GoldenBytes) {
  AuthNegotiate m;
  m.t_id = 0x1234;
  m.sc_c = kScCNone;
  m.hashes = {kHashSha256, kHashSha384, kHashSha512};
  m.dhgroups = {kDhGroupNull, kDhGroup2048, kDhGroup3072, kDhGroup4096, kDhGroup6144, kDhGroup8192};
  Bytes want = Hex("00 00 00 00 34 12 00 01 | 01 00 03 06");
  want = Cat(want, Cat(Hex("01 02 03"), Zeros(27)));
  want = Cat(want, Cat(Hex("00 01 02 03 04 05"), Zeros(24)));
  ASSERT_EQ(want.size(), 72u);
  Bytes got = EncodeNegotiate(m);
  EXPECT_TRUE(SameBytes(got, want));

  AuthNegotiate d;
  ASSERT_EQ(DecodeNegotiate(want.data(), want.size(), &d), AuthDecodeError::kOk);
  EXPECT_EQ(d.t_id, 0x1234);
  EXPECT_EQ(d.sc_c, 0);
  EXPECT_EQ(d.hashes, m.hashes);
  EXPECT_EQ(d.dhgroups, m.dhgroups);
}

// What the Linux 6.12 host sends first (its 72 bytes as the gateway received them, transaction
// 0, every hash and group offered): AUTH_Type 00h (common message), AUTH_Id 00h. The message
// types are 00h / 01h (NVMe Base 2.0 figure "AUTH_Type"; Linux NVME_AUTH_COMMON_MESSAGES /
// NVME_AUTH_DHCHAP_MESSAGES), not 80h / 90h.
TEST(AuthNegotiate, AsTheLinuxHostSendsIt) {
  Bytes linux_bytes = Cat(Cat(Hex("00 00 00 00 00 00 00 01 | 01 00 03 06 | 01 02 03"), Zeros(27)),
                          Cat(Hex("00 01 02 03 04 05"), Zeros(24)));
  AuthHeaderWire h;
  ASSERT_EQ(DecodeAuthHeader(linux_bytes.data(), linux_bytes.size(), &h), AuthDecodeError::kOk);
  EXPECT_EQ(h.auth_type, kAuthTypeCommon);
  EXPECT_EQ(h.auth_id, kAuthIdNegotiate);
  AuthNegotiate d;
  ASSERT_EQ(DecodeNegotiate(linux_bytes.data(), linux_bytes.size(), &d), AuthDecodeError::kOk);
  EXPECT_EQ(d.t_id, 0);
  EXPECT_EQ(d.hashes.size(), 3u);
  EXPECT_EQ(d.dhgroups.size(), 6u);
  EXPECT_EQ(kAuthTypeDhchap, 0x01);
  // Its Failure2 when the controller's response is wrong: a common message too (00h/F0h).
  Bytes f2 = Hex("00 f0 00 00 00 00 01 01");
  AuthFailure f;
  ASSERT_EQ(DecodeFailure2(f2.data(), f2.size(), &f), AuthDecodeError::kOk);
  EXPECT_EQ(f.explanation, kAuthExplFailed);
}

TEST(AuthNegotiate, BadInput) {
  AuthNegotiate m;
  m.hashes = {1};
  m.dhgroups = {0};
  Bytes b = EncodeNegotiate(m);
  AuthNegotiate d;
  EXPECT_EQ(DecodeNegotiate(b.data(), 5, &d), AuthDecodeError::kTruncated);
  EXPECT_EQ(DecodeNegotiate(b.data(), 7, &d), AuthDecodeError::kTruncated);
  EXPECT_EQ(DecodeNegotiate(b.data(), b.size() - 1, &d), AuthDecodeError::kTruncated);
  Bytes big = Cat(b, Hex("00"));
  EXPECT_EQ(DecodeNegotiate(big.data(), big.size(), &d), AuthDecodeError::kOversized);
  Bytes x = b;
  x[0] = 0x01;  // a DH-HMAC-CHAP message type
  EXPECT_EQ(DecodeNegotiate(x.data(), x.size(), &d), AuthDecodeError::kWrongMessage);
  x = b;
  x[8] = 0x02;  // AUTHID: not DH-HMAC-CHAP
  EXPECT_EQ(DecodeNegotiate(x.data(), x.size(), &d), AuthDecodeError::kBadField);
  x = b;
  x[10] = 31;  // HALEN > 30
  EXPECT_EQ(DecodeNegotiate(x.data(), x.size(), &d), AuthDecodeError::kBadField);
  x = b;
  x[11] = 31;  // DHLEN > 30
  EXPECT_EQ(DecodeNegotiate(x.data(), x.size(), &d), AuthDecodeError::kBadField);
  x = Cat(b, Zeros(64));
  x[7] = 2;  // two descriptors
  EXPECT_EQ(DecodeNegotiate(x.data(), x.size(), &d), AuthDecodeError::kBadField);
  x = Hex("00 00 00 00 00 00 00 00");  // NAPD 0
  EXPECT_EQ(DecodeNegotiate(x.data(), x.size(), &d), AuthDecodeError::kBadField);
}

TEST(AuthChallenge, GoldenBytes) {
  AuthChallenge m;
  m.t_id = 0x0102;
  m.hashid = kHashSha256;
  m.dhgid = kDhGroupNull;
  m.seqnum = 0x11223344;
  m.c1 = Seq(0, 32);
  Bytes want = Cat(Hex("01 01 00 00 02 01 | 20 00 01 00 | 00 00 | 44 33 22 11"), Seq(0, 32));
  EXPECT_TRUE(SameBytes(EncodeChallenge(m), want));

  m.dhgid = kDhGroup2048;
  m.dhv = Hex("a1 a2 a3 a4");
  Bytes want_dh = Cat(Cat(Hex("01 01 00 00 02 01 | 20 00 01 01 | 04 00 | 44 33 22 11"), Seq(0, 32)), m.dhv);
  EXPECT_TRUE(SameBytes(EncodeChallenge(m), want_dh));

  AuthChallenge d;
  ASSERT_EQ(DecodeChallenge(want_dh.data(), want_dh.size(), &d), AuthDecodeError::kOk);
  EXPECT_EQ(d.t_id, 0x0102);
  EXPECT_EQ(d.hashid, 1);
  EXPECT_EQ(d.dhgid, 1);
  EXPECT_EQ(d.seqnum, 0x11223344u);
  EXPECT_EQ(d.c1, Seq(0, 32));
  EXPECT_EQ(d.dhv, m.dhv);
  EXPECT_EQ(DecodeChallenge(want_dh.data(), want_dh.size() - 1, &d), AuthDecodeError::kTruncated);
  Bytes big = Cat(want_dh, Hex("00"));
  EXPECT_EQ(DecodeChallenge(big.data(), big.size(), &d), AuthDecodeError::kOversized);
}

TEST(AuthReply, GoldenBytes) {
  AuthReply m;
  m.t_id = 0xBEEF;
  m.cvalid = true;
  m.seqnum = 7;
  m.r1 = Seq(0x10, 48);
  m.c2 = Seq(0x80, 48);
  m.dhv = Hex("01 02");
  Bytes want = Hex("01 02 00 00 ef be | 30 00 01 00 | 02 00 | 07 00 00 00");
  want = Cat(Cat(Cat(want, Seq(0x10, 48)), Seq(0x80, 48)), Hex("01 02"));
  EXPECT_TRUE(SameBytes(EncodeReply(m), want));

  AuthReply d;
  ASSERT_EQ(DecodeReply(want.data(), want.size(), &d), AuthDecodeError::kOk);
  EXPECT_EQ(d.t_id, 0xBEEF);
  EXPECT_TRUE(d.cvalid);
  EXPECT_EQ(d.seqnum, 7u);
  EXPECT_EQ(d.r1, m.r1);
  EXPECT_EQ(d.c2, m.c2);
  EXPECT_EQ(d.dhv, m.dhv);

  // One-way: C2 is carried (zero) but not valid.
  AuthReply one;
  one.t_id = 1;
  one.r1 = Seq(0, 32);
  Bytes want1 = Cat(Cat(Hex("01 02 00 00 01 00 | 20 00 00 00 | 00 00 | 00 00 00 00"), Seq(0, 32)), Zeros(32));
  EXPECT_TRUE(SameBytes(EncodeReply(one), want1));
}

TEST(AuthReply, BadInput) {
  AuthReply m;
  m.r1 = Seq(0, 32);
  Bytes b = EncodeReply(m);
  AuthReply d;
  EXPECT_EQ(DecodeReply(b.data(), 15, &d), AuthDecodeError::kTruncated);
  EXPECT_EQ(DecodeReply(b.data(), b.size() - 1, &d), AuthDecodeError::kTruncated);
  Bytes big = Cat(b, Hex("00"));
  EXPECT_EQ(DecodeReply(big.data(), big.size(), &d), AuthDecodeError::kOversized);
  Bytes x = b;
  x[1] = kAuthIdSuccess2;
  EXPECT_EQ(DecodeReply(x.data(), x.size(), &d), AuthDecodeError::kWrongMessage);
  x = b;
  x[8] = 2;  // CVALID neither 0 nor 1
  EXPECT_EQ(DecodeReply(x.data(), x.size(), &d), AuthDecodeError::kBadField);
  x = Hex("01 02 00 00 00 00 | 00 00 00 00 | 00 00 | 00 00 00 00");  // HL 0
  EXPECT_EQ(DecodeReply(x.data(), x.size(), &d), AuthDecodeError::kBadField);
  x = Cat(Hex("01 02 00 00 00 00 | 41 00 00 00 | 00 00 | 00 00 00 00"), Zeros(2 * 0x41));  // HL 65
  EXPECT_EQ(DecodeReply(x.data(), x.size(), &d), AuthDecodeError::kBadField);
}

TEST(AuthSuccess1, GoldenBytes) {
  AuthSuccess1 m;
  m.t_id = 0x0005;
  m.hl = 64;
  m.rvalid = true;
  m.r2 = Seq(0x40, 64);
  Bytes want = Cat(Hex("01 03 00 00 05 00 | 40 00 01 | 00 00 00 00 00 00 00"), Seq(0x40, 64));
  EXPECT_TRUE(SameBytes(EncodeSuccess1(m), want));
  AuthSuccess1 d;
  ASSERT_EQ(DecodeSuccess1(want.data(), want.size(), &d), AuthDecodeError::kOk);
  EXPECT_EQ(d.hl, 64);
  EXPECT_TRUE(d.rvalid);
  EXPECT_EQ(d.r2, m.r2);

  m.rvalid = false;
  Bytes want1 = Hex("01 03 00 00 05 00 | 40 00 00 | 00 00 00 00 00 00 00");
  EXPECT_TRUE(SameBytes(EncodeSuccess1(m), want1));
  ASSERT_EQ(DecodeSuccess1(want1.data(), want1.size(), &d), AuthDecodeError::kOk);
  EXPECT_FALSE(d.rvalid);
  EXPECT_EQ(DecodeSuccess1(want.data(), want.size() - 1, &d), AuthDecodeError::kTruncated);
  Bytes big = Cat(want1, Hex("00"));
  EXPECT_EQ(DecodeSuccess1(big.data(), big.size(), &d), AuthDecodeError::kOversized);
}

TEST(AuthSuccess2, GoldenBytes) {
  Bytes want = Cat(Hex("01 04 00 00 34 12"), Zeros(10));
  EXPECT_TRUE(SameBytes(EncodeSuccess2(0x1234), want));
  uint16_t t = 0;
  ASSERT_EQ(DecodeSuccess2(want.data(), want.size(), &t), AuthDecodeError::kOk);
  EXPECT_EQ(t, 0x1234);
  EXPECT_EQ(DecodeSuccess2(want.data(), 15, &t), AuthDecodeError::kTruncated);
  Bytes big = Cat(want, Hex("00"));
  EXPECT_EQ(DecodeSuccess2(big.data(), big.size(), &t), AuthDecodeError::kOversized);
  EXPECT_EQ(DecodeSuccess2(want.data(), 3, &t), AuthDecodeError::kTruncated);
}

TEST(AuthFailure, GoldenBytes) {
  AuthFailure f;
  f.t_id = 0x0A0B;
  f.explanation = kAuthExplHashUnusable;
  EXPECT_TRUE(SameBytes(EncodeFailure1(f), Hex("00 f1 00 00 0b 0a 01 04")));
  EXPECT_TRUE(SameBytes(EncodeFailure2(f), Hex("00 f0 00 00 0b 0a 01 04")));
  Bytes b = Hex("00 f0 00 00 0b 0a 01 07");
  AuthFailure d;
  ASSERT_EQ(DecodeFailure2(b.data(), b.size(), &d), AuthDecodeError::kOk);
  EXPECT_EQ(d.t_id, 0x0A0B);
  EXPECT_EQ(d.rescode, 1);
  EXPECT_EQ(d.explanation, kAuthExplIncorrectMessage);
  EXPECT_EQ(DecodeFailure1(b.data(), b.size(), &d), AuthDecodeError::kWrongMessage);
  EXPECT_EQ(DecodeFailure2(b.data(), 7, &d), AuthDecodeError::kTruncated);
  Bytes big = Cat(b, Hex("00"));
  EXPECT_EQ(DecodeFailure2(big.data(), big.size(), &d), AuthDecodeError::kOversized);
}

TEST(AuthHeader, Decode) {
  Bytes b = Hex("01 02 00 00 34 12");
  AuthHeaderWire h;
  ASSERT_EQ(DecodeAuthHeader(b.data(), b.size(), &h), AuthDecodeError::kOk);
  EXPECT_EQ(h.auth_type, 0x01);
  EXPECT_EQ(h.auth_id, 0x02);
  EXPECT_EQ(h.t_id, 0x1234);
  EXPECT_EQ(DecodeAuthHeader(b.data(), 5, &h), AuthDecodeError::kTruncated);
}

}  // namespace
}  // namespace nvmeof::nvme
