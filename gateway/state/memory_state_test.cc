// The in-memory StateStore: the same semantics as the RADOS one, without Ceph.
#include <gtest/gtest.h>

#include "gateway/state/state_keys.h"
#include "gateway/state/state_store.h"

namespace nvmeof {
namespace {

TEST(MemoryStateStore, VersionsAndSemantics) {
  auto store = NewMemoryStateStore();
  int calls = 0;
  uint64_t seen_version = 0;
  store->Subscribe([&](const StateMap& m, uint64_t v) {
    ++calls;
    seen_version = v;
    EXPECT_TRUE(m.empty());
  });
  ASSERT_TRUE(store->Start().ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen_version, 1u);

  EXPECT_TRUE(store->Put("subsystem_a", "{}").ok());
  EXPECT_TRUE(store->Put("subsystem_a", "{\"x\":1}").ok());  // overwrite is a write too
  EXPECT_TRUE(store->Remove("subsystem_b").Is(state::errc::kKeyNotFound));
  EXPECT_TRUE(store->Put("omap_version", "5").Is(state::errc::kBadKey));
  EXPECT_TRUE(store->Put("", "5").Is(state::errc::kBadKey));
  EXPECT_TRUE(store->Apply({{"k", "v"}}, {"k"}).Is(state::errc::kBadKey));
  EXPECT_TRUE(store->Apply({}, {"absent"}).ok());  // nothing to do: no version step
  uint64_t v = 0;
  auto all = store->ReadAll(&v);
  ASSERT_TRUE(all.ok());
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(v, 3u);
  EXPECT_EQ(all->size(), 1u);
  EXPECT_EQ(all->at("subsystem_a"), "{\"x\":1}");

  EXPECT_TRUE(store->Apply({{"namespace_a_1", "{}"}, {"namespace_a_2", "{}"}}, {"subsystem_a", "absent"}).ok());
  all = store->ReadAll(&v);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(v, 4u);
  EXPECT_EQ(all->size(), 2u);
  EXPECT_TRUE(store->Remove("namespace_a_1").ok());
  EXPECT_EQ(calls, 1);  // no other writer: never called again
  store->Stop();
}

TEST(MemoryStateStore, Mutate) {
  auto store = NewMemoryStateStore();
  uint64_t nv = 99;
  // Allocate the lowest free NSID, as the API would.
  auto add_ns = [&](uint64_t* out) {
    return store->Mutate(
        [](const StateMap& cur, uint64_t, StateMap* puts, std::vector<std::string>*) {
          uint32_t nsid = 1;
          while (cur.count(NamespaceKey("nqn.a", nsid))) ++nsid;
          (*puts)[NamespaceKey("nqn.a", nsid)] = "{}";
          return Status::OK();
        },
        out);
  };
  ASSERT_TRUE(add_ns(&nv).ok());
  EXPECT_EQ(nv, 2u);
  ASSERT_TRUE(add_ns(&nv).ok());
  EXPECT_EQ(nv, 3u);
  uint64_t v;
  auto all = store->ReadAll(&v);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->count(NamespaceKey("nqn.a", 1)));
  EXPECT_TRUE(all->count(NamespaceKey("nqn.a", 2)));

  // An error from fn is returned and nothing is written.
  Status s = store->Mutate(
      [](const StateMap&, uint64_t, StateMap* puts, std::vector<std::string>*) {
        (*puts)["x_y"] = "{}";
        return Status::AlreadyExists("nope");
      },
      &nv);
  EXPECT_TRUE(s.Is(errc::kAlreadyExists)) << s.ToString();  // fn's error, unchanged
  EXPECT_EQ(nv, 0u);
  store->ReadAll(&v);
  EXPECT_EQ(v, 3u);
  // Nothing to write: OK, no version.
  EXPECT_TRUE(store->Mutate([](const StateMap&, uint64_t, StateMap*, std::vector<std::string>*) { return Status::OK(); },
                            &nv)
                  .ok());
  EXPECT_EQ(nv, 0u);
}

}  // namespace
}  // namespace nvmeof
