// The fuzz_pdu input format, its one-input entry point, and the seed corpus.
//
// Input: byte 0 selects the connection options, the rest is the host-to-controller byte
// stream of one connection.
//   bit 0     verify digests (off: any digest value is accepted, so the fuzzer gets past
//             the header digest without having to compute CRC32C)
//   bits 2:1  CPDA the target advertises (data alignment (CPDA+1)*4 for H2C PDUs)
//   bit 3     small limits: MAXH2CDATA 4096, in-capsule data 1024 (else 128 KiB / 8 KiB)
//   bit 4     reserved
//   bits 7:5  chunking: 0 = one Feed() call; else the stream is fed in pseudo-random
//             chunk sizes, and the outcome must equal the one-call outcome
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tests/fuzz/pdu_framer.h"

namespace nvmeof::fuzz {

inline constexpr uint8_t kOptVerifyDigests = 0x01;
inline constexpr uint8_t kOptSmallLimits = 0x08;
inline constexpr uint8_t OptCpda(uint8_t cpda) { return static_cast<uint8_t>((cpda & 3) << 1); }
inline constexpr uint8_t OptChunking(uint8_t seed) { return static_cast<uint8_t>((seed & 7) << 5); }

FramerOptions OptionsFromByte(uint8_t opt);

// Runs one input through the framer (twice when chunked, comparing the outcomes).
// Aborts on any invariant violation. Returns 0 (libFuzzer convention).
int FuzzPduOneInput(const uint8_t* data, size_t size);

// Valid (and a few deliberately invalid) connection streams, with their option byte.
std::vector<std::pair<std::string, std::vector<uint8_t>>> MakePduSeeds();

}  // namespace nvmeof::fuzz
