// The fuzz_pdu input format, its one-input entry point, and the seed corpus.
//
// fuzz_pdu drives the transport's real PDU reader (gateway/transport/tcp/pdu_reader.h) with
// a handler that accepts every PDU the reader lets through and checks what the protocol
// checks promise about it.
//
// Input: byte 0 selects the connection options, the rest is the host-to-controller byte
// stream of one connection.
//   bit 0     reserved (the reader always verifies digests)
//   bits 2:1  reserved (the target advertises CPDA 0)
//   bit 3     small limits: MAXH2CDATA 4096, in-capsule data 1024 (else 128 KiB / 8 KiB)
//   bit 4     reserved
//   bits 7:5  chunking: 0 = the stream is fed in one call; else it is also fed in
//             pseudo-random chunk sizes, and the outcome must equal the one-call outcome
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gateway/protocol/nvme_tcp.h"

namespace nvmeof::fuzz {

inline constexpr uint8_t kOptSmallLimits = 0x08;
inline constexpr uint8_t OptChunking(uint8_t seed) { return static_cast<uint8_t>((seed & 7) << 5); }

// The reader's parameters before ICReq for an option byte.
tcp::ConnParams ParamsFromByte(uint8_t opt);

// What the reader reported for one stream.
struct PduOutcome {
  std::vector<uint8_t> events;  // one letter per event: I C H D d T M F (d: bad data digest)
  uint64_t data_bytes = 0;
  uint32_t data_crc = 0;  // order-sensitive fingerprint of the headers and data delivered
  uint16_t fes = 0;       // the fatal error, if any
  uint32_t fei = 0;
  std::vector<uint8_t> term_req;  // the C2HTermReq the target would send
  bool icreq_done = false;
  bool failed = false;
  bool closed = false;
};

// Feeds a stream to a fresh reader, in one call (chunk_seed 0) or in pseudo-random chunks.
PduOutcome RunPduStream(uint8_t opt, const uint8_t* stream, size_t len, uint8_t chunk_seed);

// Runs one input (twice when chunked, comparing the outcomes). Aborts on any invariant
// violation. Returns 0 (libFuzzer convention).
int FuzzPduOneInput(const uint8_t* data, size_t size);

// Valid (and a few deliberately invalid) connection streams, with their option byte.
std::vector<std::pair<std::string, std::vector<uint8_t>>> MakePduSeeds();

}  // namespace nvmeof::fuzz
