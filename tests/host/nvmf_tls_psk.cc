// nvmf-tls-psk: prints what an NVMe/TCP host puts into a TLS 1.3 handshake for a configured
// PSK: the PSK identity and the TLS PSK (hex), derived by the test host library's own code
// (DeriveTlsClientPsk, independent of the gateway's). The e2e case "tls" inserts them into
// the Linux host's ".nvme" keyring as a key of type "psk" (description = identity, payload =
// TLS PSK), which the kernel's nvme-tcp looks up and tlshd offers.
//
//   nvmf-tls-psk --psk NVMeTLSkey-1:hh:...: | --psk-file PATH
//                --hostnqn NQN --subnqn NQN [--identity-version 0|1 (default 1)]
// Output: two lines, the identity and the TLS PSK in lowercase hex. Exit 2 on bad usage or
// a malformed PSK (the message never contains the key).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "tests/host/nvmf_host.h"

namespace {

[[noreturn]] void Usage(const char* msg) {
  fprintf(stderr,
          "nvmf-tls-psk: %s\n"
          "usage: nvmf-tls-psk --psk NVMeTLSkey-1:hh:...: | --psk-file PATH --hostnqn NQN --subnqn NQN\n"
          "                    [--identity-version 0|1]\n",
          msg);
  exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string psk, hostnqn, subnqn;
  int version = 1;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (i + 1 >= argc) Usage(("missing value after " + a).c_str());
    std::string v = argv[++i];
    if (a == "--psk") {
      psk = v;
    } else if (a == "--psk-file") {
      std::ifstream in(v);
      if (!in || !std::getline(in, psk)) Usage("--psk-file: cannot read the file");
      while (!psk.empty() && (psk.back() == '\n' || psk.back() == ' ' || psk.back() == '\r')) psk.pop_back();
    } else if (a == "--hostnqn") {
      hostnqn = v;
    } else if (a == "--subnqn") {
      subnqn = v;
    } else if (a == "--identity-version") {
      if (v != "0" && v != "1") Usage("--identity-version is 0 or 1");
      version = v[0] - '0';
    } else {
      Usage(("unknown option " + a).c_str());
    }
  }
  if (psk.empty() || hostnqn.empty() || subnqn.empty()) Usage("--psk (or --psk-file), --hostnqn and --subnqn are needed");
  nvmeof::host::TlsClientPsk out;
  std::string err;
  if (!nvmeof::host::DeriveTlsClientPsk(psk, hostnqn, subnqn, version, &out, &err)) Usage(("the PSK: " + err).c_str());
  printf("%s\n", out.identity.c_str());
  for (uint8_t b : out.key) printf("%02x", b);
  printf("\n");
  return 0;
}
