// The group state's spelling (state_keys.h): golden keys, parse/build round trips, key
// selections and the JSON rules of stored values (no Ceph).
#include "gateway/state/state_keys.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nvmeof {
namespace {

const std::string kNqn = "nqn.2016-06.io.spdk:cnode1";
const std::string kNqn2 = "nqn.2016-06.io.spdk:cnode2";
const std::string kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:0c2a4f3e-1b2c-4d5e-8f90-a1b2c3d4e5f6";

// ------------------------------------------------------------------ keys

TEST(StateKeys, ReferenceSpelling) {
  EXPECT_EQ(SubsystemKey(kNqn), "subsystem_nqn.2016-06.io.spdk:cnode1");
  EXPECT_EQ(NamespaceKey(kNqn, 7), "namespace_nqn.2016-06.io.spdk:cnode1_7");
  EXPECT_EQ(QosKey(kNqn, 7), "qos_nqn.2016-06.io.spdk:cnode1_7");
  EXPECT_EQ(NamespaceHostKey(kNqn, 7, kHostNqn), "ns_host_nqn.2016-06.io.spdk:cnode1_7_" + kHostNqn);
  EXPECT_EQ(HostKey(kNqn, "*"), "host_nqn.2016-06.io.spdk:cnode1_*");
  EXPECT_EQ(ListenerKey(kNqn, "gw-a", "10.0.0.1", "4420"), "listener_nqn.2016-06.io.spdk:cnode1_gw-a_TCP_10.0.0.1_4420");
  EXPECT_EQ(StateObjectName(""), "nvmeof.state");
  EXPECT_EQ(StateObjectName("g1"), "nvmeof.g1.state");
  EXPECT_TRUE(StateKeyElementValid(kNqn));
  EXPECT_FALSE(StateKeyElementValid("a_b"));
  EXPECT_FALSE(StateKeyElementValid(""));
}

TEST(StateKeys, ParseEveryKind) {
  auto k = ParseStateKey(SubsystemKey(kNqn));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, StateKeyKind::kSubsystem);
  EXPECT_EQ(k->nqn, kNqn);

  k = ParseStateKey(NamespaceKey(kNqn, 4294967294u));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, StateKeyKind::kNamespace);
  EXPECT_EQ(k->nqn, kNqn);
  EXPECT_EQ(k->nsid, 4294967294u);

  k = ParseStateKey(QosKey(kNqn, 3));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, StateKeyKind::kQos);
  EXPECT_EQ(k->nsid, 3u);

  k = ParseStateKey(NamespaceHostKey(kNqn, 3, kHostNqn));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, StateKeyKind::kNamespaceHost);
  EXPECT_EQ(k->nqn, kNqn);
  EXPECT_EQ(k->nsid, 3u);
  EXPECT_EQ(k->host, kHostNqn);

  k = ParseStateKey(HostKey(kNqn, kHostNqn));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, StateKeyKind::kHost);
  EXPECT_EQ(k->host, kHostNqn);
  k = ParseStateKey(HostKey(kNqn, "*"));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->host, "*");

  k = ParseStateKey(ListenerKey(kNqn, "gw-a.example.com", "10.0.0.1", "4420"));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, StateKeyKind::kListener);
  EXPECT_EQ(k->nqn, kNqn);
  EXPECT_EQ(k->host, "gw-a.example.com");
  EXPECT_EQ(k->trtype, "TCP");
  EXPECT_EQ(k->traddr, "10.0.0.1");
  EXPECT_EQ(k->trsvcid, "4420");

  // IPv6 addresses have ':' (never '_').
  k = ParseStateKey(ListenerKey(kNqn, "gw-b", "fd00::1:2", "4421"));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->traddr, "fd00::1:2");
  EXPECT_EQ(k->trsvcid, "4421");
}

TEST(StateKeys, ListenerHostNameWithUnderscoreAndWithoutHost) {
  auto k = ParseStateKey("listener_" + kNqn + "_my_gw_01_TCP_10.0.0.1_4420");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->nqn, kNqn);
  EXPECT_EQ(k->host, "my_gw_01");
  EXPECT_EQ(k->trtype, "TCP");
  EXPECT_EQ(k->traddr, "10.0.0.1");

  k = ParseStateKey("listener_" + kNqn + "_TCP_10.0.0.1_4420");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->host, "");
  EXPECT_EQ(k->trtype, "TCP");
  EXPECT_EQ(StateKeyString(*k), "listener_" + kNqn + "_TCP_10.0.0.1_4420");
}

TEST(StateKeys, RoundTrip) {
  const std::vector<std::string> keys = {
      SubsystemKey(kNqn), NamespaceKey(kNqn, 1), QosKey(kNqn2, 10), NamespaceHostKey(kNqn, 2, kHostNqn),
      HostKey(kNqn, "*"), HostKey(kNqn2, kHostNqn), ListenerKey(kNqn, "gw", "fd00::1", "4420")};
  for (const std::string& key : keys) {
    auto k = ParseStateKey(key);
    ASSERT_TRUE(k) << key;
    EXPECT_EQ(StateKeyString(*k), key);
  }
}

TEST(StateKeys, NewerReferenceNamespaceHostSpelling) {
  auto k = ParseStateKey("ns-host_" + kNqn + "_5_" + kHostNqn);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, StateKeyKind::kNamespaceHost);
  EXPECT_EQ(k->nsid, 5u);
  EXPECT_EQ(k->host, kHostNqn);
  EXPECT_EQ(StateKeyString(*k), NamespaceHostKey(kNqn, 5, kHostNqn));  // canonical spelling
}

TEST(StateKeys, Malformed) {
  const std::vector<std::string> keys = {
           std::string("omap_version"), std::string(""), std::string("subsystem_"), "subsystem_" + kNqn + "_x",
           "namespace_" + kNqn, "namespace_" + kNqn + "_", "namespace_" + kNqn + "_0", "namespace_" + kNqn + "_01",
           "namespace_" + kNqn + "_-1", "namespace_" + kNqn + "_+1", "namespace_" + kNqn + "_4294967295",
           "namespace_" + kNqn + "_99999999999", "namespace_" + kNqn + "_1_2", "namespace__1", "qos_" + kNqn + "_x",
           "host_" + kNqn, "host_" + kNqn + "_", "ns_host_" + kNqn + "_1", "ns_host_" + kNqn + "_1_",
           "ns_host_" + kNqn + "_a_" + kHostNqn, "listener_" + kNqn, "listener_" + kNqn + "_gw_TCP_10.0.0.1_",
           "listener_" + kNqn + "_gw_TCP_10.0.0.1_port", "listener_" + kNqn + "_gw_TCP_10.0.0.1_65536",
           "listener_" + kNqn + "_4420", "listener_" + kNqn + "__TCP_1.2.3.4_4420",
           // Keys of newer reference versions this gateway does not replay.
           "lbgroup_" + kNqn + "_1", "key-host_" + kNqn + "_" + kHostNqn, "ns-visibility-on_" + kNqn + "_1",
           "ns-refresh-size_" + kNqn, "ns-refresh-size_" + kNqn + "_0", "ns-refresh-size_" + kNqn + "_1_2",
           "bdev_foo", "Subsystem_" + kNqn};
  for (const std::string& key : keys) {
    EXPECT_FALSE(ParseStateKey(key)) << key;
  }
}

// Exact strings, as the reference gateway writes them (a change here breaks mixed groups).
// The newer reference's refresh-size mark: ns-refresh-size_<nqn>_<nsid>, the value a time.
TEST(StateKeys, RefreshSizeKeyAndValue) {
  EXPECT_EQ(NamespaceRefreshSizeKey("nqn.a", 7), "ns-refresh-size_nqn.a_7");
  auto k = ParseStateKey("ns-refresh-size_" + kNqn + "_12");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, StateKeyKind::kRefreshSize);
  EXPECT_EQ(k->nqn, kNqn);
  EXPECT_EQ(k->nsid, 12u);
  EXPECT_EQ(StateKeyString(*k), "ns-refresh-size_" + kNqn + "_12");
  EXPECT_STREQ(StateKeyKindName(StateKeyKind::kRefreshSize), "namespace refresh size");
  // Python's str(time.time()) spelling: seconds, a point, the fraction.
  EXPECT_EQ(RefreshSizeValue(1733280000123456), "1733280000.123456");
  EXPECT_EQ(RefreshSizeValue(5), "0.000005");
  // Not JSON: passed on unchanged, whatever it holds.
  std::string out;
  ASSERT_TRUE(NormalizeStateJson(*k, "ns-refresh-size_" + kNqn + "_12", "1764820000.5", &out).ok());
  EXPECT_EQ(out, "1764820000.5");
}

TEST(StateKeys, GoldenKeys) {
  EXPECT_EQ(SubsystemKey("nqn.a"), "subsystem_nqn.a");
  EXPECT_EQ(NamespaceKey("nqn.a", 1), "namespace_nqn.a_1");
  EXPECT_EQ(NamespaceKey("nqn.a", 4294967294u), "namespace_nqn.a_4294967294");
  EXPECT_EQ(QosKey("nqn.a", 12), "qos_nqn.a_12");
  EXPECT_EQ(NamespaceHostKey("nqn.a", 12, "nqn.h"), "ns_host_nqn.a_12_nqn.h");
  EXPECT_EQ(HostKey("nqn.a", "nqn.h"), "host_nqn.a_nqn.h");
  EXPECT_EQ(HostKey("nqn.a", "*"), "host_nqn.a_*");
  EXPECT_EQ(ListenerKey("nqn.a", "gw1", "10.0.0.1", "4420"), "listener_nqn.a_gw1_TCP_10.0.0.1_4420");
  EXPECT_EQ(ListenerKey("nqn.a", "gw1", "[fd00::1]", "4420"), "listener_nqn.a_gw1_TCP_[fd00::1]_4420");
  EXPECT_STREQ(kOmapVersionKey, "omap_version");

  EXPECT_STREQ(StateKeyPrefix(StateKeyKind::kSubsystem), "subsystem_");
  EXPECT_STREQ(StateKeyPrefix(StateKeyKind::kNamespace), "namespace_");
  EXPECT_STREQ(StateKeyPrefix(StateKeyKind::kHost), "host_");
  EXPECT_STREQ(StateKeyPrefix(StateKeyKind::kQos), "qos_");
  EXPECT_STREQ(StateKeyPrefix(StateKeyKind::kNamespaceHost), "ns_host_");
  EXPECT_STREQ(StateKeyPrefix(StateKeyKind::kListener), "listener_");
  EXPECT_EQ(StateKeyPrefix(StateKeyKind::kNamespace, "nqn.a"), "namespace_nqn.a_");
  EXPECT_EQ(StateKeyPrefix(StateKeyKind::kListener, "nqn.a"), "listener_nqn.a_");
}

// Parse then build gives the key back, and build then parse gives the parts back, for
// every kind (IPv6 listener addresses in their bracketed key form included).
TEST(StateKeys, BuildParseRoundTrip) {
  const std::vector<StateKey> parts = {
      {StateKeyKind::kSubsystem, "nqn.a", 0, "", "", "", ""},
      {StateKeyKind::kNamespace, "nqn.a", 1, "", "", "", ""},
      {StateKeyKind::kNamespace, "nqn.a", 4294967294u, "", "", "", ""},
      {StateKeyKind::kQos, "nqn.b", 7, "", "", "", ""},
      {StateKeyKind::kNamespaceHost, "nqn.a", 7, "nqn.h", "", "", ""},
      {StateKeyKind::kHost, "nqn.a", 0, "*", "", "", ""},
      {StateKeyKind::kHost, "nqn.a", 0, "nqn.h", "", "", ""},
      {StateKeyKind::kListener, "nqn.a", 0, "gw1", "TCP", "10.0.0.1", "4420"},
      {StateKeyKind::kListener, "nqn.a", 0, "gw_with_underscores", "TCP", "[fd00::1]", "0"},
      {StateKeyKind::kListener, "nqn.a", 0, "", "TCP", "10.0.0.1", "65535"},
  };
  for (const StateKey& k : parts) {
    const std::string s = StateKeyString(k);
    auto back = ParseStateKey(s);
    ASSERT_TRUE(back) << s;
    EXPECT_EQ(*back, k) << s;
    EXPECT_EQ(StateKeyString(*back), s);
  }
  auto k = ParseStateKey("listener_nqn.a_gw1_TCP_[fd00::1]_4420");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->host, "gw1");
  EXPECT_EQ(k->traddr, "[fd00::1]");
  EXPECT_EQ(k->trsvcid, "4420");
}

TEST(StateKeys, Selections) {
  StateMap m;
  for (const std::string& key :
       {SubsystemKey("nqn.a"), SubsystemKey("nqn.a.b"), NamespaceKey("nqn.a", 1), NamespaceKey("nqn.a", 10),
        NamespaceKey("nqn.a.b", 1), QosKey("nqn.a", 1), QosKey("nqn.a", 10), NamespaceHostKey("nqn.a", 1, "nqn.h"),
        NamespaceHostKey("nqn.a", 10, "nqn.h"), HostKey("nqn.a", "*"), HostKey("nqn.a.b", "*"),
        ListenerKey("nqn.a", "gw1", "10.0.0.1", "4420"), ListenerKey("nqn.a", "gw2", "10.0.0.1", "4420"),
        ListenerKey("nqn.a", "gw1", "10.0.0.1", "4421"), ListenerKey("nqn.a", "gw1", "10.0.0.11", "4420"),
        ListenerKey("nqn.a.b", "gw1", "10.0.0.1", "4420"), NamespaceRefreshSizeKey("nqn.a", 1),
        NamespaceRefreshSizeKey("nqn.a", 10), NamespaceRefreshSizeKey("nqn.a.b", 1), std::string("ns-host_nqn.a_1_nqn.g"),
        std::string("omap_version"), std::string("lbgroup_x")})
    m[key] = "{}";

  EXPECT_EQ(SubsystemItemKeys(m, "nqn.a"),
            (std::vector<std::string>{"host_nqn.a_*", "listener_nqn.a_gw1_TCP_10.0.0.11_4420",
                                      "listener_nqn.a_gw1_TCP_10.0.0.1_4420", "listener_nqn.a_gw1_TCP_10.0.0.1_4421",
                                      "listener_nqn.a_gw2_TCP_10.0.0.1_4420", "namespace_nqn.a_1",
                                      "namespace_nqn.a_10", "ns-host_nqn.a_1_nqn.g", "ns-refresh-size_nqn.a_1",
                                      "ns-refresh-size_nqn.a_10", "ns_host_nqn.a_10_nqn.h", "ns_host_nqn.a_1_nqn.h",
                                      "qos_nqn.a_1", "qos_nqn.a_10", "subsystem_nqn.a"}));
  EXPECT_EQ(NamespaceItemKeys(m, "nqn.a", 1),
            (std::vector<std::string>{"namespace_nqn.a_1", "ns-host_nqn.a_1_nqn.g", "ns-refresh-size_nqn.a_1",
                                      "ns_host_nqn.a_1_nqn.h", "qos_nqn.a_1"}));
  EXPECT_EQ(ListenerKeysAt(m, "nqn.a", "10.0.0.1", "4420"),
            (std::vector<std::string>{"listener_nqn.a_gw1_TCP_10.0.0.1_4420", "listener_nqn.a_gw2_TCP_10.0.0.1_4420"}));
  EXPECT_TRUE(ListenerKeysAt(m, "nqn.c", "10.0.0.1", "4420").empty());
}

// ------------------------------------------------------------------ values

TEST(StateJson, IndentLikePythonJsonDumps) {
  EXPECT_EQ(IndentStateJson(R"({"a":1,"b":"x,y:{z}","c":[],"d":{},"e":[1,2],"f":{"g":true}})"),
            "{\n"
            "  \"a\": 1,\n"
            "  \"b\": \"x,y:{z}\",\n"
            "  \"c\": [],\n"
            "  \"d\": {},\n"
            "  \"e\": [\n"
            "    1,\n"
            "    2\n"
            "  ],\n"
            "  \"f\": {\n"
            "    \"g\": true\n"
            "  }\n"
            "}");
  EXPECT_EQ(IndentStateJson(R"({"s":"q\"uote\\"})"), "{\n  \"s\": \"q\\\"uote\\\\\"\n}");
  EXPECT_EQ(IndentStateJson("{}"), "{}");
}

TEST(StateJson, NormalizeFillsAndChecksIdentityFields) {
  std::string out;
  auto k = ParseStateKey(NamespaceKey("nqn.a", 3));
  ASSERT_TRUE(k);
  ASSERT_TRUE(NormalizeStateJson(*k, "namespace_nqn.a_3", R"({"rbd_image_name": "i"})", &out).ok());
  EXPECT_EQ(out, R"({"nsid":3,"rbd_image_name":"i","subsystem_nqn":"nqn.a"})");
  ASSERT_TRUE(NormalizeStateJson(*k, "namespace_nqn.a_3", R"({"nsid": "3", "subsystem_nqn": "nqn.a"})", &out).ok());
  EXPECT_EQ(out, R"({"nsid":"3","subsystem_nqn":"nqn.a"})");
  Status st = NormalizeStateJson(*k, "namespace_nqn.a_3", R"({"nsid": 4})", &out);
  EXPECT_TRUE(st.Is(state::errc::kBadValue));
  EXPECT_NE(st.message().find("contradicts the key: nsid is 4 but the key says 3"), std::string::npos) << st.message();
  EXPECT_TRUE(NormalizeStateJson(*k, "namespace_nqn.a_3", "[1]", &out).Is(state::errc::kBadValue));

  auto l = ParseStateKey(ListenerKey("nqn.a", "gw1", "10.0.0.1", "4420"));
  ASSERT_TRUE(l);
  ASSERT_TRUE(NormalizeStateJson(*l, "k", "{}", &out).ok());
  EXPECT_EQ(out, R"({"host_name":"gw1","nqn":"nqn.a","traddr":"10.0.0.1","trsvcid":4420})");
  EXPECT_EQ(ListenerRemoveJson(*l, "k", "not json"), R"({"host_name":"gw1","nqn":"nqn.a","traddr":"10.0.0.1","trsvcid":4420})");
  EXPECT_EQ(ListenerRemoveJson(*l, "k", R"({"adrfam": 1})"),
            R"({"adrfam":1,"host_name":"gw1","nqn":"nqn.a","traddr":"10.0.0.1","trsvcid":4420})");
}

TEST(StateJson, SameJsonObject) {
  EXPECT_EQ(SameJsonObject(R"({"a": 1, "b": 2})", R"({"b":2,"a":1})"), std::optional<bool>(true));
  EXPECT_EQ(SameJsonObject(R"({"a": 1, "b": 2})", R"({"a":1,"b":3})"), std::optional<bool>(false));
  EXPECT_EQ(SameJsonObject(R"({"a": 1, "b": 2})", R"({"a":1,"b":3})", {"b"}), std::optional<bool>(true));
  EXPECT_EQ(SameJsonObject(R"({"a": 1})", "[1]"), std::nullopt);
  EXPECT_EQ(SameJsonObject("not json", "{}"), std::nullopt);
}

TEST(StateKeys, LbHandoverKeyAndValue) {
  const std::string k = LbHandoverKey("nqn.a", 7);
  EXPECT_EQ(k, "lb_handover_nqn.a_7");
  EXPECT_FALSE(ParseStateKey(k));  // not a reference item: the applier ignores it
  auto h = ParseLbHandover(k, LbHandoverJson({"nqn.a", 7, 1, 2}));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->nqn, "nqn.a");
  EXPECT_EQ(h->nsid, 7u);
  EXPECT_EQ(h->from, 1u);
  EXPECT_EQ(h->to, 2u);
  EXPECT_FALSE(ParseLbHandover(LbHandoverKey("nqn.a", 8), LbHandoverJson({"nqn.a", 7, 1, 2})));
  EXPECT_FALSE(ParseLbHandover(NamespaceKey("nqn.a", 7), LbHandoverJson({"nqn.a", 7, 1, 2})));
  EXPECT_FALSE(ParseLbHandover(k, "not json"));
  EXPECT_FALSE(ParseLbHandover(k, R"({"subsystem_nqn": "nqn.a", "nsid": 7})"));
}


TEST(StateKeys, KeepUnknownStateFieldsKeepsWhatANewerReferenceWrote) {
  auto known = [](const std::string& n) { return n == "nsid" || n == "location"; };
  EXPECT_EQ(KeepUnknownStateFields(R"({"nsid": 1, "location": "a", "future": {"x": [1, 2]}, "later": "y"})",
                                   R"({"nsid":1})", known),
            R"({"nsid":1,"future":{"x":[1,2]},"later":"y"})");
  EXPECT_EQ(KeepUnknownStateFields(R"({"future": true})", "{}", known), R"({"future":true})");
  EXPECT_EQ(KeepUnknownStateFields("not json", R"({"nsid":1})", known), R"({"nsid":1})");
  EXPECT_EQ(KeepUnknownStateFields("", R"({"nsid":1})", known), R"({"nsid":1})");
  EXPECT_EQ(KeepUnknownStateFields(R"({"nsid": 2})", R"({"nsid":1})", known), R"({"nsid":1})");
}

TEST(StateKeys, AutoListenerAndKeepConnectedKeys) {
  const std::string nqn = "nqn.2016-06.io.spdk:cnode1";
  const std::string host = "nqn.2014-08.org.nvmexpress:uuid:0c2a4f3e-1b2c-4d5e-8f90-a1b2c3d4e5f6";
  const std::string a = AutoListenerKey(nqn, "gw_b", "[fd00::5]", "4430");
  EXPECT_EQ(a, "auto-listener_" + nqn + "_gw_b_TCP_[fd00::5]_4430");
  auto k = ParseStateKey(a);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, StateKeyKind::kAutoListener);
  EXPECT_EQ(k->host, "gw_b");
  EXPECT_EQ(k->traddr, "[fd00::5]");
  EXPECT_EQ(StateKeyString(*k), a);
  EXPECT_FALSE(ParseStateKey("auto-listener_" + nqn + "_TCP_10.0.0.1_4420"));  // names its gateway
  const std::string m = KeepConnectedKey(nqn, host);
  EXPECT_EQ(m, "keep-connected_" + nqn + "_" + host);
  k = ParseStateKey(m);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, StateKeyKind::kKeepConnected);
  EXPECT_EQ(k->host, host);
  EXPECT_EQ(StateKeyString(*k), m);
  // Below the subsystem: deleted with it.
  StateMap s = {{SubsystemKey(nqn), "{}"}, {a, "{}"}, {m, "{}"}, {AutoListenerKey(nqn + "2", "gw", "1.2.3.4", "1"), "{}"}};
  EXPECT_EQ(SubsystemItemKeys(s, nqn).size(), 3u);
  std::string out;
  EXPECT_TRUE(NormalizeStateJson(*ParseStateKey(a), a, R"({"nqn": ")" + nqn + R"("})", &out).ok());
  EXPECT_NE(out.find("\"host_name\":\"gw_b\""), std::string::npos) << out;
}

}  // namespace
}  // namespace nvmeof
