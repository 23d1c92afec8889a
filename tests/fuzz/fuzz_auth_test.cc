// The fuzz_auth seeds and a short deterministic mutation run of its entry point, so that gcc
// and sanitizer builds exercise the DH-HMAC-CHAP decoders and state machine with bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "tests/fuzz/fuzz_auth_input.h"

namespace nvmeof::fuzz {
namespace {

using Bytes = std::vector<uint8_t>;

TEST(FuzzAuth, SeedsRunClean) {
  for (const auto& [name, bytes] : MakeAuthSeeds()) {
    SCOPED_TRACE(name);
    FuzzAuthOneInput(bytes.data(), bytes.size());
  }
}

TEST(FuzzAuth, DeterministicMutations) {
  const auto seeds = MakeAuthSeeds();
  std::mt19937 rng(20261203);
  for (int i = 0; i < 2000; ++i) {
    Bytes b = seeds[rng() % seeds.size()].second;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !b.empty(); ++e) {
      switch (rng() % 4) {
        case 0:  // flip a bit, preferring the first message's header
          b[rng() % std::min<size_t>(b.size(), 80)] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 1:
          b[rng() % b.size()] = static_cast<uint8_t>(rng());
          break;
        case 2:
          b.resize(rng() % (b.size() + 1));
          break;
        case 3: {  // splice in a piece of another seed
          const Bytes& o = seeds[rng() % seeds.size()].second;
          size_t at = rng() % (b.size() + 1), from = rng() % o.size(), n = rng() % 100;
          n = std::min(n, o.size() - from);
          b.insert(b.begin() + static_cast<long>(at), o.begin() + static_cast<long>(from),
                   o.begin() + static_cast<long>(from + n));
          break;
        }
      }
    }
    FuzzAuthOneInput(b.data(), b.size());
  }
}

}  // namespace
}  // namespace nvmeof::fuzz
