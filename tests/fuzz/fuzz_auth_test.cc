// The fuzz_auth seeds and a short deterministic mutation run of its entry point, so that gcc
// and sanitizer builds exercise the DH-HMAC-CHAP decoders and state machine with bad input.
#include <gtest/gtest.h>

#include <vector>

#include "tests/fuzz/mutate.h"
#include "tests/fuzz/fuzz_auth_input.h"

namespace nvmeof::fuzz {
namespace {

TEST(FuzzAuth, SeedsRunClean) {
  for (const auto& [name, bytes] : MakeAuthSeeds()) {
    SCOPED_TRACE(name);
    FuzzAuthOneInput(bytes.data(), bytes.size());
  }
}

TEST(FuzzAuth, DeterministicMutations) {
  RunMutations(MakeAuthSeeds(), 20261203, 2000, 80, 100, FuzzAuthOneInput);
}

}  // namespace
}  // namespace nvmeof::fuzz
