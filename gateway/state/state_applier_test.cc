// Diff order and change semantics of StateApplier (no Ceph).
#include "gateway/state/state_applier.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nvmeof {
namespace {

using json = nlohmann::json;

const std::string kNqn = "nqn.2016-06.io.spdk:cnode1";
const std::string kNqn2 = "nqn.2016-06.io.spdk:cnode2";
const std::string kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:0c2a4f3e-1b2c-4d5e-8f90-a1b2c3d4e5f6";

// ------------------------------------------------------------------ applier

std::string J(json j) { return j.dump(); }
std::string Subsys(const std::string& nqn, const std::string& serial = "Ceph1") {
  return J({{"subsystem_nqn", nqn}, {"serial_number", serial}, {"max_namespaces", 256}, {"enable_ha", true}});
}
std::string Ns(const std::string& nqn, uint32_t nsid, const std::string& image = "img", json extra = json::object()) {
  json j = {{"rbd_pool_name", "rbd"}, {"rbd_image_name", image}, {"subsystem_nqn", nqn}, {"nsid", nsid},
            {"block_size", 512},      {"uuid", "u-" + image},      {"anagrpid", 1},         {"size", "0"}};
  j.update(extra);
  return J(j);
}
std::string Host(const std::string& nqn, const std::string& host, json extra = json::object()) {
  json j = {{"subsystem_nqn", nqn}, {"host_nqn", host}};
  j.update(extra);
  return J(j);
}
std::string Qos(const std::string& nqn, uint32_t nsid, uint64_t iops) {
  return J({{"subsystem_nqn", nqn}, {"nsid", nsid}, {"rw_ios_per_second", std::to_string(iops)}});
}
std::string NsHost(const std::string& nqn, uint32_t nsid, const std::string& host) {
  return J({{"subsystem_nqn", nqn}, {"nsid", nsid}, {"host_nqn", host}});
}
std::string Listener(const std::string& nqn, const std::string& gw, const std::string& addr, uint32_t port,
                     bool secure = false) {
  return J({{"nqn", nqn}, {"host_name", gw}, {"traddr", addr}, {"adrfam", "ipv4"}, {"trsvcid", port},
            {"secure", secure}});
}

// Records the calls as short strings; fails calls listed in `fail`.
class FakeTarget : public StateTarget {
 public:
  std::vector<std::string> calls;
  std::vector<std::string> jsons;  // the JSON argument of every Add*/Set/Change (new) call
  std::map<std::string, Status> fail;

  Status Rec(const std::string& call, const std::string& j = "") {
    calls.push_back(call);
    if (!j.empty()) jsons.push_back(j);
    auto it = fail.find(call);
    return it == fail.end() ? Status::OK() : it->second;
  }
  static std::string F(const std::string& j, const char* f) {
    json x = json::parse(j);
    return x[f].is_string() ? x[f].get<std::string>() : x[f].dump();
  }

  Status AddSubsystem(const std::string& j) override { return Rec("AddSubsystem " + F(j, "subsystem_nqn"), j); }
  Status ChangeSubsystem(const std::string&, const std::string& n) override {
    return Rec("ChangeSubsystem " + F(n, "subsystem_nqn"), n);
  }
  Status RemoveSubsystem(const std::string& nqn) override { return Rec("RemoveSubsystem " + nqn); }
  Status AddNamespace(const std::string& j) override {
    return Rec("AddNamespace " + F(j, "subsystem_nqn") + " " + F(j, "nsid"), j);
  }
  Status ChangeNamespace(const std::string& o, const std::string& n) override {
    return Rec("ChangeNamespace " + F(n, "subsystem_nqn") + " " + F(n, "nsid") + " " + F(o, "size") + "->" +
                   F(n, "size") + " grp " + F(o, "anagrpid") + "->" + F(n, "anagrpid"),
               n);
  }
  Status RemoveNamespace(const std::string& nqn, uint32_t nsid) override {
    return Rec("RemoveNamespace " + nqn + " " + std::to_string(nsid));
  }
  Status AddHost(const std::string& j) override {
    return Rec("AddHost " + F(j, "subsystem_nqn") + " " + F(j, "host_nqn"), j);
  }
  Status ChangeHost(const std::string&, const std::string& n) override {
    return Rec("ChangeHost " + F(n, "subsystem_nqn") + " " + F(n, "host_nqn"), n);
  }
  Status RemoveHost(const std::string& nqn, const std::string& host) override {
    return Rec("RemoveHost " + nqn + " " + host);
  }
  Status SetQos(const std::string& j) override {
    return Rec("SetQos " + F(j, "subsystem_nqn") + " " + F(j, "nsid") + " " + F(j, "rw_ios_per_second"), j);
  }
  Status ClearQos(const std::string& nqn, uint32_t nsid) override {
    return Rec("ClearQos " + nqn + " " + std::to_string(nsid));
  }
  Status AddNamespaceHost(const std::string& j) override {
    return Rec("AddNamespaceHost " + F(j, "subsystem_nqn") + " " + F(j, "nsid") + " " + F(j, "host_nqn"), j);
  }
  Status RemoveNamespaceHost(const std::string& nqn, uint32_t nsid, const std::string& host) override {
    return Rec("RemoveNamespaceHost " + nqn + " " + std::to_string(nsid) + " " + host);
  }
  Status AddListener(const std::string& j) override {
    return Rec("AddListener " + F(j, "nqn") + " " + F(j, "host_name") + " " + F(j, "traddr") + ":" +
                   F(j, "trsvcid") + " secure=" + F(j, "secure"),
               j);
  }
  Status RemoveListener(const std::string& j) override {
    return Rec("RemoveListener " + F(j, "nqn") + " " + F(j, "host_name") + " " + F(j, "traddr") + ":" +
               F(j, "trsvcid"));
  }
  Status RefreshNamespaceSize(const std::string& nqn, uint32_t nsid, const std::string& value, bool refresh) override {
    if (!refresh) return Rec("RememberRefreshSizeMark " + nqn + " " + std::to_string(nsid) + " " + value);
    return Rec("RefreshNamespaceSize " + nqn + " " + std::to_string(nsid) + " " + value);
  }
  Status ForgetRefreshSizeMark(const std::string& nqn, uint32_t nsid) override {
    return Rec("ForgetRefreshSizeMark " + nqn + " " + std::to_string(nsid));
  }
  Status AddAutoListener(const std::string& j) override {
    return Rec("AddAutoListener " + F(j, "nqn") + " " + F(j, "host_name") + " " + F(j, "traddr") + ":" +
                   F(j, "trsvcid"),
               j);
  }
  Status RemoveAutoListener(const std::string& j) override {
    return Rec("RemoveAutoListener " + F(j, "nqn") + " " + F(j, "host_name") + " " + F(j, "traddr") + ":" +
               F(j, "trsvcid"));
  }
  Status SetKeepConnected(const std::string& j) override {
    return Rec("SetKeepConnected " + F(j, "subsystem_nqn") + " " + F(j, "host_nqn"), j);
  }
  Status ClearKeepConnected(const std::string& nqn, const std::string& host) override {
    return Rec("ClearKeepConnected " + nqn + " " + host);
  }
};

// A group with two subsystems and one of everything.
StateMap FullState() {
  StateMap m;
  for (const auto& nqn : {kNqn2, kNqn}) {
    m[SubsystemKey(nqn)] = Subsys(nqn);
    m[NamespaceKey(nqn, 10)] = Ns(nqn, 10, "img10");
    m[NamespaceKey(nqn, 2)] = Ns(nqn, 2, "img2");
    m[HostKey(nqn, kHostNqn)] = Host(nqn, kHostNqn);
    m[QosKey(nqn, 2)] = Qos(nqn, 2, 1000);
    m[NamespaceHostKey(nqn, 10, kHostNqn)] = NsHost(nqn, 10, kHostNqn);
    m[ListenerKey(nqn, "gw-a", "10.0.0.1", "4420")] = Listener(nqn, "gw-a", "10.0.0.1", 4420);
    m[ListenerKey(nqn, "gw-b", "10.0.0.2", "4420")] = Listener(nqn, "gw-b", "10.0.0.2", 4420);
  }
  m[kOmapVersionKey] = "17";
  return m;
}

TEST(StateApplier, AdditionsInDependencyOrder) {
  FakeTarget t;
  StateApplier a(&t);
  ApplyReport r = a.Update(FullState(), 17);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.applied, 16u);
  const std::string n1 = kNqn, n2 = kNqn2, h = kHostNqn;
  std::vector<std::string> want = {
      "AddSubsystem " + n1,
      "AddSubsystem " + n2,
      "AddNamespace " + n1 + " 2",  // NSIDs in numeric order
      "AddNamespace " + n1 + " 10",
      "AddNamespace " + n2 + " 2",
      "AddNamespace " + n2 + " 10",
      "AddHost " + n1 + " " + h,
      "AddHost " + n2 + " " + h,
      "SetQos " + n1 + " 2 1000",
      "SetQos " + n2 + " 2 1000",
      "AddNamespaceHost " + n1 + " 10 " + h,
      "AddNamespaceHost " + n2 + " 10 " + h,
      "AddListener " + n1 + " gw-a 10.0.0.1:4420 secure=false",
      "AddListener " + n1 + " gw-b 10.0.0.2:4420 secure=false",
      "AddListener " + n2 + " gw-a 10.0.0.1:4420 secure=false",
      "AddListener " + n2 + " gw-b 10.0.0.2:4420 secure=false",
  };
  EXPECT_EQ(t.calls, want);
  StateMap expect = FullState();
  expect.erase(kOmapVersionKey);
  EXPECT_EQ(a.applied(), expect);
  EXPECT_FALSE(a.pending());

  // Nothing changed: no calls.
  t.calls.clear();
  r = a.Update(FullState(), 18);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(t.calls.empty());
}

TEST(StateApplier, RemovalsInReverseOrderBeforeAdditions) {
  FakeTarget t;
  StateApplier a(&t);
  a.Update(FullState(), 1);
  t.calls.clear();

  StateMap next = FullState();
  std::erase_if(next, [](const auto& kv) { return kv.first.find(kNqn) != std::string::npos; });  // delete cnode1
  const std::string n3 = "nqn.2016-06.io.spdk:cnode3";
  next[SubsystemKey(n3)] = Subsys(n3);
  ApplyReport r = a.Update(next, 2);
  EXPECT_TRUE(r.ok());
  const std::string n1 = kNqn, h = kHostNqn;
  std::vector<std::string> want = {
      "RemoveListener " + n1 + " gw-a 10.0.0.1:4420",
      "RemoveListener " + n1 + " gw-b 10.0.0.2:4420",
      "RemoveNamespaceHost " + n1 + " 10 " + h,
      "ClearQos " + n1 + " 2",
      "RemoveHost " + n1 + " " + h,
      "RemoveNamespace " + n1 + " 2",
      "RemoveNamespace " + n1 + " 10",
      "RemoveSubsystem " + n1,
      "AddSubsystem " + n3,
  };
  EXPECT_EQ(t.calls, want);
}

// A host removed with its connections kept: the mark is written with the removal, and must
// reach the target before the removal does. Auto-listeners follow their subsystem.
TEST(StateApplier, KeepConnectedMarksFirstAutoListenersAfterListeners) {
  FakeTarget t;
  StateApplier a(&t);
  a.Update(FullState(), 1);
  t.calls.clear();
  StateMap next = FullState();
  next.erase(HostKey(kNqn, kHostNqn));
  next[KeepConnectedKey(kNqn, kHostNqn)] = Host(kNqn, kHostNqn);
  next[AutoListenerKey(kNqn, "gw-b", "10.0.0.9", "4430")] = Listener(kNqn, "gw-b", "10.0.0.9", 4430);
  EXPECT_TRUE(a.Update(next, 2).ok());
  std::vector<std::string> want = {
      "SetKeepConnected " + kNqn + " " + kHostNqn,
      "RemoveHost " + kNqn + " " + kHostNqn,
      "AddAutoListener " + kNqn + " gw-b 10.0.0.9:4430",
  };
  EXPECT_EQ(t.calls, want);
  // A mark does not need its subsystem; an auto-listener does. Their values do not change
  // a mark; removals go children first.
  t.calls.clear();
  StateMap after = next;
  after[KeepConnectedKey(kNqn2, kHostNqn)] = Host(kNqn2, kHostNqn);
  after[KeepConnectedKey(kNqn, kHostNqn)] = Host(kNqn, kHostNqn, {{"extra", 1}});
  after[AutoListenerKey("nqn.2016-06.io.spdk:none", "gw-b", "10.0.0.9", "4430")] =
      Listener("nqn.2016-06.io.spdk:none", "gw-b", "10.0.0.9", 4430);
  ApplyReport r = a.Update(after, 3);
  EXPECT_EQ(t.calls, std::vector<std::string>{"SetKeepConnected " + kNqn2 + " " + kHostNqn});
  ASSERT_EQ(r.failed.size(), 1u);
  t.calls.clear();
  a.Update(FullState(), 4);
  want = {"ClearKeepConnected " + kNqn + " " + kHostNqn, "ClearKeepConnected " + kNqn2 + " " + kHostNqn,
          "RemoveAutoListener " + kNqn + " gw-b 10.0.0.9:4430", "AddHost " + kNqn + " " + kHostNqn};
  EXPECT_EQ(t.calls, want);
}

TEST(StateApplier, NamespaceResizeAndLoadBalancingGroupChangeInPlace) {
  FakeTarget t;
  StateApplier a(&t);
  a.Update(FullState(), 1);
  t.calls.clear();
  StateMap next = FullState();
  next[NamespaceKey(kNqn, 2)] = Ns(kNqn, 2, "img2", {{"size", "2147483648"}});
  next[NamespaceKey(kNqn, 10)] = Ns(kNqn, 10, "img10", {{"anagrpid", 2}, {"no_auto_visible", true}});
  a.Update(next, 2);
  std::vector<std::string> want = {
      "ChangeNamespace " + kNqn + " 2 0->2147483648 grp 1->1",
      "ChangeNamespace " + kNqn + " 10 0->0 grp 1->2",
  };
  EXPECT_EQ(t.calls, want);
  EXPECT_EQ(a.applied().at(NamespaceKey(kNqn, 2)), next[NamespaceKey(kNqn, 2)]);
}

TEST(StateApplier, OtherImageUnderSameNsidIsReplacedWithItsChildren) {
  FakeTarget t;
  StateApplier a(&t);
  a.Update(FullState(), 1);
  t.calls.clear();
  StateMap next = FullState();
  next[NamespaceKey(kNqn, 10)] = Ns(kNqn, 10, "other-image");
  next[QosKey(kNqn, 10)] = Qos(kNqn, 10, 5);  // new QoS for it in the same step
  a.Update(next, 2);
  std::vector<std::string> want = {
      "RemoveNamespaceHost " + kNqn + " 10 " + kHostNqn,
      "RemoveNamespace " + kNqn + " 10",
      "AddNamespace " + kNqn + " 10",
      "SetQos " + kNqn + " 10 5",
      "AddNamespaceHost " + kNqn + " 10 " + kHostNqn,
  };
  EXPECT_EQ(t.calls, want);
}

TEST(StateApplier, RecreatedSubsystemReplacesEverythingUnderIt) {
  FakeTarget t;
  StateApplier a(&t);
  a.Update(FullState(), 1);
  t.calls.clear();
  StateMap next = FullState();
  next[SubsystemKey(kNqn2)] = Subsys(kNqn2, "OtherSerial");
  a.Update(next, 2);
  const std::string n = kNqn2, h = kHostNqn;
  std::vector<std::string> want = {
      "RemoveListener " + n + " gw-a 10.0.0.1:4420",
      "RemoveListener " + n + " gw-b 10.0.0.2:4420",
      "RemoveNamespaceHost " + n + " 10 " + h,
      "ClearQos " + n + " 2",
      "RemoveHost " + n + " " + h,
      "RemoveNamespace " + n + " 2",
      "RemoveNamespace " + n + " 10",
      "RemoveSubsystem " + n,
      "AddSubsystem " + n,
      "AddNamespace " + n + " 2",
      "AddNamespace " + n + " 10",
      "AddHost " + n + " " + h,
      "SetQos " + n + " 2 1000",
      "AddNamespaceHost " + n + " 10 " + h,
      "AddListener " + n + " gw-a 10.0.0.1:4420 secure=false",
      "AddListener " + n + " gw-b 10.0.0.2:4420 secure=false",
  };
  EXPECT_EQ(t.calls, want);
}

TEST(StateApplier, SubsystemKeyHostKeyQosAndListenerChanges) {
  FakeTarget t;
  StateApplier a(&t);
  a.Update(FullState(), 1);
  t.calls.clear();
  StateMap next = FullState();
  json keyed = json::parse(Subsys(kNqn));
  keyed["dhchap_key"] = "DHHC-1:00:abc:";
  next[SubsystemKey(kNqn)] = J(keyed);
  next[HostKey(kNqn, kHostNqn)] = Host(kNqn, kHostNqn, {{"dhchap_key", "DHHC-1:00:xyz:"}});
  next[HostKey(kNqn2, kHostNqn)] = Host(kNqn2, kHostNqn, {{"unknown_field", 1}});  // not a key change
  next[QosKey(kNqn, 2)] = Qos(kNqn, 2, 2000);
  next[ListenerKey(kNqn, "gw-a", "10.0.0.1", "4420")] = Listener(kNqn, "gw-a", "10.0.0.1", 4420, true);
  a.Update(next, 2);
  std::vector<std::string> want = {
      "RemoveListener " + kNqn + " gw-a 10.0.0.1:4420",
      "RemoveHost " + kNqn2 + " " + kHostNqn,
      "ChangeSubsystem " + kNqn,
      "ChangeHost " + kNqn + " " + kHostNqn,
      "AddHost " + kNqn2 + " " + kHostNqn,
      "SetQos " + kNqn + " 2 2000",
      "AddListener " + kNqn + " gw-a 10.0.0.1:4420 secure=true",
  };
  EXPECT_EQ(t.calls, want);
}

TEST(StateApplier, SameJsonOtherSpellingIsNoChange) {
  FakeTarget t;
  StateApplier a(&t);
  a.Update(FullState(), 1);
  t.calls.clear();
  StateMap next = FullState();
  for (auto& [k, v] : next)
    if (k != kOmapVersionKey) v = json::parse(v).dump(2);  // the reference writes indented JSON
  ApplyReport r = a.Update(next, 2);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(t.calls.empty());
  EXPECT_EQ(a.applied().at(SubsystemKey(kNqn)), next[SubsystemKey(kNqn)]);
}

TEST(StateApplier, ChildrenWaitForTheirParent) {
  FakeTarget t;
  StateApplier a(&t);
  StateMap m;
  m[SubsystemKey(kNqn)] = Subsys(kNqn);
  m[NamespaceKey(kNqn, 1)] = Ns(kNqn, 1);
  m[QosKey(kNqn, 1)] = Qos(kNqn, 1, 10);
  m[NamespaceHostKey(kNqn, 1, kHostNqn)] = NsHost(kNqn, 1, kHostNqn);
  m[HostKey(kNqn, "*")] = Host(kNqn, "*");
  m[NamespaceKey(kNqn2, 1)] = Ns(kNqn2, 1);  // orphan: no subsystem_ key
  t.fail["AddNamespace " + kNqn + " 1"] = Status::NoDevice("image missing");

  ApplyReport r = a.Update(m, 5);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(a.pending());
  std::vector<std::string> want = {"AddSubsystem " + kNqn, "AddNamespace " + kNqn + " 1", "AddHost " + kNqn + " *"};
  EXPECT_EQ(t.calls, want);
  std::map<std::string, Status> failed;
  for (const auto& [k, s] : r.failed) failed[k] = s;
  EXPECT_EQ(failed.size(), 4u);
  EXPECT_TRUE(failed[NamespaceKey(kNqn, 1)].Is(errc::kNoDevice));  // the target's error
  EXPECT_TRUE(failed[QosKey(kNqn, 1)].Is(state::errc::kParentNotApplied));
  EXPECT_TRUE(failed[NamespaceHostKey(kNqn, 1, kHostNqn)].Is(state::errc::kParentNotApplied));
  EXPECT_TRUE(failed[NamespaceKey(kNqn2, 1)].Is(state::errc::kParentNotApplied));

  // The image appears: Reconcile applies what was pending, in order.
  t.fail.clear();
  t.calls.clear();
  r = a.Reconcile();
  EXPECT_EQ(r.failed.size(), 1u);  // the orphan stays pending
  want = {"AddNamespace " + kNqn + " 1", "SetQos " + kNqn + " 1 10", "AddNamespaceHost " + kNqn + " 1 " + kHostNqn};
  EXPECT_EQ(t.calls, want);
}

TEST(StateApplier, AlreadyExistsAndNotFoundCountAsDone) {
  FakeTarget t;
  StateApplier a(&t);
  StateMap m;
  m[SubsystemKey(kNqn)] = Subsys(kNqn);
  m[NamespaceKey(kNqn, 1)] = Ns(kNqn, 1);
  t.fail["AddSubsystem " + kNqn] = Status::AlreadyExists("exists");
  EXPECT_TRUE(a.Update(m, 1).ok());
  EXPECT_EQ(a.applied().size(), 2u);
  t.fail["RemoveNamespace " + kNqn + " 1"] = Status::NotFound("gone");
  m.erase(NamespaceKey(kNqn, 1));
  EXPECT_TRUE(a.Update(m, 2).ok());
  EXPECT_EQ(a.applied().size(), 1u);
}

TEST(StateApplier, FailedRemovalKeepsTheItemAndRetries) {
  FakeTarget t;
  StateApplier a(&t);
  StateMap m;
  m[SubsystemKey(kNqn)] = Subsys(kNqn);
  a.Update(m, 1);
  t.fail["RemoveSubsystem " + kNqn] = Status::Busy("connected hosts");
  EXPECT_FALSE(a.Update({}, 2).ok());
  EXPECT_EQ(a.applied().size(), 1u);
  t.fail.clear();
  EXPECT_TRUE(a.Reconcile().ok());
  EXPECT_TRUE(a.applied().empty());
}

TEST(StateApplier, JsonIsNormalisedToTheKey) {
  FakeTarget t;
  StateApplier a(&t);
  StateMap m;
  m[SubsystemKey(kNqn)] = J({{"serial_number", "S1"}});  // no subsystem_nqn
  json ns = json::parse(Ns(kNqn, 0));
  ns.erase("nsid");
  m[NamespaceKey(kNqn, 3)] = J(ns);                                      // no nsid: filled from the key
  m[NamespaceKey(kNqn, 4)] = Ns(kNqn, 9);                                // contradicts the key
  m[ListenerKey(kNqn, "gw", "1.2.3.4", "4420")] = J({{"nqn", kNqn}, {"traddr", "1.2.3.4"}});
  m[HostKey(kNqn, "*")] = "not json";
  ApplyReport r = a.Update(m, 1);
  std::vector<std::string> want = {"AddSubsystem " + kNqn, "AddNamespace " + kNqn + " 3",
                                   "AddListener " + kNqn + " gw 1.2.3.4:4420 secure=null"};
  EXPECT_EQ(t.calls, want);
  ASSERT_EQ(r.failed.size(), 2u);
  EXPECT_EQ(r.failed[0].first, NamespaceKey(kNqn, 4));
  EXPECT_NE(r.failed[0].second.message().find("nsid is 9"), std::string::npos) << r.failed[0].second.message();
  EXPECT_EQ(r.failed[1].first, HostKey(kNqn, "*"));
  EXPECT_EQ(json::parse(t.jsons[2])["trsvcid"], 4420);
  EXPECT_EQ(json::parse(t.jsons[2])["host_name"], "gw");
}

TEST(StateApplier, UnknownKeysAreIgnoredAndReported) {
  FakeTarget t;
  StateApplier a(&t);
  StateMap m;
  m[SubsystemKey(kNqn)] = Subsys(kNqn);
  m["key-host_" + kNqn + "_" + kHostNqn] = "{}";
  m["lbgroup_" + kNqn + "_1"] = "{}";
  ApplyReport r = a.Update(m, 1);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.ignored.size(), 2u);
  EXPECT_EQ(t.calls.size(), 1u);
}

// ns-refresh-size_ (the reference's mark of a resize without auto-resize): a new or changed
// mark refreshes a namespace that was there already; a namespace added by the same update
// (a gateway coming up) is not refreshed; a removed mark does nothing.
TEST(StateApplier, RefreshSizeMarkRefreshesAnExistingNamespace) {
  FakeTarget t;
  StateApplier a(&t);
  const std::string mark1 = NamespaceRefreshSizeKey(kNqn, 1), mark2 = NamespaceRefreshSizeKey(kNqn, 2);
  StateMap m;
  m[SubsystemKey(kNqn)] = Subsys(kNqn);
  m[NamespaceKey(kNqn, 1)] = Ns(kNqn, 1, "img1");
  m[NamespaceKey(kNqn, 2)] = Ns(kNqn, 2, "img2");
  m[mark1] = "1764820000.25";
  ApplyReport r = a.Update(m, 1);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.ignored.empty());
  EXPECT_EQ(t.calls, (std::vector<std::string>{"AddSubsystem " + kNqn, "AddNamespace " + kNqn + " 1",
                                               "AddNamespace " + kNqn + " 2",
                                               "RememberRefreshSizeMark " + kNqn + " 1 1764820000.25"}));
  EXPECT_EQ(a.applied().at(mark1), "1764820000.25");

  t.calls.clear();  // another gateway resized namespace 1 again, and namespace 2
  m[mark1] = "1764820100.5";
  m[mark2] = "1764820100.75";
  EXPECT_TRUE(a.Update(m, 2).ok());
  EXPECT_EQ(t.calls, (std::vector<std::string>{"RefreshNamespaceSize " + kNqn + " 1 1764820100.5",
                                               "RefreshNamespaceSize " + kNqn + " 2 1764820100.75"}));

  t.calls.clear();  // the same map again: nothing
  EXPECT_TRUE(a.Update(m, 3).ok());
  EXPECT_TRUE(t.calls.empty());

  t.calls.clear();  // namespace 2 replaced (another image) with a new mark: added, not refreshed
  m[NamespaceKey(kNqn, 2)] = Ns(kNqn, 2, "img2b");
  m[mark2] = "1764820200";
  EXPECT_TRUE(a.Update(m, 4).ok());
  EXPECT_EQ(t.calls, (std::vector<std::string>{"ForgetRefreshSizeMark " + kNqn + " 2", "RemoveNamespace " + kNqn + " 2",
                                               "AddNamespace " + kNqn + " 2",
                                               "RememberRefreshSizeMark " + kNqn + " 2 1764820200"}));

  t.calls.clear();  // auto-resize turned on: the marks go
  m.erase(mark1);
  m.erase(mark2);
  EXPECT_TRUE(a.Update(m, 5).ok());
  EXPECT_EQ(t.calls, (std::vector<std::string>{"ForgetRefreshSizeMark " + kNqn + " 1",
                                               "ForgetRefreshSizeMark " + kNqn + " 2"}));
  EXPECT_FALSE(a.applied().count(mark1));

  t.calls.clear();  // a mark without its namespace waits for it
  m[NamespaceRefreshSizeKey(kNqn, 9)] = "1764820300";
  r = a.Update(m, 6);
  ASSERT_EQ(r.failed.size(), 1u);
  EXPECT_EQ(r.failed[0].first, NamespaceRefreshSizeKey(kNqn, 9));
  EXPECT_TRUE(t.calls.empty());

  t.calls.clear();  // a refresh that fails stays pending and is retried
  m.erase(NamespaceRefreshSizeKey(kNqn, 9));
  m[mark1] = "1764820400";
  t.fail["RefreshNamespaceSize " + kNqn + " 1 1764820400"] = Status::IOError("image unreachable");
  EXPECT_FALSE(a.Update(m, 7).ok());
  t.fail.clear();
  EXPECT_TRUE(a.Reconcile().ok());
  EXPECT_EQ(t.calls, (std::vector<std::string>{"RefreshNamespaceSize " + kNqn + " 1 1764820400",
                                               "RefreshNamespaceSize " + kNqn + " 1 1764820400"}));
}

// A network mask added or deleted (add/del_subsystem_network) changes the subsystem in place:
// its namespaces, hosts and listeners stay.
TEST(StateApplier, NetworkMaskChangeIsInPlace) {
  FakeTarget t;
  StateApplier a(&t);
  StateMap m = FullState();
  a.Update(m, 1);
  t.calls.clear();
  json s = json::parse(Subsys(kNqn));
  s["network_mask"] = json::array({"10.0.0.0/24"});
  m[SubsystemKey(kNqn)] = s.dump();
  EXPECT_TRUE(a.Update(m, 2).ok());
  EXPECT_EQ(t.calls, (std::vector<std::string>{"ChangeSubsystem " + kNqn}));
}

TEST(StateApplier, LocalWritesAreNotUndoneByOlderMaps) {
  FakeTarget t;
  StateApplier a(&t);
  StateMap v5;
  v5[SubsystemKey(kNqn)] = Subsys(kNqn);
  a.Update(v5, 5);
  t.calls.clear();

  // This gateway adds namespace 1 (target first, then the store as version 7; a foreign
  // write made version 6).
  a.RecordLocal({{NamespaceKey(kNqn, 1), Ns(kNqn, 1)}}, {}, 7);
  // Version 6 (read before our write, delivered after it) lacks namespace 1.
  StateMap v6 = v5;
  v6[HostKey(kNqn, "*")] = Host(kNqn, "*");
  a.Update(v6, 6);
  std::vector<std::string> want = {"AddHost " + kNqn + " *"};
  EXPECT_EQ(t.calls, want);  // namespace 1 left alone
  EXPECT_TRUE(a.applied().count(NamespaceKey(kNqn, 1)));

  // Version 7 has it: nothing to do. Version 8 removed it (another gateway): removed.
  t.calls.clear();
  StateMap v7 = v6;
  v7[NamespaceKey(kNqn, 1)] = Ns(kNqn, 1);
  a.Update(v7, 7);
  EXPECT_TRUE(t.calls.empty());
  a.Update(v6, 8);
  want = {"RemoveNamespace " + kNqn + " 1"};
  EXPECT_EQ(t.calls, want);

  // A local removal is not undone by an older map either, and an old map is not used.
  t.calls.clear();
  a.RecordLocal({}, {HostKey(kNqn, "*")}, 9);
  a.Update(v6, 8);  // same version again: still older than the removal
  EXPECT_TRUE(t.calls.empty());
  a.Update(v7, 3);  // older than what we have
  EXPECT_TRUE(t.calls.empty());
  EXPECT_FALSE(a.desired().count(HostKey(kNqn, "*")));
}

TEST(StateApplier, PlanIsPure) {
  StateMap from = FullState(), to = FullState();
  to.erase(QosKey(kNqn, 2));
  auto plan = PlanStateChanges(from, to);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].type, StateOp::Type::kRemove);
  EXPECT_EQ(plan[0].key_string, QosKey(kNqn, 2));
  EXPECT_EQ(plan[0].old_json, from[QosKey(kNqn, 2)]);
}

}  // namespace
}  // namespace nvmeof
