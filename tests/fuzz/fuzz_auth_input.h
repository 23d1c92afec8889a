// The fuzz_auth input format, its one-input entry point, and the seed corpus.
//
// fuzz_auth feeds arbitrary bytes to every DH-HMAC-CHAP message decoder (nvme_auth.h) and to
// the TLS PSK interchange and identity parsers (tls_psk.h), and drives one queue's
// authentication state machine (QueueAuth, auth.h) with them: the input
// is a sequence of records
//   [op] [len LE16] [payload: len bytes, op even only]
// op even: Authentication Send with the payload (cut short at the end of the input);
// op odd: Authentication Receive with an allocation length of len bytes.
// The state machine's host has a host key and a controller key; it offers SHA-256/384/512
// and the NULL and FFDHE2048 groups (larger groups only cost time). Every message the
// controller returns must decode as the message it claims to be.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nvmeof::fuzz {

// Returns 0 (libFuzzer's convention); aborts on a broken invariant.
int FuzzAuthOneInput(const uint8_t* data, size_t size);

// Named seeds: valid openings of a transaction and each message kind.
std::vector<std::pair<std::string, std::vector<uint8_t>>> MakeAuthSeeds();

}  // namespace nvmeof::fuzz
