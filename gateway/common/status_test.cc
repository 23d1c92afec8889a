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
  EXPECT_EQ(s.code(), 0);
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_TRUE(Status::OK().ok());
}

// The management API reports these errno values: they are part of the wire behaviour.
TEST(Status, ConstructorsCarryTheirErrno) {
  EXPECT_EQ(Status::InvalidArgument("x").code(), EINVAL);
  EXPECT_EQ(Status::NotFound("x").code(), ENOENT);
  EXPECT_EQ(Status::NoDevice("x").code(), ENODEV);
  EXPECT_EQ(Status::AlreadyExists("x").code(), EEXIST);
  EXPECT_EQ(Status::Busy("x").code(), EBUSY);
  EXPECT_EQ(Status::IOError("x").code(), EIO);
  EXPECT_EQ(Status::Error(ENOSPC, "x").code(), ENOSPC);
}

TEST(Status, MessageAndToString) {
  Status s = Status::NotFound("subsystem nqn.x not found");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "subsystem nqn.x not found");
  EXPECT_EQ(s.ToString(), "subsystem nqn.x not found (errno 2)");
}

// Each predicate holds for its own constructor (and for Error with the same errno) and for
// no other.
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
    EXPECT_TRUE((Status::Error(kinds[i].s.code(), "b").*kinds[i].is)()) << kinds[i].s.ToString();
    EXPECT_FALSE((Status::OK().*kinds[i].is)());
    EXPECT_FALSE((Status::Error(ENOSPC, "b").*kinds[i].is)());
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
  EXPECT_DEATH((void)r.value(), "value of a Result holding an error: no such namespace \\(errno 2\\)");
  EXPECT_DEATH((void)c.value(), "check failed: ok\\(\\)");
  EXPECT_DEATH((void)*r, "value of a Result holding an error");
  EXPECT_DEATH((void)*c, "value of a Result holding an error");
  Result<std::string> s = Status::InvalidArgument("bad");
  EXPECT_DEATH((void)s->size(), "value of a Result holding an error: bad");
}

}  // namespace
}  // namespace nvmeof
