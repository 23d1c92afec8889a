#include "cli/output.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/gateway.pb.h"

namespace nvmeof::cli {
namespace {

TEST(Table, GridWithMultiLineHeaderAndNumbers) {
  const std::string t = RenderTable({"NSID", "Image\nSize"}, {{1, "16 MiB"}, {12, "1 GiB"}},
                                    TableStyle::kGrid);
  const std::string expected =
      "╒══════╤════════╕\n"
      "│ NSID │ Image  │\n"
      "│      │ Size   │\n"
      "╞══════╪════════╡\n"
      "│    1 │ 16 MiB │\n"
      "├──────┼────────┤\n"
      "│   12 │ 1 GiB  │\n"
      "╘══════╧════════╛";
  EXPECT_EQ(t, expected);
}

TEST(Table, PlainAndPadding) {
  const std::string t = RenderTable({"Host", "Secure"}, {{"gw-a", "No"}, {"gateway-b"}},
                                    TableStyle::kPlain);
  EXPECT_EQ(t,
            "Host       Secure\n"
            "gw-a       No\n"
            "gateway-b");
}

TEST(Table, CenterAlignmentForStrings) {
  const std::string t =
      RenderTable({"Host NQN", "PSK"}, {{"Any host", "n/a"}, {"x", "Yes"}}, TableStyle::kPlain,
                  StringAlign::kCenter);
  EXPECT_EQ(t,
            "Host NQN  PSK\n"
            "Any host  n/a\n"
            "   x      Yes");
}

TEST(Table, MixedColumnIsLeftAligned) {
  const std::string t = RenderTable({"G"}, {{"<n/a>"}, {7}}, TableStyle::kPlain);
  EXPECT_EQ(t, "G\n<n/a>\n7");
}

TEST(Table, DisplayWidthCountsCodePoints) {
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("╒═╕"), 3u);
  EXPECT_EQ(DisplayWidth("2 (\x1b[7m1\x1b[27m)"), 5u);  // SGR escapes take no width
  EXPECT_EQ(DisplayWidth(""), 0u);
}

TEST(BreakString, LikeTheReference) {
  EXPECT_EQ(BreakString("bdev_1234-5678-9abc-def0", '-', 2), "bdev_1234-5678-\n9abc-def0");
  EXPECT_EQ(BreakString("948878ee-c3b2-4d58-a29b-2cff713fc02d", '-', 3),
            "948878ee-c3b2-4d58-\na29b-2cff713fc02d");
  EXPECT_EQ(BreakString("no-dash", '-', 2), "no-dash");
  EXPECT_EQ(BreakString("nqn.2016-06.io.spdk:host1", ':', 2), "nqn.2016-06.io.spdk:host1");
}

TEST(Json, ProtoFieldNamesDefaultsAndEnums) {
  namespaces_info info;
  info.set_subsystem_nqn("nqn.2016-06.io.spdk:cnode1");
  auto* ns = info.add_namespaces();
  ns->set_nsid(1);
  ns->set_rbd_image_size(16ull << 20);
  ns->set_uuid("948878ee-c3b2-4d58-a29b-2cff713fc02d");
  const std::string text = MessageToJson(info);
  // 4-space indentation like the reference CLI.
  EXPECT_NE(text.find("\n    \"status\": 0,"), std::string::npos) << text;
  const auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["status"], 0);
  EXPECT_EQ(j["error_message"], "");
  EXPECT_EQ(j["subsystem_nqn"], "nqn.2016-06.io.spdk:cnode1");
  ASSERT_EQ(j["namespaces"].size(), 1u);
  const auto& n = j["namespaces"][0];
  EXPECT_EQ(n["nsid"], 1);
  EXPECT_EQ(n["rbd_image_size"], "16777216");  // 64-bit integers are strings in proto JSON
  EXPECT_EQ(n["rw_ios_per_second"], "0");      // default values included
  EXPECT_EQ(n["auto_visible"], false);
  EXPECT_TRUE(n["hosts"].is_array());
  EXPECT_FALSE(n.contains("backend"));  // unset optional extension fields are omitted

  listeners_info li;
  auto* l = li.add_listeners();
  l->set_adrfam(ipv6);
  l->set_trsvcid(4420);
  const auto lj = nlohmann::json::parse(MessageToJson(li));
  EXPECT_EQ(lj["listeners"][0]["adrfam"], "ipv6");
  EXPECT_EQ(lj["listeners"][0]["trsvcid"], 4420);
  EXPECT_FALSE(lj["listeners"][0].contains("secure"));

  // Field order follows the proto.
  req_status rs;
  EXPECT_EQ(MessageToJson(rs), "{\n    \"status\": 0,\n    \"error_message\": \"\"\n}");
}

TEST(Yaml, SortedBlockStyleAndQuoting) {
  namespaces_info info;
  info.set_status(0);
  info.set_error_message("Success");
  info.set_subsystem_nqn("nqn.2016-06.io.spdk:cnode1");
  auto* ns = info.add_namespaces();
  ns->set_nsid(2);
  ns->set_rbd_image_size(1024);
  ns->set_rbd_pool_name("rbd");
  const std::string y = MessageToYaml(info);
  EXPECT_LT(y.find("error_message:"), y.find("namespaces:")) << y;
  EXPECT_LT(y.find("namespaces:"), y.find("status:")) << y;
  EXPECT_NE(y.find("status: 0\n"), std::string::npos) << y;
  EXPECT_NE(y.find("rbd_image_size: '1024'"), std::string::npos) << y;  // a string stays a string
  EXPECT_NE(y.find("rbd_image_name: ''"), std::string::npos) << y;
  EXPECT_NE(y.find("hosts: []"), std::string::npos) << y;
  EXPECT_NE(y.find("subsystem_nqn: nqn.2016-06.io.spdk:cnode1"), std::string::npos) << y;
  EXPECT_EQ(y.back(), '\n');
}

}  // namespace
}  // namespace nvmeof::cli
