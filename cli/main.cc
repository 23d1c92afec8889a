// gwcli entry point: the real environment, stdout/stderr and a gRPC transport.
#include <cstdlib>
#include <iostream>

#include "cli/gwcli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const auto getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  return nvmeof::cli::Run(args, std::cout, std::cerr, nvmeof::cli::MakeGrpcTransport, getenv);
}
