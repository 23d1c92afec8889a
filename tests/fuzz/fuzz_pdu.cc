// libFuzzer target: arbitrary bytes as the host-to-controller stream of one NVMe/TCP
// connection, through the transport's real PDU reader. See fuzz_pdu_input.h for the
// input format. Must never crash, read out of bounds, or loop.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_pdu_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nvmeof::fuzz::FuzzPduOneInput(data, size);
}
