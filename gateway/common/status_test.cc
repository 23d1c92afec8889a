#include "gateway/common/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string>

namespace nvmeof {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.category(), nullptr);
  EXPECT_EQ(s.os_errno(), 0);
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_TRUE(Status::OK().ok());
}

// The generic constructors make common's named errors.
TEST(Status, ConstructorsMakeCommonErrors) {
  EXPECT_TRUE(Status::InvalidArgument("x").Is(errc::kInvalidArgument));
  EXPECT_TRUE(Status::NotFound("x").Is(errc::kNotFound));
  EXPECT_TRUE(Status::NoDevice("x").Is(errc::kNoDevice));
  EXPECT_TRUE(Status::AlreadyExists("x").Is(errc::kAlreadyExists));
  EXPECT_TRUE(Status::Busy("x").Is(errc::kBusy));
  EXPECT_TRUE(Status::IOError("x").Is(errc::kIOError));
  EXPECT_FALSE(Status::IOError("x").Is(errc::kBusy));
  EXPECT_FALSE(Status::OK().Is(errc::kInvalidArgument));
  Status sys = Status::Error(errc::kSystem, "x", ENOSPC);
  EXPECT_TRUE(sys.Is(errc::kSystem));
  EXPECT_EQ(sys.os_errno(), ENOSPC);
  errc e{};
  ASSERT_TRUE(sys.In(&e));
  EXPECT_EQ(e, errc::kSystem);
}

TEST(Status, MessageAndToString) {
  Status s = Status::NotFound("subsystem nqn.x not found");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "subsystem nqn.x not found");
  EXPECT_EQ(s.ToString(), "subsystem nqn.x not found (common.kNotFound)");
}

// A module's own errors: compared by name, classified by the module's kinds.
namespace fake {
#define FAKE_ERRORS(X)           \
  X(kThingMissing, kNotFound)    \
  X(kThingTaken, kAlreadyExists) \
  X(kWeird, kOther)
NVMEOF_DEFINE_ERRC("fake", FAKE_ERRORS)
}  // namespace fake

TEST(Status, ModuleErrors) {
  Status s = Status::Error(fake::errc::kThingTaken, "taken");
  EXPECT_TRUE(s.Is(fake::errc::kThingTaken));
  EXPECT_FALSE(s.Is(fake::errc::kThingMissing));
  EXPECT_FALSE(s.Is(errc::kAlreadyExists));  // same kind, other module
  EXPECT_TRUE(s.IsAlreadyExists());
  EXPECT_FALSE(s.IsNotFound());
  EXPECT_EQ(s.ToString(), "taken (fake.kThingTaken)");
  errc common{};
  EXPECT_FALSE(s.In(&common));
  fake::errc f{};
  ASSERT_TRUE(s.In(&f));
  EXPECT_EQ(f, fake::errc::kThingTaken);
  Status w = Status::Error(fake::errc::kWeird, "w");
  EXPECT_FALSE(w.IsNotFound() || w.IsAlreadyExists() || w.IsInvalidArgument() || w.IsNoDevice() || w.IsBusy() ||
               w.IsIOError());
}

// Each predicate holds for its own constructor and for no other.
TEST(Status, PredicatesMatchExactlyTheirKind) {
  struct Kind {
    Status s;
    bool (Status::*is)() const;
  };
  const Kind kinds[] = {
      {Status::InvalidArgument("a"), &Status::IsInvalidArgument},
      {Status::NotFound("a"), &Status::IsNotFound},
      {Status::NoDevice("a"), &Status::IsNoDevice},
      {Status::AlreadyExists("a"), &Status::IsAlreadyExists},
      {Status::Busy("a"), &Status::IsBusy},
      {Status::IOError("a"), &Status::IsIOError},
  };
  for (size_t i = 0; i < std::size(kinds); ++i) {
    for (size_t j = 0; j < std::size(kinds); ++j)
      EXPECT_EQ((kinds[i].s.*kinds[j].is)(), i == j) << kinds[i].s.ToString() << " predicate " << j;
    EXPECT_FALSE((Status::OK().*kinds[i].is)());
    EXPECT_FALSE((Status::Error(errc::kSystem, "b", ENOSPC).*kinds[i].is)());
  }
}

TEST(Result, HoldsAValue) {
  Result<std::string> r = std::string("abc");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(r.value(), "abc");
  EXPECT_EQ(*r, "abc");
  EXPECT_EQ(r->size(), 3u);
  r.value() += "d";
  EXPECT_EQ(*r, "abcd");
  const Result<std::string>& c = r;
  EXPECT_EQ(c.value(), "abcd");
  EXPECT_EQ(c->size(), 4u);
}

TEST(Result, HoldsAnError) {
  Result<int> r = Status::Busy("in use");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsBusy());
  EXPECT_EQ(r.status().message(), "in use");
}

TEST(Result, MoveOnlyValue) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r.value());
  EXPECT_EQ(*p, 7);
}

// Reading the value of an error is a bug: it aborts, in release builds too, and says why.
TEST(ResultDeathTest, ValueOfAnErrorAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Result<int> r = Status::NotFound("no such namespace");
  const Result<int>& c = r;
  EXPECT_DEATH((void)r.value(), "value of a Result holding an error: no such namespace \\(common.kNotFound\\)");
  EXPECT_DEATH((void)c.value(), "check failed: ok\\(\\)");
  EXPECT_DEATH((void)*r, "value of a Result holding an error");
  EXPECT_DEATH((void)*c, "value of a Result holding an error");
  Result<std::string> s = Status::InvalidArgument("bad");
  EXPECT_DEATH((void)s->size(), "value of a Result holding an error: bad");
}

}  // namespace
}  // namespace nvmeof
