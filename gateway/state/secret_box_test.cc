// SecretBox against golden values computed independently with python3-cryptography's Fernet
// (the reference gateway's own library), key file parsing, and what a wrong key or a broken
// value gives.
#include "gateway/state/secret_box.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "gateway/state/errc.h"

namespace nvmeof {
namespace {

// 48 bytes 0x40..0x6f, base64 on two lines under a PEM-style armour: the first 32 bytes are
// the key.
const char kKeyText[] =
    "-----BEGIN NVMEOF KEY-----\n"
    "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xd\n"
    "Xl9gYWJjZGVmZ2hpamtsbW5v\n"
    "-----END NVMEOF KEY-----\n";

// A test DH-HMAC-CHAP key (the reference's tests/test_dhchap.py hostdhchap1).
const char kSecret[] = "DHHC-1:00:MWPqcx1Ug1debg8fPIGpkqbQhLcYUt39k7UWirkblaKEH1kE:";

// The reference's encrypt_text(kSecret) with that key, time 1700000000 and IV 00..0f:
//   base64.b64encode(Fernet(urlsafe_b64encode(key[:32]))._encrypt_from_parts(
//       kSecret.encode(), 1700000000, bytes(range(16))))
const char kGolden[] =
    "Z0FBQUFBQmxVX0VBQUFFQ0F3UUZCZ2NJQ1FvTERBME9Ed1NVZnlud1NMQmVRMURoR3h2OWJuOE5jOTEtUGVKSmx4dW9zVFVxcVhRNFNtNU5E"
    "empCcXc5ZHNsUlJsRk5WOXJlUHNrVUlQLUR0RjNxeFEzblpzbE12akpiNC1sak40ekhGY3ZhNmhOLVNSOEoyMFQzTlhYYndJTUR0RFJhMkdn"
    "PT0=";

// A TLS PSK sealed the same way (time 1712345678, IV 0x64..0x73).
const char kPsk[] = "NVMeTLSkey-1:01:YzrPElk4OYy1uUERriPwiiyEJE/+J5ckYpLB+5NHMsR2iBuT:";
const char kGoldenPsk[] =
    "Z0FBQUFBQm1FRkpPWkdWbVoyaHBhbXRzYlc1dmNIRnljeElSa01ScGZfSnhzclI2b0x5VmFsVEl1cHVMSXczSnVtMU80c1QyaUpVX0txcmV1"
    "YWZpR1dNMERjU3Y4d1JzN284akdPTUt6YTh2QVM1bUs3U2JXd0YwNDAzWGpJbWVEcmM5WjI2RWFDYnp3bnpnVmFRQUpEMk9SYU95NEJEd1N6"
    "OXFCb1pNMHdpQWVxaGRNSFdzcDFZPQ==";

std::array<uint8_t, 16> Iv(uint8_t first) {
  std::array<uint8_t, 16> iv;
  for (int i = 0; i < 16; i++) iv[i] = static_cast<uint8_t>(first + i);
  return iv;
}

TEST(SecretBox, SealsExactlyAsTheReference) {
  auto box = SecretBox::FromKeyText(kKeyText);
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  EXPECT_EQ(box->SealWith(kSecret, 1700000000, Iv(0)), kGolden);
  EXPECT_EQ(box->SealWith(kPsk, 1712345678, Iv(100)), kGoldenPsk);
}

TEST(SecretBox, OpensWhatTheReferenceSealed) {
  auto box = SecretBox::FromKeyText(kKeyText);
  ASSERT_TRUE(box.ok());
  auto a = box->Open(kGolden);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, kSecret);
  auto b = box->Open(kGoldenPsk);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(*b, kPsk);
}

TEST(SecretBox, SealIsRandomAndOpens) {
  auto box = SecretBox::FromKeyText(kKeyText);
  ASSERT_TRUE(box.ok());
  const std::string s1 = box->Seal(kSecret), s2 = box->Seal(kSecret);
  EXPECT_NE(s1, s2);
  EXPECT_EQ(s1.find("DHHC"), std::string::npos);
  EXPECT_EQ(box->Open(s1).value(), kSecret);
  EXPECT_EQ(box->Open(s2).value(), kSecret);
  EXPECT_EQ(box->Open(box->Seal("")).value(), "");
}

TEST(SecretBox, AnotherKeyOrABrokenValueDoesNotOpen) {
  auto box = SecretBox::FromKeyText(kKeyText);
  std::string other(kKeyText);
  other.replace(other.find("QEFC"), 4, "QUFC");  // first byte 0x41 instead of 0x40
  auto wrong = SecretBox::FromKeyText(other);
  ASSERT_TRUE(box.ok() && wrong.ok());
  auto r = wrong->Open(kGolden);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(state::errc::kSecretNotOpened));
  EXPECT_EQ(r.status().message(), "it was encrypted with another key");
  for (const char* bad : {"", "DHHC-1:00:MWPqcx1Ug1debg8fPIGpkqbQhLcYUt39k7UWirkblaKEH1kE:", "Z0FB", "<invalid>"}) {
    auto o = box->Open(bad);
    ASSERT_FALSE(o.ok()) << bad;
    EXPECT_TRUE(o.status().Is(state::errc::kSecretNotOpened));
    EXPECT_EQ(o.status().message().find("MWPq"), std::string::npos);
  }
  std::string flipped(kGolden);
  flipped[60] = flipped[60] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(box->Open(flipped).ok());
}

TEST(SecretBox, KeyFileAsCephadmWritesIt) {
  // cephadm turns the line breaks into spaces.
  std::string spaced(kKeyText);
  for (auto& c : spaced)
    if (c == '\n') c = ' ';
  auto box = SecretBox::FromKeyText(spaced);
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  EXPECT_EQ(box->Open(kGolden).value(), kSecret);
}

TEST(SecretBox, BadKeyFilesSayWhy) {
  auto why = [](const std::string& text) {
    auto b = SecretBox::FromKeyText(text);
    EXPECT_FALSE(b.ok());
    if (b.ok()) return std::string();
    EXPECT_TRUE(b.status().Is(state::errc::kSecretKeyFile));
    return b.status().message();
  };
  EXPECT_EQ(why(""), "the key is empty");
  EXPECT_EQ(why("QEFCQ0RF"), "the key does not start with \"-----BEGIN\"");
  EXPECT_EQ(why("-----BEGIN A-----QEFC-----END B-----"), "the key's BEGIN and END labels differ");
  EXPECT_EQ(why("-----BEGIN A-----QEFC"), "the key has no \"-----END\" line");
  EXPECT_EQ(why("-----BEGIN A-----QE*C-----END A-----"), "the key is not valid base64");
  EXPECT_EQ(why("-----BEGIN A-----QEFCQ0RF-----END A-----"), "the key has 6 bytes, at least 32 are needed");
}

TEST(SecretBox, FromKeyFile) {
  char path[] = "/tmp/secret_box_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, kKeyText, sizeof(kKeyText) - 1), static_cast<ssize_t>(sizeof(kKeyText) - 1));
  close(fd);
  auto box = SecretBox::FromKeyFile(path);
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  EXPECT_EQ(box->Open(kGolden).value(), kSecret);
  unlink(path);
  auto missing = SecretBox::FromKeyFile(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), std::string("cannot read ") + path + ": No such file or directory");
}

}  // namespace
}  // namespace nvmeof
