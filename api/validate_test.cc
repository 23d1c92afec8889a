#include "api/validate.h"
#include "gateway/state/state_keys.h"

#include <gtest/gtest.h>

#include <string>

namespace nvmeof::api {
namespace {

::testing::AssertionResult MessageHas(const Status& s, const std::string& needle) {
  if (s.message().find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "message \"" << s.message() << "\" lacks \"" << needle
                                       << "\"";
}

TEST(Nqn, AcceptsSpecForms) {
  EXPECT_TRUE(ValidateNqn("nqn.2016-06.io.spdk:cnode1").ok());
  EXPECT_TRUE(ValidateNqn("nqn.2014-08.org.nvmexpress:uuid:948878ee-c3b2-4d58-a29b-2cff713fc02d").ok());
  EXPECT_TRUE(ValidateNqn("nqn.2001-04.com.example:storage.disk_2").ok());  // '_' is spec-valid
  EXPECT_TRUE(ValidateNqn("nqn.2016-06.io.spdk:a").ok());
  EXPECT_TRUE(ValidateNqn(kDiscoveryNqn).ok());
  EXPECT_TRUE(ValidateNqn("nqn.2016-06.io.spdk:cnode1:with:more:colons").ok());
  EXPECT_TRUE(ValidateNqn("nqn.2016-06.io.spdk:ünïcode").ok());
}

TEST(Nqn, LengthLimits) {
  Status s = ValidateNqn("nqn.2016");
  EXPECT_TRUE(s.Is(errc::kInvalidRequest));
  EXPECT_EQ(s.message(), "NQN \"nqn.2016\" is too short, minimal length is 11");

  const std::string prefix = "nqn.2016-06.io.spdk:";
  EXPECT_TRUE(ValidateNqn(prefix + std::string(223 - prefix.size(), 'x')).ok());
  s = ValidateNqn(prefix + std::string(224 - prefix.size(), 'x'));
  EXPECT_TRUE(s.Is(errc::kInvalidRequest));
  EXPECT_TRUE(MessageHas(s, "is too long, maximal length is 223"));
}

TEST(Nqn, RejectsMalformed) {
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2014-08.org.nvmexpress:uuid:0"),
                         "UUID is not the correct length"));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2014-08.org.nvmexpress:uuid:9e9134-3cb431-4f3e-91eb-a13cefaabebf"),
                         "UUID is not formatted correctly"));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2014-08.org.nvmexpress:uuid:948878ee-c3b2-4d58-a29b-2cff713fc0zz"),
                         "UUID is not formatted correctly"));
  EXPECT_TRUE(MessageHas(ValidateNqn("qqn.2016-06.io.spdk:cnode1"), "doesn't start with \"nqn.\""));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.016-206.io.spdk:cnode1"), "invalid date code"));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2X16-06.io.spdk:cnode1"), "invalid date code"));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2016-13.io.spdk:cnode1"), "invalid date code"));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2016-00.io.spdk:cnode1"), "invalid date code"));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2016-06-io.spdk:cnode1"), "invalid date code"));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2016-06.io.spdk:"),
                         "must contain a user specified name starting with"));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2016-06.io.spdk.cnode1"),
                         "must contain a user specified name starting with"));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2016-06.io..spdk:cnode1"),
                         "reverse domain is not formatted correctly"));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2016-06.io." + std::string(64, 'X') + ".spdk:cnode1"),
                         "reverse domain is not formatted correctly"));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2016-06.io.-spdk:cnode1"),
                         "reverse domain is not formatted correctly"));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2016-06.io.spdk-:cnode1"),
                         "doesn't end with an alphanumeric character"));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2016-06.io.9spdk:cnode1"), "doesn't start with a letter"));
  EXPECT_TRUE(MessageHas(ValidateNqn("nqn.2016-06.io.sp+dk:cnode1"), "contains a character"));
  EXPECT_TRUE(MessageHas(ValidateNqn(std::string("nqn.2016-06.io.spdk:\xff\xfe")), "UTF-8"));
  EXPECT_TRUE(MessageHas(ValidateNqn(std::string("nqn.2016-06.io.spdk:\xc3")), "UTF-8"));
}

TEST(Nqn, SubsystemRules) {
  EXPECT_TRUE(ValidateSubsystemNqn("nqn.2016-06.io.spdk:cnode1").ok());
  Status s = ValidateSubsystemNqn("nqn.2016-06.io.spdk:cnode1_X");
  EXPECT_TRUE(s.Is(errc::kInvalidRequest));
  EXPECT_EQ(s.message(), "Invalid subsystem NQN \"nqn.2016-06.io.spdk:cnode1_X\", contains invalid characters");
  s = ValidateSubsystemNqn(kDiscoveryNqn);
  EXPECT_TRUE(s.Is(errc::kInvalidRequest));
  EXPECT_EQ(s.message(), "Can't use a discovery NQN as subsystem's");
  EXPECT_FALSE(ValidateSubsystemNqn("").ok());
  EXPECT_FALSE(ValidateSubsystemNqn("*").ok());
  EXPECT_FALSE(ValidateSubsystemNqn("nqn.2016").ok());
}

TEST(Nqn, HostRules) {
  EXPECT_TRUE(ValidateHostNqn("*").ok());
  EXPECT_FALSE(ValidateHostNqn("*", /*allow_any=*/false).ok());
  EXPECT_TRUE(ValidateHostNqn("nqn.2014-08.org.nvmexpress:uuid:948878ee-c3b2-4d58-a29b-2cff713fc02d").ok());
  EXPECT_TRUE(ValidateHostNqn("nqn.2016-06.io.spdk:host1").ok());
  Status s = ValidateHostNqn("nqn.2016-06.io.spdk:host_1");
  EXPECT_EQ(s.message(), "Invalid host NQN \"nqn.2016-06.io.spdk:host_1\", contains invalid characters");
  s = ValidateHostNqn(kDiscoveryNqn);
  EXPECT_EQ(s.message(), "Can't use a discovery NQN as host's");
  EXPECT_FALSE(ValidateHostNqn("bad-nqn").ok());
  EXPECT_FALSE(ValidateHostNqn("").ok());
  EXPECT_TRUE(IsDiscoveryNqn("nqn.2014-08.org.nvmexpress.discovery"));
  EXPECT_TRUE(StateKeyElementHasSeparator("a_b"));
  EXPECT_FALSE(StateKeyElementHasSeparator("a-b"));
}

TEST(Ids, Uuid) {
  EXPECT_TRUE(ValidateUuid("948878ee-c3b2-4d58-a29b-2cff713fc02d").ok());
  EXPECT_TRUE(ValidateUuid("948878EE-C3B2-4D58-A29B-2CFF713FC02D").ok());
  EXPECT_FALSE(ValidateUuid("948878eec3b24d58a29b2cff713fc02d").ok());
  EXPECT_FALSE(ValidateUuid("948878ee-c3b2-4d58-a29b-2cff713fc02").ok());
  EXPECT_FALSE(ValidateUuid("948878ee-c3b2-4d58-a29b+2cff713fc02d").ok());
  EXPECT_TRUE(MessageHas(ValidateUuid("x"), "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"));
}

TEST(Ids, SerialNumber) {
  EXPECT_TRUE(ValidateSerialNumber("Ceph00000000000001").ok());
  EXPECT_TRUE(ValidateSerialNumber("SPDK00000000000001").ok());
  EXPECT_TRUE(ValidateSerialNumber(std::string(20, '9')).ok());
  EXPECT_TRUE(ValidateSerialNumber("with space_and_").ok());
  EXPECT_TRUE(MessageHas(ValidateSerialNumber(std::string(21, '9')), "maximal length is 20"));
  EXPECT_TRUE(MessageHas(ValidateSerialNumber(""), "can't be empty"));
  EXPECT_TRUE(MessageHas(ValidateSerialNumber("   "), "only spaces"));
  EXPECT_TRUE(MessageHas(ValidateSerialNumber("tab\there"), "printable ASCII"));
  EXPECT_TRUE(MessageHas(ValidateSerialNumber("caf\xc3\xa9"), "printable ASCII"));
  EXPECT_TRUE(ValidateSerialNumber("").Is(errc::kInvalidRequest));
}

TEST(Ids, HostName) {
  EXPECT_TRUE(ValidateHostName("ceph-node-1").ok());
  EXPECT_TRUE(ValidateHostName("gw1.example.com").ok());
  EXPECT_TRUE(ValidateHostName("client.nvmeof.pool.node3.abcdef").ok());
  EXPECT_TRUE(MessageHas(ValidateHostName("gw_1"), "contains invalid characters"));
  EXPECT_FALSE(ValidateHostName("").ok());
  EXPECT_FALSE(ValidateHostName("-gw").ok());
  EXPECT_FALSE(ValidateHostName("gw-").ok());
  EXPECT_FALSE(ValidateHostName("gw..x").ok());
  EXPECT_FALSE(ValidateHostName("gw x").ok());
  EXPECT_FALSE(ValidateHostName(std::string(64, 'a')).ok());
  EXPECT_FALSE(ValidateHostName(std::string(200, 'a') + "." + std::string(60, 'b')).ok());
}

TEST(Listener, Address) {
  EXPECT_TRUE(ValidateListenerAddress("127.0.0.1", AddressFamily::kIpv4).ok());
  EXPECT_TRUE(ValidateListenerAddress("0.0.0.0", AddressFamily::kIpv4).ok());
  EXPECT_TRUE(ValidateListenerAddress("::1", AddressFamily::kIpv6).ok());
  EXPECT_TRUE(ValidateListenerAddress("[2001:db8::3]", AddressFamily::kIpv6).ok());
  Status s = ValidateListenerAddress("::1", AddressFamily::kIpv4);
  EXPECT_TRUE(s.Is(errc::kInvalidRequest));
  EXPECT_EQ(s.message(), "IP address ::1 is not an IPv4 address");
  s = ValidateListenerAddress("10.0.0.1", AddressFamily::kIpv6);
  EXPECT_EQ(s.message(), "IP address 10.0.0.1 is not an IPv6 address");
  s = ValidateListenerAddress("junk", AddressFamily::kIpv4);
  EXPECT_EQ(s.message(), "Invalid IP address \"junk\"");
  EXPECT_FALSE(ValidateListenerAddress("256.1.1.1", AddressFamily::kIpv4).ok());
  EXPECT_FALSE(ValidateListenerAddress("", AddressFamily::kIpv4).ok());
  EXPECT_FALSE(ValidateListenerAddress("1.2.3.4", static_cast<AddressFamily>(7)).ok());
}

TEST(Listener, Port) {
  EXPECT_TRUE(ValidatePort(1).ok());
  EXPECT_TRUE(ValidatePort(4420).ok());
  EXPECT_TRUE(ValidatePort(65535).ok());
  EXPECT_EQ(ValidatePort(0).message(), "trsvcid value must be positive");
  EXPECT_EQ(ValidatePort(-2000).message(), "trsvcid value must be positive");
  EXPECT_EQ(ValidatePort(70000).message(), "trsvcid value must be smaller than 65536");
}

TEST(Listener, Escaping) {
  EXPECT_EQ(EscapeAddressIfIpv6("::1"), "[::1]");
  EXPECT_EQ(EscapeAddressIfIpv6("[::1]"), "[::1]");
  EXPECT_EQ(EscapeAddressIfIpv6("10.1.1.1"), "10.1.1.1");
  EXPECT_EQ(UnescapeAddress(" [::1] "), "::1");
  EXPECT_EQ(UnescapeAddress("10.1.1.1"), "10.1.1.1");
}

TEST(Namespace, BlockSize) {
  EXPECT_TRUE(ValidateRbdName("RBD image", "img-1.x").ok());
  EXPECT_EQ(ValidateRbdName("RBD image", "a/b").message(), "RBD image name \"a/b\" can't contain '/'");
  EXPECT_TRUE(ValidateRbdName("RADOS namespace", "/").Is(errc::kInvalidRequest));
  EXPECT_TRUE(ValidateBlockSize(512).ok());
  EXPECT_TRUE(ValidateBlockSize(4096).ok());
  EXPECT_EQ(ValidateBlockSize(0).message(), "block size can't be zero");
  EXPECT_TRUE(ValidateBlockSize(0).Is(errc::kInvalidRequest));
  EXPECT_EQ(ValidateBlockSize(1024).message(), "block size 1024 is not supported, use 512 or 4096");
  EXPECT_FALSE(ValidateBlockSize(8192).ok());
}

TEST(Namespace, NsidAndSizes) {
  EXPECT_TRUE(ValidateNsid(1).ok());
  EXPECT_TRUE(ValidateNsid(0xfffffffe).ok());
  EXPECT_EQ(ValidateNsid(0).message(), "nsid value must be positive");
  EXPECT_FALSE(ValidateNsid(0xffffffff).ok());

  EXPECT_TRUE(ValidateImageSize(16ull << 20).ok());
  EXPECT_EQ(ValidateImageSize(0).message(), "size value must be positive");
  EXPECT_EQ(ValidateImageSize((16ull << 20) + 20).message(), "image size must be aligned to MiBs");

  EXPECT_TRUE(ValidateBackendSize(4096 * 10, 4096).ok());
  EXPECT_TRUE(ValidateBackendSize(512 * 3, 512).ok());
  EXPECT_FALSE(ValidateBackendSize(512 * 3, 4096).ok());
  EXPECT_FALSE(ValidateBackendSize(0, 512).ok());
  EXPECT_FALSE(ValidateBackendSize(4096, 0).ok());
}

TEST(Size, Parse) {
  struct Case {
    const char* text;
    std::uint64_t bytes;
  };
  const Case cases[] = {
      {"16", 16ull << 20},      {"16M", 16ull << 20},      {"16MB", 16ull << 20},
      {"16MiB", 16ull << 20},   {"16mb", 16ull << 20},     {"1K", 1024},
      {"1KB", 1024},            {"1026KB", 1026 * 1024},   {"2G", 2ull << 30},
      {"2GB", 2ull << 30},      {"3T", 3ull << 40},        {"3TB", 3ull << 40},
      {"1P", 1ull << 50},       {"1PB", 1ull << 50},       {"4096B", 4096},
      {" 16 GB ", 16ull << 30}, {"0", 0},                  {"36", 36ull << 20},
  };
  for (const Case& c : cases) {
    auto r = ParseSize(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().message();
    EXPECT_EQ(*r, c.bytes) << c.text;
  }
}

TEST(Size, ParseRejects) {
  for (const char* bad : {"", "MB", "1x6MB", "-16MB", "+16", "1.5G", "16XB", "16MBB", "G16", "16 M B"}) {
    auto r = ParseSize(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.status().Is(::nvmeof::errc::kInvalidArgument)) << bad;
    EXPECT_TRUE(MessageHas(r.status(), "must be numeric")) << bad;
  }
  auto r = ParseSize("99999999999999999999999");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(::nvmeof::errc::kOutOfRange));
  r = ParseSize("17000000000000000000");  // fits in 64 bits as a number, not as MiB
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(::nvmeof::errc::kOutOfRange));
  r = ParseSize("18446744073709551615B");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 18446744073709551615ull);
}

TEST(Size, Format) {
  EXPECT_EQ(FormatSize(0), "0 Bytes");
  EXPECT_EQ(FormatSize(512), "512 Bytes");
  EXPECT_EQ(FormatSize(4096), "4 KiB");
  EXPECT_EQ(FormatSize(16ull << 20), "16 MiB");
  EXPECT_EQ(FormatSize(1536ull << 20), "1.5 GiB");
  EXPECT_EQ(FormatSize(10ull << 40), "10 TiB");
  EXPECT_EQ(FormatSize(3ull << 50), "3 PiB");
  EXPECT_EQ(FormatSize(5000ull << 50), "5000 PiB");
  EXPECT_EQ(FormatSize(1000), "1000 Bytes");
  EXPECT_EQ(FormatSize(1025), "1.0 KiB");
}

TEST(NetworkMask, ParsesAndContains) {
  auto v4 = ParseNetworkMask("192.0.2.7/24");  // host bits set: accepted
  ASSERT_TRUE(v4.ok());
  EXPECT_FALSE(v4->ipv6);
  EXPECT_EQ(v4->prefix, 24u);
  EXPECT_TRUE(NetworkMaskContains(*v4, "192.0.2.200"));
  EXPECT_FALSE(NetworkMaskContains(*v4, "192.0.3.1"));
  EXPECT_FALSE(NetworkMaskContains(*v4, "::1"));
  auto odd = ParseNetworkMask("10.1.0.0/13");
  ASSERT_TRUE(odd.ok());
  EXPECT_TRUE(NetworkMaskContains(*odd, "10.7.255.255"));
  EXPECT_FALSE(NetworkMaskContains(*odd, "10.8.0.0"));
  auto all = ParseNetworkMask("0.0.0.0/0");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(NetworkMaskContains(*all, "203.0.113.9"));
  auto one = ParseNetworkMask("127.0.0.1");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->prefix, 32u);
  EXPECT_TRUE(NetworkMaskContains(*one, "127.0.0.1"));
  EXPECT_FALSE(NetworkMaskContains(*one, "127.0.0.2"));
  auto v6 = ParseNetworkMask("fd00:1::/64");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->ipv6);
  EXPECT_TRUE(NetworkMaskContains(*v6, "[fd00:1::5]"));
  EXPECT_FALSE(NetworkMaskContains(*v6, "fd00:2::5"));
  EXPECT_FALSE(NetworkMaskContains(*v6, "10.0.0.1"));
  for (const char* bad : {"", "nosubnet", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0/8",
                          "10.0.0.0/8x", "host.example/24"}) {
    auto r = ParseNetworkMask(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("Invalid subnet"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace nvmeof::api
