// Golden values for the NVMe/TCP TLS PSK handling in tls_psk.h.
//
// The specification gives no numeric examples, so every expected value here was computed
// independently with Python 3's hashlib, hmac, zlib (CRC-32), struct and base64 modules, with
// RFC 5869's HKDF written out (Extract = HMAC(zeros, ikm); Expand = T(i) = HMAC(prk, T(i-1) +
// info + i)) and RFC 8446's HkdfLabel (be16(L) + len + "tls13 " + label + len + context):
//   retained = ExpandLabel(Extract(key), "HostNQN", hostnqn, len(key))     (hh 01/02)
//   digest   = b64(HMAC(retained, hostnqn + " " + subnqn + " NVMe-over-Fabrics"))
//   tls0     = ExpandLabel(Extract(retained), "nvme-tls-psk", identity0, HashLen)
//   tls1     = ExpandLabel(Extract(retained), "nvme-tls-psk", "%02d %s" % (hh, digest), HashLen)
// with key = bytes 00..1f (hh 01), 40..6f (hh 02), 80..9f (hh 00, SHA-256 by length).
#include "gateway/nvmf/tls_psk.h"

#include <gtest/gtest.h>

#include "gateway/protocol/golden_bytes.h"

namespace nvmeof::tls {
namespace {

using golden::Hex;

constexpr char kHostNqn[] = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";
constexpr char kSubNqn[] = "nqn.2016-06.io.test:t1";

constexpr char kSha256Psk[] = "NVMeTLSkey-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
constexpr char kSha384Psk[] =
    "NVMeTLSkey-1:02:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5voBXMjQ==:";
constexpr char kPlainPsk[] = "NVMeTLSkey-1:00:gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp9vmVbU:";

Bytes Seq(uint8_t first, size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(first + i);
  return b;
}

TEST(TlsPsk, ParseAndFormatInterchange) {
  auto p = ParsePskInterchange(kSha256Psk);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->hash, 1);
  EXPECT_EQ(p->key, Seq(0, 32));
  EXPECT_EQ(FormatPskInterchange(*p), kSha256Psk);
  auto q = ParsePskInterchange(kSha384Psk);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->hash, 2);
  EXPECT_EQ(q->key, Seq(0x40, 48));
  EXPECT_EQ(FormatPskInterchange(*q), kSha384Psk);
  auto r = ParsePskInterchange(kPlainPsk);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->hash, 0);
  EXPECT_EQ(IdentityHash(*r), 1);
}

TEST(TlsPsk, BadInterchangeNamesTheProblemNotTheKey) {
  auto msg = [](std::string_view s) { return ParsePskInterchange(s).status().message(); };
  EXPECT_NE(msg("DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:").find("NVMeTLSkey-1"), std::string::npos);
  EXPECT_NE(msg("NVMeTLSkey-1:03:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:").find("unknown hash 3"),
            std::string::npos);
  EXPECT_NE(msg("NVMeTLSkey-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaS:").find("CRC-32"), std::string::npos);
  EXPECT_NE(msg("NVMeTLSkey-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR").find("end with"), std::string::npos);
  EXPECT_NE(msg("NVMeTLSkey-1:01:AAECAwQF:").find("32 or 48"), std::string::npos);
  EXPECT_NE(msg("NVMeTLSkey-1:01:!!ECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:").find("base64"), std::string::npos);
  // A 48-byte key with hash 01 (SHA-256, 32 bytes).
  std::string wrong = kSha384Psk;
  wrong[14] = '1';
  EXPECT_NE(msg(wrong).find("does not fit hash sha256"), std::string::npos);
  EXPECT_EQ(msg(wrong).find("QEFC"), std::string::npos);
}

TEST(TlsPsk, RetainedDigestAndTlsPskSha256) {
  auto p = ParsePskInterchange(kSha256Psk).value();
  Bytes retained = RetainedPsk(p, kHostNqn);
  EXPECT_EQ(retained, Hex("528bdd057636a22352e20f7203eb3450998ca16c98efc27315eea7d0c52ac634"));
  std::string digest = PskDigest(1, retained, kHostNqn, kSubNqn);
  EXPECT_EQ(digest, "K7A5xYFCMhkNYbM0QKQivr/6cbC/MFG6mZ1xi+A/zH8=");
  DerivedPsk v0 = DerivePsk(p, kHostNqn, kSubNqn, 0);
  EXPECT_EQ(v0.identity, std::string("NVMe0R01 ") + kHostNqn + " " + kSubNqn);
  EXPECT_EQ(v0.key, Hex("0dfcdaea947059e1894818693d71539a0b9b807a3ae945ea1a1fad9f6980c25e"));
  EXPECT_EQ(v0.hash, 1);
  DerivedPsk v1 = DerivePsk(p, kHostNqn, kSubNqn, 1);
  EXPECT_EQ(v1.identity, std::string("NVMe1R01 ") + kHostNqn + " " + kSubNqn + " " + digest);
  EXPECT_EQ(v1.key, Hex("5c3269b041dd79dd00ef08ee2163b790d3c35142431c8c47cc55ab782aaf77a2"));
}

TEST(TlsPsk, RetainedDigestAndTlsPskSha384) {
  auto p = ParsePskInterchange(kSha384Psk).value();
  Bytes retained = RetainedPsk(p, kHostNqn);
  EXPECT_EQ(retained, Hex("8418652664a51df89eca2ced51a6dd9f6e3df76838bc136f7ede96e5baa1336a"
                          "1c085b026577d7c932a9453273891607"));
  EXPECT_EQ(PskDigest(2, retained, kHostNqn, kSubNqn), "OYJ3FKEqzwex1E4HnA8bxV9Yw3LMzpO87ovTaWhrDAVauG5S30bkdTaVG0Djc8j4");
  DerivedPsk v0 = DerivePsk(p, kHostNqn, kSubNqn, 0);
  EXPECT_EQ(v0.identity.substr(0, 9), "NVMe0R02 ");
  EXPECT_EQ(v0.key, Hex("b2d967427f63dc445d0c5462cfece32db5e7497cea4265f64c8061abfd319f6f"
                        "60ead66d7e13039f24110fac75d84b1d"));
  DerivedPsk v1 = DerivePsk(p, kHostNqn, kSubNqn, 1);
  EXPECT_EQ(v1.key, Hex("f70caf1641bcdc5e468de4d0c528afc419e0be239e7ee433902af07875b8acb7"
                        "c41f2d2e3234d79c842a433a546985a1"));
  EXPECT_EQ(v1.hash, 2);
}

TEST(TlsPsk, UntransformedKeyIsItsOwnRetainedPsk) {
  auto p = ParsePskInterchange(kPlainPsk).value();
  EXPECT_EQ(RetainedPsk(p, kHostNqn), Seq(0x80, 32));
  EXPECT_EQ(PskDigest(1, RetainedPsk(p, kHostNqn), kHostNqn, kSubNqn), "nAbthPrHjf/Wx5T1bSPXik6dmiYyd8TmZ1Imdy6csRg=");
  EXPECT_EQ(DerivePsk(p, kHostNqn, kSubNqn, 0).key,
            Hex("d6cfbf53eba2121278404a02c238ae48de4edb611b4aa5749001eae6ca129b20"));
  EXPECT_EQ(DerivePsk(p, kHostNqn, kSubNqn, 1).key,
            Hex("04af3eb4a2762fe1b6fb97004136a684c08d7cb21569d60a2b51dd837765c456"));
}

TEST(TlsPsk, IdentityParseAndAccept) {
  auto p = ParsePskInterchange(kSha256Psk).value();
  for (int v : {0, 1}) {
    DerivedPsk d = DerivePsk(p, kHostNqn, kSubNqn, v);
    auto id = ParsePskIdentity(d.identity);
    ASSERT_TRUE(id.ok()) << id.status().message();
    EXPECT_EQ(id->version, v);
    EXPECT_EQ(id->hash, 1);
    EXPECT_EQ(id->hostnqn, kHostNqn);
    EXPECT_EQ(id->subnqn, kSubNqn);
    EXPECT_EQ(FormatPskIdentity(*id), d.identity);
    auto acc = AcceptIdentity(*id, p);
    ASSERT_TRUE(acc.ok()) << acc.status().message();
    EXPECT_EQ(acc->key, d.key);
  }
  // Another PSK: the version 1 digest differs; the version 0 identity's hash does not fit a
  // SHA-384 key.
  auto other = ParsePskInterchange(kPlainPsk).value();
  auto id1 = ParsePskIdentity(DerivePsk(p, kHostNqn, kSubNqn, 1).identity).value();
  EXPECT_NE(AcceptIdentity(id1, other).status().message().find("digest"), std::string::npos);
  auto id0 = ParsePskIdentity(DerivePsk(p, kHostNqn, kSubNqn, 0).identity).value();
  EXPECT_NE(AcceptIdentity(id0, ParsePskInterchange(kSha384Psk).value()).status().message().find("hash"),
            std::string::npos);

  EXPECT_FALSE(ParsePskIdentity("NVMe2R01 a b").ok());
  EXPECT_FALSE(ParsePskIdentity("NVMe0R03 a b").ok());
  EXPECT_FALSE(ParsePskIdentity("NVMe0R01 a").ok());
  EXPECT_FALSE(ParsePskIdentity("NVMe1R01 a b").ok());
  EXPECT_FALSE(ParsePskIdentity("NVMe0R01 a  b").ok());
  EXPECT_FALSE(ParsePskIdentity("client1").ok());
}

}  // namespace
}  // namespace nvmeof::tls
