// A short deterministic mutation run over a fuzz target's seeds, for the default build's
// fuzz tests (gcc and sanitizer builds have no libFuzzer): each round takes a seed and
// applies 1-4 edits (a bit flip, preferring the first `header_span` bytes; a random byte; a
// truncation; a splice of up to `max_splice` bytes of another seed), then calls `one_input`.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace nvmeof::fuzz {

using SeedList = std::vector<std::pair<std::string, std::vector<uint8_t>>>;

template <typename OneInput>
void RunMutations(const SeedList& seeds, uint32_t rng_seed, int rounds, size_t header_span, size_t max_splice,
                  OneInput one_input) {
  std::mt19937 rng(rng_seed);
  for (int i = 0; i < rounds; ++i) {
    std::vector<uint8_t> b = seeds[rng() % seeds.size()].second;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !b.empty(); ++e) {
      switch (rng() % 4) {
        case 0:
          b[rng() % std::min(b.size(), header_span)] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 1:
          b[rng() % b.size()] = static_cast<uint8_t>(rng());
          break;
        case 2:
          b.resize(rng() % (b.size() + 1));
          break;
        case 3: {
          const std::vector<uint8_t>& o = seeds[rng() % seeds.size()].second;
          size_t at = rng() % (b.size() + 1), from = rng() % o.size(), n = rng() % max_splice;
          n = std::min(n, o.size() - from);
          b.insert(b.begin() + static_cast<long>(at), o.begin() + static_cast<long>(from),
                   o.begin() + static_cast<long>(from + n));
          break;
        }
      }
    }
    one_input(b.data(), b.size());
  }
}

}  // namespace nvmeof::fuzz
