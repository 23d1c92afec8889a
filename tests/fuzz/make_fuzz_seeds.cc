// Writes the fuzz_pdu seed corpus: make_fuzz_seeds <dir>
#include <cstdio>
#include <string>

#include "tests/fuzz/fuzz_pdu_input.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <output-dir>\n", argv[0]);
    return 2;
  }
  int n = 0;
  for (const auto& [name, bytes] : nvmeof::fuzz::MakePduSeeds()) {
    const std::string path = std::string(argv[1]) + "/" + name;
    FILE* f = fopen(path.c_str(), "wb");
    if (f == nullptr || fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || fclose(f) != 0) {
      perror(path.c_str());
      return 1;
    }
    ++n;
  }
  printf("wrote %d seeds to %s\n", n, argv[1]);
  return 0;
}
