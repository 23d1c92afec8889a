// Golden values for the DH-HMAC-CHAP key handling in auth_keys.h.
//
// The specification gives no numeric examples for these steps, so every expected value here
// was computed independently with Python 3's hashlib, hmac, zlib (CRC-32) and base64 modules,
// and plain integer arithmetic for FFDHE2048 (the prime built from e as RFC 7919 appendix A.1
// defines it, g = 2, y = pow(2, x, p)), following NVMe Base 2.0 section 8.13.5:
//   secret     = "DHHC-1:%02d:" + b64(key + crc32(key).to_bytes(4, "little")) + ":"
//   Kh'        = HMAC-hh(key, hostnqn + "NVMe-over-Fabrics"), Kc' likewise with the subsystem NQN
//   R1         = HMAC(Kh', C1 + le32(S1) + le16(T_ID) + SC_C + "HostHost" + hostnqn + 00 + subnqn)
//   R2         = HMAC(Kc', C2 + le32(S2) + le16(T_ID) + SC_C + "Controller" + subnqn + 00 + hostnqn)
//   Ks         = H(g^xy mod p padded to 256 bytes), Ca = HMAC(Ks, C), PSK = HMAC(Ks, C1 + C2)
// with key = bytes 00..1f (SHA-256), 40..6f (SHA-384), 80..bf (SHA-512), C1 = 20..3f,
// C2 = a0..bf, x = bytes 01..20, peer x = bytes 41..60.
#include "gateway/nvmf/auth_keys.h"

#include <gtest/gtest.h>

#include "gateway/protocol/golden_bytes.h"

namespace nvmeof::auth {
namespace {

using golden::Hex;

constexpr char kHostNqn[] = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";
constexpr char kSubNqn[] = "nqn.2016-06.io.test:t1";

Bytes Seq(uint8_t first, size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(first + i);
  return b;
}

constexpr char kHostSecret[] = "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
constexpr char kCtrlSecret[] =
    "DHHC-1:02:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5voBXMjQ==:";
constexpr char kSha512Secret[] =
    "DHHC-1:03:gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp+goaKjpKWmp6ipqqusra6vsLGys7S1tre4ubq7vL2+v6rfDIU=:";

TEST(DhchapSecret, ParseAndFormat) {
  auto h = ParseDhchapSecret(kHostSecret);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->hash, 1);
  EXPECT_EQ(h->key, Seq(0, 32));
  EXPECT_EQ(FormatDhchapSecret(*h), kHostSecret);
  auto c = ParseDhchapSecret(kCtrlSecret);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->hash, 2);
  EXPECT_EQ(c->key, Seq(0x40, 48));
  EXPECT_EQ(FormatDhchapSecret(*c), kCtrlSecret);
  auto s5 = ParseDhchapSecret(kSha512Secret);
  ASSERT_TRUE(s5.ok());
  EXPECT_EQ(s5->key, Seq(0x80, 64));
  // Hash 00: any of the three lengths, used untransformed.
  auto z = ParseDhchapSecret("DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:");
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->hash, 0);
  EXPECT_EQ(TransformKey(*z, kHostNqn), Seq(0, 32));
}

TEST(DhchapSecret, Refusals) {
  for (const char* bad : {
           "",
           "DHHC-2:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:",  // version
           "DHHC-1:1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:",   // hash digits
           "DHHC-1:04:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:",  // unknown hash
           "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR",   // no final ':'
           "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaS:",  // CRC
           "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+Kfia:",   // length
           "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+Kfi!R:",  // base64
           // a 48-byte key with hash 01 (SHA-256 needs 32)
           "DHHC-1:01:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5voBXMjQ==:",
       }) {
    auto r = ParseDhchapSecret(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_TRUE(r.status().IsInvalidArgument());
      // The message never repeats the key material.
      EXPECT_EQ(r.status().message().find("AAECAw"), std::string::npos);
    }
  }
}

TEST(DhchapSecret, Crc32) {
  // The standard check value of CRC-32 (IEEE).
  const char* s = "123456789";
  EXPECT_EQ(Crc32(reinterpret_cast<const uint8_t*>(s), 9), 0xCBF43926u);
}

TEST(DhchapKeys, PolicyLists) {
  auto h = ParseHashList("sha384, sha256");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h, (std::vector<uint8_t>{2, 1}));
  auto g = ParseDhGroupList("ffdhe8192,null");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, (std::vector<uint8_t>{5, 0}));
  EXPECT_FALSE(ParseHashList("").ok());
  EXPECT_FALSE(ParseHashList("md5").ok());
  EXPECT_FALSE(ParseHashList("?").ok());
  EXPECT_FALSE(ParseHashList("sha256,sha256").ok());
  EXPECT_FALSE(ParseDhGroupList("ffdhe1024").ok());
  EXPECT_FALSE(ParseDhGroupList(",").ok());
}

TEST(DhchapKeys, Transform) {
  EXPECT_EQ(TransformKey(*ParseDhchapSecret(kHostSecret), kHostNqn),
            Hex("6ce1e4ea31e8331a4fe5826bfde17a5cd386b8f0338748919e279ba6c55bf727"));
  EXPECT_EQ(TransformKey(*ParseDhchapSecret(kCtrlSecret), kSubNqn),
            Hex("e5489b304f0887838426419dd31cb6a0dc8a7eaff0281d68d21abbca8c1b5860304fc5d1a898ada7e3717cf4f5464474"));
  EXPECT_EQ(TransformKey(*ParseDhchapSecret(kSha512Secret), kHostNqn),
            Hex("91af56033ef81c5da05a8de5c7801aaec15cefe798688c17be5df6d5e4757db6"
                "33df6d9981f4289645c5033dec37644318a9af18bfabef16675626332d950b5d"));
}

TEST(DhchapKeys, Responses) {
  Bytes kh = TransformKey(*ParseDhchapSecret(kHostSecret), kHostNqn);
  Bytes kc = TransformKey(*ParseDhchapSecret(kCtrlSecret), kSubNqn);
  EXPECT_EQ(HostResponse(1, kh, Seq(0x20, 32), 0x01020304, 0x0506, 0, kHostNqn, kSubNqn),
            Hex("7cd798ec909d85f24e7a17f527b95d8cf114b9d78ac26eeea7e1828953d7c54f"));
  EXPECT_EQ(ControllerResponse(1, kc, Seq(0xa0, 32), 0x0a0b0c0d, 0x0506, 0, kHostNqn, kSubNqn),
            Hex("459b9121936025dd6220200fdfe4fbf82b927a54d4d70284a434b486ddeadf5e"));
  // SHA-384 response with an untransformed key (hash 00) of 32 bytes.
  EXPECT_EQ(HostResponse(2, Seq(0, 32), Seq(0, 48), 7, 1, 0, kHostNqn, kSubNqn),
            Hex("0696d967483251f7d9794f166aabf65c125c75ea1913902f12b2179d7267e9be"
                "5eecb32bc22612ed323f6e922de1a4e5"));
}

const char kY[] =
    "0eef0c0eae9c65a3332cdc742b58561d362c0af526f8ad528b19ff39c91434312f83302ed9dc6f2b84b250482dbd8096"
    "2154f8a6d683741bf8bf4f3fdee22f80541a77553d1ae7a096c521f869987ae5eca1090d93e7bdea0b4349f17fee34f4"
    "775bfb380f426dec937b25825680c6e2b8c4c9eede64b91f5cdc02ba78e75908d47cd27fda4b5188c22baf2acd1e861e"
    "d0864e9eb9346640d354eada9f7156a601387ba5f1b8609733707803a5ac866fc1bbe54b15a99934727bc5c157f893d8"
    "67a89abf0ce3dd0cf3d7ce00073db8b3bbae1486faedc462f7edeb3dc44ba30336de3d4dbfb4f14f143c46b0ba93f316"
    "f50c3377b9a38a27ae048f5605a4dcbf";
const char kPeerY[] =
    "236764e6b1b9c26e2895826aabbc23188b8414ec6bf63987a068d3ef417938e1ed6e3ff157e4aa24488518d9e4540cec"
    "5ed8bee54117c4cda6a2c8e678b2ee2ec27072439b4b569e16ab80abd8abe5ae7cafe11304b3922fc1f2646e4231a03c"
    "2554bf62774d0bbbba2e1ed0ff42af17907a47cff6b91ad561d66f667ff16baee91bdfebe76757298b8c7fb715a3033e"
    "2ee48d6ba9a4afc0f78eac16a428ef343dac5cf790bc752482a2f3f0e901b03e8ba9755283b43fdb6284e6c739d4a1e1"
    "bd647da9481cc5f16d9a4567e63660601932955a570f7955da890520cd3f5940eba47c0b4d3f3d8f88303b16085c1596"
    "9b67011ccef86ee02a828e580c3619e3";
const char kZ[] =
    "221fda9372139983b198a499e7391de3f84ffb82815202c0fc97e06449fac9461546333f5e1e15916ec61fd0c327df76"
    "1c1c73962f5ec8db503f9a4e5ff01890d192c35f7c7de80a04b21f787d9b75f80a474cb8bd26646c844c430aa0b965b8"
    "4df97377c0689f092bc1188548f23a69d953a58562b363473c497b790a3a820d82590ecaa9ca1814c00c4e2b7138f335"
    "2ee6f21174b1c47925b3b935d1740012bfa88aae7e585473ed608df19b8f3d47910cbb0a7c7c3953aecb985577eedab9"
    "f5af09f0b88c81ec12fdb1a6a763d3f2bfec31f7ea5c4b948f5bbe4eb1d5f561b4d95a66cacddf133b017610b786ee0c"
    "29f2a81c707906b2d03becdd4e33f137";

TEST(DhchapKeys, Ffdhe2048Golden) {
  auto kp = DhKeyPair::FromPrivate(1, Seq(1, 32));
  ASSERT_TRUE(kp.ok()) << kp.status().ToString();
  EXPECT_EQ(kp->public_value(), Hex(kY));
  auto z = kp->SharedSecret(Hex(kPeerY));
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  EXPECT_EQ(*z, Hex(kZ));
  Bytes ks = SessionKey(1, *z);
  EXPECT_EQ(ks, Hex("e0f9e5c4e867239e3fd9a2355b463030e7dfd5cb449c3bac1e2c30b6f8fd4804"));
  EXPECT_EQ(AugmentedChallenge(1, ks, Seq(0x20, 32)),
            Hex("fafeb2c809fa26b8bdec1b379f071556245a901d7361a8e32f1532d7b5913085"));
  EXPECT_EQ(GeneratedPsk(1, ks, Seq(0x20, 32), Seq(0xa0, 32)),
            Hex("3c2db082d43a9e9d79ab700aa734240c817cf8ee090eaac6e66d5926ad9f6ff2"));
}

TEST(DhchapKeys, EveryGroupAgrees) {
  for (uint8_t g = 1; g <= 5; ++g) {
    auto a = DhKeyPair::Generate(g);
    auto b = DhKeyPair::Generate(g);
    ASSERT_TRUE(a.ok() && b.ok()) << int(g);
    EXPECT_EQ(a->public_value().size(), static_cast<size_t>(DhValueLength(g)));
    auto za = a->SharedSecret(b->public_value());
    auto zb = b->SharedSecret(a->public_value());
    ASSERT_TRUE(za.ok() && zb.ok()) << int(g);
    EXPECT_EQ(*za, *zb);
    EXPECT_EQ(za->size(), static_cast<size_t>(DhValueLength(g)));
  }
}

TEST(DhchapKeys, BadPeerValues) {
  auto a = DhKeyPair::Generate(1);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->SharedSecret(Bytes(255, 1)).ok());  // wrong length
  Bytes one(256, 0);
  one[255] = 1;
  EXPECT_FALSE(a->SharedSecret(one).ok());            // 1
  EXPECT_FALSE(a->SharedSecret(Bytes(256, 0)).ok());  // 0
  EXPECT_FALSE(a->SharedSecret(Bytes(256, 0xFF)).ok());  // > p
  EXPECT_FALSE(DhKeyPair::Generate(0).ok());
  EXPECT_FALSE(DhKeyPair::Generate(6).ok());
}

}  // namespace
}  // namespace nvmeof::auth
