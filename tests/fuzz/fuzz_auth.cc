// libFuzzer target: arbitrary bytes through the DH-HMAC-CHAP message decoders and one
// queue's authentication state machine. See fuzz_auth_input.h for the input format.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_auth_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nvmeof::fuzz::FuzzAuthOneInput(data, size);
}
